"""MkDocs hooks: the reference tables the code already knows, written into the pages at build time.

A page names a table with a marker line, `<!-- spinstream:NAME -->`, and the hook replaces it, so
the site never drifts from the code:

- `venues`: per venue and market, what its streams cache (the protocol registry, `PROTOCOLS`).
- `config`: every `spinstream.toml` option, its type, default and description (the msgspec
  Structs in `spinstream.config`, through their JSON Schema).
- `cli`: `spinstream --help` and each subcommand's help (the argparse parser itself).
- `models`: the fields of what `ctx` reads return (the msgspec Structs in `spinstream.models`).

Everything is read from the installed package: no network, nothing outside the project.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import re
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

_MARKER = re.compile(r"^<!-- spinstream:([a-z]+) -->$", re.M)

# what a cached kind is, as a strategy meets it
_KINDS = {
    "ticker": "`get_ticker`",
    "ticker24h": "`get_ticker`'s `last` / `volume_24h` (24 h stats stream)",
    "book": "`get_orderbook`",
    "trades": "public trades",
    "account": "`get_balance` / `get_account`",
    "positions": "`get_positions`",
    "orders": "`get_orders`",
    "market": "`get_market_info`, `get_streaming_market` (PRICE)",
    "ticks": "`get_streaming_ticks`, candles built from ticks",
    "confirms": "`get_trade_confirms`",
}


def _venues() -> str:
    """Venue x market -> the kinds its streams keep in the cache."""
    from spinstream.workspace import KNOWN_VENUES

    rows = [
        "| venue | market | cached from the stream | server only |",
        "| --- | --- | --- | --- |",
    ]
    for venue, module in KNOWN_VENUES.items():
        mod = importlib.import_module(module)
        spec = mod.SPEC
        protocols: dict[tuple[str, str], type] = getattr(mod, "PROTOCOLS", {})
        for i, market in enumerate(spec.markets):
            kinds = [k for (m, k) in protocols if m == market]
            candles = sorted(k.split(":", 1)[1] for k in kinds if k.startswith("candles:"))
            shown = [_KINDS.get(k, f"`{k}`") for k in kinds if not k.startswith("candles:")]
            if candles:
                shown.append("`get_streaming_candles` (IG's own bars: " + ", ".join(candles) + ")")
            default = " (default)" if i == 0 else ""
            cached = "; ".join(shown) if shown else "nothing: every read is REST"
            only = "yes" if spec.server_only else "no"
            rows.append(f"| {venue} | `{market}`{default} | {cached} | {only} |")
    return "\n".join(rows)


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A JSON Schema property's type, shortly."""
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "enum" in prop:
        return " \\| ".join(f'"{v}"' for v in prop["enum"])
    if "anyOf" in prop:
        return " \\| ".join(_type(p, defs) for p in prop["anyOf"])
    t = prop.get("type", "any")
    if t == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if t == "object":
        extra = prop.get("additionalProperties")
        return f"table of {_type(extra, defs)}" if isinstance(extra, dict) else "table"
    ops = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
           ("exclusiveMaximum", "<"), ("minLength", "length >="))  # fmt: skip
    bounds = [f"{op} {prop[k]}" for k, op in ops if k in prop]
    return str(t) + (f" ({', '.join(bounds)})" if bounds else "")


def _config() -> str:
    """Every option of every table, from the Structs' JSON Schema."""
    from spinstream import config

    schema = config.json_schema()
    defs = schema.get("$defs", {})
    out = []
    for name, struct in sorted(defs.items(), key=lambda kv: kv[0] != "SpinstreamConfig"):
        title = "The file (top level)" if name == "SpinstreamConfig" else "`[venues.<name>]`"
        out += [f"### {title}: `{name}`", "", struct.get("description", "").strip(), ""]
        out += ["| option | type | default | description |", "| --- | --- | --- | --- |"]
        required = set(struct.get("required", ()))
        for opt, prop in struct.get("properties", {}).items():
            if opt in required:
                default = "required"
            elif "default" in prop:
                default = f"`{json.dumps(prop['default'])}`"
            else:
                default = "unset"
            desc = " ".join(prop.get("description", "").split()).replace("|", "\\|")
            out.append(f"| `{opt}` | {_type(prop, defs)} | {default} | {desc} |")
        out.append("")
    return "\n".join(out)


def _help(parser: argparse.ArgumentParser) -> str:
    buf = io.StringIO()
    with redirect_stdout(buf):
        parser.print_help()
    return buf.getvalue().rstrip()


def _columns(width: int) -> Callable[[], None]:
    """Fix argparse's wrapping width (it reads $COLUMNS), so the page is the same everywhere;
    returns what puts $COLUMNS back."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)

    def restore() -> None:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old

    return restore


def _cli() -> str:
    """`spinstream --help`, then each subcommand's (and the subcommands' own)."""
    from spinstream import cli

    restore = _columns(100)
    try:
        return _cli_help(cli._parser())
    finally:
        restore()


def _cli_help(parser: argparse.ArgumentParser) -> str:
    out = ["```text", "$ spinstream --help", _help(parser), "```", ""]

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    full = f"{path} {name}"
                    out.extend([f"### `{full}`", "", "```text", _help(sub), "```", ""])
                    walk(sub, full)

    walk(parser, "spinstream")
    return "\n".join(out)


def _type_name(t: Any) -> str:
    """A field's annotation as written: `float | None`, `Literal['ws', 'rest']`, `ndarray`."""
    if isinstance(t, type):
        return t.__name__
    return re.sub(r"\b(?:typing|numpy|spinstream\.models)\.", "", str(t)).replace(
        "NoneType", "None"
    )


def _models() -> str:
    """The fields of what reads return (`spinstream.models`), with their types and defaults."""
    import msgspec

    from spinstream import models

    out = []
    for name in ("Ticker", "OrderBook", "Account", "Balance", "Position", "Order"):
        cls = getattr(models, name)
        doc = " ".join((cls.__doc__ or "").split())
        out += [f"### `{name}`", "", doc, "", "| field | type | default |", "| --- | --- | --- |"]
        for f in msgspec.structs.fields(cls):
            default = "" if f.required else f"`{f.default!r}`"
            out.append(f"| `{f.name}` | `{_type_name(f.type)}` | {default} |")
        props = [n for n, v in vars(cls).items() if isinstance(v, property)]
        if props:
            out += ["", "Properties: " + ", ".join(f"`{p}`" for p in props) + "."]
        out.append("")
    return "\n".join(out)


_TABLES: dict[str, Callable[[], str]] = {
    "venues": _venues,
    "config": _config,
    "cli": _cli,
    "models": _models,
}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace each `<!-- spinstream:NAME -->` line with its generated table."""

    def table(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in _TABLES:
            raise ValueError(f"{page.file.src_path}: unknown spinstream table {name!r}")
        return _TABLES[name]()

    return _MARKER.sub(table, markdown)

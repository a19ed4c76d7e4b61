"""The `spinstream.toml` schema: msgspec Structs that decode, check and document every option.

Each option is documented once, here (its `Meta(description=...)`); `spinstream config schema`
prints the JSON Schema built from these Structs for editors, and `spinstream config check FILE`
validates a file. Decoding refuses unknown keys and names the failing option by its dotted path:

    venues.ig.rest_wait_s: expected a number, got "x"

Secrets never appear in the file: `api_key_env`, `api_secret_env`, `api_passphrase_env` and
`identifier_env` name environment variables, read when a `Workspace` is built from the config.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_type_hints

import msgspec
from msgspec import UNSET, Meta, UnsetType

from spinstream.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "VenueConfig",
    "ServeOptions",
    "SpinstreamConfig",
    "decode",
    "read",
    "json_schema",
    "dotted_error",
]

WARM_TIMEOUT_S = 10.0
SILENT_MAX_S = 10.0

Env = Literal["live", "testnet", "demo"]
WsBackend = Literal["auto", "websockets", "picows"]
_Seconds = Annotated[float, Meta(gt=0)]
_EnvVar = Annotated[str, Meta(min_length=1)]


class VenueConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """One `[venues.<name>]` table: a venue account. The table name is the account's ctx
    attribute (`ctx.<name>`), so it must be a Python identifier."""

    venue: Annotated[
        str | UnsetType,
        Meta(
            description="Which venue: binance, bybit, ig or okx. Optional when the table name "
            "is the venue's name."
        ),
    ] = UNSET
    env: Annotated[
        Env,
        Meta(description="Which environment of the venue: live, testnet or demo (not every venue "
             "has every one)."),
    ] = "live"  # fmt: skip
    api_key_env: Annotated[
        _EnvVar | UnsetType,
        Meta(description="Name of the environment variable holding the API key (IG: the API "
             "key). Set together with api_secret_env; without both the account is public only."),
    ] = UNSET  # fmt: skip
    api_secret_env: Annotated[
        _EnvVar | UnsetType,
        Meta(description="Name of the environment variable holding the API secret (IG: the "
             "account password)."),
    ] = UNSET  # fmt: skip
    api_passphrase_env: Annotated[
        _EnvVar | UnsetType,
        Meta(description="OKX: name of the environment variable holding the API key's "
             "passphrase (required with OKX keys)."),
    ] = UNSET  # fmt: skip
    identifier_env: Annotated[
        _EnvVar | UnsetType,
        Meta(description="IG: name of the environment variable holding the login identifier "
             "(user name)."),
    ] = UNSET  # fmt: skip
    urls: Annotated[
        dict[str, str],
        Meta(description="URL overrides: a venue's real base URL (scheme and host, optionally a "
             "path) -> the URL to use instead (a simulator, a proxy). The longest matching "
             "prefix wins."),
    ] = msgspec.field(default_factory=dict)  # fmt: skip
    rest_wait_s: Annotated[
        Annotated[float, Meta(ge=0)] | UnsetType,
        Meta(description="When a REST budget is spent: unset waits for the next slot; a number "
             "of seconds fails fast with RateLimited (code 'local') if the wait would be longer "
             "(0: never wait). Strategy calls only; the runtime's own traffic always waits."),
    ] = UNSET  # fmt: skip
    max_age_s: Annotated[
        _Seconds | UnsetType,
        Meta(description="Every read of this account: a cached value known current longer ago "
             "than this many seconds answers from REST instead (unset: any servable value)."),
    ] = UNSET  # fmt: skip
    silent_s: Annotated[
        Annotated[float, Meta(gt=0, le=SILENT_MAX_S)] | UnsetType,
        Meta(description="Silence window in seconds: a stream silent this long is stale, dropped "
             "and reconnected (default: the protocol's, 5 s on market data, 10 s on account "
             "streams). At most 10: a market-data stall must be found within 10 s."),
    ] = UNSET  # fmt: skip
    lag_s: Annotated[
        _Seconds | UnsetType,
        Meta(description="Lag threshold in seconds: a stream whose frames arrive later than this "
             "behind the venue's clock is stale until it catches up (default 2)."),
    ] = UNSET  # fmt: skip
    ws_backend: Annotated[
        WsBackend,
        Meta(description="The WebSocket client library of this account's streams: auto (the "
             "default: picows, unless a proxy setting such as HTTPS_PROXY applies to the URL, "
             "which only websockets honours, or picows does not import), picows (C frame "
             "parsing, less CPU per frame; no compression, no proxy) or websockets. Same rules, "
             "events and liveness either way; the status shows which one each connection uses."),
    ] = "auto"  # fmt: skip
    symbols: Annotated[
        list[str],
        Meta(description="Warm-up (server mode): symbols whose ticker and book are streamed "
             "before a worker's first tick. 'SYMBOL' is on the venue's default market (Binance "
             "spot, Bybit linear, OKX spot), 'market:SYMBOL' on another ('usdm:BTCUSDT')."),
    ] = msgspec.field(default_factory=list)  # fmt: skip
    epics: Annotated[
        list[str],
        Meta(description="IG only: the epics warmed before the first tick (IG's symbols)."),
    ] = msgspec.field(default_factory=list)
    book_depth: Annotated[
        Annotated[int, Meta(gt=0)] | UnsetType,
        Meta(
            description="Levels kept per streamed order book (default: the venue's); where "
            "the venue streams fixed depths, the smallest that covers it (Bybit 50/200/1000, "
            "OKX 1 bbo-tbt, 5 books5, 400 books)."
        ),
    ] = UNSET
    warm_timeout_s: Annotated[
        _Seconds,
        Meta(description="How long, in seconds, a worker's first tick waits for the warm-up; "
             "what is not fresh by then answers from REST until its stream serves it."),
    ] = WARM_TIMEOUT_S  # fmt: skip

    def env_vars(self) -> tuple[str, ...]:
        """The environment variables this table names (secrets and the IG identifier)."""
        names = (self.api_key_env, self.api_secret_env, self.api_passphrase_env,
                 self.identifier_env)  # fmt: skip
        return tuple(n for n in names if isinstance(n, str))


class ServeOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The `[serve]` table: settings of `spinstream serve` (the worker control page)."""

    strategies: Annotated[
        list[str],
        Meta(description="Directories strategy files may be loaded from (relative: to the config "
             "file); `spinstream serve --strategies DIR` adds to them. None by default."),
    ] = msgspec.field(default_factory=list)  # fmt: skip
    stale_budget_s: Annotated[
        _Seconds,
        Meta(description="Health (`spinstream status`): an item stale longer than this many "
             "seconds is a problem."),
    ] = 5.0  # fmt: skip


class SpinstreamConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A `spinstream.toml` file: one `[venues.<name>]` table per venue account, and optionally
    the `[serve]` table of `spinstream serve`."""

    venues: Annotated[
        dict[str, VenueConfig],
        Meta(description="The venue accounts, by ctx name: `[venues.binance]` is "
             "`ctx.binance`. At least one."),
    ] = msgspec.field(default_factory=dict)  # fmt: skip
    serve: Annotated[
        ServeOptions,
        Meta(description="Settings of `spinstream serve`; ignored by everything else."),
    ] = msgspec.field(default_factory=ServeOptions)


# ---------------------------------------------------------------------- decoding


def decode(data: Mapping[str, Any]) -> SpinstreamConfig:
    """The typed config of a parsed `spinstream.toml` (or a dict of the same shape).

    `None` values in a venue table count as unset (TOML has no null; Python callers use it).

    Raises:
        ConfigError: an unknown key, a wrong type or an out-of-range value, named by its dotted
            path (`venues.ig.rest_wait_s: expected a number, got "x"`); no `[venues.*]` table.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"config: expected a table, got {_show(data)}")
    venues = data.get("venues")
    if isinstance(venues, Mapping):
        venues = {
            alias: {k: v for k, v in t.items() if v is not None} if isinstance(t, Mapping) else t
            for alias, t in venues.items()
        }
        data = {**data, "venues": venues}
    try:
        cfg = msgspec.convert(data, SpinstreamConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(_locate(data, exc)) from None
    if not cfg.venues:
        raise ConfigError("config has no [venues.<name>] table")
    return cfg


def read(path: str | os.PathLike[str]) -> SpinstreamConfig:
    """Read and decode a `spinstream.toml` file.

    Raises:
        ConfigError: the file is missing, is not TOML (the message names the file), or does not
            decode (see `decode`).
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: {exc}") from exc
    return decode(data)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of `spinstream.toml` (for editors: Even Better TOML, taplo, VS Code)."""
    out: dict[str, Any] = msgspec.json.schema(SpinstreamConfig)
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           "title": "spinstream.toml", **out}  # fmt: skip
    return out


def dotted_error(
    exc: msgspec.ValidationError,
    data: Any,
    prefix: str = "",
    struct: type[msgspec.Struct] = SpinstreamConfig,
) -> str:
    """msgspec's `... - at `$.a[...].b`` reworded as `prefix.a.b: <what was expected, got what>`
    for DATA decoded as STRUCT (the `[...]` of a dict key is resolved against DATA)."""
    text = str(exc)
    m = re.fullmatch(r"(?s)(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?", text)
    assert m is not None  # the pattern matches any text
    msg, raw = m["msg"], m["path"] or ""
    keys, value = _walk(data, raw)
    path = _join(prefix, keys)
    unknown = re.fullmatch(r"Object contains unknown field `(.+)`", msg)
    if unknown:
        name = unknown[1]
        known = _fields_at(struct, keys)
        return f"{_join(path, [name])}: unknown key{_hint(name, known)}"
    missing = re.fullmatch(r"Object missing required field `(.+)`", msg)
    if missing:  # pragma: no cover - every option has a default today
        return f"{_join(path, [missing[1]])}: required"
    if msg.startswith("Invalid enum value"):
        allowed = ", ".join(json.dumps(a) for a in _choices(keys))
        return f"{path or 'config'}: must be one of {allowed}; got {_show(value)}"
    typed = re.fullmatch(r"Expected `([^`]+)`(?:, got `[^`]+`)?(.*)", msg)
    if typed:
        kind = _kind(typed[1])
        bound = typed[2].strip()
        if bound == "of length >= 1":
            kind, bound = f"a non-empty {kind.removeprefix('a ')}", ""
        if bound:
            bound = " " + re.sub(r"(-?\d+)\.0\b", r"\1", bound)  # `<= 10.0` -> `<= 10`
        return f"{path or 'config'}: expected {kind}{bound}, got {_show(value)}"
    return f"{path or 'config'}: {msg}"  # pragma: no cover - a message msgspec adds later


def _locate(data: Mapping[str, Any], exc: msgspec.ValidationError) -> str:
    """Reword EXC; when it sits inside a venue table (msgspec writes dict keys as `[...]`),
    decode the tables one by one to name the table by its key."""
    if "`$.venues[...]" in str(exc):
        venues = data.get("venues")
        if isinstance(venues, Mapping):
            for alias, table in venues.items():
                try:
                    msgspec.convert(table, VenueConfig)
                except msgspec.ValidationError as inner:
                    where = _join("venues", [str(alias)])
                    return dotted_error(inner, table, where, VenueConfig)
    return dotted_error(exc, data)


_SEG = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[\.\.\.\]")


def _walk(data: Any, raw: str) -> tuple[list[str], Any]:
    """The path segments of msgspec's RAW path (`.a[...].b[2]`) and the value found there; a
    `[...]` (some dict key) is the first key whose value is not a string (only `urls` maps)."""
    keys: list[str] = []
    cur: Any = data
    for m in _SEG.finditer(raw):
        name, index = m[1], m[2]
        if name is not None:
            keys.append(name)
            cur = cur.get(name) if isinstance(cur, Mapping) else None
        elif index is not None:
            keys.append(f"[{index}]")
            i = int(index)
            cur = cur[i] if isinstance(cur, (list, tuple)) and i < len(cur) else None
        elif isinstance(cur, Mapping):
            bad = next((k for k, v in cur.items() if not isinstance(v, str)), None)
            keys.append(str(bad) if bad is not None else "...")
            cur = cur.get(bad)
        else:
            keys.append("...")
            cur = None
    return keys, cur


def _join(prefix: str, keys: list[str]) -> str:
    """`venues.binance.urls."https://api.binance.com"`: TOML's dotted form (quoted when needed)."""
    out = prefix
    for k in keys:
        if k.startswith("["):
            out += k
            continue
        part = k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)
        out = f"{out}.{part}" if out else part
    return out


def _fields_at(struct: type[msgspec.Struct], keys: list[str]) -> tuple[str, ...]:
    """The option names of the table at KEYS inside STRUCT (none if it is not a Struct)."""
    t: Any = struct
    for k in keys:
        t = get_type_hints(t).get(k) if isinstance(t, type) else None
    is_struct = isinstance(t, type) and issubclass(t, msgspec.Struct)
    return t.__struct_fields__ if is_struct else ()


def _choices(keys: list[str]) -> tuple[str, ...]:
    if keys and keys[-1] == "env":
        return tuple(get_args(Env))
    if keys and keys[-1] == "ws_backend":
        return tuple(get_args(WsBackend))
    return ()  # pragma: no cover - `env` and `ws_backend` are the only enums


_SECRETS = {"api_key", "api_secret", "secret", "password", "passphrase", "api_passphrase",
            "identifier", "key"}  # fmt: skip


def _hint(name: str, known: tuple[str, ...]) -> str:
    if name in _SECRETS:
        return (f" (secrets are read only from environment variables: set {name}_env to the "
                "variable's name)") if f"{name}_env" in known else (
            " (secrets are read only from environment variables: see api_key_env)")  # fmt: skip
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]}?)"
    return f"; known keys: {', '.join(known)}" if known else ""


_KINDS = {"float": "a number", "int": "a whole number", "str": "a string", "array": "a list",
          "object": "a table", "bool": "true or false"}  # fmt: skip


def _kind(expected: str) -> str:
    parts = [p.strip() for p in expected.split("|") if p.strip() != "null"]
    return " or ".join(_KINDS.get(p, p) for p in parts)


def _show(value: Any) -> str:
    """VALUE as a config file would spell it (containers by kind, not content)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "nothing"
    return type(value).__name__

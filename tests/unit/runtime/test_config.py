"""The typed config: msgspec Structs refuse unknown keys and wrong types with the option's dotted
path, keep every range rule (from a file and from Python alike), and give a JSON Schema that
names every option; `spinstream config check` / `config schema` on the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spinstream.config import SpinstreamConfig, VenueConfig, decode, json_schema, read
from spinstream.errors import ConfigError
from spinstream.workspace import AccountConfig, Workspace


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "spinstream.toml"
    p.write_text(text)
    return p


B = "[venues.binance]\n"
Y = "[venues.bybit]\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # a misspelt key: refused, named by its path, with the key it resembles
        ("[venues.ig]\nenv='demo'\nrest_wiat_s = 1\n",
         "venues.ig.rest_wiat_s: unknown key (did you mean rest_wait_s?)"),
        ("[venue.binance]\n", "venue: unknown key (did you mean venues?)"),
        ("[venues.ig]\nenv='demo'\nrest_wait_s = 'x'\n",
         'venues.ig.rest_wait_s: expected a number, got "x"'),
        (B + "silent_s = 11\n", "venues.binance.silent_s: expected a number <= 10, got 11"),
        (B + "silent_s = 0\n", "venues.binance.silent_s: expected a number > 0, got 0"),
        (B + "lag_s = nan\n", "venues.binance.lag_s: expected a number > 0, got nan"),
        (B + "max_age_s = true\n", "venues.binance.max_age_s: expected a number, got true"),
        (Y + "book_depth = 2.5\n", "venues.bybit.book_depth: expected a whole number, got 2.5"),
        (Y + "symbols = ['BTCUSDT', 3]\n", "venues.bybit.symbols[1]: expected a string, got 3"),
        (Y + "symbols = 'BTCUSDT'\n", 'venues.bybit.symbols: expected a list, got "BTCUSDT"'),
        ('[venues.binance.urls]\n"https://api.binance.com" = 8001\n',
         'venues.binance.urls."https://api.binance.com": expected a string, got 8001'),
        (B + "api_secret = 's3cr3t'\n",
         "venues.binance.api_secret: unknown key (secrets are read only from environment "
         "variables: set api_secret_env to the variable's name)"),
        (Y + "symbols = ['futures:BTCUSDT']\n", "venues.bybit: bybit has no market 'futures'"),
    ],
)  # fmt: skip
def test_bad_option_is_named_by_its_path(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Workspace.from_file(write(tmp_path, text))
    assert str(info.value).startswith(message), str(info.value)
    assert "s3cr3t" not in str(info.value)  # a value put where a key belongs is not echoed


def test_the_same_rules_hold_for_accounts_built_in_python() -> None:
    bad = dict(silent_s=11, rest_wait_s=-1, lag_s=True, book_depth=0, warm_timeout_s=0,
               max_age_s="1")  # fmt: skip
    for name, value in bad.items():
        with pytest.raises(ConfigError, match=rf"^b: {name}: expected"):
            AccountConfig(alias="b", venue="binance", **{name: value})  # type: ignore[arg-type]
    a = AccountConfig(alias="b", venue="binance", silent_s=10, rest_wait_s=0, book_depth=5)
    assert (a.silent_s, a.rest_wait_s, a.book_depth) == (10, 0, 5)


def test_decoded_values_and_defaults(tmp_path: Path) -> None:
    cfg = read(write(tmp_path, "[venues.bybit_demo]\nvenue='bybit'\nenv='demo'\nlag_s=1\n"))
    v = cfg.venues["bybit_demo"]
    assert isinstance(cfg, SpinstreamConfig) and isinstance(v, VenueConfig)
    assert v.lag_s == 1.0 and isinstance(v.lag_s, float) and v.warm_timeout_s == 10.0
    a = Workspace.from_config(cfg).accounts["bybit_demo"]
    assert (a.venue, a.env, a.lag_s, a.silent_s, a.book_depth) == ("bybit", "demo", 1.0, None, None)
    # a Python dict may say None for "unset"
    ws = Workspace.from_dict({"venues": {"binance": {"rest_wait_s": None, "symbols": ["BTCUSDT"]}}})
    assert ws.accounts["binance"].rest_wait_s is None


def test_secrets_are_read_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = decode({"venues": {"ig": {"env": "demo", "api_key_env": "NOPE_K", "api_secret_env":
                                    "NOPE_S", "identifier_env": "NOPE_I"}}})  # fmt: skip
    assert cfg.venues["ig"].env_vars() == ("NOPE_K", "NOPE_S", "NOPE_I")
    assert Workspace.from_config(cfg, secrets=False).accounts["ig"].credentials is None
    with pytest.raises(ConfigError, match=r"^venues\.ig: environment variable\(s\) not set"):
        Workspace.from_config(cfg)


def test_schema_names_every_option_with_its_description() -> None:
    schema = json_schema()
    json.dumps(schema)  # JSON as it stands
    assert schema["$schema"].startswith("https://json-schema.org/")
    top = schema["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    assert top["additionalProperties"] is False and "venues" in top["properties"]
    venue = schema["$defs"]["VenueConfig"]
    assert venue["additionalProperties"] is False
    assert set(venue["properties"]) == set(VenueConfig.__struct_fields__)
    for name, prop in venue["properties"].items():
        assert prop.get("description"), name  # every option documented, once, in the Struct
    assert venue["properties"]["silent_s"]["maximum"] == 10
    assert sorted(venue["properties"]["env"]["enum"]) == ["demo", "live", "testnet"]
    assert venue["properties"]["warm_timeout_s"]["default"] == 10.0

    # well-formed: every $ref resolves, every "type" is one of JSON Schema's
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                assert node["$ref"].removeprefix("#/$defs/") in schema["$defs"], node["$ref"]
            if isinstance(node.get("type"), str):
                assert node["type"] in {"object", "array", "string", "number", "integer",
                                        "boolean", "null"}  # fmt: skip
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spinstream", *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_cli_config_check(tmp_path: Path) -> None:
    bad = write(tmp_path, "[venues.binance]\nsymbols = ['BTCUSDT']\nsilent_sec = 3\n")
    out = cli("config", "check", str(bad))
    assert out.returncode != 0
    assert "venues.binance.silent_sec: unknown key (did you mean silent_s?)" in out.stderr
    bad.write_text("[venues.ig]\nenv = 'demo'\nrest_wait_s = 'x'\n")
    out = cli("config", "check", str(bad))
    assert out.returncode != 0
    assert 'venues.ig.rest_wait_s: expected a number, got "x"' in out.stderr

    good = tmp_path / "good.toml"
    good.write_text("[venues.binance]\napi_key_env = 'SPX_K'\napi_secret_env = 'SPX_S'\n"
                    "[venues.ig]\nenv = 'demo'\nepics = ['CS.D.EURUSD.CFD.IP']\n")  # fmt: skip
    out = cli("config", "check", str(good))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 1 and "valid: 2 account(s)" in lines[0] and "SPX_K" in lines[0]
    assert cli("config", "check", "--env", str(good)).returncode != 0  # SPX_K is not set
    ok = cli("config", "check", "--env", str(good), env={"SPX_K": "k1", "SPX_S": "topsecret"})
    assert ok.returncode == 0 and "topsecret" not in ok.stdout + ok.stderr


def test_cli_config_schema() -> None:
    out = cli("config", "schema")
    assert out.returncode == 0, out.stderr
    schema: dict[str, Any] = json.loads(out.stdout)
    assert schema == json.loads(json.dumps(json_schema()))
    assert "rest_wait_s" in schema["$defs"]["VenueConfig"]["properties"]


def test_the_serve_table_belongs_to_the_file(tmp_path: Path) -> None:
    """`[serve]` (spinstream serve's settings) is part of the schema: the same file serves
    `run`, `serve` and `config check`; its keys are checked like the others."""
    text = "[venues.binance]\n[serve]\nstrategies = ['./strategies']\nstale_budget_s = 3\n"
    cfg = read(write(tmp_path, text))
    assert cfg.serve.strategies == ["./strategies"] and cfg.serve.stale_budget_s == 3.0
    assert set(Workspace.from_file(tmp_path / "spinstream.toml").accounts) == {"binance"}
    assert decode({"venues": {"binance": {}}}).serve.stale_budget_s == 5.0
    with pytest.raises(ConfigError, match=r"^serve\.strategy: unknown key \(did you mean strat"):
        decode({"venues": {"binance": {}}, "serve": {"strategy": []}})
    with pytest.raises(ConfigError, match=r"^serve\.stale_budget_s: expected a number > 0"):
        decode({"venues": {"binance": {}}, "serve": {"stale_budget_s": 0}})
    assert "serve" in json_schema()["$defs"]["SpinstreamConfig"]["properties"]

"""Workspace configuration: TOML and Python, secrets from the environment, clear errors."""

from __future__ import annotations

import dataclasses

import pytest

from spinstream.credentials import Credentials
from spinstream.errors import ConfigError, UnsupportedError
from spinstream.worker import Worker
from spinstream.workspace import AccountConfig, Workspace


def write(tmp_path, text: str):
    p = tmp_path / "spinstream.toml"
    p.write_text(text)
    return p


def test_from_file_with_secrets_from_env(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BK", "key-123456")
    monkeypatch.setenv("BS", "topsecret-value")
    p = write(
        tmp_path,
        """
[venues.binance]
env = "testnet"
api_key_env = "BK"
api_secret_env = "BS"
[venues.binance.urls]
"https://api.binance.com" = "http://127.0.0.1:9"
[venues.bybit_demo]
venue = "bybit"
env = "demo"
""",
    )
    ws = Workspace.from_file(p)
    b = ws.accounts["binance"]
    assert b.env == "testnet" and b.credentials.api_key == "key-123456"
    assert b.resolve("https://api.binance.com") == "http://127.0.0.1:9"
    assert b.resolve("https://fapi.binance.com") == "https://fapi.binance.com"
    assert ws.accounts["bybit_demo"].venue == "bybit"
    for text in (repr(ws), repr(b), str(b.credentials), repr(b.credentials.api_secret)):
        assert "topsecret" not in text


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "no \\[venues"),
        ("[venues.x]\n", "unknown venue"),
        ("[venues.binance]\nenv = 'paper'\n", r"venues\.binance\.env: must be one of"),
        ("[venues.bybit]\nenv = 'demo'\n[venues.binance]\nenv = 'demo'\n", "no 'demo' environment"),
        ("[venues.binance]\napi_key = 'k'\n", r"venues\.binance\.api_key: unknown key"),
        ("[venues.binance]\napi_key_env = 'K'\n", "both api_key_env"),
        ("[venues.binance]\napi_key_env = 'NOPE_K'\napi_secret_env = 'NOPE_S'\n", "not set"),
        ("[venues.binance]\nurls = 3\n", r"venues\.binance\.urls: expected a table"),
        ("[venues.1bad]\nvenue = 'binance'\n", "identifier"),
        ("not toml [", "spinstream.toml"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Workspace.from_file(write(tmp_path, text))


def test_missing_file_and_duplicate_accounts(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        Workspace.from_file(tmp_path / "nope.toml")
    a = AccountConfig(alias="b", venue="binance")
    with pytest.raises(ConfigError, match="twice"):
        Workspace([a, a])


def test_modes(monkeypatch) -> None:
    ws = Workspace([AccountConfig(alias="binance", venue="binance")])
    with pytest.raises(ConfigError):
        ws.check_mode("desktop")
    ws.check_mode("browser")
    spec = ws.accounts["binance"].spec()
    import spinstream.protocol.binance as pkg

    monkeypatch.setattr(pkg, "SPEC", dataclasses.replace(spec, server_only=True))
    with pytest.raises(UnsupportedError, match="server-only"):
        Worker(lambda ctx: None, ws, mode="browser")
    ws.close()


def test_credentials_repr_and_env() -> None:
    c = Credentials.of("abcdefgh", "s3cr3t")
    assert "s3cr3t" not in repr(c) and c.api_secret.reveal() == "s3cr3t"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(c.api_secret)


def test_rest_wait_choice(tmp_path) -> None:
    ws = Workspace.from_file(write(tmp_path, "[venues.binance]\nrest_wait_s = 0\n"))
    assert ws.accounts["binance"].rest_wait_s == 0.0
    assert (
        Workspace.from_file(write(tmp_path, "[venues.binance]\n")).accounts["binance"].rest_wait_s
        is None
    )
    for bad in ("'soon'", "-1", "true"):
        with pytest.raises(ConfigError, match="rest_wait_s"):
            Workspace.from_file(write(tmp_path, f"[venues.binance]\nrest_wait_s = {bad}\n"))

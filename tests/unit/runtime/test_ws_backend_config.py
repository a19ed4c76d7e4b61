"""The account option `ws_backend`: decoded and checked like every option, default auto, and a
clear ConfigError when picows is chosen but not installed."""

from __future__ import annotations

import importlib.util

import pytest

from spinstream.config import decode, json_schema
from spinstream.errors import ConfigError
from spinstream.transport import sockets
from spinstream.workspace import AccountConfig, Workspace


def test_default_is_auto() -> None:
    assert AccountConfig(alias="binance", venue="binance").ws_backend == "auto"
    cfg = decode({"venues": {"binance": {}}})
    assert cfg.venues["binance"].ws_backend == "auto"
    assert sockets.DEFAULT_BACKEND == "auto"


def test_picows_from_the_file_reaches_the_account() -> None:
    pytest.importorskip("picows")
    ws = Workspace.from_config(decode({"venues": {"binance": {"ws_backend": "picows"}}}))
    assert ws.accounts["binance"].ws_backend == "picows"


def test_unknown_backend_is_named_with_the_choices() -> None:
    with pytest.raises(ConfigError, match=r'venues.okx.ws_backend: must be one of "auto", '
                       r'"websockets", "picows"; got "aiohttp"'):  # fmt: skip
        decode({"venues": {"okx": {"ws_backend": "aiohttp"}}})
    with pytest.raises(ConfigError, match=r"^b: ws_backend: must be one of"):
        AccountConfig(alias="b", venue="binance", ws_backend="aiohttp")
    props = json_schema()["$defs"]["VenueConfig"]["properties"]["ws_backend"]
    assert sorted(props["enum"]) == ["auto", "picows", "websockets"]
    assert "proxy" in props["description"] and props["default"] == "auto"


def test_picows_not_installed_is_a_clear_config_error(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "picows" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"ws_backend 'picows' needs the picows package.*auto"):
        AccountConfig(alias="b", venue="binance", ws_backend="picows")
    assert not sockets.available("picows") and sockets.available("websockets")
    assert AccountConfig(alias="b", venue="binance").ws_backend == "auto"  # auto falls back

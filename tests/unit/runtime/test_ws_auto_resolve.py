"""`ws_backend = "auto"` (transport/sockets.py `resolve`): picows unless it does not import or a
proxy applies to the URL by websockets' own rule (which picows does not follow); an explicit
library is kept; the reason never holds a proxy's or a URL's text."""

from __future__ import annotations

import os

import pytest

from spinstream.transport import sockets
from spinstream.transport.sockets import errors, proxy_scheme, resolve

pytest.importorskip("picows")

URL = "wss://stream.binance.com:9443/stream?streams=btcusdt@bookTicker"


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.lower().endswith("_proxy"):
            monkeypatch.delenv(k)


def test_auto_is_picows_without_a_proxy() -> None:
    assert resolve("auto", URL) == ("picows", "auto: picows imports and no proxy applies")
    assert sockets.DEFAULT_BACKEND == "auto"
    assert set(errors("auto")) == set(errors("picows")) | set(errors("websockets"))


@pytest.mark.parametrize(
    ("env", "url", "scheme"),
    [
        ({"HTTPS_PROXY": "http://u:pw@proxy:3128"}, URL, "https"),
        ({"https_proxy": "http://proxy:3128"}, "ws://127.0.0.1:8000/ws", "https"),
        ({"WSS_PROXY": "http://proxy:3128"}, URL, "wss"),
        ({"SOCKS_PROXY": "socks5h://proxy:1080"}, URL, "socks"),
        ({"HTTP_PROXY": "http://proxy:3128"}, "ws://127.0.0.1:8000/ws", "http"),
    ],
)
def test_a_proxy_websockets_would_use_makes_auto_websockets(monkeypatch, env, url, scheme) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert proxy_scheme(url) == scheme
    lib, why = resolve("auto", url)
    assert lib == "websockets" and f"a {scheme} proxy applies" in why
    assert "pw" not in why and "proxy:" not in why and "binance" not in why
    assert resolve("picows", url) == ("picows", "configured")  # an explicit choice is kept
    assert resolve("websockets", url) == ("websockets", "configured")


@pytest.mark.parametrize(
    "env",
    [
        {"HTTP_PROXY": "http://proxy:3128"},  # plain HTTP proxy: not for wss (websockets' rule)
        {"ALL_PROXY": "http://proxy:3128"},  # honoured by neither library
        {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "stream.binance.com"},
        {"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "*"},
    ],
)
def test_no_proxy_that_applies_leaves_auto_on_picows(monkeypatch, env) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert proxy_scheme(URL) is None
    assert resolve("auto", URL)[0] == "picows"


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"HTTPS_PROXY": "http://p:1"},
        {"HTTP_PROXY": "http://p:1"},
        {"WSS_PROXY": "http://p:1", "HTTPS_PROXY": "http://q:1"},
        {"SOCKS_PROXY": "socks5://p:1"},
        {"ALL_PROXY": "http://p:1"},
        {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "127.0.0.1"},
        {"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".binance.com"},
    ],
)
@pytest.mark.parametrize("url", [URL, "ws://127.0.0.1:8000/ws", "wss://[::1]:443/x"])
def test_the_rule_is_websockets_own(monkeypatch, env, url) -> None:
    proxy_mod = pytest.importorskip("websockets.proxy")  # websockets >= 15
    from websockets.uri import parse_uri

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert (proxy_scheme(url) is None) == (proxy_mod.get_proxy(parse_uri(url)) is None)


def test_picows_that_does_not_import_falls_back_to_websockets(monkeypatch) -> None:
    monkeypatch.setattr(sockets, "picows_problem", lambda: "picows does not import (ImportError)")
    assert resolve("auto", URL) == (
        "websockets",
        "auto: picows does not import (ImportError)",
    )
    assert errors("auto") == errors("websockets")
    assert sockets.available("auto")


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="known: auto, websockets, picows"):
        resolve("aiohttp", URL)
    assert not sockets.available("aiohttp")

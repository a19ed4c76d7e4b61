"""BinanceUsdmMarket from frames: USD-M `<sym>@ticker` on `/market` -> `TickerStats`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spinstream.protocol.binance import (
    COMPANIONS,
    PROTOCOLS,
    SPEC,
    BinanceUsdmMarket,
    BinanceUsdmPublic,
)
from spinstream.protocol.events import Malformed, Stale, Subscribed, TickerStats

MS = 1_000_000
S = 1_000_000_000
T0 = 1_700_000_000 * S


def ticker24(sym: str = "BTCUSDT", last: str = "25035.20", volume: str = "31258.475") -> str:
    """A USD-M 24hrTicker as Binance sends it on `/market`: no bid/ask fields."""
    data = {
        "e": "24hrTicker", "E": 1672515782136, "s": sym, "p": "0.0015", "P": "250.00",
        "w": "0.0018", "c": last, "Q": "10", "o": "0.0010", "h": "0.0025", "l": "0.0010",
        "v": volume, "q": "18", "O": 0, "C": 86400000, "F": 0, "L": 18150, "n": 18151,
    }  # fmt: skip
    return json.dumps({"stream": f"{sym.lower()}@ticker", "data": data})


def sent(p: Any) -> list[dict[str, Any]]:
    return [json.loads(f) for f in p.outgoing()]


def live(*symbols: str) -> BinanceUsdmMarket:
    p = BinanceUsdmMarket()
    for sym in symbols:
        p.subscribe("ticker24h", sym)
    p.connected(T0)
    for f in sent(p):
        assert f["method"] == "SUBSCRIBE"
        p.receive(json.dumps({"result": None, "id": f["id"]}), T0)
    return p


def test_registry_spec_and_path() -> None:
    assert PROTOCOLS[("usdm", "ticker")] is BinanceUsdmPublic
    assert PROTOCOLS[("usdm", "ticker24h")] is BinanceUsdmMarket
    assert COMPANIONS[("usdm", "ticker")] == [("usdm", "ticker24h")]
    assert SPEC.ws_bases["usdm-market"] == {
        "live": "wss://fstream.binance.com",
        "testnet": "wss://fstream.binancefuture.com",
    }
    p = BinanceUsdmMarket()
    assert p.endpoint == "usdm-market" and p.market == "usdm"
    assert p.connect_path() == "/market/stream"
    with pytest.raises(ValueError):
        p.subscribe("book", "BTCUSDT")  # depth lives on /public
    with pytest.raises(ValueError):
        p.subscribe("ticker", "BTCUSDT")


def test_subscribe_frames_and_acks() -> None:
    p = BinanceUsdmMarket()
    p.subscribe("ticker24h", "btcusdt")
    assert p.subscriptions() == {("ticker24h", "BTCUSDT")}
    assert p.outgoing() == []  # nothing before the socket is open
    p.connected(T0)
    (frame,) = sent(p)
    assert frame["method"] == "SUBSCRIBE" and frame["params"] == ["btcusdt@ticker"]
    (ack,) = p.receive(json.dumps({"result": None, "id": frame["id"]}), T0)
    assert isinstance(ack, Subscribed) and ack.topic == "btcusdt@ticker"
    p.subscribe("ticker24h", "ETHUSDT")  # while live: a SUBSCRIBE frame at once
    assert [f["params"] for f in sent(p)] == [["ethusdt@ticker"]]
    p.unsubscribe("ticker24h", "ETHUSDT")
    (un,) = sent(p)
    assert un["method"] == "UNSUBSCRIBE" and un["params"] == ["ethusdt@ticker"]


def test_24h_ticker_becomes_stats() -> None:
    p = live("BTCUSDT")
    for _ in range(2):  # the per-frame decoder (built on the first frame) answers alike
        (ev,) = p.receive(ticker24(), T0 + MS)
        assert ev == TickerStats(
            venue="binance", market="usdm", symbol="BTCUSDT", last=25035.2,
            volume_24h=31258.475, ts_event=1672515782136 * MS, ts_recv=T0 + MS,
        )  # fmt: skip
    assert p.receive(ticker24("ETHUSDT"), T0) == []  # not subscribed: dropped


def test_garbage_and_disconnect() -> None:
    p = live("BTCUSDT")
    (bad,) = p.receive(ticker24(last="abc"), T0)
    assert isinstance(bad, Malformed)
    (stale,) = p.disconnected(T0 + S)
    assert isinstance(stale, Stale) and (stale.kind, stale.symbol) == ("ticker24h", "BTCUSDT")
    p.connected(T0 + 2 * S)
    assert [f["params"] for f in sent(p)] == [["btcusdt@ticker"]]  # resubscribed

"""Every simulated market-data stream carries every field of the venue's real payload.

Issue 9, defect 10: a client reads what the venue sends, so a simulated stream missing a field
(Binance's 24 h ticker without its bid/ask, say) passes our own parser and fails a user's. Each
stream is read raw over a real socket and its keys compared with the venue's documented payload
(Binance: developers.binance.com spot web-socket-streams and USD-M market streams; Bybit:
bybit-exchange.github.io/docs/v5/websocket/public). Bybit payloads may carry more than the
documented minimum (it adds fields often), never less.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from spinstream.testing.sims import sim


def keys(text: str) -> set[str]:
    return set(text.split())


TICKER_24H_USDM = keys("e E s p P w c Q o h l v q O C F L n")
BINANCE_SPOT = {
    "btcusdt@ticker": TICKER_24H_USDM | keys("x b B a A"),
    "btcusdt@miniTicker": keys("e E s c o h l v q"),
    "btcusdt@bookTicker": keys("u s b B a A"),
    "btcusdt@aggTrade": keys("e E s a p q f l T m M"),
    "btcusdt@trade": keys("e E s t p q T m M"),
    "btcusdt@kline_1m": keys("e E s k"),
    "btcusdt@depth@100ms": keys("e E s U u b a"),
    "btcusdt@depth5": keys("lastUpdateId bids asks"),
}
BINANCE_USDM = {  # (route, stream) -> keys
    ("market", "btcusdt@ticker"): TICKER_24H_USDM,
    ("market", "btcusdt@miniTicker"): keys("e E s c o h l v q"),
    ("market", "btcusdt@markPrice"): keys("e E s p P i r T"),
    ("market", "btcusdt@aggTrade"): keys("e E s a p q nq f l T m"),
    ("market", "btcusdt@kline_1m"): keys("e E s k"),
    ("public", "btcusdt@bookTicker"): keys("e u E T s b B a A"),
    ("public", "btcusdt@depth@100ms"): keys("e E T s U u pu b a"),
    ("public", "btcusdt@depth5"): keys("e E T s U u pu b a"),
}
KLINE = keys("t T s i f L o c h l v n x q V Q B")


async def first(url: str, timeout_s: float = 20.0) -> dict[str, Any]:
    async with websockets.connect(url, open_timeout=timeout_s) as ws:
        got: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
        return got


@pytest.fixture
async def binance() -> AsyncIterator[Any]:
    async with sim("binance", seed=11, tick_interval=0.02) as s:
        yield s


@pytest.fixture
async def bybit() -> AsyncIterator[Any]:
    async with sim("bybit", seed=21, tick_interval=0.02) as s:
        yield s


async def test_binance_spot_streams_carry_every_field(binance: Any) -> None:
    base = binance.urls["wss://stream.binance.com"]
    for stream, want in BINANCE_SPOT.items():
        got = await first(f"{base}/ws/{stream}")
        assert set(got) == want, f"{stream}: missing {want - set(got)}, unknown {set(got) - want}"
        if "k" in got:
            assert set(got["k"]) == KLINE, KLINE ^ set(got["k"])


async def test_binance_usdm_streams_carry_every_field(binance: Any) -> None:
    base = binance.urls["wss://fstream.binance.com"]
    for (route, stream), want in BINANCE_USDM.items():
        got = await first(f"{base}/{route}/ws/{stream}")
        missing = want - set(got)
        assert not missing, f"{route}/{stream}: missing {missing}"
        if stream.endswith("@markPrice"):
            assert set(got) - want <= {"ap"}  # the mark price's moving average, newer docs
        else:
            assert set(got) == want, f"{route}/{stream}: unknown {set(got) - want}"
        if "k" in got:
            assert set(got["k"]) == KLINE, KLINE ^ set(got["k"])


KLINE_BYBIT = keys("start end interval open close high low volume turnover confirm timestamp")
BYBIT_SPOT = {
    "tickers.BTCUSDT": keys(
        "symbol lastPrice highPrice24h lowPrice24h prevPrice24h volume24h turnover24h"
        " price24hPcnt usdIndexPrice"
    ),
    "orderbook.50.BTCUSDT": keys("s b a u seq"),
    "publicTrade.BTCUSDT": keys("i T p v S s BT"),
    "kline.1.BTCUSDT": KLINE_BYBIT,
}
BYBIT_LINEAR = {
    "tickers.BTCUSDT": keys(
        "symbol tickDirection price24hPcnt lastPrice prevPrice24h highPrice24h lowPrice24h"
        " prevPrice1h markPrice indexPrice openInterest openInterestValue turnover24h volume24h"
        " nextFundingTime fundingRate bid1Price bid1Size ask1Price ask1Size"
    ),
    "orderbook.50.BTCUSDT": keys("s b a u seq"),
    "publicTrade.BTCUSDT": keys("T s S v p L i BT"),
    "kline.1.BTCUSDT": KLINE_BYBIT,
}


async def test_bybit_public_topics_carry_every_field(bybit: Any) -> None:
    ws_base = bybit.urls["wss://stream.bybit.com"]
    for category, topics in (("spot", BYBIT_SPOT), ("linear", BYBIT_LINEAR)):
        async with websockets.connect(f"{ws_base}/v5/public/{category}") as ws:
            await ws.send(json.dumps({"op": "subscribe", "args": list(topics), "req_id": "1"}))
            seen: dict[str, dict[str, Any]] = {}
            deadline = time.monotonic() + 20
            while len(seen) < len(topics):
                assert time.monotonic() < deadline, f"{category}: only {sorted(seen)} arrived"
                msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
                topic = msg.get("topic")
                if topic in topics and msg.get("type") == "snapshot":  # deltas carry changes
                    seen.setdefault(topic, msg)
            for topic, msg in seen.items():
                assert {"topic", "type", "ts", "data"} <= set(msg), msg
                data = msg["data"]
                item = data[0] if isinstance(data, list) else data
                missing = topics[topic] - set(item)
                assert not missing, f"{category} {topic}: missing {missing}"

"""ccxt (async REST and ccxt.pro streams) against the Binance simulator.

ccxt is an independent Binance client: if it cannot do something here, the simulator is
wrong. Its `urls['api']` entries are rewritten from the real bases to the sim's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.pro as ccxtpro
import pytest

from ccxt_fields import assert_book, assert_ticker, traded_ticker
from spinstream.testing.sims import sim
from spinstream.testing.sims.binance import BinanceSim

DEAD = "http://127.0.0.1:9/not-simulated"
# Binance's payload keys (developers.binance.com, web-socket-streams / USD-M market streams)
MINI_TICKER = set("e E s c o h l v q".split())
USDM_24H_TICKER = set("e E s p P w c Q o h l v q O C F L n".split())
SPOT_24H_TICKER = USDM_24H_TICKER | set("x b B a A".split())


def _point_at(urls: Any, ex: BinanceSim) -> Any:
    """Every URL in ccxt's `urls['api']` tree, rewritten to the sim (unknown hosts: dead)."""
    if isinstance(urls, dict):
        return {k: _point_at(v, ex) for k, v in urls.items()}
    if isinstance(urls, str) and "://" in urls:
        try:
            return ex.make_url(urls)
        except ValueError:
            return DEAD
    return urls


@pytest.fixture
async def ex() -> AsyncIterator[BinanceSim]:
    async with sim("binance", seed=11, tick_interval=0.02) as s:
        assert isinstance(s, BinanceSim)
        yield s


async def _client(cls: type, ex: BinanceSim, **options: Any) -> Any:
    c = cls(
        {
            "apiKey": ex.credentials["api_key"],
            "secret": ex.credentials["api_secret"],
            "enableRateLimit": False,
            "options": options,
        }
    )
    c.urls["api"] = _point_at(c.urls["api"], ex)
    return c


async def test_spot_rest_flow(ex: BinanceSim) -> None:
    c = await _client(ccxtpro.binance, ex)
    try:
        markets = await c.load_markets()
        m = markets["BTC/USDT"]
        assert m["spot"] and m["precision"]["price"] == 0.01 and m["precision"]["amount"] == 0.00001
        assert m["limits"]["cost"]["min"] == 5
        assert "BTC/USDT:USDT" in markets  # USD-M loaded from /fapi/v1/exchangeInfo

        t = await c.fetch_ticker("BTC/USDT")
        assert t["bid"] < t["ask"] and t["last"] > 0
        ob = await c.fetch_order_book("BTC/USDT", limit=10)
        assert len(ob["bids"]) == 10 and ob["bids"][0][0] < ob["asks"][0][0] and ob["nonce"] > 0

        bal = await c.fetch_balance()
        assert bal["USDT"]["free"] == 100000 and bal["BTC"]["total"] == 1

        o = await c.create_order("BTC/USDT", "limit", "buy", 0.01, 40000)
        assert o["status"] == "open" and o["price"] == 40000 and o["amount"] == 0.01
        opens = await c.fetch_open_orders("BTC/USDT")
        assert [x["id"] for x in opens] == [o["id"]]
        bal = await c.fetch_balance()
        assert bal["USDT"]["used"] == 400
        got = await c.cancel_order(o["id"], "BTC/USDT")
        assert got["status"] == "canceled"
        assert await c.fetch_open_orders("BTC/USDT") == []

        m_o = await c.create_order("BTC/USDT", "market", "sell", 0.2)
        assert m_o["status"] == "closed" and m_o["filled"] == 0.2 and m_o["average"] > 0
        assert m_o["trades"] and sum(tr["amount"] for tr in m_o["trades"]) == pytest.approx(0.2)
        bal = await c.fetch_balance()
        assert bal["BTC"]["free"] == pytest.approx(0.8)
        assert bal["USDT"]["free"] > 100000
        mine = await c.fetch_my_trades("BTC/USDT")
        assert len(mine) == len(m_o["trades"])
    finally:
        await c.close()


async def test_usdm_rest_flow(ex: BinanceSim) -> None:
    c = await _client(ccxtpro.binanceusdm, ex)
    try:
        markets = await c.load_markets()
        m = markets["BTC/USDT:USDT"]
        assert m["linear"] and m["swap"] and m["precision"]["amount"] == 0.001
        t = await c.fetch_ticker("BTC/USDT:USDT")
        assert t["last"] > 0
        ob = await c.fetch_order_book("BTC/USDT:USDT", limit=5)
        assert len(ob["asks"]) == 5
        bal = await c.fetch_balance()
        assert bal["USDT"]["total"] == 100000

        o = await c.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 40000)
        assert o["status"] == "open"
        opens = await c.fetch_open_orders("BTC/USDT:USDT")
        assert [x["id"] for x in opens] == [o["id"]]
        assert (await c.cancel_order(o["id"], "BTC/USDT:USDT"))["status"] == "canceled"

        m_o = await c.create_order("BTC/USDT:USDT", "market", "buy", 0.05)
        done = await c.fetch_order(m_o["id"], "BTC/USDT:USDT")
        assert done["status"] == "closed" and done["filled"] == 0.05
        positions = await c.fetch_positions(["BTC/USDT:USDT"])
        pos = [p for p in positions if p["contracts"]]
        assert len(pos) == 1 and pos[0]["side"] == "long" and pos[0]["contracts"] == 0.05
    finally:
        await c.close()


async def test_spot_watch_ticker_and_order_book(ex: BinanceSim) -> None:
    c = await _client(ccxtpro.binance, ex)
    try:
        await c.load_markets()
        seen = set()
        for _ in range(3):  # ccxt's default: the <sym>@miniTicker stream
            t = await asyncio.wait_for(c.watch_ticker("BTC/USDT"), 10)
            assert t["symbol"] == "BTC/USDT" and t["last"] > 0 and t["open"] > 0
            seen.add(t["timestamp"])
        assert len(seen) >= 2  # real updates, not one cached answer
        full = await asyncio.wait_for(c.watch_ticker("ETH/USDT", {"name": "ticker"}), 10)
        assert full["symbol"] == "ETH/USDT" and full["bid"] < full["ask"]
        nonces = []
        for _ in range(5):
            ob = await asyncio.wait_for(c.watch_order_book("BTC/USDT"), 10)
            assert ob["bids"][0][0] < ob["asks"][0][0]
            nonces.append(ob["nonce"])
        assert nonces == sorted(nonces) and nonces[-1] > nonces[0]
        # ccxt's own view equals the sim's book at that update id
        book = ex.engine.book(ex.engine.instrument("spot", "BTCUSDT"))
        if book.update_id == ob["nonce"]:
            assert Decimal(str(ob["bids"][0][0])) == book.inst.price(book.best(True)[0])
    finally:
        await c.close()


async def test_spot_24h_ticker_stream_carries_every_field_ccxt_reads(ex: BinanceSim) -> None:
    """`<symbol>@ticker` is the full 24 h ticker (bid/ask and sizes, change, vwap, ...), and
    ccxt's default `watch_ticker` (the `@miniTicker` stream, as on Binance) has the rest."""
    c = await _client(ccxtpro.binance, ex)
    try:
        await c.load_markets()
        for symbol in ("BTC/USDT", "ETH/USDT"):
            t = await traded_ticker(lambda s=symbol: c.watch_ticker(s, {"name": "ticker"}))
            assert t["info"]["e"] == "24hrTicker"
            assert set(t["info"]) == SPOT_24H_TICKER
            assert_ticker(t, book=True)
            assert t["previousClose"] is not None  # `x`: the first trade before the window
        mini = await traded_ticker(lambda: c.watch_ticker("BTC/USDT"))
        assert set(mini["info"]) == MINI_TICKER
        assert_ticker(mini, book=False, pct_abs=1e-6)
    finally:
        await c.close()


async def test_usdm_24h_ticker_stream_carries_every_field_ccxt_reads(ex: BinanceSim) -> None:
    """USD-M's `@ticker` has no best bid/ask on Binance either (`@bookTicker` has them)."""
    c = await _client(ccxtpro.binanceusdm, ex)
    try:
        await c.load_markets()
        sym = "BTC/USDT:USDT"
        t = await traded_ticker(lambda: c.watch_ticker(sym, {"name": "ticker"}))
        assert t["info"]["e"] == "24hrTicker" and set(t["info"]) == USDM_24H_TICKER
        assert_ticker(t, book=False)
        bbo = (await asyncio.wait_for(c.watch_bids_asks([sym]), 20))[sym]
        assert set(bbo["info"]) == {"e", "u", "E", "T", "s", "b", "B", "a", "A"}
        assert_book(bbo)
    finally:
        await c.close()


async def test_usdm_watch_ticker_and_order_book(ex: BinanceSim) -> None:
    c = await _client(ccxtpro.binanceusdm, ex)
    try:
        await c.load_markets()
        t = await asyncio.wait_for(c.watch_ticker("BTC/USDT:USDT"), 10)
        assert t["symbol"] == "BTC/USDT:USDT" and t["last"] > 0
        nonces = []
        for _ in range(5):
            ob = await asyncio.wait_for(c.watch_order_book("BTC/USDT:USDT"), 10)
            assert ob["bids"][0][0] < ob["asks"][0][0]
            nonces.append(ob["nonce"])
        assert nonces[-1] > nonces[0]
        assert (
            ex.stats.ws_opened["futures-public"] >= 1 and ex.stats.ws_opened["futures-market"] >= 1
        )
    finally:
        await c.close()


async def test_spot_user_data_over_ws_api(ex: BinanceSim) -> None:
    """ccxt subscribes with `userDataStream.subscribe.signature` and parses the events."""
    c = await _client(ccxtpro.binance, ex)
    try:
        await c.load_markets()
        watching = asyncio.ensure_future(c.watch_orders("BTC/USDT"))
        await ex.wait_for(
            lambda: any(k.data.get("user_subs") for k in ex.connections("spot-wsapi"))
        )
        o = await c.create_order("BTC/USDT", "limit", "buy", 0.01, 40000)
        orders = await asyncio.wait_for(watching, 10)
        assert orders[-1]["id"] == o["id"] and orders[-1]["status"] == "open"
        balance = asyncio.ensure_future(c.watch_balance())
        await asyncio.sleep(0)
        await c.cancel_order(o["id"], "BTC/USDT")
        bal = await asyncio.wait_for(balance, 10)
        assert bal["USDT"]["free"] == 100000 and bal["USDT"]["used"] == 0
    finally:
        await c.close()


async def test_usdm_user_data_over_listen_key(ex: BinanceSim) -> None:
    c = await _client(ccxtpro.binanceusdm, ex)
    try:
        await c.load_markets()
        watching = asyncio.ensure_future(c.watch_orders("BTC/USDT:USDT"))
        await ex.wait_for(lambda: ex.stats.ws_open["futures-private"] == 1)
        await c.create_order("BTC/USDT:USDT", "market", "sell", 0.02)
        closed = None
        for _ in range(5):
            orders = await asyncio.wait_for(watching, 10)
            closed = [x for x in orders if x["status"] == "closed"]
            if closed:
                break
            watching = asyncio.ensure_future(c.watch_orders("BTC/USDT:USDT"))
        assert closed and closed[-1]["filled"] == 0.02 and closed[-1]["side"] == "sell"
    finally:
        await c.close()

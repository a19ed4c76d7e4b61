"""python-binance (AsyncClient + BinanceSocketManager) against the Binance simulator.

python-binance takes its base URLs from class attributes, so a subclass points them at
the sim through `ex.make_url(<real URL>)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from binance import AsyncClient, BinanceSocketManager
from binance.exceptions import BinanceAPIException

from spinstream.testing.sims import sim
from spinstream.testing.sims.binance import BinanceSim


@pytest.fixture
async def ex() -> AsyncIterator[BinanceSim]:
    async with sim("binance", seed=5, tick_interval=0.02) as s:
        assert isinstance(s, BinanceSim)
        yield s


async def _client(
    ex: BinanceSim, secret: str | None = None
) -> tuple[AsyncClient, BinanceSocketManager]:
    u = ex.make_url

    class SimClient(AsyncClient):
        API_URL = u("https://api.binance.com/api")
        MARGIN_API_URL = u("https://api.binance.com/sapi")
        FUTURES_URL = u("https://fapi.binance.com/fapi")
        FUTURES_DATA_URL = u("https://fapi.binance.com/futures/data")
        FUTURES_COIN_URL = u("https://dapi.binance.com/dapi")
        WS_API_URL = u("wss://ws-api.binance.com:443/ws-api/v3")

    class SimSockets(BinanceSocketManager):
        STREAM_URL = u("wss://stream.binance.com:9443") + "/"
        FSTREAM_URL = u("wss://fstream.binance.com") + "/"

    client = await SimClient.create(
        ex.credentials["api_key"], secret or ex.credentials["api_secret"]
    )
    # python-binance's read loops notice an exit only between reads; on a quiet socket (the
    # WS API session) close_connection would wait out the default 10 s read timeout
    client.ws_api.TIMEOUT = 1
    return client, SimSockets(client)


async def test_rest_book_account_orders(ex: BinanceSim) -> None:
    c, _ = await _client(ex)
    try:
        book = await c.get_order_book(symbol="BTCUSDT", limit=10)
        assert len(book["bids"]) == 10 and Decimal(book["bids"][0][0]) < Decimal(book["asks"][0][0])
        acct = await c.get_account()
        assert {b["asset"]: b["free"] for b in acct["balances"]}["USDT"] == "100000.00000000"

        o = await c.order_limit_buy(symbol="BTCUSDT", quantity="0.01", price="40000.00")
        assert o["status"] == "NEW" and o["clientOrderId"].startswith(AsyncClient.SPOT_ORDER_PREFIX)
        opens = await c.get_open_orders(symbol="BTCUSDT")
        assert [x["orderId"] for x in opens] == [o["orderId"]]
        got = await c.get_order(symbol="BTCUSDT", orderId=o["orderId"])
        assert got["status"] == "NEW" and got["price"] == "40000.00000000"
        canceled = await c.cancel_order(symbol="BTCUSDT", orderId=o["orderId"])
        assert canceled["status"] == "CANCELED"

        m = await c.order_market_buy(symbol="ETHUSDT", quoteOrderQty="300")
        assert m["status"] == "FILLED" and Decimal(m["cummulativeQuoteQty"]) <= 300
        assert Decimal(m["executedQty"]) > 0 and m["fills"]

        with pytest.raises(BinanceAPIException) as info:
            await c.get_order(symbol="BTCUSDT", orderId=1)
        assert info.value.code == -2013
    finally:
        await c.close_connection()


async def test_bad_secret_is_rejected(ex: BinanceSim) -> None:
    c, _ = await _client(ex, secret="not-the-secret")
    try:
        with pytest.raises(BinanceAPIException) as info:
            await c.get_account()
        assert info.value.code == -1022
    finally:
        await c.close_connection()


async def test_futures_rest(ex: BinanceSim) -> None:
    c, _ = await _client(ex)
    try:
        info = await c.futures_exchange_info()
        assert {s["symbol"] for s in info["symbols"]} == {"BTCUSDT", "ETHUSDT"}
        o = await c.futures_create_order(
            symbol="ETHUSDT", side="SELL", type="MARKET", quantity="0.5"
        )
        assert o["status"] == "NEW"  # ACK
        done = await c.futures_get_order(symbol="ETHUSDT", orderId=o["orderId"])
        assert done["status"] == "FILLED"
        pos = await c.futures_position_information(symbol="ETHUSDT")
        assert Decimal(pos[0]["positionAmt"]) == Decimal("-0.5")
        bal = await c.futures_account_balance()
        assert any(b["asset"] == "USDT" for b in bal)
    finally:
        await c.close_connection()


async def test_sockets_depth_and_futures_user_data(ex: BinanceSim) -> None:
    c, bm = await _client(ex)
    try:
        async with bm.depth_socket("BTCUSDT", interval=100) as s:
            a = await asyncio.wait_for(s.recv(), 10)
            b = await asyncio.wait_for(s.recv(), 10)
            assert a["e"] == "depthUpdate" and b["U"] == a["u"] + 1
        async with bm.futures_depth_socket("BTCUSDT") as s:
            ev = await asyncio.wait_for(s.recv(), 10)
            assert ev["data"]["e"] == "depthUpdate" and "pu" in ev["data"]
        user = bm.futures_user_socket()
        # its read loop only notices an exit between reads; a quiet private stream would
        # hold the exit for the default 10 s read timeout
        user.TIMEOUT = 1
        async with user as s:
            await ex.wait_for(lambda: ex.stats.ws_open["futures-private"] == 1)
            await c.futures_create_order(
                symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.003"
            )
            seen = set()
            while not {"ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"} <= seen:
                msg = await s.recv()
                seen.add(msg.get("e") or msg.get("data", {}).get("e"))
    finally:
        await c.close_connection()


async def test_spot_user_socket_over_ws_api(ex: BinanceSim) -> None:
    """python-binance's user socket subscribes on the WS API with a signature."""
    c, bm = await _client(ex)
    try:
        user = bm.user_socket()
        user.TIMEOUT = 2
        async with user as s:
            await ex.wait_for(
                lambda: any(k.data.get("user_subs") for k in ex.connections("spot-wsapi"))
            )
            o = await c.order_limit_sell(symbol="BTCUSDT", quantity="0.1", price="90000.00")
            seen = []
            while "outboundAccountPosition" not in seen:
                msg = await s.recv()
                seen.append(msg["e"])
                if msg["e"] == "executionReport":
                    assert msg["i"] == o["orderId"] and msg["X"] == "NEW"
            assert seen == ["executionReport", "outboundAccountPosition"]
    finally:
        await c.close_connection()

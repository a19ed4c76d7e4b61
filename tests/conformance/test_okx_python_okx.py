"""python-okx (OKX's own Python SDK) against the OKX simulator.

The SDK's REST classes take a `domain`, so they talk to the sim over plain HTTP unchanged (sync
httpx calls, run in a thread beside the sim's event loop). Its WebSocket classes cannot be pointed
at the sim: `WebSocketFactory.connect` always passes an SSL context, which `websockets` refuses
for a `ws://` URL. So the WebSocket check here sends the SDK's own login frame
(`WsUtils.initLoginParams`) over a plain `websockets` connection. A failure here is a simulator
bug: fix the simulator, never this test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

pytest.importorskip("okx")

from okx import Account, MarketData, PublicData, Trade  # noqa: E402
from okx.websocket import WsUtils  # noqa: E402

from spinstream.testing.sims import sim  # noqa: E402
from spinstream.testing.sims.okx import OkxSim  # noqa: E402

WAIT = 20.0
# python-okx posts its JSON body with httpx's deprecated `data=`: the SDK's warning, not ours
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=:DeprecationWarning")


@pytest.fixture
async def ex() -> AsyncIterator[OkxSim]:
    async with sim("okx", seed=5, tick_interval=0.02) as s:
        assert isinstance(s, OkxSim)
        yield s


def _api(cls: Any, ex: OkxSim, demo: bool = False) -> Any:
    c = ex.demo_credentials if demo else ex.credentials
    return cls(
        c["api_key"],
        c["api_secret"],
        c["passphrase"],
        flag="1" if demo else "0",
        domain=ex.urls["https://www.okx.com"],
    )


async def test_market_data(ex: OkxSim) -> None:
    pub = _api(PublicData.PublicAPI, ex)
    market = _api(MarketData.MarketAPI, ex)
    try:
        for t in ("SPOT", "SWAP", "FUTURES"):
            r = await asyncio.to_thread(pub.get_instruments, t)
            assert r["code"] == "0" and r["data"] and all(i["instType"] == t for i in r["data"])
        r = await asyncio.to_thread(pub.get_system_time)
        assert r["data"][0]["ts"].isdigit()
        r = await asyncio.to_thread(market.get_ticker, "BTC-USDT-SWAP")
        assert r["code"] == "0" and float(r["data"][0]["bidPx"]) < float(r["data"][0]["askPx"])
        r = await asyncio.to_thread(market.get_orderbook, "ETH-USDT", "20")
        book = r["data"][0]
        assert len(book["bids"]) == len(book["asks"]) == 20
    finally:
        pub.close()
        market.close()


async def test_account_and_trade(ex: OkxSim) -> None:
    acct = _api(Account.AccountAPI, ex)
    trade = _api(Trade.TradeAPI, ex)
    market = _api(MarketData.MarketAPI, ex)
    try:
        r = await asyncio.to_thread(acct.get_account_balance, "USDT")
        assert r["code"] == "0" and r["data"][0]["details"][0]["cashBal"] == "100000"
        bid = float((await asyncio.to_thread(market.get_ticker, "BTC-USDT"))["data"][0]["bidPx"])
        px = f"{bid * 0.9:.1f}"
        r = await asyncio.to_thread(
            trade.place_order, "BTC-USDT", "cash", "buy", "limit", "0.001", clOrdId="pyokx1", px=px
        )
        assert r["code"] == "0" and r["data"][0]["sCode"] == "0", r
        oid = r["data"][0]["ordId"]
        r = await asyncio.to_thread(trade.get_order_list, "SPOT")
        assert [o["ordId"] for o in r["data"]] == [oid]
        r = await asyncio.to_thread(trade.get_order, "BTC-USDT", oid)
        assert (r["data"][0]["state"], r["data"][0]["clOrdId"], r["data"][0]["px"]) == (
            "live",
            "pyokx1",
            px,
        )
        r = await asyncio.to_thread(trade.cancel_order, "BTC-USDT", oid)
        assert r["code"] == "0" and r["data"][0]["sCode"] == "0"
        r = await asyncio.to_thread(
            trade.place_order, "ETH-USDT-SWAP", "cross", "sell", "market", "5"
        )
        assert r["code"] == "0", r
        r = await asyncio.to_thread(acct.get_positions, "SWAP")
        assert [(p["instId"], p["pos"]) for p in r["data"]] == [("ETH-USDT-SWAP", "-5")]
        r = await asyncio.to_thread(
            trade.place_order, "NOPE-USDT", "cash", "buy", "limit", "1", px="1"
        )
        assert r["code"] == "1" and r["data"][0]["sCode"] == "51001"
    finally:
        for c in (acct, trade, market):
            c.close()
    demo = _api(Account.AccountAPI, ex, demo=True)
    try:
        r = await asyncio.to_thread(demo.get_account_balance, "USDT")
        assert r["data"][0]["details"][0]["cashBal"] == "50000"
    finally:
        demo.close()


async def test_sdk_login_frame(ex: OkxSim) -> None:
    for host, creds in (
        ("wss://ws.okx.com:8443", ex.credentials),
        ("wss://wspap.okx.com:8443", ex.demo_credentials),
    ):
        frame = WsUtils.initLoginParams(
            False, creds["api_key"], creds["passphrase"], creds["api_secret"]
        )
        async with websockets.connect(ex.urls[host] + "/ws/v5/private") as ws:
            await ws.send(frame)
            ack = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
            assert (ack["event"], ack["code"]) == ("login", "0")
            sub = {"op": "subscribe", "args": [{"channel": "account", "ccy": "USDT"}]}
            await ws.send(json.dumps(sub))
            assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["event"] == "subscribe"
            snap = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
            assert (
                snap["eventType"] == "snapshot" and snap["data"][0]["details"][0]["ccy"] == "USDT"
            )

"""The Bybit v5 simulator over real loopback sockets: REST, public and private streams, demo
host, faults.

Every client here is a real one (aiohttp, websockets) talking to `sim("bybit")` on
127.0.0.1; nothing is mocked. Stream tests that compare state drive the price process by
hand (`tick_interval=None`, `ex.tick()`), then send a ping: everything the ticks pushed is
queued before the pong, so reading up to the pong reads it all.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from itertools import pairwise
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import websockets

import recorded
from spinstream.testing.sims import sim
from spinstream.testing.sims.bybit import BybitSim

KEY = "SIMKEY0a9b8c7d6e5f"
SECRET = "sim-bybit-secret-5f2d0c1e77aa"
DKEY = "DEMOKEY11223344556"
DSECRET = "sim-bybit-demo-secret-9c8b7a6f"
LIVE = "https://api.bybit.com"
DEMO = "https://api-demo.bybit.com"


def _make(tick_interval: float | None) -> BybitSim:
    s = sim(
        "bybit",
        seed=11,
        tick_interval=tick_interval,
        api_key=KEY,
        api_secret=SECRET,
        demo_api_key=DKEY,
        demo_api_secret=DSECRET,
    )
    assert isinstance(s, BybitSim)
    return s


@pytest.fixture
async def ex() -> AsyncIterator[BybitSim]:
    async with _make(0.02) as s:
        assert isinstance(s, BybitSim)
        yield s


@pytest.fixture
async def manual() -> AsyncIterator[BybitSim]:
    """A sim whose price process only moves on `ex.tick()`."""
    async with _make(None) as s:
        assert isinstance(s, BybitSim)
        yield s


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


# -- helpers ------------------------------------------------------------------------------------


async def get(
    http: aiohttp.ClientSession, ex: BybitSim, path: str, **params: Any
) -> dict[str, Any]:
    url = ex.urls[LIVE] + path + ("?" + urlencode(params) if params else "")
    async with http.get(url) as r:
        assert r.status == 200
        body: dict[str, Any] = await r.json()
        return body


def sign_headers(
    payload: str, key: str, secret: str, ts: int | None = None, rw: str = "5000"
) -> dict[str, str]:
    t = str(ts if ts is not None else int(time.time() * 1000))
    sig = hmac.new(secret.encode(), (t + key + rw + payload).encode(), hashlib.sha256).hexdigest()
    return {
        "X-BAPI-API-KEY": key,
        "X-BAPI-TIMESTAMP": t,
        "X-BAPI-RECV-WINDOW": rw,
        "X-BAPI-SIGN": sig,
        "Content-Type": "application/json",
    }


async def private(
    http: aiohttp.ClientSession,
    ex: BybitSim,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    demo: bool = False,
    key: str | None = None,
    secret: str | None = None,
    ts: int | None = None,
    raw_query: str | None = None,
) -> tuple[int, dict[str, Any], Any]:
    key = key or (DKEY if demo else KEY)
    secret = secret or (DSECRET if demo else SECRET)
    base = ex.urls[DEMO if demo else LIVE]
    if method == "GET":
        q = raw_query if raw_query is not None else urlencode(params or {})
        async with http.get(base + path + "?" + q, headers=sign_headers(q, key, secret, ts)) as r:
            return r.status, await r.json(), r.headers
    body = json.dumps(params or {})
    async with http.post(base + path, data=body, headers=sign_headers(body, key, secret, ts)) as r:
        return r.status, await r.json(), r.headers


async def ok(
    http: aiohttp.ClientSession,
    ex: BybitSim,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    status, body, _ = await private(http, ex, method, path, params, **kw)
    assert status == 200 and body["retCode"] == 0, body
    result: dict[str, Any] = body["result"]
    return result


async def recv_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def until_pong(
    ws: aiohttp.ClientWebSocketResponse, req_id: str = "sync"
) -> list[dict[str, Any]]:
    """Send a ping and return every frame that arrives before its pong."""
    await ws.send_str(json.dumps({"req_id": req_id, "op": "ping"}))
    out = []
    while True:
        m = await recv_json(ws)
        if m.get("ret_msg") == "pong" or m.get("op") == "pong":
            return out
        out.append(m)


async def wait_frame(
    ws: aiohttp.ClientWebSocketResponse, pred: Any, timeout: float = 5.0
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        m = await recv_json(ws, max(0.01, end - loop.time()))
        if pred(m):
            return m


def auth_frame(
    key: str = KEY, secret: str = SECRET, expires: int | None = None, req_id: str | None = None
) -> str:
    exp = expires if expires is not None else int(time.time() * 1000) + 10_000
    sig = hmac.new(secret.encode(), f"GET/realtime{exp}".encode(), hashlib.sha256).hexdigest()
    msg: dict[str, Any] = {"op": "auth", "args": [key, exp, sig]}
    if req_id:
        msg["req_id"] = req_id
    return json.dumps(msg)


async def private_ws(
    http: aiohttp.ClientSession, ex: BybitSim, topics: list[str], *, demo: bool = False
) -> aiohttp.ClientWebSocketResponse:
    base = ex.urls["wss://stream-demo.bybit.com" if demo else "wss://stream.bybit.com"]
    ws = await http.ws_connect(base + "/v5/private")
    await ws.send_str(auth_frame(DKEY if demo else KEY, DSECRET if demo else SECRET, req_id="a1"))
    ack = await recv_json(ws)
    assert ack["success"] is True and ack["op"] == "auth" and ack["req_id"] == "a1", ack
    await ws.send_str(json.dumps({"op": "subscribe", "args": topics}))
    ack = await recv_json(ws)
    assert ack["success"] is True and ack["op"] == "subscribe", ack
    return ws


def D(s: str) -> Decimal:
    return Decimal(s)


# -- public REST --------------------------------------------------------------------------------


async def test_public_rest_market_data(ex: BybitSim, http: aiohttp.ClientSession) -> None:
    t = await get(http, ex, "/v5/market/time")
    assert list(t) == ["retCode", "retMsg", "result", "retExtInfo", "time"]
    assert t["retCode"] == 0 and t["retMsg"] == "OK" and t["retExtInfo"] == {}
    assert abs(int(t["result"]["timeSecond"]) - time.time()) < 10
    assert t["result"]["timeNano"].startswith(t["result"]["timeSecond"])

    lin = {
        i["symbol"]: i
        for i in (await get(http, ex, "/v5/market/instruments-info", category="linear"))["result"][
            "list"
        ]
    }
    assert set(lin) == {"BTCUSDT", "ETHUSDT"}
    assert lin["BTCUSDT"]["priceFilter"]["tickSize"] == "0.10"
    assert lin["BTCUSDT"]["lotSizeFilter"]["qtyStep"] == "0.001"
    assert (
        lin["ETHUSDT"]["contractType"] == "LinearPerpetual"
        and lin["ETHUSDT"]["settleCoin"] == "USDT"
    )
    spot = {
        i["symbol"]: i
        for i in (await get(http, ex, "/v5/market/instruments-info", category="spot"))["result"][
            "list"
        ]
    }
    assert spot["BTCUSDT"]["priceFilter"]["tickSize"] == "0.1"
    assert spot["BTCUSDT"]["lotSizeFilter"]["basePrecision"] == "0.000001"
    assert (await get(http, ex, "/v5/market/instruments-info", category="option"))["result"][
        "list"
    ] == []

    tl = (await get(http, ex, "/v5/market/tickers", category="linear", symbol="BTCUSDT"))["result"]
    assert tl["category"] == "linear"
    row = tl["list"][0]
    assert D(row["bid1Price"]) < D(row["ask1Price"]) and row["fundingRate"] and row["markPrice"]
    assert re.fullmatch(r"\d+\.\d\d", row["lastPrice"])  # priceScale 2
    ts = (await get(http, ex, "/v5/market/tickers", category="spot", symbol="ETHUSDT"))["result"][
        "list"
    ][0]
    assert "usdIndexPrice" in ts and "markPrice" not in ts
    both = (await get(http, ex, "/v5/market/tickers", category="spot"))["result"]["list"]
    assert {r["symbol"] for r in both} == {"BTCUSDT", "ETHUSDT"}

    ob = (
        await get(http, ex, "/v5/market/orderbook", category="linear", symbol="BTCUSDT", limit=5)
    )["result"]
    assert list(ob) == ["s", "a", "b", "ts", "u", "seq", "cts"]
    bids, asks = [D(p) for p, _ in ob["b"]], [D(p) for p, _ in ob["a"]]
    assert len(bids) == len(asks) == 5
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    assert all(re.fullmatch(r"\d+\.\d{3}", q) for _, q in ob["b"] + ob["a"])
    sob = (await get(http, ex, "/v5/market/orderbook", category="spot", symbol="BTCUSDT"))["result"]
    assert len(sob["b"]) == len(sob["a"]) == 1  # spot default limit is 1

    key = ("linear", "BTCUSDT")
    await ex.wait_for(lambda: len(ex.engine.trades[key]) >= 2)
    tr = (
        await get(http, ex, "/v5/market/recent-trade", category="linear", symbol="BTCUSDT", limit=2)
    )["result"]["list"]
    assert len(tr) == 2 and int(tr[0]["time"]) >= int(tr[1]["time"])
    assert set(tr[0]) >= {
        "execId",
        "symbol",
        "price",
        "size",
        "side",
        "time",
        "isBlockTrade",
        "isRPITrade",
    }
    assert tr[0]["side"] in ("Buy", "Sell")

    kl = (
        await get(
            http, ex, "/v5/market/kline", category="spot", symbol="BTCUSDT", interval="1", limit=5
        )
    )["result"]
    assert kl["symbol"] == "BTCUSDT" and len(kl["list"]) == 5
    starts = [int(r[0]) for r in kl["list"]]
    assert starts == sorted(starts, reverse=True) and starts[0] - starts[1] == 60_000
    for r in kl["list"]:
        o, h, lo, c = map(D, r[1:5])
        assert len(r) == 7 and lo <= min(o, c) <= max(o, c) <= h
    hour = (
        await get(
            http,
            ex,
            "/v5/market/kline",
            category="linear",
            symbol="ETHUSDT",
            interval="60",
            limit=3,
        )
    )["result"]["list"]
    assert int(hour[0][0]) - int(hour[1][0]) == 3_600_000

    bad = await get(http, ex, "/v5/market/tickers", category="nope")
    assert bad["retCode"] == 10001 and bad["result"] == {}
    bad = await get(http, ex, "/v5/market/tickers", category="linear", symbol="NOPEUSDT")
    assert bad["retCode"] == 10001 and bad["retMsg"] == "Not supported symbols"


# -- signatures ---------------------------------------------------------------------------------


async def test_signatures_accepted_and_rejected(ex: BybitSim, http: aiohttp.ClientSession) -> None:
    status, body, headers = await private(
        http, ex, "GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"}
    )
    assert status == 200 and body["retCode"] == 0
    assert {"X-Bapi-Limit-Status", "X-Bapi-Limit", "X-Bapi-Limit-Reset-Timestamp"} <= set(headers)
    # the raw query string is what is signed (a comma, as ccxt sends it, unescaped)
    res = await ok(
        http, ex, "GET", "/v5/account/wallet-balance", raw_query="accountType=UNIFIED&coin=USDT,BTC"
    )
    assert {c["coin"] for c in res["list"][0]["coin"]} == {"USDT", "BTC"}

    _, body, _ = await private(http, ex, "GET", "/v5/account/info", {}, secret="wrong-secret")
    assert body["retCode"] == 10004
    _, body, _ = await private(
        http, ex, "GET", "/v5/account/info", {}, key="UNKNOWNKEY", secret=SECRET
    )
    assert (body["retCode"], body["retMsg"]) == (10003, "API key is invalid.")
    now = int(time.time() * 1000)
    _, body, _ = await private(http, ex, "GET", "/v5/account/info", {}, ts=now - 60_000)
    assert body["retCode"] == 10002
    _, body, _ = await private(http, ex, "GET", "/v5/account/info", {}, ts=now + 5_000)
    assert body["retCode"] == 10002

    # a POST whose body is not the signed one
    signed = json.dumps({"category": "linear", "symbol": "BTCUSDT"})
    sent = json.dumps({"category": "linear", "symbol": "ETHUSDT"})
    async with http.post(
        ex.urls[LIVE] + "/v5/order/cancel-all", data=sent, headers=sign_headers(signed, KEY, SECRET)
    ) as r:
        assert (await r.json())["retCode"] == 10004
    assert (
        await ok(
            http, ex, "POST", "/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"}
        )
    )["success"] == "1"

    # keys belong to their host
    _, body, _ = await private(http, ex, "GET", "/v5/account/info", {}, key=DKEY, secret=DSECRET)
    assert body["retCode"] == 10003
    _, body, _ = await private(
        http, ex, "GET", "/v5/account/info", {}, demo=True, key=KEY, secret=SECRET
    )
    assert body["retCode"] == 10003
    assert (await ok(http, ex, "GET", "/v5/account/info", {}, demo=True))[
        "unifiedMarginStatus"
    ] == 6
    assert ex.stats.auth_failures >= 5


async def test_secrets_stay_out_of_logs_and_reprs(
    ex: BybitSim, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await private(http, ex, "GET", "/v5/account/info", {}, secret="wrong")
    await ok(http, ex, "GET", "/v5/account/info", {})
    ws = await private_ws(http, ex, ["order"])
    await ws.close()
    text = caplog.text + repr(ex) + repr(ex.faults) + str(ex.stats)
    for s in (SECRET, DSECRET, KEY, DKEY):
        assert s not in text


# -- orders, accounts and private pushes --------------------------------------------------------


def _topic_frames(frames: list[dict[str, Any]], root: str) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("topic", "").split(".")[0] == root]


async def test_order_lifecycle_moves_accounts_and_pushes(
    ex: BybitSim, http: aiohttp.ClientSession
) -> None:
    ws = await private_ws(http, ex, ["order", "execution", "position", "wallet"])
    assert await until_pong(ws) == []  # no snapshot on subscribe, as the real one

    # a resting limit order, then its cancel
    ob = (await get(http, ex, "/v5/market/orderbook", category="linear", symbol="ETHUSDT"))[
        "result"
    ]
    far = str(D(ob["b"][0][0]) - D("50"))
    res = await ok(
        http,
        ex,
        "POST",
        "/v5/order/create",
        {
            "category": "linear",
            "symbol": "ETHUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": "0.10",
            "price": far,
            "orderLinkId": "life-1",
        },
    )
    oid = res["orderId"]
    assert res["orderLinkId"] == "life-1" and re.fullmatch(r"[0-9a-f-]{36}", oid)
    new = await wait_frame(ws, lambda m: m.get("topic") == "order")
    o = new["data"][0]
    assert (o["orderId"], o["orderStatus"], o["category"], o["leavesQty"], o["price"]) == (
        oid,
        "New",
        "linear",
        "0.10",
        f"{D(far):.2f}",
    )
    assert set(new) == {"id", "topic", "creationTime", "data"}
    opened = (
        await ok(http, ex, "GET", "/v5/order/realtime", {"category": "linear", "symbol": "ETHUSDT"})
    )["list"]
    assert [(x["orderId"], x["orderStatus"], x["orderLinkId"]) for x in opened] == [
        (oid, "New", "life-1")
    ]
    wallet = (
        await ok(
            http,
            ex,
            "GET",
            "/v5/account/wallet-balance",
            {"accountType": "UNIFIED", "coin": "USDT"},
        )
    )["list"][0]
    assert D(wallet["coin"][0]["totalOrderIM"]) > 0
    await ok(
        http,
        ex,
        "POST",
        "/v5/order/cancel",
        {"category": "linear", "symbol": "ETHUSDT", "orderLinkId": "life-1"},
    )
    gone = await wait_frame(
        ws, lambda m: m.get("topic") == "order" and m["data"][0]["orderStatus"] == "Cancelled"
    )
    assert gone["data"][0]["cancelType"] == "CancelByUser"
    assert (
        await ok(
            http, ex, "GET", "/v5/order/realtime", {"category": "linear", "settleCoin": "USDT"}
        )
    )["list"] == []
    _, body, _ = await private(
        http,
        ex,
        "POST",
        "/v5/order/cancel",
        {"category": "linear", "symbol": "ETHUSDT", "orderId": oid},
    )
    assert body["retCode"] == 110001

    # a market buy fills at once: order, execution, position and wallet pushes
    usdt0 = D(
        (
            await ok(
                http,
                ex,
                "GET",
                "/v5/account/wallet-balance",
                {"accountType": "UNIFIED", "coin": "USDT"},
            )
        )["list"][0]["coin"][0]["walletBalance"]
    )
    await until_pong(ws)
    res = await ok(
        http,
        ex,
        "POST",
        "/v5/order/create",
        {
            "category": "linear",
            "symbol": "ETHUSDT",
            "side": "Buy",
            "orderType": "Market",
            "qty": "0.10",
        },
    )
    frames = await until_pong(ws)
    orders = [f["data"][0] for f in _topic_frames(frames, "order")]
    assert orders[-1]["orderId"] == res["orderId"] and orders[-1]["orderStatus"] == "Filled"
    assert orders[-1]["cumExecQty"] == "0.10" and orders[-1]["timeInForce"] == "IOC"
    execs = [e for f in _topic_frames(frames, "execution") for e in f["data"]]
    assert sum(D(e["execQty"]) for e in execs) == D("0.10")
    assert all(
        e["isMaker"] is False and e["feeRate"] == "0.00055" and e["category"] == "linear"
        for e in execs
    )
    fees = sum(D(e["execFee"]) for e in execs)
    pos_push = _topic_frames(frames, "position")[-1]["data"][0]
    assert (pos_push["symbol"], pos_push["side"], pos_push["size"]) == ("ETHUSDT", "Buy", "0.10")
    assert _topic_frames(frames, "wallet"), "a fill pushes the wallet"
    pos = (
        await ok(http, ex, "GET", "/v5/position/list", {"category": "linear", "symbol": "ETHUSDT"})
    )["list"][0]
    assert (pos["side"], pos["size"]) == ("Buy", "0.10") and D(pos["avgPrice"]) > 0
    usdt1 = D(
        (
            await ok(
                http,
                ex,
                "GET",
                "/v5/account/wallet-balance",
                {"accountType": "UNIFIED", "coin": "USDT"},
            )
        )["list"][0]["coin"][0]["walletBalance"]
    )
    assert usdt0 - usdt1 == fees
    mine = (
        await ok(http, ex, "GET", "/v5/execution/list", {"category": "linear", "symbol": "ETHUSDT"})
    )["list"]
    assert {m["execId"] for m in mine} == {e["execId"] for e in execs}

    # closing realises PnL and reports the closed size
    await ok(
        http,
        ex,
        "POST",
        "/v5/order/create",
        {
            "category": "linear",
            "symbol": "ETHUSDT",
            "side": "Sell",
            "orderType": "Market",
            "qty": "0.1",
            "reduceOnly": True,
        },
    )
    frames = await until_pong(ws)
    closing = [e for f in _topic_frames(frames, "execution") for e in f["data"]]
    assert sum(D(e["closedSize"]) for e in closing) == D("0.10")
    rest_fills = (
        await ok(http, ex, "GET", "/v5/execution/list", {"category": "linear", "symbol": "ETHUSDT"})
    )["list"]
    closed_rest = {f["execId"]: f["closedSize"] for f in rest_fills}
    assert all(closed_rest[e["execId"]] == e["closedSize"] for e in closing + execs)
    assert all(e["closedSize"] == "0.00" for e in execs)  # the opening fills closed nothing
    assert _topic_frames(frames, "position")[-1]["data"][0]["size"] == "0.00"
    flat = (
        await ok(http, ex, "GET", "/v5/position/list", {"category": "linear", "settleCoin": "USDT"})
    )["list"]
    assert flat == []

    # spot: a market buy sized in quote coin moves BTC and USDT of the same UTA wallet
    before = {
        c["coin"]: D(c["walletBalance"])
        for c in (
            await ok(http, ex, "GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
        )["list"][0]["coin"]
    }
    res = await ok(
        http,
        ex,
        "POST",
        "/v5/order/create",
        {
            "category": "spot",
            "symbol": "BTCUSDT",
            "side": "Buy",
            "orderType": "Market",
            "qty": "100",
        },
    )
    assert res["orderId"].isdigit() and len(res["orderId"]) == 19
    frames = await until_pong(ws)
    spot_order = _topic_frames(frames, "order")[-1]["data"][0]
    assert (spot_order["category"], spot_order["orderStatus"], spot_order["marketUnit"]) == (
        "spot",
        "Filled",
        "quoteCoin",
    )
    spot_execs = [e for f in _topic_frames(frames, "execution") for e in f["data"]]
    assert all(e["feeCurrency"] == "BTC" for e in spot_execs)
    after = {
        c["coin"]: D(c["walletBalance"])
        for c in (
            await ok(http, ex, "GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
        )["list"][0]["coin"]
    }
    spent = sum(D(e["execValue"]) for e in spot_execs)
    assert before["USDT"] - after["USDT"] == spent and D("99") <= spent <= D("100")
    assert after["BTC"] - before["BTC"] == sum(
        D(e["execQty"]) - D(e["execFee"]) for e in spot_execs
    )
    await ws.close()


async def test_order_rejections_use_bybit_codes(ex: BybitSim, http: aiohttp.ClientSession) -> None:
    async def code(params: dict[str, Any]) -> int:
        _, body, _ = await private(http, ex, "POST", "/v5/order/create", params)
        return int(body["retCode"])

    base = {
        "category": "linear",
        "symbol": "BTCUSDT",
        "side": "Buy",
        "orderType": "Limit",
        "price": "60000.0",
    }
    assert await code({**base, "qty": "1000000"}) == 10001  # above maxOrderQty
    assert await code({**base, "qty": "0.0001"}) == 10001  # below the qty step
    assert await code({**base, "qty": "0.001", "price": "1000.00"}) == 110094  # under 5 USDT
    assert await code({**base, "qty": "100"}) == 110007  # 6M USDT of margin
    assert await code({**base, "category": "spot", "qty": "0.0000001"}) == 170137
    assert await code({**base, "category": "spot", "qty": "100"}) == 170131
    assert await code({**base, "symbol": "NOPEUSDT", "qty": "1"}) == 10001
    assert await code({**base, "category": "inverse", "qty": "1"}) == 10001
    first = await ok(
        http, ex, "POST", "/v5/order/create", {**base, "qty": "0.001", "orderLinkId": "dup-1"}
    )
    assert await code({**base, "qty": "0.001", "orderLinkId": "dup-1"}) == 110072
    await ok(
        http,
        ex,
        "POST",
        "/v5/order/cancel",
        {"category": "linear", "symbol": "BTCUSDT", "orderId": first["orderId"]},
    )
    # PostOnly that would take (priced well through the ask, whatever the price process
    # does meanwhile): accepted, then cancelled at once, as Bybit does
    ob = (await get(http, ex, "/v5/market/orderbook", category="linear", symbol="BTCUSDT"))[
        "result"
    ]
    res = await ok(
        http,
        ex,
        "POST",
        "/v5/order/create",
        {**base, "qty": "0.001", "price": str(D(ob["a"][0][0]) + 500), "timeInForce": "PostOnly"},
    )
    got = (
        await ok(
            http, ex, "GET", "/v5/order/realtime", {"category": "linear", "orderId": res["orderId"]}
        )
    )["list"][0]
    assert (got["orderStatus"], got["rejectReason"]) == (
        "Cancelled",
        "EC_PostOnlyWillTakeLiquidity",
    )


async def test_amend_and_leverage(ex: BybitSim, http: aiohttp.ClientSession) -> None:
    ob = (await get(http, ex, "/v5/market/orderbook", category="linear", symbol="BTCUSDT"))[
        "result"
    ]
    low = D(ob["b"][0][0]) - D("500")
    res = await ok(
        http,
        ex,
        "POST",
        "/v5/order/create",
        {
            "category": "linear",
            "symbol": "BTCUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": "0.002",
            "price": str(low),
        },
    )
    await ok(
        http,
        ex,
        "POST",
        "/v5/order/amend",
        {
            "category": "linear",
            "symbol": "BTCUSDT",
            "orderId": res["orderId"],
            "price": str(low - 10),
            "qty": "0.003",
        },
    )
    o = (
        await ok(http, ex, "GET", "/v5/order/realtime", {"category": "linear", "symbol": "BTCUSDT"})
    )["list"][0]
    assert (D(o["price"]), o["qty"], o["orderId"]) == (low - 10, "0.003", res["orderId"])
    await ok(
        http,
        ex,
        "POST",
        "/v5/position/set-leverage",
        {"category": "linear", "symbol": "BTCUSDT", "buyLeverage": "5", "sellLeverage": "5"},
    )
    pos = (
        await ok(http, ex, "GET", "/v5/position/list", {"category": "linear", "symbol": "BTCUSDT"})
    )["list"][0]
    assert pos["leverage"] == "5"
    _, body, _ = await private(
        http,
        ex,
        "POST",
        "/v5/position/set-leverage",
        {"category": "linear", "symbol": "BTCUSDT", "buyLeverage": "5", "sellLeverage": "5"},
    )
    assert body["retCode"] == 110043
    cancelled = await ok(
        http, ex, "POST", "/v5/order/cancel-all", {"category": "linear", "settleCoin": "USDT"}
    )
    assert [c["orderId"] for c in cancelled["list"]] == [res["orderId"]]


async def test_resting_order_fills_as_maker(manual: BybitSim, http: aiohttp.ClientSession) -> None:
    ex = manual
    ob = (await get(http, ex, "/v5/market/orderbook", category="linear", symbol="BTCUSDT"))[
        "result"
    ]
    res = await ok(
        http,
        ex,
        "POST",
        "/v5/order/create",
        {
            "category": "linear",
            "symbol": "BTCUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": "0.010",
            "price": ob["b"][0][0],
        },
    )
    for _ in range(5000):  # the price process (by hand) eventually trades through the bid
        ex.tick()
        if not ex.engine.open_orders("live.linear"):
            break
    else:
        pytest.fail("the resting order never filled")
    got = await ok(
        http, ex, "GET", "/v5/order/realtime", {"category": "linear", "orderId": res["orderId"]}
    )
    assert got["list"][0]["orderStatus"] == "Filled"
    fills = (
        await ok(
            http, ex, "GET", "/v5/execution/list", {"category": "linear", "orderId": res["orderId"]}
        )
    )["list"]
    assert fills and all(f["isMaker"] is True and f["feeRate"] == "0.0002" for f in fills)
    assert sum(D(f["execQty"]) for f in fills) == D("0.010")


# -- private stream rules -----------------------------------------------------------------------


async def test_private_ws_auth_and_subscribe_rules(
    ex: BybitSim, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(ex.urls["wss://stream.bybit.com"] + "/v5/private") as ws:
        await ws.send_str(json.dumps({"req_id": "s0", "op": "subscribe", "args": ["order"]}))
        m = await recv_json(ws)
        assert (m["success"], m["ret_msg"], m["op"], m["req_id"]) == (
            False,
            "Request not authorized",
            "subscribe",
            "s0",
        )
        await ws.send_str(auth_frame(secret="wrong"))
        m = await recv_json(ws)
        assert (m["success"], m["op"]) == (False, "auth")
        await ws.send_str(auth_frame(expires=int(time.time() * 1000) - 1000))
        assert (await recv_json(ws))["success"] is False
        await ws.send_str(auth_frame(key=DKEY, secret=DSECRET))  # a demo key on mainnet
        assert (await recv_json(ws))["success"] is False
        await ws.send_str(auth_frame())
        m = await recv_json(ws)
        assert (
            list(m) == ["success", "ret_msg", "op", "conn_id"]
            and m["success"] is True
            and m["ret_msg"] == ""
        )
        await ws.send_str(json.dumps({"op": "subscribe", "args": ["order", "order.linear"]}))
        assert (await recv_json(ws))["success"] is False
        await ws.send_str(json.dumps({"op": "subscribe", "args": ["nope"]}))
        assert (await recv_json(ws))["success"] is False
        await ws.send_str(
            json.dumps({"op": "subscribe", "args": ["order.spot", "execution.spot", "wallet"]})
        )
        assert (await recv_json(ws))["success"] is True
        await ws.send_str(json.dumps({"req_id": "p1", "op": "ping"}))
        pong = await recv_json(ws)
        assert list(pong) == ["req_id", "op", "args", "conn_id"]
        assert (pong["req_id"], pong["op"]) == ("p1", "pong") and pong["args"][0].isdigit()
        # categorised topics: a linear order is not pushed on order.spot
        await ok(
            http,
            ex,
            "POST",
            "/v5/order/create",
            {
                "category": "linear",
                "symbol": "ETHUSDT",
                "side": "Buy",
                "orderType": "Market",
                "qty": "0.01",
            },
        )
        frames = await until_pong(ws)
        assert not [f for f in frames if f.get("topic", "").startswith(("order", "execution"))]
        await ok(
            http,
            ex,
            "POST",
            "/v5/order/create",
            {
                "category": "spot",
                "symbol": "ETHUSDT",
                "side": "Sell",
                "orderType": "Market",
                "qty": "0.01",
            },
        )
        frames = await until_pong(ws)
        assert {f["topic"] for f in frames} >= {"order.spot", "execution.spot", "wallet"}


# -- public streams -----------------------------------------------------------------------------


def _apply(book: dict[str, dict[str, str]], data: dict[str, Any]) -> None:
    for side in ("b", "a"):
        for price, size in data[side]:
            if size == "0":
                assert price in book[side], "a delete of a level the client does not have"
                del book[side][price]
            else:
                book[side][price] = size


@pytest.mark.parametrize("category", ["linear", "spot"])
async def test_orderbook_stream_sequence_and_merge(
    manual: BybitSim, http: aiohttp.ClientSession, category: str
) -> None:
    ex = manual
    async with http.ws_connect(ex.make_url(f"/v5/public/{category}", ws=True)) as ws:
        await ws.send_str(
            json.dumps({"op": "subscribe", "args": ["orderbook.50.BTCUSDT", "orderbook.1.BTCUSDT"]})
        )
        ack = await recv_json(ws)
        assert ack["success"] is True
        snap = await wait_frame(ws, lambda m: m.get("topic") == "orderbook.50.BTCUSDT")
        assert snap["type"] == "snapshot" and len(snap["data"]["b"]) == len(snap["data"]["a"]) == 50
        book = {"b": dict(snap["data"]["b"]), "a": dict(snap["data"]["a"])}
        u, seq = snap["data"]["u"], snap["data"]["seq"]
        for _ in range(40):
            ex.tick()
        frames = await until_pong(ws)
        deltas = [f for f in frames if f.get("topic") == "orderbook.50.BTCUSDT"]
        tops = [f for f in frames if f.get("topic") == "orderbook.1.BTCUSDT"]
        assert len(deltas) >= 30
        for f in deltas:
            assert f["type"] == "delta" and f["data"]["u"] == u + 1 and f["data"]["seq"] >= seq
            u, seq = f["data"]["u"], f["data"]["seq"]
            _apply(book, f["data"])
            assert len(book["b"]) == len(book["a"]) == 50
        assert tops and all(t["type"] == "snapshot" and len(t["data"]["b"]) == 1 for t in tops)
        assert all(b["data"]["u"] > a["data"]["u"] for a, b in pairwise(tops))
        rest = (
            await get(
                http, ex, "/v5/market/orderbook", category=category, symbol="BTCUSDT", limit=50
            )
        )["result"]
        bids = sorted(book["b"].items(), key=lambda kv: D(kv[0]), reverse=True)
        asks = sorted(book["a"].items(), key=lambda kv: D(kv[0]))
        assert [list(x) for x in bids] == rest["b"] and [list(x) for x in asks] == rest["a"]
        assert D(bids[0][0]) < D(asks[0][0])
        assert tops[-1]["data"]["b"][0] == rest["b"][0] and tops[-1]["data"]["a"][0] == rest["a"][0]


async def test_ticker_streams_linear_deltas_merge_spot_snapshots(
    manual: BybitSim, http: aiohttp.ClientSession
) -> None:
    ex = manual
    async with (
        http.ws_connect(ex.make_url("/v5/public/linear", ws=True)) as lin,
        http.ws_connect(ex.make_url("/v5/public/spot", ws=True)) as spot,
    ):
        await lin.send_str(json.dumps({"op": "subscribe", "args": ["tickers.BTCUSDT"]}))
        await spot.send_str(json.dumps({"op": "subscribe", "args": ["tickers.BTCUSDT"]}))
        await recv_json(lin)
        await recv_json(spot)
        snap = await recv_json(lin)
        assert snap["type"] == "snapshot" and list(snap) == ["topic", "type", "data", "cs", "ts"]
        merged = dict(snap["data"])
        for _ in range(30):
            ex.tick()
        frames = [f for f in await until_pong(lin) if f.get("topic") == "tickers.BTCUSDT"]
        assert frames and all(f["type"] == "delta" for f in frames)
        cs = snap["cs"]
        for f in frames:
            assert next(iter(f["data"])) == "symbol" and set(f["data"]) < set(merged)
            assert f["cs"] >= cs
            cs = f["cs"]
            merged.update(f["data"])
        rest = (await get(http, ex, "/v5/market/tickers", category="linear", symbol="BTCUSDT"))[
            "result"
        ]["list"][0]
        for k in (
            "lastPrice",
            "markPrice",
            "indexPrice",
            "bid1Price",
            "bid1Size",
            "ask1Price",
            "ask1Size",
            "highPrice24h",
            "lowPrice24h",
            "volume24h",
            "turnover24h",
            "openInterest",
            "price24hPcnt",
        ):
            assert merged[k] == rest[k], k
        sframes = [f for f in await until_pong(spot) if f.get("topic") == "tickers.BTCUSDT"]
        assert len(sframes) >= 2 and all(f["type"] == "snapshot" for f in sframes)
        assert list(sframes[-1]) == ["topic", "ts", "type", "cs", "data"]
        srest = (await get(http, ex, "/v5/market/tickers", category="spot", symbol="BTCUSDT"))[
            "result"
        ]["list"][0]
        assert {k: sframes[-1]["data"][k] for k in ("lastPrice", "highPrice24h", "volume24h")} == {
            k: srest[k] for k in ("lastPrice", "highPrice24h", "volume24h")
        }


def _shape(frame: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    data = frame.get("data")
    inner: tuple[str, ...] = ()
    if isinstance(data, list) and data:
        inner = tuple(data[0])
    elif isinstance(data, dict):
        inner = tuple(data)
    return tuple(frame), inner


async def test_frames_have_the_recorded_shapes(
    manual: BybitSim, http: aiohttp.ClientSession
) -> None:
    """Key order of every frame kind matches Bybit's own frames in BYBIT.jsonl."""
    want: dict[tuple[str, str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {}
    acks: dict[str, dict[str, Any]] = {}
    for conn, _, text in recorded.recv("BYBIT.jsonl"):
        cat = {"BYBIT.ws.2": "linear", "BYBIT.ws.3": "spot"}[conn]
        m = json.loads(text)
        if m.get("op") == "subscribe":
            acks.setdefault(cat, m)
            continue
        kind = m["topic"].split(".")[0]
        if kind in ("orderbook", "tickers", "publicTrade", "kline") and not (
            kind == "tickers" and m["type"] == "delta"
        ):
            want.setdefault((cat, kind, m["type"]), _shape(m))
    ex = manual
    got: dict[tuple[str, str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for cat in ("linear", "spot"):
        async with http.ws_connect(ex.make_url(f"/v5/public/{cat}", ws=True)) as ws:
            await ws.send_str(
                json.dumps(
                    {
                        "op": "subscribe",
                        "args": [
                            "tickers.ETHUSDT",
                            "orderbook.200.ETHUSDT",
                            "publicTrade.ETHUSDT",
                            "kline.1.ETHUSDT",
                        ],
                    }
                )
            )
            ack = await recv_json(ws)
            rec = acks[cat]
            assert list(ack) == list(rec) and ack["ret_msg"] == rec["ret_msg"], (ack, rec)
            for _ in range(60):
                ex.tick()
            for f in await until_pong(ws):
                got.setdefault((cat, f["topic"].split(".")[0], f["type"]), _shape(f))
    assert set(want) <= set(got), set(want) - set(got)
    for k, shape in want.items():
        assert got[k] == shape, k


async def test_ping_pong_formats(ex: BybitSim) -> None:
    async with websockets.connect(ex.make_url("/v5/public/spot", ws=True)) as spot:
        await spot.send('{"op":"ping"}')
        m = json.loads(await asyncio.wait_for(spot.recv(), 5))
        assert list(m) == ["success", "ret_msg", "conn_id", "op"] and (m["ret_msg"], m["op"]) == (
            "pong",
            "ping",
        )
        await spot.send('{"req_id":"r7","op":"ping"}')
        m = json.loads(await asyncio.wait_for(spot.recv(), 5))
        assert m["req_id"] == "r7"
    async with websockets.connect(ex.make_url("/v5/public/linear", ws=True)) as lin:
        await lin.send('{"op":"ping"}')
        m = json.loads(await asyncio.wait_for(lin.recv(), 5))
        assert list(m) == ["success", "ret_msg", "conn_id", "req_id", "op"] and m["req_id"] == ""
        await lin.send('{"op":"subscribe","args":["tickers.NOPE"]}')
        m = json.loads(await asyncio.wait_for(lin.recv(), 5))
        assert m["success"] is False and m["op"] == "subscribe"


# -- faults -------------------------------------------------------------------------------------


async def test_fault_gap_skips_one_u(manual: BybitSim, http: aiohttp.ClientSession) -> None:
    ex = manual
    async with http.ws_connect(ex.make_url("/v5/public/linear", ws=True)) as ws:
        await ws.send_str(json.dumps({"op": "subscribe", "args": ["orderbook.50.ETHUSDT"]}))
        await recv_json(ws)
        u = (await recv_json(ws))["data"]["u"]
        ex.faults.gap()
        for _ in range(10):
            ex.tick()
        us = [
            f["data"]["u"] for f in await until_pong(ws) if f.get("topic") == "orderbook.50.ETHUSDT"
        ]
        assert len(us) >= 3
        assert us[0] == u + 2 and all(b == a + 1 for a, b in pairwise(us))


async def test_fault_drop_stall_malformed(ex: BybitSim, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(ex.make_url("/v5/public/linear", ws=True)) as ws:
        await ws.send_str(json.dumps({"op": "subscribe", "args": ["tickers.BTCUSDT"]}))
        await recv_json(ws)
        assert ex.faults.malformed("public") == 1
        seen_bad = False
        for _ in range(200):
            msg = await asyncio.wait_for(ws.receive(), 5)
            try:
                json.loads(msg.data)
            except ValueError:
                seen_bad = True
                break
        assert seen_bad
        assert await until_pong(ws) is not None  # the connection survived
        assert ex.faults.drop("public") == 1
        while True:
            msg = await asyncio.wait_for(ws.receive(), 5)
            if msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            ):
                break
    async with http.ws_connect(ex.make_url("/v5/public/linear", ws=True)) as ws:
        await ws.send_str('{"op":"ping"}')
        assert (await recv_json(ws))["ret_msg"] == "pong"
        assert ex.faults.stall(30, "public") == 1
        await ws.send_str('{"op":"ping"}')
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.receive(), 0.3)


async def test_fault_rate_limit_and_real_limits(ex: BybitSim, http: aiohttp.ClientSession) -> None:
    ex.faults.rate_limit(2)
    async with http.get(ex.urls[LIVE] + "/v5/market/time") as r:
        assert r.status == 403
    status, body, headers = await private(http, ex, "GET", "/v5/account/info", {})
    assert status == 200 and (body["retCode"], body["retMsg"]) == (10006, "Too many visits!")
    assert (
        headers["X-Bapi-Limit-Status"] == "0"
        and int(headers["X-Bapi-Limit-Reset-Timestamp"]) >= int(time.time() * 1000) - 5
    )
    await ok(http, ex, "GET", "/v5/account/info", {})
    # /v5/order/cancel-all (linear) allows 10 per second per UID
    codes, statuses = [], []
    for _ in range(11):
        _, body, headers = await private(
            http, ex, "POST", "/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"}
        )
        codes.append(body["retCode"])
        statuses.append(headers["X-Bapi-Limit-Status"])
    assert codes[:10] == [0] * 10 and codes[10] == 10006
    assert statuses[0] == "9" and statuses[9] == "0" and headers["X-Bapi-Limit"] == "10"
    assert ex.stats.rate_limited >= 3


async def test_fault_reject_auth_and_no_checksums(
    ex: BybitSim, http: aiohttp.ClientSession
) -> None:
    ex.faults.reject_auth(2)
    _, body, _ = await private(http, ex, "GET", "/v5/account/info", {})
    assert body["retCode"] == 10004
    async with http.ws_connect(ex.urls["wss://stream.bybit.com"] + "/v5/private") as ws:
        await ws.send_str(auth_frame())
        assert (await recv_json(ws))["success"] is False
        await ws.send_str(auth_frame())
        assert (await recv_json(ws))["success"] is True
    with pytest.raises(NotImplementedError):
        ex.faults.bad_checksum()


# -- demo host ----------------------------------------------------------------------------------


async def test_demo_host_is_separate(ex: BybitSim, http: aiohttp.ClientSession) -> None:
    assert ex.urls[DEMO] == ex.urls[LIVE] + "/demo"
    assert ex.urls["wss://stream-demo.bybit.com"] == ex.urls["wss://stream.bybit.com"] + "/demo"
    assert ex.urls["https://api-testnet.bybit.com"] == ex.urls[LIVE]
    assert ex.demo_credentials["api_key"] == DKEY
    # public streams are not served on the demo WS host
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await http.ws_connect(ex.urls["wss://stream-demo.bybit.com"] + "/v5/public/linear")
    assert info.value.status == 404
    # demo REST serves market data too
    async with http.get(ex.urls[DEMO] + "/v5/market/tickers?category=linear&symbol=BTCUSDT") as r:
        assert (await r.json())["retCode"] == 0

    def usdt(res: dict[str, Any]) -> Decimal:
        return D(res["list"][0]["coin"][0]["walletBalance"])

    q = {"accountType": "UNIFIED", "coin": "USDT"}
    assert usdt(await ok(http, ex, "GET", "/v5/account/wallet-balance", q, demo=True)) == 50_000
    assert usdt(await ok(http, ex, "GET", "/v5/account/wallet-balance", q)) == 100_000
    live_ws = await private_ws(http, ex, ["order", "position"])
    demo_ws = await private_ws(http, ex, ["order", "position", "wallet"], demo=True)
    await ok(
        http,
        ex,
        "POST",
        "/v5/order/create",
        {
            "category": "linear",
            "symbol": "BTCUSDT",
            "side": "Sell",
            "orderType": "Market",
            "qty": "0.002",
        },
        demo=True,
    )
    frames = await until_pong(demo_ws)
    assert _topic_frames(frames, "order")[-1]["data"][0]["orderStatus"] == "Filled"
    assert await until_pong(live_ws) == []
    assert (
        await ok(
            http,
            ex,
            "GET",
            "/v5/position/list",
            {"category": "linear", "symbol": "BTCUSDT"},
            demo=True,
        )
    )["list"][0]["size"] == "0.002"
    assert (
        await ok(http, ex, "GET", "/v5/position/list", {"category": "linear", "symbol": "BTCUSDT"})
    )["list"][0]["size"] == "0.000"
    await ok(
        http,
        ex,
        "POST",
        "/v5/account/demo-apply-money",
        {"adjustType": 0, "utaDemoApplyMoney": [{"coin": "USDT", "amountStr": "1000"}]},
        demo=True,
    )
    assert _topic_frames(await until_pong(demo_ws), "wallet")
    assert usdt(await ok(http, ex, "GET", "/v5/account/wallet-balance", q, demo=True)) > 50_000
    await live_ws.close()
    await demo_ws.close()

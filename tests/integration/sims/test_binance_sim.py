"""The Binance simulator over real loopback sockets: REST, streams, WS API, faults, CLI.

Every client here is a real one (aiohttp, websockets) talking to `sim("binance")` on
127.0.0.1; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import websockets

from spinstream.testing.sims import sim
from spinstream.testing.sims.binance import BinanceSim

SECRET = "sim-test-secret-5f2d0c1e"
KEY = "sim-test-key-0a9b8c7d"


@pytest.fixture
async def ex() -> AsyncIterator[BinanceSim]:
    async with sim(
        "binance", seed=7, tick_interval=0.02, ping_interval=0.3, api_key=KEY, api_secret=SECRET
    ) as s:
        assert isinstance(s, BinanceSim)
        yield s


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _connect(url: str) -> Any:
    """A websockets client that keeps reading while a test is busy elsewhere.

    With the default bounded queue, websockets stops reading once 16 frames wait unread,
    so at exit it could not see the server's close frame and would wait `close_timeout`.
    """
    return websockets.connect(url, max_queue=None, close_timeout=2)


def _signed(params: dict[str, Any], secret: str = SECRET, ts: int | None = None) -> str:
    p = dict(params)
    p["timestamp"] = ts if ts is not None else int(time.time() * 1000)
    q = urlencode(p)
    sig = hmac.new(secret.encode(), q.encode(), hashlib.sha256).hexdigest()
    return q + "&signature=" + sig


async def _call(
    http: aiohttp.ClientSession,
    ex: BinanceSim,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    signed: bool = False,
    key: str | None = KEY,
    **kw: Any,
) -> tuple[int, Any, Any]:
    headers = {"X-MBX-APIKEY": key} if key else {}
    if signed:
        q = _signed(params or {}, **kw)
    else:
        q = urlencode(params or {})
    url = ex.make_url(path)
    if method == "POST":
        hdrs = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        async with http.post(url, data=q, headers=hdrs) as r:
            return r.status, await r.json(content_type=None), r.headers
    async with http.request(method, url + ("?" + q if q else ""), headers=headers) as r:
        return r.status, await r.json(content_type=None), r.headers


async def _recv_json(ws: Any, timeout: float = 5.0) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _recv_until(ws: Any, pred: Any, timeout: float = 5.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await _recv_json(ws, max(0.01, deadline - loop.time()))
        if pred(msg):
            return msg


# -- REST: public -----------------------------------------------------------------------------


async def test_public_rest_endpoints(ex: BinanceSim, http: aiohttp.ClientSession) -> None:
    st, body, hdr = await _call(http, ex, "GET", "/api/v3/ping")
    assert (st, body) == (200, {})
    assert int(hdr["X-MBX-USED-WEIGHT-1M"]) >= 1
    st, body, _ = await _call(http, ex, "GET", "/api/v3/time")
    assert abs(body["serverTime"] - time.time() * 1000) < 5000

    st, info, hdr = await _call(http, ex, "GET", "/api/v3/exchangeInfo")
    syms = {s["symbol"]: s for s in info["symbols"]}
    assert {"BTCUSDT", "ETHUSDT"} <= set(syms)
    filters = {f["filterType"]: f for f in syms["BTCUSDT"]["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert info["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"

    st, depth, hdr = await _call(
        http, ex, "GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5}
    )
    assert st == 200 and len(depth["bids"]) == 5 and len(depth["asks"]) == 5
    assert isinstance(depth["bids"][0][0], str) and isinstance(depth["lastUpdateId"], int)
    assert Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])
    bids = [Decimal(p) for p, _ in depth["bids"]]
    assert bids == sorted(bids, reverse=True)

    _, bt, _ = await _call(http, ex, "GET", "/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})
    assert set(bt) == {"symbol", "bidPrice", "bidQty", "askPrice", "askQty"}
    _, t24, _ = await _call(http, ex, "GET", "/api/v3/ticker/24hr", {"symbol": "ETHUSDT"})
    assert t24["symbol"] == "ETHUSDT" and isinstance(t24["lastPrice"], str) and "count" in t24
    _, allp, _ = await _call(http, ex, "GET", "/api/v3/ticker/price")
    assert {p["symbol"] for p in allp} == {"BTCUSDT", "ETHUSDT"}
    await ex.wait_for(lambda: len(ex.engine.trades[("spot", "BTCUSDT")]) > 0)
    _, trades, _ = await _call(http, ex, "GET", "/api/v3/trades", {"symbol": "BTCUSDT", "limit": 5})
    assert trades and {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker"} <= set(trades[0])

    st, err, _ = await _call(http, ex, "GET", "/api/v3/depth", {"symbol": "NOPE"})
    assert st == 400 and err == {"code": -1121, "msg": "Invalid symbol."}
    assert ex.stats.rest_calls["/api/v3/depth"] == 2


async def test_futures_public_rest(ex: BinanceSim, http: aiohttp.ClientSession) -> None:
    _, info, _ = await _call(http, ex, "GET", "/fapi/v1/exchangeInfo")
    s = {x["symbol"]: x for x in info["symbols"]}["BTCUSDT"]
    assert s["contractType"] == "PERPETUAL" and s["marginAsset"] == "USDT"
    _, depth, _ = await _call(http, ex, "GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 10})
    assert {"lastUpdateId", "E", "T", "bids", "asks"} <= set(depth) and len(depth["bids"]) == 10
    _, pi, _ = await _call(http, ex, "GET", "/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"})
    assert Decimal(pi["markPrice"]) > 0 and "nextFundingTime" in pi
    _, bt, _ = await _call(http, ex, "GET", "/fapi/v1/ticker/bookTicker", {"symbol": "ETHUSDT"})
    assert "lastUpdateId" in bt and "time" in bt
    _, t24, _ = await _call(http, ex, "GET", "/fapi/v1/ticker/24hr")
    assert {t["symbol"] for t in t24} == {"BTCUSDT", "ETHUSDT"}


# -- REST: signed -----------------------------------------------------------------------------


async def test_signature_accepted_and_rejected(ex: BinanceSim, http: aiohttp.ClientSession) -> None:
    st, acct, _ = await _call(http, ex, "GET", "/api/v3/account", signed=True)
    assert st == 200 and acct["accountType"] == "SPOT"
    bal = {b["asset"]: b for b in acct["balances"]}
    assert bal["USDT"]["free"] == "100000.00000000"

    st, err, _ = await _call(http, ex, "GET", "/api/v3/account", signed=True, secret="wrong")
    assert (st, err) == (400, {"code": -1022, "msg": "Signature for this request is not valid."})
    st, err, _ = await _call(http, ex, "GET", "/api/v3/account", signed=True, key=None)
    assert (st, err["code"]) == (401, -2014)
    st, err, _ = await _call(http, ex, "GET", "/api/v3/account", signed=True, key="not-the-key")
    assert (st, err["code"]) == (401, -2015)
    st, err, _ = await _call(http, ex, "GET", "/api/v3/account", {"timestamp": 1})
    assert err["code"] == -1102  # no signature
    assert ex.stats.auth_failures >= 2


async def test_timestamp_outside_recv_window(ex: BinanceSim, http: aiohttp.ClientSession) -> None:
    old = int(time.time() * 1000) - 10_000
    st, err, _ = await _call(http, ex, "GET", "/api/v3/account", signed=True, ts=old)
    assert st == 400 and err["code"] == -1021
    assert err["msg"] == "Timestamp for this request is outside of the recvWindow."
    # the same age is fine with a wider recvWindow
    st, _, _ = await _call(
        http, ex, "GET", "/api/v3/account", {"recvWindow": 20000}, signed=True, ts=old
    )
    assert st == 200
    ahead = int(time.time() * 1000) + 5000
    st, err, _ = await _call(http, ex, "GET", "/api/v3/account", signed=True, ts=ahead)
    assert err["code"] == -1021 and "ahead" in err["msg"]


async def test_retired_spot_listen_key_is_gone(ex: BinanceSim, http: aiohttp.ClientSession) -> None:
    async with http.post(ex.make_url("/api/v3/userDataStream"), headers={"X-MBX-APIKEY": KEY}) as r:
        assert r.status == 410
        assert "410 Gone" in await r.text()


# -- orders -----------------------------------------------------------------------------------


async def test_limit_order_rests_in_open_orders_and_depth(
    ex: BinanceSim, http: aiohttp.ClientSession
) -> None:
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    order.update(quantity="0.01234", price="50000.00", newClientOrderId="rest-1")
    st, o, hdr = await _call(http, ex, "POST", "/api/v3/order", order, signed=True)
    assert st == 200, o
    assert o["status"] == "NEW" and o["clientOrderId"] == "rest-1" and o["fills"] == []
    assert o["origQty"] == "0.01234000" and o["price"] == "50000.00000000"
    assert "X-MBX-ORDER-COUNT-10S" in hdr

    _, opens, _ = await _call(
        http, ex, "GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True
    )
    assert [x["orderId"] for x in opens] == [o["orderId"]]
    _, acct, _ = await _call(http, ex, "GET", "/api/v3/account", signed=True)
    usdt = {b["asset"]: b for b in acct["balances"]}["USDT"]
    assert usdt["locked"] == "617.00000000"

    _, depth, _ = await _call(
        http, ex, "GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5000}
    )
    levels = {p: q for p, q in depth["bids"]}
    assert levels["50000.00000000"] == "0.01234000"

    _, q, _ = await _call(
        http,
        ex,
        "GET",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "origClientOrderId": "rest-1"},
        signed=True,
    )
    assert q["orderId"] == o["orderId"] and q["isWorking"] is True
    st, c, _ = await _call(
        http,
        ex,
        "DELETE",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "orderId": o["orderId"]},
        signed=True,
    )
    assert st == 200 and c["status"] == "CANCELED" and c["origClientOrderId"] == "rest-1"
    st, err, _ = await _call(
        http,
        ex,
        "DELETE",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "orderId": o["orderId"]},
        signed=True,
    )
    assert (st, err["code"]) == (400, -2011)
    _, depth, _ = await _call(
        http, ex, "GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5000}
    )
    assert "50000.00000000" not in {p for p, _ in depth["bids"]}
    st, err, _ = await _call(
        http, ex, "DELETE", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True
    )
    assert err["code"] == -2011  # nothing left to cancel


async def test_order_rejections(ex: BinanceSim, http: aiohttp.ClientSession) -> None:
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    _, err, _ = await _call(
        http,
        ex,
        "POST",
        "/api/v3/order",
        {**base, "quantity": "0.000001", "price": "50000"},
        signed=True,
    )
    assert err == {"code": -1013, "msg": "Filter failure: LOT_SIZE"}
    _, err, _ = await _call(
        http,
        ex,
        "POST",
        "/api/v3/order",
        {**base, "quantity": "0.01", "price": "50000.001"},
        signed=True,
    )
    assert err == {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}
    _, err, _ = await _call(
        http, ex, "POST", "/api/v3/order", {**base, "quantity": "10", "price": "50000"}, signed=True
    )
    assert err["code"] == -2010 and "insufficient balance" in err["msg"]
    ask = ex.engine.book(ex.engine.instrument("spot", "BTCUSDT")).best(False)
    assert ask is not None
    maker = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.01"}
    maker["price"] = str(Decimal(ask[0]) / 100 + 5)
    _, err, _ = await _call(http, ex, "POST", "/api/v3/order", maker, signed=True)
    assert err == {"code": -2010, "msg": "Order would immediately match and take."}
    _, err, _ = await _call(
        http, ex, "POST", "/api/v3/order", {**base, "quantity": "0.01"}, signed=True
    )
    assert err["code"] == -1102 and "'price'" in err["msg"]


async def test_marketable_order_fills_and_pushes_user_events(
    ex: BinanceSim, http: aiohttp.ClientSession
) -> None:
    async with _connect(ex.make_url("/ws-api/v3", ws=True)) as ws:
        params: dict[str, Any] = {"apiKey": KEY, "timestamp": int(time.time() * 1000)}
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
        params["signature"] = hmac.new(
            SECRET.encode(), payload.encode(), hashlib.sha256
        ).hexdigest()
        await ws.send(
            json.dumps(
                {"id": "s1", "method": "userDataStream.subscribe.signature", "params": params}
            )
        )
        reply = await _recv_json(ws)
        assert reply["status"] == 200 and reply["id"] == "s1"
        sid = reply["result"]["subscriptionId"]
        assert reply["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"

        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.5"}
        st, o, _ = await _call(http, ex, "POST", "/api/v3/order", order, signed=True)
        assert st == 200 and o["status"] == "FILLED" and o["executedQty"] == "0.50000000"
        assert len(o["fills"]) >= 2  # walked several levels
        cost = sum(Decimal(f["price"]) * Decimal(f["qty"]) for f in o["fills"])
        assert Decimal(o["cummulativeQuoteQty"]) == cost

        events = []
        while True:
            m = await _recv_json(ws)
            assert m["subscriptionId"] == sid
            events.append(m["event"])
            if m["event"]["e"] == "outboundAccountPosition":
                break
        reports = [e for e in events if e["e"] == "executionReport"]
        assert reports[0]["x"] == "NEW" and reports[0]["X"] == "NEW"
        trades = [e for e in reports if e["x"] == "TRADE"]
        assert len(trades) == len(o["fills"]) and trades[-1]["X"] == "FILLED"
        assert trades[-1]["z"] == "0.50000000" and trades[-1]["i"] == o["orderId"]
        bal = {b["a"]: b for b in events[-1]["B"]}
        fee = Decimal("0.5") * Decimal("0.001")
        assert Decimal(bal["BTC"]["f"]) == Decimal("1.5") - fee
        assert Decimal(bal["USDT"]["f"]) == Decimal(100000) - cost

        _, acct, _ = await _call(http, ex, "GET", "/api/v3/account", signed=True)
        assert {b["asset"]: b for b in acct["balances"]}["BTC"]["free"] == bal["BTC"]["f"]
        _, mine, _ = await _call(
            http, ex, "GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, signed=True
        )
        assert len(mine) == len(o["fills"]) and all(t["isBuyer"] for t in mine)

        # bad signature on the WS API
        bad = dict(params, signature="00" * 32, timestamp=int(time.time() * 1000))
        await ws.send(
            json.dumps({"id": 2, "method": "userDataStream.subscribe.signature", "params": bad})
        )
        reply = await _recv_until(ws, lambda m: m.get("id") == 2)
        assert reply["status"] == 400 and reply["error"]["code"] == -1022


async def test_ws_api_order_place_and_cancel(ex: BinanceSim) -> None:
    def signed(p: dict[str, Any]) -> dict[str, Any]:
        p = dict(p, apiKey=KEY, timestamp=int(time.time() * 1000))
        payload = "&".join(f"{k}={p[k]}" for k in sorted(p))
        p["signature"] = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
        return p

    async with _connect(ex.make_url("/ws-api/v3", ws=True)) as ws:
        await ws.send(json.dumps({"id": 1, "method": "ping"}))
        assert (await _recv_json(ws))["result"] == {}
        place = {"symbol": "ETHUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC"}
        place.update(quantity="0.5", price="9000.00")
        await ws.send(json.dumps({"id": 2, "method": "order.place", "params": signed(place)}))
        r = await _recv_json(ws)
        assert r["status"] == 200 and r["result"]["status"] == "NEW", r
        oid = r["result"]["orderId"]
        await ws.send(
            json.dumps(
                {
                    "id": 3,
                    "method": "order.cancel",
                    "params": signed({"symbol": "ETHUSDT", "orderId": oid}),
                }
            )
        )
        r = await _recv_json(ws)
        assert r["result"]["status"] == "CANCELED"
        await ws.send(json.dumps({"id": 4, "method": "userDataStream.start", "params": {}}))
        r = await _recv_json(ws)
        assert r["status"] == 400  # listenKey methods are retired


# -- streams ----------------------------------------------------------------------------------


async def test_diff_depth_syncs_with_snapshot(ex: BinanceSim, http: aiohttp.ClientSession) -> None:
    """Binance's documented spot procedure: buffer, snapshot, drop stale, then U/u chain."""
    async with _connect(ex.make_url("/ws/btcusdt@depth@100ms", ws=True)) as ws:
        first = await _recv_json(ws)
        buffered = [first]
        _, snap, _ = await _call(
            http, ex, "GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5000}
        )
        while len(buffered) < 3 or buffered[-1]["u"] <= snap["lastUpdateId"]:
            buffered.append(await _recv_json(ws))
        assert snap["lastUpdateId"] >= first["U"]
        book = {"b": {p: q for p, q in snap["bids"]}, "a": {p: q for p, q in snap["asks"]}}
        last = snap["lastUpdateId"]
        applied = 0
        for ev in buffered + [await _recv_json(ws) for _ in range(20)]:
            assert ev["e"] == "depthUpdate" and ev["s"] == "BTCUSDT"
            if ev["u"] <= last:
                continue
            if applied == 0:
                assert ev["U"] <= last + 1 <= ev["u"]
            else:
                assert ev["U"] == last + 1
            for side in ("b", "a"):
                for p, q in ev[side]:
                    if Decimal(q) == 0:
                        book[side].pop(p, None)
                    else:
                        book[side][p] = q
            last = ev["u"]
            applied += 1
        # the rebuilt book equals a fresh snapshot taken at the same update id
        await asyncio.sleep(0)
        _, snap2, _ = await _call(
            http, ex, "GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5000}
        )
        if snap2["lastUpdateId"] == last:
            assert book["b"] == {p: q for p, q in snap2["bids"]}
            assert book["a"] == {p: q for p, q in snap2["asks"]}
        best_bid = max(Decimal(p) for p in book["b"])
        best_ask = min(Decimal(p) for p in book["a"])
        assert best_bid < best_ask


async def test_stream_forms_and_live_methods(ex: BinanceSim) -> None:
    url = ex.make_url("/stream?streams=btcusdt@bookTicker/ethusdt@trade", ws=True)
    async with _connect(url) as ws:
        m = await _recv_until(ws, lambda m: m.get("stream") == "btcusdt@bookTicker")
        assert set(m["data"]) == {"u", "s", "b", "B", "a", "A"}
        await ws.send(
            json.dumps(
                {
                    "method": "SUBSCRIBE",
                    "params": ["btcusdt@ticker", "btcusdt@depth5@100ms"],
                    "id": 1,
                }
            )
        )
        assert await _recv_until(ws, lambda m: "id" in m) == {"result": None, "id": 1}
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        r = await _recv_until(ws, lambda m: m.get("id") == 2)
        assert set(r["result"]) == {
            "btcusdt@bookTicker",
            "ethusdt@trade",
            "btcusdt@ticker",
            "btcusdt@depth5@100ms",
        }
        t = await _recv_until(ws, lambda m: m.get("stream") == "btcusdt@ticker")
        assert t["data"]["e"] == "24hrTicker" and isinstance(t["data"]["c"], str)
        d5 = await _recv_until(ws, lambda m: m.get("stream") == "btcusdt@depth5@100ms")
        assert set(d5["data"]) == {"lastUpdateId", "bids", "asks"} and len(d5["data"]["bids"]) == 5
        tr = await _recv_until(ws, lambda m: m.get("stream") == "ethusdt@trade")
        assert tr["data"]["e"] == "trade" and tr["data"]["s"] == "ETHUSDT"
        await ws.send(json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@ticker"], "id": 3}))
        await _recv_until(ws, lambda m: m.get("id") == 3)
        await ws.send(json.dumps({"method": "SUBSCRIB", "params": [], "id": 4}))
        err = await _recv_until(ws, lambda m: m.get("id") == 4)
        assert err["code"] == 2 and "unknown variant" in err["msg"]


async def test_server_pings_are_answered(ex: BinanceSim) -> None:
    async with _connect(ex.make_url("/ws/btcusdt@aggTrade", ws=True)) as ws:
        conn = (await ex.wait_for(lambda: ex.connections("spot-stream")))[0]
        await ex.wait_for(lambda: conn.pongs_received >= 1, timeout=5)
        assert conn.pings_sent >= 1
        await _recv_until(ws, lambda m: m.get("e") == "aggTrade")


async def test_futures_routed_streams_and_pu_chain(ex: BinanceSim) -> None:
    fut = ex.urls["wss://fstream.binance.com"]
    async with (
        _connect(fut + "/public/ws/btcusdt@depth@100ms") as pub,
        _connect(fut + "/market/ws/btcusdt@depth@100ms") as wrong,
        _connect(fut + "/market/stream?streams=btcusdt@markPrice/btcusdt@aggTrade") as mkt,
    ):
        prev = None
        for _ in range(10):
            ev = await _recv_json(pub)
            assert ev["e"] == "depthUpdate" and {"T", "U", "u", "pu"} <= set(ev)
            if prev is not None:
                assert ev["pu"] == prev["u"]
            prev = ev
        m = await _recv_until(mkt, lambda m: m["stream"] == "btcusdt@markPrice")
        assert m["data"]["e"] == "markPriceUpdate"
        with pytest.raises(asyncio.TimeoutError):  # depth on the /market route stays silent
            await asyncio.wait_for(wrong.recv(), 0.3)


async def test_futures_user_data_over_listen_key(
    ex: BinanceSim, http: aiohttp.ClientSession
) -> None:
    st, lk, _ = await _call(http, ex, "POST", "/fapi/v1/listenKey")
    assert st == 200 and len(lk["listenKey"]) == 64
    key = lk["listenKey"]
    st, again, _ = await _call(http, ex, "PUT", "/fapi/v1/listenKey")
    assert again["listenKey"] == key
    fut = ex.urls["wss://fstream.binance.com"]
    async with _connect(
        f"{fut}/private/ws?listenKey={key}&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE"
    ) as ws:
        await ex.wait_for(lambda: ex.stats.ws_open["futures-private"] == 1)
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"}
        st, o, _ = await _call(http, ex, "POST", "/fapi/v1/order", order, signed=True)
        assert st == 200 and o["status"] == "NEW"  # ACK response, as Binance
        ou = await _recv_until(
            ws, lambda m: m["e"] == "ORDER_TRADE_UPDATE" and m["o"]["X"] == "FILLED"
        )
        assert ou["o"]["s"] == "BTCUSDT" and ou["o"]["z"] == "0.010"
        au = await _recv_until(ws, lambda m: m["e"] == "ACCOUNT_UPDATE")
        assert au["a"]["m"] == "ORDER" and au["a"]["P"][0]["pa"] == "0.010"
        st, q, _ = await _call(
            http,
            ex,
            "GET",
            "/fapi/v1/order",
            {"symbol": "BTCUSDT", "orderId": o["orderId"]},
            signed=True,
        )
        assert q["status"] == "FILLED" and Decimal(q["avgPrice"]) > 0
        _, pr, _ = await _call(
            http, ex, "GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"}, signed=True
        )
        assert pr[0]["positionAmt"] == "0.010"
        _, acct, _ = await _call(http, ex, "GET", "/fapi/v2/account", signed=True)
        assert Decimal(acct["totalWalletBalance"]) < 100000  # taker fee paid
        _, bal, _ = await _call(http, ex, "GET", "/fapi/v3/balance", signed=True)
        assert any(b["asset"] == "USDT" for b in bal)
        # listenKeyExpired is not in this socket's allow-list: nothing arrives
        assert ex.expire_listen_key(key) == 0


# -- faults -----------------------------------------------------------------------------------


async def test_fault_drop(ex: BinanceSim) -> None:
    async with _connect(ex.make_url("/ws/btcusdt@depth", ws=True)) as ws:
        await _recv_json(ws)
        assert ex.faults.drop() == 1
        with pytest.raises(websockets.ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        assert info.value.rcvd is None  # no close frame: an abrupt drop
    await ex.wait_for(lambda: ex.stats.ws_open["spot-stream"] == 0)
    assert ex.stats.ws_opened["spot-stream"] == 1


async def test_fault_stall(ex: BinanceSim) -> None:
    async with _connect(ex.make_url("/ws/btcusdt@depth", ws=True)) as ws:
        await _recv_json(ws)
        assert ex.faults.stall(1.5) == 1
        with pytest.raises(asyncio.TimeoutError):
            while True:  # drain what was already on the wire, then silence
                await asyncio.wait_for(ws.recv(), 0.5)
        ev = await _recv_json(ws, timeout=5)  # it resumes, still open
        assert ev["e"] == "depthUpdate"


def _gaps(events: list[dict[str, Any]]) -> list[int]:
    """Sizes of the holes between consecutive diff events (U must be previous u + 1)."""
    pairs = zip(events, events[1:], strict=False)
    return [b["U"] - a["u"] - 1 for a, b in pairs if b["U"] != a["u"] + 1]


async def test_fault_gap(ex: BinanceSim) -> None:
    fut = ex.urls["wss://fstream.binance.com"]
    async with (
        _connect(ex.make_url("/ws/btcusdt@depth", ws=True)) as spot,
        _connect(fut + "/public/ws/btcusdt@depth") as futs,
    ):
        s = [await _recv_json(spot)]
        f = [await _recv_json(futs)]
        ex.faults.gap()
        s += [await _recv_json(spot) for _ in range(6)]
        f += [await _recv_json(futs) for _ in range(6)]
        assert _gaps(s) == [1] and _gaps(f) == [1]  # one id skipped, once, on every stream
        breaks = [b for a, b in zip(f, f[1:], strict=False) if b["pu"] != a["u"]]
        assert len(breaks) == 1  # the futures `pu` chain breaks exactly there


async def test_fault_malformed(ex: BinanceSim) -> None:
    async with _connect(ex.make_url("/ws/btcusdt@depth", ws=True)) as ws:
        await _recv_json(ws)
        assert ex.faults.malformed() == 1
        bad = 0
        for _ in range(10):
            raw = await asyncio.wait_for(ws.recv(), 5)
            try:
                json.loads(raw)
            except ValueError:
                bad += 1
                break
        assert bad == 1
        assert (await _recv_json(ws))["e"] == "depthUpdate"  # the connection survives


async def test_fault_rate_limit_and_real_weight_limit(
    ex: BinanceSim, http: aiohttp.ClientSession
) -> None:
    ex.faults.rate_limit(2)
    for _ in range(2):
        st, err, hdr = await _call(http, ex, "GET", "/api/v3/ping")
        assert st == 429 and err["code"] == -1003 and int(hdr["Retry-After"]) >= 1
    st, _, _ = await _call(http, ex, "GET", "/api/v3/ping")
    assert st == 200
    # the real limiter: exhaust a small budget
    ex.spot_weight.limit = 60
    st = 200
    for _ in range(20):
        st, err, hdr = await _call(http, ex, "GET", "/api/v3/exchangeInfo")
        if st == 429:
            break
    assert st == 429 and "Retry-After" in hdr and int(hdr["X-MBX-USED-WEIGHT-1M"]) > 60
    assert ex.stats.rate_limited >= 3


async def test_fault_reject_auth(ex: BinanceSim, http: aiohttp.ClientSession) -> None:
    ex.faults.reject_auth()
    st, err, _ = await _call(http, ex, "GET", "/api/v3/account", signed=True)
    assert (st, err["code"]) == (400, -1022)
    st, _, _ = await _call(http, ex, "GET", "/api/v3/account", signed=True)
    assert st == 200


async def test_bad_checksum_is_not_a_binance_fault(ex: BinanceSim) -> None:
    with pytest.raises(NotImplementedError):
        ex.faults.bad_checksum()


# -- hygiene and the command line -------------------------------------------------------------


async def test_repr_hides_the_secret(ex: BinanceSim) -> None:
    assert SECRET not in repr(ex) and SECRET not in repr(ex.faults)
    assert KEY not in repr(ex) and all(KEY not in repr(c) for c in ex.connections())
    assert ex.credentials == {"api_key": KEY, "api_secret": SECRET}
    assert "https://api.binance.com" in ex.urls and "wss://ws-api.testnet.binance.vision" in ex.urls
    assert ex.make_url("https://api.binance.com/api/v3/ping") == ex.base_http + "/api/v3/ping"
    assert ex.urls["wss://fstream.binance.com"].startswith(ex.base_ws)


def test_cli_sim_prints_json_first() -> None:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[3] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "spinstream", "sim", "binance", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert info["venue"] == "binance"
        assert info["urls"]["https://api.binance.com"].startswith("http://127.0.0.1:")
        assert set(info["credentials"]) == {"api_key", "api_secret"}
        import urllib.request

        with urllib.request.urlopen(
            info["urls"]["https://api.binance.com"] + "/api/v3/ping", timeout=5
        ) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert proc.stderr is not None
    assert info["credentials"]["api_secret"] not in proc.stderr.read()


async def test_listen_key_expiry_and_deposit_events(
    ex: BinanceSim, http: aiohttp.ClientSession
) -> None:
    _, lk, _ = await _call(http, ex, "POST", "/fapi/v1/listenKey")
    key = lk["listenKey"]
    fut = ex.urls["wss://fstream.binance.com"]
    async with _connect(f"{fut}/private/stream?listenKey={key}") as ws:  # no allow-list: all
        await ex.wait_for(lambda: ex.stats.ws_open["futures-private"] == 1)
        ex.engine.deposit("futures", "USDT", Decimal("250"))
        m = await _recv_json(ws)
        assert m["stream"] == key and m["data"]["e"] == "ACCOUNT_UPDATE"
        assert m["data"]["a"]["m"] == "DEPOSIT" and m["data"]["a"]["B"][0]["bc"] == "250.00000000"
        assert ex.expire_listen_key(key) == 1
        m = await _recv_json(ws)
        assert m["data"] == {"e": "listenKeyExpired", "E": m["data"]["E"], "listenKey": key}
    st, err, _ = await _call(http, ex, "PUT", "/fapi/v1/listenKey", {"listenKey": key})
    assert (st, err["code"]) == (400, -1125)

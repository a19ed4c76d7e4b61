"""The OKX v5 simulator over real loopback sockets: REST signatures and errors, books sequencing
and checksums, private channels, demo host, keepalive, faults.

Every client here is a real one (aiohttp) talking to `sim("okx")` on 127.0.0.1; nothing is mocked.
Signatures are computed here, independently of the simulator's own `auth` module. Stream tests
that compare state drive the price process by hand (`tick_interval=None`, `ex.tick()`), then send
the text `ping`: everything the ticks pushed is queued before the `pong`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import recorded
from spinstream.testing.sims import VENUES, sim, sim_class
from spinstream.testing.sims.okx import OkxSim

KEY, SECRET, PASS = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", "SIMSECRET0123456789ABCDEF", "pp-Sim1"
DKEY, DSECRET, DPASS = "aaaabbbb-cccc-dddd-eeee-ffff00001111", "DEMOSECRET987654321", "pp-Demo2"
WAIT = 20.0


def _make(**kw: Any) -> OkxSim:
    s = sim(
        "okx",
        seed=7,
        api_key=KEY,
        api_secret=SECRET,
        passphrase=PASS,
        demo_api_key=DKEY,
        demo_api_secret=DSECRET,
        demo_passphrase=DPASS,
        **kw,
    )
    assert isinstance(s, OkxSim)
    return s


@pytest.fixture
async def ex() -> AsyncIterator[OkxSim]:
    async with _make(tick_interval=0.02) as s:
        yield s


@pytest.fixture
async def manual() -> AsyncIterator[OkxSim]:
    async with _make(tick_interval=None) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def iso_now(offset_s: float = 0.0) -> str:
    t = time.time() + offset_s
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def signed(
    method: str,
    path: str,
    body: str = "",
    *,
    key: str = KEY,
    secret: str = SECRET,
    passphrase: str = PASS,
    ts: str | None = None,
    demo: bool = False,
) -> dict[str, str]:
    ts = ts or iso_now()
    mac = hmac.new(secret.encode(), (ts + method + path + body).encode(), hashlib.sha256)
    h = {
        "OK-ACCESS-KEY": key,
        "OK-ACCESS-SIGN": base64.b64encode(mac.digest()).decode(),
        "OK-ACCESS-TIMESTAMP": ts,
        "OK-ACCESS-PASSPHRASE": passphrase,
        "Content-Type": "application/json",
    }
    if demo:
        h["x-simulated-trading"] = "1"
    return h


async def rest(
    http: aiohttp.ClientSession,
    ex: OkxSim,
    method: str,
    path: str,
    body: Any = None,
    **kw: Any,
) -> tuple[int, dict[str, Any]]:
    text = "" if body is None else json.dumps(body)
    headers = signed(method, path, text, **kw)
    async with http.request(method, ex.base_http + path, data=text or None, headers=headers) as r:
        return r.status, await r.json()


def login_args(key: str = KEY, secret: str = SECRET, passphrase: str = PASS) -> dict[str, Any]:
    ts = str(int(time.time()))
    mac = hmac.new(secret.encode(), (ts + "GET/users/self/verify").encode(), hashlib.sha256)
    sign = base64.b64encode(mac.digest()).decode()
    arg = {"apiKey": key, "passphrase": passphrase, "timestamp": ts, "sign": sign}
    return {"op": "login", "args": [arg]}


async def recv_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), WAIT)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def until_pong(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Send `ping`; every frame before the `pong`."""
    await ws.send_str("ping")
    out = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), WAIT)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        if msg.data == "pong":
            return out
        out.append(json.loads(msg.data))


def decimals(step: str) -> int:
    return len(step.partition(".")[2].rstrip("0"))


# --------------------------------------------------------------------------------------------
# registry, REST
# --------------------------------------------------------------------------------------------


def test_registered() -> None:
    assert VENUES["okx"].endswith(":OkxSim") and sim_class("okx") is OkxSim
    s = _make()
    assert PASS not in repr(s) and SECRET not in repr(s)
    assert not any(x in repr(s._live) + repr(s._demo) for x in (KEY, SECRET, PASS, DKEY, DPASS))
    assert s.credentials == {"api_key": KEY, "api_secret": SECRET, "passphrase": PASS}


async def test_public_rest(ex: OkxSim, http: aiohttp.ClientSession) -> None:
    seen = {}
    for t in ("SPOT", "SWAP", "FUTURES", "OPTION"):
        async with http.get(f"{ex.base_http}/api/v5/public/instruments?instType={t}") as r:
            body = await r.json()
        assert body["code"] == "0" and body["msg"] == ""
        seen[t] = {i["instId"]: i for i in body["data"]}
    assert set(seen["SPOT"]) == {"BTC-USDT", "ETH-USDT"}
    assert set(seen["SWAP"]) == {"BTC-USDT-SWAP", "ETH-USDT-SWAP"} and seen["OPTION"] == {}
    swap = seen["SWAP"]["BTC-USDT-SWAP"]
    assert (swap["ctVal"], swap["ctType"], swap["settleCcy"], swap["tickSz"]) == (
        "0.01",
        "linear",
        "USDT",
        "0.1",
    )
    (fut,) = seen["FUTURES"].values()
    assert fut["instId"].startswith("BTC-USDT-") and int(fut["expTime"]) > time.time() * 1000
    async with http.get(f"{ex.base_http}/api/v5/public/instruments") as r:
        assert (await r.json())["code"] == "50014"
    async with http.get(f"{ex.base_http}/api/v5/market/ticker?instId=BTC-USDT") as r:
        (t,) = (await r.json())["data"]
    assert float(t["bidPx"]) < float(t["askPx"]) and t["instType"] == "SPOT"
    async with http.get(f"{ex.base_http}/api/v5/market/tickers?instType=SWAP") as r:
        assert len((await r.json())["data"]) == 2
    async with http.get(f"{ex.base_http}/api/v5/market/ticker?instId=NOPE-USDT") as r:
        assert (await r.json())["code"] == "51001"
    async with http.get(f"{ex.base_http}/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400") as r:
        (book,) = (await r.json())["data"]
    assert len(book["bids"]) > 50 and len(book["asks"][0]) == 4 and isinstance(book["seqId"], int)
    async with http.get(f"{ex.base_http}/api/v5/market/books?instId=BTC-USDT&sz=401") as r:
        assert (await r.json())["code"] == "51000"
    async with http.get(f"{ex.base_http}/api/v5/public/time") as r:
        assert abs(int((await r.json())["data"][0]["ts"]) - time.time() * 1000) < 5000


async def test_signatures_and_auth_errors(ex: OkxSim, http: aiohttp.ClientSession) -> None:
    path = "/api/v5/account/balance?ccy=USDT,BTC"
    status, body = await rest(http, ex, "GET", path)
    assert status == 200 and body["code"] == "0"
    ccys = {d["ccy"]: d for d in body["data"][0]["details"]}
    assert set(ccys) == {"USDT", "BTC"} and ccys["USDT"]["cashBal"] == "100000"
    bad = [
        ({"secret": "wrong"}, "50113"),
        ({"key": "nope"}, "50111"),
        ({"passphrase": "nope"}, "50105"),
        ({"ts": iso_now(-120)}, "50102"),
        ({"ts": "yesterday"}, "50112"),
        ({"demo": True}, "50101"),  # the live key in the demo environment
    ]
    for kw, code in bad:
        status, body = await rest(http, ex, "GET", path, **kw)
        assert (status, body["code"], body["data"]) == (401, code, []), kw
        assert SECRET not in json.dumps(body)
    async with http.get(ex.base_http + path) as r:
        assert r.status == 401 and (await r.json())["code"] == "50103"
    ex.faults.reject_auth(1)
    status, body = await rest(http, ex, "GET", path)
    assert (status, body["code"]) == (401, "50113")
    status, body = await rest(
        http, ex, "GET", path, key=DKEY, secret=DSECRET, passphrase=DPASS, demo=True
    )
    assert body["code"] == "0"
    assert {d["ccy"]: d["cashBal"] for d in body["data"][0]["details"]}["USDT"] == "50000"


async def test_orders_roundtrip(ex: OkxSim, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{ex.base_http}/api/v5/market/ticker?instId=BTC-USDT") as r:
        bid = float((await r.json())["data"][0]["bidPx"])
    px = f"{round(bid * 0.9, 1)}"
    order = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "side": "buy",
        "ordType": "limit",
        "sz": "0.001",
        "px": px,
        "clOrdId": "sim1",
    }
    status, body = await rest(http, ex, "POST", "/api/v5/trade/order", order)
    assert status == 200 and body["code"] == "0" and "inTime" in body
    (item,) = body["data"]
    assert (item["sCode"], item["clOrdId"]) == ("0", "sim1") and item["ordId"].isdigit()
    oid = item["ordId"]
    _, body = await rest(http, ex, "GET", f"/api/v5/trade/order?instId=BTC-USDT&ordId={oid}")
    (o,) = body["data"]
    assert (o["state"], o["px"], o["sz"], o["side"], o["ordType"]) == (
        "live",
        px,
        "0.001",
        "buy",
        "limit",
    )
    _, body = await rest(http, ex, "GET", "/api/v5/trade/orders-pending?instType=SPOT")
    assert [x["ordId"] for x in body["data"]] == [oid]
    _, body = await rest(http, ex, "GET", "/api/v5/account/balance?ccy=USDT")
    usdt = body["data"][0]["details"][0]
    assert float(usdt["frozenBal"]) > 0 and float(usdt["availBal"]) < 100000
    _, body = await rest(
        http, ex, "POST", "/api/v5/trade/cancel-order", {"instId": "BTC-USDT", "ordId": oid}
    )
    assert body["code"] == "0" and body["data"][0]["sCode"] == "0"
    _, body = await rest(
        http, ex, "POST", "/api/v5/trade/cancel-order", {"instId": "BTC-USDT", "ordId": oid}
    )
    assert body["code"] == "1" and body["data"][0]["sCode"] == "51400"
    _, body = await rest(http, ex, "GET", f"/api/v5/trade/order?instId=BTC-USDT&ordId={oid}")
    assert body["data"][0]["state"] == "canceled"
    _, body = await rest(http, ex, "GET", "/api/v5/trade/order?instId=BTC-USDT&ordId=123")
    assert body["code"] == "51603"
    rejects = [
        (dict(order, instId="NOPE-USDT", clOrdId=""), "51001"),
        (dict(order, sz="0.000000001", clOrdId=""), "51121"),
        (dict(order, sz="1000", clOrdId=""), "51008"),
    ]
    _, body = await rest(http, ex, "POST", "/api/v5/trade/batch-orders", [r for r, _ in rejects])
    assert body["code"] == "1" and [i["sCode"] for i in body["data"]] == [c for _, c in rejects]
    # a swap market order opens a net position sized in contracts
    mkt = {
        "instId": "BTC-USDT-SWAP",
        "tdMode": "cross",
        "side": "buy",
        "ordType": "market",
        "sz": "2",
    }
    _, body = await rest(http, ex, "POST", "/api/v5/trade/order", mkt)
    assert body["code"] == "0", body
    _, body = await rest(http, ex, "GET", "/api/v5/account/positions?instType=SWAP")
    (pos,) = body["data"]
    assert (pos["instId"], pos["pos"], pos["posSide"], pos["mgnMode"]) == (
        "BTC-USDT-SWAP",
        "2",
        "net",
        "cross",
    )


async def test_rate_limits(ex: OkxSim, http: aiohttp.ClientSession) -> None:
    codes = []
    for _ in range(14):  # account/balance: 10 requests per 2 s
        status, body = await rest(http, ex, "GET", "/api/v5/account/balance")
        codes.append((status, body["code"]))
    assert codes[0] == (200, "0") and (429, "50011") in codes
    ex.faults.rate_limit(1)
    async with http.get(f"{ex.base_http}/api/v5/public/time") as r:
        assert r.status == 429 and (await r.json()) == {
            "code": "50011",
            "msg": "Too Many Requests",
            "data": [],
        }


# --------------------------------------------------------------------------------------------
# public WebSocket: books sequencing and checksums
# --------------------------------------------------------------------------------------------


async def _books(
    http: aiohttp.ClientSession, ex: OkxSim, inst_ids: list[str], path: str = "/ws/v5/public"
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(ex.base_ws + path)
    args = [{"channel": "books", "instId": i} for i in inst_ids]
    await ws.send_str(json.dumps({"op": "subscribe", "args": args}))
    return ws


async def test_books_chain_and_checksums(
    manual: OkxSim, http: aiohttp.ClientSession, core: Any
) -> None:
    ex = manual
    specs = {s.inst_id: s for s in ex.specs.values()}
    ids = ["BTC-USDT", "BTC-USDT-SWAP"]
    ws = await _books(http, ex, ids)
    frames = await until_pong(ws)
    for _ in range(30):
        ex.tick()
    frames += await until_pong(ws)
    acks = [f for f in frames if f.get("event") == "subscribe"]
    assert [a["arg"]["instId"] for a in acks] == ids and all("connId" in a for a in acks)
    books: dict[str, Any] = {}
    last: dict[str, int] = {}
    checked = 0
    for f in frames:
        if "data" not in f:
            continue
        inst = f["arg"]["instId"]
        (d,) = f["data"]
        if f["action"] == "snapshot":
            assert d["prevSeqId"] == -1 and len(d["bids"]) > 100
            spec = specs[inst]
            books[inst] = core.book.Book(decimals(spec.tick_sz), decimals(spec.lot_sz))
            books[inst].apply_snapshot(d["bids"], d["asks"])
        else:
            assert d["prevSeqId"] == last[inst] and d["seqId"] > d["prevSeqId"]
            books[inst].apply_deltas(d["bids"], d["asks"])
        last[inst] = d["seqId"]
        assert d["checksum"] == books[inst].checksum_okx() != 0
        checked += 1
    assert checked > 40 and set(books) == set(ids)
    # the REST snapshot carries the stream's seqId: it stitches to the stream
    async with http.get(f"{ex.base_http}/api/v5/market/books?instId=BTC-USDT&sz=25") as r:
        (snap,) = (await r.json())["data"]
    assert snap["seqId"] == last["BTC-USDT"]
    await ws.close()


async def test_books_keepalive_gap_checksum_reset(http: aiohttp.ClientSession) -> None:
    async with _make(tick_interval=None, book_keepalive_s=0.3) as ex:
        ws = await _books(http, ex, ["ETH-USDT"])
        _ack, snap = await recv_json(ws), await recv_json(ws)
        seq = snap["data"][0]["seqId"]
        ka = await recv_json(ws)  # nothing changes: the empty keep-alive update
        (d,) = ka["data"]
        assert (ka["action"], d["bids"], d["asks"], d["prevSeqId"], d["seqId"]) == (
            "update",
            [],
            [],
            seq,
            seq,
        )
        assert d["checksum"] == snap["data"][0]["checksum"]
        ex.faults.gap()
        ex.tick()
        upd = [
            f
            for f in await until_pong(ws)
            if f.get("action") == "update" and f["data"][0]["bids"] + f["data"][0]["asks"]
        ]
        assert upd[0]["data"][0]["prevSeqId"] > seq  # a seqId the client never saw
        ex.faults.bad_checksum()
        ex.tick()
        ex.tick()
        frames = [f for f in await until_pong(ws) if f["data"][0]["bids"] + f["data"][0]["asks"]]
        assert len(frames) == 2
        ex.reset_sequence("ETH-USDT")
        ex.tick()
        (r,) = [f for f in await until_pong(ws) if f["data"][0]["bids"] + f["data"][0]["asks"]]
        assert r["data"][0]["seqId"] < r["data"][0]["prevSeqId"]
        await ws.close()


async def test_books_bad_checksum_detected(
    manual: OkxSim, http: aiohttp.ClientSession, core: Any
) -> None:
    ex = manual
    ws = await _books(http, ex, ["BTC-USDT-SWAP"])
    frames = await until_pong(ws)
    ex.faults.bad_checksum()
    for _ in range(5):
        ex.tick()
    frames += await until_pong(ws)
    book = core.book.Book(1, 2)
    mismatches = 0
    for f in frames:
        if "data" not in f:
            continue
        d = f["data"][0]
        if f["action"] == "snapshot":
            book.apply_snapshot(d["bids"], d["asks"])
        else:
            book.apply_deltas(d["bids"], d["asks"])
        mismatches += d["checksum"] != book.checksum_okx()
    assert mismatches == 1


async def test_checksum_zero_mode_and_top_channels(http: aiohttp.ClientSession) -> None:
    async with _make(tick_interval=None, checksum=False) as ex:
        ws = await http.ws_connect(ex.base_ws + "/ws/v5/public")
        args = [{"channel": c, "instId": "BTC-USDT"} for c in ("books", "books5", "bbo-tbt")]
        args.append({"channel": "tickers", "instId": "BTC-USDT-SWAP"})
        await ws.send_str(json.dumps({"op": "subscribe", "args": args, "id": "7"}))
        frames = await until_pong(ws)
        for _ in range(20):
            ex.tick()
        frames += await until_pong(ws)
        acks = [f for f in frames if f.get("event") == "subscribe"]
        assert len(acks) == 4 and all(a["id"] == "7" for a in acks)
        by = {}
        for f in frames:
            if "data" in f:
                by.setdefault(f["arg"]["channel"], []).append(f)
        assert all(f["data"][0]["checksum"] == 0 for f in by["books"])
        assert len(by["books5"][0]["data"][0]["bids"]) == 5 and "action" not in by["books5"][0]
        assert len(by["bbo-tbt"][-1]["data"][0]["asks"]) == 1
        assert by["tickers"][0]["data"][0]["instType"] == "SWAP"
        await ws.close()


async def test_ws_errors_and_keepalive(http: aiohttp.ClientSession) -> None:
    async with _make(tick_interval=None, idle_timeout=2.0) as ex:
        ws = await http.ws_connect(ex.base_ws + "/ws/v5/public")
        await ws.send_str("{not json")
        assert (await recv_json(ws))["code"] == "60012"
        await ws.send_str(
            json.dumps({"op": "subscribe", "args": [{"channel": "tickers", "instId": "NOPE"}]})
        )
        err = await recv_json(ws)
        assert (err["event"], err["code"]) == ("error", "60018") and "connId" in err
        await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "account"}]}))
        assert (await recv_json(ws))["code"] == "60018"
        for _ in range(10):  # pings keep a quiet connection open past the idle limit
            await ws.send_str("ping")
            assert (await asyncio.wait_for(ws.receive(), WAIT)).data == "pong"
            await asyncio.sleep(0.25)
        msg = await asyncio.wait_for(ws.receive(), WAIT)  # then silence: the server closes
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4004 and ex.idle_closed == 1


# --------------------------------------------------------------------------------------------
# private WebSocket, demo host, faults
# --------------------------------------------------------------------------------------------


async def test_private_login_and_channels(ex: OkxSim, http: aiohttp.ClientSession) -> None:
    ws = await http.ws_connect(ex.base_ws + "/ws/v5/private")
    await ws.send_str(
        json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]})
    )
    assert (await recv_json(ws))["code"] == "60011"
    await ws.send_str(json.dumps(login_args(secret="wrong")))
    assert (await recv_json(ws))["code"] == "60007"
    await ws.send_str(json.dumps(login_args()))
    assert await recv_json(ws) == {
        "event": "login",
        "code": "0",
        "msg": "",
        "connId": ex.connections("private")[0].data["conn_id"],
    }
    sub = {
        "op": "subscribe",
        "args": [
            {"channel": "account"},
            {"channel": "positions", "instType": "ANY"},
            {"channel": "orders", "instType": "SWAP"},
        ],
    }
    await ws.send_str(json.dumps(sub))
    got: list[dict[str, Any]] = []

    async def until(pred: Any) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            f = await recv_json(ws)
            got.append(f)
            if pred(f):
                return f
        raise AssertionError("frame not seen")

    acct = await until(lambda f: f.get("arg", {}).get("channel") == "account" and "data" in f)
    assert acct["eventType"] == "snapshot" and acct["arg"]["uid"] and acct["lastPage"] is True
    pos = await until(lambda f: f.get("arg", {}).get("channel") == "positions" and "data" in f)
    assert pos["eventType"] == "snapshot" and pos["data"] == []
    mkt = {
        "instId": "BTC-USDT-SWAP",
        "tdMode": "cross",
        "side": "sell",
        "ordType": "market",
        "sz": "1",
        "clOrdId": "ws1",
    }
    _, body = await rest(http, ex, "POST", "/api/v5/trade/order", mkt)
    assert body["code"] == "0"
    filled = await until(
        lambda f: (
            f.get("arg", {}).get("channel") == "orders"
            and "data" in f
            and f["data"][0]["state"] == "filled"
        )
    )
    o = filled["data"][0]
    assert (o["clOrdId"], o["accFillSz"], o["execType"], o["instType"]) == ("ws1", "1", "T", "SWAP")
    p = await until(
        lambda f: (
            f.get("arg", {}).get("channel") == "positions" and f.get("eventType") == "event_update"
        )
    )
    assert p["data"][0]["pos"] == "-1"
    if not any(
        f.get("arg", {}).get("channel") == "account" and f.get("eventType") == "event_update"
        for f in got
    ):
        await until(
            lambda f: (
                f.get("arg", {}).get("channel") == "account"
                and f.get("eventType") == "event_update"
            )
        )
    # a spot order is not an instType SWAP order: never pushed on this subscription
    await ws.close()
    assert not any(
        f.get("data", [{}])[0].get("instType") == "SPOT"
        for f in got
        if f.get("arg", {}).get("channel") == "orders"
    )


async def test_demo_host(ex: OkxSim, http: aiohttp.ClientSession) -> None:
    assert ex.urls["wss://wspap.okx.com:8443"].endswith("/wspap")
    ws = await http.ws_connect(ex.urls["wss://wspap.okx.com:8443"] + "/ws/v5/private")
    await ws.send_str(json.dumps(login_args()))  # the live key is unknown there
    assert (await recv_json(ws))["code"] == "60005"
    await ws.send_str(json.dumps(login_args(DKEY, DSECRET, DPASS)))
    assert (await recv_json(ws))["event"] == "login"
    await ws.send_str(
        json.dumps({"op": "subscribe", "args": [{"channel": "account", "ccy": "USDT"}]})
    )
    await recv_json(ws)
    snap = await recv_json(ws)
    assert [d["cashBal"] for d in snap["data"][0]["details"]] == ["50000"]
    await ws.close()
    biz = await http.ws_connect(ex.base_ws + "/ws/v5/business")
    await biz.send_str(
        json.dumps({"op": "subscribe", "args": [{"channel": "candle1m", "instId": "BTC-USDT"}]})
    )
    assert (await recv_json(biz))["event"] == "subscribe"
    row = (await recv_json(biz))["data"][0]
    assert len(row) == 9 and row[-1] == "0"
    await biz.close()


async def test_faults(ex: OkxSim, http: aiohttp.ClientSession) -> None:
    ws = await _books(http, ex, ["BTC-USDT"])
    await recv_json(ws)
    await ex.wait_for(lambda: ex.connections("public"), WAIT)
    ex.faults.malformed("public")
    while True:
        msg = await asyncio.wait_for(ws.receive(), WAIT)
        try:
            json.loads(msg.data)
        except ValueError:
            break
    assert ex.faults.drop("public") == 1
    msg = await asyncio.wait_for(ws.receive(), WAIT)
    while msg.type == aiohttp.WSMsgType.TEXT:
        msg = await asyncio.wait_for(ws.receive(), WAIT)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


async def test_login_with_int_timestamp(ex: OkxSim, http: aiohttp.ClientSession) -> None:
    """python-okx (OKX's SDK) sends the login timestamp as a JSON number: accepted."""
    frame = login_args()
    frame["args"][0]["timestamp"] = int(frame["args"][0]["timestamp"])
    ws = await http.ws_connect(ex.base_ws + "/ws/v5/private")
    await ws.send_str(json.dumps(frame))
    assert (await recv_json(ws))["event"] == "login"
    await ws.close()


async def test_post_only_that_would_take_is_accepted_then_canceled(
    ex: OkxSim, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{ex.base_http}/api/v5/market/ticker?instId=ETH-USDT") as r:
        ask = (await r.json())["data"][0]["askPx"]
    order = {
        "instId": "ETH-USDT",
        "tdMode": "cash",
        "side": "buy",
        "ordType": "post_only",
        "sz": "0.01",
        "px": f"{float(ask) * 1.01:.2f}",
    }
    _, body = await rest(http, ex, "POST", "/api/v5/trade/order", order)
    assert body["code"] == "0"
    oid = body["data"][0]["ordId"]
    _, body = await rest(http, ex, "GET", f"/api/v5/trade/order?instId=ETH-USDT&ordId={oid}")
    assert (body["data"][0]["state"], body["data"][0]["accFillSz"]) == ("canceled", "0")
    _, body = await rest(http, ex, "GET", "/api/v5/account/positions?instType=SPOT")
    assert body["code"] == "51000"


async def test_stream_payloads_carry_the_recorded_fields(
    manual: OkxSim, http: aiohttp.ClientSession
) -> None:
    """Every key of OKX's recorded `tickers` and `books` payloads is in the sim's."""
    real: dict[str, set[str]] = {}
    for _, _, text in recorded.recv("OKX.jsonl"):
        msg = json.loads(text)
        ch = msg.get("arg", {}).get("channel")
        if ch in ("tickers", "books") and "data" in msg:
            real.setdefault(ch, set()).update(msg["data"][0])
    assert real["tickers"] and real["books"]
    ws = await http.ws_connect(manual.base_ws + "/ws/v5/public")
    args = [{"channel": c, "instId": "BTC-USDT"} for c in ("tickers", "books")]
    await ws.send_str(json.dumps({"op": "subscribe", "args": args}))
    await until_pong(ws)
    manual.tick()
    mine: dict[str, set[str]] = {}
    for f in await until_pong(ws):
        mine.setdefault(f["arg"]["channel"], set()).update(f["data"][0])
    assert real["tickers"] <= mine["tickers"], real["tickers"] - mine["tickers"]
    assert real["books"] | {"seqId", "prevSeqId"} <= mine["books"]
    await ws.close()


async def test_restart_and_noise(http: aiohttp.ClientSession) -> None:
    async with _make(tick_interval=0.02, book_keepalive_s=0.5) as ex:
        port = ex.port
        await ex.faults.restart(0.2)
        assert ex.port == port
        ex.faults.noise(every=3)
        ws = await _books(http, ex, ["BTC-USDT"])
        bad = good = 0
        while bad < 2 or good < 10:
            msg = await asyncio.wait_for(ws.receive(), WAIT)
            try:
                json.loads(msg.data)
                good += 1
            except ValueError:
                bad += 1
        assert ex.faults.noise_sent >= 2
        await ws.close()

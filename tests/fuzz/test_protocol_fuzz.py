"""Fuzz the sans-I/O protocols (issue 9): no exception escapes `receive`, `rest_response`, `tick`.

Frames start from real recorded traffic (tests/recorded.py: Binance, Bybit) and from the frames
the protocol unit tests use (IG, private streams), then are mutated: truncated, bytes flipped,
a value replaced by one of another type (string for number, list for object, null), a huge or
non-finite number written raw, the topic/stream renamed. Properties: nothing raises; every
`Malformed` returned is counted; and the protocol still turns a valid frame into its update
afterwards. REST bodies to `rest_response` get the same mutations. Derandomized (CI repeats
the same examples); each finding is kept as an explicit `@example`.
"""

from __future__ import annotations

import importlib
import json
import math
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import recorded
from spinstream.credentials import Credentials
from spinstream.protocol.binance import (
    BinanceSpotPublic,
    BinanceSpotUser,
    BinanceUsdmPublic,
    BinanceUsdmUser,
    Instrument,
)
from spinstream.protocol.bybit import BybitPrivate, BybitPublic
from spinstream.protocol.events import Malformed, OrderUpdate, TickerUpdate
from spinstream.protocol.lightstreamer import codec

S = 1_000_000_000
T0 = 1_786_310_817 * S
CREDS = Credentials.of("fuzz-key", "fuzz-secret-0123456789abcdef")
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

# --- mutations --------------------------------------------------------------------------------

ODD_TEXT = ["NaN", "Infinity", "-Infinity", "1e999", "-0", "", " 1", "0x10", "1_0", "\u0000"]
RAW_NUMBERS = ["1e999", "-1e999", "1" * 40, "-" + "9" * 30, "1e-999", "0", "-1", "1.5e308"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.sampled_from(ODD_TEXT),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=5,
)


def _paths(obj: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here] if here else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*here, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:4]):
            out += _paths(v, (*here, i))
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> str | bytes:
    """One seed frame, mutated one way."""
    seed = draw(st.sampled_from(seeds))
    how = draw(st.sampled_from(["truncate", "bytes", "value", "raw", "rename", "whole"]))
    if how == "truncate":
        return seed[: draw(st.integers(0, max(0, len(seed) - 1)))]
    if how == "bytes":
        data = bytearray(seed.encode())
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "whole":
        return json.dumps(draw(json_values))
    try:
        obj = json.loads(seed)
    except ValueError:
        return seed
    paths = _paths(obj)
    if not paths:
        return seed
    path = draw(st.sampled_from(paths))
    if how == "rename":  # an unknown channel/topic/stream/event name
        _set(obj, path, draw(st.sampled_from(["orderbook.9.X", "x@y", "tickers.ETH", "zz"])))
        return json.dumps(obj)
    if how == "value":
        _set(obj, path, draw(json_values))
        return json.dumps(obj)
    _set(obj, path, "__RAW__")  # a number JSON can carry but no float can
    return json.dumps(obj).replace('"__RAW__"', draw(st.sampled_from(RAW_NUMBERS)))


def run(p: Any, frame: str | bytes, good: str | bytes, ok: type, ts: int = T0) -> None:
    """The property: FRAME raises nothing and counts its Malformed; GOOD still gives OK."""
    before = p.counters.get("malformed", 0)
    events = p.receive(frame, ts)
    bad = sum(isinstance(e, Malformed) for e in events)
    assert p.counters.get("malformed", 0) - before >= bad
    _all_true(events)
    p.tick(ts + 1)
    after = p.receive(good, ts + 2)
    assert any(isinstance(e, ok) for e in after), after


def _all_true(events: list[Any]) -> None:
    """No update carries a value that cannot be true (issue 9 defect 2)."""
    for e in events:
        if isinstance(e, TickerUpdate):
            t = e.ticker
            low = -math.inf if t.venue == "ig" else 0.0  # IG prices may be negative
            assert all(v is None or low < v < math.inf for v in (t.bid, t.ask, t.last)), t
            sizes = (t.bid_size, t.ask_size, t.volume_24h)
            assert all(v is None or 0.0 <= v < math.inf for v in sizes), t
        elif isinstance(e, OrderUpdate):
            for o in e.orders:
                assert 0.0 <= o.quantity < math.inf and 0.0 <= o.filled < math.inf, o
                assert o.price is None or math.isfinite(o.price), o


def rest_run(p: Any, body: str | bytes, status: int, good: Callable[[Any], None]) -> None:
    """A REST answer raises nothing from `rest_response` (to any request it has out)."""
    for req in p.requests():
        raw = body.encode() if isinstance(body, str) else body
        p.rest_response(req.req_id, status, raw, T0)
    p.tick(T0 + 60 * S)
    good(p)


# --- seeds ------------------------------------------------------------------------------------


def _recorded(name: str, keep: Callable[[str], bool], n: int = 40) -> list[str]:
    frames = [f for _c, _t, f in recorded.recv(name) if keep(f)]
    random.Random(9).shuffle(frames)
    return frames[:n]


BINANCE = _recorded("BINANCE.jsonl", lambda f: "nknusdt@" in f)
BYBIT = _recorded("BYBIT.jsonl", lambda f: '"BTCUSDT"' in f and "ws" in f)
BINANCE_GOOD = json.dumps({"stream": "nknusdt@bookTicker", "data": {
    "u": 1, "s": "NKNUSDT", "b": "0.3521", "B": "672", "a": "0.3526", "A": "3199"}})  # fmt: skip
BYBIT_GOOD = json.dumps({"topic": "tickers.BTCUSDT", "type": "snapshot", "ts": 1, "data": {
    "symbol": "BTCUSDT", "bid1Price": "1", "bid1Size": "1", "ask1Price": "2", "ask1Size": "1",
    "lastPrice": "1.5", "volume24h": "10"}})  # fmt: skip


def binance_public(cls: type = BinanceSpotPublic) -> Any:
    inst = {"NKNUSDT": Instrument(symbol="NKNUSDT", price_decimals=8, size_decimals=8)}
    p = cls(cls.market, instruments=inst)
    p.subscribe("ticker", "NKNUSDT")
    p.subscribe("book", "NKNUSDT")
    p.connected(T0)
    p.outgoing()
    for f in BINANCE[:5]:
        p.receive(f, T0)
    return p


def bybit_public() -> BybitPublic:
    p = BybitPublic("linear")
    p.set_instrument("BTCUSDT", "0.10", "0.001")
    p.connected(T0)
    for kind in ("ticker", "book", "trades"):
        p.subscribe(kind, "BTCUSDT")
    p.outgoing()
    for f in BYBIT[:5]:
        p.receive(f, T0)
    return p


@given(frame=mutated(BINANCE + [BINANCE_GOOD]))
@example(frame=BINANCE_GOOD.replace('"0.3521"', "1e999"))
@example(frame=BINANCE_GOOD.replace('"0.3521"', '"NaN"'))
@example(frame=BINANCE_GOOD.replace('"0.3521"', "[]"))
@FUZZ
def test_binance_spot_public(frame: str | bytes) -> None:
    run(binance_public(), frame, BINANCE_GOOD, TickerUpdate)


@given(frame=mutated(BINANCE + [BINANCE_GOOD]))
@FUZZ
def test_binance_usdm_public(frame: str | bytes) -> None:
    run(binance_public(BinanceUsdmPublic), frame, BINANCE_GOOD, TickerUpdate)


@given(frame=mutated(BYBIT + [BYBIT_GOOD]))
@example(frame=BYBIT_GOOD.replace('"1.5"', '"Infinity"'))
@FUZZ
def test_bybit_public(frame: str | bytes) -> None:
    run(bybit_public(), frame, BYBIT_GOOD, TickerUpdate)


SNAPSHOT = json.dumps({"lastUpdateId": 1, "bids": [["0.35", "1"]], "asks": [["0.36", "1"]]})
INSTRUMENTS = json.dumps({"retCode": 0, "result": {"category": "linear", "list": [
    {"symbol": "ETHUSDT", "priceFilter": {"tickSize": "0.01"},
     "lotSizeFilter": {"qtyStep": "0.001"}}]}})  # fmt: skip


@given(body=mutated([SNAPSHOT, '{"symbols": []}', '{"code": -1121, "msg": "x"}']),
       status=st.sampled_from([200, 400, 429, 500, 0]))  # fmt: skip
@FUZZ
def test_binance_public_rest(body: str | bytes, status: int) -> None:
    p = binance_public()
    p.subscribe("book", "ETHUSDT")  # no decimals: exchangeInfo goes out too
    rest_run(p, body, status, lambda p: run(p, BINANCE_GOOD, BINANCE_GOOD, TickerUpdate))


@given(body=mutated([INSTRUMENTS]), status=st.sampled_from([200, 403, 500]))
@FUZZ
def test_bybit_public_rest(body: str | bytes, status: int) -> None:
    p = bybit_public()
    p.subscribe("book", "ETHUSDT")
    rest_run(p, body, status, lambda p: run(p, BYBIT_GOOD, BYBIT_GOOD, TickerUpdate))


# --- private streams --------------------------------------------------------------------------

SEED_MS = 1_700_000_000_000
EXEC = json.dumps({"subscriptionId": 0, "event": {
    "e": "executionReport", "E": SEED_MS + 5, "s": "BTCUSDT", "c": "c1", "C": "", "S": "BUY",
    "o": "LIMIT", "f": "GTC", "q": "1.0", "p": "100.0", "X": "NEW", "i": 1, "z": "0", "Z": "0",
    "T": SEED_MS + 5}})  # fmt: skip
SPOT_EVENTS = [EXEC, json.dumps({"subscriptionId": 0, "event": {
    "e": "outboundAccountPosition", "E": SEED_MS + 5, "u": SEED_MS + 5,
    "B": [{"a": "BTC", "f": "2", "l": "0.5"}]}}), json.dumps({"subscriptionId": 0, "event": {
    "e": "balanceUpdate", "E": SEED_MS + 6, "a": "BTC", "d": "-0.5",
    "T": SEED_MS + 6}})]  # fmt: skip
ACCOUNT_SEED = json.dumps({"updateTime": SEED_MS, "balances": [
    {"asset": "BTC", "free": "1", "locked": "0"}]})  # fmt: skip
ORDERS_SEED = json.dumps([{"symbol": "BTCUSDT", "orderId": 1, "price": "100", "origQty": "1",
                           "executedQty": "0", "status": "NEW", "type": "LIMIT", "side": "BUY"}])


def spot_user(seed: bool = True) -> BinanceSpotUser:
    p = BinanceSpotUser("spot", CREDS)
    p.subscribe("account")
    p.subscribe("orders")
    p.connected(T0)
    (login,) = [json.loads(f) for f in p.outgoing()]
    p.receive(json.dumps({"id": login["id"], "status": 200, "result": {"subscriptionId": 0}}), T0)
    if seed:
        reqs = {r.path: r for r in p.requests()}
        p.rest_response(reqs["/api/v3/openOrders"].req_id, 200, ORDERS_SEED.encode(), T0)
        p.rest_response(reqs["/api/v3/account"].req_id, 200, ACCOUNT_SEED.encode(), T0)
    return p


@given(frame=mutated(SPOT_EVENTS))
@FUZZ
def test_binance_spot_user(frame: str | bytes) -> None:
    run(spot_user(), frame, EXEC, OrderUpdate)


@given(body=mutated([ACCOUNT_SEED, ORDERS_SEED]), status=st.sampled_from([200, 401, 500]))
@FUZZ
def test_binance_spot_user_seeds(body: str | bytes, status: int) -> None:
    p = spot_user(seed=False)
    p.receive(EXEC, T0)  # held for the seed
    rest_run(p, body, status, lambda p: None)
    for req in p.requests():  # the retries get good answers: the stream goes live
        good = ACCOUNT_SEED if "account" in req.path else ORDERS_SEED
        p.rest_response(req.req_id, 200, good.encode(), T0 + 61 * S)
    if p.state.name == "LIVE":
        run(p, EXEC, EXEC, OrderUpdate, T0 + 62 * S)


USDM_ORDER = json.dumps({"e": "ORDER_TRADE_UPDATE", "E": 1, "T": 1, "o": {
    "s": "BTCUSDT", "c": "x1", "S": "SELL", "o": "LIMIT", "f": "GTC", "q": "0.5", "p": "42000",
    "ap": "0", "X": "NEW", "i": 9, "z": "0", "T": 1}})  # fmt: skip
USDM_EVENTS = [USDM_ORDER, json.dumps({"e": "ACCOUNT_UPDATE", "E": 2, "T": 2, "a": {
    "m": "ORDER", "B": [{"a": "USDT", "wb": "9990", "cw": "9990"}],
    "P": [{"s": "BTCUSDT", "pa": "0.5", "ep": "40000", "up": "-1", "ps": "BOTH"}]}})]  # fmt: skip


def usdm_user() -> BinanceUsdmUser:
    p = BinanceUsdmUser("usdm", CREDS)
    p.start(T0)
    (post,) = p.requests()
    p.rest_response(post.req_id, 200, json.dumps({"listenKey": "k" * 60}).encode(), T0)
    p.connected(T0)
    for r in p.requests():
        p.rest_response(r.req_id, 200, b'{"assets": []}' if "account" in r.path else b"[]", T0)
    return p


@given(frame=mutated(USDM_EVENTS))
@example(frame=USDM_EVENTS[1].replace('"40000"', '"0"'))
@FUZZ
def test_binance_usdm_user(frame: str | bytes) -> None:
    run(usdm_user(), frame, USDM_ORDER, OrderUpdate)


def bybit_push(topic: str, data: list[dict[str, Any]]) -> str:
    return json.dumps({"id": "x", "topic": topic, "creationTime": 1700034722104, "data": data})


BYBIT_ORDER = bybit_push("order", [{
    "category": "linear", "symbol": "BTCUSDT", "orderId": "L", "orderLinkId": "", "side": "Buy",
    "orderType": "Limit", "price": "60000", "qty": "0.01", "cumExecQty": "0", "avgPrice": "",
    "orderStatus": "New", "timeInForce": "GTC", "updatedTime": "1700000000000"}])  # fmt: skip
BYBIT_PRIVATE = [BYBIT_ORDER, bybit_push("wallet", [{
    "accountType": "UNIFIED", "totalEquity": "1000", "totalAvailableBalance": "900",
    "coin": [{"coin": "USDT", "walletBalance": "100", "locked": "10"}]}]),
    bybit_push("position", [{
        "category": "linear", "symbol": "BTCUSDT", "side": "Buy", "size": "0.3",
        "positionIdx": 0, "entryPrice": "60000", "markPrice": "60100", "unrealisedPnl": "1",
        "leverage": "10", "updatedTime": "1700000000000", "seq": 20}]),
    bybit_push("execution", [{
        "category": "linear", "symbol": "BTCUSDT", "orderId": "L", "side": "Buy",
        "execId": "e1", "execPrice": "60000", "execQty": "0.01", "execType": "Trade",
        "execTime": "1700000000001"}]),
    '{"success":true,"ret_msg":"","op":"auth","conn_id":"c"}', '{"op":"pong"}']  # fmt: skip
BYBIT_SEED = json.dumps({"retCode": 0, "retMsg": "OK", "time": 1700000000500,
                         "result": {"list": [], "nextPageCursor": ""}})  # fmt: skip


def bybit_private(seed: bool = True) -> BybitPrivate:
    p = BybitPrivate("linear", CREDS)
    p.connected(T0)
    p.outgoing()
    p.receive('{"success":true,"ret_msg":"","op":"auth","conn_id":"c"}', T0)
    (sub,) = [json.loads(f) for f in p.outgoing()]
    p.receive(json.dumps({"success": True, "ret_msg": "", "op": "subscribe",
                          "req_id": sub["req_id"]}), T0)  # fmt: skip
    if seed:
        for r in p.requests():
            p.rest_response(r.req_id, 200, BYBIT_SEED.encode(), T0)
    return p


@given(frame=mutated(BYBIT_PRIVATE))
@FUZZ
def test_bybit_private(frame: str | bytes) -> None:
    run(bybit_private(), frame, BYBIT_ORDER, OrderUpdate)


@given(body=mutated([BYBIT_SEED, BYBIT_SEED.replace("[]", json.loads(BYBIT_ORDER)["data"]
                                                   .__repr__().replace("'", '"'))]),
       status=st.sampled_from([200, 403, 500]))  # fmt: skip
@example(body=BYBIT_SEED.replace("[]", json.dumps(json.loads(BYBIT_ORDER)["data"]))
         .replace('"60000"', '"orderbook.9.X"'), status=200)  # raised out of rest_response
@example(body=BYBIT_SEED.replace("[]", json.dumps(json.loads(BYBIT_ORDER)["data"]))
         .replace('"Buy"', '"orderbook.9.X"'), status=200)
@FUZZ
def test_bybit_private_seeds(body: str | bytes, status: int) -> None:
    p = bybit_private(seed=False)
    p.receive(BYBIT_PRIVATE[0].replace('"0.01"', '"NaN"'), T0)  # held for the seed; bad
    rest_run(p, body, status, lambda p: None)
    for req in p.requests():  # the retries get good answers: the stream goes live
        p.rest_response(req.req_id, 200, BYBIT_SEED.encode(), T0 + 61 * S)
    run(p, BYBIT_ORDER, BYBIT_ORDER, OrderUpdate, T0 + 62 * S)


# --- IG ---------------------------------------------------------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "protocol"))
ig = importlib.import_module("ig.test_ig_protocol")  # the IG unit tests' fake server
b = importlib.import_module("ig.ig_bodies")


def ig_stream() -> tuple[Any, Any, dict[str, Any]]:
    stream, server = ig.ready_stream()
    for kind in ("positions", "orders", "confirms", "account"):
        stream.subscribe(kind, None)
    stream.subscribe("market", b.EPIC)
    server.open()
    server.read()
    server.subok(f"TRADE:{b.ACCOUNT_ID}")
    return stream, server, ig.seeds(stream)


_STREAM, IG_SERVER, _REQS = ig_stream()
PRICE_ITEM, TRADE_ITEM = f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}", f"TRADE:{b.ACCOUNT_ID}"
IG_UPDATES: list[tuple[str, dict[str, str | None]]] = [
    (PRICE_ITEM, {"BIDPRICE1": "1.0845", "ASKPRICE1": "1.0846", "BIDSIZE1": "5",
                  "ASKSIZE1": "3", "TIMESTAMP": "1709547000123"}),
    (f"ACCOUNT:{b.ACCOUNT_ID}", {"PNL": "-1", "EQUITY": "9", "AVAILABLE_TO_DEAL": "8"}),
    (TRADE_ITEM, {"OPU": json.dumps(b.opu("D9", "OPEN", "BUY", 2, 1.0855))}),
    (TRADE_ITEM, {"WOU": json.dumps(b.wou("W3", "OPEN", "SELL", 1, 1.095))}),
    (TRADE_ITEM, {"CONFIRMS": json.dumps(b.confirm(ref="R", deal_id="D9"))}),
]  # fmt: skip


def ig_line(item: str, values: dict[str, str | None]) -> str:
    sub_id, fields = IG_SERVER.subs[item]
    return codec.format_update(sub_id, 1, None, [values.get(f) for f in fields])


IG_GOOD = ig_line(*IG_UPDATES[0])


@st.composite
def ig_mutated(draw: st.DrawFn) -> str:
    """A full TLCP update line with one field's value mutated (TRADE JSON mutated inside)."""
    item, values = draw(st.sampled_from(IG_UPDATES))
    field = draw(st.sampled_from(sorted(values)))
    text = values[field] or ""
    if text.startswith("{"):
        new = draw(mutated([text]))
        new = new.decode("utf-8", "replace") if isinstance(new, bytes) else new
    else:
        new = draw(st.sampled_from(ODD_TEXT + RAW_NUMBERS) | st.text(max_size=6))
    return ig_line(item, {**values, field: new})


@given(line=ig_mutated())
@FUZZ
def test_ig_stream(line: str) -> None:
    stream, _server, reqs = ig_stream()
    ig.answer(stream, reqs["/positions"], 200, b.POSITIONS)
    ig.answer(stream, reqs["/workingorders"], 200, b.WORKING_ORDERS)
    frame = codec.server_frame([line])
    run(stream, frame, codec.server_frame([IG_GOOD]), TickerUpdate, ig.T0)


@given(body=mutated([b.POSITIONS.decode(), b.WORKING_ORDERS.decode()]),
       status=st.sampled_from([200, 400, 401, 500]))  # fmt: skip
@FUZZ
def test_ig_seeds(body: str | bytes, status: int) -> None:
    stream, server, reqs = ig_stream()
    held = {"OPU": json.dumps(b.opu("D9", "OPEN", "BUY", "NaN", 1.0855))}
    server.send(ig_line(TRADE_ITEM, held))  # held for the seed; bad on replay
    for req in reqs.values():
        ig.answer(stream, req, status, body.encode() if isinstance(body, str) else body)
    stream.tick(ig.T0 + S)
    good = codec.server_frame([IG_GOOD])
    run(stream, good, good, TickerUpdate, ig.T0 + S)

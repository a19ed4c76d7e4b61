"""bybit.protocol: public and private stream rules from lists of frames, no event loop.

Frames are shaped like the recorded traffic (BYBIT.jsonl) and the v5 docs' examples.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinstream.credentials import Credentials
from spinstream.errors import ProtocolError, UnsupportedError
from spinstream.protocol.bybit import PROTOCOLS, SPEC, BybitPrivate, BybitPublic
from spinstream.protocol.bybit.protocol import Link, Session
from spinstream.protocol.events import (
    AccountUpdate,
    Authenticated,
    AuthFailed,
    BalanceUpdate,
    BookUpdated,
    Fresh,
    Malformed,
    OrderUpdate,
    PositionUpdate,
    Stale,
    Subscribed,
    TickerUpdate,
    TradeUpdate,
)

MS = 1_000_000
S = 1_000_000_000
T0 = 1_786_310_818_000 * MS
KEY = "privKeyABC"
SECRET = "priv-test-secret-9f8e7d"
CREDS = Credentials.of(KEY, SECRET)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def sent(p: BybitPublic | BybitPrivate) -> list[dict[str, Any]]:
    return [json.loads(f) for f in p.outgoing()]


def types(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def ack(req_id: str | None, ok: bool = True, msg: str = "", op: str = "subscribe") -> str:
    out: dict[str, Any] = {"success": ok, "ret_msg": msg, "conn_id": "c1", "op": op}
    if req_id is not None:
        out["req_id"] = req_id
    return dumps(out)


def book(
    sym: str, kind: str, u: int, b: list[list[str]], a: list[list[str]], depth: int = 200
) -> str:
    return dumps({"topic": f"orderbook.{depth}.{sym}", "type": kind, "ts": 1786310818129,
                  "data": {"s": sym, "b": b, "a": a, "u": u, "seq": 7000 + u},
                  "cts": 1786310818128})  # fmt: skip


def ticker(sym: str, kind: str, data: dict[str, str], ts: int = 1786310817583) -> str:
    return dumps({"topic": f"tickers.{sym}", "type": kind, "data": {"symbol": sym, **data},
                  "cs": 1, "ts": ts})  # fmt: skip


def instruments(category: str, sym: str, price: dict[str, str], lot: dict[str, str]) -> str:
    inst = {"symbol": sym, "priceFilter": price, "lotSizeFilter": lot}
    return dumps({"retCode": 0, "result": {"category": category, "list": [inst]}})


def linear(**kw: Any) -> BybitPublic:
    p = BybitPublic("linear", **kw)
    p.set_instrument("BTCUSDT", "0.10", "0.001")
    p.connected(T0)
    return p


# -- public: subscriptions -------------------------------------------------------------------


def test_spec_endpoints_and_paths() -> None:
    assert (
        SPEC.name == "bybit"
        and SPEC.markets == ("linear", "spot")
        and SPEC.default_market == "linear"
    )
    assert SPEC.envs == ("live", "testnet", "demo")
    assert SPEC.rest_bases["linear"] == {
        "live": "https://api.bybit.com",
        "testnet": "https://api-testnet.bybit.com",
        "demo": "https://api-demo.bybit.com",
    }
    assert SPEC.rest_bases["spot"] == SPEC.rest_bases["linear"]
    for ep in ("linear-public", "spot-public"):  # demo has no public streams: mainnet's
        assert SPEC.ws_bases[ep] == {
            "live": "wss://stream.bybit.com",
            "testnet": "wss://stream-testnet.bybit.com",
            "demo": "wss://stream.bybit.com",
        }
    assert SPEC.ws_bases["private"]["demo"] == "wss://stream-demo.bybit.com"
    assert SPEC.ws_bases["private"]["testnet"] == "wss://stream-testnet.bybit.com"
    pub = BybitPublic("spot", env="demo")
    assert pub.endpoint == "spot-public" and pub.connect_path() == "/v5/public/spot"
    assert SPEC.ws_bases[pub.endpoint]["demo"] + pub.connect_path() == (
        "wss://stream.bybit.com/v5/public/spot"
    )
    priv = BybitPrivate("linear", CREDS, env="demo")
    assert SPEC.ws_bases[priv.endpoint]["demo"] + priv.connect_path() == (
        "wss://stream-demo.bybit.com/v5/private"
    )
    for (market, kind), cls in PROTOCOLS.items():
        assert market in SPEC.markets
        assert cls is (BybitPrivate if kind in ("account", "positions", "orders") else BybitPublic)
    assert ("spot", "positions") not in PROTOCOLS and ("linear", "positions") in PROTOCOLS
    assert {k for _, k in PROTOCOLS} == {
        "ticker",
        "book",
        "trades",
        "account",
        "positions",
        "orders",
    }


def test_bad_construction() -> None:
    with pytest.raises(UnsupportedError):
        BybitPublic("inverse")
    with pytest.raises(ValueError):
        BybitPublic("linear", book_depth=1)
    with pytest.raises(ValueError):
        BybitPublic("linear", env="mainnet")
    with pytest.raises(ValueError):
        BybitPrivate("linear", None)
    with pytest.raises(UnsupportedError):
        BybitPublic("linear").subscribe("account", "BTCUSDT")
    with pytest.raises(ValueError):
        BybitPublic("linear").subscribe("ticker", None)


def test_subscribe_frames_and_acks() -> None:
    p = linear()
    assert p.outgoing() == [] and p.requests() == []
    p.subscribe("ticker", "BTCUSDT")
    p.subscribe("book", "BTCUSDT")
    p.subscribe("trades", "BTCUSDT")
    p.subscribe("trades", "BTCUSDT")  # again: nothing new
    frames = sent(p)
    assert frames == [
        {"op": "subscribe", "req_id": "1", "args": ["tickers.BTCUSDT"]},
        {"op": "subscribe", "req_id": "2", "args": ["orderbook.200.BTCUSDT"]},
        {"op": "subscribe", "req_id": "3", "args": ["publicTrade.BTCUSDT"]},
    ]
    assert p.subscriptions() == {("ticker", "BTCUSDT"), ("book", "BTCUSDT"), ("trades", "BTCUSDT")}
    # linear echoes req_id; an ack without one (spot format) takes the oldest request
    ev = p.receive(ack("2"), T0) + p.receive(ack(None, msg="subscribe"), T0)
    assert ev == [
        Subscribed(venue="bybit", topic="orderbook.200.BTCUSDT", ts_recv=T0),
        Subscribed(venue="bybit", topic="tickers.BTCUSDT", ts_recv=T0),
    ]
    assert p.receive(
        ack("3", ok=False, msg="error:already subscribed,topic:publicTrade.BTCUSDT"), T0
    ) == [Subscribed(venue="bybit", topic="publicTrade.BTCUSDT", ts_recv=T0)]
    assert p.receive(ack("99"), T0) == [] and p.counters["unmatched_acks"] == 1


def test_subscribe_before_connect_is_sent_on_connect() -> None:
    p = BybitPublic("linear")
    p.subscribe("trades", "ETHUSDT")
    assert p.outgoing() == []
    p.connected(T0)
    assert sent(p) == [{"op": "subscribe", "req_id": "1", "args": ["publicTrade.ETHUSDT"]}]


def test_refused_subscription_is_stale() -> None:
    p = linear()
    p.subscribe("ticker", "NOPEUSDT")
    p.outgoing()
    (ev,) = p.receive(ack("1", ok=False, msg="error:handler not found,topic:tickers.NOPEUSDT"), T0)
    assert isinstance(ev, Stale) and (ev.kind, ev.symbol, ev.market) == (
        "ticker",
        "NOPEUSDT",
        "linear",
    )
    assert "handler not found" in ev.reason and p.counters["sub_failed"] == 1


def test_unsubscribe() -> None:
    p = linear()
    p.subscribe("ticker", "BTCUSDT")
    p.receive(ack("1"), T0)
    p.outgoing()
    p.unsubscribe("ticker", "BTCUSDT")
    assert sent(p) == [{"op": "unsubscribe", "req_id": "2", "args": ["tickers.BTCUSDT"]}]
    assert p.subscriptions() == set()
    assert p.receive(ticker("BTCUSDT", "snapshot", {"lastPrice": "1"}), T0) == []  # in flight
    assert p.counters["unsubscribed"] == 1
    assert p.receive(ack("2", op="unsubscribe"), T0) == []


def test_unsubscribe_before_the_ack_and_before_connecting() -> None:
    p = linear()
    p.subscribe("trades", "BTCUSDT")
    p.outgoing()
    p.unsubscribe("trades", "BTCUSDT")  # sent, not yet acked: Bybit holds it, so unsubscribe
    assert [(f["op"], f["args"]) for f in sent(p)] == [("unsubscribe", ["publicTrade.BTCUSDT"])]
    assert p.receive(ack("1"), T0) == []  # the late ack of a topic we no longer want
    q = BybitPublic("linear")
    q.subscribe("trades", "BTCUSDT")
    q.unsubscribe("trades", "BTCUSDT")
    q.connected(T0)
    assert q.outgoing() == []


# -- public: tickers ---------------------------------------------------------------------------


def test_linear_ticker_delta_merges_into_snapshot() -> None:
    p = linear()
    p.subscribe("ticker", "BTCUSDT")
    snap = {"lastPrice": "65114.30", "bid1Price": "65114.20", "bid1Size": "5.954",
            "ask1Price": "65114.30", "ask1Size": "10.470", "volume24h": "17573.9120",
            "markPrice": "65117.44"}  # fmt: skip
    (e1,) = p.receive(ticker("BTCUSDT", "snapshot", snap), T0 + 1)
    (e2,) = p.receive(ticker("BTCUSDT", "delta", {"bid1Size": "6.054", "ask1Size": "10.486"},
                             1786310817883), T0 + 2)  # fmt: skip
    (e3,) = p.receive(
        ticker("BTCUSDT", "delta", {"markPrice": "65117.43", "ask1Price": "65114.40"}), T0 + 3
    )
    assert (
        isinstance(e1, TickerUpdate)
        and isinstance(e2, TickerUpdate)
        and isinstance(e3, TickerUpdate)
    )
    t1, t2, t3 = e1.ticker, e2.ticker, e3.ticker
    assert (t1.bid, t1.bid_size, t1.ask, t1.ask_size, t1.last) == (
        65114.2,
        5.954,
        65114.3,
        10.47,
        65114.3,
    )
    assert (t2.bid, t2.bid_size, t2.ask, t2.ask_size, t2.last) == (
        65114.2,
        6.054,
        65114.3,
        10.486,
        65114.3,
    )
    assert (t3.ask, t3.ask_size, t3.volume_24h) == (65114.4, 10.486, 17573.912)
    assert t2.ts_event == 1786310817883 * MS and t2.last_update == T0 + 2 and t2.source == "ws"


def test_ticker_delta_before_snapshot_is_malformed() -> None:
    p = linear()
    p.subscribe("ticker", "BTCUSDT")
    (ev,) = p.receive(ticker("BTCUSDT", "delta", {"bid1Size": "1"}), T0)
    assert isinstance(ev, Malformed) and "before its snapshot" in ev.reason


def test_spot_ticker_from_level1_book_and_tickers() -> None:
    p = BybitPublic("spot")
    p.connected(T0)
    p.subscribe("ticker", "BTCUSDT")
    assert [f["args"] for f in sent(p)] == [["tickers.BTCUSDT"], ["orderbook.1.BTCUSDT"]]
    # no bid/ask in spot tickers: nothing is served before orderbook.1 (test_spot_ticker_sides)
    assert (
        p.receive(
            ticker("BTCUSDT", "snapshot", {"lastPrice": "65140.5", "volume24h": "2953.8"}), T0
        )
        == []
    )
    l1 = dumps({"topic": "orderbook.1.BTCUSDT", "ts": "1786310816618", "type": "snapshot",
                "data": {"s": "BTCUSDT", "b": [["65140.4", "0.875077"]],
                         "a": [["65140.5", "0.472215"]], "u": 62505425, "seq": 1}})  # fmt: skip
    (e2,) = p.receive(l1, T0 + 1)
    assert isinstance(e2, TickerUpdate)
    t = e2.ticker
    assert (t.market, t.bid, t.bid_size, t.ask, t.ask_size) == (
        "spot",
        65140.4,
        0.875077,
        65140.5,
        0.472215,
    )
    assert t.last == 65140.5 and t.ts_event == 1786310816618 * MS  # a string ts is accepted
    (e3,) = p.receive(ticker("BTCUSDT", "snapshot", {"lastPrice": "65141"}), T0 + 2)
    assert isinstance(e3, TickerUpdate) and (e3.ticker.bid, e3.ticker.last) == (65140.4, 65141.0)


# -- public: books -----------------------------------------------------------------------------


def booked(p: BybitPublic) -> None:
    p.subscribe("book", "BTCUSDT")
    p.receive(ack("1"), T0)
    p.outgoing()


def top(ev: Any) -> tuple[Any, Any]:
    assert isinstance(ev, BookUpdated)
    return ev.book.best_bid(), ev.book.best_ask()


def test_book_snapshot_then_consecutive_deltas() -> None:
    p = linear()
    booked(p)
    bids = [["65114.20", "6.054"], ["65114.10", "0.002"]]
    (e1,) = p.receive(book("BTCUSDT", "snapshot", 100, bids, [["65114.30", "10.488"]]), T0 + 1)
    assert top(e1) == ((6511420, 6054), (6511430, 10488))
    assert isinstance(e1, BookUpdated)
    assert (e1.venue, e1.market, e1.symbol, e1.seq, e1.ts_recv) == (
        "bybit",
        "linear",
        "BTCUSDT",
        100,
        T0 + 1,
    )
    assert e1.ts_event == 1786310818129 * MS
    (e2,) = p.receive(
        book("BTCUSDT", "delta", 101, [["65114.20", "0"]], [["65114.30", "1.5"]]), T0 + 2
    )
    assert top(e2) == ((6511410, 2), (6511430, 1500))
    assert p.receive(book("BTCUSDT", "delta", 101, [["65114.10", "9"]], []), T0 + 3) == []  # stale
    assert e2.book.bid_count == 1  # type: ignore[union-attr]
    e2.book._check()  # type: ignore[union-attr]


def test_book_gap_is_stale_and_resubscribes_then_resyncs_on_snapshot() -> None:
    p = linear()
    booked(p)
    p.receive(book("BTCUSDT", "snapshot", 100, [["10.00", "1"]], [["11.00", "1"]]), T0)
    (ev,) = p.receive(book("BTCUSDT", "delta", 102, [["10.00", "2"]], []), T0 + 1)
    assert isinstance(ev, Stale) and (ev.kind, ev.symbol, ev.market) == (
        "book",
        "BTCUSDT",
        "linear",
    )
    assert "gap" in ev.reason
    assert sent(p) == [
        {"op": "unsubscribe", "req_id": "2", "args": ["orderbook.200.BTCUSDT"]},
        {"op": "subscribe", "req_id": "3", "args": ["orderbook.200.BTCUSDT"]},
    ]
    assert p.counters["gaps"] == 1 and p.counters["resyncs"] == 1
    assert p.receive(book("BTCUSDT", "delta", 103, [["10.00", "3"]], []), T0 + 2) == []  # held
    p.receive(ack("2", op="unsubscribe"), T0 + 3)
    assert types(p.receive(ack("3"), T0 + 3)) == ["Subscribed"]
    (ev2,) = p.receive(book("BTCUSDT", "snapshot", 500, [["10.10", "4"]], [["11.00", "1"]]), T0 + 4)
    assert top(ev2) == ((1010, 4000), (1100, 1000))
    (ev3,) = p.receive(book("BTCUSDT", "delta", 501, [["10.20", "1"]], []), T0 + 5)
    assert top(ev3)[0] == (1020, 1000)


def test_book_u1_restart_resets() -> None:
    p = linear()
    booked(p)
    p.receive(book("BTCUSDT", "snapshot", 100, [["10.00", "1"]], [["11.00", "1"]]), T0)
    (ev,) = p.receive(book("BTCUSDT", "delta", 1, [["9.00", "1"]], [["12.00", "2"]]), T0 + 1)
    assert top(ev) == ((900, 1000), (1200, 2000))  # the u == 1 message is the whole book
    assert isinstance(ev, BookUpdated) and ev.book.bid_count == ev.book.ask_count == 1


def test_lenient_sequence_option_applies_jumps() -> None:
    p = linear(strict_seq=False)
    booked(p)
    p.receive(book("BTCUSDT", "snapshot", 100, [["10.00", "1"]], [["11.00", "1"]]), T0)
    assert types(p.receive(book("BTCUSDT", "delta", 150, [["10.00", "2"]], []), T0)) == [
        "BookUpdated"
    ]


def test_crossed_book_is_stale_and_resubscribed() -> None:
    p = linear()
    booked(p)
    (ev,) = p.receive(book("BTCUSDT", "snapshot", 100, [["12.00", "1"]], [["11.00", "1"]]), T0)
    assert isinstance(ev, Stale) and ev.kind == "book" and "crossed" in ev.reason
    assert [f["op"] for f in sent(p)] == ["unsubscribe", "subscribe"]


def test_bad_level_refetches_the_instrument() -> None:
    p = linear()
    booked(p)
    (ev,) = p.receive(book("BTCUSDT", "snapshot", 100, [["10.005", "1"]], [["11.00", "1"]]), T0)
    assert isinstance(ev, Stale) and "bad level" in ev.reason
    (req,) = p.requests()
    assert (
        req.path == "/v5/market/instruments-info" and req.query == "category=linear&symbol=BTCUSDT"
    )
    assert [f["op"] for f in sent(p)] == ["unsubscribe"]  # resubscribed once the steps are in
    inst = instruments("linear", "BTCUSDT", {"tickSize": "0.005"}, {"qtyStep": "0.001"})
    assert p.rest_response(req.req_id, 200, inst.encode(), T0 + 1) == []
    assert [(f["op"], f["args"]) for f in sent(p)] == [("subscribe", ["orderbook.200.BTCUSDT"])]
    (ev2,) = p.receive(
        book("BTCUSDT", "snapshot", 100, [["10.005", "1"]], [["11.00", "1"]]), T0 + 2
    )
    assert top(ev2)[0] == (10005, 1000)


def test_book_decimals_from_a_rest_instruments_request() -> None:
    p = BybitPublic("spot")
    p.connected(T0)
    p.subscribe("book", "ETHUSDT")
    assert p.outgoing() == []  # waits for the decimals
    (req,) = p.requests()
    assert (req.method, req.base, req.path, req.query) == (
        "GET", "spot", "/v5/market/instruments-info", "category=spot&symbol=ETHUSDT",
    )  # fmt: skip
    assert req.req_id > 0 and req.cost == {"ip": 1}
    # a failed answer: stale, retried after RETRY_S from tick()
    (ev,) = p.rest_response(req.req_id, 200, b'{"retCode":10016,"retMsg":"busy","result":{}}', T0)
    assert isinstance(ev, Stale) and ev.kind == "book" and "busy" in ev.reason
    p.tick(T0 + int(p.RETRY_S * S) - 1)
    assert p.requests() == []
    p.tick(T0 + int(p.RETRY_S * S))
    (req2,) = p.requests()
    inst = instruments("spot", "ETHUSDT", {"tickSize": "0.01"}, {"basePrecision": "0.00001"})
    assert p.rest_response(req2.req_id, 200, inst.encode(), T0) == []
    assert [(f["op"], f["args"]) for f in sent(p)] == [("subscribe", ["orderbook.200.ETHUSDT"])]
    assert p.rest_response(req2.req_id, 200, inst.encode(), T0) == []  # a duplicate: ignored
    (ev2,) = p.receive(
        book("ETHUSDT", "snapshot", 5, [["1923.2", "7.448"]], [["1923.21", "0.13318"]]), T0
    )
    assert top(ev2) == ((192320, 744800), (192321, 13318))


# -- public: robustness ------------------------------------------------------------------------


OB = '{"topic":"orderbook.200.BTCUSDT","type":"%s","data":{"s":"%s","b":[],"a":[]%s}}'
TK = '{"topic":"tickers.BTCUSDT","type":"snapshot","data":%s}'


@pytest.mark.parametrize(
    "frame, why",
    [
        ("{not json", "bad frame"),
        (b"\xff\xfe", "bad frame"),
        ("[1,2]", "bad frame"),
        ('{"topic":"kline.1.BTCUSDT","type":"snapshot","data":[]}', "unknown topic"),
        (OB % ("delta", "BTCUSDT", ""), "u"),
        (OB % ("delta", "ETHUSDT", ',"u":2'), "data for"),
        (OB % ("weird", "BTCUSDT", ',"u":2'), "type"),
        (TK % '{"lastPrice":"1"}', "symbol"),
        (TK % '{"symbol":"BTCUSDT","lastPrice":"x"}', "bad number"),
        ('{"topic":"publicTrade.BTCUSDT","data":[{"T":1,"s":"BTCUSDT","S":"Sell","v":"1"}]}', "p"),
        ('{"op":"auth","success":true}', "auth reply"),
        ('{"op":"surprise"}', "unexpected op"),
        ('{"hello":1}', "without topic or op"),
    ],
)
def test_malformed_frames_never_raise(frame: str | bytes, why: str) -> None:
    p = linear()
    for kind in ("ticker", "book", "trades"):
        p.subscribe(kind, "BTCUSDT")
    ev, *more = p.receive(frame, T0)
    assert isinstance(ev, Malformed) and why in ev.reason and ev.venue == "bybit", ev
    # a book push of no known type may have been its snapshot: resubscribed (a lost push)
    assert [(type(e), e.kind) for e in more] == (  # type: ignore[union-attr]
        [(Stale, "book")] if "weird" in str(frame) else []
    )
    assert p.counters["malformed"] == 1


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.binary(), st.dictionaries(st.text(), st.text()).map(json.dumps)))
def test_receive_never_raises(frame: str | bytes) -> None:
    p = linear()
    p.subscribe("book", "BTCUSDT")
    events = p.receive(frame, T0)
    assert all(isinstance(e, Malformed) for e in events)


def test_ping_every_20_s_and_both_pong_formats() -> None:
    p = linear()
    assert p.tick(T0 + 19 * S) == [] and p.outgoing() == []
    p.tick(T0 + 20 * S)
    assert p.outgoing() == ['{"op":"ping"}']
    p.tick(T0 + 39 * S)
    assert p.outgoing() == []
    p.receive(
        '{"success":true,"ret_msg":"pong","conn_id":"c","req_id":"","op":"ping"}', T0 + 21 * S
    )
    p.receive('{"op":"pong","args":["1675418560633"],"conn_id":"c"}', T0 + 22 * S)
    assert p.counters["pongs"] == 2 and p.counters["malformed"] == 0
    p.tick(T0 + 40 * S)
    assert p.outgoing() == ['{"op":"ping"}'] and p.counters["pings"] == 2
    assert p.tick(T0 + 60 * S) == []  # frames arrived at 22 s: not timed out yet


def test_timeout_marks_everything_stale_once_and_wants_a_reconnect() -> None:
    p = linear()
    p.subscribe("ticker", "BTCUSDT")
    p.subscribe("trades", "BTCUSDT")
    assert p.tick(T0 + 44 * S) == [] and not p.reconnect_wanted
    ev = p.tick(T0 + 45 * S)
    assert [(e.kind, e.symbol) for e in ev] == [("ticker", None), ("trades", None)]  # type: ignore[union-attr]
    assert all(isinstance(e, Stale) and "no frame" in e.reason for e in ev)
    assert p.reconnect_wanted and p.counters["timeouts"] == 1
    assert p.tick(T0 + 50 * S) == []


def test_disconnect_stales_everything_and_reconnect_resubscribes_all() -> None:
    p = linear()
    for kind in ("ticker", "book", "trades"):
        p.subscribe(kind, "BTCUSDT")
    p.subscribe("trades", "ETHUSDT")
    for rid in "1234":
        p.receive(ack(rid), T0)
    p.receive(book("BTCUSDT", "snapshot", 100, [["10.00", "1"]], [["11.00", "1"]]), T0)
    p.receive(ticker("BTCUSDT", "snapshot", {"lastPrice": "1"}), T0)
    p.outgoing()
    ev = p.disconnected(T0 + S)
    assert [(e.kind, e.symbol, e.reason) for e in ev] == [  # type: ignore[union-attr]
        ("book", None, "disconnected"), ("ticker", None, "disconnected"),
        ("trades", None, "disconnected"),
    ]  # fmt: skip
    assert p.state is Link.DISCONNECTED
    with pytest.raises(ProtocolError):
        p.disconnected(T0)
    assert p.connected(T0 + 2 * S) == []
    assert sorted(a for f in sent(p) for a in f["args"]) == [
        "orderbook.200.BTCUSDT", "publicTrade.BTCUSDT", "publicTrade.ETHUSDT", "tickers.BTCUSDT",
    ]  # fmt: skip
    # the old book and ticker are gone: a delta needs a new snapshot first
    assert p.receive(book("BTCUSDT", "delta", 101, [["10.00", "2"]], []), T0) == []
    (m,) = p.receive(ticker("BTCUSDT", "delta", {"lastPrice": "2"}), T0)
    assert isinstance(m, Malformed)
    with pytest.raises(ProtocolError):
        p.connected(T0)


# -- private -----------------------------------------------------------------------------------


def hexmac(text: str) -> str:
    return hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


def push(topic: str, data: list[dict[str, Any]], created: int = 1700034722104) -> str:
    return dumps({"id": "x", "topic": topic, "creationTime": created, "data": data})


def order(oid: str, status: str = "New", updated: str = "1700000000000", cat: str = "linear",
          **kw: str) -> dict[str, Any]:  # fmt: skip
    return {"category": cat, "symbol": "BTCUSDT", "orderId": oid, "orderLinkId": "", "side": "Buy",
            "orderType": "Limit", "price": "60000", "qty": "0.01", "cumExecQty": "0",
            "avgPrice": "", "orderStatus": status, "timeInForce": "GTC",
            "updatedTime": updated, **kw}  # fmt: skip


def position(size: str, seq: int, updated: str = "1700000000000") -> dict[str, Any]:
    return {"category": "linear", "symbol": "BTCUSDT", "side": "Buy" if size != "0" else "",
            "size": size, "positionIdx": 0, "entryPrice": "60000", "avgPrice": "60000",
            "markPrice": "60100", "unrealisedPnl": "1", "leverage": "10",
            "updatedTime": updated, "seq": seq}  # fmt: skip


def rest_body(result: dict[str, Any], time: int = 1700000000500, code: int = 0) -> bytes:
    return dumps({"retCode": code, "retMsg": "OK" if code == 0 else "err", "result": result,
                  "time": time}).encode()  # fmt: skip


def wallet(usdt: str) -> dict[str, Any]:
    coin = {"coin": "USDT", "walletBalance": usdt, "locked": "10", "equity": usdt}
    return {"accountType": "UNIFIED", "totalEquity": "1000", "totalAvailableBalance": "900",
            "coin": [coin]}  # fmt: skip


def live_private() -> tuple[BybitPrivate, dict[str, Any]]:
    """Connected, authenticated, subscribed, serving both markets: seed requests by path, query."""
    p = BybitPrivate("linear", CREDS, markets=("linear", "spot"))
    p.connected(T0)
    p.outgoing()
    p.receive('{"success":true,"ret_msg":"","op":"auth","conn_id":"c"}', T0)
    (sub,) = sent(p)
    p.receive(ack(sub["req_id"]), T0)
    reqs = {(r.path, r.query): r for r in p.requests()}
    return p, reqs


def test_private_auth_frame() -> None:
    p = BybitPrivate("linear", CREDS)
    assert p.endpoint == "private" and p.private and p.markets == ("linear",)
    assert p.connected(T0) == []
    (frame,) = sent(p)
    expires = T0 // MS + 10_000
    assert frame == {"op": "auth", "args": [KEY, expires, hexmac(f"GET/realtime{expires}")]}
    assert p.state is Session.AUTHENTICATING and p.requests() == []


def test_private_auth_ok_subscribes_once_to_all_in_one_topics() -> None:
    p = BybitPrivate("linear", CREDS, markets=("linear", "spot"))
    p.connected(T0)
    p.outgoing()
    assert p.receive('{"success":true,"ret_msg":"","op":"auth","conn_id":"c"}', T0 + 1) == []
    assert sent(p) == [
        {"op": "subscribe", "req_id": "1", "args": ["wallet", "position", "order", "execution"]}
    ]
    assert p.requests() == []  # seeds wait for the subscription to be live
    ev = p.receive('{"success":true,"ret_msg":"","op":"subscribe","conn_id":"c"}', T0 + 2)
    assert [getattr(e, "topic", None) for e in ev[:4]] == [
        "wallet",
        "position",
        "order",
        "execution",
    ]
    assert ev[4:] == [  # login accepted and user data subscribed
        Authenticated(venue="bybit", market="linear", ts_recv=T0 + 2),
        Authenticated(venue="bybit", market="spot", ts_recv=T0 + 2),
    ]
    assert p.state is Session.LIVE
    reqs = p.requests()
    assert sorted((r.path, r.query) for r in reqs) == [
        ("/v5/account/wallet-balance", "accountType=UNIFIED"),
        ("/v5/order/realtime", "category=linear&settleCoin=USDC&limit=50"),
        ("/v5/order/realtime", "category=linear&settleCoin=USDT&limit=50"),
        ("/v5/order/realtime", "category=spot&limit=50"),
        ("/v5/position/list", "category=linear&settleCoin=USDC&limit=200"),
        ("/v5/position/list", "category=linear&settleCoin=USDT&limit=200"),
    ]
    now_ms = (T0 + 2) // MS
    for r in reqs:
        assert r.headers["X-BAPI-TIMESTAMP"] == str(now_ms)
        assert r.headers["X-BAPI-SIGN"] == hexmac(f"{now_ms}{KEY}5000{r.query}")
    assert len({r.req_id for r in reqs}) == 6


def test_private_auth_failure_no_subscription_no_secret() -> None:
    p = BybitPrivate("linear", CREDS, markets=("linear",))
    p.connected(T0)
    p.outgoing()
    bad = dumps({"success": False, "ret_msg": f"error:USVC1111 {SECRET}", "op": "auth",
                 "conn_id": "c", "request": {"op": "auth", "args": [KEY, 1, "sig"]}})  # fmt: skip
    ev, *stale = p.receive(bad, T0)
    assert isinstance(ev, AuthFailed) and ev.market == "linear" and "USVC1111" in ev.reason
    assert SECRET not in ev.reason and SECRET not in repr(ev)
    assert all(isinstance(e, Stale) and SECRET not in e.reason for e in stale) and stale
    assert p.outgoing() == [] and p.requests() == [] and p.state is Session.WAITING
    assert p.receive(ack(None), T0) == []  # nothing to acknowledge: no subscription was sent
    assert p.counters["auth_failed"] == 1
    assert p.problem is not None and SECRET not in p.problem


def test_private_subscription_refused() -> None:
    p = BybitPrivate("linear", CREDS, markets=("linear",))
    p.connected(T0)
    p.receive('{"success":true,"op":"auth"}', T0)
    ev = p.receive(ack(None, ok=False, msg="error:topic"), T0)
    assert {(e.kind, e.market) for e in ev} == {  # type: ignore[union-attr]
        ("account", "linear"), ("positions", "linear"), ("orders", "linear"),
    }  # fmt: skip
    assert p.state is Session.FAILED and p.requests() == []


def test_private_pushes_buffer_until_seeds_answer() -> None:
    p, reqs = live_private()
    # pushes while the seeds are out: held
    assert p.receive(push("order", [order("A", "PartiallyFilled", "1700000000100")]), T0) == []
    assert p.receive(push("order", [order("B", "New", "1700000000900")]), T0) == []
    assert p.receive(push("position", [position("0.02", seq=10)]), T0) == []
    assert p.receive(push("wallet", [wallet("50")], created=1700000000100), T0) == []
    assert p.receive(push("wallet", [wallet("60")], created=1700000000700), T0) == []
    assert p.counters["buffered"] == 5
    # orders: the seed knows A filled later than the buffered push, so that push is dropped
    ev: list[Any] = []
    for key, result in {
        ("/v5/order/realtime", "category=linear&settleCoin=USDT&limit=50"): {
            "list": [order("A", "New", "1700000000400")]},
        ("/v5/order/realtime", "category=linear&settleCoin=USDC&limit=50"): {"list": []},
        ("/v5/order/realtime", "category=spot&limit=50"): {"list": [order("S", cat="spot")]},
    }.items():  # fmt: skip
        ev += p.rest_response(reqs[key].req_id, 200, rest_body(result), T0 + 1)
    assert types(ev) == ["OrderUpdate", "OrderUpdate", "OrderUpdate", "Fresh", "Fresh"]
    full_lin, full_spot, replayed = ev[0], ev[1], ev[2]
    assert (
        full_lin.full
        and full_lin.market == "linear"
        and [o.order_id for o in full_lin.orders] == ["A"]
    )
    assert full_spot.full and [o.order_id for o in full_spot.orders] == ["S"]
    assert full_lin.orders[0].source == "rest"
    assert not replayed.full and [o.order_id for o in replayed.orders] == ["B"]
    assert replayed.orders[0].source == "ws"
    assert {(e.kind, e.market) for e in ev[3:]} == {("orders", "linear"), ("orders", "spot")}
    # wallet: the push stamped before the answer's server time (..500) is dropped
    ev = p.rest_response(reqs["/v5/account/wallet-balance", "accountType=UNIFIED"].req_id, 200,
                         rest_body({"list": [wallet("55")]}), T0 + 2)  # fmt: skip
    assert types(ev) == ["AccountUpdate", "AccountUpdate", "BalanceUpdate", "BalanceUpdate",
                         "Fresh", "Fresh"]  # fmt: skip
    assert [e.account.market for e in ev[:2]] == ["linear", "spot"]
    assert ev[0].account.balance("USDT").total == 55 and ev[0].account.source == "rest"
    assert ev[2].account.balance("USDT").total == 60 and ev[2].account.source == "ws"
    assert ev[2].account.ts_event == 1700000000700 * MS
    # positions: USDT then USDC pages; the buffered push (seq 10) is newer than the seed (seq 9)
    usdt = reqs["/v5/position/list", "category=linear&settleCoin=USDT&limit=200"]
    usdc = reqs["/v5/position/list", "category=linear&settleCoin=USDC&limit=200"]
    ev = p.rest_response(usdt.req_id, 200, rest_body({"list": [position("0.01", seq=9)]}), T0 + 3)
    assert ev == []
    ev = p.rest_response(usdc.req_id, 200, rest_body({"list": []}), T0 + 3)
    assert types(ev) == ["PositionUpdate", "PositionUpdate", "Fresh"]
    assert ev[0].full and [p_.size for p_ in ev[0].positions] == [0.01]
    assert not ev[1].full and [p_.size for p_ in ev[1].positions] == [0.02]
    assert ev[2] == Fresh(venue="bybit", market="linear", kind="positions", ts_recv=T0 + 3)
    assert p.counters["replayed"] == 5
    # live now: pushes apply at once
    (ev1,) = p.receive(push("order", [order("B", "Filled", "1700000001000")]), T0 + 4)
    assert isinstance(ev1, OrderUpdate) and not ev1.full and ev1.orders[0].status == "filled"


def test_private_older_position_push_is_dropped_against_the_seed() -> None:
    p, reqs = live_private()
    p.receive(push("position", [position("0.05", seq=3)]), T0)
    ev: list[Any] = []
    for (path, q), r in reqs.items():
        if path == "/v5/position/list":
            lst = [position("0.01", seq=9)] if "USDT" in q else []
            ev += p.rest_response(r.req_id, 200, rest_body({"list": lst}), T0)
    assert types(ev) == ["PositionUpdate", "Fresh"] and ev[0].positions[0].size == 0.01


def test_private_seed_pages_follow_the_cursor() -> None:
    p, reqs = live_private()
    r = reqs["/v5/order/realtime", "category=spot&limit=50"]
    assert p.rest_response(r.req_id, 200, rest_body(
        {"nextPageCursor": "page%3D2", "list": [order("S1", cat="spot")]}), T0) == []  # fmt: skip
    (nxt,) = p.requests()
    assert nxt.query == "category=spot&limit=50&cursor=page%3D2"
    assert (
        p.rest_response(nxt.req_id, 200, rest_body({"list": [order("S2", cat="spot")]}), T0) == []
    )
    ev: list[Any] = []
    for key in (("/v5/order/realtime", "category=linear&settleCoin=USDT&limit=50"),
                ("/v5/order/realtime", "category=linear&settleCoin=USDC&limit=50")):  # fmt: skip
        ev += p.rest_response(reqs[key].req_id, 200, rest_body({"list": []}), T0)
    spot = next(e for e in ev if isinstance(e, OrderUpdate) and e.market == "spot")
    assert spot.full and [o.order_id for o in spot.orders] == ["S1", "S2"]


def test_private_seed_failure_is_stale_and_retried() -> None:
    p, reqs = live_private()
    r = reqs["/v5/account/wallet-balance", "accountType=UNIFIED"]
    ev = p.rest_response(r.req_id, 200, rest_body({}, code=10006), T0)
    assert [(e.kind, e.market) for e in ev] == [("account", "linear"), ("account", "spot")]  # type: ignore[union-attr]
    assert all(isinstance(e, Stale) and "seed failed" in e.reason for e in ev)
    assert p.rest_response(r.req_id, 200, rest_body({"list": [wallet("1")]}), T0) == []  # used up
    p.tick(T0 + 4 * S)
    assert p.requests() == []
    p.tick(T0 + 5 * S)
    (again,) = p.requests()
    assert again.path == "/v5/account/wallet-balance" and again.req_id != r.req_id
    ev = p.rest_response(again.req_id, 200, rest_body({"list": [wallet("7")]}), T0 + 5 * S)
    assert types(ev) == ["AccountUpdate", "AccountUpdate", "Fresh", "Fresh"]


def seeded() -> BybitPrivate:
    p, reqs = live_private()
    for r in reqs.values():
        res: dict[str, Any] = {"list": [wallet("1")]} if "wallet" in r.path else {"list": []}
        p.rest_response(r.req_id, 200, rest_body(res), T0)
    return p


def test_private_live_pushes() -> None:
    p = seeded()
    ev = p.receive(push("wallet", [wallet("99")]), T0)
    assert types(ev) == ["BalanceUpdate", "BalanceUpdate"]
    assert isinstance(ev[0], BalanceUpdate) and ev[0].account.balance("USDT").free == 89
    (pos,) = p.receive(push("position", [position("0.3", seq=20)]), T0)
    assert isinstance(pos, PositionUpdate) and pos.positions[0].size == 0.3 and not pos.full
    ev = p.receive(
        push("order", [order("L"), order("S", cat="spot"), order("I", cat="inverse")]), T0
    )
    assert [(e.market, [o.order_id for o in e.orders]) for e in ev] == [  # type: ignore[union-attr]
        ("linear", ["L"]), ("spot", ["S"]),
    ]  # fmt: skip
    assert p.counters["ignored"] == 1
    exe = {"category": "linear", "symbol": "BTCUSDT", "orderId": "L", "orderLinkId": "",
           "side": "Buy", "execId": "e1", "execPrice": "60000", "execQty": "0.01",
           "execType": "Trade", "execTime": "1700000000001", "isMaker": False}  # fmt: skip
    funding = dict(exe, execId="f1", execType="Funding")
    (fills,) = p.receive(push("execution", [exe, funding]), T0)
    assert isinstance(fills, TradeUpdate) and [(t.order_id, t.trade_id) for t in fills.trades] == [
        ("L", "e1")
    ]
    (m,) = p.receive(push("greeks", []), T0)
    assert isinstance(m, Malformed) and "unknown topic" in m.reason
    (m2,) = p.receive(push("order", [{"orderId": "x"}]), T0)
    assert isinstance(m2, Malformed)


def test_private_default_serves_its_own_market_only() -> None:
    p = BybitPrivate("spot", CREDS)
    p.connected(T0)
    p.outgoing()
    p.receive('{"success":true,"op":"auth"}', T0)
    assert sent(p)[0]["args"] == ["wallet", "position", "order", "execution"]
    ev = p.receive(ack(None), T0)
    assert ev[-1] == Authenticated(venue="bybit", market="spot", ts_recv=T0)
    reqs = p.requests()
    assert sorted((r.path, r.query) for r in reqs) == [
        ("/v5/account/wallet-balance", "accountType=UNIFIED"),
        ("/v5/order/realtime", "category=spot&limit=50"),
    ]
    ev = []
    for r in reqs:
        res: dict[str, Any] = {"list": [wallet("3")]} if "wallet" in r.path else {"list": []}
        ev += p.rest_response(r.req_id, 200, rest_body(res), T0)
    assert [e.account.market for e in ev if isinstance(e, AccountUpdate)] == ["spot"]
    assert {(type(e).__name__, e.market) for e in ev if not isinstance(e, AccountUpdate)} == {
        ("OrderUpdate", "spot"),
        ("Fresh", "spot"),
    }
    assert p.receive(push("order", [order("L")]), T0) == []  # a linear order: not this market's
    assert p.receive(push("position", [position("1", seq=1)]), T0) == []
    assert p.counters["ignored"] == 2
    stale = p.disconnected(T0)
    assert [(e.market, e.kind) for e in stale] == [("spot", "account"), ("spot", "orders")]  # type: ignore[union-attr]


def test_private_pushes_before_the_subscription_ack_are_dropped() -> None:
    p = BybitPrivate("linear", CREDS)
    p.connected(T0)
    p.receive('{"success":true,"op":"auth"}', T0)
    assert p.receive(push("order", [order("A")]), T0) == []
    assert p.counters["early_pushes"] == 1


def test_private_disconnect_reconnect() -> None:
    p, reqs = live_private()
    ev = p.disconnected(T0 + S)
    assert [(e.market, e.kind) for e in ev] == [  # type: ignore[union-attr]
        ("linear", "account"), ("linear", "positions"), ("linear", "orders"),
        ("spot", "account"), ("spot", "orders"),
    ]  # fmt: skip
    assert all(isinstance(e, Stale) and e.reason == "disconnected" for e in ev)
    r = next(iter(reqs.values()))
    assert p.rest_response(r.req_id, 200, rest_body({"list": []}), T0) == []  # late: ignored
    assert p.counters["late_rest"] == 1
    assert p.tick(T0 + 100 * S) == [] and p.outgoing() == []  # nothing while disconnected
    p.connected(T0 + 2 * S)
    (frame,) = sent(p)
    assert frame["op"] == "auth" and frame["args"][1] == (T0 + 2 * S) // MS + 10_000


def test_private_ping_pong_and_timeout() -> None:
    p = seeded()
    p.outgoing()
    p.tick(T0 + 20 * S)
    assert p.outgoing() == ['{"op":"ping"}']
    assert (
        p.receive('{"req_id":"","op":"pong","args":["1675418560633"],"conn_id":"c"}', T0 + 21 * S)
        == []
    )
    assert p.counters["pongs"] == 1
    ev = p.tick(T0 + 66 * S)
    assert len(ev) == 5 and all(isinstance(e, Stale) for e in ev) and p.reconnect_wanted


def test_private_subscribe_kinds_and_no_secret_anywhere() -> None:
    p, reqs = live_private()
    p.subscribe("account", None)
    p.subscribe("orders", None)
    assert p.subscriptions() == {("account", None), ("orders", None)}
    with pytest.raises(UnsupportedError):
        p.subscribe("book", "BTCUSDT")
    texts = [repr(p), str(p.counters), *map(repr, reqs.values())]
    texts += [repr(r.headers) for r in reqs.values()]
    ev = []
    for r in reqs.values():
        res: dict[str, Any] = {"list": [wallet("1")]} if "wallet" in r.path else {"list": []}
        ev += p.rest_response(r.req_id, 200, rest_body(res), T0)
    texts += [repr(e) for e in ev]
    assert all(SECRET not in t for t in texts)
    assert all(isinstance(e, (AccountUpdate, PositionUpdate, OrderUpdate, Fresh)) for e in ev)

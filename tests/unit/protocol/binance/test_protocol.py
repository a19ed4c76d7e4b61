"""Binance protocols driven from frame lists: sync rules, gaps, seeds, listenKey, robustness."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinstream.credentials import Credentials
from spinstream.errors import ConfigError, ProtocolError
from spinstream.protocol.binance import (
    PROTOCOLS,
    SPEC,
    BinanceSpotPublic,
    BinanceSpotUser,
    BinanceUsdmPublic,
    BinanceUsdmUser,
    Instrument,
    auth,
)
from spinstream.protocol.binance.protocol import TRANSITIONS, State
from spinstream.protocol.events import (
    AuthFailed,
    BalanceUpdate,
    BookUpdated,
    Fresh,
    Malformed,
    OrderUpdate,
    RestRequest,
    Stale,
    Subscribed,
    TickerUpdate,
)

MS = 1_000_000
S = 1_000_000_000
T0 = 1_700_000_000 * S
SECRET = "protocol-test-secret-9f8e7d6c5b4a"
CREDS = Credentials.of("protocol-test-key", SECRET)
INSTR = {"BTCUSDT": Instrument(symbol="BTCUSDT", price_decimals=2, size_decimals=3)}


# --- helpers ------------------------------------------------------------------------------------


def enc(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def wrap(stream: str, data: dict[str, Any]) -> str:
    return json.dumps({"stream": stream, "data": data})


def depth(
    U: int,
    u: int,
    bids: Any = (),
    asks: Any = (),
    pu: int | None = None,
    sym: str = "BTCUSDT",
    E: int = 1,
) -> str:
    data: dict[str, Any] = {
        "e": "depthUpdate",
        "E": E,
        "s": sym,
        "U": U,
        "u": u,
        "b": [list(x) for x in bids],
        "a": [list(x) for x in asks],
    }
    if pu is not None:
        data["pu"] = pu
    return wrap(f"{sym.lower()}@depth@100ms", data)


def snapshot(last: int, bids: Any, asks: Any) -> bytes:
    return enc(
        {"lastUpdateId": last, "bids": [list(x) for x in bids], "asks": [list(x) for x in asks]}
    )


def book_ticker(bid: str, ask: str, sym: str = "BTCUSDT", u: int = 1) -> str:
    return wrap(
        f"{sym.lower()}@bookTicker", {"u": u, "s": sym, "b": bid, "B": "1.5", "a": ask, "A": "2.5"}
    )


def types(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def params(req: RestRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(req.query).items()}


def sent(proto: Any) -> list[dict[str, Any]]:
    return [json.loads(f) for f in proto.outgoing()]


def ack_all(proto: Any, frames: list[dict[str, Any]], ts: int) -> list[Any]:
    out: list[Any] = []
    for f in frames:
        out += proto.receive(enc({"result": None, "id": f["id"]}), ts)
    return out


def connected_spot(**kw: Any) -> BinanceSpotPublic:
    p = BinanceSpotPublic("spot", instruments=INSTR, **kw)
    p.subscribe("book", "BTCUSDT")
    p.connected(T0)
    p.outgoing()
    return p


def synced_spot() -> BinanceSpotPublic:
    """A spot book synced at id 5: bids 100.00/1.000, asks 101.00/2.000."""
    p = connected_spot()
    assert p.receive(depth(4, 5, bids=[("100.00", "1.000")], asks=[("101.00", "2.000")]), T0) == []
    (req,) = p.requests()
    events = p.rest_response(
        req.req_id, 200, snapshot(3, [("99.00", "1")], [("102.00", "1")]), T0 + MS
    )
    assert types(events) == ["Fresh", "BookUpdated"]
    return p


# --- spot public: subscriptions -------------------------------------------------------------


def test_registry_and_spec() -> None:
    assert PROTOCOLS[("spot", "book")] is BinanceSpotPublic
    assert PROTOCOLS[("usdm", "positions")] is BinanceUsdmUser
    for cls in set(PROTOCOLS.values()):
        assert cls.endpoint in SPEC.ws_bases  # type: ignore[attr-defined]
    assert SPEC.ws_bases["spot-user"]["live"] == "wss://ws-api.binance.com:443"
    assert BinanceSpotPublic().connect_path() == "/stream"
    assert BinanceUsdmPublic().connect_path() == "/public/stream"
    with pytest.raises(ValueError):
        BinanceSpotPublic("usdm")


def test_connect_subscribes_every_stream_in_one_frame() -> None:
    p = BinanceSpotPublic("spot", instruments=INSTR)
    p.subscribe("ticker", "btcusdt")
    p.subscribe("book", "BTCUSDT")
    assert p.subscriptions() == {("ticker", "BTCUSDT"), ("book", "BTCUSDT")}
    assert p.outgoing() == []  # nothing is sent before the socket is open
    assert p.connected(T0) == []
    (frame,) = sent(p)
    assert frame["method"] == "SUBSCRIBE"
    assert frame["params"] == ["btcusdt@bookTicker", "btcusdt@depth@100ms", "btcusdt@ticker"]
    events = ack_all(p, [frame], T0)
    assert [e.topic for e in events if isinstance(e, Subscribed)] == frame["params"]
    assert p.requests() == []  # decimals known; the snapshot waits for the first event


def test_subscribe_and_unsubscribe_while_connected() -> None:
    p = BinanceSpotPublic("spot", instruments=INSTR, ticker_stats=False)
    p.connected(T0)
    assert sent(p) == []
    p.subscribe("ticker", "BTCUSDT")
    (f,) = sent(p)
    assert (f["method"], f["params"]) == ("SUBSCRIBE", ["btcusdt@bookTicker"])
    p.subscribe("ticker", "BTCUSDT")  # already there: nothing new
    p.unsubscribe("ticker", "BTCUSDT")
    p.receive(enc({"result": None, "id": f["id"]}), T0 + 2 * S)
    (u,) = sent(p)
    assert (u["method"], u["params"]) == ("UNSUBSCRIBE", ["btcusdt@bookTicker"])
    assert p.receive(enc({"result": None, "id": u["id"]}), T0 + 2 * S) == []
    assert p.receive(book_ticker("1", "2"), T0 + 2 * S) == []  # a late frame is not served
    assert p.counters["unsubscribed_frames"] == 1


def test_subscribe_frames_are_batched_and_paced() -> None:
    p = BinanceSpotPublic("spot", ticker_stats=False)
    p.connected(T0)
    frames = []
    for i in range(6):
        p.subscribe("ticker", f"SYM{i}USDT")
        frames += sent(p)
    assert len(frames) == 2  # two control frames per second on spot (limit 5 incl. pongs)
    p.tick(T0 + S // 2)
    assert sent(p) == []
    p.tick(T0 + S)
    (batch,) = sent(p)  # the rest in one frame
    names = [n for f in frames + [batch] for n in f["params"]]
    assert sorted(names) == sorted(f"sym{i}usdt@bookTicker" for i in range(6))


def test_subscribe_validates_kinds_and_the_stream_limit() -> None:
    p = BinanceSpotPublic("spot", ticker_stats=False)
    with pytest.raises(ValueError):
        p.subscribe("account", None)
    with pytest.raises(ValueError):
        p.subscribe("ticker", None)
    for i in range(1024):
        p.subscribe("ticker", f"S{i}")
    with pytest.raises(ValueError):
        p.subscribe("ticker", "ONEMORE")


def test_refused_subscription_is_malformed_not_raised() -> None:
    p = BinanceSpotPublic("spot")
    p.subscribe("ticker", "BTCUSDT")
    p.connected(T0)
    (f,) = sent(p)
    (e,) = p.receive(enc({"error": {"code": 2, "msg": "Invalid request"}, "id": f["id"]}), T0)
    assert isinstance(e, Malformed) and "Invalid request" in e.reason
    assert p.counters["subscribe_errors"] == 1


# --- spot public: tickers -------------------------------------------------------------------


def test_control_errors_without_an_error_wrapper() -> None:
    p = BinanceSpotPublic("spot")
    p.connected(T0)
    (e,) = p.receive(enc({"code": 0, "msg": "Unknown property", "id": 3}), T0)
    assert isinstance(e, Malformed) and "Unknown property" in e.reason


def test_book_ticker_and_24h_ticker_merge() -> None:
    p = BinanceSpotPublic("spot")
    p.subscribe("ticker", "BTCUSDT")
    p.connected(T0)
    (e,) = p.receive(book_ticker("100.5", "100.6"), T0 + 1)
    assert isinstance(e, TickerUpdate)
    t = e.ticker
    assert (t.symbol, t.bid, t.bid_size, t.ask, t.ask_size, t.last) == (
        "BTCUSDT",
        100.5,
        1.5,
        100.6,
        2.5,
        None,
    )
    assert (t.source, t.last_update, t.ts_event) == ("ws", T0 + 1, None)
    stats = {
        "e": "24hrTicker",
        "E": 1700000000500,
        "s": "BTCUSDT",
        "c": "100.55",
        "v": "1234.5",
        "b": "99",
        "B": "1",
        "a": "101",
        "A": "1",
    }
    (e,) = p.receive(wrap("btcusdt@ticker", stats), T0 + 2)
    assert (e.ticker.bid, e.ticker.ask, e.ticker.last, e.ticker.volume_24h) == (
        100.5,
        100.6,
        100.55,
        1234.5,
    )
    (e,) = p.receive(book_ticker("100.7", "100.8"), T0 + 3)
    assert (e.ticker.bid, e.ticker.last, e.ticker.volume_24h) == (100.7, 100.55, 1234.5)


def test_usdm_book_ticker_carries_event_time() -> None:
    p = BinanceUsdmPublic("usdm")
    p.subscribe("ticker", "BTCUSDT")
    p.connected(T0)
    assert sent(p)[0]["params"] == ["btcusdt@bookTicker"]  # no 24 h ticker on /public
    data = {
        "e": "bookTicker",
        "u": 400900217,
        "E": 1568014460893,
        "T": 1568014460891,
        "s": "BTCUSDT",
        "b": "25.35",
        "B": "31.21",
        "a": "25.36",
        "A": "40.66",
    }
    (e,) = p.receive(wrap("btcusdt@bookTicker", data), T0)
    assert e.ticker.market == "usdm" and e.ticker.ts_event == 1568014460893 * MS


# --- spot public: book sync -----------------------------------------------------------------


def test_spot_sync_buffers_then_fetches_the_snapshot() -> None:
    p = connected_spot()
    assert p.receive(depth(1, 3, bids=[("99.00", "5")]), T0) == []  # buffered
    (req,) = p.requests()  # the snapshot is asked for once buffering has started
    assert (req.method, req.base, req.path) == ("GET", "spot", "/api/v3/depth")
    assert params(req) == {"symbol": "BTCUSDT", "limit": "1000"} and req.cost["spot_weight"] == 50
    assert p.receive(depth(4, 6, asks=[("101.00", "2")]), T0 + 1) == []
    assert p.requests() == []  # one snapshot request at a time
    body = snapshot(4, [("99.00", "1"), ("98.00", "1")], [("101.00", "1"), ("102.00", "1")])
    fresh, upd = p.rest_response(req.req_id, 200, body, T0 + 2)
    assert isinstance(fresh, Fresh) and (fresh.kind, fresh.symbol) == ("book", "BTCUSDT")
    assert isinstance(upd, BookUpdated) and upd.seq == 6 and upd.ts_recv == T0 + 2
    book = upd.book  # 1..3 dropped (u <= 4); 4..6 straddles lastUpdateId + 1 and applies
    assert book.best_bid() == (9900, 1000) and book.best_ask() == (10100, 2000)
    (live,) = p.receive(depth(7, 8, bids=[("100.00", "3")], E=1700000000999), T0 + 3)
    assert isinstance(live, BookUpdated) and live.seq == 8 and live.book is book
    assert live.ts_event == 1700000000999 * MS and book.best_bid() == (10000, 3000)
    assert p.receive(depth(7, 8), T0 + 4) == []  # already covered: dropped


def test_spot_gap_marks_stale_and_resyncs() -> None:
    p = synced_spot()
    (stale,) = p.receive(depth(7, 9), T0 + S)  # expected U <= 6
    assert isinstance(stale, Stale) and (stale.kind, stale.symbol) == ("book", "BTCUSDT")
    assert "gap" in stale.reason and p.counters["gaps"] == 1
    (req,) = p.requests()
    assert p.receive(depth(10, 11, bids=[("100.50", "1")]), T0 + S) == []  # buffered, no Stale
    events = p.rest_response(
        req.req_id, 200, snapshot(9, [("100.00", "1")], [("101.00", "1")]), T0 + 2 * S
    )
    assert types(events) == ["Fresh", "BookUpdated"] and events[1].seq == 11
    assert events[1].book.best_bid() == (10050, 1000)


def test_snapshot_older_than_the_buffer_is_fetched_again_with_backoff() -> None:
    p = connected_spot()
    p.receive(depth(10, 12), T0)
    (req,) = p.requests()
    assert p.rest_response(req.req_id, 200, snapshot(5, [], []), T0) == []  # 5 < U - 1
    assert p.counters["snapshot_retries"] == 1 and p.requests() == []
    p.tick(T0 + 100 * MS)
    assert p.requests() == []
    p.tick(T0 + 300 * MS)
    (again,) = p.requests()
    events = p.rest_response(
        again.req_id, 200, snapshot(11, [("1.00", "1")], [("2.00", "1")]), T0 + S
    )
    assert types(events) == ["Fresh", "BookUpdated"] and events[1].seq == 12


def test_snapshot_error_backs_off() -> None:
    p = connected_spot()
    p.receive(depth(1, 2), T0)
    (req,) = p.requests()
    (e,) = p.rest_response(req.req_id, 429, b'{"code":-1003,"msg":"Too many requests"}', T0)
    assert isinstance(e, Malformed) and "-1003" in e.reason
    p.tick(T0 + 100 * MS)
    assert p.requests() == []
    p.tick(T0 + S)
    assert len(p.requests()) == 1


def test_crossed_or_bad_levels_resync() -> None:
    p = synced_spot()
    (stale,) = p.receive(depth(6, 7, bids=[("102.00", "1")]), T0 + S)  # crosses 101.00
    assert isinstance(stale, Stale) and "crossed" in stale.reason
    (req,) = p.requests()
    p.rest_response(req.req_id, 200, snapshot(7, [("100.00", "1")], [("101.00", "1")]), T0 + S)
    assert p.receive(depth(8, 8, bids=[("100.001", "1")]), T0 + 2 * S)[0].reason.startswith(
        "binance_spot: bad level"
    )  # a third decimal on a 2-decimal book


def test_usdm_sync_follows_pu() -> None:
    p = BinanceUsdmPublic("usdm", instruments=INSTR)
    p.subscribe("book", "BTCUSDT")
    p.connected(T0)
    assert sent(p)[0]["params"] == ["btcusdt@depth@100ms"]
    assert p.receive(depth(90, 95, pu=89), T0) == []
    (req,) = p.requests()
    assert (req.base, req.path, params(req)["limit"], req.cost) == (
        "usdm",
        "/fapi/v1/depth",
        "1000",
        {"usdm_weight": 20},
    )
    p.receive(depth(96, 105, pu=95, bids=[("50.00", "1")]), T0)
    body = enc(
        {"lastUpdateId": 100, "E": 1, "T": 1, "bids": [["49.00", "1"]], "asks": [["51.00", "1"]]}
    )
    events = p.rest_response(req.req_id, 200, body, T0)
    assert types(events) == ["Fresh", "BookUpdated"] and events[1].seq == 105
    (e,) = p.receive(depth(106, 110, pu=105, asks=[("50.50", "2")]), T0)
    assert isinstance(e, BookUpdated) and e.book.best_ask() == (5050, 2000)
    (stale,) = p.receive(depth(111, 115, pu=109), T0)  # pu must be the previous u (110)
    assert isinstance(stale, Stale) and p.counters["gaps"] == 1
    assert len(p.requests()) == 1


def test_usdm_depth_without_pu_is_malformed() -> None:
    p = BinanceUsdmPublic("usdm", instruments=INSTR)
    p.subscribe("book", "BTCUSDT")
    p.connected(T0)
    (e,) = p.receive(depth(1, 2), T0)
    assert isinstance(e, Malformed) and "previous id" in e.reason


def test_exchange_info_gives_the_book_its_decimals() -> None:
    p = BinanceSpotPublic("spot")
    p.subscribe("book", "ETHBTC")
    (info,) = p.requests()  # asked for on subscribe, connected or not
    assert info.path == "/api/v3/exchangeInfo" and params(info) == {"symbols": '["ETHBTC"]'}
    p.connected(T0)
    assert p.receive(depth(1, 2, sym="ETHBTC", bids=[("0.05000000", "1.00000000")]), T0) == []
    body = enc(
        {
            "symbols": [
                {
                    "symbol": "ETHBTC",
                    "baseAssetPrecision": 8,
                    "quoteAssetPrecision": 8,
                    "filters": [
                        {"filterType": "PRICE_FILTER", "tickSize": "0.00001000"},
                        {"filterType": "LOT_SIZE", "stepSize": "0.00010000"},
                    ],
                }
            ]
        }
    )
    assert p.rest_response(info.req_id, 200, body, T0) == []  # early events fed: now buffered
    (snap,) = p.requests()
    events = p.rest_response(snap.req_id, 200, snapshot(1, [], [("0.06000000", "1")]), T0)
    assert events[1].book.price_decimals == 8 and events[1].book.best_bid() == (5_000_000, 10**8)


def test_exchange_info_errors_and_unknown_symbols() -> None:
    p = BinanceSpotPublic("spot")
    p.subscribe("book", "NOPE")
    (info,) = p.requests()
    (e,) = p.rest_response(info.req_id, 400, b'{"code":-1121,"msg":"Invalid symbol."}', T0)
    assert isinstance(e, Malformed)
    p.tick(T0 + S // 2)
    assert p.requests() == []
    p.tick(T0 + S)
    (full,) = p.requests()
    assert full.query == ""  # one bad symbol fails a filtered request: ask for everything
    (stale,) = p.rest_response(full.req_id, 200, enc({"symbols": []}), T0 + S)
    assert isinstance(stale, Stale) and stale.reason == "symbol not in exchangeInfo"


def test_disconnect_marks_everything_stale_and_reconnect_resubscribes() -> None:
    p = synced_spot()
    p.subscribe("ticker", "BTCUSDT")
    p.receive(depth(6, 6), T0)
    events = p.disconnected(T0 + S)
    assert {(e.kind, e.symbol) for e in events if isinstance(e, Stale)} == {
        ("book", "BTCUSDT"),
        ("ticker", "BTCUSDT"),
    }
    assert p.disconnected(T0 + S) == [] and p.state is State.IDLE
    assert p.outgoing() == []
    p.connected(T0 + 2 * S)
    (f,) = sent(p)
    assert f["params"] == ["btcusdt@bookTicker", "btcusdt@depth@100ms", "btcusdt@ticker"]
    assert p.receive(depth(50, 60), T0 + 2 * S) == []  # a new sync from scratch
    (req,) = p.requests()
    assert req.path == "/api/v3/depth"


def test_late_snapshot_after_a_reconnect_is_ignored() -> None:
    p = connected_spot()
    p.receive(depth(1, 2), T0)
    (req,) = p.requests()
    p.disconnected(T0)
    p.connected(T0)
    assert p.rest_response(req.req_id, 200, snapshot(2, [], []), T0) == []
    assert p.counters["late_answers"] == 1


def test_connected_twice_is_a_protocol_error() -> None:
    p = BinanceSpotPublic("spot")
    p.connected(T0)
    with pytest.raises(ProtocolError):
        p.connected(T0)
    assert set(TRANSITIONS) == set(State)


BAD_FRAMES = [
    b"",
    b"not json",
    b"[1,2,3]",
    b'{"foo": 1}',
    b'{"stream":"btcusdt@bookTicker"}',
    b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade"}}',
    b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","s":"BTCUSDT"}}',
    b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,'
    b'"u":4,"b":[],"a":[]}}',  # U > u
    b'{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"x","B":"1","a":"2","A":"1"}}',
    b'{"stream":"btcusdt@bookTicker","data":[]}',
    b'{"result":null,"id":999}',
    "\udcff",
]


@pytest.mark.parametrize("frame", BAD_FRAMES)
def test_bad_frames_become_malformed(frame: Any) -> None:
    p = BinanceSpotPublic("spot", instruments=INSTR)
    p.subscribe("ticker", "BTCUSDT")
    p.subscribe("book", "BTCUSDT")
    p.connected(T0)
    events = p.receive(frame, T0)
    assert types(events) == ["Malformed"] and p.counters["malformed"] == 1


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda c: (
                st.lists(c, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "stream",
                            "data",
                            "e",
                            "s",
                            "U",
                            "u",
                            "pu",
                            "b",
                            "a",
                            "id",
                            "result",
                            "error",
                            "event",
                            "subscriptionId",
                            "status",
                        ]
                    ),
                    c,
                    max_size=6,
                )
            ),
            max_leaves=20,
        ).map(lambda o: json.dumps(o)),
    )
)
def test_receive_never_raises(frame: Any) -> None:
    for proto in (
        BinanceSpotPublic("spot", instruments=INSTR),
        BinanceUsdmPublic("usdm", instruments=INSTR),
        BinanceSpotUser("spot", CREDS),
        BinanceUsdmUser("usdm", CREDS),
    ):
        if not proto.private:
            proto.subscribe("book", "BTCUSDT")
            proto.subscribe("ticker", "BTCUSDT")
        proto.receive(frame, T0)
        assert proto.counters["errors"] == 0  # bad input is Malformed, never an internal error


# --- spot user data (WS API) ----------------------------------------------------------------

SEED_MS = 1_700_000_000_000  # the account seed's updateTime


def user_event(event: dict[str, Any]) -> bytes:
    return enc({"subscriptionId": 0, "event": event})


def exec_report(oid: int, status: str = "NEW", filled: str = "0", E: int = SEED_MS + 5) -> bytes:
    return user_event(
        {
            "e": "executionReport",
            "E": E,
            "s": "BTCUSDT",
            "c": f"c{oid}",
            "C": "",
            "S": "BUY",
            "o": "LIMIT",
            "f": "GTC",
            "q": "1.0",
            "p": "100.0",
            "X": status,
            "i": oid,
            "z": filled,
            "Z": "0",
            "T": E,
        }
    )


def logged_in_spot_user() -> tuple[BinanceSpotUser, list[RestRequest]]:
    p = BinanceSpotUser("spot", CREDS)
    p.subscribe("account")
    p.subscribe("orders")
    assert p.connect_path() == "/ws-api/v3"
    p.connected(T0)
    (login,) = sent(p)
    events = p.receive(
        enc({"id": login["id"], "status": 200, "result": {"subscriptionId": 0}}), T0 + MS
    )
    assert types(events) == ["Authenticated"] and p.state is State.SEEDING
    return p, p.requests()


def spot_seeds(p: BinanceSpotUser, reqs: list[RestRequest], ts: int) -> list[Any]:
    account = next(r for r in reqs if r.path == "/api/v3/account")
    orders = next(r for r in reqs if r.path == "/api/v3/openOrders")
    out = p.rest_response(
        orders.req_id,
        200,
        enc(
            [
                {
                    "symbol": "BTCUSDT",
                    "orderId": 1,
                    "clientOrderId": "c1",
                    "price": "100",
                    "origQty": "1",
                    "executedQty": "0",
                    "cummulativeQuoteQty": "0",
                    "status": "NEW",
                    "timeInForce": "GTC",
                    "type": "LIMIT",
                    "side": "BUY",
                    "time": SEED_MS,
                    "updateTime": SEED_MS,
                }
            ]
        ),
        ts,
    )
    assert out == []  # waiting for the account seed
    return p.rest_response(
        account.req_id,
        200,
        enc(
            {
                "updateTime": SEED_MS,
                "balances": [
                    {"asset": "BTC", "free": "1.0", "locked": "0.5"},
                    {"asset": "USDT", "free": "1000", "locked": "0"},
                ],
            }
        ),
        ts,
    )


def test_spot_user_subscribes_with_a_signed_ws_api_request() -> None:
    p = BinanceSpotUser("spot", CREDS)
    p.connected(T0 + 123 * MS + 456)
    (frame,) = sent(p)
    assert frame["method"] == "userDataStream.subscribe.signature"
    prm = frame["params"]
    assert prm["apiKey"] == "protocol-test-key" and prm["timestamp"] == T0 // MS + 123
    payload = f"apiKey={prm['apiKey']}&timestamp={prm['timestamp']}"
    assert prm["signature"] == auth.hmac_hex(CREDS, payload)
    assert p.state is State.AUTHENTICATING and p.requests() == []


def test_spot_user_seeds_after_subscribing() -> None:
    p, reqs = logged_in_spot_user()
    assert sorted(r.path for r in reqs) == ["/api/v3/account", "/api/v3/openOrders"]
    for r in reqs:  # signed with the receive time of the subscription answer
        prm = params(r)
        assert prm["timestamp"] == str((T0 + MS) // MS) and len(prm["signature"]) == 64
        assert r.headers["X-MBX-APIKEY"] == "protocol-test-key"
    events = spot_seeds(p, reqs, T0 + 2 * MS)
    assert types(events) == ["AccountUpdate", "OrderUpdate", "Fresh", "Fresh"]
    acc, orders = events[0], events[1]
    assert acc.account.balances["BTC"].total == 1.5 and acc.account.source == "rest"
    assert orders.full and [o.order_id for o in orders.orders] == ["1"]
    assert {e.kind for e in events[2:]} == {"account", "orders"}
    assert p.state is State.LIVE


def test_spot_user_buffers_pushes_until_the_seed_and_drops_what_it_holds() -> None:
    p, reqs = logged_in_spot_user()
    frames = [
        exec_report(2),  # a new order after the subscription: replayed
        user_event(
            {
                "e": "outboundAccountPosition",
                "E": SEED_MS - 9,
                "u": SEED_MS - 10,
                "B": [{"a": "BTC", "f": "9", "l": "0"}],
            }
        ),  # older than the seed: dropped
        user_event(
            {"e": "balanceUpdate", "E": SEED_MS, "a": "USDT", "d": "50", "T": SEED_MS}
        ),  # the seed holds it already: dropped
        user_event(
            {"e": "balanceUpdate", "E": SEED_MS + 1, "a": "USDT", "d": "25", "T": SEED_MS + 1}
        ),  # newer: applied on the seed
    ]
    for f in frames:
        assert p.receive(f, T0 + 2 * MS) == []
    assert p.counters["buffered"] == 4
    events = spot_seeds(p, reqs, T0 + 3 * MS)
    assert types(events) == [
        "AccountUpdate",
        "OrderUpdate",
        "Fresh",
        "Fresh",
        "OrderUpdate",
        "BalanceUpdate",
    ]
    assert events[4].orders[0].order_id == "2" and not events[4].full
    assert events[5].account.balances["USDT"].free == 1025.0
    assert p.counters["replayed"] == 2


def test_a_bad_buffered_push_does_not_lose_the_seed() -> None:
    p, reqs = logged_in_spot_user()
    assert p.receive(exec_report(5, status="SOMETHING_NEW"), T0) == []  # parsed when applied
    assert p.receive(exec_report(6), T0) == []
    events = spot_seeds(p, reqs, T0)
    assert types(events) == [
        "AccountUpdate",
        "OrderUpdate",
        "Fresh",
        "Fresh",
        "Malformed",
        "OrderUpdate",
    ]
    assert events[5].orders[0].order_id == "6" and p.state is State.LIVE


def test_spot_user_live_pushes() -> None:
    p, reqs = logged_in_spot_user()
    spot_seeds(p, reqs, T0)
    (e,) = p.receive(exec_report(1, "FILLED", "1.0"), T0 + S)
    assert isinstance(e, OrderUpdate) and e.orders[0].status == "filled"
    (b,) = p.receive(
        user_event(
            {
                "e": "outboundAccountPosition",
                "E": SEED_MS + 7,
                "u": SEED_MS + 7,
                "B": [{"a": "BTC", "f": "2", "l": "0"}],
            }
        ),
        T0 + S,
    )
    assert isinstance(b, BalanceUpdate) and b.account.balances["BTC"].free == 2.0
    (d,) = p.receive(
        user_event(
            {"e": "balanceUpdate", "E": SEED_MS + 8, "a": "BTC", "d": "-0.5", "T": SEED_MS + 8}
        ),
        T0 + S,
    )
    assert d.account.balances["BTC"].free == 1.5
    assert (
        p.receive(
            user_event({"e": "externalLockUpdate", "E": 1, "a": "BTC", "d": "1", "T": 1}), T0 + S
        )
        == []
    )
    (m,) = p.receive(user_event({"e": "somethingNew", "E": 1}), T0 + S)
    assert isinstance(m, Malformed)


def test_event_stream_terminated_resubscribes() -> None:
    p, reqs = logged_in_spot_user()
    spot_seeds(p, reqs, T0)
    events = p.receive(user_event({"e": "eventStreamTerminated", "E": SEED_MS + 9}), T0 + S)
    assert {(type(e), e.kind) for e in events} == {(Stale, "account"), (Stale, "orders")}
    assert p.state is State.AUTHENTICATING
    (login,) = sent(p)
    assert login["method"] == "userDataStream.subscribe.signature"
    assert p.receive(exec_report(3), T0 + S) == [] and p.counters["pushes_dropped"] == 1
    p.receive(enc({"id": login["id"], "status": 200, "result": {"subscriptionId": 1}}), T0 + S)
    assert len(p.requests()) == 2  # seeded again


def test_refused_subscription_is_auth_failed_and_retried() -> None:
    p = BinanceSpotUser("spot", CREDS)
    p.connected(T0)
    (login,) = sent(p)
    error = {
        "id": login["id"],
        "status": 401,
        "error": {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
    }
    e, *stale = p.receive(enc(error), T0)
    assert isinstance(e, AuthFailed) and e.reason.startswith("-2015")
    assert sorted(x.kind for x in stale) == ["account", "orders"]  # type: ignore[attr-defined]
    assert p.requests() == []
    p.tick(T0 + S // 2)
    assert p.outgoing() == []
    p.tick(T0 + S)
    (again,) = sent(p)
    assert again["id"] != login["id"]


def test_seed_errors_are_retried() -> None:
    p, reqs = logged_in_spot_user()
    account = next(r for r in reqs if r.path == "/api/v3/account")
    (e,) = p.rest_response(account.req_id, 503, b"busy", T0)
    assert isinstance(e, Malformed) and p.counters["seed_errors"] == 1
    p.tick(T0 + S // 2)
    assert p.requests() == []
    p.tick(T0 + S)
    (again,) = p.requests()
    assert again.path == "/api/v3/account"
    (f,) = p.rest_response(again.req_id, 401, b'{"code":-2015,"msg":"Invalid API-key"}', T0)
    assert isinstance(f, AuthFailed)


def test_spot_user_disconnect() -> None:
    p, reqs = logged_in_spot_user()
    events = p.disconnected(T0)
    assert sorted(e.kind for e in events) == ["account", "orders"]
    assert all(isinstance(e, Stale) and e.symbol is None for e in events)
    assert p.rest_response(reqs[0].req_id, 200, b"{}", T0) == []


def test_private_protocols_need_credentials() -> None:
    with pytest.raises(ConfigError):
        BinanceSpotUser("spot")
    with pytest.raises(ConfigError):
        BinanceUsdmUser("usdm", None)


# --- USD-M user data (listenKey) ------------------------------------------------------------

KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"


def keyed_usdm_user(ts: int = T0) -> BinanceUsdmUser:
    p = BinanceUsdmUser("usdm", CREDS)
    assert p.connect_path() is None
    p.start(ts)
    (post,) = p.requests()
    assert (post.method, post.path, post.query) == ("POST", "/fapi/v1/listenKey", "")
    assert post.headers == {"X-MBX-APIKEY": "protocol-test-key"}
    p.start(ts)  # idempotent while the key is asked for
    assert p.requests() == []
    assert p.rest_response(post.req_id, 200, enc({"listenKey": KEY}), ts) == []
    return p


def usdm_seeds(p: BinanceUsdmUser, reqs: list[RestRequest], ts: int) -> list[Any]:
    by_path = {r.path: r for r in reqs}
    assert set(by_path) == {"/fapi/v3/account", "/fapi/v3/positionRisk", "/fapi/v1/openOrders"}
    out = p.rest_response(
        by_path["/fapi/v3/positionRisk"].req_id,
        200,
        enc(
            [
                {
                    "symbol": "BTCUSDT",
                    "positionSide": "BOTH",
                    "positionAmt": "0.5",
                    "entryPrice": "40000",
                    "markPrice": "41000",
                    "unRealizedProfit": "500",
                    "updateTime": 1,
                }
            ]
        ),
        ts,
    )
    out += p.rest_response(by_path["/fapi/v1/openOrders"].req_id, 200, b"[]", ts)
    assert out == []
    return p.rest_response(
        by_path["/fapi/v3/account"].req_id,
        200,
        enc(
            {
                "totalMarginBalance": "10500",
                "availableBalance": "9000",
                "assets": [
                    {
                        "asset": "USDT",
                        "walletBalance": "10000",
                        "availableBalance": "9000",
                        "updateTime": 2,
                    }
                ],
            }
        ),
        ts,
    )


ORDER_TRADE_UPDATE = {
    "e": "ORDER_TRADE_UPDATE",
    "E": 1700000000100,
    "T": 1700000000100,
    "o": {
        "s": "BTCUSDT",
        "c": "x1",
        "S": "SELL",
        "o": "LIMIT",
        "f": "GTC",
        "q": "0.5",
        "p": "42000",
        "ap": "0",
        "X": "NEW",
        "i": 9,
        "z": "0",
        "T": 1700000000100,
        "ps": "BOTH",
    },
}
ACCOUNT_UPDATE = {
    "e": "ACCOUNT_UPDATE",
    "E": 1700000000200,
    "T": 1700000000200,
    "a": {
        "m": "ORDER",
        "B": [{"a": "USDT", "wb": "9990", "cw": "9990", "bc": "0"}],
        "P": [
            {
                "s": "BTCUSDT",
                "pa": "0",
                "ep": "0",
                "cr": "0",
                "up": "0",
                "mt": "cross",
                "iw": "0",
                "ps": "BOTH",
            }
        ],
    },
}


def test_usdm_user_connects_on_the_listen_key_path() -> None:
    p = keyed_usdm_user()
    assert p.connect_path() == (
        f"/private/ws?listenKey={KEY}&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/listenKeyExpired"
    )
    events = p.connected(T0)
    assert types(events) == ["Authenticated"] and p.state is State.SEEDING
    assert p.outgoing() == []  # ws mode: nothing to send
    assert p.receive(enc(ORDER_TRADE_UPDATE), T0) == []  # buffered until seeded
    assert p.receive(enc(ACCOUNT_UPDATE), T0) == []
    events = usdm_seeds(p, p.requests(), T0 + MS)
    assert types(events) == [
        "AccountUpdate",
        "PositionUpdate",
        "OrderUpdate",
        "Fresh",
        "Fresh",
        "Fresh",
        "OrderUpdate",
        "BalanceUpdate",
        "PositionUpdate",
    ]
    acc, pos = events[0], events[1]
    assert (acc.account.equity, acc.account.available) == (10500.0, 9000.0)
    assert pos.full and pos.positions[0].size == 0.5
    assert events[6].orders[0].side == "sell" and events[7].account.balances["USDT"].free == 9990
    assert events[8].positions[0].size == 0.0 and not events[8].full  # closed
    (live,) = p.receive(enc(ORDER_TRADE_UPDATE), T0 + S)
    assert isinstance(live, OrderUpdate)


def test_usdm_listen_key_keepalive_every_30_minutes() -> None:
    p = keyed_usdm_user()
    p.connected(T0)
    p.requests()
    p.tick(T0 + 29 * 60 * S)
    assert p.requests() == []
    p.tick(T0 + 30 * 60 * S)
    (put,) = p.requests()
    assert (put.method, put.path) == ("PUT", "/fapi/v1/listenKey")
    p.tick(T0 + 30 * 60 * S + 5 * S)
    assert p.requests() == []  # one keepalive in flight
    t1 = T0 + 31 * 60 * S
    assert p.rest_response(put.req_id, 200, enc({"listenKey": KEY}), t1) == []
    p.tick(t1 + 29 * 60 * S)
    assert p.requests() == []
    p.tick(t1 + 30 * 60 * S)
    assert [r.method for r in p.requests()] == ["PUT"]
    assert p.counters["keepalives"] == 2


def test_usdm_listen_key_expired() -> None:
    p = keyed_usdm_user()
    p.connected(T0)
    usdm_seeds(p, p.requests(), T0)
    expired = enc({"e": "listenKeyExpired", "E": "1736996475556", "listenKey": KEY})
    events = p.receive(expired, T0 + S)
    assert sorted(e.kind for e in events) == ["account", "orders", "positions"]
    assert all(isinstance(e, Stale) and KEY not in e.reason for e in events)
    assert p.needs_reconnect and p.connect_path() is None and p.state is State.EXPIRED
    (post,) = p.requests()
    assert post.method == "POST"
    assert p.receive(enc(ORDER_TRADE_UPDATE), T0 + S) == []  # a dead stream's push is not served
    p.rest_response(post.req_id, 200, enc({"listenKey": "NEWKEY"}), T0 + 2 * S)
    assert "listenKey=NEWKEY&" in (p.connect_path() or "")
    p.disconnected(T0 + 3 * S)
    p.connected(T0 + 4 * S)
    assert not p.needs_reconnect and len(p.requests()) == 3  # seeded again


def test_usdm_keepalive_on_a_vanished_key_gets_a_new_one() -> None:
    p = keyed_usdm_user()
    p.connected(T0)
    usdm_seeds(p, p.requests(), T0)
    p.tick(T0 + 30 * 60 * S)
    (put,) = p.requests()
    body = b'{"code":-1125,"msg":"This listenKey does not exist."}'
    events = p.rest_response(put.req_id, 400, body, T0 + 30 * 60 * S)
    assert len(events) == 3 and all(isinstance(e, Stale) for e in events)
    assert [r.method for r in p.requests()] == ["POST"] and p.needs_reconnect


def test_usdm_listen_key_refused() -> None:
    p = BinanceUsdmUser("usdm", CREDS)
    p.start(T0)
    (post,) = p.requests()
    e, *stale = p.rest_response(post.req_id, 401, b'{"code":-2015,"msg":"Invalid API-key"}', T0)
    assert isinstance(e, AuthFailed) and p.connect_path() is None
    assert len(stale) == 3 and all(isinstance(x, Stale) for x in stale)
    p.tick(T0 + S // 2)
    assert p.requests() == []
    p.tick(T0 + S)
    assert [r.method for r in p.requests()] == ["POST"]


def test_usdm_unknown_event_is_malformed() -> None:
    p = keyed_usdm_user()
    p.connected(T0)
    (e,) = p.receive(b'{"e":"MARGIN_CALL","E":1}', T0)
    assert isinstance(e, Malformed) and p.counters["malformed"] == 1
    (e,) = p.receive(b"{", T0)
    assert isinstance(e, Malformed)


def test_usdm_connected_without_a_key_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        BinanceUsdmUser("usdm", CREDS).connected(T0)


# --- secrets --------------------------------------------------------------------------------


def test_no_secret_in_events_frames_requests_reprs_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="spinstream")
    seen: list[str] = []
    spot, reqs = logged_in_spot_user()
    seen += map(repr, spot_seeds(spot, reqs, T0))
    seen += map(repr, spot.receive(b"garbage", T0))
    seen += map(repr, spot.disconnected(T0))
    spot.connected(T0)
    seen += spot.outgoing()
    usdm = keyed_usdm_user()
    seen += map(repr, usdm.connected(T0))
    reqs2 = usdm.requests()
    seen += [repr(r) + r.query + str(r.headers) for r in reqs + reqs2]
    seen += map(repr, usdm.receive(enc({"e": "listenKeyExpired", "E": 1, "listenKey": KEY}), T0))
    seen += [repr(spot), repr(usdm), repr(CREDS), str(spot.__dict__), str(usdm.counters)]
    seen += [r.getMessage() for r in caplog.records]
    text = "\n".join(seen)
    assert SECRET not in text
    events_and_logs = "\n".join(
        [x for x in seen if "listenKey=" not in x] + [r.getMessage() for r in caplog.records]
    )
    assert KEY not in events_and_logs  # the listenKey goes only into connect_path()
    assert any(isinstance(x, str) and "signature" in x for x in seen)  # we did sign things

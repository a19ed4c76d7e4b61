"""bybit.protocol: a book push rejected as Malformed is a gap, from frames, no event loop.

A delta the protocol refuses (undecodable levels or ids, a NaN price or size, data for another
symbol) was still sent by the venue: the book no longer matches it. Never applied in part, the
book is stale at once, drops its deltas, and the topic is resubscribed for a new snapshot, for
`orderbook.{50,200,...}` books and for the spot ticker's `orderbook.1` alike. Both cores
(`SPINSTREAM_NO_EXTENSIONS=1` for the pure-Python one): the chaos suite once saw a ghost level
in a 50-deep spot book with the pure-Python core in its non-finite trial.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from spinstream.protocol.bybit import BybitPublic
from spinstream.protocol.events import BookUpdated, Malformed, Stale, TickerUpdate

MS = 1_000_000
S = 1_000_000_000
T0 = 1_786_310_818_000 * MS


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def book(kind: str, u: int, b: Any, a: Any, sym: str = "BTCUSDT", depth: int = 50) -> str:
    return dumps({"topic": f"orderbook.{depth}.BTCUSDT", "type": kind, "ts": 1786310818129,
                  "data": {"s": sym, "b": b, "a": a, "u": u, "seq": 7000},
                  "cts": 1786310818128})  # fmt: skip


def sent(p: BybitPublic) -> list[tuple[str, list[str]]]:
    return [(f["op"], f["args"]) for f in map(json.loads, p.outgoing())]


def types(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def synced(market: str, strict_seq: bool) -> tuple[BybitPublic, Any]:
    """A 50-deep book of BTCUSDT synced at u=100: bids 10.00/1, 9.90/2; asks 11.00/1."""
    p = BybitPublic(market, book_depth=50, strict_seq=strict_seq)
    p.set_instrument("BTCUSDT", "0.01", "0.001")
    p.connected(T0)
    p.subscribe("book", "BTCUSDT")
    p.outgoing()
    (ev,) = p.receive(book("snapshot", 100, [["10.00", "1"], ["9.90", "2"]], [["11.00", "1"]]), T0)
    assert isinstance(ev, BookUpdated)
    return p, ev.book


def levels(b: Any) -> tuple[list[list[float]], list[list[float]]]:
    return b.bids(50).tolist(), b.asks(50).tolist()


BAD_DELTAS = {  # each a delta at u=101 that must not touch the book
    "nan-price": book("delta", 101, [["NaN", "5"]], [["10.50", "3"]]),
    "nan-size": book("delta", 101, [["10.20", "5"]], [["10.50", "NaN"]]),
    "infinite": book("delta", 101, [["10.20", "5"]], [["Infinity", "3"]]),
    "huge": book("delta", 101, [["10.20", "5"]], [["1e999", "3"]]),
    "negative": book("delta", 101, [["10.20", "5"]], [["10.50", "-3"]]),
    "short-level": book("delta", 101, [["10.20", "5"]], [["10.50"]]),
    "number-level": book("delta", 101, [["10.20", "5"]], [[10.5, "3"]]),
    "bad-u": book("delta", "x", [["10.20", "5"]], []),  # type: ignore[arg-type]
    "other-symbol": book("delta", 101, [["10.20", "5"]], [], sym="ETHUSDT"),
}


@pytest.mark.parametrize("market", ["spot", "linear"])
@pytest.mark.parametrize("strict_seq", [True, False])
@pytest.mark.parametrize("bad", list(BAD_DELTAS), ids=str)
def test_rejected_delta_is_a_gap(market: str, strict_seq: bool, bad: str) -> None:
    p, b = synced(market, strict_seq)
    before = levels(b)
    events = p.receive(BAD_DELTAS[bad], T0 + 1)
    stale = [e for e in events if isinstance(e, Stale)]
    assert not any(isinstance(e, BookUpdated) for e in events), events
    assert len(stale) == 1 and (stale[0].kind, stale[0].symbol, stale[0].market) == (
        "book", "BTCUSDT", market,
    ), events  # fmt: skip
    # a value the book core refuses is a resync (as before); one the decoder refuses, Malformed
    assert types(events) in (["Stale"], ["Malformed", "Stale"]), events
    assert levels(b) == before  # nothing applied in part
    # resubscribed at once for a new snapshot; no instruments refetch for a value never true
    assert sent(p) == [("unsubscribe", ["orderbook.50.BTCUSDT"]),
                       ("subscribe", ["orderbook.50.BTCUSDT"])]  # fmt: skip
    assert p.requests() == []
    # the next deltas are dropped (even where any larger u would chain), not applied
    assert p.receive(book("delta", 102, [["10.10", "7"]], []), T0 + 2) == []
    assert p.receive(book("delta", 103, [], [["10.90", "7"]]), T0 + 3) == []
    assert levels(b) == before and sent(p) == []  # no second resubscribe
    (ev,) = p.receive(book("snapshot", 200, [["10.30", "4"]], [["10.40", "1"]]), T0 + 4)
    assert isinstance(ev, BookUpdated)
    assert levels(ev.book) == ([[1030, 4000]], [[1040, 1000]])  # the snapshot replaces all
    (ev2,) = p.receive(book("delta", 201, [["10.35", "1"]], []), T0 + 5)
    assert isinstance(ev2, BookUpdated) and ev2.book.best_bid() == (1035, 1000)


def test_json_nan_delta_is_caught_by_the_next_delta() -> None:
    """A frame that is no JSON at all names no topic: the next delta's `u` shows the gap."""
    p, b = synced("spot", True)
    bad = book("delta", 101, [["10.20", "5"]], [["X", "3"]]).replace('"X"', "NaN")
    (ev,) = p.receive(bad, T0 + 1)
    assert isinstance(ev, Malformed)
    (st,) = p.receive(book("delta", 102, [["10.10", "7"]], []), T0 + 2)
    assert isinstance(st, Stale) and "gap" in st.reason


def test_rejected_delta_while_waiting_for_the_snapshot_resubscribes_nothing() -> None:
    p = BybitPublic("linear", book_depth=50)
    p.set_instrument("BTCUSDT", "0.01", "0.001")
    p.connected(T0)
    p.subscribe("book", "BTCUSDT")
    p.outgoing()
    assert types(p.receive(BAD_DELTAS["short-level"], T0)) == ["Malformed"]  # snapshot coming
    assert sent(p) == []
    # a rejected snapshot: the one waited for; resubscribed, else it would never come
    bad_snap = book("snapshot", 100, [["10.00", "1"]], [["11.00"]])
    assert types(p.receive(bad_snap, T0 + 1)) == ["Malformed", "Stale"]
    assert [op for op, _ in sent(p)] == ["unsubscribe", "subscribe"]
    assert types(p.receive(BAD_DELTAS["bad-u"], T0 + 2)) == ["Malformed"]
    assert sent(p) == []
    (ev,) = p.receive(book("snapshot", 300, [["10.00", "1"]], [["11.00", "1"]]), T0 + 3)
    assert isinstance(ev, BookUpdated)


def test_tick_change_still_refetches_the_instrument() -> None:
    p, _ = synced("linear", True)
    (ev,) = p.receive(book("delta", 101, [["10.005", "1"]], []), T0 + 1)
    assert isinstance(ev, Stale) and "bad level" in ev.reason
    (req,) = p.requests()
    assert req.path == "/v5/market/instruments-info"


# --- spot orderbook.1: the spot ticker's top of book ------------------------------------------


def stats(last: str = "65140.5") -> str:
    data = {"symbol": "BTCUSDT", "lastPrice": last, "volume24h": "2953.8"}
    return dumps(
        {"topic": "tickers.BTCUSDT", "ts": 1786310817583, "type": "snapshot", "data": data}
    )


def level1(bid: str, ask: str = "65140.5", u: int = 1) -> str:
    return dumps({"topic": "orderbook.1.BTCUSDT", "ts": 1786310816618, "type": "snapshot",
                  "data": {"s": "BTCUSDT", "b": [[bid, "0.8"]], "a": [[ask, "0.4"]], "u": u,
                           "seq": 1}})  # fmt: skip


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e999", "-1", "x"])
def test_rejected_level1_top_stales_the_spot_ticker_and_resubscribes(value: str) -> None:
    p = BybitPublic("spot")
    p.connected(T0)
    p.subscribe("ticker", "BTCUSDT")
    p.outgoing()
    p.receive(stats(), T0)
    (ok,) = p.receive(level1("65140.4"), T0 + 1)
    assert isinstance(ok, TickerUpdate)
    events = p.receive(level1(value, u=2), T0 + 2)
    assert types(events) == ["Malformed", "Stale"]
    st = events[1]
    assert (st.kind, st.symbol, st.market) == ("ticker", "BTCUSDT", "spot")  # type: ignore[union-attr]
    assert sent(p) == [("unsubscribe", ["orderbook.1.BTCUSDT"]),
                       ("subscribe", ["orderbook.1.BTCUSDT"])]  # fmt: skip
    # the old top is not current any more: stats alone serve nothing
    assert p.receive(stats("65141"), T0 + 3) == []
    assert types(p.receive(level1(value, u=3), T0 + 4)) == ["Malformed"]  # nothing more to lose
    assert sent(p) == []
    (t,) = p.receive(level1("65140.9", "65141.1", u=4), T0 + 5)
    assert isinstance(t, TickerUpdate)
    assert (t.ticker.bid, t.ticker.ask, t.ticker.last) == (65140.9, 65141.1, 65141.0)

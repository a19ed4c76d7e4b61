"""bybit.protocol: a ticker is fresh only with both sides, from frames, no event loop.

Bybit's spot `tickers` carries no bid/ask: the spot ticker's best levels come from
`orderbook.1`. Found by the chaos suite: right after a reconnect one spot ticker was served
`source="ws"`, fresh, with bid and ask None, built from the `tickers` snapshot alone. A
`TickerUpdate` is what the cache serves as fresh, so none may carry a None side: the first one
of a connection waits for both the `tickers` and the `orderbook.1` snapshots, in either order,
and a reconnect forgets the old best levels. Linear `tickers` snapshots carry bid1/ask1: a
ticker missing one is not emitted either.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from spinstream.protocol.bybit import BybitPublic
from spinstream.protocol.events import Malformed, Stale, TickerUpdate

MS = 1_000_000
S = 1_000_000_000
T0 = 1_786_310_818_000 * MS


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def stats(last: str = "65140.5", volume: str = "2953.8", sym: str = "BTCUSDT") -> str:
    """A spot `tickers` push (snapshot only on spot; no bid/ask), as recorded."""
    return dumps({"topic": f"tickers.{sym}", "ts": 1786310817583, "type": "snapshot", "cs": 1,
                  "data": {"symbol": sym, "lastPrice": last, "highPrice24h": "66000",
                           "lowPrice24h": "64000", "prevPrice24h": "65000",
                           "volume24h": volume, "turnover24h": "1", "price24hPcnt": "0.002",
                           "usdIndexPrice": "65140.1"}})  # fmt: skip


def top(
    bid: list[list[str]] | None = None, ask: list[list[str]] | None = None, u: int = 100
) -> str:
    """A spot `orderbook.1` push (snapshot only: every push is the whole top of book)."""
    b = [["65140.4", "0.875077"]] if bid is None else bid
    a = [["65140.5", "0.472215"]] if ask is None else ask
    return dumps({"topic": "orderbook.1.BTCUSDT", "ts": 1786310816618, "type": "snapshot",
                  "data": {"s": "BTCUSDT", "b": b, "a": a, "u": u, "seq": 1},
                  "cts": 1786310816617})  # fmt: skip


def linear_ticker(kind: str, data: dict[str, str]) -> str:
    return dumps({"topic": "tickers.BTCUSDT", "type": kind,
                  "data": {"symbol": "BTCUSDT", **data}, "cs": 1, "ts": 1786310817583})  # fmt: skip


def feed(p: BybitPublic, frame: str, ts: int) -> list[Any]:
    """P's events for FRAME, checked: no TickerUpdate ever lacks a side."""
    events = p.receive(frame, ts)
    for e in events:
        if isinstance(e, TickerUpdate):
            t = e.ticker
            assert t.bid is not None and t.ask is not None, f"one-sided fresh ticker: {t}"
            assert t.bid_size is not None and t.ask_size is not None, t
            assert t.bid < t.ask, t
    return events


def tickers(events: list[Any]) -> list[Any]:
    return [e.ticker for e in events if isinstance(e, TickerUpdate)]


def spot() -> BybitPublic:
    p = BybitPublic("spot")
    p.connected(T0)
    p.subscribe("ticker", "BTCUSDT")
    p.outgoing()
    return p


ORDERS = [("stats", "top"), ("top", "stats")]


@pytest.mark.parametrize("order", ORDERS)
def test_spot_ticker_waits_for_both_snapshots(order: tuple[str, str]) -> None:
    p = spot()
    frames = {"stats": stats(), "top": top()}
    assert tickers(feed(p, frames[order[0]], T0 + 1)) == []  # one of two: nothing served
    (t,) = tickers(feed(p, frames[order[1]], T0 + 2))
    assert (t.bid, t.bid_size, t.ask, t.ask_size) == (65140.4, 0.875077, 65140.5, 0.472215)
    assert (t.last, t.volume_24h, t.market, t.source) == (65140.5, 2953.8, "spot", "ws")
    # from then on each push serves the merged ticker
    (t2,) = tickers(feed(p, stats(last="65141"), T0 + 3))
    assert (t2.bid, t2.ask, t2.last) == (65140.4, 65140.5, 65141.0)
    (t3,) = tickers(feed(p, top(bid=[["65140.9", "1"]], ask=[["65141.1", "2"]], u=101), T0 + 4))
    assert (t3.bid, t3.ask, t3.last) == (65140.9, 65141.1, 65141.0)


@pytest.mark.parametrize(
    "before, after", list(itertools.product(ORDERS, ORDERS)), ids=lambda o: "-".join(o)
)
def test_spot_ticker_after_a_reconnect_waits_for_the_new_top(
    before: tuple[str, str], after: tuple[str, str]
) -> None:
    p = spot()
    old = {"stats": stats(), "top": top()}
    for name in before:
        feed(p, old[name], T0 + 1)
    events = p.disconnected(T0 + S)
    assert [(e.kind, e.reason) for e in events if isinstance(e, Stale)] == [
        ("ticker", "disconnected")
    ]
    p.connected(T0 + 2 * S)
    assert sorted(a for f in p.outgoing() for a in json.loads(f)["args"]) == [
        "orderbook.1.BTCUSDT", "tickers.BTCUSDT",
    ]  # fmt: skip
    new = {"stats": stats(last="65200"), "top": top(bid=[["65199.9", "3"]], ask=[["65200", "4"]])}
    # the old best levels are not current: the first snapshot alone serves nothing
    assert tickers(feed(p, new[after[0]], T0 + 3 * S)) == []
    (t,) = tickers(feed(p, new[after[1]], T0 + 3 * S + 1))
    assert (t.bid, t.bid_size, t.ask, t.ask_size, t.last) == (65199.9, 3.0, 65200.0, 4.0, 65200.0)


def test_spot_ticker_flapping_link_never_serves_a_side_missing() -> None:
    """Ten drops back to back, snapshots arriving in every order and some not at all."""
    p = spot()
    ts = T0
    for i in range(10):
        seq = [stats(last=str(65000 + i)), top(u=200 + i)][:: 1 if i % 2 else -1]
        if i % 3 == 0:
            seq = seq[:1]  # dropped before the second snapshot came
        for frame in seq:
            ts += MS
            feed(p, frame, ts)
        p.disconnected(ts + 1)
        p.connected(ts + 2)
        p.outgoing()
        ts += S
        assert tickers(feed(p, stats(last="1.5"), ts)) == []  # new connection, no top yet


@pytest.mark.parametrize("side", ["bid", "ask"])
def test_spot_one_sided_top_is_not_served_and_stales_a_served_ticker(side: str) -> None:
    p = spot()
    feed(p, top(**{side: []}), T0)  # type: ignore[arg-type]
    assert tickers(feed(p, stats(), T0 + 1)) == []  # stats, but the top has one side only
    assert len(tickers(feed(p, top(u=101), T0 + 2))) == 1
    events = feed(p, top(**{side: []}, u=102), T0 + 3)  # type: ignore[arg-type]
    (st,) = events
    assert isinstance(st, Stale) and (st.kind, st.symbol, st.market) == (
        "ticker",
        "BTCUSDT",
        "spot",
    )
    assert tickers(feed(p, stats(last="65150"), T0 + 4)) == []  # the old top is not reused
    assert len(tickers(feed(p, top(u=103), T0 + 5))) == 1


def test_linear_ticker_needs_both_sides_from_its_snapshot_and_deltas() -> None:
    p = BybitPublic("linear")
    p.connected(T0)
    p.subscribe("ticker", "BTCUSDT")
    p.outgoing()
    # a snapshot without an ask (never seen live, but not served either), completed by a delta
    assert feed(p, linear_ticker("snapshot", {"lastPrice": "1", "bid1Price": "0.9",
                                              "bid1Size": "1"}), T0) == []  # fmt: skip
    (t,) = tickers(feed(p, linear_ticker("delta", {"ask1Price": "1.1", "ask1Size": "2"}), T0 + 1))
    assert (t.bid, t.ask, t.last) == (0.9, 1.1, 1.0)
    (t2,) = tickers(feed(p, linear_ticker("delta", {"bid1Size": "3"}), T0 + 2))  # per-frame path
    assert (t2.bid, t2.bid_size, t2.ask) == (0.9, 3.0, 1.1)
    # a delta that blanks a side: stale, not a one-sided fresh ticker
    (st,) = feed(p, linear_ticker("delta", {"bid1Price": "", "bid1Size": ""}), T0 + 3)
    assert isinstance(st, Stale) and (st.kind, st.symbol) == ("ticker", "BTCUSDT")
    assert feed(p, linear_ticker("delta", {"lastPrice": "1.05"}), T0 + 4) == []  # still no bid
    (t3,) = tickers(feed(p, linear_ticker("delta", {"bid1Price": "1", "bid1Size": "1"}), T0 + 5))
    assert (t3.bid, t3.ask, t3.last) == (1.0, 1.1, 1.05)


def test_linear_ticker_after_a_reconnect_waits_for_the_new_snapshot() -> None:
    p = BybitPublic("linear")
    p.connected(T0)
    p.subscribe("ticker", "BTCUSDT")
    full = {"lastPrice": "1", "bid1Price": "0.9", "bid1Size": "1", "ask1Price": "1.1",
            "ask1Size": "2", "volume24h": "5"}  # fmt: skip
    assert len(tickers(feed(p, linear_ticker("snapshot", full), T0))) == 1
    p.disconnected(T0 + S)
    p.connected(T0 + 2 * S)
    (m,) = feed(p, linear_ticker("delta", {"bid1Size": "4"}), T0 + 3 * S)  # not onto the old one
    assert isinstance(m, Malformed) and "before its snapshot" in m.reason
    (t,) = tickers(feed(p, linear_ticker("snapshot", {**full, "bid1Price": "0.95"}), T0 + 4 * S))
    assert (t.bid, t.ask) == (0.95, 1.1)

"""cache.ig: IgCache from IG events, no network.

Ticks go into int tick rings (float views on read, rescaled when decimals grow), stale channels
are never served, IG's CHART bars win for IG scales while fresh, tick-built bars (the candle core
over exact half-tick mids) serve the other scales and the IG scales while CHART is stale; deal
confirmations are kept in order. Tick-built bars are checked against a pandas resample of the
same mids. Every test runs against the compiled core and its pure-Python twin.
"""

from __future__ import annotations

import sys
import threading
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import spinstream.cache.ig as ig_mod
from spinstream.cache.ig import BAR_VIEW_DTYPE, TICK_VIEW_DTYPE, IgCache
from spinstream.cache.store import Store
from spinstream.credentials import Credentials
from spinstream.models import TradeConfirm
from spinstream.protocol.events import TickerUpdate
from spinstream.protocol.ig import IgStream
from spinstream.protocol.ig.parse import (
    CandleUpdate,
    ChannelStale,
    ConfirmUpdate,
    TickUpdate,
)
from spinstream.protocol.lightstreamer import codec

S = 1_000_000_000
MS = 1_000_000
T0 = 1_709_546_400 * S  # on a whole hour
EPIC = "IX.D.FTSE.DAILY.IP"
FX = "CS.D.EURUSD.CFD.IP"
A = "ig"


@pytest.fixture
def cache(core: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> IgCache:
    """An IgCache over the compiled core, then over the twin."""
    monkeypatch.setattr(ig_mod, "TickRing", core.ring.TickRing)
    monkeypatch.setattr(ig_mod, "CandleAggregator", core.candles.CandleAggregator)
    monkeypatch.setattr(ig_mod, "parse_scale", core.candles.parse_scale)
    return IgCache()


def tick(
    bid: int | None,
    ask: int | None,
    decimals: int,
    ts: int | None,
    *,
    epic: str = EPIC,
    channel: str = "ticks",
    ts_recv: int = 0,
) -> TickUpdate:
    return TickUpdate(
        venue="ig", market="otc", epic=epic, channel=channel, bid_ticks=bid, ask_ticks=ask,
        decimals=decimals, ts_event=ts, ts_recv=ts_recv,
    )  # fmt: skip


def bar(
    start: int,
    bid: tuple[int, int, int, int],
    spread: int = 10,
    *,
    closed: bool = False,
    decimals: int = 1,
    scale: str = "1MINUTE",
    epic: str = EPIC,
    ltv: float | None = 3.0,
    count: int | None = 7,
) -> CandleUpdate:
    return CandleUpdate(
        venue="ig", market="otc", epic=epic, scale=scale, start=start, bid_ticks=bid,
        ask_ticks=tuple(p + spread for p in bid), decimals=decimals, ltv=ltv, tick_count=count,
        closed=closed, ts_recv=start + 1,
    )  # fmt: skip


def stale(channel: str, epic: str = EPIC) -> ChannelStale:
    return ChannelStale(
        venue="ig", market="otc", channel=channel, epic=epic, reason="disconnected", ts_recv=1
    )


def rows(a: np.ndarray) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in a.tolist()]


# -- ticks ---------------------------------------------------------------------------------------


def test_ticks_go_into_rings_and_read_as_floats(cache: IgCache) -> None:
    assert cache.ticks(A, EPIC, 10) is None
    for i in range(5):
        assert cache.apply(A, tick(74805 + i, 74815 + i, 1, T0 + i * MS))
    got = cache.ticks(A, EPIC, 3)
    assert got.dtype == TICK_VIEW_DTYPE
    assert rows(got) == [(T0 + 2 * MS, 7480.7, 7481.7), (T0 + 3 * MS, 7480.8, 7481.8),
                         (T0 + 4 * MS, 7480.9, 7481.9)]  # fmt: skip
    assert len(cache.ticks(A, EPIC, 100)) == 5
    assert cache.tick_decimals(A, EPIC) == 1
    # no event time: the receive time; a side missing: not a tick
    cache.apply(A, tick(74900, 74910, 1, None, ts_recv=T0 + S))
    cache.apply(A, tick(None, 74920, 1, T0 + 2 * S))
    assert rows(cache.ticks(A, EPIC, 1)) == [(T0 + S, 7490.0, 7491.0)]
    # other accounts, epics and channels are apart
    assert cache.ticks("other", EPIC, 10) is None and cache.ticks(A, FX, 10) is None
    assert cache.ticks(A, EPIC, 10, "market") is None
    cache.apply(A, tick(108452, 108461, 5, T0, epic=FX, channel="market"))
    assert rows(cache.ticks(A, FX, 10)) == [(T0, 1.08452, 1.08461)]  # channel None: any
    assert cache.ticks(A, FX, 10, "ticks") is None
    assert cache.ticks(A, EPIC, 0).dtype == TICK_VIEW_DTYPE and len(cache.ticks(A, EPIC, 0)) == 0


def test_decimals_growth_rescales_what_the_rings_hold(cache: IgCache) -> None:
    cache.apply(A, tick(7480, 7481, 0, T0))  # IG trimmed "7480.0" to "7480"
    cache.apply(A, tick(74805, 74815, 1, T0 + 1))
    cache.apply(A, tick(748050, 748155, 2, T0 + 2))
    assert cache.tick_decimals(A, EPIC) == 2
    assert rows(cache.ticks(A, EPIC, 10)) == [
        (T0, 7480.0, 7481.0), (T0 + 1, 7480.5, 7481.5), (T0 + 2, 7480.5, 7481.55),
    ]  # fmt: skip
    t = cache._ticks[(A, EPIC, "ticks")]  # noqa: SLF001 - the exact ints behind the view
    assert t.bid.last(3)["price"].tolist() == [748000, 748050, 748050]
    assert t.ask.last(3)["price"].tolist() == [748100, 748150, 748155]


def test_a_tick_at_fewer_decimals_is_widened_not_raised(cache: IgCache) -> None:
    """A tick narrower than what the rings hold (a new stream object starts at the text's own
    decimals) is scaled up; it used to rescale the rings by 10**-k and raise."""
    cache.apply(A, tick(74805, 74815, 1, T0))
    cache.apply(A, tick(7481, 7482, 0, T0 + 1))
    assert cache.tick_decimals(A, EPIC) == 1
    assert rows(cache.ticks(A, EPIC, 10)) == [(T0, 7480.5, 7481.5), (T0 + 1, 7481.0, 7482.0)]


def test_stale_ticks_are_not_served_until_the_next_tick(cache: IgCache) -> None:
    cache.apply(A, tick(74805, 74815, 1, T0))
    cache.apply(A, tick(74806, 74816, 1, T0 + 1, channel="market"))
    cache.apply(A, stale("ticks"))
    assert cache.ticks(A, EPIC, 10, "ticks") is None
    assert rows(cache.ticks(A, EPIC, 10)) == [(T0 + 1, 7480.6, 7481.6)]  # PRICE ticks still live
    cache.apply(A, stale("market"))
    assert cache.ticks(A, EPIC, 10) is None
    cache.apply(A, stale("ticks", epic="NOT.SEEN"))  # nothing held: ignored
    cache.apply(A, tick(74807, 74817, 1, T0 + 2))
    assert rows(cache.ticks(A, EPIC, 10)) == [(T0, 7480.5, 7481.5), (T0 + 2, 7480.7, 7481.7)]
    assert cache.ticks(A, EPIC, 10, "market") is None


# -- IG's CHART bars -----------------------------------------------------------------------------


def test_chart_bars_open_close_and_a_new_start_closes_the_previous(cache: IgCache) -> None:
    m = 60 * S
    assert cache.candles(A, EPIC, "1MINUTE") is None
    cache.apply(A, bar(T0, (74700, 74905, 74680, 74805)))
    got, src = cache.candles(A, EPIC, "1MINUTE")
    assert src == "chart" and got.dtype == BAR_VIEW_DTYPE
    assert rows(got) == [(T0, 7470.5, 7491.0, 7468.5, 7481.0, 3.0, 7)]  # mids of bid and offer
    cache.apply(A, bar(T0, (74700, 74905, 74600, 74650), count=9))  # the open bar moves
    assert rows(cache.candles(A, EPIC, "1MINUTE")[0]) == [
        (T0, 7470.5, 7491.0, 7460.5, 7465.5, 3.0, 9)
    ]
    cache.apply(A, bar(T0, (74700, 74905, 74600, 74660), closed=True, count=10))  # CONS_END=1
    cache.apply(A, bar(T0 + m, (74660, 74670, 74650, 74665), ltv=None, count=None))
    cache.apply(A, bar(T0 + 2 * m, (74665, 74665, 74665, 74665)))  # no CONS_END seen for T0+m
    got, _ = cache.candles(A, EPIC, "1MINUTE")
    assert got["start"].tolist() == [T0, T0 + m, T0 + 2 * m]
    assert rows(got)[:2] == [
        (T0, 7470.5, 7491.0, 7460.5, 7466.5, 3.0, 10),
        (T0 + m, 7466.5, 7467.5, 7465.5, 7467.0, 0.0, 0),
    ]
    assert cache.candles(A, EPIC, "HOUR") is None and cache.candles(A, FX, "1MINUTE") is None


def test_a_closed_bar_sent_again_is_not_a_second_bar(cache: IgCache) -> None:
    """After a resubscribe the MERGE snapshot repeats the last (closed) bar: one bar per start;
    a bar older than the newest one is out of order and ignored."""
    m = 60 * S
    cache.apply(A, bar(T0, (74700, 74710, 74690, 74705), closed=True))
    cache.apply(A, bar(T0, (74700, 74720, 74690, 74706), closed=True))  # re-sent, revised
    got, _ = cache.candles(A, EPIC, "1MINUTE")
    assert got["start"].tolist() == [T0] and got["high"][0] == 7472.5
    cache.apply(A, bar(T0 + m, (74706, 74706, 74706, 74706)))
    cache.apply(A, bar(T0, (1, 1, 1, 1), closed=True))  # older than the open bar
    cache.apply(A, bar(T0 - m, (1, 1, 1, 1), closed=True))
    got, _ = cache.candles(A, EPIC, "1MINUTE")
    assert got["start"].tolist() == [T0, T0 + m] and got["open"].tolist() == [7470.5, 7471.1]
    cache.apply(A, bar(T0 + m, (74706, 74709, 74706, 74708), closed=True))
    cache.apply(A, bar(T0 + m, (74706, 74709, 74706, 74708), closed=True))
    got, _ = cache.candles(A, EPIC, "1MINUTE")
    assert got["start"].tolist() == [T0, T0 + m] and got["close"].tolist() == [7471.1, 7471.3]


def test_chart_bars_without_both_sides_serve_nothing(cache: IgCache) -> None:
    cache.apply(A, CandleUpdate(venue="ig", market="otc", epic=EPIC, scale="1MINUTE", start=T0,
                                bid_ticks=None, ask_ticks=None, decimals=1, ts_recv=1))  # fmt: skip
    assert cache.candles(A, EPIC, "1MINUTE") is None


# -- tick-built bars -----------------------------------------------------------------------------


def test_ig_bars_win_while_fresh_ticks_serve_while_chart_is_stale(cache: IgCache) -> None:
    cache.want_candles(A, EPIC, "1MINUTE")
    cache.want_candles(A, EPIC, "1MINUTE")  # idempotent
    cache.apply(A, bar(T0, (74700, 74905, 74680, 74805)))
    cache.apply(A, tick(74800, 74810, 1, T0 + S))
    cache.apply(A, tick(74820, 74831, 1, T0 + 2 * S))
    got, src = cache.candles(A, EPIC, "1MINUTE")
    assert src == "chart" and got["open"].tolist() == [7470.5]
    cache.apply(A, stale("candles:1MINUTE"))
    got, src = cache.candles(A, EPIC, "1MINUTE")
    assert src == "ticks"
    assert rows(got) == [(T0, 7480.5, 7482.55, 7480.5, 7482.55, 0.0, 2)]  # half-tick mids, exact
    cache.apply(A, stale("candles:HOUR"))  # nothing held: ignored
    cache.apply(A, bar(T0, (74700, 74905, 74680, 74805)))  # CHART is live again
    assert cache.candles(A, EPIC, "1MINUTE")[1] == "chart"
    cache.apply(A, stale("candles:1MINUTE"))
    cache.apply(A, stale("ticks"))  # both stale: nothing to serve
    assert cache.candles(A, EPIC, "1MINUTE") is None
    cache.apply(A, tick(74800, 74810, 1, T0 + 61 * S))
    got, src = cache.candles(A, EPIC, "1MINUTE")
    assert src == "ticks" and got["start"].tolist() == [T0, T0 + 60 * S]


def test_tick_bars_need_want_candles_and_chart_ticks(cache: IgCache) -> None:
    cache.apply(A, tick(74800, 74810, 1, T0))
    assert cache.candles(A, EPIC, "5s") is None  # no aggregator yet
    cache.want_candles(A, EPIC, "5s")
    assert cache.candles(A, EPIC, "5s") is None  # ticks before want_candles are not replayed
    cache.apply(A, tick(74900, 74910, 1, T0 + 6 * S, channel="market"))  # PRICE: not aggregated
    assert cache.candles(A, EPIC, "5s") is None
    cache.apply(A, tick(74802, 74812, 1, T0 + 6 * S))
    cache.apply(A, tick(74700, 74710, 1, T0 + 4 * S))  # late: before the open bar
    cache.apply(A, tick(74804, 74814, 1, T0 + 7 * S, epic=FX))  # another epic
    (got, src) = cache.candles(A, EPIC, "5s")
    assert src == "ticks" and rows(got) == [(T0 + 5 * S, 7480.7, 7480.7, 7480.7, 7480.7, 0.0, 1)]
    assert cache.candles("other", EPIC, "5s") is None


def test_tick_bars_follow_decimals_growth(cache: IgCache) -> None:
    cache.want_candles(A, EPIC, "5s")
    cache.apply(A, tick(7480, 7481, 0, T0))
    cache.apply(A, tick(74805, 74815, 1, T0 + S))
    cache.apply(A, tick(748051, 748152, 2, T0 + 2 * S))
    cache.apply(A, tick(7490, 7491, 0, T0 + 6 * S))  # narrower again
    got, _ = cache.candles(A, EPIC, "5s")
    assert rows(got) == [
        (T0, 7480.5, 7481.015, 7480.5, 7481.015, 0.0, 3),
        (T0 + 5 * S, 7490.5, 7490.5, 7490.5, 7490.5, 0.0, 1),
    ]


def synthetic_ticks(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ts ns, bid, ask) int ticks at 5 decimals: ~200 ms apart with some quiet minutes, a
    +-1 tick walk, spreads of 6..9 ticks (odd ones give half-tick mids)."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(200 * MS, n).astype(np.int64)
    gaps[rng.random(n) < 0.002] += 90 * S  # a few gaps longer than a bar: empty intervals
    ts = T0 + np.cumsum(gaps)
    bid = 108_450 + np.cumsum(rng.integers(-1, 2, n))
    ask = bid + rng.integers(6, 10, n)
    return ts, bid, ask


def pandas_bars(ts: np.ndarray, bid: np.ndarray, ask: np.ndarray, rule: str) -> Any:
    pd = pytest.importorskip("pandas")
    mid = pd.Series((bid + ask) / 2e5, index=pd.to_datetime(ts, unit="ns"))
    r = mid.resample(rule)
    frame = r.ohlc()
    frame["count"] = r.count()
    return frame[frame["count"] > 0]


@pytest.mark.parametrize("scale, rule, ns", [("5s", "5s", 5 * S), ("1MINUTE", "1min", 60 * S)])
def test_tick_bars_match_a_pandas_resample_of_the_mids(
    cache: IgCache, scale: str, rule: str, ns: int
) -> None:
    ts, bid, ask = synthetic_ticks(20_000)
    cache.want_candles(A, FX, scale)
    cache.apply(A, stale(f"candles:{scale}", epic=FX))  # nothing held: no effect
    for t, b, a in zip(ts.tolist(), bid.tolist(), ask.tolist(), strict=True):
        cache.apply(A, tick(b, a, 5, t, epic=FX))
    got, src = cache.candles(A, FX, scale)
    ref = pandas_bars(ts, bid, ask, rule)
    assert src == "ticks" and len(got) == len(ref) > 100
    assert got["start"].tolist() == ref.index.asi8.tolist()  # empty intervals: no bar
    for f in ("open", "high", "low", "close"):
        np.testing.assert_allclose(got[f], ref[f].to_numpy(), rtol=1e-15, atol=0)
    assert got["count"].tolist() == ref["count"].tolist() and not got["volume"].any()
    # exact: each mid is (bid + ask) / 2 correctly rounded, whatever the float path
    first = np.flatnonzero(ts // ns * ns == got["start"][0])
    assert got["open"][0] == (bid[first[0]] + ask[first[0]]) / 200_000
    assert got["close"][0] == (bid[first[-1]] + ask[first[-1]]) / 200_000
    # reading twice gives the same bars; the open bar is the last one
    assert rows(cache.candles(A, FX, scale)[0]) == rows(got)


def test_tick_bars_are_capped_like_chart_bars(
    cache: IgCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ig_mod, "MAX_BARS", 5)
    cache.want_candles(A, EPIC, "SECOND")
    for i in range(40):
        cache.apply(A, tick(74800 + i, 74810 + i, 1, T0 + i * S))
        if i % 7 == 0:
            cache.candles(A, EPIC, "SECOND")
        cache.apply(A, bar(T0 + i * 60 * S, (74700 + i,) * 4, closed=True))
    got, _ = cache.candles(A, EPIC, "SECOND")
    assert got["start"].tolist() == [T0 + i * S for i in range(34, 40)]  # 5 closed + the open
    got, _ = cache.candles(A, EPIC, "1MINUTE")
    assert got["start"].tolist() == [T0 + i * 60 * S for i in range(35, 40)]


# -- confirms and the store ----------------------------------------------------------------------


def confirm(ref: str, ts: int) -> ConfirmUpdate:
    return ConfirmUpdate(
        confirm=TradeConfirm(
            venue="ig", market="otc", deal_reference=ref, deal_id=f"D{ref}",
            deal_status="ACCEPTED", status="OPEN", epic=EPIC, direction="BUY", size=1.0,
            level=7480.5, last_update=ts, source="ws",
        )
    )  # fmt: skip


def test_confirms_are_kept_in_order_per_account(cache: IgCache) -> None:
    assert cache.confirms(A) == []
    for i in range(1003):
        cache.apply(A, confirm(str(i), i))
    cache.apply("other", confirm("x", 1))
    got = cache.confirms(A)
    assert len(got) == 1000 and [c.deal_reference for c in got[:2]] == ["3", "4"]
    assert got[-1].deal_reference == "1002" and cache.confirms("other")[0].deal_id == "Dx"
    assert cache.apply(A, object()) is False


def test_the_store_routes_ig_events_to_its_ig_cache() -> None:
    s = Store()
    s.apply(A, [tick(74805, 74815, 1, T0), confirm("r", 1), stale("candles:1MINUTE")])
    assert rows(s.ig.ticks(A, EPIC, 5)) == [(T0, 7480.5, 7481.5)]
    assert [c.deal_reference for c in s.ig.confirms(A)] == ["r"]
    assert s.counts["TickUpdate"] == 1 and s.counts["unhandled_event"] == 0


LOGIN_BODY = (
    b'{"accountType":"CFD","currencyIsoCode":"GBP","currentAccountId":"XQ123",'
    b'"lightstreamerEndpoint":"https://demo-apd.marketdatasystems.com",'
    b'"accounts":[{"accountId":"XQ123","accountName":"CFD","preferred":true,'
    b'"accountType":"CFD"}],"clientId":"100112233","timezoneOffset":0}'
)


def test_from_tlcp_lines_through_the_stream_into_the_store() -> None:
    """CHART:TICK and PRICE U lines -> IgStream -> Store.apply -> store.ig, as the runtime does."""
    stream = IgStream("otc", Credentials.of("k" * 40, "pw"), env="demo", identifier="u",
                      lookup_decimals=False)  # fmt: skip
    stream.subscribe("ticks", EPIC)
    stream.subscribe("market", EPIC)
    stream.start(T0)
    (login,) = stream.requests()
    tokens = {"CST": "c", "X-SECURITY-TOKEN": "x"}
    assert stream.rest_response(login.req_id, 200, LOGIN_BODY, T0, headers=tokens) == []
    store = Store()
    store.ig.want_candles(A, EPIC, "5s")
    stream.connected(T0)
    stream.outgoing()
    stream.receive(codec.server_frame(["WSOK", "CONOK,S1,50000,5000,*"]), T0)
    subs = {}
    for frame in stream.outgoing():
        for p in codec.parse_request(frame).params:
            subs[p["LS_group"]] = (int(p["LS_subId"]), p["LS_schema"].split(" "))
    lines = [f"SUBOK,{sid},1,{len(f)}" for sid, f in subs.values()]
    tick_sub, tick_fields = subs[f"CHART:{EPIC}:TICK"]
    price_sub, price_fields = subs[f"PRICE:XQ123:{EPIC}"]
    prev = None
    for i, (b, o) in enumerate([("7480", "7481"), ("7480.5", "7481.5"), ("7480.5", "7482")]):
        row = dict(BID=b, OFR=o, LTP=None, LTV=None, UTM=str(T0 // MS + 1000 * i))
        new = [row[f] for f in tick_fields]
        lines.append(codec.format_update(tick_sub, 1, prev, new))
        prev = new
    price = dict(BIDPRICE1="7480.5", ASKPRICE1="7481.5", BIDSIZE1="5", ASKSIZE1="5",
                 TIMESTAMP=str(T0 // MS))  # fmt: skip
    lines.append(codec.format_update(price_sub, 1, None, [price[f] for f in price_fields]))
    assert "|#|#|" in lines[-4] and "|^2|" in lines[-2]  # null LTP/LTV, then unchanged
    events = stream.receive(codec.server_frame(lines), T0 + 5 * S)
    store.apply(A, events)
    assert [type(e).__name__ for e in events].count("TickUpdate") == 4
    assert any(isinstance(e, TickerUpdate) for e in events)
    assert rows(store.ig.ticks(A, EPIC, 10, "ticks")) == [
        (T0, 7480.0, 7481.0), (T0 + S, 7480.5, 7481.5), (T0 + 2 * S, 7480.5, 7482.0),
    ]  # fmt: skip
    assert rows(store.ig.ticks(A, EPIC, 10, "market")) == [(T0, 7480.5, 7481.5)]
    got, src = store.ig.candles(A, EPIC, "5s")
    assert src == "ticks" and rows(got) == [(T0, 7480.5, 7481.25, 7480.5, 7481.25, 0.0, 3)]
    store.apply(A, stream.disconnected(T0 + 6 * S))  # everything the connection fed is stale
    assert store.ig.ticks(A, EPIC, 10) is None and store.ig.candles(A, EPIC, "5s") is None


# -- readers on other threads --------------------------------------------------------------------


def test_readers_on_other_threads_never_see_a_torn_state(cache: IgCache) -> None:
    """One writer (the event loop) and a reader thread (ctx): every answer is consistent.

    Bid and ask of a row come from the same tick (the spread is fixed by the tick's index),
    times increase, bars have strictly increasing starts with nothing lost or repeated."""
    cache.want_candles(A, EPIC, "SECOND")
    n = 30_000
    bad: list[str] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            t = cache.ticks(A, EPIC, 50)
            if t is not None and len(t):
                idx = np.rint((t["ts"] - T0) / (100 * MS)).astype(np.int64)
                spread = np.rint((t["ask"] - t["bid"]) * 10).astype(np.int64)
                if not (np.diff(idx) == 1).all() or (spread != 1 + idx % 5).any():
                    bad.append(f"ticks torn: {idx[:3]} {spread[:3]}")
            got = cache.candles(A, EPIC, "SECOND")
            if got is not None:
                starts = got[0]["start"]
                if len(starts) and not (np.diff(starts) == S).all():
                    bad.append(f"bars: {np.diff(starts)[np.diff(starts) != S][:3]}")

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    th = threading.Thread(target=reader)
    th.start()
    try:
        for i in range(n):  # 10 ticks a second, every second has a bar
            cache.apply(A, tick(74800 + i % 13, 74800 + i % 13 + 1 + i % 5, 1, T0 + i * 100 * MS))
    finally:
        done.set()
        th.join()
        sys.setswitchinterval(old)
    assert bad == [], bad[:5]
    got, _ = cache.candles(A, EPIC, "SECOND")
    assert len(got) == n // 10 and (got["count"] == 10).all()

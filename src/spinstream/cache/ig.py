"""IG's stream-only state: L1 ticks in tick rings, candles, deal confirmations.

Ticks from PRICE (channel "market") and CHART:TICK (channel "ticks") go into `TickRing`s of exact
int ticks, one for bids and one for offers per (epic, channel). Candles come from two places:

- IG's own bars, CHART:{epic}:{SCALE} for SECOND, 1MINUTE, 5MINUTE and HOUR, closed by
  CONS_END; and
- the Cython `CandleAggregator` fed with the mid price of every CHART:TICK tick, for any scale.

IG's bars win for the scales IG streams, while their channel is live: IG builds them from every
price it makes, including ticks we never saw (while reconnecting) and with its own filtering, so
they match what IG's charts and price history show. Tick-built bars serve the other scales, and
the IG scales whenever their channel is stale. Mids are kept exactly, in half ticks
(bid + offer), and become floats only in the arrays handed out.

Writes happen on the event loop only (`apply`, `want_candles`); the reads (`ticks`, `candles`,
`confirms`) come from strategy threads. Each tick and bar channel carries a sequence number the
writer makes odd while it changes the channel (both rings, the aggregators, the bar buffers) and
even again after; a reader copies what it needs and keeps the copy only if the number was even
and unchanged meanwhile, so it never pairs one tick's bid with another's offer, nor misses or
repeats a bar that closed while it read. Readers never drain an aggregator (the writer does, as
bars close), and hold at most `MAX_BARS` closed bars per (epic, scale) from either source.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import numpy as np

from spinstream._core import CandleAggregator, TickRing, parse_scale
from spinstream.models import TradeConfirm
from spinstream.protocol.ig.parse import CandleUpdate, ChannelStale, ConfirmUpdate, TickUpdate

__all__ = ["BAR_VIEW_DTYPE", "IG_SCALES", "IgCache", "TICK_VIEW_DTYPE"]

IG_SCALES = ("SECOND", "1MINUTE", "5MINUTE", "HOUR")  # what CHART:{epic}:{SCALE} streams
TICK_VIEW_DTYPE = np.dtype([("ts", "<i8"), ("bid", "<f8"), ("ask", "<f8")])
BAR_VIEW_DTYPE = np.dtype(
    [("start", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"), ("close", "<f8"),
     ("volume", "<f8"), ("count", "<i8")]
)  # fmt: skip
RING = 65_536
MAX_BARS = 10_000  # closed bars served per (epic, scale); the buffers hold up to twice that
AGG_DECIMALS = 8  # tick-built bars keep mids exactly at this many decimals (in half units)
_MID2 = 2 * 10**AGG_DECIMALS  # a half-tick mid at AGG_DECIMALS over this is the float mid
_READ_TRIES = 10_000  # a reader yields to the writer this often at most, then takes what it has

Bar = tuple[int, float, float, float, float, float, int]
_R = TypeVar("_R")


class _BarBuf:
    """Closed bars as BAR_VIEW_DTYPE rows. The writer only appends past `n` (or rewrites the
    last row, or moves to a new array when full), so a reader's copy of `buf[:n]` is whole
    unless the channel's sequence number moved meanwhile. Rows are copied as int64 words:
    numpy copies structured rows field by field, about ten times slower."""

    __slots__ = ("buf", "n")

    def __init__(self) -> None:
        self.buf = np.empty(64, BAR_VIEW_DTYPE)
        self.n = 0

    def append(self, row: Bar) -> None:
        buf, n = self.buf, self.n
        if n == len(buf):
            if n >= 2 * MAX_BARS:  # keep the newest MAX_BARS in a new array
                new = np.empty(len(buf), BAR_VIEW_DTYPE)
                _words(new)[: MAX_BARS * _W] = _words(buf)[(n - MAX_BARS) * _W : n * _W]
                n = MAX_BARS
            else:
                new = np.empty(min(2 * n, max(2 * MAX_BARS, 64)), BAR_VIEW_DTYPE)
                _words(new)[: n * _W] = _words(buf)[: n * _W]
            self.buf = buf = new
        buf[n] = row
        self.n = n + 1

    def last_start(self) -> int | None:
        return int(self.buf["start"][self.n - 1]) if self.n else None

    def set_last(self, row: Bar) -> None:
        self.buf[self.n - 1] = row

    def view(self, open_bar: Bar | None) -> np.ndarray:
        """A new array: the newest MAX_BARS closed bars, then OPEN_BAR if any."""
        n = self.n
        lo = max(0, n - MAX_BARS)
        out = np.empty(n - lo + (open_bar is not None), BAR_VIEW_DTYPE)
        _words(out)[: (n - lo) * _W] = _words(self.buf)[lo * _W : n * _W]
        if open_bar is not None:
            out[n - lo] = open_bar
        return out


_W = BAR_VIEW_DTYPE.itemsize // 8  # int64 words per bar (every field is 8 bytes)


def _words(a: np.ndarray) -> np.ndarray:
    """A contiguous BAR_VIEW_DTYPE array's memory as int64 words (a view)."""
    return a.view(np.int64)


class _Agg:
    """Tick-built bars of one (epic, scale): the candle core plus the bars it closed."""

    __slots__ = ("agg", "bars")

    def __init__(self, scale: str) -> None:
        self.agg = CandleAggregator(parse_scale(scale))
        self.bars = _BarBuf()

    def take_closed(self) -> None:
        """Move the bars the core closed into `bars` (writer only)."""
        for b in self.agg.drain().tolist():
            self.bars.append(_float_bar(b))

    def view(self) -> np.ndarray:
        ob = self.agg.open_bar()
        return self.bars.view(None if ob is None else _float_bar(ob))


def _stable(obj: _Ticks | _Bars, read: Callable[[], _R]) -> _R:
    """READ() done while OBJ's writer was not changing it (see the module docstring)."""
    for _ in range(_READ_TRIES):
        s = obj.seq
        if not s & 1:
            got = read()
            if obj.seq == s:
                return got
        time.sleep(0)  # the writer is inside a change: let it finish (it needs the GIL)
    return read()


def _float_bar(b: tuple[int, ...]) -> Bar:
    return (b[0], b[1] / _MID2, b[2] / _MID2, b[3] / _MID2, b[4] / _MID2, float(b[5]), b[6])


@dataclass(eq=False)
class _Ticks:
    decimals: int
    bid: TickRing = field(default_factory=lambda: TickRing(RING))
    ask: TickRing = field(default_factory=lambda: TickRing(RING))
    fresh: bool = True
    last_ts: int = 0
    seq: int = 0  # odd while the writer changes the rings or the epic's aggregators
    link: Any = None  # the connection's Link: served only while it is live

    @property
    def servable(self) -> bool:
        return self.fresh and (self.link is None or self.link.live)


def _last_ticks(t: _Ticks, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """T's newest N bid and ask ticks and its price decimals: one read for `_stable`."""
    return t.bid.last(n), t.ask.last(n), t.decimals


@dataclass(eq=False)
class _Bars:
    """IG's bars of one (epic, scale): closed ones in order, plus the bar being built."""

    decimals: int
    closed: _BarBuf = field(default_factory=_BarBuf)
    open_bar: Bar | None = None
    fresh: bool = True
    seq: int = 0
    link: Any = None

    @property
    def servable(self) -> bool:
        return self.fresh and (self.link is None or self.link.live)


class IgCache:
    """IG-only state of one workspace, keyed by account alias; written on the event loop."""

    def __init__(self) -> None:
        self._ticks: dict[tuple[str, str, str], _Ticks] = {}  # (alias, epic, channel)
        self._bars: dict[tuple[str, str, str], _Bars] = {}  # (alias, epic, scale)
        self._aggs: dict[tuple[str, str, str], _Agg] = {}  # (alias, epic, scale)
        self._epic_aggs: dict[tuple[str, str], list[_Agg]] = {}  # (alias, epic) -> its aggs
        self._confirms: dict[str, deque[TradeConfirm]] = {}

    # ------------------------------------------------------------------ writing (event loop)

    def apply(self, alias: str, ev: object, link: Any = None) -> bool:
        """Apply one IG event; False if it is not one of IG's own. LINK: the connection's."""
        if isinstance(ev, TickUpdate):
            self._tick(alias, ev, link)
        elif isinstance(ev, CandleUpdate):
            self._candle(alias, ev, link)
        elif isinstance(ev, ConfirmUpdate):
            dq = self._confirms.setdefault(alias, deque(maxlen=1000))
            dq.append(ev.confirm)
        elif isinstance(ev, ChannelStale):
            self._stale(alias, ev)
        else:
            return False
        return True

    def _tick(self, alias: str, ev: TickUpdate, link: Any = None) -> None:
        key = (alias, ev.epic, ev.channel)
        t = self._ticks.get(key)
        if t is None:
            t = self._ticks[key] = _Ticks(ev.decimals, link=link)
        bid, ask, dec = ev.bid_ticks, ev.ask_ticks, ev.decimals
        if (bid is None or ask is None) and dec <= t.decimals:
            return
        t.seq += 1
        try:
            if dec > t.decimals:  # IG trimmed zeros before: rescale what we hold
                self._rescale(t, dec)
            if bid is None or ask is None:
                return
            if dec < t.decimals:  # narrower than what we hold (a new stream): widen the tick
                k = 10 ** (t.decimals - dec)
                bid, ask, dec = bid * k, ask * k, t.decimals
            ts = ev.ts_event or ev.ts_recv
            t.bid.append(ts, bid, 0)
            t.ask.append(ts, ask, 0)
            t.fresh = True
            t.last_ts = ts
            if ev.channel == "ticks" and dec <= AGG_DECIMALS:
                aggs = self._epic_aggs.get((alias, ev.epic))
                if aggs:
                    mid2 = (bid + ask) * 10 ** (AGG_DECIMALS - dec)
                    for a in aggs:
                        if a.agg.add(ts, mid2, 0):  # a bar closed (a late tick is dropped)
                            a.take_closed()
        finally:
            t.seq += 1

    @staticmethod
    def _rescale(t: _Ticks, decimals: int) -> None:
        k = 10 ** (decimals - t.decimals)
        for name in ("bid", "ask"):
            old: TickRing = getattr(t, name)
            recs = old.last(old.capacity)
            new = TickRing(old.capacity)
            if len(recs):
                new.append_batch(recs["ts"], recs["price"] * k, recs["size"], recs["flags"])
            setattr(t, name, new)
        t.decimals = decimals

    def _candle(self, alias: str, ev: CandleUpdate, link: Any = None) -> None:
        key = (alias, ev.epic, ev.scale)
        b = self._bars.get(key)
        if b is None:
            b = self._bars[key] = _Bars(ev.decimals, link=link)
        b.fresh = True
        if ev.start is None or ev.bid_ticks is None or ev.ask_ticks is None:
            return
        d = 10**ev.decimals
        o, h, lo, c = (
            (ev.bid_ticks[i] + ev.ask_ticks[i]) / 2 / d for i in range(4)
        )  # mid OHLC of IG's bid and offer bars
        bar: Bar = (ev.start, o, h, lo, c, float(ev.ltv or 0.0), int(ev.tick_count or 0))
        ob = b.open_bar
        last = b.closed.last_start()
        if (ob is not None and ev.start < ob[0]) or (last is not None and ev.start < last):
            return  # older than a bar we hold: out of order
        b.seq += 1
        try:
            if last is not None and ev.start == last:
                b.closed.set_last(bar)  # the last closed bar sent again (a resubscribe's snapshot)
                return
            if ob is not None and ob[0] < ev.start:
                b.closed.append(ob)  # a new bar began without a CONS_END we saw
                b.open_bar = None
            if ev.closed:
                b.closed.append(bar)
                b.open_bar = None
            else:
                b.open_bar = bar
        finally:
            b.seq += 1

    def _stale(self, alias: str, ev: ChannelStale) -> None:
        if ev.channel.startswith("candles:"):
            b = self._bars.get((alias, ev.epic, ev.channel.split(":", 1)[1]))
            if b is not None:
                b.fresh = False
            return
        t = self._ticks.get((alias, ev.epic, ev.channel))
        if t is not None:
            t.fresh = False

    def want_candles(self, alias: str, epic: str, scale: str) -> None:
        """Start aggregating SCALE bars from EPIC's CHART:TICK ticks (idempotent)."""
        key = (alias, epic, scale)
        if key not in self._aggs:
            a = self._aggs[key] = _Agg(scale)
            self._epic_aggs.setdefault((alias, epic), []).append(a)

    # ------------------------------------------------------------------ reading (any thread)

    def ticks(self, alias: str, epic: str, n: int, channel: str | None = None) -> np.ndarray | None:
        """The newest N ticks (oldest first) as TICK_VIEW_DTYPE, or None when nothing is live."""
        chans = (channel,) if channel else ("ticks", "market")
        for ch in chans:
            t = self._ticks.get((alias, epic, ch))
            if t is None or not t.servable or not len(t.bid):
                continue
            bid, ask, dec = _stable(t, partial(_last_ticks, t, n))
            k = min(len(bid), len(ask))
            out = np.empty(k, TICK_VIEW_DTYPE)
            out["ts"] = bid["ts"][len(bid) - k :]
            out["bid"] = bid["price"][len(bid) - k :] / 10**dec
            out["ask"] = ask["price"][len(ask) - k :] / 10**dec
            return out
        return None

    def candles(self, alias: str, epic: str, scale: str) -> tuple[np.ndarray, str] | None:
        """Bars of EPIC at SCALE (closed ones, then the open one) and which source made them."""
        b = self._bars.get((alias, epic, scale))
        if b is not None and b.servable:
            rows = _stable(b, lambda: b.closed.view(b.open_bar))
            if len(rows):
                return rows, "chart"
        a = self._aggs.get((alias, epic, scale))
        t = self._ticks.get((alias, epic, "ticks"))
        if a is None or t is None or not t.servable:
            return None
        rows = _stable(t, a.view)
        if not len(rows):
            return None
        return rows, "ticks"

    def confirms(self, alias: str) -> list[TradeConfirm]:
        return list(self._confirms.get(alias, ()))

    def tick_decimals(self, alias: str, epic: str) -> int | None:
        t = self._ticks.get((alias, epic, "ticks"))
        return None if t is None else t.decimals

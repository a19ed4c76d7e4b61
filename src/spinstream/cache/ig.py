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
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

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
MAX_BARS = 10_000
AGG_DECIMALS = 8  # tick-built bars keep mids exactly at this many decimals (in half units)


@dataclass
class _Ticks:
    decimals: int
    bid: TickRing = field(default_factory=lambda: TickRing(RING))
    ask: TickRing = field(default_factory=lambda: TickRing(RING))
    fresh: bool = True
    last_ts: int = 0


@dataclass
class _Bars:
    """IG's bars of one (epic, scale): closed ones in order, plus the bar being built."""

    decimals: int
    closed: list[tuple[int, float, float, float, float, float, int]] = field(default_factory=list)
    open_bar: tuple[int, float, float, float, float, float, int] | None = None
    fresh: bool = True


class IgCache:
    """IG-only state of one workspace, keyed by account alias; written on the event loop."""

    def __init__(self) -> None:
        self._ticks: dict[tuple[str, str, str], _Ticks] = {}  # (alias, epic, channel)
        self._bars: dict[tuple[str, str, str], _Bars] = {}  # (alias, epic, scale)
        self._aggs: dict[tuple[str, str, str], tuple[CandleAggregator, int, list[np.ndarray]]] = {}
        self._confirms: dict[str, deque[TradeConfirm]] = {}

    # ------------------------------------------------------------------ writing

    def apply(self, alias: str, ev: object) -> bool:
        """Apply one IG event; False if it is not one of IG's own."""
        if isinstance(ev, TickUpdate):
            self._tick(alias, ev)
        elif isinstance(ev, CandleUpdate):
            self._candle(alias, ev)
        elif isinstance(ev, ConfirmUpdate):
            dq = self._confirms.setdefault(alias, deque(maxlen=1000))
            dq.append(ev.confirm)
        elif isinstance(ev, ChannelStale):
            self._stale(alias, ev)
        else:
            return False
        return True

    def _tick(self, alias: str, ev: TickUpdate) -> None:
        key = (alias, ev.epic, ev.channel)
        t = self._ticks.get(key)
        if t is None:
            t = self._ticks[key] = _Ticks(ev.decimals)
        elif ev.decimals != t.decimals:  # IG trimmed zeros before: rescale what we hold
            self._rescale(t, ev.decimals)
        if ev.bid_ticks is None or ev.ask_ticks is None:
            return
        ts = ev.ts_event or ev.ts_recv
        t.bid.append(ts, ev.bid_ticks, 0)
        t.ask.append(ts, ev.ask_ticks, 0)
        t.fresh = True
        t.last_ts = ts
        if ev.channel == "ticks":
            if ev.decimals > AGG_DECIMALS:
                return
            mid2 = (ev.bid_ticks + ev.ask_ticks) * 10 ** (AGG_DECIMALS - ev.decimals)
            for (a, epic, _scale), (agg, _dec, _) in self._aggs.items():
                if a == alias and epic == ev.epic and ts >= (agg.open_bar() or (ts,))[0]:
                    agg.add(ts, mid2, 0)

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

    def _candle(self, alias: str, ev: CandleUpdate) -> None:
        key = (alias, ev.epic, ev.scale)
        b = self._bars.get(key)
        if b is None:
            b = self._bars[key] = _Bars(ev.decimals)
        b.fresh = True
        if ev.start is None or ev.bid_ticks is None or ev.ask_ticks is None:
            return
        d = 10**ev.decimals
        o, h, lo, c = (
            (ev.bid_ticks[i] + ev.ask_ticks[i]) / 2 / d for i in range(4)
        )  # mid OHLC of IG's bid and offer bars
        bar = (ev.start, o, h, lo, c, float(ev.ltv or 0.0), int(ev.tick_count or 0))
        if b.open_bar is not None and b.open_bar[0] < ev.start:
            b.closed.append(b.open_bar)  # a new bar began without a CONS_END we saw
        if ev.closed:
            b.closed.append(bar)
            b.open_bar = None
        else:
            b.open_bar = bar
        if len(b.closed) > MAX_BARS:
            del b.closed[: len(b.closed) - MAX_BARS]

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
            self._aggs[key] = (CandleAggregator(parse_scale(scale)), AGG_DECIMALS, [])

    # ------------------------------------------------------------------ reading

    def ticks(self, alias: str, epic: str, n: int, channel: str | None = None) -> np.ndarray | None:
        """The newest N ticks (oldest first) as TICK_VIEW_DTYPE, or None when nothing is live."""
        chans = (channel,) if channel else ("ticks", "market")
        for ch in chans:
            t = self._ticks.get((alias, epic, ch))
            if t is None or not t.fresh or not len(t.bid):
                continue
            bid, ask = t.bid.last(n), t.ask.last(n)
            k = min(len(bid), len(ask))
            out = np.empty(k, TICK_VIEW_DTYPE)
            out["ts"] = bid["ts"][-k:] if k else []
            out["bid"] = bid["price"][-k:] / 10**t.decimals if k else []
            out["ask"] = ask["price"][-k:] / 10**t.decimals if k else []
            return out
        return None

    def candles(self, alias: str, epic: str, scale: str) -> tuple[np.ndarray, str] | None:
        """Bars of EPIC at SCALE (closed ones, then the open one) and which source made them."""
        b = self._bars.get((alias, epic, scale))
        if b is not None and b.fresh and (b.closed or b.open_bar):
            rows = b.closed + ([b.open_bar] if b.open_bar else [])
            return np.array(rows, BAR_VIEW_DTYPE), "chart"
        agg_entry = self._aggs.get((alias, epic, scale))
        t = self._ticks.get((alias, epic, "ticks"))
        if agg_entry is None or t is None or not t.fresh:
            return None
        agg, dec, history = agg_entry
        drained = agg.drain()
        if len(drained):
            history.append(drained)
        parts = list(history)
        ob = agg.open_bar()
        rows = np.concatenate(parts) if parts else np.empty(0, drained.dtype)
        if ob is not None:
            rows = np.concatenate([rows, np.array([ob], drained.dtype)])
        if not len(rows):
            return None
        scale2 = 2 * 10**dec  # mids are in half ticks
        out = np.empty(len(rows), BAR_VIEW_DTYPE)
        out["start"] = rows["start"]
        for f in ("open", "high", "low", "close"):
            out[f] = rows[f] / scale2
        out["volume"] = rows["volume"]
        out["count"] = rows["count"]
        return out, "ticks"

    def confirms(self, alias: str) -> list[TradeConfirm]:
        return list(self._confirms.get(alias, ()))

    def tick_decimals(self, alias: str, epic: str) -> int | None:
        t = self._ticks.get((alias, epic, "ticks"))
        return None if t is None else t.decimals

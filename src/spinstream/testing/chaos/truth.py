"""The simulator's own truth over time: what its engine held, stamped with time.monotonic_ns().

A `Truth` hooks the engine of a running simulator (`MatchingEngine.add_listener`, and for IG the
sim's tick, where its PRICE bid/offer are set) and keeps, for one instrument, every state the
top of its book and its best bid/ask went through. A read from `ctx` is then looked up: which
true state does it show, and how long before the read did that state stop being true (its
*age*: 0 when it is still true). The engine's state is recorded, not what was sent, so a frame
held back or lost shows as an age, and content that was never true (a NaN) as no match at all.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from decimal import Decimal
from typing import Any

__all__ = ["Timeline", "Truth", "NO_MATCH"]

NO_MATCH = math.inf  # age of content that matches no true state


class Timeline:
    """States of one thing over time: `record(key)` when it changes, `age(key, t)` to look up."""

    def __init__(self) -> None:
        self._times: list[int] = []  # start of each state (monotonic ns)
        self._keys: list[object] = []
        self._where: dict[object, list[int]] = {}  # key -> indexes of the states showing it
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._times)

    def record(self, key: object, t_ns: int | None = None) -> None:
        """KEY is the true state from now (or T_NS) on; a repeat of the current state is kept."""
        t = time.monotonic_ns() if t_ns is None else t_ns
        with self._lock:
            if self._keys and self._keys[-1] == key:
                return
            self._where.setdefault(key, []).append(len(self._times))
            self._times.append(t)
            self._keys.append(key)

    def current(self) -> object | None:
        """The state true now (None before the first record)."""
        with self._lock:
            return self._keys[-1] if self._keys else None

    def age(self, key: object, t_ns: int) -> float:
        """Seconds since KEY was last true as of T_NS: 0.0 if it is true at T_NS, `NO_MATCH` if it
        was never true before T_NS (1 ms of slack covers the stamp being taken after the change)."""
        with self._lock:
            idx = self._where.get(key)
            if not idx:
                return NO_MATCH
            best = NO_MATCH
            n = len(self._times)
            for i in reversed(idx):
                if self._times[i] > t_ns + 1_000_000:
                    continue  # became true only after the read
                end = self._times[i + 1] if i + 1 < n else None
                if end is None or end > t_ns:
                    return 0.0
                best = min(best, (t_ns - end) / 1e9)
                break  # the latest earlier occurrence is the youngest
            return best

    def changes_between(self, t0_ns: int, t1_ns: int) -> int:
        """How many state changes fall in [T0_NS, T1_NS)."""
        with self._lock:
            return bisect.bisect_left(self._times, t1_ns) - bisect.bisect_left(self._times, t0_ns)


class Truth:
    """The true top-N book and best bid/ask of one instrument of a simulator, over time.

    `attach()` must run on the simulator's loop (`SimHost.run(truth.attach)`); the lookups
    (`book_age`, `ticker_age`) are safe from any thread.
    """

    def __init__(self, ex: Any, symbol: str, engine_market: str, depth: int = 5) -> None:
        self.ex = ex
        self.depth = depth
        self.ig = ex.venue == "ig"
        if self.ig:
            st = ex.state[symbol]
            self.inst = st.inst
            self.tick = Decimal(st.market.tick)
        else:
            self.inst = ex.engine.instrument(engine_market, symbol)
            self.tick = self.inst.tick_size
        self.step = self.inst.step_size
        self.tick_f = float(self.tick)
        self.step_f = float(self.step)
        # base units per quantity read from ctx: OKX derivatives are read in contracts of
        # `ctVal` base units while the engine holds base units (1 elsewhere)
        specs = getattr(ex, "specs", None)
        spec = specs.get(symbol) if isinstance(specs, dict) else None
        self.qty_unit = float(getattr(spec, "ct_val", 1) or 1)
        self.symbol = symbol
        self.book = Timeline()  # key: (bids, asks), each a tuple of (ticks, lots), best first
        self.ticker = Timeline()  # key: (bid ticks, ask ticks)
        self._attached = False
        self._orig_tick: Any = None

    # -------------------------------------------------------------- recording (sim loop)

    def attach(self) -> None:
        """Start recording (call on the simulator's loop)."""
        if self._attached:
            return
        self._attached = True
        if self.ig:
            orig = self.ex.tick  # IgSim.tick sets each epic's bid/offer after the engine steps

            def tick() -> None:
                orig()
                if self._attached:
                    self._sample_ig()

            self._orig_tick = orig
            self.ex.tick = tick
            self._sample_ig()
        else:
            self.ex.engine.add_listener(self._on_event)
            self._sample_book()

    def detach(self) -> None:
        """Stop recording (call on the simulator's loop)."""
        if not self._attached:
            return
        self._attached = False
        if self.ig:
            if self._orig_tick is not None:
                self.ex.__dict__.pop("tick", None)
        else:
            listeners = self.ex.engine._listeners
            if self._on_event in listeners:
                listeners.remove(self._on_event)

    def _on_event(self, ev: Any) -> None:
        if self._attached and type(ev).__name__ == "BookUpdate" and ev.instrument is self.inst:
            self._sample_book()

    def _sample_book(self) -> None:
        book = self.ex.engine.book(self.inst)
        bids, asks = tuple(book.side(True, self.depth)), tuple(book.side(False, self.depth))
        now = time.monotonic_ns()
        self.book.record((bids, asks), now)
        self.ticker.record((bids[0][0] if bids else None, asks[0][0] if asks else None), now)

    def _sample_ig(self) -> None:
        st = self.ex.state[self.symbol]
        self.ticker.record((self._ticks(st.bid), self._ticks(st.offer)))

    def _ticks(self, price: Decimal) -> int:
        return int((Decimal(price) / self.tick).to_integral_value())

    def full_book(self) -> tuple[set[int], set[int]]:
        """Every price (ticks) on each side of the engine's book now (sim loop): ghosts check."""
        book = self.ex.engine.book(self.inst)
        return {p for p, _ in book.side(True)}, {p for p, _ in book.side(False)}

    # -------------------------------------------------------------- lookups (any thread)

    def _px(self, x: float | None) -> int | None:
        if x is None or not math.isfinite(x):
            return None
        return round(x / self.tick_f)

    def _qty(self, x: float | None) -> int | None:
        if x is None or not math.isfinite(x):
            return None
        return round(x * self.qty_unit / self.step_f)

    def book_key(self, ob: Any) -> tuple[tuple[tuple[int | None, int | None], ...], ...]:
        """The truth key of a read `OrderBook` (top `depth` levels, in ticks and lots)."""
        bids = tuple((self._px(p), self._qty(q)) for p, q in ob.bids[: self.depth].tolist())
        asks = tuple((self._px(p), self._qty(q)) for p, q in ob.asks[: self.depth].tolist())
        return (bids, asks)

    def ticker_key(self, t: Any) -> tuple[int | None, int | None]:
        """The truth key of a read `Ticker` (best bid and ask in ticks)."""
        return (self._px(t.bid), self._px(t.ask))

    def book_age(self, ob: Any, t_ns: int) -> float:
        return self.book.age(self.book_key(ob), t_ns)

    def ticker_age(self, t: Any, t_ns: int) -> float:
        return self.ticker.age(self.ticker_key(t), t_ns)

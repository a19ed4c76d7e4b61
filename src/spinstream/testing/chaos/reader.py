"""The polling reader: a strategy-like thread reading `ctx` every few ms during a trial.

Each read is classified and kept as a `Read`: `ok` (served `source="ws"`, fresh, and showing a
state the simulator held: its `age` says how long ago that state stopped being true), `rest`
(answered by REST), `na` (`NotAvailable`), `err` (any other exception: rate limits, auth
errors) or `stale` (a ws answer the store itself marks stale, once the store can say so).
Private reads (balances, positions, orders) have no engine truth recorded: they are checked
for values that can never be true (non-finite, negative) and otherwise count as age 0.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spinstream.errors import NotAvailable
from spinstream.testing.chaos.truth import NO_MATCH, Truth

__all__ = ["Read", "Reader"]


@dataclass(slots=True)
class Read:
    """One read: when it returned (monotonic ns), what, how it was served, how old its content."""

    t_ns: int
    what: str
    status: str  # ok | rest | na | err | stale
    age: float = 0.0  # seconds since the content stopped being true (inf: never true)
    note: str = ""


def _finite_positive(*xs: Any) -> bool:
    for x in xs:
        if x is None:
            continue
        if not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
            return False
    return True


class Reader:
    """Polls READS (name -> zero-argument call) every INTERVAL_S in a thread, against TRUTH."""

    def __init__(
        self, reads: dict[str, Callable[[], Any]], truth: Truth | None, interval_s: float = 0.003
    ) -> None:
        self.reads_fns = reads
        self.truth = truth
        self.interval_s = interval_s
        self.reads: list[Read] = []
        self.errors: list[str] = []  # exception texts (scanned for secrets too)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="chaos-reader", daemon=True)

    def start(self) -> Reader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for what, fn in self.reads_fns.items():
                self.reads.append(self.read_once(what, fn))
            time.sleep(self.interval_s)

    def read_once(self, what: str, fn: Callable[[], Any]) -> Read:
        """One classified read of FN."""
        try:
            r = fn()
        except NotAvailable:
            return Read(time.monotonic_ns(), what, "na")
        except Exception as exc:  # noqa: BLE001 - every failure is a measurement
            text = f"{type(exc).__name__}: {exc}"
            if len(self.errors) < 2000:
                self.errors.append(text)
            return Read(time.monotonic_ns(), what, "err", note=text[:120])
        t = time.monotonic_ns()
        items = r if isinstance(r, list) else [r]
        if not items:  # an empty list (no positions/orders): where it came from is unknown
            return Read(t, what, "ok")
        sources = {getattr(x, "source", None) for x in items}
        if sources != {"ws"}:
            return Read(t, what, "rest")
        if any(getattr(x, "stale", False) for x in items):
            return Read(t, what, "stale")
        age = self._age(what, r, t)
        if age == NO_MATCH:  # keep what was served: the report shows it
            shown = (r.bids[:2].tolist(), r.asks[:2].tolist()) if what == "book" else r
            return Read(t, what, "ok", age, note=repr(shown)[:200])
        return Read(t, what, "ok", age)

    def _age(self, what: str, r: Any, t: int) -> float:
        truth = self.truth
        if what == "book" and truth is not None:
            return truth.book_age(r, t)
        if what in ("ticker", "market") and truth is not None:
            bid = getattr(r, "bid", None)
            ask = getattr(r, "ask", getattr(r, "offer", None))
            if not _finite_positive(bid, ask):
                return NO_MATCH
            return truth.ticker.age((truth._px(bid), truth._px(ask)), t)
        # private reads: no truth kept, but values that cannot be true are caught
        items = r if isinstance(r, list) else [r]
        for x in items:
            for name in ("free", "locked", "total", "equity", "available", "size", "price",
                         "entry_price", "quantity", "filled"):  # fmt: skip
                v = getattr(x, name, None)
                if isinstance(v, float) and not math.isfinite(v):
                    return NO_MATCH
            for b in (getattr(x, "balances", None) or {}).values():
                if not _finite_positive(getattr(b, "free", None), getattr(b, "total", None)):
                    return NO_MATCH
        return 0.0

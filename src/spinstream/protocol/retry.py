"""When a refused login or WebSocket auth may be tried again, sans I/O (no clock, no jitter).

A refusal is often transient (a venue hiccup, a clock step, IG's weekend maintenance): giving up
leaves a private stream off for good. Retrying at once hammers the venue, whose auth failures
count against REST budgets and can get an IP banned. So each protocol keeps one `AuthRetry`:
the first retry after `first_s`, doubling up to `max_s` (deterministic, so `tick(ts)` tests can
step the clock; the transport's reconnect delays carry the jitter), reset only once the venue
has really accepted us. `problem()` words the refusal for the status surface, without secrets.
"""

from __future__ import annotations

__all__ = ["AuthRetry"]

_NS = 1_000_000_000


class AuthRetry:
    """Deterministic auth retry delays: FIRST_S, doubling to MAX_S; `ready(ts)` says when."""

    __slots__ = ("first_ns", "max_ns", "failures", "delay_ns", "at")

    def __init__(self, first_s: float = 1.0, max_s: float = 60.0) -> None:
        if not 0 < first_s <= max_s:
            raise ValueError("auth retry delays need 0 < first_s <= max_s")
        self.first_ns = int(first_s * _NS)
        self.max_ns = int(max_s * _NS)
        self.failures = 0  # refusals in a row
        self.delay_ns = 0  # the delay set by the last refusal
        self.at: int | None = None  # no attempt before this ts (None: any time)

    def __repr__(self) -> str:
        return f"AuthRetry(failures={self.failures}, delay_s={self.delay_ns / _NS:g})"

    def refused(self, ts: int) -> int:
        """Count a refusal at TS; the next attempt waits the returned delay (ns)."""
        self.delay_ns = min(self.first_ns << min(self.failures, 40), self.max_ns)
        self.failures += 1
        self.at = ts + self.delay_ns
        return self.delay_ns

    def ready(self, ts: int) -> bool:
        """May an attempt be made at TS?"""
        return self.at is None or ts >= self.at

    def ok(self) -> None:
        """The venue accepted us: the next refusal starts from the first delay again."""
        self.failures = 0
        self.delay_ns = 0
        self.at = None

    @property
    def delay_s(self) -> float:
        return self.delay_ns / _NS

    def problem(self, what: str, why: str) -> str:
        """A short status sentence: "auth refused (10003: invalid key); retrying in 4 s"."""
        times = f" {self.failures} times in a row" if self.failures > 1 else ""
        return f"{what} refused{times} ({why}); retrying in {self.delay_s:g} s"

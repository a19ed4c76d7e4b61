"""Rate limits as data: a pure token bucket per published venue limit, and endpoint costs.

`Bucket.take(cost, now_ns)` returns how long to wait before the call may go (0 = now) and
books the cost; the transport only sleeps for what it returns, so the same logic is testable
with a fake clock and normal use never reaches the venue's 429.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Bucket", "Endpoint", "Limiter"]

_NS = 1_000_000_000


@dataclass(slots=True)
class Bucket:
    """A token bucket sized so that no window of `per_s` seconds ever holds more than `limit`.

    A bucket of capacity B refilled at rate r lets through at most B + r * T units in any
    window of length T, whether the venue counts fixed windows (Binance's minute) or sliding
    ones. So the capacity is a small burst (`burst` of the limit, at least 1 unit) and the rate
    is what is left of the usable budget, (1 - margin) * limit - B, per `per_s` seconds: the
    guarantee holds for any pattern of calls, and `margin` absorbs clock skew with the venue.
    """

    limit: int
    per_s: float
    burst: float = 0.2
    margin: float = 0.1
    _tokens: float = field(init=False, default=0.0)
    _at: int | None = field(init=False, default=None)
    capacity: float = field(init=False, default=0.0)
    _rate: float = field(init=False, default=0.0)  # units per ns

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.per_s <= 0 or not 0 <= self.margin < 1 or not 0 < self.burst < 1:
            raise ValueError(f"bad bucket {self.limit}/{self.per_s}s")
        usable = math.floor(self.limit * (1 - self.margin))
        self.capacity = max(1.0, math.floor(self.limit * self.burst))
        if usable <= self.capacity:
            raise ValueError(
                f"a limit of {self.limit} per {self.per_s}s leaves no room for a burst of "
                f"{self.capacity} under margin {self.margin}; lower the margin"
            )
        self._rate = (usable - self.capacity) / (self.per_s * _NS)

    def _refill(self, now_ns: int) -> None:
        if self._at is None:  # first use: the bucket starts full
            self._tokens, self._at = self.capacity, now_ns
            return
        if now_ns > self._at:
            self._tokens = min(self.capacity, self._tokens + (now_ns - self._at) * self._rate)
            self._at = now_ns

    def available(self, now_ns: int) -> float:
        """Units that could be spent now without waiting."""
        self._refill(now_ns)
        return self._tokens

    def wait_ns(self, cost: int, now_ns: int) -> int:
        """How long until COST units are available (0 if now); books nothing."""
        if cost > self.capacity:
            raise ValueError(f"cost {cost} exceeds the bucket's burst capacity {self.capacity}")
        self._refill(now_ns)
        missing = cost - self._tokens
        if missing <= 0:
            return 0
        return int(missing / self._rate) + 1

    def take(self, cost: int, now_ns: int) -> int:
        """Book COST units; returns the ns to wait before the call may be made (0 = now).

        The units are booked at once (the balance may go negative), so concurrent callers
        queue behind each other instead of all waking at the same moment.
        """
        wait = self.wait_ns(cost, now_ns)
        self._tokens -= cost
        return wait


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One REST endpoint: method, path, which REST base it lives on, cost per bucket."""

    method: str
    path: str
    base: str
    cost: dict[str, int]
    signed: bool = False


class Limiter:
    """The buckets of one venue account: `take(cost, now_ns)` books across all of them."""

    __slots__ = ("buckets",)

    def __init__(self, buckets: dict[str, Bucket]) -> None:
        self.buckets = buckets

    def wait_ns(self, cost: dict[str, int], now_ns: int) -> int:
        """The longest wait any bucket needs for COST; books nothing."""
        return max(
            (self.buckets[k].wait_ns(c, now_ns) for k, c in cost.items() if k in self.buckets),
            default=0,
        )

    def take(self, cost: dict[str, int], now_ns: int) -> int:
        """Book COST in every named bucket; the ns to wait (the longest of them)."""
        waits = [self.buckets[k].take(c, now_ns) for k, c in cost.items() if k in self.buckets]
        return max(waits, default=0)

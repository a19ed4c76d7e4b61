"""Rate limits as data: a pure token bucket per published venue limit, and endpoint costs.

`Bucket.take(cost, now_ns)` returns how long to wait before the call may go (0 = now) and
books the cost; the transport only sleeps for what it returns, so the same logic is testable
with a fake clock and normal use never reaches the venue's 429.

Two things make a budget shared and prioritised:

- **Scope.** Each bucket says who the venue counts it for (`scope`): `"ip"` (every account of
  the venue on this machine, e.g. Binance's REQUEST_WEIGHT), `"key"` (every account using one
  API key, e.g. IG's per-application budget) or `"account"` (one account / UID, e.g. order
  counts). A `BudgetRegistry` hands every account the same `Bucket` object for the same
  (venue, env, REST hosts, scope, scope id), so accounts that share a budget at the venue
  share it here.
- **Priority.** Stream traffic (book snapshots, private seeds, logins, listenKeys) is booked
  with `take` at once, ahead of anything waiting, and may spend the whole bucket. Strategy
  calls go through `try_take`, which books only when the bucket keeps its `reserve` (a share
  of the burst capacity) afterwards and otherwise books nothing and says how long to wait, so
  a resync always finds budget even while strategies poll as fast as the limit allows.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

import msgspec

from spinstream.protocol.events import RestRequest

__all__ = [
    "PRIORITIES",
    "SCOPES",
    "STRATEGY",
    "STREAM",
    "Bucket",
    "BudgetRegistry",
    "Endpoint",
    "Limiter",
    "Priority",
    "Scope",
]

_NS = 1_000_000_000

Scope = Literal["ip", "key", "account"]
SCOPES: tuple[str, ...] = ("ip", "key", "account")
Priority = Literal["stream", "strategy"]
STREAM: Priority = "stream"  # the runtime's own resync traffic: first, and may use the reserve
STRATEGY: Priority = "strategy"  # strategy REST calls: after stream traffic, never the reserve
PRIORITIES: tuple[str, ...] = (STREAM, STRATEGY)


@dataclass(slots=True)
class Bucket:
    """A token bucket sized so that no window of `per_s` seconds ever holds more than `limit`.

    A bucket of capacity B refilled at rate r lets through at most B + r * T units in any
    window of length T, whether the venue counts fixed windows (Binance's minute) or sliding
    ones. So the capacity is a small burst (`burst` of the limit, at least 1 unit) and the rate
    is what is left of the usable budget, (1 - margin) * limit - B, per `per_s` seconds: the
    guarantee holds for any pattern of calls, and `margin` absorbs clock skew with the venue.

    `scope` says who the venue counts the limit for ("ip", "key" or "account"); `reserve` is
    the share of the burst capacity strategy calls (`try_take`) must leave for stream traffic.
    """

    limit: int
    per_s: float
    burst: float = 0.2
    margin: float = 0.1
    scope: str = "account"
    reserve: float = 0.2
    _tokens: float = field(init=False, default=0.0)
    _at: int | None = field(init=False, default=None)
    capacity: float = field(init=False, default=0.0)
    _rate: float = field(init=False, default=0.0)  # units per ns

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.per_s <= 0 or not 0 <= self.margin < 1 or not 0 < self.burst < 1:
            raise ValueError(f"bad bucket {self.limit}/{self.per_s}s")
        if self.scope not in SCOPES:
            raise ValueError(f"bucket scope must be one of {SCOPES}, not {self.scope!r}")
        if not 0 <= self.reserve < 1:
            raise ValueError(f"bucket reserve must be in [0, 1), not {self.reserve!r}")
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
        """Units that could be spent now without waiting (negative: booked ahead)."""
        self._refill(now_ns)
        return self._tokens

    def floor(self, cost: int) -> float:
        """The units a strategy call of COST must leave in the bucket (the reserve, lowered
        so that a call of COST still fits under the capacity)."""
        return max(0.0, min(self.reserve * self.capacity, self.capacity - cost))

    def wait_ns(self, cost: int, now_ns: int, floor: float = 0.0) -> int:
        """How long until COST units are available above FLOOR (0 if now); books nothing."""
        if cost > self.capacity:
            raise ValueError(f"cost {cost} exceeds the bucket's burst capacity {self.capacity}")
        self._refill(now_ns)
        missing = cost + floor - self._tokens
        if missing <= 0:
            return 0
        return int(missing / self._rate) + 1

    def take(self, cost: int, now_ns: int) -> int:
        """Book COST units; returns the ns to wait before the call may be made (0 = now).

        The units are booked at once (the balance may go negative), so concurrent callers
        queue behind each other instead of all waking at the same moment. This is the stream
        lane: it goes ahead of every strategy call still waiting in `try_take`.
        """
        wait = self.wait_ns(cost, now_ns)
        self._tokens -= cost
        return wait

    def try_take(self, cost: int, now_ns: int) -> int:
        """The strategy lane: book COST only if the reserve stays in the bucket (returns 0);
        otherwise book nothing and return the ns after which trying again may succeed."""
        wait = self.wait_ns(cost, now_ns, self.floor(cost))
        if wait == 0:
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

    def request(self, params: Mapping[str, object] | None = None, *, keep: str = "") -> RestRequest:
        """This endpoint called with PARAMS, unsigned: a GET's as the query in the given order
        (percent-encoded but for the characters in KEEP; None and "" left out), any other
        method's as a JSON body (None left out). Signing, where wanted, is the venue's auth."""
        if self.method == "GET":
            query = "&".join(
                f"{k}={quote(str(v), safe=keep)}"
                for k, v in (params or {}).items()
                if v is not None and v != ""
            )
            return RestRequest(
                method="GET", base=self.base, path=self.path, query=query, cost=self.cost
            )
        body = msgspec.json.encode({k: v for k, v in (params or {}).items() if v is not None})
        return RestRequest(
            method=self.method, base=self.base, path=self.path, body=body.decode(), cost=self.cost
        )


class Limiter:
    """The buckets of one venue account (some shared with other accounts): books a cost
    across all of them, in the stream lane (`take`) or the strategy lane (`try_take`)."""

    __slots__ = ("buckets",)

    def __init__(self, buckets: dict[str, Bucket]) -> None:
        self.buckets = buckets

    def _named(self, cost: dict[str, int]) -> list[tuple[Bucket, int]]:
        return [(self.buckets[k], c) for k, c in cost.items() if k in self.buckets]

    def wait_ns(self, cost: dict[str, int], now_ns: int, priority: str = STREAM) -> int:
        """The longest wait any bucket needs for COST in PRIORITY's lane; books nothing."""
        strategy = priority == STRATEGY
        return max(
            (b.wait_ns(c, now_ns, b.floor(c) if strategy else 0.0) for b, c in self._named(cost)),
            default=0,
        )

    def take(self, cost: dict[str, int], now_ns: int) -> int:
        """Stream lane: book COST in every named bucket; the ns to wait (the longest)."""
        waits = [b.take(c, now_ns) for b, c in self._named(cost)]
        return max(waits, default=0)

    def try_take(self, cost: dict[str, int], now_ns: int) -> int:
        """Strategy lane: book COST in every named bucket if each keeps its reserve (returns
        0), else book nothing and return the ns after which to try again (the longest)."""
        named = self._named(cost)
        wait = max((b.wait_ns(c, now_ns, b.floor(c)) for b, c in named), default=0)
        if wait == 0:
            for b, c in named:
                b.take(c, now_ns)
        return wait


def _digest(*parts: str) -> str:
    """A short one-way id for a scope (API keys never sit in the registry in clear)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


class BudgetRegistry:
    """The buckets of one workspace, shared by scope: every account whose venue, environment,
    REST hosts and scope id match gets the very same `Bucket` object for a budget.

    Scope ids: "ip" is the machine (one per venue, env and hosts); "key" is the API key;
    "account" is the API key plus the login identifier (IG), the best proxy for a venue
    account / UID we have (two keys of one UID are not recognised as one account). An
    account without credentials has its own "key" and "account" ids.
    """

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: dict[tuple[object, ...], Bucket] = {}

    @staticmethod
    def scope_ids(alias: str, api_key: str | None, identifier: str | None) -> dict[str, str]:
        """The id of each scope for one account (hashed: no key in clear)."""
        if not api_key:
            own = "alias:" + alias
            return {"ip": "", "key": own, "account": own}
        return {
            "ip": "",
            "key": _digest("key", api_key),
            "account": _digest("account", api_key, identifier or ""),
        }

    def limiter(
        self,
        fresh: dict[str, Bucket],
        *,
        venue: str,
        env: str,
        hosts: tuple[str, ...],
        ids: dict[str, str],
    ) -> Limiter:
        """A Limiter over FRESH (a venue's `LIMITS()`), each bucket replaced by the one already
        registered for its scope, or registered as that scope's bucket."""
        out: dict[str, Bucket] = {}
        for name, bucket in fresh.items():
            key = (venue, env, tuple(sorted(hosts)), bucket.scope, ids[bucket.scope], name)
            out[name] = self._buckets.setdefault(key, bucket)
        return Limiter(out)

    def __len__(self) -> int:
        return len(self._buckets)

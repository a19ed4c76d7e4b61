"""When something that failed may be tried again, sans I/O (no clock, no jitter): one rule for
every protocol and for the runtime's own retries.

`Retry` is one thing's delays: none before the first try, then FIRST_S after a failure, doubling
up to MAX_S, reset by a success. `Backoff` keeps a `Retry` per key (Binance: a snapshot per
symbol, the listenKey, the seeds). `AuthRetry` is a `Retry` for logins and WebSocket auth, which
also words the refusal for the status surface.

Why auth retries matter:
A refusal is often transient (a venue hiccup, a clock step, IG's weekend maintenance): giving up
leaves a private stream off for good. Retrying at once hammers the venue, whose auth failures
count against REST budgets and can get an IP banned. So each protocol keeps one `AuthRetry`:
the first retry after `first_s`, doubling up to `max_s` (deterministic, so `tick(ts)` tests can
step the clock; the transport's reconnect delays carry the jitter), reset only once the venue
has really accepted us. `problem()` words the refusal for the status surface, without secrets.
"""

from __future__ import annotations

__all__ = ["AuthRetry", "Backoff", "Retry"]

_NS = 1_000_000_000


class Retry:
    """Deterministic retry delays: FIRST_S, doubling to MAX_S; `ready(ts)` says when."""

    __slots__ = ("first_ns", "max_ns", "failures", "delay_ns", "at")

    def __init__(self, first_s: float = 1.0, max_s: float = 60.0) -> None:
        if not 0 < first_s <= max_s:
            raise ValueError("retry delays need 0 < first_s <= max_s")
        self.first_ns = int(first_s * _NS)
        self.max_ns = int(max_s * _NS)
        self.failures = 0  # refusals in a row
        self.delay_ns = 0  # the delay set by the last refusal
        self.at: int | None = None  # no attempt before this ts (None: any time)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(failures={self.failures}, delay_s={self.delay_ns / _NS:g})"

    def failed(self, ts: int) -> int:
        """Count a failure at TS; the next attempt waits the returned delay (ns)."""
        self.delay_ns = min(self.first_ns << min(self.failures, 40), self.max_ns)
        self.failures += 1
        self.at = ts + self.delay_ns
        return self.delay_ns

    def ready(self, ts: int) -> bool:
        """May an attempt be made at TS?"""
        return self.at is None or ts >= self.at

    def ok(self) -> None:
        """It worked: the next failure starts from the first delay again."""
        self.failures = 0
        self.delay_ns = 0
        self.at = None

    @property
    def delay_s(self) -> float:
        return self.delay_ns / _NS


class AuthRetry(Retry):
    """`Retry` for a login or WebSocket auth: `refused(ts)` counts a refusal; `problem` words it
    for the status surface (no secrets)."""

    __slots__ = ()

    refused = Retry.failed

    def problem(self, what: str, why: str) -> str:
        """A short status sentence: "auth refused (10003: invalid key); retrying in 4 s"."""
        times = f" {self.failures} times in a row" if self.failures > 1 else ""
        return f"{what} refused{times} ({why}); retrying in {self.delay_s:g} s"


class Backoff:
    """A `Retry` per key: `ready(key, ts)`, `failed(key, ts)` (returns the ts from which KEY may
    be tried again), `ok(key)`. Keys never failed are always ready."""

    __slots__ = ("first_s", "max_s", "_keys")

    def __init__(self, first_s: float, max_s: float) -> None:
        Retry(first_s, max_s)  # the same checks
        self.first_s, self.max_s = first_s, max_s
        self._keys: dict[str, Retry] = {}

    def ready(self, key: str, ts: int) -> bool:
        r = self._keys.get(key)
        return r is None or r.ready(ts)

    def failed(self, key: str, ts: int) -> int:
        r = self._keys.get(key)
        if r is None:
            r = self._keys[key] = Retry(self.first_s, self.max_s)
        return ts + r.failed(ts)

    def ok(self, key: str) -> None:
        self._keys.pop(key, None)

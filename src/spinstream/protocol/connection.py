"""One venue connection's shared scaffolding, sans I/O: what every `protocol.py` builds on.

A venue's protocol class (one per kind of connection, docs/venue-contract.md) subclasses
`Connection` and writes only what is its own: frames, rules, auth. The base gives it

- the connection's state and its checked moves (`MOVES`, `state`, `_move`),
- the outgoing frame and REST request queues (`outgoing()`, `requests()`, `pending()`,
  `_queue`), request
  ids (`_next_id`), `counters` (`_count`), `problem` and the log `extra`,
- the event helpers: `_malformed` (counted, logged at DEBUG), `_stale`, `_fresh_event`,
- `_guard` / `_failed`: a bad frame or body (decode error, `SpinstreamError`, `ValueError`) is
  `Malformed`; anything else is a bug, logged with its traceback, counted as "errors", and the
  connection goes on,
- the auth retry (`protocol.retry.AuthRetry` as `_auth`; `_auth_later` words `problem`),
- the REST-seeded private stream's seed bookkeeping (`Seed`: keys asked, pages, retry times,
  pushes held until the seed answers, `hold` with its overflow rule),
- the book helper `_book_updated` for the non-per-frame paths (the per-frame book and ticker
  paths stay inline in the venue's `receive`: a call per frame costs what they must not).

Nothing here reads a clock or does I/O: every input carries `ts` (local int ns).
"""

from __future__ import annotations

import enum
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar, cast

import msgspec

from spinstream.errors import ProtocolError, SpinstreamError
from spinstream.protocol.booksync import SyncedBook
from spinstream.protocol.events import (
    AuthFailed,
    BookUpdated,
    Fresh,
    Kind,
    Liveness,
    Malformed,
    RestRequest,
    Stale,
)
from spinstream.protocol.retry import AuthRetry

__all__ = ["Connection", "Seed"]

S = TypeVar("S", bound=enum.Enum)
K = TypeVar("K", bound=Hashable)

_log = logging.getLogger(__name__)

# what a handler raises for input that is wrong (the frame's fault, not ours)
BAD_INPUT: tuple[type[Exception], ...] = (msgspec.DecodeError, SpinstreamError, ValueError)


class Connection(Generic[S]):
    """The sans-I/O base of one venue connection (see the module docstring).

    A subclass sets, as class attributes: `VENUE` (the venue's name in events and logs),
    `endpoint` (key into `SPEC.ws_bases`; may be set on the instance before `__init__`),
    `private`, `liveness`, `MOVES` (state -> states it may move to), `log` (the venue module's
    logger, so its records keep the venue's logger name), and optionally `TICK_S`,
    `AUTH_RETRY_S` / `AUTH_RETRY_MAX_S`. It implements the contract's `connect_path`, `start`,
    `subscribe`, `unsubscribe`, `connected`, `receive`, `rest_response`, `disconnected`, `tick`.
    """

    VENUE: ClassVar[str]
    TICK_S: ClassVar[float] = 1.0
    AUTH_RETRY_S: ClassVar[float] = 1.0  # a refused login / auth is retried after this,
    AUTH_RETRY_MAX_S: ClassVar[float] = 60.0  # doubling up to this
    MOVES: ClassVar[Mapping[Any, frozenset[Any]]]
    log: ClassVar[logging.Logger] = _log
    endpoint: str
    private: bool
    liveness: Liveness

    def __init__(self, market: str, env: str, state: S) -> None:
        self.market = market
        self.env = env
        self._state: S = state
        self._out: list[str] = []
        self._reqs: list[RestRequest] = []
        self._ids = itertools.count(1)
        self._subs: set[tuple[str, str | None]] = set()
        self._counters: Counter[str] = Counter()
        self._auth = AuthRetry(self.AUTH_RETRY_S, self.AUTH_RETRY_MAX_S)
        self.problem: str | None = None  # why it is not serving, for status (no secrets)
        self._extra: dict[str, object] = {"venue": self.VENUE, "conn": self.endpoint}

    # --- contract surface -------------------------------------------------------------------

    @property
    def state(self) -> S:
        """The connection's state."""
        return self._state

    @property
    def counters(self) -> Counter[str]:
        """Counts of what happened (malformed, errors, gaps, resyncs, ...), for status/logs."""
        return self._counters

    def subscriptions(self) -> set[tuple[str, str | None]]:
        """Everything subscribed, as (kind, symbol)."""
        return set(self._subs)

    def outgoing(self) -> list[str]:
        """Frames to send, drained."""
        out, self._out = self._out, []
        return out

    def requests(self) -> list[RestRequest]:
        """REST calls to make, drained; answers come back through `rest_response`."""
        reqs, self._reqs = self._reqs, []
        return reqs

    def pending(self) -> bool:
        """Whether `outgoing()` or `requests()` has anything: the transport asks this after
        every frame instead of draining both. A subclass that overrides `outgoing` or
        `requests` must override this too (at or below them), else the transport drains."""
        return bool(self._out) or bool(self._reqs)

    def __repr__(self) -> str:  # no credentials, no tokens
        return (
            f"{type(self).__name__}({self.market}, {self.env}, {self._state.name}, "
            f"subscriptions={len(self._subs)}, counters={dict(self.counters)})"
        )

    # --- state, queues, ids, counters -------------------------------------------------------

    def _move(self, new: S) -> None:
        """Move to NEW; an illegal move is our bug (`ProtocolError`)."""
        if new not in self.MOVES[self._state]:
            raise ProtocolError(
                f"{self.VENUE} {self.endpoint}: illegal move {self._state.name} -> {new.name}"
            )
        self._state = new

    def _next_id(self) -> int:
        return next(self._ids)

    def _queue(self, req: RestRequest) -> int:
        """Queue REQ for `requests()` under a new request id; returns the id."""
        rid = next(self._ids)
        self._reqs.append(msgspec.structs.replace(req, req_id=rid))
        return rid

    def _count(self, name: str, n: int = 1) -> None:
        self._counters[name] += n

    # --- events -----------------------------------------------------------------------------

    def _malformed(self, reason: str, ts: int) -> Malformed:
        """A frame or body we cannot use: counted, logged at DEBUG (never its secrets)."""
        self._counters["malformed"] += 1
        self.log.debug("%s malformed: %s", self.VENUE, reason, extra=self._extra)
        return Malformed(venue=self.VENUE, reason=reason[:300], ts_recv=ts)

    def _stale(
        self, kind: str, symbol: str | None, reason: str, ts: int, market: str | None = None
    ) -> Stale:
        return Stale(
            venue=self.VENUE,
            market=market or self.market,
            kind=cast(Kind, kind),
            symbol=symbol,
            reason=reason,
            ts_recv=ts,
        )

    def _fresh_event(
        self, kind: str, symbol: str | None, ts: int, market: str | None = None
    ) -> Fresh:
        return Fresh(
            venue=self.VENUE,
            market=market or self.market,
            kind=cast(Kind, kind),
            symbol=symbol,
            ts_recv=ts,
        )

    def _book_updated(
        self, symbol: str, book: SyncedBook, ts_event: int | None, ts: int
    ) -> BookUpdated:
        """BOOK of SYMBOL changed (its sync's last id as `seq`); not for per-frame paths."""
        return BookUpdated(
            venue=self.VENUE,
            market=self.market,
            symbol=symbol,
            book=book.book,
            seq=book.sync.last,
            ts_event=ts_event,
            ts_recv=ts,
        )

    # --- guards -----------------------------------------------------------------------------

    def _guard(self, what: str, ts: int, fn: Callable[[], list[Any]]) -> list[Any]:
        """Run FN; a bad frame or body becomes `Malformed`, a bug is logged: never raises."""
        try:
            return fn()
        except Exception as exc:
            return self._failed(what, ts, exc)

    def _failed(self, what: str | None, ts: int, exc: Exception) -> list[Any]:
        """What `_guard` answers for EXC raised by a handler of WHAT."""
        if isinstance(exc, BAD_INPUT):
            return [self._malformed(f"{what}: {exc}", ts)]
        # a bug must not kill the connection: logged with its traceback (in an except), counted
        self._counters["errors"] += 1
        self.log.exception("%s %s handler failed", self.VENUE, what, extra=self._extra)
        return [self._malformed(f"{what}: internal error {type(exc).__name__}", ts)]

    # --- auth retry -------------------------------------------------------------------------

    def _auth_later(self, what: str, why: str, ts: int) -> str:
        """WHAT was refused (WHY, no secrets): the retry waits the backoff; `problem` says so.
        Returns the reason for events ("WHAT refused (WHY)")."""
        self._auth.refused(ts)
        self.problem = self._auth.problem(what, why)
        self.log.warning("%s %s: %s", self.VENUE, self.endpoint, self.problem, extra=self._extra)
        return f"{what} refused ({why})"

    def _auth_failed(self, reason: str, ts: int, market: str | None = None) -> AuthFailed:
        return AuthFailed(venue=self.VENUE, market=market or self.market, reason=reason, ts_recv=ts)


@dataclass(slots=True)
class Seed(Generic[K]):
    """One REST seed of a private stream (its keys: pages of one kind, settle coins, ...) and
    the pushes held until every key has answered (docs/venue-contract.md: pushes that arrive
    before the seed are buffered and replayed after it, or the seed is asked again)."""

    keys: tuple[K, ...] = ()
    pending: set[K] = field(default_factory=set)  # keys not answered yet
    pages: dict[K, list[object]] = field(default_factory=dict)  # answers so far, per key
    retry: dict[K, int] = field(default_factory=dict)  # key -> ts to ask again
    buffer: list[Any] = field(default_factory=list)  # pushes held, in order
    time_ms: int | None = None  # the venue's time of the (first) answer
    done: bool = False

    def restart(self) -> None:
        """Ask every key again from its first page; held pushes are dropped (the new answers
        cover them)."""
        self.pending = set(self.keys)
        self.pages.clear()
        self.retry.clear()
        self.buffer.clear()
        self.time_ms = None
        self.done = False

    def hold(self, push: object, max_buffer: int) -> bool:
        """Hold PUSH until the seed lands. False when the buffer was full: the seed restarted
        (`restart`, PUSH the only one held) and the caller asks every key again."""
        overflow = len(self.buffer) >= max_buffer
        if overflow:
            self.restart()
        self.buffer.append(push)
        return not overflow

    def due(self, ts: int) -> list[K]:
        """Keys whose retry time has come (taken off the retry list)."""
        keys = [k for k, at in self.retry.items() if ts >= at]
        for k in keys:
            del self.retry[k]
        return keys

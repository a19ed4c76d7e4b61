"""Snapshot + delta sequencing for L2 books: one state machine, one small rule per venue.

A venue parser extracts an update's sequence ids into `Ids`. A rule (`BINANCE_SPOT`,
`BINANCE_USDM`, `BYBIT`, `OKX`, `DERIBIT`, `COINBASE`) classifies one update against the
last applied id and returns a `Verdict`. `BookSync` buffers what arrives before a snapshot,
replays the buffer onto a snapshot, and answers each update with an `Action`. It never holds
the book: it hands back the caller's opaque payloads, and the caller applies their levels.

    WAITING_SNAPSHOT --snapshot / in-band RESET / self-anchoring rule--> SYNCED
    SYNCED --gap / invalidate()--> RESYNC_NEEDED --snapshot / in-band RESET--> SYNCED
    WAITING_SNAPSHOT --buffer overflow--> RESYNC_NEEDED;   reset(): any state -> WAITING_SNAPSHOT

Sequencing outcomes are return values, never exceptions; a rule raises `ProtocolError` only
when the ids it needs are missing or malformed (a parser bug or a broken frame).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar

import msgspec

from spinstream.errors import ProtocolError

__all__ = [
    "BINANCE_SPOT",
    "BINANCE_USDM",
    "BYBIT",
    "COINBASE",
    "DERIBIT",
    "OKX",
    "Action",
    "BinanceSpotRule",
    "BinanceUsdmRule",
    "BookSync",
    "BybitRule",
    "CoinbaseRule",
    "DeribitRule",
    "Ids",
    "OkxRule",
    "Replay",
    "Rule",
    "SyncState",
    "SyncedBook",
    "Verdict",
]

P = TypeVar("P")


class SyncState(enum.Enum):
    """Where a `BookSync` is: no book yet, book in sync, or book broken until a new snapshot."""

    WAITING_SNAPSHOT = "waiting_snapshot"
    SYNCED = "synced"
    RESYNC_NEEDED = "resync_needed"


class Verdict(enum.Enum):
    """A rule's classification of one update against the last applied id."""

    WAIT = "wait"  # no anchor yet (last is None): hold it until a snapshot
    STALE = "stale"  # already covered by the book: drop it
    APPLY = "apply"  # chains onto the book: apply it; the book's id becomes ids.seq
    GAP = "gap"  # updates were missed: the book is broken, resync
    RESET = "reset"  # the message is itself a full book: replace the book; id becomes ids.seq


class Action(enum.Enum):
    """What the caller does with the update it just passed to `BookSync.on_update`."""

    APPLY = "apply"  # apply the payload's levels to the book
    RESET = "reset"  # the payload is a full book: clear the book, then apply it
    DROP = "drop"  # stale: ignore the payload
    BUFFER = "buffer"  # held by the sync until a snapshot: nothing to do now
    RESYNC = "resync"  # gap or overflow: mark the book stale, fetch a snapshot or resubscribe


@dataclass(frozen=True, slots=True)
class Ids:
    """The sequence ids of one book message, as the venue parser extracted them.

    `seq` is the id the book has after this message (Binance `u`, Bybit `u`, OKX `seqId`,
    Deribit `change_id`, Coinbase `sequence_num`); `first` is the first id it covers
    (Binance `U`); `prev` is the venue's back-link (Binance USD-M `pu`, OKX `prevSeqId`,
    Deribit `prev_change_id`); `snapshot` says the message is a full book (Bybit
    `type=snapshot`, OKX `action=snapshot`, Deribit `type=snapshot`).
    """

    seq: int
    first: int | None = None
    prev: int | None = None
    snapshot: bool = False


class Rule(Protocol):
    """A venue's sequencing rule: classify one update; pure, no state of its own.

    `last` is the book's id (None when there is no book); `after_snapshot` is True while
    `last` is a REST snapshot's id and nothing has been applied on top of it. RESET must
    depend on `ids` alone. A rule returns WAIT only when `last` is None, and APPLY for a
    None `last` only if the venue needs no snapshot to anchor its sequence (Coinbase).
    """

    name: ClassVar[str]

    def classify(self, last: int | None, after_snapshot: bool, ids: Ids) -> Verdict: ...


# A rule may also define `chains(last, after_snapshot, seq, first, prev, snapshot) -> bool`:
# True only when `classify` would return APPLY for `Ids(seq, first, prev, snapshot)` (and would
# not raise). `SyncedBook.update_seq` uses it to apply the common in-sequence update without
# building an `Ids`; a False answer (or no `chains` at all) goes through `classify`.


def _range(rule: str, ids: Ids) -> tuple[int, int]:
    """Binance's (U, u) pair, checked."""
    if ids.first is None or ids.first > ids.seq:
        raise ProtocolError(f"{rule}: bad update id range U={ids.first} u={ids.seq}")
    return ids.first, ids.seq


def _prev(rule: str, ids: Ids) -> int:
    if ids.prev is None:
        raise ProtocolError(f"{rule}: update without a previous id (seq={ids.seq})")
    return ids.prev


@dataclass(frozen=True, slots=True)
class BinanceSpotRule:
    """Binance spot diff depth (`U`, `u`; REST `lastUpdateId`), per the corrected 2025-11 doc.

    Stale when u <= id; gap when U > id + 1; otherwise apply (so the first applied event
    straddles U <= lastUpdateId + 1 <= u, and later ones normally have U == previous u + 1).
    The doc ignores only u < id after the first event; an event with u == id re-sets levels
    the book already holds at id u, so dropping it is equivalent and keeps "applied" exact.
    """

    name: ClassVar[str] = "binance_spot"

    def classify(self, last: int | None, after_snapshot: bool, ids: Ids) -> Verdict:
        first, seq = _range(self.name, ids)
        if last is None:
            return Verdict.WAIT
        if seq <= last:
            return Verdict.STALE
        if first > last + 1:
            return Verdict.GAP
        return Verdict.APPLY

    def chains(
        self,
        last: int | None,
        after_snapshot: bool,
        seq: int,
        first: int | None,
        prev: int | None,
        snapshot: bool,
    ) -> bool:
        """True when `classify` says APPLY: U <= u, u > id and U <= id + 1."""
        if last is None or first is None:
            return False
        return first <= seq and last < seq and first <= last + 1


@dataclass(frozen=True, slots=True)
class BinanceUsdmRule:
    """Binance USD-M futures depth (`U`, `u`, `pu`; REST `lastUpdateId`).

    On a REST snapshot: drop u < lastUpdateId; the first applied event has
    U <= lastUpdateId <= u, anything later-starting is a gap. After that each event's
    `pu` must equal the previous event's `u`, otherwise a gap (the doc allows nothing else).
    """

    name: ClassVar[str] = "binance_usdm"

    def classify(self, last: int | None, after_snapshot: bool, ids: Ids) -> Verdict:
        first, seq = _range(self.name, ids)
        prev = _prev(self.name, ids)  # every USD-M event carries pu; checked before buffering
        if last is None:
            return Verdict.WAIT
        if after_snapshot:
            if seq < last:
                return Verdict.STALE
            return Verdict.APPLY if first <= last else Verdict.GAP
        return Verdict.APPLY if prev == last else Verdict.GAP

    def chains(
        self,
        last: int | None,
        after_snapshot: bool,
        seq: int,
        first: int | None,
        prev: int | None,
        snapshot: bool,
    ) -> bool:
        """True when `classify` says APPLY (pu == id, or the first event straddling a snapshot)."""
        if last is None or first is None or first > seq or prev is None:
            return False
        if after_snapshot:
            return seq >= last and first <= last
        return prev == last


@dataclass(frozen=True, slots=True)
class BybitRule:
    """Bybit v5 `orderbook.{depth}.{symbol}` (`type`, `u`).

    A snapshot message, or any message with u == 1 (service restart), replaces the book.
    A delta with u <= id is stale. Bybit documents `u` only as "a sequence" and resends a
    snapshot itself when its side has a problem, so by default any larger `u` applies;
    `consecutive=True` also calls u != id + 1 a gap (what recorded linear/spot traffic shows).
    """

    name: ClassVar[str] = "bybit"
    consecutive: bool = False

    def classify(self, last: int | None, after_snapshot: bool, ids: Ids) -> Verdict:
        if ids.snapshot or ids.seq == 1:
            return Verdict.RESET
        if last is None:
            return Verdict.WAIT
        if ids.seq <= last:
            return Verdict.STALE
        if self.consecutive and ids.seq != last + 1:
            return Verdict.GAP
        return Verdict.APPLY

    def chains(
        self,
        last: int | None,
        after_snapshot: bool,
        seq: int,
        first: int | None,
        prev: int | None,
        snapshot: bool,
    ) -> bool:
        """True when `classify` says APPLY: a delta (u != 1) after id (next id if consecutive)."""
        if snapshot or seq == 1 or last is None:
            return False
        return seq == last + 1 if self.consecutive else seq > last


@dataclass(frozen=True, slots=True)
class OkxRule:
    """OKX v5 books (`seqId`, `prevSeqId`; a snapshot has prevSeqId -1).

    An update applies when prevSeqId == id. That covers the ~60 s keepalive (empty, seqId ==
    prevSeqId) and the maintenance reset (seqId < prevSeqId: OKX says accept it, later
    updates chain normally). Any other mismatch is a gap. After a REST snapshot (OKX's
    announced REST + seqId stitching) the first update may straddle it,
    prevSeqId <= snapshot seqId < seqId, and updates with seqId <= snapshot seqId are stale.
    The checksum (0 since 2026-06-23) is the caller's: it calls `BookSync.invalidate`.
    """

    name: ClassVar[str] = "okx"

    def classify(self, last: int | None, after_snapshot: bool, ids: Ids) -> Verdict:
        if ids.snapshot or ids.prev == -1:
            return Verdict.RESET
        prev = _prev(self.name, ids)
        if last is None:
            return Verdict.WAIT
        if prev == last:
            return Verdict.APPLY
        if after_snapshot:
            if ids.seq <= last:
                return Verdict.STALE
            if prev < last:
                return Verdict.APPLY
        return Verdict.GAP

    def chains(
        self,
        last: int | None,
        after_snapshot: bool,
        seq: int,
        first: int | None,
        prev: int | None,
        snapshot: bool,
    ) -> bool:
        """True when `classify` says APPLY: prevSeqId == id (or straddles a REST snapshot)."""
        if snapshot or prev is None or prev == -1 or last is None:
            return False
        return prev == last or (after_snapshot and seq > last and prev < last)


@dataclass(frozen=True, slots=True)
class DeribitRule:
    """Deribit `book.{instrument}.{interval}` (`change_id`, `prev_change_id`).

    The first notification (type snapshot, no prev_change_id) replaces the book, as does
    any message without prev_change_id (the grouped channel sends whole books). A change
    applies when prev_change_id == id; otherwise resubscribe.
    """

    name: ClassVar[str] = "deribit"

    def classify(self, last: int | None, after_snapshot: bool, ids: Ids) -> Verdict:
        if ids.snapshot or ids.prev is None:
            return Verdict.RESET
        if last is None:
            return Verdict.WAIT
        return Verdict.APPLY if ids.prev == last else Verdict.GAP

    def chains(
        self,
        last: int | None,
        after_snapshot: bool,
        seq: int,
        first: int | None,
        prev: int | None,
        snapshot: bool,
    ) -> bool:
        """True when `classify` says APPLY: prev_change_id == id."""
        return not snapshot and prev is not None and last is not None and prev == last


@dataclass(frozen=True, slots=True)
class CoinbaseRule:
    """Coinbase Advanced Trade `sequence_num`: one counter per connection, +1 per message.

    Feed every message of the connection to one sync. The first message after a fresh
    start anchors the count (no snapshot carries it); then seq == id + 1 applies, a smaller
    number is out of order and ignored (Coinbase's doc), a larger one is a gap: resubscribe
    or reconnect, then `reset()`. The `snapshot` flag is ignored: the counter spans every
    channel, so the caller resets a product's book on its own l2 `snapshot` event.
    """

    name: ClassVar[str] = "coinbase"

    def classify(self, last: int | None, after_snapshot: bool, ids: Ids) -> Verdict:
        if last is None or ids.seq == last + 1:
            return Verdict.APPLY
        return Verdict.STALE if ids.seq <= last else Verdict.GAP

    def chains(
        self,
        last: int | None,
        after_snapshot: bool,
        seq: int,
        first: int | None,
        prev: int | None,
        snapshot: bool,
    ) -> bool:
        """True when `classify` says APPLY: the first message, or id + 1."""
        return last is None or seq == last + 1


BINANCE_SPOT = BinanceSpotRule()
BINANCE_USDM = BinanceUsdmRule()
BYBIT = BybitRule()
OKX = OkxRule()
DERIBIT = DeribitRule()
COINBASE = CoinbaseRule()


@dataclass(frozen=True, slots=True)
class Replay(Generic[P]):
    """What `BookSync.on_snapshot` decided: use the snapshot, then apply `updates` in order.

    `ok` False means the buffered stream does not chain onto this snapshot (it is older
    than the buffer, or the buffer has a gap): discard the snapshot and fetch another.
    """

    ok: bool
    updates: tuple[P, ...] = ()


class BookSync(Generic[P]):
    """Decides which book updates to apply, drop, hold or resync on, under one venue rule.

    Counters for logs and metrics: `applied` (payloads handed back to apply, resets
    included), `stale` (dropped as already covered), `gaps`, `resyncs` (entries into
    RESYNC_NEEDED for any reason) and `overflows` (buffered updates pushed out).
    """

    __slots__ = (
        "rule",
        "max_buffer",
        "_state",
        "_last",
        "_after_snapshot",
        "_buffer",
        "reason",
        "applied",
        "stale",
        "gaps",
        "resyncs",
        "overflows",
    )

    def __init__(self, rule: Rule, *, max_buffer: int = 1000) -> None:
        if max_buffer < 1:
            raise ValueError("max_buffer must be at least 1")
        self.rule = rule
        self.max_buffer = max_buffer
        self._state = SyncState.WAITING_SNAPSHOT
        self._last: int | None = None
        self._after_snapshot = False
        self._buffer: deque[tuple[Ids, P]] = deque()
        self.reason: str | None = None  # why the last resync was needed
        self.applied = 0
        self.stale = 0
        self.gaps = 0
        self.resyncs = 0
        self.overflows = 0

    @property
    def state(self) -> SyncState:
        """The current state."""
        return self._state

    @property
    def last(self) -> int | None:
        """The book's sequence id (last applied update or snapshot); None unless SYNCED."""
        return self._last

    @property
    def buffered(self) -> int:
        """How many updates are held for the next snapshot."""
        return len(self._buffer)

    def on_update(self, ids: Ids, payload: P) -> Action:
        """Classify one update; APPLY and RESET mean the caller applies `payload` now.

        Raises:
            ProtocolError: the rule needs an id the parser did not provide.
        """
        verdict = self.rule.classify(self._last, self._after_snapshot, ids)
        if self._state is SyncState.SYNCED:
            if verdict is Verdict.APPLY:
                self._last = ids.seq
                self._after_snapshot = False
                self.applied += 1
                return Action.APPLY
            if verdict is Verdict.STALE:
                self.stale += 1
                return Action.DROP
            if verdict is Verdict.RESET:
                return self._reset_to(ids.seq)
            self.gaps += 1
            self._break(f"{self.rule.name}: gap at {ids} after id {self._last}")
            self._buffer.append((ids, payload))
            return Action.RESYNC
        if verdict is Verdict.RESET:
            self.stale += len(self._buffer)
            self._buffer.clear()
            return self._reset_to(ids.seq)
        if verdict is Verdict.APPLY and self._state is SyncState.WAITING_SNAPSHOT:
            self._state = SyncState.SYNCED  # a self-anchoring rule: this update starts the chain
            self._last = ids.seq
            self.applied += 1
            return Action.APPLY
        if verdict is Verdict.STALE:
            self.stale += 1
            return Action.DROP
        return self._hold(ids, payload)

    def on_snapshot(self, snapshot_id: int) -> Replay[P]:
        """Take a REST snapshot's id; replay the buffer onto it (stale dropped, chain checked).

        On success the state is SYNCED. Otherwise it is RESYNC_NEEDED, the buffer is kept from
        the first update that did not chain, and the caller fetches a newer snapshot.

        Raises:
            ProtocolError: the rule needs an id the parser did not provide.
        """
        last, after = snapshot_id, True
        out: list[P] = []
        buf, classify = self._buffer, self.rule.classify
        stale = 0
        while buf:
            ids, payload = buf[0]
            verdict = classify(last, after, ids)
            if verdict is Verdict.STALE:
                stale += 1
            elif verdict is Verdict.APPLY:
                out.append(payload)
                last, after = ids.seq, False
            else:  # GAP (RESET and WAIT cannot occur against an anchor)
                self.stale += stale
                self.gaps += 1
                where = "snapshot older than the buffer" if after else "gap in the buffer"
                self._break(f"{self.rule.name}: {where}: {ids} after id {last}")
                return Replay(False)  # the buffer keeps this update and what follows it
            buf.popleft()
        self.stale += stale
        self.applied += len(out)
        self._state = SyncState.SYNCED
        self._last = last
        self._after_snapshot = after
        return Replay(True, tuple(out))

    def invalidate(self, reason: str) -> None:
        """Mark the book broken from outside (checksum mismatch, disconnect): RESYNC_NEEDED."""
        self._buffer.clear()
        if self._state is not SyncState.RESYNC_NEEDED:
            self._break(f"{self.rule.name}: {reason}")

    def reset(self) -> None:
        """Forget the book and the buffer (a new connection): back to WAITING_SNAPSHOT."""
        self._buffer.clear()
        self._state = SyncState.WAITING_SNAPSHOT
        self._last = None
        self._after_snapshot = False

    def __repr__(self) -> str:
        return (
            f"BookSync({self.rule.name}, {self._state.name}, last={self._last}, "
            f"buffered={len(self._buffer)}, applied={self.applied}, stale={self.stale}, "
            f"gaps={self.gaps}, resyncs={self.resyncs}, overflows={self.overflows})"
        )

    def _reset_to(self, seq: int) -> Action:
        self._state = SyncState.SYNCED
        self._last = seq
        self._after_snapshot = False
        self.applied += 1
        return Action.RESET

    def _break(self, reason: str) -> None:
        """Enter RESYNC_NEEDED; the buffer is left as it is."""
        self._state = SyncState.RESYNC_NEEDED
        self._last = None
        self._after_snapshot = False
        self.resyncs += 1
        self.reason = reason

    def _hold(self, ids: Ids, payload: P) -> Action:
        action = Action.BUFFER
        if len(self._buffer) >= self.max_buffer:
            self._buffer.popleft()
            self.overflows += 1
            if self._state is SyncState.WAITING_SNAPSHOT:
                self._break(f"{self.rule.name}: buffer overflow ({self.max_buffer} updates)")
                action = Action.RESYNC
        self._buffer.append((ids, payload))
        return action


#: a side's levels: sequences of [price, size, ...], or the frame's own JSON array of them
#: (`msgspec.Raw`, bytes), which the core book scans without a Python string a value
Levels = Sequence[Sequence[object]] | bytes | bytearray | memoryview | msgspec.Raw
_SYNCED = SyncState.SYNCED
_APPLY = Action.APPLY
_RESYNC = Action.RESYNC

_Chains = Callable[[int | None, bool, int, int | None, int | None, bool], bool]
_NEXT_ID: _Chains = BybitRule(consecutive=True).chains  # markers: `update_seq` inlines these
_ID_RANGE: _Chains = BINANCE_SPOT.chains
_PREV_ID: _Chains = OkxRule().chains


def _fast_check(rule: Rule) -> _Chains | None:
    """RULE's `chains` for `SyncedBook.update_seq`: a marker for the ones it writes out."""
    if type(rule) is BybitRule and rule.consecutive:
        return _NEXT_ID
    if type(rule) is BinanceSpotRule:
        return _ID_RANGE
    if type(rule) is OkxRule:
        return _PREV_ID
    return getattr(rule, "chains", None)


class SyncedBook:
    """A `_core.Book` fed through a `BookSync`: the one place a venue protocol touches a book.

    `update` and `snapshot` apply what the sync allows and report whether the book is now in
    sync (`in_sync`: SYNCED and not crossed). A level the core rejects (ParseError) breaks the
    sync like a gap: the book is left as it was and a resync is needed.
    """

    __slots__ = ("book", "sync", "_fast")

    def __init__(
        self,
        rule: Rule,
        price_decimals: int,
        size_decimals: int,
        *,
        max_depth: int = 0,
        max_buffer: int = 1000,
    ) -> None:
        from spinstream._core import Book  # the only core import under protocol/

        self.book = Book(price_decimals, size_decimals, max_depth)
        self.sync: BookSync[tuple[Levels, Levels]] = BookSync(rule, max_buffer=max_buffer)
        self._fast = _fast_check(rule)

    @property
    def in_sync(self) -> bool:
        """True when the book may be served: synced and not crossed."""
        return self.sync.state is SyncState.SYNCED and not self.book.crossed()

    def update(self, ids: Ids, bids: Levels, asks: Levels) -> Action:
        """Feed one venue update; applies it when the sync says so. Returns the sync's action."""
        action = self.sync.on_update(ids, (bids, asks))
        try:
            if action is Action.APPLY:
                self.book.apply_deltas(bids, asks)
            elif action is Action.RESET:
                self.book.apply_snapshot(bids, asks)
        except ValueError as exc:
            self.sync.invalidate(f"bad level: {exc}")
            return Action.RESYNC
        if action in (Action.APPLY, Action.RESET) and self.book.crossed():
            self.sync.invalidate("crossed book after a full update")
            return Action.RESYNC
        return action

    def update_seq(
        self,
        seq: int,
        first: int | None,
        prev: int | None,
        snapshot: bool,
        bids: Levels,
        asks: Levels,
    ) -> Action:
        """`update(Ids(seq, first, prev, snapshot), bids, asks)`, per frame: an update that chains
        onto a synced book (the rule's `chains`) is applied without building `Ids`."""
        sync = self.sync
        last = sync._last
        if sync._state is _SYNCED and last is not None:
            fast = self._fast  # the rule's `chains`, written out for two busy rules
            if fast is _NEXT_ID:  # (differences of ids are small ints: no int is allocated)
                chains = seq - last == 1 and not snapshot and seq != 1
            elif fast is _ID_RANGE:
                chains = first is not None and last < seq and first - last <= 1 and first <= seq
            elif fast is _PREV_ID:  # prevSeqId == seqId of the last, or a straddle (the rule's)
                chains = (prev == last and not snapshot and prev != -1) or _PREV_ID(
                    last, sync._after_snapshot, seq, first, prev, snapshot
                )
            else:
                chains = fast is not None and fast(
                    last, sync._after_snapshot, seq, first, prev, snapshot
                )
            if chains:
                sync._last = seq  # what on_update does for APPLY in SYNCED
                sync._after_snapshot = False
                sync.applied += 1
                book = self.book
                try:
                    book.apply_deltas(bids, asks)
                except ValueError as exc:
                    sync.invalidate(f"bad level: {exc}")
                    return _RESYNC
                if book.crossed():
                    sync.invalidate("crossed book after a full update")
                    return _RESYNC
                return _APPLY
        return self.update(Ids(seq, first, prev, snapshot), bids, asks)

    def snapshot(self, snapshot_id: int, bids: Levels, asks: Levels) -> bool:
        """Take a REST snapshot and replay the buffered updates; True when in sync after it."""
        replay = self.sync.on_snapshot(snapshot_id)
        if not replay.ok:
            return False
        try:
            self.book.apply_snapshot(bids, asks)
            for b, a in replay.updates:
                self.book.apply_deltas(b, a)
        except ValueError as exc:
            self.sync.invalidate(f"bad level: {exc}")
            return False
        if self.book.crossed():
            self.sync.invalidate("crossed book after a snapshot")
            return False
        return True

    def invalidate(self, reason: str) -> None:
        """Break the sync from outside (failed checksum, disconnect)."""
        self.sync.invalidate(reason)

    def reset(self) -> None:
        """Forget everything (a new connection): wait for a new snapshot."""
        self.sync.reset()
        self.book.clear()

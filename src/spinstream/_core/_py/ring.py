"""A fixed-capacity tick ring buffer (pure-Python twin of the compiled `ring` module)."""

from __future__ import annotations

import operator

import numpy as np

from spinstream.errors import InvariantError

__all__ = ["TICK_DTYPE", "TickRing"]

_FIELDS = ("ts", "price", "size", "flags")
TICK_DTYPE = np.dtype([(name, "<i8") for name in _FIELDS])

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1
_RETRIES = 8  # re-copies in `last` before the overwritten prefix is dropped instead


def _i64(x: int) -> int:
    """X as an int checked to fit int64 (the compiled module's argument type)."""
    x = operator.index(x)
    if not _I64_MIN <= x <= _I64_MAX:
        raise OverflowError(f"{x} does not fit int64")
    return x


def _as_i64_array(a: object, name: str) -> np.ndarray:
    """A 1-D int64 array from an integer array or sequence."""
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D")
    if arr.size == 0:
        return np.empty(0, np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, not {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


class TickRing:
    """The newest `capacity` ticks in a TICK_DTYPE numpy array; one writer, many readers.

    Record `i` (0-based, of `count` ever appended) lives in slot `i % capacity`. The writer first
    announces record `i` by setting `_claimed = i + 1`, then writes the record, then publishes
    `count = i + 1`; a batch claims all its records at once. A reader (`last`) reads `count`,
    copies the newest records below it, then reads `_claimed`: any copied record `j` with
    `j < _claimed - capacity` shares a slot with a record the writer wrote, or was writing, during
    the copy, so it may be torn. `last` then copies again from the new `count` (up to a few
    times) and finally drops that stale prefix instead: a reader never returns a torn record, and
    only returns fewer than asked when a writer laps it. Here the numpy copies can interleave with
    the writer's bytecodes (and numpy may drop the GIL while copying), so the check is live.
    """

    __slots__ = ("_cap", "_count", "_claimed", "_buf")

    def __init__(self, capacity: int) -> None:
        capacity = operator.index(capacity)
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, not {capacity}")
        self._cap = capacity
        self._count = 0
        self._claimed = 0
        self._buf = np.zeros(capacity, TICK_DTYPE)

    @property
    def capacity(self) -> int:
        """Records kept."""
        return self._cap

    @property
    def count(self) -> int:
        """Records ever appended."""
        return self._count

    def __len__(self) -> int:
        return min(self._count, self._cap)

    def append(self, ts: int, price: int, size: int, flags: int = 0) -> None:
        """Append one tick, overwriting the oldest when full."""
        rec = (_i64(ts), _i64(price), _i64(size), _i64(flags))
        c = self._count
        self._claimed = c + 1
        self._buf[c % self._cap] = rec
        self._count = c + 1

    def append_batch(
        self,
        ts: np.ndarray,
        price: np.ndarray,
        size: np.ndarray,
        flags: np.ndarray | None = None,
    ) -> None:
        """Append ticks from equal-length int64 arrays, as `append` on each in order."""
        cols = [_as_i64_array(ts, "ts"), _as_i64_array(price, "price"), _as_i64_array(size, "size")]
        m = len(cols[0])
        cols.append(np.zeros(m, np.int64) if flags is None else _as_i64_array(flags, "flags"))
        if any(len(col) != m for col in cols):
            raise ValueError("ts, price, size and flags must have equal lengths")
        if m == 0:
            return
        cap = self._cap
        c = self._count
        w = min(m, cap)  # only the newest `cap` records of the batch survive
        self._claimed = c + m
        first = c + m - w
        slot = first % cap
        n1 = min(w, cap - slot)
        for name, col in zip(_FIELDS, cols, strict=True):
            field = self._buf[name]
            field[slot : slot + n1] = col[m - w : m - w + n1]
            field[: w - n1] = col[m - w + n1 :]
        self._count = c + m

    def last(self, n: int) -> np.ndarray:
        """A copy of the newest min(n, len) records, oldest first (TICK_DTYPE)."""
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"n must be >= 0, not {n}")
        cap = self._cap
        for attempt in range(_RETRIES):
            c0 = self._count
            k = min(n, c0, cap)
            lo = c0 - k
            slot = lo % cap
            out: np.ndarray
            if slot + k <= cap:
                out = self._buf[slot : slot + k].copy()
            else:
                out = np.concatenate((self._buf[slot:], self._buf[: slot + k - cap]))
            stale = self._claimed - cap - lo  # copied records that may have been overwritten
            if stale <= 0:
                return out
            if attempt == _RETRIES - 1:
                return out[stale:].copy() if stale < k else np.empty(0, TICK_DTYPE)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(self) -> None:
        """Raise InvariantError unless the counters and storage are consistent (writer idle)."""
        if self._cap < 1 or self._count < 0:
            raise InvariantError("bad capacity or count")
        if self._claimed != self._count:
            raise InvariantError(f"claimed {self._claimed} != count {self._count} (writer idle)")
        if self._buf.dtype != TICK_DTYPE or self._buf.shape != (self._cap,):
            raise InvariantError("storage is not a TICK_DTYPE array of capacity records")

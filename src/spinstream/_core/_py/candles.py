"""Candle aggregation from ticks (pure-Python twin of the compiled `candles` module)."""

from __future__ import annotations

import operator

import numpy as np

from spinstream.errors import InvariantError

__all__ = ["BAR_DTYPE", "CandleAggregator", "parse_scale"]

_S = 1_000_000_000
_M = 60 * _S
_H = 60 * _M

_SCALES: dict[str, int] = {
    "1s": _S, "5s": 5 * _S,
    "1m": _M, "3m": 3 * _M, "5m": 5 * _M, "15m": 15 * _M, "30m": 30 * _M,
    "1h": _H, "2h": 2 * _H, "4h": 4 * _H, "1d": 24 * _H,
    "SECOND": _S,
    "1MINUTE": _M, "2MINUTE": 2 * _M, "3MINUTE": 3 * _M, "5MINUTE": 5 * _M,
    "10MINUTE": 10 * _M, "15MINUTE": 15 * _M, "30MINUTE": 30 * _M,
    "HOUR": _H, "2HOUR": 2 * _H, "3HOUR": 3 * _H, "4HOUR": 4 * _H, "DAY": 24 * _H,
}  # fmt: skip

BAR_DTYPE = np.dtype(
    [(f, "<i8") for f in ("start", "open", "high", "low", "close", "volume", "count")]
)

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1

Bar = tuple[int, int, int, int, int, int, int]


def parse_scale(scale: str | int) -> int:
    """Nanoseconds per bar from a scale name ("1m", "1MINUTE", ...) or a positive int of ns."""
    if isinstance(scale, str):
        try:
            return _SCALES[scale]
        except KeyError:
            raise ValueError(f"unknown candle scale {scale!r}") from None
    if isinstance(scale, bool):
        raise ValueError(f"bad candle scale {scale!r}")
    try:
        ns = operator.index(scale)
    except TypeError:
        raise ValueError(f"bad candle scale {scale!r}") from None
    if not 0 < ns <= _I64_MAX:
        raise ValueError(f"candle scale must be a positive int64 of ns, not {ns}")
    return ns


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


def _bar_error(start: int, o: int, h: int, low: int, c: int, v: int, n: int) -> str | None:
    """Why a bar is inconsistent, or None."""
    if not low <= min(o, c) or not max(o, c) <= h:
        return f"prices out of order (o={o} h={h} l={low} c={c})"
    if v < 0 or n < 0:
        return f"negative volume or count (v={v} n={n})"
    return None


class CandleAggregator:
    """OHLCV bars from a stream of (ts_ns, price, size) ticks, one bar per `scale` interval.

    A tick belongs to the bar starting at `ts - ts % scale_ns` (floor). A tick in a later interval
    closes the open bar; empty intervals produce no bar. A tick in an interval before the open
    bar's, or (after `flush`) in an interval already closed, is late: dropped and counted in
    `late`, so closed bars never repeat a start. Close is the last tick received.
    """

    __slots__ = (
        "_scale", "_late", "_ticks", "_open", "_has_closed", "_last_closed",
        "_start", "_o", "_h", "_l", "_c", "_v", "_n", "_closed",
    )  # fmt: skip

    def __init__(self, scale: str | int) -> None:
        self._scale = parse_scale(scale)
        self._late = 0
        self._ticks = 0
        self._open = False  # an open bar exists (fields _start.._n)
        self._has_closed = False  # some bar has been closed (drained or not)
        self._last_closed = 0  # start of the newest closed bar
        self._start = self._o = self._h = self._l = self._c = self._v = self._n = 0
        self._closed: list[Bar] = []

    @property
    def scale_ns(self) -> int:
        """Nanoseconds per bar."""
        return self._scale

    @property
    def late(self) -> int:
        """Ticks dropped because their interval was before the open (or last closed) bar."""
        return self._late

    @property
    def ticks(self) -> int:
        """Ticks accepted into a bar."""
        return self._ticks

    def add(self, ts_ns: int, price: int, size: int) -> int:
        """Add one tick; returns the number of bars it closed (0 or 1)."""
        ts_ns, price, size = _i64(ts_ns), _i64(price), _i64(size)
        if size < 0:
            raise ValueError(f"negative size {size}")
        return self._add(ts_ns, price, size)

    def _add(self, ts: int, price: int, size: int) -> int:
        """`add` on checked values."""
        start = ts - ts % self._scale
        if start < _I64_MIN:
            raise OverflowError(f"bar start of {ts} does not fit int64")
        closed = 0
        if self._open:
            if start == self._start:
                v = self._v + size
                if v > _I64_MAX:
                    raise OverflowError("bar volume overflows int64")
                if self._n == _I64_MAX:
                    raise OverflowError("bar tick count overflows int64")
                if price > self._h:
                    self._h = price
                if price < self._l:
                    self._l = price
                self._c = price
                self._v = v
                self._n += 1
                self._ticks += 1
                return 0
            if start < self._start:
                self._late += 1
                return 0
            self._close()
            closed = 1
        elif self._has_closed and start <= self._last_closed:
            self._late += 1
            return 0
        self._open = True
        self._start = start
        self._o = self._h = self._l = self._c = price
        self._v = size
        self._n = 1
        self._ticks += 1
        return closed

    def _close(self) -> None:
        """Move the open bar to the closed bars."""
        self._closed.append((self._start, self._o, self._h, self._l, self._c, self._v, self._n))
        self._open = False
        self._has_closed = True
        self._last_closed = self._start

    def add_batch(self, ts: np.ndarray, price: np.ndarray, size: np.ndarray) -> int:
        """Add ticks from equal-length int64 arrays, as `add` on each in order; bars closed."""
        t = _as_i64_array(ts, "ts")
        p = _as_i64_array(price, "price")
        s = _as_i64_array(size, "size")
        if not len(t) == len(p) == len(s):
            raise ValueError("ts, price and size must have equal lengths")
        if len(s) and int(s.min()) < 0:
            raise ValueError("negative size in batch")
        closed = 0
        add = self._add
        for a, b, c in zip(t.tolist(), p.tolist(), s.tolist(), strict=True):
            closed += add(a, b, c)
        return closed

    def open_bar(self) -> Bar | None:
        """The open bar as (start, open, high, low, close, volume, count), or None."""
        if not self._open:
            return None
        return (self._start, self._o, self._h, self._l, self._c, self._v, self._n)

    def seed(
        self, start: int, open: int, high: int, low: int, close: int, volume: int, count: int
    ) -> None:
        """Replace the open bar (e.g. with an exchange's running kline); closes nothing.

        Raises:
            ValueError: `start` is not on a bar boundary, not after the last closed bar, or the
                bar is inconsistent (low/high not bounding open and close, negative volume/count).
        """
        vals = [_i64(x) for x in (start, open, high, low, close, volume, count)]
        start = vals[0]
        if start % self._scale:
            raise ValueError(f"seed start {start} is not a multiple of {self._scale}")
        if self._has_closed and start <= self._last_closed:
            raise ValueError(f"seed start {start} is not after the last closed bar")
        why = _bar_error(*vals)
        if why:
            raise ValueError(f"inconsistent seed bar: {why}")
        self._open = True
        self._start, self._o, self._h, self._l, self._c, self._v, self._n = vals

    def drain(self) -> np.ndarray:
        """The bars closed since the last drain, oldest first, as a BAR_DTYPE array."""
        out = np.array(self._closed, dtype=BAR_DTYPE)
        self._closed = []
        return out

    def flush(self) -> int:
        """Close the open bar now: 1, or 0 if there was none."""
        if not self._open:
            return 0
        self._close()
        return 1

    def _check(self) -> None:
        """Raise InvariantError unless bars are consistent, aligned and strictly ordered."""
        if self._scale <= 0 or self._late < 0 or self._ticks < 0:
            raise InvariantError("negative scale or counters")
        bars = list(self._closed)
        if self._open:
            bars.append((self._start, self._o, self._h, self._l, self._c, self._v, self._n))
        prev: int | None = None
        for bar in bars:
            if bar[0] % self._scale:
                raise InvariantError(f"bar start {bar[0]} not aligned to {self._scale}")
            if prev is not None and bar[0] <= prev:
                raise InvariantError(f"bar starts not increasing ({prev} then {bar[0]})")
            why = _bar_error(*bar)
            if why:
                raise InvariantError(f"bar at {bar[0]}: {why}")
            prev = bar[0]
        if self._closed and (not self._has_closed or self._closed[-1][0] != self._last_closed):
            raise InvariantError("newest closed bar start not recorded")
        if self._open and self._has_closed and self._start <= self._last_closed:
            raise InvariantError("open bar not after the last closed bar")

# cython: language_level=3, binding=False
"""Candle aggregation from ticks (compiled; twin: spinstream/_core/_py/candles.py).

Same names, semantics and errors as the twin. The hot path (a tick inside the open bar) needs no
division: the open bar's interval test is two comparisons. Closed bars go to a growable C array
of `bar_t`, whose layout is a BAR_DTYPE record, so `drain` is one memcpy.
"""

import operator
import sys

import numpy as np

cimport cython
cimport numpy as cnp
from cpython.long cimport PyLong_CheckExact
from cpython.number cimport PyNumber_Index
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy

from spinstream.errors import InvariantError

cnp.import_array()

__all__ = ["BAR_DTYPE", "CandleAggregator", "parse_scale"]

_S = 1_000_000_000
_M = 60 * _S
_H = 60 * _M

_SCALES = {
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
if sys.byteorder != "little" or BAR_DTYPE.itemsize != sizeof(bar_t):  # drain memcpys bar_t
    raise ImportError("spinstream._core.candles needs a little-endian host")

# `_step` results below zero: the tick was not applied and this error is raised
cdef enum:
    _E_START = -1   # the tick's bar start is below int64
    _E_VOLUME = -2  # the open bar's volume would overflow
    _E_COUNT = -3   # the open bar's tick count would overflow
    _E_MEMORY = -4  # no memory to grow the closed-bar array

cdef enum:
    _FIRST_CLOSED = 64       # closed-bar slots allocated first
    _KEEP_CLOSED = 1 << 16   # `drain` frees a closed-bar array larger than this


cdef int _raise(int code, int64_t ts) except -1:
    """Raise the exception for a negative `_step` result."""
    if code == _E_START:
        raise OverflowError(f"bar start of {ts} does not fit int64")
    if code == _E_VOLUME:
        raise OverflowError("bar volume overflows int64")
    if code == _E_COUNT:
        raise OverflowError("bar tick count overflows int64")
    raise MemoryError("no memory for closed bars")


cdef inline int64_t _i64(object x) except? -1:
    """X as int64, accepting what `operator.index` accepts (not floats); OverflowError past int64.

    Cython's own argument conversion would truncate a float, which the twin refuses.
    """
    if PyLong_CheckExact(x):
        return x
    return PyNumber_Index(x)


cpdef int64_t parse_scale(object scale) except? -1:
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
    if not 0 < ns <= INT64_MAX:
        raise ValueError(f"candle scale must be a positive int64 of ns, not {ns}")
    return ns


def _as_i64_array(a, str name):
    """A 1-D int64 array from an integer array or sequence."""
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D")
    if arr.size == 0:
        return np.empty(0, np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, not {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


cdef str _bar_error(const bar_t* b):
    """Why a bar is inconsistent, or None."""
    if not (b.low <= b.open and b.low <= b.close and b.open <= b.high and b.close <= b.high):
        return f"prices out of order (o={b.open} h={b.high} l={b.low} c={b.close})"
    if b.volume < 0 or b.count < 0:
        return f"negative volume or count (v={b.volume} n={b.count})"
    return None


cdef inline Py_ssize_t _absorb(bar_t* b, const int64_t* ts, const int64_t* px,
                               const int64_t* sz, Py_ssize_t j, Py_ssize_t m,
                               uint64_t scale) noexcept nogil:
    """Fold ticks j.. (up to m) into the open bar `b` while they fall in its interval; returns the
    index of the first tick not taken: out of the interval, or one that would overflow volume or
    count (`_step` reports those).

    The bar's fields live in locals (the compiler cannot keep them in registers through stores
    that might alias the int64 inputs); close and count follow from the last index taken.
    """
    cdef int64_t start = b.start, hi = b.high, lo = b.low, t, p
    cdef uint64_t vol = <uint64_t>b.volume, v
    cdef Py_ssize_t j0 = j
    if <uint64_t>(m - j) > <uint64_t>(INT64_MAX - b.count):  # count stops at INT64_MAX
        m = j + <Py_ssize_t>(INT64_MAX - b.count)
    while j < m:
        t = ts[j]
        # in [start, start + scale), tested without overflow or division
        if t < start or <uint64_t>t - <uint64_t>start >= scale:
            break
        v = vol + <uint64_t>sz[j]  # both <= INT64_MAX: no unsigned wrap
        if v > <uint64_t>INT64_MAX:
            break
        vol = v
        p = px[j]
        if p > hi:
            hi = p
        if p < lo:
            lo = p
        j += 1
    if j > j0:
        b.high = hi
        b.low = lo
        b.close = px[j - 1]
        b.volume = <int64_t>vol
        b.count += j - j0
    return j


cdef class CandleAggregator:
    """OHLCV bars from a stream of (ts_ns, price, size) ticks, one bar per `scale` interval.

    A tick belongs to the bar starting at `ts - ts % scale_ns` (floor). A tick in a later interval
    closes the open bar; empty intervals produce no bar. A tick in an interval before the open
    bar's, or (after `flush`) in an interval already closed, is late: dropped and counted in
    `late`, so closed bars never repeat a start. Close is the last tick received.
    """

    def __cinit__(self, scale):
        # __cinit__, not __init__: no instance exists with a zero scale (C division by zero);
        # the other fields start zeroed
        self.scale_ns = parse_scale(scale)

    def __dealloc__(self):
        free(self._closed)

    cpdef int add(self, object ts_ns, object price, object size) except -1:
        """Add one tick; returns the number of bars it closed (0 or 1)."""
        cdef int64_t t = _i64(ts_ns), p = _i64(price), s = _i64(size)
        if s < 0:
            raise ValueError(f"negative size {s}")
        if self._open and _absorb(&self._bar, &t, &p, &s, 0, 1, <uint64_t>self.scale_ns):
            self.ticks += 1
            return 0
        cdef int r = self._step(t, p, s)
        if r < 0:
            _raise(r, t)
        return r

    @cython.final
    cdef int _step(self, int64_t ts, int64_t price, int64_t size) noexcept nogil:
        """`add` on a checked tick that `_absorb` did not take into the open bar (if any): bars
        closed (0 or 1), or an `_E_*` code with nothing changed."""
        cdef bar_t* b = &self._bar
        cdef int64_t r = ts % self.scale_ns  # C remainder: floor it by hand
        if r < 0:
            r += self.scale_ns
        if r > 0 and ts < INT64_MIN + r:
            return _E_START
        cdef int64_t start = ts - r
        cdef int closed = 0
        if self._open:
            if start == b.start:  # in the open bar, so `_absorb` refused an overflow
                return _E_VOLUME if size > INT64_MAX - b.volume else _E_COUNT
            if start < b.start:
                self.late += 1
                return 0
            if self._close() < 0:
                return _E_MEMORY
            closed = 1
        elif self._has_closed and start <= self._last_closed:
            self.late += 1
            return 0
        self._open = True
        b.start = start
        b.open = b.high = b.low = b.close = price
        b.volume = size
        b.count = 1
        self.ticks += 1
        return closed

    @cython.final
    cdef int _close(self) noexcept nogil:
        """Move the open bar to the closed bars; -1 (nothing changed) when out of memory."""
        cdef Py_ssize_t cap
        cdef bar_t* grown
        if self._n_closed == self._cap_closed:
            cap = 2 * self._cap_closed if self._cap_closed else _FIRST_CLOSED
            grown = <bar_t*>realloc(self._closed, cap * sizeof(bar_t))
            if grown == NULL:
                return -1
            self._closed = grown
            self._cap_closed = cap
        self._closed[self._n_closed] = self._bar
        self._n_closed += 1
        self._open = False
        self._has_closed = True
        self._last_closed = self._bar.start
        return 0

    cpdef Py_ssize_t add_batch(self, object ts, object price, object size) except -1:
        """Add ticks from equal-length int64 arrays, as `add` on each in order; bars closed.

        The loop keeps the GIL, so a misused second thread (say, `drain` meanwhile) cannot race
        the closed-bar array; like the twin's, one aggregator is for one thread.
        """
        t = _as_i64_array(ts, "ts")
        p = _as_i64_array(price, "price")
        s = _as_i64_array(size, "size")
        if not len(t) == len(p) == len(s):
            raise ValueError("ts, price and size must have equal lengths")
        cdef const int64_t[::1] tv = t
        cdef const int64_t[::1] pv = p
        cdef const int64_t[::1] sv = s
        cdef Py_ssize_t m = tv.shape[0], j, j0, closed = 0
        cdef const int64_t* tp = &tv[0] if m else NULL
        cdef const int64_t* pp = &pv[0] if m else NULL
        cdef const int64_t* sp = &sv[0] if m else NULL
        cdef int64_t signs = 0
        cdef int r = 0
        for j in range(m):
            signs |= sp[j]  # any negative size: nothing is applied (vectorizes, unlike min)
        j = 0
        while j < m and signs >= 0:
            if self._open:
                j0 = j
                j = _absorb(&self._bar, tp, pp, sp, j, m, <uint64_t>self.scale_ns)
                self.ticks += j - j0
                if j == m:
                    break
            r = self._step(tp[j], pp[j], sp[j])
            if r < 0:
                break
            closed += r
            j += 1
        if signs < 0:
            raise ValueError("negative size in batch")
        if r < 0:
            _raise(r, tp[j])
        return closed

    cpdef object open_bar(self):
        """The open bar as (start, open, high, low, close, volume, count), or None."""
        if not self._open:
            return None
        cdef bar_t b = self._bar
        return (b.start, b.open, b.high, b.low, b.close, b.volume, b.count)

    cpdef seed(self, object start, object open, object high, object low, object close,
               object volume, object count):
        """Replace the open bar (e.g. with an exchange's running kline); closes nothing.

        Raises:
            ValueError: `start` is not on a bar boundary, not after the last closed bar, or the
                bar is inconsistent (low/high not bounding open and close, negative volume/count).
        """
        cdef bar_t bar = bar_t(_i64(start), _i64(open), _i64(high), _i64(low), _i64(close),
                               _i64(volume), _i64(count))
        if bar.start % self.scale_ns:
            raise ValueError(f"seed start {bar.start} is not a multiple of {self.scale_ns}")
        if self._has_closed and bar.start <= self._last_closed:
            raise ValueError(f"seed start {bar.start} is not after the last closed bar")
        why = _bar_error(&bar)
        if why:
            raise ValueError(f"inconsistent seed bar: {why}")
        self._open = True
        self._bar = bar

    cpdef object drain(self):
        """The bars closed since the last drain, oldest first, as a BAR_DTYPE array."""
        cdef Py_ssize_t n = self._n_closed
        cdef cnp.ndarray out = np.empty(n, BAR_DTYPE)
        if n:
            memcpy(cnp.PyArray_DATA(out), self._closed, n * sizeof(bar_t))
        self._n_closed = 0
        if self._cap_closed > _KEEP_CLOSED:  # don't hold a huge batch's worth of slots
            free(self._closed)
            self._closed = NULL
            self._cap_closed = 0
        return out

    cpdef int flush(self) except -1:
        """Close the open bar now: 1, or 0 if there was none."""
        if not self._open:
            return 0
        if self._close() < 0:
            _raise(_E_MEMORY, 0)
        return 1

    cpdef _check(self):
        """Raise InvariantError unless bars are consistent, aligned and strictly ordered."""
        if self.scale_ns <= 0 or self.late < 0 or self.ticks < 0:
            raise InvariantError("negative scale or counters")
        if self._n_closed < 0 or self._n_closed > self._cap_closed:
            raise InvariantError("closed-bar count outside its array")
        cdef Py_ssize_t n = self._n_closed + (1 if self._open else 0), i
        cdef const bar_t* bar
        cdef int64_t prev = 0
        for i in range(n):
            bar = &self._closed[i] if i < self._n_closed else &self._bar
            if bar.start % self.scale_ns:
                raise InvariantError(f"bar start {bar.start} not aligned to {self.scale_ns}")
            if i and bar.start <= prev:
                raise InvariantError(f"bar starts not increasing ({prev} then {bar.start})")
            why = _bar_error(bar)
            if why:
                raise InvariantError(f"bar at {bar.start}: {why}")
            prev = bar.start
        if self._n_closed and (
            not self._has_closed or self._closed[self._n_closed - 1].start != self._last_closed
        ):
            raise InvariantError("newest closed bar start not recorded")
        if self._open and self._has_closed and self._bar.start <= self._last_closed:
            raise InvariantError("open bar not after the last closed bar")

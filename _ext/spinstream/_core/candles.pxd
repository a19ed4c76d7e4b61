# cython: language_level=3
"""Candle aggregation from ticks: compiled declarations (twin: spinstream/_core/_py/candles.py)."""

cimport cython
from libc.stdint cimport int64_t


cdef struct bar_t:
    # the BAR_DTYPE record: 7 little-endian int64, no padding
    int64_t start
    int64_t open
    int64_t high
    int64_t low
    int64_t close
    int64_t volume
    int64_t count


cpdef int64_t parse_scale(object scale) except? -1


cdef class CandleAggregator:
    cdef readonly int64_t scale_ns
    cdef readonly int64_t late
    cdef readonly int64_t ticks
    cdef bint _open            # `_bar` holds the open bar
    cdef bint _has_closed      # some bar has been closed (drained or not)
    cdef int64_t _last_closed  # start of the newest closed bar
    cdef bar_t _bar
    cdef bar_t* _closed        # closed bars not yet drained, oldest first
    cdef Py_ssize_t _n_closed
    cdef Py_ssize_t _cap_closed

    cpdef int add(self, object ts_ns, object price, object size) except -1
    cpdef Py_ssize_t add_batch(self, object ts, object price, object size) except -1
    cpdef object open_bar(self)
    cpdef seed(self, object start, object open, object high, object low, object close,
               object volume, object count)
    cpdef object drain(self)
    cpdef int flush(self) except -1
    cpdef _check(self)

    @cython.final
    cdef int _step(self, int64_t ts, int64_t price, int64_t size) noexcept nogil
    @cython.final
    cdef int _close(self) noexcept nogil

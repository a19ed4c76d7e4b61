# cython: language_level=3
"""Exact L2 order book: compiled declarations (twin: spinstream/_core/_py/book.py)."""

from libc.stdint cimport int64_t, uint64_t


cdef struct level_t:
    int64_t price   # ticks
    int64_t size    # lots, > 0 inside a side


cdef struct side_t:
    # levels sorted so that the best level is last: bids ascending, asks descending, so the
    # common updates near the top move few bytes and the best level is one load away
    level_t* lv
    Py_ssize_t n
    Py_ssize_t cap


cdef int parse_value(object value, int decimals, int64_t* out) except -1


cdef struct plain_t:
    uint64_t mant   # the value's digits (at most 18)
    int frac        # how many of them are after the point


cdef class FrameLevels:
    cdef plain_t* v         # price, size of each level
    cdef Py_ssize_t n       # levels
    cdef Py_ssize_t cap     # levels the buffer holds
    cdef object src         # the frame (str or bytes) they were read from
    cdef Py_ssize_t start   # their JSON array's span in its UTF-8 bytes
    cdef Py_ssize_t end


cdef Py_ssize_t read_levels(object src, const char* s, Py_ssize_t i, Py_ssize_t n,
                            FrameLevels out) except -2


cdef class Book:
    cdef readonly int price_decimals
    cdef readonly int size_decimals
    cdef readonly Py_ssize_t max_depth
    cdef side_t _bids
    cdef side_t _asks
    cdef level_t* _scratch      # parsed levels of one apply call (bids then asks)
    cdef Py_ssize_t _scratch_cap

    cdef int _parse_into(self, object levels, Py_ssize_t at) except -1
    cdef int _scale_levels(self, FrameLevels levels, Py_ssize_t at) except -1
    cdef int _room(self, Py_ssize_t need) except -1
    cdef int _scan_json(self, const char* s, Py_ssize_t n, Py_ssize_t at) except -1
    cdef int _set(self, bint is_bid, int64_t price, int64_t size) except -1
    cdef void _truncate(self, Py_ssize_t depth) noexcept
    cdef bint _crossed(self) noexcept
    cpdef apply_deltas(self, object bids, object asks)
    cpdef apply_snapshot(self, object bids, object asks)
    cpdef object best_bid(self)
    cpdef object best_ask(self)

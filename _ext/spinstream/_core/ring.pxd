# cython: language_level=3
"""Fixed-capacity tick ring buffer: compiled declarations (twin: spinstream/_core/_py/ring.py)."""

from libc.stdint cimport int64_t


cdef struct tick_t:
    # the TICK_DTYPE record: 4 little-endian int64 (32 bytes)
    int64_t ts
    int64_t price
    int64_t size
    int64_t flags


cdef class TickRing:
    cdef readonly int64_t capacity
    cdef int64_t _count     # records published; atomic (stored by the writer, loaded by readers)
    cdef int64_t _claimed   # records the writer has started; atomic, set before writing them
    cdef int64_t _head      # slot of the next record (`_count % capacity`); writer only
    cdef object _buf        # the TICK_DTYPE storage array: keeps `_data` alive
    cdef tick_t* _data

    cpdef append(self, object ts, object price, object size, object flags=*)
    cpdef append_batch(self, object ts, object price, object size, object flags=*)
    cpdef object last(self, object n)
    cpdef _check(self)

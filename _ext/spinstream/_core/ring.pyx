# cython: language_level=3, binding=False
"""A fixed-capacity tick ring buffer (compiled; twin: spinstream/_core/_py/ring.py).

Same names, semantics and errors as the twin. Records live in a TICK_DTYPE numpy array written
through a C pointer; the counters that let readers run beside the writer are stored and loaded
with GCC/Clang atomic builtins, so their order against the records holds on weakly ordered CPUs
(aarch64) as well as on x86.
"""

import operator
import sys

import numpy as np

cimport numpy as cnp
from cpython.long cimport PyLong_CheckExact
from cpython.number cimport PyNumber_Index
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from spinstream.errors import InvariantError

cnp.import_array()

__all__ = ["TICK_DTYPE", "TickRing"]

TICK_DTYPE = np.dtype([("ts", "<i8"), ("price", "<i8"), ("size", "<i8"), ("flags", "<i8")])

if sys.byteorder != "little" or TICK_DTYPE.itemsize != sizeof(tick_t):  # records are tick_t
    raise ImportError("spinstream._core.ring needs a little-endian host")

cdef enum:
    _RETRIES = 8  # re-copies in `last` before the overwritten prefix is dropped instead

cdef extern from *:
    """
    /* Seqlock primitives. The release fence after the `claimed` store keeps it ahead of the
       record stores (smp_wmb); the acquire fence keeps a reader's record loads ahead of its
       `claimed` load (smp_rmb); `count` is published with release and read with acquire. */
    static inline void spin_store_relaxed(int64_t *p, int64_t v) {
        __atomic_store_n(p, v, __ATOMIC_RELAXED);
    }
    static inline void spin_store_release(int64_t *p, int64_t v) {
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
    }
    static inline int64_t spin_load_relaxed(const int64_t *p) {
        return __atomic_load_n(p, __ATOMIC_RELAXED);
    }
    static inline int64_t spin_load_acquire(const int64_t *p) {
        return __atomic_load_n(p, __ATOMIC_ACQUIRE);
    }
    static inline void spin_fence_release(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }
    static inline void spin_fence_acquire(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
    """
    void spin_store_relaxed(int64_t* p, int64_t v) nogil
    void spin_store_release(int64_t* p, int64_t v) nogil
    int64_t spin_load_relaxed(const int64_t* p) nogil
    int64_t spin_load_acquire(const int64_t* p) nogil
    void spin_fence_release() nogil
    void spin_fence_acquire() nogil


cdef inline int64_t _i64(object x) except? -1:
    """X as int64, accepting what `operator.index` accepts (not floats); OverflowError past int64.

    Cython's own argument conversion would truncate a float, which the twin refuses.
    """
    if PyLong_CheckExact(x):
        return x
    return PyNumber_Index(x)


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


cdef class TickRing:
    """The newest `capacity` ticks in a TICK_DTYPE numpy array; one writer, many readers.

    Rule: only one thread may append (`append`, `append_batch`); any number of threads may call
    `last`, `len` and `count` meanwhile. Record `i` (0-based, of `count` ever appended) lives in
    slot `i % capacity`. The writer first stores `_claimed = i + 1` (a batch claims all its
    records at once), then writes the record, then publishes `count = i + 1`. A reader (`last`)
    loads `count`, copies the newest records below it, then loads `_claimed`: any copied record
    `j` with `j < _claimed - capacity` shares a slot with a record the writer wrote, or was
    writing, during the copy, so it may be torn. `last` then copies again from the new `count`
    (up to a few times) and finally drops that stale prefix instead: a reader never returns a
    torn record, and only returns fewer than asked when a writer laps it.

    With the GIL the writer's and readers' calls mostly run one at a time, but not always: the
    output allocation in `last` can run a garbage collection, whose finalizers can switch
    threads between the `count` load and the copy. Without a GIL (free-threaded builds) they
    overlap freely. The atomics order the counters against the records in both cases.
    """

    def __cinit__(self, capacity):
        # __cinit__, not __init__: no instance exists without storage; the counters start zeroed
        capacity = operator.index(capacity)
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, not {capacity}")
        cdef cnp.ndarray buf = np.zeros(capacity, TICK_DTYPE)
        self.capacity = capacity
        self._buf = buf
        self._data = <tick_t*>cnp.PyArray_DATA(buf)

    @property
    def count(self):
        """Records ever appended."""
        return spin_load_acquire(&self._count)

    def __len__(self):
        return min(spin_load_acquire(&self._count), self.capacity)

    cpdef append(self, object ts, object price, object size, object flags=0):
        """Append one tick, overwriting the oldest when full."""
        cdef tick_t t = tick_t(_i64(ts), _i64(price), _i64(size), _i64(flags))
        cdef int64_t c = self._count  # only this (the writer's) thread stores it
        cdef tick_t* rec = &self._data[self._head]
        spin_store_relaxed(&self._claimed, c + 1)
        spin_fence_release()
        rec[0] = t
        self._head = self._head + 1 if self._head + 1 < self.capacity else 0
        spin_store_release(&self._count, c + 1)

    cpdef append_batch(self, object ts, object price, object size, object flags=None):
        """Append ticks from equal-length int64 arrays, as `append` on each in order."""
        cols = [_as_i64_array(ts, "ts"), _as_i64_array(price, "price"), _as_i64_array(size, "size")]
        m = len(cols[0])
        cols.append(np.zeros(m, np.int64) if flags is None else _as_i64_array(flags, "flags"))
        if not len(cols[1]) == len(cols[2]) == len(cols[3]) == m:
            raise ValueError("ts, price, size and flags must have equal lengths")
        if m == 0:
            return
        cdef const int64_t[::1] tv = cols[0]
        cdef const int64_t[::1] pv = cols[1]
        cdef const int64_t[::1] sv = cols[2]
        cdef const int64_t[::1] fv = cols[3]
        cdef int64_t cap = self.capacity, c = self._count, n = m
        cdef int64_t w = n if n < cap else cap  # only the newest `cap` records of the batch survive
        cdef int64_t src = n - w, slot = (c + src) % cap, j
        cdef tick_t* rec
        spin_store_relaxed(&self._claimed, c + n)
        spin_fence_release()
        for j in range(src, n):
            rec = &self._data[slot]
            rec.ts = tv[j]
            rec.price = pv[j]
            rec.size = sv[j]
            rec.flags = fv[j]
            slot = slot + 1 if slot + 1 < cap else 0
        self._head = slot
        spin_store_release(&self._count, c + n)

    cpdef object last(self, object n):
        """A copy of the newest min(n, len) records, oldest first (TICK_DTYPE)."""
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"n must be >= 0, not {n}")
        cdef int64_t cap = self.capacity
        cdef int64_t want = cap if n > cap else n
        cdef int64_t c0, k, lo, slot, n1, stale
        cdef int attempt
        cdef cnp.ndarray out
        cdef tick_t* dst
        for attempt in range(_RETRIES):
            c0 = spin_load_acquire(&self._count)
            k = want if want < c0 else c0
            lo = c0 - k
            out = np.empty(k, TICK_DTYPE)
            dst = <tick_t*>cnp.PyArray_DATA(out)
            slot = lo % cap
            n1 = k if k <= cap - slot else cap - slot
            memcpy(dst, &self._data[slot], n1 * sizeof(tick_t))
            memcpy(dst + n1, self._data, (k - n1) * sizeof(tick_t))
            spin_fence_acquire()
            stale = spin_load_relaxed(&self._claimed) - cap - lo  # copied, maybe overwritten
            if stale <= 0:
                return out
        return out[stale:].copy() if stale < k else np.empty(0, TICK_DTYPE)

    cpdef _check(self):
        """Raise InvariantError unless the counters and storage are consistent (writer idle)."""
        if self.capacity < 1 or self._count < 0:
            raise InvariantError("bad capacity or count")
        if self._claimed != self._count:
            raise InvariantError(f"claimed {self._claimed} != count {self._count} (writer idle)")
        if self._head != self._count % self.capacity:
            raise InvariantError(f"head slot {self._head} != count % capacity")
        buf = self._buf
        if (
            not isinstance(buf, np.ndarray)
            or buf.dtype != TICK_DTYPE
            or buf.shape != (self.capacity,)
            or not buf.flags.c_contiguous
        ):
            raise InvariantError("storage is not a TICK_DTYPE array of capacity records")
        if cnp.PyArray_DATA(<cnp.ndarray>buf) != <void*>self._data:
            raise InvariantError("record pointer does not point into the storage array")

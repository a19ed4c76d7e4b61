# cython: language_level=3
"""An exact L2 order book (compiled; twin: spinstream/_core/_py/book.py, API: docs/core-api.md).

Prices and sizes are int64 fixed-point at the book's decimals, parsed in C straight from the
UTF-8 buffer of the venue's decimal strings (never through float). Each side is one sorted C
array with the best level last, so best-price reads are a load and near-top updates move few
bytes. A batch is parsed whole before any level is applied, which makes it atomic.

Levels come as sequences of [price, size, ...] or, on the per-frame path, as the frame's own
JSON array bytes (`bytes`, `memoryview`, `msgspec.Raw`): those are scanned here without a
Python string per value (`_scan_json`; the twin's `_scan_json` is its line-by-line port), or
as `FrameLevels` the picker (`_core.scan`) read from a frame while walking it, which are only
scaled to the book's decimals here.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsLongLong
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t, uint64_t
from libc.string cimport memcpy, memmove

import zlib

cimport cython

import numpy as np

cimport numpy as cnp

from msgspec import Raw

from spinstream.errors import InvariantError, ParseError

cnp.import_array()

__all__ = ["Book", "FrameLevels", "format_fixed", "parse_fixed"]

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object u, Py_ssize_t* size) except NULL
    bint PyUnicode_CheckExact(object o)
    bint PyList_CheckExact(object o)
    bint PyTuple_CheckExact(object o)
    bint PyLong_CheckExact(object o)

cdef enum:
    MAX_DECIMALS = 18
    OKX_DEPTH = 25
    KRAKEN_DEPTH = 10
    EXP_CLAMP = 1000000

cdef uint64_t[20] POW10
POW10[0] = 1
for _i in range(1, 20):
    POW10[_i] = POW10[_i - 1] * 10

cdef uint64_t I64_MAX_U = <uint64_t>INT64_MAX
cdef unsigned char STR_STOP[256]   # what ends a run of plain string bytes: quote, \, control
for _i in range(256):
    STR_STOP[_i] = _i == 34 or _i == 92 or _i < 32
cdef uint64_t[19] LIMIT      # the largest mantissa that times 10**k still fits int64
for _i in range(19):
    LIMIT[_i] = I64_MAX_U // POW10[_i]
cdef const char* DIGIT_PAIRS = (
    b"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    b"4041424344454647484950515253545556575859606162636465666768697071727374757677787980"
    b"81828384858687888990919293949596979899"
)
_crc32 = zlib.crc32


cdef int _check_decimals(object decimals) except -1:
    d = decimals.__index__()
    if not 0 <= d <= MAX_DECIMALS:
        raise ValueError(f"decimals must be in 0..{MAX_DECIMALS}, not {d}")
    return d


cdef int _fail(const char* s, Py_ssize_t n, str why) except -1:
    text = s[:n].decode("utf-8", "replace")
    raise ParseError(f"{why}: {text!r}")


cdef int parse_ascii(const char* s, Py_ssize_t n, int dec, int64_t* out) except -1:
    """Decimal text s[:n] to fixed-point at DEC decimals (the twin's `_parse_text` grammar)."""
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef bint any_digit = False
    cdef uint64_t mant = 0       # significant digits seen, without deferred trailing zeros
    cdef int nsig = 0            # digits in mant (from its first non-zero digit)
    cdef int64_t zeros = 0       # zeros after mant's last non-zero digit, not yet multiplied in
    cdef int64_t frac = 0        # digits after the point
    cdef int64_t exp = 0
    cdef int64_t shift
    cdef int esign = 1
    cdef Py_ssize_t estart
    cdef char c
    cdef bint in_frac = False
    if n > 0 and (s[0] == c'-' or s[0] == c'+'):
        neg = s[0] == c'-'
        i = 1
    while i < n:
        c = s[i]
        if c'0' <= c <= c'9':
            any_digit = True
            if in_frac:
                frac += 1
            if c == c'0':
                if nsig:
                    zeros += 1
            else:
                if nsig + zeros + 1 > 19:
                    return _fail(s, n, "too many significant digits for int64")
                mant = mant * POW10[zeros + 1] + <uint64_t>(c - c'0')
                nsig += <int>zeros + 1
                zeros = 0
        elif c == c'.' and not in_frac:
            in_frac = True
        else:
            break
        i += 1
    if not any_digit:
        return _fail(s, n, "not a decimal number")
    if i < n and (s[i] == c'e' or s[i] == c'E'):
        i += 1
        if i < n and (s[i] == c'+' or s[i] == c'-'):
            if s[i] == c'-':
                esign = -1
            i += 1
        estart = i
        while i < n and c'0' <= s[i] <= c'9':
            if exp < EXP_CLAMP:
                exp = exp * 10 + (s[i] - c'0')
            i += 1
        if i == estart:
            return _fail(s, n, "bad exponent")
        if exp > EXP_CLAMP:
            exp = EXP_CLAMP
        exp *= esign
    if i != n:
        return _fail(s, n, "not a decimal number")
    if nsig == 0:
        out[0] = 0
        return 0
    shift = exp - frac + dec + zeros     # value = mant * 10**shift
    if shift < 0:
        return _fail(s, n, f"more than {dec} decimals")
    if nsig + shift > 19:
        return _fail(s, n, f"overflows int64 at {dec} decimals")
    mant *= POW10[shift]
    if neg:
        if mant > I64_MAX_U + 1:
            return _fail(s, n, f"overflows int64 at {dec} decimals")
        out[0] = <int64_t>(0 - mant)
    else:
        if mant > I64_MAX_U:
            return _fail(s, n, f"overflows int64 at {dec} decimals")
        out[0] = <int64_t>mant
    return 0


cdef inline Py_ssize_t _read_plain(const char* s, Py_ssize_t i, Py_ssize_t n, uint64_t* mant,
                                    int* frac) noexcept:
    """The common case of a level value: 1 to 18 digits with at most one point ("30243.5"),
    closed by a quote at the returned index, read as MANT and the FRAC digits after the point
    (so MANT cannot overflow); -1 for anything else."""
    cdef uint64_t m = 0, d
    cdef Py_ssize_t start = i, fstart
    cdef Py_ssize_t ndigits
    cdef int f = 0
    while i < n:                    # the integer part
        d = <uint64_t>(<unsigned char>s[i]) - 48
        if d >= 10:
            break
        m = m * 10 + d
        i += 1
    ndigits = i - start
    if i < n and s[i] == 46:        # . and the fraction
        i += 1
        fstart = i
        while i < n:
            d = <uint64_t>(<unsigned char>s[i]) - 48
            if d >= 10:
                break
            m = m * 10 + d
            i += 1
        f = <int>(i - fstart)
        ndigits += f
    if ndigits == 0 or ndigits > 18 or i >= n or s[i] != 34:
        return -1
    mant[0] = m
    frac[0] = f
    return i


cdef inline int _scale_plain(uint64_t mant, int frac, int dec, int64_t* out) noexcept:
    """MANT / 10**FRAC at DEC decimals: 0, or -1 (a non-zero digit beyond DEC), -2 (int64
    overflow)."""
    while frac > dec and mant and mant % 10 == 0:  # "1.50" at 1 decimal: trailing zeros
        mant //= 10
        frac -= 1
    if not mant:
        out[0] = 0
        return 0
    if frac > dec:
        return -1
    if mant > LIMIT[dec - frac]:
        return -2
    out[0] = <int64_t>(mant * POW10[dec - frac])
    return 0


cdef inline Py_ssize_t _parse_plain(const char* s, Py_ssize_t i, Py_ssize_t n, int dec,
                                     int64_t* out) noexcept:
    """`_read_plain` and `_scale_plain` at DEC: the quote's index, or -1 for anything else
    (sign, exponent, more than 18 digits, too many decimals...), which `parse_ascii` then
    takes (and rejects)."""
    cdef uint64_t mant
    cdef int frac
    i = _read_plain(s, i, n, &mant, &frac)
    if i < 0 or _scale_plain(mant, frac, dec, out):
        return -1
    return i


cdef inline Py_ssize_t _skip_more(const char* s, Py_ssize_t i, Py_ssize_t n) noexcept:
    """Past a level's further items from S[I] (`,"..."` plain strings, as OKX's 4-item levels
    have): the index of what follows them (the level's `]` if well formed), or -1."""
    while i < n and s[i] == 44:
        i += 1
        if i >= n or s[i] != 34:
            return -1
        i += 1
        while i < n and not STR_STOP[<unsigned char>s[i]]:
            i += 1
        if i >= n or s[i] != 34:
            return -1
        i += 1
    return i


cdef inline Py_ssize_t _compact_level(const char* s, Py_ssize_t i, Py_ssize_t n, int pd,
                                      int sd, int64_t* price, int64_t* size) noexcept:
    """A level as venues write it, `"price","size"` then more plain strings and `]`, from
    S[I] (just after its `[`): the index past its `]`, or -1 for anything else (whitespace,
    numbers, escapes...), which the item-by-item reading then takes, with the same result."""
    i = _parse_plain(s, i + 1, n, pd, price) if i < n and s[i] == 34 else -1
    if i < 0 or i + 2 >= n or s[i + 1] != 44 or s[i + 2] != 34:
        return -1
    i = _parse_plain(s, i + 3, n, sd, size)
    if i < 0:
        return -1
    i = _skip_more(s, i + 1, n)
    return i + 1 if 0 <= i < n and s[i] == 93 else -1


cdef int parse_value(object value, int decimals, int64_t* out) except -1:
    """A str, int or float (by its repr) to fixed-point at DECIMALS; ParseError otherwise."""
    cdef Py_ssize_t n
    cdef const char* s
    cdef int64_t v
    if PyUnicode_CheckExact(value) or isinstance(value, str):
        s = PyUnicode_AsUTF8AndSize(value, &n)
        return parse_ascii(s, n, decimals, out)
    if PyLong_CheckExact(value) or (isinstance(value, int) and not isinstance(value, bool)):
        if -(2 ** 63) <= value <= 2 ** 63 - 1:
            v = PyLong_AsLongLong(value)
            if v == 0 or (v > 0 and v <= INT64_MAX // <int64_t>POW10[decimals]) or (
                v < 0 and v >= INT64_MIN // <int64_t>POW10[decimals]
            ):
                out[0] = v * <int64_t>POW10[decimals]
                return 0
        raise ParseError(f"{value!r} overflows int64 at {decimals} decimals")
    if isinstance(value, float):
        text = repr(value)
        s = PyUnicode_AsUTF8AndSize(text, &n)
        return parse_ascii(s, n, decimals, out)
    raise ParseError(f"not a decimal number: {value!r} ({type(value).__name__})")


def parse_fixed(text, decimals):
    """Decimal text (or an int, or a float by its repr) to fixed-point int64 at DECIMALS.

    Raises ValueError on garbage, an inexact value (a non-zero digit beyond DECIMALS) or int64
    overflow.
    """
    cdef int d = _check_decimals(decimals)
    cdef int64_t out
    if isinstance(text, bool):
        raise ParseError(f"not a decimal number: {text!r}")
    parse_value(text, d, &out)
    return out


cdef Py_ssize_t _fmt(char* buf, int64_t value, int dec, bint trim) noexcept:
    """Write VALUE at DEC decimals into BUF (>= 22 bytes); returns the length."""
    cdef char tmp[24]
    cdef Py_ssize_t k = 0, n = 0, i, digits
    cdef uint64_t u
    cdef bint neg = value < 0
    u = (0 - <uint64_t>value) if neg else <uint64_t>value
    cdef uint64_t r
    while u >= 100:                 # two digits a division (the checksums format 100 values)
        r = (u % 100) * 2
        u //= 100
        tmp[k] = DIGIT_PAIRS[r + 1]
        tmp[k + 1] = DIGIT_PAIRS[r]
        k += 2
    if u >= 10:
        tmp[k] = DIGIT_PAIRS[u * 2 + 1]
        tmp[k + 1] = DIGIT_PAIRS[u * 2]
        k += 2
    else:
        tmp[k] = <char>(c'0' + u)
        k += 1
    while k <= dec:                 # at least dec + 1 digits: "0.001" has a leading zero
        tmp[k] = c'0'
        k += 1
    digits = k                      # tmp holds the digits reversed
    cdef Py_ssize_t lo = 0          # reversed index of the lowest digit kept
    if trim:
        while lo < dec and tmp[lo] == c'0':
            lo += 1
    if neg:
        buf[n] = c'-'
        n += 1
    for i in range(digits - 1, dec - 1, -1):
        buf[n] = tmp[i]
        n += 1
    if lo < dec:
        buf[n] = c'.'
        n += 1
        for i in range(dec - 1, lo - 1, -1):
            buf[n] = tmp[i]
            n += 1
    return n


def format_fixed(value, decimals, trim=True):
    """Fixed-point VALUE at DECIMALS as decimal text: minimal form, or exactly DECIMALS places."""
    cdef int d = _check_decimals(decimals)
    cdef int64_t v = value.__index__()
    cdef char buf[48]
    cdef Py_ssize_t n = _fmt(buf, v, d, bool(trim))
    return buf[:n].decode("ascii")


cdef Py_ssize_t _count(object n) except -1:
    cdef Py_ssize_t k = n.__index__()
    if k < 0:
        raise ValueError(f"count must be >= 0, not {k}")
    return k


cdef int _reserve(side_t* s, Py_ssize_t need) except -1:
    cdef Py_ssize_t cap
    cdef level_t* p
    if need <= s.cap:
        return 0
    cap = s.cap * 2 if s.cap else 64
    while cap < need:
        cap *= 2
    p = <level_t*>PyMem_Realloc(s.lv, cap * sizeof(level_t))
    if p == NULL:
        raise MemoryError()
    s.lv = p
    s.cap = cap
    return 0


cdef inline Py_ssize_t _search(const side_t* s, int64_t price, bint desc) noexcept nogil:
    """Index of the first level not worse than PRICE (bids ascend, asks descend)."""
    cdef Py_ssize_t lo = 0, hi = s.n, mid
    cdef const level_t* lv = s.lv
    # most updates touch the top: check the best end before the binary search
    if hi and (lv[hi - 1].price < price if not desc else lv[hi - 1].price > price):
        return hi
    while lo < hi:
        mid = (lo + hi) >> 1
        if (lv[mid].price < price) if not desc else (lv[mid].price > price):
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef int _side_fill(side_t* s, const level_t* src, Py_ssize_t k, bint desc) except -1:
    """Fill the empty side S from K levels given best first, strictly ordered (as snapshots
    come): one pass, no insertion moves. Returns 0 (nothing done) when not so ordered."""
    cdef Py_ssize_t j, m = 0, at
    for j in range(k):
        if j and ((src[j].price >= src[j - 1].price) if not desc else (
            src[j].price <= src[j - 1].price
        )):
            return 0
        if src[j].size:
            m += 1
    _reserve(s, m)
    at = m - 1
    for j in range(k):
        if src[j].size:
            s.lv[at] = src[j]
            at -= 1
    s.n = m
    return 1


cdef int _side_set(side_t* s, int64_t price, int64_t size, bint desc) except -1:
    cdef Py_ssize_t i = _search(s, price, desc)
    if i < s.n and s.lv[i].price == price:
        if size:
            s.lv[i].size = size
        else:
            memmove(&s.lv[i], &s.lv[i + 1], (s.n - i - 1) * sizeof(level_t))
            s.n -= 1
    elif size:
        if s.n == s.cap:
            _reserve(s, s.n + 1)
        if i < s.n:
            memmove(&s.lv[i + 1], &s.lv[i], (s.n - i) * sizeof(level_t))
        s.lv[i].price = price
        s.lv[i].size = size
        s.n += 1
    return 0


cdef object _levels_array(const side_t* s, Py_ssize_t n):
    """The best N levels of a side as an int64 (k, 2) array, best first."""
    cdef Py_ssize_t k = min(n, s.n), i
    cdef cnp.ndarray out = np.empty((k, 2), np.int64)
    cdef int64_t* p = <int64_t*>cnp.PyArray_DATA(out)
    for i in range(k):
        p[2 * i] = s.lv[s.n - 1 - i].price
        p[2 * i + 1] = s.lv[s.n - 1 - i].size
    return out


@cython.boundscheck(True)
@cython.wraparound(True)
cdef tuple _generic_level(object level):
    """Items 0 and 1 of any level sequence (checked indexing: short lists must not be read past)."""
    if isinstance(level, (str, bytes)):
        raise ParseError(f"bad level {level!r}: want [price, size, ...]")
    try:
        return level[0], level[1]
    except (TypeError, IndexError, KeyError):
        raise ParseError(f"bad level {level!r}: want [price, size, ...]") from None


@cython.freelist(16)
cdef class FrameLevels:
    """A side's levels as a frame wrote them, read by the picker (`_core.scan`) while it walks
    the frame, before any book's decimals are known: each price and size kept as its digits and
    the count of them after the point. A book takes them (`apply_deltas`, `apply_snapshot`) by
    scaling each to its decimals, without reading the frame again. `raw` is their JSON text."""

    def __cinit__(self):
        self.v = NULL
        self.n = 0
        self.cap = 0

    def __dealloc__(self):
        PyMem_Free(self.v)

    def __len__(self):
        return self.n

    @property
    def raw(self):
        """The levels' JSON array, as it was in the frame."""
        cdef const char* s
        cdef Py_ssize_t n
        if isinstance(self.src, str):
            s = PyUnicode_AsUTF8AndSize(self.src, &n)
        else:
            s = <const char*>PyBytes_AS_STRING(self.src)
        return PyBytes_FromStringAndSize(s + self.start, self.end - self.start)

    def __repr__(self):
        return f"<FrameLevels {self.n} {self.raw[:60]!r}>"


cdef Py_ssize_t read_levels(object src, const char* s, Py_ssize_t i, Py_ssize_t n,
                            FrameLevels out) except -2:
    """Read the array of levels at S[I] into OUT when it is in the compact form venues write,
    `[["price","size"(,"more")*](,...)*]` with plain decimals (`_read_plain`) and no
    whitespace: the index past it, or -1 (the caller then takes its general reading)."""
    cdef Py_ssize_t start = i, k = 0
    cdef uint64_t pm, sm
    cdef int pf, sf
    cdef plain_t* v
    if i >= n or s[i] != 91:
        return -1
    i += 1
    if i < n and s[i] == 93:
        out.n = 0
    else:
        while True:
            if i + 1 >= n or s[i] != 91 or s[i + 1] != 34:
                return -1
            i = _read_plain(s, i + 2, n, &pm, &pf)
            if i < 0 or i + 2 >= n or s[i + 1] != 44 or s[i + 2] != 34:
                return -1
            i = _read_plain(s, i + 3, n, &sm, &sf)
            if i < 0:
                return -1
            i = _skip_more(s, i + 1, n)
            if i < 0 or i >= n or s[i] != 93:
                return -1
            i += 1
            if k == out.cap:                   # room for 2 * cap + 32 levels, 2 values each
                v = <plain_t*>PyMem_Realloc(out.v, 2 * (2 * out.cap + 32) * sizeof(plain_t))
                if v == NULL:
                    raise MemoryError()
                out.v = v
                out.cap = 2 * out.cap + 32
            out.v[2 * k].mant = pm
            out.v[2 * k].frac = pf
            out.v[2 * k + 1].mant = sm
            out.v[2 * k + 1].frac = sf
            k += 1
            if i < n and s[i] == 44:
                i += 1
                continue
            if i < n and s[i] == 93:
                break
            return -1
        out.n = k
    out.src = src
    out.start = start
    out.end = i + 1
    return i + 1


cdef str _plain_text(uint64_t mant, int frac):
    """MANT / 10**FRAC as the text it came from (for messages)."""
    t = str(mant).rjust(frac + 1, "0")
    return f"{t[:len(t) - frac]}.{t[len(t) - frac:]}" if frac else t


cdef class Book:
    """An L2 book with exact int64 fixed-point prices and sizes (see docs/core-api.md)."""

    def __cinit__(self):
        self._bids.lv = NULL
        self._bids.n = self._bids.cap = 0
        self._asks.lv = NULL
        self._asks.n = self._asks.cap = 0
        self._scratch = NULL
        self._scratch_cap = 0

    def __init__(self, price_decimals, size_decimals, max_depth=0):
        self.price_decimals = _check_decimals(price_decimals)
        self.size_decimals = _check_decimals(size_decimals)
        md = max_depth.__index__()
        if md < 0:
            raise ValueError(f"max_depth must be >= 0, not {md}")
        self.max_depth = md

    def __dealloc__(self):
        PyMem_Free(self._bids.lv)
        PyMem_Free(self._asks.lv)
        PyMem_Free(self._scratch)

    @property
    def bid_count(self):
        return self._bids.n

    @property
    def ask_count(self):
        return self._asks.n

    def clear(self):
        """Remove every level."""
        self._bids.n = 0
        self._asks.n = 0

    cdef int _room(self, Py_ssize_t need) except -1:
        """Grow the scratch buffer to hold at least NEED levels."""
        cdef level_t* lv
        if need > self._scratch_cap:
            lv = <level_t*>PyMem_Realloc(self._scratch, (need + 64) * sizeof(level_t))
            if lv == NULL:
                raise MemoryError()
            self._scratch = lv
            self._scratch_cap = need + 64
        return 0

    cdef int _scan_json(self, const char* s, Py_ssize_t n, Py_ssize_t at) except -1:
        """Parse a JSON array of [price, size, ...] levels (JSON strings without escapes, or
        numbers) into the scratch buffer from AT; returns the count. Price > 0, size >= 0."""
        cdef Py_ssize_t i = 0, k = 0, items, start = 0, end = 0
        cdef int pd = self.price_decimals, sd = self.size_decimals
        cdef int64_t price = 0, size = 0
        cdef char c
        while i < n and (s[i] == 32 or s[i] == 9 or s[i] == 10 or s[i] == 13):
            i += 1
        if i >= n or s[i] != 91:  # [
            _fail(s, n if n < 160 else 160, "want a JSON array of levels")
        i += 1
        while i < n and (s[i] == 32 or s[i] == 9 or s[i] == 10 or s[i] == 13):
            i += 1
        if i < n and s[i] == 93:  # ] : no levels
            i += 1
        else:
            while True:  # one level per turn
                if i >= n or s[i] != 91:
                    _fail(s, n if n < 160 else 160, "want a level [price, size, ...]")
                i += 1
                items = 0
                end = _compact_level(s, i, n, pd, sd, &price, &size)
                if end >= 0:  # the compact form venues write, read in one straight pass
                    i = end
                    items = 2
                else:
                    while True:  # one item per turn
                        while i < n and (s[i] == 32 or s[i] == 9 or s[i] == 10 or s[i] == 13):
                            i += 1
                        if i >= n:
                            _fail(s, n if n < 160 else 160, "truncated level")
                        c = s[i]
                        if c == 34 and items < 2:  # " : a price or a size, most often plain
                            end = _parse_plain(s, i + 1, n, pd if items == 0 else sd,
                                               &price if items == 0 else &size)
                            if end >= 0:
                                i = end + 1
                                items += 1
                                while i < n and (s[i] == 32 or s[i] == 9 or s[i] == 10 or s[i] == 13):
                                    i += 1
                                if i < n and s[i] == 44:  # ,
                                    i += 1
                                    continue
                                if i < n and s[i] == 93:  # ]
                                    i += 1
                                    break
                                _fail(s, n if n < 160 else 160, "want , or ] in a level")
                        if c == 34:  # "
                            start = i + 1
                            end = start
                            while end < n and s[end] != 34:
                                if s[end] == 92 or <unsigned char>s[end] < 32:  # \ or a control
                                    _fail(s, n if n < 160 else 160, "escaped or control character in a level")
                                end += 1
                            if end >= n:
                                _fail(s, n if n < 160 else 160, "unterminated string in a level")
                            i = end + 1
                        elif c == 45 or (48 <= c <= 57):  # - or a digit: a JSON number
                            start = i
                            end = i
                            while end < n and (
                                (48 <= s[end] <= 57) or s[end] == 46 or s[end] == 45
                                or s[end] == 43 or s[end] == 101 or s[end] == 69
                            ):
                                end += 1
                            i = end
                        else:
                            _fail(s, n if n < 160 else 160, "a level item must be a string or a number")
                        if items == 0:
                            parse_ascii(s + start, end - start, pd, &price)
                        elif items == 1:
                            parse_ascii(s + start, end - start, sd, &size)
                        items += 1
                        while i < n and (s[i] == 32 or s[i] == 9 or s[i] == 10 or s[i] == 13):
                            i += 1
                        if i < n and s[i] == 44:  # ,
                            i += 1
                            continue
                        if i < n and s[i] == 93:  # ]
                            i += 1
                            break
                        _fail(s, n if n < 160 else 160, "want , or ] in a level")
                if items < 2:
                    _fail(s, n if n < 160 else 160, "a level needs [price, size, ...]")
                if price <= 0:
                    _fail(s, n if n < 160 else 160, "a level price must be > 0")
                if size < 0:
                    _fail(s, n if n < 160 else 160, "negative size in a level")
                if at + k >= self._scratch_cap:
                    self._room(at + k + 1)
                self._scratch[at + k].price = price
                self._scratch[at + k].size = size
                k += 1
                while i < n and (s[i] == 32 or s[i] == 9 or s[i] == 10 or s[i] == 13):
                    i += 1
                if i < n and s[i] == 44:
                    i += 1
                    while i < n and (s[i] == 32 or s[i] == 9 or s[i] == 10 or s[i] == 13):
                        i += 1
                    continue
                if i < n and s[i] == 93:
                    i += 1
                    break
                _fail(s, n if n < 160 else 160, "want , or ] between levels")
        while i < n and (s[i] == 32 or s[i] == 9 or s[i] == 10 or s[i] == 13):
            i += 1
        if i != n:
            _fail(s, n if n < 160 else 160, "text after the levels array")
        return k

    cdef int _scale_levels(self, FrameLevels levels, Py_ssize_t at) except -1:
        """LEVELS at this book's decimals into the scratch buffer from AT; the count."""
        cdef Py_ssize_t k, n = levels.n, w
        cdef int pd = self.price_decimals, sd = self.size_decimals, r, d
        cdef plain_t* v = levels.v
        cdef level_t* lv
        if at + n > self._scratch_cap:
            self._room(at + n)
        lv = self._scratch + at
        for k in range(n):
            r = _scale_plain(v[2 * k].mant, v[2 * k].frac, pd, &lv[k].price)
            if r == 0 and lv[k].price == 0:
                raise ParseError(
                    f"a level price must be > 0: {_plain_text(v[2 * k].mant, v[2 * k].frac)!r}"
                )
            if r == 0:
                r = _scale_plain(v[2 * k + 1].mant, v[2 * k + 1].frac, sd, &lv[k].size)
                if r == 0:
                    continue
                w, d = 2 * k + 1, sd
            else:
                w, d = 2 * k, pd
            text = _plain_text(v[w].mant, v[w].frac)
            if r == -1:
                raise ParseError(f"more than {d} decimals: {text!r}")
            raise ParseError(f"overflows int64 at {d} decimals: {text!r}")
        return n

    cdef int _parse_into(self, object levels, Py_ssize_t at) except -1:
        """Parse LEVELS into the scratch buffer from index AT; returns the count parsed."""
        cdef Py_ssize_t n, i
        cdef object seq, level, p, q
        cdef level_t* lv
        cdef int pd = self.price_decimals, sd = self.size_decimals
        cdef Py_buffer view
        if type(levels) is FrameLevels:
            return self._scale_levels(<FrameLevels>levels, at)
        if type(levels) is Raw or isinstance(levels, (bytes, bytearray, memoryview)):
            PyObject_GetBuffer(levels, &view, PyBUF_SIMPLE)
            try:
                return self._scan_json(<const char*>view.buf, view.len, at)
            finally:
                PyBuffer_Release(&view)
        if hasattr(levels, "raw"):  # the twin's FrameLevels: its JSON text
            return self._parse_into(levels.raw, at)
        seq = levels if (PyList_CheckExact(levels) or PyTuple_CheckExact(levels)) else list(levels)
        n = len(seq)
        self._room(at + n)
        lv = self._scratch + at
        for i in range(n):
            if PyList_CheckExact(seq):
                level = <object>PyList_GET_ITEM(seq, i)
            else:
                level = <object>PyTuple_GET_ITEM(seq, i)
            if PyList_CheckExact(level) and PyList_GET_SIZE(level) >= 2:
                p = <object>PyList_GET_ITEM(level, 0)
                q = <object>PyList_GET_ITEM(level, 1)
            elif PyTuple_CheckExact(level) and PyTuple_GET_SIZE(level) >= 2:
                p = <object>PyTuple_GET_ITEM(level, 0)
                q = <object>PyTuple_GET_ITEM(level, 1)
            else:
                p, q = _generic_level(level)
            if isinstance(p, bool) or isinstance(q, bool):
                raise ParseError(f"bad level {level!r}: want [price, size, ...]")
            parse_value(p, pd, &lv[i].price)
            parse_value(q, sd, &lv[i].size)
            if lv[i].size < 0:
                raise ParseError(f"negative size in level {level!r}")
        return n

    cpdef apply_deltas(self, object bids, object asks):
        """Apply absolute-size levels (size 0 deletes); all or nothing on ValueError."""
        cdef Py_ssize_t nb = self._parse_into(bids, 0)
        cdef Py_ssize_t na = self._parse_into(asks, nb)
        cdef Py_ssize_t i
        cdef level_t* lv = self._scratch
        for i in range(nb):
            _side_set(&self._bids, lv[i].price, lv[i].size, False)
        for i in range(nb, nb + na):
            _side_set(&self._asks, lv[i].price, lv[i].size, True)
        if self.max_depth:
            self._truncate(self.max_depth)

    cpdef apply_snapshot(self, object bids, object asks):
        """Replace the book with these levels; unchanged on ValueError."""
        cdef Py_ssize_t nb = self._parse_into(bids, 0)
        cdef Py_ssize_t na = self._parse_into(asks, nb)
        cdef Py_ssize_t i
        cdef level_t* lv = self._scratch
        self._bids.n = 0
        self._asks.n = 0
        if not _side_fill(&self._bids, lv, nb, False):  # else: any order, one level at a time
            for i in range(nb):
                _side_set(&self._bids, lv[i].price, lv[i].size, False)
        if not _side_fill(&self._asks, lv + nb, na, True):
            for i in range(nb, nb + na):
                _side_set(&self._asks, lv[i].price, lv[i].size, True)
        if self.max_depth:
            self._truncate(self.max_depth)

    cdef int _set(self, bint is_bid, int64_t price, int64_t size) except -1:
        if size < 0:
            raise ValueError(f"negative size {size}")
        if is_bid:
            _side_set(&self._bids, price, size, False)
        else:
            _side_set(&self._asks, price, size, True)
        if self.max_depth:
            self._truncate(self.max_depth)
        return 0

    def set_level(self, is_bid, price, size):
        """Set one level in ticks and lots (size 0 deletes)."""
        cdef int64_t p = price.__index__(), s = size.__index__()
        self._set(bool(is_bid), p, s)

    cpdef object best_bid(self):
        """(price_ticks, size_lots) of the best bid, or None."""
        cdef Py_ssize_t n = self._bids.n
        if not n:
            return None
        return (self._bids.lv[n - 1].price, self._bids.lv[n - 1].size)

    cpdef object best_ask(self):
        """(price_ticks, size_lots) of the best ask, or None."""
        cdef Py_ssize_t n = self._asks.n
        if not n:
            return None
        return (self._asks.lv[n - 1].price, self._asks.lv[n - 1].size)

    def bids(self, n):
        """The best N bids as int64 (k, 2) [price, size], best first."""
        return _levels_array(&self._bids, _count(n))

    def asks(self, n):
        """The best N asks as int64 (k, 2) [price, size], best first."""
        return _levels_array(&self._asks, _count(n))

    def top(self, n):
        cdef Py_ssize_t k = _count(n)
        return _levels_array(&self._bids, k), _levels_array(&self._asks, k)

    def spread(self):
        """Best ask minus best bid in ticks, or None when a side is empty."""
        if not self._bids.n or not self._asks.n:
            return None
        return <object>self._asks.lv[self._asks.n - 1].price - <object>self._bids.lv[self._bids.n - 1].price

    def mid(self):
        """Mid price in price units (a float view), or None when a side is empty."""
        if not self._bids.n or not self._asks.n:
            return None
        a = <object>self._asks.lv[self._asks.n - 1].price
        b = <object>self._bids.lv[self._bids.n - 1].price
        return (a + b) / 2 / 10 ** self.price_decimals

    cdef bint _crossed(self) noexcept:
        return (self._bids.n and self._asks.n
                and self._bids.lv[self._bids.n - 1].price >= self._asks.lv[self._asks.n - 1].price)

    def crossed(self):
        """Both sides non-empty and best bid >= best ask."""
        return self._crossed()

    cdef void _truncate(self, Py_ssize_t depth) noexcept:
        _side_truncate(&self._bids, depth)
        _side_truncate(&self._asks, depth)

    def truncate(self, depth):
        """Keep the best DEPTH levels per side."""
        self._truncate(_count(depth))

    def checksum_okx(self):
        """OKX's CRC32 of the top 25 levels, interleaved bid/ask, as a signed int32."""
        cdef char buf[OKX_DEPTH * 4 * 48]
        cdef Py_ssize_t n = 0, i, k
        cdef side_t* b = &self._bids
        cdef side_t* a = &self._asks
        cdef int pd = self.price_decimals, sd = self.size_decimals
        k = max(min(b.n, OKX_DEPTH), min(a.n, OKX_DEPTH))
        for i in range(k):
            if i < b.n:
                n += _fmt(buf + n, b.lv[b.n - 1 - i].price, pd, True)
                buf[n] = c':'
                n += _fmt(buf + n + 1, b.lv[b.n - 1 - i].size, sd, True) + 1
                buf[n] = c':'
                n += 1
            if i < a.n:
                n += _fmt(buf + n, a.lv[a.n - 1 - i].price, pd, True)
                buf[n] = c':'
                n += _fmt(buf + n + 1, a.lv[a.n - 1 - i].size, sd, True) + 1
                buf[n] = c':'
                n += 1
        if n:
            n -= 1   # no separator after the last value
        crc = _crc32(PyBytes_FromStringAndSize(buf, n))
        return crc - (1 << 32) if crc >= (1 << 31) else crc

    def checksum_kraken(self):
        """Kraken's CRC32 (unsigned) of the top 10 asks then the top 10 bids."""
        cdef char buf[KRAKEN_DEPTH * 2 * 48]
        cdef Py_ssize_t n = 0, i, j
        cdef side_t* s
        for j in range(2):
            s = &self._asks if j == 0 else &self._bids
            for i in range(min(s.n, KRAKEN_DEPTH)):
                n += _kraken_digits(buf + n, s.lv[s.n - 1 - i].price, self.price_decimals)
                n += _kraken_digits(buf + n, s.lv[s.n - 1 - i].size, self.size_decimals)
        return zlib.crc32(PyBytes_FromStringAndSize(buf, n))

    def copy(self):
        cdef Book other = Book(self.price_decimals, self.size_decimals, self.max_depth)
        _reserve(&other._bids, self._bids.n)
        _reserve(&other._asks, self._asks.n)
        if self._bids.n:
            memcpy(other._bids.lv, self._bids.lv, self._bids.n * sizeof(level_t))
        if self._asks.n:
            memcpy(other._asks.lv, self._asks.lv, self._asks.n * sizeof(level_t))
        other._bids.n = self._bids.n
        other._asks.n = self._asks.n
        return other

    def _check(self, crossed_ok=False):
        """Raise InvariantError unless sides are sorted, unique, positive and within depth."""
        cdef side_t* s
        cdef Py_ssize_t i
        cdef bint desc
        for desc in range(2):
            s = &self._bids if not desc else &self._asks
            name = "ask" if desc else "bid"
            for i in range(s.n):
                if s.lv[i].size <= 0:
                    raise InvariantError(f"{name} level {s.lv[i].price} has size {s.lv[i].size}")
                if i and ((s.lv[i - 1].price >= s.lv[i].price) if not desc
                          else (s.lv[i - 1].price <= s.lv[i].price)):
                    raise InvariantError(f"{name} prices not strictly sorted at {s.lv[i].price}")
            if self.max_depth and s.n > self.max_depth:
                raise InvariantError(f"{name} side deeper than max_depth {self.max_depth}")
        if not crossed_ok and self._crossed():
            raise InvariantError(f"crossed book: {self!r}")

    def __repr__(self):
        return (
            f"<Book bids={self._bids.n} asks={self._asks.n} "
            f"best_bid={self.best_bid()} best_ask={self.best_ask()} "
            f"decimals=({self.price_decimals}, {self.size_decimals})>"
        )


cdef void _side_truncate(side_t* s, Py_ssize_t depth) noexcept:
    """Keep the best DEPTH levels (the last ones) of a side."""
    cdef Py_ssize_t cut = s.n - depth
    if cut > 0:
        memmove(s.lv, s.lv + cut, depth * sizeof(level_t))
        s.n = depth


cdef Py_ssize_t _kraken_digits(char* out, int64_t v, int d) noexcept:
    """V at D fixed decimals with the point removed and leading zeros stripped."""
    cdef char tmp[48]
    cdef Py_ssize_t n = _fmt(tmp, v, d, False), i, k = 0, j = 0
    for i in range(n):
        if tmp[i] != c'.':
            tmp[k] = tmp[i]
            k += 1
    while j < k and tmp[j] == c'0':
        j += 1
    memcpy(out, tmp + j, k - j)
    return k - j

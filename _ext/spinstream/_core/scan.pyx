# cython: language_level=3
"""Pick named values out of a JSON frame in one pass (compiled; twin:
spinstream/_core/_py/scan.py, API: docs/core-api.md).

The per-frame path of a book stream needs a handful of scalars (channel, symbol, sequence ids,
checksum) and the two level arrays, which the core book parses itself from their JSON bytes.
A general decoder reads the frame once for its envelope and again for its payload, and builds
objects nobody reads; `Picker` walks the bytes once, skips what is not asked for, and returns
the asked values: scalars as Python values, arrays and objects as their exact JSON bytes.

Anything it is not sure of (an escaped string, a value asked for twice, bad nesting) returns
None: the caller then takes its general decoder, which says what is wrong.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from libc.string cimport memcmp, memcpy

from spinstream._core.book cimport FrameLevels, read_levels

__all__ = ["KINDS", "Picker"]

KINDS = "*sifncl"  # the kinds of value a path may ask for (Picker's docstring)

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object u, Py_ssize_t* size) except NULL
    bint PyUnicode_CheckExact(object o)
    bint PyBytes_CheckExact(object o)
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    object PyLong_FromLongLong(long long v)
    object PyFloat_FromDouble(double v)
    double PyOS_string_to_double(const char* s, char** endptr, object overflow_exception) except? -1.0

cdef extern from "math.h":
    bint isinf(double x) nogil

cdef enum:
    MAX_DECIMAL = 64    # characters of a decimal read by kind f (longer: not picked)
    MAX_PATHS = 32
    MAX_PATH = 256      # bytes of a dotted path
    MAX_DEPTH = 64      # nesting


# byte classes: STR_STOP marks what ends a run of plain string bytes (quote, backslash, control
# bytes)
cdef unsigned char STR_STOP[256]
for _c in range(256):
    STR_STOP[_c] = _c == 34 or _c == 92 or _c < 32


cdef inline bint _ws(char c) noexcept:
    return c == 32 or c == 9 or c == 10 or c == 13


cdef inline Py_ssize_t _skip_ws(const char* s, Py_ssize_t i, Py_ssize_t n) noexcept:
    while i < n and _ws(s[i]):
        i += 1
    return i


cdef inline Py_ssize_t _string_end(const char* s, Py_ssize_t i, Py_ssize_t n,
                                   bint* escaped) noexcept:
    """Index of the closing quote of the string whose opening quote is at I - 1, or -1."""
    cdef char c
    while i < n:
        if not STR_STOP[<unsigned char>s[i]]:
            i += 1
            continue
        c = s[i]
        if c == 34:
            return i
        if c == 92:
            escaped[0] = True
            i += 2
            continue
        return -1   # a control byte
    return -1


cdef extern from "skip.h":
    Py_ssize_t ss_skip(const char* s, Py_ssize_t i, Py_ssize_t n) noexcept nogil


cdef inline Py_ssize_t _skip_container(const char* s, Py_ssize_t i, Py_ssize_t n) noexcept:
    """Index just past the array or object that opens at I, or -1 (brackets are counted, not
    matched by kind: the content of a skipped or picked container is its reader's to check;
    skip.h, 16 bytes at a time where SSE2 is)."""
    return ss_skip(s, i, n)


cdef Py_ssize_t _scalar_end(const char* s, Py_ssize_t i, Py_ssize_t n) noexcept:
    """Index just past a number or literal that starts at I."""
    cdef char c
    while i < n:
        c = s[i]
        if _ws(c) or c == 44 or c == 93 or c == 125:
            break
        i += 1
    return i


cdef object _number(const char* s, Py_ssize_t n):
    """An integer's text as int (at most 18 digits), any other number's text as str; None for
    what is not a JSON number."""
    cdef Py_ssize_t i = 0
    cdef long long v = 0
    cdef bint neg = False, integral = True, digit = False
    cdef char c
    if n > 0 and s[0] == 45:
        neg = True
        i = 1
    if i >= n:
        return None
    while i < n:
        c = s[i]
        if 48 <= c <= 57:
            digit = True
            if integral:
                v = v * 10 + (c - 48)
        elif c == 46 or c == 101 or c == 69 or c == 43 or c == 45:
            integral = False
        else:
            return None
        i += 1
    if not digit:
        return None
    if integral and n - neg <= 18:
        return PyLong_FromLongLong(-v if neg else v)
    return s[:n].decode("ascii")


# 10 ** k as doubles, exact for k <= 22 (the fast path of _plain_float)
cdef double POW10[23]
for _c in range(23):
    POW10[_c] = float(10 ** _c)


cdef object _plain_float(const char* s, Py_ssize_t n):
    """Kind f: the text of a plain decimal (digits, at most one point, a digit somewhere; at
    most MAX_DECIMAL characters) as the float `float()` gives (correctly rounded); None for
    anything else or a value too big to be finite."""
    cdef Py_ssize_t i, point = -1, digits = 0
    cdef long long m = 0
    cdef char c
    cdef char buf[MAX_DECIMAL + 1]
    cdef double v
    if n <= 0 or n > MAX_DECIMAL:
        return None
    for i in range(n):
        c = s[i]
        if 48 <= c <= 57:
            if digits < 18:
                m = m * 10 + (c - 48)
            digits += 1
        elif c == 46 and point < 0:
            point = i
        else:
            return None
    if digits == 0:
        return None
    if digits <= 15 and (point < 0 or n - 1 - point <= 22):
        # exact: m < 2 ** 53 and 10 ** k are doubles, so one division rounds correctly
        if point < 0:
            return PyFloat_FromDouble(<double>m)
        return PyFloat_FromDouble(<double>m / POW10[n - 1 - point])
    memcpy(buf, s, n)
    buf[n] = 0
    v = PyOS_string_to_double(buf, NULL, None)  # None: an overflow gives inf, not an error
    if isinf(v):
        return None
    return PyFloat_FromDouble(v)


cdef object _digits_int(const char* s, Py_ssize_t n):
    """Kind n: the text of 1 to 18 digits as an int; None for anything else."""
    cdef Py_ssize_t i
    cdef long long v = 0
    if n <= 0 or n > 18:
        return None
    for i in range(n):
        if not 48 <= s[i] <= 57:
            return None
        v = v * 10 + (s[i] - 48)
    return PyLong_FromLongLong(v)


cdef inline bint _eq(const char* a, const char* b, Py_ssize_t n) noexcept:
    """A[:N] == B[:N], inline (paths are short: a libc call costs more than the bytes)."""
    cdef Py_ssize_t i
    for i in range(n):
        if a[i] != b[i]:
            return False
    return True


cdef inline int _same(str text, const char* s, Py_ssize_t n) except -1:
    """TEXT's UTF-8 is S[:N] (TEXT is a str this picker made, so its UTF-8 is cached)."""
    cdef Py_ssize_t k
    cdef const char* t = PyUnicode_AsUTF8AndSize(text, &k)
    return k == n and memcmp(t, s, n) == 0


cdef class Picker:
    """Picker(paths, kinds)(frame) -> list of the values at PATHS (dotted object keys; arrays
    are transparent: "data.asks" is the `asks` of any item of `data`), None where absent or
    null; or None when the frame cannot be picked this way (see the module docstring), which
    includes a value not of its path's kind: KINDS has one letter a path, `s` str, `i` int,
    `f` a string holding a plain decimal read as a finite float (as `float()` reads it), `n` a
    string of 1 to 18 digits read as an int, `c` array or object (its JSON bytes), `l` an array
    of book levels in the compact form venues write (read as the walk passes them:
    `book.FrameLevels`, which a book takes without reading the frame again), `*` any (the
    default)."""

    cdef readonly tuple paths
    cdef readonly str kinds
    cdef tuple _raw           # the paths as bytes (owners of the pointers below)
    cdef const char* _p[MAX_PATHS]
    cdef Py_ssize_t _len[MAX_PATHS]
    cdef char _kind[MAX_PATHS]
    cdef Py_ssize_t _np
    cdef list _last           # the last str picked at each path: equal text reuses it

    def __init__(self, paths, kinds=None):
        cdef Py_ssize_t k
        paths = tuple(paths)
        if not 0 < len(paths) <= MAX_PATHS:
            raise ValueError(f"1 to {MAX_PATHS} paths, not {len(paths)}")
        kinds = "*" * len(paths) if kinds is None else kinds
        if not isinstance(kinds, str) or len(kinds) != len(paths) or kinds.strip(KINDS):
            raise ValueError(f"kinds: one of * s i f n c l per path, not {kinds!r}")
        raw = []
        for p in paths:
            if not isinstance(p, str) or not p or len(p.encode()) >= MAX_PATH:
                raise ValueError(f"a path is a non-empty str under {MAX_PATH} bytes: {p!r}")
            if p in paths[: len(raw)]:
                raise ValueError(f"path {p!r} given twice")
            raw.append(p.encode())
        self.paths = paths
        self.kinds = kinds
        self._raw = tuple(raw)
        self._np = len(raw)
        self._last = [None] * self._np
        for k in range(self._np):
            self._p[k] = PyBytes_AS_STRING(self._raw[k])
            self._len[k] = PyBytes_GET_SIZE(self._raw[k])
            self._kind[k] = ord(kinds[k])

    def _check(self):
        """The paths are as given: unique, non-empty, within bounds; one kind each."""
        assert self._np == len(self.paths) == len(set(self.paths)) == len(self.kinds)
        assert all(self.paths) and not self.kinds.strip(KINDS)

    cdef inline int _match(self, const char* path, Py_ssize_t plen) noexcept:
        """Index of the path equal to PATH, -2 when PATH is a prefix of one (descend), -1."""
        cdef Py_ssize_t k
        cdef int prefix = -1
        for k in range(self._np):
            if self._len[k] == plen:
                if _eq(self._p[k], path, plen):
                    return <int>k
            elif self._len[k] > plen and self._p[k][plen] == 46 and _eq(self._p[k], path, plen):
                prefix = -2
        return prefix

    def __call__(self, frame):
        cdef const char* s
        cdef Py_ssize_t n
        if PyUnicode_CheckExact(frame):
            s = PyUnicode_AsUTF8AndSize(frame, &n)
        elif PyBytes_CheckExact(frame):
            s = PyBytes_AS_STRING(frame)
            n = PyBytes_GET_SIZE(frame)
        else:
            frame = bytes(frame)
            s = PyBytes_AS_STRING(frame)
            n = PyBytes_GET_SIZE(frame)
        return self._pick(frame, s, n)

    cdef object _pick(self, object frame, const char* s, Py_ssize_t n):
        cdef list out = PyList_New(self._np)
        cdef Py_ssize_t k, i, j, end, plen = 0
        cdef char path[MAX_PATH]
        cdef Py_ssize_t plens[MAX_DEPTH]   # the path's length at each open container
        cdef bint is_obj[MAX_DEPTH]
        cdef Py_ssize_t depth = 0
        cdef bint esc = False
        cdef int m
        cdef char c
        cdef object value
        cdef FrameLevels levels
        for k in range(self._np):
            Py_INCREF(None)
            PyList_SET_ITEM(out, k, None)
        cdef bint seen[MAX_PATHS]
        for k in range(self._np):
            seen[k] = False
        i = _skip_ws(s, 0, n)
        if i >= n or s[i] != 123:
            return None
        is_obj[0] = True
        plens[0] = 0
        depth = 1
        i += 1
        while True:
            i = _skip_ws(s, i, n)
            if i >= n:
                return None
            c = s[i]
            if c == 125 or c == 93:   # } or ]: close the container
                if (c == 125) != is_obj[depth - 1]:
                    return None
                depth -= 1
                i += 1
                if depth == 0:
                    break
                plen = plens[depth]   # back to the path of the container that held it
                i = _skip_ws(s, i, n)
                if i < n and s[i] == 44:
                    i += 1
                    continue
                if i < n and (s[i] == 125 or s[i] == 93):
                    continue
                return None
            if is_obj[depth - 1]:
                if c != 34:
                    return None
                esc = False
                j = _string_end(s, i + 1, n, &esc)
                if j < 0 or esc:
                    return None
                k = j - i - 1                       # the key's length
                end = plens[depth - 1]              # the object's own path length
                if end + (1 if end else 0) + k >= MAX_PATH:
                    m = -1
                else:
                    plen = end
                    if plen:
                        path[plen] = 46
                        plen += 1
                    memcpy(path + plen, s + i + 1, k)
                    plen += k
                    m = self._match(path, plen)
                i = _skip_ws(s, j + 1, n)
                if i >= n or s[i] != 58:
                    return None
                i = _skip_ws(s, i + 1, n)
                if i >= n:
                    return None
            else:  # an array's item: its path is the array's (arrays are transparent), and
                m = -2  # an array is only entered when its path leads to one asked for
                plen = plens[depth - 1]
            c = s[i]
            # the value at `path` (m: index asked for, -2 descend, -1 skip)
            if c == 123 or c == 91:
                if m == -2 and depth < MAX_DEPTH:
                    is_obj[depth] = c == 123
                    plens[depth] = plen
                    depth += 1
                    i += 1
                    continue
                if m >= 0 and self._kind[m] == 108:  # l: levels, read as the walk passes
                    if seen[m] or c != 91:
                        return None
                    seen[m] = True
                    levels = FrameLevels.__new__(FrameLevels)
                    j = read_levels(frame, s, i, n, levels)
                    if j < 0:
                        return None
                    out[m] = levels
                    i = j
                else:
                    j = _skip_container(s, i, n)
                    if j < 0:
                        return None
                    if m >= 0:
                        if seen[m] or (self._kind[m] != 42 and self._kind[m] != 99):  # * c
                            return None
                        seen[m] = True
                        value = PyBytes_FromStringAndSize(s + i, j - i)
                        out[m] = value
                    i = j
            elif c == 34:
                esc = False
                j = _string_end(s, i + 1, n, &esc)
                if j < 0:
                    return None
                if m >= 0 and (self._kind[m] == 102 or self._kind[m] == 110):  # f n
                    if esc or seen[m]:
                        return None
                    seen[m] = True
                    if self._kind[m] == 102:
                        value = _plain_float(s + i + 1, j - i - 1)
                    else:
                        value = _digits_int(s + i + 1, j - i - 1)
                    if value is None:
                        return None
                    out[m] = value
                elif m >= 0:
                    if esc or seen[m] or (self._kind[m] != 42 and self._kind[m] != 115):  # * s
                        return None
                    seen[m] = True
                    value = self._last[m]
                    if value is None or not _same(value, s + i + 1, j - i - 1):
                        try:
                            value = PyUnicode_DecodeUTF8(s + i + 1, j - i - 1, "strict")
                        except UnicodeDecodeError:
                            return None
                        self._last[m] = value
                    out[m] = value
                i = j + 1
            else:
                j = _scalar_end(s, i, n)
                if j == i:
                    return None
                if j - i == 4 and memcmp(s + i, b"null", 4) == 0:
                    value = None
                elif j - i == 4 and memcmp(s + i, b"true", 4) == 0:
                    value = True
                elif j - i == 5 and memcmp(s + i, b"false", 5) == 0:
                    value = False
                else:
                    value = _number(s + i, j - i)
                    if value is None:
                        return None
                if m >= 0:
                    if seen[m] or (value is not None and self._kind[m] != 42 and (
                        self._kind[m] != 105 or type(value) is not int)):  # * i
                        return None
                    seen[m] = True
                    out[m] = value
                i = j
            # after a value: `,` or the container's close
            i = _skip_ws(s, i, n)
            if i >= n:
                return None
            if s[i] == 44:
                i += 1
                continue
            if s[i] == 125 or s[i] == 93:
                continue
            return None
        if _skip_ws(s, i, n) != n:
            return None
        return out

"""Pick named values out of a JSON frame in one pass: the pure-Python twin of
`_ext/spinstream/_core/scan.pyx` (same API and results; API: docs/core-api.md).

`Picker(paths)(frame)` walks the frame once, skips what is not asked for, and returns the asked
values: scalars as Python values, arrays and objects as their exact JSON bytes; None when the
frame cannot be picked this way (an escaped string asked for, a value asked for twice, bad
nesting), so that the caller takes its general decoder. Line for line the compiled walk, with
the skips done by regular expressions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from spinstream._core._py.book import FrameLevels

__all__ = ["KINDS", "Picker"]

KINDS = "*sifncl"  # the kinds of value a path may ask for (Picker's docstring)

MAX_DECIMAL = 64  # characters of a decimal read by kind f (longer: not picked)
_INF = float("inf")
MAX_PATHS = 32
MAX_PATH = 256
MAX_DEPTH = 64

_WS = b" \t\n\r"
# a whole string (escapes: a backslash and any byte), or a lone quote (bad string), or a bracket
_TOKEN = re.compile(rb'"(?:[^"\\\x00-\x1f]|\\[\s\S])*"|"|[\[\]{}]')
_STRING = re.compile(rb'(?:[^"\\\x00-\x1f]|\\[\s\S])*"')
_SCALAR_END = re.compile(rb"[ \t\n\r,\]}]")
# book levels in the compact form venues write (kind `l`; the compiled `read_levels`): plain
# decimals (digits, at most one point; at most 18 digits, checked apart), no whitespace
_PLAIN = rb"(\d+\.?\d*|\.\d+)"
_LEVEL = rb'\["' + _PLAIN + rb'","' + _PLAIN + rb'"(?:,"[^"\\\x00-\x1f]*")*\]'
_LEVELS = re.compile(rb"\[(?:" + _LEVEL + rb"(?:," + _LEVEL + rb")*)?\]")
_ONE_LEVEL = re.compile(_LEVEL)
_DECIMAL = re.compile(_PLAIN)  # kind f: a plain decimal (fullmatch)
_DIGITS = re.compile(rb"\d{1,18}")  # kind n (fullmatch)


def _read_levels(s: bytes, i: int) -> tuple[int, FrameLevels | None]:
    """The compact levels array at S[I]: (index past it, FrameLevels), or (-1, None)."""
    m = _LEVELS.match(s, i)
    if m is None:
        return -1, None
    raw = s[i : m.end()]
    n = 0
    for lv in _ONE_LEVEL.finditer(raw):
        for v in lv.groups():
            if len(v) - (b"." in v) > 18:
                return -1, None
        n += 1
    return m.end(), FrameLevels(raw, n)


def _skip_ws(s: bytes, i: int, n: int) -> int:
    while i < n and s[i] in _WS:
        i += 1
    return i


def _string_end(s: bytes, i: int) -> tuple[int, bool]:
    """Index of the closing quote of the string opening at I - 1 (or -1), and whether it holds
    an escape."""
    m = _STRING.match(s, i)
    if m is None:
        return -1, False
    return m.end() - 1, b"\\" in s[i : m.end() - 1]


def _skip_container(s: bytes, i: int) -> int:
    """Index just past the array or object that opens at I, or -1."""
    depth = 0
    for m in _TOKEN.finditer(s, i):
        t = m.group()
        if t == b'"':
            return -1
        if t in (b"[", b"{"):
            depth += 1
        elif t in (b"]", b"}"):
            depth -= 1
            if depth == 0:
                return m.end()
    return -1


def _scalar_end(s: bytes, i: int, n: int) -> int:
    m = _SCALAR_END.search(s, i)
    return n if m is None else m.start()


def _number(t: bytes) -> object:
    i, neg, integral, digit, v = 0, False, True, False, 0
    n = len(t)
    if n > 0 and t[0] == 45:
        neg, i = True, 1
    if i >= n:
        return None
    while i < n:
        c = t[i]
        if 48 <= c <= 57:
            digit = True
            if integral:
                v = v * 10 + (c - 48)
        elif c in b".eE+-":
            integral = False
        else:
            return None
        i += 1
    if not digit:
        return None
    if integral and n - neg <= 18:
        return -v if neg else v
    return t.decode("ascii")


def _plain_float(t: bytes) -> float | None:
    """Kind f: a plain decimal's text (at most MAX_DECIMAL characters) as `float()` reads it;
    None for anything else or a value too big to be finite."""
    if len(t) > MAX_DECIMAL or _DECIMAL.fullmatch(t) is None:
        return None
    v = float(t)
    return None if v == _INF else v


def _digits_int(t: bytes) -> int | None:
    """Kind n: 1 to 18 digits' text as an int; None for anything else."""
    return int(t) if _DIGITS.fullmatch(t) is not None else None


class Picker:
    """Picker(paths, kinds)(frame) -> list of the values at PATHS (dotted object keys; arrays
    are transparent: "data.asks" is the `asks` of any item of `data`), None where absent or
    null; or None when the frame cannot be picked this way (see the module docstring), which
    includes a value not of its path's kind: KINDS has one letter a path, `s` str, `i` int,
    `f` a string holding a plain decimal read as a finite float (as `float()` reads it), `n` a
    string of 1 to 18 digits read as an int, `c` array or object (its JSON bytes), `l` an array
    of book levels in the compact form venues write (`book.FrameLevels`, which a book takes),
    `*` any (the default)."""

    __slots__ = ("paths", "kinds", "_raw")

    def __init__(self, paths: Iterable[str], kinds: str | None = None) -> None:
        paths = tuple(paths)
        if not 0 < len(paths) <= MAX_PATHS:
            raise ValueError(f"1 to {MAX_PATHS} paths, not {len(paths)}")
        kinds = "*" * len(paths) if kinds is None else kinds
        if not isinstance(kinds, str) or len(kinds) != len(paths) or kinds.strip(KINDS):
            raise ValueError(f"kinds: one of * s i f n c l per path, not {kinds!r}")
        self.kinds: str = kinds
        raw: list[bytes] = []
        for p in paths:
            if not isinstance(p, str) or not p or len(p.encode()) >= MAX_PATH:
                raise ValueError(f"a path is a non-empty str under {MAX_PATH} bytes: {p!r}")
            if p in paths[: len(raw)]:
                raise ValueError(f"path {p!r} given twice")
            raw.append(p.encode())
        self.paths: tuple[str, ...] = paths
        self._raw = tuple(raw)

    def _match(self, path: bytes) -> int:
        prefix = -1
        for k, p in enumerate(self._raw):
            if p == path:
                return k
            if len(p) > len(path) and p[len(path)] == 46 and p.startswith(path):
                prefix = -2
        return prefix

    def __call__(self, frame: str | bytes | bytearray | memoryview) -> list[object] | None:
        s = frame.encode() if isinstance(frame, str) else bytes(frame)
        return self._pick(s, len(s))

    def _pick(self, s: bytes, n: int) -> list[object] | None:  # noqa: C901 - the walk, as compiled
        out: list[object] = [None] * len(self._raw)
        seen = [False] * len(self._raw)
        path = b""
        plens: list[bytes] = [b""]  # the path at each open container
        is_obj = [True]
        i = _skip_ws(s, 0, n)
        if i >= n or s[i] != 123:
            return None
        depth = 1
        i += 1
        while True:
            i = _skip_ws(s, i, n)
            if i >= n:
                return None
            c = s[i]
            if c == 125 or c == 93:
                if (c == 125) != is_obj[depth - 1]:
                    return None
                depth -= 1
                del plens[depth:]
                del is_obj[depth:]
                i += 1
                if depth == 0:
                    break
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
                j, esc = _string_end(s, i + 1)
                if j < 0 or esc:
                    return None
                key = s[i + 1 : j]
                parent = plens[depth - 1]
                if len(parent) + (1 if parent else 0) + len(key) >= MAX_PATH:
                    m = -1
                    path = b""
                else:
                    path = parent + b"." + key if parent else key
                    m = self._match(path)
                i = _skip_ws(s, j + 1, n)
                if i >= n or s[i] != 58:
                    return None
                i = _skip_ws(s, i + 1, n)
                if i >= n:
                    return None
            else:
                m = -2
                path = plens[depth - 1]
            c = s[i]
            if c == 123 or c == 91:
                if m == -2 and depth < MAX_DEPTH:
                    is_obj.append(c == 123)
                    del plens[depth:]
                    plens.append(path)
                    depth += 1
                    i += 1
                    continue
                if m >= 0 and self.kinds[m] == "l":  # levels, read as the walk passes
                    if seen[m] or c != 91:
                        return None
                    seen[m] = True
                    j, levels = _read_levels(s, i)
                    if j < 0:
                        return None
                    out[m] = levels
                    i = j
                    # (falls through to the `,` / close check below)
                else:
                    j = _skip_container(s, i)
                    if j < 0:
                        return None
                    if m >= 0:
                        if seen[m] or self.kinds[m] not in "*c":
                            return None
                        seen[m] = True
                        out[m] = s[i:j]
                    i = j
            elif c == 34:
                j, esc = _string_end(s, i + 1)
                if j < 0:
                    return None
                if m >= 0 and self.kinds[m] in "fn":
                    if esc or seen[m]:
                        return None
                    seen[m] = True
                    t = s[i + 1 : j]
                    number = _plain_float(t) if self.kinds[m] == "f" else _digits_int(t)
                    if number is None:
                        return None
                    out[m] = number
                elif m >= 0:
                    if esc or seen[m] or self.kinds[m] not in "*s":
                        return None
                    seen[m] = True
                    try:
                        out[m] = s[i + 1 : j].decode("utf-8")
                    except UnicodeDecodeError:
                        return None
                i = j + 1
            else:
                j = _scalar_end(s, i, n)
                if j == i:
                    return None
                t = s[i:j]
                value: object
                if t == b"null":
                    value = None
                elif t == b"true":
                    value = True
                elif t == b"false":
                    value = False
                else:
                    value = _number(t)
                    if value is None:
                        return None
                if m >= 0:
                    if seen[m] or (
                        value is not None
                        and self.kinds[m] != "*"
                        and (self.kinds[m] != "i" or type(value) is not int)
                    ):
                        return None
                    seen[m] = True
                    out[m] = value
                i = j
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

    def _check(self) -> None:
        """The paths are as given: unique, non-empty, within bounds; one kind each."""
        assert len(set(self.paths)) == len(self.paths) == len(self._raw) == len(self.kinds)
        assert all(self.paths) and not self.kinds.strip(KINDS)

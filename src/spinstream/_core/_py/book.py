"""An exact L2 order book (pure-Python twin of the compiled `book` module).

Prices and sizes are int64 fixed-point at the book's decimals ("ticks" and "lots"), parsed
straight from the venue's decimal strings, never through float.
"""

from __future__ import annotations

import functools
import operator
import threading
import zlib
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any, NoReturn, TypeVar, cast

import numpy as np
from msgspec import Raw

from spinstream.errors import InvariantError, ParseError

__all__ = ["Book", "FrameLevels", "format_fixed", "parse_fixed"]

_I64_MAX = 2**63 - 1
_I64_MIN = -(2**63)
_MAX_DECIMALS = 18
_DIGITS = frozenset("0123456789")
OKX_DEPTH = 25
KRAKEN_DEPTH = 10


def _check_decimals(decimals: int) -> int:
    """DECIMALS as an int in 0..18 (int64 holds 18 full decimal digits)."""
    d = operator.index(decimals)
    if not 0 <= d <= _MAX_DECIMALS:
        raise ValueError(f"decimals must be in 0..{_MAX_DECIMALS}, not {d}")
    return d


def _parse_text(text: str, decimals: int) -> int:
    """Decimal TEXT (sign, digits, point, exponent) to an int scaled by 10**DECIMALS, exactly."""
    n = len(text)
    i = 0
    neg = False
    if i < n and text[i] in "+-":
        neg = text[i] == "-"
        i += 1
    start = i
    while i < n and text[i] in _DIGITS:
        i += 1
    int_part = text[start:i]
    frac_part = ""
    if i < n and text[i] == ".":
        i += 1
        fstart = i
        while i < n and text[i] in _DIGITS:
            i += 1
        frac_part = text[fstart:i]
    if not int_part and not frac_part:
        raise ParseError(f"not a decimal number: {text!r}")
    exp = 0
    if i < n and text[i] in "eE":
        i += 1
        esign = 1
        if i < n and text[i] in "+-":
            esign = -1 if text[i] == "-" else 1
            i += 1
        estart = i
        while i < n and text[i] in _DIGITS:
            i += 1
        if estart == i:
            raise ParseError(f"bad exponent in {text!r}")
        edigits = text[estart:i].lstrip("0")
        if len(edigits) > 6:  # |exp| >= 10**6: only zero survives; others overflow or are inexact
            exp = esign * 10**6
        else:
            exp = esign * int(edigits or "0")
    if i != n:
        raise ParseError(f"not a decimal number: {text!r}")
    digits = (int_part + frac_part).lstrip("0")
    if not digits:
        return 0
    shift = exp - len(frac_part) + decimals  # value = int(digits) * 10**shift
    if shift >= 0:
        if len(digits) + shift > 19:
            raise ParseError(f"{text!r} overflows int64 at {decimals} decimals")
        value: int = int(digits) * 10**shift  # shift >= 0: an int (typeshed says Any)
    else:
        keep = len(digits) + shift
        if keep <= 0 or digits[keep:].strip("0"):
            raise ParseError(f"{text!r} has more than {decimals} decimals")
        value = int(digits[:keep])
    if neg:
        value = -value
    if not _I64_MIN <= value <= _I64_MAX:
        raise ParseError(f"{text!r} overflows int64 at {decimals} decimals")
    return value


def parse_fixed(text: str | int | float, decimals: int) -> int:
    """Decimal text (or an int, or a float by its repr) to fixed-point int64 at DECIMALS.

    Raises:
        ValueError: garbage, an inexact value (a non-zero digit beyond DECIMALS) or int64 overflow.
    """
    d = _check_decimals(decimals)
    if isinstance(text, str):
        return _parse_text(text, d)
    if isinstance(text, bool):
        raise ParseError(f"not a decimal number: {text!r}")
    if isinstance(text, int):
        value: int = text * 10**d  # d >= 0: an int (typeshed says Any)
        if not _I64_MIN <= value <= _I64_MAX:
            raise ParseError(f"{text!r} overflows int64 at {d} decimals")
        return value
    if isinstance(text, float):
        return _parse_text(repr(text), d)
    raise ParseError(f"not a decimal number: {text!r} ({type(text).__name__})")


def format_fixed(value: int, decimals: int, trim: bool = True) -> str:
    """Fixed-point VALUE at DECIMALS as decimal text: minimal form, or exactly DECIMALS places."""
    d = _check_decimals(decimals)
    value = operator.index(value)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**d)
    if d == 0:
        return f"{sign}{whole}"
    frac_text = str(frac).rjust(d, "0")
    if trim:
        frac_text = frac_text.rstrip("0")
        if not frac_text:
            return f"{sign}{whole}"
    return f"{sign}{whole}.{frac_text}"


class _Side:
    """One side: a dict price->size and the prices sorted ascending."""

    __slots__ = ("sizes", "prices")

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.prices: list[int] = []

    def set(self, price: int, size: int) -> None:
        if size:
            if price not in self.sizes:
                self.prices.insert(bisect_left(self.prices, price), price)
            self.sizes[price] = size
        elif self.sizes.pop(price, None) is not None:
            del self.prices[bisect_left(self.prices, price)]

    def copy(self) -> _Side:
        other = _Side()
        other.sizes = dict(self.sizes)
        other.prices = list(self.prices)
        return other


#: levels: sequences of [price, size, ...], or a JSON array of them as bytes (`msgspec.Raw`)
class FrameLevels:
    """A side's levels as a frame wrote them, read by the picker (`_core.scan`) before any
    book's decimals are known (the compiled kind keeps each value's digits; this twin keeps
    the JSON text and its book reads that). `raw` is their JSON text."""

    __slots__ = ("raw", "_n")

    def __init__(self, raw: bytes, n: int) -> None:
        self.raw = raw
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"<FrameLevels {self._n} {self.raw[:60]!r}>"


Levels = Sequence[Sequence[object]] | bytes | bytearray | memoryview | Raw | FrameLevels

_WS = b" \t\n\r"
_NUMBER = frozenset(b"0123456789.-+eE")


def _json_fail(s: bytes, why: str) -> NoReturn:
    raise ParseError(f"{why}: {s[:160].decode('utf-8', 'replace')!r}")


def _skip(s: bytes, i: int) -> int:
    n = len(s)
    while i < n and s[i] in _WS:
        i += 1
    return i


def _scan_json(s: bytes, pd: int, sd: int) -> list[tuple[int, int]]:
    """A JSON array of [price, size, ...] levels (strings without escapes, or numbers) to
    (price, size) at the decimals; price > 0, size >= 0. The compiled `_scan_json`, ported."""
    n = len(s)
    out: list[tuple[int, int]] = []
    i = _skip(s, 0)
    if i >= n or s[i] != 0x5B:
        _json_fail(s, "want a JSON array of levels")
    i = _skip(s, i + 1)
    if i < n and s[i] == 0x5D:
        i += 1
    else:
        while True:
            if i >= n or s[i] != 0x5B:
                _json_fail(s, "want a level [price, size, ...]")
            i += 1
            items = 0
            price = size = 0
            while True:
                i = _skip(s, i)
                if i >= n:
                    _json_fail(s, "truncated level")
                c = s[i]
                if c == 0x22:
                    start = end = i + 1
                    while end < n and s[end] != 0x22:
                        if s[end] == 0x5C or s[end] < 32:
                            _json_fail(s, "escaped or control character in a level")
                        end += 1
                    if end >= n:
                        _json_fail(s, "unterminated string in a level")
                    i = end + 1
                elif c == 0x2D or 0x30 <= c <= 0x39:
                    start = end = i
                    while end < n and s[end] in _NUMBER:
                        end += 1
                    i = end
                else:
                    _json_fail(s, "a level item must be a string or a number")
                if items < 2:
                    try:
                        text = s[start:end].decode("ascii")
                    except UnicodeDecodeError:
                        raise ParseError(f"not a decimal number: {s[start:end]!r}") from None
                    if items == 0:
                        price = _parse_text(text, pd)
                    else:
                        size = _parse_text(text, sd)
                items += 1
                i = _skip(s, i)
                if i < n and s[i] == 0x2C:
                    i += 1
                    continue
                if i < n and s[i] == 0x5D:
                    i += 1
                    break
                _json_fail(s, "want , or ] in a level")
            if items < 2:
                _json_fail(s, "a level needs [price, size, ...]")
            if price <= 0:
                _json_fail(s, "a level price must be > 0")
            if size < 0:
                _json_fail(s, "negative size in a level")
            out.append((price, size))
            i = _skip(s, i)
            if i < n and s[i] == 0x2C:
                i = _skip(s, i + 1)
                continue
            if i < n and s[i] == 0x5D:
                i += 1
                break
            _json_fail(s, "want , or ] between levels")
    if _skip(s, i) != n:
        _json_fail(s, "text after the levels array")
    return out


_F = TypeVar("_F", bound=Any)


def _locked(fn: _F) -> _F:
    """Run FN holding the book's lock: a strategy thread's read must not see a half-applied
    update from the runtime's thread (the compiled book reads in one C call under the GIL)."""

    @functools.wraps(fn)
    def wrapper(self: Book, *args: Any, **kw: Any) -> Any:
        with self._lock:
            return fn(self, *args, **kw)

    return cast(_F, wrapper)


class Book:
    """An L2 book with exact int64 fixed-point prices and sizes (see docs/core-api.md)."""

    __slots__ = ("_pd", "_sd", "_max_depth", "_bids", "_asks", "_lock")

    def __init__(self, price_decimals: int, size_decimals: int, max_depth: int = 0) -> None:
        self._pd = _check_decimals(price_decimals)
        self._sd = _check_decimals(size_decimals)
        max_depth = operator.index(max_depth)
        if max_depth < 0:
            raise ValueError(f"max_depth must be >= 0, not {max_depth}")
        self._max_depth = max_depth
        self._bids = _Side()  # best = highest = prices[-1]
        self._asks = _Side()  # best = lowest = prices[0]
        self._lock = threading.RLock()

    @property
    def price_decimals(self) -> int:
        return self._pd

    @property
    def size_decimals(self) -> int:
        return self._sd

    @property
    def max_depth(self) -> int:
        return self._max_depth

    @property
    def bid_count(self) -> int:
        return len(self._bids.prices)

    @property
    def ask_count(self) -> int:
        return len(self._asks.prices)

    @_locked
    def clear(self) -> None:
        """Remove every level."""
        self._bids = _Side()
        self._asks = _Side()

    def _parse_levels(self, levels: Levels) -> list[tuple[int, int]]:
        if type(levels) is Raw or isinstance(levels, (bytes, bytearray, memoryview)):
            return _scan_json(bytes(levels), self._pd, self._sd)
        raw = getattr(levels, "raw", None)  # FrameLevels (of either kind): its JSON text
        if isinstance(raw, bytes):
            return _scan_json(raw, self._pd, self._sd)
        out = []
        pd, sd = self._pd, self._sd
        for level in cast("Sequence[Sequence[object]]", levels):
            if isinstance(level, (str, bytes)):
                raise ParseError(f"bad level {level!r}: want [price, size, ...]")
            try:
                p, s = level[0], level[1]
            except (TypeError, IndexError, KeyError):
                raise ParseError(f"bad level {level!r}: want [price, size, ...]") from None
            price = parse_fixed(p, pd)  # type: ignore[arg-type]
            size = parse_fixed(s, sd)  # type: ignore[arg-type]
            if size < 0:
                raise ParseError(f"negative size in level {level!r}")
            out.append((price, size))
        return out

    @_locked
    def apply_deltas(self, bids: Levels, asks: Levels) -> None:
        """Apply absolute-size levels (size 0 deletes); all or nothing on ValueError."""
        pb = self._parse_levels(bids)
        pa = self._parse_levels(asks)
        for price, size in pb:
            self._bids.set(price, size)
        for price, size in pa:
            self._asks.set(price, size)
        if self._max_depth:
            self.truncate(self._max_depth)

    @_locked
    def apply_snapshot(self, bids: Levels, asks: Levels) -> None:
        """Replace the book with these levels; unchanged on ValueError."""
        pb = self._parse_levels(bids)
        pa = self._parse_levels(asks)
        self.clear()
        for price, size in pb:
            self._bids.set(price, size)
        for price, size in pa:
            self._asks.set(price, size)
        if self._max_depth:
            self.truncate(self._max_depth)

    @_locked
    def set_level(self, is_bid: bool, price: int, size: int) -> None:
        """Set one level in ticks and lots (size 0 deletes)."""
        price, size = _i64(price), _i64(size)
        if size < 0:
            raise ValueError(f"negative size {size}")
        (self._bids if is_bid else self._asks).set(price, size)
        if self._max_depth:
            self.truncate(self._max_depth)

    @_locked
    def best_bid(self) -> tuple[int, int] | None:
        prices = self._bids.prices
        if not prices:
            return None
        p = prices[-1]
        return (p, self._bids.sizes[p])

    @_locked
    def best_ask(self) -> tuple[int, int] | None:
        prices = self._asks.prices
        if not prices:
            return None
        p = prices[0]
        return (p, self._asks.sizes[p])

    def _bid_prices(self, n: int) -> list[int]:
        """The best N bid prices, best first."""
        prices = self._bids.prices
        return prices[: -n - 1 : -1] if n else []

    def _ask_prices(self, n: int) -> list[int]:
        return self._asks.prices[:n]

    @staticmethod
    def _array(prices: list[int], sizes: dict[int, int]) -> np.ndarray:
        out = np.empty((len(prices), 2), np.int64)
        for i, p in enumerate(prices):
            out[i, 0] = p
            out[i, 1] = sizes[p]
        return out

    @_locked
    def bids(self, n: int) -> np.ndarray:
        """The best N bids as int64 (k, 2) [price, size], best first."""
        n = _count(n)
        return self._array(self._bid_prices(n), self._bids.sizes)

    @_locked
    def asks(self, n: int) -> np.ndarray:
        """The best N asks as int64 (k, 2) [price, size], best first."""
        n = _count(n)
        return self._array(self._ask_prices(n), self._asks.sizes)

    @_locked
    def top(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self.bids(n), self.asks(n)

    @_locked
    def spread(self) -> int | None:
        """Best ask minus best bid in ticks, or None when a side is empty."""
        if not self._bids.prices or not self._asks.prices:
            return None
        return self._asks.prices[0] - self._bids.prices[-1]

    @_locked
    def mid(self) -> float | None:
        """Mid price in price units (a float view), or None when a side is empty."""
        if not self._bids.prices or not self._asks.prices:
            return None
        scale: int = 10**self._pd  # _pd >= 0: an int (typeshed says Any)
        return (self._asks.prices[0] + self._bids.prices[-1]) / 2 / scale

    @_locked
    def crossed(self) -> bool:
        """Both sides non-empty and best bid >= best ask."""
        return bool(
            self._bids.prices and self._asks.prices
            and self._bids.prices[-1] >= self._asks.prices[0]
        )  # fmt: skip

    @_locked
    def truncate(self, depth: int) -> None:
        """Keep the best DEPTH levels per side."""
        depth = _count(depth)
        bids, asks = self._bids, self._asks
        cut = len(bids.prices) - depth
        if cut > 0:
            for p in bids.prices[:cut]:
                del bids.sizes[p]
            del bids.prices[:cut]
        if len(asks.prices) > depth:
            for p in asks.prices[depth:]:
                del asks.sizes[p]
            del asks.prices[depth:]

    @_locked
    def checksum_okx(self) -> int:
        """OKX's CRC32 of the top 25 levels, interleaved bid/ask, as a signed int32."""
        pd, sd = self._pd, self._sd
        bp = self._bid_prices(OKX_DEPTH)
        ap = self._ask_prices(OKX_DEPTH)
        parts: list[str] = []
        for i in range(max(len(bp), len(ap))):
            if i < len(bp):
                p = bp[i]
                parts += (format_fixed(p, pd), format_fixed(self._bids.sizes[p], sd))
            if i < len(ap):
                p = ap[i]
                parts += (format_fixed(p, pd), format_fixed(self._asks.sizes[p], sd))
        crc = zlib.crc32(":".join(parts).encode("ascii"))
        return crc - (1 << 32) if crc >= 1 << 31 else crc

    @_locked
    def checksum_kraken(self) -> int:
        """Kraken's CRC32 (unsigned) of the top 10 asks then the top 10 bids."""
        pd, sd = self._pd, self._sd

        def digits(value: int, decimals: int) -> str:
            return format_fixed(value, decimals, trim=False).replace(".", "").lstrip("0")

        parts = [
            digits(p, pd) + digits(self._asks.sizes[p], sd) for p in self._ask_prices(KRAKEN_DEPTH)
        ]
        parts += [
            digits(p, pd) + digits(self._bids.sizes[p], sd) for p in self._bid_prices(KRAKEN_DEPTH)
        ]
        return zlib.crc32("".join(parts).encode("ascii"))

    @_locked
    def copy(self) -> Book:
        other = Book(self._pd, self._sd, self._max_depth)
        other._bids = self._bids.copy()
        other._asks = self._asks.copy()
        return other

    def _check(self, crossed_ok: bool = False) -> None:
        """Raise InvariantError unless sides are sorted, unique, positive and within depth."""
        for name, side in (("bid", self._bids), ("ask", self._asks)):
            prices = side.prices
            if len(prices) != len(side.sizes):
                raise InvariantError(f"{name} index and sizes disagree")
            for a, b in zip(prices, prices[1:], strict=False):
                if a >= b:
                    raise InvariantError(f"{name} prices not strictly sorted ({a}, {b})")
            for p in prices:
                s = side.sizes.get(p)
                if s is None or s <= 0:
                    raise InvariantError(f"{name} level {p} has size {s}")
            if self._max_depth and len(prices) > self._max_depth:
                raise InvariantError(f"{name} side deeper than max_depth {self._max_depth}")
        if not crossed_ok and self.crossed():
            raise InvariantError(f"crossed book: {self!r}")

    def __repr__(self) -> str:
        return (
            f"<Book bids={self.bid_count} asks={self.ask_count} "
            f"best_bid={self.best_bid()} best_ask={self.best_ask()} "
            f"decimals=({self._pd}, {self._sd})>"
        )


def _i64(x: int) -> int:
    """X as an int checked to fit int64 (the compiled module's argument type)."""
    x = operator.index(x)
    if not _I64_MIN <= x <= _I64_MAX:
        raise OverflowError(f"{x} does not fit int64")
    return x


def _count(n: int) -> int:
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"count must be >= 0, not {n}")
    return n

"""Checks that a decoded number can be true for its field, shared by the venues' parse modules.

A venue frame is text; `float()` (and msgspec's lax float decoding) also reads "NaN",
"Infinity" and "-inf", and a 400-digit number as inf. None of these is ever a true price,
size or balance, and a price of 0 or below is no true price of a crypto or FX quote. Each
check returns its value or raises `ParseError`, which every protocol turns into a counted
`Malformed` (and every REST parser lets out as the error of the call), so an impossible value
never reaches the cache. The comparisons are chained (`0.0 < v < INF`), which NaN fails.

Which fields may be negative is decided per field in each venue's parse module, where the
venue's conventions are written down.
"""

from __future__ import annotations

import sys
from typing import Annotated

import msgspec

from spinstream.errors import ParseError

__all__ = [
    "INF",
    "Price",
    "Size",
    "finite",
    "nonneg",
    "opt_finite",
    "opt_nonneg",
    "opt_positive",
    "positive",
    "stamp",
]

INF = float("inf")

#: decoder-checked fields (msgspec, in C, at decode): a finite price > 0 and a finite size >= 0
#: (NaN fails both bounds; a value out of them is a decode error, which the venue handles as
#: any undecodable frame)
Price = Annotated[float, msgspec.Meta(gt=0, le=sys.float_info.max)]
Size = Annotated[float, msgspec.Meta(ge=0, le=sys.float_info.max)]


def finite(v: float, what: str) -> float:
    """V when it is a finite number (any sign): PnL, signed sizes, balances that may be owed."""
    if -INF < v < INF:
        return v
    raise ParseError(f"{what} {v!r} is not a finite number")


def positive(v: float, what: str) -> float:
    """V when it is finite and > 0: prices."""
    if 0.0 < v < INF:
        return v
    raise ParseError(f"{what} {v!r} is not a finite number > 0")


def nonneg(v: float, what: str) -> float:
    """V when it is finite and >= 0: sizes, volumes, quantities, balances that cannot be owed."""
    if 0.0 <= v < INF:
        return v
    raise ParseError(f"{what} {v!r} is not a finite number >= 0")


def opt_finite(v: float | None, what: str) -> float | None:
    """`finite`, with None (no value) passed through."""
    return v if v is None else finite(v, what)


def opt_positive(v: float | None, what: str) -> float | None:
    """`positive`, with None (no value) passed through."""
    return v if v is None else positive(v, what)


def opt_nonneg(v: float | None, what: str) -> float | None:
    """`nonneg`, with None (no value) passed through."""
    return v if v is None else nonneg(v, what)


def stamp(text: str) -> int:
    """A venue's integer time text (e.g. an update time in ms) for ordering states; -1 when
    absent or not an integer, so that any real time orders after it."""
    try:
        return int(text)
    except ValueError:
        return -1

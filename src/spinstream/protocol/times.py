"""Venue times to int nanoseconds: the one conversion every venue parser needs."""

from __future__ import annotations

from spinstream.errors import ParseError

__all__ = ["NS_PER_MS", "ms_to_ns"]

NS_PER_MS = 1_000_000


def ms_to_ns(ms: int | str | None, *, empty_ok: bool = True) -> int | None:
    """Epoch milliseconds (an int, or a decimal string) as int ns; None stays None.

    An empty string is absent too (Bybit, IG write "" for no time) unless EMPTY_OK is False
    (Binance never sends one, so there it is a broken frame).

    Raises:
        ParseError: not an integer number of milliseconds.
    """
    if ms is None or (ms == "" and empty_ok):
        return None
    try:
        return int(ms) * NS_PER_MS
    except ValueError as exc:
        raise ParseError(f"bad millisecond time {ms!r}") from exc

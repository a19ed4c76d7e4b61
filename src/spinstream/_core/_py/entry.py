"""Cached items and the sync client's read fast path (pure-Python twin of `entry`)."""

from __future__ import annotations

from typing import Any

__all__ = ["Entry", "FastReads"]


class Entry:
    """One cached item: its value, whether it may be served, when it was last updated (ns)."""

    __slots__ = ("value", "fresh", "last_update")

    def __init__(self, value: object, last_update: int) -> None:
        self.value = value
        self.fresh = True
        self.last_update = last_update

    def refresh(self, value: object, last_update: int) -> None:
        """A new fresh value (one call instead of three attribute writes: the per-frame path)."""
        self.value = value
        self.fresh = True
        self.last_update = last_update

    def __repr__(self) -> str:
        return f"Entry({self.value!r}, fresh={self.fresh}, last_update={self.last_update})"


class FastReads:
    """Base of the sync venue client: `get_ticker` answers a fresh cached entry at once.

    `_tickers` is the cache's live symbol -> Entry table of the client's default market (empty
    in browser mode); anything else goes to `_get_ticker_slow(symbol, market)`.
    """

    _tickers: dict[str, Entry]

    def __new__(cls, *args: Any, **kwargs: Any) -> FastReads:
        self = super().__new__(cls)
        self._tickers = {}
        return self

    def get_ticker(self, symbol: str, market: str | None = None) -> Any:
        """Best bid/ask (and last) of SYMBOL: the stream's if fresh, else REST."""
        if market is None:
            e = self._tickers.get(symbol)
            if e is not None and e.fresh:
                return e.value
        return self._get_ticker_slow(symbol, market)  # type: ignore[attr-defined]

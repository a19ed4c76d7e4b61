"""Cached items and the sync client's read fast path (pure-Python twin of `entry`)."""

from __future__ import annotations

from typing import Any

__all__ = ["Entry", "FastReads", "Link"]


class Link:
    """One connection as the cache sees it: the items it feeds are served only while it is live.

    The item's own `fresh` flag says whether the item is in sync (sequence, checksum, seed); the
    link says whether the connection that keeps it current is proven alive and keeping up (not
    silent, not lagging, not down). Only the event loop writes; readers only look.
    """

    __slots__ = ("live", "reason", "alive_ns", "name")

    def __init__(self, name: str = "") -> None:
        self.live = False
        self.reason: str | None = "connecting"
        self.alive_ns = 0
        self.name = name

    def up(self, ts: int) -> None:
        """The connection is open and keeping up."""
        self.live = True
        self.reason = None
        self.alive_ns = ts

    def down(self, reason: str) -> None:
        """Stop serving what the connection feeds, for REASON."""
        self.live = False
        self.reason = reason

    def __repr__(self) -> str:
        state = "live" if self.live else f"down ({self.reason})"
        return f"Link({self.name!r}, {state})"


class Entry:
    """One cached item: its value, whether it may be served, when it was last updated (ns).

    `link` (a `Link` or None) is the connection that keeps it current: the item is served only
    while both the entry is fresh and its link is live.
    """

    __slots__ = ("value", "fresh", "last_update", "link", "reads")

    def __init__(self, value: object, last_update: int, link: Link | None = None) -> None:
        self.value = value
        self.fresh = True
        self.last_update = last_update
        self.link = link
        self.reads = 0  # answers served from it by `get_ticker`'s fast path

    def refresh(self, value: object, last_update: int) -> None:
        """A new fresh value (one call instead of three attribute writes: the per-frame path)."""
        self.value = value
        self.fresh = True
        self.last_update = last_update

    @property
    def servable(self) -> bool:
        """Fresh, and fed by a live connection (or by none: a value without a stream)."""
        return bool(self.fresh) and (self.link is None or bool(self.link.live))

    def __repr__(self) -> str:
        return (
            f"Entry({self.value!r}, fresh={self.fresh}, last_update={self.last_update}, "
            f"link={self.link!r})"
        )


class FastReads:
    """Base of the sync venue client: `get_ticker` answers a servable cached entry at once.

    `_tickers` is the cache's live symbol -> Entry table of the client's default market (empty
    in browser mode); anything else goes to `_get_ticker_slow(symbol, market, max_age_s)`.
    `_fast` is cleared when the account sets a default max age.
    """

    _tickers: dict[str, Entry]
    _fast: bool

    def __new__(cls, *args: Any, **kwargs: Any) -> FastReads:
        self = super().__new__(cls)
        self._tickers = {}
        self._fast = True
        return self

    def get_ticker(
        self, symbol: str, market: str | None = None, max_age_s: float | None = None
    ) -> Any:
        """Best bid/ask (and last) of SYMBOL: the stream's if servable, else REST."""
        if market is None and max_age_s is None and self._fast:
            e = self._tickers.get(symbol)
            if e is not None and e.fresh:
                link = e.link
                if link is None or link.live:
                    e.reads += 1
                    return e.value
        return self._get_ticker_slow(symbol, market, max_age_s)  # type: ignore[attr-defined]

# cython: language_level=3
"""Cached items and the sync client's read fast path (compiled; twin: _core/_py/entry.py).

A strategy's cached `get_ticker` is one dict lookup and two freshness checks (the item's own, and
its connection's); written in C as a method of the client's base class, the call costs little
more than the Python call itself.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject

__all__ = ["Entry", "FastReads", "Link"]


cdef class Link:
    """One connection as the cache sees it: the items it feeds are served only while it is live.

    The item's own `fresh` flag says whether the item is in sync (sequence, checksum, seed); the
    link says whether the connection that keeps it current is proven alive and keeping up (not
    silent, not lagging, not down). Only the event loop writes; readers only look.
    """

    cdef public bint live
    cdef public object reason  # None while live; "silent", "lagging", "disconnected", ...
    cdef public long long alive_ns  # wall ns of the last proof of life (a frame or a pong)
    cdef public str name

    def __init__(self, str name=""):
        self.live = False
        self.reason = "connecting"
        self.alive_ns = 0
        self.name = name

    def up(self, long long ts):
        """The connection is open and keeping up."""
        self.live = True
        self.reason = None
        self.alive_ns = ts

    def down(self, reason):
        """Stop serving what the connection feeds, for REASON."""
        self.live = False
        self.reason = reason

    def __repr__(self):
        state = "live" if self.live else f"down ({self.reason})"
        return f"Link({self.name!r}, {state})"


cdef class Entry:
    """One cached item: its value, whether it may be served, when it was last updated (ns).

    `link` (a `Link` or None) is the connection that keeps it current: the item is served only
    while both the entry is fresh and its link is live.
    """

    cdef public object value
    cdef public bint fresh
    cdef public long long last_update
    cdef public Link link
    cdef public unsigned long long reads  # answers served from it by `get_ticker`'s fast path

    def __init__(self, value, long long last_update, Link link=None):
        self.value = value
        self.fresh = True
        self.last_update = last_update
        self.link = link

    def refresh(self, value, long long last_update):
        """A new fresh value (one call instead of three attribute writes: the per-frame path)."""
        self.value = value
        self.fresh = True
        self.last_update = last_update

    @property
    def servable(self):
        """Fresh, and fed by a live connection (or by none: a value without a stream)."""
        return bool(self.fresh) and (self.link is None or bool(self.link.live))

    def __repr__(self):
        return (
            f"Entry({self.value!r}, fresh={bool(self.fresh)}, last_update={self.last_update}, "
            f"link={self.link!r})"
        )


cdef class FastReads:
    """Base of the sync venue client: `get_ticker` answers a servable cached entry in C.

    `_tickers` is the cache's live symbol -> Entry table of the client's default market (empty
    in browser mode); anything else (another market, a `max_age_s`, a stale or missing entry)
    goes to `_get_ticker_slow(symbol, market, max_age_s)`, which the Python subclass defines.
    `_fast` is cleared when the account sets a default max age (every read then checks age).
    """

    cdef public dict _tickers
    cdef public bint _fast

    def __cinit__(self, *args, **kwargs):
        self._tickers = {}
        self._fast = True

    def get_ticker(self, symbol, market=None, max_age_s=None):
        """Best bid/ask (and last) of SYMBOL: the stream's if servable, else REST."""
        cdef PyObject* p
        cdef Entry e
        if market is None and max_age_s is None and self._fast:
            p = PyDict_GetItem(self._tickers, symbol)
            if p is not NULL:
                e = <Entry>p
                if e.fresh and (e.link is None or e.link.live):
                    e.reads += 1
                    return e.value
        return self._get_ticker_slow(symbol, market, max_age_s)

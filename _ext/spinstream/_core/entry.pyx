# cython: language_level=3
"""Cached items and the sync client's read fast path (compiled; twin: _core/_py/entry.py).

A strategy's cached `get_ticker` is one dict lookup and one freshness check; written in C as a
method of the client's base class, the call costs little more than the Python call itself.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject

__all__ = ["Entry", "FastReads"]


cdef class Entry:
    """One cached item: its value, whether it may be served, when it was last updated (ns)."""

    cdef public object value
    cdef public bint fresh
    cdef public long long last_update

    def __init__(self, value, long long last_update):
        self.value = value
        self.fresh = True
        self.last_update = last_update

    def refresh(self, value, long long last_update):
        """A new fresh value (one call instead of three attribute writes: the per-frame path)."""
        self.value = value
        self.fresh = True
        self.last_update = last_update

    def __repr__(self):
        return f"Entry({self.value!r}, fresh={bool(self.fresh)}, last_update={self.last_update})"


cdef class FastReads:
    """Base of the sync venue client: `get_ticker` answers a fresh cached entry in C.

    `_tickers` is the cache's live symbol -> Entry table of the client's default market (empty
    in browser mode); anything else goes to `_get_ticker_slow(symbol, market)`, which the Python
    subclass defines (other markets, REST fallback, subscribe on miss).
    """

    cdef public dict _tickers

    def __cinit__(self, *args, **kwargs):
        self._tickers = {}

    def get_ticker(self, symbol, market=None):
        """Best bid/ask (and last) of SYMBOL: the stream's if fresh, else REST."""
        cdef PyObject* p
        if market is None:
            p = PyDict_GetItem(self._tickers, symbol)
            if p is not NULL and (<Entry>p).fresh:
                return (<Entry>p).value
        return self._get_ticker_slow(symbol, market)

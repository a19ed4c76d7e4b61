"""The state store: what the streams pushed, kept fresh or marked stale, read at memory speed.

Only protocol events write here (`apply`, on the event loop); `ctx` reads from worker threads.
Each item knows whether it is fresh: a `Stale` event (gap, failed checksum, disconnect) marks
the matching items stale at once, and a stale item is never answered as fresh: the reader gets
None and falls back to REST. Books are the protocols' live `_core.Book` objects, converted to a
float view on read; a crossed book is treated as stale.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import TypeVar

import msgspec
import numpy as np

from spinstream._core import Entry as _Entry
from spinstream.cache.ig import IgCache
from spinstream.models import Account, Balance, Order, OrderBook, Position, Ticker, Trade
from spinstream.protocol.events import (
    AccountUpdate,
    BalanceUpdate,
    BookUpdated,
    Event,
    Fresh,
    Malformed,
    OrderUpdate,
    PositionUpdate,
    Stale,
    TickerStats,
    TickerUpdate,
    TradeUpdate,
)

__all__ = ["Store"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
Key = tuple[str, str, str]  # (account alias, market, symbol)
MKey = tuple[str, str]  # (account alias, market)


class _BookEntry:
    """A live book, whether it may be served, and its last `BookUpdated` (id and times)."""

    __slots__ = ("book", "fresh", "ev")

    def __init__(self, ev: BookUpdated) -> None:
        self.book = ev.book
        self.fresh = True
        self.ev = ev  # one reference: a reader sees the id and times of one update


class _Collection:
    """Positions or open orders of one market: keyed items plus one freshness flag."""

    __slots__ = ("items", "fresh", "seeded", "last_update")

    def __init__(self) -> None:
        self.items: dict[str, object] = {}
        self.fresh = False
        self.seeded = False
        self.last_update = 0


class Store:
    """Cached venue state for one workspace, keyed by account alias (the venue's ctx name).

    Events name the venue; `alias_of` maps a connection's events to the account that owns it,
    so two accounts on one venue never share private state.
    """

    def __init__(self) -> None:
        self._tickers: dict[MKey, dict[str, _Entry]] = {}  # (alias, market) -> symbol -> entry
        self._stats: dict[Key, TickerStats] = {}  # 24 h stats merged into tickers (USD-M)
        self._books: dict[MKey, dict[str, _BookEntry]] = {}
        self._book_index: dict[Key, _BookEntry] = {}  # the same entries by (alias, market, sym)
        self._accounts: dict[MKey, _Entry] = {}
        self._positions: dict[MKey, _Collection] = {}
        self._orders: dict[MKey, _Collection] = {}
        self._trades: dict[Key, list[Trade]] = {}
        self._counts: Counter[str] = Counter()  # events applied by type, stale marks, malformed
        self.ig = IgCache()  # IG's stream-only state: tick rings, candles, deal confirmations
        self._n_books = 0  # the per-frame events are counted in plain ints (cheaper)
        self._n_tickers = 0

    @property
    def counts(self) -> Counter[str]:
        """Events applied by type, stale marks, partial balances before a seed: a copy.

        Only `apply` (the event loop) writes the counts; any thread may read this copy.
        """
        counts = Counter(self._counts)
        if self._n_books:
            counts["BookUpdated"] = self._n_books
        if self._n_tickers:
            counts["TickerUpdate"] = self._n_tickers
        return counts

    # ------------------------------------------------------------------ writing (event loop)

    def apply(self, alias: str, events: Iterable[Event]) -> None:
        """Apply a protocol's events for account ALIAS."""
        for ev in events:
            t = type(ev)
            if t is BookUpdated:
                b = self._book_index.get((alias, ev.market, ev.symbol))  # type: ignore[arg-type,union-attr]
                if b is not None and b.book is ev.book:  # type: ignore[union-attr]
                    b.ev = ev  # type: ignore[assignment]
                    b.fresh = True
                else:
                    self._new_book(alias, ev)  # type: ignore[arg-type]
                self._n_books += 1
            elif t is TickerUpdate:
                tk = ev.ticker  # type: ignore[union-attr]
                if tk.last is None and self._stats:  # stats from another stream: merge them in
                    st = self._stats.get((alias, tk.market, tk.symbol))
                    if st is not None:
                        tk = msgspec.structs.replace(tk, last=st.last, volume_24h=st.volume_24h)
                key = (alias, tk.market)
                by_symbol = self._tickers.get(key)
                if by_symbol is None:
                    by_symbol = self._tickers.setdefault(key, {})
                e = by_symbol.get(tk.symbol)
                if e is None:
                    by_symbol[tk.symbol] = _Entry(tk, tk.last_update)
                else:
                    e.refresh(tk, tk.last_update)
                self._n_tickers += 1
            elif t is TickerStats:
                self._apply_stats(alias, ev)  # type: ignore[arg-type]
                self._counts["TickerStats"] += 1
            else:
                self._apply_other(alias, ev)
                self._counts[t.__name__] += 1

    def _new_book(self, alias: str, ev: BookUpdated) -> None:
        """Serve EV's book for (ALIAS, market, symbol), in place of any book held there."""
        entry = _BookEntry(ev)
        books = self._books.get((alias, ev.market))
        if books is None:
            books = self._books.setdefault((alias, ev.market), {})
        books[ev.symbol] = entry
        self._book_index[(alias, ev.market, ev.symbol)] = entry

    def _apply_stats(self, alias: str, ev: TickerStats) -> None:
        """Keep EV for the symbol's next tickers and merge it into the cached one (if any).

        The ticker's freshness, times and bid/ask stay what its own stream said.
        """
        self._stats[(alias, ev.market, ev.symbol)] = ev
        e = self._tickers.get((alias, ev.market), {}).get(ev.symbol)
        if e is not None:
            e.value = msgspec.structs.replace(e.value, last=ev.last, volume_24h=ev.volume_24h)

    def _drop_stats(self, alias: str, market: str, symbol: str | None) -> None:
        """The stats stream went stale: forget its stats and blank them in the cached tickers."""
        for key in [k for k in self._stats if k[:2] == (alias, market)]:
            if symbol is not None and key[2] != symbol:
                continue
            del self._stats[key]
            e = self._tickers.get((alias, market), {}).get(key[2])
            if e is not None:
                e.value = msgspec.structs.replace(e.value, last=None, volume_24h=None)

    def _apply_other(self, alias: str, ev: Event) -> None:
        if isinstance(ev, AccountUpdate):
            a = _cached(ev.account)
            self._accounts[(alias, a.market)] = _Entry(a, a.last_update)
        elif isinstance(ev, BalanceUpdate):
            a = ev.account
            e = self._accounts.get((alias, a.market))
            if e is None:  # no seed yet: a partial update cannot stand alone
                self._counts["balance_before_seed"] += 1
                return
            old: Account = e.value  # type: ignore[assignment]
            merged: dict[str, Balance] = dict(old.balances)
            merged.update(a.balances)
            e.value = Account(
                venue=old.venue, market=old.market, balances=merged,
                equity=a.equity if a.equity is not None else old.equity,
                available=a.available if a.available is not None else old.available,
                ts_event=a.ts_event, last_update=a.last_update, source="ws",
            )  # fmt: skip
            e.last_update = a.last_update
        elif isinstance(ev, PositionUpdate):
            c = self._positions.setdefault((alias, ev.market), _Collection())
            if ev.full:
                c.items = {}
                c.seeded = True
                c.fresh = True
            for p in ev.positions:
                p = _cached(p)
                k = f"{p.symbol}:{p.position_side}"
                if p.size == 0:
                    c.items.pop(k, None)
                else:
                    c.items[k] = p
            c.last_update = ev.ts_recv
        elif isinstance(ev, OrderUpdate):
            c = self._orders.setdefault((alias, ev.market), _Collection())
            if ev.full:
                c.items = {}
                c.seeded = True
                c.fresh = True
            for o in ev.orders:
                o = _cached(o)
                if o.is_open:
                    c.items[o.order_id] = o
                else:
                    c.items.pop(o.order_id, None)
            c.last_update = ev.ts_recv
        elif isinstance(ev, TradeUpdate):
            for tr in ev.trades:
                lst = self._trades.setdefault((alias, tr.market, tr.symbol), [])
                lst.append(tr)
                if len(lst) > 1000:
                    del lst[:500]
        elif isinstance(ev, Stale):
            if ev.kind == "ticker24h":
                self._drop_stats(alias, ev.market, ev.symbol)
            self._mark(alias, ev.market, ev.kind, ev.symbol, False)
            self._counts["stale_marks"] += 1
            log.warning(
                "stale: %s %s %s %s: %s",
                alias,
                ev.market,
                ev.kind or "*",
                ev.symbol or "*",
                ev.reason,
            )
        elif isinstance(ev, Fresh):
            self._mark(alias, ev.market, ev.kind, ev.symbol, True)
        elif isinstance(ev, Malformed):
            log.debug("malformed frame from %s: %s", ev.venue, ev.reason)
        elif not self.ig.apply(alias, ev):
            self._counts["unhandled_event"] += 1

    def _mark(
        self, alias: str, market: str, kind: str | None, symbol: str | None, fresh: bool
    ) -> None:
        for k, table in (("ticker", self._tickers), ("book", self._books)):
            if kind not in (None, k):
                continue
            items = table.get((alias, market), {})
            for sym, e in items.items():
                if symbol is None or sym == symbol:
                    e.fresh = fresh
        if kind in (None, "account"):
            a = self._accounts.get((alias, market))
            if a is not None:
                a.fresh = fresh
        for k, store in (("positions", self._positions), ("orders", self._orders)):
            if kind in (None, k):
                c = store.get((alias, market))
                if c is not None:
                    c.fresh = fresh and c.seeded

    # ------------------------------------------------------------------ reading (any thread)

    def tickers_of(self, alias: str, market: str) -> dict[str, _Entry]:
        """The live symbol -> entry table of one market (ctx keeps a reference: one lookup)."""
        table = self._tickers.get((alias, market))
        if table is None:
            table = self._tickers.setdefault((alias, market), {})
        return table

    def ticker(self, alias: str, market: str, symbol: str) -> Ticker | None:
        """The cached ticker if fresh, else None."""
        e = self.tickers_of(alias, market).get(symbol)
        if e is not None and e.fresh:
            return e.value  # type: ignore[return-value]
        return None

    def orderbook(self, alias: str, market: str, symbol: str, depth: int) -> OrderBook | None:
        """A float view of the top DEPTH levels if the book is fresh and not crossed, else None."""
        b = self._books.get((alias, market), {}).get(symbol)
        if b is None or not b.fresh:
            return None
        book = b.book
        bids, asks = book.top(depth)  # int64 ticks/lots; one C call under the GIL: consistent
        if len(bids) and len(asks) and bids[0, 0] >= asks[0, 0]:
            return None  # crossed: never served
        ps, ss = 10.0**book.price_decimals, 10.0**book.size_decimals
        ev = b.ev
        return OrderBook(
            venue=alias, market=market, symbol=symbol,
            bids=_scale(bids, ps, ss), asks=_scale(asks, ps, ss),
            seq=ev.seq, ts_event=ev.ts_event, last_update=ev.ts_recv, source="ws",
        )  # fmt: skip

    def account(self, alias: str, market: str) -> Account | None:
        e = self._accounts.get((alias, market))
        if e is not None and e.fresh:
            return e.value  # type: ignore[return-value]
        return None

    def positions(self, alias: str, market: str) -> list[Position] | None:
        c = self._positions.get((alias, market))
        if c is None or not c.fresh:
            return None
        return list(c.items.values())  # type: ignore[arg-type]

    def orders(self, alias: str, market: str) -> list[Order] | None:
        c = self._orders.get((alias, market))
        if c is None or not c.fresh:
            return None
        return list(c.items.values())  # type: ignore[arg-type]

    def trades(self, alias: str, market: str, symbol: str) -> list[Trade]:
        return list(self._trades.get((alias, market, symbol), ()))

    def stale_items(self, alias: str | None = None) -> int:
        """How many cached items (of account ALIAS, or all) are stale now (status displays)."""

        def mine(key: tuple[str, ...]) -> bool:
            return alias is None or key[0] == alias

        n = sum(not e.fresh for k, t in self._tickers.items() if mine(k) for e in t.values())
        n += sum(not b.fresh for k, t in self._books.items() if mine(k) for b in t.values())
        n += sum(not e.fresh for k, e in self._accounts.items() if mine(k))
        n += sum(c.seeded and not c.fresh for k, c in self._positions.items() if mine(k))
        n += sum(c.seeded and not c.fresh for k, c in self._orders.items() if mine(k))
        return n


def _cached(item: _T) -> _T:
    """ITEM as the cache serves it: `source="ws"` (a REST seed kept current by the stream)."""
    if item.source == "ws":  # type: ignore[attr-defined]
        return item
    return msgspec.structs.replace(item, source="ws")  # type: ignore[type-var]


def _scale(levels: np.ndarray, ps: float, ss: float) -> np.ndarray:
    out = levels.astype(np.float64)
    out[:, 0] /= ps
    out[:, 1] /= ss
    return out

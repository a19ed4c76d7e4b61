"""The state store: what the streams pushed, kept fresh or marked stale, read at memory speed.

Only protocol events write here (`apply`, on the event loop); `ctx` reads from worker threads.
An item is served only when two things hold: the item itself is fresh (a `Stale` event from its
protocol, for a gap, a failed checksum or a disconnect, clears that at once) and the connection
that feeds it, its `Link`, is live (the transport takes a link down the moment its connection is
silent, lagging or closed). Anything else reads as None and the caller falls back to REST.
Books are the protocols' live `_core.Book` objects, converted to a float view on read; a crossed
book is treated as stale.

Age: an item's value is known current as of the later of its own last update and the last proof
of life of its connection (a quiet symbol on a live connection is unchanged, not old). A read
with `max_age_ns` refuses (None) a value known current longer ago than that.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any, TypeVar, cast

import msgspec
import numpy as np

from spinstream._core import Entry as _Entry
from spinstream._core import Link
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

__all__ = ["Link", "Store"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
Key = tuple[str, str, str]  # (account alias, market, symbol)
MKey = tuple[str, str]  # (account alias, market)


class _BookEntry:
    """A live book, whether it may be served, its last `BookUpdated` (id and times), its link."""

    __slots__ = ("book", "fresh", "ev", "link")

    def __init__(self, ev: BookUpdated, link: Link | None) -> None:
        self.book = ev.book
        self.fresh = True
        self.ev = ev  # one reference: a reader sees the id and times of one update
        self.link = link


class _Collection:
    """Positions or open orders of one market: keyed items, one freshness flag, its link."""

    __slots__ = ("items", "fresh", "seeded", "last_update", "link")

    def __init__(self, link: Link | None) -> None:
        self.items: dict[str, object] = {}
        self.fresh = False
        self.seeded = False
        self.last_update = 0
        self.link = link


def _servable(fresh: bool, link: Link | None) -> bool:
    return fresh and (link is None or link.live)


def _young(last_update: int, link: Link | None, max_age_ns: int | None, now: int) -> bool:
    """Known current within MAX_AGE_NS of NOW (the item's update, or its link's proof of life)."""
    if max_age_ns is None:
        return True
    known = last_update
    if link is not None and link.alive_ns > known:
        known = link.alive_ns
    return now - known <= max_age_ns


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
        # why items went stale: (alias, market, kind, symbol or None) -> the Stale's reason
        self._reasons: dict[tuple[str, str, str | None, str | None], str] = {}

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

    def apply(self, alias: str, events: Iterable[Event], link: Link | None = None) -> None:
        """Apply a protocol's events for account ALIAS; LINK is the connection they came on
        (the items they create are served only while it is live)."""
        for ev in events:
            t = type(ev)
            if t is BookUpdated:
                b = self._book_index.get((alias, ev.market, ev.symbol))  # type: ignore[arg-type,union-attr]
                if b is not None and b.book is ev.book:  # type: ignore[union-attr]
                    b.ev = ev  # type: ignore[assignment]
                    b.fresh = True
                else:
                    self._new_book(alias, ev, link)  # type: ignore[arg-type]
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
                    by_symbol[tk.symbol] = _Entry(tk, tk.last_update, link)
                else:
                    e.refresh(tk, tk.last_update)
                self._n_tickers += 1
            elif t is TickerStats:
                self._apply_stats(alias, ev)  # type: ignore[arg-type]
                self._counts["TickerStats"] += 1
            else:
                self._apply_other(alias, ev, link)
                self._counts[t.__name__] += 1

    def _new_book(self, alias: str, ev: BookUpdated, link: Link | None) -> None:
        """Serve EV's book for (ALIAS, market, symbol), in place of any book held there."""
        entry = _BookEntry(ev, link)
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
            tk = cast(Ticker, e.value)  # the ticker table holds Tickers
            e.value = msgspec.structs.replace(tk, last=ev.last, volume_24h=ev.volume_24h)

    def _drop_stats(self, alias: str, market: str, symbol: str | None) -> None:
        """The stats stream went stale: forget its stats and blank them in the cached tickers."""
        for key in [k for k in self._stats if k[:2] == (alias, market)]:
            if symbol is not None and key[2] != symbol:
                continue
            del self._stats[key]
            e = self._tickers.get((alias, market), {}).get(key[2])
            if e is not None:
                tk = cast(Ticker, e.value)  # the ticker table holds Tickers
                e.value = msgspec.structs.replace(tk, last=None, volume_24h=None)

    def _apply_other(self, alias: str, ev: Event, link: Link | None) -> None:
        if isinstance(ev, AccountUpdate):
            a = _cached(ev.account)
            self._accounts[(alias, a.market)] = _Entry(a, a.last_update, link)
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
            c = self._positions.get((alias, ev.market))
            if c is None:
                c = self._positions[(alias, ev.market)] = _Collection(link)
            if link is not None:
                c.link = link
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
            c = self._orders.get((alias, ev.market))
            if c is None:
                c = self._orders[(alias, ev.market)] = _Collection(link)
            if link is not None:
                c.link = link
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
            self._reasons[(alias, ev.market, ev.kind, ev.symbol)] = ev.reason
            self._counts["stale_marks"] += 1
            self._counts[f"stale:{ev.reason.split(':', 1)[0][:40]}"] += 1
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
            self._counts["malformed"] += 1
            log.debug("malformed frame from %s: %s", ev.venue, ev.reason)
        elif not self.ig.apply(alias, ev, link):
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

    def ticker(
        self, alias: str, market: str, symbol: str, max_age_ns: int | None = None, now: int = 0
    ) -> Ticker | None:
        """The cached ticker if servable (and known current within MAX_AGE_NS of NOW), else None."""
        e = self.tickers_of(alias, market).get(symbol)
        if e is not None and e.fresh:
            link = e.link
            if (link is None or link.live) and _young(e.last_update, link, max_age_ns, now):
                return e.value  # type: ignore[return-value]
        return None

    def ticker_reads(self, alias: str) -> int:
        """Tickers of ALIAS served by `get_ticker`'s fast path (each a REST call saved)."""
        return sum(
            e.reads for (a, _), table in list(self._tickers.items()) if a == alias
            for e in list(table.values())
        )  # fmt: skip

    def orderbook(
        self,
        alias: str,
        market: str,
        symbol: str,
        depth: int,
        max_age_ns: int | None = None,
        now: int = 0,
    ) -> OrderBook | None:
        """A float view of the top DEPTH levels if the book is servable and not crossed."""
        b = self._books.get((alias, market), {}).get(symbol)
        if b is None or not _servable(b.fresh, b.link):
            return None
        ev = b.ev
        if not _young(ev.ts_recv, b.link, max_age_ns, now):
            return None
        book = b.book
        bids, asks = book.top(depth)  # int64 ticks/lots; one C call under the GIL: consistent
        if len(bids) and len(asks) and bids[0, 0] >= asks[0, 0]:
            return None  # crossed: never served
        ps, ss = 10.0**book.price_decimals, 10.0**book.size_decimals
        return OrderBook(
            venue=alias, market=market, symbol=symbol,
            bids=_scale(bids, ps, ss), asks=_scale(asks, ps, ss),
            seq=ev.seq, ts_event=ev.ts_event, last_update=ev.ts_recv, source="ws",
        )  # fmt: skip

    def account(
        self, alias: str, market: str, max_age_ns: int | None = None, now: int = 0
    ) -> Account | None:
        e = self._accounts.get((alias, market))
        if e is not None and _servable(e.fresh, e.link):
            if _young(e.last_update, e.link, max_age_ns, now):
                return e.value  # type: ignore[return-value]
        return None

    def positions(
        self, alias: str, market: str, max_age_ns: int | None = None, now: int = 0
    ) -> list[Position] | None:
        c = self._positions.get((alias, market))
        if c is None or not _servable(c.fresh, c.link):
            return None
        if not _young(c.last_update, c.link, max_age_ns, now):
            return None
        return list(c.items.values())  # type: ignore[arg-type]

    def orders(
        self, alias: str, market: str, max_age_ns: int | None = None, now: int = 0
    ) -> list[Order] | None:
        c = self._orders.get((alias, market))
        if c is None or not _servable(c.fresh, c.link):
            return None
        if not _young(c.last_update, c.link, max_age_ns, now):
            return None
        return list(c.items.values())  # type: ignore[arg-type]

    def trades(self, alias: str, market: str, symbol: str) -> list[Trade]:
        return list(self._trades.get((alias, market, symbol), ()))

    def reason(
        self, alias: str, market: str, kind: str, symbol: str | None = None
    ) -> str | None:
        """Why the item (ALIAS, MARKET, KIND, SYMBOL) was last marked stale (its own mark, else
        its kind's or its market's), or None: also for items never served (warm-up reports)."""
        r = self._reasons
        return (
            r.get((alias, market, kind, symbol))
            or r.get((alias, market, kind, None))
            or r.get((alias, market, None, symbol))
            or r.get((alias, market, None, None))
        )

    def stale_items(self, alias: str | None = None) -> int:
        """How many cached items (of account ALIAS, or all) are not servable now (status)."""
        return len(self.stale_list(alias))

    def stale_list(self, alias: str | None = None) -> list[dict[str, str | None]]:
        """Every cached item (of account ALIAS, or all) that is not servable now, and why: the
        item's own reason (gap, checksum, disconnect, ...) or its connection's (silent, lagging).
        """
        out: list[dict[str, str | None]] = []

        def add(key: MKey, kind: str, symbol: str | None, fresh: bool, link: Any) -> None:
            if alias is not None and key[0] != alias:
                return
            if fresh and (link is None or link.live):
                return
            if not fresh:
                reason = (
                    self._reasons.get((key[0], key[1], kind, symbol))
                    or self._reasons.get((key[0], key[1], kind, None))
                    or self._reasons.get((key[0], key[1], None, symbol))
                    or self._reasons.get((key[0], key[1], None, None))
                    or "stale"
                )
            else:
                reason = f"connection {link.reason}"
            out.append(
                {"account": key[0], "market": key[1], "kind": kind, "symbol": symbol,
                 "reason": reason}
            )  # fmt: skip

        for k, t in list(self._tickers.items()):
            for sym, e in list(t.items()):
                add(k, "ticker", sym, e.fresh, e.link)
        for k, bt in list(self._books.items()):
            for sym, b in list(bt.items()):
                add(k, "book", sym, b.fresh, b.link)
        for k, e in list(self._accounts.items()):
            add(k, "account", None, e.fresh, e.link)
        for kind, store in (("positions", self._positions), ("orders", self._orders)):
            for k, c in list(store.items()):
                if c.seeded:
                    add(k, kind, None, c.fresh, c.link)
        return out


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

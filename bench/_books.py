"""Order-book contenders, each fed the decoded JSON levels (lists of strings) as a user would.

- spinstream / twin: `Book.apply_deltas(bids, asks)` per message (string -> int64 fixed point
  inside the book; the number of decimals per instrument is derived from the recorded data).
- ccxt: ccxt's own `Bids`/`Asks` (OrderBookSide, a sorted list + bisect index), fed exactly what
  ccxt's okx/binance `handle_delta` do: `bookside.store(float(price), float(size))`. (ccxt's
  handlers add `safe_float` try/except and two method dispatches per level; those are left out,
  which favours ccxt.)
- order_book: the `order-book` C package's OrderBook (bids/asks SortedDict), keyed and valued by
  `Decimal` parsed from the strings, as cryptofeed does; `side[p] = s`, or `del` if present when
  s == 0. Note it sorts lazily: the sort happens at the next read, not in the apply.
- sortedcontainers-decimal / -float: `sortedcontainers.SortedDict` per side, keys and values
  `Decimal(text)` or `float(text)`; size 0 -> `pop(p, None)`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

import numpy as np

from _data import BookStream

D = Decimal
CONTENDERS = [
    "spinstream",
    "twin",
    "ccxt",
    "order_book",
    "sortedcontainers-decimal",
    "sortedcontainers-float",
]


class Contender:
    """build(stream) -> books after the snapshots; apply(books, updates); top(books, inst, n)."""

    name: str

    def build(self, s: BookStream) -> dict[str, Any]:
        raise NotImplementedError

    def apply(self, books: dict[str, Any], updates: list) -> None:
        raise NotImplementedError

    def top(self, books: dict[str, Any], inst: str, n: int) -> tuple[list, list]:
        """Best n levels per side as (Decimal price, Decimal size), for the cross-check."""
        raise NotImplementedError

    def count(self, books: dict[str, Any], inst: str) -> tuple[int, int]:
        raise NotImplementedError


class SpinBook(Contender):
    def __init__(self, mod: Any, name: str) -> None:
        self.mod = mod
        self.name = name
        self.decimals: dict[str, tuple[int, int]] = {}

    def build(self, s: BookStream) -> dict[str, Any]:
        self.decimals = s.decimals
        books = {}
        for inst, (b, a) in s.snapshots.items():
            pd, sd = s.decimals[inst]
            book = self.mod.Book(pd, sd)
            book.apply_snapshot(b, a)
            books[inst] = book
        return books

    def apply(self, books: dict[str, Any], updates: list) -> None:
        for inst, b, a in updates:
            books[inst].apply_deltas(b, a)

    def top(self, books: dict[str, Any], inst: str, n: int) -> tuple[list, list]:
        pd, sd = self.decimals[inst]
        bids, asks = books[inst].top(n)
        conv = [[(D(int(p)).scaleb(-pd), D(int(q)).scaleb(-sd)) for p, q in side]
                for side in (bids, asks)]
        return conv[0], conv[1]

    def count(self, books: dict[str, Any], inst: str) -> tuple[int, int]:
        return books[inst].bid_count, books[inst].ask_count


class CcxtBook(Contender):
    name = "ccxt"

    def __init__(self) -> None:
        try:
            from ccxt.async_support.base.ws.order_book_side import Asks, Bids
        except ImportError:  # pragma: no cover - older layouts
            from ccxt.base.ws.order_book_side import Asks, Bids  # type: ignore
        self.Bids, self.Asks = Bids, Asks

    def build(self, s: BookStream) -> dict[str, Any]:
        return {
            inst: (
                self.Bids([[float(x[0]), float(x[1])] for x in b]),
                self.Asks([[float(x[0]), float(x[1])] for x in a]),
            )
            for inst, (b, a) in s.snapshots.items()
        }

    def apply(self, books: dict[str, Any], updates: list) -> None:
        for inst, b, a in updates:
            bids, asks = books[inst]
            # ccxt pro okx/binance handle_deltas: asks first (binance), order is irrelevant here
            store = bids.store
            for lvl in b:
                store(float(lvl[0]), float(lvl[1]))
            store = asks.store
            for lvl in a:
                store(float(lvl[0]), float(lvl[1]))

    def top(self, books: dict[str, Any], inst: str, n: int) -> tuple[list, list]:
        bids, asks = books[inst]
        return ([(D(repr(p)), D(repr(q))) for p, q in bids[:n]],
                [(D(repr(p)), D(repr(q))) for p, q in asks[:n]])

    def count(self, books: dict[str, Any], inst: str) -> tuple[int, int]:
        return len(books[inst][0]), len(books[inst][1])


class OrderBookPkg(Contender):
    name = "order_book"

    def __init__(self) -> None:
        from order_book import OrderBook

        self.OrderBook = OrderBook

    def build(self, s: BookStream) -> dict[str, Any]:
        books = {}
        for inst, (b, a) in s.snapshots.items():
            ob = self.OrderBook()
            ob.bids = {D(x[0]): D(x[1]) for x in b if D(x[1])}
            ob.asks = {D(x[0]): D(x[1]) for x in a if D(x[1])}
            books[inst] = ob
        return books

    def apply(self, books: dict[str, Any], updates: list) -> None:
        for inst, b, a in updates:
            ob = books[inst]
            for side, levels in ((ob.bids, b), (ob.asks, a)):
                for lvl in levels:
                    p = D(lvl[0])
                    q = D(lvl[1])
                    if q:
                        side[p] = q
                    elif p in side:
                        del side[p]

    def top(self, books: dict[str, Any], inst: str, n: int) -> tuple[list, list]:
        ob = books[inst]
        out = []
        for side in (ob.bids, ob.asks):
            out.append([side.index(i) for i in range(min(n, len(side)))])
        return out[0], out[1]

    def count(self, books: dict[str, Any], inst: str) -> tuple[int, int]:
        return len(books[inst].bids), len(books[inst].asks)


class SortedContainersBook(Contender):
    def __init__(self, parse: Callable[[str], Any], name: str) -> None:
        from sortedcontainers import SortedDict

        self.SortedDict = SortedDict
        self.parse = parse
        self.name = name

    def build(self, s: BookStream) -> dict[str, Any]:
        P = self.parse
        return {
            inst: (
                self.SortedDict({P(x[0]): P(x[1]) for x in b if P(x[1])}),
                self.SortedDict({P(x[0]): P(x[1]) for x in a if P(x[1])}),
            )
            for inst, (b, a) in s.snapshots.items()
        }

    def apply(self, books: dict[str, Any], updates: list) -> None:
        P = self.parse
        for inst, b, a in updates:
            bids, asks = books[inst]
            for side, levels in ((bids, b), (asks, a)):
                for lvl in levels:
                    p = P(lvl[0])
                    q = P(lvl[1])
                    if q:
                        side[p] = q
                    else:
                        side.pop(p, None)

    def top(self, books: dict[str, Any], inst: str, n: int) -> tuple[list, list]:
        bids, asks = books[inst]
        conv = lambda x: x if isinstance(x, Decimal) else D(repr(x))  # noqa: E731
        return ([(conv(p), conv(q)) for p, q in reversed(bids.items()[-n:])],
                [(conv(p), conv(q)) for p, q in asks.items()[:n]])

    def count(self, books: dict[str, Any], inst: str) -> tuple[int, int]:
        return len(books[inst][0]), len(books[inst][1])


def make(name: str, core_module: Callable[[str, str], Any]) -> Contender:
    if name == "spinstream":
        return SpinBook(core_module("compiled", "book"), name)
    if name == "twin":
        return SpinBook(core_module("twin", "book"), name)
    if name == "ccxt":
        return CcxtBook()
    if name == "order_book":
        return OrderBookPkg()
    if name == "sortedcontainers-decimal":
        return SortedContainersBook(Decimal, name)
    if name == "sortedcontainers-float":
        return SortedContainersBook(float, name)
    raise ValueError(name)


def cross_check(c: Contender, books: dict[str, Any], ref: Contender, ref_books: dict[str, Any],
                n: int = 25) -> None:
    """The contender ends in the same state as the reference (top n levels, level counts)."""
    for inst in ref_books:
        assert c.count(books, inst) == ref.count(ref_books, inst), (c.name, inst)
        got, want = c.top(books, inst, n), ref.top(ref_books, inst, n)
        for g, w in zip(got, want):
            assert [(float(p), float(q)) for p, q in g] == [(float(p), float(q)) for p, q in w], (
                c.name, inst)


def as_float_array(levels: list) -> np.ndarray:
    return np.array(levels, dtype=np.float64)

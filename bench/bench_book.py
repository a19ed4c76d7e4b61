"""Groups `book-apply` and `book-read`.

book-apply: per-level cost of the recorded update streams (OKX `books`, all three instruments;
Binance depthUpdate after the REST snapshot, all four symbols), from the decoded JSON lists of
strings. Each round starts from the same state: the untimed pedantic `setup` builds fresh books
from the snapshots, then only the update stream is timed. After timing, the contender's final
books are checked against ccxt's (level counts and top 25 per side).

book-read: on the OKX BTC-USDT book after the whole stream (400 levels a side):
  set `best`: best bid and best ask read (units = reads; 2 per loop iteration);
  set `top10`: top 10 levels of both sides to numpy (units = calls; ours is int64 ticks/lots,
  the others float64).
Loops of K reads run inside the timed function, so pytest-benchmark's own call overhead is not
counted; the Python `for` loop is (see the `python-loop-floor` row).
"""

from __future__ import annotations

import numpy as np
import pytest
from _harness import core_module, tag

import _books
from _data import book_streams, okx_books

VENUES = ["okx", "binance"]
ROUNDS = 40


@pytest.fixture(scope="module")
def ccxt_final() -> dict:
    """ccxt's books after each venue's stream: the reference of the cross-check."""
    ref = _books.CcxtBook()
    out = {}
    for venue, s in book_streams().items():
        books = ref.build(s)
        ref.apply(books, s.updates)
        out[venue] = (ref, books)
    return out


@pytest.mark.parametrize("contender", _books.CONTENDERS)
@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.benchmark(group="book-apply")
def test_book_apply(benchmark, venue: str, contender: str, ccxt_final: dict) -> None:
    c = _books.make(contender, core_module)
    s = book_streams()[venue]
    updates = s.updates
    last: list = []

    def setup():
        books = c.build(s)
        last[:] = [books]
        return (books, updates), {}

    tag(benchmark, venue, contender, "level", s.levels, messages=len(updates),
        snapshot_levels=s.snapshot_levels)
    benchmark.pedantic(c.apply, setup=setup, rounds=ROUNDS, warmup_rounds=2, iterations=1)
    ref, ref_books = ccxt_final[venue]
    _books.cross_check(c, last[0], ref, ref_books)


# --------------------------------------------------------------------------- book-read

READ_INST = "BTC-USDT"
K = 1000


@pytest.fixture(scope="module")
def read_books() -> dict:
    return {}


def _final_book(contender: str, cache: dict):
    if contender not in cache:
        c = _books.make(contender, core_module)
        s = okx_books()
        books = c.build(s)
        c.apply(books, s.updates)
        cache[contender] = (c, books[READ_INST])
    return cache[contender]


def _best_reader(contender: str, book):
    r = range(K)
    if contender in ("spinstream", "twin"):
        bb, ba = book.best_bid, book.best_ask

        def read():
            for _ in r:
                bb()
                ba()
    elif contender == "ccxt":
        bids, asks = book

        def read():
            for _ in r:
                bids[0]
                asks[0]
    elif contender == "order_book":
        bi, ai = book.bids.index, book.asks.index

        def read():
            for _ in r:
                bi(0)
                ai(0)
    else:  # sortedcontainers: bids ascending -> best is the last item
        pb, pa = book[0].peekitem, book[1].peekitem

        def read():
            for _ in r:
                pb(-1)
                pa(0)
    return read


def _top10(contender: str, book):
    f64 = np.float64
    if contender in ("spinstream", "twin"):
        top = book.top
        return lambda: top(10)
    if contender == "ccxt":
        bids, asks = book
        return lambda: (np.array(bids[:10], dtype=f64), np.array(asks[:10], dtype=f64))
    if contender == "order_book":
        bi, ai = book.bids.index, book.asks.index
        return lambda: (np.array([bi(i) for i in range(10)], dtype=f64),
                        np.array([ai(i) for i in range(10)], dtype=f64))
    bids, asks = book
    return lambda: (np.array(bids.items()[-10:][::-1], dtype=f64),
                    np.array(asks.items()[:10], dtype=f64))


@pytest.mark.parametrize("contender", _books.CONTENDERS)
@pytest.mark.benchmark(group="book-read")
def test_best_bid_ask(benchmark, contender: str, read_books: dict) -> None:
    c, book = _final_book(contender, read_books)
    read = _best_reader(contender, book)
    tag(benchmark, "best", contender, "read", 2 * K)
    benchmark(read)


@pytest.mark.benchmark(group="book-read")
def test_best_read_loop_floor(benchmark) -> None:
    """The same loop with an empty body: the share of every `best` row that is the loop."""
    r = range(K)

    def read():
        for _ in r:
            pass

    tag(benchmark, "best", "python-loop-floor", "read", 2 * K, reference=True)
    benchmark(read)


@pytest.mark.parametrize("contender", _books.CONTENDERS)
@pytest.mark.benchmark(group="book-read")
def test_top10_numpy(benchmark, contender: str, read_books: dict) -> None:
    c, book = _final_book(contender, read_books)
    fn = _top10(contender, book)
    bids, asks = fn()
    assert bids.shape == (10, 2) and asks.shape == (10, 2)
    assert bids[0, 0] > bids[1, 0] and asks[0, 0] < asks[1, 0] and bids[0, 0] < asks[0, 0]
    tag(benchmark, "top10", contender, "call", 1)
    benchmark(fn)

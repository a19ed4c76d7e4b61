"""The cache: fresh items served, stale ones never, books converted on read, crossed never."""

from __future__ import annotations

import numpy as np

from spinstream._core import Book
from spinstream.cache.store import Store
from spinstream.models import Account, Balance, Order, Position, Ticker
from spinstream.protocol.events import (
    AccountUpdate,
    BalanceUpdate,
    BookUpdated,
    Fresh,
    OrderUpdate,
    PositionUpdate,
    Stale,
    TickerUpdate,
)


def ticker(symbol: str = "BTCUSDT", bid: float = 100.0, ts: int = 1) -> Ticker:
    return Ticker(
        venue="binance", market="spot", symbol=symbol, bid=bid, bid_size=1.0, ask=bid + 1,
        ask_size=2.0, last_update=ts, source="ws",
    )  # fmt: skip


def book_event(book: Book, symbol: str = "BTCUSDT", seq: int = 7) -> BookUpdated:
    return BookUpdated(
        venue="binance", market="spot", symbol=symbol, book=book, seq=seq, ts_event=5, ts_recv=6
    )


def test_ticker_fresh_then_stale_then_fresh_again() -> None:
    s = Store()
    assert s.ticker("binance", "spot", "BTCUSDT") is None
    s.apply("binance", [TickerUpdate(ticker=ticker())])
    assert s.ticker("binance", "spot", "BTCUSDT").bid == 100.0
    s.apply("binance", [Stale(venue="binance", market="spot", reason="disconnected", ts_recv=2)])
    assert s.ticker("binance", "spot", "BTCUSDT") is None
    assert s.stale_items() == 1
    s.apply("binance", [TickerUpdate(ticker=ticker(bid=101.0, ts=3))])
    assert s.ticker("binance", "spot", "BTCUSDT").bid == 101.0
    assert s.stale_items() == 0


def test_stale_is_scoped_by_account_market_kind_symbol() -> None:
    s = Store()
    s.apply("a", [TickerUpdate(ticker=ticker("BTCUSDT")), TickerUpdate(ticker=ticker("ETHUSDT"))])
    s.apply("b", [TickerUpdate(ticker=ticker("BTCUSDT"))])
    s.apply("a", [Stale(venue="binance", market="spot", kind="ticker", symbol="ETHUSDT",
                        reason="gap", ts_recv=2)])  # fmt: skip
    assert s.ticker("a", "spot", "BTCUSDT") is not None
    assert s.ticker("a", "spot", "ETHUSDT") is None
    assert s.ticker("b", "spot", "BTCUSDT") is not None
    s.apply("a", [Stale(venue="binance", market="spot", kind="book", reason="x", ts_recv=3)])
    assert s.ticker("a", "spot", "BTCUSDT") is not None
    s.apply(
        "a", [Fresh(venue="binance", market="spot", kind="ticker", symbol="ETHUSDT", ts_recv=4)]
    )
    assert s.ticker("a", "spot", "ETHUSDT") is not None


def test_book_view_is_float_and_never_crossed_or_stale() -> None:
    s = Store()
    b = Book(2, 3)
    b.apply_snapshot([["100.5", "1"], ["100", "2"]], [["101", "0.5"]])
    s.apply("binance", [book_event(b)])
    v = s.orderbook("binance", "spot", "BTCUSDT", 1)
    assert v.bids.dtype == np.float64 and v.bids.tolist() == [[100.5, 1.0]]
    assert v.asks.tolist() == [[101.0, 0.5]] and v.seq == 7 and v.source == "ws"
    b.apply_deltas([], [["100.5", "1"]])  # the live book crosses (e.g. mid-update garbage)
    assert s.orderbook("binance", "spot", "BTCUSDT", 5) is None
    b.apply_deltas([], [["100.5", "0"]])
    s.apply("binance", [Stale(venue="binance", market="spot", kind="book", symbol="BTCUSDT",
                              reason="gap", ts_recv=9)])  # fmt: skip
    assert s.orderbook("binance", "spot", "BTCUSDT", 5) is None
    s.apply("binance", [book_event(b, seq=8)])
    assert s.orderbook("binance", "spot", "BTCUSDT", 5).seq == 8


def test_balance_merges_into_the_seeded_account_only() -> None:
    s = Store()
    part = Account(venue="binance", market="spot", balances={"BTC": Balance(asset="BTC", free=1, locked=0)},
                   last_update=2, source="ws")  # fmt: skip
    s.apply("binance", [BalanceUpdate(account=part)])
    assert s.account("binance", "spot") is None and s.counts["balance_before_seed"] == 1
    seed = Account(venue="binance", market="spot", balances={
        "BTC": Balance(asset="BTC", free=0.5, locked=0), "USDT": Balance(asset="USDT", free=10, locked=1)},
        last_update=1, source="rest")  # fmt: skip
    s.apply("binance", [AccountUpdate(account=seed), BalanceUpdate(account=part)])
    a = s.account("binance", "spot")
    assert a.balance("BTC").free == 1 and a.balance("USDT").total == 11 and a.source == "ws"
    assert a.balance("ETH").total == 0


def _order(oid: str, status: str) -> Order:
    return Order(venue="bybit", market="linear", symbol="BTCUSDT", order_id=oid, side="buy",
                 type="limit", price=1.0, quantity=1.0, status=status, last_update=1, source="ws")  # fmt: skip


def test_orders_and_positions_need_a_seed_and_follow_pushes() -> None:
    s = Store()
    s.apply(
        "bybit",
        [OrderUpdate(venue="bybit", market="linear", orders=(_order("1", "new"),), ts_recv=1)],
    )
    assert s.orders("bybit", "linear") is None  # not seeded: REST must answer
    s.apply("bybit", [OrderUpdate(venue="bybit", market="linear", orders=(_order("1", "new"),),
                                  full=True, ts_recv=2)])  # fmt: skip
    assert [o.order_id for o in s.orders("bybit", "linear")] == ["1"]
    s.apply("bybit", [OrderUpdate(venue="bybit", market="linear",
                                  orders=(_order("2", "new"), _order("1", "filled")), ts_recv=3)])  # fmt: skip
    assert [o.order_id for o in s.orders("bybit", "linear")] == ["2"]
    pos = Position(
        venue="bybit", market="linear", symbol="BTCUSDT", size=0.5, last_update=1, source="rest"
    )
    s.apply(
        "bybit",
        [PositionUpdate(venue="bybit", market="linear", positions=(pos,), full=True, ts_recv=1)],
    )
    assert s.positions("bybit", "linear")[0].size == 0.5
    s.apply("bybit", [Stale(venue="bybit", market="linear", reason="disconnected", ts_recv=4)])
    assert s.positions("bybit", "linear") is None and s.orders("bybit", "linear") is None
    closed = Position(
        venue="bybit", market="linear", symbol="BTCUSDT", size=0, last_update=5, source="ws"
    )
    s.apply(
        "bybit",
        [PositionUpdate(venue="bybit", market="linear", positions=(closed,), full=True, ts_recv=5)],
    )
    assert s.positions("bybit", "linear") == []

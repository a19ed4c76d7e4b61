"""The cache merges 24 h stats (USD-M `/market`) into the ticker its bid/ask stream feeds."""

from __future__ import annotations

from spinstream.cache.store import Store
from spinstream.models import Ticker
from spinstream.protocol.events import Stale, TickerStats, TickerUpdate


def book_ticker(bid: float = 100.0, ts: int = 10) -> TickerUpdate:
    return TickerUpdate(
        ticker=Ticker(
            venue="binance", market="usdm", symbol="BTCUSDT", bid=bid, bid_size=1.0,
            ask=bid + 1, ask_size=2.0, ts_event=ts - 1, last_update=ts, source="ws",
        )
    )  # fmt: skip


def stats(last: float = 100.5, volume: float = 1234.5, ts: int = 20) -> TickerStats:
    return TickerStats(
        venue="binance", market="usdm", symbol="BTCUSDT", last=last, volume_24h=volume,
        ts_event=ts - 1, ts_recv=ts,
    )  # fmt: skip


def test_stats_merge_into_a_cached_ticker_and_stay() -> None:
    s = Store()
    s.apply("binance", [book_ticker()])
    s.apply("binance", [stats()])
    t = s.ticker("binance", "usdm", "BTCUSDT")
    assert (t.bid, t.last, t.volume_24h) == (100.0, 100.5, 1234.5)
    assert (t.ts_event, t.last_update) == (9, 10)  # the bookTicker's times
    s.apply("binance", [book_ticker(bid=101.0, ts=30)])  # a new bookTicker keeps the stats
    t = s.ticker("binance", "usdm", "BTCUSDT")
    assert (t.bid, t.last, t.volume_24h, t.last_update) == (101.0, 100.5, 1234.5, 30)
    assert s.counts["TickerStats"] == 1 and s.counts["TickerUpdate"] == 2


def test_stats_before_any_ticker_wait_for_it() -> None:
    s = Store()
    s.apply("binance", [stats()])
    assert s.ticker("binance", "usdm", "BTCUSDT") is None  # stats alone are no ticker
    s.apply("binance", [book_ticker()])
    t = s.ticker("binance", "usdm", "BTCUSDT")
    assert (t.bid, t.last, t.volume_24h) == (100.0, 100.5, 1234.5)
    assert s.ticker("other", "usdm", "BTCUSDT") is None  # per account


def test_freshness_is_the_book_tickers() -> None:
    s = Store()
    s.apply("binance", [book_ticker()])
    s.apply(
        "binance", [Stale(venue="binance", market="usdm", kind="ticker", reason="x", ts_recv=1)]
    )
    s.apply("binance", [stats()])
    assert s.ticker("binance", "usdm", "BTCUSDT") is None  # stats do not make it fresh
    s.apply("binance", [book_ticker(ts=40)])
    assert s.ticker("binance", "usdm", "BTCUSDT").last == 100.5


def test_stale_stats_are_blanked_not_served() -> None:
    s = Store()
    s.apply("binance", [book_ticker(), stats()])
    stale = Stale(
        venue="binance", market="usdm", kind="ticker24h", symbol="BTCUSDT",  # type: ignore[arg-type]
        reason="disconnected", ts_recv=50,
    )  # fmt: skip
    s.apply("binance", [stale])
    t = s.ticker("binance", "usdm", "BTCUSDT")
    assert t is not None and t.bid == 100.0  # bid/ask still fresh
    assert (t.last, t.volume_24h) == (None, None)
    s.apply("binance", [book_ticker(ts=60)])
    assert s.ticker("binance", "usdm", "BTCUSDT").last is None

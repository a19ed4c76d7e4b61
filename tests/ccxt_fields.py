"""What ccxt's `watch_ticker` reads from a simulated stream: present, and consistent with itself.

A simulated stream must carry every field of the venue's real payload (issue 9, defect 10); these
checks hold the fields a ccxt user reads to it. `book=False` where the venue's own stream has no
best bid/ask (Binance's mini ticker and USD-M `@ticker`, Bybit's spot `tickers`): there ccxt
leaves them None on the real venue too, and a book ticker stream carries them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

STATS = ("last", "open", "close", "change", "percentage", "vwap", "high", "low")
VOLUMES = ("baseVolume", "quoteVolume")
BOOK = ("bid", "ask", "bidVolume", "askVolume")


def assert_ticker(t: dict[str, Any], *, book: bool, pct_abs: float = 1e-3) -> None:
    """Every field ccxt fills from a full ticker is set, and the fields agree with each other."""
    wanted = STATS + VOLUMES + (BOOK if book else ())
    missing = [k for k in wanted if t.get(k) is None]
    assert not missing, f"{t['symbol']}: ccxt got no {missing} from {t['info']}"
    assert 0 < t["low"] <= t["last"] <= t["high"] and t["low"] <= t["open"] <= t["high"]
    assert t["close"] == t["last"]
    assert t["change"] == pytest.approx(t["last"] - t["open"], abs=1e-9)
    assert t["percentage"] == pytest.approx(t["change"] / t["open"] * 100, abs=pct_abs)
    assert t["low"] <= t["vwap"] <= t["high"]
    assert t["baseVolume"] > 0 and t["quoteVolume"] > 0
    assert t["quoteVolume"] == pytest.approx(t["vwap"] * t["baseVolume"], rel=1e-3)
    if book:
        assert_book(t)


def assert_book(t: dict[str, Any]) -> None:
    """Best bid/ask and their sizes: set, positive, not crossed."""
    missing = [k for k in BOOK if t.get(k) is None]
    assert not missing, f"{t['symbol']}: ccxt got no {missing} from {t['info']}"
    assert 0 < t["bid"] < t["ask"] and t["bidVolume"] > 0 and t["askVolume"] > 0


async def traded_ticker(
    watch: Callable[[], Awaitable[dict[str, Any]]], timeout_s: float = 30.0
) -> dict[str, Any]:
    """The first ticker after the market has traded (volume > 0), within a generous deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        t = await asyncio.wait_for(watch(), timeout_s)
        if t.get("baseVolume") and t.get("quoteVolume") and t.get("high") != t.get("low"):
            return t
        assert time.monotonic() < deadline, f"no traded ticker within {timeout_s} s: {t['info']}"

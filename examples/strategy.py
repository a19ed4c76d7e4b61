"""An example strategy: the BTCUSDT mid-price spread between Binance (spot) and Bybit (linear),
in basis points, acted on only when both prices come from live, current streams.

Run it for real with `spinstream run examples/strategy.py --config spinstream.toml`; test it
against the simulators with `python -m pytest examples/` (see `test_strategy.py`).
"""

from __future__ import annotations

from typing import Any

SYMBOL = "BTCUSDT"
MAX_AGE_S = 2.0  # a price not known current within this long is fetched over REST instead
INTERVAL = 1.0  # `spinstream run`: seconds between ticks


def spread_bps(ctx: Any) -> float | None:
    """Bybit's mid minus Binance's, in basis points of Binance's; None unless both tickers
    are served from the stream cache (`source == "ws"`): a REST answer means a stream is not
    proven current, and this strategy does not act on it."""
    a = ctx.binance.get_ticker(SYMBOL, max_age_s=MAX_AGE_S)
    b = ctx.bybit.get_ticker(SYMBOL, max_age_s=MAX_AGE_S)
    if a.source != "ws" or b.source != "ws" or a.mid is None or b.mid is None:
        return None
    return (b.mid - a.mid) / a.mid * 1e4


def tick(ctx: Any) -> float | None:
    """One step: the current spread (None: no signal). A real strategy would trade on it."""
    return spread_bps(ctx)

"""Testing a strategy against the simulators: nothing but pytest, the `spinstream` pytest plugin
(installed with spinstream) and the strategy itself. This is the README's "Testing your
strategy" section, runnable: `python -m pytest examples/`."""

from __future__ import annotations

import math

import pytest
from strategy import tick

# start simulated Binance and Bybit on 127.0.0.1 for each test of this module
pytestmark = pytest.mark.spinstream_venues("binance", "bybit")


def test_the_spread_comes_from_the_streams(spinstream_ctx, spinstream_sims) -> None:
    # the first reads subscribe and answer over REST (no signal): wait for the streams
    spinstream_sims.wait_for(lambda: tick(spinstream_ctx) is not None, what="a spread from ws")
    spread = tick(spinstream_ctx)
    assert spread is not None and math.isfinite(spread)
    t = spinstream_ctx.binance.get_ticker("BTCUSDT")
    assert t.source == "ws" and t.bid < t.ask


def test_no_signal_from_a_stalled_stream(spinstream_sims) -> None:
    # our own options for the accounts: a stream silent for 1 s is stale
    ctx = spinstream_sims.ctx(silent_s=1)
    spinstream_sims.wait_for(lambda: tick(ctx) is not None, what="a first signal")

    spinstream_sims.faults("binance").stall(60)  # Binance keeps its sockets open, sends nothing
    spinstream_sims.wait_for(lambda: tick(ctx) is None, what="no signal while stalled")

    # the runtime drops the silent socket and reconnects (a new socket is not stalled)
    spinstream_sims.wait_for(lambda: tick(ctx) is not None, what="the signal back")
    opened = spinstream_sims.run(lambda: sum(spinstream_sims["binance"].stats.ws_opened.values()))
    assert opened >= 2  # the first socket and the reconnect

"""The cache entry and the sync client's compiled read path, against the twin."""

from __future__ import annotations

import importlib
import os

import pytest


@pytest.fixture(params=["compiled", "twin"])
def entry(request: pytest.FixtureRequest):
    name = "spinstream._core.entry" if request.param == "compiled" else "spinstream._core._py.entry"
    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("SPINSTREAM_REQUIRE_EXTENSIONS") == "1":
            raise
        pytest.skip("compiled core not built")


def test_entry_fields(entry) -> None:
    e = entry.Entry("v", 5)
    assert (e.value, e.fresh, e.last_update) == ("v", True, 5)
    e.fresh = False
    e.value, e.last_update = "w", 6
    assert (e.value, e.fresh, e.last_update) == ("w", False, 6)
    assert "fresh=False" in repr(e)
    e.refresh("x", 9)
    assert (e.value, e.fresh, e.last_update) == ("x", True, 9)


def test_fast_reads_serves_fresh_entries_and_defers_the_rest(entry) -> None:
    class Client(entry.FastReads):
        def __init__(self) -> None:
            self.slow_calls = []

        def _get_ticker_slow(self, symbol, market, max_age_s):
            self.slow_calls.append((symbol, market))
            return ("rest", symbol, market)

    c = Client()
    assert c.get_ticker("X") == ("rest", "X", None)  # empty table
    table = {"BTC": entry.Entry("cached", 1)}
    c._tickers = table
    assert c.get_ticker("BTC") == "cached"
    assert c.get_ticker("BTC", "usdm") == ("rest", "BTC", "usdm")  # another market
    table["BTC"].fresh = False
    assert c.get_ticker("BTC") == ("rest", "BTC", None)  # stale: never served
    table["BTC"].fresh = True
    table["ETH"] = entry.Entry("eth", 2)  # the live table: new symbols show at once
    assert c.get_ticker("ETH") == "eth"
    assert c.slow_calls == [("X", None), ("BTC", "usdm"), ("BTC", None)]
    # each answer from the fast path is counted on its entry (a REST call saved; status shows it)
    assert (table["BTC"].reads, table["ETH"].reads) == (1, 1)


def test_link_gates_the_entries_it_feeds(entry) -> None:
    """An entry fed by a connection is served only while that connection is live."""

    class Client(entry.FastReads):
        def _get_ticker_slow(self, symbol, market, max_age_s):
            return ("rest", symbol, market, max_age_s)

    link = entry.Link("conn")
    assert not link.live and link.reason == "connecting"
    c = Client()
    c._tickers = {"BTC": entry.Entry("cached", 1, link)}
    assert c.get_ticker("BTC") == ("rest", "BTC", None, None)  # not yet live
    link.up(7)
    assert (link.live, link.reason, link.alive_ns) == (True, None, 7)
    assert c.get_ticker("BTC") == "cached"
    assert c._tickers["BTC"].servable
    link.down("silent")
    assert c.get_ticker("BTC") == ("rest", "BTC", None, None)  # silent: never served
    assert not c._tickers["BTC"].servable and "silent" in repr(link)
    link.up(8)
    c._tickers["BTC"].fresh = False  # the item's own staleness stays its own
    assert c.get_ticker("BTC")[0] == "rest"
    c._tickers["BTC"].fresh = True
    assert c.get_ticker("BTC", max_age_s=0.5) == ("rest", "BTC", None, 0.5)  # age: slow path
    c._fast = False  # an account-wide max age: every read takes the slow path
    assert c.get_ticker("BTC")[0] == "rest"

"""Fresh means proven fresh: silent and lagging connections, max-age reads, status, recovery.

Over real sockets to the simulators: a stalled server (socket open, nothing written, not even
pongs) is found within the connection's silence window and everything it fed reads from REST
until the reconnect has resynced; a runtime too slow for its feed is marked lagging; a read with
`max_age_s` refuses a value known current longer ago than that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from polling import wait_for
from spinstream.credentials import Credentials
from spinstream.ctx import Context
from spinstream.errors import ConfigError, NotAvailable
from spinstream.testing.host import SimHost
from spinstream.workspace import AccountConfig, Workspace

SYMBOL = "BTCUSDT"
EPIC = "CS.D.EURUSD.CFD.IP"
VENUES = ["binance", "bybit", "ig"]


@pytest.fixture(scope="module")
def hosts() -> Iterator[SimHost]:
    with SimHost("binance", "bybit", "ig", seed=11, tick_interval=0.05) as h:
        yield h


def make_ws(hosts: SimHost, venue: str, **extra: Any) -> Workspace:
    ex = hosts[venue]
    c = ex.credentials
    if venue == "ig":
        cfg = AccountConfig(
            alias="ig", venue="ig", env="demo", identifier=c["identifier"],
            credentials=Credentials.of(c["api_key"], c["password"]), urls=ex.urls, **extra,
        )  # fmt: skip
    else:
        cfg = AccountConfig(
            alias=venue, venue=venue,
            credentials=Credentials.of(c["api_key"], c["api_secret"]), urls=ex.urls, **extra,
        )  # fmt: skip
    return Workspace([cfg])


@pytest.fixture
def ws_of(hosts: SimHost) -> Iterator[Any]:
    made: list[Workspace] = []

    def make(venue: str, **extra: Any) -> Workspace:
        w = make_ws(hosts, venue, **extra)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def read(c: Any, venue: str) -> Any:
    """The venue's market-data read: the ticker (IG: the PRICE tick, REST-backed market info)."""
    if venue == "ig":
        return c.get_market_info(EPIC)
    return c.get_ticker(SYMBOL)


def cached(c: Any, venue: str) -> Any:
    r = read(c, venue)
    return r if r.source == "ws" else None


def conn_of(w: Workspace, venue: str) -> Any:
    """The connection that streams the venue's ticker."""
    acct = w.runtime.account(venue)
    for conn in list(acct.connections.values()):
        if not getattr(conn.proto, "private", False) or venue == "ig":
            if "Market" not in type(conn.proto).__name__:  # not USD-M's /market stats stream
                return conn
    raise AssertionError("no market-data connection")


@pytest.mark.parametrize("venue", VENUES)
def test_stall_is_found_within_the_window_and_recovers(hosts, ws_of, venue) -> None:
    """A 15 s stall (no data, no pings, no pongs): stale within silent_s + 2 s, then REST
    until the new connection has resynced, then ws again (well before the stall ends)."""
    w = ws_of(venue)
    c = getattr(Context(w), venue)
    read(c, venue)
    wait_for(lambda: cached(c, venue), what="cached")
    conn = conn_of(w, venue)
    window = conn.liveness.silent_s
    assert window <= 10.0  # market data: never more than 10 s
    ex = hosts[venue]
    t0 = time.monotonic()
    hosts.run(lambda: ex.faults.stall(15.0))
    wait_for(lambda: not conn.link.live, timeout_s=window + 20, what="silent found")
    detected = time.monotonic() - t0
    assert conn.link.reason == "silent" or conn.silences >= 1
    assert detected <= window + 2.0 + 1.0, detected  # + 1 s: the fault reaches the sim's loop
    assert read(c, venue).source == "rest"  # never the stalled value as fresh
    wait_for(lambda: cached(c, venue), what="resynced on a new connection")
    assert time.monotonic() - t0 < 15.0  # recovered by reconnecting, not by the stall's end
    assert conn.silences >= 1 and conn.connects >= 2
    st = w.status()["accounts"][venue]
    assert any(x["silences"] >= 1 for x in st["connections"])


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_a_short_stall_inside_the_window_is_not_a_reconnect(hosts, ws_of, venue) -> None:
    w = ws_of(venue)
    c = getattr(Context(w), venue)
    read(c, venue)
    wait_for(lambda: cached(c, venue), what="cached")
    conn = conn_of(w, venue)
    connects = conn.connects
    hosts.run(lambda: hosts[venue].faults.stall(1.0))
    time.sleep(2.0)
    wait_for(lambda: cached(c, venue), what="still cached")
    assert conn.connects == connects and conn.silences == 0


@pytest.mark.parametrize("venue", VENUES)
def test_a_lagging_runtime_marks_its_items_stale_until_it_catches_up(hosts, ws_of, venue):
    """The runtime's loop blocked 100 ms per frame while the feed runs faster: the lag grows,
    the link goes down as lagging (reads from REST), and comes back once the lag falls."""
    w = ws_of(venue, lag_s=0.5)
    c = getattr(Context(w), venue)
    read(c, venue)
    if venue != "ig":
        c.get_orderbook(SYMBOL, 5)  # a book: many frames a second
    wait_for(lambda: cached(c, venue), what="cached")
    conn = conn_of(w, venue)
    sink = conn.sink
    slow = {"on": True}

    def slow_sink(events: list[Any]) -> None:
        if slow["on"]:
            time.sleep(0.1)  # the loop is blocked: frames queue in the socket
        sink(events)

    conn.sink = slow_sink
    try:
        wait_for(lambda: conn.link.reason == "lagging", timeout_s=60, what="lagging")
        assert conn.lag_marks >= 1 and conn.lag_ns > 0.5e9
        assert read(c, venue).source == "rest"
        st = w.status()["accounts"][venue]
        assert any(x["reason"] == "lagging" for x in st["connections"])
        assert any("lagging" in x["reason"] for x in st["stale"])
    finally:
        slow["on"] = False
    wait_for(lambda: conn.link.live, timeout_s=60, what="caught up")
    wait_for(lambda: cached(c, venue), what="fresh again")
    conn.sink = sink


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_max_age_per_call_and_per_account(hosts, ws_of, venue) -> None:
    w = ws_of(venue)
    c = getattr(Context(w), venue)
    c.get_ticker(SYMBOL)
    c.get_orderbook(SYMBOL, 5)
    wait_for(lambda: c.get_ticker(SYMBOL).source == "ws", what="cached ticker")
    wait_for(lambda: c.get_orderbook(SYMBOL, 5).source == "ws", what="cached book")
    assert c.get_ticker(SYMBOL, max_age_s=60).source == "ws"
    assert c.get_orderbook(SYMBOL, 5, max_age_s=60).source == "ws"
    assert c.get_ticker(SYMBOL, max_age_s=1e-9).source == "rest"  # older than a nanosecond
    assert c.get_orderbook(SYMBOL, 5, max_age_s=1e-9).source == "rest"
    with pytest.raises(ConfigError):
        c.get_ticker(SYMBOL, max_age_s=-1)
    # the async client: the same rule
    ac = w.aclient(venue)

    async def both() -> tuple[str, str]:
        fresh = await ac.get_ticker(SYMBOL, max_age_s=60)
        old = await ac.get_ticker(SYMBOL, max_age_s=1e-9)
        return fresh.source, old.source

    assert asyncio.run(both()) == ("ws", "rest")
    # per account: every read checks it (the compiled fast path steps aside)
    strict = ws_of(venue, max_age_s=1e-9)
    s = getattr(Context(strict), venue)
    s.get_ticker(SYMBOL)
    time.sleep(1.0)
    assert s.get_ticker(SYMBOL).source == "rest"
    relaxed = ws_of(venue, max_age_s=60)
    r = getattr(Context(relaxed), venue)
    r.get_ticker(SYMBOL)
    wait_for(lambda: r.get_ticker(SYMBOL).source == "ws", what="cached within 60 s")


def test_max_age_on_private_reads(hosts, ws_of) -> None:
    w = ws_of("bybit")
    c = Context(w).bybit
    c.get_balance()
    wait_for(lambda: c.get_balance().source == "ws", what="cached balance")
    assert c.get_balance(max_age_s=60).source == "ws"  # a live connection proves it current
    assert c.get_balance(max_age_s=1e-9).source == "rest"
    c.get_positions()
    wait_for(lambda: all(p.source == "ws" for p in c.get_positions()) and
             w.runtime.store.positions("bybit", "linear") is not None, what="positions")  # fmt: skip
    assert w.runtime.store.positions("bybit", "linear", 1, time.time_ns()) is None


def test_status_reports_connections_and_lag(hosts, ws_of) -> None:
    w = ws_of("binance")
    assert w.status() == {"accounts": {}} or "binance" not in w.status()["accounts"]
    c = Context(w).binance
    c.get_orderbook(SYMBOL, 5)
    wait_for(lambda: c.get_orderbook(SYMBOL, 5).source == "ws", what="cached book")
    st = w.status()["accounts"]["binance"]
    conn = st["connections"][0]
    assert conn["connected"] and conn["live"] and conn["reason"] is None
    assert conn["last_frame_age_s"] is not None and conn["last_frame_age_s"] < 5
    assert conn["lag_s"] >= 0 and conn["subscriptions"] >= 1
    assert st["stale"] == []
    text = repr(st)
    creds = hosts["binance"].credentials
    assert creds["api_key"] not in text and creds["api_secret"] not in text


def test_streaming_reads_are_not_served_from_a_silent_connection(hosts, ws_of) -> None:
    """IG's stream-only reads (no REST fallback) refuse while the connection is silent."""
    w = ws_of("ig")
    ig = Context(w).ig

    def tick() -> Any:
        try:
            return ig.get_streaming_market(EPIC)
        except NotAvailable:
            return None

    wait_for(tick, what="PRICE")
    conn = conn_of(w, "ig")
    hosts.run(lambda: hosts["ig"].faults.stall(12.0))
    wait_for(lambda: not conn.link.live, timeout_s=30, what="silent")
    assert tick() is None
    wait_for(tick, what="PRICE again after the reconnect")


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_clock_offset_is_estimated_from_the_venue_server_time(hosts, ws_of, venue) -> None:
    """The lag is measured against the venue's clock: its server time, asked once at start."""
    w = ws_of(venue)
    c = getattr(Context(w), venue)
    c.get_ticker(SYMBOL)
    wait_for(lambda: c.get_ticker(SYMBOL).source == "ws", what="cached")
    acct = w.runtime.account(venue)
    wait_for(lambda: acct.clock_offsets.get(acct.default_market) is not None, what="offset")
    offset = acct.clock_offsets[acct.default_market]
    assert abs(offset) < 2e9  # the sim runs on our clock: a small offset (+ half a round trip)
    conn = conn_of(w, venue)
    assert conn.offset_ns is not None and conn.offset_ns <= offset
    assert conn.status()["clock_offset_s"] is not None

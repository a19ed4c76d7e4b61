"""The same runtime over each WebSocket backend (`ws_backend`: websockets, picows).

Over real sockets to the simulators, each backend must give the same behaviour: REST on a miss
then the cached stream (IG's Lightstreamer too: a WebSocket subprotocol), a dropped connection
marks its items stale and resyncs, a stall is found silent and reconnected (our pings go
unanswered), and the server's close handshake ends a session normally (1001: not a failure) or
not (1011: a failure), with a reconnect either way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from polling import wait_for
from spinstream.credentials import Credentials
from spinstream.ctx import Context
from spinstream.testing.host import SimHost
from spinstream.transport.sockets import PicowsSocket, WebsocketsSocket
from spinstream.workspace import AccountConfig, Workspace

SYMBOL = "BTCUSDT"
EPIC = "CS.D.EURUSD.CFD.IP"
KIND = {"websockets": WebsocketsSocket, "picows": PicowsSocket}


@pytest.fixture(params=["websockets", "picows"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "picows":
        pytest.importorskip("picows")
    return str(request.param)


@pytest.fixture(scope="module")
def hosts() -> Iterator[SimHost]:
    with SimHost("binance", "bybit", "ig", seed=13, tick_interval=0.05) as h:
        yield h


@pytest.fixture
def ws_of(hosts: SimHost) -> Iterator[Any]:
    made: list[Workspace] = []

    def make(venue: str, backend: str) -> Workspace:
        ex = hosts[venue]
        c = ex.credentials
        if venue == "ig":
            cfg = AccountConfig(
                alias="ig", venue="ig", env="demo", identifier=c["identifier"],
                credentials=Credentials.of(c["api_key"], c["password"]), urls=ex.urls,
                ws_backend=backend,
            )  # fmt: skip
        else:
            cfg = AccountConfig(
                alias=venue, venue=venue, urls=ex.urls, ws_backend=backend,
                credentials=Credentials.of(c["api_key"], c["api_secret"]),
            )  # fmt: skip
        w = Workspace([cfg])
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def read(c: Any, venue: str) -> Any:
    return c.get_market_info(EPIC) if venue == "ig" else c.get_ticker(SYMBOL)


def cached(c: Any, venue: str) -> Any:
    r = read(c, venue)
    return r if r.source == "ws" else None


def market_conn(w: Workspace, venue: str) -> Any:
    """The connection that streams the venue's ticker (IG: its one Lightstreamer session)."""
    for conn in list(w.runtime.account(venue).connections.values()):
        if not getattr(conn.proto, "private", False) or venue == "ig":
            if "Market" not in type(conn.proto).__name__:
                return conn
    raise AssertionError("no market-data connection")


def on_backend(conn: Any, backend: str) -> None:
    assert conn.ws_backend == backend
    wait_for(lambda: isinstance(conn._ws, KIND[backend]), what="socket of the backend")  # noqa: SLF001


@pytest.mark.parametrize("venue", ["binance", "bybit", "ig"])
def test_rest_on_miss_then_cached(ws_of, backend, venue) -> None:
    w = ws_of(venue, backend)
    c = getattr(Context(w), venue)
    assert read(c, venue).source == "rest"
    wait_for(lambda: cached(c, venue), what="cached")
    on_backend(market_conn(w, venue), backend)
    if venue != "ig":
        c.get_orderbook(SYMBOL, 5)
        b = wait_for(lambda: (x := c.get_orderbook(SYMBOL, 5)).source == "ws" and x, what="book")
        assert b.bids[0, 0] < b.asks[0, 0]


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_drop_marks_stale_and_resyncs(hosts, ws_of, backend, venue) -> None:
    w = ws_of(venue, backend)
    c = getattr(Context(w), venue)
    c.get_orderbook(SYMBOL, 5)
    wait_for(lambda: c.get_orderbook(SYMBOL, 5).source == "ws", what="cached book")
    conn = market_conn(w, venue)
    on_backend(conn, backend)
    store = w.runtime.store
    stale_before, failures = store.counts["stale_marks"], conn.failures
    hosts.run(lambda: hosts[venue].faults.drop())
    wait_for(lambda: store.counts["stale_marks"] > stale_before, what="stale on disconnect")
    wait_for(lambda: conn.connects >= 2, what="reconnect")
    b = wait_for(lambda: (x := c.get_orderbook(SYMBOL, 5)).source == "ws" and x, what="resynced")
    assert b.bids[0, 0] < b.asks[0, 0]
    assert conn.failures > failures  # no close frame: an abnormal end, as with websockets


@pytest.mark.parametrize("venue", ["binance", "ig"])
def test_stall_is_found_silent_and_reconnected(hosts, ws_of, backend, venue) -> None:
    w = ws_of(venue, backend)
    c = getattr(Context(w), venue)
    read(c, venue)
    wait_for(lambda: cached(c, venue), what="cached")
    conn = market_conn(w, venue)
    on_backend(conn, backend)
    window = conn.liveness.silent_s
    t0 = time.monotonic()
    hosts.run(lambda: hosts[venue].faults.stall(15.0))
    wait_for(lambda: not conn.link.live, timeout_s=window + 20, what="silent found")
    assert time.monotonic() - t0 <= window + 3.0
    assert read(c, venue).source == "rest"  # never the stalled value as fresh
    wait_for(lambda: cached(c, venue), what="resynced on a new connection")
    assert time.monotonic() - t0 < 15.0  # by reconnecting, not by the stall's end
    assert conn.silences >= 1 and conn.connects >= 2
    on_backend(conn, backend)


@pytest.mark.parametrize(("code", "failure"), [(1001, False), (1011, True)])
def test_server_close_ends_the_session_and_reconnects(hosts, ws_of, backend, code, failure):
    venue = "binance"
    w = ws_of(venue, backend)
    c = getattr(Context(w), venue)
    c.get_orderbook(SYMBOL, 5)
    wait_for(lambda: c.get_orderbook(SYMBOL, 5).source == "ws", what="cached book")
    conn = market_conn(w, venue)
    on_backend(conn, backend)
    failures, connects = conn.failures, conn.connects

    def close_all() -> None:
        for sc in hosts[venue].connections():
            if not sc.closed:
                sc.close(code, "bye")

    hosts.run(close_all)
    wait_for(lambda: conn.connects > connects, what="reconnect after the close")
    assert (conn.failures > failures) is failure, (conn.failures, failures)
    wait_for(lambda: c.get_orderbook(SYMBOL, 5).source == "ws", what="resynced")
    assert conn.handler_errors == 0

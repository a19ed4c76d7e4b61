"""Simulator to ctx, over real sockets: every method in both modes, cache vs REST, faults.

Each test runs against each simulated venue. Nothing is mocked: the simulators serve the venues'
real REST paths and WebSocket protocols on 127.0.0.1, and the runtime connects to them through
URL overrides exactly as it would to the venue.
"""

from __future__ import annotations

import logging
import threading

import pytest

from polling import wait_for
from spinstream.ctx import Context
from spinstream.errors import AuthError, ConfigError, RateLimited
from spinstream.worker import Worker

VENUES = ["bybit", "binance"]
DERIV = {"bybit": "linear", "binance": "usdm"}


@pytest.fixture(params=VENUES)
def venue(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client(ws, venue: str, mode: str = "server"):
    return getattr(Context(ws, mode), venue)


def test_ticker_rest_on_miss_then_cached(workspace, venue) -> None:
    c = client(workspace(venue), venue)
    t = c.get_ticker("BTCUSDT")
    assert t.source == "rest" and t.bid < t.ask and t.symbol == "BTCUSDT"
    t = wait_for(lambda: (x := c.get_ticker("BTCUSDT")).source == "ws" and x, what="cached ticker")
    assert t.bid < t.ask and t.last_update > 0
    m = DERIV[venue]
    assert c.get_ticker("ETHUSDT", market=m).source == "rest"
    wait_for(lambda: c.get_ticker("ETHUSDT", market=m).source == "ws", what="cached deriv ticker")
    # every answer is counted, a cached one (the fast path's included) as a REST call saved
    def answered() -> int:
        calls = c._rt.account(venue).status()["calls"]  # noqa: SLF001
        return int(calls.get("hit:ticker", 0) + calls.get("rest:ticker", 0))

    before = answered()
    for _ in range(100):
        c.get_ticker("BTCUSDT")
    assert answered() >= before + 100


def test_orderbook_rest_on_miss_then_cached(workspace, venue) -> None:
    c = client(workspace(venue), venue)
    b = c.get_orderbook("BTCUSDT", depth=5)
    assert b.source == "rest" and b.bids.shape == (5, 2) and b.asks.shape == (5, 2)
    b = wait_for(lambda: (x := c.get_orderbook("BTCUSDT", 5)).source == "ws" and x, what="book")
    assert b.bids.shape == (5, 2)
    assert (b.bids[:-1, 0] > b.bids[1:, 0]).all() and (b.asks[:-1, 0] < b.asks[1:, 0]).all()
    assert b.bids[0, 0] < b.asks[0, 0]


def test_private_reads_then_orders_flow(workspace, venue) -> None:
    c = client(workspace(venue), venue)
    m = DERIV[venue]
    assert c.get_balance(market=m).source == "rest"
    assert all(p.source == "rest" for p in c.get_positions())
    c.get_orders(market=m)
    wait_for(lambda: c.get_balance(market=m).source == "ws", what="cached account")
    wait_for(lambda: c._store.orders(venue, m) is not None, what="orders seeded")
    wait_for(lambda: c._store.positions(venue, m) is not None, what="positions seeded")
    mid = c.get_ticker("BTCUSDT", market=m).bid
    o = c.place_order("BTCUSDT", "buy", "limit", 0.01, price=round(mid * 0.8, 1), market=m)
    assert o.status == "new" and o.source == "rest"
    live = wait_for(
        lambda: [
            x for x in c.get_orders(market=m) if x.order_id == o.order_id and x.source == "ws"
        ],
        what="order on the private stream",
    )
    assert live[0].price == pytest.approx(round(mid * 0.8, 1))
    done = c.cancel_order("BTCUSDT", o.order_id, market=m)
    assert done.status == "canceled" and done.order_id == o.order_id
    wait_for(
        lambda: all(x.order_id != o.order_id for x in c.get_orders(market=m)), what="order gone"
    )
    c.place_order("BTCUSDT", "buy", "market", 0.01, market=m)
    pos = wait_for(
        lambda: [p for p in c.get_positions(market=m) if p.symbol == "BTCUSDT" and p.size > 0],
        what="position from the fill",
    )
    assert pos[0].source == "ws"


def test_bad_order_input_is_refused_before_sending(workspace, venue) -> None:
    c = client(workspace(venue), venue)
    for kw in (dict(side="hold"), dict(type="stop"), dict(quantity=0), dict(price=None)):
        args = dict(symbol="BTCUSDT", side="buy", type="limit", quantity=1, price=1.0) | kw
        with pytest.raises(ConfigError):
            c.place_order(**args)


def test_browser_mode_is_rest_only_and_opens_no_websocket(host, workspace, venue) -> None:
    ex = host[venue]
    before = sum(host.run(lambda: dict(ex.stats.ws_opened)).values())
    ws = workspace(venue)
    c = client(ws, venue, mode="browser")
    for _ in range(3):
        assert c.get_ticker("BTCUSDT").source == "rest"
        assert c.get_orderbook("BTCUSDT", 3).source == "rest"
        assert c.get_balance().source == "rest"
    assert sum(host.run(lambda: dict(ex.stats.ws_opened)).values()) == before
    assert ws.runtime.account(venue).connections == {}


def test_two_workers_share_one_connection(host, workspace, venue) -> None:
    ex = host[venue]
    ws = workspace(venue)
    seen: list[str] = []
    lock = threading.Lock()

    def strategy(ctx) -> None:
        t = getattr(ctx, venue).get_ticker("BTCUSDT")
        with lock:
            seen.append(t.source)

    before = host.run(lambda: dict(ex.stats.ws_opened))
    w1 = Worker(strategy, ws, interval=0.02, name="a").start()
    w2 = Worker(strategy, ws, interval=0.02, name="b").start()
    try:
        wait_for(lambda: seen.count("ws") > 20, what="cached answers to both workers")
    finally:
        w1.stop()
        w2.stop()
    after = host.run(lambda: dict(ex.stats.ws_opened))
    opened = {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}
    # one connection of each kind, shared: the public one (the warm-up opened the private ones)
    conns = ws.runtime.account(venue).connections
    assert sum(opened.values()) == len(conns), (opened, list(conns))
    assert len([k for k in conns if "Public" in k[0]]) == 1, list(conns)


def test_drop_marks_stale_and_resyncs(host, workspace, venue) -> None:
    ws = workspace(venue)
    c = client(ws, venue)
    c.get_orderbook("BTCUSDT", 5)
    wait_for(lambda: c.get_orderbook("BTCUSDT", 5).source == "ws", what="cached book")
    store = ws.runtime.store
    stale_before = store.counts["stale_marks"]
    conn = next(iter(ws.runtime.account(venue).connections.values()))
    host.run(lambda: host[venue].faults.drop())
    wait_for(lambda: store.counts["stale_marks"] > stale_before, what="stale on disconnect")
    wait_for(lambda: conn.connects >= 2, what="reconnect")
    b = wait_for(lambda: (x := c.get_orderbook("BTCUSDT", 5)).source == "ws" and x, what="resynced")
    assert b.bids[0, 0] < b.asks[0, 0]


def test_sequence_gap_resyncs_the_book(host, workspace, venue) -> None:
    ws = workspace(venue)
    c = client(ws, venue)
    c.get_orderbook("BTCUSDT", 5)
    wait_for(lambda: c.get_orderbook("BTCUSDT", 5).source == "ws", what="cached book")
    store = ws.runtime.store
    stale_before = store.counts["stale_marks"]
    host.run(lambda: host[venue].faults.gap())
    wait_for(lambda: store.counts["stale_marks"] > stale_before, what="stale on gap")
    wait_for(lambda: c.get_orderbook("BTCUSDT", 5).source == "ws", what="book in sync again")


def test_malformed_frame_is_counted_not_fatal(host, workspace, venue) -> None:
    ws = workspace(venue)
    c = client(ws, venue)
    c.get_ticker("BTCUSDT")
    wait_for(lambda: c.get_ticker("BTCUSDT").source == "ws", what="cached ticker")
    conn = next(iter(ws.runtime.account(venue).connections.values()))
    before = store_malformed = ws.runtime.store.counts["Malformed"]
    host.run(lambda: host[venue].faults.malformed())
    wait_for(
        lambda: ws.runtime.store.counts["Malformed"] > store_malformed, what="malformed counted"
    )
    n = conn.messages
    wait_for(lambda: conn.messages > n + 5, what="stream still flowing")
    assert conn.connects == 1 and ws.runtime.store.counts["Malformed"] > before
    assert c.get_ticker("BTCUSDT").source == "ws"


def test_rate_limit_answer_is_a_clear_error_and_runtime_survives(host, workspace, venue) -> None:
    c = client(workspace(venue), venue, mode="browser")
    host.run(lambda: host[venue].faults.rate_limit(1))
    with pytest.raises(RateLimited):
        c.get_ticker("BTCUSDT")
    assert c.get_ticker("BTCUSDT").source == "rest"  # after the venue's Retry-After


def test_auth_failure_is_clear_and_secret_never_logged(host, workspace, venue, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    ws = workspace(venue, bad_secret=True)
    c = client(ws, venue)
    with pytest.raises(AuthError) as info:
        c.get_balance()
    secret = ws.accounts[venue].credentials.api_secret.reveal()
    assert secret not in str(info.value) and secret not in repr(ws.accounts[venue])
    assert secret not in caplog.text and host[venue].credentials["api_key"] not in caplog.text


def test_strategy_exception_is_counted_and_runtime_goes_on(workspace, venue) -> None:
    ws = workspace(venue)
    calls = []

    def strategy(ctx) -> None:
        calls.append(getattr(ctx, venue).get_ticker("BTCUSDT").source)
        if len(calls) % 2:
            raise ValueError("strategy bug")

    w = Worker(strategy, ws, interval=0.01)
    w.run(iterations=6)
    assert w.errors == 3 and w.iterations == 6 and isinstance(w.last_error, ValueError)
    assert client(ws, venue).get_ticker("BTCUSDT")


def test_every_method_in_browser_mode(workspace, venue) -> None:
    c = client(workspace(venue), venue, mode="browser")
    m = DERIV[venue]
    assert c.get_ticker("BTCUSDT").source == "rest"
    assert c.get_orderbook("BTCUSDT", 5, market=m).source == "rest"
    assert c.get_balance(market=m).source == "rest"
    assert isinstance(c.get_positions(), list)
    mid = c.get_ticker("BTCUSDT", market=m).bid
    o = c.place_order("BTCUSDT", "sell", "limit", 0.01, price=round(mid * 1.2, 1), market=m)
    assert [x.order_id for x in c.get_orders(market=m) if x.order_id == o.order_id]
    assert all(x.source == "rest" for x in c.get_orders(market=m))
    assert c.cancel_order("BTCUSDT", o.order_id, market=m).status == "canceled"
    assert not [x for x in c.get_orders(market=m) if x.order_id == o.order_id]


async def test_async_client_same_verbs(workspace, venue) -> None:
    import asyncio

    ws = workspace(venue)
    a = ws.aclient(venue)
    t = await a.get_ticker("BTCUSDT")
    assert t.source == "rest"
    for _ in range(500):
        t = await a.get_ticker("BTCUSDT")
        if t.source == "ws":
            break
        await asyncio.sleep(0.02)
    assert t.source == "ws"
    assert (await a.get_orderbook("BTCUSDT", 3)).bids.shape == (3, 2)
    m = DERIV[venue]
    assert (await a.get_balance(market=m)).venue
    await a.get_positions()
    mid = (await a.get_ticker("BTCUSDT", market=m)).bid
    o = await a.place_order("BTCUSDT", "buy", "limit", 0.01, price=round(mid * 0.8, 1), market=m)
    assert (await a.cancel_order("BTCUSDT", o.order_id, market=m)).status == "canceled"
    assert isinstance(await a.get_orders(market=m), list)


def test_bybit_demo_env_private_from_demo_host_public_from_live(host) -> None:
    """Demo keys trade on the demo host; public data comes from the live public stream."""
    from spinstream.credentials import Credentials
    from spinstream.workspace import AccountConfig, Workspace

    ex = host["bybit"]
    creds = getattr(ex, "demo_credentials", None) or ex.credentials
    ws = Workspace([AccountConfig(alias="bybit", venue="bybit", env="demo", urls=ex.urls,
                                  credentials=Credentials.of(creds["api_key"], creds["api_secret"]))])  # fmt: skip
    try:
        c = Context(ws).bybit
        c.get_ticker("BTCUSDT")
        wait_for(lambda: c.get_ticker("BTCUSDT").source == "ws", what="public data from live")
        assert c.get_balance().source == "rest"
        wait_for(lambda: c.get_balance().source == "ws", what="private data from demo")
        conns = ws.runtime.account("bybit").connections.values()
        bases = sorted(conn.base_url for conn in conns)
        assert any("/demo" in b for b in bases) and any("/demo" not in b for b in bases), bases
    finally:
        ws.close()

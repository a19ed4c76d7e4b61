"""OKX public market data, simulator to ctx over real sockets (server mode): tickers and books
REST on a miss then cached from the stream; a seqId gap, a bad checksum and a stall make the
book (or everything) stale, read from REST, then cached again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from polling import wait_for
from spinstream.credentials import Credentials
from spinstream.ctx import Context
from spinstream.testing.host import SimHost
from spinstream.workspace import AccountConfig, Workspace

SYM = "BTC-USDT"
SWAP = "BTC-USDT-SWAP"


@pytest.fixture(scope="module")
def host() -> Iterator[SimHost]:
    with SimHost("okx", seed=5, tick_interval=0.05) as h:
        yield h


@pytest.fixture
def okx(host: SimHost) -> Iterator[Any]:
    """ctx.okx on a fresh workspace pointed at the simulator (closed after the test)."""
    ex = host["okx"]
    c = ex.credentials
    creds = Credentials.of(c["api_key"], c["api_secret"], c["passphrase"])
    ws = Workspace([AccountConfig(alias="okx", venue="okx", credentials=creds, urls=ex.urls)])
    okx = Context(ws, "server").okx
    okx.workspace = ws
    try:
        yield okx
    finally:
        ws.close()


def test_ticker_rest_on_miss_then_ws(okx) -> None:
    t = okx.get_ticker(SYM)
    assert t.source == "rest" and t.bid < t.ask and t.symbol == SYM
    t = wait_for(lambda: (x := okx.get_ticker(SYM)).source == "ws" and x, what="cached ticker")
    assert t.bid < t.ask and t.ts_event and t.last_update > 0
    assert okx.get_ticker(SWAP, market="swap").source == "rest"
    wait_for(lambda: okx.get_ticker(SWAP, market="swap").source == "ws", what="cached swap")


def test_orderbook_rest_on_miss_then_ws(okx) -> None:
    b = okx.get_orderbook(SYM, 10)
    assert b.source == "rest" and b.bids.shape == (10, 2) and b.asks.shape == (10, 2)
    b = wait_for(lambda: (x := okx.get_orderbook(SYM, 10)).source == "ws" and x, what="book")
    assert (b.bids[:-1, 0] > b.bids[1:, 0]).all() and (b.asks[:-1, 0] < b.asks[1:, 0]).all()
    assert b.bids[0, 0] < b.asks[0, 0]
    assert okx.get_orderbook(SWAP, 10, market="swap").source == "rest"
    wait_for(lambda: okx.get_orderbook(SWAP, 10, market="swap").source == "ws", what="swap book")


def _stale_then_ws(host: SimHost, okx: Any, fault: Any, counter: str) -> None:
    okx.get_orderbook(SYM, 10)
    wait_for(lambda: okx.get_orderbook(SYM, 10).source == "ws", what="cached book")
    store = okx.workspace.runtime.store
    before = store.counts["stale_marks"]
    protos = [c.proto for c in _connections(okx)]
    n = sum(p.counters[counter] for p in protos)
    host.run(lambda: fault(host["okx"].faults))
    wait_for(lambda: sum(p.counters[counter] for p in protos) > n, what=counter)
    wait_for(lambda: store.counts["stale_marks"] > before, what="stale")
    wait_for(lambda: okx.get_orderbook(SYM, 10).source == "ws", what="book in sync again")


def _connections(okx: Any) -> list[Any]:
    return list(okx.workspace.runtime.account("okx").connections.values())


def test_gap_is_stale_then_ws_again(host, okx) -> None:
    _stale_then_ws(host, okx, lambda f: f.gap(), "gaps")


def test_bad_checksum_is_stale_then_ws_again(host, okx) -> None:
    _stale_then_ws(host, okx, lambda f: f.bad_checksum(), "checksum_failed")


def test_stall_is_stale_within_the_window_then_ws_again(host, okx) -> None:
    okx.get_ticker(SYM)
    wait_for(lambda: okx.get_ticker(SYM).source == "ws", what="cached ticker")
    (conn,) = _connections(okx)
    window = conn.liveness.silent_s
    assert window <= 5.0
    t0 = time.monotonic()
    host.run(lambda: host["okx"].faults.stall(15.0))
    wait_for(lambda: not conn.link.live, timeout_s=window + 20, what="silent found")
    assert time.monotonic() - t0 <= window + 2.0 + 1.0  # + 1 s: the fault reaches the sim
    assert okx.get_ticker(SYM).source == "rest"
    wait_for(lambda: okx.get_ticker(SYM).source == "ws", what="resynced on a new connection")
    assert conn.connects >= 2


def test_private_reads_are_rest_on_a_miss(okx) -> None:
    """The first balance, positions and open orders reads answer from signed REST (the
    private stream they subscribe serves the next ones: test_okx_private_runtime.py)."""
    acct = okx.get_balance()
    assert acct.source == "rest" and acct.balances
    assert all(p.source == "rest" for p in okx.get_positions(market="swap"))
    assert all(o.source == "rest" for o in okx.get_orders())


def test_warm_up_checks_okx_symbols_and_warms_them() -> None:
    """Declared instIds are checked against OKX's instruments list; an unknown one is a
    ConfigError naming it; known ones are streamed before the first tick."""
    from spinstream.errors import ConfigError
    from spinstream.worker import Worker

    with SimHost("okx", seed=5, tick_interval=0.05) as h:
        ex = h["okx"]
        c = ex.credentials
        creds = Credentials.of(c["api_key"], c["api_secret"], c["passphrase"])
        bad = Workspace([AccountConfig(alias="okx", venue="okx", credentials=creds, urls=ex.urls,
                                       symbols=["NOPE-USDT"])])  # fmt: skip
        try:
            with pytest.raises(ConfigError, match="NOPE-USDT"):
                Worker(lambda ctx: None, bad, mode="server", interval=0.5).start()
        finally:
            bad.close()
        good = Workspace([AccountConfig(alias="okx", venue="okx", credentials=creds,
                                        urls=ex.urls, symbols=["BTC-USDT"])])  # fmt: skip
        seen: list[str] = []
        try:
            w = Worker(lambda ctx: seen.append(ctx.okx.get_ticker("BTC-USDT").source), good,
                       mode="server", interval=0.2).start()  # fmt: skip
            wait_for(lambda: seen, what="tick 0")
            w.stop()
            assert seen[0] == "ws", seen
        finally:
            good.close()

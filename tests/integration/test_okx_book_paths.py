"""OKX books over real sockets beyond the WS snapshot: `books5` / `bbo-tbt` chosen by the account's
`book_depth`, and the REST book stitched by seqId when the simulator sends no snapshot on
subscribe (OKX's announced 2026 behaviour), including after a gap."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from polling import wait_for
from spinstream.credentials import Credentials
from spinstream.ctx import Context
from spinstream.testing.host import SimHost
from spinstream.workspace import AccountConfig, Workspace

SYM = "BTC-USDT"


@pytest.fixture(scope="module")
def host() -> Iterator[SimHost]:
    with SimHost("okx", seed=11, tick_interval=0.05) as h:
        yield h


def _ctx(host: SimHost, **cfg: Any) -> tuple[Workspace, Any]:
    ex = host["okx"]
    c = ex.credentials
    creds = Credentials.of(c["api_key"], c["api_secret"], c["passphrase"])
    ws = Workspace(
        [AccountConfig(alias="okx", venue="okx", credentials=creds, urls=ex.urls, **cfg)]
    )
    return ws, Context(ws, "server").okx


def _protos(ws: Workspace) -> list[Any]:
    return [c.proto for c in ws.runtime.account("okx").connections.values()]


def _truth_top(host: SimHost, n: int) -> tuple[list[float], list[float]]:
    ex = host["okx"]
    book = host.run(lambda: ex.engine.book(ex.inst(SYM)))
    tick = float(ex.inst(SYM).tick_size)
    bids = [p * tick for p, _ in list(book.side(True))[:n]]
    asks = [p * tick for p, _ in list(book.side(False))[:n]]
    return bids, asks


@pytest.mark.parametrize(("depth", "channel"), [(5, "books5"), (1, "bbo-tbt")])
def test_top_channel_by_book_depth(host: SimHost, depth: int, channel: str) -> None:
    ws, okx = _ctx(host, book_depth=depth)
    try:
        okx.get_orderbook(SYM, depth)
        b = wait_for(
            lambda: (x := okx.get_orderbook(SYM, depth)).source == "ws" and x, what="ws book"
        )
        assert b.bids.shape == (depth, 2) and b.asks.shape == (depth, 2)
        assert b.bids[0, 0] < b.asks[0, 0]
        (p,) = _protos(ws)
        assert p.book_depth == depth and p.counters["rest_snapshots"] == 0
        assert (channel, SYM) in p._sent

        # the served top is the simulator's (within a few pushes)
        def matches() -> bool:
            ours = okx.get_orderbook(SYM, depth)
            bids, asks = _truth_top(host, depth)
            return (
                ours.source == "ws"
                and abs(ours.bids[0, 0] - bids[0]) < 1e-6
                and abs(ours.asks[0, 0] - asks[0]) < 1e-6
            )

        wait_for(matches, what="top equals the simulator's")
    finally:
        ws.close()


def test_rest_book_stitched_when_no_ws_snapshot(host: SimHost) -> None:
    ex = host["okx"]
    host.run(lambda: setattr(ex, "ws_book_snapshot", False))
    ws, okx = _ctx(host)
    try:
        okx.get_orderbook(SYM, 10)
        wait_for(lambda: okx.get_orderbook(SYM, 10).source == "ws", what="stitched book")
        (p,) = _protos(ws)
        assert p.counters["rest_snapshots_stitched"] >= 1
        # a gap: stale at once, resubscribed, no snapshot again: stitched from REST again
        n = p.counters["rest_snapshots_stitched"]
        host.run(lambda: ex.faults.gap())
        wait_for(lambda: p.counters["gaps"] >= 1, what="gap found")
        wait_for(lambda: p.counters["rest_snapshots_stitched"] > n, what="stitched again")
        wait_for(lambda: okx.get_orderbook(SYM, 10).source == "ws", what="book in sync again")

        def equal() -> bool:
            ours = okx.get_orderbook(SYM, 10)
            bids, asks = _truth_top(host, 10)
            return (
                ours.source == "ws"
                and [round(x, 6) for x in ours.bids[:, 0]] == [round(x, 6) for x in bids]
                and [round(x, 6) for x in ours.asks[:, 0]] == [round(x, 6) for x in asks]
            )

        wait_for(equal, what="the stitched book equals the simulator's")
    finally:
        host.run(lambda: setattr(ex, "ws_book_snapshot", True))
        ws.close()

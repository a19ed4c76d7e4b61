"""Simulated IG to every `ctx.ig` method, over real REST and a real TLCP 2.4.0 stream."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from polling import wait_for
from spinstream.credentials import Credentials
from spinstream.ctx import Context, IgClient
from spinstream.errors import ConfigError, NotAvailable, RateLimited, UnsupportedError
from spinstream.testing.host import SimHost
from spinstream.transport.clock import SimClock
from spinstream.worker import Worker
from spinstream.workspace import AccountConfig, Workspace

EPIC = "CS.D.EURUSD.CFD.IP"


@pytest.fixture(scope="module")
def ig_host() -> Iterator[SimHost]:
    with SimHost("ig", seed=3, tick_interval=0.05) as h:
        yield h


@pytest.fixture
def ws(ig_host: SimHost) -> Iterator[Workspace]:
    c = ig_host["ig"].credentials
    w = Workspace(
        [
            AccountConfig(
                alias="ig", venue="ig", env="demo", identifier=c["identifier"],
                credentials=Credentials.of(c["api_key"], c["password"]), urls=ig_host["ig"].urls,
            )
        ]
    )  # fmt: skip
    yield w
    w.close()


def ready(fn):
    """Call FN until the stream has data (NotAvailable until then)."""

    def attempt():
        try:
            return fn()
        except NotAvailable:
            return None

    return wait_for(attempt, what=getattr(fn, "__name__", "stream data"))


def test_ctx_ig_is_the_ig_client(ws) -> None:
    assert isinstance(Context(ws).ig, IgClient)


def test_browser_mode_is_refused(ws) -> None:
    with pytest.raises(UnsupportedError, match="server-only"):
        Context(ws, mode="browser")


def test_cached_reads_rest_then_stream(ws) -> None:
    ig = Context(ws).ig
    assert ig.get_accounts()[0].source == "rest"
    assert ig.get_positions() == [] or ig.get_positions()[0].source
    ig.get_orders()
    wait_for(lambda: ig.get_accounts()[0].source == "ws", what="ACCOUNT item")
    wait_for(lambda: ig._store.positions("ig", "otc") is not None, what="TRADE seeded")
    info = ig.get_market_info(EPIC)
    assert info.source == "rest" and info.epic == EPIC and info.bid < info.offer
    live = wait_for(lambda: (m := ig.get_market_info(EPIC)).source == "ws" and m, what="PRICE")
    assert live.name == info.name and live.bid < live.offer


def test_streaming_reads_subscribe_then_answer(ws) -> None:
    ig = Context(ws).ig
    with pytest.raises(NotAvailable):
        ig.get_streaming_market("IX.D.FTSE.DAILY.IP")
    t = ready(lambda: ig.get_streaming_market("IX.D.FTSE.DAILY.IP"))
    assert t.source == "ws" and t.bid < t.ask
    ticks = ready(lambda: ig.get_streaming_ticks(EPIC))
    assert ticks.dtype.names == ("ts", "bid", "ask") and (ticks["bid"] <= ticks["ask"]).all()
    wait_for(lambda: len(ig.get_streaming_ticks(EPIC)) > 3, what="more ticks")
    bars = ready(lambda: ig.get_streaming_candles(EPIC, "1MINUTE"))
    assert bars.dtype.names[:5] == ("start", "open", "high", "low", "close")
    assert (bars["low"] <= bars["high"]).all()
    built = ready(lambda: ig.get_streaming_candles(EPIC, "5s"))  # not an IG scale: from ticks
    assert (np.diff(built["start"]) > 0).all() and (built["low"] <= built["high"]).all()
    with pytest.raises(ValueError):
        ig.get_streaming_candles(EPIC, "7 minutes")


def test_deal_confirms_positions_and_orders(ws) -> None:
    ig = Context(ws).ig
    ig.get_trade_confirms()  # subscribes the TRADE item's confirms
    ig.get_positions()
    ig.get_orders()
    wait_for(lambda: ig._store.positions("ig", "otc") is not None, what="TRADE seeded")
    wait_for(lambda: ig._store.orders("ig", "otc") is not None, what="orders seeded")
    o = ig.place_order(EPIC, "buy", "market", 1)
    assert o.status == "filled" and o.source == "rest"
    wait_for(lambda: any(c.deal_id == o.order_id for c in ig.get_trade_confirms()), what="CONFIRMS")
    pos = wait_for(lambda: [p for p in ig.get_positions() if p.symbol == EPIC], what="OPU")
    assert pos[0].source == "ws" and pos[0].size > 0
    price = ig.get_market_info(EPIC).bid * 0.9
    w = ig.place_order(EPIC, "buy", "limit", 1, price=round(price, 1))
    assert w.status == "new"
    wait_for(lambda: [x for x in ig.get_orders() if x.order_id == w.order_id], what="WOU")
    assert ig.cancel_order(EPIC, w.order_id).status == "canceled"
    wait_for(lambda: not [x for x in ig.get_orders() if x.order_id == w.order_id], what="deleted")


def test_subscription_limit_is_a_clear_error(ws) -> None:
    ig = Context(ws).ig
    epics = [f"CS.D.FAKE{i:02d}.CFD.IP" for i in range(45)]
    with pytest.raises(ConfigError, match="40"):
        ig.add_streaming_epics(epics)


def test_reconnect_resubscribes_and_marks_stale_between(ig_host, ws) -> None:
    ig = Context(ws).ig
    ready(lambda: ig.get_streaming_market(EPIC))
    store = ws.runtime.store
    stale = store.counts["stale_marks"]
    ig_host.run(lambda: ig_host["ig"].faults.drop())
    wait_for(lambda: store.counts["stale_marks"] > stale, what="stale on drop")
    wait_for(lambda: ig.get_market_info(EPIC).source == "ws", what="PRICE again")
    t = ready(lambda: ig.get_streaming_market(EPIC))
    assert t.bid < t.ask


def test_polling_positions_for_a_simulated_hour_makes_no_rest_call(ig_host, ws) -> None:
    """1 Hz `get_positions()` for an hour of simulated time: all from the TRADE stream."""
    sources: set[str] = set()
    clock = SimClock()

    def poll(ctx) -> None:
        for p in ctx.ig.get_positions():
            sources.add(p.source)

    worker = Worker(poll, ws, interval=1.0, clock=clock)
    assert worker.warm()["ig"].ok  # the warm-up seeds TRADE (positions, orders) and ACCOUNT
    sim = ig_host["ig"]
    before = ig_host.run(lambda: sim.stats.rest_total)
    worker.run(duration=3600)
    assert worker.iterations >= 3600 and worker.errors == 0
    assert ig_host.run(lambda: sim.stats.rest_total) == before
    assert sources <= {"ws"}
    assert ws.runtime.account("ig").counts["hit:positions"] >= 3600


def test_rest_budget_spent_fails_fast_by_choice(ig_host) -> None:
    """With fail-fast chosen, a spent IG budget is a clear local error, never IG's 403."""
    c = ig_host["ig"].credentials
    fast = Workspace(
        [
            AccountConfig(
                alias="ig", venue="ig", env="demo", identifier=c["identifier"], rest_wait_s=0,
                credentials=Credentials.of(c["api_key"], c["password"]), urls=ig_host["ig"].urls,
            )
        ]
    )  # fmt: skip
    try:
        ig = Context(fast, mode="server").ig
        with pytest.raises(RateLimited) as info:
            for _ in range(100):
                ig._run(ig._calls.positions("otc", None))  # REST each time: the cache bypassed
        assert info.value.code == "local" and "budget" in str(info.value)
        assert ig_host.run(lambda: ig_host["ig"].stats.rate_limited) == 0  # never IG's 403
    finally:
        fast.close()


def test_decimals_lookup_reads_the_snapshot_only_answer(ws) -> None:
    """The stream's batched SNAPSHOT_ONLY markets lookup (instrument null) is understood."""
    ig = Context(ws).ig
    ready(lambda: ig.get_streaming_market(EPIC))
    conn = next(iter(ws.runtime.account("ig").connections.values()))
    wait_for(lambda: conn.proto.counters.get("decimal_lookups", 0) >= 1, what="a lookup")
    wait_for(lambda: not conn.proto._lookup_rids, what="its answer")
    assert conn.proto.counters.get("lookup_failed", 0) == 0

"""OKX private streams, simulator to ctx over real sockets (server mode): balance, positions and
open orders answer from REST on a miss, then from the `/ws/v5/private` stream (login, account and
positions snapshots, orders seeded from REST); a placed order shows up from the stream and leaves
it when cancelled; a refused login is retried and the reads come back to the stream; a dropped
connection makes them stale, then cached again; demo accounts stream from the `wspap` host."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from polling import wait_for
from spinstream.credentials import Credentials
from spinstream.ctx import Context
from spinstream.errors import AuthError
from spinstream.testing.host import SimHost
from spinstream.workspace import AccountConfig, Workspace

SYM = "BTC-USDT"
SWAP = "BTC-USDT-SWAP"
DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def host() -> Iterator[SimHost]:
    with SimHost("okx", seed=8, tick_interval=0.05) as h:
        yield h


@pytest.fixture
def workspace(host: SimHost) -> Iterator[Callable[..., Workspace]]:
    made: list[Workspace] = []

    def make(env: str = "live", bad_secret: bool = False) -> Workspace:
        ex = host["okx"]
        c = ex.demo_credentials if env == "demo" else ex.credentials
        secret = "not-the-secret" if bad_secret else c["api_secret"]
        creds = Credentials.of(c["api_key"], secret, c["passphrase"])
        ws = Workspace(
            [AccountConfig(alias="okx", venue="okx", env=env, credentials=creds, urls=ex.urls)]
        )
        made.append(ws)
        return ws

    yield make
    for ws in made:
        ws.close()


def _proto(ws: Workspace, market: str) -> Any:
    acct = ws.runtime.account("okx")
    conn = wait_for(lambda: acct.connections.get(("OkxPrivate", market)), DEADLINE_S, "conn")
    return conn.proto


def _all_ws(items: list[Any]) -> bool:
    return all(x.source == "ws" for x in items)


def test_private_reads_rest_on_miss_then_from_the_stream(workspace) -> None:
    ws = workspace()
    okx = Context(ws, "server").okx
    assert okx.get_balance().source == "rest"
    acct = wait_for(lambda: (a := okx.get_balance()).source == "ws" and a, DEADLINE_S, "balance")
    assert acct.balances["USDT"].free > 0 and acct.equity and acct.market == "spot"
    okx.get_positions(market="swap")
    okx.get_orders()
    store = ws.runtime.store
    wait_for(lambda: store.positions("okx", "swap") is not None, DEADLINE_S, "positions seeded")
    wait_for(lambda: store.orders("okx", "spot") is not None, DEADLINE_S, "orders seeded")
    assert okx.get_balance(market="swap").source in ("rest", "ws")
    wait_for(lambda: okx.get_balance(market="swap").source == "ws", DEADLINE_S, "swap balance")
    proto = _proto(ws, "spot")
    assert proto.counters["seed_requests"] >= 1 and proto.problem is None


def test_placed_order_shows_from_the_stream_and_leaves_when_cancelled(workspace) -> None:
    ws = workspace()
    okx = Context(ws, "server").okx
    okx.get_orders()  # subscribes the private stream
    store = ws.runtime.store
    wait_for(lambda: store.orders("okx", "spot") is not None, DEADLINE_S, "orders seeded")
    bid = okx.get_ticker(SYM).bid
    placed = okx.place_order(SYM, "buy", "limit", 0.001, price=round(bid * 0.8, 1))
    assert placed.order_id
    mine = wait_for(
        lambda: [o for o in okx.get_orders() if o.order_id == placed.order_id and _all_ws([o])],
        DEADLINE_S, "the order from the stream",
    )  # fmt: skip
    assert mine[0].status == "new" and mine[0].quantity == pytest.approx(0.001)
    okx.cancel_order(SYM, placed.order_id)
    wait_for(
        lambda: all(o.order_id != placed.order_id for o in okx.get_orders())
        and store.orders("okx", "spot") is not None,
        DEADLINE_S, "the order gone from the stream",
    )  # fmt: skip


def test_swap_position_from_the_stream(workspace) -> None:
    ws = workspace()
    okx = Context(ws, "server").okx
    okx.get_positions(market="swap")
    store = ws.runtime.store
    wait_for(lambda: store.positions("okx", "swap") is not None, DEADLINE_S, "positions seeded")
    before = {p.symbol: p.size for p in okx.get_positions(market="swap")}
    okx.place_order(SWAP, "buy", "market", 1, market="swap")  # 1 contract
    pos = wait_for(
        lambda: [p for p in okx.get_positions(market="swap")
                 if p.symbol == SWAP and p.size != before.get(SWAP, 0.0)],
        DEADLINE_S, "the position from the stream",
    )  # fmt: skip
    assert pos[0].source == "ws"
    okx.place_order(SWAP, "sell", "market", 1, market="swap")  # flat again


def test_refused_login_is_retried_and_reads_come_back_to_the_stream(host, workspace) -> None:
    ws = workspace()
    okx = Context(ws, "server").okx
    okx.get_balance()
    okx.get_orders()
    store = ws.runtime.store
    wait_for(lambda: store.account("okx", "spot") is not None, DEADLINE_S, "account streamed")
    wait_for(lambda: store.orders("okx", "spot") is not None, DEADLINE_S, "orders seeded")
    proto = _proto(ws, "spot")
    host.run(lambda: host["okx"].faults.reject_auth(1))
    host.run(lambda: host["okx"].faults.drop())
    wait_for(lambda: proto.counters["auth_failed"] >= 1, DEADLINE_S, "the login refused")
    wait_for(lambda: okx.get_balance().source == "ws", DEADLINE_S, "balance from the stream")
    wait_for(lambda: store.orders("okx", "spot") is not None, DEADLINE_S, "orders again")
    assert proto.problem is None


def test_permanent_refusal_is_rest_auth_error_and_backs_off(workspace) -> None:
    ws = workspace(bad_secret=True)
    okx = Context(ws, "server").okx
    with pytest.raises(AuthError):
        okx.get_balance()  # REST refused; the private stream is subscribed anyway
    proto = _proto(ws, "spot")
    wait_for(lambda: proto.counters["auth_failed"] >= 2, DEADLINE_S, "two refusals")
    assert proto.problem is not None and "refused" in proto.problem
    n0 = proto.counters["auth_failed"]
    time.sleep(3.0)  # after two refusals the delays are >= 2 s: never a tight loop
    assert proto.counters["auth_failed"] - n0 <= 2
    secret = ws.accounts["okx"].credentials.api_secret.reveal()
    assert secret not in proto.problem and secret not in repr(proto)


def test_drop_is_stale_then_from_the_stream_again(host, workspace) -> None:
    ws = workspace()
    okx = Context(ws, "server").okx
    okx.get_balance()
    wait_for(lambda: okx.get_balance().source == "ws", DEADLINE_S, "balance streamed")
    proto = _proto(ws, "spot")
    store = ws.runtime.store
    before = store.counts["stale_marks"]
    host.run(lambda: host["okx"].faults.drop())
    wait_for(lambda: store.counts["stale_marks"] > before, DEADLINE_S, "stale")
    wait_for(lambda: okx.get_balance().source == "ws", DEADLINE_S, "balance streamed again")
    assert proto.counters["pongs"] >= 0 and proto.state.name == "LIVE"


def test_demo_account_streams_from_the_wspap_host(workspace) -> None:
    ws = workspace(env="demo")
    okx = Context(ws, "server").okx
    okx.get_balance()
    okx.get_orders()
    wait_for(lambda: okx.get_balance().source == "ws", DEADLINE_S, "demo balance streamed")
    store = ws.runtime.store
    wait_for(lambda: store.orders("okx", "spot") is not None, DEADLINE_S, "demo orders seeded")
    conn = ws.runtime.account("okx").connections[("OkxPrivate", "spot")]
    assert "/wspap/" in conn._target()  # noqa: SLF001 - where it connected
    assert conn.proto.counters["seed_failed"] == 0  # the seed carried the demo header


def test_warm_up_streams_the_private_kinds_before_tick_0(host) -> None:
    """A server-mode worker of an OKX account with credentials: its warm-up subscribes the
    private streams (account on every market, positions on swap and futures, orders), and tick 0
    reads them from the cache, no REST fallback."""
    from spinstream.worker import Worker

    ex = host["okx"]
    c = ex.credentials
    creds = Credentials.of(c["api_key"], c["api_secret"], c["passphrase"])
    ws = Workspace([AccountConfig(alias="okx", venue="okx", credentials=creds, urls=ex.urls,
                                  symbols=[SYM])])  # fmt: skip
    seen: list[dict[str, str]] = []
    try:

        def tick(ctx: Context) -> None:
            if seen:
                return
            o, store = ctx.okx, ws.runtime.store
            o.get_positions(market="swap")
            seen.append({
                "balance": o.get_balance().source,
                "balance swap": o.get_balance(market="swap").source,
                "positions swap": "ws" if store.positions("okx", "swap") is not None else "rest",
                "orders": "ws" if store.orders("okx", "spot") is not None else "rest",
            })  # fmt: skip

        w = Worker(tick, ws, mode="server", interval=0.2).start()
        wait_for(lambda: seen, DEADLINE_S, "tick 0")
        w.stop()
        assert all(src == "ws" for src in seen[0].values()), seen
        assert w.warmup is not None and w.warmup["okx"].ok, w.warmup
        kinds = {(i.market, i.kind) for i in w.warmup["okx"].items if i.symbol is None}
        assert {("spot", "account"), ("swap", "positions"), ("futures", "orders")} <= kinds
        assert ("spot", "positions") not in kinds
    finally:
        ws.close()

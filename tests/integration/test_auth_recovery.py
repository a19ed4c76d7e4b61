"""Logins and WebSocket auth over the simulators, end to end (issue 9, defects 1 and 3).

- IG: a fresh workspace whose first call is `get_market_info` logs in (it raised AuthError).
- A refused login / WS auth that the next try would pass (`faults.reject_auth(1)`) no longer
  leaves the private stream off for good: the protocol retries after its backoff and the
  private reads come back to `source="ws"` (IG login, Bybit private auth, Binance spot user
  data subscription).
- Refused for good (bad secret or password): reads fall back to REST, which raises AuthError
  clearly; the protocol says why in `problem` and retries slowly (never a tight loop); the
  runtime goes on serving public data.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from polling import wait_for
from spinstream.credentials import Credentials
from spinstream.ctx import Context
from spinstream.errors import AuthError, NotAvailable
from spinstream.testing.host import SimHost
from spinstream.workspace import AccountConfig, Workspace

EPIC = "CS.D.EURUSD.CFD.IP"
DEADLINE_S = 30.0  # generous: the suite must pass beside a CPU hog on 2 cores


@pytest.fixture(scope="module")
def ig_host() -> Iterator[SimHost]:
    with SimHost("ig", seed=5, tick_interval=0.05) as h:
        yield h


@pytest.fixture
def ig_ws(ig_host: SimHost) -> Iterator[Callable[..., Workspace]]:
    made: list[Workspace] = []

    def make(password: str | None = None) -> Workspace:
        c = ig_host["ig"].credentials
        creds = Credentials.of(c["api_key"], password or c["password"])
        acct = AccountConfig(
            alias="ig", venue="ig", env="demo", identifier=c["identifier"], credentials=creds,
            urls=ig_host["ig"].urls,
        )  # fmt: skip
        ws = Workspace([acct])
        made.append(ws)
        return ws

    yield make
    for ws in made:
        ws.close()


def proto_of(ws: Workspace, alias: str, cls_name: str) -> Any:
    """The protocol object of ALIAS's connection of class CLS_NAME (once it exists)."""
    acct = ws.runtime.account(alias)
    return wait_for(
        lambda: next((c.proto for (n, _), c in acct.connections.items() if n == cls_name), None),
        DEADLINE_S,
        f"a {cls_name} connection",
    )


def hits(ws: Workspace, alias: str, kind: str) -> int:
    return int(ws.runtime.account(alias).counts[f"hit:{kind}"])


# -- defect 1: the first call logs in ------------------------------------------------------------


def test_ig_get_market_info_as_the_first_call_logs_in(ig_ws) -> None:
    ig = Context(ig_ws()).ig
    info = ig.get_market_info(EPIC)
    assert info.epic == EPIC and info.source == "rest" and info.bid < info.offer


def test_ig_first_calls_at_once_all_log_in(ig_ws) -> None:
    ws = ig_ws()
    ig = Context(ws).ig
    out: list[Any] = []

    def first_call() -> None:
        out.append(ig.get_market_info(EPIC).epic)

    async def async_first_call() -> None:  # the async client has no get_market_info: a ticker
        out.append((await ws.aclient("ig").get_ticker(EPIC)).symbol)

    threads = [threading.Thread(target=first_call)]
    threads.append(threading.Thread(target=asyncio.run, args=(async_first_call(),)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S)
    assert out == [EPIC] * 2


# -- defect 3: a transient refusal is retried ----------------------------------------------------


def test_ig_refused_login_is_retried_and_private_reads_come_back_to_ws(ig_host, ig_ws) -> None:
    ws = ig_ws()
    ig = Context(ws).ig
    ig_host.run(lambda: ig_host["ig"].faults.reject_auth(1))
    with pytest.raises(NotAvailable):  # a stream-only read: the stream's own login is the 1st
        ig.get_streaming_market(EPIC)
    proto = proto_of(ws, "ig", "IgStream")
    wait_for(lambda: proto.counters.get("login_refused", 0) >= 1, DEADLINE_S, "the refusal")
    wait_for(lambda: proto.counters.get("logged_in", 0) >= 1, DEADLINE_S, "the login retried")
    tick = wait_for(lambda: _streamed(ig.get_streaming_market, EPIC), DEADLINE_S, "PRICE")
    assert tick.source == "ws"
    # the private kinds on the same stream (subscribed as a miss would, without the REST call:
    # IG demo allows 10 non-trading calls a minute), then read from the cache
    acct = ws.runtime.account("ig")
    for kind in ("account", "positions", "orders"):
        ws.runtime.call(acct.subscribe_now("otc", kind, None))
    store = ws.runtime.store
    wait_for(lambda: store.account("ig", "otc") is not None, DEADLINE_S, "ACCOUNT item")
    wait_for(lambda: store.positions("ig", "otc") is not None, DEADLINE_S, "positions seeded")
    wait_for(lambda: store.orders("ig", "otc") is not None, DEADLINE_S, "orders seeded")
    assert ig.get_balance().source == "ws"
    before = (hits(ws, "ig", "positions"), hits(ws, "ig", "orders"))
    ig.get_positions(), ig.get_orders()
    assert (hits(ws, "ig", "positions"), hits(ws, "ig", "orders")) == (before[0] + 1, before[1] + 1)
    assert proto.problem is None


def _streamed(fn: Callable[[str], Any], epic: str) -> Any:
    try:
        return fn(epic)
    except NotAvailable:
        return None


@pytest.mark.parametrize(
    "venue,cls_name,counter,market,kinds",
    [
        ("bybit", "BybitPrivate", "auth_failed", "linear", ("account", "positions", "orders")),
        ("binance", "BinanceSpotUser", "auth_failures", "spot", ("account", "orders")),
    ],
)
def test_refused_ws_auth_is_retried_and_private_reads_come_back_to_ws(
    host, workspace, venue, cls_name, counter, market, kinds
) -> None:
    ws = workspace(venue)
    c = getattr(Context(ws), venue)
    read = {
        "account": lambda: c.get_balance(market=market),
        "positions": lambda: c.get_positions(market=market),
        "orders": lambda: c.get_orders(market=market),
    }
    for kind in kinds:
        read[kind]()  # REST, then the private stream is subscribed
    store = ws.runtime.store
    cached = {"account": store.account, "positions": store.positions, "orders": store.orders}
    for kind in kinds:  # every seed answered: no REST call of the stream's own is in flight
        wait_for(lambda k=kind: cached[k](venue, market) is not None, DEADLINE_S, f"{kind} seeded")
    proto = proto_of(ws, venue, cls_name)
    # the next auth is refused once: reconnecting, the stream's auth takes the fault (no read
    # meanwhile, so no REST call can take it first)
    host.run(lambda: host[venue].faults.reject_auth(1))
    host.run(lambda: host[venue].faults.drop())
    wait_for(lambda: proto.counters.get(counter, 0) >= 1, DEADLINE_S, "the auth refused")
    assert proto.problem is None or "refused" in proto.problem
    wait_for(lambda: c.get_balance(market=market).source == "ws", DEADLINE_S, "account again")
    for kind in kinds:
        before = hits(ws, venue, kind)
        wait_for(
            lambda k=kind, b=before: read[k]() is not None and hits(ws, venue, k) > b,
            DEADLINE_S, f"{kind} from the stream again",
        )  # fmt: skip
    assert proto.problem is None


# -- defect 3: refused for good ------------------------------------------------------------------


@pytest.mark.parametrize(
    "venue,cls_name,counter", [("bybit", "BybitPrivate", "auth_failed"),
                               ("binance", "BinanceSpotUser", "auth_failures")],
)  # fmt: skip
def test_permanent_ws_refusal_falls_back_to_rest_auth_error_and_backs_off(
    host, workspace, venue, cls_name, counter
) -> None:
    ws = workspace(venue, bad_secret=True)
    c = getattr(Context(ws), venue)
    with pytest.raises(AuthError):
        c.get_balance()  # REST refused; the private stream is subscribed anyway
    proto = proto_of(ws, venue, cls_name)
    wait_for(lambda: proto.counters.get(counter, 0) >= 2, DEADLINE_S, "two refusals")
    assert proto.problem is not None and "refused" in proto.problem
    with pytest.raises(AuthError):
        c.get_balance()  # never served from the stream
    n0 = proto.counters[counter]
    time.sleep(3.0)  # a window to count attempts in: after two refusals the delays are >= 2 s
    assert proto.counters[counter] - n0 <= 2  # never a tight loop
    secret = ws.accounts[venue].credentials.api_secret.reveal()
    assert secret not in proto.problem
    t = c.get_ticker("BTCUSDT")  # the runtime goes on
    assert t.bid < t.ask


def test_ig_permanent_refusal_is_a_clear_auth_error_without_hammering(ig_host, ig_ws) -> None:
    ws = ig_ws(password="not-the-password")
    ig = Context(ws).ig
    failures_before = ig_host["ig"].stats.auth_failures
    start = time.monotonic()
    with pytest.raises(AuthError):
        ig.get_balance()  # REST login refused; the stream is subscribed anyway
    with pytest.raises(AuthError, match="login not retried"):
        ig.get_balance()  # within the login's backoff: IG is not asked again
    proto = proto_of(ws, "ig", "IgStream")
    wait_for(lambda: proto.counters.get("login_refused", 0) >= 2, DEADLINE_S, "two refusals")
    assert proto.problem is not None and "login refused" in proto.problem
    errors: list[str] = []
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:  # a strategy polling at 50 Hz
        with pytest.raises(AuthError) as info:
            ig.get_balance()
        errors.append(str(info.value))
        time.sleep(0.02)
    elapsed = time.monotonic() - start
    refused = ig_host["ig"].stats.auth_failures - failures_before
    # REST logins wait for their backoff (1 s doubling), the stream's likewise: each side
    # tries about log2(elapsed) + 1 times, never once per read
    assert refused <= 2 * (math.log2(elapsed + 1) + 2), (refused, elapsed, len(errors))
    assert not any("not-the-password" in e for e in errors + [proto.problem])

"""An OKX account with env="demo": its ctx REST fallbacks carry `x-simulated-trading: 1`, so
they reach the simulator's demo trading (public and private), never live's.

Regression: ctx built the REST fallbacks without the demo header, so a demo key's signed
balance read was refused (OKX 50101, the key of the other environment) and public reads went
to live. The sim decides live vs demo by that header alone (sims/okx/routes.py `_group`); the
test records its decisions per request path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from polling import wait_for
from spinstream.credentials import Credentials
from spinstream.ctx import Context
from spinstream.protocol.okx import rest
from spinstream.protocol.okx.auth import DEMO_HEADER
from spinstream.testing.host import SimHost
from spinstream.workspace import AccountConfig, Workspace

SYM = "BTC-USDT"


@pytest.fixture(scope="module")
def host() -> Iterator[tuple[SimHost, list[tuple[str, str]]]]:
    """A sim whose live / demo choice of every REST call is recorded as (path, group)."""
    with SimHost("okx", seed=11, tick_interval=0.05) as h:
        sim = h["okx"]
        seen: list[tuple[str, str]] = []
        decide = sim._group  # noqa: SLF001 - the sim's own rule, observed, not replaced

        def group(request: Any) -> str:
            g = decide(request)
            seen.append((request.path, g))
            return str(g)

        sim._group = group  # noqa: SLF001
        yield h, seen


def _ctx(host: SimHost, env: str) -> tuple[Any, Workspace]:
    ex = host["okx"]
    c = ex.demo_credentials if env == "demo" else ex.credentials
    creds = Credentials.of(c["api_key"], c["api_secret"], c["passphrase"])
    ws = Workspace(
        [AccountConfig(alias="okx", venue="okx", env=env, credentials=creds, urls=ex.urls)]
    )
    return Context(ws, "server").okx, ws


def test_for_env_adds_the_demo_header_only_in_demo() -> None:
    req = rest.build_ticker("spot", SYM)
    assert DEMO_HEADER[0] not in req.headers
    demo = rest.for_env(req, "demo")
    assert demo.headers[DEMO_HEADER[0]] == DEMO_HEADER[1]
    assert rest.for_env(demo, "demo").headers == demo.headers  # idempotent
    assert rest.for_env(req, "live") is req


def test_demo_ticker_miss_reaches_the_demo_side(host) -> None:
    h, seen = host
    okx, ws = _ctx(h, "demo")
    try:
        del seen[:]
        t = okx.get_ticker(SYM)
        assert t.source == "rest" and t.bid < t.ask and t.symbol == SYM
        tickers = [g for p, g in seen if p == "/api/v5/market/ticker"]
        assert tickers == ["demo"], seen
        # and the stream (demo's wspap host) takes over
        wait_for(lambda: okx.get_ticker(SYM).source == "ws", what="cached demo ticker")
        assert all(g == "demo" for _p, g in seen), seen  # instruments, time: demo too
    finally:
        ws.close()


def test_demo_balance_is_the_demo_accounts(host) -> None:
    h, seen = host
    sim = h["okx"]
    want = {g: float(sim.balance_json(g, ["USDT"])["details"][0]["cashBal"])
            for g in ("live", "demo")}  # fmt: skip
    assert want["live"] != want["demo"], want  # the two accounts are told apart
    okx, ws = _ctx(h, "demo")
    try:
        del seen[:]
        acct = okx.get_balance()
        assert acct.source == "rest", acct
        assert acct.balance("USDT").total == pytest.approx(want["demo"])
        assert ("/api/v5/account/balance", "demo") in seen, seen
        assert all(g == "demo" for _p, g in seen), seen
    finally:
        ws.close()
    live, ws = _ctx(h, "live")  # the live account, for contrast: no header, live's balance
    try:
        del seen[:]
        assert live.get_balance().balance("USDT").total == pytest.approx(want["live"])
        assert ("/api/v5/account/balance", "live") in seen
    finally:
        ws.close()

"""Integration fixtures: simulated venues on their own loop thread, workspaces pointed at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from spinstream.credentials import Credentials
from spinstream.testing.host import SimHost
from spinstream.workspace import AccountConfig, Workspace


@pytest.fixture(scope="module")
def host() -> Iterator[SimHost]:
    with SimHost("binance", "bybit", seed=7, tick_interval=0.05) as h:
        yield h


@pytest.fixture
def workspace(host: SimHost) -> Iterator[Callable[..., Workspace]]:
    """A factory: workspace(venue, ...) -> a Workspace on the simulator (closed after the test)."""
    made: list[Workspace] = []

    def make(*venues: str, bad_secret: bool = False) -> Workspace:
        accounts = []
        for v in venues:
            ex = host[v]
            c = ex.credentials
            secret = "0" * len(c["api_secret"]) if bad_secret else c["api_secret"]
            accounts.append(
                AccountConfig(
                    alias=v, venue=v, credentials=Credentials.of(c["api_key"], secret), urls=ex.urls
                )
            )
        ws = Workspace(accounts)
        made.append(ws)
        return ws

    yield make
    for ws in made:
        ws.close()

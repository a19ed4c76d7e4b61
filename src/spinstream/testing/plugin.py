"""pytest plugin: test a strategy against simulated venues on 127.0.0.1, with faults at hand.

Installed with spinstream (the `pytest11` entry point `spinstream`), so a user's tests need no
conftest. Name the venues with a marker (default: binance and bybit) and take a fixture:

    import pytest

    @pytest.mark.spinstream_venues("binance", "bybit")
    def test_my_strategy(spinstream_ctx, spinstream_sims):
        tick(spinstream_ctx)                          # ctx.binance, ctx.bybit: the simulators
        spinstream_sims.faults("binance").drop()      # fault injection, on the sims' own loop

Fixtures (function-scoped: each test gets fresh simulators, stopped after it):

- `spinstream_sims`: `SimVenues`, the started simulators: `sims["binance"]` (urls, credentials,
  stats), `sims.faults(venue)`, `sims.run(fn)`, `sims.workspace(**options)`, `sims.wait_for`.
- `spinstream_workspace`: a `Workspace` with one account per venue (ctx name = venue name)
  pointed at the simulators with the credentials they accept.
- `spinstream_ctx`: the sync `Context` (server mode) of that workspace.

The marker takes simulator options too: `@pytest.mark.spinstream_venues("okx", seed=3,
tick_interval=0.05)`. Every name the plugin adds starts with `spinstream_`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from spinstream.testing.polling import wait_for

if TYPE_CHECKING:
    from spinstream.ctx import Context
    from spinstream.testing.host import SimHost
    from spinstream.workspace import Workspace

__all__ = ["SimVenues", "DEFAULT_VENUES"]

T = TypeVar("T")

#: the venues a test gets when it names none
DEFAULT_VENUES: tuple[str, ...] = ("binance", "bybit")
MARKER = "spinstream_venues"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (the project runs with --strict-markers; users may too)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*venues, seed=0, tick_interval=0.05, ...): the simulated venues the "
        "spinstream_* fixtures start for this test (default: binance, bybit)",
    )


class _OnLoop:
    """Calls every method of TARGET on the simulators' event loop (their own thread) and
    returns its result: sim state is not thread-safe, a strategy test runs on another thread."""

    def __init__(self, host: SimHost, target: Any) -> None:
        self._host = host
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._host.run(lambda: attr(*args, **kwargs))

        call.__doc__ = attr.__doc__
        return call

    def __repr__(self) -> str:
        return f"<on the sims' loop: {self._target!r}>"


class SimVenues:
    """Started simulators of the named venues, with workspaces wired to them.

    `sims[venue]` is the venue's `SimExchange` (`urls`, `credentials`, `stats`, `engine`);
    read its live state through `sims.run(fn)` and inject faults with `sims.faults(venue)`,
    which run on the simulators' loop. Workspaces made here are closed by `close()`.
    """

    __test__ = False

    def __init__(self, *venues: str, **sim_options: Any) -> None:
        from spinstream.testing.host import SimHost

        self.venues = tuple(dict.fromkeys(venues))
        self.host = SimHost(*self.venues, **sim_options)
        self._made: list[Workspace] = []

    def start(self) -> SimVenues:
        self.host.start()
        return self

    def __getitem__(self, venue: str) -> Any:
        return self.host[venue]

    def faults(self, venue: str) -> Any:
        """The venue's fault injection (`drop`, `stall`, `gap`, `malformed`, `lose`, `mutate`,
        `noise`, `reject_auth`, ...; see `spinstream.testing.sims.Faults`), run on the loop."""
        return _OnLoop(self.host, self.host[venue].faults)

    def run(self, fn: Callable[[], T], timeout_s: float = 10.0) -> T:
        """Call FN on the simulators' loop (engine state, counters) and return its result."""
        return self.host.run(fn, timeout_s)

    def account(self, venue: str, **options: Any) -> Any:
        """An `AccountConfig` named VENUE, pointed at its simulator with the credentials it
        accepts; OPTIONS are the account's other fields (`silent_s`, `symbols`, ...)."""
        from spinstream.credentials import Credentials
        from spinstream.workspace import AccountConfig

        ex = self.host[venue]
        c = ex.credentials
        base: dict[str, Any] = {"alias": venue, "venue": venue, "urls": ex.urls}
        if venue == "ig":  # IG logs in with an identifier and a password, on demo
            base |= {"env": "demo", "identifier": c["identifier"],
                     "credentials": Credentials.of(c["api_key"], c["password"])}  # fmt: skip
        else:
            base["credentials"] = Credentials.of(c["api_key"], c["api_secret"], c.get("passphrase"))
        return AccountConfig(**(base | options))

    def workspace(self, *venues: str, **options: Any) -> Workspace:
        """A `Workspace` over VENUES (default: all of them), each account with OPTIONS; closed
        when the test ends."""
        from spinstream.workspace import Workspace

        ws = Workspace([self.account(v, **options) for v in venues or self.venues])
        self._made.append(ws)
        return ws

    def ctx(self, *venues: str, mode: str = "server", **options: Any) -> Context:
        """The sync `Context` a strategy gets, over a new `workspace(*venues, **options)`."""
        from spinstream.ctx import Context

        return Context(self.workspace(*venues, **options), mode)

    #: poll a predicate until it returns something truthy, with a deadline
    wait_for = staticmethod(wait_for)

    def close(self) -> None:
        """Close the workspaces made here, then stop the simulators."""
        made, self._made = self._made, []
        try:
            for ws in made:
                ws.close()
        finally:
            self.host.stop()

    def __enter__(self) -> SimVenues:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _marked(request: pytest.FixtureRequest) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The venues and simulator options of the closest `spinstream_venues` marker."""
    mark = request.node.get_closest_marker(MARKER)
    venues = tuple(mark.args) if mark is not None and mark.args else DEFAULT_VENUES
    options: dict[str, Any] = {"tick_interval": 0.05}
    if mark is not None:
        options |= mark.kwargs
    from spinstream.testing.sims import VENUES

    unknown = [v for v in venues if v not in VENUES]
    if unknown:
        raise pytest.UsageError(
            f"{MARKER}: no simulator for {unknown}; known: {', '.join(sorted(VENUES))}"
        )
    return venues, options


@pytest.fixture
def spinstream_sims(request: pytest.FixtureRequest) -> Iterator[SimVenues]:
    """The simulators of the venues the test's `spinstream_venues` marker names (default:
    binance, bybit), started on 127.0.0.1 for this test and stopped after it."""
    venues, options = _marked(request)
    with SimVenues(*venues, **options) as sims:
        yield sims


@pytest.fixture
def spinstream_workspace(spinstream_sims: SimVenues) -> Workspace:
    """A `Workspace` with one account per simulated venue (ctx name = venue name)."""
    return spinstream_sims.workspace()


@pytest.fixture
def spinstream_ctx(spinstream_workspace: Workspace) -> Context:
    """The sync `Context` (server mode) of `spinstream_workspace`: `ctx.binance`, ..."""
    from spinstream.ctx import Context

    return Context(spinstream_workspace, "server")

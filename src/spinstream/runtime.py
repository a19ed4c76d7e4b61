"""The shared runtime of a workspace: one event-loop thread, its connections, REST clients, cache.

Strategy threads never touch the loop directly: they read the cache (`Store`) and hand work to
the loop with `call` (wait for a coroutine's result) or `submit` (fire and forget). Connections
are created on demand, one per venue account, protocol endpoint and market, and shared by every
worker of the workspace.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import sys
import threading
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from spinstream._core import Link
from spinstream.cache.store import Store
from spinstream.errors import AuthError, ConfigError, SpinstreamError, TransportError
from spinstream.protocol.events import RestRequest
from spinstream.protocol.limits import BudgetRegistry
from spinstream.protocol.retry import AuthRetry
from spinstream.transport.clock import Clock
from spinstream.transport.http import HttpClient, HttpResponse
from spinstream.transport.stream import StreamConnection
from spinstream.warmup import (
    PRIVATE_KINDS,
    PUBLIC_KINDS,
    WarmItem,
    Warmup,
    check_symbols,
    reason_of,
    terminal,
)

if TYPE_CHECKING:
    from spinstream.workspace import AccountConfig, Workspace

__all__ = ["AccountRuntime", "Runtime"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class AccountRuntime:
    """One venue account inside the runtime: its REST client, its stream connections."""

    def __init__(self, runtime: Runtime, cfg: AccountConfig) -> None:
        self.runtime = runtime
        self.cfg = cfg
        self.alias = cfg.alias
        self.venue = cfg.venue
        pkg = importlib.import_module(f"spinstream.protocol.{cfg.venue}")
        self.spec = pkg.SPEC
        self.rest = importlib.import_module(f"spinstream.protocol.{cfg.venue}.rest")
        # (market, kind) -> the protocol class (one per kind of connection) that streams it
        self.routes: dict[tuple[str, str], type] = pkg.PROTOCOLS
        # (market, kind) -> kinds subscribed along with it, same symbol (USD-M ticker: its stats)
        self.companions: dict[tuple[str, str], list[tuple[str, str]]] = getattr(
            pkg, "COMPANIONS", {}
        )
        bases = {
            market: cfg.resolve(envs[cfg.env])
            for market, envs in self.spec.rest_bases.items()
            if cfg.env in envs
        }
        # budgets the venue counts per IP or per API key are shared with the workspace's other
        # accounts they cover (one Bucket object each, from the runtime's registry)
        creds = cfg.credentials
        limiter = runtime.budgets.limiter(
            self.spec.limits(),
            venue=cfg.venue,
            env=cfg.env,
            hosts=tuple(sorted({urlsplit(b).netloc for b in bases.values()})),
            ids=BudgetRegistry.scope_ids(
                cfg.alias, creds.api_key if creds else None, cfg.identifier
            ),
        )
        self.http = HttpClient(cfg.venue, bases, limiter, runtime.clock)
        # a venue whose environments differ by what a request carries (OKX demo: a header on
        # the live host) says so in its rest module's `for_env(req, env)`; every REST call of
        # the account goes through it, whatever built the request
        self._for_env: Callable[[RestRequest, str], RestRequest] | None = getattr(
            self.rest, "for_env", None
        )
        self.http_bases = bases
        self.clock_offsets: dict[str, int] = {}  # market -> our clock - the venue's (ns)
        self._offset_asked: set[str] = set()  # markets whose server time was asked for
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections: dict[tuple[str, str], StreamConnection] = {}
        self.counts: Counter[str] = Counter()  # cache hits / REST fallbacks per kind
        # venues with a login session (IG): one per account, shared by REST calls and streams
        self.session: Any = None
        if hasattr(self.rest, "new_session") and cfg.credentials is not None:
            self.session = self.rest.new_session(cfg.credentials, cfg.identifier or "")
        self.wait_s: float | None = cfg.rest_wait_s  # budget spent: wait (None) or fail fast
        self._login_lock = asyncio.Lock()
        # a refused REST login is not tried again before its backoff (1 s doubling to 60 s):
        # a strategy polling with a refused password must not hammer the venue's login
        self._login_retry = AuthRetry()
        self._login_refusal: AuthError | None = None
        self._checked: set[tuple[str, str]] = set()  # (market, symbol) the venue lists

    @property
    def default_market(self) -> str:
        return str(self.spec.default_market)

    def market(self, market: str | None) -> str:
        m = market or self.default_market
        if m not in self.spec.markets:
            raise SpinstreamError(
                f"{self.venue} has no market {m!r} (markets: {self.spec.markets})"
            )
        return m

    # ------------------------------------------------------------------ streams (loop thread)

    def subscribe(self, market: str, kind: str, symbol: str | None) -> None:
        """Make sure (kind, symbol) of MARKET (and its COMPANIONS) is streamed; on the loop."""
        cls = self.routes.get((market, kind))
        if cls is None:
            return  # the venue does not stream this kind on this market: REST it stays
        conn = self._connection(cls, market)
        proto = conn.proto
        if (kind, symbol) not in proto.subscriptions():
            proto.subscribe(kind, symbol)
            conn.poke()
            for comp_market, comp_kind in self.companions.get((market, kind), ()):
                self.subscribe(comp_market, comp_kind, symbol)

    def _connection(self, cls: type, market: str) -> StreamConnection:
        key = (cls.__name__, market)
        conn = self.connections.get(key)
        if conn is None:
            if getattr(cls, "private", False) and self.cfg.credentials is None:
                raise SpinstreamError(f"{self.alias}: private data needs credentials")
            proto = cls(market, self.cfg.credentials, env=self.cfg.env, **self._extras(cls))
            env_bases = self.spec.ws_bases[proto.endpoint]
            base = self.cfg.resolve(env_bases[self.cfg.env])
            store, alias = self.runtime.store, self.alias
            name = f"{self.alias}:{cls.__name__}:{market}"
            link = Link(name)  # what the cache checks: items this connection feeds are served
            conn = StreamConnection(  # only while it is live (not silent, lagging or down)
                name,
                base,
                proto,
                lambda events: store.apply(alias, events, link),
                self.http,
                self.runtime.clock,
                link=link,
                silent_s=self.cfg.silent_s,
                lag_s=self.cfg.lag_s,
                ws_backend=self.cfg.ws_backend,
            )
            self.connections[key] = conn
            conn.start()
            self._estimate_offset(conn, market)
        return conn

    def _estimate_offset(self, conn: StreamConnection, market: str) -> None:
        """Seed CONN's clock offset from the venue's server time (once per market), where the
        venue has a time endpoint: our clock minus the venue's at the request's midpoint. The
        connection keeps the smallest of it and its own receive-minus-event samples."""
        build = getattr(self.rest, "build_server_time", None)
        if build is None or market not in self.http_bases:
            return
        known = self.clock_offsets.get(market)
        if known is not None:
            conn.offset_ns = known if conn.offset_ns is None else min(conn.offset_ns, known)
            return
        if market in self._offset_asked:  # one request per market: its answer sets them all
            return
        self._offset_asked.add(market)

        async def estimate() -> None:
            clock = self.runtime.clock
            try:
                t0 = clock.ns()
                resp = await self.http.send(self.env_request(build(market)), priority="stream")
                t1 = clock.ns()
                server = self.rest.parse_server_time(resp.body)
            except Exception as exc:  # noqa: BLE001 - the samples' minimum stands in
                self._offset_asked.discard(market)  # the next connection asks again
                log.info("%s: no server time for %s (%s): lag from samples only",
                         self.alias, market, type(exc).__name__)  # fmt: skip
                return
            offset = (t0 + t1) // 2 - server
            self.clock_offsets[market] = offset
            for (_, m), c in list(self.connections.items()):
                if m == market:
                    c.offset_ns = offset if c.offset_ns is None else min(c.offset_ns, offset)

        task = asyncio.get_running_loop().create_task(estimate())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _extras(self, cls: type) -> dict[str, Any]:
        """Constructor arguments some protocols take beyond the contract's (IG: its login)."""
        params = inspect.signature(cls).parameters
        extras = {
            "identifier": self.cfg.identifier,
            "session": self.session,
            "resolve": self.cfg.resolve,
        }
        depth = self.cfg.book_depth  # levels kept per book: Binance `max_depth`, Bybit's
        if depth is not None:  # `book_depth` (one of its topic depths: the smallest >= it)
            extras["max_depth"] = depth
            allowed = getattr(sys.modules.get(cls.__module__), "BOOK_DEPTHS", None)
            extras["book_depth"] = (
                min((d for d in allowed if d >= depth), default=max(allowed)) if allowed else depth
            )
        return {k: v for k, v in extras.items() if k in params}

    async def ensure_session(self) -> None:
        """Log in (venues with a session, IG) unless already logged in.

        Raises:
            AuthError: the login was refused, now or less than its backoff ago (then the venue
                is not asked again: the error says when the next try is allowed).
        """
        sess = self.session
        if sess is None or sess.logged_in:
            return
        async with self._login_lock:
            if sess.logged_in:
                return
            now = self.runtime.clock.mono_ns()
            refusal = self._login_refusal
            if refusal is not None and not self._login_retry.ready(now):
                left = ((self._login_retry.at or now) - now) / 1e9
                raise AuthError(
                    self.venue, refusal.code, f"{refusal.msg}; login not retried for {left:.1f} s"
                )
            resp = await self.http.send(sess.login_request(), max_wait_s=self.wait_s)
            try:
                self.rest.check_error(resp.status, resp.headers, resp.body)
            except AuthError as exc:  # the backoff runs from the answer (a send may wait)
                self._login_retry.refused(self.runtime.clock.mono_ns())
                self._login_refusal = exc
                raise
            sess.on_login(resp.headers, resp.body)
            self._login_retry.ok()
            self._login_refusal = None

    async def subscribe_now(self, market: str, kind: str, symbol: str | None) -> None:
        """`subscribe`, awaited from another thread so its errors (a limit) reach the caller."""
        self.subscribe(market, kind, symbol)

    # ------------------------------------------------------------------ warm-up (loop thread)

    async def warm(
        self,
        pairs: tuple[tuple[str, str], ...] | None = None,
        *,
        private: bool = True,
        timeout_s: float | None = None,
    ) -> Warmup:
        """Stream PAIRS ((market, symbol); None: the declared ones) and, with PRIVATE, the
        account's private streams, then wait until all are fresh (at most TIMEOUT_S, default
        the account's `warm_timeout_s`). Raises ConfigError for a symbol the venue lacks."""
        t0 = self.runtime.clock.mono_ns()
        items = await self.warm_prepare(pairs, private=private)
        return await self.warm_wait(items, t0, timeout_s)

    async def warm_prepare(
        self, pairs: tuple[tuple[str, str], ...] | None = None, *, private: bool = True
    ) -> tuple[WarmItem, ...]:
        """Check PAIRS against the venue's instrument list, subscribe their tickers and books
        and (PRIVATE, with credentials) the private streams, which seed themselves from REST.

        Raises:
            ConfigError: a symbol (epic) the venue does not list, or a market it lacks.
        """
        pairs = self.cfg.declared() if pairs is None else pairs
        by_market: dict[str, list[str]] = {}
        for market, symbol in pairs:
            self.market(market)
            if (market, symbol) not in self._checked:
                by_market.setdefault(market, []).append(symbol)
        for market, symbols in by_market.items():
            await check_symbols(self, market, symbols)
            self._checked.update((market, s) for s in symbols)
        items: list[WarmItem] = []
        for market, symbol in pairs:
            for kind in PUBLIC_KINDS:
                if (market, kind) in self.routes:
                    self.subscribe(market, kind, symbol)
                    items.append(WarmItem(kind, market, symbol))
        if private and self.cfg.credentials is not None:
            for market in self.spec.markets:
                for kind in PRIVATE_KINDS:
                    if (market, kind) in self.routes:
                        self.subscribe(market, kind, None)
                        items.append(WarmItem(kind, market))
        return tuple(items)

    async def warm_wait(
        self, items: tuple[WarmItem, ...], t0_ns: int, timeout_s: float | None = None
    ) -> Warmup:
        """Wait until every item is servable from the cache, or `warm_timeout_s` after T0_NS,
        or until the ones left cannot become fresh (unknown, not permitted, auth refused); log
        what is not fresh then, with why (those answer from REST)."""
        clock = self.runtime.clock
        limit = self.cfg.warm_timeout_s if timeout_s is None else timeout_s
        deadline = t0_ns + int(limit * 1e9)
        while True:
            pending = [i for i in items if not self.fresh(i)]
            if not pending or clock.mono_ns() >= deadline:
                break
            if all(terminal(self.why(i)) for i in pending):
                break
            await asyncio.sleep(0.02)
        report = Warmup(
            account=self.alias,
            items=items,
            seconds=(clock.mono_ns() - t0_ns) / 1e9,
            missing={i: self.why(i) for i in pending},
        )
        if items:
            log.info("%s: warm-up: %s", self.alias, report)
        for item, why in report.missing.items():
            log.warning("%s: %s not fresh after the warm-up: %s; REST until it is",
                        self.alias, item, why)  # fmt: skip
        return report

    def fresh(self, item: WarmItem) -> bool:
        """ITEM is servable from the cache now (what a read would answer from the stream)."""
        s, a, m = self.runtime.store, self.alias, item.market
        if item.kind == "ticker":
            return s.ticker(a, m, item.symbol or "") is not None
        if item.kind == "book":
            return s.orderbook(a, m, item.symbol or "", 1) is not None
        if item.kind == "account":
            return s.account(a, m) is not None
        if item.kind == "positions":
            return s.positions(a, m) is not None
        return s.orders(a, m) is not None

    def why(self, item: WarmItem) -> str:
        """Why ITEM is not fresh: its own stale reason, else its connection's problem or state."""
        cls = self.routes.get((item.market, item.kind))
        conn = None if cls is None else self.connections.get((cls.__name__, item.market))
        problem = None if conn is None else getattr(conn.proto, "problem", None)
        link = None if conn is None else conn.link.reason
        own = self.runtime.store.reason(self.alias, item.market, item.kind, item.symbol)
        return reason_of(item.kind, own, problem, link)

    # ------------------------------------------------------------------ REST (loop thread)

    def env_request(self, req: RestRequest) -> RestRequest:
        """REQ as this account's environment needs it (the venue's `rest.for_env`, if any)."""
        return req if self._for_env is None else self._for_env(req, self.cfg.env)

    async def send(self, req: RestRequest, *, max_wait_s: float | None = None) -> HttpResponse:
        """Send a REST request and raise the venue's error if it answered with one.

        Venues with a login session (IG) log in first when needed (`ensure_session`: one
        login for concurrent first calls, a refused one held back by its backoff), then go
        through the venue's `authorized_call` flow: once more on an expired token, then retry.
        """
        wait = self.wait_s if max_wait_s is None else max_wait_s
        req = self.env_request(req)
        if self.session is None:
            resp = await self.http.send(req, max_wait_s=wait)
            self.rest.check_error(resp.status, resp.headers, resp.body)
            return resp
        await self.ensure_session()
        flow = self.rest.authorized_call(self.session, req)
        step = next(flow)
        while True:
            resp = await self.http.send(step, max_wait_s=wait)
            try:
                step = flow.send((resp.status, resp.headers, resp.body))
            except StopIteration as done:
                status, headers, body = done.value
                break
        self.rest.check_error(status, headers, body)
        return HttpResponse(status, headers, body)

    def _calls(self) -> dict[str, int]:
        calls = dict(self.counts)
        fast = self.runtime.store.ticker_reads(self.alias)
        if fast:
            calls["hit:ticker"] = calls.get("hit:ticker", 0) + fast
        return calls

    def status(self) -> dict[str, Any]:
        """This account's connections, stale items and REST use (no secrets); any thread."""
        conns = [c.status() for c in list(self.connections.values())]
        return {
            "venue": self.venue,
            "env": self.cfg.env,
            "connections": conns,
            "stale": self.runtime.store.stale_list(self.alias),
            # hit:<kind> / rest:<kind> per verb; hit:ticker adds get_ticker's fast-path reads
            "calls": self._calls(),
            # REST requests per priority: sent, made to wait for budget, refused (fail fast)
            "rest": {
                "sent": dict(self.http.sent),
                "waited": dict(self.http.waited),
                "refused": dict(self.http.refused),
                "rate_limited": self.http.rate_limited,
            },
        }

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        for conn in list(self.connections.values()):
            await conn.close()
        await self.http.close()


class Runtime:
    """The event-loop thread of a workspace and everything that lives on it."""

    def __init__(self, workspace: Workspace, clock: Clock | None = None) -> None:
        self.workspace = workspace
        self.clock = clock or Clock()
        self.store = Store()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="spinstream-runtime", daemon=True)
        self._accounts: dict[str, AccountRuntime] = {}
        self._lock = threading.Lock()
        self.budgets = BudgetRegistry()  # REST buckets, shared across accounts by scope
        self._warm_lock = threading.Lock()
        self._warming: Future[dict[str, Warmup]] | None = None  # the warm-up, once per runtime

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close every connection and REST session, then stop the loop thread."""
        if not self._thread.is_alive():
            return
        if self._warming is not None:
            self._warming.cancel()  # a worker still waiting for it stops waiting

        async def shutdown() -> None:
            for acct in list(self._accounts.values()):
                await acct.close()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout_s)
        except Exception as exc:  # noqa: BLE001 - best effort on the way out
            log.warning("runtime shutdown: %r", exc)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout_s)

    def account(self, alias: str) -> AccountRuntime:
        """The runtime of account ALIAS (created on first use)."""
        acct = self._accounts.get(alias)
        if acct is None:
            with self._lock:
                acct = self._accounts.get(alias)
                if acct is None:
                    try:
                        cfg = self.workspace.accounts[alias]
                    except KeyError:
                        raise SpinstreamError(f"no account {alias!r} in the workspace") from None
                    acct = self._accounts[alias] = AccountRuntime(self, cfg)
        return acct

    def accounts(self) -> list[AccountRuntime]:
        return list(self._accounts.values())

    # ------------------------------------------------------------------ warm-up (any thread)

    def warm_begin(self) -> None:
        """Start warming every account (once per runtime; later calls return at once): check
        the declared symbols, subscribe them and the private streams. Blocks only for the
        instrument checks, so a bad declaration fails here, at start.

        Raises:
            ConfigError: a declared symbol (epic) the venue does not list.
        """
        with self._warm_lock:
            if self._warming is not None:
                return
            accts = [self.account(alias) for alias in self.workspace.accounts]
            limit = max((a.cfg.warm_timeout_s for a in accts), default=0.0) + 60.0
            prepared = self.call(self._prepare_all(accts), timeout_s=limit)
            self._warming = asyncio.run_coroutine_threadsafe(self._wait_all(prepared), self.loop)

    def warm_wait(self, timeout_s: float | None = None) -> dict[str, Warmup]:
        """Wait for the warm-up begun by `warm_begin` (it ends by the accounts' timeouts):
        account alias -> its report.

        Raises:
            concurrent.futures.TimeoutError: not over within TIMEOUT_S (when given).
            concurrent.futures.CancelledError: the runtime stopped meanwhile.
        """
        fut = self._warming
        if fut is None:
            return {}
        if timeout_s is None:
            timeout_s = max((a.cfg.warm_timeout_s for a in self.accounts()), default=0.0) + 60.0
        return fut.result(timeout_s)

    def warm(self) -> dict[str, Warmup]:
        """`warm_begin` then `warm_wait`: the cache is warm (or the wait over) on return."""
        self.warm_begin()
        return self.warm_wait()

    async def _prepare_all(
        self, accts: list[AccountRuntime]
    ) -> list[tuple[AccountRuntime, tuple[WarmItem, ...], int]]:
        t0 = self.clock.mono_ns()
        got = await asyncio.gather(*(a.warm_prepare() for a in accts), return_exceptions=True)
        errors = [g for g in got if isinstance(g, BaseException)]
        if errors:
            if all(isinstance(e, ConfigError) for e in errors):
                raise ConfigError("; ".join(str(e) for e in errors))
            raise errors[0]
        return [(a, items, t0) for a, items in zip(accts, got, strict=True)]  # type: ignore[misc]

    async def _wait_all(
        self, prepared: list[tuple[AccountRuntime, tuple[WarmItem, ...], int]]
    ) -> dict[str, Warmup]:
        reports = await asyncio.gather(*(a.warm_wait(i, t0) for a, i, t0 in prepared))
        return {r.account: r for r in reports}

    def status(self) -> dict[str, Any]:
        """Every account's connections (live or not and why, last frame age, lag, reconnects),
        stale items with their reasons, and REST calls: a JSON-able dict, from any thread."""
        return {"accounts": {a.alias: a.status() for a in self.accounts()}}

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        """Run CORO on the loop and wait for its result (from any thread but the loop's)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("Runtime.call from the event loop thread would deadlock; await it")
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout_s)
        except TimeoutError:
            fut.cancel()
            raise TransportError(f"no answer within {timeout_s} s") from None

    def submit(self, fn: Callable[..., object], *args: object) -> None:
        """Run FN(*ARGS) on the loop soon (fire and forget, errors logged)."""

        def run() -> None:
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - never kill the loop
                log.exception("runtime task %r failed", fn)

        self.loop.call_soon_threadsafe(run)

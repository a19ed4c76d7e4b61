"""What strategies call: `ctx.<account>.get_*` (cache first, REST on a miss) and order flows.

`VenueClient` is the sync client for strategy code in a worker thread: a cached answer returns at
once; a miss runs the venue's REST call on the runtime's loop and blocks only this thread, then
subscribes the stream so the next call is cached. `AsyncVenueClient` has the same methods as
coroutines. In browser mode every call is REST and no stream is ever opened.
"""

from __future__ import annotations

import asyncio
import inspect
import numbers
import threading
from collections.abc import Coroutine
from decimal import Decimal
from types import CoroutineType
from typing import Any, TypeVar

import msgspec
import numpy as np

from spinstream._core import FastReads, parse_scale
from spinstream.errors import (
    ConfigError,
    NotAvailable,
    OrderRejected,
    UnsupportedError,
    VenueError,
)
from spinstream.models import Account, Order, OrderBook, Position, Ticker
from spinstream.protocol.retry import Retry
from spinstream.runtime import AccountRuntime
from spinstream.warmup import Warmup
from spinstream.workspace import parse_symbols

# IG's deal confirmation may lag the deal: asked again up to this many times, this far apart
CONFIRM_TRIES = 20
CONFIRM_FIRST_S = 0.05
CONFIRM_MAX_S = 0.2

__all__ = ["AsyncVenueClient", "Context", "IgClient", "VenueClient"]

T = TypeVar("T")
SIDES = ("buy", "sell")
TYPES = ("limit", "market")


def _number(value: Any, what: str) -> Any:
    """A user number as int, float, Decimal or str (numpy scalars become Python floats)."""
    if value is None or isinstance(value, (Decimal, str)):
        return value
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a number, not {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)  # also turns numpy's float64 (a float subclass) into a float
    raise ConfigError(f"{what} must be a number, not {value!r}")


def _check_order(side: str, type: str, quantity: float, price: float | None) -> None:
    """Validate user input once, here, before anything is signed or sent."""
    if side not in SIDES:
        raise ConfigError(f"side must be one of {SIDES}, not {side!r}")
    if type not in TYPES:
        raise ConfigError(f"type must be one of {TYPES}, not {type!r}")
    if not _positive(quantity):
        raise ConfigError(f"quantity must be a positive number, not {quantity!r}")
    if type == "limit" and (price is None or not _positive(price)):
        raise ConfigError("a limit order needs a positive price")
    if price is not None and not _positive(price):
        raise ConfigError(f"price must be a positive number, not {price!r}")


def _positive(x: Any) -> bool:
    try:
        d = Decimal(str(x))
    except ArithmeticError:
        return False
    return d.is_finite() and d > 0


class _Calls:
    """The REST side of every verb, as coroutines run on the runtime's loop.

    Venues with a login session (IG) get it passed to their builders; their deals answer only
    a reference, so a placed order is completed from the venue's deal confirmation.
    """

    def __init__(self, acct: AccountRuntime) -> None:
        self.acct = acct
        self.rest = acct.rest
        self.clock = acct.runtime.clock
        self.kw: dict[str, Any] = {} if acct.session is None else {"session": acct.session}

    def _creds(self) -> Any:
        creds = self.acct.cfg.credentials
        if creds is None:
            raise ConfigError(f"{self.acct.alias}: this call needs API credentials")
        return creds

    def _now_ms(self) -> int:
        return self.clock.ns() // 1_000_000

    async def _login(self) -> None:
        """Venues with a session (IG) build requests with its tokens: log in first."""
        if self.kw:
            await self.acct.ensure_session()

    async def ticker(self, market: str, symbol: str) -> Ticker:
        await self._login()
        resp = await self.acct.send(self.rest.build_ticker(market, symbol, **self.kw))
        return self.rest.parse_ticker(market, symbol, resp.body, self.clock.ns())  # type: ignore[no-any-return]

    async def orderbook(self, market: str, symbol: str, depth: int) -> OrderBook:
        resp = await self.acct.send(self.rest.build_orderbook(market, symbol, depth))
        return self.rest.parse_orderbook(market, symbol, resp.body, self.clock.ns(), depth)  # type: ignore[no-any-return]

    async def account(self, market: str) -> Account:
        await self._login()
        req = self.rest.build_account(market, self._creds(), self._now_ms(), **self.kw)
        resp = await self.acct.send(req)
        extra = {} if self.acct.session is None else {"account_id": self.acct.session.account_id}
        return self.rest.parse_account(market, resp.body, self.clock.ns(), **extra)  # type: ignore[no-any-return]

    async def positions(self, market: str, symbol: str | None) -> list[Position]:
        await self._login()
        req = self.rest.build_positions(market, self._creds(), self._now_ms(), symbol, **self.kw)
        resp = await self.acct.send(req)
        got = self.rest.parse_positions(market, resp.body, self.clock.ns())
        return [p for p in got if symbol is None or p.symbol == symbol]

    async def orders(self, market: str, symbol: str | None) -> list[Order]:
        await self._login()
        req = self.rest.build_open_orders(market, self._creds(), self._now_ms(), symbol, **self.kw)
        resp = await self.acct.send(req)
        got = self.rest.parse_open_orders(market, resp.body, self.clock.ns())
        return [o for o in got if symbol is None or o.symbol == symbol]

    async def place(self, market: str, **kw: Any) -> Order:
        await self._login()
        req = self.rest.build_place_order(market, self._creds(), self._now_ms(), **kw, **self.kw)
        resp = await self.acct.send(req)
        order = self._parse_ack(self.rest.parse_order, market, resp.body, req)
        if hasattr(self.rest, "build_confirm"):  # IG: the deal's outcome is its confirmation
            confirm = await self._confirm(market, order.order_id)
            return self.rest.order_from_confirm(market, confirm, req, self.clock.ns())  # type: ignore[no-any-return]
        return order

    async def _confirm(self, market: str, deal_reference: str) -> Any:
        """The venue's confirmation of a deal; it may lag the deal by a moment, so retry
        (`protocol.retry.Retry` delays, 50 ms doubling to 200 ms, on the runtime's clock)."""
        retry = Retry(CONFIRM_FIRST_S, CONFIRM_MAX_S)
        for attempt in range(CONFIRM_TRIES):
            try:
                req = self.rest.build_confirm(deal_reference, **self.kw)
                resp = await self.acct.send(req)
                return self.rest.parse_confirm(market, resp.body, self.clock.ns())
            except VenueError as exc:
                if "deal-not-found" not in str(exc.code) or attempt == CONFIRM_TRIES - 1:
                    raise
                await self.clock.asleep(retry.failed(self.clock.mono_ns()) / 1e9)
        raise AssertionError("unreachable")  # pragma: no cover

    async def cancel(self, market: str, **kw: Any) -> Order:
        await self._login()
        parse_cancel = getattr(self.rest, "parse_cancel", None)
        known = None
        if parse_cancel is not None:  # the ack carries only ids (Bybit, IG): know the order first
            known = await self._find_open(
                market, kw["symbol"], kw.get("order_id"), kw.get("client_order_id")
            )
        req = self.rest.build_cancel_order(market, self._creds(), self._now_ms(), **kw, **self.kw)
        resp = await self.acct.send(req)
        if parse_cancel is None:
            return self._parse_ack(self.rest.parse_order, market, resp.body, req)
        parse_cancel(market, resp.body, self.clock.ns())  # checks the ack
        assert known is not None  # found above, before the request, whenever parse_cancel is set
        return msgspec.structs.replace(
            known, status="canceled", source="rest", last_update=self.clock.ns()
        )

    async def _find_open(
        self, market: str, symbol: str, order_id: str | None, client_id: str | None
    ) -> Order:
        """The open order being cancelled: from the cache, else from REST."""
        store = self.acct.runtime.store
        candidates = store.orders(self.acct.alias, market) or await self.orders(market, symbol)
        for o in candidates:
            if (order_id and o.order_id == order_id) or (
                client_id and o.client_order_id == client_id
            ):
                return o
        raise OrderRejected(
            self.acct.venue, "not-open", f"no open order {order_id or client_id} on {symbol}"
        )

    def _parse_ack(self, parse: Any, market: str, body: bytes, req: Any) -> Order:
        """An order ack; venues whose ack carries only ids (Bybit) complete it from the request."""
        if "request" in inspect.signature(parse).parameters:
            return parse(market, body, self.clock.ns(), request=req)  # type: ignore[no-any-return]
        return parse(market, body, self.clock.ns())  # type: ignore[no-any-return]


class _Base:
    """What the sync and async clients share: the cache reads and the subscribe-on-miss rule."""

    def __init__(self, acct: AccountRuntime, mode: str = "server") -> None:
        if mode not in ("server", "browser"):
            raise ConfigError(f"mode must be 'server' or 'browser', not {mode!r}")
        self._acct = acct
        self._rt = acct.runtime
        self._store = acct.runtime.store
        self._alias = acct.alias
        self._server = mode == "server"
        self._default = acct.default_market
        self._tickers = self._store.tickers_of(acct.alias, self._default)
        self._calls = _Calls(acct)
        self.mode = mode
        self._clock = acct.runtime.clock
        default = acct.cfg.max_age_s  # the account's max age: every read checks it
        self._max_age_ns: int | None = None if default is None else int(default * 1e9)
        self._fast = self._max_age_ns is None  # the compiled get_ticker path (FastReads)

    def _age(self, max_age_s: float | None) -> int | None:
        """The max age (ns) of this read: the call's, else the account's, else None."""
        if max_age_s is None:
            return self._max_age_ns
        if isinstance(max_age_s, bool) or not isinstance(max_age_s, (int, float)) or not (
            max_age_s > 0
        ):
            raise ConfigError(f"max_age_s must be a positive number of seconds, not {max_age_s!r}")
        return int(max_age_s * 1e9)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._alias} ({self._acct.venue}, {self.mode})>"

    def _derivatives_market(self, market: str | None) -> str:
        if market is not None:
            return self._acct.market(market)
        for m in self._acct.spec.markets:
            if m != "spot":
                return str(m)
        return self._default

    def _miss(self, market: str, kind: str, symbol: str | None) -> None:
        """Count a REST fallback and, in server mode, subscribe so the next call is cached."""
        self._acct.counts[f"rest:{kind}"] += 1
        if self._server:
            self._rt.submit(self._acct.subscribe, market, kind, symbol)

    def _hit(self, kind: str) -> None:
        self._acct.counts[f"hit:{kind}"] += 1

    def _cached_private(self, market: str, kind: str, max_age_ns: int | None) -> Any:
        if not self._server:
            return None
        s = self._store
        now = self._clock.ns() if max_age_ns is not None else 0
        if kind == "account":
            return s.account(self._alias, market, max_age_ns, now)
        if kind == "positions":
            return s.positions(self._alias, market, max_age_ns, now)
        return s.orders(self._alias, market, max_age_ns, now)

    # Each verb once: the cached answer, or (after counting the miss and subscribing) the
    # REST coroutine; the sync client runs it on the runtime's loop, the async one awaits it.

    def _ticker(
        self, symbol: str, market: str | None, max_age_s: float | None = None
    ) -> Ticker | Coroutine[Any, Any, Ticker]:
        age = self._age(max_age_s)
        if market is None and self._server and age is None:
            e = self._tickers.get(symbol)
            if e is not None and e.fresh and (e.link is None or e.link.live):
                e.reads += 1  # the fast path's count (as the compiled sync get_ticker's)
                # the ticker table holds Tickers (no cast(): a function call on the hit path)
                return e.value  # type: ignore[return-value]
        m = self._acct.market(market)
        if self._server:
            now = self._clock.ns() if age is not None else 0
            t = self._store.ticker(self._alias, m, symbol, age, now)
            if t is not None:
                self._hit("ticker")
                return t
        self._miss(m, "ticker", symbol)
        return self._calls.ticker(m, symbol)

    def _orderbook(
        self, symbol: str, depth: int, market: str | None, max_age_s: float | None = None
    ) -> OrderBook | Coroutine[Any, Any, OrderBook]:
        m = self._acct.market(market)
        age = self._age(max_age_s)
        if self._server:
            now = self._clock.ns() if age is not None else 0
            b = self._store.orderbook(self._alias, m, symbol, depth, age, now)
            if b is not None:
                self._hit("book")
                return b
        self._miss(m, "book", symbol)
        return self._calls.orderbook(m, symbol, depth)

    def _balance(
        self, market: str | None, max_age_s: float | None = None
    ) -> Account | Coroutine[Any, Any, Account]:
        m = self._acct.market(market)
        a = self._cached_private(m, "account", self._age(max_age_s))
        if a is not None:
            self._hit("account")
            return a  # type: ignore[no-any-return]
        self._miss(m, "account", None)
        return self._calls.account(m)

    def _positions(
        self, market: str | None, symbol: str | None, max_age_s: float | None = None
    ) -> list[Position] | Coroutine[Any, Any, list[Position]]:
        m = self._derivatives_market(market)
        ps = self._cached_private(m, "positions", self._age(max_age_s))
        if ps is not None:
            self._hit("positions")
            return [p for p in ps if symbol is None or p.symbol == symbol]
        self._miss(m, "positions", None)
        return self._calls.positions(m, symbol)

    def _orders(
        self, market: str | None, symbol: str | None, max_age_s: float | None = None
    ) -> list[Order] | Coroutine[Any, Any, list[Order]]:
        m = self._acct.market(market)
        os_ = self._cached_private(m, "orders", self._age(max_age_s))
        if os_ is not None:
            self._hit("orders")
            return [o for o in os_ if symbol is None or o.symbol == symbol]
        self._miss(m, "orders", None)
        return self._calls.orders(m, symbol)

    def _place(
        self, symbol: str, side: str, type: str, quantity: Any, price: Any, market: str | None,
        time_in_force: str | None, client_order_id: str | None,
    ) -> Coroutine[Any, Any, Order]:  # fmt: skip
        quantity, price = _number(quantity, "quantity"), _number(price, "price")
        _check_order(side, type, quantity, price)
        m = self._acct.market(market)
        if self._server:  # follow our orders on the private stream from now on
            self._rt.submit(self._acct.subscribe, m, "orders", None)
        return self._calls.place(
            m, symbol=symbol, side=side, type=type, quantity=quantity, price=price,
            time_in_force=time_in_force, client_order_id=client_order_id,
        )  # fmt: skip

    def _subscribe(
        self, symbols: str | list[str] | tuple[str, ...], timeout_s: float | None
    ) -> Warmup | Coroutine[Any, Any, Warmup]:
        """The warm-up of SYMBOLS ("SYMBOL" or "market:SYMBOL"), or (browser mode) nothing."""
        if isinstance(symbols, str):
            symbols = [symbols]
        pairs = parse_symbols(
            self._alias, self._acct.venue, tuple(self._acct.spec.markets), list(symbols)
        )
        if timeout_s is not None and (
            isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or timeout_s <= 0
        ):
            raise ConfigError(f"timeout_s must be a positive number of seconds, not {timeout_s!r}")
        if not self._server:
            return Warmup(account=self._alias)  # browser mode streams nothing
        return self._acct.warm(pairs, private=False, timeout_s=timeout_s)

    def _cancel(
        self, symbol: str, order_id: str | None, client_order_id: str | None, market: str | None
    ) -> Coroutine[Any, Any, Order]:
        if order_id is None and client_order_id is None:
            raise ConfigError("cancel_order needs order_id or client_order_id")
        m = self._acct.market(market)
        return self._calls.cancel(
            m, symbol=symbol, order_id=order_id, client_order_id=client_order_id
        )


class VenueClient(FastReads, _Base):
    """Sync venue client for strategy threads (`ctx.binance`, `ctx.bybit`, ...).

    `get_ticker`'s cached answer comes from the compiled `FastReads` base (one dict lookup and
    a freshness check in C); its misses and every other verb run here, REST on the runtime's
    loop blocking only this thread.
    """

    def __init__(self, acct: AccountRuntime, mode: str = "server") -> None:
        _Base.__init__(self, acct, mode)
        if not self._server:
            self._tickers = {}  # browser mode: never the cache

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._rt.call(coro)

    def _now(self, r: Any) -> Any:
        return self._rt.call(r) if inspect.iscoroutine(r) else r

    def _get_ticker_slow(
        self, symbol: str, market: str | None, max_age_s: float | None = None
    ) -> Ticker:
        """get_ticker for another market, a max age, a stale or missing entry, browser mode."""
        return self._now(self._ticker(symbol, market, max_age_s))  # type: ignore[no-any-return]

    # get_ticker(symbol, market=None, max_age_s=None) is FastReads' (compiled): a servable
    # cached entry in C, anything else through _get_ticker_slow.

    def get_orderbook(
        self,
        symbol: str,
        depth: int = 10,
        market: str | None = None,
        *,
        max_age_s: float | None = None,
    ) -> OrderBook:
        """Top DEPTH levels of SYMBOL's book: the stream's if in sync (and, with MAX_AGE_S,
        known current within that many seconds), else REST."""
        return self._now(self._orderbook(symbol, depth, market, max_age_s))  # type: ignore[no-any-return]

    def get_balance(
        self, market: str | None = None, *, max_age_s: float | None = None
    ) -> Account:
        """Balances of the account on MARKET (spot wallet, futures margin, unified wallet)."""
        return self._now(self._balance(market, max_age_s))  # type: ignore[no-any-return]

    get_account = get_balance

    def get_positions(
        self,
        market: str | None = None,
        symbol: str | None = None,
        *,
        max_age_s: float | None = None,
    ) -> list[Position]:
        """Open positions (derivatives market by default)."""
        return self._now(self._positions(market, symbol, max_age_s))  # type: ignore[no-any-return]

    def get_orders(
        self,
        market: str | None = None,
        symbol: str | None = None,
        *,
        max_age_s: float | None = None,
    ) -> list[Order]:
        """Open orders."""
        return self._now(self._orders(market, symbol, max_age_s))  # type: ignore[no-any-return]

    def place_order(
        self,
        symbol: str,
        side: str,
        type: str,
        quantity: float,
        price: float | None = None,
        *,
        market: str | None = None,
        time_in_force: str | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Place an order (always sent to the venue)."""
        return self._run(
            self._place(symbol, side, type, quantity, price, market, time_in_force, client_order_id)
        )

    def cancel_order(
        self,
        symbol: str,
        order_id: str | None = None,
        *,
        client_order_id: str | None = None,
        market: str | None = None,
    ) -> Order:
        """Cancel an order by venue id or client id (always sent to the venue)."""
        return self._run(self._cancel(symbol, order_id, client_order_id, market))

    def subscribe(
        self, symbols: str | list[str] | tuple[str, ...], *, timeout_s: float | None = None
    ) -> Warmup:
        """Warm SYMBOLS now ("SYMBOL" on the default market, "market:SYMBOL" on another): check
        them against the venue's instrument list, stream their tickers and books, and wait
        until fresh (at most TIMEOUT_S, default the account's `warm_timeout_s`). Returns the
        report: what is not fresh yet, and why. Browser mode streams nothing.

        Raises:
            ConfigError: a symbol the venue does not list, or a market it lacks.
        """
        r = self._subscribe(symbols, timeout_s)
        if isinstance(r, Warmup):
            return r
        limit = (timeout_s or self._acct.cfg.warm_timeout_s) + 60.0
        return self._rt.call(r, timeout_s=limit)


class AsyncVenueClient(_Base):
    """The same verbs as coroutines, for asyncio users (any event loop)."""

    async def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._rt._thread:  # already on the runtime's loop
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._rt.loop))

    async def _now(self, r: Any) -> Any:
        return await self._run(r) if inspect.iscoroutine(r) else r

    async def get_ticker(
        self, symbol: str, market: str | None = None, max_age_s: float | None = None
    ) -> Ticker:
        r = self._ticker(symbol, market, max_age_s)
        if type(r) is CoroutineType:  # a miss: REST (inline, no extra coroutine on a hit)
            return await self._run(r)
        return r  # type: ignore[return-value]

    async def get_orderbook(
        self,
        symbol: str,
        depth: int = 10,
        market: str | None = None,
        *,
        max_age_s: float | None = None,
    ) -> OrderBook:
        return await self._now(self._orderbook(symbol, depth, market, max_age_s))  # type: ignore[no-any-return]

    async def get_balance(
        self, market: str | None = None, *, max_age_s: float | None = None
    ) -> Account:
        return await self._now(self._balance(market, max_age_s))  # type: ignore[no-any-return]

    get_account = get_balance

    async def get_positions(
        self,
        market: str | None = None,
        symbol: str | None = None,
        *,
        max_age_s: float | None = None,
    ) -> list[Position]:
        return await self._now(self._positions(market, symbol, max_age_s))  # type: ignore[no-any-return]

    async def get_orders(
        self,
        market: str | None = None,
        symbol: str | None = None,
        *,
        max_age_s: float | None = None,
    ) -> list[Order]:
        return await self._now(self._orders(market, symbol, max_age_s))  # type: ignore[no-any-return]

    async def place_order(
        self,
        symbol: str,
        side: str,
        type: str,
        quantity: float,
        price: float | None = None,
        *,
        market: str | None = None,
        time_in_force: str | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        return await self._run(
            self._place(symbol, side, type, quantity, price, market, time_in_force, client_order_id)
        )

    async def cancel_order(
        self,
        symbol: str,
        order_id: str | None = None,
        *,
        client_order_id: str | None = None,
        market: str | None = None,
    ) -> Order:
        return await self._run(self._cancel(symbol, order_id, client_order_id, market))

    async def subscribe(
        self, symbols: str | list[str] | tuple[str, ...], *, timeout_s: float | None = None
    ) -> Warmup:
        """`VenueClient.subscribe` as a coroutine."""
        return await self._now(self._subscribe(symbols, timeout_s))  # type: ignore[no-any-return]


class Context:
    """What a strategy gets: one sync client per workspace account, as attributes."""

    def __init__(self, workspace: Any, mode: str = "server") -> None:
        workspace.check_mode(mode)
        self.workspace = workspace
        self.mode = mode
        rt = workspace.runtime
        for alias, cfg in workspace.accounts.items():
            cls = IgClient if cfg.venue == "ig" else VenueClient
            setattr(self, alias, cls(rt.account(alias), mode=mode))

    def __getattr__(self, name: str) -> Any:
        raise NotAvailable(f"no venue account {name!r} in this workspace")


class IgClient(VenueClient):
    """`ctx.ig`: the common verbs plus IG's stream-first reads (Lightstreamer items).

    Accounts, positions, working orders and market info come from the stream cache (ACCOUNT,
    TRADE with its OPU/WOU updates, PRICE) with a REST fallback; the streaming reads
    (`get_streaming_*`, `get_trade_confirms`) have no REST fallback: before their first update
    they subscribe and raise `NotAvailable`. IG allows 40 subscriptions per session.
    """

    def __init__(self, acct: AccountRuntime, mode: str = "server") -> None:
        super().__init__(acct, mode)
        self._markets: dict[str, Any] = {}  # epic -> MarketInfo from REST (static details)
        self._candles_wanted: set[tuple[str, str]] = set()

    def _want(self, kind: str, epic: str | None) -> None:
        """Subscribe KIND now, waiting for the loop so a subscription-limit error is raised here."""
        if not self._server:
            raise UnsupportedError("IG streaming reads need server mode")
        self._rt.call(self._acct.subscribe_now(self._default, kind, epic))

    def get_accounts(self) -> list[Account]:
        """The session's account balances (ACCOUNT stream, else REST)."""
        return [self.get_balance()]

    def get_market_info(self, epic: str) -> Any:
        """Market details of EPIC: static details from REST once, live bid/offer from PRICE."""
        info = self._markets.get(epic)
        if info is not None and self._server:
            t = self._store.ticker(self._alias, self._default, epic)
            if t is not None:
                self._hit("market")
                return msgspec.structs.replace(
                    info, bid=t.bid, offer=t.ask, source="ws", last_update=t.last_update
                )
        self._miss(self._default, "market", epic)  # counted; PRICE subscribed in server mode
        info = self._markets[epic] = self._run(self._ig_market(epic))
        return info

    async def _ig_market(self, epic: str) -> Any:
        acct = self._acct
        # unsigned: `send` logs in first when needed (a first call) and adds the tokens
        resp = await acct.send(acct.rest.build_market(epic))
        return acct.rest.parse_market(resp.body, acct.runtime.clock.ns())

    def get_streaming_market(self, epic: str) -> Ticker:
        """The last L1 tick of EPIC from `PRICE:{accountId}:{epic}`; no REST fallback."""
        t = self._store.ticker(self._alias, self._default, epic)
        if t is not None:
            return t
        self._want("market", epic)
        raise NotAvailable(f"no price for {epic} streamed yet: subscribed, ask again shortly")

    def get_streaming_ticks(self, epic: str, n: int = 1000) -> np.ndarray:
        """The newest N ticks of EPIC (CHART:{epic}:TICK): a numpy array of ts (ns), bid, ask."""
        out = self._store.ig.ticks(self._alias, epic, n, "ticks")
        if out is not None:
            return out
        self._want("ticks", epic)
        raise NotAvailable(f"no ticks for {epic} streamed yet: subscribed, ask again shortly")

    def get_streaming_candles(self, epic: str, scale: str = "1MINUTE") -> np.ndarray:
        """Bars of EPIC at SCALE as a numpy array (start ns, open, high, low, close, volume,
        count; mid prices). IG's own CHART:{epic}:{SCALE} bars for the scales IG streams, else
        (or while that channel is stale) bars the candle core builds from CHART:{epic}:TICK."""
        from spinstream.protocol.ig.protocol import CANDLE_SCALES

        ig_scale = CANDLE_SCALES.get(scale)
        key = ig_scale or scale
        if ig_scale is None:
            parse_scale(scale)  # a clear ValueError here, not on the loop
        if (epic, key) not in self._candles_wanted:  # tell the loop once, not on every read
            self._candles_wanted.add((epic, key))
            self._rt.submit(self._store.ig.want_candles, self._alias, epic, key)
        got = self._store.ig.candles(self._alias, epic, key)
        if got is not None:
            return got[0]
        self._want(f"candles:{ig_scale}" if ig_scale else "ticks", epic)
        raise NotAvailable(f"no {scale} bars for {epic} yet: subscribed, ask again shortly")

    def get_trade_confirms(self) -> list[Any]:
        """Deal confirmations from `TRADE:{accountId}` (CONFIRMS), oldest first."""
        if not self._server:
            raise UnsupportedError("IG streaming reads need server mode")
        self._rt.submit(self._acct.subscribe, self._default, "confirms", None)
        return self._store.ig.confirms(self._alias)

    def add_streaming_epics(self, epics: list[str]) -> None:
        """Subscribe the PRICE items of EPICS ahead of use (within IG's 40 subscriptions)."""
        for epic in epics:
            self._want("market", epic)

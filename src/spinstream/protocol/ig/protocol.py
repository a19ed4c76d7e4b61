"""IG streaming rules, sans I/O: REST login, then one Lightstreamer (TLCP-2.4.0) connection.

`IgStream` is the account's one stream connection. It logs in itself through `requests()`
(`POST /session` v2; the answer's headers carry CST / X-SECURITY-TOKEN, so the transport passes
`headers=` to `rest_response`), learns the account id and the `lightstreamerEndpoint`, and only
then answers `connect_url()` (that endpoint, http -> ws / https -> wss, plus `/lightstreamer`)
and `connect_path()`. The WebSocket must offer the subprotocol in `subprotocols`. The TLCP
rules (opening, rebinding after LOOP, keepalive, item state) are `LightstreamerSession`'s; this
class maps IG's items to our kinds and events:

    kind                symbol  item                    mode      events
    ticker, market      epic    PRICE:{account}:{epic}  MERGE     TickerUpdate (+TickUpdate: market)
    ticks               epic    CHART:{epic}:TICK       DISTINCT  TickUpdate
    candles:<SCALE>     epic    CHART:{epic}:<SCALE>    MERGE     CandleUpdate (closed: CONS_END)
    account             -       ACCOUNT:{account}       MERGE     AccountUpdate
    positions, orders   -       TRADE:{account}         DISTINCT  PositionUpdate, OrderUpdate
    confirms            -       TRADE:{account}         DISTINCT  ConfirmUpdate

(PRICE uses the `Pricing` data adapter; SCALE is SECOND, 1MINUTE, 5MINUTE or HOUR.) TRADE sends
no snapshot, so once it is subscribed the positions and working orders are seeded from REST
(`GET /positions` v2, `GET /workingorders` v2) and the OPU / WOU pushes that arrive before the
seed answers are held and replayed over it (each push carries a deal's whole state, so the
replay converges). Positions are kept per deal and reported per epic and direction.

A new session (after any disconnect) re-adds every subscription (the TLCP session does) and
re-seeds; a disconnect marks everything the connection fed stale (`Stale` per shared kind,
`ChannelStale` per tick or candle channel), a LOOP rebind does not. A `CONERR,1` (tokens
refused, e.g. after IG's weekend maintenance) logs in again once, then reconnects; refused
again, or a refused login, is `AuthFailed` (+ `Stale`) and the login is tried again after
`AUTH_RETRY_S`, doubling up to `AUTH_RETRY_MAX_S` (`protocol.retry.AuthRetry`; reset once a
stream session starts), with `problem` saying why meanwhile (`retry_login` tries at once).
IG allows 40 concurrent subscriptions per connection: the 41st `subscribe` raises
`SubscriptionLimit` and nothing is sent. Tokens and the password never appear in events,
reprs or logs.

    login:  IDLE -> LOGGING_IN -> READY;  LOGGING_IN -> WAITING (transient failure) | FAILED
            (refused, retried after a backoff);  WAITING, FAILED, READY -> LOGGING_IN;
            READY, WAITING -> FAILED (the stream refused the tokens)
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import msgspec
from msgspec.structs import replace

from spinstream.credentials import Credentials
from spinstream.errors import (
    AuthError,
    ParseError,
    RateLimited,
    SpinstreamError,
    UnsupportedError,
)
from spinstream.protocol.connection import Connection, Seed
from spinstream.protocol.events import (
    MARKET_DATA,
    AccountUpdate,
    Authenticated,
    Malformed,
    OrderUpdate,
    PositionUpdate,
    Stale,
    Subscribed,
    TickerUpdate,
)
from spinstream.protocol.lightstreamer import (
    WS_PATH,
    WS_SUBPROTOCOL,
    ClearSnapshot,
    ItemUpdate,
    LightstreamerSession,
    LsEvent,
    Overflow,
    Rebinding,
    ServerConnError,
    ServerError,
    SessionDead,
    SessionEnded,
    SessionStarted,
    SubscriptionFailed,
    SubscriptionLimit,
    Unsubscribed,
)
from spinstream.protocol.lightstreamer import State as LsState
from spinstream.protocol.lightstreamer import Subscribed as LsSubscribed
from spinstream.protocol.lightstreamer import codec as ls_codec

from . import parse, rest, schemas
from .auth import IgSession
from .parse import ChannelStale, ConfirmUpdate, IgEvent

__all__ = [
    "CANDLE_SCALES",
    "ENVS",
    "KINDS",
    "LOGIN_MOVES",
    "ChannelStale",
    "IgStream",
    "Login",
    "SubscriptionLimit",
    "candle_kind",
    "ws_url",
]

log = logging.getLogger(__name__)

VENUE = parse.VENUE
ENVS = ("live", "demo")
_NS = 1_000_000_000
_CONERR_AUTH = frozenset({1})  # "User/password check failed": the tokens were refused

CANDLE_SCALES: dict[str, str] = {
    **{s: s for s in parse.CHART_SCALES},
    "1s": "SECOND", "1m": "1MINUTE", "5m": "5MINUTE", "1h": "HOUR", "MINUTE": "1MINUTE",
    "MINUTE_5": "5MINUTE",
}  # fmt: skip
KINDS = ("ticker", "market", "ticks", "account", "positions", "orders", "confirms") + tuple(
    f"candles:{s}" for s in parse.CHART_SCALES
)


class Login(enum.Enum):
    """Where the REST login of the stream stands."""

    IDLE = "idle"  # start() not called yet
    LOGGING_IN = "logging_in"  # POST /session queued or in flight
    WAITING = "waiting"  # a transient failure: retry at `_login_at`
    READY = "ready"  # tokens and endpoint known: connect_url() answers
    FAILED = "failed"  # credentials refused: retry at `_login_at` (backoff), or retry_login()


LOGIN_MOVES: dict[Login, frozenset[Login]] = {
    Login.IDLE: frozenset({Login.LOGGING_IN, Login.READY}),
    Login.LOGGING_IN: frozenset({Login.READY, Login.WAITING, Login.FAILED}),
    Login.WAITING: frozenset({Login.LOGGING_IN, Login.FAILED}),  # FAILED: the stream refused
    Login.READY: frozenset({Login.LOGGING_IN, Login.FAILED}),  # FAILED: the stream refused
    Login.FAILED: frozenset({Login.LOGGING_IN}),
}


def ws_url(endpoint: str) -> str:
    """The WebSocket URL of a `lightstreamerEndpoint`: http -> ws, https -> wss, +/lightstreamer."""
    e = endpoint.strip().rstrip("/")
    if e.startswith("https://"):
        e = "wss://" + e[len("https://") :]
    elif e.startswith("http://"):
        e = "ws://" + e[len("http://") :]
    elif not e.startswith(("ws://", "wss://")):
        e = "wss://" + e
    return e + WS_PATH


def candle_kind(scale: str) -> str:
    """The subscription kind of SCALE's candles ("1MINUTE" or "1m" -> "candles:1MINUTE")."""
    s = CANDLE_SCALES.get(scale)
    if s is None:
        raise UnsupportedError(f"IG streams candles of {sorted(parse.CHART_SCALES)}, not {scale!r}")
    return f"candles:{s}"


Group = Literal["price", "ticks", "candles", "account", "trade"]


@dataclass(slots=True)
class _Item:
    """One Lightstreamer subscription and the kinds it feeds."""

    group: Group
    symbol: str | None  # epic (None for account and trade)
    scale: str | None = None
    kinds: set[str] = field(default_factory=set)
    sub_id: int | None = None
    name: str = ""
    failed: str | None = None  # why the server refused it (until the next session)


@dataclass(slots=True)
class _Seed(Seed[str]):
    """A REST seed of positions or working orders and the pushes held until it lands: one
    request (`buffer` holds (OPU / WOU, ts) pairs)."""

    req_id: int | None = None
    generation: int = 0  # of the session tokens the request carried
    retry_at: int | None = None


class IgStream(Connection[Login]):
    """IG's streaming connection for one account (see the module docstring)."""

    VENUE = VENUE
    MOVES = LOGIN_MOVES
    log = log
    TICK_S = 1.0
    RETRY_S = 5.0  # first retry of a failed login or seed; doubles up to MAX_RETRY_S
    MAX_RETRY_S = 60.0
    AUTH_RETRY_S = 1.0  # a refused login (or stream auth) is retried after this, doubling
    AUTH_RETRY_MAX_S = 60.0  # up to this: a refused password costs IG one login a minute
    MAX_BUFFER = 10_000  # held pushes per seed; more -> the seed starts again

    endpoint = "stream"
    private = True
    # one Lightstreamer session carries prices and the account: market-data rules (5 s) over
    # WebSocket pings, beside TLCP's own PROBE at the keepalive CONOK grants
    liveness = MARKET_DATA
    subprotocols = [WS_SUBPROTOCOL]
    rest_headers = True  # rest_response needs the answer's headers (the login's tokens)

    def __init__(
        self,
        market: str = parse.MARKET,
        creds: Credentials | None = None,
        *,
        env: str = "live",
        identifier: str | None = None,
        session: IgSession | None = None,
        resolve: Callable[[str], str] | None = None,
        max_subscriptions: int = 40,
        lookup_decimals: bool = True,
    ) -> None:
        if market not in rest.MARKETS:
            raise UnsupportedError(f"ig market {market!r} is not supported (use {rest.MARKETS})")
        if env not in ENVS:
            raise ValueError(f"ig env must be one of {ENVS}, not {env!r}")
        if session is None:
            if creds is None:
                raise ValueError("the IG stream needs credentials (API key and password)")
            if not identifier:
                raise ValueError("the IG stream needs the account identifier (user name)")
            session = IgSession(creds, identifier)
        super().__init__(market, env, Login.IDLE)
        self.session = session
        self.lookup_decimals = lookup_decimals
        self._resolve = resolve or (lambda url: url)
        self._ls = LightstreamerSession(max_subscriptions=max_subscriptions, venue=VENUE)
        self._login_rid: int | None = None
        self._login_at: int | None = None  # when to retry (WAITING / FAILED)
        self._login_delay = self.RETRY_S
        self._refused = 0  # CONERR,1 in a row
        self._items: dict[tuple[Group, str | None, str | None], _Item] = {}
        self._by_sub: dict[int, _Item] = {}
        self._items_account: str | None = None
        self._seeds: dict[str, _Seed] = {}  # "positions" / "orders"
        self._seed_rids: dict[int, str] = {}
        self._deals: dict[str, parse.PositionDeal] = {}
        self._decimals: dict[str, int] = {}
        self._lookups: set[str] = set()  # epics whose decimals to ask
        self._lookup_rids: dict[int, tuple[str, ...]] = {}
        self._rebind = False  # LOOP: the next connection binds the same session
        self._ended = False  # END / CONERR / ERROR: we want a new connection
        self._live = False  # something was fed since the last stale marks

    def __repr__(self) -> str:  # no credentials, no tokens
        return (
            f"IgStream({self.market}, {self.env}, login={self._state.name}, "
            f"ls={self._ls.state.name}, items={len(self._items)})"
        )

    # -- what the transport reads ---------------------------------------------------------------

    @property
    def counters(self) -> Counter[str]:
        """Ours plus the TLCP session's (prefixed "ls_"): a snapshot, as a `Counter` like every
        connection's (a name never counted reads 0)."""
        out = Counter(self._counters)
        for k, v in self._ls.counters.items():
            out[f"ls_{k}"] = v
        return out

    @property
    def reconnect_wanted(self) -> bool:
        """The transport should close the socket and connect again (LOOP, dead, ended)."""
        return self._ls.reconnect_wanted or self._ended

    @property
    def max_subscriptions(self) -> int:
        return self._ls.max_subscriptions

    @property
    def subscription_count(self) -> int:
        """Lightstreamer subscriptions wanted (what IG's concurrent limit counts)."""
        return len(self._items)

    def _ready(self) -> bool:
        return (
            self._state is Login.READY
            and self.session.logged_in
            and self.session.lightstreamer_endpoint is not None
        )

    def connect_url(self) -> str | None:
        """The full WebSocket URL to open, or None until the login has answered."""
        if not self._ready():
            return None
        endpoint = self._resolve(self.session.lightstreamer_endpoint or "")
        if self._rebind and self._ls.control_link:
            return ws_url(ls_codec.complete_control_link(self._ls.control_link, endpoint))
        return ws_url(endpoint)

    def connect_path(self) -> str | None:
        """`/lightstreamer` once the login has answered (the host is `connect_url()`'s)."""
        return WS_PATH if self._ready() else None

    def start(self, ts: int) -> None:
        """Log in (unless the shared session already is): the stream's URL comes from it."""
        if self._state is not Login.IDLE:
            return
        if self.session.logged_in and self.session.lightstreamer_endpoint:
            self._move(Login.READY)
            return
        self._request_login(ts)

    def retry_login(self, ts: int) -> None:
        """Try a refused login again (new credentials, an unlocked account)."""
        if self._state is Login.FAILED:
            self._login_delay = self.RETRY_S
            self._request_login(ts)

    def outgoing(self) -> list[str]:
        """Frames to send (drained)."""
        return self._ls.outgoing()

    def set_decimals(self, epic: str, decimals: int) -> None:
        """EPIC's price decimals (`MarketInfo.decimals`), so int ticks are stable from the start."""
        if decimals < 0:
            raise ValueError("decimals must be >= 0")
        self._decimals[epic] = max(decimals, self._decimals.get(epic, 0))
        self._lookups.discard(epic)

    # -- subscriptions ----------------------------------------------------------------------

    @staticmethod
    def _key(kind: str, symbol: str | None) -> tuple[Group, str | None, str | None, str]:
        """(group, symbol, scale, normalized kind) of a subscription request."""
        if kind in ("ticker", "market"):
            group: Group = "price"
        elif kind == "ticks":
            group = "ticks"
        elif kind.startswith("candles:"):
            kind = candle_kind(kind.partition(":")[2])
            return "candles", _epic(symbol, kind), kind.partition(":")[2], kind
        elif kind == "account":
            return "account", None, None, kind
        elif kind in ("positions", "orders", "confirms"):
            return "trade", None, None, kind
        elif kind == "book":
            raise UnsupportedError("IG has no order book")
        else:
            raise UnsupportedError(f"the IG stream has no {kind!r} (kinds: {KINDS})")
        return group, _epic(symbol, kind), None, kind

    def subscribe(self, kind: str, symbol: str | None) -> None:
        """Want KIND of SYMBOL (an epic where the kind needs one); sent when the session is up.

        Raises:
            SubscriptionLimit: it would be the 41st Lightstreamer subscription of the connection.
            UnsupportedError: a kind IG does not stream (e.g. "book").
        """
        group, sym, scale, kind = self._key(kind, symbol)
        key = (group, sym, scale)
        item = self._items.get(key)
        if item is None:
            if len(self._items) >= self._ls.max_subscriptions:
                raise SubscriptionLimit(self._ls.max_subscriptions)
            item = self._items[key] = _Item(group, sym, scale)
        if kind in item.kinds:
            return
        if sym is not None and kind != "ticker" and self.lookup_decimals:
            if sym not in self._decimals:  # int ticks from the start at IG's decimals
                self._lookups.add(sym)
        item.kinds.add(kind)
        if group == "trade" and kind in ("positions", "orders") and self._trade_subscribed():
            self._seed(kind, 0)  # TRADE already flows: seed the new kind now
        self._sync_subs()

    def unsubscribe(self, kind: str, symbol: str | None) -> None:
        """Stop KIND of SYMBOL; the Lightstreamer subscription goes when no kind needs it."""
        try:
            group, sym, scale, kind = self._key(kind, symbol)
        except (UnsupportedError, ValueError):
            return
        item = self._items.get((group, sym, scale))
        if item is None or kind not in item.kinds:
            return
        item.kinds.discard(kind)
        if kind in self._seeds:
            self._drop_seed(kind)
        if item.kinds:
            return
        del self._items[(group, sym, scale)]
        if item.sub_id is not None:
            self._by_sub.pop(item.sub_id, None)
            self._ls.unsubscribe(item.sub_id)
        if group == "trade":
            self._deals.clear()

    def subscriptions(self) -> set[tuple[str, str | None]]:
        """What the runtime asked for: (kind, symbol) pairs (kinds normalized)."""
        return {(k, it.symbol) for it in self._items.values() for k in it.kinds}

    def _item_spec(
        self, item: _Item, account: str
    ) -> tuple[str, tuple[str, ...], Literal["MERGE", "DISTINCT"], str | None, bool | None]:
        """(item name, fields, mode, data adapter, snapshot) of ITEM for ACCOUNT."""
        if item.group == "price":
            return f"PRICE:{account}:{item.symbol}", parse.PRICE_FIELDS, "MERGE", "Pricing", None
        if item.group == "ticks":
            return f"CHART:{item.symbol}:TICK", parse.TICK_FIELDS, "DISTINCT", None, False
        if item.group == "candles":
            return f"CHART:{item.symbol}:{item.scale}", parse.CANDLE_FIELDS, "MERGE", None, None
        if item.group == "account":
            return f"ACCOUNT:{account}", parse.ACCOUNT_FIELDS, "MERGE", None, None
        return f"TRADE:{account}", ("CONFIRMS", "OPU", "WOU"), "DISTINCT", None, False

    def _sync_subs(self) -> None:
        """Give every wanted item a Lightstreamer subscription (once the account is known)."""
        account = self.session.account_id
        if account is None:
            return
        if self._items_account is not None and account != self._items_account:
            for item in self._items.values():  # another account: its items have other names
                if item.sub_id is not None:
                    self._by_sub.pop(item.sub_id, None)
                    self._ls.unsubscribe(item.sub_id)
                    item.sub_id = None
        self._items_account = account
        for item in self._items.values():
            if item.sub_id is not None or item.failed is not None:
                continue
            name, fields, mode, adapter, snapshot = self._item_spec(item, account)
            item.name = name
            item.sub_id = self._ls.subscribe([name], fields, mode, adapter, snapshot)
            self._by_sub[item.sub_id] = item
            log.info("subscribe %s", name, extra={"venue": VENUE, "conn": self.endpoint})

    def _trade_subscribed(self) -> bool:
        item = self._items.get(("trade", None, None))
        if item is None or item.sub_id is None:
            return False
        sub = self._ls.subscriptions.get(item.sub_id)
        return sub is not None and sub.subscribed

    # -- login and REST ---------------------------------------------------------------------

    def _move(self, new: Login) -> None:
        if new is not self._state:  # staying put is no move
            super()._move(new)

    def _request_login(self, ts: int) -> None:
        if self._login_rid is not None:
            return
        self._move(Login.LOGGING_IN)
        self._login_rid = self._queue(self.session.login_request())
        self._login_at = None
        self._counters["logins"] += 1
        log.info("logging in", extra={"venue": VENUE, "conn": self.endpoint})

    def rest_response(
        self,
        req_id: int,
        status: int,
        body: bytes,
        ts: int,
        headers: Mapping[str, str] | None = None,
    ) -> list[IgEvent]:
        """The answer to one of `requests()`: the login, a seed or a decimals lookup."""
        try:
            if req_id == self._login_rid:
                return self._on_login(status, headers or {}, body, ts)
            kind = self._seed_rids.pop(req_id, None)
            if kind is not None:
                return self._on_seed(kind, req_id, status, body, ts)
            epics = self._lookup_rids.pop(req_id, None)
            if epics is not None:
                return self._on_lookup(epics, status, body)
        except Exception:  # a bug must not kill the connection; logged and counted
            log.exception("ig REST answer handler failed", extra={"venue": VENUE})
            self._counters["errors"] += 1
            return []
        self._counters["late_rest"] += 1
        return []

    def _on_login(
        self, status: int, headers: Mapping[str, str], body: bytes, ts: int
    ) -> list[IgEvent]:
        self._login_rid = None
        try:
            rest.check_error(status, headers, body)
            if status == 0:
                raise ParseError("no answer (transport failure)")
            self.session.on_login(headers, body)
        except AuthError as exc:
            self._counters["login_refused"] += 1
            return self._auth_refused("login", self.session.redact(str(exc.code)), ts)
        except (SpinstreamError, msgspec.DecodeError) as exc:
            self._move(Login.WAITING)
            self._counters["login_failed"] += 1
            delay = 60.0 if isinstance(exc, RateLimited) else self._login_delay
            self._login_delay = min(self._login_delay * 2, self.MAX_RETRY_S)
            self._login_at = ts + int(delay * _NS)
            why = self.session.redact(str(exc))
            self.problem = f"login failed ({why}); retrying in {delay:g} s"
            log.warning(
                "login failed (%s); retry in %.0f s",
                why,
                delay,
                extra={"venue": VENUE, "conn": self.endpoint},
            )
            return []
        self._move(Login.READY)
        self._login_delay = self.RETRY_S
        self.problem = None  # the auth backoff resets only once a stream session starts
        self._counters["logged_in"] += 1
        log.info("logged in", extra={"venue": VENUE, "conn": self.endpoint})
        self._sync_subs()
        self._request_lookups()
        for kind, seed in self._seeds.items():  # seeds that waited for a fresh login
            if seed.req_id is None and not seed.done and seed.retry_at is None:
                self._seed(kind, ts)
        return []

    def _auth_refused(self, what: str, why: str, ts: int) -> list[IgEvent]:
        """A refused login or stream auth: FAILED, retried after the backoff; stale meanwhile."""
        self._move(Login.FAILED)
        reason = self._auth_later(what, why, ts)
        self._login_at = self._auth.at
        events: list[IgEvent] = [self._auth_failed(reason, ts)]
        if self._ls.state is LsState.ACTIVE:  # the session still streams: only seeds wait
            for kind, seed in self._seeds.items():
                if not seed.done:
                    events.append(self._stale(kind, None, reason, ts))
        else:  # nothing streams until a login and a session: say so for everything
            events.append(Stale(venue=VENUE, market=self.market, reason=reason, ts_recv=ts))
        return events

    def _token_refused(self, generation: int, ts: int) -> None:
        """A call said the tokens are dead: log in again (unless someone already did)."""
        if self.session.generation == generation and self.session.logged_in:
            self.session.invalidate()
        if not self.session.logged_in and self._login_rid is None:
            if self._state in (Login.READY, Login.WAITING, Login.IDLE):
                self._request_login(ts)

    # -- seeds (positions and working orders from REST) ---------------------------------------

    def _seed(self, kind: str, ts: int) -> None:
        seed = self._seeds.get(kind)
        if seed is None:
            seed = self._seeds[kind] = _Seed()
        if seed.req_id is not None:
            self._seed_rids.pop(seed.req_id, None)
        seed.req_id, seed.retry_at, seed.done = None, None, False
        if not self.session.logged_in:
            return  # asked again after the next login
        build = rest.build_positions if kind == "positions" else rest.build_open_orders
        req = self.session.authorize(build(self.market))
        seed.generation = self.session.generation
        seed.req_id = self._queue(req)
        self._seed_rids[seed.req_id] = kind
        self._counters["seed_requests"] += 1

    def _drop_seed(self, kind: str) -> None:
        seed = self._seeds.pop(kind, None)
        if seed is not None and seed.req_id is not None:
            self._seed_rids.pop(seed.req_id, None)

    def _on_seed(self, kind: str, req_id: int, status: int, body: bytes, ts: int) -> list[IgEvent]:
        seed = self._seeds.get(kind)
        if seed is None or seed.req_id != req_id:
            self._counters["late_rest"] += 1
            return []
        seed.req_id = None
        if rest.is_token_invalid(status, body):
            self._counters["seed_token_refused"] += 1
            self._token_refused(seed.generation, ts)
            if self.session.logged_in:
                self._seed(kind, ts)
            return []  # else seeded again once the login answers
        try:
            rest.check_error(status, {}, body)
            if status == 0:
                raise ParseError("no answer (transport failure)")
            if kind == "positions":
                deals = rest.parse_deals(body)
            else:
                orders = rest.parse_open_orders(self.market, body, ts)
        except (SpinstreamError, msgspec.DecodeError) as exc:
            self._counters["seed_failed"] += 1
            seed.retry_at = ts + int(self.RETRY_S * _NS)
            reason = self.session.redact(f"seed failed: {exc!s}")
            log.warning("%s %s", kind, reason, extra={"venue": VENUE, "conn": self.endpoint})
            return [self._stale(kind, None, reason, ts)]
        seed.done = True
        events: list[IgEvent] = []
        if kind == "positions":
            self._deals = {d.deal_id: replace(d, bid=None, offer=None) for d in deals}
            positions = parse.aggregate_positions(self.market, self._deals.values(), ts, "rest")
            events.append(
                PositionUpdate(
                    venue=VENUE, market=self.market, positions=positions, full=True, ts_recv=ts
                )
            )
        else:
            events.append(
                OrderUpdate(venue=VENUE, market=self.market, orders=orders, full=True, ts_recv=ts)
            )
        for msg, rts in seed.buffer:
            try:  # a bad held push is Malformed; it must not lose the seed (found by tests/fuzz)
                events += self._apply_push(kind, msg, rts)
            except (ParseError, ValueError, msgspec.DecodeError) as exc:
                events.append(self._malformed(f"held {kind} push: {exc}", ts))
        self._counters["replayed"] += len(seed.buffer)
        seed.buffer.clear()
        events.append(self._fresh_event(kind, None, ts))
        return events

    # -- decimals lookups ---------------------------------------------------------------------

    def _request_lookups(self) -> None:
        if not self.lookup_decimals or not self._lookups or not self.session.logged_in:
            return
        pending = sorted(self._lookups - {e for es in self._lookup_rids.values() for e in es})
        for i in range(0, len(pending), 50):
            epics = tuple(pending[i : i + 50])
            req = self.session.authorize(rest.build_markets(epics, snapshot_only=True))
            self._lookup_rids[self._queue(req)] = epics
            self._counters["decimal_lookups"] += 1

    def _on_lookup(self, epics: tuple[str, ...], status: int, body: bytes) -> list[IgEvent]:
        try:
            rest.check_error(status, {}, body)
            found = rest.parse_market_decimals(epics, body)
        except (SpinstreamError, msgspec.DecodeError):
            self._counters["lookup_failed"] += 1  # the texts' own decimals serve meanwhile
            self._lookups.difference_update(epics)
            return []
        for epic, decimals in found.items():
            self.set_decimals(epic, decimals)
        self._lookups.difference_update(epics)
        return []

    # -- connection ---------------------------------------------------------------------------

    def connected(self, ts: int) -> list[IgEvent]:
        """A new WebSocket: open (or rebind) the Lightstreamer session with current tokens."""
        self._ended = False
        if self.session.logged_in:
            self._ls.set_password(self.session.ls_password())
            self._ls.user = self.session.account_id
        self._sync_subs()
        return self._ls_events(self._ls.connected(ts), ts)

    def disconnected(self, ts: int) -> list[IgEvent]:
        """The socket closed: everything fed is stale, unless this is a LOOP rebind."""
        events = self._ls_events(self._ls.disconnected(ts), ts)
        if not self._rebind:
            events += self._lost("disconnected", ts)
        return events

    def tick(self, ts: int) -> list[IgEvent]:
        """Login retries, seed retries, decimals lookups, and the TLCP keepalive timers."""
        if self._state in (Login.WAITING, Login.FAILED):
            if self._login_at is not None and ts >= self._login_at:
                self._request_login(ts)
        elif self._state is Login.READY and not self.session.logged_in:
            self._request_login(ts)  # someone invalidated the shared tokens
        for kind, seed in self._seeds.items():
            if seed.retry_at is not None and ts >= seed.retry_at:
                self._seed(kind, ts)
        self._request_lookups()
        return self._ls_events(self._ls.tick(ts), ts)

    def receive(self, frame: str | bytes, ts: int) -> list[IgEvent]:
        """Every line of a server frame; never raises (a bad line is `Malformed`)."""
        return self._ls_events(self._ls.receive(frame, ts), ts)

    # -- Lightstreamer events -----------------------------------------------------------------

    def _ls_events(self, ls_events: list[LsEvent], ts: int) -> list[IgEvent]:
        out: list[IgEvent] = []
        for ev in ls_events:
            try:
                if type(ev) is ItemUpdate:
                    out += self._on_update(ev, ts)
                else:
                    out += self._on_ls(ev, ts)
            except Exception as exc:  # bad input -> Malformed; a bug is logged and counted
                out += self._failed(_name(self._by_sub, ev), ts, exc)
        return out

    def _on_ls(self, ev: LsEvent, ts: int) -> list[IgEvent]:
        match ev:
            case SessionStarted():
                self._rebind = False
                self._refused = 0
                self._live = True
                self._auth.ok()  # accepted end to end: the next refusal starts over
                self.problem = None
                if ev.rebound:
                    return []
                self._counters["sessions"] += 1
                return [Authenticated(venue=VENUE, market=self.market, ts_recv=ts)]
            case LsSubscribed():
                item = self._by_sub.get(ev.sub_id)
                if item is None:
                    return []
                events: list[IgEvent] = [Subscribed(venue=VENUE, topic=item.name, ts_recv=ts)]
                if item.group == "trade":
                    for kind in ("positions", "orders"):
                        if kind in item.kinds:
                            self._seed(kind, ts)
                return events
            case SubscriptionFailed():
                return self._sub_lost(ev.sub_id, f"refused ({ev.code}): {ev.message}", ts, True)
            case Unsubscribed():
                item = self._by_sub.get(ev.sub_id)
                if item is None:  # ours: unsubscribe() already forgot it
                    return []
                return self._sub_lost(ev.sub_id, "unsubscribed by the server", ts, False)
            case Overflow():
                return self._on_overflow(ev, ts)
            case ClearSnapshot():
                return []  # MERGE items resend every field; TRADE keeps no snapshot
            case Rebinding():
                self._rebind = True
                return []
            case SessionDead():
                self._rebind = False
                return self._lost(ev.reason, ts)
            case ServerConnError():
                return self._on_conerr(ev, ts)
            case SessionEnded() | ServerError():
                self._rebind = False
                self._ended = True
                return self._lost(f"session ended ({ev.code}): {ev.message}", ts)
            case Malformed():
                self._counters["malformed"] += 1
                return [ev]
        return []

    def _on_conerr(self, ev: ServerConnError, ts: int) -> list[IgEvent]:
        self._rebind = False
        self._ended = True
        events = self._lost(f"connection refused ({ev.code}): {ev.message}", ts)
        if ev.code not in _CONERR_AUTH:
            return events
        self._refused += 1
        self._counters["stream_auth_refused"] += 1
        if self._refused == 1:  # the tokens may be dead (weekend maintenance): log in again
            self.session.invalidate()
            self._request_login(ts)
            return events
        if self._login_rid is not None:  # a login is already on its way: let it answer
            return events
        return events + self._auth_refused("stream auth", f"CONERR {ev.code}", ts)

    def _sub_lost(self, sub_id: int, why: str, ts: int, refused: bool) -> list[IgEvent]:
        item = self._by_sub.pop(sub_id, None)
        if item is None:
            return []
        item.sub_id = None
        self._counters["sub_failed" if refused else "sub_dropped"] += 1
        reason = f"{item.name}: {why}"
        log.warning("subscription %s", reason, extra={"venue": VENUE, "symbol": item.symbol})
        if refused:
            item.failed = reason  # not retried before the next session
        events = self._item_stale(item, reason, ts)
        if not refused:
            self._sync_subs()  # dropped by the server: ask again once
        return events

    def _on_overflow(self, ev: Overflow, ts: int) -> list[IgEvent]:
        item = self._by_sub.get(ev.sub_id)
        self._counters["overflows"] += 1
        if item is None or item.group != "trade":
            return []  # MERGE items catch up on the next update; ticks are just missed
        events: list[IgEvent] = []
        for kind in ("positions", "orders"):  # lost OPU/WOU: seed again
            if kind in item.kinds:
                events.append(self._stale(kind, None, f"{ev.lost} updates lost", ts))
                self._seed(kind, ts)
        return events

    def _item_stale(self, item: _Item, reason: str, ts: int) -> list[IgEvent]:
        events: list[IgEvent] = []
        if item.group == "price":
            events.append(self._stale("ticker", item.symbol, reason, ts))
            if "market" in item.kinds:
                events.append(self._channel_stale("market", item.symbol or "", reason, ts))
        elif item.group == "ticks":
            events.append(self._channel_stale("ticks", item.symbol or "", reason, ts))
        elif item.group == "candles":
            events.append(
                self._channel_stale(f"candles:{item.scale}", item.symbol or "", reason, ts)
            )
        elif item.group == "account":
            events.append(self._stale("account", None, reason, ts))
        else:
            for kind in ("positions", "orders"):
                if kind in item.kinds:
                    events.append(self._stale(kind, None, reason, ts))
        return events

    def _channel_stale(self, channel: str, epic: str, reason: str, ts: int) -> ChannelStale:
        return ChannelStale(
            venue=VENUE, market=self.market, channel=channel, epic=epic, reason=reason, ts_recv=ts
        )

    def _lost(self, reason: str, ts: int) -> list[IgEvent]:
        """The session is gone: stale marks for everything fed (once), seeds start again."""
        for seed in self._seeds.values():
            if seed.req_id is not None:
                self._seed_rids.pop(seed.req_id, None)
            seed.req_id, seed.done, seed.retry_at = None, False, None
            seed.buffer.clear()
        for item in self._items.values():
            item.failed = None  # a new session may accept what this one refused
        if not self._live:
            return []
        self._live = False
        self._counters["stale_marks"] += 1
        log.warning("stream lost: %s", reason, extra={"venue": VENUE, "conn": self.endpoint})
        events: list[IgEvent] = []
        tickers = False
        for item in self._items.values():
            if item.group == "price":
                tickers = True
                if "market" in item.kinds:
                    events.append(self._channel_stale("market", item.symbol or "", reason, ts))
            elif item.group != "trade" or item.kinds & {"positions", "orders"}:
                events += self._item_stale(item, reason, ts)
        if tickers:
            events.append(self._stale("ticker", None, reason, ts))
        return events

    # -- item updates -------------------------------------------------------------------------

    def _on_update(self, ev: ItemUpdate, ts: int) -> list[IgEvent]:
        item = self._by_sub.get(ev.sub_id)
        if item is None:
            self._counters["unknown_sub"] += 1
            return []
        self._live = True
        group = item.group
        if group == "price":
            return self._on_price(item, ev.fields, ts)
        if group == "ticks":
            epic = item.symbol or ""
            decimals = self._decimals.get(epic, 0)
            tick = parse.tick_from_chart(self.market, epic, ev.fields, decimals, ts)
            self._grow(tick.epic, tick.decimals)
            return [tick]
        if group == "candles":
            candle = parse.candle_from_chart(
                self.market,
                item.symbol or "",
                item.scale or "",
                ev.fields,
                self._decimals.get(item.symbol or "", 0),
                ts,
            )
            self._grow(candle.epic, candle.decimals)
            return [candle]
        if group == "account":
            fields = ev.fields
            if fields.get("EQUITY") is None and fields.get("AVAILABLE_TO_DEAL") is None:
                return []
            currency = self.session.currency or "?"
            acct = parse.account_from_stream(self.market, currency, fields, ts)
            return [AccountUpdate(account=acct)]
        return self._on_trade(item, ev, ts)

    def _grow(self, epic: str, decimals: int) -> None:
        if decimals > self._decimals.get(epic, 0):
            self._decimals[epic] = decimals
            self._counters["decimals_grown"] += 1

    def _on_price(self, item: _Item, fields: Mapping[str, str | None], ts: int) -> list[IgEvent]:
        epic = item.symbol or ""
        events: list[IgEvent] = [
            TickerUpdate(ticker=parse.ticker_from_price(self.market, epic, fields, ts))
        ]
        if "market" in item.kinds:
            tick = parse.tick_from_price(self.market, epic, fields, self._decimals.get(epic, 0), ts)
            self._grow(epic, tick.decimals)
            events.append(tick)
        return events

    def _on_trade(self, item: _Item, ev: ItemUpdate, ts: int) -> list[IgEvent]:
        events: list[IgEvent] = []
        fields = ev.fields
        for name in ("CONFIRMS", "OPU", "WOU"):
            text = fields.get(name)
            if not text or name not in ev.changed:
                continue
            try:
                if name == "CONFIRMS":
                    if "confirms" in item.kinds:
                        c = parse.confirm(self.market, schemas.CONFIRM.decode(text), ts, "ws")
                        events.append(ConfirmUpdate(confirm=c))
                elif name == "OPU":
                    if "positions" in item.kinds:
                        events += self._push("positions", schemas.OPU.decode(text), ts)
                elif "orders" in item.kinds:
                    events += self._push("orders", schemas.WOU.decode(text), ts)
            except (ParseError, ValueError, msgspec.DecodeError) as exc:
                events.append(self._malformed(f"{item.name} {name}: {exc}", ts))
        return events

    def _push(self, kind: str, msg: schemas.Opu | schemas.Wou, ts: int) -> list[IgEvent]:
        """An OPU / WOU: applied, or held while the kind's seed is out."""
        seed = self._seeds.get(kind)
        if seed is None:
            self._counters["unseeded_pushes"] += 1
            return []
        if not seed.done:
            if not seed.hold((msg, ts), self.MAX_BUFFER):  # full: held anew, seed again
                self._counters["overflows"] += 1
                self._seed(kind, ts)
            self._counters["buffered"] += 1
            return []
        return self._apply_push(kind, msg, ts)

    def _apply_push(self, kind: str, msg: schemas.Opu | schemas.Wou, ts: int) -> list[IgEvent]:
        if msg.dealStatus == "REJECTED":
            self._counters["rejected_pushes"] += 1
            return []
        if kind == "orders":
            assert isinstance(msg, schemas.Wou)
            order = parse.order_from_wou(self.market, msg, ts)
            return [OrderUpdate(venue=VENUE, market=self.market, orders=(order,), ts_recv=ts)]
        old = self._deals.get(msg.dealId)
        if msg.status == "DELETED":
            self._deals.pop(msg.dealId, None)
            if old is None:
                return []
            keys = [(old.epic, old.direction)]
        else:
            deal = parse.deal_from_opu(msg)
            self._deals[deal.deal_id] = deal
            keys = [(deal.epic, deal.direction)]
            if old is not None and (old.epic, old.direction) != keys[0]:
                keys.append((old.epic, old.direction))
        touched = [d for d in self._deals.values() if (d.epic, d.direction) in keys]
        positions = parse.aggregate_positions(self.market, touched, ts, "ws", keys=keys)
        return [PositionUpdate(venue=VENUE, market=self.market, positions=positions, ts_recv=ts)]


def _epic(symbol: str | None, kind: str) -> str:
    if not symbol:
        raise ValueError(f"IG {kind!r} needs an epic")
    return symbol


def _name(by_sub: dict[int, _Item], ev: LsEvent) -> str:
    sub_id = getattr(ev, "sub_id", None)
    item = by_sub.get(sub_id) if isinstance(sub_id, int) else None
    return item.name if item is not None else type(ev).__name__

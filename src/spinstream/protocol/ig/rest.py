"""IG REST as data: endpoints with their VERSION, the rate shield's costs, builders, parsers.

Live `https://api.ig.com/gateway/deal`, demo `https://demo-api.ig.com/gateway/deal`, both the
one REST base key "otc". Every call carries `X-IG-API-KEY`, `VERSION` and JSON content types;
every call but the login also carries the session tokens, added by `IgSession.authorize` (pass
`session=` to a builder, or run the request through `authorized_call`, which also logs in when
needed and, on a 401 `error.security.client-token-invalid`, logs in again once and retries).
Versions are the ones trading-ig uses: session v2, accounts v1, positions v2, open position v2,
close position v1 (a `POST` with `_method: DELETE`: IG's advice for a DELETE with a body),
working orders v2 (delete also as `POST` + `_method: DELETE`), markets v3 (`?epics=` v2),
prices v3, confirms v1.

Deal calls (open, close, working orders) answer only `{dealReference}`; the outcome is a
`TradeConfirm` from `GET /confirms/{dealReference}` (or the TRADE stream). `parse_order` gives
the provisional order from the request; `order_from_confirm` the final one, raising
`OrderRejected` with IG's `reason` when the deal was refused.

`cost` on each request names the rate shield's buckets (`shield.py`): non-trading calls take
"app" and "account", trading calls "trading", price history also the points it may return.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import TypeVar
from urllib.parse import quote

import msgspec

from spinstream.credentials import Credentials
from spinstream.errors import (
    AuthError,
    OrderRejected,
    ParseError,
    RateLimited,
    UnsupportedError,
    VenueError,
)
from spinstream.models import Account, Order, OrderBook, Position, Ticker, TradeConfirm
from spinstream.protocol.events import RestRequest
from spinstream.protocol.limits import Endpoint

from . import auth, parse, schemas, shield
from .auth import BASE, IgSession

__all__ = [
    "APIS",
    "BASES",
    "ENDPOINTS",
    "LIMITS",
    "MARKETS",
    "RESOLUTIONS",
    "TOKEN_INVALID",
    "Answer",
    "Api",
    "authorized_call",
    "build_account",
    "build_applications",
    "build_cancel_order",
    "build_close_position",
    "build_confirm",
    "build_market",
    "build_markets",
    "build_open_orders",
    "build_orderbook",
    "build_place_order",
    "build_position",
    "build_positions",
    "build_prices",
    "build_switch_account",
    "build_ticker",
    "check_confirm",
    "check_error",
    "error_code",
    "is_token_invalid",
    "new_session",
    "order_from_confirm",
    "parse_account",
    "parse_applications",
    "parse_cancel",
    "parse_confirm",
    "parse_deal_reference",
    "parse_deals",
    "parse_market",
    "parse_markets",
    "parse_open_orders",
    "parse_order",
    "parse_orderbook",
    "parse_positions",
    "parse_prices",
    "parse_ticker",
]

VENUE = parse.VENUE
MARKETS = (parse.MARKET,)
BASES = {
    "live": "https://api.ig.com/gateway/deal",
    "demo": "https://demo-api.ig.com/gateway/deal",
}
LIMITS = shield.LIMITS

T = TypeVar("T")
Answer = tuple[int, Mapping[str, str], bytes]  # status, headers, body of one REST answer

_ENC = msgspec.json.Encoder(decimal_format="number")  # user numbers go out exactly as given
_DEAL_REF = re.compile(r"[A-Za-z0-9_\-]{1,30}")


@dataclass(frozen=True, slots=True)
class Api:
    """One IG REST call: method, path template, VERSION header, sent as POST + `_method`."""

    method: str
    path: str
    version: int
    delete: bool = False  # a DELETE with a body: POST with the header `_method: DELETE`


APIS: dict[str, Api] = {
    "session": Api("POST", "/session", 2),
    "switch_account": Api("PUT", "/session", 1),
    "accounts": Api("GET", "/accounts", 1),
    "positions": Api("GET", "/positions", 2),
    "position": Api("GET", "/positions/{dealId}", 2),
    "open_position": Api("POST", "/positions/otc", 2),
    "close_position": Api("POST", "/positions/otc", 1, delete=True),
    "working_orders": Api("GET", "/workingorders", 2),
    "create_working_order": Api("POST", "/workingorders/otc", 2),
    "delete_working_order": Api("POST", "/workingorders/otc/{dealId}", 2, delete=True),
    "market": Api("GET", "/markets/{epic}", 3),
    "markets": Api("GET", "/markets", 2),
    "prices": Api("GET", "/prices/{epic}", 3),
    "confirm": Api("GET", "/confirms/{dealReference}", 1),
    "applications": Api("GET", "/operations/application", 1),
}


def _endpoint(api: Api) -> Endpoint:
    kind = shield.call_kind(api.method, api.path)
    points = 1 if kind is shield.CallKind.HISTORY else 0  # a price call books its own points
    return Endpoint(api.method, api.path, BASE, shield.cost(kind, points), signed=True)


ENDPOINTS: dict[str, Endpoint] = {name: _endpoint(api) for name, api in APIS.items()}

RESOLUTIONS: dict[str, str] = {
    **{r: r for r in (
        "SECOND", "MINUTE", "MINUTE_2", "MINUTE_3", "MINUTE_5", "MINUTE_10", "MINUTE_15",
        "MINUTE_30", "HOUR", "HOUR_2", "HOUR_3", "HOUR_4", "DAY", "WEEK", "MONTH",
    )},
    "1s": "SECOND", "1m": "MINUTE", "2m": "MINUTE_2", "3m": "MINUTE_3", "5m": "MINUTE_5",
    "10m": "MINUTE_10", "15m": "MINUTE_15", "30m": "MINUTE_30", "1h": "HOUR", "2h": "HOUR_2",
    "3h": "HOUR_3", "4h": "HOUR_4", "1d": "DAY", "1w": "WEEK", "1M": "MONTH",
    "1MINUTE": "MINUTE", "5MINUTE": "MINUTE_5",
}  # fmt: skip

# -- errors ------------------------------------------------------------------------------------

TOKEN_INVALID = frozenset(
    {
        "error.security.client-token-invalid",
        "error.security.client-token-missing",
        "error.security.account-token-invalid",
        "error.security.account-token-missing",
        "error.security.oauth-token-invalid",
    }
)
_AUTH_PREFIXES = ("error.security.", "error.public-api.failure.", "authentication.")
_ORDER_PREFIXES = ("validation.", "error.trading.", "error.service.create.", "error.service.otc.")
_ORDER_MARKERS = (".otc.", "position", "workingorder", "working-order", "working.order", "deal")
_NOT_ORDER = frozenset({"error.confirms.deal-not-found"})


def error_code(body: bytes) -> str | None:
    """IG's `errorCode` in BODY, or None."""
    try:
        return schemas.ERROR.decode(body).errorCode
    except msgspec.DecodeError:
        return None


def is_token_invalid(status: int, body: bytes) -> bool:
    """True when an answer says the session tokens are dead (log in again, then retry)."""
    return status in (401, 403) and error_code(body) in TOKEN_INVALID


def _is_order_error(code: str) -> bool:
    if code in _NOT_ORDER:
        return False
    return code.startswith(_ORDER_PREFIXES) or any(m in code for m in _ORDER_MARKERS)


def check_error(status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Raise the venue's error for a failed IG call; return quietly on success (2xx).

    403 `error.public-api.exceeded-*` is RateLimited (our shield should have prevented it);
    `error.security.*`, `error.public-api.failure.*` and any 401 are AuthError (a dead token
    after the one re-login `authorized_call` makes, a bad password, a disabled API key);
    validation and deal errors (`validation.*`, `error.trading.*`, codes about positions, working
    orders, OTC deals) are OrderRejected; anything else VenueError.
    """
    if 200 <= status < 300:
        return
    code = error_code(body)
    if code in shield.EXCEEDED:
        raise RateLimited(VENUE, code, f"HTTP {status}: {code} ({shield.EXCEEDED[code]} budget)")
    if code is not None and code.startswith(_AUTH_PREFIXES):
        raise AuthError(VENUE, code, f"HTTP {status}: {code}")
    if status == 401:
        raise AuthError(VENUE, code or status, f"HTTP 401: {code or 'unauthorized'}")
    if code is not None and _is_order_error(code):
        raise OrderRejected(VENUE, code, f"HTTP {status}: {code}")
    if status == 403 and code is None:
        raise RateLimited(VENUE, status, "HTTP 403 without an error code")
    raise VenueError(VENUE, code or status, f"HTTP {status}: {code or 'error'}")


# -- the session flow --------------------------------------------------------------------------


def new_session(creds: Credentials, identifier: str) -> IgSession:
    """The IG login state of one account (`AccountConfig.identifier` is the user name)."""
    return IgSession(creds, identifier)


def _login(session: IgSession) -> Generator[RestRequest, Answer, None]:
    status, headers, body = yield session.login_request()
    check_error(status, headers, body)
    session.on_login(headers, body)


def authorized_call(session: IgSession, req: RestRequest) -> Generator[RestRequest, Answer, Answer]:
    """Make REQ with SESSION's tokens, sans I/O: a generator of the requests to send.

    The driver sends each yielded request, passes its answer back with `.send((status,
    headers, body))`, and gets the final answer as the `StopIteration` value. It logs in first
    when there are no tokens; on a 401 token error it logs in again once (unless another call
    already did) and retries. A failed login raises from `check_error` (AuthError, ...).
    """
    fresh = False
    if not session.logged_in:
        yield from _login(session)
        fresh = True
    generation = session.generation
    answer = yield session.authorize(req)
    if not fresh and is_token_invalid(answer[0], answer[2]):
        if session.generation == generation or not session.logged_in:
            session.invalidate()
            yield from _login(session)
        answer = yield session.authorize(req)
    return answer


# -- helpers -----------------------------------------------------------------------------------


def _market(market: str) -> str:
    if market not in MARKETS:
        raise UnsupportedError(f"ig market {market!r} is not supported (use {MARKETS})")
    return market


def _request(
    name: str,
    *,
    args: Mapping[str, str] | None = None,
    query: Mapping[str, object] | None = None,
    body: Mapping[str, object] | None = None,
    creds: Credentials | None = None,
    session: IgSession | None = None,
    cost: dict[str, int] | None = None,
) -> RestRequest:
    api = APIS[name]
    path = api.path.format(**{k: quote(v, safe="") for k, v in (args or {}).items()})
    headers = auth.api_headers(api.version, creds)
    if api.delete:
        headers["_method"] = "DELETE"
    q = "&".join(
        f"{k}={quote(str(v), safe=',')}" for k, v in (query or {}).items() if v is not None
    )
    req = RestRequest(
        method=api.method,
        base=BASE,
        path=path,
        query=q,
        body=None if body is None else _ENC.encode(_present(body)).decode(),
        headers=headers,
        cost=cost if cost is not None else ENDPOINTS[name].cost,
    )
    return session.authorize(req) if session is not None else req


def _present(body: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in body.items() if v is not None}


def _decode(decoder: msgspec.json.Decoder[T], body: bytes, what: str) -> T:
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        code = error_code(body)
        if code is not None:
            check_error(400, {}, body)
        raise ParseError(f"ig {what}: bad body: {exc}") from exc


def _number(value: float | int | str | Decimal | None, what: str) -> Decimal | None:
    """A user number as an exact positive Decimal (sent as a JSON number, digit for digit)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number")
    try:
        if isinstance(value, Decimal):
            d = value
        else:
            d = Decimal(value if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise ValueError(f"{what} is not a number: {value!r}") from None
    if not d.is_finite() or d <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    return d


def _direction(side: str) -> str:
    s = side.lower()
    if s not in ("buy", "sell"):
        raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")
    return s.upper()


def _deal_reference(ref: str | None) -> str | None:
    if ref is not None and not _DEAL_REF.fullmatch(ref):
        raise ValueError("an IG dealReference is 1-30 of A-Z a-z 0-9 _ -")
    return ref


def _utc_text(t: str | int | datetime | None) -> str | None:
    """A time for `/prices` (`yyyy-MM-ddTHH:mm:ss`, UTC): given as such a text, int ns, or a
    datetime (naive = UTC)."""
    if t is None or isinstance(t, str):
        return t
    if isinstance(t, datetime):
        dt = t if t.tzinfo is None else t.astimezone(timezone.utc).replace(tzinfo=None)
    else:
        dt = datetime(1970, 1, 1) + timedelta(microseconds=int(t) // 1_000)
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


# -- market data -------------------------------------------------------------------------------


def build_market(
    epic: str, *, creds: Credentials | None = None, session: IgSession | None = None
) -> RestRequest:
    """`GET /markets/{epic}` v3: instrument, dealing rules, snapshot (incl. decimals)."""
    return _request("market", args={"epic": epic}, creds=creds, session=session)


def parse_market(body: bytes, ts: int) -> parse.MarketInfo:
    return parse.market_info(_decode(schemas.MARKET, body, "market"), ts)


def build_markets(
    epics: Iterable[str],
    *,
    snapshot_only: bool = False,
    creds: Credentials | None = None,
    session: IgSession | None = None,
) -> RestRequest:
    """`GET /markets?epics=a,b` v2: up to 50 epics in one (non-trading) call."""
    es = list(dict.fromkeys(epics))
    if not 1 <= len(es) <= 50:
        raise ValueError("IG answers 1..50 epics per markets call")
    query = {"epics": ",".join(es), "filter": "SNAPSHOT_ONLY" if snapshot_only else None}
    return _request("markets", query=query, creds=creds, session=session)


def parse_markets(body: bytes, ts: int) -> tuple[parse.MarketInfo, ...]:
    return tuple(
        parse.market_info(d, ts) for d in _decode(schemas.MARKETS, body, "markets").marketDetails
    )


def parse_market_decimals(epics: Iterable[str], body: bytes) -> dict[str, int]:
    """Each epic's price decimals from a `build_markets(epics, snapshot_only=True)` answer.

    A SNAPSHOT_ONLY entry carries no instrument (so no epic): entries follow the order the
    epics were asked in (duplicates dropped, as `build_markets` sends them); a full entry's own
    epic wins where it has one."""
    asked = list(dict.fromkeys(epics))
    got = _decode(schemas.MARKET_SNAPSHOTS, body, "markets").marketDetails
    if len(got) != len(asked):
        raise ParseError(f"ig markets: {len(got)} entries for {len(asked)} epics")
    out: dict[str, int] = {}
    for epic, d in zip(asked, got, strict=True):
        name = d.instrument.epic if d.instrument is not None else epic
        dec = d.snapshot.decimalPlacesFactor if d.snapshot is not None else None
        if dec is not None:
            out[name] = dec
    return out


def build_ticker(
    market: str, symbol: str, *, creds: Credentials | None = None, session: IgSession | None = None
) -> RestRequest:
    """The REST ticker of epic SYMBOL: its market details (`GET /markets/{epic}` v3)."""
    _market(market)
    return build_market(symbol, creds=creds, session=session)


def parse_ticker(market: str, symbol: str, body: bytes, ts: int) -> Ticker:
    """Bid/offer of the market snapshot (IG gives no sizes)."""
    return parse.ticker_from_market(market, _decode(schemas.MARKET, body, "market"), ts)


def build_orderbook(market: str, symbol: str, depth: int) -> RestRequest:
    raise UnsupportedError("IG has no order book; use get_ticker / get_streaming_market")


def parse_orderbook(market: str, symbol: str, body: bytes, ts: int, depth: int) -> OrderBook:
    raise UnsupportedError("IG has no order book")


def build_prices(
    epic: str,
    resolution: str = "MINUTE",
    *,
    max_points: int = 10,
    page_size: int | None = None,
    page_number: int = 1,
    start: str | int | datetime | None = None,
    end: str | int | datetime | None = None,
    creds: Credentials | None = None,
    session: IgSession | None = None,
) -> RestRequest:
    """`GET /prices/{epic}` v3. Books in the "history" bucket the most points it may return:
    one page (`page_size`, IG's default 20) or, unpaged (`page_size=0`), `max_points`.

    Raises:
        ValueError: an unknown resolution, a date range without paging, too many points.
    """
    res = RESOLUTIONS.get(resolution)
    if res is None:
        raise ValueError(f"unknown IG resolution {resolution!r} (one of {sorted(RESOLUTIONS)})")
    ranged = start is not None or end is not None
    size = 20 if page_size is None else int(page_size)
    if size < 0 or max_points < 1:
        raise ValueError("page_size must be >= 0 and max_points >= 1")
    if size == 0 and ranged:
        raise ValueError("a date range needs paging (page_size > 0): its size is unknown")
    points = size if ranged else (min(max_points, size) if size else max_points)
    query: dict[str, object] = {
        "resolution": res,
        "from": _utc_text(start),
        "to": _utc_text(end),
        "max": None if ranged else max_points,
        "pageSize": size,
        "pageNumber": page_number,
    }
    cost = shield.cost(shield.CallKind.HISTORY, points)
    return _request(
        "prices", args={"epic": epic}, query=query, creds=creds, session=session, cost=cost
    )


def parse_prices(epic: str, body: bytes, ts: int) -> parse.PriceHistory:
    """One page of bars and the allowance IG reports with it."""
    p = _decode(schemas.PRICES, body, "prices")
    meta = p.metadata or schemas.PricesMeta()
    allowance = meta.allowance or schemas.Allowance()
    page = meta.pageData or schemas.PageData()
    return parse.PriceHistory(
        venue=VENUE,
        epic=epic,
        bars=tuple(parse.price_bar(b) for b in p.prices),
        remaining_allowance=allowance.remainingAllowance,
        total_allowance=allowance.totalAllowance,
        allowance_expiry_s=allowance.allowanceExpiry,
        page_number=page.pageNumber,
        total_pages=page.totalPages,
        last_update=ts,
    )


def build_applications(
    *, creds: Credentials | None = None, session: IgSession | None = None
) -> RestRequest:
    """`GET /operations/application` v1: the API key's real allowances."""
    return _request("applications", creds=creds, session=session)


def parse_applications(body: bytes, api_key: str) -> tuple[shield.Budgets, int | None]:
    """API_KEY's budgets (IG's defaults where it reports none) and its concurrent
    subscription limit per Lightstreamer connection."""
    apps = _decode(schemas.APPLICATIONS, body, "applications")
    app = next((a for a in apps if a.apiKey == api_key), None)
    if app is None:
        raise ParseError("ig applications: the API key is not in the answer")
    d = shield.DEFAULT
    return (
        shield.Budgets(
            app=app.allowanceApplicationOverall or d.app,
            account=app.allowanceAccountOverall or d.account,
            trading=app.allowanceAccountTrading or d.trading,
            history_points=d.history_points,
        ),
        app.concurrentSubscriptionsLimit,
    )


# -- account -----------------------------------------------------------------------------------


def build_switch_account(
    account_id: str, *, default: bool = False, session: IgSession | None = None
) -> RestRequest:
    """`PUT /session` v1: make ACCOUNT_ID the session's current account."""
    return _request(
        "switch_account",
        body={"accountId": account_id, "defaultAccount": default},
        session=session,
    )


def build_account(
    market: str,
    creds: Credentials | None = None,
    now_ms: int = 0,
    *,
    session: IgSession | None = None,
) -> RestRequest:
    """`GET /accounts` v1 (every account of the login; `parse_account` picks one)."""
    _market(market)
    return _request("accounts", creds=creds, session=session)


def parse_account(market: str, body: bytes, ts: int, *, account_id: str | None = None) -> Account:
    """ACCOUNT_ID's balances (else the preferred account's, else the first)."""
    accounts = _decode(schemas.ACCOUNTS, body, "accounts").accounts
    if not accounts:
        raise ParseError("ig accounts: no account in the answer")
    chosen = next((a for a in accounts if a.accountId == account_id), None) if account_id else None
    if chosen is None and account_id is not None:
        raise ParseError(f"ig accounts: {account_id} not in the answer")
    if chosen is None:
        chosen = next((a for a in accounts if a.preferred), accounts[0])
    return parse.account_from_rest(market, chosen, ts)


# -- positions ---------------------------------------------------------------------------------


def build_positions(
    market: str,
    creds: Credentials | None = None,
    now_ms: int = 0,
    symbol: str | None = None,
    *,
    session: IgSession | None = None,
) -> RestRequest:
    """`GET /positions` v2 (every open deal; IG has no epic filter: `parse_positions` has)."""
    _market(market)
    return _request("positions", creds=creds, session=session)


def build_position(
    deal_id: str, *, creds: Credentials | None = None, session: IgSession | None = None
) -> RestRequest:
    """`GET /positions/{dealId}` v2."""
    return _request("position", args={"dealId": deal_id}, creds=creds, session=session)


def parse_deals(body: bytes) -> tuple[parse.PositionDeal, ...]:
    """Every open deal of a `/positions` v2 answer (what closing a single deal needs)."""
    return tuple(
        parse.deal_from_rest(e) for e in _decode(schemas.POSITIONS, body, "positions").positions
    )


def parse_positions(
    market: str, body: bytes, ts: int, symbol: str | None = None
) -> tuple[Position, ...]:
    """Open positions, one per epic and direction (deals aggregated), of SYMBOL or all."""
    deals = [d for d in parse_deals(body) if symbol is None or d.epic == symbol]
    return parse.aggregate_positions(market, deals, ts, "rest")


# -- working orders ----------------------------------------------------------------------------


def build_open_orders(
    market: str,
    creds: Credentials | None = None,
    now_ms: int = 0,
    symbol: str | None = None,
    *,
    session: IgSession | None = None,
) -> RestRequest:
    """`GET /workingorders` v2 (IG has no epic filter: `parse_open_orders` has)."""
    _market(market)
    return _request("working_orders", creds=creds, session=session)


def parse_open_orders(
    market: str, body: bytes, ts: int, symbol: str | None = None
) -> tuple[Order, ...]:
    entries = _decode(schemas.WORKING_ORDERS, body, "working orders").workingOrders
    return tuple(
        parse.order_from_rest(market, e, ts)
        for e in entries
        if symbol is None or e.workingOrderData.epic == symbol
    )


# -- deals -------------------------------------------------------------------------------------

_MARKET_TIF = {"ioc": "EXECUTE_AND_ELIMINATE", "fok": "FILL_OR_KILL"}
_WORKING_TIF = {"gtc": "GOOD_TILL_CANCELLED", "gtd": "GOOD_TILL_DATE"}


def build_place_order(
    market: str,
    creds: Credentials | None,
    now_ms: int,
    symbol: str,
    side: str,
    type: str,  # noqa: A002 - the contract's name
    quantity: float | str | Decimal,
    price: float | str | Decimal | None = None,
    time_in_force: str | None = None,
    client_order_id: str | None = None,
    *,
    currency_code: str | None = None,
    expiry: str = "-",
    force_open: bool | None = None,
    guaranteed_stop: bool = False,
    stop_level: float | str | Decimal | None = None,
    limit_level: float | str | Decimal | None = None,
    stop_distance: float | str | Decimal | None = None,
    limit_distance: float | str | Decimal | None = None,
    good_till_date: str | None = None,
    session: IgSession | None = None,
) -> RestRequest:
    """A deal on epic SYMBOL; the type and time in force pick IG's call:

    - "market" -> `POST /positions/otc` v2, orderType MARKET ("ioc"/"fok" -> IG's
      EXECUTE_AND_ELIMINATE / FILL_OR_KILL);
    - "limit" with "ioc"/"fok" -> the same call, orderType LIMIT at PRICE (fills at PRICE or
      better at once, or is rejected);
    - "limit" (default "gtc", or "gtd" with GOOD_TILL_DATE) and "stop" -> a working order,
      `POST /workingorders/otc` v2 of type LIMIT / STOP at PRICE.

    `client_order_id` becomes IG's `dealReference`. IG needs the deal currency (one of the
    instrument's, `MarketInfo.currencies`): `currency_code`, else the session's account
    currency. `force_open` defaults to False (a deal nets against an opposite position) unless
    stops or limits are attached, which IG allows only with True.
    """
    _market(market)
    direction = _direction(side)
    t = type.lower()
    tif = (time_in_force or "").lower() or None
    size = _number(quantity, "quantity")
    level = _number(price, "price")
    currency = currency_code or (session.currency if session is not None else None)
    if not currency:
        raise ValueError("an IG deal needs currency_code (e.g. MarketInfo.default_currency)")
    extras = {
        "stopLevel": _number(stop_level, "stop_level"),
        "limitLevel": _number(limit_level, "limit_level"),
        "stopDistance": _number(stop_distance, "stop_distance"),
        "limitDistance": _number(limit_distance, "limit_distance"),
    }
    attached = any(v is not None for v in extras.values())
    forced = attached if force_open is None else force_open
    if attached and not forced:
        raise ValueError("IG takes stops and limits only with force_open=True")
    common: dict[str, object] = {
        "epic": symbol,
        "expiry": expiry,
        "direction": direction,
        "size": size,
        "currencyCode": currency,
        "guaranteedStop": guaranteed_stop,
        "forceOpen": forced,
        "dealReference": _deal_reference(client_order_id),
        **extras,
    }
    if t == "market" or (t == "limit" and tif in _MARKET_TIF):
        if t == "market" and level is not None:
            raise ValueError("an IG market deal takes no price")
        if t == "limit" and level is None:
            raise ValueError("a limit order needs a price")
        if tif is not None and tif not in _MARKET_TIF:
            raise ValueError(f"a market deal takes time in force ioc/fok, not {time_in_force!r}")
        body = {
            **common,
            "orderType": t.upper(),
            "level": level,
            "timeInForce": _MARKET_TIF.get(tif or ""),
        }
        return _request("open_position", body=body, creds=creds, session=session)
    if t not in ("limit", "stop"):
        raise ValueError(f"IG order type must be market, limit or stop, not {type!r}")
    if level is None:
        raise ValueError(f"a {t} order needs a price")
    wtif = _WORKING_TIF.get(tif or "gtc")
    if wtif is None:
        raise ValueError(f"a working order takes time in force gtc/gtd, not {time_in_force!r}")
    if wtif == "GOOD_TILL_DATE" and not good_till_date:
        raise ValueError("time in force gtd needs good_till_date ('yyyy/mm/dd hh:mm:ss' UTC)")
    body = {
        **common,
        "type": t.upper(),
        "level": level,
        "timeInForce": wtif,
        "goodTillDate": good_till_date if wtif == "GOOD_TILL_DATE" else None,
    }
    return _request("create_working_order", body=body, creds=creds, session=session)


def build_close_position(
    market: str,
    creds: Credentials | None,
    now_ms: int,
    *,
    direction: str,
    size: float | str | Decimal,
    deal_id: str | None = None,
    epic: str | None = None,
    expiry: str = "-",
    order_type: str = "MARKET",
    level: float | str | Decimal | None = None,
    time_in_force: str | None = None,
    session: IgSession | None = None,
) -> RestRequest:
    """Close a position: `POST /positions/otc` v1 with `_method: DELETE` (a trading call).

    DIRECTION is the closing deal's ("sell" closes a long); name the deal by `deal_id` or by
    `epic` (with its `expiry`), not both. MARKET takes no level; LIMIT needs one.
    """
    _market(market)
    if (deal_id is None) == (epic is None):
        raise ValueError("close by deal_id or by epic (exactly one)")
    ot = order_type.upper()
    lv = _number(level, "level")
    if ot == "MARKET" and lv is not None:
        raise ValueError("a MARKET close takes no level")
    if ot == "LIMIT" and lv is None:
        raise ValueError("a LIMIT close needs a level")
    if ot not in ("MARKET", "LIMIT"):
        raise ValueError(f"order_type must be MARKET or LIMIT, not {order_type!r}")
    tif = _MARKET_TIF.get((time_in_force or "").lower()) if time_in_force else None
    if time_in_force and tif is None:
        raise ValueError(f"a close takes time in force ioc/fok, not {time_in_force!r}")
    body: dict[str, object] = {
        "dealId": deal_id,
        "epic": epic,
        "expiry": expiry if epic is not None else None,
        "direction": _direction(direction),
        "size": _number(size, "size"),
        "orderType": ot,
        "level": lv,
        "timeInForce": tif,
    }
    return _request("close_position", body=body, creds=creds, session=session)


def build_cancel_order(
    market: str,
    creds: Credentials | None,
    now_ms: int,
    symbol: str,
    order_id: str | None = None,
    client_order_id: str | None = None,
    *,
    session: IgSession | None = None,
) -> RestRequest:
    """Delete working order ORDER_ID (its dealId): `POST /workingorders/otc/{dealId}` v2 with
    `_method: DELETE`. IG deletes by dealId only."""
    _market(market)
    if order_id is None:
        raise ValueError("IG cancels a working order by its dealId (order_id)")
    return _request(
        "delete_working_order", args={"dealId": order_id}, body={}, creds=creds, session=session
    )


def parse_deal_reference(body: bytes) -> str:
    """The `dealReference` every deal call answers."""
    return _decode(schemas.DEAL_REFERENCE, body, "deal").dealReference


def parse_cancel(market: str, body: bytes, ts: int) -> tuple[str, str | None]:
    """(dealReference, None): IG's answer to a delete names only the deal reference."""
    return parse_deal_reference(body), None


def parse_order(market: str, body: bytes, ts: int, request: RestRequest | None = None) -> Order:
    """The provisional order of a deal answer: `order_id` is the dealReference until the
    confirm (`build_confirm` -> `order_from_confirm`) names the dealId; the rest comes from
    REQUEST (the `build_place_order` request), status "new".

    Raises:
        ParseError: no request, or a broken body.
    """
    ref = parse_deal_reference(body)
    if request is None or not request.body:
        raise ParseError("ig order: pass the deal request (IG answers only a dealReference)")
    try:
        sent = json.loads(request.body)
        working = request.path.startswith("/workingorders")
        tif = sent.get("timeInForce")
        return Order(
            venue=VENUE,
            market=market,
            symbol=sent["epic"],
            order_id=ref,
            client_order_id=sent.get("dealReference") or ref,
            side=parse.side(sent["direction"]),
            type=(sent["type"] if working else sent["orderType"]).lower(),
            price=float(sent["level"]) if sent.get("level") is not None else None,
            quantity=float(sent["size"]),
            status="new",
            time_in_force={**{v: k for k, v in _MARKET_TIF.items()},
                           **{v: k for k, v in _WORKING_TIF.items()}}.get(tif, tif),
            last_update=ts,
            source="rest",
        )  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise ParseError(f"ig order: not a deal request/answer: {exc}") from exc


def build_confirm(
    deal_reference: str, *, creds: Credentials | None = None, session: IgSession | None = None
) -> RestRequest:
    """`GET /confirms/{dealReference}` v1 (a non-trading call)."""
    return _request("confirm", args={"dealReference": deal_reference}, creds=creds, session=session)


def parse_confirm(market: str, body: bytes, ts: int) -> TradeConfirm:
    return parse.confirm(market, _decode(schemas.CONFIRM, body, "confirm"), ts, "rest")


def check_confirm(confirm: TradeConfirm) -> TradeConfirm:
    """CONFIRM if IG accepted the deal.

    Raises:
        OrderRejected: `dealStatus` REJECTED (code: IG's `reason`, e.g. INSUFFICIENT_FUNDS).
    """
    if confirm.deal_status != "ACCEPTED":
        reason = confirm.reason or confirm.deal_status or "UNKNOWN"
        raise OrderRejected(VENUE, reason, f"deal {confirm.deal_reference} rejected: {reason}")
    return confirm


def order_from_confirm(market: str, confirm: TradeConfirm, request: RestRequest, ts: int) -> Order:
    """The order a deal became: a working order is open ("new", `order_id` its dealId, what
    `build_cancel_order` takes); a position deal is "filled" at the confirm's level.

    Raises:
        OrderRejected: IG rejected the deal.
    """
    check_confirm(confirm)
    sent = json.loads(request.body or "{}")
    working = request.path.startswith("/workingorders")
    side = parse.side(confirm.direction or sent.get("direction"))
    size = confirm.size if confirm.size is not None else float(sent.get("size", 0))
    return Order(
        venue=VENUE,
        market=market,
        symbol=confirm.epic or sent.get("epic", ""),
        order_id=confirm.deal_id or confirm.deal_reference,
        client_order_id=confirm.deal_reference,
        side=side,
        type=(sent.get("type") or sent.get("orderType") or "market").lower(),
        price=confirm.level,
        quantity=size,
        filled=0.0 if working else size,
        avg_price=None if working else confirm.level,
        status="new" if working else "filled",
        ts_event=confirm.ts_event,
        last_update=ts,
        source="rest",
    )

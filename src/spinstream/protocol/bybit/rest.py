"""Bybit v5 REST as data: endpoints, published rate limits, request builders, body parsers.

Limits (docs/v5/rate-limit, 2026-07): 600 requests per 5 s per IP over every endpoint; per
UID and endpoint per second: order create and cancel 10/s on linear and 20/s on spot, order
realtime 50/s, position list 50/s, wallet balance 50/s. Market data has only the IP limit. A
request's `cost` names every bucket it draws from; `RestRequest.base` is the market (both
markets live on one host, so the workspace maps "linear" and "spot" to the same URL).

Query strings are built in a fixed order and signed exactly as sent (`auth.sign`); values are
percent-encoded except `%`, so a `nextPageCursor` (which Bybit already encodes) goes back as is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TypeVar

import msgspec
import numpy as np

from spinstream.credentials import Credentials
from spinstream.errors import (
    AuthError,
    OrderRejected,
    ParseError,
    RateLimited,
    UnsupportedError,
    VenueError,
)
from spinstream.models import Account, Order, OrderBook, Position, Ticker
from spinstream.protocol.events import RestRequest
from spinstream.protocol.limits import Bucket, Endpoint
from spinstream.protocol.values import INF

from . import auth, parse, schemas

__all__ = [
    "ENDPOINTS",
    "LIMITS",
    "MARKETS",
    "InstrumentSteps",
    "build_account",
    "build_cancel_order",
    "build_instruments",
    "build_open_orders",
    "build_orderbook",
    "build_place_order",
    "build_positions",
    "build_ticker",
    "check_error",
    "next_cursor",
    "parse_account",
    "parse_cancel",
    "parse_instruments",
    "parse_open_orders",
    "parse_order",
    "parse_orderbook",
    "parse_positions",
    "parse_ticker",
    "response_time_ns",
]

VENUE = parse.VENUE
MARKETS = ("linear", "spot")

T = TypeVar("T")

AUTH_CODES = frozenset({10003, 10004, 10005, 10007, 10010, 33004, -2015})
RATE_CODES = frozenset({10006, 10018, 429})


def LIMITS() -> dict[str, Bucket]:  # noqa: N802 - the contract names it like a constant
    """Fresh buckets for one account: Bybit's published IP and per-UID endpoint limits.

    HTTP: 600 requests per 5 s per IP (shared by every account on the machine); the endpoint
    limits count per UID, whatever the IP ("account" scope: shared by accounts with one key).
    """
    return {
        "ip": Bucket(600, 5.0, scope="ip"),
        "create_linear": Bucket(10, 1.0, scope="account"),
        "create_spot": Bucket(20, 1.0, scope="account"),
        "cancel_linear": Bucket(10, 1.0, scope="account"),
        "cancel_spot": Bucket(20, 1.0, scope="account"),
        "open_orders": Bucket(50, 1.0, scope="account"),
        "positions": Bucket(50, 1.0, scope="account"),
        "wallet": Bucket(50, 1.0, scope="account"),
    }


def _endpoints() -> dict[str, Endpoint]:
    out: dict[str, Endpoint] = {}
    for m in MARKETS:
        ip = {"ip": 1}
        out[f"{m}.ticker"] = Endpoint("GET", "/v5/market/tickers", m, ip)
        out[f"{m}.time"] = Endpoint("GET", "/v5/market/time", m, ip)
        out[f"{m}.orderbook"] = Endpoint("GET", "/v5/market/orderbook", m, ip)
        out[f"{m}.instruments"] = Endpoint("GET", "/v5/market/instruments-info", m, ip)
        out[f"{m}.account"] = Endpoint(
            "GET", "/v5/account/wallet-balance", m, {"ip": 1, "wallet": 1}, signed=True
        )
        out[f"{m}.open_orders"] = Endpoint(
            "GET", "/v5/order/realtime", m, {"ip": 1, "open_orders": 1}, signed=True
        )
        out[f"{m}.place_order"] = Endpoint(
            "POST", "/v5/order/create", m, {"ip": 1, f"create_{m}": 1}, signed=True
        )
        out[f"{m}.cancel_order"] = Endpoint(
            "POST", "/v5/order/cancel", m, {"ip": 1, f"cancel_{m}": 1}, signed=True
        )
    out["linear.positions"] = Endpoint(
        "GET", "/v5/position/list", "linear", {"ip": 1, "positions": 1}, signed=True
    )
    return out


ENDPOINTS: dict[str, Endpoint] = _endpoints()


class InstrumentSteps(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A symbol's price tick and size step as Bybit writes them, and the decimals they fix."""

    symbol: str
    tick_size: str
    size_step: str
    price_decimals: int
    size_decimals: int


# -- helpers ---------------------------------------------------------------------------------


def _market(market: str) -> str:
    if market not in MARKETS:
        raise UnsupportedError(f"bybit market {market!r} is not supported (use {MARKETS})")
    return market


def _request(name: str, params: Mapping[str, object] | None = None) -> RestRequest:
    """Endpoint NAME with PARAMS (query values percent-encoded except `%`: cursors come
    encoded)."""
    return ENDPOINTS[name].request(params, keep="%")


def _signed(
    name: str, creds: Credentials, now_ms: int, params: Mapping[str, object]
) -> RestRequest:
    return auth.sign(_request(name, params), creds, now_ms)


def _decimal_text(value: float | int | str, what: str) -> str:
    """A user number as the plain decimal text Bybit expects ("0.00001", never "1e-05")."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number")
    try:
        d = Decimal(value if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise ValueError(f"{what} is not a number: {value!r}") from None
    if not d.is_finite() or d <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _raise_for_code(code: int, msg: str) -> None:
    if code == 0:
        return
    if code in AUTH_CODES:
        raise AuthError(VENUE, code, msg)
    if code in RATE_CODES:
        raise RateLimited(VENUE, code, msg)
    if 110000 <= code < 111000 or 170000 <= code < 171000:
        raise OrderRejected(VENUE, code, msg)
    raise VenueError(VENUE, code, msg)


def _decode(
    decoder: msgspec.json.Decoder[schemas.Response[T]], body: bytes, what: str
) -> tuple[T, int | None]:
    """BODY's `result` and server `time`; a venue error code raises its error, a broken body
    raises ParseError."""
    try:
        resp = decoder.decode(body)
    except msgspec.DecodeError as exc:
        try:  # a failure body whose `result` does not fit the success shape
            env = schemas.REST_ENVELOPE.decode(body)
        except msgspec.DecodeError:
            raise ParseError(f"bybit {what}: bad body: {exc}") from exc
        _raise_for_code(env.retCode, env.retMsg)
        raise ParseError(f"bybit {what}: bad body: {exc}") from exc
    _raise_for_code(resp.retCode, resp.retMsg)
    if resp.result is None:
        raise ParseError(f"bybit {what}: no result")
    return resp.result, resp.time


def check_error(status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Raise the venue's error for a failed call; return quietly on success.

    HTTP 403 is Bybit's IP limit ("access too frequent"), 429 its system-level protection,
    both RateLimited; 401 is AuthError. In a JSON body: 10003/10004/10005/10007/10010/33004
    (key, signature, permission, IP binding, expiry) are AuthError; 10006 (and the retired
    10018) RateLimited; 110xxx (derivatives) and 170xxx (spot) OrderRejected; any other
    non-zero `retCode` VenueError. An undecodable 2xx body is left to the parser.
    """
    if status in (403, 429):
        raise RateLimited(VENUE, status, f"HTTP {status}: too many visits")
    if status == 401:
        raise AuthError(VENUE, status, "HTTP 401: invalid request or key")
    try:
        env = schemas.REST_ENVELOPE.decode(body)
    except msgspec.DecodeError:
        if status >= 400:
            raise VenueError(VENUE, status, f"HTTP {status}") from None
        return
    _raise_for_code(env.retCode, env.retMsg)
    if status >= 400:
        raise VenueError(VENUE, status, f"HTTP {status}: {env.retMsg}")


def response_time_ns(body: bytes) -> int | None:
    """The server `time` (ms) of a REST body, in ns; None when absent or undecodable."""
    try:
        return parse.ms_to_ns(schemas.REST_ENVELOPE.decode(body).time)
    except (msgspec.DecodeError, ParseError):
        return None


def next_cursor(body: bytes) -> str | None:
    """The `nextPageCursor` of a paged body, or None on the last page."""
    try:
        resp = msgspec.json.decode(body, type=schemas.Response[schemas.Page[msgspec.Raw]])
    except msgspec.DecodeError:
        return None
    return (resp.result.nextPageCursor or None) if resp.result else None


# -- market data -----------------------------------------------------------------------------


def build_server_time(market: str) -> RestRequest:
    """GET /v5/market/time: the venue's clock, for the clock offset the stream's lag is
    measured against."""
    return _request(f"{_market(market)}.time")


class _ServerTime(msgspec.Struct):
    time: int  # ms, the envelope's


_SERVER_TIME = msgspec.json.Decoder(_ServerTime)


def parse_server_time(body: bytes) -> int:
    """The venue's time (int ns) from a server-time answer."""
    try:
        ms = _SERVER_TIME.decode(body).time
    except msgspec.DecodeError as exc:
        raise ParseError(f"bybit: bad server time body: {exc}") from exc
    if not 0 < ms < 1 << 50:
        raise ParseError(f"bybit: server time {ms} is not a time")
    return ms * 1_000_000


def build_ticker(market: str, symbol: str) -> RestRequest:
    """GET /v5/market/tickers for one symbol."""
    return _request(f"{_market(market)}.ticker", {"category": market, "symbol": symbol})


def parse_ticker(market: str, symbol: str, body: bytes, ts: int) -> Ticker:
    """The REST ticker (spot REST tickers do carry bid1/ask1)."""
    result, time = _decode(schemas.REST_TICKERS, body, "ticker")
    for t in result.list:
        if t.symbol == symbol:
            return parse.parse_ticker(market, t, parse.ms_to_ns(time), ts, source="rest")
    raise ParseError(f"bybit ticker: {symbol} not in the answer")


def build_orderbook(market: str, symbol: str, depth: int) -> RestRequest:
    """GET /v5/market/orderbook, `limit` clamped to Bybit's 1..1000."""
    limit = max(1, min(int(depth), 1000))
    return _request(
        f"{_market(market)}.orderbook", {"category": market, "symbol": symbol, "limit": limit}
    )


def _levels(levels: tuple[tuple[str, str], ...], depth: int) -> np.ndarray:
    try:
        rows = [(float(p), float(s)) for p, s in levels[:depth]]
    except ValueError as exc:
        raise ParseError(f"bybit orderbook: bad level: {exc}") from exc
    for p, s in rows:  # a level's price is finite > 0, its size finite >= 0 (NaN fails both)
        if not (0.0 < p < INF and 0.0 <= s < INF):
            raise ParseError(f"bybit orderbook: impossible level {p!r} x {s!r}")
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def parse_orderbook(market: str, symbol: str, body: bytes, ts: int, depth: int) -> OrderBook:
    """The REST book's top DEPTH levels per side (float views; `seq` is Bybit's `u`)."""
    r, _ = _decode(schemas.REST_ORDERBOOK, body, "orderbook")
    return OrderBook(
        venue=VENUE,
        market=market,
        symbol=r.s or symbol,
        bids=_levels(r.b, depth),
        asks=_levels(r.a, depth),
        seq=r.u,
        ts_event=parse.ms_to_ns(r.ts),
        last_update=ts,
        source="rest",
    )


def build_instruments(
    market: str, symbol: str | None = None, cursor: str | None = None
) -> RestRequest:
    """GET /v5/market/instruments-info (one symbol, or a page of every trading symbol)."""
    params: dict[str, object] = {"category": _market(market), "symbol": symbol}
    if symbol is None:
        params["status"] = "Trading"
        if market != "spot":  # spot does not page
            params["limit"] = 1000
            params["cursor"] = cursor
    return _request(f"{market}.instruments", params)


def parse_instruments(body: bytes) -> dict[str, InstrumentSteps]:
    """Symbol -> steps from an instruments-info body (`qtyStep`, or spot's `basePrecision`)."""
    result, _ = _decode(schemas.INSTRUMENTS, body, "instruments-info")
    out: dict[str, InstrumentSteps] = {}
    for inst in result.list:
        lot = inst.lotSizeFilter
        size_step = lot.qtyStep if lot.qtyStep is not None else lot.basePrecision
        if size_step is None:
            raise ParseError(f"bybit instruments-info: {inst.symbol} has no size step")
        tick = inst.priceFilter.tickSize
        out[inst.symbol] = InstrumentSteps(
            symbol=inst.symbol,
            tick_size=tick,
            size_step=size_step,
            price_decimals=parse.step_decimals(tick),
            size_decimals=parse.step_decimals(size_step),
        )
    return out


# -- account ---------------------------------------------------------------------------------


def build_account(market: str, creds: Credentials, now_ms: int) -> RestRequest:
    """GET /v5/account/wallet-balance?accountType=UNIFIED (one wallet for both markets)."""
    return _signed(f"{_market(market)}.account", creds, now_ms, {"accountType": "UNIFIED"})


def parse_account(market: str, body: bytes, ts: int) -> Account:
    """The unified wallet as MARKET's `Account`."""
    result, time = _decode(schemas.ACCOUNTS, body, "wallet-balance")
    return parse.parse_account(market, result.list, parse.ms_to_ns(time), ts, "rest")


def build_positions(
    market: str,
    creds: Credentials,
    now_ms: int,
    symbol: str | None = None,
    *,
    settle_coin: str = "USDT",
    cursor: str | None = None,
) -> RestRequest:
    """GET /v5/position/list: one symbol, or every open position settled in SETTLE_COIN."""
    if _market(market) == "spot":
        raise UnsupportedError("bybit spot has no positions")
    params: dict[str, object] = {"category": market, "symbol": symbol}
    if symbol is None:
        params.update(settleCoin=settle_coin, limit=200, cursor=cursor)
    return _signed("linear.positions", creds, now_ms, params)


def parse_positions(market: str, body: bytes, ts: int) -> tuple[Position, ...]:
    """Positions of one page (see `next_cursor`)."""
    result, _ = _decode(schemas.REST_POSITIONS, body, "position list")
    return tuple(parse.parse_position(p, ts, "rest") for p in result.list)


def build_open_orders(
    market: str,
    creds: Credentials,
    now_ms: int,
    symbol: str | None = None,
    *,
    settle_coin: str = "USDT",
    cursor: str | None = None,
) -> RestRequest:
    """GET /v5/order/realtime (open orders only); linear without a symbol needs SETTLE_COIN."""
    params: dict[str, object] = {"category": _market(market), "symbol": symbol}
    if symbol is None and market == "linear":
        params["settleCoin"] = settle_coin
    params.update(limit=50, cursor=cursor)
    return _signed(f"{market}.open_orders", creds, now_ms, params)


def parse_open_orders(market: str, body: bytes, ts: int) -> tuple[Order, ...]:
    """Open orders of one page (see `next_cursor`)."""
    result, _ = _decode(schemas.REST_ORDERS, body, "open orders")
    return tuple(parse.parse_order(o, ts, "rest", market) for o in result.list)


# -- orders ----------------------------------------------------------------------------------

_TIF = {"gtc": "GTC", "ioc": "IOC", "fok": "FOK", "post_only": "PostOnly", "postonly": "PostOnly"}
_TYPES = {"limit": "Limit", "market": "Market"}
_SIDES = {"buy": "Buy", "sell": "Sell"}


def build_place_order(
    market: str,
    creds: Credentials,
    now_ms: int,
    symbol: str,
    side: str,
    type: str,  # noqa: A002 - the contract's name
    quantity: float | str,
    price: float | str | None = None,
    time_in_force: str | None = None,
    client_order_id: str | None = None,
) -> RestRequest:
    """POST /v5/order/create. Spot market orders are sized in the base coin (`marketUnit`),
    as on every other venue, not in Bybit's default quote amount for spot market buys."""
    try:
        bybit_side, bybit_type = _SIDES[side.lower()], _TYPES[type.lower()]
    except KeyError:
        raise ValueError(f"bad side/type {side!r}/{type!r}") from None
    params: dict[str, object] = {
        "category": _market(market),
        "symbol": symbol,
        "side": bybit_side,
        "orderType": bybit_type,
        "qty": _decimal_text(quantity, "quantity"),
    }
    if bybit_type == "Limit":
        if price is None:
            raise ValueError("a limit order needs a price")
        params["price"] = _decimal_text(price, "price")
    if market == "spot" and bybit_type == "Market":
        params["marketUnit"] = "baseCoin"
    if time_in_force is not None:
        tif = _TIF.get(time_in_force.lower())
        if tif is None:
            raise ValueError(f"bad time in force {time_in_force!r}")
        params["timeInForce"] = tif
    if client_order_id is not None:
        params["orderLinkId"] = client_order_id
    return _signed(f"{market}.place_order", creds, now_ms, params)


def build_cancel_order(
    market: str,
    creds: Credentials,
    now_ms: int,
    symbol: str,
    order_id: str | None = None,
    client_order_id: str | None = None,
) -> RestRequest:
    """POST /v5/order/cancel by order id (or by our client id)."""
    if order_id is None and client_order_id is None:
        raise ValueError("cancel needs order_id or client_order_id")
    params: dict[str, object] = {"category": _market(market), "symbol": symbol}
    if order_id is not None:
        params["orderId"] = order_id
    else:
        params["orderLinkId"] = client_order_id
    return _signed(f"{market}.cancel_order", creds, now_ms, params)


def parse_order(market: str, body: bytes, ts: int, request: RestRequest | None = None) -> Order:
    """The order a create answer confirms, or the first order of an order/realtime answer.

    Bybit's create answer holds only `orderId`/`orderLinkId`; the rest of the `Order` comes
    from REQUEST (the `build_place_order` request that was sent), with status "new".

    Raises:
        ParseError: a create answer without its request, or a broken body.
    """
    if request is None:
        result, _ = _decode(schemas.REST_ORDERS, body, "order")
        if not result.list:
            raise ParseError(
                "bybit order: empty list (pass the create request for a create answer)"
            )
        return parse.parse_order(result.list[0], ts, "rest", market)
    ack, time = _decode(schemas.ORDER_ACK, body, "order create")
    try:
        sent = json.loads(request.body or "")
        return Order(
            venue=VENUE,
            market=sent.get("category", market),
            symbol=sent["symbol"],
            order_id=ack.orderId,
            client_order_id=ack.orderLinkId or sent.get("orderLinkId"),
            side=parse.side(sent["side"]),
            type=sent["orderType"].lower(),
            price=float(sent["price"]) if "price" in sent else None,
            quantity=float(sent["qty"]),
            status="new",
            time_in_force=sent.get(
                "timeInForce", "IOC" if sent["orderType"] == "Market" else "GTC"
            ),
            ts_event=parse.ms_to_ns(time),
            last_update=ts,
            source="rest",
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ParseError(f"bybit order: not a create request/answer: {exc}") from exc


def parse_cancel(market: str, body: bytes, ts: int) -> tuple[str, str | None]:
    """(order_id, client_order_id) a cancel answer confirms (Bybit sends nothing else)."""
    ack, _ = _decode(schemas.ORDER_ACK, body, "order cancel")
    return ack.orderId, ack.orderLinkId or None

"""Binance REST as data: published limits, endpoint weights, request builders, answer parsers.

Markets: "spot" (`https://api.binance.com`, `/api/v3`) and "usdm" (USD-M futures,
`https://fapi.binance.com`, `/fapi`). Builders return `RestRequest`s whose `base` is the
market and whose `cost` names the buckets of `LIMITS()`; signed ones are signed by `auth.sign`
with the caller's `now_ms`. Parsers take the raw body and the receive time `ts` (int ns) and
raise `ParseError` on a body they cannot read; `check_error` turns error answers into the
`VenueError` tree before anything is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TypeVar

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
from spinstream.models import Account, Order, OrderBook, Position, Ticker
from spinstream.protocol.binance import auth, parse
from spinstream.protocol.binance import schemas as s
from spinstream.protocol.binance.parse import VENUE, Instrument
from spinstream.protocol.events import RestRequest
from spinstream.protocol.limits import Bucket, Endpoint

__all__ = [
    "ENDPOINTS",
    "LIMITS",
    "MARKETS",
    "build_account",
    "build_cancel_order",
    "build_depth_snapshot",
    "build_exchange_info",
    "build_listen_key",
    "build_listen_key_keepalive",
    "build_open_orders",
    "build_orderbook",
    "build_place_order",
    "build_positions",
    "build_ticker",
    "check_error",
    "depth_weight",
    "error_class",
    "error_of",
    "parse_account",
    "parse_depth_snapshot",
    "parse_exchange_info",
    "parse_listen_key",
    "parse_open_orders",
    "parse_order",
    "parse_orderbook",
    "parse_positions",
    "parse_ticker",
]

MARKETS = ("spot", "usdm")
T = TypeVar("T")


def LIMITS() -> dict[str, Bucket]:  # noqa: N802 - the contract's name for the venue's limits
    """Fresh buckets for Binance's published limits, each with the scope Binance counts it in.

    Spot: REQUEST_WEIGHT 6000/min and RAW_REQUESTS 61000/5 min per IP; ORDERS 100/10 s and
    200000/day per account (UID). USD-M: REQUEST_WEIGHT 2400/min per IP; ORDERS 300/10 s and
    1200/min per account. (Binance announces changes in exchangeInfo `rateLimits`.) The runtime
    shares "ip" buckets between every Binance account of a workspace on the same hosts.
    """
    return {
        "spot_weight": Bucket(6000, 60, scope="ip"),
        "spot_raw": Bucket(61_000, 300, scope="ip"),
        "spot_orders_10s": Bucket(100, 10, scope="account"),
        "spot_orders_1d": Bucket(200_000, 86_400, scope="account"),
        "usdm_weight": Bucket(2400, 60, scope="ip"),
        "usdm_orders_10s": Bucket(300, 10, scope="account"),
        "usdm_orders_1m": Bucket(1200, 60, scope="account"),
    }


def _spot(weight: int, orders: int = 0) -> dict[str, int]:
    cost = {"spot_weight": weight, "spot_raw": 1}
    if orders:
        cost.update(spot_orders_10s=orders, spot_orders_1d=orders)
    return cost


def _usdm(weight: int, orders: int = 0) -> dict[str, int]:
    cost = {"usdm_weight": weight} if weight else {}
    if orders:
        cost.update(usdm_orders_10s=orders, usdm_orders_1m=orders)
    return cost


# Weights from Binance's REST docs (spot rest-api.md; USD-M "Market Data"/"Trade" pages),
# cross-checked with ccxt 4.5.90 (whose spot costs are weight/5 on a 1200/min scale).
ENDPOINTS: dict[str, Endpoint] = {
    "spot.exchange_info": Endpoint("GET", "/api/v3/exchangeInfo", "spot", _spot(20)),
    "spot.depth": Endpoint("GET", "/api/v3/depth", "spot", _spot(5)),  # by limit: depth_weight
    "spot.ticker": Endpoint("GET", "/api/v3/ticker/24hr", "spot", _spot(2)),
    "spot.account": Endpoint("GET", "/api/v3/account", "spot", _spot(20), signed=True),
    "spot.open_orders": Endpoint("GET", "/api/v3/openOrders", "spot", _spot(6), signed=True),
    "spot.open_orders_all": Endpoint("GET", "/api/v3/openOrders", "spot", _spot(80), True),
    "spot.place_order": Endpoint("POST", "/api/v3/order", "spot", _spot(1, 1), signed=True),
    "spot.cancel_order": Endpoint("DELETE", "/api/v3/order", "spot", _spot(1), signed=True),
    "spot.time": Endpoint("GET", "/api/v3/time", "spot", _spot(1)),
    "usdm.time": Endpoint("GET", "/fapi/v1/time", "usdm", _usdm(1)),
    "usdm.exchange_info": Endpoint("GET", "/fapi/v1/exchangeInfo", "usdm", _usdm(1)),
    "usdm.depth": Endpoint("GET", "/fapi/v1/depth", "usdm", _usdm(2)),  # by limit: depth_weight
    "usdm.ticker": Endpoint("GET", "/fapi/v1/ticker/bookTicker", "usdm", _usdm(2)),
    "usdm.account": Endpoint("GET", "/fapi/v3/account", "usdm", _usdm(5), signed=True),
    "usdm.positions": Endpoint("GET", "/fapi/v3/positionRisk", "usdm", _usdm(5), signed=True),
    "usdm.open_orders": Endpoint("GET", "/fapi/v1/openOrders", "usdm", _usdm(1), signed=True),
    "usdm.open_orders_all": Endpoint("GET", "/fapi/v1/openOrders", "usdm", _usdm(40), True),
    "usdm.place_order": Endpoint("POST", "/fapi/v1/order", "usdm", _usdm(0, 1), signed=True),
    "usdm.cancel_order": Endpoint("DELETE", "/fapi/v1/order", "usdm", _usdm(1), signed=True),
    "usdm.listen_key": Endpoint("POST", "/fapi/v1/listenKey", "usdm", _usdm(1)),
    "usdm.listen_key_keepalive": Endpoint("PUT", "/fapi/v1/listenKey", "usdm", _usdm(1)),
}

_SPOT_DEPTH = ((100, 5), (500, 25), (1000, 50), (5000, 250))
_USDM_DEPTH = ((5, 2), (10, 2), (20, 2), (50, 2), (100, 5), (500, 10), (1000, 20))


def _market(market: str) -> str:
    if market not in MARKETS:
        raise ValueError(f"binance has no market {market!r} (choose from {MARKETS})")
    return market


def _request(
    name: str, query: Mapping[str, str | int] | None = None, cost: dict[str, int] | None = None
) -> RestRequest:
    ep = ENDPOINTS[name]
    return RestRequest(
        method=ep.method,
        base=ep.base,
        path=ep.path,
        query=auth.encode_params(query) if query else "",
        cost=dict(ep.cost if cost is None else cost),
    )


def build_server_time(market: str) -> RestRequest:
    """GET /api/v3/time (spot) or /fapi/v1/time (USD-M): the venue's clock, for the clock
    offset the stream's lag is measured against."""
    return _request(f"{_market(market)}.time")


class _ServerTime(msgspec.Struct):
    serverTime: int  # noqa: N815


_SERVER_TIME = msgspec.json.Decoder(_ServerTime)


def parse_server_time(body: bytes) -> int:
    """The venue's time (int ns) from a server-time answer."""
    ms = _decode(_SERVER_TIME, body, "server time").serverTime
    if not 0 < ms < 1 << 50:
        raise ParseError(f"binance: server time {ms} is not a time")
    return ms * 1_000_000


def _decode(decoder: msgspec.json.Decoder[T], body: bytes, what: str) -> T:
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:  # ValidationError included
        raise ParseError(f"binance: bad {what} body: {exc}") from exc


def _decimal_text(value: str | int | float | Decimal, what: str) -> str:
    """A quantity or price as the exact decimal text Binance expects (no exponent)."""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, bool):
        raise TypeError(f"{what} must be a number or decimal text")
    elif isinstance(value, int):
        text = str(value)
    else:
        text = format(Decimal(repr(value)), "f")
    try:
        ok = Decimal(text).is_finite() and Decimal(text) > 0
    except ArithmeticError:
        ok = False
    if not ok:
        raise ValueError(f"{what} must be a positive finite decimal, not {value!r}")
    return text


# --- market data ----------------------------------------------------------------------------


def depth_weight(market: str, limit: int) -> tuple[int, int]:
    """(limit Binance accepts, its weight): spot 1..5000; USD-M 5/10/20/50/100/500/1000."""
    table = _SPOT_DEPTH if _market(market) == "spot" else _USDM_DEPTH
    limit = max(1, int(limit))
    for top, weight in table:
        if limit <= top:
            return (limit if market == "spot" else top), weight
    return table[-1]


def build_exchange_info(market: str, symbols: tuple[str, ...] = ()) -> RestRequest:
    """exchangeInfo, for SYMBOLS only when given (spot takes `symbols=[...]` JSON)."""
    name = f"{_market(market)}.exchange_info"
    if not symbols:
        return _request(name)
    if market == "spot":
        query = {"symbols": msgspec.json.encode(sorted(set(symbols))).decode()}
        return _request(name, query)
    return _request(name)  # USD-M exchangeInfo takes no symbol filter (weight 1)


def parse_exchange_info(market: str, body: bytes) -> dict[str, Instrument]:
    """exchangeInfo -> Instrument (exact book decimals, tick and step) by symbol."""
    return parse.parse_instruments(
        _market(market), _decode(s.EXCHANGE_INFO_DECODER, body, "exchangeInfo")
    )


def build_ticker(market: str, symbol: str) -> RestRequest:
    """Spot `ticker/24hr` (levels, last, volume; weight 2), USD-M `ticker/bookTicker` (2)."""
    return _request(f"{_market(market)}.ticker", {"symbol": symbol})


def parse_ticker(market: str, symbol: str, body: bytes, ts: int) -> Ticker:
    """The ticker answer -> Ticker (source "rest")."""
    if _market(market) == "spot":
        return parse.parse_rest_ticker(
            market, symbol, _decode(s.REST_TICKER24_DECODER, body, "ticker"), ts
        )
    msg = _decode(s.REST_BOOK_TICKER_DECODER, body, "bookTicker")
    return parse.parse_rest_ticker(market, symbol, msg, ts)


def build_depth_snapshot(market: str, symbol: str, limit: int) -> RestRequest:
    """The depth snapshot a book sync starts from (`lastUpdateId` + levels)."""
    limit, weight = depth_weight(market, limit)
    cost = _spot(weight) if market == "spot" else _usdm(weight)
    return _request(f"{market}.depth", {"symbol": symbol, "limit": limit}, cost)


def parse_depth_snapshot(body: bytes) -> s.RestDepth:
    """A depth snapshot body, decoded (levels stay text for the exact book)."""
    return _decode(s.REST_DEPTH_DECODER, body, "depth")


def build_orderbook(market: str, symbol: str, depth: int) -> RestRequest:
    """The REST order book for `get_orderbook` (the smallest limit covering DEPTH)."""
    return build_depth_snapshot(market, symbol, depth)


def parse_orderbook(market: str, symbol: str, body: bytes, ts: int, depth: int) -> OrderBook:
    """The depth answer -> OrderBook of the top DEPTH levels (source "rest")."""
    return parse.parse_rest_depth(_market(market), symbol, parse_depth_snapshot(body), ts, depth)


# --- account --------------------------------------------------------------------------------


def build_account(market: str, creds: Credentials, now_ms: int) -> RestRequest:
    """Spot `/api/v3/account` (non-zero balances only) or USD-M `/fapi/v3/account`, signed."""
    if _market(market) == "spot":
        return auth.sign(_request("spot.account", {"omitZeroBalances": "true"}), creds, now_ms)
    return auth.sign(_request("usdm.account"), creds, now_ms)


def parse_account(market: str, body: bytes, ts: int) -> Account:
    """The account answer -> Account (source "rest")."""
    if _market(market) == "spot":
        return parse.parse_spot_account(_decode(s.SPOT_ACCOUNT_DECODER, body, "account"), ts)
    return parse.parse_usdm_account(_decode(s.USDM_ACCOUNT_DECODER, body, "account"), ts)


def build_positions(
    market: str, creds: Credentials, now_ms: int, symbol: str | None = None
) -> RestRequest:
    """USD-M `/fapi/v3/positionRisk`, signed. Spot has no positions.

    Raises:
        UnsupportedError: the market is spot.
    """
    if _market(market) == "spot":
        raise UnsupportedError("binance spot has no positions (use the usdm market)")
    return auth.sign(
        _request("usdm.positions", {"symbol": symbol} if symbol else None), creds, now_ms
    )


def parse_positions(market: str, body: bytes, ts: int) -> tuple[Position, ...]:
    """positionRisk -> the open positions (source "rest")."""
    _market(market)
    rows = _decode(s.USDM_POSITIONS_DECODER, body, "positions")
    return parse.parse_usdm_positions(rows, ts)


def build_open_orders(
    market: str, creds: Credentials, now_ms: int, symbol: str | None = None
) -> RestRequest:
    """Open orders of SYMBOL, or of every symbol (much heavier: 80 spot, 40 USD-M), signed."""
    name = f"{_market(market)}.open_orders" + ("" if symbol else "_all")
    return auth.sign(_request(name, {"symbol": symbol} if symbol else None), creds, now_ms)


def parse_open_orders(market: str, body: bytes, ts: int) -> tuple[Order, ...]:
    """openOrders -> Orders (source "rest")."""
    msgs = _decode(s.REST_ORDERS_DECODER, body, "openOrders")
    return tuple(parse.parse_rest_order(_market(market), m, ts) for m in msgs)


# --- orders ---------------------------------------------------------------------------------


def build_place_order(
    market: str,
    creds: Credentials,
    now_ms: int,
    symbol: str,
    side: str,
    type: str,  # noqa: A002 - the contract's parameter name
    quantity: str | int | float | Decimal,
    price: str | int | float | Decimal | None = None,
    time_in_force: str | None = None,
    client_order_id: str | None = None,
) -> RestRequest:
    """`POST order`, signed; a limit order without TIME_IN_FORCE is GTC.

    Parameters go in the query string in Binance's documented order (symbol, side, type,
    timeInForce, quantity, price, newClientOrderId), then recvWindow and timestamp.
    """
    _market(market)
    params: dict[str, str | int] = {"symbol": symbol, "side": side.upper(), "type": type.upper()}
    if params["side"] not in ("BUY", "SELL"):
        raise ValueError(f"side must be buy or sell, not {side!r}")
    limit_like = params["type"] in (
        "LIMIT",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT_LIMIT",
        "STOP",
        "TAKE_PROFIT",
    )
    if time_in_force or params["type"] == "LIMIT":
        params["timeInForce"] = (time_in_force or "GTC").upper()
    params["quantity"] = _decimal_text(quantity, "quantity")
    if price is not None:
        params["price"] = _decimal_text(price, "price")
    elif limit_like:
        raise ValueError(f"a {type} order needs a price")
    if client_order_id:
        params["newClientOrderId"] = client_order_id
    return auth.sign(_request(f"{market}.place_order", params), creds, now_ms)


def parse_order(market: str, body: bytes, ts: int) -> Order:
    """A place/cancel answer -> Order (source "rest")."""
    return parse.parse_rest_order(_market(market), _decode(s.REST_ORDER_DECODER, body, "order"), ts)


def build_cancel_order(
    market: str,
    creds: Credentials,
    now_ms: int,
    symbol: str,
    order_id: str | int | None = None,
    client_order_id: str | None = None,
) -> RestRequest:
    """`DELETE order` by ORDER_ID or CLIENT_ORDER_ID (one is required), signed."""
    _market(market)
    params: dict[str, str | int] = {"symbol": symbol}
    if order_id is not None:
        params["orderId"] = str(order_id)
    elif client_order_id:
        params["origClientOrderId"] = client_order_id
    else:
        raise ValueError("cancel needs order_id or client_order_id")
    return auth.sign(_request(f"{market}.cancel_order", params), creds, now_ms)


# --- USD-M user stream key --------------------------------------------------------------------


def build_listen_key(creds: Credentials) -> RestRequest:
    """`POST /fapi/v1/listenKey` (API key header only): a key valid 60 min, or the active one."""
    return auth.with_api_key(_request("usdm.listen_key"), creds)


def build_listen_key_keepalive(creds: Credentials) -> RestRequest:
    """`PUT /fapi/v1/listenKey`: extend the active key by 60 min."""
    return auth.with_api_key(_request("usdm.listen_key_keepalive"), creds)


def parse_listen_key(body: bytes) -> str | None:
    """The key from a listenKey answer (None when the answer carries none, as PUT may)."""
    return _decode(s.LISTEN_KEY_DECODER, body, "listenKey").listenKey


# --- errors ---------------------------------------------------------------------------------

AUTH_CODES = frozenset({-1002, -1021, -1022, -1099, -2008, -2014, -2015})
ORDER_CODES = frozenset(
    {
        -1013,
        -1111,
        -1112,
        -1114,
        -1115,
        -1116,
        -1117,
        -1118,
        -1119,
        -2010,
        -2011,
        -2013,
        -2016,
        -2018,
        -2019,
        -2020,
        -2021,
        -2022,
        -2024,
        -2025,
        -2026,
        -2027,
        -2028,
        -2038,
        -2039,
    }
)
RATE_CODES = frozenset({-1003, -1015})


def error_class(status: int, code: int | None) -> type[VenueError]:
    """The `VenueError` subclass an error answer maps to (shared by REST and the WS API)."""
    if status in (418, 429) or code in RATE_CODES:
        return RateLimited
    if status == 401 or code in AUTH_CODES:
        return AuthError
    if code is not None and (code in ORDER_CODES or -5999 <= code <= -4000):
        return OrderRejected
    return VenueError


def error_of(body: bytes) -> tuple[int | None, str]:
    """(code, msg) of an error body; a body that is not Binance JSON gives (None, its text)."""
    try:
        err = s.ERROR_DECODER.decode(body)
    except msgspec.DecodeError:
        return None, body[:200].decode("utf-8", "replace")
    return err.code, err.msg


def check_error(status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Raise for an error answer; return for a success.

    Raises:
        RateLimited: 429/418 or codes -1003/-1015 (`retry_after_s` set from Retry-After).
        AuthError: timestamp (-1021), signature (-1022), key (-2014/-2015/-2008), 401.
        OrderRejected: order and cancel refusals (-1013, -2010, -2011, -2013, -4xxx, ...).
        VenueError: any other error answer (including 5xx: execution status unknown).
    """
    if 200 <= status < 300:
        return
    code, msg = error_of(body)
    shown = code if code is not None else status
    cls = error_class(status, code)
    if cls is RateLimited:
        retry = headers.get("Retry-After")  # the transport's Headers: any case
        try:
            retry_s = float(retry) if retry is not None else None
        except ValueError:
            retry_s = None
        exc = RateLimited(VENUE, shown, f"{msg} (HTTP {status}, retry after {retry_s} s)")
        exc.retry_after_s = retry_s
        raise exc
    raise cls(VENUE, shown, msg or f"HTTP {status}")

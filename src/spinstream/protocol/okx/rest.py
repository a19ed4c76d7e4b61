"""OKX v5 REST as data: endpoints, published rate limits, request builders, body parsers.

Every market ("spot", "swap", "futures", "option") lives on one host, `https://www.okx.com`,
live and demo alike (demo adds `x-simulated-trading: 1`: pass `demo=True` to a builder, or
let the runtime apply `for_env` to every request of a demo account).
`RestRequest.base` is the market; `cost` names `LIMITS()` buckets.

Limits (OKX docs, each REST endpoint's "Rate Limit" line; the counts per 2 s agree with ccxt
4.5.90's costs at its 110 ms rate): market ticker 20/2 s and books 40/2 s and instruments
20/2 s (per IP; instruments per IP and instType), server time 10/2 s (IP); account balance
and positions 10/2 s, pending orders 60/2 s (per user id); place and cancel order 60/2 s per
user id *and instrument id* (derivatives: per instrument family), plus at most 1000 new /
amended orders per 2 s per sub-account. The per-instrument order limits are kept as one
bucket per account (every instrument shares the 60/2 s): stricter than OKX, never over it.

Bodies are `{"code":"0","msg":"","data":[...]}` (code a string). A place / cancel answer
carries each order's own `sCode`/`sMsg`; `check_error` and the parsers raise that one.
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

from . import auth, parse, schemas
from .parse import INST_TYPES, MARKETS, VENUE, Instrument

__all__ = [
    "AUTH_CODES",
    "ENDPOINTS",
    "LIMITS",
    "MARKETS",
    "RATE_CODES",
    "build_account",
    "build_cancel_order",
    "build_instruments",
    "build_open_orders",
    "build_orderbook",
    "build_place_order",
    "build_positions",
    "build_server_time",
    "build_ticker",
    "check_error",
    "error_for",
    "for_env",
    "parse_account",
    "parse_book_snapshot",
    "parse_cancel",
    "parse_instruments",
    "parse_open_orders",
    "parse_order",
    "parse_orderbook",
    "parse_positions",
    "parse_server_time",
    "parse_ticker",
]

T = TypeVar("T")

BOOK_DEPTH_MAX = 400  # GET /api/v5/market/books `sz` (books-full goes to 5000)

# REST 501xx (key, passphrase, signature, timestamp, IP) and WS 600xx (login) refusals.
AUTH_CODES = frozenset(
    {
        50008, 50100, 50101, 50102, 50103, 50104, 50105, 50106, 50107, 50110, 50111, 50112,
        50113, 50114, 60001, 60002, 60003, 60004, 60005, 60006, 60007, 60009, 60011, 60022,
        60024, 60026, 60031,
    }
)  # fmt: skip
# 50011 "Request too frequent" (HTTP 429), 50061 the sub-account order limit, 51113 market
# close too frequent, 60014 WS requests too frequent, 60023 bulk login too frequent.
RATE_CODES = frozenset({429, 50011, 50061, 51113, 60014, 60023})


def LIMITS() -> dict[str, Bucket]:  # noqa: N802 - the contract names it like a constant
    """Fresh buckets for one account: OKX's per-endpoint limits per 2 s, with their scope."""
    return {
        "ticker": Bucket(20, 2.0, scope="ip"),
        "books": Bucket(40, 2.0, scope="ip"),
        "instruments": Bucket(20, 2.0, scope="ip"),
        "time": Bucket(10, 2.0, scope="ip"),
        "balance": Bucket(10, 2.0, scope="account"),
        "positions": Bucket(10, 2.0, scope="account"),
        "orders_pending": Bucket(60, 2.0, scope="account"),
        "place": Bucket(60, 2.0, scope="account"),
        "cancel": Bucket(60, 2.0, scope="account"),
        "orders_subaccount": Bucket(1000, 2.0, scope="account"),
    }


def _endpoints() -> dict[str, Endpoint]:
    out: dict[str, Endpoint] = {}
    for m in MARKETS:
        out[f"{m}.ticker"] = Endpoint("GET", "/api/v5/market/ticker", m, {"ticker": 1})
        out[f"{m}.orderbook"] = Endpoint("GET", "/api/v5/market/books", m, {"books": 1})
        out[f"{m}.time"] = Endpoint("GET", "/api/v5/public/time", m, {"time": 1})
        out[f"{m}.instruments"] = Endpoint(
            "GET", "/api/v5/public/instruments", m, {"instruments": 1}
        )
        out[f"{m}.account"] = Endpoint(
            "GET", "/api/v5/account/balance", m, {"balance": 1}, signed=True
        )
        out[f"{m}.positions"] = Endpoint(
            "GET", "/api/v5/account/positions", m, {"positions": 1}, signed=True
        )
        out[f"{m}.open_orders"] = Endpoint(
            "GET", "/api/v5/trade/orders-pending", m, {"orders_pending": 1}, signed=True
        )
        out[f"{m}.place_order"] = Endpoint(
            "POST", "/api/v5/trade/order", m, {"place": 1, "orders_subaccount": 1}, signed=True
        )
        out[f"{m}.cancel_order"] = Endpoint(
            "POST", "/api/v5/trade/cancel-order", m, {"cancel": 1}, signed=True
        )
    return out


ENDPOINTS: dict[str, Endpoint] = _endpoints()


# -- helpers ---------------------------------------------------------------------------------


def _market(market: str) -> str:
    if market not in MARKETS:
        raise UnsupportedError(f"okx market {market!r} is not supported (use {MARKETS})")
    return market


def _request(name: str, params: Mapping[str, object] | None = None) -> RestRequest:
    """Endpoint NAME with PARAMS (the query signed as sent: every value percent-encoded)."""
    return ENDPOINTS[name].request(params)


def for_env(req: RestRequest, env: str) -> RestRequest:
    """REQ as environment ENV sends it: demo adds `x-simulated-trading: 1` (not signed, so
    it can be added after signing; idempotent). The runtime applies it to an account's calls."""
    return auth.simulated(req) if env == "demo" else req


def _public(name: str, params: Mapping[str, object], demo: bool) -> RestRequest:
    req = _request(name, params)
    return auth.simulated(req) if demo else req


def _signed(
    name: str, creds: Credentials, now_ms: int, params: Mapping[str, object], demo: bool
) -> RestRequest:
    return auth.sign(_request(name, params), creds, now_ms, demo=demo)


def _code(code: str | int) -> int | str:
    try:
        return int(code)
    except (TypeError, ValueError):
        return str(code)


def error_for(code: str | int, msg: str) -> VenueError | None:
    """The error for an OKX code ("0": None): REST `code` / `sCode` or a WS error event's.

    Auth codes (50008, 50100-50114 but for 50108/50109, WS 60001-60007, 60009, 60024, ...)
    are AuthError; 50011 / 50061 / 60014 (and HTTP 429) RateLimited; 51000-51999 (the trade
    errors: size, price, balance, duplicate ids, order not found) and 54000-54999 OrderRejected;
    anything else VenueError, with OKX's code and message.
    """
    c = _code(code)
    if c == 0 or c == "":
        return None
    if c in AUTH_CODES:
        return AuthError(VENUE, c, msg)
    if c in RATE_CODES:
        return RateLimited(VENUE, c, msg)
    if isinstance(c, int) and (51000 <= c < 52000 or 54000 <= c < 55000):
        return OrderRejected(VENUE, c, msg)
    return VenueError(VENUE, c, msg)


def _raise_for(code: str | int, msg: str, data: msgspec.Raw | None = None) -> None:
    """Raise the error of a body's code; for code 1/2 (an order call that failed) the first
    failed item's own sCode / sMsg, which says why."""
    if _code(code) in (1, 2) and data is not None:
        try:
            acks = msgspec.json.decode(data, type=tuple[schemas.OrderAck, ...])
        except msgspec.DecodeError:
            acks = ()
        for a in acks:
            err = error_for(a.sCode, a.sMsg or msg)
            if err is not None:
                raise err
    err = error_for(code, msg)
    if err is not None:
        raise err


def check_error(status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Raise the venue's error for a failed call; return quietly on success.

    HTTP 429 is RateLimited (with Retry-After when sent), 401 AuthError; a JSON body's
    non-zero `code` maps through `error_for` (code 1 / 2 through the order's own `sCode`).
    An undecodable 2xx body is left to the parser.
    """
    env: schemas.RestStatus | None
    try:
        env = schemas.REST_ENVELOPE.decode(body)
    except msgspec.DecodeError:
        env = None
    if status == 429:
        after = headers.get("Retry-After")
        try:
            wait = float(after) if after else None
        except ValueError:
            wait = None
        msg = env.msg if env is not None and env.msg else "HTTP 429: too many requests"
        raise RateLimited(VENUE, _code(env.code) if env else 429, msg, retry_after_s=wait)
    if env is None:
        if status == 401:
            raise AuthError(VENUE, status, "HTTP 401: unauthorized")
        if status >= 400:
            raise VenueError(VENUE, status, f"HTTP {status}")
        return
    _raise_for(env.code, env.msg, env.data)
    if status == 401:
        raise AuthError(VENUE, status, f"HTTP 401: {env.msg or 'unauthorized'}")
    if status >= 400:
        raise VenueError(VENUE, status, f"HTTP {status}: {env.msg}")


def _decode(
    decoder: msgspec.json.Decoder[schemas.Response[T]], body: bytes, what: str
) -> tuple[T, ...]:
    """BODY's `data`; a venue error code raises its error, a broken body ParseError."""
    try:
        resp = decoder.decode(body)
    except msgspec.DecodeError as exc:
        try:  # an error body whose `data` does not fit the success shape
            env = schemas.REST_ENVELOPE.decode(body)
        except msgspec.DecodeError:
            raise ParseError(f"okx {what}: bad body: {exc}") from None
        _raise_for(env.code, env.msg, env.data)
        raise ParseError(f"okx {what}: bad body: {exc}") from None
    if _code(resp.code) != 0:
        env = schemas.REST_ENVELOPE.decode(body)
        _raise_for(env.code, env.msg, env.data)
    return resp.data


def _decimal_text(value: float | int | str | Decimal, what: str) -> str:
    """A user number as the plain decimal text OKX expects ("0.00001", never "1e-05")."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number")
    try:
        d = (
            value
            if isinstance(value, Decimal)
            else Decimal(value if isinstance(value, str) else repr(value))
        )
    except InvalidOperation:
        raise ValueError(f"{what} is not a number: {value!r}") from None
    if not d.is_finite() or d <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# -- market data -----------------------------------------------------------------------------


def build_server_time(market: str, *, demo: bool = False) -> RestRequest:
    """GET /api/v5/public/time: the venue's clock, for the stream lag's clock offset."""
    return _public(f"{_market(market)}.time", {}, demo)


def parse_server_time(body: bytes) -> int:
    """The venue's time (int ns) from a server-time answer."""
    return parse.parse_server_time(_decode(schemas.SERVER_TIME, body, "server time"))


def build_ticker(market: str, symbol: str, *, demo: bool = False) -> RestRequest:
    """GET /api/v5/market/ticker?instId=SYMBOL."""
    return _public(f"{_market(market)}.ticker", {"instId": symbol}, demo)


def parse_ticker(
    market: str, symbol: str, body: bytes, ts: int, inst: Instrument | None = None
) -> Ticker:
    """The REST ticker of SYMBOL (source "rest")."""
    for t in _decode(schemas.REST_TICKERS, body, "ticker"):
        if t.instId == symbol:
            return parse.parse_ticker(t, ts, "rest", inst)
    raise ParseError(f"okx ticker: {symbol} not in the answer")


def build_orderbook(market: str, symbol: str, depth: int, *, demo: bool = False) -> RestRequest:
    """GET /api/v5/market/books (`sz` clamped to 1..400); its `seqId` stitches the stream."""
    sz = max(1, min(int(depth), BOOK_DEPTH_MAX))
    return _public(f"{_market(market)}.orderbook", {"instId": symbol, "sz": sz}, demo)


def parse_book_snapshot(body: bytes) -> schemas.BookData:
    """The REST book as wire data (level text, `seqId`, `ts`) for the stream's stitching.

    Raises:
        ParseError: no book in the answer, or a level that cannot be true.
    """
    data = _decode(schemas.REST_BOOKS, body, "books")
    if not data:
        raise ParseError("okx books: empty answer")
    book = data[0]
    parse.validate_levels(book.bids, "books bid")
    parse.validate_levels(book.asks, "books ask")
    return book


def _levels(levels: tuple[tuple[str, ...], ...], depth: int, size: float) -> np.ndarray:
    rows = [(float(lv[0]), float(lv[1]) * size) for lv in levels[:depth]]
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def parse_orderbook(
    market: str, symbol: str, body: bytes, ts: int, depth: int, inst: Instrument | None = None
) -> OrderBook:
    """The REST book's top DEPTH levels per side (float views, sizes in contracts x ctVal
    when INST says so; `seq` is OKX's `seqId`)."""
    book = parse_book_snapshot(body)
    mult = float(inst.contract_value) if inst is not None and inst.contract_value else 1.0
    return OrderBook(
        venue=VENUE,
        market=_market(market),
        symbol=book.instId or symbol,
        bids=_levels(book.bids, depth, mult),
        asks=_levels(book.asks, depth, mult),
        seq=book.seqId,
        ts_event=parse.ms_to_ns(book.ts),
        last_update=ts,
        source="rest",
    )


def build_instruments(
    market: str, symbol: str | None = None, *, inst_family: str | None = None, demo: bool = False
) -> RestRequest:
    """GET /api/v5/public/instruments?instType=... (one instId, or every one of the type;
    options need their family, e.g. "BTC-USD")."""
    inst_type = INST_TYPES[_market(market)]
    params = {"instType": inst_type, "instFamily": inst_family, "instId": symbol}
    return _public(f"{market}.instruments", params, demo)


def parse_instruments(body: bytes) -> dict[str, Instrument]:
    """instId -> Instrument (tickSz / lotSz decimals, ctVal) from an instruments answer."""
    return parse.parse_instruments(_decode(schemas.INSTRUMENTS, body, "instruments"))


# -- account ---------------------------------------------------------------------------------


def build_account(
    market: str, creds: Credentials, now_ms: int, *, demo: bool = False
) -> RestRequest:
    """GET /api/v5/account/balance (the trading account: one for every market)."""
    return _signed(f"{_market(market)}.account", creds, now_ms, {}, demo)


def parse_account(market: str, body: bytes, ts: int) -> Account:
    """The trading account as MARKET's Account (source "rest")."""
    return parse.parse_account(market, _decode(schemas.REST_ACCOUNT, body, "balance"), ts, "rest")


def build_positions(
    market: str, creds: Credentials, now_ms: int, symbol: str | None = None, *, demo: bool = False
) -> RestRequest:
    """GET /api/v5/account/positions?instType=... (or one instId)."""
    if _market(market) == "spot":
        raise UnsupportedError("okx spot has no positions")
    params = {"instType": INST_TYPES[market], "instId": symbol}
    return _signed(f"{market}.positions", creds, now_ms, params, demo)


def parse_positions(
    market: str, body: bytes, ts: int, instruments: dict[str, Instrument] | None = None
) -> tuple[Position, ...]:
    """Open positions (source "rest")."""
    data = _decode(schemas.REST_POSITIONS, body, "positions")
    return parse.parse_positions(data, ts, "rest", instruments)


def build_open_orders(
    market: str,
    creds: Credentials,
    now_ms: int,
    symbol: str | None = None,
    *,
    after: str | None = None,
    demo: bool = False,
) -> RestRequest:
    """GET /api/v5/trade/orders-pending?instType=...: 100 per page, older pages by AFTER
    (the last ordId of the previous page)."""
    params = {"instType": INST_TYPES[_market(market)], "instId": symbol, "after": after}
    return _signed(f"{market}.open_orders", creds, now_ms, params, demo)


def parse_open_orders(
    market: str, body: bytes, ts: int, instruments: dict[str, Instrument] | None = None
) -> tuple[Order, ...]:
    """Open orders of one page (source "rest")."""
    data = _decode(schemas.REST_ORDERS, body, "orders-pending")
    return parse.parse_orders(data, ts, "rest", instruments)


# -- orders ----------------------------------------------------------------------------------

_ORD_TYPES = {
    ("limit", None): "limit",
    ("limit", "gtc"): "limit",
    ("limit", "ioc"): "ioc",
    ("limit", "fok"): "fok",
    ("limit", "post_only"): "post_only",
    ("limit", "postonly"): "post_only",
    ("market", None): "market",
    ("market", "ioc"): "market",
}


def _contracts(quantity: float | str, inst: Instrument | None) -> str:
    """The `sz` of an order: QUANTITY, in contracts when INST is a contract (QUANTITY / ctVal,
    which must be a whole number of lots)."""
    text = _decimal_text(quantity, "quantity")
    if inst is None or inst.contract_value is None:
        return text
    contracts = Decimal(text) / Decimal(inst.contract_value)
    lots = contracts / Decimal(inst.lot_size)
    if lots != lots.to_integral_value():
        raise ValueError(
            f"quantity {text} is not a whole number of lots of {inst.lot_size} contracts "
            f"x {inst.contract_value} {inst.contract_value_ccy or ''}".rstrip()
        )
    return _decimal_text(contracts, "quantity")


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
    *,
    inst: Instrument | None = None,
    td_mode: str | None = None,
    demo: bool = False,
) -> RestRequest:
    """POST /api/v5/trade/order.

    `tdMode` is "cash" on spot and "cross" on derivatives unless TD_MODE says otherwise;
    spot market orders are sized in the base currency (`tgtCcy=base_ccy`, not OKX's default
    quote amount for market buys); a contract's QUANTITY is in ctVal units when INST is given
    (see `parse`), in contracts otherwise. Time in force maps to OKX's `ordType`.
    """
    s, t = side.lower(), type.lower()
    if s not in ("buy", "sell") or t not in ("limit", "market"):
        raise ValueError(f"bad side/type {side!r}/{type!r}")
    tif = time_in_force.lower() if time_in_force is not None else None
    ord_type = _ORD_TYPES.get((t, tif))
    if ord_type is None:
        raise ValueError(f"bad time in force {time_in_force!r} for a {t} order")
    params: dict[str, object] = {
        "instId": symbol,
        "tdMode": td_mode or ("cash" if _market(market) == "spot" else "cross"),
        "side": s,
        "ordType": ord_type,
        "sz": _contracts(quantity, inst),
    }
    if t == "limit":
        if price is None:
            raise ValueError("a limit order needs a price")
        params["px"] = _decimal_text(price, "price")
    if market == "spot" and t == "market":
        params["tgtCcy"] = "base_ccy"
    if client_order_id is not None:
        params["clOrdId"] = client_order_id
    return _signed(f"{market}.place_order", creds, now_ms, params, demo)


def build_cancel_order(
    market: str,
    creds: Credentials,
    now_ms: int,
    symbol: str,
    order_id: str | None = None,
    client_order_id: str | None = None,
    *,
    demo: bool = False,
) -> RestRequest:
    """POST /api/v5/trade/cancel-order by order id (or by our client id)."""
    if order_id is None and client_order_id is None:
        raise ValueError("cancel needs order_id or client_order_id")
    params: dict[str, object] = {"instId": symbol}
    if order_id is not None:
        params["ordId"] = order_id
    else:
        params["clOrdId"] = client_order_id
    return _signed(f"{_market(market)}.cancel_order", creds, now_ms, params, demo)


def _ack(body: bytes, what: str) -> schemas.OrderAck:
    acks = _decode(schemas.ORDER_ACKS, body, what)
    if not acks:
        raise ParseError(f"okx {what}: empty answer")
    err = error_for(acks[0].sCode, acks[0].sMsg)
    if err is not None:
        raise err
    return acks[0]


def parse_order(
    market: str,
    body: bytes,
    ts: int,
    request: RestRequest | None = None,
    inst: Instrument | None = None,
) -> Order:
    """The order a place answer confirms, or the first order of an order-details answer.

    OKX's place answer holds only `ordId` / `clOrdId` / `ts` / `sCode`; the rest of the
    `Order` comes from REQUEST (the `build_place_order` request that was sent), status "new".
    """
    if request is None:
        data = _decode(schemas.REST_ORDERS, body, "order")
        if not data:
            raise ParseError("okx order: empty data (pass the place request for a place answer)")
        return parse.parse_order(data[0], ts, "rest", inst)
    ack = _ack(body, "place order")
    try:
        sent = json.loads(request.body or "")
        typ, tif = parse.ORDER_TYPES[sent["ordType"]]
        sz = float(sent["sz"])
        px = float(sent["px"]) if "px" in sent else None
        return Order(
            venue=VENUE,
            market=market,
            symbol=sent["instId"],
            order_id=ack.ordId,
            client_order_id=ack.clOrdId or sent.get("clOrdId"),
            side=parse.side(sent["side"]),
            type=typ,
            price=px,
            quantity=sz if inst is None else inst.to_size(sz),
            status="new",
            time_in_force=tif,
            ts_event=parse.ms_to_ns(ack.ts),
            last_update=ts,
            source="rest",
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ParseError(f"okx order: not a place request/answer: {exc}") from None


def parse_cancel(market: str, body: bytes, ts: int) -> tuple[str, str | None]:
    """(order_id, client_order_id) a cancel answer confirms."""
    ack = _ack(body, "cancel order")
    return ack.ordId, ack.clOrdId or None

"""Binance wire messages (spot + USD-M) as msgspec Structs, with module-level decoders.

Only the fields we use are declared (msgspec skips the rest); prices and quantities stay `str`
so the book parses them exactly. Binance's one-letter keys are case-sensitive (`b` bid price,
`B` bid quantity), so every field gets a readable name and `name=` maps it to the wire key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Union

import msgspec

from spinstream.protocol.values import Price, Size

__all__ = [
    "BOOK_TICKER_DECODER",
    "DEPTH_DECODER",
    "ERROR_DECODER",
    "EXCHANGE_INFO_DECODER",
    "LISTEN_KEY_DECODER",
    "REST_BOOK_TICKER_DECODER",
    "REST_DEPTH_DECODER",
    "REST_ORDERS_DECODER",
    "REST_ORDER_DECODER",
    "REST_TICKER24_DECODER",
    "SPOT_ACCOUNT_DECODER",
    "STREAM_DECODER",
    "TICKER24_DECODER",
    "USDM_ACCOUNT_DECODER",
    "USDM_EVENT_DECODER",
    "USDM_POSITIONS_DECODER",
    "WSAPI_DECODER",
    "AccountPosition",
    "AccountUpdateMsg",
    "AssetBalance",
    "BalanceDelta",
    "BookTickerFloats",
    "BookTickerMsg",
    "DepthLevelsMsg",
    "DepthMsg",
    "ErrorBody",
    "EventStreamTerminated",
    "ExchangeInfo",
    "ExecutionReport",
    "ExternalLockUpdate",
    "FuturesAccountData",
    "FuturesBalance",
    "FuturesOrder",
    "FuturesPosition",
    "ListenKey",
    "ListenKeyExpired",
    "OrderTradeUpdate",
    "RestBookTicker",
    "RestDepth",
    "RestOrder",
    "RestTicker24",
    "ServerShutdown",
    "SpotAccount",
    "SpotBalance",
    "StreamEnvelope",
    "SymbolFilter",
    "SymbolInfo",
    "Ticker24Msg",
    "UsdmAccount",
    "UsdmAsset",
    "UsdmPositionRisk",
    "UserEvent",
    "UsdmEvent",
    "WsApiError",
    "WsApiFrame",
    "WsApiResult",
    "frame_type",
    "frames_decoder",
]

Level = list[str]  # [price, quantity] (a list, not a 2-tuple: tolerate extra items)


# --- public market streams (combined-stream wrapper; payload decoded by stream type) ---------


class WsApiError(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`{"code": ..., "msg": ...}` in a stream control answer or a WS API error."""

    code: int
    msg: str = ""


class StreamEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    """One frame of `/stream`: data `{"stream", "data"}` or a control answer `{"result", "id"}`.

    `data` is kept raw and decoded once by the decoder its stream type selects (the spot
    bookTicker payload has no `e` field to tag a union on).
    """

    stream: str | None = None
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty: no "data"
    id: int | str | None = None
    error: WsApiError | None = None
    code: int | None = None  # some control errors come without an "error" wrapper
    msg: str | None = None


class DepthMsg(msgspec.Struct, frozen=True, kw_only=True):
    """`<sym>@depth@100ms` diff: levels to set (quantity "0" deletes); `pu` only on USD-M."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    first_id: int = msgspec.field(name="U")
    last_id: int = msgspec.field(name="u")
    prev_id: int | None = msgspec.field(default=None, name="pu")
    bids: list[Level] = msgspec.field(name="b")
    asks: list[Level] = msgspec.field(name="a")


class BookTickerMsg(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`<sym>@bookTicker`: best bid/ask; USD-M adds event time `E` (spot sends no time)."""

    update_id: int = msgspec.field(name="u")
    symbol: str = msgspec.field(name="s")
    bid_px: str = msgspec.field(name="b")
    bid_qty: str = msgspec.field(name="B")
    ask_px: str = msgspec.field(name="a")
    ask_qty: str = msgspec.field(name="A")
    event_time: int | None = msgspec.field(default=None, name="E")


class Ticker24Msg(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`<sym>@ticker` (spot, 1 s): last price and rolling 24 h base volume, plus best levels."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    last_px: str = msgspec.field(name="c")
    volume: str = msgspec.field(name="v")
    bid_px: str | None = msgspec.field(default=None, name="b")
    bid_qty: str | None = msgspec.field(default=None, name="B")
    ask_px: str | None = msgspec.field(default=None, name="a")
    ask_qty: str | None = msgspec.field(default=None, name="A")


# --- the per-frame path: a frame of a subscribed stream, decoded in one pass ------------------
# `frames_decoder` decodes the frames of the streams it is given: each stream is its own frame
# type, tagged by its exact name (the `stream` field), whose `data` is the payload struct of the
# stream type. A frame of any other stream (or shape) fails it and goes the general way:
# `STREAM_DECODER`, then the payload decoder above. It decodes in lax mode, for the floats of
# `BookTickerFloats`; so, unlike the general way, it also takes an integer written as text
# ("123"), a bookTicker price or quantity written as a JSON number, and reads "-0" as 0.0 (not
# -0.0); and it leaves unchecked the envelope's answer fields (`id`, `error`, `code`, `msg`),
# which a stream frame does not carry. Binance sends none of these.


class DepthLevelsMsg(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`DepthMsg` whose levels are exactly `[price, quantity]` (what Binance sends)."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    first_id: int = msgspec.field(name="U")
    last_id: int = msgspec.field(name="u")
    prev_id: int | None = msgspec.field(default=None, name="pu")
    bids: list[tuple[str, str]] = msgspec.field(name="b")
    asks: list[tuple[str, str]] = msgspec.field(name="a")


class BookTickerFloats(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`BookTickerMsg` with the four numbers as floats (decoded in lax mode, from their text).

    The ticker model holds floats anyway; msgspec's number parser rounds exactly like
    `float()` on the JSON number syntax Binance uses, and rejects the rest (which then goes the
    general way, through `float()`), as it rejects a price not finite > 0 or a size not finite
    >= 0 (`values.Price` / `Size`: the general way then says which).
    """

    update_id: int = msgspec.field(name="u")
    symbol: str = msgspec.field(name="s")
    bid_px: Price = msgspec.field(name="b")
    bid_qty: Size = msgspec.field(name="B")
    ask_px: Price = msgspec.field(name="a")
    ask_qty: Size = msgspec.field(name="A")
    event_time: int | None = msgspec.field(default=None, name="E")


_FRAME_TYPES: dict[tuple[str, type], type] = {}  # one per stream name ever subscribed


def frame_type(stream: str, payload: type) -> type:
    """The frame type of STREAM exactly (the tag of its `stream` field), carrying a PAYLOAD."""
    key = (stream, payload)
    typ = _FRAME_TYPES.get(key)
    if typ is None:
        typ = _FRAME_TYPES[key] = msgspec.defstruct(
            "StreamFrame",
            [("data", payload)],  # the answer fields of `StreamEnvelope` are not read here
            tag_field="stream",
            tag=stream,
            frozen=True,
            kw_only=True,
            gc=False,
        )
    return typ


def frames_decoder(types: Iterable[type]) -> msgspec.json.Decoder[Any] | None:
    """A decoder of the frames of these `frame_type`s (None for none)."""
    union = tuple(types)
    if not union:
        return None
    return msgspec.json.Decoder(Union[union], strict=False)  # noqa: UP007 - built at run time


# --- spot user data over the WS API (`{"subscriptionId", "event"}` / `{"id", "status"}`) -----


class SpotBalance(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One asset in `outboundAccountPosition.B`: absolute free and locked."""

    asset: str = msgspec.field(name="a")
    free: str = msgspec.field(name="f")
    locked: str = msgspec.field(name="l")


class ExecutionReport(
    msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="e", tag="executionReport"
):
    """Spot order update; `C` is the original client id when `c` belongs to a cancel."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    client_order_id: str = msgspec.field(name="c")
    orig_client_order_id: str | None = msgspec.field(default=None, name="C")
    side: str = msgspec.field(name="S")
    order_type: str = msgspec.field(name="o")
    time_in_force: str | None = msgspec.field(default=None, name="f")
    quantity: str = msgspec.field(name="q")
    price: str = msgspec.field(name="p")
    status: str = msgspec.field(name="X")
    order_id: int = msgspec.field(name="i")
    filled: str = msgspec.field(name="z")
    quote_filled: str | None = msgspec.field(default=None, name="Z")
    transact_time: int | None = msgspec.field(default=None, name="T")


class AccountPosition(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="e", tag="outboundAccountPosition"
):
    """Spot balances that changed, as absolute values; `u` is the account's update time."""

    event_time: int = msgspec.field(name="E")
    update_time: int | None = msgspec.field(default=None, name="u")
    balances: list[SpotBalance] = msgspec.field(name="B")


class BalanceDelta(
    msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="e", tag="balanceUpdate"
):
    """Spot deposit/withdrawal/transfer: a delta `d` to the free balance, cleared at `T`."""

    event_time: int = msgspec.field(name="E")
    asset: str = msgspec.field(name="a")
    delta: str = msgspec.field(name="d")
    clear_time: int = msgspec.field(name="T")


class EventStreamTerminated(
    msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="e", tag="eventStreamTerminated"
):
    """The user data subscription ended: resubscribe."""

    event_time: int = msgspec.field(name="E")


class ExternalLockUpdate(
    msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="e", tag="externalLockUpdate"
):
    """Part of a spot balance locked/unlocked externally (known, not applied: see parse)."""

    event_time: int = msgspec.field(name="E")
    asset: str = msgspec.field(name="a")
    delta: str = msgspec.field(name="d")


class ServerShutdown(
    msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="e", tag="serverShutdown"
):
    """The server is about to close the connection; the transport reconnects."""

    event_time: int | None = msgspec.field(default=None, name="E")


UserEvent = (
    ExecutionReport
    | AccountPosition
    | BalanceDelta
    | EventStreamTerminated
    | ExternalLockUpdate
    | ServerShutdown
)


class WsApiResult(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The `result` of `userDataStream.subscribe.signature` (`{}` for other methods)."""

    subscriptionId: int | None = None


class WsApiFrame(msgspec.Struct, frozen=True, kw_only=True):
    """A WS API frame: a response (`id`, `status`, `result`/`error`) or a user data event."""

    id: int | str | None = None
    status: int | None = None
    result: WsApiResult | None = None
    error: WsApiError | None = None
    subscriptionId: int | None = None
    event: UserEvent | None = None


# --- USD-M user data (raw `/private/ws` frames, tagged by `e`) ------------------------------


class FuturesOrder(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`ORDER_TRADE_UPDATE.o`."""

    symbol: str = msgspec.field(name="s")
    client_order_id: str = msgspec.field(name="c")
    side: str = msgspec.field(name="S")
    order_type: str = msgspec.field(name="o")
    time_in_force: str | None = msgspec.field(default=None, name="f")
    quantity: str = msgspec.field(name="q")
    price: str = msgspec.field(name="p")
    avg_price: str | None = msgspec.field(default=None, name="ap")
    status: str = msgspec.field(name="X")
    order_id: int = msgspec.field(name="i")
    filled: str = msgspec.field(name="z")
    trade_time: int | None = msgspec.field(default=None, name="T")


class OrderTradeUpdate(
    msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="e", tag="ORDER_TRADE_UPDATE"
):
    """USD-M order update."""

    event_time: int = msgspec.field(name="E")
    order: FuturesOrder = msgspec.field(name="o")


class FuturesBalance(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`ACCOUNT_UPDATE.a.B[]`: wallet and cross wallet balance of one asset."""

    asset: str = msgspec.field(name="a")
    wallet: str = msgspec.field(name="wb")
    cross_wallet: str | None = msgspec.field(default=None, name="cw")


class FuturesPosition(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`ACCOUNT_UPDATE.a.P[]`: a position's amount (signed), entry price, unrealized PnL."""

    symbol: str = msgspec.field(name="s")
    amount: str = msgspec.field(name="pa")
    entry_price: str | None = msgspec.field(default=None, name="ep")
    unrealized_pnl: str | None = msgspec.field(default=None, name="up")
    position_side: str = msgspec.field(default="BOTH", name="ps")


class FuturesAccountData(msgspec.Struct, frozen=True, kw_only=True):
    """`ACCOUNT_UPDATE.a`."""

    reason: str | None = msgspec.field(default=None, name="m")
    balances: list[FuturesBalance] = msgspec.field(default_factory=list, name="B")
    positions: list[FuturesPosition] = msgspec.field(default_factory=list, name="P")


class AccountUpdateMsg(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="e", tag="ACCOUNT_UPDATE"
):
    """USD-M balance and position changes."""

    event_time: int = msgspec.field(name="E")
    data: FuturesAccountData = msgspec.field(name="a")


class ListenKeyExpired(
    msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="e", tag="listenKeyExpired"
):
    """The listenKey expired: the stream stops; get a new key and reconnect.

    `E` is a string in Binance's current documentation and a number in older payloads.
    """

    event_time: int | str = msgspec.field(name="E")


UsdmEvent = OrderTradeUpdate | AccountUpdateMsg | ListenKeyExpired


# --- REST bodies ----------------------------------------------------------------------------


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A REST error: `{"code": -1121, "msg": "Invalid symbol."}`."""

    code: int | None = None
    msg: str = ""


class RestDepth(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /api/v3/depth` / `/fapi/v1/depth`; USD-M adds `E` (message) and `T` (transaction)."""

    lastUpdateId: int
    bids: list[Level]
    asks: list[Level]
    E: int | None = None


class RestTicker24(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`GET /api/v3/ticker/24hr?symbol=` (spot): best levels, last price, base volume."""

    symbol: str
    bidPrice: str | None = None
    bidQty: str | None = None
    askPrice: str | None = None
    askQty: str | None = None
    lastPrice: str | None = None
    volume: str | None = None
    closeTime: int | None = None


class RestBookTicker(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`GET /fapi/v1/ticker/bookTicker?symbol=` (USD-M): best levels and their time."""

    symbol: str
    bidPrice: str
    bidQty: str
    askPrice: str
    askQty: str
    time: int | None = None


class SpotAccount(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /api/v3/account`."""

    balances: list[AssetBalance]
    updateTime: int | None = None


class AssetBalance(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One entry of `/api/v3/account` `balances`."""

    asset: str
    free: str
    locked: str


class UsdmAsset(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One entry of `/fapi/v3/account` `assets`."""

    asset: str
    walletBalance: str
    availableBalance: str | None = None
    updateTime: int | None = None


class UsdmAccount(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /fapi/v3/account` (v2 has the same fields we use)."""

    assets: list[UsdmAsset] = []
    totalMarginBalance: str | None = None
    availableBalance: str | None = None


class UsdmPositionRisk(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One entry of `GET /fapi/v3/positionRisk` (`leverage` only in v2)."""

    symbol: str
    positionAmt: str
    positionSide: str = "BOTH"
    entryPrice: str | None = None
    markPrice: str | None = None
    unRealizedProfit: str | None = None
    leverage: str | None = None
    updateTime: int | None = None


class RestOrder(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An order from `openOrders`, `POST order` or `DELETE order`, spot or USD-M.

    Spot sends `cummulativeQuoteQty` (sic) for the average price; USD-M sends `avgPrice`.
    """

    symbol: str
    orderId: int
    clientOrderId: str | None = None
    origClientOrderId: str | None = None
    price: str = "0"
    origQty: str = "0"
    executedQty: str = "0"
    cummulativeQuoteQty: str | None = None
    avgPrice: str | None = None
    status: str
    timeInForce: str | None = None
    type: str
    side: str
    time: int | None = None
    updateTime: int | None = None
    transactTime: int | None = None


class ListenKey(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`POST /fapi/v1/listenKey` answer (`PUT` answers `{}` or the same key)."""

    listenKey: str | None = None


class SymbolFilter(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One exchangeInfo filter; only PRICE_FILTER and LOT_SIZE fields are read."""

    filterType: str
    tickSize: str | None = None
    maxPrice: str | None = None
    stepSize: str | None = None
    maxQty: str | None = None


class SymbolInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One exchangeInfo symbol: filters plus the precisions Binance formats numbers with."""

    symbol: str
    status: str | None = None
    baseAssetPrecision: int | None = None
    quoteAssetPrecision: int | None = None
    pricePrecision: int | None = None  # USD-M
    quantityPrecision: int | None = None  # USD-M
    filters: list[SymbolFilter] = []


class ExchangeInfo(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /api/v3/exchangeInfo` / `/fapi/v1/exchangeInfo`."""

    symbols: list[SymbolInfo]


STREAM_DECODER = msgspec.json.Decoder(StreamEnvelope)
DEPTH_DECODER = msgspec.json.Decoder(DepthMsg)
BOOK_TICKER_DECODER = msgspec.json.Decoder(BookTickerMsg)
TICKER24_DECODER = msgspec.json.Decoder(Ticker24Msg)
WSAPI_DECODER = msgspec.json.Decoder(WsApiFrame)
USDM_EVENT_DECODER = msgspec.json.Decoder(UsdmEvent)
ERROR_DECODER = msgspec.json.Decoder(ErrorBody)
REST_DEPTH_DECODER = msgspec.json.Decoder(RestDepth)
REST_TICKER24_DECODER = msgspec.json.Decoder(RestTicker24)
REST_BOOK_TICKER_DECODER = msgspec.json.Decoder(RestBookTicker)
SPOT_ACCOUNT_DECODER = msgspec.json.Decoder(SpotAccount)
USDM_ACCOUNT_DECODER = msgspec.json.Decoder(UsdmAccount)
USDM_POSITIONS_DECODER = msgspec.json.Decoder(list[UsdmPositionRisk])
REST_ORDER_DECODER = msgspec.json.Decoder(RestOrder)
REST_ORDERS_DECODER = msgspec.json.Decoder(list[RestOrder])
LISTEN_KEY_DECODER = msgspec.json.Decoder(ListenKey)
EXCHANGE_INFO_DECODER = msgspec.json.Decoder(ExchangeInfo)

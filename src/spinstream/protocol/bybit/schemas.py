"""Bybit v5 wire messages as msgspec Structs: exchange field names, only the fields we use.

Prices and sizes stay `str` (the text Bybit sent); `parse.py` turns them into model values.
A stream frame is decoded once into `Envelope` (its `data` kept as `msgspec.Raw`), then the
payload is decoded by the decoder of the exact channel the topic names. REST bodies decode
through `Response[...]`, whose `result` defaults to empty so an error body (`"result":{}`)
still decodes and `check_error` can read `retCode`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, Literal, TypeVar, Union

import msgspec

__all__ = [
    "ACCOUNTS",
    "ENVELOPE",
    "EXECUTIONS",
    "INSTRUMENTS",
    "ORDERBOOK",
    "ORDERS",
    "ORDER_ACK",
    "POSITIONS",
    "REST_ENVELOPE",
    "REST_ORDERBOOK",
    "REST_ORDERS",
    "REST_POSITIONS",
    "REST_TICKERS",
    "TICKER",
    "TRADES",
    "WALLET",
    "Envelope",
    "Execution",
    "Instrument",
    "LotSizeFilter",
    "OrderAck",
    "OrderData",
    "Orderbook",
    "Page",
    "PositionData",
    "PriceFilter",
    "Response",
    "RestOrderbook",
    "RestStatus",
    "TickerData",
    "TickerFloats",
    "TradeData",
    "WalletAccount",
    "WalletCoin",
    "frame_type",
    "frames_decoder",
]

T = TypeVar("T")

Level = tuple[str, str]  # [price, size]


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """Any frame of a Bybit v5 stream: a topic push, an op reply (ack, auth, pong).

    Pushes carry `topic`, `type` ("snapshot"/"delta"), `ts` (ms; a string on some spot
    frames per the docs), `data`; private pushes carry `creationTime` instead of `ts`.
    Op replies carry `op`, `success`, `ret_msg`, `req_id`; the private/option pong is
    `{"op":"pong","args":[ms]}`, the public one `{"op":"ping","ret_msg":"pong"}`.
    """

    topic: str | None = None
    type: str | None = None
    ts: int | str | None = None
    cs: int | None = None
    creationTime: int | None = None
    data: msgspec.Raw = msgspec.Raw()
    op: str | None = None
    success: bool | None = None
    ret_msg: str | None = None
    req_id: str | None = None


class Orderbook(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`orderbook.{depth}.{symbol}` data: levels, update id `u`, cross sequence `seq`."""

    s: str
    b: tuple[Level, ...]
    a: tuple[Level, ...]
    u: int
    seq: int | None = None


class TickerData(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`tickers.{symbol}` data (a linear delta carries only the fields that changed)."""

    symbol: str
    bid1Price: str | None = None
    bid1Size: str | None = None
    ask1Price: str | None = None
    ask1Size: str | None = None
    lastPrice: str | None = None
    volume24h: str | None = None


# --- per-frame decoding: a push of a subscribed topic, decoded in one pass -------------------
# `frames_decoder` decodes the pushes of the topics it is given: each topic is its own frame
# type, tagged by its exact name (the `topic` field), with the payload struct of its channel as
# `data`. A frame of any other topic (or shape) fails it and goes the general way: `ENVELOPE`,
# then the payload decoder of its channel. It decodes in lax mode, for the floats of
# `TickerFloats`; so, unlike the general way, it also takes an integer written as text ("123";
# "null" where null is allowed), a ticker price or size written as a JSON number or as "null"
# (read as absent), and reads "-0" as 0.0 (not -0.0); and it leaves unchecked the envelope
# fields a public push does not use (`cs`, `creationTime`, `op`, `success`, `ret_msg`,
# `req_id`). Bybit sends none of these.


class TickerFloats(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`TickerData` with the numbers as floats: decoded in lax mode, from their text.

    The ticker model holds floats anyway, and msgspec's number parser rounds as `float()` does
    on the JSON number syntax Bybit writes. Text that is no such number ("" included) fails the
    decode and the frame goes the general way (`num`).
    """

    symbol: str
    bid1Price: float | None = None
    bid1Size: float | None = None
    ask1Price: float | None = None
    ask1Size: float | None = None
    lastPrice: float | None = None
    volume24h: float | None = None


_FRAME_TYPES: dict[tuple[str, type], type] = {}  # one per topic ever subscribed


def frame_type(topic: str, payload: type) -> type:
    """The push type of TOPIC exactly (the tag of its `topic` field), carrying a PAYLOAD."""
    key = (topic, payload)
    typ = _FRAME_TYPES.get(key)
    if typ is None:
        typ = _FRAME_TYPES[key] = msgspec.defstruct(
            "TopicFrame",
            [  # what a public push uses; the other fields of `Envelope` are not read here
                ("type", Literal["snapshot", "delta"]),
                ("ts", int | None, None),
                ("data", payload),
            ],
            tag_field="topic",
            tag=topic,
            frozen=True,
            kw_only=True,
            gc=False,
        )
    return typ


def frames_decoder(types: Iterable[type]) -> msgspec.json.Decoder[Any] | None:
    """A decoder of the pushes of these `frame_type`s (None for none)."""
    union = tuple(types)
    if not union:
        return None
    return msgspec.json.Decoder(Union[union], strict=False)  # noqa: UP007 - built at run time


class TradeData(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One `publicTrade.{symbol}` trade: time `T`, taker side `S`, size `v`, price `p`, id `i`."""

    T: int
    s: str
    S: str
    v: str
    p: str
    i: str | None = None


class WalletCoin(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One coin of a unified wallet (`wallet` push and REST wallet-balance alike)."""

    coin: str
    walletBalance: str = ""
    locked: str = ""
    equity: str = ""


class WalletAccount(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One account of a wallet message: USD totals and its coins."""

    accountType: str = ""
    totalEquity: str = ""
    totalAvailableBalance: str = ""
    coin: tuple[WalletCoin, ...] = ()


class PositionData(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A position (`position` push, or REST position/list where the entry is `avgPrice`)."""

    category: str = ""
    symbol: str
    side: str = ""
    size: str
    positionIdx: int = 0
    entryPrice: str | None = None  # WS
    avgPrice: str | None = None  # REST
    markPrice: str = ""
    unrealisedPnl: str = ""
    leverage: str = ""
    updatedTime: str = ""
    seq: int | None = None


class OrderData(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An order (`order` push, or REST order/realtime)."""

    category: str = ""
    symbol: str
    orderId: str
    orderLinkId: str = ""
    side: str
    orderType: str
    price: str = ""
    qty: str
    cumExecQty: str = ""
    avgPrice: str = ""
    orderStatus: str
    timeInForce: str = ""
    updatedTime: str = ""


class Execution(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One of our fills (`execution` push)."""

    category: str
    symbol: str
    orderId: str
    orderLinkId: str = ""
    side: str
    execId: str
    execPrice: str
    execQty: str
    execType: str = "Trade"
    execTime: str = ""


class PriceFilter(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    tickSize: str


class LotSizeFilter(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Size step: `qtyStep` (linear) or `basePrecision` (spot)."""

    qtyStep: str | None = None
    basePrecision: str | None = None


class Instrument(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One instruments-info entry: the steps that fix a book's decimals."""

    symbol: str
    priceFilter: PriceFilter
    lotSizeFilter: LotSizeFilter


class RestOrderbook(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """REST /v5/market/orderbook result."""

    s: str = ""
    b: tuple[Level, ...] = ()
    a: tuple[Level, ...] = ()
    ts: int | None = None
    u: int | None = None
    seq: int | None = None


class OrderAck(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """REST order create/cancel result: the ids only."""

    orderId: str = ""
    orderLinkId: str = ""


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True, gc=False):
    """A REST `result` holding a list (paged by `nextPageCursor` where the endpoint pages)."""

    category: str = ""
    list: tuple[T, ...] = ()
    nextPageCursor: str = ""


class Response(msgspec.Struct, Generic[T], frozen=True, kw_only=True, gc=False):
    """A Bybit v5 REST body: `retCode` 0 is success; `time` is the server time (ms)."""

    retCode: int
    retMsg: str = ""
    result: T | None = None
    time: int | None = None


class RestStatus(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Only the status of a REST body (any `result` is skipped): for error checks."""

    retCode: int
    retMsg: str = ""
    time: int | None = None


ENVELOPE = msgspec.json.Decoder(Envelope)
ORDERBOOK = msgspec.json.Decoder(Orderbook)
TICKER = msgspec.json.Decoder(TickerData)
TRADES = msgspec.json.Decoder(tuple[TradeData, ...])
WALLET = msgspec.json.Decoder(tuple[WalletAccount, ...])
POSITIONS = msgspec.json.Decoder(tuple[PositionData, ...])
ORDERS = msgspec.json.Decoder(tuple[OrderData, ...])
EXECUTIONS = msgspec.json.Decoder(tuple[Execution, ...])

REST_ENVELOPE = msgspec.json.Decoder(RestStatus)
REST_TICKERS = msgspec.json.Decoder(Response[Page[TickerData]])
REST_ORDERBOOK = msgspec.json.Decoder(Response[RestOrderbook])
INSTRUMENTS = msgspec.json.Decoder(Response[Page[Instrument]])
ACCOUNTS = msgspec.json.Decoder(Response[Page[WalletAccount]])
REST_POSITIONS = msgspec.json.Decoder(Response[Page[PositionData]])
REST_ORDERS = msgspec.json.Decoder(Response[Page[OrderData]])
ORDER_ACK = msgspec.json.Decoder(Response[OrderAck])

"""OKX v5 wire messages as msgspec Structs: exchange field names, only the fields we use.

Prices and sizes stay `str` (the text OKX sent; "" means "no value"); `parse.py` turns them
into model values. A stream frame is decoded once into `Envelope` (`{"arg":{...},
"action":..., "data":[...]}`, its `data` kept as `msgspec.Raw`) or, when it carries `event`,
read as an `Event` (subscribe / unsubscribe / login / error / channel-conn-count); the payload
is then decoded by the decoder of the exact channel `arg.channel` names. REST bodies are
`{"code": "0", "msg": "", "data": [...]}` and decode through `Response[...]`, whose `data`
defaults to empty so an error body still decodes and `check_error` can read `code`.

Field names follow OKX's v5 documentation (okx.com/docs-v5), cross-checked with ccxt 4.5.90
(`okx.py`) and python-okx 0.4.4.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

__all__ = [
    "ACCOUNT",
    "BOOKS",
    "BOOK_PUSHES",
    "BOOKS_PUSH",
    "BookPush",
    "BooksPush",
    "ENVELOPE",
    "EVENT",
    "INSTRUMENTS",
    "ORDERS",
    "ORDER_ACKS",
    "POSITIONS",
    "REST_ACCOUNT",
    "REST_BOOKS",
    "REST_ENVELOPE",
    "REST_ORDERS",
    "REST_POSITIONS",
    "REST_TICKERS",
    "SERVER_TIME",
    "TICKERS",
    "TICKERS_PUSH",
    "AccountData",
    "Arg",
    "BalanceDetail",
    "BookData",
    "Envelope",
    "Event",
    "InstrumentData",
    "OrderAck",
    "OrderData",
    "PositionData",
    "Response",
    "RestStatus",
    "ServerTime",
    "TickerData",
    "TickersPush",
]

T = TypeVar("T")

# One book level: [price, size, "0" (deprecated liquidated orders), number of orders].
Level = tuple[str, ...]


class Arg(msgspec.Struct, frozen=True, gc=False):
    """A subscription's `arg`: the channel and its keys (instId, or instType/uid on private)."""

    channel: str
    instId: str | None = None  # noqa: N815
    instType: str | None = None  # noqa: N815
    instFamily: str | None = None  # noqa: N815
    ccy: str | None = None
    uid: str | None = None


class Envelope(msgspec.Struct, frozen=True, gc=False):
    """A push: `arg`, the books' `action` ("snapshot"/"update"), private channels'
    `eventType` ("snapshot"/"event_update") with its pages, and `data` undecoded."""

    arg: Arg
    data: msgspec.Raw
    action: str | None = None
    eventType: str | None = None  # noqa: N815
    curPage: int | None = None  # noqa: N815
    lastPage: bool | None = None  # noqa: N815


class Event(msgspec.Struct, frozen=True, gc=False):
    """An operation's answer: `event` is subscribe, unsubscribe, login, error, notice or
    channel-conn-count(-error); `code`/`msg` say why on error (code is a string)."""

    event: str
    arg: Arg | None = None
    code: str = "0"
    msg: str = ""
    connId: str | None = None  # noqa: N815


class TickerData(msgspec.Struct, frozen=True, gc=False):
    """`tickers` channel and `GET /api/v5/market/ticker`: best bid/ask, last, 24 h volume."""

    instId: str  # noqa: N815
    instType: str = ""  # noqa: N815
    last: str = ""
    lastSz: str = ""  # noqa: N815
    askPx: str = ""  # noqa: N815
    askSz: str = ""  # noqa: N815
    bidPx: str = ""  # noqa: N815
    bidSz: str = ""  # noqa: N815
    vol24h: str = ""
    volCcy24h: str = ""
    ts: str = ""


class BookData(msgspec.Struct, frozen=True, gc=False):
    """`books` / `books5` / `bbo-tbt` data and `GET /api/v5/market/books` data.

    `seqId`/`prevSeqId` are absent from the 2022 recording and `books5`'s older pushes;
    a snapshot's `prevSeqId` is -1. `checksum` is 0 since 2026-06-23 (absent on REST).
    """

    asks: tuple[Level, ...] = ()
    bids: tuple[Level, ...] = ()
    ts: str = ""
    checksum: int | None = None
    seqId: int | None = None  # noqa: N815
    prevSeqId: int | None = None  # noqa: N815
    instId: str | None = None  # noqa: N815


_NO_LEVELS = msgspec.Raw(b"[]")


class BookPush(msgspec.Struct, frozen=True, gc=False):
    """One `books` / `books5` / `bbo-tbt` push item as the stream takes it: the levels stay the
    frame's own JSON bytes, which the core book parses and checks (no Python string a value:
    the per-frame path of a 400-level book)."""

    asks: msgspec.Raw = _NO_LEVELS
    bids: msgspec.Raw = _NO_LEVELS
    ts: str = ""
    checksum: int | None = None
    seqId: int | None = None  # noqa: N815
    prevSeqId: int | None = None  # noqa: N815
    instId: str | None = None  # noqa: N815


class BalanceDetail(msgspec.Struct, frozen=True, gc=False):
    """One currency of the trading account (`details[]`)."""

    ccy: str
    availBal: str = ""  # noqa: N815
    cashBal: str = ""  # noqa: N815
    frozenBal: str = ""  # noqa: N815
    eq: str = ""
    upl: str = ""
    uTime: str = ""  # noqa: N815


class AccountData(msgspec.Struct, frozen=True, gc=False):
    """`account` channel and `GET /api/v5/account/balance`: totals in USD plus details."""

    totalEq: str = ""  # noqa: N815
    availEq: str = ""  # noqa: N815
    adjEq: str = ""  # noqa: N815
    uTime: str = ""  # noqa: N815
    details: tuple[BalanceDetail, ...] = ()


class PositionData(msgspec.Struct, frozen=True, gc=False):
    """`positions` channel and `GET /api/v5/account/positions`.

    `pos` is in contracts (base currency for MARGIN); signed in net mode (`posSide` "net"),
    positive with `posSide` long/short in long/short mode.
    """

    instId: str  # noqa: N815
    instType: str = ""  # noqa: N815
    pos: str = ""
    posSide: str = "net"  # noqa: N815
    avgPx: str = ""  # noqa: N815
    markPx: str = ""  # noqa: N815
    upl: str = ""
    lever: str = ""
    mgnMode: str = ""  # noqa: N815
    posId: str = ""  # noqa: N815
    uTime: str = ""  # noqa: N815
    pTime: str = ""  # noqa: N815


class OrderData(msgspec.Struct, frozen=True, gc=False):
    """`orders` channel and `GET /api/v5/trade/orders-pending` (same fields)."""

    instId: str  # noqa: N815
    ordId: str  # noqa: N815
    instType: str = ""  # noqa: N815
    clOrdId: str = ""  # noqa: N815
    px: str = ""
    sz: str = ""
    ordType: str = ""  # noqa: N815
    side: str = ""
    posSide: str = ""  # noqa: N815
    tdMode: str = ""  # noqa: N815
    tgtCcy: str = ""  # noqa: N815
    accFillSz: str = ""  # noqa: N815
    avgPx: str = ""  # noqa: N815
    state: str = ""
    uTime: str = ""  # noqa: N815
    cTime: str = ""  # noqa: N815
    code: str = ""
    msg: str = ""


class OrderAck(msgspec.Struct, frozen=True, gc=False):
    """One item of a place / cancel answer: ids and the per-order result (`sCode` "0": ok)."""

    ordId: str = ""  # noqa: N815
    clOrdId: str = ""  # noqa: N815
    ts: str = ""
    sCode: str = "0"  # noqa: N815
    sMsg: str = ""  # noqa: N815


class InstrumentData(msgspec.Struct, frozen=True, gc=False):
    """`GET /api/v5/public/instruments`: tick and lot sizes, contract value for derivatives."""

    instId: str  # noqa: N815
    instType: str = ""  # noqa: N815
    tickSz: str = ""  # noqa: N815
    lotSz: str = ""  # noqa: N815
    minSz: str = ""  # noqa: N815
    ctVal: str = ""  # noqa: N815
    ctMult: str = ""  # noqa: N815
    ctValCcy: str = ""  # noqa: N815
    ctType: str = ""  # noqa: N815
    baseCcy: str = ""  # noqa: N815
    quoteCcy: str = ""  # noqa: N815
    settleCcy: str = ""  # noqa: N815
    state: str = ""


class ServerTime(msgspec.Struct, frozen=True, gc=False):
    """`GET /api/v5/public/time`: `ts` in ms (a string)."""

    ts: str


class RestStatus(msgspec.Struct, frozen=True, gc=False):
    """Any REST body's status: `code` ("0" is success; a string on the wire) and `msg`."""

    code: str | int = "0"
    msg: str = ""
    data: msgspec.Raw = msgspec.Raw(b"[]")


class Response(msgspec.Struct, Generic[T], frozen=True, gc=False):
    """A REST body: status plus `data` (a list, empty on most errors)."""

    code: str | int = "0"
    msg: str = ""
    data: tuple[T, ...] = ()


class BooksPush(msgspec.Struct, frozen=True, gc=False):
    """A public book push decoded in one pass (`parse.decode_push`): its items typed, their
    levels left as the frame's JSON bytes."""

    arg: Arg
    data: tuple[BookPush, ...]
    action: str | None = None


class TickersPush(msgspec.Struct, frozen=True, gc=False):
    """A `tickers` push decoded in one pass (`parse.decode_push`)."""

    arg: Arg
    data: tuple[TickerData, ...]
    action: str | None = None


ENVELOPE = msgspec.json.Decoder(Envelope)
BOOKS_PUSH = msgspec.json.Decoder(BooksPush)
TICKERS_PUSH = msgspec.json.Decoder(TickersPush)
EVENT = msgspec.json.Decoder(Event)
TICKERS = msgspec.json.Decoder(tuple[TickerData, ...])
BOOKS = msgspec.json.Decoder(tuple[BookData, ...])
BOOK_PUSHES = msgspec.json.Decoder(tuple[BookPush, ...])
ACCOUNT = msgspec.json.Decoder(tuple[AccountData, ...])
POSITIONS = msgspec.json.Decoder(tuple[PositionData, ...])
ORDERS = msgspec.json.Decoder(tuple[OrderData, ...])

REST_ENVELOPE = msgspec.json.Decoder(RestStatus)
REST_TICKERS = msgspec.json.Decoder(Response[TickerData])
REST_BOOKS = msgspec.json.Decoder(Response[BookData])
REST_ACCOUNT = msgspec.json.Decoder(Response[AccountData])
REST_POSITIONS = msgspec.json.Decoder(Response[PositionData])
REST_ORDERS = msgspec.json.Decoder(Response[OrderData])
ORDER_ACKS = msgspec.json.Decoder(Response[OrderAck])
INSTRUMENTS = msgspec.json.Decoder(Response[InstrumentData])
SERVER_TIME = msgspec.json.Decoder(Response[ServerTime])

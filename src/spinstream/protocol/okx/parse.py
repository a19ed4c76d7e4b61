"""Pure conversions from OKX v5 wire structs to spinstream models (no state, no clock).

Times: OKX sends ms as strings; models hold int ns. Prices and sizes become floats here (the
models are views), rounded to the instrument's precision (`tickSz` / `lotSz` decimals) when
the `Instrument` is known. Books never become floats here: their level text goes straight
into a `_core.Book` built at `Instrument.price_decimals` / `size_decimals` (exact int ticks),
and `checksum` / `book_ids` give the protocol what it checks.

Sizes of contracts: OKX counts SWAP / FUTURES / OPTION sizes (`sz`, `pos`, `bidSz`, `vol24h`)
in contracts. Given an `Instrument` with a contract value (`ctVal`), model sizes are
contracts x ctVal, i.e. in `ctValCcy` (the base coin of a linear contract, the quote currency
of an inverse one), like every other venue's sizes; without one they stay in contracts.
Book sizes stay in contracts (the venue's checksum is over the wire text).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import msgspec

from spinstream._core import Picker
from spinstream.errors import ParseError
from spinstream.models import Account, Balance, Order, OrderStatus, Position, Side, Source, Ticker
from spinstream.protocol.booksync import Ids
from spinstream.protocol.times import ms_to_ns as _ms_to_ns
from spinstream.protocol.values import INF, finite, nonneg, positive

from . import schemas

__all__ = [
    "TICKERS_PREFIX",
    "TICKERS_PREFIX_B",
    "INST_TYPES",
    "MARKETS",
    "VENUE",
    "Instrument",
    "PickedBook",
    "account_data",
    "book_pushes",
    "books_data",
    "book_ids",
    "checksum",
    "decode_frame",
    "decode_push",
    "market_of",
    "ms_to_ns",
    "num",
    "orders_data",
    "parse_account",
    "pick_book",
    "parse_instruments",
    "parse_order",
    "parse_orders",
    "parse_position",
    "parse_positions",
    "parse_server_time",
    "parse_ticker",
    "pick_ticker",
    "positions_data",
    "side",
    "step_decimals",
    "tickers_data",
    "validate_levels",
    "ws_ticker",
]

VENUE = "okx"
# spinstream market -> OKX instType (options: instruments and tickers only)
INST_TYPES: dict[str, str] = {
    "spot": "SPOT",
    "swap": "SWAP",
    "futures": "FUTURES",
    "option": "OPTION",
}
MARKETS: tuple[str, ...] = tuple(INST_TYPES)
_MARKET_OF = {v: k for k, v in INST_TYPES.items()} | {"MARGIN": "spot"}
_CONTRACTS = frozenset({"SWAP", "FUTURES", "OPTION"})

ORDER_STATUS: dict[str, OrderStatus] = {
    "live": "new",
    "partially_filled": "partially_filled",
    "filled": "filled",
    "canceled": "canceled",
    "mmp_canceled": "canceled",  # cancelled by market maker protection
}
# ordType -> (type, time in force)
ORDER_TYPES: dict[str, tuple[str, str | None]] = {
    "limit": ("limit", "GTC"),
    "market": ("market", "IOC"),
    "post_only": ("limit", "PostOnly"),
    "fok": ("limit", "FOK"),
    "ioc": ("limit", "IOC"),
    "optimal_limit_ioc": ("market", "IOC"),
    "mmp": ("limit", "IOC"),
    "mmp_and_post_only": ("limit", "PostOnly"),
    "op_fok": ("limit", "FOK"),
}
T = TypeVar("T")
_SIDES: dict[str, Side] = {"buy": "buy", "sell": "sell"}
_POSITION_SIDES = {"net": "both", "long": "long", "short": "short", "": "both"}


# What can be true per field (anything else raises ParseError: the frame is Malformed, a REST
# answer an error). Every number is finite. Prices (bid, ask, last, order, average, entry, mark)
# are > 0, except that "" or "0" on an order's or a position's price means "no price" (None).
# Sizes, volumes, quantities, filled sizes and frozen balances are >= 0; a net-mode position's
# `pos` is signed, a long/short-mode one's is >= 0 (its side gives the sign). A currency's
# available / cash balance and the account's equity are only finite (borrowing in the
# multi-currency and portfolio margin modes shows as negative cash). PnL is only finite.


class Instrument(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What parsing needs to know about one instId, from `GET /api/v5/public/instruments`.

    `price_decimals` / `size_decimals` are the decimals of `tickSz` / `lotSz` (trailing zeros
    dropped): every price and size OKX writes for the instrument fits them exactly, so a book
    built at them holds the wire text exactly (290/290 checksums of the 2022 recording).
    `contract_value` is `ctVal` (None for spot and margin).
    """

    inst_id: str
    inst_type: str
    tick_size: str
    lot_size: str
    price_decimals: int
    size_decimals: int
    contract_value: str | None = None
    contract_value_ccy: str | None = None

    @property
    def market(self) -> str:
        return market_of(self.inst_type)

    def to_size(self, contracts: float) -> float:
        """A wire size as the model's size: contracts x ctVal for derivatives."""
        if self.contract_value is None:
            return round(contracts, self.size_decimals)
        decimals = self.size_decimals + _decimals(self.contract_value)
        return round(contracts * float(self.contract_value), decimals)


def _decimals(text: str) -> int:
    return len(text.partition(".")[2].rstrip("0"))


def step_decimals(step: str) -> int:
    """Decimals of an increment such as "0.1", "0.00000001", "1" or "0.10" (1).

    Raises:
        ParseError: not a positive decimal step.
    """
    try:
        d = Decimal(step)
    except (InvalidOperation, TypeError):
        raise ParseError(f"bad step {step!r}") from None
    if not d.is_finite() or d <= 0:
        raise ParseError(f"bad step {step!r}")
    return _decimals(step.strip())


def market_of(inst_type: str) -> str:
    """OKX instType ("SPOT", "SWAP", ...) as the spinstream market ("spot", "swap", ...)."""
    try:
        return _MARKET_OF[inst_type]
    except KeyError:
        raise ParseError(f"unknown instType {inst_type!r}") from None


def ms_to_ns(ms: str | int | None) -> int | None:
    """OKX milliseconds (a string; "" is absent) as int ns."""
    return _ms_to_ns(ms)


def num(text: str | None) -> float | None:
    """A finite decimal string as float; "" and None (OKX's "no value") are None."""
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ParseError(f"bad number {text!r}") from None
    if -INF < value < INF:
        return value
    raise ParseError(f"not a finite number: {text!r}")


def _price(text: str, what: str, inst: Instrument | None) -> float | None:
    """A price ("" is none; anything else finite > 0), at the instrument's precision."""
    v = num(text)
    if v is None:
        return None
    positive(v, what)
    return v if inst is None else round(v, inst.price_decimals)


def _opt_price(text: str, what: str, inst: Instrument | None) -> float | None:
    """An order's or position's price: "" and "0" mean "no price"."""
    v = num(text)
    return None if v is None or v == 0.0 else _price(text, what, inst)


def _size(text: str, what: str, inst: Instrument | None) -> float | None:
    """A size ("" is none; else finite >= 0), contracts x ctVal for derivatives."""
    v = num(text)
    if v is None:
        return None
    nonneg(v, what)
    return v if inst is None else inst.to_size(v)


def _req(v: float | None, what: str) -> float:
    if v is None:
        raise ParseError(f"missing {what}")
    return v


def side(text: str) -> Side:
    """OKX "buy"/"sell"."""
    try:
        return _SIDES[text]
    except KeyError:
        raise ParseError(f"bad side {text!r}") from None


# -- frames ----------------------------------------------------------------------------------


def decode_frame(frame: str | bytes) -> schemas.Envelope | schemas.Event | None:
    """A text frame as a push (`Envelope`), an operation answer (`Event`), or None for the
    keepalive's "pong".

    Raises:
        ParseError: anything else.
    """
    if frame == "pong" or frame == b"pong":
        return None
    try:
        return schemas.ENVELOPE.decode(frame)
    except msgspec.DecodeError as exc:
        try:
            return schemas.EVENT.decode(frame)
        except msgspec.DecodeError:
            raise ParseError(f"okx: bad frame: {exc}") from None


_BOOK_PICKER = Picker(
    (
        "arg.channel",
        "arg.instId",
        "action",
        "data.asks",
        "data.bids",
        "data.ts",
        "data.checksum",
        "data.seqId",
        "data.prevSeqId",
        "event",
    ),
    "sssllniii*",
)
_NO_LEVELS = b"[]"
TICKERS_PREFIX = '{"arg":{"channel":"tickers"'  # how OKX writes a tickers push (the receive
TICKERS_PREFIX_B = TICKERS_PREFIX.encode()  # dispatch: pick_ticker, else pick_book)

#: what `pick_book` returns: [channel, instId, action, asks, bids (`FrameLevels`, read by the
#: picker as it passed them), ts (ms, int), checksum, seqId, prevSeqId, event (None)]
PickedBook = list[Any]


def pick_book(frame: str | bytes) -> PickedBook | None:
    """A `books` / `books5` / `bbo-tbt` push of one item read in one pass by the core's
    `Picker` (no envelope, no structs; the levels read into `FrameLevels` for the book as the
    walk passes them), or None for anything else or anything unexpected (levels not in the
    compact form OKX writes included): `decode_frame` then reads it and says what it is."""
    p = _BOOK_PICKER(frame)  # checks each value's kind (str / int / levels) as it reads
    if p is None or p[9] is not None or p[0] not in _BOOK_CHANNELS or p[1] is None or p[5] is None:
        return None
    if p[3] is None:
        p[3] = _NO_LEVELS
    if p[4] is None:
        p[4] = _NO_LEVELS
    return p


_PUSH = '{"arg":{"channel":"'
_PUSH_B = _PUSH.encode()
_AT = len(_PUSH)
_BOOK_CHANNELS = frozenset(("books", "books5", "bbo-tbt"))
_TYPED: dict[
    str, msgspec.json.Decoder[schemas.BooksPush] | msgspec.json.Decoder[schemas.TickersPush]
] = {
    "books": schemas.BOOKS_PUSH,
    "books5": schemas.BOOKS_PUSH,
    "bbo-tbt": schemas.BOOKS_PUSH,
    "tickers": schemas.TICKERS_PUSH,
}


def decode_push(
    frame: str | bytes,
) -> schemas.BooksPush | schemas.TickersPush | None:
    """A public book or tickers push in one decoding pass (the per-frame path), or None for
    anything else, or anything that does not decode so: `decode_frame` then says what it is.

    OKX writes `arg` first with `channel` first in it; the channel named there picks the
    typed decoder, so the frame's bytes are read once (not once for the envelope and again
    for its `data`)."""
    if isinstance(frame, str):
        if not frame.startswith(_PUSH):
            return None
        channel = frame[_AT : frame.find('"', _AT, _AT + 16)]
    else:
        if not frame.startswith(_PUSH_B):
            return None
        channel = frame[_AT : frame.find(b'"', _AT, _AT + 16)].decode("ascii", "replace")
    decoder = _TYPED.get(channel)
    if decoder is None:
        return None
    try:
        return decoder.decode(frame)
    except msgspec.DecodeError:
        return None


def _decode(decoder: msgspec.json.Decoder[T], raw: msgspec.Raw | bytes, what: str) -> T:
    try:
        return decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise ParseError(f"okx {what}: bad data: {exc}") from None


def tickers_data(env: schemas.Envelope) -> tuple[schemas.TickerData, ...]:
    """A `tickers` push's data."""
    return _decode(schemas.TICKERS, env.data, "tickers")


def books_data(env: schemas.Envelope) -> tuple[schemas.BookData, ...]:
    """A `books` / `books5` / `bbo-tbt` push's data."""
    return _decode(schemas.BOOKS, env.data, "books")


def book_pushes(env: schemas.Envelope) -> tuple[schemas.BookPush, ...]:
    """A `books` / `books5` / `bbo-tbt` push's data with its levels left as JSON bytes for the
    core book (which rejects what `validate_levels` rejects, and more)."""
    return _decode(schemas.BOOK_PUSHES, env.data, "books")


def account_data(env: schemas.Envelope) -> tuple[schemas.AccountData, ...]:
    """An `account` push's data."""
    return _decode(schemas.ACCOUNT, env.data, "account")


def positions_data(env: schemas.Envelope) -> tuple[schemas.PositionData, ...]:
    """A `positions` push's data."""
    return _decode(schemas.POSITIONS, env.data, "positions")


def orders_data(env: schemas.Envelope) -> tuple[schemas.OrderData, ...]:
    """An `orders` push's data."""
    return _decode(schemas.ORDERS, env.data, "orders")


# -- instruments -----------------------------------------------------------------------------


def parse_instruments(items: Iterable[schemas.InstrumentData]) -> dict[str, Instrument]:
    """instId -> Instrument (tick and lot decimals, contract value for derivatives)."""
    out: dict[str, Instrument] = {}
    for i in items:
        contract = i.instType in _CONTRACTS
        if contract and not i.ctVal:
            raise ParseError(f"okx instrument {i.instId}: a contract without ctVal")
        if contract:
            step_decimals(i.ctVal)  # a positive decimal
        out[i.instId] = Instrument(
            inst_id=i.instId,
            inst_type=i.instType,
            tick_size=i.tickSz,
            lot_size=i.lotSz,
            price_decimals=step_decimals(i.tickSz),
            size_decimals=step_decimals(i.lotSz),
            contract_value=i.ctVal if contract else None,
            contract_value_ccy=(i.ctValCcy or None) if contract else None,
        )
    return out


# -- market data -----------------------------------------------------------------------------


def parse_ticker(
    t: schemas.TickerData, ts: int, source: Source = "ws", inst: Instrument | None = None
) -> Ticker:
    """A `tickers` item (or `GET /api/v5/market/ticker` item) as a Ticker."""
    return Ticker(
        venue=VENUE,
        market=market_of(t.instType) if t.instType else (inst.market if inst else "spot"),
        symbol=t.instId,
        bid=_price(t.bidPx, "bid", inst),
        bid_size=_size(t.bidSz, "bid size", inst),
        ask=_price(t.askPx, "ask", inst),
        ask_size=_size(t.askSz, "ask size", inst),
        last=_price(t.last, "last", inst),
        volume_24h=_size(t.vol24h, "24 h volume", inst),
        ts_event=ms_to_ns(t.ts),
        last_update=ts,
        source=source,
    )


def ws_ticker(t: schemas.TickerData, ts: int) -> Ticker:
    """A `tickers` push item as a Ticker (sizes in contracts): `parse_ticker(t, ts, "ws")`
    written out for the per-frame path; anything it would reject goes to it to say why."""
    try:
        bid = float(t.bidPx) if t.bidPx else None
        bid_size = float(t.bidSz) if t.bidSz else None
        ask = float(t.askPx) if t.askPx else None
        ask_size = float(t.askSz) if t.askSz else None
        last = float(t.last) if t.last else None
        volume = float(t.vol24h) if t.vol24h else None
        ts_event = int(t.ts) * 1_000_000 if t.ts else None
    except ValueError:
        return parse_ticker(t, ts, "ws")
    market = _MARKET_OF.get(t.instType) if t.instType else "spot"
    if (
        market is None
        or not (bid is None or 0.0 < bid < INF)
        or not (ask is None or 0.0 < ask < INF)
        or not (last is None or 0.0 < last < INF)
        or not (bid_size is None or 0.0 <= bid_size < INF)
        or not (ask_size is None or 0.0 <= ask_size < INF)
        or not (volume is None or 0.0 <= volume < INF)
    ):
        return parse_ticker(t, ts, "ws")
    return Ticker(
        venue=VENUE,
        market=market,
        symbol=t.instId,
        bid=bid,
        bid_size=bid_size,
        ask=ask,
        ask_size=ask_size,
        last=last,
        volume_24h=volume,
        ts_event=ts_event,
        last_update=ts,
        source="ws",
    )


_TICKER_PICKER = Picker(
    (
        "arg.channel",
        "arg.instId",
        "data.instType",
        "data.instId",
        "data.last",
        "data.askPx",
        "data.askSz",
        "data.bidPx",
        "data.bidSz",
        "data.vol24h",
        "data.ts",
        "event",
    ),
    "ssssffffffn*",
)


def pick_ticker(frame: str | bytes, ts: int) -> Ticker | None:
    """A `tickers` push of one item read in one pass by the core's `Picker` (numbers read as
    `float()` reads them, the ms as an int) and made a Ticker (sizes in contracts), or None
    for anything else or anything unexpected ("" for no value, a price not > 0, two items, an
    unknown instType): the push then takes `decode_push`, and `ws_ticker` says what is wrong.
    """
    if not frame.startswith(TICKERS_PREFIX if type(frame) is str else TICKERS_PREFIX_B):  # type: ignore[arg-type]
        return None
    p: list[Any] | None = _TICKER_PICKER(frame)  # values of the kinds asked for
    if p is None or p[0] != "tickers" or p[11] is not None:
        return None
    _, arg_sym, inst_type, sym, last, ask, ask_size, bid, bid_size, volume, ts_ms, _ = p
    market = _MARKET_OF.get(inst_type) if inst_type else "spot"
    if (
        market is None
        or sym is None
        or sym != arg_sym
        or not (last is None or last > 0.0)  # finite >= 0: the picker's kind f
        or not (ask is None or ask > 0.0)
        or not (bid is None or bid > 0.0)
    ):
        return None
    return Ticker(
        venue=VENUE,
        market=market,
        symbol=sym,
        bid=bid,
        bid_size=bid_size,
        ask=ask,
        ask_size=ask_size,
        last=last,
        volume_24h=volume,
        ts_event=None if ts_ms is None else ts_ms * 1_000_000,
        last_update=ts,
        source="ws",
    )


def validate_levels(levels: Sequence[Sequence[str]], what: str) -> None:
    """Raise ParseError unless every level is [price > 0, size >= 0, ...], both finite.

    The core's exact parser rejects what does not fit the book's decimals; this catches the
    impossible values (a price of 0 or below, a negative size) before a book takes them.
    """
    for level in levels:
        try:
            p, s = float(level[0]), float(level[1])
        except (ValueError, IndexError, TypeError):
            raise ParseError(f"okx {what}: bad level {level!r}") from None
        if not (0.0 < p < INF and 0.0 <= s < INF):
            raise ParseError(f"okx {what}: impossible level {level!r}")


def book_ids(action: str | None, data: schemas.BookData) -> Ids | None:
    """The sequencing ids of one books item (None when it carries no `seqId`, as in 2022).

    A snapshot (`action` "snapshot", or `prevSeqId` -1) resets the book; an update chains
    when its `prevSeqId` is the book's `seqId` (`booksync.OkxRule`).
    """
    if data.seqId is None:
        return None
    return Ids(seq=data.seqId, prev=data.prevSeqId, snapshot=action == "snapshot")


def checksum(data: schemas.BookData) -> int | None:
    """The CRC32 to check against the book, or None when there is none to check: OKX sends 0
    since 2026-06-23 (and `books5` / `bbo-tbt` / REST none at all)."""
    c = data.checksum
    return None if not c else c


# -- private ---------------------------------------------------------------------------------


def parse_account(
    market: str, data: Sequence[schemas.AccountData], ts: int, source: Source = "ws"
) -> Account:
    """An `account` push or `GET /api/v5/account/balance` answer as an Account.

    `free` is `availBal` (or `cashBal` - `frozenBal` where OKX leaves it empty), `locked`
    is `frozenBal`; `equity` is `totalEq` and `available` the account's `availEq` (USD).
    """
    balances: dict[str, Balance] = {}
    equity = available = None
    ts_event: int | None = None
    for acct in data:
        equity = num(acct.totalEq) if acct.totalEq else equity
        available = num(acct.availEq) if acct.availEq else available
        t = ms_to_ns(acct.uTime)
        if t is not None and (ts_event is None or t > ts_event):
            ts_event = t
        for d in acct.details:
            locked = nonneg(num(d.frozenBal) or 0.0, f"{d.ccy} frozen balance")
            free = num(d.availBal)
            if free is None:
                free = (num(d.cashBal) or 0.0) - locked
            balances[d.ccy] = Balance(
                asset=d.ccy, free=finite(free, f"{d.ccy} available"), locked=locked
            )
    return Account(
        venue=VENUE,
        market=market,
        balances=balances,
        equity=equity,
        available=available,
        ts_event=ts_event,
        last_update=ts,
        source=source,
    )


def parse_position(
    p: schemas.PositionData, ts: int, source: Source = "ws", inst: Instrument | None = None
) -> Position:
    """One `positions` item as a Position (size signed: negative is short)."""
    pos = _req(num(p.pos), "position size")
    try:
        position_side = _POSITION_SIDES[p.posSide]
    except KeyError:
        raise ParseError(f"bad posSide {p.posSide!r}") from None
    if position_side != "both":
        nonneg(pos, "position size")
        if position_side == "short":
            pos = -pos
    size = pos if inst is None else inst.to_size(pos)
    lever = num(p.lever)
    return Position(
        venue=VENUE,
        market=market_of(p.instType) if p.instType else (inst.market if inst else "swap"),
        symbol=p.instId,
        size=size + 0.0,  # no -0.0
        entry_price=_opt_price(p.avgPx, "average price", inst),
        mark_price=_opt_price(p.markPx, "mark price", inst),
        unrealized_pnl=num(p.upl),
        leverage=None if lever is None or lever == 0 else positive(lever, "leverage"),
        position_side=position_side,
        ts_event=ms_to_ns(p.uTime) or ms_to_ns(p.pTime),
        last_update=ts,
        source=source,
    )


def parse_positions(
    data: Iterable[schemas.PositionData],
    ts: int,
    source: Source = "ws",
    instruments: dict[str, Instrument] | None = None,
) -> tuple[Position, ...]:
    """Every position item, each at its instrument's precision where known."""
    inst = instruments or {}
    return tuple(parse_position(p, ts, source, inst.get(p.instId)) for p in data)


def parse_order(
    o: schemas.OrderData, ts: int, source: Source = "ws", inst: Instrument | None = None
) -> Order:
    """One `orders` item (or orders-pending / order-details item) as an Order."""
    try:
        status = ORDER_STATUS[o.state]
    except KeyError:
        raise ParseError(f"unknown order state {o.state!r}") from None
    typ, tif = ORDER_TYPES.get(o.ordType, (o.ordType, None))
    return Order(
        venue=VENUE,
        market=market_of(o.instType) if o.instType else (inst.market if inst else "spot"),
        symbol=o.instId,
        order_id=o.ordId,
        client_order_id=o.clOrdId or None,
        side=side(o.side),
        type=typ,
        price=_opt_price(o.px, "order price", inst),
        quantity=_req(_size(o.sz, "order size", inst), "order size"),
        filled=_size(o.accFillSz, "filled size", inst) or 0.0,
        avg_price=_opt_price(o.avgPx, "average price", inst),
        status=status,
        time_in_force=tif,
        ts_event=ms_to_ns(o.uTime) or ms_to_ns(o.cTime),
        last_update=ts,
        source=source,
    )


def parse_orders(
    data: Iterable[schemas.OrderData],
    ts: int,
    source: Source = "ws",
    instruments: dict[str, Instrument] | None = None,
) -> tuple[Order, ...]:
    """Every order item, each at its instrument's precision where known."""
    inst = instruments or {}
    return tuple(parse_order(o, ts, source, inst.get(o.instId)) for o in data)


def parse_server_time(items: Sequence[schemas.ServerTime]) -> int:
    """The venue's time (int ns) from `GET /api/v5/public/time` data."""
    if not items:
        raise ParseError("okx: server time answer without data")
    ns = ms_to_ns(items[0].ts)
    if ns is None or not 0 < ns < (1 << 50) * 1_000_000:
        raise ParseError(f"okx: server time {items[0].ts!r} is not a time")
    return ns

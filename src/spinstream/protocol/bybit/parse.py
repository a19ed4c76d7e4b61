"""Pure conversions from Bybit v5 wire structs to spinstream models (no state, no clock).

Times: Bybit sends ms (ints, or strings on private messages); models hold int ns. Prices and
sizes become floats here because the models are views; books never pass through this module
(they go from the wire text straight into `SyncedBook`, exactly).
"""

from __future__ import annotations

from msgspec.structs import replace

from spinstream.errors import ParseError
from spinstream.models import (
    Account,
    Balance,
    Order,
    OrderStatus,
    Position,
    Side,
    Source,
    Ticker,
    Trade,
)
from spinstream.protocol.times import NS_PER_MS, ms_to_ns
from spinstream.protocol.values import INF, nonneg, opt_nonneg, opt_positive, positive

from . import schemas

__all__ = [
    "VENUE",
    "merge_ticker",
    "merge_ticker_floats",
    "ms_to_ns",
    "num",
    "parse_account",
    "parse_execution",
    "parse_order",
    "parse_position",
    "parse_spot_ticker",
    "parse_ticker",
    "parse_trades",
    "side",
    "step_decimals",
    "ticker_data",
    "ticker_floats",
]

VENUE = "bybit"

ORDER_STATUS: dict[str, OrderStatus] = {
    "New": "new",
    "PartiallyFilled": "partially_filled",
    "Untriggered": "new",  # a conditional order waiting for its trigger is open
    "Triggered": "new",
    "Filled": "filled",
    "Cancelled": "canceled",
    "PartiallyFilledCanceled": "canceled",
    "Deactivated": "canceled",  # UTA: a spot TP/SL, conditional or OCO order cancelled untriggered
    "Rejected": "rejected",
}
_SIDES: dict[str, Side] = {"Buy": "buy", "Sell": "sell"}
_POSITION_SIDES = {0: "both", 1: "long", 2: "short"}
_TICKER_FIELDS = tuple(f for f in schemas.TickerData.__struct_fields__ if f != "symbol")


# What can be true per field (anything else raises ParseError: the frame is Malformed, a REST
# answer an error). Every number is finite (`num`). Prices (bid, ask, last, order, average,
# entry, mark, trade) are > 0, except that "0" on an order or a flat position means "no price"
# (None). Sizes, volumes, quantities and locked balances are >= 0; a position's size is >= 0 and
# its side gives the sign. A unified wallet's coin balance, equity and available balance are
# only finite: UTA borrowing shows as a negative coin balance, and losses can take equity below
# zero. Unrealized PnL is only finite.


def num(text: str | None) -> float | None:
    """A finite decimal string as float; "" and None (Bybit's "no value") are None."""
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise ParseError(f"bad number {text!r}") from exc
    if -INF < value < INF:
        return value
    raise ParseError(f"not a finite number: {text!r}")


def _nonzero(text: str | None, what: str) -> float | None:
    """Like `num`, but "0" (Bybit's "no price" on market orders and flat positions) is None;
    any other price must be > 0."""
    value = num(text)
    return None if value == 0 else opt_positive(value, what)


def _ticker_ok(
    bid: float | None,
    bid_size: float | None,
    ask: float | None,
    ask_size: float | None,
    last: float | None,
    volume: float | None,
) -> bool:
    """Whether ticker numbers (None: not sent) are true: prices finite > 0, sizes finite >= 0.

    Chained comparisons, which NaN fails: this runs once per ticker frame.
    """
    return (
        (bid is None or 0.0 < bid < INF)
        and (ask is None or 0.0 < ask < INF)
        and (last is None or 0.0 < last < INF)
        and (bid_size is None or 0.0 <= bid_size < INF)
        and (ask_size is None or 0.0 <= ask_size < INF)
        and (volume is None or 0.0 <= volume < INF)
    )


def _bad_ticker(symbol: str) -> ParseError:
    return ParseError(f"ticker {symbol}: a price not finite > 0 or a size not finite >= 0")


def _req(text: str | None, what: str) -> float:
    value = num(text)
    if value is None:
        raise ParseError(f"missing {what}")
    return value


def side(text: str) -> Side:
    """Bybit "Buy"/"Sell" as "buy"/"sell"."""
    try:
        return _SIDES[text]
    except KeyError:
        raise ParseError(f"bad side {text!r}") from None


def step_decimals(step: str) -> int:
    """Decimals the venue writes in a step string: "0.10" -> 2, "0.010" -> 3, "1" -> 0.

    Bybit's price and size strings use exactly these decimals (or fewer, for spot, which
    trims trailing zeros), so a book built at them parses every level exactly.
    """
    whole, _, frac = step.strip().partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ParseError(f"bad step {step!r}")
    return len(frac)


def merge_ticker(base: schemas.TickerData, delta: schemas.TickerData) -> schemas.TickerData:
    """BASE with every field DELTA carries (a linear delta sends only what changed)."""
    changed = {f: v for f in _TICKER_FIELDS if (v := getattr(delta, f)) is not None}
    return replace(base, **changed) if changed else base


def ticker_floats(
    market: str, data: schemas.TickerFloats, ts_event: int | None, ts_recv: int
) -> Ticker:
    """A `tickers` snapshot (numbers already floats) as a `Ticker`: what `parse_ticker` gives."""
    if not _ticker_ok(
        data.bid1Price,
        data.bid1Size,
        data.ask1Price,
        data.ask1Size,
        data.lastPrice,
        data.volume24h,
    ):
        raise _bad_ticker(data.symbol)
    return Ticker(
        venue=VENUE,
        market=market,
        symbol=data.symbol,
        bid=data.bid1Price,
        bid_size=data.bid1Size,
        ask=data.ask1Price,
        ask_size=data.ask1Size,
        last=data.lastPrice,
        volume_24h=data.volume24h,
        ts_event=ts_event,
        last_update=ts_recv,
        source="ws",
    )


def merge_ticker_floats(
    base: Ticker, delta: schemas.TickerFloats, ts_event: int | None, ts_recv: int
) -> Ticker:
    """BASE (the merged ticker so far) with every field DELTA carries, as a new `Ticker`.

    The same as `parse_ticker(market, merge_ticker(base's record, delta), ...)`, with only the
    changed numbers parsed.
    """
    bid, bid_size, ask, ask_size = delta.bid1Price, delta.bid1Size, delta.ask1Price, delta.ask1Size
    last, volume = delta.lastPrice, delta.volume24h
    if not _ticker_ok(bid, bid_size, ask, ask_size, last, volume):
        raise _bad_ticker(base.symbol)
    return Ticker(
        venue=VENUE,
        market=base.market,
        symbol=base.symbol,
        bid=base.bid if bid is None else bid,
        bid_size=base.bid_size if bid_size is None else bid_size,
        ask=base.ask if ask is None else ask,
        ask_size=base.ask_size if ask_size is None else ask_size,
        last=base.last if last is None else last,
        volume_24h=base.volume_24h if volume is None else volume,
        ts_event=ts_event,
        last_update=ts_recv,
        source="ws",
    )


def ticker_data(ticker: Ticker) -> schemas.TickerData:
    """A merged linear `Ticker` back as its record: `num` reads each text as the same float."""
    return schemas.TickerData(
        symbol=ticker.symbol,
        bid1Price=_text(ticker.bid),
        bid1Size=_text(ticker.bid_size),
        ask1Price=_text(ticker.ask),
        ask1Size=_text(ticker.ask_size),
        lastPrice=_text(ticker.last),
        volume24h=_text(ticker.volume_24h),
    )


def _text(value: float | None) -> str | None:
    return None if value is None else repr(value)


def parse_ticker(
    market: str,
    data: schemas.TickerData,
    ts_event: int | None,
    ts_recv: int,
    source: Source = "ws",
) -> Ticker:
    """A merged `tickers` record (linear) or a REST ticker as a `Ticker`."""
    bid, bid_size = num(data.bid1Price), num(data.bid1Size)
    ask, ask_size = num(data.ask1Price), num(data.ask1Size)
    last, volume = num(data.lastPrice), num(data.volume24h)
    if not _ticker_ok(bid, bid_size, ask, ask_size, last, volume):
        raise _bad_ticker(data.symbol)
    return Ticker(
        venue=VENUE,
        market=market,
        symbol=data.symbol,
        bid=bid,
        bid_size=bid_size,
        ask=ask,
        ask_size=ask_size,
        last=last,
        volume_24h=volume,
        ts_event=ts_event,
        last_update=ts_recv,
        source=source,
    )


def parse_spot_ticker(
    symbol: str,
    top: schemas.Orderbook | None,
    stats: schemas.TickerData | None,
    ts_event: int | None,
    ts_recv: int,
) -> Ticker:
    """A spot ticker: best levels from `orderbook.1`, last price and volume from `tickers`.

    Bybit's spot `tickers` carries no bid/ask at all, so the top of book comes from the
    level-1 book stream (pushed on every change, re-sent every 3 s when nothing changes).
    """
    b = top.b[0] if top is not None and top.b else None
    a = top.a[0] if top is not None and top.a else None
    bid, bid_size = (num(b[0]), num(b[1])) if b else (None, None)
    ask, ask_size = (num(a[0]), num(a[1])) if a else (None, None)
    last = num(stats.lastPrice) if stats else None
    volume = num(stats.volume24h) if stats else None
    if not _ticker_ok(bid, bid_size, ask, ask_size, last, volume):
        raise _bad_ticker(symbol)
    return Ticker(
        venue=VENUE,
        market="spot",
        symbol=symbol,
        bid=bid,
        bid_size=bid_size,
        ask=ask,
        ask_size=ask_size,
        last=last,
        volume_24h=volume,
        ts_event=ts_event,
        last_update=ts_recv,
        source="ws",
    )


def parse_trades(
    market: str, trades: tuple[schemas.TradeData, ...], ts_recv: int
) -> tuple[Trade, ...]:
    """`publicTrade` records as `Trade`s (side is the taker's)."""
    return tuple(
        Trade(
            venue=VENUE,
            market=market,
            symbol=t.s,
            price=positive(_req(t.p, "trade price"), "trade price"),
            size=nonneg(_req(t.v, "trade size"), "trade size"),
            side=side(t.S),
            trade_id=t.i,
            ts_event=t.T * NS_PER_MS,
            last_update=ts_recv,
            source="ws",
        )
        for t in trades
    )


def parse_account(
    market: str,
    accounts: tuple[schemas.WalletAccount, ...],
    ts_event: int | None,
    ts_recv: int,
    source: Source,
) -> Account:
    """A unified wallet as the `Account` of MARKET (one UTA wallet backs spot and linear).

    Per coin: total = `walletBalance`, locked = `locked` (held by open spot orders), free =
    the rest. Margin held by derivatives is not split out per coin; the account-wide
    `totalAvailableBalance` (USD) is `available`, `totalEquity` (USD) is `equity`.
    """
    balances: dict[str, Balance] = {}
    equity = available = None
    for acct in accounts:
        equity = num(acct.totalEquity) if equity is None else equity
        available = num(acct.totalAvailableBalance) if available is None else available
        for c in acct.coin:
            total = num(c.walletBalance) or 0.0  # negative: a UTA borrow (owed)
            locked = nonneg(num(c.locked) or 0.0, "locked")
            balances[c.coin] = Balance(asset=c.coin, free=total - locked, locked=locked)
    return Account(
        venue=VENUE,
        market=market,
        balances=balances,
        equity=equity,
        available=available,
        ts_event=ts_event,
        last_update=ts_recv,
        source=source,
    )


def parse_position(p: schemas.PositionData, ts_recv: int, source: Source) -> Position:
    """A position with a signed size (Sell = short); flat positions have size 0."""
    size = nonneg(_req(p.size, "position size"), "position size")
    entry = _nonzero(p.entryPrice if p.entryPrice is not None else p.avgPrice, "entry price")
    mark = opt_positive(num(p.markPrice), "mark price")
    if size and entry is None and (p.entryPrice or p.avgPrice):
        raise ParseError(f"open position of {p.symbol} with entry price 0")
    if p.side == "Sell":
        size = -size
    elif p.side not in ("Buy", ""):
        raise ParseError(f"bad position side {p.side!r}")
    return Position(
        venue=VENUE,
        market=p.category or "linear",
        symbol=p.symbol,
        size=size,
        entry_price=entry,
        mark_price=mark,
        unrealized_pnl=num(p.unrealisedPnl),
        leverage=opt_nonneg(num(p.leverage), "leverage"),
        position_side=_POSITION_SIDES.get(p.positionIdx, "both"),
        ts_event=ms_to_ns(p.updatedTime),
        last_update=ts_recv,
        source=source,
    )


def parse_order(o: schemas.OrderData, ts_recv: int, source: Source, market: str = "") -> Order:
    """An order push or REST order record as an `Order`."""
    status = ORDER_STATUS.get(o.orderStatus)
    if status is None:
        raise ParseError(f"unknown order status {o.orderStatus!r}")
    return Order(
        venue=VENUE,
        market=o.category or market,
        symbol=o.symbol,
        order_id=o.orderId,
        client_order_id=o.orderLinkId or None,
        side=side(o.side),
        type=o.orderType.lower(),
        price=_nonzero(o.price, "order price"),
        quantity=nonneg(_req(o.qty, "order qty"), "order qty"),
        filled=nonneg(num(o.cumExecQty) or 0.0, "filled qty"),
        avg_price=_nonzero(o.avgPrice, "average price"),
        status=status,
        time_in_force=o.timeInForce or None,
        ts_event=ms_to_ns(o.updatedTime),
        last_update=ts_recv,
        source=source,
    )


def parse_execution(e: schemas.Execution, ts_recv: int) -> Trade:
    """One of our fills as a `Trade` with `order_id` set."""
    return Trade(
        venue=VENUE,
        market=e.category,
        symbol=e.symbol,
        price=positive(_req(e.execPrice, "exec price"), "exec price"),
        size=nonneg(_req(e.execQty, "exec qty"), "exec qty"),
        side=side(e.side),
        trade_id=e.execId,
        order_id=e.orderId,
        ts_event=ms_to_ns(e.execTime),
        last_update=ts_recv,
        source="ws",
    )

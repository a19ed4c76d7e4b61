"""Pure Binance wire structs -> spinstream models and sequencing ids (ms times become ns).

Nothing here reads a clock or logs: every function takes the decoded message and the local
receive time `ts` (int ns) and returns values. Bad text raises `ParseError`, which the protocol
turns into `Malformed`.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

import msgspec
import numpy as np

from spinstream.errors import ParseError
from spinstream.models import (
    Account,
    Balance,
    Order,
    OrderBook,
    OrderStatus,
    Position,
    Side,
    Source,
    Ticker,
)
from spinstream.protocol.binance import schemas as s
from spinstream.protocol.booksync import Ids
from spinstream.protocol.events import TickerStats
from spinstream.protocol.times import ms_to_ns as _ms_to_ns
from spinstream.protocol.values import (
    finite,
    nonneg,
    opt_finite,
    opt_nonneg,
    opt_positive,
    positive,
)

__all__ = [
    "VENUE",
    "Instrument",
    "apply_balance_delta",
    "decimals_of",
    "depth_ids",
    "merge_ticker24",
    "ms_to_ns",
    "parse_account_position",
    "parse_account_update",
    "parse_book_ticker",
    "parse_book_ticker_floats",
    "parse_execution_report",
    "parse_instruments",
    "parse_order_trade_update",
    "parse_rest_depth",
    "parse_rest_order",
    "parse_rest_ticker",
    "parse_spot_account",
    "parse_ticker_stats",
    "parse_usdm_account",
    "parse_usdm_positions",
]

VENUE = "binance"
_NS_PER_MS = 1_000_000
_I64_MAX = 2**63 - 1
_MAX_DECIMALS = 18
_SIZE_HEADROOM = 1000  # a book level aggregates many orders: allow 1000x LOT_SIZE.maxQty

_STATUS: dict[str, OrderStatus] = {
    "NEW": "new",
    "PENDING_NEW": "new",
    "PENDING_CANCEL": "new",  # "currently unused" per Binance; still working until canceled
    "NEW_INSURANCE": "new",
    "NEW_ADL": "new",
    "PARTIALLY_FILLED": "partially_filled",
    "FILLED": "filled",
    "CANCELED": "canceled",
    "REJECTED": "rejected",
    "EXPIRED": "expired",
    "EXPIRED_IN_MATCH": "expired",
}
_SIDE: dict[str, Side] = {"BUY": "buy", "SELL": "sell"}
_POSITION_SIDE = {"BOTH": "both", "LONG": "long", "SHORT": "short"}


def ms_to_ns(ms: int | str | None) -> int | None:
    """Binance milliseconds (int, or a numeric string as in `listenKeyExpired`) to int ns."""
    return _ms_to_ns(ms, empty_ok=False)


def _f(text: str) -> float:
    """Decimal text to a float (views only); ParseError on garbage."""
    try:
        return float(text)
    except (TypeError, ValueError) as exc:
        raise ParseError(f"not a number: {text!r}") from exc


def _opt(text: str | None) -> float | None:
    return None if text is None or text == "" else _f(text)


# What can be true per field (anything else raises ParseError: the frame is Malformed, a REST
# answer an error). Prices (bid, ask, last, order, entry, mark) are finite and > 0, except that
# an order's or a flat position's "0" means "no price" (None). Sizes, volumes, order quantities
# and spot balances (free, locked) are finite and >= 0: a spot wallet is never owed. A USD-M
# wallet balance, margin balance and available balance are only finite: in Multi-Assets mode an
# asset's wallet balance goes negative, and available balance does when margin exceeds it.
# Unrealized PnL and a USD-M position amount (negative = short, in one-way and hedge mode) are
# only finite.


def _px(text: str, what: str) -> float:
    return positive(_f(text), what)


def _qty(text: str, what: str) -> float:
    return nonneg(_f(text), what)


def _price(text: str | None, what: str = "price") -> float | None:
    """An order price; Binance sends 0 for market orders, which means "no price"."""
    v = _opt(text)
    return None if v is None or v == 0.0 else positive(v, what)


def _status(text: str) -> OrderStatus:
    try:
        return _STATUS[text]
    except KeyError:
        raise ParseError(f"unknown order status {text!r}") from None


def _side(text: str) -> Side:
    try:
        return _SIDE[text]
    except KeyError:
        raise ParseError(f"unknown order side {text!r}") from None


def decimals_of(text: str | None) -> int:
    """Significant decimals of a step such as "0.00010000" (4) or "1.00000000" (0)."""
    if not text or "." not in text:
        return 0
    return len(text.split(".", 1)[1].rstrip("0"))


# --- instruments ----------------------------------------------------------------------------


class Instrument(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What a book needs to know about a symbol: its exact decimals, and the venue's steps.

    `price_decimals`/`size_decimals` accept every string Binance sends for the symbol: the
    larger of the tick/step decimals and the precision Binance formats numbers with (8 on
    spot), unless that would overflow int64 at the symbol's maximum price or quantity, in
    which case the tick/step decimals (exact for every valid price and quantity) are used.
    """

    symbol: str
    price_decimals: int
    size_decimals: int
    tick_size: str | None = None
    step_size: str | None = None


def _fits(max_text: str | None, decimals: int, headroom: int) -> bool:
    if not max_text:
        return True
    try:
        top = Decimal(max_text)
    except InvalidOperation:
        return True
    scale: int = 10**decimals  # decimals >= 0: an int (typeshed says Any)
    return top * headroom * scale <= _I64_MAX


def _pick(step_decimals: int, wire: int | None, max_text: str | None, headroom: int) -> int:
    wide = min(max(step_decimals, wire or 0), _MAX_DECIMALS)
    return wide if _fits(max_text, wide, headroom) else step_decimals


def parse_instruments(market: str, info: s.ExchangeInfo) -> dict[str, Instrument]:
    """exchangeInfo symbols -> Instrument by symbol (PRICE_FILTER.tickSize, LOT_SIZE.stepSize)."""
    out: dict[str, Instrument] = {}
    for sym in info.symbols:
        pf = next((f for f in sym.filters if f.filterType == "PRICE_FILTER"), None)
        lot = next((f for f in sym.filters if f.filterType == "LOT_SIZE"), None)
        tick = pf.tickSize if pf else None
        step = lot.stepSize if lot else None
        if market == "spot":
            wire_p, wire_s = sym.quoteAssetPrecision, sym.baseAssetPrecision
        else:
            wire_p, wire_s = sym.pricePrecision, sym.quantityPrecision
        out[sym.symbol] = Instrument(
            symbol=sym.symbol,
            price_decimals=_pick(decimals_of(tick), wire_p, pf.maxPrice if pf else None, 1),
            size_decimals=_pick(
                decimals_of(step), wire_s, lot.maxQty if lot else None, _SIZE_HEADROOM
            ),
            tick_size=tick,
            step_size=step,
        )
    return out


# --- public streams -------------------------------------------------------------------------


def depth_ids(msg: s.DepthMsg) -> Ids:
    """The sequencing ids of a diff-depth event: (U, u) and USD-M's back-link `pu`."""
    return Ids(seq=msg.last_id, first=msg.first_id, prev=msg.prev_id)


def parse_book_ticker(market: str, msg: s.BookTickerMsg, ts: int) -> Ticker:
    """`@bookTicker` -> Ticker (bid/ask only; spot bookTicker carries no event time)."""
    return Ticker(
        venue=VENUE,
        market=market,
        symbol=msg.symbol,
        bid=_px(msg.bid_px, "bid"),
        bid_size=_qty(msg.bid_qty, "bid size"),
        ask=_px(msg.ask_px, "ask"),
        ask_size=_qty(msg.ask_qty, "ask size"),
        ts_event=ms_to_ns(msg.event_time),
        last_update=ts,
        source="ws",
    )


def parse_book_ticker_floats(
    market: str, msg: s.BookTickerFloats, prev: Ticker | None, ts: int
) -> Ticker:
    """`@bookTicker` (numbers already floats) -> Ticker, keeping PREV's last price and volume.

    The Ticker `parse_book_ticker` gives, with the protocol's merge of the last 24 h ticker
    (PREV, when it has a last price) done in the same construction. The decoder checked the
    numbers' bounds (`values.Price` / `Size`).
    """
    last = volume = None
    if prev is not None and prev.last is not None:
        last, volume = prev.last, prev.volume_24h
    e = msg.event_time
    return Ticker(
        venue=VENUE,
        market=market,
        symbol=msg.symbol,
        bid=msg.bid_px,
        bid_size=msg.bid_qty,
        ask=msg.ask_px,
        ask_size=msg.ask_qty,
        last=last,
        volume_24h=volume,
        ts_event=None if e is None else e * _NS_PER_MS,
        last_update=ts,
        source="ws",
    )


def merge_ticker24(market: str, msg: s.Ticker24Msg, book: Ticker | None, ts: int) -> Ticker:
    """`@ticker` (last, 24 h volume) merged onto the latest bookTicker, whose levels are newer.

    Without a bookTicker yet, the 24 h ticker's own best levels are used.
    """
    last, volume = _px(msg.last_px, "last price"), _qty(msg.volume, "volume")
    if book is not None:
        return msgspec.structs.replace(
            book, last=last, volume_24h=volume, ts_event=ms_to_ns(msg.event_time), last_update=ts
        )
    return Ticker(
        venue=VENUE,
        market=market,
        symbol=msg.symbol,
        bid=opt_positive(_opt(msg.bid_px), "bid"),
        bid_size=opt_nonneg(_opt(msg.bid_qty), "bid size"),
        ask=opt_positive(_opt(msg.ask_px), "ask"),
        ask_size=opt_nonneg(_opt(msg.ask_qty), "ask size"),
        last=last,
        volume_24h=volume,
        ts_event=ms_to_ns(msg.event_time),
        last_update=ts,
        source="ws",
    )


def parse_ticker_stats(market: str, msg: s.Ticker24Msg, ts: int) -> TickerStats:
    """USD-M `<sym>@ticker` (`/market`, no bid/ask): last price and 24 h base volume."""
    return TickerStats(
        venue=VENUE,
        market=market,
        symbol=msg.symbol,
        last=_px(msg.last_px, "last price"),
        volume_24h=_qty(msg.volume, "volume"),
        ts_event=ms_to_ns(msg.event_time),
        ts_recv=ts,
    )


# --- spot user data -------------------------------------------------------------------------


def parse_execution_report(msg: s.ExecutionReport, ts: int) -> Order:
    """Spot `executionReport` -> Order; a cancel reports the order's own id in `C`."""
    filled = _qty(msg.filled, "filled")
    quote = opt_nonneg(_opt(msg.quote_filled), "quote filled")
    cid = msg.orig_client_order_id or msg.client_order_id
    return Order(
        venue=VENUE,
        market="spot",
        symbol=msg.symbol,
        order_id=str(msg.order_id),
        client_order_id=cid or None,
        side=_side(msg.side),
        type=msg.order_type.lower(),
        price=_price(msg.price),
        quantity=_qty(msg.quantity, "quantity"),
        filled=filled,
        avg_price=quote / filled if quote is not None and filled > 0 else None,
        status=_status(msg.status),
        time_in_force=msg.time_in_force,
        ts_event=ms_to_ns(msg.event_time),
        last_update=ts,
        source="ws",
    )


def parse_account_position(msg: s.AccountPosition, ts: int) -> Account:
    """`outboundAccountPosition` -> Account holding the changed assets (absolute values)."""
    return Account(
        venue=VENUE,
        market="spot",
        balances={
            b.asset: Balance(
                asset=b.asset, free=_qty(b.free, "free balance"), locked=_qty(b.locked, "locked")
            )
            for b in msg.balances
        },
        ts_event=ms_to_ns(msg.event_time),
        last_update=ts,
        source="ws",
    )


def apply_balance_delta(msg: s.BalanceDelta, prev: Balance | None, ts: int) -> Account:
    """`balanceUpdate` (a delta to free) applied to the asset's last known balance."""
    free = nonneg(  # the delta may be negative (a withdrawal); the balance it leaves may not
        (prev.free if prev else 0.0) + finite(_f(msg.delta), "balance delta"), "free balance"
    )
    locked = prev.locked if prev else 0.0
    return Account(
        venue=VENUE,
        market="spot",
        balances={msg.asset: Balance(asset=msg.asset, free=free, locked=locked)},
        ts_event=ms_to_ns(msg.event_time),
        last_update=ts,
        source="ws",
    )


# --- USD-M user data ------------------------------------------------------------------------


def parse_order_trade_update(msg: s.OrderTradeUpdate, ts: int) -> Order:
    """USD-M `ORDER_TRADE_UPDATE` -> Order."""
    o = msg.order
    return Order(
        venue=VENUE,
        market="usdm",
        symbol=o.symbol,
        order_id=str(o.order_id),
        client_order_id=o.client_order_id or None,
        side=_side(o.side),
        type=o.order_type.lower(),
        price=_price(o.price),
        quantity=_qty(o.quantity, "quantity"),
        filled=_qty(o.filled, "filled"),
        avg_price=_price(o.avg_price, "average price"),
        status=_status(o.status),
        time_in_force=o.time_in_force,
        ts_event=ms_to_ns(msg.event_time),
        last_update=ts,
        source="ws",
    )


def _usdm_position(
    symbol: str,
    amount: str,
    side: str,
    entry: str | None,
    upnl: str | None,
    ts_event: int | None,
    ts: int,
    source: Source,
    mark: str | None = None,
    leverage: str | None = None,
) -> Position:
    size = finite(_f(amount), "position amount")
    entry_price = _price(entry, "entry price")
    if size != 0.0 and entry is not None and entry_price is None:
        raise ParseError(f"open position of {symbol} with entry price {entry!r}")
    return Position(
        venue=VENUE,
        market="usdm",
        symbol=symbol,
        size=size,
        entry_price=entry_price,
        mark_price=_price(mark, "mark price"),
        unrealized_pnl=opt_finite(_opt(upnl), "unrealized PnL"),
        leverage=opt_positive(_opt(leverage), "leverage"),
        position_side=_POSITION_SIDE.get(side, side.lower()),
        ts_event=ts_event,
        last_update=ts,
        source=source,
    )


def parse_account_update(msg: s.AccountUpdateMsg, ts: int) -> tuple[Account, tuple[Position, ...]]:
    """USD-M `ACCOUNT_UPDATE` -> changed balances (wallet balance as free) and positions.

    A position with size 0 is closed. The push has no available balance, so futures balances
    are wallet balances throughout (REST seeds too); `Account.available` comes from REST.
    """
    ts_event = ms_to_ns(msg.event_time)
    account = Account(
        venue=VENUE,
        market="usdm",
        balances={
            b.asset: Balance(asset=b.asset, free=finite(_f(b.wallet), "wallet balance"), locked=0.0)
            for b in msg.data.balances
        },
        ts_event=ts_event,
        last_update=ts,
        source="ws",
    )
    positions = tuple(
        _usdm_position(
            p.symbol, p.amount, p.position_side, p.entry_price, p.unrealized_pnl, ts_event, ts, "ws"
        )
        for p in msg.data.positions
    )
    return account, positions


# --- REST answers ---------------------------------------------------------------------------


def parse_rest_ticker(
    market: str, symbol: str, msg: s.RestTicker24 | s.RestBookTicker, ts: int
) -> Ticker:
    """Spot `ticker/24hr` or USD-M `ticker/bookTicker` -> Ticker (source "rest")."""
    if isinstance(msg, s.RestTicker24):
        bid, bid_size = _rest_level(msg.bidPrice, msg.bidQty, "bid")
        ask, ask_size = _rest_level(msg.askPrice, msg.askQty, "ask")
        return Ticker(
            venue=VENUE,
            market=market,
            symbol=msg.symbol or symbol,
            bid=bid,
            bid_size=bid_size,
            ask=ask,
            ask_size=ask_size,
            last=opt_positive(_opt(msg.lastPrice), "last price"),
            volume_24h=opt_nonneg(_opt(msg.volume), "volume"),
            ts_event=ms_to_ns(msg.closeTime),
            last_update=ts,
            source="rest",
        )
    return Ticker(
        venue=VENUE,
        market=market,
        symbol=msg.symbol or symbol,
        bid=_px(msg.bidPrice, "bid"),
        bid_size=_qty(msg.bidQty, "bid size"),
        ask=_px(msg.askPrice, "ask"),
        ask_size=_qty(msg.askQty, "ask size"),
        ts_event=ms_to_ns(msg.time),
        last_update=ts,
        source="rest",
    )


def _rest_level(px: str | None, qty: str | None, what: str) -> tuple[float | None, float | None]:
    """A spot `ticker/24hr` best level: price finite > 0, size finite >= 0.

    A side with price and size both 0 is an empty side (Binance answers so for a symbol with
    no order on it, e.g. while trading is halted): no level, not an impossible one.
    """
    price, size = _opt(px), opt_nonneg(_opt(qty), f"{what} size")
    if price == 0.0 and not size:
        return None, None
    return opt_positive(price, what), size


def _levels(levels: list[list[str]], depth: int) -> np.ndarray:
    rows = []
    for lv in levels[:depth]:
        if len(lv) < 2:
            raise ParseError(f"book level {lv!r} has fewer than two items")
        rows.append((_px(lv[0], "level price"), _qty(lv[1], "level size")))
    return np.array(rows, dtype=np.float64).reshape(len(rows), 2)


def parse_rest_depth(market: str, symbol: str, msg: s.RestDepth, ts: int, depth: int) -> OrderBook:
    """A REST depth snapshot -> OrderBook view of its top DEPTH levels."""
    return OrderBook(
        venue=VENUE,
        market=market,
        symbol=symbol,
        bids=_levels(msg.bids, depth),
        asks=_levels(msg.asks, depth),
        seq=msg.lastUpdateId,
        ts_event=ms_to_ns(msg.E),
        last_update=ts,
        source="rest",
    )


def parse_spot_account(msg: s.SpotAccount, ts: int) -> Account:
    """`/api/v3/account` -> Account (assets with a zero total are left out)."""
    balances = {}
    for b in msg.balances:
        free, locked = _qty(b.free, "free balance"), _qty(b.locked, "locked")
        if free or locked:
            balances[b.asset] = Balance(asset=b.asset, free=free, locked=locked)
    return Account(
        venue=VENUE,
        market="spot",
        balances=balances,
        ts_event=ms_to_ns(msg.updateTime),
        last_update=ts,
        source="rest",
    )


def parse_usdm_account(msg: s.UsdmAccount, ts: int) -> Account:
    """`/fapi/v3/account` -> Account: wallet balances, margin balance as equity, available."""
    stamps = [a.updateTime for a in msg.assets if a.updateTime]
    return Account(
        venue=VENUE,
        market="usdm",
        balances={
            a.asset: Balance(
                asset=a.asset, free=finite(_f(a.walletBalance), "wallet balance"), locked=0.0
            )
            for a in msg.assets
        },
        equity=opt_finite(_opt(msg.totalMarginBalance), "margin balance"),
        available=opt_finite(_opt(msg.availableBalance), "available balance"),
        ts_event=ms_to_ns(max(stamps)) if stamps else None,
        last_update=ts,
        source="rest",
    )


def parse_usdm_positions(msgs: Iterable[s.UsdmPositionRisk], ts: int) -> tuple[Position, ...]:
    """`/fapi/v3/positionRisk` -> open positions (entries with amount 0 are left out)."""
    out = []
    for p in msgs:
        if _f(p.positionAmt) == 0.0:
            continue
        out.append(
            _usdm_position(
                p.symbol,
                p.positionAmt,
                p.positionSide,
                p.entryPrice,
                p.unRealizedProfit,
                ms_to_ns(p.updateTime),
                ts,
                "rest",
                mark=p.markPrice,
                leverage=p.leverage,
            )
        )
    return tuple(out)


def parse_rest_order(market: str, msg: s.RestOrder, ts: int, source: Source = "rest") -> Order:
    """An order object from openOrders / place / cancel, spot or USD-M -> Order."""
    filled = _qty(msg.executedQty, "executed quantity")
    if msg.avgPrice is not None:
        avg = _price(msg.avgPrice, "average price")
    elif msg.cummulativeQuoteQty is not None and filled > 0:
        avg = _qty(msg.cummulativeQuoteQty, "quote quantity") / filled
    else:
        avg = None
    stamp = msg.updateTime or msg.transactTime or msg.time
    return Order(
        venue=VENUE,
        market=market,
        symbol=msg.symbol,
        order_id=str(msg.orderId),
        client_order_id=msg.origClientOrderId or msg.clientOrderId or None,
        side=_side(msg.side),
        type=msg.type.lower(),
        price=_price(msg.price),
        quantity=_qty(msg.origQty, "quantity"),
        filled=filled,
        avg_price=avg,
        status=_status(msg.status),
        time_in_force=msg.timeInForce,
        ts_event=ms_to_ns(stamp),
        last_update=ts,
        source=source,
    )

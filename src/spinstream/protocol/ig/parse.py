"""Pure conversions from IG wire data to spinstream models and IG's own events (no state, no clock).

IG sends prices as decimal text on the stream and as JSON numbers over REST. Stream prices
become exact int ticks at a number of decimals the event names (`decimals`), because the cache
feeds them to int64 core structures (tick rings, bar arrays); float views are properties. REST
numbers only ever become float models.

IG has no netting of deals by default: each position is a deal (`dealId`) and one epic may hold
several, long and short at once. A `Position` here is the aggregate of one epic's deals in one
direction (`position_side` "long" or "short", size signed, entry the size-weighted level), so
the cache's (symbol, side) key holds exactly one of them; `PositionDeal` keeps the deals.

Times: IG's UTC date texts ("2024-01-02T10:00:00[.000]") and epoch-ms fields become int ns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Literal

import msgspec

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
    TradeConfirm,
)
from spinstream.protocol.events import Event
from spinstream.protocol.times import ms_to_ns
from spinstream.protocol.values import INF, nonneg, opt_nonneg, positive

from . import schemas

__all__ = [
    "ACCOUNT_FIELDS",
    "CANDLE_FIELDS",
    "CHART_SCALES",
    "MARKET",
    "VENUE",
    "CandleUpdate",
    "ChannelStale",
    "ConfirmUpdate",
    "IgEvent",
    "MarketInfo",
    "PRICE_FIELDS",
    "PositionDeal",
    "PriceBar",
    "PriceHistory",
    "TICK_FIELDS",
    "TickUpdate",
    "account_from_rest",
    "account_from_stream",
    "aggregate_positions",
    "candle_from_chart",
    "confirm",
    "deal_from_opu",
    "deal_from_rest",
    "iso_to_ns",
    "market_info",
    "ms_to_ns",
    "num",
    "order_from_rest",
    "order_from_wou",
    "price_bar",
    "side",
    "text_decimals",
    "tick_from_chart",
    "tick_from_price",
    "ticker_from_market",
    "ticker_from_price",
    "to_ticks",
]

VENUE = "ig"
MARKET = "otc"  # IG's one market: OTC deals (CFD or spread bet, by account)
_S = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# CHART:{epic}:{scale} candle scales IG streams, and their length in ns
CHART_SCALES: dict[str, int] = {
    "SECOND": _S,
    "1MINUTE": 60 * _S,
    "5MINUTE": 300 * _S,
    "HOUR": 3600 * _S,
}

_SIDES: dict[str, Side] = {"BUY": "buy", "SELL": "sell"}
_TIF = {"GOOD_TILL_CANCELLED": "gtc", "GOOD_TILL_DATE": "gtd"}


# -- IG's own events and records ---------------------------------------------------------------


class TickUpdate(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One L1 tick of an epic: from PRICE (`channel` "market") or CHART:TICK ("ticks").

    Prices are exact int ticks at `decimals` (value = ticks / 10**decimals); the float views are
    the `bid`, `ask` and `ltp` properties. `decimals` only grows for an epic (IG trims trailing
    zeros, so a wider price may arrive later); a consumer keeping int arrays rescales then.
    """

    venue: str
    market: str
    epic: str
    channel: Literal["market", "ticks"]
    bid_ticks: int | None
    ask_ticks: int | None
    ltp_ticks: int | None = None
    decimals: int
    bid_size: float | None = None
    ask_size: float | None = None
    ltv: float | None = None  # last traded volume
    ts_event: int | None = None
    ts_recv: int

    @property
    def bid(self) -> float | None:
        return None if self.bid_ticks is None else self.bid_ticks / 10**self.decimals

    @property
    def ask(self) -> float | None:
        return None if self.ask_ticks is None else self.ask_ticks / 10**self.decimals

    @property
    def ltp(self) -> float | None:
        return None if self.ltp_ticks is None else self.ltp_ticks / 10**self.decimals


OHLC = tuple[int, int, int, int]


def _ohlc_floats(t: OHLC | None, decimals: int) -> tuple[float, float, float, float] | None:
    if t is None:
        return None
    d = 10**decimals
    return (t[0] / d, t[1] / d, t[2] / d, t[3] / d)


class CandleUpdate(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One update of the bar IG builds for CHART:{epic}:{scale}; `closed` when CONS_END is 1.

    `start` is the bar's start (UTM floored to the scale, int ns). OHLC sides are exact int
    ticks at `decimals`; `bid`, `ask`, `ltp` are the float views (None when IG sends none,
    e.g. no last-traded prices on OTC FX).
    """

    venue: str
    market: str
    epic: str
    scale: str
    start: int | None
    bid_ticks: OHLC | None
    ask_ticks: OHLC | None
    ltp_ticks: OHLC | None = None
    decimals: int
    ltv: float | None = None
    ttv: float | None = None
    tick_count: int | None = None
    closed: bool = False
    ts_event: int | None = None
    ts_recv: int

    @property
    def bid(self) -> tuple[float, float, float, float] | None:
        return _ohlc_floats(self.bid_ticks, self.decimals)

    @property
    def ask(self) -> tuple[float, float, float, float] | None:
        return _ohlc_floats(self.ask_ticks, self.decimals)

    @property
    def ltp(self) -> tuple[float, float, float, float] | None:
        return _ohlc_floats(self.ltp_ticks, self.decimals)


class ConfirmUpdate(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A deal confirmation arrived on the TRADE stream (CONFIRMS)."""

    confirm: TradeConfirm


class ChannelStale(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An epic's IG-only channel stopped (disconnect, refused subscription): its ticks or bars
    are no longer current. `channel` is "market" (PRICE ticks), "ticks" or "candles:<SCALE>";
    the channel's next `TickUpdate` / `CandleUpdate` means it is live again."""

    venue: str
    market: str
    channel: str
    epic: str
    reason: str
    ts_recv: int


IgEvent = Event | TickUpdate | CandleUpdate | ConfirmUpdate | ChannelStale


class PositionDeal(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One open IG position (deal), what closing a single deal needs."""

    deal_id: str
    epic: str
    direction: str  # "BUY" / "SELL"
    size: float
    level: float | None = None
    currency: str | None = None
    expiry: str | None = None
    deal_reference: str | None = None
    stop_level: float | None = None
    limit_level: float | None = None
    bid: float | None = None  # the market's at the time of a REST answer (marks the deal)
    offer: float | None = None
    ts_event: int | None = None


class MarketInfo(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An epic's market details (`GET /markets/{epic}`): what dealing and exact prices need."""

    venue: str
    epic: str
    name: str | None = None
    instrument_type: str | None = None
    expiry: str | None = None
    currencies: tuple[str, ...] = ()
    default_currency: str | None = None
    lot_size: float | None = None
    min_deal_size: float | None = None
    market_status: str | None = None
    bid: float | None = None
    offer: float | None = None
    high: float | None = None
    low: float | None = None
    decimals: int | None = None  # decimalPlacesFactor: decimals of the price
    scaling_factor: float | None = None
    streaming_prices: bool | None = None
    delay_min: float | None = None
    last_update: int
    source: Source = "rest"


class PriceBar(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One historical bar (`GET /prices/{epic}`); OHLC per side, None where IG sends none."""

    ts_event: int | None
    bid: tuple[float, float, float, float] | None
    ask: tuple[float, float, float, float] | None
    ltp: tuple[float, float, float, float] | None = None
    volume: float | None = None


class PriceHistory(msgspec.Struct, frozen=True, kw_only=True):
    """A page of historical bars and what is left of the weekly price-point allowance."""

    venue: str
    epic: str
    bars: tuple[PriceBar, ...]
    remaining_allowance: int | None = None
    total_allowance: int | None = None
    allowance_expiry_s: int | None = None
    page_number: int | None = None
    total_pages: int | None = None
    last_update: int
    source: Source = "rest"


# -- scalars -----------------------------------------------------------------------------------


# What can be true per field (anything else raises ParseError: the update is Malformed, a REST
# answer an error). Every number is finite (`num`: "NaN", "Infinity", 1e999 are refused).
# Prices and levels (bid, offer, deal and order levels) are only finite: IG quotes markets
# whose price can go below zero (spreads, CFDs on futures such as WTI in April 2020), and an
# epic's prices are exact ticks that keep their sign. Sizes (bid/ask size, deal and order
# size, traded volume) are >= 0, and an open deal's size is > 0 (its direction gives the
# sign). Account values are only finite: PNL is a loss when negative, and EQUITY, FUNDS and
# AVAILABLE_TO_DEAL go negative when losses exceed the funds of a margin account (IG then
# makes a margin call); only DEPOSIT (margin held) cannot, and it is not read.


def num(value: float | int | str | None) -> float | None:
    """An IG number (JSON number or decimal text; "" / "-" / None absent) as a finite float."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParseError(f"bad number {value!r}")
    if isinstance(value, (int, float)):
        out = float(value)
    else:
        text = value.strip()
        if text in ("", "-"):
            return None
        try:
            out = float(text)
        except ValueError as exc:
            raise ParseError(f"bad number {value!r}") from exc
    if -INF < out < INF:
        return out
    raise ParseError(f"not a finite number: {value!r}")


def _req(value: float | int | str | None, what: str) -> float:
    out = num(value)
    if out is None:
        raise ParseError(f"missing {what}")
    return out


def iso_to_ns(text: str | None) -> int | None:
    """An IG UTC date text ("2024-01-02T10:00:00", optional fraction or "Z") as int ns.

    Texts in another shape (IG's local "2024/01/02 10:00:00:000") are absent (None).
    """
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.strip().removesuffix("Z"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    d = dt - _EPOCH
    return (d.days * 86_400 + d.seconds) * _S + d.microseconds * 1_000


def side(direction: str | None) -> Side:
    """IG "BUY"/"SELL" as "buy"/"sell"."""
    try:
        return _SIDES[direction or ""]
    except KeyError:
        raise ParseError(f"bad direction {direction!r}") from None


def text_decimals(text: str) -> int:
    """Decimals a price text is written with: "1.0845" -> 4, "7480" -> 0."""
    _, dot, frac = text.partition(".")
    return len(frac) if dot else 0


def to_ticks(text: str, decimals: int) -> int:
    """A price text as exact int ticks at DECIMALS ("1.0845", 5 -> 108450).

    Raises:
        ParseError: not a plain decimal, or it needs more decimals than DECIMALS.
    """
    t = text.strip()
    neg = t.startswith("-")
    if neg or t.startswith("+"):
        t = t[1:]
    whole, dot, frac = t.partition(".")
    if not (whole or frac) or (whole and not whole.isdigit()) or (frac and not frac.isdigit()):
        raise ParseError(f"bad price {text!r}")
    if dot and not frac and not whole:
        raise ParseError(f"bad price {text!r}")
    if len(frac) > decimals:
        if frac[decimals:].strip("0"):
            raise ParseError(f"price {text!r} has more than {decimals} decimals")
        frac = frac[:decimals]
    value = int((whole or "0") + frac.ljust(decimals, "0"))
    return -value if neg else value


def _price_text(fields: Mapping[str, str | None], name: str) -> str | None:
    v = fields.get(name)
    return v if v else None  # None (null) and "" (empty) are no price


def _decimals_of(texts: Iterable[str | None], at_least: int) -> int:
    d = at_least
    for t in texts:
        if t is not None:
            d = max(d, text_decimals(t))
    return d


def _ticks(text: str | None, decimals: int) -> int | None:
    return None if text is None else to_ticks(text, decimals)


# -- stream: prices, ticks, candles ------------------------------------------------------------

PRICE_FIELDS = ("BIDPRICE1", "ASKPRICE1", "BIDSIZE1", "ASKSIZE1", "TIMESTAMP")
TICK_FIELDS = ("BID", "OFR", "LTP", "LTV", "UTM")
_SIDE_FIELDS = ("OPEN", "HIGH", "LOW", "CLOSE")
CANDLE_FIELDS = (
    ("UTM", "LTV", "TTV", "CONS_END", "CONS_TICK_COUNT")
    + tuple(f"BID_{f}" for f in _SIDE_FIELDS)
    + tuple(f"OFR_{f}" for f in _SIDE_FIELDS)
    + tuple(f"LTP_{f}" for f in _SIDE_FIELDS)
)


def ticker_from_price(
    market: str, epic: str, fields: Mapping[str, str | None], ts_recv: int
) -> Ticker:
    """A PRICE:{account}:{epic} item's merged values as a `Ticker` (best bid/ask level 1)."""
    return Ticker(
        venue=VENUE,
        market=market,
        symbol=epic,
        bid=num(fields.get("BIDPRICE1")),
        bid_size=opt_nonneg(num(fields.get("BIDSIZE1")), "bid size"),
        ask=num(fields.get("ASKPRICE1")),
        ask_size=opt_nonneg(num(fields.get("ASKSIZE1")), "ask size"),
        ts_event=ms_to_ns(fields.get("TIMESTAMP")),
        last_update=ts_recv,
        source="ws",
    )


def tick_from_price(
    market: str, epic: str, fields: Mapping[str, str | None], decimals: int, ts_recv: int
) -> TickUpdate:
    """A PRICE item's L1 values as a tick, at least DECIMALS wide (more if a text needs it)."""
    bid, ask = _price_text(fields, "BIDPRICE1"), _price_text(fields, "ASKPRICE1")
    d = _decimals_of((bid, ask), decimals)
    return TickUpdate(
        venue=VENUE,
        market=market,
        epic=epic,
        channel="market",
        bid_ticks=_ticks(bid, d),
        ask_ticks=_ticks(ask, d),
        decimals=d,
        bid_size=opt_nonneg(num(fields.get("BIDSIZE1")), "bid size"),
        ask_size=opt_nonneg(num(fields.get("ASKSIZE1")), "ask size"),
        ts_event=ms_to_ns(fields.get("TIMESTAMP")),
        ts_recv=ts_recv,
    )


def tick_from_chart(
    market: str, epic: str, fields: Mapping[str, str | None], decimals: int, ts_recv: int
) -> TickUpdate:
    """A CHART:{epic}:TICK event (BID, OFR, LTP, LTV, UTM) as a tick."""
    bid, ask, ltp = (_price_text(fields, f) for f in ("BID", "OFR", "LTP"))
    d = _decimals_of((bid, ask, ltp), decimals)
    return TickUpdate(
        venue=VENUE,
        market=market,
        epic=epic,
        channel="ticks",
        bid_ticks=_ticks(bid, d),
        ask_ticks=_ticks(ask, d),
        ltp_ticks=_ticks(ltp, d),
        decimals=d,
        ltv=opt_nonneg(num(fields.get("LTV")), "traded volume"),
        ts_event=ms_to_ns(fields.get("UTM")),
        ts_recv=ts_recv,
    )


def _side_ohlc(fields: Mapping[str, str | None], prefix: str) -> tuple[str, ...] | None:
    texts = tuple(_price_text(fields, f"{prefix}_{f}") for f in _SIDE_FIELDS)
    if any(t is None for t in texts):
        return None
    return texts  # type: ignore[return-value]


def candle_from_chart(
    market: str,
    epic: str,
    scale: str,
    fields: Mapping[str, str | None],
    decimals: int,
    ts_recv: int,
) -> CandleUpdate:
    """A CHART:{epic}:{scale} item's merged values as the current bar (closed on CONS_END=1)."""
    sides = {p: _side_ohlc(fields, p) for p in ("BID", "OFR", "LTP")}
    d = _decimals_of((t for s in sides.values() if s for t in s), decimals)

    def ohlc(p: str) -> OHLC | None:
        s = sides[p]
        if s is None:
            return None
        return (to_ticks(s[0], d), to_ticks(s[1], d), to_ticks(s[2], d), to_ticks(s[3], d))

    utm = ms_to_ns(fields.get("UTM"))
    length = CHART_SCALES.get(scale)
    start = utm - utm % length if utm is not None and length else utm
    count = num(fields.get("CONS_TICK_COUNT"))
    return CandleUpdate(
        venue=VENUE,
        market=market,
        epic=epic,
        scale=scale,
        start=start,
        bid_ticks=ohlc("BID"),
        ask_ticks=ohlc("OFR"),
        ltp_ticks=ohlc("LTP"),
        decimals=d,
        ltv=opt_nonneg(num(fields.get("LTV")), "traded volume"),
        ttv=num(fields.get("TTV")),
        tick_count=None if count is None else int(count),
        closed=(fields.get("CONS_END") or "").strip() == "1",
        ts_event=utm,
        ts_recv=ts_recv,
    )


# -- accounts ----------------------------------------------------------------------------------

ACCOUNT_FIELDS = ("PNL", "DEPOSIT", "AVAILABLE_CASH", "AVAILABLE_TO_DEAL", "FUNDS", "EQUITY")


def _account(
    market: str,
    currency: str,
    equity: float | None,
    available: float | None,
    ts_recv: int,
    source: Source,
) -> Account:
    free = available if available is not None else 0.0
    locked = (equity - free) if equity is not None else 0.0
    return Account(
        venue=VENUE,
        market=market,
        balances={currency: Balance(asset=currency, free=free, locked=locked)},
        equity=equity,
        available=available,
        last_update=ts_recv,
        source=source,
    )


def account_from_rest(
    market: str, data: schemas.AccountData, ts_recv: int, source: Source = "rest"
) -> Account:
    """One `/accounts` entry: equity = balance + profit/loss; free = available to deal."""
    b = data.balance or schemas.AccountBalance()
    balance, pnl = num(b.balance), num(b.profitLoss)  # finite; both may be negative (above)
    equity = None if balance is None else balance + (pnl or 0.0)
    return _account(market, data.currency or "?", equity, num(b.available), ts_recv, source)


def account_from_stream(
    market: str, currency: str, fields: Mapping[str, str | None], ts_recv: int
) -> Account:
    """An ACCOUNT:{accountId} item's merged values (EQUITY, AVAILABLE_TO_DEAL) as an `Account`."""
    return _account(
        market,
        currency,
        num(fields.get("EQUITY")),
        num(fields.get("AVAILABLE_TO_DEAL")),
        ts_recv,
        "ws",
    )


# -- positions ---------------------------------------------------------------------------------


def deal_from_rest(entry: schemas.PositionEntry) -> PositionDeal:
    """One `/positions` v2 entry as a deal (with the market's bid/offer at the answer)."""
    p, m = entry.position, entry.market
    return PositionDeal(
        deal_id=p.dealId,
        epic=m.epic,
        direction=p.direction,
        size=positive(p.size, "deal size"),
        level=num(p.level),
        currency=p.currency,
        expiry=m.expiry,
        deal_reference=p.dealReference,
        stop_level=p.stopLevel,
        limit_level=p.limitLevel,
        bid=m.bid,
        offer=m.offer,
        ts_event=iso_to_ns(p.createdDateUTC),
    )


def deal_from_opu(opu: schemas.Opu) -> PositionDeal:
    """An OPU's deal state (for OPEN and UPDATED; DELETED only names the deal)."""
    if opu.epic is None or opu.direction is None:
        raise ParseError(f"OPU {opu.dealId}: no epic or direction")
    side(opu.direction)
    return PositionDeal(
        deal_id=opu.dealId,
        epic=opu.epic,
        direction=opu.direction,
        size=positive(_req(opu.size, "OPU size"), "OPU size"),
        level=num(opu.level),
        currency=opu.currency,
        expiry=opu.expiry,
        deal_reference=opu.dealReference,
        stop_level=num(opu.stopLevel),
        limit_level=num(opu.limitLevel),
        ts_event=iso_to_ns(opu.timestamp),
    )


def aggregate_positions(
    market: str,
    deals: Iterable[PositionDeal],
    ts_recv: int,
    source: Source,
    *,
    keys: Iterable[tuple[str, str]] = (),
) -> tuple[Position, ...]:
    """One `Position` per (epic, direction) of DEALS; every (epic, "BUY"/"SELL") in KEYS that
    has no deal left comes out with size 0 (the cache drops it)."""
    groups: dict[tuple[str, str], list[PositionDeal]] = {k: [] for k in keys}
    for d in deals:
        groups.setdefault((d.epic, d.direction), []).append(d)
    out: list[Position] = []
    for (epic, direction), ds in groups.items():
        long = side(direction) == "buy"
        size = sum(d.size for d in ds)
        levelled = [(d.size, d.level) for d in ds if d.level is not None]
        wsize = sum(s for s, _ in levelled)
        entry = sum(s * lv for s, lv in levelled) / wsize if wsize else None
        marks = [d.bid if long else d.offer for d in ds]
        mark = marks[0] if marks and marks[0] is not None else None
        times = [d.ts_event for d in ds if d.ts_event is not None]
        out.append(
            Position(
                venue=VENUE,
                market=market,
                symbol=epic,
                size=size if long else -size,
                entry_price=entry,
                mark_price=mark,
                position_side="long" if long else "short",
                ts_event=max(times) if times else None,
                last_update=ts_recv,
                source=source,
            )
        )
    return tuple(out)


# -- orders ------------------------------------------------------------------------------------

_ORDER_TYPES = {"LIMIT": "limit", "STOP": "stop"}


def order_from_rest(market: str, entry: schemas.WorkingOrderEntry, ts_recv: int) -> Order:
    """One `/workingorders` v2 entry as an open `Order` (`order_id` is IG's dealId)."""
    w = entry.workingOrderData
    return Order(
        venue=VENUE,
        market=market,
        symbol=w.epic,
        order_id=w.dealId,
        client_order_id=w.dealReference,
        side=side(w.direction),
        type=_ORDER_TYPES.get(w.orderType or "", (w.orderType or "limit").lower()),
        price=num(w.orderLevel),
        quantity=nonneg(w.orderSize, "order size"),
        status="new",
        time_in_force=_TIF.get(w.timeInForce or "", w.timeInForce),
        ts_event=iso_to_ns(w.createdDateUTC),
        last_update=ts_recv,
        source="rest",
    )


def order_from_wou(market: str, wou: schemas.Wou, ts_recv: int) -> Order:
    """A WOU as an `Order`: OPEN/UPDATED are open ("new"), DELETED is "canceled" (IG's WOU
    does not say whether a deleted order was cancelled or triggered; an OPU shows a fill)."""
    status: OrderStatus = "canceled" if wou.status == "DELETED" else "new"
    if wou.epic is None:
        raise ParseError(f"WOU {wou.dealId}: no epic")
    return Order(
        venue=VENUE,
        market=market,
        symbol=wou.epic,
        order_id=wou.dealId,
        client_order_id=wou.dealReference,
        side=side(wou.direction),
        type=_ORDER_TYPES.get(wou.orderType or "", (wou.orderType or "limit").lower()),
        price=num(wou.level),
        quantity=nonneg(
            _req(wou.size, "WOU size") if status == "new" else (num(wou.size) or 0.0), "WOU size"
        ),
        status=status,
        time_in_force=_TIF.get(wou.timeInForce or "", wou.timeInForce),
        ts_event=iso_to_ns(wou.timestamp),
        last_update=ts_recv,
        source="ws",
    )


# -- confirms ----------------------------------------------------------------------------------


def confirm(market: str, c: schemas.Confirm, ts_recv: int, source: Source) -> TradeConfirm:
    """A `/confirms` body or a CONFIRMS JSON as a `TradeConfirm`."""
    return TradeConfirm(
        venue=VENUE,
        market=market,
        deal_reference=c.dealReference,
        deal_id=c.dealId,
        deal_status=c.dealStatus,
        status=c.status,
        epic=c.epic,
        direction=c.direction,
        size=num(c.size),
        level=num(c.level),
        reason=c.reason,
        affected_deals=tuple((a.dealId, a.status) for a in c.affectedDeals or ()),
        ts_event=iso_to_ns(c.date),
        last_update=ts_recv,
        source=source,
    )


# -- markets and prices ------------------------------------------------------------------------


def market_info(d: schemas.MarketDetails, ts_recv: int) -> MarketInfo:
    """`GET /markets/{epic}` as `MarketInfo`."""
    i, s = d.instrument, d.snapshot or schemas.MarketSnapshot()
    currencies = i.currencies or ()
    default = next((c.code for c in currencies if c.isDefault), None)
    min_deal = d.dealingRules.minDealSize if d.dealingRules else None
    return MarketInfo(
        venue=VENUE,
        epic=i.epic,
        name=i.name,
        instrument_type=i.type,
        expiry=i.expiry,
        currencies=tuple(c.code for c in currencies),
        default_currency=default or (currencies[0].code if currencies else None),
        lot_size=i.lotSize,
        min_deal_size=min_deal.value if min_deal else None,
        market_status=s.marketStatus,
        bid=s.bid,
        offer=s.offer,
        high=s.high,
        low=s.low,
        decimals=s.decimalPlacesFactor,
        scaling_factor=s.scalingFactor,
        streaming_prices=i.streamingPricesAvailable,
        delay_min=s.delayTime,
        last_update=ts_recv,
    )


def ticker_from_market(market: str, d: schemas.MarketDetails, ts_recv: int) -> Ticker:
    """A market's snapshot bid/offer as a REST `Ticker` (IG sends no sizes or time there)."""
    s = d.snapshot or schemas.MarketSnapshot()
    return Ticker(
        venue=VENUE,
        market=market,
        symbol=d.instrument.epic,
        bid=s.bid,
        bid_size=None,
        ask=s.offer,
        ask_size=None,
        last_update=ts_recv,
        source="rest",
    )


def _point_ohlc(p: schemas.PriceSnapshot, attr: str) -> tuple[float, float, float, float] | None:
    vals = []
    for point in (p.openPrice, p.highPrice, p.lowPrice, p.closePrice):
        v = getattr(point, attr) if point is not None else None
        if v is None:
            return None
        vals.append(float(v))
    return (vals[0], vals[1], vals[2], vals[3])


def price_bar(p: schemas.PriceSnapshot) -> PriceBar:
    """One `/prices` v3 snapshot as a bar (time from `snapshotTimeUTC`)."""
    return PriceBar(
        ts_event=iso_to_ns(p.snapshotTimeUTC),
        bid=_point_ohlc(p, "bid"),
        ask=_point_ohlc(p, "ask"),
        ltp=_point_ohlc(p, "lastTraded"),
        volume=p.lastTradedVolume,
    )

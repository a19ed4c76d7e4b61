"""Venue-neutral machinery every simulated exchange is built on.

A simulator is one aiohttp application on 127.0.0.1 serving a venue's REST paths and its
WebSocket endpoints side by side. This module holds everything that is not a wire format:

- `SimExchange`: the server (start/stop, async context manager), URL mapping from the
  venue's real base URLs to the local ones, generated credentials, counters (`SimStats`),
  fault injection (`Faults`), WebSocket connection plumbing (`SimConnection`: per-connection
  writer queue, server pings, stall/drop/malformed) and HMAC helpers.
- `MatchingEngine`: a seedable random-walk price process per instrument that keeps an exact
  L2 book (int ticks x int lots), a matching engine (limit orders rest and show in the public
  book, marketable orders fill against it, partial fills, cancels, amends), cash accounts
  (spot balances with locks) and margin accounts (wallet, one-way positions, PnL, fees).
  Every change becomes a venue-neutral event (`BookUpdate`, `TradeUpdate`, `TickerUpdate`,
  `OrderUpdate`, `AccountUpdate`) that the venue subclass turns into its own frames.

A venue subclass sets `venue`, `URL_MAP`, `HAS_CHECKSUM`, and implements
`default_instruments()`, `default_accounts()`, `setup_routes(app)` and `on_event(event)`;
it may override `rate_limited_response(request)` and `malformed_frame(conn)`.

Writing a WebSocket endpoint::

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        async with self.websocket(request, kind="public") as conn:
            async for text in conn:          # text frames only; ping/pong/close are handled
                conn.send({"echo": text})    # queued: never blocks, honours stall/drop
        return conn.ws

Engine listeners run synchronously inside the engine call that caused the change, so a
venue serialises the (mutable) order/account objects into frames right there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import math
import random
import secrets
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import Enum
from typing import ClassVar, Literal, TypeAlias, TypeVar

from aiohttp import WSMsgType, web

__all__ = [
    "SimExchange",
    "SimConnection",
    "SimStats",
    "Faults",
    "WeightWindow",
    "Instrument",
    "MatchingEngine",
    "SimBook",
    "Account",
    "Balance",
    "Position",
    "SimOrder",
    "Fill",
    "PublicTrade",
    "Stats24h",
    "OrderError",
    "Side",
    "OrderType",
    "TimeInForce",
    "OrderStatus",
    "ExecType",
    "BookUpdate",
    "TradeUpdate",
    "TickerUpdate",
    "OrderUpdate",
    "AccountUpdate",
    "SimEvent",
    "JSONValue",
    "now_ms",
]

log = logging.getLogger(__name__)

JSONValue: TypeAlias = "None | bool | int | float | str | list[JSONValue] | dict[str, JSONValue]"
_T = TypeVar("_T")
ZERO = Decimal(0)


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch, as venues stamp their messages."""
    return time.time_ns() // 1_000_000


# --------------------------------------------------------------------------------------------
# Instruments
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instrument:
    """One tradable instrument and the shape of its simulated liquidity.

    Prices are held as int ticks (`tick_size` units) and quantities as int lots
    (`step_size` units), so the book is exact; `price()`/`qty()` turn them back into
    Decimals for the wire.
    """

    symbol: str  # the venue's symbol, e.g. "BTCUSDT"
    market: str  # venue-neutral market kind: "spot" or "linear"
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    start_price: Decimal
    account: str = "spot"  # name of the Account this instrument trades on
    min_qty: Decimal = Decimal("0.00001")
    max_qty: Decimal = Decimal("9000")
    min_notional: Decimal = Decimal("5")
    level_spacing_ticks: int = 1  # distance between simulated book levels, in ticks
    half_spread_ticks: int = 1  # half the market maker's spread, in ticks
    depth: int = 50  # simulated levels per side
    vol_ticks: float = 2.0  # std-dev of the random walk per tick, in ticks
    level_lots: tuple[int, int] = (100, 5000)  # min/max lots a simulated level holds
    trade_prob: float = 0.5  # chance per tick of a background public trade

    @property
    def key(self) -> tuple[str, str]:
        """(market, symbol): unique across markets (BTCUSDT exists in spot and linear)."""
        return (self.market, self.symbol)

    @property
    def settle(self) -> str:
        """Margin/settlement asset of a linear contract (the quote asset)."""
        return self.quote

    @property
    def price_decimals(self) -> int:
        """Decimal places prices are printed with: those of `tick_size` as written ("0.10": 2)."""
        return max(0, -int(self.tick_size.as_tuple().exponent))

    @property
    def qty_decimals(self) -> int:
        """Decimal places quantities are printed with: those of `step_size` as written."""
        return max(0, -int(self.step_size.as_tuple().exponent))

    def price(self, ticks: int) -> Decimal:
        """Exact Decimal price of `ticks`."""
        return self.tick_size * ticks

    def qty(self, lots: int) -> Decimal:
        """Exact Decimal quantity of `lots`."""
        return self.step_size * lots

    def to_ticks(self, price: Decimal) -> int:
        """Ticks of `price`; raises ValueError when it is not on the tick grid."""
        q, r = divmod(price, self.tick_size)
        if r != 0:
            raise ValueError("price not a multiple of tick size")
        return int(q)

    def to_lots(self, qty: Decimal) -> int:
        """Lots of `qty`; raises ValueError when it is not on the step grid."""
        q, r = divmod(qty, self.step_size)
        if r != 0:
            raise ValueError("quantity not a multiple of step size")
        return int(q)

    def floor_lots(self, qty: Decimal) -> int:
        """Whole lots in `qty`, rounding down (for quote-sized market orders)."""
        return int((qty / self.step_size).to_integral_value(rounding=ROUND_DOWN))


# --------------------------------------------------------------------------------------------
# Orders, fills, accounts
# --------------------------------------------------------------------------------------------


class Side(str, Enum):
    """Order side."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buy, -1 for sell."""
        return 1 if self is Side.BUY else -1


class OrderType(str, Enum):
    """Venue-neutral order types the engine executes."""

    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(str, Enum):
    """GTC rests, IOC fills what it can, FOK all or nothing, POST_ONLY never takes."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"


class OrderStatus(str, Enum):
    """Venue-neutral order states (venues map them to their own names)."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"  # IOC/market remainder, FOK miss
    EXPIRED_IN_MATCH = "expired_in_match"  # self-trade prevention expired the taker

    @property
    def is_open(self) -> bool:
        """Still working in the book."""
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class ExecType(str, Enum):
    """Why an `OrderUpdate` was emitted."""

    NEW = "new"
    TRADE = "trade"
    CANCELED = "canceled"
    EXPIRED = "expired"
    AMENDED = "amended"


class OrderError(Exception):
    """The engine refused an order or cancel; `reason` is venue-neutral, venues map it.

    Reasons: unknown_symbol, unknown_order, invalid_qty, invalid_price, min_notional,
    insufficient_balance, post_only_would_take, fok_not_filled, reduce_only,
    duplicate_client_id, no_liquidity.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Fill:
    """One execution of one order."""

    trade_id: int
    order_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    ts_ms: int
    realized_pnl: Decimal = ZERO


@dataclass
class SimOrder:
    """An order as the engine tracks it (mutable; snapshot fields when serialising)."""

    order_id: int
    client_id: str
    instrument: Instrument
    account: str
    side: Side
    type: OrderType
    tif: TimeInForce
    qty: Decimal
    price: Decimal | None
    created_ms: int
    updated_ms: int
    status: OrderStatus = OrderStatus.NEW
    filled: Decimal = ZERO
    cum_quote: Decimal = ZERO
    reduce_only: bool = False
    quote_qty: Decimal | None = None  # market order sized in quote (spot quoteOrderQty)
    venue_type: str = ""  # the type string the client sent (LIMIT_MAKER, ...), echoed back
    fills: list[Fill] = field(default_factory=list)
    locked: Decimal = ZERO  # spot: amount still locked for this order (quote for buys)
    working: bool = False  # has been placed in the book at least once
    extra: dict[str, object] = field(default_factory=dict)  # venue-specific echo fields

    @property
    def remaining(self) -> Decimal:
        """Unfilled quantity."""
        return self.qty - self.filled

    @property
    def avg_price(self) -> Decimal:
        """Average fill price (0 when nothing filled)."""
        return self.cum_quote / self.filled if self.filled else ZERO

    @property
    def symbol(self) -> str:
        """The instrument's venue symbol."""
        return self.instrument.symbol


@dataclass
class Balance:
    """One asset of an account: `wallet` total, `locked` held by open spot orders."""

    asset: str
    wallet: Decimal = ZERO
    locked: Decimal = ZERO

    @property
    def free(self) -> Decimal:
        """Spendable now (wallet minus locked)."""
        return self.wallet - self.locked


@dataclass
class Position:
    """A one-way position on a linear contract (qty > 0 long, < 0 short)."""

    instrument: Instrument
    qty: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    leverage: int = 20
    updated_ms: int = 0

    @property
    def side(self) -> str:
        """ "long", "short" or "flat"."""
        return "long" if self.qty > 0 else "short" if self.qty < 0 else "flat"

    def unrealized(self, mark: Decimal) -> Decimal:
        """Unrealised PnL at `mark`."""
        return (mark - self.entry_price) * self.qty

    def notional(self, mark: Decimal) -> Decimal:
        """Absolute notional at `mark`."""
        return abs(self.qty) * mark

    def initial_margin(self, mark: Decimal) -> Decimal:
        """Initial margin at `mark` and the position's leverage."""
        return self.notional(mark) / self.leverage


@dataclass
class Account:
    """A cash account (`kind="cash"`: spot balances) or margin account (`"margin"`)."""

    name: str
    kind: Literal["cash", "margin"]
    balances: dict[str, Balance] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)  # by symbol
    leverage: dict[str, int] = field(default_factory=dict)  # by symbol
    default_leverage: int = 20
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")

    def balance(self, asset: str) -> Balance:
        """The asset's balance, created empty on first use."""
        b = self.balances.get(asset)
        if b is None:
            b = self.balances[asset] = Balance(asset)
        return b

    def position(self, inst: Instrument) -> Position:
        """The instrument's position, created flat on first use."""
        p = self.positions.get(inst.symbol)
        if p is None:
            lev = self.leverage.get(inst.symbol, self.default_leverage)
            p = self.positions[inst.symbol] = Position(inst, leverage=lev)
        return p


@dataclass
class PublicTrade:
    """A trade printed on the public tape."""

    trade_id: int
    price: Decimal
    qty: Decimal
    buyer_is_maker: bool
    ts_ms: int


@dataclass
class Stats24h:
    """Rolling 24 h statistics the ticker endpoints report (simulated from start)."""

    open: Decimal
    high: Decimal
    low: Decimal
    last: Decimal
    last_qty: Decimal = ZERO
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    count: int = 0
    first_trade_id: int = 0
    last_trade_id: int = 0
    open_ms: int = 0


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


@dataclass
class BookUpdate:
    """Public book levels changed: absolute lots per price (0 lots = level removed).

    `first_id..last_id` are the update ids this event covers; `prev_id` is the last id of
    the event before it (== first_id - 1 unless a gap was injected).
    """

    instrument: Instrument
    first_id: int
    last_id: int
    prev_id: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
    ts_ms: int


@dataclass
class TradeUpdate:
    """A public trade printed."""

    instrument: Instrument
    trade: PublicTrade


@dataclass
class TickerUpdate:
    """One price-process tick completed for an instrument (ticker/mark price streams)."""

    instrument: Instrument
    ts_ms: int


@dataclass
class OrderUpdate:
    """An order changed; `fill` is set for ExecType.TRADE."""

    order: SimOrder
    exec_type: ExecType
    fill: Fill | None
    ts_ms: int


@dataclass
class AccountUpdate:
    """Balances and/or positions of an account changed.

    `assets`/`symbols` name what changed; `deltas` the signed wallet change per asset for
    reasons that move money in or out (DEPOSIT, WITHDRAW); `reason` is venue-neutral
    ("ORDER", "DEPOSIT", "WITHDRAW", "FUNDING_FEE").
    """

    account: Account
    assets: list[str]
    symbols: list[str]
    reason: str
    ts_ms: int
    deltas: dict[str, Decimal] = field(default_factory=dict)


SimEvent: TypeAlias = "BookUpdate | TradeUpdate | TickerUpdate | OrderUpdate | AccountUpdate"


# --------------------------------------------------------------------------------------------
# Book
# --------------------------------------------------------------------------------------------


class SimBook:
    """The public L2 book of one instrument: market-maker levels plus resting user orders.

    All keys are int ticks, all sizes int lots. `update_id` is the book's sequence number;
    each emitted `BookUpdate` consumes one id per changed level.
    """

    def __init__(self, inst: Instrument, update_id: int) -> None:
        self.inst = inst
        self.update_id = update_id
        self.mm_bids: dict[int, int] = {}
        self.mm_asks: dict[int, int] = {}
        self.user_bids: dict[int, list[SimOrder]] = {}
        self.user_asks: dict[int, list[SimOrder]] = {}
        self.mid_ticks: float = float(inst.to_ticks(inst.start_price))
        self._dirty_bids: set[int] = set()
        self._dirty_asks: set[int] = set()
        self._skip_next = False

    # -- reading ------------------------------------------------------------------------------

    def level(self, is_bid: bool, ticks: int) -> int:
        """Total public lots at a price."""
        mm = self.mm_bids if is_bid else self.mm_asks
        user = self.user_bids if is_bid else self.user_asks
        lots = mm.get(ticks, 0)
        for o in user.get(ticks, ()):
            lots += self.inst.to_lots(o.remaining)
        return lots

    def side(self, is_bid: bool, limit: int | None = None) -> list[tuple[int, int]]:
        """(ticks, lots) best first, at most `limit` levels."""
        mm = self.mm_bids if is_bid else self.mm_asks
        user = self.user_bids if is_bid else self.user_asks
        prices = sorted(set(mm) | set(user), reverse=is_bid)
        out: list[tuple[int, int]] = []
        for p in prices:
            lots = self.level(is_bid, p)
            if lots > 0:
                out.append((p, lots))
                if limit is not None and len(out) >= limit:
                    break
        return out

    def snapshot(
        self, limit: int | None = None
    ) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        """(update_id, bids, asks): a REST depth snapshot consistent with the stream."""
        return self.update_id, self.side(True, limit), self.side(False, limit)

    def best(self, is_bid: bool) -> tuple[int, int] | None:
        """Best (ticks, lots) of a side, or None."""
        s = self.side(is_bid, 1)
        return s[0] if s else None

    def mid_price(self) -> Decimal:
        """Mid of the public best bid/ask (the random-walk mid when a side is empty)."""
        b, a = self.best(True), self.best(False)
        if b and a:
            return self.inst.price(b[0] + a[0]) / 2
        return self.inst.price(int(round(self.mid_ticks)))

    # -- writing ------------------------------------------------------------------------------

    def touch(self, is_bid: bool, ticks: int) -> None:
        """Mark a level changed so the next flush reports it."""
        (self._dirty_bids if is_bid else self._dirty_asks).add(ticks)

    def add_user(self, order: SimOrder) -> None:
        """Rest a user order at its price."""
        assert order.price is not None
        t = self.inst.to_ticks(order.price)
        is_bid = order.side is Side.BUY
        (self.user_bids if is_bid else self.user_asks).setdefault(t, []).append(order)
        self.touch(is_bid, t)

    def remove_user(self, order: SimOrder) -> None:
        """Take a user order out of the book (cancel, fill)."""
        if order.price is None:
            return
        t = self.inst.to_ticks(order.price)
        is_bid = order.side is Side.BUY
        book = self.user_bids if is_bid else self.user_asks
        lst = book.get(t)
        if lst and order in lst:
            lst.remove(order)
            if not lst:
                del book[t]
            self.touch(is_bid, t)

    def flush(self, ts_ms: int) -> BookUpdate | None:
        """Emit the changed levels since the last flush as one `BookUpdate` (or None)."""
        if not self._dirty_bids and not self._dirty_asks:
            return None
        bids = [(p, self.level(True, p)) for p in sorted(self._dirty_bids, reverse=True)]
        asks = [(p, self.level(False, p)) for p in sorted(self._dirty_asks)]
        self._dirty_bids.clear()
        self._dirty_asks.clear()
        if self._skip_next:  # an injected gap: a phantom update the client never sees
            self._skip_next = False
            self.update_id += 1
        prev = self.update_id
        first = prev + 1
        self.update_id = prev + max(1, len(bids) + len(asks))
        return BookUpdate(self.inst, first, self.update_id, prev, bids, asks, ts_ms)

    def skip_next(self) -> None:
        """Make the next flush skip one update id (a sequence gap for clients)."""
        self._skip_next = True


# --------------------------------------------------------------------------------------------
# Matching engine
# --------------------------------------------------------------------------------------------


class MatchingEngine:
    """Price process, books, orders and accounts of one simulated venue.

    Deterministic for a given `seed` and call sequence (wall-clock time only stamps events).
    Listeners (`add_listener`) receive every event synchronously, in causal order.
    """

    def __init__(
        self,
        instruments: Iterable[Instrument],
        accounts: Mapping[str, Account],
        *,
        seed: int = 0,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.rng = random.Random(seed)
        self.clock = clock
        self.instruments: dict[tuple[str, str], Instrument] = {i.key: i for i in instruments}
        self.accounts: dict[str, Account] = dict(accounts)
        self.books: dict[tuple[str, str], SimBook] = {}
        self.trades: dict[tuple[str, str], deque[PublicTrade]] = {}
        self.stats: dict[tuple[str, str], Stats24h] = {}
        self.orders: dict[int, SimOrder] = {}
        self.my_fills: dict[str, list[tuple[SimOrder, Fill]]] = {}
        self.funding_rate = Decimal("0.0001")
        self._listeners: list[Callable[[SimEvent], None]] = []
        self._batch: dict[str, tuple[list[str], list[str]]] | None = None
        self._next_order_id = 1_000_000 + self.rng.randrange(1_000_000)
        self._next_trade_id = 5_000_000 + self.rng.randrange(1_000_000)
        self.ticks = 0
        ts = self.clock()
        for inst in self.instruments.values():
            book = SimBook(inst, 10_000_000 + self.rng.randrange(10_000_000))
            self.books[inst.key] = book
            self.trades[inst.key] = deque(maxlen=1000)
            self.stats[inst.key] = Stats24h(
                inst.start_price, inst.start_price, inst.start_price, inst.start_price, open_ms=ts
            )
            self._requote(book)
            book._dirty_bids.clear()
            book._dirty_asks.clear()

    # -- lookups ------------------------------------------------------------------------------

    def add_listener(self, fn: Callable[[SimEvent], None]) -> None:
        """Call `fn(event)` for every event from now on."""
        self._listeners.append(fn)

    def instrument(self, market: str, symbol: str) -> Instrument:
        """The instrument, or OrderError("unknown_symbol")."""
        inst = self.instruments.get((market, symbol))
        if inst is None:
            raise OrderError("unknown_symbol", "unknown symbol")
        return inst

    def find_instrument(self, market: str, symbol: str) -> Instrument | None:
        """The instrument or None."""
        return self.instruments.get((market, symbol))

    def market_instruments(self, market: str) -> list[Instrument]:
        """All instruments of a market kind, in definition order."""
        return [i for i in self.instruments.values() if i.market == market]

    def book(self, inst: Instrument) -> SimBook:
        """The instrument's book."""
        return self.books[inst.key]

    def mark_price(self, inst: Instrument) -> Decimal:
        """Mark price (the public mid, on the tick grid)."""
        ticks = int(round(self.book(inst).mid_price() / inst.tick_size))
        return inst.price(ticks)

    def open_orders(self, account: str, inst: Instrument | None = None) -> list[SimOrder]:
        """Working orders of an account, oldest first."""
        return [
            o
            for o in self.orders.values()
            if o.account == account and o.status.is_open and (inst is None or o.instrument is inst)
        ]

    def get_order(
        self,
        account: str,
        inst: Instrument,
        order_id: int | None = None,
        client_id: str | None = None,
    ) -> SimOrder:
        """An order by id or client id (any status), or OrderError("unknown_order")."""
        if order_id is not None:
            o = self.orders.get(order_id)
            if o and o.account == account and o.instrument is inst:
                return o
        elif client_id is not None:
            for o in reversed(list(self.orders.values())):
                if o.account == account and o.instrument is inst and o.client_id == client_id:
                    return o
        raise OrderError("unknown_order", "order does not exist")

    # -- emitting -----------------------------------------------------------------------------

    def _emit(self, ev: SimEvent) -> None:
        for fn in self._listeners:
            try:
                fn(ev)
            except Exception:  # a venue serialiser bug must not break the engine
                log.exception("sim listener failed on %s", type(ev).__name__)

    def _flush_book(self, book: SimBook) -> None:
        up = book.flush(self.clock())
        if up is not None:
            self._emit(up)

    # -- price process ------------------------------------------------------------------------

    def _requote(self, book: SimBook) -> None:
        """Re-lay the market maker's levels around the current mid, marking changes."""
        inst, rng = book.inst, self.rng
        sp = inst.level_spacing_ticks
        mid = book.mid_ticks
        bid_top = int(math.floor((mid - inst.half_spread_ticks) / sp)) * sp
        ask_top = int(math.ceil((mid + inst.half_spread_ticks) / sp)) * sp
        if ask_top <= bid_top:
            ask_top = bid_top + sp
        lo, hi = inst.level_lots
        for is_bid, top, step in ((True, bid_top, -sp), (False, ask_top, sp)):
            mm = book.mm_bids if is_bid else book.mm_asks
            want = {top + i * step for i in range(inst.depth) if top + i * step > 0}
            for p in list(mm):
                if p not in want:
                    del mm[p]
                    book.touch(is_bid, p)
            for p in sorted(want):
                if p not in mm:
                    mm[p] = rng.randint(lo, hi)
                    book.touch(is_bid, p)
            # a few size changes on retained levels, as a live book has
            for p in rng.sample(sorted(mm), k=min(3, len(mm))):
                mm[p] = rng.randint(lo, hi)
                book.touch(is_bid, p)

    def tick(self) -> None:
        """Advance every instrument one step: move the mid, requote, fill, print, emit."""
        self.ticks += 1
        for inst in self.instruments.values():
            book = self.books[inst.key]
            step = self.rng.gauss(0.0, inst.vol_ticks)
            book.mid_ticks = max(book.mid_ticks + step, 10.0 * inst.level_spacing_ticks)
            self._requote(book)
            self._passive_fills(book)
            self._flush_book(book)
            if self.rng.random() < inst.trade_prob:
                buyer_maker = self.rng.random() < 0.5
                lvl = book.best(buyer_maker)  # a sell taker hits the best bid
                if lvl is not None:
                    lots = self.rng.randint(1, max(1, inst.level_lots[0]))
                    self._print(inst, inst.price(lvl[0]), inst.qty(lots), buyer_maker)
            self._emit(TickerUpdate(inst, self.clock()))

    def _print(
        self, inst: Instrument, price: Decimal, qty: Decimal, buyer_is_maker: bool
    ) -> PublicTrade:
        tid = self._next_trade_id
        self._next_trade_id += 1
        t = PublicTrade(tid, price, qty, buyer_is_maker, self.clock())
        self.trades[inst.key].append(t)
        st = self.stats[inst.key]
        st.last, st.last_qty = price, qty
        st.high, st.low = max(st.high, price), min(st.low, price)
        st.volume += qty
        st.quote_volume += price * qty
        st.count += 1
        st.first_trade_id = st.first_trade_id or tid
        st.last_trade_id = tid
        self._emit(TradeUpdate(inst, t))
        return t

    # -- orders -------------------------------------------------------------------------------

    def place_order(
        self,
        account: str,
        inst: Instrument,
        side: Side,
        type: OrderType,
        qty: Decimal | None,
        price: Decimal | None = None,
        *,
        tif: TimeInForce = TimeInForce.GTC,
        client_id: str | None = None,
        reduce_only: bool = False,
        quote_qty: Decimal | None = None,
        venue_type: str = "",
        extra: Mapping[str, object] | None = None,
    ) -> SimOrder:
        """Validate, accept, match and (for GTC limits) rest an order; returns it.

        Emits OrderUpdate(NEW), one OrderUpdate(TRADE) per fill, an OrderUpdate(EXPIRED) for
        an unfilled IOC/market remainder, AccountUpdate(s) and BookUpdate(s).

        Raises:
            OrderError: the order is rejected before it reaches the book.
        """
        acct = self.accounts[account]
        book = self.book(inst)
        if client_id and any(
            o.client_id == client_id and o.account == account and o.status.is_open
            for o in self.orders.values()
        ):
            raise OrderError("duplicate_client_id", "duplicate order sent")
        if type is OrderType.MARKET and qty is None and quote_qty is None:
            raise OrderError("invalid_qty", "quantity required")
        if qty is not None:
            if qty <= 0 or qty < inst.min_qty or qty > inst.max_qty:
                raise OrderError("invalid_qty", "quantity out of range")
            try:
                inst.to_lots(qty)
            except ValueError:
                raise OrderError("invalid_qty", "quantity not on step grid") from None
        if type is OrderType.LIMIT:
            if price is None or price <= 0:
                raise OrderError("invalid_price", "price required")
            try:
                inst.to_ticks(price)
            except ValueError:
                raise OrderError("invalid_price", "price not on tick grid") from None
            if qty is None:
                raise OrderError("invalid_qty", "quantity required")
            if price * qty < inst.min_notional and not reduce_only:
                raise OrderError("min_notional", "notional too small")
        ref = price if price is not None else self._ref_price(book, side)
        if qty is None:  # market by quote amount: the lots the budget buys walking the book
            assert quote_qty is not None
            if quote_qty < inst.min_notional:
                raise OrderError("min_notional", "notional too small")
            qty = inst.qty(self._budget_lots(book, side, quote_qty))
            if qty <= 0:
                raise OrderError("invalid_qty", "quote amount too small")
        elif type is OrderType.MARKET and qty * ref < inst.min_notional and not reduce_only:
            raise OrderError("min_notional", "notional too small")
        if type is OrderType.MARKET and side is Side.BUY and quote_qty is None:
            ref = self._walk_cost(book, side, inst.to_lots(qty)) / qty  # average, for checks

        crosses = self._crosses(book, side, price)
        if tif is TimeInForce.POST_ONLY and crosses:
            raise OrderError("post_only_would_take", "order would immediately match and take")
        if tif is TimeInForce.FOK and self._available_lots(book, side, price) < inst.to_lots(qty):
            raise OrderError("fok_not_filled", "FOK order could not be filled")

        if acct.kind == "cash":
            self._check_cash(acct, inst, side, qty, price, ref, quote_qty)
        else:
            self._check_margin(acct, inst, side, qty, ref, reduce_only)

        ts = self.clock()
        oid = self._next_order_id
        self._next_order_id += 1
        order = SimOrder(
            order_id=oid,
            client_id=client_id or f"sim-{oid}",
            instrument=inst,
            account=account,
            side=side,
            type=type,
            tif=tif,
            qty=qty,
            price=price,
            created_ms=ts,
            updated_ms=ts,
            reduce_only=reduce_only,
            quote_qty=quote_qty,
            venue_type=venue_type,
            extra=dict(extra or {}),
        )
        self.orders[oid] = order
        with self._account_batch():
            if acct.kind == "cash" and type is OrderType.LIMIT:
                self._lock(acct, order)
            self._emit(OrderUpdate(order, ExecType.NEW, None, ts))
            if acct.kind == "cash" and order.locked:
                self._account_changed(acct, self._order_assets(order), [])
            self._take(acct, book, order)
            if order.status.is_open:
                if type is OrderType.MARKET or tif in (TimeInForce.IOC, TimeInForce.FOK):
                    self._finish(acct, order, OrderStatus.EXPIRED, ExecType.EXPIRED)
                elif self._crosses(book, side, price):  # only our own orders left in the way
                    self._finish(acct, order, OrderStatus.EXPIRED_IN_MATCH, ExecType.EXPIRED)
                else:
                    order.working = True
                    book.add_user(order)
        self._flush_book(book)
        return order

    def cancel_order(self, account: str, order: SimOrder) -> SimOrder:
        """Cancel a working order; raises OrderError("unknown_order") if it is not open."""
        if order.account != account or not order.status.is_open:
            raise OrderError("unknown_order", "unknown order sent")
        acct = self.accounts[account]
        self.book(order.instrument).remove_user(order)
        with self._account_batch():
            self._finish(acct, order, OrderStatus.CANCELED, ExecType.CANCELED)
        self._flush_book(self.book(order.instrument))
        return order

    def cancel_all(self, account: str, inst: Instrument) -> list[SimOrder]:
        """Cancel every working order of an account on an instrument."""
        return [self.cancel_order(account, o) for o in self.open_orders(account, inst)]

    def amend_order(
        self,
        account: str,
        order: SimOrder,
        *,
        price: Decimal | None = None,
        qty: Decimal | None = None,
    ) -> SimOrder:
        """Change a resting limit order's price and/or total qty in place (keeps its id)."""
        if order.account != account or not order.status.is_open:
            raise OrderError("unknown_order", "unknown order sent")
        inst = order.instrument
        try:
            if price is not None:
                inst.to_ticks(price)
            if qty is not None:
                inst.to_lots(qty)
        except ValueError as exc:
            raise OrderError(
                "invalid_price" if price is not None else "invalid_qty", str(exc)
            ) from None
        if qty is not None and qty <= order.filled:
            raise OrderError("invalid_qty", "quantity below filled")
        new_price = price if price is not None else order.price
        assert new_price is not None  # an open order rests at its price (`SimBook.add_user`)
        if self._crosses_mm(self.book(inst), order.side, new_price):
            raise OrderError("post_only_would_take", "amended order would immediately match")
        acct = self.accounts[account]
        book = self.book(inst)
        book.remove_user(order)
        if acct.kind == "cash":
            self._unlock(acct, order)
        order.price = new_price
        if qty is not None:
            order.qty = qty
        if acct.kind == "cash":
            try:
                self._check_cash(
                    acct, inst, order.side, order.remaining, new_price, new_price, None
                )
            except OrderError:
                self._lock(acct, order)  # restore (price already changed: acceptable for a sim)
                book.add_user(order)
                raise
            self._lock(acct, order)
        order.updated_ms = self.clock()
        book.add_user(order)
        self._emit(OrderUpdate(order, ExecType.AMENDED, None, order.updated_ms))
        if acct.kind == "cash":
            self._account_changed(acct, self._order_assets(order), [])
        self._flush_book(book)
        return order

    def set_leverage(self, account: str, inst: Instrument, leverage: int) -> None:
        """Set a margin account's leverage for an instrument."""
        acct = self.accounts[account]
        acct.leverage[inst.symbol] = leverage
        acct.position(inst).leverage = leverage

    def deposit(self, account: str, asset: str, amount: Decimal) -> None:
        """Credit (or debit, if negative) an account and emit AccountUpdate(DEPOSIT/WITHDRAW)."""
        acct = self.accounts[account]
        acct.balance(asset).wallet += amount
        reason = "DEPOSIT" if amount >= 0 else "WITHDRAW"
        self._emit(AccountUpdate(acct, [asset], [], reason, self.clock(), {asset: amount}))

    # -- account-change batching ---------------------------------------------------------------

    @contextlib.contextmanager
    def _account_batch(self) -> Iterator[None]:
        """Coalesce account changes inside the block into one AccountUpdate per account."""
        outer = self._batch is None
        if outer:
            self._batch = {}
        try:
            yield
        finally:
            if outer:
                batch, self._batch = self._batch or {}, None
                ts = self.clock()
                for name, (assets, symbols) in batch.items():
                    self._emit(AccountUpdate(self.accounts[name], assets, symbols, "ORDER", ts))

    def _account_changed(self, acct: Account, assets: list[str], symbols: list[str]) -> None:
        if self._batch is None:
            self._emit(AccountUpdate(acct, assets, symbols, "ORDER", self.clock()))
            return
        a, s = self._batch.setdefault(acct.name, ([], []))
        a.extend(x for x in assets if x not in a)
        s.extend(x for x in symbols if x not in s)

    # -- checks -------------------------------------------------------------------------------

    def _budget_lots(self, book: SimBook, side: Side, budget: Decimal) -> int:
        """Lots a quote `budget` buys (or sells for) walking market-maker levels."""
        inst = book.inst
        mm = book.mm_asks if side is Side.BUY else book.mm_bids
        lots, left = 0, budget
        for p in self._mm_levels(book, side):
            px = inst.price(p)
            take = min(mm[p], inst.floor_lots(left / px))
            lots += take
            left -= inst.qty(take) * px
            if take < mm[p]:
                break
        return lots

    def _walk_cost(self, book: SimBook, side: Side, lots: int) -> Decimal:
        """Quote cost of taking `lots` from market-maker levels (last price for any excess)."""
        inst = book.inst
        mm = book.mm_asks if side is Side.BUY else book.mm_bids
        cost, left, px = ZERO, lots, ZERO
        for p in self._mm_levels(book, side):
            take = min(left, mm[p])
            px = inst.price(p)
            cost += inst.qty(take) * px
            left -= take
            if left <= 0:
                break
        return cost + inst.qty(left) * px

    def _ref_price(self, book: SimBook, side: Side) -> Decimal:
        lvl = book.best(side is Side.SELL)
        if lvl is None:
            raise OrderError("no_liquidity", "no liquidity")
        return book.inst.price(lvl[0])

    def _mm_levels(self, book: SimBook, side: Side) -> list[int]:
        """Opposite-side market-maker prices, best first (what a taker on `side` hits)."""
        if side is Side.BUY:
            return sorted(book.mm_asks)
        return sorted(book.mm_bids, reverse=True)

    def _crosses_mm(self, book: SimBook, side: Side, price: Decimal | None) -> bool:
        lv = self._mm_levels(book, side)
        if not lv:
            return False
        if price is None:
            return True
        p = book.inst.to_ticks(price)
        return lv[0] <= p if side is Side.BUY else lv[0] >= p

    def _crosses(self, book: SimBook, side: Side, price: Decimal | None) -> bool:
        """Would an order at `price` meet any opposite liquidity (MM or resting user)?"""
        best = book.best(side is Side.SELL)
        if best is None:
            return False
        if price is None:
            return True
        p = book.inst.to_ticks(price)
        return best[0] <= p if side is Side.BUY else best[0] >= p

    def _available_lots(self, book: SimBook, side: Side, price: Decimal | None) -> int:
        lim = None if price is None else book.inst.to_ticks(price)
        mm = book.mm_asks if side is Side.BUY else book.mm_bids
        total = 0
        for p in self._mm_levels(book, side):
            if lim is not None and (p > lim if side is Side.BUY else p < lim):
                break
            total += mm[p]
        return total

    def _check_cash(
        self,
        acct: Account,
        inst: Instrument,
        side: Side,
        qty: Decimal,
        price: Decimal | None,
        ref: Decimal,
        quote_qty: Decimal | None,
    ) -> None:
        if side is Side.BUY:
            need = (
                quote_qty if quote_qty is not None else qty * (price if price is not None else ref)
            )
            if acct.balance(inst.quote).free < need:
                raise OrderError("insufficient_balance", "account has insufficient balance")
        elif acct.balance(inst.base).free < qty:
            raise OrderError("insufficient_balance", "account has insufficient balance")

    def margin_used(self, acct: Account, asset: str) -> tuple[Decimal, Decimal]:
        """(position initial margin, open-order initial margin) in `asset`."""
        pos_im = ZERO
        for p in acct.positions.values():
            if p.instrument.settle == asset and p.qty:
                pos_im += p.initial_margin(self.mark_price(p.instrument))
        ord_im = ZERO
        for o in self.open_orders(acct.name):
            if o.instrument.settle == asset and o.price is not None:
                lev = acct.position(o.instrument).leverage
                ord_im += o.remaining * o.price / lev
        return pos_im, ord_im

    def unrealized(self, acct: Account, asset: str) -> Decimal:
        """Sum of unrealised PnL of positions settled in `asset`."""
        return sum(
            (
                p.unrealized(self.mark_price(p.instrument))
                for p in acct.positions.values()
                if p.instrument.settle == asset and p.qty
            ),
            ZERO,
        )

    def available(self, acct: Account, asset: str) -> Decimal:
        """Margin account: wallet + uPnL - initial margins; cash account: free."""
        if acct.kind == "cash":
            return acct.balance(asset).free
        pos_im, ord_im = self.margin_used(acct, asset)
        return acct.balance(asset).wallet + self.unrealized(acct, asset) - pos_im - ord_im

    def _check_margin(
        self,
        acct: Account,
        inst: Instrument,
        side: Side,
        qty: Decimal,
        ref: Decimal,
        reduce_only: bool,
    ) -> None:
        pos = acct.position(inst)
        reducing = pos.qty * side.sign < 0
        if reduce_only and (not reducing or qty > abs(pos.qty)):
            raise OrderError("reduce_only", "reduce only order is rejected")
        opening = qty if not reducing else max(ZERO, qty - abs(pos.qty))
        need = opening * ref / pos.leverage
        if need > 0 and self.available(acct, inst.settle) < need:
            raise OrderError("insufficient_balance", "margin is insufficient")

    # -- execution ----------------------------------------------------------------------------

    def _order_assets(self, order: SimOrder) -> list[str]:
        inst = order.instrument
        return [inst.base, inst.quote] if inst.market == "spot" else [inst.settle]

    def _lock(self, acct: Account, order: SimOrder) -> None:
        inst = order.instrument
        assert order.price is not None
        if order.side is Side.BUY:
            amt = order.remaining * order.price
            acct.balance(inst.quote).locked += amt
        else:
            amt = order.remaining
            acct.balance(inst.base).locked += amt
        order.locked = amt

    def _unlock(self, acct: Account, order: SimOrder) -> None:
        inst = order.instrument
        asset = inst.quote if order.side is Side.BUY else inst.base
        acct.balance(asset).locked -= order.locked
        order.locked = ZERO

    def _finish(
        self, acct: Account, order: SimOrder, status: OrderStatus, exec_type: ExecType
    ) -> None:
        order.status = status
        order.updated_ms = self.clock()
        had_lock = order.locked
        if acct.kind == "cash" and order.locked:
            self._unlock(acct, order)
        self._emit(OrderUpdate(order, exec_type, None, order.updated_ms))
        if had_lock:
            self._account_changed(acct, self._order_assets(order), [])

    def _take(self, acct: Account, book: SimBook, order: SimOrder) -> None:
        """Fill `order` as taker against market-maker liquidity up to its limit."""
        inst = order.instrument
        lim = None if order.price is None else inst.to_ticks(order.price)
        mm = book.mm_asks if order.side is Side.BUY else book.mm_bids
        is_bid_side = order.side is Side.SELL  # the side we consume
        user_opp = book.user_asks if order.side is Side.BUY else book.user_bids
        for p in self._mm_levels(book, order.side):
            if order.remaining <= 0:
                break
            if lim is not None and (p > lim if order.side is Side.BUY else p < lim):
                break
            # self-trade prevention: our own resting order at a better-or-equal price blocks
            if any(
                (up <= p if order.side is Side.BUY else up >= p) and lst
                for up, lst in user_opp.items()
            ):
                break
            lots = min(inst.to_lots(order.remaining), mm[p])
            mm[p] -= lots
            if mm[p] == 0:
                del mm[p]
            book.touch(is_bid_side, p)
            self._fill(acct, order, inst.price(p), inst.qty(lots), is_maker=False)
            self._print(inst, inst.price(p), inst.qty(lots), buyer_is_maker=order.side is Side.SELL)

    def _passive_fills(self, book: SimBook) -> None:
        """Fill resting user orders the moving market-maker quotes now cross (as maker)."""
        for is_bid in (True, False):
            user = book.user_bids if is_bid else book.user_asks
            mm = book.mm_asks if is_bid else book.mm_bids
            for up in sorted(user, reverse=is_bid):
                for order in list(user.get(up, ())):
                    with self._account_batch():
                        self._passive_fill(book, order, is_bid, up, mm)
                    if not order.status.is_open:
                        book.remove_user(order)

    def _passive_fill(
        self, book: SimBook, order: SimOrder, is_bid: bool, up: int, mm: dict[int, int]
    ) -> None:
        inst = book.inst
        for p in sorted(mm, reverse=not is_bid):
            if (p > up) if is_bid else (p < up):
                break
            if order.remaining <= 0:
                break
            lots = min(inst.to_lots(order.remaining), mm[p])
            mm[p] -= lots
            if mm[p] == 0:
                del mm[p]
            book.touch(not is_bid, p)
            book.touch(is_bid, up)
            acct = self.accounts[order.account]
            self._fill(acct, order, inst.price(up), inst.qty(lots), is_maker=True)
            self._print(inst, inst.price(up), inst.qty(lots), buyer_is_maker=is_bid)

    def _fill(
        self, acct: Account, order: SimOrder, price: Decimal, qty: Decimal, *, is_maker: bool
    ) -> None:
        inst = order.instrument
        ts = self.clock()
        quote = price * qty
        rate = acct.maker_fee if is_maker else acct.taker_fee
        realized = ZERO
        if acct.kind == "cash":
            base, q = acct.balance(inst.base), acct.balance(inst.quote)
            if order.side is Side.BUY:
                fee, fee_asset = qty * rate, inst.base
                if order.locked:
                    assert order.price is not None
                    rel = min(order.locked, qty * order.price)
                    q.locked -= rel
                    order.locked -= rel
                q.wallet -= quote
                base.wallet += qty - fee
            else:
                fee, fee_asset = quote * rate, inst.quote
                if order.locked:
                    rel = min(order.locked, qty)
                    base.locked -= rel
                    order.locked -= rel
                base.wallet -= qty
                q.wallet += quote - fee
            assets = [inst.base, inst.quote]
            symbols: list[str] = []
        else:
            fee, fee_asset = quote * rate, inst.settle
            pos = acct.position(inst)
            signed = qty * order.side.sign
            if pos.qty == 0 or (pos.qty > 0) == (signed > 0):
                new = pos.qty + signed
                pos.entry_price = (pos.entry_price * abs(pos.qty) + price * qty) / abs(new)
                pos.qty = new
            else:
                closing = min(abs(signed), abs(pos.qty))
                realized = (price - pos.entry_price) * closing * (1 if pos.qty > 0 else -1)
                new = pos.qty + signed
                if new == 0:
                    pos.entry_price = ZERO
                elif (new > 0) != (pos.qty > 0):
                    pos.entry_price = price
                pos.qty = new
                pos.realized_pnl += realized
            pos.updated_ms = ts
            acct.balance(inst.settle).wallet += realized - fee
            assets = [inst.settle]
            symbols = [inst.symbol]
        tid = self._next_trade_id  # the public print that follows reuses this id
        order.filled += qty
        order.cum_quote += quote
        order.updated_ms = ts
        order.status = OrderStatus.FILLED if order.remaining <= 0 else OrderStatus.PARTIALLY_FILLED
        fill = Fill(tid, order.order_id, price, qty, quote, fee, fee_asset, is_maker, ts, realized)
        order.fills.append(fill)
        self.my_fills.setdefault(acct.name, []).append((order, fill))
        self._emit(OrderUpdate(order, ExecType.TRADE, fill, ts))
        self._account_changed(acct, assets, symbols)


# --------------------------------------------------------------------------------------------
# Server plumbing
# --------------------------------------------------------------------------------------------


@dataclass
class SimStats:
    """Counters a test (or the demo) reads to see what clients did."""

    ws_opened: Counter[str] = field(default_factory=Counter)  # total per connection kind
    ws_open: Counter[str] = field(default_factory=Counter)  # currently open per kind
    rest_calls: Counter[str] = field(default_factory=Counter)  # per request path
    messages_sent: int = 0  # WS data frames actually written
    messages_by_kind: Counter[str] = field(default_factory=Counter)
    orders_placed: int = 0  # accepted by the engine
    orders_canceled: int = 0
    auth_failures: int = 0
    rate_limited: int = 0  # 429s answered

    @property
    def rest_total(self) -> int:
        """All REST calls."""
        return sum(self.rest_calls.values())


class WeightWindow:
    """A sliding one-minute request-weight counter (Binance-style used-weight headers)."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._items: deque[tuple[float, int]] = deque()
        self._used = 0

    def _trim(self, now: float) -> None:
        while self._items and now - self._items[0][0] >= self.window_s:
            self._used -= self._items.popleft()[1]

    def add(self, weight: int) -> int:
        """Record `weight` now and return the total used in the window."""
        now = time.monotonic()
        self._trim(now)
        self._items.append((now, weight))
        self._used += weight
        return self._used

    @property
    def used(self) -> int:
        """Weight used in the current window."""
        self._trim(time.monotonic())
        return self._used

    def retry_after_s(self) -> int:
        """Seconds until the oldest entry leaves the window (at least 1)."""
        if not self._items:
            return 1
        return max(1, int(math.ceil(self.window_s - (time.monotonic() - self._items[0][0]))))


_Frame: TypeAlias = "tuple[Literal['text', 'ping', 'pong', 'close'], str | bytes]"


class SimConnection:
    """One accepted WebSocket: a writer queue (so sends never block the engine), server
    pings with a pong deadline, venue state (`subscriptions`, `data`) and fault hooks.

    Iterate it (`async for text in conn`) to receive text frames; the iteration ends when
    the client closes, the connection is dropped, or the server stops.
    """

    def __init__(
        self, sim: SimExchange, request: web.Request, ws: web.WebSocketResponse, kind: str, cid: int
    ) -> None:
        self.sim = sim
        self.request = request
        self.ws = ws
        self.kind = kind
        self.id = cid
        self.path = request.path
        self.query = request.query
        self.subscriptions: set[str] = set()
        self.data: dict[str, object] = {}
        self.opened_ms = now_ms()
        self.stalled_until = 0.0
        self.last_pong = time.monotonic()
        self.pings_sent = 0
        self.pongs_received = 0
        self._queue: asyncio.Queue[_Frame] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        # chaos hooks (see `Faults.lose`, `Faults.mutate`, `Faults.noise`): off = no cost
        self._lose: list[str | None] = []  # substrings: the next frame holding one is not sent
        self._mutate: list[tuple[str | None, Callable[[str], str]]] = []
        self._noise_every = sim.faults._noise_every
        self._noise_n = 0

    def __repr__(self) -> str:
        return f"<SimConnection #{self.id} {self.kind} {self.path}>"

    @property
    def closed(self) -> bool:
        """True once closed, dropped or stopped."""
        return self._closed or self.ws.closed

    def send(self, payload: JSONValue | str) -> None:
        """Queue a text frame: a str as is, anything else JSON-encoded compactly."""
        if self.closed:
            return
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        if self._lose or self._mutate or self._noise_every:
            out = self._chaos(text)
            if out is None:
                return
            text = out
        self._queue.put_nowait(("text", text))

    def _chaos(self, text: str) -> str | None:
        """Apply armed chaos hooks to one outgoing frame: None = lost (never sent)."""
        for i, match in enumerate(self._lose):
            if match is None or match in text:
                del self._lose[i]
                self.sim.faults.lost += 1
                return None
        for i, (match, fn) in enumerate(self._mutate):
            if match is None or match in text:
                del self._mutate[i]
                text = fn(text)
                self.sim.faults.mutated += 1
                break
        if self._noise_every:
            self._noise_n += 1
            if self._noise_n % self._noise_every == 0:  # 1 in N: a malformed or unknown frame
                bad = self._noise_n // self._noise_every % 2
                extra = self.sim.malformed_frame(self) if bad else self.sim.unknown_frame(self)
                self._queue.put_nowait(("text", extra))
                self.sim.faults.noise_sent += 1
        return text

    def close(self, code: int = 1000, message: str = "") -> None:
        """Queue a clean close frame (after anything already queued)."""
        if not self.closed:
            self._queue.put_nowait(("close", f"{code}:{message}"))

    def abort(self) -> None:
        """Drop the TCP connection with no close frame (what a client sees as 1006)."""
        self._closed = True
        tr = self.request.transport
        if tr is not None:
            tr.abort()
        for t in self._tasks:
            t.cancel()

    def stall(self, seconds: float) -> None:
        """Write nothing (data, pings, pongs) for `seconds`; queued frames go out after."""
        self.stalled_until = max(self.stalled_until, time.monotonic() + seconds)

    def _start(self) -> None:
        self._tasks.append(asyncio.ensure_future(self._writer()))
        if self.sim.ping_interval and self.sim.ping_interval > 0:
            self._tasks.append(asyncio.ensure_future(self._pinger()))

    async def _writer(self) -> None:
        """Drain the queue onto the socket, holding everything while stalled."""
        while True:
            try:
                kind, data = await self._queue.get()
                delay = self.stalled_until - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if self.ws.closed:
                    return
                if kind == "text":
                    assert isinstance(data, str)
                    await self.ws.send_str(data)
                    self.sim.stats.messages_sent += 1
                    self.sim.stats.messages_by_kind[self.kind] += 1
                elif kind in ("ping", "pong"):
                    payload = data.encode() if isinstance(data, str) else bytes(data)
                    await (self.ws.ping if kind == "ping" else self.ws.pong)(payload)
                else:
                    code, _, msg = str(data).partition(":")
                    await self.ws.close(code=int(code), message=msg.encode())
                    return
            except (ConnectionError, RuntimeError, asyncio.CancelledError):
                return
            except Exception:  # one bad frame must not silence the connection
                log.exception("sim ws #%d: writing a %s frame failed", self.id, kind)

    async def _pinger(self) -> None:
        interval = self.sim.ping_interval
        try:
            while not self.closed:
                await asyncio.sleep(interval)
                if time.monotonic() < self.stalled_until:
                    continue
                if time.monotonic() - self.last_pong > self.sim.pong_timeout:
                    log.info(
                        "sim ws #%d: no pong in %.1fs, closing", self.id, self.sim.pong_timeout
                    )
                    self.close(1008, "pong timeout")
                    return
                self.pings_sent += 1
                self._queue.put_nowait(("ping", str(now_ms()).encode()))
        except asyncio.CancelledError:
            return

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[str]:
        while not self.closed:
            try:
                msg = await self.ws.receive()
            except (ConnectionError, asyncio.CancelledError, RuntimeError):
                return
            if msg.type == WSMsgType.TEXT:
                yield msg.data
            elif msg.type == WSMsgType.BINARY:
                yield msg.data.decode("utf-8", "replace")
            elif msg.type == WSMsgType.PING:
                self._queue.put_nowait(("pong", msg.data))
            elif msg.type == WSMsgType.PONG:
                self.pongs_received += 1
                self.last_pong = time.monotonic()
            else:  # CLOSE, CLOSING, CLOSED, ERROR
                return

    async def _shutdown(self) -> None:
        self._closed = True
        for t in self._tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            if not self.ws.closed:
                await asyncio.wait_for(self.ws.close(code=1001, message=b"server stopping"), 1.0)


class Faults:
    """Fault injection for a running sim (`ex.faults`).

    Immediate faults act on the connections open now: `drop`, `stall`, `malformed`.
    Armed faults are consumed later by the venue code: `gap` (next book update of every
    stream skips a sequence id), `rate_limit(n)` and `reject_auth(n)` (next n REST calls /
    auth checks), `bad_checksum` (next checksummed update of every stream). Venue code
    consumes armed faults with `take_rate_limit()`, `take_reject_auth()`,
    `consume_gap(key)` and `consume_bad_checksum(key)`.
    """

    def __init__(self, sim: SimExchange) -> None:
        self._sim = sim
        self._rate_limit = 0
        self._reject_auth = 0
        self._gap_gen = 0
        self._gap_seen: dict[object, int] = {}
        self._cks_gen = 0
        self._cks_seen: dict[object, int] = {}
        self._noise_every = 0
        self.lost = 0  # frames `lose` kept from being sent
        self.mutated = 0  # frames `mutate` rewrote
        self.noise_sent = 0  # malformed/unknown frames `noise` interleaved

    def __repr__(self) -> str:
        return f"<Faults rate_limit={self._rate_limit} reject_auth={self._reject_auth}>"

    def _conns(self, kind: str | None) -> list[SimConnection]:
        return [c for c in self._sim.connections(kind) if not c.closed]

    def drop(self, kind: str | None = None) -> int:
        """Abort every WS connection (of `kind`, if given) with no close frame; returns count."""
        conns = self._conns(kind)
        for c in conns:
            c.abort()
        log.info("sim fault: dropped %d connection(s)", len(conns))
        return len(conns)

    def stall(self, seconds: float, kind: str | None = None) -> int:
        """Stop writing on every WS (of `kind`) for `seconds`, keeping it open; returns count."""
        conns = self._conns(kind)
        for c in conns:
            c.stall(seconds)
        return len(conns)

    def gap(self) -> None:
        """Make the next book update of every sequenced stream skip one sequence id."""
        for b in self._sim.engine.books.values():
            b.skip_next()
        self._gap_gen += 1

    def malformed(self, kind: str | None = None) -> int:
        """Send one malformed frame (venue-chosen) on every WS (of `kind`); returns count."""
        conns = self._conns(kind)
        for c in conns:
            c.send(self._sim.malformed_frame(c))
        return len(conns)

    def lose(self, match: str | None = None, n: int = 1, kind: str | None = None) -> int:
        """Never send the next `n` frames holding `match` (any frame if None) on every WS (of
        `kind`): a frame really lost, not a skipped sequence id. Returns the connections armed."""
        conns = self._conns(kind)
        for c in conns:
            c._lose.extend([match] * n)
        return len(conns)

    def mutate(
        self, fn: Callable[[str], str], match: str | None = None, kind: str | None = None
    ) -> int:
        """Rewrite the next frame holding `match` on every WS (of `kind`) with `fn(text)` (e.g.
        a price turned into "NaN"); the engine's state is untouched. Returns the count armed."""
        conns = self._conns(kind)
        for c in conns:
            c._mutate.append((match, fn))
        return len(conns)

    def noise(self, every: int = 10) -> None:
        """From now on, after every `every`-th frame of every WS (open or opened later) send one
        extra frame, alternately unknown (`unknown_frame`) and malformed; 0 turns it off."""
        self._noise_every = every
        for c in self._sim.connections():
            c._noise_every = every

    async def restart(self, down_s: float = 1.0) -> None:
        """Kill the server (every socket closed, port released), stay down `down_s`, then serve
        again on the same port; the engine (prices, orders, accounts) lives on."""
        port = self._sim.port
        await self._sim.stop()
        await asyncio.sleep(down_s)
        self._sim._want_port = port
        await self._sim.start()

    def rate_limit(self, n: int = 1) -> None:
        """Answer the next `n` REST calls with the venue's 429."""
        self._rate_limit += n

    def reject_auth(self, n: int = 1) -> None:
        """Fail the next `n` authentication checks (REST signatures, WS logins)."""
        self._reject_auth += n

    def bad_checksum(self) -> None:
        """Corrupt the checksum of the next checksummed update of every stream.

        Raises:
            NotImplementedError: the venue has no checksums (Binance).
        """
        if not self._sim.HAS_CHECKSUM:
            raise NotImplementedError(f"{self._sim.venue} has no book checksums")
        self._cks_gen += 1

    def clear(self) -> None:
        """Disarm every armed fault."""
        self._rate_limit = self._reject_auth = 0
        for b in self._sim.engine.books.values():
            b._skip_next = False
        self._gap_seen = {k: self._gap_gen for k in self._gap_seen}
        self._cks_seen = {k: self._cks_gen for k in self._cks_seen}

    # -- consumed by venue code ---------------------------------------------------------------

    def take_rate_limit(self) -> bool:
        """True (once per armed call) when this REST call must be answered with a 429."""
        if self._rate_limit > 0:
            self._rate_limit -= 1
            return True
        return False

    def take_reject_auth(self) -> bool:
        """True (once per armed call) when this auth check must fail."""
        if self._reject_auth > 0:
            self._reject_auth -= 1
            return True
        return False

    def consume_gap(self, key: object) -> bool:
        """True once per `gap()` for each stream `key` (for venue-kept sequences)."""
        seen = self._gap_seen.setdefault(key, 0)
        if seen < self._gap_gen:
            self._gap_seen[key] = self._gap_gen
            return True
        return False

    def consume_bad_checksum(self, key: object) -> bool:
        """True once per `bad_checksum()` for each stream `key`."""
        seen = self._cks_seen.setdefault(key, 0)
        if seen < self._cks_gen:
            self._cks_seen[key] = self._cks_gen
            return True
        return False


class SimExchange:
    """A simulated venue: one aiohttp app on 127.0.0.1 serving REST and WebSocket paths.

    Use `async with sim("binance") as ex:` or `await ex.start()` / `await ex.stop()`.
    Then: `ex.port`, `ex.base_http`, `ex.base_ws`, `ex.make_url(path)`, `ex.urls` (real
    base URL -> local URL), `ex.credentials`, `ex.stats`, `ex.faults`, `ex.engine`,
    `ex.tick()` (advance the price process by hand) and `await ex.wait_for(pred)`.

    Subclasses set the class attributes and implement the hooks below.
    """

    __test__ = False  # not a pytest test class despite living near tests

    venue: ClassVar[str] = "base"
    #: real base URL -> local path prefix ("" = served at the root). ws(s):// bases map
    #: onto `base_ws`, http(s):// onto `base_http`.
    URL_MAP: ClassVar[Mapping[str, str]] = {}
    HAS_CHECKSUM: ClassVar[bool] = False

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        tick_interval: float | None = 0.075,
        ping_interval: float = 20.0,
        pong_timeout: float = 60.0,
        api_key: str | None = None,
        api_secret: str | None = None,
        instruments: Iterable[Instrument] | None = None,
        accounts: Mapping[str, Account] | None = None,
    ) -> None:
        """Configure (nothing is bound until `start()`).

        `tick_interval` is the price-process period in seconds (None: only `tick()` by hand);
        `ping_interval`/`pong_timeout` drive server WS pings; credentials are random unless
        given.
        """
        self.host = host
        self._want_port = port
        self.seed = seed
        self.tick_interval = tick_interval
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self._api_key = api_key or secrets.token_hex(32)
        self._api_secret = api_secret or secrets.token_hex(32)
        self.stats = SimStats()
        self.faults = Faults(self)
        insts = list(instruments) if instruments is not None else self.default_instruments()
        accts = dict(accounts) if accounts is not None else self.default_accounts()
        self.engine = MatchingEngine(insts, accts, seed=seed)
        self.engine.add_listener(self._on_engine_event)
        self._conns: dict[int, SimConnection] = {}
        self._next_conn = 1
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._ticker: asyncio.Task[None] | None = None
        self._changed: asyncio.Event | None = None
        self.app = web.Application(middlewares=[self._middleware])
        self.setup_routes(self.app)

    def __repr__(self) -> str:
        state = f"port={self._port}" if self._runner else "stopped"
        return f"<{type(self).__name__} {self.venue} {state}>"  # never a credential

    # -- hooks for venue subclasses -----------------------------------------------------------

    def default_instruments(self) -> list[Instrument]:
        """Instruments served when none are given."""
        raise NotImplementedError

    def default_accounts(self) -> dict[str, Account]:
        """Accounts (with starting balances) when none are given."""
        raise NotImplementedError

    def setup_routes(self, app: web.Application) -> None:
        """Add the venue's REST and WebSocket routes to `app`."""
        raise NotImplementedError

    def on_event(self, event: SimEvent) -> None:
        """Turn one engine event into the venue's frames (called synchronously)."""

    def rate_limited_response(self, request: web.Request) -> web.StreamResponse:
        """The venue's 429 answer (override with the real body and headers)."""
        return web.json_response(
            {"error": "rate limited"}, status=429, headers={"Retry-After": "1"}
        )

    def malformed_frame(self, conn: SimConnection) -> str:
        """A frame the venue's clients cannot parse (truncated JSON by default)."""
        return '{"e":"trunc'

    def unknown_frame(self, conn: SimConnection) -> str:
        """A well-formed frame of a kind the client never asked for (`Faults.noise`)."""
        return '{"e":"chaosUnknown","E":0,"topic":"chaos.unknown","data":{"x":1}}'

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> SimExchange:
        """Bind, serve and start the price process; returns self."""
        if self._runner is not None:
            return self
        self._changed = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._want_port, reuse_address=True)
        await site.start()
        self._runner = runner
        bound = runner.addresses  # getsockname() of each listening socket: one site, ours
        assert bound
        self._port = int(bound[0][1])
        if self.tick_interval:
            self._ticker = asyncio.ensure_future(self._tick_loop())
        log.info("sim %s serving on %s", self.venue, self.base_http)
        return self

    async def stop(self) -> None:
        """Stop ticking, close every WebSocket and release the port."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ticker
            self._ticker = None
        conns = list(self._conns.values())
        if conns:
            await asyncio.gather(*(c._shutdown() for c in conns), return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimExchange:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _tick_loop(self) -> None:
        assert self.tick_interval
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                self.tick()
            except Exception:
                log.exception("sim %s tick failed", self.venue)

    def tick(self) -> None:
        """Advance the price process one step now (tests with `tick_interval=None`)."""
        self.engine.tick()
        self.notify()

    # -- addresses and credentials ------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port (0 before `start()`)."""
        return self._port

    @property
    def base_http(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://{self.host}:{self._port}"

    @property
    def base_ws(self) -> str:
        """ws://127.0.0.1:PORT"""
        return f"ws://{self.host}:{self._port}"

    def make_url(self, path: str, *, ws: bool = False) -> str:
        """Local URL of `path` (a path, or a full real-venue URL which is rewritten)."""
        if "://" in path:
            for real, local in sorted(self.urls.items(), key=lambda kv: -len(kv[0])):
                if path == real or path.startswith(real + "/") or path.startswith(real + "?"):
                    return local + path[len(real) :]
            raise ValueError("URL is not one this sim serves")
        if not path.startswith("/"):
            path = "/" + path
        return (self.base_ws if ws else self.base_http) + path

    @property
    def urls(self) -> dict[str, str]:
        """Each real venue base URL mapped to the local URL serving it."""
        out: dict[str, str] = {}
        for real, prefix in self.URL_MAP.items():
            base = self.base_ws if real.startswith("ws") else self.base_http
            out[real] = base + prefix
        return out

    @property
    def ws_url(self) -> str:
        """ws://127.0.0.1:PORT (docs/STYLE.md's name for `base_ws`)."""
        return self.base_ws

    @property
    def rest_url(self) -> str:
        """http://127.0.0.1:PORT (docs/STYLE.md's name for `base_http`)."""
        return self.base_http

    @property
    def credentials(self) -> dict[str, str]:
        """The API key and secret this sim accepts: {"api_key", "api_secret"}."""
        return {"api_key": self._api_key, "api_secret": self._api_secret}

    def key_ok(self, api_key: str | None) -> bool:
        """Is `api_key` the sim's key?"""
        return api_key is not None and hmac.compare_digest(api_key.encode(), self._api_key.encode())

    def sign_hex(self, payload: str | bytes) -> str:
        """HMAC-SHA256 of `payload` under the sim's secret, lowercase hex."""
        data = payload.encode() if isinstance(payload, str) else payload
        return hmac.new(self._api_secret.encode(), data, hashlib.sha256).hexdigest()

    def verify_hex(self, payload: str | bytes, signature: str | None) -> bool:
        """Does `signature` (hex, any case) match `payload`? Consumes a `reject_auth` fault."""
        if self.faults.take_reject_auth():
            self.stats.auth_failures += 1
            return False
        ok = signature is not None and hmac.compare_digest(
            self.sign_hex(payload), signature.lower()
        )
        if not ok:
            self.stats.auth_failures += 1
        return ok

    # -- connections and events ---------------------------------------------------------------

    def connections(self, kind: str | None = None) -> list[SimConnection]:
        """Open WebSocket connections (of `kind`, if given)."""
        return [c for c in self._conns.values() if kind is None or c.kind == kind]

    @contextlib.asynccontextmanager
    async def websocket(self, request: web.Request, kind: str) -> AsyncIterator[SimConnection]:
        """Accept a WebSocket upgrade as a tracked connection of `kind` (see module doc)."""
        ws = web.WebSocketResponse(autoping=False, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        cid = self._next_conn
        self._next_conn += 1
        conn = SimConnection(self, request, ws, kind, cid)
        self._conns[cid] = conn
        self.stats.ws_opened[kind] += 1
        self.stats.ws_open[kind] += 1
        conn._start()
        self.notify()
        try:
            yield conn
        finally:
            self._conns.pop(cid, None)
            self.stats.ws_open[kind] -= 1
            conn._closed = True
            for t in conn._tasks:
                t.cancel()
            with contextlib.suppress(Exception):
                if not ws.closed:
                    await asyncio.wait_for(ws.close(), 1.0)
            self.notify()

    def _on_engine_event(self, ev: SimEvent) -> None:
        if isinstance(ev, OrderUpdate) and ev.exec_type is ExecType.NEW:
            self.stats.orders_placed += 1
        elif isinstance(ev, OrderUpdate) and ev.exec_type is ExecType.CANCELED:
            self.stats.orders_canceled += 1
        self.on_event(ev)
        self.notify()

    def notify(self) -> None:
        """Wake `wait_for` waiters (state may have changed)."""
        if self._changed is not None:
            self._changed.set()

    async def wait_for(self, predicate: Callable[[], _T], timeout: float = 5.0) -> _T:
        """Wait until `predicate()` is truthy (re-checked on every sim change); return it.

        Raises:
            TimeoutError: still falsy after `timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            v = predicate()
            if v:
                return v
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError("sim condition not met in time")
            if self._changed is None:
                self._changed = asyncio.Event()
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.05))

    # -- REST plumbing ------------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], object]
    ) -> web.StreamResponse:
        is_ws = request.headers.get("Upgrade", "").lower() == "websocket"
        if not is_ws:
            self.stats.rest_calls[request.path] += 1
            if self.faults.take_rate_limit():
                self.stats.rate_limited += 1
                log.warning("sim %s: injected 429 on %s", self.venue, request.path)
                return self.rate_limited_response(request)
        try:
            resp = await handler(request)  # type: ignore[misc]
        except web.HTTPException:
            raise
        except Exception:
            log.exception(
                "sim %s: handler failed on %s %s", self.venue, request.method, request.path
            )
            return web.json_response({"error": "internal sim error"}, status=500)
        assert isinstance(resp, web.StreamResponse)
        if not is_ws:
            self.notify()
        return resp

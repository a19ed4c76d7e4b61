"""The normalized, immutable results strategies get back from `ctx` calls.

Every result says where it came from (`source`: "ws" for the stream cache, "rest" for a REST
call), when we last updated it (`last_update`, local int ns) and the venue's own event time
(`ts_event`, int ns) where the venue sends one. Prices and sizes here are floats: these are views;
the cache keeps books exact (int ticks) and converts on the way out.
"""

from __future__ import annotations

from typing import Literal

import msgspec
import numpy as np

__all__ = [
    "Account",
    "Balance",
    "OrderBook",
    "Order",
    "Position",
    "Source",
    "Ticker",
    "Trade",
    "TradeConfirm",
]

Source = Literal["ws", "rest"]
Side = Literal["buy", "sell"]
OrderStatus = Literal["new", "partially_filled", "filled", "canceled", "rejected", "expired"]


class Ticker(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Best bid/ask (and last price where the venue's ticker carries it) for one symbol."""

    venue: str
    market: str  # "spot", "usdm", "linear", ...
    symbol: str
    bid: float | None
    bid_size: float | None
    ask: float | None
    ask_size: float | None
    last: float | None = None
    volume_24h: float | None = None
    ts_event: int | None = None
    last_update: int
    source: Source

    @property
    def mid(self) -> float | None:
        """Mid of best bid and ask, or None when a side is missing."""
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2


class OrderBook(msgspec.Struct, frozen=True, kw_only=True):
    """Top levels of a book: `bids`/`asks` are float64 arrays of shape (k, 2), [price, size]."""

    venue: str
    market: str
    symbol: str
    bids: np.ndarray
    asks: np.ndarray
    seq: int | None = None
    ts_event: int | None = None
    last_update: int
    source: Source

    @property
    def best_bid(self) -> float | None:
        return float(self.bids[0, 0]) if len(self.bids) else None

    @property
    def best_ask(self) -> float | None:
        return float(self.asks[0, 0]) if len(self.asks) else None


class Balance(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One asset's balance: `free` + `locked` = `total`."""

    asset: str
    free: float
    locked: float

    @property
    def total(self) -> float:
        return self.free + self.locked


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """Balances of one account on one market (spot wallet, futures margin, unified wallet)."""

    venue: str
    market: str
    balances: dict[str, Balance]
    equity: float | None = None  # venue-reported total equity in its quote/settle currency
    available: float | None = None  # venue-reported available margin/balance
    ts_event: int | None = None
    last_update: int
    source: Source

    def balance(self, asset: str) -> Balance:
        """The balance of ASSET (zero when the account holds none)."""
        return self.balances.get(asset) or Balance(asset=asset, free=0.0, locked=0.0)


class Position(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A derivatives position; `size` is signed (negative = short)."""

    venue: str
    market: str
    symbol: str
    size: float
    entry_price: float | None = None
    mark_price: float | None = None
    unrealized_pnl: float | None = None
    leverage: float | None = None
    position_side: str = "both"  # "both" (one-way), or "long"/"short" in hedge mode
    ts_event: int | None = None
    last_update: int
    source: Source


class Order(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An order as the venue last reported it."""

    venue: str
    market: str
    symbol: str
    order_id: str
    client_order_id: str | None = None
    side: Side
    type: str  # "limit", "market", ...
    price: float | None
    quantity: float
    filled: float = 0.0
    avg_price: float | None = None
    status: OrderStatus
    time_in_force: str | None = None
    ts_event: int | None = None
    last_update: int
    source: Source

    @property
    def is_open(self) -> bool:
        return self.status in ("new", "partially_filled")


class Trade(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One public trade (or one of our fills when `order_id` is set)."""

    venue: str
    market: str
    symbol: str
    price: float
    size: float
    side: Side | None = None  # the taker's side where the venue says
    trade_id: str | None = None
    order_id: str | None = None
    ts_event: int | None = None
    last_update: int
    source: Source


class TradeConfirm(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The outcome of one IG deal (open, close, amend, working order): `/confirms` or the stream.

    `deal_status` is "ACCEPTED" or "REJECTED" (then `reason` says why); `status` is what
    happened to the deal (OPEN, AMENDED, DELETED, PARTIALLY_CLOSED, FULLY_CLOSED, ...).
    `affected_deals` pairs each deal id the deal touched with its status.
    """

    venue: str
    market: str
    deal_reference: str
    deal_id: str | None = None
    deal_status: str | None = None
    status: str | None = None
    epic: str | None = None
    direction: str | None = None  # "BUY" / "SELL", as IG writes it
    size: float | None = None
    level: float | None = None
    reason: str | None = None
    affected_deals: tuple[tuple[str, str | None], ...] = ()
    ts_event: int | None = None
    last_update: int
    source: Source

    @property
    def accepted(self) -> bool:
        return self.deal_status == "ACCEPTED"

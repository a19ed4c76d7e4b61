"""The shared vocabulary of sans-I/O venue protocols: events out, requests out, one base shape.

A venue protocol is fed frames (`receive(frame, ts)`) and REST answers (`rest_response`) and
returns events (nouns for what arrived); what it wants sent it queues for the transport to drain
(`outgoing()` for WebSocket frames, `requests()` for REST calls). It never reads a clock: every
input carries `ts` (local int ns) and timers arrive as `tick(ts)`.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import msgspec

from spinstream.models import Account, Order, Position, Ticker, Trade

__all__ = [
    "AccountUpdate",
    "AuthFailed",
    "Authenticated",
    "BalanceUpdate",
    "BookUpdated",
    "Event",
    "Fresh",
    "Liveness",
    "Malformed",
    "OrderUpdate",
    "PositionUpdate",
    "RestRequest",
    "Stale",
    "StreamProtocol",
    "Subscribed",
    "TickerStats",
    "TickerUpdate",
    "TradeUpdate",
]

# "ticker24h": the 24 h stats (`TickerStats`) that Binance USD-M sends on a stream of their own
Kind = Literal["ticker", "ticker24h", "book", "account", "positions", "orders", "trades"]


class TickerUpdate(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A ticker arrived (already merged with earlier deltas where the venue sends deltas)."""

    ticker: Ticker


class TickerStats(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Rolling 24 h stats of a symbol from a stream other than its best bid/ask (USD-M `/market`).

    The cache merges them into that symbol's ticker; the bid/ask stream decides its freshness.
    """

    venue: str
    market: str
    symbol: str
    last: float | None
    volume_24h: float | None
    ts_event: int | None
    ts_recv: int


class BookUpdated(msgspec.Struct, frozen=True, kw_only=True):
    """A book changed in place and is in sync; `book` is the live `_core.Book` the protocol owns.

    The cache keeps a reference to it and converts on read, so no copy is made per update.
    """

    venue: str
    market: str
    symbol: str
    book: Any  # spinstream._core.Book (typed Any: protocol/ sees it only through booksync)
    seq: int | None
    ts_event: int | None
    ts_recv: int


class AccountUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A full account state (REST seed or a venue push that carries every asset)."""

    account: Account


class BalanceUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """Some assets changed: merge `account.balances` into the cached account by asset."""

    account: Account


class PositionUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """Positions changed; `full` means these are all positions of the market (a REST seed)."""

    venue: str
    market: str
    positions: tuple[Position, ...]
    full: bool = False
    ts_recv: int


class OrderUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """Orders changed; `full` means these are all open orders of the market (a REST seed)."""

    venue: str
    market: str
    orders: tuple[Order, ...]
    full: bool = False
    ts_recv: int


class TradeUpdate(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Public trades (or our fills) that arrived in one frame."""

    trades: tuple[Trade, ...]


class Subscribed(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The venue confirmed a subscription."""

    venue: str
    topic: str
    ts_recv: int


class Authenticated(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A private session is authenticated (login accepted, user data subscribed)."""

    venue: str
    market: str
    ts_recv: int


class AuthFailed(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The venue refused our credentials; `reason` never contains a secret."""

    venue: str
    market: str
    reason: str
    ts_recv: int


class Stale(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Cached items are no longer trustworthy: answer them from REST until `Fresh` arrives.

    `kind` None means every kind of the market; `symbol` None means every symbol.
    """

    venue: str
    market: str
    kind: Kind | None = None
    symbol: str | None = None
    reason: str
    ts_recv: int


class Fresh(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Items marked stale are in sync again (after a resync or a REST seed)."""

    venue: str
    market: str
    kind: Kind | None = None
    symbol: str | None = None
    ts_recv: int


class Malformed(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A frame we could not decode or did not expect; logged and counted, never raised."""

    venue: str
    reason: str
    ts_recv: int


Event = (
    TickerUpdate | BookUpdated | TickerStats | AccountUpdate | BalanceUpdate | PositionUpdate
    | OrderUpdate | TradeUpdate | Subscribed | Authenticated | AuthFailed | Stale | Fresh
    | Malformed
)  # fmt: skip


class Liveness(msgspec.Struct, frozen=True, kw_only=True):
    """How a venue's connection proves it is alive; the protocol declares it, the transport
    times it (a protocol reads no clock).

    Any data frame, and the pong to a WebSocket ping the transport sends every `ping_s`
    (None: none sent), is a proof of life. A connection with no proof for `silent_s` is dead:
    everything it feeds is stale at once (reason "silent") and it reconnects. Frames whose
    events carry the venue's time (`ts_event`) measure the lag (our receive minus the venue's
    time, less the clock offset); above `lag_s` the items it feeds are stale (reason
    "lagging") until the lag falls back. `max_backoff_s` caps the reconnect delay (market
    data reconnects quickly).
    """

    silent_s: float = 5.0
    ping_s: float | None = 2.0
    lag_s: float = 2.0
    max_backoff_s: float = 5.0


MARKET_DATA = Liveness()  # public streams: a stall is found within 5 s (+ one watch step)
PRIVATE = Liveness(silent_s=10.0, ping_s=4.0, max_backoff_s=30.0)  # account streams


class RestRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A REST call a protocol or a client wants made; built and signed by the venue's rest.py.

    `base` names one of the venue's REST bases (e.g. "spot", "usdm"); the transport resolves it
    to a URL through the workspace's overrides. `cost` is what the call takes from each of the
    venue's rate-limit buckets. `req_id` lets a protocol match the answer to its request.
    """

    method: str
    base: str
    path: str
    query: str = ""  # already encoded (and signed where needed); appended after "?"
    body: str | None = None
    headers: dict[str, str] = {}
    cost: dict[str, int] = {}
    req_id: int = 0

    def __repr__(self) -> str:  # headers may carry keys and signatures
        return f"RestRequest({self.method} {self.base}{self.path}, cost={self.cost})"


class StreamProtocol(Protocol):
    """What the transport drives: one WebSocket connection's venue rules (docs/STYLE.md §4)."""

    TICK_S: float

    def connected(self, ts: int) -> list[Event]: ...

    def receive(self, frame: str | bytes, ts: int) -> list[Event]: ...

    def rest_response(self, req_id: int, status: int, body: bytes, ts: int) -> list[Event]: ...

    def disconnected(self, ts: int) -> list[Event]: ...

    def tick(self, ts: int) -> list[Event]: ...

    def outgoing(self) -> list[str]: ...

    def requests(self) -> list[RestRequest]: ...

"""Bybit v5 stream rules, sans I/O: one object per WebSocket connection.

`BybitPublic(market)` drives `/v5/public/{linear|spot}`: subscribe/unsubscribe frames with a
`req_id` per topic, acks -> `Subscribed`, `orderbook.{depth}.{symbol}` through a `SyncedBook`
(Bybit rule; a gap resubscribes the topic, Bybit answers with a fresh snapshot), linear
`tickers` deltas merged into the last full ticker, spot tickers built from `orderbook.1` (best
levels) plus `tickers` (last price, volume: spot tickers carry no bid/ask), `publicTrade`.

A `TickerUpdate` (what the cache serves as fresh) always has both sides: a spot ticker is
first emitted once both its `orderbook.1` and its `tickers` snapshot of this connection are in
(a reconnect forgets both), and a top of book or a linear ticker missing a side is not emitted
(`Stale` for that symbol if it was being served). A book or `orderbook.1` push rejected as
`Malformed` is a lost push, like a gap: what it fed is stale at once (a book is invalidated and
its deltas dropped) and the topic is resubscribed for a new snapshot.

`BybitPrivate` drives `/v5/private`: the auth frame, then one subscribe request for the
all-in-one topics `wallet`, `position`, `order`, `execution`; once that is acked it emits
`Authenticated` and queues the REST seeds (Bybit pushes no snapshot): wallet balance,
positions per settle coin, open orders per market. Pushes that arrive before a kind's seed has
answered are buffered and replayed on top of it, minus those older than the seed's record (per
order `updatedTime`, per position `seq`, wallet `creationTime` vs the answer's server `time`);
pushes before the ack are dropped, since the seeds, asked after it, already include them.
A refused auth is `AuthFailed` + `Stale` and nothing is subscribed; the auth frame is sent
again from `tick` after `AUTH_RETRY_S`, doubling up to `AUTH_RETRY_MAX_S` (on this connection,
or on the next one once the delay is over; `protocol.retry.AuthRetry`), and `problem` says why
meanwhile.

Both ping (`{"op":"ping"}`) every `PING_S` from `tick(ts)`, accept both pong formats, and call
a connection dead after `TIMEOUT_S` without any frame: `Stale` for everything it feeds and
`reconnect_wanted` set for the transport. `disconnected` marks all of it stale; `connected`
re-authenticates and resubscribes all of it.

    public:  DISCONNECTED <-> CONNECTED
    private: DISCONNECTED -> AUTHENTICATING -> SUBSCRIBING -> LIVE;  AUTHENTICATING -> WAITING
             (auth refused) -> AUTHENTICATING (retry due);  DISCONNECTED -> WAITING (connected
             before the retry is due);  SUBSCRIBING -> FAILED (subscription refused; nothing
             more is sent);  any state -> DISCONNECTED
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec

from spinstream.credentials import Credentials
from spinstream.errors import ParseError, SpinstreamError, UnsupportedError
from spinstream.models import Order, Position, Ticker
from spinstream.protocol.booksync import Action, BybitRule, SyncedBook, SyncState
from spinstream.protocol.connection import Connection, Seed
from spinstream.protocol.events import (
    MARKET_DATA,
    PRIVATE,
    AccountUpdate,
    Authenticated,
    BalanceUpdate,
    BookUpdated,
    Event,
    Kind,
    OrderUpdate,
    PositionUpdate,
    Subscribed,
    TickerUpdate,
    TradeUpdate,
)
from spinstream.protocol.values import stamp

from . import auth, parse, rest, schemas

__all__ = [
    "BOOK_DEPTHS",
    "ENVS",
    "BybitPrivate",
    "BybitPublic",
    "Link",
    "Session",
]

log = logging.getLogger(__name__)

VENUE = parse.VENUE
ENVS = ("live", "testnet", "demo")
BOOK_DEPTHS = (50, 200, 1000)  # orderbook.1 is snapshot-only and serves spot tickers
_NS = 1_000_000_000
_MS = 1_000_000
_TICKER = schemas.TickerFloats
_APPLY = Action.APPLY
_RESET = Action.RESET
_RESYNC = Action.RESYNC
_SYNCED = SyncState.SYNCED


class Link(enum.Enum):
    """A public connection's state."""

    DISCONNECTED = "disconnected"
    CONNECTED = "connected"


class Session(enum.Enum):
    """A private connection's state."""

    DISCONNECTED = "disconnected"
    AUTHENTICATING = "authenticating"  # auth frame sent
    SUBSCRIBING = "subscribing"  # auth accepted, subscribe sent
    LIVE = "live"  # subscription acked; kinds seed from REST, then apply pushes
    WAITING = "waiting"  # auth refused: the auth frame goes again once the backoff allows
    FAILED = "failed"  # subscription refused: nothing more is sent


LINK_MOVES: dict[Link, frozenset[Link]] = {
    Link.DISCONNECTED: frozenset({Link.CONNECTED}),
    Link.CONNECTED: frozenset({Link.DISCONNECTED}),
}
SESSION_MOVES: dict[Session, frozenset[Session]] = {
    Session.DISCONNECTED: frozenset({Session.AUTHENTICATING, Session.WAITING}),
    Session.AUTHENTICATING: frozenset(
        {Session.SUBSCRIBING, Session.WAITING, Session.FAILED, Session.DISCONNECTED}
    ),
    Session.WAITING: frozenset({Session.AUTHENTICATING, Session.DISCONNECTED}),
    Session.SUBSCRIBING: frozenset({Session.LIVE, Session.FAILED, Session.DISCONNECTED}),
    Session.LIVE: frozenset({Session.DISCONNECTED}),
    Session.FAILED: frozenset({Session.DISCONNECTED}),
}


def _ms_ns(ms: int | str | None) -> int | None:
    try:
        return parse.ms_to_ns(ms)
    except ParseError:
        return None


class _Stream(Connection[Any]):
    """What both connections add to `Connection`: op acks, pings, the no-data timeout."""

    VENUE = VENUE
    log = log
    TICK_S = 1.0  # the transport calls tick() this often
    PING_S = 20.0  # Bybit recommends a ping every 20 s
    TIMEOUT_S = 45.0  # no frame at all for this long (two pings unanswered): dead
    RETRY_S = 5.0  # a failed REST call (instrument info, seed) is retried after this

    endpoint: str
    private: bool

    def __init__(self, market: str, env: str, state: Any) -> None:
        if env not in ENVS:
            raise ValueError(f"bybit env must be one of {ENVS}, not {env!r}")
        super().__init__(market, env, state)
        self.reconnect_wanted = False  # set on a timeout: the transport should reconnect
        self._acks: dict[str, tuple[str, tuple[str, ...]]] = {}  # req_id -> (op, topics)
        self._last_recv = 0
        self._last_ping = 0
        self._timed_out = False

    def start(self, ts: int) -> None:
        """Nothing must happen before connecting to Bybit (no listen key)."""

    # -- helpers --------------------------------------------------------------------------

    def _send_op(self, op: str, topics: tuple[str, ...]) -> None:
        rid = str(self._next_id())
        self._acks[rid] = (op, topics)
        self._out.append(msgspec.json.encode({"op": op, "req_id": rid, "args": topics}).decode())

    def _take_ack(self, env: schemas.Envelope) -> tuple[str, tuple[str, ...]] | None:
        """The request an ack answers: by `req_id`, else the oldest of the same op."""
        if env.req_id and env.req_id in self._acks:
            return self._acks.pop(env.req_id)
        for rid, (op, _) in self._acks.items():
            if op == env.op:
                return self._acks.pop(rid)
        self.counters["unmatched_acks"] += 1
        return None

    def _reset_timers(self, ts: int) -> None:
        self._last_recv = self._last_ping = ts
        self._timed_out = False
        self.reconnect_wanted = False

    def _tick_link(self, ts: int) -> bool:
        """Queue a ping when due; True the first time the link is found dead."""
        if ts - self._last_ping >= self.PING_S * _NS:
            self._out.append('{"op":"ping"}')
            self._last_ping = ts
            self.counters["pings"] += 1
        if not self._timed_out and ts - self._last_recv >= self.TIMEOUT_S * _NS:
            self._timed_out = True
            self.reconnect_wanted = True
            self.counters["timeouts"] += 1
            log.warning(
                "no frame for %.0f s", self.TIMEOUT_S, extra={"venue": VENUE, "conn": self.endpoint}
            )
            return True
        return False

    def receive(self, frame: str | bytes, ts: int) -> list[Event]:
        """Decode one frame and dispatch it; never raises (a bad frame is `Malformed`)."""
        self._last_recv = ts
        try:
            env = schemas.ENVELOPE.decode(frame)
        except msgspec.DecodeError as exc:
            return [self._malformed(f"bad frame: {exc}", ts)]
        try:
            if env.topic is not None:
                return self._on_topic(env, ts)
            if env.op is not None:
                return self._on_op(env, ts)
            return [self._malformed("frame without topic or op", ts)]
        except Exception as exc:
            return self._failed(env.topic or env.op, ts, exc)

    def _on_op(self, env: schemas.Envelope, ts: int) -> list[Event]:
        if env.op == "pong" or (env.op == "ping" and env.ret_msg == "pong"):
            self.counters["pongs"] += 1
            return []
        if env.op in ("subscribe", "unsubscribe"):
            taken = self._take_ack(env)
            if taken is None or env.op == "unsubscribe":
                return []
            ok = bool(env.success) or "already subscribed" in (env.ret_msg or "")
            return self._on_subscribed(taken[1], ok, env.ret_msg or "", ts)
        if env.op == "auth":
            return self._on_auth(env, ts)
        return [self._malformed(f"unexpected op {env.op!r}", ts)]

    # -- per connection kind --------------------------------------------------------------

    def _on_topic(self, env: schemas.Envelope, ts: int) -> list[Event]:
        raise NotImplementedError

    def _on_subscribed(self, topics: tuple[str, ...], ok: bool, msg: str, ts: int) -> list[Event]:
        raise NotImplementedError

    def _on_auth(self, env: schemas.Envelope, ts: int) -> list[Event]:
        return [self._malformed("auth reply on a public stream", ts)]


# ----------------------------------------------------------------------------------------------
# public


@dataclass(slots=True)
class _Topic:
    """One subscribed public topic and what it feeds."""

    name: str
    kind: Kind
    symbol: str
    sent: bool = False  # subscribe sent on this connection (acked or not)


class BybitPublic(_Stream):
    """Bybit v5 public stream of one market ("linear" or "spot"): tickers, books, trades.

    Books need the symbol's decimals (`priceFilter.tickSize`, `lotSizeFilter.qtyStep` or spot
    `basePrecision`): the runtime may pass them with `set_instrument`; otherwise subscribing a
    book queues a REST instruments-info request and the book topic is subscribed once it
    answers. `strict_seq` applies `BybitRule(consecutive=True)`: every delta's `u` must be the
    previous `u` + 1 (the docs do not promise it; recorded linear and spot traffic shows it);
    anything else is a gap, answered by resubscribing (Bybit sends a fresh snapshot).
    """

    MOVES = LINK_MOVES
    private = False
    # tickers and books push every 20-100 ms on live markets; a WebSocket ping every 2 s
    # (beside Bybit's own `{"op":"ping"}` every PING_S) proves a quiet one alive: 5 s window
    liveness = MARKET_DATA

    def __init__(
        self,
        market: str,
        creds: Credentials | None = None,
        *,
        env: str = "live",
        book_depth: int = 200,
        strict_seq: bool = True,
    ) -> None:
        if market not in rest.MARKETS:
            raise UnsupportedError(f"bybit market {market!r} is not supported")
        if book_depth not in BOOK_DEPTHS:
            raise ValueError(f"bybit book depth must be one of {BOOK_DEPTHS}")
        self.endpoint = f"{market}-public"
        super().__init__(market, env, Link.DISCONNECTED)
        self.book_depth = book_depth
        self._rule = BybitRule(consecutive=strict_seq)
        self._wanted: dict[tuple[Kind, str], tuple[str, ...]] = {}
        self._topics: dict[str, _Topic] = {}
        self._steps: dict[str, rest.InstrumentSteps] = {}
        self._books: dict[str, SyncedBook] = {}
        # merged linear ticker (a Ticker; its record while it holds text that is no number) /
        # last spot stats (a record)
        self._tickers: dict[str, schemas.TickerData | Ticker] = {}
        self._tops: dict[str, schemas.Orderbook] = {}  # spot orderbook.1
        self._inflight: dict[int, str] = {}  # REST req_id -> symbol (instrument info)
        self._retry: dict[str, int] = {}  # symbol -> ts to re-request instrument info
        # the per-frame path (`receive`): a decoder of the subscribed topics' pushes, and the
        # topic of each frame type it decodes; built again when the topics change
        self._frames: msgspec.json.Decoder[Any] | None = None
        self._frame_topic: dict[type, _Topic] = {}
        self._frames_ok = False
        self._on: dict[str, Callable[[schemas.Envelope, _Topic, int], list[Event]]] = {
            "orderbook": self._on_orderbook,
            "tickers": self._on_tickers,
            "publicTrade": self._on_trades,
        }

    def __repr__(self) -> str:
        return (
            f"BybitPublic({self.market}, {self.env}, {self._state.name}, "
            f"topics={len(self._topics)}, counters={dict(self.counters)})"
        )

    def connect_path(self) -> str:
        """Path on `SPEC.ws_bases[self.endpoint][env]` (demo's public base is live's)."""
        return f"/v5/public/{self.market}"

    # -- subscriptions --------------------------------------------------------------------

    def _topics_for(self, kind: Kind, symbol: str) -> tuple[str, ...]:
        if kind == "ticker":
            if self.market == "spot":
                return (f"tickers.{symbol}", f"orderbook.1.{symbol}")
            return (f"tickers.{symbol}",)
        if kind == "book":
            return (f"orderbook.{self.book_depth}.{symbol}",)
        if kind == "trades":
            return (f"publicTrade.{symbol}",)
        raise UnsupportedError(f"bybit public streams have no {kind!r}")

    def _build_frames(self) -> msgspec.json.Decoder[Any] | None:
        """The per-frame decoder of the subscribed orderbook and linear tickers topics."""
        topics: dict[type, _Topic] = {}
        for name, t in self._topics.items():
            if name.startswith("orderbook."):
                topics[schemas.frame_type(name, schemas.Orderbook)] = t
            elif name.startswith("tickers.") and self.market != "spot":
                topics[schemas.frame_type(name, schemas.TickerFloats)] = t
        self._frame_topic = topics
        self._frames = schemas.frames_decoder(topics)
        self._frames_ok = True
        return self._frames

    def receive(self, frame: str | bytes, ts: int) -> list[Event]:
        """Decode one frame and dispatch it; never raises (a bad frame is `Malformed`)."""
        # Per frame: one decode of the whole frame by a decoder of the subscribed topics' pushes
        # (each tagged by its exact topic, so the type decoded says the topic). A book's delta
        # and a linear ticker's delta are handled here; the other pushes of these topics by
        # `_on_orderbook_frame` / `_on_ticker_frame`, anything else the general way.
        dec = self._frames if self._frames_ok else self._build_frames()
        if dec is not None:
            try:
                env = dec.decode(frame)
            except msgspec.DecodeError:
                env = None  # the general way below says what is wrong with it
            if env is not None:
                self._last_recv = ts
                t = self._frame_topic[type(env)]
                data = env.data
                try:
                    if type(data) is _TICKER:  # a delta onto the last Ticker
                        base = self._tickers.get(t.symbol)
                        if (
                            env.type != "delta"
                            or type(base) is not Ticker
                            or data.symbol != t.symbol
                        ):
                            events = self._on_ticker_frame(env, t, ts)
                            if events is not None:
                                return events
                            return super().receive(frame, ts)
                        e = env.ts
                        ticker = parse.merge_ticker_floats(
                            base,
                            data,
                            None if e is None else e * _MS,
                            ts,
                        )
                        self._tickers[t.symbol] = ticker
                        if ticker.bid is None or ticker.ask is None:
                            return self._sides_missing(t.symbol, base, ts)
                        return [TickerUpdate(ticker=ticker)]
                    if (
                        env.type != "delta"
                        or t.kind != "book"
                        or data.s != t.symbol
                        or (book := self._books.get(t.symbol)) is None
                    ):
                        return self._on_orderbook_frame(env, t, ts)
                    seq = data.u  # `_orderbook` for a delta of a held book
                    action = book.update_seq(seq, None, None, False, data.b, data.a)
                    if action is _APPLY or action is _RESET:  # RESET: u == 1
                        e = env.ts
                        return [
                            BookUpdated(
                                venue=VENUE,
                                market=self.market,
                                symbol=t.symbol,
                                book=book.book,
                                seq=seq,
                                ts_event=None if e is None else e * _MS,
                                ts_recv=ts,
                            )
                        ]
                    if action is _RESYNC:
                        return self._resync(t, book.sync.reason or "gap", ts)
                    return []  # DROP (stale) or BUFFER (waiting for the snapshot)
                except Exception as exc:
                    return self._failed(t.name, ts, exc) + self._lost(t, env.type, ts)
        return super().receive(frame, ts)

    def subscribe(self, kind: str, symbol: str | None) -> None:
        """Want KIND ("ticker", "book", "trades") of SYMBOL; sent now if connected."""
        if not symbol:
            raise ValueError("a bybit public subscription needs a symbol")
        k: Kind = kind  # type: ignore[assignment]  # checked by _topics_for
        names = self._topics_for(k, symbol)
        if (k, symbol) in self._wanted:
            return
        self._wanted[k, symbol] = names
        for name in names:
            self._topics[name] = _Topic(name, k, symbol)
        self._frames_ok = False
        if k == "book" and symbol not in self._books:
            if symbol in self._steps:
                self._make_book(symbol)
            elif symbol not in self._inflight.values():
                self._request_steps(symbol)
        if self._state is Link.CONNECTED:
            self._subscribe_ready(names)

    def unsubscribe(self, kind: str, symbol: str | None) -> None:
        """Stop KIND of SYMBOL; its state is dropped."""
        names = self._wanted.pop((kind, symbol or ""), ())  # type: ignore[arg-type]
        self._frames_ok = False
        for name in names:
            t = self._topics.pop(name, None)
            if t is not None and t.sent and self._state is Link.CONNECTED:
                self._send_op("unsubscribe", (name,))
        if names and symbol:
            if kind == "book":
                self._books.pop(symbol, None)
            elif kind == "ticker":
                self._tickers.pop(symbol, None)
                self._tops.pop(symbol, None)

    def subscriptions(self) -> set[tuple[str, str | None]]:
        """What the runtime asked for: (kind, symbol) pairs."""
        return {(k, s) for k, s in self._wanted}

    def _ready(self, t: _Topic) -> bool:
        return t.kind != "book" or t.symbol in self._books

    def _subscribe_ready(self, names: tuple[str, ...]) -> None:
        for name in names:
            t = self._topics.get(name)
            if t is not None and self._ready(t):
                log.info("subscribe %s", name, extra={"venue": VENUE, "conn": self.endpoint})
                self._send_op("subscribe", (name,))
                t.sent = True

    def _on_subscribed(self, topics: tuple[str, ...], ok: bool, msg: str, ts: int) -> list[Event]:
        events: list[Event] = []
        for name in topics:
            t = self._topics.get(name)
            if t is None:
                continue
            if ok:
                self.counters["subscribed"] += 1
                events.append(Subscribed(venue=VENUE, topic=name, ts_recv=ts))
            else:
                t.sent = False
                self.counters["sub_failed"] += 1
                log.warning("subscribe %s refused: %s", name, msg, extra={"venue": VENUE})
                events.append(self._stale(t.kind, t.symbol, f"subscribe refused: {msg}", ts))
        return events

    # -- instruments (book decimals) ------------------------------------------------------

    def set_instrument(self, symbol: str, tick_size: str, size_step: str) -> None:
        """SYMBOL's price tick and size step as Bybit writes them (instruments-info)."""
        steps = rest.InstrumentSteps(
            symbol=symbol,
            tick_size=tick_size,
            size_step=size_step,
            price_decimals=parse.step_decimals(tick_size),
            size_decimals=parse.step_decimals(size_step),
        )
        old = self._steps.get(symbol)
        self._steps[symbol] = steps
        self._retry.pop(symbol, None)
        if ("book", symbol) not in self._wanted:
            return
        same = old is not None and (old.price_decimals, old.size_decimals) == (
            steps.price_decimals,
            steps.size_decimals,
        )
        if same and symbol in self._books:
            return
        self._make_book(symbol)
        if self._state is Link.CONNECTED:
            name = f"orderbook.{self.book_depth}.{symbol}"
            t = self._topics.get(name)
            if t is not None and t.sent:
                t.sent = False
                self._send_op("unsubscribe", (name,))
            self._subscribe_ready((name,))

    def _make_book(self, symbol: str) -> None:
        s = self._steps[symbol]
        self._books[symbol] = SyncedBook(
            self._rule, s.price_decimals, s.size_decimals, max_depth=self.book_depth
        )

    def _request_steps(self, symbol: str) -> None:
        rid = self._queue(rest.build_instruments(self.market, symbol))
        self._inflight[rid] = symbol

    def rest_response(self, req_id: int, status: int, body: bytes, ts: int) -> list[Event]:
        """An instruments-info answer: set the symbol's decimals, then subscribe its book."""
        symbol = self._inflight.pop(req_id, None)
        if symbol is None:
            self.counters["late_rest"] += 1
            return []
        try:
            rest.check_error(status, {}, body)
            steps = rest.parse_instruments(body)[symbol]
        except (SpinstreamError, KeyError) as exc:
            self.counters["rest_failed"] += 1
            self._retry[symbol] = ts + int(self.RETRY_S * _NS)
            reason = f"instrument info failed: {exc!s}"
            return (
                [self._stale("book", symbol, reason, ts)]
                if ("book", symbol) in self._wanted
                else []
            )
        self.set_instrument(symbol, steps.tick_size, steps.size_step)
        return []

    # -- connection -----------------------------------------------------------------------

    def connected(self, ts: int) -> list[Event]:
        """A new connection: subscribe every wanted topic that is ready."""
        self._move(Link.CONNECTED)
        self._reset_timers(ts)
        self._subscribe_ready(tuple(self._topics))
        return []

    def disconnected(self, ts: int) -> list[Event]:
        """The connection is gone: every kind it fed is stale; books wait for new snapshots."""
        self._move(Link.DISCONNECTED)
        self._acks.clear()
        for t in self._topics.values():
            t.sent = False
        for book in self._books.values():
            book.reset()
        self._tickers.clear()
        self._tops.clear()
        return self._stale_all("disconnected", ts)

    def tick(self, ts: int) -> list[Event]:
        """Pings, the no-data timeout, and instrument-info retries."""
        events: list[Event] = []
        if self._state is Link.CONNECTED and self._tick_link(ts):
            events = self._stale_all(f"no frame for {self.TIMEOUT_S:.0f} s", ts)
        for symbol, at in list(self._retry.items()):
            if ts >= at and ("book", symbol) in self._wanted:
                del self._retry[symbol]
                self._request_steps(symbol)
        return events

    def _stale_all(self, reason: str, ts: int) -> list[Event]:
        kinds = sorted({k for k, _ in self._wanted})
        return [self._stale(k, None, reason, ts) for k in kinds]

    # -- frames ---------------------------------------------------------------------------

    def _on_topic(self, env: schemas.Envelope, ts: int) -> list[Event]:
        assert env.topic is not None
        handler = self._on.get(env.topic.partition(".")[0])
        if handler is None:
            return [self._malformed(f"unknown topic {env.topic!r}", ts)]
        t = self._topics.get(env.topic)
        if t is None:  # e.g. in flight while we unsubscribed
            self.counters["unsubscribed"] += 1
            return []
        try:
            return handler(env, t, ts)
        except Exception as exc:
            return self._failed(t.name, ts, exc) + self._lost(t, env.type, ts)

    def _lost(self, t: _Topic, kind: str | None, ts: int) -> list[Event]:
        """A push of topic T (type KIND) was rejected (Malformed): for a book or a spot top of
        book, what it would have changed is lost and the state no longer matches the venue, as
        after a gap. Stale at once, the state dropped (a book invalidated: its deltas are dropped
        until the snapshot), and the topic resubscribed for a new snapshot.

        Nothing more when nothing was lost: a book delta while the book already waits for its
        snapshot, no top of book held, a topic that feeds no state (trades). A rejected book
        snapshot (or a push of no known type) always resubscribes: the snapshot waited for would
        otherwise never come. A rejected `tickers` delta is the same: the fields it changed are
        unknown, so the ticker kept before it is not served as current (stale, dropped, the
        topic resubscribed for a new snapshot).
        """
        sym = t.symbol
        if t.kind == "ticker" and t.name.startswith("tickers."):
            if kind == "snapshot" or self._tickers.pop(sym, None) is None:
                if kind == "snapshot":
                    self._resubscribe(t)
                return []
            self.counters["lost_pushes"] += 1
            self._resubscribe(t)
            return [self._stale("ticker", sym, "malformed push dropped (a gap)", ts)]
        if t.kind == "book":
            book = self._books.get(sym)
            if book is None or (book.sync.state is not _SYNCED and kind == "delta"):
                return []  # no decimals yet (subscribed once known), or a snapshot is coming
            self.counters["lost_pushes"] += 1
            book.invalidate("malformed push dropped (a gap)")  # deltas wait for the snapshot
            return self._resync(t, "malformed push dropped (a gap)", ts)
        if t.kind != "ticker" or not t.name.startswith("orderbook."):
            return []
        # spot orderbook.1: each push is the whole top of book, re-sent within 3 s anyway
        if self._tops.pop(sym, None) is None:
            return []  # nothing held: the next push (or the resubscribe's) is awaited
        self.counters["lost_pushes"] += 1
        self._resubscribe(t)
        return [self._stale("ticker", sym, "malformed push dropped (a gap)", ts)]

    def _resubscribe(self, t: _Topic) -> None:
        """Unsubscribe and subscribe T again: Bybit answers with a new snapshot."""
        if self._state is Link.CONNECTED:
            if t.sent:
                t.sent = False
                self._send_op("unsubscribe", (t.name,))
            self._subscribe_ready((t.name,))

    def _sides_missing(
        self, sym: str, prev: schemas.TickerData | Ticker | None, ts: int
    ) -> list[Event]:
        """A linear ticker of SYM lacks its bid or ask: never served as fresh (its market
        always has both). `Stale` if PREV, the ticker kept before, was being served."""
        self.counters["one_sided"] += 1
        if isinstance(prev, Ticker):
            served = prev.bid is not None and prev.ask is not None
        else:
            served = prev is not None and bool(prev.bid1Price) and bool(prev.ask1Price)
        if not served:
            return []
        return [self._stale("ticker", sym, "bid or ask missing", ts)]

    def _on_orderbook(self, env: schemas.Envelope, t: _Topic, ts: int) -> list[Event]:
        data = schemas.ORDERBOOK.decode(env.data)
        if data.s != t.symbol:
            raise ParseError(f"data for {data.s!r}")
        if env.type not in ("snapshot", "delta"):
            raise ParseError(f"type {env.type!r}")
        return self._orderbook(data, env.type == "snapshot", _ms_ns(env.ts), t, ts)

    def _orderbook(
        self, data: schemas.Orderbook, snapshot: bool, ts_event: int | None, t: _Topic, ts: int
    ) -> list[Event]:
        """An orderbook push of topic T, checked (symbol, type "snapshot" or "delta")."""
        if t.kind == "ticker":  # spot orderbook.1: the top of book of the spot ticker
            sym = t.symbol
            stats = self._tickers.get(sym)  # spot keeps the record
            assert not isinstance(stats, Ticker)
            ticker = parse.parse_spot_ticker(sym, data, stats, ts_event, ts)
            if ticker.bid is None or ticker.ask is None:  # never served one-sided
                self.counters["one_sided"] += 1
                if self._tops.pop(sym, None) is None or stats is None:
                    return []
                return [self._stale("ticker", sym, "bid or ask missing", ts)]
            self._tops[sym] = data  # kept once its values proved true (a Malformed is not)
            if stats is None:  # no `tickers` snapshot on this connection yet
                return []
            return [TickerUpdate(ticker=ticker)]
        book = self._books.get(t.symbol)
        if book is None:
            self.counters["unsubscribed"] += 1
            return []
        action = book.update_seq(data.u, None, None, snapshot, data.b, data.a)
        if action is _APPLY or action is _RESET:
            return [
                BookUpdated(
                    venue=VENUE,
                    market=self.market,
                    symbol=t.symbol,
                    book=book.book,
                    seq=data.u,
                    ts_event=ts_event,
                    ts_recv=ts,
                )
            ]
        if action is _RESYNC:
            return self._resync(t, book.sync.reason or "gap", ts)
        return []  # DROP (stale) or BUFFER (waiting for the snapshot)

    def _on_orderbook_frame(self, env: Any, t: _Topic, ts: int) -> list[Event]:
        """An orderbook push decoded per frame that `receive` does not handle: `_on_orderbook`."""
        data: schemas.Orderbook = env.data
        if data.s != t.symbol:
            raise ParseError(f"data for {data.s!r}")
        e = env.ts
        return self._orderbook(data, env.type == "snapshot", None if e is None else e * _MS, t, ts)

    def _on_ticker_frame(self, env: Any, t: _Topic, ts: int) -> list[Event] | None:
        """A linear `tickers` push decoded per frame that `receive` does not handle inline:
        `_on_tickers`; None for a delta onto a record kept as text (the general way)."""
        data: schemas.TickerFloats = env.data
        sym = t.symbol
        if data.symbol != sym:
            raise ParseError(f"data for {data.symbol!r}")
        e = env.ts
        ts_event = None if e is None else e * _MS
        base = self._tickers.get(sym)
        if env.type == "snapshot":
            ticker = parse.ticker_floats(self.market, data, ts_event, ts)
        else:
            if base is None:
                raise ParseError("delta before its snapshot")
            if not isinstance(base, Ticker):
                return None
            ticker = parse.merge_ticker_floats(base, data, ts_event, ts)
        self._tickers[sym] = ticker
        if ticker.bid is None or ticker.ask is None:
            return self._sides_missing(sym, base, ts)
        return [TickerUpdate(ticker=ticker)]

    def _resync(self, t: _Topic, reason: str, ts: int) -> list[Event]:
        """A broken book: stale now; resubscribe so Bybit sends a new snapshot."""
        self.counters["resyncs"] += 1
        log.warning(
            "book %s out of sync: %s", t.name, reason, extra={"venue": VENUE, "symbol": t.symbol}
        )
        if "bad level" in reason and "more than" in reason:  # a tick or step change: refetch
            self.counters["bad_levels"] += 1
            self._books.pop(t.symbol, None)
            self._steps.pop(t.symbol, None)
            if t.symbol not in self._inflight.values():
                self._request_steps(t.symbol)
        else:
            self.counters["gaps"] += 1
        self._resubscribe(t)
        return [self._stale("book", t.symbol, reason, ts)]

    def _on_tickers(self, env: schemas.Envelope, t: _Topic, ts: int) -> list[Event]:
        data = schemas.TICKER.decode(env.data)
        sym = t.symbol
        if data.symbol != sym:
            raise ParseError(f"data for {data.symbol!r}")
        ts_event = _ms_ns(env.ts)
        prev = self._tickers.get(sym)
        if env.type == "snapshot":
            merged = data
        elif env.type == "delta":
            if prev is None:
                raise ParseError("delta before its snapshot")
            base = parse.ticker_data(prev) if isinstance(prev, Ticker) else prev  # per-frame
            merged = parse.merge_ticker(base, data)
        else:
            raise ParseError(f"type {env.type!r}")
        # parsed before it is kept: a frame with a value that cannot be true (Malformed) must
        # not become the base the next deltas merge onto
        if self.market == "spot":
            top = self._tops.get(sym)
            ticker = parse.parse_spot_ticker(sym, top, merged, ts_event, ts)
            self._tickers[sym] = merged
            if top is None:  # no two-sided `orderbook.1` on this connection yet
                return []
            return [TickerUpdate(ticker=ticker)]
        ticker = parse.parse_ticker(self.market, merged, ts_event, ts)
        self._tickers[sym] = ticker  # the same state, where the per-frame path goes on
        if ticker.bid is None or ticker.ask is None:
            return self._sides_missing(sym, prev, ts)
        return [TickerUpdate(ticker=ticker)]

    def _on_trades(self, env: schemas.Envelope, t: _Topic, ts: int) -> list[Event]:
        trades = parse.parse_trades(self.market, schemas.TRADES.decode(env.data), ts)
        return [TradeUpdate(trades=trades)] if trades else []


# ----------------------------------------------------------------------------------------------
# private

PRIVATE_TOPICS = ("wallet", "position", "order", "execution")
_NOT_FILLS = frozenset({"Funding", "Settle", "Delivery"})  # execution types that are not fills
SeedKey = tuple[str, str | None, str | None]  # (kind, market, settle coin)


class BybitPrivate(_Stream):
    """Bybit v5 private stream of one account: balances, positions, orders, our fills.

    It serves the markets in `markets` (default: just `market`, as the runtime opens one
    connection per protocol class and market; pass both to serve them from one connection).
    The all-in-one topics carry each record's `category`, and records of other markets are
    dropped (counted as `ignored`); the one unified wallet is the account of every market
    served. Linear positions and open orders are seeded per settle coin in `settle_coins`.
    """

    endpoint = "private"
    MOVES = SESSION_MOVES
    private = True
    liveness = PRIVATE  # account pushes are rare: WebSocket pings prove it alive (10 s)
    MAX_BUFFER = 10_000  # pushes held per kind while its seed is out; more -> re-seed
    AUTH_RETRY_S = 1.0  # a refused auth is sent again after this, doubling
    AUTH_RETRY_MAX_S = 60.0  # up to this (a refused key costs Bybit one auth a minute)

    def __init__(
        self,
        market: str = "linear",
        creds: Credentials | None = None,
        *,
        env: str = "live",
        markets: tuple[str, ...] | None = None,
        settle_coins: tuple[str, ...] = ("USDT", "USDC"),
    ) -> None:
        if creds is None:
            raise ValueError("the bybit private stream needs credentials")
        if market not in rest.MARKETS:
            raise UnsupportedError(f"bybit market {market!r} is not supported")
        super().__init__(market, env, Session.DISCONNECTED)
        self.markets = markets or (market,)
        if not set(self.markets) <= set(rest.MARKETS):
            raise UnsupportedError(f"bybit markets {self.markets} are not all supported")
        self.settle_coins = settle_coins
        self._creds = creds
        self._seeds: dict[str, Seed[SeedKey]] = {}
        self._inflight: dict[int, tuple[SeedKey, int]] = {}  # req_id -> (key, generation)
        self._gen = 0
        self._on: dict[str, Callable[[schemas.Envelope, int], list[Event]]] = {
            "wallet": self._on_wallet,
            "position": self._on_position,
            "order": self._on_order,
            "execution": self._on_execution,
        }

    def __repr__(self) -> str:  # no credentials
        return (
            f"BybitPrivate({self.markets}, {self.env}, {self._state.name}, "
            f"counters={dict(self.counters)})"
        )

    def connect_path(self) -> str:
        """Path on `SPEC.ws_bases["private"][env]`."""
        return "/v5/private"

    def subscribe(self, kind: str, symbol: str | None) -> None:
        """Record interest; the four private topics are always subscribed together."""
        if kind not in ("account", "positions", "orders", "trades"):
            raise UnsupportedError(f"bybit private stream has no {kind!r}")
        self._subs.add((kind, None))

    def unsubscribe(self, kind: str, symbol: str | None) -> None:
        """Forget a kind (the private topics stay subscribed)."""
        self._subs.discard((kind, None))

    # -- connection -----------------------------------------------------------------------

    def connected(self, ts: int) -> list[Event]:
        """A new connection: authenticate (subscribe and seed follow the answers), unless a
        refused auth's retry is not due yet (then `tick` sends it when it is)."""
        self._reset_timers(ts)
        self._gen += 1
        if self._auth.ready(ts):
            self._authenticate(ts)
        else:
            self._move(Session.WAITING)
        return []

    def _authenticate(self, ts: int) -> None:
        self._move(Session.AUTHENTICATING)
        self._out.append(auth.login_frame(self._creds, ts // _MS))

    def disconnected(self, ts: int) -> list[Event]:
        """Everything this connection fed is stale; seeds in flight are forgotten."""
        self._move(Session.DISCONNECTED)
        self._acks.clear()
        self._seeds.clear()
        self._inflight.clear()
        return self._stale_all("disconnected", ts)

    def tick(self, ts: int) -> list[Event]:
        """Pings, the no-data timeout, auth and seed retries."""
        if self._state is Session.DISCONNECTED:
            return []
        events: list[Event] = []
        if self._tick_link(ts):
            events = self._stale_all(f"no frame for {self.TIMEOUT_S:.0f} s", ts)
        elif self._state is Session.WAITING and self._auth.ready(ts):
            self.counters["auth_retries"] += 1
            self._authenticate(ts)
        for seed in self._seeds.values():
            for key in seed.due(ts):
                self._request_seed(key, ts, None)
        return events

    def _kinds(self) -> list[tuple[str, Kind]]:
        out: list[tuple[str, Kind]] = []
        for m in self.markets:
            out.append((m, "account"))
            if m == "linear":
                out.append((m, "positions"))
            out.append((m, "orders"))
        return out

    def _stale_all(self, reason: str, ts: int) -> list[Event]:
        return [self._stale(k, None, reason, ts, m) for m, k in self._kinds()]

    # -- auth and subscription ------------------------------------------------------------

    def _on_auth(self, env: schemas.Envelope, ts: int) -> list[Event]:
        if self._state is not Session.AUTHENTICATING:
            self.counters["unexpected_auth"] += 1
            return []
        if env.success:  # `Authenticated` waits for the subscription (login + user data)
            self._move(Session.SUBSCRIBING)
            self._auth.ok()
            self.problem = None
            self._send_op("subscribe", PRIVATE_TOPICS)
            log.info("authenticated", extra={"venue": VENUE, "conn": self.endpoint})
            return []
        self._move(Session.WAITING)
        self.counters["auth_failed"] += 1
        reason = auth.redact(env.ret_msg or "no reason given", self._creds)
        stale = self._auth_later("auth", reason, ts)
        events: list[Event] = [self._auth_failed(reason, ts, m) for m in self.markets]
        return events + self._stale_all(stale, ts)

    def _on_subscribed(self, topics: tuple[str, ...], ok: bool, msg: str, ts: int) -> list[Event]:
        if self._state is not Session.SUBSCRIBING:
            return []
        if not ok:
            self._move(Session.FAILED)
            self.counters["sub_failed"] += 1
            self.problem = f"subscription refused ({auth.redact(msg, self._creds)})"
            return self._stale_all(self.problem, ts)
        self._move(Session.LIVE)
        events: list[Event] = [Subscribed(venue=VENUE, topic=t, ts_recv=ts) for t in topics]
        events += [Authenticated(venue=VENUE, market=m, ts_recv=ts) for m in self.markets]
        seeds: dict[str, tuple[SeedKey, ...]] = {
            "account": (("account", None, None),),
            "positions": tuple(("positions", "linear", c) for c in self.settle_coins)
            if "linear" in self.markets
            else (),
            "orders": tuple(
                ("orders", m, c)
                for m in self.markets
                for c in (self.settle_coins if m == "linear" else (None,))
            ),
        }
        self._seeds = {kind: Seed(keys=keys) for kind, keys in seeds.items() if keys}
        for seed in self._seeds.values():
            seed.pending = set(seed.keys)
            for key in seed.keys:
                self._request_seed(key, ts, None)
        return events

    def _request_seed(self, key: SeedKey, ts: int, cursor: str | None) -> None:
        kind, market, coin = key
        now_ms = ts // _MS
        if kind == "account":
            req = rest.build_account(self.markets[0], self._creds, now_ms)
        elif kind == "positions":
            req = rest.build_positions(
                market or "linear", self._creds, now_ms, settle_coin=coin or "USDT", cursor=cursor
            )
        else:
            req = rest.build_open_orders(
                market or "linear", self._creds, now_ms, settle_coin=coin or "USDT", cursor=cursor
            )
        rid = self._queue(req)
        self._inflight[rid] = (key, self._gen)
        self.counters["seed_requests"] += 1

    def rest_response(self, req_id: int, status: int, body: bytes, ts: int) -> list[Event]:
        """A seed answer (one page); the kind goes live when all its pages are in."""
        entry = self._inflight.pop(req_id, None)
        if entry is None or entry[1] != self._gen or self._state is not Session.LIVE:
            self.counters["late_rest"] += 1
            return []
        key = entry[0]
        kind, market, _ = key
        seed = self._seeds[kind]
        if seed.done or key not in seed.pending:
            self.counters["late_rest"] += 1
            return []
        try:
            rest.check_error(status, {}, body)
            items, cursor, time_ms = self._decode_seed(kind, body)
            _check_seed(kind, items, ts)
        except (SpinstreamError, msgspec.DecodeError) as exc:
            self.counters["seed_failed"] += 1
            seed.pages.pop(key, None)  # the retry starts again from the first page
            seed.retry[key] = ts + int(self.RETRY_S * _NS)
            reason = auth.redact(f"seed failed: {exc!s}", self._creds)
            markets = self.markets if kind == "account" else (market,)
            return [self._stale(kind, None, reason, ts, m) for m in markets]
        seed.pages.setdefault(key, []).extend(items)
        if seed.time_ms is None or (time_ms is not None and time_ms < seed.time_ms):
            seed.time_ms = time_ms
        if cursor:
            self._request_seed(key, ts, cursor)
            return []
        seed.pending.discard(key)
        return self._finish(kind, seed, ts) if not seed.pending else []

    @staticmethod
    def _decode_seed(kind: str, body: bytes) -> tuple[tuple[object, ...], str | None, int | None]:
        """(records, next cursor, server time) of one seed page."""
        page: schemas.Page[object] | schemas.Page[schemas.WalletAccount] | None
        if kind == "account":
            resp_a = schemas.ACCOUNTS.decode(body)
            page, time = resp_a.result, resp_a.time
        elif kind == "positions":
            resp_p = schemas.REST_POSITIONS.decode(body)
            page, time = resp_p.result, resp_p.time  # type: ignore[assignment]
        else:
            resp_o = schemas.REST_ORDERS.decode(body)
            page, time = resp_o.result, resp_o.time  # type: ignore[assignment]
        if page is None:
            raise ParseError(f"bybit {kind} seed: no result")
        return tuple(page.list), page.nextPageCursor or None, time

    def _finish(self, kind: str, seed: Seed[SeedKey], ts: int) -> list[Event]:
        """A kind's seed is complete: full state, then the buffered pushes newer than it."""
        seed.done = True
        items = [x for key in seed.keys for x in seed.pages.get(key, ())]
        events: list[Event] = []
        t_ns = parse.ms_to_ns(seed.time_ms)
        if kind == "account":
            accounts = tuple(x for x in items if isinstance(x, schemas.WalletAccount))
            for m in self.markets:
                acct = parse.parse_account(m, accounts, t_ns, ts, "rest")
                events.append(AccountUpdate(account=acct))
            for recs, rts, created in seed.buffer:
                if seed.time_ms is None or created is None or created >= seed.time_ms:
                    wallet = partial(self._wallet_events, recs, rts, created)
                    events += self._replay(kind, wallet, ts)
        elif kind == "positions":
            held = {
                (p.symbol, p.positionIdx): p for p in items if isinstance(p, schemas.PositionData)
            }
            events.append(
                PositionUpdate(
                    venue=VENUE,
                    market="linear",
                    positions=tuple(parse.parse_position(p, ts, "rest") for p in held.values()),
                    full=True,
                    ts_recv=ts,
                )
            )
            for recs, rts, _ in seed.buffer:
                newer = tuple(
                    p
                    for p in recs
                    if isinstance(p, schemas.PositionData)
                    and _position_newer(p, held.get((p.symbol, p.positionIdx)))
                )
                events += self._replay(kind, partial(self._position_events, newer, rts), ts)
        else:
            by_id = {o.orderId: o for o in items if isinstance(o, schemas.OrderData)}
            for m in self.markets:
                orders = tuple(
                    parse.parse_order(o, ts, "rest", m)
                    for key in seed.keys
                    if key[1] == m
                    for o in seed.pages.get(key, ())
                    if isinstance(o, schemas.OrderData)
                )
                events.append(
                    OrderUpdate(venue=VENUE, market=m, orders=orders, full=True, ts_recv=ts)
                )
            for recs, rts, _ in seed.buffer:
                newer_orders = tuple(
                    o
                    for o in recs
                    if isinstance(o, schemas.OrderData) and _order_newer(o, by_id.get(o.orderId))
                )
                events += self._replay(kind, partial(self._order_events, newer_orders, rts), ts)
        self.counters["replayed"] += len(seed.buffer)
        seed.buffer.clear()
        seed.pages.clear()
        markets = self.markets if kind != "positions" else ("linear",)
        events += [self._fresh_event(kind, None, ts, m) for m in markets]
        return events

    def _replay(self, kind: str, apply: Callable[[], list[Event]], ts: int) -> list[Event]:
        """A push held for KIND's seed, applied: a bad one is Malformed, the seed still lands
        (found by tests/fuzz: it raised out of `rest_response`)."""
        try:
            return apply()
        except (ParseError, ValueError) as exc:
            return [self._malformed(f"held {kind} push: {exc}", ts)]

    # -- pushes ---------------------------------------------------------------------------

    def _on_topic(self, env: schemas.Envelope, ts: int) -> list[Event]:
        assert env.topic is not None
        handler = self._on.get(env.topic)
        if handler is None:
            return [self._malformed(f"unknown topic {env.topic!r}", ts)]
        return handler(env, ts)

    def _hold(self, kind: str, recs: tuple[object, ...], env: schemas.Envelope, ts: int) -> bool:
        """Buffer RECS while KIND's seed is out; True when held (or re-seeded on overflow)."""
        seed = self._seeds.get(kind)
        if seed is not None and seed.done:
            return False
        if seed is None:  # before the subscription is acked: the seed, asked later, covers it
            self.counters["early_pushes"] += 1
            return True
        if not seed.hold((recs, ts, env.creationTime), self.MAX_BUFFER):  # full: seed again
            self.counters["overflows"] += 1
            self._inflight = {r: v for r, v in self._inflight.items() if v[0][0] != kind}
            for key in seed.keys:
                self._request_seed(key, ts, None)
        self.counters["buffered"] += 1
        return True

    def _on_wallet(self, env: schemas.Envelope, ts: int) -> list[Event]:
        recs = schemas.WALLET.decode(env.data)
        if self._hold("account", recs, env, ts):
            return []
        return self._wallet_events(recs, ts, env.creationTime)

    def _wallet_events(
        self, recs: tuple[schemas.WalletAccount, ...], ts: int, created: int | None = None
    ) -> list[Event]:
        t_ns = _ms_ns(created)
        return [
            BalanceUpdate(account=parse.parse_account(m, recs, t_ns, ts, "ws"))
            for m in self.markets
        ]

    def _on_position(self, env: schemas.Envelope, ts: int) -> list[Event]:
        recs = schemas.POSITIONS.decode(env.data)
        if "linear" not in self.markets:  # spot has no positions
            self.counters["ignored"] += len(recs)
            return []
        if self._hold("positions", recs, env, ts):
            return []
        return self._position_events(recs, ts)

    def _position_events(self, recs: tuple[schemas.PositionData, ...], ts: int) -> list[Event]:
        by_market: dict[str, list[Position]] = {}
        for p in recs:
            if p.category in self.markets:
                by_market.setdefault(p.category, []).append(parse.parse_position(p, ts, "ws"))
            else:
                self.counters["ignored"] += 1
        return [
            PositionUpdate(venue=VENUE, market=m, positions=tuple(ps), ts_recv=ts)
            for m, ps in by_market.items()
        ]

    def _on_order(self, env: schemas.Envelope, ts: int) -> list[Event]:
        recs = schemas.ORDERS.decode(env.data)
        if self._hold("orders", recs, env, ts):
            return []
        return self._order_events(recs, ts)

    def _order_events(self, recs: tuple[schemas.OrderData, ...], ts: int) -> list[Event]:
        by_market: dict[str, list[Order]] = {}
        for o in recs:
            if o.category in self.markets:
                by_market.setdefault(o.category, []).append(parse.parse_order(o, ts, "ws"))
            else:
                self.counters["ignored"] += 1
        return [
            OrderUpdate(venue=VENUE, market=m, orders=tuple(os), ts_recv=ts)
            for m, os in by_market.items()
        ]

    def _on_execution(self, env: schemas.Envelope, ts: int) -> list[Event]:
        fills = tuple(
            parse.parse_execution(e, ts)
            for e in schemas.EXECUTIONS.decode(env.data)
            if e.category in self.markets and e.execType not in _NOT_FILLS
        )
        return [TradeUpdate(trades=fills)] if fills else []


def _check_seed(kind: str, items: tuple[object, ...], ts: int) -> None:
    """Parse a seed page's records once on arrival, so a value that cannot be true fails the
    page (stale, retried) rather than the seed's end (found by tests/fuzz: `_finish` raised
    `ParseError` out of `rest_response`)."""
    if kind == "account":
        parse.parse_account("", tuple(x for x in items if isinstance(x, schemas.WalletAccount)),
                            None, ts, "rest")  # fmt: skip
        return
    for x in items:
        if isinstance(x, schemas.PositionData):
            parse.parse_position(x, ts, "rest")
        elif isinstance(x, schemas.OrderData):
            parse.parse_order(x, ts, "rest")


def _order_newer(push: schemas.OrderData, seeded: schemas.OrderData | None) -> bool:
    """A buffered order push applies unless the seed holds a later state of that order."""
    return seeded is None or stamp(push.updatedTime) >= stamp(seeded.updatedTime)


def _position_newer(push: schemas.PositionData, seeded: schemas.PositionData | None) -> bool:
    """A buffered position push applies unless the seed is later (by `seq`, else by time)."""
    if seeded is None:
        return True
    if push.seq is not None and seeded.seq is not None and push.seq != seeded.seq:
        return push.seq > seeded.seq
    return stamp(push.updatedTime) >= stamp(seeded.updatedTime)

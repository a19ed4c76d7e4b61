"""Binance stream rules, sans-I/O: one class per endpoint (connection kind).

    BinanceSpotPublic   stream.binance.com  /stream         bookTicker + 24 h ticker, diff depth
    BinanceUsdmPublic   fstream.binance.com /public/stream  bookTicker, diff depth (with `pu`)
    BinanceUsdmMarket   fstream.binance.com /market/stream  24 h ticker (last, volume) -> stats
    BinanceSpotUser     ws-api.binance.com  /ws-api/v3      userDataStream.subscribe.signature
    BinanceUsdmUser     fstream.binance.com /private/ws     listenKey (REST) + keepalive

Public connections open the combined-stream path with no streams and (re)subscribe with live
`SUBSCRIBE` frames: subscriptions change while the runtime runs (a cache miss subscribes), a
reconnect per new symbol would drop every book, and one path serves any set of streams. The
frames are batched and paced under Binance's incoming-message limit (5/s spot, 10/s USD-M).

Books follow Binance's documented sync through `SyncedBook`: diff events are buffered from the
first one on, the REST snapshot is requested then (a `requests()` item), the buffer is replayed
onto it, and every later event must chain (spot: U <= id + 1; USD-M: pu == previous u). A gap
emits `Stale` at once and requests a new snapshot; so does a diff refused as `Malformed` (the
venue sent it: the book misses it), not only once the next diff's ids show the hole. Private
streams are seeded from REST after the user stream is on; pushes that arrive before every seed
has answered are buffered and replayed on top of it.

Connection state (one `State`, moves checked against `TRANSITIONS`):

    IDLE --connected--> OPEN (public) | AUTHENTICATING (spot user) | SEEDING (USD-M user)
    AUTHENTICATING --subscribed--> SEEDING --all seeds answered--> LIVE
    SEEDING | LIVE --eventStreamTerminated--> AUTHENTICATING;  --listenKeyExpired--> EXPIRED
    any --disconnected--> IDLE
"""

from __future__ import annotations

import enum
import itertools
import logging
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, ClassVar

import msgspec

from spinstream.credentials import Credentials
from spinstream.errors import (
    AuthError,
    ConfigError,
    ProtocolError,
    RateLimited,
    SpinstreamError,
)
from spinstream.models import Account, Balance, Order, Ticker
from spinstream.protocol.binance import auth, parse, rest
from spinstream.protocol.binance import schemas as s
from spinstream.protocol.binance.parse import VENUE, Instrument
from spinstream.protocol.booksync import (
    BINANCE_SPOT,
    BINANCE_USDM,
    Action,
    Rule,
    SyncedBook,
    SyncState,
)
from spinstream.protocol.connection import Connection, Seed
from spinstream.protocol.events import (
    PRIVATE,
    AccountUpdate,
    Authenticated,
    AuthFailed,
    BalanceUpdate,
    BookUpdated,
    Event,
    Liveness,
    Malformed,
    OrderUpdate,
    PositionUpdate,
    RestRequest,
    Subscribed,
    TickerUpdate,
)
from spinstream.protocol.retry import Backoff

__all__ = [
    "TRANSITIONS",
    "BinanceSpotPublic",
    "BinanceSpotUser",
    "BinanceUsdmMarket",
    "BinanceUsdmPublic",
    "BinanceUsdmUser",
    "State",
]

log = logging.getLogger(__name__)

_MS = 1_000_000
_S = 1_000_000_000
_APPLY = Action.APPLY
_RESET = Action.RESET
_Depth = s.DepthMsg | s.DepthLevelsMsg  # the general and the per-frame decoding of one event
_DEPTH, _BOOK_TICKER, _TICKER24 = "depth", "bookTicker", "ticker"  # kinds of per-frame streams


class State(enum.Enum):
    """Where one connection is."""

    IDLE = "idle"  # no socket
    OPEN = "open"  # public: socket open, subscriptions sent
    AUTHENTICATING = "authenticating"  # spot user: subscribe.signature sent, no answer yet
    SEEDING = "seeding"  # private: user stream on, REST seeds pending, pushes buffered
    LIVE = "live"  # private: seeded, pushes applied as they come
    EXPIRED = "expired"  # USD-M user: listenKey expired; reconnect on the new key's path


TRANSITIONS: dict[State, frozenset[State]] = {
    State.IDLE: frozenset({State.OPEN, State.AUTHENTICATING, State.SEEDING}),
    State.OPEN: frozenset({State.IDLE}),
    State.AUTHENTICATING: frozenset({State.IDLE, State.SEEDING}),
    State.SEEDING: frozenset(
        {State.IDLE, State.SEEDING, State.LIVE, State.AUTHENTICATING, State.EXPIRED}
    ),  # SEEDING again: the push buffer overflowed, seed anew
    State.LIVE: frozenset({State.IDLE, State.AUTHENTICATING, State.EXPIRED}),
    State.EXPIRED: frozenset({State.IDLE}),
}


class _Base(Connection[State]):
    """What every Binance connection adds to `Connection`: its market check and kinds."""

    VENUE = VENUE
    MOVES = TRANSITIONS
    log = log
    TICK_S: ClassVar[float] = 5.0
    endpoint: str
    market: str  # the one market the class serves (its `__init__` refuses any other)
    private: bool
    kinds: ClassVar[frozenset[str]]

    def __init__(self, market: str, creds: Credentials | None, env: str) -> None:
        if market != self.market:
            raise ValueError(f"{type(self).__name__} serves market {self.market!r}, not {market!r}")
        super().__init__(market, env, State.IDLE)
        self._creds = creds  # a Secret inside; only auth.py opens it
        self._now = 0

    def _check_kind(self, kind: str, symbol: str | None) -> tuple[str, str | None]:
        if kind not in self.kinds:
            raise ValueError(f"{type(self).__name__} serves {sorted(self.kinds)}, not {kind!r}")
        return kind, symbol.upper() if symbol else None


# =============================================================================================
# Public market data
# =============================================================================================


class _PublicStream(_Base):
    """Combined-stream market data: tickers and diff-depth books of one market."""

    TICK_S = 1.0  # paces queued SUBSCRIBE frames and snapshot retries
    private = False
    # Binance's server pings every 20 s and answers ours; a ping every 3 s stays well inside
    # its 5 incoming messages a second, and proves a quiet connection alive within 5 s
    liveness = Liveness(silent_s=5.0, ping_s=3.0)
    kinds = frozenset({"ticker", "book"})
    MAX_STREAMS: ClassVar[int] = 1024  # per connection (Binance)
    PARAMS_PER_FRAME: ClassVar[int] = 200
    _path: ClassVar[str]
    _rule: ClassVar[Rule]
    # Our share of Binance's incoming-message limit. Frames are stamped with the last input's
    # ts (outgoing() has none), which may lag real time by up to TICK_S: at most twice this
    # many frames can go out in one real second, still under the venue's limit.
    _frames_per_s: ClassVar[int]
    _depth_stream: ClassVar[str] = "depth@100ms"

    def __init__(
        self,
        market: str,
        creds: Credentials | None = None,
        *,
        env: str = "live",
        instruments: Mapping[str, Instrument] | None = None,
        snapshot_limit: int = 1000,
        max_depth: int | None = None,
        max_buffer: int = 1000,
    ) -> None:
        super().__init__(market, creds, env)
        self.snapshot_limit = rest.depth_weight(market, snapshot_limit)[0]
        self.max_depth = self.snapshot_limit if max_depth is None else max_depth
        self.max_buffer = max_buffer
        self._instruments: dict[str, Instrument] = dict(instruments or {})
        self._books: dict[str, SyncedBook] = {}  # held only while ("book", sym) is subscribed
        self._fresh: set[str] = set()  # books served as in sync since their last Stale
        self._early: dict[str, deque[_Depth]] = {}  # events before the decimals are known
        self._last_e: dict[str, int] = {}  # venue time of the last depth event fed, per symbol
        self._tickers: dict[str, Ticker] = {}  # held only while ("ticker", sym) is subscribed
        self._pending: dict[int, tuple[str, str]] = {}  # req_id -> ("snapshot", sym) / ("info", "")
        self._snap_req: dict[str, int] = {}
        self._snap_wanted: set[str] = set()
        self._snap_backoff = Backoff(0.25, 30.0)
        self._info_wanted: set[str] = set()
        self._info_req: int | None = None
        self._info_full = False  # the filtered exchangeInfo failed: ask for all symbols
        self._info_asked: frozenset[str] | None = None  # what the outstanding request covers
        self._info_backoff = Backoff(1.0, 60.0)
        self._to_sub: dict[str, None] = {}  # ordered sets of stream names to (un)subscribe
        self._to_unsub: dict[str, None] = {}
        self._acks: dict[int, tuple[str, tuple[str, ...]]] = {}
        self._sent: deque[int] = deque()
        self._on: dict[str, Callable[[msgspec.Raw, int], list[Event]]] = {
            "bookTicker": self._on_book_ticker,
            self._depth_stream: self._on_depth,
            "ticker": self._on_ticker24,
        }
        # the per-frame path (`receive`): a decoder of the subscribed streams' frames, and the
        # stream type of each frame type it decodes; built again when the subscriptions change
        self._frames: msgspec.json.Decoder[Any] | None = None
        self._frame_kind: dict[type, str] = {}
        self._frames_ok = False

    # --- contract ---------------------------------------------------------------------------

    def connect_path(self) -> str | None:
        """The combined-stream path; streams are subscribed by frames once connected."""
        return self._path

    def start(self, ts: int) -> None:
        """Nothing is needed before connecting (exchangeInfo is asked for per book symbol)."""
        self._now = ts

    def set_instruments(self, instruments: Mapping[str, Instrument]) -> None:
        """Symbol decimals known to the runtime (e.g. from its own exchangeInfo call)."""
        self._instruments.update(instruments)

    def subscribe(self, kind: str, symbol: str | None) -> None:
        """Add a ticker or book subscription; sent at once when connected."""
        kind, sym = self._check_kind(kind, symbol)
        if sym is None:
            raise ValueError(f"a {kind} subscription needs a symbol")
        if (kind, sym) in self._subs:
            return
        wanted = self._streams() | set(self._streams_of(kind, sym))
        if len(wanted) > self.MAX_STREAMS:
            raise ValueError(f"one Binance connection holds at most {self.MAX_STREAMS} streams")
        self._subs.add((kind, sym))
        self._frames_ok = False
        if kind == "book":
            self._open_book(sym)
        if self._state is State.OPEN:
            for name in self._streams_of(kind, sym):
                self._to_unsub.pop(name, None)
                self._to_sub[name] = None

    def unsubscribe(self, kind: str, symbol: str | None) -> None:
        """Drop a subscription and what it holds; its streams are unsubscribed when unused."""
        kind, sym = self._check_kind(kind, symbol)
        if sym is None or (kind, sym) not in self._subs:
            return
        self._subs.discard((kind, sym))
        self._frames_ok = False
        if kind == "book":
            self._close_book(sym)
        else:
            self._tickers.pop(sym, None)
        if self._state is State.OPEN:
            still = self._streams()
            for name in self._streams_of(kind, sym):
                if name not in still:
                    self._to_sub.pop(name, None)
                    self._to_unsub[name] = None

    def connected(self, ts: int) -> list[Event]:
        """Queue SUBSCRIBE for every stream; books restart from a new snapshot."""
        self._move(State.OPEN)
        self._now = ts
        self._to_sub = dict.fromkeys(sorted(self._streams()))
        self._to_unsub.clear()
        log.info(
            "binance %s connected: %d streams", self.endpoint, len(self._to_sub), extra=self._extra
        )
        return []

    def disconnected(self, ts: int) -> list[Event]:
        """Everything this connection fed is stale; books forget their state."""
        if self._state is State.IDLE:
            return []
        self._move(State.IDLE)
        self._now = ts
        self._to_sub.clear()
        self._to_unsub.clear()
        self._acks.clear()
        self._tickers.clear()
        self._fresh.clear()
        for sym in list(self._snap_req):
            self._pending.pop(self._snap_req.pop(sym), None)
        self._snap_wanted.clear()
        self._early.clear()
        for book in self._books.values():
            book.reset()
        return [self._stale(k, sym, "disconnected", ts) for k, sym in sorted(self._subs, key=str)]

    def receive(self, frame: str | bytes, ts: int) -> list[Event]:
        """One frame: stream data, or the answer to a SUBSCRIBE/UNSUBSCRIBE. Never raises."""
        self._now = ts
        # Per frame: one decode of the whole frame by a decoder of the subscribed streams' frames
        # (each tagged by its exact name, so the type decoded says the stream type). The
        # in-sequence diff of a held book and the bookTicker of a held ticker are handled here;
        # anything else the decoder does not take goes the general way.
        dec = self._frames if self._frames_ok else self._build_frames()
        if dec is not None:
            try:
                msg = dec.decode(frame)
            except (msgspec.DecodeError, UnicodeError):
                msg = None  # the general way below says what is wrong with it
            if msg is not None:
                kind = self._frame_kind[type(msg)]
                data = msg.data
                try:
                    if kind is _DEPTH:
                        sym = data.symbol
                        book = self._books.get(sym)  # held only for a subscribed symbol
                        if book is None:
                            return self._on_depth_msg(data, ts)
                        e = data.event_time
                        seq = data.last_id
                        action = book.update_seq(
                            seq, data.first_id, data.prev_id, False, data.bids, data.asks
                        )
                        self._last_e[sym] = e
                        if action is _APPLY:
                            return [
                                BookUpdated(
                                    venue=VENUE,
                                    market=self.market,
                                    symbol=sym,
                                    book=book.book,
                                    seq=seq,  # the sync's id after APPLY
                                    ts_event=e * _MS,
                                    ts_recv=ts,
                                )
                            ]
                        return self._fed(sym, book, action, e, ts)
                    if kind is _BOOK_TICKER:
                        sym = data.symbol
                        prev = self._tickers.get(sym)  # held only for a subscribed symbol
                        if prev is None:
                            return self._on_book_ticker_floats(data, ts)
                        tk = parse.parse_book_ticker_floats(self.market, data, prev, ts)
                        self._tickers[sym] = tk
                        return [TickerUpdate(ticker=tk)]
                    return self._on_ticker24_msg(data, ts)
                except Exception as exc:
                    events = self._failed(type(msg).__struct_config__.tag, ts, exc)
                    if kind is _DEPTH:
                        events += self._lost_diff(data.symbol, ts)
                    return events
        return self._receive(frame, ts)

    def _receive(self, frame: str | bytes, ts: int) -> list[Event]:
        """`receive`, the general way: the envelope, then the payload by its stream type."""
        try:
            env = s.STREAM_DECODER.decode(frame)
        except (msgspec.DecodeError, UnicodeError) as exc:
            return [self._malformed(f"undecodable frame: {exc}", ts)]
        if env.stream is not None:
            low, _, stream_type = env.stream.partition("@")
            depth_of = low.upper() if stream_type == self._depth_stream else None
            if not env.data:
                malformed = self._malformed(f"stream {env.stream} without data", ts)
                return [malformed, *self._lost_diff(depth_of, ts)]
            handler = self._on.get(stream_type)
            if handler is None:
                if env.stream == "!serverShutdown":
                    log.info("binance %s: server shutdown notice", self.endpoint, extra=self._extra)
                    return []
                return [self._malformed(f"unknown stream {env.stream}", ts)]
            data = env.data
            events = self._guard(env.stream, ts, lambda: handler(data, ts))
            if depth_of is not None and events and type(events[0]) is Malformed:
                events += self._lost_diff(depth_of, ts)
            return events
        if env.id is not None:
            return self._on_answer(env, ts)
        return [self._malformed("frame is neither stream data nor an answer", ts)]

    def _build_frames(self) -> msgspec.json.Decoder[Any] | None:
        """The per-frame decoder of the subscribed streams (built again after a change)."""
        payloads = {  # stream type (as `_on` names it) -> (payload struct, kind)
            self._depth_stream: (s.DepthLevelsMsg, _DEPTH),
            "bookTicker": (s.BookTickerFloats, _BOOK_TICKER),
            "ticker": (s.Ticker24Msg, _TICKER24),
        }
        kinds: dict[type, str] = {}
        for name in self._streams():
            payload = payloads.get(name.partition("@")[2])
            if payload is not None:
                kinds[s.frame_type(name, payload[0])] = payload[1]
        self._frame_kind = kinds
        self._frames = s.frames_decoder(kinds)
        self._frames_ok = True
        return self._frames

    def rest_response(self, req_id: int, status: int, body: bytes, ts: int) -> list[Event]:
        """A depth snapshot or exchangeInfo answer."""
        self._now = ts
        what = self._pending.pop(req_id, None)
        if what is None:
            self._count("late_answers")  # from before a reconnect or an unsubscribe
            return []
        kind, sym = what
        if kind == "info":
            return self._guard("exchangeInfo", ts, lambda: self._on_info(status, body, ts))
        return self._guard(f"{sym} snapshot", ts, lambda: self._on_snapshot(sym, status, body, ts))

    def tick(self, ts: int) -> list[Event]:
        """Retry due snapshots and exchangeInfo; paced SUBSCRIBE frames go out on outgoing()."""
        self._now = ts
        for sym in sorted(self._snap_wanted):
            if self._snap_backoff.ready(sym, ts):
                self._request_snapshot(sym, ts)
        if self._info_wanted and self._info_req is None:
            self._request_info(ts)
        return []

    def pending(self) -> bool:
        """Anything for `outgoing()` / `requests()`: queued frames or requests, or stream names
        waiting to go out in SUBSCRIBE / UNSUBSCRIBE batches (paced by the message rate)."""
        return super().pending() or bool(self._to_sub) or bool(self._to_unsub)

    def outgoing(self) -> list[str]:
        """Frames to send, drained: SUBSCRIBE/UNSUBSCRIBE batches, within the message rate."""
        out = super().outgoing()
        if self._state is not State.OPEN:
            return out
        sent = self._sent
        while sent and sent[0] <= self._now - _S:
            sent.popleft()
        for method, names in (("UNSUBSCRIBE", self._to_unsub), ("SUBSCRIBE", self._to_sub)):
            while names and len(sent) < self._frames_per_s:
                batch = tuple(itertools.islice(names, self.PARAMS_PER_FRAME))
                for name in batch:
                    del names[name]
                rid = next(self._ids)
                self._acks[rid] = (method, batch)
                out.append(
                    msgspec.json.encode(
                        {"method": method, "params": list(batch), "id": rid}
                    ).decode()
                )
                sent.append(self._now)
        return out

    # --- streams ----------------------------------------------------------------------------

    def _streams_of(self, kind: str, sym: str) -> tuple[str, ...]:
        low = sym.lower()
        if kind == "book":
            return (f"{low}@{self._depth_stream}",)
        return (f"{low}@bookTicker",)

    def _streams(self) -> set[str]:
        return {n for kind, sym in self._subs if sym for n in self._streams_of(kind, sym)}

    def _on_answer(self, env: s.StreamEnvelope, ts: int) -> list[Event]:
        rid = env.id if isinstance(env.id, int) else None
        method, names = self._acks.pop(rid, ("", ())) if rid is not None else ("", ())
        err = env.error
        if err is None and env.code is not None:  # e.g. {"code": 0, "msg": "Unknown property"}
            err = s.WsApiError(code=env.code, msg=env.msg or "")
        if err is not None:
            self._count("subscribe_errors")
            log.warning(
                "binance %s %s refused: %s %s",
                self.endpoint,
                method or "request",
                err.code,
                err.msg,
                extra=self._extra,
            )
            return [self._malformed(f"{method or 'request'} refused: {err.code} {err.msg}", ts)]
        if not method:
            return [self._malformed(f"answer to unknown request id {env.id!r}", ts)]
        if method == "UNSUBSCRIBE":
            return []
        return [Subscribed(venue=VENUE, topic=name, ts_recv=ts) for name in names]

    # --- tickers ----------------------------------------------------------------------------

    def _on_book_ticker_floats(self, msg: s.BookTickerFloats, ts: int) -> list[Event]:
        sym = msg.symbol
        prev = self._tickers.get(sym)  # held only for subscribed symbols
        if prev is None and ("ticker", sym) not in self._subs:
            self._count("unsubscribed_frames")
            return []
        t = parse.parse_book_ticker_floats(self.market, msg, prev, ts)
        self._tickers[sym] = t
        return [TickerUpdate(ticker=t)]

    def _on_book_ticker(self, raw: msgspec.Raw, ts: int) -> list[Event]:
        msg = s.BOOK_TICKER_DECODER.decode(raw)
        if ("ticker", msg.symbol) not in self._subs:
            self._count("unsubscribed_frames")
            return []
        t = parse.parse_book_ticker(self.market, msg, ts)
        prev = self._tickers.get(msg.symbol)
        if prev is not None and prev.last is not None:
            t = msgspec.structs.replace(t, last=prev.last, volume_24h=prev.volume_24h)
        self._tickers[msg.symbol] = t
        return [TickerUpdate(ticker=t)]

    def _on_ticker24(self, raw: msgspec.Raw, ts: int) -> list[Event]:
        return self._on_ticker24_msg(s.TICKER24_DECODER.decode(raw), ts)

    def _on_ticker24_msg(self, msg: s.Ticker24Msg, ts: int) -> list[Event]:
        if ("ticker", msg.symbol) not in self._subs:
            self._count("unsubscribed_frames")
            return []
        t = parse.merge_ticker24(self.market, msg, self._tickers.get(msg.symbol), ts)
        self._tickers[msg.symbol] = t
        return [TickerUpdate(ticker=t)]

    # --- books ------------------------------------------------------------------------------

    def _open_book(self, sym: str) -> None:
        info = self._instruments.get(sym)
        if info is None:
            self._info_wanted.add(sym)
            if self._info_req is None:
                self._request_info(self._now)
            return
        self._books[sym] = SyncedBook(
            self._rule,
            info.price_decimals,
            info.size_decimals,
            max_depth=self.max_depth,
            max_buffer=self.max_buffer,
        )

    def _close_book(self, sym: str) -> None:
        self._books.pop(sym, None)
        self._early.pop(sym, None)
        self._fresh.discard(sym)
        self._snap_wanted.discard(sym)
        self._info_wanted.discard(sym)
        self._last_e.pop(sym, None)
        rid = self._snap_req.pop(sym, None)
        if rid is not None:
            self._pending.pop(rid, None)

    def _on_depth(self, raw: msgspec.Raw, ts: int) -> list[Event]:
        return self._on_depth_msg(s.DEPTH_DECODER.decode(raw), ts)

    def _on_depth_msg(self, msg: _Depth, ts: int) -> list[Event]:
        sym = msg.symbol
        book = self._books.get(sym)  # a book exists only for a subscribed symbol
        if book is not None:
            return self._feed(sym, book, msg, ts)
        if ("book", sym) not in self._subs:
            self._count("unsubscribed_frames")
            return []
        # decimals not known yet: hold the events, in order
        early = self._early.setdefault(sym, deque(maxlen=self.max_buffer))
        early.append(msg)
        return []

    def _lost_diff(self, sym: str | None, ts: int) -> list[Event]:
        """A diff of SYM's depth stream was rejected (Malformed): the venue sent it, so the book
        misses it, as after a gap. A synced book is invalidated (its diffs are held, not
        applied), stale at once, and a new snapshot is fetched. A book not in sync needs
        nothing: the buffered diffs must chain onto its next snapshot, and the missing one
        breaks that chain unless the snapshot already covers it."""
        book = self._books.get(sym) if sym else None
        if sym is None or book is None or book.sync.state is not SyncState.SYNCED:
            return []
        self._count("lost_diffs")
        book.invalidate("malformed diff dropped (a gap)")
        return self._resync(sym, book.sync.reason or "malformed diff dropped (a gap)", ts)

    def _feed(self, sym: str, book: SyncedBook, msg: _Depth, ts: int) -> list[Event]:
        e = msg.event_time
        action = book.update_seq(msg.last_id, msg.first_id, msg.prev_id, False, msg.bids, msg.asks)
        self._last_e[sym] = e
        return self._fed(sym, book, action, e, ts)

    def _fed(self, sym: str, book: SyncedBook, action: Action, e: int, ts: int) -> list[Event]:
        """What `_feed` answers once SYM's BOOK took an event (venue time E ms) with ACTION."""
        if action is _APPLY or action is _RESET:
            return [self._book_updated(sym, book, e * _MS, ts)]
        if action is Action.BUFFER:
            if sym not in self._snap_req:
                self._want_snapshot(sym, ts)  # the doc's order: buffer first, then fetch
            return []
        if action is Action.DROP:
            return []
        return self._resync(sym, book.sync.reason or "resync needed", ts)

    def _resync(self, sym: str, reason: str, ts: int) -> list[Event]:
        self._count("resyncs")
        if "gap" in reason:
            self._count("gaps")
        log.warning(
            "binance %s %s book resync: %s",
            self.market,
            sym,
            reason,
            extra={**self._extra, "symbol": sym},
        )
        self._want_snapshot(sym, ts)
        if sym not in self._fresh:
            return []
        self._fresh.discard(sym)
        return [self._stale("book", sym, reason, ts)]

    def _want_snapshot(self, sym: str, ts: int) -> None:
        if sym in self._snap_req:
            return
        if self._snap_backoff.ready(sym, ts):
            self._request_snapshot(sym, ts)
        else:
            self._snap_wanted.add(sym)

    def _request_snapshot(self, sym: str, ts: int) -> None:
        self._snap_wanted.discard(sym)
        if sym in self._snap_req or sym not in self._books or self._state is not State.OPEN:
            return
        rid = self._queue(rest.build_depth_snapshot(self.market, sym, self.snapshot_limit))
        self._snap_req[sym] = rid
        self._pending[rid] = ("snapshot", sym)
        self._count("snapshots")

    def _on_snapshot(self, sym: str, status: int, body: bytes, ts: int) -> list[Event]:
        self._snap_req.pop(sym, None)
        book = self._books.get(sym)
        if book is None:
            return []
        if status != 200:
            self._count("snapshot_errors")
            self._snap_backoff.failed(sym, ts)
            self._snap_wanted.add(sym)
            code, msg = rest.error_of(body)
            return [self._malformed(f"{sym} snapshot: HTTP {status} {code} {msg}", ts)]
        try:
            snap = rest.parse_depth_snapshot(body)
        except SpinstreamError:
            self._snap_backoff.failed(sym, ts)
            self._snap_wanted.add(sym)
            raise
        if not book.snapshot(snap.lastUpdateId, snap.bids, snap.asks):
            self._count("snapshot_retries")  # older than the buffer, or the buffer has a gap
            log.info(
                "binance %s %s snapshot %d does not chain: %s",
                self.market,
                sym,
                snap.lastUpdateId,
                book.sync.reason,
                extra={**self._extra, "symbol": sym},
            )
            self._snap_backoff.failed(sym, ts)
            self._want_snapshot(sym, ts)
            return []
        self._snap_backoff.ok(sym)
        self._fresh.add(sym)
        replayed = book.sync.last != snap.lastUpdateId
        e_ms = self._last_e.get(sym) if replayed else snap.E
        return [
            self._fresh_event("book", sym, ts),
            self._book_updated(sym, book, parse.ms_to_ns(e_ms), ts),
        ]

    # --- instruments ------------------------------------------------------------------------

    def _request_info(self, ts: int) -> None:
        if not self._info_wanted or not self._info_backoff.ready("info", ts):
            return
        full = self._info_full or self.market != "spot"  # USD-M exchangeInfo takes no filter
        self._info_asked = None if full else frozenset(self._info_wanted)
        symbols = () if full else tuple(sorted(self._info_wanted))
        rid = self._queue(rest.build_exchange_info(self.market, symbols))
        self._info_req = rid
        self._pending[rid] = ("info", "")

    def _on_info(self, status: int, body: bytes, ts: int) -> list[Event]:
        self._info_req = None
        if status != 200:
            code, msg = rest.error_of(body)
            self._count("info_errors")
            self._info_full = True  # e.g. -1121 for one bad symbol fails the filtered request
            self._info_backoff.failed("info", ts)
            return [self._malformed(f"exchangeInfo: HTTP {status} {code} {msg}", ts)]
        try:
            found = rest.parse_exchange_info(self.market, body)
        except SpinstreamError:
            self._info_backoff.failed("info", ts)
            raise
        self._info_backoff.ok("info")
        self._instruments.update(found)
        asked = self._info_asked
        events: list[Event] = []
        for sym in sorted(self._info_wanted):
            if ("book", sym) not in self._subs:
                self._info_wanted.discard(sym)
            elif sym in self._instruments:
                self._info_wanted.discard(sym)
                self._open_book(sym)
                for early in self._early.pop(sym, ()):
                    events.extend(self._feed(sym, self._books[sym], early, ts))
            elif asked is None or sym in asked:
                self._info_wanted.discard(sym)
                self._count("unknown_symbols")
                events.append(self._stale("book", sym, "symbol not in exchangeInfo", ts))
        if self._info_wanted:  # subscribed while the request was out
            self._request_info(ts)
        return events


class BinanceSpotPublic(_PublicStream):
    """Spot market data on `stream.binance.com` `/stream`: tickers and diff-depth books.

    The ticker kind takes best bid/ask from `<sym>@bookTicker` (real time) and, unless
    `ticker_stats=False`, last price and 24 h volume from `<sym>@ticker` (1 s), merged.
    """

    endpoint = "spot-public"
    market = "spot"
    _path = "/stream"
    _rule = BINANCE_SPOT
    _frames_per_s = 2  # Binance spot allows 5 incoming messages/s, pongs included

    def __init__(
        self,
        market: str = "spot",
        creds: Credentials | None = None,
        *,
        env: str = "live",
        instruments: Mapping[str, Instrument] | None = None,
        snapshot_limit: int = 1000,
        max_depth: int | None = None,
        max_buffer: int = 1000,
        ticker_stats: bool = True,
    ) -> None:
        super().__init__(
            market,
            creds,
            env=env,
            instruments=instruments,
            snapshot_limit=snapshot_limit,
            max_depth=max_depth,
            max_buffer=max_buffer,
        )
        self.ticker_stats = ticker_stats

    def _streams_of(self, kind: str, sym: str) -> tuple[str, ...]:
        if kind == "ticker" and self.ticker_stats:
            low = sym.lower()
            return (f"{low}@bookTicker", f"{low}@ticker")
        return super()._streams_of(kind, sym)


class BinanceUsdmPublic(_PublicStream):
    """USD-M market data on the routed `/public/stream` path: bookTicker and diff depth.

    The 24 h ticker and mark price live on `/market` (another connection, `BinanceUsdmMarket`);
    the ticker kind here is best bid/ask only, and the cache merges in the 24 h stats.
    """

    endpoint = "usdm-public"
    market = "usdm"
    _path = "/public/stream"
    _rule = BINANCE_USDM
    _frames_per_s = 4  # Binance USD-M allows 10 incoming messages/s

    def __init__(
        self,
        market: str = "usdm",
        creds: Credentials | None = None,
        *,
        env: str = "live",
        instruments: Mapping[str, Instrument] | None = None,
        snapshot_limit: int = 1000,
        max_depth: int | None = None,
        max_buffer: int = 1000,
    ) -> None:
        super().__init__(
            market,
            creds,
            env=env,
            instruments=instruments,
            snapshot_limit=snapshot_limit,
            max_depth=max_depth,
            max_buffer=max_buffer,
        )


class BinanceUsdmMarket(_PublicStream):
    """USD-M 24 h tickers on the routed `/market/stream` path: kind "ticker24h".

    `<sym>@ticker` (event `24hrTicker`) carries last price and 24 h base volume but no bid/ask
    on USD-M; each one is emitted as `TickerStats`, which the cache merges into the symbol's
    ticker (its bid/ask and freshness come from `BinanceUsdmPublic`'s bookTicker).
    """

    endpoint = "usdm-market"
    market = "usdm"
    kinds = frozenset({"ticker24h"})
    _path = "/market/stream"
    _rule = BINANCE_USDM
    _frames_per_s = 4  # Binance USD-M allows 10 incoming messages/s

    def __init__(
        self, market: str = "usdm", creds: Credentials | None = None, *, env: str = "live"
    ) -> None:
        super().__init__(market, creds, env=env)

    def _streams_of(self, kind: str, sym: str) -> tuple[str, ...]:
        return (f"{sym.lower()}@ticker",)

    def _on_ticker24_msg(self, msg: s.Ticker24Msg, ts: int) -> list[Event]:
        if ("ticker24h", msg.symbol) not in self._subs:
            self._count("unsubscribed_frames")
            return []
        return [parse.parse_ticker_stats(self.market, msg, ts)]


# =============================================================================================
# Private user data
# =============================================================================================

_SEED_FIRST_NS = 1 * _S
_SEED_MAX_NS = 60 * _S


class _UserStream(_Base):
    """A private stream seeded from REST; pushes before the seed are buffered and replayed."""

    private = True
    liveness = PRIVATE  # event-driven: our pings prove it alive
    MAX_PUSH_BUFFER: ClassVar[int] = 10_000
    AUTH_RETRY_S: ClassVar[float] = 1.0  # a refused subscription / listenKey: retry after this,
    AUTH_RETRY_MAX_S: ClassVar[float] = 60.0  # doubling up to this (auth failures cost weight)
    _seed_kinds: ClassVar[tuple[str, ...]]

    def __init__(self, market: str, creds: Credentials | None, env: str) -> None:
        if creds is None:
            raise ConfigError(f"binance {self.endpoint} needs API credentials")
        auth.check_credentials(creds)
        super().__init__(market, creds, env)
        self._api: Credentials = creds
        self._seed_req: dict[int, str] = {}  # req_id -> seed kind
        # one seed of every kind; pages[kind] = [parsed answer]; retry: kind -> ts (backoff)
        self._seed: Seed[str] = Seed(keys=self._seed_kinds)
        self._seed_backoff = Backoff(_SEED_FIRST_NS / _S, _SEED_MAX_NS / _S)
        self.counters.update(seeds=0, buffered=0, replayed=0)

    def subscribe(self, kind: str, symbol: str | None = None) -> None:
        """Record interest in a kind; the user stream carries all of them anyway."""
        self._subs.add(self._check_kind(kind, None))

    def unsubscribe(self, kind: str, symbol: str | None = None) -> None:
        """Forget a kind (the stream stays open while the runtime keeps the connection)."""
        self._subs.discard(self._check_kind(kind, None))

    def disconnected(self, ts: int) -> list[Event]:
        """Every kind of this connection is stale; seeds and buffered pushes are dropped."""
        if self._state is State.IDLE:
            return []
        self._move(State.IDLE)
        self._now = ts
        self._reset_seed()
        return self._stale_all("disconnected", ts)

    # --- seeding ----------------------------------------------------------------------------

    def _build_seed(self, kind: str, now_ms: int) -> RestRequest:
        raise NotImplementedError

    def _parse_seed(self, kind: str, body: bytes, ts: int) -> object:
        raise NotImplementedError

    def _seed_events(self, ts: int) -> list[Event]:
        raise NotImplementedError

    def _apply(self, msg: object, ts: int) -> list[Event]:
        raise NotImplementedError

    def _keep(self, msg: object) -> bool:
        """Whether a buffered push is newer than the seed (default: replay everything)."""
        return True

    def _reset_seed(self) -> None:
        self._seed_req.clear()
        self._seed.restart()

    def _start_seed(self, ts: int) -> None:
        self._reset_seed()
        self._move(State.SEEDING)
        for kind in self._seed_kinds:
            self._request_seed(kind, ts)

    def _request_seed(self, kind: str, ts: int) -> None:
        self._seed.retry.pop(kind, None)
        rid = self._queue(self._build_seed(kind, ts // _MS))
        self._seed_req[rid] = kind
        self._count("seeds")

    def _retry_seeds(self, ts: int) -> None:
        if self._state is not State.SEEDING:
            return
        for kind in sorted(self._seed.due(ts)):
            self._request_seed(kind, ts)

    def _on_seed(self, kind: str, status: int, body: bytes, ts: int) -> list[Event]:
        if self._state is not State.SEEDING:
            return []
        if status != 200:
            code, msg = rest.error_of(body)
            cls = rest.error_class(status, code)
            self._count("seed_errors")
            self._seed.retry[kind] = self._seed_backoff.failed(kind, ts)
            if cls is AuthError:
                self.problem = f"{kind} seed refused ({code}: {msg}); retrying"
                return [
                    AuthFailed(venue=VENUE, market=self.market, reason=f"{code}: {msg}", ts_recv=ts)
                ]
            return [self._malformed(f"{kind} seed: HTTP {status} {code} {msg}", ts)]
        try:
            self._seed.pages[kind] = [self._parse_seed(kind, body, ts)]
        except SpinstreamError:
            self._seed.retry[kind] = self._seed_backoff.failed(kind, ts)
            raise
        self._seed_backoff.ok(kind)
        self._seed.pending.discard(kind)
        if self._seed.pending:
            return []
        events = self._seed_events(ts)
        events.extend(self._fresh_event(k, None, ts) for k in sorted(self.kinds))
        self._move(State.LIVE)
        self.problem = None
        self._seed.done = True
        buffered = list(self._seed.buffer)
        self._seed.buffer.clear()
        for msg in buffered:
            if self._keep(msg):
                self._count("replayed")
                events.extend(self._guard(type(msg).__name__, ts, partial(self._apply, msg, ts)))
        return events

    def _push(self, msg: object, ts: int) -> list[Event]:
        """A user data push: applied when LIVE, buffered while seeding."""
        if self._state is State.LIVE:
            return self._apply(msg, ts)
        if self._state is not State.SEEDING:
            self._count("pushes_dropped")  # not subscribed (yet): nothing to apply it to
            return []
        if not self._seed.hold(msg, self.MAX_PUSH_BUFFER):
            self._count("buffer_overflows")  # re-seed: newer seeds cover what is dropped
            log.warning(
                "binance %s push buffer overflow: re-seeding", self.endpoint, extra=self._extra
            )
            self._seed_req.clear()
            self._move(State.SEEDING)
            for kind in self._seed_kinds:
                self._request_seed(kind, ts)
        self._count("buffered")
        return []

    def _stale_all(self, reason: str, ts: int) -> list[Event]:
        return [self._stale(k, None, reason, ts) for k in sorted(self.kinds)]

    def _auth_refused(self, what: str, reason: str, ts: int) -> list[Event]:
        """WHAT was refused: retried after the auth backoff, AuthFailed + Stale meanwhile."""
        stale = self._auth_later(what, reason, ts)
        return [self._auth_failed(reason, ts), *self._stale_all(stale, ts)]

    def _orders(self, orders: tuple[Order, ...], ts: int, full: bool = False) -> OrderUpdate:
        return OrderUpdate(venue=VENUE, market=self.market, orders=orders, full=full, ts_recv=ts)


class BinanceSpotUser(_UserStream):
    """Spot user data on the WS API: `userDataStream.subscribe.signature`, seeded from REST.

    Events: `executionReport` -> OrderUpdate, `outboundAccountPosition` and `balanceUpdate`
    -> BalanceUpdate, `eventStreamTerminated` -> Stale + a new subscription. (The listenKey
    flow for spot was retired on 2026-02-20; it is not used.) Seeds: `/api/v3/account` and
    `/api/v3/openOrders`. A refused subscription is `AuthFailed` + `Stale` and is sent again
    from `tick` after `AUTH_RETRY_S`, doubling up to `AUTH_RETRY_MAX_S` (also across
    reconnects: `connected` waits for a retry that is not due yet); `problem` says why.
    """

    endpoint = "spot-user"
    market = "spot"
    kinds = frozenset({"account", "orders"})
    _seed_kinds = ("account", "orders")
    _path = "/ws-api/v3"

    def __init__(
        self, market: str = "spot", creds: Credentials | None = None, *, env: str = "live"
    ) -> None:
        super().__init__(market, creds, env)
        self._login_id: int | None = None
        self._login_backoff = Backoff(5.0, 300.0)
        self._subscription: int | None = None
        self._balances: dict[str, Balance] = {}
        self._seed_time_ms: int | None = None  # the account seed's updateTime
        self._on: dict[type, Callable[[object, int], list[Event]]] = {
            s.ExecutionReport: self._on_execution_report,  # type: ignore[dict-item]
            s.AccountPosition: self._on_account_position,  # type: ignore[dict-item]
            s.BalanceDelta: self._on_balance_delta,  # type: ignore[dict-item]
        }

    def connect_path(self) -> str | None:
        """The WS API path."""
        return self._path

    def start(self, ts: int) -> None:
        """Nothing before connecting: the subscription is a signed request on the socket."""
        self._now = ts

    def connected(self, ts: int) -> list[Event]:
        """Queue the signed user data subscription (`tick` does, if a retry is not due yet)."""
        self._move(State.AUTHENTICATING)
        self._now = ts
        self._login_id = None
        if self._login_due(ts):
            self._login(ts)
        return []

    def _login_due(self, ts: int) -> bool:
        return self._auth.ready(ts) and self._login_backoff.ready("login", ts)

    def tick(self, ts: int) -> list[Event]:
        """Retry a refused subscription or a failed seed when their backoff allows."""
        self._now = ts
        if self._state is State.AUTHENTICATING and self._login_id is None and self._login_due(ts):
            self._count("auth_retries")
            self._login(ts)
        self._retry_seeds(ts)
        return []

    def receive(self, frame: str | bytes, ts: int) -> list[Event]:
        """A WS API answer or a user data event. Never raises."""
        self._now = ts
        try:
            msg = s.WSAPI_DECODER.decode(frame)
        except (msgspec.DecodeError, UnicodeError) as exc:
            return [self._malformed(f"undecodable frame: {exc}", ts)]
        if msg.event is not None:
            event = msg.event
            return self._guard(type(event).__name__, ts, lambda: self._on_event(event, ts))
        if msg.id is not None and msg.id == self._login_id:
            return self._on_login(msg, ts)
        return [self._malformed(f"unexpected WS API frame (id {msg.id!r})", ts)]

    def rest_response(self, req_id: int, status: int, body: bytes, ts: int) -> list[Event]:
        """A seed answer (account or open orders)."""
        self._now = ts
        kind = self._seed_req.pop(req_id, None)
        if kind is None:
            self._count("late_answers")
            return []
        return self._guard(f"{kind} seed", ts, lambda: self._on_seed(kind, status, body, ts))

    # --- subscription -----------------------------------------------------------------------

    def _login(self, ts: int) -> None:
        self._login_id = next(self._ids)
        self._out.append(auth.login_frame(self._api, ts // _MS, req_id=self._login_id))
        log.info("binance spot user data: subscribing", extra=self._extra)

    def _on_login(self, msg: s.WsApiFrame, ts: int) -> list[Event]:
        self._login_id = None
        if self._state is not State.AUTHENTICATING:
            return [self._malformed("subscription answer outside authentication", ts)]
        if msg.error is not None or msg.result is None or msg.result.subscriptionId is None:
            code = msg.error.code if msg.error else None
            reason = f"{code}: {msg.error.msg}" if msg.error else "no subscriptionId"
            self._count("auth_failures")
            if rest.error_class(msg.status or 400, code) is RateLimited:
                self._login_backoff.failed("login", ts)
                self.problem = f"user data subscription rate limited ({reason}); waiting"
                log.warning("binance spot user data: %s", self.problem, extra=self._extra)
                return [self._malformed(f"user data subscription rate limited: {reason}", ts)]
            return self._auth_refused("user data subscription", reason, ts)
        self._login_backoff.ok("login")
        self._auth.ok()
        self.problem = None
        self._subscription = msg.result.subscriptionId
        self._start_seed(ts)
        return [Authenticated(venue=VENUE, market=self.market, ts_recv=ts)]

    # --- seeds ------------------------------------------------------------------------------

    def _build_seed(self, kind: str, now_ms: int) -> RestRequest:
        if kind == "account":
            return rest.build_account("spot", self._api, now_ms)
        return rest.build_open_orders("spot", self._api, now_ms)

    def _parse_seed(self, kind: str, body: bytes, ts: int) -> object:
        if kind == "account":
            account = rest.parse_account("spot", body, ts)
            self._seed_time_ms = account.ts_event // _MS if account.ts_event else None
            return account
        return rest.parse_open_orders("spot", body, ts)

    def _seed_events(self, ts: int) -> list[Event]:
        account = self._seed.pages["account"][0]
        orders = self._seed.pages["orders"][0]
        assert isinstance(account, Account) and isinstance(orders, tuple)
        self._balances = dict(account.balances)
        return [AccountUpdate(account=account), self._orders(orders, ts, full=True)]

    def _keep(self, msg: object) -> bool:
        seed = self._seed_time_ms
        if seed is None:
            return True
        if isinstance(msg, s.AccountPosition):
            return msg.update_time is None or msg.update_time >= seed
        if isinstance(msg, s.BalanceDelta):  # a delta the seed already holds must not count twice
            return msg.clear_time > seed
        return True

    # --- pushes -----------------------------------------------------------------------------

    def _on_event(self, event: object, ts: int) -> list[Event]:
        if isinstance(event, s.EventStreamTerminated):
            log.warning(
                "binance spot user data stream terminated: resubscribing", extra=self._extra
            )
            self._reset_seed()
            if self._state is State.IDLE:
                return []
            self._move(State.AUTHENTICATING)
            self._login(ts)
            return self._stale_all("user data stream terminated", ts)
        if isinstance(event, (s.ExternalLockUpdate, s.ServerShutdown)):
            self._count("ignored_events")
            return []
        return self._push(event, ts)

    def _apply(self, msg: object, ts: int) -> list[Event]:
        return self._on[type(msg)](msg, ts)

    def _on_execution_report(self, msg: s.ExecutionReport, ts: int) -> list[Event]:
        return [self._orders((parse.parse_execution_report(msg, ts),), ts)]

    def _on_account_position(self, msg: s.AccountPosition, ts: int) -> list[Event]:
        account = parse.parse_account_position(msg, ts)
        self._balances.update(account.balances)
        return [BalanceUpdate(account=account)]

    def _on_balance_delta(self, msg: s.BalanceDelta, ts: int) -> list[Event]:
        account = parse.apply_balance_delta(msg, self._balances.get(msg.asset), ts)
        self._balances.update(account.balances)
        return [BalanceUpdate(account=account)]


class BinanceUsdmUser(_UserStream):
    """USD-M user data: a REST listenKey, `/private/ws?listenKey=...&events=...`, seeded from REST.

    `start` queues `POST /fapi/v1/listenKey`; `connect_path()` is None until the key is known.
    `tick` keeps the key alive (`PUT` every 30 min; it is valid 60 min). `listenKeyExpired`
    (or a keepalive answered with -1125) marks everything stale, asks for a new key and sets
    `needs_reconnect`: the transport reconnects on the new `connect_path()` (no key is ever put
    in an event or a log). A refused key request is `AuthFailed` + `Stale`, asked again after
    `AUTH_RETRY_S`, doubling up to `AUTH_RETRY_MAX_S`; `problem` says why meanwhile. Events:
    ORDER_TRADE_UPDATE -> OrderUpdate, ACCOUNT_UPDATE -> BalanceUpdate + PositionUpdate.
    Seeds: `/fapi/v3/account`, `/fapi/v3/positionRisk`, `/fapi/v1/openOrders`.
    """

    endpoint = "usdm-user"
    market = "usdm"
    kinds = frozenset({"account", "positions", "orders"})
    _seed_kinds = ("account", "positions", "orders")
    EVENTS: ClassVar[str] = "ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/listenKeyExpired"
    KEEPALIVE_NS: ClassVar[int] = 30 * 60 * _S

    def __init__(
        self, market: str = "usdm", creds: Credentials | None = None, *, env: str = "live"
    ) -> None:
        super().__init__(market, creds, env)
        self._key: str | None = None  # the listenKey: grants reading the stream; never logged
        self._key_ts = 0
        self._key_req: int | None = None  # POST outstanding
        self._keepalive_req: int | None = None  # PUT outstanding
        self._key_backoff = Backoff(5.0, 300.0)
        self._connected_key: str | None = None
        self.needs_reconnect = False
        self._on: dict[type, Callable[[object, int], list[Event]]] = {
            s.OrderTradeUpdate: self._on_order_update,  # type: ignore[dict-item]
            s.AccountUpdateMsg: self._on_account_update,  # type: ignore[dict-item]
        }

    def connect_path(self) -> str | None:
        """The private path with the listenKey and the event allow-list; None until a key."""
        if self._key is None:
            return None
        return f"/private/ws?listenKey={self._key}&events={self.EVENTS}"

    def start(self, ts: int) -> None:
        """Ask for a listenKey unless one is known or asked for."""
        self._now = ts
        if self._key is None and self._key_req is None:
            self._request_key(ts)

    def connected(self, ts: int) -> list[Event]:
        """The stream is open on the current key: seed from REST (pushes buffer meanwhile)."""
        if self._key is None:
            raise ProtocolError("binance usdm-user: connected without a listenKey")
        self._now = ts
        self._connected_key = self._key
        self.needs_reconnect = False
        self._start_seed(ts)
        return [Authenticated(venue=VENUE, market=self.market, ts_recv=ts)]

    def disconnected(self, ts: int) -> list[Event]:
        """Stale for every kind; the key stays valid for the reconnect."""
        self._connected_key = None
        return super().disconnected(ts)

    def tick(self, ts: int) -> list[Event]:
        """Keep the listenKey alive, retry a failed key request or seed."""
        self._now = ts
        if self._key is None:
            due = self._key_backoff.ready("key", ts) and self._auth.ready(ts)
            if self._key_req is None and due:
                self._request_key(ts)
        elif self._keepalive_req is None and ts - self._key_ts >= self.KEEPALIVE_NS:
            self._keepalive_req = self._queue(rest.build_listen_key_keepalive(self._api))
            self._count("keepalives")
        self._retry_seeds(ts)
        return []

    def receive(self, frame: str | bytes, ts: int) -> list[Event]:
        """One user data event. Never raises."""
        self._now = ts
        try:
            event = s.USDM_EVENT_DECODER.decode(frame)
        except msgspec.ValidationError as exc:
            return [self._malformed(f"unknown or invalid event: {exc}", ts)]
        except (msgspec.DecodeError, UnicodeError) as exc:
            return [self._malformed(f"undecodable frame: {exc}", ts)]
        if isinstance(event, s.ListenKeyExpired):
            return self._expired("listenKey expired", ts)
        return self._guard(type(event).__name__, ts, lambda: self._push(event, ts))

    def rest_response(self, req_id: int, status: int, body: bytes, ts: int) -> list[Event]:
        """A listenKey (POST/PUT) or seed answer."""
        self._now = ts
        if req_id == self._key_req:
            self._key_req = None
            return self._guard("listenKey", ts, lambda: self._on_key(status, body, ts))
        if req_id == self._keepalive_req:
            self._keepalive_req = None
            return self._guard("keepalive", ts, lambda: self._on_keepalive(status, body, ts))
        kind = self._seed_req.pop(req_id, None)
        if kind is None:
            self._count("late_answers")
            return []
        return self._guard(f"{kind} seed", ts, lambda: self._on_seed(kind, status, body, ts))

    # --- listenKey --------------------------------------------------------------------------

    def _request_key(self, ts: int) -> None:
        self._key_req = self._queue(rest.build_listen_key(self._api))
        self._count("listen_keys")

    def _on_key(self, status: int, body: bytes, ts: int) -> list[Event]:
        if status != 200:
            code, msg = rest.error_of(body)
            self._count("listen_key_errors")
            if rest.error_class(status, code) is AuthError:
                return self._auth_refused("listenKey request", f"{code}: {msg}", ts)
            self._key_backoff.failed("key", ts)
            self.problem = f"listenKey request failed (HTTP {status} {code}); retrying"
            return [self._malformed(f"listenKey: HTTP {status} {code} {msg}", ts)]
        key = rest.parse_listen_key(body)
        if not key:
            self._key_backoff.failed("key", ts)
            return [self._malformed("listenKey answer without a key", ts)]
        self._key_backoff.ok("key")
        self._auth.ok()
        self.problem = None
        self._key, self._key_ts = key, ts
        if self._connected_key is not None and self._connected_key != key:
            self.needs_reconnect = True
        log.info("binance usdm user data: listenKey ready", extra=self._extra)
        return []

    def _on_keepalive(self, status: int, body: bytes, ts: int) -> list[Event]:
        if status == 200:
            self._key_ts = ts
            return []
        code, msg = rest.error_of(body)
        self._count("keepalive_errors")
        if code == -1125:  # "This listenKey does not exist."
            return self._expired("listenKey no longer exists", ts)
        self._key_ts = ts - self.KEEPALIVE_NS + 60 * _S  # try again in a minute
        return [self._malformed(f"listenKey keepalive: HTTP {status} {code} {msg}", ts)]

    def _expired(self, reason: str, ts: int) -> list[Event]:
        log.warning("binance usdm user data: %s; new key, reconnect", reason, extra=self._extra)
        self._count("expired")
        self._key = None
        self._keepalive_req = None
        self.needs_reconnect = True
        if self._key_req is None:
            self._request_key(ts)
        if self._state is State.IDLE:
            return []
        self._reset_seed()
        self._move(State.EXPIRED)
        return self._stale_all(reason, ts)

    # --- seeds ------------------------------------------------------------------------------

    def _build_seed(self, kind: str, now_ms: int) -> RestRequest:
        if kind == "account":
            return rest.build_account("usdm", self._api, now_ms)
        if kind == "positions":
            return rest.build_positions("usdm", self._api, now_ms)
        return rest.build_open_orders("usdm", self._api, now_ms)

    def _parse_seed(self, kind: str, body: bytes, ts: int) -> object:
        if kind == "account":
            return rest.parse_account("usdm", body, ts)
        if kind == "positions":
            return rest.parse_positions("usdm", body, ts)
        return rest.parse_open_orders("usdm", body, ts)

    def _seed_events(self, ts: int) -> list[Event]:
        account, positions, orders = (self._seed.pages[k][0] for k in self._seed_kinds)
        assert isinstance(account, Account)
        assert isinstance(positions, tuple) and isinstance(orders, tuple)
        return [
            AccountUpdate(account=account),
            PositionUpdate(
                venue=VENUE, market=self.market, positions=positions, full=True, ts_recv=ts
            ),
            self._orders(orders, ts, full=True),
        ]

    # --- pushes -----------------------------------------------------------------------------

    def _apply(self, msg: object, ts: int) -> list[Event]:
        return self._on[type(msg)](msg, ts)

    def _on_order_update(self, msg: s.OrderTradeUpdate, ts: int) -> list[Event]:
        return [self._orders((parse.parse_order_trade_update(msg, ts),), ts)]

    def _on_account_update(self, msg: s.AccountUpdateMsg, ts: int) -> list[Event]:
        account, positions = parse.parse_account_update(msg, ts)
        events: list[Event] = []
        if account.balances:
            events.append(BalanceUpdate(account=account))
        if positions:
            events.append(
                PositionUpdate(venue=VENUE, market=self.market, positions=positions, ts_recv=ts)
            )
        return events

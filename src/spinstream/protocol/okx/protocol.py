"""OKX v5 public market data, sans I/O, on the shared connection base: `tickers` and books.

One `OkxPublic` per market ("spot", "swap", "futures") on the "public" endpoint
(`/ws/v5/public`). Subscriptions are `{"op":"subscribe","args":[{"channel":..,"instId":..}]}`.

- `tickers` -> `TickerUpdate` (`ts_event` is the data's `ts`, the venue's time, for the lag).
- `books` (400 levels) through `booksync.OkxRule`: a snapshot (`action` "snapshot",
  `prevSeqId` -1) resets the book; an update applies when its `prevSeqId` is the book's
  `seqId`, which covers the empty keep-alive (`prevSeqId == seqId`) and the reset after
  maintenance (`seqId < prevSeqId`); any other mismatch is a gap: `Stale` at once and the
  channel resubscribed for a new snapshot. The CRC32 `checksum` is checked when non-zero (a
  mismatch: `Stale` + resubscribe) and skipped when 0 (OKX sends 0 since 2026-06-23). A
  crossed book after an update is a resync too. Books without `seqId` (the 2022 recording)
  chain by arrival and are guarded by their checksum alone.
- The REST snapshot path: OKX announced (2026-02) that the `books` snapshot on subscribe goes
  away in favour of `GET /api/v5/market/books` + seqId stitching. When a subscription is
  acknowledged and an `update` comes before any snapshot, the book buffers the updates, asks
  the REST book (400 levels, with its `seqId`) and replays the buffer onto it: updates with
  `seqId <= snapshot seqId` are dropped, the first kept one must straddle it
  (`prevSeqId <= snapshot seqId < seqId`), then `prevSeqId == seqId` as usual. A snapshot
  older than the buffer is asked again after `SNAPSHOT_RETRY_S`.
- `book_depth` (1, 5 or 400; the account's `book_depth` picks the smallest that covers it)
  chooses the channel: 1 -> `bbo-tbt` (tick by tick), 5 -> `books5` (every 100 ms); each push
  of those is a whole book (no sequence to keep, no checksum), so a lost push costs nothing.
- A book needs its instrument's `tickSz` / `lotSz`: subscribing one queues
  `GET /api/v5/public/instruments` and the `books` channel is subscribed once it answers
  (retried after `RETRY_S` on failure).
- Keepalive: OKX drops a connection after 30 s without traffic, so `tick` sends the text
  `ping` when nothing was sent for `PING_S`; the text `pong` is accepted (counted). The
  transport's `liveness` (`MARKET_DATA`) finds a stall.

"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

import msgspec

from spinstream.credentials import Credentials
from spinstream.errors import ParseError, SpinstreamError, UnsupportedError
from spinstream.models import Order, Position, Source
from spinstream.protocol.booksync import Action, Levels, OkxRule, SyncedBook, SyncState
from spinstream.protocol.connection import Connection, Seed
from spinstream.protocol.events import (
    MARKET_DATA,
    PRIVATE,
    AccountUpdate,
    Authenticated,
    BalanceUpdate,
    BookUpdated,
    Event,
    OrderUpdate,
    PositionUpdate,
    Subscribed,
    TickerUpdate,
)
from spinstream.protocol.values import stamp

from . import auth, parse, rest, schemas
from .parse import TICKERS_PREFIX as _TICKERS
from .parse import TICKERS_PREFIX_B as _TICKERS_B
from .parse import Instrument

__all__ = ["BOOK_DEPTHS", "ENVS", "Link", "OkxPrivate", "OkxPublic", "Session"]

log = logging.getLogger(__name__)

VENUE = parse.VENUE
ENVS = ("live", "demo")
PUBLIC_MARKETS = ("spot", "swap", "futures")
BOOK_DEPTH = 400  # `books`: 400 levels a side
BOOK_DEPTHS = (1, 5, BOOK_DEPTH)  # levels a side of bbo-tbt, books5, books
_BOOK_CHANNELS = {1: "bbo-tbt", 5: "books5", BOOK_DEPTH: "books"}
_TOP_CHANNELS = frozenset({"bbo-tbt", "books5"})  # every push a whole book
_NS = 1_000_000_000
_APPLY = Action.APPLY
_RESET = Action.RESET
_RESYNC = Action.RESYNC
_SYNCED = SyncState.SYNCED


class Link(enum.Enum):
    """A public connection's state."""

    DISCONNECTED = "disconnected"
    CONNECTED = "connected"


LINK_MOVES: dict[Link, frozenset[Link]] = {
    Link.DISCONNECTED: frozenset({Link.CONNECTED}),
    Link.CONNECTED: frozenset({Link.DISCONNECTED}),
}


def _op(op: str, channel: str, symbol: str) -> str:
    return msgspec.json.encode(
        {"op": op, "args": [{"channel": channel, "instId": symbol}]}
    ).decode()


class OkxPublic(Connection[Link]):
    """OKX v5 public stream of one market: `tickers` and `books` (see the module docstring)."""

    VENUE = VENUE
    MOVES = LINK_MOVES
    log = log
    TICK_S = 1.0
    PING_S = 20.0  # the text `ping` when nothing was sent for this long (OKX: 30 s idle)
    RETRY_S = 5.0  # a failed instruments request is asked again after this
    SNAPSHOT_RETRY_S = 0.5  # a REST book that failed or did not stitch: asked again after this
    endpoint = "public"
    private = False
    liveness = MARKET_DATA

    def __init__(
        self,
        market: str,
        creds: Credentials | None = None,
        *,
        env: str = "live",
        book_depth: int = BOOK_DEPTH,
    ) -> None:
        if market not in PUBLIC_MARKETS:
            raise UnsupportedError(f"okx public stream: market {market!r} (use {PUBLIC_MARKETS})")
        if env not in ENVS:
            raise ValueError(f"okx env must be one of {ENVS}, not {env!r}")
        if book_depth not in _BOOK_CHANNELS:
            raise ValueError(f"okx book depth must be one of {BOOK_DEPTHS}, not {book_depth!r}")
        super().__init__(market, env, Link.DISCONNECTED)
        self.book_depth = book_depth
        self._book_channel = _BOOK_CHANNELS[book_depth]
        self._top = self._book_channel in _TOP_CHANNELS
        self._channels = {"ticker": "tickers", "book": self._book_channel}
        self._kinds = {v: k for k, v in self._channels.items()}
        self._rule = OkxRule()
        self._sent: set[tuple[str, str]] = set()  # (channel, instId) subscribed on this link
        self._insts: dict[str, Instrument] = {}
        self._books: dict[str, SyncedBook] = {}
        self._inflight: dict[int, str] = {}  # REST req_id -> instId (instruments)
        self._retry: dict[str, int] = {}  # instId -> ts to ask its instrument again
        self._last_out = 0  # ts of the last frame queued (the ping's clock)
        # REST snapshots (no snapshot on subscribe): acked and still without one; in flight;
        # instId -> ts to ask again
        self._no_snap: set[str] = set()
        self._snap_inflight: dict[int, str] = {}
        self._snap_retry: dict[str, int] = {}
        self._bad_tops: set[str] = set()  # books5 / bbo-tbt books whose last push was crossed

    def __repr__(self) -> str:
        return (
            f"OkxPublic({self.market}, {self.env}, {self._state.name}, "
            f"subscriptions={len(self._subs)}, counters={dict(self.counters)})"
        )

    def connect_path(self) -> str:
        """The public endpoint's path (demo: on the `wspap` host, `SPEC.ws_bases`)."""
        return "/ws/v5/public"

    def start(self, ts: int) -> None:
        """Nothing must happen before connecting."""

    # -- subscriptions --------------------------------------------------------------------

    def subscribe(self, kind: str, symbol: str | None) -> None:
        """Want KIND ("ticker", "book") of SYMBOL (an instId); sent now if it can be."""
        if kind not in self._channels:
            raise UnsupportedError(f"okx public stream has no {kind!r}")
        if not symbol:
            raise ValueError("an okx public subscription needs an instId")
        if (kind, symbol) in self._subs:
            return
        self._subs.add((kind, symbol))
        if kind == "book" and symbol not in self._books:
            if symbol in self._insts:
                self._make_book(symbol)
            elif symbol not in self._inflight.values():
                self._request_instrument(symbol)
        self._send_ready(kind, symbol, 0)

    def unsubscribe(self, kind: str, symbol: str | None) -> None:
        """Stop KIND of SYMBOL; its book is dropped."""
        if symbol is None or (kind, symbol) not in self._subs:
            return
        self._subs.discard((kind, symbol))
        channel = self._channels[kind]
        if (channel, symbol) in self._sent:
            self._sent.discard((channel, symbol))
            if self._state is Link.CONNECTED:
                self._send(_op("unsubscribe", channel, symbol), self._last_out)
        if kind == "book":
            self._books.pop(symbol, None)
            self._forget_snapshot(symbol)

    def _send(self, frame: str, ts: int) -> None:
        self._out.append(frame)
        self._last_out = max(self._last_out, ts)

    def _send_ready(self, kind: str, symbol: str, ts: int) -> None:
        """Subscribe (KIND, SYMBOL) when connected and (a book) its instrument is known."""
        channel = self._channels[kind]
        if (
            self._state is not Link.CONNECTED
            or (channel, symbol) in self._sent
            or (kind == "book" and symbol not in self._books)
        ):
            return
        log.info("subscribe %s %s", channel, symbol, extra=self._extra)
        self._send(_op("subscribe", channel, symbol), ts)
        self._sent.add((channel, symbol))

    def _resubscribe(self, channel: str, symbol: str, ts: int) -> None:
        """Unsubscribe and subscribe again: OKX answers with a new snapshot."""
        if self._state is not Link.CONNECTED:
            return
        if (channel, symbol) in self._sent:
            self._sent.discard((channel, symbol))
            self._send(_op("unsubscribe", channel, symbol), ts)
        self._send_ready(self._kinds[channel], symbol, ts)

    # -- instruments (book decimals) ------------------------------------------------------

    def set_instrument(self, inst: Instrument) -> None:
        """INST's tick and lot sizes (from `GET /api/v5/public/instruments`): its book is built
        (again if its decimals changed) and subscribed."""
        sym = inst.inst_id
        old = self._insts.get(sym)
        self._insts[sym] = inst
        self._retry.pop(sym, None)
        if ("book", sym) not in self._subs:
            return
        same = old is not None and (old.price_decimals, old.size_decimals) == (
            inst.price_decimals,
            inst.size_decimals,
        )
        if same and sym in self._books:
            return
        self._make_book(sym)
        self._resubscribe(self._book_channel, sym, self._last_out)

    def _make_book(self, symbol: str) -> None:
        i = self._insts[symbol]
        self._books[symbol] = SyncedBook(
            self._rule, i.price_decimals, i.size_decimals, max_depth=self.book_depth
        )
        self._forget_snapshot(symbol)

    # -- REST snapshots (stitched by seqId) ------------------------------------------------

    def _forget_snapshot(self, symbol: str) -> None:
        self._no_snap.discard(symbol)
        self._snap_retry.pop(symbol, None)
        for rid, sym in list(self._snap_inflight.items()):
            if sym == symbol:
                del self._snap_inflight[rid]  # its answer, if it comes, is counted late

    def _request_snapshot(self, symbol: str, ts: int) -> None:
        """Ask the REST book of SYMBOL unless asked already or waiting for a retry."""
        if symbol in self._snap_inflight.values() or symbol in self._snap_retry:
            return
        req = rest.build_orderbook(self.market, symbol, BOOK_DEPTH, demo=self.env == "demo")
        self._snap_inflight[self._queue(req)] = symbol
        self._count("rest_snapshots")

    def _on_snapshot(self, symbol: str, status: int, body: bytes, ts: int) -> list[Event]:
        """A REST book: the anchor the buffered updates replay onto."""
        book = self._books.get(symbol)
        if book is None or ("book", symbol) not in self._subs:
            return []
        if book.sync.state is _SYNCED:
            return []  # a WS snapshot came meanwhile
        try:
            rest.check_error(status, {}, body)
            snap = rest.parse_book_snapshot(body)
            if snap.seqId is None:
                raise ParseError("okx books: REST book without seqId (cannot be stitched)")
        except SpinstreamError as exc:
            self._count("rest_snapshot_failed")
            self._snap_retry[symbol] = ts + int(self.SNAPSHOT_RETRY_S * _NS)
            return [self._stale("book", symbol, f"REST book failed: {exc!s}", ts)]
        parse.validate_levels(snap.bids, "books bid")
        parse.validate_levels(snap.asks, "books ask")
        if not book.snapshot(snap.seqId, snap.bids, snap.asks):
            self._count("rest_snapshot_retries")  # older than the buffer: ask a newer one
            log.info(
                "book %s: REST snapshot %d does not stitch: %s",
                symbol,
                snap.seqId,
                book.sync.reason,
                extra=self._extra,
            )
            self._snap_retry[symbol] = ts + int(self.SNAPSHOT_RETRY_S * _NS)
            return []
        self._count("rest_snapshots_stitched")
        return [
            BookUpdated(
                venue=VENUE,
                market=self.market,
                symbol=symbol,
                book=book.book,
                seq=book.sync.last,
                ts_event=parse.ms_to_ns(snap.ts) if snap.ts else None,
                ts_recv=ts,
            ),
        ]

    def _request_instrument(self, symbol: str) -> None:
        req = rest.build_instruments(self.market, symbol, demo=self.env == "demo")
        self._inflight[self._queue(req)] = symbol

    def rest_response(self, req_id: int, status: int, body: bytes, ts: int) -> list[Event]:
        """An instruments answer (the symbol's decimals, then its book is subscribed) or a REST
        book to stitch the buffered updates onto."""
        snap_of = self._snap_inflight.pop(req_id, None)
        if snap_of is not None:
            return self._guard(
                f"{snap_of} REST book", ts, lambda: self._on_snapshot(snap_of, status, body, ts)
            )
        symbol = self._inflight.pop(req_id, None)
        if symbol is None:
            self._count("late_rest")
            return []
        try:
            rest.check_error(status, {}, body)
            inst = rest.parse_instruments(body)[symbol]
        except (SpinstreamError, KeyError, ValueError) as exc:
            self._count("rest_failed")
            self._retry[symbol] = ts + int(self.RETRY_S * _NS)
            if ("book", symbol) not in self._subs:
                return []
            return [self._stale("book", symbol, f"instrument info failed: {exc!s}", ts)]
        except Exception as exc:  # a bug: logged, counted, retried later
            self._retry[symbol] = ts + int(self.RETRY_S * _NS)
            return self._failed("instruments", ts, exc)
        self.set_instrument(inst)
        return []

    # -- connection -----------------------------------------------------------------------

    def connected(self, ts: int) -> list[Event]:
        """A new connection: subscribe everything wanted that is ready."""
        self._move(Link.CONNECTED)
        self._sent.clear()
        self._last_out = ts
        for kind, symbol in sorted(self._subs, key=lambda s: (s[0], s[1] or "")):
            if symbol is not None:
                self._send_ready(kind, symbol, ts)
        return []

    def disconnected(self, ts: int) -> list[Event]:
        """The connection is gone: every kind it fed is stale; books wait for new snapshots."""
        if self._state is Link.CONNECTED:
            self._move(Link.DISCONNECTED)
        self._sent.clear()
        for book in self._books.values():
            book.reset()
        self._no_snap.clear()
        self._snap_inflight.clear()
        self._snap_retry.clear()
        return [
            self._stale(kind, sym, "disconnected", ts)
            for kind, sym in sorted(self._subs, key=lambda s: (s[0], s[1] or ""))
        ]

    def tick(self, ts: int) -> list[Event]:
        """The text `ping` when nothing was sent for PING_S; instrument retries."""
        if self._state is Link.CONNECTED and ts - self._last_out >= self.PING_S * _NS:
            self._send("ping", ts)
            self._count("pings")
        for symbol, at in list(self._retry.items()):
            if ts >= at:
                del self._retry[symbol]
                if ("book", symbol) in self._subs and symbol not in self._inflight.values():
                    self._request_instrument(symbol)
        for symbol, at in list(self._snap_retry.items()):
            if ts >= at:
                del self._snap_retry[symbol]
                book = self._books.get(symbol)
                if symbol in self._no_snap and book is not None and not book.in_sync:
                    self._request_snapshot(symbol, ts)
        return []

    # -- frames ---------------------------------------------------------------------------

    def receive(self, frame: str | bytes, ts: int) -> list[Event]:
        """One frame: a push, an op answer or `pong`; never raises (bad frame: `Malformed`)."""
        # the per-frame paths: a tickers or books push read in one pass (else: decoders below)
        if frame.startswith(_TICKERS if type(frame) is str else _TICKERS_B):  # type: ignore[arg-type]
            tk = parse.pick_ticker(frame, ts)
            if tk is not None:
                if ("ticker", tk.symbol) in self._subs:
                    return [TickerUpdate(ticker=tk)]
                self._count("unsubscribed")
                return []
            picked = None
        else:
            picked = parse.pick_book(frame)
        if picked is not None and picked[0] == self._book_channel:
            pch, psym, pact, asks, bids, ts_ms, c, seq, prev, _ = picked
            pbook = self._books.get(psym)  # a book is kept only while it is subscribed
            if pbook is None:
                self._count("unsubscribed")
                return []
            try:
                if self._top:
                    return self._top_levels(psym, pbook, bids, asks, ts_ms, seq, ts)
                return self._book_levels(psym, pbook, pact, bids, asks, ts_ms, c, seq, prev, ts)
            except Exception as exc:
                if self._top:  # the next push is a whole book again: only this one is lost
                    return self._failed(pch, ts, exc)
                return self._failed("books", ts, exc) + self._lost(psym, pbook, pact, ts)
        msg: schemas.Envelope | schemas.BooksPush | schemas.TickersPush | schemas.Event | None
        msg = parse.decode_push(frame)  # books / tickers in one pass; None: the general path
        if msg is None:
            try:
                msg = parse.decode_frame(frame)
            except ParseError as exc:
                return [self._malformed(str(exc), ts)]
            if msg is None:
                self._count("pongs")
                return []
            if isinstance(msg, schemas.Event):
                ev = msg
                return self._guard("event", ts, lambda: self._on_event(ev, ts))
        arg = msg.arg
        sym = arg.instId
        channel = arg.channel
        if sym is None or (self._kinds.get(channel), sym) not in self._subs:
            self._count("unsubscribed")
            return []
        if channel == "tickers":
            try:
                events: list[Event] = []
                if isinstance(msg, schemas.TickersPush):
                    tickers = msg.data
                elif isinstance(msg, schemas.Envelope):
                    tickers = parse.tickers_data(msg)
                else:  # decode_push reads a tickers push as TickersPush
                    raise ParseError("a tickers push read as books")
                for t in tickers:
                    if t.instId != sym:
                        raise ParseError(f"tickers data for {t.instId!r}")
                    # sizes in contracts, as the REST fallback's (rest.parse_ticker, no inst)
                    events.append(TickerUpdate(ticker=parse.ws_ticker(t, ts)))
                return events
            except Exception as exc:
                return self._failed("tickers", ts, exc)
        # books
        book = self._books.get(sym)
        if book is None:
            self._count("unsubscribed")
            return []
        action = msg.action
        try:
            if isinstance(msg, schemas.BooksPush):
                pushes = msg.data
            elif isinstance(msg, schemas.Envelope):
                pushes = parse.book_pushes(msg)
            else:  # decode_push reads a books push as BooksPush
                raise ParseError("a books push read as tickers")
            if len(pushes) == 1:  # as OKX sends them
                if self._top:
                    return self._on_top(sym, book, pushes[0], ts)
                return self._on_book(sym, book, action, pushes[0], ts)
            out: list[Event] = []
            for d in pushes:
                out.extend(
                    self._on_top(sym, book, d, ts)
                    if self._top
                    else self._on_book(sym, book, action, d, ts)
                )
            return out
        except Exception as exc:
            if self._top:  # the next push is a whole book again: only this one is lost
                return self._failed(channel, ts, exc)
            return self._failed("books", ts, exc) + self._lost(sym, book, action, ts)

    def _on_top(self, sym: str, book: SyncedBook, d: schemas.BookPush, ts: int) -> list[Event]:
        """One `books5` / `bbo-tbt` item: a whole book of `book_depth` levels."""
        return self._top_levels(sym, book, d.bids, d.asks, d.ts, d.seqId, ts)

    def _top_levels(
        self,
        sym: str,
        book: SyncedBook,
        bids: Levels,
        asks: Levels,
        ts_ms: str,
        seq: int | None,
        ts: int,
    ) -> list[Event]:
        core = book.book
        try:
            core.apply_snapshot(bids, asks)
        except ValueError as exc:  # the book is as it was; the next push replaces it
            return [self._malformed(f"{self._book_channel} {sym}: bad level: {exc}", ts)]
        if core.crossed():  # stale until a good push
            self._count("bad_tops")
            if sym in self._bad_tops:
                return []
            self._bad_tops.add(sym)
            return [self._stale("book", sym, "crossed book", ts)]
        self._bad_tops.discard(sym)
        ts_event = parse.ms_to_ns(ts_ms) if ts_ms else None
        upd = BookUpdated(
            venue=VENUE,
            market=self.market,
            symbol=sym,
            book=book.book,
            seq=seq,
            ts_event=ts_event,
            ts_recv=ts,
        )
        return [upd]  # a BookUpdated serves the book as fresh again

    def _on_book(
        self, sym: str, book: SyncedBook, action: str | None, d: schemas.BookPush, ts: int
    ) -> list[Event]:
        """One `books` item: sequenced, applied (the core parses and checks its levels),
        checksummed."""
        return self._book_levels(
            sym, book, action, d.bids, d.asks, d.ts, d.checksum, d.seqId, d.prevSeqId, ts
        )

    def _book_levels(
        self,
        sym: str,
        book: SyncedBook,
        action: str | None,
        bids: Levels,
        asks: Levels,
        ts_ms: str | int | None,
        c: int | None,
        seq: int | None,
        prev: int | None,
        ts: int,
    ) -> list[Event]:
        if action == "update":
            snapshot = False
            if self._no_snap and sym in self._no_snap and not book.in_sync and seq is not None:
                self._request_snapshot(sym, ts)  # acked, an update, no snapshot: ask REST
        elif action == "snapshot":
            snapshot = True
            self._no_snap.discard(sym)
        else:
            raise ParseError(f"books action {action!r}")
        seqid = seq
        if seq is None:  # no sequence ids (2022): chained by arrival, the checksum guards it
            last = book.sync.last
            if snapshot:
                seq, prev = 0, -1
            elif last is None:
                return []  # waiting for a snapshot
            else:
                seq = prev = last
        elif prev is None and not snapshot:
            raise ParseError("books update without prevSeqId")
        act = book.update_seq(seq, None, prev, snapshot, bids, asks)
        if act is _APPLY or act is _RESET:
            if c:  # 0 (since 2026-06-23) or absent: nothing to check
                if book.book.checksum_okx() != c:
                    self._count("checksum_failed")
                    book.invalidate("checksum mismatch")
                    return self._resync(sym, "checksum mismatch", ts)
                self._count("checksums")
            ts_event: int | None
            if type(ts_ms) is int:  # the picker read it (kind n)
                ts_event = ts_ms * 1_000_000
            else:
                try:
                    ts_event = int(ts_ms) * 1_000_000 if ts_ms else None
                except ValueError:
                    ts_event = parse.ms_to_ns(ts_ms)  # says what is wrong with it
            return [
                BookUpdated(
                    venue=VENUE,
                    market=self.market,
                    symbol=sym,
                    book=book.book,
                    seq=seqid,
                    ts_event=ts_event,
                    ts_recv=ts,
                )
            ]
        if act is _RESYNC:
            reason = book.sync.reason or "gap"
            if "bad level" in reason and "more than" not in reason:  # cannot be true: lost
                self._count("lost_pushes")
                return [
                    self._malformed(f"books {sym}: {reason}", ts),
                    *self._resync(sym, reason, ts),
                ]
            self._count("gaps")
            return self._resync(sym, reason, ts)
        return []  # DROP (stale) or BUFFER (waiting for the snapshot)

    def _lost(self, sym: str, book: SyncedBook, action: str | None, ts: int) -> list[Event]:
        """A `books` push was rejected (Malformed): what it changed is lost, as after a gap.
        Nothing more while the book already waits for its snapshot and this was an update."""
        if book.sync.state is not _SYNCED and action == "update":
            return []
        self._count("lost_pushes")
        book.invalidate("malformed push dropped (a gap)")
        return self._resync(sym, "malformed push dropped (a gap)", ts)

    def _resync(self, sym: str, reason: str, ts: int) -> list[Event]:
        """A broken book: stale now; resubscribe so OKX sends a new snapshot."""
        self._count("resyncs")
        log.warning("book %s out of sync: %s", sym, reason, extra=self._extra)
        if "bad level" in reason and "more than" in reason:  # tickSz / lotSz changed: refetch
            self._count("bad_levels")
            self._books.pop(sym, None)
            self._insts.pop(sym, None)
            channel = self._book_channel
            if (channel, sym) in self._sent:
                self._sent.discard((channel, sym))
                if self._state is Link.CONNECTED:
                    self._send(_op("unsubscribe", channel, sym), ts)
            if sym not in self._inflight.values():
                self._request_instrument(sym)
            return [self._stale("book", sym, reason, ts)]
        self._resubscribe(self._book_channel, sym, ts)
        return [self._stale("book", sym, reason, ts)]

    def _on_event(self, ev: schemas.Event, ts: int) -> list[Event]:
        """An op answer: subscribe acks, errors, notices."""
        arg = ev.arg
        if ev.event == "subscribe" and arg is not None:
            self._count("subscribed")
            if arg.channel == "books" and arg.instId in self._books:
                book = self._books[arg.instId]
                if not book.in_sync:  # the snapshot should come next; if an update does...
                    self._no_snap.add(arg.instId)
            return [Subscribed(venue=VENUE, topic=f"{arg.channel}:{arg.instId}", ts_recv=ts)]
        if ev.event == "unsubscribe":
            return []
        if ev.event == "error":
            self._count("venue_errors")
            log.warning("okx error %s: %s", ev.code, ev.msg[:200], extra=self._extra)
            if arg is not None and arg.instId and arg.channel in self._kinds:
                kind, sym = self._kinds[arg.channel], arg.instId
                self._sent.discard((arg.channel, sym))
                if (kind, sym) in self._subs:
                    return [self._stale(kind, sym, f"okx error {ev.code}: {ev.msg[:100]}", ts)]
            return []
        if ev.event == "notice":  # e.g. 64008: the service is about to be upgraded
            log.info("okx notice %s: %s", ev.code, ev.msg[:200], extra=self._extra)
            return []
        if ev.event.startswith("channel-conn-count"):
            return []
        return [self._malformed(f"unexpected event {ev.event!r}", ts)]


# ----------------------------------------------------------------------------------------------
# private: account, positions, orders


class Session(enum.Enum):
    """A private connection's state."""

    DISCONNECTED = "disconnected"
    LOGGING_IN = "logging_in"  # `op: login` sent
    LIVE = "live"  # login accepted: channels subscribed, snapshots / seed on their way
    WAITING = "waiting"  # login refused: sent again once the backoff allows


SESSION_MOVES: dict[Session, frozenset[Session]] = {
    Session.DISCONNECTED: frozenset({Session.LOGGING_IN, Session.WAITING}),
    Session.LOGGING_IN: frozenset({Session.LIVE, Session.WAITING, Session.DISCONNECTED}),
    Session.WAITING: frozenset({Session.LOGGING_IN, Session.DISCONNECTED}),
    Session.LIVE: frozenset({Session.DISCONNECTED}),
}

PRIVATE_MARKETS = ("spot", "swap", "futures")
ORDERS_PAGE = 100  # `GET /api/v5/trade/orders-pending`: 100 a page, older pages by `after`
_MS = 1_000_000


class OkxPrivate(Connection[Session]):
    """OKX v5 private stream of one market's view of the (unified) trading account.

    On `/ws/v5/private`: `op: login` (seconds timestamp, HMAC-SHA256 base64 signature,
    passphrase; `auth.login_frame`), then `account`, `positions` (instType of the market; not
    on spot) and `orders` (instType of the market) are subscribed.

    - `account`: OKX sends a snapshot on subscribe (`eventType` "snapshot", paginated by
      `curPage` / `lastPage`): the account is full (`AccountUpdate`, fresh) once the last page
      is in; `event_update` pushes carry the currencies that changed (`BalanceUpdate`). Pushes
      before the snapshot's last page are held and replayed after it, a currency only when its
      `uTime` is not older than the snapshot's.
    - `positions`: the same, as `PositionUpdate(full=True)` then partial updates (per instId +
      posSide, a held push applied unless the snapshot's `uTime` is later).
    - `orders`: OKX pushes events only: once the subscription is acked, the open orders are
      seeded from `GET /api/v5/trade/orders-pending` (paginated), pushes held until the seed
      answers (`connection.Seed`), then replayed unless the seed holds a later `uTime`.
    - A private push with a value that cannot be true (NaN, inf, negative sizes; parse.py's
      rules) is `Malformed` and never reaches the cache; what it carried is lost, so its kind
      is stale at once and resynced (the channel resubscribed for a new snapshot, the orders
      seeded again).
    - A refused login (an `error` event while logging in) is `AuthFailed` + `Stale` for every
      kind; `op: login` is sent again from `tick` after `AUTH_RETRY_S` doubling up to
      `AUTH_RETRY_MAX_S` (`protocol.retry.AuthRetry`) and `problem` says why meanwhile.
    - Keepalive: the text `ping` when nothing was sent for `PING_S` (OKX closes a connection
      after 30 s without traffic); `liveness` is `PRIVATE` (WebSocket pings prove it alive).

    Sizes stay in contracts for derivatives, as the REST fallback's (`rest.parse_positions`,
    `rest.parse_open_orders` without instruments), so a read is the same from either source.
    """

    VENUE = VENUE
    MOVES = SESSION_MOVES
    log = log
    TICK_S = 1.0
    PING_S = 20.0
    RETRY_S = 5.0  # a failed orders seed is asked again after this
    MAX_BUFFER = 10_000  # pushes held per kind while its snapshot / seed is out; more: re-seed
    AUTH_RETRY_S = 1.0
    AUTH_RETRY_MAX_S = 60.0
    endpoint = "private"
    private = True
    liveness = PRIVATE

    def __init__(
        self, market: str = "swap", creds: Credentials | None = None, *, env: str = "live"
    ) -> None:
        if creds is None:
            raise ValueError("the okx private stream needs credentials")
        if market not in PRIVATE_MARKETS:
            raise UnsupportedError(f"okx private stream: market {market!r} (use {PRIVATE_MARKETS})")
        if env not in ENVS:
            raise ValueError(f"okx env must be one of {ENVS}, not {env!r}")
        auth.check_credentials(creds)
        super().__init__(market, env, Session.DISCONNECTED)
        self._creds = creds
        self._inst_type = parse.INST_TYPES[market]
        self._kinds: tuple[str, ...] = (
            ("account", "orders") if market == "spot" else ("account", "positions", "orders")
        )
        self._gen = 0  # connection generation: answers of an older one are late
        self._last_out = 0
        # account / positions: snapshot pages so far (None: no snapshot in progress), whether
        # the kind is full (its last page landed), and the pushes held until then
        self._pages: dict[str, list[object] | None] = {}
        self._full: dict[str, bool] = {}
        self._held: dict[str, list[tuple[tuple[object, ...], int]]] = {}
        self._seed: Seed[str] | None = None  # the orders seed (keys: "orders")
        self._inflight: dict[int, tuple[int, str | None]] = {}  # req_id -> (gen, after)
        self._sent: set[str] = set()  # channels subscribed on this connection

    def __repr__(self) -> str:  # no credentials
        return (
            f"OkxPrivate({self.market}, {self.env}, {self._state.name}, "
            f"counters={dict(self.counters)})"
        )

    def connect_path(self) -> str:
        """The private endpoint's path (demo: on the `wspap` host, `SPEC.ws_bases`)."""
        return "/ws/v5/private"

    def start(self, ts: int) -> None:
        """Nothing must happen before connecting."""

    def subscribe(self, kind: str, symbol: str | None) -> None:
        """Record interest; the market's private channels are always subscribed together."""
        if kind not in self._kinds:
            raise UnsupportedError(f"okx {self.market} private stream has no {kind!r}")
        self._subs.add((kind, None))

    def unsubscribe(self, kind: str, symbol: str | None) -> None:
        """Forget a kind (its channel stays subscribed)."""
        self._subs.discard((kind, None))

    # -- connection -----------------------------------------------------------------------

    def connected(self, ts: int) -> list[Event]:
        """A new connection: log in (subscriptions follow the answer), unless a refused
        login's retry is not due yet (`tick` sends it when it is)."""
        self._gen += 1
        self._last_out = ts
        self._sent.clear()
        self._reset_kinds()
        if self._auth.ready(ts):
            self._login(ts)
        else:
            self._move(Session.WAITING)
        return []

    def _login(self, ts: int) -> None:
        self._move(Session.LOGGING_IN)
        self._send(auth.login_frame(self._creds, ts // _MS), ts)

    def _send(self, frame: str, ts: int) -> None:
        self._out.append(frame)
        self._last_out = max(self._last_out, ts)

    def _reset_kinds(self) -> None:
        self._pages = {k: None for k in ("account", "positions")}
        self._full = {k: False for k in self._kinds}
        self._held = {k: [] for k in ("account", "positions")}
        self._seed = None
        self._inflight.clear()

    def disconnected(self, ts: int) -> list[Event]:
        """Everything this connection fed is stale; snapshots, seeds and frames not sent yet
        are forgotten (a login or subscribe queued for the dead socket is no good on the next)."""
        if self._state is not Session.DISCONNECTED:
            self._move(Session.DISCONNECTED)
        self._sent.clear()
        self._out.clear()
        self._reset_kinds()
        return self._stale_all("disconnected", ts)

    def tick(self, ts: int) -> list[Event]:
        """The text `ping`, a due login retry, a due orders seed retry."""
        if self._state is Session.DISCONNECTED:
            return []
        if ts - self._last_out >= self.PING_S * _NS:
            self._send("ping", ts)
            self._count("pings")
        if self._state is Session.WAITING and self._auth.ready(ts):
            self._count("auth_retries")
            self._login(ts)
        seed = self._seed
        if seed is not None and seed.due(ts):
            self._request_orders(ts, None)
        return []

    def _stale_all(self, reason: str, ts: int) -> list[Event]:
        return [self._stale(k, None, reason, ts) for k in self._kinds]

    # -- channels -------------------------------------------------------------------------

    def _arg(self, channel: str) -> dict[str, str]:
        if channel == "account":
            return {"channel": "account"}
        return {"channel": channel, "instType": self._inst_type}

    def _subscribe_channels(self, channels: tuple[str, ...], ts: int) -> None:
        args = [self._arg(c) for c in channels]
        self._send(msgspec.json.encode({"op": "subscribe", "args": args}).decode(), ts)
        self._sent.update(channels)

    def _resync(self, kind: str, reason: str, ts: int) -> list[Event]:
        """KIND lost a push: stale now; a new snapshot (resubscribe) or a new orders seed."""
        self._count("resyncs")
        log.warning("%s %s out of sync: %s", self.market, kind, reason, extra=self._extra)
        events: list[Event] = [self._stale(kind, None, reason, ts)]
        self._full[kind] = False
        if self._state is not Session.LIVE:
            return events
        if kind == "orders":
            self._seed = None
            self._inflight.clear()
            self._start_orders_seed(ts)
            return events
        self._pages[kind] = None
        self._held[kind] = []
        if kind in self._sent:
            self._sent.discard(kind)
            arg = self._arg(kind)
            self._send(msgspec.json.encode({"op": "unsubscribe", "args": [arg]}).decode(), ts)
        self._subscribe_channels((kind,), ts)
        return events

    # -- frames ---------------------------------------------------------------------------

    def receive(self, frame: str | bytes, ts: int) -> list[Event]:
        """One frame: a push, an op answer or `pong`; never raises (bad frame: `Malformed`)."""
        try:
            msg = parse.decode_frame(frame)
        except ParseError as exc:
            return [self._malformed(str(exc), ts)]
        if msg is None:
            self._count("pongs")
            return []
        if isinstance(msg, schemas.Event):
            ev = msg
            return self._guard("event", ts, lambda: self._on_event(ev, ts))
        channel = msg.arg.channel
        if self._state is not Session.LIVE or channel not in self._sent:
            self._count("unsubscribed")
            return []
        env = msg
        if channel == "orders":
            return self._guard_push("orders", ts, lambda: self._on_orders(env, ts))
        if channel == "account":
            return self._guard_push("account", ts, lambda: self._on_account(env, ts))
        if channel == "positions" and "positions" in self._kinds:
            return self._guard_push("positions", ts, lambda: self._on_positions(env, ts))
        self._count("unsubscribed")
        return []

    def _guard_push(self, kind: str, ts: int, fn: Callable[[], list[Event]]) -> list[Event]:
        """FN's events; a push it rejects is Malformed and lost: KIND is stale and resynced."""
        try:
            return fn()
        except Exception as exc:
            self._count("lost_pushes")
            return self._failed(kind, ts, exc) + self._resync(
                kind, "malformed push dropped (resync)", ts
            )

    def _on_event(self, ev: schemas.Event, ts: int) -> list[Event]:
        """login answers, subscribe acks, errors (a login refusal while logging in)."""
        if ev.event == "login":
            if ev.code not in ("0", ""):
                return self._refused(ev, ts)
            return self._logged_in(ts)
        if ev.event == "error":
            self._count("venue_errors")
            if self._state is Session.LOGGING_IN:
                return self._refused(ev, ts)
            why = auth.redact(f"okx error {ev.code}: {ev.msg[:100]}", self._creds)
            log.warning("%s", why, extra=self._extra)
            arg = ev.arg
            if arg is not None and arg.channel in self._sent:
                kind = arg.channel
                self._sent.discard(kind)
                self.problem = f"{kind} subscription refused ({why})"
                return [self._stale(kind, None, self.problem, ts)]
            return []
        if ev.event == "subscribe":
            self._count("subscribed")
            arg = ev.arg
            if arg is None:
                return []
            events: list[Event] = [Subscribed(venue=VENUE, topic=arg.channel, ts_recv=ts)]
            if arg.channel == "orders" and self._state is Session.LIVE and self._seed is None:
                self._start_orders_seed(ts)
            return events
        if ev.event == "unsubscribe" or ev.event.startswith("channel-conn-count"):
            return []
        if ev.event == "notice":
            log.info("okx notice %s: %s", ev.code, ev.msg[:200], extra=self._extra)
            return []
        return [self._malformed(f"unexpected event {ev.event!r}", ts)]

    def _logged_in(self, ts: int) -> list[Event]:
        if self._state is not Session.LOGGING_IN:
            self._count("unexpected_login")
            return []
        self._move(Session.LIVE)
        self._auth.ok()
        self.problem = None
        log.info("logged in", extra=self._extra)
        self._subscribe_channels(tuple(k for k in ("account", "positions", "orders")
                                       if k in self._kinds), ts)  # fmt: skip
        return [Authenticated(venue=VENUE, market=self.market, ts_recv=ts)]

    def _refused(self, ev: schemas.Event, ts: int) -> list[Event]:
        if self._state is not Session.LOGGING_IN:
            self._count("unexpected_login")
            return []
        self._move(Session.WAITING)
        self._count("auth_failed")
        why = auth.redact(f"code {ev.code}: {ev.msg[:100] or 'no reason given'}", self._creds)
        stale = self._auth_later("login", why, ts)
        return [self._auth_failed(why, ts), *self._stale_all(stale, ts)]

    # -- account and positions: a snapshot (pages), then event updates -------------------

    def _page(
        self, kind: str, env: schemas.Envelope, items: tuple[object, ...]
    ) -> list[object] | None:
        """Add a snapshot page of KIND: every page so far once the last one is in, else None."""
        pages = self._pages.get(kind)
        first = env.curPage is None or env.curPage <= 1
        if first or pages is None:
            if not first:  # a page out of order: what came before it is missing
                raise ParseError(f"{kind} snapshot page {env.curPage} without page 1")
            pages = self._pages[kind] = []
        pages.extend(items)
        if env.lastPage is False:
            return None
        self._pages[kind] = None
        return pages

    def _hold(self, kind: str, items: tuple[object, ...], ts: int) -> bool:
        """Hold KIND's event update while its snapshot is not full; True when held."""
        if self._full.get(kind):
            return False
        held = self._held[kind]
        if len(held) >= self.MAX_BUFFER:  # the snapshot is overdue: ask for a new one
            self._count("overflows")
            raise ValueError(f"{kind}: {self.MAX_BUFFER} pushes held before its snapshot")
        held.append((items, ts))
        self._count("buffered")
        return True

    def _take_held(self, kind: str) -> list[tuple[tuple[object, ...], int]]:
        held, self._held[kind] = self._held[kind], []
        self._count("replayed", len(held))
        self._full[kind] = True
        return held

    def _on_account(self, env: schemas.Envelope, ts: int) -> list[Event]:
        data = parse.account_data(env)
        acct = parse.parse_account(self.market, data, ts, "ws")  # every value checked now
        if env.eventType == "snapshot":
            pages = self._page("account", env, data)
            if pages is None:
                return []
            return self._account_full(
                tuple(a for a in pages if isinstance(a, schemas.AccountData)), ts
            )
        if self._hold("account", data, ts):
            return []
        return [BalanceUpdate(account=acct)]

    def _account_full(self, data: tuple[schemas.AccountData, ...], ts: int) -> list[Event]:
        """The account snapshot is in: the full account, then the held updates not older."""
        full = parse.parse_account(self.market, data, ts, "ws")
        events: list[Event] = [AccountUpdate(account=full)]
        snap = max((stamp(a.uTime) for a in data), default=-1)
        for items, rts in self._take_held("account"):
            newer = tuple(
                a for a in items if isinstance(a, schemas.AccountData) and stamp(a.uTime) >= snap
            )
            if newer:
                acct = parse.parse_account(self.market, newer, rts, "ws")
                events.append(BalanceUpdate(account=acct))
            else:
                self._count("held_older")
        events.append(self._fresh_event("account", None, ts))
        return events

    def _positions_of(
        self, data: tuple[schemas.PositionData, ...], ts: int
    ) -> tuple[Position, ...]:
        """DATA as Positions of this market (others counted as `ignored`); every value checked."""
        out = []
        for p in data:
            pos = parse.parse_position(p, ts, "ws")
            if pos.market == self.market:
                out.append(pos)
            else:
                self._count("ignored")
        return tuple(out)

    def _on_positions(self, env: schemas.Envelope, ts: int) -> list[Event]:
        data = parse.positions_data(env)
        positions = self._positions_of(data, ts)
        if env.eventType == "snapshot":
            pages = self._page("positions", env, data)
            if pages is None:
                return []
            return self._positions_full(
                tuple(p for p in pages if isinstance(p, schemas.PositionData)), ts
            )
        if self._hold("positions", data, ts):
            return []
        return [PositionUpdate(venue=VENUE, market=self.market, positions=positions, ts_recv=ts)]

    def _positions_full(self, data: tuple[schemas.PositionData, ...], ts: int) -> list[Event]:
        """The positions snapshot is in: all of them, then the held updates not older."""
        snap = {(p.instId, p.posSide): stamp(p.uTime) for p in data}
        events: list[Event] = [
            PositionUpdate(
                venue=VENUE,
                market=self.market,
                positions=self._positions_of(data, ts),
                full=True,
                ts_recv=ts,
            )
        ]
        for items, rts in self._take_held("positions"):
            newer = tuple(
                p
                for p in items
                if isinstance(p, schemas.PositionData)
                and stamp(p.uTime) >= snap.get((p.instId, p.posSide), -1)
            )
            if newer:
                events.append(
                    PositionUpdate(
                        venue=VENUE,
                        market=self.market,
                        positions=self._positions_of(newer, rts),
                        ts_recv=rts,
                    )
                )
        events.append(self._fresh_event("positions", None, ts))
        return events

    # -- orders: a REST seed, pushes held until it answers --------------------------------

    def _orders_of(
        self, data: tuple[schemas.OrderData, ...], ts: int, source: Source
    ) -> tuple[Order, ...]:
        """DATA as Orders of this market (others counted as `ignored`); every value checked."""
        out = []
        for o in data:
            order = parse.parse_order(o, ts, source)
            if order.market == self.market:
                out.append(order)
            else:
                self._count("ignored")
        return tuple(out)

    def _start_orders_seed(self, ts: int) -> None:
        """The orders subscription is acked: ask REST for the open orders (page 1)."""
        seed: Seed[str] = Seed(keys=("orders",))
        seed.pending = {"orders"}
        self._seed = seed
        self._request_orders(ts, None)

    def _request_orders(self, ts: int, after: str | None) -> None:
        req = rest.build_open_orders(
            self.market, self._creds, ts // _MS, after=after, demo=self.env == "demo"
        )
        self._inflight[self._queue(req)] = (self._gen, after)
        self._count("seed_requests")

    def rest_response(self, req_id: int, status: int, body: bytes, ts: int) -> list[Event]:
        """An open-orders page; the orders are full once the last page is in."""
        entry = self._inflight.pop(req_id, None)
        seed = self._seed
        if entry is None or entry[0] != self._gen or seed is None or seed.done:
            self._count("late_rest")
            return []
        try:
            rest.check_error(status, {}, body)
            resp = schemas.REST_ORDERS.decode(body)
            self._orders_of(resp.data, ts, "rest")  # a value that cannot be true fails the page
        except (SpinstreamError, msgspec.DecodeError, ValueError) as exc:
            self._count("seed_failed")
            seed.pages.pop("orders", None)  # the retry starts again from the first page
            seed.retry["orders"] = ts + int(self.RETRY_S * _NS)
            reason = auth.redact(f"orders seed failed: {exc!s}", self._creds)
            return [self._stale("orders", None, reason[:300], ts)]
        except Exception as exc:  # a bug: logged, counted; the seed is asked again later
            seed.pages.pop("orders", None)
            seed.retry["orders"] = ts + int(self.RETRY_S * _NS)
            return self._failed("orders seed", ts, exc)
        seed.pages.setdefault("orders", []).extend(resp.data)
        if len(resp.data) >= ORDERS_PAGE:
            self._request_orders(ts, resp.data[-1].ordId)
            return []
        seed.pending.discard("orders")
        return self._orders_full(seed, ts)

    def _orders_full(self, seed: Seed[str], ts: int) -> list[Event]:
        """The seed is in: every open order, then the held pushes the seed does not cover."""
        seed.done = True
        data = tuple(o for o in seed.pages.get("orders", ()) if isinstance(o, schemas.OrderData))
        by_id = {o.ordId: o for o in data}
        orders = self._orders_of(data, ts, "rest")
        events: list[Event] = [
            OrderUpdate(venue=VENUE, market=self.market, orders=orders, full=True, ts_recv=ts)
        ]
        for recs, rts in seed.buffer:
            newer = tuple(
                o
                for o in recs
                if isinstance(o, schemas.OrderData) and _order_newer(o, by_id.get(o.ordId))
            )
            if newer:
                events.append(
                    OrderUpdate(
                        venue=VENUE,
                        market=self.market,
                        orders=self._orders_of(newer, rts, "ws"),
                        ts_recv=rts,
                    )
                )
        self._count("replayed", len(seed.buffer))
        seed.buffer.clear()
        seed.pages.clear()
        self._full["orders"] = True
        events.append(self._fresh_event("orders", None, ts))
        return events

    def _on_orders(self, env: schemas.Envelope, ts: int) -> list[Event]:
        data = parse.orders_data(env)
        orders = self._orders_of(data, ts, "ws")  # every value checked before it is held
        seed = self._seed
        if seed is None:  # before the subscription's ack: the seed, asked after it, covers it
            self._count("early_pushes")
            return []
        if not seed.done:
            if not seed.hold((data, ts), self.MAX_BUFFER):  # full: seed again from page 1
                self._count("overflows")
                self._inflight.clear()
                self._request_orders(ts, None)
            self._count("buffered")
            return []
        return [OrderUpdate(venue=VENUE, market=self.market, orders=orders, ts_recv=ts)]


def _order_newer(push: schemas.OrderData, seeded: schemas.OrderData | None) -> bool:
    """A held order push applies unless the seed holds a later state of that order."""
    return seeded is None or stamp(push.uTime) >= stamp(seeded.uTime)

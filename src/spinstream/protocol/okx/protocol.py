"""OKX v5 public market data, sans I/O, on the shared connection base: `tickers` and `books`.

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
- A book needs its instrument's `tickSz` / `lotSz`: subscribing one queues
  `GET /api/v5/public/instruments` and the `books` channel is subscribed once it answers
  (retried after `RETRY_S` on failure).
- Keepalive: OKX drops a connection after 30 s without traffic, so `tick` sends the text
  `ping` when nothing was sent for `PING_S`; the text `pong` is accepted (counted). The
  transport's `liveness` (`MARKET_DATA`) finds a stall.

Not here (documented, not built): `books5` / `bbo-tbt`, the REST snapshot stitched by seqId,
and the private streams (account, positions, orders; REST through `rest.py` meanwhile).
"""

from __future__ import annotations

import enum
import logging

import msgspec

from spinstream.credentials import Credentials
from spinstream.errors import ParseError, SpinstreamError, UnsupportedError
from spinstream.protocol.booksync import Action, OkxRule, SyncedBook, SyncState
from spinstream.protocol.connection import Connection
from spinstream.protocol.events import (
    MARKET_DATA,
    BookUpdated,
    Event,
    Subscribed,
    TickerUpdate,
)

from . import parse, rest, schemas
from .parse import Instrument

__all__ = ["ENVS", "Link", "OkxPublic"]

log = logging.getLogger(__name__)

VENUE = parse.VENUE
ENVS = ("live", "demo")
PUBLIC_MARKETS = ("spot", "swap", "futures")
BOOK_DEPTH = 400  # `books`: 400 levels a side
_NS = 1_000_000_000
_APPLY = Action.APPLY
_RESET = Action.RESET
_RESYNC = Action.RESYNC
_SYNCED = SyncState.SYNCED
_CHANNELS = {"ticker": "tickers", "book": "books"}
_KINDS = {v: k for k, v in _CHANNELS.items()}


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
    endpoint = "public"
    private = False
    liveness = MARKET_DATA

    def __init__(self, market: str, creds: Credentials | None = None, *, env: str = "live") -> None:
        if market not in PUBLIC_MARKETS:
            raise UnsupportedError(f"okx public stream: market {market!r} (use {PUBLIC_MARKETS})")
        if env not in ENVS:
            raise ValueError(f"okx env must be one of {ENVS}, not {env!r}")
        super().__init__(market, env, Link.DISCONNECTED)
        self._rule = OkxRule()
        self._sent: set[tuple[str, str]] = set()  # (channel, instId) subscribed on this link
        self._insts: dict[str, Instrument] = {}
        self._books: dict[str, SyncedBook] = {}
        self._inflight: dict[int, str] = {}  # REST req_id -> instId (instruments)
        self._retry: dict[str, int] = {}  # instId -> ts to ask its instrument again
        self._last_out = 0  # ts of the last frame queued (the ping's clock)

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
        if kind not in _CHANNELS:
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
        channel = _CHANNELS[kind]
        if (channel, symbol) in self._sent:
            self._sent.discard((channel, symbol))
            if self._state is Link.CONNECTED:
                self._send(_op("unsubscribe", channel, symbol), self._last_out)
        if kind == "book":
            self._books.pop(symbol, None)

    def _send(self, frame: str, ts: int) -> None:
        self._out.append(frame)
        self._last_out = max(self._last_out, ts)

    def _send_ready(self, kind: str, symbol: str, ts: int) -> None:
        """Subscribe (KIND, SYMBOL) when connected and (a book) its instrument is known."""
        channel = _CHANNELS[kind]
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
        self._send_ready(_KINDS[channel], symbol, ts)

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
        self._resubscribe("books", sym, self._last_out)

    def _make_book(self, symbol: str) -> None:
        i = self._insts[symbol]
        self._books[symbol] = SyncedBook(
            self._rule, i.price_decimals, i.size_decimals, max_depth=BOOK_DEPTH
        )

    def _request_instrument(self, symbol: str) -> None:
        req = rest.build_instruments(self.market, symbol, demo=self.env == "demo")
        self._inflight[self._queue(req)] = symbol

    def rest_response(self, req_id: int, status: int, body: bytes, ts: int) -> list[Event]:
        """An instruments answer: the symbol's decimals, then its book is subscribed."""
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
        return []

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
        arg = msg.arg
        sym = arg.instId
        channel = arg.channel
        if sym is None or (_KINDS.get(channel), sym) not in self._subs:
            self._count("unsubscribed")
            return []
        if channel == "tickers":
            try:
                events: list[Event] = []
                for t in parse.tickers_data(msg):
                    if t.instId != sym:
                        raise ParseError(f"tickers data for {t.instId!r}")
                    # sizes in contracts, as the REST fallback's (rest.parse_ticker, no inst)
                    events.append(TickerUpdate(ticker=parse.parse_ticker(t, ts, "ws")))
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
            out: list[Event] = []
            for d in parse.books_data(msg):
                out.extend(self._on_book(sym, book, action, d, ts))
            return out
        except Exception as exc:
            return self._failed("books", ts, exc) + self._lost(sym, book, action, ts)

    def _on_book(
        self, sym: str, book: SyncedBook, action: str | None, d: schemas.BookData, ts: int
    ) -> list[Event]:
        """One `books` item: sequenced, applied, checksummed."""
        if action != "snapshot" and action != "update":
            raise ParseError(f"books action {action!r}")
        bids, asks = d.bids, d.asks
        parse.validate_levels(bids, "books bid")
        parse.validate_levels(asks, "books ask")
        snapshot = action == "snapshot"
        seq, prev = d.seqId, d.prevSeqId
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
            c = d.checksum
            if c:  # 0 (since 2026-06-23) or absent: nothing to check
                if book.book.checksum_okx() != c:
                    self._count("checksum_failed")
                    book.invalidate("checksum mismatch")
                    return self._resync(sym, "checksum mismatch", ts)
                self._count("checksums")
            ts_event = parse.ms_to_ns(d.ts) if d.ts else None
            return [
                BookUpdated(
                    venue=VENUE,
                    market=self.market,
                    symbol=sym,
                    book=book.book,
                    seq=d.seqId,
                    ts_event=ts_event,
                    ts_recv=ts,
                )
            ]
        if act is _RESYNC:
            self._count("gaps")
            return self._resync(sym, book.sync.reason or "gap", ts)
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
            if ("books", sym) in self._sent:
                self._sent.discard(("books", sym))
                if self._state is Link.CONNECTED:
                    self._send(_op("unsubscribe", "books", sym), ts)
            if sym not in self._inflight.values():
                self._request_instrument(sym)
            return [self._stale("book", sym, reason, ts)]
        self._resubscribe("books", sym, ts)
        return [self._stale("book", sym, reason, ts)]

    def _on_event(self, ev: schemas.Event, ts: int) -> list[Event]:
        """An op answer: subscribe acks, errors, notices."""
        arg = ev.arg
        if ev.event == "subscribe" and arg is not None:
            self._count("subscribed")
            return [Subscribed(venue=VENUE, topic=f"{arg.channel}:{arg.instId}", ts_recv=ts)]
        if ev.event == "unsubscribe":
            return []
        if ev.event == "error":
            self._count("venue_errors")
            log.warning("okx error %s: %s", ev.code, ev.msg[:200], extra=self._extra)
            if arg is not None and arg.instId and arg.channel in _KINDS:
                kind, sym = _KINDS[arg.channel], arg.instId
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

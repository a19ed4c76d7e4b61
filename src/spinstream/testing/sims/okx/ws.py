"""OKX v5 WebSocket: public, private and business endpoints, live and demo (`wspap`) hosts.

Requests are `{"op": "subscribe"|"unsubscribe"|"login", "args": [...], "id"?}`; each subscribed
arg is acked `{"event": "subscribe", "arg": {...}, "connId": ...}`; refusals are
`{"event": "error", "code": "600xx", "msg": ..., "connId": ...}`. The text `ping` is answered
with the text `pong`; a connection with no client message and no push for `idle_timeout` (30 s)
is closed (4004). Channels:

- public `/ws/v5/public`: `tickers`, `books` (400 levels: `action` snapshot then update,
  `prevSeqId` chained to the last `seqId`, the snapshot's `prevSeqId` -1, CRC32 `checksum` of the
  top 25 levels or 0 when `checksum=False`, an empty update with `prevSeqId == seqId` after
  `book_keepalive_s` without change), `books5`, `bbo-tbt`, `trades`;
- private `/ws/v5/private` (after `login`): `account` and `positions` (snapshot on subscribe with
  `eventType`/`curPage`/`lastPage`, then `event_update` pushes), `orders` (pushes only);
- business `/ws/v5/business`: `candle{bar}` (1m 3m 5m 15m 30m 1H 4H 1D).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from .._base import (
    AccountUpdate,
    BookUpdate,
    Fill,
    Instrument,
    OrderUpdate,
    SimConnection,
    SimEvent,
    SimOrder,
    TickerUpdate,
    TradeUpdate,
    now_ms,
)
from .auth import check_login
from .model import OkxModel
from .state import (
    BOOK_DEPTH,
    JSON,
    TRADE_ID_BASE,
    OkxError,
    checksum,
    plain,
    side_text,
)

log = logging.getLogger(__name__)

PUBLIC = frozenset({"tickers", "books", "books5", "bbo-tbt", "trades"})
PRIVATE = frozenset({"account", "positions", "orders"})
BARS = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1H": 3600,
    "4H": 14400,
    "1D": 86400,
}
BUSINESS = frozenset(f"candle{b}" for b in BARS)
ENDPOINT_CHANNELS = {"public": PUBLIC, "private": PRIVATE, "business": BUSINESS}
PRIVATE_TYPES = ("ANY", "SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")


def _wrong(channel: str, inst_id: str = "") -> OkxError:
    where = f"channel:{channel},instId:{inst_id}" if inst_id else f"channel:{channel}"
    return OkxError(
        "60018",
        f"Wrong URL or {where} doesn't exist. Please use the correct URL, channel and "
        "parameters referring to API document.",
    )


class OkxWs(OkxModel):
    """The WebSocket half of `OkxSim`."""

    _candles: dict[tuple[str, str], list[Any]]  # (instId, bar) -> [start_ms, o, h, l, c, vol]
    idle_closed: int  # connections closed for silence (a test reads it)

    def setup_ws(self, app: web.Application) -> None:
        """Add the three endpoints on the live host (root) and the demo host (/wspap)."""
        self._candles = {}
        self.idle_closed = 0
        for prefix, group in (("", "live"), ("/wspap", "demo")):
            for kind in ("public", "private", "business"):
                app.router.add_get(f"{prefix}/ws/v5/{kind}", self._ws_handler(group, kind))

    def _ws_handler(
        self, group: str, kind: str
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            async with self.websocket(request, kind=kind) as conn:
                conn.data.update(
                    group=group,
                    conn_id=secrets.token_hex(4),
                    last_io=time.monotonic(),
                    login=False,
                    args={},
                )
                conn._tasks.append(asyncio.ensure_future(self._idle_watch(conn)))
                async for text in conn:
                    conn.data["last_io"] = time.monotonic()
                    try:
                        self._on_text(conn, text)
                    except Exception:  # one bad request must not end the connection
                        log.exception("sim okx: handling a %s frame failed", kind)
            return conn.ws

        return handler

    async def _idle_watch(self, conn: SimConnection) -> None:
        """Close a connection that has been silent both ways for `idle_timeout` seconds."""
        limit = self.idle_timeout
        try:
            while not conn.closed:
                await asyncio.sleep(min(1.0, limit / 4))
                if time.monotonic() - float(conn.data["last_io"]) > limit:  # type: ignore[arg-type]
                    self.idle_closed += 1
                    log.info("sim okx: closing silent connection #%d", conn.id)
                    conn.close(4004, "No data received in 30s.")
                    return
        except asyncio.CancelledError:
            return

    def _send(self, conn: SimConnection, frame: JSON | str) -> None:
        conn.data["last_io"] = time.monotonic()
        conn.send(frame)

    def malformed_frame(self, conn: SimConnection) -> str:
        """A cut-off frame shaped like the endpoint's data."""
        if conn.kind == "private":
            return '{"arg":{"channel":"orders","instType":"ANY"},"data":[{"instId":"BTC-'
        return '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"as'

    def unknown_frame(self, conn: SimConnection) -> str:
        """A well-formed push of a channel nobody subscribed to."""
        return '{"arg":{"channel":"chaos-unknown","instId":"BTC-USDT"},"data":[{"x":"1"}]}'

    # -- requests -----------------------------------------------------------------------------

    def _event(self, conn: SimConnection, req_id: Any, **fields: Any) -> JSON:
        d: JSON = {}
        if req_id not in (None, ""):
            d["id"] = str(req_id)
        d.update(fields)
        d["connId"] = conn.data["conn_id"]
        return d

    def _on_text(self, conn: SimConnection, text: str) -> None:
        if text == "ping":
            self._send(conn, "pong")
            return
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
            self._send(
                conn,
                self._event(
                    conn, None, event="error", code="60012", msg=f"Invalid request: {text[:200]}"
                ),
            )
            return
        op, args, req_id = msg["op"], msg.get("args"), msg.get("id")
        try:
            if op == "login":
                self._login(conn, args)
                self._send(conn, self._event(conn, req_id, event="login", code="0", msg=""))
            elif op in ("subscribe", "unsubscribe"):
                self._subscribe(conn, op, args, req_id, text)
            else:
                raise OkxError("60012", f"Invalid request: {text[:200]}")
        except OkxError as exc:
            self._send(conn, self._event(conn, req_id, event="error", code=exc.code, msg=exc.msg))

    def _login(self, conn: SimConnection, args: Any) -> None:
        if not isinstance(args, list) or len(args) != 1:
            raise OkxError("60012", "Invalid request")
        try:
            check_login(
                args[0],
                self.creds(str(conn.data["group"])),
                time.time(),
                self.faults.take_reject_auth(),
            )
        except OkxError:
            self.stats.auth_failures += 1
            raise
        conn.data["login"] = True

    def _normalise(self, conn: SimConnection, arg: Any, text: str) -> tuple[str, JSON]:
        """(key, arg) of one valid subscription arg, else OkxError."""
        if not isinstance(arg, dict) or not isinstance(arg.get("channel"), str):
            raise OkxError("60012", f"Invalid request: {text[:200]}")
        ch = arg["channel"]
        inst_id = str(arg.get("instId") or "")
        if ch not in ENDPOINT_CHANNELS[conn.kind]:
            raise _wrong(ch, inst_id)
        if conn.kind == "private":
            if not conn.data["login"]:
                raise OkxError("60011", "Please log in")
            if ch in ("orders", "positions"):
                t = arg.get("instType")
                if t not in PRIVATE_TYPES:
                    raise OkxError("60013", "Invalid args")
            if inst_id and inst_id not in self.specs:
                raise _wrong(ch, inst_id)
        elif inst_id not in self.specs:
            raise _wrong(ch, inst_id)
        keep = {k: str(v) for k, v in arg.items() if isinstance(v, (str, int))}
        return json.dumps(keep, sort_keys=True), keep

    def _subscribe(self, conn: SimConnection, op: str, args: Any, req_id: Any, text: str) -> None:
        if not isinstance(args, list) or not args:
            raise OkxError("60012", f"Invalid request: {text[:200]}")
        parsed = [self._normalise(conn, a, text) for a in args]  # all valid, or none applied
        subs: dict[str, JSON] = conn.data["args"]  # type: ignore[assignment]
        for key, arg in parsed:
            self._send(conn, self._event(conn, req_id, event=op, arg=arg))
            if op == "subscribe":
                fresh = key not in subs
                subs[key] = arg
                conn.subscriptions.add(arg["channel"])
                if fresh:
                    self._initial(conn, arg)
            else:
                subs.pop(key, None)
                if not any(a["channel"] == arg["channel"] for a in subs.values()):
                    conn.subscriptions.discard(arg["channel"])

    def _initial(self, conn: SimConnection, arg: JSON) -> None:
        """What a fresh subscriber gets at once."""
        ch = arg["channel"]
        group = str(conn.data["group"])
        if ch in PUBLIC or ch in BUSINESS:
            inst = self.inst(arg["instId"])
            if ch == "books":
                if self.ws_book_snapshot:  # else: updates only (REST snapshot + seqId)
                    self._send(conn, self._books_frame(inst, "snapshot"))
            elif ch in ("books5", "bbo-tbt"):
                self._send(conn, self._top_frame(inst, ch))
            elif ch == "tickers":
                self._send(conn, self._ticker_frame(inst))
            elif ch in BUSINESS:
                row = self._candle_row(inst, ch[len("candle") :])
                self._send(conn, {"arg": {"channel": ch, "instId": inst.symbol}, "data": [row]})
        elif ch == "account":
            self._send(conn, self._account_frame(group, arg, None, "snapshot"))
        elif ch == "positions":
            rows = [
                r
                for r in self.positions(group)
                if self._private_match(arg, r["instType"], r["instId"])
            ]
            self._send(conn, self._private_frame(group, arg, rows, "snapshot"))

    # -- subscribers --------------------------------------------------------------------------

    def _public_subs(self, kind: str, channel: str, inst_id: str) -> list[SimConnection]:
        out = []
        for c in self.connections(kind):
            if c.closed or channel not in c.subscriptions:
                continue
            args: dict[str, JSON] = c.data["args"]  # type: ignore[assignment]
            if any(a["channel"] == channel and a.get("instId") == inst_id for a in args.values()):
                out.append(c)
        return out

    def _fanout(self, kind: str, channel: str, inst_id: str, frame: JSON) -> None:
        conns = self._public_subs(kind, channel, inst_id)
        if conns:
            text = json.dumps(frame, separators=(",", ":"))
            for c in conns:
                self._send(c, text)

    def _private_match(self, arg: JSON, inst_type: str, inst_id: str) -> bool:
        t = arg.get("instType", "ANY")
        if t not in ("ANY", inst_type):
            return False
        if arg.get("instId") and arg["instId"] != inst_id:
            return False
        spec = self.specs.get(inst_id)
        return not (arg.get("instFamily") and spec is not None and spec.family != arg["instFamily"])

    def _private_subs(self, group: str, channel: str) -> list[tuple[SimConnection, JSON]]:
        out = []
        for c in self.connections("private"):
            if c.closed or c.data.get("group") != group or channel not in c.subscriptions:
                continue
            args: dict[str, JSON] = c.data["args"]  # type: ignore[assignment]
            out += [(c, a) for a in args.values() if a["channel"] == channel]
        return out

    # -- frames -------------------------------------------------------------------------------

    def _books_frame(
        self,
        inst: Instrument,
        action: str,
        bids: list[list[str]] | None = None,
        asks: list[list[str]] | None = None,
        prev: int | None = None,
        bad: bool = False,
    ) -> JSON:
        feed = self.feeds[inst.symbol]
        top_b, top_a = self.book_levels(inst, feed, 25)
        cks = checksum(top_b, top_a) if (self.checksum_enabled or bad) else 0
        if bad:
            cks = (cks ^ 0x2F) or 1
        if action == "snapshot":
            bids, asks = self.book_levels(inst, feed, BOOK_DEPTH)
            prev = -1
        data = {
            "asks": asks or [],
            "bids": bids or [],
            "ts": str(now_ms()),
            "checksum": cks,
            "prevSeqId": feed.seq if prev is None else prev,
            "seqId": feed.seq,
        }
        return {
            "arg": {"channel": "books", "instId": inst.symbol},
            "action": action,
            "data": [data],
        }

    def _top_frame(self, inst: Instrument, channel: str) -> JSON:
        n = 5 if channel == "books5" else 1
        feed = self.feeds[inst.symbol]
        bids, asks = self.book_levels(inst, feed, n)
        data: JSON = {"asks": asks, "bids": bids}
        if channel == "books5":
            data["instId"] = inst.symbol
        data.update(ts=str(now_ms()), seqId=feed.seq)
        return {"arg": {"channel": channel, "instId": inst.symbol}, "data": [data]}

    def _ticker_frame(self, inst: Instrument) -> JSON:
        return {
            "arg": {"channel": "tickers", "instId": inst.symbol},
            "data": [self.ticker_json(inst)],
        }

    def _private_frame(
        self, group: str, arg: JSON, rows: list[JSON], event_type: str | None
    ) -> JSON:
        push_arg = dict(arg)
        push_arg["uid"] = self.creds(group).uid
        frame: JSON = {"arg": push_arg}
        if event_type is not None:
            frame.update(eventType=event_type, curPage=1, lastPage=True)
        frame["data"] = rows
        return frame

    def _account_frame(
        self, group: str, arg: JSON, ccys: list[str] | None, event_type: str
    ) -> JSON:
        want = [arg["ccy"]] if arg.get("ccy") else ccys
        return self._private_frame(group, arg, [self.balance_json(group, want)], event_type)

    # -- engine events ------------------------------------------------------------------------

    def on_event(self, event: SimEvent) -> None:
        """Engine events -> OKX pushes."""
        if isinstance(event, BookUpdate):
            self._on_book(event.instrument)
        elif isinstance(event, TickerUpdate):
            inst = event.instrument
            self._fanout("public", "tickers", inst.symbol, self._ticker_frame(inst))
            self._push_candles(inst)
        elif isinstance(event, TradeUpdate):
            self._on_trade(event)
        elif isinstance(event, OrderUpdate):
            self._push_order(event.order, event.fill)
        elif isinstance(event, AccountUpdate):
            self._on_account(event)

    def reset_sequence(self, inst_id: str) -> None:
        """Make the next `books` update of `inst_id` restart its sequence (`seqId <
        prevSeqId`), as OKX does after maintenance."""
        self.feeds[inst_id].reset_pending = True

    def _on_book(self, inst: Instrument) -> None:
        feed = self.feeds[inst.symbol]
        book = self.engine.book(inst)
        nb, na = dict(book.side(True, BOOK_DEPTH)), dict(book.side(False, BOOK_DEPTH))
        db = {p: q for p, q in nb.items() if feed.bids.get(p) != q}
        db.update({p: 0 for p in feed.bids if p not in nb})
        da = {p: q for p, q in na.items() if feed.asks.get(p) != q}
        da.update({p: 0 for p in feed.asks if p not in na})
        if not db and not da:
            return
        top5 = self.book_levels(inst, feed, 5)
        prev = feed.seq
        subs = bool(self._public_subs("public", "books", inst.symbol))
        if feed.reset_pending:
            feed.reset_pending = False
            feed.seq = max(1, prev // 1000)  # the sequence restarts lower
        else:
            if subs and self.faults.consume_gap(("books", inst.symbol)):
                prev += 1  # an update no client ever sees: prevSeqId skips ahead
            feed.seq = prev + len(db) + len(da)
        feed.bids, feed.asks = nb, na
        feed.pushed_at = time.monotonic()
        if subs:
            spec = self.spec(inst)
            bad = self.faults.consume_bad_checksum(("books", inst.symbol))
            frame = self._books_frame(
                inst,
                "update",
                side_text(spec, inst, sorted(db.items(), reverse=True)),
                side_text(spec, inst, sorted(da.items())),
                prev,
                bad,
            )
            self._fanout("public", "books", inst.symbol, frame)
        new5 = self.book_levels(inst, feed, 5)
        if new5 != top5:
            self._fanout("public", "books5", inst.symbol, self._top_frame(inst, "books5"))
            if (new5[0][:1], new5[1][:1]) != (top5[0][:1], top5[1][:1]):
                self._fanout("public", "bbo-tbt", inst.symbol, self._top_frame(inst, "bbo-tbt"))

    async def _keepalive_loop(self) -> None:
        """The empty `books` update (`prevSeqId == seqId`) after `book_keepalive_s` quiet."""
        period = max(0.05, min(1.0, self.book_keepalive_s / 4))
        try:
            while True:
                await asyncio.sleep(period)
                now = time.monotonic()
                for inst_id, feed in self.feeds.items():
                    if now - feed.pushed_at < self.book_keepalive_s:
                        continue
                    if not self._public_subs("public", "books", inst_id):
                        continue
                    feed.pushed_at = now
                    inst = self.inst(inst_id)
                    self._fanout(
                        "public",
                        "books",
                        inst_id,
                        self._books_frame(inst, "update", [], [], feed.seq),
                    )
        except asyncio.CancelledError:
            return

    def _on_trade(self, ev: TradeUpdate) -> None:
        inst, t = ev.instrument, ev.trade
        spec = self.spec(inst)
        for bar, secs in BARS.items():
            start = t.ts_ms // (secs * 1000) * secs * 1000
            c = self._candles.get((inst.symbol, bar))
            if c is None or c[0] != start:
                o = c[4] if c is not None else t.price
                c = self._candles[(inst.symbol, bar)] = [start, o, o, o, o, Decimal(0), Decimal(0)]
            c[2], c[3], c[4] = max(c[2], t.price), min(c[3], t.price), t.price
            c[5] += t.qty
            c[6] += t.qty * t.price
        frame = {
            "arg": {"channel": "trades", "instId": inst.symbol},
            "data": [
                {
                    "instId": inst.symbol,
                    "tradeId": str(TRADE_ID_BASE + t.trade_id),
                    "px": plain(t.price),
                    "sz": spec.sz(t.qty),
                    "side": "sell" if t.buyer_is_maker else "buy",
                    "ts": str(t.ts_ms),
                    "count": "1",
                    "source": "0",
                    "seqId": TRADE_ID_BASE + t.trade_id,
                }
            ],
        }
        self._fanout("public", "trades", inst.symbol, frame)

    def _candle_row(self, inst: Instrument, bar: str) -> list[str]:
        spec = self.spec(inst)
        secs = BARS[bar]
        start = now_ms() // (secs * 1000) * secs * 1000
        c = self._candles.get((inst.symbol, bar))
        if c is None or c[0] != start:
            last = self.engine.stats[inst.key].last
            c = [start, last, last, last, last, Decimal(0), Decimal(0)]
        vol_ccy = plain(c[6]) if spec.is_spot else plain(c[5])
        return [
            str(c[0]),
            plain(c[1]),
            plain(c[2]),
            plain(c[3]),
            plain(c[4]),
            spec.sz(c[5]),
            vol_ccy,
            plain(c[6]),
            "0",
        ]

    def _push_candles(self, inst: Instrument) -> None:
        for bar in BARS:
            ch = f"candle{bar}"
            if self._public_subs("business", ch, inst.symbol):
                frame = {
                    "arg": {"channel": ch, "instId": inst.symbol},
                    "data": [self._candle_row(inst, bar)],
                }
                self._fanout("business", ch, inst.symbol, frame)

    def _group_of(self, account_name: str) -> str:
        return account_name.partition(".")[0]

    def _push_order(self, o: SimOrder, fill: Fill | None) -> None:
        group = self._group_of(o.account)
        subs = self._private_subs(group, "orders")
        if not subs:
            return
        spec = self.spec(o.instrument)
        row = self.order_json(o, fill, ws=True)
        for conn, arg in subs:
            if self._private_match(arg, spec.inst_type, o.symbol):
                self._send(conn, self._private_frame(group, arg, [row], None))

    def on_shadow(self, o: SimOrder) -> None:
        """A post-only / FOK order OKX accepted and canceled at once: one `orders` push."""
        self._push_order(o, None)

    def _on_account(self, ev: AccountUpdate) -> None:
        group = self._group_of(ev.account.name)
        if ev.assets:
            for conn, arg in self._private_subs(group, "account"):
                if arg.get("ccy") and arg["ccy"] not in ev.assets:
                    continue
                self._send(conn, self._account_frame(group, arg, list(ev.assets), "event_update"))
        if ev.symbols:
            acct = self.acct(group, False)
            rows = [
                self.position_json(group, acct.position(self.inst(sym)))
                for sym in ev.symbols
                if not self.spec(self.inst(sym)).is_spot
            ]
            for conn, arg in self._private_subs(group, "positions"):
                mine = [r for r in rows if self._private_match(arg, r["instType"], r["instId"])]
                if mine:
                    self._send(conn, self._private_frame(group, arg, mine, "event_update"))

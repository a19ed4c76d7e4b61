"""A TLCP 2.4.0 session over WebSocket, sans I/O: one object for the life of a session.

The transport opens `wss://<host>/lightstreamer` with subprotocol `codec.WS_SUBPROTOCOL`, then
calls `connected(ts)`, feeds every text frame to `receive(frame, ts)`, calls `tick(ts)` every
`TICK_S`, sends what `outgoing()` returns, and calls `disconnected(ts)` when the socket closes.
When `reconnect_wanted` turns true it closes the socket and connects again (to the CONOK
control link, if any); `connected` then queues the right opening:

- a new session: `wsok`, then `create_session` (LS_adapter_set and LS_user only when set,
  LS_cid, LS_send_sync=false, LS_cause, LS_password), as lightstreamer-client-lib 1.0.3 does;
  after a lost session it adds `LS_old_session`;
- after LOOP: `wsok`, then `bind_session` with LS_session=<id>; subscriptions live on.

On CONOK the session is ACTIVE: a new session (re-)adds every subscription with fresh request
ids; a rebound one sends only the adds and deletes that are still owed. Control requests queued
together go out batched in one frame (one parameter line each), within CONOK's request limit,
as 1.0.3 batches them.

No data at all (not even PROBE) for CONOK's keepalive + `keepalive_margin_ms`, or no CONOK
within `open_timeout_ms`, is `SessionDead` with `reconnect_wanted`; so is an unexpected close.
END, CONERR and ERROR end the session (`SessionEnded`, `ServerConnError`, `ServerError`) and ask
for no reconnect: a later `connected` starts a new session (after `set_password`, say). A
CONERR answering a rebind falls back to a new session instead.

    DISCONNECTED -> OPENING (create) | BINDING (bind, after LOOP)
    OPENING, BINDING -> ACTIVE (CONOK) | ENDED | DEAD | DISCONNECTED
    ACTIVE -> REBIND (LOOP) | ENDED | DEAD | DISCONNECTED
    REBIND, DEAD, ENDED -> DISCONNECTED  (`connected` passes through it)
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Sequence

from spinstream.credentials import Secret
from spinstream.errors import ConfigError, ParseError, ProtocolError
from spinstream.protocol.events import Malformed, RestRequest

from . import codec
from .codec import Mode
from .events import (
    LsEvent,
    Rebinding,
    ServerConnError,
    ServerError,
    SessionDead,
    SessionEnded,
    SessionStarted,
    Subscribed,
    SubscriptionConfigured,
    SubscriptionFailed,
    Unsubscribed,
)
from .subscription import Subscription

__all__ = ["MOVES", "LightstreamerSession", "State", "SubscriptionLimit"]

log = logging.getLogger(__name__)

_MS = 1_000_000


class State(enum.Enum):
    """Where the session stands on the current connection."""

    DISCONNECTED = "disconnected"  # no socket
    OPENING = "opening"  # wsok + create_session sent; waiting for CONOK
    BINDING = "binding"  # wsok + bind_session sent (after LOOP); waiting for CONOK
    ACTIVE = "active"  # CONOK received: subscriptions flow
    REBIND = "rebind"  # LOOP: reconnect and bind the same session
    DEAD = "dead"  # silent, never opened, or refused rebind: reconnect, new session
    ENDED = "ended"  # END, CONERR or ERROR: no automatic reconnect


MOVES: dict[State, frozenset[State]] = {
    State.DISCONNECTED: frozenset({State.OPENING, State.BINDING}),
    State.OPENING: frozenset({State.ACTIVE, State.ENDED, State.DEAD, State.DISCONNECTED}),
    State.BINDING: frozenset({State.ACTIVE, State.ENDED, State.DEAD, State.DISCONNECTED}),
    State.ACTIVE: frozenset({State.REBIND, State.ENDED, State.DEAD, State.DISCONNECTED}),
    State.REBIND: frozenset({State.DISCONNECTED}),
    State.DEAD: frozenset({State.DISCONNECTED}),
    State.ENDED: frozenset({State.DISCONNECTED}),
}

_LIVE = (State.OPENING, State.BINDING, State.ACTIVE)  # a socket we are using
_READING = (*_LIVE, State.REBIND)  # lines still count (past LOOP: the same session's data)
_SESSION_LINES = (codec.CONOK, codec.CONERR, codec.END, codec.ERROR, codec.LOOP)


def _secret(password: Secret | str | None) -> Secret | None:
    return password if password is None or isinstance(password, Secret) else Secret(password)


class SubscriptionLimit(ConfigError):
    """`subscribe` past the configured concurrent-subscription limit (IG: 40 per connection).

    A ConfigError, not a ProtocolError: the caller (or the workspace's configuration) asked for
    more streams than one connection carries; nothing was sent and the venue did nothing wrong.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"at most {limit} concurrent Lightstreamer subscriptions per session;"
            " unsubscribe one first or open another connection"
        )
        self.limit = limit


class LightstreamerSession:
    """TLCP session rules: opening, rebinding, keepalive, subscriptions and their item state."""

    TICK_S = 1.0

    def __init__(
        self,
        *,
        password: Secret | str | None = None,
        user: str | None = None,
        adapter_set: str | None = None,
        cid: str = codec.DEFAULT_CID,
        keepalive_ms: int | None = None,
        inactivity_ms: int | None = None,
        max_subscriptions: int = 40,
        keepalive_margin_ms: int = 5_000,
        open_timeout_ms: int = 10_000,
        batch: bool = True,
        venue: str = "lightstreamer",
    ) -> None:
        if max_subscriptions < 1:
            raise ConfigError("max_subscriptions must be at least 1")
        self._password = _secret(password)
        self.user = user
        self.adapter_set = adapter_set
        self.cid = cid
        self.requested_keepalive_ms = keepalive_ms
        self.inactivity_ms = inactivity_ms
        self.max_subscriptions = max_subscriptions
        self.keepalive_margin_ms = keepalive_margin_ms
        self.open_timeout_ms = open_timeout_ms
        self.batch = batch
        self.venue = venue
        self.counters: Counter[str] = Counter()
        self.reconnect_wanted = False
        # what the server told us
        self.session_id: str | None = None
        self.keepalive_ms = 0
        self.request_limit = 0
        self.control_link: str | None = None
        self.server_name: str | None = None
        self.client_ip: str | None = None
        self.bandwidth: float | str | None = None
        self.prog = 0
        # ours
        self._state = State.DISCONNECTED
        self._subs: dict[int, Subscription] = {}
        self._deletes: list[int] = []  # sub ids to delete once the session is active again
        self._deleting: set[int] = set()  # delete sent, UNSUB not yet seen
        self._reqs: dict[int, tuple[str, int]] = {}  # req id -> (op, sub id)
        self._next_sub = 0
        self._next_req = 0
        self._out: list[str] = []
        self._bind = False  # the next `connected` binds self.session_id
        self._old_session: str | None = None  # a lost session, named in the next create
        self._cause = "api"
        self._wsok = False
        self._closing = False
        self._since = 0  # when the current socket opened
        self._last_recv = 0
        self._last_sent = 0
        self._ts = 0  # latest ts seen (subscribe/unsubscribe carry none)

    def __repr__(self) -> str:
        return (
            f"LightstreamerSession({self._state.name}, session={self.session_id!r},"
            f" subscriptions={len(self._subs)})"
        )

    # -- properties -----------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def subscriptions(self) -> dict[int, Subscription]:
        """Live subscriptions by id (read-only view; use subscribe/unsubscribe)."""
        return dict(self._subs)

    def set_password(self, password: Secret | str | None) -> None:
        """New credentials for the next `create_session` (IG's CST/XST after a re-login)."""
        self._password = _secret(password)

    def values(self, sub_id: int, item_pos: int) -> dict[str, str | None]:
        """An item's current values (MERGE/DISTINCT/RAW), {} if none."""
        sub = self._subs.get(sub_id)
        return sub.values(item_pos) if sub else {}

    def rows(self, sub_id: int, item_pos: int) -> dict[str, dict[str, str | None]]:
        """A COMMAND item's live rows by key."""
        sub = self._subs.get(sub_id)
        return sub.rows(item_pos) if sub else {}

    # -- outputs --------------------------------------------------------------------------------

    def outgoing(self) -> list[str]:
        """Frames to send, in order (drained); consecutive control requests are batched."""
        out, self._out = self._out, []
        if not self.batch or self.request_limit <= 0 or len(out) < 2:
            return out
        frames: list[str] = []
        for frame in out:
            prev = frames[-1] if frames else ""
            if (
                frame.startswith("control\r\n")
                and prev.startswith("control\r\n")
                and len(prev) + len(frame) - len("control") <= self.request_limit
            ):  # requests are ASCII (percent-encoded): len is the byte size
                frames[-1] = prev + frame[len("control") :]
            else:
                frames.append(frame)
        return frames

    def requests(self) -> list[RestRequest]:
        """TLCP over WS makes no REST calls."""
        return []

    def rest_response(self, req_id: int, status: int, body: bytes, ts: int) -> list[LsEvent]:
        return []

    def _send(self, frame: str) -> None:
        self._out.append(frame)
        self._last_sent = self._ts

    # -- state ----------------------------------------------------------------------------------

    def _move(self, new: State) -> None:
        if new not in MOVES[self._state]:
            raise ProtocolError(f"lightstreamer session: {self._state.name} -> {new.name}")
        self._state = new

    def _lose_session(self, cause: str) -> None:
        """The server side is gone (or will be): the next connection creates a new session."""
        if self.session_id is not None:
            self._old_session = self.session_id
        self.session_id = None
        self._bind = False
        self._cause = cause
        self._deletes.clear()
        self._deleting.clear()
        self._reqs.clear()
        for sub in self._subs.values():
            sub.reset()

    def _dead(self, reason: str, cause: str, ts: int) -> list[LsEvent]:
        self._move(State.DEAD)
        self._lose_session(cause)
        self.reconnect_wanted = True
        self.counters["dead"] += 1
        log.warning("lightstreamer session dead: %s", reason, extra={"venue": self.venue})
        return [SessionDead(reason=reason, ts=ts)]

    def _end(self, ts: int) -> None:
        self._move(State.ENDED)
        self._lose_session("api")
        self._old_session = None
        self.reconnect_wanted = False
        self._closing = False

    # -- inputs ---------------------------------------------------------------------------------

    def connected(self, ts: int) -> list[LsEvent]:
        """A new WebSocket is open: queue `wsok` and `create_session` (or `bind_session`)."""
        self._ts = ts
        if self._state in (State.REBIND, State.DEAD, State.ENDED):
            self._move(State.DISCONNECTED)
        self._since = self._last_recv = self._last_sent = ts
        self._wsok = False
        self._closing = False
        self.reconnect_wanted = False
        self._out.clear()
        self._send(codec.wsok())
        if self._bind and self.session_id is not None:
            self._move(State.BINDING)
            self._send(
                codec.bind_session(
                    self.session_id,
                    keepalive_ms=self.requested_keepalive_ms,
                    inactivity_ms=self.inactivity_ms,
                )
            )
        else:
            self._move(State.OPENING)
            self._send(
                codec.create_session(
                    password=self._password,
                    cid=self.cid,
                    adapter_set=self.adapter_set,
                    user=self.user,
                    keepalive_ms=self.requested_keepalive_ms,
                    inactivity_ms=self.inactivity_ms,
                    old_session=self._old_session,
                    cause=self._cause,
                )
            )
        return []

    def disconnected(self, ts: int) -> list[LsEvent]:
        """The socket closed: expected after LOOP, END or `destroy`, else the session is dead."""
        self._ts = ts
        self._out.clear()
        state = self._state
        if state is State.DISCONNECTED:
            return []
        events: list[LsEvent] = []
        if state in _LIVE and not self._closing:
            what = (
                "connection closed" if state is State.ACTIVE else "connection closed before CONOK"
            )
            events = self._dead(what, "ws.error", ts)
        elif state in _LIVE:  # closing after destroy: the session is over
            self._end(ts)
        self._move(State.DISCONNECTED)
        return events

    def tick(self, ts: int) -> list[LsEvent]:
        """Timers: open timeout, keepalive timeout (keepalive + margin) and reverse heartbeats."""
        self._ts = ts
        state = self._state
        if state in (State.OPENING, State.BINDING):
            if ts - self._since >= self.open_timeout_ms * _MS:
                return self._dead(f"no CONOK within {self.open_timeout_ms} ms", "ws.timeout", ts)
        elif state is State.ACTIVE:
            if self.keepalive_ms > 0:
                limit = (self.keepalive_ms + self.keepalive_margin_ms) * _MS
                if ts - self._last_recv >= limit:
                    silent_ms = (ts - self._last_recv) // _MS
                    return self._dead(f"no data for {silent_ms} ms", "ws.stalled", ts)
            if self.inactivity_ms and ts - self._last_sent >= self.inactivity_ms * _MS // 2:
                self._send(codec.heartbeat())
                self.counters["heartbeats"] += 1
        return []

    def receive(self, frame: str | bytes, ts: int) -> list[LsEvent]:
        """Every line of a server frame, in order; a bad line is `Malformed`, never raised."""
        self._ts = ts
        self._last_recv = ts
        if isinstance(frame, bytes):
            try:
                frame = frame.decode()
            except UnicodeDecodeError:
                return self._malformed("frame is not UTF-8", ts)
        events: list[LsEvent] = []
        for line in codec.split_lines(frame):
            try:
                events.extend(self._line(line, ts))
            except ParseError as exc:
                events.extend(self._malformed(str(exc), ts))
            except Exception:  # a bug must not kill the connection; logged and counted
                log.exception("lightstreamer line handler failed", extra={"venue": self.venue})
                self.counters["errors"] += 1
                events.extend(self._malformed("internal error", ts))
        return events

    def _malformed(self, reason: str, ts: int) -> list[LsEvent]:
        self.counters["malformed"] += 1
        log.debug("malformed lightstreamer line: %s", reason, extra={"venue": self.venue})
        return [Malformed(venue=self.venue, reason=reason, ts_recv=ts)]

    def _fields_of(self, sub_id: int) -> int:
        """How many fields a U line of `sub_id` may carry (bounds `^<n>` before it expands)."""
        sub = self._subs.get(sub_id)
        return sub.n_fields if sub is not None else codec.MAX_FIELDS

    def _line(self, line: str, ts: int) -> list[LsEvent]:
        msg = codec.parse_line(line, self._fields_of)
        state = self._state
        if state not in _READING or (state is State.REBIND and isinstance(msg, _SESSION_LINES)):
            self.counters["late_lines"] += 1  # after END, a timeout, or a session line past LOOP
            return []
        if isinstance(msg, codec.U):  # the hot path
            sub = self._subs.get(msg.sub_id)
            if sub is None:
                self.counters["unknown_sub"] += 1
                return []
            return sub.on_update(msg, ts)
        match msg:
            case codec.PROBE() | codec.NOOP():
                return []
            case codec.WSOK():
                self._wsok = True
                return []
            case codec.CONOK():
                return self._on_conok(msg, ts)
            case codec.CONERR():
                return self._on_conerr(msg, ts)
            case codec.END():
                log.warning(
                    "lightstreamer END %s: %s", msg.code, msg.message, extra={"venue": self.venue}
                )
                self._end(ts)
                return [SessionEnded(code=msg.code, message=msg.message, ts=ts)]
            case codec.ERROR():
                log.warning(
                    "lightstreamer ERROR %s: %s", msg.code, msg.message, extra={"venue": self.venue}
                )
                self._end(ts)
                return [ServerError(code=msg.code, message=msg.message, ts=ts)]
            case codec.LOOP():
                return self._on_loop(msg, ts)
            case codec.REQOK():
                if msg.req_id is not None:
                    self._reqs.pop(msg.req_id, None)
                return []
            case codec.REQERR():
                return self._on_reqerr(msg, ts)
            case codec.SUBOK() | codec.SUBCMD():
                return self._on_subok(msg, ts)
            case codec.UNSUB():
                return self._on_unsub(msg, ts)
            case codec.EOS() | codec.CS() | codec.OV() | codec.CONF():
                return self._on_item_line(msg, ts)
            case codec.SERVNAME():
                self.server_name = msg.name
            case codec.CLIENTIP():
                self.client_ip = msg.ip
            case codec.CONS():
                self.bandwidth = msg.bandwidth
            case codec.PROG():
                self.prog = msg.prog
            case codec.SYNC() | codec.MSGDONE() | codec.MSGFAIL():
                self.counters[type(msg).__name__.lower()] += 1
        return []

    # -- session lines --------------------------------------------------------------------------

    def _on_conok(self, msg: codec.CONOK, ts: int) -> list[LsEvent]:
        if self._state not in (State.OPENING, State.BINDING):
            raise ParseError("CONOK on an active session")
        if not self._wsok:
            self.counters["conok_before_wsok"] += 1  # 1.0.3 would refuse; we tolerate it
        rebound = self._state is State.BINDING
        if rebound and msg.session_id != self.session_id:
            self.counters["rebind_new_id"] += 1
            rebound = False  # the server gave us another session: treat it as new
            self._lose_session("ws.loop")
        self._move(State.ACTIVE)
        self.session_id = msg.session_id
        self.keepalive_ms = msg.keepalive_ms
        self.request_limit = msg.request_limit
        self.control_link = msg.control_link
        self._bind = False
        self._old_session = None
        self._cause = "api"
        log.info(
            "lightstreamer session %s (keepalive %d ms, rebound %s)",
            msg.session_id,
            msg.keepalive_ms,
            rebound,
            extra={"venue": self.venue},
        )
        for sub_id in self._deletes:
            self._send_delete(sub_id)
        self._deletes.clear()
        for sub in self._subs.values():
            if not sub.sent:
                self._send_add(sub)
        return [
            SessionStarted(
                session_id=msg.session_id,
                keepalive_ms=msg.keepalive_ms,
                control_link=msg.control_link,
                request_limit=msg.request_limit,
                rebound=rebound,
                ts=ts,
            )
        ]

    def _on_conerr(self, msg: codec.CONERR, ts: int) -> list[LsEvent]:
        log.warning(
            "lightstreamer CONERR %s: %s", msg.code, msg.message, extra={"venue": self.venue}
        )
        err = ServerConnError(code=msg.code, message=msg.message, ts=ts)
        if self._state is State.BINDING:  # the session is gone: start a new one
            return [err, *self._dead(f"rebind refused ({msg.code})", "ws.loop", ts)]
        self._end(ts)
        return [err]

    def _on_loop(self, msg: codec.LOOP, ts: int) -> list[LsEvent]:
        if self._state is not State.ACTIVE or self.session_id is None:
            raise ParseError("LOOP before CONOK")
        self._move(State.REBIND)
        self._bind = True  # adds already sent stay with the session: not sent again
        self.reconnect_wanted = True
        self.counters["loops"] += 1
        log.info("lightstreamer LOOP: rebinding", extra={"venue": self.venue})
        return [Rebinding(session_id=self.session_id, delay_ms=msg.delay_ms, ts=ts)]

    # -- subscription lines ---------------------------------------------------------------------

    def _on_reqerr(self, msg: codec.REQERR, ts: int) -> list[LsEvent]:
        op, sub_id = self._reqs.pop(msg.req_id, ("", 0))
        if op == "add":
            sub = self._subs.get(sub_id)
            if sub is not None and sub.req_id == msg.req_id:
                del self._subs[sub_id]
                log.warning(
                    "lightstreamer subscription %d refused (%s): %s",
                    sub_id,
                    msg.code,
                    msg.message,
                    extra={"venue": self.venue},
                )
                return [
                    SubscriptionFailed(sub_id=sub_id, code=msg.code, message=msg.message, ts=ts)
                ]
        elif op == "delete":
            self._deleting.discard(sub_id)
        self.counters["reqerr"] += 1
        log.warning(
            "lightstreamer request %d refused (%s): %s",
            msg.req_id,
            msg.code,
            msg.message,
            extra={"venue": self.venue},
        )
        return []

    def _on_subok(self, msg: codec.SUBOK | codec.SUBCMD, ts: int) -> list[LsEvent]:
        sub = self._subs.get(msg.sub_id)
        if sub is None:
            self.counters["unknown_sub"] += 1
            return []
        if isinstance(msg, codec.SUBCMD):
            sub.on_subscribed(msg.n_items, msg.n_fields, msg.key_pos, msg.cmd_pos)
        else:
            sub.on_subscribed(msg.n_items, msg.n_fields)
        self._reqs.pop(sub.req_id, None)
        return [Subscribed(sub_id=msg.sub_id, n_items=msg.n_items, n_fields=msg.n_fields, ts=ts)]

    def _on_unsub(self, msg: codec.UNSUB, ts: int) -> list[LsEvent]:
        if msg.sub_id in self._deleting:
            self._deleting.discard(msg.sub_id)
        elif self._subs.pop(msg.sub_id, None) is None:
            self.counters["unknown_sub"] += 1
            return []
        return [Unsubscribed(sub_id=msg.sub_id, ts=ts)]

    def _on_item_line(
        self, msg: codec.EOS | codec.CS | codec.OV | codec.CONF, ts: int
    ) -> list[LsEvent]:
        sub = self._subs.get(msg.sub_id)
        if sub is None:
            self.counters["unknown_sub"] += 1
            return []
        match msg:
            case codec.EOS():
                return sub.on_eos(msg.item, ts)
            case codec.CS():
                return sub.on_cs(msg.item, ts)
            case codec.OV():
                return sub.on_ov(msg.item, msg.lost, ts)
            case codec.CONF():
                return [
                    SubscriptionConfigured(
                        sub_id=msg.sub_id,
                        max_frequency=msg.max_frequency,
                        filtered=msg.filtered,
                        ts=ts,
                    )
                ]
        return []

    # -- subscriptions --------------------------------------------------------------------------

    def _req_id(self) -> int:
        self._next_req += 1
        return self._next_req

    def _send_add(self, sub: Subscription) -> None:
        req = self._req_id()
        self._reqs[req] = ("add", sub.sub_id)
        self._send(sub.add_request(req))

    def _send_delete(self, sub_id: int) -> None:
        req = self._req_id()
        self._reqs[req] = ("delete", sub_id)
        self._deleting.add(sub_id)
        self._send(codec.control_delete(req, sub_id))

    def subscribe(
        self,
        items: Sequence[str],
        fields: Sequence[str],
        mode: Mode = "MERGE",
        adapter: str | None = None,
        snapshot: bool | int | None = None,
        *,
        selector: str | None = None,
        max_frequency: float | str | None = None,
        buffer_size: int | str | None = None,
    ) -> int:
        """Add a subscription (sent now if the session is active, else on CONOK); its id.

        `snapshot` None is 1.0.3's default: true, except RAW (none); an int (DISTINCT only)
        asks for that many past events.

        Raises:
            SubscriptionLimit: `max_subscriptions` are live already; nothing is sent.
            ValueError: bad mode, empty or space-containing names, or a bad snapshot.
        """
        if len(self._subs) >= self.max_subscriptions:
            raise SubscriptionLimit(self.max_subscriptions)
        sub = Subscription(
            self._next_sub + 1,
            items,
            fields,
            mode,
            adapter=adapter,
            snapshot=snapshot,
            selector=selector,
            max_frequency=max_frequency,
            buffer_size=buffer_size,
        )
        self._next_sub += 1
        self._subs[sub.sub_id] = sub
        if self._state is State.ACTIVE:
            self._send_add(sub)
        log.info(
            "lightstreamer subscribe %d %s %d items",
            sub.sub_id,
            mode,
            len(sub.items),
            extra={"venue": self.venue},
        )
        return sub.sub_id

    def unsubscribe(self, sub_id: int) -> None:
        """Drop a subscription: its events stop now, the server is told when it knows it."""
        sub = self._subs.pop(sub_id, None)
        if sub is None or not sub.sent:
            return
        if self._state is State.ACTIVE:
            self._send_delete(sub_id)
        elif self._bind or self._state is State.BINDING:  # same session after the rebind
            self._deletes.append(sub_id)

    def destroy(self, ts: int) -> None:
        """Close the session on purpose (`LS_op=destroy`); END or the socket close follows."""
        self._ts = ts
        if self._state is State.ACTIVE:
            self._send(codec.control_destroy(self._req_id()))
            self._closing = True

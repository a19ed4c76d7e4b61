"""One long-lived WebSocket per protocol object: connect, pump frames, watch liveness, reconnect.

The protocol decides everything venue-specific (what to send on connect, how to parse, when to
send the venue's own pings, which REST calls it needs, how its venue proves it is alive: its
`liveness`); this class only moves bytes, owns the timers and the reconnect delays, and hands
the protocol's events to a sink (the cache). The WebSocket library is a choice
(`ws_backend`: `auto`, the default, `picows` or `websockets`; transport/sockets.py); `auto` is
resolved at each connect (picows unless a proxy applies or it does not import), logged at DEBUG
and shown in `status()` (`ws_library`, `ws_library_why`).

Liveness: every data frame and every pong to the WebSocket pings sent here is a proof of life.
A watch task looks every few hundred ms: no proof for the protocol's `silent_s` takes the
connection's `Link` down at once (everything it feeds reads as stale, reason "silent"), drops
the socket and reconnects. It also samples the lag (our receive time minus the venue's event
time, less the clock offset) from the next frame's events; above `lag_s` the link is down
(reason "lagging") until the lag falls back. No exception from protocol code ever ends the
connection task: it is logged, counted, and the connection goes on (or reconnects).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from spinstream._core import Link
from spinstream.errors import SpinstreamError
from spinstream.protocol.events import (
    MARKET_DATA,
    PRIVATE,
    AuthFailed,
    BookUpdated,
    Event,
    Liveness,
    Malformed,
    RestRequest,
    Stale,
    TickerUpdate,
)
from spinstream.protocol.headers import Headers
from spinstream.transport.backoff import backoff
from spinstream.transport.clock import Clock
from spinstream.transport.http import HttpClient
from spinstream.transport.sockets import (
    DEFAULT_BACKEND,
    SocketClosed,
    available,
    describe,
    errors,
    open_socket,
    resolve,
)

__all__ = ["StreamConnection"]

log = logging.getLogger(__name__)

Sink = Callable[[list[Event]], None]
_NS = 1_000_000_000
_SAMPLE_NS = 100_000_000  # lag sampled every 100 ms of frames
_MISSES = 64  # frames in a row without a venue time (Binance spot bookTicker has none) ...
_RETRY_NS = 1_000_000  # ... after which the next frame looked at is 1 ms later, not the next
_YIELD_NS = 20_000_000  # a frame loop busy this long yields once to the other tasks
_NOT_HEALTHY = (Stale, Malformed, AuthFailed)  # events that do not prove a connection healthy


def _venue_ns(events: list[Any]) -> int | None:
    """The venue's event time (ns) of the first market-data event in EVENTS, if it has one.

    Only market data counts (a ticker, a book, IG's ticks): private updates carry the time the
    order or balance changed, which may be long before the frame was sent.
    """
    for ev in events:
        t = type(ev)
        if t is BookUpdated:
            ts: int | None = ev.ts_event
        elif t is TickerUpdate:
            ts = ev.ticker.ts_event
        elif t.__name__ == "TickUpdate":  # IG's PRICE and CHART:TICK (spinstream.protocol.ig)
            ts = ev.ts_event
        else:
            continue
        if ts:
            return ts
    return None


class StreamConnection:
    """Drives one protocol over one WebSocket, reconnecting with backoff until closed."""

    def __init__(
        self,
        name: str,
        base_url: str,
        proto: Any,
        sink: Sink,
        http: HttpClient | None,
        clock: Clock | None = None,
        delays: Callable[..., Iterator[float]] = backoff,
        *,
        open_timeout_s: float = 10.0,
        link: Link | None = None,
        silent_s: float | None = None,
        lag_s: float | None = None,
        ws_backend: str = DEFAULT_BACKEND,
    ) -> None:
        if not available(ws_backend):
            raise ValueError(f"WebSocket backend {ws_backend!r} is unknown or not installed")
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.proto = proto
        self.sink = sink
        self.http = http
        self.clock = clock or Clock()
        self.link = link if link is not None else Link(name)
        self._delays = delays
        self._open_timeout = open_timeout_s
        self._silent_override = silent_s  # per account (config), else the protocol's
        self._lag_override = lag_s
        self.ws_backend = ws_backend  # the account's choice (transport/sockets.py CHOICES)
        self.ws_library: str | None = None  # the library of the last connect, and why
        self.ws_library_why: str | None = None
        self._errors: tuple[type[Exception], ...] = (
            OSError,
            asyncio.TimeoutError,
            SocketClosed,
            *errors(ws_backend),
        )
        self._ws: Any = None
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._pending: set[asyncio.Task[None]] = set()
        self.connects = 0  # successful opens
        self.failures = 0  # failed opens and dropped connections
        self.messages = 0  # frames received
        self.rest_errors = 0
        self.handler_errors = 0  # protocol or cache code that raised (bugs), counted
        self.silences = 0  # connections found silent and dropped
        self.lag_marks = 0  # times the lag went over its threshold
        self.lag_ns = 0  # the last lag sample (receive - venue time - offset), ns
        self.max_lag_ns = 0
        # our clock minus the venue's: from its server time at start (the runtime seeds it where
        # the venue has a time endpoint), lowered to the smallest receive - event time seen
        self.offset_ns: int | None = None
        self.alive_ns = 0  # clock ns of the last proof of life: a frame, or a pong
        self._rx_ns = 0  # clock ns of the last frame (written per frame: one store)
        self._next_sample = 0  # clock ns from which the next frame with a venue time is sampled
        self._misses = 0  # frames looked at in a row that had no venue time
        self._yielded = 0  # clock ns the frame loop last yielded
        self._healthy = False  # this session delivered data (resets the backoff)
        #: the protocol's liveness rule with the account's overrides (fixed for the connection)
        self.liveness: Liveness = self._liveness()
        self._lag_limit_ns = int(self.liveness.lag_s * _NS)

    # ------------------------------------------------------------------ public surface

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def _liveness(self) -> Liveness:
        """The protocol's liveness rule, with the account's overrides."""
        live = getattr(self.proto, "liveness", None)
        if not isinstance(live, Liveness):
            live = PRIVATE if getattr(self.proto, "private", False) else MARKET_DATA
        if self._silent_override is not None or self._lag_override is not None:
            live = msgspec.structs.replace(
                live,
                silent_s=self._silent_override or live.silent_s,
                lag_s=self._lag_override or live.lag_s,
            )
        return live

    def status(self) -> dict[str, Any]:
        """What this connection is doing, for `Workspace.status()` and the demo (no secrets)."""
        alive = max(self.alive_ns, self._rx_ns)
        age = (self.clock.ns() - alive) / _NS if alive else None
        return {
            "name": self.name,
            "connected": self.connected,
            "live": bool(self.link.live),
            "reason": self.link.reason,
            "last_frame_age_s": None if age is None else round(age, 3),
            "lag_s": round(self.lag_ns / _NS, 3),
            "max_lag_s": round(self.max_lag_ns / _NS, 3),
            "clock_offset_s": None if self.offset_ns is None else round(self.offset_ns / _NS, 4),
            "messages": self.messages,
            "connects": self.connects,
            "reconnects": max(0, self.connects - 1),
            "failures": self.failures,
            "silences": self.silences,
            "lag_marks": self.lag_marks,
            "handler_errors": self.handler_errors,
            "rest_errors": self.rest_errors,
            "subscriptions": len(self._call(self.proto.subscriptions, default=set())),
            "ws_library": self.ws_library,  # websockets | picows (None: not connected yet)
            "ws_library_why": self.ws_library_why,  # "configured", or auto's reason
            "problem": getattr(self.proto, "problem", None),
            "counters": dict(getattr(self.proto, "counters", {}) or {}),
        }

    def start(self) -> None:
        """Start the connection task (call on the event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._ws is not None:
            try:
                await self._ws.close()
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
                pass
        for t in list(self._pending):
            t.cancel()

    def poke(self) -> None:
        """The protocol has something queued (a subscribe from ctx): flush it now."""
        self._wake.set()
        if self._ws is not None:
            self._spawn(self._flush())

    # ------------------------------------------------------------------ internals

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _call(self, fn: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        """FN(*ARGS) from the protocol; an exception is a bug: logged, counted, DEFAULT."""
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 - protocol code must never end the connection task
            self.handler_errors += 1
            log.exception("%s: protocol %s failed (error %d)", self.name,
                          getattr(fn, "__name__", fn), self.handler_errors)  # fmt: skip
            return [] if default is None else default

    def _emit(self, events: list[Event]) -> None:
        if events:
            if not self._healthy:
                self._healthy = any(not isinstance(e, _NOT_HEALTHY) for e in events)
            try:
                self.sink(events)
            except Exception:  # noqa: BLE001 - a cache bug must not end the connection
                self.handler_errors += 1
                log.exception("%s: applying events failed", self.name)

    def _drain(self) -> list[str]:
        """Start queued REST requests; return the queued frames (drained from the protocol)."""
        for req in self._call(self.proto.requests):
            self._spawn(self._rest(req))
        out: list[str] = self._call(self.proto.outgoing)
        return out

    async def _flush(self) -> None:
        """Send queued frames and start queued REST requests."""
        out = self._drain()
        ws = self._ws
        if ws is not None:
            for frame in out:
                try:
                    await ws.send(frame)
                except SocketClosed:
                    break  # the receive loop sees the close and reconnects (frames resent then)

    async def _rest(self, req: RestRequest) -> None:
        if self.http is None:
            log.error(
                "%s: protocol asked for REST %r but the connection has no HTTP client",
                self.name,
                req,
            )
            return
        try:
            # the stream's own REST (snapshots, seeds, logins) goes before strategy fallbacks
            resp = await self.http.send(req, priority="stream")
            status, body, headers = resp.status, resp.body, resp.headers
        except SpinstreamError as exc:
            self.rest_errors += 1
            log.warning("%s: REST %s failed: %s", self.name, req.path, exc)
            status, body, headers = 0, b"", Headers()
        ts = self.clock.ns()
        if getattr(self.proto, "rest_headers", False):  # e.g. IG's login tokens
            events = self._call(
                lambda: self.proto.rest_response(req.req_id, status, body, ts, headers=headers)
            )
        else:
            events = self._call(self.proto.rest_response, req.req_id, status, body, ts)
        self._emit(events)
        await self._flush()
        await self._reconnect_if_asked()
        self._wake.set()

    def _target(self) -> str | None:
        """Where to connect: the protocol's own full URL when it learns one at runtime (IG's
        Lightstreamer endpoint comes from its login answer), else base URL + connect_path()."""
        connect_url = getattr(self.proto, "connect_url", None)
        if connect_url is not None:
            return connect_url()  # type: ignore[no-any-return]
        path = self.proto.connect_path()
        return None if path is None else self.base_url + path

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.proto.TICK_S)
            self._emit(self._call(self.proto.tick, self.clock.ns()))
            await self._flush()
            await self._reconnect_if_asked()

    async def _reconnect_if_asked(self) -> None:
        """Close the socket when the protocol wants a new connection (silent stream, new
        listenKey); the run loop then reconnects on the protocol's current connect_path."""
        p = self.proto
        if self._ws is not None and (
            getattr(p, "reconnect_wanted", False) or getattr(p, "needs_reconnect", False)
        ):
            log.warning("%s: protocol asked for a new connection", self.name)
            await self._ws.close()

    async def _run(self) -> None:
        delays = self._new_delays()
        start = getattr(self.proto, "start", None)
        if start is not None:
            self._call(start, self.clock.ns())
        while not self._closed:
            try:
                self._wake.clear()
                await self._flush()
                url = self._call(self._target, default="")
                if url == "":  # the protocol failed to say where: try again after a delay
                    url = None
                    await asyncio.sleep(next(delays))
                    continue
                if url is None:  # e.g. waiting for a listenKey or a login answer
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=self.proto.TICK_S)
                    except asyncio.TimeoutError:
                        self._emit(self._call(self.proto.tick, self.clock.ns()))
                    continue
                self._healthy = False
                await self._session(url)
                if self._closed:
                    break
                if self._healthy:  # the session delivered data: a drop is not a failing venue
                    delays = self._new_delays()
                delay = next(delays)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - nothing may end the connection task
                self.handler_errors += 1
                log.exception("%s: connection loop failed; retrying", self.name)
                delay = next(delays)
            log.info("%s: reconnecting in %.2f s", self.name, delay)
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.sleep(delay)), timeout=delay)
            except asyncio.TimeoutError:
                pass

    def _new_delays(self) -> Iterator[float]:
        try:
            return self._delays(maximum=self.liveness.max_backoff_s)
        except TypeError:  # a delays function without a maximum (tests pass their own)
            return self._delays()

    async def _session(self, url: str) -> None:
        """One connection's life."""
        ticker: asyncio.Task[None] | None = None
        watch: asyncio.Task[None] | None = None
        cause = "disconnected"
        try:
            library, why = resolve(self.ws_backend, url)
            log.debug("%s: WebSocket library %s (%s)", self.name, library, why)
            self.ws_library, self.ws_library_why = library, why
            async with open_socket(
                library,
                url,
                open_timeout=self._open_timeout,
                subprotocols=getattr(self.proto, "subprotocols", None),
                name=self.name,
            ) as ws:
                self._ws = ws
                self.connects += 1
                self.alive_ns = self._rx_ns = self.clock.ns()
                self.link.up(self.alive_ns)
                log.info("%s: connected", self.name)
                self._emit(self._call(self.proto.connected, self.clock.ns()))
                await self._flush()
                loop = asyncio.get_running_loop()
                ticker = loop.create_task(self._ticker())
                watch = loop.create_task(self._watch(ws))
                receive, emit, take = self.proto.receive, self._emit, ws.take
                now = self.clock.ns
                pending = _pending_check(self.proto)  # None: drain after every frame
                while batch := await take():  # every frame already buffered, in one call
                    self.messages += len(batch)
                    for frame in batch:
                        self._rx_ns = ts = now()
                        try:
                            events = receive(frame, ts)
                            if ts >= self._next_sample:  # a few lag samples a second, in the
                                self._lag_sample(events, ts)  # loop (the watch may be starved)
                            if events:  # `_emit`, inline: the sink is read each frame (tests
                                if not self._healthy:  # swap it)
                                    emit(events)
                                else:
                                    self.sink(events)
                        except Exception:  # noqa: BLE001 - a bug must not take the stream down
                            self.handler_errors += 1
                            log.exception("%s: handling a frame failed (error %d)", self.name,
                                          self.handler_errors)  # fmt: skip
                        out = self._drain() if pending is None or pending() else None
                        if out:  # pongs, resubscribes: rare, so one await per frame only then
                            for reply in out:
                                await ws.send(reply)
                            await self._reconnect_if_asked()
                        elif ts - self._yielded > _YIELD_NS:  # buffered frames never suspend
                            self._yielded = ts  # the loop: let pings, REST answers, timers run
                            await asyncio.sleep(0)
        except self._errors as exc:
            self.failures += 1
            log.warning("%s: connection lost or refused: %s", self.name, describe(exc))
        finally:
            for t in (ticker, watch):
                if t is not None:
                    t.cancel()
            was_open = self._ws is not None
            self._ws = None
            if self.link.reason in ("silent", "lagging"):
                cause = str(self.link.reason)
            self.link.down(cause if not self._closed else "closed")
            if was_open:
                events = self._call(self.proto.disconnected, self.clock.ns())
                if not self._closed:  # closing on purpose: nobody reads the cache any more
                    if cause != "disconnected":  # say why: the socket was dropped as silent
                        events = [_because(e, cause) for e in events]
                    self._emit(events)

    # ------------------------------------------------------------------ liveness

    def _lag_sample(self, events: list[Any], ts: int) -> None:
        """One lag sample from a frame's events (asked for by the watch task)."""
        venue = _venue_ns(events)
        if venue is None:  # sampled from the next frame that has one; on a busy stream of
            self._misses += 1  # frames without one, looked for again 1 ms later
            if self._misses >= _MISSES:
                self._misses = 0
                self._next_sample = ts + _RETRY_NS
            return
        self._misses = 0
        self._next_sample = ts + _SAMPLE_NS
        raw = ts - venue
        if self.offset_ns is None or raw < self.offset_ns:
            self.offset_ns = raw  # clock offset + the network's least delay
        lag = raw - self.offset_ns
        self.lag_ns = lag
        if lag > self.max_lag_ns:
            self.max_lag_ns = lag
        limit = self._lag_limit_ns
        if lag > limit and self.link.live:  # a frame this late: what is served is that old
            self.lag_marks += 1
            self.link.down("lagging")
            log.warning("%s: lagging %.2f s behind the venue: stale", self.name, lag / _NS)
        elif lag <= limit and self.link.reason == "lagging":
            self.link.up(ts)
            log.info("%s: caught up (lag %.3f s): fresh again", self.name, lag / _NS)

    async def _ping(self, ws: Any) -> None:
        try:
            waiter = await ws.ping()
            await waiter
            self.alive_ns = max(self.alive_ns, self.clock.ns())
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - the watch decides
            return

    async def _watch(self, ws: Any) -> None:
        """Send pings and find silence while the socket is open."""
        live = self.liveness
        step = min(0.25, live.silent_s / 4)
        silent_ns = int(live.silent_s * _NS)
        ping_ns = int(live.ping_s * _NS) if live.ping_s else 0
        next_ping = self.clock.ns() + ping_ns
        while True:
            await asyncio.sleep(step)
            now = self.clock.ns()
            alive = self.alive_ns = max(self.alive_ns, self._rx_ns)
            self.link.alive_ns = alive
            if ping_ns and now >= next_ping:
                next_ping = now + ping_ns
                self._spawn(self._ping(ws))
            if now - alive > silent_ns:
                self.silences += 1
                self.link.down("silent")
                log.warning("%s: silent for %.1f s: stale, reconnecting", self.name,
                            (now - alive) / _NS)  # fmt: skip
                ws.abort()  # a stalled peer would not answer a close handshake
                return


def _pending_check(proto: Any) -> Callable[[], bool] | None:
    """PROTO's `pending` when it covers all that `outgoing()` and `requests()` may return: it
    is defined by the class that defines them or by a subclass of it (the base `Connection`'s
    covers its own queues, not a venue's `outgoing` override); else None (drain per frame)."""
    mro = type(proto).__mro__
    owner = {n: next((k for k in mro if n in k.__dict__), None)
             for n in ("pending", "outgoing", "requests")}  # fmt: skip
    p = owner["pending"]
    if p is None or owner["outgoing"] is None or owner["requests"] is None:
        return None
    if not (issubclass(p, owner["outgoing"]) and issubclass(p, owner["requests"])):
        return None
    fn: Callable[[], bool] = proto.pending
    return fn


def _because(ev: Any, cause: str) -> Any:
    """EV with CAUSE in front of its reason, when it is a `Stale`."""
    if isinstance(ev, Stale):
        return msgspec.structs.replace(ev, reason=f"{cause} ({ev.reason})")
    return ev

"""One long-lived WebSocket per protocol object: connect, pump frames, tick, reconnect.

The protocol decides everything venue-specific (what to send on connect, how to parse, when to
ping, which REST calls it needs); this class only moves bytes, owns the timers and the
reconnect delays, and hands the protocol's events to a sink (the cache).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import websockets

from spinstream.errors import SpinstreamError
from spinstream.protocol.events import Event, RestRequest
from spinstream.transport.backoff import backoff
from spinstream.transport.clock import Clock
from spinstream.transport.http import HttpClient

__all__ = ["StreamConnection"]

log = logging.getLogger(__name__)

Sink = Callable[[list[Event]], None]


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
        delays: Callable[[], Iterator[float]] = backoff,
        *,
        open_timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.proto = proto
        self.sink = sink
        self.http = http
        self.clock = clock or Clock()
        self._delays = delays
        self._open_timeout = open_timeout_s
        self._ws: Any = None
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._pending: set[asyncio.Task[None]] = set()
        self.connects = 0  # successful opens
        self.failures = 0  # failed opens and dropped connections
        self.messages = 0  # frames received
        self.rest_errors = 0
        self.handler_errors = 0  # frames whose protocol or cache handling raised (bugs)

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def start(self) -> None:
        """Start the connection task (call on the event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._ws is not None:
            await self._ws.close()
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

    def _emit(self, events: list[Event]) -> None:
        if events:
            self.sink(events)

    def _drain(self) -> list[str]:
        """Start queued REST requests; return the queued frames (drained from the protocol)."""
        for req in self.proto.requests():
            self._spawn(self._rest(req))
        return self.proto.outgoing()

    async def _flush(self) -> None:
        """Send queued frames and start queued REST requests."""
        out = self._drain()
        ws = self._ws
        if ws is not None:
            for frame in out:
                try:
                    await ws.send(frame)
                except websockets.ConnectionClosed:
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
            resp = await self.http.send(req)
            status, body, headers = resp.status, resp.body, resp.headers
        except SpinstreamError as exc:
            self.rest_errors += 1
            log.warning("%s: REST %s failed: %s", self.name, req.path, exc)
            status, body, headers = 0, b"", {}
        if getattr(self.proto, "rest_headers", False):  # e.g. IG's login tokens
            events = self.proto.rest_response(
                req.req_id, status, body, self.clock.ns(), headers=headers
            )
        else:
            events = self.proto.rest_response(req.req_id, status, body, self.clock.ns())
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
            self._emit(self.proto.tick(self.clock.ns()))
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
        delays = self._delays()
        start = getattr(self.proto, "start", None)
        if start is not None:
            start(self.clock.ns())
        while not self._closed:
            self._wake.clear()
            await self._flush()
            url = self._target()
            if url is None:  # e.g. waiting for a listenKey or a login answer
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.proto.TICK_S)
                except asyncio.TimeoutError:
                    self._emit(self.proto.tick(self.clock.ns()))
                continue
            lasted = await self._session(url)
            if self._closed:
                break
            if lasted > 30.0:
                delays = self._delays()  # a healthy session resets the backoff
            delay = next(delays)
            log.info("%s: reconnecting in %.2f s", self.name, delay)
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.sleep(delay)), timeout=delay)
            except asyncio.TimeoutError:
                pass

    async def _session(self, url: str) -> float:
        """One connection's life; returns how long it lasted (s)."""
        opened = self.clock.mono_ns()
        ticker: asyncio.Task[None] | None = None
        try:
            async with websockets.connect(
                url,
                open_timeout=self._open_timeout,
                max_size=None,
                subprotocols=getattr(self.proto, "subprotocols", None),
                ping_interval=20,
                ping_timeout=20,
                close_timeout=2,
            ) as ws:
                self._ws = ws
                self.connects += 1
                log.info("%s: connected", self.name)
                self._emit(self.proto.connected(self.clock.ns()))
                await self._flush()
                ticker = asyncio.get_running_loop().create_task(self._ticker())
                receive, clock, emit = self.proto.receive, self.clock, self._emit
                async for frame in ws:
                    self.messages += 1
                    try:
                        emit(receive(frame, clock.ns()))
                    except Exception:  # noqa: BLE001 - a bug must not take the stream down
                        self.handler_errors += 1
                        log.exception("%s: handling a frame failed (error %d)", self.name,
                                      self.handler_errors)  # fmt: skip
                    out = self._drain()
                    if out:  # pongs, resubscribes: rare, so one await per frame only then
                        for reply in out:
                            await ws.send(reply)
                        await self._reconnect_if_asked()
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
            self.failures += 1
            log.warning("%s: connection lost or refused: %r", self.name, exc)
        finally:
            if ticker is not None:
                ticker.cancel()
            was_open = self._ws is not None
            self._ws = None
            if was_open:
                events = self.proto.disconnected(self.clock.ns())
                if not self._closed:  # closing on purpose: nobody reads the cache any more
                    self._emit(events)
        return (self.clock.mono_ns() - opened) / 1e9

"""The WebSocket client behind a `StreamConnection`: a small interface and its backends.

`StreamConnection` needs little of a WebSocket library: open a URL (with subprotocols and a
timeout), iterate the received text / binary messages, send text, send a ping and await its
pong, abort the socket (a stalled peer) or close it (a handshake). `open_socket(backend, ...)`
returns an async context manager doing that over:

- `"picows"` (`PicowsSocket`): picows, a Cython client whose frame parser is C; its callbacks
  queue messages that the same `async for` loop takes without a suspension while any are
  buffered. No compression extension is negotiated.
- `"websockets"` (`WebsocketsSocket`): the `websockets` library (permessage-deflate offered,
  close timeout 2 s, the proxy of HTTPS_PROXY / WSS_PROXY / SOCKS_PROXY from websockets 15).
- `"auto"` (the default): `resolve()` picks per connection: picows when it imports and no
  proxy applies to the URL (picows reads no proxy variable), else websockets.

Both behave the same for what the venues use: a close frame from the server ends the iteration
(normally on 1000/1001/1005, else `SocketClosed` with the code), a TCP reset or a vanished
peer ends it with `SocketClosed`, messages of any size (up to 1 GiB a frame, fragments
joined), TLS verified by Python's default context (so `SSL_CERT_FILE` trusts a private CA or a
TLS proxy with either library), and a send waits while the peer does not read (the write
buffer past its high-water mark), so our sends never buffer without bound. Negotiation is where
they differ, and none of our venues needs it: no extension is required (websockets offers
permessage-deflate, picows nothing: frames uncompressed); a subprotocol (IG's Lightstreamer,
`TLCP-2.x.0.lightstreamer.com`, the only venue with one) is offered by both, and only
websockets checks the server's answer against it.

Errors: the one exception this module raises of its own is `SocketClosed` (connection refused,
closed, or failed); a backend may also let its library's exceptions through (`errors(name)`
lists them) and OSError / TimeoutError. `describe(exc)` words any of them for a log line
without a URL query (a USD-M listenKey) or a refused handshake's headers and body.
"""

from __future__ import annotations

import asyncio
import collections
import importlib.util
import logging
import os
import ssl
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Sequence
from types import TracebackType
from typing import Any, Protocol

import websockets

from spinstream.transport.logs import ws_logger

__all__ = [
    "BACKENDS",
    "CHOICES",
    "DEFAULT_BACKEND",
    "Socket",
    "SocketClosed",
    "WebsocketsSocket",
    "PicowsSocket",
    "available",
    "describe",
    "errors",
    "open_socket",
    "proxy_scheme",
    "resolve",
]

BACKENDS = ("websockets", "picows")  # the libraries
CHOICES = ("auto", *BACKENDS)  # what an account's `ws_backend` may say
DEFAULT_BACKEND = "auto"
CLOSE_TIMEOUT_S = 2.0  # a close handshake the peer does not finish is cut after this
PICOWS_LOGGER_NAME = "spinstream.transport.picows"
_OK_CODES = frozenset((0, 1000, 1001, 1005))  # a normal end (0: picows' "no code in the frame")
_HIGH, _LOW = 1024, 256  # picows: queued messages at which reading pauses, and resumes


class SocketClosed(Exception):
    """The WebSocket was refused, failed or closed abnormally; its text is safe to log."""


class Socket(Protocol):
    """What `StreamConnection` uses of an open WebSocket."""

    def __aiter__(self) -> AsyncIterator[str | bytes]: ...

    async def take(self) -> Sequence[str | bytes]:
        """The messages received and not yet taken (at least one); empty at a normal end."""
        ...

    async def send(self, text: str) -> None: ...

    async def ping(self) -> Awaitable[Any]: ...

    def abort(self) -> None: ...

    async def close(self) -> None: ...


def available(backend: str) -> bool:
    """Whether BACKEND's library is installed ("auto" always is: it falls back to websockets)."""
    if backend in ("websockets", "auto"):
        return True
    return backend == "picows" and importlib.util.find_spec("picows") is not None


_PICOWS_PROBLEM: list[str | None] = []  # cached: [None] imports, [text] why not


def picows_problem() -> str | None:
    """None when picows imports, else why not (imported once, the answer kept)."""
    if not _PICOWS_PROBLEM:
        try:
            import picows  # noqa: F401
        except Exception as exc:  # noqa: BLE001 - absent or broken: either way not usable
            _PICOWS_PROBLEM.append(f"picows does not import ({type(exc).__name__})")
        else:
            _PICOWS_PROBLEM.append(None)
    return _PICOWS_PROBLEM[0]


def proxy_scheme(url: str) -> str | None:
    """Which proxy setting websockets (>= 15) would use for URL, by its `getproxies()` key
    ("wss", "socks", "https"; for ws:// also "ws", "http"), or None when none applies.

    The same rule as `websockets.proxy.get_proxy`: `proxy_bypass` (NO_PROXY) on host:port
    first, then the first set of those keys in that order. ALL_PROXY is honoured by neither
    library, so it does not count. Only the key is returned: a proxy URL may hold a password.
    """
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme in ("wss", "https")
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if secure else 80)
    except ValueError:  # a bad port: the connection will fail either way
        return None
    proxies = urllib.request.getproxies()
    schemes = ("wss", "socks", "https") if secure else ("ws", "socks", "https", "http")
    hit = next((k for k in schemes if proxies.get(k)), None)
    if hit is None:
        return None
    host_port = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if urllib.request.proxy_bypass(host_port):
        return None
    return hit


def resolve(backend: str, url: str) -> tuple[str, str]:
    """The library (`BACKENDS`) a connection to URL uses for the account option BACKEND, and
    why, for the log and the connection's status (never the proxy's or the URL's text).

    "auto": picows, unless it does not import or a proxy applies to URL (websockets honours
    HTTPS_PROXY and the like; picows reads none, so it would go around the proxy).

    Raises:
        ValueError: an unknown backend name.
    """
    if backend in BACKENDS:
        return backend, "configured"
    if backend != "auto":
        raise ValueError(f"unknown WebSocket backend {backend!r} (known: {', '.join(CHOICES)})")
    problem = picows_problem()
    if problem is not None:
        return "websockets", f"auto: {problem}"
    proxy = proxy_scheme(url)
    if proxy is not None:
        return "websockets", f"auto: a {proxy} proxy applies (picows reads no proxy setting)"
    return "picows", "auto: picows imports and no proxy applies"


def errors(backend: str) -> tuple[type[Exception], ...]:
    """The exceptions BACKEND may raise besides `SocketClosed`, OSError and TimeoutError
    ("auto": either library's)."""
    out: tuple[type[Exception], ...] = ()
    if backend in ("websockets", "auto"):
        out += (websockets.WebSocketException,)
    if backend == "picows" or (backend == "auto" and picows_problem() is None):
        import picows

        out += (picows.WSError,)
    return out


def open_socket(
    backend: str,
    url: str,
    *,
    subprotocols: list[str] | None = None,
    open_timeout: float = 10.0,
    name: str | None = None,
) -> WebsocketsSocket | PicowsSocket:
    """A socket to URL over BACKEND (a library, or "auto": `resolve`), opened by `async with`
    (closed on leaving it).

    Raises:
        ValueError: an unknown backend name.
    """
    backend = resolve(backend, url)[0]
    if backend == "websockets":
        return WebsocketsSocket(url, subprotocols, open_timeout, name)
    return PicowsSocket(url, subprotocols, open_timeout, name)


def describe(exc: BaseException) -> str:
    """EXC for a log line without what may carry a credential: a URL's query (USD-M's
    listenKey is in its path), a refused handshake's headers and body."""
    if isinstance(exc, SocketClosed):
        return str(exc)
    status = getattr(getattr(exc, "response", None), "status_code", None)  # websockets
    if status is None and type(exc).__module__.startswith("picows"):
        status = getattr(getattr(exc, "response", None), "status", None)
        if status is None:  # picows words its errors with the URL or the raw response
            return type(exc).__name__
    if status is not None:  # the venue refused the handshake
        return f"{type(exc).__name__}: HTTP {int(status)}"
    if isinstance(exc, websockets.InvalidURI):
        return "InvalidURI"
    if isinstance(exc, websockets.ConnectionClosed):
        rcvd = exc.rcvd
        return f"{type(exc).__name__}: code {rcvd.code if rcvd else 'none (no close frame)'}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


# ---------------------------------------------------------------------- websockets


class WebsocketsSocket:
    """The `websockets` library (asyncio implementation), as the transport always used it."""

    def __init__(
        self, url: str, subprotocols: list[str] | None, open_timeout: float, name: str | None
    ) -> None:
        self._cm = websockets.connect(
            url,
            open_timeout=open_timeout,
            max_size=None,
            subprotocols=subprotocols,  # type: ignore[arg-type]
            ping_interval=None,  # the watch task pings and times out (the protocol's rule)
            ping_timeout=None,
            close_timeout=CLOSE_TIMEOUT_S,
            logger=ws_logger(name),  # no frame payload or credential header in a log
        )
        self._ws: Any = None

    async def __aenter__(self) -> WebsocketsSocket:
        self._ws = await self._cm.__aenter__()
        return self

    async def __aexit__(
        self,
        et: type[BaseException] | None,
        ev: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._cm.__aexit__(et, ev, tb)

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        it: AsyncIterator[str | bytes] = self._ws.__aiter__()  # the library's own: no layer
        return it

    async def take(self) -> tuple[str | bytes, ...]:
        """The next message (websockets hands them over one at a time); () at a normal end."""
        try:
            return (await self._ws.recv(),)
        except websockets.ConnectionClosedOK:
            return ()

    async def send(self, text: str) -> None:
        try:
            await self._ws.send(text)
        except websockets.ConnectionClosed as exc:
            raise SocketClosed(describe(exc)) from None

    async def ping(self) -> Awaitable[Any]:
        try:
            waiter: Awaitable[Any] = await self._ws.ping()
        except websockets.ConnectionClosed as exc:
            raise SocketClosed(describe(exc)) from None
        return waiter

    def abort(self) -> None:
        transport = getattr(self._ws, "transport", None)
        if transport is not None:
            transport.abort()  # a stalled peer would not answer a close handshake

    async def close(self) -> None:
        await self._ws.close()


# ---------------------------------------------------------------------- picows


class _PicowsLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """picows' logger, kept to what carries no secret: its below-DEBUG level logs the upgrade
    request (URL query, headers) and raw data; its redirect line logs the full URLs."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level < logging.DEBUG or not self.isEnabledFor(level):
            return
        if isinstance(msg, str) and "redirect" in msg:
            msg, args = "handshake answered with a redirect (followed)", ()
        msg, kw = self.process(msg, kwargs)
        self.logger.log(level, msg, *args, **kw)

    def isEnabledFor(self, level: int) -> bool:
        return level >= logging.DEBUG and self.logger.isEnabledFor(level)


def _picows_class() -> type:
    """`PicowsSocket`'s base: picows' `WSListener` (imported on first use: an optional extra)."""
    global _LISTENER
    if _LISTENER is None:
        import picows

        class _Listener(picows.WSListener):
            """Queues each received message for the socket's `async for`; answers CLOSE."""

            def __init__(self, sock: PicowsSocket) -> None:
                super().__init__()
                self.sock = sock

            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                s = self.sock
                t = frame.msg_type
                if t is _TEXT and frame.fin and s._parts is None:
                    s._q.append(frame.get_payload_as_utf8_text())
                elif t is _BINARY and frame.fin and s._parts is None:
                    s._q.append(frame.get_payload_as_bytes())
                else:
                    s._control(transport, frame, t)
                    return
                w = s._waiter
                if w is not None:
                    s._waiter = None
                    if not w.done():
                        w.set_result(None)
                if len(s._q) >= _HIGH and not s._paused:
                    s._paused = True
                    transport.underlying_transport.pause_reading()

            def on_ws_disconnected(self, transport: Any) -> None:
                self.sock._disconnected()

            def pause_writing(self) -> None:  # the write buffer went over its high-water mark
                self.sock._writable = False

            def resume_writing(self) -> None:  # ... and back under its low-water mark
                self.sock._wrote()

        _LISTENER = _Listener
        _set_types(picows)
    return _LISTENER


_LISTENER: type | None = None
_TEXT: Any = None
_BINARY: Any = None
_CONT: Any = None
_PONG: Any = None
_CLOSE: Any = None


def _set_types(picows: Any) -> None:
    global _TEXT, _BINARY, _CONT, _PONG, _CLOSE
    m = picows.WSMsgType
    _TEXT, _BINARY, _CONT, _PONG, _CLOSE = m.TEXT, m.BINARY, m.CONTINUATION, m.PONG, m.CLOSE


class PicowsSocket:
    """picows: frames parsed in C, queued by its callback, taken by `async for` in order."""

    def __init__(
        self, url: str, subprotocols: list[str] | None, open_timeout: float, name: str | None
    ) -> None:
        self._url = url
        self._subprotocols = subprotocols
        self._open_timeout = open_timeout
        self._log = _PicowsLog(logging.getLogger(PICOWS_LOGGER_NAME), {"conn": name})
        self._q: collections.deque[str | bytes] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._done = False
        self._parts: list[bytes] | None = None  # a fragmented message being assembled
        self._parts_text = False
        self._pings: collections.deque[tuple[bytes, asyncio.Future[float]]] = collections.deque()
        self._t: Any = None
        self._closed_at: float | None = None
        self._writable = True  # False while the transport's write buffer is over its mark
        self._drain: asyncio.Future[None] | None = None  # a send waiting for it to drain

    # --- opening and closing

    async def __aenter__(self) -> PicowsSocket:
        import picows

        listener = _picows_class()(self)
        headers = {}
        if self._subprotocols:
            headers["Sec-WebSocket-Protocol"] = ", ".join(self._subprotocols)
        ctx = ssl.create_default_context() if self._url.startswith("wss:") else None
        try:
            self._t, _ = await asyncio.wait_for(
                picows.ws_connect(
                    lambda: listener,
                    self._url,
                    ssl_context=ctx,
                    websocket_handshake_timeout=self._open_timeout,
                    logger_name=self._log,
                    enable_auto_ping=False,  # the watch task pings (the protocol's rule)
                    enable_auto_pong=True,
                    max_frame_size=1 << 30,
                    extra_headers=headers or None,
                ),
                self._open_timeout,
            )
        except picows.WSError as exc:
            raise SocketClosed(describe(exc)) from None
        return self

    async def __aexit__(
        self,
        et: type[BaseException] | None,
        ev: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Send CLOSE 1000 and wait up to 2 s for the peer's, then drop the socket."""
        t = self._t
        if t is None or t.is_disconnected:
            return
        if not t.is_close_frame_sent:
            import picows

            t.send_close(picows.WSCloseCode.OK)
        try:
            await asyncio.wait_for(asyncio.shield(t.wait_disconnected()), CLOSE_TIMEOUT_S)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - dropped either way
            t.disconnect(False)

    def abort(self) -> None:
        if self._t is not None:
            self._t.disconnect(False)

    # --- traffic

    def __aiter__(self) -> PicowsSocket:
        return self

    async def __anext__(self) -> str | bytes:
        q = self._q
        while not q:
            if self._done:
                self._end()
            w = self._waiter = asyncio.get_running_loop().create_future()
            await w
        if self._paused and len(q) <= _LOW:
            self._paused = False
            self._t.underlying_transport.resume_reading()
        return q.popleft()

    async def take(self) -> collections.deque[str | bytes] | tuple[()]:
        """Every message buffered (at least one), oldest first, in one call (the frame loop
        iterates them without an await each); () at a normal end, else `SocketClosed`."""
        q = self._q
        while not q:
            if self._done:
                try:
                    self._end()
                except StopAsyncIteration:
                    return ()
            w = self._waiter = asyncio.get_running_loop().create_future()
            await w
            q = self._q
        self._q = collections.deque()  # the callback fills a new one meanwhile
        if self._paused:  # the batch taken: read again (at most two batches held)
            self._paused = False
            self._t.underlying_transport.resume_reading()
        return q

    async def send(self, text: str) -> None:
        """Send TEXT; when the write buffer is over its high-water mark (the peer reads slower
        than we send), wait until it drains (as websockets does): picows itself only queues."""
        t = self._t
        if self._done or t.is_close_frame_sent:
            raise SocketClosed("connection closed: cannot send")
        t.send(_TEXT, text.encode())
        if self._writable:
            return
        while not self._writable and not self._done:
            if self._drain is None or self._drain.done():
                self._drain = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drain)  # one future, many senders: none cancels it
        if self._done:
            raise SocketClosed("connection closed while sending")

    async def ping(self) -> Awaitable[float]:
        """Send a ping; the returned future completes when its pong (or a later one) comes."""
        if self._done:
            raise SocketClosed("connection closed: cannot ping")
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        payload = os.urandom(4)
        self._pings.append((payload, fut))
        self._t.send_ping(payload)
        return fut

    # --- picows callbacks (the listener's)

    def _control(self, transport: Any, frame: Any, t: Any) -> None:
        """Every frame but an unfragmented text or binary one."""
        if t is _PONG:
            data = frame.get_payload_as_bytes()
            if any(p == data for p, _ in self._pings):  # this pong answers it and all before
                loop_time = asyncio.get_running_loop().time()
                while self._pings:
                    p, fut = self._pings.popleft()
                    if not fut.done():
                        fut.set_result(loop_time)
                    if p == data:
                        break
        elif t is _CLOSE:
            if not transport.is_close_frame_sent:  # echo the peer's code, then hang up
                transport.send_close(frame.get_close_code())
            transport.disconnect()
        elif t is _TEXT or t is _BINARY or t is _CONT:
            if t is not _CONT:
                self._parts, self._parts_text = [], t is _TEXT
            if self._parts is None:
                return  # a continuation without a start: picows refuses it before us
            self._parts.append(frame.get_payload_as_bytes())
            if frame.fin:
                data = b"".join(self._parts)
                self._parts = None
                self._q.append(data.decode() if self._parts_text else data)
                w = self._waiter
                if w is not None:
                    self._waiter = None
                    if not w.done():
                        w.set_result(None)

    def _wrote(self) -> None:
        """The write buffer drained under its low-water mark: waiting sends go on."""
        self._writable = True
        d = self._drain
        if d is not None and not d.done():
            d.set_result(None)

    def _disconnected(self) -> None:
        self._done = True
        self._wrote()
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)
        while self._pings:
            _, fut = self._pings.popleft()
            fut.cancel()

    def _end(self) -> None:
        """The iteration's end: normal after a 1000/1001 close both ways, else SocketClosed."""
        hs = getattr(self._t, "close_handshake", None)
        rcvd = getattr(hs, "recv", None)
        sent = getattr(hs, "sent", None)
        if rcvd is not None and sent is not None:
            if int(rcvd.code) in _OK_CODES and int(sent.code) in _OK_CODES:
                raise StopAsyncIteration
        if rcvd is None:
            raise SocketClosed("connection closed: code none (no close frame)")
        raise SocketClosed(f"connection closed: code {int(rcvd.code)}")

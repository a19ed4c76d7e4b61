"""Loggers handed to third-party libraries, redacted so no credential reaches a log at any level.

The websockets library logs, at DEBUG, every frame's payload (its first and last 37
characters) and every handshake header: Bybit's `auth` frame starts with the API key, IG's
`create_session` ends with the X-SECURITY-TOKEN, a Binance WS-API request carries the API
key, and a USD-M user stream's URL holds its listenKey. `ws_logger()` is what the transport
passes as `websockets.connect(logger=...)`: it keeps the library's useful lines (connection
state, keepalive pings, close codes, frame kinds and sizes) and drops what may carry a
secret (data-frame payloads, header values outside a safe list, the query of the request
line). It logs through `spinstream.transport.websockets`, so `-v` still shows the
connection's life.

aiohttp's client (3.x) logs no request line, header or body at any level (only cookie
names, `.netrc` problems and connector close errors), so it needs no adapter; our own
`RestRequest.__repr__` prints no headers, query or body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from websockets.frames import Frame, Opcode

__all__ = ["WS_LOGGER_NAME", "RedactingWsLogger", "redact_ws_args", "ws_logger"]

WS_LOGGER_NAME = "spinstream.transport.websockets"

# Handshake headers whose values carry no credential; any other value is logged as `[redacted]`
# (an `Authorization`, a `Cookie`, a venue's key header, a token echoed back ...).
SAFE_HEADERS = frozenset(
    h.lower()
    for h in (
        "Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Accept",
        "Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
        "User-Agent", "Server", "Date", "Content-Type", "Content-Length",
    )
)  # fmt: skip
_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
REDACTED = "[redacted]"


def _frame(frame: Frame) -> str:
    """A data frame as its kind and size only; control frames (ping, pong, close) as they are."""
    if frame.opcode in _DATA:
        more = "" if frame.fin else ", continued"
        return f"{frame.opcode.name} [{len(frame.data)} bytes{more}]"
    return str(frame)


def redact_ws_args(msg: object, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The arguments of one websockets log call, with whatever may hold a secret replaced."""
    if not args:
        return args
    if msg in ("> GET %s HTTP/1.1", "< GET %s HTTP/1.1") and isinstance(args[0], str):
        path, query, _ = args[0].partition("?")
        return (path + ("?" + REDACTED if query else ""), *args[1:])
    if msg in ("> %s: %s", "< %s: %s") and len(args) == 2:  # a handshake header
        key = str(args[0])
        return args if key.lower() in SAFE_HEADERS else (key, REDACTED)
    return tuple(_frame(a) if isinstance(a, Frame) else a for a in args)


class RedactingWsLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A `LoggerAdapter` that rewrites websockets' log calls through `redact_ws_args`."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        msg, kwargs = self.process(msg, kwargs)
        self.logger.log(level, msg, *redact_ws_args(msg, args), **kwargs)

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra: Mapping[str, object] | None = self.extra
        if extra:
            kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        return msg, kwargs


def ws_logger(name: str | None = None) -> RedactingWsLogger:
    """The logger to pass as `websockets.connect(logger=...)` (NAME is the connection's name)."""
    return RedactingWsLogger(logging.getLogger(WS_LOGGER_NAME), {"conn": name} if name else None)

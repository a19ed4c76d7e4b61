"""The spinstream exception tree.

SpinstreamError
├── ConfigError            bad toml, missing env var
├── UnsupportedError       browser mode on a server-only venue, a verb the venue lacks
├── NotAvailable           WS-only read with nothing cached
├── VenueError             the exchange said no (venue, code, msg)
│   ├── AuthError
│   ├── OrderRejected
│   └── RateLimited        our limiter let a 429 through: a bug
├── TransportError         connect/read timeout, connection lost
├── ProtocolError          the venue broke its protocol
│   ├── ParseError         (also a ValueError: bad decimal text, bad frame)
│   ├── SequenceGap
│   └── ChecksumMismatch
└── InvariantError         a core `_check()` failed: always a bug
"""

from __future__ import annotations

__all__ = [
    "SpinstreamError",
    "ConfigError",
    "UnsupportedError",
    "NotAvailable",
    "VenueError",
    "AuthError",
    "OrderRejected",
    "RateLimited",
    "TransportError",
    "ProtocolError",
    "ParseError",
    "SequenceGap",
    "ChecksumMismatch",
    "InvariantError",
]


class SpinstreamError(Exception):
    """Base of every error spinstream raises on purpose."""


class ConfigError(SpinstreamError):
    """A configuration file, value or environment variable is wrong or missing."""


class UnsupportedError(SpinstreamError):
    """The venue or mode does not support what was asked."""


class NotAvailable(SpinstreamError):
    """A stream-only read found nothing cached."""


class VenueError(SpinstreamError):
    """The exchange rejected a request."""

    def __init__(self, venue: str, code: str | int | None, msg: str) -> None:
        super().__init__(f"{venue}: {msg} (code {code})")
        self.venue = venue
        self.code = code
        self.msg = msg


class AuthError(VenueError):
    """Credentials were refused."""


class OrderRejected(VenueError):
    """An order or cancel was refused."""


class RateLimited(VenueError):
    """A rate limit: the venue answered 429/418 (our own limiter should have prevented it), or
    code "local" when our limiter would make a fail-fast caller wait. `retry_after_s` is the
    wait the venue asked for (Retry-After), when it said."""

    def __init__(
        self, venue: str, code: str | int | None, msg: str, retry_after_s: float | None = None
    ) -> None:
        super().__init__(venue, code, msg)
        self.retry_after_s = retry_after_s


class TransportError(SpinstreamError):
    """A connection failed, timed out or was lost."""


class ProtocolError(SpinstreamError):
    """The venue sent something its protocol does not allow."""


class ParseError(ProtocolError, ValueError):
    """Text that should be a number, frame or field is not."""


class SequenceGap(ProtocolError):
    """A sequence number skipped: updates were missed."""


class ChecksumMismatch(ProtocolError):
    """The book built does not match the venue's checksum."""


class InvariantError(SpinstreamError, AssertionError):
    """A core structure's `_check()` failed; always a bug."""

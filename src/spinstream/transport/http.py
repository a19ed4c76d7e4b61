"""REST over aiohttp, paced by the venue's token buckets so normal use never meets a 429.

The client resolves a `RestRequest`'s `base` key to a URL, waits for the limiter, sends, and
returns status, headers (a case-insensitive `Headers`, as HTTP names them) and body; deciding
what a venue's error body means is the venue's `rest.check_error`, not this module's.

Each request has a priority. `priority="stream"` (a stream connection's snapshots, seeds,
logins, listenKeys) books its budget at once, ahead of every strategy request still waiting,
and may spend the whole bucket. `priority="strategy"` (the default: REST fallbacks, orders)
is admitted only while each bucket keeps its reserve for the stream, and re-checks after each
wait, so stream traffic that arrived meanwhile goes first; with `max_wait_s` it fails fast
with `RateLimited(code="local")` rather than wait past that.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

from spinstream.errors import RateLimited, TransportError
from spinstream.protocol.events import RestRequest
from spinstream.protocol.headers import Headers
from spinstream.protocol.limits import PRIORITIES, STRATEGY, STREAM, Limiter, Priority
from spinstream.transport.clock import Clock

__all__ = ["HttpClient", "HttpResponse"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """One REST answer: its status, its headers (looked up in any case) and its body."""

    status: int
    headers: Headers
    body: bytes


class HttpClient:
    """One venue account's REST client: base URLs, a shared aiohttp session, its limiter."""

    def __init__(
        self,
        venue: str,
        bases: Mapping[str, str],
        limiter: Limiter,
        clock: Clock | None = None,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        self.venue = venue
        self.bases = dict(bases)
        self.limiter = limiter
        self.clock = clock or Clock()
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._blocked_until = 0  # mono ns: the venue asked us to back off (Retry-After)
        self.calls: Counter[str] = Counter()  # per path
        self.rate_limited = 0  # 429/418 answers seen (each one means our limits are wrong)
        # per priority: requests sent, requests that had to wait for budget, fail-fast refusals
        self.sent: Counter[str] = Counter()
        self.waited: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, req: RestRequest) -> str:
        try:
            base = self.bases[req.base]
        except KeyError:
            raise TransportError(f"{self.venue}: no REST base {req.base!r}") from None
        return f"{base.rstrip('/')}{req.path}" + (f"?{req.query}" if req.query else "")

    def _refuse(self, priority: str, wait_ns: int) -> RateLimited:
        self.refused[priority] += 1
        return RateLimited(
            self.venue, "local", f"REST budget spent: next slot in {wait_ns / 1e9:.1f} s"
        )

    async def _book_stream(self, req: RestRequest, max_wait_s: float | None) -> None:
        """Stream lane: book at once (queued only behind earlier stream bookings), then wait."""
        now = self.clock.mono_ns()
        if max_wait_s is not None:  # fail fast: look before booking anything
            ahead = max(self.limiter.wait_ns(req.cost, now, STREAM), self._blocked_until - now)
            if ahead > max_wait_s * 1e9:
                raise self._refuse(STREAM, ahead)
        wait = max(self.limiter.take(req.cost, now), self._blocked_until - now)
        if wait > 0:
            self.waited[STREAM] += 1
            await asyncio.sleep(wait / 1e9)

    async def _admit_strategy(self, req: RestRequest, max_wait_s: float | None) -> None:
        """Strategy lane: book only when every bucket keeps its reserve; else wait and look
        again (stream bookings made meanwhile go first), or fail fast past `max_wait_s`."""
        start = self.clock.mono_ns()
        deadline = None if max_wait_s is None else start + int(max_wait_s * 1e9)
        waited = False
        while True:
            now = self.clock.mono_ns()
            blocked = self._blocked_until - now
            wait = blocked if blocked > 0 else self.limiter.try_take(req.cost, now)
            if wait <= 0:
                return
            if deadline is not None and now + wait > deadline:
                raise self._refuse(STRATEGY, wait)
            if not waited:
                waited = True
                self.waited[STRATEGY] += 1
            await asyncio.sleep(wait / 1e9)

    async def send(
        self,
        req: RestRequest,
        *,
        max_wait_s: float | None = None,
        priority: Priority = STRATEGY,
    ) -> HttpResponse:
        """Send REQ once its budget allows; `max_wait_s` fails fast with RateLimited instead.

        `priority="stream"` is for a stream connection's own REST (resyncs): it goes before any
        waiting strategy request and may use the reserve strategy requests must leave.

        Raises:
            RateLimited: the budget would need a longer wait than `max_wait_s`.
            TransportError: connection failure or timeout.
        """
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {PRIORITIES}, not {priority!r}")
        if priority == STREAM:
            await self._book_stream(req, max_wait_s)
        else:
            await self._admit_strategy(req, max_wait_s)
        self.sent[priority] += 1
        url = self.url(req)
        self.calls[req.path] += 1
        try:
            async with self._session_now().request(  # encoded: the query is signed as built
                req.method, URL(url, encoded=True), data=req.body, headers=req.headers or None
            ) as resp:
                body = await resp.read()
                status, headers = resp.status, Headers(resp.headers.items())
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise TransportError(f"{self.venue}: {req.method} {req.path} failed: {exc!r}") from exc
        if status in (418, 429):
            self.rate_limited += 1
            retry = headers.get("Retry-After")
            delay = float(retry) if retry and retry.replace(".", "", 1).isdigit() else 1.0
            self._blocked_until = self.clock.mono_ns() + int(delay * 1e9)
            log.warning(
                "%s answered %s on %s; backing off %.1f s", self.venue, status, req.path, delay
            )
        return HttpResponse(status, headers, body)

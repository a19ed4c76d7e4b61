"""The per-frame "anything queued?" check: the transport asks `Connection.pending()` after each
frame instead of draining `outgoing()` and `requests()`, only where `pending` covers them; what a
frame queues is still sent (frames) and started (REST) right after that frame, on each backend.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from spinstream.protocol.connection import Connection
from spinstream.protocol.events import MARKET_DATA, RestRequest
from spinstream.transport.stream import StreamConnection, _pending_check


class St(enum.Enum):
    OPEN = 1


class Echo(Connection[St]):
    """Queues a frame after every 5th frame received, and a REST request after the 7th."""

    VENUE = "test"
    TICK_S = 0.05
    MOVES = {St.OPEN: frozenset()}
    endpoint = "public"
    private = False
    liveness = MARKET_DATA

    def __init__(self) -> None:
        super().__init__("m", "live", St.OPEN)
        self.frames = 0

    def connect_path(self) -> str:
        return "/"

    def connected(self, ts: int) -> list[Any]:
        return []

    def receive(self, frame: str | bytes, ts: int) -> list[Any]:
        self.frames += 1
        if self.frames % 5 == 0:
            self._out.append(f"ack {self.frames}")
        if self.frames == 7:
            self._queue(RestRequest(method="GET", base="public", path="/x"))
        return []

    def rest_response(self, req_id: int, status: int, body: bytes, ts: int) -> list[Any]:
        return []

    def disconnected(self, ts: int) -> list[Any]:
        return []

    def tick(self, ts: int) -> list[Any]:
        return []


class OwnOutgoing(Echo):
    def outgoing(self) -> list[str]:  # a venue's override (Binance paces its subscribes)
        return super().outgoing()


class Covered(OwnOutgoing):
    def pending(self) -> bool:  # ... and its own pending, at or below it
        return super().pending()


def test_pending_is_used_only_where_it_covers_the_queues() -> None:
    assert _pending_check(Echo()) is not None
    assert _pending_check(OwnOutgoing()) is None
    assert _pending_check(Covered()) is not None
    assert _pending_check(object()) is None


@pytest.fixture
async def server() -> AsyncIterator[Any]:
    got: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)

        async def feed() -> None:
            for n in range(200):
                await ws.send_str(f"frame {n}")
                if n % 50 == 0:
                    await asyncio.sleep(0.01)

        task = asyncio.ensure_future(feed())
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                got.append(msg.data)
        task.cancel()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"ws://127.0.0.1:{port}", got
    finally:
        await runner.cleanup()


class Http:
    def __init__(self) -> None:
        self.sent: list[RestRequest] = []

    async def send(self, req: RestRequest, priority: str = "") -> Any:
        self.sent.append(req)
        await asyncio.Event().wait()  # never answered: only that it was started counts


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["websockets", "picows"])
async def test_what_a_frame_queues_goes_out_after_it(server, backend) -> None:
    if backend == "picows":
        pytest.importorskip("picows")
    url, got = server
    proto, http = Echo(), Http()
    conn = StreamConnection("t", url, proto, lambda ev: None, http, ws_backend=backend)  # type: ignore[arg-type]
    conn.start()
    try:
        deadline = time.monotonic() + 30
        while len(got) < 40 or not http.sent:
            assert time.monotonic() < deadline, (proto.frames, got, http.sent)
            await asyncio.sleep(0.01)
    finally:
        await conn.close()
    assert got == [f"ack {n}" for n in range(5, 5 * len(got) + 1, 5)]
    assert [r.path for r in http.sent] == ["/x"] and conn.handler_errors == 0


def test_binance_public_pending_covers_its_paced_subscribes() -> None:
    """Binance's public streams pace SUBSCRIBE batches in their own `outgoing`: their `pending`
    says so, so the transport asks it instead of draining every frame, and misses nothing."""
    from spinstream.protocol.binance import BinanceSpotPublic

    p = BinanceSpotPublic()
    assert _pending_check(p) is not None
    assert not p.pending()
    p.subscribe("ticker", "BTCUSDT")
    p.connected(1)
    assert p.pending()  # names waiting for their SUBSCRIBE
    assert any("SUBSCRIBE" in f for f in p.outgoing())
    while p.requests():
        pass
    assert not p.pending()

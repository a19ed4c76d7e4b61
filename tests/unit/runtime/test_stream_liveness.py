"""The transport's connection loop over a real loopback WebSocket server: no exception from
protocol code ends it, a healthy session resets the backoff, silence and lag take its link down.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import websockets
from aiohttp import web

from spinstream.models import Ticker
from spinstream.protocol.events import Liveness, Stale, TickerUpdate
from spinstream.transport.stream import StreamConnection

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=["websockets", "picows"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test over each WebSocket backend (transport/sockets.py)."""
    if request.param == "picows":
        pytest.importorskip("picows")
    return str(request.param)


class Server:
    """A loopback WebSocket server (aiohttp, pings not answered automatically) whose behaviour
    each test sets: "tickers" sends a frame every 10 ms; "close" one frame then closes; "mute"
    writes nothing at all, not even pongs (a stalled peer)."""

    def __init__(self) -> None:
        self.connections = 0
        self.mode = "tickers"
        self.lag_s = 0.0  # venue time this far behind the send time
        self.url = ""

    async def handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.connections += 1
        try:
            if self.mode == "mute":
                await asyncio.sleep(3600)
            n = 0
            while not ws.closed:
                n += 1
                e_ms = int((time.time() - self.lag_s) * 1000)
                await ws.send_str(json.dumps({"n": n, "E": e_ms}))
                if self.mode == "close":
                    await asyncio.sleep(0.05)
                    break
                await asyncio.sleep(0.01)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass
        if not ws.closed:
            await ws.close()
        return ws


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    s = Server()
    app = web.Application()
    app.router.add_get("/", s.handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    s.url = f"ws://127.0.0.1:{port}"
    try:
        yield s
    finally:
        await runner.cleanup()


class Proto:
    """A minimal protocol: a ticker per frame (E = venue time), and hooks that can raise."""

    TICK_S = 0.05
    private = False

    def __init__(self, liveness: Liveness | None = None) -> None:
        if liveness is not None:
            self.liveness = liveness
        self.raise_in_connected = 0
        self.raise_in_tick = 0
        self.raise_in_disconnected = 0
        self.connected_calls = 0
        self.frames = 0

    def connect_path(self) -> str:
        return "/"

    def subscriptions(self) -> set[tuple[str, str | None]]:
        return {("ticker", "X")}

    def connected(self, ts: int) -> list[Any]:
        self.connected_calls += 1
        if self.raise_in_connected:
            self.raise_in_connected -= 1
            raise RuntimeError("listenKey expired between connect_path() and the open")
        return []

    def receive(self, frame: str | bytes, ts: int) -> list[Any]:
        self.frames += 1
        msg = json.loads(frame)
        t = Ticker(
            venue="v", market="m", symbol="X", bid=1.0, bid_size=1.0, ask=2.0, ask_size=1.0,
            ts_event=msg["E"] * 1_000_000,
            last_update=ts, source="ws",
        )  # fmt: skip
        return [TickerUpdate(ticker=t)]

    def rest_response(self, req_id: int, status: int, body: bytes, ts: int) -> list[Any]:
        return []

    def disconnected(self, ts: int) -> list[Any]:
        if self.raise_in_disconnected:
            self.raise_in_disconnected -= 1
            raise RuntimeError("a bug in disconnected()")
        return [Stale(venue="v", market="m", reason="disconnected", ts_recv=ts)]

    def tick(self, ts: int) -> list[Any]:
        if self.raise_in_tick:
            self.raise_in_tick -= 1
            raise RuntimeError("a bug in tick()")
        return []

    def outgoing(self) -> list[str]:
        return []

    def requests(self) -> list[Any]:
        return []


async def until(pred: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


def fast_delays(**kw: Any) -> Any:
    """Backoff 0.01, 0.02, 0.04, ... (recorded: each new generator is a reset)."""
    fast_delays.made += 1  # type: ignore[attr-defined]

    def gen() -> Any:
        d = 0.01
        while True:
            yield d
            d *= 2

    return gen()


fast_delays.made = 0  # type: ignore[attr-defined]


async def test_exceptions_from_protocol_code_never_end_the_connection_task(server, backend) -> None:
    """Defect 4: connected() raising (USD-M's expired listenKey) used to end the task."""
    server.mode = "close"
    proto = Proto()
    proto.raise_in_connected = 2
    proto.raise_in_tick = 3
    proto.raise_in_disconnected = 1
    events: list[Any] = []
    conn = StreamConnection(
        "t", server.url, proto, events.extend, None, delays=fast_delays, ws_backend=backend
    )
    conn.start()
    try:
        await until(lambda: server.connections >= 4 and proto.frames >= 4)
        assert conn._task is not None and not conn._task.done()
        assert conn.handler_errors >= 3  # counted, logged
        assert proto.connected_calls >= 4
    finally:
        await conn.close()


async def test_a_healthy_session_resets_the_backoff(server, backend) -> None:
    """Defect 6: a flapping link (drops after data) reconnects at the first delay each time."""
    server.mode = "close"
    fast_delays.made = 0  # type: ignore[attr-defined]
    proto = Proto()
    conn = StreamConnection(
        "t", server.url, proto, lambda ev: None, None, delays=fast_delays, ws_backend=backend
    )
    conn.start()
    try:
        await until(lambda: server.connections >= 10)
        assert fast_delays.made >= 9  # type: ignore[attr-defined]  # reset after each session
    finally:
        await conn.close()


async def test_a_mute_peer_is_found_silent_within_its_window(server, backend) -> None:
    server.mode = "mute"
    proto = Proto(Liveness(silent_s=0.6, ping_s=0.2))
    conn = StreamConnection(
        "t", server.url, proto, lambda ev: None, None, delays=fast_delays, ws_backend=backend
    )
    conn.start()
    try:
        t0 = time.monotonic()
        await until(lambda: conn.silences >= 1)
        assert time.monotonic() - t0 < 0.6 + 2.0 + 1.0
        assert conn.link.reason == "silent" or conn.connects >= 2
    finally:
        await conn.close()


async def test_pongs_prove_a_quiet_connection_alive(backend) -> None:
    """No data at all, but the peer answers our pings: never silent."""

    async def quiet(ws: Any) -> None:
        await ws.wait_closed()  # writes nothing; websockets answers our pings by itself

    async with websockets.serve(quiet, "127.0.0.1", 0) as srv:  # answers pings (the default)
        port = next(iter(srv.sockets)).getsockname()[1]
        proto = Proto(Liveness(silent_s=0.6, ping_s=0.15))
        conn = StreamConnection(
            "t", f"ws://127.0.0.1:{port}", proto, lambda ev: None, None, ws_backend=backend
        )
        conn.start()
        try:
            await until(lambda: conn.connects >= 1)
            await asyncio.sleep(2.0)
            assert conn.silences == 0 and conn.connects == 1 and conn.link.live
            assert conn.status()["last_frame_age_s"] < 1.0
        finally:
            await conn.close()


async def test_lag_takes_the_link_down_and_back_up(server, backend) -> None:
    proto = Proto(Liveness(silent_s=5.0, ping_s=1.0, lag_s=0.5))
    conn = StreamConnection(
        "t", server.url, proto, lambda ev: None, None, delays=fast_delays, ws_backend=backend
    )
    conn.start()
    try:
        await until(lambda: conn.link.live and proto.frames > 20)
        assert conn.lag_ns < 0.5e9
        server.lag_s = 2.0  # the venue's times now run 2 s behind our receive
        await until(lambda: conn.link.reason == "lagging")
        assert conn.lag_marks == 1 and conn.status()["reason"] == "lagging"
        server.lag_s = 0.0
        await until(lambda: conn.link.live)
        assert conn.status()["lag_s"] < 0.5
    finally:
        await conn.close()


async def test_frames_without_a_venue_time_are_looked_at_less_once_many_come_in_a_row() -> None:
    """A lag sample comes from the first frame due that carries a venue time; a long run of
    frames without one (Binance spot bookTicker has none) is looked at again 1 ms later instead
    of at every frame, and a frame with one is sampled as soon as it is looked at."""
    from spinstream.transport import stream

    conn = StreamConnection("t", "ws://127.0.0.1:1/", Proto(), lambda ev: None, None)
    t = Ticker(
        venue="v", market="m", symbol="X", bid=1.0, bid_size=1.0, ask=2.0, ask_size=1.0,
        last_update=0, source="ws",
    )  # fmt: skip
    timeless = [TickerUpdate(ticker=t)]
    ts = 1_000_000_000_000
    for i in range(stream._MISSES - 1):
        conn._lag_sample(timeless, ts + i)
        assert conn._next_sample == 0  # still looking at every frame
    conn._lag_sample(timeless, ts + 100)
    assert conn._next_sample == ts + 100 + stream._RETRY_NS and conn.offset_ns is None
    timed = [TickerUpdate(ticker=msgspec.structs.replace(t, ts_event=ts - 5_000_000))]
    conn._lag_sample(timed, ts + 200)
    assert conn.offset_ns == 5_000_200 and conn._next_sample == ts + 200 + stream._SAMPLE_NS
    assert conn._misses == 0

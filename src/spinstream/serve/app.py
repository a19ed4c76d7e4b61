"""`spinstream serve`: one process that owns a workspace's runtime and serves the control page.

Routes (JSON unless said):
  GET  /                          the page (static/, shipped in the wheel, no CDN, no build)
  GET  /api/status                workers, venues (connections, freshness, REST), health
  GET  /api/workers               the workers
  POST /api/workers               add {"path", "name"?, "mode"?, "interval"?} (a strategy file)
  POST /api/workers/{name}        change {"mode"?, "interval"?} (a running worker restarts)
  POST /api/workers/{name}/deploy | /stop | /restart     DELETE /api/workers/{name}
  GET  /api/strategies            the strategy files the config allows
  GET  /api/venues                the accounts' part of /api/status
  GET  /api/instruments           subscribed instruments; /api/chart?key=... bars, ticks, book
  GET  /api/live                  WebSocket: the status and the watched instrument, twice a second
  GET  /metrics                   Prometheus text
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from spinstream.serve.security import make_token, security_middleware
from spinstream.serve.state import Charts, Monitor
from spinstream.serve.workers import BadInput, Control
from spinstream.workspace import Workspace

__all__ = ["ServeConfig", "build_app", "serve_forever"]

log = logging.getLogger(__name__)

PUSH_S = 0.5
STATIC = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "chart.js": "text/javascript",
    "style.css": "text/css",
}
K_CONTROL = web.AppKey("control", Control)
K_MONITOR = web.AppKey("monitor", Monitor)
K_CHARTS = web.AppKey("charts", Charts)
K_SOCKETS = web.AppKey("sockets", set[web.WebSocketResponse])


@dataclass
class ServeConfig:
    """What `serve` runs: the workspace, the allowed strategy directories, where it listens."""

    workspace: Workspace
    strategies: list[Path] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8765
    stale_budget_s: float = 5.0
    token: str | None = None  # None: decided from the host and SPINSTREAM_SERVE_TOKEN


def _static(name: str) -> bytes:
    return resources.files("spinstream.serve").joinpath("static").joinpath(name).read_bytes()


def _bad(msg: str, status: int = 400) -> web.Response:
    return web.json_response({"error": msg}, status=status)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadInput("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    unknown = set(body) - {"path", "name", "mode", "interval"}
    if unknown:
        raise BadInput(f"unknown fields: {', '.join(sorted(map(str, unknown)))}")
    return body


def build_app(cfg: ServeConfig) -> web.Application:
    """The aiohttp application (the workspace's runtime starts with it, stops with it)."""
    token = cfg.token if cfg.token is not None else make_token(cfg.host)[0]
    app = web.Application(middlewares=[security_middleware(token)], client_max_size=64 * 1024)
    control = Control(cfg.workspace, cfg.strategies)
    monitor = Monitor(cfg.workspace, control, cfg.stale_budget_s)
    app[K_CONTROL] = control
    app[K_MONITOR] = monitor
    sockets: set[web.WebSocketResponse] = set()
    app[K_SOCKETS] = sockets

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=_static("index.html"), content_type="text/html")

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        return web.Response(
            body=_static(name), content_type=STATIC[name], headers={"Cache-Control": "no-cache"}
        )

    async def status(request: web.Request) -> web.Response:
        return web.json_response(monitor.snapshot or monitor.refresh())

    async def venues(request: web.Request) -> web.Response:
        snap = monitor.snapshot or monitor.refresh()
        return web.json_response({"accounts": snap["accounts"], "health": snap["health"]})

    async def workers(request: web.Request) -> web.Response:
        return web.json_response({"workers": control.views()})

    async def strategies(request: web.Request) -> web.Response:
        files = await asyncio.to_thread(control.strategies)
        return web.json_response({"allowed": [str(d) for d in control.allowed], "files": files})

    def one(name: str) -> dict[str, Any]:
        return next(w for w in control.views() if w["name"] == name)

    async def act(request: web.Request, fn: Any, *args: Any, status: int = 200) -> web.Response:
        try:
            slot = await asyncio.to_thread(fn, *args)
        except BadInput as exc:
            return _bad(str(exc))
        except KeyError as exc:
            return _bad(f"no worker {exc.args[0]!r}", 404)
        monitor.refresh()
        if slot is None:
            return web.json_response({"ok": True})
        return web.json_response(one(slot.name), status=status)

    async def add(request: web.Request) -> web.Response:
        try:
            b = await _json_body(request)
        except BadInput as exc:
            return _bad(str(exc))
        return await act(
            request, control.add, b.get("path"), b.get("name"), b.get("mode", "server"),
            b.get("interval", 1.0), status=201,
        )  # fmt: skip

    async def update(request: web.Request) -> web.Response:
        try:
            b = await _json_body(request)
        except BadInput as exc:
            return _bad(str(exc))
        if set(b) - {"mode", "interval"}:
            return _bad("only mode and interval can change (add a new worker for another file)")
        name = request.match_info["name"]
        return await act(request, control.update, name, b.get("mode"), b.get("interval"))

    def action(fn_name: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return await act(request, getattr(control, fn_name), request.match_info["name"])

        return handler

    async def remove(request: web.Request) -> web.Response:
        return await act(request, control.remove, request.match_info["name"])

    async def instruments(request: web.Request) -> web.Response:
        return web.json_response({"instruments": app[K_CHARTS].instruments()})

    async def chart(request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        v = app[K_CHARTS].view(key)
        if v is None:
            return _bad(f"no subscribed instrument {key!r} (see /api/instruments)", 404)
        return web.json_response(v)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=monitor.metrics(), content_type="text/plain")

    async def live(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
        await ws.prepare(request)
        sockets.add(ws)
        watch: list[str | None] = [None]

        async def push() -> None:
            while not ws.closed:
                snap = monitor.snapshot or monitor.refresh()
                keys = [i["key"] for i in snap["instruments"]]
                if watch[0] not in keys and keys:
                    watch[0] = keys[0]
                view = app[K_CHARTS].view(watch[0]) if watch[0] else None
                await ws.send_str(json.dumps({"type": "status", **snap, "view": view}))
                await asyncio.sleep(PUSH_S)

        task = asyncio.create_task(push())
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    m = json.loads(msg.data)
                    if isinstance(m, dict) and isinstance(m.get("watch"), str):
                        watch[0] = m["watch"][:300]
                except json.JSONDecodeError:
                    await ws.send_str(json.dumps({"type": "error", "error": "send JSON"}))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            sockets.discard(ws)
        return ws

    async def ticker(app_: web.Application) -> AsyncIterator[None]:
        rt = cfg.workspace.runtime  # the runtime starts with the app (no connection yet)
        charts = Charts(rt)
        charts.start()
        app_[K_CHARTS] = charts
        monitor.charts = charts

        async def refresh() -> None:
            while True:
                try:
                    monitor.refresh()
                except Exception:  # noqa: BLE001 - the page shows the last good one
                    log.exception("serve: status refresh failed")
                await asyncio.sleep(PUSH_S)

        task = asyncio.create_task(refresh())
        yield
        task.cancel()
        for sock in list(sockets):
            await sock.close()
        charts.stop()
        await asyncio.to_thread(control.close)
        await asyncio.to_thread(cfg.workspace.close)

    app.cleanup_ctx.append(ticker)
    r = app.router
    r.add_get("/", page)
    r.add_get("/static/{name}", static)
    r.add_get("/api/status", status)
    r.add_get("/api/venues", venues)
    r.add_get("/api/workers", workers)
    r.add_post("/api/workers", add)
    r.add_post("/api/workers/{name}", update)
    r.add_delete("/api/workers/{name}", remove)
    for a in ("deploy", "stop", "restart"):
        r.add_post(f"/api/workers/{{name}}/{a}", action(a))
    r.add_get("/api/strategies", strategies)
    r.add_get("/api/instruments", instruments)
    r.add_get("/api/chart", chart)
    r.add_get("/api/live", live)
    r.add_get("/metrics", metrics)
    return app


async def serve_forever(
    cfg: ServeConfig,
    ready: Any = None,
    stop: asyncio.Event | None = None,
    autostart: Sequence[tuple[str, str, str, float]] = (),
) -> None:
    """Run the app until STOP is set (or forever); READY(url, token) is called once listening.
    AUTOSTART: (strategy path, name, mode, interval) workers added and deployed at start."""
    token, generated = (cfg.token, False) if cfg.token is not None else make_token(cfg.host)
    cfg.token = token
    app = build_app(cfg)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, cfg.host, cfg.port)
    await site.start()
    port = cfg.port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        port = server.sockets[0].getsockname()[1]
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    url = f"http://{host}:{port}/"
    control = app[K_CONTROL]
    for path, name, mode, interval in autostart:
        await asyncio.to_thread(control.add, path, name, mode, interval)
        await asyncio.to_thread(control.deploy, name)
    if ready is not None:
        ready(url, token if generated else None)
    else:
        shown = f"{url}?token={token}" if generated else url
        sys.stdout.write(f"spinstream serve: {shown}\n")
        if token is not None and not generated:
            sys.stdout.write("spinstream serve: token from SPINSTREAM_SERVE_TOKEN required\n")
        sys.stdout.flush()
    try:
        if stop is None:
            await asyncio.Event().wait()
        else:
            await stop.wait()
    finally:
        await runner.cleanup()

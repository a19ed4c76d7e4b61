"""`spinstream serve`: the worker control page and its JSON API over one workspace's runtime.

One module per concern: `app` (routes, the live WebSocket, startup), `workers` (strategy files,
deploy / stop / restart), `state` (status snapshot, health, charts, metrics), `security`
(token, Host check), `run` (the command: config, allowed strategy directories), `demo`
(`spinstream demo --serve`). The page itself is `static/` (plain HTML, JS and CSS).
"""

from __future__ import annotations

from spinstream.serve.app import ServeConfig, build_app, serve_forever

__all__ = ["ServeConfig", "build_app", "serve_forever"]

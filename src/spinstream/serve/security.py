"""Who may talk to `spinstream serve`: loopback binds need no token; any other bind (or
SPINSTREAM_SERVE_TOKEN set) requires the token on every request and on the live channel.

The token is accepted as `Authorization: Bearer T`, as `?token=T` (the first page load and
scripts; the page then gets an HttpOnly, SameSite=Strict cookie so its own requests and
WebSocket carry it), and compared in constant time. Without a token (loopback), a request whose
Host header is not a loopback name is refused (a DNS-rebinding page cannot drive the workers).
Requests that change state must be JSON (`Content-Type: application/json`), which a cross-site
form cannot send without a CORS preflight this server never grants; a request with an `Origin`
other than the server's own (another site's page, its WebSocket) is refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web

if TYPE_CHECKING:
    from aiohttp.typedefs import Middleware

__all__ = ["COOKIE", "TOKEN_ENV", "is_loopback", "make_token", "security_middleware"]

TOKEN_ENV = "SPINSTREAM_SERVE_TOKEN"
COOKIE = "spinstream_token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_token(host: str) -> tuple[str | None, bool]:
    """(the token to require or None, whether it was generated here and must be shown)."""
    env = os.environ.get(TOKEN_ENV)
    if env:
        return env, False
    if is_loopback(host):
        return None, False
    return secrets.token_urlsafe(24), True


def _host_name(header: str) -> str:
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def security_middleware(token: str | None) -> Middleware:
    """The aiohttp middleware enforcing the rules above."""
    want = None if token is None else token.encode()

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        set_cookie = False
        if want is None:
            if not is_loopback(_host_name(request.host or "")):
                return web.json_response(
                    {"error": "bound to loopback: use http://127.0.0.1 (Host header refused)"},
                    status=403,
                )
        else:
            auth = request.headers.get("Authorization", "")
            given = auth[7:] if auth.startswith("Bearer ") else None
            q = request.query.get("token")
            if given is None and q is not None:
                given, set_cookie = q, True
            if given is None:
                given = request.cookies.get(COOKIE)
            if given is None or not hmac.compare_digest(given.encode(), want):
                return web.json_response(
                    {"error": "token required: pass ?token=..., a Bearer header, or the cookie"},
                    status=401,
                )
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            # another site's page (a WebSocket is not held back by CORS): refused
            return web.json_response({"error": f"cross-origin request from {origin}"}, status=403)
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            if request.content_type != "application/json":
                return web.json_response(
                    {"error": "send JSON (Content-Type: application/json)"}, status=415
                )
        resp = await handler(request)
        if set_cookie and token is not None and not resp.prepared:
            resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        return resp

    return check

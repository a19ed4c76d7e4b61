"""REST answers keep their headers case-insensitive from the socket to the venue code (issue 14).

The transport used to turn aiohttp's case-insensitive headers into a plain dict, so the IG login
and Binance's Retry-After each wrote their own lookup. Here a server on 127.0.0.1 writes the
names in lower case, as a proxy may, and the venue code reads them with a plain `.get`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from spinstream.credentials import Credentials
from spinstream.errors import RateLimited
from spinstream.protocol.binance import rest as binance_rest
from spinstream.protocol.events import RestRequest
from spinstream.protocol.headers import Headers
from spinstream.protocol.ig import rest as ig_rest
from spinstream.protocol.limits import Limiter
from spinstream.transport.http import HttpClient

CST = "cst-token-0123456789abcdef0123456789abcdef"
XST = "xst-token-fedcba9876543210fedcba9876543210"
SESSION = {
    "accountType": "CFD",
    "currencyIsoCode": "GBP",
    "currentAccountId": "XQ123",
    "lightstreamerEndpoint": "https://demo-apd.marketdatasystems.com",
    "accounts": [{"accountId": "XQ123", "accountName": "CFD", "accountType": "CFD"}],
    "clientId": "100112233",
}


def test_headers_ignore_case_and_keep_the_names_as_sent() -> None:
    h = Headers([("cst", "tok1"), ("Retry-After", "3"), ("CST", "tok2")])
    assert h["CST"] == h.get("Cst") == "tok1"  # the first of a repeated name, as aiohttp's get
    assert "retry-after" in h and h.get("RETRY-AFTER") == "3" and 3 not in h
    assert list(h) == ["cst", "Retry-After"] and len(h) == 2
    assert dict(Headers({"X-A": "1"})) == {"X-A": "1"} and Headers().get("x") is None
    with pytest.raises(KeyError):
        h[3]  # type: ignore[index]
    assert repr(h) == "Headers(['cst', 'Retry-After'])"  # names only: values may be tokens


async def _app(request: web.Request) -> web.Response:
    if request.path == "/session":
        # lower-case names, as a proxy or HTTP/2 gateway writes them
        return web.Response(
            body=json.dumps(SESSION).encode(), headers={"cst": CST, "x-security-token": XST}
        )
    body = b'{"code":-1003,"msg":"Too many requests."}'
    return web.Response(status=429, body=body, headers={"retry-after": "3"})


@pytest.fixture
async def base() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_ig_login_reads_lower_case_token_headers(base: str) -> None:
    client = HttpClient("ig", {"otc": base}, Limiter({}))
    try:
        resp = await client.send(RestRequest(method="POST", base="otc", path="/session"))
    finally:
        await client.close()
    assert isinstance(resp.headers, Headers) and resp.headers["CST"] == CST
    session = ig_rest.new_session(Credentials.of("key", "password"), "user")
    session.on_login(resp.headers, resp.body)  # was a hand-written lookup in ig/auth.py
    assert session.logged_in and session.account_id == "XQ123"
    assert CST not in repr(resp) and XST not in repr(resp)  # the tokens stay out of a repr


async def test_binance_reads_a_lower_case_retry_after(base: str) -> None:
    client = HttpClient("binance", {"spot": base}, Limiter({}))
    try:
        resp = await client.send(RestRequest(method="GET", base="spot", path="/api/v3/ping"))
    finally:
        await client.close()
    assert resp.status == 429 and client.rate_limited == 1
    with pytest.raises(RateLimited) as info:
        binance_rest.check_error(resp.status, resp.headers, resp.body)
    assert info.value.retry_after_s == 3.0  # type: ignore[attr-defined]

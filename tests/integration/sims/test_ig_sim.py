"""The IG simulator over real loopback sockets: REST (aiohttp) and TLCP-2.4.0 (websockets).

Every client here is a real one talking to `sim("ig")` on 127.0.0.1; nothing is mocked.
The TLCP client below is written from the protocol notes, independently of the simulator's
encoder: it splits frames on CRLF and decodes `U` lines itself (empty = unchanged, `^n` =
n unchanged, `#` null, `$` empty, percent-decoding). Tests that compare stream state drive
the price process by hand (`tick_interval=None`, `ex.tick()`).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import aiohttp
import pytest
import websockets

from spinstream.testing.sims import VENUES, sim
from spinstream.testing.sims.ig import IgSim

LIVE = "https://api.ig.com"
DEMO = "https://demo-api.ig.com"
EURUSD = "CS.D.EURUSD.CFD.IP"
FTSE = "IX.D.FTSE.DAILY.IP"
BTC = "CS.D.BITCOIN.CFD.IP"
TLCP24 = "TLCP-2.4.0.lightstreamer.com"
TLCP25 = "TLCP-2.5.0.lightstreamer.com"
TRADE_SCHEMA = "CONFIRMS OPU WOU"
ACCOUNT_SCHEMA = "PNL DEPOSIT AVAILABLE_CASH FUNDS MARGIN EQUITY AVAILABLE_TO_DEAL"
DATA_NOTIFICATIONS = (
    "U,",
    "SUBOK,",
    "SUBCMD,",
    "UNSUB,",
    "EOS,",
    "CS,",
    "OV,",
    "CONF,",
    "MSGDONE,",
    "MSGFAIL,",
)


def _make(tick_interval: float | None, **kw: Any) -> IgSim:
    s = sim("ig", seed=5, tick_interval=tick_interval, **kw)
    assert isinstance(s, IgSim)
    return s


@pytest.fixture
async def ex() -> AsyncIterator[IgSim]:
    async with _make(0.02) as s:
        yield s


@pytest.fixture
async def manual() -> AsyncIterator[IgSim]:
    """A sim whose price process only moves on `ex.tick()`."""
    async with _make(None) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


# -- REST helpers -------------------------------------------------------------------------------


class Rest:
    """A minimal IG REST client: api key, VERSION, and the session's tokens on every call."""

    def __init__(self, http: aiohttp.ClientSession, ex: IgSim, base: str = LIVE) -> None:
        self.http = http
        self.ex = ex
        self.base = ex.urls[base] + "/gateway/deal"
        self.headers: dict[str, str] = {"X-IG-API-KEY": ex.credentials["api_key"]}

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        version: int = 1,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, Any]:
        h = {**self.headers, "VERSION": str(version), **(headers or {})}
        data = None if body is None else json.dumps(body)
        if data is not None:
            h["Content-Type"] = "application/json"
        async with self.http.request(
            method, self.base + path, data=data, headers=h, params=params
        ) as r:
            text = await r.text()
            return r.status, (json.loads(text) if text else None), r.headers

    async def login(self, version: int = 2) -> dict[str, Any]:
        c = self.ex.credentials
        st, body, hdr = await self.call(
            "POST",
            "/session",
            {"identifier": c["identifier"], "password": c["password"]},
            version=version,
        )
        assert st == 200, body
        if version < 3:
            self.headers["CST"] = hdr["CST"]
            self.headers["X-SECURITY-TOKEN"] = hdr["X-SECURITY-TOKEN"]
        else:
            tok = body["oauthToken"]
            self.headers["Authorization"] = f"{tok['token_type']} {tok['access_token']}"
            self.headers["IG-ACCOUNT-ID"] = body["accountId"]
        assert isinstance(body, dict)
        return body

    @property
    def ls_password(self) -> str:
        return f"CST-{self.headers['CST']}|XST-{self.headers['X-SECURITY-TOKEN']}"

    async def deal(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /positions/otc (v2) then GET /confirms: the confirm."""
        st, out, _ = await self.call("POST", "/positions/otc", body, version=2)
        assert st == 200 and set(out) == {"dealReference"}, out
        st, conf, _ = await self.call("GET", f"/confirms/{out['dealReference']}")
        assert st == 200
        assert isinstance(conf, dict)
        return conf


def market(direction: str, size: float | str, epic: str = EURUSD, **kw: Any) -> dict[str, Any]:
    return {
        "epic": epic,
        "expiry": "-",
        "direction": direction,
        "size": size,
        "orderType": "MARKET",
        "currencyCode": "USD",
        "forceOpen": kw.pop("forceOpen", False),
        "guaranteedStop": False,
        **kw,
    }


# -- a raw TLCP client ---------------------------------------------------------------------------


def decode_update(
    line: str, prev: list[str | None] | None
) -> tuple[int, int, list[str | None], set[int]]:
    """(subId, item, values, indexes sent explicitly) of a `U` line, applying the unchanged
    markers to `prev`."""
    _, sub, item, rest = line.split(",", 3)
    out: list[str | None] = []
    sent: set[int] = set()
    for tok in rest.split("|"):
        if tok == "":
            assert prev is not None, "unchanged field on a first update"
            out.append(prev[len(out)])
        elif tok.startswith("^") and tok[1:].isdigit():
            assert prev is not None
            for _ in range(int(tok[1:])):
                out.append(prev[len(out)])
        else:
            sent.add(len(out))
            out.append(None if tok == "#" else "" if tok == "$" else unquote(tok))
    return int(sub), int(item), out, sent


def enc(params: dict[str, str]) -> str:
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


class Tlcp:
    """A TLCP-2.4.0 client over `websockets`, keeping decoded item state per (sub, item)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.lines: deque[str] = deque()
        self.raw: list[str] = []
        self.values: dict[tuple[int, int], list[str | None]] = {}
        self.sent: dict[tuple[int, int], set[int]] = {}
        self.fields: dict[int, list[str]] = {}
        self.req = 0
        self.session_id = ""
        self.prog = 0  # data notifications received (the TLCP progressive)

    @classmethod
    async def open(cls, ex: IgSim, protocols: tuple[str, ...] = (TLCP24,)) -> Tlcp:
        ws = await websockets.connect(
            ex.base_ws + "/lightstreamer",
            subprotocols=list(protocols),
            open_timeout=5,
            max_queue=None,  # never pause reading: close() must see the server's close frame
        )
        return cls(ws)

    async def close(self) -> None:
        await self.ws.close()

    async def send(self, verb: str, params: dict[str, str] | None = None) -> None:
        await self.ws.send(verb if params is None else f"{verb}\r\n{enc(params)}")

    async def line(self, timeout: float = 5.0) -> str:
        while not self.lines:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            assert isinstance(frame, str)
            self.lines.extend(x for x in frame.split("\r\n") if x)
        ln = self.lines.popleft()
        self.raw.append(ln)
        if ln.startswith(DATA_NOTIFICATIONS):
            self.prog += 1
        if ln.startswith("U,"):
            _, sub, item, _rest = ln.split(",", 3)
            key = (int(sub), int(item))
            _, _, vals, sent = decode_update(ln, self.values.get(key))
            assert len(vals) == len(self.fields[key[0]]), ln
            self.values[key] = vals
            self.sent[key] = sent
        return ln

    async def until(self, pred: Callable[[str], bool], timeout: float = 5.0) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            ln = await self.line(max(0.01, deadline - loop.time()))
            if pred(ln):
                return ln

    def get(self, sub: int, item: int = 1) -> dict[str, str | None]:
        return dict(zip(self.fields[sub], self.values[(sub, item)], strict=True))

    async def create(self, password: str, **extra: str) -> str:
        await self.send("wsok")
        assert await self.line() == "WSOK"
        await self.send(
            "create_session",
            {"LS_cid": "test", "LS_send_sync": "false", **extra, "LS_password": password},
        )
        ln = await self.line()
        if ln.startswith("CONOK,"):
            self.session_id = ln.split(",")[1]
        return ln

    async def subscribe(
        self,
        sub: int,
        mode: str,
        items: list[str],
        fields: list[str],
        *,
        adapter: str | None = None,
        snapshot: str = "true",
        ack: bool = False,
    ) -> None:
        self.req += 1
        self.fields[sub] = fields
        p = {
            "LS_reqId": str(self.req),
            "LS_op": "add",
            "LS_subId": str(sub),
            "LS_mode": mode,
            "LS_group": " ".join(items),
            "LS_schema": " ".join(fields),
        }
        if adapter:
            p["LS_data_adapter"] = adapter
        p["LS_snapshot"] = snapshot
        p["LS_ack"] = "true" if ack else "false"
        await self.send("control", p)


async def ls_session(ex: IgSim, rest: Rest, **extra: str) -> Tlcp:
    c = await Tlcp.open(ex)
    ln = await c.create(rest.ls_password, **extra)
    assert ln.startswith("CONOK,"), ln
    return c


# -- registry and shape ---------------------------------------------------------------------


def test_registered_and_shaped() -> None:
    assert VENUES["ig"] == "spinstream.testing.sims.ig:IgSim"
    ex = _make(None, identifier="me", password="pw", api_key="k" * 40)
    assert ex.credentials == {
        "identifier": "me",
        "password": "pw",
        "api_key": "k" * 40,
        "account_id": "XQ1AB",
    }
    assert "pw" not in repr(ex) and "k" * 40 not in repr(ex)


async def test_urls_map_live_and_demo(ex: IgSim) -> None:
    assert ex.urls[LIVE] == ex.base_http == ex.urls[DEMO]
    assert ex.make_url(LIVE + "/gateway/deal/session") == ex.base_http + "/gateway/deal/session"


# -- sessions -------------------------------------------------------------------------------


async def test_login_v2_on_live_and_demo(ex: IgSim, http: aiohttp.ClientSession) -> None:
    for base in (LIVE, DEMO):
        rest = Rest(http, ex, base)
        body = await rest.login(2)
        assert body["currentAccountId"] == "XQ1AB" and "accountId" not in body
        assert body["lightstreamerEndpoint"] == ex.base_http
        assert body["clientId"] and body["currencyIsoCode"] == "GBP"
        assert {a["accountId"] for a in body["accounts"]} == {"XQ1AB", "XQ1AC"}
        assert body["accountInfo"] == {
            "balance": 100000.0,
            "deposit": 0.0,
            "profitLoss": 0.0,
            "available": 100000.0,
        }
        st, sess, _ = await rest.call("GET", "/session")
        assert st == 200 and sess["accountId"] == "XQ1AB"
        assert sess["lightstreamerEndpoint"] == ex.base_http
        st, accts, _ = await rest.call("GET", "/accounts")
        assert st == 200 and [a["accountType"] for a in accts["accounts"]] == ["CFD", "SPREADBET"]
        assert accts["accounts"][0]["balance"]["available"] == 100000.0


async def test_login_errors(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    c = ex.credentials
    creds = {"identifier": c["identifier"], "password": c["password"]}
    st, body, _ = await rest.call("POST", "/session", {**creds, "password": "nope"}, version=2)
    assert (st, body) == (401, {"errorCode": "error.security.invalid-details"})
    st, body, _ = await rest.call(
        "POST", "/session", creds, version=2, headers={"X-IG-API-KEY": "0" * 40}
    )
    assert (st, body) == (403, {"errorCode": "error.security.api-key-invalid"})
    rest.headers.pop("X-IG-API-KEY")
    st, body, _ = await rest.call("POST", "/session", creds, version=2)
    assert (st, body) == (403, {"errorCode": "error.security.api-key-missing"})
    rest = Rest(http, ex)
    ex.faults.reject_auth(1)
    st, body, _ = await rest.call("POST", "/session", creds, version=2)
    assert (st, body) == (401, {"errorCode": "error.security.invalid-details"})
    await rest.login(2)  # the fault is spent
    st, body, _ = await Rest(http, ex).call("GET", "/accounts")
    assert (st, body) == (401, {"errorCode": "error.security.client-token-missing"})


async def test_login_v3_oauth_and_session_tokens(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    body = await rest.login(3)
    assert set(body) == {
        "clientId",
        "accountId",
        "timezoneOffset",
        "lightstreamerEndpoint",
        "oauthToken",
    }
    tok = body["oauthToken"]
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == "60" and tok["refresh_token"]
    st, accts, _ = await rest.call("GET", "/accounts")
    assert st == 200 and len(accts["accounts"]) == 2
    # streaming needs CST/XST: v3 clients fetch them
    st, sess, hdr = await rest.call("GET", "/session", params={"fetchSessionTokens": "true"})
    assert st == 200 and hdr["CST"] and hdr["X-SECURITY-TOKEN"]
    cst_rest = Rest(http, ex)
    cst_rest.headers.update(CST=hdr["CST"], **{"X-SECURITY-TOKEN": hdr["X-SECURITY-TOKEN"]})
    st, _, _ = await cst_rest.call("GET", "/positions", version=2)
    assert st == 200
    # refresh
    st, new, _ = await rest.call(
        "POST", "/session/refresh-token", {"refresh_token": tok["refresh_token"]}
    )
    assert st == 200 and new["access_token"] != tok["access_token"]
    st, body, _ = await rest.call("GET", "/accounts")
    assert (st, body) == (401, {"errorCode": "error.security.oauth-token-invalid"})
    rest.headers["Authorization"] = f"Bearer {new['access_token']}"
    st, _, _ = await rest.call("GET", "/accounts")
    assert st == 200


async def test_token_expiry_and_logout(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    await rest.login(2)
    assert (await rest.call("GET", "/accounts"))[0] == 200
    assert ex.expire_tokens() >= 1
    st, body, _ = await rest.call("GET", "/accounts")
    assert (st, body) == (401, {"errorCode": "error.security.client-token-invalid"})
    await rest.login(2)
    st, _, _ = await rest.call("POST", "/session", {}, headers={"_method": "DELETE"})
    assert st == 204
    st, body, _ = await rest.call("GET", "/accounts")
    assert (st, body) == (401, {"errorCode": "error.security.client-token-invalid"})


async def test_token_ttl_is_configurable(http: aiohttp.ClientSession) -> None:
    async with _make(None, token_ttl_s=0.0) as ex:
        rest = Rest(http, ex)
        await rest.login(2)
        st, body, _ = await rest.call("GET", "/accounts")
        assert (st, body) == (401, {"errorCode": "error.security.client-token-invalid"})


async def test_switch_account(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    await rest.login(2)
    st, body, _ = await rest.call(
        "PUT", "/session", {"accountId": "XQ1AC", "defaultAccount": False}
    )
    assert st == 200 and body["dealingEnabled"] is True
    st, sess, _ = await rest.call("GET", "/session")
    assert sess["accountId"] == "XQ1AC"
    st, body, _ = await rest.call("PUT", "/session", {"accountId": "XQ1AC"})
    assert (st, body) == (412, {"errorCode": "error.switch.accountId-must-be-different"})


# -- limits ---------------------------------------------------------------------------------


async def test_non_trading_limits(http: aiohttp.ClientSession) -> None:
    async with _make(
        None, app_non_trading_limit=6, account_non_trading_limit=3, account_trading_limit=2
    ) as ex:
        one, two = Rest(http, ex), Rest(http, ex)
        await one.login(2)  # logins count against the key only
        await two.login(2)
        st, _, _ = await two.call("PUT", "/session", {"accountId": "XQ1AC"})
        assert st == 200  # XQ1AB: 1, key: 3
        for _ in range(2):
            assert (await one.call("GET", "/positions", version=2))[0] == 200
        st, body, _ = await one.call("GET", "/accounts")  # XQ1AB: 3 used
        assert (st, body) == (403, {"errorCode": "error.public-api.exceeded-account-allowance"})
        # the other account has its own allowance; the key's is shared
        assert (await two.call("GET", "/accounts"))[0] == 200  # key: 6 used
        st, body, _ = await two.call("GET", "/accounts")
        assert (st, body) == (403, {"errorCode": "error.public-api.exceeded-api-key-allowance"})
        assert ex.stats.rate_limited == 2
        assert ex.stats.rest_calls["/gateway/deal/session"] == 3


async def test_trading_limit_and_application(http: aiohttp.ClientSession) -> None:
    async with _make(None, account_trading_limit=2, historical_points_limit=15) as ex:
        rest = Rest(http, ex)
        await rest.login(2)
        st, apps, _ = await rest.call("GET", "/operations/application")
        assert st == 200
        assert {k: apps[0][k] for k in apps[0] if k.startswith(("allowance", "concurrent"))} == {
            "allowanceApplicationOverall": 60,
            "allowanceAccountOverall": 30,
            "allowanceAccountTrading": 2,
            "allowanceAccountHistoricalData": 15,
            "concurrentSubscriptionsLimit": 40,
        }
        for _ in range(2):
            assert (await rest.deal(market("BUY", 1)))["dealStatus"] == "ACCEPTED"
        st, body, _ = await rest.call("POST", "/positions/otc", market("BUY", 1), version=2)
        assert (st, body) == (
            403,
            {"errorCode": "error.public-api.exceeded-account-trading-allowance"},
        )
        # historical data points
        st, prices, _ = await rest.call(
            "GET", f"/prices/{EURUSD}", version=3, params={"resolution": "MINUTE", "max": "10"}
        )
        assert st == 200 and len(prices["prices"]) == 10
        assert prices["metadata"]["allowance"]["remainingAllowance"] == 5
        assert prices["metadata"]["allowance"]["totalAllowance"] == 15
        st, body, _ = await rest.call(
            "GET", f"/prices/{EURUSD}", version=3, params={"resolution": "MINUTE", "max": "10"}
        )
        assert (st, body) == (
            403,
            {"errorCode": "error.public-api.exceeded-account-historical-data-allowance"},
        )


async def test_rate_limit_fault(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    await rest.login(2)
    ex.faults.rate_limit(1)
    st, body, _ = await rest.call("GET", "/positions", version=2)
    assert (st, body) == (403, {"errorCode": "error.public-api.exceeded-account-allowance"})
    ex.faults.rate_limit(1)
    st, body, _ = await rest.call("POST", "/positions/otc", market("BUY", 1), version=2)
    assert (st, body) == (403, {"errorCode": "error.public-api.exceeded-account-trading-allowance"})
    ex.fault_rate_limit_code = "error.public-api.exceeded-api-key-allowance"
    ex.faults.rate_limit(1)
    st, body, _ = await rest.call("GET", "/accounts")
    assert (st, body) == (403, {"errorCode": "error.public-api.exceeded-api-key-allowance"})
    assert (await rest.call("GET", "/accounts"))[0] == 200
    assert ex.stats.rest_calls["/gateway/deal/accounts"] == 2


# -- markets and prices ---------------------------------------------------------------------


async def test_markets_and_prices(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    await rest.login(2)
    st, m, _ = await rest.call("GET", f"/markets/{EURUSD}", version=3)
    assert st == 200 and m["instrument"]["epic"] == EURUSD
    assert m["dealingRules"]["minDealSize"]["value"] == 0.5
    snap = m["snapshot"]
    assert snap["marketStatus"] == "TRADEABLE" and snap["bid"] < snap["offer"]
    assert 0.6 <= round(snap["offer"] - snap["bid"], 1) <= 0.7 and snap["scalingFactor"] == 10000
    st, many, _ = await rest.call("GET", "/markets", version=2, params={"epics": f"{FTSE},{BTC}"})
    assert [d["instrument"]["epic"] for d in many["marketDetails"]] == [FTSE, BTC]
    st, body, _ = await rest.call("GET", "/markets/NOPE.D.X.IP", version=3)
    assert (st, body) == (
        404,
        {"errorCode": "error.service.marketdata.instrument.epic.unavailable"},
    )
    st, found, _ = await rest.call("GET", "/markets", params={"searchTerm": "ftse"})
    assert [r["epic"] for r in found["markets"]] == [FTSE]
    # paged history
    st, p1, _ = await rest.call(
        "GET",
        f"/prices/{FTSE}",
        version=3,
        params={"resolution": "MINUTE_5", "max": "30", "pageSize": "20"},
    )
    assert st == 200 and len(p1["prices"]) == 20
    assert p1["metadata"]["pageData"] == {"pageSize": 20, "pageNumber": 1, "totalPages": 2}
    bar = p1["prices"][0]
    assert set(bar) >= {
        "snapshotTime",
        "snapshotTimeUTC",
        "openPrice",
        "closePrice",
        "highPrice",
        "lowPrice",
        "lastTradedVolume",
    }
    assert bar["highPrice"]["bid"] >= bar["lowPrice"]["bid"]
    assert bar["openPrice"]["ask"] > bar["openPrice"]["bid"]
    st, p2, _ = await rest.call(
        "GET",
        f"/prices/{FTSE}",
        version=3,
        params={"resolution": "MINUTE_5", "max": "30", "pageSize": "20", "pageNumber": "2"},
    )
    assert len(p2["prices"]) == 10
    assert p2["prices"][0]["snapshotTimeUTC"] > p1["prices"][-1]["snapshotTimeUTC"]
    st, rng, _ = await rest.call(
        "GET",
        f"/prices/{FTSE}",
        version=3,
        params={
            "resolution": "HOUR",
            "from": "2026-01-05T00:00:00",
            "to": "2026-01-05T05:00:00",
            "pageSize": "0",
        },
    )
    assert [b["snapshotTimeUTC"][11:13] for b in rng["prices"]] == [
        "00",
        "01",
        "02",
        "03",
        "04",
        "05",
    ]
    st, v2, _ = await rest.call("GET", f"/prices/{FTSE}/HOUR/3", version=2)
    assert st == 200 and len(v2["prices"]) == 3 and "allowance" in v2


# -- dealing and the TRADE / ACCOUNT streams -----------------------------------------------------


async def test_deal_confirm_and_trade_stream(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    login = await rest.login(2)
    acc = login["currentAccountId"]
    ls = await ls_session(ex, rest, LS_user=acc)
    try:
        await ls.subscribe(1, "DISTINCT", [f"TRADE:{acc}"], TRADE_SCHEMA.split())
        await ls.subscribe(2, "MERGE", [f"ACCOUNT:{acc}"], ACCOUNT_SCHEMA.split())
        await ls.until(lambda ln: ln == "EOS,1,1")
        await ls.until(lambda ln: ln.startswith("U,2,1,"))
        assert ls.get(2)["MARGIN"] == "0.00" and ls.get(2)["FUNDS"] == "100000.00"

        st = ex.state[EURUSD]
        conf = await rest.deal(market("BUY", 2))
        assert conf["dealStatus"] == "ACCEPTED" and conf["reason"] == "SUCCESS"
        assert conf["status"] == "OPEN" and conf["direction"] == "BUY" and conf["size"] == 2.0
        deal_id = conf["dealId"]
        assert conf["affectedDeals"] == [{"dealId": deal_id, "status": "OPENED"}]

        opu = await until_field(ls, 1, "OPU")
        assert (opu["dealId"], opu["status"], opu["dealStatus"]) == (deal_id, "OPEN", "ACCEPTED")
        assert opu["dealReference"] == conf["dealReference"] and opu["epic"] == EURUSD
        confirms = await until_field(ls, 1, "CONFIRMS")
        assert confirms["dealReference"] == conf["dealReference"]
        assert confirms["dealStatus"] == "ACCEPTED" and confirms["level"] == conf["level"]
        await ls.until(lambda ln: ln.startswith("U,2,1,") and ls.get(2)["MARGIN"] != "0.00")
        # margin = size x price x value per point x 3.33 %
        margin = Decimal(str(ls.get(2)["MARGIN"]))
        assert abs(margin - 2 * st.mid * 10 * Decimal("0.0333")) < 10

        st_code, pos, _ = await rest.call("GET", "/positions", version=2)
        assert [p["position"]["dealId"] for p in pos["positions"]] == [deal_id]
        assert pos["positions"][0]["market"]["epic"] == EURUSD
        st_code, one, _ = await rest.call("GET", f"/positions/{deal_id}", version=2)
        assert one["position"]["size"] == 2.0

        # amend: stop and limit
        stop, limit = float(st.bid - 100), float(st.offer + 100)
        st_code, out, _ = await rest.call(
            "PUT", f"/positions/otc/{deal_id}", {"stopLevel": stop, "limitLevel": limit}, version=2
        )
        st_code, amended, _ = await rest.call("GET", f"/confirms/{out['dealReference']}")
        assert amended["status"] == "AMENDED" and amended["stopLevel"] == stop
        upd = await until_field(ls, 1, "OPU", lambda p: p["status"] == "UPDATED")
        assert (upd["stopLevel"], upd["limitLevel"], upd["size"]) == (stop, limit, 2.0)

        # close half, then the rest (the FAQ's POST + _method: DELETE)
        close = {"dealId": deal_id, "direction": "SELL", "size": 1, "orderType": "MARKET"}
        st_code, out, _ = await rest.call(
            "POST", "/positions/otc", close, headers={"_method": "DELETE"}
        )
        st_code, c1, _ = await rest.call("GET", f"/confirms/{out['dealReference']}")
        assert c1["status"] == "PARTIALLY_CLOSED" and c1["profitCurrency"] == "USD"
        upd = await until_field(ls, 1, "OPU", lambda p: p["status"] == "UPDATED")
        assert upd["size"] == 1.0
        st_code, out, _ = await rest.call(
            "POST", "/positions/otc", close, headers={"_method": "DELETE"}
        )
        st_code, c2, _ = await rest.call("GET", f"/confirms/{out['dealReference']}")
        assert c2["status"] == "CLOSED" and c2["affectedDeals"] == [
            {"dealId": deal_id, "status": "FULLY_CLOSED"}
        ]
        await until_field(ls, 1, "OPU", lambda p: p["status"] == "DELETED")
        st_code, pos, _ = await rest.call("GET", "/positions", version=2)
        assert pos["positions"] == []
        funds = Decimal(100000) + Decimal(str(c1["profit"])) + Decimal(str(c2["profit"]))
        await ls.until(lambda ln: ln.startswith("U,2,1,") and ls.get(2)["MARGIN"] == "0.00")
        assert Decimal(str(ls.get(2)["FUNDS"])) == funds
    finally:
        await ls.close()


async def until_field(
    ls: Tlcp, sub: int, name: str, pred: Callable[[dict[str, Any]], bool] = lambda p: True
) -> dict[str, Any]:
    """Read until a TRADE update sends `name` with a JSON payload matching `pred`; return it."""
    idx = ls.fields[sub].index(name)
    found: list[dict[str, Any]] = []

    def hit(ln: str) -> bool:
        if not ln.startswith(f"U,{sub},1,") or idx not in ls.sent[(sub, 1)]:
            return False
        raw = ls.values[(sub, 1)][idx]
        if raw is None:
            return False
        payload = json.loads(raw)
        if pred(payload):
            found.append(payload)
            return True
        return False

    await ls.until(hit)
    return found[0]


async def test_deal_rejections(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    await rest.login(2)
    small = await rest.deal(market("BUY", "0.1"))
    assert (small["dealStatus"], small["reason"], small["status"]) == (
        "REJECTED",
        "MINIMUM_ORDER_SIZE_ERROR",
        None,
    )
    huge = await rest.deal(market("BUY", 500))
    assert (huge["dealStatus"], huge["reason"]) == ("REJECTED", "INSUFFICIENT_FUNDS")
    unknown = await rest.deal(market("BUY", 1, epic="XX.D.NOPE.IP"))
    assert unknown["reason"] == "INSTRUMENT_NOT_FOUND"
    limit = await rest.deal({**market("BUY", 1), "orderType": "LIMIT", "level": 1000.0})
    assert limit["reason"] == "LEVEL_TOLERANCE_ERROR"
    st, body, _ = await rest.call("POST", "/positions/otc", {"epic": EURUSD}, version=2)
    assert (st, body) == (400, {"errorCode": "validation.null-not-allowed.request.direction"})
    st, body, _ = await rest.call(
        "POST",
        "/positions/otc",
        {"dealId": "DIAAAANOPE", "direction": "SELL", "size": 1, "orderType": "MARKET"},
        headers={"_method": "DELETE"},
    )
    st, conf, _ = await rest.call("GET", f"/confirms/{body['dealReference']}")
    assert conf["reason"] == "POSITION_NOT_AVAILABLE_TO_CLOSE"
    st, body, _ = await rest.call("GET", "/confirms/NOSUCHREF")
    assert (st, body) == (404, {"errorCode": "error.confirms.deal-not-found"})
    assert ex.positions == {}


async def test_netting_and_force_open(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    await rest.login(2)
    a = await rest.deal(market("BUY", 1, epic=FTSE, currencyCode="GBP"))
    b = await rest.deal(market("BUY", 1, epic=FTSE, currencyCode="GBP", forceOpen=True))
    assert len(ex.positions) == 2
    c = await rest.deal(market("SELL", "1.5", epic=FTSE, currencyCode="GBP"))
    assert c["status"] == "PARTIALLY_CLOSED"
    assert c["affectedDeals"] == [
        {"dealId": a["dealId"], "status": "FULLY_CLOSED"},
        {"dealId": b["dealId"], "status": "PARTIALLY_CLOSED"},
    ]
    assert [(p.deal_id, p.size) for p in ex.positions.values()] == [(b["dealId"], Decimal("0.5"))]


async def test_working_orders_rest_and_trigger(manual: IgSim, http: aiohttp.ClientSession) -> None:
    ex = manual
    rest = Rest(http, ex)
    login = await rest.login(2)
    acc = login["currentAccountId"]
    ls = await ls_session(ex, rest)
    try:
        await ls.subscribe(1, "DISTINCT", [f"TRADE:{acc}"], TRADE_SCHEMA.split())
        await ls.until(lambda ln: ln == "EOS,1,1")
        st = ex.state[EURUSD]
        wo = {
            "epic": EURUSD,
            "expiry": "-",
            "direction": "BUY",
            "size": 1,
            "type": "LIMIT",
            "timeInForce": "GOOD_TILL_CANCELLED",
            "currencyCode": "USD",
            "guaranteedStop": False,
            "stopDistance": 20,
        }
        wrong = await deal_wo(rest, {**wo, "level": float(st.offer + 5)})
        assert (wrong["dealStatus"], wrong["reason"]) == ("REJECTED", "WRONG_SIDE_OF_MARKET")
        far = await deal_wo(rest, {**wo, "level": float(st.offer - 500)})
        assert far["dealStatus"] == "ACCEPTED" and far["status"] == "OPEN"
        near = await deal_wo(rest, {**wo, "level": float(st.offer - Decimal("0.2"))})
        st_code, orders, _ = await rest.call("GET", "/workingorders", version=2)
        data = [o["workingOrderData"] for o in orders["workingOrders"]]
        assert {(d["dealId"], d["orderType"], d["orderSize"]) for d in data} == {
            (far["dealId"], "LIMIT", 1.0),
            (near["dealId"], "LIMIT", 1.0),
        }
        wou = await until_field(ls, 1, "WOU")
        assert wou["status"] == "OPEN" and wou["orderType"] == "LIMIT"
        # amend the far one, delete it with POST + _method: DELETE
        st_code, out, _ = await rest.call(
            "PUT",
            f"/workingorders/otc/{far['dealId']}",
            {"level": float(st.offer - 400), "type": "LIMIT", "timeInForce": "GOOD_TILL_CANCELLED"},
            version=2,
        )
        st_code, am, _ = await rest.call("GET", f"/confirms/{out['dealReference']}")
        assert am["status"] == "AMENDED" and am["level"] == float(st.offer - 400)
        st_code, out, _ = await rest.call(
            "POST",
            f"/workingorders/otc/{far['dealId']}",
            {},
            version=2,
            headers={"_method": "DELETE"},
        )
        st_code, gone, _ = await rest.call("GET", f"/confirms/{out['dealReference']}")
        assert gone["status"] == "DELETED"
        # move the market until the near LIMIT BUY triggers
        for _ in range(3000):
            if near["dealId"] not in ex.working_orders:
                break
            ex.tick()
        assert near["dealId"] not in ex.working_orders
        pos = ex.positions[near["dealId"]]
        assert pos.level <= Decimal(str(near["level"]))
        assert pos.stop_level == pos.level - 20
        opened = await until_field(ls, 1, "OPU", lambda p: p["status"] == "OPEN")
        assert opened["dealId"] == near["dealId"]
    finally:
        await ls.close()


# The TRADE payloads' keys as the protocol notes list them (OPU; WOU = OPU + the order's own)
OPU_KEYS = set(
    "dealReference dealId dealIdOrigin dealStatus status epic direction size level stopLevel"
    " limitLevel currency expiry guaranteedStop channel timestamp".split()
)
WOU_KEYS = OPU_KEYS | set("orderType timeInForce goodTillDate stopDistance limitDistance".split())
CONFIRMS_KEYS = set(
    "date status reason dealStatus epic expiry dealReference dealId affectedDeals level size"
    " direction stopLevel limitLevel stopDistance limitDistance guaranteedStop trailingStop"
    " profit profitCurrency".split()
)


async def test_trade_payloads_carry_every_field(ex: IgSim, http: aiohttp.ClientSession) -> None:
    """Issue 9 defect 10: every TRADE payload carries every field of the real one (a WOU has
    OPU's stop/limit levels too, derived from the distances it was created with)."""
    rest = Rest(http, ex)
    acc = (await rest.login(2))["currentAccountId"]
    ls = await ls_session(ex, rest, LS_user=acc)
    try:
        await ls.subscribe(1, "DISTINCT", [f"TRADE:{acc}"], TRADE_SCHEMA.split())
        await ls.until(lambda ln: ln == "EOS,1,1")
        level = float(ex.state[EURUSD].offer - 500)
        wo = {
            "epic": EURUSD, "expiry": "-", "direction": "BUY", "size": 1, "type": "LIMIT",
            "timeInForce": "GOOD_TILL_CANCELLED", "currencyCode": "USD", "guaranteedStop": False,
            "level": level, "stopDistance": 20, "limitDistance": 30,
        }  # fmt: skip
        conf = await deal_wo(rest, wo)
        assert conf["dealStatus"] == "ACCEPTED"
        wou = await until_field(ls, 1, "WOU")
        assert set(wou) == WOU_KEYS, WOU_KEYS ^ set(wou)
        assert (wou["stopLevel"], wou["limitLevel"]) == (level - 20, level + 30)
        assert (wou["stopDistance"], wou["limitDistance"]) == (20, 30)
        confirms = await until_field(ls, 1, "CONFIRMS")
        assert set(confirms) == CONFIRMS_KEYS, CONFIRMS_KEYS ^ set(confirms)
        await rest.deal(market("BUY", 1))
        opu = await until_field(ls, 1, "OPU")
        assert set(opu) == OPU_KEYS, OPU_KEYS ^ set(opu)
    finally:
        await ls.close()


async def deal_wo(rest: Rest, body: dict[str, Any]) -> dict[str, Any]:
    st, out, _ = await rest.call("POST", "/workingorders/otc", body, version=2)
    assert st == 200, out
    st, conf, _ = await rest.call("GET", f"/confirms/{out['dealReference']}")
    assert isinstance(conf, dict)
    return conf


# -- Lightstreamer --------------------------------------------------------------------------


async def test_tlcp_session_price_chart_tick(manual: IgSim, http: aiohttp.ClientSession) -> None:
    ex = manual
    rest = Rest(http, ex)
    login = await rest.login(2)
    acc = login["currentAccountId"]
    c = await Tlcp.open(ex)
    try:
        assert c.ws.subprotocol == TLCP24
        ln = await c.create(rest.ls_password)  # no LS_user, no LS_adapter_set: trading-ig's way
        sid, limit, keepalive, link = ln.split(",")[1:]
        assert sid and int(limit) > 0 and int(keepalive) == 5000 and link == "*"
        assert (await c.line()).startswith("SERVNAME,")
        assert await c.line() == "CLIENTIP,127.0.0.1"
        assert await c.line() == "CONS,unlimited"
        price_fields = ["BIDPRICE1", "ASKPRICE1", "BIDSIZE1", "TIMESTAMP", "DLG_FLAG", "CURRENCY1"]
        await c.subscribe(
            1,
            "MERGE",
            [f"PRICE:{acc}:{EURUSD}", f"PRICE:{acc}:{FTSE}"],
            price_fields,
            adapter="Pricing",
            ack=True,
        )
        assert await c.line() == "REQOK,1"
        assert await c.line() == "SUBOK,1,2,6"
        await c.line()
        await c.line()
        p = c.get(1, 1)
        assert Decimal(str(p["BIDPRICE1"])) < Decimal(str(p["ASKPRICE1"]))
        assert p["DLG_FLAG"] == "DEAL" and p["CURRENCY1"] is None
        candle = [
            "UTM",
            "BID_OPEN",
            "BID_HIGH",
            "BID_LOW",
            "BID_CLOSE",
            "OFR_CLOSE",
            "LTP_CLOSE",
            "CONS_END",
            "CONS_TICK_COUNT",
            "DAY_HIGH",
            "DAY_LOW",
            "LTV",
            "TTV",
        ]
        await c.subscribe(2, "MERGE", [f"CHART:{EURUSD}:1MINUTE"], candle)
        assert await c.line() == "SUBOK,2,1,13"
        snap = await c.line()
        assert snap.startswith("U,2,1,")
        await c.subscribe(3, "DISTINCT", [f"CHART:{BTC}:TICK"], ["BID", "OFR", "LTP", "UTM"])
        assert await c.line() == "SUBOK,3,1,4"
        assert await c.line() == "EOS,3,1"  # nothing ticked yet
        for _ in range(6):
            ex.tick()
        ticks = 0
        while ticks < 6:
            ln = await c.line()
            if ln.startswith("U,3,1,"):
                ticks += 1
                t = c.get(3)
                assert Decimal(str(t["BID"])) < Decimal(str(t["OFR"]))
                assert int(str(t["UTM"])) > 0
        k = c.get(2)
        assert k["CONS_END"] == "0" and int(str(k["CONS_TICK_COUNT"])) >= 1
        assert (
            Decimal(str(k["BID_HIGH"]))
            >= Decimal(str(k["BID_CLOSE"]))
            >= Decimal(str(k["BID_LOW"]))
        )
        assert int(str(k["UTM"])) % 60_000 == 0  # the candle's start
        # unchanged-field compression on the wire
        us = [ln for ln in c.raw if ln.startswith("U,")]
        assert any("||" in ln or "|^" in ln or ln.endswith("|") for ln in us)
        # a wrong schema, a wrong adapter, an unknown item
        await c.subscribe(4, "MERGE", [f"CHART:{EURUSD}:TICK"], ["OFFER"])
        assert (await c.until(lambda ln: ln.startswith("REQERR"))).startswith("REQERR,4,23,")
        await c.subscribe(5, "MERGE", [f"PRICE:{acc}:{EURUSD}"], ["BIDPRICE1"])
        assert (await c.until(lambda ln: ln.startswith("REQERR"))).startswith("REQERR,5,21,")
        await c.subscribe(6, "MERGE", [f"MARKET:{EURUSD}"], ["BID"])
        assert (await c.until(lambda ln: ln.startswith("REQERR"))).startswith("REQERR,6,21,")
        await c.subscribe(7, "MERGE", [f"ACCOUNT:{acc}"], ["PNL"], adapter="Nope")
        assert (await c.until(lambda ln: ln.startswith("REQERR"))).startswith("REQERR,7,17,")
        # delete and destroy
        c.req += 1
        await c.send(
            "control",
            {"LS_reqId": str(c.req), "LS_op": "delete", "LS_subId": "1", "LS_ack": "false"},
        )
        assert await c.until(lambda ln: ln.startswith("UNSUB")) == "UNSUB,1"
        c.req += 1
        await c.send(
            "control",
            {
                "LS_reqId": str(c.req),
                "LS_op": "destroy",
                "LS_close_socket": "true",
                "LS_cause": "api",
            },
        )
        assert await c.until(lambda ln: ln.startswith("REQOK")) == f"REQOK,{c.req}"
        await ex.wait_for(lambda: not ex.ls_sessions)
    finally:
        await c.close()


async def test_candle_ends_with_cons_end(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    await rest.login(2)
    c = await ls_session(ex, rest)
    try:
        fields = ["UTM", "CONS_END", "CONS_TICK_COUNT", "BID_CLOSE"]
        await c.subscribe(1, "MERGE", [f"CHART:{FTSE}:SECOND"], fields)
        await c.until(lambda ln: ln.startswith("U,1,") and c.get(1)["CONS_END"] == "1")
        closed = c.get(1)
        await c.until(lambda ln: ln.startswith("U,1,") and c.get(1)["CONS_END"] == "0")
        assert int(str(c.get(1)["UTM"])) == int(str(closed["UTM"])) + 1000
        assert c.get(1)["CONS_TICK_COUNT"] == "1"
    finally:
        await c.close()


async def test_account_stream_moves_with_price(manual: IgSim, http: aiohttp.ClientSession) -> None:
    ex = manual
    rest = Rest(http, ex)
    acc = (await rest.login(2))["currentAccountId"]
    await rest.deal(market("BUY", 1, epic=BTC))
    c = await ls_session(ex, rest)
    try:
        await c.subscribe(1, "MERGE", [f"ACCOUNT:{acc}"], ["PNL", "EQUITY", "FUNDS"])
        await c.until(lambda ln: ln.startswith("U,1,"))
        pnls = {c.get(1)["PNL"]}
        for _ in range(20):
            ex.tick()
        while len(pnls) < 3:
            await c.until(lambda ln: ln.startswith("U,1,"))
            v = c.get(1)
            pnls.add(v["PNL"])
            assert Decimal(str(v["EQUITY"])) == Decimal(str(v["FUNDS"])) + Decimal(str(v["PNL"]))
    finally:
        await c.close()


async def test_tlcp_2_5_0_is_refused(ex: IgSim) -> None:
    c = await Tlcp.open(ex, (TLCP25,))
    try:
        assert c.ws.subprotocol == TLCP25
        await c.send("wsok")
        assert await c.line() == "WSOK"
        await c.send("create_session", {"LS_cid": "x", "LS_password": "CST-a|XST-b"})
        assert await c.line() == "CONERR,65,Unsupported protocol version: 2.5.0"
        assert ex.ls_sessions == {}
    finally:
        await c.close()


async def test_create_session_errors(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    await rest.login(2)
    cases = [
        ({"LS_password": "CST-nope|XST-nope"}, "CONERR,1,User/password check failed"),
        (
            {"LS_password": rest.ls_password, "LS_user": "ZZZZZ"},
            "CONERR,1,User/password check failed",
        ),
        (
            {"LS_password": rest.ls_password, "LS_adapter_set": "OTHER"},
            "CONERR,2,Requested Adapter Set not available",
        ),
    ]
    for params, want in cases:
        c = await Tlcp.open(ex)
        try:
            await c.send("wsok")
            assert await c.line() == "WSOK"
            await c.send("create_session", params)
            assert await c.line() == want
        finally:
            await c.close()
    ex.faults.reject_auth(1)
    c = await Tlcp.open(ex)
    try:
        assert await c.create(rest.ls_password) == "CONERR,1,User/password check failed"
        assert (await c.create(rest.ls_password)).startswith("CONOK,")  # spent
    finally:
        await c.close()


async def test_41st_subscription_refused(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    acc = (await rest.login(2))["currentAccountId"]
    c = await ls_session(ex, rest)
    try:
        items = [
            f"CHART:{e}:{s}"
            for e in (EURUSD, FTSE, BTC)
            for s in ("TICK", "SECOND", "1MINUTE", "5MINUTE", "HOUR")
        ]
        items += [f"ACCOUNT:{acc}", f"TRADE:{acc}"]
        for i in range(40):
            item = items[i % len(items)]
            field = (
                "PNL"
                if item.startswith("ACCOUNT")
                else "OPU"
                if item.startswith("TRADE")
                else "UTM"
            )
            await c.subscribe(i + 1, "DISTINCT", [item], [field], snapshot="false", ack=True)
            await c.until(lambda ln, n=i + 1: ln == f"REQOK,{n}")
        await c.subscribe(41, "DISTINCT", [items[0]], ["UTM"], snapshot="false", ack=True)
        err = await c.until(lambda ln: ln.startswith(("REQERR,41,", "REQOK,41")))
        assert err.startswith("REQERR,41,-1,") and "40" in unquote(err)
        c.req += 1
        await c.send("control", {"LS_reqId": str(c.req), "LS_op": "delete", "LS_subId": "7"})
        await c.until(lambda ln: ln == "UNSUB,7")
        await c.subscribe(42, "DISTINCT", [items[0]], ["UTM"], snapshot="false", ack=True)
        await c.until(lambda ln: ln.startswith("SUBOK,42,"))
    finally:
        await c.close()


async def test_probe_when_idle(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    await rest.login(2)
    c = await ls_session(ex, rest, LS_keepalive_millis="150")
    try:
        assert c.raw[-1].split(",")[3] == "150"
        assert await c.until(lambda ln: ln == "PROBE") == "PROBE"
    finally:
        await c.close()


async def test_loop_then_bind_session(manual: IgSim, http: aiohttp.ClientSession) -> None:
    ex = manual
    rest = Rest(http, ex)
    await rest.login(2)
    c = await ls_session(ex, rest)
    d: Tlcp | None = None
    try:
        await c.subscribe(1, "MERGE", [f"CHART:{EURUSD}:TICK"], ["BID", "OFR", "UTM"])
        await c.until(lambda ln: ln.startswith("SUBOK"))
        ex.tick()
        await c.until(lambda ln: ln.startswith("U,1,"))
        assert ex.faults.loop() == 1
        assert await c.until(lambda ln: ln.startswith("LOOP")) == "LOOP,0"
        ex.tick()  # while unbound: kept for the rebind
        await c.close()
        d = await Tlcp.open(ex)
        d.fields, d.values = c.fields, c.values
        await d.send("wsok")
        assert await d.line() == "WSOK"
        await d.send("bind_session", {"LS_session": c.session_id, "LS_send_sync": "false"})
        assert (await d.line()).startswith(f"CONOK,{c.session_id},")
        await d.until(lambda ln: ln.startswith("U,1,1,"))
        utm = d.get(1)["UTM"]
        ex.tick()
        await d.until(lambda ln: ln.startswith("U,1,1,") and d.get(1)["UTM"] != utm)
        assert list(ex.ls_sessions) == [c.session_id]
        # an unknown session cannot be bound
        e = await Tlcp.open(ex)
        try:
            await e.send("bind_session", {"LS_session": "Snope"})
            assert (await e.line()).startswith("CONERR,4,")
        finally:
            await e.close()
    finally:
        await c.close()
        if d is not None:
            await d.close()


async def test_recovery_after_a_lost_connection(manual: IgSim, http: aiohttp.ClientSession) -> None:
    """After a drop the session waits; the client recovers what it missed by progressive
    (`bind_session.txt` over HTTP, as lightstreamer-client-lib does, or on a WebSocket)."""
    ex = manual
    rest = Rest(http, ex)
    await rest.login(2)
    c = await ls_session(ex, rest)
    try:
        await c.subscribe(
            1, "DISTINCT", [f"CHART:{EURUSD}:TICK"], ["BID", "OFR", "UTM"], snapshot="false"
        )
        assert await c.until(lambda ln: ln.startswith("SUBOK")) == "SUBOK,1,1,3"
        ex.tick()
        await c.until(lambda ln: ln.startswith("U,1,1,"))
        got = c.prog
        assert got == 2  # SUBOK, U
        sess = ex.ls_sessions[c.session_id]
        ex.faults.drop()
        await ex.wait_for(lambda: sess.conn is None)
        ex.tick()
        ex.tick()
        url = ex.base_http + "/lightstreamer/bind_session.txt?LS_protocol=TLCP-2.4.0"
        form = enc(
            {
                "LS_session": c.session_id,
                "LS_recovery_from": str(got),
                "LS_polling": "true",
                "LS_polling_millis": "0",
                "LS_idle_millis": "0",
            }
        )
        async with http.post(url, data=form) as r:
            assert r.status == 200
            lines = (await r.text()).split("\r\n")
        assert lines[0].startswith(f"CONOK,{c.session_id},") and lines[1] == f"PROG,{got}"
        ups = lines[2:4]
        assert all(ln.startswith("U,1,1,") for ln in ups) and lines[4:] == ["LOOP,0", ""]
        values = c.values[(1, 1)]
        for ln in ups:
            values = decode_update(ln, values)[2]
        assert values[2] == str(ex.state[EURUSD].update_ms)
        # then a WebSocket bind carries on from there; recovering an older progressive
        # re-sends what the client will count as already seen
        ex.tick()
        d = await Tlcp.open(ex)
        try:
            d.fields, d.values = c.fields, {(1, 1): values}
            await d.send(
                "bind_session", {"LS_session": c.session_id, "LS_recovery_from": str(got + 1)}
            )
            assert (await d.line()).startswith(f"CONOK,{c.session_id},")
            assert await d.line() == f"PROG,{got + 1}"
            await d.line()  # the second missed tick, again
            await d.line()  # the tick after the recovery
            assert d.get(1)["UTM"] == str(ex.state[EURUSD].update_ms)
            assert sess.conn is not None and list(ex.ls_sessions) == [c.session_id]
        finally:
            await d.close()
        async with http.post(url, data=enc({"LS_session": "Snope", "LS_recovery_from": "0"})) as r:
            assert (await r.text()).startswith("CONERR,4,")
    finally:
        await c.close()


async def test_unbound_session_expires(http: aiohttp.ClientSession) -> None:
    async with _make(None, ls_rebind_timeout_s=0.05) as ex:
        rest = Rest(http, ex)
        await rest.login(2)
        c = await ls_session(ex, rest)
        try:
            assert ex.faults.loop() == 1
            assert await c.until(lambda ln: ln.startswith("LOOP")) == "LOOP,0"
            await ex.wait_for(lambda: not ex.ls_sessions)
        finally:
            await c.close()


async def test_faults_on_lightstreamer(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    await rest.login(2)
    c = await ls_session(ex, rest)
    try:
        await c.subscribe(1, "MERGE", [f"CHART:{FTSE}:TICK"], ["BID"])
        await c.until(lambda ln: ln.startswith("U,1,"))
        assert ex.faults.malformed() == 1
        while True:  # the bad line arrives as sent; our strict parser refuses it
            try:
                await c.line()
            except ValueError:
                break
        assert ex.faults.stall(0.2) == 1
        c.lines.clear()
        await c.until(lambda ln: ln.startswith("U,1,"))  # still alive after the stall
        assert len(ex.ls_sessions) == 1
        assert ex.faults.drop() == 1
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await c.line()
        # the session outlives its connection, waiting for a rebind or a recovery
        sess = ex.ls_sessions[c.session_id]
        await ex.wait_for(lambda: sess.conn is None)
    finally:
        await c.close()


async def test_streams_cost_no_rest_calls(ex: IgSim, http: aiohttp.ClientSession) -> None:
    rest = Rest(http, ex)
    acc = (await rest.login(2))["currentAccountId"]
    before = ex.stats.rest_total
    c = await ls_session(ex, rest)
    try:
        await c.subscribe(1, "MERGE", [f"PRICE:{acc}:{EURUSD}"], ["BIDPRICE1"], adapter="Pricing")
        for _ in range(10):
            await c.until(lambda ln: ln.startswith("U,1,"))
        assert ex.stats.rest_total == before
        assert ex.stats.ws_opened["lightstreamer"] == 1
    finally:
        await c.close()

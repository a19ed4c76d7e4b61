"""binance.protocol: refused user data auth is retried with a deterministic backoff (issue 9).

Spot (WS API `userDataStream.subscribe.signature`) and USD-M (REST listenKey): refused ->
`AuthFailed` + `Stale` and `problem` says why; `tick` after the delay -> asked again; accepted ->
seeded, `Fresh`. Refused for good: the delays double to the ceiling, never a tight loop; a
reconnect does not skip the wait.
"""

from __future__ import annotations

import json
from typing import Any

from spinstream.credentials import Credentials
from spinstream.protocol.binance import BinanceSpotUser, BinanceUsdmUser
from spinstream.protocol.binance.protocol import State
from spinstream.protocol.events import AuthFailed, Fresh, Stale

S = 1_000_000_000
T0 = 1_700_000_000 * S
SECRET = "auth-retry-test-secret-0a1b2c3d"
CREDS = Credentials.of("auth-retry-test-key", SECRET)
MSG = "Signature for this request is not valid."
KEY_REFUSED = b'{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}'


def enc(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def logins(p: BinanceSpotUser) -> list[dict[str, Any]]:
    return [f for f in map(json.loads, p.outgoing()) if "userDataStream" in f.get("method", "")]


def refuse(p: BinanceSpotUser, login: dict[str, Any], ts: int) -> list[Any]:
    error = {"id": login["id"], "status": 400, "error": {"code": -1022, "msg": MSG}}
    return p.receive(enc(error), ts)


def test_spot_refused_subscription_is_retried_then_seeded_and_fresh() -> None:
    p = BinanceSpotUser("spot", CREDS)
    p.subscribe("account")
    p.connected(T0)
    (login,) = logins(p)
    events = refuse(p, login, T0)
    assert isinstance(events[0], AuthFailed) and events[0].reason == f"-1022: {MSG}"
    assert sorted(e.kind for e in events[1:] if isinstance(e, Stale)) == ["account", "orders"]
    assert p.problem == f"user data subscription refused (-1022: {MSG}); retrying in 1 s"
    p.tick(T0 + S - 1)
    assert logins(p) == []  # never before the delay
    p.tick(T0 + S)
    (again,) = logins(p)
    ok = {"id": again["id"], "status": 200, "result": {"subscriptionId": 3}}
    assert [type(e).__name__ for e in p.receive(enc(ok), T0 + S)] == ["Authenticated"]
    assert p.problem is None and p.state is State.SEEDING
    by_path = {r.path: r for r in p.requests()}
    p.rest_response(by_path["/api/v3/openOrders"].req_id, 200, b"[]", T0 + S)
    account = enc({"updateTime": 1, "balances": [{"asset": "USDT", "free": "5", "locked": "0"}]})
    events = p.rest_response(by_path["/api/v3/account"].req_id, 200, account, T0 + S)
    assert {e.kind for e in events if isinstance(e, Fresh)} == {"account", "orders"}
    assert p.state is State.LIVE


def test_spot_permanent_refusal_backs_off_to_the_ceiling_and_a_reconnect_waits() -> None:
    p = BinanceSpotUser("spot", CREDS)
    p.connected(T0)
    (login,) = logins(p)
    ts, delays = T0, []
    for _ in range(8):
        refuse(p, login, ts)
        waited = 0
        while not (frames := logins(p)):
            waited += S // 4
            assert waited <= 120 * S, "no retry at all"
            p.tick(ts + waited)
        (login,) = frames
        delays.append(waited / S)
        ts += waited
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    refuse(p, login, ts)
    assert p.problem is not None and SECRET not in p.problem
    assert p.problem.startswith("user data subscription refused 9 times in a row")
    assert p.problem.endswith("retrying in 60 s")
    p.disconnected(ts + S)
    p.connected(ts + 2 * S)
    assert logins(p) == [] and p.state is State.AUTHENTICATING  # a new socket skips no wait
    p.tick(ts + 60 * S)
    assert len(logins(p)) == 1


def test_usdm_refused_listen_key_backs_off_and_says_so() -> None:
    p = BinanceUsdmUser("usdm", CREDS)
    p.start(T0)
    ts, delays = T0, []
    (post,) = p.requests()
    for _ in range(8):
        events = p.rest_response(post.req_id, 401, KEY_REFUSED, ts)
        assert isinstance(events[0], AuthFailed) and len(events) == 4  # + Stale per kind
        waited = 0
        while not (reqs := p.requests()):
            waited += S // 4
            assert waited <= 120 * S, "no retry at all"
            p.tick(ts + waited)
        (post,) = reqs
        delays.append(waited / S)
        ts += waited
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    assert p.problem is not None and p.problem.startswith("listenKey request refused 8 times")
    assert p.rest_response(post.req_id, 200, enc({"listenKey": "k" * 60}), ts) == []
    assert p.problem is None and p.connect_path() is not None
    assert "k" * 60 not in repr(p)

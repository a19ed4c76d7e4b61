"""bybit.protocol: a refused private auth is sent again with a deterministic backoff (issue 9).

Refused -> `AuthFailed` + `Stale` and `problem` says why; `tick` after the delay -> the auth
frame again (same connection); accepted -> subscribe, seeds, `Fresh`. Refused for good: the
delays double to the ceiling, never a tight loop; a reconnect does not skip the wait.
"""

from __future__ import annotations

import json
from typing import Any

from spinstream.protocol.bybit import BybitPrivate
from spinstream.protocol.bybit.protocol import Session
from spinstream.protocol.events import AuthFailed, Fresh, Stale

from .test_protocol import CREDS, KEY, SECRET, T0, ack, dumps, rest_body, types, wallet

S = 1_000_000_000
REFUSED = dumps({"success": False, "ret_msg": "error:USVC1111", "op": "auth", "conn_id": "c"})
ACCEPTED = '{"success":true,"ret_msg":"","op":"auth","conn_id":"c"}'


def auth_frames(p: BybitPrivate) -> list[dict[str, Any]]:
    """The auth frames among what P wants to send (pings left out)."""
    return [f for f in map(json.loads, p.outgoing()) if f.get("op") == "auth"]


def test_refused_auth_is_retried_after_the_delay_then_seeded_and_fresh() -> None:
    p = BybitPrivate("linear", CREDS, markets=("linear",), settle_coins=("USDT",))
    p.subscribe("account", None)
    p.connected(T0)
    assert len(auth_frames(p)) == 1
    events = p.receive(REFUSED, T0)
    assert types(events) == ["AuthFailed", "Stale", "Stale", "Stale"]
    assert {e.kind for e in events if isinstance(e, Stale)} == {"account", "positions", "orders"}
    assert p.state is Session.WAITING
    assert p.problem == "auth refused (error:USVC1111); retrying in 1 s"
    p.tick(T0 + S - 1)
    assert auth_frames(p) == []  # never before the delay
    p.tick(T0 + S)
    (frame,) = auth_frames(p)
    assert frame["args"][0] == KEY and p.state is Session.AUTHENTICATING
    assert p.receive(ACCEPTED, T0 + S) == [] and p.problem is None
    (sub,) = [json.loads(f) for f in p.outgoing()]
    assert sub["op"] == "subscribe"
    assert "Authenticated" in types(p.receive(ack(sub["req_id"]), T0 + S))
    events = []
    for r in p.requests():
        result = {"list": [wallet("10")]} if "wallet" in r.path else {"list": []}
        events += p.rest_response(r.req_id, 200, rest_body(result), T0 + S)
    fresh = {e.kind for e in events if isinstance(e, Fresh)}
    assert fresh == {"account", "positions", "orders"} and p.state is Session.LIVE


def test_permanent_refusal_backs_off_to_the_ceiling_and_says_so() -> None:
    p = BybitPrivate("linear", CREDS, markets=("linear",))
    p.connected(T0)
    auth_frames(p)
    ts, delays = T0, []
    for _ in range(9):
        events = p.receive(REFUSED, ts)
        assert isinstance(events[0], AuthFailed)
        waited = 0
        while True:  # tick every 250 ms (frames keep the link alive) until the next auth frame
            waited += S // 4
            assert waited <= 120 * S, "no retry at all"
            p.receive('{"op":"pong","args":["1"],"conn_id":"c"}', ts + waited)
            p.tick(ts + waited)
            if auth_frames(p):
                break
        delays.append(waited / S)
        ts += waited
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert p.counters["auth_failed"] == 9
    assert p.problem == "auth refused 9 times in a row (error:USVC1111); retrying in 60 s"
    assert SECRET not in p.problem


def test_a_reconnect_waits_for_the_retry_that_is_due() -> None:
    p = BybitPrivate("linear", CREDS, markets=("linear",))
    p.connected(T0)
    auth_frames(p)
    p.receive(REFUSED, T0)
    p.tick(T0 + S)
    auth_frames(p)
    p.receive(REFUSED, T0 + S)  # the next try waits 2 s
    p.disconnected(T0 + S)
    assert p.connected(T0 + S + S // 2) == []
    assert auth_frames(p) == [] and p.state is Session.WAITING  # a new socket skips no wait
    p.tick(T0 + 3 * S)
    assert len(auth_frames(p)) == 1 and p.state is Session.AUTHENTICATING

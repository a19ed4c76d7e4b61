"""Fuzz okx.protocol.OkxPrivate like the other private streams (test_protocol_fuzz.py): mutated
`account` / `positions` / `orders` pushes, login answers and orders-seed bodies raise nothing
out of `receive`, `rest_response` or `tick`, every `Malformed` is counted, no update carries a
value that cannot be true, and a valid push still gives its update afterwards."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from test_protocol_fuzz import FUZZ, T0, S, _all_true, mutated, rest_run, run

from spinstream.credentials import Credentials
from spinstream.protocol.events import Malformed, OrderUpdate
from spinstream.protocol.okx import OkxPrivate

CREDS = Credentials.of("fuzz-key", "fuzz-secret-0123456789abcdef", "fuzz-pass")


def _push(channel: str, data: list[object], event_type: str | None = None) -> str:
    arg = {"channel": channel} | ({} if channel == "account" else {"instType": "SWAP"})
    msg: dict[str, object] = {"arg": arg}
    if event_type:
        msg.update(eventType=event_type, curPage=1, lastPage=True)
    msg["data"] = data
    return json.dumps(msg)


ORDER = {"instId": "BTC-USDT-SWAP", "instType": "SWAP", "ordId": "7", "px": "60000", "sz": "1",
         "ordType": "limit", "side": "buy", "state": "live", "accFillSz": "0",
         "uTime": "1700000000000"}  # fmt: skip
GOOD_ORDER = _push("orders", [ORDER])
OKX_PRIVATE = [
    _push(
        "account",
        [
            {
                "totalEq": "100",
                "availEq": "90",
                "uTime": "1700000000000",
                "details": [
                    {
                        "ccy": "USDT",
                        "availBal": "90",
                        "cashBal": "100",
                        "frozenBal": "10",
                        "eq": "100",
                        "uTime": "1700000000000",
                    }
                ],
            }
        ],
        "snapshot",
    ),  # fmt: skip
    _push(
        "account",
        [{"totalEq": "100", "details": [{"ccy": "BTC", "availBal": "1"}]}],
        "event_update",
    ),  # fmt: skip
    _push(
        "positions",
        [
            {
                "instId": "BTC-USDT-SWAP",
                "instType": "SWAP",
                "pos": "-2",
                "posSide": "net",
                "avgPx": "60000",
                "upl": "1",
                "lever": "5",
                "uTime": "1700000000000",
            }
        ],
        "snapshot",
    ),  # fmt: skip
    GOOD_ORDER,
    '{"event":"login","code":"0","msg":"","connId":"c"}',
    '{"event":"error","code":"60012","msg":"Invalid request","connId":"c"}',
    '{"event":"subscribe","arg":{"channel":"orders","instType":"SWAP"},"connId":"c"}',
    "pong",
]
SEED = json.dumps({"code": "0", "msg": "", "data": []})


def okx_private(seed: bool = True) -> OkxPrivate:
    p = OkxPrivate("swap", CREDS)
    p.connected(T0)
    p.receive('{"event":"login","code":"0","msg":"","connId":"c"}', T0)
    p.receive('{"event":"subscribe","arg":{"channel":"orders","instType":"SWAP"}}', T0)
    p.outgoing()
    if seed:
        for r in p.requests():
            p.rest_response(r.req_id, 200, SEED.encode(), T0)
    return p


@given(frame=mutated(OKX_PRIVATE))
@FUZZ
def test_okx_private(frame: str | bytes) -> None:
    p = okx_private()
    events = p.receive(frame, T0)
    assert p.counters.get("malformed", 0) >= sum(isinstance(e, Malformed) for e in events)
    _all_true(events)
    for r in p.requests():  # a push rejected as Malformed asks for a new seed: it answers
        _all_true(p.rest_response(r.req_id, 200, SEED.encode(), T0 + 1))
    run(p, GOOD_ORDER, GOOD_ORDER, OrderUpdate, T0 + 2)


@given(
    body=mutated([SEED, SEED.replace("[]", json.dumps([ORDER]))]),
    status=st.sampled_from([200, 401, 429, 500]),
)
@FUZZ
def test_okx_private_seeds(body: str | bytes, status: int) -> None:
    p = okx_private(seed=False)
    p.receive(GOOD_ORDER.replace('"1"', '"NaN"'), T0)  # bad: never held
    rest_run(p, body, status, lambda p: None)
    for req in p.requests():  # the retries get good answers: the orders go live
        p.rest_response(req.req_id, 200, SEED.encode(), T0 + 61 * S)
    run(p, GOOD_ORDER, GOOD_ORDER, OrderUpdate, T0 + 62 * S)

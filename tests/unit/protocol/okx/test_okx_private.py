"""okx.protocol.OkxPrivate from frames: login (accepted, refused and retried with backoff),
the channels subscribed after it, the paginated `account` snapshot, `positions` snapshot then
updates, `orders` held until the REST seed answers (then replayed unless older), values that
cannot be true (Malformed, never cached, the kind resynced), ping, re-login on reconnect."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from spinstream.credentials import Credentials
from spinstream.errors import UnsupportedError
from spinstream.protocol.events import (
    AccountUpdate,
    Authenticated,
    AuthFailed,
    BalanceUpdate,
    Fresh,
    Malformed,
    OrderUpdate,
    PositionUpdate,
    Stale,
    Subscribed,
)
from spinstream.protocol.okx import PROTOCOLS
from spinstream.protocol.okx.protocol import OkxPrivate, Session

S = 1_000_000_000
T0 = 1_800_000_000 * S  # a wall-clock ts (the login's timestamp is its seconds)
SECRET = "s3cr3t-okx"
PASS = "pass-phrase-1"
CREDS = Credentials.of("key-1", SECRET, PASS)


def frames(p: OkxPrivate) -> list[Any]:
    return [f if f == "ping" else json.loads(f) for f in p.outgoing()]


def event(**kw: Any) -> str:
    return json.dumps({"connId": "a1", **kw})


def push(channel: str, data: list[Any], event_type: str | None = None, page: int = 1,
         last: bool = True, inst_type: str = "SWAP") -> str:  # fmt: skip
    arg = {"channel": channel, "uid": "77"} | (
        {} if channel == "account" else {"instType": inst_type}
    )
    msg: dict[str, Any] = {"arg": arg}
    if event_type:
        msg.update(eventType=event_type, curPage=page, lastPage=last)
    msg["data"] = data
    return json.dumps(msg)


def detail(ccy: str, avail: str = "100", frozen: str = "0", utime: str = "1000") -> dict[str, str]:
    return {"ccy": ccy, "availBal": avail, "cashBal": avail, "frozenBal": frozen, "eq": avail,
            "uTime": utime}  # fmt: skip


def account(*details: dict[str, str], total: str = "1000", utime: str = "1000") -> dict[str, Any]:
    return {"totalEq": total, "availEq": total, "uTime": utime, "details": list(details)}


def position(pos: str = "2", utime: str = "1000", inst: str = "BTC-USDT-SWAP") -> dict[str, str]:
    return {"instId": inst, "instType": "SWAP", "pos": pos, "posSide": "net", "avgPx": "100",
            "markPx": "101", "upl": "2", "lever": "10", "uTime": utime}  # fmt: skip


def order(oid: str, state: str = "live", utime: str = "1000", sz: str = "1", px: str = "100",
          inst_type: str = "SWAP") -> dict[str, str]:  # fmt: skip
    inst = "BTC-USDT-SWAP" if inst_type == "SWAP" else "BTC-USDT"
    return {"instId": inst, "instType": inst_type, "ordId": oid, "px": px, "sz": sz,
            "ordType": "limit", "side": "buy", "state": state, "accFillSz": "0",
            "uTime": utime, "cTime": "900"}  # fmt: skip


def rest_orders(*orders: dict[str, str]) -> bytes:
    return json.dumps({"code": "0", "msg": "", "data": list(orders)}).encode()


def live(market: str = "swap", env: str = "live") -> OkxPrivate:
    """A private stream logged in, its channels subscribed and acked, the orders seed asked."""
    p = OkxPrivate(market, CREDS, env=env)
    for kind in ("account", "orders") + (() if market == "spot" else ("positions",)):
        p.subscribe(kind, None)
    p.connected(T0)
    p.outgoing()
    p.receive(event(event="login", code="0", msg=""), T0 + 1)
    p.outgoing()
    p.receive(event(event="subscribe", arg={"channel": "orders", "instType": "SWAP"}), T0 + 2)
    return p


def of(events: list[Any], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


# -- login ---------------------------------------------------------------------------------------


def test_login_frame_is_seconds_and_base64_hmac_then_channels_subscribed() -> None:
    p = OkxPrivate("swap", CREDS)
    assert p.connect_path() == "/ws/v5/private" and p.private and p.endpoint == "private"
    p.subscribe("account", None)
    assert p.connected(T0) == []
    (login,) = frames(p)
    arg = login["args"][0]
    assert login["op"] == "login" and arg["timestamp"] == "1800000000"
    mac = hmac.new(SECRET.encode(), b"1800000000GET/users/self/verify", hashlib.sha256)
    assert arg["sign"] == base64.b64encode(mac.digest()).decode()
    assert arg["apiKey"] == "key-1" and arg["passphrase"] == PASS
    out = p.receive(event(event="login", code="0", msg=""), T0 + 1)
    assert of(out, Authenticated) and p.state is Session.LIVE
    (sub,) = frames(p)
    assert sub == {"op": "subscribe", "args": [
        {"channel": "account"},
        {"channel": "positions", "instType": "SWAP"},
        {"channel": "orders", "instType": "SWAP"},
    ]}  # fmt: skip
    assert SECRET not in repr(p) and PASS not in repr(p)


def test_spot_has_no_positions_channel_and_refuses_the_kind() -> None:
    p = live("spot")
    with pytest.raises(UnsupportedError):
        p.subscribe("positions", None)
    assert PROTOCOLS[("spot", "orders")] is OkxPrivate
    assert ("spot", "positions") not in PROTOCOLS
    assert PROTOCOLS[("swap", "positions")] is OkxPrivate


def test_refused_login_is_auth_failed_stale_and_retried_after_the_backoff() -> None:
    p = OkxPrivate("swap", CREDS)
    p.subscribe("account", None)
    p.connected(T0)
    p.outgoing()
    out = p.receive(event(event="error", code="60007", msg="Invalid sign"), T0 + 1)
    (failed,) = of(out, AuthFailed)
    assert "60007" in failed.reason and SECRET not in failed.reason
    assert {s.kind for s in of(out, Stale)} == {"account", "positions", "orders"}
    assert p.state is Session.WAITING
    assert p.problem is not None and "refused" in p.problem and "retrying in 1 s" in p.problem
    p.tick(T0 + S // 2)
    assert [f for f in frames(p) if f != "ping"] == []  # not before the backoff
    p.tick(T0 + 2 * S)
    (again,) = frames(p)
    assert again["op"] == "login" and p.counters["auth_retries"] == 1
    p.receive(event(event="error", code="60007", msg="Invalid sign"), T0 + 2 * S + 1)
    assert "retrying in 2 s" in (p.problem or "")  # doubled
    p.tick(T0 + 5 * S)
    p.receive(event(event="login", code="0", msg=""), T0 + 5 * S + 1)
    assert p.state is Session.LIVE and p.problem is None


def test_reconnect_logs_in_again_and_forgets_what_was_in_flight() -> None:
    p = live()
    (req,) = p.requests()
    out = p.disconnected(T0 + S)
    assert {s.kind for s in of(out, Stale)} == {"account", "positions", "orders"}
    p.connected(T0 + 2 * S)
    (login,) = frames(p)
    assert login["op"] == "login" and login["args"][0]["timestamp"] == "1800000002"
    assert p.rest_response(req.req_id, 200, rest_orders(), T0 + 3 * S) == []  # late: dropped
    assert p.counters["late_rest"] == 1


def test_refused_login_waits_for_its_backoff_across_a_reconnect() -> None:
    p = OkxPrivate("swap", CREDS)
    p.connected(T0)
    p.receive(event(event="error", code="60024", msg="Wrong passphrase"), T0 + 1)
    p.disconnected(T0 + 2)
    p.connected(T0 + 3)
    assert p.state is Session.WAITING and frames(p) == []
    p.tick(T0 + 2 * S)
    assert frames(p)[0]["op"] == "login"


# -- account: paginated snapshot, then updates ---------------------------------------------------


def test_account_snapshot_is_fresh_only_once_its_last_page_is_in() -> None:
    p = live()
    page1 = push("account", [account(detail("USDT", "500"))], "snapshot", 1, False)
    assert p.receive(page1, T0 + 3) == []
    held = push("account", [account(detail("BTC", "2", utime="2000"), utime="2000")],
                "event_update")  # fmt: skip
    assert p.receive(held, T0 + 4) == []  # held until the snapshot is in
    page2 = push("account", [account(detail("BTC", "1"), detail("ETH", "3"))], "snapshot", 2)
    out = p.receive(page2, T0 + 5)
    (full,) = of(out, AccountUpdate)
    assert set(full.account.balances) == {"USDT", "BTC", "ETH"}
    assert full.account.balances["USDT"].free == 500 and full.account.source == "ws"
    (upd,) = of(out, BalanceUpdate)  # the held push, newer than the snapshot
    assert upd.account.balances["BTC"].free == 2
    assert [(f.kind, f.market) for f in of(out, Fresh)] == [("account", "swap")]
    after = p.receive(push("account", [account(detail("USDT", "400"))], "event_update"), T0 + 6)
    assert of(after, BalanceUpdate)[0].account.balances["USDT"].free == 400


def test_a_held_account_push_older_than_the_snapshot_is_dropped() -> None:
    p = live()
    p.receive(push("account", [account(detail("BTC", "9", utime="500"), utime="500")],
                   "event_update"), T0 + 3)  # fmt: skip
    out = p.receive(push("account", [account(detail("BTC", "1"))], "snapshot"), T0 + 4)
    assert of(out, BalanceUpdate) == [] and p.counters["held_older"] == 1
    assert of(out, AccountUpdate)[0].account.balances["BTC"].free == 1


def test_a_page_out_of_order_is_malformed_and_the_account_resubscribed() -> None:
    p = live()
    out = p.receive(push("account", [account(detail("USDT"))], "snapshot", 2), T0 + 3)
    assert of(out, Malformed) and of(out, Stale)[0].kind == "account"
    assert of(out, AccountUpdate) == []
    ops = [(f["op"], f["args"][0]["channel"]) for f in frames(p)]
    assert ops == [("unsubscribe", "account"), ("subscribe", "account")]


@pytest.mark.parametrize(
    "bad",
    [
        {"totalEq": "1000", "details": [detail("USDT", avail="NaN")]},
        {"totalEq": "1000", "details": [detail("USDT", avail="Infinity")]},
        {"totalEq": "1e999", "details": [detail("USDT")]},
        {"totalEq": "1000", "details": [detail("USDT", frozen="-5")]},  # a negative frozen balance
    ],
)
def test_impossible_account_values_are_malformed_never_cached_and_resynced(bad) -> None:
    p = live()
    p.receive(push("account", [account(detail("USDT"))], "snapshot"), T0 + 3)
    p.outgoing()
    out = p.receive(push("account", [bad], "event_update"), T0 + 4)
    assert of(out, Malformed) and not of(out, BalanceUpdate) and not of(out, AccountUpdate)
    assert of(out, Stale)[0].kind == "account" and p.counters["malformed"] == 1
    assert [f["op"] for f in frames(p)] == ["unsubscribe", "subscribe"]
    # the new snapshot makes it full again
    out = p.receive(push("account", [account(detail("USDT", "7"))], "snapshot"), T0 + 5)
    assert of(out, AccountUpdate)[0].account.balances["USDT"].free == 7 and of(out, Fresh)


# -- positions -----------------------------------------------------------------------------------


def test_positions_snapshot_then_updates() -> None:
    p = live()
    assert p.receive(push("positions", [position("5", utime="2000")], "event_update"), T0 + 3) == []
    out = p.receive(push("positions", [position("2")], "snapshot", 1, False), T0 + 4)
    assert out == []
    out = p.receive(
        push("positions", [position("-1", inst="ETH-USDT-SWAP")], "snapshot", 2), T0 + 5
    )
    full, held = of(out, PositionUpdate)
    assert full.full and {(x.symbol, x.size) for x in full.positions} == {
        ("BTC-USDT-SWAP", 2.0), ("ETH-USDT-SWAP", -1.0)}  # fmt: skip
    assert not held.full and held.positions[0].size == 5.0  # newer than the snapshot
    assert of(out, Fresh)[0].kind == "positions"
    out = p.receive(push("positions", [position("0", utime="3000")], "event_update"), T0 + 6)
    (upd,) = of(out, PositionUpdate)
    assert not upd.full and upd.positions[0].size == 0.0 and upd.positions[0].source == "ws"


def test_impossible_position_values_are_malformed() -> None:
    p = live()
    p.receive(push("positions", [], "snapshot"), T0 + 3)
    bad = position() | {"avgPx": "NaN"}
    out = p.receive(push("positions", [bad], "event_update"), T0 + 4)
    assert of(out, Malformed) and not of(out, PositionUpdate)
    assert of(out, Stale)[0].kind == "positions"


# -- orders: REST seed, pushes held ------------------------------------------------------------


def test_orders_held_until_the_rest_seed_answers_then_replayed_unless_older() -> None:
    p = live()
    (req,) = p.requests()
    assert req.path == "/api/v5/trade/orders-pending" and "instType=SWAP" in req.query
    assert "OK-ACCESS-SIGN" in req.headers and "x-simulated-trading" not in req.headers
    older = order("1", state="live", utime="500", sz="3")  # the seed has a later state
    newer = order("2", state="canceled", utime="3000")
    fresh = order("3", utime="3000")
    assert p.receive(push("orders", [older]), T0 + 3) == []
    assert p.receive(push("orders", [newer, fresh]), T0 + 4) == []
    assert p.counters["buffered"] == 2
    out = p.rest_response(req.req_id, 200, rest_orders(order("1"), order("2")), T0 + 5)
    seed, replay = of(out, OrderUpdate)
    assert seed.full and {o.order_id for o in seed.orders} == {"1", "2"}
    assert all(o.source == "rest" for o in seed.orders)
    assert {(o.order_id, o.status) for o in replay.orders} == {("2", "canceled"), ("3", "new")}
    assert of(out, Fresh)[0].kind == "orders"
    out = p.receive(push("orders", [order("4")]), T0 + 6)
    assert of(out, OrderUpdate)[0].orders[0].source == "ws"


def test_orders_seed_pages_by_after() -> None:
    p = live()
    (req,) = p.requests()
    page = [order(str(1000 - i)) for i in range(100)]
    assert p.rest_response(req.req_id, 200, rest_orders(*page), T0 + 3) == []
    (nxt,) = p.requests()
    assert "after=901" in nxt.query
    out = p.rest_response(nxt.req_id, 200, rest_orders(order("5")), T0 + 4)
    assert len(of(out, OrderUpdate)[0].orders) == 101


def test_a_failed_seed_is_stale_and_asked_again() -> None:
    p = live()
    (req,) = p.requests()
    body = json.dumps({"code": "50011", "msg": "Too Many Requests", "data": []}).encode()
    out = p.rest_response(req.req_id, 429, body, T0 + 3)
    assert of(out, Stale)[0].kind == "orders" and p.counters["seed_failed"] == 1
    p.tick(T0 + 4 * S)
    assert p.requests() == []
    p.tick(T0 + 9 * S)
    (again,) = p.requests()
    out = p.rest_response(again.req_id, 200, rest_orders(), T0 + 10 * S)
    assert of(out, OrderUpdate)[0].full


def test_impossible_order_values_are_malformed_and_reseeded() -> None:
    p = live()
    (req,) = p.requests()
    p.rest_response(req.req_id, 200, rest_orders(), T0 + 3)
    out = p.receive(push("orders", [order("9", sz="-1")]), T0 + 4)
    assert of(out, Malformed) and not of(out, OrderUpdate)
    assert of(out, Stale)[0].kind == "orders"
    (reseed,) = p.requests()
    assert reseed.path == "/api/v5/trade/orders-pending"
    bad = p.rest_response(reseed.req_id, 200, rest_orders(order("9", px="NaN")), T0 + 5)
    assert of(bad, Stale) and not of(bad, OrderUpdate)  # a bad seed page: never cached


def test_demo_seed_carries_the_simulated_trading_header() -> None:
    p = live(env="demo")
    (req,) = p.requests()
    assert req.headers["x-simulated-trading"] == "1"


# -- keepalive, junk -----------------------------------------------------------------------------


def test_text_ping_when_quiet_and_pong_counted() -> None:
    p = live()
    p.outgoing()
    p.tick(T0 + 25 * S)
    assert p.outgoing() == ["ping"]
    assert p.receive("pong", T0 + 26 * S) == [] and p.counters["pongs"] == 1


def test_junk_is_malformed_and_subscribe_acks_are_reported() -> None:
    p = live()
    assert of(p.receive("{not json", T0 + 3), Malformed)
    out = p.receive(event(event="subscribe", arg={"channel": "account"}), T0 + 4)
    assert of(out, Subscribed)
    err = p.receive(event(event="error", code="60018", msg="Wrong URL",
                          arg={"channel": "positions", "instType": "SWAP"}), T0 + 5)  # fmt: skip
    assert of(err, Stale)[0].kind == "positions" and "60018" in (p.problem or "")

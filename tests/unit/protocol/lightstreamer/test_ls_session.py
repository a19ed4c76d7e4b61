"""LightstreamerSession: opening, CONOK, keepalive, LOOP rebind, END/CONERR/ERROR, limits."""

from __future__ import annotations

import tracemalloc
from unittest.mock import ANY
from urllib.parse import quote

import pytest

from spinstream.errors import ConfigError, ProtocolError
from spinstream.protocol.events import Malformed
from spinstream.protocol.lightstreamer import (
    ItemUpdate,
    LightstreamerSession,
    Rebinding,
    ServerConnError,
    ServerError,
    SessionDead,
    SessionEnded,
    SessionStarted,
    State,
    Subscribed,
    SubscriptionFailed,
    SubscriptionLimit,
    Unsubscribed,
    codec,
)

S = 1_000_000_000
MS = 1_000_000
ACCT, CST, XST = "ABC123", "cst-Tok3n", "xst-T0ken"
CID = "mgQkwtwdysogQz2BJ4Ji%20kOj2Bg"
CONOK = "CONOK,S1,50000,5000,*"


def make(**kw: object) -> LightstreamerSession:
    kw.setdefault("password", f"CST-{CST}|XST-{XST}")
    kw.setdefault("user", ACCT)
    kw.setdefault("adapter_set", "DEFAULT")
    return LightstreamerSession(**kw)  # type: ignore[arg-type]


def opened(s: LightstreamerSession, ts: int = 0, conok: str = CONOK) -> list[object]:
    s.connected(ts)
    s.outgoing()
    return list(s.receive(f"WSOK\r\n{conok}\r\n", ts))


def market(s: LightstreamerSession, epic: str = "CS.D.EURUSD.CFD.IP") -> int:
    return s.subscribe([f"MARKET:{epic}"], ["BID", "OFFER"], "MERGE")


# -- opening --------------------------------------------------------------------------------------


def test_opening_is_byte_for_byte_1_0_3() -> None:
    s = make()
    assert s.connected(0) == []
    assert s.state is State.OPENING
    assert s.outgoing() == [
        "wsok",
        "create_session\r\nLS_adapter_set=DEFAULT&LS_user=ABC123&LS_cid=" + CID
        + "&LS_send_sync=false&LS_cause=api&LS_password=CST-cst-Tok3n%7CXST-xst-T0ken",
    ]  # fmt: skip
    assert s.outgoing() == []  # drained


def test_opening_like_trading_ig_and_with_keepalive() -> None:
    s = LightstreamerSession(password="CST-a|XST-b", keepalive_ms=5000, inactivity_ms=20000)
    s.connected(0)
    assert s.outgoing()[1] == (
        "create_session\r\nLS_keepalive_millis=5000&LS_inactivity_millis=20000&LS_cid=" + CID
        + "&LS_send_sync=false&LS_cause=api&LS_password=CST-a%7CXST-b"
    )  # fmt: skip


def test_password_never_in_repr() -> None:
    s = make()
    assert CST not in repr(s) and XST not in repr(s.__dict__)


def test_conok_then_subscriptions() -> None:
    s = make()
    sub = market(s)
    s.connected(0)
    assert len(s.outgoing()) == 2  # nothing but the opening before CONOK
    events = s.receive("WSOK\r\nCONOK,S6e4a,50000,5000,*\r\nSERVNAME,IG\r\nCLIENTIP,1.2.3.4\r\n", 1)
    assert events == [
        SessionStarted(
            session_id="S6e4a", keepalive_ms=5000, control_link=None, request_limit=50000, ts=1
        )
    ]
    assert s.state is State.ACTIVE and s.session_id == "S6e4a"
    assert (s.server_name, s.client_ip) == ("IG", "1.2.3.4")
    assert s.outgoing() == [
        "control\r\nLS_reqId=1&LS_op=add&LS_subId=1&LS_mode=MERGE"
        "&LS_group=MARKET%3ACS.D.EURUSD.CFD.IP&LS_schema=BID%20OFFER&LS_snapshot=true&LS_ack=false"
    ]
    assert s.receive("SUBOK,1,1,2\r\nU,1,1,1.1|1.2", 2) == [
        Subscribed(sub_id=sub, n_items=1, n_fields=2, ts=2),
        ItemUpdate(
            sub_id=sub, item_name="MARKET:CS.D.EURUSD.CFD.IP", item_pos=1,
            fields={"BID": "1.1", "OFFER": "1.2"}, changed=frozenset({"BID", "OFFER"}),
            snapshot=True, ts=2,
        ),
    ]  # fmt: skip
    # a subscription made while active goes out at once
    s.subscribe(["PRICE:ABC123:X"], ["BIDPRICE1"], "MERGE", adapter="Pricing")
    assert s.outgoing() == [
        "control\r\nLS_reqId=2&LS_op=add&LS_subId=2&LS_mode=MERGE&LS_group=PRICE%3AABC123%3AX"
        "&LS_schema=BIDPRICE1&LS_data_adapter=Pricing&LS_snapshot=true&LS_ack=false"
    ]


def test_controls_are_batched_within_the_request_limit() -> None:
    s = make()
    for epic in ("A", "B", "C"):
        market(s, epic)
    opened(s)
    (frame,) = s.outgoing()
    lines = frame.split("\r\n")
    assert lines[0] == "control" and len(lines) == 4
    assert [codec.parse_request(frame).params[i]["LS_group"] for i in range(3)] == [
        "MARKET:A", "MARKET:B", "MARKET:C",
    ]  # fmt: skip
    # a small request limit splits the batch; batch=False never batches
    small = make()
    for epic in ("A", "B", "C"):
        market(small, epic)
    one = len(codec.control_add(1, 1, "MERGE", ["MARKET:A"], ["BID", "OFFER"], snapshot=True))
    opened(small, conok=f"CONOK,S1,{2 * one - len('control')},5000,*")
    assert [f.count("\r\n") for f in small.outgoing()] == [2, 1]
    plain = make(batch=False)
    market(plain, "A")
    market(plain, "B")
    opened(plain)
    assert len(plain.outgoing()) == 2


def test_conok_before_wsok_is_tolerated() -> None:
    s = make()
    s.connected(0)
    assert isinstance(s.receive(CONOK, 0)[0], SessionStarted)
    assert s.counters["conok_before_wsok"] == 1


def test_info_lines_update_state_without_events() -> None:
    s = make()
    opened(s)
    lines = ["CONS,unlimited", "PROG,3", "SYNC,10", "NOOP", "PROBE", "REQOK", "REQOK,1"]
    frame = "\r\n".join([*lines, "MSGDONE,*,1", "MSGFAIL,s,1,2,x"])
    assert s.receive(frame, 1) == []
    assert (s.bandwidth, s.prog) == ("unlimited", 3)


def test_malformed_lines_never_raise_and_the_rest_still_counts() -> None:
    s = make()
    sub = market(s)
    opened(s)
    s.receive("SUBOK,1,1,2", 1)
    events = s.receive("GARBAGE\r\nU,1,1,a|b\r\nU,1,9,a|b\r\nU,1,1,a\r\nCONOK,S1,1,1,*", 2)
    assert [type(e) for e in events] == [Malformed, ItemUpdate, Malformed, Malformed, Malformed]
    assert isinstance(events[1], ItemUpdate) and events[1].sub_id == sub
    assert s.receive(b"\xff\xfe", 3) == [
        Malformed(venue="lightstreamer", reason="frame is not UTF-8", ts_recv=3)
    ]
    assert s.counters["malformed"] == 5
    assert s.receive(b"U,1,1,c|", 4)[0].fields == {"BID": "c", "OFFER": "b"}  # type: ignore[union-attr]


def test_oversized_unchanged_run_and_deep_json_patch_are_malformed_lines() -> None:
    """Issue 9 defect 5: both arrive as the codec's ParseError, counted, the session lives on."""
    s = make()
    sub = market(s)
    opened(s)
    s.receive("SUBOK,1,1,2", 1)
    (first,) = s.receive('U,1,1,{"a":0}|x', 2)
    assert isinstance(first, ItemUpdate) and first.fields == {"BID": '{"a":0}', "OFFER": "x"}
    tracemalloc.start()
    try:
        events = s.receive("U,1,1,^99999999", 3)  # 2 fields: refused before 100M slots
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    deep = quote('[{"op":"add","path":"/a","value":' + "[" * 999 + "]" * 999 + "}]", safe="")
    events += s.receive(f"U,1,1,a|^3\r\nU,1,1,^P{deep}|\r\nU,1,7,^99999999", 4)
    assert [type(e) for e in events] == [Malformed] * 4
    assert "fields" in events[0].reason and "deep" in events[2].reason  # type: ignore[attr-defined]
    assert s.counters["malformed"] == 4 and s.counters["errors"] == 0
    (ok,) = s.receive("U,1,1,^2", 5)  # the item's values are untouched and still update
    assert isinstance(ok, ItemUpdate) and ok.sub_id == sub
    assert ok.fields == {"BID": '{"a":0}', "OFFER": "x"}
    unknown_sub = s.receive("U,9,1,^99999999", 6)  # no field count: MAX_FIELDS bounds it
    assert unknown_sub == [Malformed(venue="lightstreamer", reason=ANY, ts_recv=6)]


def test_update_for_unknown_subscription_is_ignored() -> None:
    s = make()
    opened(s)
    assert s.receive("U,7,1,a", 1) == []
    assert s.counters["unknown_sub"] == 1


# -- keepalive ------------------------------------------------------------------------------------


def test_probe_keeps_alive_and_silence_kills() -> None:
    s = make()
    market(s)
    opened(s, ts=0)  # keepalive 5000 ms, margin 5000 ms
    assert s.tick(9 * S) == []
    s.receive("PROBE\r\n", 9 * S)
    assert s.tick(18 * S) == []  # 9 s after the PROBE
    events = s.tick(19 * S)
    assert events == [SessionDead(reason="no data for 10000 ms", ts=19 * S)]
    assert s.reconnect_wanted and s.state is State.DEAD
    assert s.tick(30 * S) == []  # reported once
    assert s.disconnected(31 * S) == []
    assert s.state is State.DISCONNECTED


def test_no_conok_within_open_timeout() -> None:
    s = make(open_timeout_ms=3000)
    s.connected(0)
    s.receive("WSOK", 1 * S)
    assert s.tick(2 * S) == []
    assert s.tick(3 * S) == [SessionDead(reason="no CONOK within 3000 ms", ts=3 * S)]
    assert s.reconnect_wanted


def test_reverse_heartbeat() -> None:
    s = make(inactivity_ms=4000)
    opened(s)
    assert s.tick(1 * S) == [] and s.outgoing() == []
    s.tick(2 * S)
    assert s.outgoing() == ["heartbeat\r\n\r\n"]
    s.tick(3 * S)
    assert s.outgoing() == []


def test_resubscribe_after_reconnect_with_new_request_ids() -> None:
    s = make()
    a = market(s, "A")
    b = s.subscribe(["CHART:X:TICK"], ["BID", "OFR"], "DISTINCT")
    opened(s)
    first = codec.parse_request(s.outgoing()[0]).params
    assert [p["LS_reqId"] for p in first] == ["1", "2"]
    s.receive("SUBOK,1,1,2\r\nSUBOK,2,1,2\r\nU,1,1,1|2", 1)
    s.tick(20 * S)  # dead
    s.disconnected(20 * S)
    s.connected(21 * S)
    out = s.outgoing()
    assert out[0] == "wsok"
    assert out[1] == (
        "create_session\r\nLS_adapter_set=DEFAULT&LS_user=ABC123&LS_cid=" + CID
        + "&LS_old_session=S1&LS_send_sync=false&LS_cause=ws.stalled"
        "&LS_password=CST-cst-Tok3n%7CXST-xst-T0ken"
    )  # fmt: skip
    assert s.values(a, 1) == {}  # state from the dead session is gone
    events = s.receive("WSOK\r\nCONOK,S2,50000,5000,*", 22 * S)
    assert events[0].session_id == "S2" and not events[0].rebound  # type: ignore[union-attr]
    again = codec.parse_request(s.outgoing()[0]).params
    assert [(p["LS_reqId"], p["LS_subId"]) for p in again] == [("3", str(a)), ("4", str(b))]
    assert s.receive("SUBOK,1,1,2\r\nU,1,1,5|6", 23 * S)[1].snapshot  # type: ignore[union-attr]


def test_unexpected_close_is_dead_and_recreates() -> None:
    s = make()
    market(s)
    opened(s)
    assert s.disconnected(5 * S) == [SessionDead(reason="connection closed", ts=5 * S)]
    assert s.reconnect_wanted and s.state is State.DISCONNECTED
    s.connected(6 * S)
    assert "LS_old_session=S1" in s.outgoing()[1] and not s.reconnect_wanted
    assert s.disconnected(7 * S) == [SessionDead(reason="connection closed before CONOK", ts=7 * S)]


def test_connected_twice_is_a_transport_bug() -> None:
    s = make()
    s.connected(0)
    with pytest.raises(ProtocolError):
        s.connected(1)


# -- LOOP -----------------------------------------------------------------------------------------


def test_loop_rebinds_the_same_session() -> None:
    s = make()
    a = market(s, "A")
    b = market(s, "B")
    opened(s)
    s.outgoing()
    s.receive("SUBOK,1,1,2\r\nSUBOK,2,1,2\r\nU,1,1,1|2", 1)
    events = s.receive("LOOP,0\r\nU,2,1,3|4\r\nEND,31,x", 2)
    assert events[0] == Rebinding(session_id="S1", delay_ms=0, ts=2)
    assert isinstance(events[1], ItemUpdate)  # data of the same session still counts
    assert len(events) == 2  # a session line after LOOP does not
    assert s.state is State.REBIND and s.reconnect_wanted
    c = market(s, "C")  # made while rebinding: sent after the bind
    s.unsubscribe(b)  # owed a delete after the bind
    assert s.disconnected(3) == []
    s.connected(4)
    assert s.outgoing() == [
        "wsok",
        "bind_session\r\nLS_session=S1&LS_send_sync=false&LS_cause=ws.loop",
    ]
    assert s.state is State.BINDING
    events = s.receive("WSOK\r\nCONOK,S1,50000,5000,*", 5)
    assert events[0].rebound  # type: ignore[union-attr]
    sent = codec.parse_request(s.outgoing()[0]).params
    assert [(p["LS_op"], p["LS_subId"]) for p in sent] == [("delete", str(b)), ("add", str(c))]
    # the kept subscription continues from its old state: unchanged markers still resolve
    assert s.receive("U,1,1,|9", 6)[0].fields == {"BID": "1", "OFFER": "9"}  # type: ignore[union-attr]
    assert s.receive("UNSUB,2", 7) == [Unsubscribed(sub_id=b, ts=7)]
    assert set(s.subscriptions) == {a, c}


def test_refused_rebind_falls_back_to_a_new_session() -> None:
    s = make()
    market(s)
    opened(s)
    s.receive("LOOP,0", 1)
    s.disconnected(2)
    s.connected(3)
    s.outgoing()
    events = s.receive("WSOK\r\nCONERR,20,session%20not%20found", 4)
    assert events == [
        ServerConnError(code=20, message="session not found", ts=4),
        SessionDead(reason="rebind refused (20)", ts=4),
    ]
    assert s.reconnect_wanted
    s.disconnected(5)
    s.connected(6)
    assert s.outgoing()[1].startswith("create_session\r\n")
    s.receive(CONOK, 7)
    assert codec.parse_request(s.outgoing()[0]).params[0]["LS_op"] == "add"


def test_loop_before_conok_is_malformed() -> None:
    s = make()
    s.connected(0)
    assert isinstance(s.receive("LOOP,0", 1)[0], Malformed)


# -- END / CONERR / ERROR -------------------------------------------------------------------------


def test_end_ends_the_session() -> None:
    s = make()
    market(s)
    opened(s)
    assert s.receive("END,48,Session%20closed%2C%20bye\r\nU,1,1,a|b", 1) == [
        SessionEnded(code=48, message="Session closed, bye", ts=1)
    ]
    assert s.state is State.ENDED and not s.reconnect_wanted
    assert s.tick(60 * S) == []
    assert s.disconnected(2) == []
    # the caller may start over (say, with fresh IG tokens): a new session, subscriptions re-added
    s.set_password("CST-new|XST-new")
    s.connected(3)
    create = s.outgoing()[1]
    assert "LS_password=CST-new%7CXST-new" in create and "LS_old_session" not in create


@pytest.mark.parametrize(
    "line",
    [
        "CONERR,65,Unsupported protocol version: 2.5.0",
        "CONERR,65,Unsupported%20protocol%20version%3A%202.5.0",
    ],
)
def test_conerr_65(line: str) -> None:
    s = make()
    s.connected(0)
    assert s.receive("WSOK\r\n" + line, 1) == [
        ServerConnError(code=65, message="Unsupported protocol version: 2.5.0", ts=1)
    ]
    assert s.state is State.ENDED and not s.reconnect_wanted


def test_error_is_fatal() -> None:
    s = make()
    opened(s)
    assert s.receive("ERROR,1,bad%20request", 1) == [
        ServerError(code=1, message="bad request", ts=1)
    ]
    assert s.state is State.ENDED


def test_destroy() -> None:
    s = make()
    opened(s)
    s.destroy(1)
    assert s.outgoing() == ["control\r\nLS_reqId=1&LS_op=destroy&LS_close_socket=true&LS_cause=api"]
    assert s.disconnected(2) == []  # the close we asked for is not a dead session
    assert s.state is State.DISCONNECTED and not s.reconnect_wanted
    t = make()
    opened(t)
    t.destroy(1)
    assert t.receive("END,31,Destroyed", 2) == [SessionEnded(code=31, message="Destroyed", ts=2)]


# -- subscriptions: failures, unsubscribe, the limit ----------------------------------------------


def test_reqerr_for_a_subscription() -> None:
    s = make(max_subscriptions=2)
    a = market(s, "A")
    b = market(s, "B")
    opened(s)
    s.outgoing()
    assert s.receive("REQERR,2,17,Data%20Adapter%20not%20found", 1) == [
        SubscriptionFailed(sub_id=b, code=17, message="Data Adapter not found", ts=1)
    ]
    assert set(s.subscriptions) == {a}
    market(s, "C")  # the failed one freed its slot
    s.outgoing()
    assert s.receive("REQERR,99,1,unknown", 2) == []  # a request we never made
    s.unsubscribe(a)
    assert s.outgoing() == ["control\r\nLS_reqId=4&LS_subId=1&LS_op=delete&LS_ack=false"]
    assert s.receive("REQERR,4,2,no", 3) == []  # a refused delete: nothing to report


def test_unsubscribe_and_server_unsub() -> None:
    s = make()
    a = market(s, "A")
    b = market(s, "B")
    opened(s)
    s.outgoing()
    s.receive("SUBOK,1,1,2\r\nSUBOK,2,1,2", 1)
    s.unsubscribe(a)
    assert s.outgoing() == ["control\r\nLS_reqId=3&LS_subId=1&LS_op=delete&LS_ack=false"]
    assert s.receive("U,1,1,x|y", 2) == []  # events stop at once
    assert s.receive("UNSUB,1", 3) == [Unsubscribed(sub_id=a, ts=3)]
    assert s.receive("UNSUB,2", 4) == [Unsubscribed(sub_id=b, ts=4)]  # the server's own
    assert s.subscriptions == {} and s.receive("UNSUB,2", 5) == []
    s.unsubscribe(12345)  # unknown: no-op
    c = market(s, "C")
    s.unsubscribe(c)  # active: the add is already queued, so a delete follows it
    (frame,) = s.outgoing()
    assert [p["LS_op"] for p in codec.parse_request(frame).params] == ["add", "delete"]


def test_unsubscribe_before_connect_sends_nothing() -> None:
    s = make()
    a = market(s)
    s.unsubscribe(a)
    opened(s)
    assert s.outgoing() == []


def test_subscription_limit_40() -> None:
    s = make()
    opened(s)
    ids = [market(s, f"E{i}") for i in range(40)]
    s.outgoing()
    with pytest.raises(SubscriptionLimit, match="at most 40") as info:
        market(s, "E40")
    assert isinstance(info.value, ConfigError) and info.value.limit == 40
    assert s.outgoing() == []  # nothing was sent
    assert len(s.subscriptions) == 40
    s.unsubscribe(ids[0])
    market(s, "E40")
    (frame,) = s.outgoing()
    assert [p["LS_op"] for p in codec.parse_request(frame).params] == ["delete", "add"]
    with pytest.raises(ConfigError):
        LightstreamerSession(max_subscriptions=0)


def test_subscribe_validates() -> None:
    s = make()
    for args in (
        ([], ["F"], "MERGE"),
        (["A B"], ["F"], "MERGE"),
        (["A"], [], "MERGE"),
        (["A"], ["F"], "FAST"),
    ):
        with pytest.raises(ValueError):
            s.subscribe(*args)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        s.subscribe(["A"], ["F"], "RAW", snapshot=True)
    with pytest.raises(ValueError):
        s.subscribe(["A"], ["F"], "MERGE", snapshot=5)
    with pytest.raises(ValueError):
        s.subscribe(["A"], ["F"], "DISTINCT", snapshot=0)
    assert s.subscriptions == {}


def test_control_link_is_exposed() -> None:
    s = make()
    events = opened(s, conok="CONOK,S1,50000,5000,push2.example.com")
    assert isinstance(events[0], SessionStarted)
    assert events[0].control_link == "push2.example.com" == s.control_link
    url = codec.complete_control_link(s.control_link, "wss://h:443")
    assert url == "wss://push2.example.com:443"


def test_requests_and_rest_are_empty() -> None:
    s = make()
    assert s.requests() == [] and s.rest_response(1, 200, b"", 0) == []

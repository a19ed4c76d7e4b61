"""Subscription modes through a session: MERGE, DISTINCT, COMMAND, RAW; EOS, CS, OV, CONF."""

from __future__ import annotations

import pytest

from spinstream.protocol.events import Malformed
from spinstream.protocol.lightstreamer import (
    ClearSnapshot,
    EndOfSnapshot,
    ItemUpdate,
    LightstreamerSession,
    Overflow,
    Subscribed,
    SubscriptionConfigured,
    codec,
)
from spinstream.protocol.lightstreamer.subscription import Subscription


def active(*subs: tuple[list[str], list[str], str, dict[str, object]]) -> LightstreamerSession:
    s = LightstreamerSession(password="CST-a|XST-b")
    for items, fields, mode, kw in subs:
        s.subscribe(items, fields, mode, **kw)  # type: ignore[arg-type]
    s.connected(0)
    s.outgoing()
    s.receive("WSOK\r\nCONOK,S1,50000,5000,*", 0)
    return s


def updates(events: list[object]) -> list[ItemUpdate]:
    assert all(isinstance(e, ItemUpdate) for e in events), events
    return events  # type: ignore[return-value]


# -- MERGE ----------------------------------------------------------------------------------------

FIELDS = ["BID", "OFFER", "HIGH", "LOW", "MARKET_STATE"]


def test_merge_values_and_markers() -> None:
    s = active((["MARKET:A", "MARKET:B"], FIELDS, "MERGE", {}))
    assert s.receive("SUBOK,1,2,5", 1) == [Subscribed(sub_id=1, n_items=2, n_fields=5, ts=1)]
    (u,) = updates(s.receive("U,1,1,1.10|1.20|#|$|TRADEABLE", 2))
    assert u.snapshot and u.item_name == "MARKET:A" and u.item_pos == 1
    assert u.fields == {
        "BID": "1.10",
        "OFFER": "1.20",
        "HIGH": None,
        "LOW": "",
        "MARKET_STATE": "TRADEABLE",
    }
    assert u.changed == frozenset(FIELDS)
    # unchanged, ^n, null, empty, percent-encoded, a leading-# literal
    (u,) = updates(s.receive("U,1,1,1.11||^2|EDIT%7Cx%20y", 3))
    assert not u.snapshot
    assert u.fields == {
        "BID": "1.11",
        "OFFER": "1.20",
        "HIGH": None,
        "LOW": "",
        "MARKET_STATE": "EDIT|x y",
    }
    assert u.changed == {"BID", "MARKET_STATE"}
    (u,) = updates(s.receive("U,1,1,^3|#|%23", 4))
    assert u.fields["LOW"] is None and u.fields["MARKET_STATE"] == "#"
    assert u.changed == {"LOW", "MARKET_STATE"}
    (u,) = updates(s.receive("U,1,1,1.11|||$|", 5))  # an explicit same value is not a change
    assert u.changed == {"LOW"}
    # items are independent; the other item's first update is its snapshot
    (u,) = updates(s.receive("U,1,2,2|3|4|5|6", 6))
    assert u.snapshot and u.item_name == "MARKET:B"
    assert s.values(1, 1) == {
        "BID": "1.11",
        "OFFER": "1.20",
        "HIGH": None,
        "LOW": "",
        "MARKET_STATE": "#",
    }
    assert s.values(1, 9) == {} and s.values(9, 1) == {}


def test_merge_without_snapshot_and_eos() -> None:
    s = active((["MARKET:A"], ["BID"], "MERGE", {"snapshot": False}))
    (frame,) = s.outgoing()
    assert "&LS_snapshot=false&" in frame
    s.receive("SUBOK,1,1,1", 1)
    assert not updates(s.receive("U,1,1,1", 2))[0].snapshot
    t = active((["MARKET:A"], ["BID"], "MERGE", {}))
    t.receive("SUBOK,1,1,1", 1)
    assert t.receive("EOS,1,1", 2) == [
        EndOfSnapshot(sub_id=1, item_name="MARKET:A", item_pos=1, ts=2)
    ]
    assert not updates(t.receive("U,1,1,1", 3))[0].snapshot  # EOS ended it before any update


def test_merge_clear_snapshot_keeps_the_wire_baseline() -> None:
    s = active((["MARKET:A"], ["BID", "OFFER"], "MERGE", {}))
    s.receive("SUBOK,1,1,2\r\nU,1,1,1|2", 1)
    assert s.receive("CS,1,1", 2) == [
        ClearSnapshot(sub_id=1, item_name="MARKET:A", item_pos=1, ts=2)
    ]
    assert s.values(1, 1) == {}
    (u,) = updates(s.receive("U,1,1,3|", 3))
    assert u.fields == {"BID": "3", "OFFER": "2"} and u.changed == {"BID", "OFFER"}


def test_json_patch_and_diff_updates() -> None:
    s = active((["TRADE:ACC"], ["OPU", "TEXT"], "MERGE", {}))
    s.receive("SUBOK,1,1,2", 1)
    s.receive('U,1,1,{"dealId":"D1"%2C"size":1}|hello world', 2)
    patch = codec.json_patch_token([{"op": "replace", "path": "/size", "value": 2}])
    diff = codec.diff_token("hello world", "hello there")
    (u,) = updates(s.receive(f"U,1,1,{patch}|{diff}", 3))
    assert u.fields == {"OPU": '{"dealId":"D1","size":2}', "TEXT": "hello there"}
    assert u.changed == {"OPU", "TEXT"}
    bad = s.receive("U,1,1,^P%5B%7B%22op%22%3A%22remove%22%2C%22path%22%3A%22%2Fx%22%7D%5D|", 4)
    assert isinstance(bad[0], Malformed)


# -- DISTINCT -------------------------------------------------------------------------------------


def test_distinct_snapshot_until_eos_and_clear() -> None:
    s = active((["CHART:X:TICK"], ["BID", "OFR", "UTM"], "DISTINCT", {"snapshot": 2}))
    (frame,) = s.outgoing()
    assert "&LS_mode=DISTINCT&" in frame and "&LS_snapshot=2&" in frame
    s.receive("SUBOK,1,1,3", 1)
    a, b = updates(s.receive("U,1,1,1|2|100\r\nU,1,1,1.5||101", 2))
    assert a.snapshot and b.snapshot
    assert b.fields == {"BID": "1.5", "OFR": "2", "UTM": "101"} and b.changed == {"BID", "UTM"}
    assert s.receive("EOS,1,1", 3) == [
        EndOfSnapshot(sub_id=1, item_name="CHART:X:TICK", item_pos=1, ts=3)
    ]
    (c,) = updates(s.receive("U,1,1,|^2", 4))  # the same values again: still one event
    assert not c.snapshot and c.changed == frozenset() and c.fields["UTM"] == "101"
    assert isinstance(s.receive("CS,1,1", 5)[0], ClearSnapshot)
    (d,) = updates(s.receive("U,1,1,2||", 6))
    assert d.fields == {"BID": "2", "OFR": "2", "UTM": "101"} and d.changed == {"BID", "OFR", "UTM"}


def test_distinct_request_line() -> None:
    s = active((["CHART:X:TICK"], ["BID"], "DISTINCT", {"snapshot": 10}))
    (frame,) = s.outgoing()
    assert frame.endswith(
        "&LS_mode=DISTINCT&LS_group=CHART%3AX%3ATICK&LS_schema=BID&LS_snapshot=10&LS_ack=false"
    )


# -- COMMAND --------------------------------------------------------------------------------------


def test_command_rows() -> None:
    s = active((["PORTFOLIO"], ["key", "command", "qty", "price"], "COMMAND", {}))
    assert s.receive("SUBCMD,1,1,4,1,2", 1) == [Subscribed(sub_id=1, n_items=1, n_fields=4, ts=1)]
    a, b = updates(s.receive("U,1,1,K1|ADD|10|1.5\r\nU,1,1,K2||20|", 2))
    assert a.fields == {"key": "K1", "command": "ADD", "qty": "10", "price": "1.5"}
    assert b.fields == {"key": "K2", "command": "ADD", "qty": "20", "price": "1.5"}  # unchanged
    assert a.snapshot and b.changed == {"key", "command", "qty", "price"}
    s.receive("EOS,1,1", 3)
    # UPDATE of K1 (unchanged markers refer to the item's last update, K2's)
    (u,) = updates(s.receive("U,1,1,K1|UPDATE|11|", 4))
    assert u.fields == {"key": "K1", "command": "UPDATE", "qty": "11", "price": "1.5"}
    assert u.changed == {"command", "qty"} and not u.snapshot
    # an ADD for a known key is an UPDATE (1.0.3); an UPDATE for a new key is an ADD
    (u,) = updates(s.receive("U,1,1,K1|ADD|12|", 5))
    assert u.fields["command"] == "UPDATE" and u.changed == {"qty"}
    (u,) = updates(s.receive("U,1,1,K3|UPDATE|1|1", 6))
    assert u.fields["command"] == "ADD"
    assert set(s.rows(1, 1)) == {"K1", "K2", "K3"}
    # DELETE: every field but key and command is null
    (u,) = updates(s.receive("U,1,1,K2|DELETE|#|#", 7))
    assert u.fields == {"key": "K2", "command": "DELETE", "qty": None, "price": None}
    assert u.changed == {"command", "qty", "price"}
    (u,) = updates(s.receive("U,1,1,K9|DELETE|#|#", 8))  # unknown key
    assert u.changed == {"key", "command", "qty", "price"}
    assert s.rows(1, 1) == {
        "K1": {"key": "K1", "command": "UPDATE", "qty": "12", "price": "1.5"},
        "K3": {"key": "K3", "command": "ADD", "qty": "1", "price": "1"},
    }
    # CS empties the item
    assert isinstance(s.receive("CS,1,1", 9)[0], ClearSnapshot)
    assert s.rows(1, 1) == {}
    (u,) = updates(s.receive("U,1,1,K1|UPDATE|^2", 10))  # the baseline is K9's DELETE line
    assert u.fields == {"key": "K1", "command": "ADD", "qty": None, "price": None}


def test_command_positions_from_subcmd_and_fallback() -> None:
    s = active((["P"], ["qty", "command", "id"], "COMMAND", {}))
    s.receive("SUBCMD,1,1,3,3,2", 1)  # key is the 3rd field, command the 2nd
    (u,) = updates(s.receive("U,1,1,5|ADD|X", 2))
    assert (
        s.rows(1, 1) == {"X": {"qty": "5", "command": "ADD", "id": "X"}} and u.fields["id"] == "X"
    )
    t = active((["P"], ["Key", "Command", "v"], "COMMAND", {}))
    t.receive("SUBOK,1,1,3", 1)  # no positions: the conventional names
    t.receive("U,1,1,A|ADD|1", 2)
    assert set(t.rows(1, 1)) == {"A"}
    bad = active((["P"], ["a", "b"], "COMMAND", {}))
    assert isinstance(bad.receive("SUBOK,1,1,2", 1)[0], Malformed)
    worse = active((["P"], ["a", "b"], "COMMAND", {}))
    assert isinstance(worse.receive("SUBCMD,1,1,2,1,1", 1)[0], Malformed)
    keyless = active((["P"], ["key", "command"], "COMMAND", {}))
    keyless.receive("SUBCMD,1,1,2,1,2", 1)
    assert isinstance(keyless.receive("U,1,1,#|ADD", 2)[0], Malformed)


# -- RAW ------------------------------------------------------------------------------------------


def test_raw() -> None:
    s = active((["i1", "i2"], ["f1", "f2"], "RAW", {}))
    (frame,) = s.outgoing()
    assert "LS_snapshot" not in frame and "&LS_mode=RAW&" in frame
    s.receive("SUBOK,1,2,2", 1)
    a, b, c = updates(s.receive("U,1,1,a|b\r\nU,1,2,c|d\r\nU,1,1,A|", 2))
    assert not a.snapshot and c.fields == {"f1": "A", "f2": "b"} and c.changed == {"f1"}
    assert b.item_name == "i2"
    (u,) = updates(s.receive("U,1,1,#|$", 3))
    assert u.fields == {"f1": None, "f2": ""}


# -- OV, CONF, errors -----------------------------------------------------------------------------


def test_overflow_and_conf() -> None:
    s = active((["MARKET:A"], ["BID"], "MERGE", {}))
    s.receive("SUBOK,1,1,1", 1)
    assert s.receive("OV,1,1,33", 2) == [
        Overflow(sub_id=1, item_name="MARKET:A", item_pos=1, lost=33, ts=2)
    ]
    assert s.receive("CONF,1,unlimited,filtered\r\nCONF,1,2.5,unfiltered", 3) == [
        SubscriptionConfigured(sub_id=1, max_frequency=None, filtered=True, ts=3),
        SubscriptionConfigured(sub_id=1, max_frequency=2.5, filtered=False, ts=3),
    ]
    assert s.receive("OV,9,1,1\r\nEOS,9,1\r\nCS,9,1\r\nCONF,9,1\r\nSUBOK,9,1,1", 4) == []
    assert isinstance(s.receive("OV,1,2,1", 5)[0], Malformed)  # no item 2


def test_first_update_with_unchanged_is_malformed() -> None:
    s = active((["MARKET:A"], ["BID", "OFFER"], "MERGE", {}))
    s.receive("SUBOK,1,1,2", 1)
    assert isinstance(s.receive("U,1,1,1|", 2)[0], Malformed)
    assert isinstance(s.receive("U,1,1,^Tb", 3)[0], Malformed)  # wrong field count
    assert updates(s.receive("U,1,1,1|2", 4))[0].fields == {"BID": "1", "OFFER": "2"}


def test_subscription_direct() -> None:
    sub = Subscription(3, ["A"], ["x", "y"], "MERGE", adapter="Pricing")
    assert sub.snapshot is True and "Subscription(3, MERGE" in repr(sub)
    assert sub.add_request(7) == codec.control_add(
        7, 3, "MERGE", ["A"], ["x", "y"], adapter="Pricing", snapshot=True
    )
    assert sub.sent and sub.req_id == 7
    sub.on_subscribed(1, 3)  # the server knows one more field than we named
    assert sub.field_names() == ["x", "y", "3"]
    sub.reset()
    assert not sub.sent and not sub.subscribed
    with pytest.raises(ValueError):
        Subscription(1, ["A"], [""], "MERGE")

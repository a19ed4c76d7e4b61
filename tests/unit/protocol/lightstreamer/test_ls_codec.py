"""TLCP codec: request encoding, every server line, value tokens, ^P / ^T, server-side encoders."""

from __future__ import annotations

import string
import tracemalloc
from collections.abc import Callable

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinstream.credentials import Secret
from spinstream.errors import ParseError
from spinstream.protocol.lightstreamer import codec
from spinstream.protocol.lightstreamer.codec import UNCHANGED, JsonPatch, TextDiff

CID = "mgQkwtwdysogQz2BJ4Ji%20kOj2Bg"


# -- requests -------------------------------------------------------------------------------------


def test_create_session_as_1_0_3_sends_it() -> None:
    frame = codec.create_session(password="CST-abc|XST-d:e f", adapter_set="DEFAULT", user="ABC123")
    assert frame == (
        "create_session\r\nLS_adapter_set=DEFAULT&LS_user=ABC123&LS_cid=" + CID
        + "&LS_send_sync=false&LS_cause=api&LS_password=CST-abc%7CXST-d%3Ae%20f"
    )  # fmt: skip


def test_create_session_optionals_in_order_and_secret_password() -> None:
    frame = codec.create_session(
        password=Secret("p"),
        keepalive_ms=5000,
        inactivity_ms=30000,
        requested_max_bandwidth=12.5,
        old_session="S0",
        cause="ws.stalled",
    )
    assert frame == (
        "create_session\r\nLS_keepalive_millis=5000&LS_inactivity_millis=30000"
        "&LS_requested_max_bandwidth=12.5&LS_cid=" + CID + "&LS_old_session=S0"
        "&LS_send_sync=false&LS_cause=ws.stalled&LS_password=p"
    )
    # trading-ig: no adapter set, no user; and no password at all
    assert codec.create_session(password=None) == (
        "create_session\r\nLS_cid=" + CID + "&LS_send_sync=false&LS_cause=api"
    )


def test_bind_session() -> None:
    assert codec.bind_session("S1a") == (
        "bind_session\r\nLS_session=S1a&LS_send_sync=false&LS_cause=ws.loop"
    )
    assert codec.bind_session("S1", keepalive_ms=3000, inactivity_ms=9000, cause=None) == (
        "bind_session\r\nLS_session=S1&LS_keepalive_millis=3000&LS_inactivity_millis=9000"
        "&LS_send_sync=false"
    )


def test_control_requests() -> None:
    add = codec.control_add(
        3, 2, "MERGE", ["PRICE:ABC123:CS.D.EURUSD.CFD.IP"], ["BIDPRICE1", "ASKPRICE1"],
        adapter="Pricing", snapshot=True,
    )  # fmt: skip
    assert add == (
        "control\r\nLS_reqId=3&LS_op=add&LS_subId=2&LS_mode=MERGE"
        "&LS_group=PRICE%3AABC123%3ACS.D.EURUSD.CFD.IP&LS_schema=BIDPRICE1%20ASKPRICE1"
        "&LS_data_adapter=Pricing&LS_snapshot=true&LS_ack=false"
    )
    raw = codec.control_add(1, 1, "RAW", ["i1", "i2"], ["f1"], max_frequency="unlimited")
    assert raw == (
        "control\r\nLS_reqId=1&LS_op=add&LS_subId=1&LS_mode=RAW&LS_group=i1%20i2&LS_schema=f1"
        "&LS_requested_max_frequency=unlimited&LS_ack=false"
    )
    distinct = codec.control_add(
        4, 4, "DISTINCT", ["TRADE:X"], ["OPU"], snapshot=10, selector="s", max_frequency=2.0,
        buffer_size=5,
    )  # fmt: skip
    assert distinct.endswith(
        "&LS_selector=s&LS_snapshot=10&LS_requested_max_frequency=2"
        "&LS_requested_buffer_size=5&LS_ack=false"
    )
    assert codec.control_add(1, 1, "MERGE", ["a"], ["b"], snapshot=False).endswith(
        "&LS_snapshot=false&LS_ack=false"
    )
    assert (
        codec.control_delete(7, 2) == "control\r\nLS_reqId=7&LS_subId=2&LS_op=delete&LS_ack=false"
    )
    assert codec.control_destroy(9) == (
        "control\r\nLS_reqId=9&LS_op=destroy&LS_close_socket=true&LS_cause=api"
    )
    assert codec.wsok() == "wsok"
    assert codec.heartbeat() == "heartbeat\r\n\r\n"


def test_encode_params_quotes_everything_reserved() -> None:
    assert codec.encode_params([("k y", "a b|c:d&e=f%g+h/é~._-")]) == (
        "k%20y=a%20b%7Cc%3Ad%26e%3Df%25g%2Bh%2F%C3%A9~._-"
    )


def test_complete_control_link() -> None:
    base = "https://apd.marketdatasystems.com:443/lightstreamer"
    assert codec.complete_control_link("push2.example.com", base) == "https://push2.example.com:443"
    assert codec.complete_control_link("http://x.io:8080", base) == "http://x.io:8080"


# -- server lines ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("WSOK", codec.WSOK()),
        (
            "CONOK,S6e4a,50000,5000,*",
            codec.CONOK(
                session_id="S6e4a", request_limit=50000, keepalive_ms=5000, control_link=None
            ),
        ),
        (
            "CONOK,S1,70000,4000,push2.lightstreamer.com",
            codec.CONOK(
                session_id="S1",
                request_limit=70000,
                keepalive_ms=4000,
                control_link="push2.lightstreamer.com",
            ),
        ),
        (
            "CONERR,65,Unsupported protocol version: 2.5.0",
            codec.CONERR(code=65, message="Unsupported protocol version: 2.5.0"),
        ),
        (
            "CONERR,1,Adapter%20set%2C%20missing",
            codec.CONERR(code=1, message="Adapter set, missing"),
        ),
        ("END,31,Destroyed%20by%20client", codec.END(code=31, message="Destroyed by client")),
        ("ERROR,1,syntax%20error", codec.ERROR(code=1, message="syntax error")),
        ("LOOP,0", codec.LOOP(delay_ms=0)),
        ("LOOP", codec.LOOP(delay_ms=0)),
        ("SYNC,12", codec.SYNC(seconds=12)),
        ("PROBE", codec.PROBE()),
        ("NOOP,keepalive%20filler", codec.NOOP()),
        (
            "SERVNAME,Lightstreamer%20HTTP%20Server",
            codec.SERVNAME(name="Lightstreamer HTTP Server"),
        ),
        ("CLIENTIP,10.0.0.1", codec.CLIENTIP(ip="10.0.0.1")),
        ("CONS,unlimited", codec.CONS(bandwidth="unlimited")),
        ("CONS,unmanaged", codec.CONS(bandwidth="unmanaged")),
        ("CONS,40.5", codec.CONS(bandwidth=40.5)),
        ("PROG,42", codec.PROG(prog=42)),
        ("REQOK", codec.REQOK(req_id=None)),
        ("REQOK,3", codec.REQOK(req_id=3)),
        ("REQERR,1,-5,error", codec.REQERR(req_id=1, code=-5, message="error")),
        ("REQERR,2,20,max%2C%2040", codec.REQERR(req_id=2, code=20, message="max, 40")),
        ("SUBOK,1,1,2", codec.SUBOK(sub_id=1, n_items=1, n_fields=2)),
        ("SUBCMD,1,2,4,3,4", codec.SUBCMD(sub_id=1, n_items=2, n_fields=4, key_pos=3, cmd_pos=4)),
        ("UNSUB,3", codec.UNSUB(sub_id=3)),
        ("EOS,1,2", codec.EOS(sub_id=1, item=2)),
        ("CS,1,1", codec.CS(sub_id=1, item=1)),
        ("OV,1,1,33", codec.OV(sub_id=1, item=1, lost=33)),
        ("CONF,1,unlimited,filtered", codec.CONF(sub_id=1, max_frequency=None, filtered=True)),
        ("CONF,2,2.5,unfiltered", codec.CONF(sub_id=2, max_frequency=2.5, filtered=False)),
        ("CONF,2,1", codec.CONF(sub_id=2, max_frequency=1.0, filtered=True)),
        ("U,3,1,abc", codec.U(sub_id=3, item=1, values=("abc",))),
        ("MSGDONE,*,1", codec.MSGDONE(sequence="*", prog=1)),
        ("MSGDONE,seq,2,ok%21", codec.MSGDONE(sequence="seq", prog=2, response="ok!")),
        (
            "MSGFAIL,seq,3,-1,no%20way",
            codec.MSGFAIL(sequence="seq", prog=3, code=-1, message="no way"),
        ),
    ],
)
def test_parse_every_line(line: str, expected: object) -> None:
    assert codec.parse_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "HELLO,1",
        "",
        "CONOK,S1,x,5000,*",
        "CONOK,S1,5000",
        "SUBOK,1,1",
        "SUBCMD,1,2,4,3",
        "U,1,1",
        "U,x,1,a",
        "U,1,1,^x",
        "U,1,1,^0",
        "EOS,1",
        "OV,1,1",
        "CONF,1",
        "REQERR,1,2",
        "CONS,fast",
        "PROG,",
        "MSGFAIL,s,1,2",
    ],
)
def test_bad_lines_raise_parse_error(line: str) -> None:
    with pytest.raises(ParseError):
        codec.parse_line(line)


def test_split_lines() -> None:
    assert codec.split_lines("PROBE\r\nU,1,1,a\r\n\r\nNOOP") == ["PROBE", "U,1,1,a", "NOOP"]
    assert codec.split_lines("") == []


# -- values ---------------------------------------------------------------------------------------


def test_decode_values_every_token() -> None:
    assert codec.decode_values("a|#|$||^3|b%7Cc|%23x|%24|%5E2|bar%c3%a0%C3%A8%25|😀|x,y") == (
        "a", None, "", UNCHANGED, UNCHANGED, UNCHANGED, UNCHANGED, "b|c", "#x", "$", "^2",
        "baràè%", "😀", "x,y",
    )  # fmt: skip
    assert codec.decode_values("") == (UNCHANGED,)
    assert codec.decode_values("#abc") == ("#abc",)  # only a lone # is null (as 1.0.3)
    assert codec.decode_values("^P%5B%5D|^Tdzap") == (JsonPatch(patch="[]"), TextDiff(diff="dzap"))


def test_decode_values_like_1_0_3_test_vectors() -> None:
    prev = codec.apply_values(
        None, codec.decode_values("20:00:33|3.04|0.0|2.41|3.67|3.03|3.04|#|#|$"), 10
    )
    assert prev == ["20:00:33", "3.04", "0.0", "2.41", "3.67", "3.03", "3.04", None, None, ""]
    new = codec.apply_values(prev, codec.decode_values("20:06:10|3.05|0.32|^7"), 10)
    assert new == ["20:06:10", "3.05", "0.32", "2.41", "3.67", "3.03", "3.04", None, None, ""]
    new = codec.apply_values(
        new, codec.decode_values("20:00:54|3.07|0.98|||3.06|3.07|||Suspended"), 10
    )
    assert new == [
        "20:00:54",
        "3.07",
        "0.98",
        "2.41",
        "3.67",
        "3.06",
        "3.07",
        None,
        None,
        "Suspended",
    ]


def test_apply_values_errors() -> None:
    with pytest.raises(ParseError, match="first update"):
        codec.apply_values(None, (UNCHANGED,), 1)
    with pytest.raises(ParseError, match="fields"):
        codec.apply_values(None, ("a", "b"), 3)
    with pytest.raises(ParseError, match="null"):
        codec.apply_values([None], (TextDiff(diff="d"),), 1)
    with pytest.raises(ParseError, match="non-JSON"):
        codec.apply_values(["not json"], (JsonPatch(patch="[]"),), 1)


def test_json_patch_on_previous_value() -> None:
    prev = ['{"a":1,"b":[1,2],"c":{"d":"x"}}', "keep"]
    patch = codec.decode_values(
        "^P%5B%7B%22op%22%3A%22replace%22%2C%22path%22%3A%22%2Fa%22%2C%22value%22%3A2%7D%5D|"
    )
    assert codec.apply_values(prev, patch, 2) == ['{"a":2,"b":[1,2],"c":{"d":"x"}}', "keep"]


def test_apply_json_patch_ops() -> None:
    doc = {"a": 1, "b": [1, 2], "c": {"d/e": "x", "f~g": 0}}
    ops = [
        {"op": "add", "path": "/b/1", "value": 9},
        {"op": "add", "path": "/b/-", "value": 10},
        {"op": "remove", "path": "/a"},
        {"op": "replace", "path": "/c/d~1e", "value": "y"},
        {"op": "copy", "from": "/c/f~0g", "path": "/z"},
        {"op": "move", "from": "/b/0", "path": "/first"},
        {"op": "test", "path": "/z", "value": 0},
        {"op": "replace", "path": "/b/0", "value": "r"},
    ]
    assert codec.apply_json_patch(doc, ops) == {
        "b": ["r", 2, 10], "c": {"d/e": "y", "f~g": 0}, "z": 0, "first": 1,
    }  # fmt: skip
    assert codec.apply_json_patch({"a": 1}, [{"op": "replace", "path": "", "value": [1]}]) == [1]
    assert codec.apply_json_patch([], [{"op": "add", "path": "", "value": {"x": None}}]) == {
        "x": None
    }


# -- one short line must not cost more than its size (issue 9, defect 5) --------------------------


def _peak_bytes(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(ParseError):
            fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_unchanged_run_is_checked_against_the_field_count_before_it_expands() -> None:
    line = "U,1,1,^99999999|a"  # 17 bytes that used to allocate 100M slots (800 MB)
    asked: list[int] = []

    def fields_of(sub_id: int) -> int:
        asked.append(sub_id)
        return 3

    assert _peak_bytes(lambda: codec.parse_line(line, fields_of)) < 1_000_000
    assert asked == [1]
    with pytest.raises(ParseError, match="3 fields"):
        codec.parse_line("U,1,1,a|^3", fields_of)  # a run past the count, by one
    assert codec.parse_line("U,1,1,a|^2", fields_of) == codec.U(
        sub_id=1, item=1, values=("a", UNCHANGED, UNCHANGED)
    )
    codec.parse_line("U,1,1,a|b|c", fields_of)
    assert asked == [1, 1, 1]  # asked only for lines that carry a run
    # without a field count: MAX_FIELDS, over the whole line
    assert _peak_bytes(lambda: codec.parse_line("U,1,1,^999999999999")) < 1_000_000
    half = codec.MAX_FIELDS // 2 + 1
    with pytest.raises(ParseError):
        codec.decode_values(f"^{half}|^{half}")
    with pytest.raises(ParseError):
        codec.decode_values("^5", max_fields=4)
    with pytest.raises(ParseError):
        codec.decode_values("^" + "9" * 5000)  # past int()'s digit limit: still a ParseError
    assert len(codec.decode_values(f"^{codec.MAX_FIELDS}")) == codec.MAX_FIELDS


def _nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


@pytest.mark.parametrize("depth", [999, 1000, 5000, 100_000])
def test_deep_json_patch_is_a_parse_error_not_a_recursion_error(depth: int) -> None:
    deep_value = '[{"op":"add","path":"/a","value":' + _nested(depth) + "}]"
    with pytest.raises(ParseError, match="deep"):
        codec.apply_values(['{"a":0}'], (JsonPatch(patch=deep_value),), 1)
    deep_op = _nested(depth, '{"op":"remove","path":"/a"}')  # a patch that is itself deep
    with pytest.raises(ParseError, match="deep"):
        codec.apply_values(['{"a":0}'], (JsonPatch(patch=deep_op),), 1)
    with pytest.raises(ParseError, match="deep"):  # a previous value too deep to decode
        codec.apply_values([_nested(depth)], (JsonPatch(patch="[]"),), 1)


def test_json_patch_result_too_deep_to_encode_is_a_parse_error() -> None:
    # each side decodes (< 999 deep), the result (~1900 deep) cannot be encoded
    base = '{"a":' + _nested(950, "{}") + "}"
    patch = '[{"op":"add","path":"/a' + "/0" * 950 + '/x","value":' + _nested(950) + "}]"
    with pytest.raises(ParseError, match="deep"):
        codec.apply_values([base], (JsonPatch(patch=patch),), 1)


def test_json_patch_deep_compare_and_copy_are_parse_errors() -> None:
    deep: object = 1
    other: object = 1
    for _ in range(5000):
        deep, other = [deep], [other]
    with pytest.raises(ParseError, match="deep"):  # test: == recurses
        codec.apply_json_patch({"a": deep}, [{"op": "test", "path": "/a", "value": other}])
    with pytest.raises(ParseError, match="deep"):  # copy: deepcopy recurses
        codec.apply_json_patch({"a": deep}, [{"op": "copy", "from": "/a", "path": "/b"}])
    with pytest.raises(ParseError, match="deep"):  # a bad op's repr in the message recurses
        codec.apply_json_patch({}, [deep])


def test_json_patch_copies_are_bounded() -> None:
    # 40 copies of the doubling value: 2**40 values from a 1.4 KB patch
    ops = [{"op": "copy", "from": "/a", "path": "/a/-"} for _ in range(40)]
    with pytest.raises(ParseError, match="copies more than"):
        codec.apply_json_patch({"a": [1]}, ops)
    small = codec.apply_json_patch({"a": [1]}, ops[:10])
    assert len(msgspec.json.encode(small)) > 1000  # 1024 leaves: inside the budget


@pytest.mark.parametrize(
    "ops",
    [
        {"op": "add"},
        [{"op": "remove", "path": "/missing"}],
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "test", "path": "/a", "value": 2}],
        [{"op": "add", "path": "/b/5", "value": 1}],
        [{"op": "add", "path": "/b/01", "value": 1}],
        [{"op": "add", "path": "a", "value": 1}],
        [{"op": "add", "path": "/a/x", "value": 1}],
        [{"op": "frob", "path": "/a"}],
        [{"op": "add", "path": "/a"}],
        ["add"],
    ],
)
def test_apply_json_patch_errors(ops: object) -> None:
    with pytest.raises(ParseError):
        codec.apply_json_patch({"a": 1, "b": [0]}, ops)


@pytest.mark.parametrize(
    ("base", "diff", "result"),
    [  # Lightstreamer-lib-client-haxe test/com/lightstreamer/internal/patch/TestDiff.hx
        ("", "", ""),
        ("foo", "d", "foo"),
        ("foobar", "d", "foo"),
        ("foobar", "bdzap", "fzap"),
        ("foobar", "bdzapcd", "fzapbar"),
        ("foobar", "adzapad", "zapfoo"),
        ("foobar", "aaad", "foo"),
        ("abcdefghijklmnopqrstuvwxyz1", "aaBab", "1"),
    ],
)
def test_tlcp_diff(base: str, diff: str, result: str) -> None:
    assert codec.apply_tlcp_diff(base, diff) == result


@pytest.mark.parametrize(("base", "diff"), [("foo", "e"), ("foo", "b1"), ("foo", "bz"), ("f", "B")])
def test_tlcp_diff_errors(base: str, diff: str) -> None:
    with pytest.raises(ParseError):
        codec.apply_tlcp_diff(base, diff)


# -- server side ----------------------------------------------------------------------------------


def test_encode_value() -> None:
    assert codec.encode_value(None) == "#"
    assert codec.encode_value("") == "$"
    assert codec.encode_value("1.2345") == "1.2345"
    assert codec.encode_value("#") == "%23"
    assert codec.encode_value("$x") == "%24x"
    assert codec.encode_value("^3") == "%5E3"
    assert codec.encode_value("a#$^") == "a#$^"
    assert codec.encode_value("a|b%c\r\nd") == "a%7Cb%25c%0D%0Ad"
    assert codec.encode_value("%41") == "%2541"
    assert codec.encode_value("é, x") == "é, x"


def test_encode_values_markers() -> None:
    assert codec.encode_values(None, ["a", None, ""]) == "a|#|$"
    assert codec.encode_values(["a", "b", "c", "d"], ["a", "b", "c", "d"]) == "^4"
    assert codec.encode_values(["a", "b", "c", "d"], ["x", "b", "c", "e"]) == "x|^2|e"
    assert codec.encode_values(["a", "b", "c"], ["x", "b", "y"]) == "x||y"
    assert codec.encode_values(["a", "b"], ["x", "b"]) == "x|"
    assert codec.encode_values([None], [None]) == ""
    with pytest.raises(ValueError):
        codec.encode_values(["a"], ["a", "b"])


def test_server_lines_parse_back() -> None:
    msg = "Unsupported protocol version: 2.5.0, sorry|100%\r\n"
    lines = [
        codec.format_line("CONOK", "S1", 50000, 5000, "*"),
        codec.format_line("CONERR", 65, codec.encode_message(msg)),
        codec.format_update(1, 2, ["a", "b"], ["a", "c|"]),
        codec.format_line("SUBCMD", 1, 1, 4, 1, 2),
    ]
    frame = codec.server_frame(lines)
    assert frame.endswith("\r\n") and frame.count("\r\n") == 4
    parsed = [codec.parse_line(line) for line in codec.split_lines(frame)]
    assert parsed[1] == codec.CONERR(code=65, message=msg)
    assert parsed[2] == codec.U(sub_id=1, item=2, values=(UNCHANGED, "c|"))
    assert isinstance(parsed[3], codec.SUBCMD) and parsed[3].cmd_pos == 2


def test_patch_and_diff_tokens() -> None:
    ops = [{"op": "add", "path": "/k|", "value": "v%|\n"}]
    token = codec.json_patch_token(ops)
    assert "|" not in token and "\n" not in token
    (tok,) = codec.decode_values(token)
    assert codec.apply_values(['{"a":1}'], (tok,), 1) == ['{"a":1,"k|":"v%|\\n"}']
    token = codec.diff_token("hello world", "hello brave world")
    assert codec.apply_values(["hello world"], codec.decode_values(token), 1) == [
        "hello brave world"
    ]


def test_parse_request_round_trip_and_redacted_repr() -> None:
    frame = codec.create_session(password="CST-a|XST-b", adapter_set="DEFAULT", user="ACC")
    req = codec.parse_request(frame)
    assert req.verb == "create_session"
    assert req.params == (
        {
            "LS_adapter_set": "DEFAULT", "LS_user": "ACC", "LS_cid": "mgQkwtwdysogQz2BJ4Ji kOj2Bg",
            "LS_send_sync": "false", "LS_cause": "api", "LS_password": "CST-a|XST-b",
        },
    )  # fmt: skip
    assert "CST-a" not in repr(req)
    batched = codec.parse_request(
        "control\r\n" + codec.control_delete(1, 1)[9:] + "\r\n" + codec.control_delete(2, 2)[9:]
    )
    assert [p["LS_subId"] for p in batched.params] == ["1", "2"]
    assert codec.parse_request("wsok") == codec.ClientRequest(verb="wsok", params=())
    assert codec.parse_request("heartbeat\r\n\r\n").params == ()
    with pytest.raises(ParseError):
        codec.parse_request("control\r\nLS_op")
    with pytest.raises(ParseError):
        codec.parse_request("")


# -- properties -----------------------------------------------------------------------------------

_text = st.text(
    alphabet=st.sampled_from(string.printable + "#$^%|é😀\u2028\x00,"), max_size=8
) | st.sampled_from(["#", "$", "^", "^2", "^P", "^T", "%", "%25", "", "|", "\r\n"])
_value = st.none() | _text


@settings(max_examples=300)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.lists(st.lists(_value, min_size=n, max_size=n), min_size=1, max_size=6)
    )
)
def test_value_round_trip(updates: list[list[str | None]]) -> None:
    """Whatever a server encodes against the previous update, the client decodes back."""
    prev: list[str | None] | None = None
    for new in updates:
        line = codec.format_update(1, 1, prev, new)
        msg = codec.parse_line(line)
        assert isinstance(msg, codec.U)
        got = codec.apply_values(prev, msg.values, len(new))
        assert got == new
        prev = got


@given(_value)
def test_single_value_round_trip(value: str | None) -> None:
    assert codec.decode_values(codec.encode_value(value)) == (value,)


@given(st.text(max_size=30), st.text(max_size=30))
def test_diff_round_trip(base: str, target: str) -> None:
    (tok,) = codec.decode_values(codec.diff_token(base, target))
    assert isinstance(tok, TextDiff)
    assert codec.apply_tlcp_diff(base, tok.diff) == target


@given(st.text(max_size=40))
def test_message_round_trip(text: str) -> None:
    line = codec.format_line("END", 31, codec.encode_message(text))
    assert codec.parse_line(line) == codec.END(code=31, message=text)

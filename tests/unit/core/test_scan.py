"""The frame picker (`_core.scan.Picker`), compiled and twin: what it returns, and when it says
None so that the caller's general decoder takes the frame."""

from __future__ import annotations

import pytest

from corekinds import KINDS, load_core

OKX = (
    "arg.channel",
    "arg.instId",
    "action",
    "data.asks",
    "data.bids",
    "data.ts",
    "data.checksum",
    "data.seqId",
    "data.prevSeqId",
    "event",
)
FRAME = (
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":'
    '[["30243.5","1.44679","0","6"],["30244","0","0","0"]],"bids":[],"ts":"1652459225363",'
    '"checksum":-1234,"prevSeqId":122,"seqId":123}]}'
)


@pytest.fixture(params=KINDS)
def scan(request: pytest.FixtureRequest):
    return load_core(request.param).scan


def test_picks_scalars_and_containers(scan) -> None:
    got = scan.Picker(OKX)(FRAME)
    assert got == [
        "books",
        "BTC-USDT",
        "update",
        b'[["30243.5","1.44679","0","6"],["30244","0","0","0"]]',
        b"[]",
        "1652459225363",
        -1234,
        123,
        122,
        None,
    ]
    assert scan.Picker(OKX)(FRAME.encode()) == got  # bytes and str frames alike
    assert scan.Picker(OKX)(memoryview(FRAME.encode())) == got


def test_whitespace_literals_and_other_numbers(scan) -> None:
    p = scan.Picker(("a", "b.c", "b.d", "e", "f", "g"))
    frame = (
        ' { "a" : true , "b" : { "c" : null , "d" : false } , "e" : 1.5e3, "f": -7,'
        ' "g": {"x": [1]} } '
    )
    assert p(frame) == [True, None, False, "1.5e3", -7, b'{"x": [1]}']
    # integers beyond 18 digits stay text (the caller decides), as do floats
    assert scan.Picker(("n",))('{"n": 1234567890123456789}') == ["1234567890123456789"]


def test_arrays_are_transparent_and_a_repeat_is_refused(scan) -> None:
    p = scan.Picker(("data.x",))
    assert p('{"data": [{"x": 1}, {"y": 2}]}') == [1]
    assert p('{"data": [{"x": 1}, {"x": 2}]}') is None  # two items: not one value
    assert p('{"data": [[{"x": 3}]]}') == [3]
    assert p('{"other": {"x": 1}}') == [None]


def test_refuses_what_it_cannot_be_sure_of(scan) -> None:
    p = scan.Picker(("a", "b"))
    for frame in (
        "",
        "[]",
        "{",
        '{"a": 1',
        '{"a": 1}}',
        '{"a" 1}',
        '{"a": 1 "b": 2}',
        '{"a": "x\\"y"}',
        '{"a": "\x01"}',
        '{"a": nul}',
        '{"a": [1, 2}',
        '{"a": [1, 2]]}',
        '{"a": }',
        '{"a\\u0041": 1}',
        '{"a": 1} x',
        '{"a": "\xff"}'.encode("latin-1"),
    ):
        assert p(frame) is None, frame
    # what is not asked for is only skipped: an escape there is fine
    assert p('{"c": "x\\"y", "a": 1}') == [1, None]


def test_bad_paths(scan) -> None:
    for paths in ((), ("",), ("a", "a"), ("x" * 300,), tuple(f"p{i}" for i in range(33))):
        with pytest.raises(ValueError):
            scan.Picker(paths)
    p = scan.Picker(OKX)
    p._check()
    assert p.paths == OKX


def test_long_frames_take_the_block_skip(scan) -> None:
    """A container long enough for skip.h's 16-byte blocks: brackets in strings, escapes, a
    close that lands anywhere in a block, control bytes in strings refused."""
    p = scan.Picker(("z",))
    for pad in range(0, 40):
        levels = ",".join(f'["{i}.5","[]{{}}","{"x" * pad}"]' for i in range(30))
        frame = f'{{"skip": [{levels}], "z": {pad}}}'
        assert p(frame) == [pad]
        esc = frame.replace('"[]{}"', '"\\"]"', 3)
        assert p(esc) == [pad]
        assert p(frame.replace("x", "\x02", 1)) == (None if pad else [pad])


def test_kinds_refuse_what_the_caller_does_not_expect(scan) -> None:
    p = scan.Picker(("s", "i", "c", "a"), "sic*")
    assert p('{"s": "x", "i": 5, "c": [1], "a": 1.5}') == ["x", 5, b"[1]", "1.5"]
    assert p('{"s": null, "i": null, "c": null}') == [None, None, None, None]
    for bad in (
        '{"s": 1}',
        '{"i": "5"}',
        '{"i": 1.5}',
        '{"i": true}',
        '{"c": "[]"}',
        '{"c": 1}',
        '{"i": 12345678901234567890}',
    ):
        assert p(bad) is None, bad
    for kinds in ("si", "sicx", 5):
        with pytest.raises(ValueError):
            scan.Picker(("s", "i", "c", "a"), kinds)
    p._check()
    assert p.kinds == "sic*"


def test_equal_strings_reuse_the_last_object(scan) -> None:
    p = scan.Picker(("a",), "s")
    first = p('{"a": "BTC-USDT"}')[0]
    again = p('{"a": "BTC-USDT"}')[0]
    other = p('{"a": "ETH-USDT"}')[0]
    assert first == again == "BTC-USDT" and other == "ETH-USDT"
    if scan.__name__ == "spinstream._core.scan":
        assert again is first


def test_levels_kind_reads_compact_levels_for_a_book(scan) -> None:
    core = load_core("compiled" if scan.__name__ == "spinstream._core.scan" else "twin")
    p = scan.Picker(("data.asks", "data.bids"), "ll")
    frame = '{"data":[{"asks":[["100.5","2","0","1"],["101","0.25"]],"bids":[]}]}'
    asks, bids = p(frame)
    assert (asks.raw, len(asks), bids.raw, len(bids)) == (
        b'[["100.5","2","0","1"],["101","0.25"]]',
        2,
        b"[]",
        0,
    )
    assert "FrameLevels 2" in repr(asks)
    book = core.book.Book(1, 2)
    book.apply_snapshot(bids, asks)
    assert book.asks(5).tolist() == [[1005, 200], [1010, 25]]
    with pytest.raises(ValueError, match="more than 0 decimals"):
        core.book.Book(0, 2).apply_deltas(bids, asks)
    # anything but the compact form: refused, so the caller reads the frame its general way
    for levels in (
        '[["1", "2"]]',
        '[["-1","2"]]',
        '[["1e2","2"]]',
        "[[1,2]]",
        '[["1","2",3]]',
        '[["1","2"],]',
        '[["1"]]',
        '{"a":1}',
        '"x"',
        '[["1","2","\\\\u0041"]]',
    ):
        assert p(f'{{"data":[{{"asks":{levels}}}]}}') is None, levels
    assert p('{"data":[{"asks":null}]}') == [None, None]

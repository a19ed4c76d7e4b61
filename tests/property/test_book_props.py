"""Property tests: the compiled book and parser agree with the twin (the oracle) on anything."""

from __future__ import annotations

import decimal
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corekinds import load_core

EXAMPLES = int(os.environ.get("SPINSTREAM_HYPOTHESIS_EXAMPLES", "300"))
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def pair():
    return load_core("compiled"), load_core("twin")


def outcome(fn, *args):
    """The value, or the exception type (both kinds must fail the same way)."""
    try:
        return ("ok", fn(*args))
    except ValueError as exc:
        return ("ValueError", type(exc).__name__)
    except (TypeError, OverflowError) as exc:
        return ("other", type(exc).__name__)


# --------------------------------------------------------------------------- the parser

sign = st.sampled_from(["", "+", "-"])
digits = st.text("0123456789", max_size=25)
exponent = st.one_of(
    st.just(""),
    st.builds(
        lambda e, s, d: e + s + d, st.sampled_from("eE"), sign, st.text("0123456789", max_size=4)
    ),
)
decimal_text = st.builds(
    lambda s, i, dot, f, e: s + i + dot + f + e,
    sign,
    digits,
    st.sampled_from(["", "."]),
    digits,
    exponent,
)
garbage = st.text(max_size=12)
any_text = st.one_of(
    decimal_text, garbage, st.sampled_from(["inf", "nan", "1e", " 1", "1_0", "--1"])
)


def reference(text: str, d: int):
    """An independent oracle: Python's Decimal, exact, then the contract's rules."""
    import re

    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        return None
    with decimal.localcontext() as ctx:
        ctx.prec = 100
        ctx.Emax = 10**8
        ctx.Emin = -(10**8)
        ctx.traps[decimal.Inexact] = False
        try:
            v = decimal.Decimal(text).scaleb(d)
        except decimal.Overflow:
            return None
        if v == 0:
            return 0
        if v != v.to_integral_value() or not -(2**63) <= v <= 2**63 - 1:
            return None
        return int(v)


@SETTINGS
@given(text=any_text, d=st.integers(0, 18))
def test_parser_fuzz_matches_twin_and_decimal(pair, text, d) -> None:
    compiled, twin = pair
    a = outcome(compiled.book.parse_fixed, text, d)
    b = outcome(twin.book.parse_fixed, text, d)
    assert a == b
    want = reference(text, d)
    if want is None:
        assert a[0] == "ValueError", (text, d, a)
    else:
        assert a == ("ok", want), (text, d)


@SETTINGS
@given(value=st.integers(-(2**63), 2**63 - 1), d=st.integers(0, 18), trim=st.booleans())
def test_format_roundtrip(pair, value, d, trim) -> None:
    compiled, twin = pair
    text = compiled.book.format_fixed(value, d, trim)
    assert text == twin.book.format_fixed(value, d, trim)
    assert compiled.book.parse_fixed(text, d) == value
    assert decimal.Decimal(text).scaleb(d) == value


@SETTINGS
@given(
    x=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers()), d=st.integers(0, 18)
)
def test_numbers_match_twin(pair, x, d) -> None:
    compiled, twin = pair
    assert outcome(compiled.book.parse_fixed, x, d) == outcome(twin.book.parse_fixed, x, d)


# --------------------------------------------------------------------------- the book

price = st.integers(0, 60).map(lambda t: f"{100 + t / 4:.2f}")  # a narrow band: many hits
size = st.one_of(st.just("0"), st.integers(0, 5000).map(lambda s: f"{s / 1000:.3f}"))
level = st.tuples(price, size).map(list)
levels = st.lists(level, max_size=12)
bad_level = st.sampled_from([["1", "-1"], ["x", "1"], ["1.001", "1"], ["1"], None])

op = st.one_of(
    st.tuples(st.just("deltas"), levels, levels),
    st.tuples(st.just("snapshot"), levels, levels),
    st.tuples(st.just("bad"), levels, st.lists(bad_level, min_size=1, max_size=2)),
    st.tuples(st.just("set"), st.booleans(), st.integers(9990, 11600), st.integers(0, 3)),
    st.tuples(st.just("truncate"), st.integers(0, 20)),
    st.tuples(
        st.just("clear"),
    ),
)


def state(b) -> tuple:
    return (
        b.bids(1000).tolist(), b.asks(1000).tolist(), b.best_bid(), b.best_ask(), b.spread(),
        b.mid(), b.crossed(), b.bid_count, b.ask_count, b.checksum_okx(), b.checksum_kraken(),
    )  # fmt: skip


@SETTINGS
@given(ops=st.lists(op, max_size=40), depth=st.sampled_from([0, 0, 3, 10]))
def test_random_operations_agree(pair, ops, depth) -> None:
    books = [m.book.Book(2, 3, depth) for m in pair]
    for o in ops:
        results = []
        for b in books:
            if o[0] == "deltas":
                results.append(outcome(b.apply_deltas, o[1], o[2]))
            elif o[0] == "snapshot":
                results.append(outcome(b.apply_snapshot, o[1], o[2]))
            elif o[0] == "bad":
                results.append(outcome(b.apply_deltas, o[1], o[2]))
            elif o[0] == "set":
                results.append(outcome(b.set_level, o[1], o[2], o[3]))
            elif o[0] == "truncate":
                results.append(outcome(b.truncate, o[1]))
            else:
                results.append(outcome(b.clear))
        assert results[0] == results[1], o
        if o[0] == "bad":
            assert results[0][0] == "ValueError"
        for b in books:
            b._check(crossed_ok=True)
        assert state(books[0]) == state(books[1])
        copies = [b.copy() for b in books]
        assert state(copies[0]) == state(books[0])


# ------------------------------------------------------- levels as the frame's JSON bytes

json_item = st.one_of(
    price.map(lambda p: f'"{p}"'),
    st.integers(1, 9999).map(str),
    st.sampled_from(['"0"', '"1"', '"-1"', '"1.001"', '"x"', "1e2", "-5", '"a\\"b"', "true"]),
    # the compact reading's edges: brackets in a string, escapes, trailing / leading zeros,
    # a bare point, an empty string, more digits than a plain reading takes, a control byte
    st.sampled_from(
        [
            '"]"',
            '"[,]"',
            '"\\u0041"',
            '"1.50"',
            '"007"',
            '"1."',
            '".5"',
            '""',
            '"1234567890123456789"',
            '"0.0000000000000000001"',
            '"a\x01"',
        ]
    ),
)
json_level = st.lists(json_item, min_size=0, max_size=5).map(lambda xs: "[" + ",".join(xs) + "]")
json_levels = st.builds(
    lambda ls, ws: ws + "[" + ("," + ws).join(ls) + "]" + ws,
    st.lists(json_level, max_size=10),
    st.sampled_from(["", " ", "\n\t"]),
)
json_garbage = st.one_of(
    json_levels.map(lambda t: t[:-1]),  # truncated
    json_levels.map(lambda t: t + ","),
    st.binary(max_size=30),
)


@SETTINGS
@given(bids=st.one_of(json_levels, json_garbage), asks=st.one_of(json_levels, json_garbage))
def test_json_levels_agree_with_the_twin_and_the_decoded_path(pair, bids, asks) -> None:
    """The frame-bytes path (`msgspec.Raw`, bytes) gives what the twin's port gives, and where
    it succeeds, what the decoded-list path gives for the same levels."""
    import json

    import msgspec

    b = bids if isinstance(bids, bytes) else bids.encode()
    a = asks if isinstance(asks, bytes) else asks.encode()
    books = [m.book.Book(2, 3) for m in pair]
    results = [outcome(x.apply_snapshot, msgspec.Raw(b), memoryview(a)) for x in books]
    assert results[0] == results[1]
    assert state(books[0]) == state(books[1])
    if results[0][0] == "ok":
        strings = lambda t: [[str(v) for v in lv] for lv in json.loads(t)]  # noqa: E731
        ref = pair[1].book.Book(2, 3)
        ref.apply_snapshot(strings(b), strings(a))
        assert state(ref) == state(books[0])


@SETTINGS
@given(
    bids=st.lists(st.tuples(st.integers(1, 400), size), max_size=60, unique_by=lambda x: x[0]),
    asks=st.lists(st.tuples(st.integers(401, 800), size), max_size=60, unique_by=lambda x: x[0]),
    depth=st.sampled_from([0, 5]),
)
def test_ordered_snapshots_agree(pair, bids, asks, depth) -> None:
    """Snapshots as venues send them (best first, strictly ordered, zero sizes among them): the
    compiled book's one-pass fill gives the twin's state."""
    b = [[f"{p / 4:.2f}", s] for p, s in sorted(bids, reverse=True)]
    a = [[f"{p / 4:.2f}", s] for p, s in sorted(asks)]
    books = [m.book.Book(2, 3, depth) for m in pair]
    for x in books:
        x.apply_deltas([["50.00", "1"]], [["300.00", "1"]])  # something to replace
        x.apply_snapshot(b, a)
        x._check()
    assert state(books[0]) == state(books[1])

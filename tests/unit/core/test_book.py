"""The order book and its decimal parser, against the compiled core and the twin alike."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from spinstream.errors import InvariantError, ParseError

# --------------------------------------------------------------------------- parse / format


@pytest.mark.parametrize(
    ("text", "decimals", "value"),
    [
        ("0", 2, 0),
        ("-0", 2, 0),
        ("1", 0, 1),
        ("1.", 2, 100),
        (".5", 2, 50),
        ("0.5", 1, 5),
        ("+12.3400", 2, 1234),
        ("000123.4500", 4, 1234500),
        ("29500.1", 8, 2950010000000),
        ("1e3", 0, 1000),
        ("1E-2", 2, 1),
        ("1.5e+1", 0, 15),
        ("-2.5e-3", 4, -25),
        ("0e999999999999", 2, 0),
        ("0.000000000000000000000", 2, 0),
        ("9223372036854775807", 0, 2**63 - 1),
        ("-9223372036854775808", 0, -(2**63)),
        ("92233720368.54775807", 8, 2**63 - 1),
        ("12300000000000000000000e-10", 0, 1230000000000),
        ("0.00000001", 8, 1),
        (5, 3, 5000),
        (-7, 0, -7),
        (1.5, 2, 150),
        (1e-05, 5, 1),
        (0.1, 1, 1),
    ],
)
def test_parse_fixed_values(core, text, decimals, value) -> None:
    assert core.book.parse_fixed(text, decimals) == value


@pytest.mark.parametrize(
    ("text", "decimals"),
    [
        ("", 2), (" 1", 2), ("1 ", 2), ("1_0", 2), ("abc", 2), ("1e", 2), ("1e+", 2), ("--1", 2),
        ("+-1", 2), ("1.2.3", 2), (".", 2), ("-", 2), ("e5", 2), ("inf", 2), ("nan", 2),
        ("Infinity", 2), ("0x10", 2), ("١٢", 2), ("1,5", 2),
        ("0.001", 2),                     # inexact: a non-zero digit beyond the decimals
        ("1.23456789", 0),
        ("1e-3", 2),
        ("9223372036854775808", 0),       # int64 overflow
        ("-9223372036854775809", 0),
        ("92233720368.54775808", 8),
        ("1e19", 0),
        ("1e1000000000", 2),
        ("12345678901234567890123", 0),
        (float("inf"), 2), (float("nan"), 2), (True, 2), (None, 2), (b"1", 2), ([1], 2),
        (2**63, 0), (2**62, 1),
    ],
)  # fmt: skip
def test_parse_fixed_rejects(core, text, decimals) -> None:
    with pytest.raises(ValueError):
        core.book.parse_fixed(text, decimals)


def test_parse_error_is_spinstream_parse_error(core) -> None:
    with pytest.raises(ParseError, match="decimal"):
        core.book.parse_fixed("12x", 2)


@pytest.mark.parametrize("decimals", [-1, 19, 100])
def test_bad_decimals(core, decimals) -> None:
    with pytest.raises(ValueError):
        core.book.parse_fixed("1", decimals)
    with pytest.raises(ValueError):
        core.book.Book(decimals, 2)


@pytest.mark.parametrize(
    ("value", "decimals", "trimmed", "fixed"),
    [
        (0, 0, "0", "0"),
        (0, 3, "0", "0.000"),
        (2950010000000, 8, "29500.1", "29500.10000000"),
        (300, 2, "3", "3.00"),
        (1, 3, "0.001", "0.001"),
        (-5, 1, "-0.5", "-0.5"),
        (-(2**63), 0, "-9223372036854775808", "-9223372036854775808"),
        (2**63 - 1, 18, "9.223372036854775807", "9.223372036854775807"),
    ],
)
def test_format_fixed(core, value, decimals, trimmed, fixed) -> None:
    assert core.book.format_fixed(value, decimals) == trimmed
    assert core.book.format_fixed(value, decimals, trim=False) == fixed
    assert core.book.parse_fixed(trimmed, decimals) == value


# --------------------------------------------------------------------------- book


def make(core, bids, asks, pd=2, sd=3, depth=0):
    b = core.book.Book(pd, sd, depth)
    b.apply_snapshot(bids, asks)
    b._check()
    return b


def test_snapshot_and_reads(core) -> None:
    b = make(
        core, [["100.5", "1"], ["100.25", "2.5"], ["99", "0.001"]], [["101", "3"], ["102.75", "4"]]
    )
    assert (b.bid_count, b.ask_count) == (3, 2)
    assert b.best_bid() == (10050, 1000)
    assert b.best_ask() == (10100, 3000)
    assert b.spread() == 50
    assert b.mid() == pytest.approx(100.75)
    assert not b.crossed()
    bids, asks = b.top(2)
    assert bids.dtype == np.int64 and bids.shape == (2, 2)
    assert bids.tolist() == [[10050, 1000], [10025, 2500]]
    assert asks.tolist() == [[10100, 3000], [10275, 4000]]
    assert b.bids(10).shape == (3, 2)
    assert b.asks(0).shape == (0, 2)
    assert "bids=3" in repr(b) and "asks=2" in repr(b)
    assert (b.price_decimals, b.size_decimals, b.max_depth) == (2, 3, 0)


def test_empty_book(core) -> None:
    b = core.book.Book(2, 2)
    assert b.best_bid() is None and b.best_ask() is None
    assert b.spread() is None and b.mid() is None
    assert not b.crossed()
    assert b.bids(5).shape == (0, 2)
    b._check()


def test_deltas_update_insert_delete(core) -> None:
    b = make(core, [["100", "1"], ["99", "1"]], [["101", "1"]])
    b.apply_deltas(
        [["100", "5"], ["98", "2"], ["99", "0"], ["97", "0"]], [["101", "0"], ["103", "1", "x", 4]]
    )
    b._check()
    assert b.bids(10).tolist() == [[10000, 5000], [9800, 2000]]
    assert b.asks(10).tolist() == [[10300, 1000]]
    # later levels in one batch win over earlier ones for the same price
    b.apply_deltas([["100", "1"], ["100", "0"], ["100", "7"]], [])
    assert b.best_bid() == (10000, 7000)


def test_levels_may_be_tuples_ints_floats(core) -> None:
    b = core.book.Book(1, 0)
    b.apply_deltas([(100, 5), (99.5, 2)], ((101.0, "3"),))
    assert b.bids(5).tolist() == [[1000, 5], [995, 2]]
    assert b.best_ask() == (1010, 3)


@pytest.mark.parametrize(
    "bad",
    [
        [["100", "-1"]],
        [["100", "1"], ["1.0001", "1"]],
        [["100"]],
        [[]],
        ["100"],
        [None],
        [["x", "1"]],
        [["100", None]],
        [{"price": "1", "size": "1"}],
        [[True, "1"]],
    ],
)
def test_bad_levels_leave_book_unchanged(core, bad) -> None:
    b = make(core, [["100", "1"]], [["101", "1"]])
    before = (b.bids(10).tolist(), b.asks(10).tolist())
    with pytest.raises(ValueError):
        b.apply_deltas([["99", "1"]], bad)  # the good bid must not land either
    with pytest.raises(ValueError):
        b.apply_snapshot(bad, [])
    assert (b.bids(10).tolist(), b.asks(10).tolist()) == before
    b._check()


def test_set_level_and_truncate(core) -> None:
    b = core.book.Book(0, 0)
    for p in range(1, 11):
        b.set_level(True, p, p)
        b.set_level(False, 100 + p, p)
    b.set_level(True, 5, 0)
    assert b.bid_count == 9
    with pytest.raises(ValueError):
        b.set_level(True, 5, -1)
    b.truncate(3)
    assert b.bids(10)[:, 0].tolist() == [10, 9, 8]
    assert b.asks(10)[:, 0].tolist() == [101, 102, 103]
    with pytest.raises(ValueError):
        b.truncate(-1)
    b.clear()
    assert (b.bid_count, b.ask_count) == (0, 0)


def test_max_depth_applies_after_every_call(core) -> None:
    b = core.book.Book(0, 0, max_depth=2)
    b.apply_snapshot([[1, 1], [2, 1], [3, 1]], [[10, 1], [11, 1], [12, 1]])
    assert b.bids(9)[:, 0].tolist() == [3, 2] and b.asks(9)[:, 0].tolist() == [10, 11]
    b.apply_deltas([[4, 1]], [[9, 1]])
    assert b.bids(9)[:, 0].tolist() == [4, 3] and b.asks(9)[:, 0].tolist() == [9, 10]
    b.set_level(True, 5, 1)
    assert b.bids(9)[:, 0].tolist() == [5, 4]
    b._check()
    with pytest.raises(ValueError):
        core.book.Book(0, 0, max_depth=-1)


def test_crossed_detection(core) -> None:
    b = make(core, [["100", "1"]], [["101", "1"]])
    b.apply_deltas([["101", "1"]], [])
    assert b.crossed()
    with pytest.raises(InvariantError, match="crossed"):
        b._check()
    b._check(crossed_ok=True)
    assert b.spread() == 0


def test_copy_is_independent(core) -> None:
    b = make(core, [["100", "1"]], [["101", "1"]], depth=5)
    c = b.copy()
    b.apply_deltas([["100", "0"]], [])
    assert c.best_bid() == (10000, 1000) and b.best_bid() is None
    assert c.max_depth == 5


def test_negative_prices(core) -> None:
    b = make(core, [["-1.5", "1"], ["-2", "1"]], [["-1", "1"], ["0.5", "2"]])
    assert b.best_bid() == (-150, 1000)
    assert b.best_ask() == (-100, 1000)
    assert b.spread() == 50


def test_okx_checksum_documented_example(core) -> None:
    """OKX's documented construction: interleave bid/ask top 25, join with ':', signed CRC32."""
    bids = [[f"{3366 - i}.{i % 9 + 1}", f"{1 + i}", "0", "1"] for i in range(30)]
    asks = [[f"{3367 + i}.{i % 9 + 1}", f"{2 + i}.5", "0", "1"] for i in range(20)]
    b = make(core, bids, asks, pd=1, sd=1)
    parts = []
    for i in range(25):
        parts += bids[i][:2]
        if i < 20:
            parts += asks[i][:2]
    crc = zlib.crc32(":".join(parts).encode())
    assert b.checksum_okx() == (crc - 2**32 if crc >= 2**31 else crc)
    assert -(2**31) <= b.checksum_okx() < 2**31


def test_okx_checksum_uneven_and_empty(core) -> None:
    b = make(core, [["1", "2"]], [["3", "4"], ["5", "6"]], pd=0, sd=0)
    crc = zlib.crc32(b"1:2:3:4:5:6")
    assert b.checksum_okx() == (crc - 2**32 if crc >= 2**31 else crc)
    assert core.book.Book(0, 0).checksum_okx() == 0  # crc32 of b""


def test_kraken_checksum_documented_rule(core) -> None:
    """Kraken: top 10 asks then top 10 bids, fixed decimals, '.' removed, leading zeros gone."""
    asks = [[f"{0.05005 + i * 0.00001:.5f}", f"{0.00000500 * (i + 1):.8f}"] for i in range(12)]
    bids = [[f"{0.05004 - i * 0.00001:.5f}", f"{1.5 + i:.8f}"] for i in range(12)]
    b = make(core, bids, asks, pd=5, sd=8)
    text = "".join(
        (p.replace(".", "").lstrip("0") + q.replace(".", "").lstrip("0"))
        for p, q in asks[:10] + bids[:10]
    )
    assert b.checksum_kraken() == zlib.crc32(text.encode())


def test_check_catches_corruption_only_via_api(core) -> None:
    b = make(core, [["1", "1"]], [["2", "1"]])
    b._check()
    b.set_level(True, 300, 1)
    with pytest.raises(InvariantError):
        b._check()


def test_reads_from_another_thread_never_see_a_half_applied_update(core) -> None:
    """A strategy thread reads while the runtime's thread applies: every read is a whole state
    (the compiled book reads in one C call under the GIL; the twin holds its lock)."""
    import threading

    b = core.book.Book(2, 3)
    b.apply_snapshot([[f"{100 - i}.00", "1"] for i in range(50)], [["200.00", "1"]])
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            bids = [[f"{100 - (i + k) % 60}.00", "0" if k % 3 == 0 else "2"] for k in range(30)]
            try:
                b.apply_deltas(bids, [])
                if i % 50 == 0:
                    b.apply_snapshot([[f"{100 - k}.00", "1"] for k in range(40)], [["200.00", "1"]])
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(3000):
            bids, asks = b.top(20)
            assert (np.diff(bids[:, 0]) < 0).all() and (bids[:, 1] > 0).all()
            assert asks.tolist() == [[20000, 1000]]
            assert b.best_bid() is not None
    finally:
        stop.set()
        t.join(10)
    assert not errors, errors

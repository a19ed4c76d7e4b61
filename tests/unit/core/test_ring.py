"""TickRing, compiled and twin: counters, last(n) across the wrap, batches, errors, and one
writer with several readers never handing out a torn or out-of-order record."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from spinstream.errors import InvariantError

I64_MAX = 2**63 - 1
FIELDS = ("ts", "price", "size", "flags")


def record(i: int) -> tuple[int, int, int, int]:
    """Tick number i: every field derived from i, so a torn record is detectable."""
    return (i, 2 * i, 3 * i, i ^ 0x5555)


def expected(lo: int, hi: int) -> list[tuple[int, int, int, int]]:
    return [record(i) for i in range(lo, hi)]


def rows(arr: np.ndarray) -> list[tuple[int, ...]]:
    return [tuple(int(x) for x in r) for r in arr.tolist()]


def test_tick_dtype(core) -> None:
    dt = core.ring.TICK_DTYPE
    assert dt.names == FIELDS
    assert all(dt[f] == np.dtype("<i8") for f in FIELDS)
    assert dt.itemsize == 32


def test_counters(core) -> None:
    ring = core.ring.TickRing(3)
    assert (ring.capacity, ring.count, len(ring)) == (3, 0, 0)
    for i in range(5):
        ring.append(*record(i))
        assert ring.count == i + 1
        assert len(ring) == min(i + 1, 3)
        ring._check()
    for name in ("capacity", "count"):
        with pytest.raises(AttributeError):
            setattr(ring, name, 1)


@pytest.mark.parametrize("capacity", [1, 2, 3, 7, 16, 33])
def test_last_across_the_wrap(core, capacity: int) -> None:
    ring = core.ring.TickRing(capacity)
    for total in range(3 * capacity + 2):
        for n in range(capacity + 3):
            got = ring.last(n)
            assert got.dtype == core.ring.TICK_DTYPE
            k = min(n, total, capacity)
            assert rows(got) == expected(total - k, total), (total, n)
        ring.append(*record(total))
        ring._check()


def test_last_edges_and_copies(core) -> None:
    ring = core.ring.TickRing(4)
    assert ring.last(5).shape == (0,)
    for i in range(6):
        ring.append(*record(i))
    assert ring.last(0).shape == (0,)
    assert rows(ring.last(2**70)) == expected(2, 6)  # huge n: everything kept
    assert rows(ring.last(np.int64(2))) == expected(4, 6)
    out = ring.last(4)
    out["ts"] = -1  # a copy: the ring is unchanged
    assert rows(ring.last(4)) == expected(2, 6)
    with pytest.raises(ValueError):
        ring.last(-1)
    with pytest.raises(TypeError):
        ring.last(1.5)


def test_append_arguments(core) -> None:
    ring = core.ring.TickRing(8)
    ring.append(1, 2, 3)  # flags default to 0
    ring.append(ts=np.int64(4), price=np.int32(5), size=True, flags=7)
    ring.append(-(2**63), I64_MAX, 0, -1)
    assert rows(ring.last(3)) == [(1, 2, 3, 0), (4, 5, 1, 7), (-(2**63), I64_MAX, 0, -1)]
    for bad in ((2**63, 0, 0), (0, -(2**63) - 1, 0), (0, 0, 0, 2**64)):
        with pytest.raises(OverflowError):
            ring.append(*bad)
    for bad in ((1.5, 0, 0), (0, "1", 0), (0, 0, None)):
        with pytest.raises(TypeError):
            ring.append(*bad)
    with pytest.raises(TypeError):
        ring.append(0, 0)
    assert ring.count == 3
    ring._check()


def test_constructor_errors(core) -> None:
    for bad in (0, -1):
        with pytest.raises(ValueError):
            core.ring.TickRing(bad)
    for bad in (1.5, "4", None):
        with pytest.raises(TypeError):
            core.ring.TickRing(bad)
    assert core.ring.TickRing(np.int64(5)).capacity == 5


@pytest.mark.parametrize("capacity", [1, 5, 8])
@pytest.mark.parametrize("m", [0, 1, 4, 5, 8, 13, 40])
def test_append_batch(core, capacity: int, m: int) -> None:
    ring = core.ring.TickRing(capacity)
    for i in range(3):
        ring.append(*record(i))
    cols = list(zip(*expected(3, 3 + m), strict=True)) or [(), (), (), ()]
    ts, price, size, flags = (np.array(c, np.int64) for c in cols)
    ring.append_batch(ts, price, size, flags)
    assert ring.count == 3 + m and len(ring) == min(3 + m, capacity)
    assert rows(ring.last(capacity)) == expected(max(0, 3 + m - capacity), 3 + m)
    ring.append(*record(3 + m))  # the ring continues after the batch
    assert rows(ring.last(capacity)) == expected(max(0, 4 + m - capacity), 4 + m)
    ring._check()


def test_append_batch_defaults_and_sequences(core) -> None:
    ring = core.ring.TickRing(4)
    ring.append_batch([1, 2], (3, 4), np.array([5, 6], np.uint8))
    ring.append_batch([], [], [], None)
    assert rows(ring.last(4)) == [(1, 3, 5, 0), (2, 4, 6, 0)]


def test_append_batch_errors_apply_nothing(core) -> None:
    ring = core.ring.TickRing(4)
    ring.append(*record(0))
    a = np.arange(3, dtype=np.int64)
    bad_calls = [
        (a, a, a[:2]),
        (a, a, a, a[:1]),
        (a.reshape(3, 1), a, a),
        (a.astype(np.float64), a, a),
        (a, a, a, a.astype(np.float32)),
        (7, a, a),
    ]
    for args in bad_calls:
        with pytest.raises(ValueError):
            ring.append_batch(*args)
    assert ring.count == 1 and rows(ring.last(4)) == expected(0, 1)
    ring._check()


def test_check_detects_corruption(twin) -> None:
    """`_check` raises InvariantError (shown on the twin, whose state Python can reach)."""
    ring = twin.ring.TickRing(4)
    ring.append(*record(0))
    ring._check()
    ring._claimed += 1  # as if a writer were mid-record: `_check` wants an idle writer
    with pytest.raises(InvariantError):
        ring._check()


@pytest.mark.parametrize("capacity", [16, 256])
def test_one_writer_many_readers(core, capacity: int) -> None:
    """Readers racing a writer that laps them get only whole, contiguous, newest-first records."""
    ring = core.ring.TickRing(capacity)
    total = 60_000
    done = threading.Event()
    errors: list[BaseException] = []
    reads = [0, 0, 0]

    def writer() -> None:
        try:
            i = 0
            while i < total:
                if i % 7 == 0:  # mix batches (some longer than the ring) with single appends
                    m = min(total - i, 1 + (i % (2 * capacity)))
                    idx = np.arange(i, i + m, dtype=np.int64)
                    ring.append_batch(idx, 2 * idx, 3 * idx, idx ^ 0x5555)
                    i += m
                else:
                    ring.append(*record(i))
                    i += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    def reader(slot: int, k: int) -> None:
        try:
            newest = -1
            while not done.is_set() or reads[slot] == 0:
                got = ring.last(k)
                reads[slot] += 1
                assert len(got) <= k
                if len(got) == 0:
                    continue
                ts = got["ts"]
                assert np.array_equal(got["price"], 2 * ts)
                assert np.array_equal(got["size"], 3 * ts)
                assert np.array_equal(got["flags"], ts ^ 0x5555)
                assert np.all(np.diff(ts) == 1), "records not contiguous and increasing"
                assert ts[-1] >= newest, "a later read returned older records"
                newest = int(ts[-1])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # interleave the threads finely
    try:
        threads = [threading.Thread(target=writer)]
        threads += [
            threading.Thread(target=reader, args=(j, k))
            for j, k in enumerate((1, capacity // 2, capacity))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors[0]
    assert all(not t.is_alive() for t in threads)
    assert all(reads)
    assert ring.count == total
    assert rows(ring.last(capacity)) == expected(total - capacity, total)
    ring._check()

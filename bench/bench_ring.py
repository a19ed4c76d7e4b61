"""Group `ring`: a fixed-capacity tick ring (capacity 65536).

Sets:
- `append`: 100k ticks (Python ints from the synthetic arrays) appended one by one in a Python
  `for` loop, per tick. Contenders: spinstream TickRing.append (compiled), twin, `numpy` (a
  preallocated int64 array per field, `ts[j] = t; price[j] = p; size[j] = s`), `deque`
  (collections.deque(maxlen=capacity).append((ts, price, size, 0))). Informative rows:
  `spinstream-append_batch` (the same 100k from int64 arrays in one call) and
  `python-loop-floor` (the loop with an empty body).
- `last1000`: the newest 1000 records as a TICK_DTYPE array, oldest first, with the ring wrapped
  so that they straddle the wrap point. numpy: the field columns copied
  into a TICK_DTYPE array through an int64 view (a structured concatenate is 6x slower); deque:
  np.array(list(islice(reversed(dq), 1000))[::-1], TICK_DTYPE). Results are checked equal.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

import numpy as np
import pytest
from _harness import core_module, tag

from _data import synthetic_ticks

CAP = 1 << 16
MASK = CAP - 1
N = 100_000
TICK_DTYPE = np.dtype([("ts", "<i8"), ("price", "<i8"), ("size", "<i8"), ("flags", "<i8")])
LAST = 1000


@pytest.fixture(scope="module")
def ticks():
    ts, px, sz = (a[:N] for a in synthetic_ticks())
    return (ts, px, sz), (ts.tolist(), px.tolist(), sz.tolist())


class NumpyRing:
    """The fastest plain-numpy ring found: one preallocated int64 array per field (writing three
    scalars beat assigning a tuple to a TICK_DTYPE record, 106 vs 136 ns; flags stay 0)."""

    def __init__(self) -> None:
        self.cols = [np.zeros(CAP, np.int64) for _ in TICK_DTYPE.names]
        self.n = 0

    def last(self, k: int) -> np.ndarray:
        n = self.n
        k = min(k, n, CAP)
        h = n & MASK
        out = np.empty(k, TICK_DTYPE)
        o = out.view(np.int64).reshape(k, 4)
        for j, col in enumerate(self.cols):
            if h >= k:
                o[:, j] = col[h - k:h]
            else:
                o[: k - h, j] = col[h - k:]
                o[k - h:, j] = col[:h]
        return out


def _appender(contender: str, lists):
    tl, pl, sl = lists
    if contender in ("spinstream", "twin"):
        mod = core_module("compiled" if contender == "spinstream" else "twin", "ring")
        ring = mod.TickRing(CAP)

        def run():
            ap = ring.append
            for t, p, s in zip(tl, pl, sl):
                ap(t, p, s)
    elif contender == "numpy":
        ring = NumpyRing()

        def run():
            ts, px, sz, _flags = ring.cols
            i = ring.n
            for t, p, s in zip(tl, pl, sl):
                j = i & MASK
                ts[j] = t
                px[j] = p
                sz[j] = s
                i += 1
            ring.n = i
    elif contender == "deque":
        ring = deque(maxlen=CAP)

        def run():
            ap = ring.append
            for t, p, s in zip(tl, pl, sl):
                ap((t, p, s, 0))
    else:  # python-loop-floor
        ring = None

        def run():
            for t, p, s in zip(tl, pl, sl):
                pass
    return ring, run


def _last_of(contender: str, ring, k: int) -> np.ndarray:
    if contender in ("spinstream", "twin", "numpy"):
        return np.asarray(ring.last(k))
    return np.array(list(islice(reversed(ring), k))[::-1], dtype=TICK_DTYPE)


@pytest.mark.parametrize("contender", ["spinstream", "twin", "numpy", "deque", "python-loop-floor"])
@pytest.mark.benchmark(group="ring")
def test_ring_append(benchmark, contender: str, ticks) -> None:
    arrays, lists = ticks
    ring, run = _appender(contender, lists)
    tag(benchmark, "append", contender, "tick", N, reference=contender == "python-loop-floor")
    benchmark.pedantic(run, rounds=10 if contender != "twin" else 3, warmup_rounds=1,
                       iterations=1)
    if ring is not None:
        got = _last_of(contender, ring, 5)
        want = np.array(list(zip(*(a[-5:].tolist() for a in arrays), [0] * 5)), TICK_DTYPE)
        assert np.array_equal(got.view(np.int64), want.view(np.int64)), contender


@pytest.mark.benchmark(group="ring")
def test_ring_append_batch(benchmark, ticks) -> None:
    mod = core_module("compiled", "ring")
    (ts, px, sz), _ = ticks
    ring = mod.TickRing(CAP)
    tag(benchmark, "append", "spinstream-append_batch", "tick", N, reference=True)
    benchmark(ring.append_batch, ts, px, sz)
    assert np.array_equal(np.asarray(ring.last(3))["ts"], ts[-3:])


@pytest.mark.parametrize("contender", ["spinstream", "twin", "numpy", "deque"])
@pytest.mark.benchmark(group="ring")
def test_ring_last(benchmark, contender: str, ticks) -> None:
    arrays, lists = ticks
    fill = CAP + LAST // 2  # wrapped, the newest LAST records straddle the wrap point
    ring, run = _appender(contender, [x[:fill] for x in lists])
    run()
    want = np.zeros(LAST, TICK_DTYPE)
    for f, a in zip(("ts", "price", "size"), arrays):
        want[f] = a[fill - LAST:fill]
    got = _last_of(contender, ring, LAST)
    assert np.array_equal(got.view(np.int64), want.view(np.int64)), contender
    tag(benchmark, "last1000", contender, "call", 1)
    if contender == "deque":
        benchmark(_last_of, contender, ring, LAST)
    else:
        benchmark(ring.last, LAST)

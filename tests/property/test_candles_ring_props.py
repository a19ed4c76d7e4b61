"""Random operation sequences on CandleAggregator and TickRing: the kind under test (compiled,
then twin) and the twin oracle return the same results and raise the same error types, and
`_check()` holds after every step."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
EDGES = [I64_MIN, I64_MIN + 1, I64_MIN + 7, -1, 0, 1, I64_MAX - 7, I64_MAX - 1, I64_MAX]

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the fixtures are stateless
)

# mostly small values, so ticks share, skip and revisit bars; sometimes int64 edges, which
# exercise the overflow paths, and (outside batches) values beyond int64
small = st.integers(-60, 200)
i64 = st.one_of(*[small] * 5, st.sampled_from(EDGES))
arg = st.one_of(*[i64] * 8, st.sampled_from([2**63, I64_MIN - 1]))
size = st.one_of(*[st.integers(0, 5)] * 8, st.sampled_from([2**62, I64_MAX, -1]))
batch_size = st.one_of(*[st.integers(0, 5)] * 8, st.just(2**62))


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """What a call returned (arrays as lists) or the type of error it raised."""
    try:
        res = fn(*args)
    except (ValueError, OverflowError, TypeError) as exc:
        return ("raised", type(exc))
    if isinstance(res, np.ndarray):
        return ("array", res.dtype, res.tolist())
    return ("returned", res)


# --- candles -----------------------------------------------------------------------------------


@st.composite
def seed_args(draw: st.DrawFn) -> tuple[int, ...]:
    """A seed bar, usually consistent, sometimes not (misaligned, unordered, negative)."""
    k = draw(st.integers(-5, 25))
    misalign = draw(st.sampled_from([0, 0, 0, 1]))
    prices = sorted(draw(st.lists(small, min_size=4, max_size=4)))
    low, a, b, high = prices if draw(st.booleans()) else draw(st.permutations(prices))
    o, c = (a, b) if draw(st.booleans()) else (b, a)
    v = draw(st.integers(-1, 50))
    n = draw(st.integers(-1, 50))
    return (k, misalign, o, high, low, c, v, n)


candle_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), arg, arg, size),
        st.tuples(st.just("add"), small, small, st.integers(0, 5)),
        st.tuples(
            st.just("add_batch"),
            st.lists(st.tuples(i64, i64, batch_size), max_size=25),
            st.sampled_from([None] * 5 + [-1]),  # sometimes one negative size: nothing applied
        ),
        st.tuples(st.just("seed"), seed_args()),
        st.tuples(st.just("flush")),
        st.tuples(st.just("drain")),
    ),
    max_size=40,
)


def apply_candle_op(agg: Any, op: tuple[Any, ...]) -> tuple[str, Any]:
    name = op[0]
    if name == "add":
        return outcome(agg.add, *op[1:])
    if name == "add_batch":
        cols = [np.array(c, np.int64) for c in zip(*op[1], strict=True)] or [
            np.empty(0, np.int64)
        ] * 3
        if op[2] is not None and len(op[1]):
            cols[2][len(op[1]) // 2] = op[2]
        return outcome(agg.add_batch, *cols)
    if name == "seed":
        k, misalign, *bar = op[1]
        return outcome(agg.seed, k * agg.scale_ns + misalign, *bar)
    return outcome(getattr(agg, name))


def candle_state(agg: Any) -> tuple[Any, ...]:
    return (agg.scale_ns, agg.late, agg.ticks, agg.open_bar())


@SETTINGS
@given(scale=st.sampled_from([1, 3, 10, 64, I64_MAX]), ops=candle_ops)
def test_candles_match_twin(core, twin, scale: int, ops: list[tuple[Any, ...]]) -> None:
    agg = core.candles.CandleAggregator(scale)
    ref = twin.candles.CandleAggregator(scale)
    for op in ops:
        assert apply_candle_op(agg, op) == apply_candle_op(ref, op), op
        assert candle_state(agg) == candle_state(ref), op
        agg._check()
        ref._check()
    assert agg.flush() == ref.flush()
    assert agg.drain().tolist() == ref.drain().tolist()


@SETTINGS
@given(
    scale=st.sampled_from([1, 3, 10]),
    ticks=st.lists(st.tuples(small, small, st.integers(0, 5)), max_size=200),
    cuts=st.lists(st.integers(0, 200), max_size=6),
)
def test_candles_batch_equals_stream(core, scale: int, ticks, cuts) -> None:
    one = core.candles.CandleAggregator(scale)
    many = core.candles.CandleAggregator(scale)
    closed = sum(one.add(*t) for t in ticks)
    got = 0
    edges = sorted({0, len(ticks), *(c for c in cuts if c < len(ticks))})
    for a, b in pairwise(edges):
        cols = [np.array(c, np.int64) for c in zip(*ticks[a:b], strict=True)]
        got += many.add_batch(*cols)
        many._check()
    assert got == closed
    assert candle_state(many) == candle_state(one)
    assert many.drain().tolist() == one.drain().tolist()


# --- ring --------------------------------------------------------------------------------------

ring_ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), arg, arg, arg, arg),
        st.tuples(st.just("append"), small, small, small, small),
        st.tuples(
            st.just("append_batch"),
            st.lists(st.tuples(i64, i64, i64, i64), max_size=30),
            st.booleans(),
        ),
        st.tuples(st.just("last"), st.one_of(st.integers(-1, 12), st.just(2**70))),
    ),
    max_size=40,
)


def apply_ring_op(ring: Any, op: tuple[Any, ...]) -> tuple[str, Any]:
    name = op[0]
    if name == "append":
        return outcome(ring.append, *op[1:])
    if name == "append_batch":
        cols = [np.array(c, np.int64) for c in zip(*op[1], strict=True)] or [
            np.empty(0, np.int64)
        ] * 4
        return outcome(ring.append_batch, *cols[:3], cols[3] if op[2] else None)
    return outcome(ring.last, op[1])


@SETTINGS
@given(capacity=st.integers(1, 9), ops=ring_ops)
def test_ring_matches_twin(core, twin, capacity: int, ops: list[tuple[Any, ...]]) -> None:
    ring = core.ring.TickRing(capacity)
    ref = twin.ring.TickRing(capacity)
    for op in ops:
        assert apply_ring_op(ring, op) == apply_ring_op(ref, op), op
        assert (ring.capacity, ring.count, len(ring)) == (ref.capacity, ref.count, len(ref))
        ring._check()
        ref._check()
    assert ring.last(capacity).tolist() == ref.last(capacity).tolist()

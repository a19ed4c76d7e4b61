"""Token buckets: pure, clock-injected pacing that keeps us under a venue's published limits."""

from __future__ import annotations

import pytest

from spinstream.protocol.limits import Bucket, Limiter

S = 1_000_000_000


def test_bucket_starts_with_a_burst_then_paces() -> None:
    b = Bucket(100, 10.0, burst=0.2, margin=0.1)  # burst 20, then 70 per 10 s
    assert [b.take(1, 0) for _ in range(20)] == [0] * 20
    assert b.take(1, 0) == pytest.approx(10 * S / 70, rel=1e-6)
    assert b.take(1, 0) == pytest.approx(2 * 10 * S / 70, rel=1e-6)  # callers queue


def test_bucket_refills_continuously_up_to_capacity() -> None:
    b = Bucket(60, 60.0, burst=0.5, margin=0)
    for _ in range(30):
        b.take(1, 0)
    assert b.available(30 * S) == pytest.approx(15)
    assert b.available(10_000 * S) == pytest.approx(30)


@pytest.mark.parametrize(("limit", "per_s"), [(60, 60.0), (1200, 60.0), (10, 1.0), (5, 1.0)])
def test_no_window_ever_holds_more_than_the_limit(limit: int, per_s: float) -> None:
    """Greedy callers, idle gaps, bursts: no window of per_s seconds exceeds the limit."""
    import random

    rng = random.Random(limit)
    b = Bucket(limit, per_s)
    now, sent = 0, []
    for _ in range(6 * limit):
        if rng.random() < 0.05:
            now += int(rng.random() * 2 * per_s * S)  # idle, refill
        now += b.take(1, now)
        sent.append(now)
    j = 0
    for i, t in enumerate(sent):  # every window starting at a call (sliding: the worst case)
        while j < len(sent) and sent[j] < t + per_s * S:
            j += 1
        assert j - i <= limit


def test_cost_over_capacity_and_bad_buckets() -> None:
    with pytest.raises(ValueError):
        Bucket(10, 1.0).take(3, 0)  # more than the burst capacity (2)
    for args in ((0, 1.0), (10, 0.0), (10, 1.0, 0.2, 1.0), (1, 1.0)):
        with pytest.raises(ValueError):
            Bucket(*args)


def test_limiter_takes_from_every_named_bucket() -> None:
    lim = Limiter({"weight": Bucket(100, 1.0), "orders": Bucket(4, 1.0, burst=0.5, margin=0)})
    assert lim.take({"weight": 1, "orders": 1}, 0) == 0
    assert lim.take({"weight": 1, "orders": 1}, 0) == 0
    assert lim.wait_ns({"weight": 1, "orders": 1}, 0) > 0  # orders bucket spent
    assert lim.wait_ns({"weight": 1}, 0) == 0
    assert lim.take({"unknown": 5}, 0) == 0

"""Reconnect delays do what transport/backoff.py says: x factor up to the cap, jitter +-50 %."""

from __future__ import annotations

import itertools
import random

from spinstream.transport.backoff import backoff


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def test_jitter_is_plus_minus_half_of_each_step() -> None:
    steps = [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]
    low = list(itertools.islice(backoff(0.25, 4.0, rng=_Fixed(0.0)), 6))
    mid = list(itertools.islice(backoff(0.25, 4.0, rng=_Fixed(0.5)), 6))
    high = list(itertools.islice(backoff(0.25, 4.0, rng=_Fixed(1.0)), 6))
    assert low == [s * 0.5 for s in steps]  # never below half a step: not "full jitter"
    assert mid == steps
    assert high == [s * 1.5 for s in steps]


def test_random_delays_stay_within_the_band() -> None:
    rng = random.Random(7)
    steps = [0.25, 0.5, 1.0, 2.0] + [2.0] * 50
    for step, delay in zip(steps, backoff(0.25, 2.0, rng=rng), strict=False):  # endless delays
        assert 0.5 * step <= delay < 1.5 * step

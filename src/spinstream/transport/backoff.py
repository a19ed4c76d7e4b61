"""Reconnect delays: exponential backoff with full jitter, as a plain generator."""

from __future__ import annotations

import random
from collections.abc import Iterator

__all__ = ["backoff"]


def backoff(
    initial: float = 0.25,
    maximum: float = 30.0,
    factor: float = 2.0,
    jitter: float = 0.5,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """Delays in seconds: initial, then x factor up to maximum, each scaled by 1 +- jitter.

    Jitter keeps many clients (or many connections of one workspace) from reconnecting in step.
    """
    r = rng or random.Random()
    delay = initial
    while True:
        yield delay * (1 - jitter + 2 * jitter * r.random())
        delay = min(maximum, delay * factor)

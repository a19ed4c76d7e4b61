"""Reconnect delays: exponential backoff, each delay jittered by +-50 %, as a plain generator.

Not "full jitter" (a uniform draw between 0 and the step): each delay stays between half and
one and a half times its step, so no retry comes at once and the steps still spread clients out.
"""

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
    """Delays in seconds: initial, then x factor up to maximum, each scaled by a uniform draw
    from [1 - jitter, 1 + jitter) (+-50 % by default; the cap applies before the jitter).

    Jitter keeps many clients (or many connections of one workspace) from reconnecting in step.
    """
    r = rng or random.Random()
    delay = initial
    while True:
        yield delay * (1 - jitter + 2 * jitter * r.random())
        delay = min(maximum, delay * factor)

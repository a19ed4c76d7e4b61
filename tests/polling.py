"""Waiting for state that arrives over real sockets, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(pred: Callable[[], Any], timeout_s: float = 30.0, what: str = "condition") -> Any:
    """Poll PRED until it returns something truthy (state arrives over real sockets).

    The default bound is generous: the suite must pass on a loaded 2-core machine.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        out = pred()
        if out:
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)

"""Waiting for state that arrives over real sockets, with a deadline (tests of strategies and
of spinstream itself: wait for the state, never sleep a fixed time)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_for"]

T = TypeVar("T")


def wait_for(pred: Callable[[], T], timeout_s: float = 30.0, what: str = "condition") -> T:
    """Poll PRED until it returns something truthy and return that; AssertionError after
    TIMEOUT_S. The default bound is generous: suites must pass on a loaded 2-core machine."""
    deadline = time.monotonic() + timeout_s
    while True:
        out = pred()
        if out:
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)

"""Clocks: the runtime reads time only through one of these, so tests can simulate time."""

from __future__ import annotations

import asyncio
import time

__all__ = ["Clock", "SimClock"]


class Clock:
    """Wall-clock ns (venue timestamps are wall time) and monotonic ns (for waits)."""

    ns = staticmethod(time.time_ns)  # the builtins themselves: no Python frame a read
    mono_ns = staticmethod(time.monotonic_ns)

    def sleep(self, seconds: float) -> None:
        """Block this (worker) thread for SECONDS."""
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Wait SECONDS on the event loop."""
        await asyncio.sleep(seconds)


class SimClock(Clock):
    """A clock that moves only when told to (`advance`): simulated hours in a test's seconds."""

    def __init__(self, start_ns: int = 1_700_000_000 * 1_000_000_000) -> None:
        self._now = start_ns

    def ns(self) -> int:
        return self._now

    def mono_ns(self) -> int:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += int(seconds * 1_000_000_000)

    def sleep(self, seconds: float) -> None:
        """Simulated sleep: time moves on at once."""
        self.advance(max(0.0, seconds))

    async def asleep(self, seconds: float) -> None:
        """Simulated wait on the event loop: time moves on, the loop runs others once."""
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)

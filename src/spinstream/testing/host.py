"""Run simulated exchanges on their own event-loop thread, for sync code (strategies, the demo).

A strategy's sync `ctx` call blocks its thread until the runtime answers; if the simulator lived
on that same thread's loop it could never answer. `SimHost` gives the simulators a thread of
their own and lets the caller inject faults and read counters thread-safely:

    with SimHost("binance", "bybit", seed=1) as host:
        host["binance"].urls, host["binance"].credentials
        host.run(lambda: host["binance"].faults.drop())
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from spinstream.testing.sims import sim

__all__ = ["SimHost"]

T = TypeVar("T")


class SimHost:
    """Simulators for VENUES, started on a private event-loop thread (127.0.0.1, free ports)."""

    __test__ = False

    def __init__(self, *venues: str, **kwargs: Any) -> None:
        self.venues = venues
        self._kwargs = kwargs
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="spinstream-sims", daemon=True
        )
        self.sims: dict[str, Any] = {}

    def __getitem__(self, venue: str) -> Any:
        return self.sims[venue]

    def start(self) -> SimHost:
        self._thread.start()

        async def up() -> None:
            for v in self.venues:
                ex = sim(v, **self._kwargs)
                await ex.start()
                self.sims[v] = ex

        asyncio.run_coroutine_threadsafe(up(), self.loop).result(30)
        return self

    def stop(self) -> None:
        async def down() -> None:
            for ex in self.sims.values():
                await ex.stop()

        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(down(), self.loop).result(30)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(10)

    def run(self, fn: Callable[[], T], timeout_s: float = 10.0) -> T:
        """Call FN on the simulators' loop (faults, engine state) and return its result."""

        async def call() -> T:
            out = fn()
            if asyncio.iscoroutine(out):
                out = await out
            return out

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout_s)

    def __enter__(self) -> SimHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Run a strategy: call it every `interval` seconds with a `Context`, in server or browser mode.

Server mode answers from the stream cache (REST on a miss); browser mode is REST only and opens
no WebSocket. A strategy exception is logged and counted; the worker and the runtime go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from spinstream.ctx import Context
from spinstream.transport.clock import Clock

if TYPE_CHECKING:
    from spinstream.workspace import Workspace

__all__ = ["Worker"]

log = logging.getLogger(__name__)

Strategy = Callable[[Context], object]


class Worker:
    """Calls `strategy(ctx)` every `interval` seconds on its own thread (or the caller's)."""

    def __init__(
        self,
        strategy: Strategy,
        workspace: Workspace,
        mode: str = "server",
        interval: float = 1.0,
        *,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        workspace.check_mode(mode)  # fail early: browser mode on a server-only venue
        if interval < 0:
            raise ValueError("interval must be >= 0")
        self.strategy = strategy
        self.workspace = workspace
        self.mode = mode
        self.interval = interval
        self.name = name or getattr(strategy, "__name__", "strategy")
        self.iterations = 0
        self.errors = 0
        self.last_error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctx: Context | None = None
        self.clock = clock  # None: real time; a SimClock runs a simulated schedule at once

    @property
    def ctx(self) -> Context:
        if self._ctx is None:
            self._ctx = Context(self.workspace, self.mode)
        return self._ctx

    def run(self, duration: float | None = None, iterations: int | None = None) -> None:
        """Run on this thread until `stop()`, `duration` seconds or `iterations` calls."""
        ctx = self.ctx
        now = time.monotonic if self.clock is None else (lambda: self.clock.mono_ns() / 1e9)  # type: ignore[union-attr]
        deadline = None if duration is None else now() + duration
        n = 0
        while not self._stop.is_set():
            started = now()
            try:
                self.strategy(ctx)
            except Exception as exc:  # noqa: BLE001 - a strategy never stops the runtime
                self.errors += 1
                self.last_error = exc
                log.error(
                    "strategy %s raised %r (error %d)", self.name, exc, self.errors, exc_info=exc
                )
            self.iterations += 1
            n += 1
            if iterations is not None and n >= iterations:
                break
            if deadline is not None and now() >= deadline:
                break
            wait = self.interval - (now() - started)
            if deadline is not None:
                wait = min(wait, deadline - now())
            if wait > 0:
                if self.clock is not None:
                    self.clock.sleep(wait)
                elif self._stop.wait(wait):
                    break

    def start(self) -> Worker:
        """Run on a background thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"worker-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

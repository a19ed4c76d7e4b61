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

    @property
    def ctx(self) -> Context:
        if self._ctx is None:
            self._ctx = Context(self.workspace, self.mode)
        return self._ctx

    def run(self, duration: float | None = None, iterations: int | None = None) -> None:
        """Run on this thread until `stop()`, `duration` seconds or `iterations` calls."""
        ctx = self.ctx
        deadline = None if duration is None else time.monotonic() + duration
        n = 0
        while not self._stop.is_set():
            started = time.monotonic()
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
            if deadline is not None and time.monotonic() >= deadline:
                break
            wait = self.interval - (time.monotonic() - started)
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            if wait > 0 and self._stop.wait(wait):
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

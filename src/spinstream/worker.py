"""Run a strategy: call it every `interval` seconds with a `Context`, in server or browser mode.

Server mode answers from the stream cache (REST on a miss); browser mode is REST only and opens
no WebSocket. A strategy exception is logged and counted; the worker and the runtime go on.

Warm-up (server mode): before the first tick the runtime streams every account's private data
and its declared `symbols` (tickers, books), and the first tick waits until they are fresh, at
most each account's `warm_timeout_s` (`Runtime.warm`, once per workspace runtime: a second
worker finds it done). `start()` checks the declarations first, so an unknown symbol raises
ConfigError in the caller. `warmup` holds the report (account -> `Warmup`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from spinstream.ctx import Context
from spinstream.errors import ConfigError
from spinstream.transport.clock import Clock

if TYPE_CHECKING:
    from spinstream.warmup import Warmup
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
        self.warmup: dict[str, Warmup] | None = None  # the warm-up's report (server mode)

    @property
    def warm_s(self) -> float | None:
        """How long the warm-up took (seconds; its accounts warm at once), None before it."""
        if self.warmup is None:
            return None
        return max((w.seconds for w in self.warmup.values()), default=0.0)

    def warm(self) -> dict[str, Warmup]:
        """Warm the cache now (server mode; browser mode warms nothing): stream the accounts'
        private data and declared symbols and wait until fresh or `warm_timeout_s`.

        Raises:
            ConfigError: a declared symbol (epic) the venue does not list.
        """
        if self.mode != "server":
            self.warmup = {}
            return self.warmup
        if self.warmup is None:
            rt = self.workspace.runtime
            rt.warm_begin()
            while self.warmup is None:  # in short waits: `stop()` ends this one too
                try:
                    self.warmup = rt.warm_wait(timeout_s=0.1)
                except FutureTimeout:
                    if self._stop.is_set():
                        return {}
        return self.warmup

    @property
    def ctx(self) -> Context:
        if self._ctx is None:
            self._ctx = Context(self.workspace, self.mode)
        return self._ctx

    def run(self, duration: float | None = None, iterations: int | None = None) -> None:
        """Run on this thread until `stop()`, `duration` seconds or `iterations` calls."""
        ctx = self.ctx
        try:
            self.warm()  # the first tick reads a warm cache
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed warm-up leaves REST on a miss
            if self._stop.is_set():
                return
            log.error("worker %s: warm-up failed (%r): reads fall back to REST", self.name, exc)
            self.warmup = {}
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
        """Run on a background thread (server mode: the declared symbols are checked here, so
        a bad one raises ConfigError to the caller; the thread's first tick waits for them)."""
        if self.mode == "server":
            self.workspace.runtime.warm_begin()
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"worker-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

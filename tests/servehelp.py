"""Run `spinstream serve` on its own thread for a test, over simulators on the loopback."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from spinstream.credentials import Credentials
from spinstream.serve.app import ServeConfig, serve_forever
from spinstream.workspace import AccountConfig, Workspace

STRATEGY = '''"""Reads a Binance ticker and a Bybit book every tick; logs now and then."""
import logging

log = logging.getLogger("strategy.test")
n = 0


def tick(ctx):
    global n
    n += 1
    t = ctx.binance.get_ticker("BTCUSDT")
    b = ctx.bybit.get_orderbook("BTCUSDT", 5)
    if n % 10 == 1:
        log.info("tick %d: %s %s / book %s", n, t.bid, t.source, b.source)
'''

BROKEN = "def tick(ctx):\n    raise RuntimeError('boom from the strategy')\n"


def workspace(host: Any, silent_s: float | None = None) -> Workspace:
    """Binance and Bybit accounts on HOST's simulators, BTCUSDT declared (warmed at deploy)."""
    accounts = []
    for v in ("binance", "bybit"):
        c = host[v].credentials
        accounts.append(
            AccountConfig(
                alias=v, venue=v, urls=host[v].urls, symbols=("BTCUSDT",), silent_s=silent_s,
                credentials=Credentials.of(c["api_key"], c["api_secret"]),
            )
        )  # fmt: skip
    return Workspace(accounts)


def strategies_dir(root: Path) -> Path:
    d = root / "strategies"
    d.mkdir(parents=True, exist_ok=True)
    (d / "reader.py").write_text(STRATEGY, encoding="utf-8")
    (d / "broken.py").write_text(BROKEN, encoding="utf-8")
    (root / "outside.py").write_text(STRATEGY, encoding="utf-8")
    return d


class Served:
    """`serve_forever` on a thread of its own; `url`, `token`, `stop()`."""

    def __init__(self, cfg: ServeConfig) -> None:
        self.cfg = cfg
        self.url = ""
        self.token: str | None = None
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="serve-test", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def run() -> None:
            self._stop = asyncio.Event()

            def ready(url: str, token: str | None) -> None:
                self.url, self.token = url, token
                self._ready.set()

            await serve_forever(self.cfg, ready=ready, stop=self._stop)

        try:
            self._loop.run_until_complete(run())
        except BaseException as exc:  # noqa: BLE001 - shown by start()
            self._error = exc
            self._ready.set()

    def start(self) -> Served:
        self._thread.start()
        if not self._ready.wait(60) or self._error is not None:
            raise RuntimeError(f"serve did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

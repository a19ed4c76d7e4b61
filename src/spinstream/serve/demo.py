"""`spinstream demo --serve`: the page over simulated Binance, Bybit and IG (offline), with a
sample strategy deployed in server mode, so a new user sees it work in one command."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from pathlib import Path
from typing import Any

from spinstream.serve.app import ServeConfig, serve_forever

__all__ = ["SAMPLE", "demo_workspace", "run_demo_serve"]

SAMPLE = '''"""A sample strategy: read tickers and books from the cache (REST on a miss)."""
import logging

log = logging.getLogger("strategy.sample")
n = 0


def tick(ctx):
    global n
    n += 1
    t = ctx.binance.get_ticker("BTCUSDT")
    b = ctx.bybit.get_orderbook("BTCUSDT", 5)
    if n % 20 == 1:
        log.info("tick %d: binance BTCUSDT %s/%s (%s), bybit book %d levels (%s)",
                 n, t.bid, t.ask, t.source, len(b.bids), b.source)
'''

IG_SAMPLE = '''"""An IG strategy at 1 Hz: positions and a market from the Lightstreamer cache."""


def tick(ctx):
    ctx.ig.get_positions()
    ctx.ig.get_streaming_market("CS.D.EURUSD.CFD.IP")
'''


def demo_workspace(host: Any) -> Any:
    """A workspace on the simulators of HOST (a started SimHost of binance, bybit and ig)."""
    from spinstream.credentials import Credentials
    from spinstream.demo import IG_EPICS, SYMBOLS
    from spinstream.workspace import AccountConfig, Workspace

    accounts = []
    for v in ("binance", "bybit"):
        c = host[v].credentials
        accounts.append(
            AccountConfig(
                alias=v, venue=v, urls=host[v].urls, symbols=SYMBOLS[v],
                credentials=Credentials.of(c["api_key"], c["api_secret"]),
            )
        )  # fmt: skip
    if "ig" in host.sims:
        c = host["ig"].credentials
        accounts.append(
            AccountConfig(
                alias="ig", venue="ig", env="demo", identifier=c["identifier"], epics=IG_EPICS,
                urls=host["ig"].urls, credentials=Credentials.of(c["api_key"], c["password"]),
            )
        )  # fmt: skip
    return Workspace(accounts)


def write_samples(d: Path) -> None:
    (d / "sample.py").write_text(SAMPLE, encoding="utf-8")
    (d / "ig_sample.py").write_text(IG_SAMPLE, encoding="utf-8")


def run_demo_serve(port: int = 8765, seconds: float | None = None) -> int:
    """Serve the page over the simulators until interrupted (or SECONDS); the exit code."""
    from spinstream.testing.host import SimHost

    with (
        tempfile.TemporaryDirectory(prefix="spinstream-demo-") as tmp,
        SimHost("binance", "bybit", "ig", seed=11, tick_interval=0.05) as host,
    ):
        d = Path(tmp) / "strategies"
        d.mkdir()
        write_samples(d)
        cfg = ServeConfig(demo_workspace(host), [d], port=port)

        def ready(url: str, token: str | None) -> None:
            print(
                f"spinstream demo --serve: open {url}  (simulated venues on 127.0.0.1; "
                "Ctrl-C stops)",
                flush=True,
            )

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            if seconds is not None:
                loop.call_later(seconds, stop.set)

            await serve_forever(
                cfg, ready=ready, stop=stop,
                autostart=[("sample.py", "sample", "server", 0.1),
                           ("ig_sample.py", "ig_sample", "server", 1.0)],
            )  # fmt: skip

        try:
            asyncio.run(main())
        except OSError as exc:
            print(f"spinstream demo --serve: cannot listen on port {port}: {exc}")
            return 2
    return 0

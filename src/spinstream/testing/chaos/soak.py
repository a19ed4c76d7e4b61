"""Soak: N frames through one connection, RSS sampled every 10 s (flat after warm-up)."""

from __future__ import annotations

import time
from typing import Any

from spinstream.testing.host import SimHost

__all__ = ["soak", "rss_mb"]


def rss_mb() -> float:
    """This process's resident set size in MB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except OSError:
        return 0.0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def soak(frames: int, venue: str = "binance-spot", sample_s: float = 10.0) -> dict[str, Any]:
    """Stream FRAMES frames through one public connection (sim ticking every 2 ms) while a
    reader polls; returns RSS samples (MB) and the frames/s achieved."""
    from spinstream.ctx import Context
    from spinstream.testing.chaos.trials import TARGETS, _workspace

    t = TARGETS[venue]
    with SimHost(t.sim, seed=11, tick_interval=0.002) as host:
        ws, aliases = _workspace(host, t, 1)
        try:
            c = getattr(Context(ws), aliases[0])
            c.get_orderbook(t.symbol, 5, market=t.market)
            c.get_ticker(t.symbol, market=t.market)
            t0 = time.monotonic()
            samples = [(0.0, 0, rss_mb())]
            conn = None
            next_sample = t0 + sample_s
            while True:
                conns = [x for a in ws.runtime.accounts() for x in a.connections.values()]
                conn = conns[0] if conns else None
                n = sum(x.messages for x in conns)
                c.get_orderbook(t.symbol, 5, market=t.market)
                if time.monotonic() >= next_sample:
                    samples.append((round(time.monotonic() - t0, 1), n, round(rss_mb(), 1)))
                    next_sample += sample_s
                if n >= frames:
                    break
                time.sleep(0.01)
            dt = time.monotonic() - t0
            samples.append((round(dt, 1), n, round(rss_mb(), 1)))
            return {
                "venue": venue, "frames": n, "seconds": round(dt, 1),
                "frames_per_s": round(n / dt), "connects": conn.connects if conn else 0,
                "rss_mb": samples,
            }  # fmt: skip
        finally:
            ws.close()

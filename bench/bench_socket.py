"""Group `socket-to-cache`: client CPU per frame, socket to state, over loopback TLS (short form).

The short form of bench/e2e (the loopback end-to-end benchmark, `python -m bench.e2e`), so that a
regression of the whole frame path shows in the benchmark run: per round, a fresh replay server
process (bench/e2e/server.py: real TLS and WebSocket framing on 127.0.0.1, the recorded traffic
looped with its sequence rules kept) and a fresh client process (bench/e2e/clients.py), FRAMES
frames of which the first 20 are warm-up; the client measures its own CPU time (getrusage, all
its threads) from the go to the last frame, and its final state is checked against the
independent replay (bench.e2e.recording.expected): a wrong state or a resync fails the test.

unit "frame" (units: the timed frames). The time of a round is the client's CPU seconds over its
timed frames, as it measured them (this group's pytest-benchmark timer is that clock: wall time
here would be the 2-core machine's scheduling), so ns/unit is client CPU ns per frame.
sets: `bookTicker`, `depth` (Binance spot NKNUSDT), `okx-tickers` (OKX BTC-USDT), `okx-books`
  (OKX BTC-USDT 400-level books, CRC32 checksums: spinstream checks them, the floor does not).
contenders:
  - `spinstream`: its public API, a `Workspace` with URL overrides and `ctx` reads in server
    mode, the account's default `ws_backend`;
  - `floor-aiohttp` (baseline): aiohttp's ws client + orjson + a dict book, sequence checked.
Target (issue 11): spinstream's CPU per frame within 1.25x of the floor's; a gate only with
SPINSTREAM_BENCH_STRICT=1. Needs `cryptography` (the server's certificate) and `orjson` (the
floor), both in the bench extra; without them the group skips, saying so.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from _harness import _SKIPPED, tag

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench.e2e, from the project root
    sys.path.insert(0, str(ROOT))

FRAMES = 5_000
WARMUP = 20
ROUNDS = 5
TIMEOUT_S = 60.0
STREAMS = ("bookTicker", "depth", "okx-tickers", "okx-books")
CONTENDERS = ("spinstream", "floor-aiohttp")
NEEDS = ("cryptography", "orjson")


class ClientCpuClock:
    """This group's pytest-benchmark timer: advanced by each round's client CPU seconds."""

    __name__ = "client-cpu"

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def __repr__(self) -> str:
        return "client-cpu (getrusage of the client process, timed frames)"


def _missing() -> str | None:
    gone = [m for m in NEEDS if find_spec(m) is None]
    if gone:
        return f"not installed: {', '.join(gone)} (pip install 'spinstream[bench]')"
    return None


@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.benchmark(group="socket-to-cache")
def test_socket_to_cache(benchmark: Any, stream: str, contender: str) -> None:
    why = _missing()
    if why:
        _SKIPPED["bench_socket"] = why
        pytest.skip(why)
    from bench.e2e.run import one_run

    if not hasattr(benchmark, "_timer"):  # pytest-benchmark's fixture keeps its timer there
        _SKIPPED["bench_socket"] = "this pytest-benchmark has no settable timer"
        pytest.skip("this pytest-benchmark version has no settable timer (fixture._timer)")
    clock = ClientCpuClock()
    benchmark._timer = clock
    results: list[dict[str, Any]] = []

    def setup() -> None:  # the whole run, untimed by pytest-benchmark's own clock
        r = one_run(contender, stream, FRAMES, WARMUP, TIMEOUT_S)
        assert r["ok"], f"{contender} {stream}: {r['why']}"
        results.append(r)

    def advance() -> None:  # the round's "time": the client's CPU over its timed frames
        clock.t += results[-1]["cpu_s"]

    benchmark.pedantic(advance, setup=setup, rounds=ROUNDS, iterations=1)
    frames = results[-1]["frames"]
    walls = sorted(r["frames"] / r["wall_s"] for r in results)
    tag(benchmark, stream, contender, "frame", frames,
        frames_per_s=round(walls[len(walls) // 2]),
        ws_library=results[-1].get("ws_library"))  # fmt: skip

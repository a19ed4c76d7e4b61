"""bench/e2e smoke: replay server, spinstream and the floor over loopback TLS, final state checked.

A few thousand frames per run (seconds): the looped recording keeps Binance's sequence rules
(a client that checks them stays synced over several loops), and spinstream's final book and
ticker equal the independent replay's. The full benchmark is `python -m bench.e2e`.
"""

from __future__ import annotations

import sys
import zlib
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest.importorskip("cryptography")  # the replay server's self-signed certificate
pytest.importorskip("orjson")  # the floor client

from bench.e2e import recording  # noqa: E402
from bench.e2e.run import one_run  # noqa: E402

NO_EXT = "SPINSTREAM_NO_EXTENSIONS"
FRAMES = 2_000  # > 13 loops of the recorded depth diffs, > 27 of the bookTickers


def test_looped_depth_keeps_the_sequence_and_returns_to_the_snapshot() -> None:
    loop, snap = recording.depth_loop()
    fs = recording.depth_frames(3 * len(loop) + 7)
    assert fs[0]["U"] <= snap["lastUpdateId"] + 1 <= fs[0]["u"]
    assert all(b["U"] == a["u"] + 1 for a, b in zip(fs, fs[1:], strict=False))
    bids = {p: q for p, q in snap["bids"]}
    asks = {p: q for p, q in snap["asks"]}
    for f in fs[: 2 * len(loop)]:  # two whole loops, reset diffs included
        for side, levels in ((bids, f["b"]), (asks, f["a"])):
            for p, q in levels:
                if Decimal(q) == 0:
                    side.pop(p, None)
                else:
                    side[p] = q
    assert bids == {p: q for p, q in snap["bids"]} and asks == {p: q for p, q in snap["asks"]}
    ts = recording.ticker_frames(200)
    assert all(b["u"] > a["u"] for a, b in zip(ts, ts[1:], strict=False))


def _okx_crc(bids: dict[str, str], asks: dict[str, str]) -> int:
    """OKX's books checksum: CRC32 of the top 25 levels, bid and ask interleaved, signed."""
    b = sorted(bids.items(), key=lambda kv: -Decimal(kv[0]))[:25]
    a = sorted(asks.items(), key=lambda kv: Decimal(kv[0]))[:25]
    parts: list[str] = []
    for i in range(25):
        parts += list(b[i]) if i < len(b) else []
        parts += list(a[i]) if i < len(a) else []
    c = zlib.crc32(":".join(parts).encode())
    return c - (1 << 32) if c >= 1 << 31 else c


def test_looped_okx_books_chain_their_seq_ids_and_keep_every_checksum_right() -> None:
    fs = recording.okx_book_frames(3 * len(recording.okx_loop()) + 5)
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}
    last = None
    for f in fs:
        d = f["data"][0]
        if d["prevSeqId"] == -1:
            bids = {lv[0]: lv[1] for lv in d["bids"]}
            asks = {lv[0]: lv[1] for lv in d["asks"]}
        else:
            assert d["prevSeqId"] == last
            for side, levels in ((bids, d["bids"]), (asks, d["asks"])):
                for lv in levels:
                    if Decimal(lv[1]) == 0:
                        side.pop(lv[0], None)
                    else:
                        side[lv[0]] = lv[1]
        assert _okx_crc(bids, asks) == d["checksum"]
        last = d["seqId"]


@pytest.mark.slow
@pytest.mark.parametrize("stream", ["bookTicker", "depth", "okx-books"])
@pytest.mark.parametrize("client", ["spinstream", "floor-aiohttp"])
def test_client_over_the_replay_matches_the_independent_replay(
    client: str, stream: str
) -> None:
    r = one_run(client, stream, FRAMES, warmup=20, timeout=60)
    assert r["ok"], (r.get("why"), r.get("server"))
    assert r["frames"] == FRAMES - 20 and r["wall_s"] > 0 and r["cpu_s"] > 0
    assert r["server"]["frames_sent"] == FRAMES and r["server"]["ws_after_go"] == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("client", "stream", "symbols", "connections"),
    [
        ("spinstream", "depth", 6, 1),
        ("spinstream", "bookTicker", 4, 4),
        ("floor-aiohttp", "depth", 4, 4),
        ("floor-aiohttp", "bookTicker", 6, 1),
    ],
)
def test_scale_run_checks_every_symbol_against_the_independent_replay(
    client: str, stream: str, symbols: int, connections: int
) -> None:
    """bench/e2e scale runs (`--symbols` / `--connections`): the recorded stream under several
    symbol names, round-robin on one connection or one symbol a connection; every symbol's
    final state is checked, every frame sent, nobody resynced, RSS reported."""
    r = one_run(client, stream, FRAMES, warmup=20, timeout=60, symbols=symbols,
                connections=connections)  # fmt: skip
    assert r["ok"], (r.get("why"), r.get("server"))
    per = FRAMES // symbols
    assert r["frames"] == (per - 20) * symbols and r["books"] == symbols
    assert r["state"]["symbols"] == symbols
    assert r["server"]["frames_sent"] == per * symbols and r["server"]["ws_after_go"] == 0
    assert r["connections"] == connections and r["server"]["ws_connections"] == connections
    assert r["rss_ready_kb"] >= r["rss_base_kb"] > 0

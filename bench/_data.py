"""Inputs of the benchmarks: recorded exchange traffic and seeded synthetic ticks.

Recorded traffic is read through tests/recorded.py (loaded by file path, so nothing is added to
sys.path and its SHA-256 check of the recorded copies applies). Every level stays exactly as the
JSON decoder produced it (lists of strings), which is what each contender is fed.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

Level = list  # a decoded JSON level: [price_str, size_str, ...]


@lru_cache(maxsize=None)
def recorded() -> Any:
    spec = importlib.util.spec_from_file_location(
        "_spinstream_bench_recorded", ROOT / "tests" / "recorded.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _frac_digits(text: str) -> int:
    """Significant fractional digits of a plain decimal string ("0.35210000" -> 4)."""
    if "." not in text:
        return 0
    return len(text.split(".", 1)[1].rstrip("0"))


@dataclass
class BookStream:
    """Per-instrument snapshots and the interleaved update stream that follows them."""

    venue: str
    snapshots: dict[str, tuple[list[Level], list[Level]]] = field(default_factory=dict)
    updates: list[tuple[str, list[Level], list[Level]]] = field(default_factory=list)
    decimals: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def levels(self) -> int:
        """Levels in the update stream (what the per-level cost is divided by)."""
        return sum(len(b) + len(a) for _, b, a in self.updates)

    @property
    def snapshot_levels(self) -> int:
        return sum(len(b) + len(a) for b, a in self.snapshots.values())

    def _derive_decimals(self) -> None:
        dec: dict[str, list[int]] = {}
        rows = [(i, b + a) for i, (b, a) in self.snapshots.items()]
        rows += [(i, b + a) for i, b, a in self.updates]
        for inst, levels in rows:
            d = dec.setdefault(inst, [0, 0])
            for lvl in levels:
                d[0] = max(d[0], _frac_digits(lvl[0]))
                d[1] = max(d[1], _frac_digits(lvl[1]))
        self.decimals = {k: (v[0], v[1]) for k, v in dec.items()}


@lru_cache(maxsize=None)
def okx_books() -> BookStream:
    """OKX `books` (400 levels): each instrument's snapshot, then its `update` messages."""
    s = BookStream("okx")
    for _conn, _ts, text in recorded().recv("OKX.jsonl"):
        msg = json.loads(text)
        if msg.get("arg", {}).get("channel") != "books" or "data" not in msg:
            continue
        inst = msg["arg"]["instId"]
        for d in msg["data"]:
            if msg["action"] == "snapshot":
                assert inst not in s.snapshots, "one snapshot per instrument expected"
                s.snapshots[inst] = (d["bids"], d["asks"])
            elif inst in s.snapshots:
                s.updates.append((inst, d["bids"], d["asks"]))
    s._derive_decimals()
    return s


@lru_cache(maxsize=None)
def binance_books() -> BookStream:
    """Binance diff depth after the REST snapshot (drop u <= lastUpdateId, then U == prev u + 1)."""
    s = BookStream("binance")
    last: dict[str, int] = {}
    for h in recorded().http("BINANCE.jsonl"):
        if "/api/v3/depth?" not in h["url"]:
            continue
        data = h["data"] if isinstance(h["data"], dict) else json.loads(h["data"])
        sym = h["url"].split("symbol=")[1].split("&")[0]
        s.snapshots[sym] = (data["bids"], data["asks"])
        last[sym] = data["lastUpdateId"]
    synced: set[str] = set()
    for _conn, _ts, text in recorded().recv("BINANCE.jsonl"):
        msg = json.loads(text)
        d = msg.get("data", msg)
        if not isinstance(d, dict) or d.get("e") != "depthUpdate" or d["s"] not in last:
            continue
        sym = d["s"]
        if d["u"] <= last[sym]:
            continue  # older than the snapshot
        if sym not in synced:
            assert d["U"] <= last[sym] + 1 <= d["u"], f"{sym}: first event does not bridge"
            synced.add(sym)
        else:
            assert d["U"] == last[sym] + 1, f"{sym}: sequence gap"
        last[sym] = d["u"]
        s.updates.append((sym, d["b"], d["a"]))
    s.snapshots = {k: v for k, v in s.snapshots.items() if k in synced}
    s._derive_decimals()
    return s


def book_streams() -> dict[str, BookStream]:
    return {"okx": okx_books(), "binance": binance_books()}


@dataclass
class Trades:
    """Recorded trades as decoded: (key, ts_ms, price_str, size_str), in recorded order."""

    rows: list[tuple[str, int, str, str]]
    decimals: dict[str, tuple[int, int]]


@lru_cache(maxsize=None)
def bybit_trades() -> Trades:
    rows: list[tuple[str, int, str, str]] = []
    for conn, _ts, text in recorded().recv("BYBIT.jsonl"):
        msg = json.loads(text)
        if not str(msg.get("topic", "")).startswith("publicTrade."):
            continue
        for t in msg["data"]:
            rows.append((conn + ":" + t["s"], int(t["T"]), t["p"], t["v"]))
    dec: dict[str, tuple[int, int]] = {}
    for key, _t, p, v in rows:
        a, b = dec.get(key, (0, 0))
        dec[key] = (max(a, _frac_digits(p)), max(b, _frac_digits(v)))
    return Trades(rows, dec)


SYNTH_SEED = 20240611
SYNTH_N = 10_000_000
SYNTH_T0 = 1_700_000_000_000_000_000  # ns


@lru_cache(maxsize=None)
def synthetic_ticks(n: int = SYNTH_N, seed: int = SYNTH_SEED) -> tuple[np.ndarray, ...]:
    """(ts_ns, price_ticks, size_lots) int64, time-ordered: ~1 ms mean spacing (10M ticks span
    ~2.8 h), price a +-1 tick random walk around 3,000,000 ticks, sizes 1..1000 lots."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1_000_000.0, n).astype(np.int64)  # ns
    ts = SYNTH_T0 + np.cumsum(gaps, dtype=np.int64)
    price = 3_000_000 + np.cumsum(rng.integers(-1, 2, n, dtype=np.int64), dtype=np.int64)
    size = rng.integers(1, 1001, n, dtype=np.int64)
    for a in (ts, price, size):
        a.flags.writeable = False
    return ts, price, size


# --------------------------------------------------------------------------- frame-to-cache


@dataclass
class FrameStream:
    """Recorded text frames as they came off the socket, split where the books are in sync.

    `setup` is the part of the timeline a client needs before its books are usable (for Binance:
    every frame up to the last REST depth snapshot, with those snapshots, as ("http", url, body,
    ts) / ("recv", None, frame, ts)); `frames` is what is timed: (ts_ns, frame_text)."""

    setup: list[tuple[str, str | None, str, int]]
    frames: list[tuple[int, str]]
    http: dict[str, str]  # every recorded REST answer by URL


def _keep_binance(frame: str) -> bool:
    stream = json.loads(frame).get("stream", "")
    return stream.endswith("@bookTicker") or stream.endswith("@depth@100ms")


@lru_cache(maxsize=None)
def binance_frames() -> FrameStream:
    """BINANCE.jsonl spot combined-stream frames (`<sym>@bookTicker`, `<sym>@depth@100ms`; the
    few `@kline_1m`/`@aggTrade` frames are left out), in recorded time order. The four depth
    snapshots were fetched while the stream ran; everything up to the last one is `setup`."""
    lines = sorted(
        (o for o in recorded().lines("BINANCE.jsonl") if o["t"] in ("http", "recv")),
        key=lambda o: o["ts"],
    )
    http = {o["url"]: o["data"] for o in lines if o["t"] == "http"}
    last = max(i for i, o in enumerate(lines) if o["t"] == "http" and "/depth?" in o["url"])
    setup: list[tuple[str, str | None, str, int]] = []
    frames: list[tuple[int, str]] = []
    for i, o in enumerate(lines):
        ts = int(round(o["ts"] * 1e9))
        if o["t"] == "http":
            if "/depth?" in o["url"]:
                setup.append(("http", o["url"], o["data"], ts))
        elif _keep_binance(o["data"]):
            if i < last:
                setup.append(("recv", None, o["data"], ts))
            else:
                frames.append((ts, o["data"]))
    return FrameStream(setup, frames, http)


@lru_cache(maxsize=None)
def bybit_linear_frames() -> FrameStream:
    """BYBIT.jsonl linear connection (BYBIT.ws.2): `orderbook.200.*` (one snapshot per symbol,
    then deltas) and `tickers.*` (snapshot, then deltas) frames, in recorded order; acks, pongs,
    `publicTrade` and `kline` frames left out. No setup: Bybit sends its book snapshots on
    the socket."""
    frames = []
    for _conn, ts, text in recorded().recv("BYBIT.jsonl", "BYBIT.ws.2"):
        topic = json.loads(text).get("topic", "")
        if topic.startswith("orderbook.200.") or topic.startswith("tickers."):
            frames.append((ts, text))
    http = {h["url"]: h["data"] for h in recorded().http("BYBIT.jsonl")}
    return FrameStream([], frames, http)


def _keep_okx(frame: str) -> bool:
    msg = json.loads(frame)
    return "data" in msg and msg.get("arg", {}).get("channel") in ("books", "tickers")


@lru_cache(maxsize=None)
def okx_frames() -> FrameStream:
    """OKX.jsonl (one public connection, 2022): `books` (one snapshot per instrument, then
    updates; real CRC32 checksums, no seqId yet) and `tickers` pushes of BTC-USDT (spot),
    UNI-USD-SWAP (swap) and BTC-USD-220527 (futures), in recorded order; subscribe acks and
    `trades` left out. No setup: OKX sends its book snapshots on the socket. `http` holds the
    recorded `GET /api/v5/public/instruments` answers (tick and lot sizes)."""
    frames = [(ts, text) for _c, ts, text in recorded().recv("OKX.jsonl") if _keep_okx(text)]
    http = {h["url"]: h["data"] for h in recorded().http("OKX.jsonl")}
    return FrameStream([], frames, http)

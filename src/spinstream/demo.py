"""`spinstream demo`: recorded OKX books through the core, checksums verified, costs shown.

Offline: the recording ships inside the package. At this stage the demo exercises the core (book,
candles, tick ring) on real traffic and compares the compiled path with the pure-Python twin; the
runtime issue turns it into a strategy running against the simulated exchanges.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinstream import _core
from spinstream._core._py import book as twin_book
from spinstream.testing.recorded import recorded_frames

__all__ = ["run_demo", "load_okx_books"]


@dataclass
class _Instrument:
    price_decimals: int = 0
    size_decimals: int = 0
    messages: list[tuple[str, list[Any], list[Any], int | None]] = field(default_factory=list)


def _decimals(text: str) -> int:
    return len(text) - text.index(".") - 1 if "." in text else 0


def load_okx_books() -> dict[str, _Instrument]:
    """Per instrument: the `books` messages (action, bids, asks, checksum) and exact precisions."""
    out: dict[str, _Instrument] = {}
    for _ts, frame in recorded_frames("OKX.jsonl"):
        msg = json.loads(frame)
        if msg.get("arg", {}).get("channel") != "books" or "data" not in msg:
            continue
        inst = out.setdefault(msg["arg"]["instId"], _Instrument())
        for d in msg["data"]:
            for lv in d["bids"] + d["asks"]:
                inst.price_decimals = max(inst.price_decimals, _decimals(lv[0]))
                inst.size_decimals = max(inst.size_decimals, _decimals(lv[1]))
            inst.messages.append((msg["action"], d["bids"], d["asks"], d.get("checksum")))
    return out


def _replay(book_cls: Any, books: dict[str, _Instrument]) -> tuple[int, int, int, int, float]:
    """Apply every message; returns (messages, levels, checksummed, matched, seconds)."""
    msgs = levels = checked = matched = 0
    elapsed = 0.0
    for inst in books.values():
        book = book_cls(inst.price_decimals, inst.size_decimals)
        for action, bids, asks, checksum in inst.messages:
            t0 = time.perf_counter()
            if action == "snapshot":
                book.apply_snapshot(bids, asks)
            else:
                book.apply_deltas(bids, asks)
            elapsed += time.perf_counter() - t0
            msgs += 1
            levels += len(bids) + len(asks)
            if checksum is not None:
                checked += 1
                matched += book.checksum_okx() == checksum
    return msgs, levels, checked, matched, elapsed


def _read_cost(book: Any, n: int = 200_000) -> float:
    """ns per best_bid() + best_ask() pair."""
    bb, ba = book.best_bid, book.best_ask
    t0 = time.perf_counter_ns()
    for _ in range(n):
        bb()
        ba()
    return (time.perf_counter_ns() - t0) / n / 2


def run_demo(seconds: float = 10.0) -> int:
    """Run the demo for about `seconds`, printing a status line per pass; returns 0."""
    books = load_okx_books()
    kind = (
        "compiled"
        if _core.EXTENSIONS
        else "pure-Python twin (SPINSTREAM_NO_EXTENSIONS or no build)"
    )
    print(f"spinstream demo: core = {kind}; OKX recording, {len(books)} instruments")
    rng = np.random.default_rng(7)
    n_ticks = 1_000_000
    ts = np.cumsum(rng.integers(1, 200_000_000, n_ticks)).astype(np.int64)
    px = (3_000_000 + np.cumsum(rng.integers(-5, 6, n_ticks))).astype(np.int64)
    sz = rng.integers(1, 1000, n_ticks).astype(np.int64)
    deadline = time.monotonic() + seconds
    passes = 0
    while True:
        passes += 1
        msgs, levels, checked, matched, dt = _replay(_core.Book, books)
        _, _, _, tmatched, tdt = _replay(twin_book.Book, books)
        last = next(iter(books.values()))
        b = _core.Book(last.price_decimals, last.size_decimals)
        b.apply_snapshot(last.messages[0][1], last.messages[0][2])
        agg = _core.CandleAggregator("1m")
        t0 = time.perf_counter()
        agg.add_batch(ts, px, sz)
        agg.flush()
        bars = agg.drain()
        cdt = time.perf_counter() - t0
        ring = _core.TickRing(65536)
        t0 = time.perf_counter()
        ring.append_batch(ts, px, sz)
        rdt = time.perf_counter() - t0
        print(
            f"pass {passes}: {msgs} book msgs, {levels} levels, checksums {matched}/{checked} ok "
            f"(twin {tmatched}) | apply {dt / levels * 1e9:.0f} ns/level vs twin "
            f"{tdt / levels * 1e9:.0f} ({tdt / dt:.1f}x) | best bid/ask {_read_cost(b):.0f} ns | "
            f"candles {len(bars)} bars, {cdt / n_ticks * 1e9:.1f} ns/tick | "
            f"ring {rdt / n_ticks * 1e9:.1f} ns/tick",
            flush=True,
        )
        if matched != checked or tmatched != checked:
            print("checksum mismatch: the book does not reproduce the exchange's CRC32")
            return 1
        if time.monotonic() >= deadline:
            break
    return 0

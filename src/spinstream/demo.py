"""`spinstream demo`: a strategy on simulated Binance and Bybit, showing what the cache buys.

Offline: the simulators run in-process on 127.0.0.1 and speak the venues' real protocols. First
the core checks itself on the recorded OKX books shipped in the package (every CRC32 checksum
must match); then a sample strategy runs in server mode and a status line per venue shows the
connections, messages per second, cached-call latency against REST latency, REST calls saved and
stale items.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinstream import _core
from spinstream._core._py import book as twin_book
from spinstream.testing.recorded import recorded_frames

__all__ = ["core_check", "load_okx_books", "run_demo"]


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


def core_check() -> tuple[bool, str]:
    """Replay the recorded OKX books through the core and the twin; (all checksums ok, summary)."""
    books = load_okx_books()
    msgs, levels, checked, matched, dt = _replay(_core.Book, books)
    _, _, _, tmatched, tdt = _replay(twin_book.Book, books)
    first = next(iter(books.values()))
    b = _core.Book(first.price_decimals, first.size_decimals)
    b.apply_snapshot(first.messages[0][1], first.messages[0][2])
    rng = np.random.default_rng(7)
    n = 1_000_000
    ts = np.cumsum(rng.integers(1, 200_000_000, n)).astype(np.int64)
    px = (3_000_000 + np.cumsum(rng.integers(-5, 6, n))).astype(np.int64)
    sz = rng.integers(1, 1000, n).astype(np.int64)
    agg = _core.CandleAggregator("1m")
    t0 = time.perf_counter()
    agg.add_batch(ts, px, sz)
    cdt = time.perf_counter() - t0
    kind = "compiled" if _core.EXTENSIONS else "pure-Python twin"
    line = (
        f"core ({kind}): OKX recording, {len(books)} instruments, {msgs} book msgs, "
        f"checksums {matched}/{checked} ok (twin {tmatched}) | apply {dt / levels * 1e9:.0f} "
        f"ns/level vs twin {tdt / levels * 1e9:.0f} | best bid/ask {_read_cost(b, 50_000):.0f} ns"
        f" | candles {cdt / n * 1e9:.1f} ns/tick (batch)"
    )
    return matched == checked == tmatched and checked > 0, line


class _Probe:
    """Latency samples of a strategy's calls: cached get_ticker, other cached calls, REST."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ticker: list[int] = []  # cached get_ticker, ns (since the last status line)
        self.cached: list[int] = []  # other cached calls (books build a float view, ...)
        self.rest: list[int] = []  # every REST-answered call so far
        self.served = 0  # calls answered from the cache, in total
        self.burst: list[float] = []  # ns per cached get_ticker in 1000-call bursts

    def timed(self, fn: Any, *args: Any, **kw: Any) -> Any:
        t0 = time.perf_counter_ns()
        out = fn(*args, **kw)
        dt = time.perf_counter_ns() - t0
        src = out.source if hasattr(out, "source") else (out[0].source if out else "ws")
        with self.lock:
            if src != "ws":
                self.rest.append(dt)
            else:
                self.served += 1
                (self.ticker if fn.__name__ == "get_ticker" else self.cached).append(dt)
        return out

    def take(self) -> tuple[list[float], list[int], list[int]]:
        with self.lock:
            b, c = self.burst, self.ticker + self.cached
            self.burst, self.ticker, self.cached = [], [], []
            return b, c, list(self.rest)


VENUES = {"binance": "usdm", "bybit": "linear", "okx": "swap"}  # venue -> derivatives market
# what the accounts declare: warmed before the first tick (Bybit's default market is linear)
SYMBOLS = {
    "binance": ("BTCUSDT", "ETHUSDT", "usdm:BTCUSDT", "usdm:ETHUSDT"),
    "bybit": ("BTCUSDT", "ETHUSDT"),
    "okx": ("BTC-USDT", "ETH-USDT", "swap:BTC-USDT-SWAP", "swap:ETH-USDT-SWAP"),
}
# the strategy's instruments per venue: (spot, derivative) for BTC and ETH (OKX names differ)
PAIRS = {
    "binance": (("BTCUSDT", "BTCUSDT"), ("ETHUSDT", "ETHUSDT")),
    "bybit": (("BTCUSDT", "BTCUSDT"), ("ETHUSDT", "ETHUSDT")),
    "okx": (("BTC-USDT", "BTC-USDT-SWAP"), ("ETH-USDT", "ETH-USDT-SWAP")),
}
# a far bid on the derivative, rested and taken back now and then (OKX swaps: in contracts,
# its own unit, 0.01 BTC each)
QUOTE_SIZE = {"binance": 0.01, "bybit": 0.01, "okx": 1.0}


def _strategy(probes: dict[str, _Probe], orders: dict[str, int]) -> Any:
    """A sample strategy: read tickers, books, balances, positions, orders; now and then quote."""
    n = [0]

    def tick(ctx: Any) -> None:
        n[0] += 1
        for venue, deriv in VENUES.items():
            c, p = getattr(ctx, venue), probes[venue]
            (btc, btc_deriv), _ = pairs = PAIRS[venue]
            for spot, perp in pairs:
                t = p.timed(c.get_ticker, spot)
                p.timed(c.get_ticker, perp, market=deriv)
            if t.source == "ws":  # a tight burst, as a polling strategy would: per-call cost
                get, t0 = c.get_ticker, time.perf_counter_ns()
                for _ in range(1000):
                    get(btc)
                with p.lock:
                    p.burst.append((time.perf_counter_ns() - t0) / 1000)
                    p.served += 1000
            p.timed(c.get_orderbook, btc, 10)
            book = p.timed(c.get_orderbook, btc_deriv, 10, market=deriv)
            p.timed(c.get_balance)
            p.timed(c.get_balance, market=deriv)
            p.timed(c.get_positions, market=deriv)
            p.timed(c.get_orders, market=deriv)
            if n[0] % 50 == 0 and len(book.bids):  # rest a far bid, then take it back
                price = round(float(book.bids[0, 0]) * 0.9, 1)
                size = QUOTE_SIZE[venue]
                o = c.place_order(btc_deriv, "buy", "limit", size, price=price, market=deriv)
                c.cancel_order(btc_deriv, o.order_id, market=deriv)
                orders[venue] += 1
            del t

    return tick


IG_EPICS = ("CS.D.EURUSD.CFD.IP", "IX.D.FTSE.DAILY.IP")


def _ig_strategy(probe: _Probe, bars: dict[str, int]) -> Any:
    """An IG strategy polling at 1 Hz, as IG's 60-a-minute REST budget would force it to:
    positions, accounts and prices, from the Lightstreamer cache once it is up."""
    from spinstream.errors import NotAvailable

    def tick(ctx: Any) -> None:
        ig = ctx.ig
        probe.timed(ig.get_positions)
        probe.timed(ig.get_accounts)
        for epic in IG_EPICS:
            try:
                probe.timed(ig.get_streaming_market, epic)
                bars[epic] = len(ig.get_streaming_candles(epic, "SECOND"))
            except NotAvailable:
                pass  # subscribed on the first call; the stream answers from the next one

    return tick


def _freshness(conns: list[Any]) -> str:
    """Last proof of life and lag of the venue's market-data connections (the worst of them;
    an account stream is quiet by nature, proven alive by its pings), and why any is down."""
    sts = [c.status() for c in conns]
    if not sts:
        return ""
    market = [c.status() for c in conns if not getattr(c.proto, "private", False)] or sts
    ages = [st["last_frame_age_s"] for st in market if st["last_frame_age_s"] is not None]
    out = f" | frame age {max(ages):4.2f}s" if ages else ""
    out += f" lag {max(st['lag_s'] for st in sts) * 1e3:4.0f}ms"
    down = sorted({str(st["reason"]) for st in sts if not st["live"]})
    return out + (f" DOWN: {', '.join(down)}" if down else "")


def _median_ns(xs: list[int]) -> float | None:
    """Median, or None for no samples."""
    return statistics.median(xs) if xs else None


def run_demo(seconds: float = 20.0) -> int:
    """Run the offline demo for about SECONDS; 0 when the cache served every crypto venue."""
    from spinstream.credentials import Credentials
    from spinstream.testing.host import SimHost
    from spinstream.worker import Worker
    from spinstream.workspace import AccountConfig, Workspace

    ok, line = core_check()
    print("spinstream demo", flush=True)
    print(line, flush=True)
    if not ok:
        print("checksum mismatch: the book does not reproduce the exchange's CRC32")
        return 1
    names = (*VENUES, "ig")
    probes = {v: _Probe() for v in names}
    orders = dict.fromkeys(names, 0)
    saved = dict.fromkeys(names, 0)
    ig_bars: dict[str, int] = {}
    with SimHost(*names, seed=11, tick_interval=0.05) as host:
        accounts = []
        for v in VENUES:
            ex = host[v]
            c = ex.credentials
            keys = [c[k] for k in ("api_key", "api_secret", "passphrase") if k in c]  # OKX: 3
            accounts.append(
                AccountConfig(
                    alias=v, venue=v, urls=ex.urls, symbols=SYMBOLS[v],
                    credentials=Credentials.of(*keys),
                )
            )  # fmt: skip
        c = host["ig"].credentials
        accounts.append(
            AccountConfig(
                alias="ig", venue="ig", env="demo", identifier=c["identifier"], epics=IG_EPICS,
                urls=host["ig"].urls, credentials=Credentials.of(c["api_key"], c["password"]),
            )
        )  # fmt: skip
        print(
            "simulated venues on 127.0.0.1: "
            + ", ".join(f"{v} {host[v].base_http}" for v in names)
            + "; server mode: a 20 Hz strategy on binance+bybit+okx, a 1 Hz one on IG",
            flush=True,
        )
        ws = Workspace(accounts)
        worker = Worker(_strategy(probes, orders), ws, mode="server", interval=0.05, name="demo")
        ig_worker = Worker(_ig_strategy(probes["ig"], ig_bars), ws, interval=1.0, name="ig")
        t0 = time.monotonic()
        worker.start()  # the warm-up: symbols checked, streams opened, the first tick waits
        ig_worker.start()
        rt = ws.runtime
        warm = rt.warm_wait()
        print(
            f"warm-up {time.monotonic() - t0:.2f} s before the first tick: "
            + ", ".join(
                f"{v} {w.seconds:.2f} s ({len(w.items) - len(w.missing)}/{len(w.items)} fresh)"
                for v, w in warm.items()
            ),
            flush=True,
        )
        start = time.monotonic()
        last_msgs = dict.fromkeys(names, 0)
        last_t = start
        try:
            while True:
                time.sleep(min(1.0, max(0.05, seconds - (time.monotonic() - start))))
                now = time.monotonic()
                for v in names:
                    acct = rt.account(v)
                    conns = list(acct.connections.values())
                    msgs = sum(cn.messages for cn in conns)
                    rate = (msgs - last_msgs[v]) / max(now - last_t, 1e-9)
                    last_msgs[v] = msgs
                    tick_ns, cached, rest = probes[v].take()
                    saved[v] = probes[v].served
                    mt = min(tick_ns) if tick_ns else None  # least disturbed by other threads
                    if v == "ig" and cached:  # IG polls get_positions etc.: show those
                        mt = min(cached)
                    mc, mr = _median_ns(cached), _median_ns(rest)
                    print(
                        f"[{now - start:5.1f}s] {v:8s} conns {sum(cn.connected for cn in conns)}/"
                        f"{len(conns)} | {rate:5.0f} msg/s | "
                        + ("cached get_ticker " if v != "ig" else "cached IG read    ")
                        + (f"{mt:5.0f} ns" if mt is not None else "    - ns")
                        + ", any cached call "
                        + (f"{mc / 1e3:5.1f} us" if mc is not None else "    - us")
                        + " | REST "
                        + (f"{mr / 1e6:6.2f} ms" if mr is not None else "     - ms")
                        + f" | REST calls saved {saved[v]:6d} (made {len(rest)})"
                        f" | stale {rt.store.stale_items(v)}"
                        + _freshness(conns)
                        + (f" | orders {orders[v]}" if v != "ig" else f" | 1s bars {ig_bars}"),
                        flush=True,
                    )
                last_t = now
                if now - start >= seconds:
                    break
        finally:
            worker.stop()
            ig_worker.stop()
            ws.close()
    errors = worker.errors + ig_worker.errors
    print(
        f"done: {worker.iterations + ig_worker.iterations} strategy ticks, {errors} strategy "
        "errors; "
        + ", ".join(f"{v}: {saved[v]} calls answered from the stream cache" for v in names),
        flush=True,
    )
    return 0 if all(saved[v] for v in VENUES) and errors == 0 else 1

"""The replayed streams: the recording turned into loopable, sequence-valid frame sequences.

Source: the project's copy of the recorded Binance spot traffic (tests/fixtures/recorded/
BINANCE.jsonl.gz, real frames captured by cryptofeed's recorder; never the ../shared copy).

Depth (`<sym>@depth@100ms`): the REST snapshot S0 (lastUpdateId L0) and the recorded diffs after
it (U/u contiguous from L0+1). One loop is those diffs; between loops the server sends one
synthetic diff that moves the book from the end state back to S0 (every level whose size
differs, with S0's size or 0), so every loop starts from S0 again. Update ids run on across
loops (each diff keeps its recorded id span), so a client that checks `U == last u + 1` stays
synced for any number of frames and the REST snapshot (S0, L0) stays valid for the first frame.

bookTicker: the recorded frames, `u` shifted per loop so it keeps increasing.

`expected_*` compute the final state independently: a plain dict book fed every frame's JSON.
"""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "tests" / "fixtures" / "recorded"
SYMBOL = "NKNUSDT"
OKX_INST = "BTC-USDT"
STREAMS = ("bookTicker", "depth", "okx-tickers", "okx-books")
VENUE = {"bookTicker": "binance", "depth": "binance", "okx-tickers": "okx", "okx-books": "okx"}
BOOKS = ("depth", "okx-books")
TOP = 20  # levels a side compared at the end (clients may keep fewer than the venue's book)
TS = 1111111111111  # placeholder of the event time: the server writes the send time (13 digits)


@lru_cache(maxsize=2)
def _rows(venue: str = "BINANCE") -> tuple[dict[str, Any], ...]:
    with gzip.open(RECORDED / f"{venue}.jsonl.gz", "rt") as f:
        return tuple(json.loads(line) for line in f)


def rest_bodies(venue: str = "BINANCE") -> dict[str, str]:
    """Recorded REST bodies by path?query (exchangeInfo, depth snapshots, OKX instruments)."""
    out: dict[str, str] = {}
    for r in _rows(venue):
        if r["t"] == "http":
            url = r["url"].split("://", 1)[1]
            out[url[url.index("/") :]] = r["data"]
    return out


@lru_cache(maxsize=4)
def recorded(symbol: str = SYMBOL) -> dict[str, Any]:
    """Snapshot, diffs after it, bookTickers, exchangeInfo entry of SYMBOL."""
    low = symbol.lower()
    bodies = rest_bodies()
    snap = json.loads(bodies[f"/api/v3/depth?symbol={symbol}&limit=1000"])
    info = json.loads(bodies["/api/v3/exchangeInfo"])
    sym_info = next(s for s in info["symbols"] if s["symbol"] == symbol)
    l0 = snap["lastUpdateId"]
    diffs, tickers = [], []
    for r in _rows():
        if r["t"] != "recv":
            continue
        m = json.loads(r["data"])
        d = m["data"]
        if m["stream"] == f"{low}@depth@100ms" and d["u"] > l0:
            diffs.append(d)
        elif m["stream"] == f"{low}@bookTicker":
            tickers.append(d)
    assert diffs[0]["U"] <= l0 + 1 <= diffs[0]["u"], "recording: first diff does not fit"
    for a, b in zip(diffs, diffs[1:], strict=False):
        assert b["U"] == a["u"] + 1, "recording: depth ids not contiguous"
    return {
        "snapshot": snap,
        "diffs": diffs,
        "tickers": tickers,
        "info": {k: v for k, v in info.items() if k != "symbols"} | {"symbols": [sym_info]},
        "server_time": info.get("serverTime", 0),
    }


def _apply(side: dict[str, str], levels: list[list[str]]) -> None:
    for p, q in levels:
        if Decimal(q) == 0:
            side.pop(p, None)
        else:
            side[p] = q


def _reset_diff(end: dict[str, str], start: dict[str, str]) -> list[list[str]]:
    """Levels that move side END back to START (size 0 removes)."""
    out = []
    for p in sorted(set(end) | set(start), key=Decimal):
        if end.get(p) != start.get(p):
            out.append([p, start.get(p, "0.00000000")])
    return out


@lru_cache(maxsize=4)
def depth_loop(symbol: str = SYMBOL) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One loop of diffs (recorded + the synthetic reset diff last) and the snapshot."""
    rec = recorded(symbol)
    snap = rec["snapshot"]
    start_b = {p: q for p, q in snap["bids"]}
    start_a = {p: q for p, q in snap["asks"]}
    bids, asks = dict(start_b), dict(start_a)
    loop = []
    for d in rec["diffs"]:
        _apply(bids, d["b"])
        _apply(asks, d["a"])
        loop.append({"b": d["b"], "a": d["a"], "span": d["u"] - d["U"]})
    loop.append({"b": _reset_diff(bids, start_b), "a": _reset_diff(asks, start_a), "span": 0})
    return loop, snap


def depth_frames(n: int, symbol: str = SYMBOL) -> list[dict[str, Any]]:
    """The first N depthUpdate payloads of the looped stream (E filled in by the sender)."""
    loop, snap = depth_loop(symbol)
    first_u = recorded(symbol)["diffs"][0]["U"]  # the recorded first diff (<= L0 + 1)
    out: list[dict[str, Any]] = []
    u = first_u - 1
    i = 0
    while len(out) < n:
        step = loop[i % len(loop)]
        if i == 0:
            big_u = first_u
            u = recorded(symbol)["diffs"][0]["u"]
        else:
            big_u = u + 1
            u = big_u + step["span"]
        out.append({"e": "depthUpdate", "E": TS, "s": symbol, "U": big_u, "u": u,
                    "b": step["b"], "a": step["a"]})  # fmt: skip
        i += 1
    return out


def ticker_frames(n: int, symbol: str = SYMBOL) -> list[dict[str, Any]]:
    """The first N bookTicker payloads of the looped stream (`u` increasing across loops)."""
    rec = recorded(symbol)["tickers"]
    span = rec[-1]["u"] - rec[0]["u"] + 1
    return [
        dict(rec[i % len(rec)], u=rec[i % len(rec)]["u"] + (i // len(rec)) * span) for i in range(n)
    ]


# ---------------------------------------------------------------------------- OKX


@lru_cache(maxsize=2)
def okx_recorded(inst: str = OKX_INST) -> dict[str, Any]:
    """The `books` snapshot and updates and the `tickers` pushes of INST (OKX.jsonl, 2022)."""
    snap, updates, tickers = None, [], []
    for r in _rows("OKX"):
        if r["t"] != "recv":
            continue
        m = json.loads(r["data"])
        arg = m.get("arg", {})
        if arg.get("instId") != inst or "data" not in m:
            continue
        if arg["channel"] == "books":
            if m.get("action") == "snapshot":
                snap, updates = m["data"][0], []
            elif snap is not None:
                updates.append(m["data"][0])
        elif arg["channel"] == "tickers":
            tickers.append(m["data"][0])
    assert snap is not None
    return {"snapshot": snap, "updates": updates, "tickers": tickers}


def _okx_apply(side: dict[str, str], levels: list[list[str]]) -> None:
    for lv in levels:
        if Decimal(lv[1]) == 0:
            side.pop(lv[0], None)
        else:
            side[lv[0]] = lv[1]


@lru_cache(maxsize=2)
def okx_loop(inst: str = OKX_INST) -> list[dict[str, Any]]:
    """One loop of `books` updates: the recorded ones (with their real CRC32 checksums, valid
    because every loop starts from the snapshot's book) and the reset update last (the
    snapshot's checksum: it brings the book back to the snapshot)."""
    rec = okx_recorded(inst)
    snap = rec["snapshot"]
    start_b = {lv[0]: lv[1] for lv in snap["bids"]}
    start_a = {lv[0]: lv[1] for lv in snap["asks"]}
    bids, asks = dict(start_b), dict(start_a)
    loop = []
    for u in rec["updates"]:
        _okx_apply(bids, u["bids"])
        _okx_apply(asks, u["asks"])
        loop.append({"asks": u["asks"], "bids": u["bids"], "checksum": u["checksum"]})

    def lv(side: list[list[str]]) -> list[list[str]]:
        return [[p, q if Decimal(q) else "0", "0", "1" if Decimal(q) else "0"] for p, q in side]

    loop.append({"asks": lv(_reset_diff(asks, start_a)), "bids": lv(_reset_diff(bids, start_b)),
                 "checksum": snap["checksum"]})  # fmt: skip
    return loop


def okx_book_frames(n: int, inst: str = OKX_INST) -> list[dict[str, Any]]:
    """The snapshot push, then looped updates; seqId/prevSeqId added (as OKX sends today)."""
    snap = okx_recorded(inst)["snapshot"]
    arg = {"channel": "books", "instId": inst}
    seq = 1_000_000
    first = {"asks": snap["asks"], "bids": snap["bids"], "ts": str(TS),
             "checksum": snap["checksum"], "prevSeqId": -1, "seqId": seq}  # fmt: skip
    out = [{"arg": arg, "action": "snapshot", "data": [first]}]
    loop = okx_loop(inst)
    i = 0
    while len(out) < n:
        u = loop[i % len(loop)]
        out.append({"arg": arg, "action": "update", "data": [{"asks": u["asks"], "bids": u["bids"],
                    "ts": str(TS), "checksum": u["checksum"], "prevSeqId": seq,
                    "seqId": seq + 1}]})  # fmt: skip
        seq += 1
        i += 1
    return out


def okx_ticker_frames(n: int, inst: str = OKX_INST) -> list[dict[str, Any]]:
    rec = okx_recorded(inst)["tickers"]
    arg = {"channel": "tickers", "instId": inst}
    return [{"arg": arg, "data": [dict(rec[i % len(rec)], ts=str(TS))]} for i in range(n)]


def scale_symbols(k: int) -> list[str]:
    """K symbol names for the scale runs: SYMBOL, then NKN001USDT, NKN002USDT, ... Each one is
    served the recorded SYMBOL stream relabelled (its own copy of the looped sequence)."""
    return [SYMBOL] + [f"NKN{i:03d}USDT" for i in range(1, k)]


def relabel(text: str, symbol: str) -> str:
    """A frame's JSON text (as rendered for SYMBOL) for SYMBOL's stand-in SYMBOL."""
    return text if symbol == SYMBOL else text.replace(f'"s":"{SYMBOL}"', f'"s":"{symbol}"')


def symbol_info(symbol: str) -> dict[str, Any]:
    """SYMBOL's exchangeInfo entry: the recorded one of SYMBOL, renamed (same filters)."""
    info = dict(recorded()["info"]["symbols"][0])
    if symbol != SYMBOL:
        info.update(symbol=symbol, baseAsset=symbol[: -len("USDT")])
    return info


@lru_cache(maxsize=2)
def frames(stream: str, n: int, symbol: str = SYMBOL) -> list[dict[str, Any]]:
    """The first N messages of STREAM as sent (Binance: the payload inside the wrapper)."""
    if stream == "okx-books":
        return okx_book_frames(n)
    if stream == "okx-tickers":
        return okx_ticker_frames(n)
    return ticker_frames(n, symbol) if stream == "bookTicker" else depth_frames(n, symbol)


def frame_id(stream: str, f: dict[str, Any]) -> int:
    """The update id a client can see in frame F (0 where the stream has none)."""
    if stream == "okx-books":
        return int(f["data"][0]["seqId"])
    if stream == "okx-tickers":
        return 0
    return int(f["u"])


def _sorted_top(bids: dict[str, str], asks: dict[str, str]) -> dict[str, Any]:
    top_b = sorted(bids.items(), key=lambda kv: -Decimal(kv[0]))[:TOP]
    top_a = sorted(asks.items(), key=lambda kv: Decimal(kv[0]))[:TOP]
    return {"bids": [[float(p), float(q)] for p, q in top_b],
            "asks": [[float(p), float(q)] for p, q in top_a]}  # fmt: skip


def _expected_okx(stream: str, n: int) -> dict[str, Any]:
    fs = frames(stream, n)
    if stream == "okx-tickers":
        t = json.loads(json.dumps(fs[-1]))["data"][0]
        return {"bid": float(t["bidPx"]), "bid_size": float(t["bidSz"]), "ask": float(t["askPx"]),
                "ask_size": float(t["askSz"]), "u": 0}  # fmt: skip
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}
    last = None
    for f in fs:
        d = json.loads(json.dumps(f))["data"][0]
        if d["prevSeqId"] == -1:
            bids, asks = {lv[0]: lv[1] for lv in d["bids"]}, {lv[0]: lv[1] for lv in d["asks"]}
        else:
            assert d["prevSeqId"] == last, (d["prevSeqId"], last)
            _okx_apply(bids, d["bids"])
            _okx_apply(asks, d["asks"])
        last = d["seqId"]
    return _sorted_top(bids, asks) | {"u": last}


@lru_cache(maxsize=8)
def expected(stream: str, n: int, symbol: str = SYMBOL) -> dict[str, Any]:
    """The final state after N frames, by an independent replay (plain dicts, Decimal sort).

    Ticker: {"bid", "bid_size", "ask", "ask_size", "u"}; book: {"bids", "asks" (TOP levels,
    [float price, float size]), "u"}. Every frame goes through JSON text, as the clients see it.
    """
    if VENUE[stream] == "okx":
        return _expected_okx(stream, n)
    fs = frames(stream, n, symbol)
    if stream == "bookTicker":
        t = json.loads(json.dumps(fs[-1]))
        return {"bid": float(t["b"]), "bid_size": float(t["B"]), "ask": float(t["a"]),
                "ask_size": float(t["A"]), "u": t["u"]}  # fmt: skip
    snap = depth_loop(symbol)[1]
    bids = {p: q for p, q in snap["bids"]}
    asks = {p: q for p, q in snap["asks"]}
    last = snap["lastUpdateId"]
    for f in fs:
        d = json.loads(json.dumps(f))
        if d["u"] <= last:
            continue
        assert d["U"] == last + 1 or (last == snap["lastUpdateId"] and d["U"] <= last + 1), d
        _apply(bids, d["b"])
        _apply(asks, d["a"])
        last = d["u"]
    return _sorted_top(bids, asks) | {"u": last}


def check(stream: str, got: dict[str, Any] | None, want: dict[str, Any]) -> str | None:
    """None when GOT (a client's final state) matches WANT, else what differs."""
    if not got:
        return "no final state"
    if stream not in BOOKS:  # sizes only where the client has them (cryptofeed: none)
        for k in ("bid", "bid_size", "ask", "ask_size"):
            if k.endswith("size") and k not in got:
                continue
            if got.get(k) is None or abs(float(got[k]) - want[k]) > 1e-12 * max(1.0, want[k]):
                return f"ticker {k}: got {got.get(k)}, want {want[k]}"
        return None
    for side in ("bids", "asks"):
        g = [[float(p), float(q)] for p, q in got.get(side, [])][:TOP]
        w = want[side][: len(g)] if len(g) >= min(TOP, len(want[side])) else want[side]
        if len(g) < min(TOP, len(want[side])):
            return f"book {side}: {len(g)} levels, want {min(TOP, len(want[side]))}"
        for i, (a, b) in enumerate(zip(g, w, strict=False)):
            if abs(a[0] - b[0]) > 1e-12 or abs(a[1] - b[1]) > 1e-9 * max(1.0, b[1]):
                return f"book {side}[{i}]: got {a}, want {b}"
    return None

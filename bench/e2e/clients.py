"""The benchmarked clients, one per process: `python -m bench.e2e.clients NAME --port .. ...`.

Every client does what a user of it would do for one symbol's book or best bid/ask, against the
replay server, then:
1. waits until its state reflects the warm-up frames (update id `--ready-u` or, where the client
   shows no id, `--warmup` frames seen),
2. takes the wall clock and its own process CPU time (getrusage: all threads), asks the server
   to go (`GET /_bench/go`), and
3. waits until it has the last frame (update id `--final-u`, or the frame count), takes both
   clocks again, and prints one JSON line: frames timed, wall s, CPU s, its final state.

Scale runs (`--symbols K --connections C`, Binance bookTicker / depth; spinstream and
floor-aiohttp): K symbols (bench.e2e.recording.scale_symbols) split into C equal groups, one
connection per group, all in this process; every symbol must reach the ready id before the
clocks start and the final id before they stop; the final state is printed per symbol. RSS is
read before anything is subscribed (the baseline: imports, runtime or session started) and
once every symbol is ready.

TLS trust: the harness sets SSL_CERT_FILE (Python's ssl default context: websockets, aiohttp,
urllib, picows) and REQUESTS_CA_BUNDLE (requests, cryptofeed's symbol load) to the server's
self-signed certificate; ccxt takes it as its `cafile` option. No client skips verification.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from typing import Any

import msgspec

SYM = "NKNUSDT"
OKX_INST = "BTC-USDT"


class _Data(msgspec.Struct):
    u: int


class _Frame(msgspec.Struct):
    stream: str
    data: _Data


def rss_kb() -> int:
    """This process's resident set now, in KiB (/proc/self/statm; 0 where there is none)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Meter:
    """Wall and CPU time from `start` (which also tells the server to go) to `stop`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.spy: Any = None
        self.t0 = self.c0 = self.t1 = self.c1 = 0.0

    def start(self) -> None:
        out = os.environ.get("SPINSTREAM_E2E_PYSPY")  # profile the timed frames only
        self.spy = None
        if out:
            self.spy = subprocess.Popen(["py-spy", "record", "--pid", str(os.getpid()), "-r", "500",
                                         "--threads", "-f", "raw", "-o", out])  # fmt: skip
            time.sleep(1.5)  # attached
        self.t0, self.c0 = time.perf_counter(), cpu_s()
        urllib.request.urlopen(f"https://127.0.0.1:{self.port}/_bench/go", timeout=10).read()

    def stop(self) -> None:
        self.t1, self.c1 = time.perf_counter(), cpu_s()
        if self.spy is not None:
            self.spy.send_signal(signal.SIGINT)
            self.spy.wait(timeout=60)

    def result(self, frames: int, state: Any, **extra: Any) -> dict[str, Any]:
        return {"frames": frames, "wall_s": self.t1 - self.t0, "cpu_s": self.c1 - self.c0,
                "state": state, **extra}  # fmt: skip


def _top(side: dict[float, float], reverse: bool, n: int = 20) -> list[list[float]]:
    return [[p, side[p]] for p in sorted(side, reverse=reverse)[:n]]


# ---------------------------------------------------------------------------- spinstream


def _backend(ws_backend: str | None) -> dict[str, Any]:
    """AccountConfig's ws_backend argument: none for the default backend."""
    return {} if ws_backend is None else {"ws_backend": ws_backend}


def run_spinstream(a: argparse.Namespace, ws_backend: str | None = None) -> dict[str, Any]:
    """spinstream's public API: a Workspace with URL overrides, ctx reads in server mode (the
    account's default `ws_backend` unless WS_BACKEND is given)."""
    from spinstream.ctx import Context
    from spinstream.workspace import AccountConfig, Workspace

    if a.symbols > 1 or a.connections > 1:
        return _run_spinstream_scale(a, ws_backend)

    base = f"127.0.0.1:{a.port}"
    okx = a.stream.startswith("okx")
    venue, sym = ("okx", OKX_INST) if okx else ("binance", SYM)
    real_rest, real_ws = (
        ("https://www.okx.com", "wss://ws.okx.com:8443") if okx
        else ("https://api.binance.com", "wss://stream.binance.com:9443")
    )  # fmt: skip
    acct = AccountConfig(
        alias=venue, venue=venue, urls={real_rest: f"https://{base}", real_ws: f"wss://{base}"},
        **_backend(ws_backend),
    )  # fmt: skip
    ws = Workspace([acct])
    c = getattr(Context(ws, "server"), venue)
    m = Meter(a.port)
    deadline = time.monotonic() + a.timeout
    try:
        if a.stream in ("depth", "okx-books"):
            c.get_orderbook(sym, depth=20)  # REST on a miss; subscribes the book
            while True:
                b = c.get_orderbook(sym, 20)
                if b.source == "ws" and (b.seq or 0) >= a.ready_u:
                    break
                _tick(deadline, "ready")
            m.start()
            while not ((b := c.get_orderbook(sym, 20)).seq or 0) >= a.final_u:
                _tick(deadline, "final frame")
            m.stop()
            if b.source != "ws":
                raise RuntimeError(f"final book is {b.source}, not live")
            state = {"bids": b.bids.tolist(), "asks": b.asks.tolist(), "u": b.seq}
        else:
            c.get_ticker(sym)
            conns = ws.runtime.account(venue).connections
            while not (c.get_ticker(sym).source == "ws" and _messages(conns) >= a.warmup):
                _tick(deadline, "ready")
            n0 = _messages(conns)
            m.start()
            want = json.loads(a.final_state)
            while True:  # the Ticker has no update id: frames counted, then the final values
                t = c.get_ticker(sym)
                if _messages(conns) >= n0 + a.frames - a.warmup and (
                    t.bid,
                    t.bid_size,
                    t.ask,
                    t.ask_size,
                ) == (want["bid"], want["bid_size"], want["ask"], want["ask_size"]):
                    break
                _tick(deadline, "final frame")
            m.stop()
            state = {"bid": t.bid, "bid_size": t.bid_size, "ask": t.ask, "ask_size": t.ask_size,
                     "source": t.source}  # fmt: skip
        st = ws.status()
        conns = ws.runtime.account(venue).connections
        return m.result(a.frames - a.warmup, state, status=_brief(st), backend=acct.ws_backend,
                        ws_library=_libraries([conns]))  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - what the runtime saw goes with the error
        raise RuntimeError(f"{exc!r}; status: {json.dumps(_brief(ws.status()))}") from exc
    finally:
        ws.close()


def _groups(a: argparse.Namespace) -> list[list[str]]:
    """The scale run's symbols, split into `--connections` equal groups (one per connection)."""
    from bench.e2e.recording import scale_symbols

    syms, c = scale_symbols(a.symbols), a.connections
    if a.stream not in ("bookTicker", "depth") or a.symbols % c:
        raise ValueError("scale runs: Binance bookTicker/depth, symbols a multiple of connections")
    k = a.symbols // c
    return [syms[i * k : (i + 1) * k] for i in range(c)]


def _run_spinstream_scale(a: argparse.Namespace, ws_backend: str | None) -> dict[str, Any]:
    """K symbols on C connections: C Binance accounts in one Workspace (the runtime opens one
    public connection per account), each `ctx.<alias>.subscribe(its symbols)`; the end is every
    book's `OrderBook.seq` (tickers: frames counted, then every symbol's final values)."""
    import gc

    from spinstream.ctx import Context
    from spinstream.workspace import AccountConfig, Workspace

    groups = _groups(a)
    base = f"127.0.0.1:{a.port}"
    urls = {"https://api.binance.com": f"https://{base}",
            "wss://stream.binance.com:9443": f"wss://{base}"}  # fmt: skip
    aliases = ["binance"] if len(groups) == 1 else [f"binance{i}" for i in range(len(groups))]
    accts = [AccountConfig(alias=x, venue="binance", urls=urls, **_backend(ws_backend))
             for x in aliases]  # fmt: skip
    ws = Workspace(accts)
    ctx = Context(ws, "server")
    clients = [getattr(ctx, x) for x in aliases]
    store = ws.runtime.store  # readiness without REST fallbacks (the harness's view only)
    m = Meter(a.port)
    deadline = time.monotonic() + a.timeout
    book = a.stream == "depth"
    pairs = [(x, sym) for x, g in zip(aliases, groups, strict=True) for sym in g]
    gc.collect()
    rss0 = rss_kb()
    t_sub = time.monotonic()
    try:
        for c, g in zip(clients, groups, strict=True):
            c.subscribe(g, timeout_s=0.5)  # ticker + book of each; the wait is ours, below
        conns = [ws.runtime.account(x).connections for x in aliases]

        def messages() -> int:
            return sum(_messages(cs) for cs in conns)

        if book:
            for x, sym in pairs:  # every book synced on its snapshot and the warm-up frames
                while (b := store.orderbook(x, "spot", sym, 20)) is None or (
                    b.seq or 0) < a.ready_u:  # fmt: skip
                    _tick(deadline, f"ready ({sym})")
        else:
            want_n = a.warmup * len(pairs)
            for x, sym in pairs:
                while store.ticker(x, "spot", sym) is None:
                    _tick(deadline, f"ready ({sym})")
            while messages() < want_n:
                _tick(deadline, "ready (warm-up frames)")
        warm_s = time.monotonic() - t_sub
        gc.collect()
        rss1 = rss_kb()
        n0 = messages()
        timed = (a.frames // a.symbols - a.warmup) * a.symbols
        m.start()
        by_alias = dict(zip(aliases, clients, strict=True))
        if book:
            for x, sym in pairs:  # round-robin: the symbols finish together
                while ((by_alias[x].get_orderbook(sym, 20)).seq or 0) < a.final_u:
                    _tick(deadline, f"final frame ({sym})")
        else:
            want = json.loads(a.final_state)
            key = (want["bid"], want["bid_size"], want["ask"], want["ask_size"])
            while messages() < n0 + timed:
                _tick(deadline, "final frame")
            for x, sym in pairs:
                while True:
                    t = by_alias[x].get_ticker(sym)
                    if (t.bid, t.bid_size, t.ask, t.ask_size) == key:
                        break
                    _tick(deadline, f"final values ({sym})")
        m.stop()
        state: dict[str, Any] = {}
        for x, sym in pairs:
            if book:
                b = by_alias[x].get_orderbook(sym, 20)
                if b.source != "ws":
                    raise RuntimeError(f"final book of {sym} is {b.source}, not live")
                state[sym] = {"bids": b.bids.tolist(), "asks": b.asks.tolist(), "u": b.seq}
            else:
                t = by_alias[x].get_ticker(sym)
                state[sym] = {"bid": t.bid, "bid_size": t.bid_size, "ask": t.ask,
                              "ask_size": t.ask_size, "source": t.source}  # fmt: skip
        rest = {x: {k: v for k, v in ws.runtime.account(x).counts.items() if k.startswith("rest")}
                for x in aliases}  # fmt: skip
        return m.result(timed, state, rss_base_kb=rss0, rss_ready_kb=rss1, rss_end_kb=rss_kb(),
                        books=len(pairs), backend=accts[0].ws_backend, warm_s=warm_s,
                        ws_library=_libraries(conns),
                        connections=sum(len(cs) for cs in conns), rest_fallbacks=rest)  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - what the runtime saw goes with the error
        raise RuntimeError(f"{exc!r}; status: {json.dumps(_brief(ws.status()))[:2000]}") from exc
    finally:
        ws.close()


def _libraries(conns: list[Any]) -> str:
    """The WebSocket libraries the connections run on (what `ws_backend` resolved to)."""
    libs = {getattr(x, "ws_library", None) for cs in conns for x in list(cs.values())}
    return ",".join(sorted(str(x) for x in libs))


def _messages(conns: Any) -> int:
    return sum(getattr(x, "messages", 0) for x in list(conns.values()))


def _brief(st: Any) -> Any:
    try:
        return json.loads(json.dumps(st, default=str))
    except Exception:  # noqa: BLE001 - diagnostics only
        return str(st)


def _tick(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"timed out waiting for the {what}")
    time.sleep(0.005)  # a strategy polling its cache; end found within 5 ms of the last frame


# ---------------------------------------------------------------------------- ccxt.pro


async def run_ccxt(a: argparse.Namespace) -> dict[str, Any]:
    import ccxt.pro as ccxtpro

    okx = a.stream.startswith("okx")
    if okx:
        ex = ccxtpro.okx({"cafile": os.environ["SSL_CERT_FILE"],
                          "options": {"fetchMarkets": {"types": ["spot"]}}})  # fmt: skip
        ex.urls["api"]["rest"] = f"https://127.0.0.1:{a.port}"
        ex.urls["api"]["ws"] = f"wss://127.0.0.1:{a.port}/ws/v5"
        symbol = "BTC/USDT"
    else:
        ex = ccxtpro.binance(
            {
                "cafile": os.environ["SSL_CERT_FILE"],
                "options": {
                    "fetchMarkets": ["spot"],
                    "fetchCurrencies": False,
                    "watchOrderBookRate": 100,
                },
            }  # fmt: skip
        )
        real = "https://api.binance.com"
        api = ex.urls["api"]
        for k, v in list(api.items()):
            if isinstance(v, str) and v.startswith(real):
                api[k] = f"https://127.0.0.1:{a.port}" + v[len(real) :]
        api["ws"]["spot"] = f"wss://127.0.0.1:{a.port}/ws"
        symbol = "NKN/USDT"
    m = Meter(a.port)
    try:
        await ex.load_markets()
        if a.stream in ("depth", "okx-books"):
            while (ob := await ex.watch_order_book(symbol))["nonce"] < a.ready_u:
                pass
            m.start()
            while (ob := await ex.watch_order_book(symbol))["nonce"] < a.final_u:
                pass
            m.stop()
            state = {"bids": [list(x)[:2] for x in ob["bids"][:20]],
                     "asks": [list(x)[:2] for x in ob["asks"][:20]], "u": ob["nonce"]}  # fmt: skip
        elif okx:  # OKX tickers carry no id: the run ends at the last update (1 s of quiet)
            x = await ex.watch_ticker(symbol)
            await asyncio.sleep(0.5)  # the warm-up frames are in
            m.start()
            box = {"x": x, "t": time.perf_counter()}

            async def consume() -> None:
                while True:
                    box["x"] = await ex.watch_ticker(symbol)
                    box["t"] = time.perf_counter()

            task = asyncio.get_running_loop().create_task(consume())
            while time.perf_counter() - box["t"] < 1.0:
                await asyncio.sleep(0.2)
            m.stop()  # CPU: the quiet second costs ~nothing; wall: to the last update
            m.t1 = box["t"]
            task.cancel()
            x = box["x"]
            state = {"bid": x["bid"], "bid_size": x["bidVolume"], "ask": x["ask"],
                     "ask_size": x["askVolume"]}  # fmt: skip
        else:
            while (t := await ex.watch_bids_asks([symbol]))[symbol]["info"]["u"] < a.ready_u:
                pass
            m.start()
            while (t := await ex.watch_bids_asks([symbol]))[symbol]["info"]["u"] < a.final_u:
                pass
            m.stop()
            x = t[symbol]
            state = {"bid": x["bid"], "bid_size": x["bidVolume"], "ask": x["ask"],
                     "ask_size": x["askVolume"], "u": x["info"]["u"]}  # fmt: skip
        return m.result(a.frames - a.warmup, state)
    finally:
        await ex.close()


# ---------------------------------------------------------------------------- cryptofeed


def run_cryptofeed(a: argparse.Namespace) -> dict[str, Any]:
    """cryptofeed 2.4 with its endpoints pointed at the replay (class attributes)."""
    from cryptofeed import FeedHandler
    from cryptofeed.connection import RestEndpoint, Routes, WebsocketEndpoint
    from cryptofeed.defines import L2_BOOK, TICKER
    from cryptofeed.exchanges import OKX, Binance

    base = f"127.0.0.1:{a.port}"
    okx = a.stream.startswith("okx")
    if okx:
        ep = OKX.websocket_endpoints[0]
        OKX.websocket_endpoints = [
            WebsocketEndpoint(
                f"wss://{base}/ws/v5/public",
                channel_filter=ep.channel_filter,
                options={"compression": None},
            )
        ]
        OKX.rest_endpoints = [RestEndpoint(f"https://{base}", routes=OKX.rest_endpoints[0].routes)]
        feed_cls, sym = OKX, "BTC-USDT"
    else:
        Binance.websocket_endpoints = [WebsocketEndpoint(f"wss://{base}")]
        Binance.rest_endpoints = [
            RestEndpoint(
                f"https://{base}",
                routes=Routes(
                    "/api/v3/exchangeInfo",
                    l2book="/api/v3/depth?symbol={}&limit={}",
                    authentication="/api/v3/userDataStream",
                ),  # fmt: skip
            )
        ]
        feed_cls, sym = Binance, "NKN-USDT"
    m = Meter(a.port)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    done = loop.create_future()
    out: dict[str, Any] = {}
    seen = [0]

    def progress(u: int, state: Any) -> None:
        if not m.t0 and u >= a.ready_u:
            m.start()
        elif m.t0 and u >= a.final_u and not done.done():
            m.stop()
            out["state"] = state()
            done.set_result(None)

    async def book(b: Any, receipt_ts: float) -> None:
        if okx:
            raw = b.raw if isinstance(b.raw, dict) else {}
            seq = int(raw.get("data", [{}])[0].get("seqId", 0)) if raw.get("data") else 0
        else:
            seq = b.sequence_number or 0

        def state() -> Any:
            bb, aa = b.book.bids, b.book.asks
            return {
                "bids": [[float(p), float(bb[p])] for p in list(bb.keys())[:20]],
                "asks": [[float(p), float(aa[p])] for p in list(aa.keys())[:20]],
                "u": seq,
            }

        progress(seq, state)

    async def ticker(t: Any, receipt_ts: float) -> None:
        seen[0] += 1
        u = seen[0] if okx else int(t.raw.get("u", 0))  # OKX tickers: counted
        progress(u, lambda: {"bid": float(t.bid), "ask": float(t.ask), "u": u})

    book_stream = a.stream in ("depth", "okx-books")
    channels = [L2_BOOK] if book_stream else [TICKER]
    cbs = {L2_BOOK: book} if book_stream else {TICKER: ticker}
    fh = FeedHandler(config={"log": {"disabled": True}})
    fh.add_feed(feed_cls(symbols=[sym], channels=channels, callbacks=cbs))
    fh.run(start_loop=False, install_signal_handlers=False)
    try:
        loop.run_until_complete(asyncio.wait_for(done, a.timeout))
    finally:
        for f in fh.feeds:
            try:
                loop.run_until_complete(asyncio.wait_for(f.stop(), 5))
            except Exception:  # noqa: BLE001 - the run is over
                pass
    return m.result(a.frames - a.warmup, out.get("state"))


# ---------------------------------------------------------------------------- floors


class DictFloor:
    """The hand-written floor: orjson + a dict book (float keys), sequence checked."""

    def __init__(self, a: argparse.Namespace, snapshot: dict[str, Any] | None) -> None:
        import orjson

        self.loads = orjson.loads
        self.a = a
        self.n = 0
        self.u = 0
        self.resyncs = 0
        self.ticker: dict[str, Any] = {}
        self.okx = a.stream.startswith("okx")
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        if snapshot is not None:
            self.bids = {float(p): float(q) for p, q in snapshot["bids"]}
            self.asks = {float(p): float(q) for p, q in snapshot["asks"]}
            self.u = snapshot["lastUpdateId"]
            self.first = True

    def frame(self, data: bytes | str) -> int:
        """Handle one frame; return the update id reached (OKX tickers: data frames seen)."""
        if self.okx:
            return self._okx(data)
        self.n += 1
        d = self.loads(data)["data"]
        if self.a.stream == "bookTicker":
            self.ticker = d
            self.u = d["u"]
            return self.u
        u = d["u"]
        if u <= self.u:
            return self.u
        if self.first:
            if not d["U"] <= self.u + 1:
                self.resyncs += 1
            self.first = False
        elif d["U"] != self.u + 1:
            self.resyncs += 1  # a real client would resync; the run fails
        bids, asks = self.bids, self.asks
        for p, q in d["b"]:
            if (fq := float(q)) == 0.0:
                bids.pop(float(p), None)
            else:
                bids[float(p)] = fq
        for p, q in d["a"]:
            if (fq := float(q)) == 0.0:
                asks.pop(float(p), None)
            else:
                asks[float(p)] = fq
        self.u = u
        return u

    def apply(self, d: dict[str, Any]) -> int:
        """`frame`'s Binance part for a payload already decoded (scale runs: the caller decodes
        once and routes by stream name); the same code, kept apart so that `frame` stays one
        call a frame."""
        self.n += 1
        if self.a.stream == "bookTicker":
            self.ticker = d
            self.u = d["u"]
            return self.u
        u = d["u"]
        if u <= self.u:
            return self.u
        if self.first:
            if not d["U"] <= self.u + 1:
                self.resyncs += 1
            self.first = False
        elif d["U"] != self.u + 1:
            self.resyncs += 1
        bids, asks = self.bids, self.asks
        for p, q in d["b"]:
            if (fq := float(q)) == 0.0:
                bids.pop(float(p), None)
            else:
                bids[float(p)] = fq
        for p, q in d["a"]:
            if (fq := float(q)) == 0.0:
                asks.pop(float(p), None)
            else:
                asks[float(p)] = fq
        self.u = u
        return u

    def _okx(self, data: bytes | str) -> int:
        d = self.loads(data).get("data")
        if d is None:  # a subscribe answer
            return self.u
        d = d[0]
        if self.a.stream == "okx-tickers":
            self.ticker = d
            self.n += 1
            self.u = self.n
            return self.u
        if d["prevSeqId"] == -1:
            self.bids = {float(lv[0]): float(lv[1]) for lv in d["bids"]}
            self.asks = {float(lv[0]): float(lv[1]) for lv in d["asks"]}
        else:
            if d["prevSeqId"] != self.u:
                self.resyncs += 1
            bids, asks = self.bids, self.asks
            for lv in d["bids"]:
                if (fq := float(lv[1])) == 0.0:
                    bids.pop(float(lv[0]), None)
                else:
                    bids[float(lv[0])] = fq
            for lv in d["asks"]:
                if (fq := float(lv[1])) == 0.0:
                    asks.pop(float(lv[0]), None)
                else:
                    asks[float(lv[0])] = fq
        self.u = d["seqId"]
        return self.u

    def state(self) -> dict[str, Any]:
        if self.a.stream == "okx-tickers":
            t = self.ticker
            return {"bid": float(t["bidPx"]), "bid_size": float(t["bidSz"]),
                    "ask": float(t["askPx"]), "ask_size": float(t["askSz"])}  # fmt: skip
        if self.a.stream == "bookTicker":
            t = self.ticker
            return {"bid": float(t["b"]), "bid_size": float(t["B"]), "ask": float(t["a"]),
                    "ask_size": float(t["A"]), "u": t["u"]}  # fmt: skip
        return {"bids": _top(self.bids, True), "asks": _top(self.asks, False), "u": self.u}


def _stream_name(a: argparse.Namespace) -> str:
    return f"{SYM.lower()}@depth@100ms" if a.stream == "depth" else f"{SYM.lower()}@bookTicker"


def _url(a: argparse.Namespace) -> str:
    if a.stream.startswith("okx"):
        return f"wss://127.0.0.1:{a.port}/ws/v5/public"
    return f"wss://127.0.0.1:{a.port}/stream?streams={_stream_name(a)}"


def _okx_subscribe(a: argparse.Namespace) -> str | None:
    if not a.stream.startswith("okx"):
        return None
    return json.dumps({"op": "subscribe", "args": [{"channel": a.stream[4:], "instId": OKX_INST}]})


async def _snapshot_aiohttp(session: Any, a: argparse.Namespace) -> dict[str, Any]:
    url = f"https://127.0.0.1:{a.port}/api/v3/depth?symbol={SYM}&limit=1000"
    async with session.get(url) as r:
        return await r.json()  # type: ignore[no-any-return]


async def run_floor_aiohttp(a: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    if a.symbols > 1 or a.connections > 1:
        return await _run_floor_aiohttp_scale(a)
    m = Meter(a.port)
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(_url(a), max_msg_size=0, autoping=True) as ws:
            if sub := _okx_subscribe(a):
                await ws.send_str(sub)
            snap = await _snapshot_aiohttp(s, a) if a.stream == "depth" else None
            f = DictFloor(a, snap)
            started = False
            while True:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"unexpected {msg.type}")
                u = f.frame(msg.data)
                if not started and u >= a.ready_u:
                    started = True
                    m.start()
                elif started and u >= a.final_u:
                    m.stop()
                    break
    return m.result(a.frames - a.warmup, f.state(), resyncs=f.resyncs)


async def _run_floor_aiohttp_scale(a: argparse.Namespace) -> dict[str, Any]:
    """The floor over K symbols on C connections: one aiohttp ws per group (its streams in the
    URL), a reader task per connection, orjson decode, routed to a DictFloor per stream name."""
    import gc

    import aiohttp
    import orjson

    groups = _groups(a)
    suffix = "@depth@100ms" if a.stream == "depth" else "@bookTicker"
    m = Meter(a.port)
    loop = asyncio.get_running_loop()
    ready, done = loop.create_future(), loop.create_future()
    floors: dict[str, DictFloor] = {}
    count = {"ready": 0, "final": 0}
    n_syms = a.symbols
    loads = orjson.loads

    async def reader(ws: Any) -> None:
        ready_u, final_u = a.ready_u, a.final_u
        while True:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"unexpected {msg.type}")
            d = loads(msg.data)
            f = floors[d["stream"]]
            before = f.u
            u = f.apply(d["data"])
            if before < ready_u <= u:
                count["ready"] += 1
                if count["ready"] == n_syms:
                    ready.set_result(None)
            if before < final_u <= u:
                count["final"] += 1
                if count["final"] == n_syms:
                    done.set_result(None)
                    return

    gc.collect()
    rss0 = rss_kb()
    t_sub = time.monotonic()
    async with aiohttp.ClientSession() as s:
        wss = []
        for g in groups:
            names = "/".join(x.lower() + suffix for x in g)
            url = f"wss://127.0.0.1:{a.port}/stream?streams={names}"
            wss.append(await s.ws_connect(url, max_msg_size=0, autoping=True))
        for g in groups:  # after subscribing, as a client must
            for sym in g:
                snap = None
                if a.stream == "depth":
                    url = f"https://127.0.0.1:{a.port}/api/v3/depth?symbol={sym}&limit=1000"
                    async with s.get(url) as r:
                        snap = await r.json()
                floors[sym.lower() + suffix] = DictFloor(a, snap)
        tasks = [loop.create_task(reader(w)) for w in wss]

        async def until(fut: asyncio.Future[None]) -> None:  # a reader's error ends the wait
            await asyncio.wait([fut, *tasks], timeout=a.timeout,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            for t in tasks:
                if t.done() and not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
            if not fut.done():
                raise TimeoutError("timed out waiting for every symbol")

        try:
            await until(ready)
            warm_s = time.monotonic() - t_sub
            gc.collect()
            rss1 = rss_kb()
            m.start()
            await until(done)
            m.stop()
        finally:
            for t in tasks:
                t.cancel()
            for w in wss:
                await w.close()
    timed = (a.frames // a.symbols - a.warmup) * a.symbols
    state = {k[: -len(suffix)].upper(): f.state() for k, f in floors.items()}
    return m.result(timed, state, resyncs=sum(f.resyncs for f in floors.values()),
                    rss_base_kb=rss0, rss_ready_kb=rss1, rss_end_kb=rss_kb(), books=len(floors),
                    warm_s=warm_s,
                    connections=len(wss))  # fmt: skip


async def run_floor_websockets(a: argparse.Namespace) -> dict[str, Any]:
    """websockets + msgspec, decode only (no book): what a frame costs before any state."""
    import websockets

    dec = msgspec.json.Decoder(_Frame)
    m = Meter(a.port)
    if a.stream.startswith("okx"):
        raise NotImplementedError("decode-only floor: Binance streams only")
    async with websockets.connect(_url(a), max_size=None, compression=None) as ws:
        started = False
        async for data in ws:
            u = dec.decode(data).data.u
            if not started and u >= a.ready_u:
                started = True
                m.start()
            elif started and u >= a.final_u:
                m.stop()
                break
    return m.result(a.frames - a.warmup, None)


async def run_floor_picows(a: argparse.Namespace) -> dict[str, Any]:
    """picows + orjson + the dict book (picows: a candidate transport for spinstream)."""
    import aiohttp
    import picows

    snap = None  # the depth snapshot is fetched after subscribing (below), as a client must
    m = Meter(a.port)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    holder: dict[str, Any] = {}

    class Listener(picows.WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type != picows.WSMsgType.TEXT:
                if frame.msg_type == picows.WSMsgType.PING:
                    transport.send_pong(frame.get_payload_as_bytes())
                return
            f = holder.get("floor")
            if f is None:  # before the snapshot: buffer
                holder.setdefault("buf", []).append(frame.get_payload_as_bytes())
                return
            u = f.frame(frame.get_payload_as_memoryview())
            if not m.t0 and u >= a.ready_u:
                m.start()
            elif m.t0 and u >= a.final_u and not done.done():
                m.stop()
                done.set_result(None)

    transport, _ = await picows.ws_connect(
        Listener, _url(a), ssl_context=ssl.create_default_context()
    )
    try:
        if sub := _okx_subscribe(a):
            transport.send(picows.WSMsgType.TEXT, sub.encode())
        if a.stream == "depth":
            async with aiohttp.ClientSession() as s:
                snap = await _snapshot_aiohttp(s, a)
        f = DictFloor(a, snap)
        for b in holder.pop("buf", []):
            f.frame(b)
        holder["floor"] = f
        if not m.t0 and f.u >= a.ready_u:
            m.start()
        await asyncio.wait_for(done, a.timeout)
    finally:
        transport.disconnect()
    return m.result(a.frames - a.warmup, f.state(), resyncs=f.resyncs)


def run_spinstream_picows(a: argparse.Namespace) -> dict[str, Any]:
    """spinstream as above, its account's `ws_backend = "picows"`."""
    return run_spinstream(a, "picows")


def run_spinstream_websockets(a: argparse.Namespace) -> dict[str, Any]:
    """spinstream as above, its account's `ws_backend = "websockets"`."""
    return run_spinstream(a, "websockets")


CLIENTS = {
    "spinstream": run_spinstream,
    "spinstream-picows": run_spinstream_picows,
    "spinstream-websockets": run_spinstream_websockets,
    "ccxt": run_ccxt,
    "cryptofeed": run_cryptofeed,
    "floor-aiohttp": run_floor_aiohttp,
    "floor-picows": run_floor_picows,
    "floor-websockets-msgspec": run_floor_websockets,
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("client", choices=sorted(CLIENTS))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--stream", required=True)
    ap.add_argument("--frames", type=int, required=True)
    ap.add_argument("--warmup", type=int, required=True)
    ap.add_argument("--ready-u", type=int, required=True)
    ap.add_argument("--final-u", type=int, required=True)
    ap.add_argument("--final-state", default="{}")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--symbols", type=int, default=1, help="scale: symbols (Binance streams)")
    ap.add_argument("--connections", type=int, default=1, help="scale: connections")
    a = ap.parse_args(argv)
    fn = CLIENTS[a.client]
    try:
        if asyncio.iscoroutinefunction(fn):
            res = asyncio.run(asyncio.wait_for(fn(a), a.timeout))
        else:
            res = fn(a)
    except BaseException as exc:  # noqa: BLE001 - reported to the harness
        import traceback

        tb = traceback.format_exc().splitlines()[-8:]
        res = {"error": f"{type(exc).__name__}: {exc}"[:3000], "traceback": tb}
    print("RESULT " + json.dumps(res), flush=True)
    sys.stdout.flush()
    os._exit(0)  # some clients leave threads/tasks behind; the result is out


if __name__ == "__main__":
    main()

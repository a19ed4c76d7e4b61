"""Group `ig-stream`: IG's Lightstreamer (TLCP-2.4.0) stream, from server lines to what ctx reads.

Input: seeded synthetic server traffic shaped like IG's, encoded by the codec's server side
(`codec.format_update`, what the IG simulator sends): every U line carries only what changed
since the item's previous update (an empty token for one unchanged field, `^n` for a run, `#`
for null), in MERGE and DISTINCT mode alike. Prices are texts with IG's trailing zeros trimmed
("7480.5", "7481", "1.0845").
  - `PRICE:XQ123:CS.D.EURUSD.CFD.IP`, MERGE, Pricing adapter, BIDPRICE1 ASKPRICE1 BIDSIZE1
    ASKSIZE1 TIMESTAMP: a +-1 tick walk at 5 decimals, bid and offer each moving about half the
    time, sizes changing one update in ten, the time every update;
  - `CHART:IX.D.FTSE.DAILY.IP:TICK` and `CHART:CS.D.GBPUSD.CFD.IP:TICK`, DISTINCT, BID OFR LTP
    LTV UTM: half-point / 1e-5 walks, LTP and LTV null (OTC), UTM in ms ~250 ms apart.

set `tlcp-decode` (unit "line"; lines/s in extra_info): 20,000 U lines of the three items
  interleaved (40% PRICE), as text lines; the session contender gets them as WebSocket frames of
  1..4 lines (CRLF-ended), as a server batches them.
  - `spinstream-codec`: `codec.parse_line(line)` (a typed `U`, value tokens decoded) and
    `codec.apply_values(prev, values, n_fields)` against the item's previous values;
  - `spinstream-session`: `LightstreamerSession.receive(frame, ts)` on whole frames with the
    three subscriptions live: line split, the same decode, per-mode item state, changed-field
    sets and one `ItemUpdate` event (fields dict by name) per line;
  - `lightstreamer-1.0.3` (baseline): the official lightstreamer-client-lib 1.0.3's own parsing,
    driven without a socket: its `ClientMachine.evtMessage` test (`line.startswith("U,")`),
    `ParseTools.parseUpdate(line)` (subscription, item and an IntMap of FieldValue tokens) and
    `UpdateUtils.applyUpatesToCurrentFields(current, incoming)` (what its `ItemBase.doUpdate`
    does first; its changed-field set, JSON-patch bookkeeping, ItemUpdate object and listener
    dispatch are not counted, which favours it against `spinstream-session`);
  - `python-split-merge` (reference): plain `str.split` on "," and "|" and a list merge, no
    typing, checks or percent-decoding beyond an `unquote` when "%" appears.
  After timing, every contender's final values of every item equal the generator's.

set `tick-to-candle` (unit "tick"): 20,000 `CHART:IX.D.FTSE.DAILY.IP:TICK` U lines, one per frame,
  ~250 ms apart with a few 90 s silences (~2.3 h, 1,026 bars of 5 s, 20 ticks each).
  - `spinstream`: the runtime's path: `IgStream.receive(frame, ts)` (TLCP session, DISTINCT item,
    `tick_from_chart`: exact int ticks) then `Store.apply("ig", events)` (the IgCache bid and ask
    tick rings, and the candle core fed the exact half-tick mid for a `1MINUTE` and a `5s` scale,
    both wanted before the stream starts). Each round starts from a fresh logged-in, subscribed
    stream and an empty store (untimed `setup`).
  - `store-apply-only`: the same `Store.apply` of the same `TickUpdate` events, built beforehand
    (the cache's share of the path).
  - `pandas-resample` (baseline): mid OHLC + count of the same ticks at 5 s from prepared arrays
    (int64 ns times, float bid and offer): `(bid + ask) / 2` in a Series on a DatetimeIndex,
    `resample("5s").ohlc()` and `.count()`, empty bins dropped. One scale, no text parsing, in
    one batch: what a user holding the ticks in numpy would run.
  After timing, spinstream's 5 s bars (closed and open) equal pandas' (rtol 1e-12).

set `candles-read` (unit "call"): a workspace with one IG account (never connected: its store is
  fed directly through an `IgStream` from 50,000 CHART:TICK lines, `5s` and `1MINUTE` wanted
  first), per call:
  - `spinstream-ctx`: `ctx.ig.get_streaming_candles(EPIC, "5s")` (2,575 bars; includes the
    `want_candles` it submits to the runtime's loop on every call);
  - `spinstream-cache`: `store.ig.candles("ig", EPIC, "5s")` (the cache read alone);
  - `pandas-resample` (baseline): the 5 s resample of the same 50,000 ticks, as above, per call
    (a strategy holding the ticks and resampling when it needs bars).
set `ticks-read` (unit "call"), the same store:
  - `spinstream-ctx`: `ctx.ig.get_streaming_ticks(EPIC)` (newest 1,000, ts/bid/ask floats);
  - `numpy-copy` (baseline): `view[-1000:].copy()` of a prepared TICK_VIEW_DTYPE array;
  - `spinstream-ctx-50000` (reference): `get_streaming_ticks(EPIC, 50_000)`, the whole store.
  After timing: the ctx answers equal the pandas bars / the last ticks fed, and the account made
  no REST call and opened no connection.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

import numpy as np
import pytest

from _harness import tag
from spinstream._core import EXTENSIONS
from spinstream.cache.ig import TICK_VIEW_DTYPE
from spinstream.cache.store import Store
from spinstream.credentials import Credentials
from spinstream.ctx import Context
from spinstream.protocol.ig import IgStream
from spinstream.protocol.ig.parse import PRICE_FIELDS, TICK_FIELDS, TickUpdate
from spinstream.protocol.lightstreamer import ItemUpdate, LightstreamerSession, codec
from spinstream.workspace import AccountConfig, Workspace

MS = 1_000_000
S = 1_000_000_000
T0_MS = 1_709_546_400_000  # 2024-03-04 10:00 UTC
ACCOUNT = "XQ123"
FTSE = "IX.D.FTSE.DAILY.IP"
EURUSD = "CS.D.EURUSD.CFD.IP"
GBPUSD = "CS.D.GBPUSD.CFD.IP"
ALIAS = "ig"
SEED = 20240304

DECODE_LINES = 20_000
TICKS = 20_000
READ_TICKS = 50_000
READ_CALLS = 100


# --------------------------------------------------------------------------- synthetic traffic


def price_text(ticks: int, decimals: int) -> str:
    """Exact int ticks as IG writes the price: trailing zeros (and a bare point) trimmed."""
    whole, frac = divmod(ticks, 10**decimals)
    text = f"{whole}.{frac:0{decimals}d}".rstrip("0") if decimals else str(whole)
    return text.rstrip(".")


@dataclass
class Item:
    """One subscribed item: what the session is asked for and what the server last sent."""

    sub_id: int
    name: str
    mode: str
    fields: tuple[str, ...]
    adapter: str | None = None
    snapshot: bool | None = None
    last: list[str | None] | None = None

    def line(self, row: dict[str, str | None]) -> str:
        new = [row[f] for f in self.fields]
        text = codec.format_update(self.sub_id, 1, self.last, new)
        self.last = new
        return text


class TickWalk:
    """A bid/offer walk on a price grid (ticks at `decimals`), IG's CHART:TICK fields."""

    def __init__(self, rng: random.Random, start: int, decimals: int, step: int,
                 spreads: tuple[int, ...]) -> None:  # fmt: skip
        self.rng = rng
        self.bid = start
        self.decimals = decimals
        self.step = step
        self.spreads = spreads
        self.ms = T0_MS

    def next(self) -> tuple[int, int, int]:
        """(ms, bid ticks, ask ticks) of the next tick."""
        r = self.rng
        self.ms += max(1, int(r.expovariate(1 / 250)))
        if r.random() < 0.002:
            self.ms += 90_000  # a quiet spell longer than a bar
        self.bid += self.step * r.choice((-1, 0, 1))
        return self.ms, self.bid, self.bid + self.step * r.choice(self.spreads)

    def row(self, ms: int, bid: int, ask: int) -> dict[str, str | None]:
        d = self.decimals
        return {"BID": price_text(bid, d), "OFR": price_text(ask, d), "LTP": None, "LTV": None,
                "UTM": str(ms)}  # fmt: skip


def _ftse(rng: random.Random) -> TickWalk:
    return TickWalk(rng, 74_805, 1, 5, (2, 2, 3))  # 7480.5, half-point steps, spread 1.0-1.5


@dataclass
class DecodeStream:
    items: list[Item]
    lines: list[str]
    frames: list[str]
    final: dict[int, list[str | None]]  # sub id -> the item's values after the last line


@cache
def decode_stream(n: int = DECODE_LINES, seed: int = SEED) -> DecodeStream:
    rng = random.Random(seed)
    price = Item(1, f"PRICE:{ACCOUNT}:{EURUSD}", "MERGE", PRICE_FIELDS, "Pricing", None)
    ftse = Item(2, f"CHART:{FTSE}:TICK", "DISTINCT", TICK_FIELDS, snapshot=False)
    cable = Item(3, f"CHART:{GBPUSD}:TICK", "DISTINCT", TICK_FIELDS, snapshot=False)
    walks = {2: _ftse(rng), 3: TickWalk(rng, 126_503, 5, 1, (8, 9, 10, 12))}
    bid, ask, ms = 108_452, 108_460, T0_MS
    sizes = ["500000", "1000000", "2500000"]
    bsize, asize = sizes[1], sizes[1]
    lines: list[str] = []
    for _ in range(n):
        u = rng.random()
        if u < 0.4:
            ms += max(1, int(rng.expovariate(1 / 150)))
            moved = False
            while not moved:
                if rng.random() < 0.5:
                    bid += rng.choice((-1, 1))
                    moved = True
                if rng.random() < 0.5:
                    ask = max(bid + 5, ask + rng.choice((-1, 1)))
                    moved = True
            ask = max(ask, bid + 5)
            if rng.random() < 0.1:
                bsize = rng.choice(sizes)
            if rng.random() < 0.1:
                asize = rng.choice(sizes)
            row = {"BIDPRICE1": price_text(bid, 5), "ASKPRICE1": price_text(ask, 5),
                   "BIDSIZE1": bsize, "ASKSIZE1": asize, "TIMESTAMP": str(ms)}  # fmt: skip
            lines.append(price.line(row))
        else:
            item = ftse if u < 0.7 else cable
            walk = walks[item.sub_id]
            lines.append(item.line(walk.row(*walk.next())))
    frames: list[str] = []
    i = 0
    while i < n:
        k = rng.randint(1, 4)
        frames.append(codec.server_frame(lines[i : i + k]))
        i += k
    items = [price, ftse, cable]
    return DecodeStream(items, lines, frames, {it.sub_id: list(it.last or []) for it in items})


@dataclass
class TickStream:
    frames: list[tuple[int, str]]  # (receive ts ns, frame)
    ts: np.ndarray  # event ns
    bid: np.ndarray  # float
    ask: np.ndarray
    bid_ticks: list[int]
    ask_ticks: list[int]


@cache
def tick_stream(n: int, seed: int = SEED + 1) -> TickStream:
    """N CHART:FTSE:TICK U lines (sub 1), one per frame, received 20 ms after their UTM."""
    rng = random.Random(seed)
    walk = _ftse(rng)
    item = Item(1, f"CHART:{FTSE}:TICK", "DISTINCT", TICK_FIELDS, snapshot=False)
    frames, ts, bids, asks = [], [], [], []
    for _ in range(n):
        ms, b, a = walk.next()
        frames.append((ms * MS + 20 * MS, item.line(walk.row(ms, b, a)) + "\r\n"))
        ts.append(ms * MS)
        bids.append(b)
        asks.append(a)
    return TickStream(frames, np.array(ts, np.int64), np.array(bids) / 10, np.array(asks) / 10,
                      bids, asks)  # fmt: skip


# --------------------------------------------------------------------------- tlcp-decode

LIB_SKIP = "lightstreamer-client-lib 1.0.3 not importable"


@cache
def lib() -> Any:
    try:
        from lightstreamer.client import ls_python_client_haxe as h
    except Exception as exc:  # noqa: BLE001 - an optional contender
        pytest.skip(f"{LIB_SKIP}: {exc}")
    return h


def run_codec(lines: list[str], n_fields: dict[int, int]) -> dict[int, list[str | None]]:
    parse, apply = codec.parse_line, codec.apply_values
    state: dict[tuple[int, int], list[str | None]] = {}
    for line in lines:
        msg = parse(line)
        key = (msg.sub_id, msg.item)
        state[key] = apply(state.get(key), msg.values, n_fields[msg.sub_id])
    return {k[0]: v for k, v in state.items()}


def run_lib(lines: list[str]) -> dict[int, Any]:
    h = lib()
    parse = h.com_lightstreamer_client_internal__ParseTools_ParseTools_Fields_.parseUpdate
    apply = h.com_lightstreamer_client_internal_update__UpdateUtils_UpdateUtils_Fields_.applyUpatesToCurrentFields  # noqa: E501
    state: dict[tuple[int, int], Any] = {}
    for line in lines:
        if line.startswith("U,"):  # ClientMachine.evtMessage's first test
            u = parse(line)
            key = (u.subId, u.itemIdx)
            state[key] = apply(state.get(key), u.values)
    return {k[0]: v for k, v in state.items()}


def lib_values(cur: Any, n: int) -> list[str | None]:
    to_string = lib().com_lightstreamer_client_internal_update_CurrFieldValTools.toString
    return [to_string(cur.h.get(i)) for i in range(1, n + 1)]


def run_split(lines: list[str]) -> dict[int, list[str | None]]:
    state: dict[tuple[str, str], list[str | None]] = {}
    for line in lines:
        _, sub, item, values = line.split(",", 3)
        key = (sub, item)
        prev = state.get(key) or []
        out: list[str | None] = []
        for tok in values.split("|"):
            if not tok:
                out.append(prev[len(out)])
            elif tok[0] == "^":
                i = len(out)
                out.extend(prev[i : i + int(tok[1:])])
            elif tok == "#":
                out.append(None)
            elif tok == "$":
                out.append("")
            else:
                out.append(unquote(tok) if "%" in tok else tok)
        state[key] = out
    return {int(k[0]): v for k, v in state.items()}


def session_for(stream: DecodeStream) -> LightstreamerSession:
    """An ACTIVE session with the stream's subscriptions acknowledged (sub ids as generated)."""
    ls = LightstreamerSession(venue="ig")
    for it in stream.items:
        sid = ls.subscribe([it.name], it.fields, it.mode, it.adapter, it.snapshot)  # type: ignore[arg-type]
        assert sid == it.sub_id
    t0 = T0_MS * MS
    ls.connected(t0)
    ls.outgoing()
    ls.receive(codec.server_frame(["WSOK", "CONOK,S1,50000,5000,*"]), t0)
    ls.outgoing()
    ls.receive(codec.server_frame([f"SUBOK,{it.sub_id},1,{len(it.fields)}"
                                   for it in stream.items]), t0)  # fmt: skip
    assert all(s.subscribed for s in ls.subscriptions.values())
    return ls


def run_session(ls: LightstreamerSession, frames: list[str]) -> list[Any]:
    receive = ls.receive
    ts = T0_MS * MS
    last: list[Any] = []
    for frame in frames:
        last = receive(frame, ts)
    return last


@pytest.mark.parametrize(
    "contender",
    ["spinstream-codec", "spinstream-session", "lightstreamer-1.0.3", "python-split-merge"],
)
@pytest.mark.benchmark(group="ig-stream")
def test_tlcp_decode(benchmark, contender: str) -> None:
    stream = decode_stream()
    lines, frames = stream.lines, stream.frames
    n_fields = {it.sub_id: len(it.fields) for it in stream.items}
    tag(benchmark, "tlcp-decode", contender, "line", len(lines),
        reference=contender == "python-split-merge", frames=len(frames))  # fmt: skip
    if contender == "spinstream-codec":
        got = benchmark(run_codec, lines, n_fields)
    elif contender == "spinstream-session":
        ls = session_for(stream)
        benchmark(run_session, ls, frames)
        got = {it.sub_id: [ls.values(it.sub_id, 1)[f] for f in it.fields] for it in stream.items}
        assert ls.counters.get("malformed", 0) == 0, ls.counters
        last = run_session(session_for(stream), frames)
        assert last and all(type(e) is ItemUpdate for e in last)
    elif contender == "lightstreamer-1.0.3":
        lib()
        cur = benchmark(run_lib, lines)
        got = {sid: lib_values(v, n_fields[sid]) for sid, v in cur.items()}
    else:
        got = benchmark(run_split, lines)
    assert got == stream.final, (got, stream.final)
    benchmark.extra_info["lines_per_s"] = round(len(lines) / benchmark.stats.stats.median)


# --------------------------------------------------------------------------- tick-to-candle

LOGIN_BODY = (
    b'{"accountType":"CFD","currencyIsoCode":"GBP","currentAccountId":"' + ACCOUNT.encode()
    + b'","lightstreamerEndpoint":"https://demo-apd.marketdatasystems.com",'
    b'"accounts":[{"accountId":"' + ACCOUNT.encode() + b'","accountName":"CFD",'
    b'"preferred":true,"accountType":"CFD"}],"clientId":"100112233","timezoneOffset":0}'
)  # fmt: skip
SCALES = ("1MINUTE", "5s")


def ig_stream() -> IgStream:
    """An IgStream logged in (answered from LOGIN_BODY), CHART:FTSE:TICK subscribed as sub 1."""
    stream = IgStream("otc", Credentials.of("k" * 40, "bench-password"), env="demo",
                      identifier="bench", lookup_decimals=False)  # fmt: skip
    stream.set_decimals(FTSE, 1)  # what the decimals lookup (GET /markets) would have said
    stream.subscribe("ticks", FTSE)
    t0 = T0_MS * MS
    stream.start(t0)
    (login,) = stream.requests()
    tokens = {"CST": "bench-cst", "X-SECURITY-TOKEN": "bench-xst"}
    assert stream.rest_response(login.req_id, 200, LOGIN_BODY, t0, headers=tokens) == []
    stream.connected(t0)
    stream.outgoing()
    stream.receive(codec.server_frame(["WSOK", "CONOK,S1,50000,5000,*"]), t0)
    adds = [p for f in stream.outgoing() for p in codec.parse_request(f).params]
    assert [(p["LS_subId"], p["LS_group"], p["LS_mode"]) for p in adds] == [
        ("1", f"CHART:{FTSE}:TICK", "DISTINCT")
    ]
    stream.receive(codec.server_frame([f"SUBOK,1,1,{len(TICK_FIELDS)}"]), t0)
    return stream


def fresh_store() -> Store:
    store = Store()
    for scale in SCALES:
        store.ig.want_candles(ALIAS, FTSE, scale)
    return store


def feed(stream: IgStream, store: Store, frames: list[tuple[int, str]]) -> None:
    receive, apply = stream.receive, store.apply
    for ts, frame in frames:
        apply(ALIAS, receive(frame, ts))


def pandas_5s(ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> Any:
    import pandas as pd

    mid = pd.Series((bid + ask) / 2, index=pd.DatetimeIndex(ts.view("datetime64[ns]")))
    r = mid.resample("5s")
    out = r.ohlc()
    out["count"] = r.count()
    return out[out["count"] > 0]


def same_bars(got: np.ndarray, ref: Any) -> None:
    assert got["start"].tolist() == ref.index.asi8.tolist()
    for f in ("open", "high", "low", "close"):
        np.testing.assert_allclose(got[f], ref[f].to_numpy(), rtol=1e-12, atol=0)
    assert got["count"].tolist() == ref["count"].tolist()


@pytest.mark.parametrize("contender", ["spinstream", "store-apply-only", "pandas-resample"])
@pytest.mark.benchmark(group="ig-stream")
def test_tick_to_candle(benchmark, contender: str) -> None:
    data = tick_stream(TICKS)
    tag(benchmark, "tick-to-candle", contender, "tick", TICKS, extensions=EXTENSIONS,
        bars_5s=None)  # fmt: skip
    if contender == "pandas-resample":
        pytest.importorskip("pandas")
        ref = benchmark(pandas_5s, data.ts, data.bid, data.ask)
        benchmark.extra_info["bars_5s"] = len(ref)
        return
    last: list[Store] = []
    if contender == "spinstream":

        def setup() -> tuple[tuple[Any, ...], dict]:
            store = fresh_store()
            last[:] = [store]
            return (ig_stream(), store, data.frames), {}

        benchmark.pedantic(feed, setup=setup, rounds=8, warmup_rounds=1, iterations=1)
    else:
        events = [
            [TickUpdate(venue="ig", market="otc", epic=FTSE, channel="ticks", bid_ticks=b,
                        ask_ticks=a, decimals=1, ts_event=int(t), ts_recv=rt)]
            for (rt, _), t, b, a in zip(data.frames, data.ts, data.bid_ticks, data.ask_ticks,
                                        strict=True)
        ]  # fmt: skip

        def apply_all(store: Store) -> None:
            apply = store.apply
            for evs in events:
                apply(ALIAS, evs)

        def setup_only() -> tuple[tuple[Any, ...], dict]:
            store = fresh_store()
            last[:] = [store]
            return (store,), {}

        benchmark.pedantic(apply_all, setup=setup_only, rounds=8, warmup_rounds=1, iterations=1)
    store = last[0]
    got, src = store.ig.candles(ALIAS, FTSE, "5s")
    assert src == "ticks"
    pytest.importorskip("pandas")
    same_bars(got, pandas_5s(data.ts, data.bid, data.ask))
    benchmark.extra_info["bars_5s"] = len(got)
    minute, _ = store.ig.candles(ALIAS, FTSE, "1MINUTE")
    assert minute["count"].sum() == TICKS
    ticks = store.ig.ticks(ALIAS, FTSE, TICKS, "ticks")
    assert len(ticks) == TICKS and ticks["ts"].tolist() == data.ts.tolist()
    assert ticks["bid"].tolist() == data.bid.tolist() and ticks["ask"].tolist() == data.ask.tolist()


# --------------------------------------------------------------------------- reads


@pytest.fixture(scope="module")
def ig_ws() -> Iterator[tuple[Workspace, Any]]:
    """A workspace with one IG account whose store holds READ_TICKS ticks of FTSE (no network)."""
    creds = Credentials.of("k" * 40, "bench-password")
    ws = Workspace(
        [AccountConfig(alias=ALIAS, venue="ig", env="demo", identifier="bench", credentials=creds)]
    )
    try:
        rt = ws.runtime
        ig = Context(ws).ig
        for scale in SCALES:
            rt.store.ig.want_candles(ALIAS, FTSE, scale)  # before the ticks: no subscribe on read
        feed(ig_stream(), rt.store, tick_stream(READ_TICKS).frames)
        yield ws, ig
        acct = rt.account(ALIAS)
        assert not any(k.startswith("rest:") for k in acct.counts), acct.counts
        assert acct.connections == {}, "a streaming read opened a connection"
    finally:
        ws.close()


@pytest.mark.parametrize("contender", ["spinstream-ctx", "spinstream-cache", "pandas-resample"])
@pytest.mark.benchmark(group="ig-stream")
def test_candles_read(benchmark, contender: str, ig_ws: tuple[Workspace, Any]) -> None:
    ws, ig = ig_ws
    data = tick_stream(READ_TICKS)
    pytest.importorskip("pandas")
    ref = pandas_5s(data.ts, data.bid, data.ask)
    r = range(READ_CALLS)
    if contender == "pandas-resample":
        tag(benchmark, "candles-read", contender, "call", 1, bars=len(ref))
        out = benchmark(pandas_5s, data.ts, data.bid, data.ask)
        assert out.index.equals(ref.index)
        return
    if contender == "spinstream-ctx":
        get = ig.get_streaming_candles

        def one() -> np.ndarray:
            return get(FTSE, "5s")
    else:
        candles = ws.runtime.store.ig.candles

        def one() -> np.ndarray:
            return candles(ALIAS, FTSE, "5s")[0]

    def loop() -> None:
        for _ in r:
            one()

    tag(benchmark, "candles-read", contender, "call", READ_CALLS, bars=len(ref))
    benchmark(loop)
    same_bars(one(), ref)


@pytest.mark.parametrize("contender", ["spinstream-ctx", "numpy-copy", "spinstream-ctx-50000"])
@pytest.mark.benchmark(group="ig-stream")
def test_ticks_read(benchmark, contender: str, ig_ws: tuple[Workspace, Any]) -> None:
    _ws, ig = ig_ws
    data = tick_stream(READ_TICKS)
    n = 50_000 if contender.endswith("50000") else 1000
    view = np.empty(READ_TICKS, TICK_VIEW_DTYPE)
    view["ts"], view["bid"], view["ask"] = data.ts, data.bid, data.ask
    r = range(READ_CALLS)
    if contender == "numpy-copy":

        def one() -> np.ndarray:
            return view[-n:].copy()
    else:
        get = ig.get_streaming_ticks

        def one() -> np.ndarray:
            return get(FTSE, n)

    def loop() -> None:
        for _ in r:
            one()

    tag(benchmark, "ticks-read", contender, "call", READ_CALLS, n=n,
        reference=contender == "spinstream-ctx-50000")  # fmt: skip
    benchmark(loop)
    got = one()
    assert got.dtype == TICK_VIEW_DTYPE and got.tolist() == view[-n:].tolist()

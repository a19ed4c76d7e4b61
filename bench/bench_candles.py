"""Group `candles`: OHLCV bars from ticks (1 s bars), per tick.

Sets:
- `synthetic-10M`: 10M seeded synthetic ticks (bench/_data.py: int64 ts/price/size, ~1 ms
  apart, ~10k bars), whole arrays at once:
    spinstream-batch   CandleAggregator.add_batch + flush + drain (compiled)
    twin-batch         the same on the twin, on the first 200k ticks (a Python loop inside)
    numpy-reduceat     bar boundaries by np.flatnonzero(diff(ts // scale)), then
                       np.maximum/minimum/add.reduceat, open/close by fancy index
    pandas-resample    df.resample("1s") ohlc/sum/count on a prepared DataFrame with a
                       DatetimeIndex (building the frame is not timed), empty bins dropped
  Every contender's bars are checked equal to numpy-reduceat's.
- `synthetic-stream`: a Python `for` loop calling `add(ts, price, size)` per tick over Python
  ints (as a feed handler would), compiled on 1M ticks, twin on 100k ticks.
- `recorded-bybit`: the recorded Bybit publicTrade trades (347, 6 symbol streams) from the
  decoded strings: parse_fixed(price), parse_fixed(size), ms -> ns, add; one aggregator per
  stream, fresh each round (untimed setup).
"""

from __future__ import annotations

import numpy as np
import pytest
from _harness import core_module, tag

from _data import bybit_trades, synthetic_ticks

SCALE = 1_000_000_000  # "1s"
BAR_DTYPE = np.dtype(
    [(f, "<i8") for f in ("start", "open", "high", "low", "close", "volume", "count")]
)
TWIN_BATCH_N = 200_000
STREAM_N = {"spinstream-stream": 1_000_000, "twin-stream": 100_000}


def numpy_bars(ts: np.ndarray, px: np.ndarray, sz: np.ndarray, scale: int = SCALE) -> np.ndarray:
    b = ts // scale
    idx = np.concatenate(([0], np.flatnonzero(b[1:] != b[:-1]) + 1))
    out = np.empty(len(idx), BAR_DTYPE)
    out["start"] = b[idx] * scale
    out["open"] = px[idx]
    out["high"] = np.maximum.reduceat(px, idx)
    out["low"] = np.minimum.reduceat(px, idx)
    out["close"] = px[np.append(idx[1:] - 1, len(px) - 1)]
    out["volume"] = np.add.reduceat(sz, idx)
    out["count"] = np.diff(np.append(idx, len(px)))
    return out


@pytest.fixture(scope="module")
def ticks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return synthetic_ticks()


@pytest.fixture(scope="module")
def reference(ticks) -> np.ndarray:
    return numpy_bars(*ticks)


def _module(contender: str):
    return core_module("twin" if contender.startswith("twin") else "compiled", "candles")


def _agg_bars(agg) -> np.ndarray:
    agg.flush()
    return np.asarray(agg.drain())


def _same(bars: np.ndarray, ref: np.ndarray) -> None:
    assert len(bars) == len(ref), (len(bars), len(ref))
    for f in BAR_DTYPE.names:
        assert np.array_equal(bars[f], ref[f]), f


@pytest.mark.parametrize("contender", ["spinstream-batch", "twin-batch"])
@pytest.mark.benchmark(group="candles")
def test_candles_batch(benchmark, contender: str, ticks, reference) -> None:
    mod = _module(contender)
    n = len(ticks[0]) if contender == "spinstream-batch" else TWIN_BATCH_N
    ts, px, sz = (a[:n] for a in ticks)
    last: list = []

    def setup():
        agg = mod.CandleAggregator("1s")
        last[:] = [agg]
        return (agg,), {}

    def run(agg):
        agg.add_batch(ts, px, sz)
        agg.flush()
        return agg.drain()

    tag(benchmark, "synthetic-10M", contender, "tick", n)
    rounds = 5 if contender == "spinstream-batch" else 3
    benchmark.pedantic(run, setup=setup, rounds=rounds, warmup_rounds=1, iterations=1)
    ref = reference if n == len(ticks[0]) else numpy_bars(ts, px, sz)
    agg = mod.CandleAggregator("1s")
    agg.add_batch(ts, px, sz)
    _same(_agg_bars(agg), ref)


@pytest.mark.benchmark(group="candles")
def test_candles_numpy_reduceat(benchmark, ticks, reference) -> None:
    tag(benchmark, "synthetic-10M", "numpy-reduceat", "tick", len(ticks[0]))
    bars = benchmark.pedantic(numpy_bars, args=ticks, rounds=5, warmup_rounds=1, iterations=1)
    _same(bars, reference)


@pytest.mark.benchmark(group="candles")
def test_candles_pandas_resample(benchmark, ticks, reference) -> None:
    pd = pytest.importorskip("pandas")
    ts, px, sz = ticks
    df = pd.DataFrame({"price": px, "size": sz}, index=pd.DatetimeIndex(ts))

    def run():
        r = df.resample("1s")
        o = r["price"].ohlc()
        v = r["size"].sum()
        c = r["size"].count()
        keep = c.to_numpy() > 0
        return o[keep], v[keep], c[keep]

    tag(benchmark, "synthetic-10M", "pandas-resample", "tick", len(ts))
    o, v, c = benchmark.pedantic(run, rounds=3, warmup_rounds=0, iterations=1)
    assert len(o) == len(reference)
    assert np.array_equal(o["high"].to_numpy().astype(np.int64), reference["high"])
    assert np.array_equal(v.to_numpy(), reference["volume"])


@pytest.mark.parametrize("contender", ["spinstream-stream", "twin-stream"])
@pytest.mark.benchmark(group="candles")
def test_candles_stream(benchmark, contender: str, ticks) -> None:
    mod = _module(contender)
    n = STREAM_N[contender]
    ts, px, sz = (a[:n] for a in ticks)
    tl, pl, sl = ts.tolist(), px.tolist(), sz.tolist()
    last: list = []

    def setup():
        agg = mod.CandleAggregator("1s")
        last[:] = [agg]
        return (agg,), {}

    def run(agg):
        add = agg.add
        for t, p, s in zip(tl, pl, sl):
            add(t, p, s)

    tag(benchmark, "synthetic-stream", contender, "tick", n)
    benchmark.pedantic(run, setup=setup, rounds=5, warmup_rounds=1, iterations=1)
    _same(_agg_bars(last[0]), numpy_bars(ts, px, sz))


@pytest.mark.parametrize("contender", ["spinstream-stream", "twin-stream"])
@pytest.mark.benchmark(group="candles")
def test_candles_recorded(benchmark, contender: str) -> None:
    mod = _module(contender)
    book = core_module("twin" if contender.startswith("twin") else "compiled", "book")
    pf = book.parse_fixed
    tr = bybit_trades()
    rows = [(k, t, p, v, *tr.decimals[k]) for k, t, p, v in tr.rows]
    keys = sorted(tr.decimals)
    last: list = []

    def setup():
        aggs = {k: mod.CandleAggregator("1s") for k in keys}
        last[:] = [aggs]
        return (aggs,), {}

    def run(aggs):
        for key, t_ms, p, v, pd_, sd_ in rows:
            aggs[key].add(t_ms * 1_000_000, pf(p, pd_), pf(v, sd_))

    tag(benchmark, "recorded-bybit", contender, "tick", len(rows))
    benchmark.pedantic(run, setup=setup, rounds=200, warmup_rounds=5, iterations=1)
    aggs = last[0]
    assert sum(a.ticks + a.late for a in aggs.values()) == len(rows)

"""CandleAggregator and parse_scale, compiled and twin: the streaming rule, seed/drain/flush,
batch == stream, errors, and bars equal to pandas resample and a numpy reduceat computation."""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace

import numpy as np
import pytest

from spinstream.errors import InvariantError

S = 1_000_000_000
M = 60 * S
H = 60 * M
I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
FIELDS = ("start", "open", "high", "low", "close", "volume", "count")

SCALES = {
    "1s": S, "5s": 5 * S, "1m": M, "3m": 3 * M, "5m": 5 * M, "15m": 15 * M, "30m": 30 * M,
    "1h": H, "2h": 2 * H, "4h": 4 * H, "1d": 24 * H,
    "SECOND": S, "1MINUTE": M, "2MINUTE": 2 * M, "3MINUTE": 3 * M, "5MINUTE": 5 * M,
    "10MINUTE": 10 * M, "15MINUTE": 15 * M, "30MINUTE": 30 * M,
    "HOUR": H, "2HOUR": 2 * H, "3HOUR": 3 * H, "4HOUR": 4 * H, "DAY": 24 * H,
}  # fmt: skip


def bars(agg) -> list[tuple[int, ...]]:
    """Drained bars as plain tuples."""
    return [tuple(int(x) for x in row) for row in agg.drain().tolist()]


def synthetic(n: int, seed: int, spacing_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted int64 ticks with bursts, gaps of several empty intervals and equal timestamps."""
    rng = np.random.default_rng(seed)
    gaps = rng.integers(0, 2 * spacing_ns, n)
    gaps[rng.random(n) < 0.01] *= 500  # a few long silences: empty intervals
    gaps[rng.random(n) < 0.05] = 0  # same-nanosecond ticks
    ts = (1_700_000_000 * S + np.cumsum(gaps)).astype(np.int64)
    px = (3_000_000 + np.cumsum(rng.integers(-5, 6, n))).astype(np.int64)
    sz = rng.integers(0, 1000, n).astype(np.int64)
    return ts, px, sz


def reduceat_bars(ts: np.ndarray, px: np.ndarray, sz: np.ndarray, scale: int) -> np.ndarray:
    """Reference OHLCV of sorted ticks by numpy: bar boundaries from ts // scale, then reduceat."""
    key = ts // scale
    idx = np.concatenate(([0], np.flatnonzero(key[1:] != key[:-1]) + 1))
    out = np.empty(len(idx), [(f, "<i8") for f in FIELDS])
    out["start"] = key[idx] * scale
    out["open"] = px[idx]
    out["high"] = np.maximum.reduceat(px, idx)
    out["low"] = np.minimum.reduceat(px, idx)
    out["close"] = px[np.append(idx[1:] - 1, len(px) - 1)]
    out["volume"] = np.add.reduceat(sz, idx)
    out["count"] = np.diff(np.append(idx, len(px)))
    return out


def stream_bars(mod: SimpleNamespace, scale, ts, px, sz) -> np.ndarray:
    """Bars from `add` per tick (Python ints), then `flush`."""
    agg = mod.CandleAggregator(scale)
    closed = sum(
        agg.add(t, p, s) for t, p, s in zip(ts.tolist(), px.tolist(), sz.tolist(), strict=True)
    )
    closed += agg.flush()
    agg._check()
    out = agg.drain()
    assert len(out) == closed
    return out


# --- parse_scale -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCALES))
def test_parse_scale_names(core, name: str) -> None:
    assert core.candles.parse_scale(name) == SCALES[name]


@pytest.mark.parametrize("ns", [1, 7, S, 24 * H, I64_MAX, np.int64(5), np.uint16(9)])
def test_parse_scale_ints(core, ns) -> None:
    assert core.candles.parse_scale(ns) == int(ns)
    assert type(core.candles.parse_scale(ns)) is int


@pytest.mark.parametrize(
    "bad",
    ["", "1M", "1S", "1 m", "minute", "60", "1MINUTES", "day", 0, -1, -S, 2**63, 1.0, 1.5,
     True, False, None, b"1m", [1]],
)  # fmt: skip
def test_parse_scale_errors(core, bad) -> None:
    with pytest.raises(ValueError):
        core.candles.parse_scale(bad)
    with pytest.raises(ValueError):
        core.candles.CandleAggregator(bad)


def test_bar_dtype(core) -> None:
    dt = core.candles.BAR_DTYPE
    assert dt.names == FIELDS
    assert all(dt[f] == np.dtype("<i8") for f in FIELDS)
    assert dt.itemsize == 56


# --- the streaming rule ------------------------------------------------------------------------


def test_readonly_counters(core) -> None:
    agg = core.candles.CandleAggregator("1m")
    assert (agg.scale_ns, agg.late, agg.ticks) == (M, 0, 0)
    for name in ("scale_ns", "late", "ticks"):
        with pytest.raises(AttributeError):
            setattr(agg, name, 1)


def test_bar_takes_every_tick_and_close_is_last_received(core) -> None:
    agg = core.candles.CandleAggregator(10)
    assert agg.open_bar() is None
    assert agg.add(12, 100, 1) == 0
    assert agg.add(19, 105, 2) == 0
    assert agg.add(11, 95, 3) == 0  # earlier ts, same bar: still the close
    assert agg.open_bar() == (10, 100, 105, 95, 95, 6, 3)
    assert agg.ticks == 3 and agg.late == 0
    agg._check()


def test_boundary_tick_opens_new_bar(core) -> None:
    agg = core.candles.CandleAggregator(10)
    agg.add(10, 1, 1)
    agg.add(19, 2, 1)
    assert agg.add(20, 3, 1) == 1  # exactly on the boundary: next bar
    assert agg.open_bar() == (20, 3, 3, 3, 3, 1, 1)
    assert bars(agg) == [(10, 1, 2, 1, 2, 2, 2)]


def test_empty_intervals_produce_no_bar(core) -> None:
    agg = core.candles.CandleAggregator(10)
    agg.add(5, 1, 1)
    assert agg.add(95, 2, 1) == 1
    assert agg.flush() == 1
    assert bars(agg) == [(0, 1, 1, 1, 1, 1, 1), (90, 2, 2, 2, 2, 1, 1)]


def test_late_ticks_dropped_and_counted(core) -> None:
    agg = core.candles.CandleAggregator(10)
    agg.add(25, 7, 1)
    assert agg.add(19, 1, 100) == 0  # before the open bar
    assert agg.add(-5, 1, 100) == 0
    assert agg.late == 2 and agg.ticks == 1
    assert agg.open_bar() == (20, 7, 7, 7, 7, 1, 1)
    agg.flush()
    assert agg.add(29, 8, 1) == 0  # in the closed (flushed) bar: late too
    assert agg.add(3, 8, 1) == 0
    assert agg.late == 4 and agg.open_bar() is None
    assert agg.add(30, 9, 1) == 0  # the next interval opens a bar, closes nothing
    assert bars(agg) == [(20, 7, 7, 7, 7, 1, 1)]
    assert agg.open_bar() == (30, 9, 9, 9, 9, 1, 1)
    agg._check()


def test_negative_timestamps_floor(core) -> None:
    agg = core.candles.CandleAggregator(10)
    agg.add(-11, 1, 1)
    assert agg.open_bar()[0] == -20
    agg.add(-1, 2, 1)
    assert agg.open_bar()[0] == -10
    agg.add(0, 3, 1)
    agg.flush()
    assert [b[0] for b in bars(agg)] == [-20, -10, 0]


def test_keywords_and_int_like_arguments(core) -> None:
    agg = core.candles.CandleAggregator(scale=np.int64(10))
    assert agg.add(ts_ns=np.int64(5), price=np.int32(3), size=True) == 0
    assert agg.open_bar() == (0, 3, 3, 3, 3, 1, 1)


def test_add_errors_leave_state_unchanged(core) -> None:
    agg = core.candles.CandleAggregator(10)
    agg.add(15, 5, I64_MAX - 10)
    before = (agg.open_bar(), agg.late, agg.ticks)
    with pytest.raises(ValueError):
        agg.add(16, 5, -1)
    with pytest.raises(OverflowError):
        agg.add(16, 5, 11)  # volume would pass int64
    for bad in (2**63, I64_MIN - 1):
        with pytest.raises(OverflowError):
            agg.add(bad, 1, 1)
        with pytest.raises(OverflowError):
            agg.add(16, bad, 1)
    for bad in (1.5, "1", None):
        with pytest.raises(TypeError):
            agg.add(bad, 1, 1)
    with pytest.raises(TypeError):
        agg.add(16, 1)
    assert (agg.open_bar(), agg.late, agg.ticks) == before
    assert agg.add(16, 5, 10) == 0  # exactly reaching int64 max is fine
    assert agg.open_bar()[5] == I64_MAX
    agg._check()


def test_bar_start_below_int64_overflows(core) -> None:
    agg = core.candles.CandleAggregator(10)
    with pytest.raises(OverflowError):
        agg.add(I64_MIN + 3, 1, 1)  # floors to below int64
    assert agg.open_bar() is None and agg.ticks == 0
    agg.add(I64_MIN + 8, 1, 1)  # I64_MIN + 8 is a multiple of 10
    assert agg.open_bar()[0] == I64_MIN + 8
    agg.add(I64_MAX, 2, 1)
    assert agg.open_bar()[0] == I64_MAX - I64_MAX % 10
    agg._check()


def test_count_overflow_after_seed(core) -> None:
    agg = core.candles.CandleAggregator(10)
    agg.seed(0, 1, 1, 1, 1, 0, I64_MAX - 1)
    agg.add(1, 1, 1)
    assert agg.open_bar()[6] == I64_MAX
    with pytest.raises(OverflowError):
        agg.add(2, 1, 1)
    with pytest.raises(OverflowError):
        agg.add_batch([2], [1], [1])
    assert agg.open_bar()[6] == I64_MAX


# --- seed / drain / flush ----------------------------------------------------------------------


def test_seed_replaces_open_bar_and_closes_nothing(core) -> None:
    agg = core.candles.CandleAggregator(10)
    agg.add(15, 5, 1)
    agg.seed(10, 4, 9, 2, 6, 50, 7)
    assert agg.open_bar() == (10, 4, 9, 2, 6, 50, 7)
    agg.add(11, 10, 1)
    assert agg.open_bar() == (10, 4, 10, 2, 10, 51, 8)
    agg.seed(40, 1, 1, 1, 1, 0, 0)  # a later bar: the old open bar is dropped, not closed
    assert agg.drain().shape == (0,)
    assert agg.add(12, 1, 1) == 0 and agg.late == 1
    assert agg.add(40, 3, 2) == 0
    assert agg.open_bar() == (40, 1, 3, 1, 3, 2, 1)
    agg.seed(20, 1, 1, 1, 1, 0, 0)  # an earlier bar is fine while nothing has closed
    assert agg.ticks == 3
    agg._check()


def test_seed_errors(core) -> None:
    agg = core.candles.CandleAggregator(10)
    agg.add(25, 1, 1)
    agg.flush()
    with pytest.raises(ValueError):
        agg.seed(35, 1, 1, 1, 1, 1, 1)  # not on a boundary
    with pytest.raises(ValueError):
        agg.seed(20, 1, 1, 1, 1, 1, 1)  # not after the last closed bar
    with pytest.raises(ValueError):
        agg.seed(10, 1, 1, 1, 1, 1, 1)
    for o, h, low, c, v, n in [
        (5, 4, 1, 2, 1, 1),  # open above high
        (2, 4, 3, 2, 1, 1),  # low above open
        (2, 4, 1, 5, 1, 1),  # close above high
        (2, 4, 1, 0, 1, 1),  # close below low
        (2, 4, 1, 3, -1, 1),  # negative volume
        (2, 4, 1, 3, 1, -1),  # negative count
    ]:
        with pytest.raises(ValueError):
            agg.seed(30, o, h, low, c, v, n)
    with pytest.raises(OverflowError):
        agg.seed(30, 2**63, 1, 1, 1, 1, 1)
    assert agg.open_bar() is None
    agg.seed(start=30, open=2, high=4, low=1, close=3, volume=0, count=0)
    assert agg.open_bar() == (30, 2, 4, 1, 3, 0, 0)
    agg._check()


def test_drain_and_flush(core) -> None:
    agg = core.candles.CandleAggregator(10)
    empty = agg.drain()
    assert empty.dtype == core.candles.BAR_DTYPE and empty.shape == (0,)
    assert agg.flush() == 0
    for t in range(0, 1000, 5):
        agg.add(t, t, 1)
    first = agg.drain()
    assert first.dtype == core.candles.BAR_DTYPE
    assert first["start"].tolist() == list(range(0, 990, 10))
    assert agg.drain().shape == (0,)  # drained bars are forgotten
    assert agg.flush() == 1 and agg.flush() == 0
    assert bars(agg) == [(990, 990, 995, 990, 995, 2, 2)]
    first["open"] = -1  # the caller owns the array
    agg._check()


def test_drain_many_bars(core) -> None:
    """Enough bars to grow (and after a drain, release) the compiled closed-bar array."""
    agg = core.candles.CandleAggregator(1)
    n = 200_000 if core.kind == "compiled" else 5_000
    ts = np.arange(n, dtype=np.int64)
    assert agg.add_batch(ts, ts * 2, np.ones(n, np.int64)) == n - 1
    out = agg.drain()
    assert len(out) == n - 1 and np.array_equal(out["close"], ts[:-1] * 2)
    agg.add(n, 0, 0)
    assert bars(agg) == [(n - 1, 2 * n - 2, 2 * n - 2, 2 * n - 2, 2 * n - 2, 1, 1)]


def test_check_detects_corruption(twin) -> None:
    """`_check` raises InvariantError (shown on the twin, whose state Python can reach)."""
    agg = twin.candles.CandleAggregator(10)
    agg.add(15, 5, 1)
    agg._check()
    agg._h = 1  # high below open
    with pytest.raises(InvariantError):
        agg._check()


# --- add_batch ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_add_batch_equals_add_loop(core, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    ts = np.cumsum(rng.integers(-8, 20, n)).astype(np.int64)  # some ticks go back: late
    px = rng.integers(-50, 50, n).astype(np.int64)
    sz = rng.integers(0, 5, n).astype(np.int64)
    one = core.candles.CandleAggregator(10)
    many = core.candles.CandleAggregator(10)
    closed = sum(
        one.add(t, p, s) for t, p, s in zip(ts.tolist(), px.tolist(), sz.tolist(), strict=True)
    )
    cuts = np.sort(rng.integers(0, n, 5))
    got = 0
    for a, b in pairwise(np.r_[0, cuts, n]):  # batches of any length, empty included
        got += many.add_batch(ts[a:b], px[a:b], sz[a:b])
        many._check()
    assert got == closed
    assert (many.open_bar(), many.late, many.ticks) == (one.open_bar(), one.late, one.ticks)
    assert bars(many) == bars(one)


def test_add_batch_accepts_integer_sequences(core) -> None:
    agg = core.candles.CandleAggregator(10)
    assert agg.add_batch([1, 2, 15], (5, 6, 7), np.array([1, 1, 1], np.uint8)) == 1
    assert agg.add_batch([], [], []) == 0
    assert agg.add_batch(np.array([], np.float64), [], []) == 0
    assert agg.open_bar() == (10, 7, 7, 7, 7, 1, 1)


def test_add_batch_errors_apply_nothing(core) -> None:
    agg = core.candles.CandleAggregator(10)
    agg.add(5, 1, 1)
    before = (agg.open_bar(), agg.late, agg.ticks)
    i3 = np.arange(3, dtype=np.int64)
    with pytest.raises(ValueError):
        agg.add_batch(i3, i3, np.array([1, -1, 1]))  # negative size anywhere: nothing applied
    with pytest.raises(ValueError):
        agg.add_batch(i3, i3, i3[:2])
    with pytest.raises(ValueError):
        agg.add_batch(i3.reshape(1, 3), i3, i3)
    with pytest.raises(ValueError):
        agg.add_batch(i3.astype(np.float64), i3, i3)
    with pytest.raises(ValueError):
        agg.add_batch(5, i3, i3)
    assert (agg.open_bar(), agg.late, agg.ticks) == before


def test_add_batch_overflow_stops_where_add_would(core) -> None:
    agg = core.candles.CandleAggregator(10)
    ts = np.array([1, 2, 12, 13, 14, 30])
    sz = np.array([1, 1, I64_MAX - 5, 5, 1, 1])  # the tick at 14 overflows bar 10's volume
    with pytest.raises(OverflowError):
        agg.add_batch(ts, np.arange(6), sz)
    assert agg.open_bar() == (10, 2, 3, 2, 3, I64_MAX, 2)
    assert agg.ticks == 4
    assert bars(agg) == [(0, 0, 1, 0, 1, 2, 2)]
    agg._check()


# --- against pandas and numpy ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "spacing"), [("1s", S // 1000), ("1m", S // 20), (7 * S, S // 50), (1000, 30)]
)
def test_bars_match_numpy_reduceat(core, scale, spacing: int) -> None:
    n = 20_000 if core.kind == "compiled" else 5_000
    ts, px, sz = synthetic(n, seed=11, spacing_ns=spacing)
    ns = core.candles.parse_scale(scale)
    ref = reduceat_bars(ts, px, sz, ns)
    agg = core.candles.CandleAggregator(scale)
    assert agg.add_batch(ts, px, sz) == len(ref) - 1
    agg.flush()
    batch = agg.drain()
    stream = stream_bars(core.candles, scale, ts, px, sz)
    for got in (batch, stream):
        assert got.dtype == core.candles.BAR_DTYPE
        assert np.array_equal(got.view(np.int64), ref.view(np.int64))


@pytest.mark.parametrize("scale", ["1s", "5m", 7 * S])
def test_bars_match_pandas_resample(core, scale) -> None:
    pd = pytest.importorskip("pandas")
    ts, px, sz = synthetic(5_000, seed=3, spacing_ns=S // 200 if scale != "5m" else S)
    ns = core.candles.parse_scale(scale)
    df = pd.DataFrame({"price": px, "size": sz}, index=pd.to_datetime(ts, unit="ns"))
    r = df.resample(pd.Timedelta(ns, unit="ns"), origin="epoch", closed="left", label="left")
    ohlc = r["price"].ohlc()
    vol = r["size"].sum()
    cnt = r["size"].count()
    keep = cnt.to_numpy() > 0  # pandas emits the empty intervals; the aggregator does not
    starts = ohlc.index.to_numpy()[keep].astype("datetime64[ns]").astype(np.int64)
    agg = core.candles.CandleAggregator(scale)
    agg.add_batch(ts, px, sz)
    agg.flush()
    got = agg.drain()
    assert np.array_equal(got["start"], starts)
    for f in ("open", "high", "low", "close"):
        assert np.array_equal(got[f], ohlc[f].to_numpy()[keep].astype(np.int64)), f
    assert np.array_equal(got["volume"], vol.to_numpy()[keep].astype(np.int64))
    assert np.array_equal(got["count"], cnt.to_numpy()[keep].astype(np.int64))
    assert np.array_equal(stream_bars(core.candles, scale, ts, px, sz), got)

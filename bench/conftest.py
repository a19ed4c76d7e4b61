"""Benchmark harness: collects bench/bench_*.py, loads the contenders, prints per-unit figures.

Run from the project root:  python -m pytest bench/ --benchmark-only
(The default test run never sees these files: pyproject's testpaths is ["tests"] and the
bench_*.py names don't match pytest's default python_files; this conftest collects them.)

Every benchmark records in extra_info: `set` (what is being compared, e.g. "okx"), `contender`,
`unit` ("level", "tick", "read", ...) and `units` (units per timed iteration). The summary
printed at the end (and added to --benchmark-json output under "spinstream") divides the median
time of an iteration by `units`, and compares each contender with the group's baseline measured in
the same run. SPINSTREAM_BENCH_STRICT=1 turns a missed ratio target into a failed session.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # bench/_data.py, _books.py, _harness.py
    sys.path.insert(0, str(HERE))

from _harness import _SKIPPED  # noqa: E402


# --------------------------------------------------------------------------- collection


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Any:
    # a bench file named on the command line is collected by pytest itself
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


# --------------------------------------------------------------------------- summary

# baseline contender per group, or per (group, set) where a group's sets measure different things:
# ratios are baseline_ns / contender_ns ("x faster than")
BASELINE: dict[str | tuple[str, str], str] = {
    "book-apply": "ccxt",
    "book-read": "ccxt",
    "candles": "numpy-reduceat",
    "ring": "deque",
    "cached-get": "dict-lookup",
    "frame-to-cache": "ccxt",
    "socket-to-cache": "floor-aiohttp",
    ("ig-stream", "tlcp-decode"): "lightstreamer-1.0.3",
    ("ig-stream", "tick-to-candle"): "pandas-resample",
    ("ig-stream", "candles-read"): "pandas-resample",
    ("ig-stream", "ticks-read"): "numpy-copy",
}
GROUP_ORDER = ["book-apply", "book-read", "candles", "ring", "cached-get", "frame-to-cache",
               "socket-to-cache", "ig-stream"]  # fmt: skip


def _baseline(group: str, set_: str) -> str | None:
    return BASELINE.get((group, set_), BASELINE.get(group))


def _rows(benchmarks: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for b in benchmarks:
        info = b.extra_info or {}
        if not b or "units" not in info:
            continue
        rows.append(
            dict(
                group=b.group or "",
                set=info["set"],
                contender=info["contender"],
                unit=info["unit"],
                units=info["units"],
                ns=b.stats.median * 1e9 / info["units"],
                ns_min=b.stats.min * 1e9 / info["units"],
                name=b.name,
                reference=bool(info.get("reference")),
            )
        )
    for r in rows:
        base = _baseline(r["group"], r["set"])
        peers = [
            x for x in rows if x["group"] == r["group"] and x["set"] == r["set"]
            and x["contender"] == base
        ]
        ok = peers and r["ns"] > 0 and not r["reference"]
        r["ratio"] = peers[0]["ns"] / r["ns"] if ok else None
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    rows.sort(key=lambda r: (order.get(r["group"], 99), r["set"], r["ns"]))
    return rows


def _find(rows: list[dict[str, Any]], group: str, set_: str, contender: str) -> dict | None:
    for r in rows:
        if (r["group"], r["set"], r["contender"]) == (group, set_, contender):
            return r
    return None


def _targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets. `gate` ones are ratios against a baseline of the same run."""
    out: list[dict[str, Any]] = []

    def add(what: str, value: float | None, ok: bool | None, target: str, gate: bool) -> None:
        out.append(dict(what=what, value=value, ok=ok, target=target, gate=gate))

    for venue in ("okx", "binance"):
        sp = _find(rows, "book-apply", venue, "spinstream")
        cc = _find(rows, "book-apply", venue, "ccxt")
        if sp and cc:
            ratio = cc["ns"] / sp["ns"]
            add(f"book apply {venue}: x faster than ccxt", ratio, ratio >= 7, ">= 7x", True)
            add(f"book apply {venue}: ns/level", sp["ns"], sp["ns"] <= 150, "<= ~150", False)
    rd = _find(rows, "book-read", "best", "spinstream")
    if rd:
        add("best bid/ask read: ns/read", rd["ns"], rd["ns"] < 100, "< 100", False)
    st = _find(rows, "candles", "synthetic-stream", "spinstream-stream")
    if st:
        add("streaming candles: ns/tick", st["ns"], st["ns"] < 30, "< 30", False)
    bt = _find(rows, "candles", "synthetic-10M", "spinstream-batch")
    nr = _find(rows, "candles", "synthetic-10M", "numpy-reduceat")
    if bt and nr:
        ratio = bt["ns"] / nr["ns"]
        add("candles batch: time / numpy reduceat", ratio, ratio <= 2, "<= 2x", True)
    ap = _find(rows, "ring", "append", "spinstream")
    if ap:
        add("ring append: ns/append", ap["ns"], ap["ns"] < 50, "< 50", False)
    cg = _find(rows, "cached-get", "BTCUSDT", "spinstream-ctx")
    dl = _find(rows, "cached-get", "BTCUSDT", "dict-lookup")
    if cg and dl:
        ratio = cg["ns"] / dl["ns"]
        add("cached get_ticker: time / dict lookup", ratio, ratio <= 3, "<= 3x", True)
    for venue in ("binance", "bybit", "okx", "okx0"):
        sp = _find(rows, "frame-to-cache", venue, "spinstream")
        cc = _find(rows, "frame-to-cache", venue, "ccxt")
        if sp and cc:
            ratio = cc["ns"] / sp["ns"]
            add(f"frame to cache {venue}: x faster than ccxt", ratio, ratio >= 10, ">= 10x", True)
    for stream in ("bookTicker", "depth", "okx-tickers", "okx-books"):  # client CPU a frame, TLS
        sp = _find(rows, "socket-to-cache", stream, "spinstream")
        fl = _find(rows, "socket-to-cache", stream, "floor-aiohttp")
        if sp and fl:
            ratio = sp["ns"] / fl["ns"]
            add(f"socket to cache {stream}: CPU / aiohttp floor", ratio, ratio <= 1.25, "<= 1.25x",
                True)  # fmt: skip
    # IG: no targets in the issue, figures for the note only (status INFO, never a gate)
    ss = _find(rows, "ig-stream", "tlcp-decode", "spinstream-session")
    if ss:
        add("ig TLCP U lines/s, session (events out)", 1e9 / ss["ns"], None, "info", False)
    sc = _find(rows, "ig-stream", "tlcp-decode", "spinstream-codec")
    if sc:
        add("ig TLCP U lines/s, codec", 1e9 / sc["ns"], None, "info", False)
        if sc["ratio"] is not None:
            add("ig TLCP codec: x vs lightstreamer 1.0.3", sc["ratio"], None, "info", False)
    tc = _find(rows, "ig-stream", "tick-to-candle", "spinstream")
    if tc:
        add("ig tick line -> cache + 2 scales: us/tick", tc["ns"] / 1e3, None, "info", False)
    cr = _find(rows, "ig-stream", "candles-read", "spinstream-ctx")
    if cr:
        add("ig get_streaming_candles 5s: us/call", cr["ns"] / 1e3, None, "info", False)
    tr = _find(rows, "ig-stream", "ticks-read", "spinstream-ctx")
    if tr:
        add("ig get_streaming_ticks (1000): us/call", tr["ns"] / 1e3, None, "info", False)
    return out


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    bs = getattr(config, "_benchmarksession", None)
    if bs is None or not bs.benchmarks:
        return
    rows = _rows(bs.benchmarks)
    if not rows:
        return
    tr = terminalreporter
    tr.section("spinstream: per-unit cost (median) and ratio vs the group baseline")
    tr.write_line(f"machine: {platform.machine()} {os.cpu_count()} cpus, "
                  f"Python {platform.python_version()}")
    tr.write_line(
        f"{'group':<15} {'set':<17} {'contender':<24} {'unit':<6} {'units':>9} "
        f"{'ns/unit':>10} {'min':>10}  {'x vs base':>9}"
    )
    last = None
    for r in rows:
        if last is not None and (r["group"], r["set"]) != last:
            tr.write_line("")
        last = (r["group"], r["set"])
        base = _baseline(r["group"], r["set"]) or ""
        tr.write_line(
            f"{r['group']:<15} {r['set']:<17} {r['contender']:<24} {r['unit']:<6} "
            f"{r['units']:>9} {r['ns']:>10.1f} {r['ns_min']:>10.1f}  "
            f"{_fmt(r['ratio'], '>8.2f')}x"
            + ("  (baseline)" if r["contender"] == base else "")
            + ("  (reference, not a contender)" if r["reference"] else "")
        )
    targets = _targets(rows)
    if targets:
        tr.write_line("")
        tr.write_line("targets (gate = ratio checked with SPINSTREAM_BENCH_STRICT=1):")
        for t in targets:
            status = "INFO" if t["ok"] is None else "MET" if t["ok"] else "MISSED"
            tr.write_line(
                f"  {status:<7} {t['what']:<48} {_fmt(t['value'], '>8.2f')}  target {t['target']}"
                + ("  [gate]" if t["gate"] else "")
            )
    if _SKIPPED:
        tr.write_line("")
        for mod, why in sorted(_SKIPPED.items()):
            tr.write_line(f"  skipped contender {mod}: {why}")


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict) -> None:
    bs = getattr(config, "_benchmarksession", None)
    if bs is None:
        return
    rows = _rows(bs.benchmarks)
    output_json["spinstream"] = {"rows": rows, "targets": _targets(rows)}


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Any:
    yield
    if os.environ.get("SPINSTREAM_BENCH_STRICT", "") in ("", "0"):
        return
    bs = getattr(session.config, "_benchmarksession", None)
    if bs is None:
        return
    missed = [t for t in _targets(_rows(bs.benchmarks)) if t["gate"] and not t["ok"]]
    if missed:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

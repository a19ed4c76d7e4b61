"""What the page, `/api/...` and `spinstream status` show: venues and connections (from
`Workspace.status()`, plus messages/s, how long a connection has been down and an item stale,
REST budget per bucket), candles and ticks per subscribed instrument, and health.

`Charts.sample` runs on the workspace runtime's event loop (the thread that writes the cache),
so its reads of subscriptions, tickers and REST buckets never race the writers. Bars: IG's own
streamed CHART bars (1 s) for IG epics; for the other venues the candle core
(`CandleAggregator`) builds them from the ticker changes seen (sampled every 100 ms).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spinstream._core import CandleAggregator

if TYPE_CHECKING:
    from spinstream.models import Ticker
    from spinstream.runtime import AccountRuntime, Runtime
    from spinstream.workspace import Workspace

__all__ = ["Charts", "Monitor", "instrument_key"]

log = logging.getLogger(__name__)

SCALE = "1s"  # bar length of the charts
PX = 10**8  # ticker prices to the aggregator's ints
BARS = 240
TICKS = 300
SAMPLE_S = 0.1
TICKER_KINDS = ("ticker",)


def instrument_key(alias: str, market: str, symbol: str) -> str:
    return f"{alias}/{market}/{symbol}"


@dataclass
class _Series:
    """Bars and ticks of one instrument (written on the runtime loop, read as copies)."""

    alias: str
    venue: str
    market: str
    symbol: str
    agg: CandleAggregator = field(default_factory=lambda: CandleAggregator(SCALE))
    bars: deque[list[float]] = field(default_factory=lambda: deque(maxlen=BARS))
    open_bar: list[float] | None = None
    ticks: deque[list[float | None]] = field(default_factory=lambda: deque(maxlen=TICKS))
    last_seen: int = -1
    book: bool = False
    chart: list[list[float]] | None = None  # IG's streamed bars, when they serve
    source: str = "ticks"


class Charts:
    """Per subscribed instrument: 1 s candles and the recent ticks; books read on demand."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.series: dict[str, _Series] = {}
        self.buckets: dict[str, dict[str, dict[str, Any]]] = {}  # alias -> bucket -> view
        self._task: concurrent.futures.Future[None] | None = None
        self._ig_wanted: set[str] = set()

    def start(self) -> None:
        self._task = asyncio.run_coroutine_threadsafe(self._loop(), self.rt.loop)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _loop(self) -> None:
        while True:
            try:
                self.sample(time.time_ns())
            except Exception:  # noqa: BLE001 - a chart never stops the runtime
                log.exception("serve: chart sample failed")
            await asyncio.sleep(SAMPLE_S)

    def sample(self, now_ns: int) -> None:
        """Feed every subscribed ticker's change into its bars; read the REST buckets (on the
        runtime loop: the only thread that writes them)."""
        store = self.rt.store
        for acct in self.rt.accounts():
            self._buckets(acct)
            for (_, market), conn in list(acct.connections.items()):
                try:
                    subs = conn.proto.subscriptions()
                except Exception:  # noqa: BLE001 - a protocol mid-reset
                    continue
                for kind, sym in list(subs):
                    if not sym:
                        continue
                    key = instrument_key(acct.alias, market, sym)
                    s = self.series.get(key)
                    if kind == "book":
                        if s is None:
                            s = self.series[key] = _Series(acct.alias, acct.venue, market, sym)
                        s.book = True
                    if kind not in TICKER_KINDS:
                        continue
                    if s is None:
                        s = self.series[key] = _Series(acct.alias, acct.venue, market, sym)
                    if acct.venue == "ig":
                        self._ig(acct, market, s)
                    e = store.tickers_of(acct.alias, market).get(sym)
                    if e is None or e.last_update == s.last_seen:
                        continue
                    s.last_seen = e.last_update
                    t: Ticker = e.value  # type: ignore[assignment]
                    px = t.last if t.last is not None else t.mid
                    s.ticks.append([now_ns // 1_000_000, t.bid, t.ask, t.last])
                    if px is None:
                        continue
                    if s.agg.add(now_ns, round(px * PX), 0):
                        for b in s.agg.drain():
                            s.bars.append(_bar(b))
                    ob = s.agg.open_bar()
                    s.open_bar = None if ob is None else _bar(ob)

    def _ig(self, acct: AccountRuntime, market: str, s: _Series) -> None:
        """IG: stream CHART:{epic}:SECOND once, and take its bars while they serve."""
        if s.symbol not in self._ig_wanted:
            self._ig_wanted.add(s.symbol)
            try:
                acct.subscribe(market, "candles:SECOND", s.symbol)
            except Exception as exc:  # noqa: BLE001 - bars from ticks then
                log.info("serve: no IG chart for %s: %r", s.symbol, exc)
        got = self.rt.store.ig.candles(acct.alias, s.symbol, "SECOND")
        if got is not None and got[1] == "chart":
            rows = got[0][-BARS:]
            s.chart = [
                [int(r["start"]) // 1_000_000, float(r["open"]), float(r["high"]),
                 float(r["low"]), float(r["close"])]
                for r in rows
            ]  # fmt: skip
            s.source = "IG chart (streamed)"
        else:
            s.chart, s.source = None, "ticks"

    def _buckets(self, acct: AccountRuntime) -> None:
        now = acct.http.clock.mono_ns()
        out: dict[str, dict[str, Any]] = {}
        for name, b in acct.http.limiter.buckets.items():
            out[name] = {
                "limit": b.limit,
                "per_s": b.per_s,
                "scope": b.scope,
                "capacity": b.capacity,
                "available": round(b.available(now), 2),
            }
        self.buckets[acct.alias] = out

    # ------------------------------------------------------------------ reading (any thread)

    def instruments(self) -> list[dict[str, Any]]:
        return [
            {"key": k, "account": s.alias, "venue": s.venue, "market": s.market,
             "symbol": s.symbol, "book": s.book}
            for k, s in sorted(self.series.items())
        ]  # fmt: skip

    def view(self, key: str, depth: int = 10) -> dict[str, Any] | None:
        """Candles (ms start, o, h, l, c), recent ticks (ms, bid, ask, last) and the book."""
        s = self.series.get(key)
        if s is None:
            return None
        if s.chart is not None:
            bars, source = list(s.chart), s.source
        else:
            bars = list(s.bars) + ([s.open_bar] if s.open_bar else [])
            source = "built from ticks (candle core, 1 s)"
        book = None
        if s.book:
            ob = self.rt.store.orderbook(s.alias, s.market, s.symbol, depth)
            if ob is not None:
                book = {"bids": ob.bids.tolist(), "asks": ob.asks.tolist()}
        return {
            "key": key, "account": s.alias, "market": s.market, "symbol": s.symbol,
            "source": source, "bars": bars[-BARS:], "ticks": list(s.ticks)[-60:], "book": book,
        }  # fmt: skip


def _bar(b: Any) -> list[float]:
    start, o, h, lo, c = (int(b[i]) for i in range(5))
    return [start // 1_000_000, o / PX, h / PX, lo / PX, c / PX]


class Monitor:
    """The status snapshot: accounts and connections with rates and down/stale durations, the
    workers, and health (what `spinstream status` turns into its exit code)."""

    def __init__(self, workspace: Workspace, control: Any, stale_budget_s: float = 5.0) -> None:
        self.workspace = workspace
        self.control = control
        self.stale_budget_s = stale_budget_s
        self.charts: Charts | None = None
        self._prev: dict[str, tuple[float, int]] = {}  # conn name -> (mono, messages)
        self._rate: dict[str, float] = {}
        self._down_since: dict[str, float] = {}
        self._stale_since: dict[tuple[Any, ...], float] = {}
        self.snapshot: dict[str, Any] = {}

    def refresh(self) -> dict[str, Any]:
        """Build a new snapshot (call about twice a second: rates and durations come from it)."""
        now = time.monotonic()
        st = self.workspace.status()
        accounts: dict[str, Any] = {}
        problems: list[str] = []
        seen_conn: set[str] = set()
        seen_items: set[tuple[Any, ...]] = set()
        buckets = self.charts.buckets if self.charts else {}
        for alias, cfg in self.workspace.accounts.items():
            a = st["accounts"].get(alias)
            view: dict[str, Any] = {
                "venue": cfg.venue, "env": cfg.env, "server_only": bool(cfg.spec().server_only),
                "declared": [f"{m}:{s}" for m, s in cfg.declared()],
                "started": a is not None, "connections": [], "stale": [], "calls": {},
                "saved": 0, "rest": {}, "buckets": buckets.get(alias, {}),
            }  # fmt: skip
            accounts[alias] = view
            if a is None:
                continue
            calls = a.get("calls", {})
            view["calls"] = calls
            view["saved"] = sum(v for k, v in calls.items() if k.startswith("hit:"))
            view["rest"] = a.get("rest", {})
            for c in a["connections"]:
                name = c["name"]
                seen_conn.add(name)
                prev = self._prev.get(name)
                if prev is None or now - prev[0] >= 0.9:
                    if prev is not None:
                        self._rate[name] = (c["messages"] - prev[1]) / (now - prev[0])
                    self._prev[name] = (now, c["messages"])
                up = c["connected"] and c["live"]
                since = None if up else self._down_since.setdefault(name, now)
                if up:
                    self._down_since.pop(name, None)
                down_for = None if since is None else round(now - since, 1)
                conn = dict(c, msgs_per_s=round(self._rate.get(name, 0.0), 1), down_for_s=down_for)
                view["connections"].append(conn)
                if not up:
                    problems.append(
                        f"{alias}: connection {name} down ({c['reason'] or 'not connected'}"
                        f", {down_for:.0f} s)" + (f": {c['problem']}" if c.get("problem") else "")
                    )
            for item in a["stale"]:
                key = (alias, item["market"], item["kind"], item["symbol"])
                seen_items.add(key)
                since = self._stale_since.setdefault(key, now)
                stale_for = round(now - since, 1)
                view["stale"].append(dict(item, stale_for_s=stale_for))
                if stale_for > self.stale_budget_s:
                    what = f"{item['market']} {item['kind']}" + (
                        f" {item['symbol']}" if item["symbol"] else ""
                    )
                    problems.append(
                        f"{alias}: {what} stale for {stale_for:.0f} s ({item['reason']})"
                    )
        for k in set(self._down_since) - seen_conn:
            self._down_since.pop(k, None)
        for k2 in set(self._stale_since) - seen_items:
            self._stale_since.pop(k2, None)
        self.snapshot = {
            "time": time.time(),
            "stale_budget_s": self.stale_budget_s,
            "health": {"ok": not problems, "problems": problems},
            "accounts": accounts,
            "workers": self.control.views(),
            "instruments": self.charts.instruments() if self.charts else [],
        }
        return self.snapshot

    def metrics(self) -> str:
        """Prometheus text exposition of the last snapshot."""
        snap = self.snapshot or self.refresh()
        lines = [
            "# HELP spinstream_up 1 when every connection is up and nothing is stale past budget",
            "# TYPE spinstream_up gauge",
            f"spinstream_up {int(snap['health']['ok'])}",
        ]
        conn_metrics = (
            ("connected", "connected", "gauge"), ("live", "live", "gauge"),
            ("messages_total", "messages", "counter"), ("messages_per_s", "msgs_per_s", "gauge"),
            ("reconnects_total", "reconnects", "counter"), ("lag_seconds", "lag_s", "gauge"),
            ("last_frame_age_seconds", "last_frame_age_s", "gauge"),
            ("subscriptions", "subscriptions", "gauge"),
        )  # fmt: skip
        for metric, field_, kind in conn_metrics:
            lines.append(f"# TYPE spinstream_connection_{metric} {kind}")
            for alias, a in snap["accounts"].items():
                for c in a["connections"]:
                    v = c.get(field_)
                    if v is None:
                        continue
                    lbl = f'account="{_esc(alias)}",venue="{a["venue"]}",conn="{_esc(c["name"])}"'
                    lines.append(f"spinstream_connection_{metric}{{{lbl}}} {float(v):g}")
        accts = snap["accounts"].items()
        lines.append("# TYPE spinstream_stale_items gauge")
        lines += [f"spinstream_stale_items{{{_acct(al, a)}}} {len(a['stale'])}" for al, a in accts]
        lines.append("# TYPE spinstream_rest_calls_saved_total counter")
        lines += [
            f"spinstream_rest_calls_saved_total{{{_acct(al, a)}}} {a['saved']}" for al, a in accts
        ]
        lines.append("# TYPE spinstream_rest_bucket_available gauge")
        for al, a in accts:
            for b, bv in a["buckets"].items():
                lines.append(
                    f'spinstream_rest_bucket_available{{{_acct(al, a)},bucket="{_esc(b)}"}} '
                    f"{bv['available']:g}"
                )
        workers = snap["workers"]
        for metric, kind, get in (
            ("worker_ticks_total", "counter", lambda w: w["ticks"]),
            ("worker_errors_total", "counter", lambda w: w["errors"]),
            ("worker_running", "gauge", lambda w: int(w["state"] in ("running", "warming"))),
        ):
            lines.append(f"# TYPE spinstream_{metric} {kind}")
            for w in workers:
                lbl = f'worker="{_esc(w["name"])}",mode="{w["mode"]}"'
                lines.append(f"spinstream_{metric}{{{lbl}}} {get(w)}")
        return "\n".join(lines) + "\n"


def _acct(alias: str, a: dict[str, Any]) -> str:
    return f'account="{_esc(alias)}",venue="{a["venue"]}"'


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

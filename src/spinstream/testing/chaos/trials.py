"""Trials: one fault on one venue, measured against the simulator's truth.

A trial starts from a warm workspace (every read answered from the stream), injects its fault
while a `Reader` polls `ctx`, then watches until the reads are fresh and true again (or a
deadline). See docs/chaos.md for what each fault does and the window it is allowed.
"""

from __future__ import annotations

import io
import logging
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from spinstream.credentials import Credentials
from spinstream.ctx import Context
from spinstream.errors import NotAvailable
from spinstream.testing.chaos import faults as F
from spinstream.testing.chaos.reader import Read, Reader
from spinstream.testing.chaos.truth import Truth
from spinstream.testing.host import SimHost
from spinstream.workspace import AccountConfig, Workspace

__all__ = ["TARGETS", "FAULTS", "Target", "Fault", "TrialResult", "Lab", "run_trial"]

log = logging.getLogger(__name__)

TIGHT_S = 0.5  # the window of faults that must be noticed at once (gap, lost frame, drop)
DEFAULT_SILENCE_S = 8.0  # a connection's silence window when its protocol does not say one
MAX_STALL_WINDOW_S = 10.0  # never more than this on market data (issue 9)
LAG_THRESHOLD_S = 2.0  # the default lag threshold (issue 9)
LAG_WINDOW_S = LAG_THRESHOLD_S + 2.0


# ------------------------------------------------------------------------------ targets


@dataclass(frozen=True)
class Target:
    """One venue market as a strategy sees it: its sim, ctx market, symbol and engine market."""

    name: str
    sim: str
    market: str
    engine_market: str
    symbol: str


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("binance-spot", "binance", "spot", "spot", "BTCUSDT"),
        Target("binance-usdm", "binance", "usdm", "linear", "BTCUSDT"),
        Target("bybit-spot", "bybit", "spot", "spot", "BTCUSDT"),
        Target("bybit-linear", "bybit", "linear", "linear", "BTCUSDT"),
        Target("ig", "ig", "otc", "cfd", "CS.D.EURUSD.CFD.IP"),
        Target("okx-spot", "okx", "spot", "spot", "BTC-USDT"),
        Target("okx-swap", "okx", "swap", "swap", "BTC-USDT-SWAP"),
    )
}


# ------------------------------------------------------------------------------ faults


@dataclass
class Lab:
    """What a fault acts on during one trial."""

    host: SimHost
    target: Target
    ws: Workspace
    ex: Any
    t_end: int = 0  # monotonic ns when the fault ended (set by the fault)
    info: dict[str, Any] = field(default_factory=dict)

    def run(self, fn: Callable[[], Any], timeout_s: float = 30.0) -> Any:
        return self.host.run(fn, timeout_s)

    def connections(self) -> list[Any]:
        return [c for a in self.ws.runtime.accounts() for c in a.connections.values()]

    def silence_window_s(self) -> float:
        """The longest silence window the target's connections declare (default 8 s)."""
        out = []
        for c in self.connections():
            live = getattr(c, "liveness", None)  # the transport's rule (issue 9), if it has one
            for v in (getattr(live, "silent_s", None), getattr(c.proto, "SILENCE_S", None)):
                v = v() if callable(v) else v
                if isinstance(v, (int, float)) and v > 0:
                    out.append(float(v))
                    break
        return max(out) if out else DEFAULT_SILENCE_S


def stall_window(lab: Lab) -> float:
    return min(lab.silence_window_s() + 2.0, MAX_STALL_WINDOW_S)


@dataclass
class Fault:
    """A fault: how to inject it, the window it is allowed, and what the trial must see."""

    name: str
    inject: Callable[[Lab], None]
    window: Callable[[Lab], float] = lambda lab: TIGHT_S  # noqa: E731
    detect: bool = False  # must the fault be detected (a read not fresh ws)?
    detect_goal: Callable[[Lab], float] = lambda lab: 1.0  # noqa: E731
    recover_goal_s: float = 10.0
    private: bool = False
    accounts: int = 1
    applies: Callable[[Target], str | None] = lambda t: None  # noqa: E731 - reason if n/a
    observe_s: float = 0.5  # how long to watch after the fault ends (at least)
    short: bool = True  # part of the short (CI) form
    detect_if_age_over_s: float | None = None  # detection required only past this age (lag)
    # detection measured from the first fresh read older than this (a lag builds up over the
    # fault: what counts is how soon stale is said once data is older than the threshold)
    detect_from_age_s: float | None = None


def _now() -> int:
    return time.monotonic_ns()


def _drop(lab: Lab) -> None:
    lab.run(lambda: lab.ex.faults.drop())
    lab.t_end = _now()


def _restart(lab: Lab) -> None:
    lab.run(lambda: lab.ex.faults.restart(0.5))
    lab.t_end = _now()


def _stall(seconds: float | None) -> Callable[[Lab], None]:
    def inject(lab: Lab) -> None:
        s = seconds if seconds is not None else stall_window(lab) + 1.0
        lab.info["stall_s"] = s
        lab.run(lambda: lab.ex.faults.stall(s))
        time.sleep(s)
        lab.t_end = _now()

    return inject


def _gap(lab: Lab) -> None:
    lab.run(lambda: lab.ex.faults.gap())
    time.sleep(0.3)  # armed: consumed by the next book update
    lab.t_end = _now()


def _checksum_failures(lab: Lab) -> int:
    n = 0
    for c in lab.connections():
        counters = getattr(c.proto, "counters", None)
        if counters is not None:
            n += (counters() if callable(counters) else counters).get("checksum_failed", 0)
    return n


def _bad_checksum(lab: Lab) -> None:
    """The next `books` update of every stream carries a wrong checksum (OKX)."""
    before = _checksum_failures(lab)
    lab.run(lambda: lab.ex.faults.bad_checksum())
    time.sleep(0.3)  # armed: consumed by the next books update
    lab.info["checksum_failed"] = _checksum_failures(lab) - before
    lab.t_end = _now()


def _lost(lab: Lab) -> None:
    lab.info["armed"] = lab.run(lambda: lab.ex.faults.lose(F.BOOK_FRAME[lab.target.name]))
    time.sleep(0.3)
    lab.info["lost"] = lab.run(lambda: lab.ex.faults.lost)
    lab.t_end = _now()


def _noise(lab: Lab) -> None:
    lab.run(lambda: lab.ex.faults.noise(10))
    try:
        time.sleep(1.0)
    finally:
        lab.run(lambda: lab.ex.faults.noise(0))
    lab.info["noise_frames"] = lab.run(lambda: lab.ex.faults.noise_sent)
    lab.t_end = _now()


def _nonfinite(lab: Lab) -> None:
    t = lab.target
    lab.info["armed"] = lab.run(lambda: F.nonfinite_ticker(lab.ex, t.name, t.symbol))
    time.sleep(0.5)
    lab.info["mutated"] = lab.run(lambda: lab.ex.faults.mutated)
    lab.t_end = _now()


def _nonfinite_private(lab: Lab) -> None:
    lab.info["armed"] = lab.run(lambda: F.nonfinite_balance(lab.ex, lab.target.name))
    time.sleep(0.5)
    lab.info["mutated"] = lab.run(lambda: lab.ex.faults.mutated)
    lab.t_end = _now()


def _flap(lab: Lab) -> None:
    for _ in range(10):
        lab.run(lambda: lab.ex.faults.drop())
        time.sleep(0.2)
    lab.t_end = _now()


def _slow(lab: Lab) -> None:
    """Block the runtime's loop 4-12 ms per frame handed to the cache, with the sim ticking
    every 5 ms (several frames per tick), for 4 s: the consumer falls behind the venue."""
    conns = lab.connections()
    rng = random.Random(9)
    originals = [(c, c.sink) for c in conns]

    def slow(sink: Callable[[Any], None]) -> Callable[[Any], None]:
        def wrapped(events: Any) -> None:
            time.sleep(rng.uniform(0.004, 0.012))
            sink(events)

        return wrapped

    old_tick = lab.ex.tick_interval
    lab.run(lambda: setattr(lab.ex, "tick_interval", 0.005))
    for c, s in originals:
        c.sink = slow(s)
    try:
        time.sleep(4.0)
    finally:
        for c, s in originals:
            c.sink = s
        lab.run(lambda: setattr(lab.ex, "tick_interval", old_tick))
    lab.t_end = _now()


def _rate_limited(lab: Lab) -> None:
    """The venue's 429 (IG: 403 exceeded-allowance) on the next 3 REST calls, then a drop so the
    resync needs REST."""
    lab.run(lambda: lab.ex.faults.rate_limit(3))
    lab.run(lambda: lab.ex.faults.drop())
    lab.t_end = _now()


def _two_accounts(lab: Lab) -> None:
    """Two accounts of one venue on one IP, both resyncing after 3 drops while polled."""
    for _ in range(3):
        lab.run(lambda: lab.ex.faults.drop())
        time.sleep(0.5)
    lab.t_end = _now()


def _auth(n: int) -> Callable[[Lab], None]:
    def inject(lab: Lab) -> None:
        lab.run(lambda: lab.ex.faults.reject_auth(n))
        lab.run(lambda: lab.ex.faults.drop())
        if n > 1:
            time.sleep(2.0)  # permanent: watch it fail for a while, then let it pass again
            lab.run(lambda: lab.ex.faults.clear())
        lab.t_end = _now()

    return inject


def _token_expiry(lab: Lab) -> None:
    if lab.target.sim == "ig":
        lab.info["expired"] = lab.run(lambda: lab.ex.expire_tokens())
        lab.run(lambda: lab.ex.faults.drop())  # the stream must log in again with new tokens
    else:
        lab.info["expired"] = lab.run(lambda: lab.ex.expire_listen_key())
    lab.t_end = _now()


def _only(*names: str, why: str) -> Callable[[Target], str | None]:
    return lambda t: None if t.name in names else why


def _no_checksum(t: Target) -> str | None:
    return None if t.sim == "okx" else "n/a: no book checksum on this venue (OKX has one)"


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("drop", _drop, detect=True),
        Fault("restart", _restart, detect=True, observe_s=1.5),
        Fault("stall-3s", _stall(3.0), window=stall_window),
        Fault(
            "stall-past-window",
            _stall(None),
            window=stall_window,
            detect=True,
            detect_goal=stall_window,
        ),  # fmt: skip
        Fault(
            "stall-15s",
            _stall(15.0),
            window=stall_window,
            detect=True,
            detect_goal=stall_window,
            short=False,
        ),  # fmt: skip
        Fault(
            "stall-60s",
            _stall(60.0),
            window=stall_window,
            detect=True,
            detect_goal=stall_window,
            short=False,
        ),  # fmt: skip
        Fault(
            "gap",
            _gap,
            detect=True,
            applies=lambda t: "n/a: TLCP has no book sequence" if t.sim == "ig" else None,
        ),
        Fault("bad-checksum", _bad_checksum, detect=True, applies=_no_checksum),
        Fault("lost-frame", _lost),
        Fault("noise-1in10", _noise),
        Fault("nonfinite", _nonfinite),
        Fault(
            "nonfinite-balance",
            _nonfinite_private,
            private=True,
            applies=lambda t: (
                "n/a: IG account values come as TLCP fields (not mutated yet)"
                if t.sim == "ig"
                else None
            ),
        ),  # fmt: skip
        Fault("flap", _flap, detect=True, observe_s=1.5),
        Fault(
            "slow-consumer",
            _slow,
            window=lambda lab: LAG_WINDOW_S,
            detect=True,
            detect_goal=lambda lab: LAG_WINDOW_S - LAG_THRESHOLD_S,
            detect_if_age_over_s=LAG_THRESHOLD_S + 0.5,
            detect_from_age_s=LAG_THRESHOLD_S,
        ),
        # fmt: skip
        Fault("rate-limited", _rate_limited, detect=True, observe_s=1.5),
        Fault(
            "two-accounts",
            _two_accounts,
            accounts=2,
            observe_s=1.0,
            applies=lambda t: "n/a: one IG login per API key here" if t.sim == "ig" else None,
        ),
        Fault(
            "auth-transient",
            _auth(1),
            private=True,
            observe_s=1.5,
        ),  # fmt: skip
        Fault(
            "auth-permanent",
            _auth(10**6),
            private=True,
            observe_s=2.0,
        ),  # fmt: skip
        Fault(
            "token-expiry",
            _token_expiry,
            private=True,
            observe_s=1.5,
            applies=_only(
                "binance-usdm",
                "ig",
                why="n/a: no expiring token on this venue (signed per connection)",
            ),
        ),  # fmt: skip
    )
}


# ------------------------------------------------------------------------------ results


@dataclass
class TrialResult:
    target: str
    fault: str
    skipped: str | None = None  # why the trial was not run (n/a), or a setup failure
    window_s: float = 0.0
    detect_s: float | None = None  # fault start -> first read not fresh ws
    detect_goal_s: float | None = None
    recover_s: float | None = None  # fault end -> reads fresh and true again (None: never)
    reads: int = 0
    ws_reads: int = 0
    violations: int = 0  # ws reads older than the window (or never true)
    worst_age_s: float = 0.0  # oldest content served as fresh ws (inf: never true)
    never_true: int = 0  # ws reads whose content was never true (NaN, ghosts)
    rest_calls: int = 0  # REST calls the sim answered during fault + observation
    venue_429: int = 0  # rate-limit answers the sim gave (injected ones excluded)
    ghosts: int | None = None  # levels in our book the truth's book does not have, after resync
    secrets_leaked: list[str] = field(default_factory=list)  # which secret kinds reached logs
    errors: int = 0
    expect_detect: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.skipped is None and not self.problems


# ------------------------------------------------------------------------------ running


class _Capture(logging.Handler):
    """Every log record at DEBUG, formatted with its arguments and traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.buf = io.StringIO()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.buf.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - a bad record must not stop the trial
            pass


def _workspace(host: SimHost, t: Target, n_accounts: int) -> tuple[Workspace, list[str]]:
    ex = host[t.sim]
    c = ex.credentials
    aliases = [t.sim] if n_accounts == 1 else [f"{t.sim}{i}" for i in range(1, n_accounts + 1)]
    accts = []
    for a in aliases:
        if t.sim == "ig":
            accts.append(AccountConfig(
                alias=a, venue="ig", env="demo", identifier=c["identifier"],
                credentials=Credentials.of(c["api_key"], c["password"]), urls=ex.urls,
                rest_wait_s=0.5,
            ))  # fmt: skip
        elif t.sim == "okx":  # OKX keys carry a passphrase
            accts.append(AccountConfig(
                alias=a, venue="okx",
                credentials=Credentials.of(c["api_key"], c["api_secret"], c["passphrase"]),
                urls=ex.urls, rest_wait_s=0.5,
            ))  # fmt: skip
        else:
            accts.append(AccountConfig(
                alias=a, venue=t.sim, credentials=Credentials.of(c["api_key"], c["api_secret"]),
                urls=ex.urls, rest_wait_s=0.5,
            ))  # fmt: skip
    return Workspace(accts), aliases


def _reads(ctx: Context, alias: str, t: Target, private: bool) -> dict[str, Callable[[], Any]]:
    c = getattr(ctx, alias)
    if t.sim == "ig":
        out: dict[str, Callable[[], Any]] = {"market": lambda: c.get_streaming_market(t.symbol)}
        if private:
            out["balance"] = c.get_balance
            out["positions"] = c.get_positions
        return out
    out = {
        "ticker": lambda: c.get_ticker(t.symbol, market=t.market),
        "book": lambda: c.get_orderbook(t.symbol, 5, market=t.market),
    }
    if private:
        out["balance"] = lambda: c.get_balance(market=t.market)
        out["orders"] = lambda: c.get_orders(market=t.market)
        if t.market != "spot":
            out["positions"] = lambda: c.get_positions(market=t.market)
    return out


def _warm(reader: Reader, reads: dict[str, Callable[[], Any]], deadline_s: float = 30.0) -> bool:
    """Read until every read is fresh ws and true (age 0) twice in a row."""
    end = time.monotonic() + deadline_s
    good = 0
    while time.monotonic() < end:
        rs = [reader.read_once(w, fn) for w, fn in reads.items()]
        if all(r.status == "ok" and r.age == 0.0 for r in rs):
            good += 1
            if good >= 2:
                return True
        else:
            good = 0
        time.sleep(0.05)
    return False


def _secrets(host: SimHost, t: Target) -> dict[str, str]:
    ex = host[t.sim]
    c = ex.credentials
    out = {"api_key": c["api_key"]}
    if "api_secret" in c:
        out["api_secret"] = c["api_secret"]
    if "password" in c:
        out["password"] = c["password"]
    if "passphrase" in c:
        out["passphrase"] = c["passphrase"]
    if t.sim == "ig":
        for i, s in enumerate(host.run(lambda: list(ex.sessions))):
            for k in ("cst", "xst", "access_token", "refresh_token"):
                v = getattr(s, k, None)
                if v:
                    out[f"{k}#{i}"] = v
    return out


def _ghosts(lab: Lab, truth: Truth, alias: str) -> int | None:
    """Levels of our (deep) ws book that the engine's book held neither just before nor just
    after our read (a level the engine removed while we read is not a ghost): min over 5 tries.
    """
    if lab.target.sim == "ig":
        return None
    c = getattr(Context(lab.ws), alias)
    best: int | None = None
    for _ in range(5):
        before = lab.run(truth.full_book)
        try:
            ob = c.get_orderbook(lab.target.symbol, 50, market=lab.target.market)
        except Exception:  # noqa: BLE001
            continue
        if ob.source != "ws":
            time.sleep(0.1)
            continue
        after = lab.run(truth.full_book)
        bids, asks = before[0] | after[0], before[1] | after[1]
        n = sum(truth._px(p) not in bids for p, _ in ob.bids.tolist())
        n += sum(truth._px(p) not in asks for p, _ in ob.asks.tolist())
        best = n if best is None else min(best, n)
        if best == 0:
            break
        time.sleep(0.05)
    return best


def _fresh_budgets(ex: Any) -> None:
    """Start the venue's REST budgets afresh (sim loop): each trial is a new workspace, a new
    process as far as the venue knows, whose budget must not carry the last trial's weight."""
    from spinstream.testing.sims._base import WeightWindow

    for name in ("spot_weight", "futures_weight", "_app_window"):
        w = getattr(ex, name, None)
        if isinstance(w, WeightWindow):
            setattr(ex, name, WeightWindow(w.limit, w.window_s))
    for name in ("_windows", "_acct_windows", "_trade_windows", "_buckets"):
        d = getattr(ex, name, None)
        if isinstance(d, dict):
            d.clear()


def run_trial(
    host: SimHost, target: Target, fault: Fault, interval_s: float = 0.003
) -> TrialResult:
    """Run FAULT on TARGET (its sim in HOST) and measure it."""
    res = TrialResult(target.name, fault.name, expect_detect=fault.detect)
    why = fault.applies(target)
    if why:
        res.skipped = why
        return res
    ex = host[target.sim]
    cap = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(cap)
    root.setLevel(logging.DEBUG)
    ws, aliases = _workspace(host, target, fault.accounts)
    truth = Truth(ex, target.symbol, target.engine_market)
    readers: list[Reader] = []
    try:
        host.run(truth.attach)
        host.run(lambda: _fresh_budgets(ex))
        ctx = Context(ws)
        for a in aliases:
            reads = _reads(ctx, a, target, fault.private)
            r = Reader(reads, truth, interval_s)
            if not _warm(r, reads):
                res.skipped = "setup: reads never became fresh ws (warm-up 30 s)"
                res.problems.append(res.skipped)
                return res
            readers.append(r)
        lab = Lab(host, target, ws, ex)
        res.window_s = fault.window(lab)
        if fault.detect:
            res.detect_goal_s = fault.detect_goal(lab)
        for r in readers:
            r.start()
        time.sleep(0.2)
        rest0 = host.run(lambda: ex.stats.rest_total)
        rl0 = host.run(lambda: ex.stats.rate_limited)
        marks0 = ws.runtime.store.counts["stale_marks"]
        t0 = _now()
        fault.inject(lab)
        t1 = lab.t_end or _now()
        _observe(readers, t1, fault)
        for r in readers:
            r.stop()
        res.rest_calls = host.run(lambda: ex.stats.rest_total) - rest0
        injected = 3 if fault.name == "rate-limited" else 0
        res.venue_429 = max(0, host.run(lambda: ex.stats.rate_limited) - rl0 - injected)
        res.ghosts = _ghosts(lab, truth, aliases[0])
        res.info.update(lab.info)
        res.info["stale_marks"] = ws.runtime.store.counts["stale_marks"] - marks0
        for c in lab.connections():
            st = c.status() if hasattr(c, "status") else {}
            if st.get("max_lag_s") or st.get("silences") or st.get("lag_marks"):
                res.info.setdefault("links", []).append(
                    {k: st.get(k) for k in ("name", "max_lag_s", "silences", "lag_marks")}
                )
        _analyze(res, [x for r in readers for x in r.reads], t0, t1, fault)
        res.errors = sum(len(r.errors) for r in readers)
        text = cap.buf.getvalue() + "\n".join(e for r in readers for e in r.errors)
        res.secrets_leaked = sorted(
            {k.split("#")[0] for k, v in _secrets(host, target).items() if v and v in text}
        )
        if res.secrets_leaked:
            res.problems.append(f"secrets in logs at DEBUG: {', '.join(res.secrets_leaked)}")
    finally:
        for r in readers:
            r.stop()
        root.removeHandler(cap)
        root.setLevel(old_level)
        try:
            host.run(truth.detach)
            host.run(lambda: ex.faults.clear())
            host.run(lambda: ex.faults.noise(0))
        except Exception:  # noqa: BLE001 - the sim may be down after a failed restart
            log.warning("chaos: resetting the sim after %s failed", fault.name)
        ws.close()
    return res


def _good(r: Read) -> bool:
    return r.status == "ok" and r.age <= TIGHT_S


def _observe(readers: list[Reader], t1: int, fault: Fault) -> None:
    """Watch at least `observe_s` after the fault's end, then until every read has been good
    for 0.5 s (at most 20 s more).

    Every kind of read of every reader must have completed inside that half second: a reader
    blocked in a REST call reads nothing meanwhile, and the few good reads of the other kinds
    before it blocked must not pass for a recovery (the read it is stuck in is often bad).
    """
    time.sleep(fault.observe_s)
    end = time.monotonic() + 20.0
    while time.monotonic() < end:
        now = _now()
        if all(_settled(r, now - 500_000_000) for r in readers):
            return
        time.sleep(0.1)


def _settled(r: Reader, since: int) -> bool:
    """Every read of R since SINCE good, and every kind of read R makes among them."""
    recent = [x for x in r.reads[-400:] if x.t_ns > since]
    return {x.what for x in recent} >= set(r.reads_fns) and all(_good(x) for x in recent)


def _analyze(res: TrialResult, reads: list[Read], t0: int, t1: int, fault: Fault) -> None:
    reads.sort(key=lambda x: x.t_ns)
    res.reads = len(reads)
    ws = [x for x in reads if x.status == "ok"]
    res.ws_reads = len(ws)
    bad = [x for x in ws if x.age > res.window_s]
    res.violations = len(bad)
    res.never_true = sum(math.isinf(x.age) for x in ws)
    res.worst_age_s = max((x.age for x in ws), default=0.0)
    start = t0
    if fault.detect_from_age_s is not None:  # from when the served data got that old
        over = next((x for x in ws if x.t_ns >= t0 and x.age > fault.detect_from_age_s), None)
        if over is not None:
            start = over.t_ns - int(over.age * 1e9) + int(fault.detect_from_age_s * 1e9)
            start = max(start, t0)
            res.info["detect_from"] = f"data older than {fault.detect_from_age_s} s"
    after = [x for x in reads if x.t_ns >= start]
    first_bad = next((x for x in after if x.status != "ok"), None)
    if first_bad is not None:
        res.detect_s = (first_bad.t_ns - start) / 1e9
    # recovery: the first read after which (from the fault's end) every read is good
    post = [x for x in reads if x.t_ns >= t1]
    last_bad = None
    for i, x in enumerate(post):
        if not _good(x):
            last_bad = i
    if post:
        if last_bad is None:
            res.recover_s = 0.0
        elif last_bad + 1 < len(post):
            res.recover_s = (post[last_bad + 1].t_ns - t1) / 1e9
    if res.violations:
        res.problems.append(
            f"{res.violations} violations (worst age {res.worst_age_s:.2f} s > window "
            f"{res.window_s:.1f} s; never true: {res.never_true})"
        )
    if bad:
        res.info["bad_reads"] = [
            (x.what, round((x.t_ns - t0) / 1e9, 3), x.age, x.note) for x in bad[:3]
        ]
    if fault.detect_if_age_over_s is not None and res.worst_age_s <= fault.detect_if_age_over_s:
        res.info["detected"] = f"not required: data never older than {res.worst_age_s:.2f} s"
        if res.detect_s is not None and res.detect_s > (res.detect_goal_s or 0.0):
            # nothing to detect: a non-ok read this long after is not this fault's detection
            res.info["first_other_read_s"] = round(res.detect_s, 3)
            res.detect_s = None
    elif fault.detect:
        goal = res.detect_goal_s or 0.0
        if res.detect_s is None and res.info.get("stale_marks"):
            res.info["detected"] = "stale and resynced between two polls"
        elif res.detect_s is None:
            res.problems.append("not detected")
        elif res.detect_s > goal:
            res.problems.append(f"detected after {res.detect_s:.2f} s > goal {goal:.1f} s")
    perm = fault.name == "auth-permanent"
    if res.recover_s is None and not perm:
        res.problems.append("not recovered")
    elif res.recover_s is not None and res.recover_s > fault.recover_goal_s:
        res.problems.append(f"recovered after {res.recover_s:.1f} s > {fault.recover_goal_s} s")
    if res.venue_429:
        res.problems.append(f"{res.venue_429} x 429 from the venue")
    if res.ghosts:
        res.problems.append(f"{res.ghosts} ghost levels after resync")
    if fault.name == "bad-checksum" and not res.info.get("checksum_failed"):
        res.problems.append("the bad checksum was not counted by the protocol")


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


_ = NotAvailable  # re-exported for callers that classify reads themselves

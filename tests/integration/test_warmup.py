"""Deploy warms the cache: a server-mode worker's first tick reads from the streams.

Per venue over its simulator: the declared symbols' tickers and books and the account's
balance, positions and orders answer `source="ws"` at tick 0; the REST calls made before it are
the instrument check and the streams' own seeds (printed with the warm-up time: run with -s).
A declared unknown symbol fails at start, named as the venue names it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from polling import wait_for
from spinstream.credentials import Credentials
from spinstream.ctx import Context
from spinstream.errors import ConfigError
from spinstream.testing.host import SimHost
from spinstream.worker import Worker
from spinstream.workspace import AccountConfig, Workspace

EPIC = "CS.D.EURUSD.CFD.IP"
# venue -> (declared symbols, (market, symbol) pairs they mean, markets read at tick 0)
CASES: dict[str, tuple[list[str], list[tuple[str, str]], list[str]]] = {
    "binance": (
        ["BTCUSDT", "usdm:ETHUSDT"],
        [("spot", "BTCUSDT"), ("usdm", "ETHUSDT")],
        ["spot", "usdm"],
    ),
    "bybit": (
        ["BTCUSDT", "spot:ETHUSDT"],
        [("linear", "BTCUSDT"), ("spot", "ETHUSDT")],
        ["linear", "spot"],
    ),
    "ig": ([EPIC], [("otc", EPIC)], ["otc"]),
}
UNKNOWN = {"binance": "exchangeInfo", "bybit": "instruments-info", "ig": "IG markets"}


@pytest.fixture(scope="module")
def host() -> Iterator[SimHost]:
    with SimHost("binance", "bybit", "ig", seed=11, tick_interval=0.05) as h:
        yield h


@pytest.fixture
def make(host: SimHost) -> Iterator[Any]:
    """make(venue, **config) -> a Workspace of one account on the venue's simulator."""
    made: list[Workspace] = []

    def build(venue: str, **kw: Any) -> Workspace:
        ex = host[venue]
        c = ex.credentials
        if venue == "ig":
            extra: dict[str, Any] = {"env": "demo", "identifier": c["identifier"]}
            creds = Credentials.of(c["api_key"], c["password"])
        else:
            extra = {}
            creds = Credentials.of(c["api_key"], c["api_secret"])
        ws = Workspace(
            [
                AccountConfig(
                    alias=venue, venue=venue, credentials=creds, urls=ex.urls, **extra, **kw
                )
            ]
        )
        made.append(ws)
        return ws

    yield build
    for ws in made:
        ws.close()


@pytest.fixture(params=sorted(CASES))
def venue(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _tick0(c: Any, venue: str, pairs: list[tuple[str, str]], markets: list[str]) -> dict[str, str]:
    """Every read the issue names, once: what -> source."""
    seen: dict[str, str] = {}
    for m, sym in pairs:
        seen[f"ticker {m} {sym}"] = c.get_ticker(sym, market=m).source
        if venue != "ig":
            seen[f"book {m} {sym}"] = c.get_orderbook(sym, 5, market=m).source
    seen["balance"] = c.get_balance().source
    for m in markets:
        seen[f"balance {m}"] = c.get_balance(market=m).source
        seen[f"orders {m}"] = "ws" if c._store.orders(c._alias, m) is not None else "rest"
        c.get_orders(market=m)
    c.get_positions()  # the derivatives market's (IG: otc)
    return seen


def test_tick0_reads_the_streams(host: SimHost, make: Any, venue: str) -> None:
    declared, pairs, markets = CASES[venue]
    ws = make(venue, symbols=declared) if venue != "ig" else make(venue, epics=declared)
    ex = host[venue]
    before = host.run(lambda: Counter(ex.stats.rest_calls))
    got: list[tuple[dict[str, str], Counter[str], dict[str, int]]] = []
    done = threading.Event()

    def tick(ctx: Context) -> None:
        if got:
            return
        calls = host.run(lambda: Counter(ex.stats.rest_calls)) - before
        c = getattr(ctx, venue)
        seen = _tick0(c, venue, pairs, markets)
        got.append((seen, calls, dict(c._acct.counts)))
        done.set()

    t0 = time.monotonic()
    w = Worker(tick, ws, mode="server", interval=0.5).start()
    try:
        assert done.wait(60), "no tick 0"
    finally:
        w.stop()
    wall = time.monotonic() - t0
    seen, calls, counts = got[0]
    print(f"\n{venue}: warm-up {w.warm_s:.3f} s (start to tick 0: {wall:.3f} s); "
          f"REST before tick 0: {sum(calls.values())}")  # fmt: skip
    for path, n in sorted(calls.items()):
        print(f"  {n:2d} {path}")
    assert all(src == "ws" for src in seen.values()), seen
    assert not [k for k in counts if k.startswith("rest:")], counts  # no REST fallback at all
    assert w.warmup is not None and w.warmup[venue].ok, w.warmup
    # before tick 0: no REST read of a ticker or a book (Binance's /depth is its book's seed)
    assert not [p for p in calls if "ticker" in p or p.endswith("/orderbook")], calls
    assert sum(n for p, n in calls.items() if p.endswith("/time")) <= len(markets)  # per market


def test_unknown_symbol_fails_at_start_with_the_venues_name(make: Any, venue: str) -> None:
    declared, _, _ = CASES[venue]
    bad = "CS.D.NOPE.CFD.IP" if venue == "ig" else "NOPEUSDT"
    key = "epics" if venue == "ig" else "symbols"
    ws = make(venue, **{key: [*declared, bad]})
    w = Worker(lambda ctx: None, ws, mode="server", interval=0.5)
    with pytest.raises(ConfigError) as info:
        w.start()
    msg = str(info.value)
    assert repr(bad) in msg and UNKNOWN[venue] in msg and key in msg, msg
    assert w._thread is None  # never started: no silent REST loop


def test_a_market_the_venue_lacks_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no market 'futures'"):
        AccountConfig(alias="b", venue="bybit", symbols=["futures:BTCUSDT"])
    with pytest.raises(ConfigError, match="list of strings"):
        AccountConfig(alias="b", venue="binance", symbols="BTCUSDT")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="epics are IG's"):
        AccountConfig(alias="b", venue="binance", epics=["BTCUSDT"])
    cfg = AccountConfig(alias="b", venue="binance", symbols=["BTCUSDT", "usdm:BTCUSDT"])
    assert cfg.declared() == (("spot", "BTCUSDT"), ("usdm", "BTCUSDT"))
    ws = Workspace.from_dict(
        {
            "venues": {
                "bybit": {
                    "symbols": ["ETHUSDT", "spot:BTCUSDT"],
                    "book_depth": 50,
                    "warm_timeout_s": 3,
                }
            }
        }  # fmt: skip
    )
    a = ws.accounts["bybit"]
    assert a.declared() == (("linear", "ETHUSDT"), ("spot", "BTCUSDT")) and a.book_depth == 50
    assert a.warm_timeout_s == 3
    with pytest.raises(ConfigError, match="warm_timeout_s"):
        Workspace.from_dict({"venues": {"bybit": {"warm_timeout_s": 0}}})


def test_ctx_subscribe_warms_at_run_time(make: Any, venue: str) -> None:
    if venue == "ig":
        pytest.skip("IG: covered by the worker test (its REST budget is tight)")
    ws = make(venue)
    c = getattr(Context(ws), venue)
    sym = "ETHUSDT"
    report = c.subscribe([sym])
    assert report.ok, report
    assert c.get_ticker(sym).source == "ws" and c.get_orderbook(sym, 3).source == "ws"
    with pytest.raises(ConfigError, match="NOPEUSDT"):
        c.subscribe("NOPEUSDT")


async def test_async_subscribe_warms_at_run_time(make: Any) -> None:
    ws = make("bybit")
    a = ws.aclient("bybit")
    report = await a.subscribe(["spot:BTCUSDT"])
    assert report.ok, report
    assert (await a.get_ticker("BTCUSDT", market="spot")).source == "ws"


def test_browser_mode_warms_nothing(host: SimHost, make: Any) -> None:
    ws = make("binance", symbols=["BTCUSDT"])
    ex = host["binance"]
    opened = host.run(lambda: sum(ex.stats.ws_opened.values()))
    sources: list[str] = []
    w = Worker(lambda ctx: sources.append(ctx.binance.get_ticker("BTCUSDT").source), ws,
               mode="browser", interval=0.01)  # fmt: skip
    w.run(iterations=2)
    assert sources == ["rest", "rest"] and w.warmup == {}
    assert host.run(lambda: sum(ex.stats.ws_opened.values())) == opened


def test_book_depth_is_kept(make: Any) -> None:
    ws = make("bybit", symbols=["BTCUSDT"], book_depth=40)
    w = Worker(lambda ctx: None, ws, interval=0.5)
    w.warm()
    (conn,) = [c for c in ws.runtime.account("bybit").connections.values() if "Public" in c.name]
    assert conn.proto.book_depth == 50  # Bybit's smallest topic depth holding 40 levels
    wait_for(lambda: ws.runtime.store.orderbook("bybit", "linear", "BTCUSDT", 100) is not None)
    assert len(ws.runtime.store.orderbook("bybit", "linear", "BTCUSDT", 100).bids) <= 50


def test_spinstream_run_reports_an_unknown_symbol(
    host: SimHost, tmp_path, monkeypatch, capsys
) -> None:
    from spinstream.runner import run_file

    ex = host["bybit"]
    monkeypatch.setenv("SIM_KEY", ex.credentials["api_key"])
    monkeypatch.setenv("SIM_SECRET", ex.credentials["api_secret"])
    urls = "".join(f'"{real}" = "{local}"\n' for real, local in ex.urls.items())
    cfg = tmp_path / "spinstream.toml"
    cfg.write_text(
        '[venues.bybit]\napi_key_env = "SIM_KEY"\napi_secret_env = "SIM_SECRET"\n'
        'symbols = ["BTCUSDT", "spot:NOPEUSDT"]\n[venues.bybit.urls]\n' + urls
    )
    strat = tmp_path / "s.py"
    strat.write_text("def tick(ctx):\n    pass\n")
    assert run_file(str(strat), str(cfg), seconds=0.2) == 2
    err = capsys.readouterr().err
    assert "'NOPEUSDT'" in err and "instruments-info" in err and "spot" in err, err


def test_what_is_not_fresh_is_logged_with_its_reason(host: SimHost, caplog) -> None:
    """A refused secret: the private items end the wait early as "auth refused", logged, while
    the public ones are warm; the first tick is not held for the whole timeout."""
    import logging

    ex = host["bybit"]
    c = ex.credentials
    ws = Workspace(
        [
            AccountConfig(
                alias="bybit", venue="bybit", urls=ex.urls, symbols=["BTCUSDT"],
                credentials=Credentials.of(c["api_key"], "0" * len(c["api_secret"])),
                warm_timeout_s=20,
            )
        ]
    )  # fmt: skip
    caplog.set_level(logging.WARNING, logger="spinstream.runtime")
    try:
        w = Worker(lambda ctx: None, ws, interval=0.5)
        t0 = time.monotonic()
        report = w.warm()["bybit"]
        assert time.monotonic() - t0 < 15  # not the whole 20 s: refused is final
        kinds = {i.kind for i in report.missing}
        assert kinds == {"account", "positions", "orders"}, report
        assert all(why.startswith("auth refused") for why in report.missing.values()), report
        assert Context(ws).bybit.get_ticker("BTCUSDT").source == "ws"
        assert "not fresh after the warm-up: auth refused" in caplog.text
        assert c["api_secret"] not in caplog.text
    finally:
        ws.close()

"""The official Lightstreamer Python client against the IG simulator.

(a) `lightstreamer-client-lib` 1.0.3 (the TLCP-2.4.0 client IG supports, pinned by
trading-ig) connects the way IG's documentation says: `LightstreamerClient(endpoint,
"DEFAULT")`, forced `WS-STREAMING`, user = account id, password = `CST-..|XST-..`, and
subscribes PRICE (adapter `Pricing`), CHART candles and ticks, ACCOUNT and TRADE items.
(b) A 2.x client (2.2.3, TLCP-2.5.0) is refused the way IG refuses it: server error 65,
"Unsupported protocol version: 2.5.0". 2.x cannot share a venv with 1.0.3 (one package
name), and the suite never reaches the network, so `.ci/run` installs 2.2.3 into a directory
of its own beforehand (`pip install --no-deps --target DIR lightstreamer-client-lib==2.2.3`)
and names it in SPINSTREAM_LS2_PATH; the test runs a small client in a subprocess with that
directory on PYTHONPATH, and skips, saying how to run it, where the variable is unset.

The library is thread-based: its callbacks put events on a queue, the test awaits them
with timeouts from worker threads while the sim serves on the test's event loop. A failure
here is a simulator bug: fix the simulator, never this test.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lightstreamer.client import (
    ClientListener,
    ItemUpdate,
    LightstreamerClient,
    Subscription,
    SubscriptionListener,
)

from spinstream.testing.sims import sim
from spinstream.testing.sims.ig import IgSim

# the library passes ssl=None to aiohttp, which newer aiohttp deprecates: not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:ssl=None is deprecated:DeprecationWarning")

EURUSD = "CS.D.EURUSD.CFD.IP"
FTSE = "IX.D.FTSE.DAILY.IP"
BTC = "CS.D.BITCOIN.CFD.IP"
CANDLE_FIELDS = [
    "BID_OPEN",
    "BID_HIGH",
    "BID_LOW",
    "BID_CLOSE",
    "OFR_OPEN",
    "OFR_HIGH",
    "OFR_LOW",
    "OFR_CLOSE",
    "LTP_CLOSE",
    "UTM",
    "CONS_END",
    "CONS_TICK_COUNT",
    "LTV",
    "TTV",
    "DAY_OPEN_MID",
    "DAY_HIGH",
    "DAY_LOW",
]
TICK_FIELDS = ["BID", "OFR", "LTP", "LTV", "TTV", "UTM", "DAY_NET_CHG_MID", "DAY_PERC_CHG_MID"]
PRICE_FIELDS = ["BIDPRICE1", "ASKPRICE1", "BIDSIZE1", "ASKSIZE1", "TIMESTAMP", "DLG_FLAG"]


@pytest.fixture
async def ex() -> AsyncIterator[IgSim]:
    async with sim("ig", seed=41, tick_interval=0.02) as s:
        assert isinstance(s, IgSim)
        yield s


async def login(ex: IgSim) -> dict[str, str]:
    """A v2 REST login: the account, the Lightstreamer endpoint and the CST/XST pair."""
    c = ex.credentials
    async with aiohttp.ClientSession() as http:
        async with http.post(
            ex.urls["https://demo-api.ig.com"] + "/gateway/deal/session",
            json={"identifier": c["identifier"], "password": c["password"]},
            headers={"X-IG-API-KEY": c["api_key"], "VERSION": "2"},
        ) as r:
            assert r.status == 200
            body = await r.json()
            return {
                "account": body["currentAccountId"],
                "endpoint": body["lightstreamerEndpoint"],
                "password": f"CST-{r.headers['CST']}|XST-{r.headers['X-SECURITY-TOKEN']}",
                "cst": r.headers["CST"],
                "xst": r.headers["X-SECURITY-TOKEN"],
                "api_key": c["api_key"],
            }


async def rest_deal(ex: IgSim, tokens: dict[str, str], body: dict[str, Any]) -> str:
    """POST /positions/otc v2; returns the dealReference."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            ex.urls["https://demo-api.ig.com"] + "/gateway/deal/positions/otc",
            json=body,
            headers={
                "X-IG-API-KEY": tokens["api_key"],
                "VERSION": "2",
                "CST": tokens["cst"],
                "X-SECURITY-TOKEN": tokens["xst"],
            },
        ) as r:
            assert r.status == 200
            ref: str = (await r.json())["dealReference"]
            return ref


class Events:
    """A thread-safe event log the library's listener threads write to.

    `wait(pred)` first looks through what has already arrived (so an early snapshot is not
    missed), `wait(pred, new=True)` only at what arrives from now on. Each hop to a thread
    drains everything queued, so a burst of updates never puts the awaited event behind
    thousands of thread hops; the bound is generous for a loaded 2-core machine (CI runs this
    beside other work): the test waits for the event, not for the clock.
    """

    TIMEOUT_S = 30.0

    def __init__(self) -> None:
        self.q: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.seen: list[tuple[Any, ...]] = []
        self._unread: list[tuple[Any, ...]] = []  # taken from the queue, not yet looked at

    def put(self, *ev: Any) -> None:
        self.q.put(ev)

    def _take(self, block_s: float) -> list[tuple[Any, ...]]:
        """Everything queued now (waiting up to BLOCK_S for the first event)."""
        try:
            got = [self.q.get(True, block_s)]
        except queue.Empty:
            return []
        while True:
            try:
                got.append(self.q.get_nowait())
            except queue.Empty:
                return got

    async def wait(
        self,
        pred: Callable[[tuple[Any, ...]], bool],
        timeout: float | None = None,
        *,
        new: bool = False,
    ) -> tuple[Any, ...]:
        timeout = self.TIMEOUT_S if timeout is None else timeout
        if not new:
            for ev in self.seen:
                if pred(ev):
                    return ev
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching event in {timeout}s; last: {self.seen[-5:]}")
            if self._unread:
                batch, self._unread = self._unread, []
            else:
                batch = await asyncio.to_thread(self._take, min(left, 0.25))
            for i, ev in enumerate(batch):
                if pred(ev):
                    self.seen.extend(batch[: i + 1])
                    self._unread = batch[i + 1 :]  # the next wait looks at these first
                    return ev
            self.seen.extend(batch)


class Status(ClientListener):  # type: ignore[misc]
    def __init__(self, events: Events) -> None:
        self.events = events

    def onStatusChange(self, status: str) -> None:
        self.events.put("status", status)

    def onServerError(self, code: int, message: str) -> None:
        self.events.put("server_error", code, message)


class Listener(SubscriptionListener):  # type: ignore[misc]
    def __init__(self, events: Events, tag: str, fields: list[str]) -> None:
        self.events = events
        self.tag = tag
        self.fields = fields

    def onSubscription(self) -> None:
        self.events.put("subscribed", self.tag)

    def onSubscriptionError(self, code: int, message: str) -> None:
        self.events.put("sub_error", self.tag, code, message)

    def onEndOfSnapshot(self, item_name: str, item_pos: int) -> None:
        self.events.put("eos", self.tag, item_name)

    def onItemUpdate(self, update: ItemUpdate) -> None:
        values = {f: update.getValue(f) for f in self.fields}
        self.events.put(
            "update",
            self.tag,
            update.getItemName(),
            values,
            dict(update.getChangedFields()),
            update.isSnapshot(),
        )


def subscription(
    events: Events,
    tag: str,
    mode: str,
    items: list[str],
    fields: list[str],
    adapter: str | None = None,
) -> Subscription:
    sub = Subscription(mode, items, fields)
    if adapter:
        sub.setDataAdapter(adapter)
    sub.addListener(Listener(events, tag, fields))
    return sub


def make_client(
    endpoint: str, adapter_set: str | None, user: str | None, password: str, events: Events
) -> LightstreamerClient:
    client = LightstreamerClient(endpoint, adapter_set)
    client.connectionOptions.setForcedTransport("WS-STREAMING")
    if user is not None:
        client.connectionDetails.setUser(user)
    client.connectionDetails.setPassword(password)
    client.addListener(Status(events))
    return client


def is_update(
    tag: str, pred: Callable[[dict[str, Any]], bool] = lambda v: True
) -> Callable[[tuple[Any, ...]], bool]:
    return lambda ev: ev[0] == "update" and ev[1] == tag and pred(ev[3])


# -- (a) the official 1.0.3 client ----------------------------------------------------------------


async def test_connects_and_streams_price_chart_tick_account_trade(ex: IgSim) -> None:
    tokens = await login(ex)
    acc = tokens["account"]
    events = Events()
    client = make_client(tokens["endpoint"], "DEFAULT", acc, tokens["password"], events)
    subs = [
        subscription(events, "price", "MERGE", [f"PRICE:{acc}:{EURUSD}"], PRICE_FIELDS, "Pricing"),
        subscription(events, "candle", "MERGE", [f"CHART:{FTSE}:SECOND"], CANDLE_FIELDS),
        subscription(events, "tick", "DISTINCT", [f"CHART:{BTC}:TICK"], TICK_FIELDS),
        subscription(
            events, "account", "MERGE", [f"ACCOUNT:{acc}"], ["PNL", "FUNDS", "MARGIN", "EQUITY"]
        ),
        subscription(events, "trade", "DISTINCT", [f"TRADE:{acc}"], ["CONFIRMS", "OPU", "WOU"]),
    ]
    for s in subs:
        client.subscribe(s)
    client.connect()
    try:
        await events.wait(lambda ev: ev == ("status", "CONNECTED:WS-STREAMING"))
        for tag in ("price", "candle", "tick", "account", "trade"):
            await events.wait(lambda ev, t=tag: ev == ("subscribed", t))
        assert len(ex.ls_sessions) == 1
        sess = next(iter(ex.ls_sessions.values()))
        assert sess.account_id == acc and sess.client.cst == tokens["cst"]

        ev = await events.wait(is_update("price"))
        p = ev[3]
        assert ev[2] == f"PRICE:{acc}:{EURUSD}"
        assert float(p["BIDPRICE1"]) < float(p["ASKPRICE1"]) and p["DLG_FLAG"] == "DEAL"
        assert int(p["TIMESTAMP"]) > 1_700_000_000_000

        ev = await events.wait(is_update("tick", lambda v: v["LTV"] is not None))
        t = ev[3]
        assert float(t["BID"]) < float(t["OFR"]) and int(t["LTV"]) >= 1 and int(t["UTM"]) > 0

        ev = await events.wait(is_update("candle", lambda v: v["CONS_END"] == "1"))
        done = ev[3]
        assert float(done["BID_HIGH"]) >= float(done["BID_CLOSE"]) >= float(done["BID_LOW"])
        assert float(done["OFR_LOW"]) > float(done["BID_LOW"])
        assert int(done["UTM"]) % 1000 == 0 and int(done["CONS_TICK_COUNT"]) >= 1
        ev = await events.wait(is_update("candle", lambda v: v["CONS_END"] == "0"), new=True)
        assert int(ev[3]["UTM"]) == int(done["UTM"]) + 1000

        ev = await events.wait(is_update("account"))
        assert ev[3]["FUNDS"] == "100000.00" and ev[3]["MARGIN"] == "0.00"

        # a deal: CONFIRMS and OPU on TRADE, margin on ACCOUNT
        ref = await rest_deal(
            ex,
            tokens,
            {
                "epic": EURUSD,
                "expiry": "-",
                "direction": "SELL",
                "size": 1,
                "orderType": "MARKET",
                "currencyCode": "USD",
                "forceOpen": True,
                "guaranteedStop": False,
            },
        )
        ev = await events.wait(is_update("trade", lambda v: v["OPU"] is not None), new=True)
        opu = json.loads(ev[3]["OPU"])
        assert (opu["status"], opu["direction"], opu["dealReference"]) == ("OPEN", "SELL", ref)
        ev = await events.wait(is_update("trade", lambda v: v["CONFIRMS"] is not None))
        conf = json.loads(ev[3]["CONFIRMS"])
        assert conf["dealReference"] == ref and conf["dealStatus"] == "ACCEPTED"
        assert ev[4] == {"CONFIRMS": ev[3]["CONFIRMS"], "OPU": None}  # OPU back to null
        await events.wait(is_update("account", lambda v: v["MARGIN"] != "0.00"), new=True)
        assert ex.stats.ws_opened["lightstreamer"] == 1
    finally:
        client.disconnect()
    await ex.wait_for(lambda: not ex.ls_sessions)


async def test_trading_ig_style_connection(ex: IgSim) -> None:
    """No adapter set and no user, as trading-ig connects."""
    tokens = await login(ex)
    events = Events()
    client = make_client(tokens["endpoint"], None, None, tokens["password"], events)
    client.subscribe(
        subscription(events, "tick", "DISTINCT", [f"CHART:{EURUSD}:TICK"], TICK_FIELDS)
    )
    client.connect()
    try:
        await events.wait(lambda ev: ev == ("status", "CONNECTED:WS-STREAMING"))
        for _ in range(3):
            await events.wait(is_update("tick"))
        assert next(iter(ex.ls_sessions.values())).account_id == tokens["account"]
    finally:
        client.disconnect()


async def test_loop_rebinds_the_same_session(ex: IgSim) -> None:
    tokens = await login(ex)
    events = Events()
    client = make_client(
        tokens["endpoint"], "DEFAULT", tokens["account"], tokens["password"], events
    )
    client.subscribe(
        subscription(
            events, "price", "MERGE", [f"PRICE:{tokens['account']}:{FTSE}"], PRICE_FIELDS, "Pricing"
        )
    )
    client.connect()
    try:
        await events.wait(is_update("price"))
        sid = next(iter(ex.ls_sessions))
        assert ex.faults.loop() == 1
        await ex.wait_for(lambda: ex.stats.ws_opened["lightstreamer"] == 2)
        await ex.wait_for(lambda: ex.ls_sessions[sid].conn is not None)
        stamp = int(ex.state[FTSE].update_ms)
        ev = await events.wait(is_update("price", lambda v: int(v["TIMESTAMP"]) > stamp), new=True)
        assert float(ev[3]["BIDPRICE1"]) < float(ev[3]["ASKPRICE1"])
        assert list(ex.ls_sessions) == [sid]  # rebound, not recreated
        assert not any(e[0] == "sub_error" for e in events.seen)
    finally:
        client.disconnect()


async def test_dropped_connection_recovers_the_session(ex: IgSim) -> None:
    """A dropped socket ends the library's read loop silently: it notices by the keepalive
    (PROBE) stopping (short keepalive and stall timeouts here), then recovers the session
    over HTTP (`bind_session.txt` with `LS_recovery_from`) and binds a new WebSocket."""
    tokens = await login(ex)
    events = Events()
    client = make_client(
        tokens["endpoint"], "DEFAULT", tokens["account"], tokens["password"], events
    )
    client.connectionOptions.setKeepaliveInterval(300)
    client.connectionOptions.setStalledTimeout(300)
    client.connectionOptions.setReconnectTimeout(500)
    client.subscribe(subscription(events, "tick", "DISTINCT", [f"CHART:{FTSE}:TICK"], TICK_FIELDS))
    client.connect()
    try:
        await events.wait(is_update("tick"))
        sid = next(iter(ex.ls_sessions))
        assert ex.ls_sessions[sid].keepalive_ms == 300
        assert ex.faults.drop() == 1
        await events.wait(lambda ev: ev == ("status", "DISCONNECTED:TRYING-RECOVERY"), new=True)
        await events.wait(lambda ev: ev == ("status", "CONNECTED:WS-STREAMING"), new=True)
        stamp = int(ex.state[FTSE].update_ms)
        await events.wait(is_update("tick", lambda v: int(v["UTM"]) > stamp), new=True)
        assert list(ex.ls_sessions) == [sid]  # recovered, not recreated
        assert ex.stats.rest_calls["/lightstreamer/bind_session.txt"] >= 1
        assert not any(e[0] in ("server_error", "sub_error") for e in events.seen)
    finally:
        client.disconnect()


async def test_bad_password_is_a_server_error(ex: IgSim) -> None:
    tokens = await login(ex)
    events = Events()
    client = make_client(tokens["endpoint"], "DEFAULT", tokens["account"], "CST-x|XST-y", events)
    client.connect()
    try:
        ev = await events.wait(lambda ev: ev[0] == "server_error")
        assert ev[1:] == (1, "User/password check failed")
        assert ("status", "DISCONNECTED") in events.seen
        assert ex.ls_sessions == {}
    finally:
        client.disconnect()


@pytest.fixture
async def quiet() -> AsyncIterator[IgSim]:
    """A sim whose prices do not move: 40 subscriptions, no flood of updates to wade through."""
    async with sim("ig", seed=41, tick_interval=3600.0) as s:
        assert isinstance(s, IgSim)
        yield s


async def test_41st_subscription_is_refused(quiet: IgSim) -> None:
    ex = quiet
    tokens = await login(ex)
    events = Events()
    client = make_client(
        tokens["endpoint"], "DEFAULT", tokens["account"], tokens["password"], events
    )
    client.connect()
    try:
        await events.wait(lambda ev: ev == ("status", "CONNECTED:WS-STREAMING"))
        for i in range(40):
            client.subscribe(
                subscription(events, f"s{i}", "DISTINCT", [f"CHART:{EURUSD}:TICK"], ["BID"])
            )
            await events.wait(lambda ev, t=f"s{i}": ev == ("subscribed", t))
        client.subscribe(subscription(events, "s40", "DISTINCT", [f"CHART:{EURUSD}:TICK"], ["BID"]))
        ev = await events.wait(lambda ev: ev[0] in ("sub_error", "subscribed") and ev[1] == "s40")
        assert ev[0] == "sub_error" and ev[2] == -1 and "40" in ev[3]
    finally:
        client.disconnect()


# -- (b) a 2.x client is refused ----------------------------------------------------------------

LS2_SCRIPT = textwrap.dedent(
    """
    import json, queue, sys
    import lightstreamer.client as lsc
    from lightstreamer.client import ClientListener, LightstreamerClient

    endpoint, user, password = sys.argv[1:4]
    q = queue.Queue()

    class L(ClientListener):
        def onServerError(self, code, message):
            q.put(("error", code, message))

        def onStatusChange(self, status):
            q.put(("status", status, None))

    client = LightstreamerClient(endpoint, "DEFAULT")
    client.connectionOptions.setForcedTransport("WS-STREAMING")
    client.connectionDetails.setUser(user)
    client.connectionDetails.setPassword(password)
    client.addListener(L())
    client.connect()
    report = {"lib": lsc.__file__, "version": LightstreamerClient.LIB_VERSION, "statuses": []}
    try:
        while True:
            kind, a, b = q.get(timeout=15)
            if kind == "status":
                report["statuses"].append(a)
            else:
                report["code"], report["message"] = a, b
                break
    except queue.Empty:
        report["code"] = None
    client.disconnect()
    print(json.dumps(report))
    """
)


LS2_ENV = "SPINSTREAM_LS2_PATH"
LS2_INSTALL = "python -m pip install --no-deps --target DIR lightstreamer-client-lib==2.2.3"


def ls2_dir() -> Path | None:
    """The directory `.ci/run` installed lightstreamer-client-lib 2.2.3 into (SPINSTREAM_LS2_PATH),
    or None where it is unset: the test installs nothing itself, so the suite stays offline."""
    raw = os.environ.get(LS2_ENV, "").strip()
    return Path(raw) if raw else None


@pytest.fixture(scope="session")
def ls2_path() -> Path:
    """lightstreamer-client-lib 2.2.3, installed beforehand into a directory of its own (its
    dependencies, aiohttp and jsonpatch, come from this venv, where 1.0.3 needs them too)."""
    target = ls2_dir()
    if target is None:
        pytest.skip(
            f"{LS2_ENV} is not set: the 2.x-client check needs lightstreamer-client-lib 2.2.3 "
            f"outside this venv; `{LS2_INSTALL}` then `export {LS2_ENV}=DIR` (.ci/run does)"
        )
    if not (target / "lightstreamer" / "client").is_dir():  # set, but wrong: a broken CI step
        pytest.fail(f"{LS2_ENV}={target} holds no lightstreamer/client; run `{LS2_INSTALL}`")
    return target


async def test_2x_client_is_refused_with_code_65(ex: IgSim, ls2_path: Path, tmp_path: Path) -> None:
    tokens = await login(ex)
    script = tmp_path / "ls2_client.py"  # beside, not inside, the shared 2.2.3 directory
    script.write_text(LS2_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ls2_path))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        tokens["endpoint"],
        tokens["account"],
        tokens["password"],
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    report = json.loads(out.decode().strip().splitlines()[-1])
    assert Path(report["lib"]).is_relative_to(ls2_path), report["lib"]  # 2.x, not 1.0.3
    assert report["version"].startswith("2.")
    assert (report["code"], report["message"]) == (65, "Unsupported protocol version: 2.5.0")
    assert report["statuses"][-1] == "DISCONNECTED"
    assert ex.stats.ws_opened["lightstreamer"] == 1 and ex.ls_sessions == {}

"""`spinstream serve` over real sockets: the JSON API, form validation, the token rule, the live
channel, `/metrics`, and `spinstream status` (table, --json, exit code on a stale venue)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from polling import wait_for
from servehelp import Served, strategies_dir, workspace
from spinstream.serve.app import ServeConfig
from spinstream.testing.host import SimHost
from spinstream.workspace import AccountConfig, Workspace

pytestmark = pytest.mark.timeout(300)


def call(
    url: str,
    method: str = "GET",
    body: Any = None,
    token: str | None = None,
    raw: bytes | None = None,
    ctype: str = "application/json",
) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as exc:
        text, status = exc.read().decode(), exc.code
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


@pytest.fixture(scope="module")
def served(host: SimHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serve")
    cfg = ServeConfig(workspace(host), [strategies_dir(root)], port=0, stale_budget_s=1.0)
    s = Served(cfg).start()
    yield s
    s.stop()


def status_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spinstream", "status", "--url", url, *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_form_input_is_validated(served: Served, tmp_path: Path) -> None:
    u = served.url + "api/workers"
    bad = [
        ({"path": "../outside.py"}, "outside the allowed"),
        ({"path": str(tmp_path / "nope.py")}, "outside the allowed"),
        ({"path": "/etc/passwd"}, "outside the allowed"),
        ({"path": "strategies/missing.py"}, "no strategy file"),
        ({"path": 5}, "path"),
        ({"path": "strategies/reader.py", "interval": "fast"}, "interval"),
        ({"path": "strategies/reader.py", "interval": 0}, "interval"),
        ({"path": "strategies/reader.py", "interval": float("1e9")}, "interval"),
        ({"path": "strategies/reader.py", "mode": "cloud"}, "mode must be"),
        ({"path": "strategies/reader.py", "name": "bad name!"}, "name"),
        ({"path": "strategies/reader.py", "token": "x"}, "unknown fields"),
    ]
    for body, words in bad:
        status, out = call(u, "POST", body)
        assert status == 400, (body, status, out)
        assert words in out["error"], (body, out)
    status, out = call(u, "POST", raw=b"{not json")
    assert status == 400 and "JSON" in out["error"]
    status, out = call(u, "POST", raw=b"path=x", ctype="application/x-www-form-urlencoded")
    assert status == 415  # a cross-site form cannot drive the workers
    assert call(served.url + "api/workers/ghost/deploy", "POST", {})[0] == 404
    req = urllib.request.Request(served.url + "api/status", headers={"Origin": "http://evil.test"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=30)
    assert refused.value.code == 403  # another site's page cannot read or drive it
    status, out = call(served.url + "api/strategies")
    assert sorted(out["files"]) == ["strategies/broken.py", "strategies/reader.py"]


def test_browser_mode_refused_on_server_only_venue(tmp_path: Path) -> None:
    """The same error as the API's (Workspace.check_mode): IG is server-only."""
    ws = Workspace([AccountConfig(alias="ig", venue="ig", env="demo")])
    with pytest.raises(Exception) as api_error:
        ws.check_mode("browser")
    s = Served(ServeConfig(ws, [strategies_dir(tmp_path)], port=0)).start()
    try:
        status, out = call(s.url + "api/workers", "POST",
                           {"path": "strategies/reader.py", "mode": "browser"})  # fmt: skip
        assert status == 400 and out["error"] == str(api_error.value)
        assert "server-only" in out["error"]
        status, out = call(s.url + "api/workers", "POST", {"path": "strategies/reader.py"})
        assert status == 201 and out["mode"] == "server"
        status, out = call(s.url + "api/workers/reader", "POST", {"mode": "browser"})
        assert status == 400 and out["error"] == str(api_error.value)
    finally:
        s.stop()


def test_worker_lifecycle_status_and_health(served: Served, host: SimHost) -> None:
    u = served.url
    status, w = call(u + "api/workers", "POST",
                     {"path": "strategies/reader.py", "name": "r1", "interval": 0.1})  # fmt: skip
    assert status == 201 and w["state"] == "stopped" and w["mode"] == "server"
    assert call(u + "api/workers", "POST", {"path": "strategies/reader.py", "name": "r1"})[0] == 400
    assert call(u + "api/workers/r1/deploy", "POST", {})[0] == 200
    wait_for(lambda: call(u + "api/workers")[1]["workers"][0]["ticks"] > 5, 60, "ticks")
    st = wait_for(
        lambda: (s := call(u + "api/status")[1])["health"]["ok"]
        and all(a["connections"] and all(c["live"] for c in a["connections"])
                for a in s["accounts"].values()) and s,
        60, "venues fresh",
    )  # fmt: skip
    b = st["accounts"]["binance"]
    assert b["buckets"]["spot_weight"]["limit"] == 6000 and b["rest"]["sent"]
    assert any(i["key"] == "binance/spot/BTCUSDT" for i in st["instruments"])
    chart = wait_for(
        lambda: len((c := call(u + "api/chart?key=binance/spot/BTCUSDT")[1])["bars"]) >= 2 and c,
        60, "bars",
    )  # fmt: skip
    assert chart["ticks"] and chart["book"]["bids"]
    w = call(u + "api/workers")[1]["workers"][0]
    assert any("strategy.test" in line for line in w["logs"]), w["logs"]
    metrics = call(u + "metrics")[1]
    assert "spinstream_up 1" in metrics and 'spinstream_worker_ticks_total{worker="r1"' in metrics

    # no secret reaches the page, the API or the worker's log lines
    text = json.dumps(call(u + "api/status")[1]) + metrics
    for v in ("binance", "bybit"):
        assert host[v].credentials["api_secret"] not in text
        assert host[v].credentials["api_key"] not in text

    # spinstream status: healthy table and JSON, exit 0
    r = status_cli(u)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "health: OK" in r.stdout and "r1" in r.stdout and "BinanceSpotPublic" in r.stdout
    r = status_cli(u, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["health"]["ok"] is True

    # a simulator goes down for 15 s: the venue goes stale, status exits 1 naming it, then back
    t = threading.Thread(target=host.run, args=(lambda: host["binance"].faults.restart(15.0), 40))
    t.start()
    try:
        j = wait_for(lambda: (p := status_cli(u, "--json")).returncode == 1 and p, 60, "exit 1")
        assert any("binance" in p for p in json.loads(j.stdout)["health"]["problems"]), j.stdout
        r = wait_for(lambda: (p := status_cli(u)).returncode == 1 and p, 60, "table exit 1")
        assert "binance" in r.stdout and ("STALE" in r.stdout or "down" in r.stdout), r.stdout
        assert "health: " in r.stdout and "problem(s)" in r.stdout
    finally:
        t.join(60)
    wait_for(lambda: status_cli(u).returncode == 0, 90, "healthy again")

    # a code change takes effect on restart; a strategy that raises is counted, not fatal
    status, w = call(u + "api/workers", "POST", {"path": "strategies/broken.py", "interval": 0.1})
    assert status == 201
    call(u + "api/workers/broken/deploy", "POST", {})
    wait_for(lambda: _worker(u, "broken")["errors"] >= 2, 60, "strategy errors")
    wb = _worker(u, "broken")
    assert wb["state"] == "running" and "boom from the strategy" in wb["last_error"]
    assert call(u + "api/workers/r1/stop", "POST", {})[0] == 200
    assert _worker(u, "r1")["state"] == "stopped"
    n = _worker(u, "r1")["ticks"]
    assert call(u + "api/workers/broken", "DELETE", {})[0] == 200
    assert [x["name"] for x in call(u + "api/workers")[1]["workers"]] == ["r1"]
    assert _worker(u, "r1")["ticks"] == n  # stopped: no more ticks


def _worker(url: str, name: str) -> dict[str, Any]:
    return next(w for w in call(url + "api/workers")[1]["workers"] if w["name"] == name)


def test_restart_after_code_change(host: SimHost, tmp_path: Path) -> None:
    d = strategies_dir(tmp_path)
    (d / "v.py").write_text("VERSION = 1\ndef tick(ctx):\n    pass\n")
    s = Served(ServeConfig(workspace(host), [d], port=0)).start()
    try:
        u = s.url
        call(u + "api/workers", "POST", {"path": "strategies/v.py", "mode": "browser"})
        call(u + "api/workers/v/deploy", "POST", {})
        assert _worker(u, "v")["code_changed"] is False
        import os
        import time

        (d / "v.py").write_text("def tick(ctx):\n    raise ValueError('version 2')\n")
        os.utime(d / "v.py", (time.time() + 5, time.time() + 5))
        assert _worker(u, "v")["code_changed"] is True
        assert call(u + "api/workers/v/restart", "POST", {})[0] == 200
        wait_for(lambda: "version 2" in (_worker(u, "v")["last_error"] or ""), 30, "new code")
        assert _worker(u, "v")["code_changed"] is False and _worker(u, "v")["runs"] == 2
        (d / "v.py").write_text("def tick(ctx)\n")  # a syntax error: 400, the worker runs on
        os.utime(d / "v.py", (time.time() + 10, time.time() + 10))
        status, out = call(u + "api/workers/v/restart", "POST", {})
        assert status == 400 and "does not load" in out["error"]
        assert _worker(u, "v")["state"] == "running"
    finally:
        s.stop()


def test_token_required_beyond_loopback(host: SimHost, tmp_path: Path) -> None:
    """Bound to 0.0.0.0 (another address than loopback): every request and the live channel
    need the token (401 otherwise)."""
    s = Served(ServeConfig(workspace(host), [strategies_dir(tmp_path)], host="0.0.0.0", port=0))
    s.start()
    try:
        assert s.token and len(s.token) >= 24
        port = s.url.rsplit(":", 1)[1].strip("/")
        base = f"http://127.0.0.1:{port}/"
        for path in ("", "api/status", "api/workers", "metrics", "static/app.js"):
            assert call(base + path)[0] == 401, path
            assert call(base + path, token="wrong")[0] == 401, path
        assert call(base + "api/workers", "POST", {"path": "strategies/reader.py"})[0] == 401
        assert call(base + "api/status", token=s.token)[0] == 200
        assert call(base + f"api/status?token={s.token}")[0] == 200

        async def live(headers: dict[str, str] | None, query: str = "") -> int:
            async with aiohttp.ClientSession() as sess:
                try:
                    async with sess.ws_connect(base + "api/live" + query, headers=headers) as ws:
                        msg = await ws.receive_json(timeout=30)
                        assert msg["type"] == "status"
                        return 101
                except aiohttp.WSServerHandshakeError as exc:
                    return exc.status

        assert asyncio.run(live(None)) == 401
        assert asyncio.run(live({"Authorization": "Bearer nope"})) == 401
        assert asyncio.run(live({"Authorization": f"Bearer {s.token}"})) == 101
        assert asyncio.run(live(None, f"?token={s.token}")) == 101
    finally:
        s.stop()


def test_a_bad_declared_symbol_crashes_the_deploy(host: SimHost, tmp_path: Path) -> None:
    """Deploy checks the declared symbols (as Worker.start does): 400, the worker crashed with
    the exception, and the page says which symbol."""
    c = host["binance"].credentials
    from spinstream.credentials import Credentials

    ws = Workspace(
        [AccountConfig(alias="binance", venue="binance", urls=host["binance"].urls,
                       symbols=("NOPEUSDT",),
                       credentials=Credentials.of(c["api_key"], c["api_secret"]))]
    )  # fmt: skip
    s = Served(ServeConfig(ws, [strategies_dir(tmp_path)], port=0)).start()
    try:
        assert call(s.url + "api/workers", "POST", {"path": "strategies/reader.py"})[0] == 201
        status, out = call(s.url + "api/workers/reader/deploy", "POST", {})
        assert status == 400 and "NOPEUSDT" in out["error"]
        w = _worker(s.url, "reader")
        assert w["state"] == "crashed" and "NOPEUSDT" in w["crash"]
    finally:
        s.stop()

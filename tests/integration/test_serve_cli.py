"""`spinstream serve --config` (its [serve] table, the allowed strategy directories) and
`spinstream demo --serve` as processes: they print their URL, serve the page and the API, and
stop cleanly on SIGTERM. `spinstream status --watch` refreshes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from polling import wait_for
from servehelp import strategies_dir
from spinstream.testing.host import SimHost

pytestmark = pytest.mark.timeout(300)


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as r:
        body = r.read().decode()
    return json.loads(body) if body[:1] in "{[" else body


def start(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen(
        [sys.executable, "-m", "spinstream", *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert p.stdout is not None
    line = p.stdout.readline()
    if "http://" not in line:
        p.kill()
        raise AssertionError(f"no URL: {line!r} {p.stderr.read() if p.stderr else ''}")
    return p, line.split("http://", 1)[1].split()[0]


def stop(p: subprocess.Popen[str]) -> int:
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(60)
    finally:
        if p.poll() is None:
            p.kill()


def test_serve_command_reads_its_config(host: SimHost, tmp_path: Path) -> None:
    strategies_dir(tmp_path)
    c = host["binance"].credentials
    cfg = tmp_path / "spinstream.toml"
    urls = "\n".join(f'"{k}" = "{v}"' for k, v in host["binance"].urls.items())
    cfg.write_text(
        f"""[serve]
strategies = ["./strategies"]
stale_budget_s = 3

[venues.binance]
api_key_env = "T_SERVE_KEY"
api_secret_env = "T_SERVE_SECRET"
symbols = ["BTCUSDT"]
[venues.binance.urls]
{urls}
"""
    )
    env = {"T_SERVE_KEY": c["api_key"], "T_SERVE_SECRET": c["api_secret"]}
    p, addr = start(["serve", "--config", str(cfg), "--port", "0"], env)
    try:
        base = f"http://{addr.split('?')[0]}"
        files = get(base + "api/strategies")["files"]
        assert sorted(files) == ["strategies/broken.py", "strategies/reader.py"]
        st = get(base + "api/status")
        assert st["stale_budget_s"] == 3 and list(st["accounts"]) == ["binance"]
        page = get(base)
        assert '<canvas id="chart"' in page and "https://" not in page  # no CDN
        for name in ("app.js", "chart.js", "style.css"):
            assert "https://" not in get(base + "static/" + name)
    finally:
        assert stop(p) == 0
    assert c["api_secret"] not in (p.stderr.read() if p.stderr else "")


def test_serve_refuses_a_bad_serve_table(tmp_path: Path) -> None:
    cfg = tmp_path / "spinstream.toml"
    cfg.write_text('[serve]\nstrategies = ["./nowhere"]\n[venues.binance]\nenv = "testnet"\n')
    r = subprocess.run([sys.executable, "-m", "spinstream", "serve", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 2 and "strategy directory not found" in r.stderr


def test_demo_serve_one_command() -> None:
    p, addr = start(["demo", "--serve", "--port", "0"])
    try:
        base = f"http://{addr}"

        def ticking() -> bool:
            ws = get(base + "api/workers")["workers"]
            return len(ws) == 2 and all(w["ticks"] > 3 for w in ws)

        wait_for(ticking, 90, "the demo's workers tick")
        st = wait_for(
            lambda: (s := get(base + "api/status"))["accounts"]["ig"]["connections"] and s,
            90, "IG streams",
        )  # fmt: skip
        assert set(st["accounts"]) == {"binance", "bybit", "ig"}
        w = subprocess.Popen(
            [sys.executable, "-m", "spinstream", "status", "--url", base, "--watch"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert w.stdout is not None
            seen = 0
            while seen < 2:  # two refreshes, each a screen with the health line
                line = w.stdout.readline()
                assert line, "status --watch ended"
                seen += "health:" in line
        finally:
            w.send_signal(signal.SIGINT)
            w.wait(30)
    finally:
        assert stop(p) == 0

"""The command line: `version`, a short offline `demo`, `run` of a strategy file."""

from __future__ import annotations

import subprocess
import sys


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spinstream", *args], capture_output=True, text=True, timeout=300
    )


def test_version() -> None:
    out = _run("version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("spinstream ")


def test_demo_runs_offline_checks_the_core_and_serves_from_cache() -> None:
    out = _run("demo", "--seconds", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "spinstream demo"
    # every checksummed message of the recording matched, compiled and twin alike
    part = lines[1].split("checksums ")[1].split(" ok")[0]
    good, total = part.split("/")
    assert int(good) == int(total) > 0 and "(twin 290)" in lines[1]
    warm = [ln for ln in lines if ln.startswith("warm-up ")]  # the declared symbols, warmed
    assert len(warm) == 1 and all(f" {v} " in warm[0] for v in ("binance", "bybit", "ig"))
    status = [ln for ln in lines if "cached get_ticker" in ln]
    assert any(" binance " in ln for ln in status) and any(" bybit " in ln for ln in status)
    assert lines[-1].startswith("done:") and "0 strategy errors" in lines[-1]


def test_run_executes_a_strategy_file(tmp_path) -> None:
    strat = tmp_path / "s.py"
    strat.write_text("INTERVAL = 0.01\nn = 0\ndef tick(ctx):\n    global n\n    n += 1\n")
    cfg = tmp_path / "spinstream.toml"
    cfg.write_text('[venues.binance]\nenv = "testnet"\n')
    out = _run("run", str(strat), "--config", str(cfg), "--seconds", "0.3", "--mode", "browser")
    assert out.returncode == 0, out.stderr
    assert "strategy errors" in out.stdout


def test_run_reports_a_bad_config_clearly(tmp_path) -> None:
    strat = tmp_path / "s.py"
    strat.write_text("def tick(ctx):\n    pass\n")
    out = _run("run", str(strat), "--config", str(tmp_path / "missing.toml"))
    assert out.returncode == 2 and "config file not found" in out.stderr


def test_bad_command_is_a_clear_error() -> None:
    out = _run("no-such-verb")
    assert out.returncode == 2
    assert "invalid choice" in out.stderr

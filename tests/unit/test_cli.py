"""The command line: `spinstream version` and a short offline `spinstream demo`."""

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


def test_demo_runs_offline_and_verifies_checksums() -> None:
    out = _run("demo", "--seconds", "0")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("spinstream demo: core = ")
    assert "pass 1:" in lines[1] and "checksums" in lines[1]
    # every checksummed message matched, compiled and twin alike
    part = lines[1].split("checksums ")[1].split(" ok")[0]
    good, total = part.split("/")
    assert int(good) == int(total) > 0


def test_bad_command_is_a_clear_error() -> None:
    out = _run("no-such-verb")
    assert out.returncode == 2
    assert "invalid choice" in out.stderr

"""The pytest plugin (`spinstream.testing.plugin`, a pytest11 entry point): the named venues'
simulators started per test, a workspace and ctx wired to them (URLs and credentials of every
venue, private calls included), faults run on the sims' loop, everything stopped after; and a
user's test file that uses it alone, run by a fresh pytest process."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spinstream.testing.plugin import DEFAULT_VENUES, SimVenues
from spinstream.workspace import Workspace


@pytest.mark.spinstream_venues("okx", "ig", seed=3)
def test_every_venue_is_wired_with_its_credentials(spinstream_ctx, spinstream_sims) -> None:
    assert spinstream_sims.venues == ("okx", "ig")
    ws: Workspace = spinstream_ctx.workspace
    assert set(ws.accounts) == {"okx", "ig"} and ws.accounts["ig"].env == "demo"
    assert spinstream_sims["okx"].seed == 3
    # private REST calls authenticate against the sims (OKX signs with a passphrase too)
    assert spinstream_ctx.okx.get_balance().source == "rest"
    assert spinstream_ctx.ig.get_accounts()[0].source == "rest"  # IG logged in (identifier)
    t = spinstream_sims.wait_for(
        lambda: (t := spinstream_ctx.okx.get_ticker("BTC-USDT")).source == "ws" and t,
        what="OKX ticker from the stream",
    )
    assert t.bid < t.ask


def test_default_venues_faults_and_options(spinstream_sims, spinstream_workspace) -> None:
    assert spinstream_sims.venues == DEFAULT_VENUES
    assert set(spinstream_workspace.accounts) == set(DEFAULT_VENUES)
    ctx = spinstream_sims.ctx("bybit", silent_s=2)  # a second workspace, own options
    assert ctx.workspace.accounts["bybit"].silent_s == 2
    spinstream_sims.wait_for(lambda: ctx.bybit.get_ticker("BTCUSDT").source == "ws", what="ws")
    opened = spinstream_sims.run(lambda: sum(spinstream_sims["bybit"].stats.ws_opened.values()))
    assert spinstream_sims.faults("bybit").drop() >= 1  # ran on the sims' loop, count back
    spinstream_sims.wait_for(
        lambda: (
            spinstream_sims.run(lambda: sum(spinstream_sims["bybit"].stats.ws_opened.values()))
            > opened
        ),
        what="the runtime reconnecting",
    )


def test_close_stops_the_sims_and_closes_the_workspaces() -> None:
    with SimVenues("binance", tick_interval=0.05) as sims:
        port = sims["binance"].port
        ctx = sims.ctx()
        assert ctx.binance.get_ticker("BTCUSDT").bid > 0
        ws = ctx.workspace
    assert ws._runtime is None  # closed
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


USER_TEST = """
import pytest

from strategy_under_test import tick

pytestmark = pytest.mark.spinstream_venues("binance")
PORTS = []


@pytest.fixture
def workspace():  # a user's own fixture of a common name: the plugin's are all spinstream_*
    return "mine"


def test_reads(spinstream_ctx, spinstream_sims, workspace):
    assert workspace == "mine"
    PORTS.append(spinstream_sims["binance"].port)
    assert spinstream_sims.wait_for(lambda: tick(spinstream_ctx) == "ws", what="ws")


def test_the_sims_of_the_last_test_are_stopped():
    import socket
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", PORTS[0]), timeout=2).close()


@pytest.mark.spinstream_venues("nasdaq")
def test_unknown_venue(spinstream_sims):
    pass
"""


def test_a_users_test_file_needs_nothing_but_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "strategy_under_test.py").write_text(
        "def tick(ctx):\n    return ctx.binance.get_ticker('BTCUSDT').source\n"
    )
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TEST))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--strict-markers", "-p", "no:cacheprovider",
         "-p", "no:randomly", "test_user.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert "2 passed" in text and "1 error" in text, text
    assert "no simulator for ['nasdaq']" in text, text


def test_the_readme_testing_section_runs_as_written(tmp_path: Path) -> None:
    """The README's "Testing your strategy" test, copied out beside examples/strategy.py, passes
    in a fresh pytest process: a user needs nothing from tests/."""
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing your strategy", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert code.startswith("# test_strategy.py") and "spinstream_venues" in code
    (tmp_path / "test_strategy.py").write_text(code)
    (tmp_path / "strategy.py").write_text((root / "examples" / "strategy.py").read_text())
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--strict-markers", "-p", "no:cacheprovider",
         "test_strategy.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0 and "2 passed" in out.stdout, out.stdout + out.stderr

"""The short chaos suite (issue 9): every fault on every WebSocket venue, a few seconds each.

Each test runs one trial of `spinstream.testing.chaos` against the simulator's truth and asserts
what the trial measured: zero violations (no fresh `ws` read older than the fault's window, or
never true), detection inside the window where the fault must be detected, recovery, no ghost
levels, no 429 drawn from the venue and no secret in the DEBUG log. A trial that does not apply
to a venue (no checksum, no expiring token) is skipped with its reason, never passed silently.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spinstream.testing.chaos.trials import FAULTS, TARGETS, run_trial
from spinstream.testing.host import SimHost

SHORT = [f for f in FAULTS.values() if f.short]

#: trials known to fail, with the issue that fixes them (none today)
PENDING: dict[str, str] = {}

_hosts: dict[str, SimHost] = {}


@pytest.fixture(scope="module")
def hosts() -> Iterator[dict[str, SimHost]]:
    yield _hosts
    for h in _hosts.values():
        h.stop()
    _hosts.clear()


def _host(hosts: dict[str, SimHost], sim: str) -> SimHost:
    if sim not in hosts:
        hosts[sim] = SimHost(sim, seed=7, tick_interval=0.05).start()
    return hosts[sim]


def _params() -> list[object]:
    out = []
    for t in TARGETS.values():
        for f in SHORT:
            marks = []
            if f.name in PENDING:
                marks.append(pytest.mark.xfail(strict=False, reason=PENDING[f.name]))
            out.append(pytest.param(t.name, f.name, id=f"{t.name}-{f.name}", marks=marks))
    return out


@pytest.mark.parametrize(("target", "fault"), _params())
def test_chaos(hosts: dict[str, SimHost], target: str, fault: str) -> None:
    t, f = TARGETS[target], FAULTS[fault]
    why = f.applies(t)
    if why:
        pytest.skip(why)
    r = run_trial(_host(hosts, t.sim), t, f)
    summary = (
        f"{target} {fault}: detect {r.detect_s} recover {r.recover_s} reads {r.reads} "
        f"ws {r.ws_reads} worst age {r.worst_age_s:.3f} REST {r.rest_calls} {r.info}"
    )
    assert r.skipped is None, f"{summary}: {r.skipped}"
    assert r.ws_reads > 0, f"{summary}: no ws read was measured"
    assert r.violations == 0, f"{summary}: {r.problems}"
    if f.detect:
        assert r.detect_s is not None or r.info.get("detected"), f"{summary}: not detected"
        if r.detect_s is not None:
            assert r.detect_s <= (r.detect_goal_s or 0), f"{summary}: detected late"
    if fault != "auth-permanent":
        assert r.recover_s is not None, f"{summary}: never fresh and true again"
    assert not r.ghosts, f"{summary}: ghost levels"
    assert not r.venue_429, f"{summary}: 429 from the venue"
    assert not r.secrets_leaked, f"{summary}: secrets in the DEBUG log"
    assert r.ok, f"{summary}: {r.problems}"

"""`spinstream._core` picks compiled modules or twins in one place, all or nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import spinstream._core as core


def test_selection_matches_environment() -> None:
    forced = os.environ.get("SPINSTREAM_NO_EXTENSIONS", "") not in ("", "0")
    names = [c.__module__ for c in (core.Book, core.CandleAggregator, core.TickRing)]
    twins = [n.startswith("spinstream._core._py.") for n in names]
    assert all(twins) or not any(twins), names
    assert core.EXTENSIONS == (not twins[0])
    if forced:
        assert not core.EXTENSIONS
    elif os.environ.get("SPINSTREAM_REQUIRE_EXTENSIONS") == "1":
        assert core.EXTENSIONS, "compiled core required but not loaded"


def test_exports_come_from_the_selected_modules() -> None:
    mod = sys.modules[core.Book.__module__]
    assert core.parse_fixed is mod.parse_fixed and core.format_fixed is mod.format_fixed
    assert sys.modules[core.CandleAggregator.__module__].BAR_DTYPE is core.BAR_DTYPE
    assert sys.modules[core.TickRing.__module__].TICK_DTYPE is core.TICK_DTYPE
    for name in core.__all__:
        assert hasattr(core, name)


def test_env_var_forces_twins() -> None:
    code = "import spinstream._core as c; print(c.EXTENSIONS, c.Book.__module__)"
    env = dict(os.environ, SPINSTREAM_NO_EXTENSIONS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "spinstream._core._py.book"]

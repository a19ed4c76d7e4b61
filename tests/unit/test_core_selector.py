"""`spinstream._core` picks compiled modules or twins in one place, all or nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import spinstream._core as core


def test_selection_matches_environment() -> None:
    forced = os.environ.get("SPINSTREAM_NO_EXTENSIONS", "") not in ("", "0")
    names = [m.__name__ for m in (core.book, core.candles, core.ring)]
    twins = [n.startswith("spinstream._core._py.") for n in names]
    assert all(twins) or not any(twins), names
    assert core.EXTENSIONS == (not twins[0])
    if forced:
        assert not core.EXTENSIONS
    elif os.environ.get("SPINSTREAM_REQUIRE_EXTENSIONS") == "1":
        assert core.EXTENSIONS, "compiled core required but not loaded"


def test_exports_name_the_selected_modules() -> None:
    assert core.Book is core.book.Book
    assert core.CandleAggregator is core.candles.CandleAggregator
    assert core.TickRing is core.ring.TickRing
    assert core.parse_fixed is core.book.parse_fixed
    for name in core.__all__:
        assert hasattr(core, name)


def test_env_var_forces_twins() -> None:
    code = "import spinstream._core as c; print(c.EXTENSIONS, c.book.__name__)"
    env = dict(os.environ, SPINSTREAM_NO_EXTENSIONS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "spinstream._core._py.book"]

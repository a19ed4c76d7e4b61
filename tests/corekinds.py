"""The two kinds of core (compiled, pure-Python twin) as namespaces, for tests and fixtures."""

from __future__ import annotations

import importlib
import os
from types import SimpleNamespace

import pytest

KINDS = ("compiled", "twin")


def load_core(kind: str) -> SimpleNamespace:
    """The book/candles/ring modules of one kind, as a namespace."""
    pkg = "spinstream._core._py" if kind == "twin" else "spinstream._core"
    try:
        mods = {n: importlib.import_module(f"{pkg}.{n}") for n in ("book", "candles", "ring", "scan")}
    except ImportError:
        if os.environ.get("SPINSTREAM_REQUIRE_EXTENSIONS") == "1":
            raise
        pytest.skip("compiled core not built")
    for m in mods.values():
        if kind == "compiled" and m.__name__.startswith("spinstream._core._py"):
            raise AssertionError("compiled module resolved to a twin")
    return SimpleNamespace(kind=kind, **mods)

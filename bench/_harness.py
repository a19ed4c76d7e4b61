"""Helpers shared by the bench modules (kept out of conftest so they import by a unique name)."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest

_SKIPPED: dict[str, str] = {}


def core_module(kind: str, name: str) -> ModuleType:
    """`spinstream._core.NAME` (kind "compiled", must be an extension module) or
    `spinstream._core._py.NAME` (kind "twin"); skips the benchmark if it is not there yet."""
    modname = f"spinstream._core.{name}" if kind == "compiled" else f"spinstream._core._py.{name}"
    try:
        mod = importlib.import_module(modname)
    except Exception as exc:  # noqa: BLE001 - the core is optional while it is being written
        _SKIPPED[modname] = f"{type(exc).__name__}: {exc}"
        pytest.skip(f"{modname} not importable ({exc})")
    if kind == "compiled" and not str(getattr(mod, "__file__", "")).endswith((".so", ".pyd")):
        _SKIPPED[modname] = f"not compiled ({mod.__file__})"
        pytest.skip(f"{modname} is not a compiled extension ({mod.__file__})")
    return mod


def tag(benchmark: Any, set_: str, contender: str, unit: str, units: int, **more: Any) -> None:
    benchmark.extra_info.update(set=set_, contender=contender, unit=unit, units=int(units), **more)

"""Shared fixtures: `core` runs a test against the compiled core and its pure-Python twin."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from corekinds import KINDS, load_core


@pytest.fixture(params=KINDS)
def core(request: pytest.FixtureRequest) -> SimpleNamespace:
    """The compiled core, then the twin (`core.book.Book`, `core.candles`, `core.ring`)."""
    return load_core(request.param)


@pytest.fixture
def twin() -> SimpleNamespace:
    """The pure-Python twin, the oracle."""
    return load_core("twin")

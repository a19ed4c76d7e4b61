"""The gzipped recordings under tests/ are byte-identical to ../shared/fixtures/recorded."""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

import pytest

import recorded

NAMES = ["BINANCE.jsonl", "BYBIT.jsonl", "COINBASE.jsonl", "DERIBIT.jsonl", "OKX.jsonl"]


@pytest.mark.parametrize("name", NAMES)
def test_copy_matches_recorded_sum(name: str) -> None:
    assert recorded.raw(name)  # raw() verifies SHA256SUMS


@pytest.mark.parametrize("name", NAMES)
def test_copy_matches_shared(name: str) -> None:
    shared = recorded.SHARED / name
    if not shared.exists():
        pytest.skip("../shared is not beside the project (e.g. inside a wheel build container)")
    assert (
        hashlib.sha256(shared.read_bytes()).digest() == hashlib.sha256(recorded.raw(name)).digest()
    )


def test_packaged_okx_recording_is_the_recorded_one() -> None:
    blob = resources.files("spinstream.testing").joinpath("data", "OKX.jsonl.gz").read_bytes()
    assert gzip.decompress(blob) == recorded.raw("OKX.jsonl")

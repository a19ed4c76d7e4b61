"""Read the recorded exchange traffic (../shared/fixtures/recorded, copied byte for byte here).

The gzipped copies in tests/fixtures/recorded/ let the suite run where ../shared is absent (inside
cibuildwheel's build container); SHA256SUMS proves they are the recorded bytes, and when ../shared
is beside the project the copies are checked against it (test_recorded_copies.py).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COPIES = HERE / "fixtures" / "recorded"
SHARED = HERE.parent.parent / "shared" / "fixtures" / "recorded"


@cache
def raw(name: str) -> bytes:
    """The recorded file NAME (e.g. "OKX.jsonl"), checked against SHA256SUMS."""
    data = gzip.decompress((COPIES / (name + ".gz")).read_bytes())
    sums = dict(reversed(line.split()) for line in (COPIES / "SHA256SUMS").read_text().splitlines())
    if hashlib.sha256(data).hexdigest() != sums[name]:
        raise AssertionError(f"{name}: copy does not match its recorded SHA-256")
    return data


def lines(name: str) -> list[dict[str, Any]]:
    """Every line of the recording, decoded (header, http, connect, send, recv)."""
    return [json.loads(line) for line in raw(name).splitlines() if line.strip()]


def recv(name: str, conn: str | None = None) -> Iterator[tuple[str, int, str]]:
    """(conn, ts_ns, frame_text) for each frame the exchange sent, in recorded order."""
    for o in lines(name):
        if o["t"] == "recv" and (conn is None or o["conn"] == conn):
            yield o["conn"], int(round(o["ts"] * 1e9)), o["data"]


def http(name: str) -> list[dict[str, Any]]:
    """The REST responses the recorder fetched, in order (url, data, ts, conn)."""
    return [o for o in lines(name) if o["t"] == "http"]

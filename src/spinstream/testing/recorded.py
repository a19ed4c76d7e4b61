"""Recorded real exchange traffic shipped with the package (for the demo and users' own tests).

`OKX.jsonl.gz` is the cryptofeed project's OKX v5 recording (2022-05), byte for byte: REST
instruments, then `books` snapshots and updates with the exchange's CRC32 checksums.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

__all__ = ["recorded_frames", "recorded_lines"]


def recorded_lines(name: str = "OKX.jsonl") -> Iterator[dict[str, Any]]:
    """Each decoded line of a shipped recording (header, http, connect, send, recv)."""
    # one name per joinpath: Traversable takes several only from Python 3.11
    blob = resources.files(__package__).joinpath("data").joinpath(name + ".gz").read_bytes()
    for line in gzip.decompress(blob).splitlines():
        if line.strip():
            yield json.loads(line)


def recorded_frames(name: str = "OKX.jsonl") -> Iterator[tuple[int, str]]:
    """(ts_recv_ns, frame_text) for each frame the exchange sent, in recorded order."""
    for o in recorded_lines(name):
        if o["t"] == "recv":
            yield int(round(o["ts"] * 1e9)), o["data"]

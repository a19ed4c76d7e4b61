"""The top-level names resolve, and `import spinstream` pulls in nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import spinstream


def test_top_level_exports() -> None:
    for name in spinstream.__all__:
        assert getattr(spinstream, name) is not None
    from spinstream.worker import Worker
    from spinstream.workspace import Workspace

    assert spinstream.Workspace is Workspace and spinstream.Worker is Worker


def test_import_is_light() -> None:
    code = "import sys, spinstream; print(sorted(m for m in ('aiohttp', 'websockets', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

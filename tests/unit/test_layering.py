"""Sans-I/O rule: nothing under spinstream/protocol imports asyncio, aiohttp or websockets."""

from __future__ import annotations

import ast
from pathlib import Path

import spinstream.protocol

FORBIDDEN = {"asyncio", "aiohttp", "websockets", "time"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_protocol_is_sans_io() -> None:
    root = Path(spinstream.protocol.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert files
    bad = {str(p.relative_to(root)): sorted(_imports(p) & FORBIDDEN) for p in files}
    assert {k: v for k, v in bad.items() if v} == {}

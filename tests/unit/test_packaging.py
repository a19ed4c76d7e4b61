"""The package declares what src/ imports and ships its license and notice (issue 14)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
NOTICES = ("LICENSE", "THIRD_PARTY_NOTICES.md")


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level modules imported anywhere under src/ that are neither stdlib nor ours."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "src" / "spinstream").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("spinstream", "__future__"):
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


#: imports allowed without a runtime dependency, and the only files they may appear in:
#: the pytest plugin is loaded by pytest itself (the `pytest11` entry point), so pytest is there
LOADED_BY_THEIR_HOST = {
    "pytest": {"src/spinstream/testing/plugin.py"},
}


def test_every_third_party_import_in_src_is_a_runtime_dependency() -> None:
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    dists = packages_distributions()
    missing = {
        top: sorted(files)
        for top, files in _third_party_imports().items()
        if not {_name(d) for d in dists.get(top, [top])} & declared
        and not files <= LOADED_BY_THEIR_HOST.get(top, set())
    }
    assert not missing, f"imported by src/ but not in [project] dependencies: {missing}"


def test_picows_is_a_runtime_dependency_and_the_fast_extra_adds_nothing() -> None:
    """picows is the default WebSocket library (`ws_backend = "auto"`); `spinstream[fast]`, its
    former extra, still installs (nothing more)."""
    assert "picows" in {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert PYPROJECT["project"]["optional-dependencies"]["fast"] == []


def test_every_runtime_dependency_is_imported_by_src() -> None:
    imported = {
        _name(d) for top in _third_party_imports() for d in packages_distributions().get(top, [top])
    }
    unused = {_name(r) for r in PYPROJECT["project"]["dependencies"]} - imported
    assert not unused, (
        f"runtime dependencies src/ never imports (an extra's, not everyone's): {unused}"
    )


def test_license_and_notice_ship_in_the_wheel_and_the_sdist() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert set(NOTICES) <= set(PYPROJECT["project"]["license-files"])  # the wheel's dist-info
    manifest = (ROOT / "MANIFEST.in").read_text().split()
    assert all(n in manifest for n in NOTICES)  # the sdist
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    notice = (ROOT / "THIRD_PARTY_NOTICES.md").read_text()
    for recorded in (ROOT / "tests" / "fixtures" / "recorded").glob("*.gz"):
        assert recorded.name in notice
    assert "spinstream/testing/data/OKX.jsonl.gz" in notice and "XFree86 1.1" in notice
    assert "This product includes software developed by Bryant Moscon" in notice

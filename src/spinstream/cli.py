"""The `spinstream` command line: `demo` (offline), more verbs as the runtime lands."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spinstream", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="replay recorded exchange traffic through the core, offline")
    d.add_argument("--seconds", type=float, default=10.0, help="how long to run (default 10)")
    sub.add_parser("version", help="print the version and which core is loaded")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `spinstream` script; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.cmd == "version":
        from spinstream import __version__, _core

        print(f"spinstream {__version__} (compiled core: {_core.EXTENSIONS})")
        return 0
    if args.cmd == "demo":
        from spinstream.demo import run_demo

        return run_demo(seconds=args.seconds)
    return 2  # pragma: no cover - argparse rejects unknown commands

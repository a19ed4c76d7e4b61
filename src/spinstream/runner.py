"""`spinstream run strategy.py`: load a user's strategy file and run it in a Worker.

The file defines `tick(ctx)` (or `strategy(ctx)`), and may set `INTERVAL` (seconds) and `MODE`
("server" or "browser"); command-line options win over them.
"""

from __future__ import annotations

import importlib.util
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from spinstream.errors import ConfigError, SpinstreamError
from spinstream.worker import Worker
from spinstream.workspace import Workspace

__all__ = ["load_strategy", "run_file"]

log = logging.getLogger(__name__)


def load_strategy(path: str) -> tuple[Any, dict[str, Any]]:
    """(the strategy callable, the module's settings) from a .py file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"strategy file not found: {p}")
    spec = importlib.util.spec_from_file_location(f"spinstream_strategy_{p.stem}", p)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {p} as Python")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fn = getattr(mod, "tick", None) or getattr(mod, "strategy", None)
    if not callable(fn):
        raise ConfigError(f"{p} defines no tick(ctx) or strategy(ctx) function")
    return fn, {k: getattr(mod, k) for k in ("INTERVAL", "MODE") if hasattr(mod, k)}


def run_file(
    path: str,
    config: str,
    mode: str | None = None,
    interval: float | None = None,
    seconds: float | None = None,
) -> int:
    """Run the strategy in PATH against the workspace in CONFIG until interrupted; exit code."""
    try:
        fn, settings = load_strategy(path)
        ws = Workspace.from_file(config)
        worker = Worker(
            fn,
            ws,
            mode=mode or settings.get("MODE", "server"),
            interval=interval if interval is not None else float(settings.get("INTERVAL", 1.0)),
        )
    except SpinstreamError as exc:
        print(f"spinstream run: {exc}", file=sys.stderr)
        return 2
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: worker.stop(0))
    try:
        worker.run(duration=seconds)  # server mode warms the cache first
    except KeyboardInterrupt:
        pass
    except SpinstreamError as exc:  # a declared symbol the venue does not list
        print(f"spinstream run: {exc}", file=sys.stderr)
        return 2
    finally:
        ws.close()
    print(f"spinstream run: {worker.iterations} ticks, {worker.errors} strategy errors")
    return 0

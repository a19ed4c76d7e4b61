"""The workers `spinstream serve` runs: added from strategy files the config allows, deployed
(warm-up first, as `Worker` does), stopped, restarted after a code change; their state, ticks,
strategy errors and last log lines.

Every method blocks (a deploy waits for the declared symbols' check, a stop for the worker's
thread): the web app calls them through `asyncio.to_thread`. Form input is checked here and
refused with `BadInput` (HTTP 400), whose message says what is wrong.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinstream.errors import SpinstreamError
from spinstream.runner import load_strategy
from spinstream.worker import Worker
from spinstream.workspace import Workspace

__all__ = ["BadInput", "Control", "WorkerSlot"]

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
LOG_LINES = 200  # per worker
MAX_INTERVAL_S = 3600.0
MIN_INTERVAL_S = 0.01


class BadInput(ValueError):
    """Form input or a request the control surface refuses (HTTP 400), with why."""


@dataclass
class WorkerSlot:
    """One worker of the page: its strategy file, settings, and the running `Worker`, if any."""

    name: str
    path: Path
    mode: str
    interval: float
    fn: Any = None
    loaded_mtime: float = 0.0
    worker: Worker | None = None
    thread: threading.Thread | None = None
    state: str = "stopped"  # stopped | warming | running | crashed
    crash: str | None = None  # why it crashed (the exception's repr)
    started: float | None = None  # wall time of the last deploy
    runs: int = 0
    logs: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))

    def view(self, shown_path: str) -> dict[str, Any]:
        """JSON view: settings, state, ticks, strategy errors, the last log lines."""
        w = self.worker
        try:
            changed = self.path.stat().st_mtime > self.loaded_mtime
        except OSError:
            changed = False
        state = self.state
        if state == "running" and w is not None and w.mode == "server" and w.warmup is None:
            state = "warming"
        return {
            "name": self.name,
            "path": shown_path,
            "mode": self.mode,
            "interval": self.interval,
            "state": state,
            "ticks": w.iterations if w else 0,
            "errors": w.errors if w else 0,
            "last_error": repr(w.last_error) if w and w.last_error is not None else None,
            "crash": self.crash,
            "code_changed": changed,
            "warm_s": None if w is None or w.warm_s is None else round(w.warm_s, 3),
            "started": self.started,
            "runs": self.runs,
            "logs": list(self.logs)[-50:],
        }


class _ThreadLogs(logging.Handler):
    """Routes log records emitted on a worker's thread (`worker-NAME`) to that worker's lines."""

    def __init__(self, control: Control) -> None:
        super().__init__(logging.INFO)
        self.control = control
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        tname = record.threadName or ""
        if not tname.startswith("worker-"):
            return
        slot = self.control.slots.get(tname[len("worker-") :])
        if slot is None:
            return
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - a bad record never breaks the worker
            line = record.getMessage() if record.args is None else str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            line = line.split("\nTraceback", 1)[0]  # the message names the exception
        slot.logs.append(line[:2000])


class Control:
    """The workers of one workspace, from strategy files under the allowed directories."""

    def __init__(self, workspace: Workspace, allowed: list[Path]) -> None:
        self.workspace = workspace
        self.allowed = [p.resolve() for p in allowed]
        self.slots: dict[str, WorkerSlot] = {}
        self._lock = threading.RLock()
        self._handler = _ThreadLogs(self)
        root = logging.getLogger()
        root.addHandler(self._handler)
        self._root_level = root.level  # the page shows INFO lines: let them reach the handler
        if root.getEffectiveLevel() > logging.INFO:
            root.setLevel(logging.INFO)

    # ------------------------------------------------------------------ strategy files

    def shown(self, path: Path) -> str:
        """PATH as the page shows it: relative to the allowed directory holding it."""
        for d in self.allowed:
            if path.is_relative_to(d):
                return f"{d.name}/{path.relative_to(d)}"
        return path.name

    def strategies(self) -> list[str]:
        """The strategy files one may add: every .py under the allowed directories."""
        out: list[str] = []
        for d in self.allowed:
            if d.is_dir():
                out += [self.shown(p) for p in sorted(d.rglob("*.py")) if p.is_file() and p.stat()]
        return out

    def resolve(self, path: object) -> Path:
        """The strategy file PATH names ("dir/file.py" as listed, or a path under an allowed
        directory), refused unless it is a .py file inside one.

        Raises:
            BadInput: not a string, outside the allowed directories, not a .py file, missing.
        """
        if not isinstance(path, str) or not path.strip() or len(path) > 1000 or "\0" in path:
            raise BadInput("path: give the strategy file's path (a string)")
        if not self.allowed:
            raise BadInput(
                "no strategy directory is allowed: start serve with --strategies DIR or set "
                '[serve] strategies = ["./strategies"] in the config'
            )
        cands = []
        p = Path(path)
        for d in self.allowed:
            if p.parts and p.parts[0] == d.name:  # "dir/file.py" as listed
                cands.append(d.joinpath(*p.parts[1:]))
            cands.append(p if p.is_absolute() else d / p)
        for c in cands:
            r = c.resolve()
            if any(r.is_relative_to(d) for d in self.allowed) and r.is_file():
                if r.suffix != ".py":
                    raise BadInput(f"path: {path!r} is not a .py file")
                return r
        if any(any(c.resolve().is_relative_to(d) for d in self.allowed) for c in cands):
            raise BadInput(f"path: no strategy file {path!r} in the allowed directories")
        raise BadInput(
            f"path: {path!r} is outside the allowed strategy directories "
            f"({', '.join(str(d) for d in self.allowed)})"
        )

    def _load(self, slot: WorkerSlot) -> None:
        mtime = slot.path.stat().st_mtime
        try:
            fn, _ = load_strategy(str(slot.path))
        except SpinstreamError as exc:
            raise BadInput(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the user's code: say what is wrong
            raise BadInput(f"{self.shown(slot.path)} does not load: {exc!r}") from None
        slot.fn, slot.loaded_mtime = fn, mtime

    # ------------------------------------------------------------------ input checks

    def check_mode(self, mode: object) -> str:
        """MODE if the workspace's venues accept it; else BadInput with the API's message."""
        if not isinstance(mode, str):
            raise BadInput("mode must be 'server' or 'browser'")
        try:
            self.workspace.check_mode(mode)
        except SpinstreamError as exc:
            raise BadInput(str(exc)) from None
        return mode

    @staticmethod
    def check_interval(interval: object) -> float:
        if isinstance(interval, bool) or not isinstance(interval, (int, float, str)):
            raise BadInput("interval must be a number of seconds")
        try:
            v = float(interval)
        except ValueError:
            raise BadInput(f"interval must be a number of seconds, not {interval!r}") from None
        if not MIN_INTERVAL_S <= v <= MAX_INTERVAL_S:  # also refuses nan
            raise BadInput(
                f"interval must be between {MIN_INTERVAL_S} and {MAX_INTERVAL_S:.0f} seconds"
            )
        return v

    def slot(self, name: str) -> WorkerSlot:
        s = self.slots.get(name)
        if s is None:
            raise KeyError(name)
        return s

    # ------------------------------------------------------------------ actions (blocking)

    def add(
        self, path: object, name: object = None, mode: object = "server", interval: object = 1.0
    ) -> WorkerSlot:
        """A new (stopped) worker running the strategy file PATH; its code is loaded now."""
        p = self.resolve(path)
        if name is None or name == "":
            name = re.sub(r"[^A-Za-z0-9_-]", "_", p.stem)
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise BadInput("name: 1-40 letters, digits, '_' or '-', starting with a letter")
        slot = WorkerSlot(name, p, self.check_mode(mode), self.check_interval(interval))
        self._load(slot)
        with self._lock:
            if name in self.slots:
                raise BadInput(f"name: a worker named {name!r} exists")
            self.slots[name] = slot
        log.info("serve: worker %s added from %s", name, self.shown(p))
        return slot

    def update(self, name: str, mode: object = None, interval: object = None) -> WorkerSlot:
        """Change MODE and/or INTERVAL; a running worker restarts with them."""
        slot = self.slot(name)
        new_mode = slot.mode if mode is None else self.check_mode(mode)
        new_iv = slot.interval if interval is None else self.check_interval(interval)
        running = slot.state == "running"
        if running:
            self.stop(name)
        slot.mode, slot.interval = new_mode, new_iv
        if running:
            self.deploy(name)
        return slot

    def deploy(self, name: str) -> WorkerSlot:
        """Deploy and start: a new `Worker` on its own thread. Server mode checks the declared
        symbols here (a bad one is BadInput) and the thread's first tick waits for the warm-up."""
        slot = self.slot(name)
        with self._lock:
            if slot.state == "running":
                raise BadInput(f"worker {name!r} is running: stop or restart it")
            try:
                w = Worker(slot.fn, self.workspace, slot.mode, slot.interval, name=name)
                if slot.mode == "server":
                    self.workspace.runtime.warm_begin()  # as Worker.start: symbols checked now
            except SpinstreamError as exc:
                slot.state, slot.crash = "crashed", repr(exc)
                raise BadInput(str(exc)) from None
            slot.worker, slot.crash, slot.state = w, None, "running"
            slot.started, slot.runs = time.time(), slot.runs + 1
            t = threading.Thread(target=self._run, args=(slot, w), name=f"worker-{name}")
            t.daemon = True
            slot.thread = t
            t.start()
        log.info("serve: worker %s deployed (%s mode, every %g s)", name, slot.mode, slot.interval)
        return slot

    def _run(self, slot: WorkerSlot, w: Worker) -> None:
        try:
            w.run()  # warm-up (server mode), then tick until stopped
        except BaseException as exc:  # noqa: BLE001 - shown as crashed, with the exception
            log.error("worker %s crashed: %r", slot.name, exc)
            if slot.worker is w:
                slot.state, slot.crash = "crashed", repr(exc)
            return
        if slot.worker is w and slot.state == "running":
            slot.state = "stopped"

    def stop(self, name: str) -> WorkerSlot:
        slot = self.slot(name)
        w, t = slot.worker, slot.thread
        if w is not None:
            w.stop()
        if t is not None:
            t.join(15.0)
        if slot.state in ("running", "warming"):
            slot.state = "stopped"
        slot.thread = None
        log.info("serve: worker %s stopped", name)
        return slot

    def restart(self, name: str) -> WorkerSlot:
        """Reload the strategy file (a change of code takes effect), then stop and deploy."""
        slot = self.slot(name)
        self._load(slot)  # a file that no longer loads leaves the running worker alone
        self.stop(name)
        return self.deploy(name)

    def remove(self, name: str) -> None:
        self.stop(name)
        with self._lock:
            self.slots.pop(name, None)

    def views(self) -> list[dict[str, Any]]:
        return [s.view(self.shown(s.path)) for s in list(self.slots.values())]

    def close(self) -> None:
        """Stop every worker and stop routing logs."""
        for name in list(self.slots):
            try:
                self.stop(name)
            except Exception as exc:  # noqa: BLE001 - closing anyway
                log.warning("serve: stopping %s: %r", name, exc)
        root = logging.getLogger()
        root.removeHandler(self._handler)
        if root.level == logging.INFO:
            root.setLevel(self._root_level)

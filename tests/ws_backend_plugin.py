"""A pytest plugin that runs any test over one WebSocket library in place of the default
`ws_backend = "auto"` (which picks picows unless a proxy applies; the option's default is not
changed, an explicit choice is kept):

    PYTHONPATH=tests SPINSTREAM_TEST_WS_BACKEND=picows \\
        python -m pytest -p ws_backend_plugin tests/integration/test_runtime.py

Every `StreamConnection` built with the default while the tests run is given the backend named
by `SPINSTREAM_TEST_WS_BACKEND` (default picows; `websockets` runs the suite over the former
default); the terminal summary says how many connections used it, so a run that never reached
it shows.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from spinstream.transport import sockets, stream

BACKEND = os.environ.get("SPINSTREAM_TEST_WS_BACKEND", "picows")
_made: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    init = stream.StreamConnection.__init__
    default = sockets.DEFAULT_BACKEND

    def patched(self: Any, *args: Any, ws_backend: str = default, **kw: Any) -> None:
        if ws_backend == default:
            ws_backend = BACKEND
        _made.append(ws_backend)
        init(self, *args, ws_backend=ws_backend, **kw)

    stream.StreamConnection.__init__ = patched  # type: ignore[method-assign]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    n = _made.count(BACKEND)
    terminalreporter.write_line(
        f"ws_backend_plugin: {n} of {len(_made)} stream connection(s) over {BACKEND}"
    )

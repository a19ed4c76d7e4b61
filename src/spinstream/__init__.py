"""spinstream: exchange state at memory speed behind REST-style calls.

`import spinstream` stays fast: the public names below load their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Workspace": "spinstream.workspace",
    "AccountConfig": "spinstream.workspace",
    "Worker": "spinstream.worker",
    "Context": "spinstream.ctx",
    "Credentials": "spinstream.credentials",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from spinstream.credentials import Credentials  # noqa: F401
    from spinstream.ctx import Context  # noqa: F401
    from spinstream.worker import Worker  # noqa: F401
    from spinstream.workspace import AccountConfig, Workspace  # noqa: F401


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'spinstream' has no attribute {name!r}")
    return getattr(importlib.import_module(mod), name)

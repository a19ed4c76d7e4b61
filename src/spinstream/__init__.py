"""spinstream: exchange state at memory speed behind REST-style calls."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

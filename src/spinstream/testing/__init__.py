"""Public test helpers: recorded exchange traffic now; the simulated exchanges join later."""

from __future__ import annotations

from .recorded import recorded_frames

__all__ = ["recorded_frames"]

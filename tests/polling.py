"""Waiting for state that arrives over real sockets, with a deadline (the package's own helper,
which the pytest plugin gives users too)."""

from __future__ import annotations

from spinstream.testing.polling import wait_for

__all__ = ["wait_for"]

"""The chaos suite: every fault on every WebSocket venue, measured against the simulators' truth.

`python -m spinstream.testing.chaos` (or `spinstream chaos`) runs it and prints the table;
`--short` is the CI form (tests/chaos/ runs the same trials under pytest). See docs/chaos.md.
"""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the suite (see `python -m spinstream.testing.chaos --help`)."""
    from spinstream.testing.chaos.__main__ import run

    return run(argv)

"""Pick the compiled core structures, or their pure-Python twins.

This is the one place the choice is made: `SPINSTREAM_NO_EXTENSIONS=1` forces the twins in
`_core/_py/`; otherwise the compiled modules are used when all of them import, and a warning is
logged when they do not (loading is all or nothing).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

log = logging.getLogger(__name__)

FORCED_TWINS: bool = os.environ.get("SPINSTREAM_NO_EXTENSIONS", "") not in ("", "0")

if TYPE_CHECKING or FORCED_TWINS:
    from ._py import book, candles, entry, ring, scan
else:
    try:
        from . import book, candles, entry, ring, scan  # type: ignore[no-redef]  # built from _ext/
    except ImportError as exc:  # pragma: no cover - depends on the build
        log.warning("spinstream compiled core not available (%s); using pure-Python twins", exc)
        from ._py import book, candles, entry, ring, scan

EXTENSIONS: bool = not book.__name__.startswith(__name__ + "._py")

Book = book.Book
parse_fixed = book.parse_fixed
format_fixed = book.format_fixed
CandleAggregator = candles.CandleAggregator
parse_scale = candles.parse_scale
BAR_DTYPE = candles.BAR_DTYPE
TickRing = ring.TickRing
TICK_DTYPE = ring.TICK_DTYPE
Entry = entry.Entry
FastReads = entry.FastReads
Link = entry.Link
Picker = scan.Picker

# The names above are the interface. The module attributes are dropped: importing a submodule
# (`spinstream._core.book`, as the tests do to reach the compiled kind) rebinds them anyway.
del book, candles, entry, ring, scan

__all__ = [
    "EXTENSIONS",
    "Book",
    "parse_fixed",
    "format_fixed",
    "CandleAggregator",
    "parse_scale",
    "BAR_DTYPE",
    "TickRing",
    "TICK_DTYPE",
    "Entry",
    "FastReads",
    "Link",
    "Picker",
]

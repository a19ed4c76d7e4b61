"""Log lines that say which venue and connection they are about.

spinstream's loggers pass `extra={"venue": ..., "conn": ...}` (and `symbol` where one item is
meant); a plain format never shows them. `ContextFormatter` renders them as ` [venue=bybit
conn=private]` after the logger name, and as nothing for a record without them (asyncio's,
aiohttp's, a strategy's own), so one handler formats every record. The `spinstream` command
line uses it; an application embedding spinstream can install it on its own handler.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

__all__ = ["CONTEXT_FIELDS", "LOG_FORMAT", "ContextFormatter"]

CONTEXT_FIELDS = ("venue", "conn", "symbol")  # the `extra` keys spinstream's log calls pass
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"


class ContextFormatter(logging.Formatter):
    """A `%`-style Formatter whose `%(context)s` shows a record's venue, conn and symbol.

    `%(context)s` is empty for a record without them; a format naming `%(venue)s` (or `conn`,
    `symbol`) directly gets "-" there, never a KeyError.
    """

    def __init__(
        self,
        fmt: str = LOG_FORMAT,
        datefmt: str | None = None,
        fields: Sequence[str] = CONTEXT_FIELDS,
    ) -> None:
        super().__init__(fmt, datefmt, defaults={**dict.fromkeys(fields, "-"), "context": ""})
        self.fields = tuple(fields)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        parts = [
            f"{k}={v}" for k in self.fields if (v := getattr(record, k, None)) not in (None, "")
        ]
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return super().formatMessage(record)

"""Log lines show the venue and connection their records carry (issue 14).

spinstream's log calls pass `extra={"venue": ..., "conn": ...}`; the command line's format used
to drop them. `ContextFormatter` shows them, and formats records without them unchanged.
"""

from __future__ import annotations

import logging
import subprocess
import sys

from spinstream.logfmt import ContextFormatter


def _record(**extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("spinstream.x", logging.WARNING, __file__, 1, "stream lost", (), None)
    rec.__dict__.update(extra)
    return rec


def test_venue_conn_and_symbol_appear_after_the_logger_name() -> None:
    f = ContextFormatter("%(levelname)s %(name)s%(context)s: %(message)s")
    line = f.format(_record(venue="bybit", conn="private", symbol="BTCUSDT"))
    assert line == "WARNING spinstream.x [venue=bybit conn=private symbol=BTCUSDT]: stream lost"
    assert f.format(_record(venue="ig")) == "WARNING spinstream.x [venue=ig]: stream lost"


def test_records_without_them_format_as_before() -> None:
    f = ContextFormatter("%(levelname)s %(name)s%(context)s: %(message)s")
    assert f.format(_record()) == "WARNING spinstream.x: stream lost"  # asyncio's, a strategy's
    named = ContextFormatter("%(venue)s|%(conn)s|%(message)s")  # a format naming them directly
    assert named.format(_record()) == "-|-|stream lost"
    assert (
        named.format(_record(venue="binance", conn="usdm-user")) == "binance|usdm-user|stream lost"
    )


def test_the_command_line_formats_with_the_context() -> None:
    code = (
        "import logging; from spinstream import cli; cli.main(['version']); "
        "log = logging.getLogger('spinstream.probe'); "
        "log.warning('stream lost', extra={'venue': 'binance', 'conn': 'spot-public'}); "
        "logging.getLogger('asyncio').warning('plain')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert lines[0].endswith(
        " WARNING spinstream.probe [venue=binance conn=spot-public]: stream lost"
    )
    assert lines[1].endswith(" WARNING asyncio: plain")

"""The logger given to websockets: its lines stay, payloads and credential headers go (defect 7)."""

from __future__ import annotations

import logging

import pytest
from websockets.frames import Close, Frame, Opcode

from spinstream.transport.logs import WS_LOGGER_NAME, redact_ws_args, ws_logger

KEY = "9dcb9d6eff6e9c958d5d80fbd7e55971cb75f36db13a8af27157a23c40bbbece"


def test_data_frames_keep_kind_and_size_only() -> None:
    auth = Frame(Opcode.TEXT, f'{{"op":"auth","args":["{KEY}",1,"sig"]}}'.encode())
    assert redact_ws_args("> %s", (auth,)) == (f"TEXT [{len(auth.data)} bytes]",)
    part = Frame(Opcode.BINARY, b"CST-x|XST-y", fin=False)
    assert redact_ws_args("< %s", (part,)) == ("BINARY [11 bytes, continued]",)
    ping = Frame(Opcode.PING, b"1")
    close = Frame(Opcode.CLOSE, Close(1000, "bye").serialize())
    assert redact_ws_args("> %s", (ping, close)) == (str(ping), str(close))


def test_request_line_query_and_unknown_header_values_are_redacted() -> None:
    path = "/fstream/private/ws?listenKey=abc&events=ORDER_TRADE_UPDATE"
    assert redact_ws_args("> GET %s HTTP/1.1", (path,)) == ("/fstream/private/ws?[redacted]",)
    assert redact_ws_args("> GET %s HTTP/1.1", ("/v5/private",)) == ("/v5/private",)
    assert redact_ws_args("> %s: %s", ("X-MBX-APIKEY", KEY)) == ("X-MBX-APIKEY", "[redacted]")
    auth = ("Authorization", "Bearer t")
    assert redact_ws_args("> %s: %s", auth) == ("Authorization", "[redacted]")
    assert redact_ws_args("< %s: %s", ("Set-Cookie", "s=1")) == ("Set-Cookie", "[redacted]")
    assert redact_ws_args("> %s: %s", ("Host", "127.0.0.1:1")) == ("Host", "127.0.0.1:1")
    assert redact_ws_args("= connection is %s", ("OPEN",)) == ("OPEN",)


def test_ws_logger_logs_redacted_lines_under_our_name(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    log = ws_logger("bybit:private")
    assert log.isEnabledFor(logging.DEBUG)
    log.debug("> %s", Frame(Opcode.TEXT, KEY.encode()))
    log.debug("= connection is %s", "OPEN")
    log.error("parser failed", exc_info=False)
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        (WS_LOGGER_NAME, "> TEXT [64 bytes]"),
        (WS_LOGGER_NAME, "= connection is OPEN"),
        (WS_LOGGER_NAME, "parser failed"),
    ]
    assert all(r.conn == "bybit:private" for r in caplog.records)  # type: ignore[attr-defined]
    assert KEY[:8] not in caplog.text
    caplog.clear()
    caplog.set_level(logging.INFO, logger=WS_LOGGER_NAME)
    assert not log.isEnabledFor(logging.DEBUG)  # websockets then skips formatting frames at all

"""transport/sockets.py: what the backends log and say about errors carries no secret."""

from __future__ import annotations

import logging

import pytest

from spinstream.transport import sockets


def test_picows_log_drops_raw_requests_and_redirect_urls(caplog) -> None:
    log = sockets._PicowsLog(logging.getLogger(sockets.PICOWS_LOGGER_NAME), {"conn": "c"})
    with caplog.at_level(1, logger=sockets.PICOWS_LOGGER_NAME):
        log.log(9, "Send upgrade request: %s", b"GET /ws/listenKeySECRET?k=SECRET HTTP/1.1")
        log.log(9, "New data: %s", b"SECRET")
        log.info("%s replied with HTTP redirect to %s, (status = %s)", "wss://h/SECRET", "x", 302)
        log.info("WS connection established: %s -> %s", "127.0.0.1", "127.0.0.2")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "SECRET" not in text
    assert "redirect" in text and "established" in text
    assert all(getattr(r, "conn", None) == "c" for r in caplog.records)
    assert not log.isEnabledFor(9)


def test_describe_keeps_status_and_drops_url_and_body() -> None:
    picows = pytest.importorskip("picows")
    resp = picows.WSUpgradeResponse.create_error_response(403, b"key=SECRET")
    exc = picows.WSHandshakeError("wss://h/ws?listenKey=SECRET", b"raw SECRET", b"SECRET", resp)
    assert sockets.describe(exc) == "WSHandshakeError: HTTP 403"
    bad = picows.WSInvalidURL("wss://h/ws?listenKey=SECRET", "fragment identifier is meaningless")
    assert sockets.describe(bad) == "WSInvalidURL"
    assert sockets.describe(sockets.SocketClosed("connection closed: code 1011")) == (
        "connection closed: code 1011"
    )


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown WebSocket backend 'aiohttp'"):
        sockets.open_socket("aiohttp", "ws://127.0.0.1:1/")

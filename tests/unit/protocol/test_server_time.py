"""The venues' server-time calls (the clock offset the streams' lag is measured against)."""

from __future__ import annotations

import pytest

from spinstream.errors import ParseError
from spinstream.protocol.binance import rest as binance
from spinstream.protocol.bybit import rest as bybit


def test_binance_server_time_per_market() -> None:
    assert binance.build_server_time("spot").path == "/api/v3/time"
    assert binance.build_server_time("usdm").path == "/fapi/v1/time"
    assert binance.parse_server_time(b'{"serverTime":1700000000123}') == 1_700_000_000_123_000_000


def test_bybit_server_time() -> None:
    req = bybit.build_server_time("linear")
    assert req.path == "/v5/market/time" and "category" not in req.query
    body = b'{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1700000000"},"time":1700000000123}'
    assert bybit.parse_server_time(body) == 1_700_000_000_123_000_000


@pytest.mark.parametrize("body", [b"", b"{}", b'{"serverTime":"x"}', b'{"serverTime":-1}'])
def test_bad_server_time_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError):
        binance.parse_server_time(body)
    with pytest.raises(ParseError):
        bybit.parse_server_time(body.replace(b"serverTime", b"time"))

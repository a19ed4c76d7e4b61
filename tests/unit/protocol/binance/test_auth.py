"""Binance signing against the examples in Binance's own documentation."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from spinstream.credentials import Credentials
from spinstream.errors import ConfigError, UnsupportedError
from spinstream.protocol.binance import auth, rest
from spinstream.protocol.events import RestRequest

# The example key pair of Binance's rest-api.md / web-socket-api.md "SIGNED request example (HMAC)".
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
CREDS = Credentials.of(DOC_KEY, DOC_SECRET)

REST_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
REST_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
REST_UNICODE_SIGNATURE = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
WS_SIGNATURE = "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


def test_hmac_of_the_documented_query() -> None:
    assert auth.hmac_hex(CREDS, REST_QUERY) == REST_SIGNATURE


def test_sign_appends_recv_window_timestamp_and_signature() -> None:
    req = RestRequest(
        method="POST",
        base="spot",
        path="/api/v3/order",
        query="symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1",
    )
    signed = auth.sign(req, CREDS, 1499827319559)
    assert signed.query == f"{REST_QUERY}&signature={REST_SIGNATURE}"
    assert signed.headers == {"X-MBX-APIKEY": DOC_KEY}
    assert req.headers == {}  # the input is not changed


def test_place_order_reproduces_the_documented_request() -> None:
    req = rest.build_place_order(
        "spot", CREDS, 1499827319559, "LTCBTC", "buy", "limit", "1", "0.1", "GTC"
    )
    assert (req.method, req.base, req.path) == ("POST", "spot", "/api/v3/order")
    assert req.query == f"{REST_QUERY}&signature={REST_SIGNATURE}"


def test_non_ascii_symbol_is_percent_encoded_before_signing() -> None:
    req = rest.build_place_order(
        "spot", CREDS, 1499827319559, "１２３４５６", "BUY", "LIMIT", "1", "0.1", "GTC"
    )
    assert req.query.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&")
    assert req.query.endswith(f"&signature={REST_UNICODE_SIGNATURE}")


def test_body_is_part_of_the_payload() -> None:
    req = RestRequest(
        method="POST",
        base="spot",
        path="/api/v3/order",
        query="symbol=LTCBTC",
        body="side=BUY&type=MARKET&quantity=1",
    )
    signed = auth.sign(req, CREDS, 1)
    query, sig = signed.query.rsplit("&signature=", 1)
    assert query == "symbol=LTCBTC&recvWindow=5000&timestamp=1"
    payload = (query + req.body).encode()  # query string + body, no separator
    assert sig == hmac.new(DOC_SECRET.encode(), payload, hashlib.sha256).hexdigest()
    assert signed.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_recv_window_bounds() -> None:
    req = RestRequest(method="GET", base="spot", path="/api/v3/account")
    assert "recvWindow=60000&" in auth.sign(req, CREDS, 1, recv_window_ms=60000).query
    with pytest.raises(ValueError):
        auth.sign(req, CREDS, 1, recv_window_ms=60001)


def test_ws_params_are_sorted_and_signed_as_documented() -> None:
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
    }
    signed = auth.sign_ws_params(params, CREDS, 1645423376532, recv_window_ms=100)
    assert signed["signature"] == WS_SIGNATURE
    assert signed["apiKey"] == DOC_KEY and signed["timestamp"] == 1645423376532


def test_login_frame_is_a_signed_user_data_subscription() -> None:
    frame = json.loads(auth.login_frame(CREDS, 1747385641636, req_id=7))
    assert frame["id"] == 7 and frame["method"] == "userDataStream.subscribe.signature"
    params = frame["params"]
    assert set(params) == {"apiKey", "timestamp", "signature"}
    payload = f"apiKey={DOC_KEY}&timestamp=1747385641636"
    assert params["signature"] == auth.hmac_hex(CREDS, payload)


def test_api_key_only_requests_carry_no_signature() -> None:
    req = rest.build_listen_key(CREDS)
    assert req.headers == {"X-MBX-APIKEY": DOC_KEY} and "signature" not in req.query


def test_unusable_keys_are_refused_before_signing() -> None:
    pem = Credentials.of("key", "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----")
    with pytest.raises(UnsupportedError) as info:
        auth.hmac_hex(pem, "x")
    assert "abc" not in str(info.value)
    with pytest.raises(ConfigError):
        auth.check_credentials(Credentials.of("key", ""))


def test_secret_never_leaves_auth() -> None:
    req = auth.sign(RestRequest(method="GET", base="spot", path="/x", query="a=1"), CREDS, 5)
    frame = auth.login_frame(CREDS, 5)
    for text in (repr(req), str(req.headers), req.query, frame, repr(CREDS), str(CREDS)):
        assert DOC_SECRET not in text

"""okx.auth: REST and WS login signatures against python-okx's own functions, headers, the
demo header, the passphrase (Credentials), and no secret in any repr or error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from spinstream.credentials import Credentials
from spinstream.errors import ConfigError
from spinstream.protocol.events import RestRequest
from spinstream.protocol.okx import auth, rest

SECRET = "22582BD0CFF14C41EDBF1AB98506286D"  # the docs' example secret format
PASSPHRASE = "okx-passphrase-value"
CREDS = Credentials.of("985d5b66-57ce-40fb-b714-afc0b9787083", SECRET, PASSPHRASE)
NOW = 1_607_418_537_715  # 2020-12-08T09:08:57.715Z


def b64(text: str, secret: str = SECRET) -> str:
    return base64.b64encode(
        hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
    ).decode()


def test_iso_ms_timestamp() -> None:
    assert auth.iso_ms(NOW) == "2020-12-08T09:08:57.715Z"  # the docs' example timestamp
    assert auth.iso_ms(1_700_000_000_005) == "2023-11-14T22:13:20.005Z"
    assert auth.iso_ms(0) == "1970-01-01T00:00:00.000Z"


def test_rest_get_signature_matches_python_okx() -> None:
    utils = pytest.importorskip("okx.utils")
    req = rest.build_account("spot", CREDS, NOW)
    ts = "2020-12-08T09:08:57.715Z"
    want = utils.signature(ts, "GET", "/api/v5/account/balance", "", SECRET).decode()
    assert req.headers["OK-ACCESS-SIGN"] == want == b64(ts + "GET/api/v5/account/balance")
    # with a query: requestPath includes it, as python-okx signs its GET params
    req = rest.build_open_orders("swap", CREDS, NOW, "BTC-USDT-SWAP")
    path = "/api/v5/trade/orders-pending?instType=SWAP&instId=BTC-USDT-SWAP"
    assert req.query == path.partition("?")[2]
    want = utils.signature(ts, "GET", path, "", SECRET).decode()
    assert req.headers["OK-ACCESS-SIGN"] == want


def test_rest_post_signature_matches_python_okx() -> None:
    utils = pytest.importorskip("okx.utils")
    req = rest.build_place_order(
        "spot", CREDS, NOW, "BTC-USDT", "buy", "limit", "0.001", "30000.5", client_order_id="c1"
    )
    assert req.method == "POST" and req.body is not None
    assert json.loads(req.body) == {
        "instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
        "sz": "0.001", "px": "30000.5", "clOrdId": "c1",
    }  # fmt: skip
    ts = auth.iso_ms(NOW)
    want = utils.signature(ts, "POST", "/api/v5/trade/order", req.body, SECRET).decode()
    assert req.headers["OK-ACCESS-SIGN"] == want
    h = req.headers
    assert h["OK-ACCESS-KEY"] == CREDS.api_key and h["OK-ACCESS-TIMESTAMP"] == ts
    assert h["OK-ACCESS-PASSPHRASE"] == PASSPHRASE and h["Content-Type"] == "application/json"
    assert "x-simulated-trading" not in h


def test_demo_header_on_signed_and_public_calls() -> None:
    assert rest.build_account("spot", CREDS, NOW, demo=True).headers["x-simulated-trading"] == "1"
    assert rest.build_ticker("spot", "BTC-USDT", demo=True).headers == {"x-simulated-trading": "1"}
    assert rest.build_ticker("spot", "BTC-USDT").headers == {}


def test_login_frame_matches_python_okx(monkeypatch: pytest.MonkeyPatch) -> None:
    ws = pytest.importorskip("okx.websocket.WsUtils")
    monkeypatch.setattr(ws, "getLocalTime", lambda: NOW // 1000)
    theirs = json.loads(ws.initLoginParams(False, CREDS.api_key, PASSPHRASE, SECRET))
    ours = json.loads(auth.login_frame(CREDS, NOW))
    assert ours["op"] == theirs["op"] == "login"
    (mine,), (ref,) = ours["args"], theirs["args"]
    assert mine["timestamp"] == "1607418537" == str(ref["timestamp"])  # seconds, as a string
    assert mine["sign"] == ref["sign"] == b64("1607418537GET/users/self/verify")
    assert mine["apiKey"] == ref["apiKey"] == CREDS.api_key
    assert mine["passphrase"] == ref["passphrase"] == PASSPHRASE


def test_plaintexts() -> None:
    assert auth.login_plaintext(1538054050) == "1538054050GET/users/self/verify"
    assert (
        auth.rest_plaintext("T", "get", "/api/v5/account/balance", "ccy=BTC", "")
        == "TGET/api/v5/account/balance?ccy=BTC"
    )


def test_passphrase_required() -> None:
    no_pass = Credentials.of("key", "secret")
    req = RestRequest(method="GET", base="spot", path="/api/v5/account/balance")
    for call in (lambda: auth.sign(req, no_pass, NOW), lambda: auth.login_frame(no_pass, NOW)):
        with pytest.raises(ConfigError, match="passphrase"):
            call()
    with pytest.raises(ConfigError):
        auth.check_credentials(Credentials.of("", "secret", "p"))


def test_credentials_passphrase_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K", "key1")
    monkeypatch.setenv("S", "sec1")
    monkeypatch.setenv("P", "pass1")
    c = Credentials.from_env("K", "S", "P")
    assert c.passphrase is not None and c.passphrase.reveal() == "pass1"
    assert Credentials.from_env("K", "S").passphrase is None  # other venues: unchanged
    monkeypatch.delenv("P")
    with pytest.raises(ConfigError, match="P"):
        Credentials.from_env("K", "S", "P")


def test_no_secret_in_reprs_or_errors() -> None:
    req = rest.build_account("spot", CREDS, NOW)
    shown = repr(CREDS) + str(CREDS) + repr(CREDS.passphrase) + repr(req) + str(req)
    assert SECRET not in shown and PASSPHRASE not in shown
    assert auth.redact(f"echo {SECRET} {PASSPHRASE}", CREDS) == "echo ******** ********"

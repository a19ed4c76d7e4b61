"""bybit.auth: WS auth frame and REST signing headers, against independently computed HMACs."""

from __future__ import annotations

import hashlib
import hmac
import json

from spinstream.credentials import Credentials
from spinstream.protocol.bybit import auth
from spinstream.protocol.events import RestRequest

KEY = "kEyAbCdEf123456"
SECRET = "s3cr3t-Test-Secret-0123456789abcdef"
CREDS = Credentials.of(KEY, SECRET)


def hexmac(text: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def test_login_frame_known_answer() -> None:
    now_ms = 1_700_000_000_000
    frame = json.loads(auth.login_frame(CREDS, now_ms))
    expires = now_ms + auth.AUTH_EXPIRES_MS
    assert frame == {"op": "auth", "args": [KEY, expires, hexmac(f"GET/realtime{expires}")]}
    # the docs' recipe, literally: hmac(secret, "GET/realtime" + expires), lowercase hex
    assert frame["args"][2] == hexmac("GET/realtime1700000010000")
    assert frame["args"][2] == frame["args"][2].lower() and len(frame["args"][2]) == 64
    assert isinstance(frame["args"][1], int)  # expires is a number, as in the docs' example


def test_login_frame_expires_and_req_id() -> None:
    frame = json.loads(auth.login_frame(CREDS, 5, expires_in_ms=1000, req_id="r1"))
    assert frame["args"][1] == 1005 and frame["req_id"] == "r1"
    assert frame["args"][2] == hexmac("GET/realtime1005")


def test_rest_plaintext_matches_the_docs_example() -> None:
    # docs/v5/guide.mdx: the string to sign for the GET and POST examples
    get = auth.rest_plaintext(
        1658384314791, "XXXXXXXXXX", 5000, "category=option&symbol=BTC-29JUL22-25000-C"
    )
    assert get == "1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C"
    post = auth.rest_plaintext(1658385579423, "XXXXXXXXXX", 5000, '{"category": "option"}')
    assert post == '1658385579423XXXXXXXXXX5000{"category": "option"}'
    # (the docs print the resulting signatures but not the secret, so only the text is checked)


def test_sign_get_signs_the_query() -> None:
    req = RestRequest(method="GET", base="linear", path="/v5/order/realtime", query="a=1&b=2")
    signed = auth.sign(req, CREDS, 1658384314791)
    h = signed.headers
    assert h["X-BAPI-API-KEY"] == KEY
    assert h["X-BAPI-TIMESTAMP"] == "1658384314791"
    assert h["X-BAPI-RECV-WINDOW"] == "5000"
    assert h["X-BAPI-SIGN"] == hexmac(f"1658384314791{KEY}5000a=1&b=2")
    assert "Content-Type" not in h
    assert signed.query == req.query and signed.path == req.path and signed.cost == req.cost


def test_sign_post_signs_the_exact_body() -> None:
    body = '{"category":"linear","symbol":"BTCUSDT"}'
    req = RestRequest(method="POST", base="linear", path="/v5/order/cancel", body=body)
    signed = auth.sign(req, CREDS, 42, recv_window_ms=3000)
    assert signed.headers["X-BAPI-SIGN"] == hexmac(f"42{KEY}3000{body}")
    assert signed.headers["X-BAPI-RECV-WINDOW"] == "3000"
    assert signed.headers["Content-Type"] == "application/json"
    assert signed.body == body


def test_no_secret_anywhere_visible() -> None:
    signed = auth.sign(RestRequest(method="GET", base="spot", path="/x", query="q=1"), CREDS, 1)
    frame = auth.login_frame(CREDS, 1)
    for text in (repr(signed), str(signed), repr(CREDS), frame, str(signed.headers)):
        assert SECRET not in text
    assert KEY not in repr(signed)  # RestRequest's repr hides headers


def test_redact() -> None:
    assert auth.redact(f"bad {SECRET} here", CREDS) == "bad ******** here"
    assert auth.redact("fine", None) == "fine"

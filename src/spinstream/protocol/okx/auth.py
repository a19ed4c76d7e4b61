"""OKX v5 signatures: REST request headers and the private WebSocket login frame.

The only module of the package that opens a `Secret` (the API secret and the passphrase).

REST: `OK-ACCESS-SIGN` = base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath +
body)), where `timestamp` is ISO 8601 UTC with milliseconds ("2020-12-08T09:08:57.715Z", the
same text as `OK-ACCESS-TIMESTAMP`), requestPath includes the query string of a GET
("/api/v5/account/balance?ccy=BTC") and body is the JSON text of a POST ("" for a GET).
Headers OK-ACCESS-KEY / -SIGN / -TIMESTAMP / -PASSPHRASE; demo trading adds
`x-simulated-trading: 1` to every REST call (signed or not).

WebSocket login: `{"op":"login","args":[{"apiKey", "passphrase", "timestamp", "sign"}]}` with
`timestamp` in Unix **seconds** (a string) and sign = base64(HMAC-SHA256(secret, timestamp +
"GET" + "/users/self/verify")); OKX refuses it 30 s after the timestamp.

Checked against OKX's docs (okx.com/docs-v5 "REST Authentication", "WebSocket Login") and
python-okx 0.4.4 (`okx.utils.signature`, `okx.websocket.WsUtils.initLoginParams`), whose
functions compute the same signatures in tests/unit/protocol/okx/test_auth.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone

import msgspec

from spinstream.credentials import Credentials
from spinstream.errors import ConfigError
from spinstream.protocol.events import RestRequest

__all__ = [
    "DEMO_HEADER",
    "LOGIN_PATH",
    "check_credentials",
    "iso_ms",
    "login_args",
    "login_frame",
    "login_plaintext",
    "redact",
    "rest_plaintext",
    "sign",
    "simulated",
]

LOGIN_PATH = "/users/self/verify"
DEMO_HEADER = ("x-simulated-trading", "1")


def check_credentials(creds: Credentials) -> None:
    """Refuse what OKX cannot sign with, before any connection is made.

    Raises:
        ConfigError: an empty key or secret, or no passphrase (OKX keys always have one).
    """
    if not creds.api_key or not creds.api_secret.reveal():
        raise ConfigError("okx: the API key and secret must not be empty")
    if creds.passphrase is None or not creds.passphrase.reveal():
        raise ConfigError("okx: the API key's passphrase is missing (Credentials.passphrase)")


def _b64_hmac(creds: Credentials, text: str) -> str:
    mac = hmac.new(creds.api_secret.reveal().encode(), text.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _passphrase(creds: Credentials) -> str:
    check_credentials(creds)
    assert creds.passphrase is not None  # checked above
    return creds.passphrase.reveal()


def iso_ms(now_ms: int) -> str:
    """Epoch ms as OKX's REST timestamp: ISO 8601 UTC with milliseconds and a "Z"."""
    t = datetime.fromtimestamp(now_ms // 1000, tz=timezone.utc)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{now_ms % 1000:03d}Z"


def rest_plaintext(timestamp: str, method: str, path: str, query: str, body: str) -> str:
    """The string OKX signs for a REST call: timestamp, METHOD, path(?query), body."""
    request_path = f"{path}?{query}" if query else path
    return f"{timestamp}{method.upper()}{request_path}{body}"


def login_plaintext(timestamp_s: int | str) -> str:
    """The string OKX signs for the WebSocket login: seconds + "GET" + "/users/self/verify"."""
    return f"{timestamp_s}GET{LOGIN_PATH}"


def simulated(req: RestRequest) -> RestRequest:
    """REQ with demo trading's `x-simulated-trading: 1` header (every demo REST call)."""
    headers = dict(req.headers)
    headers[DEMO_HEADER[0]] = DEMO_HEADER[1]
    return msgspec.structs.replace(req, headers=headers)


def sign(req: RestRequest, creds: Credentials, now_ms: int, *, demo: bool = False) -> RestRequest:
    """REQ with OKX's signing headers (and the demo header when DEMO).

    Raises:
        ConfigError: credentials OKX cannot sign with (see `check_credentials`).
    """
    passphrase = _passphrase(creds)
    timestamp = iso_ms(now_ms)
    body = req.body or ""
    signature = _b64_hmac(creds, rest_plaintext(timestamp, req.method, req.path, req.query, body))
    headers = dict(req.headers)
    headers.update(
        {
            "OK-ACCESS-KEY": creds.api_key,
            "OK-ACCESS-SIGN": signature,
            "OK-ACCESS-TIMESTAMP": timestamp,
            "OK-ACCESS-PASSPHRASE": passphrase,
            "Content-Type": "application/json",
        }
    )
    if demo:
        headers[DEMO_HEADER[0]] = DEMO_HEADER[1]
    return msgspec.structs.replace(req, headers=headers)


def login_args(creds: Credentials, now_ms: int) -> dict[str, str]:
    """The login op's one argument: key, passphrase, seconds timestamp and signature."""
    passphrase = _passphrase(creds)
    timestamp = str(now_ms // 1000)
    return {
        "apiKey": creds.api_key,
        "passphrase": passphrase,
        "timestamp": timestamp,
        "sign": _b64_hmac(creds, login_plaintext(timestamp)),
    }


def login_frame(creds: Credentials, now_ms: int) -> str:
    """The private / business stream's login frame (valid 30 s after now_ms)."""
    return msgspec.json.encode({"op": "login", "args": [login_args(creds, now_ms)]}).decode()


def redact(text: str, creds: Credentials | None) -> str:
    """TEXT with the secret and passphrase blanked out, should a venue ever echo them."""
    if creds is None:
        return text
    for s in (creds.api_secret, creds.passphrase):
        value = s.reveal() if s is not None else ""
        if value:
            text = text.replace(value, "********")
    return text

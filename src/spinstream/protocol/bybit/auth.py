"""Bybit v5 signatures: REST request headers and the private WebSocket auth frame.

The only module of the package that opens a `Secret`. REST: lowercase hex HMAC-SHA256 over
`timestamp + api_key + recv_window + (queryString | jsonBody)`, sent as X-BAPI-API-KEY /
X-BAPI-TIMESTAMP / X-BAPI-SIGN / X-BAPI-RECV-WINDOW. WebSocket: `{"op":"auth","args":[api_key,
expires, hex HMAC-SHA256(secret, "GET/realtime" + expires)]}` with `expires` a ms time later
than now. Nothing here stores a secret or returns it outside a signature.
"""

from __future__ import annotations

import hashlib
import hmac

import msgspec

from spinstream.credentials import Credentials
from spinstream.protocol.events import RestRequest

__all__ = [
    "AUTH_EXPIRES_MS",
    "RECV_WINDOW_MS",
    "login_frame",
    "redact",
    "rest_plaintext",
    "sign",
    "ws_plaintext",
]

RECV_WINDOW_MS = 5000  # Bybit's default; the request is valid this long after its timestamp
AUTH_EXPIRES_MS = 10_000  # the WS auth frame's validity (ccxt uses the same 10 s)


def _hex_hmac(creds: Credentials, text: str) -> str:
    secret = creds.api_secret.reveal().encode()
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def rest_plaintext(timestamp_ms: int, api_key: str, recv_window_ms: int, payload: str) -> str:
    """The string Bybit signs for a REST call: timestamp, key, recv window, then the payload."""
    return f"{timestamp_ms}{api_key}{recv_window_ms}{payload}"


def ws_plaintext(expires_ms: int) -> str:
    """The string Bybit signs for the private WebSocket auth: "GET/realtime" + expires."""
    return f"GET/realtime{expires_ms}"


def sign(
    req: RestRequest, creds: Credentials, now_ms: int, *, recv_window_ms: int = RECV_WINDOW_MS
) -> RestRequest:
    """REQ with Bybit's signing headers added (payload: the query for GET, the JSON body else)."""
    payload = req.query if req.method == "GET" else (req.body or "")
    signature = _hex_hmac(creds, rest_plaintext(now_ms, creds.api_key, recv_window_ms, payload))
    headers = dict(req.headers)
    headers.update(
        {
            "X-BAPI-API-KEY": creds.api_key,
            "X-BAPI-TIMESTAMP": str(now_ms),
            "X-BAPI-SIGN": signature,
            "X-BAPI-RECV-WINDOW": str(recv_window_ms),
        }
    )
    if req.method != "GET":
        headers["Content-Type"] = "application/json"
    return msgspec.structs.replace(req, headers=headers)


def login_frame(
    creds: Credentials,
    now_ms: int,
    *,
    expires_in_ms: int = AUTH_EXPIRES_MS,
    req_id: str | None = None,
) -> str:
    """The private stream's auth frame, valid until now_ms + expires_in_ms."""
    expires = now_ms + expires_in_ms
    frame: dict[str, object] = {
        "op": "auth",
        "args": [creds.api_key, expires, _hex_hmac(creds, ws_plaintext(expires))],
    }
    if req_id is not None:
        frame["req_id"] = req_id
    return msgspec.json.encode(frame).decode()


def redact(text: str, creds: Credentials | None) -> str:
    """TEXT with the secret blanked out, should a venue ever echo it (defence in depth)."""
    if creds is None:
        return text
    secret = creds.api_secret.reveal()
    return text.replace(secret, "********") if secret else text

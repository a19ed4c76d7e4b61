"""Binance request signing: HMAC-SHA256 (hex) over REST query + body, and over sorted WS API params.

The only module of the venue that opens a `Secret`. What it returns carries the API key and a
signature, never the secret. RSA and Ed25519 keys (which Binance also accepts) are not
supported yet: they are refused with `UnsupportedError`, before anything is signed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote, urlencode

import msgspec

from spinstream.credentials import Credentials
from spinstream.errors import ConfigError, UnsupportedError
from spinstream.protocol.events import RestRequest

__all__ = [
    "API_KEY_HEADER",
    "DEFAULT_RECV_WINDOW_MS",
    "check_credentials",
    "encode_params",
    "hmac_hex",
    "login_frame",
    "sign",
    "sign_ws_params",
    "with_api_key",
]

API_KEY_HEADER = "X-MBX-APIKEY"
DEFAULT_RECV_WINDOW_MS = 5000  # Binance's default; at most 60000
MAX_RECV_WINDOW_MS = 60_000
USER_DATA_SUBSCRIBE = "userDataStream.subscribe.signature"

ParamValue = str | int


def encode_params(params: Mapping[str, ParamValue]) -> str:
    """`k=v&...` in the given order, percent-encoded (Binance signs exactly what is sent)."""
    return urlencode(params, quote_via=quote, safe="")


def check_credentials(creds: Credentials) -> None:
    """Refuse what we cannot sign with, before any connection is made.

    Raises:
        UnsupportedError: an RSA/Ed25519 private key (only HMAC keys are supported).
        ConfigError: an empty API key or secret.
    """
    secret = creds.api_secret.reveal()
    if not creds.api_key or not secret:
        raise ConfigError("binance: the API key and secret must not be empty")
    if "PRIVATE KEY" in secret:
        raise UnsupportedError("binance: RSA/Ed25519 API keys are not supported; use an HMAC key")


def hmac_hex(creds: Credentials, payload: str) -> str:
    """HMAC-SHA256 of PAYLOAD under the API secret, as lowercase hex."""
    check_credentials(creds)
    secret = creds.api_secret.reveal()
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _recv_window(recv_window_ms: int) -> int:
    if not 0 < recv_window_ms <= MAX_RECV_WINDOW_MS:
        raise ValueError(f"recvWindow must be in 1..{MAX_RECV_WINDOW_MS} ms")
    return recv_window_ms


def with_api_key(req: RestRequest, creds: Credentials) -> RestRequest:
    """Add the `X-MBX-APIKEY` header only (USER_STREAM endpoints such as the listenKey)."""
    return msgspec.structs.replace(req, headers={**req.headers, API_KEY_HEADER: creds.api_key})


def sign(
    req: RestRequest,
    creds: Credentials,
    now_ms: int,
    *,
    recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
) -> RestRequest:
    """A SIGNED request: append recvWindow and timestamp, sign query + body, add the key header.

    The payload is the query string concatenated with the body, no separator (Binance's
    "SIGNED endpoint" rule); the signature is appended to the query string.
    """
    stamp = f"recvWindow={_recv_window(recv_window_ms)}&timestamp={int(now_ms)}"
    query = f"{req.query}&{stamp}" if req.query else stamp
    signature = hmac_hex(creds, query + (req.body or ""))
    headers = {**req.headers, API_KEY_HEADER: creds.api_key}
    if req.body:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    return msgspec.structs.replace(req, query=f"{query}&signature={signature}", headers=headers)


def sign_ws_params(
    params: Mapping[str, ParamValue],
    creds: Credentials,
    now_ms: int,
    *,
    recv_window_ms: int | None = None,
) -> dict[str, ParamValue]:
    """WS API params with apiKey, timestamp and signature over all params sorted by name."""
    out: dict[str, ParamValue] = {**params, "apiKey": creds.api_key, "timestamp": int(now_ms)}
    if recv_window_ms is not None:
        out["recvWindow"] = _recv_window(recv_window_ms)
    out.pop("signature", None)
    payload = "&".join(f"{k}={out[k]}" for k in sorted(out))
    out["signature"] = hmac_hex(creds, payload)
    return out


def login_frame(creds: Credentials, now_ms: int, *, req_id: int | str = 1) -> str:
    """The spot user-data "login": a `userDataStream.subscribe.signature` WS API request."""
    params = sign_ws_params({}, creds, now_ms)
    frame = {"id": req_id, "method": USER_DATA_SUBSCRIBE, "params": params}
    return msgspec.json.encode(frame).decode()

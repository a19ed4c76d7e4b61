"""OKX v5 signatures: REST headers and the WebSocket `login` op, checked in OKX's order.

REST: `OK-ACCESS-SIGN` = base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body)),
`requestPath` with its query string (GET), `body` the raw JSON (POST), `timestamp` the ISO-8601
millisecond `OK-ACCESS-TIMESTAMP`. WS login: `sign` = base64(HMAC-SHA256(secret, timestamp +
"GET" + "/users/self/verify")) with `timestamp` in Unix seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from .state import OkxError, parse_iso_ms

__all__ = ["Creds", "sign", "check_rest", "check_login", "REST_WINDOW_MS", "WS_WINDOW_S"]

REST_WINDOW_MS = 30_000  # OKX refuses a request timestamp more than 30 s from server time
WS_WINDOW_S = 30  # and a login timestamp more than 30 s away


@dataclass
class Creds:
    """One API key the sim accepts (secret and passphrase never printed)."""

    key: str = field(repr=False)
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)
    uid: str = ""


def sign(secret: str, payload: str) -> str:
    """base64 HMAC-SHA256 of `payload` under `secret`."""
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def _eq(a: str, b: str | None) -> bool:
    return b is not None and hmac.compare_digest(a.encode(), b.encode())


def check_rest(
    headers: dict[str, str],
    method: str,
    request_path: str,
    body: str,
    creds: Creds,
    other: Creds,
    now_ms: int,
    reject: bool,
) -> None:
    """Raise `OkxError` (HTTP 401) unless the headers sign this request under `creds`.

    `other` is the key of the other environment (live vs demo): using it answers 50101.
    `reject` (an armed `reject_auth` fault) fails the signature check.
    """
    key = headers.get("OK-ACCESS-KEY")
    pp = headers.get("OK-ACCESS-PASSPHRASE")
    sig = headers.get("OK-ACCESS-SIGN")
    ts = headers.get("OK-ACCESS-TIMESTAMP")
    if not key:
        raise OkxError("50103", 'Request header "OK-ACCESS-KEY" cannot be empty.', 401)
    if not pp:
        raise OkxError("50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.', 401)
    if not sig:
        raise OkxError("50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.', 401)
    if not ts:
        raise OkxError("50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.', 401)
    ts_ms = parse_iso_ms(ts)
    if ts_ms is None:
        raise OkxError("50112", "Invalid OK-ACCESS-TIMESTAMP", 401)
    if abs(now_ms - ts_ms) > REST_WINDOW_MS:
        raise OkxError("50102", "Timestamp request expired", 401)
    if not _eq(creds.key, key):
        if _eq(other.key, key):
            raise OkxError("50101", "APIKey does not match current environment.", 401)
        raise OkxError("50111", "Invalid OK-ACCESS-KEY", 401)
    if not _eq(creds.passphrase, pp):
        raise OkxError("50105", "Invalid OK-ACCESS-PASSPHRASE", 401)
    if reject or not _eq(sign(creds.secret, ts + method + request_path + body), sig):
        raise OkxError("50113", "Invalid Sign", 401)


def check_login(arg: object, creds: Creds, now_s: float, reject: bool) -> None:
    """Raise `OkxError` with OKX's WS code unless `arg` is a valid login for `creds`."""
    if not isinstance(arg, dict) or not all(
        isinstance(arg.get(k), str) for k in ("apiKey", "passphrase", "sign")
    ):
        raise OkxError("60012", "Invalid request")
    raw = arg.get("timestamp")
    # a string per the docs; OKX's own SDK (python-okx) sends an int, which OKX accepts too
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise OkxError("60012", "Invalid request")
    ts = str(raw)
    try:
        ts_s = float(ts)
    except ValueError:
        raise OkxError("60004", f"Invalid timestamp: {ts}") from None
    if abs(now_s - ts_s) > WS_WINDOW_S:
        raise OkxError("60006", "Timestamp request expired")
    if not _eq(creds.key, arg["apiKey"]):
        raise OkxError("60005", "Invalid OK-ACCESS-KEY")
    if not _eq(creds.passphrase, arg["passphrase"]):
        raise OkxError("60024", "Wrong passphrase")
    if reject or not _eq(sign(creds.secret, ts + "GET" + "/users/self/verify"), arg["sign"]):
        raise OkxError("60007", "Invalid sign")

"""IG authentication: the REST session v2 login, its tokens, and the Lightstreamer password.

The only module of the package that opens a `Secret`. For IG, `Credentials.api_key` is the API
key (sent as `X-IG-API-KEY`), `Credentials.api_secret` the account password, and the login
identifier (user name) comes from the account's configuration (`AccountConfig.identifier`).

`POST /session` (VERSION 2) answers with the session tokens in the `CST` and `X-SECURITY-TOKEN`
response headers and, in the body, the current account id and the `lightstreamerEndpoint`.
`IgSession` keeps those tokens as `Secret`s; they leave it only as request headers
(`authorize`) and as the Lightstreamer password `CST-<cst>|XST-<xst>` (`ls_password`), never in
a repr. The tokens stay valid for 12 h after the last call; IG invalidates them all during
weekend maintenance, and a call with a dead token answers 401 `error.security.client-token-
invalid`: the caller logs in again once and retries (`rest.authorized_call`).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from msgspec.structs import replace

from spinstream.credentials import Credentials, Secret
from spinstream.errors import AuthError, ParseError
from spinstream.protocol.events import RestRequest

from . import schemas, shield

__all__ = [
    "ACCEPT",
    "BASE",
    "CONTENT_TYPE",
    "IgSession",
    "api_headers",
    "redact",
]

VENUE = "ig"
BASE = "otc"  # the one REST base key (SPEC.rest_bases)
CONTENT_TYPE = "application/json; charset=UTF-8"
ACCEPT = "application/json; charset=UTF-8"


def api_headers(version: int, creds: Credentials | None = None) -> dict[str, str]:
    """The headers of every IG call: VERSION, JSON content types, and the API key if known."""
    h = {"VERSION": str(version), "Content-Type": CONTENT_TYPE, "Accept": ACCEPT}
    if creds is not None:
        h["X-IG-API-KEY"] = creds.api_key
    return h


class IgSession:
    """One IG login: its tokens, the account it opened and where that account streams.

    Pure state, shared by the account's REST calls and its stream: `login_request()` is the call
    to make, `on_login(headers, body)` takes the answer, `authorize(req)` adds the tokens to a
    request, `invalidate()` forgets them (a 401 token error; the next call logs in again).
    `generation` counts logins, so a holder can tell whether the tokens changed.
    """

    __slots__ = (
        "_creds",
        "_cst",
        "_identifier",
        "_xst",
        "account_id",
        "accounts",
        "client_id",
        "currency",
        "generation",
        "lightstreamer_endpoint",
    )

    def __init__(self, creds: Credentials, identifier: str) -> None:
        if not identifier:
            raise ValueError("an IG login needs the account's identifier (user name)")
        self._creds = creds
        self._identifier = identifier
        self._cst: Secret | None = None
        self._xst: Secret | None = None
        self.account_id: str | None = None
        self.accounts: tuple[str, ...] = ()
        self.client_id: str | None = None
        self.currency: str | None = None
        self.lightstreamer_endpoint: str | None = None
        self.generation = 0

    def __repr__(self) -> str:  # no identifier, no tokens
        return (
            f"IgSession(account={self.account_id!r}, logged_in={self.logged_in}, "
            f"generation={self.generation})"
        )

    @property
    def logged_in(self) -> bool:
        return self._cst is not None and self._xst is not None

    @property
    def api_key(self) -> str:
        return self._creds.api_key

    def login_request(self) -> RestRequest:
        """`POST /session` v2 with the identifier and password (a non-trading call)."""
        body = msgspec.json.encode(
            {"identifier": self._identifier, "password": self._creds.api_secret.reveal()}
        ).decode()
        return RestRequest(
            method="POST",
            base=BASE,
            path="/session",
            body=body,
            headers=api_headers(2, self._creds),
            cost=shield.cost(shield.CallKind.NON_TRADING),
        )

    def on_login(self, headers: Mapping[str, str], body: bytes) -> None:
        """Take a successful login answer: tokens from the headers, account from the body.

        HEADERS is the transport's case-insensitive `Headers` (IG writes `CST`, a proxy may
        write `cst`).

        Raises:
            ParseError: no tokens in the headers, or a body without the account/endpoint.
        """
        cst, xst = headers.get("CST"), headers.get("X-SECURITY-TOKEN")
        if not cst or not xst:
            raise ParseError("ig login: the answer has no CST / X-SECURITY-TOKEN headers")
        try:
            s = schemas.SESSION.decode(body)
        except msgspec.DecodeError as exc:
            raise ParseError(f"ig login: bad body: {exc}") from exc
        self._cst, self._xst = Secret(cst), Secret(xst)
        self.account_id = s.currentAccountId
        self.accounts = tuple(a.accountId for a in s.accounts)
        self.client_id = s.clientId
        self.currency = s.currencyIsoCode
        self.lightstreamer_endpoint = s.lightstreamerEndpoint
        self.generation += 1

    def invalidate(self) -> None:
        """Forget the tokens (they were refused); the account and endpoint stay as hints."""
        self._cst = self._xst = None

    def authorize(self, req: RestRequest) -> RestRequest:
        """REQ with the API key and the session tokens in its headers.

        Raises:
            AuthError: not logged in.
        """
        if self._cst is None or self._xst is None:
            raise AuthError(VENUE, "not-logged-in", "no IG session: log in first")
        headers = dict(req.headers)
        headers["X-IG-API-KEY"] = self._creds.api_key
        headers["CST"] = self._cst.reveal()
        headers["X-SECURITY-TOKEN"] = self._xst.reveal()
        return replace(req, headers=headers)

    def ls_password(self) -> Secret:
        """The Lightstreamer password IG expects: `CST-<cst>|XST-<xst>`.

        Raises:
            AuthError: not logged in.
        """
        if self._cst is None or self._xst is None:
            raise AuthError(VENUE, "not-logged-in", "no IG session: log in first")
        return Secret(f"CST-{self._cst.reveal()}|XST-{self._xst.reveal()}")

    def redact(self, text: str) -> str:
        """TEXT with the password and tokens blanked out, should anything ever echo them."""
        secrets = [self._creds.api_secret.reveal()]
        secrets += [s.reveal() for s in (self._cst, self._xst) if s is not None]
        for s in secrets:
            if s:
                text = text.replace(s, "********")
        return text


def redact(text: str, creds: Credentials | None) -> str:
    """TEXT with the password blanked out (defence in depth for venue messages we log)."""
    if creds is None:
        return text
    secret = creds.api_secret.reveal()
    return text.replace(secret, "********") if secret else text

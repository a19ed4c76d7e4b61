"""IG Markets (live and demo): REST trading API plus Lightstreamer (TLCP-2.4.0) streaming.

One market, "otc" (IG's OTC deals: CFD or spread bet, by account). Credentials: `api_key` is
the IG API key, `api_secret` the account password, and the login identifier (user name) is
`AccountConfig.identifier`. IG is server-only (its API refuses browser-origin requests).

`SPEC.ws_bases["stream"]` holds IG's documented Lightstreamer hosts, but the stream's real
address is the `lightstreamerEndpoint` of the login answer: `IgStream.connect_url()` is the
URL to open (None until the login has answered), with the WebSocket subprotocol in
`IgStream.subprotocols`. `PROTOCOLS` says which class streams each (market, kind): one
`IgStream` per account carries them all. `shield` holds IG's REST budgets and policy.
"""

from __future__ import annotations

from spinstream.protocol.spec import VenueSpec

from . import auth, parse, protocol, rest, schemas, shield
from .auth import IgSession
from .protocol import ENVS, KINDS, IgStream

__all__ = [
    "PROTOCOLS",
    "SPEC",
    "IgSession",
    "IgStream",
    "auth",
    "parse",
    "protocol",
    "rest",
    "schemas",
    "shield",
]

_LIGHTSTREAMER = {
    "live": "https://apd.marketdatasystems.com",
    "demo": "https://demo-apd.marketdatasystems.com",
}

SPEC = VenueSpec(
    name="ig",
    markets=rest.MARKETS,
    rest_bases={m: dict(rest.BASES) for m in rest.MARKETS},
    ws_bases={IgStream.endpoint: dict(_LIGHTSTREAMER)},
    limits=rest.LIMITS,
    server_only=True,
    envs=ENVS,
)

PROTOCOLS: dict[tuple[str, str], type[IgStream]] = {
    (m, kind): IgStream for m in rest.MARKETS for kind in KINDS
}

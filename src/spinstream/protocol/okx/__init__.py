"""OKX v5 (live and demo, server-only): markets "spot", "swap", "futures" and "option".

`SPEC.ws_bases` has one endpoint per connection kind, each a host whose path the protocol
opens: "public" (`/ws/v5/public`: tickers, books, books5, bbo-tbt), "private"
(`/ws/v5/private`: account, positions, orders, after `op: login`) and "business"
(`/ws/v5/business`: candles, algo orders). Demo trading streams from the `wspap` host; its
REST is live's host with the `x-simulated-trading: 1` header (`auth.simulated` / `demo=True`).
OKX is server-only: its API refuses browser-origin requests (no CORS).

`PROTOCOLS` says which protocol class serves each (market, kind): the public market data
(`protocol.OkxPublic`, on the shared connection base) for spot, swap and futures tickers and
books, and the private stream (`protocol.OkxPrivate`, one per market: the unified account seen
from it) for account (all three), positions (swap, futures) and open orders (all three).
"""

from __future__ import annotations

from spinstream.protocol.spec import VenueSpec

from . import auth, parse, protocol, rest, schemas
from .parse import Instrument
from .protocol import OkxPrivate, OkxPublic

__all__ = [
    "ENVS",
    "PROTOCOLS",
    "SPEC",
    "WS_PATHS",
    "Instrument",
    "OkxPrivate",
    "OkxPublic",
    "auth",
    "parse",
    "protocol",
    "rest",
    "schemas",
]

ENVS = ("live", "demo")

_REST = {"live": "https://www.okx.com", "demo": "https://www.okx.com"}
_WS = {"live": "wss://ws.okx.com:8443", "demo": "wss://wspap.okx.com:8443"}

# endpoint -> the path its connection opens on the endpoint's base
WS_PATHS: dict[str, str] = {
    "public": "/ws/v5/public",
    "private": "/ws/v5/private",
    "business": "/ws/v5/business",
}

SPEC = VenueSpec(
    name="okx",
    markets=rest.MARKETS,
    rest_bases={m: dict(_REST) for m in rest.MARKETS},
    ws_bases={endpoint: dict(_WS) for endpoint in WS_PATHS},
    limits=rest.LIMITS,
    server_only=True,
    envs=ENVS,
)

PROTOCOLS: dict[tuple[str, str], type[OkxPublic] | type[OkxPrivate]] = {
    (market, kind): OkxPublic for market in protocol.PUBLIC_MARKETS for kind in ("ticker", "book")
}
PROTOCOLS.update(
    {
        (market, kind): OkxPrivate
        for market in protocol.PRIVATE_MARKETS
        for kind in ("account", "positions", "orders")
        if not (market == "spot" and kind == "positions")  # spot has no positions
    }
)

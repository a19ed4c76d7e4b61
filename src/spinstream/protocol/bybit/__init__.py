"""Bybit v5 (live, testnet, demo): markets "linear" (USDT/USDC perpetuals) and "spot".

`SPEC.ws_bases` has one endpoint per connection kind: "linear-public" and "spot-public"
(path `/v5/public/{market}`) and "private" (`/v5/private`). Demo trading serves private
streams only, from `stream-demo.bybit.com`; its public data is mainnet's, so both public
endpoints map "demo" to `wss://stream.bybit.com`. REST for demo (market data included) is
`api-demo.bybit.com`. `PROTOCOLS` says which protocol class serves each (market, kind); the
runtime opens one connection per class and market, so an account has up to four: a public and
a private one per market (each private one subscribes the all-in-one topics and keeps the
records of its own market).
"""

from __future__ import annotations

from spinstream.protocol.spec import VenueSpec

from . import auth, parse, protocol, rest, schemas
from .protocol import ENVS, BybitPrivate, BybitPublic

__all__ = [
    "PROTOCOLS",
    "SPEC",
    "BybitPrivate",
    "BybitPublic",
    "auth",
    "parse",
    "protocol",
    "rest",
    "schemas",
]

_REST = {
    "live": "https://api.bybit.com",
    "testnet": "https://api-testnet.bybit.com",
    "demo": "https://api-demo.bybit.com",
}
_PUBLIC_WS = {
    "live": "wss://stream.bybit.com",
    "testnet": "wss://stream-testnet.bybit.com",
    "demo": "wss://stream.bybit.com",  # demo has no public streams: mainnet's data
}
_PRIVATE_WS = {
    "live": "wss://stream.bybit.com",
    "testnet": "wss://stream-testnet.bybit.com",
    "demo": "wss://stream-demo.bybit.com",
}

SPEC = VenueSpec(
    name="bybit",
    markets=rest.MARKETS,
    rest_bases={m: dict(_REST) for m in rest.MARKETS},
    ws_bases={
        "linear-public": dict(_PUBLIC_WS),
        "spot-public": dict(_PUBLIC_WS),
        "private": dict(_PRIVATE_WS),
    },
    limits=rest.LIMITS,
    server_only=False,
    envs=ENVS,
)

PROTOCOLS: dict[tuple[str, str], type[BybitPublic] | type[BybitPrivate]] = {
    ("linear", "ticker"): BybitPublic,
    ("linear", "book"): BybitPublic,
    ("linear", "trades"): BybitPublic,
    ("spot", "ticker"): BybitPublic,
    ("spot", "book"): BybitPublic,
    ("spot", "trades"): BybitPublic,
    ("linear", "account"): BybitPrivate,
    ("linear", "positions"): BybitPrivate,
    ("linear", "orders"): BybitPrivate,
    ("spot", "account"): BybitPrivate,
    ("spot", "orders"): BybitPrivate,
}

"""Binance spot and USD-M futures: the venue's spec, stream protocols and REST as data.

`SPEC` is what the runtime's registry reads; `PROTOCOLS` says which protocol class (one per
endpoint, i.e. per kind of connection) serves each (market, kind); `COMPANIONS` says which
kinds the runtime subscribes along with another (the USD-M ticker's 24 h stats).
"""

from __future__ import annotations

from spinstream.protocol.binance import rest
from spinstream.protocol.binance.parse import Instrument
from spinstream.protocol.binance.protocol import (
    BinanceSpotPublic,
    BinanceSpotUser,
    BinanceUsdmMarket,
    BinanceUsdmPublic,
    BinanceUsdmUser,
)
from spinstream.protocol.spec import VenueSpec

__all__ = [
    "COMPANIONS",
    "PROTOCOLS",
    "SPEC",
    "BinanceSpotPublic",
    "BinanceSpotUser",
    "BinanceUsdmMarket",
    "BinanceUsdmPublic",
    "BinanceUsdmUser",
    "Instrument",
]

SPEC = VenueSpec(
    name="binance",
    markets=("spot", "usdm"),
    server_only=False,
    rest_bases={
        "spot": {"live": "https://api.binance.com", "testnet": "https://testnet.binance.vision"},
        "usdm": {
            "live": "https://fapi.binance.com",
            "testnet": "https://testnet.binancefuture.com",
        },
    },
    ws_bases={
        "spot-public": {
            "live": "wss://stream.binance.com:9443",
            "testnet": "wss://stream.testnet.binance.vision",
        },
        "spot-user": {
            "live": "wss://ws-api.binance.com:443",
            "testnet": "wss://ws-api.testnet.binance.vision",
        },
        "usdm-public": {
            "live": "wss://fstream.binance.com",
            "testnet": "wss://fstream.binancefuture.com",
        },
        "usdm-market": {
            "live": "wss://fstream.binance.com",
            "testnet": "wss://fstream.binancefuture.com",
        },
        "usdm-user": {
            "live": "wss://fstream.binance.com",
            "testnet": "wss://fstream.binancefuture.com",
        },
    },
    limits=rest.LIMITS,
)

PROTOCOLS: dict[tuple[str, str], type] = {
    ("spot", "ticker"): BinanceSpotPublic,
    ("spot", "book"): BinanceSpotPublic,
    ("spot", "account"): BinanceSpotUser,
    ("spot", "orders"): BinanceSpotUser,
    ("usdm", "ticker"): BinanceUsdmPublic,
    ("usdm", "book"): BinanceUsdmPublic,
    ("usdm", "ticker24h"): BinanceUsdmMarket,  # last + 24 h volume, on the `/market` path
    ("usdm", "account"): BinanceUsdmUser,
    ("usdm", "positions"): BinanceUsdmUser,
    ("usdm", "orders"): BinanceUsdmUser,
}

# (market, kind) -> what the runtime subscribes along with it (same symbol): the USD-M ticker's
# bid/ask stream on `/public` and its 24 h stats on `/market` are two connections.
COMPANIONS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("usdm", "ticker"): [("usdm", "ticker24h")],
}

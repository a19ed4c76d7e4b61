"""What the runtime needs to know about a venue, as data (one `SPEC` per venue package)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from spinstream.protocol.limits import Bucket

__all__ = ["VenueSpec"]


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """A venue's markets, real base URLs per environment, limits and browser-mode support.

    `rest_bases[market][env]` and `ws_bases[endpoint][env]` are the venue's real URLs
    ("live", "testnet", "demo"); a workspace maps them to overrides (e.g. a simulator's).
    """

    name: str
    markets: tuple[str, ...]
    rest_bases: dict[str, dict[str, str]]
    ws_bases: dict[str, dict[str, str]]
    limits: Callable[[], dict[str, Bucket]]
    server_only: bool = False
    envs: tuple[str, ...] = ("live", "testnet")

    @property
    def default_market(self) -> str:
        return self.markets[0]

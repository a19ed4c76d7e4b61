"""Simulated exchanges speaking each venue's real protocols on 127.0.0.1.

    async with sim("binance", seed=1, tick_interval=0.05) as ex:
        ex.urls        # {"https://api.binance.com": "http://127.0.0.1:PORT", ...}
        ex.credentials # {"api_key": ..., "api_secret": ...}
        ex.faults.gap()

Venues are registered by name in `VENUES` ("module:Class" paths, imported lazily so that
importing this package, e.g. to list the venues, does not pull in aiohttp).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._base import Faults, SimExchange

__all__ = ["VENUES", "Faults", "SimExchange", "sim", "sim_class"]

#: venue name -> "module:Class" of its simulator (one line per venue).
VENUES: dict[str, str] = {
    "binance": "spinstream.testing.sims.binance:BinanceSim",
    "bybit": "spinstream.testing.sims.bybit:BybitSim",
    "ig": "spinstream.testing.sims.ig:IgSim",
    "okx": "spinstream.testing.sims.okx:OkxSim",
}


def __getattr__(name: str) -> object:
    """Lazy re-exports of the shared base (`SimExchange`, `Faults`)."""
    if name in ("SimExchange", "Faults"):
        from . import _base

        return getattr(_base, name)
    raise AttributeError(name)


def sim_class(venue: str) -> type[SimExchange]:
    """The simulator class registered for `venue`.

    Raises:
        KeyError: no simulator is registered under that name.
    """
    from ._base import SimExchange

    try:
        target = VENUES[venue.lower()]
    except KeyError:
        raise KeyError(f"no simulator for venue {venue!r}; known: {sorted(VENUES)}") from None
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, SimExchange)):
        raise TypeError(f"{target} is not a SimExchange")
    return cls


def sim(venue: str, **kwargs: object) -> SimExchange:
    """A (not yet started) simulator for `venue`; use it as `async with sim(...) as ex:`.

    Keyword arguments go to the venue class (`port`, `seed`, `tick_interval`,
    `ping_interval`, `pong_timeout`, `api_key`, `api_secret`, ...; see
    `SimExchange.__init__`).
    """
    return sim_class(venue)(**kwargs)  # type: ignore[arg-type]

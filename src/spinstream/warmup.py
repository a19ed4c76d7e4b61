"""Warm-up: what a server-mode worker streams before its first tick, and how it went.

The runtime (`AccountRuntime.warm`) checks the declared symbols against the venue's own
instrument list (`check_symbols`: Binance exchangeInfo, Bybit instruments-info, IG markets), so
an unknown one is a `ConfigError` at start, never a silent REST loop; the instruments found go
to the public protocols (their book decimals), which then skip their own lookup. It then
subscribes the symbols' tickers and books and the account's private streams, and waits until
every item is servable from the cache, bounded by the account's `warm_timeout_s`. `Warmup` is
the report: what was warmed, how long it took, and what is not fresh, with why (`reason_of`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spinstream.errors import (
    AuthError,
    ConfigError,
    RateLimited,
    TransportError,
    VenueError,
)

if TYPE_CHECKING:
    from spinstream.runtime import AccountRuntime

__all__ = ["WarmItem", "Warmup", "check_symbols", "reason_of"]

log = logging.getLogger(__name__)

PRIVATE_KINDS = ("account", "positions", "orders")
PUBLIC_KINDS = ("ticker", "book")
# why an item is not fresh, where waiting longer would not help
TERMINAL = ("unknown symbol", "not permitted", "auth refused")


@dataclass(frozen=True, slots=True)
class WarmItem:
    """One warmed cache item: KIND ("ticker", "book", "account", "positions", "orders") of
    SYMBOL (None for the account-wide kinds) on MARKET."""

    kind: str
    market: str
    symbol: str | None = None

    def __str__(self) -> str:
        return f"{self.market} {self.kind}" + (f" {self.symbol}" if self.symbol else "")


@dataclass(slots=True)
class Warmup:
    """How one account's warm-up went: the items, the seconds until they were all fresh (or
    the wait ended), and the items not fresh then, each with its reason (they answer from REST
    until their stream serves them)."""

    account: str
    items: tuple[WarmItem, ...] = ()
    seconds: float = 0.0
    missing: dict[WarmItem, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every warmed item was fresh when the wait ended."""
        return not self.missing

    def __str__(self) -> str:
        head = f"{self.account}: {len(self.items) - len(self.missing)}/{len(self.items)} fresh"
        tail = "".join(f"; {i}: {why}" for i, why in self.missing.items())
        return f"{head} in {self.seconds:.2f} s{tail}"


def reason_of(
    kind: str, item_reason: str | None, problem: str | None, link_reason: str | None
) -> str:
    """Why an item of KIND is not fresh, in the warm-up's words: unknown symbol, not permitted
    (a refused market-data subscription), auth refused (a refused private item, or the
    connection's `problem`), else timed out (with the item's or the connection's reason)."""
    r = item_reason or ""
    low = r.lower()
    refused = any(w in low for w in ("permi", "entitle", "reqerr", "refused", "not allowed"))
    if any(w in low for w in ("exchangeinfo", "instrument", "unknown symbol", "not supported")):
        return f"unknown symbol ({r})"
    if refused and kind not in PRIVATE_KINDS:
        return f"not permitted ({r})"
    if refused:
        return f"auth refused ({r})"
    if problem and "refused" in problem:
        return f"auth refused ({problem})"
    why = r or problem or (None if link_reason in (None, "live") else f"connection {link_reason}")
    return f"timed out ({why})" if why else "timed out"


def terminal(reason: str) -> bool:
    """Waiting longer will not make an item with REASON fresh."""
    return reason.startswith(TERMINAL)


# --------------------------------------------------------------------- the venues' instruments


async def check_symbols(acct: AccountRuntime, market: str, symbols: list[str]) -> None:
    """Check SYMBOLS of MARKET against the venue's instrument list and hand the instruments
    found to the public protocol of MARKET (its book decimals: no lookup of its own).

    Raises:
        ConfigError: a symbol the venue does not list, named as the venue names it.
    """
    check = _CHECKS.get(acct.venue)
    if check is None or not symbols:
        return
    try:
        await check(acct, market, symbols)
    except ConfigError:
        raise
    except (TransportError, RateLimited, AuthError) as exc:  # cannot ask now: stream and see
        log.warning(
            "%s: could not check %s %s symbols against the venue (%s): warming them unchecked",
            acct.alias, acct.venue, market, exc,
        )  # fmt: skip


def _unknown(acct: AccountRuntime, market: str, missing: list[str], what: str, where: str) -> None:
    """Raise a ConfigError naming the MISSING symbols as the venue names them (WHAT)."""
    if missing:
        names = ", ".join(repr(s) for s in missing)
        key = "epics" if what == "epic" else "symbols"
        raise ConfigError(
            f"{acct.alias}: {acct.venue} {market} has no {what} {names} (not in {where}); "
            f"fix `{key}` of [venues.{acct.alias}]"
        )


def _public(acct: AccountRuntime, market: str) -> Any:
    """The protocol streaming MARKET's books (its connection opened now), or None."""
    cls = acct.routes.get((market, "book")) or acct.routes.get((market, "ticker"))
    if cls is None:
        return None
    return acct._connection(cls, market).proto


async def _binance(acct: AccountRuntime, market: str, symbols: list[str]) -> None:
    rest = acct.rest
    try:  # spot filters by symbols; one unknown symbol fails the filtered call (-1121)
        resp = await acct.send(rest.build_exchange_info(market, tuple(symbols)))
    except (TransportError, RateLimited, AuthError):
        raise
    except VenueError:
        resp = await acct.send(rest.build_exchange_info(market))
    found = rest.parse_exchange_info(market, resp.body)
    _unknown(acct, market, [s for s in symbols if s not in found], "symbol", "exchangeInfo")
    proto = _public(acct, market)
    if proto is not None and hasattr(proto, "set_instruments"):
        proto.set_instruments({s: found[s] for s in symbols})


async def _bybit(acct: AccountRuntime, market: str, symbols: list[str]) -> None:
    rest = acct.rest
    found: dict[str, Any] = {}
    cursor: str | None = None
    for _ in range(20):  # every trading instrument of the category, page by page
        resp = await acct.send(rest.build_instruments(market, None, cursor))
        found.update(rest.parse_instruments(resp.body))
        cursor = rest.next_cursor(resp.body) if market != "spot" else None
        if not cursor:
            break
    _unknown(acct, market, [s for s in symbols if s not in found], "symbol", "instruments-info")
    proto = _public(acct, market)
    if proto is not None and hasattr(proto, "set_instrument"):
        for s in symbols:
            proto.set_instrument(s, found[s].tick_size, found[s].size_step)


async def _ig(acct: AccountRuntime, market: str, epics: list[str]) -> None:
    rest = acct.rest
    infos: dict[str, Any] = {}
    missing: list[str] = []
    for i in range(0, len(epics), 50):  # up to 50 epics a call (non-trading budget: 30/min)
        chunk = epics[i : i + 50]
        try:
            resp = await acct.send(rest.build_markets(chunk))  # with instrument: its epic
        except (TransportError, RateLimited, AuthError):
            raise
        except VenueError:  # an unknown epic fails the call: find which, one by one
            for epic in chunk:
                try:
                    one = await acct.send(rest.build_market(epic))
                except (TransportError, RateLimited, AuthError):
                    raise
                except VenueError:
                    missing.append(epic)
                    continue
                info = rest.parse_market(one.body, acct.runtime.clock.ns())
                infos[info.epic] = info
            continue
        for info in rest.parse_markets(resp.body, acct.runtime.clock.ns()):
            infos[info.epic] = info
        missing += [e for e in chunk if e not in infos]
    _unknown(acct, market, missing, "epic", "IG markets")
    proto = _public(acct, market) if acct.cfg.credentials is not None else None
    if proto is not None and hasattr(proto, "set_decimals"):
        for e in epics:
            decimals = getattr(infos[e], "decimals", None)
            if decimals is not None:
                proto.set_decimals(e, decimals)


async def _okx(acct: AccountRuntime, market: str, symbols: list[str]) -> None:
    rest = acct.rest
    demo = acct.cfg.env == "demo"
    resp = await acct.send(rest.build_instruments(market, demo=demo))  # every one of the type
    found = rest.parse_instruments(resp.body)
    where = f"GET /api/v5/public/instruments?instType={rest.INST_TYPES[market]}"
    _unknown(acct, market, [s for s in symbols if s not in found], "instId", where)
    proto = _public(acct, market)
    if proto is not None and hasattr(proto, "set_instrument"):
        for s in symbols:
            proto.set_instrument(found[s])


_CHECKS = {"binance": _binance, "bybit": _bybit, "ig": _ig, "okx": _okx}

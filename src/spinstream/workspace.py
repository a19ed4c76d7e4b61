"""A workspace: which venue accounts exist, with what credentials and URLs, and their runtime.

Configuration comes from `spinstream.toml` (secrets from environment variables) or from Python.
Every worker and strategy of a workspace shares its runtime: one event-loop thread, one
connection per venue account and endpoint, one cache.

```toml
[venues.binance]                  # the section name is the ctx attribute: ctx.binance
venue = "binance"                 # optional when equal to the section name
env = "testnet"                   # live | testnet | demo
api_key_env = "BINANCE_API_KEY"   # secrets only through environment variables
api_secret_env = "BINANCE_API_SECRET"
[venues.binance.urls]             # optional: real base URL -> override (a simulator, a proxy)
"https://api.binance.com" = "http://127.0.0.1:8001"
```

Warm-up: `symbols` names what a server-mode worker streams before its first tick (ticker and
book of each, beside the account's private streams); `"SYMBOL"` is on the venue's default
market (Binance spot, Bybit linear, IG otc), `"market:SYMBOL"` on another (`"usdm:BTCUSDT"`,
`"spot:ETHUSDT"`). IG names them `epics`. Optional: `book_depth` (levels kept per book) and
`warm_timeout_s` (how long the first tick waits for them, default 10 s).

```toml
[venues.bybit]
symbols = ["BTCUSDT", "spot:ETHUSDT"]  # linear BTCUSDT, spot ETHUSDT
book_depth = 50
[venues.ig]
epics = ["CS.D.EURUSD.CFD.IP"]
```

IG logs in with an identifier (user name) besides its API key and password: `api_key_env`
names the API key, `api_secret_env` the password, and `identifier_env` the identifier.
"""

from __future__ import annotations

import importlib
import keyword
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spinstream.credentials import Credentials
from spinstream.errors import ConfigError, UnsupportedError

if TYPE_CHECKING:
    from spinstream.ctx import AsyncVenueClient
    from spinstream.runtime import Runtime

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["AccountConfig", "Workspace", "KNOWN_VENUES", "parse_symbols"]

# venue name -> its protocol package (the package's SPEC says markets, URLs and limits)
KNOWN_VENUES: dict[str, str] = {
    "binance": "spinstream.protocol.binance",
    "bybit": "spinstream.protocol.bybit",
    "ig": "spinstream.protocol.ig",
    "okx": "spinstream.protocol.okx",
}
ENVS = ("live", "testnet", "demo")
WARM_TIMEOUT_S = 10.0


def parse_symbols(
    alias: str, venue: str, markets: tuple[str, ...], symbols: object, what: str = "symbols"
) -> tuple[tuple[str, str], ...]:
    """(market, symbol) pairs of declared SYMBOLS: "SYMBOL" is on the venue's default market
    (the first of MARKETS), "market:SYMBOL" on that market; duplicates dropped, order kept.

    Raises:
        ConfigError: not a list of non-empty strings, or a market the venue does not have.
    """
    if isinstance(symbols, str) or not isinstance(symbols, (list, tuple)):
        raise ConfigError(f"{alias}: {what} must be a list of strings, not {symbols!r}")
    out: dict[tuple[str, str], None] = {}
    for s in symbols:
        if not isinstance(s, str) or not s.strip() or s != s.strip():
            raise ConfigError(f"{alias}: {what} holds {s!r}: not a symbol")
        market, sep, sym = s.rpartition(":")
        if not sep:
            market = markets[0]
        elif market not in markets:
            raise ConfigError(
                f"{alias}: {venue} has no market {market!r} (in {s!r}; markets: "
                f"{', '.join(markets)})"
            )
        if not sym:
            raise ConfigError(f"{alias}: {what} holds {s!r}: no symbol after the market")
        out[(market, sym)] = None
    return tuple(out)


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One venue account: its ctx name (`alias`), venue, environment, credentials, URL overrides."""

    alias: str
    venue: str
    env: str = "live"
    credentials: Credentials | None = None
    urls: Mapping[str, str] = field(default_factory=dict)
    identifier: str | None = None  # IG: the login user name (the password is the api_secret)
    # when a REST budget is spent: None waits for the next slot; a number fails fast with
    # RateLimited (code "local") if the wait would be longer than that many seconds
    rest_wait_s: float | None = None
    # freshness: a cached value known current longer ago than max_age_s answers from REST
    # (None: any servable value); silent_s overrides the protocol's silence window (a stall is
    # stale after this long; market data never above 10 s); lag_s the lag threshold (2 s)
    max_age_s: float | None = None
    silent_s: float | None = None
    lag_s: float | None = None
    # warm-up (server mode): what the runtime streams before a worker's first tick, besides
    # the private streams. "SYMBOL" (default market) or "market:SYMBOL"; IG: `epics`.
    symbols: tuple[str, ...] = ()
    epics: tuple[str, ...] = ()
    book_depth: int | None = None  # levels kept per streamed book (None: the venue's default)
    warm_timeout_s: float = WARM_TIMEOUT_S  # how long the first tick waits for the warm-up

    def __post_init__(self) -> None:
        if not self.alias.isidentifier() or keyword.iskeyword(self.alias):
            raise ConfigError(f"account name {self.alias!r} is not a valid Python identifier")
        if self.venue not in KNOWN_VENUES:
            raise ConfigError(
                f"unknown venue {self.venue!r} for {self.alias!r}; known: {', '.join(KNOWN_VENUES)}"
            )
        if self.env not in ENVS:
            raise ConfigError(f"{self.alias}: env must be one of {ENVS}, not {self.env!r}")
        if self.rest_wait_s is not None and not self.rest_wait_s >= 0:
            raise ConfigError(f"{self.alias}: rest_wait_s must be >= 0 seconds (or unset)")
        for name in ("max_age_s", "silent_s", "lag_s"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ConfigError(f"{self.alias}: {name} must be a number of seconds")
            if v is not None and not v > 0:
                raise ConfigError(f"{self.alias}: {name} must be > 0 seconds (or unset)")
        if self.silent_s is not None and self.silent_s > 10.0:
            raise ConfigError(
                f"{self.alias}: silent_s must be at most 10 s (a market-data stall must be "
                "found within 10 s)"
            )
        for name in ("symbols", "epics"):  # lists are welcome; kept as tuples (hashable)
            v = getattr(self, name)
            if isinstance(v, list):
                object.__setattr__(self, name, tuple(v))
        if self.epics and self.venue != "ig":
            raise ConfigError(f"{self.alias}: epics are IG's; {self.venue} takes symbols")
        self.declared()  # a bad list or market fails here, at configuration
        d = self.book_depth
        if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d <= 0):
            raise ConfigError(f"{self.alias}: book_depth must be a positive whole number")
        w = self.warm_timeout_s
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not w > 0:
            raise ConfigError(f"{self.alias}: warm_timeout_s must be > 0 seconds")

    def declared(self) -> tuple[tuple[str, str], ...]:
        """The (market, symbol) pairs to warm: `symbols` and (IG) `epics`."""
        markets = tuple(self.spec().markets)
        pairs = parse_symbols(self.alias, self.venue, markets, self.symbols)
        pairs += parse_symbols(self.alias, self.venue, markets, self.epics, "epics")
        return tuple(dict.fromkeys(pairs))

    def spec(self) -> Any:
        """The venue's VenueSpec."""
        return importlib.import_module(KNOWN_VENUES[self.venue]).SPEC

    def resolve(self, real_base: str) -> str:
        """The URL to use for one of the venue's real URLs: the longest overridden prefix
        (scheme and host, optionally a path) replaced by its override, or the URL itself."""
        url = real_base.rstrip("/")
        best = ""
        for real in self.urls:
            r = real.rstrip("/")
            if (url == r or url.startswith(r + "/") or url.startswith(r + ":")) and len(r) > len(
                best
            ):
                best = r
        if not best:
            return real_base
        key = best if best in self.urls else best + "/"
        return self.urls[key].rstrip("/") + url[len(best) :]


def _wait(alias: str, value: object, name: str = "rest_wait_s") -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"[venues.{alias}] {name} must be a number of seconds")
    return float(value)


class Workspace:
    """Venue accounts plus the shared runtime (started on first use, stopped by `close`)."""

    def __init__(self, accounts: Mapping[str, AccountConfig] | list[AccountConfig]) -> None:
        items = list(accounts.values()) if isinstance(accounts, Mapping) else list(accounts)
        self.accounts: dict[str, AccountConfig] = {}
        for a in items:
            if a.alias in self.accounts:
                raise ConfigError(f"account {a.alias!r} configured twice")
            spec = a.spec()
            if a.env not in spec.envs:
                raise ConfigError(f"{a.alias}: {a.venue} has no {a.env!r} environment")
            self.accounts[a.alias] = a
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        inner = ", ".join(f"{a.alias}={a.venue}:{a.env}" for a in self.accounts.values())
        return f"Workspace({inner})"

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> Workspace:
        """Build from a parsed `spinstream.toml` (the `[venues.*]` tables)."""
        venues = config.get("venues")
        if not isinstance(venues, Mapping) or not venues:
            raise ConfigError("config has no [venues.<name>] table")
        accounts = []
        for alias, v in venues.items():
            if not isinstance(v, Mapping):
                raise ConfigError(f"[venues.{alias}] must be a table")
            unknown = set(v) - {
                "venue", "env", "api_key_env", "api_secret_env", "api_passphrase_env",
                "identifier_env", "urls",
                "rest_wait_s", "max_age_s", "silent_s", "lag_s", "symbols", "epics",
                "book_depth", "warm_timeout_s",
            }  # fmt: skip
            if unknown:
                raise ConfigError(f"[venues.{alias}]: unknown keys {sorted(unknown)}")
            if "api_key" in v or "api_secret" in v:  # pragma: no cover - caught by `unknown`
                raise ConfigError("put secrets in environment variables, not in the file")
            creds = None
            kv, sv = v.get("api_key_env"), v.get("api_secret_env")
            if kv or sv:
                if not (kv and sv):
                    raise ConfigError(f"[venues.{alias}]: set both api_key_env and api_secret_env")
                pv = v.get("api_passphrase_env")  # OKX signs with a passphrase too
                if pv is not None and not isinstance(pv, str):
                    raise ConfigError(f"[venues.{alias}]: api_passphrase_env must be a name")
                if pv is None and v.get("venue", alias) == "okx":
                    raise ConfigError(f"[venues.{alias}]: okx keys need api_passphrase_env too")
                creds = Credentials.from_env(kv, sv, pv)
            identifier = None
            iv = v.get("identifier_env")
            if iv is not None:
                if not isinstance(iv, str) or not os.environ.get(iv):
                    raise ConfigError(f"environment variable(s) not set: {iv}")
                identifier = os.environ[iv]
            urls = v.get("urls", {})
            if not isinstance(urls, Mapping) or not all(isinstance(x, str) for x in urls.values()):
                raise ConfigError(f"[venues.{alias}.urls] must map URLs to URLs")
            accounts.append(
                AccountConfig(
                    alias=alias,
                    venue=v.get("venue", alias),
                    env=v.get("env", "live"),
                    credentials=creds,
                    urls=dict(urls),
                    identifier=identifier,
                    rest_wait_s=_wait(alias, v.get("rest_wait_s")),
                    max_age_s=_wait(alias, v.get("max_age_s"), "max_age_s"),
                    silent_s=_wait(alias, v.get("silent_s"), "silent_s"),
                    lag_s=_wait(alias, v.get("lag_s"), "lag_s"),
                    symbols=v.get("symbols", ()),
                    epics=v.get("epics", ()),
                    book_depth=v.get("book_depth"),
                    warm_timeout_s=v.get("warm_timeout_s", WARM_TIMEOUT_S),
                )
            )
        return cls(accounts)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Workspace:
        """Read `spinstream.toml`."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {p}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: {exc}") from exc
        return cls.from_dict(data)

    # ------------------------------------------------------------------ runtime

    @property
    def runtime(self) -> Runtime:
        """The shared runtime (event-loop thread, connections, cache), started on first use."""
        rt = self._runtime
        if rt is None:
            with self._lock:  # workers start together: exactly one runtime per workspace
                rt = self._runtime
                if rt is None:
                    from spinstream.runtime import Runtime

                    rt = Runtime(self)
                    rt.start()
                    self._runtime = rt
        return rt

    def status(self) -> dict[str, Any]:
        """Freshness of everything the runtime holds: per account, each connection (live or
        not and why, last frame age, lag, reconnects, problem), stale items and their reasons,
        cache hits and REST calls. JSON-able, no secrets; empty before the runtime starts."""
        rt = self._runtime
        if rt is None:
            return {"accounts": {}}
        return rt.status()

    def check_mode(self, mode: str) -> None:
        """Refuse browser mode for server-only venues, and unknown modes."""
        if mode not in ("server", "browser"):
            raise ConfigError(f"mode must be 'server' or 'browser', not {mode!r}")
        if mode == "browser":
            for a in self.accounts.values():
                if a.spec().server_only:
                    raise UnsupportedError(
                        f"{a.venue} is server-only: its API does not accept browser-origin "
                        "requests; run this worker in server mode"
                    )

    def aclient(self, alias: str, mode: str = "server") -> AsyncVenueClient:
        """The async client of one account (same methods as ctx's, as coroutines)."""
        from spinstream.ctx import AsyncVenueClient

        self.check_mode(mode)
        return AsyncVenueClient(self.runtime.account(alias), mode=mode)

    def close(self) -> None:
        """Stop the runtime: close connections and the event-loop thread."""
        with self._lock:
            rt, self._runtime = self._runtime, None
        if rt is not None:
            rt.stop()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

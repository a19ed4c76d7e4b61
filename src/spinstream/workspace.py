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

Every option, its type, default and range is defined (and documented) once, in
`spinstream.config.VenueConfig`; `spinstream config schema` prints it as a JSON Schema.
"""

from __future__ import annotations

import importlib
import importlib.util
import keyword
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args

import msgspec

from spinstream.config import (
    WARM_TIMEOUT_S,
    Env,
    SpinstreamConfig,
    VenueConfig,
    decode,
    dotted_error,
    read,
)
from spinstream.credentials import Credentials
from spinstream.errors import ConfigError, UnsupportedError

if TYPE_CHECKING:
    from spinstream.ctx import AsyncVenueClient
    from spinstream.runtime import Runtime

__all__ = ["AccountConfig", "Workspace", "KNOWN_VENUES", "parse_symbols"]

# venue name -> its protocol package (the package's SPEC says markets, URLs and limits)
KNOWN_VENUES: dict[str, str] = {
    "binance": "spinstream.protocol.binance",
    "bybit": "spinstream.protocol.bybit",
    "ig": "spinstream.protocol.ig",
    "okx": "spinstream.protocol.okx",
}
ENVS: tuple[str, ...] = get_args(Env)
# the options checked by VenueConfig's types and ranges, whichever way an account is built
_TUNABLES = (
    "rest_wait_s", "max_age_s", "silent_s", "lag_s", "book_depth", "warm_timeout_s", "ws_backend",
)  # fmt: skip


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
    """One venue account: its ctx name (`alias`), venue, environment, credentials, URL overrides.

    The other fields are the options of a `[venues.<alias>]` table, with the meaning, default
    and range `spinstream.config.VenueConfig` documents (None: unset); they are checked by the
    same rules whether the account comes from a file or from Python.
    """

    alias: str
    venue: str
    env: str = "live"
    credentials: Credentials | None = None
    urls: Mapping[str, str] = field(default_factory=dict)
    identifier: str | None = None  # IG: the login user name (the password is the api_secret)
    rest_wait_s: float | None = None
    max_age_s: float | None = None
    silent_s: float | None = None
    lag_s: float | None = None
    symbols: tuple[str, ...] = ()
    epics: tuple[str, ...] = ()
    book_depth: int | None = None
    warm_timeout_s: float = WARM_TIMEOUT_S
    ws_backend: str = "auto"

    def __post_init__(self) -> None:
        if not self.alias.isidentifier() or keyword.iskeyword(self.alias):
            raise ConfigError(f"account name {self.alias!r} is not a valid Python identifier")
        if self.venue not in KNOWN_VENUES:
            raise ConfigError(
                f"unknown venue {self.venue!r} for {self.alias!r}; known: {', '.join(KNOWN_VENUES)}"
            )
        if self.env not in ENVS:
            raise ConfigError(f"{self.alias}: env must be one of {ENVS}, not {self.env!r}")
        given = {n: v for n in _TUNABLES if (v := getattr(self, n)) is not None}
        try:  # types and ranges: VenueConfig's, the one place they are written
            msgspec.convert(given, VenueConfig)
        except msgspec.ValidationError as exc:
            msg = dotted_error(exc, given, struct=VenueConfig)
            raise ConfigError(f"{self.alias}: {msg}") from None
        if self.ws_backend == "picows" and importlib.util.find_spec("picows") is None:
            raise ConfigError(
                f"{self.alias}: ws_backend 'picows' needs the picows package (a dependency of "
                f"spinstream), which is not installed: pip install picows, or set ws_backend "
                f"to 'auto' (falls back to websockets) or 'websockets'"
            )
        for name in ("symbols", "epics"):  # lists are welcome; kept as tuples (hashable)
            v = getattr(self, name)
            if isinstance(v, list):
                object.__setattr__(self, name, tuple(v))
        if self.epics and self.venue != "ig":
            raise ConfigError(f"{self.alias}: epics are IG's; {self.venue} takes symbols")
        self.declared()  # a bad list or market fails here, at configuration

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


def _opt(value: Any) -> Any:
    """A decoded option, UNSET as None."""
    return None if value is msgspec.UNSET else value


def _account(alias: str, v: VenueConfig, secrets: bool = True) -> AccountConfig:
    """The AccountConfig of one decoded `[venues.ALIAS]` table; with SECRETS the credentials
    and IG identifier are read from the environment variables the table names.

    Raises:
        ConfigError: the cross-option rules (both key and secret, OKX's passphrase), an unset
            environment variable, or AccountConfig's own checks; named by the table's path.
    """
    where = f"venues.{alias}" if alias.isidentifier() else f'venues."{alias}"'
    venue = _opt(v.venue) or alias
    kv, sv, pv = _opt(v.api_key_env), _opt(v.api_secret_env), _opt(v.api_passphrase_env)
    creds = None
    if kv or sv:
        if not (kv and sv):
            raise ConfigError(f"{where}: set both api_key_env and api_secret_env")
        if pv is None and venue == "okx":  # OKX signs with a passphrase too
            raise ConfigError(f"{where}: okx keys need api_passphrase_env too")
        if secrets:
            try:
                creds = Credentials.from_env(kv, sv, pv)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
    identifier = None
    iv = _opt(v.identifier_env)
    if iv is not None and secrets:
        identifier = os.environ.get(iv)
        if not identifier:
            raise ConfigError(f"{where}: environment variable(s) not set: {iv}")
    try:
        return AccountConfig(
            alias=alias,
            venue=venue,
            env=v.env,
            credentials=creds,
            urls=dict(v.urls),
            identifier=identifier,
            rest_wait_s=_opt(v.rest_wait_s),
            max_age_s=_opt(v.max_age_s),
            silent_s=_opt(v.silent_s),
            lag_s=_opt(v.lag_s),
            symbols=tuple(v.symbols),
            epics=tuple(v.epics),
            book_depth=_opt(v.book_depth),
            warm_timeout_s=v.warm_timeout_s,
            ws_backend=v.ws_backend,
        )
    except ConfigError as exc:
        msg = str(exc)
        msg = msg[len(alias) + 2 :] if msg.startswith(f"{alias}: ") else msg
        raise ConfigError(f"{where}: {msg}") from None


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
        """Build from a parsed `spinstream.toml` (the `[venues.*]` tables; every option is in
        `spinstream.config.VenueConfig`), secrets from the environment variables it names."""
        return cls.from_config(decode(config))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Workspace:
        """Read `spinstream.toml`."""
        return cls.from_config(read(path))

    @classmethod
    def from_config(cls, config: SpinstreamConfig, *, secrets: bool = True) -> Workspace:
        """Build from a decoded config. SECRETS=False leaves credentials and the IG identifier
        out (no environment variable is read): every other rule is still checked."""
        return cls([_account(alias, v, secrets) for alias, v in config.venues.items()])

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

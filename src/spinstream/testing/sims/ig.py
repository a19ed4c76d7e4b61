"""IG Markets simulator: the REST trading API and a Lightstreamer (TLCP-2.4.0) server.

`IgSim` serves, on one aiohttp app on 127.0.0.1 (built on `SimExchange`):

- REST under `/gateway/deal`, for both real bases (`urls` maps `https://api.ig.com` and
  `https://demo-api.ig.com` to the same local base; demo and live share one client, one API
  key and one account set). Every call needs `X-IG-API-KEY` (missing: 403
  `error.security.api-key-missing`, wrong: 403 `error.security.api-key-invalid`) and may
  send `VERSION` (default 1). After login, calls carry `CST` + `X-SECURITY-TOKEN` (v1/v2
  sessions, or v3 after `GET /session?fetchSessionTokens=true`) or `Authorization: Bearer
  <access_token>` + `IG-ACCOUNT-ID` (v3). Missing tokens answer 401
  `error.security.client-token-missing`, unknown or expired ones 401
  `error.security.client-token-invalid` (OAuth: `error.security.oauth-token-invalid`).
  CST/XST expire `token_ttl_s` after their last use (IG's FAQ: 12 h); OAuth access tokens
  after `oauth_ttl_s` (60 s, refresh with `POST /session/refresh-token`).
  Served: `POST /session` v1/v2/v3, `GET|PUT|DELETE /session`, `POST /session/refresh-token`,
  `GET /accounts`, `GET /accounts/preferences`, `GET /positions` (v1/v2),
  `GET /positions/{dealId}`, `POST /positions/otc` (open; with header `_method: DELETE`, or
  a real DELETE, close), `PUT /positions/otc/{dealId}`, `GET /workingorders` (v1/v2),
  `POST /workingorders/otc`, `PUT|DELETE /workingorders/otc/{dealId}` (DELETE also as POST
  + `_method: DELETE`), `GET /markets/{epic}`, `GET /markets?epics=` / `?searchTerm=`,
  `GET /prices/{epic}` (v3: `resolution`, `from`, `to`, `max`, `pageSize`, `pageNumber`,
  `metadata.allowance`) and the v1/v2 path forms, `GET /confirms/{dealReference}`,
  `GET /operations/application`. Deal calls answer `{"dealReference"}`; the outcome
  (ACCEPTED/REJECTED with IG's reason codes) is at `/confirms` and on the TRADE stream.
- IG's limits, answered as IG does (403 + errorCode), each a sliding window of
  `limit_window_s` (60 s): `app_non_trading_limit` 60 per API key
  (`error.public-api.exceeded-api-key-allowance`), `account_non_trading_limit` 30 per account
  (`...exceeded-account-allowance`), `account_trading_limit` 100 per account
  (`...exceeded-account-trading-allowance`), and `historical_points_limit` 10000 price points
  per `historical_window_s` (a week; `...exceeded-account-historical-data-allowance`).
  Trading requests are the create/amend/close/delete calls on positions and working orders;
  everything else is non-trading. Login (`POST /session`, refresh) counts against the API
  key only. A refused call does not consume allowance. `stats.rest_calls` counts every call
  per path.
- Lightstreamer at `/lightstreamer` (WebSocket only). The subprotocol offered by the client
  is echoed; `TLCP-2.4.0.lightstreamer.com` is the version served. A client offering only
  another TLCP version (the 2.x clients offer 2.5.0) is answered `WSOK` to `wsok` and
  `CONERR,65,Unsupported protocol version: 2.5.0` to `create_session`, as IG answers.
  `create_session` checks `LS_password` = `CST-<cst>|XST-<xst>` of a live REST session and
  `LS_user` (if sent) = one of that client's account ids (trading-ig sends no `LS_user`);
  `LS_adapter_set` may be absent or `DEFAULT`. Bad credentials answer
  `CONERR,1,User/password check failed`, another adapter set `CONERR,2,...`. Success:
  `CONOK,<sessionId>,50000,<keepaliveMs>,*`, `SERVNAME`, `CLIENTIP`, `CONS,unlimited`.
  `control` add/delete/destroy/constrain/force_rebind; `SUBOK`, snapshot (MERGE: one `U`
  per item; DISTINCT: the last tick for `CHART:..:TICK`, nothing for TRADE, then `EOS`),
  `U,<subId>,<item>,<v1>|<v2>|...` with unchanged-field compression (empty, `^n` for runs of
  3 or more), `#` null, `$` empty; `REQOK` unless `LS_ack=false`; `UNSUB` on delete;
  `PROBE` every keepalive period with nothing else sent (`LS_keepalive_millis` is honoured,
  default `ls_keepalive_ms` 5000).
  A session outlives its stream connection for `ls_rebind_timeout_s` (10 s): after `LOOP`
  the client sends `bind_session` on a new WebSocket and gets what it missed; after a lost
  connection it recovers by progressive (`LS_recovery_from`), either on a WebSocket
  `bind_session` or, as lightstreamer-client-lib does, with an HTTP
  `POST /lightstreamer/bind_session.txt` answered `CONOK`, `PROG,<n>`, the missed data
  notifications and `LOOP,0` (this HTTP request shows in `stats.rest_calls`).
  Items: `PRICE:{accountId}:{epic}` (adapter `Pricing`), `CHART:{epic}:{SECOND|1MINUTE|
  5MINUTE|HOUR}` candles, `CHART:{epic}:TICK`, `ACCOUNT:{accountId}`, `TRADE:{accountId}`
  (CONFIRMS/OPU/WOU JSON strings). `MARKET:{epic}` is refused (IG decommissioned it on
  2026-05-08). At most `ls_max_subscriptions` (40) subscribed items per session: the 41st
  answers `REQERR,<reqId>,-1,...` (IG's code for this is unverified).
- Accounts and dealing: a CFD account (preferred) and a spread-bet account, margin-style,
  positions per deal (netting opposite deals unless `forceOpen`), market orders executed by
  the `MatchingEngine` at the offer (buy) or bid (sell), `LIMIT` deals filled only at the
  level or better, working orders `LIMIT`/`STOP` resting outside the book and triggering
  when the bid/offer reaches them, attached stops and limits closing positions.

Differences from IG (deliberate or unverified): P&L and margin of every market are booked in
the account currency 1:1 (no FX conversion); markets never close; `timezoneOffset` is 0 and
every local time is UTC; price history before the sim started is synthetic (deterministic);
`MONTH` bars are 30 days; there is no HTTP-streaming Lightstreamer transport (only the
recovery request above), no encrypted password login (`encryptedPassword` logins fail), no
guaranteed or trailing stops (accepted, not executed), no watchlists, history or activity
endpoints. Unverified against IG (chosen to be plausible): the HTTP statuses of the key and
token errors, the error codes for an unknown position / switch account / bad version, the
CONERR codes other than 65 (1 bad credentials, 2 adapter set, 4 unknown session) and REQERR
codes (17 adapter, 19 unknown subscription, 20 no session, 21 item, 23 field, 24 mode, -1
the 41st subscription), the full PRICE field list, UTM of a candle (here the candle's start;
some sources call it the update time), what IG answers a client sending no `LS_user`
(accepted here: the session's current account).

Faults (`ex.faults`, an `IgFaults`): `drop()`, `stall()`, `malformed()` act on open
Lightstreamer connections (kind `"lightstreamer"`); `rate_limit(n)` answers the next n REST
calls with 403 (trading calls `exceeded-account-trading-allowance`, others
`exceeded-account-allowance`, or `fault_rate_limit_code` if set); `reject_auth(n)` fails the
next n logins / `create_session` checks; `loop(ms)` sends `LOOP` on every bound session so
the client must rebind. `expire_tokens()` invalidates every REST token at once.

The server-side TLCP encoding is local (`tlcp_quote`, `tlcp_value`, `tlcp_update`): the sim
does not depend on `spinstream.protocol.lightstreamer`, so that client's codec and this
server are checked against each other rather than against one shared implementation.
Message texts are percent-encoded only where TLCP needs it (`%`, `,`, `|`, CR, LF, controls);
spaces stay literal, as in IG's `CONERR,65,Unsupported protocol version: 2.5.0`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import hmac
import inspect
import json
import logging
import math
import random
import secrets
import string
import time
from bisect import bisect_left
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, ClassVar, TypedDict
from urllib.parse import unquote

from aiohttp import web

from ._base import (
    Account,
    Balance,
    Faults,
    Instrument,
    OrderError,
    OrderType,
    Side,
    SimConnection,
    SimEvent,
    SimExchange,
    TradeUpdate,
    WeightWindow,
    now_ms,
)

__all__ = [
    "IgSim",
    "IgFaults",
    "IgError",
    "IgMarket",
    "tlcp_quote",
    "tlcp_value",
    "tlcp_update",
    "TLCP_PROTOCOL",
]

log = logging.getLogger(__name__)

D = Decimal
ZERO = D(0)
Json = Any

PREFIX = "/gateway/deal"
TLCP_VERSION = "2.4.0"
TLCP_PROTOCOL = f"TLCP-{TLCP_VERSION}.lightstreamer.com"
LS_KIND = "lightstreamer"

# IG error codes used here
E_API_KEY_MISSING = "error.security.api-key-missing"
E_API_KEY_INVALID = "error.security.api-key-invalid"
E_TOKEN_MISSING = "error.security.client-token-missing"
E_TOKEN_INVALID = "error.security.client-token-invalid"
E_OAUTH_INVALID = "error.security.oauth-token-invalid"
E_INVALID_DETAILS = "error.security.invalid-details"
E_APP_ALLOWANCE = "error.public-api.exceeded-api-key-allowance"
E_ACCOUNT_ALLOWANCE = "error.public-api.exceeded-account-allowance"
E_TRADING_ALLOWANCE = "error.public-api.exceeded-account-trading-allowance"
E_HISTORY_ALLOWANCE = "error.public-api.exceeded-account-historical-data-allowance"


class IgError(Exception):
    """An IG error answer: `{"errorCode": code}` with an HTTP status."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


# --------------------------------------------------------------------------------------------
# TLCP server-side encoding
# --------------------------------------------------------------------------------------------

_QUOTE_CHARS = {"%", ",", "|", "\r", "\n"}


def tlcp_quote(text: str) -> str:
    """Percent-encode what a TLCP line cannot carry literally: `%`, `,`, `|`, CR, LF and
    control characters (UTF-8 bytes). Everything else, spaces included, stays as is, as
    IG's server writes `CONERR,65,Unsupported protocol version: 2.5.0`."""
    if not any(c in _QUOTE_CHARS or ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return text
    out = []
    for c in text:
        if c in _QUOTE_CHARS or ord(c) < 0x20 or ord(c) == 0x7F:
            out.append("".join(f"%{b:02X}" for b in c.encode("utf-8")))
        else:
            out.append(c)
    return "".join(out)


def tlcp_value(value: str | None) -> str:
    """One field of a `U` line: `#` for null, `$` for the empty string, else the quoted text
    with a leading `#`, `$` or `^` escaped so it is not read as a marker."""
    if value is None:
        return "#"
    if value == "":
        return "$"
    q = tlcp_quote(value)
    if q[0] in "#$^":
        q = f"%{ord(q[0]):02X}" + q[1:]
    return q


def tlcp_update(
    sub_id: int,
    item: int,
    values: list[str | None],
    previous: list[str | None] | None,
    *,
    run_min: int = 3,
) -> str:
    """`U,<subId>,<item>,<v1>|<v2>|...`: fields equal to `previous` are sent as unchanged
    (an empty field, or `^n` for a run of at least `run_min`)."""
    tokens: list[str] = []
    run = 0

    def flush() -> None:
        nonlocal run
        if run >= run_min:
            tokens.append(f"^{run}")
        else:
            tokens.extend([""] * run)
        run = 0

    for i, v in enumerate(values):
        if previous is not None and previous[i] == v:
            run += 1
            continue
        flush()
        tokens.append(tlcp_value(v))
    flush()
    return f"U,{sub_id},{item}," + "|".join(tokens)


def _parse_ls_frame(text: str) -> tuple[str, list[dict[str, str]]]:
    """(verb, parameter sets) of one client frame: `verb\\r\\nk=v&k=v[\\r\\n...]`."""
    lines = text.split("\r\n")
    verb = lines[0].strip()
    sets: list[dict[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        params: dict[str, str] = {}
        for part in line.split("&"):
            if not part:
                continue
            k, _, v = part.partition("=")
            params[unquote(k)] = unquote(v)
        sets.append(params)
    return verb, sets


# --------------------------------------------------------------------------------------------
# Markets, accounts, deals
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IgMarket:
    """One IG market (epic) and how the simulated price process and dealing treat it."""

    epic: str
    name: str
    instrument_type: str  # CURRENCIES, INDICES, CRYPTOCURRENCIES, ...
    currency: str
    currency_symbol: str
    tick: Decimal  # price increment (the epic's decimals)
    start: Decimal
    spread: Decimal  # points
    vol_ticks: float  # random-walk std-dev per price tick, in ticks
    value_per_point: Decimal  # account currency per point per unit of size
    margin_factor: Decimal  # percent
    min_size: Decimal
    size_step: Decimal = D("0.01")
    contract_size: str = "1"
    one_pip_means: str = "1"
    value_of_one_pip: str = "1.00"
    scaling_factor: int = 1
    lot_size: float = 1.0
    unit: str = "CONTRACTS"
    market_id: str = ""
    chart_code: str = ""
    country: str | None = None

    @property
    def decimals(self) -> int:
        """Decimal places of prices."""
        return max(0, -int(self.tick.as_tuple().exponent))


@dataclass
class IgAccount:
    """One IG account: cash balance plus the deals booked on it."""

    account_id: str
    name: str
    account_type: str  # CFD, SPREADBET
    currency: str
    currency_symbol: str
    balance: Decimal
    preferred: bool = False
    alias: str | None = None


@dataclass
class IgPosition:
    """An open OTC position (one per deal)."""

    deal_id: str
    deal_reference: str
    account_id: str
    market: IgMarket
    direction: str  # BUY / SELL
    size: Decimal
    level: Decimal
    created_ms: int
    stop_level: Decimal | None = None
    limit_level: Decimal | None = None
    guaranteed_stop: bool = False
    trailing_stop: bool = False
    trailing_stop_distance: Decimal | None = None
    trailing_step: Decimal | None = None
    deal_id_origin: str | None = None

    @property
    def sign(self) -> int:
        """+1 long, -1 short."""
        return 1 if self.direction == "BUY" else -1


@dataclass
class IgWorkingOrder:
    """A resting LIMIT/STOP working order."""

    deal_id: str
    deal_reference: str
    account_id: str
    market: IgMarket
    direction: str
    size: Decimal
    level: Decimal
    order_type: str  # LIMIT / STOP
    time_in_force: str  # GOOD_TILL_CANCELLED / GOOD_TILL_DATE
    created_ms: int
    good_till_ms: int | None = None
    stop_distance: Decimal | None = None
    limit_distance: Decimal | None = None
    stop_level: Decimal | None = None
    limit_level: Decimal | None = None
    guaranteed_stop: bool = False
    force_open: bool = False


@dataclass
class IgClientSession:
    """A logged-in REST session: CST/XST and/or an OAuth token pair."""

    client_id: str
    account_id: str
    version: int
    created_ms: int
    last_used: float  # monotonic
    cst: str | None = None
    xst: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    access_expiry: float = 0.0  # monotonic
    alive: bool = True


class _Deal(TypedDict):
    """A deal request's fields that every confirm of it repeats (`_confirm`'s keywords)."""

    epic: str
    deal_id: str
    direction: str
    size: Decimal


class _OrderDeal(_Deal):
    """A working-order request's: the deal's and its level."""

    level: Decimal


@dataclass
class _Ctx:
    """Who a REST call is from: its session and the account it acts on."""

    session: IgClientSession
    account: IgAccount


@dataclass
class _Candle:
    start_ms: int
    bid: list[Decimal]  # open, high, low, close
    ofr: list[Decimal]
    ltp: list[Decimal] | None
    volume: int = 0
    ticks: int = 0
    ttv: int = 0  # volume of the last update
    ended: bool = False


@dataclass
class _MarketState:
    """Live per-epic state the streams and REST snapshots read."""

    market: IgMarket
    inst: Instrument
    bid: Decimal
    offer: Decimal
    day_open: Decimal
    day_high: Decimal
    day_low: Decimal
    update_ms: int
    last_trade: Decimal | None = None
    last_volume: int = 0
    pending_volume: int = 0  # traded since the last tick
    pending_trades: int = 0
    candles: dict[str, _Candle] = field(default_factory=dict)
    seconds: deque[_Candle] = field(default_factory=lambda: deque(maxlen=86_400))
    ticks: deque[dict[str, str | None]] = field(default_factory=lambda: deque(maxlen=100))

    @property
    def mid(self) -> Decimal:
        """Mid price."""
        return (self.bid + self.offer) / 2


CANDLE_SCALES: dict[str, int] = {
    "SECOND": 1_000,
    "1MINUTE": 60_000,
    "5MINUTE": 300_000,
    "HOUR": 3_600_000,
}

RESOLUTIONS: dict[str, int] = {
    "SECOND": 1,
    "MINUTE": 60,
    "MINUTE_2": 120,
    "MINUTE_3": 180,
    "MINUTE_5": 300,
    "MINUTE_10": 600,
    "MINUTE_15": 900,
    "MINUTE_30": 1800,
    "HOUR": 3600,
    "HOUR_2": 7200,
    "HOUR_3": 10800,
    "HOUR_4": 14400,
    "DAY": 86400,
    "WEEK": 604800,
    "MONTH": 2_592_000,
}
# v1/v2 path spellings
_RES_ALIASES = {"MINUTE_1": "MINUTE", "HOUR_1": "HOUR", "1MINUTE": "MINUTE", "5MINUTE": "MINUTE_5"}

PRICE_FIELDS = (
    ["MID_OPEN", "HIGH", "LOW", "CHANGE", "CHANGE_PCT", "UPDATE_TIME", "MARKET_STATE"]
    + ["BIDQUOTEID", "ASKQUOTEID", "TIMESTAMP", "NET_CHG", "NET_CHG_", "DLG_FLAG"]
    + [f"BIDPRICE{i}" for i in range(1, 6)]
    + [f"ASKPRICE{i}" for i in range(1, 6)]
    + [f"BIDSIZE{i}" for i in range(1, 6)]
    + [f"ASKSIZE{i}" for i in range(1, 6)]
    + [f"CURRENCY{i}" for i in range(0, 6)]
    + [f"C{i}BIDSIZE{j}" for i in range(1, 6) for j in range(1, 6)]
    + [f"C{i}ASKSIZE{j}" for i in range(1, 6) for j in range(1, 6)]
)
DAY_FIELDS = ["DAY_OPEN_MID", "DAY_NET_CHG_MID", "DAY_PERC_CHG_MID", "DAY_HIGH", "DAY_LOW"]
TICK_FIELDS = ["BID", "OFR", "LTP", "LTV", "TTV", "UTM", *DAY_FIELDS]
CANDLE_FIELDS = [
    "LTV",
    "TTV",
    "UTM",
    *DAY_FIELDS,
    "BID",
    "OFR",
    "LTP",
    *[f"{s}_{k}" for s in ("BID", "OFR", "LTP") for k in ("OPEN", "HIGH", "LOW", "CLOSE")],
    "CONS_END",
    "CONS_TICK_COUNT",
]
ACCOUNT_FIELDS = [
    "PNL",
    "PNL_LR",
    "PNL_NLR",
    "DEPOSIT",
    "AVAILABLE_CASH",
    "AVAILABLE_TO_DEAL",
    "FUNDS",
    "MARGIN",
    "MARGIN_LR",
    "MARGIN_NLR",
    "EQUITY",
    "EQUITY_USED",
]
TRADE_FIELDS = ["CONFIRMS", "OPU", "WOU"]


@dataclass(frozen=True)
class _Item:
    """A parsed Lightstreamer item name."""

    kind: str  # PRICE, CANDLE, TICK, ACCOUNT, TRADE
    epic: str | None = None
    account: str | None = None
    scale: str | None = None

    @property
    def fields(self) -> frozenset[str]:
        """The field names this item serves."""
        return _ITEM_FIELDS[self.kind]


# TLCP data notifications: each one advances the session's progressive (recovery counts them)
_DATA_NOTIFICATIONS = (
    "U,",
    "SUBOK,",
    "SUBCMD,",
    "UNSUB,",
    "EOS,",
    "CS,",
    "OV,",
    "CONF,",
    "MSGDONE,",
    "MSGFAIL,",
)

_ITEM_FIELDS: dict[str, frozenset[str]] = {
    "PRICE": frozenset(PRICE_FIELDS),
    "CANDLE": frozenset(CANDLE_FIELDS),
    "TICK": frozenset(TICK_FIELDS),
    "ACCOUNT": frozenset(ACCOUNT_FIELDS),
    "TRADE": frozenset(TRADE_FIELDS),
}


@dataclass
class _LsSub:
    sub_id: int
    mode: str
    names: list[str]
    items: list[_Item]
    fields: list[str]
    last: list[list[str | None] | None]


@dataclass
class _LsSession:
    session_id: str
    client: IgClientSession
    account_id: str
    keepalive_ms: int
    conn: SimConnection | None
    subs: dict[int, _LsSub] = field(default_factory=dict)
    prog: int = 0  # data notifications produced (the TLCP progressive)
    sent_prog: int = 0  # ... of which written to a stream connection
    replay: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=20_000))
    closed: bool = False
    expiry: asyncio.TimerHandle | None = None

    @property
    def item_count(self) -> int:
        """Subscribed items (what the concurrent-subscription limit counts)."""
        return sum(len(s.items) for s in self.subs.values())


class IgFaults(Faults):
    """`Faults` plus `loop(ms)`: send `LOOP` on every bound Lightstreamer session."""

    def __init__(self, sim: IgSim) -> None:
        super().__init__(sim)
        self._ig = sim

    def loop(self, delay_ms: int = 0) -> int:
        """Send `LOOP,<delay_ms>` on every bound session and unbind it (the client must
        `bind_session` on a new WebSocket); returns how many sessions were looped."""
        return self._ig.ls_loop(delay_ms)


# --------------------------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------------------------


def _utc(ms: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)


def _iso_ms(ms: int) -> str:
    """2026-11-26T01:18:14.123"""
    return _utc(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}"


def _iso(ms: int) -> str:
    """2026-11-26T01:18:14"""
    return _utc(ms).strftime("%Y-%m-%dT%H:%M:%S")


def _ig_created(ms: int) -> str:
    """IG's createdDate: 2026/11/26 01:18:14:123"""
    return _utc(ms).strftime("%Y/%m/%d %H:%M:%S:") + f"{ms % 1000:03d}"


def _snapshot_time(ms: int) -> str:
    """2026/11/26 01:18:14"""
    return _utc(ms).strftime("%Y/%m/%d %H:%M:%S")


def _hms(ms: int) -> str:
    return _utc(ms).strftime("%H:%M:%S")


def _num(x: Decimal | None) -> float | None:
    """A JSON number (IG sends floats)."""
    return None if x is None else float(x)


def _money(x: Decimal) -> float:
    return float(x.quantize(D("0.01"), rounding=ROUND_HALF_EVEN))


def _s2(x: Decimal) -> str:
    return format(x.quantize(D("0.01"), rounding=ROUND_HALF_EVEN), "f")


def _plain(x: Decimal) -> str:
    if x == 0:
        return "0"
    s = format(x.normalize(), "f")
    return s


def _parse_time(text: str) -> int:
    """Epoch ms of an IG date parameter (several IG spellings), UTC."""
    for fmt in (
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M:%S",
        "%Y:%m:%d-%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S.%f",
        "%Y-%m-%d",
    ):
        try:
            t = _dt.datetime.strptime(text, fmt).replace(tzinfo=_dt.timezone.utc)
        except ValueError:
            continue
        return int(t.timestamp() * 1000)
    raise ValueError(text)


_ALNUM = string.ascii_uppercase + string.digits


# --------------------------------------------------------------------------------------------
# the simulator
# --------------------------------------------------------------------------------------------


class IgSim(SimExchange):
    """IG Markets REST + Lightstreamer on 127.0.0.1 (see the module docstring).

    Knobs: `identifier`, `password`, `api_key` (credentials; random unless given),
    `account_ids` (CFD, spread-bet), `balance`, `token_ttl_s`, `oauth_ttl_s`, the limits
    (`app_non_trading_limit`, `account_non_trading_limit`, `account_trading_limit`,
    `historical_points_limit`, `limit_window_s`, `historical_window_s`),
    `ls_keepalive_ms`, `ls_max_subscriptions`, `ls_rebind_timeout_s`.
    """

    venue: ClassVar[str] = "ig"
    URL_MAP: ClassVar[Mapping[str, str]] = {
        "https://api.ig.com": "",
        "https://demo-api.ig.com": "",
        "https://apd.marketdatasystems.com": "",
        "https://demo-apd.marketdatasystems.com": "",
    }
    HAS_CHECKSUM: ClassVar[bool] = False

    def __init__(
        self,
        *,
        identifier: str | None = None,
        password: str | None = None,
        api_key: str | None = None,
        account_ids: tuple[str, str] = ("XQ1AB", "XQ1AC"),
        balance: Decimal | str | int = "100000",
        token_ttl_s: float = 12 * 3600.0,
        oauth_ttl_s: float = 60.0,
        app_non_trading_limit: int = 60,
        account_non_trading_limit: int = 30,
        account_trading_limit: int = 100,
        historical_points_limit: int = 10_000,
        limit_window_s: float = 60.0,
        historical_window_s: float = 7 * 86400.0,
        ls_keepalive_ms: int = 5000,
        ls_max_subscriptions: int = 40,
        ls_rebind_timeout_s: float = 10.0,
        **kwargs: Any,
    ) -> None:
        """See `SimExchange.__init__` for the shared keyword arguments (`seed`,
        `tick_interval`, ...)."""
        seed = int(kwargs.get("seed", 0) or 0)
        self._rng = random.Random(seed * 7919 + 16)
        self._identifier = identifier or f"sim_ig_{secrets.token_hex(3)}"
        self._password = password or secrets.token_urlsafe(12)
        self.client_id = str(100_000_000 + self._rng.randrange(900_000_000))
        self.token_ttl_s = token_ttl_s
        self.oauth_ttl_s = oauth_ttl_s
        self.app_non_trading_limit = app_non_trading_limit
        self.account_non_trading_limit = account_non_trading_limit
        self.account_trading_limit = account_trading_limit
        self.historical_points_limit = historical_points_limit
        self.limit_window_s = limit_window_s
        self.historical_window_s = historical_window_s
        self.ls_keepalive_ms = ls_keepalive_ms
        self.ls_max_subscriptions = ls_max_subscriptions
        self.ls_rebind_timeout_s = ls_rebind_timeout_s
        self.ls_request_limit = 50_000
        self.fault_rate_limit_code: str | None = None
        bal = D(str(balance))
        cfd, sb = account_ids
        self.accounts: dict[str, IgAccount] = {
            cfd: IgAccount(cfd, "CFD", "CFD", "GBP", "£", bal, preferred=True),
            sb: IgAccount(sb, "Spread bet", "SPREADBET", "GBP", "£", bal),
        }
        self.markets: dict[str, IgMarket] = {m.epic: m for m in self.default_markets()}
        self.sessions: list[IgClientSession] = []
        self.positions: dict[str, IgPosition] = {}  # by dealId, insertion = age order
        self.working_orders: dict[str, IgWorkingOrder] = {}
        self.confirms: dict[str, dict[str, Json]] = {}
        self.ls_sessions: dict[str, _LsSession] = {}
        self._ls_watch: dict[_Item, list[tuple[_LsSession, _LsSub, int]]] = {}
        self._app_window = WeightWindow(app_non_trading_limit, limit_window_s)
        self._acct_windows: dict[str, WeightWindow] = {}
        self._trade_windows: dict[str, WeightWindow] = {}
        self._hist_windows: dict[str, WeightWindow] = {}
        self._t0_ms = now_ms()
        super().__init__(api_key=api_key or secrets.token_hex(20), **kwargs)
        self.faults: IgFaults = IgFaults(self)
        self.state: dict[str, _MarketState] = {}
        for m in self.markets.values():
            inst = self.engine.instrument("cfd", m.epic)
            bid, offer = self._engine_bbo(inst)
            mid = (bid + offer) / 2
            self.state[m.epic] = _MarketState(m, inst, bid, offer, mid, mid, mid, self._t0_ms)

    # -- configuration ------------------------------------------------------------------------

    @staticmethod
    def default_markets() -> list[IgMarket]:
        """EUR/USD CFD, FTSE 100 DFB and Bitcoin CFD, with IG-like dealing rules."""
        return [
            IgMarket(
                "CS.D.EURUSD.CFD.IP",
                "EUR/USD",
                "CURRENCIES",
                "USD",
                "$",
                D("0.1"),
                D("10850.0"),
                D("0.6"),
                1.5,
                D("10"),
                D("3.33"),
                D("0.5"),
                contract_size="100000",
                one_pip_means="0.0001 USD/EUR",
                value_of_one_pip="10.00",
                scaling_factor=10000,
                market_id="EURUSD",
                chart_code="EURUSD",
            ),
            IgMarket(
                "IX.D.FTSE.DAILY.IP",
                "FTSE 100",
                "INDICES",
                "GBP",
                "£",
                D("0.1"),
                D("8250.0"),
                D("1.0"),
                3.0,
                D("1"),
                D("5"),
                D("0.5"),
                contract_size="1",
                one_pip_means="1 Index Point",
                value_of_one_pip="1.00",
                scaling_factor=1,
                unit="AMOUNT",
                market_id="FT100",
                chart_code="FTSE",
                country="GB",
            ),
            IgMarket(
                "CS.D.BITCOIN.CFD.IP",
                "Bitcoin",
                "CRYPTOCURRENCIES",
                "USD",
                "$",
                D("0.01"),
                D("91000.00"),
                D("36"),
                500.0,
                D("1"),
                D("50"),
                D("0.01"),
                contract_size="1",
                one_pip_means="1 USD/BTC",
                value_of_one_pip="1.00",
                scaling_factor=1,
                market_id="BITCOIN",
                chart_code="BITCOIN",
            ),
        ]

    def default_instruments(self) -> list[Instrument]:
        """One engine instrument (market `cfd`) per IG market."""
        out = []
        for m in self.markets.values():
            half = int((m.spread / m.tick) / 2) or 1
            out.append(
                Instrument(
                    m.epic,
                    "cfd",
                    m.epic,
                    m.currency,
                    m.tick,
                    D("0.01"),
                    m.start,
                    account=next(iter(self.accounts)),
                    min_qty=D("0.01"),
                    max_qty=D("1000000"),
                    min_notional=ZERO,
                    level_spacing_ticks=1,
                    half_spread_ticks=half,
                    depth=5,
                    vol_ticks=m.vol_ticks,
                    level_lots=(100_000, 200_000),
                    trade_prob=0.3,
                )
            )
        return out

    def default_accounts(self) -> dict[str, Account]:
        """One engine margin account per IG account, funded so the engine never refuses:
        IG's own margin checks run before an order reaches the engine."""
        out = {}
        for acc_id in self.accounts:
            big = D("1000000000000")
            out[acc_id] = Account(
                acc_id,
                "margin",
                {c: Balance(c, big) for c in ("GBP", "USD", "EUR")},
                default_leverage=1000,
                maker_fee=ZERO,
                taker_fee=ZERO,
            )
        return out

    @property
    def credentials(self) -> dict[str, str]:
        """{"identifier", "password", "api_key", "account_id"} (the preferred account)."""
        return {
            "identifier": self._identifier,
            "password": self._password,
            "api_key": self._api_key,
            "account_id": self.default_account.account_id,
        }

    @property
    def default_account(self) -> IgAccount:
        """The preferred account (the one a login lands on)."""
        return next(a for a in self.accounts.values() if a.preferred)

    @property
    def lightstreamer_endpoint(self) -> str:
        """What `lightstreamerEndpoint` says: this server's http base."""
        return self.base_http

    def setup_routes(self, app: web.Application) -> None:
        """REST under /gateway/deal and the Lightstreamer WebSocket."""
        r = app.router
        ep = self._endpoint
        P = PREFIX
        r.add_post(P + "/session", ep("login", self._post_session, auth=False))
        r.add_get(P + "/session", ep("non_trading", self._get_session))
        r.add_put(P + "/session", ep("non_trading", self._put_session))
        r.add_delete(P + "/session", ep("non_trading", self._delete_session))
        r.add_post(P + "/session/refresh-token", ep("login", self._refresh_token, auth=False))
        r.add_get(P + "/accounts", ep("non_trading", self._get_accounts))
        r.add_get(P + "/accounts/preferences", ep("non_trading", self._get_preferences))
        r.add_get(P + "/positions", ep("non_trading", self._get_positions))
        r.add_get(P + "/positions/{dealId}", ep("non_trading", self._get_position))
        r.add_post(P + "/positions/otc", ep("trading", self._post_positions_otc))
        r.add_delete(P + "/positions/otc", ep("trading", self._close_position))
        r.add_put(P + "/positions/otc/{dealId}", ep("trading", self._amend_position))
        r.add_get(P + "/workingorders", ep("non_trading", self._get_working_orders))
        r.add_post(P + "/workingorders/otc", ep("trading", self._create_working_order))
        r.add_put(P + "/workingorders/otc/{dealId}", ep("trading", self._amend_working_order))
        r.add_delete(P + "/workingorders/otc/{dealId}", ep("trading", self._delete_working_order))
        r.add_post(P + "/workingorders/otc/{dealId}", ep("trading", self._post_working_order_id))
        r.add_get(P + "/markets", ep("non_trading", self._get_markets))
        r.add_get(P + "/markets/{epic}", ep("non_trading", self._get_market))
        r.add_get(P + "/prices/{epic}", ep("non_trading", self._get_prices_v3))
        r.add_get(P + "/prices/{epic}/{resolution}", ep("non_trading", self._get_prices_path))
        r.add_get(
            P + "/prices/{epic}/{resolution}/{numPoints}", ep("non_trading", self._get_prices_path)
        )
        r.add_get(
            P + "/prices/{epic}/{resolution}/{startDate}/{endDate}",
            ep("non_trading", self._get_prices_path),
        )
        r.add_get(P + "/confirms/{dealReference}", ep("non_trading", self._get_confirm))
        r.add_get(P + "/operations/application", ep("non_trading", self._get_application))
        r.add_get("/lightstreamer", self._ls_handler)
        r.add_post("/lightstreamer/bind_session.txt", self._ls_http_bind)
        r.add_route("*", P + "/{tail:.*}", self._not_found)

    # -- REST plumbing ------------------------------------------------------------------------

    @staticmethod
    def _json(
        body: Json, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        return web.Response(
            text=json.dumps(body, separators=(",", ":")),
            status=status,
            content_type="application/json",
            charset="UTF-8",
            headers=dict(headers or {}),
        )

    def _error(self, exc: IgError) -> web.Response:
        return self._json({"errorCode": exc.code}, exc.status)

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        return self._json({"errorCode": "invalid.url"}, 404)

    def rate_limited_response(self, request: web.Request) -> web.StreamResponse:
        """An injected limit answer: 403 with IG's errorCode for the kind of call."""
        code = self.fault_rate_limit_code
        if code is None:
            code = E_TRADING_ALLOWANCE if self._is_trading(request) else E_ACCOUNT_ALLOWANCE
        return self._json({"errorCode": code}, 403)

    @staticmethod
    def _is_trading(request: web.Request) -> bool:
        p = request.path
        return request.method in ("POST", "PUT", "DELETE") and (
            p.startswith(PREFIX + "/positions/otc") or p.startswith(PREFIX + "/workingorders/otc")
        )

    def malformed_frame(self, conn: SimConnection) -> str:
        """A truncated update line no TLCP parser accepts."""
        return "U,1\r\n"

    def unknown_frame(self, conn: SimConnection) -> str:
        """A well-formed TLCP line of a kind no client knows (`Faults.noise`)."""
        return "CHAOS,1,unknown\r\n"

    def _endpoint(
        self,
        kind: str,
        fn: Callable[[web.Request, _Ctx | None, dict[str, Json], int], Any],
        *,
        auth: bool = True,
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap `fn(request, ctx, body, version)` with IG's key, token and limit checks."""

        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                self._check_api_key(request)
                version = self._version(request)
                body = await self._body(request)
                ctx = self._authenticate(request) if auth else None
                self._check_limits(kind, ctx)
                out = fn(request, ctx, body, version)
                if inspect.isawaitable(out):
                    out = await out
            except IgError as exc:
                return self._error(exc)
            if isinstance(out, web.StreamResponse):
                return out
            return self._json(out)

        return handler

    def _check_api_key(self, request: web.Request) -> None:
        key = request.headers.get("X-IG-API-KEY")
        if not key:
            raise IgError(403, E_API_KEY_MISSING)
        if not self.key_ok(key):
            self.stats.auth_failures += 1
            raise IgError(403, E_API_KEY_INVALID)

    @staticmethod
    def _version(request: web.Request) -> int:
        raw = request.headers.get("VERSION", "1").strip() or "1"
        try:
            return int(raw)
        except ValueError:
            raise IgError(400, "validation.invalid.version") from None

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Json]:
        if not request.can_read_body:
            return {}
        text = await request.text()
        if not text.strip():
            return {}
        try:
            body = json.loads(text)
        except ValueError:
            raise IgError(400, "validation.invalid.json") from None
        return body if isinstance(body, dict) else {}

    def _authenticate(self, request: web.Request) -> _Ctx:
        h = request.headers
        cst, xst = h.get("CST"), h.get("X-SECURITY-TOKEN")
        now = time.monotonic()
        sess: IgClientSession | None = None
        if cst or xst:
            if not (cst and xst):
                raise IgError(401, E_TOKEN_MISSING)
            sess = self._session_by_cst(cst, xst)
            if sess is None:
                self.stats.auth_failures += 1
                raise IgError(401, E_TOKEN_INVALID)
        else:
            authz = h.get("Authorization", "")
            if not authz:
                raise IgError(401, E_TOKEN_MISSING)
            token = authz.split(" ", 1)[1] if " " in authz else authz
            sess = next(
                (
                    s
                    for s in self.sessions
                    if s.alive
                    and s.access_token
                    and hmac.compare_digest(s.access_token.encode(), token.encode())
                ),
                None,
            )
            if sess is None or now > sess.access_expiry:
                self.stats.auth_failures += 1
                raise IgError(401, E_OAUTH_INVALID)
        sess.last_used = now
        acc_id = sess.account_id
        header_acc = h.get("IG-ACCOUNT-ID")
        if header_acc and header_acc in self.accounts:
            acc_id = header_acc
        elif header_acc and sess.access_token and not (cst or xst):
            raise IgError(401, "error.security.account-token-invalid")
        return _Ctx(sess, self.accounts[acc_id])

    def _session_by_cst(self, cst: str, xst: str) -> IgClientSession | None:
        now = time.monotonic()
        for s in self.sessions:
            if (
                s.alive
                and s.cst
                and s.xst
                and hmac.compare_digest(s.cst.encode(), cst.encode())
                and hmac.compare_digest(s.xst.encode(), xst.encode())
            ):
                if now - s.last_used > self.token_ttl_s:
                    return None
                return s
        return None

    def _window(
        self, store: dict[str, WeightWindow], key: str, limit: int, span: float
    ) -> WeightWindow:
        w = store.get(key)
        if w is None:
            w = store[key] = WeightWindow(limit, span)
        w.limit = limit
        return w

    def _check_limits(self, kind: str, ctx: _Ctx | None) -> None:
        self._app_window.limit = self.app_non_trading_limit
        self._app_window.window_s = self.limit_window_s
        if kind == "trading":
            assert ctx is not None
            w = self._window(
                self._trade_windows,
                ctx.account.account_id,
                self.account_trading_limit,
                self.limit_window_s,
            )
            if w.used >= w.limit:
                self._limited(E_TRADING_ALLOWANCE)
            w.add(1)
            return
        if self._app_window.used >= self._app_window.limit:
            self._limited(E_APP_ALLOWANCE)
        acct = None
        if ctx is not None and kind != "login":
            acct = self._window(
                self._acct_windows,
                ctx.account.account_id,
                self.account_non_trading_limit,
                self.limit_window_s,
            )
            if acct.used >= acct.limit:
                self._limited(E_ACCOUNT_ALLOWANCE)
        self._app_window.add(1)
        if acct is not None:
            acct.add(1)

    def _limited(self, code: str) -> None:
        self.stats.rate_limited += 1
        log.warning("sim ig: %s", code)
        raise IgError(403, code)

    # -- ids ----------------------------------------------------------------------------------

    def _token(self, n: int = 32) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(n))

    def _deal_id(self) -> str:
        return "DIAAAA" + "".join(self._rng.choice(_ALNUM) for _ in range(10))

    def _deal_reference(self) -> str:
        return "".join(self._rng.choice(_ALNUM) for _ in range(15))

    # -- session ------------------------------------------------------------------------------

    def _accounts_json_short(self) -> list[Json]:
        return [
            {
                "accountId": a.account_id,
                "accountName": a.name,
                "preferred": a.preferred,
                "accountType": a.account_type,
            }
            for a in self.accounts.values()
        ]

    def _account_info(self, acc: IgAccount) -> dict[str, Json]:
        pnl, margin = self._pnl(acc.account_id), self._margin(acc.account_id)
        return {
            "balance": _money(acc.balance),
            "deposit": _money(margin),
            "profitLoss": _money(pnl),
            "available": _money(acc.balance + pnl - margin),
        }

    def _tokens_headers(self, s: IgClientSession) -> dict[str, str]:
        assert s.cst and s.xst
        return {"CST": s.cst, "X-SECURITY-TOKEN": s.xst}

    def _new_oauth(self, s: IgClientSession) -> dict[str, Json]:
        s.access_token = secrets.token_urlsafe(27)
        s.refresh_token = secrets.token_urlsafe(27)
        s.access_expiry = time.monotonic() + self.oauth_ttl_s
        return {
            "access_token": s.access_token,
            "refresh_token": s.refresh_token,
            "scope": "profile",
            "token_type": "Bearer",
            "expires_in": str(int(self.oauth_ttl_s)),
        }

    def _post_session(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        if request.headers.get("_method", "").upper() == "DELETE":
            return self._delete_session(request, self._authenticate(request), body, version)
        ident, pw = body.get("identifier"), body.get("password")
        if not ident:
            raise IgError(400, "validation.null-not-allowed.request.identifier")
        if not pw:
            raise IgError(400, "validation.null-not-allowed.request.password")
        ok = hmac.compare_digest(str(ident).encode(), self._identifier.encode()) and (
            hmac.compare_digest(str(pw).encode(), self._password.encode())
        )
        if self.faults.take_reject_auth() or not ok or body.get("encryptedPassword"):
            self.stats.auth_failures += 1
            raise IgError(401, E_INVALID_DETAILS)
        acc = self.default_account
        s = IgClientSession(self.client_id, acc.account_id, version, now_ms(), time.monotonic())
        self.sessions.append(s)
        if version >= 3:
            return {
                "clientId": self.client_id,
                "accountId": acc.account_id,
                "timezoneOffset": 0,
                "lightstreamerEndpoint": self.lightstreamer_endpoint,
                "oauthToken": self._new_oauth(s),
            }
        s.cst, s.xst = self._token(69), self._token(69)
        body_out = {
            "accountType": acc.account_type,
            "accountInfo": self._account_info(acc),
            "currencyIsoCode": acc.currency,
            "currencySymbol": acc.currency_symbol,
            "currentAccountId": acc.account_id,
            "lightstreamerEndpoint": self.lightstreamer_endpoint,
            "accounts": self._accounts_json_short(),
            "clientId": self.client_id,
            "timezoneOffset": 0,
            "hasActiveDemoAccounts": True,
            "hasActiveLiveAccounts": True,
            "trailingStopsEnabled": False,
            "reroutingEnvironment": None,
            "dealingEnabled": True,
        }
        return self._json(body_out, headers=self._tokens_headers(s))

    def _refresh_token(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        tok = str(body.get("refresh_token") or "")
        for s in self.sessions:
            if (
                s.alive
                and s.refresh_token
                and hmac.compare_digest(s.refresh_token.encode(), tok.encode())
            ):
                s.last_used = time.monotonic()
                return self._new_oauth(s)
        raise IgError(401, "error.security.invalid-refresh-token")

    def _get_session(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        s = ctx.session
        out = {
            "clientId": self.client_id,
            "accountId": ctx.account.account_id,
            "timezoneOffset": 0,
            "locale": "en_GB",
            "currency": ctx.account.currency,
            "lightstreamerEndpoint": self.lightstreamer_endpoint,
        }
        if request.query.get("fetchSessionTokens", "false").lower() == "true":
            if not s.cst:
                s.cst, s.xst = self._token(69), self._token(69)
            return self._json(out, headers=self._tokens_headers(s))
        return out

    def _put_session(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        acc_id = str(body.get("accountId") or "")
        if not acc_id:
            raise IgError(400, "validation.null-not-allowed.request.accountId")
        if acc_id not in self.accounts:
            raise IgError(403, "error.security.forbidden-account")
        if acc_id == ctx.session.account_id:
            raise IgError(412, "error.switch.accountId-must-be-different")
        ctx.session.account_id = acc_id
        if _bool(body.get("defaultAccount")):
            for a in self.accounts.values():
                a.preferred = a.account_id == acc_id
        out = {
            "trailingStopsEnabled": False,
            "dealingEnabled": True,
            "hasActiveDemoAccounts": True,
            "hasActiveLiveAccounts": True,
        }
        if ctx.session.cst:
            return self._json(out, headers=self._tokens_headers(ctx.session))
        return out

    def _delete_session(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        ctx.session.alive = False
        return web.Response(status=204)

    def expire_tokens(self) -> int:
        """Invalidate every REST session's tokens now (streams keep running, as on IG);
        returns how many sessions were expired."""
        n = 0
        for s in self.sessions:
            if s.alive:
                s.last_used = -1e18
                s.access_expiry = 0.0
                n += 1
        return n

    # -- accounts -----------------------------------------------------------------------------

    def _get_accounts(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        out = []
        for a in self.accounts.values():
            out.append(
                {
                    "accountId": a.account_id,
                    "accountName": a.name,
                    "accountAlias": a.alias,
                    "status": "ENABLED",
                    "accountType": a.account_type,
                    "preferred": a.preferred,
                    "balance": self._account_info(a),
                    "currency": a.currency,
                    "canTransferFrom": True,
                    "canTransferTo": True,
                }
            )
        return {"accounts": out}

    def _get_preferences(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        return {"trailingStopsEnabled": False}

    def _get_application(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        return [
            {
                "clientId": self.client_id,
                "name": "spinstream-sim",
                "apiKey": self._api_key,
                "status": "ENABLED",
                "allowanceApplicationOverall": self.app_non_trading_limit,
                "allowanceAccountOverall": self.account_non_trading_limit,
                "allowanceAccountTrading": self.account_trading_limit,
                "allowanceAccountHistoricalData": self.historical_points_limit,
                "concurrentSubscriptionsLimit": self.ls_max_subscriptions,
                "allowEquities": False,
                "allowQuoteOrders": False,
                "createdDate": _iso(self._t0_ms),
            }
        ]

    # -- money --------------------------------------------------------------------------------

    def _pos_pnl(self, p: IgPosition) -> Decimal:
        st = self.state[p.market.epic]
        close = st.bid if p.direction == "BUY" else st.offer
        return (close - p.level) * p.sign * p.size * p.market.value_per_point

    def _pos_margin(self, p: IgPosition) -> Decimal:
        st = self.state[p.market.epic]
        return p.size * st.mid * p.market.value_per_point * p.market.margin_factor / 100

    def _pnl(self, account_id: str) -> Decimal:
        return sum(
            (self._pos_pnl(p) for p in self.positions.values() if p.account_id == account_id),
            ZERO,
        )

    def _margin(self, account_id: str) -> Decimal:
        return sum(
            (self._pos_margin(p) for p in self.positions.values() if p.account_id == account_id),
            ZERO,
        )

    # -- markets ------------------------------------------------------------------------------

    def _engine_bbo(self, inst: Instrument) -> tuple[Decimal, Decimal]:
        book = self.engine.book(inst)
        b, a = book.best(True), book.best(False)
        mid = book.mid_price()
        bid = inst.price(b[0]) if b else mid
        offer = inst.price(a[0]) if a else mid
        return bid, offer

    def _market(self, epic: str) -> IgMarket:
        m = self.markets.get(epic)
        if m is None:
            raise IgError(404, "error.service.marketdata.instrument.epic.unavailable")
        return m

    def _px(self, m: IgMarket, x: Decimal) -> str:
        return format(x.quantize(m.tick, rounding=ROUND_HALF_EVEN), "f")

    def _snapshot_json(self, m: IgMarket) -> dict[str, Json]:
        st = self.state[m.epic]
        chg = st.mid - st.day_open
        pct = chg / st.day_open * 100 if st.day_open else ZERO
        return {
            "marketStatus": "TRADEABLE",
            "netChange": float(chg.quantize(m.tick)),
            "percentageChange": _money(pct),
            "updateTime": _hms(st.update_ms),
            "delayTime": 0,
            "bid": _num(st.bid),
            "offer": _num(st.offer),
            "high": _num(st.day_high.quantize(m.tick)),
            "low": _num(st.day_low.quantize(m.tick)),
            "binaryOdds": None,
            "decimalPlacesFactor": m.decimals,
            "scalingFactor": m.scaling_factor,
            "controlledRiskExtraSpread": 0,
        }

    def _market_row(self, m: IgMarket) -> dict[str, Json]:
        """The flat market object of positions, working orders and search results."""
        snap = self._snapshot_json(m)
        st = self.state[m.epic]
        return {
            "instrumentName": m.name,
            "expiry": "-" if m.unit != "AMOUNT" else "DFB",
            "epic": m.epic,
            "instrumentType": m.instrument_type,
            "lotSize": m.lot_size,
            "high": snap["high"],
            "low": snap["low"],
            "percentageChange": snap["percentageChange"],
            "netChange": snap["netChange"],
            "bid": snap["bid"],
            "offer": snap["offer"],
            "updateTime": _hms(st.update_ms),
            "updateTimeUTC": _hms(st.update_ms),
            "delayTime": 0,
            "streamingPricesAvailable": True,
            "marketStatus": "TRADEABLE",
            "scalingFactor": m.scaling_factor,
            "exchangeId": "FX_C_GCSI_ST" if m.instrument_type == "CURRENCIES" else "SIM",
        }

    def _market_details(self, m: IgMarket, version: int) -> dict[str, Json]:
        instrument: dict[str, Json] = {
            "epic": m.epic,
            "expiry": "-" if m.unit != "AMOUNT" else "DFB",
            "name": m.name,
            "forceOpenAllowed": True,
            "stopsLimitsAllowed": True,
            "lotSize": m.lot_size,
            "unit": m.unit,
            "type": m.instrument_type,
            "controlledRiskAllowed": True,
            "streamingPricesAvailable": True,
            "marketId": m.market_id,
            "currencies": [
                {
                    "code": m.currency,
                    "symbol": m.currency_symbol,
                    "baseExchangeRate": 1.0,
                    "exchangeRate": 1.0,
                    "isDefault": True,
                }
            ],
            "sprintMarketsMinimumExpiryTime": None,
            "sprintMarketsMaximumExpiryTime": None,
            "marginDepositBands": [
                {"min": 0, "max": None, "margin": float(m.margin_factor), "currency": m.currency}
            ],
            "marginFactor": float(m.margin_factor),
            "marginFactorUnit": "PERCENTAGE",
            "slippageFactor": {"unit": "pct", "value": 50.0},
            "limitedRiskPremium": {"value": 0, "unit": "POINTS"},
            "openingHours": None,
            "expiryDetails": None,
            "rolloverDetails": None,
            "newsCode": m.market_id,
            "chartCode": m.chart_code,
            "country": m.country,
            "valueOfOnePip": m.value_of_one_pip,
            "onePipMeans": m.one_pip_means,
            "contractSize": m.contract_size,
            "specialInfo": ["MIN KNOCK OUT LEVEL DISTANCE", "MAX KNOCK OUT LEVEL DISTANCE"],
        }
        rules = {
            "minStepDistance": {"unit": "POINTS", "value": float(m.tick)},
            "minDealSize": {"unit": "POINTS", "value": float(m.min_size)},
            "minControlledRiskStopDistance": {"unit": "POINTS", "value": float(m.spread * 5)},
            "minNormalStopOrLimitDistance": {"unit": "POINTS", "value": float(m.spread * 2)},
            "maxStopOrLimitDistance": {"unit": "PERCENTAGE", "value": 75.0},
            "controlledRiskSpacing": {"unit": "POINTS", "value": 0.0},
            "marketOrderPreference": "AVAILABLE_DEFAULT_OFF",
            "trailingStopsPreference": "NOT_AVAILABLE",
        }
        return {"instrument": instrument, "dealingRules": rules, "snapshot": self._snapshot_json(m)}

    def _get_market(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        return self._market_details(self._market(request.match_info["epic"]), version)

    def _get_markets(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        epics = request.query.get("epics")
        if epics is not None:
            names = [e for e in epics.split(",") if e]
            if not names:
                raise IgError(400, "validation.null-not-allowed.epics")
            if len(names) > 50:
                raise IgError(400, "validation.size.epics")
            details = [self._market_details(self._market(e), version) for e in names]
            if request.query.get("filter") == "SNAPSHOT_ONLY":
                details = [
                    {"instrument": None, "dealingRules": None, "snapshot": d["snapshot"]}
                    for d in details
                ]
            return {"marketDetails": details}
        term = (request.query.get("searchTerm") or "").lower()
        if not term:
            raise IgError(400, "validation.null-not-allowed.request.searchTerm")
        rows = [
            self._market_row(m)
            for m in self.markets.values()
            if term in m.name.lower() or term in m.epic.lower()
        ]
        return {"markets": rows}

    # -- positions ----------------------------------------------------------------------------

    def _position_json(self, p: IgPosition, version: int) -> dict[str, Json]:
        m = p.market
        pos: dict[str, Json] = {
            "contractSize": float(m.contract_size) if m.unit != "AMOUNT" else 1.0,
            "createdDate": _ig_created(p.created_ms),
            "createdDateUTC": _iso(p.created_ms),
            "dealId": p.deal_id,
            "dealReference": p.deal_reference,
            "size": _num(p.size),
            "direction": p.direction,
            "limitLevel": _num(p.limit_level),
            "level": _num(p.level),
            "currency": m.currency,
            "controlledRisk": p.guaranteed_stop,
            "stopLevel": _num(p.stop_level),
            "trailingStep": _num(p.trailing_step),
            "trailingStopDistance": _num(p.trailing_stop_distance),
            "limitedRiskPremium": None,
        }
        market = self._market_row(m)
        if version < 2:
            pos.pop("createdDateUTC")
            pos.pop("dealReference")
            pos["dealSize"] = pos.pop("size")
            pos["openLevel"] = pos.pop("level")
            market.pop("updateTimeUTC")
        return {"position": pos, "market": market}

    def _get_positions(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        acc = ctx.account.account_id
        return {
            "positions": [
                self._position_json(p, version)
                for p in self.positions.values()
                if p.account_id == acc
            ]
        }

    def _get_position(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        p = self.positions.get(request.match_info["dealId"])
        if p is None or p.account_id != ctx.account.account_id:
            raise IgError(404, "error.position.notfound")
        return self._position_json(p, version)

    # -- dealing ------------------------------------------------------------------------------

    def _confirm(
        self,
        ref: str,
        *,
        epic: str | None,
        deal_id: str,
        status: str | None,
        reason: str = "SUCCESS",
        accepted: bool = True,
        direction: str | None = None,
        size: Decimal | None = None,
        level: Decimal | None = None,
        stop_level: Decimal | None = None,
        limit_level: Decimal | None = None,
        stop_distance: Decimal | None = None,
        limit_distance: Decimal | None = None,
        affected: list[tuple[str, str]] | None = None,
        profit: Decimal | None = None,
        currency: str | None = None,
        guaranteed_stop: bool = False,
        trailing_stop: bool = False,
    ) -> dict[str, Json]:
        body: dict[str, Json] = {
            "date": _iso_ms(now_ms()),
            "status": status if accepted else None,
            "reason": reason,
            "dealStatus": "ACCEPTED" if accepted else "REJECTED",
            "epic": epic,
            "expiry": "-" if epic else None,
            "dealReference": ref,
            "dealId": deal_id,
            "affectedDeals": [{"dealId": d, "status": s} for d, s in (affected or [])],
            "level": _num(level),
            "size": _num(size),
            "direction": direction,
            "stopLevel": _num(stop_level),
            "limitLevel": _num(limit_level),
            "stopDistance": _num(stop_distance),
            "limitDistance": _num(limit_distance),
            "guaranteedStop": guaranteed_stop,
            "trailingStop": trailing_stop,
            "profit": None if profit is None else _money(profit),
            "profitCurrency": currency if profit is not None else None,
        }
        self.confirms[ref] = body
        if len(self.confirms) > 2000:
            self.confirms.pop(next(iter(self.confirms)))
        return body

    def _reject(self, account_id: str, ref: str, **fields: Any) -> dict[str, Json]:
        """Finish a refused deal: a REJECTED confirm (IG's `reason`) on TRADE and /confirms."""
        return self._finish_deal(
            account_id, self._confirm(ref, status=None, accepted=False, **fields)
        )

    def _finish_deal(self, account_id: str, confirm: dict[str, Json]) -> dict[str, Json]:
        """Publish a confirm on TRADE, refresh ACCOUNT, answer `{"dealReference"}`."""
        self._publish_trade(account_id, "CONFIRMS", confirm)
        self._publish_account(account_id)
        self.notify()
        return {"dealReference": confirm["dealReference"]}

    def _opu(self, p: IgPosition, status: str, ref: str | None = None) -> dict[str, Json]:
        return {
            "dealReference": ref or p.deal_reference,
            "dealId": p.deal_id,
            "direction": p.direction,
            "epic": p.market.epic,
            "status": status,
            "dealStatus": "ACCEPTED",
            "level": _num(p.level),
            "size": _num(p.size),
            "timestamp": _iso_ms(now_ms()),
            "channel": "PublicRestOTC",
            "dealIdOrigin": p.deal_id_origin or p.deal_id,
            "expiry": "-",
            "stopLevel": _num(p.stop_level),
            "limitLevel": _num(p.limit_level),
            "guaranteedStop": p.guaranteed_stop,
            "currency": p.market.currency,
        }

    def _wou(self, o: IgWorkingOrder, status: str, ref: str | None = None) -> dict[str, Json]:
        """A WOU payload: OPU's fields (stop/limit levels from the distances) plus the order's."""
        sign = 1 if o.direction == "BUY" else -1
        stop, limit = o.stop_level, o.limit_level
        if stop is None and o.stop_distance is not None:
            stop = o.level - sign * o.stop_distance
        if limit is None and o.limit_distance is not None:
            limit = o.level + sign * o.limit_distance
        return {
            "dealReference": ref or o.deal_reference,
            "dealId": o.deal_id,
            "direction": o.direction,
            "epic": o.market.epic,
            "status": status,
            "dealStatus": "ACCEPTED",
            "level": _num(o.level),
            "size": _num(o.size),
            "timestamp": _iso_ms(now_ms()),
            "channel": "PublicRestOTC",
            "dealIdOrigin": o.deal_id,
            "expiry": "-",
            "stopLevel": _num(stop),
            "limitLevel": _num(limit),
            "stopDistance": _num(o.stop_distance),
            "limitDistance": _num(o.limit_distance),
            "guaranteedStop": o.guaranteed_stop,
            "currency": o.market.currency,
            "orderType": o.order_type,
            "timeInForce": o.time_in_force,
            "goodTillDate": None if o.good_till_ms is None else _snapshot_time(o.good_till_ms),
        }

    def _execute(self, account_id: str, m: IgMarket, direction: str, size: Decimal) -> Decimal:
        """Fill `size` at market through the engine; returns the average level."""
        st = self.state[m.epic]
        side = Side.BUY if direction == "BUY" else Side.SELL
        order = self.engine.place_order(account_id, st.inst, side, OrderType.MARKET, size)
        if order.filled <= 0:
            raise OrderError("no_liquidity", "no liquidity")
        return order.avg_price

    def _validate_size(self, m: IgMarket, size: Decimal) -> str | None:
        if size < m.min_size:
            return "MINIMUM_ORDER_SIZE_ERROR"
        if size % m.size_step != 0:
            return "SIZE_INCREMENT"
        return None

    def _attached_levels(
        self,
        direction: str,
        level: Decimal,
        body: dict[str, Json],
    ) -> tuple[Decimal | None, Decimal | None]:
        sign = 1 if direction == "BUY" else -1
        stop = _dec(body, "stopLevel")
        limit = _dec(body, "limitLevel")
        sd, ld = _dec(body, "stopDistance"), _dec(body, "limitDistance")
        if stop is None and sd is not None:
            stop = level - sign * sd
        if limit is None and ld is not None:
            limit = level + sign * ld
        return stop, limit

    def _post_positions_otc(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        if request.headers.get("_method", "").upper() == "DELETE":
            return self._close_position(request, ctx, body, version)
        assert ctx is not None
        acc = ctx.account
        for name in ("epic", "direction", "size", "orderType"):
            if body.get(name) in (None, ""):
                raise IgError(400, f"validation.null-not-allowed.request.{name}")
        direction = str(body["direction"]).upper()
        if direction not in ("BUY", "SELL"):
            raise IgError(400, "validation.invalid.request.direction")
        order_type = str(body["orderType"]).upper()
        if order_type not in ("MARKET", "LIMIT", "QUOTE"):
            raise IgError(400, "validation.invalid.request.orderType")
        size = _dec(body, "size")
        assert size is not None
        level = _dec(body, "level")
        if order_type in ("LIMIT", "QUOTE") and level is None:
            raise IgError(400, "validation.null-not-allowed.request.level")
        ref = str(body.get("dealReference") or self._deal_reference())
        deal_id = self._deal_id()
        epic = str(body["epic"])
        m = self.markets.get(epic)
        base: _Deal = {"epic": epic, "deal_id": deal_id, "direction": direction, "size": size}
        if m is None:
            return self._reject(acc.account_id, ref, reason="INSTRUMENT_NOT_FOUND", **base)
        bad = self._validate_size(m, size)
        if bad:
            return self._reject(acc.account_id, ref, reason=bad, **base)
        st = self.state[epic]
        price = st.offer if direction == "BUY" else st.bid
        if order_type in ("LIMIT", "QUOTE") and level is not None:
            if (direction == "BUY" and price > level) or (direction == "SELL" and price < level):
                return self._reject(acc.account_id, ref, reason="LEVEL_TOLERANCE_ERROR", **base)
        force_open = _bool(body.get("forceOpen"))
        opposite = [
            p
            for p in self.positions.values()
            if p.account_id == acc.account_id and p.market is m and p.direction != direction
        ]
        closing = ZERO if force_open else min(size, sum((p.size for p in opposite), ZERO))
        opening = size - closing
        stop, limit = self._attached_levels(direction, price, body)
        if opening > 0:
            need = opening * price * m.value_per_point * m.margin_factor / 100
            avail = acc.balance + self._pnl(acc.account_id) - self._margin(acc.account_id)
            if need > avail:
                return self._reject(acc.account_id, ref, reason="INSUFFICIENT_FUNDS", **base)
            if (stop is not None and (stop - price) * (1 if direction == "BUY" else -1) >= 0) or (
                limit is not None and (limit - price) * (1 if direction == "BUY" else -1) <= 0
            ):
                return self._reject(
                    acc.account_id, ref, reason="ATTACHED_ORDER_LEVEL_ERROR", **base
                )
        try:
            fill = self._execute(acc.account_id, m, direction, size)
        except OrderError as exc:
            reason = {"insufficient_balance": "INSUFFICIENT_FUNDS"}.get(exc.reason, "UNKNOWN")
            return self._reject(acc.account_id, ref, reason=reason, **base)
        affected: list[tuple[str, str]] = []
        profit = ZERO
        left = closing
        for p in opposite:
            if left <= 0:
                break
            take = min(left, p.size)
            profit += self._reduce(p, take, fill, ref, affected)
            left -= take
        status = "OPEN"
        if opening > 0:
            p = IgPosition(
                deal_id,
                ref,
                acc.account_id,
                m,
                direction,
                opening,
                fill,
                now_ms(),
                stop_level=stop,
                limit_level=limit,
                guaranteed_stop=_bool(body.get("guaranteedStop")),
                trailing_stop=_bool(body.get("trailingStop")),
            )
            self.positions[deal_id] = p
            affected.append((deal_id, "OPENED"))
            self._publish_trade(acc.account_id, "OPU", self._opu(p, "OPEN"))
        else:
            status = (
                "CLOSED" if all(s == "FULLY_CLOSED" for _, s in affected) else "PARTIALLY_CLOSED"
            )
        c = self._confirm(
            ref,
            status=status,
            level=fill,
            stop_level=stop if opening > 0 else None,
            limit_level=limit if opening > 0 else None,
            affected=affected,
            profit=profit if closing > 0 else None,
            currency=m.currency,
            **base,
        )
        return self._finish_deal(acc.account_id, c)

    def _reduce(
        self,
        p: IgPosition,
        size: Decimal,
        level: Decimal,
        ref: str,
        affected: list[tuple[str, str]],
    ) -> Decimal:
        """Close `size` of `p` at `level`: book the profit, publish OPU; returns the profit."""
        acc = self.accounts[p.account_id]
        profit = (level - p.level) * p.sign * size * p.market.value_per_point
        acc.balance += profit
        if size >= p.size:
            del self.positions[p.deal_id]
            affected.append((p.deal_id, "FULLY_CLOSED"))
            closed = IgPosition(**{**p.__dict__, "size": p.size})
            closed.level = level
            self._publish_trade(p.account_id, "OPU", self._opu(closed, "DELETED", ref))
        else:
            p.size -= size
            affected.append((p.deal_id, "PARTIALLY_CLOSED"))
            self._publish_trade(p.account_id, "OPU", self._opu(p, "UPDATED", ref))
        return profit

    def _close_position(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        acc = ctx.account
        for name in ("direction", "size", "orderType"):
            if body.get(name) in (None, ""):
                raise IgError(400, f"validation.null-not-allowed.request.{name}")
        direction = str(body["direction"]).upper()
        if direction not in ("BUY", "SELL"):
            raise IgError(400, "validation.invalid.request.direction")
        size = _dec(body, "size")
        assert size is not None
        order_type = str(body["orderType"]).upper()
        level = _dec(body, "level")
        ref = self._deal_reference()
        deal_id = str(body.get("dealId") or "")
        epic = str(body.get("epic") or "")
        if not deal_id and not epic:
            raise IgError(400, "validation.null-not-allowed.request.dealId")
        if deal_id:
            p = self.positions.get(deal_id)
            targets = [p] if p is not None and p.account_id == acc.account_id else []
        else:
            targets = [
                p
                for p in self.positions.values()
                if p.account_id == acc.account_id and p.market.epic == epic
            ]
        targets = [p for p in targets if p.direction != direction]
        base_epic = targets[0].market.epic if targets else (epic or None)
        if not targets or size > sum((p.size for p in targets), ZERO):
            return self._reject(
                acc.account_id,
                ref,
                epic=base_epic,
                deal_id=deal_id or self._deal_id(),
                reason="POSITION_NOT_AVAILABLE_TO_CLOSE",
                direction=direction,
                size=size,
            )
        m = targets[0].market
        st = self.state[m.epic]
        price = st.offer if direction == "BUY" else st.bid
        if order_type in ("LIMIT", "QUOTE") and level is not None:
            if (direction == "BUY" and price > level) or (direction == "SELL" and price < level):
                return self._reject(
                    acc.account_id,
                    ref,
                    epic=m.epic,
                    deal_id=targets[0].deal_id,
                    reason="LEVEL_TOLERANCE_ERROR",
                    direction=direction,
                    size=size,
                )
        try:
            fill = self._execute(acc.account_id, m, direction, size)
        except OrderError:
            return self._reject(
                acc.account_id,
                ref,
                epic=m.epic,
                deal_id=targets[0].deal_id,
                reason="UNKNOWN",
                direction=direction,
                size=size,
            )
        affected: list[tuple[str, str]] = []
        profit = ZERO
        left = size
        for p in targets:
            if left <= 0:
                break
            take = min(left, p.size)
            profit += self._reduce(p, take, fill, ref, affected)
            left -= take
        full = all(s == "FULLY_CLOSED" for _, s in affected)
        c = self._confirm(
            ref,
            epic=m.epic,
            deal_id=targets[0].deal_id,
            status="CLOSED" if full else "PARTIALLY_CLOSED",
            direction=direction,
            size=size,
            level=fill,
            affected=affected,
            profit=profit,
            currency=m.currency,
        )
        return self._finish_deal(acc.account_id, c)

    def _amend_position(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        acc = ctx.account
        deal_id = request.match_info["dealId"]
        ref = self._deal_reference()
        p = self.positions.get(deal_id)
        if p is None or p.account_id != acc.account_id:
            return self._reject(
                acc.account_id, ref, epic=None, deal_id=deal_id, reason="POSITION_NOT_FOUND"
            )
        stop, limit = _dec(body, "stopLevel"), _dec(body, "limitLevel")
        st = self.state[p.market.epic]
        close = st.bid if p.direction == "BUY" else st.offer
        if (stop is not None and (stop - close) * p.sign >= 0) or (
            limit is not None and (limit - close) * p.sign <= 0
        ):
            return self._reject(
                acc.account_id,
                ref,
                epic=p.market.epic,
                deal_id=deal_id,
                reason="ATTACHED_ORDER_LEVEL_ERROR",
                direction=p.direction,
                size=p.size,
            )
        p.stop_level, p.limit_level = stop, limit
        p.trailing_stop = _bool(body.get("trailingStop"))
        p.trailing_stop_distance = _dec(body, "trailingStopDistance")
        p.trailing_step = _dec(body, "trailingStopIncrement")
        p.guaranteed_stop = _bool(body.get("guaranteedStop"))
        self._publish_trade(acc.account_id, "OPU", self._opu(p, "UPDATED", ref))
        c = self._confirm(
            ref,
            epic=p.market.epic,
            deal_id=deal_id,
            status="AMENDED",
            direction=p.direction,
            size=p.size,
            level=p.level,
            stop_level=stop,
            limit_level=limit,
            affected=[(deal_id, "AMENDED")],
        )
        return self._finish_deal(acc.account_id, c)

    def _get_confirm(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        c = self.confirms.get(request.match_info["dealReference"])
        if c is None:
            raise IgError(404, "error.confirms.deal-not-found")
        return c

    # -- working orders -----------------------------------------------------------------------

    def _wo_json(self, o: IgWorkingOrder, version: int) -> dict[str, Json]:
        gtd = None if o.good_till_ms is None else o.good_till_ms
        data: dict[str, Json] = {
            "createdDate": _ig_created(o.created_ms),
            "createdDateUTC": _iso(o.created_ms),
            "currencyCode": o.market.currency,
            "dealId": o.deal_id,
            "direction": o.direction,
            "dma": False,
            "epic": o.market.epic,
            "goodTillDate": None if gtd is None else _snapshot_time(gtd),
            "goodTillDateISO": None if gtd is None else _iso(gtd),
            "guaranteedStop": o.guaranteed_stop,
            "limitDistance": _num(o.limit_distance),
            "limitedRiskPremium": None,
            "orderLevel": _num(o.level),
            "orderSize": _num(o.size),
            "orderType": o.order_type,
            "stopDistance": _num(o.stop_distance),
            "timeInForce": o.time_in_force,
        }
        if version < 2:
            data = {
                "size": _num(o.size),
                "trailingStopDistance": None,
                "direction": o.direction,
                "level": _num(o.level),
                "requestType": f"{o.order_type}_ORDER",
                "currencyCode": o.market.currency,
                "contingentLimit": _num(o.limit_distance),
                "trailingTriggerIncrement": None,
                "dealId": o.deal_id,
                "contingentStop": _num(o.stop_distance),
                "goodTill": "GTC" if gtd is None else _snapshot_time(gtd),
                "controlledRisk": o.guaranteed_stop,
                "trailingStopIncrement": None,
                "createdDate": _ig_created(o.created_ms),
                "epic": o.market.epic,
                "trailingTriggerDistance": None,
                "dma": False,
            }
        return {"workingOrderData": data, "marketData": self._market_row(o.market)}

    def _get_working_orders(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        acc = ctx.account.account_id
        return {
            "workingOrders": [
                self._wo_json(o, version)
                for o in self.working_orders.values()
                if o.account_id == acc
            ]
        }

    def _wo_fields(
        self, body: dict[str, Json], o: IgWorkingOrder | None
    ) -> tuple[str, str, int | None]:
        """(type, timeInForce, goodTill ms) from a create/amend body."""
        typ = str(body.get("type") or (o.order_type if o else "")).upper()
        if typ not in ("LIMIT", "STOP"):
            raise IgError(400, "validation.invalid.request.type")
        tif = str(body.get("timeInForce") or (o.time_in_force if o else "GOOD_TILL_CANCELLED"))
        tif = tif.upper()
        if tif not in ("GOOD_TILL_CANCELLED", "GOOD_TILL_DATE"):
            raise IgError(400, "validation.invalid.request.timeInForce")
        gtd_raw = body.get("goodTillDate")
        gtd = o.good_till_ms if o else None
        if gtd_raw not in (None, ""):
            try:
                gtd = int(gtd_raw) if isinstance(gtd_raw, int) else _parse_time(str(gtd_raw))
            except ValueError:
                raise IgError(400, "validation.invalid.request.goodTillDate") from None
        if tif == "GOOD_TILL_DATE" and gtd is None:
            raise IgError(400, "validation.null-not-allowed.request.goodTillDate")
        if tif == "GOOD_TILL_CANCELLED":
            gtd = None
        return typ, tif, gtd

    def _wrong_side(self, direction: str, typ: str, level: Decimal, st: _MarketState) -> bool:
        if direction == "BUY":
            return level >= st.offer if typ == "LIMIT" else level <= st.offer
        return level <= st.bid if typ == "LIMIT" else level >= st.bid

    def _create_working_order(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        acc = ctx.account
        for name in ("epic", "direction", "size", "level", "type", "timeInForce"):
            if body.get(name) in (None, ""):
                raise IgError(400, f"validation.null-not-allowed.request.{name}")
        direction = str(body["direction"]).upper()
        if direction not in ("BUY", "SELL"):
            raise IgError(400, "validation.invalid.request.direction")
        typ, tif, gtd = self._wo_fields(body, None)
        size, level = _dec(body, "size"), _dec(body, "level")
        assert size is not None and level is not None
        ref = str(body.get("dealReference") or self._deal_reference())
        deal_id = self._deal_id()
        epic = str(body["epic"])
        m = self.markets.get(epic)
        base: _OrderDeal = {
            "epic": epic,
            "deal_id": deal_id,
            "direction": direction,
            "size": size,
            "level": level,
        }
        reason = None
        if m is None:
            reason = "INSTRUMENT_NOT_FOUND"
        else:
            reason = self._validate_size(m, size)
            if reason is None and self._wrong_side(direction, typ, level, self.state[epic]):
                reason = "WRONG_SIDE_OF_MARKET"
            if reason is None and gtd is not None and gtd <= now_ms():
                reason = "GOOD_TILL_DATE_IN_THE_PAST"
        if reason is not None or m is None:
            return self._reject(acc.account_id, ref, reason=reason or "UNKNOWN", **base)
        sign = 1 if direction == "BUY" else -1
        sd, ld = _dec(body, "stopDistance"), _dec(body, "limitDistance")
        sl, ll = _dec(body, "stopLevel"), _dec(body, "limitLevel")
        if sd is None and sl is not None:
            sd = (level - sl) * sign
        if ld is None and ll is not None:
            ld = (ll - level) * sign
        o = IgWorkingOrder(
            deal_id,
            ref,
            acc.account_id,
            m,
            direction,
            size,
            level,
            typ,
            tif,
            now_ms(),
            good_till_ms=gtd,
            stop_distance=sd,
            limit_distance=ld,
            guaranteed_stop=_bool(body.get("guaranteedStop")),
            force_open=_bool(body.get("forceOpen")),
        )
        self.working_orders[deal_id] = o
        self._publish_trade(acc.account_id, "WOU", self._wou(o, "OPEN"))
        c = self._confirm(
            ref,
            status="OPEN",
            stop_distance=sd,
            limit_distance=ld,
            affected=[(deal_id, "OPENED")],
            **base,
        )
        return self._finish_deal(acc.account_id, c)

    def _amend_working_order(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        acc = ctx.account
        deal_id = request.match_info["dealId"]
        ref = self._deal_reference()
        o = self.working_orders.get(deal_id)
        if o is None or o.account_id != acc.account_id:
            return self._reject(
                acc.account_id, ref, epic=None, deal_id=deal_id, reason="ORDER_NOT_FOUND"
            )
        typ, tif, gtd = self._wo_fields(body, o)
        level = _dec(body, "level") or o.level
        if self._wrong_side(o.direction, typ, level, self.state[o.market.epic]):
            return self._reject(
                acc.account_id,
                ref,
                epic=o.market.epic,
                deal_id=deal_id,
                reason="WRONG_SIDE_OF_MARKET",
                direction=o.direction,
                size=o.size,
            )
        o.level, o.order_type, o.time_in_force, o.good_till_ms = level, typ, tif, gtd
        sign = 1 if o.direction == "BUY" else -1
        sd, ld = _dec(body, "stopDistance"), _dec(body, "limitDistance")
        sl, ll = _dec(body, "stopLevel"), _dec(body, "limitLevel")
        o.stop_distance = sd if sd is not None else (None if sl is None else (level - sl) * sign)
        o.limit_distance = ld if ld is not None else (None if ll is None else (ll - level) * sign)
        self._publish_trade(acc.account_id, "WOU", self._wou(o, "UPDATED", ref))
        c = self._confirm(
            ref,
            epic=o.market.epic,
            deal_id=deal_id,
            status="AMENDED",
            direction=o.direction,
            size=o.size,
            level=level,
            stop_distance=o.stop_distance,
            limit_distance=o.limit_distance,
            affected=[(deal_id, "AMENDED")],
        )
        return self._finish_deal(acc.account_id, c)

    def _post_working_order_id(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        if request.headers.get("_method", "").upper() != "DELETE":
            raise IgError(405, "invalid.url")
        return self._delete_working_order(request, ctx, body, version)

    def _delete_working_order(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        acc = ctx.account
        deal_id = request.match_info["dealId"]
        ref = self._deal_reference()
        o = self.working_orders.get(deal_id)
        if o is None or o.account_id != acc.account_id:
            return self._reject(
                acc.account_id, ref, epic=None, deal_id=deal_id, reason="ORDER_NOT_FOUND"
            )
        del self.working_orders[deal_id]
        self._publish_trade(acc.account_id, "WOU", self._wou(o, "DELETED", ref))
        c = self._confirm(
            ref,
            epic=o.market.epic,
            deal_id=deal_id,
            status="DELETED",
            direction=o.direction,
            size=o.size,
            level=o.level,
            affected=[(deal_id, "DELETED")],
        )
        return self._finish_deal(acc.account_id, c)

    # -- price history ------------------------------------------------------------------------

    def _synthetic_mid(self, m: IgMarket, t_ms: int) -> Decimal:
        """A deterministic smooth path through the past, equal to the start price at t0."""
        h = sum(ord(c) for c in m.epic) + self.seed

        def g(t: int) -> float:
            x = t / 1000.0
            v = 0.0
            for k, period in enumerate((604800.0, 86400.0, 14400.0, 2220.0, 300.0)):
                amp = 0.004 / (k + 1)
                v += amp * math.sin(2 * math.pi * x / period + (h * (k + 3)) % 7)
            return v

        f = 1.0 + g(t_ms) - g(self._t0_ms)
        return (m.start * D(str(round(f, 8)))).quantize(m.tick)

    def _history(
        self, m: IgMarket, res_s: int, start_ms: int, end_ms: int
    ) -> list[dict[str, Json]]:
        """Bars with start in [start_ms, end_ms], oldest first."""
        st = self.state[m.epic]
        step = res_s * 1000
        first = start_ms - start_ms % step
        if first < start_ms:
            first += step
        half = (m.spread / 2).quantize(m.tick)
        live = list(st.seconds) + [c for c in (st.candles.get("SECOND"),) if c is not None]
        live_starts = [c.start_ms for c in live]
        out: list[dict[str, Json]] = []
        t = first
        guard = 0
        while t <= end_ms and guard < 100_000:
            guard += 1
            bar = None
            if t + step <= self._t0_ms or t < self._t0_ms:
                o = self._synthetic_mid(m, t)
                c = self._synthetic_mid(m, t + step)
                mid = self._synthetic_mid(m, t + step // 2)
                wig = m.tick * max(1, int(m.vol_ticks))
                hi, lo = max(o, c, mid) + wig, min(o, c, mid) - wig
                bid4 = [o - half, hi - half, lo - half, c - half]
                ask4 = [o + half, hi + half, lo + half, c + half]
                vol = 10 + (t // 1000 + self.seed) % 90
                bar = (bid4, ask4, int(vol))
            else:
                inside = live[bisect_left(live_starts, t) : bisect_left(live_starts, t + step)]
                if not inside and t <= now_ms():  # started, nothing ticked: flat at the quote
                    inside = [_Candle(t, [st.bid] * 4, [st.offer] * 4, None)]
                if inside:
                    bid4 = [
                        inside[0].bid[0],
                        max(s.bid[1] for s in inside),
                        min(s.bid[2] for s in inside),
                        inside[-1].bid[3],
                    ]
                    ask4 = [
                        inside[0].ofr[0],
                        max(s.ofr[1] for s in inside),
                        min(s.ofr[2] for s in inside),
                        inside[-1].ofr[3],
                    ]
                    bar = (bid4, ask4, sum(s.volume for s in inside))
            if bar is not None:
                bid4, ask4, vol = bar

                def px(b: Decimal, a: Decimal) -> dict[str, Json]:
                    return {"bid": _num(b), "ask": _num(a), "lastTraded": None}

                out.append(
                    {
                        "snapshotTime": _snapshot_time(t),
                        "snapshotTimeUTC": _iso(t),
                        "openPrice": px(bid4[0], ask4[0]),
                        "closePrice": px(bid4[3], ask4[3]),
                        "highPrice": px(bid4[1], ask4[1]),
                        "lowPrice": px(bid4[2], ask4[2]),
                        "lastTradedVolume": vol,
                    }
                )
            t += step
        return out

    def _take_points(self, ctx: _Ctx, n: int) -> dict[str, Json]:
        w = self._window(
            self._hist_windows,
            ctx.account.account_id,
            self.historical_points_limit,
            self.historical_window_s,
        )
        w.window_s = self.historical_window_s
        if w.used + n > w.limit:
            self._limited(E_HISTORY_ALLOWANCE)
        if n:
            w.add(n)
        return {
            "remainingAllowance": w.limit - w.used,
            "totalAllowance": w.limit,
            "allowanceExpiry": w.retry_after_s() if w.used else int(self.historical_window_s),
        }

    @staticmethod
    def _resolution(raw: str | None) -> int:
        name = (raw or "MINUTE").upper()
        name = _RES_ALIASES.get(name, name)
        res = RESOLUTIONS.get(name)
        if res is None:
            raise IgError(400, "validation.invalid.resolution")
        return res

    def _get_prices_v3(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        m = self._market(request.match_info["epic"])
        q = request.query
        res = self._resolution(q.get("resolution"))
        try:
            max_n = int(q.get("max") or 10)
            page_size = int(q.get("pageSize") or 20)  # absent or empty: 20
            page_no = int(q.get("pageNumber") or 1)
            start = _parse_time(q["from"]) if q.get("from") else None
            end = _parse_time(q["to"]) if q.get("to") else None
        except (ValueError, KeyError):
            raise IgError(400, "validation.invalid.request") from None
        now = now_ms()
        if start is None and end is None:
            end = now
            start = now - now % (res * 1000) - (max_n - 1) * res * 1000
            bars = self._history(m, res, start, end)[-max_n:]
        else:
            end = now if end is None else end
            start = end - max_n * res * 1000 if start is None else start
            bars = self._history(m, res, start, end)
        total = len(bars)
        if page_size > 0:
            pages = math.ceil(total / page_size) if total else 0
            page = bars[(page_no - 1) * page_size : page_no * page_size]
        else:
            pages, page = (1 if total else 0), bars
        allowance = self._take_points(ctx, len(page))
        return {
            "prices": page,
            "instrumentType": m.instrument_type,
            "metadata": {
                "allowance": allowance,
                "size": len(page),
                "pageData": {"pageSize": page_size, "pageNumber": page_no, "totalPages": pages},
            },
        }

    def _get_prices_path(
        self, request: web.Request, ctx: _Ctx | None, body: dict[str, Json], version: int
    ) -> Json:
        assert ctx is not None
        mi = request.match_info
        m = self._market(mi["epic"])
        res = self._resolution(mi.get("resolution"))
        now = now_ms()
        try:
            if "startDate" in mi:
                start, end = (
                    _parse_time(unquote(mi["startDate"])),
                    _parse_time(unquote(mi["endDate"])),
                )
                bars = self._history(m, res, start, end)
            elif "numPoints" in mi:
                n = int(mi["numPoints"])
                start = now - now % (res * 1000) - (n - 1) * res * 1000
                bars = self._history(m, res, start, now)[-n:]
            else:  # v1: ?startdate=&enddate=
                start = _parse_time(request.query["startdate"])
                end = _parse_time(request.query["enddate"])
                bars = self._history(m, res, start, end)
        except (ValueError, KeyError):
            raise IgError(400, "validation.invalid.request") from None
        allowance = self._take_points(ctx, len(bars))
        return {"prices": bars, "instrumentType": m.instrument_type, "allowance": allowance}

    # -- the price process --------------------------------------------------------------------

    def on_event(self, event: SimEvent) -> None:
        """Accumulate traded volume for LTP/LTV/TTV (prices are read after each tick)."""
        if isinstance(event, TradeUpdate):
            st = self.state.get(event.instrument.symbol) if hasattr(self, "state") else None
            if st is not None:
                vol = max(1, int(event.trade.qty))
                st.last_trade = event.trade.price
                st.last_volume = vol
                st.pending_volume += vol
                st.pending_trades += 1

    def tick(self) -> None:
        """Advance the price process one step, then stream, trigger orders and stops."""
        self.engine.tick()
        ts = now_ms()
        for st in self.state.values():
            self._on_price(st, ts)
        self._expire_working_orders(ts)
        for st in self.state.values():
            self._trigger(st)
        for acc_id in self.accounts:
            self._publish_account(acc_id)
        self.notify()

    def _on_price(self, st: _MarketState, ts: int) -> None:
        m = st.market
        st.bid, st.offer = self._engine_bbo(st.inst)
        st.update_ms = ts
        mid = st.mid
        st.day_high, st.day_low = max(st.day_high, mid), min(st.day_low, mid)
        vol, st.pending_volume = st.pending_volume, 0
        st.pending_trades = 0
        day = self._day_values(st)
        tick_vals: dict[str, str | None] = {
            "BID": self._px(m, st.bid),
            "OFR": self._px(m, st.offer),
            "LTP": None if st.last_trade is None else self._px(m, st.last_trade),
            "LTV": str(st.last_volume) if st.last_trade is not None else None,
            "TTV": str(vol),
            "UTM": str(ts),
            **day,
        }
        st.ticks.append(tick_vals)
        self._publish(_Item("TICK", epic=m.epic), tick_vals, distinct=True)
        for scale, period in CANDLE_SCALES.items():
            start = ts - ts % period
            c = st.candles.get(scale)
            if c is not None and c.start_ms != start:
                c.ended = True
                self._publish(_Item("CANDLE", epic=m.epic, scale=scale), self._candle_values(st, c))
                if scale == "SECOND":
                    st.seconds.append(c)
                c = None
            if c is None:
                c = _Candle(
                    start,
                    [st.bid] * 4,
                    [st.offer] * 4,
                    None if st.last_trade is None or not vol else [st.last_trade] * 4,
                )
                st.candles[scale] = c
            self._candle_add(c, st, vol)
            self._publish(_Item("CANDLE", epic=m.epic, scale=scale), self._candle_values(st, c))
        price = self._price_values(st)
        for acc_id in self.accounts:
            self._publish(_Item("PRICE", epic=m.epic, account=acc_id), price)

    @staticmethod
    def _candle_add(c: _Candle, st: _MarketState, vol: int) -> None:
        for ohlc, px in ((c.bid, st.bid), (c.ofr, st.offer)):
            ohlc[1], ohlc[2], ohlc[3] = max(ohlc[1], px), min(ohlc[2], px), px
        if vol and st.last_trade is not None:
            if c.ltp is None:
                c.ltp = [st.last_trade] * 4
            else:
                lt = st.last_trade
                c.ltp[1], c.ltp[2], c.ltp[3] = max(c.ltp[1], lt), min(c.ltp[2], lt), lt
        c.volume += vol
        c.ticks += 1
        c.ttv = vol

    def _day_values(self, st: _MarketState) -> dict[str, str | None]:
        m = st.market
        chg = st.mid - st.day_open
        pct = chg / st.day_open * 100 if st.day_open else ZERO
        return {
            "DAY_OPEN_MID": self._px(m, st.day_open),
            "DAY_NET_CHG_MID": self._px(m, chg),
            "DAY_PERC_CHG_MID": _s2(pct),
            "DAY_HIGH": self._px(m, st.day_high),
            "DAY_LOW": self._px(m, st.day_low),
        }

    def _candle_values(self, st: _MarketState, c: _Candle | None) -> dict[str, str | None]:
        m = st.market
        out: dict[str, str | None] = {
            "LTV": str(c.volume) if c else "0",
            "TTV": str(c.ttv) if c else "0",
            "UTM": str(c.start_ms if c else st.update_ms),
            **self._day_values(st),
            "BID": self._px(m, st.bid),
            "OFR": self._px(m, st.offer),
            "LTP": None if st.last_trade is None else self._px(m, st.last_trade),
            "CONS_END": "1" if c and c.ended else "0",
            "CONS_TICK_COUNT": str(c.ticks if c else 0),
        }
        for prefix, ohlc in (
            ("BID", c.bid if c else [st.bid] * 4),
            ("OFR", c.ofr if c else [st.offer] * 4),
            ("LTP", c.ltp if c else None),
        ):
            for k, name in enumerate(("OPEN", "HIGH", "LOW", "CLOSE")):
                out[f"{prefix}_{name}"] = None if ohlc is None else self._px(m, ohlc[k])
        return out

    def _price_values(self, st: _MarketState) -> dict[str, str | None]:
        m, inst = st.market, st.inst
        book = self.engine.book(inst)
        bids, asks = book.side(True, 5), book.side(False, 5)
        chg = st.mid - st.day_open
        pct = chg / st.day_open * 100 if st.day_open else ZERO
        out: dict[str, str | None] = dict.fromkeys(PRICE_FIELDS)
        out.update(
            {
                "MID_OPEN": self._px(m, st.day_open),
                "HIGH": self._px(m, st.day_high),
                "LOW": self._px(m, st.day_low),
                "CHANGE": self._px(m, chg),
                "CHANGE_PCT": _s2(pct),
                "UPDATE_TIME": _hms(st.update_ms),
                "MARKET_STATE": "TRADEABLE",
                "BIDQUOTEID": f"{m.market_id}-B-{st.update_ms}",
                "ASKQUOTEID": f"{m.market_id}-A-{st.update_ms}",
                "TIMESTAMP": str(st.update_ms),
                "NET_CHG": self._px(m, chg),
                "NET_CHG_": _s2(pct),
                "DLG_FLAG": "DEAL",
                "CURRENCY0": m.currency,
            }
        )
        for i in range(5):
            if i < len(bids):
                out[f"BIDPRICE{i + 1}"] = self._px(m, inst.price(bids[i][0]))
                out[f"BIDSIZE{i + 1}"] = _plain(inst.qty(bids[i][1]))
            if i < len(asks):
                out[f"ASKPRICE{i + 1}"] = self._px(m, inst.price(asks[i][0]))
                out[f"ASKSIZE{i + 1}"] = _plain(inst.qty(asks[i][1]))
        return out

    def _account_values(self, acc_id: str) -> dict[str, str | None]:
        acc = self.accounts[acc_id]
        pnl, margin = self._pnl(acc_id), self._margin(acc_id)
        equity = acc.balance + pnl
        used = margin / equity * 100 if equity > 0 else ZERO
        return {
            "PNL": _s2(pnl),
            "PNL_LR": "0.00",
            "PNL_NLR": _s2(pnl),
            "DEPOSIT": _s2(margin),
            "AVAILABLE_CASH": _s2(acc.balance - margin),
            "AVAILABLE_TO_DEAL": _s2(equity - margin),
            "FUNDS": _s2(acc.balance),
            "MARGIN": _s2(margin),
            "MARGIN_LR": "0.00",
            "MARGIN_NLR": _s2(margin),
            "EQUITY": _s2(equity),
            "EQUITY_USED": _s2(used),
        }

    def _expire_working_orders(self, ts: int) -> None:
        for o in list(self.working_orders.values()):
            if o.good_till_ms is not None and ts >= o.good_till_ms:
                del self.working_orders[o.deal_id]
                self._publish_trade(o.account_id, "WOU", self._wou(o, "DELETED"))

    def _trigger(self, st: _MarketState) -> None:
        """Fill working orders the bid/offer reached; close positions at their stop/limit."""
        for o in [w for w in self.working_orders.values() if w.market is st.market]:
            px = st.offer if o.direction == "BUY" else st.bid
            if o.order_type == "LIMIT":
                hit = px <= o.level if o.direction == "BUY" else px >= o.level
            else:
                hit = px >= o.level if o.direction == "BUY" else px <= o.level
            if hit:
                self._fill_working_order(o)
        for p in [q for q in self.positions.values() if q.market is st.market]:
            close = st.bid if p.direction == "BUY" else st.offer
            stop_hit = p.stop_level is not None and (close - p.stop_level) * p.sign <= 0
            limit_hit = p.limit_level is not None and (close - p.limit_level) * p.sign >= 0
            if stop_hit or limit_hit:
                try:
                    fill = self._execute(
                        p.account_id, p.market, "SELL" if p.sign > 0 else "BUY", p.size
                    )
                except OrderError:
                    continue
                self._reduce(p, p.size, fill, self._deal_reference(), [])
                self._publish_account(p.account_id)

    def _fill_working_order(self, o: IgWorkingOrder) -> None:
        del self.working_orders[o.deal_id]
        acc = self.accounts[o.account_id]
        m = o.market
        need = o.size * o.level * m.value_per_point * m.margin_factor / 100
        if need > acc.balance + self._pnl(acc.account_id) - self._margin(acc.account_id):
            self._publish_trade(o.account_id, "WOU", self._wou(o, "DELETED"))
            return
        try:
            fill = self._execute(o.account_id, m, o.direction, o.size)
        except OrderError:
            self._publish_trade(o.account_id, "WOU", self._wou(o, "DELETED"))
            return
        sign = 1 if o.direction == "BUY" else -1
        p = IgPosition(
            o.deal_id,
            o.deal_reference,
            o.account_id,
            m,
            o.direction,
            o.size,
            fill,
            now_ms(),
            stop_level=None if o.stop_distance is None else fill - sign * o.stop_distance,
            limit_level=None if o.limit_distance is None else fill + sign * o.limit_distance,
            guaranteed_stop=o.guaranteed_stop,
            deal_id_origin=o.deal_id,
        )
        self.positions[p.deal_id] = p
        self._publish_trade(o.account_id, "WOU", self._wou(o, "DELETED"))
        self._publish_trade(o.account_id, "OPU", self._opu(p, "OPEN"))
        self._publish_account(o.account_id)

    async def stop(self) -> None:
        """Close every Lightstreamer session, then stop the server."""
        for sess in list(self.ls_sessions.values()):
            self._ls_close(sess)
        await super().stop()

    # -- Lightstreamer: publishing ------------------------------------------------------------

    def _publish(
        self, item: _Item, values: Mapping[str, str | None], *, distinct: bool = False
    ) -> None:
        for sess, sub, idx in self._ls_watch.get(item, ()):
            row = [values.get(f) for f in sub.fields]
            prev = sub.last[idx]
            if prev == row and sub.mode == "MERGE" and not distinct:
                continue
            sub.last[idx] = row
            self._ls_send(sess, [tlcp_update(sub.sub_id, idx + 1, row, prev)])

    def _publish_trade(self, account_id: str, field_name: str, payload: dict[str, Json]) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        values: dict[str, str | None] = {f: None for f in TRADE_FIELDS}
        values[field_name] = text
        self._publish(_Item("TRADE", account=account_id), values, distinct=True)

    def _publish_account(self, account_id: str) -> None:
        item = _Item("ACCOUNT", account=account_id)
        if self._ls_watch.get(item):
            self._publish(item, self._account_values(account_id))

    def _current_values(self, item: _Item) -> dict[str, str | None] | None:
        """What a MERGE snapshot of `item` shows now (None: no snapshot)."""
        if item.kind == "PRICE":
            assert item.epic
            return self._price_values(self.state[item.epic])
        if item.kind == "CANDLE":
            assert item.epic and item.scale
            st = self.state[item.epic]
            c = st.candles.get(item.scale)
            if c is None:  # nothing ticked yet: the current period, flat
                period = CANDLE_SCALES[item.scale]
                t = st.update_ms - st.update_ms % period
                c = _Candle(t, [st.bid] * 4, [st.offer] * 4, None)
            return self._candle_values(st, c)
        if item.kind == "ACCOUNT":
            assert item.account
            return self._account_values(item.account)
        if item.kind == "TICK":
            assert item.epic
            st = self.state[item.epic]
            return st.ticks[-1] if st.ticks else None
        return None

    def ls_loop(self, delay_ms: int = 0) -> int:
        """Send `LOOP,<delay_ms>` on every bound Lightstreamer session and unbind it."""
        n = 0
        for sess in list(self.ls_sessions.values()):
            conn = sess.conn
            if conn is None or sess.closed:
                continue
            conn.send(f"LOOP,{delay_ms}\r\n")
            self._unbind(sess)
            n += 1
        return n

    def _unbind(self, sess: _LsSession) -> None:
        """Stop streaming `sess` on its connection; it waits `ls_rebind_timeout_s` for a
        `bind_session` (after LOOP) or a recovery request (after a lost connection)."""
        sess.conn = None
        self._arm_expiry(sess)
        self.notify()

    def _arm_expiry(self, sess: _LsSession) -> None:
        if sess.expiry is not None:
            sess.expiry.cancel()
        loop = asyncio.get_event_loop()
        sess.expiry = loop.call_later(self.ls_rebind_timeout_s, self._ls_expire, sess)

    def _ls_expire(self, sess: _LsSession) -> None:
        if sess.conn is None and not sess.closed:
            log.info("sim ig: lightstreamer session %s not rebound, closed", sess.session_id)
            self._ls_close(sess)

    def _ls_send(self, sess: _LsSession, lines: list[str]) -> None:
        """Number the data notifications (kept for rebind and recovery) and stream the
        lines if the session is bound (other lines are dropped while it is not)."""
        if sess.closed or not lines:
            return
        for line in lines:
            if line.startswith(_DATA_NOTIFICATIONS):
                sess.prog += 1
                sess.replay.append((sess.prog, line))
        conn = sess.conn
        if conn is None:
            return
        conn.send("".join(line + "\r\n" for line in lines))
        conn.data["last_sent"] = time.monotonic()
        sess.sent_prog = sess.prog

    @staticmethod
    def _replay_from(sess: _LsSession, prog: int) -> list[str] | None:
        """Data notifications after progressive `prog` (None: no longer held)."""
        if prog > sess.prog:
            return None
        if prog < sess.prog and (not sess.replay or sess.replay[0][0] > prog + 1):
            return None
        return [line for n, line in sess.replay if n > prog]

    def _ls_close(self, sess: _LsSession) -> None:
        sess.closed = True
        if sess.expiry is not None:
            sess.expiry.cancel()
            sess.expiry = None
        for sub in list(sess.subs.values()):
            self._unwatch(sess, sub)
        sess.subs.clear()
        self.ls_sessions.pop(sess.session_id, None)
        self.notify()

    def _unwatch(self, sess: _LsSession, sub: _LsSub) -> None:
        for it in set(sub.items):
            lst = self._ls_watch.get(it)
            if lst:
                lst[:] = [w for w in lst if not (w[0] is sess and w[1] is sub)]
                if not lst:
                    del self._ls_watch[it]

    # -- Lightstreamer: the WebSocket ---------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _ls_websocket(
        self, request: web.Request, protocol: str | None
    ) -> AsyncIterator[SimConnection]:
        """`SimExchange.websocket` with a negotiated subprotocol."""
        ws = web.WebSocketResponse(
            autoping=False,
            protocols=(protocol,) if protocol else (),
            max_msg_size=4 * 1024 * 1024,
        )
        await ws.prepare(request)
        cid = self._next_conn
        self._next_conn += 1
        conn = SimConnection(self, request, ws, LS_KIND, cid)
        self._conns[cid] = conn
        self.stats.ws_opened[LS_KIND] += 1
        self.stats.ws_open[LS_KIND] += 1
        conn._start()
        self.notify()
        try:
            yield conn
        finally:
            self._conns.pop(cid, None)
            self.stats.ws_open[LS_KIND] -= 1
            conn._closed = True
            for t in conn._tasks:
                t.cancel()
            with contextlib.suppress(Exception):
                if not ws.closed:
                    await asyncio.wait_for(ws.close(), 1.0)
            self.notify()

    async def _ls_handler(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(status=400, text="WebSocket only")
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        offered = [p for p in offered if p]
        tlcp = [p for p in offered if p.startswith("TLCP-") and p.endswith(".lightstreamer.com")]
        if TLCP_PROTOCOL in offered:
            chosen: str | None = TLCP_PROTOCOL
        elif tlcp:
            chosen = tlcp[0]
        else:
            chosen = None
        version = chosen[len("TLCP-") : -len(".lightstreamer.com")] if chosen else TLCP_VERSION
        async with self._ls_websocket(request, chosen) as conn:
            conn.data["tlcp"] = version
            conn.data["last_sent"] = time.monotonic()
            prober = asyncio.ensure_future(self._ls_prober(conn))
            try:
                async for text in conn:
                    try:
                        self._ls_frame(conn, text)
                    except Exception:  # a bad request must not kill the server side
                        log.exception("sim ig: lightstreamer request failed")
                        conn.send("ERROR,61,Internal error\r\n")
            finally:
                prober.cancel()
                sess = conn.data.get("session")
                if isinstance(sess, _LsSession) and sess.conn is conn and not sess.closed:
                    self._unbind(sess)  # kept for session recovery
        return conn.ws

    async def _ls_prober(self, conn: SimConnection) -> None:
        """PROBE whenever a keepalive period passed with nothing sent."""
        try:
            while not conn.closed:
                sess = conn.data.get("session")
                ka = sess.keepalive_ms / 1000 if isinstance(sess, _LsSession) else 1.0
                await asyncio.sleep(max(0.02, min(ka / 4, 0.5)))
                sess = conn.data.get("session")
                if not isinstance(sess, _LsSession) or sess.conn is not conn or sess.closed:
                    continue
                last = conn.data.get("last_sent")
                if isinstance(last, float) and time.monotonic() - last >= sess.keepalive_ms / 1000:
                    conn.send("PROBE\r\n")
                    conn.data["last_sent"] = time.monotonic()
        except asyncio.CancelledError:
            return

    def _ls_reply(self, conn: SimConnection, *lines: str) -> None:
        conn.send("".join(line + "\r\n" for line in lines))
        conn.data["last_sent"] = time.monotonic()

    def _ls_frame(self, conn: SimConnection, text: str) -> None:
        verb, sets = _parse_ls_frame(text)
        if log.isEnabledFor(logging.DEBUG):
            safe = [{k: ("***" if k == "LS_password" else v) for k, v in ps.items()} for ps in sets]
            log.debug("sim ig ls #%d <- %s %s", conn.id, verb, safe)
        if verb == "wsok":
            self._ls_reply(conn, "WSOK")
        elif verb == "create_session":
            self._ls_create(conn, sets[0] if sets else {})
        elif verb == "bind_session":
            self._ls_bind(conn, sets[0] if sets else {})
        elif verb == "control":
            for params in sets:
                self._ls_control(conn, params)
        elif verb == "heartbeat":
            pass
        elif verb == "msg":
            for params in sets:
                prog = params.get("LS_msg_prog", "1")
                seq = params.get("LS_sequence", "*")
                self._ls_reply(
                    conn, f"MSGFAIL,{seq},{prog},-1,{tlcp_quote('Messages not accepted')}"
                )
        else:
            self._ls_reply(conn, f"ERROR,61,{tlcp_quote('Unknown request: ' + verb)}")

    def _ls_create(self, conn: SimConnection, p: dict[str, str]) -> None:
        version = conn.data.get("tlcp")
        if version != TLCP_VERSION:
            self._ls_reply(
                conn, f"CONERR,65,{tlcp_quote(f'Unsupported protocol version: {version}')}"
            )
            return
        adapter_set = p.get("LS_adapter_set")
        if adapter_set not in (None, "", "DEFAULT"):
            self._ls_reply(conn, f"CONERR,2,{tlcp_quote('Requested Adapter Set not available')}")
            return
        client = self._ls_auth(p.get("LS_password", ""))
        user = p.get("LS_user")
        if client is None or (user not in (None, "") and user not in self.accounts):
            self.stats.auth_failures += 1
            self._ls_reply(conn, f"CONERR,1,{tlcp_quote('User/password check failed')}")
            return
        ka = self.ls_keepalive_ms
        if p.get("LS_keepalive_millis"):
            with contextlib.suppress(ValueError):
                ka = min(max(int(p["LS_keepalive_millis"]), 100), 120_000)
        sid = f"S{secrets.token_hex(8)}M{self._rng.randrange(10**6):06d}T{now_ms() % 10**7:07d}"
        old = conn.data.get("session")
        if isinstance(old, _LsSession) and old.conn is conn:
            self._ls_close(old)
        sess = _LsSession(sid, client, user or client.account_id, ka, conn)
        self.ls_sessions[sid] = sess
        conn.data["session"] = sess
        peer = conn.request.remote or "127.0.0.1"
        self._ls_reply(
            conn,
            f"CONOK,{sid},{self.ls_request_limit},{ka},*",
            "SERVNAME,Lightstreamer HTTP Server",
            f"CLIENTIP,{peer}",
            "CONS,unlimited",
        )
        self.notify()

    def _ls_auth(self, password: str) -> IgClientSession | None:
        if self.faults.take_reject_auth():
            return None
        cst = xst = None
        for part in password.split("|"):
            if part.startswith("CST-"):
                cst = part[4:]
            elif part.startswith("XST-"):
                xst = part[4:]
        if not cst or not xst:
            return None
        return self._session_by_cst(cst, xst)

    def _ls_bind(self, conn: SimConnection, p: dict[str, str]) -> None:
        if conn.data.get("tlcp") != TLCP_VERSION:
            version = conn.data.get("tlcp")
            self._ls_reply(
                conn, f"CONERR,65,{tlcp_quote(f'Unsupported protocol version: {version}')}"
            )
            return
        sess = self.ls_sessions.get(p.get("LS_session", ""))
        if sess is None or sess.closed:
            self._ls_reply(conn, f"CONERR,4,{tlcp_quote('Session not found')}")
            return
        recovery = p.get("LS_recovery_from")
        start = _int(recovery) if recovery not in (None, "") else sess.sent_prog
        lines = self._replay_from(sess, start)
        if lines is None:
            self._ls_reply(conn, f"CONERR,4,{tlcp_quote('Session recovery not possible')}")
            return
        if p.get("LS_keepalive_millis"):
            with contextlib.suppress(ValueError):
                sess.keepalive_ms = min(max(int(p["LS_keepalive_millis"]), 100), 120_000)
        if sess.expiry is not None:
            sess.expiry.cancel()
            sess.expiry = None
        sess.conn = conn
        conn.data["session"] = sess
        head = [f"CONOK,{sess.session_id},{self.ls_request_limit},{sess.keepalive_ms},*"]
        if recovery not in (None, ""):
            head.append(f"PROG,{start}")
        self._ls_reply(conn, *head, *lines)
        sess.sent_prog = sess.prog
        self.notify()

    async def _ls_http_bind(self, request: web.Request) -> web.StreamResponse:
        """`POST /lightstreamer/bind_session.txt`: the HTTP request a client sends to recover
        a session after losing its stream connection (`LS_recovery_from`, polling with
        `LS_polling_millis=0`). Answers CONOK, PROG, the data notifications the client
        missed, then `LOOP,0` (the client then binds a new stream)."""
        _, sets = _parse_ls_frame("bind\r\n" + (await request.text()))
        p = {k: v for ps in sets for k, v in ps.items()}
        version = request.query.get("LS_protocol", "").removeprefix("TLCP-")

        def answer(*lines: str) -> web.Response:
            return web.Response(
                text="".join(line + "\r\n" for line in lines),
                content_type="text/enriched",
                charset="UTF-8",
            )

        if version != TLCP_VERSION:
            return answer(f"CONERR,65,{tlcp_quote(f'Unsupported protocol version: {version}')}")
        sess = self.ls_sessions.get(p.get("LS_session", ""))
        if sess is None or sess.closed:
            return answer(f"CONERR,4,{tlcp_quote('Session not found')}")
        start = _int(p.get("LS_recovery_from")) if p.get("LS_recovery_from") else sess.sent_prog
        lines = self._replay_from(sess, start)
        if lines is None:
            return answer(f"CONERR,4,{tlcp_quote('Session recovery not possible')}")
        if sess.conn is not None:  # the client gave up on that stream: stop writing to it
            sess.conn.data.pop("session", None)
        sess.conn = None
        sess.sent_prog = sess.prog
        self._arm_expiry(sess)
        log.info("sim ig: lightstreamer session %s recovered from %d", sess.session_id, start)
        return answer(
            f"CONOK,{sess.session_id},{self.ls_request_limit},0,*",
            f"PROG,{start}",
            *lines,
            "LOOP,0",
        )

    def _ls_control(self, conn: SimConnection, p: dict[str, str]) -> None:
        req = p.get("LS_reqId", "")
        op = p.get("LS_op", "")
        sess = conn.data.get("session")
        if "LS_session" in p:
            sess = self.ls_sessions.get(p["LS_session"])
        if not isinstance(sess, _LsSession) or sess.closed:
            self._ls_reply(conn, f"REQERR,{req},20,{tlcp_quote('Session not found')}")
            return
        ack = p.get("LS_ack", "true").lower() != "false"
        if op == "add":
            self._ls_add(sess, conn, req, p, ack)
        elif op == "delete":
            sub = sess.subs.pop(_int(p.get("LS_subId")), None)
            if sub is None:
                self._ls_reply(
                    conn, f"REQERR,{req},19,{tlcp_quote('Specified subscription not found')}"
                )
                return
            self._unwatch(sess, sub)
            lines = [f"REQOK,{req}"] if ack else []
            self._ls_send(sess, [*lines, f"UNSUB,{sub.sub_id}"])
        elif op == "destroy":
            self._ls_reply(conn, f"REQOK,{req}")
            self._ls_close(sess)
            if p.get("LS_close_socket", "false").lower() == "true":
                conn.close(1000, "destroyed")
        elif op in ("constrain", "reconf"):
            self._ls_reply(conn, f"REQOK,{req}")
        elif op == "force_rebind":
            self._ls_reply(conn, f"REQOK,{req}")
            if sess.conn is conn:
                conn.send("LOOP,0\r\n")
                self._unbind(sess)
        else:
            self._ls_reply(conn, f"REQERR,{req},32,{tlcp_quote('Unsupported operation: ' + op)}")

    def _parse_item(self, name: str, adapter: str | None) -> _Item | None:
        parts = name.split(":")
        kind = parts[0]
        pricing = adapter == "Pricing"
        if kind == "PRICE" and len(parts) == 3 and pricing:
            if parts[1] in self.accounts and parts[2] in self.markets:
                return _Item("PRICE", epic=parts[2], account=parts[1])
            return None
        if pricing:
            return None
        if kind == "CHART" and len(parts) == 3 and parts[1] in self.markets:
            if parts[2] == "TICK":
                return _Item("TICK", epic=parts[1])
            if parts[2] in CANDLE_SCALES:
                return _Item("CANDLE", epic=parts[1], scale=parts[2])
            return None
        if kind in ("ACCOUNT", "TRADE") and len(parts) == 2 and parts[1] in self.accounts:
            return _Item(kind, account=parts[1])
        return None

    def _ls_add(
        self, sess: _LsSession, conn: SimConnection, req: str, p: dict[str, str], ack: bool
    ) -> None:
        def err(code: int, msg: str) -> None:
            self._ls_reply(conn, f"REQERR,{req},{code},{tlcp_quote(msg)}")

        sub_id = _int(p.get("LS_subId"))
        if sub_id <= 0:
            err(15, "Invalid subscription id")
            return
        if sub_id in sess.subs:  # a repeated request: already done
            if ack:
                self._ls_reply(conn, f"REQOK,{req}")
            return
        mode = p.get("LS_mode", "")
        if mode not in ("MERGE", "DISTINCT", "RAW", "COMMAND"):
            err(24, "Mode not allowed for an Item")
            return
        adapter = p.get("LS_data_adapter") or None
        if adapter not in (None, "DEFAULT", "Pricing"):
            err(17, "Bad Data Adapter name")
            return
        names = [n for n in p.get("LS_group", "").split(" ") if n]
        fields = [f for f in p.get("LS_schema", "").split(" ") if f]
        if not names:
            err(21, "Bad Group name")
            return
        if not fields:
            err(23, "Bad Schema name")
            return
        items = []
        for n in names:
            it = self._parse_item(n, adapter)
            if it is None:
                err(21, "Bad Group name")
                return
            items.append(it)
        for it in items:
            if any(f not in it.fields for f in fields):
                err(23, "Bad Schema name")
                return
        if mode == "COMMAND":
            err(24, "Mode not allowed for an Item")
            return
        if sess.item_count + len(items) > self.ls_max_subscriptions:
            err(
                -1,
                f"Maximum number of concurrent subscriptions ({self.ls_max_subscriptions}) reached",
            )
            return
        sub = _LsSub(sub_id, mode, names, items, fields, [None] * len(items))
        sess.subs[sub_id] = sub
        for idx, it in enumerate(items):
            self._ls_watch.setdefault(it, []).append((sess, sub, idx))
        lines = [f"REQOK,{req}"] if ack else []
        lines.append(f"SUBOK,{sub_id},{len(items)},{len(fields)}")
        snap = p.get("LS_snapshot", "false").lower()
        want = snap != "false" and mode != "RAW"
        if want:
            for idx, it in enumerate(items):
                vals = self._current_values(it)
                if vals is not None and (mode == "MERGE" or it.kind == "TICK"):
                    row = [vals.get(f) for f in fields]
                    lines.append(tlcp_update(sub_id, idx + 1, row, sub.last[idx]))
                    sub.last[idx] = row
                if mode == "DISTINCT":
                    lines.append(f"EOS,{sub_id},{idx + 1}")
        self._ls_send(sess, lines)
        self.notify()


def _bool(v: object) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        return v.strip().lower() == "true"
    return bool(v) if isinstance(v, (int, float)) else False


def _dec(body: Mapping[str, Json], name: str) -> Decimal | None:
    v = body.get(name)
    if v is None or v == "":
        return None
    try:
        d = D(str(v)) if not isinstance(v, bool) else None
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite():
        raise IgError(400, f"validation.invalid.number.request.{name}")
    return d


def _int(v: str | None) -> int:
    try:
        return int(v or "")
    except ValueError:
        return 0

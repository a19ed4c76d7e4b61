"""Bybit v5 simulator: REST, public and private WebSocket streams, UTA accounts, demo host.

`BybitSim` serves Bybit's v5 API for categories `spot` and `linear` (BTCUSDT and ETHUSDT in
both, every stream keyed by (category, symbol)) on one aiohttp app, built on `SimExchange`:

- REST (`https://api.bybit.com`, alias `https://api-testnet.bybit.com`): public
  `/v5/market/{time,instruments-info,tickers,orderbook,recent-trade,kline}`; private
  `/v5/account/{wallet-balance,info}`, `/v5/position/{list,set-leverage}`,
  `/v5/order/{realtime,create,cancel,cancel-all,amend}`, `/v5/execution/list`,
  `/v5/user/query-api`, `/v5/asset/coin/query-info` (ccxt's `fetch_currencies`). The real
  envelope `{"retCode","retMsg","result","retExtInfo","time"}`; signatures are lowercase hex
  HMAC-SHA256 of `timestamp + api_key + recv_window + (raw query string | raw JSON body)`,
  checked in Bybit's order: key (10003 "API key is invalid."), timestamp window
  `server - recv_window <= ts < server + 1000` (10002), signature (10004). Errors answer
  HTTP 200 with the retCode, as Bybit does.
- Rate limits as Bybit: private calls carry `X-Bapi-Limit-Status`, `X-Bapi-Limit` and
  `X-Bapi-Limit-Reset-Timestamp`; a per-UID, per-endpoint, per-second window answers
  retCode 10006 "Too many visits!" (HTTP 200) when exceeded; more than 600 requests in 5 s
  from the (one) client IP answer HTTP 403 "access too frequent". `faults.rate_limit(n)`
  makes the next n calls answer the same way: 10006 on private paths, 403 on public ones.
- Public WS `/v5/public/{spot,linear}`: `orderbook.{1,50,200,1000}.{sym}` (a snapshot on
  subscribe, then deltas of the top-N levels with `u` +1 per message, `seq` the cross
  sequence, `cts` the engine time; depth 1 is snapshot-only and is re-sent after 3 s with
  no change), `tickers.{sym}` (linear: snapshot then deltas of the changed fields, `cs`;
  spot: snapshots only), `publicTrade.{sym}`, `kline.{interval}.{sym}`. Key order, number
  formats (linear prices at `priceScale` decimals, spot stripped) and acks follow the
  recorded frames in `tests/fixtures/recorded/BYBIT.jsonl.gz` (spot and linear acks and
  pongs differ). `{"op":"ping"}` is answered in each stream's format.
- Private WS `/v5/private`: `{"op":"auth","args":[key, expires, hex HMAC(secret,
  "GET/realtime" + expires)]}` with `expires` in the future; `order`, `execution`,
  `position`, `wallet` and their categorised forms (`order.linear`, ...; an all-in-one topic
  and its categorised form cannot share one request). No snapshot on subscribe, as the real
  one: pushes come on every order, fill, position or balance change (`position` also on
  every create/amend/cancel of a linear order). Pings are answered with `op:"pong"`.

Demo trading and the "hosts". Bybit's demo trading lives on other hosts
(`https://api-demo.bybit.com`, `wss://stream-demo.bybit.com`) with its own accounts and
keys, and its WS host serves private streams only. The sim tells hosts apart by a path
prefix on its one port: everything under `/demo` is the demo host, everything else the
mainnet host (testnet is an alias of mainnet: same market, account and key). So `urls`
maps `https://api-demo.bybit.com` to `http://127.0.0.1:PORT/demo` and
`wss://stream-demo.bybit.com` to `ws://127.0.0.1:PORT/demo`; clients that build URLs as
base + path (ccxt, pybit) need nothing else. `/demo/v5/private` authenticates with
`demo_credentials` only (a mainnet key there is "API key is invalid.", and the other way
round), `/demo/v5/public/*` is not served (HTTP 404), demo REST serves the market endpoints
(same market data as mainnet) plus the private ones and `POST /v5/account/demo-apply-money`.

Accounts are Unified Trading Accounts: per host one `cash` engine account (spot) and one
`margin` engine account (linear, one-way positions, default 10x) that share one dict of coin
balances, so both categories trade the same USDT wallet. Simplifications: spot spending
checks do not subtract linear margin in use (and linear margin checks ignore spot locks);
there is no borrowing, no liquidation, no funding settlement; inverse and option
categories list no instruments; WS order entry (`/v5/trade`) is not served; an amend that
would cross the book is rejected (10001) instead of executed; `faults.bad_checksum()` does
not apply (Bybit books carry no checksum) and raises NotImplementedError.

Faults (`ex.faults`): `drop()`/`stall()`/`malformed()` act on open connections (kinds
`"public"` and `"private"`); `gap()` skips one `u` on the next delta of every orderbook
stream; `rate_limit(n)` and `reject_auth(n)` (REST signature checks and WS auth) are
consumed by the next calls.

Unverified details (no primary source found; chosen to match clients): the text of a failed
private WS auth ("Params Error", seen in issue reports for expired requests, is used for
every failure), the bodies of the 403 and the error messages of order rejections.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar

from aiohttp import web

from ._base import (
    ZERO,
    Account,
    AccountUpdate,
    Balance,
    BookUpdate,
    ExecType,
    Fill,
    Instrument,
    OrderError,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
    SimConnection,
    SimEvent,
    SimExchange,
    SimOrder,
    TickerUpdate,
    TimeInForce,
    TradeUpdate,
    now_ms,
)

__all__ = ["BybitSim"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
CATEGORIES = ("spot", "linear")
GROUPS = ("live", "demo")  # the mainnet host and the demo host
BOOK_DEPTHS = (1, 50, 200, 1000)
KLINE_INTERVALS = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")
_MIN_MS = 60_000
_HISTORY_MINUTES = 720  # synthetic 1-minute bars before the sim started
_IP_LIMIT = (600, 5.0)  # requests per seconds, per IP (HTTP 403 beyond)
_RECV_WINDOW_MS = 5000
_FUTURE_TOLERANCE_MS = 1000

# instruments-info entries as Bybit served them (recorded 2026-08, BYBIT.jsonl)
_INSTRUMENTS_JSON: dict[tuple[str, str], str] = {
    ("spot", "BTCUSDT"): (
        '{"symbolId":9,"symbol":"BTCUSDT","baseCoin":"BTC","quoteCoin":"USDT","innovation":"0",'
        '"status":"Trading","marginTrading":"utaOnly","stTag":"0","lotSizeFilter":'
        '{"basePrecision":"0.000001","quotePrecision":"0.0000001","minOrderQty":"0.000001",'
        '"maxOrderQty":"230","minOrderAmt":"5","maxOrderAmt":"8000000","maxLimitOrderQty":"230",'
        '"maxMarketOrderQty":"120","postOnlyMaxLimitOrderSize":"1150"},"priceFilter":'
        '{"tickSize":"0.1"},"riskParameters":{"priceLimitRatioX":"0.005","priceLimitRatioY":'
        '"0.01"},"symbolType":"","xstockMultiplier":"1"}'
    ),
    ("spot", "ETHUSDT"): (
        '{"symbolId":10,"symbol":"ETHUSDT","baseCoin":"ETH","quoteCoin":"USDT","innovation":"0",'
        '"status":"Trading","marginTrading":"utaOnly","stTag":"0","lotSizeFilter":'
        '{"basePrecision":"0.00001","quotePrecision":"0.0000001","minOrderQty":"0.00001",'
        '"maxOrderQty":"8118","minOrderAmt":"5","maxOrderAmt":"7000000","maxLimitOrderQty":'
        '"8118","maxMarketOrderQty":"2706","postOnlyMaxLimitOrderSize":"40590"},"priceFilter":'
        '{"tickSize":"0.01"},"riskParameters":{"priceLimitRatioX":"0.005","priceLimitRatioY":'
        '"0.01"},"symbolType":"","xstockMultiplier":"1"}'
    ),
    ("linear", "BTCUSDT"): (
        '{"symbol":"BTCUSDT","contractType":"LinearPerpetual","status":"Trading","baseCoin":"BTC",'
        '"quoteCoin":"USDT","launchTime":"1584230400000","deliveryTime":"0","deliveryFeeRate":"",'
        '"priceScale":"2","leverageFilter":{"minLeverage":"1","maxLeverage":"100.00",'
        '"leverageStep":"0.01"},"priceFilter":{"minPrice":"0.10","maxPrice":"1999999.80",'
        '"tickSize":"0.10"},"lotSizeFilter":{"maxOrderQty":"1500.000","minOrderQty":"0.001",'
        '"qtyStep":"0.001","postOnlyMaxOrderQty":"1500.000","maxMktOrderQty":"150.000",'
        '"minNotionalValue":"5"},"unifiedMarginTrade":true,"fundingInterval":480,'
        '"settleCoin":"USDT","copyTrading":"both","upperFundingRate":"0.005",'
        '"lowerFundingRate":"-0.005","isPreListing":false,"preListingInfo":null,'
        '"riskParameters":{"priceLimitRatioX":"0.01","priceLimitRatioY":"0.02"},'
        '"displayName":"","symbolType":"","forbidUplWithdrawal":false,"symbolId":5}'
    ),
    ("linear", "ETHUSDT"): (
        '{"symbol":"ETHUSDT","contractType":"LinearPerpetual","status":"Trading","baseCoin":"ETH",'
        '"quoteCoin":"USDT","launchTime":"1615766400000","deliveryTime":"0","deliveryFeeRate":"",'
        '"priceScale":"2","leverageFilter":{"minLeverage":"1","maxLeverage":"100.00",'
        '"leverageStep":"0.01"},"priceFilter":{"minPrice":"0.01","maxPrice":"199999.98",'
        '"tickSize":"0.01"},"lotSizeFilter":{"maxOrderQty":"10000.00","minOrderQty":"0.01",'
        '"qtyStep":"0.01","postOnlyMaxOrderQty":"10000.00","maxMktOrderQty":"2000.00",'
        '"minNotionalValue":"5"},"unifiedMarginTrade":true,"fundingInterval":480,'
        '"settleCoin":"USDT","copyTrading":"both","upperFundingRate":"0.005",'
        '"lowerFundingRate":"-0.005","isPreListing":false,"preListingInfo":null,'
        '"riskParameters":{"priceLimitRatioX":"0.02","priceLimitRatioY":"0.04"},'
        '"displayName":"","symbolType":"","forbidUplWithdrawal":false,"symbolId":6}'
    ),
}

# start prices (the recording's last trades) and simulated liquidity per instrument
_START: dict[tuple[str, str], tuple[str, tuple[int, int]]] = {
    ("spot", "BTCUSDT"): ("65140.5", (1_000, 2_000_000)),  # lots of 0.000001 BTC
    ("spot", "ETHUSDT"): ("1923.27", (10_000, 5_000_000)),  # lots of 0.00001 ETH
    ("linear", "BTCUSDT"): ("65114.3", (10, 5_000)),  # lots of 0.001 BTC
    ("linear", "ETHUSDT"): ("1922.48", (10, 5_000)),  # lots of 0.01 ETH
}

_COINS = {"BTC": "Bitcoin", "ETH": "Ethereum", "USDT": "Tether USDT", "USDC": "USD Coin"}
_FEES = {
    "spot": (Decimal("0.001"), Decimal("0.001")),  # (maker, taker), non-VIP UTA
    "linear": (Decimal("0.0002"), Decimal("0.00055")),
}
_START_BALANCES = {
    "live": {"USDT": "100000", "BTC": "1", "ETH": "10"},
    "demo": {"USDT": "50000", "BTC": "1", "ETH": "1"},
}

# per-UID limits per second: (endpoint, category) -> requests; category "" = any
_UID_LIMITS: dict[tuple[str, str], int] = {
    ("/v5/order/create", "linear"): 10,
    ("/v5/order/create", "spot"): 20,
    ("/v5/order/amend", "linear"): 10,
    ("/v5/order/amend", "spot"): 10,
    ("/v5/order/cancel", "linear"): 10,
    ("/v5/order/cancel", "spot"): 20,
    ("/v5/order/cancel-all", "linear"): 10,
    ("/v5/order/cancel-all", "spot"): 20,
    ("/v5/order/realtime", ""): 50,
    ("/v5/execution/list", ""): 50,
    ("/v5/position/list", ""): 50,
    ("/v5/account/wallet-balance", ""): 50,
}
_DEFAULT_UID_LIMIT = 20


# --------------------------------------------------------------------------------------------
# Number text: Bybit sends every number as a string, linear at fixed decimals, spot stripped
# --------------------------------------------------------------------------------------------


def _plain(d: Decimal) -> str:
    """Shortest exact text without exponent: 65140.50 -> "65140.5", 65140 -> "65140"."""
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


def _fixed(d: Decimal, places: int) -> str:
    """Text with exactly `places` decimals (half-up): 65114.3, 2 -> "65114.30"."""
    return format(d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP), "f")


def _decimals(text: str) -> int:
    """Decimal places written in `text` ("0.010" -> 3)."""
    return len(text.partition(".")[2])


@dataclass(frozen=True)
class _Spec:
    """Bybit's view of one instrument: its instruments-info entry and its number formats."""

    category: str
    symbol: str
    info: JSON
    price_places: int | None  # None: stripped text (spot)
    qty_places: int | None

    @classmethod
    def load(cls, category: str, symbol: str) -> _Spec:
        info = json.loads(_INSTRUMENTS_JSON[(category, symbol)])
        if category == "linear":
            return cls(
                category,
                symbol,
                info,
                int(info["priceScale"]),
                _decimals(info["lotSizeFilter"]["qtyStep"]),
            )
        return cls(category, symbol, info, None, None)

    def px(self, d: Decimal) -> str:
        """A price as this category writes it."""
        return _plain(d) if self.price_places is None else _fixed(d, self.price_places)

    def qty(self, d: Decimal) -> str:
        """A quantity as this category writes it."""
        return _plain(d) if self.qty_places is None else _fixed(d, self.qty_places)

    def value(self, d: Decimal, places: int = 12) -> str:
        """A money amount (quote value, fee, PnL): stripped, exact up to `places` decimals
        (what the wallet was charged, so reported fees add up to balance changes)."""
        return _plain(d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


class _BybitError(Exception):
    """A request Bybit would refuse: `retCode` and `retMsg`."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


# engine rejection reason -> (linear retCode, spot retCode, message)
_REJECTS: dict[str, tuple[int, int, str, str]] = {
    "insufficient_balance": (
        110007,
        170131,
        "ab not enough for new order",
        "Insufficient balance.",
    ),
    "min_notional": (
        110094,
        170140,
        "Order does not meet minimum order value 5USDT",
        "Order value exceeded lower limit.",
    ),
    "invalid_qty": (10001, 170136, "Qty invalid", "Order quantity lower than the minimum."),
    "invalid_price": (10001, 170134, "Price invalid", "Order price has too many decimals."),
    "duplicate_client_id": (
        110072,
        170141,
        "OrderLinkedID is duplicate",
        "Duplicate clientOrderId.",
    ),
    "unknown_order": (
        110001,
        170213,
        "order not exists or too late to cancel",
        "Order does not exist.",
    ),
    "reduce_only": (110017, 10001, "Reduce-only rule not satisfied", "reduceOnly is not supported"),
    "no_liquidity": (10001, 170210, "no liquidity", "New order rejected."),
    "unknown_symbol": (10001, 170121, "params error: symbol invalid", "Invalid symbol."),
}


def _reject(category: str, exc: OrderError) -> _BybitError:
    """Bybit's answer to an engine rejection in `category`."""
    lin_code, spot_code, lin_msg, spot_msg = _REJECTS.get(
        exc.reason, (10001, 170210, exc.detail or exc.reason, "New order rejected.")
    )
    if category == "spot":
        return _BybitError(spot_code, spot_msg)
    return _BybitError(lin_code, lin_msg)


# --------------------------------------------------------------------------------------------
# Stream state
# --------------------------------------------------------------------------------------------


@dataclass
class _BookFeed:
    """One `orderbook.{depth}.{symbol}` stream: the levels last published and its `u`."""

    depth: int
    u: int
    bids: dict[int, int] = field(default_factory=dict)  # ticks -> lots, as last published
    asks: dict[int, int] = field(default_factory=dict)
    seq: int = 0
    cts: int = 0
    pushed_at: float = 0.0  # monotonic time of the last push (depth-1 re-send after 3 s)


@dataclass
class _Bar:
    """One 1-minute bar (exact Decimals)."""

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    turnover: Decimal = ZERO


class _Candles:
    """1-minute bars of one instrument (synthetic history, then built from the tape), and
    any Bybit interval aggregated from them."""

    def __init__(self, inst: Instrument, rng: random.Random, start_ms: int) -> None:
        self.inst = inst
        self.bars: dict[int, _Bar] = {}
        self.first = (start_ms // _MIN_MS - _HISTORY_MINUTES) * _MIN_MS
        price = inst.start_price
        closes = [price]
        for _ in range(_HISTORY_MINUTES - 1):  # walk backwards from the start price
            price = price * Decimal(str(1 + rng.gauss(0.0, 0.0006)))
            closes.append(self._tick(price))
        closes.reverse()
        prev = closes[0]
        lo, hi = inst.level_lots
        for i, close in enumerate(closes):
            t = self.first + i * _MIN_MS
            wig = abs(close - prev) + inst.tick_size * rng.randint(0, 20)
            h = self._tick(max(prev, close) + wig * Decimal(str(rng.random())))
            lo_ = self._tick(min(prev, close) - wig * Decimal(str(rng.random())))
            vol = inst.qty(rng.randint(lo, hi) * rng.randint(1, 40))
            mid = (h + lo_) / 2
            self.bars[t] = _Bar(prev, h, lo_, close, vol, vol * mid)
            prev = close

    def _tick(self, price: Decimal) -> Decimal:
        ts = self.inst.tick_size
        return max(ts, (price / ts).quantize(Decimal(1), rounding=ROUND_HALF_UP) * ts)

    def last_close(self) -> Decimal:
        """Close of the newest bar."""
        return self.bars[max(self.bars)].close

    def add_trade(self, price: Decimal, qty: Decimal, ts_ms: int) -> None:
        """Fold one public trade into its minute (flat bars fill any silent minutes)."""
        t = ts_ms // _MIN_MS * _MIN_MS
        self._fill_to(t)
        bar = self.bars[t]
        bar.high, bar.low, bar.close = max(bar.high, price), min(bar.low, price), price
        bar.volume += qty
        bar.turnover += price * qty

    def _fill_to(self, t: int) -> None:
        last = max(self.bars)
        while last < t:
            c = self.bars[last].close
            last += _MIN_MS
            self.bars[last] = _Bar(c, c, c, c)

    @staticmethod
    def bounds(interval: str, ts_ms: int) -> tuple[int, int]:
        """[start, end] (ms, inclusive) of the `interval` bar holding `ts_ms` (UTC)."""
        if interval == "D":
            s = ts_ms // 86_400_000 * 86_400_000
            return s, s + 86_400_000 - 1
        if interval == "W":  # weeks start on Monday; the epoch was a Thursday
            day = ts_ms // 86_400_000
            s = (day - (day + 3) % 7) * 86_400_000
            return s, s + 7 * 86_400_000 - 1
        if interval == "M":
            tm = time.gmtime(ts_ms // 1000)
            s = calendar.timegm((tm.tm_year, tm.tm_mon, 1, 0, 0, 0)) * 1000
            y, m = (tm.tm_year + 1, 1) if tm.tm_mon == 12 else (tm.tm_year, tm.tm_mon + 1)
            return s, calendar.timegm((y, m, 1, 0, 0, 0)) * 1000 - 1
        span = int(interval) * _MIN_MS
        s = ts_ms // span * span
        return s, s + span - 1

    def bar(self, interval: str, start: int, end: int, now: int) -> _Bar | None:
        """The `interval` bar [start, end] aggregated from minutes up to `now`."""
        self._fill_to(now // _MIN_MS * _MIN_MS)
        out: _Bar | None = None
        t = max(start, self.first)
        stop = min(end, now)
        while t <= stop:
            b = self.bars.get(t)
            if b is not None:
                if out is None:
                    out = _Bar(b.open, b.high, b.low, b.close, b.volume, b.turnover)
                else:
                    out.high, out.low, out.close = (
                        max(out.high, b.high),
                        min(out.low, b.low),
                        b.close,
                    )
                    out.volume += b.volume
                    out.turnover += b.turnover
            t += _MIN_MS
        return out

    def price_at(self, ts_ms: int) -> Decimal:
        """Close of the minute bar holding `ts_ms` (the oldest bar's open before history)."""
        t = ts_ms // _MIN_MS * _MIN_MS
        if t < self.first:
            return self.bars[self.first].open
        b = self.bars.get(t)
        return b.close if b is not None else self.last_close()


class _Window:
    """Request timestamps in a sliding window (Bybit's rolling per-second UID limits)."""

    def __init__(self, limit: int, span_s: float) -> None:
        self.limit = limit
        self.span_s = span_s
        self._ts: deque[float] = deque()

    def hit(self) -> tuple[bool, int, int]:
        """Count one request now: (allowed, remaining, reset timestamp ms)."""
        now = time.monotonic()
        while self._ts and now - self._ts[0] >= self.span_s:
            self._ts.popleft()
        if len(self._ts) >= self.limit:
            reset = now_ms() + int((self.span_s - (now - self._ts[0])) * 1000) + 1
            return False, 0, reset
        self._ts.append(now)
        return True, self.limit - len(self._ts), now_ms()


@dataclass
class _Creds:
    """One API key pair the sim accepts (the secret never leaves `BybitSim`'s checks)."""

    key: str
    secret: str = field(repr=False)
    uid: int = 0


# --------------------------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------------------------


class BybitSim(SimExchange):
    """Bybit v5 (spot + linear, UTA) with its demo-trading host; see the module docstring.

    `ex.credentials` is the mainnet key pair, `ex.demo_credentials` the demo one.
    """

    venue: ClassVar[str] = "bybit"
    URL_MAP: ClassVar[dict[str, str]] = {
        "https://api.bybit.com": "",
        "https://api-testnet.bybit.com": "",
        "wss://stream.bybit.com": "",
        "wss://stream-testnet.bybit.com": "",
        "https://api-demo.bybit.com": "/demo",
        "wss://stream-demo.bybit.com": "/demo",
    }
    HAS_CHECKSUM: ClassVar[bool] = False

    def __init__(
        self,
        *,
        ping_interval: float = 0.0,
        demo_api_key: str | None = None,
        demo_api_secret: str | None = None,
        **kwargs: Any,
    ) -> None:
        """As `SimExchange`, plus the demo key pair (random unless given).

        Bybit does not ping clients (they send `{"op":"ping"}`), so server WS pings are off
        unless `ping_interval` is set.
        """
        self._demo = _Creds(
            demo_api_key or secrets.token_hex(9).upper(), demo_api_secret or secrets.token_hex(18)
        )
        super().__init__(ping_interval=ping_interval, **kwargs)
        self._live = _Creds(self._api_key, self._api_secret)
        seed = self.seed
        self._idrng = random.Random(f"bybit-ids-{seed}")
        self._live.uid = 100_000_000 + self._idrng.randrange(100_000_000)
        self._demo.uid = 300_000_000 + self._idrng.randrange(100_000_000)
        self._ns = uuid.UUID(int=random.Random(f"bybit-ns-{seed}").getrandbits(128))
        self._specs: dict[tuple[str, str], _Spec] = {}
        self._feeds: dict[tuple[str, str], dict[int, _BookFeed]] = {}
        self._seq_base: dict[tuple[str, str], int] = {}
        self._tickers: dict[tuple[str, str], JSON] = {}  # last published ticker fields
        self._ticker_cs: dict[tuple[str, str], int] = {}
        self._last_trade: dict[tuple[str, str], tuple[Decimal, str]] = {}  # price, direction
        self._trade_seq: dict[int, int] = {}  # public trade id -> cross sequence at the print
        self._closed: dict[tuple[int, int], Decimal] = {}  # (order, trade) -> closed size
        self._candles: dict[tuple[str, str], _Candles] = {}
        self._kline_pushed: dict[tuple[str, str, str], tuple[int, float, str]] = {}
        self._ids: dict[tuple[str, str], int] = {}  # (group, Bybit order id) -> engine id
        self._shadow: dict[str, dict[str, SimOrder]] = {g: {} for g in GROUPS}  # never booked
        self._windows: dict[tuple[str, str, str], _Window] = {}
        self._ip_window = _Window(*_IP_LIMIT)
        rng = random.Random(f"bybit-feeds-{seed}")
        start = now_ms()
        for inst in self.engine.instruments.values():
            key = inst.key
            self._specs[key] = _Spec.load(*key)
            book = self.engine.book(inst)
            self._seq_base[key] = rng.randrange(10**11, 8 * 10**11)
            self._feeds[key] = {
                d: _BookFeed(d, rng.randrange(10**6, 9 * 10**7), seq=self._seq(inst))
                for d in BOOK_DEPTHS
            }
            self._publish_levels(inst, book.side(True, 1000), book.side(False, 1000), start)
            self._candles[key] = _Candles(inst, random.Random(f"bybit-k-{seed}-{key}"), start)
            self._ticker_cs[key] = self._seq(inst)
            self._tickers[key] = self._ticker_fields(inst)

    def __repr__(self) -> str:
        state = f"port={self.port}" if self.port else "stopped"
        return f"<BybitSim {state}>"

    @property
    def demo_credentials(self) -> dict[str, str]:
        """The demo-trading key pair: {"api_key", "api_secret"} (valid on `/demo` only)."""
        return {"api_key": self._demo.key, "api_secret": self._demo.secret}

    # -- instruments and accounts -------------------------------------------------------------

    def default_instruments(self) -> list[Instrument]:
        """BTCUSDT and ETHUSDT in spot and linear, with Bybit's real filters."""
        out = []
        for (category, symbol), text in _INSTRUMENTS_JSON.items():
            info = json.loads(text)
            lot = info["lotSizeFilter"]
            start, lots = _START[(category, symbol)]
            step = lot["basePrecision"] if category == "spot" else lot["qtyStep"]
            out.append(
                Instrument(
                    symbol=symbol,
                    market=category,
                    base=info["baseCoin"],
                    quote=info["quoteCoin"],
                    tick_size=Decimal(info["priceFilter"]["tickSize"]),
                    step_size=Decimal(step),
                    start_price=Decimal(start),
                    account=category,
                    min_qty=Decimal(lot["minOrderQty"]),
                    max_qty=Decimal(lot["maxOrderQty"]),
                    min_notional=Decimal(lot.get("minOrderAmt") or lot.get("minNotionalValue")),
                    depth=200,
                    level_lots=lots,
                )
            )
        return out

    def default_accounts(self) -> dict[str, Account]:
        """Per host a UTA: a spot (cash) and a linear (margin) account on shared balances."""
        out: dict[str, Account] = {}
        for group in GROUPS:
            shared: dict[str, Balance] = {}
            for coin, amount in _START_BALANCES[group].items():
                shared[coin] = Balance(coin, Decimal(amount))
            for category, kind in (("spot", "cash"), ("linear", "margin")):
                maker, taker = _FEES[category]
                out[f"{group}.{category}"] = Account(
                    f"{group}.{category}",
                    kind,  # type: ignore[arg-type]
                    balances=shared,
                    default_leverage=10,
                    maker_fee=maker,
                    taker_fee=taker,
                )
        return out

    def _acct(self, group: str, category: str) -> Account:
        return self.engine.accounts[f"{group}.{category}"]

    def _inst(self, category: str, symbol: str | None) -> Instrument:
        if category not in CATEGORIES:
            raise _BybitError(10001, "Illegal category")
        if not symbol:
            raise _BybitError(10001, "params error: symbol is required")
        inst = self.engine.find_instrument(category, symbol)
        if inst is None:
            raise _BybitError(
                *(
                    (170121, "Invalid symbol.")
                    if category == "spot"
                    else (10001, "params error: symbol invalid")
                )
            )
        return inst

    # -- routes ---------------------------------------------------------------------------------

    def setup_routes(self, app: web.Application) -> None:
        """REST at the root (mainnet) and under /demo; public WS at the root only."""
        public: dict[str, Callable[[str, JSON], JSON]] = {
            "/v5/market/time": self._r_time,
            "/v5/market/instruments-info": self._r_instruments,
            "/v5/market/tickers": self._r_tickers,
            "/v5/market/orderbook": self._r_orderbook,
            "/v5/market/recent-trade": self._r_recent_trades,
            "/v5/market/kline": self._r_kline,
        }
        private_get: dict[str, Callable[[str, JSON], JSON]] = {
            "/v5/account/wallet-balance": self._r_wallet,
            "/v5/account/info": self._r_account_info,
            "/v5/position/list": self._r_positions,
            "/v5/order/realtime": self._r_open_orders,
            "/v5/execution/list": self._r_executions,
            "/v5/user/query-api": self._r_query_api,
            "/v5/asset/coin/query-info": self._r_coin_info,
        }
        private_post: dict[str, Callable[[str, JSON], JSON]] = {
            "/v5/order/create": self._r_create,
            "/v5/order/cancel": self._r_cancel,
            "/v5/order/cancel-all": self._r_cancel_all,
            "/v5/order/amend": self._r_amend,
            "/v5/position/set-leverage": self._r_set_leverage,
        }
        for prefix, group in (("", "live"), ("/demo", "demo")):
            for path, fn in public.items():
                app.router.add_get(prefix + path, self._public_route(group, fn))
            for path, fn in private_get.items():
                app.router.add_get(prefix + path, self._private_route(group, path, fn))
            for path, fn in private_post.items():
                app.router.add_post(prefix + path, self._private_route(group, path, fn))
            app.router.add_get(prefix + "/v5/private", self._ws_route(group))
        app.router.add_post(
            "/demo/v5/account/demo-apply-money",
            self._private_route("demo", "/v5/account/demo-apply-money", self._r_demo_money),
        )
        app.router.add_get("/v5/public/{category:spot|linear}", self._ws_public)

    # -- REST plumbing --------------------------------------------------------------------------

    @staticmethod
    def _envelope(
        code: int, msg: str, result: JSON, headers: dict[str, str] | None = None
    ) -> web.Response:
        now = now_ms()
        body = {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now}
        hdrs = {"Timenow": str(now), "Ret_code": str(code), "Traceid": secrets.token_hex(16)}
        hdrs.update(headers or {})
        return web.Response(
            text=json.dumps(body, separators=(",", ":")),
            content_type="application/json",
            headers=hdrs,
        )

    def _ip_limited(self) -> web.Response | None:
        ok, _, _ = self._ip_window.hit()
        if ok:
            return None
        self.stats.rate_limited += 1
        return self._forbidden()

    @staticmethod
    def _forbidden() -> web.Response:
        return web.Response(status=403, text="403, access too frequent", content_type="text/plain")

    def rate_limited_response(self, request: web.Request) -> web.StreamResponse:
        """An injected limit: 10006 "Too many visits!" on private paths, 403 on public ones."""
        path = request.path.removeprefix("/demo")
        if path.startswith("/v5/market/"):
            return self._forbidden()
        reset = now_ms() + 1000
        headers = {
            "X-Bapi-Limit-Status": "0",
            "X-Bapi-Limit": str(_DEFAULT_UID_LIMIT),
            "X-Bapi-Limit-Reset-Timestamp": str(reset),
        }
        return self._envelope(10006, "Too many visits!", {}, headers)

    def _public_route(
        self, group: str, fn: Callable[[str, JSON], JSON]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            limited = self._ip_limited()
            if limited is not None:
                return limited
            params = {k: request.query.get(k, "") for k in request.query}
            try:
                return self._envelope(0, "OK", fn(group, params))
            except _BybitError as exc:
                return self._envelope(exc.code, exc.msg, {})

        return handler

    def _creds(self, group: str) -> _Creds:
        return self._live if group == "live" else self._demo

    def _verify(self, group: str, payload: str, signature: str | None) -> bool:
        """Check a hex HMAC-SHA256 under the host's secret; consumes a `reject_auth` fault."""
        if group == "live":
            return self.verify_hex(payload, signature)
        if self.faults.take_reject_auth():
            self.stats.auth_failures += 1
            return False
        want = hmac.new(self._demo.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        ok = signature is not None and hmac.compare_digest(want, signature.lower())
        if not ok:
            self.stats.auth_failures += 1
        return ok

    def _key_ok(self, group: str, key: str | None) -> bool:
        want = self._creds(group).key
        return key is not None and hmac.compare_digest(key.encode(), want.encode())

    def _authenticate(self, group: str, request: web.Request, payload: str) -> _BybitError | None:
        """Bybit's header auth, in its order: key, timestamp window, signature."""
        h = request.headers
        key = h.get("X-BAPI-API-KEY")
        if not self._key_ok(group, key):
            self.stats.auth_failures += 1
            return _BybitError(10003, "API key is invalid.")
        ts_text = h.get("X-BAPI-TIMESTAMP", "")
        rw_text = h.get("X-BAPI-RECV-WINDOW", "")
        now = now_ms()
        try:
            ts = int(ts_text)
            rw = int(rw_text) if rw_text else _RECV_WINDOW_MS
        except ValueError:
            ts, rw = -1, _RECV_WINDOW_MS
        if not (now - rw <= ts < now + _FUTURE_TOLERANCE_MS):
            return _BybitError(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{ts_text}],server_timestamp[{now}],recv_window[{rw}]",
            )
        if not self._verify(group, f"{ts_text}{key}{rw_text}{payload}", h.get("X-BAPI-SIGN")):
            return _BybitError(10004, "error sign! origin_string[redacted]")
        return None

    def _private_route(
        self, group: str, path: str, fn: Callable[[str, JSON], JSON]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            limited = self._ip_limited()
            if limited is not None:
                return limited
            if request.method == "POST":
                payload = await request.text()
            else:
                payload = request.rel_url.raw_query_string
            err = self._authenticate(group, request, payload)
            if err is not None:
                log.info("sim bybit: auth refused on %s (%d)", path, err.code)
                return self._envelope(err.code, err.msg, {})
            try:
                params = self._params(request, payload)
            except _BybitError as exc:
                return self._envelope(exc.code, exc.msg, {})
            category = str(params.get("category", ""))
            limit = _UID_LIMITS.get((path, category)) or _UID_LIMITS.get(
                (path, ""), _DEFAULT_UID_LIMIT
            )
            win = self._windows.setdefault((group, path, category), _Window(limit, 1.0))
            ok, remaining, reset = win.hit()
            headers = {
                "X-Bapi-Limit-Status": str(remaining),
                "X-Bapi-Limit": str(limit),
                "X-Bapi-Limit-Reset-Timestamp": str(reset),
            }
            if not ok:
                self.stats.rate_limited += 1
                return self._envelope(10006, "Too many visits!", {}, headers)
            try:
                return self._envelope(0, "OK", fn(group, params), headers)
            except _BybitError as exc:
                return self._envelope(exc.code, exc.msg, {}, headers)

        return handler

    @staticmethod
    def _params(request: web.Request, payload: str) -> JSON:
        if request.method != "POST":
            return {k: request.query.get(k, "") for k in request.query}
        if not payload.strip():
            return {}
        try:
            body = json.loads(payload)
        except ValueError:
            raise _BybitError(10001, "Request parameter error.") from None
        if not isinstance(body, dict):
            raise _BybitError(10001, "Request parameter error.")
        return body

    # -- public REST ----------------------------------------------------------------------------

    def _r_time(self, group: str, p: JSON) -> JSON:
        ns = time.time_ns()
        return {"timeSecond": str(ns // 10**9), "timeNano": str(ns)}

    def _category(
        self, p: JSON, allowed: Iterable[str] = ("spot", "linear", "inverse", "option")
    ) -> str:
        cat = str(p.get("category", ""))
        if cat not in allowed:
            raise _BybitError(10001, "Illegal category")
        return cat

    def _r_instruments(self, group: str, p: JSON) -> JSON:
        cat = self._category(p)
        status = p.get("status") or "Trading"
        rows = [
            s.info
            for (c, sym), s in self._specs.items()
            if c == cat
            and (not p.get("symbol") or sym == p["symbol"])
            and (not p.get("baseCoin") or s.info["baseCoin"] == p["baseCoin"])
            and s.info["status"] == status
        ]
        if cat == "spot":
            return {"category": cat, "list": rows}
        return {"category": cat, "list": rows, "nextPageCursor": ""}

    def _r_tickers(self, group: str, p: JSON) -> JSON:
        cat = self._category(p)
        sym = p.get("symbol")
        rows = []
        for inst in self.engine.market_instruments(cat):
            if sym and inst.symbol != sym:
                continue
            rows.append(self._rest_ticker(inst))
        if sym and not rows:
            raise _BybitError(10001, "Not supported symbols")
        return {"category": cat, "list": rows}

    def _r_orderbook(self, group: str, p: JSON) -> JSON:
        cat = self._category(p, CATEGORIES)
        inst = self._inst(cat, p.get("symbol"))
        cap, default = (200, 1) if cat == "spot" else (500, 25)
        limit = self._int(p.get("limit"), default, 1, cap)
        # u of the 200-level stream (spot) or the 1000-level stream (contracts), as documented
        feed = self._feeds[inst.key][200 if cat == "spot" else 1000]
        spec = self._specs[inst.key]
        bids = sorted(feed.bids.items(), reverse=True)[:limit]
        asks = sorted(feed.asks.items())[:limit]
        return {
            "s": inst.symbol,
            "a": [[spec.px(inst.price(t)), spec.qty(inst.qty(q))] for t, q in asks],
            "b": [[spec.px(inst.price(t)), spec.qty(inst.qty(q))] for t, q in bids],
            "ts": now_ms(),
            "u": feed.u,
            "seq": feed.seq,
            "cts": feed.cts,
        }

    @staticmethod
    def _int(text: Any, default: int, lo: int, hi: int) -> int:
        if text in (None, ""):
            return default
        try:
            v = int(text)
        except (TypeError, ValueError):
            raise _BybitError(10001, "params error: limit invalid") from None
        if not lo <= v <= hi:
            raise _BybitError(10001, "params error: limit invalid")
        return v

    def _r_recent_trades(self, group: str, p: JSON) -> JSON:
        cat = self._category(p, CATEGORIES)
        inst = self._inst(cat, p.get("symbol"))
        spec = self._specs[inst.key]
        cap, default = (60, 60) if cat == "spot" else (1000, 500)
        limit = self._int(p.get("limit"), default, 1, cap)
        rows = []
        for t in list(reversed(self.engine.trades[inst.key]))[:limit]:
            rows.append(
                {
                    "execId": self._trade_id(inst, t.trade_id),
                    "symbol": inst.symbol,
                    "price": spec.px(t.price),
                    "size": spec.qty(t.qty),
                    "side": "Sell" if t.buyer_is_maker else "Buy",
                    "time": str(t.ts_ms),
                    "isBlockTrade": False,
                    "isRPITrade": False,
                    "seq": str(self._trade_seq.get(t.trade_id, self._seq(inst))),
                }
            )
        return {"category": cat, "list": rows}

    def _r_kline(self, group: str, p: JSON) -> JSON:
        cat = self._category(p, CATEGORIES)
        inst = self._inst(cat, p.get("symbol"))
        interval = str(p.get("interval", ""))
        if interval not in KLINE_INTERVALS:
            raise _BybitError(10001, "Invalid period!")
        limit = self._int(p.get("limit"), 200, 1, 1000)
        now = now_ms()
        end = self._int(p.get("end"), now, 0, 2**62)
        start = self._int(p.get("start"), 0, 0, 2**62)
        candles = self._candles[inst.key]
        rows: list[list[str]] = []
        s, _ = candles.bounds(interval, min(end, now))
        while len(rows) < limit and s >= start:
            bs, be = candles.bounds(interval, s)
            if be < candles.first:
                break
            bar = candles.bar(interval, bs, be, now)
            if bar is not None:
                rows.append(
                    [
                        str(bs),
                        _plain(bar.open),
                        _plain(bar.high),
                        _plain(bar.low),
                        _plain(bar.close),
                        _plain(bar.volume),
                        _plain(bar.turnover),
                    ]
                )
            s = bs - 1
            s, _ = candles.bounds(interval, s)
        return {"symbol": inst.symbol, "category": cat, "list": rows}

    # -- private REST ---------------------------------------------------------------------------

    def _r_wallet(self, group: str, p: JSON) -> JSON:
        if p.get("accountType") != "UNIFIED":
            raise _BybitError(10001, "accountType only support UNIFIED.")
        coins = [c for c in str(p.get("coin") or "").split(",") if c]
        return {"list": [self._wallet(group, coins or None)]}

    def _r_account_info(self, group: str, p: JSON) -> JSON:
        return {
            "marginMode": "REGULAR_MARGIN",
            "updatedTime": str(self._started_ms()),
            "unifiedMarginStatus": 6,
            "dcpStatus": "OFF",
            "timeWindow": 10,
            "smpGroup": 0,
            "isMasterTrader": False,
            "spotHedgingStatus": "OFF",
        }

    def _started_ms(self) -> int:
        return min(c.first for c in self._candles.values()) + _HISTORY_MINUTES * _MIN_MS

    def _r_query_api(self, group: str, p: JSON) -> JSON:
        creds = self._creds(group)
        created = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._started_ms() // 1000 - 86400)
        )
        return {
            "id": str(creds.uid % 10**7),
            "note": "spinstream-sim",
            "apiKey": creds.key,
            "readOnly": 0,
            "secret": "",
            "permissions": {
                "ContractTrade": ["Order", "Position"],
                "Spot": ["SpotTrade"],
                "Wallet": ["AccountTransfer", "SubMemberTransfer"],
                "Options": ["OptionsTrade"],
                "Derivatives": [],
                "CopyTrading": [],
                "BlockTrade": [],
                "Exchange": [],
                "NFT": [],
                "Affiliate": [],
                "Earn": [],
            },
            "ips": ["*"],
            "type": 1,
            "deadlineDay": -1,
            "expiredAt": "",
            "createdAt": created,
            "unified": 0,
            "uta": 1,
            "userID": creds.uid,
            "inviterID": 0,
            "vipLevel": "No VIP",
            "mktMakerLevel": "0",
            "affiliateID": 0,
            "rsaPublicKey": "",
            "isMaster": True,
            "parentUid": "0",
            "kycLevel": "LEVEL_DEFAULT",
            "kycRegion": "",
        }

    def _r_coin_info(self, group: str, p: JSON) -> JSON:
        want = p.get("coin")
        rows = []
        for coin, name in _COINS.items():
            if want and coin != want:
                continue
            chain = {"BTC": "BTC", "ETH": "ETH"}.get(coin, "ETH")
            rows.append(
                {
                    "name": coin,
                    "coin": coin,
                    "remainAmount": "1500000",
                    "chains": [
                        {
                            "chainType": {"BTC": "BTC", "ETH": "ERC20"}.get(coin, "ERC20"),
                            "confirmation": "6" if coin != "BTC" else "1",
                            "withdrawFee": {"BTC": "0.0001", "ETH": "0.0003"}.get(coin, "3"),
                            "depositMin": "0",
                            "withdrawMin": {"BTC": "0.0005", "ETH": "0.0012"}.get(coin, "10"),
                            "chain": chain,
                            "chainDeposit": "1",
                            "chainWithdraw": "1",
                            "minAccuracy": {"BTC": "8", "ETH": "8"}.get(coin, "4"),
                            "withdrawPercentageFee": "0",
                            "contractAddress": "",
                            "safeConfirmNumber": "6",
                        }
                    ],
                    "fullName": name,
                }
            )
        return {"rows": rows}

    def _r_positions(self, group: str, p: JSON) -> JSON:
        cat = self._category(p, ("linear", "inverse", "option"))
        sym, settle = p.get("symbol"), p.get("settleCoin")
        if not sym and not settle and not p.get("baseCoin"):
            raise _BybitError(
                10001, "Missing some parameters that must be filled in, symbol or settleCoin"
            )
        rows = []
        if cat == "linear":
            acct = self._acct(group, "linear")
            for inst in self.engine.market_instruments("linear"):
                if sym and inst.symbol != sym:
                    continue
                if settle and inst.settle != settle:
                    continue
                if p.get("baseCoin") and inst.base != p["baseCoin"]:
                    continue
                pos = acct.position(inst)
                if sym or pos.qty:
                    rows.append(self._position_json(group, pos, rest=True))
            if sym and not rows:
                raise _BybitError(10001, "params error: symbol invalid")
        return {"list": rows, "nextPageCursor": "", "category": cat}

    def _r_open_orders(self, group: str, p: JSON) -> JSON:
        cat = self._category(p, CATEGORIES)
        sym = p.get("symbol")
        oid, link = p.get("orderId"), p.get("orderLinkId")
        if cat == "linear" and not (sym or p.get("settleCoin") or p.get("baseCoin") or oid or link):
            raise _BybitError(
                10001,
                "Missing some parameters that must be filled in, symbol or settleCoin or baseCoin",
            )
        open_only = str(p.get("openOnly") or "0")
        limit = self._int(p.get("limit"), 20, 1, 50)
        acct = self._acct(group, cat)
        orders = [o for o in self.engine.orders.values() if o.account == acct.name]
        orders += list(self._shadow[group].values())
        out = []
        for o in sorted(orders, key=lambda x: (x.created_ms, x.order_id), reverse=True):
            if o.extra.get("category") != cat:
                continue
            if sym and o.symbol != sym:
                continue
            if p.get("baseCoin") and o.instrument.base != p["baseCoin"]:
                continue
            if p.get("settleCoin") and cat == "linear" and o.instrument.settle != p["settleCoin"]:
                continue
            if oid and o.extra.get("bybit_id") != oid:
                continue
            if link and o.extra.get("link_id") != link:
                continue
            if not (oid or link):
                if open_only == "0" and not o.status.is_open:
                    continue
                if open_only != "0" and o.status.is_open:
                    continue
            out.append(self._order_json(o, rest=True))
            if len(out) >= limit:
                break
        return {"list": out, "nextPageCursor": "", "category": cat}

    def _r_executions(self, group: str, p: JSON) -> JSON:
        cat = self._category(p, CATEGORIES)
        sym, oid = p.get("symbol"), p.get("orderId")
        limit = self._int(p.get("limit"), 50, 1, 100)
        start = self._int(p.get("startTime"), 0, 0, 2**62)
        end = self._int(p.get("endTime"), 2**62, 0, 2**62)
        acct = self._acct(group, cat)
        out = []
        for order, fill in reversed(self.engine.my_fills.get(acct.name, [])):
            if sym and order.symbol != sym:
                continue
            if oid and order.extra.get("bybit_id") != oid:
                continue
            if not start <= fill.ts_ms <= end:
                continue
            out.append(self._execution_json(order, fill, rest=True))
            if len(out) >= limit:
                break
        return {"nextPageCursor": "", "category": cat, "list": out}

    def _r_set_leverage(self, group: str, p: JSON) -> JSON:
        cat = self._category(p, ("linear", "inverse"))
        inst = self._inst(cat, p.get("symbol"))
        try:
            buy, sell = Decimal(str(p.get("buyLeverage"))), Decimal(str(p.get("sellLeverage")))
        except InvalidOperation:
            raise _BybitError(10001, "params error: leverage invalid") from None
        if buy != sell or not 1 <= buy <= 100 or buy != buy.to_integral_value():
            raise _BybitError(10001, "params error: leverage invalid")
        acct = self._acct(group, "linear")
        if acct.position(inst).leverage == int(buy):
            raise _BybitError(110043, "leverage not modified")
        self.engine.set_leverage(acct.name, inst, int(buy))
        self._push_position(group, acct.position(inst))
        return {}

    def _r_demo_money(self, group: str, p: JSON) -> JSON:
        items = p.get("utaDemoApplyMoney") or []
        sign = -1 if str(p.get("adjustType", 0)) == "1" else 1
        for it in items if isinstance(items, list) else []:
            try:
                amount = Decimal(str(it["amountStr"]))
            except (KeyError, TypeError, InvalidOperation):
                raise _BybitError(10001, "params error: amountStr invalid") from None
            self.engine.deposit(f"{group}.spot", str(it.get("coin", "")), amount * sign)
        return {}

    # orders -------------------------------------------------------------------------------------

    def _dec(self, value: Any, name: str) -> Decimal:
        try:
            d = Decimal(str(value))
        except InvalidOperation:
            raise _BybitError(10001, f"params error: {name} invalid") from None
        if not d.is_finite():
            raise _BybitError(10001, f"params error: {name} invalid")
        return d

    def _r_create(self, group: str, p: JSON) -> JSON:
        cat = self._category(p, CATEGORIES)
        inst = self._inst(cat, p.get("symbol"))
        spec = self._specs[inst.key]
        side_text = p.get("side")
        if side_text not in ("Buy", "Sell"):
            raise _BybitError(10001, "params error: side invalid")
        side = Side.BUY if side_text == "Buy" else Side.SELL
        type_text = p.get("orderType")
        if type_text not in ("Limit", "Market"):
            raise _BybitError(10001, "params error: orderType invalid")
        otype = OrderType.LIMIT if type_text == "Limit" else OrderType.MARKET
        if p.get("qty") in (None, ""):
            raise _BybitError(10001, "params error: qty is required")
        qty = self._dec(p["qty"], "qty")
        price: Decimal | None = None
        if otype is OrderType.LIMIT:
            if p.get("price") in (None, ""):
                raise _BybitError(10001, "params error: price is required")
            price = self._dec(p["price"], "price")
        tif_text = str(p.get("timeInForce") or ("IOC" if otype is OrderType.MARKET else "GTC"))
        tifs = {
            "GTC": TimeInForce.GTC,
            "IOC": TimeInForce.IOC,
            "FOK": TimeInForce.FOK,
            "PostOnly": TimeInForce.POST_ONLY,
        }
        if tif_text not in tifs:
            raise _BybitError(10001, "params error: timeInForce invalid")
        if otype is OrderType.MARKET:
            tif_text = "IOC"
        tif = tifs[tif_text]
        link = str(p.get("orderLinkId") or "")
        if len(link) > 36:
            raise _BybitError(10001, "params error: orderLinkId too long")
        reduce_only = p.get("reduceOnly") in (True, "true", "True", 1, "1") and cat == "linear"
        market_unit = ""
        quote_qty: Decimal | None = None
        base_qty: Decimal | None = qty
        if cat == "spot" and otype is OrderType.MARKET:
            market_unit = str(
                p.get("marketUnit") or ("quoteCoin" if side is Side.BUY else "baseCoin")
            )
            if market_unit not in ("baseCoin", "quoteCoin"):
                raise _BybitError(10001, "params error: marketUnit invalid")
            if market_unit == "quoteCoin":
                quote_qty, base_qty = qty, None
        self._check_filters(spec, inst, otype, base_qty, price, quote_qty)
        acct = self._acct(group, cat)
        if link and self._link_taken(group, cat, link):
            raise _reject(cat, OrderError("duplicate_client_id"))
        extra: dict[str, object] = {
            "category": cat,
            "group": group,
            "link_id": link,
            "tif": tif_text,
            "order_type": type_text,
            "market_unit": market_unit,
            "qty_text": spec.qty(qty) if quote_qty is None else _plain(qty),
            "last_on_created": spec.px(self.engine.stats[inst.key].last),
            "cancel_type": "UNKNOWN",
            "reject_reason": "EC_NoError",
        }
        if otype is OrderType.MARKET:
            extra["price_text"] = self._protection_price(inst, side) if cat == "linear" else "0"
        try:
            order = self.engine.place_order(
                acct.name,
                inst,
                side,
                otype,
                base_qty,
                price,
                tif=tif,
                client_id=link or None,
                reduce_only=reduce_only,
                quote_qty=quote_qty,
                venue_type=type_text,
                extra=extra,
            )
        except OrderError as exc:
            if exc.reason in ("post_only_would_take", "fok_not_filled"):
                # Bybit accepts these, then cancels them at once
                order = self._shadow_order(
                    group, acct, inst, side, otype, tif, base_qty or qty, price, extra, exc.reason
                )
                return {"orderId": order.extra["bybit_id"], "orderLinkId": link}
            raise _reject(cat, exc) from None
        return {"orderId": order.extra["bybit_id"], "orderLinkId": link}

    def _check_filters(
        self,
        spec: _Spec,
        inst: Instrument,
        otype: OrderType,
        qty: Decimal | None,
        price: Decimal | None,
        quote_qty: Decimal | None,
    ) -> None:
        """Bybit's lot/price filters with its category-specific error codes."""
        lot = spec.info["lotSizeFilter"]
        spot = spec.category == "spot"
        if qty is not None:
            if qty <= 0:
                raise _BybitError(10001, "params error: qty invalid")
            if qty % inst.step_size:
                raise _BybitError(
                    *(
                        (170137, "Order quantity has too many decimals.")
                        if spot
                        else (10001, "Qty invalid")
                    )
                )
            if qty < inst.min_qty:
                raise _BybitError(
                    *(
                        (170136, "Order quantity lower than the minimum.")
                        if spot
                        else (10001, "The number of contracts exceeds minimum limit allowed")
                    )
                )
            cap = (
                Decimal(
                    lot.get("maxMarketOrderQty") or lot.get("maxMktOrderQty") or lot["maxOrderQty"]
                )
                if otype is OrderType.MARKET
                else inst.max_qty
            )
            if qty > cap:
                raise _BybitError(
                    *(
                        (170135, "Order quantity too large.")
                        if spot
                        else (
                            10001,
                            "The number of contracts exceeds maximum limit allowed: too large",
                        )
                    )
                )
        if quote_qty is not None:
            if quote_qty <= 0:
                raise _BybitError(10001, "params error: qty invalid")
            if quote_qty < inst.min_notional:
                raise _BybitError(170140, "Order value exceeded lower limit.")
        if price is not None:
            if price <= 0:
                raise _BybitError(
                    *(
                        (170130, "Data sent for paramter 'price' is not valid.")
                        if spot
                        else (10001, "params error: price invalid")
                    )
                )
            if price % inst.tick_size:
                raise _BybitError(
                    *(
                        (170134, "Order price has too many decimals.")
                        if spot
                        else (10001, "Price invalid")
                    )
                )
            if qty is not None and price * qty < inst.min_notional:
                raise _reject(spec.category, OrderError("min_notional"))

    def _link_taken(self, group: str, cat: str, link: str) -> bool:
        acct = self._acct(group, cat)
        return any(
            o.extra.get("link_id") == link
            for o in self.engine.orders.values()
            if o.account == acct.name
        ) or any(
            o.extra.get("link_id") == link and o.extra.get("category") == cat
            for o in self._shadow[group].values()
        )

    def _protection_price(self, inst: Instrument, side: Side) -> str:
        """The price Bybit stamps on a linear market order (last price +/- 3%, on the grid)."""
        last = self.engine.stats[inst.key].last
        raw = last * (Decimal("1.03") if side is Side.BUY else Decimal("0.97"))
        ticks = (raw / inst.tick_size).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return self._specs[inst.key].px(ticks * inst.tick_size)

    def _shadow_order(
        self,
        group: str,
        acct: Account,
        inst: Instrument,
        side: Side,
        otype: OrderType,
        tif: TimeInForce,
        qty: Decimal,
        price: Decimal | None,
        extra: dict[str, object],
        reason: str,
    ) -> SimOrder:
        """An order accepted then cancelled at once (PostOnly would take, FOK cannot fill)."""
        ts = now_ms()
        oid = 900_000_000_000 + self._idrng.randrange(10**11)
        order = SimOrder(
            order_id=oid,
            client_id=str(extra.get("link_id") or ""),
            instrument=inst,
            account=acct.name,
            side=side,
            type=otype,
            tif=tif,
            qty=qty,
            price=price,
            created_ms=ts,
            updated_ms=ts,
            status=OrderStatus.CANCELED,
            extra=dict(extra),
        )
        order.extra["reject_reason"] = (
            "EC_PostOnlyWillTakeLiquidity"
            if reason == "post_only_would_take"
            else "EC_NoImmediateQtyToFill"
        )
        order.extra["bybit_id"] = self._bybit_order_id(inst, oid)
        self._shadow[group][str(order.extra["bybit_id"])] = order
        self._push_order(group, order)
        if inst.market == "linear":
            self._push_position(group, acct.position(inst))
        return order

    def _find_order(self, group: str, cat: str, inst: Instrument, p: JSON) -> SimOrder:
        oid, link = p.get("orderId"), p.get("orderLinkId")
        if not oid and not link:
            raise _BybitError(10001, "params error: orderId or orderLinkId is required")
        acct = self._acct(group, cat)
        if oid:
            eid = self._ids.get((group, str(oid)))
            order = self.engine.orders.get(eid) if eid is not None else None
            if order is not None and order.account == acct.name and order.instrument is inst:
                return order
        else:
            for o in reversed(list(self.engine.orders.values())):
                if (
                    o.account == acct.name
                    and o.instrument is inst
                    and o.extra.get("link_id") == link
                ):
                    return o
        raise _reject(cat, OrderError("unknown_order"))

    def _r_cancel(self, group: str, p: JSON) -> JSON:
        cat = self._category(p, CATEGORIES)
        inst = self._inst(cat, p.get("symbol"))
        order = self._find_order(group, cat, inst, p)
        if not order.status.is_open:
            raise _reject(cat, OrderError("unknown_order"))
        order.extra["cancel_type"] = "CancelByUser"
        self.engine.cancel_order(order.account, order)
        return {"orderId": order.extra["bybit_id"], "orderLinkId": order.extra.get("link_id", "")}

    def _r_cancel_all(self, group: str, p: JSON) -> JSON:
        cat = self._category(p, CATEGORIES)
        sym = p.get("symbol")
        if cat == "linear" and not (sym or p.get("settleCoin") or p.get("baseCoin")):
            raise _BybitError(
                10001,
                "Missing some parameters that must be filled in, symbol or settleCoin or baseCoin",
            )
        acct = self._acct(group, cat)
        done = []
        for o in self.engine.open_orders(acct.name):
            inst = o.instrument
            if sym and inst.symbol != sym:
                continue
            if p.get("baseCoin") and inst.base != p["baseCoin"]:
                continue
            if p.get("settleCoin") and inst.settle != p["settleCoin"]:
                continue
            o.extra["cancel_type"] = "CancelByUser"
            self.engine.cancel_order(acct.name, o)
            done.append({"orderId": o.extra["bybit_id"], "orderLinkId": o.extra.get("link_id", "")})
        return {"list": done, "success": "1"}

    def _r_amend(self, group: str, p: JSON) -> JSON:
        cat = self._category(p, CATEGORIES)
        inst = self._inst(cat, p.get("symbol"))
        order = self._find_order(group, cat, inst, p)
        if not order.status.is_open:
            raise _BybitError(
                *(
                    (170213, "Order does not exist.")
                    if cat == "spot"
                    else (110001, "order not exists or too late to amend")
                )
            )
        price = self._dec(p["price"], "price") if p.get("price") not in (None, "") else None
        qty = self._dec(p["qty"], "qty") if p.get("qty") not in (None, "") else None
        if price is None and qty is None:
            raise _BybitError(10001, "params error: nothing to amend")
        spec = self._specs[inst.key]
        self._check_filters(
            spec,
            inst,
            OrderType.LIMIT,
            qty if qty is not None else order.qty,
            price if price is not None else order.price,
            None,
        )
        if order.type is not OrderType.LIMIT:
            raise _BybitError(10001, "params error: only limit orders can be amended")
        try:
            self.engine.amend_order(order.account, order, price=price, qty=qty)
        except OrderError as exc:
            if exc.reason == "post_only_would_take":
                raise _BybitError(
                    10001, "amended order would cross the book (not simulated)"
                ) from None
            raise _reject(cat, exc) from None
        if qty is not None:
            order.extra["qty_text"] = spec.qty(order.qty)
        return {"orderId": order.extra["bybit_id"], "orderLinkId": order.extra.get("link_id", "")}

    # -- ids ------------------------------------------------------------------------------------

    def _bybit_order_id(self, inst: Instrument, engine_id: int) -> str:
        """Linear order ids are UUIDs, spot ones 19-digit numbers, as on Bybit."""
        if inst.market == "spot":
            return str(2_030_000_000_000_000_000 + engine_id)
        digest = hashlib.sha256(f"{self.seed}:order:{engine_id}".encode()).digest()[:16]
        return str(uuid.UUID(bytes=digest, version=4))

    def _trade_id(self, inst: Instrument, trade_id: int) -> str:
        """Public trade / execution id: UUIDv5 on linear, a 19-digit number on spot."""
        if inst.market == "spot":
            return str(2_280_000_000_000_000_000 + trade_id)
        return str(uuid.uuid5(self._ns, f"{inst.symbol}:{trade_id}"))

    def _msg_id(self, group: str) -> str:
        """A private push `id`: the UID followed by a UUID, as Bybit writes it."""
        return f"{self._creds(group).uid}{uuid.UUID(int=self._idrng.getrandbits(128), version=4)}"

    def _conn_id(self) -> str:
        alphabet = "0123456789abcdefghijklmnopqrstuv"
        head = "".join(self._idrng.choice(alphabet) for _ in range(20))
        tail = "".join(self._idrng.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(5))
        return f"{head}-{tail}"

    def _seq(self, inst: Instrument) -> int:
        """The instrument's cross sequence (grows with every book change)."""
        return self._seq_base.get(inst.key, 0) + self.engine.book(inst).update_id

    # -- serialisers ----------------------------------------------------------------------------

    def _status_text(self, o: SimOrder) -> str:
        st = o.status
        if st is OrderStatus.NEW:
            return "New"
        if st is OrderStatus.PARTIALLY_FILLED:
            return "PartiallyFilled"
        if st is OrderStatus.FILLED:
            return "Filled"
        if o.filled > 0 and o.instrument.market == "spot":
            return "PartiallyFilledCanceled"
        return "Cancelled"

    def _order_json(self, o: SimOrder, *, rest: bool) -> JSON:
        inst = o.instrument
        spec = self._specs[inst.key]
        linear = inst.market == "linear"
        fee = sum((f.commission for f in o.fills), ZERO)
        fee_coin = o.fills[-1].commission_asset if o.fills else ""
        leaves = o.remaining if o.status.is_open else ZERO
        price_text = str(
            o.extra.get("price_text") or (spec.px(o.price) if o.price is not None else "0")
        )
        avg = o.avg_price
        d: JSON = {}
        if not rest:
            d["category"] = inst.market
            d["symbol"] = inst.symbol
        d["orderId"] = o.extra["bybit_id"]
        d["orderLinkId"] = o.extra.get("link_id", "")
        d["blockTradeId"] = ""
        if rest:
            d["symbol"] = inst.symbol
        d["price"] = price_text
        d["qty"] = o.extra.get("qty_text") or spec.qty(o.qty)
        d["side"] = "Buy" if o.side is Side.BUY else "Sell"
        d["isLeverage"] = "" if linear else "0"
        d["positionIdx"] = 0
        d["orderStatus"] = self._status_text(o)
        if linear:
            d["createType"] = "CreateByUser"
        d["cancelType"] = (
            o.extra.get("cancel_type", "UNKNOWN")
            if o.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.EXPIRED_IN_MATCH)
            else "UNKNOWN"
        )
        d["rejectReason"] = o.extra.get("reject_reason", "EC_NoError")
        d["avgPrice"] = spec.px(avg) if avg else ("0" if rest else "")
        d["leavesQty"] = spec.qty(leaves)
        d["leavesValue"] = spec.value(leaves * (o.price or ZERO))
        d["cumExecQty"] = spec.qty(o.filled)
        d["cumExecValue"] = spec.value(o.cum_quote)
        d["cumExecFee"] = spec.value(fee)
        if not rest:
            d["closedPnl"] = spec.value(
                sum((f.realized_pnl - f.commission for f in o.fills if f.realized_pnl), ZERO)
            )
            d["feeCurrency"] = fee_coin if not linear else ""
        d["timeInForce"] = o.extra.get("tif", "GTC")
        d["orderType"] = o.extra.get("order_type", "Limit")
        d["stopOrderType"] = ""
        d["orderIv"] = ""
        d["marketUnit"] = o.extra.get("market_unit", "")
        d["triggerPrice"] = spec.px(ZERO) if linear else "0"
        d["takeProfit"] = spec.px(ZERO) if linear else "0"
        d["stopLoss"] = spec.px(ZERO) if linear else "0"
        d["tpTriggerBy"] = ""
        d["slTriggerBy"] = ""
        d["triggerDirection"] = 0
        d["triggerBy"] = ""
        d["lastPriceOnCreated"] = o.extra.get("last_on_created", "")
        d["reduceOnly"] = o.reduce_only
        d["closeOnTrigger"] = False
        d["smpType"] = "None"
        d["smpGroup"] = 0
        d["smpOrderId"] = ""
        if linear:
            d["tpslMode"] = "UNKNOWN"
        d["tpLimitPrice"] = ""
        d["slLimitPrice"] = ""
        d["placeType"] = ""
        d["cumFeeDetail"] = {fee_coin: spec.value(fee)} if fee else {}
        d["createdTime"] = str(o.created_ms)
        d["updatedTime"] = str(o.updated_ms)
        return d

    def _execution_json(self, o: SimOrder, f: Fill, *, rest: bool) -> JSON:
        inst = o.instrument
        spec = self._specs[inst.key]
        linear = inst.market == "linear"
        acct = self.engine.accounts[o.account]
        rate = acct.maker_fee if f.is_maker else acct.taker_fee
        d: JSON = {}
        if not rest:
            d["category"] = inst.market
        d["symbol"] = inst.symbol
        d["orderId"] = o.extra["bybit_id"]
        d["orderLinkId"] = o.extra.get("link_id", "")
        d["side"] = "Buy" if o.side is Side.BUY else "Sell"
        d["orderPrice"] = str(
            o.extra.get("price_text") or (spec.px(o.price) if o.price is not None else "0")
        )
        d["orderQty"] = o.extra.get("qty_text") or spec.qty(o.qty)
        d["leavesQty"] = spec.qty(o.remaining if o.status.is_open else ZERO)
        if linear:
            d["createType"] = "CreateByUser"
        d["orderType"] = o.extra.get("order_type", "Limit")
        d["stopOrderType"] = "UNKNOWN"
        d["execFee"] = spec.value(f.commission)
        d["execId"] = self._trade_id(inst, f.trade_id)
        d["execPrice"] = spec.px(f.price)
        d["execQty"] = spec.qty(f.qty)
        d["execPnl"] = spec.value(f.realized_pnl) if linear else "0"
        d["execType"] = "Trade"
        d["execValue"] = spec.value(f.quote_qty)
        d["execTime"] = str(f.ts_ms)
        d["isMaker"] = f.is_maker
        d["feeRate"] = _plain(rate)
        d["tradeIv"] = ""
        d["markIv"] = ""
        d["markPrice"] = spec.px(self.engine.mark_price(inst))
        d["indexPrice"] = ""
        d["underlyingPrice"] = ""
        d["blockTradeId"] = ""
        closed = self._closed.get((o.order_id, f.trade_id), ZERO)
        d["closedSize"] = spec.qty(closed) if linear else ""
        d["seq"] = self._seq(inst)
        d["marketUnit"] = o.extra.get("market_unit", "")
        d["feeCurrency"] = f.commission_asset
        d["extraFees"] = "" if rest else []
        if not rest:
            d["isLeverage"] = "0" if not linear else ""
        return d

    def _position_json(self, group: str, pos: Position, *, rest: bool) -> JSON:
        inst = pos.instrument
        spec = self._specs[inst.key]
        mark = self.engine.mark_price(inst)
        size = abs(pos.qty)
        side = "Buy" if pos.qty > 0 else "Sell" if pos.qty < 0 else ""
        im = pos.initial_margin(mark)
        mm = pos.notional(mark) * Decimal("0.005")
        value = size * pos.entry_price
        liq = ""
        if pos.qty:
            frac = Decimal(1) / pos.leverage - Decimal("0.005")
            liq = spec.px(
                pos.entry_price * (1 - frac) if pos.qty > 0 else pos.entry_price * (1 + frac)
            )
        d: JSON = {
            "positionIdx": 0,
            "riskId": 1,
            "riskLimitValue": "2000000",
            "symbol": inst.symbol,
            "side": side,
            "size": spec.qty(size),
            ("avgPrice" if rest else "entryPrice"): spec.px(pos.entry_price) if pos.qty else "0",
            "positionValue": spec.value(value),
            "tradeMode": 0,
            "positionStatus": "Normal",
            "autoAddMargin": 0,
            "adlRankIndicator": 2 if pos.qty else 0,
            "leverage": str(pos.leverage),
            "positionBalance": spec.value(im),
            "markPrice": spec.px(mark),
            "liqPrice": liq,
            "bustPrice": "",
            "positionMM": spec.value(mm),
            "positionMMByMp": spec.value(mm),
            "positionIM": spec.value(im),
            "positionIMByMp": spec.value(im),
            "tpslMode": "Full",
            "takeProfit": "0.00",
            "stopLoss": "0.00",
            "trailingStop": "0.00",
            "unrealisedPnl": spec.value(pos.unrealized(mark)),
            "curRealisedPnl": spec.value(pos.realized_pnl),
            "cumRealisedPnl": spec.value(pos.realized_pnl),
            "seq": self._seq(inst),
            "isReduceOnly": False,
            "mmrSysUpdatedTime": "",
            "leverageSysUpdatedTime": "",
            "sessionAvgPrice": "",
            "createdTime": str(self._started_ms()),
            "updatedTime": str(pos.updated_ms or self._started_ms()),
        }
        if not rest:
            d["category"] = "linear"
        return d

    def _coin_price(self, coin: str) -> Decimal:
        """USD value of one coin (stablecoins at 1, others at the spot mark)."""
        if coin in ("USDT", "USDC"):
            return Decimal(1)
        inst = self.engine.find_instrument("spot", f"{coin}USDT")
        return self.engine.mark_price(inst) if inst is not None else ZERO

    def _wallet(self, group: str, coins: list[str] | None) -> JSON:
        """The UTA wallet of a host: account totals in USD and one entry per coin."""
        spot, lin = self._acct(group, "spot"), self._acct(group, "linear")
        tot_wallet = tot_upl = tot_im = tot_mm = tot_equity = ZERO
        rows = []
        for coin, bal in sorted(spot.balances.items()):
            upl = self.engine.unrealized(lin, coin)
            pos_im, ord_im = self.engine.margin_used(lin, coin)
            pos_mm = sum(
                (
                    p.notional(self.engine.mark_price(p.instrument)) * Decimal("0.005")
                    for p in lin.positions.values()
                    if p.instrument.settle == coin and p.qty
                ),
                ZERO,
            )
            cum = sum(
                (p.realized_pnl for p in lin.positions.values() if p.instrument.settle == coin),
                ZERO,
            )
            px = self._coin_price(coin)
            equity = bal.wallet + upl
            tot_wallet += bal.wallet * px
            tot_upl += upl * px
            tot_im += (pos_im + ord_im) * px
            tot_mm += pos_mm * px
            tot_equity += equity * px
            if coins is not None and coin not in coins:
                continue
            if coins is None and bal.wallet == 0 and equity == 0:
                continue
            rows.append(
                {
                    "availableToBorrow": "",
                    "bonus": "0",
                    "accruedInterest": "0",
                    "availableToWithdraw": "",
                    "totalOrderIM": _plain(ord_im.quantize(Decimal("1e-8"))),
                    "equity": _plain(equity),
                    "totalPositionMM": _plain(pos_mm.quantize(Decimal("1e-8"))),
                    "usdValue": _plain((equity * px).quantize(Decimal("1e-8"))),
                    "spotHedgingQty": "0",
                    "unrealisedPnl": _plain(upl.quantize(Decimal("1e-8"))),
                    "collateralSwitch": True,
                    "borrowAmount": "0",
                    "totalPositionIM": _plain(pos_im.quantize(Decimal("1e-8"))),
                    "walletBalance": _plain(bal.wallet),
                    "cumRealisedPnl": _plain(cum.quantize(Decimal("1e-8"))),
                    "locked": _plain(bal.locked),
                    "marginCollateral": True,
                    "coin": coin,
                    "spotBorrow": "0",
                }
            )
        margin = tot_wallet + tot_upl
        q = Decimal("1e-8")

        def rate(x: Decimal) -> str:
            return _plain((x / margin).quantize(Decimal("1e-4"))) if margin > 0 else "0"

        return {
            "totalEquity": _plain(tot_equity.quantize(q)),
            "accountIMRate": rate(tot_im),
            "accountIMRateByMp": rate(tot_im),
            "totalMarginBalance": _plain(margin.quantize(q)),
            "totalInitialMargin": _plain(tot_im.quantize(q)),
            "totalInitialMarginByMp": _plain(tot_im.quantize(q)),
            "accountType": "UNIFIED",
            "totalAvailableBalance": _plain((margin - tot_im).quantize(q)),
            "accountMMRate": rate(tot_mm),
            "accountMMRateByMp": rate(tot_mm),
            "totalPerpUPL": _plain(tot_upl.quantize(q)),
            "totalWalletBalance": _plain(tot_wallet.quantize(q)),
            "accountLTV": "0",
            "totalMaintenanceMargin": _plain(tot_mm.quantize(q)),
            "totalMaintenanceMarginByMp": _plain(tot_mm.quantize(q)),
            "coin": rows,
        }

    # -- tickers --------------------------------------------------------------------------------

    def _next_funding_ms(self) -> int:
        period = 8 * 3_600_000
        return (now_ms() // period + 1) * period

    def _index_price(self, inst: Instrument) -> Decimal:
        """Index of a linear contract: the spot mark of the same symbol (else its own mark)."""
        spot = self.engine.find_instrument("spot", inst.symbol)
        return self.engine.mark_price(spot) if spot is not None else self.engine.mark_price(inst)

    def _ticker_fields(self, inst: Instrument) -> JSON:
        """The full stream ticker of an instrument, in Bybit's field order."""
        spec = self._specs[inst.key]
        st = self.engine.stats[inst.key]
        pct = (st.last / st.open - 1) if st.open else ZERO
        if inst.market == "spot":
            return {
                "symbol": inst.symbol,
                "lastPrice": spec.px(st.last),
                "highPrice24h": spec.px(st.high),
                "lowPrice24h": spec.px(st.low),
                "prevPrice24h": spec.px(st.open),
                "volume24h": _plain(st.volume),
                "turnover24h": _plain(st.quote_volume.quantize(Decimal("1e-8"))),
                "price24hPcnt": _fixed(pct, 4),
                "usdIndexPrice": _plain(
                    self.engine.book(inst).mid_price().quantize(Decimal("1e-6"))
                ),
            }
        book = self.engine.book(inst)
        bid, ask = book.best(True), book.best(False)
        mark = self.engine.mark_price(inst)
        oi = self._open_interest(inst)
        direction = self._last_trade.get(inst.key, (st.last, "ZeroPlusTick"))[1]
        hour_ago = self._candles[inst.key].price_at(now_ms() - 3_600_000)
        return {
            "symbol": inst.symbol,
            "tickDirection": direction,
            "price24hPcnt": _fixed(pct, 6),
            "lastPrice": spec.px(st.last),
            "prevPrice24h": spec.px(st.open),
            "highPrice24h": spec.px(st.high),
            "lowPrice24h": spec.px(st.low),
            "prevPrice1h": spec.px(hour_ago),
            "markPrice": spec.px(mark),
            "indexPrice": spec.px(self._index_price(inst)),
            "openInterest": spec.qty(oi),
            "openInterestValue": _fixed(oi * mark, 2),
            "turnover24h": _fixed(st.quote_volume, 4),
            "volume24h": _fixed(st.volume, 4),
            "fundingIntervalHour": "8",
            "fundingCap": "0.005",
            "singleOpenInterest": spec.qty(oi / 2),
            "singleOpenInterestValue": _fixed(oi * mark / 2, 2),
            "nextFundingTime": str(self._next_funding_ms()),
            "fundingRate": _plain(self.engine.funding_rate),
            "bid1Price": spec.px(inst.price(bid[0])) if bid else "",
            "bid1Size": spec.qty(inst.qty(bid[1])) if bid else "",
            "ask1Price": spec.px(inst.price(ask[0])) if ask else "",
            "ask1Size": spec.qty(inst.qty(ask[1])) if ask else "",
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
        }

    def _open_interest(self, inst: Instrument) -> Decimal:
        """Sum of every simulated account's long size on the contract."""
        total = ZERO
        for acct in self.engine.accounts.values():
            p = acct.positions.get(inst.symbol)
            if acct.kind == "margin" and p is not None and p.instrument is inst and p.qty > 0:
                total += p.qty
        return total

    def _rest_ticker(self, inst: Instrument) -> JSON:
        spec = self._specs[inst.key]
        f = self._ticker_fields(inst)
        book = self.engine.book(inst)
        bid, ask = book.best(True), book.best(False)
        b1p = spec.px(inst.price(bid[0])) if bid else ""
        b1s = spec.qty(inst.qty(bid[1])) if bid else ""
        a1p = spec.px(inst.price(ask[0])) if ask else ""
        a1s = spec.qty(inst.qty(ask[1])) if ask else ""
        if inst.market == "spot":
            return {
                "symbol": inst.symbol,
                "bid1Price": b1p,
                "bid1Size": b1s,
                "ask1Price": a1p,
                "ask1Size": a1s,
                "lastPrice": f["lastPrice"],
                "prevPrice24h": f["prevPrice24h"],
                "price24hPcnt": f["price24hPcnt"],
                "highPrice24h": f["highPrice24h"],
                "lowPrice24h": f["lowPrice24h"],
                "turnover24h": f["turnover24h"],
                "volume24h": f["volume24h"],
                "usdIndexPrice": f["usdIndexPrice"],
            }
        return {
            "symbol": inst.symbol,
            "lastPrice": f["lastPrice"],
            "indexPrice": f["indexPrice"],
            "markPrice": f["markPrice"],
            "prevPrice24h": f["prevPrice24h"],
            "price24hPcnt": f["price24hPcnt"],
            "highPrice24h": f["highPrice24h"],
            "lowPrice24h": f["lowPrice24h"],
            "prevPrice1h": f["prevPrice1h"],
            "openInterest": f["openInterest"],
            "openInterestValue": f["openInterestValue"],
            "turnover24h": f["turnover24h"],
            "volume24h": f["volume24h"],
            "fundingRate": f["fundingRate"],
            "nextFundingTime": f["nextFundingTime"],
            "predictedDeliveryPrice": "",
            "basisRate": "",
            "deliveryFeeRate": "",
            "deliveryTime": "0",
            "ask1Size": a1s,
            "bid1Price": b1p,
            "ask1Price": a1p,
            "bid1Size": b1s,
            "basis": "",
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
            "fundingIntervalHour": "8",
            "basisRateYear": "",
            "fundingCap": "0.005",
        }

    # -- WebSocket endpoints --------------------------------------------------------------------

    def _ws_route(self, group: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            async with self.websocket(request, kind="private") as conn:
                conn.data.update(group=group, authed=False, conn_id=self._conn_id())
                async for text in conn:
                    self._on_private_frame(conn, text)
            return conn.ws

        return handler

    async def _ws_public(self, request: web.Request) -> web.StreamResponse:
        category = request.match_info["category"]
        async with self.websocket(request, kind="public") as conn:
            conn.data.update(category=category, conn_id=self._conn_id())
            async for text in conn:
                self._on_public_frame(conn, text)
        return conn.ws

    def malformed_frame(self, conn: SimConnection) -> str:
        """A cut-off frame shaped like the stream's data (what a broken proxy would deliver)."""
        if conn.kind == "private":
            return '{"id":"' + str(self._live.uid) + '","topic":"order","creationTime":'
        return (
            '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":'
            + str(now_ms())
            + ',"data":{"s":"BTC'
        )

    @staticmethod
    def _decode(text: str) -> JSON | None:
        try:
            msg = json.loads(text)
        except ValueError:
            return None
        return msg if isinstance(msg, dict) else None

    def _public_ack(
        self, conn: SimConnection, op: str, ok: bool, ret_msg: str, req_id: Any
    ) -> JSON:
        """A public ack in the stream's shape (spot: no empty req_id, ret_msg = op)."""
        spot = conn.data["category"] == "spot"
        d: JSON = {
            "success": ok,
            "ret_msg": ret_msg if (ret_msg or not spot or not ok) else op,
            "conn_id": str(conn.data["conn_id"]),
        }
        if req_id not in (None, "") or not spot:
            d["req_id"] = "" if req_id is None else str(req_id)
        d["op"] = op
        return d

    def _on_public_frame(self, conn: SimConnection, text: str) -> None:
        msg = self._decode(text)
        if msg is None:
            conn.send(
                {
                    "success": False,
                    "ret_msg": "error:request not json",
                    "conn_id": str(conn.data["conn_id"]),
                    "op": "",
                }
            )
            return
        op, req_id = msg.get("op"), msg.get("req_id")
        if op == "ping":
            conn.send(self._public_ack(conn, "ping", True, "pong", req_id))
        elif op in ("subscribe", "unsubscribe"):
            args = msg.get("args")
            if not isinstance(args, list) or not args:
                conn.send(self._public_ack(conn, op, False, "error:args is empty", req_id))
                return
            bad = [
                a
                for a in args
                if not isinstance(a, str)
                or self._public_topic(str(conn.data["category"]), a) is None
            ]
            if bad:
                conn.send(
                    self._public_ack(
                        conn, op, False, f"error:handler not found,topic:{bad[0]}", req_id
                    )
                )
                return
            if op == "subscribe":
                dup = [a for a in args if a in conn.subscriptions]
                if dup:
                    conn.send(
                        self._public_ack(
                            conn, op, False, f"error:already subscribed,topic:{dup[0]}", req_id
                        )
                    )
                    return
                conn.subscriptions.update(args)
                conn.send(self._public_ack(conn, op, True, "", req_id))
                for a in args:
                    self._send_initial(conn, a)
            else:
                conn.subscriptions.difference_update(args)
                conn.send(self._public_ack(conn, op, True, "", req_id))
        else:
            conn.send(
                self._public_ack(conn, str(op or ""), False, f"error:unsupported op:{op}", req_id)
            )

    def _public_topic(self, category: str, topic: str) -> tuple[str, Instrument, str] | None:
        """(kind, instrument, parameter) of a valid public topic, else None."""
        parts = topic.split(".")
        if len(parts) == 2 and parts[0] in ("tickers", "publicTrade"):
            kind, param, sym = parts[0], "", parts[1]
        elif (
            len(parts) == 3
            and parts[0] == "orderbook"
            and parts[1] in {str(d) for d in BOOK_DEPTHS}
        ):
            kind, param, sym = "orderbook", parts[1], parts[2]
        elif len(parts) == 3 and parts[0] == "kline" and parts[1] in KLINE_INTERVALS:
            kind, param, sym = "kline", parts[1], parts[2]
        else:
            return None
        inst = self.engine.find_instrument(category, sym)
        return None if inst is None else (kind, inst, param)

    def _send_initial(self, conn: SimConnection, topic: str) -> None:
        """What a fresh subscriber gets at once: the book or ticker snapshot, the live bar."""
        parsed = self._public_topic(str(conn.data["category"]), topic)
        assert parsed is not None
        kind, inst, param = parsed
        if kind == "orderbook":
            feed = self._feeds[inst.key][int(param)]
            conn.send(self._book_frame(inst, feed, "snapshot", feed.bids, feed.asks))
        elif kind == "tickers":
            conn.send(self._ticker_frame(inst, "snapshot", self._tickers[inst.key]))
        elif kind == "kline":
            frame = self._kline_frame(inst, param, now_ms(), confirm=False)
            if frame is not None:
                conn.send(frame)

    def _on_private_frame(self, conn: SimConnection, text: str) -> None:
        msg = self._decode(text)
        cid = str(conn.data["conn_id"])
        if msg is None:
            conn.send(
                {"success": False, "ret_msg": "error:request not json", "op": "", "conn_id": cid}
            )
            return
        op, req_id = msg.get("op"), msg.get("req_id")

        def ack(ok: bool, ret_msg: str, op_name: str) -> JSON:
            d: JSON = {}
            if req_id not in (None, ""):
                d["req_id"] = str(req_id)
            d.update(success=ok, ret_msg=ret_msg, op=op_name, conn_id=cid)
            return d

        if op == "ping":
            d: JSON = {}
            if req_id not in (None, ""):
                d["req_id"] = str(req_id)
            d.update(op="pong", args=[str(now_ms())], conn_id=cid)
            conn.send(d)
        elif op == "auth":
            ok = self._ws_auth(conn, msg.get("args"))
            conn.send(ack(ok, "" if ok else "Params Error", "auth"))
        elif op in ("subscribe", "unsubscribe"):
            args = msg.get("args")
            if not conn.data.get("authed"):
                conn.send(ack(False, "Request not authorized", op))
                return
            if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
                conn.send(ack(False, "error:args is empty", op))
                return
            bad = [a for a in args if not self._private_topic(a)]
            if bad:
                conn.send(ack(False, f"error:handler not found,topic:{bad[0]}", op))
                return
            roots = {a.split(".")[0] for a in args if "." not in a}
            if any(a.split(".")[0] in roots for a in args if "." in a):
                why = (
                    "All-In-One topic and Categorised topic cannot be in the same "
                    "subscription request"
                )
                conn.send(ack(False, f"error:{why}", op))
                return
            if op == "subscribe":
                conn.subscriptions.update(args)
            else:
                conn.subscriptions.difference_update(args)
            conn.send(ack(True, "", op))
        else:
            conn.send(ack(False, f"error:unsupported op:{op}", str(op or "")))

    @staticmethod
    def _private_topic(topic: str) -> bool:
        root, _, cat = topic.partition(".")
        if root not in ("order", "execution", "position", "wallet"):
            return False
        if not cat:
            return True
        if root == "wallet":
            return False
        if root == "position":
            return cat in ("linear", "inverse", "option")
        return cat in ("spot", "linear", "inverse", "option")

    def _ws_auth(self, conn: SimConnection, args: Any) -> bool:
        """Check `[api_key, expires, hex HMAC(secret, "GET/realtime" + expires)]`."""
        group = str(conn.data["group"])
        if not isinstance(args, list) or len(args) != 3:
            self.stats.auth_failures += 1
            return False
        key, expires, sig = args
        if not isinstance(key, str) or not self._key_ok(group, key):
            self.stats.auth_failures += 1
            return False
        try:
            exp = int(expires)
        except (TypeError, ValueError):
            self.stats.auth_failures += 1
            return False
        if exp <= now_ms():
            self.stats.auth_failures += 1
            return False
        if not self._verify(group, f"GET/realtime{expires}", sig if isinstance(sig, str) else None):
            return False
        conn.data["authed"] = True
        log.info("sim bybit: private ws #%d authenticated (%s)", conn.id, group)
        return True

    # -- engine events -> frames ----------------------------------------------------------------

    def on_event(self, event: SimEvent) -> None:
        """Turn engine events into Bybit pushes (books, trades, tickers, private topics)."""
        if isinstance(event, BookUpdate):
            inst = event.instrument
            book = self.engine.book(inst)
            self._publish_levels(inst, book.side(True, 1000), book.side(False, 1000), event.ts_ms)
        elif isinstance(event, TradeUpdate):
            self._on_trade(event)
        elif isinstance(event, TickerUpdate):
            self._on_tick(event.instrument)
        elif isinstance(event, OrderUpdate):
            self._on_order(event)
        elif isinstance(event, AccountUpdate):
            self._on_account(event)

    def _subscribers(self, category: str, topic: str) -> list[SimConnection]:
        return [
            c
            for c in self.connections("public")
            if not c.closed and c.data.get("category") == category and topic in c.subscriptions
        ]

    def _broadcast(self, category: str, topic: str, frame: JSON) -> None:
        conns = self._subscribers(category, topic)
        if conns:
            text = json.dumps(frame, separators=(",", ":"))
            for c in conns:
                c.send(text)

    def _publish_levels(
        self, inst: Instrument, bids: list[tuple[int, int]], asks: list[tuple[int, int]], cts: int
    ) -> None:
        """Diff each depth's top-N against what it last published; push a delta (u + 1)."""
        seq = self._seq(inst)
        for depth, feed in self._feeds[inst.key].items():
            nb, na = dict(bids[:depth]), dict(asks[:depth])
            if nb == feed.bids and na == feed.asks:
                if depth == 1 and feed.pushed_at and time.monotonic() - feed.pushed_at >= 3.0:
                    feed.pushed_at = time.monotonic()  # level 1: same snapshot again after 3 s
                    self._broadcast(
                        inst.market,
                        f"orderbook.1.{inst.symbol}",
                        self._book_frame(inst, feed, "snapshot", nb, na),
                    )
                continue
            db = {p: q for p, q in nb.items() if feed.bids.get(p) != q}
            db.update({p: 0 for p in feed.bids if p not in nb})
            da = {p: q for p, q in na.items() if feed.asks.get(p) != q}
            da.update({p: 0 for p in feed.asks if p not in na})
            first = not feed.pushed_at and not feed.bids and not feed.asks
            feed.u += 1
            if not first and self.faults.consume_gap(("orderbook", inst.key, depth)):
                feed.u += 1  # an injected gap: one `u` no client ever sees
            feed.bids, feed.asks, feed.seq, feed.cts = nb, na, seq, cts
            feed.pushed_at = time.monotonic()
            if first:
                continue
            topic = f"orderbook.{depth}.{inst.symbol}"
            if depth == 1:
                frame = self._book_frame(inst, feed, "snapshot", nb, na)
            else:
                frame = self._book_frame(inst, feed, "delta", db, da)
            self._broadcast(inst.market, topic, frame)

    def _book_frame(
        self,
        inst: Instrument,
        feed: _BookFeed,
        kind: str,
        bids: dict[int, int],
        asks: dict[int, int],
    ) -> JSON:
        spec = self._specs[inst.key]
        data = {
            "s": inst.symbol,
            "b": [
                [spec.px(inst.price(p)), spec.qty(inst.qty(q)) if q else "0"]
                for p, q in sorted(bids.items(), reverse=True)
            ],
            "a": [
                [spec.px(inst.price(p)), spec.qty(inst.qty(q)) if q else "0"]
                for p, q in sorted(asks.items())
            ],
            "u": feed.u,
            "seq": feed.seq,
        }
        topic = f"orderbook.{feed.depth}.{inst.symbol}"
        ts = max(now_ms(), feed.cts)
        if inst.market == "spot":
            return {"topic": topic, "ts": ts, "type": kind, "data": data, "cts": feed.cts}
        return {"topic": topic, "type": kind, "ts": ts, "data": data, "cts": feed.cts}

    def _on_trade(self, ev: TradeUpdate) -> None:
        inst, t = ev.instrument, ev.trade
        spec = self._specs[inst.key]
        prev = self._last_trade.get(inst.key)
        if prev is None or t.price == prev[0]:
            direction = (
                "ZeroPlusTick"
                if prev is None or prev[1] in ("PlusTick", "ZeroPlusTick")
                else "ZeroMinusTick"
            )
        else:
            direction = "PlusTick" if t.price > prev[0] else "MinusTick"
        self._last_trade[inst.key] = (t.price, direction)
        self._candles[inst.key].add_trade(t.price, t.qty, t.ts_ms)
        tid = self._trade_id(inst, t.trade_id)
        side = "Sell" if t.buyer_is_maker else "Buy"
        seq = self._seq(inst)
        self._trade_seq[t.trade_id] = seq
        if len(self._trade_seq) > 8000:  # the engine keeps the last 1000 prints per instrument
            for old_id in sorted(self._trade_seq)[:4000]:
                del self._trade_seq[old_id]
        topic = f"publicTrade.{inst.symbol}"
        if inst.market == "spot":
            item: JSON = {
                "i": tid,
                "T": t.ts_ms,
                "p": spec.px(t.price),
                "v": spec.qty(t.qty),
                "S": side,
                "seq": seq,
                "s": inst.symbol,
                "BT": False,
                "RPI": False,
            }
            frame: JSON = {"topic": topic, "ts": t.ts_ms, "type": "snapshot", "data": [item]}
        else:
            item = {
                "T": t.ts_ms,
                "s": inst.symbol,
                "S": side,
                "v": spec.qty(t.qty),
                "p": spec.px(t.price),
                "L": direction,
                "i": tid,
                "BT": False,
                "RPI": False,
                "seq": seq,
            }
            frame = {"topic": topic, "type": "snapshot", "ts": t.ts_ms, "data": [item]}
        self._broadcast(inst.market, topic, frame)

    def _ticker_frame(self, inst: Instrument, kind: str, data: JSON) -> JSON:
        topic = f"tickers.{inst.symbol}"
        cs = self._ticker_cs[inst.key]
        if inst.market == "spot":
            return {"topic": topic, "ts": now_ms(), "type": kind, "cs": cs, "data": data}
        return {"topic": topic, "type": kind, "data": data, "cs": cs, "ts": now_ms()}

    def _on_tick(self, inst: Instrument) -> None:
        """End of a price-process step: ticker (snapshot or delta) and kline pushes."""
        key = inst.key
        new = self._ticker_fields(inst)
        old = self._tickers[key]
        changed = {k: v for k, v in new.items() if k != "symbol" and old.get(k) != v}
        if changed:
            self._tickers[key] = new
            self._ticker_cs[key] = self._seq(inst)
            if inst.market == "spot":
                self._broadcast(
                    "spot", f"tickers.{inst.symbol}", self._ticker_frame(inst, "snapshot", new)
                )
            else:
                delta = {"symbol": inst.symbol, **changed}
                self._broadcast(
                    "linear", f"tickers.{inst.symbol}", self._ticker_frame(inst, "delta", delta)
                )
        now = now_ms()
        for interval in KLINE_INTERVALS:
            topic = f"kline.{interval}.{inst.symbol}"
            if not self._subscribers(inst.market, topic):
                continue
            start, _ = _Candles.bounds(interval, now)
            last = self._kline_pushed.get((inst.market, inst.symbol, interval))
            if last is not None and last[0] < start:  # the previous bar closed: confirm it
                frame = self._kline_frame(inst, interval, last[0], confirm=True)
                if frame is not None:
                    self._broadcast(inst.market, topic, frame)
            frame = self._kline_frame(inst, interval, now, confirm=False)
            if frame is None:
                continue
            body = json.dumps(frame["data"][0] | {"timestamp": 0}, sort_keys=True)
            if (
                last is not None
                and last[0] == start
                and (last[2] == body or time.monotonic() - last[1] < 1.0)
            ):
                continue
            self._kline_pushed[(inst.market, inst.symbol, interval)] = (
                start,
                time.monotonic(),
                body,
            )
            self._broadcast(inst.market, topic, frame)

    def _kline_frame(
        self, inst: Instrument, interval: str, ts_ms: int, *, confirm: bool
    ) -> JSON | None:
        candles = self._candles[inst.key]
        start, end = candles.bounds(interval, ts_ms)
        now = now_ms()
        bar = candles.bar(interval, start, end, now)
        if bar is None:
            return None
        item = {
            "start": start,
            "end": end,
            "interval": interval,
            "open": _plain(bar.open),
            "close": _plain(bar.close),
            "high": _plain(bar.high),
            "low": _plain(bar.low),
            "volume": _plain(bar.volume),
            "turnover": _plain(bar.turnover),
            "confirm": confirm,
            "timestamp": now,
        }
        topic = f"kline.{interval}.{inst.symbol}"
        if inst.market == "spot":
            return {"type": "snapshot", "topic": topic, "data": [item], "ts": now}
        return {"topic": topic, "data": [item], "ts": now, "type": "snapshot"}

    # private pushes ---------------------------------------------------------------------------

    def _private_conns(self, group: str, topics: Iterable[str]) -> list[tuple[SimConnection, str]]:
        out = []
        wanted = list(topics)
        for c in self.connections("private"):
            if c.closed or not c.data.get("authed") or c.data.get("group") != group:
                continue
            for t in wanted:
                if t in c.subscriptions:
                    out.append((c, t))
        return out

    def _push(self, group: str, root: str, category: str | None, items: list[JSON]) -> None:
        topics = [root] if category is None else [root, f"{root}.{category}"]
        for conn, topic in self._private_conns(group, topics):
            frame = {
                "id": self._msg_id(group),
                "topic": topic,
                "creationTime": now_ms(),
                "data": items,
            }
            conn.send(json.dumps(frame, separators=(",", ":")))

    def _push_order(self, group: str, order: SimOrder) -> None:
        self._push(group, "order", order.instrument.market, [self._order_json(order, rest=False)])

    def _push_position(self, group: str, pos: Position) -> None:
        self._push(group, "position", "linear", [self._position_json(group, pos, rest=False)])

    def _on_order(self, ev: OrderUpdate) -> None:
        order = ev.order
        if "bybit_id" not in order.extra:  # first sight of the order: give it its Bybit id
            order.extra["bybit_id"] = self._bybit_order_id(order.instrument, order.order_id)
        group = str(order.extra.get("group") or order.account.partition(".")[0])
        order.extra.setdefault("group", group)
        order.extra.setdefault("category", order.instrument.market)
        self._ids[(group, str(order.extra["bybit_id"]))] = order.order_id
        self._push_order(group, order)
        if ev.exec_type is ExecType.TRADE and ev.fill is not None:
            closed = ZERO
            if order.instrument.market == "linear":  # the position already holds this fill
                pos = self.engine.accounts[order.account].position(order.instrument)
                before = pos.qty - ev.fill.qty * order.side.sign
                if before * order.side.sign < 0:  # the fill reduced an opposite position
                    closed = min(ev.fill.qty, abs(before))
            self._closed[(order.order_id, ev.fill.trade_id)] = closed
            self._push(
                group,
                "execution",
                order.instrument.market,
                [self._execution_json(order, ev.fill, rest=False)],
            )
        elif order.instrument.market == "linear":  # Bybit pushes the position on every order event
            self._push_position(
                group, self.engine.accounts[order.account].position(order.instrument)
            )

    def _on_account(self, ev: AccountUpdate) -> None:
        group = ev.account.name.partition(".")[0]
        if group not in GROUPS:
            return
        if ev.account.kind == "margin":
            for sym in ev.symbols:
                inst = self.engine.find_instrument("linear", sym)
                if inst is not None:
                    self._push_position(group, ev.account.position(inst))
        if self._private_conns(group, ["wallet"]):
            self._push(group, "wallet", None, [self._wallet(group, None)])

"""Binance simulator: spot + USD-M futures REST, market streams, WS API and user data.

Speaks the wire formats of (real base URL -> served here, see `BinanceSim.URL_MAP`):

- spot REST `https://api.binance.com` (`/api/v3/...`, signed with HMAC-SHA256 hex over
  query string + body, `X-MBX-APIKEY`, `timestamp`/`recvWindow`, real error codes,
  `X-MBX-USED-WEIGHT-1M` with the documented endpoint weights and a 429 + `Retry-After`
  past the limit); the retired listenKey endpoints answer 410 Gone as Binance's nginx does;
- spot streams `wss://stream.binance.com:9443` (`/ws/<stream>`, `/stream?streams=`,
  SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY);
- spot WS API `wss://ws-api.binance.com:443/ws-api/v3` (`userDataStream.subscribe.signature`
  and wrapped user events, `ping`, `time`, `order.place`, `order.cancel`, `order.status`,
  `openOrders.status`, `account.status`);
- USD-M REST `https://fapi.binance.com` (`/fapi/v1..v3/...`, listenKey);
- USD-M streams `wss://fstream.binance.com` served under the local prefix `/fstream`, routed
  by path (`/public`, `/market`, `/private`): a stream on the wrong route stays silent.

Differences from the live venue (deliberate, for fast tests): every depth stream, whatever
its nominal speed, is pushed on each price-process tick; 24 h statistics start at sim start;
only LIMIT, LIMIT_MAKER and MARKET (spot) and LIMIT/MARKET (futures) orders are accepted.
"""

from __future__ import annotations

import inspect
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import ClassVar, Literal, TypeAlias
from urllib.parse import parse_qsl

from aiohttp import web

from ._base import (
    Account,
    AccountUpdate,
    Balance,
    BookUpdate,
    ExecType,
    Instrument,
    JSONValue,
    OrderError,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    SimConnection,
    SimEvent,
    SimExchange,
    SimOrder,
    TickerUpdate,
    TimeInForce,
    TradeUpdate,
    WeightWindow,
    now_ms,
)

__all__ = ["BinanceSim", "BinanceError"]

log = logging.getLogger(__name__)

D = Decimal
Params = dict[str, str]
Json = JSONValue
_Q8 = D("0.00000001")

GONE_HTML = (
    "<html>\r\n<head><title>410 Gone</title></head>\r\n<body>\r\n"
    "<center><h1>410 Gone</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class BinanceError(Exception):
    """A Binance error answer: `{"code": code, "msg": msg}` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


def _d8(x: Decimal) -> str:
    """Binance spot's 8-decimal string form."""
    return format(x.quantize(_Q8), "f")


def _dp(x: Decimal, places: int) -> str:
    """Fixed `places` decimals (futures prices/qtys at the symbol's precision)."""
    return format(x.quantize(D(1).scaleb(-places)), "f")


def _plain(x: Decimal) -> str:
    """Shortest exact decimal string ("0" for zero)."""
    if x == 0:
        return "0"
    s = format(x.normalize(), "f")
    return s


def _mandatory(name: str) -> BinanceError:
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def _decimal(p: Params, name: str, *, required: bool = False) -> Decimal | None:
    v = p.get(name)
    if v is None or v == "":
        if required:
            raise _mandatory(name)
        return None
    try:
        d = D(v)
        if not d.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; "
            "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
        ) from None
    return d


def _int(p: Params, name: str, default: int | None = None) -> int | None:
    v = p.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
        ) from None


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """(raw without its `signature=` parameter, the signature) of a query string or body."""
    if not raw:
        return "", None
    sig = None
    kept = []
    for part in raw.split("&"):
        if part.startswith("signature="):
            sig = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), sig


_STATUS = {
    OrderStatus.NEW: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.EXPIRED_IN_MATCH: "EXPIRED_IN_MATCH",
}
_TIF_IN = {
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
    "GTX": TimeInForce.POST_ONLY,
}
_TIF_OUT = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
    TimeInForce.POST_ONLY: "GTX",
}

SPOT = "spot"
SPOT_STREAM_PREFIX = "/stream.binance.com"
FUT = "linear"
SPOT_ACCOUNT = "spot"
FUT_ACCOUNT = "futures"

Security = Literal["NONE", "USER_STREAM", "SIGNED"]
Handler: TypeAlias = "Callable[[web.Request, Params], Awaitable[Json] | Json]"


class BinanceSim(SimExchange):
    """Binance spot + USD-M futures on 127.0.0.1 (see the module docstring for the surface).

    Extra knobs: `spot_weight_limit` / `futures_weight_limit` (request weight per minute,
    6000 / 2400 like the live venue), `listen_key_ttl_s` (futures listenKey validity).
    """

    venue: ClassVar[str] = "binance"
    URL_MAP: ClassVar[Mapping[str, str]] = {
        "https://api.binance.com": "",
        "https://api1.binance.com": "",
        "https://api2.binance.com": "",
        "https://api3.binance.com": "",
        "https://api4.binance.com": "",
        "https://api-gcp.binance.com": "",
        "https://testnet.binance.vision": "",
        "https://fapi.binance.com": "",
        "https://dapi.binance.com": "",
        "https://testnet.binancefuture.com": "",
        "https://demo-fapi.binance.com": "",
        # spot market streams live under a prefix that keeps "/stream" in the URL: clients
        # (ccxt) tell spot from futures sockets by that substring of the real host name
        "wss://stream.binance.com:9443": SPOT_STREAM_PREFIX,
        "wss://stream.binance.com:443": SPOT_STREAM_PREFIX,
        "wss://stream.binance.com": SPOT_STREAM_PREFIX,
        "wss://data-stream.binance.vision": SPOT_STREAM_PREFIX,
        "wss://stream.testnet.binance.vision": SPOT_STREAM_PREFIX,
        "wss://ws-api.binance.com:443": "",
        "wss://ws-api.binance.com:9443": "",
        "wss://ws-api.binance.com": "",
        "wss://ws-api.testnet.binance.vision": "",
        "wss://fstream.binance.com": "/fstream",
        "wss://fstream.binancefuture.com": "/fstream",
    }
    HAS_CHECKSUM: ClassVar[bool] = False

    SPOT_WEIGHT_LIMIT = 6000
    FUTURES_WEIGHT_LIMIT = 2400

    def __init__(
        self,
        *,
        spot_weight_limit: int = SPOT_WEIGHT_LIMIT,
        futures_weight_limit: int = FUTURES_WEIGHT_LIMIT,
        listen_key_ttl_s: float = 3600.0,
        **kwargs: object,
    ) -> None:
        """See `SimExchange.__init__` for the shared keyword arguments."""
        self.spot_weight = WeightWindow(spot_weight_limit)
        self.futures_weight = WeightWindow(futures_weight_limit)
        self.listen_key_ttl_s = listen_key_ttl_s
        self._listen_keys: dict[str, float] = {}  # key -> monotonic expiry
        self._last_bbo: dict[
            tuple[str, str], tuple[tuple[int, int] | None, tuple[int, int] | None]
        ] = {}
        self._spot_order_count = 0
        self.fault_retry_after_s = 1  # Retry-After of an injected 429 (the limit is not spent)
        super().__init__(**kwargs)  # type: ignore[arg-type]

    # -- configuration ------------------------------------------------------------------------

    def default_instruments(self) -> list[Instrument]:
        """BTCUSDT and ETHUSDT, spot and USD-M perpetual, with Binance's filters."""
        return [
            Instrument(
                "BTCUSDT",
                SPOT,
                "BTC",
                "USDT",
                D("0.01"),
                D("0.00001"),
                D("60000.00"),
                account=SPOT_ACCOUNT,
                min_qty=D("0.00001"),
                max_qty=D("9000"),
                min_notional=D("5"),
                level_spacing_ticks=100,
                half_spread_ticks=50,
                vol_ticks=150.0,
                depth=50,
                level_lots=(100, 20000),
            ),
            Instrument(
                "ETHUSDT",
                SPOT,
                "ETH",
                "USDT",
                D("0.01"),
                D("0.0001"),
                D("3000.00"),
                account=SPOT_ACCOUNT,
                min_qty=D("0.0001"),
                max_qty=D("9000"),
                min_notional=D("5"),
                level_spacing_ticks=10,
                half_spread_ticks=5,
                vol_ticks=15.0,
                depth=50,
                level_lots=(100, 50000),
            ),
            Instrument(
                "BTCUSDT",
                FUT,
                "BTC",
                "USDT",
                D("0.10"),
                D("0.001"),
                D("60000.00"),
                account=FUT_ACCOUNT,
                min_qty=D("0.001"),
                max_qty=D("1000"),
                min_notional=D("100"),
                level_spacing_ticks=10,
                half_spread_ticks=5,
                vol_ticks=15.0,
                depth=50,
                level_lots=(10, 3000),
            ),
            Instrument(
                "ETHUSDT",
                FUT,
                "ETH",
                "USDT",
                D("0.01"),
                D("0.001"),
                D("3000.00"),
                account=FUT_ACCOUNT,
                min_qty=D("0.001"),
                max_qty=D("10000"),
                min_notional=D("20"),
                level_spacing_ticks=10,
                half_spread_ticks=5,
                vol_ticks=15.0,
                depth=50,
                level_lots=(100, 30000),
            ),
        ]

    def default_accounts(self) -> dict[str, Account]:
        """Spot: 100k USDT, 1 BTC, 10 ETH, fees 0.1 %. Futures: 100k USDT, 0.02/0.05 %."""
        spot = Account(
            SPOT_ACCOUNT,
            "cash",
            {
                "USDT": Balance("USDT", D("100000")),
                "BTC": Balance("BTC", D("1")),
                "ETH": Balance("ETH", D("10")),
                "BNB": Balance("BNB", D("0")),
            },
            maker_fee=D("0.001"),
            taker_fee=D("0.001"),
        )
        fut = Account(
            FUT_ACCOUNT,
            "margin",
            {"USDT": Balance("USDT", D("100000")), "BNB": Balance("BNB", D("0"))},
            default_leverage=20,
            maker_fee=D("0.0002"),
            taker_fee=D("0.0005"),
        )
        return {SPOT_ACCOUNT: spot, FUT_ACCOUNT: fut}

    def setup_routes(self, app: web.Application) -> None:
        """Spot, USD-M and WebSocket routes."""
        r = app.router
        ep = self._endpoint
        # spot market data
        r.add_get("/api/v3/ping", ep(SPOT, 1, "NONE", lambda rq, p: {}))
        r.add_get("/api/v3/time", ep(SPOT, 1, "NONE", lambda rq, p: {"serverTime": now_ms()}))
        r.add_get("/api/v3/exchangeInfo", ep(SPOT, 20, "NONE", self._spot_exchange_info))
        r.add_get("/api/v3/depth", ep(SPOT, self._spot_depth_weight, "NONE", self._spot_depth))
        r.add_get(
            "/api/v3/ticker/bookTicker",
            ep(SPOT, self._w_single(2, 4), "NONE", self._spot_book_ticker),
        )
        r.add_get(
            "/api/v3/ticker/24hr", ep(SPOT, self._w_single(2, 80), "NONE", self._spot_ticker_24h)
        )
        r.add_get(
            "/api/v3/ticker/price", ep(SPOT, self._w_single(2, 4), "NONE", self._spot_ticker_price)
        )
        r.add_get("/api/v3/trades", ep(SPOT, 25, "NONE", self._spot_trades))
        r.add_get("/api/v3/avgPrice", ep(SPOT, 2, "NONE", self._spot_avg_price))
        # spot account and trading
        r.add_get("/api/v3/account", ep(SPOT, 20, "SIGNED", self._spot_account))
        r.add_post("/api/v3/order", ep(SPOT, 1, "SIGNED", self._spot_new_order))
        r.add_post("/api/v3/order/test", ep(SPOT, 1, "SIGNED", self._spot_test_order))
        r.add_delete("/api/v3/order", ep(SPOT, 1, "SIGNED", self._spot_cancel))
        r.add_get("/api/v3/order", ep(SPOT, 4, "SIGNED", self._spot_query))
        r.add_get(
            "/api/v3/openOrders", ep(SPOT, self._w_single(6, 80), "SIGNED", self._spot_open_orders)
        )
        r.add_delete("/api/v3/openOrders", ep(SPOT, 1, "SIGNED", self._spot_cancel_all))
        r.add_get("/api/v3/myTrades", ep(SPOT, 20, "SIGNED", self._spot_my_trades))
        r.add_get("/sapi/v1/capital/config/getall", ep(SPOT, 10, "SIGNED", self._sapi_coins))
        # margin trading is not simulated: no cross or isolated margin pairs
        r.add_get("/sapi/v1/margin/allPairs", ep(SPOT, 1, "USER_STREAM", lambda rq, p: []))
        r.add_get("/sapi/v1/margin/isolated/allPairs", ep(SPOT, 10, "SIGNED", lambda rq, p: []))
        for method in ("POST", "PUT", "DELETE"):  # retired on 2026-02-20: nginx 410
            r.add_route(method, "/api/v3/userDataStream", self._gone)
        # USD-M market data
        r.add_get("/fapi/v1/ping", ep(FUT, 1, "NONE", lambda rq, p: {}))
        r.add_get("/fapi/v1/time", ep(FUT, 1, "NONE", lambda rq, p: {"serverTime": now_ms()}))
        r.add_get("/fapi/v1/exchangeInfo", ep(FUT, 1, "NONE", self._fut_exchange_info))
        r.add_get("/fapi/v1/depth", ep(FUT, self._fut_depth_weight, "NONE", self._fut_depth))
        r.add_get(
            "/fapi/v1/ticker/bookTicker",
            ep(FUT, self._w_single(2, 5), "NONE", self._fut_book_ticker),
        )
        r.add_get(
            "/fapi/v1/ticker/24hr", ep(FUT, self._w_single(1, 40), "NONE", self._fut_ticker_24h)
        )
        r.add_get(
            "/fapi/v1/ticker/price", ep(FUT, self._w_single(1, 2), "NONE", self._fut_ticker_price)
        )
        r.add_get(
            "/fapi/v2/ticker/price", ep(FUT, self._w_single(1, 2), "NONE", self._fut_ticker_price)
        )
        r.add_get(
            "/fapi/v1/premiumIndex", ep(FUT, self._w_single(1, 10), "NONE", self._fut_premium_index)
        )
        r.add_get("/fapi/v1/trades", ep(FUT, 5, "NONE", self._fut_trades))
        # USD-M account and trading
        for v in ("v2", "v3"):
            r.add_get(
                f"/fapi/{v}/account",
                ep(FUT, 5, "SIGNED", self._fut_account_v2 if v == "v2" else self._fut_account_v3),
            )
            r.add_get(f"/fapi/{v}/balance", ep(FUT, 5, "SIGNED", self._fut_balance))
            r.add_get(
                f"/fapi/{v}/positionRisk",
                ep(
                    FUT,
                    5,
                    "SIGNED",
                    self._fut_position_risk_v2 if v == "v2" else self._fut_position_risk_v3,
                ),
            )
        r.add_post("/fapi/v1/order", ep(FUT, 0, "SIGNED", self._fut_new_order))
        r.add_delete("/fapi/v1/order", ep(FUT, 1, "SIGNED", self._fut_cancel))
        r.add_get("/fapi/v1/order", ep(FUT, 1, "SIGNED", self._fut_query))
        r.add_get(
            "/fapi/v1/openOrders", ep(FUT, self._w_single(1, 40), "SIGNED", self._fut_open_orders)
        )
        r.add_delete("/fapi/v1/allOpenOrders", ep(FUT, 1, "SIGNED", self._fut_cancel_all))
        r.add_get("/fapi/v1/userTrades", ep(FUT, 5, "SIGNED", self._fut_user_trades))
        r.add_post("/fapi/v1/leverage", ep(FUT, 1, "SIGNED", self._fut_leverage))
        r.add_get("/fapi/v1/leverageBracket", ep(FUT, 1, "SIGNED", self._fut_brackets))
        r.add_post("/fapi/v1/listenKey", ep(FUT, 1, "USER_STREAM", self._lk_create))
        r.add_put("/fapi/v1/listenKey", ep(FUT, 1, "USER_STREAM", self._lk_keepalive))
        r.add_delete("/fapi/v1/listenKey", ep(FUT, 1, "USER_STREAM", self._lk_delete))
        # COIN-M: not simulated, but listed empty so clients loading every market type work
        r.add_get(
            "/dapi/v1/exchangeInfo",
            ep(
                FUT,
                1,
                "NONE",
                lambda rq, p: {
                    "timezone": "UTC",
                    "serverTime": now_ms(),
                    "rateLimits": [],
                    "exchangeFilters": [],
                    "symbols": [],
                },
            ),
        )
        # WebSockets
        for prefix in ("", SPOT_STREAM_PREFIX):  # root too, for hand-written clients
            r.add_get(prefix + "/ws", self._spot_stream)
            r.add_get(prefix + "/ws/{tail:.*}", self._spot_stream)
            r.add_get(prefix + "/stream", self._spot_stream)
        r.add_get("/ws-api/v3", self._spot_ws_api)
        for route in ("public", "market", "private"):
            r.add_get(f"/fstream/{route}/ws", self._fut_stream)
            r.add_get(f"/fstream/{route}/ws/{{tail:.*}}", self._fut_stream)
            r.add_get(f"/fstream/{route}/stream", self._fut_stream)
        r.add_get("/fstream/ws", self._fut_stream)
        r.add_get("/fstream/ws/{tail:.*}", self._fut_stream)
        r.add_get("/fstream/stream", self._fut_stream)

    # -- REST plumbing ------------------------------------------------------------------------

    @staticmethod
    def _w_single(single: int, everything: int) -> Callable[[Params], int]:
        """Weight of a ticker-style endpoint: `single` with `symbol`, `everything` without."""
        return lambda p: single if p.get("symbol") else everything

    @staticmethod
    def _spot_depth_weight(p: Params) -> int:
        limit = int(p.get("limit") or 100) if (p.get("limit") or "100").isdigit() else 100
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250

    @staticmethod
    def _fut_depth_weight(p: Params) -> int:
        limit = int(p.get("limit") or 500) if (p.get("limit") or "500").isdigit() else 500
        return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20

    def _window(self, market: str) -> WeightWindow:
        return self.spot_weight if market == SPOT else self.futures_weight

    def _json(
        self,
        body: Json,
        status: int = 200,
        market: str = SPOT,
        extra: Mapping[str, str] | None = None,
    ) -> web.Response:
        headers = {"X-MBX-USED-WEIGHT-1M": str(self._window(market).used)}
        if extra:
            headers.update(extra)
        return web.Response(
            text=json.dumps(body, separators=(",", ":")),
            status=status,
            content_type="application/json",
            headers=headers,
        )

    def _error(self, exc: BinanceError, market: str) -> web.Response:
        return self._json({"code": exc.code, "msg": exc.msg}, exc.status, market)

    def _too_many(self, market: str, retry_after_s: int | None = None) -> web.Response:
        """-1003 with Retry-After: until the window frees, or `retry_after_s` if given."""
        w = self._window(market)
        if market == SPOT:
            msg = (
                f"Too many requests; current limit of IP(127.0.0.1) is {w.limit} requests per "
                "minute. "
                "Please use the websocket for live updates to avoid polling the API."
            )
        else:
            msg = (
                f"Too many requests; current limit is {w.limit} requests per minute. "
                "Please use the websocket for live updates to avoid polling the API."
            )
        retry = retry_after_s if retry_after_s is not None else w.retry_after_s()
        return self._json({"code": -1003, "msg": msg}, 429, market, {"Retry-After": str(retry)})

    def rate_limited_response(self, request: web.Request) -> web.StreamResponse:
        """An injected 429: Binance's -1003 body, `Retry-After: fault_retry_after_s` (1 s)."""
        market = FUT if request.path.startswith(("/fapi", "/dapi")) else SPOT
        return self._too_many(market, self.fault_retry_after_s)

    def malformed_frame(self, conn: SimConnection) -> str:
        """A truncated depthUpdate, as a broken proxy would deliver."""
        return '{"e":"depthUpdate","E":' + str(now_ms()) + ',"s":"BTCUSDT","U":'

    async def _gone(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=GONE_HTML, status=410, content_type="text/html")

    def _endpoint(
        self,
        market: str,
        weight: int | Callable[[Params], int],
        security: Security,
        fn: Handler,
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap `fn(request, params)` with weight accounting, auth and error mapping."""

        async def handler(request: web.Request) -> web.StreamResponse:
            raw_query = request.rel_url.raw_query_string
            raw_body = await request.text() if request.can_read_body else ""
            params: Params = {k: v for k, v in request.query.items()}
            if raw_body and request.content_type == "application/x-www-form-urlencoded":
                params.update(parse_qsl(raw_body, keep_blank_values=True))
            w = weight(params) if callable(weight) else weight
            window = self._window(market)
            if window.add(w) > window.limit:
                self.stats.rate_limited += 1
                log.warning("sim binance: weight limit reached on %s", request.path)
                return self._too_many(market)
            try:
                if security != "NONE":
                    self._check_key(request.headers.get("X-MBX-APIKEY"))
                if security == "SIGNED":
                    self._check_signed(raw_query, raw_body, params)
                out = fn(request, params)
                if inspect.isawaitable(out):
                    out = await out
            except BinanceError as exc:
                return self._error(exc, market)
            extra = None
            if request.method == "POST" and request.path in ("/api/v3/order",):
                self._spot_order_count += 1
                extra = {
                    "X-MBX-ORDER-COUNT-10S": str(self._spot_order_count),
                    "X-MBX-ORDER-COUNT-1D": str(self._spot_order_count),
                }
            elif request.method == "POST" and request.path == "/fapi/v1/order":
                extra = {"X-MBX-ORDER-COUNT-1M": str(self.stats.orders_placed)}
            return self._json(out, 200, market, extra)

        return handler

    def _check_key(self, api_key: str | None) -> None:
        if not api_key:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        if not self.key_ok(api_key):
            self.stats.auth_failures += 1
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)

    def _check_time(self, params: Mapping[str, object]) -> None:
        ts_raw = params.get("timestamp")
        if ts_raw is None or ts_raw == "":
            raise _mandatory("timestamp")
        try:
            ts = int(str(ts_raw))
        except ValueError:
            raise _mandatory("timestamp") from None
        rw_raw = params.get("recvWindow")
        try:
            rw = int(D(str(rw_raw))) if rw_raw not in (None, "") else 5000
        except InvalidOperation:
            raise BinanceError(
                -1100, "Illegal characters found in parameter 'recvWindow'."
            ) from None
        if rw > 60000:
            raise BinanceError(-1131, "recvWindow must be less than 60000")
        server = now_ms()
        if ts >= server + 1000:
            raise BinanceError(
                -1021, "Timestamp for this request was 1000ms ahead of the server's time."
            )
        if server - ts > rw:
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _check_signed(self, raw_query: str, raw_body: str, params: Params) -> None:
        q, sig_q = _strip_signature(raw_query)
        b, sig_b = _strip_signature(raw_body)
        sig = sig_q or sig_b
        if "timestamp" not in params:
            raise _mandatory("timestamp")
        if not sig:
            raise _mandatory("signature")
        if not self.verify_hex(q + b, sig):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        self._check_time(params)

    # -- shared helpers -----------------------------------------------------------------------

    def _inst(self, market: str, p: Params, required: bool = True) -> Instrument | None:
        sym = p.get("symbol")
        if not sym:
            if required:
                raise _mandatory("symbol")
            return None
        inst = self.engine.find_instrument(market, sym)
        if inst is None:
            raise BinanceError(-1121, "Invalid symbol.")
        return inst

    def _symbols_param(self, market: str, p: Params) -> list[Instrument]:
        """Instruments named by `symbol` or `symbols` (JSON list), else all of the market."""
        inst = self._inst(market, p, required=False)
        if inst is not None:
            return [inst]
        raw = p.get("symbols")
        if raw:
            try:
                names = json.loads(raw)
                assert isinstance(names, list)
            except (ValueError, AssertionError):
                raise BinanceError(
                    -1100, "Illegal characters found in parameter 'symbols'."
                ) from None
            out = []
            for n in names:
                i = self.engine.find_instrument(market, str(n))
                if i is None:
                    raise BinanceError(-1121, "Invalid symbol.")
                out.append(i)
            return out
        return self.engine.market_instruments(market)

    @staticmethod
    def _one_or_list(insts: list[Instrument], p: Params, fn: Callable[[Instrument], Json]) -> Json:
        if p.get("symbol"):
            return fn(insts[0])
        return [fn(i) for i in insts]

    def _levels(self, inst: Instrument, levels: list[tuple[int, int]], spot: bool) -> list[Json]:
        if spot:
            return [[_d8(inst.price(p)), _d8(inst.qty(q))] for p, q in levels]
        pd, qd = inst.price_decimals, inst.qty_decimals
        return [[_dp(inst.price(p), pd), _dp(inst.qty(q), qd)] for p, q in levels]

    def _px(self, inst: Instrument, x: Decimal) -> str:
        return _d8(x) if inst.market == SPOT else _dp(x, inst.price_decimals)

    def _qty(self, inst: Instrument, x: Decimal) -> str:
        return _d8(x) if inst.market == SPOT else _dp(x, inst.qty_decimals)

    def _bbo(self, inst: Instrument) -> tuple[str, str, str, str]:
        book = self.engine.book(inst)
        b, a = book.best(True), book.best(False)
        z = self._px(inst, D(0)), self._qty(inst, D(0))
        bp, bq = (self._px(inst, inst.price(b[0])), self._qty(inst, inst.qty(b[1]))) if b else z
        ap, aq = (self._px(inst, inst.price(a[0])), self._qty(inst, inst.qty(a[1]))) if a else z
        return bp, bq, ap, aq

    def _ticker_fields(self, inst: Instrument) -> dict[str, Json]:
        st = self.engine.stats[inst.key]
        change = st.last - st.open
        pct = (change / st.open * 100) if st.open else D(0)
        wavg = st.quote_volume / st.volume if st.volume else st.last
        now = now_ms()
        return {
            "priceChange": self._px(inst, change),
            "priceChangePercent": _dp(pct, 3),
            "weightedAvgPrice": self._px(inst, wavg),
            "lastPrice": self._px(inst, st.last),
            "lastQty": self._qty(inst, st.last_qty),
            "openPrice": self._px(inst, st.open),
            "highPrice": self._px(inst, st.high),
            "lowPrice": self._px(inst, st.low),
            "volume": self._qty(inst, st.volume),
            "quoteVolume": _d8(st.quote_volume) if inst.market == SPOT else _dp(st.quote_volume, 2),
            "openTime": st.open_ms,
            "closeTime": now,
            "firstId": st.first_trade_id or -1,
            "lastId": st.last_trade_id or -1,
            "count": st.count,
        }

    # -- spot market data ---------------------------------------------------------------------

    def _spot_filters(self, inst: Instrument) -> list[Json]:
        return [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _d8(inst.tick_size),
                "maxPrice": "1000000.00000000",
                "tickSize": _d8(inst.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _d8(inst.min_qty),
                "maxQty": _d8(inst.max_qty),
                "stepSize": _d8(inst.step_size),
            },
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.00000000",
                "maxQty": _d8(inst.max_qty),
                "stepSize": "0.00000000",
            },
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": 10,
                "maxTrailingAboveDelta": 2000,
                "minTrailingBelowDelta": 10,
                "maxTrailingBelowDelta": 2000,
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": "5",
                "bidMultiplierDown": "0.2",
                "askMultiplierUp": "5",
                "askMultiplierDown": "0.2",
                "avgPriceMins": 5,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": _d8(inst.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ]

    def _spot_exchange_info(self, request: web.Request, p: Params) -> Json:
        symbols: list[Json] = []
        for inst in self._symbols_param(SPOT, p):
            symbols.append(
                {
                    "symbol": inst.symbol,
                    "status": "TRADING",
                    "baseAsset": inst.base,
                    "baseAssetPrecision": 8,
                    "quoteAsset": inst.quote,
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "baseCommissionPrecision": 8,
                    "quoteCommissionPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                    "icebergAllowed": False,
                    "ocoAllowed": False,
                    "otoAllowed": False,
                    "quoteOrderQtyMarketAllowed": True,
                    "allowTrailingStop": False,
                    "cancelReplaceAllowed": False,
                    "amendAllowed": False,
                    "pegInstructionsAllowed": False,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": self._spot_filters(inst),
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "EXPIRE_TAKER",
                    "allowedSelfTradePreventionModes": ["EXPIRE_TAKER"],
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": now_ms(),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.spot_weight.limit,
                },
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {
                    "rateLimitType": "RAW_REQUESTS",
                    "interval": "MINUTE",
                    "intervalNum": 5,
                    "limit": 61000,
                },
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }

    def _spot_depth(self, request: web.Request, p: Params) -> Json:
        inst = self._inst(SPOT, p)
        assert inst is not None
        limit = _int(p, "limit", 100) or 100
        if limit > 5000:
            limit = 5000
        uid, bids, asks = self.engine.book(inst).snapshot(limit)
        return {
            "lastUpdateId": uid,
            "bids": self._levels(inst, bids, True),
            "asks": self._levels(inst, asks, True),
        }

    def _spot_book_ticker(self, request: web.Request, p: Params) -> Json:
        def one(inst: Instrument) -> Json:
            bp, bq, ap, aq = self._bbo(inst)
            return {
                "symbol": inst.symbol,
                "bidPrice": bp,
                "bidQty": bq,
                "askPrice": ap,
                "askQty": aq,
            }

        return self._one_or_list(self._symbols_param(SPOT, p), p, one)

    def _spot_ticker_24h(self, request: web.Request, p: Params) -> Json:
        def one(inst: Instrument) -> Json:
            f = self._ticker_fields(inst)
            bp, bq, ap, aq = self._bbo(inst)
            st = self.engine.stats[inst.key]
            return {
                "symbol": inst.symbol,
                "priceChange": f["priceChange"],
                "priceChangePercent": f["priceChangePercent"],
                "weightedAvgPrice": f["weightedAvgPrice"],
                "prevClosePrice": _d8(st.open),
                "lastPrice": f["lastPrice"],
                "lastQty": f["lastQty"],
                "bidPrice": bp,
                "bidQty": bq,
                "askPrice": ap,
                "askQty": aq,
                "openPrice": f["openPrice"],
                "highPrice": f["highPrice"],
                "lowPrice": f["lowPrice"],
                "volume": f["volume"],
                "quoteVolume": f["quoteVolume"],
                "openTime": f["openTime"],
                "closeTime": f["closeTime"],
                "firstId": f["firstId"],
                "lastId": f["lastId"],
                "count": f["count"],
            }

        return self._one_or_list(self._symbols_param(SPOT, p), p, one)

    def _spot_ticker_price(self, request: web.Request, p: Params) -> Json:
        return self._one_or_list(
            self._symbols_param(SPOT, p),
            p,
            lambda i: {"symbol": i.symbol, "price": _d8(self.engine.stats[i.key].last)},
        )

    def _spot_avg_price(self, request: web.Request, p: Params) -> Json:
        inst = self._inst(SPOT, p)
        assert inst is not None
        return {"mins": 5, "price": _d8(self.engine.book(inst).mid_price()), "closeTime": now_ms()}

    def _spot_trades(self, request: web.Request, p: Params) -> Json:
        inst = self._inst(SPOT, p)
        assert inst is not None
        limit = min(_int(p, "limit", 500) or 500, 1000)
        trades = list(self.engine.trades[inst.key])[-limit:]
        return [
            {
                "id": t.trade_id,
                "price": _d8(t.price),
                "qty": _d8(t.qty),
                "quoteQty": _d8(t.price * t.qty),
                "time": t.ts_ms,
                "isBuyerMaker": t.buyer_is_maker,
                "isBestMatch": True,
            }
            for t in trades
        ]

    def _sapi_coins(self, request: web.Request, p: Params) -> Json:
        acct = self.engine.accounts[SPOT_ACCOUNT]
        assets = sorted(
            {a for i in self.engine.instruments.values() for a in (i.base, i.quote)}
            | set(acct.balances)
        )
        out: list[Json] = []
        for a in assets:
            b = acct.balance(a)
            out.append(
                {
                    "coin": a,
                    "depositAllEnable": True,
                    "withdrawAllEnable": True,
                    "name": a,
                    "free": _d8(b.free),
                    "locked": _d8(b.locked),
                    "freeze": "0",
                    "withdrawing": "0",
                    "ipoing": "0",
                    "ipoable": "0",
                    "storage": "0",
                    "isLegalMoney": False,
                    "trading": True,
                    "networkList": [
                        {
                            "network": a,
                            "coin": a,
                            "withdrawIntegerMultiple": "0.00000001",
                            "isDefault": True,
                            "depositEnable": True,
                            "withdrawEnable": True,
                            "depositDesc": "",
                            "withdrawDesc": "",
                            "specialTips": "",
                            "name": a,
                            "resetAddressStatus": False,
                            "addressRegex": "",
                            "memoRegex": "",
                            "withdrawFee": "0",
                            "withdrawMin": "0",
                            "withdrawMax": "9999999",
                            "minConfirm": 1,
                            "unLockConfirm": 0,
                            "sameAddress": False,
                            "estimatedArrivalTime": 5,
                            "busy": False,
                            "contractAddressUrl": "",
                            "contractAddress": "",
                        }
                    ],
                }
            )
        return out

    # -- spot account and orders --------------------------------------------------------------

    def _spot_account(self, request: web.Request, p: Params) -> Json:
        acct = self.engine.accounts[SPOT_ACCOUNT]
        omit_zero = p.get("omitZeroBalances") == "true"
        balances: list[Json] = [
            {"asset": b.asset, "free": _d8(b.free), "locked": _d8(b.locked)}
            for b in acct.balances.values()
            if not (omit_zero and b.wallet == 0)
        ]
        return {
            "makerCommission": int(acct.maker_fee * 10000),
            "takerCommission": int(acct.taker_fee * 10000),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": _d8(acct.maker_fee),
                "taker": _d8(acct.taker_fee),
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": now_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    def _spot_order_args(
        self, p: Params
    ) -> tuple[
        Instrument,
        Side,
        OrderType,
        TimeInForce,
        Decimal | None,
        Decimal | None,
        Decimal | None,
        str,
    ]:
        inst = self._inst(SPOT, p)
        assert inst is not None
        side_s = (p.get("side") or "").upper()
        if not side_s:
            raise _mandatory("side")
        if side_s not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        type_s = (p.get("type") or "").upper()
        if not type_s:
            raise _mandatory("type")
        if type_s not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
            raise BinanceError(-1116, "Invalid orderType.")
        qty = _decimal(p, "quantity")
        quote_qty = _decimal(p, "quoteOrderQty")
        price = _decimal(p, "price")
        tif_s = (p.get("timeInForce") or "").upper()
        if type_s == "LIMIT":
            if not tif_s:
                raise _mandatory("timeInForce")
            if tif_s not in ("GTC", "IOC", "FOK"):
                raise BinanceError(-1115, "Invalid timeInForce.")
            if qty is None:
                raise _mandatory("quantity")
            if price is None:
                raise _mandatory("price")
            tif = _TIF_IN[tif_s]
            otype = OrderType.LIMIT
        elif type_s == "LIMIT_MAKER":
            if tif_s:
                raise BinanceError(-1106, "Parameter 'timeInForce' sent when not required.")
            if qty is None:
                raise _mandatory("quantity")
            if price is None:
                raise _mandatory("price")
            tif, otype = TimeInForce.POST_ONLY, OrderType.LIMIT
        else:
            if tif_s:
                raise BinanceError(-1106, "Parameter 'timeInForce' sent when not required.")
            if price is not None:
                raise BinanceError(-1106, "Parameter 'price' sent when not required.")
            if qty is None and quote_qty is None:
                raise BinanceError(
                    -1102,
                    "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
                )
            if qty is not None and quote_qty is not None:
                raise BinanceError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
            tif, otype = TimeInForce.IOC, OrderType.MARKET
        return inst, Side(side_s.lower()), otype, tif, qty, price, quote_qty, type_s

    @staticmethod
    def _spot_order_error(exc: OrderError) -> BinanceError:
        m = {
            "unknown_symbol": (-1121, "Invalid symbol."),
            "invalid_qty": (-1013, "Filter failure: LOT_SIZE"),
            "invalid_price": (-1013, "Filter failure: PRICE_FILTER"),
            "min_notional": (-1013, "Filter failure: NOTIONAL"),
            "insufficient_balance": (
                -2010,
                "Account has insufficient balance for requested action.",
            ),
            "post_only_would_take": (-2010, "Order would immediately match and take."),
            "duplicate_client_id": (-2010, "Duplicate order sent."),
            "no_liquidity": (
                -2010,
                "Order book liquidity is less than LOT_SIZE filter minimum quantity.",
            ),
            "unknown_order": (-2011, "Unknown order sent."),
        }
        code, msg = m.get(exc.reason, (-2010, exc.detail or exc.reason))
        return BinanceError(code, msg)

    def _spot_place(self, p: Params) -> SimOrder:
        inst, side, otype, tif, qty, price, quote_qty, type_s = self._spot_order_args(p)
        if tif is TimeInForce.POST_ONLY and self.engine._crosses(
            self.engine.book(inst), side, price
        ):
            raise BinanceError(-2010, "Order would immediately match and take.")
        cid = p.get("newClientOrderId") or None
        if cid is None:
            cid = "x-sim" + secrets.token_hex(8)
        try:
            return self.engine.place_order(
                SPOT_ACCOUNT,
                inst,
                side,
                otype,
                qty,
                price,
                tif=tif,
                client_id=cid,
                quote_qty=quote_qty,
                venue_type=type_s,
            )
        except OrderError as exc:
            raise self._spot_order_error(exc) from None

    def _spot_order_json(self, o: SimOrder, full: bool = True) -> dict[str, Json]:
        return {
            "symbol": o.symbol,
            "orderId": o.order_id,
            "orderListId": -1,
            "clientOrderId": o.client_id,
            "price": _d8(o.price or D(0)),
            "origQty": _d8(o.qty),
            "executedQty": _d8(o.filled),
            "cummulativeQuoteQty": _d8(o.cum_quote),
            "status": _STATUS[o.status],
            "timeInForce": "GTC" if o.venue_type == "LIMIT_MAKER" else _TIF_OUT[o.tif],
            "type": o.venue_type or o.type.name,
            "side": o.side.name,
        }

    def _spot_new_order(self, request: web.Request, p: Params) -> Json:
        o = self._spot_place(p)
        resp_type = (
            p.get("newOrderRespType") or ("FULL" if o.venue_type in ("LIMIT", "MARKET") else "ACK")
        ).upper()
        ack: dict[str, Json] = {
            "symbol": o.symbol,
            "orderId": o.order_id,
            "orderListId": -1,
            "clientOrderId": o.client_id,
            "transactTime": o.created_ms,
        }
        if resp_type == "ACK":
            return ack
        out = self._spot_order_json(o)
        out["transactTime"] = o.created_ms
        out["origQuoteOrderQty"] = _d8(o.quote_qty or D(0))
        out["workingTime"] = o.created_ms if o.working else -1
        out["selfTradePreventionMode"] = "EXPIRE_TAKER"
        if resp_type == "FULL":
            out["fills"] = [
                {
                    "price": _d8(f.price),
                    "qty": _d8(f.qty),
                    "commission": _d8(f.commission),
                    "commissionAsset": f.commission_asset,
                    "tradeId": f.trade_id,
                }
                for f in o.fills
            ]
        return out

    def _spot_test_order(self, request: web.Request, p: Params) -> Json:
        self._spot_order_args(p)
        return {}

    def _find_order(
        self, market: str, account: str, p: Params, missing_code: int, missing_msg: str
    ) -> SimOrder:
        inst = self._inst(market, p)
        assert inst is not None
        oid = _int(p, "orderId")
        cid = p.get("origClientOrderId") or None
        if oid is None and cid is None:
            raise BinanceError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        try:
            return self.engine.get_order(account, inst, oid, cid)
        except OrderError:
            raise BinanceError(missing_code, missing_msg) from None

    def _spot_cancel(self, request: web.Request, p: Params) -> Json:
        o = self._find_order(SPOT, SPOT_ACCOUNT, p, -2011, "Unknown order sent.")
        cancel_id = p.get("newClientOrderId") or ("x-sim" + secrets.token_hex(8))
        o.extra["cancel_client_id"] = cancel_id
        try:
            self.engine.cancel_order(SPOT_ACCOUNT, o)
        except OrderError:
            raise BinanceError(-2011, "Unknown order sent.") from None
        return self._spot_cancel_json(o, cancel_id)

    def _spot_cancel_json(self, o: SimOrder, cancel_id: str) -> dict[str, Json]:
        out = self._spot_order_json(o)
        out["origClientOrderId"] = o.client_id
        out["clientOrderId"] = cancel_id
        out["transactTime"] = o.updated_ms
        out["origQuoteOrderQty"] = _d8(o.quote_qty or D(0))
        out["selfTradePreventionMode"] = "EXPIRE_TAKER"
        return out

    def _spot_query_json(self, o: SimOrder) -> dict[str, Json]:
        out = self._spot_order_json(o)
        out.update(
            {
                "stopPrice": "0.00000000",
                "icebergQty": "0.00000000",
                "time": o.created_ms,
                "updateTime": o.updated_ms,
                "isWorking": o.working,
                "workingTime": o.created_ms if o.working else -1,
                "origQuoteOrderQty": _d8(o.quote_qty or D(0)),
                "selfTradePreventionMode": "EXPIRE_TAKER",
            }
        )
        return out

    def _spot_query(self, request: web.Request, p: Params) -> Json:
        return self._spot_query_json(
            self._find_order(SPOT, SPOT_ACCOUNT, p, -2013, "Order does not exist.")
        )

    def _spot_open_orders(self, request: web.Request, p: Params) -> Json:
        inst = self._inst(SPOT, p, required=False)
        return [self._spot_query_json(o) for o in self.engine.open_orders(SPOT_ACCOUNT, inst)]

    def _spot_cancel_all(self, request: web.Request, p: Params) -> Json:
        inst = self._inst(SPOT, p)
        assert inst is not None
        orders = self.engine.open_orders(SPOT_ACCOUNT, inst)
        if not orders:
            raise BinanceError(-2011, "Unknown order sent.")
        out: list[Json] = []
        for o in orders:
            cid = "x-sim" + secrets.token_hex(8)
            o.extra["cancel_client_id"] = cid
            self.engine.cancel_order(SPOT_ACCOUNT, o)
            out.append(self._spot_cancel_json(o, cid))
        return out

    def _spot_my_trades(self, request: web.Request, p: Params) -> Json:
        inst = self._inst(SPOT, p)
        assert inst is not None
        oid = _int(p, "orderId")
        from_id = _int(p, "fromId")
        start, end = _int(p, "startTime"), _int(p, "endTime")
        limit = min(_int(p, "limit", 500) or 500, 1000)
        out: list[Json] = []
        for o, f in self.engine.my_fills.get(SPOT_ACCOUNT, []):
            if o.instrument is not inst or (oid is not None and o.order_id != oid):
                continue
            if (
                (from_id is not None and f.trade_id < from_id)
                or (start is not None and f.ts_ms < start)
                or (end is not None and f.ts_ms > end)
            ):
                continue
            out.append(
                {
                    "symbol": inst.symbol,
                    "id": f.trade_id,
                    "orderId": o.order_id,
                    "orderListId": -1,
                    "price": _d8(f.price),
                    "qty": _d8(f.qty),
                    "quoteQty": _d8(f.quote_qty),
                    "commission": _d8(f.commission),
                    "commissionAsset": f.commission_asset,
                    "time": f.ts_ms,
                    "isBuyer": o.side is Side.BUY,
                    "isMaker": f.is_maker,
                    "isBestMatch": True,
                }
            )
        return out[:limit] if from_id is not None else out[-limit:]

    # -- USD-M market data --------------------------------------------------------------------

    def _fut_exchange_info(self, request: web.Request, p: Params) -> Json:
        symbols: list[Json] = []
        for inst in self.engine.market_instruments(FUT):
            symbols.append(
                {
                    "symbol": inst.symbol,
                    "pair": inst.symbol,
                    "contractType": "PERPETUAL",
                    "deliveryDate": 4133404800000,
                    "onboardDate": 1569398400000,
                    "status": "TRADING",
                    "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000",
                    "baseAsset": inst.base,
                    "quoteAsset": inst.quote,
                    "marginAsset": inst.settle,
                    "pricePrecision": inst.price_decimals,
                    "quantityPrecision": inst.qty_decimals,
                    "baseAssetPrecision": 8,
                    "quotePrecision": 8,
                    "underlyingType": "COIN",
                    "underlyingSubType": ["PoW"] if inst.base == "BTC" else ["Layer-1"],
                    "settlePlan": 0,
                    "triggerProtect": "0.0500",
                    "liquidationFee": "0.012500",
                    "marketTakeBound": "0.05",
                    "maxMoveOrderLimit": 10000,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": format(inst.tick_size * 10, "f"),
                            "maxPrice": "4529764",
                            "tickSize": format(inst.tick_size, "f"),
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": _plain(inst.min_qty),
                            "maxQty": _plain(inst.max_qty),
                            "stepSize": _plain(inst.step_size),
                        },
                        {
                            "filterType": "MARKET_LOT_SIZE",
                            "minQty": _plain(inst.min_qty),
                            "maxQty": _plain(inst.max_qty),
                            "stepSize": _plain(inst.step_size),
                        },
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                        {"filterType": "MIN_NOTIONAL", "notional": _plain(inst.min_notional)},
                        {
                            "filterType": "PERCENT_PRICE",
                            "multiplierUp": "1.0500",
                            "multiplierDown": "0.9500",
                            "multiplierDecimal": "4",
                        },
                    ],
                    "orderTypes": ["LIMIT", "MARKET"],
                    "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
                    "permissionSets": ["GRID", "COPY"],
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": now_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.futures_weight.limit,
                },
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
            ],
            "exchangeFilters": [],
            "assets": [
                {"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"},
                {"asset": "BNB", "marginAvailable": True, "autoAssetExchange": "-0.00100000"},
            ],
            "symbols": symbols,
        }

    def _fut_depth(self, request: web.Request, p: Params) -> Json:
        inst = self._inst(FUT, p)
        assert inst is not None
        limit = _int(p, "limit", 500) or 500
        if limit not in (5, 10, 20, 50, 100, 500, 1000):
            limit = min(max(limit, 5), 1000)
        uid, bids, asks = self.engine.book(inst).snapshot(limit)
        now = now_ms()
        return {
            "lastUpdateId": uid,
            "E": now,
            "T": now,
            "bids": self._levels(inst, bids, False),
            "asks": self._levels(inst, asks, False),
        }

    def _fut_book_ticker(self, request: web.Request, p: Params) -> Json:
        def one(inst: Instrument) -> Json:
            bp, bq, ap, aq = self._bbo(inst)
            return {
                "symbol": inst.symbol,
                "bidPrice": bp,
                "bidQty": bq,
                "askPrice": ap,
                "askQty": aq,
                "time": now_ms(),
                "lastUpdateId": self.engine.book(inst).update_id,
            }

        return self._one_or_list(self._symbols_param(FUT, p), p, one)

    def _fut_ticker_24h(self, request: web.Request, p: Params) -> Json:
        def one(inst: Instrument) -> Json:
            out: dict[str, Json] = {"symbol": inst.symbol}
            out.update(self._ticker_fields(inst))
            return out

        return self._one_or_list(self._symbols_param(FUT, p), p, one)

    def _fut_ticker_price(self, request: web.Request, p: Params) -> Json:
        return self._one_or_list(
            self._symbols_param(FUT, p),
            p,
            lambda i: {
                "symbol": i.symbol,
                "price": self._px(i, self.engine.stats[i.key].last),
                "time": now_ms(),
            },
        )

    def _next_funding_ms(self) -> int:
        eight_h = 8 * 3600 * 1000
        return (now_ms() // eight_h + 1) * eight_h

    def _fut_premium_index(self, request: web.Request, p: Params) -> Json:
        def one(inst: Instrument) -> Json:
            mark = self.engine.mark_price(inst)
            return {
                "symbol": inst.symbol,
                "markPrice": _d8(mark),
                "indexPrice": _d8(mark),
                "estimatedSettlePrice": _d8(mark),
                "lastFundingRate": _d8(self.engine.funding_rate),
                "interestRate": "0.00010000",
                "nextFundingTime": self._next_funding_ms(),
                "time": now_ms(),
            }

        return self._one_or_list(self._symbols_param(FUT, p), p, one)

    def _fut_trades(self, request: web.Request, p: Params) -> Json:
        inst = self._inst(FUT, p)
        assert inst is not None
        limit = min(_int(p, "limit", 500) or 500, 1000)
        return [
            {
                "id": t.trade_id,
                "price": self._px(inst, t.price),
                "qty": self._qty(inst, t.qty),
                "quoteQty": _dp(t.price * t.qty, 2),
                "time": t.ts_ms,
                "isBuyerMaker": t.buyer_is_maker,
            }
            for t in list(self.engine.trades[inst.key])[-limit:]
        ]

    # -- USD-M account ------------------------------------------------------------------------

    def _fut_asset_json(self, asset: str) -> dict[str, Json]:
        acct = self.engine.accounts[FUT_ACCOUNT]
        b = acct.balance(asset)
        upnl = self.engine.unrealized(acct, asset)
        pos_im, ord_im = self.engine.margin_used(acct, asset)
        maint = pos_im * D("0.1")
        avail = self.engine.available(acct, asset)
        return {
            "asset": asset,
            "walletBalance": _d8(b.wallet),
            "unrealizedProfit": _d8(upnl),
            "marginBalance": _d8(b.wallet + upnl),
            "maintMargin": _d8(maint),
            "initialMargin": _d8(pos_im + ord_im),
            "positionInitialMargin": _d8(pos_im),
            "openOrderInitialMargin": _d8(ord_im),
            "crossWalletBalance": _d8(b.wallet),
            "crossUnPnl": _d8(upnl),
            "availableBalance": _d8(avail),
            "maxWithdrawAmount": _d8(max(D(0), min(avail, b.wallet))),
            "marginAvailable": True,
            "updateTime": now_ms(),
        }

    def _fut_totals(self) -> dict[str, Json]:
        a = self._fut_asset_json("USDT")
        return {
            "totalInitialMargin": a["initialMargin"],
            "totalMaintMargin": a["maintMargin"],
            "totalWalletBalance": a["walletBalance"],
            "totalUnrealizedProfit": a["unrealizedProfit"],
            "totalMarginBalance": a["marginBalance"],
            "totalPositionInitialMargin": a["positionInitialMargin"],
            "totalOpenOrderInitialMargin": a["openOrderInitialMargin"],
            "totalCrossWalletBalance": a["crossWalletBalance"],
            "totalCrossUnPnl": a["crossUnPnl"],
            "availableBalance": a["availableBalance"],
            "maxWithdrawAmount": a["maxWithdrawAmount"],
        }

    def _pos_numbers(
        self, inst: Instrument
    ) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal, int, Decimal, int]:
        acct = self.engine.accounts[FUT_ACCOUNT]
        pos = acct.position(inst)
        mark = self.engine.mark_price(inst)
        notional = pos.qty * mark
        im = pos.initial_margin(mark)
        return (
            pos.qty,
            pos.entry_price,
            mark,
            pos.unrealized(mark),
            notional,
            pos.leverage,
            im,
            pos.updated_ms,
        )

    def _fut_account_v2(self, request: web.Request, p: Params) -> Json:
        out: dict[str, Json] = {
            "feeTier": 0,
            "feeBurn": True,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
        }
        out.update(self._fut_totals())
        out["assets"] = [
            self._fut_asset_json(a) for a in self.engine.accounts[FUT_ACCOUNT].balances
        ]
        positions: list[Json] = []
        for inst in self.engine.market_instruments(FUT):
            qty, entry, mark, upnl, notional, lev, im, upd = self._pos_numbers(inst)
            positions.append(
                {
                    "symbol": inst.symbol,
                    "initialMargin": _d8(im),
                    "maintMargin": _d8(im * D("0.1")),
                    "unrealizedProfit": _d8(upnl),
                    "positionInitialMargin": _d8(im),
                    "openOrderInitialMargin": "0",
                    "leverage": str(lev),
                    "isolated": False,
                    "entryPrice": _plain(entry) if entry else "0.0",
                    "breakEvenPrice": _plain(entry) if entry else "0.0",
                    "maxNotional": "1000000",
                    "bidNotional": "0",
                    "askNotional": "0",
                    "positionSide": "BOTH",
                    "positionAmt": self._qty(inst, qty),
                    "updateTime": upd,
                }
            )
        out["positions"] = positions
        return out

    def _fut_account_v3(self, request: web.Request, p: Params) -> Json:
        out: dict[str, Json] = {}
        out.update(self._fut_totals())
        out["assets"] = [
            self._fut_asset_json(a) for a in self.engine.accounts[FUT_ACCOUNT].balances
        ]
        positions: list[Json] = []
        for inst in self.engine.market_instruments(FUT):
            qty, entry, mark, upnl, notional, lev, im, upd = self._pos_numbers(inst)
            if qty == 0:
                continue
            positions.append(
                {
                    "symbol": inst.symbol,
                    "positionSide": "BOTH",
                    "positionAmt": self._qty(inst, qty),
                    "unrealizedProfit": _d8(upnl),
                    "isolatedMargin": "0",
                    "notional": _d8(notional),
                    "isolatedWallet": "0",
                    "initialMargin": _d8(im),
                    "maintMargin": _d8(im * D("0.1")),
                    "updateTime": upd,
                }
            )
        out["positions"] = positions
        return out

    def _fut_balance(self, request: web.Request, p: Params) -> Json:
        out: list[Json] = []
        for asset in self.engine.accounts[FUT_ACCOUNT].balances:
            a = self._fut_asset_json(asset)
            out.append(
                {
                    "accountAlias": "SgsR",
                    "asset": asset,
                    "balance": a["walletBalance"],
                    "crossWalletBalance": a["crossWalletBalance"],
                    "crossUnPnl": a["crossUnPnl"],
                    "availableBalance": a["availableBalance"],
                    "maxWithdrawAmount": a["maxWithdrawAmount"],
                    "marginAvailable": True,
                    "updateTime": a["updateTime"],
                }
            )
        return out

    def _liq_price(self, inst: Instrument, qty: Decimal, entry: Decimal) -> Decimal:
        if qty == 0:
            return D(0)
        wallet = self.engine.accounts[FUT_ACCOUNT].balance(inst.settle).wallet
        liq = entry - wallet / qty  # cross margin, ignoring maintenance margin: good enough
        return max(D(0), liq).quantize(inst.tick_size)

    def _fut_position_risk_v2(self, request: web.Request, p: Params) -> Json:
        insts = self._symbols_param(FUT, p)
        out: list[Json] = []
        for inst in insts:
            qty, entry, mark, upnl, notional, lev, im, upd = self._pos_numbers(inst)
            out.append(
                {
                    "entryPrice": _plain(entry) if entry else "0.0",
                    "breakEvenPrice": _plain(entry) if entry else "0.0",
                    "marginType": "cross",
                    "isAutoAddMargin": "false",
                    "isolatedMargin": "0.00000000",
                    "leverage": str(lev),
                    "liquidationPrice": _plain(self._liq_price(inst, qty, entry)),
                    "markPrice": _d8(mark),
                    "maxNotionalValue": "1000000",
                    "positionAmt": self._qty(inst, qty),
                    "notional": _d8(notional),
                    "isolatedWallet": "0",
                    "symbol": inst.symbol,
                    "unRealizedProfit": _d8(upnl),
                    "positionSide": "BOTH",
                    "updateTime": upd,
                }
            )
        return out

    def _fut_position_risk_v3(self, request: web.Request, p: Params) -> Json:
        insts = self._symbols_param(FUT, p)
        out: list[Json] = []
        for inst in insts:
            qty, entry, mark, upnl, notional, lev, im, upd = self._pos_numbers(inst)
            if qty == 0 and not self.engine.open_orders(FUT_ACCOUNT, inst):
                continue
            out.append(
                {
                    "symbol": inst.symbol,
                    "positionSide": "BOTH",
                    "positionAmt": self._qty(inst, qty),
                    "entryPrice": _plain(entry) if entry else "0.0",
                    "breakEvenPrice": _plain(entry) if entry else "0.0",
                    "markPrice": _d8(mark),
                    "unRealizedProfit": _d8(upnl),
                    "liquidationPrice": _plain(self._liq_price(inst, qty, entry)),
                    "isolatedMargin": "0",
                    "notional": _d8(notional),
                    "marginAsset": inst.settle,
                    "isolatedWallet": "0",
                    "initialMargin": _d8(im),
                    "maintMargin": _d8(im * D("0.1")),
                    "positionInitialMargin": _d8(im),
                    "openOrderInitialMargin": "0",
                    "adl": 0,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "updateTime": upd,
                }
            )
        return out

    def _fut_leverage(self, request: web.Request, p: Params) -> Json:
        inst = self._inst(FUT, p)
        assert inst is not None
        lev = _int(p, "leverage")
        if lev is None:
            raise _mandatory("leverage")
        if not 1 <= lev <= 125:
            raise BinanceError(-4028, f"Leverage {lev} is not valid")
        self.engine.set_leverage(FUT_ACCOUNT, inst, lev)
        return {"leverage": lev, "maxNotionalValue": "1000000", "symbol": inst.symbol}

    _BRACKETS: ClassVar[list[dict[str, int | float]]] = [
        {
            "bracket": 1,
            "initialLeverage": 125,
            "notionalCap": 50000,
            "notionalFloor": 0,
            "maintMarginRatio": 0.004,
            "cum": 0.0,
        },
        {
            "bracket": 2,
            "initialLeverage": 100,
            "notionalCap": 600000,
            "notionalFloor": 50000,
            "maintMarginRatio": 0.005,
            "cum": 50.0,
        },
        {
            "bracket": 3,
            "initialLeverage": 75,
            "notionalCap": 3000000,
            "notionalFloor": 600000,
            "maintMarginRatio": 0.0065,
            "cum": 950.0,
        },
        {
            "bracket": 4,
            "initialLeverage": 50,
            "notionalCap": 12000000,
            "notionalFloor": 3000000,
            "maintMarginRatio": 0.01,
            "cum": 11450.0,
        },
    ]

    def _fut_brackets(self, request: web.Request, p: Params) -> Json:
        def one(inst: Instrument) -> Json:
            return {
                "symbol": inst.symbol,
                "notionalCoef": 1.0,
                "brackets": [dict(b) for b in self._BRACKETS],
            }

        return self._one_or_list(self._symbols_param(FUT, p), p, one)

    # -- USD-M orders -------------------------------------------------------------------------

    def _fut_order_error(self, exc: OrderError, inst: Instrument | None) -> BinanceError:
        if exc.reason == "min_notional" and inst is not None:
            return BinanceError(
                -4164,
                f"Order's notional must be no smaller than {_plain(inst.min_notional)} "
                "(unless you choose reduce only).",
            )
        m = {
            "unknown_symbol": (-1121, "Invalid symbol."),
            "invalid_qty": (-1111, "Precision is over the maximum defined for this asset."),
            "invalid_price": (-4014, "Price not increased by tick size."),
            "insufficient_balance": (-2019, "Margin is insufficient."),
            "reduce_only": (-2022, "ReduceOnly Order is rejected."),
            "duplicate_client_id": (-4116, "ClientOrderId is duplicated."),
            "post_only_would_take": (
                -5022,
                "Due to the order could not be executed as maker, the Post Only order will be "
                "rejected. The order will not be recorded in the order history",
            ),
            "no_liquidity": (-2010, "Order would immediately trigger."),
            "unknown_order": (-2011, "Unknown order sent."),
        }
        code, msg = m.get(exc.reason, (-2010, exc.detail or exc.reason))
        return BinanceError(code, msg)

    def _fut_place(self, p: Params) -> SimOrder:
        inst = self._inst(FUT, p)
        assert inst is not None
        side_s = (p.get("side") or "").upper()
        if not side_s:
            raise _mandatory("side")
        if side_s not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        type_s = (p.get("type") or "").upper()
        if not type_s:
            raise _mandatory("type")
        if type_s not in ("LIMIT", "MARKET"):
            raise BinanceError(-1116, "Invalid orderType.")
        ps = (p.get("positionSide") or "BOTH").upper()
        if ps != "BOTH":
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        qty = _decimal(p, "quantity", required=True)
        price = _decimal(p, "price")
        reduce_only = (p.get("reduceOnly") or "false").lower() == "true"
        side = Side(side_s.lower())
        if type_s == "LIMIT":
            tif_s = (p.get("timeInForce") or "").upper()
            if not tif_s:
                raise _mandatory("timeInForce")
            if tif_s not in _TIF_IN:
                raise BinanceError(-1115, "Invalid timeInForce.")
            if price is None:
                raise _mandatory("price")
            tif, otype = _TIF_IN[tif_s], OrderType.LIMIT
        else:
            tif, otype = TimeInForce.GTC, OrderType.MARKET
            price = None
        if tif is TimeInForce.POST_ONLY and self.engine._crosses(
            self.engine.book(inst), side, price
        ):
            e = self._fut_order_error(OrderError("post_only_would_take"), inst)
            raise e
        cid = p.get("newClientOrderId") or ("x-sim" + secrets.token_hex(8))
        try:
            return self.engine.place_order(
                FUT_ACCOUNT,
                inst,
                side,
                otype,
                qty,
                price,
                tif=tif,
                client_id=cid,
                reduce_only=reduce_only,
                venue_type=type_s,
            )
        except OrderError as exc:
            raise self._fut_order_error(exc, inst) from None

    def _fut_order_json(
        self, o: SimOrder, *, ack: bool = False, query: bool = False
    ) -> dict[str, Json]:
        inst = o.instrument
        status = (
            "NEW"
            if ack
            else ("EXPIRED" if o.status is OrderStatus.EXPIRED_IN_MATCH else _STATUS[o.status])
        )
        filled = D(0) if ack else o.filled
        cum = D(0) if ack else o.cum_quote
        avg = D(0) if ack or not o.filled else o.avg_price
        out: dict[str, Json] = {
            "orderId": o.order_id,
            "symbol": o.symbol,
            "status": status,
            "clientOrderId": o.client_id,
            "price": self._px(inst, o.price or D(0)),
            "avgPrice": _dp(avg, max(inst.price_decimals, 5)),
            "origQty": self._qty(inst, o.qty),
            "executedQty": self._qty(inst, filled),
            "cumQuote": _dp(cum, 5),
            "timeInForce": _TIF_OUT[o.tif],
            "type": o.venue_type,
            "reduceOnly": o.reduce_only,
            "closePosition": False,
            "side": o.side.name,
            "positionSide": "BOTH",
            "stopPrice": self._px(inst, D(0)),
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": o.venue_type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "goodTillDate": 0,
            "updateTime": o.created_ms if ack else o.updated_ms,
        }
        if query:
            out["time"] = o.created_ms
        else:
            out["cumQty"] = out["executedQty"]
        return out

    def _fut_new_order(self, request: web.Request, p: Params) -> Json:
        o = self._fut_place(p)
        ack = (p.get("newOrderRespType") or "ACK").upper() != "RESULT"
        return self._fut_order_json(o, ack=ack)

    def _fut_cancel(self, request: web.Request, p: Params) -> Json:
        o = self._find_order(FUT, FUT_ACCOUNT, p, -2011, "Unknown order sent.")
        try:
            self.engine.cancel_order(FUT_ACCOUNT, o)
        except OrderError:
            raise BinanceError(-2011, "Unknown order sent.") from None
        return self._fut_order_json(o)

    def _fut_query(self, request: web.Request, p: Params) -> Json:
        return self._fut_order_json(
            self._find_order(FUT, FUT_ACCOUNT, p, -2013, "Order does not exist."), query=True
        )

    def _fut_open_orders(self, request: web.Request, p: Params) -> Json:
        inst = self._inst(FUT, p, required=False)
        return [
            self._fut_order_json(o, query=True) for o in self.engine.open_orders(FUT_ACCOUNT, inst)
        ]

    def _fut_cancel_all(self, request: web.Request, p: Params) -> Json:
        inst = self._inst(FUT, p)
        assert inst is not None
        self.engine.cancel_all(FUT_ACCOUNT, inst)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def _fut_user_trades(self, request: web.Request, p: Params) -> Json:
        inst = self._inst(FUT, p)
        assert inst is not None
        limit = min(_int(p, "limit", 500) or 500, 1000)
        oid = _int(p, "orderId")
        out: list[Json] = []
        for o, f in self.engine.my_fills.get(FUT_ACCOUNT, []):
            if o.instrument is not inst or (oid is not None and o.order_id != oid):
                continue
            out.append(
                {
                    "buyer": o.side is Side.BUY,
                    "commission": _d8(f.commission),
                    "commissionAsset": f.commission_asset,
                    "id": f.trade_id,
                    "maker": f.is_maker,
                    "orderId": o.order_id,
                    "price": self._px(inst, f.price),
                    "qty": self._qty(inst, f.qty),
                    "quoteQty": _d8(f.quote_qty),
                    "realizedPnl": _d8(f.realized_pnl),
                    "side": o.side.name,
                    "positionSide": "BOTH",
                    "symbol": inst.symbol,
                    "time": f.ts_ms,
                }
            )
        return out[-limit:]

    # -- USD-M listenKey ----------------------------------------------------------------------

    def _live_key(self) -> str | None:
        now = time.monotonic()
        for k, exp in self._listen_keys.items():
            if exp > now:
                return k
        return None

    def _lk_create(self, request: web.Request, p: Params) -> Json:
        if self.faults.take_reject_auth():  # the USD-M user stream's login: an armed refusal
            self.stats.auth_failures += 1
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        key = self._live_key() or secrets.token_hex(32)
        self._listen_keys[key] = time.monotonic() + self.listen_key_ttl_s
        return {"listenKey": key}

    def _lk_keepalive(self, request: web.Request, p: Params) -> Json:
        key = p.get("listenKey") or self._live_key()
        if not key or key not in self._listen_keys or self._listen_keys[key] <= time.monotonic():
            raise BinanceError(-1125, "This listenKey does not exist.")
        self._listen_keys[key] = time.monotonic() + self.listen_key_ttl_s
        return {"listenKey": key}

    def _lk_delete(self, request: web.Request, p: Params) -> Json:
        key = p.get("listenKey") or self._live_key()
        if key:
            self._listen_keys.pop(key, None)
        return {}

    def expire_listen_key(self, key: str | None = None) -> int:
        """Expire a listenKey now (every key if None): connections using it get
        `listenKeyExpired` and no further events. Returns the number of notified sockets."""
        keys = [key] if key else list(self._listen_keys)
        n = 0
        for k in keys:
            self._listen_keys.pop(k, None)
            ev: Json = {"e": "listenKeyExpired", "E": now_ms(), "listenKey": k}
            for conn in self.connections("futures-private"):
                lks = conn.data.get("listen_keys")
                if isinstance(lks, dict) and k in lks:
                    allowed = lks[k]
                    if allowed is None or "listenKeyExpired" in allowed:
                        self._send_stream(conn, k, ev)
                        n += 1
                    lks[k] = frozenset()  # dead: deliver nothing more
        return n

    def tick(self) -> None:
        """Advance the price process, and expire listenKeys past their validity."""
        super().tick()
        now = time.monotonic()
        for k, exp in list(self._listen_keys.items()):
            if exp <= now:
                self.expire_listen_key(k)

    # -- streams: connection handling ---------------------------------------------------------

    @staticmethod
    def _send_stream(conn: SimConnection, stream: str, data: Json) -> None:
        if conn.data.get("combined"):
            conn.send({"stream": stream, "data": data})
        else:
            conn.send(data)

    def _stream_request(self, conn: SimConnection, text: str) -> None:
        """SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY."""
        try:
            msg = json.loads(text)
        except ValueError:
            conn.send({"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"})
            return
        if not isinstance(msg, dict):
            conn.send({"code": 2, "msg": "Invalid request: request must be a JSON object"})
            return
        rid = msg.get("id")
        if not (isinstance(rid, int) and rid >= 0) and not isinstance(rid, str) and rid is not None:
            conn.send({"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"})
            return
        method = msg.get("method")
        params = msg.get("params") or []
        if method == "SUBSCRIBE" or method == "UNSUBSCRIBE":
            if not isinstance(params, list) or not all(isinstance(s, str) for s in params):
                conn.send(
                    {"code": 2, "msg": "Invalid request: invalid value type for params", "id": rid}
                )
                return
            for s in params:
                if method == "SUBSCRIBE":
                    conn.subscriptions.add(s)
                else:
                    conn.subscriptions.discard(s)
            conn.send({"result": None, "id": rid})
        elif method == "LIST_SUBSCRIPTIONS":
            subscribed: list[Json] = [*sorted(conn.subscriptions)]
            conn.send({"result": subscribed, "id": rid})
        elif method == "SET_PROPERTY":
            if not (isinstance(params, list) and len(params) == 2 and params[0] == "combined"):
                conn.send({"code": 0, "msg": "Unknown property", "id": rid})
            elif not isinstance(params[1], bool):
                conn.send({"code": 1, "msg": "Invalid value type: expected Boolean", "id": rid})
            else:
                conn.data["combined"] = params[1]
                conn.send({"result": None, "id": rid})
        elif method == "GET_PROPERTY":
            if params == ["combined"]:
                conn.send({"result": bool(conn.data.get("combined")), "id": rid})
            else:
                conn.send({"code": 0, "msg": "Unknown property", "id": rid})
        else:
            conn.send(
                {
                    "code": 2,
                    "msg": f"Invalid request: unknown variant `{method}`, expected one of "
                    "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, "
                    "`GET_PROPERTY` at line 1 column 28",
                    "id": rid,
                }
            )

    @staticmethod
    def _initial_streams(request: web.Request) -> tuple[list[str], bool]:
        tail = request.match_info.get("tail", "")
        if request.path.endswith("/stream"):
            raw = request.query.get("streams", "")
            return [s for s in raw.split("/") if "@" in s or s.startswith("!")], True
        # ccxt opens /ws/<n> and then SUBSCRIBEs: a name that is no stream subscribes nothing
        return [s for s in tail.split("/") if "@" in s or s.startswith("!")], False

    async def _spot_stream(self, request: web.Request) -> web.StreamResponse:
        streams, combined = self._initial_streams(request)
        async with self.websocket(request, "spot-stream") as conn:
            conn.data["combined"] = combined
            conn.subscriptions.update(streams)
            async for text in conn:
                self._stream_request(conn, text)
        return conn.ws

    async def _fut_stream(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.split("/")
        route = (
            parts[2] if len(parts) > 2 and parts[2] in ("public", "market", "private") else "public"
        )
        streams, combined = self._initial_streams(request)
        kind = f"futures-{route}"
        async with self.websocket(request, kind) as conn:
            conn.data["combined"] = combined
            if route == "private":
                keys = request.query.getall("listenKey", [])
                events = request.query.getall("events", [])
                lks: dict[str, frozenset[str] | None] = {}
                for i, k in enumerate(keys):
                    ev = events[i] if i < len(events) else None
                    lks[k] = frozenset(ev.split("/")) if ev else None
                tail = request.match_info.get("tail", "")
                for s in tail.split("/"):  # the /private/ws/<listenKey> form
                    if s:
                        lks.setdefault(s, None)
                conn.data["listen_keys"] = lks
            else:
                conn.subscriptions.update(streams)
            async for text in conn:
                self._stream_request(conn, text)
        return conn.ws

    # -- streams: event fan-out ---------------------------------------------------------------

    _FUT_PUBLIC = ("depth", "bookTicker", "trade")
    _FUT_MARKET = ("aggTrade", "markPrice", "ticker", "miniTicker", "kline")

    @staticmethod
    def _parse_stream(name: str) -> tuple[str, str, str]:
        """("btcusdt", "depth", "@100ms"|"5"|...) for a stream name; kind "" if unknown."""
        sym, _, rest = name.partition("@")
        kind, _, arg = rest.partition("@")
        if kind.startswith("depth") and kind != "depth":
            levels = kind[5:]
            return sym.lower(), "partial", levels
        if kind.startswith("kline_"):
            return sym.lower(), "kline", kind[6:]
        return sym.lower(), kind, arg

    def _targets(self, inst: Instrument) -> list[tuple[SimConnection, str, str, str]]:
        """(conn, stream name, kind, arg) for every subscription of `inst` allowed on its path."""
        out = []
        sym = inst.symbol.lower()
        if inst.market == SPOT:
            conns = self.connections("spot-stream")
        else:
            conns = self.connections("futures-public") + self.connections("futures-market")
        for conn in conns:
            for name in list(conn.subscriptions):
                s, kind, arg = self._parse_stream(name)
                if s != sym:
                    continue
                if inst.market == FUT:
                    allowed = (
                        self._FUT_PUBLIC + ("partial",)
                        if conn.kind == "futures-public"
                        else self._FUT_MARKET
                    )
                    if kind not in allowed:
                        continue  # wrong route: silent, as Binance is
                out.append((conn, name, kind, arg))
        return out

    def on_event(self, event: SimEvent) -> None:
        """Engine event -> Binance frames on the subscribed sockets."""
        if isinstance(event, BookUpdate):
            self._on_book(event)
        elif isinstance(event, TradeUpdate):
            self._on_trade(event)
        elif isinstance(event, TickerUpdate):
            self._on_ticker(event)
        elif isinstance(event, OrderUpdate):
            if event.order.account == SPOT_ACCOUNT:
                self._user_spot(self._execution_report(event))
            else:
                self._user_fut("ORDER_TRADE_UPDATE", self._order_trade_update(event))
        elif isinstance(event, AccountUpdate):
            if event.account.name == SPOT_ACCOUNT:
                for asset, delta in event.deltas.items():
                    self._user_spot(
                        {
                            "e": "balanceUpdate",
                            "E": event.ts_ms,
                            "a": asset,
                            "d": _d8(delta),
                            "T": event.ts_ms,
                        }
                    )
                self._user_spot(self._outbound_account_position(event))
            else:
                self._user_fut("ACCOUNT_UPDATE", self._account_update(event))

    def _on_book(self, up: BookUpdate) -> None:
        inst = up.instrument
        spot = inst.market == SPOT
        book = self.engine.book(inst)
        cache: dict[str, Json] = {}
        bbo = (book.best(True), book.best(False))
        bbo_changed = self._last_bbo.get(inst.key) != bbo
        self._last_bbo[inst.key] = bbo
        for conn, name, kind, arg in self._targets(inst):
            if kind == "depth":
                key = "diff"
                if key not in cache:
                    d: dict[str, Json] = {"e": "depthUpdate", "E": up.ts_ms}
                    if not spot:
                        d["T"] = up.ts_ms
                    d["s"] = inst.symbol
                    d["U"] = up.first_id
                    d["u"] = up.last_id
                    if not spot:
                        d["pu"] = up.prev_id
                    d["b"] = self._levels(inst, up.bids, spot)
                    d["a"] = self._levels(inst, up.asks, spot)
                    cache[key] = d
                self._send_stream(conn, name, cache[key])
            elif kind == "partial":
                try:
                    n = int(arg)
                except ValueError:
                    continue
                if n not in (5, 10, 20):
                    continue
                key = f"partial{n}"
                if key not in cache:
                    _, bids, asks = book.snapshot(n)
                    if spot:
                        cache[key] = {
                            "lastUpdateId": up.last_id,
                            "bids": self._levels(inst, bids, True),
                            "asks": self._levels(inst, asks, True),
                        }
                    else:
                        cache[key] = {
                            "e": "depthUpdate",
                            "E": up.ts_ms,
                            "T": up.ts_ms,
                            "s": inst.symbol,
                            "U": up.first_id,
                            "u": up.last_id,
                            "pu": up.prev_id,
                            "b": self._levels(inst, bids, False),
                            "a": self._levels(inst, asks, False),
                        }
                self._send_stream(conn, name, cache[key])
            elif kind == "bookTicker" and bbo_changed:
                if "bbo" not in cache:
                    bp, bq, ap, aq = self._bbo(inst)
                    if spot:
                        cache["bbo"] = {
                            "u": up.last_id,
                            "s": inst.symbol,
                            "b": bp,
                            "B": bq,
                            "a": ap,
                            "A": aq,
                        }
                    else:
                        cache["bbo"] = {
                            "e": "bookTicker",
                            "u": up.last_id,
                            "s": inst.symbol,
                            "b": bp,
                            "B": bq,
                            "a": ap,
                            "A": aq,
                            "T": up.ts_ms,
                            "E": up.ts_ms,
                        }
                self._send_stream(conn, name, cache["bbo"])

    def _on_trade(self, ev: TradeUpdate) -> None:
        inst, t = ev.instrument, ev.trade
        spot = inst.market == SPOT
        now = now_ms()
        for conn, name, kind, _arg in self._targets(inst):
            if kind == "trade":
                d: dict[str, Json] = {
                    "e": "trade",
                    "E": now,
                    "s": inst.symbol,
                    "t": t.trade_id,
                    "p": self._px(inst, t.price),
                    "q": self._qty(inst, t.qty),
                    "T": t.ts_ms,
                    "m": t.buyer_is_maker,
                }
                if spot:
                    d["M"] = True
                else:
                    d["X"] = "MARKET"
                self._send_stream(conn, name, d)
            elif kind == "aggTrade":
                d = {
                    "e": "aggTrade",
                    "E": now,
                    "s": inst.symbol,
                    "a": t.trade_id,
                    "p": self._px(inst, t.price),
                    "q": self._qty(inst, t.qty),
                }
                if not spot:  # USD-M: the quantity without RPI orders (the sim has none)
                    d["nq"] = d["q"]
                d |= {
                    "f": t.trade_id,
                    "l": t.trade_id,
                    "T": t.ts_ms,
                    "m": t.buyer_is_maker,
                }
                if spot:
                    d["M"] = True
                self._send_stream(conn, name, d)

    def _on_ticker(self, ev: TickerUpdate) -> None:
        inst = ev.instrument
        spot = inst.market == SPOT
        targets = self._targets(inst)
        if not targets:
            return
        cache: dict[str, Json] = {}
        for conn, name, kind, arg in targets:
            if kind == "ticker":
                if "ticker" not in cache:
                    f = self._ticker_fields(inst)
                    d: dict[str, Json] = {
                        "e": "24hrTicker",
                        "E": ev.ts_ms,
                        "s": inst.symbol,
                        "p": f["priceChange"],
                        "P": f["priceChangePercent"],
                        "w": f["weightedAvgPrice"],
                    }
                    if spot:
                        bp, bq, ap, aq = self._bbo(inst)
                        d.update(
                            {
                                "x": f["openPrice"],
                                "c": f["lastPrice"],
                                "Q": f["lastQty"],
                                "b": bp,
                                "B": bq,
                                "a": ap,
                                "A": aq,
                            }
                        )
                    else:
                        d.update({"c": f["lastPrice"], "Q": f["lastQty"]})
                    d.update(
                        {
                            "o": f["openPrice"],
                            "h": f["highPrice"],
                            "l": f["lowPrice"],
                            "v": f["volume"],
                            "q": f["quoteVolume"],
                            "O": f["openTime"],
                            "C": f["closeTime"],
                            "F": f["firstId"],
                            "L": f["lastId"],
                            "n": f["count"],
                        }
                    )
                    cache["ticker"] = d
                self._send_stream(conn, name, cache["ticker"])
            elif kind == "miniTicker":
                f = self._ticker_fields(inst)
                self._send_stream(
                    conn,
                    name,
                    {
                        "e": "24hrMiniTicker",
                        "E": ev.ts_ms,
                        "s": inst.symbol,
                        "c": f["lastPrice"],
                        "o": f["openPrice"],
                        "h": f["highPrice"],
                        "l": f["lowPrice"],
                        "v": f["volume"],
                        "q": f["quoteVolume"],
                    },
                )
            elif kind == "markPrice" and not spot:
                mark = self.engine.mark_price(inst)
                self._send_stream(
                    conn,
                    name,
                    {
                        "e": "markPriceUpdate",
                        "E": ev.ts_ms,
                        "s": inst.symbol,
                        "p": _d8(mark),
                        "ap": _d8(mark),
                        "P": _d8(mark),
                        "i": _d8(mark),
                        "r": _d8(self.engine.funding_rate),
                        "T": self._next_funding_ms(),
                    },
                )
            elif kind == "kline":
                self._send_stream(conn, name, self._kline(inst, arg, ev.ts_ms))

    _INTERVALS_MS: ClassVar[dict[str, int]] = {
        "1s": 1000,
        "1m": 60_000,
        "3m": 180_000,
        "5m": 300_000,
        "15m": 900_000,
        "30m": 1_800_000,
        "1h": 3_600_000,
        "2h": 7_200_000,
        "4h": 14_400_000,
        "1d": 86_400_000,
    }

    def _kline(self, inst: Instrument, interval: str, ts: int) -> Json:
        """A kline event for the current bar, built from the public tape of the bar."""
        span = self._INTERVALS_MS.get(interval, 60_000)
        start = ts // span * span
        trades = [t for t in self.engine.trades[inst.key] if t.ts_ms >= start]
        last = self.engine.stats[inst.key].last
        o = trades[0].price if trades else last
        h = max((t.price for t in trades), default=last)
        lo = min((t.price for t in trades), default=last)
        c = trades[-1].price if trades else last
        v = sum((t.qty for t in trades), D(0))
        q = sum((t.qty * t.price for t in trades), D(0))
        vb = sum((t.qty for t in trades if not t.buyer_is_maker), D(0))
        qb = sum((t.qty * t.price for t in trades if not t.buyer_is_maker), D(0))
        return {
            "e": "kline",
            "E": ts,
            "s": inst.symbol,
            "k": {
                "t": start,
                "T": start + span - 1,
                "s": inst.symbol,
                "i": interval,
                "f": trades[0].trade_id if trades else -1,
                "L": trades[-1].trade_id if trades else -1,
                "o": self._px(inst, o),
                "c": self._px(inst, c),
                "h": self._px(inst, h),
                "l": self._px(inst, lo),
                "v": self._qty(inst, v),
                "n": len(trades),
                "x": False,
                "q": _d8(q),
                "V": self._qty(inst, vb),
                "Q": _d8(qb),
                "B": "0",
            },
        }

    # -- user data ----------------------------------------------------------------------------

    def _user_spot(self, event: Json) -> None:
        for conn in self.connections("spot-wsapi"):
            subs = conn.data.get("user_subs")
            if isinstance(subs, list):
                for sid in subs:
                    conn.send({"subscriptionId": sid, "event": event})

    def _user_fut(self, name: str, event: Json) -> None:
        for conn in self.connections("futures-private"):
            lks = conn.data.get("listen_keys")
            if not isinstance(lks, dict):
                continue
            for key, allowed in lks.items():
                if key not in self._listen_keys:
                    continue
                if allowed is not None and name not in allowed:
                    continue
                self._send_stream(conn, key, event)

    def _execution_report(self, ev: OrderUpdate) -> Json:
        o, f = ev.order, ev.fill
        if ev.exec_type is ExecType.EXPIRED and o.status is OrderStatus.EXPIRED_IN_MATCH:
            x = "TRADE_PREVENTION"
        else:
            x = {
                ExecType.NEW: "NEW",
                ExecType.TRADE: "TRADE",
                ExecType.CANCELED: "CANCELED",
                ExecType.EXPIRED: "EXPIRED",
                ExecType.AMENDED: "REPLACED",
            }[ev.exec_type]
        canceled = ev.exec_type is ExecType.CANCELED
        status = _STATUS[o.status]
        if ev.exec_type is ExecType.TRADE and f is not None:
            # the status as of this fill (a later fill of the same order may complete it)
            done = sum((x_.qty for x_ in o.fills[: o.fills.index(f) + 1]), D(0))
            status = "FILLED" if done >= o.qty else "PARTIALLY_FILLED"
            cum_qty = done
            cum_quote = sum((x_.quote_qty for x_ in o.fills[: o.fills.index(f) + 1]), D(0))
        elif ev.exec_type is ExecType.NEW:
            status, cum_qty, cum_quote = "NEW", D(0), D(0)
        else:
            cum_qty, cum_quote = o.filled, o.cum_quote
        return {
            "e": "executionReport",
            "E": ev.ts_ms,
            "s": o.symbol,
            "c": str(o.extra.get("cancel_client_id", o.client_id)) if canceled else o.client_id,
            "S": o.side.name,
            "o": o.venue_type or o.type.name,
            "f": "GTC" if o.venue_type == "LIMIT_MAKER" else _TIF_OUT[o.tif],
            "q": _d8(o.qty),
            "p": _d8(o.price or D(0)),
            "P": "0.00000000",
            "F": "0.00000000",
            "g": -1,
            "C": o.client_id if canceled else "",
            "x": x,
            "X": status,
            "r": "NONE",
            "i": o.order_id,
            "l": _d8(f.qty if f else D(0)),
            "z": _d8(cum_qty),
            "L": _d8(f.price if f else D(0)),
            "n": _d8(f.commission) if f else "0",
            "N": f.commission_asset if f else None,
            "T": f.ts_ms if f else ev.ts_ms,
            "t": f.trade_id if f else -1,
            "I": o.order_id * 2 + len(o.fills),
            "w": o.status.is_open and o.type is OrderType.LIMIT,
            "m": f.is_maker if f else False,
            "M": False,
            "O": o.created_ms,
            "Z": _d8(cum_quote),
            "Y": _d8(f.quote_qty if f else D(0)),
            "Q": _d8(o.quote_qty or D(0)),
            "W": o.created_ms,
            "V": "EXPIRE_TAKER",
        }

    def _outbound_account_position(self, ev: AccountUpdate) -> Json:
        acct = ev.account
        return {
            "e": "outboundAccountPosition",
            "E": ev.ts_ms,
            "u": ev.ts_ms,
            "B": [
                {"a": a, "f": _d8(acct.balance(a).free), "l": _d8(acct.balance(a).locked)}
                for a in ev.assets
            ],
        }

    def _order_trade_update(self, ev: OrderUpdate) -> Json:
        o, f = ev.order, ev.fill
        inst = o.instrument
        x = {
            ExecType.NEW: "NEW",
            ExecType.TRADE: "TRADE",
            ExecType.CANCELED: "CANCELED",
            ExecType.EXPIRED: "EXPIRED",
            ExecType.AMENDED: "AMENDMENT",
        }[ev.exec_type]
        if ev.exec_type is ExecType.TRADE and f is not None:
            idx = o.fills.index(f) + 1
            cum_qty = sum((x_.qty for x_ in o.fills[:idx]), D(0))
            cum_quote = sum((x_.quote_qty for x_ in o.fills[:idx]), D(0))
            status = "FILLED" if cum_qty >= o.qty else "PARTIALLY_FILLED"
        elif ev.exec_type is ExecType.NEW:
            cum_qty, cum_quote, status = D(0), D(0), "NEW"
        else:
            cum_qty, cum_quote = o.filled, o.cum_quote
            status = "EXPIRED" if o.status is OrderStatus.EXPIRED_IN_MATCH else _STATUS[o.status]
        avg = cum_quote / cum_qty if cum_qty else D(0)
        return {
            "e": "ORDER_TRADE_UPDATE",
            "E": ev.ts_ms,
            "T": ev.ts_ms,
            "o": {
                "s": o.symbol,
                "c": o.client_id,
                "S": o.side.name,
                "o": o.venue_type,
                "f": _TIF_OUT[o.tif],
                "q": self._qty(inst, o.qty),
                "p": self._px(inst, o.price or D(0)),
                "ap": _dp(avg, max(inst.price_decimals, 5)),
                "sp": self._px(inst, D(0)),
                "x": x,
                "X": status,
                "i": o.order_id,
                "l": self._qty(inst, f.qty if f else D(0)),
                "z": self._qty(inst, cum_qty),
                "L": self._px(inst, f.price if f else D(0)),
                "N": f.commission_asset if f else "USDT",
                "n": _d8(f.commission) if f else "0",
                "T": f.ts_ms if f else ev.ts_ms,
                "t": f.trade_id if f else 0,
                "b": "0",
                "a": "0",
                "m": f.is_maker if f else False,
                "R": o.reduce_only,
                "wt": "CONTRACT_PRICE",
                "ot": o.venue_type,
                "ps": "BOTH",
                "cp": False,
                "rp": _d8(f.realized_pnl) if f else "0",
                "pP": False,
                "si": 0,
                "ss": 0,
                "V": "EXPIRE_MAKER",
                "pm": "NONE",
                "gtd": 0,
            },
        }

    def _account_update(self, ev: AccountUpdate) -> Json:
        acct = ev.account
        reason = {
            "ORDER": "ORDER",
            "DEPOSIT": "DEPOSIT",
            "WITHDRAW": "WITHDRAW",
            "FUNDING_FEE": "FUNDING_FEE",
        }.get(ev.reason, ev.reason)
        balances: list[Json] = []
        for a in ev.assets:
            b = acct.balance(a)
            balances.append(
                {
                    "a": a,
                    "wb": _d8(b.wallet),
                    "cw": _d8(b.wallet),
                    "bc": _d8(ev.deltas.get(a, D(0))),
                }
            )
        positions: list[Json] = []
        for sym in ev.symbols:
            inst = self.engine.instrument(FUT, sym)
            pos = acct.position(inst)
            mark = self.engine.mark_price(inst)
            positions.append(
                {
                    "s": sym,
                    "pa": self._qty(inst, pos.qty),
                    "ep": _plain(pos.entry_price) if pos.entry_price else "0",
                    "bep": _plain(pos.entry_price) if pos.entry_price else "0",
                    "cr": _d8(pos.realized_pnl),
                    "up": _d8(pos.unrealized(mark)),
                    "mt": "cross",
                    "iw": "0",
                    "ps": "BOTH",
                }
            )
        return {
            "e": "ACCOUNT_UPDATE",
            "E": ev.ts_ms,
            "T": ev.ts_ms,
            "a": {"m": reason, "B": balances, "P": positions},
        }

    # -- spot WebSocket API -------------------------------------------------------------------

    _WSAPI_WEIGHTS: ClassVar[dict[str, int]] = {
        "ping": 1,
        "time": 1,
        "userDataStream.subscribe.signature": 2,
        "userDataStream.unsubscribe": 2,
        "session.subscriptions": 2,
        "order.place": 1,
        "order.cancel": 1,
        "order.status": 4,
        "openOrders.status": 6,
        "account.status": 20,
        "depth": 5,
        "ticker.book": 2,
        "ticker.price": 2,
    }

    async def _spot_ws_api(self, request: web.Request) -> web.StreamResponse:
        async with self.websocket(request, "spot-wsapi") as conn:
            conn.data["user_subs"] = []
            conn.data["next_sub"] = 0
            async for text in conn:
                conn.send(self._ws_api_call(conn, text))
        return conn.ws

    def _rate_limits(self, used: int) -> list[Json]:
        return [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": self.spot_weight.limit,
                "count": used,
            }
        ]

    @staticmethod
    def _ws_payload(params: Mapping[str, object]) -> str:
        """Alphabetically sorted `k=v&...` of every param except `signature`."""

        def s(v: object) -> str:
            if isinstance(v, bool):
                return "true" if v else "false"
            return str(v)

        return "&".join(f"{k}={s(params[k])}" for k in sorted(params) if k != "signature")

    def _ws_auth(self, params: Mapping[str, object]) -> None:
        key = params.get("apiKey")
        if not key:
            raise _mandatory("apiKey")
        self._check_key(str(key))
        if not params.get("signature"):
            raise _mandatory("signature")
        if "timestamp" not in params:
            raise _mandatory("timestamp")
        if not self.verify_hex(self._ws_payload(params), str(params["signature"])):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        self._check_time(params)

    def _ws_api_call(self, conn: SimConnection, text: str) -> Json:
        try:
            msg = json.loads(text)
            if not isinstance(msg, dict):
                raise ValueError
        except ValueError:
            return {
                "id": None,
                "status": 400,
                "error": {"code": -1000, "msg": "Invalid JSON request."},
            }
        rid = msg.get("id")
        method = msg.get("method")
        params = msg.get("params") or {}
        weight = self._WSAPI_WEIGHTS.get(str(method), 1)
        used = self.spot_weight.add(weight)
        base: dict[str, Json] = {"id": rid}
        if used > self.spot_weight.limit:
            self.stats.rate_limited += 1
            base.update(
                status=429,
                error={
                    "code": -1003,
                    "msg": f"Too much request weight used; current limit is "
                    f"{self.spot_weight.limit} request weight per 1 MINUTE. Please use WebSocket "
                    "Streams for live updates to avoid polling the API.",
                    "data": {"retryAfter": now_ms() + 1000 * self.spot_weight.retry_after_s()},
                },
                rateLimits=self._rate_limits(used),
            )
            return base
        try:
            if not isinstance(params, dict):
                raise BinanceError(-1100, "Illegal characters found in parameter 'params'.")
            result = self._ws_api_dispatch(conn, str(method), params)
        except BinanceError as exc:
            base.update(
                status=exc.status if exc.status != 401 else 401,
                error={"code": exc.code, "msg": exc.msg},
                rateLimits=self._rate_limits(used),
            )
            return base
        base.update(status=200, result=result, rateLimits=self._rate_limits(used))
        return base

    def _ws_api_dispatch(self, conn: SimConnection, method: str, params: dict[str, object]) -> Json:
        p: Params = {
            k: ("true" if v is True else "false" if v is False else str(v))
            for k, v in params.items()
        }
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": now_ms()}
        if method == "userDataStream.subscribe.signature":
            self._ws_auth(params)
            subs = conn.data["user_subs"]
            assert isinstance(subs, list)
            sid = conn.data["next_sub"]
            assert isinstance(sid, int)
            conn.data["next_sub"] = sid + 1
            subs.append(sid)
            return {"subscriptionId": sid}
        if method == "userDataStream.unsubscribe":
            subs = conn.data["user_subs"]
            assert isinstance(subs, list)
            sid_raw = params.get("subscriptionId")
            if sid_raw is None:
                subs.clear()
            else:
                try:
                    subs.remove(int(str(sid_raw)))
                except ValueError:
                    raise BinanceError(-2035, "User Data Stream subscription not active.") from None
            return {}
        if method == "session.subscriptions":
            subs = conn.data["user_subs"]
            assert isinstance(subs, list)
            return [{"subscriptionId": s} for s in subs]
        if method in ("userDataStream.start", "userDataStream.ping", "userDataStream.stop"):
            raise BinanceError(-1020, "This operation is not supported.")  # retired 2026-02-20
        if method == "depth":
            return self._spot_depth(None, p)  # type: ignore[arg-type]
        if method == "ticker.book":
            return self._spot_book_ticker(None, p)  # type: ignore[arg-type]
        if method == "ticker.price":
            return self._spot_ticker_price(None, p)  # type: ignore[arg-type]
        if method in (
            "order.place",
            "order.cancel",
            "order.status",
            "openOrders.status",
            "account.status",
        ):
            self._ws_auth(params)
            if method == "order.place":
                return self._spot_new_order(None, p)  # type: ignore[arg-type]
            if method == "order.cancel":
                return self._spot_cancel(None, p)  # type: ignore[arg-type]
            if method == "order.status":
                return self._spot_query(None, p)  # type: ignore[arg-type]
            if method == "openOrders.status":
                return self._spot_open_orders(None, p)  # type: ignore[arg-type]
            return self._spot_account(None, p)  # type: ignore[arg-type]
        raise BinanceError(-1020, "This operation is not supported.")

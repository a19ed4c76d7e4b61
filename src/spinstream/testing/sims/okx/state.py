"""OKX simulator state: instrument specs, number text, error codes, rate buckets, book feeds.

Everything here is plain data and arithmetic (no aiohttp): the REST routes (`routes.py`) and the
WebSocket channels (`ws.py`) share it through `OkxSim` (`__init__.py`).
"""

from __future__ import annotations

import calendar
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .._base import Instrument, OrderError

JSON = dict[str, Any]
GROUPS = ("live", "demo")  # production trading and demo ("simulated") trading
INST_TYPES = ("SPOT", "SWAP", "FUTURES", "OPTION")
BOOK_DEPTH = 400  # levels of the `books` channel
CHECKSUM_DEPTH = 25  # levels per side the `books` checksum covers
ORD_ID_BASE = 700_000_000_000_000_000  # OKX order ids are long decimal strings
TRADE_ID_BASE = 400_000_000


# --------------------------------------------------------------------------------------------
# Number text: OKX sends every number as a string, trailing zeros stripped ("30261", "0.0002")
# --------------------------------------------------------------------------------------------


def plain(d: Decimal) -> str:
    """Shortest exact text without exponent: 30261.0 -> "30261", 0.00020 -> "0.0002"."""
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


def money(d: Decimal, places: int = 12) -> str:
    """A money amount (fee, PnL, equity) rounded half-up to `places`, then stripped."""
    return plain(d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    """OKX's book checksum: CRC32 of `bidPx:bidSz:askPx:askSz:...` over the top 25 levels of
    each side, interleaved starting with a bid (the longer side continues alone), using the
    price and size strings exactly as sent; a signed int32."""
    parts: list[str] = []
    b, a = bids[:CHECKSUM_DEPTH], asks[:CHECKSUM_DEPTH]
    for i in range(max(len(b), len(a))):
        if i < len(b):
            parts += (b[i][0], b[i][1])
        if i < len(a):
            parts += (a[i][0], a[i][1])
    crc = zlib.crc32(":".join(parts).encode("ascii"))
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def iso_ms(ms: int) -> str:
    """ISO-8601 UTC with milliseconds, as OKX's REST timestamps: 2026-12-07T01:50:00.123Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def parse_iso_ms(text: str) -> int | None:
    """Milliseconds of an `OK-ACCESS-TIMESTAMP` (ISO-8601, `Z`, optional fraction), else None."""
    try:
        if not text.endswith("Z") or "T" not in text:
            return None
        body = text[:-1]
        whole, _, frac = body.partition(".")
        tm = time.strptime(whole, "%Y-%m-%dT%H:%M:%S")
        if frac and not frac.isdigit():
            return None
        return calendar.timegm(tm) * 1000 + int((frac + "000")[:3] or 0)
    except ValueError:
        return None


def next_quarterly_expiry(now_ms: int) -> int:
    """Expiry (08:00 UTC, last Friday of Mar/Jun/Sep/Dec) at least 14 days after `now_ms`."""
    tm = time.gmtime(now_ms // 1000)
    year, month = tm.tm_year, tm.tm_mon
    while True:
        q_month = ((month - 1) // 3 + 1) * 3
        last_day = calendar.monthrange(year, q_month)[1]
        wd = calendar.weekday(year, q_month, last_day)  # Monday 0 .. Sunday 6
        day = last_day - ((wd - 4) % 7)
        exp = calendar.timegm((year, q_month, day, 8, 0, 0)) * 1000
        if exp >= now_ms + 14 * 86_400_000:
            return exp
        month = q_month + 1
        if month > 12:
            year, month = year + 1, 1


# --------------------------------------------------------------------------------------------
# Instruments
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """OKX's view of one instrument: `/public/instruments` fields and contract size.

    The engine trades base quantities; OKX contracts (`SWAP`, `FUTURES`) are sized in
    contracts of `ct_val` base units, so `sz()`/`from_sz()` convert at the wire.
    """

    inst_type: str
    inst_id: str
    base: str
    quote: str
    tick_sz: str
    lot_sz: str
    min_sz: str
    start_px: str
    level_lots: tuple[int, int]
    ct_val: Decimal = Decimal(1)  # base units per contract (1 for spot)
    exp_ms: int = 0
    lever: str = ""
    max_lmt_sz: str = "9999999999"
    max_mkt_sz: str = "1000000"

    @property
    def is_spot(self) -> bool:
        """Spot pair (sizes in base currency)."""
        return self.inst_type == "SPOT"

    @property
    def market(self) -> str:
        """The engine's market key ("spot", "swap", "futures")."""
        return self.inst_type.lower()

    @property
    def family(self) -> str:
        """Instrument family / underlying of a contract ("BTC-USDT"), "" for spot."""
        return "" if self.is_spot else f"{self.base}-{self.quote}"

    def sz(self, qty: Decimal) -> str:
        """Engine base quantity -> OKX size text (contracts for derivatives)."""
        return plain(qty if self.is_spot else qty / self.ct_val)

    def from_sz(self, sz: Decimal) -> Decimal:
        """OKX size (contracts for derivatives) -> engine base quantity."""
        return sz if self.is_spot else sz * self.ct_val

    def instrument(self) -> Instrument:
        """The engine instrument (base-unit lots; contracts of `ct_val` for derivatives)."""
        step = Decimal(self.lot_sz) * self.ct_val
        return Instrument(
            symbol=self.inst_id,
            market=self.market,
            base=self.base,
            quote=self.quote,
            tick_size=Decimal(self.tick_sz),
            step_size=step,
            start_price=Decimal(self.start_px),
            account="spot" if self.is_spot else "deriv",
            min_qty=Decimal(self.min_sz) * self.ct_val,
            max_qty=Decimal(self.max_lmt_sz) * self.ct_val,
            min_notional=Decimal(0),
            depth=120,
            level_lots=self.level_lots,
        )

    def info(self, list_time: int) -> JSON:
        """The `GET /api/v5/public/instruments` entry (field set of the v5 docs, 2026)."""
        contract = not self.is_spot
        return {
            "alias": "quarter" if self.inst_type == "FUTURES" else "",
            "auctionEndTime": "",
            "baseCcy": self.base if self.is_spot else "",
            "category": "1",
            "ctMult": "1" if contract else "",
            "ctType": "linear" if contract else "",
            "ctVal": plain(self.ct_val) if contract else "",
            "ctValCcy": self.base if contract else "",
            "expTime": str(self.exp_ms) if self.exp_ms else "",
            "instFamily": self.family,
            "instId": self.inst_id,
            "instType": self.inst_type,
            "lever": self.lever,
            "listTime": str(list_time),
            "lotSz": self.lot_sz,
            "maxIcebergSz": self.max_lmt_sz,
            "maxLmtAmt": "20000000",
            "maxLmtSz": self.max_lmt_sz,
            "maxMktAmt": "1000000" if self.is_spot else "",
            "maxMktSz": self.max_mkt_sz,
            "maxStopSz": self.max_mkt_sz,
            "maxTriggerSz": self.max_lmt_sz,
            "maxTwapSz": self.max_lmt_sz,
            "minSz": self.min_sz,
            "optType": "",
            "quoteCcy": self.quote if self.is_spot else "",
            "ruleType": "normal",
            "settleCcy": self.quote if contract else "",
            "state": "live",
            "stk": "",
            "tickSz": self.tick_sz,
            "uly": self.family,
        }


def default_specs(now_ms: int) -> list[Spec]:
    """BTC and ETH spot, USDT-margined perpetuals and one quarterly BTC future."""
    exp = next_quarterly_expiry(now_ms)
    ymd = time.strftime("%y%m%d", time.gmtime(exp // 1000))
    return [
        Spec(
            "SPOT",
            "BTC-USDT",
            "BTC",
            "USDT",
            "0.1",
            "0.00000001",
            "0.00001",
            "65120.4",
            (1_000_000, 200_000_000),
        ),
        Spec(
            "SPOT",
            "ETH-USDT",
            "ETH",
            "USDT",
            "0.01",
            "0.000001",
            "0.001",
            "1921.37",
            (100_000, 20_000_000),
        ),
        Spec(
            "SWAP",
            "BTC-USDT-SWAP",
            "BTC",
            "USDT",
            "0.1",
            "0.01",
            "0.01",
            "65101.2",
            (100, 50_000),
            Decimal("0.01"),
            lever="100",
            max_lmt_sz="100000",
            max_mkt_sz="12000",
        ),
        Spec(
            "SWAP",
            "ETH-USDT-SWAP",
            "ETH",
            "USDT",
            "0.01",
            "0.01",
            "0.01",
            "1920.55",
            (100, 50_000),
            Decimal("0.1"),
            lever="100",
            max_lmt_sz="1000000",
            max_mkt_sz="15000",
        ),
        Spec(
            "FUTURES",
            f"BTC-USDT-{ymd}",
            "BTC",
            "USDT",
            "0.1",
            "0.1",
            "0.1",
            "65790.1",
            (10, 5_000),
            Decimal("0.01"),
            exp_ms=exp,
            lever="100",
            max_lmt_sz="100000",
            max_mkt_sz="3000",
        ),
    ]


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class OkxError(Exception):
    """A request OKX refuses: `code` (a string, as OKX sends it), `msg` and the HTTP status."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


#: engine rejection reason -> (sCode, sMsg); `{ccy}` is filled in
REJECTS: dict[str, tuple[str, str]] = {
    "insufficient_balance": ("51008", "Order failed. Insufficient {ccy} balance in account."),
    "invalid_qty": ("51020", "Your order should meet or exceed the minimum order amount."),
    "lot": ("51121", "Order quantity must be a multiple of the lot size."),
    "invalid_price": ("51000", "Parameter px error"),
    "min_notional": ("51020", "Your order should meet or exceed the minimum order amount."),
    "duplicate_client_id": ("51016", "Duplicated clOrdId"),
    "unknown_order": (
        "51400",
        "Cancellation failed as the order has been filled, canceled or does not exist.",
    ),
    "reduce_only": (
        "51169",
        "Order failed because you don't have any positions in this direction for this "
        "contract to reduce or close.",
    ),
    "unknown_symbol": ("51001", "Instrument ID does not exist."),
    "no_liquidity": ("51000", "Parameter sz error"),
}


def reject(exc: OrderError, ccy: str) -> tuple[str, str]:
    """(sCode, sMsg) OKX answers for an engine rejection."""
    reason = exc.reason
    if reason == "invalid_qty" and "grid" in (exc.detail or ""):
        reason = "lot"
    code, msg = REJECTS.get(reason, ("51000", "Parameter sz error"))
    return code, msg.format(ccy=ccy)


# --------------------------------------------------------------------------------------------
# Rate limits: OKX publishes N requests per 2 s per endpoint (per IP or per user / instrument)
# --------------------------------------------------------------------------------------------

#: path -> (requests per 2 s, rule: "ip", "user" or "user+inst")
RATE_LIMITS: dict[str, tuple[int, str]] = {
    "/api/v5/public/time": (10, "ip"),
    "/api/v5/public/instruments": (20, "ip"),
    "/api/v5/market/ticker": (20, "ip"),
    "/api/v5/market/tickers": (20, "ip"),
    "/api/v5/market/books": (40, "ip"),
    "/api/v5/account/balance": (10, "user"),
    "/api/v5/account/positions": (10, "user"),
    "/api/v5/account/config": (5, "user"),
    "/api/v5/asset/currencies": (6, "user"),
    "/api/v5/trade/orders-pending": (60, "user"),
    "/api/v5/trade/order": (60, "user+inst"),
    "/api/v5/trade/cancel-order": (60, "user+inst"),
    "/api/v5/trade/batch-orders": (300, "user+inst"),
    "/api/v5/trade/cancel-batch-orders": (300, "user+inst"),
}
DEFAULT_LIMIT = (20, "user")


class Bucket:
    """A token bucket: `limit` requests, refilled continuously over `window_s`."""

    def __init__(self, limit: int, window_s: float = 2.0) -> None:
        self.limit = limit
        self.rate = limit / window_s
        self.tokens = float(limit)
        self.at = time.monotonic()

    def take(self, n: int = 1) -> bool:
        """Spend `n` tokens if there are; False (nothing spent) when the bucket is dry."""
        now = time.monotonic()
        self.tokens = min(self.limit, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False


# --------------------------------------------------------------------------------------------
# Stream state
# --------------------------------------------------------------------------------------------


@dataclass
class BookFeed:
    """One instrument's `books` sequence: the top-400 levels last published and its seqId."""

    seq: int
    bids: dict[int, int] = field(default_factory=dict)  # ticks -> lots, as last published
    asks: dict[int, int] = field(default_factory=dict)
    pushed_at: float = 0.0  # monotonic time of the last push (the keep-alive after quiet)
    reset_pending: bool = False  # next update restarts the sequence (seqId < prevSeqId)


def level_orders(lots: int) -> str:
    """The 4th field of a book level: orders at that price (stable for a given size)."""
    return str(1 + lots % 7)


def side_text(spec: Spec, inst: Instrument, levels: Iterable[tuple[int, int]]) -> list[list[str]]:
    """[[px, sz, "0", orders], ...] of (ticks, lots) levels, in the given order."""
    out = []
    for t, q in levels:
        out.append(
            [
                plain(inst.price(t)),
                spec.sz(inst.qty(q)) if q else "0",
                "0",
                level_orders(q) if q else "0",
            ]
        )
    return out

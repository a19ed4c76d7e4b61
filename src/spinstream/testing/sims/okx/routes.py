"""OKX v5 REST: public market data, signed account and trade endpoints, OKX's error bodies.

Every answer is `{"code": "0", "msg": "", "data": [...]}`; refusals carry OKX's code as a string
with `data: []` and the HTTP status OKX uses (401 for auth, 429 for 50011, 200 for parameter
and business errors). Trade answers add `inTime`/`outTime` (microseconds) and per-item
`sCode`/`sMsg`; the top-level code is "1" ("All operations failed") or "2" ("Bulk operation
partially succeeded") when items failed. `x-simulated-trading: 1` selects the demo account.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .auth import check_rest
from .model import OkxModel
from .state import (
    DEFAULT_LIMIT,
    INST_TYPES,
    JSON,
    RATE_LIMITS,
    Bucket,
    OkxError,
)

Handler = Callable[[str, JSON], Any]


def _body(code: str, msg: str, data: Any, status: int = 200, **extra: Any) -> web.Response:
    payload: JSON = {"code": code, "msg": msg, "data": data}
    payload.update(extra)
    return web.Response(
        status=status,
        text=json.dumps(payload, separators=(",", ":")),
        content_type="application/json",
    )


def _error(exc: OkxError) -> web.Response:
    return _body(exc.code, exc.msg, [], exc.status)


def _usec() -> str:
    return str(time.time_ns() // 1000)


class OkxRest(OkxModel):
    """The REST half of `OkxSim`."""

    _buckets: dict[tuple[str, ...], Bucket]

    def setup_rest(self, app: web.Application) -> None:
        """Add OKX's REST paths to `app`."""
        self._buckets = {}
        public: dict[str, Handler] = {
            "/api/v5/public/time": self._r_time,
            "/api/v5/public/instruments": self._r_instruments,
            "/api/v5/market/ticker": self._r_ticker,
            "/api/v5/market/tickers": self._r_tickers,
            "/api/v5/market/books": self._r_books,
        }
        private_get: dict[str, Handler] = {
            "/api/v5/account/balance": self._r_balance,
            "/api/v5/account/positions": self._r_positions,
            "/api/v5/account/config": self._r_config,
            "/api/v5/asset/currencies": self._r_currencies,
            "/api/v5/trade/orders-pending": self._r_pending,
            "/api/v5/trade/order": self._r_get_order,
        }
        private_post: dict[str, Handler] = {
            "/api/v5/trade/order": self._r_place,
            "/api/v5/trade/batch-orders": self._r_place,
            "/api/v5/trade/cancel-order": self._r_cancel,
            "/api/v5/trade/cancel-batch-orders": self._r_cancel,
        }
        for path, fn in public.items():
            app.router.add_get(path, self._public(path, fn))
        for path, fn in private_get.items():
            app.router.add_get(path, self._private(path, fn))
        for path, fn in private_post.items():
            app.router.add_post(path, self._private(path, fn))

    # -- plumbing -----------------------------------------------------------------------------

    def rate_limited_response(self, request: web.Request) -> web.StreamResponse:
        """OKX's answer past a limit: HTTP 429 with code 50011."""
        return _body("50011", "Too Many Requests", [], 429)

    def _limit_ok(self, path: str, who: str, inst_id: str = "") -> bool:
        limit, rule = RATE_LIMITS.get(path, DEFAULT_LIMIT)
        key = (path, "ip") if rule == "ip" else (path, who, inst_id if rule == "user+inst" else "")
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(limit, 2.0)
        if bucket.take():
            return True
        self.stats.rate_limited += 1
        return False

    @staticmethod
    def _group(request: web.Request) -> str:
        return "demo" if request.headers.get("x-simulated-trading") == "1" else "live"

    def _public(self, path: str, fn: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            if not self._limit_ok(path, "ip"):
                return self.rate_limited_response(request)  # type: ignore[return-value]
            params = {k: request.query.get(k, "") for k in request.query}
            try:
                return _body("0", "", fn(self._group(request), params))
            except OkxError as exc:
                return _error(exc)

        return handler

    def _private(self, path: str, fn: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            group = self._group(request)
            body = await request.text() if request.method == "POST" else ""
            creds = self.creds(group)
            other = self.creds("demo" if group == "live" else "live")
            try:
                check_rest(
                    dict(request.headers),
                    request.method,
                    request.raw_path,
                    body,
                    creds,
                    other,
                    int(time.time() * 1000),
                    self.faults.take_reject_auth(),
                )
            except OkxError as exc:
                self.stats.auth_failures += 1
                return _error(exc)
            try:
                params: Any
                if request.method == "POST":
                    try:
                        params = json.loads(body) if body.strip() else {}
                    except ValueError:
                        raise OkxError("50002", "JSON syntax error") from None
                    if not isinstance(params, (dict, list)):
                        raise OkxError("50002", "JSON syntax error")
                else:
                    params = {k: request.query.get(k, "") for k in request.query}
                first = params[0] if isinstance(params, list) and params else params
                inst_id = str(first.get("instId", "")) if isinstance(first, dict) else ""
                if not self._limit_ok(path, creds.uid, inst_id):
                    return self.rate_limited_response(request)  # type: ignore[return-value]
                out = fn(group, params)
            except OkxError as exc:
                return _error(exc)
            if request.method == "POST":
                return self._trade_answer(out, path)
            return _body("0", "", out)

        return handler

    @staticmethod
    def _trade_answer(items: list[JSON], path: str) -> web.Response:
        failed = sum(1 for i in items if i.get("sCode") != "0")
        if not failed:
            code, msg = "0", ""
        elif failed == len(items):
            code, msg = "1", "All operations failed"
        else:
            code, msg = "2", "Bulk operation partially succeeded"
        return _body(code, msg, items, inTime=_usec(), outTime=_usec())

    @staticmethod
    def _inst_type(p: JSON, required: bool = True) -> str:
        t = str(p.get("instType") or "")
        if not t:
            if required:
                raise OkxError("50014", "Parameter instType cannot be empty")
            return ""
        if t not in INST_TYPES and t != "MARGIN":
            raise OkxError("51000", "Parameter instType error")
        return t

    # -- public -------------------------------------------------------------------------------

    def _r_time(self, group: str, p: JSON) -> list[JSON]:
        return [{"ts": str(int(time.time() * 1000))}]

    def _r_instruments(self, group: str, p: JSON) -> list[JSON]:
        t = self._inst_type(p)
        fam = p.get("instFamily") or p.get("uly")
        out = []
        for spec in self.specs.values():
            if spec.inst_type != t:
                continue
            if p.get("instId") and spec.inst_id != p["instId"]:
                continue
            if fam and spec.family != fam:
                continue
            out.append(spec.info(self.started_ms - 86_400_000 * 400))
        return out

    def _r_ticker(self, group: str, p: JSON) -> list[JSON]:
        return [self.ticker_json(self.inst(p.get("instId")))]

    def _r_tickers(self, group: str, p: JSON) -> list[JSON]:
        t = self._inst_type(p)
        fam = p.get("instFamily") or p.get("uly")
        return [
            self.ticker_json(self.inst(s.inst_id))
            for s in self.specs.values()
            if s.inst_type == t and (not fam or s.family == fam)
        ]

    def _r_books(self, group: str, p: JSON) -> list[JSON]:
        inst = self.inst(p.get("instId"))
        sz_text = str(p.get("sz") or "1")
        if not sz_text.isdigit() or not 1 <= int(sz_text) <= 400:
            raise OkxError("51000", "Parameter sz error")
        n = int(sz_text)
        feed = self.feeds[inst.symbol]
        bids, asks = self.book_levels(inst, feed, n)
        return [{"asks": asks, "bids": bids, "ts": str(int(time.time() * 1000)), "seqId": feed.seq}]

    # -- private ------------------------------------------------------------------------------

    def _r_balance(self, group: str, p: JSON) -> list[JSON]:
        ccys = [c for c in str(p.get("ccy") or "").split(",") if c]
        return [self.balance_json(group, ccys or None)]

    def _r_positions(self, group: str, p: JSON) -> list[JSON]:
        t = self._inst_type(p, required=False)
        if t == "SPOT":
            raise OkxError("51000", "Parameter instType error")
        ids = [i for i in str(p.get("instId") or "").split(",") if i]
        out = []
        for inst_id in ids or [""]:
            out += self.positions(group, t, inst_id)
        return out

    def _r_config(self, group: str, p: JSON) -> list[JSON]:
        uid = self.creds(group).uid
        return [
            {
                "acctLv": "2",
                "acctStpMode": "cancel_maker",
                "autoLoan": False,
                "ctIsoMode": "automatic",
                "enableSpotBorrow": False,
                "greeksType": "PA",
                "ip": "",
                "kycLv": "1",
                "label": "spinstream-sim",
                "level": "Lv1",
                "levelTmp": "",
                "liquidationGear": "-1",
                "mainUid": uid,
                "mgnIsoMode": "automatic",
                "opAuth": "0",
                "perm": "read_only,trade",
                "posMode": "net_mode",
                "roleType": "0",
                "spotBorrowAutoRepay": False,
                "spotOffsetType": "",
                "spotRoleType": "0",
                "spotTraderInsts": [],
                "traderInsts": [],
                "type": "0",
                "uid": uid,
            }
        ]

    def _r_currencies(self, group: str, p: JSON) -> list[JSON]:
        want = [c for c in str(p.get("ccy") or "").split(",") if c]
        coins = {
            "BTC": ("Bitcoin", "BTC-Bitcoin"),
            "ETH": ("Ethereum", "ETH-ERC20"),
            "USDT": ("Tether", "USDT-TRC20"),
            "OKB": ("OKB", "OKB-X Layer"),
        }
        out = []
        for ccy, (name, chain) in coins.items():
            if want and ccy not in want:
                continue
            out.append(
                {
                    "burningFeeRate": "",
                    "canDep": True,
                    "canInternal": True,
                    "canWd": True,
                    "ccy": ccy,
                    "chain": chain,
                    "ctAddr": "",
                    "depEstOpenTime": "",
                    "depQuotaFixed": "",
                    "depQuoteDailyLayer2": "",
                    "fee": "0.0001" if ccy == "BTC" else "1",
                    "logoLink": "",
                    "mainNet": True,
                    "maxFee": "0.0002" if ccy == "BTC" else "2",
                    "maxFeeForCtAddr": "",
                    "maxWd": "1000000",
                    "minDep": "0.00005" if ccy == "BTC" else "0.1",
                    "minDepArrivalConfirm": "2",
                    "minFee": "0.0001" if ccy == "BTC" else "1",
                    "minFeeForCtAddr": "",
                    "minInternal": "0.0001",
                    "minWd": "0.0005" if ccy == "BTC" else "2",
                    "minWdUnlockConfirm": "3",
                    "name": name,
                    "needTag": False,
                    "usedDepQuotaFixed": "",
                    "usedWdQuota": "0",
                    "wdEstOpenTime": "",
                    "wdQuota": "10000000",
                    "wdTickSz": "8" if ccy == "BTC" else "6",
                }
            )
        return out

    def _r_pending(self, group: str, p: JSON) -> list[JSON]:
        t = self._inst_type(p, required=False)
        limit_text = str(p.get("limit") or "100")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            raise OkxError("51000", "Parameter limit error")
        names = {self.acct(group, True).name, self.acct(group, False).name}
        out = []
        for o in reversed(list(self.engine.orders.values())):
            if o.account not in names or not o.status.is_open:
                continue
            spec = self.spec(o.instrument)
            if t and spec.inst_type != t:
                continue
            if p.get("instId") and o.symbol != p["instId"]:
                continue
            if p.get("instFamily") and spec.family != p["instFamily"]:
                continue
            if p.get("ordType") and o.venue_type not in str(p["ordType"]).split(","):
                continue
            out.append(self.order_json(o))
            if len(out) >= int(limit_text):
                break
        return out

    def _r_get_order(self, group: str, p: JSON) -> list[JSON]:
        inst = self.inst(p.get("instId"))
        return [self.order_json(self.find_order(group, inst, p))]

    def _r_place(self, group: str, p: Any) -> list[JSON]:
        items = p if isinstance(p, list) else [p]
        if not items:
            raise OkxError("50014", "Parameter data cannot be empty")
        if len(items) > 20:
            raise OkxError("51000", "Parameter data error")
        return [self.place(group, i) for i in items]

    def _r_cancel(self, group: str, p: Any) -> list[JSON]:
        items = p if isinstance(p, list) else [p]
        if not items:
            raise OkxError("50014", "Parameter data cannot be empty")
        if len(items) > 20:
            raise OkxError("51000", "Parameter data error")
        return [self.cancel(group, i) for i in items]

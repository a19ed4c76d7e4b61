"""`OkxModel`: OKX accounts, instruments and object shapes on top of the shared engine.

The REST routes (`routes.py`) and WebSocket channels (`ws.py`) are mixins over this class;
`OkxSim` (`__init__.py`) puts them together. Here: credentials per environment (live, demo),
the unified account (one coin balance shared by spot and derivatives), order entry with OKX's
parameters and rejection codes, and the JSON shapes of orders, positions, balances, tickers.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import secrets
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from .._base import (
    ZERO,
    Account,
    Balance,
    Fill,
    Instrument,
    OrderError,
    OrderStatus,
    OrderType,
    Position,
    Side,
    SimExchange,
    SimOrder,
    TimeInForce,
    now_ms,
)
from .auth import Creds
from .state import (
    BOOK_DEPTH,
    GROUPS,
    JSON,
    ORD_ID_BASE,
    TRADE_ID_BASE,
    BookFeed,
    OkxError,
    Spec,
    default_specs,
    money,
    plain,
    reject,
    side_text,
)

_FEES = {
    "spot": (Decimal("0.0008"), Decimal("0.001")),  # (maker, taker), regular user level 1
    "deriv": (Decimal("0.0002"), Decimal("0.0005")),
}
_START_BALANCES = {
    "live": {"USDT": "100000", "BTC": "1", "ETH": "10"},
    "demo": {"USDT": "50000", "BTC": "1", "ETH": "1", "OKB": "100"},
}
_ORD_TYPES = {
    "limit": (OrderType.LIMIT, TimeInForce.GTC),
    "post_only": (OrderType.LIMIT, TimeInForce.POST_ONLY),
    "fok": (OrderType.LIMIT, TimeInForce.FOK),
    "ioc": (OrderType.LIMIT, TimeInForce.IOC),
    "market": (OrderType.MARKET, TimeInForce.IOC),
    "optimal_limit_ioc": (OrderType.MARKET, TimeInForce.IOC),
}
_CL_ORD_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_STATE = {
    OrderStatus.NEW: "live",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "canceled",
    OrderStatus.EXPIRED_IN_MATCH: "canceled",
}


class OkxModel(SimExchange):
    """OKX v5 shared state (see `OkxSim` for the served protocol)."""

    venue: ClassVar[str] = "okx"
    URL_MAP: ClassVar[dict[str, str]] = {
        "https://www.okx.com": "",
        "https://aws.okx.com": "",
        "https://us.okx.com": "",
        "wss://ws.okx.com:8443": "",
        "wss://ws.okx.com:443": "",
        "wss://wspap.okx.com:8443": "/wspap",
        "wss://wspap.okx.com:443": "/wspap",
    }
    HAS_CHECKSUM: ClassVar[bool] = True

    def __init__(
        self,
        *,
        ping_interval: float = 0.0,
        passphrase: str | None = None,
        demo_api_key: str | None = None,
        demo_api_secret: str | None = None,
        demo_passphrase: str | None = None,
        checksum: bool = True,
        book_keepalive_s: float = 60.0,
        idle_timeout: float = 30.0,
        ws_book_snapshot: bool = True,
        **kwargs: Any,
    ) -> None:
        """As `SimExchange`, plus the passphrase, the demo key, and OKX's stream knobs.

        `checksum=False` sends `checksum: 0` on `books` as OKX has since 2026-06-23 (True: the
        real CRC32, as before). `book_keepalive_s`: the empty `books` update after that long
        without change (OKX: about 60 s). `idle_timeout`: a WebSocket with no client message
        and no push for that long is closed (OKX: 30 s). OKX sends no protocol pings, so
        server pings are off unless `ping_interval` is set. `ws_book_snapshot=False`: `books`
        sends no snapshot on subscribe, only updates, as OKX announced for 2026 (the client
        stitches `GET /api/v5/market/books` by seqId); settable at run time.
        """
        self.specs: dict[str, Spec] = {s.inst_id: s for s in default_specs(now_ms())}
        self._passphrase = passphrase or secrets.token_urlsafe(12)
        self._demo = Creds(
            demo_api_key or _okx_key(),
            demo_api_secret or secrets.token_hex(16).upper(),
            demo_passphrase or secrets.token_urlsafe(12),
        )
        if kwargs.get("api_key") is None:
            kwargs["api_key"] = _okx_key()
        super().__init__(ping_interval=ping_interval, **kwargs)
        idrng = random.Random(f"okx-ids-{self.seed}")
        self._live = Creds(
            self._api_key, self._api_secret, self._passphrase, str(idrng.randrange(10**17, 10**18))
        )
        self._demo.uid = str(idrng.randrange(10**17, 10**18))
        self.checksum_enabled = checksum
        self.ws_book_snapshot = ws_book_snapshot
        self.book_keepalive_s = book_keepalive_s
        self.idle_timeout = idle_timeout
        self.started_ms = now_ms()
        for inst in self.engine.instruments.values():
            if inst.symbol not in self.specs:
                self.specs[inst.symbol] = _spec_of(inst)
        rng = random.Random(f"okx-feeds-{self.seed}")
        self.feeds: dict[str, BookFeed] = {}
        for inst in self.engine.instruments.values():
            feed = BookFeed(seq=rng.randrange(10**9, 9 * 10**9))
            book = self.engine.book(inst)
            feed.bids, feed.asks = dict(book.side(True, 400)), dict(book.side(False, 400))
            self.feeds[inst.symbol] = feed
        self._shadow: dict[int, SimOrder] = {}  # accepted-then-canceled (post_only/fok misses)
        self._order_group: dict[int, str] = {}
        self._bg: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        state = f"port={self.port}" if self.port else "stopped"
        return f"<OkxSim {state}>"  # never a credential

    # -- credentials --------------------------------------------------------------------------

    @property
    def credentials(self) -> dict[str, str]:
        """The production key: {"api_key", "api_secret", "passphrase"}."""
        return {
            "api_key": self._live.key,
            "api_secret": self._live.secret,
            "passphrase": self._live.passphrase,
        }

    @property
    def demo_credentials(self) -> dict[str, str]:
        """The demo-trading key (valid with `x-simulated-trading: 1` and on the wspap host)."""
        return {
            "api_key": self._demo.key,
            "api_secret": self._demo.secret,
            "passphrase": self._demo.passphrase,
        }

    def creds(self, group: str) -> Creds:
        """The key pair of an environment ("live" or "demo")."""
        return self._live if group == "live" else self._demo

    # -- lifecycle: background loops of the venue (keep-alive books, idle connections) --------

    async def start(self) -> OkxModel:
        """Serve, then run the `books` keep-alive loop."""
        await super().start()
        if not self._bg:
            self._bg.append(asyncio.ensure_future(self._keepalive_loop()))
        return self

    async def stop(self) -> None:
        """Stop the venue loops, then the server."""
        for t in self._bg:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._bg.clear()
        await super().stop()

    async def _keepalive_loop(self) -> None:
        raise NotImplementedError  # ws.py

    # -- instruments and accounts -------------------------------------------------------------

    def default_instruments(self) -> list[Instrument]:
        """Spot BTC-USDT / ETH-USDT, BTC/ETH USDT perpetuals, one BTC quarterly future."""
        return [s.instrument() for s in self.specs.values()]

    def default_accounts(self) -> dict[str, Account]:
        """Per environment a unified account: spot (cash) and derivatives (margin) accounts
        over one shared dict of coin balances."""
        out: dict[str, Account] = {}
        for group in GROUPS:
            shared = {c: Balance(c, Decimal(a)) for c, a in _START_BALANCES[group].items()}
            for name, kind in (("spot", "cash"), ("deriv", "margin")):
                maker, taker = _FEES[name]
                out[f"{group}.{name}"] = Account(
                    f"{group}.{name}",
                    kind,  # type: ignore[arg-type]
                    balances=shared,
                    default_leverage=10,
                    maker_fee=maker,
                    taker_fee=taker,
                )
        return out

    def acct(self, group: str, spot: bool) -> Account:
        """The environment's spot or derivatives engine account."""
        return self.engine.accounts[f"{group}.{'spot' if spot else 'deriv'}"]

    def spec(self, inst: Instrument) -> Spec:
        """OKX spec of an engine instrument."""
        return self.specs[inst.symbol]

    def inst(self, inst_id: object) -> Instrument:
        """The engine instrument of an `instId`, or OkxError 51001."""
        spec = self.specs.get(str(inst_id or ""))
        if spec is None:
            if not inst_id:
                raise OkxError("50014", "Parameter instId cannot be empty")
            raise OkxError("51001", "Instrument ID does not exist.")
        found = self.engine.find_instrument(spec.market, spec.inst_id)
        if found is None:
            raise OkxError("51001", "Instrument ID does not exist.")
        return found

    def ord_id(self, o: SimOrder) -> str:
        """OKX order id text of an engine order."""
        return str(ORD_ID_BASE + o.order_id)

    def find_order(self, group: str, inst: Instrument, p: JSON) -> SimOrder:
        """An order of the environment by `ordId` or `clOrdId` (any state)."""
        oid, cl = p.get("ordId"), p.get("clOrdId")
        if not oid and not cl:
            raise OkxError("51003", "Either client order ID or order ID is required.")
        acct_name = self.acct(group, self.spec(inst).is_spot).name
        cands = list(self.engine.orders.values()) + list(self._shadow.values())
        for o in reversed(cands):
            if o.account != acct_name or o.instrument is not inst:
                continue
            if oid and self.ord_id(o) == str(oid):
                return o
            if not oid and cl and o.extra.get("clOrdId") == cl:
                return o
        raise OkxError("51603", "Order does not exist")

    # -- order entry --------------------------------------------------------------------------

    def place(self, group: str, p: object) -> JSON:
        """One `POST /trade/order` item: {clOrdId, ordId, tag, ts, sCode, sMsg}."""
        ts = str(now_ms())
        if not isinstance(p, dict):
            raise OkxError("50002", "JSON syntax error")
        cl = str(p.get("clOrdId") or "")
        tag = str(p.get("tag") or "")
        item = {"clOrdId": cl, "ordId": "", "tag": tag, "ts": ts, "sCode": "0", "sMsg": ""}
        try:
            o = self._place(group, p, cl)
        except OkxError as exc:
            item.update(sCode=exc.code, sMsg=exc.msg)
            return item
        item.update(ordId=self.ord_id(o), sMsg="Order placed")
        return item

    def _place(self, group: str, p: JSON, cl: str) -> SimOrder:
        for k in ("instId", "tdMode", "side", "ordType", "sz"):
            if not p.get(k):
                raise OkxError("50014", f"Parameter {k} cannot be empty")
        inst = self.inst(p["instId"])
        spec = self.spec(inst)
        td = str(p["tdMode"])
        if td not in ("cash", "cross", "isolated") or (not spec.is_spot and td == "cash"):
            raise OkxError("51000", "Parameter tdMode error")
        side_text = str(p["side"])
        if side_text not in ("buy", "sell"):
            raise OkxError("51000", "Parameter side error")
        side = Side(side_text)
        try:
            otype, tif = _ORD_TYPES[str(p["ordType"])]
        except KeyError:
            raise OkxError("51000", "Parameter ordType error") from None
        if cl and not _CL_ORD_ID.match(cl):
            raise OkxError("51000", "Parameter clOrdId error")
        try:
            sz = Decimal(str(p["sz"]))
        except InvalidOperation:
            raise OkxError("51000", "Parameter sz error") from None
        if not sz.is_finite() or sz <= 0:
            raise OkxError("51000", "Parameter sz error")
        price: Decimal | None = None
        if otype is OrderType.LIMIT:
            try:
                price = Decimal(str(p.get("px") or ""))
            except InvalidOperation:
                raise OkxError("51000", "Parameter px error") from None
            if not price.is_finite() or price <= 0:
                raise OkxError("51000", "Parameter px error")
        tgt = str(p.get("tgtCcy") or "")
        qty: Decimal | None = spec.from_sz(sz)
        quote_qty: Decimal | None = None
        if spec.is_spot and otype is OrderType.MARKET:
            by_quote = tgt == "quote_ccy" or (side is Side.BUY and tgt != "base_ccy")
            if by_quote:
                if side is Side.SELL:
                    raise OkxError("51000", "Parameter tgtCcy error")
                qty, quote_qty = None, sz
        elif otype is OrderType.LIMIT:
            if sz % Decimal(spec.lot_sz):  # the lot rule on the size as sent (contracts)
                raise OkxError("51121", "Order quantity must be a multiple of the lot size.")
        reduce_only = str(p.get("reduceOnly", "")).lower() == "true"
        acct = self.acct(group, spec.is_spot)
        extra = {
            "clOrdId": cl,
            "tag": str(p.get("tag") or ""),
            "tdMode": td,
            "ordType": str(p["ordType"]),
            "tgtCcy": tgt,
            "sz": plain(sz),
            "group": group,
        }
        try:
            o = self.engine.place_order(
                acct.name,
                inst,
                side,
                otype,
                qty,
                price,
                tif=tif,
                client_id=cl or None,
                reduce_only=reduce_only,
                quote_qty=quote_qty,
                venue_type=str(p["ordType"]),
                extra=extra,
            )
        except OrderError as exc:
            if exc.reason in ("post_only_would_take", "fok_not_filled"):
                return self._shadow_cancel(acct, inst, side, otype, tif, qty, price, cl, extra)
            ccy = (
                inst.settle if not spec.is_spot else (inst.quote if side is Side.BUY else inst.base)
            )
            raise OkxError(*reject(exc, ccy)) from None
        return o

    def _shadow_cancel(
        self,
        acct: Account,
        inst: Instrument,
        side: Side,
        otype: OrderType,
        tif: TimeInForce,
        qty: Decimal | None,
        price: Decimal | None,
        cl: str,
        extra: Mapping[str, object],
    ) -> SimOrder:
        """OKX accepts a post-only order that would take (or an unfillable FOK) and cancels it
        at once: an order that never reaches the book, pushed as `canceled`."""
        eng = self.engine
        oid = eng._next_order_id
        eng._next_order_id += 1
        ts = now_ms()
        o = SimOrder(
            oid,
            cl or f"sim-{oid}",
            inst,
            acct.name,
            side,
            otype,
            tif,
            qty or ZERO,
            price,
            ts,
            ts,
            status=OrderStatus.CANCELED,
            venue_type=str(extra["ordType"]),
            extra=dict(extra),
        )
        o.extra["cancelSource"] = "31" if tif is TimeInForce.POST_ONLY else "14"
        self._shadow[oid] = o
        self.on_shadow(o)
        return o

    def on_shadow(self, o: SimOrder) -> None:
        """Push a shadow order (ws.py)."""

    def cancel(self, group: str, p: object) -> JSON:
        """One `POST /trade/cancel-order` item: {clOrdId, ordId, ts, sCode, sMsg}."""
        ts = str(now_ms())
        if not isinstance(p, dict):
            raise OkxError("50002", "JSON syntax error")
        item = {
            "clOrdId": str(p.get("clOrdId") or ""),
            "ordId": str(p.get("ordId") or ""),
            "ts": ts,
            "sCode": "0",
            "sMsg": "",
        }
        try:
            inst = self.inst(p.get("instId"))
            try:
                o = self.find_order(group, inst, p)
            except OkxError as exc:
                if exc.code == "51603":
                    raise OkxError(*reject(OrderError("unknown_order"), "")) from None
                raise
            try:
                self.engine.cancel_order(o.account, o)
            except OrderError as exc:
                raise OkxError(*reject(exc, "")) from None
        except OkxError as exc:
            item.update(sCode=exc.code, sMsg=exc.msg)
            return item
        item.update(ordId=self.ord_id(o), clOrdId=str(o.extra.get("clOrdId", "")))
        return item

    # -- JSON shapes --------------------------------------------------------------------------

    def book_levels(
        self, inst: Instrument, feed: BookFeed, n: int = BOOK_DEPTH
    ) -> tuple[list[list[str]], list[list[str]]]:
        """(bids, asks) text of the top `n` levels of a `books` feed as last published."""
        spec = self.spec(inst)
        bids = sorted(feed.bids.items(), reverse=True)[:n]
        asks = sorted(feed.asks.items())[:n]
        return side_text(spec, inst, bids), side_text(spec, inst, asks)

    def order_json(self, o: SimOrder, fill: Fill | None = None, *, ws: bool = False) -> JSON:
        """An order as `GET /trade/order` (and, `ws=True`, the `orders` channel) shows it."""
        inst = o.instrument
        spec = self.spec(inst)
        fee = -sum((f.commission for f in o.fills), ZERO)
        fee_ccy = (
            o.fills[-1].commission_asset
            if o.fills
            else (
                inst.settle
                if not spec.is_spot
                else (inst.base if o.side is Side.BUY else inst.quote)
            )
        )
        last = fill or (o.fills[-1] if o.fills else None)
        state = _STATE[o.status]
        cancel_source = str(o.extra.get("cancelSource", ""))
        if state == "canceled" and not cancel_source:
            cancel_source = "1" if o.status is OrderStatus.CANCELED else "14"
        sz_text = str(o.extra.get("sz") or spec.sz(o.qty))
        d: JSON = {
            "accFillSz": spec.sz(o.filled),
            "algoClOrdId": "",
            "algoId": "",
            "attachAlgoClOrdId": "",
            "attachAlgoOrds": [],
            "avgPx": plain(o.avg_price) if o.filled else "",
            "cTime": str(o.created_ms),
            "cancelSource": cancel_source,
            "cancelSourceReason": "",
            "category": "normal",
            "ccy": "",
            "clOrdId": str(o.extra.get("clOrdId", "")),
            "fee": money(fee),
            "feeCcy": fee_ccy,
            "fillPx": plain(last.price) if last else "",
            "fillSz": spec.sz(last.qty) if last else "",
            "fillTime": str(last.ts_ms) if last else "",
            "instId": inst.symbol,
            "instType": spec.inst_type,
            "isTpLimit": "false",
            "lever": ""
            if spec.is_spot
            else str(self.acct(str(o.extra.get("group", "live")), False).position(inst).leverage),
            "linkedAlgoOrd": {"algoId": ""},
            "ordId": self.ord_id(o),
            "ordType": o.venue_type or ("limit" if o.type is OrderType.LIMIT else "market"),
            "pnl": money(sum((f.realized_pnl for f in o.fills), ZERO)),
            "posSide": "" if spec.is_spot else "net",
            "px": plain(o.price) if o.price is not None else "",
            "pxType": "",
            "pxUsd": "",
            "pxVol": "",
            "quickMgnType": "",
            "rebate": "0",
            "rebateCcy": inst.quote,
            "reduceOnly": "true" if o.reduce_only else "false",
            "side": o.side.value,
            "slOrdPx": "",
            "slTriggerPx": "",
            "slTriggerPxType": "",
            "source": "",
            "state": state,
            "stpId": "",
            "stpMode": "cancel_maker",
            "sz": sz_text,
            "tag": str(o.extra.get("tag", "")),
            "tdMode": str(o.extra.get("tdMode", "cash" if spec.is_spot else "cross")),
            "tgtCcy": str(o.extra.get("tgtCcy", "")),
            "tpOrdPx": "",
            "tpTriggerPx": "",
            "tpTriggerPxType": "",
            "tradeId": str(TRADE_ID_BASE + last.trade_id) if last else "",
            "tradeQuoteCcy": inst.quote if spec.is_spot else "",
            "uTime": str(o.updated_ms),
        }
        if ws:
            d.update(
                amendResult="",
                amendSource="",
                code="0",
                execType=("M" if fill.is_maker else "T") if fill else "",
                fillFee=money(-fill.commission) if fill else "0",
                fillFeeCcy=fill.commission_asset if fill else "",
                fillNotionalUsd=money(fill.quote_qty, 2) if fill else "",
                fillPnl=money(fill.realized_pnl) if fill else "0",
                msg="",
                notionalUsd=money(o.qty * (o.price or self.engine.mark_price(inst)), 2),
                reqId="",
            )
            if fill is None:
                d.update(fillPx="", fillSz="0", fillTime="", tradeId="")
        return d

    def position_json(self, group: str, pos: Position) -> JSON:
        """A net-mode cross position as `GET /account/positions` and `positions` show it."""
        inst = pos.instrument
        spec = self.spec(inst)
        mark = self.engine.mark_price(inst)
        upl = pos.unrealized(mark)
        imr = pos.initial_margin(mark)
        contracts = pos.qty / spec.ct_val
        ts = str(pos.updated_ms or self.started_ms)
        return {
            "adl": "1",
            "availPos": "",
            "avgPx": plain(pos.entry_price) if pos.qty else "",
            "bePx": plain(pos.entry_price) if pos.qty else "",
            "cTime": ts,
            "ccy": inst.settle,
            "deltaBS": "",
            "deltaPA": "",
            "fee": "0",
            "fundingFee": "0",
            "gammaBS": "",
            "gammaPA": "",
            "idxPx": plain(mark),
            "imr": money(imr, 8),
            "instId": inst.symbol,
            "instType": spec.inst_type,
            "interest": "",
            "last": plain(self.engine.stats[inst.key].last),
            "lever": str(pos.leverage),
            "liab": "",
            "liabCcy": "",
            "liqPenalty": "0",
            "liqPx": "",
            "margin": "",
            "markPx": plain(mark),
            "mgnMode": "cross",
            "mgnRatio": "",
            "mmr": money(imr / 4, 8),
            "notionalUsd": money(pos.notional(mark), 8),
            "optVal": "",
            "pendingCloseOrdLiabVal": "",
            "pnl": money(pos.realized_pnl),
            "pos": plain(contracts),
            "posCcy": "",
            "posId": str(ORD_ID_BASE // 7 + sum(map(ord, inst.symbol))),
            "posSide": "net",
            "quoteBal": "",
            "realizedPnl": money(pos.realized_pnl),
            "settledPnl": "",
            "spotInUseAmt": "",
            "spotInUseCcy": "",
            "thetaBS": "",
            "thetaPA": "",
            "tradeId": "",
            "uTime": ts,
            "upl": money(upl, 8),
            "uplLastPx": money(upl, 8),
            "uplRatio": money(upl / imr, 8) if imr else "0",
            "uplRatioLastPx": money(upl / imr, 8) if imr else "0",
            "usdPx": "",
            "vegaBS": "",
            "vegaPA": "",
        }

    def positions(self, group: str, inst_type: str = "", inst_id: str = "") -> list[JSON]:
        """Open positions of an environment (flat ones are not listed, as OKX)."""
        acct = self.acct(group, False)
        out = []
        for pos in acct.positions.values():
            spec = self.spec(pos.instrument)
            if not pos.qty or (inst_type and spec.inst_type != inst_type):
                continue
            if inst_id and spec.inst_id != inst_id:
                continue
            out.append(self.position_json(group, pos))
        return out

    def coin_price(self, ccy: str) -> Decimal:
        """USD value of one unit (USDT/USDC = 1, BTC/ETH from the spot mid, OKB fixed)."""
        if ccy in ("USDT", "USDC", "USD"):
            return Decimal(1)
        spec = self.specs.get(f"{ccy}-USDT")
        if spec is None:
            return Decimal(50)
        return self.engine.mark_price(self.engine.instrument("spot", spec.inst_id))

    def balance_json(self, group: str, ccys: list[str] | None = None) -> JSON:
        """`GET /account/balance` data[0] (and the `account` channel's): the unified account."""
        spot, deriv = self.acct(group, True), self.acct(group, False)
        ts = str(now_ms())
        details = []
        total = ZERO
        imr_total = ZERO
        for ccy, bal in sorted(spot.balances.items()):
            pos_im, ord_im = self.engine.margin_used(deriv, ccy)
            upl = self.engine.unrealized(deriv, ccy)
            frozen = bal.locked + pos_im + ord_im
            eq = bal.wallet + upl
            px = self.coin_price(ccy)
            total += eq * px
            imr_total += (pos_im + ord_im) * px
            if ccys and ccy not in ccys:
                continue
            details.append(
                {
                    "accAvgPx": "",
                    "availBal": money(bal.wallet - frozen),
                    "availEq": money(eq - frozen),
                    "borrowFroz": "",
                    "cashBal": money(bal.wallet),
                    "ccy": ccy,
                    "clSpotInUseAmt": "",
                    "crossLiab": "",
                    "disEq": money(eq * px, 8),
                    "eq": money(eq),
                    "eqUsd": money(eq * px, 8),
                    "fixedBal": "0",
                    "frozenBal": money(frozen),
                    "imr": money(pos_im + ord_im),
                    "interest": "",
                    "isoEq": "0",
                    "isoLiab": "",
                    "isoUpl": "0",
                    "liab": "",
                    "maxLoan": "",
                    "mgnRatio": "",
                    "mmr": money((pos_im + ord_im) / 4),
                    "notionalLever": "",
                    "ordFrozen": money(bal.locked + ord_im),
                    "rewardBal": "0",
                    "spotBal": money(bal.wallet) if ccy != "USDT" else "",
                    "spotInUseAmt": "",
                    "spotIsoBal": "0",
                    "spotUpl": "",
                    "spotUplRatio": "",
                    "stgyEq": "0",
                    "totalPnl": "",
                    "totalPnlRatio": "",
                    "twap": "0",
                    "uTime": ts,
                    "upl": money(upl),
                    "uplLiab": "",
                }
            )
        return {
            "adjEq": money(total, 8),
            "availEq": money(total - imr_total, 8),
            "borrowFroz": "",
            "delta": "",
            "deltaLever": "",
            "deltaNeutralStatus": "0",
            "details": details,
            "imr": money(imr_total, 8),
            "isoEq": "0",
            "mgnRatio": "",
            "mmr": money(imr_total / 4, 8),
            "notionalUsd": "",
            "ordFroz": "",
            "totalEq": money(total, 8),
            "uTime": ts,
            "upl": "0",
        }

    def ticker_json(self, inst: Instrument) -> JSON:
        """A ticker as `GET /market/ticker` and the `tickers` channel show it."""
        spec = self.spec(inst)
        st = self.engine.stats[inst.key]
        book = self.engine.book(inst)
        bid, ask = book.best(True), book.best(False)
        vol_ccy = st.quote_volume if spec.is_spot else st.volume
        return {
            "instType": spec.inst_type,
            "instId": inst.symbol,
            "last": plain(st.last),
            "lastSz": spec.sz(st.last_qty) if st.last_qty else "0",
            "askPx": plain(inst.price(ask[0])) if ask else "",
            "askSz": spec.sz(inst.qty(ask[1])) if ask else "",
            "bidPx": plain(inst.price(bid[0])) if bid else "",
            "bidSz": spec.sz(inst.qty(bid[1])) if bid else "",
            "open24h": plain(st.open),
            "high24h": plain(st.high),
            "low24h": plain(st.low),
            "volCcy24h": plain(vol_ccy),
            "vol24h": spec.sz(st.volume),
            "ts": str(now_ms()),
            "sodUtc0": plain(st.open),
            "sodUtc8": plain(st.open),
        }


def _okx_key() -> str:
    """A random key shaped like OKX's (a UUID)."""
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _spec_of(inst: Instrument) -> Spec:
    """A spot spec for a caller-given engine instrument (tests passing `instruments=`)."""
    return Spec(
        "SPOT",
        inst.symbol,
        inst.base,
        inst.quote,
        plain(inst.tick_size),
        plain(inst.step_size),
        plain(inst.min_qty),
        plain(inst.start_price),
        inst.level_lots,
    )

"""okx.rest: limits and endpoints as data, the SPEC, builders, body parsers, error mapping."""

from __future__ import annotations

import json

import pytest

from spinstream.credentials import Credentials
from spinstream.errors import (
    AuthError,
    OrderRejected,
    ParseError,
    RateLimited,
    UnsupportedError,
    VenueError,
)
from spinstream.protocol.headers import Headers
from spinstream.protocol.okx import SPEC, WS_PATHS, parse, rest

SECRET, PASSPHRASE = "rest-secret-value", "rest-passphrase"
CREDS = Credentials.of("restkey", SECRET, PASSPHRASE)
NOW = 1_700_000_000_000
TS = 1_700_000_000_500_000_000
MS = 1_000_000
SWAP = parse.Instrument(
    inst_id="BTC-USDT-SWAP", inst_type="SWAP", tick_size="0.1", lot_size="0.01",
    price_decimals=1, size_decimals=2, contract_value="0.01", contract_value_ccy="BTC",
)  # fmt: skip


def body(data: list[object], code: str = "0", msg: str = "") -> bytes:
    return json.dumps({"code": code, "msg": msg, "data": data}).encode()


def test_spec() -> None:
    assert SPEC.name == "okx" and SPEC.server_only and SPEC.envs == ("live", "demo")
    assert SPEC.default_market == "spot" and set(SPEC.markets) >= {"spot", "swap", "futures"}
    assert set(SPEC.ws_bases) == set(WS_PATHS) == {"public", "private", "business"}
    for bases in SPEC.ws_bases.values():
        assert bases == {"live": "wss://ws.okx.com:8443", "demo": "wss://wspap.okx.com:8443"}
    assert all(b == {"live": "https://www.okx.com", "demo": "https://www.okx.com"}
               for b in SPEC.rest_bases.values())  # fmt: skip


def test_limits_and_endpoints() -> None:
    limits = rest.LIMITS()
    assert rest.LIMITS() is not limits  # fresh buckets per account
    assert (limits["books"].limit, limits["books"].per_s, limits["books"].scope) == (40, 2.0, "ip")
    assert (limits["place"].limit, limits["place"].scope) == (60, "account")
    assert (limits["balance"].limit, limits["balance"].scope) == (10, "account")
    for name, ep in rest.ENDPOINTS.items():
        assert ep.cost and set(ep.cost) <= set(limits), name
        assert ep.base == name.split(".")[0] and ep.path.startswith("/api/v5/")
        assert ep.signed == (ep.path.split("/")[3] in ("account", "trade")), name


def test_public_builders() -> None:
    r = rest.build_ticker("swap", "BTC-USDT-SWAP")
    assert (r.method, r.base, r.path, r.query) == (
        "GET",
        "swap",
        "/api/v5/market/ticker",
        "instId=BTC-USDT-SWAP",
    )
    assert rest.build_orderbook("spot", "BTC-USDT", 5000).query == "instId=BTC-USDT&sz=400"
    assert rest.build_orderbook("spot", "BTC-USDT", 0).query == "instId=BTC-USDT&sz=1"
    assert rest.build_server_time("spot").path == "/api/v5/public/time"
    assert rest.build_instruments("futures").query == "instType=FUTURES"
    assert (
        rest.build_instruments("swap", "BTC-USDT-SWAP").query
        == "instType=SWAP&instId=BTC-USDT-SWAP"
    )
    with pytest.raises(UnsupportedError):
        rest.build_ticker("margin", "BTC-USDT")


def test_parse_ticker_and_server_time() -> None:
    t = {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "last": "30000.1", "askPx": "30000.2",
         "askSz": "5", "bidPx": "30000.1", "bidSz": "7", "vol24h": "100",
         "ts": "1700000000100"}  # fmt: skip
    tk = rest.parse_ticker("swap", "BTC-USDT-SWAP", body([t]), TS, SWAP)
    assert (tk.bid, tk.ask, tk.last, tk.source) == (30000.1, 30000.2, 30000.1, "rest")
    assert (tk.bid_size, tk.ask_size, tk.volume_24h) == (0.07, 0.05, 1.0)
    assert tk.ts_event == 1700000000100 * MS
    with pytest.raises(ParseError):
        rest.parse_ticker("swap", "ETH-USDT-SWAP", body([t]), TS)
    assert rest.parse_server_time(body([{"ts": "1597026383085"}])) == 1597026383085 * MS
    for bad in (body([]), body([{"ts": "x"}]), b"nope", body([{"ts": "-5"}])):
        with pytest.raises(ParseError):
            rest.parse_server_time(bad)


def test_orderbook_snapshot_with_seq() -> None:
    book = {"asks": [["41006.8", "0.6", "0", "1"], ["41007", "1", "0", "2"]],
            "bids": [["41006.3", "0.3", "0", "1"]], "ts": "1629966436396",
            "seqId": 3456}  # fmt: skip
    snap = rest.parse_book_snapshot(body([book]))
    assert snap.seqId == 3456 and snap.asks[0] == ("41006.8", "0.6", "0", "1")
    ob = rest.parse_orderbook("spot", "BTC-USDT", body([book]), TS, 1)
    assert ob.seq == 3456 and ob.best_ask == 41006.8 and ob.best_bid == 41006.3
    assert ob.asks.shape == (1, 2) and ob.ts_event == 1629966436396 * MS and ob.source == "rest"
    swap = rest.parse_orderbook("swap", "BTC-USDT-SWAP", body([book]), TS, 5, SWAP)
    assert swap.asks[1, 1] == pytest.approx(0.01)  # 1 contract x 0.01 BTC
    for bad in (["0", "1", "0", "1"], ["41000", "-1", "0", "1"], ["NaN", "1", "0", "1"]):
        with pytest.raises(ParseError):
            rest.parse_book_snapshot(body([{**book, "bids": [bad]}]))
    with pytest.raises(ParseError):
        rest.parse_book_snapshot(body([]))


def test_instruments() -> None:
    items = [
        {"instType": "SPOT", "instId": "BTC-USDT", "tickSz": "0.1", "lotSz": "0.00000001",
         "ctVal": "", "baseCcy": "BTC", "quoteCcy": "USDT"},
        {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "tickSz": "0.1", "lotSz": "0.01",
         "ctVal": "0.01", "ctValCcy": "BTC", "settleCcy": "USDT"},
    ]  # fmt: skip
    inst = rest.parse_instruments(body(items))
    assert inst["BTC-USDT"].price_decimals == 1 and inst["BTC-USDT"].size_decimals == 8
    assert inst["BTC-USDT"].contract_value is None
    assert inst["BTC-USDT-SWAP"] == SWAP
    with pytest.raises(ParseError):  # a contract needs its value
        rest.parse_instruments(body([{**items[1], "ctVal": ""}]))


def test_private_builders_and_parsers() -> None:
    acct = rest.build_account("swap", CREDS, NOW)
    assert (acct.path, acct.query, acct.cost) == ("/api/v5/account/balance", "", {"balance": 1})
    assert rest.build_positions("swap", CREDS, NOW).query == "instType=SWAP"
    with pytest.raises(UnsupportedError):
        rest.build_positions("spot", CREDS, NOW)
    oo = rest.build_open_orders("spot", CREDS, NOW, after="123")
    assert oo.query == "instType=SPOT&after=123"
    a = rest.parse_account("spot", body([{"totalEq": "10", "details": [
        {"ccy": "USDT", "availBal": "8", "frozenBal": "2", "cashBal": "10"}]}]), TS)  # fmt: skip
    assert a.balance("USDT").total == 10.0 and a.source == "rest" and a.equity == 10.0
    (p,) = rest.parse_positions("swap", body([{"instType": "SWAP", "instId": "BTC-USDT-SWAP",
                                              "pos": "5", "posSide": "net", "avgPx": "30000"}]),
                                TS, {"BTC-USDT-SWAP": SWAP})  # fmt: skip
    assert p.size == 0.05 and p.entry_price == 30000.0 and p.source == "rest"
    (o,) = rest.parse_open_orders("spot", body([{"instType": "SPOT", "instId": "BTC-USDT",
        "ordId": "9", "px": "30000", "sz": "0.1", "ordType": "limit", "side": "buy",
        "state": "live", "accFillSz": "0"}]), TS)  # fmt: skip
    assert (o.order_id, o.status, o.time_in_force, o.source) == ("9", "new", "GTC", "rest")


def test_place_and_cancel() -> None:
    req = rest.build_place_order("swap", CREDS, NOW, "BTC-USDT-SWAP", "SELL", "limit", 0.05,
                                 30000.5, "ioc", "cid", inst=SWAP)  # fmt: skip
    sent = json.loads(req.body or "")
    assert sent == {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "sell",
                    "ordType": "ioc", "sz": "5", "px": "30000.5", "clOrdId": "cid"}  # fmt: skip
    assert req.cost == {"place": 1, "orders_subaccount": 1}
    mkt = json.loads(rest.build_place_order("spot", CREDS, NOW, "BTC-USDT", "buy", "market",
                                            "0.001").body or "")  # fmt: skip
    assert mkt["tgtCcy"] == "base_ccy" and mkt["ordType"] == "market" and "px" not in mkt
    for bad in (
        dict(type="limit", quantity=1, price=None),
        dict(type="limit", quantity=-1, price=1),
        dict(type="limit", quantity=float("nan"), price=1),
        dict(type="stop", quantity=1, price=1),
        dict(type="market", quantity=1, price=None, time_in_force="post_only"),
    ):
        with pytest.raises(ValueError):
            rest.build_place_order("spot", CREDS, NOW, "BTC-USDT", "buy", **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lots"):  # 0.00015 BTC = 0.015 contracts: 1.5 lots
        rest.build_place_order("swap", CREDS, NOW, "BTC-USDT-SWAP", "buy", "market", "0.00015",
                               inst=SWAP)  # fmt: skip
    ack = body([{"ordId": "555", "clOrdId": "cid", "ts": "1700000000001", "sCode": "0",
                 "sMsg": "Order placed"}])  # fmt: skip
    order = rest.parse_order("swap", ack, TS, req, SWAP)
    assert (order.order_id, order.client_order_id, order.status) == ("555", "cid", "new")
    assert (order.side, order.type, order.time_in_force) == ("sell", "limit", "IOC")
    assert order.quantity == 0.05 and order.price == 30000.5
    cancel = rest.build_cancel_order("swap", CREDS, NOW, "BTC-USDT-SWAP", client_order_id="cid")
    assert json.loads(cancel.body or "") == {"instId": "BTC-USDT-SWAP", "clOrdId": "cid"}
    assert cancel.path == "/api/v5/trade/cancel-order"
    assert rest.parse_cancel("swap", ack, TS) == ("555", "cid")
    with pytest.raises(ValueError):
        rest.build_cancel_order("swap", CREDS, NOW, "BTC-USDT-SWAP")


FAILED_ORDER = body(
    [{"ordId": "", "clOrdId": "x", "sCode": "51008", "sMsg": "Insufficient balance"}],
    code="1",
    msg="All operations failed",
)


@pytest.mark.parametrize(
    "status, raw, exc, code",
    [
        (200, body([], "50113", "Invalid Sign"), AuthError, 50113),
        (401, body([], "50111", "Invalid OK-ACCESS-KEY"), AuthError, 50111),
        (401, body([], "50105", "Passphrase incorrect"), AuthError, 50105),
        (200, body([], "50102", "Timestamp request expired"), AuthError, 50102),
        (429, body([], "50011", "Too Many Requests"), RateLimited, 50011),
        (429, b"", RateLimited, 429),
        (200, body([], "50061", "Sub-account rate limit"), RateLimited, 50061),
        (200, FAILED_ORDER, OrderRejected, 51008),
        (200, body([], "51001", "Instrument ID does not exist"), OrderRejected, 51001),
        (200, body([], "50001", "Service temporarily unavailable"), VenueError, 50001),
        (503, b"<html>", VenueError, 503),
        (401, b"", AuthError, 401),
    ],
)
def test_check_error_mapping(status: int, raw: bytes, exc: type, code: object) -> None:
    with pytest.raises(exc) as info:
        rest.check_error(status, Headers({"Retry-After": "2"}), raw)
    assert type(info.value) is exc and info.value.code == code
    assert SECRET not in str(info.value) and PASSPHRASE not in str(info.value)


def test_check_error_success_and_parsers_raise_venue_errors() -> None:
    rest.check_error(200, Headers({}), body([{"ts": "1"}]))
    rest.check_error(200, Headers({}), b"not json")  # left to the parser
    with pytest.raises(RateLimited) as info:
        rest.check_error(429, Headers({"Retry-After": "2"}), b"")
    assert info.value.retry_after_s == 2.0
    with pytest.raises(OrderRejected):
        rest.parse_order("spot", FAILED_ORDER, TS, rest.build_place_order(
            "spot", CREDS, NOW, "BTC-USDT", "buy", "limit", 1, 1))  # fmt: skip
    with pytest.raises(AuthError):
        rest.parse_account("spot", body([], "50113", "Invalid Sign"), TS)
    assert rest.error_for("0", "") is None and rest.error_for(0, "") is None
    assert isinstance(rest.error_for("60024", "Wrong passphrase"), AuthError)
    assert isinstance(rest.error_for("60014", "Requests too frequent"), RateLimited)

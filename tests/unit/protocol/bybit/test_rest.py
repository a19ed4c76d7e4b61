"""bybit.rest: endpoints and limits as data, builders (signed exactly as sent), parsers, errors."""

from __future__ import annotations

import hashlib
import hmac
import json

import numpy as np
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
from spinstream.protocol.bybit import SPEC, rest
from spinstream.protocol.limits import Bucket, Limiter

SECRET = "rest-test-secret-value"
CREDS = Credentials.of("restkey", SECRET)
NOW = 1_700_000_000_000
MS = 1_000_000


def sig(text: str) -> str:
    return hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


def body(result: object, code: int = 0, msg: str = "OK", time: int = 1690872862481) -> bytes:
    return json.dumps({"retCode": code, "retMsg": msg, "result": result, "time": time}).encode()


# -- limits and endpoints ----------------------------------------------------------------------


def test_limits_are_the_published_ones() -> None:
    lim = rest.LIMITS()
    assert all(isinstance(b, Bucket) for b in lim.values())
    got = {k: (b.limit, b.per_s) for k, b in lim.items()}
    assert got == {
        "ip": (600, 5.0),
        "create_linear": (10, 1.0),
        "create_spot": (20, 1.0),
        "cancel_linear": (10, 1.0),
        "cancel_spot": (20, 1.0),
        "open_orders": (50, 1.0),
        "positions": (50, 1.0),
        "wallet": (50, 1.0),
    }
    assert rest.LIMITS() is not lim and rest.LIMITS()["ip"] is not lim["ip"]  # fresh per account
    assert SPEC.limits is rest.LIMITS


def test_every_endpoint_cost_names_existing_buckets() -> None:
    names = set(rest.LIMITS())
    for name, ep in rest.ENDPOINTS.items():
        assert set(ep.cost) <= names, name
        assert ep.cost["ip"] == 1, name
        assert ep.base in SPEC.rest_bases, name
        assert ep.signed == (name.split(".")[1] not in ("ticker", "time", "orderbook", "instruments"))
    assert rest.ENDPOINTS["linear.place_order"].cost == {"ip": 1, "create_linear": 1}
    assert rest.ENDPOINTS["spot.cancel_order"].cost == {"ip": 1, "cancel_spot": 1}


def test_order_burst_never_exceeds_the_published_limit() -> None:
    limiter = Limiter(rest.LIMITS())
    req = rest.build_place_order("linear", CREDS, NOW, "BTCUSDT", "buy", "limit", 1, 100)
    sent = [limiter.take(req.cost, 0) for _ in range(40)]  # all asked at t=0; sent after waits
    assert sent[0] == 0 and sent == sorted(sent) and sent[-1] > 0
    for i, t in enumerate(sent):  # any 1 s window holds at most 10 creates
        assert sum(t <= u < t + 1_000_000_000 for u in sent[i:]) <= 10


# -- builders ----------------------------------------------------------------------------------


def test_build_ticker_orderbook_instruments() -> None:
    t = rest.build_ticker("spot", "BTCUSDT")
    assert (t.method, t.base, t.path, t.query, t.headers) == (
        "GET", "spot", "/v5/market/tickers", "category=spot&symbol=BTCUSDT", {},
    )  # fmt: skip
    ob = rest.build_orderbook("linear", "BTCUSDT", 5000)
    assert (
        ob.query == "category=linear&symbol=BTCUSDT&limit=1000"
        and ob.path == "/v5/market/orderbook"
    )
    assert rest.build_orderbook("linear", "X", 0).query.endswith("limit=1")
    one = rest.build_instruments("linear", "ETHUSDT")
    assert one.query == "category=linear&symbol=ETHUSDT"
    allq = rest.build_instruments("linear", cursor="abc%3D1")
    assert allq.query == "category=linear&status=Trading&limit=1000&cursor=abc%3D1"
    assert rest.build_instruments("spot").query == "category=spot&status=Trading"
    with pytest.raises(UnsupportedError):
        rest.build_ticker("inverse", "BTCUSD")


def test_build_account_positions_open_orders_are_signed_over_the_query() -> None:
    acct = rest.build_account("linear", CREDS, NOW)
    assert acct.path == "/v5/account/wallet-balance" and acct.query == "accountType=UNIFIED"
    assert acct.headers["X-BAPI-SIGN"] == sig(f"{NOW}restkey5000accountType=UNIFIED")
    pos = rest.build_positions("linear", CREDS, NOW, settle_coin="USDC", cursor="c%2C1")
    assert pos.query == "category=linear&settleCoin=USDC&limit=200&cursor=c%2C1"
    assert pos.headers["X-BAPI-SIGN"] == sig(f"{NOW}restkey5000{pos.query}")
    assert rest.build_positions("linear", CREDS, NOW, "BTCUSDT").query == (
        "category=linear&symbol=BTCUSDT"
    )
    with pytest.raises(UnsupportedError):
        rest.build_positions("spot", CREDS, NOW)
    lin = rest.build_open_orders("linear", CREDS, NOW)
    assert lin.query == "category=linear&settleCoin=USDT&limit=50"
    spot = rest.build_open_orders("spot", CREDS, NOW)
    assert spot.query == "category=spot&limit=50" and spot.cost == {"ip": 1, "open_orders": 1}
    assert rest.build_open_orders("linear", CREDS, NOW, "ETHUSDT").query == (
        "category=linear&symbol=ETHUSDT&limit=50"
    )


def test_build_place_order_bodies() -> None:
    req = rest.build_place_order(
        "linear", CREDS, NOW, "BTCUSDT", "buy", "limit", 0.00001, 65000.5, "post_only", "cid-1"
    )
    assert (req.method, req.path, req.cost) == (
        "POST", "/v5/order/create", {"ip": 1, "create_linear": 1},
    )  # fmt: skip
    assert json.loads(req.body or "") == {
        "category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
        "qty": "0.00001", "price": "65000.5", "timeInForce": "PostOnly", "orderLinkId": "cid-1",
    }  # fmt: skip
    assert req.headers["X-BAPI-SIGN"] == sig(f"{NOW}restkey5000{req.body}")
    assert req.headers["Content-Type"] == "application/json" and req.query == ""
    spot_mkt = rest.build_place_order("spot", CREDS, NOW, "ETHUSDT", "sell", "market", "1.5")
    assert json.loads(spot_mkt.body or "") == {
        "category": "spot", "symbol": "ETHUSDT", "side": "Sell", "orderType": "Market",
        "qty": "1.5", "marketUnit": "baseCoin",
    }  # fmt: skip
    assert spot_mkt.cost == {"ip": 1, "create_spot": 1}
    for bad in (
        dict(price=None),
        dict(quantity=0),
        dict(quantity=float("nan")),
        dict(side="long"),
        dict(time_in_force="day"),
    ):
        kw = dict(quantity=1, price=1.0) | bad
        with pytest.raises(ValueError):
            rest.build_place_order(
                "linear",
                CREDS,
                NOW,
                "BTCUSDT",
                kw.pop("side", "buy"),
                "limit",
                **kw,  # type: ignore[arg-type]
            )


def test_build_cancel_order() -> None:
    by_id = rest.build_cancel_order("spot", CREDS, NOW, "BTCUSDT", order_id="123")
    assert json.loads(by_id.body or "") == {
        "category": "spot",
        "symbol": "BTCUSDT",
        "orderId": "123",
    }
    assert by_id.cost == {"ip": 1, "cancel_spot": 1} and by_id.path == "/v5/order/cancel"
    by_cid = rest.build_cancel_order("linear", CREDS, NOW, "BTCUSDT", client_order_id="c")
    assert json.loads(by_cid.body or "")["orderLinkId"] == "c"
    with pytest.raises(ValueError):
        rest.build_cancel_order("linear", CREDS, NOW, "BTCUSDT")


# -- parsers -----------------------------------------------------------------------------------


def test_parse_ticker_rest() -> None:
    b = body({"category": "spot", "list": [
        {"symbol": "ETHUSDT", "bid1Price": "1", "bid1Size": "2", "ask1Price": "3",
         "ask1Size": "4", "lastPrice": "2", "volume24h": "5"},
        {"symbol": "BTCUSDT", "bid1Price": "65140.4", "bid1Size": "0.8", "ask1Price": "65140.5",
         "ask1Size": "0.4", "lastPrice": "65140.5", "volume24h": "2953.8"}]})  # fmt: skip
    t = rest.parse_ticker("spot", "BTCUSDT", b, 11)
    assert (t.source, t.market, t.bid, t.ask, t.last) == ("rest", "spot", 65140.4, 65140.5, 65140.5)
    assert t.ts_event == 1690872862481 * MS and t.last_update == 11
    with pytest.raises(ParseError):
        rest.parse_ticker("spot", "XRPUSDT", b, 11)


def test_parse_orderbook_rest() -> None:
    b = body({"s": "BTCUSDT", "b": [["65485.47", "47.081829"], ["65485", "0.1"]],
              "a": [["65557.7", "16.606555"]], "ts": 1716863719031, "u": 230704,
              "seq": 1432604333})  # fmt: skip
    ob = rest.parse_orderbook("spot", "BTCUSDT", b, 5, depth=1)
    assert ob.bids.shape == (1, 2) and ob.bids.dtype == np.float64
    assert ob.best_bid == 65485.47 and ob.best_ask == 65557.7 and ob.seq == 230704
    assert ob.ts_event == 1716863719031 * MS and ob.source == "rest"
    empty = rest.parse_orderbook("spot", "BTCUSDT", body({"s": "X", "b": [], "a": []}), 5, 10)
    assert empty.bids.shape == (0, 2) and empty.best_bid is None


def test_parse_instruments() -> None:
    b = body({"category": "linear", "list": [
        {"symbol": "BTCUSDT", "priceFilter": {"tickSize": "0.10"},
         "lotSizeFilter": {"qtyStep": "0.001"}},
        {"symbol": "DOGEUSDT", "priceFilter": {"tickSize": "0.00001"},
         "lotSizeFilter": {"qtyStep": "1"}}]})  # fmt: skip
    steps = rest.parse_instruments(b)
    assert steps["BTCUSDT"] == rest.InstrumentSteps(
        symbol="BTCUSDT", tick_size="0.10", size_step="0.001", price_decimals=2, size_decimals=3
    )
    assert (steps["DOGEUSDT"].price_decimals, steps["DOGEUSDT"].size_decimals) == (5, 0)


def test_parse_account_positions_orders_and_cursor() -> None:
    acct = rest.parse_account("linear", body({"list": [{"accountType": "UNIFIED",
        "totalEquity": "3.3", "totalAvailableBalance": "3.0",
        "coin": [{"coin": "BTC", "walletBalance": "0.1", "locked": "0"}]}]}), 1)  # fmt: skip
    assert acct.balance("BTC").free == 0.1 and acct.source == "rest" and acct.equity == 3.3
    pos_body = body({"category": "linear", "nextPageCursor": "", "list": [
        {"symbol": "BTCUSDT", "side": "Sell", "size": "0.01", "avgPrice": "65000",
         "positionIdx": 0, "leverage": "10", "markPrice": "64000", "unrealisedPnl": "10",
         "updatedTime": "1697682317038", "seq": 5}]})  # fmt: skip
    (pos,) = rest.parse_positions("linear", pos_body, 1)
    assert (pos.size, pos.entry_price, pos.market) == (-0.01, 65000.0, "linear")
    assert rest.next_cursor(pos_body) is None
    ord_body = body({"category": "spot", "nextPageCursor": "page%3D2", "list": [
        {"symbol": "BTCUSDT", "orderId": "1", "orderLinkId": "", "side": "Buy",
         "orderType": "Limit", "price": "60000", "qty": "0.1", "orderStatus": "New",
         "cumExecQty": "0", "avgPrice": "", "timeInForce": "GTC"}]})  # fmt: skip
    (order,) = rest.parse_open_orders("spot", ord_body, 1)
    assert (order.market, order.status, order.price) == ("spot", "new", 60000.0)
    assert rest.next_cursor(ord_body) == "page%3D2"
    assert rest.next_cursor(b"junk") is None


def test_parse_order_from_create_answer_and_request() -> None:
    req = rest.build_place_order("linear", CREDS, NOW, "BTCUSDT", "sell", "limit", 0.01, 70000)
    ans = body({"orderId": "1321003749386327552", "orderLinkId": ""})
    o = rest.parse_order("linear", ans, 9, request=req)
    assert (o.order_id, o.symbol, o.side, o.type, o.price, o.quantity, o.status) == (
        "1321003749386327552", "BTCUSDT", "sell", "limit", 70000.0, 0.01, "new",
    )  # fmt: skip
    assert o.time_in_force == "GTC" and o.source == "rest" and o.last_update == 9
    with pytest.raises(ParseError):
        rest.parse_order("linear", ans, 9)  # an ack alone has no order details
    listed = body({"list": [{"symbol": "X", "orderId": "7", "side": "Buy", "orderType": "Market",
                             "qty": "1", "orderStatus": "Filled"}]})  # fmt: skip
    assert rest.parse_order("spot", listed, 1).status == "filled"
    assert rest.parse_cancel("spot", body({"orderId": "7", "orderLinkId": "c"}), 1) == ("7", "c")


def test_parsers_raise_venue_errors_and_parse_errors() -> None:
    with pytest.raises(AuthError):
        rest.parse_account("linear", body({}, 10003, "API key is invalid."), 1)
    with pytest.raises(ParseError):
        rest.parse_account("linear", b"<html>", 1)
    with pytest.raises(ParseError):
        rest.parse_positions("linear", body({"list": [{"symbol": "X"}]}), 1)  # no size


# -- check_error -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, code, exc",
    [
        (200, 10003, AuthError), (200, 10004, AuthError), (200, 10005, AuthError),
        (200, 33004, AuthError), (200, 10010, AuthError), (200, 10006, RateLimited),
        (200, 10018, RateLimited), (200, 110007, OrderRejected), (200, 110001, OrderRejected),
        (200, 170131, OrderRejected), (200, 10001, VenueError), (200, 10016, VenueError),
    ],
)  # fmt: skip
def test_check_error_codes(status: int, code: int, exc: type[Exception]) -> None:
    with pytest.raises(exc) as info:
        rest.check_error(status, {}, body({}, code, "msg"))
    assert info.value.code == code and info.value.venue == "bybit"  # type: ignore[attr-defined]
    if exc is VenueError:
        assert type(info.value) is VenueError


def test_check_error_http_statuses_and_success() -> None:
    rest.check_error(200, {}, body({"list": []}))
    rest.check_error(200, {}, b"not json")  # left to the parser
    with pytest.raises(RateLimited):
        rest.check_error(403, {}, b"<html>access too frequent</html>")
    with pytest.raises(RateLimited):
        rest.check_error(429, {}, b"")
    with pytest.raises(AuthError):
        rest.check_error(401, {}, b"")
    with pytest.raises(VenueError):
        rest.check_error(502, {}, b"<html>bad gateway</html>")
    with pytest.raises(VenueError):
        rest.check_error(404, {}, body({}, 0, "not found"))


def test_no_secret_in_requests_or_errors() -> None:
    req = rest.build_place_order("spot", CREDS, NOW, "BTCUSDT", "buy", "limit", 1, 1)
    assert (
        SECRET not in repr(req)
        and SECRET not in (req.body or "")
        and SECRET not in str(req.headers)
    )
    try:
        rest.check_error(200, {}, body({}, 10004, "Error sign"))
    except AuthError as exc:
        assert SECRET not in str(exc)

"""Binance REST as data: limits, weights, builders, parsers and the error mapping."""

from __future__ import annotations

from urllib.parse import parse_qs

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
from spinstream.protocol.binance import SPEC, rest
from spinstream.protocol.headers import Headers
from spinstream.protocol.limits import Limiter

SECRET = "rest-test-secret-value-0123456789"
CREDS = Credentials.of("rest-key", SECRET)
TS = 1_700_000_000_000_000_000
NOW_MS = TS // 1_000_000


def q(req) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: v[0] for k, v in parse_qs(req.query, keep_blank_values=True).items()}


def test_published_limits() -> None:
    b = rest.LIMITS()
    published = {name: (bucket.limit, bucket.per_s) for name, bucket in b.items()}
    assert published == {
        "spot_weight": (6000, 60),
        "spot_raw": (61_000, 300),
        "spot_orders_10s": (100, 10),
        "spot_orders_1d": (200_000, 86_400),
        "usdm_weight": (2400, 60),
        "usdm_orders_10s": (300, 10),
        "usdm_orders_1m": (1200, 60),
    }
    assert rest.LIMITS() is not b and rest.LIMITS()["spot_weight"] is not b["spot_weight"]
    assert SPEC.limits is rest.LIMITS


def test_every_endpoint_cost_names_a_bucket_of_its_market() -> None:
    buckets = rest.LIMITS()
    for name, ep in rest.ENDPOINTS.items():
        market = name.split(".")[0]
        assert ep.base == market and ep.cost, name
        assert all(k in buckets and k.startswith(market) for k in ep.cost), name
        assert ep.path.startswith("/api/v3/" if market == "spot" else "/fapi/"), name


def test_order_endpoints_count_orders() -> None:
    assert rest.ENDPOINTS["spot.place_order"].cost == {
        "spot_weight": 1,
        "spot_raw": 1,
        "spot_orders_10s": 1,
        "spot_orders_1d": 1,
    }
    assert rest.ENDPOINTS["usdm.place_order"].cost == {"usdm_orders_10s": 1, "usdm_orders_1m": 1}


@pytest.mark.parametrize(
    ("market", "asked", "limit", "weight"),
    [
        ("spot", 5, 5, 5),
        ("spot", 100, 100, 5),
        ("spot", 101, 101, 25),
        ("spot", 1000, 1000, 50),
        ("spot", 5000, 5000, 250),
        ("spot", 9999, 5000, 250),
        ("usdm", 1, 5, 2),
        ("usdm", 50, 50, 2),
        ("usdm", 51, 100, 5),
        ("usdm", 500, 500, 10),
        ("usdm", 1000, 1000, 20),
        ("usdm", 5000, 1000, 20),
    ],
)
def test_depth_weights(market: str, asked: int, limit: int, weight: int) -> None:
    assert rest.depth_weight(market, asked) == (limit, weight)
    req = rest.build_orderbook(market, "BTCUSDT", asked)
    assert q(req) == {"symbol": "BTCUSDT", "limit": str(limit)}
    assert req.cost[f"{market}_weight"] == weight


def test_unknown_market() -> None:
    with pytest.raises(ValueError):
        rest.build_ticker("coinm", "BTCUSD_PERP")


def test_spot_ticker_round_trip() -> None:
    req = rest.build_ticker("spot", "BNBBTC")
    assert (req.method, req.path, q(req), req.cost["spot_weight"]) == (
        "GET",
        "/api/v3/ticker/24hr",
        {"symbol": "BNBBTC"},
        2,
    )
    body = (
        b'{"symbol":"BNBBTC","priceChange":"-94.99999800","lastPrice":"4.00000200",'
        b'"lastQty":"200.00000000","bidPrice":"4.00000000","bidQty":"100.00000000",'
        b'"askPrice":"4.00000200","askQty":"100.00000000","volume":"8913.30000000",'
        b'"openTime":1499783499040,"closeTime":1499869899040,"count":76}'
    )
    t = rest.parse_ticker("spot", "BNBBTC", body, TS)
    assert (t.bid, t.ask, t.last, t.volume_24h, t.source) == (
        4.0,
        4.000002,
        4.000002,
        8913.3,
        "rest",
    )
    assert t.ts_event == 1499869899040_000_000 and t.last_update == TS


def test_usdm_ticker_round_trip() -> None:
    req = rest.build_ticker("usdm", "BTCUSDT")
    assert req.path == "/fapi/v1/ticker/bookTicker" and req.base == "usdm"
    body = (
        b'{"lastUpdateId":1027024,"symbol":"BTCUSDT","bidPrice":"4.00000000",'
        b'"bidQty":"431.00000000","askPrice":"4.00000200","askQty":"9.00000000",'
        b'"time":1589437530011}'
    )
    t = rest.parse_ticker("usdm", "BTCUSDT", body, TS)
    assert (t.bid, t.bid_size, t.ask, t.ask_size, t.last) == (4.0, 431.0, 4.000002, 9.0, None)


def test_orderbook_round_trip() -> None:
    body = b'{"lastUpdateId":9,"E":1,"T":1,"bids":[["3","1"],["2","2"]],"asks":[["4","5"]]}'
    book = rest.parse_orderbook("usdm", "BTCUSDT", body, TS, 1)
    assert book.bids.tolist() == [[3.0, 1.0]] and book.seq == 9 and book.source == "rest"


def test_signed_account_requests() -> None:
    spot = rest.build_account("spot", CREDS, NOW_MS)
    params = q(spot)
    assert spot.path == "/api/v3/account" and params["omitZeroBalances"] == "true"
    assert params["timestamp"] == str(NOW_MS) and params["recvWindow"] == "5000"
    assert len(params["signature"]) == 64 and spot.headers["X-MBX-APIKEY"] == "rest-key"
    assert spot.cost["spot_weight"] == 20
    usdm = rest.build_account("usdm", CREDS, NOW_MS)
    assert usdm.path == "/fapi/v3/account" and usdm.cost == {"usdm_weight": 5}


def test_parse_accounts() -> None:
    spot = rest.parse_account(
        "spot",
        b'{"updateTime":123,"balances":['
        b'{"asset":"BTC","free":"1.5","locked":"0.5"},'
        b'{"asset":"LTC","free":"0","locked":"0"}]}',
        TS,
    )
    assert list(spot.balances) == ["BTC"] and spot.balances["BTC"].total == 2.0
    assert spot.ts_event == 123_000_000 and spot.source == "rest"
    usdm = rest.parse_account(
        "usdm",
        b'{"totalMarginBalance":"105","availableBalance":"80",'
        b'"assets":[{"asset":"USDT","walletBalance":"100",'
        b'"availableBalance":"80","updateTime":7}]}',
        TS,
    )
    assert (usdm.equity, usdm.available, usdm.balances["USDT"].free) == (105.0, 80.0, 100.0)


def test_positions() -> None:
    with pytest.raises(UnsupportedError):
        rest.build_positions("spot", CREDS, NOW_MS)
    req = rest.build_positions("usdm", CREDS, NOW_MS, "BTCUSDT")
    assert req.path == "/fapi/v3/positionRisk" and q(req)["symbol"] == "BTCUSDT"
    body = (
        b'[{"symbol":"BTCUSDT","positionSide":"BOTH","positionAmt":"-0.25",'
        b'"entryPrice":"40000","markPrice":"41000","unRealizedProfit":"-250",'
        b'"updateTime":5},{"symbol":"ETHUSDT","positionSide":"BOTH","positionAmt":"0"}]'
    )
    (p,) = rest.parse_positions("usdm", body, TS)
    assert (p.symbol, p.size, p.mark_price, p.unrealized_pnl) == ("BTCUSDT", -0.25, 41000.0, -250.0)


def test_open_orders_weights_and_parse() -> None:
    one = rest.build_open_orders("spot", CREDS, NOW_MS, "LTCBTC")
    every = rest.build_open_orders("spot", CREDS, NOW_MS)
    assert (one.cost["spot_weight"], every.cost["spot_weight"]) == (6, 80)
    assert "symbol" not in q(every)
    assert rest.build_open_orders("usdm", CREDS, NOW_MS).cost == {"usdm_weight": 40}
    body = (
        b'[{"symbol":"LTCBTC","orderId":1,"clientOrderId":"myOrder1","price":"0.1",'
        b'"origQty":"1.0","executedQty":"0.0","cummulativeQuoteQty":"0.0",'
        b'"status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"BUY",'
        b'"time":1499827319559,"updateTime":1499827319559}]'
    )
    (o,) = rest.parse_open_orders("spot", body, TS)
    assert (o.order_id, o.client_order_id, o.price, o.status) == ("1", "myOrder1", 0.1, "new")


def test_place_order_params() -> None:
    req = rest.build_place_order(
        "usdm", CREDS, NOW_MS, "BTCUSDT", "sell", "limit", 0.001, 43000.5, client_order_id="mine-1"
    )
    p = q(req)
    assert (req.method, req.path) == ("POST", "/fapi/v1/order")
    assert (p["side"], p["type"], p["timeInForce"], p["quantity"], p["price"]) == (
        "SELL",
        "LIMIT",
        "GTC",
        "0.001",
        "43000.5",
    )
    assert p["newClientOrderId"] == "mine-1"
    market = q(rest.build_place_order("spot", CREDS, NOW_MS, "X", "BUY", "MARKET", "1e-5"))
    assert market["quantity"] == "1e-5" and "price" not in market and "timeInForce" not in market
    from decimal import Decimal

    assert (
        q(rest.build_place_order("spot", CREDS, 1, "X", "buy", "market", Decimal("1E-7")))[
            "quantity"
        ]
        == "0.0000001"
    )
    with pytest.raises(ValueError):
        rest.build_place_order("spot", CREDS, 1, "X", "buy", "limit", "1")  # no price
    with pytest.raises(ValueError):
        rest.build_place_order("spot", CREDS, 1, "X", "hold", "market", "1")
    with pytest.raises(ValueError):
        rest.build_place_order("spot", CREDS, 1, "X", "buy", "market", "-1")
    with pytest.raises(ValueError):
        rest.build_place_order("spot", CREDS, 1, "X", "buy", "market", float("nan"))


def test_cancel_order() -> None:
    by_id = q(rest.build_cancel_order("spot", CREDS, NOW_MS, "LTCBTC", order_id=12))
    assert by_id["orderId"] == "12" and "origClientOrderId" not in by_id
    by_client = rest.build_cancel_order("usdm", CREDS, NOW_MS, "BTCUSDT", client_order_id="c9")
    assert by_client.method == "DELETE" and q(by_client)["origClientOrderId"] == "c9"
    with pytest.raises(ValueError):
        rest.build_cancel_order("spot", CREDS, NOW_MS, "LTCBTC")


def test_parse_order_answers() -> None:
    placed = (
        b'{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2k",'
        b'"transactTime":1507725176595,"price":"0.00000000","origQty":"10.00000000",'
        b'"executedQty":"10.00000000","cummulativeQuoteQty":"10.00000000",'
        b'"status":"FILLED","timeInForce":"GTC","type":"MARKET","side":"SELL",'
        b'"fills":[{"price":"4000.00000000","qty":"1.00000000"}]}'
    )
    o = rest.parse_order("spot", placed, TS)
    assert (o.status, o.avg_price, o.price, o.source) == ("filled", 1.0, None, "rest")
    with pytest.raises(ParseError):
        rest.parse_order("spot", b'{"symbol":"BTCUSDT"}', TS)
    with pytest.raises(ParseError):
        rest.parse_order("spot", b"<html>", TS)


def test_exchange_info_request() -> None:
    spot = rest.build_exchange_info("spot", ("ETHBTC", "BNBBTC"))
    assert q(spot) == {"symbols": '["BNBBTC","ETHBTC"]'} and spot.cost["spot_weight"] == 20
    assert rest.build_exchange_info("usdm", ("BTCUSDT",)).query == ""


def test_listen_key_requests() -> None:
    new, keep = rest.build_listen_key(CREDS), rest.build_listen_key_keepalive(CREDS)
    assert (new.method, keep.method, new.path) == ("POST", "PUT", "/fapi/v1/listenKey")
    assert new.query == "" and new.cost == {"usdm_weight": 1}
    assert rest.parse_listen_key(b'{"listenKey":"abc"}') == "abc"
    assert rest.parse_listen_key(b"{}") is None


@pytest.mark.parametrize(
    ("status", "body", "exc", "code"),
    [
        (
            400,
            b'{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}',
            AuthError,
            -1021,
        ),
        (400, b'{"code":-1022,"msg":"Signature for this request is not valid."}', AuthError, -1022),
        (401, b'{"code":-2014,"msg":"API-key format invalid."}', AuthError, -2014),
        (
            401,
            b'{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}',
            AuthError,
            -2015,
        ),
        (
            400,
            b'{"code":-2010,"msg":"Account has insufficient balance for requested action."}',
            OrderRejected,
            -2010,
        ),
        (400, b'{"code":-2011,"msg":"Unknown order sent."}', OrderRejected, -2011),
        (400, b'{"code":-1013,"msg":"Filter failure: LOT_SIZE"}', OrderRejected, -1013),
        (
            400,
            b'{"code":-4164,"msg":"Order\'s notional must be no smaller than 5"}',
            OrderRejected,
            -4164,
        ),
        (400, b'{"code":-1121,"msg":"Invalid symbol."}', VenueError, -1121),
        (503, b"<html>Service Unavailable</html>", VenueError, 503),
    ],
)
def test_check_error_mapping(status: int, body: bytes, exc: type, code: int) -> None:
    with pytest.raises(exc) as info:
        rest.check_error(status, {}, body)
    assert type(info.value) is exc and info.value.code == code and info.value.venue == "binance"


@pytest.mark.parametrize("status", [429, 418])
def test_rate_limited_carries_retry_after(status: int) -> None:
    body = b'{"code":-1003,"msg":"Too many requests; current limit is 6000 request weight."}'
    with pytest.raises(RateLimited) as info:
        rest.check_error(status, Headers({"retry-after": "17"}), body)  # as the transport hands it
    assert info.value.retry_after_s == 17.0 and "17" in str(info.value)  # type: ignore[attr-defined]


def test_success_is_not_an_error() -> None:
    rest.check_error(200, {}, b'{"code":-1}')  # bodies of 2xx answers are parsed, not checked


def test_limiter_books_endpoint_costs() -> None:
    lim = Limiter(rest.LIMITS())
    req = rest.build_orderbook("spot", "BTCUSDT", 5000)
    waits = [lim.take(req.cost, 0) for _ in range(6)]  # a burst of 1200 weight: 4 x 250
    assert waits[:4] == [0, 0, 0, 0] and waits[4] > 0 and waits[5] > waits[4]
    for name, ep in rest.ENDPOINTS.items():  # every single call fits a bucket's burst
        assert lim.wait_ns(ep.cost, 10**18) == 0, name

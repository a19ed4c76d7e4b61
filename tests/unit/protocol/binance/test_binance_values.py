"""Issue 9 defect 2: a number that cannot be true for its field makes a Binance frame Malformed.

"NaN", "Infinity", 1e999, 0 and negative values never reach the cache as fresh: each frame
below is Malformed (counted), emits no update, and the next valid frame still works. The REST
parsers (fallback answers and the stream's seeds) refuse the same values with `ParseError`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from spinstream.credentials import Credentials
from spinstream.errors import ParseError
from spinstream.protocol.binance import (
    BinanceSpotPublic,
    BinanceSpotUser,
    BinanceUsdmMarket,
    BinanceUsdmPublic,
    BinanceUsdmUser,
    rest,
)
from spinstream.protocol.events import Malformed

S = 1_000_000_000
T0 = 1_700_000_000 * S
CREDS = Credentials.of("values-test-key", "values-test-secret-0123456789")
SEED_MS = 1_700_000_000_000

NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "nan", "inf"]
BAD_PRICE = [*NON_FINITE, "0", "0.00000000", "-1", "-0.5"]
BAD_SIZE = [*NON_FINITE, "-1", "-0.001"]


def enc(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def wrap(stream: str, data: dict[str, Any]) -> str:
    return json.dumps({"stream": stream, "data": data})


def bad_once(p: Any, bad: str | bytes, good: str | bytes, ts: int = T0) -> list[Any]:
    """Feed BAD (must be Malformed and counted), then GOOD; return GOOD's events."""
    before = p.counters["malformed"]
    events = p.receive(bad, ts)
    assert [type(e) for e in events] == [Malformed], events
    assert p.counters["malformed"] == before + 1
    out = p.receive(good, ts + 1)
    assert out and not any(isinstance(e, Malformed) for e in out), out
    return out


# --- tickers --------------------------------------------------------------------------------


def book_ticker(b: str = "100.5", bq: str = "1.5", a: str = "100.6", aq: str = "2.5") -> str:
    return wrap("btcusdt@bookTicker", {"u": 1, "s": "BTCUSDT", "b": b, "B": bq, "a": a, "A": aq})


@pytest.mark.parametrize("cls", [BinanceSpotPublic, BinanceUsdmPublic])
@pytest.mark.parametrize("value", BAD_PRICE)
@pytest.mark.parametrize("field", ["b", "a"])
def test_book_ticker_bad_price(cls: Any, field: str, value: str) -> None:
    p = cls(cls.market)
    p.subscribe("ticker", "BTCUSDT")
    p.connected(T0)
    (ok,) = bad_once(p, book_ticker(**{field: value}), book_ticker())
    assert ok.ticker.bid == 100.5 and ok.ticker.ask == 100.6


@pytest.mark.parametrize("value", BAD_SIZE)
@pytest.mark.parametrize("field", ["bq", "aq"])
def test_book_ticker_bad_size(field: str, value: str) -> None:
    p = BinanceSpotPublic("spot")
    p.subscribe("ticker", "BTCUSDT")
    p.connected(T0)
    bad_once(p, book_ticker(**{field: value}), book_ticker())


def test_book_ticker_bad_value_as_json_number() -> None:
    """The per-frame decoder reads JSON numbers too: 1e999 and -1 written as numbers."""
    p = BinanceSpotPublic("spot")
    p.subscribe("ticker", "BTCUSDT")
    p.connected(T0)
    for raw in ("1e999", "-1", "0"):
        frame = book_ticker().replace('"b": "100.5"', f'"b": {raw}')
        assert raw in frame
        bad_once(p, frame, book_ticker())


def ticker24(c: str = "100.55", v: str = "1234.5", **levels: str) -> str:
    data = {"e": "24hrTicker", "E": 1700000000500, "s": "BTCUSDT", "c": c, "v": v, **levels}
    return wrap("btcusdt@ticker", data)


@pytest.mark.parametrize("value", BAD_PRICE)
def test_24h_ticker_bad_last(value: str) -> None:
    p = BinanceSpotPublic("spot")
    p.subscribe("ticker", "BTCUSDT")
    p.connected(T0)
    p.receive(book_ticker(), T0)
    (ok,) = bad_once(p, ticker24(c=value), ticker24())
    assert ok.ticker.last == 100.55 and ok.ticker.bid == 100.5


@pytest.mark.parametrize("value", BAD_SIZE)
def test_24h_ticker_bad_volume(value: str) -> None:
    p = BinanceSpotPublic("spot")
    p.subscribe("ticker", "BTCUSDT")
    p.connected(T0)
    bad_once(p, ticker24(v=value), ticker24())


@pytest.mark.parametrize("value", BAD_PRICE)
def test_24h_ticker_bad_level_before_any_book_ticker(value: str) -> None:
    p = BinanceSpotPublic("spot")
    p.subscribe("ticker", "BTCUSDT")
    p.connected(T0)
    bad_once(p, ticker24(b=value, B="1", a="101", A="1"), ticker24(b="99", B="1", a="101", A="1"))


@pytest.mark.parametrize("value", BAD_PRICE)
def test_usdm_ticker_stats_bad_last(value: str) -> None:
    p = BinanceUsdmMarket()
    p.subscribe("ticker24h", "BTCUSDT")
    p.connected(T0)
    (ok,) = bad_once(p, ticker24(c=value), ticker24())
    assert ok.last == 100.55


# --- spot user data -------------------------------------------------------------------------


def spot_user_live() -> BinanceSpotUser:
    p = BinanceSpotUser("spot", CREDS)
    p.subscribe("account")
    p.subscribe("orders")
    p.connected(T0)
    (login,) = [json.loads(f) for f in p.outgoing()]
    p.receive(enc({"id": login["id"], "status": 200, "result": {"subscriptionId": 0}}), T0)
    reqs = {r.path: r for r in p.requests()}
    p.rest_response(reqs["/api/v3/openOrders"].req_id, 200, b"[]", T0)
    acct = {"updateTime": SEED_MS, "balances": [{"asset": "BTC", "free": "1", "locked": "0"}]}
    events = p.rest_response(reqs["/api/v3/account"].req_id, 200, enc(acct), T0)
    assert events and p.state.name == "LIVE"
    return p


def user_event(event: dict[str, Any]) -> bytes:
    return enc({"subscriptionId": 0, "event": event})


def position_push(free: str = "2", locked: str = "0.5") -> bytes:
    return user_event(
        {
            "e": "outboundAccountPosition",
            "E": SEED_MS + 5,
            "u": SEED_MS + 5,
            "B": [{"a": "BTC", "f": free, "l": locked}],
        }
    )


@pytest.mark.parametrize("value", BAD_SIZE)
@pytest.mark.parametrize("field", ["free", "locked"])
def test_spot_balance_bad(field: str, value: str) -> None:
    p = spot_user_live()
    (ok,) = bad_once(p, position_push(**{field: value}), position_push())
    assert ok.account.balances["BTC"].free == 2.0


@pytest.mark.parametrize("value", NON_FINITE)
def test_spot_balance_delta_bad(value: str) -> None:
    p = spot_user_live()
    delta = {"e": "balanceUpdate", "E": SEED_MS + 6, "a": "BTC", "d": value, "T": SEED_MS + 6}
    good = {**delta, "d": "-0.5"}
    (ok,) = bad_once(p, user_event(delta), user_event(good))
    assert ok.account.balances["BTC"].free == 0.5


def test_spot_balance_delta_leaving_a_negative_balance() -> None:
    p = spot_user_live()
    delta = {"e": "balanceUpdate", "E": SEED_MS + 6, "a": "BTC", "d": "-1.5", "T": SEED_MS + 6}
    bad_once(p, user_event(delta), user_event({**delta, "d": "0.25"}))


def exec_report(**over: str) -> bytes:
    event = {
        "e": "executionReport",
        "E": SEED_MS + 5,
        "s": "BTCUSDT",
        "c": "c1",
        "C": "",
        "S": "BUY",
        "o": "LIMIT",
        "f": "GTC",
        "q": "1.0",
        "p": "100.0",
        "X": "NEW",
        "i": 1,
        "z": "0",
        "Z": "0",
        "T": SEED_MS + 5,
        **over,
    }
    return user_event(event)


@pytest.mark.parametrize(
    ("field", "value"),
    [("p", v) for v in [*NON_FINITE, "-1"]]  # "0" is a market order's "no price"
    + [(f, v) for f in ("q", "z", "Z") for v in BAD_SIZE],
)
def test_execution_report_bad(field: str, value: str) -> None:
    p = spot_user_live()
    (ok,) = bad_once(p, exec_report(**{field: value}), exec_report())
    assert ok.orders[0].price == 100.0


# --- USD-M user data ------------------------------------------------------------------------


def usdm_user_live() -> BinanceUsdmUser:
    p = BinanceUsdmUser("usdm", CREDS)
    p.start(T0)
    (post,) = p.requests()
    p.rest_response(post.req_id, 200, enc({"listenKey": "k" * 60}), T0)
    p.connected(T0)
    reqs = {r.path: r for r in p.requests()}
    p.rest_response(reqs["/fapi/v3/positionRisk"].req_id, 200, b"[]", T0)
    p.rest_response(reqs["/fapi/v1/openOrders"].req_id, 200, b"[]", T0)
    p.rest_response(reqs["/fapi/v3/account"].req_id, 200, enc({"assets": []}), T0)
    assert p.state.name == "LIVE"
    return p


def order_update(**over: str) -> bytes:
    o = {"s": "BTCUSDT", "c": "x1", "S": "SELL", "o": "LIMIT", "f": "GTC", "q": "0.5"}
    o |= {"p": "42000", "ap": "0", "X": "NEW", "i": 9, "z": "0", "T": 1, **over}
    return enc({"e": "ORDER_TRADE_UPDATE", "E": 1700000000100, "T": 1, "o": o})


@pytest.mark.parametrize(
    ("field", "value"),
    [(f, v) for f in ("p", "ap") for v in [*NON_FINITE, "-1"]]
    + [(f, v) for f in ("q", "z") for v in BAD_SIZE],
)
def test_usdm_order_bad(field: str, value: str) -> None:
    p = usdm_user_live()
    (ok,) = bad_once(p, order_update(**{field: value}), order_update())
    assert ok.orders[0].quantity == 0.5


def account_update(wb: str = "9990", **pos: str) -> bytes:
    position = {"s": "BTCUSDT", "pa": "0.5", "ep": "40000", "up": "-12.5", "ps": "BOTH", **pos}
    data = {"m": "ORDER", "B": [{"a": "USDT", "wb": wb, "cw": wb}], "P": [position]}
    return enc({"e": "ACCOUNT_UPDATE", "E": 1700000000200, "T": 1, "a": data})


@pytest.mark.parametrize(
    ("field", "value"),
    [("wb", v) for v in NON_FINITE]  # a Multi-Assets wallet balance may be negative
    + [("pa", v) for v in NON_FINITE]  # signed: negative is short
    + [("up", v) for v in NON_FINITE]  # PnL: negative is a loss
    + [("ep", v) for v in [*NON_FINITE, "0", "-1"]],  # an open position has an entry > 0
)
def test_usdm_account_update_bad(field: str, value: str) -> None:
    p = usdm_user_live()
    (bal, pos) = bad_once(p, account_update(**{field: value}), account_update())
    assert bal.account.balances["USDT"].free == 9990.0
    assert pos.positions[0].size == 0.5 and pos.positions[0].unrealized_pnl == -12.5


def test_usdm_negative_wallet_short_position_and_closed_position_are_true() -> None:
    p = usdm_user_live()
    (bal, pos) = p.receive(account_update(wb="-5.5", pa="-0.25", ep="41000"), T0)
    assert bal.account.balances["USDT"].free == -5.5 and pos.positions[0].size == -0.25
    (bal, pos) = p.receive(account_update(pa="0", ep="0", up="0"), T0)
    assert pos.positions[0].size == 0.0 and pos.positions[0].entry_price is None


# --- REST: the fallback answers and the seeds -----------------------------------------------


@pytest.mark.parametrize("value", BAD_PRICE)
def test_rest_tickers_refuse_bad_prices(value: str) -> None:
    body = {"symbol": "BTCUSDT", "bidPrice": value, "bidQty": "1", "askPrice": "2", "askQty": "1"}
    with pytest.raises(ParseError):
        rest.parse_ticker("usdm", "BTCUSDT", enc(body), T0)
    with pytest.raises(ParseError):
        rest.parse_ticker("spot", "BTCUSDT", enc({**body, "lastPrice": "1.5"}), T0)
    with pytest.raises(ParseError):
        rest.parse_ticker("spot", "BTCUSDT", enc({**body, "bidPrice": "1", "lastPrice": value}), T0)


def test_rest_spot_ticker_empty_side_is_no_level() -> None:
    body = {"symbol": "X", "bidPrice": "0.00000000", "bidQty": "0.00000000", "askPrice": "2"}
    t = rest.parse_ticker("spot", "X", enc({**body, "askQty": "1", "lastPrice": "1.5"}), T0)
    assert (t.bid, t.bid_size, t.ask) == (None, None, 2.0)


@pytest.mark.parametrize("value", BAD_SIZE)
def test_rest_account_order_depth_refuse_bad_values(value: str) -> None:
    with pytest.raises(ParseError):
        rest.parse_account(
            "spot", enc({"balances": [{"asset": "B", "free": value, "locked": "0"}]}), T0
        )
    order = {"symbol": "X", "orderId": 1, "status": "NEW", "type": "LIMIT", "side": "BUY"}
    with pytest.raises(ParseError):
        rest.parse_open_orders("spot", enc([{**order, "origQty": value}]), T0)
    with pytest.raises(ParseError):
        rest.parse_order("usdm", enc({**order, "price": "-1" if value == "-1" else value}), T0)
    with pytest.raises(ParseError):
        rest.parse_orderbook(
            "spot", "X", enc({"lastUpdateId": 1, "bids": [["1", value]], "asks": []}), T0, 5
        )


@pytest.mark.parametrize("value", NON_FINITE)
def test_rest_usdm_account_and_positions_refuse_non_finite(value: str) -> None:
    with pytest.raises(ParseError):
        rest.parse_account("usdm", enc({"assets": [{"asset": "U", "walletBalance": value}]}), T0)
    with pytest.raises(ParseError):
        rest.parse_account("usdm", enc({"assets": [], "availableBalance": value}), T0)
    pos = {"symbol": "X", "positionAmt": "1", "entryPrice": "10", "markPrice": "11"}
    for field in ("positionAmt", "entryPrice", "markPrice", "unRealizedProfit"):
        with pytest.raises(ParseError):
            rest.parse_positions("usdm", enc([{**pos, field: value}]), T0)
    with pytest.raises(ParseError):
        rest.parse_positions("usdm", enc([{**pos, "entryPrice": "0"}]), T0)


def test_a_bad_seed_is_malformed_and_retried() -> None:
    p = BinanceSpotUser("spot", CREDS)
    p.connected(T0)
    (login,) = [json.loads(f) for f in p.outgoing()]
    p.receive(enc({"id": login["id"], "status": 200, "result": {"subscriptionId": 0}}), T0)
    reqs = {r.path: r for r in p.requests()}
    bad = {"balances": [{"asset": "BTC", "free": "NaN", "locked": "0"}]}
    events = p.rest_response(reqs["/api/v3/account"].req_id, 200, enc(bad), T0)
    assert [type(e) for e in events] == [Malformed] and p.counters["malformed"] == 1
    p.tick(T0 + 2 * S)
    assert [r.path for r in p.requests()] == ["/api/v3/account"]

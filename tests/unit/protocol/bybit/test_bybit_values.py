"""Issue 9 defect 2: a number that cannot be true for its field makes a Bybit frame Malformed.

Tickers (linear per-frame and general paths, spot from `orderbook.1` + `tickers`), wallet,
positions, orders and fills: "NaN", "Infinity", 1e999, 0 and negatives where they cannot be
true are Malformed (counted), emit no update, and leave the state the next frame builds on
untouched. The REST parsers refuse the same values with `ParseError`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from spinstream.credentials import Credentials
from spinstream.errors import ParseError
from spinstream.protocol.bybit import BybitPrivate, BybitPublic, rest
from spinstream.protocol.events import Malformed, Stale, TickerUpdate

S = 1_000_000_000
T0 = 1_700_000_000 * S
CREDS = Credentials.of("values-key", "values-test-secret-0123")

NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "nan", "inf"]
BAD_PRICE = [*NON_FINITE, "0", "-1", "-65114.2"]
BAD_SIZE = [*NON_FINITE, "-1", "-0.001"]


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def bad_once(p: Any, bad: str, good: str, ts: int = T0) -> list[Any]:
    before = p.counters["malformed"]
    events = p.receive(bad, ts)
    assert [type(e) for e in events] == [Malformed], events
    assert p.counters["malformed"] == before + 1
    out = p.receive(good, ts + 1)
    assert out and not any(isinstance(e, Malformed) for e in out), out
    return out


def ticker(kind: str, **data: str) -> str:
    return dumps({"topic": "tickers.BTCUSDT", "type": kind, "ts": 1786310817583,
                  "data": {"symbol": "BTCUSDT", **data}})  # fmt: skip


SNAP = {"lastPrice": "65114.30", "bid1Price": "65114.20", "bid1Size": "5.954",
        "ask1Price": "65114.30", "ask1Size": "10.470", "volume24h": "17573.9120"}  # fmt: skip
PRICES = ("lastPrice", "bid1Price", "ask1Price")
SIZES = ("bid1Size", "ask1Size", "volume24h")
CASES = [(f, v) for f in PRICES for v in BAD_PRICE] + [(f, v) for f in SIZES for v in BAD_SIZE]


def linear() -> BybitPublic:
    p = BybitPublic("linear")
    p.connected(T0)
    p.subscribe("ticker", "BTCUSDT")
    p.outgoing()
    return p


@pytest.mark.parametrize(("field", "value"), CASES)
def test_linear_ticker_snapshot_bad(field: str, value: str) -> None:
    p = linear()
    (ok,) = bad_once(p, ticker("snapshot", **{**SNAP, field: value}), ticker("snapshot", **SNAP))
    assert isinstance(ok, TickerUpdate) and ok.ticker.bid == 65114.2


@pytest.mark.parametrize(("field", "value"), CASES)
def test_linear_ticker_delta_bad_is_a_gap(field: str, value: str) -> None:
    """A rejected delta: what it changed is unknown, so the ticker before it is not served as
    current: Malformed + Stale, the topic resubscribed; its new snapshot serves again."""
    p = linear()
    p.receive(ticker("snapshot", **SNAP), T0)
    events = p.receive(ticker("delta", **{field: value}), T0 + 1)
    assert [type(e) for e in events] == [Malformed, Stale], events
    assert events[1].kind == "ticker" and events[1].symbol == "BTCUSDT"
    out = " ".join(p.outgoing())
    assert "unsubscribe" in out and "tickers.BTCUSDT" in out  # a new snapshot asked for
    (ok,) = p.receive(ticker("snapshot", **{**SNAP, "bid1Size": "6"}), T0 + 2)
    t = ok.ticker
    assert (t.bid, t.bid_size, t.ask, t.ask_size, t.last, t.volume_24h) == (
        65114.2, 6.0, 65114.3, 10.47, 65114.3, 17573.912,
    )  # fmt: skip


def test_linear_ticker_bad_json_numbers() -> None:
    p = linear()
    p.receive(ticker("snapshot", **SNAP), T0)
    for raw in ("1e999", "-1", "0"):
        frame = ticker("delta", bid1Price="X").replace('"X"', raw)
        events = p.receive(frame, T0 + 1)
        assert [type(e) for e in events] == [Malformed, Stale], events
        (ok,) = p.receive(ticker("snapshot", **SNAP), T0 + 2)
        assert ok.ticker.bid == 65114.2


def spot() -> BybitPublic:
    p = BybitPublic("spot")
    p.connected(T0)
    p.subscribe("ticker", "BTCUSDT")
    p.outgoing()
    # the `tickers` snapshot first: a spot ticker is served once it and a two-sided
    # orderbook.1 are both in (test_spot_ticker_sides.py)
    assert p.receive(ticker("snapshot", lastPrice="65140", volume24h="1"), T0 - 1) == []
    return p


def level1(bid: list[str], ask: list[str]) -> str:
    return dumps({"topic": "orderbook.1.BTCUSDT", "ts": 1786310816618, "type": "snapshot",
                  "data": {"s": "BTCUSDT", "b": [bid], "a": [ask], "u": 1, "seq": 1}})  # fmt: skip


@pytest.mark.parametrize("value", BAD_PRICE)
def test_spot_ticker_bad(value: str) -> None:
    p = spot()
    good_top = level1(["65140.4", "0.8"], ["65140.5", "0.4"])
    bad_once(p, level1([value, "0.8"], ["65140.5", "0.4"]), good_top)
    bad_once(p, ticker("snapshot", lastPrice=value, volume24h="1"), good_top)
    (ok,) = p.receive(ticker("snapshot", lastPrice="65141", volume24h="1"), T0 + 5)
    assert (ok.ticker.bid, ok.ticker.last) == (65140.4, 65141.0)  # the bad top was not kept


@pytest.mark.parametrize("value", BAD_SIZE)
def test_spot_ticker_bad_size(value: str) -> None:
    p = spot()
    bad_once(p, level1(["65140.4", value], ["65140.5", "0.4"]),
             level1(["65140.4", "0.8"], ["65140.5", "0.4"]))  # fmt: skip


# --- private --------------------------------------------------------------------------------


def push(topic: str, data: list[dict[str, Any]]) -> str:
    return dumps({"id": "x", "topic": topic, "creationTime": 1700034722104, "data": data})


def rest_body(result: dict[str, Any]) -> bytes:
    return dumps({"retCode": 0, "retMsg": "OK", "result": result, "time": 1700000000500}).encode()


def wallet(usdt: str = "100", locked: str = "10", equity: str = "1000") -> dict[str, Any]:
    coin = {"coin": "USDT", "walletBalance": usdt, "locked": locked, "equity": usdt}
    return {"accountType": "UNIFIED", "totalEquity": equity, "totalAvailableBalance": "900",
            "coin": [coin]}  # fmt: skip


def order(**kw: str) -> dict[str, Any]:
    return {"category": "linear", "symbol": "BTCUSDT", "orderId": "L", "orderLinkId": "",
            "side": "Buy", "orderType": "Limit", "price": "60000", "qty": "0.01",
            "cumExecQty": "0", "avgPrice": "", "orderStatus": "New", "timeInForce": "GTC",
            "updatedTime": "1700000000000", **kw}  # fmt: skip


def position(**kw: str) -> dict[str, Any]:
    return {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "size": "0.3",
            "positionIdx": 0, "entryPrice": "60000", "markPrice": "60100",
            "unrealisedPnl": "-1.5", "leverage": "10", "updatedTime": "1700000000000",
            "seq": 20, **kw}  # fmt: skip


def seeded() -> BybitPrivate:
    p = BybitPrivate("linear", CREDS)
    p.connected(T0)
    p.outgoing()
    p.receive('{"success":true,"ret_msg":"","op":"auth","conn_id":"c"}', T0)
    (sub,) = [json.loads(f) for f in p.outgoing()]
    p.receive(dumps({"success": True, "ret_msg": "", "op": "subscribe", "req_id": sub["req_id"]}),
              T0)  # fmt: skip
    for r in p.requests():
        res: dict[str, Any] = {"list": [wallet()]} if "wallet" in r.path else {"list": []}
        p.rest_response(r.req_id, 200, rest_body(res), T0)
    return p


@pytest.mark.parametrize(
    ("field", "value"),
    [("usdt", v) for v in NON_FINITE]  # negative: a UTA borrow
    + [("locked", v) for v in BAD_SIZE]
    + [("equity", v) for v in NON_FINITE],
)
def test_wallet_bad(field: str, value: str) -> None:
    p = seeded()
    (ok,) = bad_once(p, push("wallet", [wallet(**{field: value})]), push("wallet", [wallet()]))
    assert ok.account.balance("USDT").locked == 10.0


def test_negative_wallet_balance_and_pnl_are_true() -> None:
    p = seeded()
    (ok,) = p.receive(push("wallet", [wallet(usdt="-50", locked="0", equity="-20")]), T0)
    assert ok.account.balance("USDT").free == -50.0 and ok.account.equity == -20.0


@pytest.mark.parametrize(
    ("field", "value"),
    [("size", v) for v in BAD_SIZE]
    + [(f, v) for f in ("entryPrice", "markPrice") for v in [*NON_FINITE, "-1"]]
    + [("entryPrice", "0")]  # an open position has an entry price
    + [(f, v) for f in ("unrealisedPnl", "leverage") for v in NON_FINITE],
)
def test_position_bad(field: str, value: str) -> None:
    p = seeded()
    good = push("position", [position(seq=21)])
    (ok,) = bad_once(p, push("position", [position(**{field: value})]), good)
    assert ok.positions[0].size == 0.3 and ok.positions[0].unrealized_pnl == -1.5


@pytest.mark.parametrize(
    ("field", "value"),
    [(f, v) for f in ("price", "avgPrice") for v in [*NON_FINITE, "-1"]]
    + [(f, v) for f in ("qty", "cumExecQty") for v in BAD_SIZE],
)
def test_order_bad(field: str, value: str) -> None:
    p = seeded()
    (ok,) = bad_once(p, push("order", [order(**{field: value})]), push("order", [order()]))
    assert ok.orders[0].price == 60000.0


@pytest.mark.parametrize(("field", "value"), [("execPrice", v) for v in BAD_PRICE]
                         + [("execQty", v) for v in BAD_SIZE])  # fmt: skip
def test_fill_bad(field: str, value: str) -> None:
    p = seeded()
    exe = {"category": "linear", "symbol": "BTCUSDT", "orderId": "L", "orderLinkId": "",
           "side": "Buy", "execId": "e1", "execPrice": "60000", "execQty": "0.01",
           "execType": "Trade", "execTime": "1700000000001"}  # fmt: skip
    bad_once(p, push("execution", [{**exe, field: value}]), push("execution", [exe]))


# --- REST -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), CASES)
def test_rest_ticker_refuses(field: str, value: str) -> None:
    body = rest_body({"category": "linear", "list": [{"symbol": "BTCUSDT", **SNAP, field: value}]})
    with pytest.raises(ParseError):
        rest.parse_ticker("linear", "BTCUSDT", body, T0)


@pytest.mark.parametrize("value", BAD_SIZE)
def test_rest_account_positions_orders_book_refuse(value: str) -> None:
    with pytest.raises(ParseError):
        rest.parse_account("linear", rest_body({"list": [wallet(locked=value)]}), T0)
    with pytest.raises(ParseError):
        rest.parse_positions("linear", rest_body({"list": [position(size=value)]}), T0)
    with pytest.raises(ParseError):
        rest.parse_open_orders("linear", rest_body({"list": [order(qty=value)]}), T0)
    book = {"s": "BTCUSDT", "b": [["1", value]], "a": [], "u": 1, "ts": 1}
    with pytest.raises(ParseError):
        rest.parse_orderbook("linear", "BTCUSDT", rest_body(book), T0, 5)

"""ig.parse: exact price ticks, times, stream items to events, deals to positions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinstream.errors import ParseError
from spinstream.protocol.ig import parse, schemas

from . import ig_bodies as b

T = 1_709_547_000_000_000_000


@pytest.mark.parametrize(
    ("text", "decimals", "ticks"),
    [
        ("1.0845", 5, 108450),
        ("1.08452", 5, 108452),
        ("7480.5", 1, 74805),
        ("7480", 2, 748000),
        ("-0.25", 2, -25),
        (".5", 1, 5),
        ("12.", 0, 12),
        ("1.08450", 4, 10845),  # trailing zeros beyond the decimals are fine
    ],
)
def test_to_ticks_is_exact(text: str, decimals: int, ticks: int) -> None:
    assert parse.to_ticks(text, decimals) == ticks


@pytest.mark.parametrize(
    ("text", "decimals"),
    [("1.08452", 4), ("1e-5", 5), ("", 2), ("abc", 1), (".", 1), ("1.2.3", 3), ("--1", 1)],
)
def test_to_ticks_refuses_what_it_cannot_hold(text: str, decimals: int) -> None:
    with pytest.raises(ParseError):
        parse.to_ticks(text, decimals)


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False))
def test_to_ticks_round_trips_decimal_text(d: Decimal) -> None:
    text = format(d, "f")
    dec = parse.text_decimals(text)
    assert Decimal(parse.to_ticks(text, dec)) / (Decimal(10) ** dec) == d
    assert parse.to_ticks(text, dec + 3) == parse.to_ticks(text, dec) * 1000


def test_times() -> None:
    assert parse.iso_to_ns("2024-03-04T10:11:12") == 1_709_547_072_000_000_000
    assert parse.iso_to_ns("2024-03-04T10:11:12.345") == 1_709_547_072_345_000_000
    assert parse.iso_to_ns("2024-03-04T10:11:12Z") == 1_709_547_072_000_000_000
    assert parse.iso_to_ns("2024/03/04 10:11:12:000") is None
    assert parse.iso_to_ns(None) is None and parse.iso_to_ns("") is None
    assert parse.ms_to_ns("1709547072345") == 1_709_547_072_345_000_000
    with pytest.raises(ParseError):
        parse.ms_to_ns("soon")
    assert parse.num("1.5") == 1.5 and parse.num(2) == 2.0 and parse.num("") is None
    assert parse.num("-") is None
    with pytest.raises(ParseError):
        parse.num("x")


def test_price_item_to_ticker_and_tick() -> None:
    fields = {
        "BIDPRICE1": "1.0845",
        "ASKPRICE1": "1.08461",
        "BIDSIZE1": "5",
        "ASKSIZE1": "2.5",
        "TIMESTAMP": "1709547072345",
    }
    t = parse.ticker_from_price("otc", b.EPIC, fields, T)
    assert (t.symbol, t.bid, t.ask, t.bid_size, t.ask_size) == (b.EPIC, 1.0845, 1.08461, 5.0, 2.5)
    assert t.ts_event == 1_709_547_072_345_000_000 and t.source == "ws" and t.last_update == T
    tick = parse.tick_from_price("otc", b.EPIC, fields, 0, T)
    assert (tick.bid_ticks, tick.ask_ticks, tick.decimals) == (108450, 108461, 5)
    assert tick.bid == 1.0845 and tick.ask == 1.08461 and tick.channel == "market"
    wider = parse.tick_from_price("otc", b.EPIC, fields, 6, T)
    assert (wider.bid_ticks, wider.decimals) == (1084500, 6)


def test_chart_tick_and_candle() -> None:
    tick = parse.tick_from_chart(
        "otc",
        b.EPIC2,
        {"BID": "7480.5", "OFR": "7481", "LTP": None, "LTV": "3", "UTM": "1709547072000"},
        0,
        T,
    )
    assert (tick.bid_ticks, tick.ask_ticks, tick.ltp_ticks, tick.decimals) == (
        74805,
        74810,
        None,
        1,
    )
    assert (
        tick.ltv == 3.0 and tick.ts_event == 1_709_547_072_000_000_000 and tick.channel == "ticks"
    )
    fields = {
        "UTM": "1709547060000",
        "LTV": "12",
        "TTV": "4",
        "CONS_END": "0",
        "CONS_TICK_COUNT": "7",
        "BID_OPEN": "1.0845",
        "BID_HIGH": "1.0849",
        "BID_LOW": "1.08441",
        "BID_CLOSE": "1.0847",
        "OFR_OPEN": "1.0846",
        "OFR_HIGH": "1.085",
        "OFR_LOW": "1.08451",
        "OFR_CLOSE": "1.0848",
        "LTP_OPEN": None,
        "LTP_HIGH": None,
        "LTP_LOW": None,
        "LTP_CLOSE": None,
    }
    c = parse.candle_from_chart("otc", b.EPIC, "1MINUTE", fields, 0, T)
    assert c.decimals == 5 and c.bid_ticks == (108450, 108490, 108441, 108470)
    assert c.ask_ticks == (108460, 108500, 108451, 108480) and c.ltp_ticks is None
    assert c.bid == pytest.approx((1.0845, 1.0849, 1.08441, 1.0847)) and c.ltp is None
    assert c.start == 1_709_547_060_000_000_000 and not c.closed and c.tick_count == 7
    closed = parse.candle_from_chart(
        "otc", b.EPIC, "1MINUTE", {**fields, "CONS_END": "1", "UTM": "1709547119999"}, 0, T
    )
    assert closed.closed and closed.start == 1_709_547_060_000_000_000


def test_account_from_stream_and_rest() -> None:
    fields = {
        "PNL": "-12.40",
        "DEPOSIT": "250.50",
        "AVAILABLE_CASH": "9749.50",
        "AVAILABLE_TO_DEAL": "9737.10",
        "FUNDS": "10000.00",
        "EQUITY": "9987.60",
    }
    a = parse.account_from_stream("otc", "GBP", fields, T)
    assert a.equity == 9987.6 and a.available == 9737.1 and a.source == "ws"
    assert a.balance("GBP").free == 9737.1 and a.balance("GBP").total == pytest.approx(9987.6)


def test_opu_wou_and_aggregation() -> None:
    d = parse.deal_from_opu(
        schemas.OPU.decode(b.dumps(b.opu("D1", "OPEN", size="1.5", level="1.085")))
    )
    assert (d.deal_id, d.epic, d.direction, d.size, d.level) == ("D1", b.EPIC, "BUY", 1.5, 1.085)
    with pytest.raises(ParseError):
        parse.deal_from_opu(schemas.Opu(dealId="D2", status="OPEN"))
    o = parse.order_from_wou("otc", schemas.WOU.decode(b.dumps(b.wou("W1", "OPEN"))), T)
    assert (o.order_id, o.type, o.price, o.quantity, o.status, o.source) == (
        "W1",
        "limit",
        1.07,
        2.0,
        "new",
        "ws",
    )
    gone = parse.order_from_wou("otc", schemas.WOU.decode(b.dumps(b.wou("W1", "DELETED"))), T)
    assert gone.status == "canceled" and not gone.is_open
    deals = [
        parse.PositionDeal(deal_id="a", epic="E", direction="BUY", size=1, level=10.0),
        parse.PositionDeal(deal_id="b", epic="E", direction="BUY", size=3, level=14.0),
        parse.PositionDeal(deal_id="c", epic="E", direction="SELL", size=2, level=12.0),
    ]
    ps = {p.position_side: p for p in parse.aggregate_positions("otc", deals, T, "ws")}
    assert ps["long"].size == 4 and ps["long"].entry_price == 13.0
    assert ps["short"].size == -2 and ps["short"].mark_price is None
    gone_ps = parse.aggregate_positions("otc", [], T, "ws", keys=[("E", "SELL")])
    assert [(p.symbol, p.size, p.position_side) for p in gone_ps] == [("E", 0, "short")]

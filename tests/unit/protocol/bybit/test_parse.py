"""bybit.parse: wire structs to models (ticker merge, sides, statuses, signs, ms -> ns)."""

from __future__ import annotations

import pytest

from spinstream.errors import ParseError
from spinstream.protocol.bybit import parse, schemas

T = schemas.TickerData
MS = 1_000_000


def test_ms_to_ns_and_num() -> None:
    assert parse.ms_to_ns(1786310818130) == 1786310818130 * MS
    assert parse.ms_to_ns("1697682317038") == 1697682317038 * MS
    assert parse.ms_to_ns("") is None and parse.ms_to_ns(None) is None
    assert parse.num("65114.20") == 65114.2 and parse.num("") is None and parse.num(None) is None
    with pytest.raises(ParseError):
        parse.num("abc")
    with pytest.raises(ParseError):
        parse.ms_to_ns("12x")


@pytest.mark.parametrize(
    "step, decimals",
    [("0.10", 2), ("0.010", 3), ("1", 0), ("0.000001", 6), ("0.0001", 4), ("100", 0), ("0.5", 1)],
)
def test_step_decimals(step: str, decimals: int) -> None:
    assert parse.step_decimals(step) == decimals


@pytest.mark.parametrize("step", ["", "abc", "1e-5", "-0.1", "0.1.2"])
def test_step_decimals_rejects(step: str) -> None:
    with pytest.raises(ParseError):
        parse.step_decimals(step)


def test_merge_ticker_takes_only_present_fields() -> None:
    snap = T(symbol="BTCUSDT", bid1Price="1", bid1Size="2", ask1Price="3", ask1Size="4",
             lastPrice="2", volume24h="100")  # fmt: skip
    delta = T(symbol="BTCUSDT", bid1Size="2.5", lastPrice="2.1")
    merged = parse.merge_ticker(snap, delta)
    assert merged == T(symbol="BTCUSDT", bid1Price="1", bid1Size="2.5", ask1Price="3",
                       ask1Size="4", lastPrice="2.1", volume24h="100")  # fmt: skip
    assert parse.merge_ticker(snap, T(symbol="BTCUSDT")) is snap


def test_parse_ticker_linear() -> None:
    t = parse.parse_ticker(
        "linear",
        T(
            symbol="BTCUSDT",
            bid1Price="65114.20",
            bid1Size="5.954",
            ask1Price="65114.30",
            ask1Size="10.470",
            lastPrice="65114.30",
            volume24h="17573.9120",
        ),  # fmt: skip
        1786310817583 * MS,
        99,
    )
    assert (t.venue, t.market, t.symbol, t.source, t.last_update) == (
        "bybit", "linear", "BTCUSDT", "ws", 99,
    )  # fmt: skip
    assert (t.bid, t.bid_size, t.ask, t.ask_size) == (65114.2, 5.954, 65114.3, 10.47)
    assert (t.last, t.volume_24h, t.ts_event) == (65114.3, 17573.912, 1786310817583 * MS)
    assert t.mid == pytest.approx(65114.25)


def test_parse_spot_ticker_from_level1_and_stats() -> None:
    top = schemas.Orderbook(s="BTCUSDT", b=(("65140.4", "0.88"),), a=(("65140.5", "0.47"),), u=7)
    stats = T(symbol="BTCUSDT", lastPrice="65140.5", volume24h="2953.8")
    t = parse.parse_spot_ticker("BTCUSDT", top, stats, 5, 6)
    assert (t.market, t.bid, t.bid_size, t.ask, t.ask_size) == (
        "spot",
        65140.4,
        0.88,
        65140.5,
        0.47,
    )
    assert (t.last, t.volume_24h, t.ts_event, t.last_update) == (65140.5, 2953.8, 5, 6)
    none = parse.parse_spot_ticker("BTCUSDT", None, stats, None, 6)
    assert none.bid is None and none.ask is None and none.last == 65140.5
    empty = schemas.Orderbook(s="BTCUSDT", b=(), a=(("1", "2"),), u=1)
    assert parse.parse_spot_ticker("BTCUSDT", empty, None, None, 1).bid is None


def test_parse_trades() -> None:
    (tr,) = parse.parse_trades(
        "spot",
        (
            schemas.TradeData(
                T=1786310822605, s="BTCUSDT", S="Buy", v="0.002705", p="65140.5", i="229"
            ),
        ),  # fmt: skip
        7,
    )
    assert (tr.market, tr.price, tr.size, tr.side, tr.trade_id) == (
        "spot", 65140.5, 0.002705, "buy", "229",
    )  # fmt: skip
    assert tr.ts_event == 1786310822605 * MS and tr.order_id is None
    with pytest.raises(ParseError):
        parse.parse_trades("spot", (schemas.TradeData(T=1, s="X", S="Up", v="1", p="1"),), 0)


def test_parse_account_unified() -> None:
    acct = parse.parse_account(
        "spot",
        (
            schemas.WalletAccount(
                accountType="UNIFIED",
                totalEquity="10262.9",
                totalAvailableBalance="9556.6",
                coin=(
                    schemas.WalletCoin(coin="USDT", walletBalance="100", locked="25"),
                    schemas.WalletCoin(coin="BTC", walletBalance="0.5", locked=""),
                ),
            ),
        ),  # fmt: skip
        1 * MS,
        2,
        "rest",
    )
    assert acct.market == "spot" and acct.source == "rest"
    assert acct.balance("USDT").free == 75 and acct.balance("USDT").locked == 25
    assert acct.balance("BTC").total == 0.5 and acct.balance("BTC").locked == 0
    assert (acct.equity, acct.available, acct.ts_event) == (10262.9, 9556.6, 1 * MS)


@pytest.mark.parametrize(
    "side, idx, size, position_side",
    [("Buy", 0, 0.5, "both"), ("Sell", 0, -0.5, "both"), ("Buy", 1, 0.5, "long"),
     ("Sell", 2, -0.5, "short"), ("", 0, 0.0, "both")],
)  # fmt: skip
def test_parse_position(side: str, idx: int, size: float, position_side: str) -> None:
    p = schemas.PositionData(
        category="linear", symbol="BTCUSDT", side=side, size="0.5" if side else "0",
        positionIdx=idx, entryPrice="65000" if side else "0", markPrice="65100",
        unrealisedPnl="50", leverage="10", updatedTime="1697682317038",
    )  # fmt: skip
    pos = parse.parse_position(p, 3, "ws")
    assert (pos.size, pos.position_side, pos.leverage) == (size, position_side, 10.0)
    assert pos.entry_price == (65000.0 if side else None)
    assert pos.ts_event == 1697682317038 * MS


def test_parse_position_rest_avg_price() -> None:
    p = schemas.PositionData(category="linear", symbol="X", side="Buy", size="2", avgPrice="3.5")
    assert parse.parse_position(p, 0, "rest").entry_price == 3.5


@pytest.mark.parametrize(
    "status, expected",
    [("New", "new"), ("PartiallyFilled", "partially_filled"), ("Untriggered", "new"),
     ("Filled", "filled"), ("Cancelled", "canceled"), ("PartiallyFilledCanceled", "canceled"),
     ("Deactivated", "canceled"), ("Rejected", "rejected")],
)  # fmt: skip
def test_parse_order_status(status: str, expected: str) -> None:
    o = schemas.OrderData(category="spot", symbol="BTCUSDT", orderId="1", orderLinkId="mine",
                          side="Buy", orderType="Limit", price="65000", qty="0.01",
                          cumExecQty="0.004", avgPrice="64999.5", orderStatus=status,
                          timeInForce="GTC", updatedTime="1672364262457")  # fmt: skip
    order = parse.parse_order(o, 9, "ws")
    assert order.status == expected
    assert (order.market, order.client_order_id, order.side, order.type) == (
        "spot", "mine", "buy", "limit",
    )  # fmt: skip
    assert (order.price, order.quantity, order.filled, order.avg_price) == (
        65000.0, 0.01, 0.004, 64999.5,
    )  # fmt: skip
    assert order.time_in_force == "GTC" and order.ts_event == 1672364262457 * MS


def test_parse_order_market_and_unknown_status() -> None:
    o = schemas.OrderData(symbol="X", orderId="1", side="Sell", orderType="Market", price="0",
                          qty="1", avgPrice="", orderStatus="New")  # fmt: skip
    order = parse.parse_order(o, 0, "rest", "linear")
    assert order.market == "linear" and order.price is None and order.avg_price is None
    assert order.client_order_id is None and order.type == "market"
    with pytest.raises(ParseError):
        parse.parse_order(msgspec_replace(o, orderStatus="Weird"), 0, "rest")


def msgspec_replace(o: schemas.OrderData, **kw: str) -> schemas.OrderData:
    from msgspec.structs import replace

    return replace(o, **kw)


def test_parse_execution() -> None:
    e = schemas.Execution(category="linear", symbol="BTCUSDT", orderId="9a", side="Sell",
                          execId="0ab", execPrice="95900.1", execQty="0.5",
                          execTime="1746270400353")  # fmt: skip
    tr = parse.parse_execution(e, 4)
    assert (tr.order_id, tr.trade_id, tr.price, tr.size, tr.side) == (
        "9a", "0ab", 95900.1, 0.5, "sell",
    )  # fmt: skip
    assert tr.ts_event == 1746270400353 * MS

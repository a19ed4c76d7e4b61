"""Binance structs -> models: units (ms -> ns), sides, statuses, decimals, averages."""

from __future__ import annotations

import json

import msgspec
import pytest

import recorded
from spinstream.errors import ParseError
from spinstream.models import Balance
from spinstream.protocol.binance import parse
from spinstream.protocol.binance import schemas as s
from spinstream.protocol.booksync import Ids

TS = 1_700_000_000_123_456_789


def er(**over: object) -> s.ExecutionReport:
    base = {
        "e": "executionReport",
        "E": 1499405658658,
        "s": "ETHBTC",
        "c": "abc",
        "C": "",
        "S": "BUY",
        "o": "LIMIT",
        "f": "GTC",
        "q": "2.00000000",
        "p": "0.10000000",
        "X": "PARTIALLY_FILLED",
        "i": 42,
        "z": "0.50000000",
        "Z": "0.05500000",
        "T": 1499405658657,
    }
    base.update(over)
    return msgspec.json.decode(json.dumps(base).encode(), type=s.ExecutionReport)


def test_ms_to_ns() -> None:
    assert parse.ms_to_ns(1499405658658) == 1499405658658_000_000
    assert parse.ms_to_ns("1736996475556") == 1736996475556_000_000
    assert parse.ms_to_ns(None) is None
    with pytest.raises(ParseError):
        parse.ms_to_ns("soon")


@pytest.mark.parametrize(
    ("text", "dec"),
    [("0.00010000", 4), ("1.00000000", 0), ("0.1", 1), ("10", 0), ("0.00000001", 8), (None, 0)],
)
def test_decimals_of(text: str | None, dec: int) -> None:
    assert parse.decimals_of(text) == dec


def test_spot_instruments_from_recorded_exchange_info() -> None:
    info = next(o for o in recorded.lines("BINANCE.jsonl") if "exchangeInfo" in o.get("url", ""))
    found = parse.parse_instruments("spot", s.EXCHANGE_INFO_DECODER.decode(info["data"]))
    nkn = found["NKNUSDT"]
    assert (nkn.tick_size, nkn.step_size) == ("0.00010000", "1.00000000")
    # Binance formats spot numbers with 8 decimals: the book must take those strings exactly.
    assert (nkn.price_decimals, nkn.size_decimals) == (8, 8)
    assert len(found) > 1000


def _usdm_symbol(**over: object) -> s.ExchangeInfo:
    sym = {
        "symbol": "BTCUSDT",
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "filters": [
            {"filterType": "PRICE_FILTER", "tickSize": "0.10", "maxPrice": "4529764"},
            {"filterType": "LOT_SIZE", "stepSize": "0.001", "maxQty": "1000"},
        ],
    }
    sym.update(over)
    return msgspec.json.decode(json.dumps({"symbols": [sym]}).encode(), type=s.ExchangeInfo)


def test_usdm_instruments_use_tick_and_price_precision() -> None:
    btc = parse.parse_instruments("usdm", _usdm_symbol())["BTCUSDT"]
    assert (btc.price_decimals, btc.size_decimals) == (2, 3)
    wide = parse.parse_instruments("usdm", _usdm_symbol(pricePrecision=1))["BTCUSDT"]
    assert wide.price_decimals == 1  # tick 0.10 needs 1; precision 1: max is 1


def test_instrument_decimals_fall_back_to_the_step_before_int64_overflows() -> None:
    huge = _usdm_symbol(
        quantityPrecision=8,
        filters=[
            {"filterType": "PRICE_FILTER", "tickSize": "0.0000001", "maxPrice": "1"},
            {"filterType": "LOT_SIZE", "stepSize": "1", "maxQty": "92233720368"},
        ],
    )
    inst = parse.parse_instruments("usdm", huge)["BTCUSDT"]
    assert inst.size_decimals == 0  # 9.2e10 * 1000 * 10**8 would overflow int64
    assert inst.price_decimals == 7


def test_depth_ids() -> None:
    msg = s.DepthMsg(event_time=1, symbol="X", first_id=5, last_id=9, prev_id=4, bids=[], asks=[])
    assert parse.depth_ids(msg) == Ids(seq=9, first=5, prev=4)


def test_book_ticker() -> None:
    msg = s.BookTickerMsg(
        update_id=1,
        symbol="BNBUSDT",
        bid_px="25.35190000",
        bid_qty="31.21",
        ask_px="25.36520000",
        ask_qty="40.66",
        event_time=1568014460893,
    )
    t = parse.parse_book_ticker("usdm", msg, TS)
    assert (t.venue, t.market, t.symbol, t.source) == ("binance", "usdm", "BNBUSDT", "ws")
    assert (t.bid, t.bid_size, t.ask, t.ask_size) == (25.3519, 31.21, 25.3652, 40.66)
    assert t.ts_event == 1568014460893_000_000 and t.last_update == TS
    assert t.last is None


def test_24h_ticker_merges_onto_the_newer_book_ticker() -> None:
    bt = parse.parse_book_ticker(
        "spot",
        s.BookTickerMsg(
            update_id=1, symbol="X", bid_px="10", bid_qty="1", ask_px="11", ask_qty="2"
        ),
        TS,
    )
    t24 = s.Ticker24Msg(
        event_time=5,
        symbol="X",
        last_px="10.5",
        volume="1234",
        bid_px="9",
        bid_qty="1",
        ask_px="12",
        ask_qty="1",
    )
    merged = parse.merge_ticker24("spot", t24, bt, TS + 1)
    assert (merged.bid, merged.ask, merged.last, merged.volume_24h) == (10.0, 11.0, 10.5, 1234.0)
    alone = parse.merge_ticker24("spot", t24, None, TS + 1)
    assert (alone.bid, alone.ask, alone.last) == (9.0, 12.0, 10.5)
    assert alone.ts_event == 5_000_000


def test_execution_report() -> None:
    o = parse.parse_execution_report(er(), TS)
    assert (o.order_id, o.client_order_id, o.side, o.type, o.status) == (
        "42",
        "abc",
        "buy",
        "limit",
        "partially_filled",
    )
    assert (o.price, o.quantity, o.filled) == (0.1, 2.0, 0.5)
    assert o.avg_price == pytest.approx(0.11)  # Z / z
    assert o.ts_event == 1499405658658_000_000 and o.source == "ws" and o.is_open


def test_execution_report_cancel_keeps_the_orders_own_client_id() -> None:
    o = parse.parse_execution_report(er(X="CANCELED", c="cancel-req-1", C="abc", z="0"), TS)
    assert o.client_order_id == "abc" and o.status == "canceled" and o.avg_price is None


def test_market_order_price_zero_means_none() -> None:
    assert parse.parse_execution_report(er(o="MARKET", p="0.00000000"), TS).price is None


@pytest.mark.parametrize(
    ("wire", "status"),
    [
        ("NEW", "new"),
        ("FILLED", "filled"),
        ("REJECTED", "rejected"),
        ("EXPIRED", "expired"),
        ("EXPIRED_IN_MATCH", "expired"),
        ("PENDING_CANCEL", "new"),
    ],
)
def test_statuses(wire: str, status: str) -> None:
    assert parse.parse_execution_report(er(X=wire), TS).status == status


def test_unknown_status_or_side_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse.parse_execution_report(er(X="WHATEVER"), TS)
    with pytest.raises(ParseError):
        parse.parse_execution_report(er(S="HOLD"), TS)
    with pytest.raises(ParseError):
        parse.parse_execution_report(er(q="lots"), TS)


def test_account_position_and_balance_delta() -> None:
    ap = s.AccountPosition(
        event_time=7, update_time=6, balances=[s.SpotBalance(asset="ETH", free="1.5", locked="0.5")]
    )
    acc = parse.parse_account_position(ap, TS)
    assert acc.balances == {"ETH": Balance(asset="ETH", free=1.5, locked=0.5)}
    assert acc.ts_event == 7_000_000 and acc.market == "spot"
    delta = s.BalanceDelta(event_time=8, asset="ETH", delta="-0.25", clear_time=8)
    after = parse.apply_balance_delta(delta, acc.balances["ETH"], TS)
    assert after.balances["ETH"] == Balance(asset="ETH", free=1.25, locked=0.5)
    # a withdrawal from an asset we hold none of would leave a negative spot balance: impossible
    with pytest.raises(ParseError):
        parse.apply_balance_delta(delta, None, TS)


def test_order_trade_update() -> None:
    msg = s.OrderTradeUpdate(
        event_time=9,
        order=s.FuturesOrder(
            symbol="BTCUSDT",
            client_order_id="c1",
            side="SELL",
            order_type="LIMIT",
            time_in_force="GTC",
            quantity="0.010",
            price="43000.1",
            avg_price="43000.1",
            status="FILLED",
            order_id=77,
            filled="0.010",
        ),
    )
    o = parse.parse_order_trade_update(msg, TS)
    assert (o.market, o.side, o.status, o.avg_price, o.filled) == (
        "usdm",
        "sell",
        "filled",
        43000.1,
        0.01,
    )


def test_account_update() -> None:
    msg = s.AccountUpdateMsg(
        event_time=3,
        data=s.FuturesAccountData(
            balances=[s.FuturesBalance(asset="USDT", wallet="100.5", cross_wallet="90")],
            positions=[
                s.FuturesPosition(
                    symbol="BTCUSDT",
                    amount="-0.5",
                    entry_price="40000",
                    unrealized_pnl="12.5",
                    position_side="SHORT",
                )
            ],
        ),
    )
    account, positions = parse.parse_account_update(msg, TS)
    assert account.balances["USDT"] == Balance(asset="USDT", free=100.5, locked=0.0)
    (p,) = positions
    assert (p.symbol, p.size, p.entry_price, p.unrealized_pnl, p.position_side) == (
        "BTCUSDT",
        -0.5,
        40000.0,
        12.5,
        "short",
    )


def test_rest_depth_view_is_truncated_to_depth() -> None:
    msg = s.RestDepth(lastUpdateId=5, bids=[["2", "1"], ["1", "3"]], asks=[["3", "4"]], E=10)
    book = parse.parse_rest_depth("usdm", "X", msg, TS, depth=1)
    assert book.bids.tolist() == [[2.0, 1.0]] and book.asks.tolist() == [[3.0, 4.0]]
    assert (book.seq, book.ts_event, book.source) == (5, 10_000_000, "rest")
    empty = parse.parse_rest_depth(
        "spot", "X", s.RestDepth(lastUpdateId=1, bids=[], asks=[]), TS, depth=5
    )
    assert empty.bids.shape == (0, 2) and empty.best_bid is None
    with pytest.raises(ParseError):
        parse.parse_rest_depth(
            "spot", "X", s.RestDepth(lastUpdateId=1, bids=[["1"]], asks=[]), TS, depth=5
        )


def test_usdm_positions_leave_out_flat_entries() -> None:
    rows = [
        s.UsdmPositionRisk(symbol="A", positionAmt="0", positionSide="BOTH"),
        s.UsdmPositionRisk(
            symbol="B",
            positionAmt="3",
            positionSide="LONG",
            entryPrice="2",
            markPrice="2.5",
            unRealizedProfit="1.5",
            leverage="10",
            updateTime=11,
        ),
    ]
    (b,) = parse.parse_usdm_positions(rows, TS)
    assert (b.symbol, b.size, b.mark_price, b.leverage, b.position_side, b.ts_event) == (
        "B",
        3.0,
        2.5,
        10.0,
        "long",
        11_000_000,
    )


def test_rest_orders_average_price() -> None:
    spot = s.RestOrder(
        symbol="X",
        orderId=1,
        clientOrderId="c",
        price="0",
        origQty="2",
        executedQty="2",
        cummulativeQuoteQty="5",
        status="FILLED",
        type="MARKET",
        side="BUY",
        transactTime=3,
    )
    o = parse.parse_rest_order("spot", spot, TS)
    assert (o.price, o.avg_price, o.ts_event, o.status) == (None, 2.5, 3_000_000, "filled")
    usdm = s.RestOrder(
        symbol="X",
        orderId=2,
        clientOrderId="new",
        origClientOrderId="old",
        price="10",
        origQty="1",
        avgPrice="0.00000",
        status="CANCELED",
        type="LIMIT",
        side="SELL",
        updateTime=4,
    )
    o = parse.parse_rest_order("usdm", usdm, TS)
    assert (o.client_order_id, o.avg_price, o.status) == ("old", None, "canceled")

"""bybit.schemas: envelopes and payloads decode as Bybit sends them (recorded and documented)."""

from __future__ import annotations

import msgspec
import pytest

from spinstream.protocol.bybit import schemas

BOOK_DELTA = (
    b'{"topic":"orderbook.200.BTCUSDT","type":"delta","ts":1786310818130,"data":{"s":"BTCUSDT",'
    b'"b":[["65095.30","0.005"],["65093.10","0"]],"a":[["65116.60","0"]],"u":15076953,'
    b'"seq":753843913870},"cts":1786310818129}'
)


def test_envelope_topic_push() -> None:
    env = schemas.ENVELOPE.decode(BOOK_DELTA)
    assert (env.topic, env.type, env.ts, env.op) == (
        "orderbook.200.BTCUSDT",
        "delta",
        1786310818130,
        None,
    )
    data = schemas.ORDERBOOK.decode(env.data)
    assert data.b == (("65095.30", "0.005"), ("65093.10", "0"))
    assert data.a == (("65116.60", "0"),)
    assert (data.s, data.u, data.seq) == ("BTCUSDT", 15076953, 753843913870)


def test_envelope_ts_may_be_a_string() -> None:
    # docs/v5/websocket/public/orderbook.mdx shows "ts": "1772694601512" on spot frames
    env = schemas.ENVELOPE.decode(b'{"topic":"orderbook.1.BTCUSDT","ts":"1772694601512","data":{}}')
    assert env.ts == "1772694601512"


SUB_LINEAR = b'{"success":true,"ret_msg":"","conn_id":"c","req_id":"","op":"subscribe"}'
SUB_SPOT = b'{"success":true,"ret_msg":"subscribe","conn_id":"c","op":"subscribe"}'
PONG_PUBLIC = b'{"success":true,"ret_msg":"pong","conn_id":"c","op":"ping"}'
PONG_PRIVATE = b'{"req_id":"t","op":"pong","args":["1675418560633"],"conn_id":"c"}'
AUTH_FAILED = b'{"success":false,"ret_msg":"error:x","op":"auth","conn_id":"c"}'


@pytest.mark.parametrize(
    "frame, op, ret_msg, req_id",
    [
        (SUB_LINEAR, "subscribe", "", ""),
        (SUB_SPOT, "subscribe", "subscribe", None),
        (PONG_PUBLIC, "ping", "pong", None),
        (PONG_PRIVATE, "pong", None, "t"),
        (AUTH_FAILED, "auth", "error:x", None),
    ],
)
def test_envelope_op_replies(
    frame: bytes, op: str, ret_msg: str | None, req_id: str | None
) -> None:
    env = schemas.ENVELOPE.decode(frame)
    assert (env.topic, env.op, env.ret_msg, env.req_id) == (None, op, ret_msg, req_id)


def test_ticker_delta_has_only_changed_fields() -> None:
    t = schemas.TICKER.decode(b'{"symbol":"BTCUSDT","bid1Size":"6.054","markPrice":"1"}')
    assert t.bid1Size == "6.054" and t.bid1Price is None and t.lastPrice is None


def test_trades_and_missing_fields() -> None:
    trades = schemas.TRADES.decode(
        b'[{"T":1786310819680,"s":"BTCUSDT","S":"Sell","v":"0.004","p":"65114.20","i":"a9","BT":false}]'
    )
    assert trades[0].p == "65114.20" and trades[0].S == "Sell" and trades[0].T == 1786310819680
    with pytest.raises(msgspec.ValidationError):
        schemas.TRADES.decode(b'[{"T":1,"s":"BTCUSDT","S":"Sell","v":"0.004"}]')  # no price
    with pytest.raises(msgspec.ValidationError):
        schemas.ORDERBOOK.decode(b'{"s":"BTCUSDT","b":[],"a":[]}')  # no u
    with pytest.raises(msgspec.ValidationError):
        schemas.ORDERBOOK.decode(b'{"s":"X","b":[["1"]],"a":[],"u":1}')  # a level needs 2 items


def test_private_payloads() -> None:
    wallet = schemas.WALLET.decode(
        b'[{"accountType":"UNIFIED","totalEquity":"10262.9","totalAvailableBalance":"9556.6",'
        b'"coin":[{"coin":"BTC","equity":"0.001","walletBalance":"0.00102964","locked":"0",'
        b'"collateralSwitch":true}]}]'
    )
    assert wallet[0].coin[0].walletBalance == "0.00102964"
    pos = schemas.POSITIONS.decode(
        b'[{"positionIdx":2,"symbol":"BTCUSDT","side":"","size":"0","entryPrice":"0",'
        b'"category":"linear","seq":8327597863,"updatedTime":"1697682317038"}]'
    )
    assert pos[0].positionIdx == 2 and pos[0].seq == 8327597863 and pos[0].avgPrice is None
    orders = schemas.ORDERS.decode(
        b'[{"symbol":"ETHUSDT","orderId":"5cf","side":"Sell","orderType":"Market","price":"72.5",'
        b'"qty":"1","orderStatus":"Filled","category":"linear","cumFeeDetail":{"MNT":"0.1"}}]'
    )
    assert orders[0].orderStatus == "Filled" and orders[0].orderLinkId == ""


def test_rest_response_generic_and_error_bodies() -> None:
    ok = schemas.REST_ORDERS.decode(
        b'{"retCode":0,"retMsg":"OK","result":{"category":"spot","nextPageCursor":"p%3D2",'
        b'"list":[{"symbol":"BTCUSDT","orderId":"1","side":"Buy","orderType":"Limit","qty":"1",'
        b'"orderStatus":"New"}]},"time":1690872862481}'
    )
    assert (
        ok.result is not None and ok.result.nextPageCursor == "p%3D2" and ok.time == 1690872862481
    )
    err = schemas.REST_ORDERS.decode(b'{"retCode":10001,"retMsg":"bad","result":{},"time":1}')
    assert err.retCode == 10001 and err.result is not None and err.result.list == ()
    env = schemas.REST_ENVELOPE.decode(b'{"retCode":7,"retMsg":"m","result":{"x":[1,2]},"time":3}')
    assert (env.retCode, env.retMsg, env.time) == (7, "m", 3)


def test_instruments_linear_and_spot_steps() -> None:
    body = (
        b'{"retCode":0,"result":{"category":"spot","list":[{"symbol":"BTCUSDT","lotSizeFilter":'
        b'{"basePrecision":"0.000001","maxOrderQty":"1542.6000000000001"},'
        b'"priceFilter":{"tickSize":"0.1"}}]}}'
    )
    inst = schemas.INSTRUMENTS.decode(body).result.list[0]  # type: ignore[union-attr]
    assert inst.lotSizeFilter.basePrecision == "0.000001" and inst.lotSizeFilter.qtyStep is None
    assert inst.priceFilter.tickSize == "0.1"

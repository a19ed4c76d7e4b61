"""Binance wire schemas decode Binance's documented payloads, and refuse broken ones."""

from __future__ import annotations

import msgspec
import pytest

from spinstream.protocol.binance import schemas as s

DEPTH = b"""{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,
 "b":[["0.0024","10"]],"a":[["0.0026","100"]]}"""
USDM_DEPTH = b"""{"e":"depthUpdate","E":123456789,"T":123456788,"s":"BTCUSDT","U":157,"u":160,
 "pu":149,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}"""
BOOK_TICKER = b"""{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000",
 "a":"25.36520000","A":"40.66000000"}"""
TICKER = b"""{"e":"24hrTicker","E":1672515782136,"s":"BNBBTC","p":"0.0015","P":"250.00",
 "w":"0.0018","x":"0.0009","c":"0.0025","Q":"10","b":"0.0024","B":"10","a":"0.0026","A":"100",
 "o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,
 "L":18150,"n":18151}"""
EXECUTION_REPORT = b"""{"subscriptionId":0,"event":{"e":"executionReport","E":1499405658658,
 "s":"ETHBTC","c":"mUvoqJxFIILMdfAW5iGSOW","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000",
 "p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW",
 "r":"NONE","i":4293153,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,
 "T":1499405658657,"t":-1,"v":3,"I":8641984,"w":true,"m":false,"M":false,"O":1499405658657,
 "Z":"0.00000000","Y":"0.00000000","Q":"0.00000000","W":1499405658657,"V":"NONE"}}"""
ACCOUNT_POSITION = b"""{"subscriptionId":0,"event":{"e":"outboundAccountPosition",
 "E":1564034571105,"u":1564034571073,"B":[{"a":"ETH","f":"10000.000000","l":"0.000000"}]}}"""
BALANCE_UPDATE = b"""{"subscriptionId":0,"event":{"e":"balanceUpdate","E":1573200697110,
 "a":"BTC","d":"100.00000000","T":1573200697068}}"""
TERMINATED = b'{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1728973001334}}'
SUBSCRIBED = b'{"id":"d3df8a22","status":200,"result":{"subscriptionId":0}}'
WS_ERROR = b'{"id":3,"status":400,"error":{"code":-1022,"msg":"Signature is not valid."}}'
ORDER_TRADE_UPDATE = b"""{"e":"ORDER_TRADE_UPDATE","E":1568879465651,"T":1568879465650,
 "o":{"s":"BTCUSDT","c":"TEST","S":"SELL","o":"TRAILING_STOP_MARKET","f":"GTC","q":"0.001",
 "p":"0","ap":"0","sp":"7103.04","x":"NEW","X":"NEW","i":8886774,"l":"0","z":"0","L":"0",
 "N":"USDT","n":"0","T":1568879465650,"t":0,"b":"0","a":"9.91","m":false,"R":false,
 "wt":"CONTRACT_PRICE","ot":"TRAILING_STOP_MARKET","ps":"LONG","cp":false,"AP":"7476.89",
 "cr":"5.0","rp":"0"}}"""
ACCOUNT_UPDATE = b"""{"e":"ACCOUNT_UPDATE","E":1564745798939,"T":1564745798938,
 "a":{"m":"ORDER","B":[{"a":"USDT","wb":"122624.12345678","cw":"100.12345678","bc":"50.12345678"}],
 "P":[{"s":"BTCUSDT","pa":"0","ep":"0.00000","bep":"0","cr":"200","up":"0","mt":"isolated",
 "iw":"0.00000000","ps":"BOTH"},{"s":"BTCUSDT","pa":"20","ep":"6563.66500","cr":"0",
 "up":"2850.21200","mt":"isolated","iw":"13200.70726908","ps":"LONG"}]}}"""
LISTEN_KEY_EXPIRED = b"""{"e":"listenKeyExpired","E":"1736996475556",
 "listenKey":"WsCMN0a4KHUPTQuX6IUnqEZfB1inxmv1qR4kbf1LuEjur5VdbzqvyxqG9TSjVVxv"}"""


def test_combined_stream_envelope_keeps_data_raw() -> None:
    env = s.STREAM_DECODER.decode(b'{"stream":"bnbbtc@depth@100ms","data":' + DEPTH + b"}")
    assert env.stream == "bnbbtc@depth@100ms" and env.id is None
    msg = s.DEPTH_DECODER.decode(env.data)
    assert (msg.symbol, msg.first_id, msg.last_id, msg.prev_id) == ("BNBBTC", 157, 160, None)
    assert msg.bids == [["0.0024", "10"]] and msg.asks == [["0.0026", "100"]]


def test_control_answers() -> None:
    ok = s.STREAM_DECODER.decode(b'{"result":null,"id":1}')
    assert ok.id == 1 and ok.error is None and not ok.data
    err = s.STREAM_DECODER.decode(b'{"error":{"code":2,"msg":"Invalid request"},"id":5}')
    assert err.error == s.WsApiError(code=2, msg="Invalid request")
    bare = s.STREAM_DECODER.decode(b'{"code":0,"msg":"Unknown property","id":3}')
    assert bare.code == 0 and bare.msg == "Unknown property"


def test_usdm_depth_has_pu() -> None:
    msg = s.DEPTH_DECODER.decode(USDM_DEPTH)
    assert (msg.first_id, msg.last_id, msg.prev_id, msg.event_time) == (157, 160, 149, 123456789)


def test_book_ticker_and_24h_ticker() -> None:
    bt = s.BOOK_TICKER_DECODER.decode(BOOK_TICKER)
    assert (bt.bid_px, bt.bid_qty, bt.ask_px, bt.ask_qty) == (
        "25.35190000",
        "31.21000000",
        "25.36520000",
        "40.66000000",
    )
    assert bt.event_time is None  # spot bookTicker has no time
    t = s.TICKER24_DECODER.decode(TICKER)
    assert (t.last_px, t.volume, t.bid_px, t.ask_qty) == ("0.0025", "10000", "0.0024", "100")


def test_user_data_events_are_tagged_by_e() -> None:
    er = s.WSAPI_DECODER.decode(EXECUTION_REPORT).event
    assert isinstance(er, s.ExecutionReport)
    assert (er.order_id, er.client_order_id, er.orig_client_order_id, er.status) == (
        4293153,
        "mUvoqJxFIILMdfAW5iGSOW",
        "",
        "NEW",
    )
    ap = s.WSAPI_DECODER.decode(ACCOUNT_POSITION).event
    assert isinstance(ap, s.AccountPosition) and ap.balances[0].free == "10000.000000"
    bu = s.WSAPI_DECODER.decode(BALANCE_UPDATE).event
    assert isinstance(bu, s.BalanceDelta) and (bu.delta, bu.clear_time) == (
        "100.00000000",
        1573200697068,
    )
    assert isinstance(s.WSAPI_DECODER.decode(TERMINATED).event, s.EventStreamTerminated)


def test_ws_api_answers() -> None:
    ok = s.WSAPI_DECODER.decode(SUBSCRIBED)
    assert ok.id == "d3df8a22" and ok.status == 200 and ok.result.subscriptionId == 0
    err = s.WSAPI_DECODER.decode(WS_ERROR)
    assert err.error.code == -1022 and err.event is None


def test_usdm_events() -> None:
    otu = s.USDM_EVENT_DECODER.decode(ORDER_TRADE_UPDATE)
    assert isinstance(otu, s.OrderTradeUpdate) and otu.order.order_id == 8886774
    au = s.USDM_EVENT_DECODER.decode(ACCOUNT_UPDATE)
    assert isinstance(au, s.AccountUpdateMsg)
    assert au.data.balances[0].wallet == "122624.12345678"
    assert [p.position_side for p in au.data.positions] == ["BOTH", "LONG"]
    exp = s.USDM_EVENT_DECODER.decode(LISTEN_KEY_EXPIRED)
    assert isinstance(exp, s.ListenKeyExpired) and exp.event_time == "1736996475556"
    assert "WsCMN0" not in repr(exp)  # the key itself is not even decoded


def test_rest_bodies() -> None:
    depth = s.REST_DEPTH_DECODER.decode(
        b'{"lastUpdateId":1027024,"E":1,"T":2,"bids":[["4.00000000","431.00000000"]],"asks":[]}'
    )
    assert depth.lastUpdateId == 1027024 and depth.bids == [["4.00000000", "431.00000000"]]
    orders = s.REST_ORDERS_DECODER.decode(
        b'[{"symbol":"LTCBTC","orderId":1,"clientOrderId":"myOrder1","price":"0.1",'
        b'"origQty":"1.0","executedQty":"0.0","cummulativeQuoteQty":"0.0","status":"NEW",'
        b'"timeInForce":"GTC","type":"LIMIT","side":"BUY","time":1499827319559,'
        b'"updateTime":1499827319559,"isWorking":true}]'
    )
    assert orders[0].orderId == 1 and orders[0].updateTime == 1499827319559
    assert s.LISTEN_KEY_DECODER.decode(b"{}").listenKey is None


@pytest.mark.parametrize(
    ("decoder", "frame"),
    [
        (s.DEPTH_DECODER, b'{"e":"depthUpdate","E":1,"s":"X","U":1,"b":[],"a":[]}'),  # no u
        (s.DEPTH_DECODER, b'{"E":1,"s":"X","U":"1","u":2,"b":[],"a":[]}'),  # U as text
        (s.BOOK_TICKER_DECODER, b'{"u":1,"s":"X","b":1.5,"B":"1","a":"2","A":"1"}'),  # float
        (s.WSAPI_DECODER, b'{"subscriptionId":0,"event":{"e":"somethingNew","E":1}}'),
        (s.USDM_EVENT_DECODER, b'{"e":"MARGIN_CALL","E":1}'),
        (s.STREAM_DECODER, b'{"stream":'),
        (s.STREAM_DECODER, b"[1,2]"),
    ],
)
def test_broken_frames_raise_decode_errors(decoder: msgspec.json.Decoder, frame: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        decoder.decode(frame)

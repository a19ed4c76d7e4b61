"""okx.parse: private pushes (account, positions, orders), books ids and checksum, and
impossible values (NaN, Infinity, 1e999, price <= 0, negative size) as ParseError."""

from __future__ import annotations

import json

import pytest

from spinstream.errors import ParseError
from spinstream.protocol.booksync import OkxRule, Verdict
from spinstream.protocol.okx import parse, schemas

MS = 1_000_000
TS = 1_700_000_000_123_456_789
SWAP = parse.Instrument(
    inst_id="BTC-USDT-SWAP", inst_type="SWAP", tick_size="0.1", lot_size="0.01",
    price_decimals=1, size_decimals=2, contract_value="0.01", contract_value_ccy="BTC",
)  # fmt: skip


def envelope(channel: str, data: list[dict[str, object]], **top: object) -> schemas.Envelope:
    frame = {"arg": {"channel": channel, "uid": "77"}, "data": data, **top}
    msg = parse.decode_frame(json.dumps(frame))
    assert isinstance(msg, schemas.Envelope)
    return msg


ACCOUNT = {
    "uTime": "1597026383085", "totalEq": "41624.32", "isoEq": "3624.32", "adjEq": "41624.32",
    "availEq": "40000.5", "details": [
        {"ccy": "USDT", "availBal": "9000.5", "cashBal": "10000.5", "frozenBal": "1000",
         "eq": "10000.5", "upl": "0", "uTime": "1597026383080"},
        {"ccy": "BTC", "availBal": "", "cashBal": "1.5", "frozenBal": "0.25", "eq": "1.5"},
    ],
}  # fmt: skip
POSITION = {
    "instType": "SWAP", "instId": "BTC-USDT-SWAP", "pos": "-12", "posSide": "net",
    "avgPx": "30000.1", "markPx": "30010.4", "upl": "-1.23", "lever": "10", "mgnMode": "cross",
    "posId": "307173036051017730", "uTime": "1619507761462", "pTime": "1619507761463",
}  # fmt: skip
ORDER = {
    "instType": "SWAP", "instId": "BTC-USDT-SWAP", "ordId": "312269865356374016",
    "clOrdId": "b1", "px": "30000.1", "sz": "3", "ordType": "post_only", "side": "sell",
    "posSide": "net", "tdMode": "cross", "accFillSz": "1", "avgPx": "30000.1",
    "state": "partially_filled", "uTime": "1597026383085", "cTime": "1597026383000",
}  # fmt: skip


def test_account_snapshot() -> None:
    env = envelope("account", [ACCOUNT], eventType="snapshot", curPage=1, lastPage=True)
    assert (env.eventType, env.curPage, env.lastPage) == ("snapshot", 1, True)
    acct = parse.parse_account("spot", parse.account_data(env), TS)
    assert acct.venue == "okx" and acct.source == "ws" and acct.last_update == TS
    assert acct.equity == 41624.32 and acct.available == 40000.5
    assert acct.ts_event == 1597026383085 * MS
    usdt, btc = acct.balance("USDT"), acct.balance("BTC")
    assert (usdt.free, usdt.locked) == (9000.5, 1000.0)
    assert (btc.free, btc.locked) == (1.25, 0.25)  # no availBal: cashBal - frozenBal


def test_position_signs_and_contracts() -> None:
    (p,) = parse.positions_data(envelope("positions", [POSITION]))
    pos = parse.parse_position(p, TS)
    assert (pos.market, pos.symbol, pos.size, pos.position_side) == (
        "swap",
        "BTC-USDT-SWAP",
        -12.0,
        "both",
    )
    assert pos.entry_price == 30000.1 and pos.mark_price == 30010.4
    assert pos.unrealized_pnl == -1.23 and pos.leverage == 10.0
    assert pos.ts_event == 1619507761462 * MS
    assert parse.parse_position(p, TS, "rest", SWAP).size == -0.12  # 12 contracts x 0.01 BTC
    short = schemas.PositionData(instId="X-SWAP", instType="SWAP", pos="2", posSide="short")
    flat = schemas.PositionData(instId="X-SWAP", instType="SWAP", pos="0", avgPx="")
    assert parse.parse_position(short, TS).size == -2.0
    assert (
        parse.parse_position(flat, TS).size == 0.0
        and parse.parse_position(flat, TS).entry_price is None
    )


def test_order_push() -> None:
    (o,) = parse.orders_data(envelope("orders", [ORDER]))
    order = parse.parse_order(o, TS, inst=SWAP)
    assert (order.order_id, order.client_order_id, order.side) == (
        "312269865356374016",
        "b1",
        "sell",
    )
    assert (order.type, order.time_in_force, order.status) == (
        "limit",
        "PostOnly",
        "partially_filled",
    )
    assert order.price == 30000.1 and order.avg_price == 30000.1
    assert order.quantity == 0.03 and order.filled == 0.01  # contracts x ctVal
    assert order.ts_event == 1597026383085 * MS and order.is_open
    market = schemas.OrderData(
        instId="BTC-USDT", ordId="1", instType="SPOT", px="", sz="0.5", ordType="market",
        side="buy", accFillSz="0.5", avgPx="30000", state="filled",
    )  # fmt: skip
    m = parse.parse_order(market, TS)
    assert (m.market, m.type, m.price, m.status, m.filled) == (
        "spot",
        "market",
        None,
        "filled",
        0.5,
    )
    for state, status in (("live", "new"), ("canceled", "canceled"), ("mmp_canceled", "canceled")):
        assert (
            parse.parse_order(schemas.OrderData(**{**ORDER, "state": state}), TS).status == status
        )


def test_books_ids_and_checksum_rules() -> None:
    rule = OkxRule()

    def ids(action: str, seq: int, prev: int):  # type: ignore[no-untyped-def]
        frame = {
            "arg": {"channel": "books", "instId": "BTC-USDT"}, "action": action,
            "data": [{"asks": [["30000.1", "1", "0", "1"]], "bids": [], "ts": "1",
                      "checksum": 0, "seqId": seq, "prevSeqId": prev}],
        }  # fmt: skip
        env = parse.decode_frame(json.dumps(frame))
        assert isinstance(env, schemas.Envelope)
        (data,) = parse.books_data(env)
        assert parse.checksum(data) is None  # 0 since 2026-06-23: not checked
        return parse.book_ids(env.action, data)

    snap = ids("snapshot", 100, -1)
    assert snap.snapshot and rule.classify(None, False, snap) is Verdict.RESET
    assert rule.classify(100, False, ids("update", 105, 100)) is Verdict.APPLY
    assert rule.classify(105, False, ids("update", 105, 105)) is Verdict.APPLY  # keepalive
    assert rule.classify(105, False, ids("update", 3, 105)) is Verdict.APPLY  # maintenance reset
    assert rule.classify(105, False, ids("update", 110, 104)) is Verdict.GAP
    assert parse.checksum(schemas.BookData(checksum=-914047754)) == -914047754


@pytest.mark.parametrize("bad", ["NaN", "nan", "Infinity", "-inf", "1e999", "abc"])
def test_non_finite_numbers_rejected(bad: str) -> None:
    t = schemas.TickerData(instId="BTC-USDT", instType="SPOT", bidPx=bad, askPx="2", bidSz="1")
    with pytest.raises(ParseError):
        parse.parse_ticker(t, TS)
    with pytest.raises(ParseError):
        parse.parse_order(schemas.OrderData(**{**ORDER, "sz": bad}), TS)
    with pytest.raises(ParseError):
        parse.parse_position(schemas.PositionData(**{**POSITION, "upl": bad}), TS)
    detail = {**ACCOUNT["details"][0], "availBal": bad}  # type: ignore[index]
    with pytest.raises(ParseError):
        parse.parse_account(
            "spot", [schemas.AccountData(details=(schemas.BalanceDetail(**detail),))], TS
        )
    with pytest.raises(ParseError):
        parse.validate_levels([[bad, "1", "0", "1"]], "bid")
    with pytest.raises(ParseError):
        parse.validate_levels([["1", bad, "0", "1"]], "bid")


@pytest.mark.parametrize("price", ["0", "-1", "-0.5"])
def test_price_not_above_zero_rejected(price: str) -> None:
    with pytest.raises(ParseError):
        parse.parse_ticker(schemas.TickerData(instId="A", instType="SPOT", askPx=price), TS)
    with pytest.raises(ParseError):
        parse.validate_levels([[price, "1", "0", "1"]], "ask")
    if price != "0":  # an order's "0" price means "none"; a negative one is impossible
        with pytest.raises(ParseError):
            parse.parse_order(schemas.OrderData(**{**ORDER, "px": price}), TS)


def test_negative_sizes_rejected() -> None:
    with pytest.raises(ParseError):
        parse.parse_ticker(schemas.TickerData(instId="A", instType="SPOT", bidSz="-1"), TS)
    with pytest.raises(ParseError):
        parse.parse_order(schemas.OrderData(**{**ORDER, "accFillSz": "-1"}), TS)
    with pytest.raises(ParseError):
        parse.validate_levels([["30000", "-1", "0", "1"]], "bid")
    with pytest.raises(ParseError):  # long/short mode: pos >= 0, the side gives the sign
        parse.parse_position(schemas.PositionData(**{**POSITION, "posSide": "long"}), TS)
    frozen = {**ACCOUNT["details"][0], "frozenBal": "-3"}  # type: ignore[index]
    with pytest.raises(ParseError):
        parse.parse_account(
            "spot", [schemas.AccountData(details=(schemas.BalanceDetail(**frozen),))], TS
        )


def test_bad_enums_and_frames() -> None:
    with pytest.raises(ParseError):
        parse.parse_order(schemas.OrderData(**{**ORDER, "state": "weird"}), TS)
    with pytest.raises(ParseError):
        parse.parse_order(schemas.OrderData(**{**ORDER, "side": "up"}), TS)
    with pytest.raises(ParseError):
        parse.parse_position(schemas.PositionData(**{**POSITION, "posSide": "up"}), TS)
    with pytest.raises(ParseError):
        parse.market_of("SPREAD")
    env = envelope("books", [{"asks": "nope"}])
    with pytest.raises(ParseError):
        parse.books_data(env)
    for step in ("0", "-0.1", "abc", "NaN"):
        with pytest.raises(ParseError):
            parse.step_decimals(step)
    assert [parse.step_decimals(s) for s in ("0.1", "0.10", "1", "0.00000001")] == [1, 1, 0, 8]


_FIELD_VALUES = [
    "",
    "1",
    "100.5",
    "0",
    "-1",
    "nan",
    "inf",
    "-inf",
    "1e400",
    "abc",
    "1_0",
    " 2 ",
    "0.00000001",
]


def _outcome(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return ("ok", fn(*args))
    except ParseError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize(
    "field", ["bidPx", "bidSz", "askPx", "askSz", "last", "vol24h", "ts", "instType"]
)
def test_ws_ticker_is_parse_ticker(field: str) -> None:
    """The per-frame `ws_ticker` gives what `parse_ticker(t, ts, "ws")` gives, value or error."""
    base = {
        "instId": "BTC-USDT",
        "instType": "SPOT",
        "last": "100.15",
        "lastSz": "0.1",
        "askPx": "100.2",
        "askSz": "1.5",
        "bidPx": "100.1",
        "bidSz": "2",
        "vol24h": "1000",
        "ts": "1700000000123",
    }
    values = _FIELD_VALUES + (
        ["SWAP", "FUTURES", "OPTION", "MARGIN", "BOGUS"] if field == "instType" else []
    )
    for v in values:
        t = schemas.TickerData(**{**base, field: v})
        assert _outcome(parse.ws_ticker, t, 7) == _outcome(parse.parse_ticker, t, 7, "ws"), (
            field,
            v,
        )


@pytest.mark.parametrize(
    "field", ["bidPx", "bidSz", "askPx", "askSz", "last", "vol24h", "ts", "instType"]
)
def test_pick_ticker_makes_the_ticker_ws_ticker_makes(field: str) -> None:
    """The one-pass `pick_ticker` either gives exactly the Ticker `ws_ticker` gives for the
    same push, or None (the push then takes the typed and general decoders, which say what is
    wrong): never a different answer. It takes what OKX writes: plain decimals, a known
    instType, a price > 0."""
    base = {
        "instType": "SPOT",
        "instId": "BTC-USDT",
        "last": "100.15",
        "lastSz": "0.1",
        "askPx": "100.2",
        "askSz": "1.5",
        "bidPx": "100.1",
        "bidSz": "2",
        "open24h": "99",
        "vol24h": "1000",
        "ts": "1700000000123",
    }
    values = _FIELD_VALUES + ["007.5", "5.", ".5", "0.1" + "0" * 70, "123456789012.123456789"]
    values += ["SWAP", "FUTURES", "OPTION", "MARGIN", "BOGUS"] if field == "instType" else []
    taken = 0
    for v in values:
        item = {**base, field: v}
        frame = json.dumps(
            {"arg": {"channel": "tickers", "instId": "BTC-USDT"}, "data": [item]},
            separators=(",", ":"),
        )
        got = parse.pick_ticker(frame, 7)
        assert got == parse.pick_ticker(frame.encode(), 7), v
        want = _outcome(parse.ws_ticker, schemas.TICKERS_PUSH.decode(frame).data[0], 7)
        if got is not None:
            taken += 1
            assert want == ("ok", got), (field, v)
    assert taken >= 2
    frame = json.dumps({"arg": {"channel": "tickers", "instId": "BTC-USDT"}, "data": [base]})
    assert parse.pick_ticker(frame.replace(" ", ""), 7) is not None
    assert parse.pick_ticker(frame, 7) is None  # not the compact form OKX writes: decoders
    two = {"arg": {"channel": "tickers", "instId": "BTC-USDT"}, "data": [base, base]}
    assert parse.pick_ticker(json.dumps(two, separators=(",", ":")), 7) is None
    other = {"arg": {"channel": "tickers", "instId": "ETH-USDT"}, "data": [base]}
    assert parse.pick_ticker(json.dumps(other, separators=(",", ":")), 7) is None


def test_pick_ticker_numbers_are_float_of_the_text() -> None:
    """Kind f reads a plain decimal as `float()` does (the compiled core by an exact division
    where it can, else the C library's correctly rounded reading)."""
    import random

    rnd = random.Random(11)
    for _ in range(3000):
        digits = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 24)))
        cut = rnd.randint(0, len(digits))
        text = (digits[:cut] or "0") + ("." + digits[cut:] if digits[cut:] else "")
        item = {"instId": "X", "bidSz": text, "ts": "1"}
        frame = json.dumps(
            {"arg": {"channel": "tickers", "instId": "X"}, "data": [item]},
            separators=(",", ":"),
        )
        tk = parse.pick_ticker(frame, 1)
        assert tk is not None and tk.bid_size == float(text), text

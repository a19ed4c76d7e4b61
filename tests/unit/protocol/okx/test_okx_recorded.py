"""okx.parse on the 2022 recording: every frame through decode_frame, every books item's levels
into a core Book at the instruments' REST precision, every checksum compared (both cores)."""

from __future__ import annotations

import json

import pytest

import recorded
from spinstream.errors import ParseError
from spinstream.protocol.okx import parse, rest, schemas

FILE = "OKX.jsonl"
MS = 1_000_000


def instruments() -> dict[str, parse.Instrument]:
    """Every instrument of the recorded REST answers, through rest.parse_instruments."""
    out: dict[str, parse.Instrument] = {}
    for resp in recorded.http(FILE):
        if "/api/v5/public/instruments" in resp["url"]:
            out.update(rest.parse_instruments(resp["data"].encode()))
    return out


def test_recorded_instruments() -> None:
    inst = instruments()
    spot, swap, fut = inst["BTC-USDT"], inst["UNI-USD-SWAP"], inst["BTC-USD-220527"]
    assert (spot.market, spot.price_decimals, spot.size_decimals) == ("spot", 1, 8)
    assert spot.contract_value is None
    assert swap.market == "swap" and swap.contract_value == "10" and swap.size_decimals == 0
    assert fut.market == "futures" and fut.contract_value == "100"
    assert fut.contract_value_ccy == "USD"  # inverse: sizes in USD


def test_every_books_checksum_matches_through_parse(core) -> None:  # type: ignore[no-untyped-def]
    inst = instruments()
    books: dict[str, object] = {}
    matched = checked = levels = 0
    for _, _, text in recorded.recv(FILE):
        msg = parse.decode_frame(text)
        if not isinstance(msg, schemas.Envelope) or msg.arg.channel != "books":
            continue
        sym = msg.arg.instId
        assert sym is not None
        for data in parse.books_data(msg):
            parse.validate_levels(data.bids, "bid")
            parse.validate_levels(data.asks, "ask")
            assert parse.book_ids(msg.action, data) is None  # 2022: no seqId yet
            if msg.action == "snapshot":
                i = inst[sym]
                books[sym] = core.book.Book(i.price_decimals, i.size_decimals)
                books[sym].apply_snapshot(data.bids, data.asks)
            else:
                books[sym].apply_deltas(data.bids, data.asks)
            book = books[sym]
            book._check()
            levels += len(data.bids) + len(data.asks)
            want = parse.checksum(data)
            assert want is not None  # the 2022 checksums are real (non-zero)
            checked += 1
            matched += book.checksum_okx() == want
    assert sorted(books) == ["BTC-USD-220527", "BTC-USDT", "UNI-USD-SWAP"]
    assert (matched, checked) == (290, 290) and levels > 8000


def test_every_frame_decodes() -> None:
    kinds: dict[str, int] = {}
    for _, _, text in recorded.recv(FILE):
        msg = parse.decode_frame(text)
        key = msg.event if isinstance(msg, schemas.Event) else msg.arg.channel  # type: ignore[union-attr]
        kinds[key] = kinds.get(key, 0) + 1
    assert kinds == {"subscribe": 18, "books": 290, "tickers": 28, "trades": 74}


def test_recorded_tickers() -> None:
    inst = instruments()
    n = 0
    for _, ts, text in recorded.recv(FILE):
        if '"tickers"' not in text or '"data"' not in text:
            continue
        env = schemas.ENVELOPE.decode(text)
        for raw in json.loads(text)["data"]:
            (t,) = [d for d in parse.tickers_data(env) if d.instId == raw["instId"]]
            i = inst[t.instId]
            tk = parse.parse_ticker(t, ts, "ws", i)
            mult = float(i.contract_value or 1)
            assert tk.market == i.market and tk.symbol == raw["instId"]
            assert tk.bid == float(raw["bidPx"]) and tk.ask == float(raw["askPx"])
            assert tk.last == float(raw["last"])
            assert tk.bid_size == pytest.approx(float(raw["bidSz"]) * mult)
            assert tk.volume_24h == pytest.approx(float(raw["vol24h"]) * mult)
            assert tk.ts_event == int(raw["ts"]) * MS and tk.last_update == ts
            n += 1
    assert n == 28


def test_subscribe_event_and_pong() -> None:
    ev = parse.decode_frame('{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}')
    assert isinstance(ev, schemas.Event) and ev.event == "subscribe"
    assert ev.arg is not None and ev.arg.instId == "BTC-USDT"
    assert parse.decode_frame("pong") is None and parse.decode_frame(b"pong") is None
    err = parse.decode_frame(
        '{"event":"error","code":"60012","msg":"Invalid request","connId":"a"}'
    )
    assert isinstance(err, schemas.Event) and (err.code, err.msg) == ("60012", "Invalid request")
    with pytest.raises(ParseError):
        parse.decode_frame("{not json")

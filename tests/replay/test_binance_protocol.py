"""Recorded Binance spot traffic through `BinanceSpotPublic`, REST answers and frames in time order.

The recording holds the exchangeInfo and the four `/api/v3/depth?limit=1000` snapshots its
recorder fetched, and the combined-stream frames (`<sym>@depth@100ms`, `@bookTicker`, plus
`@kline_1m`/`@aggTrade`, which the protocol does not subscribe and reports as unknown). Each
REST line answers the protocol's own outstanding request for the same path and symbol at the
line's receive time; the protocol must ask for exactly these. Then: every book syncs by the
spot rules with no gap and no resync, all 177 depth events are applied or dropped as stale,
the 84 bookTickers come out as tickers, and wherever a bookTicker's update id `u` equals the
id of a book update the protocol emitted, best bid and ask agree exactly.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import recorded
from spinstream._core import parse_fixed
from spinstream.protocol.binance import BinanceSpotPublic
from spinstream.protocol.booksync import SyncState
from spinstream.protocol.events import BookUpdated, Malformed, RestRequest, Stale, TickerUpdate

FILE = "BINANCE.jsonl"
SYMBOLS = ("NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR")


def _timeline() -> list[dict[str, Any]]:
    return sorted(
        (o for o in recorded.lines(FILE) if o["t"] in ("http", "recv")), key=lambda o: o["ts"]
    )


def _matches(req: RestRequest, url: str) -> bool:
    if req.path not in url:
        return False
    if "symbol=" not in url:
        return "symbol=" not in req.query
    return req.query.startswith("symbol=" + url.split("symbol=")[1].split("&")[0] + "&")


def test_recorded_spot_traffic_syncs_every_book() -> None:
    proto = BinanceSpotPublic("spot")
    for sym in SYMBOLS:
        proto.subscribe("book", sym)
        proto.subscribe("ticker", sym)
    lines = _timeline()
    t0 = int(round(lines[0]["ts"] * 1e9))
    proto.start(t0)
    assert proto.connected(t0) == []
    (sub,) = (json.loads(f) for f in proto.outgoing())
    assert len(sub["params"]) == 12  # depth, bookTicker and 24 h ticker per symbol

    pending: dict[int, RestRequest] = {}
    counts: Counter[str] = Counter()
    top_at: dict[tuple[str, int], tuple[Any, Any]] = {}  # (symbol, update id) -> top of book
    book_ticks: list[dict[str, Any]] = []
    for o in lines:
        ts = int(round(o["ts"] * 1e9))
        pending.update((r.req_id, r) for r in proto.requests())
        if o["t"] == "http":
            (rid,) = [rid for rid, r in pending.items() if _matches(r, o["url"])]
            events = proto.rest_response(pending.pop(rid).req_id, 200, o["data"].encode(), ts)
        else:
            events = proto.receive(o["data"], ts)
            msg = json.loads(o["data"])
            if msg["stream"].endswith("@bookTicker"):
                book_ticks.append(msg["data"])
        for e in events:
            counts[type(e).__name__] += 1
            assert not isinstance(e, Stale), e
            if isinstance(e, Malformed):
                assert e.reason.startswith("unknown stream") and (
                    "@kline_1m" in e.reason or "@aggTrade" in e.reason
                ), e
            if isinstance(e, BookUpdated):
                e.book._check()
                top_at[e.symbol, e.seq] = (e.book.best_bid(), e.book.best_ask())
            if isinstance(e, TickerUpdate):
                assert e.ticker.symbol in SYMBOLS and e.ticker.bid and e.ticker.ask
    assert pending == {} and proto.requests() == []

    books = proto._books
    assert sorted(books) == sorted(SYMBOLS)
    for sym, book in books.items():
        sync = book.sync
        assert sync.state is SyncState.SYNCED and sync.gaps == 0 and sync.resyncs == 0, sym
        assert book.in_sync and book.book.price_decimals == 8 and book.book.size_decimals == 8
    assert sum(b.sync.applied + b.sync.stale for b in books.values()) == 177
    assert proto.counters.get("gaps", 0) == 0 and proto.counters.get("resyncs", 0) == 0
    assert proto.counters["snapshots"] == 4 and proto.counters["malformed"] == 4
    assert counts["TickerUpdate"] == len(book_ticks) == 84
    assert counts["Fresh"] == 4

    compared = 0
    for t in book_ticks:
        top = top_at.get((t["s"], t["u"]))
        if top is None:
            continue
        bid = (parse_fixed(t["b"], 8), parse_fixed(t["B"], 8))
        ask = (parse_fixed(t["a"], 8), parse_fixed(t["A"], 8))
        assert top == (bid, ask), (t, top)
        compared += 1
    print(f"binance protocol replay: {counts}, {compared} bookTickers compared")
    assert compared == 26  # as in test_binance_books.py, which syncs without the protocol

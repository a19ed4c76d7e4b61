"""Binance spot replay: sync each symbol from its recorded REST snapshot by Binance's rules.

The file interleaves REST snapshots (`/api/v3/depth?limit=1000`) and `depthUpdate` frames by
receive time; events that arrive before a symbol's snapshot are buffered, then replayed onto it
with the spot rule (drop u <= lastUpdateId, the first applied event straddles it, then every
event starts at the previous u + 1). Every later `depthUpdate` must chain: no gap, no resync.

Top of book vs `bookTicker`. Rule: a bookTicker frame carries `u`, the order-book update id
its best levels belong to, and a depthUpdate event ends at id `u` after which our book is the
exchange's book at that id. So wherever a bookTicker's `u` equals the final id of an applied
depthUpdate, best bid and ask (price and size) must be equal exactly. Where it falls strictly
inside an event's id range the book at that id was never sent (the 100 ms diff stream merges
the updates), so no comparison is possible; those are counted, not compared. Receive order does
not matter because the comparison is keyed by update id, not by arrival.
"""

from __future__ import annotations

import json

import recorded
from spinstream.protocol.booksync import BINANCE_SPOT, Action, BookSync, Ids, SyncState

FILE = "BINANCE.jsonl"
PD = SD = 8  # Binance spot sends every price and quantity with 8 decimals


def events():
    """REST snapshots and WS frames of the file in receive-time order."""
    out = []
    for o in recorded.lines(FILE):
        if o["t"] == "http" and "/depth?" in o["url"]:
            out.append((o["ts"], "snapshot", json.loads(o["data"]), o["url"]))
        elif o["t"] == "recv":
            out.append((o["ts"], "ws", json.loads(o["data"]), None))
    out.sort(key=lambda e: e[0])
    return out


def test_depth_sync_and_book_ticker(core) -> None:
    books: dict[str, object] = {}
    syncs: dict[str, BookSync] = {}
    top_at: dict[tuple[str, int], tuple] = {}  # (symbol, u) -> (best bid, best ask)
    tickers = []
    updates = 0
    for _, kind, msg, url in events():
        if kind == "snapshot":
            sym = url.split("symbol=")[1].split("&")[0]
            book = books.setdefault(sym, core.book.Book(PD, SD))
            book.apply_snapshot(msg["bids"], msg["asks"])
            sync = syncs.setdefault(sym, BookSync(BINANCE_SPOT))
            replay = sync.on_snapshot(msg["lastUpdateId"])
            assert replay.ok, sync
            for ev in replay.updates:
                book.apply_deltas(ev["b"], ev["a"])
                book._check()
                top_at[sym, ev["u"]] = (book.best_bid(), book.best_ask())
            continue
        data = msg.get("data", {})
        if data.get("e") == "depthUpdate":
            updates += 1
            sym = data["s"]
            sync = syncs.setdefault(sym, BookSync(BINANCE_SPOT))
            action = sync.on_update(Ids(seq=data["u"], first=data["U"]), data)
            assert action in (Action.APPLY, Action.BUFFER, Action.DROP), sync
            if action is Action.APPLY:
                book = books[sym]
                book.apply_deltas(data["b"], data["a"])
                book._check()
                top_at[sym, data["u"]] = (book.best_bid(), book.best_ask())
        elif msg.get("stream", "").endswith("@bookTicker"):
            tickers.append(data)

    assert sorted(syncs) == ["BLZETH", "LRCBTC", "NKNUSDT", "RUNEEUR"]
    for sync in syncs.values():
        assert sync.state is SyncState.SYNCED and sync.gaps == 0 and sync.resyncs == 0, sync
    applied = sum(s.applied for s in syncs.values())
    stale = sum(s.stale for s in syncs.values())
    assert applied + stale == updates == 177

    compared = 0
    for t in tickers:
        key = (t["s"], t["u"])
        if key not in top_at:
            continue
        bid, ask = top_at[key]
        p = core.book.parse_fixed
        assert bid == (p(t["b"], PD), p(t["B"], SD)), t
        assert ask == (p(t["a"], PD), p(t["A"], SD)), t
        compared += 1
    assert len(tickers) == 84
    print(
        f"binance: {applied} applied, {stale} stale, {compared} of {len(tickers)} bookTickers compared"
    )
    assert compared == 26, compared

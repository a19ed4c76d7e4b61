"""Bybit v5 `orderbook.200` replay: sync every book by `u`, then check it against `tickers`.

`BYBIT.jsonl` holds two connections, linear (`BYBIT.ws.2`: BTC/ETH/SOL/DOGE USDT) and spot
(`BYBIT.ws.3`: BTC/ETH USDT). Symbol names repeat across them, so a book is keyed by
(connection, symbol): 6 books. Decimals come from the instruments-info responses the recorder
fetched, as a client would set a book up: `priceFilter.tickSize` and `lotSizeFilter.qtyStep`
(linear) or `basePrecision` (spot), taking the decimals the venue writes in the step string
("0.10" -> 2, "0.010" -> 3), which are the decimals of its linear price strings ("65114.20",
"77.300"); every recorded price and size is parsed exactly at them (`parse_fixed` refuses
anything inexact) and every price is a whole multiple of the tick.

Every `orderbook.200.*` message goes through `BookSync(BybitRule(consecutive=True))`: one
snapshot per book then deltas whose `u` is always the previous `u` + 1 (the recorded linear and
spot traffic is consecutive, so the strict rule applies; it reports no gap, no stale message and
no resync). The book passes `_check()` after every message.

Top of book vs `tickers` -- the rule
-----------------------------------
Spot tickers carry no bid/ask at all (`lastPrice`, 24 h figures, `usdIndexPrice`): nothing to
compare. Linear tickers send a snapshot, then deltas with only the fields that changed; merged,
`bid1Price/bid1Size/ask1Price/ask1Size` are the top of book at the ticker's cross sequence
`cs`, and an orderbook message's `seq` is the cross sequence its book belongs to (same counter:
the values interleave per symbol). The exact rule would be: where a ticker's `cs` equals an
orderbook message's `seq`, both tops are equal. It never applies here: both streams are pushed
every 100 ms but out of phase (linear BTCUSDT: orderbook `ts` at x.x28 s, ticker `ts` at x.x83 s),
so no `cs` ever equals a `seq` (asserted: 0 of 758).

What can be checked instead is bracketing by cross sequence. An orderbook.200 message is the book
at `seq` exactly, and a ticker is the book at `cs`. For a ticker with seq_i < cs < seq_i+1 (two
consecutive orderbook messages of the same book), a side whose best level (price and size) is the
same at seq_i and seq_i+1 is compared: the ticker must show that level, unless the level changed
and changed back between the two pushes. Such a round trip is invisible in orderbook.200: a delta
carries net changes only (no recorded delta re-sends a level at the size the book already holds,
asserted), so it cannot be excluded from the book side; sides whose best level differs at
seq_i and seq_i+1 are not compared (the change happened somewhere in between).

Figures (compiled and twin alike): 2148 messages applied (6 snapshots, 2142 deltas); 758 linear
tickers, 755 bracketed (3 have `cs` before the book's snapshot or after its last message); 953
sides compared, 935 equal. The 18 others are exactly such round trips: in every one the price is
the same best price and only the size differs, by amounts that recur (SOLUSDT bid 1.2 SOL less in
7 of them, ETHUSDT ask 1.80 ETH more or less in 4: one quote flickering in and out within 100 ms).
"""

from __future__ import annotations

import json
from bisect import bisect_left

import recorded
from spinstream.protocol.booksync import Action, BookSync, BybitRule, Ids, SyncState

FILE = "BYBIT.jsonl"
CONNS = {"linear": "BYBIT.ws.2", "spot": "BYBIT.ws.3"}


def step_decimals(step: str) -> int:
    """Decimals the venue writes in a step string: "0.10" -> 2, "0.010" -> 3, "1" -> 0."""
    return len(step.partition(".")[2])


def instrument_steps() -> dict[tuple[str, str], tuple[str, str]]:
    """(connection, symbol) -> (tickSize, size step) from the instruments-info responses."""
    out = {}
    for resp in recorded.http(FILE):
        result = json.loads(resp["data"])["result"]
        conn = CONNS[result["category"]]
        for inst in result["list"]:
            lot = inst["lotSizeFilter"]
            size_step = lot["qtyStep"] if "qtyStep" in lot else lot["basePrecision"]
            out[conn, inst["symbol"]] = (inst["priceFilter"]["tickSize"], size_step)
    return out


def test_orderbook_sync_and_tickers(core) -> None:
    p = core.book.parse_fixed
    steps = instrument_steps()
    books: dict[tuple[str, str], object] = {}
    syncs: dict[tuple[str, str], BookSync] = {}
    ticks: dict[tuple[str, str], int] = {}  # tick size in ticks
    tops: dict[tuple[str, str], list] = {}  # key -> [(seq, best bid, best ask)] in seq order
    merged: dict[tuple[str, str], dict] = {}
    linear_tickers = []  # (key, cs, (bid, ask))
    spot_tickers = 0
    messages = snapshots = levels = noops = 0
    for conn, _, text in recorded.recv(FILE):
        msg = json.loads(text)
        topic = msg.get("topic", "")
        if topic.startswith("orderbook.200."):
            data = msg["data"]
            key = (conn, data["s"])
            messages += 1
            if key not in books:
                tick, size_step = steps[key]
                pd, sd = step_decimals(tick), step_decimals(size_step)
                books[key] = core.book.Book(pd, sd)
                ticks[key] = p(tick, pd)
                syncs[key] = BookSync(BybitRule(consecutive=True))
            book, sync = books[key], syncs[key]
            for price, _ in data["b"] + data["a"]:
                assert p(price, book.price_decimals) % ticks[key] == 0, (key, price)
                levels += 1
            action = sync.on_update(Ids(seq=data["u"], snapshot=msg["type"] == "snapshot"), data)
            if action is Action.RESET:
                snapshots += 1
                book.apply_snapshot(data["b"], data["a"])
            else:
                assert action is Action.APPLY, sync
                held = {}
                for is_bid, side in ((True, data["b"]), (False, data["a"])):
                    held[is_bid] = dict((book.bids if is_bid else book.asks)(10**6).tolist())
                    for price, size in side:
                        pt, st = p(price, book.price_decimals), p(size, book.size_decimals)
                        noops += held[is_bid].get(pt, 0) == st
                book.apply_deltas(data["b"], data["a"])
            book._check()
            tops.setdefault(key, []).append((data["seq"], book.best_bid(), book.best_ask()))
        elif topic.startswith("tickers."):
            data = msg["data"]
            if conn == CONNS["spot"]:
                assert not any(k.startswith(("bid1", "ask1")) for k in data), data
                spot_tickers += 1
                continue
            key = (conn, data["symbol"])
            if msg["type"] == "snapshot":
                merged[key] = dict(data)
            else:
                merged[key].update(data)
            t = merged[key]
            pd, sd = step_decimals(steps[key][0]), step_decimals(steps[key][1])
            bid = (p(t["bid1Price"], pd), p(t["bid1Size"], sd))
            ask = (p(t["ask1Price"], pd), p(t["ask1Size"], sd))
            linear_tickers.append((key, msg["cs"], (bid, ask)))

    assert sorted(books) == [
        ("BYBIT.ws.2", "BTCUSDT"),
        ("BYBIT.ws.2", "DOGEUSDT"),
        ("BYBIT.ws.2", "ETHUSDT"),
        ("BYBIT.ws.2", "SOLUSDT"),
        ("BYBIT.ws.3", "BTCUSDT"),
        ("BYBIT.ws.3", "ETHUSDT"),
    ]
    for sync in syncs.values():
        assert sync.state is SyncState.SYNCED, sync
        assert sync.gaps == sync.resyncs == sync.stale == sync.overflows == 0, sync
    applied = sum(s.applied for s in syncs.values())
    assert (applied, messages, snapshots) == (2148, 2148, 6)
    assert levels > 20000 and noops == 0  # deltas carry net changes only

    assert (len(linear_tickers), spot_tickers) == (758, 81)
    seqs = {key: [s for s, _, _ in series] for key, series in tops.items()}
    for series in seqs.values():
        assert series == sorted(set(series))
    same_id = sum(cs in set(seqs[key]) for key, cs, _ in linear_tickers)
    assert same_id == 0  # the exact rule (cs == seq) never applies in this recording

    bracketed = compared = matched = 0
    misses = []
    for key, cs, top in linear_tickers:
        i = bisect_left(seqs[key], cs)
        if i == 0 or i == len(seqs[key]):
            continue
        bracketed += 1
        before, after = tops[key][i - 1], tops[key][i]
        for side in (0, 1):
            if before[1 + side] != after[1 + side]:
                continue  # the best level changed somewhere between the two pushes
            compared += 1
            if top[side] == before[1 + side]:
                matched += 1
            else:
                misses.append((key, cs, side, top[side], before[1 + side]))
    print(
        f"bybit: {applied} applied; {len(linear_tickers)} linear tickers, {bracketed} bracketed, "
        f"{matched} of {compared} stable sides equal"
    )
    assert (bracketed, compared, matched) == (755, 953, 935)
    # every miss is a same-price size round trip between two 100 ms orderbook pushes
    assert all(tick[0] == book[0] and tick[1] != book[1] for *_, tick, book in misses), misses
    assert len(misses) == 18

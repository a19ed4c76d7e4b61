"""Deribit `book.{instrument}.raw` replay: chain every change, then check it against `ticker.raw`.

`DERIBIT.jsonl` is one connection subscribed to `book`, `ticker` and `trades` (raw) for ten
options (7 BTC, 3 ETH). Decimals come from the recorded `public/get_instruments` responses:
`tick_size` for prices, `min_trade_amount` for amounts (BTC options 0.1, ETH options 1;
`contract_size` is 1 for all ten). Those are JSON floats, so their decimals are read from
`repr` (0.0005 -> 4), the same text `parse_fixed` parses a float from; every recorded price is a
whole multiple of the tick and every amount of the minimum amount.

A notification's levels are `[action, price, amount]` with action `new`, `change` or `delete`,
all absolute; they become `[price, amount]`, and `[price, 0]` for `delete`, and go to the book as
JSON floats (`parse_fixed`'s float path, exact or an error). Each goes through
`BookSync(DERIBIT)` with `Ids(seq=change_id, prev=prev_change_id, snapshot=type == "snapshot")`:
the first notification per instrument is a snapshot (no `prev_change_id`) and every later one's
`prev_change_id` equals the previous `change_id`. 46 notifications: 10 snapshots, 36 changes, no
gap, no resync; the book passes `_check()` after each.

Top of book vs `ticker` -- the rule
-----------------------------------
A book notification and a ticker carry `timestamp`, the matching engine's time of the change
they report, and the raw book channel reports every change. So the book after every notification
of the instrument with timestamp <= T is the exchange's book at T, and a ticker stamped T must
show its best bid and ask exactly (price and amount; Deribit sends price 0 and amount 0 for an
empty side). Arrival order does not decide: a ticker often arrives a few ms *before* the book
notification with the same timestamp (the book as it stands when a ticker arrives equals it for
only 47 of the 79 tickers received after their instrument's snapshot).

Figures (compiled and twin alike): 46 notifications applied; 89 tickers, all 89 compared and
all equal; 37 of them carry the timestamp of a book notification (the change they report), 52
are later samples of a book that had not changed since, and none predates its instrument's
snapshot (the first 10 arrive before the snapshots but are stamped at or after them).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from decimal import Decimal

import recorded
from spinstream.protocol.booksync import DERIBIT, Action, BookSync, Ids, SyncState

FILE = "DERIBIT.jsonl"


def float_decimals(x: float | int) -> int:
    """Decimals of a step the venue sends as a JSON number: 0.0005 -> 4, 0.1 -> 1, 1 -> 0."""
    return max(0, -Decimal(repr(x)).normalize().as_tuple().exponent)


def instruments() -> dict[str, dict]:
    """instrument name -> its entry in the get_instruments responses."""
    out = {}
    for resp in recorded.http(FILE):
        for inst in json.loads(resp["data"])["result"]:
            out[inst["instrument_name"]] = inst
    return out


def levels(entries: list) -> list:
    """Deribit `[action, price, amount]` entries as `[price, amount]`, amount 0 for a delete."""
    out = []
    for action, price, amount in entries:
        assert action in ("new", "change", "delete"), action
        out.append([price, 0 if action == "delete" else amount])
    return out


def test_book_sync_and_ticker(core) -> None:
    p = core.book.parse_fixed
    specs = instruments()
    books: dict[str, object] = {}
    syncs: dict[str, BookSync] = {}
    states: dict[str, list] = {}  # instrument -> [(timestamp, best bid, best ask)]
    tickers = []  # (instrument, timestamp, (bid, ask))
    on_arrival = [0, 0]  # (compared, equal)
    notifications = snapshots = 0
    for _, _, text in recorded.recv(FILE):
        msg = json.loads(text)
        if msg.get("method") != "subscription":
            assert "result" in msg, msg  # the subscribe reply
            continue
        channel, data = msg["params"]["channel"], msg["params"]["data"]
        kind, inst, interval = channel.split(".")
        assert interval == "raw" and inst == data["instrument_name"]
        spec = specs[inst]
        if inst not in books:
            assert spec["kind"] == "option" and spec["contract_size"] == 1, spec
            pd, sd = float_decimals(spec["tick_size"]), float_decimals(spec["min_trade_amount"])
            books[inst] = core.book.Book(pd, sd)
            syncs[inst] = BookSync(DERIBIT)
        book = books[inst]
        step = (
            p(spec["tick_size"], book.price_decimals),
            p(spec["min_trade_amount"], book.size_decimals),
        )
        if kind == "book":
            notifications += 1
            bids, asks = levels(data["bids"]), levels(data["asks"])
            for price, amount in bids + asks:
                assert p(price, book.price_decimals) % step[0] == 0, (inst, price)
                assert p(amount, book.size_decimals) % step[1] == 0, (inst, amount)
            ids = Ids(
                seq=data["change_id"],
                prev=data.get("prev_change_id"),
                snapshot=data.get("type") == "snapshot",
            )
            action = syncs[inst].on_update(ids, data)
            if action is Action.RESET:
                snapshots += 1
                book.apply_snapshot(bids, asks)
            else:
                assert action is Action.APPLY, syncs[inst]
                book.apply_deltas(bids, asks)
            book._check()
            series = states.setdefault(inst, [])
            assert not series or series[-1][0] <= data["timestamp"]
            series.append((data["timestamp"], book.best_bid(), book.best_ask()))
        else:
            assert kind == "ticker"
            top = []
            for side in ("bid", "ask"):
                price, amount = data[f"best_{side}_price"], data[f"best_{side}_amount"]
                if price == 0:
                    assert amount == 0, data  # an empty side
                    top.append(None)
                else:
                    top.append((p(price, book.price_decimals), p(amount, book.size_decimals)))
            tickers.append((inst, data["timestamp"], tuple(top)))
            if inst in states:  # the receive-order rule, for contrast
                on_arrival[0] += 1
                on_arrival[1] += (book.best_bid(), book.best_ask()) == tuple(top)

    assert len(books) == 10
    for sync in syncs.values():
        assert sync.state is SyncState.SYNCED, sync
        assert sync.gaps == sync.resyncs == sync.stale == 0, sync
    applied = sum(s.applied for s in syncs.values())
    assert (applied, notifications, snapshots) == (46, 46, 10)

    compared = matched = same_time = 0
    for inst, stamp, top in tickers:
        series = states[inst]
        i = bisect_right([s[0] for s in series], stamp) - 1
        if i < 0:
            continue
        compared += 1
        same_time += series[i][0] == stamp
        assert (series[i][1], series[i][2]) == top, (inst, stamp, top, series[i])
        matched += 1
    print(
        f"deribit: {applied} applied; {matched} of {len(tickers)} tickers equal "
        f"({same_time} at a book timestamp); on arrival {on_arrival[1]} of {on_arrival[0]}"
    )
    assert (len(tickers), compared, matched, same_time) == (89, 89, 89, 37)
    assert on_arrival == [79, 47]

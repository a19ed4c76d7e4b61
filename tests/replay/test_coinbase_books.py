"""Coinbase Advanced Trade `level2` replay: one sequence per connection, books per product.

`COINBASE.jsonl` is one connection (`COINBASE.ws.2`) subscribed to market_trades, candles,
ticker, level2 and heartbeats for BTC-USD and ETH-USD. `sequence_num` is one counter for the
whole connection, across every channel: it starts at 0 on the first frame (a market_trades
snapshot) and the five `subscriptions` acks take their numbers like any other frame. So every
frame goes through one `BookSync(COINBASE)`; the first anchors the count and each later one must be
the previous + 1: 1030 frames, all applied, no gap, nothing stale. The books are per product
(`l2_data` events: `snapshot` resets that product's book, `update` applies absolute sizes, "0"
deletes), with decimals from the recorded products response (`quote_increment` "0.01" -> 2,
`base_increment` "0.00000001" -> 8). Each book passes `_check()` after every l2 frame: 775 l2
frames applied (2 snapshots, 773 updates).

Top of book vs `ticker` -- the rule and what it gives
----------------------------------------------------
No id links a ticker to the l2 stream: a ticker has only its frame's `timestamp`, and the
counter merely orders the frames on the wire. Two rules were measured:

- Receive order (the book when the ticker frame arrives): 114 of 154 tickers equal (best bid,
  best ask, price and size). The channels are produced separately and merged onto the connection:
  a ticker often shows a change whose l2 frame comes a few frames later, or lags behind one.
- Event time (used): every l2 event has one `event_time` (the matching engine's time; increasing
  per product) and its book is the exchange's book at that time; a ticker frame stamped T is
  compared with the product's book after every l2 event with event_time <= T. This is the causal
  rule on the exchange's own clocks, independent of arrival: 158 of 160 tickers are comparable
  (the first two ETH-USD tickers, 48.229 and 48.298 s, predate its snapshot's event_time 48.352),
  131 equal.

The 27 others were each located in the l2 stream: they are samples of the same book at a slightly
different instant, not a wrong book:
- 7 are ahead: their exact (bid, ask) is the l2 book from an event_time 0.4 to 12.1 ms after T;
- 14 lag: their exact (bid, ask) is an l2 book that ended 1.2 to 256.3 ms before T;
- 6 show a (bid, ask) that no l2 book ever equals: a state inside one l2 batch (an l2 event
  carries the net change of several engine events under one event_time). Worked example,
  ETH-USD at 21:05:56.797: the ticker's best bid 1919.37 x 2.83925714 is 1.1531 (there since
  56.603) + 1.68615714 (added at that price since); the l2 event of 56.814 moves the 1.1531 to
  1919.40 and shows 1919.37 at 1.68615714, never the sum in between.
"""

from __future__ import annotations

import calendar
import json
from bisect import bisect_right

import recorded
from spinstream.protocol.booksync import COINBASE, Action, BookSync, Ids, SyncState

FILE = "COINBASE.jsonl"


def step_decimals(step: str) -> int:
    """Decimals the venue writes in an increment string: "0.01" -> 2, "1" -> 0."""
    return len(step.partition(".")[2])


def iso_ns(text: str) -> int:
    """An RFC 3339 UTC time such as 2026-08-09T21:05:48.228568804Z, to int ns exactly."""
    whole, _, frac = text.rstrip("Z").partition(".")
    fields = whole.replace("T", "-").replace(":", "-").split("-")
    secs = calendar.timegm(tuple(int(x) for x in fields))
    return secs * 10**9 + int((frac + "000000000")[:9])


def product_decimals() -> dict[str, tuple[int, int]]:
    out = {}
    for resp in recorded.http(FILE):
        for prod in json.loads(resp["data"])["products"]:
            out[prod["product_id"]] = (
                step_decimals(prod["quote_increment"]),
                step_decimals(prod["base_increment"]),
            )
    return out


def test_level2_sync_and_ticker(core) -> None:
    p = core.book.parse_fixed
    decimals = product_decimals()
    sync: BookSync = BookSync(COINBASE)
    books: dict[str, object] = {}
    states: dict[str, list] = {}  # product -> [(event_time ns, best bid, best ask)]
    tickers = []  # (T ns, product, (bid, ask))
    on_arrival = [0, 0]  # receive-order rule: (compared, equal)
    frames = acks = l2_frames = l2_snapshots = 0
    for _, _, text in recorded.recv(FILE):
        msg = json.loads(text)
        frames += 1
        if frames == 1:
            assert msg["sequence_num"] == 0, msg
        assert sync.on_update(Ids(seq=msg["sequence_num"]), msg) is Action.APPLY, sync
        channel = msg["channel"]
        acks += channel == "subscriptions"
        if channel == "l2_data":
            l2_frames += 1
            for ev in msg["events"]:
                pid = ev["product_id"]
                (event_time,) = {u["event_time"] for u in ev["updates"]}
                levels: dict[str, list] = {"bid": [], "offer": []}  # a third side: KeyError
                for u in ev["updates"]:
                    levels[u["side"]].append([u["price_level"], u["new_quantity"]])
                bids, asks = levels["bid"], levels["offer"]
                if ev["type"] == "snapshot":
                    l2_snapshots += 1
                    books[pid] = core.book.Book(*decimals[pid])
                    books[pid].apply_snapshot(bids, asks)
                else:
                    assert ev["type"] == "update"
                    books[pid].apply_deltas(bids, asks)
                book = books[pid]
                book._check()
                series = states.setdefault(pid, [])
                assert not series or series[-1][0] < iso_ns(event_time)
                series.append((iso_ns(event_time), book.best_bid(), book.best_ask()))
        elif channel == "ticker":
            for ev in msg["events"]:
                for t in ev["tickers"]:
                    pid = t["product_id"]
                    pd, sd = decimals[pid]
                    bid = (p(t["best_bid"], pd), p(t["best_bid_quantity"], sd))
                    ask = (p(t["best_ask"], pd), p(t["best_ask_quantity"], sd))
                    tickers.append((iso_ns(msg["timestamp"]), pid, (bid, ask)))
                    if pid in books:
                        on_arrival[0] += 1
                        now = (books[pid].best_bid(), books[pid].best_ask())
                        on_arrival[1] += now == (bid, ask)

    assert sync.state is SyncState.SYNCED and sync.last == frames - 1, sync
    assert sync.gaps == sync.stale == sync.resyncs == 0, sync
    assert (sync.applied, frames, acks) == (1030, 1030, 5)
    assert (l2_frames, l2_snapshots, sorted(books)) == (775, 2, ["BTC-USD", "ETH-USD"])
    assert on_arrival == [154, 114]

    compared = matched = 0
    ahead, behind, absent = [], [], 0
    for T, pid, top in tickers:
        series = states[pid]
        i = bisect_right([s[0] for s in series], T) - 1
        if i < 0:
            continue
        compared += 1
        if (series[i][1], series[i][2]) == top:
            matched += 1
            continue
        # where in event time does the l2 stream show exactly this top? nearest interval to T
        gaps = []
        for j, (start, bid, ask) in enumerate(series):
            if (bid, ask) == top:
                end = series[j + 1][0] if j + 1 < len(series) else None
                gaps.append(start - T if start > T else (end - T if end is not None else 0))
        if not gaps:
            absent += 1
            continue
        gap = min(gaps, key=abs)
        assert gap != 0
        (ahead if gap > 0 else behind).append(gap)
    print(
        f"coinbase: {sync.applied} frames, {l2_frames} l2 applied; tickers: {len(tickers)}, "
        f"event-time rule {matched} of {compared} equal ({len(ahead)} ahead, {len(behind)} behind, "
        f"{absent} absent), receive order {on_arrival[1]} of {on_arrival[0]}"
    )
    assert (len(tickers), compared, matched) == (160, 158, 131)
    assert (len(ahead), len(behind), absent) == (7, 14, 6)
    assert (min(ahead), max(ahead)) == (411157, 12098915)  # ns
    assert (max(behind), min(behind)) == (-1241504, -256273456)

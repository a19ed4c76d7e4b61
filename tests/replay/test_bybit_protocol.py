"""Bybit public protocol replay: the recorded BYBIT.jsonl frames through `BybitPublic`.

`BYBIT.ws.2` is the linear stream (BTC/ETH/SOL/DOGE USDT), `BYBIT.ws.3` the spot stream
(BTC/ETH USDT). Each gets its own `BybitPublic(market, book_depth=200)`, subscribed to ticker,
book and trades for its symbols; every recorded frame goes to `receive(frame, ts)` in recorded
order, with `tick(ts)` before it. Book decimals: linear through the protocol's own REST
instruments-info request, answered with the recorded instruments-info body; spot through
`set_instrument` from the same recorded bodies parsed by `rest.parse_instruments`.

What must hold (figures asserted below):
- every `orderbook.200` message (1598 linear + 550 spot = 2148) yields `BookUpdated`, in sync
  under the strict `u` + 1 rule, never `Stale`; the book passes `_check()` after each one and
  its top matches an independent dict-of-Decimal book built from the same frames; it never
  holds more than 200 levels a side (Bybit keeps its window itself);
- linear `tickers` (4 snapshots + 754 deltas) yield 758 `TickerUpdate`s, each equal to an
  independent dict merge of the frames; spot `tickers` (81 snapshots) yield none: the recording
  has no `orderbook.1` frames, and a spot ticker is served only with both sides of its top of
  book (tests/unit/protocol/bybit/test_spot_ticker_sides.py);
- every `publicTrade` record becomes one `Trade`;
- the only `Malformed` frames are the `kline.1.*` pushes the recorder subscribed and we do not
  handle (71 linear + 25 spot), and nothing else;
- the recorder's acks carry no usable `req_id` (linear "", spot none), so they match our
  requests oldest first: 12 linear requests for 17 acks (5 left over), 8 spot requests for 7.
"""

from __future__ import annotations

import json
from decimal import Decimal

import recorded
from spinstream.protocol.bybit import BybitPublic, rest
from spinstream.protocol.events import (
    BookUpdated,
    Malformed,
    Stale,
    Subscribed,
    TickerUpdate,
    TradeUpdate,
)

FILE = "BYBIT.jsonl"
CONNS = {"linear": "BYBIT.ws.2", "spot": "BYBIT.ws.3"}
SYMBOLS = {"linear": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"], "spot": ["BTCUSDT", "ETHUSDT"]}


def instruments_bodies() -> dict[str, bytes]:
    out = {}
    for resp in recorded.http(FILE):
        body = resp["data"].encode()
        out[json.loads(body)["result"]["category"]] = body
    return out


def connect_ts(conn: str) -> int:
    (line,) = [o for o in recorded.lines(FILE) if o["t"] == "connect" and o["conn"] == conn]
    return int(round(line["ts"] * 1e9))


class RefBook:
    """An independent reference: Decimal price -> Decimal size per side, Bybit's rules."""

    def __init__(self) -> None:
        self.sides: tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]] = ({}, {})

    def apply(self, msg: dict, scale_p: int, scale_s: int) -> tuple[object, object]:
        data = msg["data"]
        if msg["type"] == "snapshot":
            self.sides = ({}, {})
        for side, levels in zip(self.sides, (data["b"], data["a"]), strict=True):
            for p, s in levels:
                if Decimal(s) == 0:
                    side.pop(Decimal(p), None)
                else:
                    side[Decimal(p)] = Decimal(s)
        bids, asks = self.sides
        bb = max(bids) if bids else None
        ba = min(asks) if asks else None
        top_b = (int(bb * scale_p), int(bids[bb] * scale_s)) if bb is not None else None
        top_a = (int(ba * scale_p), int(asks[ba] * scale_s)) if ba is not None else None
        return top_b, top_a


def replay(market: str) -> dict[str, object]:
    conn = CONNS[market]
    bodies = instruments_bodies()
    steps = rest.parse_instruments(bodies[market])
    p = BybitPublic(market, book_depth=200)
    if market == "spot":
        for sym in SYMBOLS[market]:
            p.set_instrument(sym, steps[sym].tick_size, steps[sym].size_step)
    for sym in SYMBOLS[market]:
        for kind in ("ticker", "book", "trades"):
            p.subscribe(kind, sym)
    reqs = p.requests()
    if market == "linear":  # the protocol asks for the decimals; the recorded body answers
        assert [r.query for r in reqs] == [f"category=linear&symbol={s}" for s in SYMBOLS[market]]
        for r in reqs:
            assert p.rest_response(r.req_id, 200, bodies[market], connect_ts(conn)) == []
    else:
        assert reqs == []
    assert p.connected(connect_ts(conn)) == []
    subs = [json.loads(f) for f in p.outgoing()]
    assert all(f["op"] == "subscribe" and len(f["args"]) == 1 for f in subs)

    counts = {"books": 0, "tickers": 0, "trades": 0, "subscribed": 0, "stale": 0}
    malformed: list[str] = []
    klines = 0
    refs: dict[str, RefBook] = {}
    merged: dict[str, dict[str, str]] = {}
    trades_in = trades_out = 0
    for _, ts, frame in recorded.recv(FILE, conn):
        assert p.tick(ts) == []
        msg = json.loads(frame)
        topic = msg.get("topic", "")
        klines += topic.startswith("kline.")
        events = p.receive(frame, ts)
        for ev in events:
            if isinstance(ev, BookUpdated):
                counts["books"] += 1
                sym = ev.symbol
                assert (ev.venue, ev.market, ev.seq) == ("bybit", market, msg["data"]["u"])
                assert topic == f"orderbook.200.{sym}"
                ev.book._check()
                assert ev.book.bid_count <= 200 and ev.book.ask_count <= 200
                st = steps[sym]
                ref = refs.setdefault(sym, RefBook())
                want = ref.apply(msg, 10**st.price_decimals, 10**st.size_decimals)
                assert (ev.book.best_bid(), ev.book.best_ask()) == want, (sym, msg["data"]["u"])
            elif isinstance(ev, TickerUpdate):
                counts["tickers"] += 1
                t = ev.ticker
                data = msg["data"]
                if msg["type"] == "snapshot":
                    merged[t.symbol] = dict(data)
                else:
                    merged[t.symbol].update(data)
                m = merged[t.symbol]

                def f(k: str, m: dict[str, str] = m) -> float | None:
                    return float(m[k]) if m.get(k) else None

                assert (t.last, t.volume_24h) == (f("lastPrice"), f("volume24h"))
                assert (t.bid, t.bid_size, t.ask, t.ask_size) == (
                    f("bid1Price"), f("bid1Size"), f("ask1Price"), f("ask1Size"),
                )  # fmt: skip
                assert t.ts_event == msg["ts"] * 1_000_000 and t.last_update == ts
            elif isinstance(ev, TradeUpdate):
                counts["trades"] += 1
                trades_in += len(msg["data"])
                trades_out += len(ev.trades)
                for tr, raw in zip(ev.trades, msg["data"], strict=True):
                    assert (tr.price, tr.size, tr.trade_id) == (
                        float(raw["p"]),
                        float(raw["v"]),
                        raw["i"],
                    )
            elif isinstance(ev, Subscribed):
                counts["subscribed"] += 1
            elif isinstance(ev, Malformed):
                malformed.append(ev.reason)
            elif isinstance(ev, Stale):
                counts["stale"] += 1
            else:
                raise AssertionError(ev)
    assert trades_in == trades_out
    for sym in SYMBOLS[market]:
        assert p._books[sym].in_sync  # noqa: SLF001
    stale = p.disconnected(ts + 1)
    assert [(e.kind, e.symbol) for e in stale] == [
        ("book", None),
        ("ticker", None),
        ("trades", None),
    ]
    return {
        **counts,
        "malformed": len(malformed),
        "klines": klines,
        "reasons": {r.split("'")[1].split(".")[0] for r in malformed},
        "sent": len(subs),
        "counters": dict(p.counters),
    }


def test_linear_replay() -> None:
    r = replay("linear")
    print("bybit linear replay:", r)
    assert (r["books"], r["tickers"], r["trades"], r["stale"]) == (1598, 758, 102, 0)
    assert r["malformed"] == r["klines"] == 71 and r["reasons"] == {"kline"}
    assert (r["sent"], r["subscribed"]) == (12, 12)
    counters = r["counters"]
    assert isinstance(counters, dict)
    assert counters.get("unmatched_acks") == 5 and counters.get("pings") == 2
    assert not {"gaps", "resyncs", "timeouts", "errors"} & set(counters)


def test_spot_replay() -> None:
    r = replay("spot")
    print("bybit spot replay:", r)
    assert (r["books"], r["tickers"], r["trades"], r["stale"]) == (550, 0, 18, 0)  # no top
    assert r["malformed"] == r["klines"] == 25 and r["reasons"] == {"kline"}
    assert (r["sent"], r["subscribed"]) == (8, 7)  # 2 tickers, 2 orderbook.1, 2 books, 2 trades
    counters = r["counters"]
    assert isinstance(counters, dict)
    assert "unmatched_acks" not in counters
    assert not {"gaps", "resyncs", "timeouts", "errors"} & set(counters)


def test_recorded_instrument_decimals() -> None:
    bodies = instruments_bodies()
    lin, spot = rest.parse_instruments(bodies["linear"]), rest.parse_instruments(bodies["spot"])
    got = {s: (lin[s].price_decimals, lin[s].size_decimals) for s in SYMBOLS["linear"]}
    assert got == {"BTCUSDT": (2, 3), "ETHUSDT": (2, 2), "SOLUSDT": (3, 1), "DOGEUSDT": (5, 0)}
    assert {s: (spot[s].price_decimals, spot[s].size_decimals) for s in SYMBOLS["spot"]} == {
        "BTCUSDT": (1, 6),
        "ETHUSDT": (2, 5),
    }

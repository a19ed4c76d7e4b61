"""binance.protocol: a depth diff rejected as Malformed is a gap, from frames, no event loop.

The venue sent the diff; refusing it (levels or ids that do not decode, ids out of order, a
value the book core refuses) leaves the book short of it. Never applied in part: the book is
stale at once (not only when the next diff's ids show the hole), holds its diffs, and fetches
a new snapshot that they must chain onto. Spot and USD-M, both cores.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from spinstream.protocol.binance import BinanceSpotPublic, BinanceUsdmPublic
from spinstream.protocol.binance.parse import Instrument
from spinstream.protocol.events import BookUpdated, Fresh, Malformed, Stale

MS = 1_000_000
S = 1_000_000_000
T0 = 1_700_000_000 * S
INSTR = {"BTCUSDT": Instrument(symbol="BTCUSDT", price_decimals=2, size_decimals=3)}
STREAM = "btcusdt@depth@100ms"


def diff(U: Any, u: Any, bids: Any = (), asks: Any = (), pu: Any = None) -> str:
    data: dict[str, Any] = {"e": "depthUpdate", "E": 1, "T": 1, "s": "BTCUSDT", "U": U, "u": u,
                            "b": [list(x) for x in bids], "a": [list(x) for x in asks]}  # fmt: skip
    if pu is not None:
        data["pu"] = pu
    return json.dumps({"stream": STREAM, "data": data})


def snapshot(last: int, bids: Any, asks: Any) -> bytes:
    return json.dumps({"lastUpdateId": last, "E": 1, "T": 1, "bids": [list(x) for x in bids],
                       "asks": [list(x) for x in asks]}).encode()  # fmt: skip


def types(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def synced(market: str) -> tuple[Any, Any, bool]:
    """A BTCUSDT book synced at id 5: bids 100.00/1, asks 101.00/2. (proto, book, usdm)"""
    usdm = market == "usdm"
    p = (
        BinanceUsdmPublic("usdm", instruments=INSTR)
        if usdm
        else BinanceSpotPublic("spot", instruments=INSTR)
    )
    p.subscribe("book", "BTCUSDT")
    p.connected(T0)
    p.outgoing()
    assert p.receive(diff(4, 5, [("100.00", "1")], [("101.00", "2")], pu=3 if usdm else None),
                     T0) == []  # fmt: skip
    (req,) = p.requests()
    events = p.rest_response(req.req_id, 200, snapshot(4, [("99.00", "1")], [("102.00", "1")]), T0)
    assert types(events) == ["Fresh", "BookUpdated"] and events[1].seq == 5
    return p, events[1].book, usdm


def levels(b: Any) -> tuple[list[list[float]], list[list[float]]]:
    return b.bids(50).tolist(), b.asks(50).tolist()


BAD = {  # (frame builder taking pu-or-None) each a diff 6..7 the book must not take
    "nan-price": lambda pu: diff(6, 7, [("NaN", "1")], [("100.50", "3")], pu),
    "nan-size": lambda pu: diff(6, 7, [("100.20", "1")], [("100.50", "NaN")], pu),
    "huge": lambda pu: diff(6, 7, [("100.20", "1")], [("1e999", "3")], pu),
    "short-level": lambda pu: diff(6, 7, [("100.20", "1")], [("100.50",)], pu),
    "number-level": lambda pu: diff(6, 7, [("100.20", "1")], [(100.5, "3")], pu),
    "bad-id": lambda pu: diff(6, "x", [("100.20", "1")], [], pu),
    "ids-reversed": lambda pu: diff(7, 6, [("100.20", "1")], [], pu),
    "no-levels": lambda pu: json.dumps(
        {
            "stream": STREAM,
            "data": {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 6, "u": 7, "pu": pu},
        }
    ),  # fmt: skip
    "no-data": lambda pu: json.dumps({"stream": STREAM}),
}


@pytest.mark.parametrize("market", ["spot", "usdm"])
@pytest.mark.parametrize("bad", list(BAD), ids=str)
def test_rejected_diff_is_a_gap_at_once(market: str, bad: str) -> None:
    p, b, usdm = synced(market)
    before = levels(b)
    events = p.receive(BAD[bad](5 if usdm else None), T0 + S)
    assert not any(isinstance(e, BookUpdated) for e in events), events
    assert types(events) in (["Stale"], ["Malformed", "Stale"]), events
    stale = events[-1]
    assert (stale.kind, stale.symbol, stale.market) == ("book", "BTCUSDT", market)
    assert levels(b) == before  # nothing applied in part
    (req,) = p.requests()  # a new snapshot, at once
    assert req.path in ("/api/v3/depth", "/fapi/v1/depth")
    # the next diff chains onto the one refused: held for the snapshot, not applied
    assert p.receive(diff(8, 9, [("100.10", "7")], [], pu=7 if usdm else None), T0 + S + 1) == []
    assert levels(b) == before and p.requests() == []
    if not usdm:  # a snapshot older than the refused diff does not chain: fetched again
        assert p.rest_response(req.req_id, 200, snapshot(5, [], []), T0 + 2 * S) == []
        assert p.counters["snapshot_retries"] == 1
        p.tick(T0 + 3 * S)
        (req,) = p.requests()
    last = 8 if usdm else 7  # USD-M: the first diff after a snapshot holds U <= id <= u
    events = p.rest_response(
        req.req_id, 200, snapshot(last, [("100.00", "1")], [("101.00", "1")]), T0 + 4 * S
    )
    assert types(events) == ["Fresh", "BookUpdated"] and events[1].seq == 9
    assert events[1].book.best_bid() == (10010, 7000)


@pytest.mark.parametrize("market", ["spot", "usdm"])
def test_rejected_diff_before_the_snapshot_is_left_to_the_chain_check(market: str) -> None:
    usdm = market == "usdm"
    p = (
        BinanceUsdmPublic("usdm", instruments=INSTR)
        if usdm
        else BinanceSpotPublic("spot", instruments=INSTR)
    )
    p.subscribe("book", "BTCUSDT")
    p.connected(T0)
    p.outgoing()
    assert p.receive(diff(4, 5, [("100.00", "1")], [], pu=3 if usdm else None), T0) == []
    (req,) = p.requests()
    (m,) = p.receive(BAD["bad-id"](5 if usdm else None), T0 + 1)  # diff 6..7, refused
    assert isinstance(m, Malformed) and p.requests() == []  # one snapshot is on its way
    assert p.receive(diff(8, 9, [("100.10", "7")], [], pu=7 if usdm else None), T0 + 2) == []
    # a snapshot at 5 would skip the refused 6..7: the buffer does not chain, fetched again
    assert p.rest_response(req.req_id, 200, snapshot(5, [], []), T0 + 3) == []
    assert p.counters["snapshot_retries"] == 1
    p.tick(T0 + S)
    (req2,) = p.requests()
    body = snapshot(8 if usdm else 7, [("99.00", "1")], [])
    fresh, upd = p.rest_response(req2.req_id, 200, body, T0 + 2 * S)
    assert isinstance(fresh, Fresh) and isinstance(upd, BookUpdated) and upd.seq == 9


def test_a_second_refused_diff_does_not_refetch() -> None:
    p, _, _ = synced("spot")
    assert types(p.receive(BAD["bad-id"](None), T0 + S)) == ["Malformed", "Stale"]
    assert len(p.requests()) == 1
    assert types(p.receive(BAD["number-level"](None), T0 + S + 1)) == ["Malformed"]
    assert p.requests() == []
    assert isinstance(p.receive(BAD["no-data"](None), T0 + S + 2)[0], Malformed)
    assert p.requests() == [] and p.counters["lost_diffs"] == 1
    assert not any(isinstance(e, Stale) for e in p.receive(diff(8, 9), T0 + S + 3))

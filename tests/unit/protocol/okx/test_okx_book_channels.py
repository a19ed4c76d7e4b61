"""okx.protocol.OkxPublic books beyond the WS snapshot: the REST book stitched by seqId when no
snapshot comes on subscribe (OKX's 2026 announcement), and `books5` / `bbo-tbt` (whole books
per push) chosen by `book_depth`."""

from __future__ import annotations

import json

import pytest
from test_okx_protocol import INSTRUMENTS, SYM, Book, sub, top

from spinstream.protocol.events import BookUpdated, Stale
from spinstream.protocol.okx import rest
from spinstream.protocol.okx.protocol import BOOK_DEPTHS, OkxPublic

S = 1_000_000_000


@pytest.fixture(autouse=True, params=["picked", "typed", "general"])
def frame_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test three times: pushes through the one-pass pickers (books `parse.pick_book`,
    tickers `parse.pick_ticker`), through the typed decoder they fall back to
    (`parse.decode_push`), and through the general decoder under both (all off)."""
    from spinstream.protocol.okx import parse as okx_parse

    if request.param in ("typed", "general"):
        monkeypatch.setattr(okx_parse, "pick_book", lambda frame: None)
        monkeypatch.setattr(okx_parse, "pick_ticker", lambda frame, ts: None)
    if request.param == "general":
        monkeypatch.setattr(okx_parse, "decode_push", lambda frame: None)
    return str(request.param)


def subscribed(channel: str = "books", depth: int = 400) -> OkxPublic:
    """A connected OkxPublic with its book channel subscribed and acknowledged."""
    p = OkxPublic("spot", book_depth=depth)
    p.subscribe("book", SYM)
    (r,) = p.requests()
    p.rest_response(r.req_id, 200, INSTRUMENTS, 1)
    p.connected(2)
    assert p.outgoing() == [sub("subscribe", channel)]
    ack = {"event": "subscribe", "arg": {"channel": channel, "instId": SYM}, "connId": "a"}
    p.receive(json.dumps(ack), 3)
    return p


def rest_book(bids: list[list[str]], asks: list[list[str]], seq: int | None) -> bytes:
    data: dict[str, object] = {"asks": asks, "bids": bids, "ts": "1700000000900"}
    if seq is not None:
        data["seqId"] = seq
    return json.dumps({"code": "0", "msg": "", "data": [data]}).encode()


def levels(ev: BookUpdated) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    b = ev.book
    ps, ss = 10**b.price_decimals, 10**b.size_decimals
    bids, asks = b.top(10)
    return (
        [(p / ps, s / ss) for p, s in bids.tolist()],
        [(p / ps, s / ss) for p, s in asks.tolist()],
    )


def test_update_without_snapshot_asks_the_rest_book_and_stitches_by_seq_id() -> None:
    p, b = subscribed(), Book()
    b.seq = 100
    # updates 100 -> 110 -> 120 come with no snapshot: buffered, the REST book asked once
    assert p.receive(b.frame("update", [["100.1", "2"]], [["100.3", "1"]]), 10) == []
    (r,) = p.requests()
    assert r.path == "/api/v5/market/books" and "instId=BTC-USDT" in r.query
    assert "sz=400" in r.query
    assert p.receive(b.frame("update", [["100.2", "1"]], []), 11) == []
    assert p.requests() == []  # one REST book in flight
    # the REST book was taken at seqId 105 (between the two): 100->110 straddles it
    body = rest_book([["100.1", "2"], ["99", "4"]], [["100.3", "1"]], 105)
    evs = p.rest_response(r.req_id, 200, body, 12)
    assert [type(e) for e in evs] == [BookUpdated]
    bids, asks = levels(evs[0])
    assert bids == [(100.2, 1.0), (100.1, 2.0), (99.0, 4.0)] and asks == [(100.3, 1.0)]
    assert evs[0].seq == 120 and p.counters["rest_snapshots_stitched"] == 1
    # the chain goes on from the last buffered update
    (ev,) = p.receive(b.frame("update", [["99", "0"]], []), 13)
    assert isinstance(ev, BookUpdated) and levels(ev)[0][-1] == (100.1, 2.0)


def test_buffered_updates_older_than_the_rest_book_are_dropped() -> None:
    p, b = subscribed(), Book()
    b.seq = 100
    p.receive(b.frame("update", [["100.1", "2"]], [["100.3", "1"]]), 10)  # 100 -> 110
    (r,) = p.requests()
    body = rest_book([["100.1", "2"]], [["100.3", "1"]], 110)  # already holds 110
    (ev,) = p.rest_response(r.req_id, 200, body, 11)
    assert isinstance(ev, BookUpdated) and ev.seq == 110 and top(ev) == (100.1, 100.3)
    (ev,) = p.receive(b.frame("update", [["100.2", "1"]], []), 12)  # 110 -> 120
    assert isinstance(ev, BookUpdated) and top(ev) == (100.2, 100.3)


def test_rest_book_older_than_the_buffer_is_asked_again() -> None:
    p, b = subscribed(), Book()
    b.seq = 100
    p.receive(b.frame("update", [["100.1", "2"]], [["100.3", "1"]]), 10)  # 100 -> 110
    (r,) = p.requests()
    assert p.rest_response(r.req_id, 200, rest_book([["100", "1"]], [["101", "1"]], 90), 11) == []
    assert p.counters["rest_snapshot_retries"] == 1
    p.tick(11 + S // 10)
    assert p.requests() == []  # not before SNAPSHOT_RETRY_S
    p.receive(b.frame("update", [["100.2", "1"]], []), 12)  # 110 -> 120, buffered meanwhile
    p.tick(11 + S)
    (r,) = p.requests()
    body = rest_book([["100.2", "1"], ["100.1", "2"]], [["100.3", "1"]], 120)
    (ev,) = p.rest_response(r.req_id, 200, body, 13)
    assert isinstance(ev, BookUpdated) and top(ev) == (100.2, 100.3) and ev.seq == 120


def test_rest_book_without_seq_id_or_refused_is_stale_and_retried() -> None:
    p, b = subscribed(), Book()
    b.seq = 100
    p.receive(b.frame("update", [["100.1", "2"]], [["100.3", "1"]]), 10)
    (r,) = p.requests()
    (ev,) = p.rest_response(r.req_id, 200, rest_book([["100", "1"]], [["101", "1"]], None), 11)
    assert isinstance(ev, Stale) and "seqId" in ev.reason
    p.tick(11 + S)
    (r,) = p.requests()
    err = b'{"code":"50011","msg":"Too Many Requests","data":[]}'
    (ev,) = p.rest_response(r.req_id, 429, err, 12)
    assert isinstance(ev, Stale) and ev.kind == "book"
    assert p.counters["rest_snapshot_failed"] == 2


def test_ws_snapshot_after_the_ack_needs_no_rest_book() -> None:
    p, b = subscribed(), Book()
    (ev,) = p.receive(b.frame("snapshot", [["100.1", "2"]], [["100.2", "1"]]), 10)
    assert isinstance(ev, BookUpdated)
    (ev,) = p.receive(b.frame("update", [["100", "1"]], []), 11)
    assert isinstance(ev, BookUpdated)
    assert p.requests() == [] and p.counters["rest_snapshots"] == 0


def test_a_gap_then_no_snapshot_on_resubscribe_stitches_from_rest() -> None:
    p, b = subscribed(), Book()
    p.receive(b.frame("snapshot", [["100.1", "2"]], [["100.2", "1"]]), 10)
    (ev,) = p.receive(b.frame("update", [["99", "1"]], [], prev=b.seq + 5), 11)  # a gap
    assert isinstance(ev, Stale)
    assert p.outgoing() == [sub("unsubscribe", "books"), sub("subscribe", "books")]
    ack = {"event": "subscribe", "arg": {"channel": "books", "instId": SYM}, "connId": "a"}
    p.receive(json.dumps(ack), 12)
    before = b.seq
    assert p.receive(b.frame("update", [["100", "3"]], []), 13) == []
    (r,) = p.requests()
    body = rest_book([["100.1", "2"], ["99", "1"]], [["100.2", "1"]], before)
    (ev,) = p.rest_response(r.req_id, 200, body, 14)
    assert isinstance(ev, BookUpdated) and levels(ev)[0] == [(100.1, 2), (100.0, 3), (99.0, 1)]


def _top_frame(channel: str, bids: list[list[str]], asks: list[list[str]], seq: int) -> str:
    data = {
        "asks": [[p, s, "0", "1"] for p, s in asks],
        "bids": [[p, s, "0", "1"] for p, s in bids],
        "ts": "1700000000700",
        "seqId": seq,
    }
    return json.dumps({"arg": {"channel": channel, "instId": SYM}, "data": [data]})


@pytest.mark.parametrize(("depth", "channel"), [(5, "books5"), (1, "bbo-tbt")])
def test_top_channels_replace_the_book_on_every_push(depth: int, channel: str) -> None:
    p = subscribed(channel, depth)
    bids = [[f"{100 - i}", "1"] for i in range(depth)]
    asks = [[f"{101 + i}", "2"] for i in range(depth)]
    (ev,) = p.receive(_top_frame(channel, bids, asks, 7), 10)
    assert isinstance(ev, BookUpdated) and top(ev) == (100.0, 101.0) and ev.seq == 7
    # the next push is a whole book again: levels not in it are gone, no sequence needed
    (ev,) = p.receive(_top_frame(channel, [["99.5", "3"]], [["100.5", "1"]], 3), 11)
    assert levels(ev) == ([(99.5, 3.0)], [(100.5, 1.0)])
    # a crossed push: stale; the next good one serves the book again
    (ev,) = p.receive(_top_frame(channel, [["102", "1"]], [["101", "1"]], 4), 12)
    assert isinstance(ev, Stale) and ev.kind == "book"
    (ev,) = p.receive(_top_frame(channel, [["99", "1"]], [["100", "1"]], 5), 13)
    assert isinstance(ev, BookUpdated) and top(ev) == (99.0, 100.0)
    # a malformed push is counted and lost alone: no resync, no REST
    evs = p.receive(_top_frame(channel, [["-1", "1"]], [["100", "1"]], 6), 14)
    assert evs and not any(isinstance(e, Stale) for e in evs)
    assert p.requests() == [] and p.outgoing() == []


def test_book_depth_must_be_a_channel_depth() -> None:
    assert BOOK_DEPTHS == (1, 5, 400)
    with pytest.raises(ValueError, match="book depth"):
        OkxPublic("spot", book_depth=50)


def test_rest_book_request_is_demo_aware() -> None:
    p = OkxPublic("spot", env="demo")
    req = rest.build_orderbook("spot", SYM, 400, demo=True)
    assert "x-simulated-trading" in {k.lower() for k in (req.headers or {})}
    assert p.env == "demo"

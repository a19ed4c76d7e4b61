"""okx.protocol.OkxPublic from frames: subscriptions, tickers, books through OkxRule (snapshot,
updates, keep-alive, reset, gap), checksums, ping/pong, malformed frames, (dis)connects; and
the 2022 recording through the protocol (290/290 checksums)."""

from __future__ import annotations

import json

import pytest

import recorded
from spinstream.errors import UnsupportedError
from spinstream.protocol.events import BookUpdated, Malformed, Stale, Subscribed, TickerUpdate
from spinstream.protocol.okx import PROTOCOLS, rest
from spinstream.protocol.okx.protocol import Link, OkxPublic
from spinstream.testing.sims.okx.state import checksum

S = 1_000_000_000
SYM = "BTC-USDT"
INSTRUMENTS = json.dumps(
    {
        "code": "0",
        "msg": "",
        "data": [
            {
                "instType": "SPOT",
                "instId": SYM,
                "tickSz": "0.01",
                "lotSz": "0.00000001",
                "ctVal": "",
                "ctValCcy": "",
            }
        ],
    }
).encode()


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


def sub(op: str, channel: str, sym: str = SYM) -> str:
    return json.dumps({"op": op, "args": [{"channel": channel, "instId": sym}]}).replace(" ", "")


def ticker_frame(bid: str = "100.1", ask: str = "100.2", ts: str = "1700000000123") -> str:
    data = {
        "instType": "SPOT",
        "instId": SYM,
        "last": "100.15",
        "lastSz": "0.1",
        "askPx": ask,
        "askSz": "1.5",
        "bidPx": bid,
        "bidSz": "2",
        "vol24h": "1000",
        "ts": ts,
    }
    push = {"arg": {"channel": "tickers", "instId": SYM}, "data": [data]}
    return json.dumps(push, separators=(",", ":"))  # compact, as OKX writes it


class Book:
    """Builds `books` frames with real checksums over a model of the venue's book."""

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.seq = 0

    def levels(self) -> tuple[list[list[str]], list[list[str]]]:
        b = sorted(self.bids.items(), key=lambda kv: -float(kv[0]))
        a = sorted(self.asks.items(), key=lambda kv: float(kv[0]))
        return [[p, s] for p, s in b], [[p, s] for p, s in a]

    def frame(
        self,
        action: str,
        bids: list[list[str]],
        asks: list[list[str]],
        *,
        prev: int | None = None,
        seq: int | None = None,
        cks: int | None = None,
    ) -> str:
        if action == "snapshot":
            self.bids, self.asks = {}, {}
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for p, s in levels:
                if s == "0":
                    side.pop(p, None)
                else:
                    side[p] = s
        last = self.seq
        self.seq = seq if seq is not None else self.seq + 10
        b, a = self.levels()
        data = {
            "asks": [[p, s, "0", "1"] for p, s in asks],
            "bids": [[p, s, "0", "1"] for p, s in bids],
            "ts": "1700000000500",
            "checksum": checksum(b, a) if cks is None else cks,
            "seqId": self.seq,
            "prevSeqId": -1 if action == "snapshot" else (last if prev is None else prev),
        }
        push = {"arg": {"channel": "books", "instId": SYM}, "action": action, "data": [data]}
        return json.dumps(push, separators=(",", ":"))  # compact, as OKX writes it


def ready(kinds: tuple[str, ...] = ("ticker", "book")) -> OkxPublic:
    p = OkxPublic("spot")
    for k in kinds:
        p.subscribe(k, SYM)
    for r in p.requests():
        assert r.path == "/api/v5/public/instruments" and "instId=BTC-USDT" in r.query
        assert p.rest_response(r.req_id, 200, INSTRUMENTS, 1) == []
    assert p.outgoing() == []  # not connected yet
    assert p.connected(2) == []
    out = p.outgoing()
    for k in kinds:
        assert sub("subscribe", {"ticker": "tickers", "book": "books"}[k]) in out
    return p


def snapshot(p: OkxPublic, b: Book, ts: int = 10) -> BookUpdated:
    ev = p.receive(b.frame("snapshot", [["100.1", "2"], ["100", "1"]], [["100.2", "1"]]), ts)
    assert len(ev) == 1 and isinstance(ev[0], BookUpdated)
    return ev[0]


def top(ev: BookUpdated) -> tuple[float, float]:
    scale = 10**ev.book.price_decimals
    return ev.book.best_bid()[0] / scale, ev.book.best_ask()[0] / scale


def test_registration_and_endpoint() -> None:
    from spinstream.protocol.okx import SPEC

    assert {m for m, _ in PROTOCOLS} == {"spot", "swap", "futures"}
    assert OkxPublic.endpoint in SPEC.ws_bases
    assert OkxPublic("swap").connect_path() == "/ws/v5/public"
    with pytest.raises(UnsupportedError):
        OkxPublic("option")
    with pytest.raises(UnsupportedError):
        OkxPublic("spot").subscribe("account", None)


def test_book_waits_for_instruments_then_subscribes() -> None:
    p = OkxPublic("spot")
    p.subscribe("book", SYM)
    p.connected(1)
    assert p.outgoing() == []  # no tickSz / lotSz yet
    (r,) = p.requests()
    ev = p.rest_response(r.req_id, 500, b'{"code":"50001","msg":"down","data":[]}', 2)
    assert isinstance(ev[0], Stale) and ev[0].kind == "book"
    assert p.requests() == []
    p.tick(2 + 6 * S)  # retried after RETRY_S
    (r,) = p.requests()
    assert p.rest_response(r.req_id, 200, INSTRUMENTS, 3) == []
    assert p.outgoing() == [sub("subscribe", "books")]


def test_subscribe_ack_and_unsubscribe() -> None:
    p = ready()
    ack = {"event": "subscribe", "arg": {"channel": "tickers", "instId": SYM}, "connId": "a"}
    (ev,) = p.receive(json.dumps(ack), 3)
    assert isinstance(ev, Subscribed)
    p.unsubscribe("ticker", SYM)
    assert p.outgoing() == [sub("unsubscribe", "tickers")]
    assert p.subscriptions() == {("book", SYM)}
    assert p.receive(ticker_frame(), 4) == []  # in flight: ignored, counted
    assert p.counters["unsubscribed"] == 1


def test_ticker_ts_event_is_the_venue_time() -> None:
    p = ready(("ticker",))
    (ev,) = p.receive(ticker_frame(), 5)
    assert isinstance(ev, TickerUpdate)
    t = ev.ticker
    assert (t.bid, t.ask, t.last, t.source, t.market) == (100.1, 100.2, 100.15, "ws", "spot")
    assert t.ts_event == 1700000000123 * 1_000_000 and t.last_update == 5


def test_book_snapshot_updates_keepalive_and_reset() -> None:
    p, b = ready(("book",)), Book()
    ev = snapshot(p, b)
    assert top(ev) == (100.1, 100.2) and ev.ts_event == 1700000000500 * 1_000_000
    (ev,) = p.receive(b.frame("update", [["100.1", "0"]], [["100.15", "3"]]), 11)
    assert isinstance(ev, BookUpdated) and top(ev) == (100.0, 100.15) and ev.seq == b.seq
    # the empty keep-alive: prevSeqId == seqId
    (ev,) = p.receive(b.frame("update", [], [], prev=b.seq, seq=b.seq), 12)
    assert isinstance(ev, BookUpdated)
    # the reset after maintenance: seqId < prevSeqId
    (ev,) = p.receive(b.frame("update", [["99.9", "1"]], [], seq=3), 13)
    assert isinstance(ev, BookUpdated) and ev.seq == 3
    (ev,) = p.receive(b.frame("update", [["99.8", "1"]], []), 14)
    assert isinstance(ev, BookUpdated) and ev.seq == 13
    assert p.counters["checksums"] == 5 and p.counters["gaps"] == 0


def test_gap_is_stale_at_once_and_resubscribes() -> None:
    p, b = ready(("book",)), Book()
    snapshot(p, b)
    (ev,) = p.receive(b.frame("update", [["99", "1"]], [], prev=b.seq + 5), 11)
    assert isinstance(ev, Stale) and ev.kind == "book" and ev.symbol == SYM
    assert p.outgoing() == [sub("unsubscribe", "books"), sub("subscribe", "books")]
    assert p.counters["gaps"] == 1
    # further updates wait quietly for the new snapshot
    assert p.receive(b.frame("update", [["98", "1"]], []), 12) == []
    assert p.outgoing() == []
    snapshot(p, b, 13)


def test_bad_checksum_is_stale_and_resubscribes() -> None:
    p, b = ready(("book",)), Book()
    snapshot(p, b)
    (ev,) = p.receive(b.frame("update", [["100.05", "1"]], [], cks=12345), 11)
    assert isinstance(ev, Stale) and "checksum" in ev.reason
    assert p.outgoing() == [sub("unsubscribe", "books"), sub("subscribe", "books")]
    assert p.counters["checksum_failed"] == 1
    snapshot(p, b, 12)


def test_checksum_zero_is_skipped() -> None:
    p, b = ready(("book",)), Book()
    p.receive(b.frame("snapshot", [["100.1", "2"]], [["100.2", "1"]], cks=0), 10)
    (ev,) = p.receive(b.frame("update", [["100", "1"]], [], cks=0), 11)
    assert isinstance(ev, BookUpdated) and p.counters["checksums"] == 0


def test_crossed_book_after_update_resyncs() -> None:
    p, b = ready(("book",)), Book()
    snapshot(p, b)
    (ev,) = p.receive(b.frame("update", [["100.3", "1"]], [], cks=0), 11)
    assert isinstance(ev, Stale) and "crossed" in ev.reason
    assert sub("subscribe", "books") in p.outgoing()


def test_ping_when_nothing_sent_and_pong_accepted() -> None:
    p = ready(("ticker",))
    p.tick(2 + 19 * S)
    assert p.outgoing() == []
    p.tick(2 + 20 * S)
    assert p.outgoing() == ["ping"]
    p.tick(2 + 30 * S)
    assert p.outgoing() == []  # the last ping was 10 s ago
    assert p.receive("pong", 3) == [] and p.counters["pongs"] == 1


def test_malformed_frames_are_counted_and_survived() -> None:
    p, b = ready(), Book()
    snapshot(p, b)
    for bad in ("{", "[1,2]", '{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"x":1}]}'):
        ev = p.receive(bad, 11)
        assert isinstance(ev[0], Malformed)
    ev = p.receive(ticker_frame(bid="-1"), 12)
    assert isinstance(ev[0], Malformed)
    # a rejected book push is a gap: Malformed + Stale + resubscribe
    p.outgoing()
    bad_book = b.frame("update", [["100.05", "-3"]], [], cks=0)
    ev = p.receive(bad_book, 13)
    assert isinstance(ev[0], Malformed) and isinstance(ev[1], Stale)
    assert sub("subscribe", "books") in p.outgoing()
    assert p.counters["malformed"] == 5
    assert isinstance(p.receive(ticker_frame(), 14)[0], TickerUpdate)


def test_venue_error_with_arg_is_stale() -> None:
    p = ready(("ticker",))
    err = {"event": "error", "code": "60018", "msg": "no such instId", "connId": "a"}
    assert p.receive(json.dumps(err), 3) == [] and p.counters["venue_errors"] == 1
    err["arg"] = {"channel": "tickers", "instId": SYM}
    (ev,) = p.receive(json.dumps(err), 4)
    assert isinstance(ev, Stale) and ev.kind == "ticker"


def test_disconnected_stales_everything_and_connected_resubscribes() -> None:
    p, b = ready(), Book()
    snapshot(p, b)
    ev = p.disconnected(20)
    assert {(e.kind, e.symbol) for e in ev if isinstance(e, Stale)} == {
        ("book", SYM),
        ("ticker", SYM),
    }
    assert p.state is Link.DISCONNECTED
    # an update before the new snapshot is not applied
    p.connected(21)
    assert sorted(p.outgoing()) == sorted([sub("subscribe", "books"), sub("subscribe", "tickers")])
    assert p.receive(b.frame("update", [["99", "1"]], []), 22) == []
    snapshot(p, b, 23)


# -- the 2022 recording through the protocol ------------------------------------------------

FILE = "OKX.jsonl"


def test_recorded_books_through_the_protocol() -> None:
    bodies = [r["data"].encode() for r in recorded.http(FILE) if "/public/instruments" in r["url"]]
    protos: dict[str, OkxPublic] = {}
    for sym, market in (
        ("BTC-USDT", "spot"),
        ("UNI-USD-SWAP", "swap"),
        ("BTC-USD-220527", "futures"),
    ):
        p = protos[market] = OkxPublic(market)
        p.subscribe("book", sym)
        p.subscribe("ticker", sym)
        (r,) = p.requests()
        assert rest.parse_instruments  # the answers are the recorder's own
        body = next(x for x in bodies if sym.encode() in x)
        assert p.rest_response(r.req_id, 200, body, 1) == []
        p.connected(2)
    books = tickers = 0
    for _, ts, text in recorded.recv(FILE):
        for p in protos.values():
            for ev in p.receive(text, ts):
                assert not isinstance(ev, (Stale, Malformed)), ev
                books += isinstance(ev, BookUpdated)
                tickers += isinstance(ev, TickerUpdate)
    checked = sum(p.counters["checksums"] for p in protos.values())
    failed = sum(p.counters["checksum_failed"] for p in protos.values())
    assert (checked, failed, books) == (290, 0, 290)
    assert tickers > 0


def test_finer_tick_refetches_the_instrument_and_resubscribes() -> None:
    p, b = ready(("book",)), Book()
    snapshot(p, b)
    (ev,) = p.receive(b.frame("update", [["100.155", "1"]], [], cks=0), 11)
    assert isinstance(ev, Stale) and ev.kind == "book"
    assert p.outgoing() == [sub("unsubscribe", "books")]
    (r,) = p.requests()
    assert r.path == "/api/v5/public/instruments"
    finer = INSTRUMENTS.replace(b'"tickSz": "0.01"', b'"tickSz": "0.001"')
    assert p.rest_response(r.req_id, 200, finer, 12) == []
    assert p.outgoing() == [sub("subscribe", "books")]
    b2 = Book()
    ev = p.receive(b2.frame("snapshot", [["100.155", "1"]], [["100.2", "1"]]), 13)
    assert isinstance(ev[0], BookUpdated) and ev[0].book.price_decimals == 3


def test_book_pushes_take_the_one_pass_path(frame_path: str) -> None:
    from spinstream.protocol.okx import parse as okx_parse

    b = Book()
    frame = b.frame("snapshot", [["100.1", "2"]], [["100.2", "1"]])
    picked = okx_parse.pick_book(frame)
    if frame_path != "picked":
        assert picked is None
        return
    assert picked == [
        "books",
        SYM,
        "snapshot",
        picked[3],
        picked[4],
        1700000000500,
        picked[6],
        b.seq,
        -1,
        None,
    ]
    assert type(picked[6]) is int
    assert (picked[3].raw, len(picked[3])) == (b'[["100.2","1","0","1"]]', 1)
    assert (picked[4].raw, len(picked[4])) == (b'[["100.1","2","0","1"]]', 1)
    # levels not in the compact form OKX writes: the general decoder reads the push
    assert okx_parse.pick_book(json.dumps(json.loads(frame))) is None
    # what it does not take, the general decoder reads: tickers, op answers, two items
    assert okx_parse.pick_book(ticker_frame()) is None
    assert okx_parse.pick_book(sub("subscribe", "books")) is None
    two = json.loads(frame)
    two["data"] *= 2
    assert okx_parse.pick_book(json.dumps(two)) is None
    for field, value in (("seqId", "12"), ("checksum", 1.5), ("ts", 1), ("asks", "[]")):
        wrong_type = json.loads(frame)
        wrong_type["data"][0][field] = value
        assert okx_parse.pick_book(json.dumps(wrong_type)) is None, field

"""booksync: every venue rule from lists of ids, the BookSync state machine, recorded traffic."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recorded
from spinstream.errors import ProtocolError
from spinstream.protocol.booksync import (
    BINANCE_SPOT,
    BINANCE_USDM,
    BYBIT,
    COINBASE,
    DERIBIT,
    OKX,
    Action,
    BookSync,
    BybitRule,
    Ids,
    Replay,
    Rule,
    SyncState,
    Verdict,
)

A, R, D, B, X = Action.APPLY, Action.RESET, Action.DROP, Action.BUFFER, Action.RESYNC


def spot(first: int, seq: int) -> Ids:
    return Ids(seq, first=first)


def usdm(first: int, seq: int, prev: int) -> Ids:
    return Ids(seq, first=first, prev=prev)


def feed(sync: BookSync[Ids], updates: list[Ids]) -> list[Action]:
    """on_update for each, with the ids as the payload."""
    return [sync.on_update(ids, ids) for ids in updates]


def counters(sync: BookSync[Ids]) -> tuple[int, int, int, int, int]:
    return sync.applied, sync.stale, sync.gaps, sync.resyncs, sync.overflows


# ---------------------------------------------------------------- rules, one classify at a time

V = Verdict


@pytest.mark.parametrize(
    ("rule", "last", "after", "ids", "want"),
    [
        # Binance spot: u <= id stale, U > id + 1 gap, otherwise apply (overlap allowed)
        (BINANCE_SPOT, None, False, spot(5, 9), V.WAIT),
        (BINANCE_SPOT, 100, True, spot(90, 100), V.STALE),
        (BINANCE_SPOT, 100, True, spot(95, 103), V.APPLY),  # straddles 101
        (BINANCE_SPOT, 100, True, spot(101, 101), V.APPLY),  # exact next
        (BINANCE_SPOT, 100, True, spot(102, 104), V.GAP),
        (BINANCE_SPOT, 100, False, spot(99, 101), V.APPLY),  # overlap is fine after the first
        (BINANCE_SPOT, 100, False, spot(100, 100), V.STALE),
        # Binance USD-M: first U <= id <= u, u < id stale; then pu == id
        (BINANCE_USDM, None, False, usdm(5, 9, 4), V.WAIT),
        (BINANCE_USDM, 100, True, usdm(90, 99, 89), V.STALE),
        (BINANCE_USDM, 100, True, usdm(96, 100, 95), V.APPLY),  # u == lastUpdateId
        (BINANCE_USDM, 100, True, usdm(100, 104, 99), V.APPLY),
        (BINANCE_USDM, 100, True, usdm(101, 104, 100), V.GAP),  # U must be <= lastUpdateId
        (BINANCE_USDM, 100, False, usdm(105, 107, 100), V.APPLY),  # pu == previous u
        (BINANCE_USDM, 100, False, usdm(101, 107, 99), V.GAP),
        (BINANCE_USDM, 100, False, usdm(90, 95, 89), V.GAP),  # no stale rule once running
        # Bybit
        (BYBIT, None, False, Ids(7), V.WAIT),
        (BYBIT, None, False, Ids(7, snapshot=True), V.RESET),
        (BYBIT, 10, False, Ids(1), V.RESET),  # u == 1: service restart
        (BYBIT, 10, False, Ids(5, snapshot=True), V.RESET),
        (BYBIT, 10, False, Ids(10), V.STALE),
        (BYBIT, 10, False, Ids(11), V.APPLY),
        (BYBIT, 10, False, Ids(15), V.APPLY),  # not documented as +1: applied
        (BybitRule(consecutive=True), 10, False, Ids(15), V.GAP),
        (BybitRule(consecutive=True), 10, False, Ids(11), V.APPLY),
        # OKX
        (OKX, None, False, Ids(10, prev=-1), V.RESET),
        (OKX, 50, False, Ids(10, prev=-1, snapshot=True), V.RESET),
        (OKX, None, False, Ids(15, prev=10), V.WAIT),
        (OKX, 10, False, Ids(15, prev=10), V.APPLY),
        (OKX, 15, False, Ids(15, prev=15), V.APPLY),  # keepalive: seqId == prevSeqId
        (OKX, 15, False, Ids(3, prev=15), V.APPLY),  # maintenance reset: seqId < prevSeqId
        (OKX, 15, False, Ids(12, prev=8), V.GAP),  # prevSeqId < id: any other mismatch is a gap
        (OKX, 15, False, Ids(25, prev=20), V.GAP),
        (OKX, 15, True, Ids(12, prev=8), V.STALE),  # REST snapshot: seqId <= snapshot is stale
        (OKX, 15, True, Ids(18, prev=12), V.APPLY),  # prevSeqId <= snapshot < seqId
        (OKX, 15, True, Ids(25, prev=20), V.GAP),
        # Deribit
        (DERIBIT, None, False, Ids(100, snapshot=True), V.RESET),
        (DERIBIT, 50, False, Ids(100), V.RESET),  # no prev_change_id: a whole book
        (DERIBIT, None, False, Ids(101, prev=100), V.WAIT),
        (DERIBIT, 100, False, Ids(104, prev=100), V.APPLY),
        (DERIBIT, 100, False, Ids(104, prev=101), V.GAP),
        (DERIBIT, 100, False, Ids(99, prev=98), V.GAP),
        # Coinbase: per-connection counter
        (COINBASE, None, False, Ids(0), V.APPLY),  # the first message anchors
        (COINBASE, 4, False, Ids(5), V.APPLY),
        (COINBASE, 4, False, Ids(4), V.STALE),
        (COINBASE, 4, False, Ids(2), V.STALE),  # out of order: ignored per Coinbase
        (COINBASE, 4, False, Ids(6), V.GAP),
        (COINBASE, 4, False, Ids(5, snapshot=True), V.APPLY),  # snapshot flag is the caller's
    ],
)
def test_rule(rule: Rule, last: int | None, after: bool, ids: Ids, want: Verdict) -> None:
    assert rule.classify(last, after, ids) is want


@pytest.mark.parametrize(
    ("rule", "ids"),
    [
        (BINANCE_SPOT, Ids(5)),  # no U
        (BINANCE_SPOT, spot(9, 5)),  # U > u
        (BINANCE_USDM, Ids(5, prev=4)),
        (OKX, Ids(5)),  # no prevSeqId on a non-snapshot
    ],
)
def test_rule_rejects_bad_ids(rule: Rule, ids: Ids) -> None:
    with pytest.raises(ProtocolError):
        rule.classify(100, False, ids)


def test_usdm_needs_pu_even_before_the_snapshot() -> None:
    s: BookSync[Ids] = BookSync(BINANCE_USDM)
    with pytest.raises(ProtocolError):
        s.on_update(Ids(105, first=101), Ids(105, first=101))  # refused before it is buffered
    assert s.buffered == 0


# ---------------------------------------------------------------- Binance spot through BookSync


def test_spot_buffer_then_snapshot_straddle() -> None:
    s: BookSync[Ids] = BookSync(BINANCE_SPOT)
    assert s.state is SyncState.WAITING_SNAPSHOT
    ups = [spot(95, 98), spot(99, 100), spot(101, 103), spot(104, 104)]
    assert feed(s, ups) == [B, B, B, B]
    assert s.buffered == 4
    r = s.on_snapshot(101)
    assert r == Replay(True, (spot(101, 103), spot(104, 104)))
    assert s.state is SyncState.SYNCED and s.last == 104 and s.buffered == 0
    assert feed(s, [spot(105, 107), spot(108, 108)]) == [A, A]
    assert s.last == 108
    assert counters(s) == (4, 2, 0, 0, 0)


def test_spot_snapshot_first_then_stale_then_chain() -> None:
    # the recorded order: REST snapshot before the stream's first events
    s: BookSync[Ids] = BookSync(BINANCE_SPOT)
    assert s.on_snapshot(543) == Replay(True, ())
    assert feed(s, [spot(536, 539), spot(540, 543), spot(544, 545), spot(546, 546)]) == [D, D, A, A]
    assert counters(s) == (2, 2, 0, 0, 0)


def test_spot_gap_after_sync() -> None:
    s: BookSync[Ids] = BookSync(BINANCE_SPOT)
    s.on_snapshot(100)
    assert feed(s, [spot(101, 105), spot(106, 106), spot(110, 112)]) == [A, A, X]
    assert s.state is SyncState.RESYNC_NEEDED and s.last is None
    assert s.reason and "gap" in s.reason
    # held until a new snapshot; stale ones are dropped at replay
    assert feed(s, [spot(113, 115), spot(116, 117)]) == [B, B]
    assert s.buffered == 3
    r = s.on_snapshot(114)
    assert r == Replay(True, (spot(113, 115), spot(116, 117)))
    assert s.state is SyncState.SYNCED and s.last == 117
    assert counters(s) == (4, 1, 1, 1, 0)


def test_spot_snapshot_older_than_buffer_is_refused() -> None:
    s: BookSync[Ids] = BookSync(BINANCE_SPOT)
    feed(s, [spot(120, 125), spot(126, 130)])
    r = s.on_snapshot(110)  # ids 111..119 were never seen
    assert r == Replay(False, ())
    assert s.state is SyncState.RESYNC_NEEDED
    assert s.reason and "older" in s.reason
    assert s.buffered == 2  # the buffer is kept for the next snapshot
    assert s.on_snapshot(127) == Replay(True, (spot(126, 130),))
    assert s.last == 130
    assert counters(s) == (1, 1, 1, 1, 0)


def test_spot_gap_inside_buffer_keeps_the_tail() -> None:
    s: BookSync[Ids] = BookSync(BINANCE_SPOT)
    feed(s, [spot(101, 102), spot(103, 104), spot(107, 108), spot(109, 110)])
    assert s.on_snapshot(100) == Replay(False, ())
    assert s.reason and "gap in the buffer" in s.reason
    assert s.buffered == 2
    assert s.on_snapshot(108) == Replay(True, (spot(109, 110),))
    assert counters(s) == (1, 1, 1, 1, 0)


# ---------------------------------------------------------------- Binance USD-M


def test_usdm_first_event_straddle_then_pu_chain() -> None:
    s: BookSync[Ids] = BookSync(BINANCE_USDM)
    feed(s, [usdm(90, 95, 89), usdm(96, 99, 95), usdm(100, 104, 99), usdm(105, 108, 104)])
    r = s.on_snapshot(100)
    assert r.ok and r.updates == (usdm(100, 104, 99), usdm(105, 108, 104))
    assert feed(s, [usdm(109, 110, 108), usdm(111, 115, 110), usdm(118, 120, 117)]) == [A, A, X]
    assert counters(s) == (4, 2, 1, 1, 0)


def test_usdm_first_event_must_contain_snapshot_id() -> None:
    s: BookSync[Ids] = BookSync(BINANCE_USDM)
    feed(s, [usdm(101, 104, 100)])  # starts after lastUpdateId 100: not allowed for USD-M
    assert s.on_snapshot(100) == Replay(False, ())
    s2: BookSync[Ids] = BookSync(BINANCE_USDM)
    s2.on_snapshot(100)
    assert feed(s2, [usdm(99, 99, 98), usdm(100, 100, 99), usdm(101, 103, 100)]) == [D, A, A]


# ---------------------------------------------------------------- in-band snapshots


def test_bybit_snapshot_delta_and_restart() -> None:
    s: BookSync[Ids] = BookSync(BYBIT)
    assert feed(s, [Ids(4), Ids(5)]) == [B, B]  # deltas before the subscription's snapshot
    assert s.on_update(Ids(5, snapshot=True), Ids(5, snapshot=True)) is R
    assert s.buffered == 0 and s.stale == 2
    assert feed(s, [Ids(6), Ids(7), Ids(7), Ids(9)]) == [A, A, D, A]
    assert feed(s, [Ids(1)]) == [R]  # u == 1: service restart, treated as a snapshot
    assert s.last == 1
    assert feed(s, [Ids(2), Ids(30, snapshot=True), Ids(31)]) == [A, R, A]
    assert counters(s) == (8, 3, 0, 0, 0)


def test_bybit_consecutive_gap_and_resubscribe() -> None:
    s: BookSync[Ids] = BookSync(BybitRule(consecutive=True))
    assert feed(s, [Ids(10, snapshot=True), Ids(11), Ids(13), Ids(14)]) == [R, A, X, B]
    assert s.state is SyncState.RESYNC_NEEDED
    assert feed(s, [Ids(20, snapshot=True), Ids(21)]) == [R, A]  # resubscribed
    assert counters(s) == (4, 2, 1, 1, 0)


def test_okx_heartbeat_maintenance_reset_and_gap() -> None:
    s: BookSync[Ids] = BookSync(OKX)
    ups = [
        Ids(10, prev=-1, snapshot=True),
        Ids(15, prev=10),
        Ids(15, prev=15),  # keepalive, no change
        Ids(3, prev=15),  # maintenance: sequence reset
        Ids(5, prev=3),
        Ids(9, prev=7),  # gap
        Ids(12, prev=9),
    ]
    assert feed(s, ups) == [R, A, A, A, A, X, B]
    assert s.state is SyncState.RESYNC_NEEDED
    assert feed(s, [Ids(40, prev=-1, snapshot=True), Ids(41, prev=40)]) == [R, A]
    assert counters(s) == (7, 2, 1, 1, 0)


def test_okx_rest_snapshot_stitching() -> None:
    s: BookSync[Ids] = BookSync(OKX)
    feed(s, [Ids(10, prev=5), Ids(20, prev=10), Ids(30, prev=20)])
    assert s.on_snapshot(15) == Replay(True, (Ids(20, prev=10), Ids(30, prev=20)))
    assert s.last == 30


def test_deribit_chain_and_gap() -> None:
    s: BookSync[Ids] = BookSync(DERIBIT)
    assert feed(s, [Ids(101, prev=100)]) == [B]  # a change before the snapshot
    assert feed(s, [Ids(100, snapshot=True), Ids(104, prev=100), Ids(107, prev=104)]) == [R, A, A]
    assert feed(s, [Ids(112, prev=109), Ids(113, prev=112)]) == [X, B]
    assert s.on_update(Ids(200, snapshot=True), Ids(200, snapshot=True)) is R
    assert s.on_update(Ids(201, prev=200), Ids(201, prev=200)) is A
    assert counters(s) == (5, 3, 1, 1, 0)


# ---------------------------------------------------------------- Coinbase per-connection counter


def test_coinbase_connection_sequence() -> None:
    s: BookSync[Ids] = BookSync(COINBASE)
    assert feed(s, [Ids(0), Ids(1), Ids(2), Ids(1), Ids(3)]) == [A, A, A, D, A]
    assert feed(s, [Ids(5), Ids(6)]) == [X, B]  # 4 was lost: resubscribe or reconnect
    assert s.state is SyncState.RESYNC_NEEDED
    s.reset()  # new connection: its counter starts again
    assert s.state is SyncState.WAITING_SNAPSHOT and s.buffered == 0
    assert feed(s, [Ids(0), Ids(1)]) == [A, A]
    assert counters(s) == (6, 1, 1, 1, 0)


# ---------------------------------------------------------------- buffer, invalidate, reset


def test_buffer_overflow_needs_resync() -> None:
    s: BookSync[Ids] = BookSync(BINANCE_SPOT, max_buffer=3)
    ups = [spot(i, i) for i in range(1, 7)]
    assert feed(s, ups) == [B, B, B, X, B, B]
    assert s.state is SyncState.RESYNC_NEEDED
    assert s.buffered == 3 and s.overflows == 3 and s.resyncs == 1
    assert s.reason and "overflow" in s.reason
    assert s.on_snapshot(2) == Replay(False, ())  # ids 3 were pushed out of the buffer
    assert s.on_snapshot(4) == Replay(True, (spot(5, 5), spot(6, 6)))


def test_max_buffer_must_be_positive() -> None:
    with pytest.raises(ValueError):
        BookSync(BINANCE_SPOT, max_buffer=0)


def test_invalidate_from_outside() -> None:
    s: BookSync[Ids] = BookSync(OKX)
    feed(s, [Ids(10, prev=-1, snapshot=True), Ids(11, prev=10)])
    s.invalidate("checksum mismatch")
    assert s.state is SyncState.RESYNC_NEEDED and s.last is None
    assert s.reason == "okx: checksum mismatch"
    s.invalidate("again")  # already broken: counted once
    assert s.resyncs == 1
    assert feed(s, [Ids(12, prev=11)]) == [B]
    assert feed(s, [Ids(30, prev=-1, snapshot=True)]) == [R]
    assert counters(s) == (3, 1, 0, 1, 0)


def test_snapshot_while_synced_restarts_the_chain() -> None:
    s: BookSync[Ids] = BookSync(BINANCE_SPOT)
    s.on_snapshot(100)
    feed(s, [spot(101, 110)])
    assert s.on_snapshot(120) == Replay(True, ())  # a periodic REST refresh
    assert feed(s, [spot(111, 115), spot(116, 125)]) == [D, A]


def test_reset_forgets_everything() -> None:
    s: BookSync[Ids] = BookSync(BINANCE_SPOT)
    feed(s, [spot(1, 2)])
    s.reset()
    assert (s.state, s.last, s.buffered) == (SyncState.WAITING_SNAPSHOT, None, 0)
    assert "WAITING_SNAPSHOT" in repr(s)


def test_protocol_error_leaves_state_alone() -> None:
    s: BookSync[Ids] = BookSync(BINANCE_SPOT)
    s.on_snapshot(10)
    with pytest.raises(ProtocolError):
        s.on_update(Ids(11), Ids(11))
    assert s.state is SyncState.SYNCED and s.last == 10


# ---------------------------------------------------------------- property: Binance spot


@st.composite
def spot_streams(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[bool], int, int]:
    """A chain of (U, u) ranges, which are delivered, the snapshot id and when it arrives."""
    base = draw(st.integers(1, 10_000))
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=40))
    chain, nxt = [], base
    for n in sizes:
        chain.append((nxt, nxt + n - 1))
        nxt += n
    kept = draw(st.lists(st.booleans(), min_size=len(chain), max_size=len(chain)))
    if draw(st.booleans()):
        kept = [True] * len(chain)  # often no loss at all
    snap = draw(st.integers(base - 4, nxt))  # below base-1: the snapshot predates the stream
    at = draw(st.integers(0, len(chain)))
    return chain, kept, snap, at


@settings(max_examples=400, deadline=None)
@given(spot_streams())
def test_spot_sync_applies_only_chaining_updates(
    stream: tuple[list[tuple[int, int]], list[bool], int, int],
) -> None:
    chain, kept, snap, at = stream
    delivered = [(i, r) for i, r in enumerate(chain) if kept[i]]
    events = [r for _, r in delivered]
    s: BookSync[tuple[int, int]] = BookSync(BINANCE_SPOT)
    applied: list[tuple[int, int]] = []
    gap_reported = False
    before = [r for i, r in delivered if i < at]
    after = [r for i, r in delivered if i >= at]
    for first, seq in before:
        s.on_update(Ids(seq, first=first), (first, seq))
    replay = s.on_snapshot(snap)
    gap_reported |= not replay.ok
    applied += replay.updates
    for first, seq in after:
        act = s.on_update(Ids(seq, first=first), (first, seq))
        gap_reported |= act is Action.RESYNC
        if act is Action.APPLY:
            applied.append((first, seq))

    # every applied update chains onto the book built so far (snapshot first)
    cur = snap
    for first, seq in applied:
        assert first <= cur + 1 <= seq
        cur = seq

    # a gap is reported exactly when ids after the snapshot are missing below a later delivered one
    seen = {i for first, seq in events for i in range(first, seq + 1)}
    later = [seq for first, seq in events if seq > snap]
    holes = [i for i in range(snap + 1, max(later, default=snap) + 1) if i not in seen]
    assert gap_reported == bool(holes)
    assert (s.gaps > 0) == bool(holes)
    if holes:
        assert cur < holes[0]  # nothing past the first hole was applied
        assert s.state is SyncState.RESYNC_NEEDED
    else:
        assert applied == [r for r in events if r[1] > snap]
        assert s.state is SyncState.SYNCED and s.last == max(later, default=snap)


# ---------------------------------------------------------------- recorded traffic


def test_recorded_binance_spot_syncs_on_rest_snapshots() -> None:
    snaps = {}
    for h in recorded.http("BINANCE.jsonl"):
        if "/api/v3/depth?symbol=" in h["url"]:
            sym = h["url"].split("symbol=")[1].split("&")[0].lower()
            snaps[sym] = json.loads(h["data"])["lastUpdateId"]
    syncs: dict[str, BookSync[None]] = {}
    for sym, last_id in snaps.items():
        syncs[sym] = BookSync(BINANCE_SPOT)
        assert syncs[sym].on_snapshot(last_id).ok
    n = 0
    for _, _, frame in recorded.recv("BINANCE.jsonl"):
        msg = json.loads(frame)
        if "@depth" in msg.get("stream", ""):
            d = msg["data"]
            act = syncs[msg["stream"].split("@")[0]].on_update(Ids(d["u"], first=d["U"]), None)
            assert act in (A, D)
            n += 1
    assert n > 100
    assert all(s.gaps == 0 and s.state is SyncState.SYNCED for s in syncs.values())
    assert sum(s.applied for s in syncs.values()) + sum(s.stale for s in syncs.values()) == n


def test_recorded_bybit_books_chain_strictly() -> None:
    syncs: defaultdict[tuple[str, str], BookSync[None]] = defaultdict(
        lambda: BookSync(BybitRule(consecutive=True))
    )
    n = 0
    for conn, _, frame in recorded.recv("BYBIT.jsonl"):
        msg = json.loads(frame)
        if msg.get("topic", "").startswith("orderbook."):
            ids = Ids(msg["data"]["u"], snapshot=msg["type"] == "snapshot")
            assert syncs[conn, msg["topic"]].on_update(ids, None) in (A, R)
            n += 1
    assert n > 1000


def test_recorded_deribit_changes_chain() -> None:
    syncs: defaultdict[str, BookSync[None]] = defaultdict(lambda: BookSync(DERIBIT))
    n = 0
    for _, _, frame in recorded.recv("DERIBIT.jsonl"):
        params = json.loads(frame).get("params", {})
        if params.get("channel", "").startswith("book."):
            d = params["data"]
            snapshot = d["type"] == "snapshot"
            ids = Ids(d["change_id"], prev=d.get("prev_change_id"), snapshot=snapshot)
            assert syncs[params["channel"]].on_update(ids, None) in (A, R)
            n += 1
    assert n > 20


def test_recorded_coinbase_connection_counter() -> None:
    s: BookSync[None] = BookSync(COINBASE)
    frames = list(recorded.recv("COINBASE.jsonl"))
    for _, _, frame in frames:
        assert s.on_update(Ids(json.loads(frame)["sequence_num"]), None) is A
    assert s.applied == len(frames) > 500

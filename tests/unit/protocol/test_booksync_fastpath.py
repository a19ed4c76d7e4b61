"""The per-frame twins of the sequencing rules agree with the rules themselves.

`Rule.chains` and `SyncedBook.update_seq` (which writes two rules' `chains` out inline) exist
for speed; `classify` and `SyncedBook.update` are the reference. Random ids, random states.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from spinstream.errors import ProtocolError
from spinstream.protocol.booksync import (
    BINANCE_SPOT,
    BINANCE_USDM,
    BYBIT,
    COINBASE,
    DERIBIT,
    OKX,
    BybitRule,
    Ids,
    SyncedBook,
    Verdict,
)

RULES = [BINANCE_SPOT, BINANCE_USDM, BYBIT, BybitRule(consecutive=True), OKX, DERIBIT, COINBASE]
small = st.integers(-2, 12)
maybe = st.one_of(st.none(), small)


@settings(max_examples=3000, deadline=None)
@given(
    rule=st.sampled_from(RULES),
    last=maybe,
    after=st.booleans(),
    seq=small,
    first=maybe,
    prev=maybe,
    snapshot=st.booleans(),
)
def test_chains_is_classify_says_apply(rule, last, after, seq, first, prev, snapshot) -> None:
    try:
        want = rule.classify(last, after, Ids(seq, first, prev, snapshot)) is Verdict.APPLY
    except ProtocolError:
        want = False  # ids the rule cannot judge never take the fast path
    assert rule.chains(last, after, seq, first, prev, snapshot) == want


update = st.tuples(small, maybe, maybe, st.booleans(), st.integers(1, 3), st.integers(0, 4))


@settings(max_examples=400, deadline=None)
@given(
    rule=st.sampled_from(RULES),
    snap=st.one_of(st.none(), small),
    updates=st.lists(update, max_size=25),
)
def test_update_seq_is_update(rule, snap, updates) -> None:
    fast = SyncedBook(rule, 0, 0)
    ref = SyncedBook(rule, 0, 0)
    if snap is not None:
        assert fast.snapshot(snap, [[1, 1]], [[9, 1]]) == ref.snapshot(snap, [[1, 1]], [[9, 1]])
    for seq, first, prev, snapshot, price, size in updates:
        bids, asks = [[price, size]], [[price + 5, size]]
        ids = Ids(seq, first, prev, snapshot)
        try:
            want = ref.update(ids, bids, asks)
        except ProtocolError:
            try:
                fast.update_seq(seq, first, prev, snapshot, bids, asks)
            except ProtocolError:
                continue
            raise AssertionError("update_seq accepted ids that update refuses") from None
        got = fast.update_seq(seq, first, prev, snapshot, bids, asks)
        assert got == want
        assert fast.sync.state == ref.sync.state and fast.sync.last == ref.sync.last
        assert (fast.sync.applied, fast.sync.stale, fast.sync.gaps) == (
            ref.sync.applied, ref.sync.stale, ref.sync.gaps,
        )  # fmt: skip
        assert fast.book.bids(50).tolist() == ref.book.bids(50).tolist()
        assert fast.book.asks(50).tolist() == ref.book.asks(50).tolist()

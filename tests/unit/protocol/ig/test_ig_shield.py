"""ig.shield: IG's budgets as buckets, which calls spend which, and wait vs fail fast."""

from __future__ import annotations

import random

import pytest

from spinstream.errors import RateLimited
from spinstream.protocol.ig import SPEC, rest, shield
from spinstream.protocol.limits import Bucket, Limiter

S = 1_000_000_000
MINUTE = 60 * S


def windows_ok(sent: list[int], limit: int, per_ns: int) -> bool:
    """No window of per_ns starting at any call holds more than limit calls (sliding)."""
    sent = sorted(sent)
    j = 0
    for i, t in enumerate(sent):
        while j < len(sent) and sent[j] < t + per_ns:
            j += 1
        if j - i > limit:
            return False
    return True


def test_budgets_are_igs_published_ones() -> None:
    lim = shield.LIMITS()
    assert {k: (b.limit, b.per_s) for k, b in lim.items()} == {
        "app": (60, 60.0),
        "account": (30, 60.0),
        "trading": (100, 60.0),
        "history": (10_000, 7 * 24 * 3600.0),
    }
    assert shield.LIMITS()["app"] is not lim["app"]  # fresh per account
    shared = Bucket(60, 60.0)
    assert shield.LIMITS(app=shared)["app"] is shared  # one API key, several accounts
    assert SPEC.limits is rest.LIMITS is shield.LIMITS
    demo = shield.LIMITS(shield.DEMO_CONSERVATIVE)
    assert demo["account"].limit == 10


@pytest.mark.parametrize(
    ("method", "path", "trading"),
    [
        ("POST", "/positions/otc", True),
        ("PUT", "/positions/otc/DIAAAA1", True),
        ("DELETE", "/positions/otc", True),
        ("POST", "/workingorders/otc", True),
        ("PUT", "/workingorders/otc/DIAAAA2", True),
        ("POST", "/workingorders/otc/DIAAAA2", True),  # delete as POST + _method
        ("GET", "/positions", False),
        ("GET", "/positions/DIAAAA1", False),
        ("GET", "/workingorders", False),
        ("POST", "/session", False),
        ("GET", "/confirms/REF1", False),
        ("GET", "/markets/CS.D.EURUSD.CFD.IP", False),
        ("GET", "/prices/CS.D.EURUSD.CFD.IP", False),
        ("POST", "/positions/otcx", False),
    ],
)
def test_trading_calls_are_position_and_working_order_changes(
    method: str, path: str, trading: bool
) -> None:
    assert shield.is_trading(method, path) is trading


def test_costs_by_kind() -> None:
    assert shield.cost(shield.CallKind.NON_TRADING) == {"app": 1, "account": 1}
    assert shield.cost(shield.CallKind.TRADING) == {"trading": 1}  # documented decision
    assert shield.cost(shield.CallKind.HISTORY, 20) == {"app": 1, "account": 1, "history": 20}
    for bad in (0, shield.MAX_POINTS_PER_CALL + 1):
        with pytest.raises(ValueError, match="points"):
            shield.cost(shield.CallKind.HISTORY, bad)
    assert shield.call_kind("GET", "/prices/X") is shield.CallKind.HISTORY


def test_every_endpoint_costs_what_its_kind_says() -> None:
    names = set(shield.LIMITS())
    for name, ep in rest.ENDPOINTS.items():
        assert set(ep.cost) <= names, name
        trading = shield.is_trading(ep.method, ep.path)
        assert ("trading" in ep.cost) is trading, name
        assert ("account" in ep.cost) is (not trading), name
    assert rest.ENDPOINTS["open_position"].cost == {"trading": 1}
    assert rest.ENDPOINTS["close_position"].cost == {"trading": 1}
    assert rest.ENDPOINTS["positions"].cost == {"app": 1, "account": 1}


def test_exceeded_codes_name_the_bucket() -> None:
    assert shield.EXCEEDED == {
        "error.public-api.exceeded-api-key-allowance": "app",
        "error.public-api.exceeded-account-allowance": "account",
        "error.public-api.exceeded-account-trading-allowance": "trading",
        "error.public-api.exceeded-account-historical-data-allowance": "history",
    }


@pytest.mark.parametrize("seed", range(5))
def test_bursty_callers_never_exceed_any_budget_in_any_window(seed: int) -> None:
    """Mixed bursts of non-trading and trading calls from several greedy callers, with idle
    gaps: IG's 60 (app), 30 (account) and 100 (trading) per minute hold in every window."""
    rng = random.Random(seed)
    limiter = Limiter(shield.LIMITS())
    non_trading = rest.build_positions("otc")
    trading = rest.build_place_order(
        "otc", None, 0, "CS.D.EURUSD.CFD.IP", "buy", "market", 1, currency_code="USD"
    )
    now = 0
    sent_nt: list[int] = []
    sent_tr: list[int] = []
    for _ in range(400):
        if rng.random() < 0.05:
            now += rng.randrange(0, 3 * MINUTE)  # idle: buckets refill
        burst = rng.randrange(1, 25)
        for _ in range(burst):  # a burst arrives at once; each waits what the shield says
            req = trading if rng.random() < 0.4 else non_trading
            at = now + limiter.take(req.cost, now)
            (sent_tr if req is trading else sent_nt).append(at)
        now += rng.randrange(0, 2 * S)
    assert len(sent_nt) > 300 and len(sent_tr) > 200
    assert windows_ok(sent_nt, 30, MINUTE)  # per account non-trading (tighter than app's 60)
    assert windows_ok(sent_tr, 100, MINUTE)
    assert windows_ok(sent_nt, 60, MINUTE)


def test_shared_app_bucket_holds_60_across_accounts() -> None:
    app = Bucket(60, 60.0)
    accounts = [Limiter(shield.LIMITS(app=app)) for _ in range(3)]
    req = rest.build_account("otc")
    sent: list[int] = []
    now = 0
    for i in range(300):
        now += 100_000_000 * (i % 3 == 0)
        lim = accounts[i % 3]
        sent.append(now + lim.take(req.cost, now))
    assert windows_ok(sent, 60, MINUTE)
    for k in range(3):
        assert windows_ok(sent[k::3], 30, MINUTE)


def test_history_points_never_exceed_the_weekly_allowance() -> None:
    limiter = Limiter(shield.LIMITS())
    week = 7 * 24 * 3600 * S
    now, sent = 0, []
    for _ in range(60):
        req = rest.build_prices("CS.D.EURUSD.CFD.IP", "MINUTE", max_points=1000, page_size=1000)
        assert req.cost["history"] == 1000
        at = now + limiter.take(req.cost, now)
        sent.append(at)
    points = [(t, 1000) for t in sent]
    for i, (t, _) in enumerate(points):
        assert sum(p for u, p in points[i:] if u < t + week) <= 10_000


def test_wait_or_fail_fast_policy() -> None:
    assert shield.max_wait_s(True) is None
    assert shield.max_wait_s(False) == 0.0
    assert shield.max_wait_s(2.5) == 2.5
    for bad in (-1, "no"):
        with pytest.raises(ValueError):
            shield.max_wait_s(bad)  # type: ignore[arg-type]
    # fail fast: what HttpClient.send(max_wait_s=0) checks before sending
    limiter = Limiter(shield.LIMITS())
    req = rest.build_positions("otc")
    for _ in range(6):  # the account bucket's burst
        assert limiter.take(req.cost, 0) == 0
    assert limiter.wait_ns(req.cost, 0) > 0  # a fail-fast caller raises RateLimited("local")
    msg = shield.spent(limiter.buckets, req.cost, 0)
    assert msg is not None and "30 non-trading requests a minute per account" in msg
    assert shield.spent(limiter.buckets, {"trading": 1}, 0) is None


class _FrozenClock:
    def mono_ns(self) -> int:
        return 0

    def ns(self) -> int:
        return 0


async def test_fail_fast_raises_a_clear_local_rate_limit() -> None:
    """The caller's "fail fast" (max_wait_s=0) raises before anything is sent; "wait" would
    sleep for the slot instead (never a 403 from IG)."""
    from spinstream.transport.http import HttpClient

    client = HttpClient(
        "ig",
        {"otc": "http://127.0.0.1:9"},
        Limiter(shield.LIMITS()),
        _FrozenClock(),  # type: ignore[arg-type]
    )
    req = rest.build_positions("otc")
    for _ in range(6):
        client.limiter.take(req.cost, 0)  # the account budget's burst is spent
    with pytest.raises(RateLimited) as info:
        await client.send(req, max_wait_s=shield.max_wait_s(False))
    assert info.value.code == "local" and "budget" in str(info.value)
    assert client.calls == {}  # nothing went out
    await client.close()

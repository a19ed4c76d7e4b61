"""REST budgets shared by scope (issue 9, defect 8) and prioritised for stream traffic (defect 9).

All on a fake clock (int ns passed in): the limiter is pure, so every ordering is exact.
"""

from __future__ import annotations

import random

import pytest

from spinstream.errors import RateLimited, TransportError
from spinstream.protocol.binance import rest as binance_rest
from spinstream.protocol.bybit import rest as bybit_rest
from spinstream.protocol.ig import shield
from spinstream.protocol.limits import Bucket, BudgetRegistry, Limiter

S = 1_000_000_000
HOSTS = ("127.0.0.1:8001",)


# -- the strategy lane keeps a reserve; the stream lane goes first ---------------------------


def test_strategy_lane_stops_at_the_reserve_and_the_stream_lane_gets_it() -> None:
    b = Bucket(100, 10.0)  # burst 20, reserve 20 % of it: 4 units strategy calls never take
    assert [b.try_take(1, 0) for _ in range(16)] == [0] * 16
    wait = b.try_take(1, 0)
    assert wait > 0 and b.available(0) == pytest.approx(4)  # refused: nothing booked
    assert [b.take(1, 0) for _ in range(4)] == [0] * 4  # the stream spends the reserve at once
    assert b.available(0) == pytest.approx(0)


def test_a_stream_request_goes_before_a_strategy_request_already_waiting() -> None:
    b = Bucket(100, 10.0)  # refill 70 per 10 s: one unit every 1/7 s
    while b.try_take(1, 0) == 0:
        pass
    wait = b.try_take(1, 0)  # a strategy request waits this long, then looks again
    assert wait > 0
    assert b.take(4, wait // 2) == 0  # a snapshot arrives meanwhile: booked at once
    again = b.try_take(1, wait)  # the strategy request wakes: the stream went first
    assert again > 0
    assert b.try_take(1, wait + again) == 0  # and it goes once the reserve is back


def test_reserve_is_lowered_for_a_cost_that_would_never_fit() -> None:
    b = Bucket(100, 10.0)  # capacity 20, reserve 4
    assert b.floor(1) == pytest.approx(4) and b.floor(18) == pytest.approx(2)
    assert b.try_take(18, 0) == 0  # a full bucket admits it: strategies are never locked out
    assert b.try_take(18, 0) > 0


def test_limiter_try_take_books_all_buckets_or_none() -> None:
    lim = Limiter({"weight": Bucket(100, 1.0), "orders": Bucket(10, 1.0, burst=0.5, margin=0)})
    # orders: capacity 5, reserve 1 -> four strategy orders, the fifth waits
    assert [lim.try_take({"weight": 1, "orders": 1}, 0) for _ in range(4)] == [0] * 4
    before = lim.buckets["weight"].available(0)
    assert lim.try_take({"weight": 1, "orders": 1}, 0) > 0
    assert lim.buckets["weight"].available(0) == before  # weight not booked either
    assert lim.wait_ns({"orders": 1}, 0, "strategy") > 0
    assert lim.wait_ns({"orders": 1}, 0, "stream") == 0  # the stream may take the reserve
    assert lim.take({"orders": 1}, 0) == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_both_lanes_together_never_exceed_the_limit_in_any_window(seed: int) -> None:
    """Stream bookings, strategy retries, idle gaps: no window of per_s holds more than limit;
    every stream request is sent without waiting for any strategy request."""
    rng = random.Random(seed)
    limit, per_s = 60, 10.0
    b = Bucket(limit, per_s)
    now, sent, stream_waits = 0, [], []
    strategy_next = 0  # a greedy strategy: retries as soon as told
    for _ in range(40 * limit):
        if rng.random() < 0.1:  # a stream request (cost 1; the reserve covers it)
            w = b.take(1, now)
            stream_waits.append(w)
            sent.append(now + w)
            now += rng.randrange(0, S // 2)
            continue
        now = max(now, strategy_next)
        w = b.try_take(1, now)
        if w == 0:
            sent.append(now)
        else:
            strategy_next = now + w
        if rng.random() < 0.02:
            now += int(rng.random() * 2 * per_s * S)
    sent.sort()
    j = 0
    for i, t in enumerate(sent):
        while j < len(sent) and sent[j] < t + per_s * S:
            j += 1
        assert j - i <= limit
    assert max(stream_waits) == 0  # strategies always left the reserve for the stream


# -- scopes: one Bucket object per venue budget, shared by every account it covers ----------


def _limiter(reg: BudgetRegistry, venue: str, fresh, alias: str, key: str | None, **kw):
    return reg.limiter(
        fresh(),
        venue=venue,
        env=kw.get("env", "live"),
        hosts=kw.get("hosts", HOSTS),
        ids=BudgetRegistry.scope_ids(alias, key, kw.get("identifier")),
    )


def test_binance_ip_weight_is_shared_and_order_counts_stay_per_account() -> None:
    reg = BudgetRegistry()
    a = _limiter(reg, "binance", binance_rest.LIMITS, "a", "key-a")
    b = _limiter(reg, "binance", binance_rest.LIMITS, "b", "key-b")
    for name in ("spot_weight", "spot_raw", "usdm_weight"):
        assert a.buckets[name] is b.buckets[name]
    for name in ("spot_orders_10s", "spot_orders_1d", "usdm_orders_10s", "usdm_orders_1m"):
        assert a.buckets[name] is not b.buckets[name]
    same_key = _limiter(reg, "binance", binance_rest.LIMITS, "a2", "key-a")
    assert same_key.buckets["spot_orders_10s"] is a.buckets["spot_orders_10s"]  # one UID
    # what one account spends, the other sees
    a.take({"spot_weight": 1000}, 0)
    assert b.buckets["spot_weight"].available(0) == pytest.approx(200)


def test_other_hosts_envs_and_venues_do_not_share() -> None:
    reg = BudgetRegistry()
    a = _limiter(reg, "binance", binance_rest.LIMITS, "a", "k")
    assert _limiter(reg, "binance", binance_rest.LIMITS, "b", "k", env="testnet").buckets[
        "spot_weight"
    ] is not a.buckets["spot_weight"]
    other = _limiter(reg, "binance", binance_rest.LIMITS, "c", "k", hosts=("10.0.0.1:1",))
    assert other.buckets["spot_weight"] is not a.buckets["spot_weight"]
    by1 = _limiter(reg, "bybit", bybit_rest.LIMITS, "y1", "k1")
    by2 = _limiter(reg, "bybit", bybit_rest.LIMITS, "y2", "k2")
    assert by1.buckets["ip"] is by2.buckets["ip"]
    assert by1.buckets["positions"] is not by2.buckets["positions"]  # per UID


def test_ig_app_budget_is_per_key_and_account_budgets_per_account() -> None:
    reg = BudgetRegistry()
    a = _limiter(reg, "ig", shield.LIMITS, "a", "key", identifier="user-a")
    b = _limiter(reg, "ig", shield.LIMITS, "b", "key", identifier="user-b")
    c = _limiter(reg, "ig", shield.LIMITS, "c", "other-key", identifier="user-a")
    assert a.buckets["app"] is b.buckets["app"] and a.buckets["app"] is not c.buckets["app"]
    for name in ("account", "trading", "history"):
        assert a.buckets[name] is not b.buckets[name] and a.buckets[name] is not c.buckets[name]


def test_accounts_without_keys_share_only_ip_budgets_and_keys_are_not_kept_in_clear() -> None:
    reg = BudgetRegistry()
    a = _limiter(reg, "binance", binance_rest.LIMITS, "a", None)
    b = _limiter(reg, "binance", binance_rest.LIMITS, "b", None)
    assert a.buckets["spot_weight"] is b.buckets["spot_weight"]
    assert a.buckets["spot_orders_10s"] is not b.buckets["spot_orders_10s"]
    _limiter(reg, "binance", binance_rest.LIMITS, "s", "SECRETKEY123", identifier="IDENT")
    text = repr(reg._buckets) + repr(BudgetRegistry.scope_ids("s", "SECRETKEY123", "IDENT"))
    assert "SECRETKEY123" not in text


def test_every_venue_declares_the_scope_it_is_counted_in() -> None:
    assert {k: v.scope for k, v in binance_rest.LIMITS().items()} == {
        "spot_weight": "ip",
        "spot_raw": "ip",
        "spot_orders_10s": "account",
        "spot_orders_1d": "account",
        "usdm_weight": "ip",
        "usdm_orders_10s": "account",
        "usdm_orders_1m": "account",
    }
    by = bybit_rest.LIMITS()
    assert by.pop("ip").scope == "ip" and {b.scope for b in by.values()} == {"account"}
    ig = shield.LIMITS()
    assert ig["app"].scope == "key" and ig["account"].scope == "account"
    # IG's small non-trading bursts still keep room for a stream's recovery (login + seeds)
    assert ig["account"].capacity - ig["account"].floor(1) <= 6 - shield.STREAM_CALLS
    for bad in ({"scope": "machine"}, {"reserve": 1.0}, {"reserve": -0.1}):
        with pytest.raises(ValueError):
            Bucket(100, 1.0, **bad)  # type: ignore[arg-type]


# -- the HTTP client: priority keyword, fail fast in the strategy lane only ------------------


class _FrozenClock:
    def mono_ns(self) -> int:
        return 0

    def ns(self) -> int:
        return 0


async def test_http_client_stream_priority_uses_the_reserve_strategy_fails_fast() -> None:
    from spinstream.transport.http import HttpClient

    client = HttpClient(
        "binance",
        {"spot": "http://127.0.0.1:9"},  # nothing listens: a request that passes the limiter
        Limiter(binance_rest.LIMITS()),  # fails with TransportError, one that does not with
        _FrozenClock(),  # type: ignore[arg-type]  # RateLimited("local")
    )
    req = binance_rest.build_depth_snapshot("spot", "BTCUSDT", 1000)  # weight 50
    weight = client.limiter.buckets["spot_weight"]
    weight.take(int(weight.capacity) - 200, 0)  # 200 left: under the strategy reserve (240)
    with pytest.raises(RateLimited) as info:
        await client.send(req, max_wait_s=0)
    assert info.value.code == "local" and client.refused["strategy"] == 1
    with pytest.raises(TransportError):
        await client.send(req, max_wait_s=0, priority="stream")
    assert client.sent == {"stream": 1} and client.calls[req.path] == 1
    with pytest.raises(ValueError):
        await client.send(req, priority="urgent")  # type: ignore[arg-type]
    await client.close()

"""protocol.retry: the one retry rule of every protocol and of the runtime's own retries, and the
IG deal confirmation that uses it on the runtime's clock (a simulated clock: no real sleep)."""

from __future__ import annotations

import asyncio

import pytest

from spinstream.protocol.retry import AuthRetry, Backoff, Retry
from spinstream.transport.clock import SimClock

S = 1_000_000_000


def test_retry_doubles_to_its_ceiling_and_resets_on_success() -> None:
    r = Retry(1.0, 5.0)
    assert r.ready(0) and r.failures == 0
    assert [r.failed(10 * S) // S for _ in range(5)] == [1, 2, 4, 5, 5]
    assert not r.ready(14 * S) and r.ready(15 * S)
    r.ok()
    assert r.ready(0) and r.failed(0) == S
    with pytest.raises(ValueError):
        Retry(0.0, 1.0)
    with pytest.raises(ValueError):
        Retry(2.0, 1.0)


def test_auth_retry_is_a_retry_that_words_the_refusal() -> None:
    a = AuthRetry(1.0, 60.0)
    assert a.refused(0) == S and a.refused(0) == 2 * S
    assert a.problem("login", "10003: invalid key") == (
        "login refused 2 times in a row (10003: invalid key); retrying in 2 s"
    )
    assert repr(a) == "AuthRetry(failures=2, delay_s=2)"


def test_backoff_keeps_one_retry_per_key() -> None:
    b = Backoff(0.25, 1.0)
    assert b.ready("BTC", 0)
    assert b.failed("BTC", 0) == S // 4 and b.failed("BTC", 0) == S // 2
    assert not b.ready("BTC", S // 4) and b.ready("ETH", 0)  # others untouched
    assert b.failed("BTC", 0) == S and b.failed("BTC", 0) == S  # the ceiling
    b.ok("BTC")
    assert b.ready("BTC", 0) and b.failed("BTC", 0) == S // 4


def test_deal_confirmation_retries_on_the_runtime_clock() -> None:
    """`ctx`'s IG confirmation waits between tries on the injected clock (it slept 50 ms of
    real time a try whatever the clock)."""
    from spinstream.ctx import CONFIRM_TRIES, _Calls
    from spinstream.errors import VenueError

    clock = SimClock()
    tries: list[int] = []

    class Rest:
        def build_confirm(self, ref: str) -> str:
            return ref

        def parse_confirm(self, market: str, body: bytes, ts: int) -> str:
            return body.decode()

    class Acct:
        async def send(self, req: str) -> object:
            tries.append(clock.mono_ns())
            if len(tries) < 5:
                raise VenueError("ig", "error.confirms.deal-not-found", "not yet")

            class Resp:
                body = b"confirmed"

            return Resp()

    calls = _Calls.__new__(_Calls)
    calls.rest, calls.acct, calls.clock, calls.kw = Rest(), Acct(), clock, {}
    assert asyncio.run(calls._confirm("otc", "REF")) == "confirmed"  # noqa: SLF001
    # the waits between tries are on the simulated clock (the old code slept in real time and
    # left the clock where it was: every gap 0)
    gaps = [(b - a) / 1e9 for a, b in zip(tries, tries[1:], strict=False)]
    assert gaps == [0.05, 0.1, 0.2, 0.2] and CONFIRM_TRIES == 20

"""ig.protocol: a refused login or stream auth is retried with a deterministic backoff (issue 9).

Refused -> `AuthFailed` + `Stale` and `problem` says why; `tick` after the delay -> a new login;
accepted -> connect, session, seeds, `Fresh`. A password refused for good: the delays double
to the ceiling (one login a minute), never a tight loop; the backoff resets only once a stream
session has started (a login the stream then refuses does not reset it).
"""

from __future__ import annotations

from spinstream.protocol.events import AuthFailed, Fresh, PositionUpdate, Stale
from spinstream.protocol.ig import IgStream
from spinstream.protocol.ig.protocol import Login

from . import ig_bodies as b
from .test_ig_protocol import CREDS, SECRETS, T0, Server, answer, names, seeds

S = 1_000_000_000
REFUSED = b.error("error.security.invalid-details")


def new_stream() -> IgStream:
    stream = IgStream("otc", CREDS, env="demo", identifier=b.IDENTIFIER, lookup_decimals=False)
    stream.start(T0)
    return stream


def test_refused_login_is_retried_after_the_delay_then_seeded_and_fresh() -> None:
    stream = new_stream()
    for kind in ("positions", "orders"):
        stream.subscribe(kind, None)
    (req,) = stream.requests()
    events = answer(stream, req, 401, REFUSED, ts=T0)
    assert names(events) == ["AuthFailed", "Stale"]
    stale = events[1]
    assert isinstance(stale, Stale) and stale.kind is None and "invalid-details" in stale.reason
    assert stream.state is Login.FAILED and stream.connect_url() is None
    assert stream.problem == "login refused (error.security.invalid-details); retrying in 1 s"
    stream.tick(T0 + S - 1)
    assert stream.requests() == []  # never before the delay
    stream.tick(T0 + S)
    (again,) = stream.requests()
    assert again.path == "/session" and stream.state is Login.LOGGING_IN
    assert answer(stream, again, 200, b.session_v2(), b.login_headers(), ts=T0 + S) == []
    assert stream.state is Login.READY and stream.connect_url() is not None
    assert stream.problem is None
    server = Server(stream)
    server.open(T0 + 2 * S)
    server.read()
    server.subok(f"TRADE:{b.ACCOUNT_ID}", ts=T0 + 2 * S)
    reqs = seeds(stream)
    ev = answer(stream, reqs["/positions"], 200, b.POSITIONS, ts=T0 + 2 * S)
    assert names(ev) == ["PositionUpdate", "Fresh"]
    assert isinstance(ev[0], PositionUpdate) and ev[0].full
    assert isinstance(ev[1], Fresh) and ev[1].kind == "positions"


def test_permanent_refusal_backs_off_to_the_ceiling_and_says_so() -> None:
    stream = new_stream()
    ts = T0
    delays = []
    reqs = stream.requests()
    for _ in range(9):
        (req,) = reqs
        events = answer(stream, req, 401, REFUSED, ts=ts)
        assert isinstance(events[0], AuthFailed)
        waited = 0
        while not (reqs := stream.requests()):  # tick every 250 ms until the next login
            waited += S // 4
            assert waited <= 120 * S, "no retry at all"
            stream.tick(ts + waited)
        delays.append(waited / S)
        ts += waited
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert stream.counters["login_refused"] == 9
    assert stream.problem is not None
    assert stream.problem.startswith("login refused 9 times in a row")
    assert stream.problem.endswith("retrying in 60 s")
    assert not any(s in stream.problem for s in SECRETS)


def test_backoff_resets_only_once_a_session_started() -> None:
    stream = new_stream()
    (req,) = stream.requests()
    answer(stream, req, 401, REFUSED, ts=T0)
    stream.tick(T0 + S)
    (req,) = stream.requests()
    answer(stream, req, 200, b.session_v2(), b.login_headers(), ts=T0 + S)
    server = Server(stream)
    # the stream refuses the new tokens twice (the first time they are renewed at once)
    stream.connected(T0 + S)
    stream.outgoing()
    server.send("WSOK", "CONERR,1,User%2Fpassword%20check%20failed", ts=T0 + S)
    (relogin,) = stream.requests()
    answer(stream, relogin, 200, b.session_v2(), b.login_headers(), ts=T0 + S)
    stream.disconnected(T0 + S)
    stream.connected(T0 + S)
    stream.outgoing()
    events = server.send("WSOK", "CONERR,1,User%2Fpassword%20check%20failed", ts=T0 + S)
    assert "AuthFailed" in names(events) and stream.state is Login.FAILED
    assert stream.problem is not None and stream.problem.endswith("retrying in 2 s")  # not reset
    stream.disconnected(T0 + S)
    stream.tick(T0 + 2 * S)
    assert stream.requests() == []
    stream.tick(T0 + 3 * S)
    (req,) = stream.requests()
    answer(stream, req, 200, b.session_v2(), b.login_headers(), ts=T0 + 3 * S)
    server.open(T0 + 3 * S)  # CONOK: accepted end to end
    assert stream.problem is None and stream._auth.failures == 0

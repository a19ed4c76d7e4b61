"""ig.protocol: the IG stream from lists of lines, no event loop.

Login request -> answer -> connect_url; CONOK -> subscriptions; U lines -> events; TRADE
CONFIRMS / OPU / WOU -> TradeConfirm / PositionUpdate / OrderUpdate over REST seeds;
reconnects resubscribe and re-seed; the 40-subscription limit; no secret anywhere.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from spinstream.credentials import Credentials
from spinstream.errors import UnsupportedError
from spinstream.protocol.events import (
    AccountUpdate,
    AuthFailed,
    Fresh,
    Malformed,
    OrderUpdate,
    PositionUpdate,
    RestRequest,
    Stale,
    Subscribed,
    TickerUpdate,
)
from spinstream.protocol.ig import PROTOCOLS, SPEC, IgStream, protocol
from spinstream.protocol.ig.parse import (
    CandleUpdate,
    ChannelStale,
    ConfirmUpdate,
    TickUpdate,
)
from spinstream.protocol.ig.protocol import Login, SubscriptionLimit, candle_kind, ws_url
from spinstream.protocol.lightstreamer import codec

from . import ig_bodies as b

MS = 1_000_000
S = 1_000_000_000
T0 = 1_709_547_000_000 * MS
CREDS = Credentials.of(b.API_KEY, b.PASSWORD)
SECRETS = (b.PASSWORD, b.CST, b.XST, "cstNEW", "xstNEW")


def names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


class Server:
    """The Lightstreamer side of the conversation: reads the client's frames, writes lines."""

    def __init__(self, stream: IgStream) -> None:
        self.stream = stream
        self.subs: dict[str, tuple[int, list[str]]] = {}  # item -> (sub id, fields)
        self.last: dict[str, list[str | None]] = {}
        self.creates: list[dict[str, str]] = []
        self.deletes: list[int] = []
        self.pending: list[codec.ClientRequest] = []

    def read(self) -> list[codec.ClientRequest]:
        reqs = [codec.parse_request(f) for f in self.stream.outgoing() if f != "wsok"]
        for r in reqs:
            if r.verb == "create_session":
                self.creates.append(r.params[0])
            for p in r.params:
                if p.get("LS_op") == "add":
                    self.subs[p["LS_group"]] = (int(p["LS_subId"]), p["LS_schema"].split(" "))
                    self.last.pop(p["LS_group"], None)
                elif p.get("LS_op") == "delete":
                    self.deletes.append(int(p["LS_subId"]))
        return reqs

    def adds(self, reqs: list[codec.ClientRequest]) -> dict[str, dict[str, str]]:
        return {p["LS_group"]: p for r in reqs for p in r.params if p.get("LS_op") == "add"}

    def send(self, *lines: str, ts: int = T0) -> list[Any]:
        return self.stream.receive(codec.server_frame(lines), ts)

    def open(self, ts: int = T0, session_id: str = "S1") -> list[Any]:
        events = self.stream.connected(ts)
        self.read()
        events += self.send("WSOK", f"CONOK,{session_id},50000,5000,*", ts=ts)
        self.pending = self.read()  # the adds CONOK released
        return events

    def subok(self, item: str, ts: int = T0) -> list[Any]:
        sub_id, fields = self.subs[item]
        return self.send(f"SUBOK,{sub_id},1,{len(fields)}", ts=ts)

    def update(self, item: str, values: dict[str, str | None], ts: int = T0) -> list[Any]:
        sub_id, fields = self.subs[item]
        row = [values.get(f) for f in fields]
        prev = self.last.get(item)
        self.last[item] = row
        return self.send(codec.format_update(sub_id, 1, prev, row), ts=ts)

    def trade(self, field: str, payload: dict[str, Any], ts: int = T0) -> list[Any]:
        values: dict[str, str | None] = {"CONFIRMS": None, "OPU": None, "WOU": None}
        values[field] = json.dumps(payload, separators=(",", ":"))
        return self.update(f"TRADE:{b.ACCOUNT_ID}", values, ts)


def answer(
    stream: IgStream,
    req: RestRequest,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    ts: int = T0,
) -> list[Any]:
    return stream.rest_response(req.req_id, status, body, ts, headers=headers)


def login(stream: IgStream, ts: int = T0) -> list[Any]:
    (req,) = stream.requests()
    assert (req.method, req.path, req.headers["VERSION"]) == ("POST", "/session", "2")
    return answer(stream, req, 200, b.session_v2(), b.login_headers(), ts)


def ready_stream(**kw: Any) -> tuple[IgStream, Server]:
    stream = IgStream(
        "otc", CREDS, env="demo", identifier=b.IDENTIFIER, lookup_decimals=False, **kw
    )
    stream.start(T0)
    assert login(stream) == []
    return stream, Server(stream)


def seeds(stream: IgStream) -> dict[str, RestRequest]:
    return {r.path: r for r in stream.requests()}


# -- login and connect ---------------------------------------------------------------------------


def test_login_then_connect_url_and_subprotocol() -> None:
    stream = IgStream("otc", CREDS, env="demo", identifier=b.IDENTIFIER)
    assert stream.connect_url() is None and stream.connect_path() is None
    assert stream.state is Login.IDLE
    stream.start(T0)
    assert stream.state is Login.LOGGING_IN and stream.connect_url() is None
    assert login(stream) == []
    assert stream.state is Login.READY
    assert stream.connect_url() == "wss://demo-apd.marketdatasystems.com/lightstreamer"
    assert stream.connect_path() == "/lightstreamer"
    assert IgStream.subprotocols == ["TLCP-2.4.0.lightstreamer.com"]
    assert IgStream.private is True and IgStream.endpoint in SPEC.ws_bases
    assert IgStream.rest_headers is True and IgStream.TICK_S > 0
    assert PROTOCOLS[("otc", "positions")] is IgStream
    assert PROTOCOLS[("otc", "candles:1MINUTE")] is IgStream


def test_ws_url_and_resolve() -> None:
    assert ws_url("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/lightstreamer"
    assert (
        ws_url("https://apd.marketdatasystems.com/")
        == "wss://apd.marketdatasystems.com/lightstreamer"
    )
    stream = IgStream(
        "otc", CREDS, identifier=b.IDENTIFIER, resolve=lambda u: "http://127.0.0.1:9001"
    )
    stream.start(T0)
    login(stream)
    assert stream.connect_url() == "ws://127.0.0.1:9001/lightstreamer"


def test_create_session_carries_account_and_tokens() -> None:
    stream, server = ready_stream()
    stream.connected(T0)
    frames = stream.outgoing()
    assert frames[0] == "wsok"
    req = codec.parse_request(frames[1])
    assert req.verb == "create_session"
    p = req.params[0]
    assert p["LS_user"] == b.ACCOUNT_ID
    assert p["LS_password"] == f"CST-{b.CST}|XST-{b.XST}"
    assert "LS_adapter_set" not in p


def test_refused_login_is_auth_failed_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    stream = IgStream("otc", CREDS, identifier=b.IDENTIFIER)
    stream.start(T0)
    (req,) = stream.requests()
    events = answer(stream, req, 401, b.error("error.security.invalid-details"))
    assert names(events) == ["AuthFailed", "Stale"]
    assert isinstance(events[0], AuthFailed) and "invalid-details" in events[0].reason
    assert stream.state is Login.FAILED and stream.connect_url() is None
    stream.retry_login(T0 + 1)  # new credentials: at once
    assert [r.path for r in stream.requests()] == ["/session"]
    assert not any(s in caplog.text or s in repr(events) for s in SECRETS)
    assert not any(s in (stream.problem or "") for s in SECRETS)


def test_transient_login_failure_retries_with_backoff() -> None:
    stream = IgStream("otc", CREDS, identifier=b.IDENTIFIER)
    stream.start(T0)
    (req,) = stream.requests()
    assert answer(stream, req, 0, b"") == []  # transport failure
    assert stream.state is Login.WAITING
    stream.tick(T0 + 1 * S)
    assert stream.requests() == []
    stream.tick(T0 + 6 * S)
    (again,) = stream.requests()
    assert answer(stream, again, 503, b"", ts=T0 + 6 * S) == []
    assert stream.state is Login.WAITING
    stream.tick(T0 + 12 * S)
    assert stream.requests() == []  # the delay doubled
    stream.tick(T0 + 17 * S)
    (third,) = stream.requests()
    exceeded = b.error("error.public-api.exceeded-api-key-allowance")
    assert answer(stream, third, 403, exceeded, ts=T0 + 17 * S) == []
    stream.tick(T0 + 50 * S)
    assert stream.requests() == []  # a spent budget waits a minute
    stream.tick(T0 + 78 * S)
    (fourth,) = stream.requests()
    login_answer = answer(stream, fourth, 200, b.session_v2(), b.login_headers(), ts=T0 + 78 * S)
    assert login_answer == [] and stream.state is Login.READY


def test_login_answer_without_headers_is_not_accepted() -> None:
    stream = IgStream("otc", CREDS, identifier=b.IDENTIFIER)
    stream.start(T0)
    (req,) = stream.requests()
    assert stream.rest_response(req.req_id, 200, b.session_v2(), T0) == []  # no headers=
    assert stream.state is Login.WAITING and stream.connect_url() is None


def test_shared_session_already_logged_in_needs_no_login() -> None:
    from spinstream.protocol.ig import rest

    session = rest.new_session(CREDS, b.IDENTIFIER)
    session.on_login(b.login_headers(), b.session_v2())
    stream = IgStream("otc", session=session)
    stream.start(T0)
    assert stream.requests() == [] and stream.connect_url() is not None
    session.invalidate()  # a REST call found the tokens dead
    assert stream.connect_url() is None
    stream.tick(T0 + S)
    assert [r.path for r in stream.requests()] == ["/session"]


# -- subscriptions -------------------------------------------------------------------------------


def test_conok_subscribes_every_item_with_its_mode_and_adapter() -> None:
    stream, server = ready_stream()
    stream.subscribe("ticker", b.EPIC)
    stream.subscribe("market", b.EPIC)  # the same PRICE item
    stream.subscribe("ticks", b.EPIC)
    stream.subscribe(candle_kind("1m"), b.EPIC)
    stream.subscribe("account", None)
    stream.subscribe("positions", None)
    stream.subscribe("orders", None)
    stream.subscribe("confirms", None)
    assert stream.subscription_count == 5
    assert stream.subscriptions() == {
        ("ticker", b.EPIC),
        ("market", b.EPIC),
        ("ticks", b.EPIC),
        ("candles:1MINUTE", b.EPIC),
        ("account", None),
        ("positions", None),
        ("orders", None),
        ("confirms", None),
    }
    events = stream.connected(T0)
    assert stream.outgoing()[0] == "wsok"
    events += server.send("WSOK", "CONOK,S1,50000,5000,*")
    assert names(events) == ["Authenticated"]
    adds = server.adds(server.read())
    assert set(adds) == {
        f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}",
        f"CHART:{b.EPIC}:TICK",
        f"CHART:{b.EPIC}:1MINUTE",
        f"ACCOUNT:{b.ACCOUNT_ID}",
        f"TRADE:{b.ACCOUNT_ID}",
    }
    price = adds[f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}"]
    assert price["LS_mode"] == "MERGE" and price["LS_data_adapter"] == "Pricing"
    assert adds[f"CHART:{b.EPIC}:TICK"]["LS_mode"] == "DISTINCT"
    assert adds[f"CHART:{b.EPIC}:1MINUTE"]["LS_mode"] == "MERGE"
    trade = adds[f"TRADE:{b.ACCOUNT_ID}"]
    assert trade["LS_mode"] == "DISTINCT" and trade["LS_schema"] == "CONFIRMS OPU WOU"
    assert trade["LS_snapshot"] == "false"
    sub = server.subok(f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}")
    assert isinstance(sub[0], Subscribed) and sub[0].topic == f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}"


def test_subscribing_after_conok_sends_at_once() -> None:
    stream, server = ready_stream()
    server.open()
    stream.subscribe("ticker", b.EPIC2)
    assert set(server.adds(server.read())) == {f"PRICE:{b.ACCOUNT_ID}:{b.EPIC2}"}
    stream.subscribe("ticker", b.EPIC2)  # again: nothing new
    assert server.read() == []


def test_bad_kinds() -> None:
    stream, _ = ready_stream()
    with pytest.raises(UnsupportedError):
        stream.subscribe("book", b.EPIC)
    with pytest.raises(UnsupportedError):
        stream.subscribe("candles:3MINUTE", b.EPIC)
    with pytest.raises(ValueError):
        stream.subscribe("ticks", None)


def test_the_41st_subscription_is_a_clear_error() -> None:
    stream, server = ready_stream()
    server.open()
    for i in range(40):
        stream.subscribe("ticker", f"CS.D.E{i:02d}.CFD.IP")
    with pytest.raises(SubscriptionLimit, match="40"):
        stream.subscribe("ticker", "CS.D.E40.CFD.IP")
    assert stream.subscription_count == 40 and stream.max_subscriptions == 40
    stream.subscribe("market", "CS.D.E00.CFD.IP")  # the same item: no new subscription
    stream.unsubscribe("ticker", "CS.D.E39.CFD.IP")
    stream.subscribe("ticks", b.EPIC)  # room again
    assert stream.subscription_count == 40


def test_refused_subscription_is_stale_for_its_kinds() -> None:
    stream, server = ready_stream()
    server.open()
    stream.subscribe("ticks", b.EPIC)
    server.read()
    sub_id, _ = server.subs[f"CHART:{b.EPIC}:TICK"]
    events = server.send(f"REQERR,{_req_of(stream, sub_id)},-1,Max%20subscriptions%20reached")
    assert len(events) == 1 and isinstance(events[0], ChannelStale)
    assert events[0].channel == "ticks" and events[0].epic == b.EPIC
    assert "refused" in events[0].reason


def _req_of(stream: IgStream, sub_id: int) -> int:
    return stream._ls.subscriptions[sub_id].req_id


def test_unsubscribe_sends_delete_when_no_kind_needs_the_item() -> None:
    stream, server = ready_stream()
    stream.subscribe("ticker", b.EPIC)
    stream.subscribe("market", b.EPIC)
    server.open()
    server.read()
    sub_id, _ = server.subs[f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}"]
    stream.unsubscribe("market", b.EPIC)
    assert server.read() == [] and server.deletes == []
    stream.unsubscribe("ticker", b.EPIC)
    server.read()
    assert server.deletes == [sub_id] and stream.subscriptions() == set()


# -- updates -------------------------------------------------------------------------------------


def test_price_updates_to_ticker_and_exact_ticks() -> None:
    stream, server = ready_stream()
    stream.subscribe("market", b.EPIC)
    server.open()
    server.read()
    item = f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}"
    ev = server.update(
        item,
        {
            "BIDPRICE1": "1.0845",
            "ASKPRICE1": "1.08461",
            "BIDSIZE1": "5",
            "ASKSIZE1": "3",
            "TIMESTAMP": "1709547000123",
        },
        ts=T0 + 1,
    )
    assert names(ev) == ["TickerUpdate", "TickUpdate"]
    assert isinstance(ev[0], TickerUpdate) and isinstance(ev[1], TickUpdate)
    t = ev[0].ticker
    assert (t.venue, t.market, t.symbol, t.bid, t.ask, t.source) == (
        "ig",
        "otc",
        b.EPIC,
        1.0845,
        1.08461,
        "ws",
    )
    assert t.ts_event == 1_709_547_000_123 * MS and t.last_update == T0 + 1
    assert (ev[1].bid_ticks, ev[1].ask_ticks, ev[1].decimals) == (108450, 108461, 5)
    ev2 = server.update(
        item,
        {
            "BIDPRICE1": "1.0846",
            "ASKPRICE1": "1.0847",
            "BIDSIZE1": "5",
            "ASKSIZE1": "3",
            "TIMESTAMP": "1709547000200",
        },
    )
    assert ev2[1].decimals == 5 and ev2[1].bid_ticks == 108460  # decimals never shrink
    stream.set_decimals(b.EPIC, 6)
    ev3 = server.update(
        item,
        {
            "BIDPRICE1": "1.0846",
            "ASKPRICE1": "1.0848",
            "BIDSIZE1": "5",
            "ASKSIZE1": "3",
            "TIMESTAMP": "1709547000300",
        },
    )
    assert (ev3[1].ask_ticks, ev3[1].decimals) == (1084800, 6)


def test_ticker_only_emits_no_ring_ticks() -> None:
    stream, server = ready_stream()
    stream.subscribe("ticker", b.EPIC)
    server.open()
    server.read()
    ev = server.update(f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}", {"BIDPRICE1": "1.1", "ASKPRICE1": "1.2"})
    assert names(ev) == ["TickerUpdate"]


def test_chart_ticks_and_candles() -> None:
    stream, server = ready_stream()
    stream.subscribe("ticks", b.EPIC2)
    stream.subscribe("candles:HOUR", b.EPIC2)
    server.open()
    server.read()
    ev = server.update(
        f"CHART:{b.EPIC2}:TICK",
        {"BID": "7480.5", "OFR": "7481.5", "LTP": None, "LTV": None, "UTM": "1709547000000"},
    )
    assert isinstance(ev[0], TickUpdate) and ev[0].channel == "ticks"
    assert (ev[0].bid_ticks, ev[0].ask_ticks, ev[0].decimals) == (74805, 74815, 1)
    bar = {
        "UTM": "1709546400000",
        "LTV": "10",
        "TTV": "2",
        "CONS_END": "0",
        "CONS_TICK_COUNT": "31",
        "BID_OPEN": "7470",
        "BID_HIGH": "7490.5",
        "BID_LOW": "7468",
        "BID_CLOSE": "7480.5",
        "OFR_OPEN": "7471",
        "OFR_HIGH": "7491.5",
        "OFR_LOW": "7469",
        "OFR_CLOSE": "7481.5",
    }
    ev = server.update(f"CHART:{b.EPIC2}:HOUR", bar)
    (c,) = ev
    assert isinstance(c, CandleUpdate) and not c.closed and c.scale == "HOUR"
    assert c.bid_ticks == (74700, 74905, 74680, 74805) and c.decimals == 1
    assert c.start == 1_709_546_400_000 * MS
    (closed,) = server.update(f"CHART:{b.EPIC2}:HOUR", {**bar, "CONS_END": "1"})
    assert closed.closed


def test_account_updates() -> None:
    stream, server = ready_stream()
    stream.subscribe("account", None)
    server.open()
    server.read()
    (ev,) = server.update(
        f"ACCOUNT:{b.ACCOUNT_ID}",
        {
            "PNL": "-12.40",
            "DEPOSIT": "250.50",
            "AVAILABLE_CASH": "9749.50",
            "AVAILABLE_TO_DEAL": "9737.10",
            "FUNDS": "10000.00",
            "EQUITY": "9987.60",
        },
    )
    assert isinstance(ev, AccountUpdate)
    a = ev.account
    assert a.equity == 9987.6 and a.available == 9737.1 and "GBP" in a.balances
    assert a.source == "ws" and a.market == "otc"


# -- TRADE: confirms, positions and orders over REST seeds ---------------------------------------


def trade_stream() -> tuple[IgStream, Server, dict[str, RestRequest]]:
    stream, server = ready_stream()
    for kind in ("positions", "orders", "confirms"):
        stream.subscribe(kind, None)
    server.open()
    server.read()
    assert stream.requests() == []  # seeds wait for TRADE's SUBOK
    sub = server.subok(f"TRADE:{b.ACCOUNT_ID}")
    assert names(sub) == ["Subscribed"]
    reqs = seeds(stream)
    assert set(reqs) == {"/positions", "/workingorders"}
    assert reqs["/positions"].headers["CST"] == b.CST
    assert reqs["/positions"].headers["VERSION"] == "2"
    return stream, server, reqs


def test_seeds_then_pushes() -> None:
    stream, server, reqs = trade_stream()
    ev = answer(stream, reqs["/positions"], 200, b.POSITIONS, ts=T0 + 5)
    assert names(ev) == ["PositionUpdate", "Fresh"]
    full = ev[0]
    assert isinstance(full, PositionUpdate) and full.full
    by = {(p.symbol, p.position_side): p for p in full.positions}
    assert by[(b.EPIC, "long")].size == 4 and by[(b.EPIC2, "short")].size == -2
    assert by[(b.EPIC, "long")].mark_price is None  # no stale REST marks in the cache
    assert isinstance(ev[1], Fresh) and ev[1].kind == "positions"
    ev = answer(stream, reqs["/workingorders"], 200, b.WORKING_ORDERS)
    assert names(ev) == ["OrderUpdate", "Fresh"] and ev[0].full and len(ev[0].orders) == 2

    # a new deal on the same epic and direction: the aggregate moves
    (pu,) = server.trade("OPU", b.opu("DIAAAAP9", "OPEN", "BUY", 2, 1.0855))
    assert isinstance(pu, PositionUpdate) and not pu.full
    (p,) = pu.positions
    assert (p.symbol, p.position_side, p.size) == (b.EPIC, "long", 6.0)
    assert p.entry_price == pytest.approx((1.0840 + 3 * 1.0848 + 2 * 1.0855) / 6)
    # partial close of one deal (UPDATED with the remaining size)
    (pu,) = server.trade("OPU", b.opu("DIAAAAP2", "UPDATED", "BUY", 1, 1.0848))
    assert pu.positions[0].size == 4.0
    # the short closes: its aggregate goes to 0 (the cache drops it)
    (pu,) = server.trade("OPU", b.opu("DIAAAAP3", "DELETED", "SELL", 0, 7480.5, b.EPIC2))
    assert [(x.symbol, x.size, x.position_side) for x in pu.positions] == [(b.EPIC2, 0, "short")]
    # confirms
    (cu,) = server.trade("CONFIRMS", b.confirm(ref="REFZ", deal_id="DIAAAAP9"))
    assert isinstance(cu, ConfirmUpdate)
    c = cu.confirm
    assert (c.deal_reference, c.deal_id, c.deal_status, c.status, c.source) == (
        "REFZ",
        "DIAAAAP9",
        "ACCEPTED",
        "OPEN",
        "ws",
    )
    (cu,) = server.trade("CONFIRMS", b.confirm(ref="REFR", accepted=False, reason="MARKET_CLOSED"))
    assert not cu.confirm.accepted and cu.confirm.reason == "MARKET_CLOSED"
    # working orders
    (ou,) = server.trade("WOU", b.wou("DIAAAAW3", "OPEN", "SELL", 1, 1.095))
    assert isinstance(ou, OrderUpdate) and not ou.full
    assert (ou.orders[0].order_id, ou.orders[0].status, ou.orders[0].side) == (
        "DIAAAAW3",
        "new",
        "sell",
    )
    (ou,) = server.trade("WOU", b.wou("DIAAAAW1", "DELETED"))
    assert ou.orders[0].status == "canceled"


def test_pushes_before_the_seed_are_replayed_over_it() -> None:
    stream, server, reqs = trade_stream()
    assert server.trade("OPU", b.opu("DIAAAAP1", "UPDATED", "BUY", 0.5, 1.0840)) == []
    assert server.trade("OPU", b.opu("DIAAAAN1", "OPEN", "SELL", 1, 1.0830)) == []
    assert server.trade("OPU", b.opu("DIAAAAN1", "DELETED", "SELL", 1, 1.0830)) == []
    assert server.trade("WOU", b.wou("DIAAAAW2", "DELETED", "SELL", 1, 1.1)) == []
    ev = answer(stream, reqs["/positions"], 200, b.POSITIONS)
    assert names(ev) == ["PositionUpdate"] * 4 + ["Fresh"]
    assert ev[0].full and not ev[1].full
    assert [(p.symbol, p.size) for p in ev[1].positions] == [(b.EPIC, 3.5)]
    assert [(p.position_side, p.size) for p in ev[2].positions] == [("short", -1)]
    assert [p.size for p in ev[3].positions] == [0]  # opened and closed meanwhile: none
    ev = answer(stream, reqs["/workingorders"], 200, b.WORKING_ORDERS)
    assert names(ev) == ["OrderUpdate", "OrderUpdate", "Fresh"]
    assert ev[1].orders[0].order_id == "DIAAAAW2" and ev[1].orders[0].status == "canceled"


def test_confirms_alone_seed_nothing_and_positions_added_later_seed_then() -> None:
    stream, server = ready_stream()
    stream.subscribe("confirms", None)
    server.open()
    server.read()
    server.subok(f"TRADE:{b.ACCOUNT_ID}")
    assert stream.requests() == []
    assert server.trade("OPU", b.opu("D1", "OPEN")) == []  # nobody asked for positions
    stream.subscribe("positions", None)
    assert server.read() == []  # the TRADE item is shared
    assert [r.path for r in stream.requests()] == ["/positions"]


def test_failed_seed_is_stale_and_retried() -> None:
    stream, server, reqs = trade_stream()
    ev = answer(stream, reqs["/positions"], 500, b.error("system.error"))
    assert names(ev) == ["Stale"] and ev[0].kind == "positions"
    stream.tick(T0 + 2 * S)
    assert stream.requests() == []
    stream.tick(T0 + 6 * S)
    assert [r.path for r in stream.requests()] == ["/positions"]


def test_expired_token_on_a_seed_logs_in_again_then_reseeds() -> None:
    stream, server, reqs = trade_stream()
    ev = answer(stream, reqs["/positions"], 401, b.error("error.security.client-token-invalid"))
    assert ev == []
    (relogin,) = stream.requests()
    assert relogin.path == "/session"
    ev = answer(stream, relogin, 200, b.session_v2(), b.login_headers("cstNEW", "xstNEW"))
    assert ev == []
    (again,) = stream.requests()
    assert again.path == "/positions" and again.headers["CST"] == "cstNEW"


def test_bad_trade_json_is_malformed_and_survived() -> None:
    stream, server, reqs = trade_stream()
    answer(stream, reqs["/positions"], 200, b.NO_POSITIONS)
    sub_id, _ = server.subs[f"TRADE:{b.ACCOUNT_ID}"]
    ev = server.send(f"U,{sub_id},1,#|{{not json|#")
    assert names(ev) == ["Malformed"]
    (pu,) = server.trade("OPU", b.opu("D1", "OPEN"))
    assert pu.positions[0].size == 1.0
    ev = server.send("GARBAGE,1,2")
    assert names(ev) == ["Malformed"]
    assert stream.counters["malformed"] >= 1 and stream.counters["ls_malformed"] >= 1


# -- reconnects ----------------------------------------------------------------------------------


def test_disconnect_marks_everything_stale_and_reconnect_resubscribes_and_reseeds() -> None:
    stream, server = ready_stream()
    for kind, sym in (
        ("ticker", b.EPIC),
        ("market", b.EPIC),
        ("ticks", b.EPIC),
        ("candles:1MINUTE", b.EPIC),
        ("account", None),
        ("positions", None),
        ("orders", None),
        ("confirms", None),
    ):
        stream.subscribe(kind, sym)
    server.open()
    server.read()
    server.subok(f"TRADE:{b.ACCOUNT_ID}")
    reqs = seeds(stream)
    answer(stream, reqs["/positions"], 200, b.POSITIONS)
    answer(stream, reqs["/workingorders"], 200, b.WORKING_ORDERS)
    server.update(f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}", {"BIDPRICE1": "1.1", "ASKPRICE1": "1.2"})

    events = stream.disconnected(T0 + 10 * S)
    stale = {(e.kind, e.symbol) for e in events if isinstance(e, Stale)}
    channels = {(e.channel, e.epic) for e in events if isinstance(e, ChannelStale)}
    assert stale == {("ticker", None), ("account", None), ("positions", None), ("orders", None)}
    assert channels == {("market", b.EPIC), ("ticks", b.EPIC), ("candles:1MINUTE", b.EPIC)}
    assert stream.disconnected(T0 + 11 * S) == []  # once

    server.subs.clear()
    events = server.open(ts=T0 + 20 * S, session_id="S2")
    assert names(events) == ["Authenticated"]
    assert set(server.subs) == {
        f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}",
        f"CHART:{b.EPIC}:TICK",
        f"CHART:{b.EPIC}:1MINUTE",
        f"ACCOUNT:{b.ACCOUNT_ID}",
        f"TRADE:{b.ACCOUNT_ID}",
    }
    assert server.creates[-1]["LS_password"] == f"CST-{b.CST}|XST-{b.XST}"
    server.subok(f"TRADE:{b.ACCOUNT_ID}")
    assert set(seeds(stream)) == {"/positions", "/workingorders"}  # seeded again


def test_silent_stream_is_dead_stale_and_wants_a_reconnect() -> None:
    stream, server = ready_stream()
    stream.subscribe("ticker", b.EPIC)
    server.open()
    server.update(f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}", {"BIDPRICE1": "1.1", "ASKPRICE1": "1.2"})
    assert stream.tick(T0 + 5 * S) == [] and not stream.reconnect_wanted
    events = stream.tick(T0 + 11 * S)  # keepalive 5 s + 5 s margin
    assert isinstance(events[0], Stale) and events[0].kind == "ticker"
    assert stream.reconnect_wanted
    assert stream.disconnected(T0 + 12 * S) == []  # already marked


def test_loop_rebinds_without_stale_marks() -> None:
    stream, server = ready_stream()
    stream.subscribe("ticker", b.EPIC)
    server.open()
    server.read()
    server.update(f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}", {"BIDPRICE1": "1.1", "ASKPRICE1": "1.2"})
    assert server.send("LOOP,0") == [] and stream.reconnect_wanted
    assert stream.disconnected(T0 + S) == []
    stream.connected(T0 + 2 * S)
    frames = stream.outgoing()
    assert frames[0] == "wsok" and codec.parse_request(frames[1]).verb == "bind_session"
    assert server.send("CONOK,S1,50000,5000,*") == []  # rebound: no new Authenticated


def test_conerr_relogs_in_once_then_backs_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    stream, server = ready_stream()
    stream.subscribe("ticker", b.EPIC)
    server.open()
    server.update(f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}", {"BIDPRICE1": "1.1", "ASKPRICE1": "1.2"})
    stream.disconnected(T0 + S)  # weekend maintenance...
    stream.connected(T0 + 2 * S)
    stream.outgoing()
    events = server.send("WSOK", "CONERR,1,User%2Fpassword%20check%20failed")
    assert not any(isinstance(e, AuthFailed) for e in events)
    assert stream.connect_url() is None and stream.reconnect_wanted  # tokens dropped
    (relogin,) = stream.requests()
    answer(stream, relogin, 200, b.session_v2(), b.login_headers("cstNEW", "xstNEW"))
    assert stream.connect_url() is not None
    stream.disconnected(T0 + 3 * S)
    stream.connected(T0 + 4 * S)
    create = codec.parse_request(stream.outgoing()[1]).params[0]
    assert create["LS_password"] == "CST-cstNEW|XST-xstNEW"
    events = server.send("WSOK", "CONERR,1,User%2Fpassword%20check%20failed")
    assert [type(e) for e in events if isinstance(e, AuthFailed)] == [AuthFailed]
    assert stream.state is Login.FAILED and stream.connect_url() is None
    assert stream.problem == "stream auth refused (CONERR 1); retrying in 1 s"
    stream.disconnected(T0)  # (the refusal came at T0)
    stream.tick(T0 + S // 2)
    assert stream.requests() == []  # not before the backoff
    stream.tick(T0 + S)
    (again,) = stream.requests()
    assert again.path == "/session"  # new tokens, then a new connection
    text = caplog.text + repr(events) + repr(stream) + (stream.problem or "")
    assert not any(s in text for s in SECRETS)


def test_end_asks_for_a_new_session() -> None:
    stream, server = ready_stream()
    stream.subscribe("account", None)
    server.open()
    server.update(f"ACCOUNT:{b.ACCOUNT_ID}", {"EQUITY": "1", "AVAILABLE_TO_DEAL": "1"})
    events = server.send("END,41,Session%20closed")
    assert names(events) == ["Stale"] and stream.reconnect_wanted
    stream.disconnected(T0 + S)
    stream.connected(T0 + 2 * S)
    assert stream.reconnect_wanted is False
    assert codec.parse_request(stream.outgoing()[1]).verb == "create_session"


# -- decimals lookups ----------------------------------------------------------------------------


def test_decimals_are_looked_up_in_one_batched_markets_call() -> None:
    stream = IgStream("otc", CREDS, identifier=b.IDENTIFIER)
    stream.subscribe("market", b.EPIC)
    stream.subscribe("ticks", b.EPIC2)
    stream.subscribe("account", None)
    stream.start(T0)
    (login_req,) = stream.requests()
    answer(stream, login_req, 200, b.session_v2(), b.login_headers())
    (lookup,) = stream.requests()
    assert (lookup.path, lookup.headers["VERSION"]) == ("/markets", "2")
    assert lookup.query == f"epics={b.EPIC},{b.EPIC2}&filter=SNAPSHOT_ONLY"
    assert answer(stream, lookup, 200, b.MARKETS) == []
    server = Server(stream)
    server.open()
    server.read()
    (tk,) = server.update(f"CHART:{b.EPIC2}:TICK", {"BID": "7480", "OFR": "7481"})
    assert (tk.bid_ticks, tk.decimals) == (74800, 1)
    stream.tick(T0 + S)
    assert stream.requests() == []  # nothing left to ask


# -- secrets and state ---------------------------------------------------------------------------


def test_no_secret_in_reprs_events_requests_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    stream, server, reqs = trade_stream()
    events = answer(stream, reqs["/positions"], 200, b.POSITIONS)
    events += server.trade("CONFIRMS", b.confirm())
    events += server.trade("OPU", b.opu("D7", "OPEN"))
    events += stream.disconnected(T0 + S)
    text = " ".join(
        [
            caplog.text,
            repr(stream),
            repr(stream.session),
            repr(events),
            repr(reqs),
            repr(stream.counters),
            repr(stream._ls),
        ]
    )
    for s in SECRETS + (b.IDENTIFIER,):
        assert s not in text


def test_login_state_table_refuses_illegal_moves() -> None:
    from spinstream.errors import ProtocolError

    stream = IgStream("otc", CREDS, identifier=b.IDENTIFIER)
    with pytest.raises(ProtocolError):
        stream._move(Login.FAILED)
    assert set(protocol.LOGIN_MOVES) == set(Login)


def test_constructor_needs_credentials_and_identifier() -> None:
    with pytest.raises(ValueError):
        IgStream("otc", None, identifier="x")
    with pytest.raises(ValueError):
        IgStream("otc", CREDS)
    with pytest.raises(UnsupportedError):
        IgStream("spot", CREDS, identifier="x")
    with pytest.raises(ValueError):
        IgStream("otc", CREDS, identifier="x", env="testnet")


def test_malformed_events_are_counted() -> None:
    stream, server = ready_stream()
    server.open()
    ev = server.send("U,99,1,a|b")  # unknown subscription: ignored, counted
    assert ev == [] and stream.counters.get("ls_unknown_sub") == 1
    ev = stream.receive(b"\xff\xfe", T0)
    assert names(ev) == ["Malformed"] and isinstance(ev[0], Malformed)

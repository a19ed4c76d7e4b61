"""ig.rest: builders (versions, headers, bodies), parsers of IG-shaped bodies, errors, and the
login / token-refresh flow driven from lists of answers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from spinstream.credentials import Credentials
from spinstream.errors import (
    AuthError,
    OrderRejected,
    ParseError,
    RateLimited,
    UnsupportedError,
    VenueError,
)
from spinstream.models import TradeConfirm
from spinstream.protocol.events import RestRequest
from spinstream.protocol.headers import Headers
from spinstream.protocol.ig import SPEC, rest

from . import ig_bodies as b

CREDS = Credentials.of(b.API_KEY, b.PASSWORD)
T = 1_709_547_000_000_000_000


def body(req: RestRequest) -> dict[str, Any]:
    assert req.body is not None
    out: dict[str, Any] = json.loads(req.body)
    return out


def logged_in() -> rest.IgSession:
    s = rest.new_session(CREDS, b.IDENTIFIER)
    s.on_login(b.login_headers(), b.session_v2())
    return s


# -- spec ----------------------------------------------------------------------------------------


def test_spec_bases_envs_and_server_only() -> None:
    assert SPEC.name == "ig" and SPEC.server_only is True
    assert SPEC.envs == ("live", "demo")
    assert SPEC.markets == ("otc",) and SPEC.default_market == "otc"
    assert SPEC.rest_bases == {
        "otc": {
            "live": "https://api.ig.com/gateway/deal",
            "demo": "https://demo-api.ig.com/gateway/deal",
        }
    }
    assert SPEC.ws_bases["stream"]["demo"] == "https://demo-apd.marketdatasystems.com"


@pytest.mark.parametrize(
    ("req", "method", "path", "version"),
    [
        (rest.build_account("otc"), "GET", "/accounts", "1"),
        (rest.build_positions("otc"), "GET", "/positions", "2"),
        (rest.build_position("DIAAAAP1"), "GET", "/positions/DIAAAAP1", "2"),
        (rest.build_open_orders("otc"), "GET", "/workingorders", "2"),
        (rest.build_market(b.EPIC), "GET", f"/markets/{b.EPIC}", "3"),
        (rest.build_ticker("otc", b.EPIC), "GET", f"/markets/{b.EPIC}", "3"),
        (rest.build_markets([b.EPIC, b.EPIC2]), "GET", "/markets", "2"),
        (rest.build_prices(b.EPIC), "GET", f"/prices/{b.EPIC}", "3"),
        (rest.build_confirm("REF1"), "GET", "/confirms/REF1", "1"),
        (rest.build_applications(), "GET", "/operations/application", "1"),
        (rest.build_switch_account("XQ124"), "PUT", "/session", "1"),
    ],
)
def test_versions_paths_and_headers(req: RestRequest, method: str, path: str, version: str) -> None:
    assert (req.method, req.base, req.path) == (method, "otc", path)
    assert req.headers["VERSION"] == version
    assert req.headers["Accept"] == "application/json; charset=UTF-8"
    assert req.headers["Content-Type"].startswith("application/json")
    assert "_method" not in req.headers
    assert "CST" not in req.headers  # the session adds tokens


def test_session_tokens_and_api_key_in_headers_only() -> None:
    s = logged_in()
    req = rest.build_positions("otc", session=s)
    assert req.headers["CST"] == b.CST
    assert req.headers["X-SECURITY-TOKEN"] == b.XST
    assert req.headers["X-IG-API-KEY"] == b.API_KEY
    text = repr(req) + str(req) + repr(s)
    for secret in (b.CST, b.XST, b.PASSWORD, b.IDENTIFIER):
        assert secret not in text
    unsigned = rest.build_positions("otc", CREDS)
    assert unsigned.headers["X-IG-API-KEY"] == b.API_KEY and "CST" not in unsigned.headers


def test_login_request_is_session_v2_and_never_shows_the_password() -> None:
    s = rest.new_session(CREDS, b.IDENTIFIER)
    req = s.login_request()
    assert (req.method, req.path, req.headers["VERSION"]) == ("POST", "/session", "2")
    assert body(req) == {"identifier": b.IDENTIFIER, "password": b.PASSWORD}
    assert req.headers["X-IG-API-KEY"] == b.API_KEY
    assert req.cost == {"app": 1, "account": 1}
    assert b.PASSWORD not in repr(req) and b.PASSWORD not in repr(s)
    with pytest.raises(ValueError):
        rest.new_session(CREDS, "")


def test_query_strings() -> None:
    req = rest.build_markets([b.EPIC, b.EPIC2, b.EPIC], snapshot_only=True)
    assert req.query == f"epics={b.EPIC},{b.EPIC2}&filter=SNAPSHOT_ONLY"
    with pytest.raises(ValueError):
        rest.build_markets([f"E{i}" for i in range(51)])
    p = rest.build_prices(b.EPIC, "5m", max_points=50, page_size=0)
    assert p.query == "resolution=MINUTE_5&max=50&pageSize=0&pageNumber=1"
    assert p.cost == {"app": 1, "account": 1, "history": 50}
    r = rest.build_prices(
        b.EPIC, "HOUR", start="2024-03-01T00:00:00", end=1_709_510_400_000_000_000, page_size=100
    )
    assert r.query == (
        "resolution=HOUR&from=2024-03-01T00%3A00%3A00&to=2024-03-04T00%3A00%3A00"
        "&pageSize=100&pageNumber=1"
    )
    assert r.cost["history"] == 100
    with pytest.raises(ValueError, match="paging"):
        rest.build_prices(b.EPIC, start="2024-03-01T00:00:00", page_size=0)
    with pytest.raises(ValueError, match="resolution"):
        rest.build_prices(b.EPIC, "7m")
    with pytest.raises(ValueError, match="points"):
        rest.build_prices(b.EPIC, max_points=5000, page_size=0)


# -- deals ---------------------------------------------------------------------------------------


def test_market_deal_opens_a_position_v2() -> None:
    req = rest.build_place_order(
        "otc",
        CREDS,
        0,
        b.EPIC,
        "buy",
        "market",
        Decimal("1.5"),
        client_order_id="my-ref_1",
        currency_code="USD",
    )
    assert (req.method, req.path, req.headers["VERSION"]) == ("POST", "/positions/otc", "2")
    assert req.cost == {"trading": 1}
    assert body(req) == {
        "epic": b.EPIC,
        "expiry": "-",
        "direction": "BUY",
        "size": 1.5,
        "currencyCode": "USD",
        "guaranteedStop": False,
        "forceOpen": False,
        "dealReference": "my-ref_1",
        "orderType": "MARKET",
    }
    assert '"size":1.5' in (req.body or "")  # a JSON number, exactly as given


def test_limit_ioc_is_a_position_limit_deal_and_gtc_a_working_order() -> None:
    ioc = rest.build_place_order(
        "otc",
        CREDS,
        0,
        b.EPIC,
        "sell",
        "limit",
        2,
        "1.08400",
        time_in_force="ioc",
        currency_code="USD",
    )
    assert ioc.path == "/positions/otc"
    assert body(ioc)["orderType"] == "LIMIT" and body(ioc)["level"] == 1.084
    assert body(ioc)["timeInForce"] == "EXECUTE_AND_ELIMINATE"
    gtc = rest.build_place_order(
        "otc", CREDS, 0, b.EPIC, "buy", "limit", 2, 1.07, currency_code="USD"
    )
    assert (gtc.path, gtc.headers["VERSION"], gtc.cost) == (
        "/workingorders/otc",
        "2",
        {"trading": 1},
    )
    wb = body(gtc)
    assert (
        wb["type"] == "LIMIT" and wb["level"] == 1.07 and wb["timeInForce"] == "GOOD_TILL_CANCELLED"
    )
    assert "goodTillDate" not in wb
    stop = rest.build_place_order(
        "otc",
        CREDS,
        0,
        b.EPIC,
        "sell",
        "stop",
        1,
        1.05,
        time_in_force="gtd",
        good_till_date="2024/03/05 12:00:00",
        currency_code="USD",
    )
    assert body(stop)["type"] == "STOP" and body(stop)["goodTillDate"] == "2024/03/05 12:00:00"
    attached = rest.build_place_order(
        "otc", CREDS, 0, b.EPIC, "buy", "market", 1, stop_distance=20, currency_code="USD"
    )
    assert body(attached)["forceOpen"] is True and body(attached)["stopDistance"] == 20


def test_deal_currency_defaults_to_the_session_account_currency() -> None:
    req = rest.build_place_order("otc", None, 0, b.EPIC, "buy", "market", 1, session=logged_in())
    assert body(req)["currencyCode"] == "GBP" and req.headers["CST"] == b.CST


@pytest.mark.parametrize(
    "kw",
    [
        {"side": "hold"},
        {"type": "fok_market"},
        {"quantity": 0},
        {"quantity": -1},
        {"quantity": "abc"},
        {"type": "limit", "price": None},
        {"type": "market", "price": 1.1},
        {"type": "limit", "price": 1.1, "time_in_force": "day"},
        {"type": "stop", "price": 1.1, "time_in_force": "gtd"},
        {"client_order_id": "has space"},
        {"currency_code": None},
        {"stop_level": 1.0, "force_open": False},
    ],
)
def test_bad_deals_are_refused_before_sending(kw: dict[str, Any]) -> None:
    args: dict[str, Any] = {"side": "buy", "type": "market", "quantity": 1, "currency_code": "USD"}
    args.update(kw)
    with pytest.raises(ValueError):
        rest.build_place_order("otc", CREDS, 0, b.EPIC, **args)


def test_close_is_post_with_method_delete_v1() -> None:
    req = rest.build_close_position("otc", CREDS, 0, deal_id="DIAAAAP1", direction="sell", size=1)
    assert (req.method, req.path, req.headers["VERSION"]) == ("POST", "/positions/otc", "1")
    assert req.headers["_method"] == "DELETE"
    assert req.cost == {"trading": 1}
    assert body(req) == {
        "dealId": "DIAAAAP1",
        "direction": "SELL",
        "size": 1,
        "orderType": "MARKET",
    }
    by_epic = rest.build_close_position(
        "otc", CREDS, 0, epic=b.EPIC, direction="buy", size="0.5", order_type="limit", level=1.09
    )
    assert body(by_epic)["expiry"] == "-" and body(by_epic)["level"] == 1.09
    with pytest.raises(ValueError):
        rest.build_close_position("otc", CREDS, 0, direction="sell", size=1)
    with pytest.raises(ValueError):
        rest.build_close_position(
            "otc", CREDS, 0, deal_id="D", epic=b.EPIC, direction="sell", size=1
        )
    with pytest.raises(ValueError):
        rest.build_close_position("otc", CREDS, 0, deal_id="D", direction="sell", size=1, level=1)


def test_cancel_deletes_a_working_order_by_deal_id() -> None:
    req = rest.build_cancel_order("otc", CREDS, 0, b.EPIC, "DIAAAAW1")
    assert (req.method, req.path) == ("POST", "/workingorders/otc/DIAAAAW1")
    assert req.headers["_method"] == "DELETE" and req.headers["VERSION"] == "2"
    assert req.cost == {"trading": 1}
    with pytest.raises(ValueError):
        rest.build_cancel_order("otc", CREDS, 0, b.EPIC, client_order_id="x")
    assert rest.parse_cancel("otc", b.dumps({"dealReference": "REFX"}), T) == ("REFX", None)


def test_order_answer_then_confirm() -> None:
    req = rest.build_place_order(
        "otc",
        CREDS,
        0,
        b.EPIC,
        "buy",
        "market",
        1.5,
        client_order_id="REFQ7H1",
        currency_code="USD",
    )
    ack = b.dumps({"dealReference": "REFQ7H1"})
    o = rest.parse_order("otc", ack, T, request=req)
    assert (o.order_id, o.client_order_id, o.side, o.type, o.quantity, o.status) == (
        "REFQ7H1",
        "REFQ7H1",
        "buy",
        "market",
        1.5,
        "new",
    )
    with pytest.raises(ParseError):
        rest.parse_order("otc", ack, T)
    c = rest.parse_confirm("otc", b.dumps(b.confirm()), T)
    assert isinstance(c, TradeConfirm) and c.accepted
    assert (c.deal_reference, c.deal_id, c.deal_status, c.status) == (
        "REFQ7H1",
        "DIAAAAC1",
        "ACCEPTED",
        "OPEN",
    )
    assert (c.epic, c.direction, c.size, c.level, c.reason) == (
        b.EPIC,
        "BUY",
        1.5,
        1.08461,
        "SUCCESS",
    )
    assert c.affected_deals == (("DIAAAAC1", "OPENED"),)
    assert c.ts_event == 1_709_548_201_123_000_000 and c.source == "rest"
    filled = rest.order_from_confirm("otc", c, req, T)
    assert (filled.order_id, filled.status, filled.filled, filled.avg_price) == (
        "DIAAAAC1",
        "filled",
        1.5,
        1.08461,
    )
    wo = rest.build_place_order(
        "otc", CREDS, 0, b.EPIC, "buy", "limit", 2, 1.07, currency_code="USD"
    )
    c2 = rest.parse_confirm("otc", b.dumps(b.confirm(deal_id="DIAAAAW9", size=2, level=1.07)), T)
    working = rest.order_from_confirm("otc", c2, wo, T)
    assert (working.order_id, working.status, working.type, working.filled) == (
        "DIAAAAW9",
        "new",
        "limit",
        0.0,
    )
    bad = rest.parse_confirm(
        "otc", b.dumps(b.confirm(accepted=False, reason="INSUFFICIENT_FUNDS")), T
    )
    assert not bad.accepted
    with pytest.raises(OrderRejected) as info:
        rest.order_from_confirm("otc", bad, req, T)
    assert info.value.code == "INSUFFICIENT_FUNDS"


# -- reads ---------------------------------------------------------------------------------------


def test_parse_account_picks_the_asked_or_preferred_account() -> None:
    a = rest.parse_account("otc", b.ACCOUNTS, T)
    assert (a.venue, a.market, a.source, a.last_update) == ("ig", "otc", "rest", T)
    assert a.equity == pytest.approx(9987.6) and a.available == 9737.1
    gbp = a.balance("GBP")
    assert gbp.free == 9737.1 and gbp.total == pytest.approx(9987.6)
    sb = rest.parse_account("otc", b.ACCOUNTS, T, account_id="XQ124")
    assert sb.equity == 500.0
    with pytest.raises(ParseError):
        rest.parse_account("otc", b.ACCOUNTS, T, account_id="NOPE")


def test_parse_positions_aggregates_deals_per_epic_and_direction() -> None:
    ps = {(p.symbol, p.position_side): p for p in rest.parse_positions("otc", b.POSITIONS, T)}
    long = ps[(b.EPIC, "long")]
    assert long.size == 4.0
    assert long.entry_price == pytest.approx((1.0840 * 1 + 1.0848 * 3) / 4)
    assert long.mark_price == 1.08452  # a long closes at the bid
    short = ps[(b.EPIC2, "short")]
    assert short.size == -2.0 and short.entry_price == 7480.5 and short.mark_price == 1.08461
    assert long.ts_event == 1_709_547_072_000_000_000 and long.source == "rest"
    only = rest.parse_positions("otc", b.POSITIONS, T, symbol=b.EPIC2)
    assert [p.symbol for p in only] == [b.EPIC2]
    deals = rest.parse_deals(b.POSITIONS)
    assert [d.deal_id for d in deals] == ["DIAAAAP1", "DIAAAAP2", "DIAAAAP3"]
    assert rest.parse_positions("otc", b.NO_POSITIONS, T) == ()


def test_parse_working_orders() -> None:
    orders = rest.parse_open_orders("otc", b.WORKING_ORDERS, T)
    w1, w2 = orders
    assert (w1.order_id, w1.symbol, w1.side, w1.type, w1.price, w1.quantity) == (
        "DIAAAAW1",
        b.EPIC,
        "buy",
        "limit",
        1.07,
        2.0,
    )
    assert (w1.status, w1.time_in_force, w1.client_order_id) == ("new", "gtc", "REFDIAAAAW1")
    assert w2.type == "stop" and w2.side == "sell"
    assert rest.parse_open_orders("otc", b.WORKING_ORDERS, T, symbol="X") == ()


def test_parse_market_ticker_and_lookups() -> None:
    m = rest.parse_market(b.MARKET, T)
    assert (m.epic, m.decimals, m.scaling_factor, m.market_status) == (
        b.EPIC,
        5,
        10000,
        "TRADEABLE",
    )
    assert m.currencies == ("USD", "GBP") and m.default_currency == "GBP"
    assert m.min_deal_size == 0.5 and m.streaming_prices is True
    t = rest.parse_ticker("otc", b.EPIC, b.MARKET, T)
    assert (t.symbol, t.bid, t.ask, t.bid_size, t.source) == (
        b.EPIC,
        1.08452,
        1.08461,
        None,
        "rest",
    )
    ms = rest.parse_markets(b.MARKETS, T)
    assert [(x.epic, x.decimals) for x in ms] == [(b.EPIC, 5), (b.EPIC2, 1)]
    with pytest.raises(UnsupportedError):
        rest.build_orderbook("otc", b.EPIC, 10)


def test_parse_prices_and_allowance() -> None:
    h = rest.parse_prices(b.EPIC, b.PRICES, T)
    assert len(h.bars) == 2 and h.remaining_allowance == 9978 and h.total_allowance == 10000
    assert (h.page_number, h.total_pages, h.allowance_expiry_s) == (1, 1, 595112)
    bar = h.bars[0]
    assert bar.ts_event == 1_709_546_400_000_000_000
    assert bar.bid == pytest.approx((1.0840, 1.0844, 1.0839, 1.0842))
    assert bar.ltp is None and bar.volume == 131


def test_parse_applications_gives_the_keys_budgets() -> None:
    budgets, subs = rest.parse_applications(b.APPLICATIONS, b.API_KEY)
    assert (budgets.app, budgets.account, budgets.trading) == (60, 10, 100)
    assert subs == 40
    with pytest.raises(ParseError):
        rest.parse_applications(b.APPLICATIONS, "unknown")


def test_broken_bodies_are_parse_errors() -> None:
    for fn in (
        lambda x: rest.parse_positions("otc", x, T),
        lambda x: rest.parse_open_orders("otc", x, T),
        lambda x: rest.parse_account("otc", x, T),
        lambda x: rest.parse_confirm("otc", x, T),
    ):
        with pytest.raises(ParseError):
            fn(b"not json")
        with pytest.raises(ParseError):
            fn(b"[1,2]")


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "exc"),
    [
        (401, "error.security.invalid-details", AuthError),
        (401, "error.security.client-token-invalid", AuthError),
        (403, "error.security.api-key-invalid", AuthError),
        (403, "error.security.api-key-disabled", AuthError),
        (401, "error.public-api.failure.kyc.required", AuthError),
        (403, "error.public-api.exceeded-api-key-allowance", RateLimited),
        (403, "error.public-api.exceeded-account-allowance", RateLimited),
        (403, "error.public-api.exceeded-account-trading-allowance", RateLimited),
        (403, "error.public-api.exceeded-account-historical-data-allowance", RateLimited),
        (400, "validation.null-not-allowed.request.currencyCode", OrderRejected),
        (400, "error.service.marketdata.position.details.null.error", OrderRejected),
        (404, "error.position.notfound", OrderRejected),
        (400, "error.trading.otc.market-orders.not-supported", OrderRejected),
        (404, "error.confirms.deal-not-found", VenueError),
        (404, "error.service.marketdata.instrument.epic.unavailable", VenueError),
        (500, "system.error", VenueError),
    ],
)
def test_check_error_maps_ig_codes(status: int, code: str, exc: type[Exception]) -> None:
    with pytest.raises(exc) as info:
        rest.check_error(status, {}, b.error(code))
    assert type(info.value) is exc
    assert getattr(info.value, "code", None) == code


def test_check_error_passes_success_and_handles_bare_statuses() -> None:
    rest.check_error(200, {}, b.POSITIONS)
    rest.check_error(200, {}, b"")
    with pytest.raises(AuthError):
        rest.check_error(401, {}, b"")
    with pytest.raises(RateLimited):
        rest.check_error(403, {}, b"<html>forbidden</html>")
    with pytest.raises(VenueError):
        rest.check_error(502, {}, b"bad gateway")


def test_token_invalid_detection() -> None:
    assert rest.is_token_invalid(401, b.error("error.security.client-token-invalid"))
    assert rest.is_token_invalid(401, b.error("error.security.account-token-invalid"))
    assert not rest.is_token_invalid(401, b.error("error.security.invalid-details"))
    assert not rest.is_token_invalid(200, b.POSITIONS)


# -- the session flow ----------------------------------------------------------------------------

Answer = tuple[int, dict[str, str], bytes]


def drive(flow: Any, answers: list[Answer]) -> tuple[list[RestRequest], Answer]:
    """Run an authorized_call generator against scripted answers; (requests sent, result)."""
    sent = [next(flow)]
    it = iter(answers)
    while True:
        try:
            sent.append(flow.send(next(it)))
        except StopIteration as stop:
            return sent, stop.value


OK_LOGIN: Answer = (200, b.login_headers(), b.session_v2())


def test_flow_logs_in_first_then_sends_with_tokens() -> None:
    s = rest.new_session(CREDS, b.IDENTIFIER)
    sent, (status, _, got) = drive(
        rest.authorized_call(s, rest.build_positions("otc")), [OK_LOGIN, (200, {}, b.POSITIONS)]
    )
    assert [r.path for r in sent] == ["/session", "/positions"]
    assert sent[1].headers["CST"] == b.CST and status == 200 and got == b.POSITIONS
    assert s.logged_in and s.account_id == b.ACCOUNT_ID and s.generation == 1
    assert s.lightstreamer_endpoint == b.LS_ENDPOINT and s.currency == "GBP"


def test_flow_relogs_in_once_on_an_expired_token_and_retries() -> None:
    s = logged_in()
    dead = (401, {}, b.error("error.security.client-token-invalid"))
    new_login = (200, b.login_headers("cstNEW", "xstNEW"), b.session_v2())
    sent, (status, _, got) = drive(
        rest.authorized_call(s, rest.build_open_orders("otc")),
        [dead, new_login, (200, {}, b.WORKING_ORDERS)],
    )
    assert [r.path for r in sent] == ["/workingorders", "/session", "/workingorders"]
    assert sent[0].headers["CST"] == b.CST and sent[2].headers["CST"] == "cstNEW"
    assert status == 200 and got == b.WORKING_ORDERS and s.generation == 2


def test_flow_gives_up_after_one_relogin() -> None:
    s = logged_in()
    dead = (401, {}, b.error("error.security.client-token-invalid"))
    sent, answer = drive(
        rest.authorized_call(s, rest.build_positions("otc")), [dead, OK_LOGIN, dead]
    )
    assert len(sent) == 3
    with pytest.raises(AuthError):
        rest.check_error(*answer)


def test_flow_does_not_relogin_when_someone_else_already_did() -> None:
    s = logged_in()
    flow = rest.authorized_call(s, rest.build_positions("otc"))
    first = next(flow)
    s.on_login(b.login_headers("cstOTHER", "xstOTHER"), b.session_v2())  # a concurrent call
    retry = flow.send((401, {}, b.error("error.security.client-token-invalid")))
    assert retry.path == "/positions" and retry.headers["CST"] == "cstOTHER"
    assert first.headers["CST"] == b.CST


def test_flow_refused_login_raises_auth_error() -> None:
    s = rest.new_session(CREDS, b.IDENTIFIER)
    flow = rest.authorized_call(s, rest.build_positions("otc"))
    next(flow)
    with pytest.raises(AuthError) as info:
        flow.send((401, {}, b.error("error.security.invalid-details")))
    assert info.value.code == "error.security.invalid-details"
    assert b.PASSWORD not in str(info.value) and not s.logged_in


def test_login_answer_without_tokens_is_a_parse_error() -> None:
    s = rest.new_session(CREDS, b.IDENTIFIER)
    with pytest.raises(ParseError):
        s.on_login({}, b.session_v2())
    with pytest.raises(ParseError):
        s.on_login(b.login_headers(), b"{}")
    s.on_login(Headers({"cst": b.CST, "x-security-token": b.XST}), b.session_v2())  # any case
    assert s.logged_in
    with pytest.raises(AuthError):
        rest.new_session(CREDS, b.IDENTIFIER).authorize(rest.build_positions("otc"))


def test_snapshot_only_markets_give_decimals_by_position() -> None:
    """IG's SNAPSHOT_ONLY answer has `instrument: null`: the entries follow the asked order."""
    body = json.dumps(
        {
            "marketDetails": [
                {"instrument": None, "dealingRules": None,
                 "snapshot": {"bid": 1.1, "offer": 1.2, "decimalPlacesFactor": 5}},
                {"instrument": None, "dealingRules": None,
                 "snapshot": {"bid": 7480.1, "offer": 7481.1, "decimalPlacesFactor": 1}},
            ]
        }
    ).encode()  # fmt: skip
    got = rest.parse_market_decimals([b.EPIC, b.EPIC2, b.EPIC], body)
    assert got == {b.EPIC: 5, b.EPIC2: 1}
    with pytest.raises(ParseError):
        rest.parse_market_decimals([b.EPIC], body)  # two entries for one epic: refused
    full = rest.parse_market_decimals([b.EPIC, b.EPIC2], b.MARKETS)  # full details work too
    assert set(full) <= {b.EPIC, b.EPIC2}

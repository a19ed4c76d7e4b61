"""Issue 9 defect 2: a number that cannot be true for its field makes an IG update Malformed.

Every IG number must be finite ("NaN", "Infinity", 1e999 are refused). Sizes cannot be
negative and an open deal's size is > 0. Prices and account values may be negative (see the
comment in `ig/parse.py`): a negative bid or equity is true and passes.
"""

from __future__ import annotations

import pytest

from spinstream.errors import ParseError
from spinstream.protocol.events import AccountUpdate, Malformed, TickerUpdate
from spinstream.protocol.ig import parse, schemas

from . import ig_bodies as b
from .test_ig_protocol import T0, answer, names, ready_stream, trade_stream

NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "nan", "inf"]
PRICE = f"PRICE:{b.ACCOUNT_ID}:{b.EPIC}"
GOOD_PRICE = {"BIDPRICE1": "1.0845", "ASKPRICE1": "1.0846", "BIDSIZE1": "5", "ASKSIZE1": "3"}


def malformed_then(stream, bad_events, good_events) -> None:  # type: ignore[no-untyped-def]
    assert [type(e) for e in bad_events] == [Malformed], bad_events
    assert stream.counters["malformed"] >= 1
    assert good_events and not any(isinstance(e, Malformed) for e in good_events)


@pytest.mark.parametrize("kind", ["ticker", "market"])
@pytest.mark.parametrize(
    ("field", "value"),
    [(f, v) for f in ("BIDPRICE1", "ASKPRICE1") for v in NON_FINITE]
    + [(f, v) for f in ("BIDSIZE1", "ASKSIZE1") for v in [*NON_FINITE, "-1"]],
)
def test_price_bad(kind: str, field: str, value: str) -> None:
    stream, server = ready_stream()
    stream.subscribe(kind, b.EPIC)
    server.open()
    server.read()
    bad = server.update(PRICE, {**GOOD_PRICE, field: value})
    good = server.update(PRICE, GOOD_PRICE, ts=T0 + 1)
    malformed_then(stream, bad, good)
    assert isinstance(good[0], TickerUpdate) and good[0].ticker.bid == 1.0845


def test_negative_price_is_true() -> None:
    stream, server = ready_stream()
    stream.subscribe("ticker", b.EPIC)
    server.open()
    server.read()
    (ev,) = server.update(PRICE, {**GOOD_PRICE, "BIDPRICE1": "-37.63", "ASKPRICE1": "-36.9"})
    assert isinstance(ev, TickerUpdate) and ev.ticker.bid == -37.63


ACCOUNT = {"PNL": "-12.40", "AVAILABLE_TO_DEAL": "9737.10", "EQUITY": "9987.60"}


@pytest.mark.parametrize(
    ("field", "value"), [(f, v) for f in ("AVAILABLE_TO_DEAL", "EQUITY") for v in NON_FINITE]
)
def test_account_bad(field: str, value: str) -> None:
    stream, server = ready_stream()
    stream.subscribe("account", None)
    server.open()
    server.read()
    item = f"ACCOUNT:{b.ACCOUNT_ID}"
    bad = server.update(item, {**ACCOUNT, field: value})
    good = server.update(item, ACCOUNT, ts=T0 + 1)
    malformed_then(stream, bad, good)
    assert isinstance(good[0], AccountUpdate) and good[0].account.equity == 9987.6


def test_negative_equity_and_available_are_true() -> None:
    stream, server = ready_stream()
    stream.subscribe("account", None)
    server.open()
    server.read()
    (ev,) = server.update(
        f"ACCOUNT:{b.ACCOUNT_ID}", {"PNL": "-900", "AVAILABLE_TO_DEAL": "-40", "EQUITY": "-5"}
    )
    assert isinstance(ev, AccountUpdate) and (ev.account.equity, ev.account.available) == (-5, -40)


def seeded_trade():  # type: ignore[no-untyped-def]
    stream, server, reqs = trade_stream()
    answer(stream, reqs["/positions"], 200, b.POSITIONS)
    answer(stream, reqs["/workingorders"], 200, b.WORKING_ORDERS)
    return stream, server


@pytest.mark.parametrize(
    ("field", "value"),
    [("size", v) for v in [*NON_FINITE, "0", "-1", -2.5]] + [("level", v) for v in NON_FINITE],
)
def test_opu_bad(field: str, value: str | float) -> None:
    stream, server = seeded_trade()
    deal = b.opu("DIAAAAP9", "OPEN", "BUY", 2, 1.0855)
    bad = server.trade("OPU", {**deal, field: value})
    good = server.trade("OPU", deal, ts=T0 + 1)
    malformed_then(stream, bad, good)
    assert names(good) == ["PositionUpdate"]


@pytest.mark.parametrize(
    ("field", "value"), [("size", v) for v in [*NON_FINITE, "-1"]] + [("level", "NaN")]
)
def test_wou_bad(field: str, value: str) -> None:
    stream, server = seeded_trade()
    order = b.wou("DIAAAAW3", "OPEN", "SELL", 1, 1.095)
    bad = server.trade("WOU", {**order, field: value})
    good = server.trade("WOU", order, ts=T0 + 1)
    malformed_then(stream, bad, good)
    assert names(good) == ["OrderUpdate"]


def test_a_bad_push_held_for_the_seed_does_not_lose_the_seed() -> None:
    """Found with the fuzzing work (tests/fuzz/test_protocol_fuzz.py::test_ig_seeds holds such a
    push): a push held for its seed is parsed on replay; a bad one raised out of the seed's
    answer, and the seed's update and Fresh were lost."""
    stream, server, reqs = trade_stream()
    assert server.trade("OPU", b.opu("DIAAAAN1", "OPEN", "SELL", "NaN", 1.0830)) == []
    assert server.trade("OPU", b.opu("DIAAAAN2", "OPEN", "SELL", 1, 1.0830)) == []
    ev = answer(stream, reqs["/positions"], 200, b.POSITIONS)
    assert names(ev) == ["PositionUpdate", "Malformed", "PositionUpdate", "Fresh"]
    assert stream.counters["malformed"] == 1


def test_rest_values() -> None:
    with pytest.raises(ParseError):
        parse.num("NaN")
    with pytest.raises(ParseError):
        parse.num(float("inf"))
    assert parse.num("-1.5") == -1.5
    with pytest.raises(ParseError):
        parse.order_from_rest("otc", _working_order(-1.0), T0)
    assert parse.order_from_rest("otc", _working_order(1.0), T0).quantity == 1.0


def _working_order(size: float) -> schemas.WorkingOrderEntry:
    data = schemas.WorkingOrderData(
        dealId="D1", epic=b.EPIC, direction="BUY", orderType="LIMIT", orderSize=size
    )
    return schemas.WorkingOrderEntry(workingOrderData=data)

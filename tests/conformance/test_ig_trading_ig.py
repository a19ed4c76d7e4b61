"""trading-ig, the community IG SDK, against the IG simulator: REST and its own streaming.

trading-ig picks its base URL from the module dict `trading_ig.rest.D_BASE_URL` by
`acc_type` ("DEMO" / "LIVE") inside `IGService.__init__`, storing it on the instance as
`BASE_URL` and again on the `IGSessionCRUD` it creates (`crud_session.BASE_URL`); every
call is `BASE_URL + endpoint`. So pointing it at the sim is two instance attributes, set to
`ex.make_url(<the real base>)`: no module constant is patched. Its streaming,
`IGStreamService(ig_service).create_session(version=...)`, logs in over REST and connects
lightstreamer-client-lib 1.0.3 to the `lightstreamerEndpoint` the login returned (the sim's
own address) with no adapter set and no user; its `StreamingManager` ticker subscribes
`CHART:{epic}:TICK` (DISTINCT).

trading-ig is synchronous (requests, library threads): it runs in worker threads while the
sim serves on the test's event loop. A failure here is a simulator bug: fix the simulator,
never this test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from trading_ig import IGService, IGStreamService
from trading_ig.rest import ApiExceededException, TokenInvalidException
from trading_ig.streamer.manager import StreamingManager

from spinstream.testing.sims import sim
from spinstream.testing.sims.ig import IgSim

EURUSD = "CS.D.EURUSD.CFD.IP"
FTSE = "IX.D.FTSE.DAILY.IP"

# lightstreamer-client-lib passes ssl=None to aiohttp, which newer aiohttp deprecates
pytestmark = pytest.mark.filterwarnings("ignore:ssl=None is deprecated:DeprecationWarning")


@pytest.fixture
async def ex() -> AsyncIterator[IgSim]:
    async with sim("ig", seed=23, tick_interval=0.02) as s:
        assert isinstance(s, IgSim)
        yield s


def service(ex: IgSim, acc_type: str = "DEMO", **kw: Any) -> IGService:
    c = ex.credentials
    ig = IGService(c["identifier"], c["password"], c["api_key"], acc_type=acc_type, **kw)
    real = ig.BASE_URL
    assert real == f"https://{'demo-' if acc_type == 'DEMO' else ''}api.ig.com/gateway/deal"
    ig.BASE_URL = ig.crud_session.BASE_URL = ex.make_url(real)
    return ig


async def in_thread(fn: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(fn)


async def test_rest_login_accounts_positions_and_deals(ex: IgSim) -> None:
    def run() -> None:
        ig = service(ex, "LIVE")
        sess = ig.create_session(version="2")
        assert sess["currentAccountId"] == ex.credentials["account_id"]
        assert sess["lightstreamerEndpoint"] == ex.base_http
        accounts = ig.fetch_accounts()  # a DataFrame with the balance columns expanded
        assert list(accounts["accountId"]) == ["XQ1AB", "XQ1AC"]
        assert list(accounts["available"]) == [100000.0, 100000.0]
        assert ig.fetch_open_positions().empty
        opened = ig.create_open_position(
            currency_code="GBP",
            direction="BUY",
            epic=FTSE,
            expiry="DFB",
            force_open=True,
            guaranteed_stop=False,
            level=None,
            limit_distance=None,
            limit_level=None,
            order_type="MARKET",
            quote_id=None,
            size=2,
            stop_distance=None,
            stop_level=None,
            trailing_stop=False,
            trailing_stop_increment=None,
        )
        assert opened["dealStatus"] == "ACCEPTED" and opened["status"] == "OPEN"
        positions = ig.fetch_open_positions()
        assert list(positions["dealId"]) == [opened["dealId"]]
        assert list(positions["size"]) == [2.0] and list(positions["epic"]) == [FTSE]
        one = ig.fetch_open_position_by_deal_id(opened["dealId"])
        assert one["position"]["level"] == opened["level"]
        closed = ig.close_open_position(
            deal_id=opened["dealId"],
            direction="SELL",
            epic=None,
            expiry=None,
            level=None,
            order_type="MARKET",
            quote_id=None,
            size=2,
        )
        assert closed["status"] == "CLOSED" and closed["profitCurrency"] == "GBP"
        assert ig.fetch_open_positions().empty
        market = ig.fetch_market_by_epic(EURUSD)
        assert market["instrument"]["epic"] == EURUSD
        assert market["snapshot"]["bid"] < market["snapshot"]["offer"]
        details = ig.fetch_markets_by_epics(f"{EURUSD},{FTSE}")
        assert [d["instrument"]["epic"] for d in details] == [EURUSD, FTSE]
        apps = ig.get_client_apps()
        assert apps[0]["allowanceAccountOverall"] == 30
        ig.logout()

    await in_thread(run)


async def test_working_orders_and_history(ex: IgSim) -> None:
    def run() -> None:
        ig = service(ex)
        ig.create_session(version="2")
        bid = ig.fetch_market_by_epic(EURUSD)["snapshot"]["bid"]
        made = ig.create_working_order(
            currency_code="USD",
            direction="BUY",
            epic=EURUSD,
            expiry="-",
            guaranteed_stop=False,
            level=round(bid - 50, 1),
            size=1,
            time_in_force="GOOD_TILL_CANCELLED",
            order_type="LIMIT",
            limit_distance=30,
            stop_distance=20,
        )
        assert made["dealStatus"] == "ACCEPTED"
        orders = ig.fetch_working_orders()
        assert list(orders["dealId"]) == [made["dealId"]]
        assert list(orders["orderType"]) == ["LIMIT"] and list(orders["stopDistance"]) == [20.0]
        gone = ig.delete_working_order(made["dealId"])
        assert gone["status"] == "DELETED"
        assert ig.fetch_working_orders().empty
        hist = ig.fetch_historical_prices_by_epic(
            EURUSD, resolution="1Min", numpoints=30, pagesize=20, wait=0
        )
        prices = hist["prices"]  # both pages, as a DataFrame
        assert len(prices) == 30
        assert (prices["ask"]["Close"] > prices["bid"]["Close"]).all()
        assert hist["metadata"]["allowance"]["totalAllowance"] == 10_000
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        end = (now - dt.timedelta(hours=1)).replace(minute=30, second=0, microsecond=0)
        hist = ig.fetch_historical_prices_by_epic(
            FTSE,
            resolution="1h",
            start_date=(end - dt.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S"),
            end_date=end.strftime("%Y-%m-%dT%H:%M:%S"),
            wait=0,
        )
        assert len(hist["prices"]) == 5

    await in_thread(run)


async def test_limits_and_expired_tokens_raise_trading_igs_exceptions(ex: IgSim) -> None:
    def run() -> None:
        ig = service(ex)
        ig.create_session(version="2")
        ex.faults.rate_limit(1)
        with pytest.raises(ApiExceededException):
            ig.fetch_accounts()
        assert len(ig.fetch_accounts()) == 2
        ex.expire_tokens()
        with pytest.raises(TokenInvalidException):
            ig.fetch_accounts()

    await in_thread(run)


@pytest.mark.parametrize("version", ["2", "3"])
async def test_streaming_ticker(ex: IgSim, version: str) -> None:
    """IGStreamService logs in (v3 also fetches CST/XST), connects lightstreamer-client-lib
    to the sim and the StreamingManager ticker fills from `CHART:{epic}:TICK`."""

    def run() -> None:
        ig = service(ex, acc_number=ex.credentials["account_id"])
        stream = IGStreamService(ig)
        stream.create_session(version=version)
        assert stream.lightstreamerEndpoint == ex.base_http
        manager = StreamingManager(stream)
        try:
            manager.start_tick_subscription(EURUSD)
            ticker = manager.ticker(EURUSD, timeout_length=10)
            assert ticker.epic == EURUSD
            assert ticker.bid < ticker.offer
            age = dt.datetime.now(dt.timezone.utc) - ticker.timestamp
            assert dt.timedelta(0) <= age < dt.timedelta(seconds=30)
            assert ticker.day_open_mid > 0 and ticker.day_high >= ticker.day_low
            first = ticker.timestamp
            deadline = dt.datetime.now() + dt.timedelta(seconds=10)
            while ticker.timestamp == first and dt.datetime.now() < deadline:
                time.sleep(0.05)  # a worker thread polling the ticker trading-ig updates
            assert ticker.timestamp > first
            if version == "3":
                # streaming needs CST/XST: trading-ig fetched them after the v3 login
                assert ig.session.headers["CST"] and ig.session.headers["Authorization"]
        finally:
            stream.disconnect()  # not manager.stop_subscriptions(): it joins a thread 5 s

    await in_thread(run)
    await ex.wait_for(lambda: not ex.ls_sessions)
    assert ex.stats.ws_opened["lightstreamer"] == 1

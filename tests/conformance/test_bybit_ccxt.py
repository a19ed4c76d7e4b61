"""ccxt (async REST and ccxt.pro streams) against the Bybit simulator.

ccxt is an independent Bybit v5 client: if it cannot load markets, trade or stream against
`sim("bybit")` with nothing but its URLs rewritten, the simulator does not speak Bybit. A
failure here is a simulator bug: fix the simulator, never this test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from ccxt_fields import assert_ticker, traded_ticker
from spinstream.testing.sims import sim
from spinstream.testing.sims.bybit import BybitSim

# ccxt's own throttle spaces calls ~100 ms apart; the sim's limits are tested elsewhere
NO_THROTTLE = {"enableRateLimit": False}
LIN = "BTC/USDT:USDT"
SPOT = "BTC/USDT"
# Bybit v5 `tickers` payloads (bybit-exchange.github.io/docs/v5/websocket/public/ticker)
SPOT_TICKER = set(
    "symbol lastPrice highPrice24h lowPrice24h prevPrice24h volume24h turnover24h price24hPcnt"
    " usdIndexPrice".split()
)
LINEAR_TICKER = set(
    "symbol tickDirection price24hPcnt lastPrice prevPrice24h highPrice24h lowPrice24h"
    " prevPrice1h markPrice indexPrice openInterest openInterestValue turnover24h volume24h"
    " nextFundingTime fundingRate bid1Price bid1Size ask1Price ask1Size".split()
)


def point_at(client: Any, ex: BybitSim, *, demo: bool = False) -> None:
    """Rewrite ccxt's Bybit URLs (REST and WS, mainnet and demo) to the sim's."""
    http, ws = ex.urls["https://api.bybit.com"], ex.urls["wss://stream.bybit.com"]
    demo_http, demo_ws = (
        ex.urls["https://api-demo.bybit.com"],
        ex.urls["wss://stream-demo.bybit.com"],
    )
    for section, rest, private_ws in (("api", http, ws), ("demotrading", demo_http, demo_ws)):
        urls = client.urls[section]
        for name, value in list(urls.items()):
            if isinstance(value, str):
                urls[name] = rest
        if "ws" in urls:
            for cat in urls["ws"]["public"]:
                urls["ws"]["public"][cat] = f"{ws}/v5/public/{cat}"  # public data: mainnet only
            urls["ws"]["private"]["contract"] = private_ws + "/v5/private"
            urls["ws"]["private"]["spot"]["unified"] = private_ws + "/v5/private"
    if demo:
        client.enable_demo_trading(True)


@pytest.fixture
async def ex() -> AsyncIterator[BybitSim]:
    async with sim("bybit", seed=21, tick_interval=0.02) as s:
        assert isinstance(s, BybitSim)
        yield s


@pytest.fixture
async def rest(ex: BybitSim) -> AsyncIterator[Any]:
    creds = ex.credentials
    client = ccxt_async.bybit(
        {"apiKey": creds["api_key"], "secret": creds["api_secret"], **NO_THROTTLE}
    )
    point_at(client, ex)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def pro(ex: BybitSim) -> AsyncIterator[Any]:
    creds = ex.credentials
    client = ccxt_pro.bybit(
        {"apiKey": creds["api_key"], "secret": creds["api_secret"], **NO_THROTTLE}
    )
    point_at(client, ex)
    try:
        yield client
    finally:
        await client.close()


async def test_load_markets_ticker_order_book(rest: Any) -> None:
    markets = await rest.load_markets()
    assert {LIN, SPOT, "ETH/USDT:USDT", "ETH/USDT"} <= set(markets)
    lin, spot = markets[LIN], markets[SPOT]
    assert (lin["swap"], lin["linear"], lin["settle"], lin["contractSize"]) == (
        True,
        True,
        "USDT",
        1,
    )
    assert (lin["precision"]["amount"], lin["precision"]["price"]) == (0.001, 0.1)
    assert lin["limits"]["amount"]["min"] == 0.001 and lin["limits"]["cost"]["min"] == 5
    assert (
        spot["spot"]
        and spot["precision"]["amount"] == 0.000001
        and spot["precision"]["price"] == 0.1
    )
    assert {"BTC", "ETH", "USDT"} <= set(rest.currencies)  # /v5/asset/coin/query-info

    for symbol in (LIN, SPOT):
        t = await rest.fetch_ticker(symbol)
        assert t["symbol"] == symbol and t["last"] > 0 and 0 < t["bid"] < t["ask"]
        ob = await rest.fetch_order_book(symbol, 10)
        bids, asks = ob["bids"], ob["asks"]
        assert len(bids) == len(asks) == 10
        assert [b[0] for b in bids] == sorted((b[0] for b in bids), reverse=True)
        assert [a[0] for a in asks] == sorted(a[0] for a in asks)
        assert bids[0][0] < asks[0][0] and all(q > 0 for _, q in bids + asks)
    assert (await rest.fetch_ticker(LIN))["markPrice"] > 0


async def test_balance_and_order_lifecycle(rest: Any, ex: BybitSim) -> None:
    await rest.load_markets()
    bal = await rest.fetch_balance()
    assert (
        bal["USDT"]["total"] == 100_000
        and bal["USDT"]["free"] == 100_000
        and bal["BTC"]["total"] == 1
    )

    ticker = await rest.fetch_ticker(LIN)
    price = rest.price_to_precision(LIN, ticker["bid"] * 0.95)
    order = await rest.create_order(LIN, "limit", "buy", 0.01, float(price))
    assert order["id"]
    opened = await rest.fetch_open_orders(LIN)
    assert [(o["id"], o["status"], o["side"], o["amount"], o["price"]) for o in opened] == [
        (order["id"], "open", "buy", 0.01, float(price))
    ]
    assert [o["id"] for o in await rest.fetch_open_orders()] == [order["id"]]  # settleCoin=USDT
    assert (await rest.fetch_balance())["USDT"]["used"] > 0  # order margin
    await rest.cancel_order(order["id"], LIN)
    assert await rest.fetch_open_orders(LIN) == []

    # marketable orders fill at once: a market buy and a limit sell through the bid
    buy = await rest.create_order(LIN, "market", "buy", 0.02)
    pos = await rest.fetch_positions([LIN])
    assert [(p["symbol"], p["side"], p["contracts"]) for p in pos] == [(LIN, "long", 0.02)]
    bid = (await rest.fetch_ticker(LIN))["bid"]
    sell = await rest.create_order(
        LIN, "limit", "sell", 0.01, float(rest.price_to_precision(LIN, bid * 0.99))
    )
    trades = await rest.fetch_my_trades(LIN)
    assert {t["order"] for t in trades} == {buy["id"], sell["id"]}
    assert all(t["fee"]["currency"] == "USDT" and t["takerOrMaker"] == "taker" for t in trades)
    assert (await rest.fetch_positions([LIN]))[0]["contracts"] == 0.01
    assert await rest.fetch_open_orders(LIN) == []

    # spot: a market buy priced by ccxt (cost = amount * price, quote-sized on Bybit)
    spot_price = (await rest.fetch_ticker(SPOT))["ask"]
    before = (await rest.fetch_balance())["BTC"]["total"]
    await rest.create_order(SPOT, "market", "buy", 0.001, spot_price)
    after = (await rest.fetch_balance())["BTC"]["total"]
    assert 0.0009 < after - before < 0.0011
    assert ex.stats.orders_placed >= 4


async def test_pro_watch_ticker_and_order_book(pro: Any) -> None:
    await pro.load_markets()
    for symbol in (LIN, SPOT):
        seen = []
        for _ in range(4):
            t = await asyncio.wait_for(pro.watch_ticker(symbol), 5)
            assert t["symbol"] == symbol and t["last"] > 0
            seen.append(t["timestamp"])
        assert seen == sorted(seen) and seen[-1] > seen[0]
        stamps = []
        for _ in range(4):
            ob = await asyncio.wait_for(pro.watch_order_book(symbol), 5)
            bids, asks = ob["bids"], ob["asks"]
            assert len(bids) == len(asks) == 50
            assert bids[0][0] < asks[0][0]
            assert [b[0] for b in bids] == sorted((b[0] for b in bids), reverse=True)
            assert [a[0] for a in asks] == sorted(a[0] for a in asks)
            stamps.append(ob["timestamp"])
        assert stamps[-1] > stamps[0]
    t = await asyncio.wait_for(pro.watch_ticker(LIN), 5)
    assert t["bid"] and t["ask"] and t["markPrice"]  # deltas merged onto the snapshot


async def test_pro_watch_ticker_carries_every_field_ccxt_reads(pro: Any) -> None:
    """Linear `tickers` (snapshot + merged deltas) give every ccxt ticker field; spot `tickers`
    have no best bid/ask on Bybit either (the L1 `orderbook.1` stream has them)."""
    await pro.load_markets()
    lin = await traded_ticker(lambda: pro.watch_ticker(LIN))
    assert LINEAR_TICKER <= set(lin["info"]), LINEAR_TICKER - set(lin["info"])
    assert_ticker(lin, book=True, pct_abs=1e-3)
    assert lin["markPrice"] > 0 and lin["indexPrice"] > 0
    spot = await traded_ticker(lambda: pro.watch_ticker(SPOT))
    assert set(spot["info"]) == SPOT_TICKER
    assert_ticker(spot, book=False, pct_abs=1e-2)  # price24hPcnt has 4 decimals
    ob = await asyncio.wait_for(pro.watch_order_book(SPOT, 1), 20)
    assert 0 < ob["bids"][0][0] < ob["asks"][0][0] and ob["bids"][0][1] > 0


async def test_pro_watch_orders_after_auth(pro: Any, ex: BybitSim) -> None:
    await pro.load_markets()
    watcher = asyncio.ensure_future(pro.watch_orders(LIN))
    await ex.wait_for(  # ccxt authenticated and subscribed on the sim's private stream
        lambda: any(
            c.data.get("authed") and "order" in c.subscriptions for c in ex.connections("private")
        )
    )
    placed = await pro.create_order(LIN, "market", "buy", 0.01)
    orders = await asyncio.wait_for(watcher, 5)
    assert orders and orders[-1]["id"] == placed["id"] and orders[-1]["symbol"] == LIN


async def test_demo_trading_mode(ex: BybitSim) -> None:
    creds = ex.demo_credentials
    client = ccxt_async.bybit(
        {"apiKey": creds["api_key"], "secret": creds["api_secret"], **NO_THROTTLE}
    )
    point_at(client, ex, demo=True)
    try:
        await client.load_markets()
        assert (await client.fetch_balance())["USDT"]["total"] == 50_000
        await client.create_order(LIN, "market", "sell", 0.01)
        assert (await client.fetch_positions([LIN]))[0]["side"] == "short"
    finally:
        await client.close()
    live = ex.engine.accounts["live.linear"].positions.get("BTCUSDT")
    assert live is None or live.qty == 0

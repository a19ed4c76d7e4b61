"""ccxt (async REST and ccxt.pro streams) against the OKX simulator.

ccxt is an independent OKX v5 client: if it cannot load markets, trade or stream against
`sim("okx")` with nothing but its URLs rewritten, the simulator does not speak OKX. A failure
here is a simulator bug: fix the simulator, never this test. (ccxt 4.5.90 no longer validates
the `books` checksum, which OKX zeroed in 2026-06; it does check the `seqId`/`prevSeqId` chain,
and the checksums are checked against the core's Book in tests/integration/sims/test_okx_sim.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from ccxt_fields import assert_book, assert_ticker, traded_ticker
from spinstream.testing.sims import sim
from spinstream.testing.sims.okx import OkxSim

NO_THROTTLE = {"enableRateLimit": False}
SPOT = "BTC/USDT"
SWAP = "BTC/USDT:USDT"
WAIT = 20.0


def point_at(client: Any, ex: OkxSim) -> None:
    """Rewrite ccxt's OKX URLs (REST; live and demo WebSocket hosts) to the sim's."""
    for section, ws_base in (
        ("api", "wss://ws.okx.com:8443"),
        ("test", "wss://wspap.okx.com:8443"),
    ):
        urls = client.urls[section]
        urls["rest"] = ex.urls["https://www.okx.com"]
        if "ws" in urls or section == "api":
            urls["ws"] = ex.urls[ws_base] + "/ws/v5"


def _client(module: Any, ex: OkxSim, demo: bool) -> Any:
    creds = ex.demo_credentials if demo else ex.credentials
    client = module.okx(
        {
            "apiKey": creds["api_key"],
            "secret": creds["api_secret"],
            "password": creds["passphrase"],
            **NO_THROTTLE,
        }
    )
    if "ws" not in client.urls["test"]:
        client.urls["test"]["ws"] = None
    point_at(client, ex)
    if demo:
        client.set_sandbox_mode(True)
    return client


@pytest.fixture
async def ex() -> AsyncIterator[OkxSim]:
    async with sim("okx", seed=31, tick_interval=0.02) as s:
        assert isinstance(s, OkxSim)
        yield s


@pytest.fixture
async def rest(ex: OkxSim) -> AsyncIterator[Any]:
    client = _client(ccxt_async, ex, demo=False)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def pro(ex: OkxSim) -> AsyncIterator[Any]:
    client = _client(ccxt_pro, ex, demo=False)
    try:
        yield client
    finally:
        await client.close()


async def test_load_markets_ticker_order_book(rest: Any) -> None:
    markets = await rest.load_markets()
    assert {SPOT, "ETH/USDT", SWAP, "ETH/USDT:USDT"} <= set(markets)
    futures = [m for m in markets.values() if m["future"]]
    assert len(futures) == 1 and futures[0]["symbol"].startswith("BTC/USDT:USDT-")
    swap, spot = markets[SWAP], markets[SPOT]
    assert (swap["swap"], swap["linear"], swap["settle"], swap["contractSize"]) == (
        True,
        True,
        "USDT",
        0.01,
    )
    assert (swap["precision"]["amount"], swap["precision"]["price"]) == (0.01, 0.1)
    assert (
        spot["spot"]
        and spot["precision"]["amount"] == 1e-8
        and spot["limits"]["amount"]["min"] == 0.00001
    )
    assert {"BTC", "ETH", "USDT"} <= set(rest.currencies)  # /api/v5/asset/currencies
    for symbol in (SPOT, SWAP):
        t = await rest.fetch_ticker(symbol)
        assert t["symbol"] == symbol and t["last"] > 0 and 0 < t["bid"] < t["ask"]
        ob = await rest.fetch_order_book(symbol, 10)
        bids, asks = ob["bids"], ob["asks"]
        assert len(bids) == len(asks) == 10
        assert [b[0] for b in bids] == sorted((b[0] for b in bids), reverse=True)
        assert [a[0] for a in asks] == sorted(a[0] for a in asks)
        assert bids[0][0] < asks[0][0] and all(q > 0 for _, q, *_ in bids + asks)


async def test_balance_and_order_lifecycle(rest: Any, ex: OkxSim) -> None:
    await rest.load_markets()
    bal = await rest.fetch_balance()
    assert bal["USDT"]["total"] == 100_000 and bal["USDT"]["free"] == 100_000
    assert bal["BTC"]["total"] == 1
    bid = (await rest.fetch_ticker(SPOT))["bid"]
    price = float(rest.price_to_precision(SPOT, bid * 0.95))
    order = await rest.create_order(SPOT, "limit", "buy", 0.001, price)  # batch-orders
    assert order["id"]
    opened = await rest.fetch_open_orders(SPOT)
    assert [(o["id"], o["status"], o["side"], o["amount"], o["price"]) for o in opened] == [
        (order["id"], "open", "buy", 0.001, price)
    ]
    assert (await rest.fetch_balance())["USDT"]["used"] == pytest.approx(0.001 * price)
    fetched = await rest.fetch_order(order["id"], SPOT)
    assert (fetched["status"], fetched["type"], fetched["filled"]) == ("open", "limit", 0)
    await rest.cancel_order(order["id"], SPOT)
    assert await rest.fetch_open_orders(SPOT) == []
    assert (await rest.fetch_order(order["id"], SPOT))["status"] == "canceled"

    # a swap market order: contracts on the wire, a net long position
    buy = await rest.create_order(SWAP, "market", "buy", 3)
    filled = await rest.fetch_order(buy["id"], SWAP)
    assert (filled["status"], filled["filled"], filled["fee"]["currency"]) == ("closed", 3, "USDT")
    (pos,) = await rest.fetch_positions([SWAP])
    assert (pos["symbol"], pos["side"], pos["contracts"], pos["contractSize"]) == (
        SWAP,
        "long",
        3,
        0.01,
    )
    # spot market buy: ccxt sends the cost (amount * price), OKX's default quote sizing
    ask = (await rest.fetch_ticker(SPOT))["ask"]
    before = (await rest.fetch_balance())["BTC"]["total"]
    await rest.create_order(SPOT, "market", "buy", 0.001, ask)
    after = (await rest.fetch_balance())["BTC"]["total"]
    assert 0.0009 < after - before < 0.0011
    assert ex.stats.orders_placed >= 3


async def test_demo_trading(ex: OkxSim) -> None:
    client = _client(ccxt_async, ex, demo=True)
    try:
        assert client.headers.get("x-simulated-trading") == "1"
        bal = await client.fetch_balance()
        assert bal["USDT"]["total"] == 50_000
    finally:
        await client.close()


async def test_pro_watch_ticker_and_order_book(pro: Any) -> None:
    await pro.load_markets()
    for symbol in (SPOT, SWAP):
        if symbol == SPOT:
            t = await traded_ticker(lambda s=symbol: pro.watch_ticker(s))
            assert_ticker(t, book=True, pct_abs=1e-2)
        else:  # derivatives: ccxt reads no quote volume from OKX's contract tickers
            t = await asyncio.wait_for(pro.watch_ticker(symbol), WAIT)
            assert_book(t)
            assert t["last"] > 0 and t["quoteVolume"] is None
        nonces = []
        for _ in range(5):
            ob = await asyncio.wait_for(pro.watch_order_book(symbol), WAIT)
            bids, asks = ob["bids"], ob["asks"]
            assert len(bids) > 50 and len(asks) > 50 and bids[0][0] < asks[0][0]
            assert [b[0] for b in bids] == sorted((b[0] for b in bids), reverse=True)
            nonces.append(ob["nonce"])
        assert nonces == sorted(nonces) and nonces[-1] > nonces[0]  # seqId chain accepted


async def test_pro_watch_balance(pro: Any, rest: Any) -> None:
    await pro.load_markets()
    await rest.load_markets()
    first = await asyncio.wait_for(pro.watch_balance(), WAIT)  # the `account` snapshot
    assert first["USDT"]["total"] == 100_000
    bid = (await rest.fetch_ticker(SPOT))["bid"]
    await rest.create_order(
        SPOT, "limit", "buy", 0.002, float(rest.price_to_precision(SPOT, bid * 0.9))
    )
    for _ in range(20):
        bal = await asyncio.wait_for(pro.watch_balance(), WAIT)
        if bal["USDT"]["used"]:
            break
    assert bal["USDT"]["used"] > 0 and bal["USDT"]["free"] < 100_000

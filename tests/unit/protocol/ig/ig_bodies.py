"""IG REST and TRADE-stream bodies shaped like IG's reference examples and trading-ig's tests.

Shared by the IG unit tests (imported relatively; not collected).
"""

from __future__ import annotations

import json
from typing import Any

API_KEY = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"
IDENTIFIER = "spin_demo_user"
PASSWORD = "ig-test-password-Zq9!"
CST = "cst9f3c2a1b0e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0ba01"
XST = "xst7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6ab02"
ACCOUNT_ID = "XQ123"
EPIC = "CS.D.EURUSD.CFD.IP"
EPIC2 = "IX.D.FTSE.DAILY.IP"
LS_ENDPOINT = "https://demo-apd.marketdatasystems.com"


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def error(code: str) -> bytes:
    return dumps({"errorCode": code})


def login_headers(cst: str = CST, xst: str = XST) -> dict[str, str]:
    # aiohttp keeps the server's spelling; IG writes them like this
    return {"Content-Type": "application/json;charset=UTF-8", "CST": cst, "X-SECURITY-TOKEN": xst}


def session_v2(
    account_id: str = ACCOUNT_ID, endpoint: str = LS_ENDPOINT, currency: str = "GBP"
) -> bytes:
    return dumps(
        {
            "accountType": "CFD",
            "accountInfo": {
                "balance": 10000.0,
                "deposit": 250.5,
                "profitLoss": -12.4,
                "available": 9737.1,
            },
            "currencyIsoCode": currency,
            "currencySymbol": "£",
            "currentAccountId": account_id,
            "lightstreamerEndpoint": endpoint,
            "accounts": [
                {
                    "accountId": account_id,
                    "accountName": "CFD",
                    "preferred": True,
                    "accountType": "CFD",
                },
                {
                    "accountId": "XQ124",
                    "accountName": "Spread bet",
                    "preferred": False,
                    "accountType": "SPREADBET",
                },
            ],
            "clientId": "100112233",
            "timezoneOffset": 0,
            "hasActiveDemoAccounts": True,
            "hasActiveLiveAccounts": True,
            "trailingStopsEnabled": False,
            "reroutingEnvironment": None,
            "dealingEnabled": True,
        }
    )


ACCOUNTS = dumps(
    {
        "accounts": [
            {
                "accountId": "XQ124",
                "accountName": "Spread bet",
                "accountAlias": None,
                "status": "ENABLED",
                "accountType": "SPREADBET",
                "preferred": False,
                "balance": {
                    "balance": 500.0,
                    "deposit": 0.0,
                    "profitLoss": 0.0,
                    "available": 500.0,
                },
                "currency": "GBP",
                "canTransferFrom": True,
                "canTransferTo": True,
            },
            {
                "accountId": ACCOUNT_ID,
                "accountName": "CFD",
                "accountAlias": None,
                "status": "ENABLED",
                "accountType": "CFD",
                "preferred": True,
                "balance": {
                    "balance": 10000.0,
                    "deposit": 250.5,
                    "profitLoss": -12.4,
                    "available": 9737.1,
                },
                "currency": "GBP",
                "canTransferFrom": True,
                "canTransferTo": True,
            },
        ]
    }
)


def market_block(epic: str = EPIC, bid: float = 1.08452, offer: float = 1.08461) -> dict[str, Any]:
    return {
        "instrumentName": "EUR/USD",
        "expiry": "-",
        "epic": epic,
        "instrumentType": "CURRENCIES",
        "lotSize": 1.0,
        "high": 1.0871,
        "low": 1.0822,
        "percentageChange": 0.12,
        "netChange": 0.0013,
        "bid": bid,
        "offer": offer,
        "updateTime": "10:12:45",
        "updateTimeUTC": "10:12:45",
        "delayTime": 0,
        "streamingPricesAvailable": True,
        "marketStatus": "TRADEABLE",
        "scalingFactor": 10000,
    }


def position(
    deal_id: str, direction: str, size: float, level: float, epic: str = EPIC
) -> dict[str, Any]:
    return {
        "position": {
            "contractSize": 100000.0,
            "createdDate": "2024/03/04 10:11:12:000",
            "createdDateUTC": "2024-03-04T10:11:12",
            "dealId": deal_id,
            "dealReference": f"REF{deal_id}",
            "size": size,
            "direction": direction,
            "limitLevel": None,
            "level": level,
            "currency": "USD",
            "controlledRisk": False,
            "stopLevel": None,
            "trailingStep": None,
            "trailingStopDistance": None,
            "limitedRiskPremium": None,
        },
        "market": market_block(epic),
    }


POSITIONS = dumps(
    {
        "positions": [
            position("DIAAAAP1", "BUY", 1.0, 1.0840),
            position("DIAAAAP2", "BUY", 3.0, 1.0848),
            position("DIAAAAP3", "SELL", 2.0, 7480.5, EPIC2),
        ]
    }
)
NO_POSITIONS = dumps({"positions": []})


def working_order(
    deal_id: str,
    direction: str,
    size: float,
    level: float,
    order_type: str = "LIMIT",
    epic: str = EPIC,
) -> dict[str, Any]:
    return {
        "workingOrderData": {
            "dealId": deal_id,
            "direction": direction,
            "epic": epic,
            "orderSize": size,
            "orderLevel": level,
            "timeInForce": "GOOD_TILL_CANCELLED",
            "goodTillDate": None,
            "goodTillDateISO": None,
            "createdDate": "2024/03/04 10:20:00:000",
            "createdDateUTC": "2024-03-04T10:20:00",
            "guaranteedStop": False,
            "orderType": order_type,
            "stopDistance": None,
            "limitDistance": None,
            "currencyCode": "USD",
            "dma": False,
            "limitedRiskPremium": None,
            "dealReference": f"REF{deal_id}",
        },
        "marketData": market_block(epic),
    }


WORKING_ORDERS = dumps(
    {
        "workingOrders": [
            working_order("DIAAAAW1", "BUY", 2.0, 1.0700),
            working_order("DIAAAAW2", "SELL", 1.0, 1.1000, "STOP"),
        ]
    }
)
NO_ORDERS = dumps({"workingOrders": []})


def market_details(epic: str = EPIC, decimals: int = 5) -> dict[str, Any]:
    return {
        "instrument": {
            "epic": epic,
            "expiry": "-",
            "name": "EUR/USD Mini",
            "forceOpenAllowed": True,
            "stopsLimitsAllowed": True,
            "lotSize": 1.0,
            "unit": "CONTRACTS",
            "type": "CURRENCIES",
            "controlledRiskAllowed": True,
            "streamingPricesAvailable": True,
            "marketId": "EURUSD",
            "currencies": [
                {
                    "code": "USD",
                    "symbol": "$",
                    "baseExchangeRate": 1.0,
                    "exchangeRate": 0.79,
                    "isDefault": False,
                },
                {
                    "code": "GBP",
                    "symbol": "£",
                    "baseExchangeRate": 1.0,
                    "exchangeRate": 1.0,
                    "isDefault": True,
                },
            ],
            "marginFactor": 3.33,
            "marginFactorUnit": "PERCENTAGE",
        },
        "dealingRules": {
            "minStepDistance": {"unit": "POINTS", "value": 1.0},
            "minDealSize": {"unit": "POINTS", "value": 0.5},
            "minControlledRiskStopDistance": {"unit": "POINTS", "value": 5.0},
            "minNormalStopOrLimitDistance": {"unit": "POINTS", "value": 2.0},
            "maxStopOrLimitDistance": {"unit": "PERCENTAGE", "value": 75.0},
            "marketOrderPreference": "AVAILABLE_DEFAULT_OFF",
            "trailingStopsPreference": "AVAILABLE",
        },
        "snapshot": {
            "marketStatus": "TRADEABLE",
            "netChange": 0.0013,
            "percentageChange": 0.12,
            "updateTime": "10:12:45",
            "delayTime": 0,
            "bid": 1.08452,
            "offer": 1.08461,
            "high": 1.0871,
            "low": 1.0822,
            "binaryOdds": None,
            "decimalPlacesFactor": decimals,
            "scalingFactor": 10000,
            "controlledRiskExtraSpread": 1.0,
        },
    }


MARKET = dumps(market_details())
MARKETS = dumps(
    {
        "marketDetails": [
            {
                "instrument": {"epic": EPIC},
                "dealingRules": None,
                "snapshot": market_details(EPIC, 5)["snapshot"],
            },
            {
                "instrument": {"epic": EPIC2},
                "dealingRules": None,
                "snapshot": {**market_details(EPIC2, 1)["snapshot"], "decimalPlacesFactor": 1},
            },
        ]
    }
)


def price(t: str, bid: float, ask: float) -> dict[str, Any]:
    return {
        "snapshotTime": t.replace("-", "/").replace("T", " "),
        "snapshotTimeUTC": t,
        "openPrice": {"bid": bid, "ask": ask, "lastTraded": None},
        "closePrice": {"bid": bid + 0.0002, "ask": ask + 0.0002, "lastTraded": None},
        "highPrice": {"bid": bid + 0.0004, "ask": ask + 0.0004, "lastTraded": None},
        "lowPrice": {"bid": bid - 0.0001, "ask": ask - 0.0001, "lastTraded": None},
        "lastTradedVolume": 131,
    }


PRICES = dumps(
    {
        "prices": [
            price("2024-03-04T10:00:00", 1.0840, 1.0841),
            price("2024-03-04T10:01:00", 1.0842, 1.0843),
        ],
        "instrumentType": "CURRENCIES",
        "metadata": {
            "allowance": {
                "remainingAllowance": 9978,
                "totalAllowance": 10000,
                "allowanceExpiry": 595112,
            },
            "size": 2,
            "pageData": {"pageSize": 20, "pageNumber": 1, "totalPages": 1},
        },
    }
)


def confirm(
    ref: str = "REFQ7H1",
    deal_id: str = "DIAAAAC1",
    status: str = "OPEN",
    accepted: bool = True,
    reason: str = "SUCCESS",
    direction: str = "BUY",
    size: float | str = 1.5,
    level: float | str = 1.08461,
) -> dict[str, Any]:
    return {
        "date": "2024-03-04T10:30:01.123",
        "status": status if accepted else None,
        "reason": reason,
        "dealStatus": "ACCEPTED" if accepted else "REJECTED",
        "epic": EPIC,
        "expiry": "-",
        "dealReference": ref,
        "dealId": deal_id,
        "affectedDeals": [{"dealId": deal_id, "status": "OPENED"}] if accepted else [],
        "level": level,
        "size": size,
        "direction": direction,
        "stopLevel": None,
        "limitLevel": None,
        "stopDistance": None,
        "limitDistance": None,
        "guaranteedStop": False,
        "trailingStop": False,
        "profit": None,
        "profitCurrency": None,
    }


def opu(
    deal_id: str,
    status: str,
    direction: str = "BUY",
    size: float | str = 1.0,
    level: float | str = 1.0850,
    epic: str = EPIC,
    deal_status: str = "ACCEPTED",
) -> dict[str, Any]:
    return {
        "dealReference": f"REF{deal_id}",
        "dealId": deal_id,
        "direction": direction,
        "epic": epic,
        "status": status,
        "dealStatus": deal_status,
        "level": level,
        "size": size,
        "timestamp": "2024-03-04T10:31:00.000",
        "channel": "PublicRestOTC",
        "dealIdOrigin": deal_id,
        "expiry": "-",
        "stopLevel": None,
        "limitLevel": None,
        "guaranteedStop": False,
        "currency": "USD",
    }


def wou(
    deal_id: str,
    status: str,
    direction: str = "BUY",
    size: float | str = 2.0,
    level: float | str = 1.0700,
    order_type: str = "LIMIT",
) -> dict[str, Any]:
    return {
        **opu(deal_id, status, direction, size, level),
        "stopDistance": None,
        "limitDistance": None,
        "orderType": order_type,
        "timeInForce": "GOOD_TILL_CANCELLED",
        "goodTillDate": None,
    }


APPLICATIONS = dumps(
    [
        {
            "clientId": "100112233",
            "name": "other",
            "apiKey": "someotherkey",
            "status": "ENABLED",
            "allowanceApplicationOverall": 60,
            "allowanceAccountOverall": 30,
            "allowanceAccountTrading": 100,
            "allowanceAccountHistoricalData": 10000,
            "concurrentSubscriptionsLimit": 40,
        },
        {
            "clientId": "100112233",
            "name": "spinstream",
            "apiKey": API_KEY,
            "status": "ENABLED",
            "allowanceApplicationOverall": 60,
            "allowanceAccountOverall": 10,
            "allowanceAccountTrading": 100,
            "allowanceAccountHistoricalData": 10000,
            "concurrentSubscriptionsLimit": 40,
            "allowEquities": False,
            "allowQuoteOrders": False,
            "createdDate": "2024-01-01",
        },
    ]
)

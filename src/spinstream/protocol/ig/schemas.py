"""IG wire messages: one `msgspec.Struct` per REST body and per TRADE-stream JSON, only the
fields we use, IG's own field names.

REST bodies carry JSON numbers (kept as floats: they only ever become float views). The TRADE
stream's CONFIRMS/OPU/WOU values are JSON texts whose numbers IG may write as numbers or as
strings, so those fields accept both (`parse.num` reads either). Streamed price fields are
plain strings handled by `parse` directly; no struct is needed for them.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "ACCOUNTS",
    "APPLICATIONS",
    "CONFIRM",
    "DEAL_REFERENCE",
    "ERROR",
    "MARKET",
    "MARKETS",
    "OPU",
    "POSITIONS",
    "PRICES",
    "SESSION",
    "WORKING_ORDERS",
    "WOU",
    "AccountBalance",
    "AccountData",
    "Accounts",
    "AffectedDeal",
    "Allowance",
    "Application",
    "Confirm",
    "Currency",
    "DealReference",
    "DealingRule",
    "DealingRules",
    "ErrorBody",
    "Instrument",
    "MarketData",
    "MarketDetails",
    "MarketSnapshot",
    "MarketsV2",
    "Opu",
    "PageData",
    "PositionData",
    "PositionEntry",
    "Positions",
    "PricePoint",
    "PriceSnapshot",
    "Prices",
    "PricesMeta",
    "SessionAccount",
    "SessionV2",
    "WorkingOrderData",
    "WorkingOrderEntry",
    "WorkingOrders",
    "Wou",
]

Num = float | str | None  # a TRADE-stream number: IG writes either form


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    """Every IG error answer: `{"errorCode": "..."}`."""

    errorCode: str | None = None  # noqa: N815 - IG's name


# -- session ---------------------------------------------------------------------------------


class SessionAccount(msgspec.Struct, frozen=True, kw_only=True):
    accountId: str  # noqa: N815
    accountName: str | None = None  # noqa: N815
    accountType: str | None = None  # noqa: N815
    preferred: bool = False


class SessionV2(msgspec.Struct, frozen=True, kw_only=True):
    """`POST /session` v2 body (the tokens come in the CST / X-SECURITY-TOKEN headers)."""

    currentAccountId: str  # noqa: N815
    lightstreamerEndpoint: str  # noqa: N815
    clientId: str | None = None  # noqa: N815
    currencyIsoCode: str | None = None  # noqa: N815
    accountType: str | None = None  # noqa: N815
    accounts: tuple[SessionAccount, ...] = ()


# -- accounts --------------------------------------------------------------------------------


class AccountBalance(msgspec.Struct, frozen=True, kw_only=True):
    balance: float | None = None
    deposit: float | None = None
    profitLoss: float | None = None  # noqa: N815
    available: float | None = None


class AccountData(msgspec.Struct, frozen=True, kw_only=True):
    accountId: str  # noqa: N815
    accountName: str | None = None  # noqa: N815
    accountType: str | None = None  # noqa: N815
    preferred: bool = False
    status: str | None = None
    currency: str | None = None
    balance: AccountBalance | None = None


class Accounts(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /accounts` v1."""

    accounts: tuple[AccountData, ...] = ()


# -- positions and working orders ------------------------------------------------------------


class PositionData(msgspec.Struct, frozen=True, kw_only=True):
    dealId: str  # noqa: N815
    direction: str
    size: float
    level: float | None = None
    dealReference: str | None = None  # noqa: N815
    contractSize: float | None = None  # noqa: N815
    createdDateUTC: str | None = None  # noqa: N815
    currency: str | None = None
    stopLevel: float | None = None  # noqa: N815
    limitLevel: float | None = None  # noqa: N815
    controlledRisk: bool = False  # noqa: N815


class MarketData(msgspec.Struct, frozen=True, kw_only=True):
    """The market block of a position or working order entry."""

    epic: str
    instrumentName: str | None = None  # noqa: N815
    expiry: str | None = None
    instrumentType: str | None = None  # noqa: N815
    bid: float | None = None
    offer: float | None = None
    marketStatus: str | None = None  # noqa: N815
    scalingFactor: float | None = None  # noqa: N815
    updateTimeUTC: str | None = None  # noqa: N815


class PositionEntry(msgspec.Struct, frozen=True, kw_only=True):
    position: PositionData
    market: MarketData


class Positions(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /positions` v2."""

    positions: tuple[PositionEntry, ...] = ()


class WorkingOrderData(msgspec.Struct, frozen=True, kw_only=True):
    dealId: str  # noqa: N815
    direction: str
    epic: str
    orderSize: float  # noqa: N815
    orderLevel: float | None = None  # noqa: N815
    orderType: str | None = None  # noqa: N815
    timeInForce: str | None = None  # noqa: N815
    goodTillDate: str | None = None  # noqa: N815
    goodTillDateISO: str | None = None  # noqa: N815
    createdDateUTC: str | None = None  # noqa: N815
    currencyCode: str | None = None  # noqa: N815
    guaranteedStop: bool = False  # noqa: N815
    stopDistance: float | None = None  # noqa: N815
    limitDistance: float | None = None  # noqa: N815
    dealReference: str | None = None  # noqa: N815


class WorkingOrderEntry(msgspec.Struct, frozen=True, kw_only=True):
    workingOrderData: WorkingOrderData  # noqa: N815
    marketData: MarketData | None = None  # noqa: N815


class WorkingOrders(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /workingorders` v2."""

    workingOrders: tuple[WorkingOrderEntry, ...] = ()  # noqa: N815


# -- markets and prices ----------------------------------------------------------------------


class Currency(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    isDefault: bool = False  # noqa: N815


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    epic: str
    name: str | None = None
    type: str | None = None
    expiry: str | None = None
    lotSize: float | None = None  # noqa: N815
    currencies: tuple[Currency, ...] | None = None
    streamingPricesAvailable: bool | None = None  # noqa: N815


class DealingRule(msgspec.Struct, frozen=True, kw_only=True):
    unit: str | None = None
    value: float | None = None


class DealingRules(msgspec.Struct, frozen=True, kw_only=True):
    minDealSize: DealingRule | None = None  # noqa: N815


class MarketSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    marketStatus: str | None = None  # noqa: N815
    bid: float | None = None
    offer: float | None = None
    high: float | None = None
    low: float | None = None
    netChange: float | None = None  # noqa: N815
    percentageChange: float | None = None  # noqa: N815
    updateTime: str | None = None  # noqa: N815
    delayTime: float | None = None  # noqa: N815
    decimalPlacesFactor: int | None = None  # noqa: N815
    scalingFactor: float | None = None  # noqa: N815


class MarketDetails(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /markets/{epic}` v3 (and each entry of `GET /markets?epics=` v2)."""

    instrument: Instrument
    snapshot: MarketSnapshot | None = None
    dealingRules: DealingRules | None = None  # noqa: N815


class SnapshotOnly(msgspec.Struct, frozen=True, kw_only=True):
    """An entry of `GET /markets?epics=...&filter=SNAPSHOT_ONLY`: the snapshot alone (IG sends
    `instrument` and `dealingRules` as null), in the order the epics were asked."""

    instrument: Instrument | None = None
    snapshot: MarketSnapshot | None = None


class MarketSnapshots(msgspec.Struct, frozen=True, kw_only=True):
    marketDetails: tuple[SnapshotOnly, ...] = ()  # noqa: N815


class MarketsV2(msgspec.Struct, frozen=True, kw_only=True):
    marketDetails: tuple[MarketDetails, ...] = ()  # noqa: N815


class PricePoint(msgspec.Struct, frozen=True, kw_only=True):
    bid: float | None = None
    ask: float | None = None
    lastTraded: float | None = None  # noqa: N815


class PriceSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    snapshotTimeUTC: str | None = None  # noqa: N815
    snapshotTime: str | None = None  # noqa: N815
    openPrice: PricePoint | None = None  # noqa: N815
    closePrice: PricePoint | None = None  # noqa: N815
    highPrice: PricePoint | None = None  # noqa: N815
    lowPrice: PricePoint | None = None  # noqa: N815
    lastTradedVolume: float | None = None  # noqa: N815


class Allowance(msgspec.Struct, frozen=True, kw_only=True):
    remainingAllowance: int | None = None  # noqa: N815
    totalAllowance: int | None = None  # noqa: N815
    allowanceExpiry: int | None = None  # noqa: N815


class PageData(msgspec.Struct, frozen=True, kw_only=True):
    pageSize: int | None = None  # noqa: N815
    pageNumber: int | None = None  # noqa: N815
    totalPages: int | None = None  # noqa: N815


class PricesMeta(msgspec.Struct, frozen=True, kw_only=True):
    allowance: Allowance | None = None
    size: int | None = None
    pageData: PageData | None = None  # noqa: N815


class Prices(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /prices/{epic}` v3."""

    prices: tuple[PriceSnapshot, ...] = ()
    instrumentType: str | None = None  # noqa: N815
    metadata: PricesMeta | None = None


# -- deals -----------------------------------------------------------------------------------


class DealReference(msgspec.Struct, frozen=True, kw_only=True):
    """What every deal call answers."""

    dealReference: str  # noqa: N815


class AffectedDeal(msgspec.Struct, frozen=True, kw_only=True):
    dealId: str  # noqa: N815
    status: str | None = None


class Confirm(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /confirms/{dealReference}` v1, and the TRADE stream's CONFIRMS JSON."""

    dealReference: str  # noqa: N815
    dealId: str | None = None  # noqa: N815
    dealStatus: str | None = None  # noqa: N815
    status: str | None = None
    epic: str | None = None
    direction: str | None = None
    size: Num = None
    level: Num = None
    reason: str | None = None
    affectedDeals: tuple[AffectedDeal, ...] | None = None  # noqa: N815
    date: str | None = None
    expiry: str | None = None
    stopLevel: Num = None  # noqa: N815
    limitLevel: Num = None  # noqa: N815
    guaranteedStop: bool | None = None  # noqa: N815


class Opu(msgspec.Struct, frozen=True, kw_only=True):
    """The TRADE stream's OPU JSON: one position (deal) opened, updated or deleted."""

    dealId: str  # noqa: N815
    dealReference: str | None = None  # noqa: N815
    dealIdOrigin: str | None = None  # noqa: N815
    dealStatus: str | None = None  # noqa: N815
    status: str | None = None  # OPEN / UPDATED / DELETED
    epic: str | None = None
    direction: str | None = None
    size: Num = None
    level: Num = None
    stopLevel: Num = None  # noqa: N815
    limitLevel: Num = None  # noqa: N815
    currency: str | None = None
    expiry: str | None = None
    timestamp: str | None = None
    guaranteedStop: bool | None = None  # noqa: N815
    channel: str | None = None


class Wou(Opu, frozen=True, kw_only=True):
    """The TRADE stream's WOU JSON: one working order opened, updated or deleted."""

    orderType: str | None = None  # noqa: N815
    timeInForce: str | None = None  # noqa: N815
    goodTillDate: str | None = None  # noqa: N815
    stopDistance: Num = None  # noqa: N815
    limitDistance: Num = None  # noqa: N815


class Application(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of `GET /operations/application` v1."""

    apiKey: str | None = None  # noqa: N815
    status: str | None = None
    allowanceApplicationOverall: int | None = None  # noqa: N815
    allowanceAccountOverall: int | None = None  # noqa: N815
    allowanceAccountTrading: int | None = None  # noqa: N815
    allowanceAccountHistoricalData: int | None = None  # noqa: N815
    concurrentSubscriptionsLimit: int | None = None  # noqa: N815


ERROR = msgspec.json.Decoder(ErrorBody)
SESSION = msgspec.json.Decoder(SessionV2)
ACCOUNTS = msgspec.json.Decoder(Accounts)
POSITIONS = msgspec.json.Decoder(Positions)
WORKING_ORDERS = msgspec.json.Decoder(WorkingOrders)
MARKET = msgspec.json.Decoder(MarketDetails)
MARKETS = msgspec.json.Decoder(MarketsV2)
MARKET_SNAPSHOTS = msgspec.json.Decoder(MarketSnapshots)
PRICES = msgspec.json.Decoder(Prices)
DEAL_REFERENCE = msgspec.json.Decoder(DealReference)
CONFIRM = msgspec.json.Decoder(Confirm)
OPU = msgspec.json.Decoder(Opu)
WOU = msgspec.json.Decoder(Wou)
APPLICATIONS = msgspec.json.Decoder(tuple[Application, ...])

"""IG's REST rate shield as data: the published budgets, which calls spend which, and the policy.

IG publishes four budgets (labs.ig.com FAQ and API reference; `GET /operations/application`
reports them per API key as `allowanceApplicationOverall`, `allowanceAccountOverall`,
`allowanceAccountTrading` and `allowanceAccountHistoricalData`):

- 60 non-trading requests a minute per application (API key): bucket "app";
- 30 non-trading requests a minute per account: bucket "account";
- 100 trading requests a minute per account: bucket "trading";
- 10,000 historical price points a week per key and account: bucket "history".

A non-trading call costs one unit of "app" and one of "account"; a price-history call also
costs the points it may return in "history". A trading call (create, amend or delete a position
or a working order) costs one unit of "trading" only. Decision: IG's own wording is "non-trading
requests" for the app and account budgets and names trading requests separately, and trading-ig
throttles the two kinds apart; charging trades against the 30/min account budget as well would
cap trading at 30/min for no documented reason. If IG ever answers a trade with
`exceeded-account-allowance`, set `TRADING_ALSO_NON_TRADING = True`.

Each budget is a `limits.Bucket`, sized so that no window of its period ever holds more than
the limit (10 % margin; a 20 % burst), so a caller that waits never draws a 403
`error.public-api.exceeded-*`. Whether a call waits for its slot or fails fast is the caller's
choice (`max_wait_s`): the transport's `HttpClient.send(req, max_wait_s=...)` raises
`RateLimited(code="local")` instead of waiting longer.

The "app" budget belongs to the API key (`scope="key"`): the runtime's `BudgetRegistry` hands
accounts that share a key in one workspace that one `Bucket` object (or see `LIMITS(app=...)`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from spinstream.protocol.limits import Bucket

__all__ = [
    "ACCOUNT",
    "APP",
    "DEFAULT",
    "DEMO_CONSERVATIVE",
    "EXCEEDED",
    "HISTORY",
    "MAX_POINTS_PER_CALL",
    "STREAM_CALLS",
    "TRADING",
    "TRADING_ALSO_NON_TRADING",
    "Budgets",
    "CallKind",
    "LIMITS",
    "call_kind",
    "cost",
    "is_trading",
    "max_wait_s",
    "spent",
]

APP = "app"
ACCOUNT = "account"
TRADING = "trading"
HISTORY = "history"

MINUTE_S = 60.0
WEEK_S = 7 * 24 * 3600.0
MAX_POINTS_PER_CALL = 2_000  # points one price call may book ("history" holds a 5,000 burst)
TRADING_ALSO_NON_TRADING = False  # see the module docstring

# the 403 errorCode IG sends when a budget is spent -> our bucket of that budget
EXCEEDED: dict[str, str] = {
    "error.public-api.exceeded-api-key-allowance": APP,
    "error.public-api.exceeded-account-allowance": ACCOUNT,
    "error.public-api.exceeded-account-trading-allowance": TRADING,
    "error.public-api.exceeded-account-historical-data-allowance": HISTORY,
}


@dataclass(frozen=True, slots=True)
class Budgets:
    """IG's allowances for one API key and account (requests a minute; points a week)."""

    app: int = 60
    account: int = 30
    trading: int = 100
    history_points: int = 10_000


DEFAULT = Budgets()
# trading-ig's maintainers measured 10 non-trading requests a minute on some demo keys
# (unverified by IG); use this, or the key's own figures (`rest.parse_applications`), on demo.
DEMO_CONSERVATIVE = Budgets(app=60, account=10, trading=100, history_points=10_000)


# REST calls an IG stream makes to recover after a restart (login, the positions and working
# orders seeds, a decimals lookup): the share of the non-trading bursts strategy calls leave
# them, so a polling strategy does not make the stream wait ~3 s per call for the refill
STREAM_CALLS = 4


def _reserve(limit: int) -> float:
    """The reserve share of a non-trading bucket of LIMIT a minute (see STREAM_CALLS)."""
    capacity = max(1, int(limit * 0.2))  # Bucket's default burst
    return min(0.8, max(0.2, STREAM_CALLS / capacity))


def LIMITS(  # noqa: N802 - the venue contract names it like a constant
    budgets: Budgets = DEFAULT, *, app: Bucket | None = None
) -> dict[str, Bucket]:
    """Fresh buckets for one IG account, with the scope IG counts each in: "app" per API key
    (the runtime shares it between accounts on one key; `app` passes one in by hand), the
    others per account."""
    return {
        APP: app
        if app is not None
        else Bucket(budgets.app, MINUTE_S, scope="key", reserve=_reserve(budgets.app)),
        ACCOUNT: Bucket(
            budgets.account, MINUTE_S, scope="account", reserve=_reserve(budgets.account)
        ),
        TRADING: Bucket(budgets.trading, MINUTE_S, scope="account"),
        HISTORY: Bucket(budgets.history_points, WEEK_S, burst=0.5, scope="account"),
    }


class CallKind(enum.Enum):
    """How IG counts a REST call."""

    NON_TRADING = "non_trading"
    TRADING = "trading"
    HISTORY = "history"  # non-trading, plus the price points it may return


_TRADING_PREFIXES = ("/positions/otc", "/workingorders/otc")


def is_trading(method: str, path: str) -> bool:
    """True for IG's trading requests: creating, amending or deleting a position or a working
    order (`POST`/`PUT`/`DELETE` under `/positions/otc` or `/workingorders/otc`; a delete sent
    as `POST` + `_method: DELETE` is a trading request too)."""
    if method.upper() == "GET":
        return False
    return any(path == p or path.startswith(p + "/") for p in _TRADING_PREFIXES)


def call_kind(method: str, path: str) -> CallKind:
    """The budget kind of a call (`/prices/...` reads count price points too)."""
    if is_trading(method, path):
        return CallKind.TRADING
    if method.upper() == "GET" and path.startswith("/prices/"):
        return CallKind.HISTORY
    return CallKind.NON_TRADING


def cost(kind: CallKind, points: int = 0) -> dict[str, int]:
    """What one call of KIND takes from each bucket (POINTS: price points it may return).

    Raises:
        ValueError: a history call booking more than `MAX_POINTS_PER_CALL` points, or none.
    """
    if kind is CallKind.TRADING:
        out = {TRADING: 1}
        if TRADING_ALSO_NON_TRADING:
            out.update({APP: 1, ACCOUNT: 1})
        return out
    out = {APP: 1, ACCOUNT: 1}
    if kind is CallKind.HISTORY:
        if not 0 < points <= MAX_POINTS_PER_CALL:
            raise ValueError(
                f"a price call books 1..{MAX_POINTS_PER_CALL} points of the weekly "
                f"allowance, not {points}; page the request"
            )
        out[HISTORY] = points
    return out


def max_wait_s(wait: bool | float) -> float | None:
    """The caller's choice as `HttpClient.send`'s `max_wait_s`: True waits as long as the
    budget needs (None), False fails fast (0: `RateLimited` unless a slot is free now), a
    number waits at most that many seconds."""
    if wait is True:
        return None
    if wait is False:
        return 0.0
    if isinstance(wait, (int, float)) and wait >= 0:
        return float(wait)
    raise ValueError(f"wait must be True, False or seconds >= 0, not {wait!r}")


_WHAT = {
    APP: "non-trading requests a minute per API key",
    ACCOUNT: "non-trading requests a minute per account",
    TRADING: "trading requests a minute per account",
    HISTORY: "price points a week",
}


def spent(buckets: Mapping[str, Bucket], cost: Mapping[str, int], now_ns: int) -> str | None:
    """Which IG budget makes a call of COST wait now, in words (for a fail-fast error), or
    None when the call may go at once. Books nothing."""
    waits = [
        (b.wait_ns(c, now_ns), k, b) for k, c in cost.items() if (b := buckets.get(k)) is not None
    ]
    blocked = [(w, k, b) for w, k, b in waits if w > 0]
    if not blocked:
        return None
    w, k, b = max(blocked)
    return f"IG budget of {b.limit} {_WHAT.get(k, k)} is spent; next slot in {w / 1e9:.1f} s"

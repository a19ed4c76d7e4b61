"""What each fault does to a running simulator (called on the simulators' loop via SimHost.run).

Venue-specific pieces live here: which frame a lost frame or a non-finite value is applied to,
and how IG's PRICE values are corrupted (IG's frames are TLCP lines whose field order depends on
the client's subscription, so the value is changed before the line is built).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["BOOK_FRAME", "TICKER_FRAME", "nonfinite_ticker", "nonfinite_balance", "BAD_VALUES"]

BAD_VALUES = ("NaN", "Infinity", "1e999")

#: a substring of the frames that carry the target's book diffs (lost-frame fault)
BOOK_FRAME: dict[str, str] = {
    "binance-spot": "depthUpdate",
    "binance-usdm": "depthUpdate",
    "bybit-spot": "orderbook.50.",
    "bybit-linear": "orderbook.50.",
    "ig": "U,",
    "okx-spot": '"channel":"books","instId":"BTC-USDT"}',
    "okx-swap": '"channel":"books","instId":"BTC-USDT-SWAP"}',
}
#: a substring of the frames that carry the target's best bid/ask
TICKER_FRAME: dict[str, str] = {
    "binance-spot": "@bookTicker",
    "binance-usdm": "@bookTicker",
    "bybit-spot": "orderbook.1.",
    "bybit-linear": "tickers.",
    "okx-spot": '"channel":"tickers","instId":"BTC-USDT"}',
    "okx-swap": '"channel":"tickers","instId":"BTC-USDT-SWAP"}',
}


def _sub(pattern: str, value: str) -> Callable[[str], str]:
    rx = re.compile(pattern)

    def fn(text: str) -> str:
        return rx.sub(lambda m: m.group(1) + value + m.group(2), text, count=1)

    return fn


def nonfinite_ticker(ex: Any, target: str, epic: str | None = None) -> int:
    """Arm one frame per bad value (NaN, Infinity, 1e999) in the target's best bid; returns how
    many frames were armed. The engine's state is untouched: a read showing them is a violation."""
    if target == "ig":
        bad = list(BAD_VALUES)
        orig = ex._publish

        def publish(item: Any, values: Any, *, distinct: bool = False) -> None:
            if bad and item.kind == "PRICE" and item.epic == epic and values.get("BIDPRICE1"):
                values = dict(values)
                values["BIDPRICE1"] = bad.pop(0)
                ex.faults.mutated += 1
                if not bad:
                    ex.__dict__.pop("_publish", None)
            orig(item, values, distinct=distinct)

        ex._publish = publish
        return len(BAD_VALUES)
    match = TICKER_FRAME[target]
    if target.startswith("binance"):
        pattern = r'("b":")[^"]*(")'
    elif target.startswith("okx"):
        pattern = r'("bidPx":")[^"]*(")'
    elif target == "bybit-spot":
        pattern = r'("b":\[\[")[^"]*(")'
    else:
        pattern = r'("bid1Price":")[^"]*(")'
    n = 0
    for v in BAD_VALUES:
        n += ex.faults.mutate(_sub(pattern, v), match)
    return n


def nonfinite_balance(ex: Any, target: str) -> int:
    """Arm the next private balance frame with a NaN wallet value, then move money so one is
    sent. Returns the number of frames armed (0: no private balance frame on this venue)."""
    from decimal import Decimal

    if target == "binance-spot":
        match, pattern, acct, asset = "outboundAccountPosition", r'("f":")[^"]*(")', "spot", "USDT"
    elif target == "binance-usdm":
        match, pattern, acct, asset = "ACCOUNT_UPDATE", r'("wb":")[^"]*(")', "usdm", "USDT"
    elif target.startswith("bybit"):
        match, pattern, acct, asset = '"wallet"', r'("walletBalance":")[^"]*(")', None, "USDT"
    elif target.startswith("okx"):  # the unified account's `account` push (live environment)
        match, pattern = '"channel":"account"', r'("availBal":")[^"]*(")'
        acct, asset = "live.spot", "USDT"
    else:
        return 0
    n: int = ex.faults.mutate(_sub(pattern, "NaN"), match)
    accounts = ex.engine.accounts
    name = acct if acct in accounts else next(iter(accounts))
    if target == "binance-usdm":
        name = next((a for a in accounts if a != "spot"), name)
    ex.engine.deposit(name, asset, Decimal("1"))
    return n

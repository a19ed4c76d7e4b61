"""The chaos truth compares read quantities in the engine's base units: OKX derivative books are
read in contracts of `ctVal` base units, so the truth scales them by the sim's `ctVal`."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from spinstream.testing.chaos.truth import Truth


def _ex(specs: dict[str, object] | None) -> SimpleNamespace:
    inst = SimpleNamespace(tick_size=Decimal("0.1"), step_size=Decimal("0.0001"))
    engine = SimpleNamespace(instrument=lambda market, symbol: inst)
    ex = SimpleNamespace(venue="okx", engine=engine)
    if specs is not None:
        ex.specs = specs
    return ex


def test_contracts_scaled_by_ct_val() -> None:
    ex = _ex({"BTC-USDT-SWAP": SimpleNamespace(ct_val=Decimal("0.01"))})
    t = Truth(ex, "BTC-USDT-SWAP", "swap")
    assert t._qty(391.96) == 39196  # 391.96 contracts = 3.9196 BTC = 39196 lots of 0.0001


def test_base_units_unscaled() -> None:
    assert Truth(_ex(None), "BTCUSDT", "spot")._qty(3.9196) == 39196
    spot = _ex({"BTC-USDT": SimpleNamespace(ct_val=Decimal(1))})
    assert Truth(spot, "BTC-USDT", "spot")._qty(3.9196) == 39196

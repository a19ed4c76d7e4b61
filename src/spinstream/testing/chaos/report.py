"""The chaos table: fault x venue with detect / recover (min, median, max over repeats),
violations, REST calls, ghosts; and the soak's RSS line."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from spinstream.testing.chaos.trials import TrialResult

__all__ = ["table", "to_json"]


def _spread(xs: list[float]) -> str:
    if not xs:
        return "-"
    if len(xs) == 1:
        return f"{xs[0]:.3f}"
    return f"{min(xs):.3f}/{statistics.median(xs):.3f}/{max(xs):.3f}"


def table(results: Iterable[TrialResult]) -> str:
    """A plain-text table, one row per (fault, venue) over its repeats."""
    groups: dict[tuple[str, str], list[TrialResult]] = defaultdict(list)
    for r in results:
        groups[(r.fault, r.target)].append(r)
    head = (f"{'fault':<19} {'venue':<13} {'n':>2} {'detect s':>20} {'recover s':>20} "
            f"{'viol':>5} {'worst age':>9} {'REST':>5} {'ghost':>5}  result")  # fmt: skip
    lines = [head, "-" * len(head)]
    for (fault, target), rs in groups.items():
        if rs[0].skipped and not rs[0].problems:
            lines.append(f"{fault:<19} {target:<13} {'':>2} {rs[0].skipped}")
            continue
        det = [r.detect_s for r in rs if r.detect_s is not None]
        rec = [r.recover_s for r in rs if r.recover_s is not None]
        worst = max(r.worst_age_s for r in rs)
        ghosts = [r.ghosts for r in rs if r.ghosts is not None]
        problems = sorted({p for r in rs for p in r.problems})
        verdict = "ok" if not problems else "FAIL: " + "; ".join(problems)
        det_s = _spread(det) if det else ("stale<poll" if any(
            r.info.get("detected") for r in rs) else "-")  # fmt: skip
        lines.append(
            f"{fault:<19} {target:<13} {len(rs):>2} {det_s:>20} "
            f"{_spread(rec) if rec else 'never':>20} {sum(r.violations for r in rs):>5} "
            f"{'inf' if math.isinf(worst) else f'{worst:.2f}':>9} "
            f"{sum(r.rest_calls for r in rs):>5} {max(ghosts) if ghosts else '-':>5}  {verdict}"
        )
    return "\n".join(lines)


def to_json(results: Iterable[TrialResult], soak: dict[str, Any] | None = None) -> str:
    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and math.isinf(v) else v

    rows = [{k: clean(v) for k, v in r.__dict__.items()} | {"ok": r.ok} for r in results]
    return json.dumps({"trials": rows, "soak": soak}, indent=1, default=str)

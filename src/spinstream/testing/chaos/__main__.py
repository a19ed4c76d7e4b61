"""`python -m spinstream.testing.chaos [--short] [--venues ...] [--faults ...] [--repeats N]
[--soak-frames N] [--json]`: run the chaos trials and print the table (exit 1 on a failure)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

__all__ = ["run", "parser"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spinstream chaos", description=__doc__)
    p.add_argument("--short", action="store_true", help="the CI form: short stalls, 1 repeat")
    p.add_argument("--venues", default="", help="comma list (default: all): "
                   "binance-spot,binance-usdm,bybit-spot,bybit-linear,ig,"
                   "okx-spot,okx-swap")  # fmt: skip
    p.add_argument("--faults", default="", help="comma list of fault names (default: all)")
    p.add_argument("--repeats", type=int, default=None, help="repeats per trial (long: 3)")
    p.add_argument("--soak-frames", type=int, default=0, help="frames for the soak (0: none)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    return p


def run(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from spinstream.testing.chaos.report import table, to_json
    from spinstream.testing.chaos.soak import soak
    from spinstream.testing.chaos.trials import FAULTS, TARGETS, TrialResult, run_trial
    from spinstream.testing.host import SimHost

    venues = [v for v in args.venues.split(",") if v] or list(TARGETS)
    names = [f for f in args.faults.split(",") if f] or [
        f.name for f in FAULTS.values() if f.short or not args.short
    ]
    unknown = [v for v in venues if v not in TARGETS] + [f for f in names if f not in FAULTS]
    if unknown:
        print(f"unknown venue/fault: {unknown}", file=sys.stderr)
        return 2
    repeats = args.repeats or (1 if args.short else 3)
    results: list[TrialResult] = []
    by_sim: dict[str, list[str]] = {}
    for v in venues:
        by_sim.setdefault(TARGETS[v].sim, []).append(v)
    for sim_name, vs in by_sim.items():
        with SimHost(sim_name, seed=7, tick_interval=0.05) as host:
            for v in vs:
                for name in names:
                    for i in range(repeats if not FAULTS[name].applies(TARGETS[v]) else 1):
                        t0 = time.monotonic()
                        r = run_trial(host, TARGETS[v], FAULTS[name])
                        results.append(r)
                        verdict = "skip" if r.skipped else ("ok" if r.ok else "FAIL")
                        print(f"# {v} {name} #{i + 1}: {verdict} ({time.monotonic() - t0:.1f} s)"
                              f" {'; '.join(r.problems)}", file=sys.stderr, flush=True)  # fmt: skip
    soak_out = soak(args.soak_frames) if args.soak_frames else None
    if args.json:
        print(to_json(results, soak_out))
    else:
        print(table(results))
        if soak_out:
            print(f"\nsoak {soak_out['venue']}: {soak_out['frames']} frames in "
                  f"{soak_out['seconds']} s ({soak_out['frames_per_s']}/s), "
                  f"RSS MB (t s, frames, MB): {soak_out['rss_mb']}")  # fmt: skip
    return 0 if all(r.ok or (r.skipped and not r.problems) for r in results) else 1


if __name__ == "__main__":
    sys.exit(run())

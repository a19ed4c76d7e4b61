"""`spinstream status [--url URL] [--json] [--watch]`: the state of a running `serve`.

A table of workers and connections (or the JSON of `/api/status` with `--json`). The exit code
is a health check: 0 healthy, 1 when a connection is down or an item is stale past the serve's
budget (`stale_budget_s`), 2 when the serve cannot be read. The token (for a serve bound beyond
loopback) comes from `--token` or SPINSTREAM_SERVE_TOKEN.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any, TextIO

from spinstream.serve.security import TOKEN_ENV

__all__ = ["fetch_status", "format_table", "run_status"]

DEFAULT_URL = "http://127.0.0.1:8765"


def fetch_status(url: str, token: str | None, timeout_s: float = 10.0) -> dict[str, Any]:
    """GET URL/api/status (with the token as a Bearer header, if any)."""
    req = urllib.request.Request(url.rstrip("/") + "/api/status")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - the user's URL
        data: dict[str, Any] = json.loads(resp.read().decode())
    return data


def _f(v: Any, fmt: str = "{:.2f}") -> str:
    return "-" if v is None else fmt.format(v)


def format_table(st: dict[str, Any]) -> str:
    """The human view: health, workers, then one line per connection and the stale items."""
    out: list[str] = []
    h = st["health"]
    out.append("health: " + ("OK" if h["ok"] else f"{len(h['problems'])} problem(s)"))
    out += [f"  ! {p}" for p in h["problems"]]
    out.append("")
    out.append(f"{'worker':16} {'mode':8} {'state':9} {'ticks':>8} {'errors':>6}  last exception")
    for w in st["workers"] or []:
        out.append(
            f"{w['name'][:16]:16} {w['mode']:8} {w['state']:9} {w['ticks']:>8} "
            f"{w['errors']:>6}  {(w['crash'] or w['last_error'] or '')[:60]}"
        )
    if not st["workers"]:
        out.append("(no workers)")
    out.append("")
    out.append(
        f"{'account':10} {'connection':34} {'conn':4} {'fresh':6} {'msg/s':>7} {'subs':>4} "
        f"{'age s':>6} {'lag ms':>6} {'recon':>5}  reason"
    )
    for alias, a in st["accounts"].items():
        if not a["started"]:
            out.append(f"{alias:10} (not started)")
            continue
        for c in a["connections"]:
            fresh = c["connected"] and c["live"]
            out.append(
                f"{alias[:10]:10} {c['name'][-34:]:34} {'yes' if c['connected'] else 'NO':4} "
                f"{'yes' if fresh else 'STALE':6} {c['msgs_per_s']:>7.1f} {c['subscriptions']:>4} "
                f"{_f(c['last_frame_age_s']):>6} {c['lag_s'] * 1e3:>6.0f} {c['reconnects']:>5}  "
                f"{c['reason'] or ''}" + (f" ({c['problem']})" if c.get("problem") else "")
            )
        bk = ", ".join(
            f"{n} {b['available']:.0f}/{b['capacity']:.0f}" for n, b in a["buckets"].items()
        )
        out.append(
            f"{'':10} REST calls saved {a['saved']}; REST budget {bk or '-'}; "
            f"stale items {len(a['stale'])}"
        )
        for s in a["stale"][:10]:
            out.append(
                f"{'':10}   stale {s['market']} {s['kind']} {s['symbol'] or ''} "
                f"({s['reason']}, {s['stale_for_s']:.0f} s)"
            )
    return "\n".join(out)


def run_status(
    url: str = DEFAULT_URL,
    as_json: bool = False,
    watch: bool = False,
    token: str | None = None,
    interval_s: float = 2.0,
    out: TextIO | None = None,
) -> int:
    """Print the status once (or every INTERVAL_S with WATCH until interrupted); the exit code
    of the last read: 0 healthy, 1 unhealthy, 2 unreadable."""
    out = out or sys.stdout
    token = token or os.environ.get(TOKEN_ENV) or None
    code = 2
    try:
        while True:
            try:
                st = fetch_status(url, token)
            except urllib.error.HTTPError as exc:
                msg = exc.read().decode(errors="replace")[:200]
                print(f"spinstream status: {url}: HTTP {exc.code} {msg}", file=sys.stderr)
                code = 2
            except (urllib.error.URLError, OSError, ValueError) as exc:
                print(f"spinstream status: cannot read {url}: {exc}", file=sys.stderr)
                code = 2
            else:
                code = 0 if st["health"]["ok"] else 1
                if watch and not as_json:
                    out.write("\x1b[2J\x1b[H")  # clear the screen
                out.write((json.dumps(st, indent=1) if as_json else format_table(st)) + "\n")
                out.flush()
            if not watch:
                return code
            time.sleep(interval_s)
    except KeyboardInterrupt:
        return code

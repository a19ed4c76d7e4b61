"""Where the spinstream client's CPU goes: py-spy collapsed stacks -> a breakdown by area.

`python -m bench.e2e --clients spinstream --profile DIR` records each spinstream run with
`py-spy record -f raw -r 500 --threads` (active samples only); then
`python -m bench.e2e.profile [--thread spinstream-runtime] DIR/spinstream-depth-0.txt` prints
the share of samples per area
(the innermost frame that belongs to a known area: own time, by what the code is) and the
leaf functions with the most samples. Samples before the go (imports, warm-up) are in the
file too: run enough frames that the timed part dominates (200,000 does).
"""

from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

# (area, pattern on "function (file:line)"), first match from the leaf up wins
_P = r"[(/]"  # py-spy prints paths under site-packages/src relative, the stdlib's absolute
AREAS = [
    ("TLS: ssl.SSLObject.read, asyncio sslproto", _P + r"(ssl\.py|asyncio/sslproto\.py)"),
    ("websockets: frame parse, assembler, reader", _P + r"websockets/"),
    ("asyncio event loop, selector, socket", _P + r"(asyncio/|selectors\.py|uvloop)"),
    ("protocol: decode + book sync (protocol/)", _P + r"spinstream/protocol/"),
    ("cache: store + events (cache/)", _P + r"spinstream/cache/"),
    ("runtime: sink, link (runtime.py)", _P + r"spinstream/(runtime|ctx|worker)\.py"),
    ("picows: callbacks, sockets.py queue", _P + r"(picows/|spinstream/transport/sockets\.py)"),
    ("transport/stream.py frame loop", _P + r"spinstream/transport/"),
    ("compiled core / pure twins (_core)", _P + r"spinstream/_core/"),
    ("ctx reads by the polling main thread", _P + r"(e2e/clients\.py|spinstream/models\.py)"),
    ("logging", _P + r"logging/"),
    ("other", r"."),
]
# threads that py-spy counts active while they block in C (pycares' shutdown thread waits
# on a SimpleQueue forever: aiodns, pulled in by cryptofeed, makes aiohttp start it)
IDLE_THREADS = ("_run_safe_shutdown_loop",)
_RX = [(name, re.compile(p)) for name, p in AREAS]


def breakdown(path: Path, top: int = 15, thread: str = "") -> str:
    """Shares of PATH's samples per area and per leaf function (only THREAD's, if given)."""
    areas: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, _, n = line.rpartition(" ")
        count = int(n)
        frames = stack.split(";")
        if any(t in frames[0] for t in IDLE_THREADS) or thread not in frames[0]:
            continue
        total += count
        threads[frames[0]] += count
        leaves[frames[-1]] += count
        for f in reversed(frames[1:]):
            hit = next((name for name, rx in _RX[:-1] if rx.search(f)), None)
            if hit:
                areas[hit] += count
                break
        else:
            areas[AREAS[-1][0]] += count
    out = [f"{path.name}: {total} active samples" + (f" of thread {thread}" if thread else "")]
    out.append("| area (innermost frame's module) | share |")
    out.append("|---|---:|")
    for name, c in areas.most_common():
        out.append(f"| {name} | {100 * c / total:.1f}% |")
    out.append("\nthreads: " + ", ".join(f"{t} {100 * c / total:.0f}%" for t, c in
                                         threads.most_common(4)))  # fmt: skip
    out.append("\n| leaf function | share |")
    out.append("|---|---:|")
    for f, c in leaves.most_common(top):
        f = re.sub(r"/.*/(site-packages|src|lib/python3\.\d+)/", "", f)
        out.append(f"| `{f}` | {100 * c / total:.1f}% |")
    return "\n".join(out)


if __name__ == "__main__":
    args = sys.argv[1:]
    only = ""
    if args[:1] == ["--thread"]:
        only, args = args[1], args[2:]
    for p in args:
        print(breakdown(Path(p), thread=only))
        print()

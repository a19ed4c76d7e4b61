"""The loopback end-to-end benchmark: replay server + each client in its own process, a table.

`python -m bench.e2e` (from the project root; `--quick` for a smoke run, `--help` for the rest).
For each stream and client, `--runs` times: a fresh replay server process (TLS, 127.0.0.1),
then the client process; the client measures its own wall and CPU time over the timed frames
and prints its final state, which is checked here against an independent replay of the
recording (bench.e2e.recording.expected). A run fails (no number) when the client errors, its
final state differs, or it resynced (the server served a depth snapshot or accepted a WebSocket
connection after the timed frames began; the floors count sequence breaks themselves).
Medians over the good runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from bench.e2e import recording

ROOT = recording.ROOT
ALL = ["spinstream", "spinstream-picows", "ccxt", "cryptofeed", "floor-aiohttp", "floor-picows",
       "floor-websockets-msgspec"]  # fmt: skip
NEEDS = {"ccxt": "ccxt", "cryptofeed": "cryptofeed", "floor-picows": "picows",
         "spinstream-picows": "picows"}  # fmt: skip
LABEL = {
    "spinstream": "spinstream (server mode, ctx reads)",
    "spinstream-picows": "spinstream, ws_backend = picows",
    "ccxt": "ccxt.pro",
    "cryptofeed": "cryptofeed",
    "floor-aiohttp": "floor: aiohttp ws + orjson + dict",
    "floor-picows": "floor: picows + orjson + dict",
    "floor-websockets-msgspec": "floor: websockets + msgspec, decode only",
}


def _env(cert: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SSL_CERT_FILE"] = str(cert)  # Python's default SSL context trusts the replay's cert
    env["REQUESTS_CA_BUNDLE"] = str(cert)  # requests (cryptofeed's symbol list)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def _start_server(stream: str, frames: int, warmup: int, d: Path) -> tuple[Any, int]:
    cmd = [sys.executable, "-m", "bench.e2e.server", "--stream", stream, "--frames", str(frames),
           "--warmup", str(warmup), "--dir", str(d)]  # fmt: skip
    p = subprocess.Popen(cmd, cwd=ROOT, env=_env(d / "cert.pem"), stdout=subprocess.PIPE,
                         stderr=None, text=True)  # fmt: skip
    line = p.stdout.readline() if p.stdout else ""
    if not line.startswith("PORT "):
        p.kill()
        raise RuntimeError(f"replay server did not start: {line!r}")
    return p, int(line.split()[1])


def _get(port: int, path: str, cert: Path) -> Any:
    import ssl

    ctx = ssl.create_default_context(cafile=str(cert))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=ctx, timeout=10) as r:
        return json.loads(r.read())


def one_run(
    client: str,
    stream: str,
    frames: int,
    warmup: int,
    timeout: float,
    profile: Path | None = None,
) -> dict[str, Any]:
    """One server + one client process; the client's result with `ok`/`why` and server stats."""
    fs = recording.frames(stream, frames)
    want = recording.expected(stream, frames)
    ready, final = recording.frame_id(stream, fs[warmup - 1]), recording.frame_id(stream, fs[-1])
    if stream == "okx-tickers":  # no id in the frames: clients count them
        ready, final = warmup, frames
    d = Path(tempfile.mkdtemp(prefix="spinstream-e2e-"))
    server, port = _start_server(stream, frames, warmup, d)
    try:
        cmd = [sys.executable, "-m", "bench.e2e.clients", client, "--port", str(port),
               "--stream", stream, "--frames", str(frames), "--warmup", str(warmup),
               "--ready-u", str(ready), "--final-u", str(final),
               "--final-state", json.dumps(want) if stream not in recording.BOOKS else "{}",
               "--timeout", str(timeout)]  # fmt: skip
        env = _env(d / "cert.pem")
        if profile is not None:  # the client attaches py-spy to itself for the timed frames
            env["SPINSTREAM_E2E_PYSPY"] = str(profile)
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=timeout + 30)  # fmt: skip
        lines = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
        res: dict[str, Any] = (
            json.loads(lines[-1][7:])
            if lines
            else {"error": f"no result (exit {p.returncode}): {p.stderr[-800:]}"}
        )
        stats = _get(port, "/_bench/stats", d / "cert.pem")
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(d, ignore_errors=True)
    res["server"] = stats
    why = res.get("error")
    if not why and client != "floor-websockets-msgspec":  # decode only: no state
        why = recording.check(stream, res.get("state"), want)
    if not why and (stats["ws_after_go"] or stats["depth_snapshots"]):
        why = f"resynced: {stats['ws_after_go']} connections, " \
              f"{stats['depth_snapshots']} depth snapshots during the run"  # fmt: skip
    if not why and res.get("resyncs"):
        why = f"resynced {res['resyncs']} times"
    if not why and stats["frames_sent"] != frames:
        why = f"server sent {stats['frames_sent']} frames, not {frames}"
    res["ok"], res["why"] = not why, why
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=200_000, help="frames per stream per client")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--streams", default=",".join(recording.STREAMS))
    ap.add_argument("--clients", default=",".join(ALL))
    ap.add_argument("--quick", action="store_true", help="5,000 frames, 1 run: a smoke test")
    ap.add_argument("--timeout", type=float, default=150.0, help="per client run, s")
    ap.add_argument("--json", type=Path, help="write every run's result here")
    ap.add_argument(
        "--profile",
        type=Path,
        help="py-spy the spinstream client (raw collapsed stacks into this dir)",
    )
    a = ap.parse_args(argv)
    if a.quick:
        a.frames, a.runs = 5_000, 1
    clients = [c for c in a.clients.split(",") if c]
    rows, everything = [], []
    for stream in a.streams.split(","):
        for client in clients:
            if client == "floor-websockets-msgspec" and stream.startswith("okx"):
                continue  # the decode-only floor reads Binance's frames only
            if client in NEEDS and find_spec(NEEDS[client]) is None:
                rows.append((stream, client, None, None, f"not installed ({NEEDS[client]})"))
                continue
            good, bad = [], []
            for i in range(a.runs):
                prof = None
                if a.profile and client.startswith("spinstream"):
                    a.profile.mkdir(parents=True, exist_ok=True)
                    prof = a.profile / f"{client}-{stream}-{i}.txt"
                r = one_run(client, stream, a.frames, a.warmup, a.timeout, prof)
                r.update(client=client, stream=stream, run=i)
                everything.append(r)
                (good if r["ok"] else bad).append(r)
                fps = r["frames"] / r["wall_s"] if r.get("wall_s") else 0
                cpu = 1e6 * r["cpu_s"] / r["frames"] if r.get("cpu_s") else 0
                print(f"  {stream:10} {client:26} run {i}: "
                      + (f"{fps:10,.0f} frames/s {cpu:6.2f} us/frame" if r["ok"] else
                         f"FAILED: {r['why']}"), file=sys.stderr, flush=True)  # fmt: skip
            if good:
                fps = statistics.median(r["frames"] / r["wall_s"] for r in good)
                cpu = statistics.median(1e6 * r["cpu_s"] / r["frames"] for r in good)
                note = f"{len(good)}/{a.runs} runs" + (f"; failed: {bad[0]['why']}" if bad else "")
                rows.append((stream, client, fps, cpu, note))
            else:
                rows.append((stream, client, None, None, f"FAILED: {bad[0]['why']}"))
    print(f"\n{a.frames:,} frames per stream per client, median of {a.runs} run(s); "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs\n")  # fmt: skip
    print("| stream | client | frames/s | client CPU us/frame | runs |")
    print("|---|---|---:|---:|---|")
    floor = {s: c for s, k, f, c, _ in rows if k == "floor-aiohttp" and c}
    for stream, client, fps, cpu, note in rows:
        x = f" ({cpu / floor[stream]:.2f}x floor)" if cpu and floor.get(stream) else ""
        print(
            f"| {stream} | {LABEL[client]} | "
            + (f"{fps:,.0f} | {cpu:.2f}{x}" if fps else "- | -")
            + f" | {note} |"
        )
    if a.json:
        a.json.write_text(json.dumps(everything, indent=1, default=str))
    return 0 if all(r[2] or "not installed" in r[4] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

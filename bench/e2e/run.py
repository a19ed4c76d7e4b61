"""The loopback end-to-end benchmark: replay server + each client in its own process, a table.

`python -m bench.e2e` (from the project root; `--quick` for a smoke run, `--help` for the rest).
For each stream and client, `--runs` times: a fresh replay server process (TLS, 127.0.0.1),
then the client process; the client measures its own wall and CPU time over the timed frames
and prints its final state, which is checked here against an independent replay of the
recording (bench.e2e.recording.expected). A run fails (no number) when the client errors, its
final state differs, or it resynced (the server served a depth snapshot or accepted a WebSocket
connection after the timed frames began; the floors count sequence breaks themselves).
Medians over the good runs.

Scale runs (`--scale 200x1,10x10`, or `--symbols 200` / `--connections 10`; Binance bookTicker
and depth, clients spinstream, spinstream-picows and floor-aiohttp): the server serves the
recording under K symbol names, N // K frames each (so the run moves about as many frames as
the one-symbol run), the client spreads them over C connections in one process; every symbol's
final state is checked against the independent replay, and the client reports its RSS before
subscribing and once every symbol is ready: RSS per book = (ready - before) / K.
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
# (also `spinstream-websockets`: ws_backend forced to websockets, whatever the default is)
ALL = ["spinstream", "spinstream-picows", "ccxt", "cryptofeed", "floor-aiohttp", "floor-picows",
       "floor-websockets-msgspec"]  # fmt: skip
NEEDS = {"ccxt": "ccxt", "cryptofeed": "cryptofeed", "floor-picows": "picows",
         "spinstream-picows": "picows"}  # fmt: skip
SCALE_CLIENTS = ("spinstream", "spinstream-picows", "spinstream-websockets", "floor-aiohttp")
LABEL = {
    "spinstream": "spinstream (server mode, ctx reads; default ws_backend)",
    "spinstream-picows": "spinstream, ws_backend = picows",
    "spinstream-websockets": "spinstream, ws_backend = websockets",
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


def _start_server(
    stream: str, frames: int, warmup: int, d: Path, symbols: int = 1
) -> tuple[Any, int]:
    cmd = [sys.executable, "-m", "bench.e2e.server", "--stream", stream, "--frames", str(frames),
           "--warmup", str(warmup), "--dir", str(d), "--symbols", str(symbols)]  # fmt: skip
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
    symbols: int = 1,
    connections: int = 1,
) -> dict[str, Any]:
    """One server + one client process; the client's result with `ok`/`why` and server stats.

    SYMBOLS > 1 or CONNECTIONS > 1: a scale run (FRAMES // SYMBOLS frames per symbol)."""
    scale = symbols > 1 or connections > 1
    per = frames // symbols  # frames per symbol
    fs = recording.frames(stream, per)
    want = recording.expected(stream, per)
    ready, final = recording.frame_id(stream, fs[warmup - 1]), recording.frame_id(stream, fs[-1])
    if stream == "okx-tickers":  # no id in the frames: clients count them
        ready, final = warmup, frames
    d = Path(tempfile.mkdtemp(prefix="spinstream-e2e-"))
    server, port = _start_server(stream, frames, warmup, d, symbols)
    try:
        cmd = [sys.executable, "-m", "bench.e2e.clients", client, "--port", str(port),
               "--stream", stream, "--frames", str(frames), "--warmup", str(warmup),
               "--ready-u", str(ready), "--final-u", str(final),
               "--final-state", json.dumps(want) if stream not in recording.BOOKS else "{}",
               "--timeout", str(timeout), "--symbols", str(symbols),
               "--connections", str(connections)]  # fmt: skip
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
    if not why and scale:  # every symbol's final state, each against the replay
        got = res.get("state") or {}
        names = recording.scale_symbols(symbols)
        if sorted(got) != sorted(names):
            why = f"final state of {len(got)} symbols, want {len(names)}"
        for sym in names if not why else ():
            if (bad := recording.check(stream, got[sym], want)) is not None:
                why = f"{sym}: {bad}"
                break
        res["state"] = {"symbols": len(got), names[-1]: got.get(names[-1])}  # keep the JSON short
    elif not why and client != "floor-websockets-msgspec":  # decode only: no state
        why = recording.check(stream, res.get("state"), want)
    if not why and (stats["ws_after_go"] or stats["depth_snapshots"]):
        why = f"resynced: {stats['ws_after_go']} connections, " \
              f"{stats['depth_snapshots']} depth snapshots during the run"  # fmt: skip
    if not why and res.get("resyncs"):
        why = f"resynced {res['resyncs']} times"
    if not why and stats["frames_sent"] != per * symbols:
        why = f"server sent {stats['frames_sent']} frames, not {per * symbols}"
    res["ok"], res["why"] = not why, why
    return res


def _scales(a: argparse.Namespace) -> list[tuple[int, int]]:
    """(symbols, connections) configurations to run: `--scale`, else `--symbols/--connections`."""
    if a.scale:
        out = []
        for item in a.scale.split(","):
            k, _, c = item.partition("x")
            out.append((int(k), int(c or 1)))
        return out
    k = a.symbols if a.symbols else max(1, a.connections)
    return [(k, a.connections)]


def _scale_name(k: int, c: int) -> str:
    if (k, c) == (1, 1):
        return "1 symbol"
    return f"{k} symbols, " + ("1 connection" if c == 1 else f"{c} connections")


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
    ap.add_argument("--symbols", type=int, default=0,
                    help="scale: symbols (default 1, or one per connection)")  # fmt: skip
    ap.add_argument("--connections", type=int, default=1, help="scale: connections, 1 process")
    ap.add_argument("--scale", default="",
                    help="several scale runs in one table: e.g. 1x1,200x1,10x10 "
                         "(symbols x connections); the 1x1 rows are the reference")  # fmt: skip
    a = ap.parse_args(argv)
    if a.quick:
        a.frames, a.runs = 5_000, 1
    clients = [c for c in a.clients.split(",") if c]
    scales = _scales(a)
    for k, c in scales:
        if k < 1 or c < 1 or k % c:
            ap.error(f"scale {k}x{c}: symbols must be a positive multiple of connections")
        if a.frames // k <= a.warmup:
            ap.error(f"scale {k}x{c}: {a.frames} frames leave none to time per symbol")
    rows, everything = [], []
    for stream in a.streams.split(","):
        # what to run for this stream: (symbols, connections, client), or a row saying why not
        todo: list[tuple[int, int, str]] = []
        for k, c in scales:
            scaled = (k, c) != (1, 1)
            if scaled and stream not in ("bookTicker", "depth"):
                continue  # scale runs: Binance streams only
            for client in clients:
                if client == "floor-websockets-msgspec" and stream.startswith("okx"):
                    continue  # the decode-only floor reads Binance's frames only
                if scaled and client not in SCALE_CLIENTS:
                    continue
                if client in NEEDS and find_spec(NEEDS[client]) is None:
                    rows.append((stream, k, c, client, None, None, None,
                                 f"not installed ({NEEDS[client]})"))  # fmt: skip
                    continue
                todo.append((k, c, client))
        # runs interleaved (run 0 of every configuration, then run 1, ...): a burst of load from
        # elsewhere on the machine then lands on every configuration alike, not on one of them
        done: dict[tuple[int, int, str], list[dict[str, Any]]] = {t: [] for t in todo}
        for i in range(a.runs):
            for k, c, client in todo:
                scaled = (k, c) != (1, 1)
                # a 200-book depth warm-up waits on the REST weight of 200 snapshots (~2 min)
                timeout = max(a.timeout, 400.0) if scaled else a.timeout
                prof = None
                if a.profile and client.startswith("spinstream"):
                    a.profile.mkdir(parents=True, exist_ok=True)
                    tag = f"-{k}x{c}" if scaled else ""
                    prof = a.profile / f"{client}-{stream}{tag}-{i}.txt"
                r = one_run(client, stream, a.frames, a.warmup, timeout, prof, k, c)
                r.update(client=client, stream=stream, run=i, symbols=k, connections=c)
                everything.append(r)
                done[(k, c, client)].append(r)
                fps = r["frames"] / r["wall_s"] if r.get("wall_s") else 0
                cpu = 1e6 * r["cpu_s"] / r["frames"] if r.get("cpu_s") else 0
                print(f"  {stream:10} {k:>3}x{c:<3} {client:26} run {i}: "
                      + (f"{fps:10,.0f} frames/s {cpu:6.2f} us/frame" if r["ok"] else
                         f"FAILED: {r['why']}"), file=sys.stderr, flush=True)  # fmt: skip
        for (k, c, client), runs in done.items():
            good = [r for r in runs if r["ok"]]
            bad = [r for r in runs if not r["ok"]]
            if good:
                fps = statistics.median(r["frames"] / r["wall_s"] for r in good)
                cpu = statistics.median(1e6 * r["cpu_s"] / r["frames"] for r in good)
                rss = None
                if all(r.get("rss_ready_kb") for r in good):
                    rss = statistics.median(
                        (r["rss_ready_kb"] - r["rss_base_kb"]) / r["books"] for r in good
                    )
                note = f"{len(good)}/{a.runs} runs" + (
                    f"; failed: {bad[0]['why']}" if bad else "")  # fmt: skip
                rows.append((stream, k, c, client, fps, cpu, rss, note))
            else:
                rows.append((stream, k, c, client, None, None, None,
                             f"FAILED: {bad[0]['why']}"))  # fmt: skip
    print(f"\n{a.frames:,} frames per stream per client, median of {a.runs} run(s); "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs\n")  # fmt: skip
    scaled_table = any(sc != (1, 1) for sc in scales)
    if scaled_table:
        print("| stream | scale | client | frames/s | client CPU us/frame | RSS KiB/book | runs |")
        print("|---|---|---|---:|---:|---:|---|")
    else:
        print("| stream | client | frames/s | client CPU us/frame | runs |")
        print("|---|---|---:|---:|---|")
    floor = {(s, k, c): cpu for s, k, c, cl, f, cpu, _, _ in rows if cl == "floor-aiohttp" and cpu}
    one = {(s, cl): (f, cpu) for s, k, c, cl, f, cpu, _, _ in rows if (k, c) == (1, 1) and cpu}
    for stream, k, c, client, fps, cpu, rss, note in rows:
        fl = floor.get((stream, k, c))
        x = f" ({cpu / fl:.2f}x floor)" if cpu and fl else ""
        ref = one.get((stream, client))
        if cpu and ref and (k, c) != (1, 1):  # the scale goal: within 20% of one symbol's
            note += f"; vs 1 symbol: frames/s {fps / ref[0]:.2f}x, CPU {cpu / ref[1]:.2f}x"
        cells = f"{fps:,.0f} | {cpu:.2f}{x}" if fps else "- | -"
        if scaled_table:
            r = "-" if rss is None else f"{rss:,.0f}"
            print(f"| {stream} | {_scale_name(k, c)} | {LABEL[client]} | {cells} | {r} | {note} |")
        else:
            print(f"| {stream} | {LABEL[client]} | {cells} | {note} |")
    if a.json:
        a.json.write_text(json.dumps(everything, indent=1, default=str))
    return 0 if all(r[4] or "not installed" in r[7] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The `spinstream` command line: `demo` (offline), `sim` (serve a simulated venue), `chaos`,
`version`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from spinstream.logfmt import ContextFormatter

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spinstream", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser(
        "demo", help="a strategy on simulated Binance and Bybit (offline): what the cache buys"
    )
    d.add_argument("--seconds", type=float, default=20.0, help="how long to run (default 20)")
    r = sub.add_parser("run", help="run a strategy file against the venues of a config")
    r.add_argument("strategy", help="a .py file defining tick(ctx) (or strategy(ctx))")
    r.add_argument("--config", default="spinstream.toml", help="workspace config (TOML)")
    r.add_argument("--mode", choices=("server", "browser"), default=None, help="default: server")
    r.add_argument("--interval", type=float, default=None, help="seconds between calls")
    r.add_argument("--seconds", type=float, default=None, help="stop after this long")
    sub.add_parser("version", help="print the version and which core is loaded")
    ch = sub.add_parser(
        "chaos", help="run the chaos suite over the simulators (see docs/chaos.md)", add_help=False
    )
    ch.add_argument("chaos_args", nargs=argparse.REMAINDER, help="see `spinstream chaos --help`")
    from spinstream.testing.sims import VENUES

    sm = sub.add_parser(
        "sim",
        help="serve one simulated venue (REST + WS) on 127.0.0.1 until interrupted",
        description="Serve a simulated venue. The first stdout line is one JSON object: "
        '{"venue", "urls": {real base: local base}, "credentials": {"api_key", "api_secret"}}.',
    )
    sm.add_argument("venue", choices=sorted(VENUES), help="which venue")
    sm.add_argument("--port", type=int, default=0, help="TCP port (default: any free port)")
    sm.add_argument("--seed", type=int, default=0, help="price-process seed (default 0)")
    return p


def _run_sim(venue: str, port: int, seed: int) -> int:
    """Serve one simulator until SIGINT/SIGTERM; print its URLs and credentials first."""
    import asyncio
    import json
    import signal

    from spinstream.testing.sims import sim

    async def serve() -> None:
        ex = sim(venue, port=port, seed=seed)
        await ex.start()
        line = {"venue": venue, "urls": ex.urls, "credentials": ex.credentials}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await ex.stop()

    try:
        asyncio.run(serve())
    except KeyError as exc:
        print(f"spinstream sim: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `spinstream` script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "chaos" in argv and all(a in ("-v", "--verbose") for a in argv[: argv.index("chaos")]):
        from spinstream.testing.chaos import main as chaos_main  # its own options and logging

        return chaos_main(argv[argv.index("chaos") + 1 :])
    args = _parser().parse_args(argv)
    quiet = args.cmd == "demo"  # the demo's own status lines are the output
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ContextFormatter())  # `... name [venue=bybit conn=private]: message`
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else (logging.ERROR if quiet else logging.INFO),
        handlers=[handler],
    )
    if args.cmd == "version":
        from spinstream import __version__, _core

        print(f"spinstream {__version__} (compiled core: {_core.EXTENSIONS})")
        return 0
    if args.cmd == "demo":
        from spinstream.demo import run_demo

        return run_demo(seconds=args.seconds)
    if args.cmd == "run":
        from spinstream.runner import run_file

        return run_file(args.strategy, args.config, args.mode, args.interval, args.seconds)
    if args.cmd == "sim":
        return _run_sim(args.venue, args.port, args.seed)
    return 2  # pragma: no cover - argparse rejects unknown commands

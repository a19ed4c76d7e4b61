"""The `spinstream` command line: `demo` (offline), `sim` (serve a simulated venue), `chaos`,
`config` (check a spinstream.toml, print its schema), `serve` (the control page), `status` (of a
running serve), `version`."""

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
    d.add_argument(
        "--serve", action="store_true", help="serve the control page over the simulators instead"
    )
    d.add_argument("--port", type=int, default=8765, help="--serve: the page's port (8765)")
    sv = sub.add_parser("serve", help="the worker control page and its JSON API (see README)")
    sv.add_argument("--config", default="spinstream.toml", help="workspace config (TOML)")
    sv.add_argument("--host", default="127.0.0.1", help="bind address (beyond loopback: token)")
    sv.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    sv.add_argument(
        "--strategies", action="append", metavar="DIR", help="allow strategy files from DIR"
    )
    st = sub.add_parser("status", help="state of a running serve; exit 1 when unhealthy")
    st.add_argument("--url", default="http://127.0.0.1:8765", help="the serve's URL")
    st.add_argument("--json", action="store_true", help="print /api/status as JSON")
    st.add_argument("--watch", action="store_true", help="refresh every 2 s until interrupted")
    st.add_argument("--token", default=None, help="default: $SPINSTREAM_SERVE_TOKEN")
    sub.add_parser("version", help="print the version and which core is loaded")
    cf = sub.add_parser("config", help="check a spinstream.toml, or print its JSON Schema")
    csub = cf.add_subparsers(dest="config_cmd", required=True)
    cc = csub.add_parser(
        "check", help="validate a config file: exit 0 and a summary, or the option's path and why"
    )
    cc.add_argument("file", nargs="?", default="spinstream.toml", help="default: spinstream.toml")
    cc.add_argument(
        "--env", action="store_true", help="also require the environment variables it names"
    )
    csub.add_parser("schema", help="print the JSON Schema of spinstream.toml (for editors)")
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


def _config(cmd: str, file: str, need_env: bool) -> int:
    """`config schema`: print the JSON Schema. `config check FILE`: decode FILE and build its
    workspace (no connection, no secret read unless --env); one summary line, exit 0, or the
    failing option's dotted path and why on stderr, exit 1."""
    import json
    import os

    from spinstream.config import json_schema, read
    from spinstream.errors import ConfigError
    from spinstream.workspace import Workspace

    if cmd == "schema":
        print(json.dumps(json_schema(), indent=2))
        return 0
    try:
        cfg = read(file)
        ws = Workspace.from_config(cfg, secrets=need_env)
    except ConfigError as exc:
        msg = str(exc)
        print(msg if file in msg else f"{file}: {msg}", file=sys.stderr)
        return 1
    unset = sorted({n for v in cfg.venues.values() for n in v.env_vars() if not os.environ.get(n)})
    accounts = ", ".join(f"{a.alias} ({a.venue} {a.env})" for a in ws.accounts.values())
    note = f"; environment variables not set here: {', '.join(unset)}" if unset else ""
    print(f"{file}: valid: {len(ws.accounts)} account(s): {accounts}{note}")
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
    if args.cmd == "demo" and args.serve:
        from spinstream.serve.demo import run_demo_serve

        logging.getLogger().setLevel(logging.INFO)  # the page shows each worker's log lines
        handler.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
        return run_demo_serve(port=args.port)
    if args.cmd == "serve":
        from spinstream.errors import ConfigError
        from spinstream.serve.run import load_serve_config, run_serve

        try:
            cfg = load_serve_config(args.config, args.strategies, args.host, args.port)
        except ConfigError as exc:
            print(f"spinstream serve: {exc}", file=sys.stderr)
            return 2
        return run_serve(cfg)
    if args.cmd == "status":
        from spinstream.serve.status import run_status

        return run_status(args.url, args.json, args.watch, args.token)
    if args.cmd == "demo":
        from spinstream.demo import run_demo

        return run_demo(seconds=args.seconds)
    if args.cmd == "run":
        from spinstream.runner import run_file

        return run_file(args.strategy, args.config, args.mode, args.interval, args.seconds)
    if args.cmd == "sim":
        return _run_sim(args.venue, args.port, args.seed)
    if args.cmd == "config":
        return _config(args.config_cmd, getattr(args, "file", ""), getattr(args, "env", False))
    return 2  # pragma: no cover - argparse rejects unknown commands

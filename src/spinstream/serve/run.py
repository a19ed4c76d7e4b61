"""`spinstream serve --config spinstream.toml`: read the config (its `[serve]` table too) and
serve until interrupted.

```toml
[serve]
strategies = ["./strategies"]   # strategy files are loaded only from these (relative: to the file)
stale_budget_s = 5              # health: an item stale longer than this is a problem
```
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from spinstream.errors import ConfigError
from spinstream.serve.app import ServeConfig, serve_forever
from spinstream.workspace import Workspace

__all__ = ["load_serve_config", "run_serve"]


def load_serve_config(
    config: str, strategies: list[str] | None, host: str, port: int
) -> ServeConfig:
    """The workspace and the `[serve]` settings of CONFIG; `--strategies` dirs add to them.

    Raises:
        ConfigError: a bad config (the `[serve]` table is part of its schema), or an allowed
            strategy directory that does not exist.
    """
    from spinstream.config import read

    p = Path(config)
    cfg = read(p)
    ws = Workspace.from_config(cfg)
    allowed = [(p.parent / d).resolve() for d in cfg.serve.strategies]
    allowed += [Path(d).resolve() for d in strategies or ()]
    for d in allowed:
        if not d.is_dir():
            raise ConfigError(f"strategy directory not found: {d}")
    return ServeConfig(
        ws, allowed, host=host, port=port, stale_budget_s=float(cfg.serve.stale_budget_s)
    )


def run_serve(cfg: ServeConfig) -> int:
    """Serve CFG until SIGINT/SIGTERM; the exit code."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_forever(cfg, stop=stop)

    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"spinstream serve: cannot listen on {cfg.host}:{cfg.port}: {exc}", file=sys.stderr)
        return 2
    return 0

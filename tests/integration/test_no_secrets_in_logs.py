"""No credential reaches any output at DEBUG (issue 9, defect 7), over the simulators.

A workspace with the three private streams (Bybit `auth` frame, Binance spot WS-API user data and
USD-M listenKey stream, IG REST login then a Lightstreamer `create_session` carrying CST/XST) runs
with the root logger and every existing logger at DEBUG, a `spinstream -v`-like handler on stderr,
and captures every record (caplog) and every byte written to fds 1 and 2 (capfd) until the
private streams have authenticated, delivered data, and been closed. No configured secret, no
token the simulator issued, and no 8-character piece of any of them may appear.
"""

from __future__ import annotations

import logging
import secrets
import string
import sys
from collections.abc import Iterator

import pytest

from polling import wait_for
from spinstream.credentials import Credentials
from spinstream.ctx import Context
from spinstream.errors import NotAvailable
from spinstream.logfmt import ContextFormatter
from spinstream.testing.host import SimHost
from spinstream.workspace import AccountConfig, Workspace

PIECE = 8  # any 8 characters of a secret count as a leak
ALNUM = string.ascii_letters + string.digits
EPIC = "CS.D.EURUSD.CFD.IP"


@pytest.fixture(scope="module")
def host() -> Iterator[SimHost]:
    # mixed-case keys as Binance issues them (hex ones would meet hex text in the logs by chance)
    key, secret = ("".join(secrets.choice(ALNUM) for _ in range(64)) for _ in range(2))
    with SimHost(
        "binance", "bybit", "ig", seed=11, tick_interval=0.05, api_key=key, api_secret=secret
    ) as h:
        yield h


def _workspace(host: SimHost, ws_backend: str) -> Workspace:
    accounts = []
    for v in ("binance", "bybit"):
        c = host[v].credentials
        accounts.append(
            AccountConfig(
                alias=v, venue=v, credentials=Credentials.of(c["api_key"], c["api_secret"]),
                urls=host[v].urls, ws_backend=ws_backend,
            )
        )  # fmt: skip
    c = host["ig"].credentials
    accounts.append(
        AccountConfig(
            alias="ig", venue="ig", env="demo", identifier=c["identifier"],
            credentials=Credentials.of(c["api_key"], c["password"]), urls=host["ig"].urls,
            ws_backend=ws_backend,
        )
    )  # fmt: skip
    return Workspace(accounts)


def _secrets(host: SimHost) -> dict[str, str]:
    """Every credential configured, every token and listenKey the simulators issued."""
    out: dict[str, str] = {}
    for v in ("binance", "bybit", "ig"):
        for k, s in host[v].credentials.items():
            if k in ("api_key", "api_secret", "password"):
                out[f"{v} {k}"] = s

    def issued() -> dict[str, str]:
        got: dict[str, str] = {}
        for i, s in enumerate(host["ig"].sessions):
            for k in ("cst", "xst", "access_token", "refresh_token"):
                if getattr(s, k):
                    got[f"ig session {i} {k}"] = getattr(s, k)
        for i, k in enumerate(host["binance"]._listen_keys):
            got[f"binance listenKey {i}"] = k
        return got

    out |= host.run(issued)
    return out


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    found = []
    for name, s in secrets.items():
        assert len(s) >= PIECE, name
        pieces = (s[i : i + PIECE] for i in range(len(s) - PIECE + 1))
        hit = next((p for p in pieces if p in text), None)
        if hit is not None:
            line = next(ln for ln in text.splitlines() if hit in ln)
            found.append(f"{name}: {line[:160]}")
    return found


# the default (auto: picows, no proxy here) and websockets (auto's choice under a proxy)
@pytest.mark.parametrize(
    ("ws_backend", "library"), [("auto", "picows"), ("websockets", "websockets")]
)
def test_no_secret_in_any_output_at_debug(host, caplog, capfd, ws_backend, library) -> None:
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):  # websockets, aiohttp, asyncio, ours ...
        caplog.set_level(logging.DEBUG, logger=name)
    stderr = logging.StreamHandler(sys.stderr)  # what `spinstream -v` prints
    stderr.setLevel(logging.DEBUG)
    stderr.setFormatter(ContextFormatter())  # the CLI's: venue and conn of each record too
    logging.root.addHandler(stderr)
    ws = _workspace(host, ws_backend)
    try:
        ctx = Context(ws)
        ctx.bybit.get_balance(market="linear")
        ctx.binance.get_balance(market="usdm")
        ctx.binance.get_balance()
        ctx.ig.get_accounts()

        def ig_price() -> bool:  # a streamed L1 tick (no REST fallback, so no REST budget)
            try:
                return ctx.ig.get_streaming_market(EPIC) is not None
            except NotAvailable:
                return False

        bybit, binance = ctx.bybit, ctx.binance
        for what, ready in [
            ("bybit private stream", lambda: bybit.get_balance(market="linear").source == "ws"),
            ("binance usdm user stream", lambda: binance.get_balance(market="usdm").source == "ws"),
            ("binance spot user stream", lambda: binance.get_balance().source == "ws"),
            ("ig ACCOUNT item", lambda: ctx.ig.get_accounts()[0].source == "ws"),
            ("ig MARKET item", ig_price),
        ]:
            wait_for(ready, timeout_s=30, what=what)
        secrets = _secrets(host)  # the tokens issued so far
    finally:
        ws.close()
        logging.root.removeHandler(stderr)
    names = " ".join(secrets)
    assert "ig session 0 cst" in names and "ig session 0 xst" in names and "listenKey" in names
    captured = capfd.readouterr()
    records = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.__dict__}" for r in caplog.records
    )
    lib_records = [r for r in caplog.records if r.name == f"spinstream.transport.{library}"]
    assert lib_records, f"nothing logged by {library}: its logs were not captured"
    assert library == "picows" or any(r.levelno == logging.DEBUG for r in lib_records)
    text = "\n".join([caplog.text, records, captured.out, captured.err])
    leaks = _leaks(text, secrets)
    assert not leaks, "secrets in the output:\n" + "\n".join(leaks)

"""OKX v5 simulator: REST, public / private / business WebSockets, live and demo trading.

`OkxSim` serves OKX's v5 API on one aiohttp app over the shared engine (`.._base`):

- Instruments (`GET /api/v5/public/instruments`): SPOT BTC-USDT and ETH-USDT, SWAP
  BTC-USDT-SWAP and ETH-USDT-SWAP (linear, `ctVal` 0.01 BTC / 0.1 ETH) and one quarterly
  FUTURES BTC-USDT-YYMMDD; OPTION lists nothing. Derivative sizes are contracts on the wire,
  base units in the engine. Numbers are strings with trailing zeros stripped, as OKX sends them.
- REST (`routes.py`): market `ticker(s)`, `books` (`sz` 1..400, with the stream's `seqId` so a
  REST snapshot can be stitched to `books` updates), `public/time`; signed `account/balance`,
  `account/positions`, `account/config`, `asset/currencies`, `trade/orders-pending`,
  `trade/order` (GET, POST), `trade/batch-orders`, `trade/cancel-order`,
  `trade/cancel-batch-orders`. Signatures and error codes: `auth.py`; token-bucket limits per
  endpoint per 2 s (`state.RATE_LIMITS`) answer HTTP 429 code 50011.
- WebSocket (`ws.py`): see its docstring.
- Environments: production (`credentials`) and demo trading (`demo_credentials`): REST with
  `x-simulated-trading: 1`, WebSockets on the `wspap` host, which the sim serves under the path
  prefix `/wspap` (`urls` maps `wss://wspap.okx.com:8443` there). Each environment is one unified
  account (spot and derivatives share its coin balances; net position mode, cross margin).
- Faults (`ex.faults`): `drop`/`stall`/`malformed`/`lose`/`mutate`/`noise`/`restart` as every
  sim; `gap()` makes the next `books` update of every subscribed instrument skip a seqId
  (`prevSeqId` ahead of the last `seqId`); `bad_checksum()` corrupts the next `books` checksum;
  `rate_limit(n)` answers the next n REST calls 429/50011; `reject_auth(n)` fails the next n
  signature checks (50113 on REST, 60007 on WS login). `ex.reset_sequence(instId)` makes the
  next update restart the sequence (`seqId < prevSeqId`), as after OKX maintenance.

Simplifications: post-only orders that would take and unfillable FOK orders are accepted and
pushed canceled at once (cancelSource 31 / 14), never booked; no WS order entry (`op: order`);
no borrowing, liquidation or funding; one position mode (net). Unverified details (chosen from
client code where the documentation is silent): `seqId` on the REST `books` answer (OKX's
2026-02 changelog: the REST snapshot + seqId stitching announced in place of the WS
snapshot, which `ws_book_snapshot=False` simulates), the 4004 close code after 30 s of
silence, the WS login error codes 60004-60007/60024, the business-endpoint candle rows.
"""

from __future__ import annotations

from typing import ClassVar

from aiohttp import web

from .routes import OkxRest
from .ws import OkxWs

__all__ = ["OkxSim"]


class OkxSim(OkxRest, OkxWs):
    """OKX v5 (spot, swap, futures; live and demo); see the package docstring."""

    venue: ClassVar[str] = "okx"

    def setup_routes(self, app: web.Application) -> None:
        """REST at the root; WebSockets on the live host (root) and the demo host (/wspap)."""
        self.setup_rest(app)
        self.setup_ws(app)

"""Bybit spot ticker over a flapping link, simulator to ctx over real sockets.

Found by the chaos suite: right after a reconnect one `get_ticker(market="spot")` answer came
back `source="ws"`, fresh, with bid and ask None (built from the `tickers` snapshot before
`orderbook.1` had given the best levels). Here the public connection is dropped 10 times back
to back while a reader polls the spot ticker every 2 ms: every ws answer has both sides, bid <
ask, and the ticker is served from the stream again after each reconnect.

The two snapshots a new subscription gets (`tickers` and `orderbook.1`) arrive back to back, so
the window the chaos suite hit is a few microseconds wide. To make it certain, the simulator
sends one of the two 200 ms late after some of the drops (the `orderbook.1` one, or the
`tickers` one), still over the socket: a one-sided ticker served meanwhile is caught for sure.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from polling import wait_for
from spinstream.ctx import Context
from spinstream.errors import SpinstreamError

DROPS = 10


def test_spot_ticker_has_both_sides_through_ten_drops(host, workspace) -> None:
    ws = workspace("bybit")
    c = Context(ws).bybit
    ex = host["bybit"]
    c.get_ticker("BTCUSDT", market="spot")  # a miss: REST, and the stream subscribes
    wait_for(lambda: c.get_ticker("BTCUSDT", market="spot").source == "ws", what="ws spot ticker")
    conn = ws.runtime.account("bybit").connections[("BybitPublic", "spot")]

    late: dict[str, str | None] = {"topic": None}  # the initial snapshot to send late, if any
    send_initial = ex._send_initial

    def initial(conn: Any, topic: str) -> None:  # on the simulator's loop
        prefix = late["topic"]
        if prefix is not None and topic.startswith(prefix):
            asyncio.get_running_loop().call_later(0.2, send_initial, conn, topic)
        else:
            send_initial(conn, topic)

    host.run(lambda: setattr(ex, "_send_initial", initial))
    stop = threading.Event()
    reads = {"ws": 0, "rest": 0, "errors": 0}
    bad: list[Any] = []
    crashed: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                try:
                    t = c.get_ticker("BTCUSDT", market="spot")
                except SpinstreamError:  # a REST fallback refused (budget, outage): not served
                    reads["errors"] += 1
                else:
                    if t.source == "ws":
                        reads["ws"] += 1
                        if t.bid is None or t.ask is None or not t.bid < t.ask:
                            bad.append(t)
                    else:
                        reads["rest"] += 1
                time.sleep(0.002)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            crashed.append(exc)

    th = threading.Thread(target=reader, name="spot-ticker-reader", daemon=True)
    th.start()
    try:
        for i in range(DROPS):
            late["topic"] = (None, "orderbook.1.", "tickers.")[i % 3]
            n, seen = conn.connects, reads["ws"]
            assert host.run(lambda: ex.faults.drop("public")) >= 1
            wait_for(lambda n=n: conn.connects > n, what=f"reconnect after drop {i + 1}")
            # served from the stream again: the first answers after the reconnect are the risk
            wait_for(lambda s=seen: reads["ws"] > s + 5, what=f"ws answers after drop {i + 1}")
    finally:
        stop.set()
        th.join(timeout=30)
        host.run(lambda: ex.__dict__.pop("_send_initial", None))
    assert not crashed, crashed
    assert not bad, f"{len(bad)} ws answers without both sides, first: {bad[0]}"
    assert conn.connects >= DROPS + 1 and reads["ws"] > 5 * DROPS, reads

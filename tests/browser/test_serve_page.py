"""The control page in headless Chromium: add a worker, switch its mode, deploy and start it
on the simulators, see its ticks grow and its venues go fresh, kill a simulator and see the
venue go stale and come back, stop the worker; a screenshot is kept. And the token rule."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polling import wait_for
from servehelp import Served, strategies_dir, workspace
from spinstream.serve.app import ServeConfig
from spinstream.testing.host import SimHost

pytestmark = pytest.mark.timeout(400)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def host() -> Iterator[SimHost]:
    with SimHost("binance", "bybit", seed=5, tick_interval=0.05) as h:
        yield h


def js(drv: Any, script: str) -> Any:
    return drv.execute_script(script)


def worker_row(drv: Any, name: str) -> dict[str, Any] | None:
    return js(
        drv,
        f"""
        const tr = document.querySelector('#workers tr[data-worker="{name}"]');
        if (!tr) return null;
        return {{state: tr.querySelector('.state').className.replace('state state-', ''),
                 ticks: Number(tr.querySelector('.ticks').textContent),
                 mode: tr.querySelector('.mode').value,
                 error: tr.querySelector('.last-error').textContent}};""",
    )


def conns(drv: Any, account: str) -> list[dict[str, Any]]:
    return js(
        drv,
        f"""
        return [...document.querySelectorAll('[data-account="{account}"] tr[data-conn]')]
          .map(tr => ({{name: tr.dataset.conn, fresh: tr.dataset.fresh === 'true'}}));""",
    )


def click(drv: Any, name: str, button: str) -> None:
    js(drv, f"""document.querySelector('#workers tr[data-worker="{name}"] .{button}').click();""")


def api_worker(served: Served, name: str) -> dict[str, Any]:
    import json
    import urllib.request

    with urllib.request.urlopen(served.url + "api/workers", timeout=30) as r:
        return next(w for w in json.loads(r.read())["workers"] if w["name"] == name)


def test_page_drives_a_worker_on_the_simulators(
    browser: Any, host: SimHost, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from selenium.webdriver.support.ui import Select

    root = tmp_path_factory.mktemp("page")
    served = Served(ServeConfig(workspace(host), [strategies_dir(root)], port=0)).start()
    drv = browser
    try:
        drv.get(served.url)
        wait_for(lambda: js(drv, "return document.querySelector('#live-state').textContent")
                 == "open", 30, "live channel open")  # fmt: skip
        wait_for(lambda: js(drv, "return document.querySelectorAll('#add-path option').length")
                 == 2, 30, "strategy files listed")  # fmt: skip

        # add the worker from the form: strategies/reader.py, 0.1 s, server mode
        Select(drv.find_element("id", "add-path")).select_by_value("strategies/reader.py")
        iv = drv.find_element("id", "add-interval")
        iv.clear()
        iv.send_keys("0.1")
        drv.find_element("id", "add-btn").click()
        row = wait_for(lambda: worker_row(drv, "reader"), 30, "the worker's row")
        assert row["state"] == "stopped" and row["mode"] == "server"

        # a bad interval is refused with a clear message on the page
        iv.clear()
        iv.send_keys("soon")
        drv.find_element("id", "add-name").send_keys("other")
        drv.find_element("id", "add-btn").click()
        wait_for(lambda: "interval must be" in drv.find_element("id", "error").text, 30,
                 "the 400's message shown")  # fmt: skip

        # switch the execution mode: browser, then back to server
        mode = Select(drv.find_element("css selector", '#workers tr[data-worker="reader"] .mode'))
        mode.select_by_value("browser")
        wait_for(lambda: api_worker(served, "reader")["mode"] == "browser", 30, "browser mode")
        mode = Select(drv.find_element("css selector", '#workers tr[data-worker="reader"] .mode'))
        mode.select_by_value("server")
        wait_for(lambda: api_worker(served, "reader")["mode"] == "server", 30, "server mode")

        # deploy and start: ticks grow, every connection of both venues goes fresh
        click(drv, "reader", "deploy")
        wait_for(lambda: (worker_row(drv, "reader") or {}).get("state") == "running", 60, "running")
        t0 = wait_for(lambda: (worker_row(drv, "reader") or {}).get("ticks", 0) > 3 and
                      worker_row(drv, "reader")["ticks"], 60, "ticks")  # fmt: skip
        wait_for(lambda: worker_row(drv, "reader")["ticks"] > t0 + 10, 60, "ticks grow")
        for acct in ("binance", "bybit"):
            wait_for(lambda a=acct: (c := conns(drv, a)) and all(x["fresh"] for x in c), 60,
                     f"{acct} fresh")  # fmt: skip
        wait_for(lambda: js(drv, "return document.querySelector('#health').textContent")
                 == "healthy", 60, "healthy")  # fmt: skip
        wait_for(lambda: js(drv, "return (window.spinstream.last.view || {bars: []}).bars.length")
                 >= 3, 60, "candles drawn")  # fmt: skip
        wait_for(lambda: js(drv, "return document.querySelectorAll('#book tbody tr td').length")
                 > 4, 60, "book rows")  # fmt: skip

        shot = root / "serve.png"
        drv.save_screenshot(str(shot))
        print(f"\nscreenshot: {shot}")
        assert shot.stat().st_size > 10_000

        if os.environ.get("SPINSTREAM_SCREENSHOT_DOCS"):  # the README's picture: 30 bars
            iv.clear()
            iv.send_keys("1")
            drv.find_element("id", "add-name").clear()
            js(drv, "document.querySelector('#error').textContent = ''")
            wait_for(lambda: js(drv, "return window.spinstream.last.view.bars.length") >= 30,
                     90, "30 bars")  # fmt: skip
            drv.save_screenshot(str(ROOT / "docs" / "serve.png"))

        # kill the Binance simulator for 8 s: its connections go stale, then come back fresh
        t = threading.Thread(
            target=host.run, args=(lambda: host["binance"].faults.restart(8.0), 30)
        )
        t.start()
        try:
            wait_for(lambda: any(not x["fresh"] for x in conns(drv, "binance")), 60,
                     "binance stale")  # fmt: skip
            health = "return document.querySelector('#health').textContent"
            wait_for(lambda: "problem" in js(drv, health), 60, "health shows it")
            drv.save_screenshot(str(root / "serve-stale.png"))
        finally:
            t.join(60)
        wait_for(lambda: (c := conns(drv, "binance")) and all(x["fresh"] for x in c), 90,
                 "binance fresh again")  # fmt: skip

        # stop the worker: stopped, no more ticks
        click(drv, "reader", "stop")
        wait_for(lambda: worker_row(drv, "reader")["state"] == "stopped", 60, "stopped")
        n = api_worker(served, "reader")["ticks"]
        import time

        time.sleep(1.0)
        assert api_worker(served, "reader")["ticks"] == n
        logs = drv.find_element("id", "logs").text
        assert "strategy.test" in logs
    finally:
        served.stop()


def test_page_needs_the_token_beyond_loopback(browser: Any, host: SimHost, tmp_path: Path) -> None:
    served = Served(
        ServeConfig(workspace(host), [strategies_dir(tmp_path)], host="0.0.0.0", port=0)
    ).start()
    drv = browser
    try:
        port = served.url.rsplit(":", 1)[1].strip("/")
        base = f"http://127.0.0.1:{port}/"
        drv.delete_all_cookies()
        drv.get(base)
        assert "token required" in drv.page_source
        assert not drv.find_elements("id", "workers")
        drv.get(base + "?token=wrong")
        assert "token required" in drv.page_source
        drv.get(f"{base}?token={served.token}")  # sets the cookie: the page's calls carry it
        wait_for(lambda: js(drv, "return document.querySelector('#live-state').textContent")
                 == "open", 30, "live channel open with the token")  # fmt: skip
        wait_for(lambda: js(drv, "return document.querySelectorAll('#add-path option').length")
                 == 2, 30, "API reachable with the token")  # fmt: skip
        drv.delete_all_cookies()
        drv.get(base + "api/status")
        assert "token required" in drv.page_source
    finally:
        served.stop()

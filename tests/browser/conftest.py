"""Headless Chromium driven by Selenium (Debian's `chromium` + `chromium-driver`).

The driver is /usr/bin/chromedriver, named explicitly so Selenium Manager never tries to
download one (the suite runs offline). Skips, with the reason, when selenium, chromium or
chromedriver is missing: `apt-get install chromium chromium-driver`, `pip install selenium`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("SPINSTREAM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = (
    os.environ.get("SPINSTREAM_CHROMEDRIVER") or shutil.which("chromedriver")
    or "/usr/bin/chromedriver"
)  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (a new one per test module)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium; in the test extras)")
    for path, pkg in ((CHROMIUM, "chromium"), (DRIVER, "chromium-driver")):
        if not os.path.exists(path):
            pytest.skip(f"{path} not found: apt-get install chromium chromium-driver ({pkg})")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never reach the network
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--window-size=1500,1300", "--no-first-run", "--disable-extensions",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ):  # fmt: skip
        opts.add_argument(arg)
    drv = webdriver.Chrome(options=opts, service=Service(executable_path=DRIVER))
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()

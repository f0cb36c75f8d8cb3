"""Shared fixtures: a live app server in a thread and a headless Chromium driven by Selenium.

Browser tests never skip silently: without Chromium they fail with a message that says
how to install it, unless POLYVIZ_ALLOW_NO_BROWSER=1 is set explicitly (never in CI).

Modules are found through pytest's `pythonpath` setting (pyproject.toml), not sys.path edits.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import tempfile
import threading
import time

import pytest
from hypothesis import settings

# The suite's own data directory (filesystem cache, on-disk job store), set before anything
# imports the app: tests never read or write the one `make run` uses, and records cached
# by an earlier run (or older code) are never picked up. Removed when the session ends.
TEST_DATA_DIR = pathlib.Path(tempfile.mkdtemp(prefix="polyviz-test-data-"))
os.environ["POLYVIZ_DATA_DIR"] = str(TEST_DATA_DIR)

# No per-example deadline: speed is measured in benchmarks/, never by a timed test (a slow
# first example on a busy machine failed test_state once with no bug behind it).
# CI runs the same examples every time: a red build is reproducible and never a dice roll.
settings.register_profile("default", deadline=None)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True, database=None,
                          print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "default")


def pytest_unconfigure(config):
    shutil.rmtree(TEST_DATA_DIR, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s: {last}")


@pytest.fixture(scope="session")
def dash_app():
    import app as app_module

    return app_module


@pytest.fixture(scope="session")
def client(dash_app):
    return dash_app.server.test_client()


@pytest.fixture(scope="session")
def live_server(dash_app):
    from werkzeug.serving import make_server

    # Dash's dev tools check every prop the browser receives against its type, so a
    # callback that sends a wrong type fails the browser tests' console check.
    dash_app.app.enable_dev_tools(debug=False, dev_tools_ui=True, dev_tools_props_check=True,
                                  dev_tools_hot_reload=False, dev_tools_serve_dev_bundles=True)
    # POLYVIZ_TEST_PORT: a fixed port (a machine shared by several people may give each a range)
    port = int(os.environ.get("POLYVIZ_TEST_PORT") or free_port())
    httpd = make_server("127.0.0.1", port, dash_app.server, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_for_http(base + "/health")
    yield base
    httpd.shutdown()


def chromium_paths() -> tuple[str | None, str | None]:
    browser = os.environ.get("POLYVIZ_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("POLYVIZ_CHROMEDRIVER") or shutil.which("chromedriver")
    return browser, driver


@pytest.fixture(scope="session")
def browser():
    chrome, driver_path = chromium_paths()
    if not chrome or not driver_path:
        message = ("Chromium and chromedriver are needed for browser tests: "
                   "apt-get install chromium chromium-driver (make test does this).")
        if os.environ.get("POLYVIZ_ALLOW_NO_BROWSER") == "1":
            pytest.skip(message)
        pytest.fail(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1500,1200"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


# Not ours: React development-build notices raised inside Dash's own renderer (a
# deprecation, and a state update during page navigation), and dev tools' version check,
# which cannot reach the internet from here. Prop-type failures are still caught.
IGNORED_CONSOLE = ("favicon", "Support for defaultProps will be removed", "dash-version.plotly.com",
                   "Can't perform a React state update on a component that hasn't mounted yet")


def severe_console_errors(driver) -> list[str]:
    """Console messages at SEVERE level (errors), less the ones above."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and not any(text in entry["message"] for text in IGNORED_CONSOLE)]

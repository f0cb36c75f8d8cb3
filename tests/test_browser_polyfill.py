"""Dash's polyfill URL serves regenerator-runtime alone (services/browser_polyfill.py): the
pages still run Dash's async code (it calls regeneratorRuntime) without core-js."""

from __future__ import annotations

import pytest

from conftest import severe_console_errors
from in_browser import drawn_traces, wait_for
from services import browser_polyfill


def test_dashs_polyfill_urls_serve_regenerator_runtime(client):
    page = client.get("/sphere").get_data(as_text=True)
    tag = next(part for part in page.split('"') if "dash/deps/polyfill@7" in part)  # the page's own URL
    for url in (tag, "/_dash-component-suites/dash/deps/polyfill@7.12.1.min.js"):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "application/javascript", url
        assert response.get_data() == browser_polyfill.RUNTIME.read_bytes(), url
    # other deps are Dash's own
    react = client.get(next(part for part in page.split('"') if "dash/deps/react@18" in part))
    assert b"regeneratorRuntime" not in react.get_data() and len(react.get_data()) > 5000


@pytest.mark.browser
def test_pages_run_on_regenerator_runtime_without_core_js(browser, live_server):
    browser.get(live_server + "/stretch-fold")
    wait_for(browser, lambda d: {"scattergl", "mesh3d"} <= set(drawn_traces(d)["sent"]), timeout=90)
    assert browser.execute_script("return [typeof regeneratorRuntime.mark, typeof setImmediate, "
                                  "typeof window.core]") == ["function", "undefined", "undefined"]
    assert severe_console_errors(browser) == []

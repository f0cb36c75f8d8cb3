"""The browser's plotly.js is a partial bundle (services/plotly_bundle.py): it must be the
plotly package's version, register exactly the trace types polyviz draws, and every figure
the pages send must draw with it. Every page loads it once, from its head, with the page's
own scripts (plotly_bundle.EARLY_ID), not when its first graph mounts."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest
from plotly.basedatatypes import BaseTraceType
from plotly.offline import get_plotlyjs_version

from conftest import severe_console_errors
from in_browser import drawn_traces, wait_for
from services import plotly_bundle

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # browser_util: Playwright on Debian's chromium
PLOTLY_TRACES = {cls().type for cls in (getattr(go, name) for name in dir(go))  # go loads lazily
                 if isinstance(cls, type) and issubclass(cls, BaseTraceType) and cls is not BaseTraceType}


def test_the_bundle_is_the_plotly_packages_version_of_plotly_js():
    # a plotly upgrade without `make plotly-bundle` would mix two versions' figure schemas
    assert plotly_bundle.bundle_version() == get_plotlyjs_version()


def trace_types_in_source() -> dict[str, set[str]]:
    """Every ``type="<a Plotly trace type>"`` keyword and ``"type": "<...>"`` key in the app's
    Python, by file: what the server can send the browser to draw."""
    found: dict[str, set[str]] = {}
    for path in [*ROOT.glob("polyviz/**/*.py"), *ROOT.glob("callbacks/*.py"), *ROOT.glob("layouts/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            values = []
            if isinstance(node, ast.keyword) and node.arg == "type":
                values.append(node.value)
            elif isinstance(node, ast.Dict):
                values += [v for k, v in zip(node.keys, node.values)
                           if isinstance(k, ast.Constant) and k.value == "type"]
            for value in values:
                if isinstance(value, ast.Constant) and value.value in PLOTLY_TRACES:
                    found.setdefault(value.value, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_trace_type_the_app_makes_is_in_the_bundle():
    used = trace_types_in_source()
    assert {"scatter", "scatter3d", "mesh3d", "heatmap"} <= set(used)  # the scan finds the known ones
    missing = {t: files for t, files in used.items() if t not in plotly_bundle.TRACES}
    assert missing == {}, f"add these to services/plotly_bundle/entry.js, then make plotly-bundle: {missing}"


def test_the_graphs_url_serves_the_bundle_not_the_full_plotly(client):
    for url in ("/_dash-component-suites/plotly/package_data/plotly.min.js",
                "/_dash-component-suites/plotly/package_data/plotly.v7_1_0m1700000000.min.js"):
        response = client.get(url, headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200 and response.mimetype == "application/javascript"
        assert response.data == plotly_bundle.BUNDLE.read_bytes()
    other = client.get("/_dash-component-suites/plotly/package_data/plotly.min.js.map")
    assert other.data != plotly_bundle.BUNDLE.read_bytes()


@pytest.mark.browser
@pytest.mark.parametrize("path, expected", [
    ("/stretch-fold", {"scattergl", "mesh3d", "scatter3d"}),
    ("/sphere", {"scatter3d", "mesh3d", "heatmap", "bar"}),
    ("/transformer", {"scattergl", "heatmap", "bar"}),
])  # /train's result figures (contour, surface, histogram): tests/test_browser_train.py
def test_pages_draw_every_trace_with_the_partial_bundle(browser, live_server, path, expected):
    browser.get(live_server + path)
    seen = wait_for(browser, lambda d: (lambda r: r if expected <= set(r["sent"]) else None)(
        drawn_traces(d)), timeout=90)
    assert seen["version"] == get_plotlyjs_version()
    assert set(seen["registered"]) == plotly_bundle.TRACES  # the bundle is built from entry.js as it is
    assert seen["unknown"] == []
    assert severe_console_errors(browser) == []
    # one copy, the head's (a second from dcc.Graph's own loader would be fetched, parsed and
    # run again, and would not draw through assets/app.js)
    assert browser.execute_script(PLOTLY_LOADS) == [{"url": live_server + PLOTLY_URL, "initiator": "script"}]
    assert browser.execute_script("return window.Plotly.__polyviz === true") is True


PLOTLY_URL = plotly_bundle.plotly_url(fingerprinted=True)  # the head's plotly.js
# JavaScript: the page's fetches of plotly.js and what asked for each
PLOTLY_LOADS = """
return performance.getEntriesByType('resource').filter(r => r.name.includes('/plotly/package_data/plotly'))
    .map(r => ({url: r.name, initiator: r.initiatorType}));
"""


def test_every_page_starts_loading_plotly_from_its_head(client):
    for path in ("/", "/stretch-fold", "/sphere", "/train", "/compare", "/transformer"):
        page = client.get(path).get_data(as_text=True)
        head = page.split("</head>", 1)[0]
        assert head.count(f'<script async id="polyviz-plotly" src="{PLOTLY_URL}"></script>') == 1, path
        assert page.count("plotly/package_data/plotly") == 1, path


def test_the_heads_plotly_url_changes_with_the_bundle_and_is_kept_for_a_year(client, monkeypatch, tmp_path):
    assert re.fullmatch(r"/_dash-component-suites/plotly/package_data/plotly\.v\d+_\d+_\d+m\d+\.min\.js", PLOTLY_URL)
    assert plotly_bundle.bundle_version().replace(".", "_") in PLOTLY_URL
    response = client.get(PLOTLY_URL)
    assert response.status_code == 200 and response.data == plotly_bundle.BUNDLE.read_bytes()
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # the number is the bundle's content: the same bytes, the same URL; a rebuild of the same
    # plotly.js version (one byte more), another URL
    same, rebuilt = tmp_path / "same.js", tmp_path / "rebuilt.js"
    same.write_bytes(plotly_bundle.BUNDLE.read_bytes())
    rebuilt.write_bytes(plotly_bundle.BUNDLE.read_bytes() + b"\n")
    monkeypatch.setattr(plotly_bundle, "BUNDLE", same)
    assert plotly_bundle.plotly_url(fingerprinted=True) == PLOTLY_URL
    monkeypatch.setattr(plotly_bundle, "BUNDLE", rebuilt)
    assert plotly_bundle.bundle_version() in PLOTLY_URL.replace("_", ".")
    assert plotly_bundle.plotly_url(fingerprinted=True) != PLOTLY_URL


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_a_page_whose_plotly_fails_to_arrive_asks_again_and_draws(live_server):
    from browser_util import chromium

    asked = []

    def first_fails(route):
        asked.append(route.request.url)
        route.abort() if len(asked) == 1 else route.continue_()

    with chromium() as chrome:
        page = chrome.new_page()
        page.route("**/plotly/package_data/plotly*.js", first_fails)
        page.goto(live_server + "/")
        page.wait_for_function("[...document.querySelectorAll('.js-plotly-plot')]"
                               ".some(gd => gd._fullData && gd.data && gd.data.length)", timeout=60_000)
        assert page.evaluate("window.Plotly.__polyviz") is True
    assert asked == [live_server + PLOTLY_URL] * 2  # the head's copy, then app.js's one more try

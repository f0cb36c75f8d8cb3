"""MathJax (0.5 MB compressed, the largest script after Plotly) is not fetched for a new
visitor before the first figure: a page's formulas are typeset once its first figure has drawn
and its explanation nears the viewport (assets/app.js, layouts/common.py math_markdown; issue 11)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from conftest import severe_console_errors
from in_browser import wait_for

pytestmark = pytest.mark.browser

FETCHED = "return performance.getEntriesByType('resource').some(e => e.name.includes('mathjax'));"
FIGURE_DRAWN = ("return [...document.querySelectorAll('.js-plotly-plot')]"
                ".some(gd => gd.data && gd.data.length > 0 && gd._fullLayout);")


@pytest.mark.parametrize("path, explain", [
    ("/train?preset=spiral", "tr-explain"),
])
def test_formulas_load_mathjax_only_when_scrolled_to(browser, live_server, path, explain):
    browser.get(live_server + path)
    wait_for(browser, lambda d: d.execute_script(FIGURE_DRAWN))
    assert browser.execute_script(FETCHED) is False
    assert browser.find_elements(By.CSS_SELECTOR, f"#{explain} mjx-container") == []
    browser.execute_script(f"document.querySelector('#{explain}').scrollIntoView();")
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"#{explain} mjx-container")) > 2)
    assert browser.execute_script(FETCHED) is True
    assert severe_console_errors(browser) == []


@pytest.mark.parametrize("path, explain", [("/stretch-fold", "sf-explain"), ("/sphere", "sp-explain-text")])
def test_formulas_near_the_top_wait_for_the_first_figure(browser, live_server, path, explain):
    """These explanations are near the viewport on a tall screen: MathJax still waits until a
    figure has drawn (loaded with the page, it was fetched ~1 s before any figure)."""
    import time

    browser.get(live_server + path)
    seen, deadline = [], time.time() + 60
    while time.time() < deadline:
        drawn, fetched = browser.execute_script(f"return [({FIGURE_DRAWN[7:-1]}), ({FETCHED[7:-1]})];")
        seen.append((drawn, fetched))
        if drawn and fetched:
            break
        time.sleep(0.05)
    assert (False, True) not in seen, "MathJax was fetched before any figure was drawn"
    browser.execute_script(f"document.querySelector('#{explain}').scrollIntoView();")
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"#{explain} mjx-container")) > 2)
    assert severe_console_errors(browser) == []

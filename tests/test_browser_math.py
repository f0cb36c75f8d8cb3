"""MathJax (0.5 MB compressed, the largest script after Plotly) is not fetched for a new
visitor before the first figure: a page's lazy formulas are typeset once its first figure has
drawn and its explanation nears the viewport (assets/app.js, layouts/common.py math_markdown;
issue 11). /stretch-fold and /sphere typeset theirs with the page (lazily, MathJax logged errors there)."""

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


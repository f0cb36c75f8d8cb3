"""Helpers of the browser tests (tests/test_browser_*.py): waiting, and reading what the
browser's Plotly holds for a graph."""

from __future__ import annotations

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

# A page that re-renders (Dash replaces a component's DOM node when its callback answers) can
# swap an element between finding it and reading it: that is "not yet", not a failure.
NOT_YET = (NoSuchElementException, StaleElementReferenceException)


def wait_for(driver, condition, timeout: float = 60, poll: float = 0.1):
    """``condition(driver)``'s first truthy value, polled until ``timeout`` seconds."""
    return WebDriverWait(driver, timeout, poll_frequency=poll,
                         ignored_exceptions=NOT_YET).until(lambda d: condition(d))


# JavaScript: `gd`, the Plotly graph div inside the component whose id is arguments[0]
GRAPH_DIV = "const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"


def graph_script(driver, graph_id: str, body: str):
    """Run ``body`` (JavaScript that returns a value) with ``gd`` set to the graph's Plotly div."""
    return driver.execute_script(GRAPH_DIV + body, graph_id)


# JavaScript: the trace types the page's drawn graphs were sent, the ones plotly.js has (a
# partial bundle: services/plotly_bundle.py) and any sent trace it has no module for (Plotly
# hides such a trace instead of drawing it).
DRAWN_TRACES = """
const gds = [...document.querySelectorAll('.js-plotly-plot')].filter(gd => gd._fullData && gd.data);
return {version: window.Plotly ? Plotly.version : null,
        registered: window.Plotly ? Object.keys(Plotly.PlotSchema.get().traces) : [],
        sent: [...new Set(gds.flatMap(gd => gd.data.map(t => t.type || 'scatter')))],
        unknown: gds.flatMap(gd => gd._fullData.filter(t => !t._module).map(t => t.type))};
"""


def drawn_traces(driver) -> dict:
    return driver.execute_script(DRAWN_TRACES)

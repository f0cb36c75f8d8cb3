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


def graphs_with_data(driver, graph_ids) -> bool:
    """Whether each of these graphs has drawn a figure with traces (not dcc.Graph's empty one)."""
    return driver.execute_script(
        "return arguments[0].every((id) => { const gd = document.querySelector('#' + id + ' .js-plotly-plot');"
        " return !!(gd && gd._fullLayout && gd.data && gd.data.length); });", list(graph_ids))


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


# JavaScript (async): the share of pixels that differ between two PNGs (base64), and by how
# many pixels: a pixel differs when a colour channel differs by more than 16 of 255.
PIXEL_DIFFERENCE = """
const done = arguments[arguments.length - 1];
const pixels = async (b64) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + b64;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return ctx.getImageData(0, 0, img.width, img.height).data;
};
Promise.all([pixels(arguments[0]), pixels(arguments[1])]).then(([a, b]) => {
  if (a.length !== b.length) return done({share: 1, count: -1});
  let count = 0;
  for (let i = 0; i < a.length; i += 4) {
    if (Math.abs(a[i] - b[i]) > 16 || Math.abs(a[i + 1] - b[i + 1]) > 16 || Math.abs(a[i + 2] - b[i + 2]) > 16) count++;
  }
  done({share: count / (a.length / 4), count: count});
}).catch((e) => done({share: 1, count: -1, error: String(e)}));
"""


def pixel_difference(driver, png_a: str, png_b: str) -> dict:
    """{share, count}: the pixels that differ between two screenshots (base64 PNGs), decoded
    by the browser itself."""
    return driver.execute_async_script(PIXEL_DIFFERENCE, png_a, png_b)

"""How the browser's plotly.js draws (assets/app.js): WebGL canvases at the screen's pixel
ratio, and a server answer's figures drawn one per task, so the first shows while the others
are still being drawn."""

from __future__ import annotations

import pytest

from in_browser import graphs_with_data, wait_for

pytestmark = pytest.mark.browser

SF_PANELS = ("sf-circle", "sf-curve", "sf-surface", "sf-sphere")

# JavaScript: every WebGL canvas of the page's graphs, drawing-buffer width over CSS width.
GL_SCALES = """
return [...document.querySelectorAll('#' + arguments[0] + ' canvas')]
  .filter(c => c.clientWidth > 0)
  .map(c => c.width / c.clientWidth);
"""


def panels_drawn(driver) -> bool:
    return graphs_with_data(driver, SF_PANELS)


@pytest.fixture
def screen(browser):
    """The browser with a given device pixel ratio; the test's window as it was afterwards."""
    def emulate(ratio: float):
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": 1400, "height": 1000, "deviceScaleFactor": ratio, "mobile": False})
        return browser
    yield emulate
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.parametrize("ratio", [1, 2])
def test_webgl_canvases_have_the_screens_pixels(screen, live_server, ratio):
    driver = screen(ratio)
    driver.get(live_server + "/stretch-fold?op=stretch&t=1&eps=0.01&n=200")
    wait_for(driver, panels_drawn, timeout=90)
    # 2-D WebGL (the circle's point clouds) and 3-D scenes (the sphere) alike
    for panel in ("sf-circle", "sf-sphere"):
        scales = driver.execute_script(GL_SCALES, panel)
        assert scales and all(abs(s - ratio) < 0.02 for s in scales), (panel, scales)


# Before the page loads: each graph's plotly_afterplot events (a figure drawn), with the count
# of animation frames the browser had run by then. Plotly gives a graph div its emit method
# on the first draw; the setter below wraps it as it is given.
COUNT_DRAWS = """
window.__draws = [];
let frames = 0;
(function tick() { frames += 1; requestAnimationFrame(tick); })();
Object.defineProperty(HTMLElement.prototype, 'emit', {
  configurable: true,
  get() { return undefined; },
  set(emit) {
    const gd = this;
    Object.defineProperty(gd, 'emit', {configurable: true, writable: true, value: function (name) {
      if (name === 'plotly_afterplot') {
        const box = gd.parentElement && gd.parentElement.closest('[id]');
        window.__draws.push({id: box ? box.id : '', frames: frames});
      }
      return emit.apply(this, arguments);
    }});
  },
});
"""


def draws_of(browser, url: str, figures: int) -> list[dict]:
    """The page's first ``figures`` finished draws, in the order they finished."""
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_DRAWS})
    try:
        browser.get(url)
        draws = wait_for(browser, lambda d: (lambda r: r if len({x["id"] for x in r}) >= figures else None)(
            d.execute_script("return window.__draws || []")), timeout=90)
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
    first = {}
    for d in draws:  # a graph's first draw (a resize redraws it again)
        first.setdefault(d["id"], d)
    return list(first.values())[:figures]


def test_a_pages_figures_are_drawn_one_per_frame(browser, live_server):
    drawn = draws_of(browser, live_server + "/stretch-fold?op=stretch&t=1&eps=0.01&n=200", 4)
    assert {d["id"] for d in drawn} == set(SF_PANELS)
    # Each figure is finished in a later animation frame than the one before it: the browser
    # could paint the first before the next was drawn (the four came in one server answer).
    frames = [d["frames"] for d in drawn]
    assert all(b > a for a, b in zip(frames, frames[1:])), drawn


def test_2d_figures_are_drawn_before_the_3d_scene_above_them(browser, live_server):
    # /sphere's 3-D scene is its first graph and the slowest to draw: the 2-D figures of the
    # same answer show first
    drawn = draws_of(browser, live_server + "/sphere?dim=3&neurons=12&v_az=30&w_az=160&k=2&kmax=10", 4)
    assert [d["id"] for d in drawn][-1] == "sp-scene", drawn
    assert {d["id"] for d in drawn} == {"sp-scene", "sp-circle", "sp-scaling", "sp-rotation"}

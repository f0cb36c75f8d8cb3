"""The Stretch & fold page in headless Chromium: loads, reacts to t, keeps the URL, no errors."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import severe_console_errors
from in_browser import pixel_difference, wait_for

pytestmark = pytest.mark.browser


def images_of(driver):
    """The image trace's x values as the browser's Plotly holds them."""
    return driver.execute_script(
        "const gd = document.querySelector('#sf-circle .js-plotly-plot');"
        "if (!gd || !gd._fullData || gd._fullData.length < 4) return null;"
        "return Array.from(gd._fullData[3].x).slice(0, 50);"
    )


def title_of(driver):
    return driver.execute_script(
        "const gd = document.querySelector('#sf-circle .js-plotly-plot');"
        "return gd && gd.layout && gd.layout.title ? gd.layout.title.text : null;")



def test_page_loads_and_moving_t_changes_the_figure(browser, live_server):
    browser.get(live_server + "/stretch-fold?op=stretch&t=1&eps=0.01&n=300")
    wait_for(browser, lambda d: images_of(d))
    before = images_of(browser)
    assert "t = 1.00" in title_of(browser)

    # Drag the t handle to the right: the live (in-browser) redraw and the server redraw follow.
    handle = WebDriverWait(browser, 10).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "#sf-t [role='slider']")))
    ActionChains(browser).click_and_hold(handle).move_by_offset(60, 0).pause(0.3).move_by_offset(40, 0).release().perform()
    wait_for(browser, lambda d: images_of(d) != before)
    wait_for(browser, lambda d: "t = 1.00" not in (title_of(d) or ""))
    after = images_of(browser)
    assert max(abs(a - b) for a, b in zip(before, after)) > 0.01

    # The address bar follows the view, so a copied link reopens it.
    wait_for(browser, lambda d: "t=1&" not in d.current_url and "t=" in d.current_url)
    assert "op=stretch" in browser.current_url
    assert severe_console_errors(browser) == []


def test_bad_link_shows_notices_not_an_error(browser, live_server):
    browser.get(live_server + "/stretch-fold?t=abc&eps=-1&n=1000000000&op=nope")
    box = WebDriverWait(browser, 20).until(EC.presence_of_element_located((By.ID, "sf-notices")))
    wait_for(browser, lambda d: "t = 'abc'" in box.text)
    assert "eps = -1 is out of range" in box.text and "10 to 5000" in box.text
    wait_for(browser, lambda d: images_of(d))
    assert severe_console_errors(browser) == []


def test_play_animates_in_the_browser(browser, live_server):
    browser.get(live_server + "/stretch-fold?op=shift&t=0&eps=0.01&n=200")
    wait_for(browser, lambda d: images_of(d))
    first = images_of(browser)
    browser.find_element(By.ID, "sf-play").click()
    wait_for(browser, lambda d: images_of(d) not in (None, first))  # the animation has drawn a new frame
    mid = images_of(browser)
    browser.find_element(By.ID, "sf-play").click()  # pause: the server redraws once
    assert mid != first
    wait_for(browser, lambda d: "t=0&" not in d.current_url)
    assert severe_console_errors(browser) == []


def test_landing_page_links_to_every_part(browser, live_server):
    browser.get(live_server + "/")
    links = WebDriverWait(browser, 20).until(EC.presence_of_all_elements_located((By.CSS_SELECTOR, "a.part-link")))
    hrefs = {link.get_attribute("href").replace(live_server, "") for link in links}
    assert hrefs == {"/stretch-fold", "/sphere", "/train", "/transformer", "/compare?preset=norms"}
    links[0].click()
    wait_for(browser, lambda d: images_of(d))
    assert severe_console_errors(browser) == []


# --- what the browser draws is what the server computes ------------------------------

READ_PANELS = """
const plain = (v) => (v && v.bdata !== undefined) ? {dtype: v.dtype, bdata: v.bdata}
  : (v && v.length !== undefined) ? Array.from(v, (x) => Number.isNaN(x) ? null : x) : v;
const out = {};
for (const [name, id] of Object.entries(arguments[0])) {
  const gd = document.querySelector('#' + id + ' .js-plotly-plot');
  if (!gd || !gd.data || !gd.layout || !gd.layout.meta) return null;
  out[name] = {t: gd.layout.meta.t, title: gd.layout.title && gd.layout.title.text,
               data: gd.data.map((trace) => ({x: plain(trace.x), y: plain(trace.y), z: plain(trace.z)}))};
}
return out;
"""
PANEL_IDS = {"circle": "sf-circle", "curve": "sf-curve", "surface": "sf-surface", "sphere": "sf-sphere"}


def drawn_panels(driver) -> dict | None:
    """Every panel's trace arrays and stamp as its Plotly graph holds them, read at one moment
    (one script: play cannot move on between two panels)."""
    return driver.execute_script(READ_PANELS, PANEL_IDS)


def one_frame(panels, wanted):
    """The panels if they all show one t (a paint is not caught half way) that is wanted."""
    if not panels or len({p["t"] for p in panels.values()}) != 1:
        return None
    return panels if wanted(panels["circle"]["t"]) else None


def assert_drawn_as_server_draws(panels: dict, state: dict) -> None:
    """The t-dependent traces, the stamp and the title of every panel equal the server's
    figure for the same state at the t the panel shows (its float32 numbers, to 1e-9)."""
    import json

    import numpy as np
    import plotly.io as pio

    from polyviz.figures import stretch_fold as figures
    from test_stretch_fold_js import close

    t = panels["circle"]["t"]
    assert all(p["t"] == t for p in panels.values()), {name: p["t"] for name, p in panels.items()}
    server = json.loads(pio.json.to_json_plotly(figures.stretch_fold_specs(t=t, **state)))
    for name, panel in panels.items():
        for index, props in figures.MOVING_TRACES[name].items():
            for prop in props:
                close(panel["data"][index][prop], server[name]["data"][index][prop], 1e-9)
    assert panels["circle"]["title"] == server["circle"]["layout"]["title"]["text"]
    assert np.isfinite(t)


def settled(driver, t=None):
    """The panels once the server's figure for the slider's value has arrived and the
    address bar holds it (None until then)."""
    value = float(driver.find_element(By.CSS_SELECTOR, "#sf-t [role='slider']").get_attribute("aria-valuenow"))
    panels = drawn_panels(driver)
    if not panels or any(p["t"] != value for p in panels.values()) or f"t={value:g}&" not in driver.current_url + "&":
        return None
    return panels if t is None or value != t else None


SF_STATE = dict(op="shift", eps=0.01, n=300, distribution="disc", seed=4)
SF_URL = "/stretch-fold?op=shift&t=-1&eps=0.01&n=300&dist=disc&seed=4"


def test_mid_drag_the_browser_draws_the_servers_figure_and_the_release_is_the_servers(browser, live_server):
    browser.get(live_server + SF_URL)
    wait_for(browser, lambda d: settled(d))
    handle = browser.find_element(By.CSS_SELECTOR, "#sf-t [role='slider']")
    chain = ActionChains(browser)
    chain.click_and_hold(handle).move_by_offset(45, 0).pause(0.2).move_by_offset(30, 0).perform()
    # still held: the repaint is the browser's own, at the t being dragged
    mid = wait_for(browser, lambda d: one_frame(drawn_panels(d), lambda t: t > -1))
    assert_drawn_as_server_draws(mid, SF_STATE)
    ActionChains(browser).release().perform()
    rest = wait_for(browser, lambda d: settled(d))
    assert rest["circle"]["t"] > -1
    assert_drawn_as_server_draws(rest, SF_STATE)
    assert severe_console_errors(browser) == []


def test_play_draws_the_servers_figures_and_pausing_commits_the_shown_t(browser, live_server):
    browser.get(live_server + SF_URL)
    wait_for(browser, lambda d: settled(d))
    browser.find_element(By.ID, "sf-play").click()
    mid = wait_for(browser, lambda d: one_frame(drawn_panels(d), lambda t: t > -0.8))
    assert_drawn_as_server_draws(mid, SF_STATE)
    browser.find_element(By.ID, "sf-play").click()
    assert wait_for(browser, lambda d: "play" in d.find_element(By.ID, "sf-play").text)
    rest = wait_for(browser, lambda d: settled(d))
    assert rest["circle"]["t"] > -0.8  # the t shown at the pause, in the slider and the address bar
    assert_drawn_as_server_draws(rest, SF_STATE)
    assert severe_console_errors(browser) == []


# --- what the browser paints while t moves is the picture Plotly paints of the server's figure

def paint_directly(driver, t: float, graph_ids) -> None:
    """Show t as a drag does (sfLive) and wait until every graph of ``graph_ids`` has been
    repainted for it by the direct path (its "polyviz_painted"), not by Plotly."""
    driver.execute_script(
        "for (const id of arguments[0]) { const gd = document.querySelector('#' + id + ' .js-plotly-plot');"
        " gd.__painted = 0; gd.on('polyviz_painted', () => { gd.__painted++; }); }"
        "window.dash_clientside.polyviz.sfLive(arguments[1]);", list(graph_ids), t)
    wait_for(driver, lambda d: d.execute_script(
        "return arguments[0].every((id) => { const gd = document.querySelector('#' + id + ' .js-plotly-plot');"
        " return gd.__painted > 0 && gd.layout.meta.t === arguments[1]; });", list(graph_ids), t))


def panel_pictures(driver) -> dict:
    return {name: driver.find_element(By.ID, panel).screenshot_as_base64 for name, panel in PANEL_IDS.items()}


def test_the_pixels_painted_while_t_moves_are_plotlys_pixels_of_the_servers_figure(browser, live_server):
    """While t is dragged the WebGL traces are moved without Plotly (assets/direct_draw.js):
    its picture of every panel at t = 1.5 is the one Plotly draws from the server's figure
    when a link opens at t = 1.5, and far from the t = 1 it started from."""
    url = live_server + SF_URL.replace("t=-1", "t={t}")
    browser.get(url.format(t=1))
    wait_for(browser, lambda d: settled(d, t=None))
    start = panel_pictures(browser)
    paint_directly(browser, 1.5, PANEL_IDS.values())
    panels = drawn_panels(browser)
    assert_drawn_as_server_draws(panels, SF_STATE)
    browser.execute_async_script("requestAnimationFrame(() => requestAnimationFrame(arguments[0]))")
    moved = panel_pictures(browser)

    browser.get(url.format(t=1.5))
    wait_for(browser, lambda d: settled(d, t=None) and settled(d)["circle"]["t"] == 1.5)
    browser.execute_async_script("setTimeout(arguments[0], 500)")  # dcc.Graph's resizes after a first draw
    server = panel_pictures(browser)
    for name in PANEL_IDS:
        same, apart = pixel_difference(browser, moved[name], server[name]), pixel_difference(browser, start[name], server[name])
        assert same["share"] < 0.002, (name, same)
        assert apart["count"] > 20 * max(1, same["count"]), (name, same, apart)
    assert severe_console_errors(browser) == []


def test_the_svg_lines_moved_while_t_moves_are_the_paths_plotly_writes(browser, live_server):
    """The segments (circle) and the activation slice (curve) are SVG lines: while t moves,
    assets/direct_draw.js writes their paths itself. Plotly, redrawing the same data, writes
    the same paths, character for character."""
    browser.get(live_server + SF_URL.replace("t=-1", "t=1"))
    wait_for(browser, lambda d: settled(d, t=None))
    # trace 1 of each panel: the second of its SVG traces (trace 0, the reference line, is the first)
    read = ("return ['sf-circle', 'sf-curve'].map((id) => [...document.querySelectorAll("
            "'#' + id + ' .scatterlayer g.trace')[1].querySelectorAll('g.lines > path.js-line')]"
            ".map((p) => p.getAttribute('d')));")
    before = browser.execute_script(read)
    paint_directly(browser, 1.5, ["sf-circle", "sf-curve"])
    direct = browser.execute_script(read)
    browser.execute_async_script(
        "const done = arguments[0];"
        "Promise.all(['sf-circle', 'sf-curve'].map((id) => Plotly.redraw(document.querySelector('#' + id + ' .js-plotly-plot'))))"
        ".then(() => done());")
    assert browser.execute_script(read) == direct
    from polyviz.figures.stretch_fold import CURVE_STEPS

    segments, curve = direct
    assert len(segments) > 100 and all(path.count("L") == 1 for path in segments)  # a path per point -> image
    assert len(curve) == 1 and curve[0].count("L") == CURVE_STEPS - 1  # the slice keeps every point
    assert segments != before[0] and curve != before[1]
    assert severe_console_errors(browser) == []


def test_a_drag_paints_its_first_t_at_once_and_then_only_the_newest_once_per_frame(browser, live_server):
    """direct_draw.framePainter as Stretch & fold uses it: the first t is painted in the call
    that shows it (no wait for the next animation frame); the ts shown after it in the same
    frame are painted once, on the next frame, and only the newest of them."""
    browser.get(live_server + SF_URL.replace("t=-1", "t=1"))
    wait_for(browser, lambda d: settled(d, t=None))
    at_once, later = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const gd = document.querySelector('#sf-circle .js-plotly-plot'), seen = [];"
        "gd.on('polyviz_painted', () => seen.push(gd.layout.meta.t));"
        "const live = window.dash_clientside.polyviz.sfLive;"
        "live(1.5); const atOnce = seen.slice(); live(1.6); live(1.7);"
        "requestAnimationFrame(() => requestAnimationFrame(() => requestAnimationFrame(() => done([atOnce, seen]))));")
    assert at_once == [1.5]
    assert later == [1.5, 1.7]
    assert severe_console_errors(browser) == []

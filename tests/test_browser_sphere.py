"""The sphere page in headless Chromium: loads, reacts to its controls, keeps the URL, no errors."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import severe_console_errors

pytestmark = pytest.mark.browser


def wait_for(driver, condition, timeout=30):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))


def figure_info(driver, graph_id):
    """Title, trace types and the first x of every trace of a graph, as the browser holds them."""
    return driver.execute_script(
        "const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
        "if (!gd || !gd._fullData || !gd._fullData.length) return null;"
        "return {title: gd.layout.title ? gd.layout.title.text : '', meta: gd.layout.meta || null,"
        "        types: gd._fullData.map(t => t.type),"
        "        first: gd._fullData.map(t => (t.x && t.x.length) ? Number(t.x[0]) : null)};",
        graph_id)


def summary(driver):
    return driver.find_element(By.ID, "sp-summary").text


def press(driver, slider_id, *keys):
    handle = WebDriverWait(driver, 10).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f"#{slider_id} [role='slider']")))
    handle.click()
    handle.send_keys(*keys)


def test_neurons_change_redraws_scene_and_count(browser, live_server):
    browser.get(live_server + "/sphere?dim=3&neurons=4&seed=2")
    wait_for(browser, lambda d: figure_info(d, "sp-scene") and "4 neurons" in summary(d))
    before = figure_info(browser, "sp-scene")
    assert before["types"][:2] == ["mesh3d", "scatter3d"] and len(before["types"]) == 11
    assert f"cut into {before['meta']['arcs']} arc" in summary(browser)
    for graph in ("sp-circle", "sp-scaling", "sp-rotation"):
        wait_for(browser, lambda d, g=graph: figure_info(d, g))

    press(browser, "sp-neurons", Keys.END)  # all the way: 64 neurons
    wait_for(browser, lambda d: "64 neurons" in summary(d))
    after = figure_info(browser, "sp-scene")
    assert after["meta"]["arcs"] > before["meta"]["arcs"]
    assert after["title"] != before["title"]
    assert f"cut into {after['meta']['arcs']} arcs" in summary(browser)
    wait_for(browser, lambda d: "neurons=64" in d.current_url)
    assert "seed=2" in browser.current_url and "dim=3" in browser.current_url
    assert severe_console_errors(browser) == []


def test_sphere_view_and_moving_v_patches_the_markers(browser, live_server):
    browser.get(live_server + "/sphere?dim=3&neurons=12")
    wait_for(browser, lambda d: figure_info(d, "sp-scene") and "arcs" in summary(d))
    browser.find_element(By.CSS_SELECTOR, "#sp-dim input[value='4']").click()
    wait_for(browser, lambda d: "regions" in summary(d))
    scene = wait_for(browser, lambda d: (lambda f: f if f and len(f["types"]) == 6 else None)(
        figure_info(d, "sp-scene")))
    assert scene["types"][0] == "mesh3d"
    assert f"into {scene['meta']['regions']:,} regions" in summary(browser)
    assert browser.find_element(By.ID, "sp-v-el-box").is_displayed()
    v_x = scene["first"][4]

    press(browser, "sp-v-az", Keys.PAGE_UP, Keys.PAGE_UP)  # v moves: only its marker traces are patched
    wait_for(browser, lambda d: figure_info(d, "sp-scene")["first"][4] != v_x)
    assert figure_info(browser, "sp-scene")["meta"]["regions"] == scene["meta"]["regions"]
    wait_for(browser, lambda d: "v_az=30&" not in d.current_url and "dim=4" in d.current_url)
    assert severe_console_errors(browser) == []


def test_bad_link_shows_notices_not_an_error(browser, live_server):
    browser.get(live_server + "/sphere?dim=7&neurons=1000&seed=abc&wscale=-1&act=tanh&source=trained")
    box = WebDriverWait(browser, 20).until(EC.presence_of_element_located((By.ID, "sp-notices")))
    wait_for(browser, lambda d: "neurons = 1000 is out of range" in box.text)
    for text in ("dim = 7", "1 to 64", "seed = 'abc'", "wscale = -1", "act = 'tanh'", "source = 'trained'"):
        assert text in box.text, text
    wait_for(browser, lambda d: figure_info(d, "sp-scene") and "64 neurons" in summary(d))
    assert severe_console_errors(browser) == []

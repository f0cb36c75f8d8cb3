"""Your own data on /train in headless Chromium: a CSV chosen in the upload box appears in the
data figure and in the link; a click on the figure adds a point; no console errors."""

from __future__ import annotations

import re

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from conftest import severe_console_errors
from in_browser import wait_for

pytestmark = pytest.mark.browser



def scatter_counts(driver) -> dict:
    """{trace name: point count} of the data figure's scatter traces, as Plotly holds them."""
    return driver.execute_script(
        "const gd = document.querySelector('#tr-data-fig .js-plotly-plot');"
        "if (!gd || !gd._fullData) return {};"
        "const out = {}; for (const t of gd._fullData) if (t.type === 'scatter') out[t.name] = t.x.length;"
        "return out;")


def test_upload_then_click_to_add_a_point(browser, live_server, tmp_path):
    rows = ["height,weight,kind"] + [f"{(-1) ** i * 0.8 + 0.01 * i:.3f},{(-1) ** i * 0.5:.3f},{'ab'[i % 2]}"
                                     for i in range(40)]
    path = tmp_path / "mine.csv"
    path.write_text("\n".join(rows) + "\n")
    browser.get(live_server + "/train")
    wait_for(browser, lambda d: scatter_counts(d).get("class 0"))  # the built-in spiral first
    # dcc.Upload renders its file input once its code has loaded
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tr-upload input[type=file]"))[0].send_keys(str(path))
    wait_for(browser, lambda d: scatter_counts(d) == {"class a": 20, "class b": 20})
    wait_for(browser, lambda d: re.search(r"data=[0-9a-f]{40}", d.current_url))
    first = re.search(r"data=([0-9a-f]{40})", browser.current_url).group(1)
    assert "40 uploaded points, 2 features, 2 classes (a: 20, b: 20)" in browser.find_element(By.ID, "tr-data-info").text
    # a click on an empty part of the canvas adds a point of the chosen class (a)
    canvas = browser.find_element(By.CSS_SELECTOR, "#tr-data-fig .nsewdrag")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    ActionChains(browser).move_to_element_with_offset(canvas, 30, -50).click().perform()
    wait_for(browser, lambda d: scatter_counts(d) == {"class a": 21, "class b": 20})
    wait_for(browser, lambda d: re.search(r"data=([0-9a-f]{40})", d.current_url).group(1) != first)
    assert "press Train" in browser.find_element(By.ID, "tr-hint").text
    # the link reopens the same 41 points
    browser.get(browser.current_url)
    wait_for(browser, lambda d: scatter_counts(d) == {"class a": 21, "class b": 20})
    assert severe_console_errors(browser) == []

"""On a 390 x 844 phone screen in headless Chromium: no page is wider than the screen, the
navbar fits one line and marks the page you are on, and the controls are a sheet at the
bottom that leaves the first figure in view and folds away. On a wide screen the navbar marks
the page too, and the Compare page trains its models and draws them."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from conftest import severe_console_errors
from in_browser import wait_for

pytestmark = pytest.mark.browser

PAGES = ("/stretch-fold", "/sphere", "/train", "/compare", "/transformer")


def active_links(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('.nav-link.active[aria-current=page]')].map(a => a.getAttribute('href'))")


@pytest.fixture
def phone(browser):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    yield browser
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.parametrize("path", PAGES)
def test_a_phone_sees_the_page_within_the_screen_the_navbar_on_one_line_and_a_figure_above_the_controls(
        phone, live_server, path):
    from app import PAGES as APP_PAGES

    if path not in {module.PATH for module, *_ in APP_PAGES}:
        pytest.fail(f"{path} is not a page of the app")
    phone.get(live_server + path)
    wait_for(phone, lambda d: active_links(d) == [path])
    wait_for(phone, lambda d: d.find_elements(By.CSS_SELECTOR, ".sidebar > .sheet-toggle"))
    wait_for(phone, lambda d: d.execute_script("const g = document.querySelector('.page.two-col > :not(.sidebar) .js-plotly-plot');"
                                               "return g && g.getBoundingClientRect().height > 100"), timeout=120)
    # scrolled to its first figure, the page shows it above the controls' sheet, which stays pinned
    geometry = phone.execute_script("""
        const first = document.querySelector('.page.two-col > :not(.sidebar) .js-plotly-plot');
        first.scrollIntoView({block: 'start'}); window.scrollBy(0, -60);
        const nav = document.querySelector('.nav');
        const tops = [...nav.querySelectorAll('.nav-link')].map(a => Math.round(a.getBoundingClientRect().top));
        const sheet = document.querySelector('.page.two-col > .sidebar').getBoundingClientRect();
        const graph = document.querySelector('.page.two-col > :not(.sidebar) .js-plotly-plot');
        return {page: document.documentElement.scrollWidth, navFits: nav.scrollWidth <= nav.clientWidth,
                navRight: nav.getBoundingClientRect().right, lines: new Set(tops).size,
                sheetTop: sheet.top, sheetBottom: sheet.bottom,
                graphTop: graph ? graph.getBoundingClientRect().top : null};
    """)
    assert geometry["page"] <= 390, geometry
    assert geometry["lines"] == 1 and geometry["navFits"] and geometry["navRight"] <= 390, geometry
    assert 840 <= geometry["sheetBottom"] <= 845 and geometry["sheetTop"] >= 844 * 0.5, geometry
    assert 40 <= geometry["graphTop"] < geometry["sheetTop"] - 250, geometry
    toggle = phone.find_element(By.CSS_SELECTOR, ".sidebar > .sheet-toggle")
    # a script's click: the test server's Dash dev-tools button sits over the folded sheet's corner
    phone.execute_script("arguments[0].click()", toggle)
    folded = phone.execute_script("return document.querySelector('.page.two-col > .sidebar').getBoundingClientRect()"
                                  ".height")
    assert folded < 60 and toggle.get_attribute("aria-expanded") == "false"
    phone.execute_script("arguments[0].click()", toggle)
    assert toggle.get_attribute("aria-expanded") == "true"
    assert severe_console_errors(phone) == []


def test_on_a_wide_screen_the_navbar_marks_the_page_and_shows_long_names(browser, live_server):
    browser.get(live_server + "/train")
    wait_for(browser, lambda d: active_links(d) == ["/train"])
    assert browser.find_element(By.ID, "nav-train").text == "Toy classifiers"
    assert not browser.find_element(By.CSS_SELECTOR, ".sidebar > .sheet-toggle").is_displayed()
    browser.find_element(By.ID, "nav-compare").click()
    wait_for(browser, lambda d: active_links(d) == ["/compare"])


def test_compare_trains_every_model_and_draws_them_side_by_side(browser, live_server):
    query = "dataset=moons&n=200&steps=120&seed=5&c_act=relu&a_width=4&b_width=4&c_width=4"
    browser.get(live_server + "/compare?" + query)
    wait_for(browser, lambda d: "Not trained yet: A, B, C" in d.find_element(By.ID, "cmp-hint").text)
    browser.find_element(By.ID, "cmp-train").click()
    counts = ("return ['a','b','c'].map(c => { const g = document.querySelector('#cmp-' + c + '-neurons "
              ".js-plotly-plot'); return g && g.data ? g.data.filter(t => t.type === 'heatmap').length : 0; })")
    wait_for(browser, lambda d: d.execute_script(counts) == [8, 8, 8], timeout=180)
    curves = browser.execute_script("return document.querySelector('#cmp-curves .js-plotly-plot').data"
                                    ".filter(t => t.yaxis === 'y').map(t => t.name.slice(0, 1))")
    assert curves == ["A", "B", "C"]
    wait_for(browser, lambda d: "Trained" in d.find_element(By.ID, "cmp-status").text)
    assert "Not trained yet" not in browser.find_element(By.ID, "cmp-hint").text  # no stale words beside the results
    assert "moons" in browser.current_url and "c_act=relu" in browser.current_url
    # the same link in a fresh load shows the trained models at once
    browser.get(browser.current_url)
    wait_for(browser, lambda d: d.execute_script(counts) == [8, 8, 8])
    assert "trained before" in browser.find_element(By.ID, "cmp-hint").text
    assert severe_console_errors(browser) == []

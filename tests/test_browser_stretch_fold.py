"""The Stretch & fold page in headless Chromium: loads, reacts to t, keeps the URL, no errors."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import severe_console_errors
from in_browser import wait_for

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
    assert {"/stretch-fold", "/sphere", "/train"} <= hrefs
    links[0].click()
    wait_for(browser, lambda d: images_of(d))
    assert severe_console_errors(browser) == []

"""The /transformer page in headless Chromium: choose two tokens by clicking, the great circle
and the distributions redraw, the URL follows, no console errors."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import severe_console_errors
from in_browser import graph_script
from in_browser import wait_for as wait

pytestmark = pytest.mark.browser


def wait_for(driver, condition, timeout=90):
    return wait(driver, condition, timeout, poll=0.2)  # the model loads first


def meta(driver, graph_id):
    return graph_script(
        driver, graph_id,
        "return gd && gd.layout && gd.layout.meta && Object.keys(gd.layout.meta).length ? gd.layout.meta : null;")


def token(driver, index):
    return driver.find_element(By.XPATH, f"//div[@id='tf-tokens']/button[@title[starts-with(., 'token {index}')]]")


def test_click_two_tokens_and_the_views_follow(browser, live_server):
    browser.get(live_server + "/transformer")
    first = wait_for(browser, lambda d: meta(d, "tf-circle"))
    assert (first["a"], first["b"]) == (2, 17)
    wait_for(browser, lambda d: meta(d, "tf-rotation"))
    assert "cat" in token(browser, 2).text

    token(browser, 6).click()  # pick starts at A
    wait_for(browser, lambda d: (meta(d, "tf-circle") or {}).get("a") == 6)
    token(browser, 12).click()  # then B
    circle = wait_for(browser, lambda d: (lambda m: m if m and (m["a"], m["b"]) == (6, 12) else None)(
        meta(d, "tf-circle")))
    assert circle["arc_crossings"] != first["arc_crossings"] or circle["theta_b"] != first["theta_b"]
    words = browser.find_element(By.ID, "tf-circle-text").text
    assert "A = 6: 'mat' and B = 12: 'paris'" in words and f"{circle['arc_crossings']:,} neuron boundaries" in words
    wait_for(browser, lambda d: "a=6&b=12" in d.current_url)
    assert "tf-tok-a" in token(browser, 6).get_attribute("class")

    before = meta(browser, "tf-rotation")
    pairs = browser.find_element(By.ID, "tf-pairs")
    pairs.send_keys(Keys.CONTROL, "a")
    pairs.send_keys("100", Keys.ENTER)
    after = wait_for(browser, lambda d: (lambda m: m if m and m["pairs"] == 100 else None)(meta(d, "tf-rotation")))
    assert before["pairs"] == 703 and after["all_pairs"] == 703
    text = browser.find_element(By.ID, "tf-rotation-text").text
    assert "100 token pairs (a seeded sample of the 703 pairs" in text
    wait_for(browser, lambda d: "pairs=100" in d.current_url)
    assert severe_console_errors(browser) == []


def test_copy_as_python_shows_the_link_s_code(browser, live_server):
    browser.get(live_server + "/transformer?layer=2&a=3&b=9&kmax=5")
    wait_for(browser, lambda d: (meta(d, "tf-circle") or {}).get("a") == 3)
    assert browser.find_element(By.ID, "tf-python-copy").is_displayed()
    browser.find_element(By.CSS_SELECTOR, ".python-details summary").click()
    text = wait_for(browser, lambda d: (lambda t: t if "transformer_figures" in t else None)(
        d.find_element(By.ID, "tf-python-code").text))
    assert "model=minilm&layer=2&" in text and "&a=3&b=9&" in text and "&kmax=5&" in text
    assert "model = tf.load(state.model)" in text
    token(browser, 6).click()  # A follows the click, and so does the code
    wait_for(browser, lambda d: "&a=6&b=9&" in d.find_element(By.ID, "tf-python-code").text)
    assert severe_console_errors(browser) == []

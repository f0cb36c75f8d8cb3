"""An export row in headless Chromium: pressing "Data (.csv)" on /stretch-fold downloads the
CSV of the chosen figure, made on the server for the view the address bar shows."""

from __future__ import annotations

import csv
import io

import pytest
from selenium.webdriver.common.by import By

from conftest import severe_console_errors
from in_browser import graph_script, wait_for

pytestmark = pytest.mark.browser


def images_drawn(driver):
    return graph_script(driver, "sf-circle", "return gd && gd._fullData && gd._fullData.length >= 4;")


def test_the_data_button_downloads_the_figure_s_csv(browser, live_server, tmp_path):
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get(live_server + "/stretch-fold?op=shift&t=2&eps=0.01&n=200")
    wait_for(browser, images_drawn)
    browser.find_element(By.ID, "sf-export-data").click()
    name = "polyviz-stretch-fold-shift-t2-eps0.01-circle200-circle.csv"
    path = tmp_path / name
    wait_for(browser, lambda d: path.exists() and not list(tmp_path.glob("*.crdownload")))
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert len(rows) == 200 and list(rows[0]) == ["point", "input_x", "input_y", "output_x", "output_y"]
    # the image of (1, 0) under u_eps(x + 2, y): 3 / sqrt(9 + 0.01)
    assert float(rows[0]["output_x"]) == pytest.approx(3 / (9.01 ** 0.5), rel=1e-7)
    assert browser.find_element(By.ID, "sf-export-status").text == ""
    assert severe_console_errors(browser) == []

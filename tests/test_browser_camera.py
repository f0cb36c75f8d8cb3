"""The 3-D camera is part of the link (issue 12), in headless Chromium: a link's camera is
the one Plotly draws; turning a figure (Plotly.relayout, or a real drag of the mouse) writes
its camera into the address bar without any server callback or redraw; the turned view
survives the page's own in-browser repaints; and the address bar reopens the same view."""

from __future__ import annotations

import math
import time
from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from conftest import severe_console_errors
from in_browser import graph_script, wait_for

pytestmark = pytest.mark.browser

# What a graph's Plotly holds: the camera of its layout (what the figure says) and the camera
# its WebGL scene draws with (what the user sees), or null while the scene is not drawn yet.
READ_CAMERA = """
if (!gd || !gd._fullLayout || !gd._fullLayout.scene || !gd._fullLayout.scene._scene) return null;
const said = gd.layout.scene && gd.layout.scene.camera;
const drawn = gd._fullLayout.scene._scene.getCamera();
return {said: said ? {eye: said.eye, center: said.center || null} : null, drawn: {eye: drawn.eye, center: drawn.center}};
"""

# A count of the callback requests the page sends from now on, and a mark on each 3-D graph's
# data: a figure the server sent again would replace gd.data (Plotly.react of a new figure).
WATCH = """
if (!window.__posts) {
  window.__posts = {n: 0};
  const fetch0 = window.fetch;
  window.fetch = function (resource) {
    const url = typeof resource === "string" ? resource : (resource && resource.url) || "";
    if (url.indexOf("_dash-update-component") >= 0) window.__posts.n += 1;
    return fetch0.apply(this, arguments);
  };
}
window.__posts.n = 0;
window.__data = {};
for (const id of arguments[0]) {
  window.__data[id] = document.querySelector('#' + id + ' .js-plotly-plot').data;
}
"""
UNTOUCHED = """
return {posts: window.__posts.n,
        same: arguments[0].every(id => document.querySelector('#' + id + ' .js-plotly-plot').data === window.__data[id])};
"""


def camera(driver, graph_id):
    return graph_script(driver, graph_id, READ_CAMERA)


def query_of(driver) -> dict:
    return {key: values[-1] for key, values in parse_qs(urlparse(driver.current_url).query).items()}


def numbers(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def xyz(point) -> list[float]:
    return [point["x"], point["y"], point["z"]]


def close(a, b, tol=1e-6) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b))


def quiet_since_watch(driver, graph_ids) -> dict:
    """After a last look a second later (a server callback the change set off would have
    sent its request by then): the requests sent and whether the figures' data is the same."""
    time.sleep(1.0)
    return driver.execute_script(UNTOUCHED, list(graph_ids))


SF = "/stretch-fold?op=shift&t=1.5&eps=0.01&n=200"
SF_GRAPHS = ("sf-surface", "sf-sphere")


def test_a_links_camera_is_drawn_and_turning_writes_only_the_address_bar(browser, live_server):
    browser.get(live_server + SF + "&surface_cam=0.3,-2,0.5")
    seen = wait_for(browser, lambda d: camera(d, "sf-surface"))
    assert close(xyz(seen["said"]["eye"]), [0.3, -2.0, 0.5])
    assert close(xyz(seen["drawn"]["eye"]), [0.3, -2.0, 0.5], 1e-4)  # what the user sees
    sphere = wait_for(browser, lambda d: camera(d, "sf-sphere"))
    assert close(xyz(sphere["said"]["eye"]), [1.35, 1.35, 0.8])  # no camera in the link: the figure's own
    wait_for(browser, lambda d: query_of(d).get("surface_cam") == "0.3,-2,0.5")
    assert "sphere_cam" not in query_of(browser)

    browser.execute_script(WATCH, list(SF_GRAPHS))
    graph_script(browser, "sf-surface", "Plotly.relayout(gd, {'scene.camera': {eye: {x: -1.7, y: 0.9, z: 1.1}, "
                                        "center: {x: 0, y: 0, z: 0}, up: {x: 0, y: 0, z: 1}}}); return true;")
    wait_for(browser, lambda d: query_of(d).get("surface_cam") == "-1.7,0.9,1.1")
    query = query_of(browser)
    assert (query["op"], query["t"], query["n"]) == ("shift", "1.5", "200") and "sphere_cam" not in query
    assert quiet_since_watch(browser, SF_GRAPHS) == {"posts": 0, "same": True}

    # a pan moves the centre: six numbers
    graph_script(browser, "sf-sphere", "Plotly.relayout(gd, {'scene.camera.center': {x: 0.1, y: 0, z: -0.2}, "
                                       "'scene.camera.eye': {x: 1.2, y: 1.3, z: 0.7}}); return true;")
    wait_for(browser, lambda d: query_of(d).get("sphere_cam") == "1.2,1.3,0.7,0.1,0,-0.2")
    assert query_of(browser)["surface_cam"] == "-1.7,0.9,1.1"
    assert quiet_since_watch(browser, SF_GRAPHS) == {"posts": 0, "same": True}

    # the address bar reopens the same view
    browser.get(browser.current_url)
    again = wait_for(browser, lambda d: camera(d, "sf-surface"))
    assert close(xyz(again["drawn"]["eye"]), [-1.7, 0.9, 1.1], 1e-4)
    again = wait_for(browser, lambda d: camera(d, "sf-sphere"))
    assert close(xyz(again["drawn"]["eye"]), [1.2, 1.3, 0.7], 1e-4)
    assert close(xyz(again["drawn"]["center"]), [0.1, 0.0, -0.2], 1e-4)
    assert severe_console_errors(browser) == []


def drag_scene(driver, graph_id, dx=100, dy=25):
    """A real drag of the mouse across a 3-D graph's scene (Plotly's turntable rotation)."""
    canvas = driver.find_element(By.CSS_SELECTOR, f"#{graph_id} .gl-container canvas")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    ActionChains(driver).move_to_element(canvas).click_and_hold().move_by_offset(dx // 2, dy // 2).pause(0.2) \
        .move_by_offset(dx - dx // 2, dy - dy // 2).pause(0.2).release().perform()


def test_the_turned_view_survives_the_pages_own_repaints(browser, live_server):
    """Dragging t repaints the 3-D panels in the browser (Plotly.update) and its release
    sends the server's Patch (Plotly.react): neither turns a camera back, whether the mouse
    turned it or Plotly.relayout did."""
    browser.get(live_server + SF)
    wait_for(browser, lambda d: camera(d, "sf-surface") and camera(d, "sf-sphere"))
    wait_for(browser, lambda d: query_of(d).get("t") == "1.5")
    drag_scene(browser, "sf-surface")
    surface_cam = wait_for(browser, lambda d: query_of(d).get("surface_cam"))
    graph_script(browser, "sf-sphere", "Plotly.relayout(gd, {'scene.camera.eye': {x: 0.2, y: -2.2, z: 0.4}}); "
                                       "return true;")
    wait_for(browser, lambda d: query_of(d).get("sphere_cam") == "0.2,-2.2,0.4")
    handle = browser.find_element(By.CSS_SELECTOR, "#sf-t [role='slider']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
    ActionChains(browser).click_and_hold(handle).move_by_offset(60, 0).pause(0.3).move_by_offset(40, 0).release().perform()
    wait_for(browser, lambda d: query_of(d).get("t") not in (None, "1.5"))
    wait_for(browser, lambda d: graph_script(d, "sf-surface", f"return gd.layout.meta.t == {query_of(d)['t']};"))
    for graph_id, eye in (("sf-surface", numbers(surface_cam)[:3]), ("sf-sphere", [0.2, -2.2, 0.4])):
        seen = camera(browser, graph_id)
        assert close(xyz(seen["drawn"]["eye"]), eye, 1e-3), graph_id
    query = query_of(browser)
    assert (query["surface_cam"], query["sphere_cam"]) == (surface_cam, "0.2,-2.2,0.4")
    assert severe_console_errors(browser) == []


def test_dragging_the_sphere_scene_with_the_mouse_puts_its_camera_in_the_link(browser, live_server):
    browser.get(live_server + "/sphere?dim=3&neurons=8")
    before = wait_for(browser, lambda d: camera(d, "sp-scene"))
    wait_for(browser, lambda d: query_of(d).get("neurons") == "8")
    assert "cam" not in query_of(browser)
    browser.execute_script(WATCH, ["sp-scene"])
    drag_scene(browser, "sp-scene")
    cam = wait_for(browser, lambda d: query_of(d).get("cam"))
    after = camera(browser, "sp-scene")
    assert not close(xyz(after["drawn"]["eye"]), xyz(before["drawn"]["eye"]), 0.05)  # the drag turned it
    # the link holds the camera Plotly has, to the thousandth
    assert close(numbers(cam)[:3], xyz(after["said"]["eye"]), 0.0005 + 1e-9)
    assert quiet_since_watch(browser, ["sp-scene"]) == {"posts": 0, "same": True}

    browser.get(browser.current_url)  # the shared link
    reopened = wait_for(browser, lambda d: camera(d, "sp-scene"))
    assert close(xyz(reopened["drawn"]["eye"]), numbers(cam)[:3], 1e-4)
    assert math.dist(xyz(reopened["drawn"]["eye"]), xyz(after["drawn"]["eye"])) < 0.002
    assert query_of(browser)["cam"] == cam
    assert severe_console_errors(browser) == []


def test_the_train_animation_keeps_its_linked_camera_through_play(browser, live_server):
    """A trained run opened by a link with ``animation_cam``: the animation is seen from it,
    playing its frames (Plotly.animate) does not turn it, and a drag puts the new camera in
    the address bar with no server callback."""
    from polyviz import state as st
    from polyviz.pages.train import TrainState
    from services import jobs

    state = st.validate(TrainState, dict(dataset="spiral", n=300, steps=60, seed=2))[0]
    jobs.run_job(jobs.new_job(state, "train"), jobs.TRAIN, None)  # cached: the page shows it at once
    browser.get(live_server + "/train?" + st.to_query(state) + "&animation_cam=-0.6,2,0.9")
    seen = wait_for(browser, lambda d: graph_script(d, "tr-animation", "return gd && gd._transitionData && "
                                                    "gd._transitionData._frames.length > 0;") and camera(d, "tr-animation"))
    assert close(xyz(seen["drawn"]["eye"]), [-0.6, 2.0, 0.9], 1e-4)
    wait_for(browser, lambda d: query_of(d).get("animation_cam") == "-0.6,2,0.9" and query_of(d).get("seed") == "2")

    last = graph_script(browser, "tr-animation", "return gd.layout.meta.n_frames - 1;")
    graph_script(browser, "tr-animation", f"Plotly.animate(gd, ['{last}'], {{frame: {{duration: 0, redraw: true}}, "
                                          "transition: {duration: 0}, mode: 'immediate'}); return true;")
    wait_for(browser, lambda d: graph_script(d, "tr-animation", "return !gd._transitionData._animationRaf && "
                                             "gd._transitionData._frameQueue.length === 0;"))
    assert close(xyz(camera(browser, "tr-animation")["drawn"]["eye"]), [-0.6, 2.0, 0.9], 1e-4)

    browser.execute_script(WATCH, ["tr-animation"])
    drag_scene(browser, "tr-animation")
    wait_for(browser, lambda d: query_of(d).get("animation_cam") not in (None, "-0.6,2,0.9"))
    cam = query_of(browser)["animation_cam"]
    assert close(numbers(cam)[:3], xyz(camera(browser, "tr-animation")["said"]["eye"]), 0.0005 + 1e-9)
    assert quiet_since_watch(browser, ["tr-animation"]) == {"posts": 0, "same": True}
    assert severe_console_errors(browser) == []

"""The Toy classifiers page in headless Chromium: Train runs a real background job (Dash's
DiskcacheManager, a separate process), progress and curves appear, the animation plays,
Cancel stops a run, a sweep seed opens its run; no console errors."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import severe_console_errors
from in_browser import drawn_traces, graph_script, pixel_difference, wait_for

pytestmark = pytest.mark.browser



def figure_info(driver, graph_id):
    """What the browser's Plotly holds for a graph: title, trace count, frame count, first x values."""
    return graph_script(
        driver, graph_id,
        "if (!gd || !gd._fullData || !gd._fullLayout) return null;"
        "const t = gd._fullLayout.title;"
        "const first = gd._fullData.length ? gd._fullData[0].x : null;"
        "return {title: t && t.text, traces: gd._fullData.length,"
        "        frames: gd._transitionData ? gd._transitionData._frames.length : 0,"
        "        x: first ? Array.from(first).slice(0, 30) : null};")


def text_of(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def forget_run(query: dict):
    from polyviz import state as st
    from polyviz.pages.train import TrainState
    from services import cache, run_store

    state, _ = st.validate(TrainState, query)
    cache.cache.delete(run_store.run_key(state.training_fields()))
    return state


def test_train_the_spiral_preset_and_play_the_animation(browser, live_server):
    from polyviz.pages.train import PRESETS

    forget_run(PRESETS["spiral"]["values"])
    browser.get(live_server + "/train?preset=spiral")
    button = WebDriverWait(browser, 30).until(EC.element_to_be_clickable((By.ID, "tr-train")))
    wait_for(browser, lambda d: "press Train" in text_of(d, "tr-hint"))
    wait_for(browser, lambda d: "dataset=spiral" in d.current_url and "seed=4" in d.current_url)
    button.click()
    # the job runs in another process; its result comes back through the cache
    wait_for(browser, lambda d: "Trained 3,000 steps" in text_of(d, "tr-status"))
    assert "test accuracy" in text_of(browser, "tr-status")
    wait_for(browser, lambda d: (figure_info(d, "tr-curves") or {}).get("title") == "Training")
    curves = figure_info(browser, "tr-curves")
    assert curves["traces"] == 4
    assert "test accuracy" in text_of(browser, "tr-summary") and "Phase transition" in text_of(browser, "tr-summary")
    assert browser.find_element(By.ID, "tr-download-button").is_enabled()
    links = browser.find_elements(By.CSS_SELECTOR, "#tr-sphere-links a")
    assert [a.text for a in links] == ["Open layer 1 on the sphere page"]  # layer 2: the one-neuron output
    assert "/sphere?source=trained&model=" in links[0].get_attribute("href")

    # the layer-by-layer animation: frames are in the browser; play moves the points
    wait_for(browser, lambda d: (figure_info(d, "tr-animation") or {}).get("frames", 0) == 49)
    drawn = drawn_traces(browser)  # the partial plotly.js bundle draws every result figure
    assert {"contour", "scatter"} <= set(drawn["sent"]) and drawn["unknown"] == []
    before = figure_info(browser, "tr-animation")["x"]
    browser.execute_script("document.querySelector('#tr-animation').scrollIntoView({block: 'center'});")
    play = browser.find_element(By.CSS_SELECTOR, "#tr-animation .updatemenu-button")
    play.click()
    wait_for(browser, lambda d: figure_info(d, "tr-animation")["x"] != before, timeout=20)
    # pause, and wait until Plotly's animation loop has really stopped (no frame pending),
    # then the layer slider's "layer 2" step jumps to that layer's frame
    browser.find_elements(By.CSS_SELECTOR, "#tr-animation .updatemenu-button")[1].click()
    wait_for(browser, animation_idle, timeout=20)
    # the first label is the current value; then one per step
    labels = browser.find_elements(By.CSS_SELECTOR, "#tr-animation text.slider-label")[-4:]
    assert [label.text for label in labels] == ["input", "layer 1", "layer 2", "rotate"]
    ActionChains(browser).move_to_element(labels[2]).click().perform()
    wait_for(browser, lambda d: d.execute_script(
        "const gd = document.querySelector('#tr-animation .js-plotly-plot');"
        "return gd._fullLayout.sliders[0].active;") == 2, timeout=20)
    assert severe_console_errors(browser) == []


def test_progress_appears_while_training_and_cancel_stops_it(browser, live_server):
    query = {"dataset": "spiral", "n": 20000, "width": 16, "depth": 4, "steps": 20000, "seed": 31}
    forget_run(query)
    browser.get(live_server + "/train?" + "&".join(f"{k}={v}" for k, v in query.items()))
    button = WebDriverWait(browser, 30).until(EC.element_to_be_clickable((By.ID, "tr-train")))
    wait_for(browser, lambda d: "width=16" in d.current_url)
    button.click()
    wait_for(browser, lambda d: "Training… step" in text_of(d, "tr-live"), timeout=60)
    wait_for(browser, lambda d: (figure_info(d, "tr-curves") or {}).get("title") == "Training…")
    progress = int(browser.find_element(By.ID, "tr-progress").get_attribute("value"))
    assert 0 <= progress < 100
    assert not browser.find_element(By.ID, "tr-train").is_enabled()
    browser.find_element(By.ID, "tr-cancel").click()
    wait_for(browser, lambda d: "Cancelled" in text_of(d, "tr-status"))
    wait_for(browser, lambda d: d.find_element(By.ID, "tr-train").is_enabled())
    assert not browser.find_element(By.ID, "tr-cancel").is_enabled()
    assert severe_console_errors(browser) == []


def test_a_sweep_seed_opens_its_run(browser, live_server):
    from polyviz import state as st
    from polyviz.pages.train import TrainState
    from services import cache, run_store

    query = {"dataset": "spiral", "n": 300, "steps": 300, "k": 6, "seed": 0}
    state, _ = st.validate(TrainState, query)
    cache.cache.delete(run_store.sweep_key(state.sweep_fields()))
    for seed in range(6):
        forget_run({**query, "seed": seed})
    browser.get(live_server + "/train?" + "&".join(f"{k}={v}" for k, v in query.items()))
    button = WebDriverWait(browser, 30).until(EC.element_to_be_clickable((By.ID, "tr-sweep")))
    wait_for(browser, lambda d: "n=300" in d.current_url)
    button.click()
    wait_for(browser, lambda d: "6 seeds trained" in text_of(d, "tr-sweep-status"))
    wait_for(browser, lambda d: (figure_info(d, "tr-sweep-fig") or {}).get("traces", 0) >= 2)
    # a mouse click on a seed's point (one that no other seed hides; offsets from the graph's centre)
    browser.execute_script("document.querySelector('#tr-sweep-fig').scrollIntoView({block: 'center'});")
    target = browser.execute_script(
        "const gd = document.querySelector('#tr-sweep-fig .js-plotly-plot');"
        "const fl = gd._fullLayout, box = gd.getBoundingClientRect(), points = [];"
        "gd._fullData.forEach(t => { if (t.customdata) Array.from(t.customdata).forEach((s, k) =>"
        "  points.push({seed: s, px: fl.xaxis._offset + fl.xaxis.d2p(t.x[k]), py: fl.yaxis._offset + fl.yaxis.d2p(t.y[k])})); });"
        "const alone = points.filter(p => p.seed !== 0 && points.every(q => q === p ||"
        "  Math.hypot(q.px - p.px, q.py - p.py) > 12));"
        "const p = alone.length ? alone[0] : points.find(q => q.seed !== 0);"
        "window._clicked = [];"
        "gd.on('plotly_click', e => window._clicked.push(e.points[0].customdata));"
        "return [p.seed, p.px - box.width / 2, p.py - box.height / 2];")
    graph = browser.find_element(By.CSS_SELECTOR, "#tr-sweep-fig .js-plotly-plot")
    ActionChains(browser).move_to_element_with_offset(graph, round(target[1]), round(target[2])).pause(0.3).click().perform()
    wait_for(browser, lambda d: d.execute_script("return window._clicked.length") > 0, timeout=10)
    seed = browser.execute_script("return window._clicked[0]")
    assert seed != 0
    wait_for(browser, lambda d: f"seed={seed}&" in d.current_url and "origin=sweep" in d.current_url)
    # the model the sweep measured, not a retrained one (issue 9 item 1)
    wait_for(browser, lambda d: f"Opened seed {seed} as the 6-seed sweep trained it" in text_of(d, "tr-status"))
    assert browser.find_element(By.ID, "tr-seed").get_attribute("value") == str(seed)
    wait_for(browser, lambda d: f"seed {seed}" in text_of(d, "tr-summary"))
    assert severe_console_errors(browser) == []


def plane_drawn(driver):
    """What the WebGL scene of the animation really draws for the plane trace: the number of
    triangles of its mesh object among the scene's drawn objects (0 when it draws none)."""
    return driver.execute_script(
        "const gd = document.querySelector('#tr-animation .js-plotly-plot');"
        "const scene = gd._fullLayout.scene._scene;"
        "const uid = gd._fullData[2].uid, trace = scene.traces[uid];"
        "if (!trace || !trace.mesh || scene.glplot.objects.indexOf(trace.mesh) < 0) return 0;"
        "return trace.mesh.triangleCount;")


def animation_idle(driver):
    """Neither Plotly's animation loop nor the page's ▶ player (assets/frame_player.js) runs."""
    return driver.execute_script(
        "const gd = document.querySelector('#tr-animation .js-plotly-plot');"
        "return !gd._transitionData._animationRaf && !(gd._transitionData._frameQueue || []).length"
        "       && !window.polyvizFramePlayer.playing(gd);")


def train_small_spiral(driver, live_server, seed: int):
    """A 200-step spiral run (depth 2) trained through the page's Train button, until its
    49-frame animation is in the browser. Returns the run's state."""
    query = {"dataset": "spiral", "n": 300, "steps": 200, "depth": 2, "seed": seed}
    state = forget_run(query)
    driver.get(live_server + "/train?" + "&".join(f"{k}={v}" for k, v in query.items()))
    button = WebDriverWait(driver, 30).until(EC.element_to_be_clickable((By.ID, "tr-train")))
    wait_for(driver, lambda d: f"seed={seed}" in d.current_url and "steps=200" in d.current_url)
    button.click()
    wait_for(driver, lambda d: "Trained 200 steps" in text_of(d, "tr-status"))
    wait_for(driver, lambda d: (figure_info(d, "tr-animation") or {}).get("frames", 0) == 49)
    return state


def server_animation(state) -> dict:
    """The server's layer-animation figure of a trained run."""
    from polyviz.pages import train as train_page
    from services import run_store

    return train_page.run_figures(state, run_store.load_run(run_store.run_key(state.training_fields())))["animation"]


def test_after_a_playback_the_plane_is_drawn_on_the_final_layer_only(browser, live_server):
    """Issue 9.3: after one playback the final layer's plane stayed drawn on the input and the
    earlier layers. Play to the end, then jump back to each layer: the plane is drawn only on
    the last hidden layer (and its rotation)."""
    train_small_spiral(browser, live_server, seed=0)
    browser.execute_script("document.querySelector('#tr-animation').scrollIntoView({block: 'center'});")
    assert plane_drawn(browser) == 0  # the input, before any playback
    browser.execute_script(
        "const gd = document.querySelector('#tr-animation .js-plotly-plot'); window._frames = [];"
        "gd.on('plotly_animatingframe', e => window._frames.push(e.name));")
    browser.find_element(By.CSS_SELECTOR, "#tr-animation .updatemenu-button").click()
    wait_for(browser, lambda d: d.execute_script("return window._frames[window._frames.length - 1]") == "48"
             and animation_idle(d), timeout=60)
    assert plane_drawn(browser) == 2  # the final layer, after its turn: the plane's two triangles
    labels = browser.find_elements(By.CSS_SELECTOR, "#tr-animation text.slider-label")[-4:]
    assert [label.text for label in labels] == ["input", "layer 1", "layer 2", "rotate"]
    for index, expected in ((0, 0), (1, 0), (2, 2), (0, 0)):
        ActionChains(browser).move_to_element(labels[index]).click().perform()
        wait_for(browser, lambda d, i=index: d.execute_script(
            "return document.querySelector('#tr-animation .js-plotly-plot')._fullLayout.sliders[0].active;") == i
            and animation_idle(d), timeout=20)
        assert plane_drawn(browser) == expected, labels[index].text
    assert severe_console_errors(browser) == []


def drawn_frame(driver):
    """What the browser's Plotly draws of the animation: each trace's x, y, z (as numbers),
    its visibility, and the 3-D scene's scale."""
    return driver.execute_script(
        "const gd = document.querySelector('#tr-animation .js-plotly-plot');"
        "return {traces: gd._fullData.map(t => ({visible: t.visible, x: Array.from(t.x || []),"
        "        y: Array.from(t.y || []), z: Array.from(t.z || [])})),"
        "        scale: Array.from(gd._fullLayout.scene._scene.dataScale)};")


def test_each_animation_frame_draws_what_the_server_computed(browser, live_server):
    """Frame k as the browser draws it is the server's frame k, value for value (float32), and
    the scene keeps one scale through the frames (it rebuilt its axes each frame: issue 11)."""
    import numpy as np

    from polyviz.figures.common import untyped

    server = server_animation(train_small_spiral(browser, live_server, seed=1))
    scales = set()
    for k in (0, 7, 24, 40):  # the input, between layers, the last layer (its plane), the turn
        browser.execute_script(
            "const gd = document.querySelector('#tr-animation .js-plotly-plot');"
            "Plotly.animate(gd, [arguments[0]], {mode: 'immediate', frame: {duration: 0, redraw: true},"
            " transition: {duration: 0}});", str(k))
        wait_for(browser, lambda d: animation_idle(d), timeout=20)
        drawn = drawn_frame(browser)
        frame = server["frames"][k]
        for index, trace in zip(frame["traces"], frame["data"]):
            assert drawn["traces"][index]["visible"] == trace.get("visible", True), (k, index)
            for axis in "xyz":
                np.testing.assert_array_equal(np.asarray(drawn["traces"][index][axis], np.float32), untyped(trace[axis]),
                                              err_msg=f"frame {k}, trace {index}, {axis}")
        scales.add(tuple(drawn["scale"]))
    assert len(scales) == 1, scales
    assert severe_console_errors(browser) == []


def play_until(driver, frame: int) -> dict:
    """Press ▶ and stop the player once it has shown `frame`: what drew the frames meanwhile
    (the player's own draws, "polyviz_painted", and Plotly's, "plotly_afterplot")."""
    driver.execute_script(
        "const gd = document.querySelector('#tr-animation .js-plotly-plot');"
        "window._draws = {direct: 0, plotly: 0, shown: []}; window._stopAt = arguments[0];"
        "if (!gd.__drawCounters) { gd.__drawCounters = true;"
        "  gd.on('polyviz_painted', () => window._draws.direct++);"
        "  gd.on('plotly_afterplot', () => window._draws.plotly++);"
        "  gd.on('plotly_animatingframe', (e) => { window._draws.shown.push(e.name);"
        "    if (e.name === window._stopAt) window.polyvizFramePlayer.stop(gd); }); }", str(frame))
    driver.find_element(By.CSS_SELECTOR, "#tr-animation .updatemenu-button").click()
    wait_for(driver, lambda d: animation_idle(d) and d.execute_script("return window._draws.shown.length") > 0, timeout=30)
    draws = driver.execute_script("return window._draws")
    assert draws["shown"][-1] == str(frame), draws
    return draws


def plotly_draws_frame(driver, frame: int) -> None:
    driver.execute_script(
        "Plotly.animate(document.querySelector('#tr-animation .js-plotly-plot'), [arguments[0]],"
        " {mode: 'immediate', frame: {duration: 0, redraw: true}, transition: {duration: 0}});", str(frame))
    wait_for(driver, lambda d: animation_idle(d) and d.execute_script(
        "return document.querySelector('#tr-animation .js-plotly-plot')._fullLayout._currentFrame") == str(frame))
    driver.execute_async_script("requestAnimationFrame(() => requestAnimationFrame(arguments[0]))")


def test_the_play_button_moves_the_points_without_plotly_and_draws_plotlys_picture_of_each_frame(browser, live_server):
    """▶ is answered by assets/frame_player.js: the frames move the scene's WebGL objects
    directly (Plotly.animate redrew the whole figure per frame). Stopped at a frame, the
    picture is the one Plotly draws of that frame, pixel for pixel: before the plane appears,
    while it turns with the plane, and on a replay, whose first frame hides the plane again
    (and its legend entry: a direct hide left that behind)."""
    import numpy as np

    from polyviz.figures.common import untyped

    server = server_animation(train_small_spiral(browser, live_server, seed=2))
    browser.execute_script("document.querySelector('#tr-animation').scrollIntoView({block: 'center'});")
    browser.execute_async_script("setTimeout(arguments[0], 500)")  # dcc.Graph's resizes after a first draw
    graph = browser.find_element(By.ID, "tr-animation")
    start = graph.screenshot_as_base64

    def check(frame: int, draws: dict) -> None:
        drawn = drawn_frame(browser)
        served = server["frames"][frame]
        for index, trace in zip(served["traces"], served["data"]):
            assert drawn["traces"][index]["visible"] == trace.get("visible", True), (frame, index)
            if drawn["traces"][index]["visible"]:
                for axis in "xyz":
                    np.testing.assert_array_equal(np.asarray(drawn["traces"][index][axis], np.float32),
                                                  untyped(trace[axis]), err_msg=f"frame {frame}, trace {index}")
        played = graph.screenshot_as_base64
        plotly_draws_frame(browser, frame)
        same = pixel_difference(browser, played, graph.screenshot_as_base64)
        apart = pixel_difference(browser, start, graph.screenshot_as_base64)
        assert same["share"] < 0.002, (frame, same, draws)
        assert apart["count"] > 20 * max(1, same["count"]), (frame, same, apart)

    # frames 0-10: the points move, the plane stays hidden; Plotly draws none of them
    draws = play_until(browser, 10)
    assert draws["shown"] == [str(k) for k in range(11)] and draws["direct"] >= 10 and draws["plotly"] == 0, draws
    check(10, draws)
    # on from the current frame: the plane appears at the last layer (Plotly makes its mesh
    # once), then turns with the points, drawn directly; a resize on the way (dcc.Graph's
    # Plots.resize, a relayout) does not stop it
    browser.execute_script(
        "const gd = document.querySelector('#tr-animation .js-plotly-plot');"
        "const once = (e) => { if (e.name === '15') { gd.removeListener('plotly_animatingframe', once);"
        "  Plotly.Plots.resize(gd); } };"
        "gd.on('plotly_animatingframe', once);")
    draws = play_until(browser, 40)
    assert draws["shown"][0] == "11" and draws["plotly"] == 2 and draws["direct"] >= 28, draws  # the plane, the resize
    check(40, draws)
    # to the end, then a replay from the start: Plotly draws its first frame, which hides the
    # plane and its legend entry; the points move directly again after it
    play_until(browser, 48)
    draws = play_until(browser, 10)
    assert draws["shown"][0] == "0" and draws["plotly"] == 1 and draws["direct"] >= 10, draws
    check(10, draws)
    assert severe_console_errors(browser) == []

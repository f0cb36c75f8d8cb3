"""The sphere page in headless Chromium: loads, reacts to its controls, keeps the URL, no errors."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import severe_console_errors
from in_browser import graph_script, pixel_difference, wait_for

pytestmark = pytest.mark.browser



def figure_info(driver, graph_id):
    """Title, trace types and the first x of every trace of a graph, as the browser holds them."""
    return graph_script(
        driver, graph_id,
        "if (!gd || !gd._fullData || !gd._fullData.length) return null;"
        "return {title: gd.layout.title ? gd.layout.title.text : '', meta: gd.layout.meta || null,"
        "        types: gd._fullData.map(t => t.type),"
        "        first: gd._fullData.map(t => (t.x && t.x.length) ? Number(t.x[0]) : null)};")


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
    browser.get(live_server + "/sphere?dim=7&neurons=1000&seed=abc&wscale=-1&act=tanh&source=nope")
    box = WebDriverWait(browser, 20).until(EC.presence_of_element_located((By.ID, "sp-notices")))
    wait_for(browser, lambda d: "neurons = 1000 is out of range" in box.text)
    for text in ("dim = 7", "1 to 64", "seed = 'abc'", "wscale = -1", "act = 'tanh'", "source = 'nope'"):
        assert text in box.text, text
    wait_for(browser, lambda d: figure_info(d, "sp-scene") and "64 neurons" in summary(d))
    assert severe_console_errors(browser) == []


def train_tiny(width: int) -> str:
    """A tiny spiral model trained by the /train page's job function in this process: the
    live server runs in this process too, so it reads the model from the same cache."""
    from polyviz import state as st
    from polyviz.pages.train import TrainState
    from services import jobs
    from services import run_store as store

    state, _ = st.validate(TrainState, dict(dataset="spiral", n=120, width=width, depth=2, steps=40, seed=5,
                                            data_seed=1))
    out = jobs.run_job(jobs.new_job(state, "train"), jobs.TRAIN)
    assert isinstance(out.key, str), out.status
    return store.model_id(out.key)


def test_trained_layer_from_a_train_page_link(browser, live_server):
    """A u_ε model's hidden layer is drawn where its inputs really lie (issue 9.4): the unit
    sphere of R³, shown as the page's 2-sphere (d = 4), cut by the layer's own planes; the
    one-neuron output layer is not offered."""
    from polyviz import polytopes as pt
    from polyviz.models import layer_weights
    from services import run_store

    model = train_tiny(3)
    browser.get(live_server + f"/sphere?source=trained&model={model}&layer=1&dim=3")
    wait_for(browser, lambda d: figure_info(d, "sp-scene") and summary(d).startswith("Layer 1 of the trained model"))
    assert "spiral, width 3, depth 2, u_ε, test accuracy" in summary(browser)
    W, b = layer_weights(run_store.load_run(model).params, 1)
    regions = pt.sphere_region_count(W, b)  # the planes W h + b = 0 on the unit sphere of R³, where u_ε puts h
    assert figure_info(browser, "sp-scene")["meta"]["regions"] == regions
    assert f"into {regions} region" in summary(browser)
    help_text = browser.find_element(By.ID, "sp-source-help").text
    assert "Layer 1 of a trained model" in help_text and "first row of layer 2's weights" in help_text
    dim4 = browser.find_element(By.CSS_SELECTOR, "#sp-dim input[value='4']")
    assert dim4.is_selected() and not dim4.is_enabled()  # d follows the layer
    assert browser.find_elements(By.CSS_SELECTOR, "#sp-neurons .dash-slider-root[aria-disabled='true']")
    wait_for(browser, lambda d: not d.find_element(By.ID, "sp-seed").is_enabled())  # read out by layer 2
    wait_for(browser, lambda d: "dim=4" in d.current_url and f"model={model}" in d.current_url)
    for graph in ("sp-circle", "sp-scaling", "sp-rotation"):
        wait_for(browser, lambda d, g=graph: figure_info(d, g))
    assert not browser.find_element(By.CSS_SELECTOR, "#sp-layer input[value='2']").is_enabled()  # one neuron

    browser.find_element(By.CSS_SELECTOR, "#sp-source input[value='random']").click()  # back to a random layer
    wait_for(browser, lambda d: summary(d).startswith("12 neurons"))
    assert browser.find_element(By.CSS_SELECTOR, "#sp-dim input[value='3']").is_enabled()
    wait_for(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, "#sp-neurons [aria-disabled='true']"))
    assert severe_console_errors(browser) == []


def test_unknown_model_falls_back_with_a_notice(browser, live_server):
    browser.get(live_server + "/sphere?source=trained&model=" + "0" * 40 + "&layer=1")
    box = WebDriverWait(browser, 20).until(EC.presence_of_element_located((By.ID, "sp-notices")))
    wait_for(browser, lambda d: "is not in the cache" in box.text)
    wait_for(browser, lambda d: summary(d).startswith("A random layer, not a trained one"))
    assert "is not in the cache" in browser.find_element(By.ID, "sp-source-help").text
    assert severe_console_errors(browser) == []


def test_an_evicted_models_link_retrains_only_when_asked_and_then_reopens(browser, live_server):
    """Opening the link of an evicted model offers "Retrain this model" and trains nothing (Dash
    called the retrain callback when the page's content arrived, so every visit retrained it);
    the press retrains it through the job queue and the page reopens on the retrained layer."""
    from urllib.parse import urlencode

    from polyviz import state as st
    from polyviz.pages.train import TrainState
    from services import cache, run_store

    state, _ = st.validate(TrainState, dict(dataset="spiral", n=120, width=3, depth=2, steps=40, seed=17, data_seed=1))
    key = run_store.run_key(state.training_fields())
    cache.cache.delete(key)
    browser.get(live_server + "/sphere?" + urlencode({"source": "trained", "model": run_store.model_id(key),
                                                       "layer": 1, "train": st.to_query(state)}))
    button = WebDriverWait(browser, 20).until(EC.visibility_of_element_located((By.ID, "sp-retrain")))
    wait_for(browser, lambda d: figure_info(d, "sp-scene"))
    time.sleep(3)  # long enough for a 40-step job to have run, had anything started it
    assert button.is_enabled() and run_store.load_run(key) is None
    assert browser.find_element(By.ID, "sp-retrain-status").text == ""
    button.click()
    # the page reopens (its address bar then drops "retrained=1" again: it is not part of the view)
    wait_for(browser, lambda d: "it was trained again from the settings this link carries"
             in d.find_element(By.ID, "sp-notices").text, timeout=60)
    wait_for(browser, lambda d: summary(d).startswith("Layer 1 of the trained model"))
    assert run_store.load_run(key) is not None
    assert severe_console_errors(browser) == []


# --- while dragging, the browser draws what the server computes ------------------------

READ_SPHERE = """
const plain = (v) => (v && v.bdata !== undefined) ? {dtype: v.dtype, bdata: v.bdata}
  : (v && v.length !== undefined && typeof v !== 'string') ? Array.from(v, (x) => Number.isNaN(x) ? null : x) : v;
const out = {};
for (const id of ['sp-scene', 'sp-circle', 'sp-scaling', 'sp-rotation']) {
  const gd = document.querySelector('#' + id + ' .js-plotly-plot');
  if (!gd || !gd.data) return null;
  out[id] = {title: gd.layout.title && gd.layout.title.text,
             shapes: (gd.layout.shapes || []).map((s) => s.x0),
             data: gd.data.map((t) => ({x: plain(t.x), y: plain(t.y), z: plain(t.z), width: plain(t.width),
                                        base: t.base, color: t.marker && t.marker.color}))};
}
out.values = Object.fromEntries(['sp-v-az', 'sp-w-az', 'sp-k'].map((id) => [id,
  Number(document.querySelector('#' + id + ' [role=slider]').getAttribute('aria-valuenow'))]));
return out;
"""
SP_QUERY = dict(dim=3, neurons=12, seed=0, v_az=30, w_az=160, k=2, kmax=10)


def server_sphere(v_az, w_az, k) -> dict:
    """The four figures the server callbacks draw for the page's state with these v, w, k."""
    import json

    import plotly.io as pio

    import callbacks.sphere as cs

    q = dict(SP_QUERY, v_az=v_az, w_az=w_az, k=k)
    layer = ("random", q["dim"], q["neurons"], q["seed"], 1.0, 0.5, "relu", "", 1)
    scene, _, _ = cs.update_scene(*layer, v_az, 20.0, w_az, -15.0, k, q["kmax"])
    circle, rotation, _ = cs.update_probe(*layer, v_az, 20.0, w_az, -15.0, [])
    scaling, _ = cs.update_scaling(*layer, v_az, 20.0, k, q["kmax"])
    return json.loads(pio.json.to_json_plotly({"sp-scene": scene, "sp-circle": circle, "sp-scaling": scaling,
                                               "sp-rotation": rotation}))


def assert_traces_equal(drawn: dict, server: dict, moved: str) -> None:
    """Every trace property the drag moves, panel by panel, as the server has it (1e-9)."""
    from polyviz.figures.sphere import SCENE_BASE_TRACES, SCENE_MARKER_TRACES
    from test_stretch_fold_js import close

    base = SCENE_BASE_TRACES[SP_QUERY["dim"]]
    checks = {"sp-scene": {i: "xyz" for i in range(base, base + SCENE_MARKER_TRACES)}}
    if moved != "k":
        curves = len(server["sp-circle"]["data"])
        checks["sp-circle"] = {0: ("x", "y", "width"), 1: ("x", "y"), 2: ("z",), **{i: ("y",) for i in range(3, curves)}}
        checks["sp-rotation"] = {0: "xy", 1: "xy", 2: "xy"}
    if moved == "v":
        checks["sp-scaling"] = {0: "xy", 1: "xy"}
    for panel, traces in checks.items():
        assert len(drawn[panel]["data"]) == len(server[panel]["data"]), panel
        for index, props in traces.items():
            for prop in props:
                got, want = drawn[panel]["data"][index][prop], server[panel]["data"][index][prop]
                if isinstance(want, dict) and want.get("dtype") == "u1":
                    assert got["bdata"] == want["bdata"], (panel, index, prop)
                else:
                    close(got, want, 1e-9)
    if moved != "k":
        assert drawn["sp-circle"]["data"][0]["color"] == server["sp-circle"]["data"][0]["marker"]["color"]
        # JavaScript's and NumPy's sums may differ in the last bit
        close(drawn["sp-circle"]["data"][0]["base"], server["sp-circle"]["data"][0]["base"], 1e-9)
        close(drawn["sp-circle"]["shapes"], [s["x0"] for s in server["sp-circle"]["layout"]["shapes"]], 1e-9)
    close(drawn["sp-scaling"]["shapes"], [s["x0"] for s in server["sp-scaling"]["layout"]["shapes"]], 1e-9)


def test_dragging_v_w_and_k_draws_the_servers_figures_and_the_release_is_the_servers(browser, live_server):
    from selenium.webdriver.common.action_chains import ActionChains

    query = "&".join(f"{k}={v}" for k, v in SP_QUERY.items())
    browser.get(live_server + "/sphere?" + query)
    for graph in ("sp-scene", "sp-circle", "sp-scaling", "sp-rotation"):
        wait_for(browser, lambda d, g=graph: figure_info(d, g))
    for slider, moved, dx in (("sp-v-az", "v", 40), ("sp-w-az", "w", -40), ("sp-k", "k", 30)):
        before = browser.execute_script(READ_SPHERE)
        handle = browser.find_element(By.CSS_SELECTOR, f"#{slider} [role='slider']")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
        ActionChains(browser).click_and_hold(handle).move_by_offset(dx // 2, 0).pause(0.2).move_by_offset(
            dx - dx // 2, 0).pause(1.0).perform()
        # still held: nothing went to the server, yet the panels follow
        mid = wait_for(browser, lambda d: (lambda r: r if r["values"][slider] != before["values"][slider] and
                                           r["sp-scene"]["data"] != before["sp-scene"]["data"] else None)(
            d.execute_script(READ_SPHERE)))
        mid = wait_for(browser, lambda d: (lambda r: r if r == d.execute_script(READ_SPHERE) else None)(
            d.execute_script(READ_SPHERE)))  # the last position painted
        values = mid["values"]
        assert mid["sp-circle"]["title"] == before["sp-circle"]["title"]  # the server's words wait for the release
        assert_traces_equal(mid, server_sphere(values["sp-v-az"], values["sp-w-az"], values["sp-k"]), moved)
        ActionChains(browser).release().perform()
        server = server_sphere(values["sp-v-az"], values["sp-w-az"], values["sp-k"])
        rest = wait_for(browser, lambda d: (lambda r: r if all(
            r[p]["title"] == server[p]["layout"]["title"]["text"] for p in server) else None)(
            d.execute_script(READ_SPHERE)))
        assert_traces_equal(rest, server, "v")  # every panel as the server draws it
        wait_for(browser, lambda d: f"{slider[3:].replace('-', '_')}={values[slider]:g}" in d.current_url)
    assert severe_console_errors(browser) == []


def shown_text(driver, element_id: str) -> str:
    """The text of an element now ("" while it is not there): read in one script, so a
    re-render between finding it and reading it cannot make it stale."""
    return driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.innerText : '';",
                                 element_id)


def test_a_downloaded_model_zip_opens_from_the_upload_box(browser, live_server, tmp_path):
    """/train's "Download model" .zip, chosen in the sphere page's upload box, opens as a
    trained layer (its own regions); a file that is not one is refused in the notices."""
    from polyviz import polytopes as pt
    from polyviz.models import layer_weights
    from services import run_store

    run = run_store.load_run(train_tiny(3))
    bad, good = tmp_path / "notes.zip", tmp_path / "model.zip"
    bad.write_bytes(b"not a zip at all")
    good.write_bytes(run.model_zip())
    browser.get(live_server + "/sphere?source=trained")
    choose = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#sp-model-upload input[type=file]"))[0]
    assert "Open a downloaded model (.zip)" in browser.find_element(By.ID, "sp-model-upload").text
    choose.send_keys(str(bad))
    wait_for(browser, lambda d: "The model file was not opened: the model file is not a .zip"
             in shown_text(d, "sp-notices"))
    assert "model=&" in browser.current_url  # no model opened
    browser.find_elements(By.CSS_SELECTOR, "#sp-model-upload input[type=file]")[0].send_keys(str(good))
    # the page navigates to the model's link, and the router draws it afresh
    wait_for(browser, lambda d: "model=&" not in d.current_url and "layer=1" in d.current_url)
    wait_for(browser, lambda d: figure_info(d, "sp-scene")
             and shown_text(d, "sp-summary").startswith("Layer 1 of the trained model"))
    regions = pt.sphere_region_count(*layer_weights(run.params, 1))
    assert figure_info(browser, "sp-scene")["meta"]["regions"] == regions
    words = shown_text(browser, "sp-summary")
    assert f"into {regions} region" in words and "spiral, width 3, depth 2, u_ε, test accuracy" in words
    assert shown_text(browser, "sp-notices") == ""
    assert severe_console_errors(browser) == []


def test_copy_as_python_shows_the_link_s_code_and_follows_the_controls(browser, live_server):
    browser.get(live_server + "/sphere?dim=4&neurons=7&seed=9&act=gelu")
    wait_for(browser, lambda d: figure_info(d, "sp-scene") and "7 neurons" in summary(d))
    assert browser.find_element(By.ID, "sp-python-copy").is_displayed()  # the copy button
    code = browser.find_element(By.ID, "sp-python-code")
    assert not code.is_displayed()  # folded away until asked for
    browser.find_element(By.CSS_SELECTOR, ".python-details summary").click()
    text = wait_for(browser, lambda d: (lambda t: t if "sphere_figures" in t else None)(
        d.find_element(By.ID, "sp-python-code").text))
    assert "dim=4&neurons=7&seed=9&" in text and "act=gelu&" in text
    assert "figures = sphere_figures(state, model)" in text

    # the code follows the view, as the address bar does (back up to the slider: the box is below it)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})",
                           browser.find_element(By.ID, "sp-neurons"))
    press(browser, "sp-neurons", Keys.END)
    wait_for(browser, lambda d: "neurons=64&seed=9&" in d.find_element(By.ID, "sp-python-code").text)
    assert severe_console_errors(browser) == []


SCENE_CANVAS = "#sp-scene .gl-container canvas"
PAINTED_DIRECTLY = "return gd && gd.__painted ? gd.__painted : 0;"


def painted_and_still(driver) -> bool:
    """The scene has been painted directly, and not again for 300 ms."""
    count = graph_script(driver, "sp-scene", PAINTED_DIRECTLY)
    driver.execute_async_script("setTimeout(arguments[0], 300)")
    return count > 0 and graph_script(driver, "sp-scene", PAINTED_DIRECTLY) == count


def test_the_scene_painted_while_v_is_dragged_is_plotlys_picture_of_the_servers_scene(browser, live_server):
    """Mid-drag the scene's markers and path move in its WebGL objects (assets/direct_draw.js,
    no Plotly redraw): the picture is the one Plotly draws of the server's scene for that v,
    pixel for pixel, and far from the picture before the drag."""
    from selenium.webdriver.common.action_chains import ActionChains

    query = "&".join(f"{k}={v}" for k, v in SP_QUERY.items())
    browser.get(live_server + "/sphere?" + query)
    wait_for(browser, lambda d: figure_info(d, "sp-scene"))
    browser.execute_async_script("setTimeout(arguments[0], 1500)")  # the page's first draws and resizes
    canvas = browser.find_element(By.CSS_SELECTOR, SCENE_CANVAS)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    before = canvas.screenshot_as_base64
    graph_script(browser, "sp-scene", "gd.__painted = 0; gd.on('polyviz_painted', () => { gd.__painted++; });")
    handle = browser.find_element(By.CSS_SELECTOR, "#sp-v-az [role='slider']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
    ActionChains(browser).click_and_hold(handle).move_by_offset(20, 0).pause(0.2).move_by_offset(20, 0).pause(1.0).perform()
    wait_for(browser, lambda d: painted_and_still(d))  # the scene repainted without Plotly, and done
    v_az = float(handle.get_attribute("aria-valuenow"))
    canvas = browser.find_element(By.CSS_SELECTOR, SCENE_CANVAS)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    moved = canvas.screenshot_as_base64
    ActionChains(browser).release().perform()
    assert v_az != SP_QUERY["v_az"]

    browser.get(live_server + "/sphere?" + query.replace(f"v_az={SP_QUERY['v_az']}", f"v_az={v_az:g}"))
    wait_for(browser, lambda d: figure_info(d, "sp-scene"))
    browser.execute_async_script("setTimeout(arguments[0], 1500)")
    canvas = browser.find_element(By.CSS_SELECTOR, SCENE_CANVAS)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    server = canvas.screenshot_as_base64
    same, apart = pixel_difference(browser, moved, server), pixel_difference(browser, before, server)
    print(same, apart)
    assert same["share"] < 0.002, same
    assert apart["count"] > 20 * max(1, same["count"]), (same, apart)
    assert severe_console_errors(browser) == []

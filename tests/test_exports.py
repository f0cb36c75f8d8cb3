"""The export rows of /stretch-fold, /sphere, /compare and /transformer: the figure as a
standalone HTML file and the data behind it as CSV, made on the server from a link's state.

Each file is checked against what the page itself draws for the same link (its own
callbacks, called as functions), and the CSVs also against an independent computation:
the layer evaluated directly, u_eps from its formula. Bad payloads give words, never a
traceback (also over HTTP, as the browser sends them)."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

import dash_http
from polyviz import polytopes as pt
from polyviz import state as st
from polyviz.exports import safe_filename, series_csv, trace_values

NEWPLOT = "Plotly.newPlot("


def figure_in_html(page: str) -> dict:
    """The figure (data and layout) a standalone HTML export draws: the JSON arguments of its
    Plotly.newPlot call."""
    assert page.lower().startswith(("<!doctype html>", "<html")) and "<script src=" not in page  # opens offline
    decoder = json.JSONDecoder()
    at = page.rindex(NEWPLOT) + len(NEWPLOT)  # the last: plotly.js itself, inlined before, may name it too
    args = []
    for _ in range(3):  # the div's id, data, layout
        while page[at] in " \n\t,":
            at += 1
        value, at = decoder.raw_decode(page, at)
        args.append(value)
    return {"data": args[1], "layout": args[2]}


def assert_same_traces(exported: dict, shown: dict):
    """Every trace's arrays in the exported figure equal the page's, value for value."""
    assert [t.get("type") for t in exported["data"]] == [t.get("type") for t in shown["data"]]
    for mine, theirs in zip(exported["data"], shown["data"]):
        for key in ("x", "y", "z"):
            if key not in theirs:
                continue
            if isinstance(theirs[key], list) and any(isinstance(v, str) for v in theirs[key]):  # categories
                assert mine[key] == theirs[key]
            elif not (isinstance(theirs[key], list) and not theirs[key]):
                np.testing.assert_array_equal(trace_values(mine, key), trace_values(theirs, key))


def rows_of(content: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(content))
    rows = list(reader)
    return reader.fieldnames, rows


def column(rows, name, series=None, dtype=np.float64) -> np.ndarray:
    return np.array([float(r[name]) for r in rows if series is None or r["series"] == series]).astype(dtype)


def f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).astype(np.float32)


def sent(result) -> dict:
    """The dcc.send_string payload of an export callback's answer (and no words)."""
    data, words = result
    assert words == "" and isinstance(data, dict), words
    return data


# --- the library's tables ---------------------------------------------------------------------------------

def test_file_names_keep_only_safe_characters():
    assert safe_filename("polyviz-sphere-d3-12neurons", "csv") == "polyviz-sphere-d3-12neurons.csv"
    assert safe_filename("../../etc/passwd x\"y'<z>", "html") == "etc-passwd-x-y-z.html"
    assert safe_filename("a/b\\c:d", "CSV") == "a-b-c-d.csv" and safe_filename("", "csv") == "polyviz.csv"
    assert len(safe_filename("x" * 1000, "html")) == 120 + len(".html")


def test_a_long_table_names_its_series_and_float32_reads_back_exactly():
    values = np.float32([0.1, 1 / 3, 1e-8])
    names, rows = rows_of(series_csv({"curve": {"x": values, "y": np.arange(3)}, "points": {"x": np.float64([0.1])}}))
    assert names == ["series", "x", "y"] and [r["series"] for r in rows] == ["curve"] * 3 + ["points"]
    np.testing.assert_array_equal(column(rows, "x", "curve", np.float32), values)
    assert rows[1]["x"] == "0.33333334" and rows[3] == {"series": "points", "x": "0.1", "y": ""}
    with pytest.raises(ValueError, match="differ in length"):
        series_csv({"bad": {"x": [1, 2], "y": [1]}})


# --- /stretch-fold ---------------------------------------------------------------------------------------

SF_LINK = "op=shift&t=1.5&eps=0.02&n=300&dist=disc&seed=3"


@pytest.fixture(scope="module")
def sf(dash_app):
    from callbacks import stretch_fold as cb
    from layouts import stretch_fold as ids
    from polyviz.pages.stretch_fold import StretchFoldState

    state, _ = st.from_query(StretchFoldState, SF_LINK)
    shown = cb.update_figures(state.t, state.op, math.log10(state.eps), state.n, state.dist, state.seed,
                              *state.affine)
    figures = dict(zip(("circle", "curve", "surface", "sphere"), shown[:4]))
    # the query the page's Store holds (and the address bar shows): the one the export reads
    query = shown[5]
    state, _ = st.from_query(StretchFoldState, query)
    return cb, ids, state, query, figures


@pytest.mark.parametrize("which", ["circle", "curve", "surface", "sphere"])
def test_stretch_fold_figure_html_draws_the_page_s_figure(sf, which):
    cb, ids, state, query, figures = sf
    out = sent(cb.export(1, 0, which, query, button=ids.EXPORT.figure))
    assert out["filename"] == f"polyviz-stretch-fold-shift-t1.5-eps0.02-disc300-{which}.html"
    exported = figure_in_html(out["content"])
    assert_same_traces(exported, figures[which])
    assert exported["layout"]["title"]["text"] == figures[which]["layout"]["title"]["text"]


def test_stretch_fold_circle_csv_is_every_point_and_its_image(sf):
    cb, ids, state, query, figures = sf
    out = sent(cb.export(0, 1, "circle", query, button=ids.EXPORT.data))
    assert out["filename"].endswith("-circle.csv")
    names, rows = rows_of(out["content"])
    assert names == ["point", "input_x", "input_y", "output_x", "output_y"] and len(rows) == 300
    inputs, images = figures["circle"]["data"][2], figures["circle"]["data"][3]
    for name, trace, key in (("input_x", inputs, "x"), ("input_y", inputs, "y"), ("output_x", images, "x"),
                             ("output_y", images, "y")):
        np.testing.assert_array_equal(f32(column(rows, name)), trace_values(trace, key))
    # u_eps(x + t, y) from its formula, on the exported inputs
    x, y = column(rows, "input_x") + state.t, column(rows, "input_y")
    norm = np.sqrt(x * x + y * y + state.eps)
    np.testing.assert_allclose(column(rows, "output_x"), x / norm, rtol=1e-13)
    np.testing.assert_allclose(column(rows, "output_y"), y / norm, rtol=1e-13, atol=1e-15)


def test_stretch_fold_curve_surface_and_sphere_csvs_hold_the_figures_arrays(sf):
    cb, ids, state, query, figures = sf
    names, rows = rows_of(sent(cb.export(0, 1, "curve", query, button=ids.EXPORT.data))["content"])
    assert names == ["series", "input_x", "output_x"]
    curve = figures["curve"]["data"]
    np.testing.assert_array_equal(f32(column(rows, "input_x", "u_eps(T_t(x, 0))")), trace_values(curve[1], "x"))
    np.testing.assert_array_equal(f32(column(rows, "output_x", "u_eps(T_t(x, 0))")), trace_values(curve[1], "y"))
    np.testing.assert_array_equal(f32(column(rows, "output_x", "u_1(x) sigmoid")), trace_values(curve[0], "y"))
    assert sum(r["series"] == "points" for r in rows) == 300  # every point (the figure draws at most 400)

    names, rows = rows_of(sent(cb.export(0, 1, "surface", query, button=ids.EXPORT.data))["content"])
    surface = figures["surface"]["data"]
    assert names == ["series", "x", "y", "output_x"]
    for key, name in (("x", "x"), ("y", "y"), ("z", "output_x")):
        np.testing.assert_array_equal(f32(column(rows, name, "surface")), trace_values(surface[0], key))
    np.testing.assert_array_equal(f32(column(rows, "x", "T_t(unit circle)")), trace_values(surface[1], "x"))

    names, rows = rows_of(sent(cb.export(0, 1, "sphere", query, button=ids.EXPORT.data))["content"])
    assert names == ["point", "input_x", "input_y", "input_z", "output_x", "output_y", "output_z"]
    for axis in "xyz":
        np.testing.assert_array_equal(f32(column(rows, f"output_{axis}")),
                                      trace_values(figures["sphere"]["data"][1], axis))
    np.testing.assert_allclose(column(rows, "input_x") ** 2 + column(rows, "input_y") ** 2
                               + column(rows, "input_z") ** 2, 1.0, rtol=1e-12)  # points of S2


# --- bad payloads ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which, query", [("nope", "op=shift"), (None, "op=shift"), (["circle"], "op=shift"),
                                          ("circle", None), ("circle", 5), ("circle", {"op": "shift"})])
def test_a_bad_payload_is_answered_in_words(sf, which, query):
    cb, ids, *_ = sf
    for button in (ids.EXPORT.figure, ids.EXPORT.data):
        data, words = cb.export(1, 1, which, query, button=button)
        assert data is cb.no_update and isinstance(words, str) and len(words) > 20, words
    assert cb.export(1, 1, "circle", "op=shift", button=None) == (cb.no_update, cb.no_update)  # no button pressed


def test_a_bad_query_exports_the_validated_view(sf):
    cb, ids, *_ = sf
    out = sent(cb.export(0, 1, "circle", "op=bogus&t=abc&n=-4&eps=1e9&%%%=1", button=ids.EXPORT.data))
    assert out["filename"] == "polyviz-stretch-fold-stretch-t2-eps1-circle10-circle.csv"  # defaults and clamps
    assert len(rows_of(out["content"])[1]) == 10


@pytest.mark.parametrize("page, prefix, query", [("stretch-fold", "sf", "op=shift"), ("sphere", "sp", "dim=4"),
                                                 ("compare", "cmp", "")])
def test_over_http_a_bad_payload_gives_words_not_a_500(client, page, prefix, query):
    deps = dash_http.dependencies(client)
    dep = dash_http.find_callback(deps, f"{prefix}-export-download", "data")
    query_id = next(s["id"] for s in dep["state"] if s["property"] == "data")
    for which, sent_query in (("nope", query), ({"x": 1}, query), ("scene", ["a"]), (None, None)):
        values = {f"{prefix}-export-figure.n_clicks": 1, f"{prefix}-export-which.value": which,
                  f"{query_id}.data": sent_query}
        response = dash_http.post(client, dash_http.payload(dep, values, [f"{prefix}-export-figure.n_clicks"]))
        assert response.status_code == 200, response.data[:300]
        answer = response.get_json()["response"]
        assert "data" not in answer.get(f"{prefix}-export-download", {})
        assert len(answer[f"{prefix}-export-status"]["children"]) > 20


# --- /sphere -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sp(dash_app):
    from callbacks import sphere as cb
    from layouts import sphere as ids
    from polyviz.pages.sphere import SphereState

    def shown(link):
        """(state, query, the page's four figures) for a link, from the page's own callbacks."""
        state, _ = st.from_query(SphereState, link)
        layer = (state.source, state.dim, state.neurons, state.seed, state.wscale, state.bscale, state.act,
                 state.model, state.layer)
        scene, _, _ = cb.update_scene(*layer, state.v_az, state.v_el, state.w_az, state.w_el, state.k, state.kmax)
        circle, rotation, _ = cb.update_probe(*layer, state.v_az, state.v_el, state.w_az, state.w_el,
                                              ["full"] if state.full else [])
        scaling, _ = cb.update_scaling(*layer, state.v_az, state.v_el, state.k, state.kmax)
        figures = dict(scene=scene, circle=circle, rotation=rotation, scaling=scaling)
        return state, st.to_query(state), figures

    return cb, ids, shown


SP_LINKS = {3: "dim=3&neurons=9&seed=5&act=relu&k=3&kmax=12", 4: "dim=4&neurons=10&seed=2&bscale=0.6&act=gelu"}


@pytest.mark.parametrize("dim", [3, 4])
@pytest.mark.parametrize("which", ["scene", "circle", "scaling", "rotation"])
def test_sphere_figure_html_draws_the_page_s_figure(sp, dim, which):
    cb, ids, shown = sp
    state, query, figures = shown(SP_LINKS[dim])
    out = sent(cb.export(1, 0, which, query, button=ids.EXPORT.figure))
    act = "relu" if dim == 3 else "gelu"
    assert out["filename"] == f"polyviz-sphere-d{dim}-{state.neurons}neurons-seed{state.seed}-{act}-{which}.html"
    exported = figure_in_html(out["content"])
    assert_same_traces(exported, figures[which])
    assert exported["layout"]["meta"] == json.loads(json.dumps(figures[which]["layout"]["meta"]))


def test_the_sphere_scene_export_is_seen_from_the_turned_camera(sp):
    cb, ids, shown = sp
    state, query, figures = shown(SP_LINKS[3])
    turned = {"graphs": dict(ids.CAMERA_FIELDS), "cams": {"cam": "0.2,-2,0.9"}}
    scene = figure_in_html(sent(cb.export(1, 0, "scene", query, turned, button=ids.EXPORT.figure))["content"])
    assert scene["layout"]["scene"]["camera"]["eye"] == {"x": 0.2, "y": -2.0, "z": 0.9}
    # a 2-D figure has no scene: the camera leaves it as it was
    circle = figure_in_html(sent(cb.export(1, 0, "circle", query, turned, button=ids.EXPORT.figure))["content"])
    assert "scene" not in circle["layout"]


def layer_of(state):
    from polyviz.pages.sphere import random_view

    view = random_view(state)
    return view.W, view.b


def test_sphere_scene_csv_d3_is_the_arcs_with_codes_the_layer_gives(sp):
    cb, ids, shown = sp
    state, query, figures = shown(SP_LINKS[3])
    names, rows = rows_of(sent(cb.export(0, 1, "scene", query, button=ids.EXPORT.data))["content"])
    assert names == ["arc", "start_angle", "end_angle", "neurons_on", "code"]
    meta = figures["scene"]["layout"]["meta"]
    assert len(rows) == meta["arcs"] and len({r["code"] for r in rows}) == meta["codes"]
    W, b = layer_of(state)
    p, q, radius = pt.layernorm_circle(3)
    start, end = column(rows, "start_angle"), column(rows, "end_angle")
    # the boundaries are where the scene's boundary markers are
    crossings = figures["scene"]["data"][4]
    np.testing.assert_allclose(radius * (np.cos(start) * p[0] + np.sin(start) * q[0]),
                               trace_values(crossings, "x"), atol=1e-6)
    # each arc's code is the layer's own at the arc's middle: W x + b > 0 on the circle of radius sqrt(3)
    middle = 0.5 * (start + end)
    x = radius * (np.cos(middle)[:, None] * p + np.sin(middle)[:, None] * q)
    on = (x @ W.T + b) > 0
    assert [r["code"] for r in rows] == ["".join("1" if v else "0" for v in row) for row in on]
    assert column(rows, "neurons_on", dtype=int).tolist() == on.sum(axis=1).tolist()


def test_sphere_scene_csv_d4_lists_the_boundary_circles(sp):
    cb, ids, shown = sp
    state, query, figures = shown(SP_LINKS[4])
    names, rows = rows_of(sent(cb.export(0, 1, "scene", query, button=ids.EXPORT.data))["content"])
    assert names == ["neuron", "circle", "normal_x", "normal_y", "normal_z", "offset", "radius"]
    assert len({r["circle"] for r in rows}) == figures["scene"]["layout"]["meta"]["circles"]
    # a circle u.x = h on the unit sphere has radius sqrt(1 - h^2), and u is a unit vector
    h = column(rows, "offset")
    np.testing.assert_allclose(column(rows, "radius"), np.sqrt(1 - h * h), rtol=1e-12)
    normals = np.stack([column(rows, f"normal_{a}") for a in "xyz"], 1)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, rtol=1e-12)
    W3, b3 = pt.layernorm_sphere_layer(*layer_of(state))
    neurons = column(rows, "neuron", dtype=int)
    np.testing.assert_allclose(normals, W3[neurons] / np.linalg.norm(W3[neurons], axis=1, keepdims=True), atol=1e-12)


def test_sphere_circle_csv_is_the_unrolled_curves_with_their_codes(sp):
    cb, ids, shown = sp
    state, query, figures = shown(SP_LINKS[3])
    names, rows = rows_of(sent(cb.export(0, 1, "circle", query, button=ids.EXPORT.data))["content"])
    n = state.neurons
    assert names == ["angle", "crossings_before", "neurons_on", "code", *[f"neuron_{j}" for j in range(n)]]
    data = figures["circle"]["data"]
    angles = column(rows, "angle", dtype=np.float32)
    np.testing.assert_array_equal(angles, trace_values(data[2], "x"))
    for j in range(n):
        np.testing.assert_array_equal(column(rows, f"neuron_{j}", dtype=np.float32), trace_values(data[3 + j], "y"))
    # the pre-activations are the layer's own on the great circle from v towards w (radius sqrt(3))
    from polyviz.pages.sphere import directions

    p, q, _ = pt.great_circle(*directions(state))
    W, b = layer_of(state)
    a = angles.astype(np.float64)
    z = (math.sqrt(3) * (np.cos(a)[:, None] * p + np.sin(a)[:, None] * q)) @ W.T + b
    clear = np.abs(z).min(axis=1) > 1e-4
    assert clear.mean() > 0.9
    assert (column(rows, "neurons_on", dtype=int)[clear] == (z[clear] > 0).sum(axis=1)).all()
    crossings_before = column(rows, "crossings_before", dtype=int)
    assert crossings_before[0] == 0 and crossings_before[-1] == figures["circle"]["layout"]["meta"]["crossings"]
    assert (np.diff(crossings_before) >= 0).all()


def test_sphere_rotation_and_scaling_csvs_hold_the_probe_curves(sp):
    cb, ids, shown = sp
    state, query, figures = shown(SP_LINKS[4])
    names, rows = rows_of(sent(cb.export(0, 1, "rotation", query, button=ids.EXPORT.data))["content"])
    assert names == ["angle", "output", "abs_slope", "crossings_before"]
    data = figures["rotation"]["data"]
    np.testing.assert_array_equal(column(rows, "angle", dtype=np.float32), trace_values(data[0], "x"))
    np.testing.assert_array_equal(column(rows, "output", dtype=np.float32), trace_values(data[0], "y"))
    np.testing.assert_array_equal(column(rows, "abs_slope", dtype=np.float32), trace_values(data[2], "y"))
    assert int(rows[-1]["crossings_before"]) == figures["rotation"]["layout"]["meta"]["n_crossings"]

    names, rows = rows_of(sent(cb.export(0, 1, "scaling", query, button=ids.EXPORT.data))["content"])
    assert names == ["series", "k", "spline_codes"]
    meta = figures["scaling"]["layout"]["meta"]
    assert {r["series"] for r in rows} == {"without LayerNorm", "with LayerNorm"}
    for series, trace, count in (("without LayerNorm", 0, meta["without"]), ("with LayerNorm", 1,
                                                                               meta["with_layernorm"])):
        np.testing.assert_array_equal(column(rows, "k", series, np.float32), trace_values(data_of(figures, trace),
                                                                                          "x"))
        assert column(rows, "spline_codes", series, int).max() == count


def data_of(figures, trace):
    return figures["scaling"]["data"][trace]


# --- /compare ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained_compare(dash_app):
    from callbacks import compare as cc
    from layouts import compare as ids
    from polyviz.pages.compare import CompareState

    state, _ = st.validate(CompareState, dict(dataset="moons", n=200, steps=120, noise=0.05, seed=21, a_act="u_eps",
                                              b_act="relu", c_act="off", a_width=3, b_width=3))
    query = st.to_query(state)
    before = cc.export(1, 0, "curves", query, button=ids.EXPORT.figure)
    keys, words = cc.run_compare_job({"id": "e" * 32, "kind": "compare", "query": query, "started": 0.0})
    assert keys is not None, words
    return cc, ids, state, query, keys, before


def test_compare_before_training_says_so(trained_compare):
    cc, ids, state, query, keys, before = trained_compare
    assert before == (cc.no_update, "No model is trained yet: press Train all, then export.")
    *_, options = cc.sync_state(*cc.control_values(state), [])
    assert [o["value"] for o in options] == ["curves", "a-boundary", "a-neurons", "a-animation", "b-boundary",
                                             "b-neurons", "b-animation"]  # C is off
    data, words = cc.export(1, 0, "c-boundary", query, button=ids.EXPORT.figure)
    assert data is cc.no_update and "no figure 'c-boundary'" in words


def test_compare_exports_the_curves_and_a_column_s_figure(trained_compare):
    cc, ids, state, query, keys, _ = trained_compare
    from services import run_store

    shown = cc.render(keys, query)
    out = sent(cc.export(1, 0, "curves", query, button=ids.EXPORT.figure))
    assert out["filename"] == "polyviz-compare-moons-u_eps-vs-relu-curves.html"
    assert_same_traces(figure_in_html(out["content"]), shown[0])
    out = sent(cc.export(1, 0, "b-boundary", query, button=ids.EXPORT.figure))
    assert_same_traces(figure_in_html(out["content"]), shown[1 + len(ids.COLUMN_FIGURES)])  # B's first figure

    names, rows = rows_of(sent(cc.export(0, 1, "curves", query, button=ids.EXPORT.data))["content"])
    assert names == ["model", "step", "train_loss", "train_acc", "test_loss", "test_acc"]
    for column_name in ("a", "b"):
        run = run_store.load_run(keys[column_name]["key"])
        mine = [r for r in rows if r["model"].startswith(column_name.upper() + ":")]
        assert [int(r["step"]) for r in mine] == run.history["step"].tolist()
        np.testing.assert_allclose([float(r["train_loss"]) for r in mine], run.history["train_loss"], rtol=1e-5)

    names, rows = rows_of(sent(cc.export(0, 1, "a-animation", query, button=ids.EXPORT.data))["content"])
    assert names == ["split", "x1", "x2", "label", "p_class1", "predicted"] and len(rows) == 200
    assert {r["split"] for r in rows} == {"train", "test"}


def test_compare_export_during_a_cache_outage_says_so_not_untrained(trained_compare, monkeypatch):
    cc, ids, state, query, keys, _ = trained_compare
    from services import cache, jobs

    def down(key, required=False, **kwargs):  # as cache_get behaves with Redis unreachable
        if required:
            raise cache.CacheUnavailable("connection refused")
        return None

    monkeypatch.setattr(cache, "cache_get", down)
    assert cc.export(1, 0, "curves", query, button=ids.EXPORT.figure) == (cc.no_update, jobs.UNAVAILABLE)


# --- /transformer ------------------------------------------------------------------------------------------

def test_transformer_figure_html_draws_the_view_s_figure(dash_app):
    from callbacks import transformer as cb
    from layouts import transformer as ids
    from polyviz.pages.transformer import TransformerState

    state, _ = st.from_query(TransformerState, "layer=2&a=3&b=9&kmax=20")
    query = st.to_query(state)
    for view, shown in (("circle", cb.update_circle("minilm", 2, state.text, 3, 9)[0]),
                        ("scaling", cb.update_scaling("minilm", 2, state.text, 20)[0])):
        data, words = cb.download_figure(*[0] * len(ids.VIEWS), query, button=ids.download_id(view, "html"))
        assert words is cb.no_update and data["filename"] == f"polyviz-transformer-{view}-minilm-layer2.html"
        assert_same_traces(figure_in_html(data["content"]), shown)
    data, words = cb.download_figure(*[0] * len(ids.VIEWS), None, button=ids.download_id("circle", "html"))
    assert data is cb.no_update and "did not reach the server" in str(words)


def test_a_3d_export_is_seen_from_the_camera_the_user_turned(sf):
    # the camera store follows the user's mouse; the query Store does not hold cameras
    cb, ids, state, query, figures = sf
    assert "surface_cam" not in query
    turned = {"graphs": dict(ids.CAMERA_FIELDS), "cams": {"surface_cam": "1.5,-1.6,1", "sphere_cam": ""}}
    out = sent(cb.export(1, 0, "surface", query, turned, button=ids.EXPORT.figure))
    camera = figure_in_html(out["content"])["layout"]["scene"]["camera"]
    assert camera["eye"] == {"x": 1.5, "y": -1.6, "z": 1.0} and camera["center"] == {"x": 0, "y": 0, "z": 0}
    # the sphere was not turned: its export keeps the figure's own camera, as the page shows it
    sphere = figure_in_html(sent(cb.export(1, 0, "sphere", query, turned, button=ids.EXPORT.figure))["content"])
    assert sphere["layout"]["scene"].get("camera") == figures["sphere"]["layout"]["scene"].get("camera")
    # a store the browser garbled is the figure's own camera, not an error
    garbled = {"cams": {"surface_cam": "nan,1,<script>", 7: "1,1,1"}}
    plain = figure_in_html(sent(cb.export(1, 0, "surface", query, garbled, button=ids.EXPORT.figure))["content"])
    assert plain["layout"]["scene"].get("camera") == figures["surface"]["layout"]["scene"].get("camera")

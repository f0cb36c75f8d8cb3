"""Your own data on /train: upload and drawing through the page's callbacks (called as
functions and over HTTP as the browser does), links that reopen the data, the state's
`data` field, training on uploaded data end to end, and the exports of a run."""

from __future__ import annotations

import base64
import csv
import io

import dash_http
import numpy as np
import pytest

from polyviz import state as st


@pytest.fixture(scope="module")
def mods(dash_app):
    from callbacks import exports as cx
    from callbacks import train as ct
    from callbacks import userdata as cu
    from layouts import train as ids
    from layouts import userdata as data_ids

    return ct, cu, cx, ids, data_ids


def upload_value(text: str) -> str:
    """What dcc.Upload sends for a file."""
    return "data:text/csv;base64," + base64.b64encode(text.encode()).decode()


def blobs_csv(n=200, seed=0, classes=("left", "right"), header=True) -> str:
    """Well-separated Gaussian blobs around (-1, -1), (1, 1) (and (1, -1) for a third class)."""
    rng = np.random.default_rng(seed)
    centres = [(-1.0, -1.0), (1.0, 1.0), (1.0, -1.0)]
    rows = ["u,v,kind"] if header else []
    for i in range(n):
        k = i % len(classes)
        x, y = np.asarray(centres[k]) + 0.25 * rng.standard_normal(2)
        rows.append(f"{x:.5f},{y:.5f},{classes[k]}")
    return "\n".join(rows) + "\n"


def typed_values(spec) -> np.ndarray:
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype="<" + spec["dtype"]).astype(np.float64)


def class_points(figure) -> dict:
    """{class name: (k, 2) points} of the data figure's scatter traces."""
    return {trace["name"].removeprefix("class "): np.stack([typed_values(trace["x"]), typed_values(trace["y"])], 1)
            for trace in figure["data"] if trace["type"] == "scatter"}


def state_with(**fields):
    from polyviz.pages.train import TrainState

    return st.validate(TrainState, fields)[0]


def controls(state):
    from polyviz.pages.train import control_values

    return control_values(state)


def texts(items) -> list[str]:
    return [item.children for item in items]


# --- the state's data field --------------------------------------------------------------------

def test_the_data_field_is_validated_with_a_notice_naming_it():
    from polyviz.pages.train import TrainState

    good = "0123456789abcdef" * 2 + "01234567"
    state, notices = st.validate(TrainState, {"data": good})
    assert state.data == good and notices == []
    for bad in ("XYZ", good.upper(), good + "0", "../../etc/passwd", 5, None):
        state, notices = st.validate(TrainState, {"data": bad})
        assert state.data == "" and len(notices) == 1
        assert notices[0].startswith("data = ") and "40 hexadecimal digits" in notices[0] and "using empty" in notices[0]
    assert "data=" + good in st.to_query(st.validate(TrainState, {"data": good})[0])


def test_built_in_run_keys_do_not_change_and_own_data_keys_ignore_the_built_in_fields():
    from polyviz.pages.train import TrainState

    plain = st.validate(TrainState, {})[0]
    assert set(plain.training_fields()) == {"dataset", "noise", "n", "data_seed", "ratio", "depth", "width", "act",
                                            "eps", "lr", "steps", "batch", "seed", "origin", "groups", "architecture"}
    h = "ab" * 20
    one, two = state_with(data=h, dataset="moons", n=300), state_with(data=h, dataset="xor", noise=0.5)
    assert one.training_fields() == two.training_fields() and one.training_fields()["data"] == h
    assert state_with(data=h, data_seed=3).training_fields() != one.training_fields()  # the split seed counts


# --- upload ---------------------------------------------------------------------------------------

def test_an_upload_through_the_page_callback_is_stored_by_content_hash(mods):
    ct, cu, _cx, ids, data_ids = mods
    from polyviz.userdata import parse_csv
    from services import data_store

    text = blobs_csv(60)
    content_hash, drawing, error, style = cu.upload_data(upload_value(text))
    assert content_hash == parse_csv(text.encode()).content_hash and drawing is False and style["display"] == "none"
    stored = data_store.load_data(content_hash)
    assert stored.n == 60 and stored.classes == ("left", "right") and stored.columns == ("u", "v")
    # the page follows: its query carries the hash, the notices are empty, the hint offers training
    notices, query, key, *_rest = ct.sync_state(*controls(state_with(data=content_hash)), None, None, None)
    assert texts(notices) == [] and f"data={content_hash}" in query and "&n=60&" in query
    assert _rest[2].startswith("Not trained yet with these settings")
    # the data figure shows exactly the uploaded points, by class
    figure, words, options, value = cu.render_data(content_hash, False, "spiral", 0.01, 1250, 0, "0")
    points = class_points(figure)
    for k, name in enumerate(stored.classes):
        np.testing.assert_allclose(points[name], stored.X[stored.y == k], rtol=1e-6)
    assert "60 uploaded points, 2 features, 2 classes (left: 30, right: 30)" in words[0]
    assert [o["value"] for o in options][:2] == ["left", "right"]


def test_a_bad_upload_says_what_and_where_in_words(mods):
    _ct, cu, *_ = mods
    out = cu.upload_data(upload_value("x,y,label\n1,2,a\n3,,b\n"))
    assert out[0] is cu.no_update and out[3]["display"] == "block"
    assert out[2] == ("The file was not loaded: row 3, column 2 ('y'): missing value (every feature cell needs a "
                      "number).")
    out = cu.upload_data("data:application/octet-stream;base64," + base64.b64encode(b"\x80\x04\x95 pickle").decode())
    assert out[0] is cu.no_update and "not UTF-8 text" in out[2]


def test_three_classes_train_with_softmax_and_show_their_confusion_matrix(mods):
    import app as app_module
    from services import jobs

    ct, cu, *_ = mods
    content_hash, *_ = cu.upload_data(upload_value(blobs_csv(150, classes=("a", "b", "c"))))
    state = state_with(data=content_hash, steps=200, seed=0)
    notices, *_rest = ct.sync_state(*controls(state), None, None, None)
    assert not any("classes" in n for n in texts(notices))
    with app_module.server.test_request_context("/train"):
        job, *_ = ct.start_training(1, None, *controls(state), None)
    assert isinstance(job, dict)
    outcome = jobs.run_job(job, jobs.TRAIN)
    out = ct.render_results(outcome.key, outcome.key)
    confusion, style = out[4], out[5]
    assert style == {"display": "block"}
    cm = np.array(confusion["data"][0]["text"]).astype(int)
    assert cm.shape == (3, 3) and cm.sum() == 30  # the 20 % test split of 150 points


def test_a_sweep_on_your_data_is_stored_under_the_key_the_page_looks_up(mods):
    """The sweep button applies your data's rules (n is its number of points, a batch larger than
    its training split is full batch) as Train does: pressed again, it opens the cached sweep."""
    import app as app_module
    from callbacks import sweep as cs
    from services import cache, jobs, run_store

    ct, cu, *_ = mods
    content_hash, *_ = cu.upload_data(upload_value(blobs_csv(60, seed=4)))
    state = state_with(data=content_hash, n=1000, batch=500, steps=30, k=2, seed=0)
    _notices, _query, _run, _result, _sweep_key, *_ = ct.sync_state(*controls(state), None, None, None)
    resolved = state_with(data=content_hash, n=60, batch=0, steps=30, k=2, seed=0)
    cache.cache.delete(run_store.sweep_key(resolved.sweep_fields()))
    with app_module.server.test_request_context("/train"):
        job, key, _status, *_ = cs.start_sweep(1, *controls(state))
    assert isinstance(job, dict) and st.from_query(type(state), job["query"])[0] == resolved
    outcome = jobs.run_job(job, jobs.SWEEP)
    assert outcome.key == run_store.sweep_key(resolved.sweep_fields()), outcome.status
    with app_module.server.test_request_context("/train"):
        job, key, status, *_ = cs.start_sweep(2, *controls(state))
    assert job is cs.no_update and key == outcome.key and status.startswith("Opened the cached sweep")
    assert ct.sync_state(*controls(state), None, None, None)[4] == outcome.key  # the page shows that sweep
    gone = state_with(data="cd" * 20, k=2)
    job, _key, status, *_ = cs.start_sweep(3, *controls(gone))
    assert job is cs.no_update and "no longer in the cache" in status


def test_a_link_to_data_the_cache_no_longer_holds(mods):
    ct, _cu, _cx, ids, _data_ids = mods
    gone = "cd" * 20
    notices, query, *_ = ct.sync_state(*controls(state_with(data=gone)), None, None, None)
    assert any("is no longer in the cache" in n and "upload or draw it again" in n for n in texts(notices))
    job, _key, status, *_ = ct.start_training(1, None, *controls(state_with(data=gone)), None)
    assert job is ct.no_update and "no longer in the cache" in status


# --- drawing ----------------------------------------------------------------------------------------

def test_drawn_points_round_trip_through_a_link(mods, client):
    _ct, cu, _cx, ids, data_ids = mods
    assert cu.clear_or_builtin() == ("", False, {"display": "none"})  # no callback context: not Clear
    data_hash, drawing = "", True  # the empty canvas after Clear
    clicks = [(0.5, 0.5, "1"), (0.6, 0.4, "1"), (-0.5, -0.5, "0"), (-0.4, -0.7, "0"), (0.1, -0.9, "0")]
    for x, y, label in clicks:
        data_hash, drawing, error, _style = cu.draw_point({"points": [{"x": x, "y": y}]}, label, data_hash, drawing,
                                                          "spiral", 0.01, 1250, 0)
        assert error == "" and drawing is False
    # the link reopens exactly these points: the router's layout holds the hash ...
    page = dash_http.route(client, f"/train?data={data_hash}&steps=100")
    found = dash_http.by_id(page["layout"])
    assert found[data_ids.DATA]["value"] == data_hash and f"data={data_hash}" in found[ids.QUERY]["data"]
    # ... and the data figure's callback, fired over HTTP as the browser does, draws them
    deps = dash_http.dependencies(client)
    render = dash_http.find_callback(deps, data_ids.DATA_FIG, "figure")
    values = {f"{data_ids.DATA}.value": data_hash, f"{data_ids.DRAWING}.data": False, f"{ids.DATASET}.value": "spiral",
              f"{ids.NOISE}.value": 0.01, f"{ids.N}.value": 1250, f"{ids.DATA_SEED}.value": 0,
              f"{data_ids.DRAW_CLASS}.value": "0"}
    response = dash_http.post(client, dash_http.payload(render, values, [f"{data_ids.DATA}.value"]))
    assert response.status_code == 200
    figure = response.get_json()["response"][data_ids.DATA_FIG]["figure"]
    points = class_points(figure)
    for name in ("0", "1"):
        expected = np.array([(x, y) for x, y, label in clicks if label == name], np.float32)
        np.testing.assert_allclose(points[name], expected, rtol=1e-6)
    # one more click over HTTP adds a sixth point to the same data
    draw = next(dep for dep in dash_http.server_callbacks(deps)
                if any(i["id"] == data_ids.DATA_FIG and i["property"] == "clickData" for i in dep["inputs"]))
    values = {f"{data_ids.DATA_FIG}.clickData": {"points": [{"x": -0.9, "y": 0.9, "curveNumber": 0}]},
              f"{data_ids.DRAW_CLASS}.value": "1", f"{data_ids.DATA}.value": data_hash,
              f"{data_ids.DRAWING}.data": False, f"{ids.DATASET}.value": "spiral", f"{ids.NOISE}.value": 0.01,
              f"{ids.N}.value": 1250, f"{ids.DATA_SEED}.value": 0}
    response = dash_http.post(client, dash_http.payload(draw, values, [f"{data_ids.DATA_FIG}.clickData"]))
    assert response.status_code == 200
    new_hash = response.get_json()["response"][data_ids.DATA]["value"]
    from services import data_store

    more = data_store.load_data(new_hash)
    assert new_hash != data_hash and more.n == 6 and more.X[-1].tolist() == pytest.approx([-0.9, 0.9])
    assert [more.classes[k] for k in more.y] == ["1", "1", "0", "0", "0", "1"]


def test_a_click_on_the_built_in_data_starts_from_its_points(mods):
    _ct, cu, *_ = mods
    from polyviz.datasets import make_dataset
    from services import data_store

    content_hash, *_ = cu.draw_point({"points": [{"x": 0.25, "y": -0.75}]}, "1", "", False, "moons", 0.1, 40, 3)
    data = data_store.load_data(content_hash)
    X, y = make_dataset("moons", 40, 0.1, 3)
    assert data.n == 41 and data.classes == ("0", "1")
    np.testing.assert_array_equal(data.X[:40], X)
    assert data.y[:40].tolist() == y.tolist() and data.y[40] == 1
    # 3-D data cannot be drawn on: said in words
    out = cu.draw_point({"points": [{"x": 0.1, "y": 0.1}]}, "0", "", False, "octant_sphere", 0.0, 100, 0)
    assert out[0] is cu.no_update and "2-D data only" in out[2]
    for junk in (None, {}, {"points": []}, {"points": [{"x": "a"}]}):
        assert cu.draw_point(junk, "0", "", False, "spiral", 0.01, 100, 0) == (cu.no_update,) * 4
    out = cu.draw_point({"points": [{"x": "nan", "y": 0}]}, "0", "", True, "spiral", 0.01, 100, 0)
    assert out[0] is cu.no_update and "is not a finite number" in out[2]


# --- training on uploaded data, end to end, and the exports -------------------------------------------

@pytest.fixture(scope="module")
def uploaded_run(mods):
    ct, cu, *_ = mods
    from services import cache, jobs, run_store

    content_hash, *_ = cu.upload_data(upload_value(blobs_csv(200, seed=1)))
    state = state_with(data=content_hash, steps=300, seed=0)
    cache.cache.delete(run_store.run_key(state.training_fields()))
    import app as app_module

    with app_module.server.test_request_context("/train"):  # admission reads the client's cookie
        job, *_ = ct.start_training(1, None, *controls(state), None)
    assert isinstance(job, dict) and job["query"].endswith(f"data={content_hash}")
    outcome = jobs.run_job(job, jobs.TRAIN)
    return {"hash": content_hash, "state": state, "outcome": outcome}


def test_every_download_of_a_run_on_your_data_is_named_after_your_data(mods, uploaded_run):
    """The model's zip is named like the CSV and HTML exports (it was named after the built-in
    data set the controls still held: polyviz-spiral-… for a model of your data)."""
    ct, _cu, cx, _ids, data_ids = mods
    from services import run_store

    key = uploaded_run["outcome"].key
    stem = f"polyviz-user-data-{run_store.model_id(key)[:10]}"
    sent, status = ct.download_model(1, key)
    assert status is ct.no_update and sent["filename"] == f"{stem}.zip"
    sent, _status = cx.export(1, 0, 0, "boundary", key, button=data_ids.EXPORT_CURVES)
    assert sent["filename"] == f"{stem}-curves.csv"


def test_training_on_uploaded_data_end_to_end(mods, uploaded_run):
    ct, *_ = mods
    from polyviz.datasets import train_test_split
    from polyviz.models import predict
    from services import data_store, run_store

    outcome = uploaded_run["outcome"]
    assert outcome.percent == "100" and outcome.status.startswith("Trained 300 steps"), outcome.status
    run = run_store.load_run(outcome.key)
    assert run.data.name == f"user-data:{uploaded_run['hash']}" and run.fields["data"] == uploaded_run["hash"]
    # the blobs are separable: the model must get the held-out points right (the split is recomputed here)
    data = data_store.load_data(uploaded_run["hash"])
    Xtr, Xte, ytr, yte = train_test_split(data.X, data.y, 0.8, 0)
    assert len(Xtr) == 160 and len(Xte) == 40
    assert np.mean(predict(run.params, Xte) == yte) >= 0.95 and run.final_test_acc >= 0.95
    out = ct.render_results(outcome.key, outcome.key)
    boundary, summary = out[1], out[6]
    assert boundary["data"][0]["type"] == "heatmap"
    assert "your data · 160 training / 40 test points" in summary[1].children
    # Train again on the same data and settings: the cached run opens
    job, key, status, *_ = ct.start_training(2, None, *controls(uploaded_run["state"]), None)
    assert job is ct.no_update and key == outcome.key and "cached" in status


def test_export_points_csv_has_every_point_with_the_model_s_prediction(mods, uploaded_run):
    import torch

    from polyviz.datasets import train_test_split
    from polyviz.models import build_module
    from services import data_store, run_store

    _ct, _cu, cx, _ids, data_ids = mods
    key = uploaded_run["outcome"].key
    assert cx.enable_exports(key) == (False, False, False) and cx.enable_exports(None) == (True, True, True)
    sent, status = cx.export(1, 0, 0, "boundary", key, button=data_ids.EXPORT_POINTS)
    assert status is cx.no_update and sent["filename"].endswith("-points.csv")
    rows = list(csv.DictReader(io.StringIO(sent["content"])))
    data = data_store.load_data(uploaded_run["hash"])
    Xtr, Xte, ytr, yte = train_test_split(data.X, data.y, 0.8, 0)
    assert [r["split"] for r in rows] == ["train"] * 160 + ["test"] * 40
    X = np.array([[float(r["u"]), float(r["v"])] for r in rows], np.float32)
    np.testing.assert_array_equal(X, np.concatenate([Xtr, Xte]))
    assert [r["label"] for r in rows] == [data.classes[k] for k in np.concatenate([ytr, yte])]
    # P(class 1) against torch's own module with the run's weights (an independent forward pass)
    run = run_store.load_run(key)
    module = build_module(run.params.config, run.params)
    with torch.no_grad():
        expected = torch.sigmoid(module(torch.as_tensor(X, dtype=run.params.flat.dtype))).reshape(-1).numpy()
    np.testing.assert_allclose([float(r["p_class1"]) for r in rows], expected, rtol=1e-4, atol=1e-6)
    assert [r["predicted"] for r in rows] == [data.classes[int(p > 0.5)] for p in expected]


def test_export_curves_csv_and_a_standalone_figure_html(mods, uploaded_run):
    from services import run_store

    _ct, _cu, cx, _ids, data_ids = mods
    key = uploaded_run["outcome"].key
    run = run_store.load_run(key)
    sent, _ = cx.export(0, 1, 0, "boundary", key, button=data_ids.EXPORT_CURVES)
    rows = list(csv.DictReader(io.StringIO(sent["content"])))
    assert [int(r["step"]) for r in rows] == run.history["step"].tolist()
    np.testing.assert_allclose([float(r["train_loss"]) for r in rows], run.history["train_loss"], rtol=1e-5)
    tested = {int(r["step"]): float(r["test_acc"]) for r in rows if r["test_acc"]}
    assert sorted(tested) == run.history["test_step"].tolist()
    np.testing.assert_allclose(list(tested.values()), run.history["test_acc"], rtol=1e-5)
    sent, _ = cx.export(0, 0, 1, "boundary", key, button=data_ids.EXPORT_FIGURE)
    page = sent["content"]
    assert sent["filename"].endswith("-boundary.html") and page.lower().startswith(("<!doctype html>", "<html"))
    assert "<title>polyviz · decision boundary" in page
    assert "<script src=" not in page  # plotly.js is inline: the file opens offline
    assert "Plotly.newPlot" in page and '"type":"contour"' in page and '"type":"heatmap"' in page
    sent, _ = cx.export(0, 0, 1, "not-a-figure", key, button=data_ids.EXPORT_FIGURE)
    assert sent["filename"].endswith("-boundary.html")
    sent, _ = cx.export(0, 0, 1, "curves", key, button=data_ids.EXPORT_FIGURE)
    assert '"name":"train loss"' in sent["content"]
    assert cx.export(1, 0, 0, "boundary", "nope", button=data_ids.EXPORT_POINTS) == (cx.no_update, cx.GONE)

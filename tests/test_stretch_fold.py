"""The Stretch & fold library, figures and callbacks (called directly and over HTTP)."""

from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go
import pytest

import dash_http
from polyviz import figures
from polyviz import stretch_fold as sf


def decode(spec):
    """A figure array back from its base64 typed-array form."""
    if isinstance(spec, dict) and "bdata" in spec:
        import base64

        return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]).newbyteorder("<"))
    return np.asarray(spec)


def test_stretch_sends_points_towards_the_poles():
    points = sf.input_points("circle", 400)
    weak = sf.apply(points, "stretch", 1.0, 1e-4)
    strong = sf.apply(points, "stretch", 5.0, 1e-4)
    away = np.abs(points[:, 0]) > 0.05
    assert np.mean(np.abs(strong[away, 0])) > np.mean(np.abs(weak[away, 0])) + 0.1
    np.testing.assert_array_equal(np.sign(strong[away, 0]), np.sign(points[away, 0]))


def test_shift_folds_the_two_ends_of_the_x_axis_together():
    ends = np.array([[-1.0, 0.0], [1.0, 0.0]])
    images = sf.apply(ends, "shift", 2.0, 1e-4)
    np.testing.assert_allclose(images[0], images[1], atol=1e-3)
    # with a small shift the left end is thrown across the origin instead
    assert sf.apply(ends, "shift", 0.5, 1e-4)[0, 0] < 0


def test_affine_path_runs_from_identity_to_the_map():
    points = sf.input_points("disc", 50, seed=3)
    affine = (2.0, 1.0, -0.5, 0.5, 0.3, -0.2)
    np.testing.assert_allclose(sf.transform(points, "affine", 0.0, affine), points)
    a = np.array([[2.0, 1.0], [-0.5, 0.5]])
    np.testing.assert_allclose(sf.transform(points, "affine", 1.0, affine), points @ a.T + [0.3, -0.2])


def test_input_distributions():
    assert np.allclose(np.linalg.norm(sf.input_points("circle", 100), axis=1), 1.0)
    disc = sf.input_points("disc", 500, seed=1)
    assert np.all(np.linalg.norm(disc, axis=1) <= 1.0)
    np.testing.assert_array_equal(disc, sf.input_points("disc", 500, seed=1))
    assert sf.input_points("grid", 400).shape == (400, 2)
    sphere = sf.sphere_points(300)
    np.testing.assert_allclose(np.linalg.norm(sphere, axis=1), 1.0)
    assert abs(sphere.mean(axis=0)).max() < 0.01


def test_figures_are_valid_plotly_and_carry_the_exact_images():
    figs = figures.stretch_fold_figures(op="shift", t=2.0, eps=0.01, n=300)
    assert set(figs) == {"circle", "curve", "surface", "sphere"}
    assert all(isinstance(f, go.Figure) for f in figs.values())
    spec = figures.stretch_fold_specs(op="shift", t=2.0, eps=0.01, n=300)
    inputs = np.stack([decode(spec["circle"]["data"][2]["x"]), decode(spec["circle"]["data"][2]["y"])], 1)
    images = np.stack([decode(spec["circle"]["data"][3]["x"]), decode(spec["circle"]["data"][3]["y"])], 1)
    np.testing.assert_allclose(images, sf.apply(inputs.astype(np.float64), "shift", 2.0, 0.01), atol=1e-6)
    # the 1-D curve is the slice at y = 0 and the reference is the plain sigmoid
    xs = decode(spec["curve"]["data"][1]["x"]).astype(np.float64)
    np.testing.assert_allclose(decode(spec["curve"]["data"][1]["y"]), (xs + 2) / np.sqrt((xs + 2) ** 2 + 0.01),
                               atol=1e-6)
    np.testing.assert_allclose(decode(spec["curve"]["data"][0]["y"]), xs / np.sqrt(xs ** 2 + 1), atol=1e-6)


def test_figure_payload_stays_small_for_2000_points():
    specs = figures.stretch_fold_specs(n=2000)
    # (the surface is a mesh with its triangles, about 20 KB more than a Plotly surface grid,
    # which re-interpolates itself on every repaint and made each move of t cost ~250 ms;
    # the circle's images carry their inputs for the hover: 16 KB of float32 at n = 2000)
    assert sum(len(json.dumps(s)) for s in specs.values()) < 160_000


# --- callbacks -------------------------------------------------------------------------

def test_callback_called_directly_returns_four_figures_and_query(dash_app):
    from callbacks.stretch_fold import update_figures

    out = update_figures(2.0, "shift", -2, 500, "circle", 0, 1, 0, 0, 1, 0, 0)
    circle, curve, surface, sphere, notices, query, affine_style = out
    assert circle["layout"]["meta"]["op"] == "shift" and circle["layout"]["meta"]["t"] == 2.0
    assert notices == [] and "op=shift" in query and "t=2" in query and "eps=0.01" in query
    assert affine_style == {"display": "none"}


def test_callback_validates_its_payload(dash_app):
    from callbacks.stretch_fold import update_figures

    out = update_figures("abc", "bogus", 99, -5, "cube", "x", 1e300, 0, 0, 1, 0, 0)
    notices = [item.children for item in out[4]]
    text = " ".join(notices)
    for field in ("t =", "op =", "eps =", "n =", "dist =", "seed =", "a11 ="):
        assert field in text, field
    assert out[0]["layout"]["meta"]["op"] == "stretch"


@pytest.fixture(scope="module")
def figure_callback(client):
    return dash_http.find_callback(dash_http.dependencies(client), "sf-circle", "figure")


def values(**overrides):
    base = {"sf-committed-t.data": 2.0, "sf-op.value": "shift", "sf-log-eps.value": -2, "sf-n.value": 2000,
            "sf-dist.value": "circle", "sf-seed.value": 0}
    base.update(overrides)
    return base


def test_http_callback_full_redraw(client, figure_callback):
    response = dash_http.post(client, dash_http.payload(figure_callback, values(), ["sf-n.value"]))
    assert response.status_code == 200
    body = response.get_json()["response"]
    assert len(body["sf-circle"]["figure"]["data"]) == 4
    assert body["sf-query"]["data"].startswith("op=shift&t=2&eps=0.01&n=2000")


def test_http_callback_t_change_sends_only_what_moved(client, figure_callback):
    full = dash_http.post(client, dash_http.payload(figure_callback, values(), ["sf-n.value"]))
    moved = dash_http.post(client, dash_http.payload(figure_callback, values(), ["sf-committed-t.data"]))
    assert moved.status_code == 200
    circle = moved.get_json()["response"]["sf-circle"]["figure"]
    assert circle["__dash_patch_update"] == "__dash_patch_update"
    assert len(moved.data) < 0.6 * len(full.data)


@pytest.mark.parametrize("bad", [
    {"sf-committed-t.data": "abc"}, {"sf-committed-t.data": 1e308}, {"sf-log-eps.value": "nan"},
    {"sf-n.value": 1_000_000_000}, {"sf-op.value": {"x": 1}}, {"sf-dist.value": None},
    {"sf-seed.value": "1" * 5000}, {"sf-n.value": [1, 2, 3]},
])
def test_http_callback_never_fails_on_bad_payload(client, figure_callback, bad):
    response = dash_http.post(client, dash_http.payload(figure_callback, values(**bad), ["sf-n.value"]))
    assert response.status_code == 200
    notices = response.get_json()["response"]["sf-notices"]["children"]
    if bad != {"sf-dist.value": None}:  # None means "empty widget": the default, silently
        assert notices, bad


# --- the page's layout (what each URL shows: tests/test_pages.py) --------------------------

def test_layout_restores_state_and_shows_notices():
    from dash import html

    from layouts import stretch_fold

    page = stretch_fold.layout(op="shift", t="2", eps="1e9")
    found = {node.id: node for node in page._traverse() if getattr(node, "id", None)}
    assert found["sf-op"].value == "shift" and found["sf-t"].value == 2.0 and found["sf-log-eps"].value == 0.0
    notices = [child.children for child in found["sf-notices"].children]
    assert any("eps = 1000000000 is out of range" in n for n in notices)
    assert isinstance(page, html.Div)


def test_security_headers(client):
    response = client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"]


# --- the words say what the maths does ---------------------------------------------------

def explanation_text() -> str:
    from dash import dcc

    from layouts import stretch_fold

    page = stretch_fold.layout()
    return " ".join(node.children for node in page._traverse() if isinstance(node, dcc.Markdown))


def test_the_fold_words_name_the_x_output_and_its_formula_on_the_circle():
    from polyviz.pages.stretch_fold import PRESETS

    preset = PRESETS["abs"]
    words = preset["text"] + " " + explanation_text()
    assert "y-output" not in words and "$y$-output" not in words
    assert "The x-output is a soft |x|: on the circle it is (x + 2)/√(5 + 4x)" in preset["text"]
    assert r"The $x$-output becomes a soft $|x|$" in explanation_text()
    assert r"$(x+2)/\sqrt{5+4x}$" in explanation_text()
    # The maths the words state, against polyviz.stretch_fold: the preset's map on the circle.
    values = preset["values"]
    assert (values["op"], values["t"], values["dist"]) == ("shift", 2.0, "circle")
    points = sf.input_points("circle", 720)
    x = points[:, 0]
    for eps in (values["eps"], 0.0):
        out = sf.apply(points, "shift", values["t"], eps)
        np.testing.assert_allclose(out[:, 0], (x + 2) / np.sqrt(5 + 4 * x + eps), rtol=1e-13)
    out = sf.apply(points, "shift", 2.0, 0.0)
    # a soft |x|: 1 at both extremes x = +-1, lowest (sqrt(3)/2) at x = -1/2, one value for y and -y
    ends = np.isclose(np.abs(x), 1.0)
    np.testing.assert_allclose(out[ends, 0], 1.0, rtol=1e-15)
    assert out[np.argmin(out[:, 0])][0] == pytest.approx(math.sqrt(3) / 2, rel=1e-4)
    assert x[np.argmin(out[:, 0])] == pytest.approx(-0.5, abs=0.01)
    # ... while the y-output is odd in y (it keeps y's sign): no |x| there
    assert out[:, 1][points[:, 1] > 0.1].min() > 0 > out[:, 1][points[:, 1] < -0.1].max()


def test_hover_on_a_point_gives_its_input_and_its_image():
    """Each image marker carries its input: mapping that input gives the marker's position."""
    import base64

    from polyviz import stretch_fold as sf_maths
    from polyviz.figures import stretch_fold as sff

    def values(spec):
        return np.frombuffer(base64.b64decode(spec["bdata"]), dtype="<" + spec["dtype"]).astype(float)

    specs = sff.stretch_fold_specs(op="shift", t=1.3, eps=0.02, n=200, distribution="disc", seed=3)
    for name, dim in (("circle", 2),):
        trace = specs[name]["data"][-1]
        assert "input (" in trace["hovertemplate"] and "→ image" in trace["hovertemplate"]
        inputs = values(trace["customdata"]).reshape([int(d) for d in trace["customdata"]["shape"].split(",")])
        assert inputs.shape[1] == dim
        images = np.stack([values(trace[axis]) for axis in "xyz"[:dim]], 1)
        expected = sf_maths.apply(inputs, "shift", 1.3, 0.02, sf_maths.IDENTITY_AFFINE)
        assert np.allclose(images, expected, atol=2e-3)

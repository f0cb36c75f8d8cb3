"""The "Polytopes on the LayerNorm sphere" page: state, layout, callbacks (called directly
and over HTTP), and agreement of what the page shows with the library's exact numbers."""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass

import numpy as np
import pytest

import dash_http
from polyviz.figures import sphere as fs
from polyviz import polytopes as pt
from polyviz import state as st
from polyviz.pages.sphere import DATA_POINTS, SphereState, training_sample


@pytest.fixture(scope="module")
def page_modules(dash_app):
    from callbacks import sphere as cb
    from layouts import sphere as lay

    return cb, lay


def layer_args(dim=3, neurons=12, seed=0, wscale=1.0, bscale=0.5, act="relu", source="random", model="", layer=1):
    return (source, dim, neurons, seed, wscale, bscale, act, model, layer)


def text_of(children) -> str:
    return " ".join(str(getattr(item, "children", item)) for item in (children or []))


# --- state and links -------------------------------------------------------------------

def test_default_state_round_trips_through_the_query():
    state = SphereState()
    again, notices = st.from_query(SphereState, st.to_query(state))
    assert again == state and notices == []


def test_random_states_round_trip_exactly():
    rng = random.Random(0)
    for _ in range(50):
        kmax = rng.uniform(0.5, 50)
        state = SphereState(source=rng.choice(["random", "trained"]), dim=rng.choice([3, 4]),
                            neurons=rng.randint(1, 64), model=rng.choice(["", "%040x" % rng.getrandbits(160)]),
                            layer=rng.randint(1, 8),
                            seed=rng.randint(0, 2**31 - 1), wscale=rng.uniform(0.1, 4), bscale=rng.uniform(0, 2),
                            act=rng.choice(["relu", "gelu"]), v_az=rng.uniform(0, 360), v_el=rng.uniform(-90, 90),
                            w_az=rng.uniform(0, 360), w_el=rng.uniform(-90, 90), k=rng.uniform(0.01, kmax),
                            kmax=kmax, full=rng.random() < 0.5)
        again, notices = st.from_query(SphereState, st.to_query(state))
        assert again == state and notices == []


def test_every_control_is_in_the_query():
    query = st.to_query(SphereState())
    for name in ("source", "dim", "neurons", "seed", "wscale", "bscale", "act", "v_az", "v_el", "w_az", "w_el",
                 "k", "kmax", "full", "model", "layer"):
        assert f"{name}=" in query, name


def test_k_above_kmax_is_pulled_back_with_a_notice():
    state, notices = st.from_query(SphereState, "k=8&kmax=5")
    assert state.k == 5 and state.kmax == 5
    assert any("k = 8 is above kmax" in n for n in notices)


def test_layout_restores_state_and_shows_notices(page_modules):
    cb, lay = page_modules
    page = cb.layout(dim="4", neurons="40", act="gelu", v_az="200", k="3", kmax="6", full="1")
    found = {node.id: node for node in page._traverse() if getattr(node, "id", None)}
    assert found[lay.DIM].value == 4 and found[lay.NEURONS_ID].value == 40 and found[lay.ACT].value == "gelu"
    assert found[lay.V_AZ].value == 200 and found[lay.K].value == 3 and found[lay.K].max == 6
    assert found[lay.FULL].value == ["full"]
    assert found[lay.V_EL_BOX].style == {"display": "block"}
    assert found[lay.NOTICES].children == []
    assert "dim=4&neurons=40" in found[lay.QUERY].data

    bad = cb.layout(dim="7", neurons="1000", seed="abc", wscale="-1", act="tanh", source="nope", model="XYZ",
                     layer="0")
    found = {node.id: node for node in bad._traverse() if getattr(node, "id", None)}
    notices = text_of(found[lay.NOTICES].children)
    for expected in ("dim = 7 is out of range (allowed: an integer from 3 to 4)",
                     "neurons = 1000 is out of range (allowed: an integer from 1 to 64)",
                     "seed = 'abc' is not a number", "wscale = -1 is out of range (allowed: a number from 0.1 to 4)",
                     "act = 'tanh' is not allowed (one of relu, gelu)",
                     "source = 'nope' is not allowed (one of random, trained)",
                     "model = 'XYZ' is not allowed (exactly 40 lowercase hex digits",
                     "layer = 0 is out of range (allowed: an integer from 1 to 8)"):
        assert expected in notices, expected
    assert found[lay.LINK_NOTICES].data  # kept for the first draw
    assert found[lay.DIM].value == 4 and found[lay.NEURONS_ID].value == 64


# --- which layer a state names, and its words (polyviz.pages.sphere, no Dash) ----------------

@dataclass(frozen=True)
class ModelRecord:
    """A stand-in for polyviz.pages.sphere.TrainedModel with made-up layers and inputs."""

    layers: tuple
    width: int
    depth: int
    activation: str = "u_eps"
    model_id: str = "ab" * 20
    query: str | None = None

    @property
    def shapes(self):
        return [tuple(W.shape) for W, _ in self.layers]

    def words(self):
        return f"width {self.width}, depth {self.depth}"

    def sphere(self, k):
        from polyviz.models import ModelConfig
        from polyviz.pages.sphere import input_sphere

        return input_sphere(ModelConfig(in_dim=self.layers[0][0].shape[1], width=self.width, depth=self.depth,
                                        activation=self.activation), k)

    def inputs(self, k):
        """Points on the layer's sphere (as the activation puts them there) and labels."""
        rng = np.random.default_rng(k)
        z = rng.normal(size=(40, self.width))
        if self.activation == "layernorm":
            z -= z.mean(axis=1, keepdims=True)
        radius = 1.0 if self.activation == "u_eps" else math.sqrt(self.width)
        return radius * z / np.linalg.norm(z, axis=1, keepdims=True), rng.integers(0, 2, 40)


def mlp_record(in_dim: int, width: int, depth: int, seed: int = 0, activation: str = "u_eps") -> ModelRecord:
    rng = np.random.default_rng(seed)
    sizes = [in_dim] + [width] * depth + [1]
    return ModelRecord(tuple((rng.normal(size=(o, i)), rng.normal(size=o)) for i, o in zip(sizes, sizes[1:])),
                       width, depth, activation)


def test_layer_view_draws_the_named_trained_layer_or_says_why_not():
    """Issue 9.4: a trained layer is drawn on the sphere its inputs really lie on; the page's
    layer takes the model's values there; a one-neuron output layer is not offered."""
    from polyviz.pages.sphere import NO_MODEL, layer_view

    model = mlp_record(2, 3, 2)  # u_ε, width 3: inputs on the unit sphere of R³
    state = SphereState(source="trained", model=model.model_id, layer=1, dim=3, neurons=12, seed=5)
    view = layer_view(state, model)
    assert view.trained and view.readout == "next" and view.notice is None
    assert (view.state.dim, view.state.neurons) == (4, 3)  # a 2-sphere: the page's d = 4
    assert view.sphere.kind == "unit" and view.sphere.radius == 1.0
    W, b = model.layers[1]
    A, labels = model.inputs(1)
    np.testing.assert_allclose(view.points @ view.W.T + view.b, A @ W.T + b, atol=1e-12)  # same values
    np.testing.assert_allclose(np.linalg.norm(view.points, axis=1), 2.0)  # on the LayerNorm sphere of R⁴
    np.testing.assert_array_equal(view.labels, labels)
    np.testing.assert_array_equal(view.w_out, model.layers[2][0][0])  # the next layer's first row
    for act, width, kind in (("rmsnorm", 3, "rms"), ("layernorm", 3, "layernorm"), ("layernorm", 4, "layernorm")):
        other = mlp_record(2, width, 2, activation=act)
        shown = layer_view(dataclasses.replace(state, model=other.model_id), other)
        assert shown.trained and shown.sphere.kind == kind and shown.state.dim == (width if kind == "layernorm" else 4)
        A, _ = other.inputs(1)
        np.testing.assert_allclose(shown.points @ shown.W.T + shown.b, A @ other.layers[1][0].T + other.layers[1][1],
                                   atol=1e-12)

    last = layer_view(dataclasses.replace(state, layer=2), model)  # the output layer: one neuron
    assert not last.trained
    assert last.notice.startswith("layer 2 is this model's output layer, a single neuron")
    assert "choose layer 1." in last.notice
    missing = layer_view(dataclasses.replace(state, layer=3), model)
    assert not missing.trained and missing.model is model and (missing.state.dim, missing.W.shape) == (3, (12, 3))
    assert missing.notice.startswith("layer 3 does not exist: this model (depth 2) has layers 1 to 2")
    narrow = layer_view(state, mlp_record(3, 2, 2))
    assert "reads 2-D inputs on the unit sphere of R², which the page cannot draw" in narrow.notice
    assert "this model has none" in narrow.notice
    wide = layer_view(state, mlp_record(2, 4, 2))
    assert "reads 4-D inputs on the unit sphere of R⁴, which the page cannot draw" in wide.notice
    relu = layer_view(state, mlp_record(2, 3, 2, activation="relu"))
    assert "reads ReLU activations, which lie on no sphere" in relu.notice
    assert "not in the cache" in layer_view(state, None).notice
    unchosen = layer_view(dataclasses.replace(state, model=""), None)
    assert unchosen.problem == NO_MODEL and unchosen.notice is None  # a hint, not an error
    random_layer = layer_view(SphereState(neurons=7, dim=4, seed=2), model)
    assert not random_layer.trained
    np.testing.assert_array_equal(random_layer.W, pt.random_layer(7, 4, seed=2, weight_scale=1.0, bias_scale=0.5)[0])


def test_layer_inputs_lie_on_the_sphere_the_page_names():
    """The generic hook: for every architecture there is, Linear layer k's inputs (the model's
    own activations) lie on the sphere input_sphere names, or it names none."""
    from polyviz.datasets import make_dataset
    from polyviz.models import MLPParams, ModelConfig, init_params
    from polyviz.pages.sphere import input_sphere, layer_inputs

    X, _ = make_dataset("spiral", 200, 0.05, 0)
    for act, width, groups, kind in (("u_eps", 3, 1, "unit"), ("u_eps", 5, 1, "unit"), ("rmsnorm", 3, 1, "rms"),
                                     ("layernorm", 3, 1, "layernorm"), ("layernorm", 4, 1, "layernorm"),
                                     ("group_layernorm", 4, 1, "layernorm"), ("group_layernorm", 4, 2, None),
                                     ("relu", 3, 1, None), ("gelu", 3, 1, None), ("tanh", 3, 1, None),
                                     ("dyt", 3, 1, None), ("none", 3, 1, None)):
        cfg = ModelConfig(in_dim=2, width=width, depth=2, activation=act, eps=1e-8, groups=groups)
        params = MLPParams(cfg, init_params(cfg, 1) * 3)
        assert input_sphere(cfg, 0) is None and input_sphere(cfg, 3) is None  # the data; no such layer
        for k in (1, 2):
            A, sphere = layer_inputs(params, k, X)
            assert A.shape == (200, width)
            if kind is None:
                assert sphere is None, act
                continue
            assert sphere.kind == kind, act
            centred = A - A.mean(axis=1, keepdims=True) if kind == "layernorm" else A
            np.testing.assert_allclose(np.linalg.norm(centred, axis=1), sphere.radius, rtol=1e-4)
            if kind == "layernorm":
                np.testing.assert_allclose(A.mean(axis=1), 0.0, atol=1e-5)
            assert sphere.off_sphere(A) < 1e-4


def test_result_words_count_in_sentences():
    from polyviz.pages.sphere import scaling_words, summary_words

    one = summary_words(SphereState(neurons=1, dim=4), {"circles": 1, "regions": 2})
    assert one.startswith("1 neuron, residual dimension 4: 1 boundary circle cut the LayerNorm sphere into 2 regions")
    many = summary_words(SphereState(neurons=1200, dim=3), {"boundaries": 2, "arcs": 2, "codes": 2})
    assert many.startswith("1,200 neurons, residual dimension 3") and "cut into 2 arcs at 2 boundary points" in many
    meta = {"without": 3, "k": 2.5, "region_without": 2, "on_without": 4, "with_layernorm": 1, "on_with": 5}
    words = scaling_words(SphereState(neurons=8, dim=4, kmax=10), meta)
    assert "meets 3 spline codes" in words and "it is in the 2nd, with 4 of 8 neurons on" in words
    assert "LayerNorm(k·v) = √4 = 2·v" in words


# --- callbacks called directly -----------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_scene_d3_arc_count_is_the_librarys(page_modules, seed, act):
    cb, _ = page_modules
    figure, summary, _ = cb.update_scene(*layer_args(3, 12, seed, act=act), 30, 20, 160, -15, 2.0, 10)
    W, b = pt.random_layer(12, 3, seed=seed, weight_scale=1.0, bias_scale=0.5)
    p, q, r = pt.layernorm_circle(3)
    angles, codes = pt.circle_arcs(W, b, p, q, r)
    meta = figure["layout"]["meta"]
    assert meta["boundaries"] == len(angles) and meta["arcs"] == max(1, len(angles)) == len(codes)
    assert f"cut into {meta['arcs']} arcs" in summary and f"at {len(angles)} boundary points" in summary
    assert len(figure["data"]) == fs.SCENE_BASE_TRACES[3] + fs.SCENE_MARKER_TRACES


@pytest.mark.parametrize("neurons, seed, bscale", [(1, 0, 0.5), (12, 3, 0.5), (64, 0, 0.5), (64, 5, 0.0)])
def test_scene_d4_region_count_is_the_librarys(page_modules, neurons, seed, bscale):
    cb, _ = page_modules
    figure, summary, _ = cb.update_scene(*layer_args(4, neurons, seed, bscale=bscale), 30, 20, 160, -15, 2.0, 10)
    W, b = pt.random_layer(neurons, 4, seed=seed, weight_scale=1.0, bias_scale=bscale)
    count = pt.sphere_region_count(*pt.layernorm_sphere_layer(W, b))
    assert figure["layout"]["meta"]["regions"] == count
    assert f"into {count:,} region" in summary
    assert figure["data"][0]["type"] == "mesh3d"
    assert len(figure["data"]) == fs.SCENE_BASE_TRACES[4] + fs.SCENE_MARKER_TRACES


def test_scene_shows_no_arc_boundary_in_words(page_modules):
    cb, _ = page_modules
    _, summary, _ = cb.update_scene(*layer_args(3, 1, 0, wscale=0.1, bscale=2.0), 30, 20, 160, -15, 2.0, 10)
    W, b = pt.random_layer(1, 3, seed=0, weight_scale=0.1, bias_scale=2.0)
    assert len(pt.circle_arcs(W, b, *pt.layernorm_circle(3))[0]) == 0
    assert "1 arc with a single spline code" in summary


def test_probe_matches_the_library(page_modules):
    cb, _ = page_modules
    for dim in (3, 4):
        circle, rotation, words = cb.update_probe(*layer_args(dim, 20, 2, act="relu"), 30, 20, 160, -15, [])
        W, b = pt.random_layer(20, dim, seed=2, weight_scale=1.0, bias_scale=0.5)
        w_out = pt.random_readout(20, 2)
        v, w = pt.plane_direction(dim, 30, 20), pt.plane_direction(dim, 160, -15)
        p, q, angle = pt.rotation_plane(v, w)
        crossings = pt.circle_crossings(W, b, p, q, math.sqrt(dim))
        assert circle["layout"]["meta"]["crossings"] == len(crossings.angles)
        assert circle["layout"]["meta"]["w_angle"] == pytest.approx(angle)
        probe = pt.rotation_probe(W, b, w_out, v, w)
        meta = rotation["layout"]["meta"]
        assert meta["n_crossings"] == probe.n_crossings
        assert meta["tv_per_radian"] == pytest.approx(probe.tv_per_radian)
        assert f"{probe.n_crossings} boundary crossing" in words and f"{probe.tv_per_radian:.3g} per radian" in words
        # the rotation path is part of the great circle: its crossings are among the circle's
        inside = crossings.angles[(crossings.angles > 0) & (crossings.angles < angle)]
        assert len(inside) == probe.n_crossings


def test_probe_full_turn_and_parallel_directions(page_modules):
    cb, _ = page_modules
    _, rotation, words = cb.update_probe(*layer_args(3, 10, 1), 30, 0, 160, 0, ["full"])
    assert rotation["layout"]["meta"]["angle_end"] == pytest.approx(2 * math.pi) and "full turn" in words
    # w = v (and w = -v in d = 3): no single great circle; a full turn through v instead, no error
    for w_az in (30, 210):
        circle, rotation, words = cb.update_probe(*layer_args(3, 10, 1), 30, 0, w_az, 0, [])
        assert rotation["layout"]["meta"]["parallel"] and "no single great circle" in words
        assert circle["layout"]["meta"]["w_angle"] is None


def test_gelu_probe_says_soft_boundaries(page_modules):
    cb, _ = page_modules
    circle, rotation, words = cb.update_probe(*layer_args(4, 16, 0, act="gelu"), 30, 20, 160, -15, [])
    assert "soft boundary" in words and "GELU" in rotation["layout"]["title"]["text"]
    assert circle["data"][2]["type"] == "heatmap"


@pytest.mark.parametrize("dim", [3, 4])
def test_scaling_matches_the_library(page_modules, dim):
    cb, _ = page_modules
    figure, words = cb.update_scaling(*layer_args(dim, 32, 4), 30, 20, 2.5, 10)
    W, b = pt.random_layer(32, dim, seed=4, weight_scale=1.0, bias_scale=0.5)
    v = pt.plane_direction(dim, 30, 20)
    plain = pt.scaling_regions(W, b, v, 10, layernorm=False)
    normed = pt.scaling_regions(W, b, v, 10, layernorm=True)
    meta = figure["layout"]["meta"]
    assert meta["without"] == plain.regions and meta["with_layernorm"] == normed.regions == 1
    assert meta["region_without"] == 1 + int(np.sum(plain.breakpoints <= 2.5))
    assert meta["on_without"] == int(pt.spline_codes(W, b, 2.5 * v[None])[0].sum())
    assert meta["on_with"] == int(pt.spline_codes(W, b, math.sqrt(dim) * v[None])[0].sum())
    assert f"meets {plain.regions} spline code" in words and "meets exactly 1" in words


def test_markers_patch_replaces_only_the_marker_traces(page_modules):
    cb, _ = page_modules
    for dim in (3, 4):
        patch = cb.move_markers(100, 10, 200, -30, 4.0, dim, 10).to_plotly_json()
        locations = [op["location"] for op in patch["operations"]]
        base = fs.SCENE_BASE_TRACES[dim]
        assert locations == [["data", base + i] for i in range(fs.SCENE_MARKER_TRACES)]
        full, _, _ = cb.update_scene(*layer_args(dim), 100, 10, 200, -30, 4.0, 10)
        for op, trace in zip(patch["operations"], full["data"][base:]):
            assert op["params"]["value"] == trace  # the same markers a full redraw would draw


def test_scene_marker_v_is_the_layernorm_image_of_k_v():
    from polyviz.geometry import layer_norm, layernorm_plane_basis

    for dim in (3, 4):
        v, w = pt.plane_direction(dim, 75, 35), pt.plane_direction(dim, 300, -20)
        traces = fs.scene_marker_traces(v, w, k=3.0)
        point = np.array([float(_decode(traces[2][a])[0]) for a in "xyz"])
        image = layer_norm(3.0 * v[None], 0.0)[0]
        if dim == 3:  # raw coordinates: the point on the circle of radius sqrt(3)
            np.testing.assert_allclose(point, image, atol=1e-6)
        else:  # unit-sphere Helmert coordinates (drawn just above the surface)
            np.testing.assert_allclose(point / np.linalg.norm(point), layernorm_plane_basis(4) @ image / 2, atol=1e-6)


def _decode(spec):
    import base64

    if isinstance(spec, dict) and "bdata" in spec:
        return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]).newbyteorder("<"))
    return np.asarray(spec)


def test_query_callback_names_each_bad_field(page_modules):
    cb, _ = page_modules
    query, notices, v_el_style, _ = cb.update_query("nope", 7, 1000, "abc", -1, -1, "tanh", "F" * 40, 99, 400, 100,
                                                    -5, 0, 60, 10, "x", None)
    text = text_of(notices)
    for field in ("source =", "dim = 7", "neurons = 1000", "seed = 'abc'", "wscale = -1", "bscale = -1",
                  "act = 'tanh'", f"model = '{'F' * 40}'", "layer = 99", "v_az = 400", "v_el = 100", "w_az = -5",
                  "k = 60", "full = 'x'"):
        assert field in text, field
    assert query.startswith("source=random&dim=4&neurons=64&seed=0&wscale=0.1&bscale=0&act=relu")
    assert v_el_style == {"display": "block"}
    good = cb.update_query("random", 3, 12, 0, 1, 0.5, "relu", "", 1, 30, 20, 160, -15, 2, 10, [], ["from the link"])
    assert text_of(good[1]) == "from the link" and good[2] == {"display": "none"}


def test_k_range_follows_kmax(page_modules):
    cb, _ = page_modules
    top, marks, value = cb.update_k_range(5, 8)
    assert top == 5 and value == 5 and max(float(m) for m in marks) == 5
    top, marks, value = cb.update_k_range(20, 3)
    assert top == 20 and value is cb.no_update


def test_library_helpers_for_the_page():
    for d in (3, 4, 6):
        v = pt.plane_direction(d, 123, -40)
        assert abs(np.linalg.norm(v) - 1) < 1e-12 and abs(v.sum()) < 1e-12
    np.testing.assert_allclose(pt.plane_direction(3, 0, 77), pt.layernorm_circle(3)[0])
    w_out = pt.random_readout(16, 3)
    np.testing.assert_array_equal(w_out, pt.random_readout(16, 3))
    W, b = pt.random_layer(16, 4, seed=3)
    np.testing.assert_array_equal(W, pt.random_layer(16, 4, seed=3)[0])  # the readout does not disturb W
    v = pt.plane_direction(4, 10, 10)
    p, q, angle = pt.great_circle(v, -2 * v)
    assert angle is None and abs(p @ q) < 1e-12 and abs(q.sum()) < 1e-12 and abs(np.linalg.norm(q) - 1) < 1e-12


# --- over HTTP ------------------------------------------------------------------------

def server_dep(client, output: str, allow_duplicate: bool = False) -> dict:
    """The server callback with this output ('id.prop'); duplicates carry an '@hash'."""
    for dep in dash_http.server_callbacks(dash_http.dependencies(client)):
        parts = dep["output"].strip(".").split("...")
        for part in parts:
            ident = part.split("@")[0]
            if ident == output and ("@" in part) == allow_duplicate:
                return dep
    raise KeyError(output)


def default_values(client) -> dict:
    """'id.prop' -> value for every control of the default /sphere layout."""
    from callbacks import sphere as cb

    values = {}
    for node in cb.layout()._traverse():
        ident = getattr(node, "id", None)
        if isinstance(ident, str):
            for prop in ("value", "data"):
                value = getattr(node, prop, None)
                if value is not None:
                    values[f"{ident}.{prop}"] = value
    return values


@pytest.fixture(scope="module")
def http(client):
    deps = {name: server_dep(client, out, dup) for name, out, dup in [
        ("scene", "sp-scene.figure", False), ("markers", "sp-scene.figure", True),
        ("probe", "sp-circle.figure", False), ("scaling", "sp-scaling.figure", False),
        ("query", "sp-query.data", False), ("krange", "sp-k.max", False)]}
    return deps, default_values(client)


def fire(client, dep, values, changed):
    response = dash_http.post(client, dash_http.payload(dep, values, changed))
    assert response.status_code == 200, response.data[:300]
    return response.get_json()["response"]


def test_http_scene_redraws_for_neurons_and_reports_its_size(client, http):
    deps, values = http
    body = fire(client, deps["scene"], {**values, "sp-neurons.value": 64, "sp-dim.value": 4}, ["sp-neurons.value"])
    figure = body["sp-scene"]["figure"]
    W, b = pt.random_layer(64, 4, seed=0, weight_scale=1.0, bias_scale=0.5)
    assert figure["layout"]["meta"]["regions"] == pt.sphere_region_count(*pt.layernorm_sphere_layer(W, b))
    assert "regions" in body["sp-summary"]["children"]
    response = dash_http.post(client, dash_http.payload(deps["scene"], {**values, "sp-neurons.value": 64,
                                                                         "sp-dim.value": 4}, ["sp-neurons.value"]))
    assert len(response.data) < 300_000  # the 64-neuron sphere, uncompressed


def test_http_markers_send_a_small_patch(client, http):
    deps, values = http
    response = dash_http.post(client, dash_http.payload(deps["markers"], {**values, "sp-v-az.value": 99},
                                                        ["sp-v-az.value"]))
    assert response.status_code == 200
    figure = response.get_json()["response"]["sp-scene"]["figure"]
    assert figure["__dash_patch_update"] == "__dash_patch_update"
    assert len(response.data) < 8_000


def test_http_probe_scaling_query_and_k_range(client, http):
    deps, values = http
    body = fire(client, deps["probe"], {**values, "sp-w-az.value": 250}, ["sp-w-az.value"])
    assert body["sp-rotation"]["figure"]["layout"]["meta"]["n_crossings"] >= 0
    body = fire(client, deps["scaling"], {**values, "sp-k.value": 7.5}, ["sp-k.value"])
    assert body["sp-scaling"]["figure"]["layout"]["meta"]["k"] == 7.5
    body = fire(client, deps["query"], {**values, "sp-neurons.value": 33}, ["sp-neurons.value"])
    assert "neurons=33" in body["sp-query"]["data"] and body["sp-notices"]["children"] == []
    body = fire(client, deps["krange"], {**values, "sp-kmax.value": 1.5, "sp-k.value": 2}, ["sp-kmax.value"])
    assert body["sp-k"]["max"] == 1.5 and body["sp-k"]["value"] == 1.5


BAD = [
    {"sp-neurons.value": 1000}, {"sp-dim.value": 7}, {"sp-seed.value": "abc"}, {"sp-wscale.value": -1},
    {"sp-bscale.value": -1}, {"sp-act.value": "tanh"}, {"sp-source.value": "nope"},
    {"sp-model.value": "ABC"}, {"sp-model.value": "z" * 5000}, {"sp-model.value": ["a"]}, {"sp-layer.value": 99},
    {"sp-layer.value": "two"},
    {"sp-k.value": 1e308}, {"sp-kmax.value": "nan"}, {"sp-v-az.value": [1, 2]}, {"sp-w-el.value": {"x": 1}},
    {"sp-full.value": "yes please"}, {"sp-dim.value": "4"}, {"sp-seed.value": "1" * 5000},
]


@pytest.mark.parametrize("bad", BAD)
def test_http_bad_input_gives_notices_never_a_500(client, http, bad):
    deps, values = http
    changed = [next(iter(bad))]
    for name in ("scene", "probe", "scaling", "markers", "krange"):
        if any(f"{i['id']}.{i['property']}" == changed[0] for i in deps[name]["inputs"] + deps[name]["state"]):
            fire(client, deps[name], {**values, **bad}, changed)
    body = fire(client, deps["query"], {**values, **bad}, changed)
    notices = text_of([n["props"]["children"] for n in body["sp-notices"]["children"]])
    if bad != {"sp-dim.value": "4"}:  # a numeric string is a fine number
        field = changed[0].split(".")[0].removeprefix("sp-").replace("-", "_")
        assert field in notices, (bad, notices)


def test_whole_page_payload_for_64_neurons_is_reported(client, http):
    deps, values = http
    values = {**values, "sp-neurons.value": 64}
    total = 0
    for name in ("scene", "probe", "scaling"):
        response = dash_http.post(client, dash_http.payload(deps[name], values, ["sp-neurons.value"]))
        total += len(response.data)
    assert total < 600_000


# --- a trained model's layer as the source ---------------------------------------------------

def train_tiny(width: int, depth: int = 2, seed: int = 3, act: str = "u_eps") -> str:
    """Train a tiny spiral model through the /train page's job function, in this process; it
    lands in the shared cache. Returns its model id (as in the train page's sphere links)."""
    from polyviz.pages.train import TrainState
    from services import jobs
    from services import run_store as store

    state, notices = st.validate(TrainState, dict(dataset="spiral", n=120, width=width, depth=depth, steps=40,
                                                  seed=seed, data_seed=1, act=act))
    assert notices == []
    out = jobs.run_job(jobs.new_job(state, "train"), jobs.TRAIN)
    assert isinstance(out.key, str) and store.load_run(out.key) is not None, out.status
    return store.model_id(out.key)


@pytest.fixture(scope="module")
def trained(page_modules):
    from services import run_store as store

    ids = {"w3": train_tiny(3), "w2": train_tiny(2), "ln3": train_tiny(3, act="layernorm")}
    run, ln_run = store.load_run(ids["w3"]), store.load_run(ids["ln3"])
    def ln_view_off(cb):
        return cb.load_view(SphereState(source="trained", model=ids["ln3"], layer=1)).off_sphere

    return {**ids, "params": run.params, "run": run, "ln_params": ln_run.params, "ln_run": ln_run, "store": store,
            "ln_view_off": ln_view_off}


def trained_args(model, layer, dim=4):
    """Layer inputs as the page sends them; d = 4 in the request does not matter for a trained layer."""
    return layer_args(dim, 12, 0, source="trained", model=model, layer=layer)


def test_trained_model_id_field_and_link(trained):
    link = trained["store"].sphere_href(f"polyviz-1:train-run:{trained['w3']}", 2)
    state, notices = st.from_query(SphereState, link.split("?", 1)[1])
    assert notices == [] and (state.source, state.model, state.layer) == ("trained", trained["w3"], 2)
    again, notices = st.from_query(SphereState, st.to_query(state))
    assert again == state and notices == []


def great_circle_sign_changes(W, b, e_v, e_w, end: float, n: int = 200_001) -> int:
    """Independent oracle: sign changes of W x + b along the great circle of the unit sphere
    of R³ from e_v towards e_w, sampled densely (no closed form)."""
    p = e_v / np.linalg.norm(e_v)
    q = e_w - (e_w @ p) * p
    q /= np.linalg.norm(q)
    a = np.linspace(0.0, end, n)
    z = (np.cos(a)[:, None] * p + np.sin(a)[:, None] * q) @ W.T + b
    return int((np.diff(np.sign(z), axis=0) != 0).sum())


def direction3(az, el):
    az, el = math.radians(az), math.radians(el)
    return np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])


def test_trained_u_eps_layer_is_drawn_on_its_true_sphere(page_modules, trained):
    """Issue 9.4: a u_ε model's layer 1 was drawn as ReLU polytopes on the LayerNorm circle,
    "as if a LayerNorm fed it". Now: the unit sphere of R³ where u_ε puts its inputs, the
    training data's activations on it by class, the layer's planes cutting it."""
    from polyviz.models import hidden_activations, layer_weights

    cb, _ = page_modules
    params = trained["params"]
    W, b = layer_weights(params, 1)  # reads hidden layer 1: u_ε of width 3
    figure, summary, caption = cb.update_scene(*trained_args(trained["w3"], 1), 30, 20, 160, -15, 2.0, 10)
    meta = figure["layout"]["meta"]
    assert meta["regions"] == pt.sphere_region_count(W, b)  # the model's planes on the unit sphere S² itself
    data = figure["data"]
    assert len(data) == fs.SCENE_BASE_TRACES[4] + fs.SCENE_MARKER_TRACES + 2
    X, y = training_sample(trained["run"].data)
    acts = hidden_activations(params, X)[0][1].astype(np.float64)
    drawn = {}
    for label, trace in zip((0, 1), data[-2:]):
        assert trace["name"] == f"data, class {label}"
        drawn[label] = np.stack([_decode(trace[a]) for a in "xyz"], axis=1).astype(np.float64) / 1.012
        truth = acts[y == label]
        np.testing.assert_allclose(drawn[label], truth / np.linalg.norm(truth, axis=1, keepdims=True), atol=2e-6)
        # the region each drawn point is in is the model's own: sign(W a + b) of its activation
        np.testing.assert_array_equal(drawn[label] @ W.T + b > 0, truth @ W.T + b > 0)
    assert len(drawn[0]) + len(drawn[1]) == len(X) and {len(drawn[0]), len(drawn[1])} != {0}
    assert "unit sphere S² of R³ (u_ε)" in figure["layout"]["title"]["text"]
    assert summary.startswith("Layer 1 of the trained model (spiral, width 3, depth 2, u_ε")
    assert "on unit sphere S² of R³ (u_ε)" in summary and "LayerNorm" not in summary
    assert "unit sphere of R³" in caption and "blue class 0" in caption

    # the probe rotates v towards w on that sphere, read out by the next layer's first row
    circle, rotation, words = cb.update_probe(*trained_args(trained["w3"], 1), 30, 20, 160, -15, [])
    angle = rotation["layout"]["meta"]["angle_end"]
    e_v, e_w = direction3(30, 20), direction3(160, -15)
    assert angle == pytest.approx(math.acos(e_v @ e_w))
    assert rotation["layout"]["meta"]["n_crossings"] == great_circle_sign_changes(W, b, e_v, e_w, angle)
    assert words.startswith("Rotating v towards w on the unit sphere S² of R³ (u_ε)")
    assert "first row of layer 2's weights" in words
    # scaling: the raw ray k·e in R³ against u_ε(k·e) = e
    figure, words = cb.update_scaling(*trained_args(trained["w3"], 1), 30, 20, 2.5, 10)
    flips = -b / (W @ e_v)
    assert figure["layout"]["meta"]["without"] == 1 + int(((flips > 0) & (flips <= 10)).sum())
    assert figure["layout"]["meta"]["with_layernorm"] == 1
    assert figure["layout"]["meta"]["on_with"] == int((W @ e_v + b > 0).sum())
    assert figure["layout"]["meta"]["on_without"] == int((W @ (2.5 * e_v) + b > 0).sum())
    assert "Without u_ε the ray" in words and "u_ε(k·v) = v/|v|" in words

    page = cb.layout(source="trained", model=trained["w3"], layer="1")
    help_text = str({n.id: n for n in page._traverse() if getattr(n, "id", None)}["sp-source-help"].children)
    assert "as if" not in help_text and "u_ε puts layer 1's inputs on the unit sphere of R³" in help_text


def test_trained_layernorm_layer_is_drawn_on_the_layernorm_circle(page_modules, trained):
    """A LayerNorm model of width 3: its layer 1 reads points on the LayerNorm circle, drawn
    there with the data."""
    from polyviz.models import hidden_activations, layer_weights

    cb, _ = page_modules
    params = trained["ln_params"]
    W, b = layer_weights(params, 1)
    figure, summary, caption = cb.update_scene(*trained_args(trained["ln3"], 1), 30, 20, 160, -15, 2.0, 10)
    angles, codes = pt.circle_arcs(W, b, *pt.layernorm_circle(3))
    meta = figure["layout"]["meta"]
    assert meta["boundaries"] == len(angles) and meta["arcs"] == max(1, len(angles)) == len(codes)
    X, y = training_sample(trained["ln_run"].data)
    acts = hidden_activations(params, X)[0][1].astype(np.float64)
    assert 1e-4 < trained["ln_view_off"](cb) < 0.05  # eps = 1e-5 keeps LayerNorm(x) just inside
    for label, trace in zip((0, 1), figure["data"][-2:]):
        pts = np.stack([_decode(trace[a]) for a in "xyz"], axis=1).astype(np.float64)
        truth = acts[y == label]
        np.testing.assert_allclose(pts, math.sqrt(3) * truth / np.linalg.norm(truth, axis=1, keepdims=True),
                                   atol=2e-6)  # moved radially onto the circle
        np.testing.assert_allclose(pts.sum(axis=1), 0.0, atol=1e-5)
        np.testing.assert_array_equal(pts @ W.T + b > 0, truth @ W.T + b > 0)  # the model's own regions
    assert len(_decode(figure["data"][5]["x"])) == 0  # no random raw vectors beside the model's data
    assert "LayerNorm circle" in caption and "depth 2, LayerNorm" in summary
    page = cb.layout(source="trained", model=trained["ln3"], layer="1")
    help_text = str({n.id: n for n in page._traverse() if getattr(n, "id", None)}["sp-source-help"].children)
    assert "they are drawn moved radially onto it" in help_text


def test_trained_layer_link_opens_the_page_on_that_layer(page_modules, trained):
    cb, lay = page_modules
    page = cb.layout(source="trained", model=trained["w3"], layer="1", dim="3")
    found = {node.id: node for node in page._traverse() if getattr(node, "id", None)}
    assert found[lay.DIM].value == 4 and all(o["disabled"] for o in found[lay.DIM].options)  # d follows the sphere
    assert found[lay.NEURONS_ID].disabled and found[lay.WSCALE].disabled and found[lay.SEED].disabled
    # the output layer (one neuron) is greyed out
    assert [(o["value"], o["disabled"]) for o in found[lay.LAYER_ID].options] == [(1, False), (2, True)]
    assert found[lay.TRAINED_BOX].style == {"display": "block"} and found[lay.MODEL_ID].value == trained["w3"]
    help_text = str(found[lay.SOURCE_HELP].children)
    assert "Layer 1 of a trained model" in help_text and "spiral, width 3, depth 2" in help_text
    assert "W is 3 × 3, drawn as d = 4" in help_text
    assert "/train?dataset=spiral" in help_text  # back to its training run
    assert found[lay.NOTICES].children == [] and "dim=4&" in found[lay.QUERY].data
    assert f"model={trained['w3']}&layer=1" in found[lay.QUERY].data
    # a random layer: nothing locked, no model controls
    found = {node.id: node for node in cb.layout()._traverse() if getattr(node, "id", None)}
    assert not found[lay.NEURONS_ID].disabled and found[lay.TRAINED_BOX].style == {"display": "none"}
    assert not any(o["disabled"] for o in found[lay.DIM].options)


def fallback_cases(trained):
    return [
        (trained["w3"], 8, "layer 8 does not exist: this model (depth 2) has layers 1 to 2, the last being its "
                           "output layer; choose layer 1."),
        (trained["w3"], 2, "layer 2 is this model's output layer, a single neuron: its one plane only halves the "
                           "sphere"),
        ("0" * 40, 1, "is not in the cache (an unknown id, or its training run has expired)"),
        (trained["w2"], 1, "layer 1 of this model reads 2-D inputs on the unit sphere of R², which the page cannot "
                           "draw (it draws a circle or a 2-sphere); this model has none"),
    ]


def test_trained_layer_that_cannot_be_shown_falls_back_with_a_notice(page_modules, trained):
    cb, lay = page_modules
    # layer = 9 is beyond the state's range: clamped to 8 with a notice, then beyond this model's depth
    state, notices = st.from_query(SphereState, f"source=trained&model={trained['w3']}&layer=9&dim=4")
    assert state.layer == 8 and "layer = 9 is out of range (allowed: an integer from 1 to 8)" in notices[0]
    W4, b4 = pt.random_layer(12, 4, seed=0, weight_scale=1.0, bias_scale=0.5)
    random_regions = pt.sphere_region_count(*pt.layernorm_sphere_layer(W4, b4))
    for model, layer, expected in fallback_cases(trained):
        figure, summary, _ = cb.update_scene(*trained_args(model, layer), 30, 20, 160, -15, 2.0, 10)
        assert figure["layout"]["meta"]["regions"] == random_regions  # the random layer of the controls, d = 4
        assert summary.startswith("A random layer, not a trained one")
        _, notices, _, _ = cb.update_query(*trained_args(model, layer), 30, 20, 160, -15, 2, 10, [], None)
        text = text_of(notices)
        assert expected in text and "Showing a random layer instead." in text, text
        page = cb.layout(source="trained", model=model, layer=str(layer), dim="4")
        found = {node.id: node for node in page._traverse() if getattr(node, "id", None)}
        assert expected in text_of(found[lay.NOTICES].children)
        assert found[lay.DIM].value == 4 and not found[lay.NEURONS_ID].disabled  # the random layer's controls
        assert expected in str(found[lay.SOURCE_HELP].children)
    # the width-2 model's layers are greyed out in the layer choice
    controls = cb.sync_layer_controls("trained", trained["w2"], 1, 4, 0)
    assert [o["disabled"] for o in controls[-1]] == [True, True]


def test_trained_source_without_a_model_points_to_the_train_page(page_modules):
    cb, lay = page_modules
    found = {node.id: node for node in cb.layout(source="trained")._traverse() if getattr(node, "id", None)}
    help_text = str(found[lay.SOURCE_HELP].children)
    assert "train a model on the" in help_text and "href='/train'" in help_text
    assert "Open layer k on the sphere page" in help_text
    assert found[lay.NOTICES].children == []  # a hint, not an error
    _, summary, _ = cb.update_scene(*trained_args("", 1, dim=3), 30, 20, 160, -15, 2.0, 10)
    assert summary.startswith("A random layer, not a trained one")


def test_sync_follows_the_trained_layer(page_modules, trained):
    cb, _ = page_modules
    (dim, dim_opts, neurons_off, wscale_off, bscale_off, seed_off, note, box, help_children, trained_box,
     layer_opts) = cb.sync_layer_controls("trained", trained["w3"], 1, 3, 0)
    assert dim == 4 and all(o["disabled"] for o in dim_opts)
    assert neurons_off and wscale_off and bscale_off and seed_off and "not used" in note
    assert trained_box == {"display": "block"} and [o["disabled"] for o in layer_opts] == [False, True]
    assert cb.sync_layer_controls("trained", trained["w3"], 1, 4, 0)[0] is cb.no_update  # already there
    back = cb.sync_layer_controls("random", trained["w3"], 1, 3, 0)
    assert back[0] is cb.no_update and not any(back[2:6]) and back[9] == {"display": "none"}


def test_markers_follow_the_trained_layers_dimension(page_modules, trained):
    cb, _ = page_modules
    for model, dim in ((trained["w3"], 4), (trained["ln3"], 3)):
        patch = cb.move_markers(100, 10, 200, -30, 4.0, 7 - dim, 10, "trained", model, 1).to_plotly_json()
        base = fs.SCENE_BASE_TRACES[dim]
        assert [op["location"] for op in patch["operations"]] == [["data", base + i]
                                                                   for i in range(fs.SCENE_MARKER_TRACES)]


def test_http_trained_layer_and_fallbacks(client, http, trained):
    from polyviz.models import layer_weights

    deps, values = http
    values = {**values, "sp-source.value": "trained", "sp-model.value": trained["w3"], "sp-layer.value": 1,
              "sp-dim.value": 3}
    body = fire(client, deps["scene"], values, ["sp-layer.value"])
    W, b = layer_weights(trained["params"], 1)
    assert body["sp-scene"]["figure"]["layout"]["meta"]["regions"] == pt.sphere_region_count(W, b)
    assert body["sp-summary"]["children"].startswith("Layer 1 of the trained model (spiral, width 3, depth 2")
    body = fire(client, deps["probe"], values, ["sp-layer.value"])
    assert "first row of layer 2's weights" in body["sp-rotation-text"]["children"]
    body = fire(client, deps["query"], values, ["sp-layer.value"])
    assert f"model={trained['w3']}&layer=1" in body["sp-query"]["data"] and "dim=4&" in body["sp-query"]["data"]
    assert body["sp-notices"]["children"] == []
    sync = server_dep(client, "sp-dim.value")
    body = fire(client, sync, values, ["sp-layer.value"])
    assert body["sp-dim"]["value"] == 4 and body["sp-neurons"]["disabled"] is True
    for model, layer, expected in fallback_cases(trained):
        body = fire(client, deps["query"], {**values, "sp-model.value": model, "sp-layer.value": layer},
                    ["sp-model.value"])
        assert expected in text_of([n["props"]["children"] for n in body["sp-notices"]["children"]])
        body = fire(client, deps["scene"], {**values, "sp-model.value": model, "sp-layer.value": layer},
                    ["sp-model.value"])
        assert body["sp-summary"]["children"].startswith("A random layer, not a trained one")
    # the link the train page gives opens this layer, with nothing to correct
    controls = dash_http.by_id(dash_http.route(client, f"/sphere?source=trained&model={trained['w3']}&layer=1")["layout"])
    assert (controls["sp-source"]["value"], controls["sp-model"]["value"], controls["sp-layer"]["value"]) == \
        ("trained", trained["w3"], 1)
    assert controls["sp-dim"]["value"] == 4 and dash_http.text(controls["sp-notices"]["children"]) == ""


def test_the_page_words_say_how_exact_each_count_is():
    """A count float64 cannot resolve is reported as such, not as exact; the tolerance that
    merges crossings is named next to the count it affects."""
    from polyviz.geometry import layernorm_plane_basis
    from polyviz.pages.sphere import rotation_words, summary_words

    p, q = layernorm_plane_basis(3)[:2]
    state = SphereState(neurons=1, dim=3, full=True)
    for bias, boundaries in ((-(1 - 1e-9), 2), (-1.0, 0)):  # an arc 9e-5 rad wide; a touch within rounding
        W = p[None, :] / math.sqrt(3.0)  # cos(a) on the LayerNorm circle
        meta = fs.arcs_3d_spec(W, [bias])["layout"]["meta"]
        assert meta["boundaries"] == boundaries
        words = summary_words(state, meta)
        rotation = rotation_words(state, fs.rotation_spec(W, [bias], [1.0], p, q, full_circle=True)["layout"]["meta"])
        assert "Exact in float64 up to 1e-09 rad: crossings closer than that count as one boundary" in words
        if boundaries:
            assert "Not exact" not in words + rotation and "2 boundary points" in words
        else:
            assert meta["unresolved"] == 1
            assert ("Not exact here: 1 neuron touches the circle within float64 rounding, so whether it crosses it "
                    "(in an arc narrower than about 1e-7 rad) cannot be decided; counted as not crossing.") in words
            assert "Not exact here: 1 neuron touches the great circle within float64 rounding" in rotation
    # d = 4: a plane the tangency tolerance drops is said to make the count not exact
    basis = layernorm_plane_basis(4)
    W4 = 0.5 * basis[2][None, :]  # z in the sphere's coordinates (sqrt(4) * 0.5 = 1)
    spec = fs.sphere_regions_spec(W4, [-(1 - 1e-13)])
    assert spec["layout"]["meta"]["dropped_circles"] == 1
    assert "1 region (not exact: 1 tiny circle dropped)" in spec["layout"]["title"]["text"]
    words = summary_words(SphereState(neurons=1, dim=4), spec["layout"]["meta"])
    assert "Not exact here: 1 such tiny circle is dropped, and the region inside each is missing" in words
    assert "a plane within 1e-12 of touching the sphere (a circle of radius under 1.4e-06) cuts nothing" in words


def test_a_model_trained_on_your_own_data_opens_with_its_points_and_without_them_once_the_data_is_gone(page_modules):
    """/train offers a /sphere link for a model of your data; its points came from
    make_dataset("user-data:<hash>"), which raised, so the link could not open."""
    from polyviz.datasets import train_test_split
    from polyviz.pages.train import TrainState
    from polyviz.userdata import parse_csv
    from services import cache, data_store, jobs
    from services import run_store as store

    cb, _ = page_modules
    rng = np.random.default_rng(5)
    X = rng.normal(size=(90, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    user = parse_csv("x1,x2,label\n" + "".join(f"{a:.5f},{b:.5f},{'yes' if c else 'no'}\n"
                                               for (a, b), c in zip(X, y)))
    data_store.store_data(user)
    state, notices = st.validate(TrainState, dict(data=user.content_hash, n=90, width=3, depth=2, steps=30, seed=2))
    assert notices == []
    out = jobs.run_job(jobs.new_job(state, "train"), jobs.TRAIN)
    model_id = store.model_id(out.key)
    sphere_state = SphereState(source="trained", model=model_id, layer=1)

    view = cb.load_view(sphere_state)
    assert view.trained and len(view.points) > 0
    Xtr, _, ytr, _ = train_test_split(user.X, user.y, state.ratio, state.data_seed)
    assert len(view.points) == min(len(Xtr), DATA_POINTS) and set(view.labels.tolist()) <= set(ytr.tolist())

    cache.cache.delete(data_store.data_key(user.content_hash))
    gone = cb.load_view(sphere_state)
    assert gone.trained and len(gone.points) == 0
    np.testing.assert_array_equal(gone.W, view.W)

"""The Compare page: its one link for every model, its columns being ordinary /train runs,
the job that trains them, the figures it draws; and the per-neuron maps against torch."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
import torch

from polyviz import state as st
from polyviz.pages import compare as cp
from polyviz.pages.compare import CompareState

SMALL = dict(dataset="moons", n=240, steps=150, noise=0.05, a_act="u_eps", b_act="layernorm", c_act="relu",
             a_width=4, b_width=4, c_width=4)


def typed(spec) -> np.ndarray:
    values = np.frombuffer(base64.b64decode(spec["bdata"]), dtype="<" + spec["dtype"]).astype(np.float64)
    return values.reshape([int(d) for d in spec["shape"].split(",")]) if "shape" in spec else values


# --- state and link -------------------------------------------------------------------------------

def test_one_link_holds_every_model_and_reopens_it_exactly():
    state, notices = st.validate(CompareState, dict(SMALL, a_lr=0.005, b_eps=0.003, c_depth=3))
    assert notices == []
    again, notices = st.from_query(CompareState, st.to_query(state))
    assert notices == [] and again == state
    assert {cp.column_state(again, c)[0].act for c in again.columns()} == {"u_eps", "layernorm", "relu"}
    assert cp.column_state(again, "a")[0].lr == 0.005 and cp.column_state(again, "c")[0].depth == 3


def test_a_bad_value_is_named_by_its_column_and_field():
    state, notices = cp.state_from_link(b_width="1", c_act="sigmoid", a_lr="7")
    assert state.b_width == 2 and state.c_act == "relu" and state.a_lr == 1.0
    assert any(n.startswith("B: width = 1 is too small for layernorm") for n in notices), notices
    assert any("c_act" in n and "sigmoid" in n for n in notices), notices
    assert any("a_lr" in n for n in notices), notices
    state, notices = cp.state_from_link(preset="nope")
    assert "preset" in notices[0] and state == CompareState()


def test_column_c_off_compares_a_and_b_only():
    state, _ = cp.state_from_link(preset="ln_rms")
    assert state.columns() == ("a", "b")
    with pytest.raises(ValueError, match="column"):
        cp.column_state(state, "c")


def test_the_default_is_the_spiral_preset_u_eps_layernorm_relu_at_width_3():
    state = CompareState()
    columns = {c: cp.column_state(state, c)[0] for c in state.columns()}
    assert [s.act for s in columns.values()] == ["u_eps", "layernorm", "relu"]
    assert all(s.width == 3 and s.dataset == "spiral" for s in columns.values())


def test_a_column_is_the_same_run_as_train_opens_so_the_cache_is_shared():
    from polyviz.pages.train import TrainState

    state, _ = st.validate(CompareState, SMALL)
    on_train, _ = st.validate(TrainState, dict(dataset="moons", n=240, steps=150, noise=0.05, act="layernorm", width=4))
    assert cp.column_state(state, "b")[0].training_fields() == on_train.training_fields()


# --- per-neuron maps ---------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["u_eps", "layernorm", "relu", "dyt"])
def test_neuron_maps_are_each_neuron_s_activation_as_torch_computes_it(activation):
    from polyviz.figures import neuron_maps_spec
    from polyviz.models import ModelConfig, MLPParams, build_module, init_params

    config = ModelConfig(in_dim=2, width=3, depth=2, activation=activation, eps=1e-3)
    params = MLPParams(config, init_params(config, seed=3, dtype=torch.float64))
    X = np.random.default_rng(0).uniform(-2, 3, size=(50, 2))
    spec = neuron_maps_spec(params, X, grid=21)
    heatmaps = [t for t in spec["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 6 and heatmaps[4]["name"] == "layer 2, neuron 2"
    # oracle: the torch module, run layer by layer, its activations read after each non-linearity
    module = build_module(config, params).double()
    xs, ys = typed(heatmaps[0]["x"]), typed(heatmaps[0]["y"])
    margin = 0.1 * (X.max(0) - X.min(0)).max()  # the decision-boundary figure's box
    assert np.isclose(xs[0], X[:, 0].min() - margin, atol=1e-5) and np.isclose(ys[-1], X[:, 1].max() + margin, atol=1e-5)
    gx, gy = np.meshgrid(xs, ys)
    h = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1))
    layer_outputs = []
    with torch.no_grad():
        for part in module:
            h = part(h)
            if not isinstance(part, torch.nn.Linear):
                layer_outputs.append(h.numpy())
    for index, trace in enumerate(heatmaps):
        layer, neuron = divmod(index, 3)
        expected = layer_outputs[layer][:, neuron].reshape(21, 21)
        assert np.allclose(typed(trace["z"]), expected, atol=2e-4)


def test_neuron_maps_need_2d_input_and_cap_wide_layers():
    from polyviz.figures import neuron_maps_spec
    from polyviz.models import ModelConfig, MLPParams, init_params

    wide = ModelConfig(in_dim=2, width=12, depth=1, activation="relu")
    spec = neuron_maps_spec(MLPParams(wide, init_params(wide, 0)), np.zeros((3, 2)) + [[0, 0], [1, 1], [2, 0]])
    assert len(spec["data"]) == 8 and "first 8 of 12" in spec["layout"]["title"]["text"]
    solid = ModelConfig(in_dim=3, width=3, depth=1, activation="relu")
    with pytest.raises(ValueError, match="2-D input"):
        neuron_maps_spec(MLPParams(solid, init_params(solid, 0)), np.zeros((4, 3)))


# --- training and figures -----------------------------------------------------------------------------

def test_compare_figures_overlay_every_model_s_curves_and_draw_each_column():
    state, _ = st.validate(CompareState, SMALL)
    runs = cp.train_all(state)
    specs = cp.compare_figures(state, runs)
    losses = [t for t in specs["curves"]["data"] if t["yaxis"] == "y"]
    assert [t["name"].split(":")[0] for t in losses] == ["A", "B", "C"]
    for trace, column in zip(losses, "abc"):  # each curve is that model's own history
        assert np.allclose(typed(trace["y"]), runs[column].history["train_loss"], rtol=1e-5)
    for column in "abc":
        assert {"boundary", "neurons", "animation"} <= set(specs[column])
        assert sum(t["type"] == "heatmap" for t in specs[column]["neurons"]["data"]) == 8  # 2 layers x 4


@pytest.fixture(scope="module")
def cbs(dash_app):
    from callbacks import compare as cc
    from layouts import compare as ids

    return cc, ids


def test_the_page_trains_the_missing_columns_in_one_job_and_then_shows_them(cbs, monkeypatch):
    cc, ids = cbs
    from services import jobs

    monkeypatch.setattr(jobs, "PROGRESS_S", 0.0)  # every progress call reaches the page: none is lost to timing
    state, _ = st.validate(CompareState, dict(SMALL, seed=11))
    controls = cc.control_values(state)
    _notices, query, keys, hint, _export_options = cc.sync_state(*controls, [])
    assert query == st.to_query(state) and not any(entry["cached"] for entry in keys.values())
    assert "Not trained yet: A, B, C" in hint
    job = {"id": "0" * 32, "kind": "compare", "query": query, "started": 0.0}
    progress = []
    keys, words = cc.run_compare_job(job, progress.append)
    assert all(entry["cached"] for entry in keys.values()) and words.startswith("A: Trained 150 steps")
    # progress is sent at most every 0.5 s: it names the column being trained and counts all of them
    assert progress and all(re.match(r"[ABC] \([123] of 3\): Training", text) for _, text in progress)
    out = cc.render(keys, query)
    curves, figures = out[0], out[1:10]
    assert len([t for t in curves["data"] if t["yaxis"] == "y"]) == 3
    assert all(fig["layout"]["title"]["text"] for fig in figures)
    assert not any("press Train all" in str(fig["layout"].get("annotations", "")) for fig in figures)
    # a column is a /train run: /train's per-neuron maps draw it from the same cache entry
    from callbacks.neurons import neuron_maps

    figure, style = neuron_maps(keys["b"]["key"])
    assert style == {"display": "block"} and sum(t["type"] == "heatmap" for t in figure["data"]) == 8
    assert neuron_maps("not-a-key")[1] == {"display": "none"}
    # the second time everything is cached: the page says so and starts nothing
    assert "trained before" in cc.sync_state(*controls, [])[3]


def test_a_preset_button_sets_every_control_and_an_unreadable_job_is_refused_in_words(cbs):
    cc, ids = cbs
    values = cc.apply_preset(preset="ln_rms")
    fields = dict(zip(ids.CONTROL_IDS, values[:-1]))
    assert fields["a_act"] == "layernorm" and fields["b_act"] == "rmsnorm" and fields["c_act"] == "off"
    assert "RMSNorm" in values[-1]
    assert cc.run_compare_job({"id": "x", "query": 3})[0] is None

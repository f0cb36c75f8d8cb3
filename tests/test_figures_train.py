"""Layer embeddings, interpolation frames and the toy-classifier figures."""

from __future__ import annotations

import base64
import json

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from polyviz.datasets import make_dataset
from polyviz.embedding import embed_layers, fit_embedding, interpolation_frames, plane_patch, subsample
from polyviz.figures.train import (
    checkpoint_embedding_figure,
    decision_boundary_spec,
    interpolation_animation_figure,
    interpolation_animation_spec,
    seed_sweep_figure,
    training_curves_figure,
)
from polyviz.models import MLPParams, ModelConfig, hidden_activations, init_params
from polyviz.training import TrainConfig, seed_sweep, train, train_preset


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def spiral():
    result, data = train_preset("spiral")
    return result, data


def decode(spec):
    """A typed-array spec (or plain list) back to a NumPy array."""
    if isinstance(spec, dict) and "bdata" in spec:
        dtype = {"f4": "<f4", "f8": "<f8", "i4": "<i4", "u1": "u1"}[spec["dtype"]]
        return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=dtype)
    return np.asarray(spec)


def random_model(width, depth, in_dim=2, seed=0):
    cfg = ModelConfig(in_dim=in_dim, width=width, depth=depth)
    return MLPParams(cfg, init_params(cfg, seed) * 3)


# ----------------------------------------------------------------------- embeddings
def test_embedding_methods_by_width():
    rng = np.random.default_rng(0)
    assert fit_embedding(rng.normal(size=(50, 3))).method == "identity"
    e2 = fit_embedding(rng.normal(size=(50, 2)))
    assert e2.method == "padded"
    A = rng.normal(size=(50, 2))
    np.testing.assert_allclose(e2(A), np.c_[A, np.zeros(50)], atol=1e-6)
    A5 = rng.normal(size=(200, 5)) * [5, 3, 2, 0.1, 0.1]
    e5 = fit_embedding(A5)
    assert e5.method == "pca"
    np.testing.assert_allclose(e5.components @ e5.components.T, np.eye(3), atol=1e-10)
    # the top axes carry the variance
    assert np.var(e5(A5), axis=0).sum() > 0.99 * np.var(A5, axis=0).sum()


@pytest.mark.parametrize("width, depth", [(3, 2), (2, 3), (5, 2), (8, 1)])
def test_final_plane_reproduces_the_logits(width, depth):
    """Every width: the plane's signed value at each embedded point is the model's logit."""
    p = random_model(width, depth)
    X, y = make_dataset("spiral", 300, 0.05, 1)
    emb = embed_layers(p, X, y)
    normal, offset = emb.plane
    final = emb.stages[-1].astype(np.float64)
    _, logits = hidden_activations(p, X)
    np.testing.assert_allclose(final @ normal + offset, logits, rtol=1e-4, atol=1e-4)
    assert emb.methods[-1] == {1: "padded", 2: "padded", 3: "identity"}.get(width, "readout")


def wrong_side(emb: "object", logits) -> int:
    """Embedded points of the last stage on the other side of the plane than the model puts them."""
    normal, offset = emb.plane
    side = emb.stages[-1].astype(np.float64) @ normal + offset > 0
    return int((side != (np.asarray(logits) > 0)).sum())


@pytest.fixture(scope="module")
def issue_repro_model():
    """The issue's repro: spiral(800, noise 0.02, seed 0), split 0.8 seed 0, width 8, depth 1,
    GELU, eps 1e-3, 600 steps, lr 0.02, seed 1 (99.2 % train accuracy)."""
    from polyviz.datasets import train_test_split

    X, y = make_dataset("spiral", 800, 0.02, 0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, 0.8, 0)
    result = train(ModelConfig(in_dim=2, width=8, depth=1, activation="gelu", eps=1e-3),
                   TrainConfig(steps=600, lr=0.02, seed=1), Xtr, ytr, Xte, yte)
    return result, Xtr, ytr


def test_the_drawn_plane_separates_exactly_the_points_the_model_separates(issue_repro_model):
    """Issue 9.2: a plain 3-D PCA drew 62 of the repro's 640 points on the wrong side of the
    plane (9.7 %); the readout axis draws none there, for any width, depth or activation."""
    result, Xtr, ytr = issue_repro_model
    _, logits = hidden_activations(result, Xtr)
    assert wrong_side(embed_layers(result, Xtr, ytr), logits) == 0
    X, y = make_dataset("spiral", 400, 0.05, 3)
    checked = 0
    for width in (1, 2, 3, 4, 5, 8, 16):
        for act in ("u_eps", "layernorm", "gelu", "relu", "tanh"):
            if act == "layernorm" and width < 2:
                continue
            for depth in (1, 3):
                cfg = ModelConfig(in_dim=2, width=width, depth=depth, activation=act)
                p = MLPParams(cfg, init_params(cfg, width + depth) * 3)
                _, logits = hidden_activations(p, X)
                assert wrong_side(embed_layers(p, X, y), logits) == 0, (width, act, depth)
                checked += len(X)
    assert checked == 400 * 2 * (7 * 5 - 1)


def drawn_plane(trace):
    """(normal, offset) of the plane through a drawn plane patch's corners, None when empty."""
    c = np.stack([decode(trace["x"]), decode(trace["y"]), decode(trace["z"])], axis=1).astype(np.float64)
    if len(c) == 0:
        return None
    normal = np.cross(c[1] - c[0], c[3] - c[0])
    return normal, -float(normal @ c[0])


def test_every_frame_draws_points_on_the_side_the_model_puts_them(issue_repro_model):
    """The figure as sent: the final stage and every rotation frame. Points are sent rounded to
    1e-3, so a point within √3 · 5e-4 of the plane may be drawn on either side; none is wrong by more."""
    result, Xtr, ytr = issue_repro_model
    anim = interpolation_frames(embed_layers(result, Xtr, ytr), frames_per_step=4, rotation_frames=6,
                                max_points=500)
    spec = interpolation_animation_spec(anim, decimals=3)
    _, logits = hidden_activations(result, Xtr[anim.point_index])
    w = result.params.layers()[-1][0].double().numpy()[0]
    distance = np.abs(logits) / np.linalg.norm(w)
    labels = anim.labels
    planes = 0
    for frame in spec["frames"]:
        plane = drawn_plane(frame["data"][2])
        if plane is None:
            continue
        planes += 1
        normal, offset = plane
        for label in (0, 1):
            pts = np.stack([decode(frame["data"][label][a]) for a in "xyz"], axis=1).astype(np.float64)
            side = pts @ normal + offset > 0
            model = logits[labels == label] > 0
            wrong = side != model
            assert np.all(distance[labels == label][wrong] <= np.sqrt(3) * 5e-4 + 1e-6), int(wrong.sum())
    assert planes == 1 + 6


def test_interpolation_first_frame_is_input_and_last_is_final_activations(spiral):
    result, (Xtr, _, ytr, _) = spiral
    emb = embed_layers(result, Xtr, ytr)
    acts, _ = hidden_activations(result, Xtr)
    anim = interpolation_frames(emb, frames_per_step=7, rotation_frames=0)
    assert anim.frames.shape == (2 * 7 + 1, len(Xtr), 3)
    np.testing.assert_allclose(anim.frames[0], np.c_[Xtr, np.zeros(len(Xtr))], atol=1e-6)  # padded input
    np.testing.assert_allclose(anim.frames[-1], acts[-1], atol=1e-6)  # width 3: as is
    np.testing.assert_allclose(anim.frames[anim.stage_frames[1]], acts[1], atol=1e-6)
    assert anim.stage_frames == [0, 7, 14] and anim.rotation_start == 15
    # in between: exactly linear
    mid = anim.frames[3]
    np.testing.assert_allclose(mid, (4 / 7) * anim.frames[0] + (3 / 7) * anim.frames[7], atol=1e-6)
    # with rotation frames: a full turn that ends where it started, plane turning along
    rot = interpolation_frames(emb, frames_per_step=7, rotation_frames=12)
    assert len(rot.frames) == 15 + 12
    np.testing.assert_allclose(rot.frames[rot.stage_frames[-1]], acts[-1], atol=1e-6)
    np.testing.assert_allclose(rot.frames[-1], acts[-1], atol=1e-5)
    for k in (15, 20):
        normal, offset = rot.planes[k]
        side = rot.frames[k] @ normal + offset
        base = rot.frames[14] @ rot.planes[14][0] + rot.planes[14][1]
        np.testing.assert_allclose(side, base, atol=1e-4)  # every point keeps its side and distance
    assert all(p is None for p in rot.planes[:14])


def test_the_plane_separates_the_trained_spiral(spiral):
    result, (Xtr, _, ytr, _) = spiral
    emb = embed_layers(result, Xtr, ytr)
    normal, offset = emb.plane
    side = emb.stages[-1] @ normal + offset > 0
    assert (side == (ytr == 1)).mean() >= 0.97
    corners = plane_patch(normal, offset, emb.stages[-1])
    np.testing.assert_allclose(corners @ normal + offset, 0, atol=1e-9)


def test_subsample_is_stratified_and_deterministic():
    y = np.r_[np.zeros(700, int), np.ones(300, int)]
    idx = subsample(y, 100, 3)
    assert len(idx) == 100 and np.bincount(y[idx]).tolist() == [70, 30]
    np.testing.assert_array_equal(idx, subsample(y, 100, 3))


# ----------------------------------------------------------------------- figures
def test_animation_figure_structure_and_payload(spiral):
    result, (Xtr, _, ytr, _) = spiral
    fig = interpolation_animation_figure(result, Xtr, ytr)  # validated by plotly
    assert isinstance(fig, go.Figure)
    spec = interpolation_animation_spec(result, Xtr, ytr, frames_per_step=12, rotation_frames=24, max_points=800)
    meta = spec["layout"]["meta"]
    assert len(spec["frames"]) == meta["n_frames"] == 2 * 12 + 1 + 24
    slider = spec["layout"]["sliders"][0]
    assert [s["label"] for s in slider["steps"]] == ["input", "layer 1", "layer 2", "rotate"]
    assert [s["args"][0][0] for s in slider["steps"]] == ["0", "12", "24", "25"]
    labels = [b["label"] for b in spec["layout"]["updatemenus"][0]["buttons"]]
    assert labels == ["▶", "❚❚"]
    # play asks for at least 24 frames a second (what the eye takes for motion)
    assert 1000 / spec["layout"]["updatemenus"][0]["buttons"][0]["args"][1]["frame"]["duration"] >= 24
    # points: at most max_points, class colours blue then red, the plane only on the final stage
    n_points = sum(len(decode(spec["frames"][0]["data"][c]["x"])) for c in (0, 1))
    assert n_points == 800
    assert spec["data"][0]["marker"]["color"] == "#3b6fd8" and spec["data"][1]["marker"]["color"] == "#d8443b"
    assert len(decode(spec["frames"][24]["data"][2]["x"])) == 4
    assert len(decode(spec["frames"][10]["data"][2]["x"])) == 0
    # first and last interpolation frames are the input and the final activations (rounded)
    acts, _ = hidden_activations(result, Xtr)
    keep = subsample(ytr, 800, 0)
    first = decode(spec["frames"][0]["data"][0]["x"])
    np.testing.assert_allclose(first, np.round(Xtr[keep][ytr[keep] == 0, 0], 3), atol=1e-6)
    last = decode(spec["frames"][24]["data"][1]["z"])
    np.testing.assert_allclose(last, np.round(acts[-1][keep][ytr[keep] == 1, 2], 3), atol=1e-6)
    size_kb = len(fig.to_json()) / 1024
    assert size_kb <= 1500, size_kb


def test_training_curves_mark_phase_transitions(spiral):
    result, _ = spiral
    fig = training_curves_figure(result)
    names = [t.name for t in fig.data]
    assert names == ["train loss", "train accuracy", "test loss", "test accuracy"]
    xs = [s.x0 for s in fig.layout.shapes]
    assert xs == result.phase_transitions and len(xs) >= 1
    assert fig.layout.yaxis.type == "log"


def test_decision_boundary_2d_and_3d(spiral):
    result, (Xtr, Xte, ytr, yte) = spiral
    spec = decision_boundary_spec(result, Xtr, ytr, Xte, yte, grid=61)
    heat = spec["data"][0]
    assert heat["type"] == "heatmap" and heat["z"]["shape"] == "61,61"
    z = decode(heat["z"])
    assert 0 <= z.min() and z.max() <= 1 and z.min() < 0.1 and z.max() > 0.9
    go.Figure(spec)
    p = random_model(3, 2, in_dim=3)
    X, y = make_dataset("octant_sphere", 200, 0.0, 0)
    spec3 = decision_boundary_spec(p, X, y, grid=41)
    assert spec3["data"][0]["type"] == "surface" and spec3["data"][1]["type"] == "scatter3d"
    go.Figure(spec3)
    with pytest.raises(ValueError, match="2-D or 3-D input"):
        decision_boundary_spec(random_model(3, 1, in_dim=4), np.zeros((5, 4)), np.zeros(5, int))


def test_checkpoint_scrubber(spiral):
    result, (Xtr, _, ytr, _) = spiral
    fig = checkpoint_embedding_figure(result, Xtr, ytr, max_points=300)
    steps = sorted(result.checkpoints)
    assert [f.name for f in fig.frames] == [f"step {s}" for s in steps]
    slider = fig.layout.sliders[0]
    assert [s.label for s in slider.steps] == [str(s) for s in steps]
    assert slider.active == len(steps) - 1
    with pytest.raises(ValueError, match="no checkpoints"):
        X, y = make_dataset("spiral", 100, 0.0, 0)
        checkpoint_embedding_figure(train(ModelConfig(), TrainConfig(steps=5), X, y), X, y)


def test_seed_sweep_figure_carries_seeds():
    X, y = make_dataset("spiral", 300, 0.01, 0)
    sweep = seed_sweep(ModelConfig(), TrainConfig(steps=100), X, y, seeds=[5, 6, 7, 9])
    fig = seed_sweep_figure(sweep, threshold=0.9)
    seeds = []
    for trace in fig.data:
        if trace.type == "scatter":
            seeds += decode(trace.customdata).tolist() if isinstance(trace.customdata, dict) else list(trace.customdata)
    assert sorted(seeds) == [5, 6, 7, 9]
    assert any(t.type == "histogram" for t in fig.data)
    json.loads(fig.to_json())


def test_every_frame_says_whether_the_plane_is_drawn(spiral):
    """A mesh3d frame with no vertices keeps its old triangles in WebGL (issue 9.3, checked in
    tests/test_browser_train.py): each frame hides the plane or draws its four corners."""
    result, (Xtr, _, ytr, _) = spiral
    spec = interpolation_animation_spec(result, Xtr, ytr, frames_per_step=3, rotation_frames=4, max_points=200)
    shown = [(f["data"][2]["visible"], len(decode(f["data"][2]["x"]))) for f in spec["frames"]]
    assert shown == [(False, 0)] * 6 + [(True, 4)] * 5  # input, layer 1, then layer 2 and its turn
    assert spec["data"][2]["visible"] is False
    ckpt = checkpoint_embedding_figure(result, Xtr, ytr, max_points=100, layer=0)  # layer 1: no plane
    assert {f.data[2].visible for f in ckpt.frames} == {False}


# --- multiclass ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def blobs_run():
    from sklearn.datasets import make_blobs

    from polyviz.datasets import train_test_split

    X, y = make_blobs(600, centers=4, random_state=0)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, 0.8, 0)
    cfg = ModelConfig(in_dim=2, width=6, depth=2, activation="layernorm", n_classes=4)
    return train(cfg, TrainConfig(steps=300, seed=0), Xtr, ytr, Xte, yte), (Xtr, Xte, ytr, yte)


def test_multiclass_decision_boundary_colours_the_argmax_class(blobs_run):
    from polyviz.figures.train import CLASS_PALETTE, decision_boundary_spec
    from polyviz.models import predict

    run, (Xtr, Xte, ytr, yte) = blobs_run
    spec = decision_boundary_spec(run.params, Xtr, ytr, Xte, yte, grid=41)
    heat = spec["data"][0]
    z = decode(heat["z"]).reshape(41, 41)
    xs, ys = decode(heat["x"]), decode(heat["y"])
    gx, gy = np.meshgrid(xs, ys)
    np.testing.assert_array_equal(z, predict(run.params, np.stack([gx.ravel(), gy.ravel()], 1)).reshape(41, 41))
    assert set(np.unique(z)) == {0, 1, 2, 3}  # every class owns a region
    # class c's band of the colour scale is class c's marker colour
    scale = heat["colorscale"]
    for c in range(4):
        mid = (c + 0.5) / 4
        band = [color for (lo, color), (hi, _) in zip(scale[:-1], scale[1:]) if lo <= mid <= hi][0]
        assert band == CLASS_PALETTE[c]
    names = [t["name"] for t in spec["data"][1:]]
    assert names[:4] == ["class 0", "class 1", "class 2", "class 3"]
    assert spec["data"][1 + 2]["marker"]["color"] == CLASS_PALETTE[2]


def test_confusion_matrix_figure_shows_counts_and_accuracies(blobs_run):
    from polyviz.figures.train import confusion_matrix_spec
    from polyviz.training import classification_results

    run, (_, Xte, _, yte) = blobs_run
    res = classification_results(run.params, Xte, yte)
    spec = confusion_matrix_spec(res["confusion"])
    trace = spec["data"][0]
    assert np.array(trace["text"]).astype(int).tolist() == res["confusion"].tolist()
    assert f"{100 * res['accuracy']:.1f} % right" in spec["layout"]["title"]["text"]
    for label, acc in zip(trace["y"], res["per_class_accuracy"]):
        assert label.endswith(f"({100 * acc:.0f} %)")
    with pytest.raises(ValueError, match="square matrix"):
        confusion_matrix_spec(np.zeros((2, 3)))


def test_layer_embeddings_are_labelled_projections_coloured_by_class(blobs_run):
    from polyviz.figures.train import layer_embeddings_spec

    run, (Xtr, _, ytr, _) = blobs_run
    spec = layer_embeddings_spec(run.params, Xtr, ytr, max_points=200)
    names = spec["layout"]["meta"]["stage_names"]
    assert names == ["input (padded to 3-D)", "layer 1 (3-D projection of 6-D: PCA)",
                     "layer 2 (3-D projection of 6-D: PCA)"]
    assert "projection" in spec["layout"]["title"]["text"]
    assert len(spec["data"]) == 4 and len(spec["layout"]["sliders"][0]["steps"]) == 3
    # the last step's points are the PCA of the last layer's activations, class by class
    keep = subsample(ytr, 200, seed=0)
    acts, _ = hidden_activations(run.params, Xtr[keep])
    emb = fit_embedding(acts[-1])(acts[-1])
    for c, trace in enumerate(spec["data"]):
        np.testing.assert_allclose(decode(trace["x"]), emb[ytr[keep] == c, 0], atol=2e-3)


def test_every_frame_spans_the_same_box_so_the_scene_keeps_its_scale(spiral):
    """Plotly's 3-D scene scales by the extent of the data it draws, and rebuilt its axes on
    every frame when that extent moved (issue 11). An invisible anchor at the corners of a box
    holding the fixed ranges and every frame's drawing makes every frame's extent the same."""
    result, (Xtr, _, ytr, _) = spiral
    specs = [interpolation_animation_spec(result, Xtr, ytr, frames_per_step=3, rotation_frames=4, max_points=300),
             checkpoint_embedding_figure(result, Xtr, ytr, max_points=200).to_plotly_json()]
    for spec in specs:
        anchor = spec["data"][-1]
        # no pixels (size 0), and opaque: a translucent trace costs the scene two more passes a frame
        assert anchor["marker"]["size"] == 0 and anchor["marker"].get("opacity", 1) == 1
        assert anchor["showlegend"] is False and anchor["hoverinfo"] == "skip"
        scene = spec["layout"]["scene"]
        for axis in "xyz":
            lo, hi = decode(anchor[axis])
            range_lo, range_hi = scene[f"{axis}axis"]["range"]
            assert lo <= range_lo and range_hi <= hi
            extents = set()
            for frame in spec["frames"]:
                assert len(spec["data"]) - 1 not in frame["traces"]  # no frame moves the anchor
                drawn = np.concatenate([decode(trace[axis]) for trace in frame["data"]] + [decode(anchor[axis])])
                extents.add((float(drawn.min()), float(drawn.max())))
            assert extents == {(float(lo), float(hi))}  # what the scene scales by, the same in every frame

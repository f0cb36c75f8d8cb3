"""Plotly figures of the toy classifier lab (no Dash): training curves, decision boundary,
layer-by-layer interpolation animation, checkpoint scrubber, seed sweep.

Conventions as in :mod:`polyviz.figures.common`: each builder has a ``<name>_spec(...)``
form returning the plain figure dict (what the app sends) and a ``<name>_figure(...)`` form
returning a Plotly Figure for notebooks. Class 0 is blue and class 1 red throughout.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from polyviz.embedding import (
    InterpolationFrames,
    embed_layers,
    fit_embedding,
    interpolation_frames,
    plane_patch,
    subsample,
)
from polyviz.models import MLPParams, _as_params, hidden_activations, predict, predict_proba

from .common import (BLUE, GREEN, INK, PURPLE, RED, SMALL_POINT_3D, base_layout, f32, figure, i4, legend_below,
                     typed_grid, untyped)

CLASS_COLORS = (BLUE, RED)  # class 0 blue, class 1 red
CLASS_NAMES = ("class 0", "class 1")
# multiclass: class 0 blue and class 1 red as above, then eight more distinct colours
CLASS_PALETTE = (BLUE, RED, GREEN, "#e0a526", PURPLE, "#1aa3b8", "#8c564b", "#e377c2", "#5b6475", "#bcbd22")
PROB_SCALE = [[0.0, BLUE], [0.5, "#f7f7f7"], [1.0, RED]]
TRANSITION_COLOR = PURPLE
MAX_CURVE_POINTS = 3000
PLANE_COLOR = GREEN


def _rounded(a, decimals: int) -> dict:
    return f32(np.round(np.asarray(a, dtype=np.float64), decimals))


# ------------------------------------------------------------------------------------------
# training curves
# ------------------------------------------------------------------------------------------
def training_curves_spec(result, phase_transitions=None, title: str = "Training") -> dict:
    """Loss (log scale, top) and accuracy (bottom) against step, train and test, with a dashed
    vertical line at each phase transition. ``result`` is a TrainResult or its ``history``
    dict (then pass ``phase_transitions``). Long curves are thinned to 3000 points."""
    history = getattr(result, "history", result)
    if phase_transitions is None:
        phase_transitions = getattr(result, "phase_transitions", [])
    steps = np.asarray(history["step"])
    stride = max(1, int(np.ceil(len(steps) / MAX_CURVE_POINTS)))
    keep = np.arange(0, len(steps), stride)
    if len(steps) and keep[-1] != len(steps) - 1:
        keep = np.append(keep, len(steps) - 1)
    tl = np.asarray(history["train_loss"])[keep]
    ta = np.asarray(history["train_acc"])[keep]
    data = [
        dict(type="scatter", x=i4(steps[keep]), y=f32(tl), mode="lines", name="train loss",
             line=dict(color=BLUE, width=1.5), xaxis="x", yaxis="y",
             hovertemplate="step %{x}<br>train loss %{y:.4f}<extra></extra>"),
        dict(type="scatter", x=i4(steps[keep]), y=f32(ta), mode="lines", name="train accuracy",
             line=dict(color=BLUE, width=1.5), xaxis="x", yaxis="y2", showlegend=False,
             hovertemplate="step %{x}<br>train accuracy %{y:.3f}<extra></extra>"),
    ]
    ts = np.asarray(history.get("test_step", []))
    if len(ts):
        data += [
            dict(type="scatter", x=i4(ts), y=f32(history["test_loss"]), mode="lines", name="test loss",
                 line=dict(color=RED, width=1.5, dash="dot"), xaxis="x", yaxis="y",
                 hovertemplate="step %{x}<br>test loss %{y:.4f}<extra></extra>"),
            dict(type="scatter", x=i4(ts), y=f32(history["test_acc"]), mode="lines", name="test accuracy",
                 line=dict(color=RED, width=1.5, dash="dot"), xaxis="x", yaxis="y2", showlegend=False,
                 hovertemplate="step %{x}<br>test accuracy %{y:.3f}<extra></extra>"),
        ]
    shapes, annotations = [], []
    for t in phase_transitions:
        shapes.append(dict(type="line", xref="x", yref="paper", x0=int(t), x1=int(t), y0=0, y1=1,
                           line=dict(color=TRANSITION_COLOR, width=1.2, dash="dash")))
        annotations.append(dict(x=int(t), y=1.0, xref="x", yref="paper", text=f"phase transition (step {int(t)})",
                                showarrow=False, xanchor="left", yanchor="bottom",
                                font=dict(size=10, color=TRANSITION_COLOR)))
    layout = base_layout(
        title, showlegend=True, legend=dict(orientation="h", x=1, xanchor="right", y=1.12),
        xaxis=dict(anchor="y2", title=dict(text="step")),
        yaxis=dict(domain=[0.56, 1.0], type="log", title=dict(text="loss")),
        yaxis2=dict(domain=[0.0, 0.44], range=[0.0, 1.02], title=dict(text="accuracy")),
        shapes=shapes, annotations=annotations, hovermode="x unified",
        meta=dict(phase_transitions=[int(t) for t in phase_transitions]),
    )
    return dict(data=data, layout=layout)


def training_curves_figure(result, phase_transitions=None, title: str = "Training") -> go.Figure:
    return figure(training_curves_spec(result, phase_transitions, title))


# ------------------------------------------------------------------------------------------
# decision boundary
# ------------------------------------------------------------------------------------------
def _class_scatter(X, y, *, three_d: bool, size: float, symbol: str = "circle", suffix: str = "",
                   decimals: int = 4) -> list[dict]:
    traces = []
    for label in range(max(2, int(y.max()) + 1 if len(y) else 2)):
        pts = X[y == label]
        color = CLASS_PALETTE[label % len(CLASS_PALETTE)]
        marker = dict(color=color, size=size, line=dict(color="white", width=0.6 if not three_d else 0))
        if symbol != "circle":
            marker.update(symbol=symbol, line=dict(color=INK, width=1), color=color)
        trace = dict(type="scatter3d" if three_d else "scatter", mode="markers",
                     name=f"class {label}" + suffix, x=_rounded(pts[:, 0], decimals), y=_rounded(pts[:, 1], decimals),
                     marker=marker, hoverinfo="skip")
        if three_d:
            trace["z"] = _rounded(pts[:, 2], decimals)
        traces.append(trace)
    return traces


def _probability_map(xs, ys, prob) -> list[dict]:
    """Binary: P(class 1) as a heatmap and its 0.5 contour."""
    return [
        dict(type="heatmap", x=f32(xs), y=f32(ys), z=typed_grid(np.round(prob, 3)), zmin=0, zmax=1,
             colorscale=PROB_SCALE, colorbar=dict(title=dict(text="P(1)"), thickness=12),
             hovertemplate="(%{x:.2f}, %{y:.2f})<br>P(class 1) = %{z:.3f}<extra></extra>"),
        dict(type="contour", x=f32(xs), y=f32(ys), z=typed_grid(np.round(prob, 3)), showscale=False,
             contours=dict(start=0.5, end=0.5, size=1, coloring="lines"), line=dict(width=1.5),
             colorscale=[[0.0, INK], [1.0, INK]],
             hoverinfo="skip", name="P = 0.5"),
    ]


def _discrete_scale(n: int) -> list:
    """A colour scale that gives integer z = 0..n-1 the class colours (flat bands)."""
    scale = []
    for c in range(n):
        color = CLASS_PALETTE[c % len(CLASS_PALETTE)]
        scale += [[c / n, color], [(c + 1) / n, color]]
    return scale


def _multiclass_regions(p: MLPParams, xs, ys, gx, gy) -> list[dict]:
    """Multiclass: each grid cell in the colour of its predicted class (the largest logit),
    faded so the data stay visible, with the predicted class on hover."""
    C = p.config.n_classes
    pred = predict(p, np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gx.shape)
    return [dict(type="heatmap", x=f32(xs), y=f32(ys), z=typed_grid(pred.astype(np.float64)), zmin=-0.5,
                 zmax=C - 0.5, colorscale=_discrete_scale(C), opacity=0.35, showscale=False,
                 hovertemplate="(%{x:.2f}, %{y:.2f})<br>predicted class %{z}<extra></extra>", name="predicted class")]


def decision_boundary_spec(params, X, y, X_test=None, y_test=None, *, grid: int = 121,
                           title: str = "Decision boundary") -> dict:
    """2-D input: heatmap of P(class 1) on a grid over the data, the 0.5 contour, the data
    (test points as open markers); for more than two classes the grid takes the colour of
    its predicted class (argmax of the logits) instead. 3-D input: the sphere through the data coloured by
    P(class 1), with the data."""
    p = _as_params(params)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    d = p.config.in_dim
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X must be (n, {d}), got {X.shape}")
    if not 11 <= int(grid) <= 401:
        raise ValueError(f"grid must be in [11, 401], got {grid}")
    if d == 2:
        lo = X.min(axis=0)
        hi = X.max(axis=0)
        pad = 0.1 * (hi - lo).max() + 1e-6
        xs = np.linspace(lo[0] - pad, hi[0] + pad, grid)
        ys = np.linspace(lo[1] - pad, hi[1] + pad, grid)
        gx, gy = np.meshgrid(xs, ys)
        if p.config.n_classes > 2:
            data = _multiclass_regions(p, xs, ys, gx, gy)
        else:
            prob = predict_proba(p, np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(grid, grid)
            data = _probability_map(xs, ys, prob)
        data += _class_scatter(X, y, three_d=False, size=4)
        if X_test is not None:
            data += _class_scatter(np.asarray(X_test, dtype=np.float64), np.asarray(y_test).astype(np.int64),
                                   three_d=False, size=5, symbol="circle-open", suffix=" (test)")
        # legend under the plot: four entries beside the title would wrap over it in a narrow card
        layout = base_layout(title, showlegend=True,
                             legend=legend_below(0.5, "center"), margin=dict(l=40, r=16, t=44, b=100),
                             # equal scales by narrowing the plot (see stretch_fold.circle_spec)
                             xaxis=dict(range=[xs[0], xs[-1]], title=dict(text="x₁"), constrain="domain"),
                             yaxis=dict(range=[ys[0], ys[-1]], scaleanchor="x", scaleratio=1, title=dict(text="x₂"),
                                        constrain="domain"))
        return dict(data=data, layout=layout)
    if d == 3:
        radius = float(np.median(np.linalg.norm(X, axis=1))) or 1.0
        lat = np.linspace(-np.pi / 2, np.pi / 2, grid // 2 + 1)
        lon = np.linspace(-np.pi, np.pi, grid)
        LON, LAT = np.meshgrid(lon, lat)
        sx = radius * np.cos(LAT) * np.cos(LON)
        sy = radius * np.cos(LAT) * np.sin(LON)
        sz = radius * np.sin(LAT)
        points = np.stack([sx.ravel(), sy.ravel(), sz.ravel()], axis=1)
        if p.config.n_classes > 2:  # the predicted class's colour
            C = p.config.n_classes
            colour = dict(surfacecolor=typed_grid(predict(p, points).reshape(sx.shape).astype(np.float64)),
                          cmin=-0.5, cmax=C - 0.5, colorscale=_discrete_scale(C), showscale=False,
                          hovertemplate="predicted class %{surfacecolor}<extra></extra>")
        else:
            prob = predict_proba(p, points).reshape(sx.shape)
            colour = dict(surfacecolor=typed_grid(np.round(prob, 3)), cmin=0, cmax=1, colorscale=PROB_SCALE,
                          colorbar=dict(title=dict(text="P(1)"), thickness=12),
                          hovertemplate="P(class 1) = %{surfacecolor:.3f}<extra></extra>")
        data = [dict(type="surface", x=typed_grid(np.round(sx, 4)), y=typed_grid(np.round(sy, 4)),
                     z=typed_grid(np.round(sz, 4)), opacity=0.9, name="prediction", **colour)]
        Xs = X * 1.01  # just outside the surface so the points stay visible
        data += _class_scatter(Xs, y, three_d=True, size=2)
        layout = base_layout(title, showlegend=True,  # legend under the scene, clear of the colour bar
                             legend=legend_below(0.5, "center"), margin=dict(l=0, r=0, t=44, b=40),
                             scene=dict(aspectmode="cube", xaxis=dict(title=dict(text="x₁")),
                                        yaxis=dict(title=dict(text="x₂")), zaxis=dict(title=dict(text="x₃"))))
        return dict(data=data, layout=layout)
    raise ValueError(f"decision boundaries are drawn for 2-D or 3-D input, got in_dim={d}")


def decision_boundary_figure(params, X, y, X_test=None, y_test=None, *, grid: int = 121,
                             title: str = "Decision boundary") -> go.Figure:
    return figure(decision_boundary_spec(params, X, y, X_test, y_test, grid=grid, title=title))


# ------------------------------------------------------------------------------------------
# layer-by-layer interpolation animation
# ------------------------------------------------------------------------------------------
def _plane_trace(plane, points, decimals: int) -> dict:
    """The plane trace's state in one frame: its corners and whether it is drawn at all.

    Every frame says both. A mesh3d given no vertices keeps drawing its previous triangles
    in WebGL, so a frame without a plane must hide the trace (visible False), not only
    empty it: otherwise the final layer's plane stays on the input after one playback."""
    corners = None if plane is None else plane_patch(plane[0], plane[1], points)
    if corners is None:
        return dict(type="mesh3d", visible=False, x=[], y=[], z=[])
    c = np.round(corners, decimals)
    return dict(type="mesh3d", visible=True, x=f32(c[:, 0]), y=f32(c[:, 1]), z=f32(c[:, 2]))


def _points_update(frame: np.ndarray, labels: np.ndarray, decimals: int) -> list[dict]:
    out = []
    for label in (0, 1):
        pts = np.round(frame[labels == label].astype(np.float64), decimals)
        out.append(dict(type="scatter3d", x=f32(pts[:, 0]), y=f32(pts[:, 1]), z=f32(pts[:, 2])))
    return out


def _scene_ranges(frames: np.ndarray) -> dict:
    lo = frames.reshape(-1, 3).min(axis=0)
    hi = frames.reshape(-1, 3).max(axis=0)
    centre = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2 * 1.08, 1e-3)
    axes = {}
    for name, c in zip(("xaxis", "yaxis", "zaxis"), centre):
        axes[name] = dict(range=[float(c - half), float(c + half)], title=dict(text=""), showspikes=False)
    return axes


def _bounds_anchor(axes: dict, frames: list[dict]) -> dict:
    """An invisible two-point trace at opposite corners of a box holding the scene's fixed
    ranges and everything any frame draws (the plane's corners may reach past the ranges).

    Plotly's 3-D scene rescales its WebGL coordinates by the extent of the *data* (not the
    axis ranges) on every redraw; as the points move from frame to frame that scale changed,
    so each frame rebuilt the axes' tick lines and labels (new shader programs, compiled
    anew: a large part of a frame's cost in software WebGL). With these two points the
    extent is the same in every frame, so a frame only moves the points. The axis ranges
    are fixed, so the picture is unchanged; the anchor's markers have no size (so no
    pixels), not in the legend, not hoverable, and no frame touches it. They are opaque: one
    translucent trace (opacity 0 was) makes gl-plot3d draw every frame in three passes."""
    corners = {}
    for axis in "xyz":
        lo, hi = axes[f"{axis}axis"]["range"]
        for frame in frames:
            for trace in frame["data"]:
                values = untyped(trace[axis])
                if len(values):
                    lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
        corners[axis] = [lo, hi]
    return dict(type="scatter3d", mode="markers", name="scene bounds", **corners, marker=dict(size=0),
                hoverinfo="skip", showlegend=False)


def _animate_args(frame_names, duration_ms: int) -> list:
    return [frame_names, dict(mode="immediate", frame=dict(duration=duration_ms, redraw=True),
                              transition=dict(duration=0), fromcurrent=True)]


def interpolation_animation_spec(source, X=None, y=None, *, frames_per_step: int = 12, rotation_frames: int = 24,
                                 max_points: int = 800, seed: int = 0, decimals: int = 3, frame_ms: int = 40,
                                 title: str = "Layer by layer") -> dict:
    """Animated 3-D scatter interpolating input -> act 1 -> ... -> final activations, then
    (optionally) a full turn around the vertical axis; the separating plane of the output layer
    appears on the final stage. Play/pause buttons; the slider's steps jump to the layers.

    ``source``: a model (MLPParams / TrainResult, then give X and y) or prebuilt
    :class:`InterpolationFrames`. The payload is kept small: at most ``max_points`` points
    (class-stratified), coordinates rounded to ``decimals`` and sent as float32. ``frame_ms``:
    the time from one frame to the next while playing (40: 25 frames/s where the browser
    draws that fast; a slower one shows each frame as soon as it is drawn). In the
    app, ▶ is answered by assets/frame_player.js, which moves the points without Plotly's
    whole-figure redraw; an exported figure plays with Plotly's own.
    """
    if isinstance(source, InterpolationFrames):
        anim = source
    else:
        if X is None or y is None:
            raise ValueError("X and y are required when source is a model")
        anim = interpolation_frames(embed_layers(source, X, y), frames_per_step=frames_per_step,
                                    rotation_frames=rotation_frames, max_points=max_points, seed=seed)
    frames, labels = anim.frames, anim.labels
    first = _points_update(frames[0], labels, decimals)
    final_points = frames[anim.stage_frames[-1]]
    data = []
    for label in (0, 1):
        data.append(dict(mode="markers", name=CLASS_NAMES[label], **first[label],
                         marker=dict(color=CLASS_COLORS[label], size=2.5, **SMALL_POINT_3D), hoverinfo="skip"))
    plane0 = anim.planes[0] if len(frames) == 1 else None
    data.append(dict(name="separating plane", i=[0, 0], j=[1, 2], k=[2, 3], color=PLANE_COLOR,
                     opacity=0.35, hoverinfo="skip", showlegend=True, **_plane_trace(plane0, final_points, decimals)))
    plotly_frames = []
    for index, frame in enumerate(frames):
        pts = _points_update(frame, labels, decimals)
        plotly_frames.append(dict(name=str(index), traces=[0, 1, 2],
                                  data=[pts[0], pts[1], _plane_trace(anim.planes[index], frame, decimals)]))
    axes = _scene_ranges(frames)
    data.append(_bounds_anchor(axes, plotly_frames))
    labels_for_steps = list(anim.stage_names)
    step_frames = list(anim.stage_frames)
    if anim.rotation_start < len(frames):
        labels_for_steps.append("rotate")
        step_frames.append(anim.rotation_start)
    slider = dict(
        active=0, x=0.17, len=0.81, y=0, yanchor="top", pad=dict(t=8),  # right of the play/pause buttons
        # the layer's name at the right end: at the left, a narrow card (/compare's columns) put
        # it under the play buttons
        currentvalue=dict(prefix="", visible=True, xanchor="right"),
        steps=[dict(label=name, method="animate", args=_animate_args([str(f)], 0))
               for name, f in zip(labels_for_steps, step_frames)],
    )
    buttons = dict(type="buttons", direction="left", x=0.0, y=0, xanchor="left", yanchor="top", pad=dict(t=8, r=8),
                   showactive=False,
                   buttons=[dict(label="▶", method="animate", args=_animate_args(None, frame_ms)),
                            dict(label="❚❚", method="animate",
                                 args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False),
                                                    transition=dict(duration=0))])])
    layout = base_layout(
        title, showlegend=True, legend=dict(orientation="h", x=1, xanchor="right", y=1.05),
        scene=dict(aspectmode="cube", **axes), sliders=[slider], updatemenus=[buttons],
        margin=dict(l=0, r=0, t=44, b=60), uirevision="interpolation",
        meta=dict(stage_frames=[int(f) for f in anim.stage_frames], rotation_start=int(anim.rotation_start),
                  stage_names=list(anim.stage_names), n_frames=int(len(frames))),
    )
    return dict(data=data, layout=layout, frames=plotly_frames)


def interpolation_animation_figure(source, X=None, y=None, **kwargs) -> go.Figure:
    """Figure form of :func:`interpolation_animation_spec` (same arguments)."""
    return figure(interpolation_animation_spec(source, X, y, **kwargs))


# ------------------------------------------------------------------------------------------
# checkpoint scrubber
# ------------------------------------------------------------------------------------------
def checkpoint_embedding_spec(result, X, y, *, layer: int = -1, max_points: int = 800, seed: int = 0,
                              decimals: int = 3, title: str = "Embedding during training") -> dict:
    """One hidden layer's 3-D embedding (default: the last) at every training checkpoint, with
    a scrubber slider over the checkpoint steps; on the last hidden layer the output layer's
    separating plane is drawn. Starts at the last checkpoint."""
    checkpoints = getattr(result, "checkpoints", None)
    if not checkpoints:
        raise ValueError("the result has no checkpoints (set TrainConfig.checkpoint_every)")
    config = result.params.config
    depth = config.depth
    if depth == 0:
        raise ValueError("the model has no hidden layer to embed")
    if not -depth <= layer < depth:
        raise ValueError(f"layer must be in [{-depth}, {depth - 1}] (hidden layers), got {layer}")
    stage = (layer % depth) + 1  # stage 0 is the input
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).astype(np.int64)
    index = subsample(y, max_points, seed)
    Xs, ys = X[index], y[index]
    steps = sorted(checkpoints)
    embs, planes = [], []
    for s in steps:
        emb = embed_layers(MLPParams(config, checkpoints[s]), Xs, ys)
        embs.append(emb.stages[stage])
        planes.append(emb.plane if stage == depth else None)
    allpts = np.stack(embs)
    data = []
    last = len(steps) - 1
    pts_last = _points_update(embs[last], ys, decimals)
    for label in (0, 1):
        data.append(dict(mode="markers", name=CLASS_NAMES[label], **pts_last[label],
                         marker=dict(color=CLASS_COLORS[label], size=2.5, **SMALL_POINT_3D), hoverinfo="skip"))
    data.append(dict(name="separating plane", i=[0, 0], j=[1, 2], k=[2, 3], color=PLANE_COLOR,
                     opacity=0.35, hoverinfo="skip", showlegend=True, **_plane_trace(planes[last], embs[last], decimals)))
    frames = []
    for s, e, pl in zip(steps, embs, planes):
        pts = _points_update(e, ys, decimals)
        frames.append(dict(name=f"step {s}", traces=[0, 1, 2], data=[pts[0], pts[1], _plane_trace(pl, e, decimals)]))
    axes = _scene_ranges(allpts)
    data.append(_bounds_anchor(axes, frames))
    slider = dict(active=last, x=0.0, len=1.0, y=0, yanchor="top", pad=dict(t=8),
                  currentvalue=dict(prefix="step ", visible=True, xanchor="left"),
                  steps=[dict(label=str(s), method="animate", args=_animate_args([f"step {s}"], 0)) for s in steps])
    layout = base_layout(
        f"{title} — layer {stage}", showlegend=True, legend=dict(orientation="h", x=1, xanchor="right", y=1.05),
        scene=dict(aspectmode="cube", **axes), sliders=[slider],
        margin=dict(l=0, r=0, t=44, b=60), uirevision="checkpoints", meta=dict(steps=[int(s) for s in steps]),
    )
    return dict(data=data, layout=layout, frames=frames)


def checkpoint_embedding_figure(result, X, y, **kwargs) -> go.Figure:
    return figure(checkpoint_embedding_spec(result, X, y, **kwargs))


# ------------------------------------------------------------------------------------------
# seed sweep
# ------------------------------------------------------------------------------------------
def seed_sweep_spec(sweep, *, threshold: float | None = None, title: str = "Seed sweep") -> dict:
    """Left: each seed's final accuracy (test if there is test data) against its first phase
    transition step (seeds without one sit at the right edge, marked ×); right: the
    distribution of final accuracy. Every point's ``customdata`` is its seed (a plain list:
    Dash's clickData reads it from the figure as sent, which a typed array is not), so a click can
    open that run. Seeds at or above ``threshold`` are blue, others red."""
    acc = np.asarray(sweep.final_test_acc, dtype=np.float64)
    which = "test"
    if np.all(np.isnan(acc)):
        acc, which = np.asarray(sweep.final_train_acc, dtype=np.float64), "train"
    seeds = np.asarray(sweep.seeds, dtype=np.int64)
    trans = np.asarray(sweep.transition_step, dtype=np.int64)
    total = int(sweep.train_config.steps)
    none_x = int(round(total * 1.05))
    x = np.where(trans >= 0, trans, none_x)
    ok = acc >= threshold if threshold is not None else np.ones(len(acc), bool)
    data = []
    for good, has_t in ((True, True), (False, True), (True, False), (False, False)):
        sel = (ok == good) & ((trans >= 0) == has_t) & np.isfinite(acc)
        if not sel.any():
            continue
        name = ("reached" if good else "missed") if threshold is not None else "seed"
        name += "" if has_t else ", no transition"
        data.append(dict(
            type="scatter", mode="markers", x=i4(x[sel]), y=f32(acc[sel]), customdata=[int(v) for v in seeds[sel]],
            name=name, xaxis="x", yaxis="y",
            marker=dict(color=CLASS_COLORS[0] if good else CLASS_COLORS[1], size=8,
                        symbol="circle" if has_t else "x", line=dict(width=0.5, color=INK)),
            hovertemplate=("seed %{customdata}<br>" + (f"phase transition at step %{{x}}" if has_t else "no phase transition")
                           + f"<br>final {which} accuracy %{{y:.3f}}<extra></extra>"),
        ))
    finite = acc[np.isfinite(acc)]
    data.append(dict(type="histogram", y=f32(finite), name="accuracy", xaxis="x2", yaxis="y",
                     marker=dict(color="#8a93a6"), nbinsy=20, showlegend=False,
                     hovertemplate="%{x} seeds<extra></extra>"))
    diverged = int((np.asarray(sweep.diverged_step) >= 0).sum())
    note = f"{len(seeds)} seeds" + (f", {diverged} diverged" if diverged else "")
    if threshold is not None:
        note += f", {int(ok[np.isfinite(acc)].sum())} reached {threshold:g}"
    layout = base_layout(
        f"{title} — {note}", showlegend=True, legend=dict(orientation="h", x=1, xanchor="right", y=1.12),
        xaxis=dict(domain=[0.0, 0.7], range=[-0.02 * total, total * 1.1], title=dict(text="first phase transition (step)")),
        xaxis2=dict(domain=[0.76, 1.0], title=dict(text="seeds"), anchor="y"),
        yaxis=dict(title=dict(text=f"final {which} accuracy")),
        clickmode="event", meta=dict(seeds=[int(s) for s in seeds]), margin=dict(l=64, r=16, t=44, b=40),
    )
    return dict(data=data, layout=layout)


def seed_sweep_figure(sweep, *, threshold: float | None = None, title: str = "Seed sweep") -> go.Figure:
    return figure(seed_sweep_spec(sweep, threshold=threshold, title=title))


# ------------------------------------------------------------------------------------------
# multiclass results: confusion matrix, layer embeddings
# ------------------------------------------------------------------------------------------
def confusion_matrix_spec(confusion, *, class_names=None, title: str = "Confusion matrix (test)") -> dict:
    """Heatmap of a confusion matrix (rows: true class, columns: predicted class; from
    :func:`polyviz.training.confusion_matrix`), each cell with its count; the row labels
    carry each class's accuracy and the title the overall accuracy."""
    cm = np.asarray(confusion, dtype=np.int64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] < 2:
        raise ValueError(f"confusion must be a square matrix of at least 2 classes, got shape {cm.shape}")
    C = cm.shape[0]
    names = [str(n) for n in class_names] if class_names is not None else [str(c) for c in range(C)]
    if len(names) != C:
        raise ValueError(f"class_names must have {C} entries, got {len(names)}")
    rows = cm.sum(axis=1)
    row_acc = [f"{100 * cm[c, c] / rows[c]:.0f} %" if rows[c] else "—" for c in range(C)]
    total = int(cm.sum())
    acc = 100 * np.trace(cm) / total if total else float("nan")
    # colour by the fraction of the true class's points, so small and large classes compare
    frac = cm / np.maximum(rows[:, None], 1)
    y_labels = [f"{n} ({a})" for n, a in zip(names, row_acc)]
    data = [dict(type="heatmap", z=typed_grid(np.round(frac, 4)), x=names, y=y_labels, zmin=0, zmax=1,
                 colorscale=[[0.0, "#ffffff"], [1.0, BLUE]], showscale=False,
                 text=cm.astype(str).tolist(), texttemplate="%{text}", textfont=dict(size=11 if C > 6 else 13),
                 hovertemplate="true %{y}<br>predicted %{x}<br>%{text} points<extra></extra>")]
    layout = base_layout(f"{title} · {acc:.1f} % right" if total else title,
                         xaxis=dict(title=dict(text="predicted class"), side="bottom", type="category"),
                         yaxis=dict(title=dict(text="true class (its accuracy)"), autorange="reversed",
                                    type="category"),
                         margin=dict(l=90, r=16, t=44, b=56))
    return dict(data=data, layout=layout)


def confusion_matrix_figure(confusion, **kwargs) -> go.Figure:
    return figure(confusion_matrix_spec(confusion, **kwargs))


def layer_embeddings_spec(params, X, y, *, max_points: int = 800, seed: int = 0, decimals: int = 3,
                          title: str = "Layer embeddings") -> dict:
    """Every stage (the input, then each hidden layer's activations; for a pre-LN model the
    residual stream after each block) as a 3-D scatter coloured by class, one slider step
    per stage. A stage wider than 3 is drawn as a PROJECTION, on the top three principal axes
    of its activations (:func:`polyviz.embedding.fit_embedding`), and the stage's name says
    so; at most ``max_points`` points (class-stratified)."""
    p = _as_params(params)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).astype(np.int64)
    keep = subsample(y, max_points, seed=seed)
    acts, _ = hidden_activations(p, X[keep])
    labels = y[keep]
    classes = list(range(max(2, p.config.n_classes, int(labels.max()) + 1 if len(labels) else 2)))
    stages, names = [], []
    for index, a in enumerate(acts):
        emb = fit_embedding(a)
        stages.append(np.round(emb(a).astype(np.float64), decimals))
        if index == 0:
            base = "input"
        elif p.config.architecture == "preln":  # the residual stream
            base = "after the input Linear" if index == 1 else f"after block {index - 1}"
        else:
            base = f"layer {index}"
        how = {"identity": "", "padded": " (padded to 3-D)",
               "pca": f" (3-D projection of {a.shape[1]}-D: PCA)"}[emb.method]
        names.append(base + how)

    def xyz(stage):
        out = {"x": [], "y": [], "z": []}
        for c in classes:
            pts = stage[labels == c]
            out["x"].append(f32(pts[:, 0]))
            out["y"].append(f32(pts[:, 1]))
            out["z"].append(f32(pts[:, 2]))
        return out

    last = xyz(stages[-1])
    data = [dict(type="scatter3d", mode="markers", name=f"class {c}", x=last["x"][i], y=last["y"][i],
                 z=last["z"][i], marker=dict(color=CLASS_PALETTE[c % len(CLASS_PALETTE)], size=2.5, **SMALL_POINT_3D),
                 hoverinfo="skip") for i, c in enumerate(classes)]
    steps = [dict(label=name, method="update",
                  args=[xyz(stage), {"title.text": f"{title} · {name}"}]) for name, stage in zip(names, stages)]
    slider = dict(active=len(stages) - 1, x=0.02, len=0.96, y=0, yanchor="top", pad=dict(t=8),
                  currentvalue=dict(visible=False), steps=steps)
    layout = base_layout(f"{title} · {names[-1]}", showlegend=True,
                         legend=dict(orientation="h", x=1, xanchor="right", y=1.05),
                         scene=dict(aspectmode="data"), sliders=[slider], margin=dict(l=0, r=0, t=44, b=60),
                         uirevision="layer-embeddings", meta=dict(stage_names=names))
    return dict(data=data, layout=layout)


def layer_embeddings_figure(params, X, y, **kwargs) -> go.Figure:
    return figure(layer_embeddings_spec(params, X, y, **kwargs))

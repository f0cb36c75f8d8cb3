"""The "Your data" figure of /train (no Dash): the data as it will be trained on, and for
2-D data a canvas: an invisible grid under the points makes a click anywhere report its
coordinates (Plotly reports clicks on traces only), so a click adds a point there.

Colours: class 0 blue and class 1 red, as in every /train figure; more classes take the
next colours of :data:`CLASS_PALETTE`.
"""

from __future__ import annotations

import numpy as np

from polyviz.embedding import subsample
from polyviz.userdata import DRAW_RANGE

from .common import BLUE, GREEN, PURPLE, RED, base_layout, f32, figure, legend_below, typed_grid

CLASS_PALETTE = (BLUE, RED, GREEN, "#e0a526", PURPLE, "#1aa3b8", "#8c564b", "#e377c2", "#5b6475", "#17becf")
CANVAS_CELLS = 121  # click resolution: the canvas's width / 120 per step
MAX_SHOWN = 3000  # points drawn (a stratified subset of larger data; the words say so)


def canvas_range(X) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1): the drawing square, grown to hold every point with a margin."""
    lo, hi = -DRAW_RANGE, DRAW_RANGE
    if len(X):
        pad = 0.08 * max(float(np.ptp(X[:, 0])), float(np.ptp(X[:, 1])), 1e-6)
        x0, x1 = min(lo, float(X[:, 0].min()) - pad), max(hi, float(X[:, 0].max()) + pad)
        y0, y1 = min(lo, float(X[:, 1].min()) - pad), max(hi, float(X[:, 1].max()) + pad)
        return x0, x1, y0, y1
    return lo, hi, lo, hi


def data_figure_spec(X, y, classes, *, title: str = "Your data", drawable: bool = True) -> dict:
    """The data ``X`` (n, 2 or 3), ``y`` (class indices into ``classes``); with ``drawable``
    (2-D only) the invisible click grid under it."""
    X = np.asarray(X, dtype=np.float64).reshape(len(y), -1) if len(y) else np.zeros((0, 2))
    y = np.asarray(y, dtype=np.int64)
    keep = subsample(y, MAX_SHOWN, seed=3) if len(y) else np.arange(0)
    three_d = X.shape[1] == 3
    data = []
    if drawable and not three_d:
        x0, x1, y0, y1 = canvas_range(X)
        data.append(dict(type="heatmap", x=f32(np.linspace(x0, x1, CANVAS_CELLS)),
                         y=f32(np.linspace(y0, y1, CANVAS_CELLS)),
                         z=typed_grid(np.zeros((CANVAS_CELLS, CANVAS_CELLS)), "u1"),
                         colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]], showscale=False,
                         hovertemplate="click: add a point at (%{x:.2f}, %{y:.2f})<extra></extra>", name="canvas"))
    for index, name in enumerate(classes):
        pts = X[keep][y[keep] == index]
        color = CLASS_PALETTE[index % len(CLASS_PALETTE)]
        trace = dict(type="scatter3d" if three_d else "scatter", mode="markers", name=f"class {name}",
                     x=f32(pts[:, 0]), y=f32(pts[:, 1]),
                     marker=dict(color=color, size=2.5 if three_d else 6, line=dict(width=0.5, color="white")),
                     hovertemplate=f"class {name}<br>(%{{x:.3f}}, %{{y:.3f}})<extra></extra>")
        if three_d:
            trace["z"] = f32(pts[:, 2])
        data.append(trace)
    legend = legend_below(0.5, "center")
    if three_d:
        layout = base_layout(title, showlegend=True, legend=legend, margin=dict(l=0, r=0, t=36, b=36),
                             scene=dict(aspectmode="data"))
    else:
        x0, x1, y0, y1 = canvas_range(X)
        layout = base_layout(title, showlegend=bool(classes), legend=legend, margin=dict(l=36, r=10, t=36, b=62),
                             xaxis=dict(range=[x0, x1], zeroline=False),
                             yaxis=dict(range=[y0, y1], zeroline=False, scaleanchor="x", scaleratio=1),
                             hovermode="closest", dragmode=False)
        if not len(y):
            layout["annotations"] = [dict(text="Click to add points of the chosen class", x=0.5, y=0.5,
                                          xref="paper", yref="paper", showarrow=False,
                                          font=dict(size=13, color="#5b6475"))]
    return dict(data=data, layout=layout)


def data_figure(X, y, classes, **kwargs):
    return figure(data_figure_spec(X, y, classes, **kwargs))

"""Small static previews for the landing page, computed by the library like every figure.

Each returns a plain Plotly figure dict a few kilobytes in size (staticPlot in the app).
"""

from __future__ import annotations

import numpy as np

from .. import stretch_fold as sf
from ..datasets import make_dataset
from ..polytopes import arc_bounds, circle_arcs, random_layer
from .common import BLUE, RED, base_layout, f32, u8
from .sphere import code_color
from .stretch_fold import ANGLE_SCALE, angle_codes


def _bare(height: int = 150) -> dict:
    axis = dict(visible=False, scaleanchor=None)
    return base_layout("", height=height, margin=dict(l=4, r=4, t=4, b=4), xaxis=axis,
                       yaxis=dict(visible=False, scaleanchor="x", scaleratio=1))


def stretch_preview() -> dict:
    """The unit circle and its fold u_eps(x + 0.8, y): points left of -0.8 thrown across."""
    points = sf.input_points("circle", 90)
    images = sf.apply(points, "shift", 0.8, 0.01)
    colour = u8(angle_codes(points))
    data = [dict(type="scatter", x=f32(points[:, 0]), y=f32(points[:, 1]), mode="markers",
                 marker=dict(size=3, color=colour, colorscale=ANGLE_SCALE, cmin=0, cmax=255, opacity=0.35)),
            dict(type="scatter", x=f32(images[:, 0]), y=f32(images[:, 1]), mode="markers",
                 marker=dict(size=6, color=colour, colorscale=ANGLE_SCALE, cmin=0, cmax=255))]
    return dict(data=data, layout=_bare())


def arcs_preview(neurons: int = 5, seed: int = 3) -> dict:
    """A circle cut into arcs by a random ReLU layer, each arc coloured by its spline code."""
    W, b = random_layer(neurons, 2, seed, 1.0, 0.5)
    angles, codes = circle_arcs(W, b, np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    data = []
    starts, ends = arc_bounds(angles)
    for start, end, code in zip(starts, ends, codes):
        a = np.linspace(start, end, 24)
        data.append(dict(type="scatter", x=f32(np.cos(a)), y=f32(np.sin(a)), mode="lines",
                         line=dict(color=code_color(code), width=7)))
    for w, c in zip(W, b):  # the neuron lines w.x + b = 0, clipped to the view
        normal = w / np.linalg.norm(w)
        foot = -c / np.linalg.norm(w) * normal
        along = np.array([-normal[1], normal[0]])
        seg = np.stack([foot - 1.6 * along, foot + 1.6 * along])
        data.append(dict(type="scatter", x=f32(seg[:, 0]), y=f32(seg[:, 1]), mode="lines",
                         line=dict(color="rgba(60,70,90,0.35)", width=1, dash="dot")))
    layout = _bare()
    layout["xaxis"]["range"] = [-1.6, 1.6]
    layout["yaxis"]["range"] = [-1.25, 1.25]
    return dict(data=data, layout=layout)


def spiral_preview() -> dict:
    """The two-arm spiral the width-3 u_eps network learns to separate."""
    X, y = make_dataset("spiral", 400, 0.01, 0)
    data = [dict(type="scatter", x=f32(X[y == k, 0]), y=f32(X[y == k, 1]), mode="markers",
                 marker=dict(size=4, color=colour)) for k, colour in ((0, BLUE), (1, RED))]
    return dict(data=data, layout=_bare())


def compare_preview(columns=("u_ε", "LayerNorm", "ReLU")) -> dict:
    """The spiral the Compare preset trains three networks on, once per column (the page then
    draws each column's own boundary over it)."""
    X, y = make_dataset("spiral", 240, 0.01, 0)
    data, layout = [], _bare()
    layout["annotations"] = []
    for i, title in enumerate(columns):
        axis = "" if i == 0 else str(i + 1)
        for k, colour in ((0, BLUE), (1, RED)):
            data.append(dict(type="scatter", x=f32(X[y == k, 0]), y=f32(X[y == k, 1]), mode="markers",
                             xaxis=f"x{axis}", yaxis=f"y{axis}", marker=dict(size=3, color=colour)))
        lo, hi = i / len(columns), (i + 1) / len(columns)
        layout[f"xaxis{axis}"] = dict(visible=False, domain=[lo + 0.02, hi - 0.02])
        layout[f"yaxis{axis}"] = dict(visible=False, domain=[0, 0.86], scaleanchor=f"x{axis}", scaleratio=1)
        layout["annotations"].append(dict(text=title, x=(lo + hi) / 2, y=1, xref="paper", yref="paper",
                                          showarrow=False, font=dict(size=10), yanchor="top"))
    return dict(data=data, layout=layout)


def crossings_preview(neurons: int = 40, dim: int = 16, seed: int = 4) -> dict:
    """Each neuron's two sign changes along a great circle of the LayerNorm sphere (a random
    layer here: the page itself reads real checkpoints), as on the /transformer page."""
    from .. import transformer as tf

    rng = np.random.default_rng(seed)
    W = rng.normal(size=(neurons, dim)) / np.sqrt(dim)
    b = rng.normal(scale=0.5, size=neurons)
    crossings = tf.circle_crossings(W, b, tf.great_circle(rng.normal(size=dim), rng.normal(size=dim)))
    on = crossings.turns_on
    data = [dict(type="scatter", x=f32(crossings.angles[mask]), y=f32(crossings.neurons[mask]), mode="markers",
                 marker=dict(size=5, color=colour)) for mask, colour in ((on, "#2a9d6f"), (~on, RED))]
    layout = base_layout("", height=150, margin=dict(l=4, r=4, t=4, b=4), xaxis=dict(visible=False),
                         yaxis=dict(visible=False))
    return dict(data=data, layout=layout)

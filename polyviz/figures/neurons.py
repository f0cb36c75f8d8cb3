"""Per-neuron maps (no Dash): every hidden neuron's activation over the input plane as a small
heatmap, one row per hidden layer, as TensorFlow Playground draws its neuron thumbnails.

For 2-D input only (the plane is the input space). For the pre-LN architecture the rows are
the residual stream after the input Linear and after each block (what
:func:`polyviz.models.hidden_activations` returns for it).

As everywhere in :mod:`polyviz.figures`: ``neuron_maps_spec`` returns the plain figure dict
the app sends, ``neuron_maps_figure`` a Plotly Figure for notebooks.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from polyviz.models import _as_params, hidden_activations

from .common import BLUE, RED, base_layout, f32, figure, typed_grid

MAX_NEURONS = 8  # thumbnails per row: a wider layer shows its first 8 neurons (the title says so)
MAX_ROWS = 8
NEURON_SCALE = [[0.0, BLUE], [0.5, "#f7f7f7"], [1.0, RED]]


def input_grid(X, grid: int, pad: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(xs, ys): a grid x grid lattice over the bounding box of X (n, 2), padded by ``pad``
    of its longer side (the decision-boundary figure's box)."""
    X = np.asarray(X, dtype=np.float64)
    lo, hi = X.min(axis=0), X.max(axis=0)
    margin = pad * (hi - lo).max() + 1e-6
    return np.linspace(lo[0] - margin, hi[0] + margin, grid), np.linspace(lo[1] - margin, hi[1] + margin, grid)


def neuron_activations(params, xs, ys) -> list[np.ndarray]:
    """Each hidden layer's activations on the lattice xs x ys: arrays (width, len(ys), len(xs))."""
    gx, gy = np.meshgrid(xs, ys)
    acts, _ = hidden_activations(params, np.stack([gx.ravel(), gy.ravel()], axis=1))
    return [a.T.reshape(a.shape[1], len(ys), len(xs)) for a in acts[1:]]


def neuron_maps_spec(params, X, *, grid: int = 41, title: str = "Neurons over the input plane") -> dict:
    """One heatmap per hidden neuron (rows: layers 1..depth, at most 8 of each; columns:
    neurons) of its activation over the box of X (n, 2). Colour: blue negative, white 0, red
    positive, each thumbnail scaled to its own largest |activation| (the hover gives the
    value). Raises ValueError for input that is not 2-D or a grid outside 11..201."""
    p = _as_params(params)
    config = p.config
    if config.in_dim != 2:
        raise ValueError(f"per-neuron maps need 2-D input (the input plane), this model has {config.in_dim}-D input")
    if not 11 <= int(grid) <= 201:
        raise ValueError(f"grid must be in [11, 201], got {grid}")
    xs, ys = input_grid(X, int(grid))
    layers = neuron_activations(p, xs, ys)[:MAX_ROWS]
    rows = len(layers)
    cols = min(max((len(a) for a in layers), default=1), MAX_NEURONS)
    gap_x, gap_y = 0.02, 0.06
    cell_w, cell_h = (1 - gap_x * (cols - 1)) / cols, (1 - gap_y * max(rows - 1, 0)) / max(rows, 1)
    data, axes, notes = [], {}, []
    for r, acts in enumerate(layers):
        for j, z in enumerate(acts[:cols]):
            index = r * cols + j + 1
            name = "" if index == 1 else str(index)
            x0 = j * (cell_w + gap_x)
            y1 = 1 - r * (cell_h + gap_y)
            scale = float(np.abs(z).max()) or 1.0
            data.append(dict(type="heatmap", x=f32(xs), y=f32(ys), z=typed_grid(np.round(z, 4)), xaxis=f"x{name}",
                             yaxis=f"y{name}", colorscale=NEURON_SCALE, zmin=-scale, zmax=scale, showscale=False,
                             name=f"layer {r + 1}, neuron {j + 1}",
                             hovertemplate=f"layer {r + 1}, neuron {j + 1}<br>(%{{x:.2f}}, %{{y:.2f}}): "
                                           f"%{{z:.3f}}<extra></extra>"))
            axes[f"xaxis{name}"] = dict(domain=[x0, x0 + cell_w], anchor=f"y{name}", showticklabels=False,
                                        showgrid=False, zeroline=False, ticks="")
            axes[f"yaxis{name}"] = dict(domain=[y1 - cell_h, y1], anchor=f"x{name}", showticklabels=False,
                                        showgrid=False, zeroline=False, ticks="")
            notes.append(dict(text=f"L{r + 1}·{j + 1}", x=x0, y=y1, xref="paper", yref="paper", xanchor="left",
                              yanchor="bottom", showarrow=False, font=dict(size=10, color="#5b6475")))
    widest = max((len(a) for a in layers), default=0)
    details = f" (first {cols} of {widest} per layer)" if widest > cols else ""
    if config.depth > MAX_ROWS:
        details += f", first {MAX_ROWS} of {config.depth} layers"
    layout = base_layout(title + details, margin=dict(l=8, r=8, t=44, b=8), annotations=notes,
                         height=60 + 110 * rows, **axes)
    return dict(data=data, layout=layout)


def neuron_maps_figure(params, X, **kwargs) -> go.Figure:
    return figure(neuron_maps_spec(params, X, **kwargs))

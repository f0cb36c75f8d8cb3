"""Figures of the compare view (no Dash): the training curves of several configurations
trained on the same data, overlaid in one chart (one colour per configuration).

``compare_curves_spec`` returns the plain figure dict the app sends, ``compare_curves_figure``
a Plotly Figure for notebooks.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .common import BLUE, GREEN, PURPLE, RED, base_layout, f32, figure, i4, legend_below

COLUMN_COLORS = (BLUE, RED, GREEN, PURPLE)
MAX_CURVE_POINTS = 1500


def _thin(steps: np.ndarray) -> np.ndarray:
    stride = max(1, int(np.ceil(len(steps) / MAX_CURVE_POINTS)))
    keep = np.arange(0, len(steps), stride)
    if len(steps) and keep[-1] != len(steps) - 1:
        keep = np.append(keep, len(steps) - 1)
    return keep


def compare_curves_spec(histories, labels, *, title: str = "Training curves, overlaid") -> dict:
    """Train loss (log scale, top) and test accuracy (bottom; train accuracy where a run has
    no test split) against step, one colour per run. ``histories``: the runs' ``history``
    dicts (or objects with a ``history``); ``labels``: one name per run ("A: u_ε", ...)."""
    if len(histories) != len(labels):
        raise ValueError(f"one label per run: {len(histories)} runs, {len(labels)} labels")
    data = []
    for index, (history, label) in enumerate(zip(histories, labels)):
        history = getattr(history, "history", history)
        colour = COLUMN_COLORS[index % len(COLUMN_COLORS)]
        steps = np.asarray(history["step"])
        keep = _thin(steps)
        data.append(dict(type="scatter", x=i4(steps[keep]), y=f32(np.asarray(history["train_loss"])[keep]),
                         mode="lines", name=label, legendgroup=label, line=dict(color=colour, width=1.6),
                         xaxis="x", yaxis="y", hovertemplate=f"{label}<br>step %{{x}}<br>train loss %{{y:.4f}}"
                                                             "<extra></extra>"))
        has_test = len(history.get("test_step", ())) > 0
        acc_steps = np.asarray(history["test_step"] if has_test else steps)
        acc = np.asarray(history["test_acc"] if has_test else history["train_acc"])
        keep = _thin(acc_steps)
        what = "test accuracy" if has_test else "train accuracy"
        data.append(dict(type="scatter", x=i4(acc_steps[keep]), y=f32(acc[keep]), mode="lines", name=label,
                         legendgroup=label, showlegend=False, line=dict(color=colour, width=1.6),
                         xaxis="x2", yaxis="y2",
                         hovertemplate=f"{label}<br>step %{{x}}<br>{what} %{{y:.3f}}<extra></extra>"))
    # the legend sits under the charts: beside the title it would cover the curves in a narrow card
    layout = base_layout(title, showlegend=True, margin=dict(l=48, r=16, t=44, b=76),
                         legend=legend_below(0.5, "center"),
                         xaxis=dict(domain=[0, 1], anchor="y", matches="x2", showticklabels=False),
                         yaxis=dict(domain=[0.55, 1], type="log", title=dict(text="train loss")),
                         xaxis2=dict(domain=[0, 1], anchor="y2", title=dict(text="step")),
                         yaxis2=dict(domain=[0, 0.45], range=[0, 1.02], title=dict(text="accuracy")))
    return dict(data=data, layout=layout)


def compare_curves_figure(histories, labels, **kwargs) -> go.Figure:
    return figure(compare_curves_spec(histories, labels, **kwargs))

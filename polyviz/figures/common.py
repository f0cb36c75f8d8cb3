"""What every figure shares: the slim template, the named colours, typed-array encoding,
the base layout, and the wrap of a plain figure dict into a validated Plotly Figure.

Builders come in two forms: ``<name>_spec(...)`` returns the figure as a plain dict
(what the app sends: no Plotly validation cost, ~1 ms), and ``<name>_figure(...)`` (or
``<name>(...)``) wraps that dict with :func:`figure` for notebooks. Arrays are written as
base64 typed arrays (float32 / uint8 / ...), and :data:`TEMPLATE` keeps each figure small.
"""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go

from ..state import camera_layout

# Named colours, used across the pages so the same meaning has the same colour.
INK = "#1f2430"  # text and marker outlines
BLUE = "#3b6fd8"  # first series; class 0
RED = "#d8443b"  # second series; class 1; crossings
GREEN = "#2a9d6f"  # slopes, separating planes
PURPLE = "#7b4bd6"  # phase transitions
MUTED = "#9aa3b5"  # reference curves, raw vectors
NOTE = "#5b6475"  # markers of the current value (k, w) and their labels
# The symbol of the animated 3-D point clouds (/train's layers and checkpoints): dense bands of
# ~2.5 px markers, where the eye cannot tell a square from a circle. gl-plot3d draws a marker
# as a glyph, a square in 2 triangles and a circle in a few dozen: where WebGL runs on the
# CPU, a frame of 800 points took 48 ms as circles, 19 as squares. Sparse clouds, whose
# single points are seen (the sphere of /stretch-fold), keep circles.
SMALL_POINT_3D = dict(symbol="square")
AXIS_LINE = "#c9ced8"
GRID = "#e7e9ee"
FONT = "Inter, system-ui, -apple-system, Segoe UI, sans-serif"

# A small template: the stock ones add ~8 KB of JSON to every figure.
TEMPLATE = dict(
    layout=dict(
        font=dict(family=FONT, size=12, color=INK),
        paper_bgcolor="white",
        plot_bgcolor="white",
        colorway=[BLUE, RED, GREEN, "#e0a526", PURPLE, "#1aa3b8"],
        xaxis=dict(gridcolor=GRID, zerolinecolor=AXIS_LINE, linecolor=AXIS_LINE),
        yaxis=dict(gridcolor=GRID, zerolinecolor=AXIS_LINE, linecolor=AXIS_LINE),
        hoverlabel=dict(font=dict(family=FONT)),
    )
)


def typed(a, dtype: str = "f4") -> dict:
    """A NumPy array as a Plotly typed-array spec: base64 bytes plus dtype (f4, f8, u1...)."""
    array = np.ascontiguousarray(np.asarray(a).ravel(), dtype=np.dtype(dtype).newbyteorder("<"))
    return {"dtype": dtype, "bdata": base64.b64encode(array.tobytes()).decode("ascii")}


def untyped(spec) -> np.ndarray:
    """The values of a :func:`typed` spec (or of a plain list), flat."""
    if isinstance(spec, dict) and "bdata" in spec:
        return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]).newbyteorder("<"))
    return np.asarray(spec, dtype=np.float64).ravel()


def f32(a) -> dict:
    return typed(a, "f4")


def u8(a) -> dict:
    return typed(a, "u1")


def i4(a) -> dict:
    return typed(np.asarray(a, dtype=np.int32), "i4")


def typed_grid(a, dtype: str = "f4") -> dict:
    """A 2-D array (e.g. a surface's z) as a typed-array spec with its shape."""
    spec = typed(a, dtype)
    spec["shape"] = ",".join(str(d) for d in np.shape(a))
    return spec


def two_line_title(head: str, details: str) -> str:
    """A title whose figures (counts, settings) go on a smaller second line: one long line
    is cut off in a half-width panel. Give the figure a top margin of TWO_LINE_TOP."""
    return f"{head}<br><span style='font-size:12px'>{details}</span>"


TWO_LINE_TOP = 60  # top margin (px) that fits a two_line_title


def base_layout(title: str, **extra) -> dict:
    """The layout every figure starts from: the template, a left-aligned title, tight
    margins, no legend; ``extra`` keys are added or replace these."""
    layout = dict(
        template=TEMPLATE,
        title=title if isinstance(title, dict) else dict(text=title, x=0.02, xanchor="left", font=dict(size=14)),
        margin=dict(l=40, r=16, t=44, b=36),
        showlegend=False,
    )
    layout.update(extra)
    return layout


def legend_below(x: float = 0.0, xanchor: str = "left", y: float = 0.02) -> dict:
    """A one-row legend at the foot of the figure, ``y`` (a fraction of its height) above the
    bottom edge: give the layout a bottom margin that holds the x-axis title and the legend.
    It is placed in container coordinates because a legend in paper coordinates below the axes
    pushes the margins, and where dcc.Graph drew an empty figure first (its graph mounted before
    the figure came), Plotly.react left the legend where the first margin pass put it: over the
    tick labels, or 20 px off, so one link showed two pictures."""
    return dict(orientation="h", x=x, xanchor=xanchor, y=y, yref="container", yanchor="bottom")


def figure(spec: dict) -> go.Figure:
    """A plain figure dict (a ``*_spec`` result) as a validated Plotly Figure, for notebooks."""
    return go.Figure(spec)


def with_camera(spec: dict, camera: str) -> dict:
    """``spec`` with its 3-D scene seen from ``camera`` (a camera text of
    :func:`polyviz.state.camera`: "eye_x,eye_y,eye_z", or six numbers with the centre), the
    view a link holds. The spec itself when the camera is empty (the figure's own) or the
    figure has no scene; otherwise a copy (a cached spec is never changed)."""
    entries = camera_layout(camera)
    layout = spec.get("layout") if isinstance(spec, dict) else None
    if entries is None or not isinstance(layout, dict) or "scene" not in layout:
        return spec
    scene = layout["scene"]
    return {**spec, "layout": {**layout, "scene": {**scene, "camera": {**scene.get("camera", {}), **entries}}}}

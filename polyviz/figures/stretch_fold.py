"""Figures of the Stretch & fold page: the circle and its images, the 1-D activation
curve, the 2-D activation surface, and the sphere (conventions in
:mod:`polyviz.figures.common`).

    >>> from polyviz import figures
    >>> figs = figures.stretch_fold_figures(op="shift", t=2.0, eps=0.01)
    >>> figs["circle"].show()
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .. import stretch_fold as sf
from .common import BLUE, INK, MUTED, base_layout, f32, figure, legend_below, typed, u8, typed_grid

# Cyclic colour scale for angles: the same angle has the same colour before and after.
ANGLE_SCALE = "Twilight"
MAX_SEGMENTS = 240  # more faint segments than this only add ink and bytes
SURFACE_STEPS = 29
SURFACE_BUNCHING = 2.5
CURVE_STEPS = 241
PATH_STEPS = 181
MAX_SPHERE_POINTS = 800
MAX_CURVE_POINTS = 400
# The moving SVG lines keep every point (Plotly drops those within a fraction of a pixel of
# the line): the browser then moves them by writing the path Plotly would write for the
# new t (assets/direct_draw.js), without re-deciding which points Plotly would have dropped.
SVG_LINE = dict(simplify=False)


def as_sent(a) -> np.ndarray:
    """The values as they reach the browser (float32 on the wire), in float64. The figures
    compute from these, so the browser, redrawing from the inputs it received, computes
    from exactly the numbers the server used and draws exactly what the server would."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def angle_codes(points: np.ndarray) -> np.ndarray:
    """Input angle in [0, 2pi) quantised to uint8 (0..255): colour needs no more."""
    angles = np.mod(np.arctan2(points[:, 1], points[:, 0]), 2.0 * np.pi)
    return np.minimum(np.floor(angles / (2.0 * np.pi) * 256.0), 255).astype(np.uint8)


def _segment_arrays(starts: np.ndarray, ends: np.ndarray, stride: int):
    """x and y arrays for many 2-point segments in one trace, separated by NaN gaps."""
    s, e = starts[::stride], ends[::stride]
    xs = np.stack([s[:, 0], e[:, 0], np.full(len(s), np.nan)], axis=1).ravel()
    ys = np.stack([s[:, 1], e[:, 1], np.full(len(s), np.nan)], axis=1).ravel()
    return xs, ys


def _meta(op, t, eps, affine, **extra) -> dict:
    """Parameters the browser needs to redraw the figure for another t without the server."""
    return dict(op=op, t=float(t), eps=float(eps), affine=[float(v) for v in affine], **extra)


def circle_spec(points, op="stretch", t=1.0, eps=1e-2, affine=sf.IDENTITY_AFFINE) -> dict:
    """Panel 1: input points and their images u_eps(T_t(x)), coloured by input angle, with
    faint segments from each point to its image. Trace order is relied on by the
    browser-side animation (assets/stretch_fold.js) and by MOVING_TRACES: circle,
    segments, inputs, images. The point clouds are WebGL (scattergl): the browser repaints
    them many times a second while t moves. The segments are SVG: where WebGL runs on the
    CPU, regl-line2d drew their 200 one-pixel lines in ~20 ms a frame (its instanced draws,
    not their few pixels), while the browser paints and rasterises the whole page in ~4 ms;
    see SVG_LINE for why they are not simplified."""
    points = np.asarray(points, dtype=np.float64)
    images = sf.apply(points, op, t, eps, affine)
    colour = u8(angle_codes(points))
    stride = max(1, int(np.ceil(len(points) / MAX_SEGMENTS)))
    seg_x, seg_y = _segment_arrays(points, images, stride)
    theta = np.linspace(0.0, 2.0 * np.pi, 145)
    marker = dict(color=colour, colorscale=ANGLE_SCALE, cmin=0, cmax=255)
    lim = max(1.15, float(np.abs(points).max()) * 1.05)
    data = [
        dict(type="scatter", x=f32(np.cos(theta)), y=f32(np.sin(theta)), mode="lines", name="unit circle",
             line=dict(color="#b8bfcc", width=1, dash="dot"), hoverinfo="skip"),
        dict(type="scatter", x=f32(seg_x), y=f32(seg_y), mode="lines", name="point → image",
             line=dict(color="rgba(60,70,90,0.22)", width=1, **SVG_LINE), hoverinfo="skip"),
        dict(type="scattergl", x=f32(points[:, 0]), y=f32(points[:, 1]), mode="markers", name="input",
             marker=dict(marker, size=3, opacity=0.3), hoverinfo="skip"),
        dict(type="scattergl", x=f32(images[:, 0]), y=f32(images[:, 1]), mode="markers", name="image",
             marker=dict(marker, size=6, line=dict(width=0.5, color=INK)),
             # the input does not move with t: the browser's redraw for another t keeps it right
             customdata=typed_grid(points.astype(np.float32)),
             hovertemplate="input (%{customdata[0]:.3f}, %{customdata[1]:.3f})<br>→ image (%{x:.3f}, %{y:.3f})"
                           "<extra></extra>"),
    ]
    layout = base_layout(
        circle_title(op, t, eps), meta=_meta(op, t, eps, affine, stride=stride), uirevision="circle",
        # constrain="domain": equal scales by narrowing the plot, not by widening the ranges.
        # Plotly writes a widened range back into the layout, so a resize after the first draw
        # (a scrollbar appearing) left the ranges a few pixels off the server's figure.
        xaxis=dict(range=[-lim, lim], zeroline=True, title=dict(text="x"), constrain="domain"),
        yaxis=dict(range=[-lim, lim], scaleanchor="x", scaleratio=1, title=dict(text="y"), constrain="domain"),
    )
    return dict(data=data, layout=layout)


def circle_title(op: str, t: float, eps: float) -> dict:
    return dict(text=f"u<sub>ε</sub>(T<sub>t</sub>(x)) — {op}, t = {t:.2f}, ε = {eps:.3g}",
                x=0.02, xanchor="left", font=dict(size=14))


def activation_curve_spec(points, op="stretch", t=1.0, eps=1e-2, affine=sf.IDENTITY_AFFINE) -> dict:
    """Panel 2: the 1-D activation curve, x-output of u_eps(T_t(x, 0)) against input x, with
    the plain sigmoid u_1(x) = x / sqrt(x^2 + 1) for reference and the current points'
    (input x, output x) pairs. Trace order: reference, slice (SVG, see circle_spec), points
    (WebGL)."""
    points = np.asarray(points, dtype=np.float64)
    xs = as_sent(np.linspace(-3.0, 3.0, CURVE_STEPS))
    stride = max(1, int(np.ceil(len(points) / MAX_CURVE_POINTS)))
    shown = points[::stride]
    data = [
        dict(type="scatter", x=f32(xs), y=f32(xs / np.sqrt(xs * xs + 1.0)), mode="lines",
             name="u<sub>1</sub>(x) (sigmoid)", line=dict(color=MUTED, width=2, dash="dash")),
        dict(type="scatter", x=f32(xs), y=f32(sf.activation_slice(xs, op, t, eps, affine)), mode="lines",
             name="u<sub>ε</sub>(T<sub>t</sub>(x, 0))", line=dict(color=BLUE, width=3, **SVG_LINE)),
        dict(type="scattergl", x=f32(shown[:, 0]), y=f32(sf.apply(shown, op, t, eps, affine)[:, 0]),
             mode="markers", name="your points",
             marker=dict(color=u8(angle_codes(shown)), cmin=0, cmax=255, colorscale=ANGLE_SCALE, size=4,
                         opacity=0.7)),
    ]
    layout = base_layout(
        "1-D activation: output x against input x", showlegend=True,
        # below the axes: inside them it covered the curve (upper left for t > 0, lower right for t < 0)
        legend=legend_below(), margin=dict(l=40, r=16, t=44, b=96),
        meta=_meta(op, t, eps, affine, stride=stride), uirevision="curve",
        xaxis=dict(range=[-3, 3], title=dict(text="input x")),
        yaxis=dict(range=[-1.08, 1.08], title=dict(text="output x")),
    )
    return dict(data=data, layout=layout)


def surface_path(op, t, eps, affine=sf.IDENTITY_AFFINE):
    """The path the operation traces on the activation surface: T_t of the unit circle,
    lifted to height x / sqrt(|T_t x|^2 + eps)."""
    theta = np.linspace(0.0, 2.0 * np.pi, PATH_STEPS)
    moved = sf.transform(np.stack([np.cos(theta), np.sin(theta)], axis=1), op, t, affine)
    height = sf.u_eps(moved, eps)[:, 0]
    return moved[:, 0], moved[:, 1], height


CONTOUR_LEVELS = (-0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75)
CONTOUR_STEPS = 61


def surface_contours(extent: float, eps: float) -> np.ndarray:
    """The level sets x / sqrt(x^2 + y^2 + eps) = c of the surface, in closed form: for
    |c| < 1, x = c sqrt((y^2 + eps) / (1 - c^2)). One NaN-separated (x, y, c) polyline per
    level, clipped to |x| <= extent."""
    y = np.linspace(-extent, extent, CONTOUR_STEPS)
    pieces = []
    for c in CONTOUR_LEVELS:
        x = c * np.sqrt((y * y + eps) / (1.0 - c * c))
        line = np.stack([x, y, np.full_like(y, c)], axis=1)
        line[np.abs(x) > extent] = np.nan
        pieces.append(np.vstack([line, [[np.nan] * 3]]))
    return np.concatenate(pieces)[:-1]


# The 3-D panels' guide lines are opaque: one translucent line makes gl-plot3d draw every
# frame in three passes (opaque, translucent, composite), which doubled the time of a frame
# of play where WebGL runs on the CPU. WIREFRAME is rgba(150,160,180,0.45) over the white
# background; LEVEL_LINE reads on the surface's blues and reds as black at a quarter did.
WIREFRAME = "rgb(208,212,221)"
LEVEL_LINE = "rgb(70,70,70)"


def surface_axis(extent: float, steps: int) -> np.ndarray:
    """Grid coordinates in [-extent, extent], dense near 0 where the surface's cliff is (about
    0.08 apart there, under sqrt(eps) for the default eps) and sparse where it is flat."""
    u = np.linspace(-1.0, 1.0, steps)
    return extent * np.sinh(SURFACE_BUNCHING * u) / np.sinh(SURFACE_BUNCHING)


def grid_triangles(steps: int) -> np.ndarray:
    """Two triangles per cell of a steps x steps vertex grid (row-major), as (m, 3) indices."""
    index = np.arange(steps * steps).reshape(steps, steps)
    a, b = index[:-1, :-1].ravel(), index[:-1, 1:].ravel()
    c, d = index[1:, :-1].ravel(), index[1:, 1:].ravel()
    return np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])


def activation_surface_spec(op="stretch", t=1.0, eps=1e-2, affine=sf.IDENTITY_AFFINE) -> dict:
    """Panel 3: the x-output of u_eps over the input plane, and the path T_t(circle) on it.
    Near the origin the surface jumps from -1 to +1 within about sqrt(eps); a shifted circle
    that straddles that cliff is where folding puts its dimple. Trace order: surface, path,
    level lines.

    The surface is a triangle mesh on the grid's exact values (a Plotly ``surface`` is
    re-interpolated to a finer grid and re-contoured on every redraw, which made each
    move of the path cost a quarter of a second); its level lines are the exact ones."""
    axis = surface_axis(3.0, SURFACE_STEPS)
    gx, gy = np.meshgrid(axis, axis)
    z = sf.u_eps(np.stack([gx.ravel(), gy.ravel()], axis=1), eps)[:, 0]
    triangles = grid_triangles(SURFACE_STEPS)
    px, py, pz = surface_path(op, t, eps, affine)
    levels = surface_contours(3.0, eps)
    data = [
        dict(type="mesh3d", x=f32(gx), y=f32(gy), z=f32(z), i=typed(triangles[:, 0], "u2"),
             j=typed(triangles[:, 1], "u2"), k=typed(triangles[:, 2], "u2"), intensity=f32(z), colorscale="RdBu",
             reversescale=True, cmin=-1, cmax=1, showscale=False, hoverinfo="skip", flatshading=False,
             lighting=dict(ambient=0.8, diffuse=0.5, specular=0.05, roughness=0.9)),  # opaque: no sorting artefacts
        dict(type="scatter3d", x=f32(px), y=f32(py), z=f32(pz + 0.02), mode="lines", name="T_t(circle)",
             line=dict(color=INK, width=6)),
        dict(type="scatter3d", x=f32(levels[:, 0]), y=f32(levels[:, 1]), z=f32(levels[:, 2] + 0.01), mode="lines",
             name="level lines", line=dict(color=LEVEL_LINE, width=2), hoverinfo="skip"),
    ]
    layout = base_layout(
        "2-D activation surface: x / √(x² + y² + ε)", meta=_meta(op, t, eps, affine),
        margin=dict(l=0, r=0, t=40, b=0), uirevision="surface",
        scene=dict(xaxis=dict(title=dict(text="x"), range=[-3, 3]), yaxis=dict(title=dict(text="y"), range=[-3, 3]),
                   zaxis=dict(title=dict(text="output x"), range=[-1.1, 1.1]), aspectmode="manual",
                   aspectratio=dict(x=1, y=1, z=0.6), camera=dict(eye=dict(x=1.5, y=-1.6, z=1.0))),
    )
    return dict(data=data, layout=layout)


def _sphere_wireframe() -> np.ndarray:
    """A few parallels and meridians of S2 as one NaN-separated polyline: a faint guide."""
    a = np.linspace(0, 2 * np.pi, 49)
    lines = []
    for lat in np.radians([-45, 0, 45]):
        lines.append(np.stack([np.cos(lat) * np.cos(a), np.cos(lat) * np.sin(a), np.full_like(a, np.sin(lat))], 1))
    for lon in np.radians([0, 45, 90, 135]):
        lines.append(np.stack([np.cos(a) * np.cos(lon), np.cos(a) * np.sin(lon), np.sin(a)], 1))
    return np.concatenate([np.vstack([line, [[np.nan] * 3]]) for line in lines])


def sphere_spec(n=800, op="stretch", t=1.0, eps=1e-2, affine=sf.IDENTITY_AFFINE) -> dict:
    """Panel 4: points on S2 and their images u_eps(T_t(x)), the map acting on (x, y).
    Colour is the input's x coordinate, so stretched points visibly pile up at the poles.
    At most MAX_SPHERE_POINTS are drawn: more only hide each other. Trace order:
    wireframe, images."""
    points = sf.sphere_points(min(int(n), MAX_SPHERE_POINTS))
    images = sf.apply(points, op, t, eps, affine)
    colour = np.round((points[:, 0] + 1.0) * 127.5).astype(np.uint8)
    wire = _sphere_wireframe()
    data = [
        dict(type="scatter3d", x=f32(wire[:, 0]), y=f32(wire[:, 1]), z=f32(wire[:, 2]), mode="lines",
             line=dict(color=WIREFRAME, width=1), hoverinfo="skip"),
        dict(type="scatter3d", x=f32(images[:, 0]), y=f32(images[:, 1]), z=f32(images[:, 2]), mode="markers",
             marker=dict(size=2.6, color=u8(colour), colorscale="RdBu", reversescale=True, cmin=0, cmax=255),
             hovertemplate="image (%{x:.2f}, %{y:.2f}, %{z:.2f})<extra></extra>"),
    ]
    axis = dict(range=[-1.05, 1.05])
    layout = base_layout(
        f"On the sphere S²: {op} along x", meta=_meta(op, t, eps, affine),
        margin=dict(l=0, r=0, t=40, b=0), uirevision="sphere",
        scene=dict(xaxis=dict(axis, title=dict(text="x")), yaxis=dict(axis, title=dict(text="y")),
                   zaxis=dict(axis, title=dict(text="z")), aspectmode="cube",
                   camera=dict(eye=dict(x=1.35, y=1.35, z=0.8))),
    )
    return dict(data=data, layout=layout)


def stretch_fold_specs(op="stretch", t=1.0, eps=1e-2, n=400, distribution="circle", seed=0,
                       affine=sf.IDENTITY_AFFINE) -> dict[str, dict]:
    """All four panels of the Stretch & fold page, as plain figure dicts."""
    points = as_sent(sf.input_points(distribution, n, seed))
    return {
        "circle": circle_spec(points, op, t, eps, affine),
        "curve": activation_curve_spec(points, op, t, eps, affine),
        "surface": activation_surface_spec(op, t, eps, affine),
        "sphere": sphere_spec(n, op, t, eps, affine),
    }


# What changes when only t moves: {panel: {trace index: properties}}. The app sends just
# these (as a Dash Patch) for a t change; the rest is already in the browser.
MOVING_TRACES = {
    "circle": {1: ("x", "y"), 3: ("x", "y")},
    "curve": {1: ("y",), 2: ("y",)},
    "surface": {1: ("x", "y", "z")},
    "sphere": {1: ("x", "y", "z")},
}


def circle_figure(points, op="stretch", t=1.0, eps=1e-2, affine=sf.IDENTITY_AFFINE) -> go.Figure:
    return figure(circle_spec(points, op, t, eps, affine))


def activation_curve_figure(points, op="stretch", t=1.0, eps=1e-2, affine=sf.IDENTITY_AFFINE) -> go.Figure:
    return figure(activation_curve_spec(points, op, t, eps, affine))


def activation_surface_figure(op="stretch", t=1.0, eps=1e-2, affine=sf.IDENTITY_AFFINE) -> go.Figure:
    return figure(activation_surface_spec(op, t, eps, affine))


def sphere_figure(n=800, op="stretch", t=1.0, eps=1e-2, affine=sf.IDENTITY_AFFINE) -> go.Figure:
    return figure(sphere_spec(n, op, t, eps, affine))


def stretch_fold_figures(**params) -> dict[str, go.Figure]:
    """All four panels of the Stretch & fold page as Plotly figures (see stretch_fold_specs)."""
    return {name: figure(spec) for name, spec in stretch_fold_specs(**params).items()}

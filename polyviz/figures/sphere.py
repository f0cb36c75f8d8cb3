"""Figures for "Polytopes on the LayerNorm sphere": arcs on the circle (d = 3), the
unrolled circle, regions on the sphere (d = 4), scaling a direction, rotating between two.

Conventions as in :mod:`polyviz.figures.common`: ``<name>_spec(...)`` returns the figure
as a plain dict (what the app sends) and ``<name>_figure(...)`` a Plotly Figure:

    >>> from polyviz import figures, polytopes
    >>> W, b = polytopes.random_layer(8, 3, seed=0)
    >>> figures.arcs_3d_figure(W, b).show()

Colours: a region's colour depends only on its spline code, through
:func:`code_palette_index`, so the same code has the same colour in every figure, and
two codes that differ in one neuron (regions on either side of one boundary) never share
a colour. For GELU the colour is lightened towards white where the soft code is
uncertain (some neuron's Phi(z) near 0.5), so boundaries look fuzzy, as they are.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import plotly.graph_objects as go

from .. import polytopes as pt
from ..geometry import center as _center
from ..geometry import layer_norm, layernorm_plane_basis
from ..words import plural
from .common import (BLUE, GREEN, MUTED, NOTE, RED, TWO_LINE_TOP, base_layout, f32, figure, legend_below,
                     two_line_title, typed, typed_grid, u8)

# 19 (a prime) distinguishable colours; index = (code . g) mod 19 with every g_i non-zero
# mod 19, so flipping a single neuron always changes the colour.
PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
    "#ff9da7", "#2f6db5", "#8cd17d", "#d37295", "#499894", "#f1ce63", "#a0cbe8", "#c85200",
    "#6f63bb", "#86bcb6", "#bab0ac",
)
SHADES = 5  # GELU certainty levels per colour
MAX_FADE = 0.65  # how far towards white an uncertain (GELU) colour goes
BOUNDARY = "#2b2f3a"
MAX_CURVE_VALUES = 8_000  # pre-activation samples in the unrolled figure, all neurons together
CRISP_MAX_CIRCLES = 24  # cut the sphere mesh along the circles up to this many (~8 ms, ~8k triangles)


def neuron_multipliers(n: int) -> np.ndarray:
    rng = np.random.default_rng(20240611)  # fixed: colours must not depend on anything else
    return rng.integers(1, len(PALETTE), size=n)


def code_palette_index(codes) -> np.ndarray:
    """Palette index (0..len(PALETTE)-1) of each row of a bool code array (m, n)."""
    codes = np.asarray(codes, dtype=bool)
    g = neuron_multipliers(codes.shape[1])
    return (codes.astype(np.int64) @ g) % len(PALETTE)


def code_color(code) -> str:
    """Hex colour of one spline code (1-D bool array)."""
    return PALETTE[int(code_palette_index(np.asarray(code, dtype=bool)[None, :])[0])]


def _mix_white(hex_colour: str, amount: float) -> str:
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    out = [round(c + (255 - c) * amount) for c in rgb]
    return "#{:02x}{:02x}{:02x}".format(*out)


@functools.lru_cache(maxsize=1)
def _stepped_scale() -> tuple:
    """A colorscale with one flat step per (palette colour, shade): value i * SHADES + s."""
    colours = [_mix_white(c, MAX_FADE * (1 - s / (SHADES - 1))) for c in PALETTE for s in range(SHADES)]
    k = len(colours)
    scale = []
    for i, colour in enumerate(colours):
        scale.append((i / k, colour))
        scale.append(((i + 1) / k, colour))
    return tuple(scale)


def _colour_values(codes, certainty=None) -> np.ndarray:
    """Values on the stepped scale: palette index * SHADES + shade (full colour for ReLU)."""
    index = code_palette_index(codes)
    if certainty is None:
        shade = np.full(len(index), SHADES - 1)
    else:
        shade = np.clip(np.floor(np.sqrt(np.asarray(certainty)) * SHADES), 0, SHADES - 1).astype(np.int64)
    return (index * SHADES + shade).astype(np.uint8)


def _soft_vertex_colours(codes: np.ndarray, certainty: np.ndarray) -> list[str]:
    """Per-vertex colours for GELU: the code's colour faded towards white by
    1 - sqrt(certainty), continuously (vertex colours interpolate smoothly; on a boundary
    the certainty is 0, so both sides agree there)."""
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in PALETTE], dtype=np.float64)
    fade = MAX_FADE * (1.0 - np.sqrt(np.clip(certainty, 0.0, 1.0)))[:, None]
    mixed = np.round(rgb[code_palette_index(codes)] * (1.0 - fade) + 255.0 * fade).astype(np.int64)
    packed = (mixed[:, 0] << 16) | (mixed[:, 1] << 8) | mixed[:, 2]
    return ["#%06x" % v for v in packed.tolist()]


def _colour_kwargs() -> dict:
    k = len(PALETTE) * SHADES
    return dict(colorscale=[list(s) for s in _stepped_scale()], cmin=-0.5, cmax=k - 0.5)


def _certainty(z: np.ndarray) -> np.ndarray:
    """How sure the soft GELU code is, per point: min over neurons of |2 Phi(z) - 1|."""
    if z.shape[1] == 0:
        return np.ones(z.shape[0])
    # |2 Phi(z) - 1| is increasing in |z|: take the smallest |z| first, one CDF per point.
    return np.abs(2.0 * pt.normal_cdf(np.abs(z).min(axis=1)) - 1.0)


def _nan_join(pieces: list[np.ndarray], width: int) -> np.ndarray:
    if not pieces:
        return np.zeros((0, width))
    gap = np.full((1, width), np.nan)
    return np.concatenate([np.vstack([p, gap]) for p in pieces])[:-1]


def _arc_title(activation: str) -> str:
    return "GELU" if activation == "gelu" else "ReLU"


def _unresolved_note(crossings) -> str:
    """A title's word for neurons float64 cannot decide (touching the circle within rounding)."""
    return f" · {crossings.n_unresolved} unresolved in float64" if crossings.n_unresolved else ""


# --------------------------------------------------------------------------- d = 3: arcs
def _plane_line_segments(Wp: np.ndarray, Wq: np.ndarray, b: np.ndarray, half: float) -> list[np.ndarray]:
    """Each line Wp s + Wq t + b = 0 clipped to the square |s|, |t| <= half, as 2x2 arrays
    of (s, t) endpoints (lines that miss the square are left out)."""
    segments = []
    for a, c, d in zip(Wp, Wq, b):
        pts = []
        if abs(c) > 1e-12:
            for s in (-half, half):
                t = -(a * s + d) / c
                if abs(t) <= half:
                    pts.append((s, t))
        if abs(a) > 1e-12:
            for t in (-half, half):
                s = -(c * t + d) / a
                if abs(s) <= half:
                    pts.append((s, t))
        if len(pts) >= 2:
            pts = np.array(pts)
            far = np.argmax(np.linalg.norm(pts - pts[0], axis=1))
            segments.append(np.array([pts[0], pts[far]]))
    return segments


HOVER_LIST_MAX = 16  # up to this many neurons a region's hover lists those that are on


def region_hover(W, codes) -> list[str]:
    """Hover words for regions given by their spline codes (rows of bool): the region's index
    (its code's number, by first appearance), which neurons are on, and the norm of the layer's
    affine map there, ‖diag(code) W‖₂ (the linear part; off neurons give zero rows), as
    "region 3: on 0,2,5 / ‖map‖ 1.27"."""
    W = np.asarray(W, dtype=np.float64)
    codes = np.asarray(codes, dtype=bool).reshape(len(codes), W.shape[0])
    ids, _count = pt.code_ids(codes)
    words, done = [], {}
    for region, code in zip(ids.tolist(), codes):
        if region not in done:
            on = np.flatnonzero(code)
            # short: one copy per drawn point goes to the browser, so a wide layer gives the count only
            listed = (",".join(map(str, on)) or "none") if len(code) <= HOVER_LIST_MAX else f"{len(on)} of {len(code)}"
            norm = float(np.linalg.norm(W[on], 2)) if len(on) else 0.0
            done[region] = f"region {region}: on {listed}<br>‖map‖ {norm:.3g}"
        words.append(done[region])
    return words


def boundary_hover(on_circle) -> list[str]:
    """Hover words for each boundary of a :class:`polyviz.polytopes.CircleCrossings`: the
    neuron(s) that switch there, and which way (walking the circle by increasing angle)."""
    words = [[] for _ in range(len(on_circle.angles))]
    for j in np.flatnonzero(on_circle.crossing):
        words[int(on_circle.on_start[j])].append(f"neuron {j} turns on")
        words[int(on_circle.on_end[j])].append(f"neuron {j} turns off")
    return [("boundary: " + ", ".join(w)) if w else "boundary" for w in words]


def arcs_3d_spec(W, b, X=None, activation: str = "relu", n_points: int = 60, seed: int = 0) -> dict:
    """d = 3: the LayerNorm plane orthogonal to (1, 1, 1), the circle of radius sqrt(3)
    that LayerNorm maps every vector onto, the neurons' hyperplanes where they cut that
    plane (lines), and the circle's arcs coloured by spline code. ``X`` (m, 3) raw input
    vectors (default: ``n_points`` seeded Gaussian vectors) are drawn with their LayerNorm
    images on the circle. Trace order: plane, (1,1,1) axis, neuron lines, arcs,
    crossings, raw vectors, images."""
    pt.check_activation(activation)
    W, b = pt.as_layer(W, b)
    if W.shape[1] != 3:
        raise ValueError(f"arcs_3d needs a layer on R^3 (W of shape (n, 3)), got {W.shape}")
    if X is None:
        X = np.random.default_rng(seed).normal(size=(n_points, 3)) * 1.3
    X = np.asarray(X, dtype=np.float64).reshape(-1, 3)
    p, q, radius = pt.layernorm_circle(3)
    on_circle = pt.circle_crossings(W, b, p, q, radius)
    angles, codes = on_circle.angles, on_circle.codes()
    half = 1.6 * radius
    corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    plane = corners[:, :1] * p + corners[:, 1:] * q
    # Arcs: samples every ~1 degree, a NaN after each arc so that colours never blend.
    starts, ends = pt.arc_bounds(angles)
    counts = np.maximum(2, np.ceil((ends - starts) / pt.TAU * 360).astype(np.int64) + 1)
    arc = np.repeat(np.arange(len(starts)), counts)
    offset = np.arange(len(arc)) - np.repeat(np.cumsum(counts) - counts, counts)
    a = starts[arc] + (ends - starts)[arc] * offset / (counts[arc] - 1)
    pts = radius * (np.cos(a)[:, None] * p + np.sin(a)[:, None] * q)
    cert = _certainty(pt.preactivations(W, b, pts)) if activation == "gelu" else None
    point_values = _colour_values(codes[arc], cert)
    last = np.cumsum(counts) - 1  # insert a NaN point (value 0) after each arc
    arcs = np.insert(pts, last[:-1] + 1, np.nan, axis=0)
    arc_values = np.insert(point_values, last[:-1] + 1, 0)
    arc_words = region_hover(W, codes) if len(codes) else []
    arc_text = [arc_words[k] for k in arc] if len(codes) else []
    for position in reversed((last[:-1] + 1).tolist()):  # the separators hover over nothing
        arc_text.insert(position, "")
    lines = _plane_line_segments(W @ p, W @ q, b, half)
    line_pts = _nan_join([seg[:, :1] * p + seg[:, 1:] * q for seg in lines], 3)
    crossings = radius * (np.cos(angles)[:, None] * p + np.sin(angles)[:, None] * q)
    images = layer_norm(X, 0.0)
    image_codes = pt.spline_codes(W, b, images)
    image_cert = _certainty(pt.preactivations(W, b, images)) if activation == "gelu" else None
    axis = np.array([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]) * 0.9 * half / math.sqrt(3)
    lim = float(max(half * 0.85, np.abs(X).max() * 1.05 if len(X) else 0))
    colour = _colour_kwargs()
    data = [
        dict(type="mesh3d", x=f32(plane[:, 0]), y=f32(plane[:, 1]), z=f32(plane[:, 2]), i=[0, 0], j=[1, 2],
             k=[2, 3], color="#8ea3c8", opacity=0.12, hoverinfo="skip", name="LayerNorm plane"),
        dict(type="scatter3d", x=f32(axis[:, 0]), y=f32(axis[:, 1]), z=f32(axis[:, 2]), mode="lines",
             line=dict(color=MUTED, width=2, dash="dash"), name="(1, 1, 1)", hoverinfo="skip"),
        dict(type="scatter3d", x=f32(line_pts[:, 0]), y=f32(line_pts[:, 1]), z=f32(line_pts[:, 2]), mode="lines",
             line=dict(color="rgba(43,47,58,0.45)", width=2), name="neuron hyperplanes ∩ plane", hoverinfo="skip"),
        dict(type="scatter3d", x=f32(arcs[:, 0]), y=f32(arcs[:, 1]), z=f32(arcs[:, 2]), mode="lines",
             line=dict(color=u8(arc_values), width=9, **colour), name="arcs (by spline code)",
             hovertext=arc_text, hovertemplate="%{hovertext}<extra></extra>"),
        dict(type="scatter3d", x=f32(crossings[:, 0]), y=f32(crossings[:, 1]), z=f32(crossings[:, 2]),
             mode="markers", marker=dict(size=3.5, color=BOUNDARY), name="boundaries",
             hovertext=boundary_hover(on_circle), hovertemplate="%{hovertext}<extra></extra>"),
        dict(type="scatter3d", x=f32(X[:, 0]), y=f32(X[:, 1]), z=f32(X[:, 2]), mode="markers",
             marker=dict(size=2.5, color=MUTED, opacity=0.6), name="raw vectors", hoverinfo="skip"),
        dict(type="scatter3d", x=f32(images[:, 0]), y=f32(images[:, 1]), z=f32(images[:, 2]), mode="markers",
             marker=dict(size=4, color=u8(_colour_values(image_codes, image_cert)), line=dict(width=1, color=BOUNDARY),
                         **colour),
             name="LayerNorm(x)", hovertemplate="LayerNorm(x)<extra></extra>"),
    ]
    n_codes = pt.code_ids(codes)[1]
    title = two_line_title("LayerNorm circle (radius √3)",
                           f"{plural(len(codes), 'arc')} · {plural(n_codes, 'code')} · {plural(W.shape[0], 'neuron')}"
                           f"{_unresolved_note(on_circle)} · {_arc_title(activation)}")
    axis_range = dict(range=[-lim, lim])
    layout = base_layout(
        title, showlegend=True, legend=dict(x=0.0, y=0.0, bgcolor="rgba(255,255,255,0.7)", font=dict(size=11)),
        margin=dict(l=0, r=0, t=TWO_LINE_TOP, b=0), uirevision="arcs3d",
        meta=dict(arcs=int(len(codes)), boundaries=int(len(angles)), codes=int(n_codes),
                  unresolved=on_circle.n_unresolved, merged=on_circle.merged),
        scene=dict(xaxis=dict(axis_range, title=dict(text="x₁")), yaxis=dict(axis_range, title=dict(text="x₂")),
                   zaxis=dict(axis_range, title=dict(text="x₃")), aspectmode="cube",
                   camera=dict(eye=dict(x=1.25, y=1.25, z=1.25))),
    )
    return dict(data=data, layout=layout)


# --------------------------------------------------------------------------- unrolled
def unrolled_spec(W, b, p=None, q=None, radius: float | None = None, center=None, activation: str = "relu",
                  n_angles: int = 361) -> dict:
    """The circle unrolled: angle on x, every neuron's pre-activation
    ``A cos a + B sin a + c`` as a curve, the exact zero crossings marked, the arcs shaded
    by spline code; below, the code itself (neuron by angle; Phi(z) for GELU). Without
    ``p, q, radius`` the circle is LayerNorm's (the plane's first two Helmert axes,
    radius sqrt(d)). Trace order: arc shading (bars), crossings, code heatmap, then one
    curve per neuron."""
    pt.check_activation(activation)
    W, b = pt.as_layer(W, b)
    n, d = W.shape
    if p is None or q is None:
        p, q, default_radius = pt.layernorm_circle(d)
        radius = default_radius if radius is None else radius
    radius = 1.0 if radius is None else float(radius)
    crossings = pt.circle_crossings(W, b, p, q, radius, center)
    angles = crossings.angles
    codes = crossings.codes()
    A, B, c = crossings.A, crossings.B, crossings.c
    steps = int(max(90, min(n_angles, MAX_CURVE_VALUES // max(n, 1))))
    a = np.linspace(0.0, pt.TAU, steps)
    z = np.cos(a)[:, None] * A + np.sin(a)[:, None] * B + c  # (steps, n)
    code_grid = pt.soft_code(z, activation)
    # Arc shading as one bar trace (one bar per arc, the wrap-around arc split in two).
    starts, ends = pt.arc_bounds(angles)
    colour_index = code_palette_index(codes)
    lo = np.concatenate([starts, np.zeros(1)])
    hi = np.concatenate([np.minimum(ends, pt.TAU), [max(0.0, ends[-1] - pt.TAU)]])
    index = np.append(colour_index, colour_index[-1])
    shown = hi > lo
    lo, hi, index = lo[shown], hi[shown], index[shown]
    zlim = float(np.abs(z).max()) * 1.08 if n and np.abs(z).max() > 0 else 1.0
    ticks = dict(tickvals=[0, math.pi / 2, math.pi, 3 * math.pi / 2, pt.TAU], ticktext=["0", "π/2", "π", "3π/2", "2π"])
    data = [
        dict(type="bar", x=f32(0.5 * (lo + hi)), y=f32(np.full(len(lo), 2 * zlim)), base=-zlim, width=f32(hi - lo),
             marker=dict(color=[PALETTE[i] for i in index], line=dict(width=0)), opacity=0.18,
             hoverinfo="skip", name="arcs (by spline code)", xaxis="x", yaxis="y"),
        dict(type="scatter", x=f32(angles), y=f32(np.zeros(len(angles))), mode="markers", name="zero crossings",
             marker=dict(size=9, color=RED, symbol="line-ns-open", line=dict(width=2, color=RED)),
             hovertemplate="crossing at %{x:.4f} rad<extra></extra>", xaxis="x", yaxis="y"),
        dict(type="heatmap", x=f32(a), y=list(range(n)), z=typed_grid(np.round(code_grid.T * 255), "u1"),
             colorscale=[[0, "#f4f6fa"], [1, BLUE]], zmin=0, zmax=255, showscale=False, xaxis="x2",
             yaxis="y2", hoverinfo="skip"),
    ]
    dx = float(a[1] - a[0])
    for j in range(n):
        data.append(dict(type="scatter", x0=0.0, dx=dx, y=f32(z[:, j]), mode="lines", name=f"neuron {j}",
                         line=dict(color="rgba(43,47,58,0.55)", width=1.2), xaxis="x", yaxis="y",
                         hovertemplate=f"neuron {j}: %{{y:.3f}}<extra></extra>"))
    n_codes = pt.code_ids(codes)[1]
    title = two_line_title("Unrolled circle", f"{plural(len(angles), 'crossing')} · {plural(len(codes), 'arc')} · "
                                              f"{plural(n_codes, 'code')}{_unresolved_note(crossings)} · "
                                              f"{_arc_title(activation)}")
    layout = base_layout(
        title, uirevision="unrolled", barmode="overlay", margin=dict(l=50, r=16, t=TWO_LINE_TOP, b=36),
        meta=dict(crossings=int(len(angles)), arcs=int(len(codes)), codes=int(n_codes),
                  unresolved=crossings.n_unresolved, merged=crossings.merged),
        xaxis=dict(range=[0, pt.TAU], anchor="y", showticklabels=False, **ticks),
        yaxis=dict(domain=[0.34, 1.0], range=[-zlim, zlim], title=dict(text="pre-activation"), zeroline=True),
        xaxis2=dict(range=[0, pt.TAU], anchor="y2", matches="x", title=dict(text="angle a"), **ticks),
        yaxis2=dict(domain=[0.0, 0.26], title=dict(text="neuron"), showgrid=False, range=[-0.5, max(n, 1) - 0.5]),
    )
    return dict(data=data, layout=layout)


# --------------------------------------------------------------------------- d = 4: sphere
@functools.lru_cache(maxsize=4)
def icosphere(level: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) on the unit sphere and triangles (F, 3) of a subdivided
    icosahedron (level 4: 2,562 vertices, 5,120 faces). Cached: it is a constant."""
    t = (1.0 + math.sqrt(5.0)) / 2.0
    verts = np.array([[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
                      [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]], dtype=np.float64)
    faces = np.array([[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
                      [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
                      [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]], dtype=np.int64)
    verts /= np.linalg.norm(verts, axis=1, keepdims=True)
    for _ in range(level):
        edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
        unique, inverse = np.unique(edges, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        mid = verts[unique[:, 0]] + verts[unique[:, 1]]
        mid /= np.linalg.norm(mid, axis=1, keepdims=True)
        base = len(verts)
        f = len(faces)
        a, bb, c = (inverse[:f] + base, inverse[f:2 * f] + base, inverse[2 * f:] + base)
        v0, v1, v2 = faces[:, 0], faces[:, 1], faces[:, 2]
        faces = np.concatenate([np.stack([v0, a, c], 1), np.stack([v1, bb, a], 1),
                                np.stack([v2, c, bb], 1), np.stack([a, bb, c], 1)])
        verts = np.concatenate([verts, mid])
    verts.setflags(write=False)
    faces.setflags(write=False)
    return verts, faces


def split_mesh_by_planes(verts: np.ndarray, faces: np.ndarray, W: np.ndarray, b: np.ndarray):
    """Cut a triangle mesh of the unit sphere along the planes ``W x + b = 0``, so that
    every triangle lies on one side of every plane and colouring triangles by code gives
    crisp region boundaries (no sawtooth). A triangle that a plane crosses becomes three:
    the lone vertex's side, and two on the other side; the new vertices are where the
    triangle's edges cross the plane, pushed back onto the sphere. Returns an indexed mesh
    (vertices, faces) with shared vertices merged."""
    tri = verts[faces]  # (T, 3, 3)
    for w, c in zip(W, b):
        z = tri @ w + c  # (T, 3)
        pos = z > 0
        count = pos.sum(axis=1)
        cut = (count == 1) | (count == 2)
        if not cut.any():
            continue
        t, zt = tri[cut], z[cut]
        p = pos[cut]
        lone_is_pos = count[cut] == 1
        lone = np.where(lone_is_pos, np.argmax(p, axis=1), np.argmin(p, axis=1))
        order = (lone[:, None] + np.arange(3)[None, :]) % 3  # rotate: lone vertex first
        t = np.take_along_axis(t, order[:, :, None], axis=1)
        zt = np.take_along_axis(zt, order, axis=1)
        a, bb, cc = t[:, 0], t[:, 1], t[:, 2]
        za, zb, zc = zt[:, :1], zt[:, 1:2], zt[:, 2:3]
        pab = a + (bb - a) * (za / (za - zb))
        pac = a + (cc - a) * (za / (za - zc))
        pab /= np.linalg.norm(pab, axis=1, keepdims=True)
        pac /= np.linalg.norm(pac, axis=1, keepdims=True)
        new = np.concatenate([np.stack([a, pab, pac], 1), np.stack([pab, bb, cc], 1), np.stack([pab, cc, pac], 1)])
        tri = np.concatenate([tri[~cut], new])
    flat = tri.reshape(-1, 3)
    grid = np.round(flat * (1 << 20)).astype(np.int64) + (1 << 20)  # 1e-6 cells, 21 bits each
    key = (grid[:, 0] << 42) | (grid[:, 1] << 21) | grid[:, 2]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return flat[first], inverse.reshape(-1, 3)


def _sphere_layer(W, b) -> tuple[np.ndarray, np.ndarray, bool]:
    W, b = pt.as_layer(W, b)
    if W.shape[1] == 4:
        W3, b3 = pt.layernorm_sphere_layer(W, b)
        return W3, b3, True
    if W.shape[1] == 3:
        return W, b, False
    raise ValueError(f"sphere regions need W of shape (n, 4) (LayerNorm input) or (n, 3) (on S2), got {W.shape}")


def sphere_regions_spec(W, b, activation: str = "relu", mesh_level: int | None = None, circle_points: int = 65,
                        crisp: bool | None = None, surface: str | None = None) -> dict:
    """d = 4: the LayerNorm sphere (a 2-sphere inside the hyperplane orthogonal to
    (1, 1, 1, 1), drawn in its Helmert coordinates at unit scale) with the surface coloured
    by spline code, every neuron's boundary circle drawn, and the exact region count
    (:func:`polyviz.polytopes.sphere_region_count`) in the title. W may also be (n, 3): a
    layer acting on the unit sphere S2 directly.

    The surface is an icosphere with one colour per triangle. With ``crisp`` (the
    default up to CRISP_MAX_CIRCLES boundary circles) a level-3 icosphere (1,280
    triangles) is cut along every boundary plane (:func:`split_mesh_by_planes`), so
    colours change exactly at the circles; with more circles (hundreds or thousands of
    regions, where cutting costs too much time and payload) a level-4 icosphere (5,120
    triangles) is coloured at triangle centres and the drawn circles carry the exact
    boundaries. Trace order: surface, circles."""
    pt.check_activation(activation)
    W3, b3, from_layernorm = _sphere_layer(W, b)
    arrangement = pt.circle_arrangement(W3, b3)
    circles = arrangement.circles
    cutting = circles.neuron[circles.circle_id == np.arange(len(circles))]
    if crisp is None:
        crisp = len(cutting) <= CRISP_MAX_CIRCLES
    if mesh_level is None:
        mesh_level = 3 if crisp else 4
    verts, faces = icosphere(int(mesh_level))
    if crisp:
        verts, faces = split_mesh_by_planes(verts, faces, W3[cutting], b3[cutting])
    centroids = verts[faces].mean(axis=1)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    codes = pt.preactivations(W3, b3, centroids) > 0
    if activation == "gelu":  # smooth fading: colour the vertices
        z = pt.preactivations(W3, b3, verts)
        colour = dict(vertexcolor=_soft_vertex_colours(z > 0, _certainty(z)))
    else:
        colour = dict(intensity=u8(_colour_values(codes)), intensitymode="cell", showscale=False, **_colour_kwargs())
    # Each distinct circle once, with points in proportion to its radius (small circles
    # need few), drawn just above the surface.
    drawn = np.flatnonzero(circles.circle_id == np.arange(len(circles)))
    ring = circles.points(circle_points)[drawn] * 1.004 if len(drawn) else np.zeros((0, circle_points, 3))
    keep_every = [max(1, int(circle_points // (8 + (circle_points - 8) * r))) for r in circles.radius[drawn]]
    ring_pts = _nan_join([r[::k] if (len(r) - 1) % k == 0 else np.vstack([r[::k], r[-1:]])
                          for r, k in zip(ring, keep_every)], 3)
    n_codes = pt.code_ids(codes)[1]
    index = "u2" if len(verts) <= 0xFFFF else "u4"
    # a vertex's hover names the region of one face it belongs to (a vertex on a boundary
    # circle has several: any one of them is right next to it)
    vertex_face = np.zeros(len(verts), dtype=np.int64)
    vertex_face[faces.ravel()] = np.repeat(np.arange(len(faces)), 3)
    vertex_codes = codes[vertex_face]
    regions, _ = pt.code_ids(vertex_codes)
    norms = np.array([np.linalg.norm(W3[c], 2) if c.any() else 0.0 for c in vertex_codes])
    patch_data = np.stack([regions, vertex_codes.sum(1), np.round(norms, 3)], 1).tolist()
    data = [
        dict(type="mesh3d", x=f32(verts[:, 0]), y=f32(verts[:, 1]), z=f32(verts[:, 2]),
             i=typed(faces[:, 0], index), j=typed(faces[:, 1], index), k=typed(faces[:, 2], index),
             flatshading=False, lighting=dict(ambient=0.85, diffuse=0.25, specular=0.05, roughness=0.9),
             customdata=patch_data, name="regions", **colour,
             hovertemplate=f"region %{{customdata[0]}}: %{{customdata[1]}} of {W3.shape[0]} neurons on<br>"
                           "‖map‖ %{customdata[2]:.3g}<extra></extra>"),
        dict(type="scatter3d", x=f32(ring_pts[:, 0]), y=f32(ring_pts[:, 1]), z=f32(ring_pts[:, 2]), mode="lines",
             line=dict(color=BOUNDARY, width=3 if len(drawn) <= CRISP_MAX_CIRCLES else 1.5), name="boundary circles",
             hoverinfo="skip"),
    ]
    where = surface or ("LayerNorm sphere (d = 4)" if from_layernorm else "unit sphere S²")
    exact = "exact" if not circles.dropped else f"not exact: {plural(circles.dropped, 'tiny circle')} dropped"
    title = two_line_title(where, f"{plural(arrangement.n_regions, 'region')} ({exact}) · "
                                  f"{plural(circles.n_distinct, 'circle')} · {plural(W3.shape[0], 'neuron')} · "
                                  f"{_arc_title(activation)}")
    axis = dict(range=[-1.05, 1.05], showbackground=False, showticklabels=False, title=dict(text=""))
    layout = base_layout(
        title, margin=dict(l=0, r=0, t=TWO_LINE_TOP, b=0), uirevision="sphere-regions",
        meta=dict(regions=arrangement.n_regions, codes_on_mesh=int(n_codes), circles=int(circles.n_distinct),
                  dropped_circles=int(circles.dropped)),
        scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube",
                   camera=dict(eye=dict(x=1.35, y=1.35, z=0.9))),
    )
    return dict(data=data, layout=layout)


# --------------------------------------------------------------------------- scaling
def scaling_spec(W, b, v, k_max: float = 10.0, eps: float = 0.0, k: float | None = None,
                 norm_radius: float | None = None, norm_name: str = "LayerNorm") -> dict:
    """Regions crossed by k*v for k in (0, k_max], with and without LayerNorm in front of
    the layer, as exact step curves (breakpoints from
    :func:`polyviz.polytopes.scaling_regions`). Trace order: without, with LayerNorm.

    With ``k`` (0 < k <= k_max) the current scale is marked, and ``layout.meta`` also
    says where k*v is: ``region_without`` (1-based, along the ray: one more than the
    breakpoints up to k), ``on_without`` / ``on_with`` (neurons on at k*v and at
    LayerNorm(k*v), eps as given) and ``same_code`` (whether those two codes agree).

    ``norm_radius``: another normalisation in front of the layer (``norm_name``), one that
    sends k*v to ``norm_radius * v / |v|`` for every k > 0 (eps = 0), e.g. u_eps (radius 1)
    for a layer lifted onto the LayerNorm sphere (:class:`polyviz.pages.sphere.InputSphere`)."""
    if norm_radius is not None and eps != 0:
        raise ValueError("norm_radius (a normalisation other than LayerNorm) is drawn for eps = 0 only")
    plain = pt.scaling_regions(W, b, v, k_max, layernorm=False)
    normed = pt.scaling_regions(W, b, v, k_max, layernorm=True, eps=eps)

    def steps(result):
        k = np.concatenate([[0.0], result.breakpoints, [k_max]])
        return k, 1 + np.minimum(np.arange(len(k)), len(result.breakpoints))

    kx, ky = steps(plain)
    lx, ly = steps(normed)
    data = [
        dict(type="scatter", x=f32(kx), y=f32(ky), mode="lines", line=dict(shape="hv", color=RED, width=3),
             name=f"without {norm_name} ({plain.regions})",
             hovertemplate="k = %{x:.3f}: %{y} regions<extra></extra>"),
        dict(type="scatter", x=f32(lx), y=f32(ly), mode="lines", line=dict(shape="hv", color=BLUE, width=3),
             name=f"with {norm_name} ({normed.regions})",
             hovertemplate="k = %{x:.3f}: %{y} regions<extra></extra>"),
    ]
    eps_note = f", ε = {eps:.0e}" if eps > 0 else ""
    title = two_line_title(f"Scaling v by k ∈ (0, {k_max:g}]",
                           f"{plural(plain.regions, 'region')} without {norm_name}, {normed.regions} with{eps_note}")
    meta = dict(without=plain.regions, with_layernorm=normed.regions)
    extra = {}
    if k is not None:
        k = float(min(max(k, 1e-12), k_max))
        W_, b_ = pt.as_layer(W, b)
        v_ = np.asarray(v, dtype=np.float64).reshape(-1)
        raw_code = pt.spline_codes(W_, b_, (k * v_)[None, :])[0]
        if norm_radius is None:
            normed_point = layer_norm((k * v_)[None, :], eps)
        else:  # another normalisation onto a sphere of this radius (eps -> 0): v's direction there
            normed_point = norm_radius * (v_ / np.linalg.norm(v_))[None, :]
        ln_code = pt.spline_codes(W_, b_, normed_point)[0]
        region = 1 + int(np.searchsorted(plain.breakpoints, k, side="right"))
        meta.update(k=k, region_without=region, on_without=int(raw_code.sum()), on_with=int(ln_code.sum()),
                    same_code=bool(np.array_equal(raw_code, ln_code)))
        extra = dict(
            shapes=[dict(type="line", xref="x", yref="paper", x0=k, x1=k, y0=0, y1=1,
                         line=dict(color=NOTE, width=1.5, dash="dot"))],
            annotations=[dict(x=k, y=1, xref="x", yref="paper", yanchor="top", xanchor="left", xshift=3,
                              showarrow=False, text=f"k = {k:.3g}", font=dict(size=11, color=NOTE))],
        )
    layout = base_layout(
        title, showlegend=True, uirevision="scaling", margin=dict(l=50, r=16, t=TWO_LINE_TOP, b=94),
        legend=legend_below(0.5, "center"),
        meta=meta,
        xaxis=dict(range=[0, k_max], title=dict(text="scale k", standoff=4)),
        yaxis=dict(title=dict(text="spline codes crossed"), rangemode="tozero"),
        **extra,
    )
    return dict(data=data, layout=layout)


# --------------------------------------------------------------------------- rotation
def rotation_spec(W, b, w_out, v, w, activation: str = "relu", n_angles: int = 361,
                  full_circle: bool = False) -> dict:
    """The MLP output ``act(W x + b) @ w_out`` and |d output / d angle| while rotating
    LayerNorm(v) towards LayerNorm(w) on the LayerNorm sphere; exact boundary crossings
    marked; crossing count and total variation per radian in the title. Trace order:
    output, crossings, |slope|.

    When w points the same way as v (or exactly opposite) there is no unique great circle
    from v to w: the figure then goes a full turn round the great circle through v that
    :func:`polyviz.polytopes.great_circle` picks, and ``layout.meta.parallel`` is true."""
    _, q, angle = pt.great_circle(v, w)
    parallel = angle is None
    if parallel:
        w = q  # orthogonal to v - mean(v) in the LayerNorm plane: rotation_plane(v, q) is (p, q)
        full_circle = True
    probe = pt.rotation_probe(W, b, w_out, v, w, n_angles=n_angles, activation=activation, full_circle=full_circle)
    A, B, c = (pt.circle_coefficients(*pt.as_layer(W, b), probe.p, probe.q, probe.radius))
    z_cross = np.cos(probe.crossing_angles)[:, None] * A + np.sin(probe.crossing_angles)[:, None] * B + c
    y_cross = pt.activate(z_cross, activation) @ np.asarray(w_out, dtype=np.float64)
    data = [
        dict(type="scatter", x=f32(probe.angles), y=f32(probe.output), mode="lines", name="output",
             line=dict(color=BLUE, width=2.5), xaxis="x", yaxis="y",
             hovertemplate="angle %{x:.3f}: output %{y:.4f}<extra></extra>"),
        dict(type="scatter", x=f32(probe.crossing_angles), y=f32(y_cross), mode="markers", name="boundary crossings",
             marker=dict(size=6, color=RED, line=dict(width=1, color="white")), xaxis="x", yaxis="y",
             hovertemplate="crossing at %{x:.4f} rad<extra></extra>"),
        dict(type="scatter", x=f32(probe.angles), y=f32(probe.slope), mode="lines", name="|d output / d angle|",
             line=dict(color=GREEN, width=1.8), fill="tozeroy", fillcolor="rgba(42,157,111,0.12)",
             xaxis="x2", yaxis="y2", hovertemplate="angle %{x:.3f}: |slope| %{y:.4f}<extra></extra>"),
    ]
    path = ("a full turn through v (w ∥ v)" if parallel else
            f"v → w, full turn" if full_circle else f"v → w ({math.degrees(probe.angle_end):.0f}°)")
    unresolved = f" · {probe.unresolved} unresolved in float64" if probe.unresolved else ""
    title = two_line_title(f"Rotating {path}", f"{plural(probe.n_crossings, 'boundary crossing')}{unresolved} · "
                                               f"total variation {probe.tv_per_radian:.3g}/rad · "
                                               f"{_arc_title(activation)}")
    extra = {}
    if not parallel and full_circle and angle is not None:  # mark where w is on the full turn
        extra = dict(shapes=[dict(type="line", xref="x", yref="paper", x0=angle, x1=angle, y0=0, y1=1,
                                  line=dict(color=NOTE, width=1.2, dash="dot"))],
                     annotations=[dict(x=angle, y=1, xref="x", yref="paper", yanchor="top", showarrow=False,
                                       text="w", font=dict(size=12, color=NOTE))])
    layout = base_layout(
        title, uirevision="rotation", showlegend=False, margin=dict(l=40, r=16, t=TWO_LINE_TOP, b=36),
        meta=dict(n_crossings=probe.n_crossings, unresolved=probe.unresolved, merged=probe.merged,
                  tv_per_radian=probe.tv_per_radian,
                  total_variation=probe.total_variation, angle_end=probe.angle_end, parallel=parallel),
        **extra,
        xaxis=dict(range=[0, probe.angle_end], anchor="y", showticklabels=False),
        yaxis=dict(domain=[0.42, 1.0], title=dict(text="MLP output")),
        xaxis2=dict(range=[0, probe.angle_end], anchor="y2", matches="x", title=dict(text="angle from v (rad)")),
        yaxis2=dict(domain=[0.0, 0.34], title=dict(text="|dy/da|"), rangemode="tozero"),
    )
    return dict(data=data, layout=layout)


# --------------------------------------------------------------------------- page views
# The scene (arcs_3d for d = 3, sphere_regions for d = 4) ends with these marker traces,
# so a page can update them alone (e.g. with a Dash Patch) when v, w or k move.
SCENE_MARKER_TRACES = 4
SCENE_BASE_TRACES = {3: 7, 4: 2}
RAY_LIMIT = 1.6 * math.sqrt(3.0)  # the d = 3 ray k v is drawn up to the edge of the drawn plane
V_COLOUR, W_COLOUR = "#111827", RED


def scene_marker_traces(v, w, k: float = 1.0, n_path: int = 90) -> list[dict]:
    """The directions v (scaled by k) and w in the scene's coordinates, as four traces:

    0. the raw vector k v from the origin (d = 3 only, where the scene is R^3 and k v lies
       in the drawn LayerNorm plane; clipped to RAY_LIMIT; empty for d = 4);
    1. the great-circle path from LayerNorm(v) towards LayerNorm(w) (the rotation probe's
       path; a full turn when w is parallel to v);
    2. LayerNorm(k v), the same point for every k > 0 (eps -> 0);
    3. LayerNorm(w).

    d = 3 uses raw coordinates (circle of radius sqrt(3)); d = 4 the unit-sphere Helmert
    coordinates of :func:`sphere_regions_spec` (just above the surface)."""
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    d = len(v)
    p, q, angle = pt.great_circle(v, w)
    end = pt.TAU if angle is None else angle
    a = np.linspace(0.0, end, max(2, int(n_path * end / math.pi) + 2))
    wv = _center(w)
    w_dir = wv / np.linalg.norm(wv) if np.linalg.norm(wv) > 0 else p
    if d == 3:
        scale, to_scene = math.sqrt(3.0), (lambda x: x)
    else:
        basis = layernorm_plane_basis(d)[:3]
        scale, to_scene = 1.012, (lambda x: x @ basis.T)
    path = scale * to_scene(np.cos(a)[:, None] * p + np.sin(a)[:, None] * q)
    v_pt = scale * to_scene(p[None, :])
    w_pt = scale * to_scene(w_dir[None, :])
    if d == 3:
        tip = min(float(k), RAY_LIMIT)
        ray = np.array([[0.0, 0.0, 0.0], tip * p])
        beyond = "" if k <= RAY_LIMIT else " (drawn to the plane's edge)"
        ray_trace = dict(type="scatter3d", x=f32(ray[:, 0]), y=f32(ray[:, 1]), z=f32(ray[:, 2]),
                         mode="lines+markers", line=dict(color=V_COLOUR, width=5),
                         marker=dict(size=[0, 5], color=V_COLOUR, symbol="diamond"), name=f"k·v, k = {k:.3g}",
                         hovertemplate=f"k·v, k = {k:.3g}{beyond}<extra></extra>")
    else:
        ray_trace = dict(type="scatter3d", x=[], y=[], z=[], mode="lines", showlegend=False, hoverinfo="skip",
                         name="k·v")
    label = "√3" if d == 3 else "√4"
    return [
        ray_trace,
        dict(type="scatter3d", x=f32(path[:, 0]), y=f32(path[:, 1]), z=f32(path[:, 2]), mode="lines",
             line=dict(color=W_COLOUR, width=6), name="v → w (rotation path)", hoverinfo="skip"),
        dict(type="scatter3d", x=f32(v_pt[:, 0]), y=f32(v_pt[:, 1]), z=f32(v_pt[:, 2]), mode="markers+text",
             marker=dict(size=6, color=V_COLOUR, line=dict(width=1, color="white")), text=["v"],
             textposition="top center", textfont=dict(size=14, color=V_COLOUR), showlegend=False,
             name=f"LayerNorm(k·v) = {label}·v", hovertemplate="LayerNorm(k·v), every k > 0<extra></extra>"),
        dict(type="scatter3d", x=f32(w_pt[:, 0]), y=f32(w_pt[:, 1]), z=f32(w_pt[:, 2]), mode="markers+text",
             marker=dict(size=6, color=W_COLOUR, line=dict(width=1, color="white")), text=["w"],
             textposition="top center", textfont=dict(size=14, color=W_COLOUR), showlegend=False,
             name="LayerNorm(w)", hovertemplate="LayerNorm(w)<extra></extra>"),
    ]


def data_traces(points, labels, d: int) -> list[dict]:
    """A trained model's data on the scene's sphere, one trace per class (blue 0, red 1):
    ``points`` (N, d) on the LayerNorm sphere of R^d, drawn in the scene's coordinates (raw
    R^3 for d = 3; the Helmert axes at unit scale, just above the surface, for d = 4)."""
    P = np.asarray(points, dtype=np.float64).reshape(-1, d)
    labels = np.asarray(labels).reshape(-1)
    if d == 4:
        P = P @ layernorm_plane_basis(4)[:3].T / 2.0 * 1.012
    traces = []
    for label, colour in ((0, BLUE), (1, RED)):
        pts = P[labels == label]
        traces.append(dict(type="scatter3d", x=f32(pts[:, 0]), y=f32(pts[:, 1]), z=f32(pts[:, 2]), mode="markers",
                           marker=dict(size=2.6, color=colour, line=dict(width=0)), name=f"data, class {label}",
                           hoverinfo="skip"))
    return traces


def scene_spec(W, b, v, w, k: float = 1.0, activation: str = "relu", seed: int = 0, points=None, labels=None,
               surface: str | None = None) -> dict:
    """The page's main 3-D view: :func:`arcs_3d_spec` for a layer on R^3 (W: (n, 3)) or
    :func:`sphere_regions_spec` for a layer on R^4 (W: (n, 4), the LayerNorm sphere S2),
    followed by the SCENE_MARKER_TRACES traces of :func:`scene_marker_traces` for the
    directions v, w (in R^d) and the scale k.

    A trained layer passes its data: ``points`` (N, d) on the LayerNorm sphere of R^d (see
    :class:`polyviz.pages.sphere.InputSphere`) and their class ``labels``, drawn after the
    marker traces (:func:`data_traces`) instead of the random raw vectors; ``surface``
    names the sphere in the title when it is not the LayerNorm sphere."""
    W, b = pt.as_layer(W, b)
    d = W.shape[1]
    if d not in SCENE_BASE_TRACES:
        raise ValueError(f"scene_spec needs a layer on R^3 or R^4, got W of shape {W.shape}")
    if d == 3:
        # raw vectors on the scale of the circle (radius sqrt 3), so the scene is not mostly cloud
        X = np.random.default_rng(seed).normal(size=(60, 3)) * 0.9 if points is None else np.zeros((0, 3))
        spec = arcs_3d_spec(W, b, X, activation=activation)
    else:
        spec = sphere_regions_spec(W, b, activation, surface=surface)
    spec["data"].extend(scene_marker_traces(v, w, k))
    if points is not None:
        spec["data"].extend(data_traces(points, labels, d))
    if d == 4:
        spec["layout"]["showlegend"] = False
        return spec
    # A compact legend under the scene: what the caption cannot say by colour alone.
    quiet = {"(1, 1, 1)", "boundaries", "LayerNorm plane"}
    for trace in spec["data"]:
        if trace.get("name") in quiet:
            trace["showlegend"] = False
    spec["layout"]["legend"] = dict(orientation="h", x=0.0, y=0.0, xanchor="left", yanchor="bottom",
                                    bgcolor="rgba(255,255,255,0.8)", font=dict(size=10.5), itemwidth=30)
    spec["layout"]["scene"]["domain"] = dict(x=[0, 1], y=[0.1, 1])
    spec["layout"]["scene"]["camera"] = dict(eye=dict(x=1.05, y=1.05, z=1.0))
    return spec


def great_circle_spec(W, b, v, w, activation: str = "relu", n_angles: int = 361) -> dict:
    """:func:`unrolled_spec` along the great circle of the LayerNorm sphere that starts
    at v and heads towards w (for d = 3 that is the whole LayerNorm circle), so angle 0 is
    LayerNorm(v) and w is marked at its angle: the same path and angles as
    :func:`rotation_spec`. ``layout.meta``: crossings, arcs, codes and w's angle (None
    when w is parallel to v)."""
    W, b = pt.as_layer(W, b)
    d = W.shape[1]
    p, q, angle = pt.great_circle(v, w)
    radius = math.sqrt(d)
    spec = unrolled_spec(W, b, p, q, radius, activation=activation, n_angles=n_angles)
    where = "LayerNorm circle from v" if d == 3 else "Great circle v → w"
    spec["layout"]["title"]["text"] = spec["layout"]["title"]["text"].replace("Unrolled circle", where, 1)
    marks = [(0.0, "v", V_COLOUR)] + ([] if angle is None else [(angle, "w", W_COLOUR)])
    spec["layout"]["shapes"] = [dict(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0.0, y1=1.0,
                                     line=dict(color=colour, width=1.5, dash="dot")) for x, _, colour in marks]
    spec["layout"]["annotations"] = [dict(x=x, y=1.0, xref="x", yref="paper", yanchor="top", xanchor="left",
                                          showarrow=False, text=f"<b>{text}</b>", font=dict(size=13, color=colour))
                                     for x, text, colour in marks]
    spec["layout"]["meta"]["w_angle"] = None if angle is None else float(angle)
    return spec


# --------------------------------------------------------------------------- Figures
def arcs_3d_figure(W, b, X=None, activation: str = "relu", n_points: int = 60, seed: int = 0) -> go.Figure:
    return figure(arcs_3d_spec(W, b, X, activation, n_points, seed))


def unrolled_figure(W, b, p=None, q=None, radius=None, center=None, activation: str = "relu",
                    n_angles: int = 361) -> go.Figure:
    return figure(unrolled_spec(W, b, p, q, radius, center, activation, n_angles))


def sphere_regions_figure(W, b, activation: str = "relu", mesh_level: int | None = None, circle_points: int = 65,
                          crisp: bool | None = None) -> go.Figure:
    return figure(sphere_regions_spec(W, b, activation, mesh_level, circle_points, crisp))


def scaling_figure(W, b, v, k_max: float = 10.0, eps: float = 0.0, k: float | None = None) -> go.Figure:
    return figure(scaling_spec(W, b, v, k_max, eps, k))


def rotation_figure(W, b, w_out, v, w, activation: str = "relu", n_angles: int = 361,
                    full_circle: bool = False) -> go.Figure:
    return figure(rotation_spec(W, b, w_out, v, w, activation, n_angles, full_circle))


def scene_figure(W, b, v, w, k: float = 1.0, activation: str = "relu", seed: int = 0) -> go.Figure:
    return figure(scene_spec(W, b, v, w, k, activation, seed))


def great_circle_figure(W, b, v, w, activation: str = "relu", n_angles: int = 361) -> go.Figure:
    return figure(great_circle_spec(W, b, v, w, activation, n_angles))

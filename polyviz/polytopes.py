"""Exact polytope geometry of a ReLU (or GELU) layer on the LayerNorm circle and sphere.

A layer ``z = W x + b`` (W: (n, d), one row per neuron) splits input space into convex
polytopes, one per *spline code* (the on/off pattern ``z > 0``). LayerNorm puts every
input on a sphere inside the hyperplane orthogonal to (1, ..., 1), so only the pieces of
that sphere matter:

* on a circle ``center + r (cos a p + sin a q)`` each neuron is ``A cos a + B sin a + c``,
  so its zero crossings are closed form (:func:`circle_arcs`);
* on the unit 2-sphere each neuron's boundary is a circle (the plane ``w.x + b = 0`` cut
  with S2), and the regions are the faces of an arrangement of circles, counted exactly
  with Euler's formula (:func:`sphere_region_count`) and traced exactly, so that points
  can be labelled by connected region (:func:`sphere_regions`, :func:`sphere_region_labels`);
* along a ray k v, or a great circle from v towards w, the crossings are closed form too
  (:func:`scaling_regions`, :func:`rotation_probe`).

:func:`layernorm_sphere_layer` turns a layer on R^d into the equivalent layer on the unit
sphere of the LayerNorm plane (d = 4 gives S2).

Everything is float64 NumPy, vectorised, and exact up to stated tolerances: sampling is
only ever a test oracle here, never the method. GELU shares ReLU's boundaries (GELU(z) is
z * Phi(z), and the soft code Phi(z) is 0.5 exactly where z = 0), so the geometry is the
same and only the soft code and the output differ.

Tolerances (module constants, all relative):

* ``TANGENT_RTOL``: a neuron whose amplitude R on a circle exceeds |c| by no more than
  this fraction of R is tangent to the circle (touches zero without changing sign).
* ``ZERO_RTOL``: a neuron whose values on a circle are below this fraction of the size of
  its inputs (r |w| + |w| |center| + |b|) is identically zero there (rounding noise only).
* ``ANGLE_ATOL``: crossing angles closer than this (radians) are one boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .geometry import center as _center
from .geometry import layer_norm, layernorm_plane_basis

TAU = 2.0 * math.pi
TANGENT_RTOL = 1e-9
ZERO_RTOL = 1e-12
ANGLE_ATOL = 1e-9
# On the unit sphere: planes closer than this to tangent miss it; circles whose unit
# normals are parallel within PARALLEL_TOL (squared sine) and whose offsets agree within
# SAME_OFFSET_TOL are the same circle; intersection points closer than POINT_TOL are one
# vertex; two circles whose intersection discriminant is within DISC_TOL touch.
SPHERE_TANGENT_TOL = 1e-12
PARALLEL_TOL = 1e-20
SAME_OFFSET_TOL = 1e-9
DISC_TOL = 1e-12
POINT_TOL = 1e-9
# Where two circles touch or cross at an angle with sine below ZONE_SIN, intersection
# points on one of them within SEP_TOL (plane distance) of the other join their common
# point: the circles cannot be told apart there (see _vertex_graph; SEP_TOL is ~1000
# times the rounding error of such distances).
ZONE_SIN = 1e-3
SEP_TOL = 1e-13
# Error bound of a computed crossing point, times the sine of the crossing angle (the
# largest seen against 50-digit arithmetic is 1e-15).
POINT_ERR = 4e-15

ACTIVATIONS = ("relu", "gelu")


# --------------------------------------------------------------------------- helpers
def _layer(W, b) -> tuple[np.ndarray, np.ndarray]:
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (n_neurons, d), got shape {W.shape}")
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if b.shape[0] != W.shape[0]:
        raise ValueError(f"b must have one entry per row of W ({W.shape[0]}), got {b.shape[0]}")
    return W, b


def _check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return activation


def _normal_cdf(z):
    from scipy.special import ndtr

    return ndtr(z)


def _normal_pdf(z):
    return np.exp(-0.5 * np.square(z)) / math.sqrt(TAU)


def random_layer(n_neurons: int, d: int, seed: int = 0, weight_scale: float = 1.0,
                 bias_scale: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random layer ``(W, b)``: W ~ N(0, weight_scale^2 / d) of shape (n, d) and
    b ~ N(0, bias_scale^2) of shape (n,), from ``numpy.random.default_rng(seed)``.

    The 1/sqrt(d) keeps ``w.x`` of order ``weight_scale`` for |x| ~ sqrt(d), the radius of
    the LayerNorm sphere, whatever the width."""
    if n_neurons < 0 or d < 1:
        raise ValueError(f"need n_neurons >= 0 and d >= 1, got {n_neurons}, {d}")
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(n_neurons, d)) * (weight_scale / math.sqrt(d))
    b = rng.normal(size=n_neurons) * bias_scale
    return W, b


def random_readout(n_neurons: int, seed: int = 0) -> np.ndarray:
    """A seeded output projection ``w_out`` (n,) ~ N(0, 1/n) for a one-layer MLP
    ``act(W x + b) @ w_out``. Drawn from its own stream (``default_rng((seed, 1))``), so
    it does not change :func:`random_layer`'s W and b for the same seed."""
    if n_neurons < 0:
        raise ValueError(f"need n_neurons >= 0, got {n_neurons}")
    rng = np.random.default_rng((int(seed), 1))
    return rng.normal(size=n_neurons) / math.sqrt(max(n_neurons, 1))


def plane_direction(d: int, azimuth_deg: float, elevation_deg: float = 0.0) -> np.ndarray:
    """A unit vector of R^d in the LayerNorm plane (orthogonal to (1, ..., 1)), named by
    angles in the plane's Helmert basis B (:func:`polyviz.geometry.layernorm_plane_basis`):
    ``cos(az) B[0] + sin(az) B[1]`` for d = 3 (the elevation is ignored: the plane is
    2-D), and ``cos(el) cos(az) B[0] + cos(el) sin(az) B[1] + sin(el) B[2]`` for d >= 4.

    Its LayerNorm image (eps -> 0) is ``sqrt(d)`` times itself; in the sphere figures'
    coordinates (``layernorm_sphere_layer``) it is the unit point ``B @ v``."""
    if d < 3:
        raise ValueError(f"plane_direction needs d >= 3, got {d}")
    az, el = math.radians(float(azimuth_deg)), math.radians(float(elevation_deg))
    basis = layernorm_plane_basis(d)
    if d == 3:
        return math.cos(az) * basis[0] + math.sin(az) * basis[1]
    return math.cos(el) * (math.cos(az) * basis[0] + math.sin(az) * basis[1]) + math.sin(el) * basis[2]


def preactivations(W, b, X) -> np.ndarray:
    """``X @ W.T + b`` (m, n). For the small input widths of the sphere pages (d <= 4)
    this is a sum of d broadcast products: a skinny BLAS matmul (k = 3) is several times
    slower, and much slower again when BLAS threads compete for the cores."""
    W, b = _layer(W, b)
    X = np.asarray(X, dtype=np.float64)
    d = W.shape[1]
    if X.shape[-1] != d:
        raise ValueError(f"points must have {d} coordinates, got shape {X.shape}")
    if d <= 4 and X.ndim == 2:
        z = X[:, :1] * W[:, 0] + b
        for k in range(1, d):
            z += X[:, k:k + 1] * W[:, k]
        return z
    return X @ W.T + b


def spline_codes(W, b, X) -> np.ndarray:
    """Spline codes of the points X (m, d): the bool array (m, n) of ``W x + b > 0``.

    ReLU and GELU share these hard codes (for GELU they are ``soft_codes > 0.5``)."""
    return preactivations(W, b, X) > 0.0


def soft_codes(W, b, X, activation: str = "gelu") -> np.ndarray:
    """Probabilistic spline codes (m, n) in [0, 1]: Phi(W x + b) for GELU (the standard
    normal CDF, the weight GELU gives its linear piece) and the 0/1 code for ReLU."""
    _check_activation(activation)
    z = preactivations(W, b, X)
    if activation == "relu":
        return (z > 0.0).astype(np.float64)
    return _normal_cdf(z)


def activate(z, activation: str = "relu"):
    """ReLU(z) or GELU(z) = z * Phi(z), elementwise."""
    _check_activation(activation)
    z = np.asarray(z, dtype=np.float64)
    if activation == "relu":
        return np.maximum(z, 0.0)
    return z * _normal_cdf(z)


def activation_slope(z, activation: str = "relu"):
    """Derivative of the activation: 1[z > 0] for ReLU, Phi(z) + z phi(z) for GELU."""
    _check_activation(activation)
    z = np.asarray(z, dtype=np.float64)
    if activation == "relu":
        return (z > 0.0).astype(np.float64)
    return _normal_cdf(z) + z * _normal_pdf(z)


def code_keys(codes) -> np.ndarray:
    """One hashable, sortable key per row of a bool code array (m, n): the packed bits as
    a fixed-width byte string (dtype ``V``). Equal codes have equal keys."""
    codes = np.ascontiguousarray(np.asarray(codes, dtype=bool))
    if codes.ndim != 2:
        raise ValueError(f"codes must be 2-D, got shape {codes.shape}")
    packed = np.packbits(codes, axis=1, bitorder="little")
    if packed.shape[1] == 0:
        packed = np.zeros((codes.shape[0], 1), dtype=np.uint8)
    return np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()


def code_ids(codes) -> tuple[np.ndarray, int]:
    """Integer id per row of a code array, numbered by first appearance, and the number of
    distinct codes."""
    codes = np.asarray(codes, dtype=bool)
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64), 0
    if codes.shape[1] <= 64:  # one integer per code: a plain 1-D unique
        keys = np.packbits(codes, axis=1, bitorder="little")
        keys = np.pad(keys, ((0, 0), (0, 8 - keys.shape[1]))).view("<u8").ravel()
    else:
        keys = code_keys(codes)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()], len(first)


# --------------------------------------------------------------------------- circle
@dataclass(frozen=True)
class CircleCrossings:
    """Where a layer's neurons cross zero on a circle, in compact form.

    ``angles`` (m,) sorted in [0, 2pi): the boundaries. Each crossing neuron j is on
    (pre-activation > 0) exactly on the arcs from boundary ``on_start[j]`` up to (not
    including) boundary ``on_end[j]``, cyclically; ``start_code`` (n,) is the code on the
    arc that ends at angles[0] (the wrap-around arc), and ``crossing`` marks the neurons
    that change sign at all. :meth:`codes` expands this to the dense (m, n) bool array.
    Also kept: the closed form ``A cos a + B sin a + c`` of every neuron."""

    angles: np.ndarray
    start_code: np.ndarray
    crossing: np.ndarray
    on_start: np.ndarray
    on_end: np.ndarray
    A: np.ndarray = field(repr=False)
    B: np.ndarray = field(repr=False)
    c: np.ndarray = field(repr=False)

    @property
    def n_neurons(self) -> int:
        return len(self.start_code)

    def codes(self) -> np.ndarray:
        """Dense codes (len(angles), n): row i is the code on [angles[i], angles[i+1]).

        Built as a cumulative XOR of flip events on 64-bit words (one bit per neuron),
        then unpacked: one pass over the output, no per-arc Python loop."""
        n = self.n_neurons
        m = len(self.angles)
        if m == 0:
            return self.start_code[None, :].copy()
        words = max(1, (n + 63) // 64)
        word = np.dtype("<u8")
        flips = np.zeros((m, words), dtype=word)
        neurons = np.flatnonzero(self.crossing)
        rows = np.concatenate([self.on_start[neurons], self.on_end[neurons]])
        cols = np.concatenate([neurons, neurons])
        bits = np.left_shift(np.ones(len(cols), dtype=word), (cols & 63).astype(word))
        np.bitwise_xor.at(flips, (rows, cols >> 6), bits)
        start = np.zeros(words * 64, dtype=bool)
        start[:n] = self.start_code
        flips[0] ^= np.packbits(start, bitorder="little").view(word)
        np.bitwise_xor.accumulate(flips, axis=0, out=flips)
        if n == words * 64:  # no padding bits: one flat unpack is a little faster
            return np.unpackbits(flips.view(np.uint8).reshape(-1), bitorder="little").view(bool).reshape(m, n)
        return np.unpackbits(flips.view(np.uint8), axis=1, count=n, bitorder="little").view(bool)


def circle_coefficients(W, b, p, q, radius: float = 1.0, center=None):
    """``(A, B, c)`` with neuron j equal to ``A[j] cos a + B[j] sin a + c[j]`` on the
    circle ``center + radius (cos a p + sin a q)``."""
    W, b = _layer(W, b)
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    A = W @ p
    B = W @ q
    if radius != 1.0:
        A *= radius
        B *= radius
    c = b.copy() if center is None else W @ np.asarray(center, dtype=np.float64) + b
    return A, B, c


def circle_crossings(W, b, p, q, radius: float = 1.0, center=None) -> CircleCrossings:
    """The exact zero crossings of every neuron on a circle, without expanding the codes.

    Same conventions as :func:`circle_arcs` (which is ``circle_crossings(...).codes()``
    plus the angles); use this when only the angles or the compact form are needed."""
    W, b = _layer(W, b)
    radius = float(radius)
    if not radius > 0.0:
        raise ValueError(f"radius must be > 0, got {radius}")
    A, B, c = circle_coefficients(W, b, p, q, radius, center)
    R = np.hypot(A, B)
    abs_c = np.abs(c)
    scale = np.maximum(R, abs_c)
    # Identically zero on the circle (w orthogonal to the circle's plane and c = 0): the
    # computed A, B, c are rounding noise. Only neurons that could be that small relative
    # to their inputs need their own norm; the Frobenius norm bounds every row's.
    center_norm = 0.0 if center is None else float(np.linalg.norm(center))
    flat = W.reshape(-1)
    bound = (radius + center_norm) * math.sqrt(float(np.dot(flat, flat))) + (float(np.abs(b).max()) if len(b) else 0.0)
    zero = np.zeros(len(c), dtype=bool)
    suspects = np.flatnonzero(scale <= ZERO_RTOL * bound)
    if len(suspects):
        size = (radius + center_norm) * np.linalg.norm(W[suspects], axis=1) + np.abs(b[suspects])
        zero[suspects] = scale[suspects] <= ZERO_RTOL * size
    crossing = (R * (1.0 - TANGENT_RTOL) > abs_c) & ~zero
    start_code = (c > 0.0) & ~zero & ~crossing
    n = len(c)
    on_start = np.full(n, -1, dtype=np.int64)
    on_end = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(crossing)
    if len(idx) == 0:
        empty = np.zeros(0)
        return CircleCrossings(empty, start_code, crossing, on_start, on_end, A, B, c)
    # R cos(a - phi) + c > 0  <=>  |a - phi| < delta (mod 2pi): on between phi -/+ delta.
    phi = np.arctan2(B[idx], A[idx])
    delta = np.arccos(np.clip(-c[idx] / R[idx], -1.0, 1.0))
    events = np.concatenate([phi - delta, phi + delta])
    events = np.mod(events, TAU)
    events[events >= TAU - ANGLE_ATOL] = 0.0  # 2pi (after rounding) is 0
    order = np.argsort(events)
    ordered = events[order]
    new = np.empty(len(ordered), dtype=bool)
    new[0] = True
    np.greater(np.diff(ordered), ANGLE_ATOL, out=new[1:])
    group_of_sorted = np.cumsum(new) - 1
    group = np.empty(len(events), dtype=np.int64)
    group[order] = group_of_sorted
    angles = ordered[new]
    k = len(idx)
    s_g, e_g = group[:k], group[k:]
    same = s_g == e_g  # both crossings merged: a sliver, behaves as tangent
    if same.any():
        crossing[idx[same]] = False
        start_code[idx[same]] = delta[same] > 0.5 * math.pi
        keep = ~same
        idx, s_g, e_g = idx[keep], s_g[keep], e_g[keep]
        used = np.zeros(len(angles), dtype=bool)
        used[s_g] = True
        used[e_g] = True
        if not used.all():  # drop boundaries that no neuron crosses any more
            remap = np.cumsum(used) - 1
            angles = angles[used]
            s_g, e_g = remap[s_g], remap[e_g]
    on_start[idx] = s_g
    on_end[idx] = e_g
    start_code[idx] = e_g < s_g  # the on-interval wraps past angle 0
    return CircleCrossings(angles, start_code, crossing, on_start, on_end, A, B, c)


def circle_arcs(W, b, p, q, radius: float = 1.0, center=None) -> tuple[np.ndarray, np.ndarray]:
    """Exact arcs of a ReLU layer on the circle ``center + radius (cos a p + sin a q)``.

    Parameters: ``W`` (n, d) weight rows, ``b`` (n,) biases, ``p`` and ``q`` orthonormal
    (d,) vectors spanning the circle's plane, ``center`` (d,) or None for the origin.

    Returns ``(angles, codes)``: ``angles`` (m,) the sorted angles in [0, 2pi) where some
    neuron's pre-activation changes sign, and ``codes`` (m, n) bool, row i the pattern
    ``pre-activation > 0`` on the arc from angles[i] to angles[i+1] (the last row wraps to
    angles[0] + 2pi). With no crossing, ``angles`` is empty and ``codes`` is the single
    code of the whole circle.

    Method: neuron j is ``A cos a + B sin a + c = R cos(a - phi) + c`` with A = r w.p,
    B = r w.q, c = w.center + b, R = hypot(A, B), phi = atan2(B, A); it changes sign iff
    R > |c|, at ``phi -/+ arccos(-c / R)``, and is on between them. Neurons tangent to the
    circle (R = |c| within TANGENT_RTOL), constant on it, or identically zero (within
    ZERO_RTOL of their input size) give no boundary; a zero neuron is off. Crossings of
    different neurons within ANGLE_ATOL merge into one boundary whose code change flips
    all of them. Codes are a cumulative XOR of the flip events (see
    :meth:`CircleCrossings.codes`)."""
    crossings = circle_crossings(W, b, p, q, radius, center)
    return crossings.angles, crossings.codes()


def arc_midpoints(angles) -> np.ndarray:
    """Midpoint angle of each arc returned by :func:`circle_arcs` (wrapping), in [0, 2pi);
    for no boundaries, the single point 0."""
    angles = np.asarray(angles, dtype=np.float64)
    if len(angles) == 0:
        return np.zeros(1)
    ends = np.append(angles[1:], angles[0] + TAU)
    return np.mod(0.5 * (angles + ends), TAU)


def arc_index(angles, query) -> np.ndarray:
    """Index of the arc (row of ``codes``) that contains each query angle."""
    angles = np.asarray(angles, dtype=np.float64)
    query = np.mod(np.asarray(query, dtype=np.float64), TAU)
    if len(angles) == 0:
        return np.zeros(query.shape, dtype=np.int64)
    return np.mod(np.searchsorted(angles, query, side="right") - 1, len(angles))


def layernorm_circle(d: int = 3) -> tuple[np.ndarray, np.ndarray, float]:
    """``(p, q, radius)`` of the circle LayerNorm (eps -> 0) maps R^3 onto: the plane
    orthogonal to (1, 1, 1) with the Helmert basis, radius sqrt(3). For d > 3 the same
    gives a great circle of the LayerNorm sphere through its first two basis axes."""
    basis = layernorm_plane_basis(d)
    return basis[0].copy(), basis[1].copy(), math.sqrt(d)


# --------------------------------------------------------------------------- sphere
def layernorm_sphere_layer(W, b) -> tuple[np.ndarray, np.ndarray]:
    """The layer seen from the LayerNorm sphere: for W (n, d), ``(W_eff, b)`` with
    W_eff = sqrt(d) W B^T of shape (n, d - 1) (B the Helmert basis of the plane orthogonal
    to (1, ..., 1)), so that for y on the unit sphere S^(d-2),
    ``W_eff y + b == W x + b`` at ``x = sqrt(d) B^T y``, the LayerNorm image (eps -> 0).
    For d = 4 this gives the (n, 3) layer on S2 that :func:`sphere_region_count` takes."""
    W, b = _layer(W, b)
    d = W.shape[1]
    return math.sqrt(d) * W @ layernorm_plane_basis(d).T, b.copy()


def layernorm_sphere_points(Y) -> np.ndarray:
    """Map unit vectors Y (m, d - 1) of the plane coordinates to LayerNorm outputs
    ``sqrt(d) Y B`` in R^d (the inverse of the view used by layernorm_sphere_layer)."""
    Y = np.asarray(Y, dtype=np.float64)
    d = Y.shape[-1] + 1
    return math.sqrt(d) * Y @ layernorm_plane_basis(d)


@dataclass(frozen=True)
class BoundaryCircles:
    """The boundary circles of a layer on the unit sphere S2, one per neuron whose plane
    ``w.x + b = 0`` meets the sphere (planes that miss it, touch it at one point, or have
    w = 0 are left out).

    ``neuron`` (k,) the neuron index; ``normal`` (k, 3) the unit normal u = w / |w|;
    ``offset`` (k,) h = -b / |w| (the plane is u.x = h); ``center`` (k, 3) = h u;
    ``radius`` (k,) = sqrt(1 - h^2); ``basis`` (k, 2, 3) an orthonormal in-plane basis
    (e1, e2) with e1 x e2 = u; ``circle_id`` (k,) equal for neurons that share one circle
    (identical planes, or the same plane with the opposite orientation)."""

    neuron: np.ndarray
    normal: np.ndarray
    offset: np.ndarray
    center: np.ndarray
    radius: np.ndarray
    basis: np.ndarray
    circle_id: np.ndarray

    def __len__(self) -> int:
        return len(self.neuron)

    @property
    def n_distinct(self) -> int:
        return int(len(np.unique(self.circle_id)))

    def points(self, n_points: int = 97) -> np.ndarray:
        """(k, n_points, 3) points along each circle (first == last, for drawing)."""
        a = np.linspace(0.0, TAU, n_points)
        e1, e2 = self.basis[:, None, 0, :], self.basis[:, None, 1, :]
        ring = np.cos(a)[None, :, None] * e1 + np.sin(a)[None, :, None] * e2
        return self.center[:, None, :] + self.radius[:, None, None] * ring


def _plane_basis(normals: np.ndarray) -> np.ndarray:
    """An orthonormal basis (k, 2, 3) of the planes orthogonal to unit normals (k, 3)."""
    k = len(normals)
    helper = np.zeros((k, 3))
    helper[np.arange(k), np.argmin(np.abs(normals), axis=1)] = 1.0
    e1 = np.cross(normals, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(normals, e1)
    return np.stack([e1, e2], axis=1)


def boundary_circles(W, b) -> BoundaryCircles:
    """The circles in which the planes ``W x + b = 0`` (W: (n, 3)) cut the unit sphere.
    See :class:`BoundaryCircles`."""
    W, b = _layer(W, b)
    if W.shape[1] != 3:
        raise ValueError(f"boundary_circles needs W of shape (n, 3), got {W.shape}")
    norms = np.linalg.norm(W, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(norms > 0, -b / np.where(norms > 0, norms, 1.0), np.inf)
    meets = (norms > 0) & (np.abs(h) < 1.0 - SPHERE_TANGENT_TOL)
    neuron = np.flatnonzero(meets)
    u = W[neuron] / norms[neuron, None]
    h = h[neuron]
    circle_id = np.arange(len(neuron))
    if len(neuron) > 1:
        # Same circle: parallel normals (either orientation) and the same signed offset.
        cross = np.cross(u[:, None, :], u[None, :, :])
        sin2 = np.einsum("ijk,ijk->ij", cross, cross)
        sign = np.where(u @ u.T >= 0.0, 1.0, -1.0)
        same = (sin2 <= PARALLEL_TOL) & (np.abs(h[:, None] - sign * h[None, :]) <= SAME_OFFSET_TOL)
        circle_id = np.argmax(same, axis=1)  # first index of each one's class
        circle_id = circle_id[circle_id]  # (transitivity for chains within tolerance)
    radius = np.sqrt(np.maximum(0.0, 1.0 - h * h))
    return BoundaryCircles(neuron=neuron, normal=u, offset=h, center=h[:, None] * u, radius=radius,
                           basis=_plane_basis(u) if len(u) else np.zeros((0, 2, 3)), circle_id=circle_id)


@dataclass(frozen=True)
class CircleArrangement:
    """The arrangement of distinct boundary circles on S2 as a planar graph.

    ``circles`` the BoundaryCircles; ``distinct`` indices (into circles) of one
    representative per distinct circle; ``vertices`` (V, 3) the distinct intersection
    points; ``incidence`` (I, 2) unique (distinct-circle position, vertex) pairs;
    ``n_loops`` circles that meet no other; ``n_components`` connected components of the
    union of the circles; ``n_regions`` faces by Euler's formula; ``vertex_radius`` (V,)
    how far the intersection points merged into each vertex lie from it (with their
    rounding errors)."""

    circles: BoundaryCircles
    distinct: np.ndarray
    vertices: np.ndarray
    incidence: np.ndarray
    n_loops: int
    n_components: int
    n_regions: int
    vertex_radius: np.ndarray = field(default=None, repr=False, compare=False)


def _pair_intersections(u: np.ndarray, h: np.ndarray):
    """Intersection points of every pair of distinct circles u_i.x = h_i on S2.

    Returns (points (K, 3), pair_i (K,), pair_j (K,), sin_angle (K,), lens (K,)). A pair
    gives 2 points when the circles cross, 1 when they touch (|discriminant| <= DISC_TOL),
    none when they are disjoint or on parallel planes. ``sin_angle`` is the sine of the
    angle at which the pair crosses (0 where it touches); ``lens`` is, for a touch, half
    the distance between the two points where the circles may in fact cross (the square
    root of a positive discriminant within DISC_TOL), else 0."""
    m = len(u)
    if m < 2:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros((0, 3)), empty, empty, np.zeros(0), np.zeros(0)
    i, j = np.triu_indices(m, k=1)
    ui, uj, hi, hj = u[i], u[j], h[i], h[j]
    d = np.cross(ui, uj)
    s2 = np.einsum("ij,ij->i", d, d)
    ok = s2 > PARALLEL_TOL
    i, j, ui, uj, hi, hj, d, s2 = i[ok], j[ok], ui[ok], uj[ok], hi[ok], hj[ok], d[ok], s2[ok]
    # The point of the planes' common line nearest the origin (x0.u_i = h_i, x0.u_j = h_j,
    # x0.d = 0), then x = x0 +/- t d with |x| = 1.
    x0 = (hi[:, None] * np.cross(uj, d) + hj[:, None] * np.cross(d, ui)) / s2[:, None]
    x0_sq = np.einsum("ij,ij->i", x0, x0)
    disc = 1.0 - x0_sq
    touch = np.abs(disc) <= DISC_TOL * np.maximum(1.0, x0_sq)
    cross = (disc > 0) & ~touch
    t = np.sqrt(np.where(cross, disc, 0.0) / s2)
    # The circles' tangents at x meet at angle a with sin a = |x.d| / (rho_i rho_j) = t s2 / (rho_i rho_j).
    rho = np.sqrt(np.maximum(1e-300, (1.0 - hi * hi) * (1.0 - hj * hj)))
    sin_angle = np.minimum(1.0, t * s2 / rho)[cross]
    pts = [x0[touch], x0[cross] + t[cross, None] * d[cross], x0[cross] - t[cross, None] * d[cross]]
    pi = [i[touch], i[cross], i[cross]]
    pj = [j[touch], j[cross], j[cross]]
    points = np.concatenate(pts)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    pi, pj = np.concatenate(pi), np.concatenate(pj)
    # Nearly parallel planes (e.g. small circles nearly alike) leave the crossings up to
    # ~1e-10 off them (x0 loses digits as 1 / s2): one Newton step on (u_i.x = h_i,
    # u_j.x = h_j, |x| = 1) puts them back. (Not at touching points: singular there.)
    n_touch = int(touch.sum())
    near_parallel = np.flatnonzero(s2[cross] < 1e-3)
    fix = n_touch + np.concatenate([near_parallel, near_parallel + int(cross.sum())])
    if len(fix):
        x, ui, uj = points[fix], u[pi[fix]], u[pj[fix]]
        res = np.stack([np.einsum("ij,ij->i", x, ui) - h[pi[fix]], np.einsum("ij,ij->i", x, uj) - h[pj[fix]],
                        0.5 * (np.einsum("ij,ij->i", x, x) - 1.0)], axis=1)
        J = np.stack([ui, uj, x], axis=1)
        ok = np.abs(np.linalg.det(J)) > 1e-200
        points[fix[ok]] -= np.linalg.solve(J[ok], res[ok][:, :, None])[:, :, 0]
    sin_angle = np.concatenate([np.zeros(n_touch), sin_angle, sin_angle])
    lens = np.concatenate([np.sqrt(np.maximum(disc[touch], 0.0)), np.zeros(2 * int(cross.sum()))])
    return points, pi, pj, sin_angle, lens


def _components(n_nodes: int, a: np.ndarray, b: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of an undirected graph given as edge lists (a, b)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_nodes, n_nodes))
    return connected_components(graph, directed=False)


def _circle_order(u, h, bases, vertices, incidence):
    """The incidences sorted by circle, then by the angle of the vertex on the circle.

    Returns (circle, vertex, theta, counts, nxt): the sorted incidences, the vertex angles
    in [0, 2 pi) about each circle's normal, the number of vertices on each circle, and
    for each incidence the position of the next one counter-clockwise on its circle (an
    edge runs from vertex[e] to vertex[nxt[e]])."""
    circle, vertex = incidence[:, 0], incidence[:, 1]
    rel = vertices[vertex] - h[circle, None] * u[circle]
    theta = np.mod(np.arctan2(np.einsum("ij,ij->i", rel, bases[circle, 1]),
                              np.einsum("ij,ij->i", rel, bases[circle, 0])), TAU)
    order = np.lexsort((theta, circle))
    circle, vertex, theta = circle[order], vertex[order], theta[order]
    counts = np.bincount(circle, minlength=len(u))
    circle_start = np.concatenate([[0], np.cumsum(counts)])
    pos = np.arange(len(circle)) - circle_start[circle]
    nxt = circle_start[circle] + np.mod(pos + 1, counts[circle])
    return circle, vertex, theta, counts, nxt


def _vertex_graph(u: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (V, 3) of the circles u_k.x = h_k on S2, the unique (circle, vertex)
    incidences (I, 2) and the radius of each vertex's cluster (V,). The region count and
    the face tracing use this one graph (the tracing adds auxiliary circles on top, see
    :func:`_add_auxiliary`).

    A vertex is a cluster of pairwise intersection points, joined (single linkage) when

    * two points are closer than POINT_TOL, or than the sum of their errors (a crossing
      at angle a is computed to within ~1e-15 / sin a: POINT_ERR / sin a);
    * a point lies on one of two circles that touch or cross at a small angle (sine below
      ZONE_SIN) and within SEP_TOL of the other one (plane distance), or, for a touch,
      within 4 lens half-widths of the touching point: there the two circles cannot be
      told apart in float64, so the point joins their nearest common point (a circle
      crossing a tangent pair 1e-8 from the tangency meets both within 1e-16);
    * (not a join) a circle running between the points of a cluster, or through the error
      segment of one, goes through the vertex as well: pinched, or the contracted cluster
      would not be a point of a planar picture;
    * two clusters on one circle are closer than 3 times the sum of their radii (how far
      their points, with their errors, lie from the vertex, and at least the lens
      half-width of a touch), so that clusters stay well apart (see
      :func:`_rotation_system`): at a crossing at a small angle a the two circles are
      within noise of each other for ~POINT_ERR / sin a along, and only beyond that does
      the order in which they leave tell a crossing.

    A cluster with a touching point sits at it, others at their mean.
    """
    points, pi, pj, sin_angle, lens = _pair_intersections(u, h)
    if not len(points):
        return np.zeros((0, 3)), np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    from scipy.spatial import cKDTree

    m, K = len(u), len(points)
    touch = np.flatnonzero(sin_angle == 0.0)
    tree = cKDTree(points)
    close = tree.query_pairs(POINT_TOL, output_type="ndarray")
    link_a, link_b = [close[:, 0]], [close[:, 1]]
    # A crossing at angle a is only known to within POINT_ERR / sin a (capped: beyond that
    # the two circles are the same circle for all purposes here).
    err = np.where(sin_angle > 0.0, np.minimum(POINT_ERR / np.maximum(sin_angle, 1e-300), 1e-3), 0.0)
    for p in np.flatnonzero(err > 0.5 * POINT_TOL):
        q = np.asarray(tree.query_ball_point(points[p], 2.0 * err[p]), dtype=np.int64)
        q = q[np.linalg.norm(points[q] - points[p], axis=1) <= err[p] + err[q]]
        link_a.append(np.full(len(q), p))
        link_b.append(q)
    pair_key = pi * m + pj
    for key in np.unique(pair_key[sin_angle <= ZONE_SIN]):
        i, j = divmod(int(key), m)
        own = np.flatnonzero(pair_key == key)
        on_i, on_j = (pi == i) | (pj == i), (pi == j) | (pj == j)
        cand = np.flatnonzero(on_i ^ on_j)  # points on exactly one of the two circles
        partner = np.where(on_i[cand], j, i)
        gap = np.abs(np.einsum("ij,ij->i", points[cand], u[partner]) - h[partner])
        dist = np.linalg.norm(points[cand, None, :] - points[None, own, :], axis=2)
        zone = (gap <= SEP_TOL) | (dist.min(axis=1) <= 4.0 * lens[own].max())
        link_a.append(cand[zone])
        link_b.append(own[np.argmin(dist[zone], axis=1)])
    link_a, link_b = np.concatenate(link_a), np.concatenate(link_b)
    bases = None
    pinch_circle, pinch_point = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    while True:
        n_vertices, vertex_of_point = _components(K, link_a, link_b)
        vertices = np.zeros((n_vertices, 3))
        np.add.at(vertices, vertex_of_point, points)
        vertices /= np.linalg.norm(vertices, axis=1, keepdims=True)
        # A cluster with a touching point sits at it: the touching circles pass through it
        # exactly, and only there does the order in which they leave stay exact.
        vertices[vertex_of_point[touch]] = points[touch]
        keys = np.unique(np.concatenate([pi * n_vertices + vertex_of_point, pj * n_vertices + vertex_of_point,
                                         pinch_circle * n_vertices + vertex_of_point[pinch_point]]))
        incidence = np.stack([keys // n_vertices, keys % n_vertices], axis=1)
        radius = np.zeros(n_vertices)
        if n_vertices == K:  # every cluster a single point (the usual case)
            radius[vertex_of_point] = np.maximum(err, lens)
        else:
            np.maximum.at(radius, vertex_of_point,
                          np.maximum(np.linalg.norm(points - vertices[vertex_of_point], axis=1) + err, lens))
        first = np.empty(n_vertices, dtype=np.int64)  # one point of each cluster
        first[vertex_of_point[::-1]] = np.arange(K)[::-1]
        # A circle that runs between the points of a cluster (or through the error segment
        # of one: a crossing is uncertain along its circles) without meeting them there
        # goes through the vertex too (pinched), or the cluster would not be a point of a
        # planar picture.
        wide = np.flatnonzero(radius[vertex_of_point] > 1e-13)
        if len(wide):
            wide = wide[np.argsort(vertex_of_point[wide], kind="stable")]
            cluster = vertex_of_point[wide]
            starts = np.flatnonzero(np.concatenate([[True], cluster[1:] != cluster[:-1]]))
            along = np.cross(u[pi[wide]], points[wide])  # the (nearly common) tangent there
            along /= np.linalg.norm(along, axis=1, keepdims=True)
            side = points[wide] @ u.T - h  # (points, circles)
            slack = np.maximum(err, lens)[wide, None] * np.abs(along @ u.T)
            low = np.minimum.reduceat(side - slack, starts, axis=0)
            high = np.maximum.reduceat(side + slack, starts, axis=0)
            by_v, by_c = np.nonzero((low < 0.0) & (high > 0.0))
            by_v = cluster[starts[by_v]]
            key = by_c * n_vertices + by_v  # keys is sorted: is (circle, vertex) there already?
            new = keys[np.minimum(np.searchsorted(keys, key), len(keys) - 1)] != key
            if new.any():
                pinch_circle = np.concatenate([pinch_circle, by_c[new]])
                pinch_point = np.concatenate([pinch_point, first[by_v[new]]])
                continue
        if radius.max() <= POINT_TOL / 16:  # then distinct clusters are > 3 radii sums apart already
            return vertices, incidence, radius
        if bases is None:
            bases = _plane_basis(u)
        circle, vertex, _, _, nxt = _circle_order(u, h, bases, vertices, incidence)
        v, w = vertex, vertex[nxt]
        short = (v != w) & (np.linalg.norm(vertices[v] - vertices[w], axis=1)
                            < 3.0 * (radius[v] + radius[w]))
        if not short.any():
            return vertices, incidence, radius
        link_a = np.concatenate([link_a, first[v[short]]])
        link_b = np.concatenate([link_b, first[w[short]]])


def _add_auxiliary(u, h, n_real, vertices, incidence, radius):
    """The vertex graph of circles 0..n_real-1 (vertices, incidence, radius from
    :func:`_vertex_graph`) with the auxiliary circles n_real.. of the face tracing added,
    without changing it: an auxiliary crossing joins an existing vertex only if its real
    circle already passes through it (within max(POINT_TOL, 3 radius)), and auxiliary
    crossings on different real circles are never merged with each other (where two real
    circles run within POINT_TOL of each other, an auxiliary circle crossing both must not
    make them meet). Returns (vertices, incidence) of the combined graph."""
    from scipy.spatial import cKDTree

    points, pi, pj, _, _ = _pair_intersections(u, h)
    aux = pj >= n_real  # pi < pj: the pair involves an auxiliary circle
    points, pi, pj = points[aux], pi[aux], pj[aux]
    if not len(points):
        return vertices, incidence
    real = np.where(pi < n_real, pi, -1)  # the real circle of each crossing, -1 for two auxiliary ones
    close = cKDTree(points).query_pairs(POINT_TOL, output_type="ndarray")
    close = close[real[close[:, 0]] == real[close[:, 1]]]
    n_new, cluster = _components(len(points), close[:, 0], close[:, 1])
    node = len(vertices) + cluster
    if len(vertices):
        V0 = len(vertices)
        on = np.sort(incidence[:, 0] * V0 + incidence[:, 1])  # (circle, vertex) keys
        reach = np.maximum(POINT_TOL, 3.0 * radius)
        dist, near = cKDTree(vertices).query(points, k=min(4, V0))
        dist, near = dist.reshape(len(points), -1), near.reshape(len(points), -1)
        key = np.maximum(real, 0)[:, None] * V0 + near
        pos = np.minimum(np.searchsorted(on, key), len(on) - 1)
        ok = (real[:, None] >= 0) & (dist <= reach[near]) & (on[pos] == key)
        hit = ok.any(axis=1)
        joined = near[hit, np.argmax(ok[hit], axis=1)]  # the nearest such vertex (query sorts by distance)
        target = np.full(n_new, -1)
        target[cluster[hit]] = joined
        node = np.where(target[cluster] >= 0, target[cluster], node)
    used, node = np.unique(node, return_inverse=True)
    # renumber: real vertices keep their numbers, new clusters follow
    n_old = len(vertices)
    new = used >= n_old
    sums = np.zeros((int(new.sum()), 3))
    index = np.where(new, np.cumsum(new) - 1 + n_old, used)
    node = index[node]
    np.add.at(sums, node[node >= n_old] - n_old, points[node >= n_old])
    sums /= np.linalg.norm(sums, axis=1, keepdims=True)
    all_vertices = np.vstack([vertices, sums])
    V = len(all_vertices)
    keys = np.unique(np.concatenate([incidence[:, 0] * V + incidence[:, 1], pi * V + node, pj * V + node]))
    return all_vertices, np.stack([keys // V, keys % V], axis=1)


def circle_arrangement(W, b) -> CircleArrangement:
    """Build the planar graph of the boundary circles of ``W x + b`` (W: (n, 3)) on S2.
    See :func:`sphere_region_count` for the method."""
    circles = boundary_circles(W, b)
    distinct = np.flatnonzero(circles.circle_id == np.arange(len(circles)))
    u, h = circles.normal[distinct], circles.offset[distinct]
    m = len(distinct)
    vertices, incidence, radius = _vertex_graph(u, h)
    n_vertices = len(vertices)
    touched = np.zeros(m, dtype=bool)
    touched[incidence[:, 0]] = True
    n_loops = int(m - touched.sum())
    # Components of the union of circles: circles and vertices as nodes, incidences as edges.
    n_components, _ = _components(m + n_vertices, incidence[:, 0], m + incidence[:, 1])
    V = n_vertices + n_loops  # each lone circle: one dummy vertex ...
    E = len(incidence) + n_loops  # ... and one edge from it to itself
    n_regions = 1 + n_components - V + E if m else 1
    return CircleArrangement(circles, distinct, vertices, incidence, n_loops,
                             int(n_components) if m else 0, int(n_regions), radius)


def sphere_region_count(W, b) -> int:
    """Exact number of connected regions into which the planes ``W x + b = 0`` (W: (n, 3))
    cut the unit sphere S2.

    Method (no sampling): each neuron whose plane meets the sphere gives a circle (planes
    that miss it or touch it at a single point, and zero rows of W, cut nothing; identical
    planes, including the same plane with opposite orientation, give one circle). The
    union of the circles is a planar graph on the sphere: vertices are the pairwise
    intersection points, computed in closed form for all pairs at once and merged when
    closer than POINT_TOL or than their rounding error, or where two touching circles
    cannot be told apart (so three or more circles through one point give one vertex, and
    a tangency gives one; see :func:`_vertex_graph`); the edges are the arcs between
    consecutive vertices on each circle, so a circle through k distinct vertices adds k
    edges; a circle that meets no other is a loop (one dummy vertex, one edge). With C
    the number of connected components of the union of circles (found from the
    circle-vertex incidences), Euler's formula for a planar graph gives the number of
    faces ``F = 1 + C - V + E``. Nested, disjoint and parallel circles need no special
    case: they are separate components.
    Examples: no circle 1, one circle 2, n great circles in general position n(n-1)+2.
    """
    W, b = _layer(W, b)
    return circle_arrangement(W, b).n_regions


# Poles for the auxiliary great circles that join separate components (any generic
# directions do; two in case a circle's axis is parallel to the first).
_POLES = (np.array([0.28630, 0.51240, 0.80930]), np.array([-0.71080, 0.16020, 0.68490]))
# Rotation system (see _rotation_system): the half-edges leaving a vertex are ordered by
# where they cross a small sphere-circle around it, at chord C (halfway to the nearest
# neighbouring cluster, at most _EXIT_MAX unless the cluster is larger); a circle whose
# nearest point is within _ON_VERTEX_TOL (rounding level, far below SEP_TOL) of the
# vertex is taken to pass through it exactly.
_EXIT_MAX = 1e-2
_ON_VERTEX_TOL = 2e-15
# Point location: a ray hit closer than this to a vertex (or than twice the vertex's
# cluster radius), or closer than SEP_TOL to another circle, is retried.
_LOCATE_TOL = 1e-8


def _rotation_system(u, h, bases, vertices, radius, circle, vertex, theta, counts, nxt) -> np.ndarray:
    """The half-edges (2E,) grouped by origin vertex and, within each vertex, sorted
    counter-clockwise seen from outside the sphere (half-edge 2e runs forward, i.e.
    counter-clockwise about its circle's normal, from vertex[e]; 2e + 1 runs back from
    vertex[nxt[e]]).

    A vertex is a cluster of intersection points (see :func:`_vertex_graph`), so its
    circles need not pass through one point: a circle crossing two circles that touch
    close by meets them ~1e-10 apart, and the touching circles, which never cross, leave
    the merged vertex in directions ~1e-5 apart in the order of a crossing. Tangent
    directions at the vertex are not the order of the merged graph; the order in which the
    half-edges cross a small circle around the vertex is (it is what remains when the
    cluster is shrunk to a point) and needs no tie rule for tangent circles (they separate
    at second order). The small circle has chord radius C: halfway across the gap between
    the vertex's cluster (its radius r) and the nearest neighbouring cluster along its
    circles (so each half-edge crosses it once, outside the cluster and before its next
    vertex, and no two meet inside it but in the cluster), but no more than
    max(_EXIT_MAX, 2 r); _vertex_graph keeps clusters 3 radius sums apart, so C >= 2 r.

    Each crossing is found in closed form along the half-edge's own circle from its point
    P nearest the vertex v: with o = P - v (orthogonal to the circle there), a = o . r
    (r the circle's radial unit vector at P) and rho its radius, the point at angle phi
    from P is at |o|^2 + 4 rho (rho - a) sin^2(phi / 2) = C^2 from v. The offset from v is
    built without cancellation, so circles through v itself (|o| <= _ON_VERTEX_TOL) are
    ordered exactly even when C is tiny: tangent circles by their curvature."""
    E = len(theta)
    rho = np.sqrt(np.maximum(0.0, 1.0 - h * h))
    v, w = vertex, vertex[nxt]
    chord = np.where(counts[circle] > 1, np.linalg.norm(vertices[v] - vertices[w], axis=1), 2.0 * rho[circle])
    gap = chord - radius[v] - np.where(counts[circle] > 1, radius[w], radius[v])  # between the clusters
    reach = np.full(len(vertices), np.inf)
    np.minimum.at(reach, v, gap)
    np.minimum.at(reach, w, gap)
    hc = np.repeat(circle, 2)
    origin = np.empty(2 * E, dtype=np.int64)
    origin[0::2], origin[1::2] = v, w
    start = np.empty(2 * E)
    start[0::2], start[1::2] = theta, theta[nxt]  # the origin's angle on the circle
    forward = np.ones(2 * E)
    forward[1::2] = -1.0
    e1, e2 = bases[hc, 0], bases[hc, 1]
    c, s = np.cos(start)[:, None], np.sin(start)[:, None]
    radial = c * e1 + s * e2
    along = c * e2 - s * e1  # u x radial: counter-clockwise about u
    r = rho[hc]
    offset = h[hc, None] * u[hc] + r[:, None] * radial - vertices[origin]
    o2 = np.einsum("ij,ij->i", offset, offset)
    exact = o2 <= _ON_VERTEX_TOL ** 2
    offset[exact], o2[exact] = 0.0, 0.0
    a = np.einsum("ij,ij->i", offset, radial)
    C = np.minimum(radius + 0.5 * reach, np.maximum(_EXIT_MAX, 2.0 * radius))[origin]
    half = np.sqrt(np.clip((C * C - o2) / np.maximum(4.0 * r * (r - a), 1e-300), 0.0, 1.0))  # sin(phi / 2)
    step = offset + r[:, None] * ((-2.0 * half * half)[:, None] * radial
                                  + (forward * 2.0 * half * np.sqrt(1.0 - half * half))[:, None] * along)
    frame = _plane_basis(vertices)[origin]  # (f1, f2), f1 x f2 = vertex: counter-clockwise seen from outside
    azimuth = np.arctan2(np.einsum("ij,ij->i", step, frame[:, 1]), np.einsum("ij,ij->i", step, frame[:, 0]))
    return np.lexsort((azimuth, origin))


@dataclass(frozen=True)
class SphereRegions:
    """The faces of the arrangement of boundary circles on S2, traced exactly, with point
    location: :meth:`locate` gives every point the id (0..n_regions-1) of the connected
    region that contains it. Build with :func:`sphere_regions`."""

    n_regions: int
    euler_count: int
    normals: np.ndarray = field(repr=False)  # (m, 3) circles used for tracing (incl. auxiliary)
    offsets: np.ndarray = field(repr=False)
    bases: np.ndarray = field(repr=False)  # (m, 2, 3)
    circle_start: np.ndarray = field(repr=False)  # (m + 1,) offsets into the per-circle vertex lists
    vertex_angle: np.ndarray = field(repr=False)  # sorted vertex angles on each circle, concatenated
    half_edge_face: np.ndarray = field(repr=False)  # (2E,) region of the face left of each half-edge
    vertices: np.ndarray = field(default=None, repr=False)  # (V, 3) the vertices of the traced graph
    vertex_fuzz: np.ndarray = field(default=None, repr=False)  # like vertex_angle: how far from the vertex
    # its merged intersection points lie (the graph is only a picture of the circles beyond that)

    def locate(self, points) -> np.ndarray:
        """Region id of each point (m, 3) on S2 (normalised here). A point on a boundary
        gets a region on one side of it."""
        X = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        labels = np.full(len(X), -1, dtype=np.int64)
        if len(self.normals) == 0 or len(X) == 0:
            labels[:] = 0
            return labels
        todo = np.arange(len(X))
        votes = []
        # Shoot a great-circle ray from each point; the first circle it meets bounds the
        # point's face. Aim at the axis of circle 0, 1, ... (a ray towards a circle's axis
        # meets that circle); retry the few points whose first hit is (nearly) a vertex or
        # another circle, last straight away from the nearest vertex (a point in the cusp
        # of two tangent circles sees them run within float noise of each other near the
        # touching point, in most directions). A point no ray sees clearly (within ~1e-8
        # of a vertex) takes the most common answer.
        for attempt in range(12):
            if not len(todo):
                break
            if attempt < 8:
                target = self.normals[attempt % len(self.normals)] + 0.37 * (attempt // len(self.normals))
            elif attempt < 11 and self.vertices is not None and len(self.vertices):
                from scipy.spatial import cKDTree

                away = X[todo] - self.vertices[cKDTree(self.vertices).query(X[todo])[1]]
                away /= np.maximum(np.linalg.norm(away, axis=1, keepdims=True), 1e-300)
                turn = (attempt - 9) * 0.5  # straight away, then 0.5 rad to either side
                target = X[todo] + math.cos(turn) * away + math.sin(turn) * np.cross(X[todo], away)
            else:
                target = np.array([0.6, -0.3, 0.74])
            got, score = self._shoot(X[todo], target)
            clear = score >= 1.0
            labels[todo[clear]] = got[clear]
            votes.append((todo[~clear], got[~clear]))
            todo = todo[~clear]
        if len(todo):  # pragma: no cover - needs a point within ~1e-8 of a vertex or of two circles
            who = np.concatenate([w for w, _ in votes])
            what = np.concatenate([g for _, g in votes])
            keep = np.isin(who, todo)
            pairs, count = np.unique(np.stack([who[keep], what[keep]], axis=1), axis=0, return_counts=True)
            order = np.lexsort((-count, pairs[:, 0]))  # by point, most votes first
            pairs = pairs[order]
            first = np.concatenate([[True], pairs[1:, 0] != pairs[:-1, 0]])
            labels[pairs[first, 0]] = pairs[first, 1]
        return labels

    def _shoot(self, X, target):
        """Face ids of the points X along rays towards target, and how clear each hit is
        (at least 1: clear of the vertices by _LOCATE_TOL and their fuzz, and of the other
        circles by SEP_TOL)."""
        u, h = self.normals, self.offsets
        target = np.broadcast_to(target, X.shape)
        t = target - np.einsum("ij,ij->i", X, target)[:, None] * X
        norm = np.linalg.norm(t, axis=1)
        bad = norm < 1e-6
        t[bad] = np.cross(X[bad], [0.6, -0.3, 0.74])
        t /= np.linalg.norm(t, axis=1, keepdims=True)
        alpha, beta = X @ u.T, t @ u.T  # along the ray y(s) = cos s x + sin s t: alpha cos s + beta sin s = h
        R = np.hypot(alpha, beta)
        phi = np.arctan2(beta, alpha)
        reach = R >= np.abs(h) * (1.0 - 1e-12)
        delta = np.arccos(np.clip(h / np.where(reach, R, 1.0), -1.0, 1.0))
        s = np.stack([np.mod(phi - delta, TAU), np.mod(phi + delta, TAU)])
        s[:, ~reach] = np.inf
        s[s <= 1e-12] = np.inf
        s = s.min(axis=0)
        k = np.argmin(s, axis=1)
        s_hit = s[np.arange(len(X)), k]
        s_fin = np.where(np.isfinite(s_hit), s_hit, 0.0)
        y = np.cos(s_fin)[:, None] * X + np.sin(s_fin)[:, None] * t
        centre = h[k, None] * u[k]
        rel = y - centre
        theta = np.mod(np.arctan2(np.einsum("ij,ij->i", rel, self.bases[k, 1]),
                                  np.einsum("ij,ij->i", rel, self.bases[k, 0])), TAU)
        start, count = self.circle_start[k], np.diff(self.circle_start)[k]
        # edge j of circle k runs from its vertex j to vertex j + 1 (angles sorted); one
        # global search over keys circle * 8 + angle (angles < 2 pi < 8)
        keys = np.repeat(np.arange(len(u)), np.diff(self.circle_start)) * 8.0 + self.vertex_angle
        j = np.searchsorted(keys, k * 8.0 + theta, side="right") - 1 - start
        local = np.mod(j, count)
        after = np.mod(local + 1, count)
        radius = np.sqrt(np.maximum(0.0, 1.0 - h[k] ** 2))
        fuzz = (np.zeros((2, len(X))) if self.vertex_fuzz is None
                else np.stack([self.vertex_fuzz[start + local], self.vertex_fuzz[start + after]]))
        score = np.minimum(
            np.abs((theta - self.vertex_angle[start + local] + np.pi) % TAU - np.pi) * radius
            / np.maximum(_LOCATE_TOL, fuzz[0]),
            np.abs((theta - self.vertex_angle[start + after] + np.pi) % TAU - np.pi) * radius
            / np.maximum(_LOCATE_TOL, fuzz[1]))
        # The hit decides the face only if it is clear of every other circle (by SEP_TOL)
        # and the ray crossed none of them on the way: near a tangency two circles stay
        # within float noise of each other for ~1e-8 along, so which one the ray meets
        # first there is noise even where no vertex is close.
        rows = np.flatnonzero(np.isfinite(s_hit))
        at_hit = (np.cos(s_hit[rows])[:, None] * alpha[rows] + np.sin(s_hit[rows])[:, None] * beta[rows]) - h
        at_start = alpha[rows] - h
        own = (np.arange(len(rows)), k[rows])
        crossed = (np.abs(at_start) > SEP_TOL) & ((at_hit > 0) != (at_start > 0))
        crossed[own] = False
        crossed = crossed.any(axis=1)
        np.abs(at_hit, out=at_hit)
        at_hit[own] = np.inf
        clearance = at_hit.min(axis=1, initial=np.inf) / SEP_TOL
        score[rows] = np.where(crossed, 0.0, np.minimum(score[rows], clearance))
        score[~np.isfinite(s_hit)] = -1.0
        edge = start + local
        inside = np.einsum("ij,ij->i", X, u[k]) > h[k]  # the cap side is left of the forward half-edge
        half_edge = 2 * edge + np.where(inside, 0, 1)
        half_edge[~np.isfinite(s_hit)] = 0
        return self.half_edge_face[half_edge], score


def sphere_regions(W, b) -> SphereRegions:
    """Trace the faces of the arrangement of boundary circles of ``W x + b`` (W: (n, 3))
    on S2 exactly, for point location (:meth:`SphereRegions.locate`).

    Method: the circles (distinct, as in :func:`sphere_region_count`) and their vertices
    form a planar graph; if it has several components, one auxiliary great circle per
    component through a fixed pole and that component's first circle's axis joins them
    into one (the auxiliary edges are "transparent": the faces on their two sides are
    merged afterwards). Every circle is cut at its vertices (sorted by angle) into edges,
    each edge gives two half-edges (counter-clockwise about the circle's normal, with the
    cap ``u.x > h`` on its left, and back). Around each vertex the outgoing half-edges are
    sorted counter-clockwise by where they cross a small circle around the vertex (see
    :func:`_rotation_system`: this is right for merged vertices, where the circles need
    not pass through one point, and for tangent circles); the next half-edge around a face
    is the one just clockwise of the twin. The cycles of that permutation are the faces.
    The graph is the very one Euler's formula counts (:func:`_vertex_graph`; the auxiliary
    circles are added without merging anything of it), and the number of faces is checked
    against it (``euler_count``); on a mismatch a warning is given."""
    W, b = _layer(W, b)
    arrangement = circle_arrangement(W, b)
    circles = arrangement.circles
    u = circles.normal[arrangement.distinct]
    h = circles.offset[arrangement.distinct]
    m = len(u)
    transparent = np.zeros(m, dtype=bool)
    if arrangement.n_components > 1:
        _, comp = _components(m + len(arrangement.vertices), arrangement.incidence[:, 0],
                              m + arrangement.incidence[:, 1])
        reps = np.unique(comp[:m], return_index=True)[1]
        pole = _POLES[0] if np.all(np.linalg.norm(np.cross(u[reps], _POLES[0]), axis=1) > 1e-3) else _POLES[1]
        aux = np.cross(pole, u[reps])
        aux /= np.linalg.norm(aux, axis=1, keepdims=True)
        u = np.vstack([u, aux])
        h = np.concatenate([h, np.zeros(len(aux))])
        transparent = np.concatenate([transparent, np.ones(len(aux), dtype=bool)])
        # an auxiliary circle may coincide with another circle: keep the first
        cross = np.cross(u[:, None, :], u[None, :, :])
        sign = np.where(u @ u.T >= 0.0, 1.0, -1.0)
        same = ((np.einsum("ijk,ijk->ij", cross, cross) <= PARALLEL_TOL)
                & (np.abs(h[:, None] - sign * h[None, :]) <= SAME_OFFSET_TOL))
        keep = np.argmax(same, axis=1) == np.arange(len(u))
        u, h, transparent = u[keep], h[keep], transparent[keep]
        m = len(u)
    bases = _plane_basis(u) if m else np.zeros((0, 2, 3))
    if m == 0:
        return SphereRegions(1, arrangement.n_regions, u, h, bases, np.zeros(1, dtype=np.int64), np.zeros(0),
                             np.zeros(0, dtype=np.int64))
    vertices, incidence = arrangement.vertices, arrangement.incidence
    if m > len(arrangement.distinct):
        vertices, incidence = _add_auxiliary(u, h, len(arrangement.distinct), vertices, incidence,
                                             arrangement.vertex_radius)
    if len(incidence) == 0:  # a single circle: add a vertex on it
        vertices = (h[0] * u[0] + math.sqrt(max(0.0, 1 - h[0] ** 2)) * bases[0, 0])[None, :]
        incidence = np.zeros((1, 2), dtype=np.int64)
    vertex_radius = np.zeros(len(vertices))
    vertex_radius[:len(arrangement.vertex_radius)] = arrangement.vertex_radius
    circle, vertex, theta, counts, nxt = _circle_order(u, h, bases, vertices, incidence)
    circle_start = np.concatenate([[0], np.cumsum(counts)])
    # Edge e = incidence position: from vertex[e] to the next vertex on the same circle.
    E = len(circle)
    origin = np.empty(2 * E, dtype=np.int64)
    origin[0::2] = vertex  # forward half-edge 2e leaves vertex[e]
    origin[1::2] = vertex[nxt]  # backward half-edge 2e+1 leaves the next vertex
    hc = np.repeat(circle, 2)
    rotation = _rotation_system(u, h, bases, vertices, vertex_radius, circle, vertex, theta, counts, nxt)
    deg = np.bincount(origin, minlength=len(vertices))
    vstart = np.concatenate([[0], np.cumsum(deg)])
    slot = np.empty(2 * E, dtype=np.int64)
    slot[rotation] = np.arange(2 * E)
    twin = np.arange(2 * E) ^ 1
    dest = origin[twin]
    tw_slot = slot[twin] - vstart[dest]
    next_half = rotation[vstart[dest] + np.mod(tw_slot - 1, deg[dest])]
    n_cycles, cycle = _components(2 * E, np.arange(2 * E), next_half)
    # Merge the faces on the two sides of auxiliary (transparent) edges.
    see_through = np.flatnonzero(transparent[hc])
    n_faces, face_of_cycle = _components(n_cycles, cycle[see_through], cycle[twin[see_through]])
    n_faces = int(n_faces)
    if n_faces != arrangement.n_regions:
        import warnings

        warnings.warn(f"traced {n_faces} faces but Euler's formula gives {arrangement.n_regions}: "
                      "the arrangement is numerically degenerate; region labels may be off", RuntimeWarning,
                      stacklevel=2)
    return SphereRegions(n_regions=n_faces, euler_count=arrangement.n_regions, normals=u, offsets=h, bases=bases,
                         circle_start=circle_start, vertex_angle=theta, half_edge_face=face_of_cycle[cycle],
                         vertices=vertices, vertex_fuzz=2.0 * vertex_radius[vertex])


def sphere_region_labels(W, b, points) -> tuple[np.ndarray, np.ndarray]:
    """Spline codes (m, n) of points on S2 and the id of the connected region each point
    lies in (0 .. sphere_region_count - 1), exactly (see :func:`sphere_regions`).

    Points with the same code can get different ids: a thin polytope that pokes out of
    the sphere on two sides has one code (one affine piece) but two regions. For labels
    by code, use ``code_ids(codes)``."""
    W, b = _layer(W, b)
    codes = spline_codes(W, b, points)
    return codes, sphere_regions(W, b).locate(points)


# --------------------------------------------------------------------------- scaling
@dataclass(frozen=True)
class ScalingRegions:
    """How many spline codes the ray k*v (k in (0, k_max]) crosses, with or without
    LayerNorm in front of the layer.

    ``regions`` exact count of distinct codes on (0, k_max]; ``breakpoints`` the sorted
    distinct k where some neuron changes sign; ``k_grid`` and ``regions_vs_k`` the exact
    count on (0, k] at each grid k (for the chart); ``grid_regions`` the distinct codes
    actually seen on the grid (a sampled cross-check, <= regions); ``eps_scale`` for
    LayerNorm with eps > 0, sqrt(d eps) / |v - mean(v)|: below about this k the output
    LayerNorm(k v) is still shrinking towards 0, above it it is constant."""

    layernorm: bool
    k_max: float
    eps: float
    regions: int
    breakpoints: np.ndarray
    k_grid: np.ndarray
    regions_vs_k: np.ndarray
    grid_regions: int
    eps_scale: float = 0.0


def _distinct_sorted(values: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
    values = np.sort(values)
    if len(values) < 2:
        return values
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = np.diff(values) > rtol * np.abs(values[1:])
    return values[keep]


def scaling_regions(W, b, v, k_max: float, layernorm: bool, eps: float = 0.0,
                    n_grid: int = 200) -> ScalingRegions:
    """Regions crossed by k*v for k in (0, k_max], exactly.

    Without LayerNorm the pre-activation ``k (W v) + b`` is linear in k: neuron i changes
    sign once, at k = -b_i / (W v)_i, so the number of distinct codes is one more than the
    number of distinct such k in (0, k_max] (each neuron flips at most once, so codes
    never repeat).

    With LayerNorm the layer sees ``LayerNorm(k v) = sqrt(d) s(k) c / |c|`` with
    c = v - mean(v) and s(k) = k |c| / sqrt(k^2 |c|^2 + d eps). For eps = 0 (the default:
    the LayerNorm sphere) s = 1 for every k > 0, the pre-activation does not depend on k,
    and there is exactly one region. For eps > 0, s rises from 0 to s(k_max) < 1 and
    neuron i flips where s = -b_i / (sqrt(d) (W c/|c|)_i), i.e. at
    k = s sqrt(d eps) / (|c| sqrt(1 - s^2)): only for k up to a few ``eps_scale``
    unless a neuron sits within ~eps of the ray's direction. Both cases are computed from
    these formulas; ``grid_regions`` counts the codes of ``layer_norm(k v, eps)`` (or k v)
    on the grid as a check."""
    W, b = _layer(W, b)
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if v.shape[0] != W.shape[1]:
        raise ValueError(f"v must have length {W.shape[1]}, got {v.shape[0]}")
    k_max = float(k_max)
    if not k_max > 0:
        raise ValueError(f"k_max must be > 0, got {k_max}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    n_grid = max(2, int(n_grid))
    k_grid = np.linspace(k_max / n_grid, k_max, n_grid)
    eps_scale = 0.0
    if not layernorm:
        slope = W @ v
        with np.errstate(divide="ignore", invalid="ignore"):
            k_cross = -b / slope
        valid = (slope != 0) & (k_cross > 0) & (k_cross <= k_max)
        breakpoints = _distinct_sorted(k_cross[valid])
        grid_codes = (k_grid[:, None] * slope[None, :] + b) > 0
    else:
        d = W.shape[1]
        c = _center(v)
        norm_c = float(np.linalg.norm(c))
        if norm_c == 0.0:
            raise ValueError("v - mean(v) is zero: LayerNorm of k v is undefined (v is constant)")
        direction = c / norm_c
        slope = math.sqrt(d) * (W @ direction)  # pre-activation = s(k) * slope + b
        if eps > 0:
            eps_scale = math.sqrt(d * eps) / norm_c
            s_max = k_max * norm_c / math.sqrt(k_max ** 2 * norm_c ** 2 + d * eps)
            with np.errstate(divide="ignore", invalid="ignore"):
                s_cross = -b / slope
            valid = (slope != 0) & (s_cross > 0) & (s_cross <= s_max)
            s = s_cross[valid]
            breakpoints = _distinct_sorted(s * math.sqrt(d * eps) / (norm_c * np.sqrt(1.0 - s * s)))
        else:
            breakpoints = np.zeros(0)  # s(k) = 1 for all k > 0: nothing moves
        grid_codes = preactivations(W, b, layer_norm(k_grid[:, None] * v[None, :], eps)) > 0
    regions_vs_k = 1 + np.searchsorted(breakpoints, k_grid, side="right")
    return ScalingRegions(layernorm=bool(layernorm), k_max=k_max, eps=float(eps), regions=1 + len(breakpoints),
                          breakpoints=breakpoints, k_grid=k_grid, regions_vs_k=regions_vs_k,
                          grid_regions=code_ids(grid_codes)[1], eps_scale=eps_scale)


# --------------------------------------------------------------------------- rotation
@dataclass(frozen=True)
class RotationProbe:
    """An MLP ``act(W x + b) @ w_out`` along the LayerNorm great circle from v towards w.

    ``angles`` (k,) the grid in [0, angle_end]; ``output`` (k,) the MLP output;
    ``slope`` (k,) |d output / d angle| (exact derivative, not finite differences);
    ``crossing_angles`` the exact boundary crossings in (0, angle_end) (from
    :func:`circle_arcs`); ``n_crossings`` their number; ``total_variation`` the integral
    of |d output / d angle| over the path and ``tv_per_radian`` that divided by the path
    length (exact for ReLU: the output is a sinusoid between crossings, evaluated at every
    crossing and turning point; for GELU the sum over a fine grid). ``p``, ``q``,
    ``radius``: the circle is radius (cos a p + sin a q), p along v - mean(v)."""

    angles: np.ndarray
    output: np.ndarray
    slope: np.ndarray
    crossing_angles: np.ndarray
    n_crossings: int
    total_variation: float
    tv_per_radian: float
    angle_end: float
    activation: str
    p: np.ndarray = field(repr=False)
    q: np.ndarray = field(repr=False)
    radius: float = 0.0

    @property
    def doutput(self) -> np.ndarray:
        """Alias of ``slope``: |d output / d angle|."""
        return self.slope


def rotation_plane(v, w) -> tuple[np.ndarray, np.ndarray, float]:
    """``(p, q, angle)``: the LayerNorm plane's great circle through v and w. p is the
    unit vector along v - mean(v); q the unit vector of w - mean(w) orthogonal to p, so
    w - mean(w) points along cos(angle) p + sin(angle) q with angle in (0, pi]."""
    cv = _center(np.asarray(v, dtype=np.float64).reshape(-1))
    cw = _center(np.asarray(w, dtype=np.float64).reshape(-1))
    nv = np.linalg.norm(cv)
    if nv == 0:
        raise ValueError("v - mean(v) is zero: v has no direction on the LayerNorm sphere")
    p = cv / nv
    along = float(cw @ p)
    rest = cw - along * p
    nr = float(np.linalg.norm(rest))
    if nr <= 1e-12 * max(float(np.linalg.norm(cw)), 1e-300):
        raise ValueError("w - mean(w) is parallel to v - mean(v): no unique great circle from v towards w")
    return p, rest / nr, math.atan2(nr, along)


def great_circle(v, w) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Like :func:`rotation_plane`, but defined for every v with a direction: when
    w - mean(w) is parallel to v - mean(v) (or zero) there is no unique great circle from
    v towards w, and ``(p, q, None)`` is returned with q a fixed unit vector of the
    LayerNorm plane orthogonal to p (the Helmert axis least aligned with p, made
    orthogonal), so callers can still draw the great circle through v."""
    try:
        return rotation_plane(v, w)
    except ValueError:
        cv = _center(np.asarray(v, dtype=np.float64).reshape(-1))
        nv = float(np.linalg.norm(cv))
        if nv == 0:
            raise
        p = cv / nv
        basis = layernorm_plane_basis(len(p))
        axis = basis[int(np.argmin(np.abs(basis @ p)))]
        rest = axis - float(axis @ p) * p
        return p, rest / np.linalg.norm(rest), None


def rotation_probe(W, b, w_out, v, w, n_angles: int = 361, activation: str = "relu",
                   full_circle: bool = False) -> RotationProbe:
    """Rotate the LayerNorm image of v towards that of w along their great circle on the
    LayerNorm sphere (radius sqrt(d), eps -> 0) and watch the MLP output
    ``act(W x + b) @ w_out`` (w_out: (n,)).

    ``full_circle`` goes all the way round (angles in [0, 2pi)) instead of stopping at w.
    The output between two crossings is an exact sinusoid for ReLU, so the crossings and
    the total variation are exact there; see :class:`RotationProbe`."""
    _check_activation(activation)
    W, b = _layer(W, b)
    w_out = np.asarray(w_out, dtype=np.float64).reshape(-1)
    if w_out.shape[0] != W.shape[0]:
        raise ValueError(f"w_out must have one entry per neuron ({W.shape[0]}), got {w_out.shape[0]}")
    n_angles = max(2, int(n_angles))
    d = W.shape[1]
    p, q, angle_w = rotation_plane(v, w)
    radius = math.sqrt(d)
    end = TAU if full_circle else angle_w
    angles = np.linspace(0.0, end, n_angles, endpoint=not full_circle)
    crossings = circle_crossings(W, b, p, q, radius)
    A, B, c = crossings.A, crossings.B, crossings.c
    cross = crossings.angles[(crossings.angles > 0.0) & (crossings.angles < end)]

    def pre(a):
        return np.cos(a)[:, None] * A + np.sin(a)[:, None] * B + c

    def dpre(a):
        return -np.sin(a)[:, None] * A + np.cos(a)[:, None] * B

    z = pre(angles)
    output = activate(z, activation) @ w_out
    slope = np.abs((activation_slope(z, activation) * dpre(angles)) @ w_out)
    if activation == "relu":
        # On each piece between crossings y = alpha cos a + beta sin a + gamma, monotone
        # between its turning points atan2(beta, alpha) + k pi.
        bounds = np.concatenate([[0.0], cross, [end]])
        mids = 0.5 * (bounds[:-1] + bounds[1:])
        on = pre(mids) > 0
        alpha, beta = on @ (w_out * A), on @ (w_out * B)
        theta = np.arctan2(beta, alpha)
        first = theta + math.pi * np.ceil((bounds[:-1] - theta) / math.pi)
        turns = (first[:, None] + math.pi * np.arange(3)[None, :])
        inside = (turns > bounds[:-1, None]) & (turns < bounds[1:, None])
        points = np.sort(np.concatenate([bounds, turns[inside]]))
        values = activate(pre(points), "relu") @ w_out
        total = float(np.abs(np.diff(values)).sum())
    else:
        fine = np.linspace(0.0, end, max(4096, 8 * n_angles))
        values = activate(pre(fine), activation) @ w_out
        total = float(np.abs(np.diff(values)).sum())
    return RotationProbe(angles=angles, output=output, slope=slope, crossing_angles=cross,
                         n_crossings=int(len(cross)), total_variation=total,
                         tv_per_radian=total / end if end > 0 else 0.0, angle_end=float(end),
                         activation=activation, p=p, q=q, radius=radius)

"""A layer on a circle ``center + r (cos a p + sin a q)``: each neuron is
``A cos a + B sin a + c`` there, so its zero crossings, the arcs between them and the
spline code on each arc are closed form (:func:`circle_arcs`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..geometry import layernorm_plane_basis
from .layer import TAU, as_layer
from .tolerances import ANGLE_ATOL, GAP_ULPS, TANGENT_ANGLE, ZERO_RTOL


@dataclass(frozen=True)
class CircleCrossings:
    """Where a layer's neurons cross zero on a circle, in compact form.

    ``angles`` (m,) sorted in [0, 2pi): the boundaries. Each crossing neuron j is on
    (pre-activation > 0) exactly on the arcs from boundary ``on_start[j]`` up to (not
    including) boundary ``on_end[j]``, cyclically; ``start_code`` (n,) is the code on the
    arc that ends at angles[0] (the wrap-around arc), and ``crossing`` marks the neurons
    that change sign at all. :meth:`codes` expands this to the dense (m, n) bool array.
    Also kept: the closed form ``A cos a + B sin a + c`` of every neuron.

    How exact the count of boundaries is: ``unresolved`` marks the neurons within float64
    rounding of touching the circle (R - |c| within rounding of 0, see
    tolerances.GAP_ULPS): whether they cross, in an arc narrower than ~1e-7 rad, cannot be
    decided; they give no boundary. ``merged`` counts crossings that share their boundary
    with another neuron's crossing, closer than ANGLE_ATOL (exactly coincident ones, e.g. a
    duplicated neuron, or distinct ones the tolerance merges). Both 0: every boundary and
    arc is there, and no two are closer than ANGLE_ATOL."""

    angles: np.ndarray
    start_code: np.ndarray
    crossing: np.ndarray
    on_start: np.ndarray
    on_end: np.ndarray
    A: np.ndarray = field(repr=False)
    B: np.ndarray = field(repr=False)
    c: np.ndarray = field(repr=False)
    unresolved: np.ndarray = field(default=None, repr=False)
    merged: int = 0

    @property
    def n_unresolved(self) -> int:
        return 0 if self.unresolved is None else int(self.unresolved.sum())

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
    W, b = as_layer(W, b)
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
    W, b = as_layer(W, b)
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
        size = row_size(W[suspects], b[suspects], radius, center_norm)
        zero[suspects] = scale[suspects] <= ZERO_RTOL * size
    # Tangency in angle: the narrower arc's half-width arccos(|c| / R), computed without
    # cancellation as atan2(sqrt((R - |c|)(R + |c|)), |c|). A gap R - |c| within the rounding
    # error of R and c (dot products of d terms) cannot be told from 0 in float64; as for
    # zero, only gaps under the Frobenius bound need their own row's size.
    gap = R - abs_c
    ulps = (W.shape[1] + 4) * GAP_ULPS
    unresolved = np.zeros(len(c), dtype=bool)
    suspects = np.flatnonzero(np.abs(gap) <= ulps * bound)
    if len(suspects):
        unresolved[suspects] = np.abs(gap[suspects]) <= ulps * row_size(W[suspects], b[suspects], radius, center_norm)
    unresolved &= ~zero
    narrow = np.arctan2(np.sqrt(np.maximum(gap, 0.0) * (R + abs_c)), abs_c)
    crossing = (narrow > TANGENT_ANGLE) & ~unresolved & ~zero
    start_code = (c > 0.0) & ~zero & ~crossing
    n = len(c)
    on_start = np.full(n, -1, dtype=np.int64)
    on_end = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(crossing)
    if len(idx) == 0:
        empty = np.zeros(0)
        return CircleCrossings(empty, start_code, crossing, on_start, on_end, A, B, c, unresolved, 0)
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
    slivers = int(same.sum())  # (their arcs are real features the tolerance merges away)
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
    merged = 2 * len(idx) - len(angles) + 2 * slivers  # crossings that share a boundary with another one
    return CircleCrossings(angles, start_code, crossing, on_start, on_end, A, B, c, unresolved, int(merged))


def row_size(W: np.ndarray, b: np.ndarray, radius: float, center_norm: float) -> np.ndarray:
    """Each neuron's input size on the circle, (radius + |center|) |w| + |b|: the scale of
    the rounding errors of its A, B and c."""
    return (radius + center_norm) * np.linalg.norm(W, axis=1) + np.abs(b)


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
    circle (their narrower arc, of half-width arccos(|c| / R), at most TANGENT_ANGLE),
    constant on it, or identically zero (within ZERO_RTOL of their input size) give no
    boundary; a zero neuron is off. A neuron whose R - |c| is within float64 rounding of 0
    gives none either, and :func:`circle_crossings` reports it as unresolved. Crossings of
    different neurons within ANGLE_ATOL merge into one boundary whose code change flips
    all of them (:attr:`CircleCrossings.merged` counts them). Codes are a cumulative XOR of the flip events (see
    :meth:`CircleCrossings.codes`)."""
    crossings = circle_crossings(W, b, p, q, radius, center)
    return crossings.angles, crossings.codes()


def arc_bounds(angles) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` of the arcs :func:`circle_arcs` returns (row i of ``codes`` runs
    from starts[i] to ends[i]; the last one wraps past 2pi, so ends[-1] > 2pi); for no
    boundaries, the whole circle [0, 2pi]."""
    angles = np.asarray(angles, dtype=np.float64)
    if len(angles) == 0:
        return np.zeros(1), np.full(1, TAU)
    return angles, np.append(angles[1:], angles[0] + TAU)


def layernorm_circle(d: int = 3) -> tuple[np.ndarray, np.ndarray, float]:
    """``(p, q, radius)`` of the circle LayerNorm (eps -> 0) maps R^3 onto: the plane
    orthogonal to (1, 1, 1) with the Helmert basis, radius sqrt(3). For d > 3 the same
    gives a great circle of the LayerNorm sphere through its first two basis axes."""
    basis = layernorm_plane_basis(d)
    return basis[0].copy(), basis[1].copy(), math.sqrt(d)


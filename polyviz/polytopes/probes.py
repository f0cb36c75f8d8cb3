"""Probes along one path in input space, in closed form: scaling a direction k*v with
and without LayerNorm (:func:`scaling_regions`), and rotating LayerNorm(v) towards
LayerNorm(w) along their great circle while watching an MLP's output
(:func:`rotation_probe`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..geometry import center, layernorm_plane_basis
from .circle import circle_crossings
from .layer import TAU, activate, activation_slope, as_layer, check_activation
from .tolerances import BREAKPOINT_RTOL, SAME_DIRECTION_RTOL


@dataclass(frozen=True)
class ScalingRegions:
    """How many spline codes the ray k*v (k in (0, k_max]) crosses, with or without
    LayerNorm in front of the layer.

    ``regions`` exact count of distinct codes on (0, k_max]; ``breakpoints`` the sorted
    distinct k where some neuron changes sign (the count on (0, k] is one more than the
    breakpoints up to k); ``eps_scale`` for
    LayerNorm with eps > 0, sqrt(d eps) / |v - mean(v)|: below about this k the output
    LayerNorm(k v) is still shrinking towards 0, above it it is constant."""

    layernorm: bool
    k_max: float
    eps: float
    regions: int
    breakpoints: np.ndarray
    eps_scale: float = 0.0


def _distinct_sorted(values: np.ndarray, rtol: float = BREAKPOINT_RTOL) -> np.ndarray:
    values = np.sort(values)
    if len(values) < 2:
        return values
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = np.diff(values) > rtol * np.abs(values[1:])
    return values[keep]


def scaling_regions(W, b, v, k_max: float, layernorm: bool, eps: float = 0.0) -> ScalingRegions:
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
    these formulas (the tests check them against dense sampling)."""
    W, b = as_layer(W, b)
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if v.shape[0] != W.shape[1]:
        raise ValueError(f"v must have length {W.shape[1]}, got {v.shape[0]}")
    k_max = float(k_max)
    if not k_max > 0:
        raise ValueError(f"k_max must be > 0, got {k_max}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    eps_scale = 0.0
    if not layernorm:
        slope = W @ v
        with np.errstate(divide="ignore", invalid="ignore"):
            k_cross = -b / slope
        valid = (slope != 0) & (k_cross > 0) & (k_cross <= k_max)
        breakpoints = _distinct_sorted(k_cross[valid])
    else:
        d = W.shape[1]
        c = center(v)
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
    return ScalingRegions(layernorm=bool(layernorm), k_max=k_max, eps=float(eps), regions=1 + len(breakpoints),
                          breakpoints=breakpoints, eps_scale=eps_scale)



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
    ``radius``: the circle is radius (cos a p + sin a q), p along v - mean(v).
    How exact ``n_crossings`` is (see :class:`polyviz.polytopes.CircleCrossings`):
    ``unresolved`` neurons touch the great circle within float64 rounding (whether they
    cross it cannot be decided; they are counted as not crossing) and ``merged`` crossings
    on the path share a boundary with another neuron's (closer than ANGLE_ATOL)."""

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
    unresolved: int = 0
    merged: int = 0


def rotation_plane(v, w) -> tuple[np.ndarray, np.ndarray, float]:
    """``(p, q, angle)``: the LayerNorm plane's great circle through v and w. p is the
    unit vector along v - mean(v); q the unit vector of w - mean(w) orthogonal to p, so
    w - mean(w) points along cos(angle) p + sin(angle) q with angle in (0, pi]."""
    cv = center(np.asarray(v, dtype=np.float64).reshape(-1))
    cw = center(np.asarray(w, dtype=np.float64).reshape(-1))
    nv = np.linalg.norm(cv)
    if nv == 0:
        raise ValueError("v - mean(v) is zero: v has no direction on the LayerNorm sphere")
    p = cv / nv
    along = float(cw @ p)
    rest = cw - along * p
    nr = float(np.linalg.norm(rest))
    if nr <= SAME_DIRECTION_RTOL * max(float(np.linalg.norm(cw)), 1e-300):
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
        cv = center(np.asarray(v, dtype=np.float64).reshape(-1))
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
    check_activation(activation)
    W, b = as_layer(W, b)
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
    on_path = (crossings.angles > 0.0) & (crossings.angles < end)
    cross = crossings.angles[on_path]
    neurons = np.flatnonzero(crossings.crossing)
    events = np.bincount(np.concatenate([crossings.on_start[neurons], crossings.on_end[neurons]]),
                         minlength=len(crossings.angles))
    merged = int((events[on_path] - 1).sum())  # neurons flipping at a boundary, beyond the first

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
                         activation=activation, p=p, q=q, radius=radius, unresolved=crossings.n_unresolved,
                         merged=merged)


"""Stretch and fold: affine maps followed by u_eps, on the circle, the disc and the sphere.

Operations, all of the form u_eps(T_t(x)):

- ``stretch``: T_t(x, y) = (t*x, y). Large |t| pushes points towards the poles (+-1, 0):
  a soft sign, "hot vs cold".
- ``shift``:   T_t(x, y) = (x + t, y). Points left of -t are thrown across: a soft
  absolute value (a fold), "extremes vs typical".
- ``affine``:  T_t(x) = x + t*((A - I) x + c), a straight path from the identity (t=0) to
  the chosen map A x + c (t=1), so the same t slider animates any affine map.

On the sphere (3-D) the map acts on the first two coordinates and leaves z alone.
"""

from __future__ import annotations

import math

import numpy as np

from .geometry import u_eps

OPERATIONS = ("stretch", "shift", "affine")
DISTRIBUTIONS = ("circle", "disc", "grid")
IDENTITY_AFFINE = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def transform(points: np.ndarray, op: str, t: float, affine=IDENTITY_AFFINE) -> np.ndarray:
    """Apply T_t to points of shape (m, 2) or (m, 3); see the module docstring."""
    points = np.asarray(points, dtype=np.float64)
    out = points.copy()
    x, y = points[:, 0], points[:, 1]
    if op == "stretch":
        out[:, 0] = t * x
    elif op == "shift":
        out[:, 0] = x + t
    elif op == "affine":
        a11, a12, a21, a22, b1, b2 = (float(v) for v in affine)
        out[:, 0] = x + t * ((a11 - 1.0) * x + a12 * y + b1)
        out[:, 1] = y + t * (a21 * x + (a22 - 1.0) * y + b2)
    else:
        raise ValueError(f"op must be one of {', '.join(OPERATIONS)}, got {op!r}")
    return out


def apply(points: np.ndarray, op: str, t: float, eps: float, affine=IDENTITY_AFFINE) -> np.ndarray:
    """u_eps(T_t(points)): where each point lands."""
    return u_eps(transform(points, op, t, affine), eps)


def input_points(distribution: str, n: int, seed: int = 0) -> np.ndarray:
    """n points in the plane: evenly spaced on the unit circle, uniform in the unit disc
    (seeded), or a square grid over [-1, 1]^2 (the nearest square count to n)."""
    if distribution == "circle":
        angles = 2.0 * np.pi * np.arange(n) / n
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if distribution == "disc":
        rng = np.random.default_rng(seed)
        radius = np.sqrt(rng.random(n))  # sqrt makes the density uniform in area
        angles = 2.0 * np.pi * rng.random(n)
        return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)
    if distribution == "grid":
        side = max(2, int(round(math.sqrt(n))))
        axis = np.linspace(-1.0, 1.0, side)
        gx, gy = np.meshgrid(axis, axis)
        return np.stack([gx.ravel(), gy.ravel()], axis=1)
    raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}")


def sphere_points(n: int) -> np.ndarray:
    """n nearly uniform points on S2 (a Fibonacci lattice: deterministic, no clumps)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    phi = math.pi * (3.0 - math.sqrt(5.0)) * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def activation_slice(xs: np.ndarray, op: str, t: float, eps: float, affine=IDENTITY_AFFINE, y: float = 0.0):
    """The 1-D activation curve: x-output of u_eps(T_t(x, y)) along the line of height y."""
    line = np.stack([xs, np.full_like(xs, y)], axis=1)
    return apply(line, op, t, eps, affine)[:, 0]


def activation_surface(extent: float, steps: int, eps: float):
    """x-output of u_eps over the input plane: z = x / sqrt(x^2 + y^2 + eps) on a grid."""
    axis = np.linspace(-extent, extent, steps)
    gx, gy = np.meshgrid(axis, axis)
    return axis, gx / np.sqrt(gx * gx + gy * gy + eps)

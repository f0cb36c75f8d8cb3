"""Test-side helpers for checking the exact geometry against sampling (not used by the app)."""

from __future__ import annotations

import math

import numpy as np

TAU = 2 * math.pi


def arc_midpoints(angles) -> np.ndarray:
    """Midpoint angle of each arc returned by ``circle_arcs`` (wrapping), in [0, 2pi);
    for no boundaries, the single point 0."""
    angles = np.asarray(angles, dtype=np.float64)
    if len(angles) == 0:
        return np.zeros(1)
    ends = np.append(angles[1:], angles[0] + TAU)
    return np.mod(0.5 * (angles + ends), TAU)


def arc_index(angles, query) -> np.ndarray:
    """Index of the arc (row of ``circle_arcs``' codes) that contains each query angle."""
    angles = np.asarray(angles, dtype=np.float64)
    query = np.mod(np.asarray(query, dtype=np.float64), TAU)
    if len(angles) == 0:
        return np.zeros(query.shape, dtype=np.int64)
    return np.mod(np.searchsorted(angles, query, side="right") - 1, len(angles))

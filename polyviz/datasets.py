"""Toy binary classification data sets for the toy classifier lab.

Every generator returns ``(X, y)``: ``X`` a float32 array of shape (n, d), ``y`` an int64
array of shape (n,) with labels 0 and 1, balanced (class sizes differ by at most one, class 0
gets the extra point when n is odd), rows shuffled, and the same arrays for the same
arguments on every call.

``noise`` means the same thing everywhere: the standard deviation of Gaussian jitter added
to the coordinates *after* the label is fixed by the clean generator, so noise makes the
classes overlap rather than relabelling points. (For ``moons`` and ``circle`` that is exactly
scikit-learn's own ``noise`` argument.) Coordinates are on a unit scale (radius about 1).

=================  ===  =========================================================  ==========
name               d    construction                                               parameters
=================  ===  =========================================================  ==========
``spiral``         2    two arms r = t, angle 2*pi*turns*t + k*pi, t ~ U(0, 1)     ``turns``
``octant_sphere``  3    uniform on the unit sphere S2; label = number of negative  (none)
                        coordinates mod 2, so adjacent octants differ; jittered
                        points are projected back onto the sphere
``circle``         2    scikit-learn ``make_circles``: class 1 the inner circle    ``factor``
``xor``            2    uniform in [-1, 1]^2 away from the axes by ``padding``;    ``padding``
                        label 1 where x * y > 0 (TensorFlow Playground's XOR)
``gauss``          2    scikit-learn ``make_blobs``: class 0 around (-1, -1),      ``std``
                        class 1 around (1, 1)
``moons``          2    scikit-learn ``make_moons``                                (none)
``digits``         64   scikit-learn's ``load_digits`` (shipped with the package,  (none)
                        1,797 8x8 images of the digits 0-9, 10 classes)
=================  ===  =========================================================  ==========

``digits`` is real data, so it differs: 10 classes (labels 0-9, about 180 images each, not
exactly balanced); ``n`` in [20, 1797] takes a class-stratified subset (all 1,797 by
default in the preset); features are the 64 pixel intensities (0-16) standardised per
pixel over all 1,797 images, (x - mean) / std, with the pixels that are 0 in every image
(std 0) left at 0, so every feature is on a unit scale. The statistics are of the whole
set, test images included: they carry no labels, and a fixed scale keeps a link's data
the same whatever the split. ``noise`` adds Gaussian jitter of that std to the
standardised features.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_POINTS = 200_000
MAX_NOISE = 1.0
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class _Param:
    default: float
    low: float
    high: float
    low_open: bool = False  # True: value must be > low (otherwise >= low)
    high_open: bool = False  # True: value must be < high

    def describe(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"{left}{self.low:g}, {self.high:g}{right}"

    def ok(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


# name -> (input dimension, {parameter: spec})
DATASETS: dict[str, tuple[int, dict[str, _Param]]] = {
    "spiral": (2, {"turns": _Param(0.75, 0.0, 5.0, low_open=True)}),
    "octant_sphere": (3, {}),
    "circle": (2, {"factor": _Param(0.5, 0.0, 1.0, low_open=True, high_open=True)}),
    "xor": (2, {"padding": _Param(0.05, 0.0, 0.5, high_open=True)}),
    "gauss": (2, {"std": _Param(0.5, 0.0, 2.0, low_open=True)}),
    "moons": (2, {}),
    "digits": (64, {}),
}

DATASET_NAMES = tuple(DATASETS)
DATASET_CLASSES: dict[str, int] = {"digits": 10}  # sets with more than two classes
DIGITS_N = 1797  # images in scikit-learn's digits set


def dataset_dim(name: str) -> int:
    """Input dimension d of the named data set."""
    _check_name(name)
    return DATASETS[name][0]


def dataset_classes(name: str) -> int:
    """Number of classes of the named data set (2 for every toy set)."""
    _check_name(name)
    return DATASET_CLASSES.get(name, 2)


def dataset_params(name: str) -> dict[str, float]:
    """The named data set's extra parameters and their defaults."""
    _check_name(name)
    return {key: spec.default for key, spec in DATASETS[name][1].items()}


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise ValueError(f"name must be one of {', '.join(DATASET_NAMES)}; got {name!r}")


def _check_int(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{field} must be an integer in [{low}, {high}], got {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{field} must be in [{low}, {high}], got {value}")
    return int(value)


def _check_float(field: str, value: Any, low: float, high: float) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a number in [{low:g}, {high:g}], got {value!r}") from None
    if not (math.isfinite(out) and low <= out <= high):
        raise ValueError(f"{field} must be in [{low:g}, {high:g}], got {value!r}")
    return out


def validate_dataset_args(name: str, n: int, noise: float, seed: int, params: dict) -> tuple:
    """Check every argument of :func:`make_dataset`; return (n, noise, seed, full params).

    Raises ValueError naming the field and its allowed range.
    """
    _check_name(name)
    n = _check_int("n", n, 20, DIGITS_N) if name == "digits" else _check_int("n", n, 4, MAX_POINTS)
    noise = _check_float("noise", noise, 0.0, MAX_NOISE)
    seed = _check_int("seed", seed, 0, MAX_SEED)
    specs = DATASETS[name][1]
    unknown = sorted(set(params) - set(specs))
    if unknown:
        allowed = ", ".join(specs) if specs else "none"
        raise ValueError(f"unknown parameter(s) {unknown} for {name!r}; allowed: {allowed}")
    full = {}
    for key, spec in specs.items():
        value = params.get(key, spec.default)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be a number in {spec.describe()}, got {value!r}") from None
        if not spec.ok(value):
            raise ValueError(f"{key} must be in {spec.describe()}, got {value!r}")
        full[key] = value
    return n, noise, seed, full


def make_dataset(name: str, n: int, noise: float, seed: int, **params) -> tuple[np.ndarray, np.ndarray]:
    """Generate the named data set: ``X`` float32 (n, d), ``y`` int64 (n,), balanced (digits:
    10 classes, n in [20, 1797], see the module docstring).

    ``n`` in [4, 200000], ``noise`` in [0, 1] (std of the coordinate jitter), ``seed`` in
    [0, 2**32 - 1]; extra parameters per set are listed in :data:`DATASETS` (see the module
    docstring). Invalid arguments raise ValueError naming the field and its range.
    """
    n, noise, seed, params = validate_dataset_args(name, n, noise, seed, params)
    if name == "digits":
        return _digits(n, noise, seed)
    n0 = (n + 1) // 2  # class 0 gets the odd point
    n1 = n - n0
    rng = np.random.default_rng(seed)
    X, y = _GENERATORS[name](n0, n1, noise, seed, rng, **params)
    order = rng.permutation(n)
    return np.ascontiguousarray(X[order], dtype=np.float32), np.ascontiguousarray(y[order], dtype=np.int64)


def _labels(n0: int, n1: int) -> np.ndarray:
    return np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])


def _spiral(n0, n1, noise, seed, rng, turns):
    parts = []
    for k, count in enumerate((n0, n1)):
        t = rng.uniform(0.0, 1.0, count)
        angle = 2.0 * math.pi * turns * t + k * math.pi
        parts.append(np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1))
    X = np.concatenate(parts)
    X = X + noise * rng.standard_normal(X.shape)
    return X, _labels(n0, n1)


# The 8 sign patterns of the octants, split by parity of the number of minus signs.
_SIGNS = np.array([[sx, sy, sz] for sx in (1, -1) for sy in (1, -1) for sz in (1, -1)], dtype=np.float64)
_PARITY = ((_SIGNS < 0).sum(axis=1) % 2).astype(np.int64)


def octant_label(X) -> np.ndarray:
    """Label of points in R^3 by octant: number of negative coordinates mod 2."""
    X = np.asarray(X)
    return ((X < 0).sum(axis=-1) % 2).astype(np.int64)


def _octant_sphere(n0, n1, noise, seed, rng):
    parts = []
    for label, count in enumerate((n0, n1)):
        # Uniform on the positive octant of S2 (|gaussian| normalised), then one of the four
        # sign patterns of this parity: uniform on the union of those four octants.
        g = np.abs(rng.standard_normal((count, 3)))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        patterns = _SIGNS[_PARITY == label]
        parts.append(g * patterns[rng.integers(0, 4, count)])
    X = np.concatenate(parts)
    if noise > 0:
        X = X + noise * rng.standard_normal(X.shape)
        X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    return X, _labels(n0, n1)


def _circle(n0, n1, noise, seed, rng, factor):
    from sklearn.datasets import make_circles

    # make_circles: label 0 is the outer circle (n_samples[0] points), 1 the inner one.
    X, y = make_circles(n_samples=(n0, n1), noise=noise or None, factor=factor, random_state=seed)
    return X, y.astype(np.int64)


def _xor(n0, n1, noise, seed, rng, padding):
    def sample(count, same_sign):
        pts = rng.uniform(padding, 1.0, (count, 2))
        signs = rng.choice([-1.0, 1.0], size=count)
        other = signs if same_sign else -signs
        return pts * np.stack([signs, other], axis=1)

    X = np.concatenate([sample(n0, False), sample(n1, True)])
    X = X + noise * rng.standard_normal(X.shape)
    return X, _labels(n0, n1)


def _gauss(n0, n1, noise, seed, rng, std):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=[n0, n1], centers=[[-1.0, -1.0], [1.0, 1.0]], cluster_std=std, random_state=seed)
    X = X + noise * rng.standard_normal(X.shape)
    return X, y.astype(np.int64)


def _moons(n0, n1, noise, seed, rng):
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=(n0, n1), noise=noise or None, random_state=seed)
    return X, y.astype(np.int64)


@functools.lru_cache(maxsize=1)
def class_sizes(name: str, n: int) -> np.ndarray:
    """How many points of each class ``make_dataset(name, n, ...)`` returns (any seed)."""
    _check_name(name)
    if name != "digits":
        return np.array([(n + 1) // 2, n // 2])
    sizes = np.bincount(standardised_digits()[1], minlength=10)
    share = n * sizes / sizes.sum()
    counts = np.floor(share).astype(int)  # then the largest remainders round up
    counts[np.argsort(counts - share, kind="stable")[: n - counts.sum()]] += 1
    return counts


def standardised_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits, features standardised per pixel (float64 (1797, 64)), labels (1797,).
    Cached: treat the arrays as read-only."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data.astype(np.float64)
    std = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return X, digits.target.astype(np.int64)


def _digits(n: int, noise: float, seed: int):
    X, y = standardised_digits()
    rng = np.random.default_rng([seed, 3])
    if n < len(y):  # a class-stratified subset of exactly n: each class in proportion
        counts = class_sizes("digits", n)
        pick = np.concatenate([rng.permutation(np.flatnonzero(y == label))[: counts[label]] for label in range(10)])
        X, y = X[pick], y[pick]
    order = rng.permutation(len(y))
    X, y = X[order], y[order]
    if noise > 0:  # drawn after the order, so noise jitters the same images in the same order
        X = X + noise * rng.standard_normal(X.shape)
    return np.ascontiguousarray(X, dtype=np.float32), np.ascontiguousarray(y, dtype=np.int64)


_GENERATORS = {
    "spiral": _spiral,
    "octant_sphere": _octant_sphere,
    "circle": _circle,
    "xor": _xor,
    "gauss": _gauss,
    "moons": _moons,
}


def train_test_split(X, y, ratio: float, seed: int):
    """Split into ``(X_train, X_test, y_train, y_test)`` (scikit-learn's order).

    ``ratio`` in (0, 1) is the training fraction. The split is stratified: each class is
    split in the same proportion (rounded), so balanced data gives balanced halves; both
    halves get at least one point of each class. Deterministic for a seed.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"X must be (n, d) and y (n,), got {X.shape} and {y.shape}")
    try:
        ratio = float(ratio)
    except (TypeError, ValueError):
        raise ValueError(f"ratio must be a number in (0, 1), got {ratio!r}") from None
    if not (0.0 < ratio < 1.0):
        raise ValueError(f"ratio must be in (0, 1), got {ratio!r}")
    seed = _check_int("seed", seed, 0, MAX_SEED)
    rng = np.random.default_rng([seed, 7])
    train_idx, test_idx = [], []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        if len(idx) < 2:
            raise ValueError(f"class {label} has {len(idx)} point(s); a split needs at least 2")
        idx = rng.permutation(idx)
        k = min(max(int(round(ratio * len(idx))), 1), len(idx) - 1)
        train_idx.append(idx[:k])
        test_idx.append(idx[k:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]

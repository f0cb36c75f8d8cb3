"""One layer ``z = W x + b`` (W: (n, d), one row per neuron): validation, seeded random
layers, directions in the LayerNorm plane, pre-activations, ReLU/GELU, spline codes, and
the same layer seen from the unit sphere of the LayerNorm plane."""

from __future__ import annotations

import math

import numpy as np

from ..geometry import layernorm_plane_basis

TAU = 2.0 * math.pi
ACTIVATIONS = ("relu", "gelu")


def as_layer(W, b) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` as float64 arrays of shapes (n, d) and (n,), or a ValueError naming the
    mismatch."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (n_neurons, d), got shape {W.shape}")
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if b.shape[0] != W.shape[0]:
        raise ValueError(f"b must have one entry per row of W ({W.shape[0]}), got {b.shape[0]}")
    return W, b


def check_activation(activation: str) -> str:
    """``activation`` if it is one of ACTIVATIONS, else a ValueError listing them."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return activation


def normal_cdf(z):
    """Phi(z), the standard normal CDF: GELU's weight on its linear piece (its soft code)."""
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
    W, b = as_layer(W, b)
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

    ReLU and GELU share these hard codes (for GELU they are ``soft_code(z) > 0.5``)."""
    return preactivations(W, b, X) > 0.0


def soft_code(z, activation: str = "gelu") -> np.ndarray:
    """Probabilistic spline codes in [0, 1] of pre-activations z: Phi(z) for GELU (the
    standard normal CDF, the weight GELU gives its linear piece) and the 0/1 code z > 0
    for ReLU. GELU's soft code is 0.5 exactly where ReLU's code flips."""
    check_activation(activation)
    z = np.asarray(z, dtype=np.float64)
    if activation == "relu":
        return (z > 0.0).astype(np.float64)
    return normal_cdf(z)


def activate(z, activation: str = "relu"):
    """ReLU(z) or GELU(z) = z * Phi(z), elementwise."""
    check_activation(activation)
    z = np.asarray(z, dtype=np.float64)
    if activation == "relu":
        return np.maximum(z, 0.0)
    return z * normal_cdf(z)


def activation_slope(z, activation: str = "relu"):
    """Derivative of the activation: 1[z > 0] for ReLU, Phi(z) + z phi(z) for GELU."""
    check_activation(activation)
    z = np.asarray(z, dtype=np.float64)
    if activation == "relu":
        return (z > 0.0).astype(np.float64)
    return normal_cdf(z) + z * _normal_pdf(z)


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



def layernorm_sphere_layer(W, b) -> tuple[np.ndarray, np.ndarray]:
    """The layer seen from the LayerNorm sphere: for W (n, d), ``(W_eff, b)`` with
    W_eff = sqrt(d) W B^T of shape (n, d - 1) (B the Helmert basis of the plane orthogonal
    to (1, ..., 1)), so that for y on the unit sphere S^(d-2),
    ``W_eff y + b == W x + b`` at ``x = sqrt(d) B^T y``, the LayerNorm image (eps -> 0).
    For d = 4 this gives the (n, 3) layer on S2 that :func:`sphere_region_count` takes."""
    W, b = as_layer(W, b)
    d = W.shape[1]
    return math.sqrt(d) * W @ layernorm_plane_basis(d).T, b.copy()


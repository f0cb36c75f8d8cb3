"""Core geometry of LayerNorm: the u_eps map and the LayerNorm decomposition.

LayerNorm(x) = sqrt(n) * u_{n*eps}(x - mean(x)), then weight and bias, where
u_eps(x) = x / sqrt(|x|^2 + eps). Every function accepts a NumPy array or a torch tensor
and returns the same kind, so notebook users can stay in whichever they started with.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np


def _is_torch(x: Any) -> bool:
    # torch costs ~1 s to import; a tensor can only exist if torch is already imported,
    # so NumPy-only callers (and the app's cold start) never pay for it.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def u_eps(x, eps: float = 1e-5):
    """Return x / sqrt(|x|^2 + eps), the norm taken over the last dimension.

    For eps > 0 the result lies strictly inside the unit ball; as eps -> 0 (or |x| -> inf)
    it tends to x / |x|. In one dimension it is the sigmoid-like curve x / sqrt(x^2 + eps).
    """
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if _is_torch(x):
        return x * ((x * x).sum(dim=-1, keepdim=True) + eps).rsqrt()
    x = np.asarray(x, dtype=np.result_type(x, np.float32))
    return x / np.sqrt(np.sum(x * x, axis=-1, keepdims=True) + eps)


def center(x):
    """Subtract the mean over the last dimension: the projection onto the hyperplane
    orthogonal to (1, ..., 1) that LayerNorm applies before normalising."""
    if _is_torch(x):
        return x - x.mean(dim=-1, keepdim=True)
    x = np.asarray(x)
    return x - x.mean(axis=-1, keepdims=True)


# The projection is the same operation as centring; the name says what it is geometrically.
project_to_layernorm_plane = center


def layer_norm(x, eps: float = 1e-5, weight=None, bias=None):
    """LayerNorm over the last dimension, computed as sqrt(n) * u_{n*eps}(x - mean(x)).

    Agrees with ``torch.nn.functional.layer_norm(x, (n,), weight, bias, eps)``: the
    biased variance is |x - mean|^2 / n, so dividing by sqrt(var + eps) equals multiplying
    u_{n*eps} by sqrt(n).
    """
    n = x.shape[-1]
    y = math.sqrt(n) * u_eps(center(x), n * eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def layernorm_plane_basis(n: int) -> np.ndarray:
    """An orthonormal basis of the hyperplane orthogonal to (1, ..., 1) in R^n, as the
    rows of an (n - 1, n) float64 array.

    Built from Helmert contrasts rather than a QR of random vectors, so it is the same on
    every machine and the first axis has a readable meaning (x_1 - x_2).
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    basis = np.zeros((n - 1, n))
    for k in range(1, n):
        basis[k - 1, :k] = 1.0
        basis[k - 1, k] = -float(k)
        basis[k - 1] /= math.sqrt(k * (k + 1))
    return basis


def layernorm_sphere_radius(n: int) -> float:
    """Radius of the sphere that LayerNorm (eps -> 0, no weight/bias) maps onto: sqrt(n)."""
    return math.sqrt(n)

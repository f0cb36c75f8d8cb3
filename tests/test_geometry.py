"""Mathematical truths of u_eps and the LayerNorm decomposition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as hs
from hypothesis.extra.numpy import arrays

from polyviz.geometry import center, layer_norm, layernorm_plane_basis, u_eps

finite = hs.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@given(arrays(np.float64, hs.tuples(hs.integers(1, 20), hs.integers(1, 8)), elements=finite),
       hs.floats(1e-6, 10.0))
def test_u_eps_is_strictly_inside_the_unit_ball(x, eps):
    norms = np.linalg.norm(u_eps(x, eps), axis=-1)
    assert np.all(norms < 1.0)


@given(arrays(np.float64, (5, 3), elements=hs.floats(-10, 10).filter(lambda v: abs(v) > 1e-3)))
def test_u_eps_is_odd(x):
    np.testing.assert_allclose(u_eps(-x, 0.1), -u_eps(x, 0.1), rtol=1e-12)


def test_u_eps_of_scaled_vector_tends_to_the_direction():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4))
    direction = x / np.linalg.norm(x, axis=-1, keepdims=True)
    errors = [np.abs(u_eps(k * x, 0.01) - direction).max() for k in (1, 10, 100, 1000)]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-6


def test_u_eps_in_one_dimension_is_the_sigmoid_x_over_sqrt():
    xs = np.linspace(-3, 3, 31)[:, None]
    np.testing.assert_allclose(u_eps(xs, 1.0)[:, 0], xs[:, 0] / np.sqrt(xs[:, 0] ** 2 + 1.0))


def test_u_eps_keeps_the_array_kind_and_dtype():
    x = np.ones((2, 3), dtype=np.float32)
    assert isinstance(u_eps(x, 0.1), np.ndarray) and u_eps(x, 0.1).dtype == np.float32
    t = torch.ones(2, 3, dtype=torch.float64)
    out = u_eps(t, 0.1)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), u_eps(t.numpy(), 0.1))


def test_u_eps_rejects_negative_eps():
    with pytest.raises(ValueError, match="eps"):
        u_eps(np.ones(3), -1.0)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("n", [2, 3, 16, 768])
@pytest.mark.parametrize("eps", [1e-5, 1e-2, 1.0])
def test_layer_norm_matches_torch(dtype, tol, n, eps):
    gen = torch.Generator().manual_seed(n)
    x = torch.randn(64, n, generator=gen, dtype=dtype) * 3 + 1
    weight = torch.randn(n, generator=gen, dtype=dtype)
    bias = torch.randn(n, generator=gen, dtype=dtype)
    expected = torch.nn.functional.layer_norm(x, (n,), weight, bias, eps)
    torch.testing.assert_close(layer_norm(x, eps, weight, bias), expected, rtol=tol, atol=tol)
    torch.testing.assert_close(layer_norm(x, eps), torch.nn.functional.layer_norm(x, (n,), eps=eps),
                               rtol=tol, atol=tol)
    # and the NumPy path agrees too
    np.testing.assert_allclose(layer_norm(x.numpy(), eps, weight.numpy(), bias.numpy()), expected.numpy(),
                               rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("n", [2, 3, 4, 10])
def test_plane_basis_is_orthonormal_and_orthogonal_to_ones(n):
    basis = layernorm_plane_basis(n)
    assert basis.shape == (n - 1, n)
    np.testing.assert_allclose(basis @ basis.T, np.eye(n - 1), atol=1e-12)
    np.testing.assert_allclose(basis @ np.ones(n), 0.0, atol=1e-12)


def test_projection_removes_the_mean_and_is_idempotent():
    x = np.random.default_rng(1).normal(size=(10, 5))
    p = center(x)
    np.testing.assert_allclose(p.sum(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(center(p), p, atol=1e-12)
    # centring equals projecting onto the plane spanned by the basis
    basis = layernorm_plane_basis(5)
    np.testing.assert_allclose(p, (x @ basis.T) @ basis, atol=1e-12)


def test_layer_norm_lands_on_the_sphere_of_radius_sqrt_n():
    x = np.random.default_rng(2).normal(size=(100, 7)) * 10
    np.testing.assert_allclose(np.linalg.norm(layer_norm(x, eps=0.0), axis=-1), np.sqrt(7), rtol=1e-12)

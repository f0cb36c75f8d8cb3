"""Toy data sets: right by construction, balanced, deterministic, validated."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from polyviz.datasets import DATASET_NAMES, dataset_classes, dataset_dim, make_dataset, octant_label, train_test_split

# the toy sets are balanced two-class sets; the real digits set is tested on its own below
TOY_DATASETS = tuple(name for name in DATASET_NAMES if dataset_classes(name) == 2)


@pytest.mark.parametrize("name", TOY_DATASETS)
@pytest.mark.parametrize("n", [4, 101, 1000])
def test_shapes_dtypes_balance(name, n):
    X, y = make_dataset(name, n, 0.05, 3)
    assert X.shape == (n, dataset_dim(name)) and X.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    counts = np.bincount(y)
    assert counts[0] - counts[1] in (0, 1)  # class 0 takes the odd point
    assert np.isfinite(X).all()


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_deterministic_for_a_seed(name):
    X1, y1 = make_dataset(name, 300, 0.1, 7)
    X2, y2 = make_dataset(name, 300, 0.1, 7)
    X3, _ = make_dataset(name, 300, 0.1, 8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_rows_are_shuffled():
    _, y = make_dataset("spiral", 1000, 0.0, 0)
    # not all of class 0 first: the generator's class order must not leak into the row order
    assert 0.3 < y[:500].mean() < 0.7


def test_octant_labels_are_parity_of_negative_coordinates():
    X, y = make_dataset("octant_sphere", 4000, 0.0, 1)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-6)
    expected = (X < 0).sum(axis=1) % 2
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(octant_label(X), y)
    # every octant is populated, roughly uniformly
    octant = (X[:, 0] < 0) * 4 + (X[:, 1] < 0) * 2 + (X[:, 2] < 0)
    counts = np.bincount(octant, minlength=8)
    assert counts.min() > 4000 / 8 * 0.8
    # adjacent octants (one coordinate's sign flipped) are in opposite classes
    for axis in range(3):
        flipped = X.copy()
        flipped[:, axis] *= -1
        assert (octant_label(flipped) != y).all()


def test_octant_noise_keeps_points_on_the_sphere():
    X, y = make_dataset("octant_sphere", 2000, 0.2, 2)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    wrong = (octant_label(X) != y).mean()
    assert 0.0 < wrong < 0.3  # noise moves some points across octant boundaries, not most


@pytest.mark.parametrize("turns", [0.5, 0.75, 1.5])
def test_spiral_arms_follow_their_curve(turns):
    X, y = make_dataset("spiral", 2000, 0.0, 4, turns=turns)
    X = X.astype(np.float64)
    r = np.linalg.norm(X, axis=1)
    assert r.max() <= 1.0 + 1e-6
    # arm k: angle = 2*pi*turns*r + k*pi (mod 2*pi)
    expected = 2 * math.pi * turns * r + np.pi * y
    diff = np.angle(np.exp(1j * (np.arctan2(X[:, 1], X[:, 0]) - expected)))
    far = r > 1e-3  # the angle of a point at the origin is meaningless
    assert np.abs(diff[far]).max() < 1e-3


def test_spiral_turns_changes_the_data():
    a, _ = make_dataset("spiral", 200, 0.0, 0, turns=0.75)
    b, _ = make_dataset("spiral", 200, 0.0, 0, turns=1.0)
    assert not np.allclose(a, b)


def test_xor_and_circle_labels():
    X, y = make_dataset("xor", 1000, 0.0, 0, padding=0.1)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(np.int64))
    assert np.abs(X).min() >= 0.1 - 1e-6
    X, y = make_dataset("circle", 1000, 0.0, 0, factor=0.4)
    r = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-5)  # outer circle
    np.testing.assert_allclose(r[y == 1], 0.4, atol=1e-5)  # inner circle


def test_gauss_and_moons_are_separated_without_noise():
    X, y = make_dataset("gauss", 1000, 0.0, 0, std=0.3)
    assert ((X.sum(axis=1) > 0) == (y == 1)).mean() > 0.99
    X, y = make_dataset("moons", 1000, 0.0, 0)
    assert X[y == 0, 1].min() >= -1e-6  # sklearn's upper moon
    assert X[y == 1, 1].max() <= 0.5 + 1e-6


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(name="spirals"), "name must be one of"),
        (dict(n=3), "n must be in [4, 200000]"),
        (dict(n=2.5), "n must be an integer"),
        (dict(noise=1.5), "noise must be in [0, 1]"),
        (dict(noise=float("nan")), "noise must be in [0, 1]"),
        (dict(seed=-1), "seed must be in [0, 4294967295]"),
        (dict(turns=0.0), "turns must be in (0, 5]"),
        (dict(turns="x"), "turns must be a number"),
        (dict(factor=1.0, name="circle"), "factor must be in (0, 1)"),
        (dict(wobble=1.0), "unknown parameter(s) ['wobble'] for 'spiral'; allowed: turns"),
    ],
)
def test_validation_names_the_field_and_range(kwargs, field):
    args = dict(name="spiral", n=100, noise=0.1, seed=0)
    args.update(kwargs)
    name, n, noise, seed = args.pop("name"), args.pop("n"), args.pop("noise"), args.pop("seed")
    with pytest.raises(ValueError) as err:
        make_dataset(name, n, noise, seed, **args)
    assert field in str(err.value)


def test_train_test_split_is_stratified_complete_and_deterministic():
    X, y = make_dataset("moons", 1001, 0.1, 0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, 0.8, 5)
    assert len(Xtr) + len(Xte) == 1001 and len(Xtr) == len(ytr) and len(Xte) == len(yte)
    assert abs(len(Xtr) - 801) <= 1
    for part in (ytr, yte):
        counts = np.bincount(part)
        assert abs(int(counts[0]) - int(counts[1])) <= 1
    rows = {tuple(r) for r in np.concatenate([Xtr, Xte])}
    assert rows == {tuple(r) for r in X}  # a partition
    again = train_test_split(X, y, 0.8, 5)
    np.testing.assert_array_equal(again[0], Xtr)
    other = train_test_split(X, y, 0.8, 6)
    assert not np.array_equal(other[0], Xtr)
    with pytest.raises(ValueError, match=r"ratio must be in \(0, 1\)"):
        train_test_split(X, y, 1.0, 0)


@settings(max_examples=25, deadline=None)
@given(name=hs.sampled_from(TOY_DATASETS), n=hs.integers(4, 400), noise=hs.floats(0.0, 1.0),
       seed=hs.integers(0, 2**32 - 1))
def test_any_valid_arguments_give_balanced_finite_data(name, n, noise, seed):
    X, y = make_dataset(name, n, noise, seed)
    assert X.shape == (n, dataset_dim(name)) and np.isfinite(X).all()
    assert np.bincount(y, minlength=2)[0] - np.bincount(y, minlength=2)[1] in (0, 1)



def test_digits_are_sklearns_images_standardised_per_pixel():
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = make_dataset("digits", 1797, 0.0, 0)
    assert X.shape == (1797, 64) and dataset_dim("digits") == 64 and dataset_classes("digits") == 10
    assert np.bincount(y).tolist() == np.bincount(digits.target).tolist()
    # every row is one of sklearn's images under the documented per-pixel standardisation
    raw = digits.data
    std = raw.std(0)
    expected = (raw - raw.mean(0)) / np.where(std > 0, std, 1)
    key = {tuple(np.round(row, 4)): label for row, label in zip(expected, digits.target)}
    for row, label in zip(X[:200], y[:200]):
        assert key[tuple(np.round(row.astype(np.float64), 4))] == label
    np.testing.assert_allclose(X.mean(0), 0, atol=1e-5)
    live = std > 0
    np.testing.assert_allclose(X.std(0)[live], 1, rtol=1e-4)
    assert (X[:, ~live] == 0).all()
    # a subset is exactly n, stratified, deterministic; noise jitters; n outside the set is refused
    Xs, ys = make_dataset("digits", 333, 0.0, 4)
    share = 333 * np.bincount(digits.target) / 1797
    assert len(ys) == 333 and (np.abs(np.bincount(ys) - share) < 1).all()
    np.testing.assert_array_equal(make_dataset("digits", 333, 0.0, 4)[0], Xs)
    Xn, _ = make_dataset("digits", 1797, 0.1, 0)
    assert 0.05 < float(np.std(Xn - X)) < 0.15
    for n in (19, 1798):
        with pytest.raises(ValueError, match=r"n must be in \[20, 1797\]"):
            make_dataset("digits", n, 0.0, 0)

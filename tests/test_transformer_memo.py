"""The /transformer page's per-process memo is bounded in bytes: however many layers, texts and
probes a worker has served, it holds at most POLYVIZ_TRANSFORMER_MEMO_MB, least recently used
going first, and what it returns is what a fresh computation gives."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from services import transformer as stf


@pytest.fixture
def small_memo(monkeypatch):
    """An empty memo of 10 MB for the test (the worker's own memo is put back afterwards)."""
    monkeypatch.setattr(stf, "_memo", type(stf._memo)())
    monkeypatch.setattr(stf, "_memo_bytes", 0)
    monkeypatch.setattr(stf, "MEMO_BYTES", 10 * 2**20)


def counted(calls: list, key: int, mb: float):
    def compute():
        calls.append(key)
        return {"W": np.full(int(mb * 2**20) // 8, float(key))}
    return compute


def test_the_memo_never_holds_more_than_its_budget_and_drops_the_least_recently_used(small_memo):
    calls = []
    for key in range(8):  # 8 x 3 MB into 10 MB
        stf.memoized("test", (key,), counted(calls, key, 3))
        assert stf.memo_bytes() <= stf.MEMO_BYTES
    assert stf.memo_bytes() == 3 * 3 * 2**20  # the last three
    stf.memoized("test", (5,), counted(calls, 5, 3))  # kept: not computed again, now the most recent
    stf.memoized("test", (8,), counted(calls, 8, 3))  # pushes out 6, the least recently used
    stf.memoized("test", (6,), counted(calls, 6, 3))
    assert calls == [0, 1, 2, 3, 4, 5, 6, 7, 8, 6]
    assert stf.memoized("test", (6,), counted(calls, 6, 3))["W"][0] == 6.0


def test_a_value_larger_than_the_budget_is_computed_every_time_and_never_kept(small_memo):
    calls = []
    for _ in range(2):
        value = stf.memoized("test", ("big",), counted(calls, 1, 12))
        assert value["W"].nbytes == 12 * 2**20
    assert calls == [1, 1] and stf.memo_bytes() == 0


def test_the_bytes_counted_are_the_arrays_inside_tuples_dicts_and_dataclasses():
    from polyviz import transformer as tf

    circle = tf.great_circle(np.arange(4.0), np.array([1.0, 0.0, 2.0, 0.0]))
    fields = [getattr(circle, f.name) for f in dataclasses.fields(circle)]
    inside = sum(v.nbytes for v in fields if isinstance(v, np.ndarray))
    assert inside > 0
    assert stf.array_bytes(({"a": np.zeros(10), "b": [np.zeros(5, np.float32)]}, circle)) == 80 + 20 + inside


def test_every_layer_of_a_real_model_through_a_small_memo_is_what_the_model_computes(small_memo, monkeypatch):
    from polyviz import transformer as tf

    monkeypatch.setattr(stf, "MEMO_BYTES", 30 * 2**20)  # two of MiniLM's 13.5 MB layers
    model = tf.load("minilm")
    for _ in range(2):
        for layer in range(model.n_layers):
            kept = stf.MEMO.weights(model, layer)
            assert stf.memo_bytes() <= stf.MEMO_BYTES
            W, b = model.mlp_in(layer)
            np.testing.assert_array_equal(kept["W"], W)
            np.testing.assert_array_equal(kept["b"], b)


@pytest.mark.parametrize("raw", ["lots", "-1", "5000"])
def test_a_bad_budget_names_the_variable_and_the_allowed_range(monkeypatch, raw):
    monkeypatch.setenv("POLYVIZ_TRANSFORMER_MEMO_MB", raw)
    with pytest.raises(ValueError, match=r"POLYVIZ_TRANSFORMER_MEMO_MB must be .*(0 to 4096|from 0 to 4096)"):
        stf.memo_budget_bytes()
    monkeypatch.setenv("POLYVIZ_TRANSFORMER_MEMO_MB", "1.5")
    assert stf.memo_budget_bytes() == int(1.5 * 2**20)

"""The /transformer page's heavy work, memoized per process by its inputs.

The page's views are composed in the library (polyviz.pages.transformer: ``circle_view`` …
``massive_view``, the same a notebook's ``transformer_figures`` calls); their heavy work goes
through a :class:`polyviz.pages.transformer.Work`, and :data:`MEMO` is the one that remembers it.
The model is loaded once per process (polyviz.transformer.load), so its results are kept
in this process too: a bounded LRU keyed by :func:`services.cache.cache_key` of (what, model,
layer, sha1 of the text, the view's own parameters). Nothing goes to the shared cache:
the values are NumPy arrays, and the shared cache never holds pickled objects of ours.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from polyviz import transformer as tf
from polyviz.pages.transformer import DIMENSION_STEPS, Work
from services.cache import cache_key

MEMO_SIZE = 96
_memo: OrderedDict[str, object] = OrderedDict()
_lock = threading.Lock()


def memoized(namespace: str, parts: tuple, compute):
    """``compute()``, remembered under (namespace, parts) in this process (LRU of MEMO_SIZE)."""
    key = cache_key(namespace, *parts)
    with _lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    value = compute()
    with _lock:
        _memo[key] = value
        while len(_memo) > MEMO_SIZE:
            _memo.popitem(last=False)
    return value


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class Memoized(Work):
    """The library's computations, each remembered by its inputs (:func:`memoized`)."""

    def weights(self, model: tf.Model, layer: int) -> dict:
        return memoized("tf-weights", (model.name, layer), lambda: super(Memoized, self).weights(model, layer))

    def residuals(self, model: tf.Model, text: str):
        return memoized("tf-residuals", (model.name, text_hash(text)),
                        lambda: super(Memoized, self).residuals(model, text))

    def circle(self, model: tf.Model, text: str, layer: int, a: int, b: int):
        return memoized("tf-circle", (model.name, text_hash(text), layer, a, b),
                        lambda: super(Memoized, self).circle(model, text, layer, a, b))

    def rotation(self, model: tf.Model, text: str, layer: int, pairs: int, seed: int, tv_pairs: int):
        return memoized("tf-rotation", (model.name, text_hash(text), layer, pairs, seed, tv_pairs),
                        lambda: super(Memoized, self).rotation(model, text, layer, pairs, seed, tv_pairs))

    def scaling(self, model: tf.Model, text: str, layer: int, kmax: float):
        return memoized("tf-scaling", (model.name, text_hash(text), layer, kmax),
                        lambda: super(Memoized, self).scaling(model, text, layer, kmax))

    def direction(self, model: tf.Model, text: str, layer: int, w_vector: np.ndarray, amax: float):
        digest = hashlib.sha1(np.ascontiguousarray(w_vector, dtype=np.float64).tobytes()).hexdigest()
        return memoized("tf-direction", (model.name, text_hash(text), layer, digest, amax),
                        lambda: super(Memoized, self).direction(model, text, layer, w_vector, amax))

    def dimension_probe(self, model: tf.Model, text: str, layer: int, token: int, dim: int, smax: float,
                        n_s: int = DIMENSION_STEPS):
        return memoized("tf-dimprobe", (model.name, text_hash(text), layer, token, dim, smax, n_s),
                        lambda: super(Memoized, self).dimension_probe(model, text, layer, token, dim, smax, n_s))


MEMO = Memoized()

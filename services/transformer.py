"""The /transformer page's heavy work, memoized per process by its inputs.

The page's views are composed in the library (polyviz.pages.transformer: ``circle_view`` …
``massive_view``, the same a notebook's ``transformer_figures`` calls); their heavy work goes
through a :class:`polyviz.pages.transformer.Work`, and :data:`MEMO` is the one that remembers it.
The model is loaded once per process (polyviz.transformer.load), so its results are kept
in this process too: an LRU bounded in bytes (POLYVIZ_TRANSFORMER_MEMO_MB, default 48), keyed
by :func:`services.cache.cache_key` of (what, model, layer, sha1 of the text, the view's own
parameters). A count bound let one MiniLM layer's weights (13.5 MB in float64) sit six times
over and a worker grow by ~100 MB in 900 slider requests (GPT-2's are 57 MB a layer). Nothing
goes to the shared cache: the values are NumPy arrays, and the shared cache never holds
pickled objects of ours.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from collections import OrderedDict

import numpy as np

from polyviz import transformer as tf
from polyviz.pages.transformer import DIMENSION_STEPS, Work
from services.cache import cache_key



def memo_budget_bytes() -> int:
    """POLYVIZ_TRANSFORMER_MEMO_MB (default 48, 0..4096): the memo's size in this process."""
    raw = os.environ.get("POLYVIZ_TRANSFORMER_MEMO_MB", "48")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"POLYVIZ_TRANSFORMER_MEMO_MB must be a number of megabytes from 0 to 4096, "
                         f"not {raw!r}") from None
    if not 0 <= value <= 4096:
        raise ValueError(f"POLYVIZ_TRANSFORMER_MEMO_MB must be from 0 to 4096, not {value:g}")
    return int(value * 2**20)


MEMO_BYTES = memo_budget_bytes()
_memo: OrderedDict[str, tuple[object, int]] = OrderedDict()  # key -> (value, its bytes)
_memo_bytes = 0
_lock = threading.Lock()


def array_bytes(value) -> int:
    """The bytes of the NumPy arrays in a value (nested in tuples, lists, dicts, dataclasses)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(array_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(array_bytes(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(array_bytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    return 0


def memoized(namespace: str, parts: tuple, compute):
    """``compute()``, remembered under (namespace, parts) in this process: least recently used
    entries go first once the memo holds more than MEMO_BYTES; a value larger than that on its
    own is computed every time and never kept."""
    global _memo_bytes
    key = cache_key(namespace, *parts)
    with _lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key][0]
    value = compute()
    size = array_bytes(value)
    with _lock:
        if size <= MEMO_BYTES and key not in _memo:
            _memo[key] = (value, size)
            _memo_bytes += size
            while _memo_bytes > MEMO_BYTES:
                _memo_bytes -= _memo.popitem(last=False)[1][1]
    return value


def memo_bytes() -> int:
    """What the memo holds now, in bytes."""
    return _memo_bytes


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

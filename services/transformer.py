"""The /transformer page's heavy work, memoized per process by its inputs.

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
from polyviz.figures import transformer as ft
from polyviz.pages import transformer as words
from polyviz.pages.transformer import Resolved
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
# Samples of the soft code and output along the full turn (every 3°): two (angles x d_mlp x
# d_model) products, the main callback's largest cost. Crossings and codes are exact anyway.
PROFILE_ANGLES = 121
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


def weights(model: tf.Model, layer: int) -> dict:
    """The layer's arrays: folded (W, b), raw (W_raw, b_raw) and the second Linear (W2, b2)."""
    def compute():
        W, b = model.mlp_in(layer)
        W_raw, b_raw = model.raw_mlp_in(layer)
        W2, b2 = model.mlp_out(layer)
        return dict(W=W, b=b, W_raw=W_raw, b_raw=b_raw, W2=W2, b2=b2)
    return memoized("tf-weights", (model.name, layer), compute)


def residuals(model: tf.Model, text: str) -> tuple[list[str], np.ndarray]:
    """(tokens, R): every layer's MLP inputs for the text, (n_layers, n_tokens, d_model)."""
    return memoized("tf-residuals", (model.name, text_hash(text)), lambda: model.residuals(text))


def inputs(model: tf.Model, text: str, layer: int) -> np.ndarray:
    return residuals(model, text)[1][layer]


def circle(model: tf.Model, text: str, layer: int, a: int, b: int):
    """(GreatCircle, CircleCrossings, CircleProfile) through tokens a and b."""
    def compute():
        X, w = inputs(model, text, layer), weights(model, layer)
        circ = tf.great_circle(X[a], X[b])
        return (circ, tf.circle_crossings(w["W"], w["b"], circ),
                tf.circle_profile(w["W"], w["b"], w["W2"], w["b2"], circ, PROFILE_ANGLES, model.activation))
    return memoized("tf-circle", (model.name, text_hash(text), layer, a, b), compute)


def rotation(model: tf.Model, text: str, layer: int, pairs: int, seed: int, tv_pairs: int):
    def compute():
        X, w = inputs(model, text, layer), weights(model, layer)
        return tf.rotation_probe(w["W"], w["b"], X, w["W_raw"], w["b_raw"], w["W2"], model.activation,
                                 max_pairs=pairs, seed=seed, tv_pairs=tv_pairs)
    return memoized("tf-rotation", (model.name, text_hash(text), layer, pairs, seed, tv_pairs), compute)


def scaling(model: tf.Model, text: str, layer: int, kmax: float):
    """(with LayerNorm, without) LineCrossings of k·x, k in (0, kmax], one line per token."""
    def compute():
        X, w = inputs(model, text, layer), weights(model, layer)
        return (tf.scaling_crossings(w["W"], w["b"], X, kmax, model.ln_eps),
                tf.scaling_crossings_raw(w["W_raw"], w["b_raw"], X, kmax))
    return memoized("tf-scaling", (model.name, text_hash(text), layer, kmax), compute)


def direction(model: tf.Model, text: str, layer: int, w_vector: np.ndarray, amax: float):
    """LineCrossings of LayerNorm(x + alpha w), alpha in (0, amax], one line per token."""
    def compute():
        X, w = inputs(model, text, layer), weights(model, layer)
        return tf.direction_crossings(w["W"], w["b"], X, w_vector, amax, model.ln_eps)
    digest = hashlib.sha1(np.ascontiguousarray(w_vector, dtype=np.float64).tobytes()).hexdigest()
    return memoized("tf-direction", (model.name, text_hash(text), layer, digest, amax), compute)


def dimension_probe(model: tf.Model, text: str, layer: int, token: int, dim: int, smax: float, n_s: int = 201):
    def compute():
        X, w = inputs(model, text, layer), weights(model, layer)
        return tf.dimension_scale_probe(w["W"], w["b"], X[token], dim, np.linspace(0.0, smax, n_s), model.ln_eps)
    return memoized("tf-dimprobe", (model.name, text_hash(text), layer, token, dim, smax, n_s), compute)


# --- the page's views: (figure spec, words, numbers for download) of a resolved state ------

def _problem_view(resolved: Resolved, height: int = 300):
    text = resolved.problem or "Nothing to show."
    return ft.message_spec(text, height), "", {"problem": text}


def circle_view(resolved: Resolved):
    if not resolved.ok:
        return _problem_view(resolved, 760)
    s, model = resolved.state, resolved.model
    try:
        _, crossings, profile = circle(model, s.text, s.layer, s.a, s.b)
    except ValueError as exc:  # (anti)parallel tokens: no unique great circle
        return ft.message_spec(str(exc), 760), str(exc), {"problem": str(exc)}
    spec = ft.circle_spec(crossings, profile, resolved.tokens, s.a, s.b)
    meta = spec["layout"]["meta"]
    rows = [dict(neuron=int(n), angle=float(x), turns_on=bool(on))
            for n, x, on in zip(crossings.neurons, crossings.angles, crossings.turns_on)]
    return spec, words.circle_words(resolved.tokens, meta), {"summary": meta, "crossings": rows}


def rotation_view(resolved: Resolved):
    if not resolved.ok:
        return _problem_view(resolved, 380)
    s, model = resolved.state, resolved.model
    probe = rotation(model, s.text, s.layer, s.pairs, s.seed, words.TV_PAIRS)
    spec = ft.rotation_spec(probe)
    summary = spec["layout"]["meta"]
    tok = resolved.tokens
    rows = [dict(i=int(i), j=int(j), token_i=tok[i], token_j=tok[j], theta=float(th), crossings=int(c),
                 per_radian=float(p), theta_raw=float(thr), crossings_raw=int(cr), per_radian_raw=float(pr),
                 tv=_num(tv), tv_raw=_num(tvr))
            for (i, j), th, c, p, thr, cr, pr, tv, tvr in zip(
                probe.pairs, probe.theta, probe.crossings, probe.per_radian, probe.theta_raw, probe.crossings_raw,
                probe.per_radian_raw, probe.tv, probe.tv_raw)]
    return spec, words.rotation_words(summary), {"summary": summary, "pairs": rows}


def _num(x):
    return float(x) if np.isfinite(x) else None


def scaling_view(resolved: Resolved):
    if not resolved.ok:
        return _problem_view(resolved, 360)
    s, model = resolved.state, resolved.model
    with_ln, without_ln = scaling(model, s.text, s.layer, s.kmax)
    spec = ft.scaling_spec(with_ln, without_ln, resolved.tokens, s.kmax, words.EPS_REGION_K)
    meta = spec["layout"]["meta"]
    above = with_ln.count_in(words.EPS_REGION_K, s.kmax) if s.kmax > words.EPS_REGION_K else 0 * with_ln.counts
    rows = [dict(token=i, text=t, crossings_with_layernorm=int(c), with_layernorm_k_at_least=int(ab),
                 crossings_without_layernorm=int(r), k_eps=float(ke))
            for i, (t, c, ab, r, ke) in enumerate(zip(resolved.tokens, with_ln.counts, above, without_ln.counts,
                                                      with_ln.extra["k_eps"]))]
    return spec, words.scaling_words(meta, model.ln_eps), {"summary": meta, "tokens": rows}


def direction_view(resolved: Resolved):
    if not resolved.ok:
        return _problem_view(resolved, 360)
    s, model = resolved.state, resolved.model
    X = inputs(model, s.text, s.layer)
    w_vector, w_words, problem = words.direction_vector(s, X, resolved.tokens)
    if problem:
        return ft.message_spec(problem, 360), problem, {"problem": problem}
    lines = direction(model, s.text, s.layer, w_vector, s.amax)
    spec = ft.direction_spec(lines, len(X), s.a, s.amax, resolved.tokens, w_words)
    rows = [dict(token=i, text=t, crossings=int(c),
                 first_alpha=float(lines.t[lines.line == i][0]) if c else None)
            for i, (t, c) in enumerate(zip(resolved.tokens, lines.counts))]
    meta = spec["layout"]["meta"]
    return spec, words.direction_words(meta, resolved.tokens), {"summary": meta, "tokens": rows}


def massive_view(resolved: Resolved):
    """(spec, words, data, table rows) of the massive-activation view."""
    if not resolved.ok:
        return (*_problem_view(resolved, 360), [])
    s, model = resolved.state, resolved.model
    tokens, R = residuals(model, s.text)
    table = []
    for layer in range(model.n_layers):
        for m in tf.massive_dimensions(R[layer], 3):
            table.append(dict(layer=layer, dim=m.dim, value=m.value, token=m.token, token_text=tokens[m.token],
                              current=layer == s.layer))
    X = R[s.layer]
    dim = tf.massive_dimensions(X, 1)[0].dim if s.mdim < 0 else s.mdim
    token = int(np.argmax(np.abs(X[:, dim])))
    probe = dimension_probe(model, s.text, s.layer, token, dim, s.smax)
    spec = ft.massive_spec(probe, tokens, token, dim, float(X[token, dim]), float(np.median(np.abs(X))))
    meta = spec["layout"]["meta"]
    rows = [dict(s=float(a), effective_scale=float(e), relative_to_s1=float(r), neurons_flipped=int(f))
            for a, e, r, f in zip(probe.s, probe.effective_scale, probe.rest_scale, probe.flips)]
    data = {"summary": meta, "largest_dimensions": table, "probe": rows,
            "flip_points": [dict(s=float(a), neuron=int(n)) for a, n in zip(probe.breakpoints, probe.neurons)]}
    return spec, words.massive_words(meta, tokens), data, table


VIEW_FUNCTIONS = {"circle": circle_view, "rotation": rotation_view, "scaling": scaling_view,
                  "direction": direction_view, "massive": lambda r: massive_view(r)[:3]}

"""The "Real transformers" page (/transformer): its state and limits, how a state is resolved
against a loaded model (layer range, the text's token cap, token indices within the text),
and the words that say what each view measured.

No Dash. :func:`resolve` is the one place the model-dependent limits are enforced: the
state's own ranges (polyviz.state) are the widest any model allows; the model then narrows
them (layers 0..n_layers-1, tokens 0..n_tokens-1) with a notice naming the field.

The page's five views (:func:`circle_view` … :func:`massive_view`, all five figures:
:func:`transformer_figures`) are composed here from polyviz.transformer's numbers and
polyviz.figures.transformer's builders. Their heavy work goes through a :class:`Work`:
computed afresh in a notebook, remembered by its inputs on the server
(services.transformer.MEMO), the same numbers either way::

    state, notices = st.from_query(TransformerState, "layer=2&a=1&b=5")
    figures = transformer_figures(resolve(state, notices))
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from urllib.parse import quote_plus

import numpy as np

from polyviz import state as st
from polyviz import transformer as tf
from polyviz.figures import transformer as ft
from polyviz.words import plural

MAX_LAYERS = 96  # no supported checkpoint has more; the model narrows it
MAX_DIM = 8192  # residual width bound for a basis direction; the model narrows it
MAX_TOKENS = tf.MAX_TOKENS
# The text lives in the link. gunicorn refuses request lines over 4,094 bytes, so the text
# must fit in this many bytes once URL-encoded (about 2,500 characters of English; a
# non-ASCII character takes up to 9 bytes of link).
TEXT_MAX_LINK_BYTES = 3000
DEFAULT_A, DEFAULT_B, DEFAULT_WTOK = 2, 17, 12  # "cat", "france", "paris" in the default text
WKINDS = ("token", "groups", "basis")
PICKS = ("a", "b")
GROUP_PATTERN = r"[0-9 ,\-]{0,200}"
GROUP_FORM = "token indices and ranges such as 1-3, 7 (at most 200 characters)"
TEXT_FORM = f"a non-empty text (at most {TEXT_MAX_LINK_BYTES:,} bytes once URL-encoded, {MAX_TOKENS} tokens)"
EPS_REGION_K = 1e-3  # scaling: crossings with LayerNorm below this k are in its epsilon region
TV_PAIRS = 200  # the rotation probe's total variation is computed on this seeded subsample


@dataclass(frozen=True)
class TransformerState:
    model: str = st.text(tf.DEFAULT_MODEL, r"[A-Za-z0-9][A-Za-z0-9._/-]{0,95}", label="model",
                         describe="a model name from the server's list", max_len=96)
    layer: int = st.integer(3, 0, MAX_LAYERS - 1, label="layer")
    text: str = st.text(tf.DEFAULT_TEXT, r"(?s).*\S.*", label="text", describe=TEXT_FORM,
                        max_len=tf.MAX_TEXT_CHARS)
    a: int = st.integer(DEFAULT_A, 0, MAX_TOKENS - 1, label="a")
    b: int = st.integer(DEFAULT_B, 0, MAX_TOKENS - 1, label="b")
    pick: str = st.choice("a", PICKS, label="pick")
    pairs: int = st.integer(10_000, 10, 10_000, label="pairs")
    seed: int = st.integer(0, 0, 2**31 - 1, label="seed")
    kmax: float = st.number(10.0, 0.01, 1000.0, label="kmax")
    wkind: str = st.choice("token", WKINDS, label="wkind")
    wtok: int = st.integer(DEFAULT_WTOK, 0, MAX_TOKENS - 1, label="wtok")
    g1: str = st.text("12, 17", GROUP_PATTERN, label="g1", describe=GROUP_FORM, max_len=200)
    g2: str = st.text("2, 6", GROUP_PATTERN, label="g2", describe=GROUP_FORM, max_len=200)
    wdim: int = st.integer(99, 0, MAX_DIM - 1, label="wdim")
    amax: float = st.number(4.0, 0.1, 100.0, label="amax")
    mdim: int = st.integer(-1, -1, MAX_DIM - 1, label="mdim")
    smax: float = st.number(10.0, 1.0, 1000.0, label="smax")

    def checked(self):
        """Cross-field rule without the model: the text fits in a link."""
        if len(quote_plus(self.text)) <= TEXT_MAX_LINK_BYTES:
            return self, []
        cut = cut_to_link_bytes(self.text, TEXT_MAX_LINK_BYTES)
        return (dataclasses.replace(self, text=cut),
                [f"text is {len(quote_plus(self.text)):,} bytes in a link (allowed: 1 to {TEXT_MAX_LINK_BYTES:,}); "
                 f"using its first {len(cut):,} characters."])


def cut_to_link_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` (ending at a word break when there is one) whose
    URL-encoded form has at most ``limit`` bytes."""
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits
        mid = (lo + hi + 1) // 2
        if len(quote_plus(text[:mid])) <= limit:
            lo = mid
        else:
            hi = mid - 1
    prefix = text[:lo]
    space = prefix.rfind(" ")
    return (prefix[:space] if space > 0 else prefix).strip()


def parse_groups(spec: str, n_tokens: int) -> list[int]:
    """Token indices of a group like "1-3, 7" that lie in 0..n_tokens-1 (sorted, unique)."""
    chosen: set[int] = set()
    for part in re.split(r"[,\s]+", spec.strip()):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            continue
        start, stop = int(lo), int(hi) if sep else int(lo)
        chosen.update(range(max(start, 0), min(stop, n_tokens - 1) + 1))
    return sorted(chosen)


# --- resolving a state against the model ------------------------------------------------

@dataclass
class Resolved:
    """The state as drawn and what the page knows of its model and text. ``problem`` (with
    ``model`` None) when the model cannot be used at all: the page says so in words."""

    state: TransformerState
    notices: list[str]
    model: tf.Model | None = None
    tokens: list[str] = dataclasses.field(default_factory=list)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.model is not None and self.problem is None


def _fit_tokens(model: tf.Model, text: str) -> tuple[str, int]:
    """(text, its token count), cut to its longest word prefix within the model's cap."""
    try:
        return text, len(model.tokenize(text))
    except ValueError:
        pass
    words = text.split(" ")
    lo, hi = 1, len(words)
    while lo < hi:  # the most words that still fit
        mid = (lo + hi + 1) // 2
        try:
            model.tokenize(" ".join(words[:mid]))
            lo = mid
        except ValueError:
            hi = mid - 1
    cut = " ".join(words[:lo])
    return cut, len(model.tokenize(cut))


def _token_index(value: int, n: int, default: int, label: str, notices: list[str]) -> int:
    if value < n:
        return value
    used = min(default, n - 1)
    notices.append(f"{label} = {value} is beyond the text (allowed: 0 to {n - 1}, its {n} tokens); using {used}.")
    return used


def resolve(state: TransformerState, notices: list[str] | None = None) -> Resolved:
    """Load the state's model and narrow the state to it: model on the allow-list, layer in
    0..n_layers-1, the text within the model's token cap, A, B and the w token within the
    text, A != B, the basis direction within d_model. Never raises for user input."""
    notices = list(notices or [])
    allowed = tf.available_models()
    if state.model not in allowed:
        notices.append(f"model = {state.model[:40]!r} is not allowed (one of {', '.join(allowed)}); "
                       f"using {allowed[0]}.")
        state = dataclasses.replace(state, model=allowed[0])
    try:
        model = tf.load(state.model)
    except tf.ModelUnavailable as exc:
        return Resolved(state, notices, problem=f"Model {state.model!r} is configured on this server but cannot "
                                                f"be loaded, so there is nothing to show: {exc}")
    changes: dict = {}
    if state.layer >= model.n_layers:
        changes["layer"] = model.n_layers - 1
        notices.append(f"layer = {state.layer} is out of range (allowed: 0 to {model.n_layers - 1} for "
                       f"{model.name}); using {model.n_layers - 1}.")
    text, n = _fit_tokens(model, state.text)
    if text != state.text:
        changes["text"] = text
        notices.append(f"text has more than {model.max_tokens} tokens for {model.name} (allowed: 1 to "
                       f"{model.max_tokens}, special tokens included); using its first {len(text.split(' ')):,} words "
                       f"({n} tokens).")
    if n < 2:
        return Resolved(dataclasses.replace(state, **changes), notices, model,
                        problem=f"The text has {plural(n, 'token')} for {model.name}; the views need at least 2.")
    a = _token_index(state.a, n, DEFAULT_A, "a", notices)
    b = _token_index(state.b, n, DEFAULT_B, "b", notices)
    if a == b:
        b = (a + 1) % n
        notices.append(f"a and b are the same token ({a}); b must be another of 0 to {n - 1}: using {b}.")
    changes.update(a=a, b=b, wtok=_token_index(state.wtok, n, DEFAULT_WTOK, "wtok", notices))
    if state.wdim >= model.d_model:
        changes["wdim"] = model.d_model - 1
        notices.append(f"wdim = {state.wdim} is out of range (allowed: 0 to {model.d_model - 1}, the residual "
                       f"dimensions of {model.name}); using {model.d_model - 1}.")
    if state.mdim >= model.d_model:
        changes["mdim"] = -1
        notices.append(f"mdim = {state.mdim} is out of range (allowed: -1 for the layer's largest, or 0 to "
                       f"{model.d_model - 1}); using -1.")
    tokens = model.tokenize(text)
    return Resolved(dataclasses.replace(state, **changes), notices, model, tokens)


def token_label(tokens: list[str], i: int) -> str:
    return f"{i}: {tokens[i]!r}" if 0 <= i < len(tokens) else str(i)


# --- words ------------------------------------------------------------------------------

def circle_words(tokens: list[str], meta: dict) -> str:
    """The great-circle view's ``meta`` in words."""
    a, b = token_label(tokens, meta["a"]), token_label(tokens, meta["b"])
    theta = meta["theta_b"]
    return (f"A = {a} and B = {b} are {theta:.3f} rad ({math.degrees(theta):.0f}°) apart on the LayerNorm sphere. "
            f"On the whole great circle through them {meta['crossing_neurons']:,} of {meta['d_mlp']:,} neurons "
            f"change sign (each exactly twice per turn). On the arc from A to B the path crosses "
            f"{plural(meta['arc_crossings'], 'neuron boundary', 'neuron boundaries')} "
            f"({meta['arc_crossings'] / theta:.0f} per radian); A's and B's spline codes differ in "
            f"{plural(meta['hamming_b'], 'neuron')} ({meta['active_a']:,} active at A, {meta['active_b']:,} at B). "
            f"The MLP output's norm is {meta['norm_a']:.3g} at A and {meta['norm_b']:.3g} at B; along the arc it "
            f"changes by about {meta['arc_tv']:.3g} in total ({meta['arc_tv'] / theta:.3g} per radian).")


def _quart(stats: dict | None, digits: str = ".0f") -> str:
    if not stats:
        return "not available"
    return f"{stats['median']:{digits}} (quartiles {stats['q1']:{digits}} to {stats['q3']:{digits}})"


def rotation_words(summary: dict) -> str:
    """The rotation probe's summary in words: the research figures."""
    sample = ("all pairs" if summary["pairs"] == summary["all_pairs"] else
              f"a seeded sample of the {summary['all_pairs']:,} pairs")
    tv = summary.get("tv")
    tv_words = (f" The MLP output's total variation along the path, on a seeded subsample of "
                f"{plural(tv['n'], 'pair')}: median {_quart(tv, '.3g')} with LayerNorm, "
                f"{_quart(summary.get('tv_raw'), '.3g')} without." if tv else "")
    return (f"{plural(summary['pairs'], 'token pair')} ({sample} of the {summary['tokens']} tokens). Rotating one "
            f"token into the other along the LayerNorm great circle crosses a median of "
            f"{_quart(summary['crossings_per_radian'])} neuron boundaries per radian; the straight line between "
            f"the raw residuals, without LayerNorm, crosses {_quart(summary['crossings_per_radian_raw'])} per "
            f"radian (of the angle between the raw vectors).{tv_words}")


def scaling_words(meta: dict, eps: float) -> str:
    """The scaling view's ``meta`` in words."""
    kmax = meta["kmax"]
    top = meta["ln_k_largest"]
    where = (f"every one of them at k below {top:.2g}, where k·|x − mean| is comparable to √(d·eps): LayerNorm's "
             f"epsilon region, in which the vector shrinks towards 0 and each pre-activation tends to its bias"
             if meta["ln_median"] > 0 else "none at all")
    return (f"Scaling each token's residual by k in (0, {kmax:g}]: without LayerNorm the ray k·x crosses a median "
            f"of {meta['raw_median']:.0f} neuron boundaries per token. With LayerNorm (its real eps = {eps:g}) the "
            f"median is {meta['ln_median']:.0f}, {where}. For k from {EPS_REGION_K:g} to {kmax:g}: "
            f"{plural(meta['ln_above_total'], 'crossing')} with LayerNorm over all tokens, "
            f"{meta['raw_above_total']:,} without.")


def direction_words(meta: dict, tokens: list[str]) -> str:
    """The direction view's ``meta`` in words."""
    return (f"Adding α·w to every token's residual, α up to {meta['amax']:g} (w = {meta['w_words']}, scaled so "
            f"that |w − mean| is the text's median |x − mean|): with LayerNorm a token crosses a median of "
            f"{meta['median_end']:.0f} neuron boundaries by α = {meta['amax']:g} (quartiles {meta['q1_end']:.0f} to "
            f"{meta['q3_end']:.0f}); token A = {token_label(tokens, meta['a'])} crosses {meta['a_end']:,}. "
            f"{'The first crossing comes at a median α of ' + format(meta['median_first'], '.2g') + '.' if math.isfinite(meta['median_first']) else 'No token crosses a boundary.'}")


def massive_words(meta: dict, tokens: list[str]) -> str:
    """The massive-activation probe's ``meta`` in words."""
    dim, tok = meta["dim"], token_label(tokens, meta["token"])
    return (f"Dimension {dim} of token {tok} holds {meta['value']:.3g} (the text's median |x_i| is "
            f"{meta['median_abs']:.2g}). Scaling that one component by s from 0 to {meta['smax']:g}: LayerNorm's "
            f"effective scale √d/|x − mean| on the rest of the vector goes from {meta['rest_at_0']:.3g}× (s = 0, "
            f"the dimension removed) to {meta['rest_at_max']:.3g}× (s = {meta['smax']:g}) of its value at s = 1; "
            f"{plural(meta['flips_at_0'], 'MLP neuron')} flip at s = 0 and {meta['flips_at_max']:,} at "
            f"s = {meta['smax']:g} ({plural(meta['breakpoints'], 'exact flip point')} in the range).")


def ln_words(model: tf.Model, layer: int) -> str:
    return f"Layer {layer} of {model.name} ({model.family}, d_model {model.d_model}, {model.d_mlp} MLP neurons, " \
           f"{model.activation}). The LayerNorm feeding this MLP is {model.ln_description(layer)}"


def group_mean_direction(X: np.ndarray, g1: list[int], g2: list[int]) -> np.ndarray:
    return X[g1].mean(axis=0) - X[g2].mean(axis=0)


def direction_vector(state: TransformerState, X: np.ndarray, tokens: list[str]):
    """(w, w in words, problem): the direction the state names, rescaled so that |w − mean|
    is the text's median |x − mean| (so alpha = 1 adds a vector as long as a typical
    token); ``problem`` says why there is none (then w is None)."""
    if state.wkind == "token":
        w, what = X[state.wtok], f"token {token_label(tokens, state.wtok)}"
    elif state.wkind == "groups":
        g1, g2 = parse_groups(state.g1, len(X)), parse_groups(state.g2, len(X))
        if not g1 or not g2:
            return None, "", (f"Group {'1' if not g1 else '2'} names no token of the text (allowed: indices 0 to "
                              f"{len(X) - 1}, e.g. 1-3, 7).")
        w = group_mean_direction(X, g1, g2)
        what = f"mean of tokens {_list(g1)} − mean of tokens {_list(g2)}"
    else:
        w = np.zeros(X.shape[1])
        w[state.wdim] = 1.0
        what = f"residual basis direction e_{state.wdim}"
    c = w - w.mean()
    norm = float(np.linalg.norm(c))
    if norm <= 1e-12 * max(1.0, float(np.abs(w).max())):
        return None, what, f"w = {what} is constant across dimensions: LayerNorm removes it entirely, nothing moves."
    typical = float(np.median(np.linalg.norm(X - X.mean(axis=1, keepdims=True), axis=1)))
    return w * (typical / norm), what, None


def _list(indices: list[int]) -> str:
    shown = ", ".join(str(i) for i in indices[:8])
    return shown + (", …" if len(indices) > 8 else "")


# --- the views --------------------------------------------------------------------------

# Samples of the soft code and output along the full turn (every 3°): two (angles x d_mlp x
# d_model) products, the circle view's largest cost. Crossings and codes are exact anyway.
PROFILE_ANGLES = 121
DIMENSION_STEPS = 201  # values of s in the massive-activation probe


class Work:
    """The views' heavy computations, computed afresh on every call (a notebook).
    services.transformer.Memoized overrides each to remember it by its inputs; every method
    reads its arrays through the others, so what it remembers is shared between views."""

    def weights(self, model: tf.Model, layer: int) -> dict:
        """The layer's arrays: folded (W, b), raw (W_raw, b_raw) and the second Linear (W2, b2)."""
        W, b = model.mlp_in(layer)
        W_raw, b_raw = model.raw_mlp_in(layer)
        W2, b2 = model.mlp_out(layer)
        return dict(W=W, b=b, W_raw=W_raw, b_raw=b_raw, W2=W2, b2=b2)

    def residuals(self, model: tf.Model, text: str) -> tuple[list[str], np.ndarray]:
        """(tokens, R): every layer's MLP inputs for the text, (n_layers, n_tokens, d_model)."""
        return model.residuals(text)

    def inputs(self, model: tf.Model, text: str, layer: int) -> np.ndarray:
        return self.residuals(model, text)[1][layer]

    def circle(self, model: tf.Model, text: str, layer: int, a: int, b: int):
        """(GreatCircle, CircleCrossings, CircleProfile) through tokens a and b."""
        X, w = self.inputs(model, text, layer), self.weights(model, layer)
        circ = tf.great_circle(X[a], X[b])
        return (circ, tf.circle_crossings(w["W"], w["b"], circ),
                tf.circle_profile(w["W"], w["b"], w["W2"], w["b2"], circ, PROFILE_ANGLES, model.activation))

    def rotation(self, model: tf.Model, text: str, layer: int, pairs: int, seed: int, tv_pairs: int):
        X, w = self.inputs(model, text, layer), self.weights(model, layer)
        return tf.rotation_probe(w["W"], w["b"], X, w["W_raw"], w["b_raw"], w["W2"], model.activation,
                                 max_pairs=pairs, seed=seed, tv_pairs=tv_pairs)

    def scaling(self, model: tf.Model, text: str, layer: int, kmax: float):
        """(with LayerNorm, without) LineCrossings of k·x, k in (0, kmax], one line per token."""
        X, w = self.inputs(model, text, layer), self.weights(model, layer)
        return (tf.scaling_crossings(w["W"], w["b"], X, kmax, model.ln_eps),
                tf.scaling_crossings_raw(w["W_raw"], w["b_raw"], X, kmax))

    def direction(self, model: tf.Model, text: str, layer: int, w_vector: np.ndarray, amax: float):
        """LineCrossings of LayerNorm(x + alpha w), alpha in (0, amax], one line per token."""
        X, w = self.inputs(model, text, layer), self.weights(model, layer)
        return tf.direction_crossings(w["W"], w["b"], X, w_vector, amax, model.ln_eps)

    def dimension_probe(self, model: tf.Model, text: str, layer: int, token: int, dim: int, smax: float,
                        n_s: int = DIMENSION_STEPS):
        X, w = self.inputs(model, text, layer), self.weights(model, layer)
        return tf.dimension_scale_probe(w["W"], w["b"], X[token], dim, np.linspace(0.0, smax, n_s), model.ln_eps)


AFRESH = Work()


# Each view of a resolved state: (figure spec, words, numbers for download).

def _problem_view(resolved: Resolved, height: int = 300):
    text = resolved.problem or "Nothing to show."
    return ft.message_spec(text, height), "", {"problem": text}


def circle_view(resolved: Resolved, work: Work = AFRESH):
    if not resolved.ok:
        return _problem_view(resolved, 760)
    s, model = resolved.state, resolved.model
    try:
        _, crossings, profile = work.circle(model, s.text, s.layer, s.a, s.b)
    except ValueError as exc:  # (anti)parallel tokens: no unique great circle
        return ft.message_spec(str(exc), 760), str(exc), {"problem": str(exc)}
    spec = ft.circle_spec(crossings, profile, resolved.tokens, s.a, s.b)
    meta = spec["layout"]["meta"]
    rows = [dict(neuron=int(n), angle=float(x), turns_on=bool(on))
            for n, x, on in zip(crossings.neurons, crossings.angles, crossings.turns_on)]
    return spec, circle_words(resolved.tokens, meta), {"summary": meta, "crossings": rows}


def rotation_view(resolved: Resolved, work: Work = AFRESH):
    if not resolved.ok:
        return _problem_view(resolved, 380)
    s, model = resolved.state, resolved.model
    probe = work.rotation(model, s.text, s.layer, s.pairs, s.seed, TV_PAIRS)
    spec = ft.rotation_spec(probe)
    summary = spec["layout"]["meta"]
    tok = resolved.tokens
    rows = [dict(i=int(i), j=int(j), token_i=tok[i], token_j=tok[j], theta=float(th), crossings=int(c),
                 per_radian=float(p), theta_raw=float(thr), crossings_raw=int(cr), per_radian_raw=float(pr),
                 tv=_num(tv), tv_raw=_num(tvr))
            for (i, j), th, c, p, thr, cr, pr, tv, tvr in zip(
                probe.pairs, probe.theta, probe.crossings, probe.per_radian, probe.theta_raw, probe.crossings_raw,
                probe.per_radian_raw, probe.tv, probe.tv_raw)]
    return spec, rotation_words(summary), {"summary": summary, "pairs": rows}


def _num(x):
    return float(x) if np.isfinite(x) else None


def scaling_view(resolved: Resolved, work: Work = AFRESH):
    if not resolved.ok:
        return _problem_view(resolved, 360)
    s, model = resolved.state, resolved.model
    with_ln, without_ln = work.scaling(model, s.text, s.layer, s.kmax)
    spec = ft.scaling_spec(with_ln, without_ln, resolved.tokens, s.kmax, EPS_REGION_K)
    meta = spec["layout"]["meta"]
    above = with_ln.count_in(EPS_REGION_K, s.kmax) if s.kmax > EPS_REGION_K else 0 * with_ln.counts
    rows = [dict(token=i, text=t, crossings_with_layernorm=int(c), with_layernorm_k_at_least=int(ab),
                 crossings_without_layernorm=int(r), k_eps=float(ke))
            for i, (t, c, ab, r, ke) in enumerate(zip(resolved.tokens, with_ln.counts, above, without_ln.counts,
                                                      with_ln.extra["k_eps"]))]
    return spec, scaling_words(meta, model.ln_eps), {"summary": meta, "tokens": rows}


def direction_view(resolved: Resolved, work: Work = AFRESH):
    if not resolved.ok:
        return _problem_view(resolved, 360)
    s, model = resolved.state, resolved.model
    X = work.inputs(model, s.text, s.layer)
    w_vector, w_words, problem = direction_vector(s, X, resolved.tokens)
    if problem:
        return ft.message_spec(problem, 360), problem, {"problem": problem}
    lines = work.direction(model, s.text, s.layer, w_vector, s.amax)
    spec = ft.direction_spec(lines, len(X), s.a, s.amax, resolved.tokens, w_words)
    rows = [dict(token=i, text=t, crossings=int(c),
                 first_alpha=float(lines.t[lines.line == i][0]) if c else None)
            for i, (t, c) in enumerate(zip(resolved.tokens, lines.counts))]
    meta = spec["layout"]["meta"]
    return spec, direction_words(meta, resolved.tokens), {"summary": meta, "tokens": rows}


def massive_view(resolved: Resolved, work: Work = AFRESH):
    """(spec, words, data, table rows) of the massive-activation view."""
    if not resolved.ok:
        return (*_problem_view(resolved, 360), [])
    s, model = resolved.state, resolved.model
    tokens, R = work.residuals(model, s.text)
    table = []
    for layer in range(model.n_layers):
        for m in tf.massive_dimensions(R[layer], 3):
            table.append(dict(layer=layer, dim=m.dim, value=m.value, token=m.token, token_text=tokens[m.token],
                              current=layer == s.layer))
    X = R[s.layer]
    dim = tf.massive_dimensions(X, 1)[0].dim if s.mdim < 0 else s.mdim
    token = int(np.argmax(np.abs(X[:, dim])))
    probe = work.dimension_probe(model, s.text, s.layer, token, dim, s.smax)
    spec = ft.massive_spec(probe, tokens, token, dim, float(X[token, dim]), float(np.median(np.abs(X))))
    meta = spec["layout"]["meta"]
    rows = [dict(s=float(a), effective_scale=float(e), relative_to_s1=float(r), neurons_flipped=int(f))
            for a, e, r, f in zip(probe.s, probe.effective_scale, probe.rest_scale, probe.flips)]
    data = {"summary": meta, "largest_dimensions": table, "probe": rows,
            "flip_points": [dict(s=float(a), neuron=int(n)) for a, n in zip(probe.breakpoints, probe.neurons)]}
    return spec, massive_words(meta, tokens), data, table


VIEWS = {"circle": circle_view, "rotation": rotation_view, "scaling": scaling_view,
         "direction": direction_view, "massive": lambda resolved, work=AFRESH: massive_view(resolved, work)[:3]}


def transformer_figures(resolved: Resolved, work: Work = AFRESH) -> dict:
    """The page's five figure specs for a resolved state (:func:`resolve`): "circle",
    "rotation", "scaling", "direction", "massive" (a figure that says what is wrong when the
    model or the text cannot be used)."""
    return {name: view(resolved, work)[0] for name, view in VIEWS.items()}

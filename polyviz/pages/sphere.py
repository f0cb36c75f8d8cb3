"""The "Polytopes on the LayerNorm sphere" page (/sphere): its state and limits, which layer a
state names, and the words that describe what the page computes.

Everything here is plain values: the page's callbacks validate widget values into a
:class:`SphereState`, pick the layer with :func:`layer_view` (given the trained model they
read from the cache, if the state names one) and say what the figures' ``meta`` holds with
:func:`summary_text`, :func:`rotation_words` and :func:`scaling_words`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from polyviz import polytopes as pt
from polyviz import state as st
from polyviz.polytopes import ACTIVATIONS
from polyviz.polytopes.tolerances import ANGLE_ATOL, POINT_TOL, SPHERE_TANGENT_RADIUS, SPHERE_TANGENT_TOL
from polyviz.words import ordinal, plural

# Where the layer comes from: a seeded random layer, or Linear layer ``layer`` of a model
# trained on the Toy classifiers page (``model`` is its 40-hex id, as in that page's links
# /sphere?source=trained&model=<id>&layer=<k>; the callbacks read it from the shared cache).
SOURCES = ("random", "trained")
MODEL_PATTERN = r"(?:[0-9a-f]{40})?"  # a model id, or empty
MODEL_FORM = "exactly 40 lowercase hex digits (the model id of a Toy classifiers link), or empty"
LAYERS = (1, 8)  # a trained model's Linear layers after hidden layer 1..depth (depth <= 8 on /train)
DIMS = (3, 4)
NEURONS = (1, 64)
K_RANGE = (0.01, 50.0)
KMAX_RANGE = (0.5, 50.0)


@dataclass(frozen=True)
class SphereState:
    source: str = st.choice("random", SOURCES, label="source")
    dim: int = st.integer(3, DIMS[0], DIMS[-1], label="dim")
    neurons: int = st.integer(12, *NEURONS, label="neurons")
    seed: int = st.integer(0, 0, 2**31 - 1, label="seed")
    wscale: float = st.number(1.0, 0.1, 4.0, label="wscale")
    bscale: float = st.number(0.5, 0.0, 2.0, label="bscale")
    act: str = st.choice("relu", ACTIVATIONS, label="act")
    v_az: float = st.number(30.0, 0.0, 360.0, label="v_az")
    v_el: float = st.number(20.0, -90.0, 90.0, label="v_el")
    w_az: float = st.number(160.0, 0.0, 360.0, label="w_az")
    w_el: float = st.number(-15.0, -90.0, 90.0, label="w_el")
    k: float = st.number(2.0, *K_RANGE, label="k")
    kmax: float = st.number(10.0, *KMAX_RANGE, label="kmax")
    full: bool = st.flag(False, label="full")
    model: str = st.text("", MODEL_PATTERN, label="model", describe=MODEL_FORM)
    layer: int = st.integer(1, *LAYERS, label="layer")

    def checked(self):
        """Cross-field rule: the current scale k lies in (0, kmax]."""
        if self.k > self.kmax:
            return (dataclasses.replace(self, k=self.kmax),
                    [f"k = {self.k:g} is above kmax (allowed: {K_RANGE[0]:g} to kmax = {self.kmax:g}); "
                     f"using {self.kmax:g}."])
        return self, []


def directions(state: SphereState) -> tuple[np.ndarray, np.ndarray]:
    """The unit directions v and w of the LayerNorm plane the state's angles name."""
    return (pt.plane_direction(state.dim, state.v_az, state.v_el),
            pt.plane_direction(state.dim, state.w_az, state.w_el))


# --- which layer the page draws -------------------------------------------------------------

ACT_NAMES = {"u_eps": "u_ε", "layernorm": "LayerNorm", "rmsnorm": "RMSNorm", "relu": "ReLU", "gelu": "GELU",
             "tanh": "tanh"}
NO_MODEL = ("No trained model is chosen yet: train a model on the Toy classifiers page and follow its "
            "“Open layer k on the sphere page” link. Until then this is a random layer.")


class TrainedLayers(Protocol):
    """What the page needs of a trained model (the callbacks read one from the cache)."""

    model_id: str
    width: int
    depth: int
    activation: str
    query: str | None  # the /train query that reopens its run
    layers: tuple  # ((W, b), ...) of every Linear layer, input to output

    @property
    def shapes(self) -> list[tuple[int, int]]: ...

    def words(self) -> str: ...


@dataclass(frozen=True)
class LayerView:
    """The layer the page draws. ``state`` is the state as drawn (a trained layer sets d and
    the number of neurons); ``trained`` when it is a trained model's layer; ``model`` the
    model the state names, when it is cached (also when its layer cannot be shown);
    ``problem`` says why a trained layer that was asked for is not shown (a random one is)."""

    state: SphereState
    W: np.ndarray
    b: np.ndarray
    w_out: np.ndarray
    trained: bool = False
    model: TrainedLayers | None = None
    readout: str = "random"  # "next": the first row of layer k + 1's weights
    problem: str | None = None

    @property
    def notice(self) -> str | None:
        """The problem as a notice: a trained layer that cannot be shown, and why (not the
        hint that no model is chosen yet)."""
        return self.problem if self.problem and self.problem != NO_MODEL else None


def _choose(ks: list[int]) -> str:
    words = [str(k) for k in ks]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def layer_problem(model: TrainedLayers, k: int) -> str | None:
    """Why layer k of this model cannot be shown here (in words, with what is allowed), or None."""
    shapes = model.shapes
    eligible = [j for j in range(1, len(shapes)) if shapes[j][1] in DIMS]
    choose = (f"choose layer {_choose(eligible)}" if eligible else
              f"this model has none (its hidden width is {model.width}): train a model of width 3 or 4")
    if not 1 <= k < len(shapes):
        return (f"layer {k} does not exist: this model (depth {model.depth}) has layers 1 to {model.depth}, the "
                f"last being its output layer; {choose}. Showing a random layer instead.")
    width = shapes[k][1]
    if width not in DIMS:
        return (f"layer {k} of this model reads {width}-D inputs; the sphere page shows layers whose input has "
                f"3 or 4 dimensions: {choose}. Showing a random layer instead.")
    return None


def random_view(state: SphereState, problem: str | None = None, model: TrainedLayers | None = None) -> LayerView:
    W, b = pt.random_layer(state.neurons, state.dim, seed=state.seed, weight_scale=state.wscale,
                           bias_scale=state.bscale)
    return LayerView(state, W, b, pt.random_readout(state.neurons, state.seed), model=model, problem=problem)


def layer_view(state: SphereState, model: TrainedLayers | None) -> LayerView:
    """The layer the state names: random, or layer ``state.layer`` of the trained model
    ``state.model`` (falling back to the random layer, with the reason, when it cannot be
    shown). ``model``: that model as read from the cache, None when it is not there."""
    if state.source != "trained":
        return random_view(state)
    if not state.model:
        return random_view(state, NO_MODEL)
    if model is None:
        return random_view(state, (
            f"model {state.model[:12]}… is not in the cache (an unknown id, or its training run has expired): "
            f"train it on the Toy classifiers page and follow its layer link again. Showing a random layer "
            f"instead."))
    problem = layer_problem(model, state.layer)
    if problem:
        return random_view(state, problem, model)
    W, b = model.layers[state.layer]
    if state.layer + 1 < len(model.layers):
        w_out, readout = model.layers[state.layer + 1][0][0].copy(), "next"
    else:
        w_out, readout = pt.random_readout(W.shape[0], state.seed), "random"
    drawn = dataclasses.replace(state, dim=int(W.shape[1]), neurons=int(W.shape[0]))
    return LayerView(drawn, W, b, w_out, trained=True, model=model, readout=readout)


# --- words --------------------------------------------------------------------------------

def readout_words(view: LayerView) -> str:
    """Where a trained layer's readout w_out comes from."""
    k = view.state.layer
    if view.readout == "next":
        last = k + 1 == view.model.depth
        return (f"the first row of layer {k + 1}'s weights" + (" (the model's output logit)" if last else
                                                               " (the next layer's first neuron)"))
    return f"random (seed {view.state.seed}), as layer {k} is the model's output layer"


def where_inputs_live(view: LayerView) -> str:
    """Where the trained model puts this layer's inputs, compared with the LayerNorm sphere."""
    d, act = view.state.dim, view.model.activation
    shape = "circle" if d == 3 else "sphere"
    space = "R³" if d == 3 else "R⁴"
    if act == "layernorm":
        return f"In the model, LayerNorm puts this layer's inputs exactly on this {shape}."
    place = {"u_eps": f"puts them on the unit sphere of {space}",
             "rmsnorm": f"puts them on the sphere of radius √{d} in {space}"}.get(act, "does not normalise them")
    return (f"In the model, {ACT_NAMES.get(act, act)} {place}, not onto the LayerNorm {shape}: this is the layer "
            f"as if a LayerNorm fed it.")


def random_note(view: LayerView) -> str:
    """Why the random layer's settings are switched off while a trained layer is shown."""
    if not view.trained:
        return ""
    return ("Neurons and scales belong to the random layer and are not used while a trained layer is shown"
            + ("; the seed still draws its readout." if view.readout == "random" else "."))


def circle_precision_words(meta: dict, what: str = "circle") -> str:
    """How exact a count of crossings on a circle is (``meta`` of the arcs, unrolled or
    rotation figure): the angle tolerance that merges crossings, and any neuron that float64
    cannot decide, named as such."""
    words = f"Exact in float64 up to {ANGLE_ATOL:.0e} rad: crossings closer than that count as one boundary"
    merged = meta.get("merged", 0)
    words += (f" ({plural(merged, 'crossing')} here share a boundary with another neuron's)." if merged else ".")
    unresolved = meta.get("unresolved", 0)
    if unresolved:
        they = "it crosses" if unresolved == 1 else "they cross"
        words += (f" Not exact here: {plural(unresolved, 'neuron')} touch{'es' if unresolved == 1 else ''} the "
                  f"{what} within float64 rounding, so whether {they} it (in an arc narrower than about 1e-7 rad) "
                  f"cannot be decided; counted as not crossing.")
    return words


def sphere_precision_words(meta: dict) -> str:
    """How exact the region count of the sphere figure's ``meta`` is, with the tolerances that
    can merge real features."""
    words = (f"Euler's formula on the arrangement of circles, exact up to its tolerances: intersection points "
             f"closer than {POINT_TOL:.0e} are one vertex, and a plane within {SPHERE_TANGENT_TOL:.0e} of touching "
             f"the sphere (a circle of radius under {SPHERE_TANGENT_RADIUS:.1e}) cuts nothing.")
    dropped = meta.get("dropped_circles", 0)
    if dropped:
        words += (f" Not exact here: {plural(dropped, 'such tiny circle')} {'is' if dropped == 1 else 'are'} "
                  f"dropped, and the region inside each is missing from the count.")
    return words


def summary_words(state: SphereState, meta: dict) -> str:
    """The arcs (d = 3) or regions (d = 4) of the scene's ``meta``, in words, with how exact
    the count is."""
    neurons = plural(state.neurons, "neuron")
    if state.dim == 3:
        if meta["boundaries"] == 0:
            return (f"{neurons}, residual dimension 3: no neuron changes sign on the LayerNorm circle, "
                    f"so it is 1 arc with a single spline code. {circle_precision_words(meta)}")
        return (f"{neurons}, residual dimension 3: the LayerNorm circle is cut into {plural(meta['arcs'], 'arc')} "
                f"at {plural(meta['boundaries'], 'boundary point')}; they carry {plural(meta['codes'], 'spline code')}. "
                f"{circle_precision_words(meta)}")
    return (f"{neurons}, residual dimension 4: {plural(meta['circles'], 'boundary circle')} cut the LayerNorm sphere "
            f"into {plural(meta['regions'], 'region')}. {sphere_precision_words(meta)}")


def summary_text(view: LayerView, meta: dict) -> str:
    """The line above the figures: which layer is shown, and its arcs or regions."""
    words = summary_words(view.state, meta)
    if view.trained:
        return f"Layer {view.state.layer} of the trained model ({view.model.words()}): {words}"
    if view.state.source == "trained":
        return f"A random layer, not a trained one (see under Source): {words}"
    return words


def rotation_words(state: SphereState, meta: dict, readout: str | None = None) -> str:
    """The rotation probe's ``meta`` in words; ``readout``: where w_out comes from, if trained."""
    if meta["parallel"]:
        path = ("w points along v or exactly opposite, so there is no single great circle from v to w: "
                "the probe goes a full turn through v. ")
    else:
        turn = " and on, a full turn" if state.full else ""
        path = f"Rotating LayerNorm(v) towards LayerNorm(w) ({math.degrees(meta['angle_end']):.0f}°{turn}): "
    crossings = meta["n_crossings"]
    kind = ("boundary crossing" if state.act == "relu" else "soft boundary (Φ = ½) crossing")
    smooth = ("the output is piecewise sinusoidal, with a kink at each crossing" if state.act == "relu"
              else "GELU keeps the output smooth through them")
    words = (f"{path}{plural(crossings, kind)}; the output changes by {meta['total_variation']:.3g} in total, "
             f"a total variation of {meta['tv_per_radian']:.3g} per radian; {smooth}. "
             f"{circle_precision_words(meta, 'great circle')}")
    return f"{words} The readout w_out is {readout}." if readout else words


def scaling_words(state: SphereState, meta: dict) -> str:
    """The scaling chart's ``meta`` in words: codes met by k·v without and with LayerNorm."""
    n = state.neurons
    root = "√3" if state.dim == 3 else "√4 = 2"
    return (f"Without LayerNorm the ray k·v, k in (0, {state.kmax:g}], meets "
            f"{plural(meta['without'], 'spline code')} (polytopes); at k = {meta['k']:.3g} it is in the "
            f"{ordinal(meta['region_without'])}, with {meta['on_without']} of {n} neurons on. "
            f"With LayerNorm it meets exactly {meta['with_layernorm']}: LayerNorm(k·v) = {root}·v for every "
            f"k > 0, with {meta['on_with']} of {n} neurons on.")

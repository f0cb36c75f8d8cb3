"""Callbacks of the "Polytopes on the LayerNorm sphere" page.

Split by what each view depends on, so moving a control recomputes only its panels:

* ``update_scene`` (the main one): the 3-D scene and the region/arc count, from the
  layer controls (source, d, neurons, seed, scales, activation);
* ``update_probe``: the unrolled great circle and the rotation probe (layer, v, w);
* ``update_scaling``: the scaling chart (layer, v, k, K);
* ``move_markers``: when only v, w or k move, a Patch of the scene's four marker traces;
* ``update_query``: validation notices and the canonical query string (every control);
* ``sync_layer_controls``: for a trained layer, d follows the layer and the random layer's
  settings are switched off.

Each validates its raw widget values with ``st.validate(SphereState, raw)`` (notices are
shown once, by ``update_query``) and calls polyviz for the figures. The layer itself comes
from :func:`layer_view`: a seeded random layer, or Linear layer ``layer`` of a model
trained on the Toy classifiers page, read from the shared cache by its id.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from dash import Input, Output, Patch, State, callback, dcc, html, no_update

from callbacks.common import sync_url_and_copy_link, triggered_props
from layouts import sphere as ids
from layouts.common import notice_items
from layouts.sphere import (SphereState, dim_options, el_style, k_marks, layer_options, random_box_style,
                            scene_caption, shown_style)
from polyviz import figures_sphere as fs
from polyviz import polytopes as pt
from polyviz import state as st
from polyviz.models import layer_weights
from services import run_store

LAYER_FIELDS = ("source", "dim", "neurons", "seed", "wscale", "bscale", "act", "model", "layer")
LAYER_INPUTS = [Input(ids.SOURCE, "value"), Input(ids.DIM, "value"), Input(ids.NEURONS_ID, "value"),
                Input(ids.SEED, "value"), Input(ids.WSCALE, "value"), Input(ids.BSCALE, "value"),
                Input(ids.ACT, "value"), Input(ids.MODEL_ID, "value"), Input(ids.LAYER_ID, "value")]
ALL_FIELDS = LAYER_FIELDS + ("v_az", "v_el", "w_az", "w_el", "k", "kmax", "full")
ALL_IDS = [ids.SOURCE, ids.DIM, ids.NEURONS_ID, ids.SEED, ids.WSCALE, ids.BSCALE, ids.ACT, ids.MODEL_ID,
           ids.LAYER_ID, ids.V_AZ, ids.V_EL, ids.W_AZ, ids.W_EL, ids.K, ids.KMAX, ids.FULL]


def full_from_checklist(value):
    """The checklist holds ["full"] or []; anything else passes through for validation."""
    if isinstance(value, list):
        return any(item == "full" for item in value)
    return value


def state_from_controls(**raw) -> tuple[SphereState, list[str]]:
    """Validated state and notices from raw control values (a payload can hold anything).
    An empty widget (None) means "not set": the default, without a notice."""
    if "full" in raw:
        raw["full"] = full_from_checklist(raw["full"])
    return st.validate(SphereState, {k: v for k, v in raw.items() if v is not None})


# --- where the layer comes from ----------------------------------------------------------

ACT_NAMES = {"u_eps": "u_ε", "layernorm": "LayerNorm", "rmsnorm": "RMSNorm", "relu": "ReLU", "gelu": "GELU",
             "tanh": "tanh"}
NO_MODEL = ("No trained model is chosen yet: train a model on the Toy classifiers page and follow its "
            "“Open layer k on the sphere page” link. Until then this is a random layer.")


@dataclass(frozen=True)
class TrainedModel:
    """What the page needs of a cached trained model: its Linear layers and what it is."""

    model_id: str
    dataset: str
    in_dim: int
    width: int
    depth: int
    activation: str
    test_acc: float | None
    query: str | None  # the /train query that reopens its run
    layers: tuple  # ((W, b), ...) of every Linear layer, input to output

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return [tuple(W.shape) for W, _ in self.layers]

    def words(self) -> str:
        acc = f", test accuracy {self.test_acc:.1%}" if self.test_acc is not None else ""
        return (f"{self.dataset}, width {self.width}, depth {self.depth}, {ACT_NAMES.get(self.activation, '?')}"
                f"{acc}")


def trained_model(model_id: str) -> TrainedModel | None:
    """The cached model with this id, or None (empty or unknown id, expired run). Loading is
    one cache read and a small safetensors decode (about a millisecond), so every callback
    reads it afresh: any worker sees the same model, and a retrained run is never stale."""
    if not model_id:
        return None
    run = run_store.load_run(model_id)
    if run is None:
        return None
    config, acc = run.config, run.final_test_acc
    return TrainedModel(
        model_id=model_id, dataset=run.data.name[:40], in_dim=config.in_dim, width=config.width, depth=config.depth,
        activation=config.activation, test_acc=acc if acc is not None and math.isfinite(acc) else None,
        query=run.query if len(run.query) < 2000 else None,
        layers=tuple(layer_weights(run.params, i) for i in range(config.n_layers)))


def _choose(ks: list[int]) -> str:
    words = [str(k) for k in ks]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def layer_problem(model: TrainedModel, k: int) -> str | None:
    """Why layer k of this model cannot be shown here (in words, with what is allowed), or None."""
    shapes = model.shapes
    eligible = [j for j in range(1, len(shapes)) if shapes[j][1] in ids.DIMS]
    choose = (f"choose layer {_choose(eligible)}" if eligible else
              f"this model has none (its hidden width is {model.width}): train a model of width 3 or 4")
    if not 1 <= k < len(shapes):
        return (f"layer {k} does not exist: this model (depth {model.depth}) has layers 1 to {model.depth}, the "
                f"last being its output layer; {choose}. Showing a random layer instead.")
    width = shapes[k][1]
    if width not in ids.DIMS:
        return (f"layer {k} of this model reads {width}-D inputs; the sphere page shows layers whose input has "
                f"3 or 4 dimensions: {choose}. Showing a random layer instead.")
    return None


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
    model: TrainedModel | None = None
    readout: str = "random"  # "next": the first row of layer k + 1's weights
    problem: str | None = None


def random_view(state: SphereState, problem: str | None = None, model: TrainedModel | None = None) -> LayerView:
    W, b = pt.random_layer(state.neurons, state.dim, seed=state.seed, weight_scale=state.wscale,
                           bias_scale=state.bscale)
    return LayerView(state, W, b, pt.random_readout(state.neurons, state.seed), model=model, problem=problem)


def layer_view(state: SphereState, model: TrainedModel | None = None) -> LayerView:
    """The layer the state names: random, or layer ``state.layer`` of the trained model
    ``state.model`` (falling back to the random layer, with the reason, when it cannot be
    shown). ``model``: the already loaded model, if any."""
    if state.source != "trained":
        return random_view(state)
    if not state.model:
        return random_view(state, NO_MODEL)
    model = model if model is not None and model.model_id == state.model else trained_model(state.model)
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


def layer(state: SphereState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W, b, w_out) of the layer the state names."""
    view = layer_view(state)
    return view.W, view.b, view.w_out


def readout_words(view: LayerView) -> str:
    k = view.state.layer
    if view.readout == "next":
        last = k + 1 == view.model.depth
        return (f"the first row of layer {k + 1}'s weights" + (" (the model's output logit)" if last else
                                                               " (the next layer's first neuron)"))
    return f"random (seed {view.state.seed}), as layer {k} is the model's output layer"


def where_inputs_live(view: LayerView) -> str:
    d, act = view.state.dim, view.model.activation
    shape = "circle" if d == 3 else "sphere"
    space = "R³" if d == 3 else "R⁴"
    if act == "layernorm":
        return f"In the model, LayerNorm puts this layer's inputs exactly on this {shape}."
    place = {"u_eps": f"puts them on the unit sphere of {space}",
             "rmsnorm": f"puts them on the sphere of radius √{d} in {space}"}.get(act, "does not normalise them")
    return (f"In the model, {ACT_NAMES.get(act, act)} {place}, not onto the LayerNorm {shape}: this is the layer "
            f"as if a LayerNorm fed it.")


def source_help(view: LayerView) -> list:
    """The words under the source control: what is shown, or why not and what to do."""
    state = view.state
    if view.trained:
        model = view.model
        reopen = ([" (", dcc.Link("open its training run", href="/train?" + model.query), ")"] if model.query
                  else [])
        return [
            html.Div([html.B(f"Layer {state.layer} of a trained model"), f": {model.words()}."]),
            html.Div([f"Model {model.model_id[:8]}…", *reopen,
                      f". W is {state.neurons} × {state.dim}: d = {state.dim}, {plural(state.neurons, 'neuron')}."]),
            html.Div(f"Readout w_out of the rotation probe: {readout_words(view)}."),
            html.Div(where_inputs_live(view)),
        ]
    if state.source == "trained":
        if view.problem == NO_MODEL:
            return ["No trained model yet: train a model on the ", dcc.Link("Toy classifiers", href="/train"),
                    " page and follow its “Open layer k on the sphere page” link. Until then, a random layer."]
        return [html.Div(html.Div(view.problem, className="notice"), className="notices"), "Train a model on the ",
                dcc.Link("Toy classifiers", href="/train"), " page, or switch to a random layer."]
    return ["A seeded random layer: W ~ N(0, scale²/d), b ~ N(0, scale²)."]


def layer_controls(state: SphereState, view: LayerView | None = None) -> dict:
    """How the layer controls look for this state (the layout and sync_layer_controls share it)."""
    view = view if view is not None else layer_view(state)
    locked = view.trained
    return {
        "dim": view.state.dim,
        "locked": locked,
        "seed_locked": locked and view.readout != "random",
        "random_note": ("" if not locked else
                        "Neurons and scales belong to the random layer and are not used while a trained layer "
                        "is shown" + ("; the seed still draws its readout." if view.readout == "random" else ".")),
        "shapes": view.model.shapes if view.model is not None else None,
        "source_help": source_help(view),
        "notice": view.problem if view.problem and view.problem != NO_MODEL else None,
        "trained_box": shown_style(state.source == "trained"),
    }



def directions(state: SphereState) -> tuple[np.ndarray, np.ndarray]:
    return (pt.plane_direction(state.dim, state.v_az, state.v_el),
            pt.plane_direction(state.dim, state.w_az, state.w_el))


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def summary_words(state: SphereState, meta: dict) -> str:
    neurons = plural(state.neurons, "neuron")
    if state.dim == 3:
        if meta["boundaries"] == 0:
            return (f"{neurons}, residual dimension 3: no neuron changes sign on the LayerNorm circle, "
                    f"so it is 1 arc with a single spline code.")
        return (f"{neurons}, residual dimension 3: the LayerNorm circle is cut into {plural(meta['arcs'], 'arc')} "
                f"at {plural(meta['boundaries'], 'boundary point')}; they carry {plural(meta['codes'], 'spline code')}.")
    return (f"{neurons}, residual dimension 4: {plural(meta['circles'], 'boundary circle')} cut the LayerNorm sphere "
            f"into {plural(meta['regions'], 'region')} (exact: Euler's formula on the arrangement of circles).")


def summary_text(view: LayerView, meta: dict) -> str:
    """The line above the figures: which layer is shown, and its arcs or regions."""
    words = summary_words(view.state, meta)
    if view.trained:
        return f"Layer {view.state.layer} of the trained model ({view.model.words()}): {words}"
    if view.state.source == "trained":
        return f"A random layer, not a trained one (see under Source): {words}"
    return words


@callback(
    Output(ids.FIG_SCENE, "figure"),
    Output(ids.SUMMARY, "children"),
    Output(ids.SCENE_CAPTION, "children"),
    *LAYER_INPUTS,
    State(ids.V_AZ, "value"),
    State(ids.V_EL, "value"),
    State(ids.W_AZ, "value"),
    State(ids.W_EL, "value"),
    State(ids.K, "value"),
    State(ids.KMAX, "value"),
)
def update_scene(source, dim, neurons, seed, wscale, bscale, act, model=None, layer=None, v_az=None, v_el=None,
                 w_az=None, w_el=None, k=None, kmax=None):
    state, _ = state_from_controls(source=source, dim=dim, neurons=neurons, seed=seed, wscale=wscale,
                                   bscale=bscale, act=act, model=model, layer=layer, v_az=v_az, v_el=v_el,
                                   w_az=w_az, w_el=w_el, k=k, kmax=kmax)
    view = layer_view(state)
    state = view.state
    v, w = directions(state)
    spec = fs.scene_spec(view.W, view.b, v, w, state.k, activation=state.act, seed=state.seed)
    return spec, summary_text(view, spec["layout"]["meta"]), scene_caption(state.dim)


@callback(
    Output(ids.FIG_SCENE, "figure", allow_duplicate=True),
    Input(ids.V_AZ, "value"),
    Input(ids.V_EL, "value"),
    Input(ids.W_AZ, "value"),
    Input(ids.W_EL, "value"),
    Input(ids.K, "value"),
    State(ids.DIM, "value"),
    State(ids.KMAX, "value"),
    State(ids.SOURCE, "value"),
    State(ids.MODEL_ID, "value"),
    State(ids.LAYER_ID, "value"),
    prevent_initial_call=True,
)
def move_markers(v_az, v_el, w_az, w_el, k, dim, kmax=None, source=None, model=None, layer=None):
    """Only the directions or the scale moved: replace the scene's marker traces."""
    state, _ = state_from_controls(v_az=v_az, v_el=v_el, w_az=w_az, w_el=w_el, k=k, dim=dim, kmax=kmax,
                                   source=source, model=model, layer=layer)
    if state.source == "trained":  # d is the trained layer's input width (the scene was drawn for it)
        state = dataclasses.replace(state, dim=layer_view(state).state.dim)
    v, w = directions(state)
    patch = Patch()
    base = fs.SCENE_BASE_TRACES[state.dim]
    for offset, trace in enumerate(fs.scene_marker_traces(v, w, state.k)):
        patch["data"][base + offset] = trace
    return patch


def rotation_words(state: SphereState, meta: dict, readout: str | None = None) -> str:
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
             f"a total variation of {meta['tv_per_radian']:.3g} per radian; {smooth}.")
    return f"{words} The readout w_out is {readout}." if readout else words


@callback(
    Output(ids.FIG_CIRCLE, "figure"),
    Output(ids.FIG_ROTATION, "figure"),
    Output(ids.ROTATION_TEXT, "children"),
    *LAYER_INPUTS,
    Input(ids.V_AZ, "value"),
    Input(ids.V_EL, "value"),
    Input(ids.W_AZ, "value"),
    Input(ids.W_EL, "value"),
    Input(ids.FULL, "value"),
)
def update_probe(source, dim, neurons, seed, wscale, bscale, act, model, layer, v_az, v_el, w_az, w_el, full):
    state, _ = state_from_controls(source=source, dim=dim, neurons=neurons, seed=seed, wscale=wscale,
                                   bscale=bscale, act=act, model=model, layer=layer, v_az=v_az, v_el=v_el,
                                   w_az=w_az, w_el=w_el, full=full)
    view = layer_view(state)
    state = view.state
    v, w = directions(state)
    circle = fs.great_circle_spec(view.W, view.b, v, w, activation=state.act)
    rotation = fs.rotation_spec(view.W, view.b, view.w_out, v, w, activation=state.act, full_circle=state.full)
    readout = readout_words(view) if view.trained else None
    return circle, rotation, rotation_words(state, rotation["layout"]["meta"], readout)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def scaling_words(state: SphereState, meta: dict) -> str:
    n = state.neurons
    root = "√3" if state.dim == 3 else "√4 = 2"
    return (f"Without LayerNorm the ray k·v, k in (0, {state.kmax:g}], meets "
            f"{plural(meta['without'], 'spline code')} (polytopes); at k = {meta['k']:.3g} it is in the "
            f"{ordinal(meta['region_without'])}, with {meta['on_without']} of {n} neurons on. "
            f"With LayerNorm it meets exactly {meta['with_layernorm']}: LayerNorm(k·v) = {root}·v for every "
            f"k > 0, with {meta['on_with']} of {n} neurons on.")


@callback(
    Output(ids.FIG_SCALING, "figure"),
    Output(ids.SCALING_TEXT, "children"),
    *LAYER_INPUTS,
    Input(ids.V_AZ, "value"),
    Input(ids.V_EL, "value"),
    Input(ids.K, "value"),
    Input(ids.KMAX, "value"),
)
def update_scaling(source, dim, neurons, seed, wscale, bscale, act, model, layer, v_az, v_el, k, kmax):
    state, _ = state_from_controls(source=source, dim=dim, neurons=neurons, seed=seed, wscale=wscale,
                                   bscale=bscale, act=act, model=model, layer=layer, v_az=v_az, v_el=v_el, k=k,
                                   kmax=kmax)
    view = layer_view(state)
    state = view.state
    v, _ = directions(state)
    spec = fs.scaling_spec(view.W, view.b, v, state.kmax, k=state.k)
    return spec, scaling_words(state, spec["layout"]["meta"])


@callback(
    Output(ids.K, "max"),
    Output(ids.K, "marks"),
    Output(ids.K, "value"),
    Input(ids.KMAX, "value"),
    State(ids.K, "value"),
    prevent_initial_call=True,
)
def update_k_range(kmax, k):
    """The k slider runs over (0, K]: follow K, and pull k back inside when K shrinks."""
    state, _ = state_from_controls(kmax=kmax)
    inside = isinstance(k, (int, float)) and not isinstance(k, bool) and k <= state.kmax
    return state.kmax, k_marks(state.kmax), no_update if inside else state.kmax


@callback(
    Output(ids.QUERY, "data"),
    Output(ids.NOTICES, "children"),
    Output(ids.V_EL_BOX, "style"),
    Output(ids.W_EL_BOX, "style"),
    *[Input(cid, "value") for cid in ALL_IDS],
    State(ids.LINK_NOTICES, "data"),
)
def update_query(*values):
    raw, link_notices = values[:len(ALL_FIELDS)], values[len(ALL_FIELDS)] if len(values) > len(ALL_FIELDS) else None
    state, notices = state_from_controls(**dict(zip(ALL_FIELDS, raw)))
    if not triggered_props() and isinstance(link_notices, list):
        notices = [str(text)[:300] for text in link_notices[:20]] + notices
    view = layer_view(state)
    problem = layer_controls(state, view)["notice"]  # a trained layer that cannot be shown, and why
    if problem:
        notices = notices + [problem]
    dim = view.state.dim
    state = dataclasses.replace(state, dim=dim)
    return st.to_query(state), notice_items(notices), el_style(dim), el_style(dim)


@callback(
    Output(ids.DIM, "value"),
    Output(ids.DIM, "options"),
    Output(ids.NEURONS_ID, "disabled"),
    Output(ids.WSCALE, "disabled"),
    Output(ids.BSCALE, "disabled"),
    Output(ids.SEED, "disabled"),
    Output(ids.RANDOM_NOTE, "children"),
    Output(ids.RANDOM_BOX, "style"),
    Output(ids.SOURCE_HELP, "children"),
    Output(ids.TRAINED_BOX, "style"),
    Output(ids.LAYER_ID, "options"),
    Input(ids.SOURCE, "value"),
    Input(ids.MODEL_ID, "value"),
    Input(ids.LAYER_ID, "value"),
    State(ids.DIM, "value"),
    State(ids.SEED, "value"),
    prevent_initial_call=True,  # the layout starts from the same answer
)
def sync_layer_controls(source, model, layer, dim, seed=None):
    """A trained layer sets d (the control follows it) and switches off the random layer's
    settings; the layer choices are the model's layers."""
    state, _ = state_from_controls(source=source, model=model, layer=layer, dim=dim, seed=seed)
    c = layer_controls(state)
    locked = c["locked"]
    new_dim = c["dim"] if locked and c["dim"] != dim else no_update
    return (new_dim, dim_options(locked), locked, locked, locked, c["seed_locked"], c["random_note"],
            random_box_style(not locked), c["source_help"], c["trained_box"], layer_options(c["shapes"]))


# Keep the address bar equal to the view without re-running the page layout.
sync_url_and_copy_link(ids.QUERY, ids.URL_SINK, ids.COPY)

"""Callbacks of the "Polytopes on the LayerNorm sphere" page.

Split by what each view depends on, so moving a control recomputes only its panels:

* ``update_scene`` (the main one): the 3-D scene and the region/arc count, from the
  layer controls (source, d, neurons, seed, scales, activation);
* ``update_probe``: the unrolled great circle and the rotation probe (layer, v, w);
* ``update_scaling``: the scaling chart (layer, v, k, K);
* ``move_markers``: when only v, w or k move, a Patch of the scene's four marker traces;
* ``update_query``: validation notices and the canonical query string (every control).

Each validates its raw widget values with ``st.validate(SphereState, raw)`` (notices are
shown once, by ``update_query``) and calls polyviz for the figures.
"""

from __future__ import annotations

import math

import numpy as np
from dash import ClientsideFunction, Input, Output, Patch, State, callback, clientside_callback, no_update

from callbacks.common import triggered_props
from layouts import sphere as ids
from layouts.common import notice_items
from layouts.sphere import SphereState, el_style, k_marks, scene_caption
from polyviz import figures_sphere as fs
from polyviz import polytopes as pt
from polyviz import state as st

LAYER_FIELDS = ("source", "dim", "neurons", "seed", "wscale", "bscale", "act")
LAYER_INPUTS = [Input(ids.SOURCE, "value"), Input(ids.DIM, "value"), Input(ids.NEURONS_ID, "value"),
                Input(ids.SEED, "value"), Input(ids.WSCALE, "value"), Input(ids.BSCALE, "value"),
                Input(ids.ACT, "value")]
ALL_FIELDS = LAYER_FIELDS + ("v_az", "v_el", "w_az", "w_el", "k", "kmax", "full")
ALL_IDS = [ids.SOURCE, ids.DIM, ids.NEURONS_ID, ids.SEED, ids.WSCALE, ids.BSCALE, ids.ACT,
           ids.V_AZ, ids.V_EL, ids.W_AZ, ids.W_EL, ids.K, ids.KMAX, ids.FULL]


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


def layer(state: SphereState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W, b, w_out) of the layer the state names. ``source`` is the switch for where a
    layer comes from; only seeded random layers exist today."""
    if state.source == "random":
        W, b = pt.random_layer(state.neurons, state.dim, seed=state.seed, weight_scale=state.wscale,
                               bias_scale=state.bscale)
        return W, b, pt.random_readout(state.neurons, state.seed)
    raise ValueError(f"unknown layer source {state.source!r}")  # pragma: no cover - validation forbids it


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
def update_scene(source, dim, neurons, seed, wscale, bscale, act, v_az=None, v_el=None, w_az=None, w_el=None,
                 k=None, kmax=None):
    state, _ = state_from_controls(source=source, dim=dim, neurons=neurons, seed=seed, wscale=wscale,
                                   bscale=bscale, act=act, v_az=v_az, v_el=v_el, w_az=w_az, w_el=w_el, k=k,
                                   kmax=kmax)
    W, b, _ = layer(state)
    v, w = directions(state)
    spec = fs.scene_spec(W, b, v, w, state.k, activation=state.act, seed=state.seed)
    return spec, summary_words(state, spec["layout"]["meta"]), scene_caption(state.dim)


@callback(
    Output(ids.FIG_SCENE, "figure", allow_duplicate=True),
    Input(ids.V_AZ, "value"),
    Input(ids.V_EL, "value"),
    Input(ids.W_AZ, "value"),
    Input(ids.W_EL, "value"),
    Input(ids.K, "value"),
    State(ids.DIM, "value"),
    State(ids.KMAX, "value"),
    prevent_initial_call=True,
)
def move_markers(v_az, v_el, w_az, w_el, k, dim, kmax=None):
    """Only the directions or the scale moved: replace the scene's marker traces."""
    state, _ = state_from_controls(v_az=v_az, v_el=v_el, w_az=w_az, w_el=w_el, k=k, dim=dim, kmax=kmax)
    v, w = directions(state)
    patch = Patch()
    base = fs.SCENE_BASE_TRACES[state.dim]
    for offset, trace in enumerate(fs.scene_marker_traces(v, w, state.k)):
        patch["data"][base + offset] = trace
    return patch


def rotation_words(state: SphereState, meta: dict) -> str:
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
    return (f"{path}{plural(crossings, kind)}; the output changes by {meta['total_variation']:.3g} in total, "
            f"a total variation of {meta['tv_per_radian']:.3g} per radian; {smooth}.")


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
def update_probe(source, dim, neurons, seed, wscale, bscale, act, v_az, v_el, w_az, w_el, full):
    state, _ = state_from_controls(source=source, dim=dim, neurons=neurons, seed=seed, wscale=wscale,
                                   bscale=bscale, act=act, v_az=v_az, v_el=v_el, w_az=w_az, w_el=w_el, full=full)
    W, b, w_out = layer(state)
    v, w = directions(state)
    circle = fs.great_circle_spec(W, b, v, w, activation=state.act)
    rotation = fs.rotation_spec(W, b, w_out, v, w, activation=state.act, full_circle=state.full)
    return circle, rotation, rotation_words(state, rotation["layout"]["meta"])


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
def update_scaling(source, dim, neurons, seed, wscale, bscale, act, v_az, v_el, k, kmax):
    state, _ = state_from_controls(source=source, dim=dim, neurons=neurons, seed=seed, wscale=wscale,
                                   bscale=bscale, act=act, v_az=v_az, v_el=v_el, k=k, kmax=kmax)
    W, b, _ = layer(state)
    v, _ = directions(state)
    spec = fs.scaling_spec(W, b, v, state.kmax, k=state.k)
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
    return st.to_query(state), notice_items(notices), el_style(state.dim), el_style(state.dim)


# Keep the address bar equal to the view without re-running the page layout.
clientside_callback(
    ClientsideFunction("polyviz", "replaceQuery"),
    Output(ids.URL_SINK, "data"),
    Input(ids.QUERY, "data"),
)

clientside_callback(
    ClientsideFunction("polyviz", "currentHref"),
    Output(ids.COPY, "content"),
    Input(ids.COPY, "n_clicks"),
    prevent_initial_call=True,
)

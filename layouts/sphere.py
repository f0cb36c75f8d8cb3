"""The "Polytopes on the LayerNorm sphere" page's components: a ReLU/GELU layer's regions on
the circle (d = 3) and sphere (d = 4) that LayerNorm puts its inputs on, scaling a direction,
and rotating one direction towards another.

Components and ids only. The page's state is polyviz.pages.sphere.SphereState; its URL entry
(``layout``, which reads a trained model from the cache) is in callbacks/sphere.py and builds
the page with :func:`page`.
"""

from __future__ import annotations

import dataclasses

from dash import dcc, html

from polyviz import state as st
from polyviz.pages.sphere import (DIMS, EXPORT_FIGURES, K_RANGE, KMAX_RANGE, LAYERS, NEURONS, NO_MODEL, UPLOAD_HELP, UPLOAD_LABEL,
                                  LayerView, SphereState)
from polyviz.pages.sphere import random_note, readout_words, shown_layers, where_inputs_live
from polyviz.words import plural

from .common import (GRAPH_CONFIG, UPLOAD_STYLE, WATCHDOG_MS, ExportIds, camera_store, control, copy_link, export_row,
                     graph_card, notices_box, number_box, python_copy)

PATH = "/sphere"
SOURCE_OPTIONS = [{"label": " random layer", "value": "random"},
                  {"label": " trained model layer", "value": "trained"}]


# Component ids, so the callbacks module and the tests use the same names.
SOURCE, DIM, NEURONS_ID, SEED, WSCALE, BSCALE, ACT = (
    "sp-source", "sp-dim", "sp-neurons", "sp-seed", "sp-wscale", "sp-bscale", "sp-act")
V_AZ, V_EL, W_AZ, W_EL, K, KMAX, FULL = "sp-v-az", "sp-v-el", "sp-w-az", "sp-w-el", "sp-k", "sp-kmax", "sp-full"
V_EL_BOX, W_EL_BOX = "sp-v-el-box", "sp-w-el-box"
FIG_SCENE, FIG_CIRCLE, FIG_SCALING, FIG_ROTATION = "sp-scene", "sp-circle", "sp-scaling", "sp-rotation"
SCENE_CAPTION = "sp-scene-caption"
CAMERAS = "sp-cameras"  # the scene's camera (layouts.common.camera_store)
CAMERA_FIELDS = {FIG_SCENE: "cam"}
SUMMARY, SCALING_TEXT, ROTATION_TEXT = "sp-summary", "sp-scaling-text", "sp-rotation-text"
NOTICES, QUERY, URL_SINK, COPY = "sp-notices", "sp-query", "sp-url-sink", "sp-copy"
LIVE_LAYER, LIVE_SINK = "sp-live-layer", "sp-live-sink"  # the layer for assets/sphere.js, its no-op output
LINK_NOTICES = "sp-link-notices"  # what was wrong with the opening link, shown until the first change
MODEL_ID, LAYER_ID = "sp-model", "sp-layer"
MODEL_UPLOAD = "sp-model-upload"
SOURCE_HELP, TRAINED_BOX = "sp-source-help", "sp-trained-box"
RANDOM_BOX, RANDOM_NOTE = "sp-random-box", "sp-random-note"
# an expired or evicted trained model, retrained from the settings its link carries
RETRAIN_BOX, RETRAIN, RETRAIN_STATUS, TRAIN_QUERY = "sp-retrain-box", "sp-retrain", "sp-retrain-status", "sp-train-query"
# its job (admitted and watched like the Toy classifiers page's training job)
RETRAIN_JOB, RETRAIN_WATCHDOG = "sp-retrain-job", "sp-retrain-watchdog"
EXPORT = ExportIds("sp")

EXPLAIN = r"""
**Why directions are monosemantic for one MLP layer.** With its gain and bias folded into
the next linear map, LayerNorm is (for $\varepsilon\to 0$)

$$\mathrm{LN}(x)=\sqrt{d}\,\frac{x-\bar x\,\mathbf 1}{\lvert x-\bar x\,\mathbf 1\rvert},$$

a projection onto the hyperplane orthogonal to $(1,\dots,1)$ followed by a push onto the sphere
of radius $\sqrt d$ in it. So $\mathrm{LN}(kx)=\mathrm{LN}(x)$ for every $k>0$: the MLP only ever
sees a vector's *direction*.

A ReLU layer $\mathrm{ReLU}(Wx+b)$ cuts space into convex polytopes, one affine map each (its
*spline code* says which neurons are on). Without LayerNorm the ray $kv$ crosses neuron $i$'s
hyperplane at $k=-b_i/(w_i\cdot v)$, so one direction can meet several polytopes: it is
*polysemantic*. After LayerNorm only the pieces of the sphere matter: **arcs** of a circle for
$d=3$, **patches** bounded by circles for $d=4$. Every direction lands in exactly one of them:
for one MLP layer, each direction is *monosemantic*. Opposite directions land on opposite
points and can differ.

What this does not say: adding a second direction moves the point on the sphere, possibly into
another patch, so directions do not combine linearly. The rotation probe measures how smoothly
the output changes on the way from $v$ to $w$. GELU, $z\,\Phi(z)$, keeps ReLU's boundaries
($\Phi=\tfrac12$ at $z=0$) but blurs them: colours fade where the soft code $\Phi(z)$ is unsure.
"""

SCALING_NOTE = ("“With LayerNorm” is the ε → 0 limit, the LayerNorm sphere: LayerNorm(k·v) is the "
                "same point for every k > 0. With ε > 0, very small k (below about √(dε)/|v|) still "
                "shrink towards the origin and can cross a boundary there.")


DIM_LABELS = {3: " 3: the LayerNorm circle", 4: " 4: the LayerNorm sphere"}


def dim_options(locked: bool) -> list[dict]:
    """d's choices; a trained layer fixes d to its input width."""
    return [{"label": DIM_LABELS[d], "value": d, "disabled": locked} for d in DIMS]


def layer_options(shapes: list[tuple[int, int]] | None, shown: list[int] | None = None) -> list[dict]:
    """Layer k = 1..depth of a model whose Linear layers have these (out, in) shapes; the
    ones the page cannot draw (``shown`` lists the others: polyviz.pages.sphere.shown_layers)
    are greyed out. Without a model: 1..8."""
    if not shapes:
        return [{"label": f" {k}", "value": k} for k in range(LAYERS[0], LAYERS[1] + 1)]
    shown = [] if shown is None else shown
    return [{"label": f" {k}", "value": k, "disabled": k not in shown} for k in range(1, len(shapes))]


def shown_style(visible: bool) -> dict:
    return {"display": "block" if visible else "none"}


def random_box_style(applies: bool) -> dict:
    return {} if applies else {"opacity": 0.55}


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
                      f". W is {state.neurons} × {view.sphere.width}"
                      + ("" if view.sphere.dim == view.sphere.width else f", drawn as d = {view.sphere.dim} (see below)")
                      + f": {plural(state.neurons, 'neuron')}."]),
            html.Div(f"Readout w_out of the rotation probe: {readout_words(view)}."),
            html.Div(where_inputs_live(view)),
        ]
    if state.source == "trained":
        if view.problem == NO_MODEL:
            return ["No trained model yet: train a model on the ", dcc.Link("Toy classifiers", href="/train"),
                    " page and follow its “Open layer k on the sphere page” link, or open its downloaded .zip "
                    "below. Until then, a random layer."]
        return [html.Div(html.Div(view.problem, className="notice"), className="notices"), "Train a model on the ",
                dcc.Link("Toy classifiers", href="/train"), " page, or switch to a random layer."]
    return ["A seeded random layer: W ~ N(0, scale²/d), b ~ N(0, scale²)."]


def layer_controls(view: LayerView) -> dict:
    """How the layer controls look for the layer drawn (``page`` and the callback that
    follows the source, model and layer controls share it): a trained layer fixes d and
    switches off the random layer's settings."""
    locked = view.trained
    return {
        "dim": view.state.dim,
        "locked": locked,
        "seed_locked": locked and view.readout != "random",
        "random_note": random_note(view),
        "shapes": view.model.shapes if view.model is not None else None,
        "shown": shown_layers(view.model) if view.model is not None else None,
        "source_help": source_help(view),
        "trained_box": shown_style(view.state.source == "trained"),
    }


def _slider(cid, lo, hi, step, value, marks, **extra):
    return dcc.Slider(id=cid, min=lo, max=hi, step=step, value=value, marks=marks, updatemode="mouseup",
                      tooltip={"placement": "bottom", "always_visible": False}, **extra)


def angle_marks() -> dict:
    return {a: f"{a}°" for a in range(0, 361, 90)}


def elevation_marks() -> dict:
    return {a: f"{a}°" for a in (-90, -45, 0, 45, 90)}


def k_marks(kmax: float) -> dict:
    """Slider marks for k in (0, kmax]: a few round numbers, kmax itself last."""
    step = next((s for s in (0.5, 1, 2, 5, 10, 20) if kmax / s <= 5), 25)
    marks = {}
    value = step
    while value < kmax - 0.25 * step:
        marks[value if value != int(value) else int(value)] = f"{value:g}"
        value += step
    marks[kmax if kmax != int(kmax) else int(kmax)] = f"{kmax:g}"
    return marks


def scene_caption(dim: int, sphere=None) -> str:
    """What the scene shows; ``sphere``: a trained layer's input sphere (InputSphere)."""
    if sphere is not None:
        where = ("" if sphere.dim == 3 else
                 " (drawn at unit scale" + (" in its Helmert axes)" if sphere.kind == "layernorm" else
                                            " in the activations' own axes)"))
        return (f"The model's data on {sphere.words()}{where}: the training points where {sphere.feeder} puts "
                f"them, blue class 0 and red class 1, and the layer's neurons cutting it, regions coloured by "
                f"spline code. Black: v; red: the great-circle path to w.")
    if dim == 3:
        return ("Raw vectors (grey) and where LayerNorm sends them: the circle of radius √3 in the plane ⟂ (1, 1, 1). "
                "Grey lines: the neurons' hyperplanes cutting that plane; the circle's arcs are coloured by spline "
                "code. Black: the ray k·v, which crosses hyperplanes, and its one LayerNorm image v; red: the path "
                "to w.")
    return ("The LayerNorm sphere S² (the radius-2 sphere in the hyperplane ⟂ (1, 1, 1, 1) of R⁴, drawn at unit "
            "scale in its Helmert axes), coloured by region, with every neuron's boundary circle. Black: v = "
            "LayerNorm(k·v) for every k; red: the great-circle path to w.")


def el_style(dim: int) -> dict:
    """Elevation only means something on the sphere (d = 4)."""
    return {"display": "block" if dim == 4 else "none"}


def page(state: SphereState, notices: list[str], view: LayerView, retrainable: bool = False) -> html.Div:
    """The page for a valid state and the layer it names (``view``: a trained layer sets d).
    ``retrainable``: the model is not cached, and the link's ``train`` settings train it."""
    controls = layer_controls(view)
    locked = controls["locked"]
    state = dataclasses.replace(state, dim=controls["dim"])
    shown_notices = notices + ([view.notice] if view.notice else [])
    layer_widgets = [
        html.H3("The layer", className="section"),
        control("Source", dcc.RadioItems(id=SOURCE, value=state.source, options=SOURCE_OPTIONS, className="radio")),
        html.Div(controls["source_help"], id=SOURCE_HELP, className="control-help sp-source-help",
                 style={"marginTop": "-6px", "marginBottom": "10px"}),
        html.Div([html.Button("Retrain this model", id=RETRAIN, className="primary", n_clicks=0),
                  html.Div(id=RETRAIN_STATUS, className="control-help", role="status"),
                  dcc.Store(id=RETRAIN_JOB),
                  dcc.Interval(id=RETRAIN_WATCHDOG, interval=WATCHDOG_MS, disabled=True)],
                 id=RETRAIN_BOX, style=shown_style(retrainable)),
        html.Div([
            control("Model id", dcc.Input(id=MODEL_ID, type="text", value=state.model, debounce=True,
                                          placeholder="40 hex digits, from a Toy classifiers link",
                                          spellCheck=False, style={"width": "100%", "fontFamily": "monospace",
                                                                    "fontSize": "11.5px"}),
                    control_id=MODEL_ID),
            control("Layer k", dcc.RadioItems(id=LAYER_ID, value=state.layer, inline=True, className="radio",
                                              options=layer_options(controls["shapes"], controls["shown"])),
                    "The Linear map after hidden layer k (the last one is the output layer)."),
            dcc.Upload(id=MODEL_UPLOAD, children=html.Div([UPLOAD_LABEL, ": drop it here or ", html.A("choose it")]),
                       className="upload", multiple=False, accept=".zip,application/zip", style=UPLOAD_STYLE),
            html.Div(UPLOAD_HELP, className="control-help"),
        ], id=TRAINED_BOX, style=controls["trained_box"]),
        control("Residual dimension d", dcc.RadioItems(
            id=DIM, value=state.dim, inline=True, className="radio", options=dim_options(locked))),
        control("Activation", dcc.RadioItems(
            id=ACT, value=state.act, inline=True, className="radio",
            options=[{"label": " ReLU", "value": "relu"}, {"label": " GELU (soft codes)", "value": "gelu"}]),
                "Applied to the layer's pre-activations W x + b."),
        html.Div([
            html.Div(controls["random_note"], id=RANDOM_NOTE, className="control-help"),
            control("Neurons", _slider(NEURONS_ID, *NEURONS, 1, state.neurons,
                                       {1: "1", 8: "8", 16: "16", 32: "32", 48: "48", 64: "64"}, disabled=locked),
                    control_id=NEURONS_ID),
            control("Weight scale", _slider(WSCALE, 0.1, 4.0, 0.05, state.wscale, {0.1: "0.1", 1: "1", 2: "2",
                                                                                   3: "3", 4: "4"}, disabled=locked),
                    "W ~ N(0, scale²/d): w·x is of order the scale on the sphere of radius √d.", WSCALE),
            control("Bias scale", _slider(BSCALE, 0.0, 2.0, 0.05, state.bscale, {0: "0", 0.5: "0.5", 1: "1", 2: "2"},
                                          disabled=locked),
                    "b ~ N(0, scale²). With 0 every boundary is a great circle.", BSCALE),
            control("Seed", number_box(SEED, state.seed, disabled=controls["seed_locked"]),
                    "Of the random layer (and of the random readout).", SEED),
        ], id=RANDOM_BOX, style=random_box_style(not locked)),
    ]
    direction_controls = [
        html.H3("Directions", className="section"),
        html.Div("v and w are unit vectors of the LayerNorm plane (orthogonal to (1, …, 1)), by angle in "
                 "its Helmert axes.", className="control-help"),
        control("v: azimuth", _slider(V_AZ, 0, 360, 1, state.v_az, angle_marks()), control_id=V_AZ),
        html.Div(control("v: elevation", _slider(V_EL, -90, 90, 1, state.v_el, elevation_marks()), control_id=V_EL),
                 id=V_EL_BOX, style=el_style(state.dim)),
        control("Scale k of v", _slider(K, K_RANGE[0], state.kmax, 0.01, state.k, k_marks(state.kmax)),
                "Where k·v lies, with and without LayerNorm.", K),
        control("Largest scale K", _slider(KMAX, KMAX_RANGE[0], KMAX_RANGE[1], 0.5, state.kmax,
                                           {0.5: "0.5", 10: "10", 20: "20", 30: "30", 40: "40", 50: "50"}),
                "The scaling chart counts codes for k in (0, K].", KMAX),
        control("w: azimuth", _slider(W_AZ, 0, 360, 1, state.w_az, angle_marks()), control_id=W_AZ),
        html.Div(control("w: elevation", _slider(W_EL, -90, 90, 1, state.w_el, elevation_marks()), control_id=W_EL),
                 id=W_EL_BOX, style=el_style(state.dim)),
        dcc.Checklist(id=FULL, options=[{"label": " rotate a full turn (past w, back to v)", "value": "full"}],
                      value=["full"] if state.full else [], className="radio"),
    ]
    controls = html.Div(
        [
            html.H2("Polytopes on the LayerNorm sphere"),
            notices_box(shown_notices, NOTICES),  # at the top of the controls, where the user looks
            html.P(["A layer ", html.B("act(W x + b)"), " cuts space into polytopes. LayerNorm puts every input "
                    "on a sphere, so only the pieces of that sphere matter — and scaling a direction never "
                    "leaves its piece."], className="lede"),
            *layer_widgets,
            *direction_controls,
            copy_link(COPY),
            python_copy("sp"),
            export_row(EXPORT, EXPORT_FIGURES, "scene"),
            dcc.Store(id=QUERY, data=st.to_query(state)),
            dcc.Store(id=URL_SINK),
            camera_store(CAMERAS, state, CAMERA_FIELDS),
            dcc.Store(id=LIVE_LAYER),
            dcc.Store(id=LIVE_SINK),
            dcc.Store(id=LINK_NOTICES, data=notices),
            dcc.Store(id=TRAIN_QUERY, data=state.train),
        ],
        className="sidebar",
    )
    panels = html.Div(
        [
            html.Div(id=SUMMARY, className="sp-summary", role="status"),
            html.Div(
                [
                    html.Div([dcc.Graph(id=FIG_SCENE, config=GRAPH_CONFIG, style={"height": "460px"}),
                              html.Div(scene_caption(state.dim), id=SCENE_CAPTION, className="caption")],
                             className="card"),
                    graph_card(FIG_CIRCLE, "The great circle through v towards w, unrolled: every neuron's "
                                           "pre-activation against the angle from v, zero crossings in red, arcs "
                                           "shaded by code; below, which neurons are on (Φ(z) for GELU).",
                               height=460),
                    html.Div([
                        graph_card(FIG_SCALING, "Spline codes met by k·v for k in (0, K]: without LayerNorm "
                                                "(red) and with it (blue).", height=330),
                        html.Div(id=SCALING_TEXT, className="sp-words"),
                        html.Div(SCALING_NOTE, className="caption"),
                    ], className="sp-stack"),
                    html.Div([
                        graph_card(FIG_ROTATION, "The MLP output act(W x + b)·w_out while LayerNorm(v) rotates "
                                                 "towards LayerNorm(w) on the sphere, and |d output / d angle| "
                                                 "below; red dots: boundary crossings.", height=330),
                        html.Div(id=ROTATION_TEXT, className="sp-words"),
                    ], className="sp-stack"),
                ],
                className="panels",
            ),
            # typeset with the page (eager), as on /stretch-fold: see layouts/stretch_fold.py
            html.Div([html.H3("What you are seeing"), dcc.Markdown(EXPLAIN, id="sp-explain-text", mathjax=True)],
                     className="explain sp-explain"),
        ],
    )
    return html.Div([controls, panels], className="page two-col sphere-page")

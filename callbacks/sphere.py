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

``layout`` is the page's URL entry: the validated query, built by ``layouts.sphere.page``.

Each validates its raw widget values with ``st.validate(SphereState, raw)`` (notices are
shown once, by ``update_query``) and calls polyviz for the figures and their words
(polyviz.pages.sphere: the figures are its scene_figure, probe_figures and scaling_figure, the
ones a notebook's sphere_figures makes). The layer itself comes from :func:`load_view`: a seeded random
layer, or Linear layer ``layer`` of a model trained on the Toy classifiers page, read from
the shared cache by its id.
"""

from __future__ import annotations

import dataclasses

import flask
import numpy as np
from dash import ClientsideFunction, Input, Output, Patch, State, callback, clientside_callback, no_update

from callbacks.common import (camera_of, camera_patch, export_callback, is_figure, sync_url_and_copy_link, unknown_figure,
                              with_link_notices)
from layouts import sphere as ids
from layouts.common import notice_items
from layouts.sphere import (dim_options, el_style, k_marks, layer_controls, layer_options, random_box_style,
                            scene_caption)
from polyviz import exports
from polyviz.figures import sphere as fs
from polyviz.figures import with_camera
from polyviz import state as st
from polyviz.pages.sphere import (EXPORT_FIGURES, FIGURE_BUILDERS, LayerView, SphereState, TrainedModel,
                                  directions, file_stem, layer_view, probe_figures, random_view, ray_layer,
                                  readout_words, rotation_words, scaling_figure, scaling_words, scene_figure,
                                  shown_layers, summary_text, UPLOAD_MAX_BYTES, UPLOAD_OUTAGE, upload_refused)
from polyviz.records import read_model_zip
from polyviz.userdata import decode_upload
from services import cache, data_store, jobs, run_store

OUTAGE = ("the shared cache (Redis) cannot be reached right now, so the trained model cannot be read; it is "
          "probably still there: reload in a moment. Showing a random layer until then.")

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

def trained_model(model_id: str) -> TrainedModel | None:
    """The cached model with this id, or None (empty or unknown id, expired run). Loading is
    one cache read and a small safetensors decode (about a millisecond; a model of your own
    data reads that data too), so every callback reads it afresh: any worker sees the same
    model, and a retrained run is never stale."""
    if not model_id:
        return None
    run = run_store.load_run(model_id, required=True)  # an outage is not "not found"
    if run is not None:
        own = run.data.user_data_hash  # trained on your own data: its points come from the data store
        return TrainedModel.from_run(model_id, run, user=data_store.load_data(own, required=True) if own else None)
    params = run_store.load_uploaded_model(model_id, required=True)  # a model opened from its .zip
    return None if params is None else TrainedModel.from_upload(model_id, params)


def load_view(state: SphereState) -> LayerView:
    """The layer the state names, reading its trained model (if it names one) from the cache.
    A model that is not cached can be retrained when the state's ``train`` settings train it."""
    if state.source != "trained" or not state.model:
        return layer_view(state, None)
    try:
        model = trained_model(state.model)
    except cache.CacheUnavailable:
        return random_view(state, OUTAGE)
    if model is None and state.train and run_store.retrain_state(state.model, state.train) is None:
        state = dataclasses.replace(state, train="")  # settings of another model: nothing to retrain
    return layer_view(state, model)


def retrainable(state: SphereState, view: LayerView) -> bool:
    return bool(view.model is None and view.state.train and view.problem != OUTAGE and state.source == "trained")


RETRAINED = ("This model had expired or been evicted from the cache: it was trained again from the settings "
             "this link carries (the same settings give the same weights).")


def layout(retrained=None, **query):
    """The /sphere page for a URL query (app.py registers it): every control starts from the
    validated query and, for a trained layer, from that layer (d follows its input width).
    ``retrained=1``: the retrain button brought us here, and the page says so."""
    state, notices = st.from_query(SphereState, query)
    view = load_view(state)
    if retrained == "1" and view.trained:
        notices = [RETRAINED] + notices
    return ids.page(state, notices, view, retrainable=retrainable(state, view))


def retrained_href(key: str, layer, train_query: str) -> str:
    """This link again, for the retrained run (the page then says it was retrained)."""
    layer = layer if isinstance(layer, int) and not isinstance(layer, bool) else 1
    return run_store.sphere_href(key, layer, train_query) + "&retrained=1"


NOT_RETRAINABLE = "This link carries no training settings for this model, so it cannot be retrained here."


@callback(
    Output("_pages_location", "href", allow_duplicate=True),
    Output(ids.NOTICES, "children", allow_duplicate=True),
    Input(ids.MODEL_UPLOAD, "contents"),
    prevent_initial_call=True,
)
def open_uploaded_model(contents):
    """A model .zip from the upload box: read on the server (polyviz.records.read_model_zip:
    sizes capped, only its two members, nothing unpickled), kept in the cache by content
    hash, and opened at its first layer the page can draw, like a trained model's link; or the page's notices
    say what is wrong with the file."""
    if contents is None:  # no file (the box of a page the router just rendered)
        return no_update, no_update
    try:
        params = read_model_zip(decode_upload(contents, UPLOAD_MAX_BYTES), UPLOAD_MAX_BYTES)
    except ValueError as error:  # polyviz.userdata.UserDataError is one too
        return no_update, notice_items([upload_refused(str(error))])
    try:
        model = run_store.store_uploaded_model(params)
    except cache.CacheUnavailable:
        return no_update, notice_items([upload_refused(UPLOAD_OUTAGE)])
    shown = shown_layers(TrainedModel.from_upload(model, params))
    return run_store.sphere_href(model, shown[0] if shown else 1), no_update


@callback(
    Output(ids.RETRAIN_JOB, "data"),
    Output(ids.RETRAIN_STATUS, "children"),
    Output(ids.RETRAIN_WATCHDOG, "disabled"),
    Output("_pages_location", "href", allow_duplicate=True),
    Input(ids.RETRAIN, "n_clicks"),
    State(ids.MODEL_ID, "value"),
    State(ids.TRAIN_QUERY, "data"),
    State(ids.LAYER_ID, "value"),
    prevent_initial_call=True,
)
def start_retrain(clicks, model, train_query, layer):
    """Retrain the link's model as the Toy classifiers page trains one (services.jobs.enqueue:
    admitted by services/admission.py, watched by the watchdog); a run cached meanwhile (another
    tab retrained it) is reopened at once."""
    if not clicks:  # Dash calls it when the page's content arrives (an output is outside it): no press yet
        return no_update, no_update, no_update, no_update
    state = run_store.retrain_state(model, train_query)
    if state is None:
        return no_update, NOT_RETRAINABLE, True, no_update
    try:
        key = jobs.cached_run(state)
    except cache.CacheUnavailable:
        return no_update, jobs.UNAVAILABLE, True, no_update
    if key is not None:
        return no_update, jobs.TRAIN.cached_words, True, retrained_href(key, layer, train_query)
    started = jobs.enqueue(state, jobs.TRAIN, flask.request)
    return started.job or no_update, started.words, started.job is None, no_update


@callback(
    Output("_pages_location", "href", allow_duplicate=True),
    Output(ids.RETRAIN_STATUS, "children", allow_duplicate=True),
    Output(ids.RETRAIN_WATCHDOG, "disabled", allow_duplicate=True),
    Input(ids.RETRAIN_JOB, "data"),
    State(ids.MODEL_ID, "value"),
    State(ids.TRAIN_QUERY, "data"),
    State(ids.LAYER_ID, "value"),
    background=True,
    progress=[Output(ids.RETRAIN_STATUS, "children")],
    running=[(Output(ids.RETRAIN, "disabled"), True, False)],
    interval=500,
    prevent_initial_call=True,
)
def retrain_model(set_progress, job, model, train_query, layer):
    """The training job (the Toy classifiers page's), then this link again: the model is cached
    again and the page says it was retrained. Its progress words go to the status line."""
    if job is None:  # no press yet (see start_retrain)
        return no_update, no_update, no_update
    outcome = jobs.run_job(job, jobs.TRAIN, lambda values: set_progress(values[1]))
    if outcome.key is None or run_store.model_id(outcome.key) != model:
        return no_update, outcome.status, True
    return retrained_href(outcome.key, layer, train_query), outcome.status, True


jobs.on_lost(retrain_model, lambda words: [no_update, words, True])


@callback(
    Output(ids.RETRAIN_STATUS, "children", allow_duplicate=True),
    Output(ids.RETRAIN_WATCHDOG, "disabled", allow_duplicate=True),
    Output(ids.RETRAIN, "disabled", allow_duplicate=True),
    Input(ids.RETRAIN_WATCHDOG, "n_intervals"),
    State(ids.RETRAIN_JOB, "data"),
    prevent_initial_call=True,
)
def retrain_watchdog(_n, job):
    return jobs.watchdog_outputs(job, when_lost=(False,))


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
    State(ids.CAMERAS, "data"),
)
def update_scene(source, dim, neurons, seed, wscale, bscale, act, model=None, layer=None, v_az=None, v_el=None,
                 w_az=None, w_el=None, k=None, kmax=None, cameras=None):
    state, _ = state_from_controls(source=source, dim=dim, neurons=neurons, seed=seed, wscale=wscale,
                                   bscale=bscale, act=act, model=model, layer=layer, v_az=v_az, v_el=v_el,
                                   w_az=w_az, w_el=w_el, k=k, kmax=kmax)
    view = load_view(state)
    spec = with_camera(scene_figure(view), camera_of(cameras, ids.CAMERA_FIELDS[ids.FIG_SCENE]))
    return spec, summary_text(view, spec["layout"]["meta"]), scene_caption(view.state.dim, view.sphere)


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
    State(ids.CAMERAS, "data"),
    prevent_initial_call=True,
)
def move_markers(v_az, v_el, w_az, w_el, k, dim, kmax=None, source=None, model=None, layer=None, cameras=None):
    """Only the directions or the scale moved: replace the scene's marker traces."""
    state, _ = state_from_controls(v_az=v_az, v_el=v_el, w_az=w_az, w_el=w_el, k=k, dim=dim, kmax=kmax,
                                   source=source, model=model, layer=layer)
    if state.source == "trained":  # d is the trained layer's input width (the scene was drawn for it)
        state = dataclasses.replace(state, dim=load_view(state).state.dim)
    v, w = directions(state)
    patch = Patch()
    base = fs.SCENE_BASE_TRACES[state.dim]
    for offset, trace in enumerate(fs.scene_marker_traces(v, w, state.k)):
        patch["data"][base + offset] = trace
    return camera_patch(patch, camera_of(cameras, ids.CAMERA_FIELDS[ids.FIG_SCENE]))


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
    view = load_view(state)
    circle, rotation = probe_figures(view)
    readout = readout_words(view) if view.trained else None
    surface = view.sphere.surface if view.trained and view.sphere.kind != "layernorm" else None
    return circle, rotation, rotation_words(view.state, rotation["layout"]["meta"], readout, surface)


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
    view = load_view(state)
    spec = scaling_figure(view)
    return spec, scaling_words(view.state, spec["layout"]["meta"], view.sphere)


@callback(
    Output(ids.LIVE_LAYER, "data"),
    *LAYER_INPUTS,
)
def live_layer(source, dim, neurons, seed, wscale, bscale, act, model=None, layer=None):
    """The layer drawn, for the browser-side repaint while v, w or k is dragged
    (assets/sphere.js): weights, readout, activation, d, and the colours of the codes."""
    state, _ = state_from_controls(source=source, dim=dim, neurons=neurons, seed=seed, wscale=wscale,
                                   bscale=bscale, act=act, model=model, layer=layer)
    view = load_view(state)
    W_ray, _ = ray_layer(view)
    return dict(W=view.W.tolist(), b=view.b.tolist(), w_out=np.asarray(view.w_out, dtype=float).tolist(),
                W_ray=np.asarray(W_ray, dtype=float).tolist(), act=view.state.act, dim=view.state.dim,
                g=fs.neuron_multipliers(view.W.shape[0]).tolist(), palette=list(fs.PALETTE),
                colours=dict(v=fs.V_COLOUR, w=fs.W_COLOUR, note=fs.NOTE))


# While v, w or k is dragged the browser repaints the markers, the path and the probes from
# the layer above (no round trip); the server callbacks redraw everything on release.
clientside_callback(
    ClientsideFunction("polyviz", "spLive"),
    Output(ids.LIVE_SINK, "data"),
    *[Input(cid, "drag_value") for cid in (ids.V_AZ, ids.V_EL, ids.W_AZ, ids.W_EL, ids.K)],
    *[State(cid, "value") for cid in (ids.V_AZ, ids.V_EL, ids.W_AZ, ids.W_EL, ids.K, ids.KMAX, ids.FULL)],
    State(ids.LIVE_LAYER, "data"),
    prevent_initial_call=True,
)


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
    State(ids.TRAIN_QUERY, "data"),
)
def update_query(*values):
    raw, link_notices = values[:len(ALL_FIELDS)], values[len(ALL_FIELDS)] if len(values) > len(ALL_FIELDS) else None
    train = values[len(ALL_FIELDS) + 1] if len(values) > len(ALL_FIELDS) + 1 else None
    # the link's training settings stay in the address bar while they belong to the model shown
    state, notices = state_from_controls(**dict(zip(ALL_FIELDS, raw)), train=train)
    notices = with_link_notices(notices, link_notices)
    view = load_view(state)
    if view.notice:  # a trained layer that cannot be shown, and why
        notices = notices + [view.notice]
    dim = view.state.dim
    state = dataclasses.replace(state, dim=dim, train=view.state.train)
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
    c = layer_controls(load_view(state))
    locked = c["locked"]
    new_dim = c["dim"] if locked and c["dim"] != dim else no_update
    return (new_dim, dim_options(locked), locked, locked, locked, c["seed_locked"], c["random_note"],
            random_box_style(not locked), c["source_help"], c["trained_box"], layer_options(c["shapes"], c["shown"]))


# Keep the address bar equal to the view without re-running the page layout.
sync_url_and_copy_link(ids.QUERY, ids.URL_SINK, ids.COPY, ids.CAMERAS, ids.CAMERA_FIELDS)


def export_file(kind: str, which, query: str):
    """(content, filename) of a figure's export for the page's canonical query (its layer read
    as the page reads it), or words."""
    if not is_figure(which, EXPORT_FIGURES):
        return unknown_figure(which, EXPORT_FIGURES)
    state, _ = st.from_query(SphereState, query)
    view = load_view(state)
    spec = FIGURE_BUILDERS[which](view)
    stem = f"{file_stem(view)}-{which}"
    if kind == "csv":
        return exports.sphere_csv(which, spec, view.W, view.b), exports.safe_filename(stem, "csv")
    title = f"polyviz · LayerNorm sphere · {EXPORT_FIGURES[which]} · {stem}"
    spec = with_camera(spec, state.cam) if which == "scene" else spec  # the scene is the 3-D one
    return exports.figure_html(spec, title), exports.safe_filename(stem, "html")


export = export_callback(ids.EXPORT, ids.QUERY, export_file, ids.CAMERAS)

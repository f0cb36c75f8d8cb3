"""Callbacks of the Toy classifiers page (the seed sweep's are in callbacks/sweep.py).

What happens on Train
---------------------
* ``start_training`` (Train, or a click on a seed in the sweep): when the run is cached it is
  shown; otherwise :func:`services.jobs.enqueue` admits the job (services/admission.py: the
  per-client caps and the queue; a refusal is shown in words), its payload goes into the
  TRAIN_JOB store with a "queued" heartbeat, and the watchdog is switched on.
* ``train_job`` (a Dash background callback on TRAIN_JOB) is one call:
  ``jobs.job_outputs(job, jobs.TRAIN, set_progress)``: it waits for a slot, trains, reports
  progress, caches the run and answers with its key (RESULT_KEY).
* ``render_results`` (RESULT_KEY) reads the cached run and draws its figures
  (:func:`polyviz.pages.train.run_figures`).
* ``train_watchdog`` (an Interval, on while a job should run) reports a lost job in words.

``sync_state`` (every control change) validates the controls, writes the canonical query
(the address bar follows it) and the run's key, and shows the run at once when it is cached.
"""

from __future__ import annotations

import logging
import math

import flask
from dash import Input, Output, State, callback, dcc, html, no_update

from callbacks.common import camera_of, sync_url_and_copy_link, triggered_id, with_link_notices
from layouts import train as ids
from layouts.common import notice_items
from polyviz import exports
from polyviz import state as st
from polyviz.figures import with_camera
from polyviz.pages import train as train_page
from polyviz.pages.train import PRESETS, TrainState
from services import cache, data_store, jobs, run_store

log = logging.getLogger("polyviz.train")

CONTROL_INPUTS = [Input(cid, "value") for cid in ids.CONTROL_IDS.values()]
CONTROL_STATES = [State(cid, "value") for cid in ids.CONTROL_IDS.values()]
N_CONTROLS = len(ids.CONTROL_IDS)


def clicked_seed(click) -> int | None:
    """The seed of a clicked sweep point (its customdata), or None."""
    try:
        value = click["points"][0]["customdata"]
    except (TypeError, KeyError, IndexError):
        return None
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    if value != int(value) or not 0 <= value <= train_page.SEED_MAX:
        return None
    return int(value)


@callback(
    Output(ids.NOTICES, "children"),
    Output(ids.QUERY, "data"),
    Output(ids.RUN_KEY, "data"),
    Output(ids.RESULT_KEY, "data"),
    Output(ids.SWEEP_KEY, "data"),
    Output(ids.HINT, "children"),
    Output(ids.RESULTS, "className"),
    *CONTROL_INPUTS,
    State(ids.LINK_NOTICES, "data"),
    State(ids.SHOWN_KEY, "data"),
    State(ids.TRAIN, "disabled"),
)
def sync_state(*args):
    controls, (link_notices, shown, running) = args[:N_CONTROLS], args[N_CONTROLS:]
    state, notices = train_page.state_from_controls(*controls)
    resolved = train_page.resolve(state, data_store.load_data)
    state, user, problem = resolved.state, resolved.user, resolved.problem
    notices = with_link_notices(notices + resolved.notices + ([problem] if problem else []), link_notices)
    key = run_store.run_key(state.training_fields())
    try:  # the job runner's own look-ups (a sweep seed's run is written once, when first opened)
        cached, sweep_key, available = jobs.cached_run(state) is not None, jobs.cached_sweep(state), True
    except cache.CacheUnavailable:
        cached, sweep_key, available = False, None, False
    result_key = key if cached and shown != key else no_update
    sweep_key = no_update if sweep_key is None else sweep_key
    if not available:
        hint = "Training is unavailable right now: the shared cache cannot be reached."
    elif cached:
        hint = "These settings were trained before: their results are shown."
    elif running is True or problem:
        hint = ""
    else:
        hint = f"Not trained yet with these settings: press Train ({train_page.duration_words(state, user)})."
    stale = not cached and isinstance(shown, str) and shown != key
    return (notice_items(notices), st.to_query(state), key, result_key, sweep_key, hint,
            "panels results stale" if stale else "panels results")


@callback(
    Output(ids.TRAIN_JOB, "data"),
    Output(ids.RESULT_KEY, "data", allow_duplicate=True),
    Output(ids.STATUS, "children", allow_duplicate=True),
    Output(ids.SEED, "value", allow_duplicate=True),
    Output(ids.ORIGIN, "value", allow_duplicate=True),
    Output(ids.TRAIN_WATCHDOG, "disabled", allow_duplicate=True),
    Output(ids.PROGRESS, "value", allow_duplicate=True),
    Output(ids.HINT, "children", allow_duplicate=True),
    Input(ids.TRAIN, "n_clicks"),
    Input(ids.FIG_SWEEP, "clickData"),
    *CONTROL_STATES,
    State(ids.SHOWN_KEY, "data"),
    prevent_initial_call=True,
)
def start_training(_clicks, click, *args):
    controls, shown = args[:N_CONTROLS], args[N_CONTROLS]
    raw = train_page.raw_controls(*controls)
    seed = origin = no_update
    if triggered_id() == ids.FIG_SWEEP:
        seed = clicked_seed(click)
        if seed is None:
            return (no_update,) * 8
        raw["seed"] = seed
        raw["origin"] = "sweep"  # the model whose numbers the sweep showed, not a retrained one
    state, _ = st.validate(TrainState, raw)
    if seed is not no_update:
        origin = state.origin
    resolved = train_page.resolve(state, data_store.load_data)
    state = resolved.state
    if resolved.problem:  # in words, and no job
        return no_update, no_update, resolved.problem, seed, origin, True, "0", no_update
    try:
        key = jobs.cached_run(state)
    except cache.CacheUnavailable:
        return no_update, no_update, jobs.UNAVAILABLE, seed, origin, True, "0", no_update
    if key is not None:
        return (no_update, key if key != shown else no_update, train_page.opened_words(state), seed, origin, True,
                "100", no_update)
    started = jobs.enqueue(state, jobs.TRAIN, flask.request)
    if started.job is None:  # refused (a flood from one client, a full queue) or unavailable: say so
        return no_update, no_update, started.words, seed, origin, True, no_update if started.refused else "0", no_update
    return started.job, no_update, started.words, seed, origin, False, "0", ""


@callback(
    Output(ids.RESULT_KEY, "data", allow_duplicate=True),
    Output(ids.STATUS, "children", allow_duplicate=True),
    Output(ids.PROGRESS, "value", allow_duplicate=True),
    Output(ids.TRAIN_WATCHDOG, "disabled", allow_duplicate=True),
    Input(ids.TRAIN_JOB, "data"),
    background=True,
    progress=[Output(ids.PROGRESS, "value"), Output(ids.LIVE, "children"), Output(ids.FIG_CURVES, "figure")],
    running=[(Output(ids.TRAIN, "disabled"), True, False), (Output(ids.CANCEL, "disabled"), False, True),
             (Output(ids.LIVE, "style"), {"display": "block"}, {"display": "none"})],
    cancel=[Input(ids.CANCEL, "n_clicks")],
    interval=500,
    prevent_initial_call=True,
)
def train_job(set_progress, job):
    return jobs.job_outputs(job, jobs.TRAIN, set_progress)


# a lost job's poll ends with its words (services/jobs.py, the managers' get_result)
jobs.on_lost(train_job)


@callback(
    Output(ids.STATUS, "children", allow_duplicate=True),
    Output(ids.TRAIN_WATCHDOG, "disabled", allow_duplicate=True),
    Output(ids.PROGRESS, "value", allow_duplicate=True),
    Input(ids.CANCEL, "n_clicks"),
    State(ids.TRAIN_JOB, "data"),
    prevent_initial_call=True,
)
def cancel_training(_clicks, job):
    return jobs.cancel(job, jobs.TRAIN), True, "0"


@callback(
    Output(ids.STATUS, "children", allow_duplicate=True),
    Output(ids.TRAIN_WATCHDOG, "disabled"),
    Output(ids.TRAIN, "disabled"),
    Output(ids.CANCEL, "disabled"),
    Output(ids.LIVE, "style", allow_duplicate=True),
    Input(ids.TRAIN_WATCHDOG, "n_intervals"),
    State(ids.TRAIN_JOB, "data"),
    prevent_initial_call=True,
)
def train_watchdog(_n, job):
    # a lost job: Train back, Cancel off, and its last progress line (it would contradict the verdict) hidden
    return jobs.watchdog_outputs(job, when_lost=(False, True, {"display": "none"}))


# -- results ----------------------------------------------------------------------------------
def summary_children(run, state: TrainState, split: tuple[int, int] | None = None) -> list:
    summary = train_page.run_summary(run, state, split)
    children = [html.Div([html.B(summary.accuracy), summary.metrics], className="summary-metrics"),
                html.Div(summary.setup, className="summary-config")]
    if summary.note:
        children.append(html.Div(summary.note, className="notice"))
    return children


def sphere_links(key: str, config, query: str = "") -> list:
    """Links to the layers the sphere page draws; they carry the run's /train query, so they
    retrain it if it has expired or been evicted."""
    links, note = train_page.sphere_link_words(config)
    return [html.Span("Layers: ", className="control-help"),
            *[dcc.Link(words, href=run_store.sphere_href(key, k, query), className="sphere-link") for k, words in links],
            html.Div(note, className="control-help")]


@callback(
    Output(ids.FIG_CURVES, "figure"),
    Output(ids.FIG_BOUNDARY, "figure"),
    Output(ids.FIG_ANIM, "figure"),
    Output(ids.FIG_CKPT, "figure"),
    Output(ids.FIG_CONFUSION, "figure"),
    Output(ids.CONFUSION_CARD, "style"),
    Output(ids.SUMMARY, "children"),
    Output(ids.LINKS, "children"),
    Output(ids.DOWNLOAD_BUTTON, "disabled"),
    Output(ids.SHOWN_KEY, "data"),
    Output(ids.RESULTS, "className", allow_duplicate=True),
    Output(ids.HINT, "children", allow_duplicate=True),
    Input(ids.RESULT_KEY, "data"),
    State(ids.RUN_KEY, "data"),
    State(ids.CAMERAS, "data"),
    prevent_initial_call=True,
)
def render_results(key, run_key, cameras=None):
    try:
        run = run_store.load_run(key, required=True)
    except cache.CacheUnavailable:  # an outage, not "not found"
        return (no_update,) * 6 + (jobs.UNAVAILABLE, [], True, no_update, no_update, no_update)
    if run is None:
        if run_store.key_from_id(key) is None:  # nothing to show (or not a run key at all)
            return (no_update,) * 12
        return ((no_update,) * 6 + ("This run is no longer in the cache: press Train to train it again.",
                                    [], True, no_update, no_update, no_update))
    resolved = train_page.resolve(st.validate(TrainState, run.fields)[0], data_store.load_data)
    if resolved.data_gone:
        return (no_update,) * 6 + (train_page.RUN_DATA_GONE, [], True, no_update, no_update, no_update)
    state, user = resolved.state, resolved.user
    try:
        data = train_page.load_data(state, user)
        specs = train_page.run_figures(state, run, data, user)
    except Exception:  # a damaged record: say so, train again
        log.exception("cached run %s could not be drawn", key)
        return ((no_update,) * 6 + ("This run's cached record could not be read: press Train to train it again.",
                                    [], True, no_update, no_update, no_update))
    full_key = run_store.key_from_id(key)
    stale = isinstance(run_key, str) and run_key != full_key
    confusion = specs["confusion"]
    boundary, animation, checkpoints = (with_camera(specs[name], camera_of(cameras, ids.CAMERA_FIELDS[graph_id]))
                                        for name, graph_id in (("boundary", ids.FIG_BOUNDARY),
                                                               ("animation", ids.FIG_ANIM),
                                                               ("checkpoints", ids.FIG_CKPT)))
    return (specs["curves"], boundary, animation, checkpoints,
            confusion if confusion is not None else no_update, {"display": "none" if confusion is None else "block"},
            summary_children(run, state, (len(data[2]), len(data[3]))), sphere_links(full_key, run.config, run.query), False,
            full_key, "panels results stale" if stale else "panels results",
            "The results below are for earlier settings; press Train for these." if stale else no_update)


@callback(
    Output(ids.DOWNLOAD, "data"),
    Output(ids.STATUS, "children", allow_duplicate=True),
    Input(ids.DOWNLOAD_BUTTON, "n_clicks"),
    State(ids.SHOWN_KEY, "data"),
    prevent_initial_call=True,
)
def download_model(_clicks, key):
    try:
        run = run_store.load_run(key, required=True)
    except cache.CacheUnavailable:
        return no_update, jobs.UNAVAILABLE
    if run is None:
        return no_update, "This model is no longer in the cache: press Train to train it again, then download."
    name = exports.file_stem(run, run_store.model_id(run.key)) + ".zip"
    return dcc.send_bytes(run.model_zip(), filename=name), no_update


@callback(
    *[Output(cid, "value") for cid in ids.CONTROL_IDS.values() if cid != ids.K],
    Output(ids.PRESET_TEXT, "children"),
    *[Input(ids.PRESET_PREFIX + key, "n_clicks") for key in PRESETS],
    prevent_initial_call=True,
)
def apply_preset(*_clicks):
    key = str(triggered_id() or "").removeprefix(ids.PRESET_PREFIX)
    if key not in PRESETS:
        return (no_update,) * N_CONTROLS
    state, _ = st.validate(TrainState, PRESETS[key]["values"])
    values = dict(zip(train_page.CONTROL_FIELDS, train_page.control_values(state)))
    return (*[v for name, v in values.items() if name != "k"], PRESETS[key]["text"])


@callback(Output(ids.EXPLAIN, "children"), Input(ids.DATASET, "value"), prevent_initial_call=True)
def explain_dataset(dataset):
    """The explanation follows the chosen data set (the layout starts from the same answer)."""
    return ids.explanation(dataset if isinstance(dataset, str) else None, lazy=False)  # the user chose it


# -- browser-side ------------------------------------------------------------------------------
sync_url_and_copy_link(ids.QUERY, ids.URL_SINK, ids.COPY, ids.CAMERAS, ids.CAMERA_FIELDS)

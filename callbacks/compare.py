"""Callbacks of the Compare page.

* ``sync_state`` (every control change): validates the controls, writes the canonical query
  (the address bar follows it) and each column's run key; columns trained before (here or on
  /train: a column is an ordinary /train run) are shown at once.
* ``start_compare`` (Train all): one admitted job for all columns that are not cached yet
  (so a comparison counts once against a client's job cap), in the JOB store.
* ``compare_job`` (a background callback on JOB): waits for a slot, then trains the missing
  columns one after the other with /train's job work (:func:`services.jobs.train_work`) and
  answers with the keys.
* ``render`` (KEYS): draws the overlaid curves and every column's figures.
"""

from __future__ import annotations

import logging
import time
import uuid

import flask
from dash import Input, Output, State, callback, dcc, html, no_update

from callbacks.common import (camera_of, export_callback, is_figure, sync_url_and_copy_link, triggered_id,
                              unknown_figure, with_link_notices)
from layouts import compare as ids
from layouts.common import notice_items
from layouts.train import PATH as TRAIN_PATH
from polyviz import exports
from polyviz import state as st
from polyviz.figures import with_camera
from polyviz.pages import compare as cp
from polyviz.pages import train as tp
from polyviz.pages.compare import COLUMNS, PRESETS, CompareState
from services import admission, cache, data_store, jobs, run_store

log = logging.getLogger("polyviz.compare")

FIELDS = tuple(ids.CONTROL_IDS)
CONTROL_INPUTS = [Input(cid, "value") if cid != ids.DATA else Input(cid, "data") for cid in ids.CONTROL_IDS.values()]
CONTROL_STATES = [State(cid, "value") if cid != ids.DATA else State(cid, "data") for cid in ids.CONTROL_IDS.values()]
N_CONTROLS = len(FIELDS)
HIDDEN = {"display": "none"}


def state_from_controls(*values) -> tuple[CompareState, list[str]]:
    """Validated state and notices from raw widget values (an empty number box keeps its default)."""
    raw = {name: value for name, value in zip(FIELDS, values) if value is not None}
    return st.validate(CompareState, raw)


def control_values(state: CompareState) -> list:
    return [getattr(state, name) for name in FIELDS]


def user_data(state: CompareState):
    return data_store.load_data(state.data) if state.data else None


def column_keys(state: CompareState, user=None) -> dict:
    """column -> the run key of its /train state, and whether it is cached."""
    out = {}
    for column, train_state in cp.column_states(state, user).items():
        key = run_store.run_key(train_state.training_fields())
        run = run_store.load_run(key, required=True)
        out[column] = {"key": key, "cached": run is not None and run.status in run_store.FINAL_STATUSES}
    return out


@callback(
    Output(ids.NOTICES, "children"),
    Output(ids.QUERY, "data"),
    Output(ids.KEYS, "data"),
    Output(ids.HINT, "children"),
    Output(ids.EXPORT.which, "options"),
    *CONTROL_INPUTS,
    State(ids.LINK_NOTICES, "data"),
)
def sync_state(*args):
    controls, link_notices = args[:N_CONTROLS], args[N_CONTROLS]
    state, notices = state_from_controls(*controls)
    user = user_data(state)
    problem = tp.training_problem(column_state_of(state), user)
    notices = with_link_notices(notices + ([problem] if problem else []), link_notices)
    try:
        keys = column_keys(state, user)
    except cache.CacheUnavailable:
        return notice_items(notices), st.to_query(state), no_update, jobs.UNAVAILABLE, ids.export_options(state)
    missing = [c.upper() for c, entry in keys.items() if not entry["cached"]]
    if problem:
        hint = ""
    elif missing:
        seconds = sum(tp.estimated_seconds(s, user) for s in cp.column_states(state, user).values())
        hint = (f"Not trained yet: {', '.join(missing)}. Press Train all (about {max(seconds, 1):.0f} s); "
                f"trained columns are shown.")
    else:
        hint = "Every model was trained before with these settings: the results are shown."
    return notice_items(notices), st.to_query(state), keys, hint, ids.export_options(state)


def column_state_of(state: CompareState):
    return cp.column_state(state, "a")[0]


sync_url_and_copy_link(ids.QUERY, ids.URL_SINK, ids.COPY, ids.CAMERAS, ids.CAMERA_FIELDS)


@callback(
    Output(ids.JOB, "data"),
    Output(ids.STATUS, "children", allow_duplicate=True),
    Output(ids.PROGRESS, "value", allow_duplicate=True),
    Input(ids.TRAIN, "n_clicks"),
    *CONTROL_STATES,
    prevent_initial_call=True,
)
def start_compare(_clicks, *controls):
    state, _ = state_from_controls(*controls)
    user = user_data(state)
    problem = tp.training_problem(column_state_of(state), user)
    if problem:
        return no_update, problem, "0"
    try:
        keys = column_keys(state, user)
    except cache.CacheUnavailable:
        return no_update, jobs.UNAVAILABLE, "0"
    if all(entry["cached"] for entry in keys.values()):
        return no_update, "Every model was trained before: their results are shown.", "100"
    job = {"id": uuid.uuid4().hex, "kind": "compare", "query": st.to_query(state), "started": time.time()}
    try:
        admitted = admission.submit(job["id"], admission.client_ids(flask.request))
    except admission.LedgerUnavailable:
        return no_update, jobs.UNAVAILABLE, "0"
    if not admitted.accepted:
        return no_update, admitted.words, no_update
    if not jobs.write_heartbeat(job["id"], "compare", "queued"):
        admission.release(job["id"])
        return no_update, jobs.UNAVAILABLE, "0"
    return job, admission.wait_words(admitted.position) if admitted.position else "Starting…", "0"


# how a comparison waits for a slot (services.jobs.wait_for_slot reads its name and waiting words)
COMPARE_KIND = jobs.JobKind(name="compare", what="comparison", again="Press Train all to start it again.",
                            not_understood="This comparison request was not understood; press Train all again.",
                            failed="The comparison failed", cached_words="",
                            starting=lambda _state: "Starting…",
                            cancelled="Cancelled. Columns already trained are kept; press Train all to train the rest.",
                            cached=lambda _state: None,
                            work=lambda _state, _reporter: None, waiting=lambda words: ["0", words])


def parse_compare_job(job) -> tuple[str, CompareState] | None:
    """(job id, state) of a compare job payload, or None (a payload can hold anything)."""
    return jobs.parse_job(job, CompareState, kind="compare")


def run_compare_job(job, set_progress=None) -> tuple[dict | None, str]:
    """Train the job's columns that are not cached, one after the other: (keys, words)."""
    parsed = parse_compare_job(job)
    if parsed is None:
        return None, "This comparison request was not understood; press Train all again."
    job_id, state = parsed
    try:
        user = user_data(state)
        todo = [c for c, entry in column_keys(state, user).items() if not entry["cached"]]
        report = (lambda values: set_progress(["0", values[-1]])) if set_progress else None
        jobs.wait_for_slot(job_id, COMPARE_KIND, report)
        reporter = jobs.Reporter(job_id, "compare", None, tp.train_budget_s())
        states = cp.column_states(state, user)
        words = []
        for index, column in enumerate(todo):
            if set_progress is not None:  # /train's progress values [percent, words, live curves] of one column
                def column_progress(values, index=index, column=column):
                    done = (index + int(values[0]) / 100) / len(todo)
                    set_progress([jobs.percent(int(1000 * done), 1000),
                                  f"{column.upper()} ({index + 1} of {len(todo)}): {values[1]}"])
                reporter.set_progress = column_progress
            _key, text, _beat = jobs.train_work(tp.resolve(states[column], lambda _hash: user), reporter)
            words.append(f"{column.upper()}: {text}")
        keys = column_keys(state, user)
    except cache.CacheUnavailable:
        jobs.write_heartbeat(job_id, "compare", "failed")
        return None, jobs.UNAVAILABLE
    except Exception as error:  # the job must answer in words, whatever went wrong
        log.exception("comparison %s failed", job_id)
        jobs.write_heartbeat(job_id, "compare", "failed")
        return None, f"The comparison failed ({type(error).__name__}). It has been logged; try other settings."
    finally:
        admission.release(job_id)
    jobs.write_heartbeat(job_id, "compare", "done")
    return keys, " ".join(words) or "Every model was trained before: their results are shown."


@callback(
    Output(ids.KEYS, "data", allow_duplicate=True),
    Output(ids.STATUS, "children", allow_duplicate=True),
    Output(ids.PROGRESS, "value", allow_duplicate=True),
    Output(ids.HINT, "children", allow_duplicate=True),  # "Not trained yet" is no longer true
    Input(ids.JOB, "data"),
    background=True,
    progress=[Output(ids.PROGRESS, "value"), Output(ids.STATUS, "children")],
    running=[(Output(ids.TRAIN, "disabled"), True, False), (Output(ids.CANCEL, "disabled"), False, True)],
    cancel=[Input(ids.CANCEL, "n_clicks")],
    interval=500,
    prevent_initial_call=True,
)
def compare_job(set_progress, job):
    keys, words = run_compare_job(job, set_progress)
    if keys is None:
        return no_update, words, "0", no_update
    return keys, words, "100", ""


@callback(
    Output(ids.STATUS, "children", allow_duplicate=True),
    Input(ids.CANCEL, "n_clicks"),
    State(ids.JOB, "data"),
    prevent_initial_call=True,
)
def cancel_compare(_clicks, job):
    parsed = parse_compare_job(job)
    if parsed is not None:
        jobs.write_heartbeat(parsed[0], "compare", "cancelled")
        admission.release(parsed[0])
    return COMPARE_KIND.cancelled


def column_summary(state: CompareState, column: str, run, train_query: str) -> list:
    label = cp.column_label(state, column)
    link = dcc.Link("open in Toy classifiers", href=f"{TRAIN_PATH}?{train_query}", className="sphere-link")
    if run is None:
        return [html.B(label), html.Div(["Not trained yet. ", link], className="control-help")]
    acc = run.final_test_acc
    words = (f"{100 * acc:.1f} % test accuracy" if acc is not None else f"{100 * run.final_train_acc:.1f} % train "
             f"accuracy") + f" · {run.steps_done:,} steps in {run.elapsed_s:.2f} s"
    children = [html.B(label), html.Div(words, className="summary-metrics"), link]
    if run.status in ("non_finite", "time_limit"):
        children.append(html.Div(tp.run_status(run), className="notice"))
    return children


def cached_runs(state: CompareState, user=None, keys: dict | None = None, required: bool = False) -> dict:
    """column -> its trained run, for the columns whose run is cached; with ``keys`` (the KEYS
    store, which comes from the browser), only those whose key there is the state's.
    ``required``: an unreachable cache raises cache.CacheUnavailable instead of reading as no run."""
    runs = {}
    for column, train_state in cp.column_states(state, user).items():
        key = run_store.run_key(train_state.training_fields())
        entry = keys.get(column) if keys is not None else {"key": key}
        if isinstance(entry, dict) and entry.get("key") == key:
            run = run_store.load_run(key, required=required)
            if run is not None and run.status in run_store.FINAL_STATUSES:
                runs[column] = run
    return runs


FIGURE_OUTPUTS = [Output(ids.column_id(c, what), "figure") for c in COLUMNS for what in ids.COLUMN_FIGURES]


@callback(
    Output(ids.FIG_CURVES, "figure"),
    *FIGURE_OUTPUTS,
    *[Output(ids.column_id(c, "summary"), "children") for c in COLUMNS],
    *[Output(ids.column_id(c, "column"), "style") for c in COLUMNS],
    Input(ids.KEYS, "data"),
    State(ids.QUERY, "data"),
    State(ids.CAMERAS, "data"),
)
def render(keys, query, cameras=None):
    """Figures of the cached columns; a column not trained yet keeps a placeholder."""
    state, _ = st.from_query(CompareState, query if isinstance(query, str) else "")
    user = user_data(state)
    states = cp.column_states(state, user)
    runs = cached_runs(state, user, keys if isinstance(keys, dict) else {})
    specs = cp.compare_figures(state, runs, user) if runs else {}
    curves = specs.get("curves") or tp.placeholder_figure("The training curves of every model appear here.")
    figures, summaries, styles = [], [], []
    for column in COLUMNS:
        for what in ids.COLUMN_FIGURES:
            graph_id = ids.column_id(column, what)
            figures.append(with_camera(specs[column][what], camera_of(cameras, ids.CAMERA_FIELDS.get(graph_id, "")))
                           if column in specs else tp.placeholder_figure(f"Model {column.upper()}: press Train all."))
    for column in COLUMNS:
        shown = column in states
        summaries.append(column_summary(state, column, runs.get(column), st.to_query(states[column]))
                         if shown else [])
        styles.append({} if shown else HIDDEN)
    return (curves, *figures, *summaries, *styles)


@callback(
    *[Output(cid, "value" if cid != ids.DATA else "data") for cid in ids.CONTROL_IDS.values()],
    Output(ids.PRESET_TEXT, "children"),
    *[Input(ids.PRESET_PREFIX + key, "n_clicks") for key in PRESETS],
    prevent_initial_call=True,
)
def apply_preset(*_clicks, preset=None):
    """``preset``: the preset's name (tests and notebooks; the app reads the pressed button)."""
    pressed = preset or str(triggered_id() or "").removeprefix(ids.PRESET_PREFIX)
    if pressed not in PRESETS:
        return (no_update,) * (N_CONTROLS + 1)
    state, _ = st.validate(CompareState, PRESETS[pressed]["values"])
    return (*control_values(state), PRESETS[pressed]["text"])


NOT_TRAINED = "{what} trained yet: press Train all, then export."


def export_file(kind: str, which, query: str):
    """(content, filename) of a figure's export (the overlaid curves, or one column's figure)
    for the page's canonical query, from the cached runs; or words (a model not trained yet)."""
    state, _ = st.from_query(CompareState, query)
    figures = cp.export_figures(state)
    if not is_figure(which, figures):
        return unknown_figure(which, figures)
    user = user_data(state)
    try:
        runs = cached_runs(state, user, required=True)  # an outage is said as one, not as "not trained"
    except cache.CacheUnavailable:
        return jobs.UNAVAILABLE
    column = None if which == "curves" else which.split("-")[0]
    if not runs or (column is not None and column not in runs):
        return NOT_TRAINED.format(what="No model is" if column is None else f"Model {column.upper()} is not")
    stem = f"{cp.file_stem(state)}-{which}"
    if kind == "csv":
        return cp.export_csv(state, runs, user, which), exports.safe_filename(stem, "csv")
    title = f"polyviz · Compare · {figures[which]} · {stem}"
    spec = cp.export_figure(state, runs, user, which)
    spec = with_camera(spec, getattr(state, which.replace("-", "_") + "_cam", ""))  # a_boundary_cam, ...
    return exports.figure_html(spec, title), exports.safe_filename(stem, "html")


export = export_callback(ids.EXPORT, ids.QUERY, export_file, ids.CAMERAS)

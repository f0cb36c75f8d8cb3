"""Callbacks of the Toy classifiers page's seed sweep: seeds 0 .. k-1 of the current
settings trained at once (the single run's callbacks are in callbacks/train.py).

* ``start_sweep`` (the "Sweep k seeds" button): a cached sweep is shown; otherwise
  :func:`services.jobs.enqueue` admits the job (services/admission.py), its payload goes into
  SWEEP_JOB with a "queued" heartbeat and the watchdog is switched on.
* ``sweep_job`` (a Dash background callback) is one call:
  ``jobs.job_outputs(job, jobs.SWEEP, set_progress)``; it answers with the sweep's key.
* ``render_sweep`` draws the cached sweep; clicking a seed opens it (callbacks/train.py).
* ``sweep_watchdog`` reports a lost sweep in words.
"""

from __future__ import annotations

import flask
from dash import Input, Output, State, callback, no_update

from callbacks.train import CONTROL_STATES
from layouts import train as ids
from polyviz.pages import train as train_page
from services import cache, data_store, jobs, run_store


@callback(
    Output(ids.SWEEP_JOB, "data"),
    Output(ids.SWEEP_KEY, "data", allow_duplicate=True),
    Output(ids.SWEEP_STATUS, "children", allow_duplicate=True),
    Output(ids.SWEEP_WATCHDOG, "disabled", allow_duplicate=True),
    Output(ids.SWEEP_PROGRESS, "value", allow_duplicate=True),
    Input(ids.SWEEP, "n_clicks"),
    *CONTROL_STATES,
    prevent_initial_call=True,
)
def start_sweep(_clicks, *controls):
    resolved = train_page.resolve(train_page.state_from_controls(*controls)[0], data_store.load_data)
    state = resolved.state  # your data's n and batch: the key its sweep is stored under
    if resolved.problem:  # in words, and no job
        return no_update, no_update, resolved.problem, True, "0"
    try:
        key = jobs.cached_sweep(state)
    except cache.CacheUnavailable:
        return no_update, no_update, jobs.UNAVAILABLE, True, "0"
    if key is not None:
        return no_update, key, "Opened the cached sweep for these settings.", True, "100"
    started = jobs.enqueue(state, jobs.SWEEP, flask.request)
    if started.job is None:
        return no_update, no_update, started.words, True, no_update if started.refused else "0"
    return started.job, no_update, started.words, False, "0"


@callback(
    Output(ids.SWEEP_KEY, "data", allow_duplicate=True),
    Output(ids.SWEEP_STATUS, "children", allow_duplicate=True),
    Output(ids.SWEEP_PROGRESS, "value", allow_duplicate=True),
    Output(ids.SWEEP_WATCHDOG, "disabled", allow_duplicate=True),
    Input(ids.SWEEP_JOB, "data"),
    background=True,
    progress=[Output(ids.SWEEP_PROGRESS, "value"), Output(ids.SWEEP_LIVE, "children")],
    running=[(Output(ids.SWEEP, "disabled"), True, False), (Output(ids.SWEEP_CANCEL, "disabled"), False, True),
             (Output(ids.SWEEP_LIVE, "style"), {"display": "block"}, {"display": "none"})],
    cancel=[Input(ids.SWEEP_CANCEL, "n_clicks")],
    interval=500,
    prevent_initial_call=True,
)
def sweep_job(set_progress, job):
    return jobs.job_outputs(job, jobs.SWEEP, set_progress)


jobs.on_lost(sweep_job)


@callback(
    Output(ids.SWEEP_STATUS, "children", allow_duplicate=True),
    Output(ids.SWEEP_WATCHDOG, "disabled", allow_duplicate=True),
    Output(ids.SWEEP_PROGRESS, "value", allow_duplicate=True),
    Input(ids.SWEEP_CANCEL, "n_clicks"),
    State(ids.SWEEP_JOB, "data"),
    prevent_initial_call=True,
)
def cancel_sweep(_clicks, job):
    return jobs.cancel(job, jobs.SWEEP), True, "0"


@callback(
    Output(ids.SWEEP_STATUS, "children", allow_duplicate=True),
    Output(ids.SWEEP_WATCHDOG, "disabled"),
    Output(ids.SWEEP, "disabled"),
    Output(ids.SWEEP_CANCEL, "disabled"),
    Output(ids.SWEEP_LIVE, "style", allow_duplicate=True),
    Input(ids.SWEEP_WATCHDOG, "n_intervals"),
    State(ids.SWEEP_JOB, "data"),
    prevent_initial_call=True,
)
def sweep_watchdog(_n, job):
    return jobs.watchdog_outputs(job, when_lost=(False, True, {"display": "none"}))


@callback(
    Output(ids.FIG_SWEEP, "figure"),
    Input(ids.SWEEP_KEY, "data"),
    prevent_initial_call=True,
)
def render_sweep(key):
    sweep = run_store.load_sweep(key)
    if sweep is None:
        return no_update
    return train_page.sweep_figure(sweep)

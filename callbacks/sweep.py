"""Callbacks of the Toy classifiers page's seed sweep: seeds 0 .. k-1 of the current
settings trained at once (the single run's callbacks are in callbacks/train.py).

* ``start_sweep`` (the "Sweep k seeds" button): a cached sweep is shown; otherwise a job
  payload goes into SWEEP_JOB with a "queued" heartbeat and the watchdog is switched on.
* ``sweep_job`` (a Dash background callback) is one call:
  ``jobs.run_job(job, jobs.SWEEP, set_progress)``; it answers with the sweep's key.
* ``render_sweep`` draws the cached sweep; clicking a seed opens it (callbacks/train.py).
* ``sweep_watchdog`` reports a lost sweep in words.
"""

from __future__ import annotations

import flask
from dash import Input, Output, State, callback, no_update

from callbacks.train import CONTROL_STATES, or_no_update
from layouts import train as ids
from polyviz.pages import train as train_page
from services import admission, cache, jobs, run_store


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
    state, _ = train_page.state_from_controls(*controls)
    try:
        key = jobs.cached_sweep(state)
    except cache.CacheUnavailable:
        return no_update, no_update, jobs.UNAVAILABLE, True, "0"
    if key is not None:
        return no_update, key, "Opened the cached sweep for these settings.", True, "100"
    job = jobs.new_job(state, "sweep")
    try:
        admitted = admission.submit(job["id"], admission.client_ids(flask.request))
    except admission.LedgerUnavailable:
        return no_update, no_update, jobs.UNAVAILABLE, True, "0"
    if not admitted.accepted:
        return no_update, no_update, admitted.words, True, no_update
    if not jobs.write_heartbeat(job["id"], "sweep", "queued"):
        admission.release(job["id"])
        return no_update, no_update, jobs.UNAVAILABLE, True, "0"
    starting = admission.wait_words(admitted.position) if admitted.position else f"Starting a sweep of {state.k} seeds…"
    return job, no_update, starting, False, "0"


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
    outcome = jobs.run_job(job, jobs.SWEEP, set_progress)
    return or_no_update(outcome.key), outcome.status, outcome.percent, True


jobs.on_lost(sweep_job, lambda words: [no_update, words, "0", True])


@callback(
    Output(ids.SWEEP_STATUS, "children", allow_duplicate=True),
    Output(ids.SWEEP_WATCHDOG, "disabled", allow_duplicate=True),
    Output(ids.SWEEP_PROGRESS, "value", allow_duplicate=True),
    Input(ids.SWEEP_CANCEL, "n_clicks"),
    State(ids.SWEEP_JOB, "data"),
    prevent_initial_call=True,
)
def cancel_sweep(_clicks, job):
    parsed = jobs.parse_job(job)
    if parsed is not None:
        jobs.write_heartbeat(parsed[0], "sweep", "cancelled")
        admission.release(parsed[0])
    return "Cancelled.", True, "0"


@callback(
    Output(ids.SWEEP_STATUS, "children", allow_duplicate=True),
    Output(ids.SWEEP_WATCHDOG, "disabled"),
    Output(ids.SWEEP, "disabled"),
    Output(ids.SWEEP_CANCEL, "disabled"),
    Input(ids.SWEEP_WATCHDOG, "n_intervals"),
    State(ids.SWEEP_JOB, "data"),
    prevent_initial_call=True,
)
def sweep_watchdog(_n, job):
    stop, message = jobs.watchdog_verdict(job)
    if not stop:
        return (message if message else no_update), no_update, no_update, no_update
    if message is None:
        return no_update, True, no_update, no_update
    return message, True, False, True


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

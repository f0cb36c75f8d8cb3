"""Callbacks of the /train page's exports: the data behind the shown run as CSV (points with
predictions, training curves) and a result figure as a standalone HTML file. The content is
made by :mod:`polyviz.exports`; these only find the run the figures show (SHOWN_KEY)."""

from __future__ import annotations

from dash import Input, Output, State, callback, dcc, no_update

from callbacks.common import triggered_id
from layouts import train as ids
from layouts import userdata as data_ids
from polyviz import exports
from polyviz import state as st
from polyviz.pages import train as train_page
from polyviz.pages.train import TrainState
from services import data_store, run_store

GONE = "This run is no longer in the cache: press Train to train it again, then export."


def shown_run(key):
    """(run, state, user data or None, split) of a shown run key, or (None, words)."""
    run = run_store.load_run(key)
    if run is None:
        return None, GONE
    resolved = train_page.resolve(st.validate(TrainState, run.fields)[0], data_store.load_data)
    if resolved.data_gone:
        return None, train_page.RUN_DATA_GONE
    state, user = resolved.state, resolved.user
    return (run, state, user, train_page.load_data(state, user)), None


@callback(
    Output(data_ids.EXPORT_POINTS, "disabled"),
    Output(data_ids.EXPORT_CURVES, "disabled"),
    Output(data_ids.EXPORT_FIGURE, "disabled"),
    Input(ids.SHOWN_KEY, "data"),
)
def enable_exports(key):
    off = run_store.key_from_id(key) is None
    return off, off, off


@callback(
    Output(data_ids.EXPORT_DOWNLOAD, "data"),
    Output(ids.STATUS, "children", allow_duplicate=True),
    Input(data_ids.EXPORT_POINTS, "n_clicks"),
    Input(data_ids.EXPORT_CURVES, "n_clicks"),
    Input(data_ids.EXPORT_FIGURE, "n_clicks"),
    State(data_ids.EXPORT_WHICH, "value"),
    State(ids.SHOWN_KEY, "data"),
    prevent_initial_call=True,
)
def export(_points, _curves, _figure, which, key, button=None):
    """``button``: which export (the triggering button's id; given explicitly by tests and
    notebooks, which have no callback context)."""
    button = button or triggered_id()
    found, words = shown_run(key)
    if found is None:
        return no_update, words
    run, state, user, data = found
    stem = exports.file_stem(run, run_store.model_id(run.key))
    if button == data_ids.EXPORT_POINTS:
        classes, columns = (user.classes, user.columns) if user is not None else (None, None)
        return dcc.send_string(exports.points_csv(run.params, data, classes, columns), f"{stem}-points.csv"), no_update
    if button == data_ids.EXPORT_CURVES:
        return dcc.send_string(exports.curves_csv(run.history), f"{stem}-curves.csv"), no_update
    if button == data_ids.EXPORT_FIGURE:
        which = which if isinstance(which, str) and which in data_ids.EXPORT_FIGURES else "boundary"  # any payload
        spec = train_page.run_figures(state, run, data, user)[which]
        title = f"polyviz · {data_ids.EXPORT_FIGURES[which]} · {stem}"
        return dcc.send_string(exports.figure_html(spec, title), f"{stem}-{which}.html"), no_update
    return no_update, no_update

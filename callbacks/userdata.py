"""Callbacks of the /train page's "Your data" box: upload a CSV, click the data figure to add
a point, clear, go back to the built-in data; and the figure and words of the data in use.

Every change of the data stores it by content hash (services/data_store.py) and writes the
hash into the hidden DATA control, so the state, the link (``data=<hash>``) and the run key
follow it like any other control (callbacks/train.py's ``sync_state``).
"""

from __future__ import annotations

import dataclasses
import logging

from dash import Input, Output, State, callback, html, no_update

from callbacks.common import triggered_id
from layouts import train as ids
from layouts import userdata as data_ids
from polyviz import state as st
from polyviz import userdata
from polyviz.datasets import make_dataset
from polyviz.figures.userdata import data_figure_spec
from polyviz.pages import train as train_page
from polyviz.pages.train import PRESETS, TrainState
from services import cache, data_store

log = logging.getLogger("polyviz.userdata")

BUILTIN_FIELDS = ("dataset", "noise", "n", "data_seed")
BUILTIN_STATES = [State(ids.CONTROL_IDS[name], "value") for name in BUILTIN_FIELDS]
BUILTIN_INPUTS = [Input(ids.CONTROL_IDS[name], "value") for name in BUILTIN_FIELDS]
SHOWN = {"display": "block"}
HIDDEN = {"display": "none"}
CACHE_DOWN = "Your data cannot be stored right now: the shared cache cannot be reached. Try again in a minute."


def builtin_state(*values) -> TrainState:
    """The state of the built-in data controls (dataset, noise, n, data_seed), validated."""
    raw = {name: value for name, value in zip(BUILTIN_FIELDS, values) if value is not None}
    return st.validate(TrainState, raw)[0]


def builtin_data(state: TrainState) -> userdata.UserData:
    """The built-in data set of a state as UserData (class names "0" and "1"), so that
    drawing can start from it, as in ConvNetJS's demo."""
    X, y = make_dataset(state.dataset, state.n, state.noise, state.data_seed)
    columns = tuple(f"x{i + 1}" for i in range(X.shape[1]))
    return userdata.make_user_data(X, y, ("0", "1"), columns, origin="drawn", strict=False)


def refused(words: str) -> tuple:
    """The data callbacks' outputs when the data does not change: the words, shown."""
    return no_update, no_update, words, SHOWN


def use_data(data: userdata.UserData) -> tuple:
    """The data callbacks' outputs for new data: kept in the cache under its content hash,
    which the DATA control then holds (or the words when the cache cannot be reached)."""
    try:
        return data_store.store_data(data), False, "", HIDDEN
    except cache.CacheUnavailable:
        return refused(CACHE_DOWN)


@callback(
    Output(data_ids.DATA, "value", allow_duplicate=True),
    Output(data_ids.DRAWING, "data", allow_duplicate=True),
    Output(data_ids.DATA_ERROR, "children", allow_duplicate=True),
    Output(data_ids.DATA_ERROR, "style", allow_duplicate=True),
    Input(data_ids.UPLOAD, "contents"),
    prevent_initial_call=True,
)
def upload_data(contents):
    """A CSV file from dcc.Upload: parsed and checked by polyviz.userdata (csv module only)."""
    try:
        data = userdata.parse_csv(userdata.decode_upload(contents))
    except userdata.UserDataError as error:
        return refused(f"The file was not loaded: {error}.")
    return use_data(data)


def clicked_xy(click):
    """(x, y) of a click on the data figure (a canvas cell or a point), or None."""
    try:
        point = click["points"][0]
        return point["x"], point["y"]
    except (TypeError, KeyError, IndexError):
        return None


@callback(
    Output(data_ids.DATA, "value", allow_duplicate=True),
    Output(data_ids.DRAWING, "data", allow_duplicate=True),
    Output(data_ids.DATA_ERROR, "children", allow_duplicate=True),
    Output(data_ids.DATA_ERROR, "style", allow_duplicate=True),
    Input(data_ids.DATA_FIG, "clickData"),
    State(data_ids.DRAW_CLASS, "value"),
    State(data_ids.DATA, "value"),
    State(data_ids.DRAWING, "data"),
    *BUILTIN_STATES,
    prevent_initial_call=True,
)
def draw_point(click, label, data_hash, drawing, *builtin):
    """Add a point of the chosen class where the data figure was clicked: to your data, to
    the empty canvas after Clear, or else to (a copy of) the built-in data shown."""
    xy = clicked_xy(click)
    if xy is None:
        return (no_update,) * 4
    if userdata.is_hash(data_hash):
        base = data_store.load_data(data_hash)
        if base is None:
            return refused(train_page.DATA_GONE)
    elif drawing is True:
        base = None
    else:
        base = builtin_data(builtin_state(*builtin))
    try:
        data = userdata.add_point(base, xy[0], xy[1], label)
    except userdata.UserDataError as error:
        return refused(f"The point was not added: {error}.")
    return use_data(data)


@callback(
    Output(data_ids.DATA, "value", allow_duplicate=True),
    Output(data_ids.DRAWING, "data", allow_duplicate=True),
    Output(data_ids.DATA_ERROR, "style", allow_duplicate=True),
    Input(data_ids.CLEAR, "n_clicks"),
    Input(data_ids.BUILTIN, "n_clicks"),
    *[Input(ids.PRESET_PREFIX + key, "n_clicks") for key in PRESETS],
    *BUILTIN_INPUTS,
    prevent_initial_call=True,
)
def clear_or_builtin(*_args):
    """Clear: an empty canvas (no data until the first click). Built-in data, a preset, or
    a change of the built-in data controls: back to the built-in data set."""
    if triggered_id() == data_ids.CLEAR:
        return "", True, HIDDEN
    return "", False, HIDDEN


def draw_options(classes) -> list[dict]:
    """The data's classes, then new ones (numbered) up to four choices (at most MAX_CLASSES)."""
    names = list(classes)
    number = 0
    while len(names) < min(max(len(classes) + 1, len(data_ids.DRAW_CLASSES)), userdata.MAX_CLASSES):
        if str(number) not in names:
            names.append(str(number))
        number += 1
    return [{"label": f" {name}", "value": name} for name in names]


@callback(
    Output(data_ids.DATA_FIG, "figure"),
    Output(data_ids.DATA_INFO, "children"),
    Output(data_ids.DRAW_CLASS, "options"),
    Output(data_ids.DRAW_CLASS, "value"),
    Input(data_ids.DATA, "value"),
    Input(data_ids.DRAWING, "data"),
    *BUILTIN_INPUTS,
    State(data_ids.DRAW_CLASS, "value"),
)
def render_data(data_hash, drawing, *args):
    builtin, label = args[:len(BUILTIN_FIELDS)], args[len(BUILTIN_FIELDS)]
    words = []
    if userdata.is_hash(data_hash):
        data = data_store.load_data(data_hash)
        if data is None:
            return train_page.placeholder_figure(train_page.DATA_GONE), "", no_update, no_update
        state = dataclasses.replace(builtin_state(*builtin), data=data_hash)
        words.append(train_page.user_data_words(data))
        problem = train_page.training_problem(state, data)
        if problem:
            words.append(html.B(" " + problem))
        X, y, classes = data.X, data.y, data.classes
    elif drawing is True:
        X, y, classes = [], [], ()
        words.append(train_page.EMPTY_CANVAS)
    else:
        state = builtin_state(*builtin)
        X, y = make_dataset(state.dataset, state.n, state.noise, state.data_seed)
        classes = ("0", "1")
        words.append(train_page.builtin_data_words(state))
    spec = data_figure_spec(X, y, classes, title="Data")
    options = draw_options(classes)
    values = [option["value"] for option in options]
    # keep the chosen class while the data has it; else the data's first class
    return spec, words, options, label if label in classes else values[0]


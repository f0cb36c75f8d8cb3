"""The /train page's per-neuron maps (2-D input): every hidden neuron of the shown run over the
input plane (:func:`polyviz.figures.neuron_maps_spec`). A callback of its own on the shown run
(SHOWN_KEY), so the page's main drawing callback stays as it is."""

from __future__ import annotations

from dash import Input, Output, callback, no_update

from callbacks.exports import shown_run
from layouts import train as ids
from polyviz.figures import neuron_maps_spec

HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}


@callback(
    Output(ids.FIG_NEURONS, "figure"),
    Output(ids.NEURONS_CARD, "style"),
    Input(ids.SHOWN_KEY, "data"),
)
def neuron_maps(key):
    found, _words = shown_run(key)
    if found is None:
        return no_update, HIDDEN
    run, _state, _user, data = found
    if run.params.config.in_dim != 2:  # the plane is the input space: only 2-D data has one
        return no_update, HIDDEN
    return neuron_maps_spec(run.params, data[0]), SHOWN

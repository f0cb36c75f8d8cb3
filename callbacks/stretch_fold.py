"""Callbacks of the Stretch & fold page.

The server callback owns the exact figures (built by polyviz.figures). Dragging the t
slider and the play button repaint in the browser (assets/stretch_fold.js) with no round
trip per frame: only the traces that depend on t (figures.MOVING_TRACES), on the graphs
themselves. When the slider is released or play stops, the server redraws once (a Patch of
those traces).
"""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, Patch, State, callback, clientside_callback, no_update

from callbacks.common import (camera_of, camera_patch, export_callback, is_figure, sync_url_and_copy_link, triggered_id,
                              triggered_props, unknown_figure, with_link_notices)
from layouts import stretch_fold as ids
from layouts.common import notice_items
from polyviz import exports
from polyviz.figures import stretch_fold as figures
from polyviz.figures import with_camera
from polyviz import state as st
from polyviz.pages.stretch_fold import EXPORT_FIGURES, PRESETS, StretchFoldState, figure_specs, file_stem


def state_from_controls(op, t, log_eps, n, dist, seed, a11, a12, a21, a22, b1, b2):
    """Validated state and notices from raw control values (a payload can hold anything);
    the eps slider holds log10(eps)."""
    raw = dict(op=op, t=t, eps=st.from_log10(log_eps), n=n, dist=dist, seed=seed,
               a11=a11, a12=a12, a21=a21, a22=a22, b1=b1, b2=b2)
    # An empty number box (None) means "not set": keep the default rather than complain.
    raw = {k: v for k, v in raw.items() if v is not None}
    return st.validate(StretchFoldState, raw)


CONTROL_INPUTS = [
    Input(ids.COMMITTED_T, "data"),
    Input(ids.OP, "value"),
    Input(ids.EPS, "value"),
    Input(ids.N, "value"),
    Input(ids.DIST, "value"),
    Input(ids.SEED, "value"),
    *[Input(cid, "value") for cid in ids.AFFINE_IDS.values()],
]


@callback(
    Output(ids.FIG_CIRCLE, "figure"),
    Output(ids.FIG_CURVE, "figure"),
    Output(ids.FIG_SURFACE, "figure"),
    Output(ids.FIG_SPHERE, "figure"),
    Output(ids.NOTICES, "children"),
    Output(ids.QUERY, "data"),
    Output(ids.AFFINE_BOX, "style"),
    *CONTROL_INPUTS,
    State(ids.LINK_NOTICES, "data"),
    State(ids.CAMERAS, "data"),
)
def update_figures(t, op, log_eps, n, dist, seed, a11, a12, a21, a22, b1, b2, link_notices=None, cameras=None):
    state, notices = state_from_controls(op, t, log_eps, n, dist, seed, a11, a12, a21, a22, b1, b2)
    notices = with_link_notices(notices, link_notices)
    specs = figure_specs(state)
    if triggered_props() == {f"{ids.COMMITTED_T}.data"}:
        # Only t moved: the browser already holds the inputs, surface and wireframe.
        specs = {name: t_patch(name, spec) for name, spec in specs.items()}
    # the 3-D panels as the user (or the link) turned them
    for name, graph_id in (("surface", ids.FIG_SURFACE), ("sphere", ids.FIG_SPHERE)):
        camera = camera_of(cameras, ids.CAMERA_FIELDS[graph_id])
        specs[name] = (camera_patch(specs[name], camera) if isinstance(specs[name], Patch)
                       else with_camera(specs[name], camera))
    affine_style = {"display": "block" if state.op == "affine" else "none"}
    return (specs["circle"], specs["curve"], specs["surface"], specs["sphere"], notice_items(notices),
            st.to_query(state), affine_style)


def t_patch(name: str, spec: dict) -> Patch:
    """A Patch carrying only the traces and layout entries that depend on t."""
    patch = Patch()
    for index, props in figures.MOVING_TRACES[name].items():
        for prop in props:
            patch["data"][index][prop] = spec["data"][index][prop]
    patch["layout"]["meta"] = spec["layout"]["meta"]
    patch["layout"]["title"] = spec["layout"]["title"]
    return patch


@callback(
    Output(ids.OP, "value"),
    Output(ids.T, "value", allow_duplicate=True),  # pausing play also sets t
    Output(ids.EPS, "value"),
    Output(ids.DIST, "value"),
    Output(ids.PRESET_TEXT, "children"),
    *[Input(ids.PRESET_PREFIX + key, "n_clicks") for key in PRESETS],
    prevent_initial_call=True,
)
def apply_preset(*_clicks):
    key = str(triggered_id() or "").removeprefix(ids.PRESET_PREFIX)
    if key not in PRESETS:
        return (no_update,) * 5
    values = PRESETS[key]["values"]
    return values["op"], values["t"], st.to_log10(values["eps"]), values["dist"], PRESETS[key]["text"]


# The slider's committed value reaches the server, except while play is running.
clientside_callback(
    ClientsideFunction("polyviz", "commitT"),
    Output(ids.COMMITTED_T, "data"),
    Input(ids.T, "value"),
    State(ids.COMMITTED_T, "data"),
    prevent_initial_call=True,
)

# Live repaint while dragging: the browser repaints the traces that depend on t on the
# graphs themselves (Plotly.update, once per animation frame) and returns nothing to Dash.
clientside_callback(
    ClientsideFunction("polyviz", "sfLive"),
    Output(ids.LIVE_SINK, "data"),
    Input(ids.T, "drag_value"),
    prevent_initial_call=True,
)

# Play runs in the browser (requestAnimationFrame); on pause the server gets the t shown,
# once, and the slider follows.
clientside_callback(
    ClientsideFunction("polyviz", "togglePlay"),
    Output(ids.PLAY, "children"),
    Output(ids.COMMITTED_T, "data", allow_duplicate=True),
    Input(ids.PLAY, "n_clicks"),
    State(ids.T, "value"),
    prevent_initial_call=True,
)

sync_url_and_copy_link(ids.QUERY, ids.URL_SINK, ids.COPY, ids.CAMERAS, ids.CAMERA_FIELDS)


def export_file(kind: str, which, query: str):
    """(content, filename) of a panel's export for the page's canonical query, or words."""
    if not is_figure(which, EXPORT_FIGURES):
        return unknown_figure(which, EXPORT_FIGURES)
    state, _ = st.from_query(StretchFoldState, query)
    stem = f"{file_stem(state)}-{which}"
    if kind == "csv":
        return exports.stretch_fold_csv(state, which), exports.safe_filename(stem, "csv")
    title = f"polyviz · Stretch & fold · {EXPORT_FIGURES[which]} · {stem}"
    spec = with_camera(figure_specs(state)[which], getattr(state, f"{which}_cam", ""))  # surface_cam, sphere_cam
    return exports.figure_html(spec, title), exports.safe_filename(stem, "html")


export = export_callback(ids.EXPORT, ids.QUERY, export_file, ids.CAMERAS)

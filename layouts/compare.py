"""The "Compare" page: two or three model configurations trained on the same data, side by
side (overlaid curves; boundaries, per-neuron maps and animations next to each other).

Components and ids only: the state and presets are :mod:`polyviz.pages.compare`, the
callbacks callbacks/compare.py."""

from __future__ import annotations

from dash import dcc, html

from polyviz import state as st
from polyviz.datasets import DATASET_NAMES
from polyviz.models import ACTIVATION_NAMES, ACTIVATIONS
from polyviz.pages.compare import COLUMN_FIELDS, COLUMNS, OFF, PRESETS, CompareState, export_figures, state_from_link
from polyviz.pages.train import DATASET_LABELS, MAX_DEPTH, MAX_N, MAX_STEPS, MAX_WIDTH, SEED_MAX, placeholder_figure

from .common import (GRAPH_CONFIG, ExportIds, camera_store, control, copy_link, export_row, notices_box, number_box,
                     python_copy)

PATH = "/compare"

DATASET, NOISE, N, DATA_SEED, RATIO, STEPS, SEED = ("cmp-dataset", "cmp-noise", "cmp-n", "cmp-data-seed",
                                                     "cmp-ratio", "cmp-steps", "cmp-seed")
DATA = "cmp-data"  # your data's content hash (from a link); no widget of its own
PRESET_PREFIX, PRESET_TEXT = "cmp-preset-", "cmp-preset-text"
TRAIN, CANCEL, PROGRESS, STATUS, HINT = "cmp-train", "cmp-cancel", "cmp-progress", "cmp-status", "cmp-hint"
JOB, KEYS = "cmp-job", "cmp-keys"  # the running job's payload; column -> cached run key of the controls
NOTICES, QUERY, URL_SINK, COPY, LINK_NOTICES = "cmp-notices", "cmp-query", "cmp-url-sink", "cmp-copy", "cmp-link-notices"
FIG_CURVES, RESULTS = "cmp-curves", "cmp-results"
EXPORT = ExportIds("cmp")


def column_id(column: str, what: str) -> str:
    """Ids of one column's widgets and figures: cmp-a-act, cmp-b-boundary, ..."""
    return f"cmp-{column}-{what}"


SHARED_CONTROLS = dict(dataset=DATASET, noise=NOISE, n=N, data_seed=DATA_SEED, ratio=RATIO, steps=STEPS, seed=SEED,
                       data=DATA)
# field -> widget id, the order callbacks receive the values in
CONTROL_IDS = {**SHARED_CONTROLS, **{f"{c}_{name}": column_id(c, name) for c in COLUMNS for name in COLUMN_FIELDS}}
COLUMN_FIGURES = ("boundary", "neurons", "animation")
FIGURE_HEIGHTS = dict(boundary=400, neurons=300, animation=420)  # px
CAMERAS = "cmp-cameras"  # the 3-D figures' cameras (layouts.common.camera_store)
CAMERA_FIELDS = {column_id(c, what): f"{c}_{what}_cam" for c in COLUMNS for what in ("boundary", "animation")}


def layout(preset=None, **query) -> html.Div:
    """The page for a URL query (``layout(**query)``, as Dash Pages calls it)."""
    state, notices = state_from_link(preset, **query)
    return page(state, notices, preset if preset in PRESETS else None)


def column_controls(state: CompareState, column: str) -> html.Div:
    acts = [{"label": ACTIVATION_NAMES.get(a, a), "value": a} for a in ACTIVATIONS]
    if column == "c":
        acts = [{"label": "off (compare A and B only)", "value": OFF}] + acts
    value = lambda name: getattr(state, f"{column}_{name}")  # noqa: E731
    return html.Div([
        html.H3(f"Model {column.upper()}", className="section"),
        control("Activation", dcc.Dropdown(id=column_id(column, "act"), options=acts, value=value("act"),
                                           clearable=False, searchable=False), control_id=column_id(column, "act")),
        html.Div([
            control("Width", number_box(column_id(column, "width"), value("width")), control_id=column_id(column, "width")),
            control("Depth", number_box(column_id(column, "depth"), value("depth")), control_id=column_id(column, "depth")),
        ], className="row2"),
        html.Div([
            control("ε", number_box(column_id(column, "eps"), value("eps")), control_id=column_id(column, "eps")),
            control("Learning rate", number_box(column_id(column, "lr"), value("lr")),
                    control_id=column_id(column, "lr")),
        ], className="row2"),
    ], className="compare-model")


def page(state: CompareState, notices: list[str], preset: str | None = None) -> html.Div:
    data_controls = [
        html.H3("Data (shared)", className="section"),
        control("Data set", dcc.RadioItems(id=DATASET, value=state.dataset, inline=True, className="radio",
                                           options=[{"label": DATASET_LABELS.get(d, d), "value": d}
                                                    for d in DATASET_NAMES]), control_id=DATASET),
        html.Div([
            control("Noise", number_box(NOISE, state.noise), control_id=NOISE),
            control("Points n", number_box(N, state.n), control_id=N),
        ], className="row2"),
        html.Div([
            control("Train ratio", number_box(RATIO, state.ratio), control_id=RATIO),
            control("Data seed", number_box(DATA_SEED, state.data_seed), control_id=DATA_SEED),
        ], className="row2"),
        html.Div([
            control("Steps", number_box(STEPS, state.steps), control_id=STEPS),
            control("Seed", number_box(SEED, state.seed), control_id=SEED),
        ], className="row2"),
        html.Div(f"Limits: n ≤ {MAX_N:,}, steps ≤ {MAX_STEPS:,}, width ≤ {MAX_WIDTH}, depth ≤ {MAX_DEPTH}, "
                 f"seeds 0 … {SEED_MAX:,}.", className="control-help"),
        dcc.Store(id=DATA, data=state.data),
    ]
    controls = html.Div(
        [
            html.H2("Compare"),
            html.P("Two or three models trained on the same data with the same seed, side by side: the curves "
                   "overlaid, and each model's decision boundary, neurons and layer-by-layer animation in its own "
                   "column. The link holds every setting of every model.", className="lede"),
            html.Div([html.Button(p["title"], id=PRESET_PREFIX + key, className="preset", n_clicks=0,
                                  title=p["text"]) for key, p in PRESETS.items()], className="presets"),
            html.Div(PRESETS[preset]["text"] if preset else "", id=PRESET_TEXT, className="preset-text"),
            html.Div([
                html.Div([html.Button("Train all", id=TRAIN, className="primary", n_clicks=0),
                          html.Button("Cancel", id=CANCEL, className="secondary", n_clicks=0, disabled=True)],
                         className="buttons"),
                html.Progress(id=PROGRESS, value="0", max=100, className="progress"),
                html.Div(id=STATUS, className="status", role="status"),
                html.Div(id=HINT, className="control-help"),
            ], className="run-box"),
            notices_box(notices, NOTICES),
            *data_controls,
            *[column_controls(state, c) for c in COLUMNS],
            copy_link(COPY),
            python_copy("cmp"),
            export_row(EXPORT, export_figures(state), "curves"),
            dcc.Store(id=QUERY, data=st.to_query(state)),
            dcc.Store(id=URL_SINK),
            camera_store(CAMERAS, state, CAMERA_FIELDS),
            dcc.Store(id=LINK_NOTICES, data=notices),
            dcc.Store(id=KEYS),
            dcc.Store(id=JOB),
        ],
        className="sidebar",
    )
    columns = [html.Div([
        html.Div(id=column_id(c, "summary"), className="compare-summary"),
        *[dcc.Graph(id=column_id(c, what), config=GRAPH_CONFIG, style={"height": f"{FIGURE_HEIGHTS[what]}px"},
                    figure=placeholder_figure(f"Model {c.upper()}: press Train all."))
          for what in COLUMN_FIGURES],
    ], id=column_id(c, "column"), className="card compare-column") for c in COLUMNS]
    panels = html.Div([
        html.Div([dcc.Graph(id=FIG_CURVES, config=GRAPH_CONFIG, style={"height": "420px"},
                            figure=placeholder_figure("The training curves of every model appear here.")),
                  html.Div("Train loss (log scale, top) and test accuracy (bottom) of each model, one colour per "
                           "model; the same data, split and seed for all.", className="caption")],
                 className="card wide"),
        html.Div("Each column, top to bottom: the decision boundary (P(class 1), blue = class 0, red = class 1; "
                 "open markers are test points); every hidden neuron's activation over the input plane (L2·1 = "
                 "layer 2, neuron 1; blue negative, white 0, red positive); the layer-by-layer animation.",
                 className="caption"),
        html.Div(columns, className="compare-columns"),
    ], id=RESULTS, className="compare-results")
    return html.Div([controls, panels], className="page two-col compare-page")


def export_options(state: CompareState) -> list[dict]:
    """The export row's figures for the columns shown (C may be off)."""
    return [{"label": label, "value": key} for key, label in export_figures(state).items()]

"""The "Toy classifiers" page: train a small MLP live, watch its phase transitions, play the
layer-by-layer animation, sweep seeds, download the model.

Components and ids only: the state, limits and presets are :mod:`polyviz.pages.train`, the
callbacks are callbacks/train.py and callbacks/sweep.py."""

from __future__ import annotations


from dash import dcc, html

from polyviz import state as st
from polyviz.datasets import DATASET_NAMES
from polyviz.models import ACTIVATION_NAMES, ACTIVATIONS
from polyviz.pages.train import (
    CONTROL_FIELDS,
    DATASET_LABELS,
    MAX_DEPTH,
    MAX_K,
    MAX_N,
    MAX_STEPS,
    MAX_WIDTH,
    PRESETS,
    TrainState,
    placeholder_figure,
    state_from_link,
)

from . import userdata as data_ids
from .common import (GRAPH_CONFIG, WATCHDOG_MS, camera_store, control, copy_link, log_slider, math_markdown,
                     notices_box, number_box, python_copy)

PATH = "/train"

# Component ids, so the callbacks module and the tests use the same names.
DATASET, NOISE, N, DATA_SEED, RATIO = "tr-dataset", "tr-noise", "tr-n", "tr-data-seed", "tr-ratio"
DEPTH, WIDTH, ACT, EPS, LR = "tr-depth", "tr-width", "tr-act", "tr-log-eps", "tr-log-lr"
STEPS, BATCH, SEED, K, ORIGIN, GROUPS = "tr-steps", "tr-batch", "tr-seed", "tr-k", "tr-origin", "tr-groups"
ARCHITECTURE = "tr-architecture"
FIG_CONFUSION, CONFUSION_CARD = "tr-fig-confusion", "tr-confusion-card"  # multiclass runs only
FIG_NEURONS, NEURONS_CARD = "tr-fig-neurons", "tr-neurons-card"  # 2-D input only
# field -> widget id, in CONTROL_FIELDS order (the order callbacks receive the values in)
CONTROL_IDS = dict(zip(CONTROL_FIELDS, (DATASET, NOISE, N, DATA_SEED, RATIO, DEPTH, WIDTH, ACT, EPS, LR, STEPS, BATCH,
                                        SEED, K, ORIGIN, GROUPS, ARCHITECTURE, data_ids.DATA)))
PRESET_PREFIX, PRESET_TEXT = "tr-preset-", "tr-preset-text"
TRAIN, CANCEL, PROGRESS, STATUS, HINT = "tr-train", "tr-cancel", "tr-progress", "tr-status", "tr-hint"
SWEEP, SWEEP_CANCEL, SWEEP_PROGRESS, SWEEP_STATUS = "tr-sweep", "tr-sweep-cancel", "tr-sweep-progress", "tr-sweep-status"
# Progress text of a running job, shown only while it runs: a progress report that arrives
# after Cancel must not overwrite the status line that says it was cancelled.
LIVE, SWEEP_LIVE = "tr-live", "tr-sweep-live"
TRAIN_JOB, SWEEP_JOB = "tr-train-job", "tr-sweep-job"  # {"id": uuid hex, "query": ..., "started": time}
TRAIN_WATCHDOG, SWEEP_WATCHDOG = "tr-train-watchdog", "tr-sweep-watchdog"
RUN_KEY = "tr-run-key"  # the cache key of the current controls' run
RESULT_KEY = "tr-result-key"  # the run to show (set when it is cached or a job finished)
SHOWN_KEY = "tr-shown-key"  # the run the figures show now
SWEEP_KEY = "tr-sweep-key"
FIG_CURVES, FIG_BOUNDARY, FIG_ANIM, FIG_CKPT, FIG_SWEEP = (
    "tr-curves", "tr-boundary", "tr-animation", "tr-checkpoints", "tr-sweep-fig")
RESULTS, SUMMARY, LINKS = "tr-results", "tr-summary", "tr-sphere-links"
DOWNLOAD_BUTTON, DOWNLOAD = "tr-download-button", "tr-download"
NOTICES, QUERY, URL_SINK, COPY, LINK_NOTICES = "tr-notices", "tr-query", "tr-url-sink", "tr-copy", "tr-link-notices"
EXPLAIN = "tr-explain"  # the explanation of the chosen data set
EXPLAIN_TEXT = "tr-explain-text"
CAMERAS = "tr-cameras"  # the 3-D figures' cameras (layouts.common.camera_store)
CAMERA_FIELDS = {FIG_BOUNDARY: "boundary_cam", FIG_ANIM: "animation_cam", FIG_CKPT: "checkpoints_cam"}



def layout(preset=None, **query) -> html.Div:
    """The page for a URL query: every control starts from the validated query. ``preset``
    (spiral, octant_sphere) fills in a preset first; the other keys override it."""
    state, notices, preset = state_from_link(preset, **query)
    return page(state, notices, preset)


# Plotly draws a 3-D scene's WebGL canvas at twice its CSS size by default; at one pixel per
# CSS pixel (antialiased all the same) a frame of the layer animation costs about a quarter
# less, and in software WebGL that cost is the whole frame.
RESULT_GRAPH_CONFIG = {**GRAPH_CONFIG, "plotGlPixelRatio": 1}


def figure_card(graph_id: str, caption, height: int, placeholder: str, class_name: str = "card") -> html.Div:
    return html.Div(
        [dcc.Graph(id=graph_id, figure=placeholder_figure(placeholder), config=RESULT_GRAPH_CONFIG,
                   style={"height": f"{height}px"}),
         html.Div(caption, className="caption")],
        className=class_name,
    )


def page(state: TrainState, notices: list[str], preset: str | None = None) -> html.Div:
    data_controls = [
        html.H3("Data", className="section"),
        control("Data set", dcc.RadioItems(id=DATASET, value=state.dataset, inline=True, className="radio",
                                           options=[{"label": f" {DATASET_LABELS[d]}", "value": d}
                                                    for d in DATASET_NAMES])),
        control("Noise", dcc.Slider(id=NOISE, min=0, max=1, step=0.005, value=state.noise,
                                    marks={0: "0", 0.25: "0.25", 0.5: "0.5", 0.75: "0.75", 1: "1"},
                                    tooltip={"placement": "bottom"}),
                "Standard deviation of the jitter added after the labels are fixed.", NOISE),
        html.Div([
            control("Points n", number_box(N, state.n), f"4 to {MAX_N:,}", N),
            control("Train ratio", number_box(RATIO, state.ratio), "0.1 to 0.9", RATIO),
            control("Data seed", number_box(DATA_SEED, state.data_seed), control_id=DATA_SEED),
        ], className="row3"),
        data_ids.data_section(state.data),
    ]
    model_controls = [
        html.H3("Model", className="section"),
        control("Architecture", dcc.RadioItems(id=ARCHITECTURE, value=state.architecture, className="radio", options=[
            {"label": " MLP: Linear → activation → … → Linear", "value": "mlp"},
            {"label": " pre-LN blocks: x + Linear(ReLU/GELU(Linear(LayerNorm(x))))", "value": "preln"}]),
                "Pre-LN: depth = number of blocks, width = the residual stream; activation ReLU or GELU. "
                "The first Linear of each block reads the LayerNorm sphere.", ARCHITECTURE),
        control("Hidden layers (depth)", dcc.Slider(id=DEPTH, min=1, max=MAX_DEPTH, step=1, value=state.depth,
                                                    marks={k: str(k) for k in range(1, MAX_DEPTH + 1)}),
                control_id=DEPTH),
        control("Activation", dcc.RadioItems(id=ACT, value=state.act, inline=True, className="radio",
                                             options=[{"label": f" {ACTIVATION_NAMES[a]}", "value": a} for a in ACTIVATIONS])),
        html.Div([
            control("Width", number_box(WIDTH, state.width), f"1 to {MAX_WIDTH}", WIDTH),
            control("Seed", number_box(SEED, state.seed), "initialisation", SEED),
        ], className="row2"),
        control("Seed's model", dcc.RadioItems(id=ORIGIN, value=state.origin, className="radio", options=[
            {"label": " trained on its own", "value": "run"},
            {"label": " as the seed sweep trained it", "value": "sweep"}]),
                "A seed opened from the sweep is the sweep's own stored model (its weights and curves). Trained "
                "on its own, the same seed rounds differently in float32 and can leave a plateau at another "
                "step, or stay on it.", ORIGIN),
        control("ε (log scale)", log_slider(EPS, state.eps, -8, 0, 0.1, decimals=4),
                "Used by u_ε, LayerNorm, RMSNorm and grouped LN.", EPS),
        control("Groups", number_box(GROUPS, state.groups),
                "Grouped LN only: LayerNorm over this many equal groups of neurons (each of at least 2).", GROUPS),
    ]
    train_controls = [
        html.H3("Training", className="section"),
        control("Learning rate (log scale)", log_slider(LR, state.lr, -4, 0, 0.05, decimals=4),
                "Adam. The research set-up uses 0.02.", LR),
        html.Div([
            control("Steps", number_box(STEPS, state.steps), f"10 to {MAX_STEPS:,}", STEPS),
            control("Batch", number_box(BATCH, state.batch), "0 = full batch", BATCH),
        ], className="row2"),
    ]
    run_box = html.Div([
        html.Div([
            html.Button("Train", id=TRAIN, className="primary", n_clicks=0),
            html.Button("Cancel", id=CANCEL, className="secondary", n_clicks=0, disabled=True),
        ], className="button-row"),
        html.Progress(id=PROGRESS, value="0", max=100, className="progress"),
        html.Div(id=LIVE, className="status live", style={"display": "none"}),
        html.Div(id=STATUS, className="status", role="status"),
        html.Div(id=HINT, className="control-help"),
    ], className="run-box")
    sweep_box = html.Div([
        html.H3("Seed sweep", className="section"),
        html.Div([
            control("Seeds k", number_box(K, state.k), f"seeds 0 to k − 1, at most {MAX_K}", K),
            html.Div([
                html.Button("Sweep k seeds", id=SWEEP, className="secondary", n_clicks=0),
                html.Button("Cancel", id=SWEEP_CANCEL, className="secondary", n_clicks=0, disabled=True),
            ], className="button-row sweep-buttons"),
        ], className="row2"),
        html.Progress(id=SWEEP_PROGRESS, value="0", max=100, className="progress"),
        html.Div(id=SWEEP_LIVE, className="status live", style={"display": "none"}),
        html.Div(id=SWEEP_STATUS, className="status", role="status"),
    ])
    preset_text = PRESETS[preset]["text"] if preset else ""
    controls = html.Div(
        [
            html.H2("Toy classifiers"),
            notices_box(notices, NOTICES),  # at the top of the controls, where the user looks
            html.P(["Train a small MLP on a 2-D or 3-D toy set and watch how each layer moves the data. With ",
                    html.B("u_ε"), " (the core of LayerNorm) as the only non-linearity, three neurons per layer "
                    "are enough for a spiral."], className="lede"),
            html.Div([html.Button(p["title"], id=PRESET_PREFIX + key, className="preset", n_clicks=0,
                                  title=p["text"]) for key, p in PRESETS.items()], className="presets"),
            html.Div(preset_text, id=PRESET_TEXT, className="preset-text"),
            run_box,
            *data_controls,
            *model_controls,
            *train_controls,
            sweep_box,
            copy_link(COPY),
            python_copy("tr"),
            html.Div(explanation(state.dataset), id=EXPLAIN, className="explain"),
            dcc.Store(id=QUERY, data=st.to_query(state)),
            dcc.Store(id=URL_SINK),
            camera_store(CAMERAS, state, CAMERA_FIELDS),
            dcc.Store(id=LINK_NOTICES, data=notices),
            dcc.Store(id=RUN_KEY),
            dcc.Store(id=RESULT_KEY),
            dcc.Store(id=SHOWN_KEY),
            dcc.Store(id=SWEEP_KEY),
            dcc.Store(id=TRAIN_JOB),
            dcc.Store(id=SWEEP_JOB),
            dcc.Interval(id=TRAIN_WATCHDOG, interval=WATCHDOG_MS, disabled=True),
            dcc.Interval(id=SWEEP_WATCHDOG, interval=WATCHDOG_MS, disabled=True),
            dcc.Download(id=DOWNLOAD),
        ],
        className="sidebar",
    )
    summary = html.Div(
        [
            html.Div("Press Train to train this model; a run you (or anyone) trained before with the same settings "
                     "opens at once.", id=SUMMARY, className="summary-text"),
            html.Div([
                html.Button("Download model (.zip)", id=DOWNLOAD_BUTTON, className="secondary", n_clicks=0,
                            disabled=True, title="model.safetensors + model.json: load with polyviz.models.load_model"),
                data_ids.export_buttons(),
                html.Div(id=LINKS, className="sphere-links"),
            ], className="summary-actions"),
        ],
        className="card wide summary",
    )
    panels = html.Div(
        [
            summary,
            figure_card(FIG_CURVES, "Loss (log scale) and accuracy per step, train (solid) and test (dotted); "
                                    "dashed purple lines mark phase transitions: a plateau, then a sharp drop.",
                        420, "Training curves appear here while the model trains."),
            figure_card(FIG_BOUNDARY, "P(class 1) over the input (blue = class 0, red = class 1), the 0.5 contour "
                                      "and the data; open markers are test points. For 3-D data: the sphere "
                                      "coloured by the prediction.", 420, "The decision boundary appears here."),
            html.Div(figure_card(FIG_CONFUSION, "Test points by true class (rows, with each class's accuracy) and "
                                                "predicted class (columns); the diagonal is right.", 420,
                                 "The confusion matrix appears here."), id=CONFUSION_CARD, style={"display": "none"}),
            figure_card(FIG_ANIM, "Each layer's activations embedded in 3-D, interpolated linearly from layer to "
                                  "layer (▶ plays, the slider jumps to a layer), then one turn. The green plane "
                                  "is the output layer's decision plane; for a layer wider than 3 the vertical "
                                  "axis is the output layer's direction (the rest: principal axes), so every "
                                  "point is drawn on the side the model puts it on.", 480,
                        "The layer-by-layer animation appears here."),
            figure_card(FIG_CKPT, "The last hidden layer at checkpoints during training: scrub across a phase "
                                  "transition to see the fold happen.", 480, "The training-time scrubber appears here."),
            html.Div(figure_card(FIG_NEURONS, "Every hidden neuron's activation over the input plane (L2·1 = layer 2, "
                                              "neuron 1; blue negative, white 0, red positive, each map on its own "
                                              "scale; hover for the value).", 300,
                                 "The neurons' maps appear here for 2-D data."), id=NEURONS_CARD,
                     style={"display": "none"}),
            figure_card(FIG_SWEEP, "Seeds 0 … k − 1 of these settings: final test accuracy against the first "
                                   "phase transition (× = none), and its distribution. Click a seed to open it.",
                        380, "Press “Sweep k seeds” to train k seeds at once.", class_name="card wide sweep-card"),
        ],
        id=RESULTS,
        className="panels results",
    )
    return html.Div([controls, panels], className="page two-col train-page")


# Why the chosen data set is hard or easy for u_ε layers (title, Markdown), one per data set.
# The conic statements are exact for every ε >= 0: with z = Wx + b (x in R², three neurons) the
# output's boundary w·u_ε(z) + c = 0 is w·z = -c·sqrt(|z|² + ε), and squaring gives a
# quadratic in x; one side of it, {w·z + c·sqrt(|z|² + ε) <> 0}, is a level set of a convex (or
# concave) function, so it is convex.
CONIC = r"""
**One layer draws one conic.** A hidden layer of three u_ε neurons on 2-D input followed by the
output plane $w\cdot h+c=0$ has the boundary $w\cdot z=-c\sqrt{|z|^2+\varepsilon}$ with
$z=Wx+b$: squared, a quadratic in $x$. So one layer draws a single conic curve (an ellipse, a
parabola, one branch of a hyperbola, or a line when $c=0$), with one convex side.
"""

SPIRAL = r"""
Each hidden layer is an affine map followed by

$$u_\varepsilon(z)=\frac{z}{\sqrt{|z|^2+\varepsilon}},$$

which puts every point (almost) on the unit sphere $S^2$ of its three neurons. The affine map
chooses *how* the points land there: a large scale along one axis **stretches** them towards two
poles (a soft sign), a shift **folds** the sphere over itself so that far-apart points meet (a
soft absolute value) — see *Stretch & fold*.
""" + CONIC + r"""
The two arms of a spiral wind round each other, so no single conic separates them: the network
stretches and folds them layer by layer until a single plane $w\cdot h+b=0$ — the output layer —
separates them. The animation replays exactly this: it interpolates linearly from the input to
each layer's activations in turn.

**Phase transitions.** Training often sits on a plateau (the easy part of the spiral is
separated, the centre is not) and then the loss drops sharply within a few hundred steps. Near a
fold, points move fast relative to the weights — a small change of the shift sends them across
the sphere — so progress can come suddenly. Scrub the training-time view across the marked step
to watch it; the seed sweep shows how often seeds stall and when they break through.
"""

OCTANT = r"""
The points lie on the unit sphere $S^2$ and the class is the parity of the signs,
$x_1x_2x_3<0$: adjacent octants have opposite classes, a 3-D XOR. A plane cuts $S^2$ in one
circle, so no plane separates the eight octants; each hidden layer, an affine map followed by
$u_\varepsilon(z)=z/\sqrt{|z|^2+\varepsilon}$, puts the points back (almost) on a sphere, where
shifts **fold** same-class octants onto each other, until the output plane separates them.

**Plateaus.** The deep, narrow stack (four layers of three neurons) can sit still for a long
time while its layers have not yet brought some octants together, then the loss drops sharply
when they do: the preset's seed waits about a thousand steps. The dashed lines on the training
curves mark the drops the detector finds; many seeds have none (the seed sweep shows how often).
"""

CIRCLE = r"""
The inner circle (class 1) and the outer ring (class 0) differ only in the radius $|x|$, so no
line separates them.
""" + CONIC + r"""
An ellipse round the inner circle is such a conic, so a single hidden layer of three u_ε neurons
can already separate the two circles; the last layer's activations put the inner circle on a cap
of the sphere that the output plane cuts off.
"""

XOR = r"""
Class 1 where $x_1x_2>0$ (the first and third quadrants), class 0 in the other two.
""" + CONIC + r"""
For XOR that is not enough: the points of either class span a convex hull that reaches into the
other class's quadrants, so neither side of one conic can hold one class. A second hidden layer
first **folds** the plane (see *Stretch & fold*) so that opposite quadrants meet, and then a plane
separates them.
"""

GAUSS = r"""
Two Gaussian blobs around $(-1,-1)$ and $(1,1)$: a line already separates them, up to the
overlap the spread makes, so the accuracy is limited by that overlap rather than by the model.
A u_ε layer keeps lines straight: a plane through the origin, $w\cdot u_\varepsilon(z)=0$, is
exactly $w\cdot(Wx+b)=0$ (u_ε only rescales $z$), a line in the input. There is nothing to fold.
"""

MOONS = r"""
Two interleaved half circles: the end of each moon reaches into the hollow of the other, so the
boundary must bend both ways (an S).
""" + CONIC + r"""
A conic bends one way only (one side is convex), and each moon's convex hull holds an end of the
other, so one layer cannot separate every point; a second layer folds the plane first.
"""

DIGITS = r"""
Real data: scikit-learn's 1,797 handwritten digits, 8×8 pixels each, so every point has 64
coordinates (each pixel standardised over the set). Ten classes: the output layer has ten
neurons and training minimises the softmax cross-entropy.

With 64 input dimensions there is no decision boundary to draw; instead the confusion matrix
shows which digits the model mixes up, and the layer embeddings (each layer's activations in
3-D) show how the classes move apart from layer to layer.
"""

EXPLANATIONS = {
    "spiral": ("Why three u_ε neurons can solve a spiral", SPIRAL),
    "octant_sphere": ("Why a deep u_ε stack can separate the octants", OCTANT),
    "circle": ("Why one u_ε layer separates two circles", CIRCLE),
    "xor": ("Why XOR needs two u_ε layers", XOR),
    "gauss": ("Why two blobs need no fold", GAUSS),
    "moons": ("Why the moons need more than one u_ε layer", MOONS),
    "digits": ("What the digits ask of the model", DIGITS),
}


def explanation(dataset, lazy: bool = True) -> list:
    """The explanation box's children for a data set: its own words, or none (never another
    set's). ``lazy``: its formulas are typeset once it scrolls into view (the page's first answer)."""
    if dataset not in EXPLANATIONS:
        return []
    title, text = EXPLANATIONS[dataset]
    return [html.H3(title), math_markdown(text, EXPLAIN_TEXT, lazy)]

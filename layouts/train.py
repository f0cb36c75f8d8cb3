"""The "Toy classifiers" page: train a small MLP live, watch its phase transitions, play the
layer-by-layer animation, sweep seeds, download the model."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from dash import dcc, html

from polyviz import state as st
from polyviz.datasets import DATASET_NAMES
from polyviz.figures.common import base_layout
from polyviz.models import ACTIVATIONS
from polyviz.training import PRESETS as LIB_PRESETS

from .common import GRAPH_CONFIG, control, copy_link, notices_box

PATH = "/train"

# Limits enforced on the server (the library allows more; a web request must not).
MAX_N = 20_000
MAX_WIDTH = 64
MAX_DEPTH = 8
MAX_STEPS = 20_000
MAX_K = 256
SEED_MAX = 2**31 - 1
EPS_RANGE = (1e-8, 1.0)
LR_RANGE = (1e-4, 1.0)
# A seed sweep holds K models' activations at once: K x training points x (width + 1) x depth
# numbers per buffer. This bound keeps a sweep's memory near 200 MB.
SWEEP_BUDGET = 16_000_000


def n_train(n: int, ratio: float) -> int:
    """Training points of polyviz.datasets.train_test_split for n balanced points."""
    return sum(min(max(int(round(ratio * c)), 1), c - 1) for c in ((n + 1) // 2, n // 2))


@dataclass(frozen=True)
class TrainState:
    dataset: str = st.choice("spiral", DATASET_NAMES, label="dataset")
    noise: float = st.number(0.01, 0.0, 1.0, label="noise")
    n: int = st.integer(1250, 4, MAX_N, label="n")
    data_seed: int = st.integer(0, 0, SEED_MAX, label="data_seed")
    ratio: float = st.number(0.8, 0.1, 0.9, label="ratio")
    depth: int = st.integer(2, 1, MAX_DEPTH, label="depth")
    width: int = st.integer(3, 1, MAX_WIDTH, label="width")
    act: str = st.choice("u_eps", ACTIVATIONS, label="act")
    eps: float = st.number(1e-5, *EPS_RANGE, label="eps")
    lr: float = st.number(0.02, *LR_RANGE, label="lr")
    steps: int = st.integer(3000, 10, MAX_STEPS, label="steps")
    batch: int = st.integer(0, 0, MAX_N, label="batch")
    seed: int = st.integer(4, 0, SEED_MAX, label="seed")
    k: int = st.integer(64, 2, MAX_K, label="k")

    @property
    def n_train(self) -> int:
        return n_train(self.n, self.ratio)

    def checked(self):
        """Cross-field rules: layernorm needs width >= 2, a minibatch fits the training set,
        and a sweep stays within its memory bound."""
        state, notices = self, []
        # lr and eps travel through log sliders: 3 significant digits keep them exact on the way back
        state = dataclasses.replace(state, lr=float(f"{state.lr:.3g}"), eps=float(f"{state.eps:.3g}"))
        if state.act == "layernorm" and state.width < 2:
            notices.append(f"width = {state.width} is too small for layernorm (allowed: 2 to {MAX_WIDTH}; "
                           f"a centred 1-vector is 0); using 2.")
            state = dataclasses.replace(state, width=2)
        if state.batch > state.n_train:
            notices.append(f"batch = {state.batch} is more than the {state.n_train} training points (allowed: "
                           f"0 = full batch, or 1 to {state.n_train}); using 0 (full batch).")
            state = dataclasses.replace(state, batch=0)
        per_seed = state.n_train * (state.width + 1) * state.depth
        k_max = max(2, min(MAX_K, SWEEP_BUDGET // per_seed))
        if state.k > k_max:
            notices.append(f"k = {state.k} seeds is too many for this data and model (allowed: 2 to {k_max}, "
                           f"since k × training points × (width + 1) × depth must stay within "
                           f"{SWEEP_BUDGET:,}); using {k_max}.")
            state = dataclasses.replace(state, k=k_max)
        return state, notices

    def training_fields(self) -> dict:
        """Everything that decides a training run's result (the cache key's content)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "k"}

    def sweep_fields(self) -> dict:
        """Everything that decides a seed sweep (seeds 0..k-1, so the seed control is not in it)."""
        fields = self.training_fields()
        fields.pop("seed")
        fields["k"] = self.k
        return fields


def preset_values(name: str) -> dict:
    """State fields of one of the library's presets."""
    p = LIB_PRESETS[name]
    return dict(dataset=p.data.name, noise=p.data.noise, n=p.data.n, data_seed=p.data.seed, ratio=p.data.train_ratio,
                depth=p.model.depth, width=p.model.width, act=p.model.activation, eps=p.model.eps, lr=p.train.lr,
                steps=p.train.steps, batch=p.train.batch_size, seed=p.train.seed)


PRESETS = {
    "spiral": dict(
        title="Spiral",
        text="Spiral: two arms, 1,000 training points, a width-3 u_ε network (Linear → u_ε → Linear → u_ε → "
             "Linear) and 3,000 Adam steps; it sits on a plateau, then the loss drops sharply.",
        values=preset_values("spiral"),
    ),
    "octant_sphere": dict(
        title="Octant sphere",
        text="Octant sphere: points on S², adjacent octants in opposite classes; a deeper width-3 u_ε stack "
             "(4 hidden layers) folds the sphere until a plane separates them, through several plateaus.",
        values=preset_values("octant_sphere"),
    ),
}

# Component ids, so the callbacks module and the tests use the same names.
DATASET, NOISE, N, DATA_SEED, RATIO = "tr-dataset", "tr-noise", "tr-n", "tr-data-seed", "tr-ratio"
DEPTH, WIDTH, ACT, EPS, LR = "tr-depth", "tr-width", "tr-act", "tr-log-eps", "tr-log-lr"
STEPS, BATCH, SEED, K = "tr-steps", "tr-batch", "tr-seed", "tr-k"
CONTROL_IDS = {"dataset": DATASET, "noise": NOISE, "n": N, "data_seed": DATA_SEED, "ratio": RATIO, "depth": DEPTH,
               "width": WIDTH, "act": ACT, "eps": EPS, "lr": LR, "steps": STEPS, "batch": BATCH, "seed": SEED, "k": K}
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

WATCHDOG_MS = 5000
DATASET_LABELS = {"spiral": "spiral", "octant_sphere": "octant sphere (3-D)", "circle": "circle", "xor": "xor",
                  "gauss": "gauss", "moons": "moons"}
ACT_LABELS = {"u_eps": "u_ε", "layernorm": "LayerNorm", "rmsnorm": "RMSNorm", "relu": "ReLU", "gelu": "GELU",
              "tanh": "tanh"}


def layout(preset=None, **query) -> html.Div:
    """The page for a URL query: every control starts from the validated query. ``preset``
    (spiral, octant_sphere) fills in a preset first; the other keys override it."""
    notices = []
    base = None
    if preset is not None:
        if preset in PRESETS:
            base, _ = st.validate(TrainState, PRESETS[preset]["values"])
        else:
            notices.append(f"preset = {str(preset)[:40]!r} is not allowed (one of {', '.join(PRESETS)}); "
                           f"using the controls as given.")
    state, more = st.validate(TrainState, dict(query), base=base)
    return page(state, notices + more, preset if preset in PRESETS else None)


def placeholder_figure(text: str, title: str = "") -> dict:
    layout = base_layout(title, xaxis=dict(visible=False), yaxis=dict(visible=False),
                         annotations=[dict(text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                                           font=dict(size=13, color="#5b6475"))])
    return dict(data=[], layout=layout)


def figure_card(graph_id: str, caption, height: int, placeholder: str, class_name: str = "card") -> html.Div:
    return html.Div(
        [dcc.Graph(id=graph_id, figure=placeholder_figure(placeholder), config=GRAPH_CONFIG,
                   style={"height": f"{height}px"}),
         html.Div(caption, className="caption")],
        className=class_name,
    )


def log_marks(lo: int, hi: int) -> dict:
    return {k: {"label": f"1e{k}"} for k in range(lo, hi + 1)}


def number_box(cid: str, value, lo, hi, step=1) -> dcc.Input:
    return dcc.Input(id=cid, type="number", value=value, min=lo, max=hi, step=step, debounce=True, className="num")


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
            control("Points n", number_box(N, state.n, 4, MAX_N), f"4 to {MAX_N:,}", N),
            control("Train ratio", number_box(RATIO, state.ratio, 0.1, 0.9, 0.05), "0.1 to 0.9", RATIO),
            control("Data seed", number_box(DATA_SEED, state.data_seed, 0, SEED_MAX), control_id=DATA_SEED),
        ], className="row3"),
    ]
    model_controls = [
        html.H3("Model", className="section"),
        control("Hidden layers (depth)", dcc.Slider(id=DEPTH, min=1, max=MAX_DEPTH, step=1, value=state.depth,
                                                    marks={k: str(k) for k in range(1, MAX_DEPTH + 1)}),
                control_id=DEPTH),
        control("Activation", dcc.RadioItems(id=ACT, value=state.act, inline=True, className="radio",
                                             options=[{"label": f" {ACT_LABELS[a]}", "value": a} for a in ACTIVATIONS])),
        html.Div([
            control("Width", number_box(WIDTH, state.width, 1, MAX_WIDTH), f"1 to {MAX_WIDTH}", WIDTH),
            control("Seed", number_box(SEED, state.seed, 0, SEED_MAX), "initialisation", SEED),
        ], className="row2"),
        control("ε (log scale)", dcc.Slider(id=EPS, min=-8, max=0, step=0.1, value=round(math.log10(state.eps), 4),
                                            marks=log_marks(-8, 0), allow_direct_input=False),
                "Used by u_ε, LayerNorm and RMSNorm.", EPS),
    ]
    train_controls = [
        html.H3("Training", className="section"),
        control("Learning rate (log scale)", dcc.Slider(id=LR, min=-4, max=0, step=0.05,
                                                        value=round(math.log10(state.lr), 4), marks=log_marks(-4, 0),
                                                        allow_direct_input=False),
                "Adam. The research set-up uses 0.02.", LR),
        html.Div([
            control("Steps", number_box(STEPS, state.steps, 10, MAX_STEPS), f"10 to {MAX_STEPS:,}", STEPS),
            control("Batch", number_box(BATCH, state.batch, 0, MAX_N), "0 = full batch", BATCH),
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
            control("Seeds k", number_box(K, state.k, 2, MAX_K), f"seeds 0 to k − 1, at most {MAX_K}", K),
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
            html.P(["Train a small MLP on a 2-D or 3-D toy set and watch how each layer moves the data. With ",
                    html.B("u_ε"), " (the core of LayerNorm) as the only non-linearity, three neurons per layer "
                    "are enough for a spiral."], className="lede"),
            html.Div([html.Button(p["title"], id=PRESET_PREFIX + key, className="preset", n_clicks=0,
                                  title=p["text"]) for key, p in PRESETS.items()], className="presets"),
            html.Div(preset_text, id=PRESET_TEXT, className="preset-text"),
            run_box,
            notices_box(notices, NOTICES),
            *data_controls,
            *model_controls,
            *train_controls,
            sweep_box,
            copy_link(COPY),
            html.Div(
                [
                    html.H3("Why three u_ε neurons can solve a spiral"),
                    dcc.Markdown(EXPLANATION, mathjax=True),
                ],
                className="explain",
            ),
            dcc.Store(id=QUERY, data=st.to_query(state)),
            dcc.Store(id=URL_SINK),
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
            figure_card(FIG_ANIM, "Each layer's activations embedded in 3-D, interpolated linearly from layer to "
                                  "layer (▶ plays, the slider jumps to a layer), then one turn. The green plane "
                                  "is the output layer's decision plane.", 480,
                        "The layer-by-layer animation appears here."),
            figure_card(FIG_CKPT, "The last hidden layer at checkpoints during training: scrub across a phase "
                                  "transition to see the fold happen.", 480, "The training-time scrubber appears here."),
            figure_card(FIG_SWEEP, "Seeds 0 … k − 1 of these settings: final test accuracy against the first "
                                   "phase transition (× = none), and its distribution. Click a seed to open it.",
                        380, "Press “Sweep k seeds” to train k seeds at once.", class_name="card wide sweep-card"),
        ],
        id=RESULTS,
        className="panels results",
    )
    return html.Div([controls, panels], className="page two-col train-page")


EXPLANATION = r"""
Each hidden layer is an affine map followed by

$$u_\varepsilon(z)=\frac{z}{\sqrt{|z|^2+\varepsilon}},$$

which puts every point (almost) on the unit sphere $S^2$ of its three neurons. The affine map
chooses *how* the points land there: a large scale along one axis **stretches** them towards two
poles (a soft sign), a shift **folds** the sphere over itself so that far-apart points meet (a
soft absolute value) — see *Stretch & fold*.

Layer by layer the network stretches and folds the two arms until a single plane
$w\cdot h+b=0$ — the output layer — separates them. For the spiral the last layer turns the
data into a blue cap inside a red ring. The animation replays exactly this: it interpolates
linearly from the input to each layer's activations in turn.

**Phase transitions.** Training often sits on a plateau (the easy part of the spiral is
separated, the centre is not) and then the loss drops sharply within a few hundred steps. Near a
fold, points move fast relative to the weights — a small change of the shift sends them across
the sphere — so progress can come suddenly. Scrub the training-time view across the marked step
to watch it; the seed sweep shows how often seeds stall and when they break through.
"""

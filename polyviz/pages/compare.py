"""The /compare page without Dash: two or three model configurations (A, B and optionally C)
trained on the same data, side by side, all in one link.

Each column is an ordinary /train run (:class:`polyviz.pages.train.TrainState`): the data
fields, the number of steps and the seed are shared, the model and learning rate are the
column's own. So a column trained here is the same cached run /train opens, and each column
links to it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from polyviz import state as st
from polyviz.datasets import DATASET_NAMES
from polyviz.embedding import subsample
from polyviz.figures import compare as fc
from polyviz.figures import neurons as fn
from polyviz.figures import train as ft
from polyviz.models import ACTIVATION_NAMES, ACTIVATIONS
from polyviz.pages import train as tp
from polyviz.pages.train import (
    DATA_FORM,
    EPS_RANGE,
    LR_RANGE,
    MAX_DEPTH,
    MAX_N,
    MAX_STEPS,
    MAX_WIDTH,
    SEED_MAX,
    TrainState,
    placeholder_figure,
)
from polyviz.userdata import HASH_PATTERN, UserData

COLUMNS = ("a", "b", "c")
OFF = "off"  # column C's act when only A and B are compared
SHARED_FIELDS = ("dataset", "noise", "n", "data_seed", "ratio", "steps", "seed", "data")
COLUMN_FIELDS = ("act", "width", "depth", "eps", "lr")
# The compare view draws several animations at once: fewer frames and points than /train's
ANIMATION = dict(frames_per_step=8, rotation_frames=0, max_points=400)
BOUNDARY_POINTS = 600
NEURON_GRID = 41


@dataclass(frozen=True)
class CompareState:
    """Every control of the /compare page (all of it is in the URL). The default is the
    preset "u_ε vs LayerNorm vs ReLU at width 3 on the spiral"."""

    dataset: str = st.choice("spiral", DATASET_NAMES, label="dataset")
    noise: float = st.number(0.01, 0.0, 1.0, label="noise")
    n: int = st.integer(1250, 4, MAX_N, label="n")
    data_seed: int = st.integer(0, 0, SEED_MAX, label="data_seed")
    ratio: float = st.number(0.8, 0.1, 0.9, label="ratio")
    steps: int = st.integer(3000, 10, MAX_STEPS, label="steps")
    seed: int = st.integer(4, 0, SEED_MAX, label="seed")
    data: str = st.text("", f"({HASH_PATTERN})?", label="data", describe=DATA_FORM, max_len=40)
    a_act: str = st.choice("u_eps", ACTIVATIONS, label="a_act")
    a_width: int = st.integer(3, 1, MAX_WIDTH, label="a_width")
    a_depth: int = st.integer(2, 1, MAX_DEPTH, label="a_depth")
    a_eps: float = st.number(1e-5, *EPS_RANGE, label="a_eps")
    a_lr: float = st.number(0.02, *LR_RANGE, label="a_lr")
    b_act: str = st.choice("layernorm", ACTIVATIONS, label="b_act")
    b_width: int = st.integer(3, 1, MAX_WIDTH, label="b_width")
    b_depth: int = st.integer(2, 1, MAX_DEPTH, label="b_depth")
    b_eps: float = st.number(1e-5, *EPS_RANGE, label="b_eps")
    b_lr: float = st.number(0.02, *LR_RANGE, label="b_lr")
    c_act: str = st.choice("relu", (OFF, *ACTIVATIONS), label="c_act")
    c_width: int = st.integer(3, 1, MAX_WIDTH, label="c_width")
    c_depth: int = st.integer(2, 1, MAX_DEPTH, label="c_depth")
    c_eps: float = st.number(1e-5, *EPS_RANGE, label="c_eps")
    c_lr: float = st.number(0.02, *LR_RANGE, label="c_lr")
    # how each column's 3-D figures are looked at (empty: each figure's own camera)
    a_boundary_cam: str = st.camera(label="a_boundary_cam")  # 3-D input only
    a_animation_cam: str = st.camera(label="a_animation_cam")
    b_boundary_cam: str = st.camera(label="b_boundary_cam")
    b_animation_cam: str = st.camera(label="b_animation_cam")
    c_boundary_cam: str = st.camera(label="c_boundary_cam")
    c_animation_cam: str = st.camera(label="c_animation_cam")

    def checked(self):
        """lr and eps to 3 significant digits (they travel through log sliders), and each
        column's own rules (those of /train: e.g. LayerNorm needs width >= 2), named by column."""
        rounded = {f"{c}_{name}": float(f"{getattr(self, f'{c}_{name}'):.3g}") for c in COLUMNS
                   for name in ("eps", "lr")}
        state, notices = dataclasses.replace(self, **rounded), []
        for column in state.columns():
            train_state, more = column_state(state, column)
            notices += [f"{column.upper()}: {text}" for text in more]
            state = dataclasses.replace(state, **{f"{column}_{name}": getattr(train_state, name)
                                                  for name in COLUMN_FIELDS})
            # the shared fields a column fixed (e.g. n for the digits set) hold for all
            state = dataclasses.replace(state, **{name: getattr(train_state, name) for name in SHARED_FIELDS})
        return state, notices

    def columns(self) -> tuple[str, ...]:
        """The columns shown: a and b, and c unless its act is "off"."""
        return COLUMNS if self.c_act != OFF else COLUMNS[:2]


def column_state(state: CompareState, column: str) -> tuple[TrainState, list[str]]:
    """The /train state of one column (shared data, steps and seed; the column's model and
    learning rate), and the notices of /train's own rules for it."""
    if column not in state.columns():
        raise ValueError(f"column must be one of {', '.join(state.columns())}, got {column!r}")
    raw = {name: getattr(state, name) for name in SHARED_FIELDS}
    raw.update({name: getattr(state, f"{column}_{name}") for name in COLUMN_FIELDS})
    return st.validate(TrainState, raw)


def column_states(state: CompareState, user: UserData | None = None) -> dict[str, TrainState]:
    """Every shown column's /train state, with your data's own rules applied (n, batch)."""
    return {c: tp.with_data(column_state(state, c)[0], user)[0] for c in state.columns()}


PRESETS = {
    "norms": dict(
        title="u_ε vs LayerNorm vs ReLU",
        text="The spiral with the same width-3, depth-2 network and three non-linearities: u_ε and LayerNorm "
             "fold the plane until the arms separate; ReLU at width 3 has too few regions to follow them.",
        values={},
    ),
    "ln_rms": dict(
        title="LayerNorm vs RMSNorm",
        text="The spiral with LayerNorm (centres, then normalises) against RMSNorm (normalises only), width 3.",
        values=dict(a_act="layernorm", b_act="rmsnorm", c_act=OFF),
    ),
}


def state_from_link(preset=None, **query) -> tuple[CompareState, list[str]]:
    """(state, notices) for a /compare URL query; ``preset`` fills in a preset first."""
    return st.validate_with_preset(CompareState, PRESETS, preset, query)


def column_label(state: CompareState, column: str, act_labels: dict | None = None) -> str:
    act = getattr(state, f"{column}_act")
    act = (act_labels or ACTIVATION_NAMES).get(act, act)
    return (f"{column.upper()}: {act}, {getattr(state, f'{column}_depth')}×{getattr(state, f'{column}_width')}, "
            f"lr {getattr(state, f'{column}_lr'):g}")


def column_figures(train_state: TrainState, run, data=None, user: UserData | None = None) -> dict:
    """One column's figures: ``boundary`` (decision boundary), ``neurons`` (per-neuron maps,
    2-D input) and ``animation`` (the layer-by-layer animation; layer embeddings for more
    than two classes)."""
    Xtr, Xte, ytr, yte = tp.load_data(train_state, user) if data is None else data
    params = run.params
    config = params.config
    keep = subsample(ytr, BOUNDARY_POINTS, seed=1)
    keep_test = subsample(yte, BOUNDARY_POINTS // 3, seed=2)
    specs = {}
    if config.in_dim in (2, 3):
        specs["boundary"] = ft.decision_boundary_spec(params, Xtr[keep], ytr[keep], Xte[keep_test], yte[keep_test],
                                                      grid=81)
        # the caption names the markers: a legend in a third of the page would squeeze the plot
        specs["boundary"]["layout"].update(showlegend=False, margin=dict(l=40, r=16, t=44, b=36))
    else:
        specs["boundary"] = placeholder_figure(f"No decision-boundary picture for {config.in_dim}-D input.")
    if config.in_dim == 2:
        specs["neurons"] = fn.neuron_maps_spec(params, Xtr, grid=NEURON_GRID)
    else:
        specs["neurons"] = placeholder_figure(f"Per-neuron maps need 2-D input; this data is {config.in_dim}-D.")
    if config.n_classes > 2:
        specs["animation"] = ft.layer_embeddings_spec(params, Xtr, ytr, max_points=ANIMATION["max_points"],
                                                      title="Layer embeddings (training points)")
    else:
        specs["animation"] = ft.interpolation_animation_spec(params, Xtr, ytr, **ANIMATION)
    return specs


def compare_figures(state: CompareState, runs: dict, user: UserData | None = None,
                    act_labels: dict | None = None) -> dict:
    """The page's figures for trained runs (``runs``: column -> TrainedRun or TrainResult):
    ``curves`` (all runs overlaid) and, per column, ``<column>`` -> :func:`column_figures`."""
    trains = column_states(state, user)
    shown = [c for c in state.columns() if c in runs]
    specs = {"curves": curves_figure(state, runs, act_labels)}
    data = None
    for c in shown:
        data = tp.load_data(trains[c], user) if data is None else data  # the same data for every column
        specs[c] = column_figures(trains[c], runs[c], data, user)
    return specs


def curves_figure(state: CompareState, runs: dict, act_labels: dict | None = None) -> dict:
    """The training curves of the trained runs (column -> run), overlaid."""
    shown = [c for c in state.columns() if c in runs]
    return fc.compare_curves_spec([runs[c].history for c in shown], [column_label(state, c, act_labels) for c in shown])


# --- exports -------------------------------------------------------------------------------------

EXPORT_LABELS = {"boundary": "decision boundary", "neurons": "neurons", "animation": "layer animation"}


def export_figures(state: CompareState) -> dict[str, str]:
    """The figures the page can export, by name ("curves", "<column>-<figure>"), with labels."""
    return {"curves": "training curves (all models)",
            **{f"{c}-{what}": f"{c.upper()}: {label}" for c in state.columns() for what, label in EXPORT_LABELS.items()}}


def file_stem(state: CompareState) -> str:
    """The start of an exported file's name: the data and the models' activations."""
    data = "user-data" if state.data else state.dataset
    return f"polyviz-compare-{data}-" + "-vs-".join(getattr(state, f"{c}_act") for c in state.columns())


def export_figure(state: CompareState, runs: dict, user: UserData | None, which: str) -> dict:
    """One exported figure (a name of :func:`export_figures`; its column must be in ``runs``)."""
    if which == "curves":
        return curves_figure(state, runs)
    column, what = which.split("-", 1)
    return column_figures(column_states(state, user)[column], runs[column], None, user)[what]


def export_csv(state: CompareState, runs: dict, user: UserData | None, which: str) -> str:
    """The data behind an exported figure: every trained model's training curves for "curves";
    for a column's figure, that model's points (polyviz.exports.points_csv: the data with its
    predictions, which its boundary, neurons and animation are drawn from)."""
    from polyviz import exports

    if which == "curves":
        return exports.compare_curves_csv({column_label(state, c): runs[c].history
                                           for c in state.columns() if c in runs})
    column = which.split("-", 1)[0]
    train_state = column_states(state, user)[column]
    classes, columns = (user.classes, user.columns) if user is not None else (None, None)
    return exports.points_csv(runs[column].params, tp.load_data(train_state, user), classes, columns)


def train_all(state: CompareState, user: UserData | None = None) -> dict:
    """Train every shown column as /train would (for notebooks and tests): column -> TrainResult."""
    return {c: tp.train_for_state(s, user=user)[0] for c, s in column_states(state, user).items()}

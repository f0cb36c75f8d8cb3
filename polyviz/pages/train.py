"""The /train page ("Toy classifiers") without Dash: its state and server limits, its
presets, how its controls and links become a state, what a state trains, and the figures
and words of a finished run.

A benchmark or notebook can parse a /train link with :func:`state_from_link` (or
``polyviz.state.from_query(TrainState, query)``) and train it with :func:`train_for_state`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

import numpy as np

from polyviz.figures import train as ft
from polyviz import state as st
from polyviz.datasets import DATASET_NAMES, DIGITS_N, class_sizes, dataset_classes, dataset_dim, make_dataset, train_test_split
from polyviz.embedding import subsample
from polyviz.figures.common import base_layout
from polyviz.models import ACTIVATION_NAMES, ACTIVATIONS, ARCHITECTURES, BLOCK_ACTIVATIONS, ModelConfig, architecture_text
from polyviz.pages.sphere import drawable_layers
from polyviz.records import SWEEP_CHECKPOINT_BUDGET, USER_DATA_PREFIX, DataSource, SweepRecord, TrainedRun
from polyviz.training import PRESETS as LIB_PRESETS
from polyviz.training import TrainConfig, classification_results, seed_sweep, train
from polyviz.userdata import HASH_PATTERN, UserData

# ------------------------------------------------------------------------------------------
# limits and state
# ------------------------------------------------------------------------------------------
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
ORIGINS = ("run", "sweep")
DATA_FORM = ("40 hexadecimal digits (the content hash of uploaded or drawn data), or empty for the built-in "
             "data sets")


def train_budget_s() -> float:
    """Wall-clock limit of one training job or sweep (POLYVIZ_TRAIN_BUDGET_S, default 300 s)."""
    return float(os.environ.get("POLYVIZ_TRAIN_BUDGET_S", "300"))


def n_train(n: int, ratio: float, dataset: str = "spiral") -> int:
    """Training points of polyviz.datasets.train_test_split for n points of the data set."""
    return sum(min(max(int(round(ratio * c)), 1), c - 1) for c in class_sizes(dataset, n))


@dataclass(frozen=True)
class TrainState:
    """Every control of the /train page (all of it is in the URL)."""

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
    # "run": the seed trained on its own; "sweep": the seed exactly as the k-seed sweep of these
    # settings trained it (its stored weights and curves; float32 rounding in the batched
    # program differs from a single run's, which near a plateau can change the outcome)
    origin: str = st.choice("run", ORIGINS, label="origin")
    groups: int = st.integer(1, 1, MAX_WIDTH, label="groups")  # group_layernorm only
    # "mlp": Linear -> act -> ... -> Linear; "preln": depth pre-LN blocks (LayerNorm -> Linear ->
    # ReLU/GELU -> Linear, with a residual) on a width-wide stream (polyviz.models)
    architecture: str = st.choice("mlp", ARCHITECTURES, label="architecture")
    # your own data (uploaded or drawn), by content hash; empty: the built-in data set above
    data: str = st.text("", f"({HASH_PATTERN})?", label="data", describe=DATA_FORM, max_len=40)
    # how the 3-D figures are looked at (empty: each figure's own camera); no part of a run
    boundary_cam: str = st.camera(label="boundary_cam")  # 3-D input only
    animation_cam: str = st.camera(label="animation_cam")
    checkpoints_cam: str = st.camera(label="checkpoints_cam")

    @property
    def n_train(self) -> int:
        return n_train(self.n, self.ratio, self.dataset)

    def checked(self):
        """Cross-field rules: layernorm needs width >= 2, a minibatch fits the training set,
        and a sweep stays within its memory bound (the rules that need your data itself are
        :func:`with_data`)."""
        state, notices = self, []
        # lr and eps travel through log sliders: 3 significant digits keep them exact on the way back
        state = dataclasses.replace(state, lr=float(f"{state.lr:.3g}"), eps=float(f"{state.eps:.3g}"))
        if state.dataset == "digits" and not 20 <= state.n <= DIGITS_N:
            n = min(max(state.n, 20), DIGITS_N)
            notices.append(f"n = {state.n} does not fit the digits set (allowed: 20 to {DIGITS_N:,}, the images "
                           f"there are); using {n:,}.")
            state = dataclasses.replace(state, n=n)
        if state.architecture == "preln" and state.act not in BLOCK_ACTIVATIONS:
            notices.append(f"act = {state.act} cannot be the non-linearity of a pre-LN block (allowed with "
                           f"architecture = preln: {', '.join(BLOCK_ACTIVATIONS)}; the block's LayerNorm is "
                           f"already there); using relu.")
            state = dataclasses.replace(state, act="relu")
        if state.architecture == "preln" and state.width < 2:
            notices.append(f"width = {state.width} is too small for a pre-LN block (allowed: 2 to {MAX_WIDTH}; "
                           f"the LayerNorm of a 1-vector is 0); using 2.")
            state = dataclasses.replace(state, width=2)
        if state.act == "layernorm" and state.width < 2:
            notices.append(f"width = {state.width} is too small for layernorm (allowed: 2 to {MAX_WIDTH}; "
                           f"a centred 1-vector is 0); using 2.")
            state = dataclasses.replace(state, width=2)
        if state.act == "group_layernorm" and (state.width % state.groups or state.width // state.groups < 2):
            fits = [g for g in range(1, state.width // 2 + 1) if state.width % g == 0] or [1]
            best = max(g for g in fits if g <= state.groups) if any(g <= state.groups for g in fits) else 1
            notices.append(f"groups = {state.groups} does not split width {state.width} into equal groups of at "
                           f"least 2 neurons (allowed for this width: {', '.join(map(str, fits))}); using {best}.")
            state = dataclasses.replace(state, groups=best)
        if state.act != "group_layernorm" and state.groups != 1:
            state = dataclasses.replace(state, groups=1)  # only grouped LN has groups: one key per model
        # with your own data, n is only known once the data is loaded: with_data checks the batch
        if not state.data and state.batch > state.n_train:
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
        if state.origin == "sweep" and state.seed >= state.k:
            notices.append(f"origin = sweep needs a seed the sweep trained (allowed: 0 to {state.k - 1} for "
                           f"k = {state.k}); seed {state.seed} is trained on its own (origin = run).")
            state = dataclasses.replace(state, origin="run")
        return state, notices

    def training_fields(self) -> dict:
        """Everything that decides a training run's result (the cache key's content): k only
        matters for a seed taken from a sweep. With your own data, its hash replaces the
        built-in data set's fields (data_seed and ratio still choose the split)."""
        skip = ("k", "data", *st.camera_fields(TrainState))
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}
        if self.origin == "sweep":
            fields["k"] = self.k
        if self.data:
            for name in ("dataset", "noise", "n"):
                fields.pop(name)
            fields["data"] = self.data
        return fields

    def sweep_fields(self) -> dict:
        """Everything that decides a seed sweep (seeds 0..k-1, so neither the seed control nor
        the origin is in it)."""
        fields = self.training_fields()
        fields.pop("seed")
        fields.pop("origin")
        fields["k"] = self.k
        return fields

    @property
    def data_source(self) -> DataSource:
        if self.data:  # name "user-data:<hash>": the model file says which data it was trained on
            return DataSource(name=f"{USER_DATA_PREFIX}{self.data}", n=self.n, noise=0.0, seed=self.data_seed,
                              train_ratio=self.ratio)
        return DataSource(name=self.dataset, n=self.n, noise=self.noise, seed=self.data_seed, train_ratio=self.ratio)


def with_data(state: TrainState, user: UserData | None) -> tuple[TrainState, list[str]]:
    """The state's rules that need your data itself (the state holds only its hash): n is
    its number of points, and a minibatch must fit its training split."""
    if not state.data or user is None:
        return state, []
    state, notices = dataclasses.replace(state, n=min(max(user.n, 4), MAX_N)), []
    train_count = len(load_data(state, user)[0]) if user.training_problem() is None else user.n
    if state.batch > train_count:
        notices.append(f"batch = {state.batch} is more than the {train_count} training points of your data "
                       f"(allowed: 0 = full batch, or 1 to {train_count}); using 0 (full batch).")
        state = dataclasses.replace(state, batch=0)
    state, more = state.checked()
    return state, notices + more


def link_data_gone(state: TrainState) -> str:
    """Why a link whose data the cache no longer holds trains nothing (in words)."""
    return (f"The data of this link (data = {state.data[:10]}…) is no longer in the cache, so there is "
            f"nothing to train on: upload or draw it again.")


RUN_DATA_GONE = "The data this run was trained on is no longer in the cache: upload or draw it again."


def training_problem(state: TrainState, user: UserData | None) -> str | None:
    """Why the state's data cannot be trained on (in words), or None."""
    if not state.data:
        return None
    if user is None:
        return link_data_gone(state)
    return user.training_problem()  # None for 2 classes (logistic loss) and 3 to 10 (softmax cross-entropy)


@dataclass(frozen=True)
class Resolved:
    """A state with its data: ``state`` follows the rules that need your data (n, batch; see
    :func:`with_data`), ``user`` is that data (None for built-in data, or when it is gone),
    ``notices`` say what those rules changed, ``problem`` why it cannot be trained (or None)."""

    state: TrainState
    user: UserData | None
    notices: list[str]
    problem: str | None

    @property
    def data_gone(self) -> bool:
        return bool(self.state.data) and self.user is None


def resolve(state: TrainState, load_user) -> Resolved:
    """The state with its data, everywhere the page, its jobs and its exports need it (the one
    place the data is loaded). ``load_user(content_hash)`` reads a :class:`UserData` from
    wherever it is kept (the app: services.data_store.load_data), None when it is gone."""
    user = load_user(state.data) if state.data else None
    state, notices = with_data(state, user)
    return Resolved(state, user, notices, training_problem(state, user))


# ------------------------------------------------------------------------------------------
# presets, controls and links
# ------------------------------------------------------------------------------------------
def preset_values(name: str) -> dict:
    """State fields of one of the library's presets."""
    p = LIB_PRESETS[name]
    return dict(dataset=p.data.name, noise=p.data.noise, n=p.data.n, data_seed=p.data.seed, ratio=p.data.train_ratio,
                depth=p.model.depth, width=p.model.width, act=p.model.activation, eps=p.model.eps, lr=p.train.lr,
                steps=p.train.steps, batch=p.train.batch_size, seed=p.train.seed, architecture=p.model.architecture)


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
             "(4 hidden layers) folds the sphere until a plane separates them; it sits on a plateau for a "
             "thousand steps, then the loss drops sharply.",
        values=preset_values("octant_sphere"),
    ),
    "digits": dict(
        title="Digits",
        text="Digits: scikit-learn's 1,797 handwritten 8×8 images, 10 classes, 64 standardised pixels; "
             "Linear(64→64) → LayerNorm → Linear(64→10) with softmax cross-entropy, 300 Adam steps, about 96 % "
             "test accuracy. LayerNorm is the only non-linearity.",
        values=preset_values("digits"),
    ),
}

# The page's controls in the order their widget values arrive; eps and lr sit on log10 sliders.
CONTROL_FIELDS = ("dataset", "noise", "n", "data_seed", "ratio", "depth", "width", "act", "eps", "lr", "steps",
                  "batch", "seed", "k", "origin", "groups", "architecture", "data")
LOG_FIELDS = ("eps", "lr")


def raw_controls(*values) -> dict:
    """Raw widget values (in CONTROL_FIELDS order) as state fields, log sliders undone. An
    empty number box (None) means "not set": the default is kept rather than complained about."""
    raw = dict(zip(CONTROL_FIELDS, values))
    for name in LOG_FIELDS:
        raw[name] = st.from_log10(raw.get(name), significant=3)
    return {key: value for key, value in raw.items() if value is not None}


def state_from_controls(*values) -> tuple[TrainState, list[str]]:
    """Validated state and notices from raw widget values (a payload can hold anything)."""
    return st.validate(TrainState, raw_controls(*values))


def control_values(state: TrainState) -> list:
    """What each control widget holds for a state, in CONTROL_FIELDS order."""
    return [st.to_log10(getattr(state, name), 4) if name in LOG_FIELDS else getattr(state, name)
            for name in CONTROL_FIELDS]


def state_from_link(preset=None, **query) -> tuple[TrainState, list[str], str | None]:
    """(state, notices, preset) for a /train URL query. ``preset`` (spiral, octant_sphere)
    fills in a preset first; the other keys override it. The preset comes back when it is
    one (None otherwise)."""
    state, notices = st.validate_with_preset(TrainState, PRESETS, preset, query)
    return state, notices, preset if preset in PRESETS else None


# ------------------------------------------------------------------------------------------
# what a state trains
# ------------------------------------------------------------------------------------------
CHECKPOINTS = 40  # checkpoints kept per run (the training-time scrubber's frames)
CURVE_EVALS = 300  # test evaluations per run
PROGRESS_EVERY = 10  # steps between the library's progress calls


def load_data(state: TrainState, user: UserData | None = None):
    """(X_train, X_test, y_train, y_test) of the state's data and split. With ``state.data``
    set, ``user`` is that data (from services.data_store.load_data(state.data))."""
    if state.data:
        if user is None or user.content_hash != state.data:
            raise ValueError(f"data = {state.data!r} needs the UserData with that content hash")
        X, y = user.X, user.y
    else:
        X, y = make_dataset(state.dataset, state.n, state.noise, state.data_seed)
    return train_test_split(X, y, state.ratio, state.data_seed)


def input_dim(state: TrainState, user: UserData | None = None) -> int:
    return user.dim if state.data and user is not None else dataset_dim(state.dataset)


def n_classes(state: TrainState, user: UserData | None = None) -> int:
    return len(user.classes) if state.data and user is not None else dataset_classes(state.dataset)


def model_config(state: TrainState, user: UserData | None = None) -> ModelConfig:
    return ModelConfig(in_dim=input_dim(state, user), width=state.width, depth=state.depth,
                       activation=state.act, eps=state.eps, groups=state.groups,
                       architecture=state.architecture, n_classes=n_classes(state, user))


def train_config(state: TrainState, checkpoints: bool = True) -> TrainConfig:
    steps = state.steps
    return TrainConfig(steps=steps, lr=state.lr, batch_size=state.batch, seed=state.seed,
                       eval_every=max(1, steps // CURVE_EVALS),
                       checkpoint_every=max(1, math.ceil(steps / CHECKPOINTS)) if checkpoints else 0,
                       progress_every=PROGRESS_EVERY)


def train_for_state(state: TrainState, on_progress=None, user: UserData | None = None):
    """Train the state's model on its data, as the page's job does. Returns (result, data).
    ``user``: the data of ``state.data`` when it is set."""
    data = load_data(state, user)
    Xtr, Xte, ytr, yte = data
    return (train(model_config(state, user), train_config(state), Xtr, ytr, Xte, yte, on_progress=on_progress),
            data)


def sweep_for_state(state: TrainState, on_progress=None, user: UserData | None = None):
    """Seeds 0 .. k-1 of the state's set-up in one batched sweep, as the page's sweep job does.
    It keeps a single run's checkpoints for every seed while seeds x checkpoints x parameters
    stays within the sweep record's budget (fewer beyond it), so a seed opened from the sweep
    (origin = sweep) has its scrubber too."""
    Xtr, Xte, ytr, yte = load_data(state, user)
    model = model_config(state, user)
    tc = train_config(state, checkpoints=True)
    room = SWEEP_CHECKPOINT_BUDGET // (state.k * model.param_count)
    if room < CHECKPOINTS + 1:
        tc = (tc.replace(checkpoint_every=max(1, math.ceil(state.steps / (room - 1)))) if room >= 3
              else tc.replace(checkpoint_every=0))
    return seed_sweep(model, tc, Xtr, ytr, Xte, yte, seeds=list(range(state.k)), on_progress=on_progress,
                      keep_checkpoints=True)


def run_record(state: TrainState, result, key: str = "", status: str | None = None) -> TrainedRun:
    """The record the page keeps of the state's training result (services.jobs caches it under
    ``key``; ``status`` "time_limit" when the server's time budget stopped it)."""
    return TrainedRun.from_result(result, key=key, query=st.to_query(state), fields=state.training_fields(),
                                  data=state.data_source, status=status)


def trained_run(state: TrainState, on_progress=None, user: UserData | None = None) -> TrainedRun:
    """The run the page trains for the state, as the record it keeps (without a cache key): a
    seed taken from a sweep (origin = sweep) is that seed as the k-seed sweep trained it, as
    /train opens it (services.run_store.open_sweep_seed); otherwise :func:`train_for_state`'s run."""
    if state.origin == "sweep":
        sweep = SweepRecord.from_result(sweep_for_state(state, on_progress, user), key="",
                                        fields=state.sweep_fields())
        return sweep.seed_run(state.seed, key="", query=st.to_query(state), fields=state.training_fields(),
                              data=state.data_source)
    result, _data = train_for_state(state, on_progress, user)
    return run_record(state, result)


def estimated_seconds(state: TrainState, user: UserData | None = None) -> float:
    """A rough training time on one core: a fixed cost per step (the network is tiny, so
    per-operation overhead dominates) plus a cost per multiply-add of the hidden layers.
    Measured on the spiral preset (~60 µs/step) and on n = 20,000, width 64, depth 8
    (~55 ms/step); doubled to stay on the safe side."""
    batch = state.batch or state.n_train
    work = batch * state.width * (state.width * (state.depth - 1) + input_dim(state, user) + 2)
    return 2.0 * state.steps * (60e-6 + 1.2e-10 * work)


def duration_words(state: TrainState, user: UserData | None = None) -> str:
    seconds = estimated_seconds(state, user)
    budget = train_budget_s()
    if seconds > budget:
        return (f"about {seconds / 60:.0f} min, more than the {budget / 60:.0f}-minute limit of one run, which "
                f"stops it early")
    if seconds < 1.5:
        return "about a second"
    return f"about {seconds:.0f} s" if seconds < 90 else f"about {seconds / 60:.0f} min"


# ------------------------------------------------------------------------------------------
# words and figures of a finished run or sweep
# ------------------------------------------------------------------------------------------
SWEEP_THRESHOLD = 0.95  # a seed "succeeds" at this test accuracy
CHECKPOINT_POINTS = 500  # points drawn in the scrubber
ANIMATION = dict(frames_per_step=12, rotation_frames=24, max_points=800)  # the layer-by-layer animation
BOUNDARY_POINTS = 1500  # training points drawn over the decision boundary (test: a third of it)


def run_status(run) -> str:
    """One sentence about how a run (a :class:`polyviz.records.TrainedRun`) ended."""
    steps = int(run.steps_done)
    if run.status == "non_finite":
        # the library's message names the step, the largest gradient norm and what to change
        why = run.message or "the loss became NaN or infinite; try a smaller learning rate"
        return (f"Training stopped at step {steps:,}: {why}. The figures show the last parameters that were still "
                f"finite.")
    if run.status == "time_limit":
        return (f"Training stopped after {run.elapsed_s:.0f} s at step {steps:,}, the time limit of one run. "
                f"Fewer steps or points, or a smaller model, train faster. The figures show the model at that step.")
    acc_text = (f"test accuracy {100 * run.final_test_acc:.1f} %" if run.final_test_acc is not None else
                f"training accuracy {100 * run.final_train_acc:.1f} %")
    return f"Trained {steps:,} steps in {run.elapsed_s:.2f} s: {acc_text}."


def sweep_status(sweep) -> str:
    """One sentence about a sweep (a :class:`polyviz.records.SweepRecord`)."""
    acc = sweep.final_test_acc[~np.isnan(sweep.final_test_acc)]
    good = int((acc >= SWEEP_THRESHOLD).sum())
    text = (f"{len(sweep.seeds)} seeds trained in {sweep.elapsed_s:.1f} s: {good} reached "
            f"{100 * SWEEP_THRESHOLD:.0f} % test accuracy.")
    if sweep.status == "time_limit":
        text += " The sweep hit the time limit of one job, so these are the models at that point."
    return text


DATASET_LABELS = {"spiral": "spiral", "octant_sphere": "octant sphere (3-D)", "circle": "circle", "xor": "xor",
                  "gauss": "gauss", "moons": "moons", "digits": "digits (8×8, 10 classes)"}


DATA_GONE = "This data is no longer in the cache: upload or draw it again."
EMPTY_CANVAS = "An empty canvas: click to add points (at least two of each of two classes to train)."


def user_data_words(data: UserData) -> str:
    """The words under the data figure for your data."""
    return data.describe() + " The data set, noise and n controls above do not apply; “Built-in data” goes back to them."


def builtin_data_words(state: TrainState) -> str:
    """The words under the data figure for the state's built-in data."""
    how = (" Click to add a point: you then train on the points shown plus yours." if dataset_dim(state.dataset) == 2
           else " Points can be drawn on 2-D data: “Clear” starts an empty canvas.")
    return f"The built-in {DATASET_LABELS.get(state.dataset, state.dataset)} data ({state.n:,} points).{how}"


def opened_words(state: TrainState) -> str:
    """What Train says when the state's run is already cached (nothing is trained)."""
    if state.origin == "sweep":
        return f"Opened seed {state.seed} as the {state.k}-seed sweep trained it (its stored weights and curves)."
    return "Opened the cached run for these settings."


@dataclass(frozen=True)
class RunSummary:
    """The words above a run's figures: its test accuracy (in bold on the page), the rest of
    its metrics, what was trained, and a note when it did not end normally (else None)."""

    accuracy: str
    metrics: str
    setup: str
    note: str | None


def run_summary(run, state: TrainState, split: tuple[int, int] | None = None) -> RunSummary:
    """The summary of a run (a :class:`polyviz.records.TrainedRun`) of ``state``; ``split``:
    its (training, test) point counts when known (your data's differ from the state's n)."""
    config = run.config
    arch = architecture_text(config, ACTIVATION_NAMES.get(config.activation, config.activation))
    transitions = run.phase_transitions
    if transitions:
        trans = (f"Phase transition{'s' if len(transitions) > 1 else ''} at step "
                 + ", ".join(f"{t:,}" for t in transitions) + ".")
    else:
        trans = "No phase transition detected."
    acc = run.final_test_acc
    metrics = (f" test accuracy · {100 * run.final_train_acc:.1f} % train · {run.steps_done:,} steps in "
               f"{run.elapsed_s:.2f} s. {trans}")
    n_train, n_test = split or (state.n_train, state.n - state.n_train)
    data = "your data" if state.data else DATASET_LABELS.get(state.dataset, state.dataset)
    sweep = f", as the {run.sweep_seeds}-seed sweep trained it (its stored model)" if run.sweep_seeds else ""
    setup = (f"{data} · {n_train:,} training / {n_test:,} test points · {arch} · {config.param_count:,} "
             f"parameters · seed {state.seed}{sweep}")
    note = run_status(run) if run.status in ("non_finite", "time_limit") else None
    return RunSummary(f"{100 * acc:.1f} %" if acc is not None else "—", metrics, setup, note)


def sphere_link_words(config) -> tuple[list[tuple[int, str]], str]:
    """([(layer k, its link's words)], the note under them) for the layers of a model the
    sphere page draws (their inputs lie on a circle or 2-sphere)."""
    links = [(k, f"Open layer {k} on the sphere page") for k in drawable_layers(config)]
    note = ("Layer k is the Linear map after hidden layer k; the sphere page draws the sphere its inputs lie on."
            if links else "The sphere page draws layers fed by u_ε or RMSNorm of width 3, or LayerNorm of width 3 "
                          "or 4, with more than one neuron: this model has none.")
    return links, note


def placeholder_figure(text: str, title: str = "") -> dict:
    """An empty figure that says what will appear in it."""
    layout = base_layout(title, xaxis=dict(visible=False), yaxis=dict(visible=False),
                         annotations=[dict(text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                                           font=dict(size=13, color="#5b6475"))])
    return dict(data=[], layout=layout)


def run_figures(state: TrainState, run, data=None, user: UserData | None = None) -> dict:
    """The page's figure specs (what the browser receives) for a run: a
    :class:`polyviz.records.TrainedRun` or a :class:`polyviz.training.TrainResult`. ``data``:
    the state's split when already at hand; ``user``: the data of ``state.data``. ``confusion`` is the test split's confusion
    matrix for a multiclass run (None for two classes). A multiclass run shows its layer
    embeddings coloured by class where a binary one shows the animation (which draws two
    classes and the output's one plane), and no checkpoint scrubber; input of more than 3
    dimensions has no decision-boundary picture."""
    Xtr, Xte, ytr, yte = load_data(state, user) if data is None else data
    params, transitions = run.params, list(run.phase_transitions)
    config = params.config
    keep = subsample(ytr, BOUNDARY_POINTS, seed=1)
    keep_test = subsample(yte, BOUNDARY_POINTS // 3, seed=2)
    multiclass = config.n_classes > 2
    specs = {"curves": ft.training_curves_spec(run.history, phase_transitions=transitions, title="Training")}
    if config.in_dim in (2, 3):
        specs["boundary"] = ft.decision_boundary_spec(params, Xtr[keep], ytr[keep], Xte[keep_test], yte[keep_test])
    else:
        specs["boundary"] = placeholder_figure(f"No decision-boundary picture for {config.in_dim}-D input: the layer "
                                               f"embeddings show how the model separates the classes.")
    if multiclass:
        specs["animation"] = ft.layer_embeddings_spec(params, Xtr, ytr, max_points=ANIMATION["max_points"],
                                                      title="Layer embeddings (training points)")
        specs["checkpoints"] = placeholder_figure("The checkpoint scrubber draws two-class runs; this run has "
                                                  f"{config.n_classes} classes.")
        specs["confusion"] = ft.confusion_matrix_spec(classification_results(params, Xte, yte)["confusion"])
    else:
        specs["animation"] = ft.interpolation_animation_spec(params, Xtr, ytr, **ANIMATION)
        specs["checkpoints"] = (ft.checkpoint_embedding_spec(run, Xtr, ytr, max_points=CHECKPOINT_POINTS)
                                if run.checkpoints and config.depth > 0 else
                                placeholder_figure("No checkpoints were kept for this run."))
        specs["confusion"] = None
    if transitions and "frames" in specs["checkpoints"]:
        title = specs["checkpoints"]["layout"]["title"]
        title["text"] += " · phase transition at step " + ", ".join(f"{int(t):,}" for t in transitions)
    return specs


def sweep_figure(sweep) -> dict:
    """The sweep chart of a :class:`polyviz.records.SweepRecord` (or a SweepResult)."""
    return ft.seed_sweep_spec(sweep, threshold=SWEEP_THRESHOLD, title="Seed sweep")

"""Callbacks of the Toy classifiers page.

Flow
----
* ``sync_state`` (every control change): validate the controls, write the canonical query
  (the address bar follows it), the run's cache key, and, when that run is already cached,
  show it at once (RESULT_KEY).
* ``start_training`` (Train, or a click on a seed in the sweep): when the run is cached it is
  shown; otherwise a job id (uuid) and the validated query go into the TRAIN_JOB store, a
  "queued" heartbeat is written and the watchdog is switched on.
* ``train_job`` (a Dash background callback, triggered by TRAIN_JOB): trains with the library,
  reports progress (bar, words, live curves), writes a heartbeat into the cache, caches the
  finished run under its configuration key and answers with that key. It uses only its
  argument, the cache and the library, so a Celery worker can run it.
* ``render_results`` (RESULT_KEY): reads the cached run and draws every figure.
* ``train_watchdog`` (an Interval, on while a job is supposed to run): a heartbeat older than
  STALE_AFTER_S means the job died (worker lost, process killed): say so in words and let
  the user press Train again.
* The seed sweep has the same pieces (start_sweep, sweep_job, render_sweep, sweep_watchdog).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import uuid
from types import SimpleNamespace

import numpy as np
from dash import Input, Output, State, callback, dcc, html, no_update

from callbacks import models_store as store
from callbacks import services
from callbacks.common import sync_url_and_copy_link, triggered_id, triggered_props
from layouts import train as ids
from layouts.common import notice_items
from layouts.train import PRESETS, TrainState
from polyviz import state as st

log = logging.getLogger("polyviz.train")

load_trained = store.load_trained  # for other pages: a trained model by its key or model id

CHECKPOINTS = 40  # checkpoints kept per run (the training-time scrubber's frames)
CHECKPOINT_POINTS = 500  # points drawn in the scrubber
ANIMATION = dict(frames_per_step=12, rotation_frames=24, max_points=800)  # the layer-by-layer animation
BOUNDARY_POINTS = 1500  # training points drawn over the decision boundary (test: a third of it)
CURVE_EVALS = 300  # test evaluations per run
LIVE_POINTS = 400  # points per live curve while training
PROGRESS_EVERY = 10  # steps between the library's progress calls
PROGRESS_S = 0.5  # seconds between progress updates sent to the page
HEARTBEAT_S = 2.0  # seconds between heartbeats
# a running job whose heartbeat is older than this is lost (the scale-out test shortens it)
STALE_AFTER_S = float(os.environ.get("POLYVIZ_HEARTBEAT_STALE_S", "20"))
QUEUE_GRACE_S = 90.0  # a job may wait this long for a free worker before it counts as lost
HEARTBEAT_TIMEOUT = 3600
SWEEP_THRESHOLD = 0.95

UNAVAILABLE = ("Training is unavailable right now: the shared cache that holds jobs and results cannot be "
               "reached. Try again in a minute.")


# ------------------------------------------------------------------------------------------
# state
# ------------------------------------------------------------------------------------------
def from_log(value):
    """A log10 slider value to the number it stands for, rounded to 3 significant digits (so
    0.02 survives the round trip through log10); anything else passes through unchanged so
    validation can name it."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(f"{10.0 ** max(min(float(value), 10.0), -10.0):.3g}")
    return value


def raw_controls(dataset, noise, n, data_seed, ratio, depth, width, act, log_eps, log_lr, steps, batch, seed, k) -> dict:
    raw = dict(dataset=dataset, noise=noise, n=n, data_seed=data_seed, ratio=ratio, depth=depth, width=width, act=act,
               eps=from_log(log_eps), lr=from_log(log_lr), steps=steps, batch=batch, seed=seed, k=k)
    # An empty number box (None) means "not set": keep the default rather than complain.
    return {key: value for key, value in raw.items() if value is not None}


def state_from_controls(*controls):
    """Validated state and notices from raw control values (a payload can hold anything)."""
    return st.validate(TrainState, raw_controls(*controls))


CONTROL_INPUTS = [Input(cid, "value") for cid in ids.CONTROL_IDS.values()]
CONTROL_STATES = [State(cid, "value") for cid in ids.CONTROL_IDS.values()]


def control_values(state: TrainState) -> list:
    """What each control widget holds for a state (sliders hold log10 of eps and lr)."""
    values = []
    for name in ids.CONTROL_IDS:
        value = getattr(state, name)
        values.append(round(math.log10(value), 4) if name in ("eps", "lr") else value)
    return values


# ------------------------------------------------------------------------------------------
# training (pure: no Dash, no cache)
# ------------------------------------------------------------------------------------------
def load_data(state: TrainState):
    """(X_train, X_test, y_train, y_test) of the state's data set and split."""
    from polyviz.datasets import make_dataset, train_test_split

    X, y = make_dataset(state.dataset, state.n, state.noise, state.data_seed)
    return train_test_split(X, y, state.ratio, state.data_seed)


def model_config(state: TrainState):
    from polyviz.datasets import dataset_dim
    from polyviz.models import ModelConfig

    return ModelConfig(in_dim=dataset_dim(state.dataset), width=state.width, depth=state.depth,
                       activation=state.act, eps=state.eps)


def train_config(state: TrainState, checkpoints: bool = True):
    from polyviz.training import TrainConfig

    steps = state.steps
    return TrainConfig(steps=steps, lr=state.lr, batch_size=state.batch, seed=state.seed,
                       eval_every=max(1, steps // CURVE_EVALS),
                       checkpoint_every=max(1, math.ceil(steps / CHECKPOINTS)) if checkpoints else 0,
                       progress_every=PROGRESS_EVERY)


def train_for_state(state: TrainState, on_progress=None):
    """Train the state's model on its data, as the page's job does. Returns (result, data)."""
    from polyviz.training import train

    data = load_data(state)
    Xtr, Xte, ytr, yte = data
    return train(model_config(state), train_config(state), Xtr, ytr, Xte, yte, on_progress=on_progress), data


def record_extra(state: TrainState, result) -> dict:
    """The JSON "extra" of the model document: where the data came from, how it was trained,
    how well it did."""
    return {
        "source": "polyviz /train",
        "query": st.to_query(state),
        "data": {"name": state.dataset, "n": state.n, "noise": state.noise, "seed": state.data_seed,
                 "train_ratio": state.ratio},
        "train": result.train_config.to_dict(),
        "metrics": {k: v for k, v in result.summary().items() if k != "elapsed_s"},
    }


def finish_record(state: TrainState, key: str, result, budget_hit: bool) -> dict:
    record = store.encode_run(key, st.to_query(state), state.training_fields(), result, record_extra(state, result))
    if budget_hit:
        record["status"] = "time_limit"
    return record


# ------------------------------------------------------------------------------------------
# jobs: payload, heartbeat, watchdog
# ------------------------------------------------------------------------------------------
def new_job(state: TrainState, kind: str) -> dict:
    return {"id": uuid.uuid4().hex, "kind": kind, "query": st.to_query(state), "started": time.time()}


def parse_job(job):
    """(job id, state) from a job store's content, or None when it is not a job (a payload can
    hold anything; the same validation as the page applies)."""
    if not isinstance(job, dict):
        return None
    job_id, query = job.get("id"), job.get("query")
    if not isinstance(job_id, str) or len(job_id) != 32 or any(c not in "0123456789abcdef" for c in job_id):
        return None
    if not isinstance(query, str) or len(query) > 4000:
        return None
    state, _notices = st.from_query(TrainState, query)
    return job_id, state


def heartbeat_key(job_id: str) -> str:
    return services.cache_key("train-heartbeat", job_id)


def write_heartbeat(job_id: str, kind: str, phase: str, **info) -> bool:
    """Record that a job is alive (phase: queued, running, done, failed, cancelled)."""
    beat = {"job": job_id, "kind": kind, "phase": phase, "beat": time.time(), **info}
    # a finished job's heartbeat is only read by the watchdog's next tick
    timeout = HEARTBEAT_TIMEOUT if phase in ("queued", "running") else 600
    return services.cache_set(heartbeat_key(job_id), beat, timeout=timeout)


def watchdog_verdict(job, now: float | None = None) -> tuple[bool, str | None]:
    """(stop watching, message) for a job that is supposed to be running.

    Alive: (False, None). Finished, cancelled or not a job: (True, None). Lost: (True, a
    message in words)."""
    parsed = parse_job(job)
    if parsed is None:
        return True, None
    job_id, _state = parsed
    sweep = job.get("kind") == "sweep"
    what = "seed sweep" if sweep else "training job"
    again = "Press “Sweep k seeds” to start it again." if sweep else "Press Train to start it again."
    now = time.time() if now is None else now
    try:
        beat = services.cache_get(heartbeat_key(job_id), required=True)
    except services.CacheUnavailable:
        return False, (f"Cannot check on the {what} right now: the shared cache cannot be reached. It may still "
                       f"finish; if nothing happens, press the button again later.")
    if not isinstance(beat, dict) or not isinstance(beat.get("beat"), (int, float)):
        started = job.get("started")
        if isinstance(started, (int, float)) and math.isfinite(started) and now - started > QUEUE_GRACE_S:
            return True, (f"The {what} never reported back (no sign of life for {now - started:.0f} s): it stopped "
                          f"unexpectedly, perhaps because its worker was lost. {again}")
        return False, None
    phase = beat.get("phase")
    if phase in ("done", "failed", "cancelled"):
        return True, None
    age = now - float(beat["beat"])
    if phase == "queued":
        if age > QUEUE_GRACE_S:
            return True, (f"The {what} did not start: no worker picked it up within {age:.0f} s. "
                          f"{again.replace('start it again', 'try again')}")
        return False, None
    if age > STALE_AFTER_S:
        step = beat.get("step")
        where = f" after step {step:,}" if isinstance(step, int) and step > 0 else ""
        return True, (f"The {what} stopped unexpectedly{where}: it has sent no sign of life for {age:.0f} s "
                      f"(its worker was probably lost or restarted). {again}")
    return False, None


# ------------------------------------------------------------------------------------------
# the training job (runs in a background process or on a Celery worker)
# ------------------------------------------------------------------------------------------
def _pct(step: int, total: int) -> str:
    # html.Progress's value is an HTML attribute: a string
    return str(int(round(100 * step / max(total, 1))))


class LiveCurves:
    """Curves gathered from the library's progress calls, thinned for the wire."""

    def __init__(self):
        self.step, self.loss, self.acc = [], [], []
        self.test_step, self.test_loss, self.test_acc = [], [], []

    def add(self, step: int, metrics: dict) -> None:
        self.step.append(int(metrics.get("step", step)))
        self.loss.append(float(metrics.get("train_loss", float("nan"))))
        self.acc.append(float(metrics.get("train_acc", float("nan"))))
        ts = metrics.get("test_step")
        if ts is not None and (not self.test_step or ts != self.test_step[-1]):
            self.test_step.append(int(ts))
            self.test_loss.append(float(metrics["test_loss"]))
            self.test_acc.append(float(metrics["test_acc"]))

    @staticmethod
    def _thin(*series):
        n = len(series[0])
        stride = max(1, math.ceil(n / LIVE_POINTS))
        keep = list(range(0, n, stride))
        if n and keep[-1] != n - 1:
            keep.append(n - 1)
        return [np.asarray(s)[keep] for s in series]

    def figure(self, total: int) -> dict:
        from polyviz.figures.train import training_curves_spec

        step, loss, acc = self._thin(self.step, self.loss, self.acc)
        history = {"step": step, "train_loss": np.maximum(loss, 1e-12), "train_acc": acc}
        if self.test_step:
            ts, tl, ta = self._thin(self.test_step, self.test_loss, self.test_acc)
            history.update(test_step=ts, test_loss=np.maximum(tl, 1e-12), test_acc=ta)
        spec = training_curves_spec(history, phase_transitions=[], title="Training…")
        spec["layout"]["xaxis"]["range"] = [0, total]
        return spec


def progress_text(step: int, total: int, metrics: dict, elapsed: float) -> str:
    parts = [f"Training… step {step:,} / {total:,}", f"loss {metrics.get('train_loss', float('nan')):.4f}"]
    if "test_acc" in metrics:
        parts.append(f"test accuracy {100 * metrics['test_acc']:.1f} %")
    parts.append(f"{elapsed:.1f} s")
    return " · ".join(parts)


def estimated_seconds(state: TrainState) -> float:
    """A rough training time on one core: a fixed cost per step (the network is tiny, so
    per-operation overhead dominates) plus a cost per multiply-add of the hidden layers.
    Measured on the spiral preset (~60 µs/step) and on n = 20,000, width 64, depth 8
    (~55 ms/step); doubled to stay on the safe side."""
    from polyviz.datasets import dataset_dim

    batch = state.batch or state.n_train
    work = batch * state.width * (state.width * (state.depth - 1) + dataset_dim(state.dataset) + 2)
    return 2.0 * state.steps * (60e-6 + 1.2e-10 * work)


def duration_words(state: TrainState) -> str:
    seconds = estimated_seconds(state)
    budget = train_budget_s()
    if seconds > budget:
        return (f"about {seconds / 60:.0f} min, more than the {budget / 60:.0f}-minute limit of one run, which "
                f"stops it early")
    if seconds < 1.5:
        return "about a second"
    return f"about {seconds:.0f} s" if seconds < 90 else f"about {seconds / 60:.0f} min"


def train_budget_s() -> float:
    return float(os.environ.get("POLYVIZ_TRAIN_BUDGET_S", "300"))


def run_training_job(job, set_progress=None):
    """The body of the training job: (result key or no_update, status words, progress %).

    Uses only its argument, the cache and the library. ``set_progress`` receives
    [percent, words, live curves figure]."""
    import torch

    parsed = parse_job(job)
    if parsed is None:
        return no_update, "This training request was not understood; press Train again.", "0"
    job_id, state = parsed
    key = store.run_key(state.training_fields())
    try:
        cached = store.load_record(key, required=True)
    except services.CacheUnavailable:
        return no_update, UNAVAILABLE, "0"
    if cached is not None and cached["status"] in store.FINAL_STATUSES:
        write_heartbeat(job_id, "train", "done")
        return key, "Opened the cached run for these settings.", "100"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    budget = train_budget_s()
    try:
        write_heartbeat(job_id, "train", "running", step=0, total=state.steps)
        live = LiveCurves()
        start = time.perf_counter()
        marks = {"progress": start, "beat": start, "budget_hit": False}

        def on_progress(step, total, metrics):
            live.add(step, metrics)
            now = time.perf_counter()
            if now - marks["beat"] >= HEARTBEAT_S:
                marks["beat"] = now
                write_heartbeat(job_id, "train", "running", step=int(step), total=int(total))
            if set_progress is not None and now - marks["progress"] >= PROGRESS_S:
                marks["progress"] = now
                set_progress([_pct(step, total), progress_text(step, total, metrics, now - start), live.figure(total)])
            if now - start > budget:
                marks["budget_hit"] = True
                return False
            return None

        result, _data = train_for_state(state, on_progress)
        record = finish_record(state, key, result, marks["budget_hit"])
        services.cache_set(key, record, required=True)
    except services.CacheUnavailable:
        write_heartbeat(job_id, "train", "failed")
        return no_update, UNAVAILABLE, "0"
    except Exception as error:  # the job must answer in words, whatever went wrong
        log.exception("training job %s failed", job_id)
        write_heartbeat(job_id, "train", "failed")
        return no_update, (f"Training failed ({type(error).__name__}). It has been logged; try other settings."), "0"
    finally:
        torch.set_num_threads(threads)
    write_heartbeat(job_id, "train", "done", step=int(record["steps_done"]), total=state.steps)
    return key, run_status(record), "100"


def run_status(record: dict) -> str:
    """One sentence about how a run ended."""
    status = record["status"]
    steps = int(record["steps_done"])
    if status == "non_finite":
        return (f"Training stopped at step {steps:,}: the loss became NaN or infinite, which usually means the "
                f"learning rate is too large for this model. Try a smaller learning rate. The figures show the "
                f"last parameters that were still finite.")
    if status == "time_limit":
        return (f"Training stopped after {record['elapsed_s']:.0f} s at step {steps:,}, the time limit of one run. "
                f"Fewer steps or points, or a smaller model, train faster. The figures show the model at that step.")
    acc = record.get("final_test_acc")
    acc_text = f"test accuracy {100 * acc:.1f} %" if acc is not None else \
        f"training accuracy {100 * record['final_train_acc']:.1f} %"
    return f"Trained {steps:,} steps in {record['elapsed_s']:.2f} s: {acc_text}."


# ------------------------------------------------------------------------------------------
# figures of a cached run
# ------------------------------------------------------------------------------------------
def run_figures(state: TrainState, params, history: dict, checkpoints: dict, transitions: list, data=None) -> dict:
    """The page's figure specs for a trained model (what the browser receives)."""
    from polyviz.figures import train as ft
    from polyviz.embedding import subsample

    Xtr, Xte, ytr, yte = load_data(state) if data is None else data
    keep = subsample(ytr, BOUNDARY_POINTS, seed=1)
    keep_test = subsample(yte, BOUNDARY_POINTS // 3, seed=2)
    result = SimpleNamespace(params=params, checkpoints=checkpoints)
    specs = {
        "curves": ft.training_curves_spec(history, phase_transitions=transitions, title="Training"),
        "boundary": ft.decision_boundary_spec(params, Xtr[keep], ytr[keep], Xte[keep_test], yte[keep_test]),
        "animation": ft.interpolation_animation_spec(params, Xtr, ytr, **ANIMATION),
        "checkpoints": (ft.checkpoint_embedding_spec(result, Xtr, ytr, max_points=CHECKPOINT_POINTS)
                        if checkpoints and params.config.depth > 0 else
                        ids.placeholder_figure("No checkpoints were kept for this run.")),
    }
    if transitions and "frames" in specs["checkpoints"]:
        title = specs["checkpoints"]["layout"]["title"]
        title["text"] += " · phase transition at step " + ", ".join(f"{int(t):,}" for t in transitions)
    return specs


def record_figures(record: dict) -> dict:
    state, _ = st.validate(TrainState, record["fields"])
    params = store.decode_params(record)
    history = store.decode_history(record)
    checkpoints = store.decode_checkpoints(record, params.config)
    with one_torch_thread():
        return run_figures(state, params, history, checkpoints, list(record.get("phase_transitions", [])))


@contextlib.contextmanager
def one_torch_thread():
    """Tiny matrix products: a second thread only adds contention (gunicorn workers run with
    one thread anyway; this keeps the development server the same)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def summary_children(record: dict, state: TrainState) -> list:
    config = store.model_config(record)
    shapes = config.layer_shapes()
    act = ids.ACT_LABELS.get(config.activation, config.activation)
    arch = f" → {act} → ".join(f"Linear({i}→{o})" for o, i in shapes)
    transitions = record.get("phase_transitions") or []
    if transitions:
        trans = "Phase transition" + ("s" if len(transitions) > 1 else "") + " at step " + \
                ", ".join(f"{t:,}" for t in transitions) + "."
    else:
        trans = "No phase transition detected."
    acc = record.get("final_test_acc")
    metrics = [html.B(f"{100 * acc:.1f} %" if acc is not None else "—"), " test accuracy · ",
               f"{100 * record['final_train_acc']:.1f} % train · {int(record['steps_done']):,} steps in "
               f"{record['elapsed_s']:.2f} s. {trans}"]
    children = [
        html.Div(metrics, className="summary-metrics"),
        html.Div(f"{ids.DATASET_LABELS.get(state.dataset, state.dataset)} · {state.n_train:,} training / "
                 f"{state.n - state.n_train:,} test points · {arch} · {config.param_count:,} parameters · seed "
                 f"{state.seed}", className="summary-config"),
    ]
    if record["status"] in ("non_finite", "time_limit"):
        children.append(html.Div(run_status(record), className="notice"))
    return children


def sphere_links(key: str, depth: int, width: int) -> list:
    links = [dcc.Link(f"Open layer {k} on the sphere page", href=store.sphere_href(key, k), className="sphere-link")
             for k in range(1, depth + 1)]
    note = "Layer k is the Linear map after hidden layer k; its inputs lie on the activation's sphere."
    if width not in (3, 4):
        note += " The sphere page draws layers with 3 or 4 inputs."
    return [html.Span("Layers: ", className="control-help"), *links, html.Div(note, className="control-help")]


# ------------------------------------------------------------------------------------------
# seed sweep
# ------------------------------------------------------------------------------------------
def run_sweep_job(job, set_progress=None):
    """The body of the sweep job: (sweep key or no_update, status words, progress %)."""
    import torch

    parsed = parse_job(job)
    if parsed is None:
        return no_update, "This sweep request was not understood; press the button again.", "0"
    job_id, state = parsed
    key = store.sweep_key(state.sweep_fields())
    try:
        if isinstance(services.cache_get(key, required=True), dict):
            write_heartbeat(job_id, "sweep", "done")
            return key, "Opened the cached sweep for these settings.", "100"
    except services.CacheUnavailable:
        return no_update, UNAVAILABLE, "0"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    budget = train_budget_s()
    try:
        from polyviz.training import seed_sweep

        write_heartbeat(job_id, "sweep", "running", step=0, total=state.steps)
        Xtr, Xte, ytr, yte = load_data(state)
        start = time.perf_counter()
        marks = {"progress": start, "beat": start, "budget_hit": False}

        def on_progress(step, total, metrics):
            now = time.perf_counter()
            if now - marks["beat"] >= HEARTBEAT_S:
                marks["beat"] = now
                write_heartbeat(job_id, "sweep", "running", step=int(step), total=int(total))
            if set_progress is not None and now - marks["progress"] >= PROGRESS_S:
                marks["progress"] = now
                set_progress([_pct(step, total), f"Sweeping {state.k} seeds… step {step:,} / {total:,} · mean loss "
                                                 f"{metrics.get('train_loss', float('nan')):.4f} · {now - start:.1f} s"])
            if now - start > budget:
                marks["budget_hit"] = True
                return False
            return None

        sweep = seed_sweep(model_config(state), train_config(state, checkpoints=False), Xtr, ytr, Xte, yte,
                           seeds=list(range(state.k)), on_progress=on_progress)

        def plain(a):
            return [None if not math.isfinite(float(v)) else float(v) for v in np.asarray(a, dtype=np.float64)]

        record = {
            "format": store.SWEEP_FORMAT, "key": key, "fields": state.sweep_fields(),
            "seeds": [int(s) for s in sweep.seeds], "final_train_acc": plain(sweep.final_train_acc),
            "final_test_acc": plain(sweep.final_test_acc),
            "transition_step": [int(s) for s in sweep.transition_step],
            "diverged_step": [int(s) for s in sweep.diverged_step],
            "steps": int(state.steps), "elapsed_s": float(sweep.elapsed_s),
            "status": "time_limit" if marks["budget_hit"] else str(sweep.status),
        }
        if not marks["budget_hit"]:
            services.cache_set(key, record, required=True)
        else:
            services.cache_set(key, record, timeout=600, required=True)
    except services.CacheUnavailable:
        write_heartbeat(job_id, "sweep", "failed")
        return no_update, UNAVAILABLE, "0"
    except Exception as error:
        log.exception("sweep job %s failed", job_id)
        write_heartbeat(job_id, "sweep", "failed")
        return no_update, f"The sweep failed ({type(error).__name__}). It has been logged; try other settings.", "0"
    finally:
        torch.set_num_threads(threads)
    write_heartbeat(job_id, "sweep", "done")
    return key, sweep_status(record), "100"


def sweep_status(record: dict) -> str:
    acc = [a for a in record["final_test_acc"] if a is not None]
    good = sum(a >= SWEEP_THRESHOLD for a in acc)
    text = (f"{len(record['seeds'])} seeds trained in {record['elapsed_s']:.1f} s: {good} reached "
            f"{100 * SWEEP_THRESHOLD:.0f} % test accuracy.")
    if record.get("status") == "time_limit":
        text += " The sweep hit the time limit of one job, so these are the models at that point."
    return text


def load_sweep(key) -> dict | None:
    full = store.key_from_id(key, store.SWEEP_NAMESPACE)
    if full is None:
        return None
    record = services.cache_get(full)
    return record if isinstance(record, dict) and record.get("format") == store.SWEEP_FORMAT else None


def sweep_figure(record: dict) -> dict:
    from polyviz.figures.train import seed_sweep_spec

    def arr(values):
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    sweep = SimpleNamespace(
        seeds=np.asarray(record["seeds"], dtype=np.int64), final_test_acc=arr(record["final_test_acc"]),
        final_train_acc=arr(record["final_train_acc"]),
        transition_step=np.asarray(record["transition_step"], dtype=np.int64),
        diverged_step=np.asarray(record["diverged_step"], dtype=np.int64),
        train_config=SimpleNamespace(steps=int(record["steps"])),
    )
    return seed_sweep_spec(sweep, threshold=SWEEP_THRESHOLD, title="Seed sweep")


def clicked_seed(click) -> int | None:
    """The seed of a clicked sweep point (its customdata), or None."""
    try:
        value = click["points"][0]["customdata"]
    except (TypeError, KeyError, IndexError):
        return None
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    if value != int(value) or not 0 <= value <= ids.SEED_MAX:
        return None
    return int(value)


# ------------------------------------------------------------------------------------------
# callbacks
# ------------------------------------------------------------------------------------------
@callback(
    Output(ids.NOTICES, "children"),
    Output(ids.QUERY, "data"),
    Output(ids.RUN_KEY, "data"),
    Output(ids.RESULT_KEY, "data"),
    Output(ids.SWEEP_KEY, "data"),
    Output(ids.HINT, "children"),
    Output(ids.RESULTS, "className"),
    *CONTROL_INPUTS,
    State(ids.LINK_NOTICES, "data"),
    State(ids.SHOWN_KEY, "data"),
    State(ids.TRAIN, "disabled"),
)
def sync_state(*args):
    controls, (link_notices, shown, running) = args[:14], args[14:]
    state, notices = state_from_controls(*controls)
    if not triggered_props() and isinstance(link_notices, list):
        notices = [str(text)[:300] for text in link_notices[:20]] + notices
    key = store.run_key(state.training_fields())
    try:
        record = store.load_record(key, required=True)
        available = True
    except services.CacheUnavailable:
        record, available = None, False
    cached = record is not None and record["status"] in store.FINAL_STATUSES
    result_key = key if cached and shown != key else no_update
    sweep = store.sweep_key(state.sweep_fields())
    sweep_key = sweep if available and load_sweep(sweep) is not None else no_update
    if not available:
        hint = "Training is unavailable right now: the shared cache cannot be reached."
    elif cached:
        hint = "These settings were trained before: their results are shown."
    elif running is True:
        hint = ""
    else:
        hint = f"Not trained yet with these settings: press Train ({duration_words(state)})."
    stale = not cached and isinstance(shown, str) and shown != key
    return (notice_items(notices), st.to_query(state), key, result_key, sweep_key, hint,
            "panels results stale" if stale else "panels results")


@callback(
    Output(ids.TRAIN_JOB, "data"),
    Output(ids.RESULT_KEY, "data", allow_duplicate=True),
    Output(ids.STATUS, "children", allow_duplicate=True),
    Output(ids.SEED, "value", allow_duplicate=True),
    Output(ids.TRAIN_WATCHDOG, "disabled", allow_duplicate=True),
    Output(ids.PROGRESS, "value", allow_duplicate=True),
    Output(ids.HINT, "children", allow_duplicate=True),
    Input(ids.TRAIN, "n_clicks"),
    Input(ids.FIG_SWEEP, "clickData"),
    *CONTROL_STATES,
    State(ids.SHOWN_KEY, "data"),
    prevent_initial_call=True,
)
def start_training(_clicks, click, *args):
    controls, shown = args[:14], args[14]
    raw = raw_controls(*controls)
    seed = no_update
    if triggered_id() == ids.FIG_SWEEP:
        seed = clicked_seed(click)
        if seed is None:
            return (no_update,) * 7
        raw["seed"] = seed
    state, _ = st.validate(TrainState, raw)
    key = store.run_key(state.training_fields())
    try:
        record = store.load_record(key, required=True)
    except services.CacheUnavailable:
        return no_update, no_update, UNAVAILABLE, seed, True, "0", no_update
    if record is not None and record["status"] in store.FINAL_STATUSES:
        return (no_update, key if key != shown else no_update, "Opened the cached run for these settings.", seed,
                True, "100", no_update)
    job = new_job(state, "train")
    if not write_heartbeat(job["id"], "train", "queued"):
        return no_update, no_update, UNAVAILABLE, seed, True, "0", no_update
    return job, no_update, "Starting…", seed, False, "0", ""


@callback(
    Output(ids.RESULT_KEY, "data", allow_duplicate=True),
    Output(ids.STATUS, "children", allow_duplicate=True),
    Output(ids.PROGRESS, "value", allow_duplicate=True),
    Output(ids.TRAIN_WATCHDOG, "disabled", allow_duplicate=True),
    Input(ids.TRAIN_JOB, "data"),
    background=True,
    progress=[Output(ids.PROGRESS, "value"), Output(ids.LIVE, "children"), Output(ids.FIG_CURVES, "figure")],
    running=[(Output(ids.TRAIN, "disabled"), True, False), (Output(ids.CANCEL, "disabled"), False, True),
             (Output(ids.LIVE, "style"), {"display": "block"}, {"display": "none"})],
    cancel=[Input(ids.CANCEL, "n_clicks")],
    interval=500,
    prevent_initial_call=True,
)
def train_job(set_progress, job):
    return (*run_training_job(job, set_progress), True)


@callback(
    Output(ids.STATUS, "children", allow_duplicate=True),
    Output(ids.TRAIN_WATCHDOG, "disabled", allow_duplicate=True),
    Output(ids.PROGRESS, "value", allow_duplicate=True),
    Input(ids.CANCEL, "n_clicks"),
    State(ids.TRAIN_JOB, "data"),
    prevent_initial_call=True,
)
def cancel_training(_clicks, job):
    parsed = parse_job(job)
    if parsed is not None:
        write_heartbeat(parsed[0], "train", "cancelled")
    return "Cancelled. Press Train to start again.", True, "0"


@callback(
    Output(ids.STATUS, "children", allow_duplicate=True),
    Output(ids.TRAIN_WATCHDOG, "disabled"),
    Output(ids.TRAIN, "disabled"),
    Output(ids.CANCEL, "disabled"),
    Output(ids.LIVE, "style", allow_duplicate=True),
    Input(ids.TRAIN_WATCHDOG, "n_intervals"),
    State(ids.TRAIN_JOB, "data"),
    prevent_initial_call=True,
)
def train_watchdog(_n, job):
    stop, message = watchdog_verdict(job)
    if not stop:
        return (message if message else no_update), no_update, no_update, no_update, no_update
    if message is None:
        return no_update, True, no_update, no_update, no_update
    # the lost job's last progress line would contradict the verdict: hide it
    return message, True, False, True, {"display": "none"}


@callback(
    Output(ids.FIG_CURVES, "figure"),
    Output(ids.FIG_BOUNDARY, "figure"),
    Output(ids.FIG_ANIM, "figure"),
    Output(ids.FIG_CKPT, "figure"),
    Output(ids.SUMMARY, "children"),
    Output(ids.LINKS, "children"),
    Output(ids.DOWNLOAD_BUTTON, "disabled"),
    Output(ids.SHOWN_KEY, "data"),
    Output(ids.RESULTS, "className", allow_duplicate=True),
    Output(ids.HINT, "children", allow_duplicate=True),
    Input(ids.RESULT_KEY, "data"),
    State(ids.RUN_KEY, "data"),
    prevent_initial_call=True,
)
def render_results(key, run_key):
    record = store.load_record(key)
    if record is None:
        if store.key_from_id(key) is None:  # nothing to show (or not a run key at all)
            return (no_update,) * 10
        return ((no_update,) * 4 + ("This run is no longer in the cache: press Train to train it again.",
                                    [], True, no_update, no_update, no_update))
    state, _ = st.validate(TrainState, record["fields"])
    try:
        specs = record_figures(record)
    except Exception:  # a damaged record: say so, train again
        log.exception("cached run %s could not be drawn", key)
        return ((no_update,) * 4 + ("This run's cached record could not be read: press Train to train it again.",
                                    [], True, no_update, no_update, no_update))
    full_key = store.key_from_id(key)
    stale = isinstance(run_key, str) and run_key != full_key
    config = store.model_config(record)
    return (specs["curves"], specs["boundary"], specs["animation"], specs["checkpoints"],
            summary_children(record, state), sphere_links(full_key, config.depth, config.width), False, full_key,
            "panels results stale" if stale else "panels results",
            "The results below are for earlier settings; press Train for these." if stale else no_update)


@callback(
    Output(ids.DOWNLOAD, "data"),
    Output(ids.STATUS, "children", allow_duplicate=True),
    Input(ids.DOWNLOAD_BUTTON, "n_clicks"),
    State(ids.SHOWN_KEY, "data"),
    prevent_initial_call=True,
)
def download_model(_clicks, key):
    record = store.load_record(key)
    if record is None:
        return no_update, "This model is no longer in the cache: press Train to train it again, then download."
    name = f"polyviz-{record['fields'].get('dataset', 'model')}-{store.model_id(record['key'])[:10]}.zip"
    return dcc.send_bytes(store.model_zip(record), filename=name), no_update


@callback(
    *[Output(cid, "value") for cid in ids.CONTROL_IDS.values() if cid != ids.K],
    Output(ids.PRESET_TEXT, "children"),
    *[Input(ids.PRESET_PREFIX + key, "n_clicks") for key in PRESETS],
    prevent_initial_call=True,
)
def apply_preset(*_clicks):
    key = str(triggered_id() or "").removeprefix(ids.PRESET_PREFIX)
    if key not in PRESETS:
        return (no_update,) * (len(ids.CONTROL_IDS))
    state, _ = st.validate(TrainState, PRESETS[key]["values"])
    values = control_values(state)
    names = list(ids.CONTROL_IDS)
    return (*[v for name, v in zip(names, values) if name != "k"], PRESETS[key]["text"])


# -- sweep ------------------------------------------------------------------------------------
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
    state, _ = state_from_controls(*controls)
    key = store.sweep_key(state.sweep_fields())
    try:
        cached = services.cache_get(key, required=True)
    except services.CacheUnavailable:
        return no_update, no_update, UNAVAILABLE, True, "0"
    if isinstance(cached, dict) and cached.get("format") == store.SWEEP_FORMAT:
        return no_update, key, "Opened the cached sweep for these settings.", True, "100"
    job = new_job(state, "sweep")
    if not write_heartbeat(job["id"], "sweep", "queued"):
        return no_update, no_update, UNAVAILABLE, True, "0"
    return job, no_update, f"Starting a sweep of {state.k} seeds…", False, "0"


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
    return (*run_sweep_job(job, set_progress), True)


@callback(
    Output(ids.SWEEP_STATUS, "children", allow_duplicate=True),
    Output(ids.SWEEP_WATCHDOG, "disabled", allow_duplicate=True),
    Output(ids.SWEEP_PROGRESS, "value", allow_duplicate=True),
    Input(ids.SWEEP_CANCEL, "n_clicks"),
    State(ids.SWEEP_JOB, "data"),
    prevent_initial_call=True,
)
def cancel_sweep(_clicks, job):
    parsed = parse_job(job)
    if parsed is not None:
        write_heartbeat(parsed[0], "sweep", "cancelled")
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
    stop, message = watchdog_verdict(job)
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
    record = load_sweep(key)
    if record is None:
        return no_update
    return sweep_figure(record)


# -- browser-side ------------------------------------------------------------------------------
sync_url_and_copy_link(ids.QUERY, ids.URL_SINK, ids.COPY)

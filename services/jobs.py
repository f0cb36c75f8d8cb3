"""Background jobs: Dash's manager, the job payload, heartbeats, the watchdog, and the ONE job
runner (:func:`run_job`) used by the training job and the seed sweep.

Protocol
--------
* A page callback makes the payload (:func:`new_job`: an id, the kind, the page's query)
  and writes a "queued" heartbeat; a Dash background callback then calls
  ``run_job(payload, TRAIN or SWEEP, set_progress)``.
* :func:`run_job` validates the payload, answers from the cache when the result is there,
  otherwise runs the kind's work with a :class:`Reporter` (heartbeat every HEARTBEAT_S,
  progress every PROGRESS_S, the time budget) and says in words how it ended. It uses only
  its argument, the cache and the library, so a Celery worker can run it.
* The page's watchdog (an Interval) calls :func:`watchdog_verdict`: a heartbeat older than
  STALE_AFTER_S means the job died (worker lost, process killed).
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import numpy as np

from polyviz import state as st
from polyviz.figures.train import training_curves_spec
from polyviz.pages import train as train_page
from polyviz.pages.train import TrainState
from polyviz.records import SweepRecord, TrainedRun
from services import cache, run_store

log = logging.getLogger("polyviz.jobs")

PROGRESS_S = 0.5  # seconds between progress updates sent to the page
HEARTBEAT_S = 2.0  # seconds between heartbeats
# a running job whose heartbeat is older than this is lost (the scale-out test shortens it)
STALE_AFTER_S = float(os.environ.get("POLYVIZ_HEARTBEAT_STALE_S", "20"))
QUEUE_GRACE_S = 90.0  # a job may wait this long for a free worker before it counts as lost
HEARTBEAT_TIMEOUT = 3600
LIVE_POINTS = 400  # points per live curve while training

UNAVAILABLE = ("Training is unavailable right now: the shared cache that holds jobs and results cannot be "
               "reached. Try again in a minute.")


def background_manager():
    """Dash's manager for background callbacks (training jobs).

    Without Redis: DiskcacheManager, jobs run in processes on this host and their state
    lives on disk, so any gunicorn worker on the host can poll them. With POLYVIZ_REDIS_URL:
    CeleryManager on the Celery app in services/celery_app.py.
    """
    if cache.redis_url():
        from dash import CeleryManager

        from services.celery_app import celery_app

        return CeleryManager(celery_app, cache_by=[lambda: cache.CACHE_VERSION], expire=3600)
    import diskcache
    from dash import DiskcacheManager

    jobs = diskcache.Cache(str(cache.data_dir() / "jobs"))
    return DiskcacheManager(jobs, cache_by=[lambda: cache.CACHE_VERSION], expire=3600)


# ------------------------------------------------------------------------------------------
# payload and heartbeat
# ------------------------------------------------------------------------------------------
def new_job(state: TrainState, kind: str) -> dict:
    return {"id": uuid.uuid4().hex, "kind": kind, "query": st.to_query(state), "started": time.time()}


def parse_job(job) -> tuple[str, TrainState] | None:
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
    return cache.cache_key("train-heartbeat", job_id)


def write_heartbeat(job_id: str, kind: str, phase: str, **info) -> bool:
    """Record that a job is alive (phase: queued, running, done, failed, cancelled)."""
    beat = {"job": job_id, "kind": kind, "phase": phase, "beat": time.time(), **info}
    # a finished job's heartbeat is only read by the watchdog's next tick
    timeout = HEARTBEAT_TIMEOUT if phase in ("queued", "running") else 600
    return cache.cache_set(heartbeat_key(job_id), beat, timeout=timeout)


# ------------------------------------------------------------------------------------------
# the watchdog
# ------------------------------------------------------------------------------------------
def watchdog_verdict(job, now: float | None = None) -> tuple[bool, str | None]:
    """(stop watching, message) for a job that is supposed to be running.

    Alive: (False, None). Finished, cancelled or not a job: (True, None). Lost: (True, a
    message in words)."""
    parsed = parse_job(job)
    if parsed is None:
        return True, None
    job_id, _state = parsed
    kind = SWEEP if job.get("kind") == "sweep" else TRAIN
    what, again = kind.what, kind.again
    now = time.time() if now is None else now
    try:
        beat = cache.cache_get(heartbeat_key(job_id), required=True)
    except cache.CacheUnavailable:
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
# the job runner
# ------------------------------------------------------------------------------------------
def percent(step: int, total: int) -> str:
    # html.Progress's value is an HTML attribute: a string
    return str(int(round(100 * step / max(total, 1))))


class Reporter:
    """Handed to a job's work and called from the library's progress callback: writes a
    heartbeat every HEARTBEAT_S, sends progress to the page every PROGRESS_S, and stops the
    run (returns False) once the time budget is spent."""

    def __init__(self, job_id: str, kind: str, set_progress, budget_s: float):
        self.job_id, self.kind, self.set_progress, self.budget_s = job_id, kind, set_progress, budget_s
        self.start = time.perf_counter()
        self.last_beat = self.last_progress = self.start
        self.budget_hit = False

    def __call__(self, step: int, total: int, progress: Callable[[float], list]) -> bool | None:
        """``progress(elapsed_s)`` builds the page's progress values (only when they are sent)."""
        now = time.perf_counter()
        if now - self.last_beat >= HEARTBEAT_S:
            self.last_beat = now
            write_heartbeat(self.job_id, self.kind, "running", step=int(step), total=int(total))
        if self.set_progress is not None and now - self.last_progress >= PROGRESS_S:
            self.last_progress = now
            self.set_progress(progress(now - self.start))
        if now - self.start > self.budget_s:
            self.budget_hit = True
            return False
        return None


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended: the key of its cached result (None when there is none), the status
    words, and the progress bar's value."""

    key: str | None
    status: str
    percent: str


@dataclass(frozen=True)
class JobKind:
    """One kind of job. ``cached(state)``: the key of a result already in the cache, or None.
    ``work(state, reporter)``: trains, caches the result and returns (key, status words,
    extra fields of the final heartbeat)."""

    name: str  # the payload's "kind"
    what: str  # "training job" in "The training job stopped unexpectedly"
    again: str  # what the user can do after a lost job
    not_understood: str
    failed: str
    cached_words: str
    cached: Callable[[TrainState], str | None]
    work: Callable[[TrainState, Reporter], tuple[str, str, dict]]


def run_job(job, kind: JobKind, set_progress=None) -> JobOutcome:
    """Run a job of ``kind`` for the payload ``job`` (see the module docstring)."""
    parsed = parse_job(job)
    if parsed is None:
        return JobOutcome(None, kind.not_understood, "0")
    job_id, state = parsed
    try:
        key = kind.cached(state)
    except cache.CacheUnavailable:
        return JobOutcome(None, UNAVAILABLE, "0")
    if key is not None:
        write_heartbeat(job_id, kind.name, "done")
        return JobOutcome(key, kind.cached_words, "100")
    try:
        write_heartbeat(job_id, kind.name, "running", step=0, total=state.steps)
        reporter = Reporter(job_id, kind.name, set_progress, train_page.train_budget_s())
        key, words, final_beat = kind.work(state, reporter)
    except cache.CacheUnavailable:
        write_heartbeat(job_id, kind.name, "failed")
        return JobOutcome(None, UNAVAILABLE, "0")
    except Exception as error:  # the job must answer in words, whatever went wrong
        log.exception("%s %s failed", kind.what, job_id)
        write_heartbeat(job_id, kind.name, "failed")
        return JobOutcome(None, f"{kind.failed} ({type(error).__name__}). It has been logged; try other settings.",
                          "0")
    write_heartbeat(job_id, kind.name, "done", **final_beat)
    return JobOutcome(key, words, "100")


# ------------------------------------------------------------------------------------------
# the training job
# ------------------------------------------------------------------------------------------
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


def cached_run(state: TrainState) -> str | None:
    """The state's cached run key; a sweep seed (origin = sweep) is opened from its cached sweep."""
    key = run_store.run_key(state.training_fields())
    run = run_store.load_run(key, required=True) or run_store.open_sweep_seed(state, required=True)
    return key if run is not None and run.status in run_store.FINAL_STATUSES else None


def train_work(state: TrainState, reporter: Reporter) -> tuple[str, str, dict]:
    """Train the state's model; progress sends [percent, words, live curves figure]. A sweep
    seed (origin = sweep) runs the whole sweep, stores it, and opens the seed from it."""
    if state.origin == "sweep":
        sweep_work(state, reporter)
        run = run_store.open_sweep_seed(state, required=True)
        return run.key, train_page.run_status(run), {"step": run.steps_done, "total": state.steps}
    live = LiveCurves()

    def on_progress(step, total, metrics):
        live.add(step, metrics)
        return reporter(step, total, lambda elapsed: [percent(step, total),
                                                      progress_text(step, total, metrics, elapsed),
                                                      live.figure(total)])

    result, _data = train_page.train_for_state(state, on_progress)
    key = run_store.run_key(state.training_fields())
    run = TrainedRun.from_result(result, key=key, query=st.to_query(state), fields=state.training_fields(),
                                 data=state.data_source, status="time_limit" if reporter.budget_hit else None)
    run_store.store_run(run)
    return key, train_page.run_status(run), {"step": run.steps_done, "total": state.steps}


TRAIN = JobKind(name="train", what="training job", again="Press Train to start it again.",
                not_understood="This training request was not understood; press Train again.",
                failed="Training failed", cached_words="Opened the cached run for these settings.",
                cached=cached_run, work=train_work)


# ------------------------------------------------------------------------------------------
# the seed sweep
# ------------------------------------------------------------------------------------------
def cached_sweep(state: TrainState) -> str | None:
    key = run_store.sweep_key(state.sweep_fields())
    return key if run_store.load_sweep(key, required=True) is not None else None


def sweep_work(state: TrainState, reporter: Reporter) -> tuple[str, str, dict]:
    """Sweep seeds 0 .. k-1; progress sends [percent, words]. A sweep stopped by the time
    limit is kept for 10 minutes only."""
    def on_progress(step, total, metrics):
        return reporter(step, total, lambda elapsed: [
            percent(step, total), f"Sweeping {state.k} seeds… step {step:,} / {total:,} · mean loss "
                                  f"{metrics.get('train_loss', float('nan')):.4f} · {elapsed:.1f} s"])

    sweep = train_page.sweep_for_state(state, on_progress)
    key = run_store.sweep_key(state.sweep_fields())
    record = SweepRecord.from_result(sweep, key=key, fields=state.sweep_fields(),
                                     status="time_limit" if reporter.budget_hit else None)
    run_store.store_sweep(record, timeout=600 if reporter.budget_hit else None)
    return key, train_page.sweep_status(record), {}


SWEEP = JobKind(name="sweep", what="seed sweep", again="Press “Sweep k seeds” to start it again.",
                not_understood="This sweep request was not understood; press the button again.",
                failed="The sweep failed", cached_words="Opened the cached sweep for these settings.",
                cached=cached_sweep, work=sweep_work)

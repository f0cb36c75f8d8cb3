"""Background jobs: Dash's manager, the job payload, heartbeats, the watchdog, and the ONE job
runner (:func:`run_job`) used by the training job and the seed sweep.

Protocol
--------
* A page callback (Train, Sweep, the sphere page's Retrain) calls :func:`enqueue`: it makes the
  payload (:func:`new_job`: an id, the kind, the page's query), has it admitted
  (services/admission.py: the per-client caps and the queue; a refusal comes back in words)
  and writes a "queued" heartbeat. A Dash background callback then calls
  ``job_outputs(payload, TRAIN or SWEEP, set_progress)``, i.e. :func:`run_job`.
* :func:`run_job` validates the payload and resolves its data, answers from the cache when the
  result is there, otherwise waits for a slot (:func:`wait_for_slot`, telling the page its
  place in the queue), runs the kind's work with a :class:`Reporter` (heartbeat and lease
  renewal every HEARTBEAT_S, progress every PROGRESS_S, the time budget), frees the slot, and
  says in words how it ended. It uses only its argument, the cache, the ledger and the
  library, so a Celery worker can run it.
* The page's watchdog (an Interval) calls :func:`watchdog_outputs`: a heartbeat older than
  STALE_AFTER_S means the job died (worker lost, process killed); :func:`cancel` marks a job
  cancelled and frees its slot.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import numpy as np
from dash import CeleryManager, DiskcacheManager, no_update
from dash.background_callback.managers import BaseBackgroundCallbackManager

from polyviz import state as st
from polyviz.figures.train import training_curves_spec
from polyviz.pages import train as train_page
from polyviz.pages.train import TrainState
from polyviz.records import SweepRecord
from services import admission, cache, data_store, run_store

log = logging.getLogger("polyviz.jobs")

PROGRESS_S = 0.5  # seconds between progress updates sent to the page
HEARTBEAT_S = 2.0  # seconds between heartbeats
# a running job whose heartbeat is older than this is lost: its lease in the ledger ran out too
STALE_AFTER_S = admission.RUN_LEASE_S
QUEUE_GRACE_S = 90.0  # a job may wait this long for a free worker before it counts as lost
HEARTBEAT_TIMEOUT = 3600
LIVE_POINTS = 400  # points per live curve while training

UNAVAILABLE = ("Training is unavailable right now: the shared cache that holds jobs and results cannot be "
               "reached. Try again in a minute.")


def background_manager():
    """Dash's manager for background callbacks (training jobs).

    Without Redis: :class:`EmbeddedJobManager`, jobs run in children of this server's job host
    (services/job_host.py, never a fork of a threaded web worker) and their results live in a
    diskcache store, so any gunicorn worker on the host can poll them. With POLYVIZ_REDIS_URL:
    :class:`CeleryJobManager` on the Celery app in services/celery_app.py.
    Both end the page's poll of a lost job with the lost-job words (:func:`lost_output`).
    """
    if cache.redis_url():
        from services.celery_app import celery_app

        return CeleryJobManager(celery_app, cache_by=[lambda: cache.CACHE_VERSION], expire=3600)
    return EmbeddedJobManager(cache_by=[lambda: cache.CACHE_VERSION], expire=3600)


def signing_secret() -> str:
    """The secret that signs background-job handles (and Flask's session), the same in every
    web worker: POLYVIZ_SECRET_KEY, else a random one kept in a 0600 file in the data directory.
    (Dash's default keeps it in the result store, where a Redis restart erases it and each
    worker then makes its own: every poll answered by another worker failed.) Several web
    hosts must share POLYVIZ_SECRET_KEY."""
    configured = os.environ.get("POLYVIZ_SECRET_KEY")
    if configured:
        return configured
    path = cache.data_dir() / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    for _ in range(50):  # another worker may be writing it this instant
        text = path.read_text().strip()
        if text:
            return text
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty: delete it and restart")


jobs_dir = cache.jobs_dir


JOB_STORE_TIMEOUT_S = 10.0  # sqlite's busy timeout: a stuck store answers "unavailable", never hangs a worker
_stores: dict = {}


def job_store():
    """The embedded job store (diskcache), opened on first use in each process: a store that is
    locked or damaged then fails one request, never the import of a booting worker."""
    import diskcache

    key = (os.getpid(), str(jobs_dir()))
    if key not in _stores:
        _stores[key] = diskcache.Cache(str(jobs_dir()), timeout=JOB_STORE_TIMEOUT_S)
    return _stores[key]


# Each background callback's outputs for a lost job, by the callback function's qualified name:
# words -> output values (registered next to each callback in callbacks/).
LOST_OUTPUTS: dict[str, Callable[[str], list]] = {}


def on_lost(function, outputs: Callable[[str], list] | None = None) -> None:
    """Register a background callback's outputs for a lost job (default: :func:`lost_job_outputs`)."""
    outputs = outputs or lost_job_outputs
    LOST_OUTPUTS[f"{function.__module__}.{function.__qualname__}"] = outputs


def lost_output(background_key: str, words: str):
    for key, fn, _progress in BaseBackgroundCallbackManager.functions:
        if key == background_key:
            outputs = LOST_OUTPUTS.get(f"{fn.__module__}.{fn.__qualname__}")
            return outputs(words) if outputs else None
    return None


def lost_words(job, how: str) -> str | None:
    """Words for a job whose process is gone, or None when it ended on purpose (done,
    failed with its own words, cancelled)."""
    parsed = parse_job(job)
    if parsed is None:
        return None
    try:
        beat = cache.cache_get(heartbeat_key(parsed[0]))
    except Exception:  # noqa: BLE001 - the verdict must not fail a poll
        beat = None
    if isinstance(beat, dict) and beat.get("phase") in ENDED:
        return None
    return stopped_words(job_kind(job), beat, how)


ENDED = ("done", "failed", "cancelled")  # heartbeat phases of a job that ended on purpose


def job_kind(job) -> JobKind:
    return SWEEP if job.get("kind") == "sweep" else TRAIN


def stopped_words(kind: JobKind, beat, how: str) -> str:
    """"The training job stopped unexpectedly after step 1,200: <how>. Press Train…"."""
    step = beat.get("step") if isinstance(beat, dict) else None
    where = f" after step {step:,}" if isinstance(step, int) and step > 0 else ""
    return f"The {kind.what} stopped unexpectedly{where}: {how}. {kind.again}"


def _job_meta_key(key: str) -> str:
    return f"{key}-polyviz-job"


class EmbeddedJobManager(DiskcacheManager):
    """DiskcacheManager's result store and polling, with every job started by the job host.

    Job ids are "pid:start time", so a reused pid is never taken for the job. The store is
    opened on first use (:func:`job_store`), not here, so a stuck store cannot stop a boot."""

    def __init__(self, cache_by=None, expire=None):
        self.expire = expire
        BaseBackgroundCallbackManager.__init__(self, cache_by)

    @property
    def handle(self):
        return job_store()

    def make_job_fn(self, fn, progress, key=None):
        return key  # the job host builds Dash's job function itself, in the child

    def call_job_fn(self, key, job_fn, args, context):
        from services import job_host

        self.handle.set(_job_meta_key(key), {"bkey": job_fn, "args": args}, expire=self.expire)
        answer = job_host.request_job(jobs_dir(), {
            "bkey": job_fn, "result_key": key, "progress_key": self._make_progress_key(key),
            "args": args, "context": dict(context)})
        return f"{answer['pid']}:{answer['created']}"

    @staticmethod
    def _process(job):
        from services import job_host

        pid, _, created = str(job).partition(":")
        return job_host.live_process(pid, created)

    def job_running(self, job):
        return self._process(job) is not None

    def terminate_job(self, job):
        import psutil

        process = self._process(job) if job else None
        if process is None:
            return
        try:
            process.terminate()  # SIGTERM: the job releases its slot and exits
            process.wait(2)
        except psutil.TimeoutExpired:
            with contextlib.suppress(psutil.Error):
                process.kill()
        except psutil.Error:  # it ended meanwhile
            pass

    def terminate_unhealthy_job(self, job):
        return False  # a job's process either runs or is gone; nothing is half-alive

    def get_result(self, key, job):
        result = DiskcacheManager.get_result(self, key, job)
        if result is not self.UNDEFINED or not job or self.job_running(job):
            return result
        result = DiskcacheManager.get_result(self, key, None)  # it may have finished just now
        if result is not self.UNDEFINED:
            return result
        meta = self.handle.get(_job_meta_key(key))
        if not isinstance(meta, dict) or not meta.get("args"):
            return result
        words = lost_words(meta["args"][0], "its process ended without a result")
        output = lost_output(meta["bkey"], words) if words else None
        return result if output is None else output


class CeleryJobManager(CeleryManager):
    """CeleryManager whose poll ends with the lost-job words once the heartbeat says the job
    died (a Celery task whose worker was killed stays PENDING for ever)."""

    def call_job_fn(self, key, job_fn, args, context):
        task_id = super().call_job_fn(key, job_fn, args, context)
        bkey = next((k for k, v in self.func_registry.items() if v is job_fn), None)
        with contextlib.suppress(Exception):  # only the lost-job words depend on it
            self.handle.backend.set(_job_meta_key(key), json.dumps({"args": args, "bkey": bkey}))
        return task_id

    def get_result(self, key, job):
        result = super().get_result(key, job)
        if result is not self.UNDEFINED:
            return result
        try:
            raw = self.handle.backend.get(_job_meta_key(key))
            meta = json.loads(raw) if raw else None
        except Exception:  # noqa: BLE001 - Redis down: keep polling, the watchdog speaks
            return result
        if not isinstance(meta, dict) or not meta.get("args") or not meta.get("bkey"):
            return result
        stop, message = watchdog_verdict(meta["args"][0])
        output = lost_output(meta["bkey"], message) if stop and message else None
        return result if output is None else output


# ------------------------------------------------------------------------------------------
# payload and heartbeat
# ------------------------------------------------------------------------------------------
def new_job(state: TrainState, kind: str) -> dict:
    return {"id": uuid.uuid4().hex, "kind": kind, "query": st.to_query(state), "started": time.time()}


def parse_job(job, state_class=TrainState, kind: str | None = None):
    """(job id, state) from a job store's content, or None when it is not a job (a payload can
    hold anything; the same validation as the page applies). ``state_class``: the page's state
    (/compare passes its own); ``kind``: the job kind it must be, when given."""
    if not isinstance(job, dict) or (kind is not None and job.get("kind") != kind):
        return None
    job_id, query = job.get("id"), job.get("query")
    if not isinstance(job_id, str) or len(job_id) != 32 or any(c not in "0123456789abcdef" for c in job_id):
        return None
    if not isinstance(query, str) or len(query) > 4000:
        return None
    state, _notices = st.from_query(state_class, query)
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
# what the page's callbacks call: start, cancel, the background job, the watchdog
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Enqueued:
    """What a press started: the payload for the background callback (None when nothing
    started) and the status words. ``refused``: admission said no (a flood from one client, a
    full queue); the progress bar then keeps what it shows."""

    job: dict | None
    words: str
    refused: bool = False


def enqueue(state: TrainState, kind: JobKind, request) -> Enqueued:
    """Admit a job of ``kind`` for ``state`` (services/admission.py: the per-client caps and the
    queue) and mark it "queued", so the watchdog sees it; the page then hands ``job`` to its
    background callback, which calls :func:`run_job`."""
    job = new_job(state, kind.name)
    try:
        admitted = admission.submit(job["id"], admission.client_ids(request))
    except admission.LedgerUnavailable:
        return Enqueued(None, UNAVAILABLE)
    if not admitted.accepted:
        return Enqueued(None, admitted.words, refused=True)
    if not write_heartbeat(job["id"], kind.name, "queued"):
        admission.release(job["id"])
        return Enqueued(None, UNAVAILABLE)
    return Enqueued(job, admission.wait_words(admitted.position) if admitted.position else kind.starting(state))


def cancel(job, kind: JobKind) -> str:
    """The Cancel button: mark the job cancelled (its watchdog stops) and free its slot; the words."""
    parsed = parse_job(job)
    if parsed is not None:
        write_heartbeat(parsed[0], kind.name, "cancelled")
        admission.release(parsed[0])
    return kind.cancelled


def job_outputs(job, kind: JobKind, set_progress=None) -> list:
    """A background job callback's outputs: [result key, status words, progress, watchdog off]."""
    outcome = run_job(job, kind, set_progress)
    return [no_update if outcome.key is None else outcome.key, outcome.status, outcome.percent, True]


def lost_job_outputs(words: str) -> list:
    """:func:`job_outputs` for a lost job (registered with :func:`on_lost`)."""
    return [no_update, words, "0", True]


def watchdog_outputs(job, when_lost: tuple = ()) -> tuple:
    """A watchdog tick's outputs: (status words, watchdog disabled, *when_lost). The words and
    ``when_lost`` (e.g. the buttons given back, the progress line hidden) are sent only when
    they apply; everything else is no_update."""
    stop, message = watchdog_verdict(job)
    rest = (no_update,) * len(when_lost)
    if not stop:
        return (message if message else no_update), no_update, *rest
    if message is None:
        return no_update, True, *rest
    return message, True, *when_lost


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
    kind = job_kind(job)
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
    if phase in ENDED:
        return True, None
    age = now - float(beat["beat"])
    if phase == "queued":
        if age > QUEUE_GRACE_S:
            return True, (f"The {what} did not start: no worker picked it up within {age:.0f} s. "
                          f"{again.replace('start it again', 'try again')}")
        return False, None
    if age > STALE_AFTER_S:
        return True, stopped_words(kind, beat, f"it has sent no sign of life for {age:.0f} s (its worker was "
                                               f"probably lost or restarted)")
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
            admission.renew(self.job_id)
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
    ``work(resolved state, reporter)``: trains, caches the result and returns (key, status words,
    extra fields of the final heartbeat)."""

    name: str  # the payload's "kind"
    what: str  # "training job" in "The training job stopped unexpectedly"
    again: str  # what the user can do after a lost job
    not_understood: str
    failed: str
    cached_words: str
    starting: Callable[[TrainState], str]  # the status words once the job is admitted with a free slot
    cancelled: str  # the status words after Cancel
    cached: Callable[[TrainState], str | None]
    work: Callable[[train_page.Resolved, Reporter], tuple[str, str, dict]]
    waiting: Callable[[str], list]  # the progress values while it waits for a slot: words -> values


def run_job(job, kind: JobKind, set_progress=None) -> JobOutcome:
    """Run a job of ``kind`` for the payload ``job`` (see the module docstring)."""
    parsed = parse_job(job)
    if parsed is None:
        return JobOutcome(None, kind.not_understood, "0")
    job_id, state = parsed
    try:
        resolved = train_page.resolve(state, functools.partial(data_store.load_data, required=True))
        if resolved.problem:  # the page refuses these before a job starts; a replayed payload gets the same words
            admission.release(job_id)
            write_heartbeat(job_id, kind.name, "failed")
            return JobOutcome(None, resolved.problem, "0")
        key = kind.cached(resolved.state)
    except cache.CacheUnavailable:
        admission.release(job_id)
        return JobOutcome(None, UNAVAILABLE, "0")
    if key is not None:  # cheap: never waits for a slot
        admission.release(job_id)
        write_heartbeat(job_id, kind.name, "done")
        return JobOutcome(key, kind.cached_words, "100")
    try:
        wait_for_slot(job_id, kind, set_progress)
        write_heartbeat(job_id, kind.name, "running", step=0, total=resolved.state.steps)
        reporter = Reporter(job_id, kind.name, set_progress, train_page.train_budget_s())
        key, words, final_beat = kind.work(resolved, reporter)
    except cache.CacheUnavailable:
        write_heartbeat(job_id, kind.name, "failed")
        return JobOutcome(None, UNAVAILABLE, "0")
    except Exception as error:  # the job must answer in words, whatever went wrong
        log.exception("%s %s failed", kind.what, job_id)
        write_heartbeat(job_id, kind.name, "failed")
        return JobOutcome(None, f"{kind.failed} ({type(error).__name__}). It has been logged; try other settings.",
                          "0")
    finally:  # also on SIGTERM (services/job_host.py raises SystemExit for it)
        admission.release(job_id)
    write_heartbeat(job_id, kind.name, "done", **final_beat)
    return JobOutcome(key, words, "100")


def wait_for_slot(job_id: str, kind: JobKind, set_progress) -> None:
    """Wait in the queue (services/admission.py), telling the page the position and keeping
    the "queued" heartbeat fresh so the watchdog knows the job is alive."""
    last_beat = [0.0]

    def on_wait(position: int) -> None:
        now = time.time()
        if now - last_beat[0] >= HEARTBEAT_S:
            last_beat[0] = now
            write_heartbeat(job_id, kind.name, "queued", position=position)
        if set_progress is not None:
            set_progress(kind.waiting(admission.wait_words(position)))

    admission.wait_for_slot(job_id, on_wait)


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


def train_work(resolved: train_page.Resolved, reporter: Reporter) -> tuple[str, str, dict]:
    """Train the state's model; progress sends [percent, words, live curves figure]. A sweep
    seed (origin = sweep) runs the whole sweep, stores it, and opens the seed from it."""
    state, user = resolved.state, resolved.user
    if state.origin == "sweep":
        sweep_work(resolved, reporter)
        run = run_store.open_sweep_seed(state, required=True)
        return run.key, train_page.run_status(run), {"step": run.steps_done, "total": state.steps}
    live = LiveCurves()

    def on_progress(step, total, metrics):
        live.add(step, metrics)
        return reporter(step, total, lambda elapsed: [percent(step, total),
                                                      progress_text(step, total, metrics, elapsed),
                                                      live.figure(total)])

    result, _data = train_page.train_for_state(state, on_progress, user)
    key = run_store.run_key(state.training_fields())
    run = train_page.run_record(state, result, key, status="time_limit" if reporter.budget_hit else None)
    run_store.store_run(run)
    return key, train_page.run_status(run), {"step": run.steps_done, "total": state.steps}


TRAIN = JobKind(name="train", what="training job", again="Press Train to start it again.",
                not_understood="This training request was not understood; press Train again.",
                failed="Training failed", cached_words="Opened the cached run for these settings.",
                starting=lambda _state: "Starting…", cancelled="Cancelled. Press Train to start again.",
                cached=cached_run, work=train_work,
                waiting=lambda words: ["0", words, LiveCurves().figure(1)])


# ------------------------------------------------------------------------------------------
# the seed sweep
# ------------------------------------------------------------------------------------------
def cached_sweep(state: TrainState) -> str | None:
    key = run_store.sweep_key(state.sweep_fields())
    return key if run_store.load_sweep(key, required=True) is not None else None


def sweep_work(resolved: train_page.Resolved, reporter: Reporter) -> tuple[str, str, dict]:
    """Sweep seeds 0 .. k-1; progress sends [percent, words]. A sweep stopped by the time
    limit is kept for 10 minutes only."""
    state, user = resolved.state, resolved.user

    def on_progress(step, total, metrics):
        return reporter(step, total, lambda elapsed: [
            percent(step, total), f"Sweeping {state.k} seeds… step {step:,} / {total:,} · mean loss "
                                  f"{metrics.get('train_loss', float('nan')):.4f} · {elapsed:.1f} s"])

    sweep = train_page.sweep_for_state(state, on_progress, user)
    key = run_store.sweep_key(state.sweep_fields())
    record = SweepRecord.from_result(sweep, key=key, fields=state.sweep_fields(),
                                     status="time_limit" if reporter.budget_hit else None)
    run_store.store_sweep(record, timeout=600 if reporter.budget_hit else None)
    return key, train_page.sweep_status(record), {}


SWEEP = JobKind(name="sweep", what="seed sweep", again="Press “Sweep k seeds” to start it again.",
                not_understood="This sweep request was not understood; press the button again.",
                failed="The sweep failed", cached_words="Opened the cached sweep for these settings.",
                starting=lambda state: f"Starting a sweep of {state.k} seeds…", cancelled="Cancelled.",
                cached=cached_sweep, work=sweep_work, waiting=lambda words: ["0", words])

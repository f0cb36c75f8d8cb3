"""gunicorn settings shared by the Dockerfile's CMD and the gunicorn test.

Environment: POLYVIZ_BIND (default 0.0.0.0:8050), POLYVIZ_WORKERS (default 2),
POLYVIZ_THREADS (default 4), POLYVIZ_TIMEOUT (default 60 s).

Hooks (all run in the master, which has no threads):
* on_starting: the master's pid goes into the environment, so every job process can tell
  when the server is gone (services/job_host.py).
* when_ready / on_exit: without Redis, the job host starts with the server and stops with
  it, taking its jobs along (no orphans).
* pre_request / post_worker_init (in a worker): a worker due for recycling serves on while
  another recycled worker's replacement is not ready yet, or one recycled or became ready
  less than RECYCLE_GAP_S (POLYVIZ_RECYCLE_GAP_S, default 30) ago. So one worker always
  serves, however long a boot takes; "Worker ready" in the log says when one does.
"""

import os
import pathlib
import tempfile
import time

bind = os.environ.get("POLYVIZ_BIND", "0.0.0.0:8050")
workers = int(os.environ.get("POLYVIZ_WORKERS", "2"))
threads = int(os.environ.get("POLYVIZ_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("POLYVIZ_TIMEOUT", "60"))
graceful_timeout = 10
# recycle workers now and then so a slow leak can never take one down; the jitter is as
# large as the base, and pre_request below keeps recycles RECYCLE_GAP_S apart
max_requests = int(os.environ.get("POLYVIZ_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests
RECYCLE_GAP_S = float(os.environ.get("POLYVIZ_RECYCLE_GAP_S", "30"))
accesslog = None
errorlog = "-"
loglevel = os.environ.get("POLYVIZ_LOG_LEVEL", "info")
# One BLAS / torch thread per worker: several workers on few cores must not oversubscribe
# them (a 2-thread matvec under contention was measured 10x slower than a 1-thread one).
raw_env = ["OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1"]
# gunicorn >= 24 opens a control socket at one fixed path per user; several instances on
# one host (or a read-only home in a container) would collide on it, and nothing uses it.
control_socket_disable = True

_job_host = None


def on_starting(server):
    from services import job_host

    os.environ[job_host.ANCHOR_ENV] = str(os.getpid())
    os.environ["POLYVIZ_RECYCLE_STAMP"] = tempfile.mkstemp(prefix="polyviz-recycle-")[1]


def when_ready(server):
    global _job_host
    from services import cache, job_host

    if cache.redis_url():
        return  # scale-out: the Celery worker runs jobs
    try:
        _job_host = job_host.start(cache.jobs_dir(), anchor=os.getpid())
    except Exception as error:  # the first job starts one instead; serving pages goes on
        server.log.error("job host did not start: %s", error)


def on_exit(server):
    from services import job_host

    job_host.stop(_job_host)
    stamp = os.environ.get("POLYVIZ_RECYCLE_STAMP")
    if stamp:
        pathlib.Path(stamp).unlink(missing_ok=True)


REPLACEMENT_BOOT_S = 300.0  # a recycled worker's replacement not ready by then failed: stop waiting for it


def _recycle_state(change) -> None:
    """Under the state file's lock: ``change(state)`` edits {"at": time of the last recycle
    or worker ready, "pending": times of recycles whose replacement is not ready yet}."""
    import fcntl
    import json

    path = os.environ.get("POLYVIZ_RECYCLE_STAMP")
    if not path:
        return
    with open(path, "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            try:
                state = json.loads(handle.read() or "{}")
            except ValueError:
                state = {}
            state = {"at": float(state.get("at", 0)), "pending": list(state.get("pending", []))}
            change(state)
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(state))
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def post_worker_init(worker):
    def ready(state):  # a recycled worker's replacement serves now: the next recycle may come after the gap
        state["pending"] = state["pending"][1:]
        state["at"] = time.time()

    _recycle_state(ready)
    worker.log.info("Worker ready (pid: %s)", worker.pid)


def pre_request(worker, req):
    if worker.nr + 1 < worker.max_requests:
        return

    def decide(state):
        now = time.time()
        state["pending"] = [t for t in state["pending"] if now - t < REPLACEMENT_BOOT_S]
        if state["pending"] or now - state["at"] < RECYCLE_GAP_S:
            # another worker is being replaced, or was just now: serve on, try again later
            worker.max_requests += max(100, max_requests // 10)
        else:
            state["pending"].append(now)
            state["at"] = now

    _recycle_state(decide)

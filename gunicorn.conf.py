"""gunicorn settings shared by the Dockerfile's CMD and the gunicorn test.

Environment: POLYVIZ_BIND (default 0.0.0.0:8050), POLYVIZ_WORKERS (default 2),
POLYVIZ_THREADS (default 4), POLYVIZ_TIMEOUT (default 60 s).

Hooks (all run in the master, which has no threads):
* on_starting: the master's pid goes into the environment, so every job process can tell
  when the server is gone (services/job_host.py).
* when_ready / on_exit: without Redis, the job host starts with the server and stops with
  it, taking its jobs along (no orphans).
* pre_request (in a worker): a worker due for recycling waits while another worker
  recycled less than RECYCLE_GAP_S ago, so the workers never all restart at once.
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
RECYCLE_GAP_S = 30.0
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


def pre_request(worker, req):
    if worker.nr + 1 < worker.max_requests:
        return
    import fcntl

    stamp = os.environ.get("POLYVIZ_RECYCLE_STAMP")
    if not stamp:
        return
    with open(stamp, "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            last = float(handle.read() or 0)
            if time.time() - last < RECYCLE_GAP_S:
                worker.max_requests += max(100, max_requests // 10)  # another worker just recycled: later
            else:
                handle.seek(0)
                handle.truncate()
                handle.write(str(time.time()))
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

"""Scale-out for real: redis-server, a Celery worker and gunicorn with 2 workers, all
started here on loopback and stopped here by their own process ids."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal
import time

import pytest
import requests

import dash_http
import servers
from conftest import free_port, wait_for_http

pytestmark = pytest.mark.integration

REDIS = shutil.which("redis-server")
STALE_S = 6  # heartbeat age after which the page calls a job lost (20 s in production)


class Stack:
    """The three processes, restartable one by one."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.redis_port = free_port()
        self.web_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = {"POLYVIZ_REDIS_URL": self.redis_url, "POLYVIZ_DATA_DIR": str(tmp_path / "data"),
                    "POLYVIZ_WORKER_HEADER": "1", "POLYVIZ_JOB_TIME_LIMIT": "120",
                    "POLYVIZ_HEARTBEAT_STALE_S": str(STALE_S)}
        self.redis = self.worker = self.web = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start_redis(self):
        self.redis = servers.start([REDIS, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no"], log_name="redis")
        servers.wait_until(lambda: self._redis_ping(), timeout=20, what="redis ping")

    def _redis_ping(self) -> bool:
        import redis

        try:
            return redis.Redis.from_url(self.redis_url, socket_connect_timeout=0.5).ping()
        except Exception:
            return False

    def start_worker(self):
        self.worker = servers.start(
            # as docker-compose.yml runs it (mingle and gossip on: the Redis-restart bug needs them)
            ["celery", "-A", "services.celery_app", "worker", "--loglevel=INFO", "--concurrency=1",
             "-n", f"polyviz-test-{self.web_port}@%h"],
            env=self.env | {"OMP_NUM_THREADS": "1"}, log_name="celery")
        servers.wait_until(self._worker_ready, timeout=60, what="celery worker ready")

    def _worker_ready(self) -> bool:
        from celery import Celery

        assert self.worker.poll() is None, "the Celery worker exited; see .pytest_cache/celery.log"
        probe = Celery(broker=self.redis_url, backend=self.redis_url)
        try:
            return bool(probe.control.ping(timeout=1.0))
        except Exception:
            return False

    def start_web(self):
        self.web = servers.start(servers.dockerfile_cmd(),
                                 env=self.env | {"POLYVIZ_BIND": f"127.0.0.1:{self.web_port}", "POLYVIZ_WORKERS": "2"},
                                 log_name="gunicorn-scaleout")
        wait_for_http(self.url + "/health", timeout=60)

    def stop_all(self):
        for process in (self.web, self.worker, self.redis):
            if process is not None:
                servers.stop(process)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    assert REDIS, "redis-server is needed: apt-get install redis-server (make test does this)"
    assert shutil.which("celery", path=str(servers.VENV_BIN)), "celery is needed: pip install -e '.[scale]'"
    s = Stack(tmp_path_factory.mktemp("scaleout"))
    try:
        s.start_redis()
        s.start_worker()
        s.start_web()
        yield s
    finally:
        s.stop_all()
    for process in (s.web, s.worker, s.redis):
        assert process is None or process.poll() is not None


def test_sending_a_task_leaves_no_pub_sub_subscription_behind(stack):
    """The web process sends tasks and never waits on them through pub/sub: Celery's stock
    Redis backend subscribed to every task's channel anyway, and after a Redis restart its
    discarded PubSub, collected inside redis-py's pool lock, hung a request for good."""
    from celery.backends.redis import RedisBackend

    from services.celery_app import PolledRedisBackend, celery_app

    assert isinstance(celery_app.backend, PolledRedisBackend)
    stock, polled = (cls(app=celery_app, url=stack.redis_url) for cls in (RedisBackend, PolledRedisBackend))
    try:
        for backend in (stock, polled):
            backend.on_task_call(None, "a-task-id")
        assert stock.result_consumer._pubsub is not None  # the oracle: what the stock backend does
        assert polled.result_consumer._pubsub is None and not polled.result_consumer.subscribed_to
    finally:
        if stock.result_consumer._pubsub is not None:
            stock.result_consumer._pubsub.close()
        stock.client.close()


def stretch_fold_body(session):
    dep = dash_http.find_callback(dash_http.dependencies(session), "sf-circle", "figure")
    values = {"sf-committed-t.data": 1.5, "sf-op.value": "stretch", "sf-log-eps.value": -2, "sf-n.value": 300,
              "sf-dist.value": "circle", "sf-seed.value": 0}
    return dash_http.payload(dep, values, ["sf-n.value"])


def session_for(stack) -> requests.Session:
    session = requests.Session()
    session.base_url = stack.url
    return session


def retire_worker(stack, pid: str) -> None:
    """Gracefully stop the gunicorn worker that answered (gunicorn starts a new one), so
    that every later request is answered by another process. An idle worker takes every
    request it can, so this, not luck, is what proves that no state lives in a worker."""
    os.kill(int(pid), signal.SIGTERM)
    servers.wait_until(lambda: not pathlib.Path(f"/proc/{pid}").exists()
                       or "Z" in pathlib.Path(f"/proc/{pid}/stat").read_text().split()[2],
                       timeout=30, what=f"gunicorn worker {pid} to exit")
    wait_for_http(stack.url + "/health", timeout=30)


def answers_from_two_workers(stack, method, path, **kwargs) -> dict[str, requests.Response]:
    """The same request answered by two different worker processes: pid -> response."""
    first = requests.request(method, stack.url + path, timeout=60, **kwargs)
    pid = first.headers["X-Polyviz-Worker"]
    retire_worker(stack, pid)
    second = requests.request(method, stack.url + path, timeout=60, **kwargs)
    assert second.headers["X-Polyviz-Worker"] != pid
    return {pid: first, second.headers["X-Polyviz-Worker"]: second}


def test_pages_and_callbacks_through_both_workers(stack):
    body = stretch_fold_body(session_for(stack))
    for response in answers_from_two_workers(stack, "POST", "/_dash-update-component", json=body).values():
        assert response.status_code == 200
        assert response.json()["response"]["sf-circle"]["figure"]["layout"]["meta"]["op"] == "stretch"


# --- training jobs on the Celery worker --------------------------------------------------------

def end_id(stack) -> str:
    """The page's signed id that background-callback requests must carry (as the browser does)."""
    html = requests.get(stack.url + "/train", timeout=30).text
    return re.search(r'"end_id":"([^"]+)"', html).group(1)


def train_state(**fields):
    from polyviz import state as st
    from polyviz.pages.train import TrainState

    state, notices = st.validate(TrainState, fields)
    assert notices == []
    return state


def start_job(stack, state):
    """Press Train as the browser does: the job record, then the background callback."""
    from services import jobs

    deps = dash_http.dependencies(session_for(stack))
    job = jobs.new_job(state, "train")
    dep = next(d for d in deps if d.get("background") and "tr-result-key.data" in d["output"])
    body = dash_http.payload(dep, {"tr-train-job.data": job}, ["tr-train-job.data"])
    eid = end_id(stack)
    first = requests.post(f"{stack.url}/_dash-update-component?endId={eid}", json=body, timeout=30)
    assert first.status_code == 200
    handles = first.json()
    assert "cacheKey" in handles and "job" in handles, handles
    poll_url = (f"{stack.url}/_dash-update-component?endId={eid}&cacheKey={handles['cacheKey']}"
                f"&job={handles['job']}")
    return job, body, poll_url, first.headers["X-Polyviz-Worker"]


def watchdog(stack, job) -> dict:
    deps = dash_http.dependencies(session_for(stack))
    dep = dash_http.find_callback(deps, "tr-train", "disabled")
    body = dash_http.payload(dep, {"tr-train-watchdog.n_intervals": 1, "tr-train-job.data": job})
    response = requests.post(stack.url + "/_dash-update-component", json=body, timeout=30)
    assert response.status_code == 200
    return response.json()["response"]


def test_a_job_on_the_celery_worker_is_polled_and_read_through_both_web_workers(stack):
    from services import run_store as store

    state = train_state(n=600, steps=1500, seed=11, data_seed=11)
    key = store.run_key(state.training_fields())
    job, body, poll_url, started_on = start_job(stack, state)
    # the worker that started the job goes away: another process polls it to the end
    retire_worker(stack, started_on)
    pollers = set()

    def finished():
        response = requests.post(poll_url, json=body, timeout=30)
        assert response.status_code == 200
        pollers.add(response.headers["X-Polyviz-Worker"])
        return response.json().get("response")

    result = servers.wait_until(finished, timeout=120, interval=0.3, what="the job to finish")
    assert any(value.get("data") == key for value in result.values())
    assert started_on not in pollers

    # the finished model, computed on the Celery worker, is read by two web worker processes
    render = dash_http.find_callback(dash_http.dependencies(session_for(stack)), "tr-animation", "figure")
    render_body = dash_http.payload(render, {"tr-result-key.data": key, "tr-run-key.data": key},
                                    ["tr-result-key.data"])
    for response in answers_from_two_workers(stack, "POST", "/_dash-update-component", json=render_body).values():
        assert response.status_code == 200
        assert response.json()["response"]["tr-animation"]["figure"]["frames"]


def test_a_killed_worker_is_reported_in_words_and_a_restarted_one_trains_again(stack):
    from services import cache
    from services import run_store as store

    # a run long enough to be killed in the middle
    state = train_state(dataset="spiral", n=20000, width=64, depth=8, steps=20000, seed=5, data_seed=5, k=2)
    job, body, poll_url, _ = start_job(stack, state)

    import redis

    client = redis.Redis.from_url(stack.redis_url)

    def running_heartbeat():
        raw = client.get("polyviz:" + cache.cache_key("train-heartbeat", job["id"]))
        beat = cache.PlainSerializer().loads(raw) if raw else None  # the cache's own plain-data format
        return beat if beat and beat.get("phase") == "running" and beat.get("step", 0) > 0 else None

    servers.wait_until(running_heartbeat, timeout=60, what="the job is running")
    servers.stop(stack.worker, sig=signal.SIGKILL)
    assert stack.worker.poll() is not None

    message = servers.wait_until(lambda: watchdog(stack, job)["tr-status"]["children"]
                                 if "tr-status" in watchdog(stack, job) else None,
                                 timeout=STALE_S * 5, interval=1.0, what="the watchdog's verdict")
    assert "stopped unexpectedly" in message and "press train" in message.lower()
    # the page is still served, and the Train button is usable again
    assert requests.get(stack.url + "/train", timeout=30).status_code == 200
    assert store.run_key(state.training_fields()) not in str(requests.post(poll_url, json=body, timeout=30).json())

    stack.start_worker()
    small = train_state(n=400, steps=400, seed=12, data_seed=12)
    job, body, poll_url, _ = start_job(stack, small)
    key = store.run_key(small.training_fields())

    def finished():
        data = requests.post(poll_url, json=body, timeout=30).json()
        return data.get("response")

    result = servers.wait_until(finished, timeout=120, interval=0.3, what="the job after the restart")
    assert any(value.get("data") == key for value in result.values())


def test_after_a_redis_restart_the_worker_consumes_again_by_itself(stack):
    """Redis restarted (same port, empty: no persistence here) under a running Celery worker:
    with no manual step, the next job is picked up and finishes."""
    from services import run_store as store

    worker_pid = stack.worker.pid
    servers.stop(stack.redis)
    time.sleep(3)  # the worker notices the lost broker and starts reconnecting
    stack.start_redis()
    assert stack.worker.poll() is None and stack.worker.pid == worker_pid  # the same worker process
    servers.wait_until(stack._worker_ready, timeout=60, what="the worker to answer again")
    state = train_state(n=400, steps=300, seed=13, data_seed=13)
    job, body, poll_url, _ = start_job(stack, state)
    key = store.run_key(state.training_fields())

    def finished():
        return requests.post(poll_url, json=body, timeout=30).json().get("response")

    result = servers.wait_until(finished, timeout=90, interval=0.5, what="a job after the Redis restart")
    assert any(value.get("data") == key for value in result.values())


def test_a_lost_job_ends_the_poll_with_the_lost_job_words(stack):
    """A job whose worker was killed: the page's own poll ends with the words (not only the watchdog)."""
    state = train_state(dataset="spiral", n=20000, width=64, depth=8, steps=20000, seed=6, data_seed=6, k=2)
    job, body, poll_url, _ = start_job(stack, state)
    servers.wait_until(lambda: requests.post(poll_url, json=body, timeout=30).json().get("progress"),
                       timeout=60, interval=0.5, what="the job is running")
    servers.stop(stack.worker, sig=signal.SIGKILL)
    try:
        result = servers.wait_until(lambda: requests.post(poll_url, json=body, timeout=30).json().get("response"),
                                    timeout=STALE_S * 5, interval=1.0, what="the poll to end")
        assert "stopped unexpectedly" in result["tr-status"]["children"]
    finally:
        stack.start_worker()


# Keep this last in the module: it stops Redis.
def test_without_redis_pages_still_serve_and_say_what_is_missing(stack):
    deps = dash_http.dependencies(session_for(stack))
    stretch_body = stretch_fold_body(session_for(stack))
    servers.stop(stack.redis)
    assert stack.redis.poll() is not None
    for path in ("/", "/stretch-fold?op=shift&t=2", "/health"):
        response = requests.get(stack.url + path, timeout=30)
        assert response.status_code == 200, path
    started = time.perf_counter()
    response = requests.post(stack.url + "/_dash-update-component", json=stretch_body, timeout=30)
    assert response.status_code == 200
    assert "sf-circle" in response.json()["response"]
    # No Redis read stalls the answer (1 s connect, 3 s socket timeouts). Usually ~0.1 s; one CI
    # run of 4 took 19 s, cause not found yet (no cache access in this callback): an open item,
    # so the bound only catches a hang, not that slowness.
    assert time.perf_counter() - started < 30

    # where a job is needed, the page says so in words (pressing Train)
    from layouts import train as train_ids
    from polyviz.pages.train import control_values

    press = dash_http.find_callback(deps, "tr-train-job", "data")
    values = {f"{cid}.value": value
              for cid, value in zip(train_ids.CONTROL_IDS.values(), control_values(train_state()))}
    values["tr-train.n_clicks"] = 1
    response = requests.post(stack.url + "/_dash-update-component",
                             json=dash_http.payload(press, values, ["tr-train.n_clicks"]), timeout=30)
    assert response.status_code == 200
    assert "unavailable" in response.json()["response"]["tr-status"]["children"].lower()

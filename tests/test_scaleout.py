"""Scale-out for real: redis-server, a Celery worker and gunicorn with 2 workers, all
started here on loopback and stopped here by their own process ids."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import pytest
import requests

import dash_http
import servers
from conftest import free_port, wait_for_http

pytestmark = pytest.mark.integration

REDIS = shutil.which("redis-server")


class Stack:
    """The three processes, restartable one by one."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.redis_port = free_port()
        self.web_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = {"POLYVIZ_REDIS_URL": self.redis_url, "POLYVIZ_DATA_DIR": str(tmp_path / "data"),
                    "POLYVIZ_WORKER_HEADER": "1", "POLYVIZ_JOB_TIME_LIMIT": "120"}
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
            ["celery", "-A", "callbacks.celery_app", "worker", "--loglevel=INFO", "--concurrency=1",
             "--without-gossip", "--without-mingle", "-n", f"polyviz-test-{self.web_port}@%h"],
            env=self.env | {"OMP_NUM_THREADS": "1"}, log_name="celery")
        servers.wait_until(self._worker_ready, timeout=60, what="celery worker ready")

    def _worker_ready(self) -> bool:
        from celery import Celery

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


def stretch_fold_body(session):
    dep = dash_http.find_callback(dash_http.dependencies(session), "sf-circle", "figure")
    values = {"sf-committed-t.data": 1.5, "sf-op.value": "stretch", "sf-log-eps.value": -2, "sf-n.value": 300,
              "sf-dist.value": "circle", "sf-seed.value": 0}
    return dash_http.payload(dep, values, ["sf-n.value"])


def session_for(stack) -> requests.Session:
    session = requests.Session()
    session.base_url = stack.url
    return session


def answers_from_both_workers(stack, method, path, **kwargs) -> dict[str, requests.Response]:
    """Send the same request concurrently until both gunicorn workers have answered it;
    returns one response per worker pid. An idle worker grabs every sequential request,
    so only concurrency spreads them."""
    from concurrent.futures import ThreadPoolExecutor

    by_worker: dict[str, requests.Response] = {}
    with ThreadPoolExecutor(8) as pool:
        for _ in range(10):
            for response in pool.map(lambda _: requests.request(method, stack.url + path, timeout=60, **kwargs),
                                     range(16)):
                by_worker.setdefault(response.headers["X-Polyviz-Worker"], response)
            if len(by_worker) >= 2:
                break
    assert len(by_worker) == 2, "the requests never reached both workers"
    return by_worker


def test_pages_and_callbacks_through_both_workers(stack):
    body = stretch_fold_body(session_for(stack))
    for response in answers_from_both_workers(stack, "POST", "/_dash-update-component", json=body).values():
        assert response.status_code == 200
        assert response.json()["response"]["sf-circle"]["figure"]["layout"]["meta"]["op"] == "stretch"


# Keep this last in the module: it stops Redis.
def test_without_redis_pages_still_serve_and_say_what_is_missing(stack):
    servers.stop(stack.redis)
    assert stack.redis.poll() is not None
    for path in ("/", "/stretch-fold?op=shift&t=2", "/health"):
        response = requests.get(stack.url + path, timeout=30)
        assert response.status_code == 200, path
    body = stretch_fold_body(session_for(stack))
    started = time.perf_counter()
    response = requests.post(stack.url + "/_dash-update-component", json=body, timeout=30)
    assert response.status_code == 200
    assert "sf-circle" in response.json()["response"]
    assert time.perf_counter() - started < 10

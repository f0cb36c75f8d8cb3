"""gunicorn serves the app with 2 workers, exactly as the Dockerfile's CMD runs it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import requests

import dash_http
import servers
from conftest import free_port, wait_for_http

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    """The server (its url) and its log (gunicorn's and the app's, as the container prints them)."""
    port = free_port()
    cmd = servers.dockerfile_cmd()
    assert cmd[0] == "gunicorn" and "app:server" in cmd
    log = tmp_path_factory.mktemp("log") / "gunicorn.log"
    process = servers.start(cmd, env={"POLYVIZ_BIND": f"127.0.0.1:{port}", "POLYVIZ_WORKERS": "2",
                                      "POLYVIZ_DATA_DIR": str(tmp_path_factory.mktemp("data"))},
                            log_path=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/health", timeout=60)
        yield SimpleNamespace(url=url, log=log)
    finally:
        servers.stop(process)
    assert process.poll() is not None


@pytest.fixture(scope="module")
def gunicorn_url(gunicorn):
    return gunicorn.url


def test_health_and_pages(gunicorn_url):
    assert requests.get(gunicorn_url + "/health", timeout=10).status_code == 200
    page = requests.get(gunicorn_url + "/stretch-fold?op=shift&t=2", timeout=10)
    assert page.status_code == 200 and "polyviz" in page.text


def test_a_real_callback_through_gunicorn(gunicorn_url):
    session = requests.Session()
    session.base_url = gunicorn_url
    dep = dash_http.find_callback(dash_http.dependencies(session), "sf-circle", "figure")
    values = {"sf-committed-t.data": 2.0, "sf-op.value": "shift", "sf-log-eps.value": -2, "sf-n.value": 500,
              "sf-dist.value": "circle", "sf-seed.value": 0}
    # several requests, so both workers answer some of them
    for _ in range(8):
        response = dash_http.post(session, dash_http.payload(dep, values, ["sf-n.value"]))
        assert response.status_code == 200
        body = response.json()["response"]
        assert body["sf-circle"]["figure"]["layout"]["meta"]["op"] == "shift"


def test_traversal_looking_static_paths_are_404_with_no_error_in_the_servers_log(gunicorn):
    """The same paths as tests/test_security.py, through gunicorn's own URL handling."""
    import http.client

    from test_security import BAD_STATIC

    host, port = gunicorn.url.removeprefix("http://").split(":")
    before = gunicorn.log.read_text(errors="replace")
    for path in BAD_STATIC:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)  # sends the path byte for byte
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 404, path
        assert b"import" not in body and b"Traceback" not in body, path
    assert requests.get(gunicorn.url + "/health", timeout=10).status_code == 200  # log flushed past those requests
    added = gunicorn.log.read_text(errors="replace")[len(before):]
    assert "ERROR" not in added and "Traceback" not in added, added[-3000:]


def test_dev_tools_are_off_in_production(gunicorn_url):
    page = requests.get(gunicorn_url + "/", timeout=10).text
    assert '"ui":false' in page and '"props_check":false' in page
    assert "Traceback" not in requests.get(gunicorn_url + "/no-such-page", timeout=10).text


def test_workers_recycle_one_at_a_time_and_one_always_serves(tmp_path):
    """max_requests tiny and a short gap: several recycles happen, and each worker leaves
    only while another one is ready (the log's ready / autorestart lines), never two at once."""
    import threading

    port, log = free_port(), tmp_path / "gunicorn.log"
    gap_s = 3.0
    process = servers.start(servers.dockerfile_cmd(), env={
        "POLYVIZ_BIND": f"127.0.0.1:{port}", "POLYVIZ_WORKERS": "2", "POLYVIZ_DATA_DIR": str(tmp_path / "data"),
        "POLYVIZ_MAX_REQUESTS": "30", "POLYVIZ_RECYCLE_GAP_S": str(gap_s)}, log_path=log)
    url = f"http://127.0.0.1:{port}/health"
    failures = []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:  # a fresh connection each time, so both workers take requests
                status = requests.get(url, timeout=60, headers={"Connection": "close"}).status_code
                if status != 200:
                    failures.append(status)
            except requests.RequestException as error:
                failures.append(repr(error))

    def recycles() -> int:
        return servers.worker_recycles(log.read_text(errors="replace"))["recycles"]

    try:
        wait_for_http(url, timeout=90)
        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            servers.wait_until(lambda: recycles() >= 2, timeout=180, interval=0.5, what="two worker recycles")
        finally:
            stop.set()
            for t in threads:
                t.join()
    finally:
        servers.stop(process)
    assert not failures, failures[:5]
    seen = servers.worker_recycles(log.read_text(errors="replace"))
    assert seen["with_no_worker_ready"] == 0, "a worker recycled while no other one was ready"
    assert seen["min_gap_s"] >= gap_s - 1, "two workers recycled within the gap"  # the log has whole seconds

"""gunicorn serves the app with 2 workers, exactly as the Dockerfile's CMD runs it."""

from __future__ import annotations

import pytest
import requests

import dash_http
import servers
from conftest import free_port, wait_for_http

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gunicorn_url(tmp_path_factory):
    port = free_port()
    cmd = servers.dockerfile_cmd()
    assert cmd[0] == "gunicorn" and "app:server" in cmd
    process = servers.start(cmd, env={"POLYVIZ_BIND": f"127.0.0.1:{port}", "POLYVIZ_WORKERS": "2",
                                      "POLYVIZ_DATA_DIR": str(tmp_path_factory.mktemp("data"))},
                            log_name="gunicorn")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/health", timeout=60)
        yield url
    finally:
        servers.stop(process)
    assert process.poll() is not None


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


def test_dev_tools_are_off_in_production(gunicorn_url):
    page = requests.get(gunicorn_url + "/", timeout=10).text
    assert '"ui":false' in page and '"props_check":false' in page
    assert "Traceback" not in requests.get(gunicorn_url + "/no-such-page", timeout=10).text

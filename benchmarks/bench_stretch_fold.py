"""Stretch & fold: server time and size of the main figure callback; app cold start."""

from __future__ import annotations

import gzip
import pathlib
import statistics
import subprocess
import sys
import time

from _util import metric, median_ms

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(quick: bool):
    import dash_http

    import app

    client = app.server.test_client()
    dep = dash_http.find_callback(dash_http.dependencies(client), "sf-circle", "figure")
    values = {"sf-committed-t.data": 2.0, "sf-op.value": "shift", "sf-log-eps.value": -2, "sf-n.value": 2000,
              "sf-dist.value": "circle", "sf-seed.value": 0}
    repeats = 30 if quick else 200
    # The main interaction: t released after a drag (the server sends what moved).
    t_values = iter([round(-5 + 10 * i / (repeats + 10), 3) for i in range(repeats + 10)])

    def t_change():
        values["sf-committed-t.data"] = next(t_values)
        response = dash_http.post(client, dash_http.payload(dep, values, ["sf-committed-t.data"]))
        assert response.status_code == 200
        return response

    yield metric("stretch_fold_callback_ms_p50", median_ms(t_change, repeats, warmup=5), "ms", target=15, points=2000)
    body = t_change().data
    yield metric("stretch_fold_payload_kb", len(body) / 1024, "KB", target=120, points=2000)
    yield metric("stretch_fold_payload_gzip_kb", len(gzip.compress(body, 6)) / 1024, "KB", points=2000)

    # A full redraw (points, distribution or seed changed): every trace is sent.
    full_body = dash_http.payload(dep, values, ["sf-n.value"])
    yield metric("stretch_fold_full_callback_ms_p50",
                 median_ms(lambda: dash_http.post(client, full_body), repeats, warmup=3), "ms", points=2000)
    yield metric("stretch_fold_full_payload_kb", len(dash_http.post(client, full_body).data) / 1024, "KB",
                 points=2000)

    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    yield metric("cold_start_s", statistics.median(times), "s", target=4)

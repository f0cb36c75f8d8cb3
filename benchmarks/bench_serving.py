"""Serving under traffic: the callback fuzzer and a load run against gunicorn (loopback).

fuzz_cases / fuzz_5xx / fuzz_error_logs / fuzz_banners: Hypothesis-built random and malformed
bodies for every server callback, through the full WSGI stack (Flask test client); a callback
crash answers 200 with the error banner and an ERROR log record, so those are counted too.
load_*: gunicorn with 2 workers (the Dockerfile's command) and 16 concurrent clients
replaying realistic slider callbacks from every page for 30 s (10 s with --quick), after
every slider scenario has been answered once by both workers.
load_*_training: the same while one more client trains throughout (a maximal run, n 20,000,
width 64, depth 8, whose page polls its progress twice a second as the browser does).
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import random
import signal
import statistics
import tempfile
import threading
import time

from _util import metric


CLIENTS = 16


def worker_rss_mb(master_pid: int) -> float:
    """Largest resident set of the gunicorn master's children, in MB (from /proc)."""
    largest = 0.0
    try:
        children = pathlib.Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return 0.0
    for pid in children:
        try:
            for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    largest = max(largest, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return largest


def run_load(port: int, scenarios, seconds: float, master_pid: int):
    latencies: list[float] = []
    errors = [0]
    rss = [0.0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(index: int):
        rng = random.Random(index)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local = []
        local_errors = 0
        while time.perf_counter() < stop_at:
            body = json.dumps(rng.choice(scenarios).body(rng))
            start = time.perf_counter()
            try:
                connection.request("POST", "/_dash-update-component", body, {"Content-Type": "application/json",
                                                                              "Accept-Encoding": "gzip"})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    local_errors += 1
            except (OSError, http.client.HTTPException):
                local_errors += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            local.append((time.perf_counter() - start) * 1000.0)
        with lock:
            latencies.extend(local)
            errors[0] += local_errors

    def sample_memory():
        while time.perf_counter() < stop_at:
            rss[0] = max(rss[0], worker_rss_mb(master_pid))
            time.sleep(0.5)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    threads.append(threading.Thread(target=sample_memory))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else float("nan")
    return {
        "load_rps": len(latencies) / elapsed,
        "load_p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "load_p99_ms": p99,
        "load_errors": errors[0],
        "worker_rss_mb_max": rss[0],
        "requests": len(latencies),
    }


def load_while_training(port: int, scenarios, seconds: float, master_pid: int) -> dict:
    """run_load while one client trains a maximal run and polls it (stopped afterwards)."""
    from types import SimpleNamespace

    import requests
    from test_job_admission import Client, state_of

    url = f"http://127.0.0.1:{port}"
    server = SimpleNamespace(url=url, deps=requests.get(url + "/_dash-dependencies", timeout=30).json())
    job = Client(server).start(state_of(seed=7, n=20000, width=64, depth=8, steps=20000))
    stop, polls = threading.Event(), [0]

    def poll():
        while not stop.is_set():
            job.poll()
            polls[0] += 1
            stop.wait(0.5)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        result = run_load(port, scenarios, seconds, master_pid)
    finally:
        stop.set()
        poller.join()
        try:
            os.kill(job.pid, signal.SIGTERM)  # the job's process: it ends and frees its slot
        except ProcessLookupError:
            pass
    return {**result, "polls": polls[0]}


def run(quick: bool):
    import dash_http
    import fuzz
    import scenarios as scenario_module
    import servers
    from bench_abuse import warm
    from conftest import free_port, wait_for_http

    import app

    client = app.server.test_client()
    fuzzed = [d for d in dash_http.server_callbacks(dash_http.dependencies(client)) if not d.get("background")]
    cases_per_callback = -(-(1200 if quick else 5000) // len(fuzzed))  # ceiling: at least the total
    # background callbacks too, fewer cases each: every accepted request starts a job process
    counts = fuzz.run_fuzz(client, cases_per_callback, background_cases=10 if quick else 50)
    yield metric("fuzz_cases", counts["cases"], "count", target=5000)
    yield metric("fuzz_5xx", counts["5xx"], "count", target=0)
    # run_fuzz mutes the log handlers while it runs (thousands of warnings) but counts errors
    yield metric("fuzz_error_logs", counts["error_logs"], "count", target=0)
    yield metric("fuzz_banners", counts["banners"], "count", target=0)

    scenarios = scenario_module.slider_scenarios(client)
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="polyviz-load-")
    process = servers.start(servers.dockerfile_cmd(), env={"POLYVIZ_BIND": f"127.0.0.1:{port}",
                                                           "POLYVIZ_WORKERS": "2", "POLYVIZ_DATA_DIR": data_dir,
                                                           "POLYVIZ_WORKER_HEADER": "1"},
                            log_name="load-gunicorn")
    seconds = 10.0 if quick else 30.0
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=60)
        # steady state: a cold worker's first /transformer request loads a model (seconds)
        warm(f"http://127.0.0.1:{port}", scenarios)
        result = run_load(port, scenarios, seconds, process.pid)
        training = load_while_training(port, scenarios, seconds, process.pid)
    finally:
        servers.stop(process)
    targets = {"load_rps": 150, "load_p99_ms": 250, "load_errors": 0, "worker_rss_mb_max": 400}
    units = {"load_rps": "req/s", "load_p50_ms": "ms", "load_p99_ms": "ms", "load_errors": "count",
             "worker_rss_mb_max": "MB"}
    for name, unit in units.items():
        extra = {"target": targets[name]} if name in targets else {}
        yield metric(name, result[name], unit, clients=CLIENTS, scenarios=len(scenarios), **extra)
    for name in ("load_rps", "load_p99_ms"):
        yield metric(f"{name}_training", training[name], units[name], clients=CLIENTS, trainers=1,
                     target=targets[name], requests=training["requests"], polls=training["polls"])

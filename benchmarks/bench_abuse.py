"""Abuse and soak of embedded-mode jobs through gunicorn (the Dockerfile's command), loopback only.

abuse_*: 32 clients, each with its own session, press Train with maximal settings (n 20,000,
width 64, depth 8, 20,000 steps) while 2 clients drag sliders; the most jobs seen running at
once (ledger and live job processes) against the cap, and the sliders' p90 against idle.
soak_*: 3 clients train small random runs back to back and 2 drag sliders for 10 minutes
(1 with --quick; BENCH_SOAK_MINUTES overrides both, at most 30); then every job must have
answered (hung = a poll that never ended; lost = it ended without its result: the lost-job
words or an empty 204 answer), the stopped server must leave no process behind, and the
workers' memory growth is reported: soak_worker_rss_growth_mb is the largest worker's RSS,
sampled every 5 s, its median over the soak's last fifth minus that over its second fifth
(snapshot_growth_mb: the end minus the start, as first reported). The soak's workers recycle
every 300-600 requests, so recycles happen within the soak: none may leave no worker ready
(gunicorn.conf.py).

Both servers are warmed first (every slider scenario answered by both workers: the first
/transformer request of a worker loads a model), and the idle, abuse and soak sliders send
different random values (the pages memoize per process: a replay would be all cache hits).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import threading
import time
import pathlib

import psutil
import requests

from _util import metric

CLIENTS = 32
JOB_DEADLINE_S = 240  # a soak job whose poll has not ended by then is hung
WARM_S = 240  # bound on warming a server


def soak_minutes(quick: bool) -> float:
    raw = os.environ.get("BENCH_SOAK_MINUTES")
    return min(30.0, float(raw)) if raw else (1.0 if quick else 10.0)


def warm(url, scenarios) -> None:
    """Every slider scenario once on each worker (fresh connections land on either), bounded."""
    rng, deadline = random.Random(-1), time.time() + WARM_S
    for scenario in scenarios:
        seen = set()
        while len(seen) < 2 and time.time() < deadline:
            response = requests.post(url + "/_dash-update-component", json=scenario.body(rng), timeout=120,
                                     headers={"Connection": "close"})
            seen.add(response.headers.get("X-Polyviz-Worker"))


def p90(values):
    values = sorted(values)
    return values[min(len(values) - 1, int(0.9 * len(values)))] if values else float("nan")


def slider_load(url, scenarios, stop: threading.Event, latencies: list, seed: int):
    rng = random.Random(seed)
    session = requests.Session()
    while not stop.is_set():
        body = rng.choice(scenarios).body(rng)
        start = time.perf_counter()
        try:
            session.post(url + "/_dash-update-component", json=body, timeout=30)
        except requests.RequestException:
            pass
        latencies.append((time.perf_counter() - start) * 1000.0)
        time.sleep(0.05)


def sliders_during(url, scenarios, seconds, during=None, seed=0):
    stop, latencies = threading.Event(), []
    threads = [threading.Thread(target=slider_load, args=(url, scenarios, stop, latencies, seed + i))
               for i in range(2)]
    for t in threads:
        t.start()
    try:
        if during is None:
            time.sleep(seconds)
        else:
            during(seconds)
    finally:
        stop.set()
        for t in threads:
            t.join()
    return latencies


def job_processes(server) -> list[psutil.Process]:
    """The job host's children: one per job process alive now."""
    found = []
    for host in server.job_host_pids():
        try:
            found += psutil.Process(host).children()
        except psutil.Error:
            pass
    return found


def running_in_ledger(server) -> int:
    try:
        entries = json.loads((server.data_dir / "jobs" / "admission.json").read_text())["entries"]
    except (OSError, ValueError, KeyError):
        return 0
    return sum(1 for e in entries.values() if e.get("state") == "running")


def worker_rss_mb(server) -> list[float]:
    out = []
    for child in psutil.Process(server.process.pid).children():
        try:
            if "gunicorn" in " ".join(child.cmdline()):
                out.append(child.memory_info().rss / 2**20)
        except psutil.Error:
            pass
    return out


def leftovers(data_dir) -> list[int]:
    """Processes still alive whose command line names this server's data directory (host, jobs)."""
    left = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if str(data_dir) in " ".join(process.info["cmdline"] or []) and process.info["status"] != "zombie":
                left.append(process.pid)
        except psutil.Error:
            pass
    return left


def stop_server(server) -> list[int]:
    import servers

    server.process.terminate()  # the master only, as a supervisor would
    try:
        server.process.wait(30)
    except Exception:  # noqa: BLE001
        servers.stop(server.process)
    time.sleep(3)
    left = leftovers(server.data_dir)
    servers.stop(server.process)
    for pid in left:  # never leave them running past the benchmark
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass
    return left


def run(quick: bool):
    import scenarios as scenario_module
    from test_job_admission import Client, Server, state_of

    import app

    scenarios = scenario_module.slider_scenarios(app.server.test_client())
    cap = os.cpu_count() or 1

    # --- abuse: 32 clients with maximal settings ---------------------------------------------
    server = Server(pathlib.Path(tempfile.mkdtemp(prefix="polyviz-abuse-")), POLYVIZ_MAX_JOBS=str(cap),
                    POLYVIZ_WORKER_HEADER="1")
    try:
        warm(server.url, scenarios)
        idle = sliders_during(server.url, scenarios, 5 if quick else 15, seed=0)
        counts = {"accepted": 0, "refused": 0, "running_max": 0, "processes_max": 0}

        def abuse(seconds):
            def press(i):
                client = Client(server)
                answer = client.press_train(state_of(seed=1000 + i, n=20000, width=64, depth=8, steps=20000))
                if "tr-train-job" not in answer:
                    counts["refused"] += 1
                    return
                counts["accepted"] += 1
                client.start_job(answer["tr-train-job"]["data"])

            threads = [threading.Thread(target=press, args=(i,)) for i in range(CLIENTS)]
            for t in threads:
                t.start()
            end = time.time() + seconds
            while time.time() < end:
                counts["running_max"] = max(counts["running_max"], running_in_ledger(server))
                counts["processes_max"] = max(counts["processes_max"], len(job_processes(server)))
                time.sleep(0.25)
            for t in threads:
                t.join()

        during = sliders_during(server.url, scenarios, 15 if quick else 40, during=abuse, seed=10)
    finally:
        left = stop_server(server)
    # a waiting job has a process too (it waits for its slot); the cap is on running ones
    yield metric("abuse_concurrent_jobs_max", counts["running_max"], "count", target=cap, cap=cap,
                 accepted=counts["accepted"], refused=counts["refused"], job_processes_max=counts["processes_max"])
    yield metric("idle_slider_p90_ms", p90(idle), "ms", requests=len(idle))
    yield metric("abuse_slider_p90_ms", p90(during), "ms", target=round(2 * p90(idle), 1), requests=len(during),
                 p50_ms=round(statistics.median(during), 1) if during else None)
    yield metric("abuse_orphan_processes", len(left), "count", target=0)

    # --- soak: 3 trainers, 2 slider clients ----------------------------------------------------
    minutes = soak_minutes(quick)
    soak_dir = pathlib.Path(tempfile.mkdtemp(prefix="polyviz-soak-"))
    log = soak_dir.parent / f"{soak_dir.name}.log"
    server = Server(soak_dir, log_path=log, POLYVIZ_MAX_JOBS=str(cap), POLYVIZ_WORKER_HEADER="1",
                    POLYVIZ_MAX_REQUESTS="300")
    outcome = {"jobs": 0, "hung": 0, "lost": 0}
    try:
        warm(server.url, scenarios)
        rss_start = max(worker_rss_mb(server) or [0.0])
        soak_end = time.time() + 60 * minutes

        def trainer(i):
            rng = random.Random(i)
            client = Client(server)
            while time.time() < soak_end:
                state = state_of(seed=rng.randrange(10**6), n=rng.randrange(300, 3000),
                                 width=rng.choice([4, 8, 16, 32]), depth=rng.randrange(1, 5),
                                 steps=rng.randrange(100, 1500))
                answer = client.press_train(state)
                if "tr-train-job" not in answer:
                    time.sleep(1)
                    continue
                job = client.start_job(answer["tr-train-job"]["data"])
                outcome["jobs"] += 1
                deadline = time.time() + JOB_DEADLINE_S
                result = None
                while time.time() < deadline:
                    result = job.poll()
                    if result:
                        break
                    time.sleep(0.3)
                if not result:
                    outcome["hung"] += 1
                elif result == {"ended": "204"} or "stopped unexpectedly" in json.dumps(result):
                    outcome["lost"] += 1

        rss_samples = []  # (seconds into the soak, the largest worker's RSS)

        def soak(_seconds):
            threads = [threading.Thread(target=trainer, args=(i,)) for i in range(3)]
            for t in threads:
                t.start()
            started = time.time()
            while any(t.is_alive() for t in threads):
                rss_samples.append((time.time() - started, max(worker_rss_mb(server) or [0.0])))
                time.sleep(5)
            for t in threads:
                t.join()

        soak_sliders = sliders_during(server.url, scenarios, 0, during=soak, seed=20)
        rss_end = max(worker_rss_mb(server) or [0.0])
    finally:
        left = stop_server(server)
    import servers

    recycles = servers.worker_recycles(log.read_text(errors="replace"))
    log.unlink(missing_ok=True)
    yield metric("soak_hung_jobs", outcome["hung"], "count", target=0, jobs=outcome["jobs"], lost=outcome["lost"],
                 minutes=minutes)
    yield metric("soak_lost_results", outcome["lost"], "count", target=0, jobs=outcome["jobs"])
    yield metric("soak_orphan_processes", len(left), "count", target=0)
    yield metric("soak_recycles_with_no_worker_ready", recycles["with_no_worker_ready"], "count", target=0,
                 recycles=recycles["recycles"], min_gap_s=recycles["min_gap_s"])
    # Workers recycle every 300-600 requests here, so two snapshots compare whichever worker
    # happens to be alive (a young one, or one that has just warmed up): -31 to +60 MB between
    # runs of one build. The sampled figure compares the largest worker's median RSS in the
    # soak's last fifth with that in its second fifth (after the first fifth's warm-up).
    span = 60 * minutes
    early = [mb for at, mb in rss_samples if 0.2 * span <= at < 0.4 * span]
    late = [mb for at, mb in rss_samples if at >= 0.8 * span]
    growth = statistics.median(late) - statistics.median(early) if early and late else rss_end - rss_start
    yield metric("soak_worker_rss_growth_mb", growth, "MB", target=50, samples=len(rss_samples),
                 early_median_mb=round(statistics.median(early), 1) if early else None,
                 late_median_mb=round(statistics.median(late), 1) if late else None,
                 snapshot_growth_mb=round(rss_end - rss_start, 1), start_mb=round(rss_start, 1),
                 end_mb=round(rss_end, 1), peak_mb=round(max((mb for _, mb in rss_samples), default=0.0), 1))
    yield metric("soak_slider_p90_ms", p90(soak_sliders), "ms", requests=len(soak_sliders))

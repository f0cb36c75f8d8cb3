"""Embedded-mode jobs through gunicorn (the Dockerfile's command) on loopback: the global cap
and its queue, the per-client cap, a job killed with SIGKILL, and a server stopped mid-job.

The server runs with POLYVIZ_MAX_JOBS=1 so that a queue forms with few, short jobs."""

from __future__ import annotations

import os
import re
import signal
import time

import psutil
import pytest
import requests

import dash_http
import servers
from conftest import free_port, wait_for_http

pytestmark = pytest.mark.integration


class Server:
    """gunicorn as the Dockerfile runs it (benchmarks/bench_abuse.py uses it too)."""

    def __init__(self, data_dir, log_path=None, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        env = {"POLYVIZ_MAX_JOBS": "1", "POLYVIZ_MAX_JOBS_PER_CLIENT": "2", **env}
        self.process = servers.start(servers.dockerfile_cmd(), env={
            "POLYVIZ_BIND": f"127.0.0.1:{self.port}", "POLYVIZ_WORKERS": "2", "POLYVIZ_DATA_DIR": str(data_dir),
            **env}, log_name="gunicorn-jobs", log_path=log_path)
        wait_for_http(self.url + "/health", timeout=90)
        self.deps = requests.get(self.url + "/_dash-dependencies", timeout=30).json()

    def job_host_pids(self) -> list[int]:
        """The job hosts (a job process is a fork of its host, with the same command line)."""
        def is_host(process) -> bool:
            try:
                return ("services.job_host" in " ".join(process.cmdline())
                        and "services.job_host" not in " ".join(process.parent().cmdline()))
            except psutil.Error:
                return False

        return [p.pid for p in psutil.Process(self.process.pid).children(recursive=True) if is_host(p)]

    def web_worker_pids(self) -> list[int]:
        """The gunicorn workers alive now (a killed one may linger as a zombie until reaped)."""
        alive = []
        for child in psutil.Process(self.process.pid).children():
            try:
                if child.status() != psutil.STATUS_ZOMBIE and "services.job_host" not in " ".join(child.cmdline()):
                    alive.append(child.pid)
            except psutil.Error:
                pass
        return alive


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("jobs-data"))
    try:
        yield s
    finally:
        servers.stop(s.process)


def state_of(**fields):
    from polyviz import state as st
    from polyviz.pages.train import TrainState

    base = {"dataset": "spiral", "n": 1000, "width": 16, "depth": 2, "steps": 400, "data_seed": 1}
    return st.validate(TrainState, {**base, **fields})[0]


class Client:
    """One browser: its own session cookie and page load (end id)."""

    def __init__(self, server):
        self.server = server
        self.session = requests.Session()
        html = self.session.get(server.url + "/train", timeout=30).text
        self.end_id = re.search(r'"end_id":"([^"]+)"', html).group(1)
        assert "polyviz_client" in self.session.cookies

    def press_train(self, state) -> dict:
        """The Train button's callback: the job payload, or the status words when refused."""
        from layouts import train as ids
        from polyviz.pages.train import control_values

        dep = dash_http.find_callback(self.server.deps, "tr-train-job", "data")
        values = {f"{cid}.value": v for cid, v in zip(ids.CONTROL_IDS.values(), control_values(state))}
        values["tr-train.n_clicks"] = 1
        response = self.session.post(self.server.url + "/_dash-update-component", timeout=30,
                                     json=dash_http.payload(dep, values, ["tr-train.n_clicks"]))
        assert response.status_code == 200
        return response.json()["response"]

    def start(self, state) -> "Job":
        answer = self.press_train(state)
        assert "tr-train-job" in answer, answer
        return self.start_job(answer["tr-train-job"]["data"])

    def start_job(self, job: dict) -> "Job":
        """The background callback's first request, as the browser sends it after a press."""
        dep = next(d for d in self.server.deps if d.get("background") and "tr-result-key.data" in d["output"])
        body = dash_http.payload(dep, {"tr-train-job.data": job}, ["tr-train-job.data"])
        first = self.session.post(f"{self.server.url}/_dash-update-component?endId={self.end_id}", json=body,
                                  timeout=30)
        assert first.status_code == 200
        handles = first.json()
        return Job(self, body, handles)


class Job:
    def __init__(self, client, body, handles):
        self.client, self.body, self.handles = client, body, handles
        self.pid = int(handles["job"].split(":")[0])
        self.progress_seen: list[str] = []

    def poll(self) -> dict | None:
        url = (f"{self.client.server.url}/_dash-update-component?endId={self.client.end_id}"
               f"&cacheKey={self.handles['cacheKey']}&job={self.handles['job']}")
        response = self.client.session.post(url, json=self.body, timeout=30)
        if response.status_code == 204:
            return {"ended": "204"}
        assert response.status_code == 200
        data = response.json()
        live = data.get("progress", {}).get("tr-live.children")
        if live:
            self.progress_seen.append(live)
        return data.get("response")

    def status(self, data) -> str:
        return data.get("tr-status", {}).get("children", "")


def _ledger(server) -> dict:
    import json

    try:
        return json.loads((server.data_dir / "jobs" / "admission.json").read_text())["entries"]
    except (OSError, ValueError):
        return {}


def test_more_jobs_than_slots_wait_in_turn_and_all_finish(server):
    jobs = [Client(server).start(state_of(seed=100 + i, steps=1500)) for i in range(3)]
    done: dict[int, dict] = {}
    most_running = 0
    deadline = time.time() + 150
    while len(done) < len(jobs) and time.time() < deadline:
        most_running = max(most_running, sum(1 for e in _ledger(server).values() if e["state"] == "running"))
        for i, job in enumerate(jobs):
            if i not in done:
                result = job.poll()
                if result:
                    done[i] = result
        time.sleep(0.3)
    assert len(done) == 3, "not every queued job finished"
    assert most_running <= 1
    for result in done.values():
        assert "Trained" in result["tr-status"]["children"], result
    waited = [job for job in jobs if any("Waiting for a free slot" in p for p in job.progress_seen)]
    assert waited, "no job said it was waiting, though only one slot exists"
    assert any(re.search(r"\d+ jobs? (is|are) ahead", p) for job in waited for p in job.progress_seen)


def test_a_flood_from_one_client_is_refused_in_words(server):
    client = Client(server)
    first = client.start(state_of(seed=200, steps=3000))
    second = client.start(state_of(seed=201, steps=3000))
    refused = client.press_train(state_of(seed=202, steps=3000))
    assert "tr-train-job" not in refused
    words = refused["tr-status"]["children"]
    assert "Not started" in words and "at most 2" in words
    # another client is not held by this one's cap
    other = Client(server).press_train(state_of(seed=203, steps=3000))
    assert "tr-train-job" in other
    # ended jobs free the client's share
    for job in (first, second):
        os.kill(job.pid, signal.SIGTERM)
    for job in (first, second):
        servers.wait_until(job.poll, timeout=30, what="the terminated job's poll to end")
    servers.wait_until(lambda: "tr-train-job" in client.press_train(state_of(seed=204, steps=50)), timeout=30,
                       what="the client's slots to free")


def test_a_job_killed_mid_run_is_reported_and_the_next_job_runs(server):
    client = Client(server)
    job = client.start(state_of(seed=300, n=20000, width=64, depth=8, steps=20000))
    servers.wait_until(lambda: job.poll() is None and any("step" in p for p in job.progress_seen),
                       timeout=60, what="the long job to be training")
    os.kill(job.pid, signal.SIGKILL)
    result = servers.wait_until(job.poll, timeout=30, what="the killed job's poll to end")
    assert "stopped unexpectedly" in job.status(result) and "Press Train" in job.status(result)
    after = client.start(state_of(seed=301, steps=300))
    result = servers.wait_until(after.poll, timeout=60, what="the next job")
    assert "Trained" in after.status(result)


def kill_the_web_workers(server) -> None:
    """SIGKILL every gunicorn worker at once; wait until their replacements serve."""
    workers = server.web_worker_pids()
    assert len(workers) == 2
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    servers.wait_until(lambda: len(set(server.web_worker_pids()) - set(workers)) == 2, timeout=30,
                       what="gunicorn to start two new workers")
    wait_for_http(server.url + "/health", timeout=120)


def test_killing_the_web_workers_mid_job_loses_nothing_and_the_next_job_runs(server):
    """The job runs in the job host, not in a web worker: its poll, answered by the new
    workers (the same signing key), still ends with the trained run."""
    client = Client(server)
    hosts = server.job_host_pids()
    # long enough (~17 s on a quiet core) to be still training when the workers die
    job = client.start(state_of(seed=500, n=4000, width=32, depth=4, steps=12000))
    servers.wait_until(lambda: job.poll() is None and job.progress_seen, timeout=60, what="the job to be training")
    # the job yields the CPU to the web workers (POLYVIZ_JOB_NICE, default 10)
    assert psutil.Process(job.pid).nice() == min(19, psutil.Process(server.web_worker_pids()[0]).nice() + 10)
    kill_the_web_workers(server)
    assert server.job_host_pids() == hosts and psutil.pid_exists(job.pid)
    result = servers.wait_until(job.poll, timeout=240, what="the job's poll to end")
    assert "Trained" in job.status(result), (result, servers.log_tail("gunicorn-jobs"))
    after = client.start(state_of(seed=501, steps=200))
    result = servers.wait_until(after.poll, timeout=60, what="the next job")
    assert "Trained" in after.status(result)


def test_a_locked_job_store_never_stops_a_worker_from_booting(server):
    """Another process holds the job store's write lock (as a hung job once did): new workers
    boot and serve pages; once the lock is gone, training works again."""
    import sqlite3

    store = sqlite3.connect(server.data_dir / "jobs" / "cache.db", timeout=30, isolation_level=None)
    try:
        store.execute("BEGIN EXCLUSIVE")
        kill_the_web_workers(server)
        page = requests.get(server.url + "/train", timeout=60)
        assert page.status_code == 200 and "polyviz" in page.text
    finally:
        store.close()  # the lock goes with the connection
    job = Client(server).start(state_of(seed=502, steps=200))
    result = servers.wait_until(job.poll, timeout=60, what="a job after the lock")
    assert "Trained" in job.status(result)


def test_stopping_the_server_leaves_no_job_process(tmp_path):
    s = Server(tmp_path / "data")
    try:
        hosts = s.job_host_pids()
        assert len(hosts) == 1, "the server has one job host"
        job = Client(s).start(state_of(seed=400, n=20000, width=64, depth=8, steps=20000))
        servers.wait_until(lambda: psutil.pid_exists(job.pid) and job.poll() is None and job.progress_seen,
                           timeout=60, what="the job to run")
        os.kill(s.process.pid, signal.SIGTERM)  # the master only, as a supervisor stops it
        s.process.wait(30)
        servers.wait_until(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                                           for p in [job.pid, *hosts]), timeout=15,
                           what="the job and its host to stop")
    finally:
        servers.stop(s.process)

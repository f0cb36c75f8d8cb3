"""The admission ledger's rules on a real file ledger in a temporary directory (no server)."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from services import admission


@pytest.fixture()
def ledger(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYVIZ_MAX_JOBS", "2")
    monkeypatch.setenv("POLYVIZ_MAX_JOBS_PER_CLIENT", "2")
    monkeypatch.setenv("POLYVIZ_MAX_WAITING", "3")
    monkeypatch.setattr(admission, "ledger", lambda: admission.FileLedger(tmp_path))
    return tmp_path


def me():
    process = psutil.Process()
    return process.pid, process.create_time()


def test_slots_are_taken_in_order_and_freed_on_release(ledger):
    for i, job in enumerate("abc"):
        assert admission.submit(job, [f"cookie:{'x' * 15}{i}"], now=100 + i).accepted
    assert admission.acquire("a", *me(), now=105) == 0
    assert admission.acquire("c", *me(), now=105) == 1  # b was pressed first and may still come: c is next
    # b's process never asked within the grace: c no longer waits for it
    assert admission.acquire("c", *me(), now=101 + admission.START_GRACE_S + 1) == 0
    assert admission.acquire("b", *me(), now=115) == 1  # both slots taken: b is next
    admission.release("a")
    assert admission.acquire("b", *me(), now=116) == 0


def test_a_dead_process_frees_its_slot_at_once(ledger):
    assert admission.submit("a", ["cookie:" + "y" * 16], now=100).accepted
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    created = psutil.Process(child.pid).create_time()
    child.wait()
    with admission.ledger().locked() as entries:
        entries["a"].update(state="running", host=admission.HOST, pid=child.pid, created=created, lease=10**12)
    assert admission.snapshot(now=101) == {"running": 0, "waiting": 0}


def test_a_job_process_that_dies_before_asking_for_a_slot_frees_it_at_once(ledger):
    """The job host attaches the process to its entry at the fork: a child killed before it
    ever called acquire (e.g. SIGTERM during its start) does not hold the client's share for
    the waiting lease."""
    cookie = "cookie:" + "w" * 16
    assert admission.submit("a", [cookie], now=100).accepted
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    created = psutil.Process(child.pid).create_time()
    admission.attach("a", child.pid, created)
    assert admission.snapshot(now=101) == {"running": 0, "waiting": 1}  # alive: it still waits
    child.kill()
    child.wait()
    assert admission.snapshot(now=102) == {"running": 0, "waiting": 0}
    admission.attach("gone", child.pid, created)  # an entry that is not there: nothing happens
    assert admission.snapshot(now=103) == {"running": 0, "waiting": 0}


def test_a_process_is_alive_only_while_it_runs_under_its_own_start_time():
    """The one check (services/job_host.py) behind the ledger, the job manager and the job host."""
    import time

    from services import job_host

    pid, created = me()
    assert job_host.process_alive(pid, created)
    assert not job_host.process_alive(pid, created - 5)  # the pid of another, earlier process: reused
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    child_created = psutil.Process(child.pid).create_time()
    assert job_host.live_process(child.pid, child_created).pid == child.pid
    child.kill()
    deadline = time.monotonic() + 30
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.01)  # exited but not yet reaped: a zombie
    assert not job_host.process_alive(child.pid, child_created)
    child.wait()
    assert not job_host.process_alive(child.pid, child_created)  # reaped: gone
    for bad in ((None, created), ("x", created), (pid, None), (pid, "later")):
        assert not job_host.process_alive(*bad)


def test_an_expired_lease_frees_the_slot(ledger):
    assert admission.submit("a", ["cookie:" + "z" * 16], now=100).accepted
    assert admission.acquire("a", *me(), now=100) == 0
    assert admission.snapshot(now=100 + admission.RUN_LEASE_S - 1)["running"] == 1
    assert admission.snapshot(now=100 + admission.RUN_LEASE_S + 1)["running"] == 0


def test_per_client_and_queue_caps_refuse_in_words(ledger):
    cookie = "cookie:" + "q" * 16
    assert admission.submit("a", [cookie, "addr:1.2.3.4"], now=100).accepted
    assert admission.submit("b", [cookie, "addr:1.2.3.4"], now=100).accepted
    refused = admission.submit("c", [cookie, "addr:1.2.3.4"], now=100)
    assert not refused.accepted and "You already have 2" in refused.words and "at most 2" in refused.words
    assert admission.submit("d", ["cookie:" + "r" * 16], now=100).accepted
    full = admission.submit("e", ["cookie:" + "s" * 16], now=100)
    assert not full.accepted and "busy" in full.words


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(monkeypatch):
    assert admission.client_address("10.0.0.5", "6.6.6.6") == "10.0.0.5"
    monkeypatch.setenv("POLYVIZ_TRUSTED_PROXIES", "10.0.0.0/8")
    assert admission.client_address("10.0.0.5", "1.1.1.1, 6.6.6.6") == "6.6.6.6"
    assert admission.client_address("8.8.8.8", "6.6.6.6") == "8.8.8.8"
    assert os.environ["POLYVIZ_TRUSTED_PROXIES"] == "10.0.0.0/8"


@pytest.mark.parametrize("raw, words", [("x", "whole number from 0 to 19, not 'x'"), ("20", "from 0 to 19, not 20"),
                                        ("-1", "from 0 to 19, not -1")])
def test_a_bad_job_priority_setting_is_refused_in_words(monkeypatch, raw, words):
    from services import job_host

    monkeypatch.setenv("POLYVIZ_JOB_NICE", raw)
    with pytest.raises(ValueError, match="POLYVIZ_JOB_NICE must be") as refused:
        job_host.job_nice()
    assert words in str(refused.value)
    monkeypatch.delenv("POLYVIZ_JOB_NICE")
    assert job_host.job_nice() == 10

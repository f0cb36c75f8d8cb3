"""Start and stop real server processes for tests, each stopped by its own process id."""

from __future__ import annotations

import contextlib
import json
import re
import os
import pathlib
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV_BIN = pathlib.Path(sys.executable).parent


def dockerfile_cmd() -> list[str]:
    """The CMD of the Dockerfile, so tests run exactly what the image runs."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            return json.loads(line[4:])
    raise AssertionError("Dockerfile has no CMD line")


def start(argv: list[str], env: dict | None = None, log_name: str = "server",
          log_path: pathlib.Path | None = None) -> subprocess.Popen:
    """``log_path``: where the process's output goes (a test that reads the log); otherwise
    .pytest_cache/<log_name>.log (made if missing: a fresh clone has none until pytest ends,
    and CI's failures are read from these logs; see :func:`log_tail`)."""
    full_env = dict(os.environ)
    full_env["PATH"] = f"{VENV_BIN}{os.pathsep}{full_env.get('PATH', '')}"
    full_env.update(env or {})
    if log_path is None:
        with contextlib.suppress(OSError):  # a read-only checkout: no log
            (ROOT / ".pytest_cache").mkdir(exist_ok=True)
            log_path = ROOT / ".pytest_cache" / f"{log_name}.log"
    log = open(log_path, "wb") if log_path is not None else subprocess.DEVNULL
    return subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def log_tail(log_name: str, lines: int = 40) -> str:
    """The last lines of a server's log (see :func:`start`), for an assertion's message."""
    try:
        text = (ROOT / ".pytest_cache" / f"{log_name}.log").read_text(errors="replace")
    except OSError:
        return f"(no {log_name} log)"
    return "\n".join(text.splitlines()[-lines:])


def stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 15.0) -> None:
    """Stop a process we started (its pid) and anything it forked (its process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout} s")


def worker_recycles(log_text: str) -> dict:
    """gunicorn's recycles from its log (gunicorn.conf.py logs "Worker ready" when a worker
    serves; gunicorn logs "Autorestarting worker" when one leaves after max_requests, once per
    finishing thread): how many, how many left no other worker ready, and the shortest gap
    between two (s, whole seconds: the log's resolution)."""
    ready, leaving, unserved, gaps, last = set(), set(), 0, [], None
    for line in log_text.splitlines():
        match = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[^\]]*\] \[(\d+)\]", line)
        if not match:
            continue
        pid = int(match.group(2))
        if "Worker ready (pid:" in line:
            ready.add(pid)
        elif "Autorestarting worker" in line and pid not in leaving:
            leaving.add(pid)
            ready.discard(pid)
            unserved += not ready
            when = time.mktime(time.strptime(match.group(1), "%Y-%m-%d %H:%M:%S"))
            if last is not None:
                gaps.append(when - last)
            last = when
    return {"recycles": len(leaving), "with_no_worker_ready": unserved, "min_gap_s": min(gaps) if gaps else None}

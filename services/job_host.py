"""The embedded job host: the one process of a server that starts background jobs.

Why a host: a gunicorn gthread worker has threads, and fork() of a threaded process copies
locks that other threads held (torch's, sqlite's) into a child that can never release them:
forked jobs deadlocked. The host is started with exec (a fresh interpreter, by
:func:`start`, from gunicorn's single-threaded master or lazily by the first job), imports
the app once, never starts a thread, and forks one child per job from there.

* Web workers ask it for a job over a Unix socket (:func:`request_job`): one JSON line
  with the background callback's key and arguments; the answer is the child's pid and start time.
* A child gets default signal handling plus a SIGTERM that ends it cleanly (its slot is
  released on the way out), PR_SET_PDEATHSIG so it dies with the host, and a lower CPU
  priority (:func:`lower_priority`) so the page's own callbacks come first.
* The host watches its anchor (the gunicorn master, or the process that started it) and
  stops with every child when the anchor is gone, or on SIGTERM (gunicorn's on_exit hook).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

ANCHOR_ENV = "POLYVIZ_SERVER_PID"  # set by gunicorn.conf.py in the master; workers inherit it
START_TIMEOUT_S = 60.0
_start_lock = threading.Lock()


def socket_path(jobs_dir: pathlib.Path) -> pathlib.Path:
    return jobs_dir / "host.sock"


def anchor_pid() -> int:
    try:
        return int(os.environ[ANCHOR_ENV])
    except (KeyError, ValueError):
        return os.getpid()


def start(jobs_dir: pathlib.Path, anchor: int | None = None) -> subprocess.Popen:
    """Start a host (a fresh interpreter, not a fork of this process) and wait until it listens."""
    jobs_dir.mkdir(parents=True, exist_ok=True)
    path = socket_path(jobs_dir)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    root = pathlib.Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen([sys.executable, "-m", "services.job_host", str(jobs_dir),
                                str(anchor or anchor_pid())], cwd=root, env=env, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the job host exited at start (code {process.returncode})")
        if _answers(path):
            threading.Thread(target=process.wait, daemon=True).start()  # reap it, whoever outlives whom
            return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the job host did not start listening in time")


def stop(process: subprocess.Popen | None, timeout: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def _answers(path: pathlib.Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(str(path))
            s.sendall(b'{"ping": true}\n')
            return s.makefile().readline().strip() == '{"pong": true}'
    except OSError:
        return False


def request_job(jobs_dir: pathlib.Path, request: dict) -> dict:
    """Ask this server's host to start a job; start a host first when none answers."""
    path = socket_path(jobs_dir)
    for attempt in range(2):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10.0)
                s.connect(str(path))
                s.sendall(json.dumps(request).encode() + b"\n")
                answer = json.loads(s.makefile().readline())
                if "pid" not in answer:
                    raise RuntimeError(answer.get("error", "the job host refused the job"))
                return answer
        except (OSError, ValueError):
            if attempt:
                raise
            with _start_lock, _host_start_lock(jobs_dir):
                if not _answers(path):  # another worker may have started one meanwhile
                    start(jobs_dir)
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _host_start_lock(jobs_dir: pathlib.Path):
    import fcntl

    jobs_dir.mkdir(parents=True, exist_ok=True)
    with open(jobs_dir / "host.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------------
# the host process
# ------------------------------------------------------------------------------------------
def job_nice() -> int:
    """POLYVIZ_JOB_NICE (default 10, 0..19): how much nicer than the web workers a job runs."""
    raw = os.environ.get("POLYVIZ_JOB_NICE", "10")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"POLYVIZ_JOB_NICE must be a whole number from 0 to 19, not {raw!r}") from None
    if not 0 <= value <= 19:
        raise ValueError(f"POLYVIZ_JOB_NICE must be from 0 to 19, not {value}")
    return value


def lower_priority() -> None:
    """Run this process (a job) at a lower CPU priority than the web workers. With the cap's
    worth of jobs busy on every core, an interactive callback otherwise gets only its fair
    share of a core and its latency doubles; niced jobs still use every idle cycle."""
    os.nice(job_nice())  # relative to the host, which runs at the web workers' priority (capped at 19)


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGTERM to this child when the host dies (even by SIGKILL)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class JobTerminated(SystemExit):
    """Raised in a job by SIGTERM: finally blocks run (the slot is released), then it exits."""


def _on_sigterm(_signum, _frame):
    raise JobTerminated(143)


def _run_child(request: dict) -> None:
    """In the forked child: run the background callback as Dash's own job function would."""
    from dash.background_callback.managers import BaseBackgroundCallbackManager
    from dash.background_callback.managers.diskcache_manager import _make_job_fn

    from services import jobs

    functions = {key: (fn, progress) for key, fn, progress in BaseBackgroundCallbackManager.functions}
    fn, progress = functions[request["bkey"]]
    job_fn = _make_job_fn(fn, jobs.job_store(), progress)
    job_fn(request["result_key"], request["progress_key"], request["args"], request["context"])


def _child_main(request: dict, listener: socket.socket) -> int:
    code = 0
    try:
        listener.close()
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, _on_sigterm)
        _die_with_parent()
        lower_priority()
        _run_child(request)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child must end here, whatever happened
        import traceback

        traceback.print_exc()
        code = 1
    # from here on a SIGTERM just ends the process (the result is written)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _fork_job(request: dict, children: dict, listener: socket.socket) -> dict:
    import psutil

    pid = os.fork()
    if pid == 0:  # the child: ends here, never returns into the host's loop
        code = 1
        try:
            code = _child_main(request, listener)
        finally:
            os._exit(code)
    created = psutil.Process(pid).create_time()
    children[pid] = created
    _attach_to_ledger(request, pid, created)
    return {"pid": pid, "created": created}


def _attach_to_ledger(request: dict, pid: int, created: float) -> None:
    """Tell the admission ledger which process runs the job (the job payload, the callback's
    first argument, carries its id), so a child that dies before it asks for a slot frees it."""
    from services import admission, jobs

    try:
        args = request.get("args") or [None]
        parsed = jobs.parse_job(args[0])
        if parsed is not None:
            admission.attach(parsed[0], pid, created)
    except Exception as error:  # noqa: BLE001 - the job runs anyway; its lease frees the slot then
        print(f"job host: could not attach job process {pid} to the ledger: {error!r}", file=sys.stderr)


def _reap(children: dict) -> None:
    while children:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        children.pop(pid, None)


def _stop_children(children: dict, grace_s: float = 3.0) -> None:
    for pid in list(children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while children and time.monotonic() < deadline:
        _reap(children)
        time.sleep(0.05)
    for pid in list(children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while children and time.monotonic() < deadline:
        _reap(children)
        time.sleep(0.05)


def live_process(pid, created):
    """The running process ``pid`` if it is the one started at ``created`` (psutil's create
    time), else None: gone, a zombie, or the pid reused by another process. The one check of
    "is that process still there" (the job manager's jobs, the admission ledger's entries, the
    host's anchor)."""
    import psutil

    try:
        process = psutil.Process(int(pid))
        if abs(process.create_time() - float(created)) < 0.5 and process.status() != psutil.STATUS_ZOMBIE:
            return process
    except (psutil.Error, TypeError, ValueError):
        pass
    return None


def process_alive(pid, created) -> bool:
    return live_process(pid, created) is not None


def serve(jobs_dir: pathlib.Path, anchor: int) -> None:
    import psutil

    try:
        anchor_created = psutil.Process(anchor).create_time()
    except psutil.Error:
        return
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))

    job_nice()  # a bad setting stops the host here, in words, not every job later
    import app  # noqa: F401 - registers every background callback, once, before any fork

    path = socket_path(jobs_dir)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # the socket: this user only
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_umask)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    children: dict[int, float] = {}
    try:
        while not stopping and process_alive(anchor, anchor_created):
            _reap(children)
            if not selector.select(timeout=0.5):
                continue
            connection, _ = listener.accept()
            with connection:
                connection.settimeout(5.0)
                try:
                    request = json.loads(connection.makefile().readline())
                    if request.get("ping"):
                        answer = {"pong": True}
                    else:
                        answer = _fork_job(request, children, listener)
                except Exception as error:  # noqa: BLE001 - answer in words, keep serving
                    answer = {"error": f"{type(error).__name__}: {error}"}
                with contextlib.suppress(OSError):
                    connection.sendall(json.dumps(answer).encode() + b"\n")
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        _stop_children(children)


if __name__ == "__main__":
    serve(pathlib.Path(sys.argv[1]), int(sys.argv[2]))

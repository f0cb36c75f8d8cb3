"""Admission control for training jobs: a global cap, a per-client cap and a queue, shared by
every web worker and job process (a JSON ledger under a lock: a file in embedded mode, a
Redis key in scale-out mode).

* :func:`submit` (the page's Train / Sweep press, in a web worker): refuses in words when
  the client already has its share of jobs or the queue is full; otherwise the job enters
  the ledger as "waiting".
* :func:`acquire` (the job process, before any work): the job takes a slot when fewer than
  ``max_jobs()`` run and no earlier job waits for the free ones; otherwise it learns its
  position and asks again (:func:`wait_for_slot`).
* :func:`renew` (every heartbeat) extends a job's lease; :func:`release` frees its slot.
  A job whose lease ran out, or whose process on this host is gone, is dropped at the next
  ledger change: a killed job never keeps its slot.

Settings (environment): POLYVIZ_MAX_JOBS (default: the number of cores),
POLYVIZ_MAX_JOBS_PER_CLIENT (default 2), POLYVIZ_MAX_JOBS_PER_ADDRESS (default 8),
POLYVIZ_MAX_WAITING (default 4 x the global cap), POLYVIZ_TRUSTED_PROXIES (see
:func:`client_address`), POLYVIZ_HEARTBEAT_STALE_S (default 20: a running job's lease).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass

from services import cache, job_host

log = logging.getLogger("polyviz.admission")

COOKIE = "polyviz_client"
WAIT_LEASE_S = 90.0  # a waiting job nobody renews is dropped after this (its start never came)
START_GRACE_S = 10.0  # a pressed job whose process has not asked for a slot by then queues behind those that have
# a running job's lease, and the silence after which the page's watchdog calls it lost
# (services/jobs.py: STALE_AFTER_S); the scale-out test shortens it
RUN_LEASE_S = float(os.environ.get("POLYVIZ_HEARTBEAT_STALE_S", "20"))
LOCK_WAIT_S = 5.0  # longer than this for the ledger's lock: the ledger is unavailable
HOST = socket.gethostname()


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, "")))
    except ValueError:
        return default


def max_jobs() -> int:
    return _env_int("POLYVIZ_MAX_JOBS", os.cpu_count() or 1)


def max_per_client() -> int:
    return _env_int("POLYVIZ_MAX_JOBS_PER_CLIENT", 2)


def max_per_address() -> int:
    return _env_int("POLYVIZ_MAX_JOBS_PER_ADDRESS", 8)


def max_waiting() -> int:
    return _env_int("POLYVIZ_MAX_WAITING", 4 * max_jobs())


# ------------------------------------------------------------------------------------------
# who is asking
# ------------------------------------------------------------------------------------------
def trusted_proxies() -> list:
    """POLYVIZ_TRUSTED_PROXIES: comma-separated addresses or networks (e.g. 127.0.0.1,10.0.0.0/8)
    of reverse proxies whose X-Forwarded-For is believed. Empty (default): the header is ignored,
    since any client can send it."""
    nets = []
    for part in os.environ.get("POLYVIZ_TRUSTED_PROXIES", "").split(","):
        part = part.strip()
        if part:
            try:
                nets.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                log.warning("POLYVIZ_TRUSTED_PROXIES: %r is not an address or network; ignored", part)
    return nets


def _is_trusted(address: str, nets: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def client_address(remote_addr: str | None, forwarded_for: str | None) -> str:
    """The client's address: the peer's, or (only when the peer is a trusted proxy) the
    right-most X-Forwarded-For entry that is not itself a trusted proxy."""
    address = remote_addr or "unknown"
    nets = trusted_proxies()
    if forwarded_for and nets and _is_trusted(address, nets):
        for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
            address = hop
            if not _is_trusted(hop, nets):
                break
    return address


def client_ids(request) -> list[str]:
    """The identities a job counts against: the session cookie (when the browser has one) and
    the address. A client that drops or rotates cookies is still held by its address's cap."""
    ids = [f"addr:{client_address(request.remote_addr, request.headers.get('X-Forwarded-For'))}"]
    token = request.cookies.get(COOKIE, "")
    if 16 <= len(token) <= 64 and token.isalnum():
        ids.insert(0, f"cookie:{token}")
    return ids


def install(server) -> None:
    """Give every browser a random session cookie (the per-client cap's identity)."""
    from flask import request

    @server.after_request
    def session_cookie(response):
        if COOKIE not in request.cookies:
            response.set_cookie(COOKIE, secrets.token_hex(16), max_age=30 * 86400, httponly=True, samesite="Lax")
        return response


# ------------------------------------------------------------------------------------------
# the ledger: pure logic on a dict, stored by one of two backends
# ------------------------------------------------------------------------------------------
def prune(entries: dict, now: float) -> list[str]:
    """Drop entries whose lease ran out or whose process (on this host) is gone; their ids."""
    gone = []
    for job_id, entry in list(entries.items()):
        expired = now > entry.get("lease", 0)
        dead = entry.get("host") == HOST and entry.get("pid") and not job_host.process_alive(entry["pid"], entry.get("created"))
        if expired or dead:
            gone.append(job_id)
            del entries[job_id]
    return gone


def waiting_order(entries: dict) -> list[str]:
    return sorted((j for j, e in entries.items() if e["state"] == "waiting"), key=lambda j: entries[j]["t"])


def running_count(entries: dict) -> int:
    return sum(1 for e in entries.values() if e["state"] == "running")


class LedgerUnavailable(cache.CacheUnavailable):
    """The ledger's store cannot be reached or stays locked (a job cannot be admitted)."""


class FileLedger:
    """Embedded mode: a JSON file next to the job store, changed only under an flock."""

    def __init__(self, directory):
        self.directory = directory
        self.path = directory / "admission.json"
        self.lock_path = directory / "admission.lock"

    @contextlib.contextmanager
    def locked(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+") as lock:
            deadline = time.monotonic() + LOCK_WAIT_S
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LedgerUnavailable("the job ledger stayed locked") from None
                    time.sleep(0.01)
            try:
                try:
                    entries = json.loads(self.path.read_text()).get("entries", {})
                except (OSError, ValueError, AttributeError):
                    entries = {}
                before = json.dumps(entries, sort_keys=True)
                yield entries
                if json.dumps(entries, sort_keys=True) != before:
                    tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
                    tmp.write_text(json.dumps({"entries": entries}))
                    os.replace(tmp, self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class RedisLedger:
    """Scale-out mode: one Redis key (with a TTL), changed only under a Redis lock."""

    KEY = "polyviz:admission"

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=3)

    @contextlib.contextmanager
    def locked(self):
        import redis

        try:
            lock = self.client.lock(self.KEY + ":lock", timeout=10, blocking_timeout=LOCK_WAIT_S)
            if not lock.acquire():
                raise LedgerUnavailable("the job ledger stayed locked")
        except redis.RedisError as error:
            raise LedgerUnavailable(str(error)) from error
        try:
            raw = self.client.get(self.KEY)
            try:
                entries = json.loads(raw).get("entries", {}) if raw else {}
            except (ValueError, AttributeError):
                entries = {}
            before = json.dumps(entries, sort_keys=True)
            yield entries
            if json.dumps(entries, sort_keys=True) != before:
                self.client.set(self.KEY, json.dumps({"entries": entries}), ex=3600)
        except redis.RedisError as error:
            raise LedgerUnavailable(str(error)) from error
        finally:
            with contextlib.suppress(redis.RedisError):
                lock.release()


_ledgers: dict = {}


def ledger():
    url = cache.redis_url()
    where = url or str(cache.jobs_dir())
    if where not in _ledgers:
        _ledgers[where] = RedisLedger(url) if url else FileLedger(cache.jobs_dir())
    return _ledgers[where]


# ------------------------------------------------------------------------------------------
# the operations
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Admission:
    """The answer to a press: refused (words) or accepted (position 0: a slot is free now)."""

    accepted: bool
    words: str = ""
    position: int = 0


def submit(job_id: str, clients: list[str], now: float | None = None) -> Admission:
    now = time.time() if now is None else now
    with ledger().locked() as entries:
        prune(entries, now)
        for client in clients:
            mine = sum(1 for e in entries.values() if client in e.get("clients", []))
            cap = max_per_client() if client.startswith("cookie:") else max_per_address()
            if mine >= cap:
                who = "You already have" if client.startswith("cookie:") else "Your network address already has"
                return Admission(False, f"Not started: {who} {mine} training jobs waiting or running (at most "
                                        f"{cap} at a time). Wait for one to finish, or cancel it, then press again.")
        waiting = waiting_order(entries)
        if len(waiting) >= max_waiting():
            return Admission(False, f"Not started: the server is busy ({running_count(entries)} jobs running, "
                                    f"{len(waiting)} waiting, at most {max_waiting()} may wait). Try again in a minute.")
        entries[job_id] = {"clients": clients, "t": now, "state": "waiting", "lease": now + WAIT_LEASE_S}
        free = max_jobs() - running_count(entries)
        return Admission(True, position=max(0, len(waiting) + 1 - free))


def acquire(job_id: str, pid: int, created: float, now: float | None = None) -> int:
    """0 when the job now holds a slot; otherwise its position in the queue (1 = next)."""
    now = time.time() if now is None else now
    with ledger().locked() as entries:
        prune(entries, now)
        entry = entries.get(job_id)
        if entry is None:  # submitted long ago (lease ran out) or by an older page: queue it now
            entry = entries[job_id] = {"clients": [], "t": now, "state": "waiting"}
        if entry["state"] == "running":
            return 0
        entry.update(host=HOST, pid=pid, created=created, lease=now + WAIT_LEASE_S)
        order = waiting_order(entries)
        # earlier presses whose process never came (a closed tab) do not hold this one back
        ahead = [j for j in order[:order.index(job_id)] if entries[j].get("pid") or now - entries[j]["t"] < START_GRACE_S]
        free = max(0, max_jobs() - running_count(entries))
        if len(ahead) < free:
            entry.update(state="running", lease=now + RUN_LEASE_S)
            return 0
        return len(ahead) + 1 - free


def renew(job_id: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    try:
        with ledger().locked() as entries:
            entry = entries.get(job_id)
            if entry is not None:
                entry["lease"] = now + (RUN_LEASE_S if entry["state"] == "running" else WAIT_LEASE_S)
    except LedgerUnavailable as error:  # the job goes on; its lease may lapse, which frees its slot early
        log.warning("could not renew job %s: %s", job_id, error)


def attach(job_id: str, pid: int, created: float) -> None:
    """The job's process exists from now (the job host calls this right after the fork): if
    it dies before it ever asks for a slot (a SIGTERM or a crash at start), prune frees its
    entry at once instead of after WAIT_LEASE_S."""
    try:
        with ledger().locked() as entries:
            entry = entries.get(job_id)
            if entry is not None and not entry.get("pid"):
                entry.update(host=HOST, pid=pid, created=created)
    except LedgerUnavailable as error:  # the lease runs out instead
        log.warning("could not attach job %s to its process: %s", job_id, error)


def release(job_id: str) -> None:
    try:
        with ledger().locked() as entries:
            entries.pop(job_id, None)
    except LedgerUnavailable as error:  # the lease runs out instead
        log.warning("could not release job %s: %s", job_id, error)


def snapshot(now: float | None = None) -> dict:
    """{"running": n, "waiting": n} after pruning (benchmarks and tests read it)."""
    now = time.time() if now is None else now
    with ledger().locked() as entries:
        prune(entries, now)
        return {"running": running_count(entries), "waiting": len(waiting_order(entries))}


def wait_words(position: int) -> str:
    ahead = "1 job is" if position == 1 else f"{position} jobs are"
    return (f"Waiting for a free slot: {ahead} ahead of this one (at most {max_jobs()} run at once). "
            "It starts by itself when a slot frees.")


def wait_for_slot(job_id: str, on_wait, poll_s: float = 0.5) -> None:
    """Block until the job holds a slot; ``on_wait(position)`` is called while it waits."""
    import psutil

    me = psutil.Process()
    pid, created = me.pid, me.create_time()
    while True:
        position = acquire(job_id, pid, created)
        if position == 0:
            return
        on_wait(position)
        time.sleep(poll_s)

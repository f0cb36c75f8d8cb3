"""The shared cache, chosen by environment variables, and how its outages are told apart.

Embedded default (nothing to start): :class:`services.file_store.FileStore` under
POLYVIZ_DATA_DIR/cache, capped at POLYVIZ_CACHE_MAX_MB (least recently used runs go first).
Scale-out: set POLYVIZ_REDIS_URL and the cache lives in Redis (shared by every web and
Celery worker); every key gets a TTL so Redis' volatile-lru policy can evict it (and only
it: the job queue has none). Both store values as plain data (:mod:`services.plain_data`),
never pickles. A cache that is down never raises from :func:`cache_get` / :func:`cache_set`
unless the caller says the value is ``required`` (then :class:`CacheUnavailable`).

The data directory (POLYVIZ_DATA_DIR, default ``$XDG_CACHE_HOME/polyviz`` or
``~/.cache/polyviz``) is private: created 0700, and refused at start
(:class:`UnsafeDataDir`) when another user owns it or others may write to it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import stat

from flask_caching import Cache
from flask_caching.backends.base import BaseCache
from flask_caching.backends.rediscache import RedisCache

from services import plain_data
from services.file_store import FileStore

log = logging.getLogger("polyviz.services")

# Background-callback results are keyed by this; it must be the same in every worker.
CACHE_VERSION = "polyviz-1"
DEFAULT_TIMEOUT_S = 86400
DEFAULT_MAX_MB = 1024

cache = Cache()


# -- the data directory ------------------------------------------------------------------------
class UnsafeDataDir(RuntimeError):
    """The data directory is not private to this user: another user could plant files in it."""


def default_data_dir() -> pathlib.Path:
    """The per-user cache directory of the XDG base directory spec."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = pathlib.Path(base) if os.path.isabs(base) else pathlib.Path.home() / ".cache"
    return root / "polyviz"


def private_directory(path) -> pathlib.Path:
    """``path`` as a directory only this user can write to: created 0700 when missing;
    UnsafeDataDir (in words, with the fix) when it is someone else's or others may write."""
    path = pathlib.Path(path)
    if not path.exists():
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
    info = path.stat()
    setting = "POLYVIZ_DATA_DIR"
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDataDir(f"The data directory {path} is not a directory. Set {setting} to a directory of your own.")
    if info.st_uid != os.geteuid():
        raise UnsafeDataDir(
            f"The data directory {path} belongs to user id {info.st_uid}, not to this user (id {os.geteuid()}): "
            f"another user could plant cache files in it. Remove it, or set {setting} to a directory of your own.")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeDataDir(
            f"The data directory {path} can be written by other users (mode {stat.S_IMODE(info.st_mode):o}): they "
            f"could plant cache files in it. Run `chmod 700 {path}`, or set {setting} to a directory of your own.")
    return path


def data_dir() -> pathlib.Path:
    """The app's private data directory (see the module docstring)."""
    return private_directory(os.environ.get("POLYVIZ_DATA_DIR") or default_data_dir())


def jobs_dir() -> pathlib.Path:
    """Where the embedded mode keeps its jobs: the job store, the admission ledger, the job host's socket."""
    return data_dir() / "jobs"


def redis_url() -> str | None:
    """POLYVIZ_REDIS_URL: set, the cache, the job ledger and Celery's broker live in that Redis."""
    return os.environ.get("POLYVIZ_REDIS_URL") or None


def _positive_number(name: str, default: float) -> float:
    text = os.environ.get(name, str(default))
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name} = {text!r} is not allowed: it must be a number above 0 (default {default})")
    return value


def cache_timeout() -> int:
    """Seconds a cached value lives (POLYVIZ_CACHE_TIMEOUT, default a day). Above 0: a Redis
    key without a TTL could never be evicted."""
    return int(_positive_number("POLYVIZ_CACHE_TIMEOUT", DEFAULT_TIMEOUT_S))


def cache_max_bytes() -> int:
    """The embedded cache's size cap (POLYVIZ_CACHE_MAX_MB, default 1024 MB)."""
    return int(_positive_number("POLYVIZ_CACHE_MAX_MB", DEFAULT_MAX_MB) * 1024 * 1024)


def cache_config() -> dict:
    timeout = cache_timeout()
    if redis_url():
        return {"CACHE_TYPE": "services.cache.PlainRedisCache", "CACHE_REDIS_URL": redis_url(),
                "CACHE_DEFAULT_TIMEOUT": timeout, "CACHE_KEY_PREFIX": "polyviz:",
                # a Redis that is down must cost a request a second, not hang it
                "CACHE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 3}}
    return {"CACHE_TYPE": "services.cache.PlainFileCache", "CACHE_DIR": str(private_directory(data_dir() / "cache")),
            "CACHE_DEFAULT_TIMEOUT": timeout, "POLYVIZ_CACHE_MAX_BYTES": cache_max_bytes()}


# -- the two backends (flask-caching's, minus pickle) ------------------------------------------
class PlainSerializer:
    """cachelib's serializer interface over :mod:`services.plain_data`."""

    def dumps(self, value) -> bytes:
        return plain_data.dumps(value)

    def loads(self, data):
        if data is None:
            return None
        try:
            return plain_data.loads(data)
        except ValueError:
            log.warning("a cache value is not plain data: ignored")
            return None


class PlainRedisCache(RedisCache):
    """flask-caching's Redis cache with plain-data values, and a TTL on every key (a timeout
    of 0 or None means the default, never "forever")."""

    serializer = PlainSerializer()

    def _normalize_timeout(self, timeout):
        timeout = super()._normalize_timeout(timeout)
        return timeout if timeout > 0 else (self.default_timeout if self.default_timeout > 0 else DEFAULT_TIMEOUT_S)


class PlainFileCache(BaseCache):
    """flask-caching's interface over :class:`services.file_store.FileStore`."""

    def __init__(self, directory, max_bytes: int, default_timeout: int = DEFAULT_TIMEOUT_S):
        super().__init__(default_timeout=default_timeout)
        self.store = FileStore(directory, max_bytes, default_timeout)

    @classmethod
    def factory(cls, app, config, args, kwargs):
        return cls(config["CACHE_DIR"], config["POLYVIZ_CACHE_MAX_BYTES"], config["CACHE_DEFAULT_TIMEOUT"])

    def get(self, key):
        return self.store.get(key)

    def set(self, key, value, timeout=None):
        return self.store.set(key, value, timeout)

    def add(self, key, value, timeout=None):
        return self.store.add(key, value, timeout)

    def delete(self, key):
        return self.store.delete(key)

    def has(self, key):
        return self.store.has(key)

    def clear(self):
        return self.store.clear()


class CacheUnavailable(RuntimeError):
    """The shared cache (Redis when configured) cannot be reached."""


def cache_key(namespace: str, *parts) -> str:
    """A stable key from plain values: the same inputs give the same key in every worker."""
    text = json.dumps(parts, sort_keys=True, default=repr, separators=(",", ":"))
    return f"{CACHE_VERSION}:{namespace}:{hashlib.sha1(text.encode()).hexdigest()}"


def cache_get(key: str, required: bool = False):
    """Cached value or None. If the cache is down: None, or CacheUnavailable if required."""
    try:
        return cache.get(key)
    except Exception as error:  # Redis down: degrade to recomputing
        log.warning("cache unavailable on get: %s", error)
        if required:
            raise CacheUnavailable(str(error)) from error
        return None


def cache_set(key: str, value, timeout: int | None = None, required: bool = False) -> bool:
    try:
        return bool(cache.set(key, value, timeout=timeout))
    except plain_data.NotPlainData:  # a bug in the caller, not an outage
        raise
    except Exception as error:
        log.warning("cache unavailable on set: %s", error)
        if required:
            raise CacheUnavailable(str(error)) from error
        return False


def is_service_outage(error: BaseException) -> bool:
    """True when an error means Redis / the job queue cannot be reached (not a bug)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (CacheUnavailable, ConnectionError, TimeoutError)):
            return True
        module = type(error).__module__ or ""
        if module.startswith(("redis", "kombu", "celery.exceptions")) and "Error" in type(error).__name__:
            return True
        error = error.__cause__ or error.__context__
    return False

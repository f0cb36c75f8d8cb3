"""The shared cache, chosen by environment variables, and how its outages are told apart.

Embedded default (nothing to start): a filesystem cache under POLYVIZ_DATA_DIR. Scale-out:
set POLYVIZ_REDIS_URL and the cache lives in Redis (shared by every web and Celery worker).
A cache that is down never raises from :func:`cache_get` / :func:`cache_set` unless the
caller says the value is ``required`` (then :class:`CacheUnavailable`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import tempfile

from flask_caching import Cache

log = logging.getLogger("polyviz.services")

# Background-callback results are keyed by this; it must be the same in every worker.
CACHE_VERSION = "polyviz-1"

cache = Cache()


def data_dir() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("POLYVIZ_DATA_DIR") or pathlib.Path(tempfile.gettempdir()) / "polyviz")
    path.mkdir(parents=True, exist_ok=True)
    return path


def redis_url() -> str | None:
    return os.environ.get("POLYVIZ_REDIS_URL") or None


def cache_config() -> dict:
    timeout = int(os.environ.get("POLYVIZ_CACHE_TIMEOUT", "86400"))
    if redis_url():
        return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url(), "CACHE_DEFAULT_TIMEOUT": timeout,
                "CACHE_KEY_PREFIX": "polyviz:",
                # a Redis that is down must cost a request a second, not hang it
                "CACHE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 3}}
    return {"CACHE_TYPE": "FileSystemCache", "CACHE_DIR": str(data_dir() / "cache"), "CACHE_DEFAULT_TIMEOUT": timeout,
            "CACHE_THRESHOLD": 2000}


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
        cache.set(key, value, timeout=timeout)
        return True
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

"""Shared services chosen by environment variables: the cache and the background-job manager.

Embedded default (nothing to start): a filesystem cache and Dash's DiskcacheManager, both
under POLYVIZ_DATA_DIR. Scale-out: set POLYVIZ_REDIS_URL and the cache lives in Redis
and background jobs run on Celery workers through Dash's CeleryManager.
"""

from __future__ import annotations

import functools
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


def memoized(timeout: int | None = None):
    """Like flask-caching's memoize, keyed by the function and its plain arguments, but a
    cache that is down means "compute it again", never an error."""
    def decorate(fn):
        namespace = f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            key = cache_key(namespace, args, kwargs)
            hit = cache_get(key)
            if hit is not None:
                return hit
            value = fn(*args, **kwargs)
            cache_set(key, value, timeout)
            return value

        wrapper.uncached = fn
        return wrapper

    return decorate


def cache_available() -> bool:
    try:
        cache.get(f"{CACHE_VERSION}:ping")
        return True
    except Exception:
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


def background_manager():
    """Dash's manager for background callbacks (training jobs).

    Without Redis: DiskcacheManager, jobs run in processes on this host and their state
    lives on disk, so any gunicorn worker on the host can poll them. With POLYVIZ_REDIS_URL:
    CeleryManager on the Celery app in callbacks/celery_app.py.
    """
    if redis_url():
        from dash import CeleryManager

        from callbacks.celery_app import celery_app

        return CeleryManager(celery_app, cache_by=[lambda: CACHE_VERSION], expire=3600)
    import diskcache
    from dash import DiskcacheManager

    jobs = diskcache.Cache(str(data_dir() / "jobs"))
    return DiskcacheManager(jobs, cache_by=[lambda: CACHE_VERSION], expire=3600)

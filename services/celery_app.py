"""The Celery app for background jobs when POLYVIZ_REDIS_URL is set.

Start a worker with:  celery -A services.celery_app worker --loglevel=INFO --concurrency=2
The worker imports app.py so that every background callback is registered in it (app.py
also sets one torch thread for the process; each pool process does the same when it starts,
and lowers its CPU priority by POLYVIZ_JOB_NICE).
"""

from __future__ import annotations

import os

import torch
from celery import Celery
from celery.backends.redis import RedisBackend
from celery.signals import worker_process_init

from services import cache

REDIS_URL = cache.redis_url() or "redis://127.0.0.1:6379/0"


class PolledRedisBackend(RedisBackend):
    """Celery's Redis result backend without the pub/sub subscription it makes for every task
    a process sends (for AsyncResult.get, which nothing here calls: Dash polls the backend's
    keys; a get() would still subscribe when it waits).

    That subscription is what hung a web request for good after a Redis restart: the web
    process replaces its PubSub, the old one sits in a reference cycle until the garbage
    collector runs, and when that happens inside redis-py's ConnectionPool lock, the
    PubSub's __del__ waits on the same lock for ever (redis-py issue 3081; one gunicorn
    thread stuck in tests/test_scaleout.py, seen with py-spy)."""

    def on_task_call(self, producer, task_id):
        pass


celery_app = Celery("polyviz", broker=REDIS_URL, include=["app"],
                    backend=f"{__name__}:{PolledRedisBackend.__name__}+{REDIS_URL}")
celery_app.conf.update(
    task_time_limit=int(os.environ.get("POLYVIZ_JOB_TIME_LIMIT", "600")),
    worker_prefetch_multiplier=1,
    task_acks_late=False,
    accept_content=["json"],  # nothing user-supplied is ever unpickled
    task_serializer="json",
    result_serializer="json",
    # When Redis is down, fail within seconds so the page can say so, rather than
    # retrying for minutes inside a web request.
    broker_connection_timeout=2,
    broker_connection_retry_on_startup=True,
    # After a Redis restart the worker reconnects for as long as it takes (the default gives up
    # after 100 tries and exits). It then consumes again only with kombu >= 5.4 (kombu#2007:
    # with 5.3.x it logs "Connected" and never receives a task; tests/test_scaleout.py checks).
    broker_connection_max_retries=None,
    task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.3, "interval_max": 0.5},
    redis_socket_connect_timeout=2,
    redis_socket_timeout=10,
    result_expires=3600,
    worker_hijack_root_logger=False,
)


@worker_process_init.connect
def set_up_pool_process(**_kwargs) -> None:
    """One torch thread per pool process, set once when it starts: the models are tiny, so a
    second thread only adds contention, and the setting is process-wide (never per job). Jobs
    run at a lower CPU priority, as embedded ones do (services/job_host.py), so a web server
    on the same host answers first."""
    from services.job_host import lower_priority

    torch.set_num_threads(1)
    lower_priority()

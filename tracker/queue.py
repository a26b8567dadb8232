"""Background work on a job queue (Huey): an embedded default and a distributed engine behind one setting.

``JOB_QUEUE_URL`` names where queued work waits:

- ``sqlite:///path/queue.sqlite`` (the default, in the instance folder): one machine; the web workers and the
  ``flask worker`` process share the file, and nothing else needs installing or running.
- ``redis://host:6379/0``: several hosts share one Redis.
- ``memory://``: the tests; a task runs at once, inside the call that queues it.

A task is a plain function decorated with ``@background_task`` (or ``@every_minute``). It takes plain values (ids,
never objects), runs in the worker inside an app context with a fresh database session whose transactions are all
write transactions, and must be safe to run twice: a queue may deliver a message again, and a job whose worker
died is queued again. What a task produces lives in the database, where every web process sees it; the queue only
carries the ids. New kinds of background work (sending safety-alert e-mail, a clinic-wide export) are one more
function each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab

from config import ImproperlyConfigured
from tracker.database import writing

log = logging.getLogger(__name__)

Task = Callable[..., None]

_tasks: dict[str, Task] = {}
_every_minute: dict[str, Task] = {}


def background_task(function: Task) -> Task:
    """Register ``function`` as work the worker can be asked to do (``enqueue(function, *args)``)."""
    _tasks[function.__name__] = function
    return function


def every_minute(function: Task) -> Task:
    """Register ``function`` to run once a minute in every worker (housekeeping; it must be idempotent)."""
    _every_minute[function.__name__] = function
    return function


@dataclass
class Queue:
    huey: Huey
    tasks: dict[str, Any] = field(default_factory=dict)


def make_huey(url: str) -> Huey:
    """The Huey instance for ``JOB_QUEUE_URL``. :raise ImproperlyConfigured: an unknown scheme."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite" and url.startswith("sqlite:///"):  # as SQLAlchemy: four slashes for a full path
        return SqliteHuey("tracker", filename=url.removeprefix("sqlite:///"), results=False, fsync=True)
    if parts.scheme in ("redis", "rediss"):
        return RedisHuey("tracker", url=url, results=False)
    if parts.scheme == "memory":
        return MemoryHuey("tracker", results=False, immediate=True)
    raise ImproperlyConfigured(f"JOB_QUEUE_URL must be sqlite:///..., redis://... or memory://, got {url!r}")


def init_app(app: Flask) -> None:
    from tracker import housekeeping  # noqa: F401 - registers its tasks
    from tracker.alerts import notices  # noqa: F401 - registers its tasks
    from tracker.reports import jobs  # noqa: F401 - registers its tasks

    huey = make_huey(app.config["JOB_QUEUE_URL"])
    queue = Queue(huey)
    for name, function in _tasks.items():
        queue.tasks[name] = huey.task(name=name)(_in_app(app, function))
    for name, function in _every_minute.items():
        huey.periodic_task(crontab(minute="*"), name=name)(_in_app(app, function))
    app.extensions["queue"] = queue


def _in_app(app: Flask, function: Task) -> Task:
    def run(*args: Any) -> None:
        from tracker.extensions import db

        with app.app_context():
            try:
                with writing(db.session):  # a worker writes; even a task run at once inside a read request
                    function(*args)
            finally:
                db.session.remove()

    run.__name__ = function.__name__
    return run


def enqueue(function: Task, *args: Any) -> None:
    """Queue ``function(*args)`` for the worker. :raise Exception: the queue cannot be reached (say, Redis is
    down); the caller decides what the user is told."""
    queue: Queue = current_app.extensions["queue"]
    queue.tasks[function.__name__](*args)


def run_worker(app: Flask, threads: int) -> None:
    """Run the consumer until it is stopped (SIGTERM stops at once, SIGINT after the running tasks): the
    ``flask worker`` command. Housekeeping runs once at start, then every minute."""
    queue: Queue = app.extensions["queue"]
    if queue.huey.immediate:
        raise ImproperlyConfigured("JOB_QUEUE_URL=memory:// runs tasks at once; a worker has nothing to consume")
    for name, function in _every_minute.items():
        log.info("housekeeping at start: %s", name)
        _in_app(app, function)()
    # Poll an idle SQLite queue every second at most (Huey backs off to 10 s by default); Redis blocks on a pop.
    consumer = queue.huey.create_consumer(workers=threads, worker_type="thread", periodic=True, max_delay=1.0)
    consumer.run()

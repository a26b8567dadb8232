"""Engine settings that make SQLite safe for concurrent clinical writes (RELIABILITY.md section 5.3).

pysqlite's legacy transaction mode on Python 3.11 does not emit BEGIN before a SELECT, so two read-modify-write
transactions silently lose one update; a deferred BEGIN fails with "database is locked" instead of waiting. Every
transaction therefore starts with ``BEGIN IMMEDIATE``, in WAL mode with a busy timeout. PostgreSQL needs none of
this and is left alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, scoped_session

SQLITE_PRAGMAS = (
    "journal_mode=WAL",  # readers do not block the writer
    "foreign_keys=ON",  # off by default in SQLite
    "busy_timeout=5000",  # wait up to 5 s for the write lock rather than fail
    "synchronous=FULL",  # a committed note survives a power cut
    "secure_delete=ON",  # overwrite deleted health information
)


def configure_engine(engine: Engine) -> None:
    """Install the SQLite connection and transaction hooks on ``engine``; a no-op for other databases."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy (below) emit BEGIN itself
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute("PRAGMA " + pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


#: What services accept as a database session: a plain Session (tests, scripts) or Flask-SQLAlchemy's scoped one.
AnySession = Session | scoped_session[Any]


class CommitRefused(RuntimeError):
    """Something tried to commit inside ``refusing_commits``."""


@contextlib.contextmanager
def refusing_commits(session: AnySession) -> Iterator[None]:
    """Run the block with every commit of ``session`` refused (``CommitRefused``) and no autoflush: for answering a
    request that must write nothing, whatever the code it reuses would otherwise commit."""
    target: Session = session() if isinstance(session, scoped_session) else session

    def refuse(_session: Session) -> None:
        raise CommitRefused("this request writes nothing")

    event.listen(target, "before_commit", refuse)
    try:
        with target.no_autoflush:
            yield
    finally:
        event.remove(target, "before_commit", refuse)

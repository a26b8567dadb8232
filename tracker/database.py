"""Transactions: writers serialise, readers read a snapshot.

pysqlite's legacy transaction mode on Python 3.11 does not emit BEGIN before a SELECT, so two read-modify-write
transactions silently lose one update (SQLAlchemy's SQLite dialect documentation, "Serializable isolation /
Savepoints / Transactional DDL"), and a deferred BEGIN that later writes fails with "database is locked" instead
of waiting (SQLITE_BUSY_SNAPSHOT: https://www.sqlite.org/rescode.html#busy_snapshot). So a transaction that may
write starts with ``BEGIN IMMEDIATE`` (in WAL mode, with a busy timeout): writers queue for the lock and never
lose an update.

A request that only reads (GET, HEAD, or a POST view marked ``@reads_only``) must not hold that lock while it loads
and lays out a page, or one slow page (a batch of 200 reports) makes every other writer time out. Its transaction
starts with a plain ``BEGIN``: a WAL snapshot, no lock (https://www.sqlite.org/wal.html, "Concurrency"). It writes
nothing but append-only rows (its audit rows, a job record), which wait in the session until ``commit()``; the
commit ends the snapshot and writes them in a short ``BEGIN IMMEDIATE`` transaction of their own, before the page
is sent. A read request that tries to change a row fails loudly (``WriteInReadRequest``): a change belongs in a
write request, where its audit row shares its transaction. PostgreSQL takes the same path without the BEGIN
statements, which it does not need.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, TypeVar

import flask_sqlalchemy.session
from flask import current_app, has_request_context, request
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

from tracker import sqldates

#: How long a write transaction waits for SQLite's write lock before failing with "database is locked".
BUSY_TIMEOUT_MS = 5000

SQLITE_PRAGMAS = (
    "journal_mode=WAL",  # readers do not block the writer
    "foreign_keys=ON",  # off by default in SQLite
    f"busy_timeout={BUSY_TIMEOUT_MS}",  # wait up to 5 s for the write lock rather than fail
    "synchronous=FULL",  # a committed note survives a power cut
    "secure_delete=ON",  # overwrite deleted health information
)

#: Methods that read; every other method is a write request unless its view is marked ``@reads_only``.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

F = TypeVar("F", bound=Callable[..., Any])
#: A check run in the write transaction that inserts a held row (``add_on_commit``); it raises to refuse.
Guard = Callable[[Session], None]

_writing: ContextVar[bool] = ContextVar("tracker_writing", default=False)
_lock_wait_ms: ContextVar[int | None] = ContextVar("tracker_lock_wait_ms", default=None)
_HELD = "tracker_rows_held_for_commit"
_GUARDS = "tracker_checks_before_held_rows"
_READ_ONLY = "tracker_read_only_transaction"


class WriteInReadRequest(RuntimeError):
    """A read request tried to change a row. Make it a write request (a POST), or wrap the write in ``writing``."""


def reads_only(view: F) -> F:
    """Mark a POST view that only reads and audits (a batch of reports): it runs as a read request."""
    view._reads_only = True  # type: ignore[attr-defined]
    return view


def in_read_request() -> bool:
    """True inside a request that only reads, outside any ``writing`` block."""
    if _writing.get() or not has_request_context():
        return False
    if request.method in READ_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "_reads_only", False))


@contextlib.contextmanager
def writing(db: AnySession, lock_wait: timedelta | None = None) -> Iterator[None]:
    """Inside a read request, make the transaction begun in this block a write transaction (``BEGIN IMMEDIATE``):
    for the few reads that must write, such as a login session's idle clock. A read snapshot already open is
    committed first, so the write starts from fresh data.

    ``lock_wait``: for a write that may be skipped (kept figures a later view can count again), wait at most this
    long for the lock (SQLite's write lock; a row lock on PostgreSQL, ``lock_timeout``) instead of the usual five
    seconds, then fail with ``OperationalError`` for the caller to catch."""
    target = plain(db)
    if target.info.get(_READ_ONLY) and target.in_transaction():
        target.commit()
    token = _writing.set(True)
    wait = _lock_wait_ms.set(None if lock_wait is None else max(1, int(lock_wait.total_seconds() * 1000)))
    try:
        yield
    finally:
        _lock_wait_ms.reset(wait)
        _writing.reset(token)


class ReadThenWrite:
    """Session behaviour (a mixin): in a read transaction, rows given to ``add_on_commit`` wait for ``commit``,
    which ends the snapshot and writes them in a short write transaction of their own."""

    info: dict[Any, Any]

    def add_on_commit(self, instance: object, guard: Guard | None = None) -> None:
        """Insert ``instance`` with this transaction, or, in a read transaction, in the commit's write step. Between
        transactions (a read request that has already committed once, as the clinic overview does after keeping
        its figures) the next transaction's kind decides: in a read request it would be a read snapshot, whose
        first write fails at once with "database is locked" if anyone committed meanwhile (SQLITE_BUSY_SNAPSHOT),
        so the row waits for the commit's write step there too.

        ``guard``: a check that must hold when the row is written (a limit counted in the database, such as a
        user's batches in progress), run just before it in the same write transaction, so two requests cannot
        both pass it on what their snapshots saw; it raises to refuse, and then nothing held is written."""
        db: Session = self  # type: ignore[assignment]
        reading = db.info.get(_READ_ONLY) if db.in_transaction() else in_read_request()
        if reading:
            db.info.setdefault(_HELD, []).append(instance)
            if guard is not None:
                db.info.setdefault(_GUARDS, []).append(guard)
        else:
            if guard is not None:
                guard(db)
            db.add(instance)

    def commit(self) -> None:
        held, guards = self.info.pop(_HELD, []), self.info.pop(_GUARDS, [])
        super().commit()  # type: ignore[misc]
        if held:
            with _write_step():
                try:
                    for guard in guards:
                        guard(self)
                    self.add_all(held)  # type: ignore[attr-defined]
                    super().commit()  # type: ignore[misc]
                except BaseException:
                    super().rollback()  # type: ignore[misc]
                    raise

    def rollback(self) -> None:
        self.info.pop(_HELD, None)
        self.info.pop(_GUARDS, None)
        super().rollback()  # type: ignore[misc]

    def close(self) -> None:
        self.info.pop(_HELD, None)
        self.info.pop(_GUARDS, None)
        super().close()  # type: ignore[misc]


@contextlib.contextmanager
def _write_step() -> Iterator[None]:
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def add_on_commit(db: AnySession, instance: object, guard: Guard | None = None) -> None:
    """``ReadThenWrite.add_on_commit`` for any session (a plain one checks the guard and adds the row)."""
    target = plain(db)
    if isinstance(target, ReadThenWrite):
        target.add_on_commit(instance, guard)
    else:
        if guard is not None:
            guard(target)
        target.add(instance)


class AppSession(ReadThenWrite, flask_sqlalchemy.session.Session):
    """``db.session``'s class."""


class PlainSession(ReadThenWrite, Session):
    """The same behaviour for sessions bound to one connection (the test suite's per-test transaction)."""


@event.listens_for(Session, "after_begin")
def _note_read_only(db: Session, _transaction: SessionTransaction, _connection: Any) -> None:
    db.info[_READ_ONLY] = in_read_request()


@event.listens_for(Session, "after_transaction_end")
def _forget_read_only(db: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        db.info.pop(_READ_ONLY, None)


@event.listens_for(Session, "before_flush")
def _refuse_writes_in_read_requests(db: Session, _context: Any, _instances: Any) -> None:
    if db.info.get(_READ_ONLY) and (db.new or db.dirty or db.deleted):
        changed = sorted({type(obj).__name__ for obj in [*db.new, *db.dirty, *db.deleted]})
        raise WriteInReadRequest(
            f"a read request tried to write {', '.join(changed)}; make it a write request or use database.writing"
        )


def configure_engine(engine: Engine) -> None:
    """Install the SQLite connection and transaction hooks on ``engine``; on PostgreSQL only ``writing``'s
    ``lock_wait``."""
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "begin")
        def _on_begin_postgresql(connection: Any) -> None:
            wait = _lock_wait_ms.get()
            if wait is not None:
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(wait)}")

        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy (below) emit BEGIN itself
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute("PRAGMA " + pragma)
        cursor.close()
        sqldates.register_functions(dbapi_connection)  # the clinic's day of a timestamp (no zones in SQLite)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if in_read_request():
            connection.exec_driver_sql("BEGIN")
            return
        wait = _lock_wait_ms.get()
        if wait is None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        # The busy timeout matters only while BEGIN IMMEDIATE waits for the lock: shortened for it, then restored.
        driver = connection.connection.driver_connection
        driver.execute(f"PRAGMA busy_timeout = {int(wait)}")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            driver.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def plain(db: AnySession) -> Session:
    """The session itself behind Flask-SQLAlchemy's scoped proxy (``db`` when it is already one)."""
    return db() if isinstance(db, scoped_session) else db


#: What services accept as a database session: a plain Session (tests, scripts) or Flask-SQLAlchemy's scoped one.
AnySession = Session | scoped_session[Any]


class CommitRefused(RuntimeError):
    """Something tried to commit inside ``refusing_commits``."""


@contextlib.contextmanager
def refusing_commits(db: AnySession) -> Iterator[None]:
    """Run the block with every commit of ``session`` refused (``CommitRefused``) and no autoflush: for answering a
    request that must write nothing, whatever the code it reuses would otherwise commit."""
    target = plain(db)

    def refuse(_session: Session) -> None:
        raise CommitRefused("this request writes nothing")

    event.listen(target, "before_commit", refuse)
    try:
        with target.no_autoflush:
            yield
    finally:
        event.remove(target, "before_commit", refuse)

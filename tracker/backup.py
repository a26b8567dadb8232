"""Backups and restores of a SQLite database while it is in use, through SQLite's online backup API.

Copying the ``.sqlite`` file alone is not a backup: in WAL mode recent commits live in the ``-wal`` file, and a copy
taken mid-write can be torn. The backup API copies a consistent snapshot while the clinic keeps working
(https://www.sqlite.org/backup.html); each copy is then checked with ``PRAGMA integrity_check``. PostgreSQL is
backed up with its own tools (``pg_dump -Fc``, restored with ``pg_restore``; README, "Backups").

A backup is written readable by its owner only (0600): it holds every patient's record. A restore checks first that
the file is a tracker database at the migration the code expects, keeps a copy of the database it replaces, and is
refused while a web process or the worker runs: each holds a shared advisory lock (``flock``) on a file beside the
database for its whole life, and the restore needs it exclusively (``PROCESS_LOCK``; off in the test suite, whose
processes share one database file).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

#: The shared lock this process holds while it runs (kept open for the process's life).
_held: IO[bytes] | None = None


class BackupError(RuntimeError):
    """The backup or restore could not be made; nothing was changed."""


def sqlite_path(database_url: str) -> Path:
    """The file behind a SQLite URL. :raise BackupError: not a SQLite file (PostgreSQL, or in memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            f"The database is {url.get_backend_name()}: back it up with pg_dump -Fc and restore it with pg_restore "
            "(README, Backups)."
        )
    if not url.database or url.database == ":memory:":
        raise BackupError("An in-memory database cannot be backed up.")
    return Path(url.database)


def default_target(folder: Path, now: datetime) -> Path:
    return folder / f"tracker-{now:%Y%m%d-%H%M%S}.sqlite"


def check(path: Path) -> None:
    """:raise BackupError: ``path`` is not a SQLite database that passes ``PRAGMA integrity_check``."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = connection.execute("PRAGMA integrity_check").fetchall()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a usable SQLite database: {error}") from None
    if result != [("ok",)]:
        raise BackupError(f"{path} failed its integrity check: {result[:5]}")


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` into ``target`` as one consistent snapshot (the backup API takes the read lock it needs).
    ``target`` is created readable and writable by its owner only, before a byte is written."""
    os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    src = sqlite3.connect(source, timeout=5)  # read-write, so it reads the -wal file's recent commits too
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        # The copy inherits WAL mode; fold everything into the one file, so the backup is a single file.
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()


def back_up(database_url: str, target: Path) -> Path:
    """Write a checked copy of the live database to ``target`` (which must not exist yet) and return it."""
    source = sqlite_path(database_url)
    if not source.exists():
        raise BackupError(f"{source} does not exist.")
    if target.exists():
        raise BackupError(f"{target} already exists; choose another name.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        _copy(source, partial)
        check(partial)
        os.chmod(partial, 0o600)
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def lock_file(database_url: str) -> Path | None:
    """The file processes lock beside a SQLite database; None for another database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).with_name(Path(url.database).name + ".lock")


def _open_lock(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "ab")  # held open for the life of the lock


def hold_shared(database_url: str) -> None:
    """Hold the shared lock for as long as this process runs (every web process and the worker): a restore waits
    for none of them, it refuses. Blocks while a restore runs."""
    global _held
    path = lock_file(database_url)
    if path is None or _held is not None:
        return
    handle = _open_lock(path)
    fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
    _held = handle


def release_shared() -> None:
    """Let go of this process's shared lock (the restore command's own, before it asks for the exclusive one)."""
    global _held
    if _held is not None:
        _held.close()
        _held = None


@contextlib.contextmanager
def exclusive(database_url: str, lock: bool = True) -> Iterator[None]:
    """The database to oneself (``lock`` False: the test suite's processes, not asked). :raise BackupError: a web
    process or the worker holds the shared lock."""
    path = lock_file(database_url)
    if path is None or not lock:
        yield
        return
    release_shared()
    with _open_lock(path) as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                "The web processes or the worker are running (they hold the lock on "
                f"{path}): stop them first, then restore."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def check_migration(path: Path, heads: set[str]) -> None:
    """:raise BackupError: ``path`` is not a tracker database at the migration ``heads`` (what this code expects)."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = {row[0] for row in connection.execute("SELECT version_num FROM alembic_version")}
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        raise BackupError(f"{path} is not a tracker database (it has no migration record).") from None
    if found != heads:
        raise BackupError(
            f"{path} is at migration {', '.join(sorted(found)) or 'none'}, this release expects "
            f"{', '.join(sorted(heads))}: restore it with the release that wrote it, or ask for help migrating it."
        )


def restore(
    backup: Path, database_url: str, heads: set[str], keep_folder: Path, now: datetime, lock: bool = True
) -> Path | None:
    """Replace the database's contents with ``backup`` (checked first: a sound SQLite file, a tracker database at
    the migration ``heads``), through the backup API so the ``-wal`` file is dealt with; the database replaced is
    copied into ``keep_folder`` first (returned; None if there was none).

    :raise BackupError: the file is not fit, or a web process or the worker is running (nothing changed).
    """
    check(backup)
    check_migration(backup, heads)
    target = sqlite_path(database_url)
    with exclusive(database_url, lock):
        kept = None
        if target.exists():
            kept = back_up(database_url, keep_folder / f"before-restore-{now:%Y%m%d-%H%M%S}.sqlite")
        _replace(backup, target)
    return kept


def _replace(backup: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(backup)
    dst = sqlite3.connect(target, timeout=5, isolation_level=None)
    try:
        try:  # the backup API would wait for a busy database forever: say so instead
            dst.execute("BEGIN IMMEDIATE")
            dst.execute("ROLLBACK")
        except sqlite3.OperationalError:
            raise BackupError(f"{target} is in use: stop the web processes and the worker first.") from None
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    check(target)

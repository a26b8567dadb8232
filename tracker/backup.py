"""Backups and restores of a SQLite database while it is in use, through SQLite's online backup API.

Copying the ``.sqlite`` file alone is not a backup: in WAL mode recent commits live in the ``-wal`` file, and a copy
taken mid-write can be torn. The backup API copies a consistent snapshot while the clinic keeps working
(https://www.sqlite.org/backup.html); each copy is then checked with ``PRAGMA integrity_check``. PostgreSQL is
backed up with its own tools (``pg_dump -Fc``, restored with ``pg_restore``; README, "Backups").
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url


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
    """Copy ``source`` into ``target`` as one consistent snapshot (the backup API takes the read lock it needs)."""
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
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def restore(backup: Path, database_url: str) -> None:
    """Replace the database's contents with ``backup`` (checked first), through the backup API so the ``-wal``
    file is dealt with. Stop the web processes and the worker first: they would otherwise keep writing."""
    check(backup)
    target = sqlite_path(database_url)
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

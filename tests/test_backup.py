"""``flask backup`` and ``flask restore``: a consistent, checked copy of the SQLite database taken while it is being
written to, and a restore that brings back exactly what was copied. On PostgreSQL the command points to pg_dump."""

from __future__ import annotations

import fcntl
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.engine import make_url

from config import TestConfig
from tests.databases import fresh_database
from tracker import create_app
from tracker.backup import BackupError, check, lock_file
from tracker.database import AppSession
from tracker.extensions import db
from tracker.factories import make_clinic, make_patient, make_user
from tracker.models import LoginThrottle, Patient, Role, User
from tracker.models.base import utcnow


@pytest.fixture
def live(monkeypatch):
    """An app on a fresh, migrated database with one patient; yields (app, url)."""
    with fresh_database() as url:
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
        monkeypatch.setattr(db, "session", db._make_scoped_session({"class_": AppSession, "expire_on_commit": False}))
        with app.app_context():
            upgrade()
            make_patient(make_user(make_clinic(), Role.THERAPIST), protocols=app.extensions["protocols"])
            db.session.commit()
            db.session.remove()
        yield app, url
        with app.app_context():
            db.engine.dispose()


def _invoke(app, *args: str, **kwargs):
    """Run ``flask ARGS`` against ``app`` (inside its own context: the suite's app context is active too)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args), **kwargs)


def _patients(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Patient))
        db.session.remove()
        return int(count or 0)


def test_backup_then_restore_brings_back_exactly_what_was_copied(live, tmp_path):
    app, url = live
    copy = tmp_path / "backups" / "monday.sqlite"
    result = _invoke(app, "backup", "-o", str(copy))
    if make_url(url).get_backend_name() != "sqlite":
        assert result.exit_code != 0 and "pg_dump -Fc" in result.output
        return
    assert result.exit_code == 0, result.output
    assert "integrity check ok" in result.output
    check(copy)
    with app.app_context():
        lead = db.session.scalars(select(User).where(User.is_therapist.is_(True))).first()
        make_patient(lead, protocols=app.extensions["protocols"])  # written after the backup
        db.session.commit()
        db.session.remove()
    assert _patients(app) == 2
    refused = _invoke(app, "restore", str(copy), input="n\n")
    assert refused.exit_code != 0 and _patients(app) == 2  # asked first; nothing changed
    restored = _invoke(app, "restore", str(copy), "--yes", "--keep-in", str(tmp_path / "kept"))
    assert restored.exit_code == 0, restored.output
    assert _patients(app) == 1
    kept = list((tmp_path / "kept").glob("before-restore-*.sqlite"))
    assert len(kept) == 1 and "is kept in" in restored.output
    assert _count_in(kept[0], "patient") == 2  # what it replaced, written after the backup
    assert stat.S_IMODE(copy.stat().st_mode) == stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    check(Path(make_url(url).database or ""))
    assert _invoke(app, "backup", "-o", str(copy)).exit_code != 0  # never overwrites a backup


def test_a_backup_taken_while_the_clinic_writes_is_consistent(live, tmp_path):
    app, url = live
    if make_url(url).get_backend_name() != "sqlite":  # pg_dump's job there (the test above checks the message)
        assert _invoke(app, "backup").exit_code != 0
        return
    stop = threading.Event()
    engine = create_engine(url, connect_args={"timeout": 5})
    written = []

    def write() -> None:  # counters: a table outside the audit chain, which raw inserts would break
        while not stop.is_set():
            with engine.begin() as connection:
                connection.execute(
                    insert(LoginThrottle).values(key=f"test:{len(written)}", window_started_at=utcnow(), failures=1)
                )
            written.append(1)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        copies = [tmp_path / f"copy-{n}.sqlite" for n in range(3)]
        for copy in copies:
            assert _invoke(app, "backup", "-o", str(copy)).exit_code == 0
    finally:
        stop.set()
        writer.join(30)
        engine.dispose()
    assert written
    for copy in copies:
        check(copy)
        with sqlite3.connect(copy) as connection:
            assert connection.execute("SELECT count(*) FROM patient").fetchone() == (1,)


def test_a_damaged_file_is_never_restored(live, tmp_path):
    app, _url = live
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 100)
    result = _invoke(app, "restore", str(junk), "--yes")
    assert result.exit_code != 0 and "not a usable SQLite database" in result.output
    assert _patients(app) == 1
    with pytest.raises(BackupError):
        check(junk)


def test_a_database_in_use_is_not_restored_over(live, tmp_path):
    app, url = live
    if make_url(url).get_backend_name() != "sqlite":  # pg_restore's job there
        assert _invoke(app, "restore", __file__, "--yes").exit_code != 0
        return
    copy = tmp_path / "copy.sqlite"
    assert _invoke(app, "backup", "-o", str(copy)).exit_code == 0
    holder = sqlite3.connect(make_url(url).database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a web process in the middle of a write
    try:
        result = _invoke(app, "restore", str(copy), "--yes")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code != 0 and "stop the web processes and the worker first" in result.output


def _count_in(path: Path, table: str) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - a test's name
    finally:
        connection.close()


def test_restore_refuses_a_file_that_is_not_a_tracker_database_at_this_migration(live, tmp_path):
    app, url = live
    if make_url(url).get_backend_name() != "sqlite":
        assert _invoke(app, "restore", str(tmp_path), "--yes").exit_code != 0
        return
    stranger = tmp_path / "other.sqlite"
    connection = sqlite3.connect(stranger)
    connection.execute("CREATE TABLE patient (id integer)")
    connection.close()
    refused = _invoke(app, "restore", str(stranger), "--yes", "--keep-in", str(tmp_path / "kept"))
    assert refused.exit_code != 0 and "not a tracker database" in refused.output
    older = tmp_path / "older.sqlite"
    assert _invoke(app, "backup", "-o", str(older)).exit_code == 0
    connection = sqlite3.connect(older)
    connection.execute("UPDATE alembic_version SET version_num = 'b6907acc5f49'")
    connection.commit()
    connection.close()
    refused = _invoke(app, "restore", str(older), "--yes", "--keep-in", str(tmp_path / "kept"))
    assert refused.exit_code != 0 and "is at migration b6907acc5f49" in refused.output
    assert _patients(app) == 1 and not (tmp_path / "kept").exists()  # nothing replaced, nothing copied


def test_restore_is_refused_while_a_web_process_or_the_worker_runs(live, tmp_path):
    app, url = live
    if make_url(url).get_backend_name() != "sqlite":
        return
    copy = tmp_path / "copy.sqlite"
    assert _invoke(app, "backup", "-o", str(copy)).exit_code == 0
    app.config["PROCESS_LOCK"] = True
    lock = lock_file(url)
    with open(lock, "ab") as serving:  # what every web process and the worker hold while they run
        fcntl.flock(serving.fileno(), fcntl.LOCK_SH)
        refused = _invoke(app, "restore", str(copy), "--yes", "--keep-in", str(tmp_path / "kept"))
        assert refused.exit_code != 0 and "stop them first" in refused.output
    assert _invoke(app, "restore", str(copy), "--yes", "--keep-in", str(tmp_path / "kept")).exit_code == 0

"""``/healthz`` for the load balancer, the proxy and systemd: open without signing in, reads no patient data,
writes no audit row. 200 when the database answers and holds this release's schema, and the job queue answers (the
worker's batches and housekeeping wait there); 503 when either does not, naming which.

"Answers" is not enough for SQLite: a mistyped or moved database file is created again, empty, by the next
connection, and ``SELECT 1`` succeeds on it. So the check also reads the migration the database is at (Alembic's
``alembic_version``) against this release's head, and for a SQLite file that the file is still where the settings
say."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tracker.extensions import db
from tracker.permissions import public

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


def migration_heads() -> set[str]:
    """This release's migration heads (what its database must be at), read once per process: the migrations do not
    change while it runs. The health check and ``flask restore`` compare a database with them."""
    heads: set[str] | None = current_app.extensions.get("tracker_migration_heads")
    if heads is None:
        from alembic.script import ScriptDirectory

        heads = set(ScriptDirectory(current_app.extensions["migrate"].directory).get_heads())
        current_app.extensions["tracker_migration_heads"] = heads
    return heads


def _sqlite_file_missing() -> bool:
    url = db.engine.url  # Flask-SQLAlchemy's, with a relative SQLite path made absolute (under instance/)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return False
    return not Path(path).exists()


def _database() -> str:
    """ "ok", "unreachable" (no answer, or the SQLite file is gone) or "not migrated" (another schema, or none)."""
    if _sqlite_file_missing():
        log.warning("health check: the SQLite database file is missing")
        return "unreachable"
    try:
        versions = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("health check: the database did not answer or has no schema", exc_info=True)
        return "unreachable"
    if versions != migration_heads():
        log.warning(
            "health check: the database is at migration %s, this release needs %s",
            sorted(versions),
            sorted(migration_heads()),
        )
        return "not migrated"
    return "ok"


def _queue() -> bool:
    try:
        current_app.extensions["queue"].huey.pending_count()  # a read of the queue's storage (SQLite file, Redis)
    except Exception:  # whatever the engine raises, the queue is not usable
        log.warning("health check: the job queue did not answer", exc_info=True)
        return False
    return True


@bp.route("/healthz")
@public
def healthz() -> ResponseReturnValue:
    database, queue = _database(), _queue()
    healthy = database == "ok" and queue
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database,
        "queue": "ok" if queue else "unreachable",
    }
    return jsonify(body), 200 if healthy else 503

"""``/healthz`` for the load balancer, the proxy and systemd: open without signing in, reads no patient data,
writes no audit row. 200 when the database answers a query and the job queue answers (the worker's batches and
housekeeping wait there); 503 when either does not, naming which."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tracker.extensions import db
from tracker.permissions import public

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


def _database() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("health check: the database did not answer", exc_info=True)
        return False
    return True


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
    body = {"status": "ok" if database and queue else "unavailable",
            "database": "ok" if database else "unreachable", "queue": "ok" if queue else "unreachable"}
    return jsonify(body), 200 if database and queue else 503

"""Error pages. A database error rolls the transaction back and says plainly that nothing was saved."""

from __future__ import annotations

import logging

from flask import Flask, g, render_template
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from tracker.extensions import db

log = logging.getLogger(__name__)

TITLES = {
    400: "The request could not be understood",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That action is not allowed here",
    409: "The record changed while you were working",
    413: "Too large to accept",
    429: "Too many attempts",
}


def _without_the_database() -> None:
    """The error page names no user: loading the signed-in user again (or anything lazy on it) would ask the
    database that just failed and turn a 503 into a 500. The page shows the signed-out menu instead."""
    from tracker.extensions import login_manager

    g._login_user = login_manager.anonymous_user()


def init_app(app: Flask) -> None:
    @app.context_processor
    def inject_request_id() -> dict[str, str | None]:
        from tracker.requestlog import request_id

        return {"request_id": request_id()}

    @app.errorhandler(413)
    def too_large(error: HTTPException) -> ResponseReturnValue:
        limit = app.config["MAX_CONTENT_LENGTH"] // 1024
        description = f"The request was larger than the {limit} kB this server accepts. Nothing was saved."
        return render_template("errors/error.html", code=413, title=TITLES[413], description=description), 413

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        code = error.code or 500
        title = TITLES.get(code, error.name)
        if request_ctx.url_adapter is None:  # a Host outside TRUSTED_HOSTS: no page can be built for it
            return f"{code} {title}\n", code, {"Content-Type": "text/plain; charset=utf-8"}
        return render_template("errors/error.html", code=code, title=title, description=error.description), code

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> ResponseReturnValue:
        """A post without a valid token may be forged: it writes nothing (not even the idle clock), and a note
        form comes back with what was typed in it."""
        from tracker.notes.drafts import rescue

        g.csrf_refused = True
        kept = rescue()
        if kept is not None:
            return kept
        return (
            render_template(
                "errors/error.html",
                code=400,
                title="The form expired",
                description="The form was open too long or in another window. Go back, reload it, and submit again.",
            ),
            400,
        )

    @app.errorhandler(SQLAlchemyError)
    def database_error(error: SQLAlchemyError) -> ResponseReturnValue:
        # session.rollback() also copes with SQLite having rolled back by itself (disk full: finding 8).
        db.session.rollback()
        log.exception("database error")
        if isinstance(error, IntegrityError):
            # The forms check what they can; this is a rule the database enforced: 409, the request conflicts with
            # the current state of the target resource (RFC 9110 section 15.5.10).
            description = (
                "The change conflicts with what is already saved (for example a duplicate, or a record changed "
                "by someone else). Nothing was saved; go back, reload the page and try again."
            )
            return render_template("errors/error.html", code=409, title="Not saved", description=description), 409
        _without_the_database()  # the database is down or locked: nothing more is asked of it
        busy = isinstance(error, OperationalError) and "locked" in str(error.orig)
        description = (
            "The record is busy. Nothing was saved; go back and try again in a moment."
            if busy
            else "The database could not complete the request. Nothing was saved."
        )
        response = render_template("errors/error.html", code=503, title="Not saved", description=description)
        return response, 503, {"Retry-After": "2"}

    @app.errorhandler(500)
    def internal_error(error: Exception) -> ResponseReturnValue:
        db.session.rollback()
        _without_the_database()
        return (
            render_template(
                "errors/error.html",
                code=500,
                title="Something went wrong",
                description="The error has been logged. Nothing from this request was saved.",
            ),
            500,
        )

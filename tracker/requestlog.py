"""One structured log line per request, and a request id that ties it to the response, the error page and every
other log line written while the request ran.

The id comes from the proxy's ``X-Request-ID`` when it looks like one (letters, digits, dashes, up to 64), so a line
in nginx's log and ours match; otherwise a new one is made. Lines are JSON on stderr, which gunicorn, systemd's
journal and any log shipper read as they are. Only the path is logged, never the query string or the body: they can
hold patient data. A path segment that is itself a secret (the token of a questionnaire link, ``/q/<token>``, or of
a set-password link) is replaced by ``[token]`` in every line: this one, any other record of the app's, and the
records of the servers that run it (Werkzeug's development server, gunicorn's error log), which name the URL of a
request that failed. A log is read by more people, and kept longer, than the link was meant for.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"[A-Za-z0-9-]{8,64}")

log = logging.getLogger("tracker.request")

#: Paths whose next segment is a secret token (every route with a ``<token>`` argument; a test holds them to it).
TOKEN_PREFIXES = ("/q/", "/set-password/", "/calendar/feed/")
_TOKEN_IN_TEXT = re.compile("(" + "|".join(re.escape(p) for p in TOKEN_PREFIXES) + r")[^/?#\s\"']+")
REDACTED = "[token]"
#: Loggers of the servers around the app, which log request lines or the URL of a failed request.
SERVER_LOGGERS = ("werkzeug", "gunicorn.error", "gunicorn.access")


def redact(text: str) -> str:
    """``text`` with the token of every questionnaire, set-password or calendar-feed link replaced by ``[token]``."""
    return _TOKEN_IN_TEXT.sub(lambda match: match.group(1) + REDACTED, text)


class TokenRedactingFilter(logging.Filter):
    """Redact link tokens from a record's message and arguments before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()  # formatted first: a token may arrive as an argument
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        for key in ("path", "url"):
            value = getattr(record, key, None)
            if isinstance(value, str):
                setattr(record, key, redact(value))
        return True


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


class RequestIdFilter(logging.Filter):
    """Stamp every record written during a request with its id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object per line: time, level, logger, message, request id, and any ``extra``."""

    _STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({key: value for key, value in vars(record).items() if key not in self._STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


JsonFormatter.converter = time.gmtime


def configure_logging(level: int = logging.INFO) -> None:
    """Send the app's log records to stderr as JSON lines (not in tests, which read records through pytest)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(TokenRedactingFilter())
    for name in ("tracker", "huey"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    redact_server_logs()


def redact_server_logs() -> None:
    """Redact link tokens from the records the servers around the app log themselves (a logger's own filter)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
            logger.addFilter(TokenRedactingFilter())


def init_app(app: Flask) -> None:
    if not app.testing:
        configure_logging()
    redact_server_logs()

    @app.before_request
    def start() -> None:
        # Only a trusted proxy's id is kept: without one (TRUSTED_PROXY_HOPS 0) a client could choose or repeat ids.
        incoming = request.headers.get(REQUEST_ID_HEADER, "") if app.config.get("TRUSTED_PROXY_HOPS") else ""
        g.request_id = incoming if _VALID_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        started = g.get("request_started")
        user = g.get("_login_user")  # only if the request loaded it: logging must not sign anyone in
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": redact(request.path),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
                "user_id": user.id if user is not None and user.is_authenticated else None,
                "client": request.remote_addr,
                "pid": os.getpid(),  # which worker process answered
                "bytes": response.calculate_content_length(),
            },
        )
        return response

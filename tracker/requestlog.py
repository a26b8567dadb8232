"""One structured log line per request, and a request id that ties it to the response, the error page and every
other log line written while the request ran.

The id comes from the proxy's ``X-Request-ID`` when it looks like one (letters, digits, dashes, up to 64), so a line
in nginx's log and ours match; otherwise a new one is made. Lines are JSON on stderr, which gunicorn, systemd's
journal and any log shipper read as they are. Only the path is logged, never the query string or the body: they can
hold patient data.
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
    for name in ("tracker", "huey"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


def init_app(app: Flask) -> None:
    if not app.testing:
        configure_logging()

    @app.before_request
    def start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
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
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
                "user_id": user.id if user is not None and user.is_authenticated else None,
                "client": request.remote_addr,
                "pid": os.getpid(),  # which worker process answered
                "bytes": response.calculate_content_length(),
            },
        )
        return response

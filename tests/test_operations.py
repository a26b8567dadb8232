"""What a clinic's IT department runs it by: the health check, request ids and structured request logs, the
request size limit."""

from __future__ import annotations

import json
import logging

from sqlalchemy import func, select

from config import TestConfig
from tests.conftest import login
from tracker import create_app
from tracker.database import AppSession
from tracker.extensions import db
from tracker.models import AuditEvent, LoginSession
from tracker.requestlog import JsonFormatter, RequestIdFilter

# /healthz ---------------------------------------------------------------------------------------------------------


def test_the_health_check_answers_without_signing_in_and_leaves_no_trace(client):
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "queue": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_the_health_check_does_not_touch_a_login_session(client, people):
    login(client, people.lead)
    seen = db.session.scalar(select(LoginSession.last_seen_at))
    assert client.get("/healthz").status_code == 200
    assert db.session.scalar(select(LoginSession.last_seen_at).execution_options(populate_existing=True)) == seen


def test_the_health_check_says_503_when_the_database_does_not_answer(monkeypatch, tmp_path):
    broken = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'missing' / 'no.sqlite'}")
    monkeypatch.setattr(db, "session", db._make_scoped_session({"class_": AppSession}))
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable", "queue": "ok"}


def test_the_health_check_says_503_for_an_empty_database_file_where_sqlite_made_a_new_one(monkeypatch, tmp_path):
    """A mistyped or moved SQLite path: the first connection creates an empty file, which answers SELECT 1."""
    (tmp_path / "typo").mkdir()
    empty = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'typo' / 'new.sqlite'}")
    monkeypatch.setattr(db, "session", db._make_scoped_session({"class_": AppSession}))
    response = empty.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "not migrated" or response.get_json()["database"] == "unreachable"


def test_the_health_check_says_503_when_the_sqlite_file_was_moved_away(app, client, monkeypatch, tmp_path):
    from tracker import health

    monkeypatch.setattr(health, "_sqlite_file_missing", lambda: True)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"] == "unreachable"


def test_the_health_check_says_not_migrated_when_the_schema_is_another_releases(app, client, monkeypatch):
    monkeypatch.setitem(app.extensions, "tracker_migration_heads", {"0000not0a0head"})
    response = client.get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"] == "not migrated"


def test_the_health_check_says_503_and_which_part_failed_when_the_queue_does_not_answer(app, client, monkeypatch):
    def down() -> int:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(app.extensions["queue"].huey, "pending_count", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "ok", "queue": "unreachable"}


def test_a_signed_in_user_gets_503_not_500_when_the_database_is_down(app, client, people, monkeypatch):
    """The error page must not load the signed-in user again from the database that just failed."""
    from sqlalchemy.exc import OperationalError

    from tracker.auth import sessions

    login(client, people.lead)

    def down(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr(sessions, "resume", down)
    response = client.get("/patients/")
    assert response.status_code == 503 and "Nothing was saved" in response.text
    assert response.headers["Retry-After"] == "2"


# Request ids and the request log -----------------------------------------------------------------------------------


def test_every_response_carries_a_request_id_and_one_log_line(client, people, caplog):
    login(client, people.lead)
    with caplog.at_level(logging.INFO, logger="tracker.request"):
        response = client.get("/patients/?page=1")
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32
    [line] = [r for r in caplog.records if r.name == "tracker.request"]
    assert (line.method, line.path, line.status, line.user_id) == ("GET", "/patients/", 200, people.lead.id)
    assert line.duration_ms >= 0 and line.client == "127.0.0.1"
    assert "page=1" not in json.dumps(vars(line), default=str)  # never the query string


def test_link_tokens_never_reach_the_log(client, people, caplog, capsys):
    """A questionnaire or set-password link's token is a key to the link: the request line and any other record
    naming the URL carry ``[token]`` instead, in the app's JSON lines and in the servers' own logs."""
    from tests.test_questionnaire_links import make_link
    from tracker.requestlog import configure_logging

    token = make_link(people)
    saved = {
        name: (logger.handlers[:], logger.level, logger.propagate)
        for name in ("tracker", "huey")
        for logger in [logging.getLogger(name)]
    }
    try:
        configure_logging()  # as a deployment logs: JSON lines on stderr
        with caplog.at_level(logging.INFO):
            assert client.get(f"/q/{token}").status_code == 200
            assert client.get("/q/guessed-token-123").status_code == 404
            client.get("/set-password/some-reset-token")
            logging.getLogger("tracker.anything").warning("failed on /q/%s/more", token)
            logging.getLogger("werkzeug").info('127.0.0.1 - - "GET /q/%s HTTP/1.1" 200 -', token)
            logging.getLogger("gunicorn.error").error("Error handling request /set-password/abcDEF_123-x?next=1")
    finally:
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert [line["path"] for line in lines if line["logger"] == "tracker.request"] == [
        "/q/[token]",
        "/q/[token]",
        "/set-password/[token]",
    ]
    assert "failed on /q/[token]/more" in [line["message"] for line in lines]
    servers = [r.getMessage() for r in caplog.records if r.name in ("werkzeug", "gunicorn.error")]
    assert servers == [
        '127.0.0.1 - - "GET /q/[token] HTTP/1.1" 200 -',
        "Error handling request /set-password/[token]?next=1",
    ]
    everything = json.dumps(lines) + "\n".join(servers)
    for secret in (token, "guessed-token-123", "some-reset-token", "abcDEF_123-x"):
        assert secret not in everything


def test_every_route_with_a_token_in_its_path_is_redacted(app):
    from tracker.requestlog import TOKEN_PREFIXES

    prefixes = {rule.rule.split("<token>")[0] for rule in app.url_map.iter_rules() if "token" in rule.arguments}
    assert prefixes == set(TOKEN_PREFIXES)


def test_a_trusted_proxys_request_id_is_kept_and_a_malformed_one_replaced(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "TRUSTED_PROXY_HOPS", 1)
    assert client.get("/healthz", headers={"X-Request-ID": "nginx-1234abcd"}).headers["X-Request-ID"] == (
        "nginx-1234abcd"
    )
    forged = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert forged != "bad id <script>" and len(forged) == 32


def test_without_a_trusted_proxy_a_client_cannot_choose_its_request_id(client):
    chosen = client.get("/healthz", headers={"X-Request-ID": "0123456789abcdef0123456789abcdef"})
    assert chosen.headers["X-Request-ID"] != "0123456789abcdef0123456789abcdef"


def test_log_lines_are_json_with_the_request_id(app):
    record = logging.LogRecord("tracker.x", logging.WARNING, __file__, 1, "disk %s", ("full",), None)
    record.client = "10.0.0.1"
    with app.test_request_context("/healthz"):
        from flask import g

        g.request_id = "abc12345"
        RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "disk full" and line["level"] == "WARNING" and line["request_id"] == "abc12345"
    assert line["client"] == "10.0.0.1" and line["time"].endswith("Z")


def test_an_error_page_names_the_request_id(client, people):
    login(client, people.lead)
    response = client.get("/patients/999999")
    assert response.status_code == 404
    assert f"Reference {response.headers['X-Request-ID']}" in response.text


# Request size -----------------------------------------------------------------------------------------------------


def test_an_oversized_request_is_refused_with_413_and_saves_nothing(client, people):
    login(client, people.lead)
    before = people.patient.phone
    response = client.post(f"/patients/{people.patient.id}/edit", data={"phone": "1" * (1024 * 1024 + 1)})
    assert response.status_code == 413
    assert "larger than the 1024 kB this server accepts" in response.text
    db.session.refresh(people.patient)
    assert people.patient.phone == before


def test_trusted_hosts_refuse_a_forged_host_header(app, monkeypatch):
    monkeypatch.setenv("TRUSTED_HOSTS", "tracker.clinic.example, localhost")
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    client = app.test_client()
    assert client.get("/healthz", headers={"Host": "tracker.clinic.example"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400

"""The application factory: it wires configuration, extensions, blueprints, hooks and commands, and nothing else
(no migrations, no data writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, request
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, ImproperlyConfigured, config_from_env

ROOT = Path(__file__).resolve().parent.parent

#: Endpoints anonymous users may reach; every other request is sent to the login page. Besides the sign-in steps and
#: the health check, the one public page is a questionnaire link opened on the patient's own device
#: (tracker/questionnaires/public.py).
PUBLIC_ENDPOINTS = frozenset(
    {
        "auth.login",
        "auth.two_factor",
        "auth.enrol",
        "auth.continue_sign_in",
        "auth.new_password",
        "auth.set_password",
        "questionnaires.fill",
        "calendar.feed_ics",
        "health.healthz",
        "static",
        "bootstrap.static",
    }
)


def create_app(config_class: type[Config] | None = None, **overrides: Any) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_mapping((config_class or config_from_env()).load())
    app.config.update(overrides)
    if app.config["ENV_NAME"] == "production" and app.debug:
        raise ImproperlyConfigured("Production refuses debug mode: unset FLASK_DEBUG and drop --debug")
    Path(app.instance_path).mkdir(exist_ok=True)
    if app.config["TRUSTED_PROXY_HOPS"]:
        hops = app.config["TRUSTED_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    from tracker import requestlog

    requestlog.init_app(app)  # first, so every later hook and log line has the request id

    from tracker import urls

    urls.init_app(app)  # before any blueprint adds its rules
    _init_extensions(app)
    _register_blueprints(app)
    _register_hooks(app)

    from tracker import auditchain, cli, clinics, errors, pages, protocols, queue, security

    app.extensions["protocols"] = protocols.load_protocols(
        [app.config["EXTRA_PROTOCOL_DIR"]] if app.config["EXTRA_PROTOCOL_DIR"] else []
    )
    auditchain.install()
    queue.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    clinics.init_app(app)
    pages.init_app(app)
    cli.init_app(app)
    if app.config["PROCESS_LOCK"]:  # a restore is refused while this process runs (tracker/backup.py)
        from tracker.backup import hold_shared

        hold_shared(app.config["SQLALCHEMY_DATABASE_URI"])
    return app


def _init_extensions(app: Flask) -> None:
    from tracker.database import configure_engine
    from tracker.extensions import bootstrap, csrf, db, login_manager, migrate

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    # Server-side sessions do this job; Flask-Login's "strong" mode would only mark permanent sessions non-fresh
    # (https://flask-login.readthedocs.io/en/latest/#session-protection).
    login_manager.session_protection = None
    bootstrap.init_app(app)


def _register_blueprints(app: Flask) -> None:
    """Every page, in this order. A feature package's ``register`` imports its view modules and adds its blueprint;
    labs and reports define theirs in their views module (their packages stay light for the renderer worker and
    the markers file); sessions still imports its views at the bottom of its ``__init__``."""
    from tracker import (
        account,
        admin,
        auditlog,
        auth,
        calendar,
        dashboard,
        emergency,
        fhir,
        health,
        main,
        outcomes,
        patients,
        plans,
        questionnaires,
        research,
        screening,
        sessions,
    )
    from tracker.labs.views import bp as labs_bp
    from tracker.reports.views import bp as reports_bp

    auth.register(app)
    account.register(app)
    app.register_blueprint(main.bp)
    app.register_blueprint(health.bp)
    patients.register(app)
    screening.register(app)
    outcomes.register(app)
    plans.register(app)
    sessions.register(app)
    admin.register(app)
    auditlog.register(app)
    emergency.register(app)
    app.register_blueprint(reports_bp)
    dashboard.register(app)
    fhir.register(app)
    research.register(app)
    questionnaires.register(app)
    app.register_blueprint(labs_bp)
    calendar.register(app)


def _register_hooks(app: Flask) -> None:
    from tracker.auth.views import login_redirect
    from tracker.extensions import login_manager
    from tracker.notes.drafts import return_to

    def to_login() -> ResponseReturnValue:
        return login_redirect(return_to)

    login_manager.unauthorized_handler(to_login)

    @app.before_request
    def deny_anonymous() -> ResponseReturnValue | None:
        """Deny by default: only the allow-listed endpoints are open without signing in."""
        if request_ctx.url_adapter is None:  # a Host outside TRUSTED_HOSTS: Flask answers 400, nothing else runs
            return None
        if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
            return None
        return to_login()

    @app.context_processor
    def inject_navigation() -> dict[str, Any]:
        from tracker.auth.forms import EmptyForm
        from tracker.models import Role

        # Only for a signed-in user: the form's CSRF token is kept in the session, and making one for an anonymous
        # page (a patient's questionnaire link) would set a session cookie that page has no use for.
        signed_in = current_user.is_authenticated
        return {"Role": Role, "logout_form": EmptyForm(formdata=None) if signed_in else None}  # never reads the body

"""Configuration classes, read strictly from the environment.

Each setting is read once through a small parser that raises on junk, so a typo in a deployment's environment
stops start-up with a message instead of silently falling back to a default. Production has no literal fallbacks
for secrets: it refuses to start without ``SECRET_KEY`` and ``DATABASE_URL``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


class ImproperlyConfigured(RuntimeError):
    """Raised at start-up when the environment does not describe a usable configuration."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int_list(name: str, default: tuple[int, ...], minimum: int = 0) -> tuple[int, ...]:
    """Comma-separated whole numbers ("90,180"); an empty value means none."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    values = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be whole numbers separated by commas, got {raw!r}") from None
        if value < minimum:
            raise ImproperlyConfigured(f"{name} values must be at least {minimum}, got {value}")
        values.append(value)
    return tuple(values)


def env_secret(name: str) -> str | None:
    """Read a secret from ``NAME`` or from the file named by ``NAME_FILE`` (as container secrets are mounted)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points at {path!r}, which cannot be read: {exc}") from None
    return os.environ.get(name) or None


def sqlite_url(filename: str) -> str:
    return f"sqlite:///{INSTANCE_DIR / filename}"


class Config:
    """Settings shared by every environment. Subclasses change only what differs."""

    ENV_NAME: ClassVar[str] = "base"

    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str = ""
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict[str, Any]] = {"pool_pre_ping": True}

    # Sessions: server-side records (see tracker.auth.sessions); the cookie only carries a random token.
    IDLE_TIMEOUT = timedelta(minutes=15)
    ABSOLUTE_SESSION_LIFETIME = timedelta(hours=12)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_DURATION = timedelta(seconds=0)  # no "remember me" for health data

    # CSRF tokens live as long as the login session; the idle timeout governs expiry, so a long note
    # is not lost to a token that expired while the clinician was typing (Flask-WTF's default is 3,600 s:
    # https://flask-wtf.readthedocs.io/en/stable/config/, WTF_CSRF_TIME_LIMIT).
    WTF_CSRF_TIME_LIMIT: int | None = None

    # Passwords (ASVS 6.2.1 / 6.2.9): length only, no composition rules; capped before hashing.
    PASSWORD_MIN_LENGTH = 12
    PASSWORD_MAX_LENGTH = 128
    #: zxcvbn's score (0-4) a new password needs besides the leaked-list check (tracker/passwords.py).
    PASSWORD_MIN_STRENGTH = 3
    # Argon2id parameters; argon2-cffi's defaults (RFC 9106 low-memory) are above OWASP's minimum.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4

    # An admin's set-password link works once, for this long.
    PASSWORD_RESET_HOURS = 24
    # The steps after the password at sign-in (second factor, enrolment, new password) must be done within this.
    SIGN_IN_STEP_MINUTES = 10
    # Re-entering the password (signing, emergency access, account changes) and two-factor codes: this many failures
    # within the window refuse further attempts for the rest of it, counted in the database (tracker/auth/reauth.py).
    REAUTH_MAX_FAILURES = 5
    REAUTH_WINDOW_MINUTES = 15
    # Failed sign-ins, counted in the database so every worker and host shares the count (tracker/auth/throttle.py).
    #: An account name waits, at one client address, after this many failures there within the window (ASVS 5.0
    #: 6.3.1), and everywhere after LOGIN_FAILURES_PER_ACCOUNT from all addresses together: a guesser elsewhere
    #: cannot lock the account out of the clinic.
    LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = 5
    LOGIN_FAILURES_PER_ACCOUNT = 50
    LOGIN_FAILURE_WINDOW = timedelta(minutes=15)
    #: Failures from one client address never lock out colleagues' accounts (a clinic's NAT); this many flag it.
    LOGIN_FAILURES_FLAG_ADDRESS = 20
    #: Set-password links that do not work, tried from one address within LOGIN_FAILURE_WINDOW, before it waits.
    LINK_REFUSALS_PER_ADDRESS = 20

    #: The worker notes each audit chain's head this often (tracker/auditchain.py), so ``flask audit verify`` sees
    #: the newest rows removed even when nobody ran it in between.
    AUDIT_HEAD_NOTE_MINUTES = 60

    #: Proxies in front of the app that set X-Forwarded-For and X-Forwarded-Proto (nginx: 1). The client address in
    #: the audit trail and the sign-in counters is taken that many hops back; 0 trusts no such header.
    TRUSTED_PROXY_HOPS = 0

    #: Host names the app answers to (Flask refuses any other Host header with 400); empty answers to any.
    TRUSTED_HOSTS: list[str] | None = None
    #: Where users reach the app (scheme and host, e.g. https://tracker.clinic.example): set-password links, patients'
    #: questionnaire links and alert e-mails are built on it, never on the request's Host header (which a client
    #: chooses; the worker has no request at all). Required in production.
    BASE_URL = "http://127.0.0.1:5000"

    #: The largest request body accepted (413 above it): a long note is a few tens of kB; nginx has the same cap.
    MAX_CONTENT_LENGTH = 1024 * 1024

    BOOTSTRAP_SERVE_LOCAL = True  # clinics run on closed networks: never a CDN

    # Emergency access lasts this long; the user must ask again after it, so a grant made for one emergency does not
    # outlive it (HIPAA 45 CFR 164.312(a)(2)(ii), emergency access procedure).
    EMERGENCY_ACCESS_HOURS = 4

    PATIENTS_PER_PAGE = 25
    AUDIT_EVENTS_PER_PAGE = 50

    # Where the protocol templates are read from, in addition to the ones the package ships.
    EXTRA_PROTOCOL_DIR: str | None = None

    # When outcome measures are due (tracker/schedule.py). The protocols give the timepoints but no windows around
    # them, so every window is a clinic setting, in days: these are a new clinic's values (each clinic changes its own
    # on the clinic settings page; tracker/clinics.py), and what the migration gave the clinics that existed.
    #: A baseline result counts if dated at most this long before the first dosing session.
    MEASURE_BASELINE_MAX_AGE_DAYS = 30
    #: "After each dosing" is due from the day after a dosing session for this long (or until the next one).
    MEASURE_AFTER_DOSING_WINDOW_DAYS = 14
    #: Until the patient is moved to completed, treatment is expected to end this long after the last planned
    #: dosing session (MAPP2's integration after the third session took about a month [V]: Mitchell JM et al. 2023,
    #: Nat Med 29:2473, doi:10.1038/s41591-023-02565-4; MAPS MAPP2 study page, https://maps.org/mdma/ptsd/mapp2).
    MEASURE_END_OF_TREATMENT_AFTER_LAST_DOSING_DAYS = 28
    #: The end-of-treatment measure counts this many days either side of the end of treatment.
    MEASURE_END_OF_TREATMENT_WINDOW_DAYS = 14
    #: Follow-ups, in days after the end of treatment, and the window either side of each.
    MEASURE_FOLLOW_UP_DAYS: tuple[int, ...] = (90, 180)
    MEASURE_FOLLOW_UP_WINDOW_DAYS = 14
    MEASURE_RESULTS_PER_PAGE = 25
    SAFETY_ALERTS_PER_PAGE = 25

    # What the supervisor dashboard and the therapist's day list (tracker/attention.py). These windows are clinic
    # policy, not clinical facts: a new clinic's values, which each clinic changes on its settings page.
    #: A held session's note still unsigned this many hours later is listed (the "My notes" page uses 24 too).
    ATTENTION_NOTE_UNSIGNED_HOURS = 24
    #: Serious adverse events whose onset was within this many days are listed for supervisors.
    ATTENTION_SERIOUS_AE_DAYS = 30
    #: A patient in preparation, dosing or integration with no session held for this many days is listed.
    ATTENTION_NO_SESSION_DAYS = 30
    #: An emergency access grant still without a supervisor's review this many hours later is listed.
    ATTENTION_EMERGENCY_REVIEW_HOURS = 24
    DASHBOARD_ITEMS_PER_PAGE = 25
    #: The clinic overview's figures are computed again once they are this many minutes old (0: on every view);
    #: tracker/dashboard/overview.py keeps them in between.
    OVERVIEW_MAX_AGE_MINUTES = 5

    #: A questionnaire link sent to a patient (tracker/questionnaires) expires this many hours after it was sent.
    QUESTIONNAIRE_LINK_HOURS = 72
    #: Requests to one questionnaire link (open or closed) within the window: its holder reloading, sending, fixing a
    #: missing answer never comes near; a leaked link replayed at speed does. Counted per link, never per address, so
    #: other people's requests never refuse it (tracker/questionnaires/public.py).
    QUESTIONNAIRE_REQUESTS_PER_LINK = 60
    QUESTIONNAIRE_REQUEST_WINDOW = timedelta(minutes=10)
    #: Links that open no questionnaire (unknown tokens: guesses, or a link copied wrongly) per client address within
    #: the window, before that address gets 429 for unknown tokens and is flagged in the audit trail.
    QUESTIONNAIRE_REFUSALS_PER_ADDRESS = 10
    QUESTIONNAIRE_REFUSAL_WINDOW = timedelta(minutes=15)

    #: Safety alerts (tracker/alerts): an alert still open this long after it was raised is e-mailed to the next
    #: supervisor up, and again after each further interval while someone is left above. A clinic setting: no source
    #: gives one; two hours by default.
    ALERT_ESCALATION_MINUTES = 120
    ALERT_NOTICES_PER_PAGE = 50
    #: The SMTP server alert e-mails go through; empty: no e-mail (alerts show in the app only, and every notice is
    #: listed as not sent on the admin's page). SMTP_SECURITY: none, starttls or tls.
    SMTP_HOST = ""
    SMTP_PORT = 587
    SMTP_SECURITY = "starttls"
    SMTP_USERNAME = ""
    SMTP_PASSWORD: str | None = None
    SMTP_TIMEOUT_SECONDS = 10
    MAIL_FROM = ""

    #: The research export's smallest cell (k-anonymity's k): every combination of protocol, indication, phase and
    #: dosing sessions it shows is shared by at least this many participants (tracker/research/anonymity.py; 5 after
    #: El Emam K, Dankar FK. Protecting privacy using k-anonymity. J Am Med Inform Assoc 2008;15(5):627-637.
    #: doi:10.1197/jamia.M2716).
    RESEARCH_MIN_CELL_SIZE = 5

    #: The key of the FHIR export's resource ids (an HMAC-SHA256 of the clinic, the kind of row and its id;
    #: tracker/fhir/resources.py). Unset: a key derived from SECRET_KEY. Keep it once records have been exported:
    #: a new key gives every resource a new id, and a receiving system then holds each record twice.
    FHIR_ID_KEY: str | None = None

    #: A new clinic's crisis line, printed on every integration plan (local to the clinic, so no default; each clinic
    #: sets its own on its settings page).
    CRISIS_LINE = ""

    #: Every web process and the worker hold a shared lock beside a SQLite database, which ``flask restore`` needs
    #: exclusively (tracker/backup.py). Off in the test suite, whose many apps share one process.
    PROCESS_LOCK = True

    #: Where background work waits for ``flask worker`` (tracker/queue.py): a SQLite file on one machine (the
    #: default), ``redis://host:6379/0`` for several hosts.
    JOB_QUEUE_URL = f"sqlite:///{INSTANCE_DIR / 'queue.sqlite'}"

    #: A batch printed without JavaScript is rendered in its request up to this many patients; a bigger one goes to
    #: the worker and the page links to its download (a request must not hold a web worker for minutes).
    SYNC_BATCH_MAX = 25

    #: PDF reports are rendered by this many reused worker processes (tracker/reports/renderer.py); 0 renders in
    #: the web process itself. Two match the two cores this was measured on: WeasyPrint is CPU-bound, and on those
    #: cores two processes rendered about 3 summaries a second against about 2 for one, while a third added little.
    REPORT_WORKERS = 2
    #: Background jobs that read the database (the FHIR bulk export) run before the request returns instead of in a
    #: thread: only for the test suite, whose one database connection cannot be shared with a thread.
    JOBS_RUN_INLINE = False

    @classmethod
    def load(cls) -> dict[str, Any]:
        """Read the environment into a plain dict of settings for ``app.config.from_mapping``."""
        settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
        settings["SECRET_KEY"] = env_secret("SECRET_KEY") or settings["SECRET_KEY"]
        settings["FHIR_ID_KEY"] = env_secret("FHIR_ID_KEY") or settings["FHIR_ID_KEY"]
        settings["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL") or settings["SQLALCHEMY_DATABASE_URI"]
        idle = env_int("IDLE_TIMEOUT_MINUTES", int(cls.IDLE_TIMEOUT.total_seconds() // 60), minimum=1)
        settings["IDLE_TIMEOUT"] = timedelta(minutes=idle)
        settings["EXTRA_PROTOCOL_DIR"] = os.environ.get("PROTOCOL_DIR") or cls.EXTRA_PROTOCOL_DIR
        for name, minimum in (
            ("MEASURE_BASELINE_MAX_AGE_DAYS", 0),
            ("MEASURE_AFTER_DOSING_WINDOW_DAYS", 1),
            ("MEASURE_END_OF_TREATMENT_AFTER_LAST_DOSING_DAYS", 0),
            ("MEASURE_END_OF_TREATMENT_WINDOW_DAYS", 0),
            ("MEASURE_FOLLOW_UP_WINDOW_DAYS", 0),
            ("ATTENTION_NOTE_UNSIGNED_HOURS", 1),
            ("ATTENTION_SERIOUS_AE_DAYS", 1),
            ("ATTENTION_NO_SESSION_DAYS", 1),
            ("ATTENTION_EMERGENCY_REVIEW_HOURS", 1),
            ("OVERVIEW_MAX_AGE_MINUTES", 0),
            ("PASSWORD_RESET_HOURS", 1),
            ("REAUTH_MAX_FAILURES", 1),
            ("REAUTH_WINDOW_MINUTES", 1),
            ("LOGIN_FAILURES_PER_ACCOUNT_ADDRESS", 1),
            ("LOGIN_FAILURES_PER_ACCOUNT", 1),
            ("AUDIT_HEAD_NOTE_MINUTES", 1),
            ("SYNC_BATCH_MAX", 1),
        ):
            settings[name] = env_int(name, getattr(cls, name), minimum=minimum)
        settings["MEASURE_FOLLOW_UP_DAYS"] = env_int_list("MEASURE_FOLLOW_UP_DAYS", cls.MEASURE_FOLLOW_UP_DAYS, 1)
        settings["CRISIS_LINE"] = env_str("CRISIS_LINE", cls.CRISIS_LINE).strip()
        settings["QUESTIONNAIRE_LINK_HOURS"] = env_int("QUESTIONNAIRE_LINK_HOURS", cls.QUESTIONNAIRE_LINK_HOURS, 1)
        settings["REPORT_WORKERS"] = env_int("REPORT_WORKERS", cls.REPORT_WORKERS, minimum=0)
        settings["RESEARCH_MIN_CELL_SIZE"] = env_int("RESEARCH_MIN_CELL_SIZE", cls.RESEARCH_MIN_CELL_SIZE, minimum=2)
        settings["MAX_CONTENT_LENGTH"] = env_int("MAX_REQUEST_KB", cls.MAX_CONTENT_LENGTH // 1024, minimum=64) * 1024
        hosts = [h.strip() for h in env_str("TRUSTED_HOSTS", "").split(",") if h.strip()]
        settings["TRUSTED_HOSTS"] = hosts or cls.TRUSTED_HOSTS
        settings["BASE_URL"] = env_str("BASE_URL", cls.BASE_URL).strip().rstrip("/")
        settings["TRUSTED_PROXY_HOPS"] = env_int("TRUSTED_PROXY_HOPS", cls.TRUSTED_PROXY_HOPS, minimum=0)
        settings["JOB_QUEUE_URL"] = env_str("JOB_QUEUE_URL", cls.JOB_QUEUE_URL).strip()
        settings.update(cls.load_mail())
        # The signed cookie outlives the server-side session by an hour, so the server (which can say why the
        # session ended) is what ends it.
        settings["PERMANENT_SESSION_LIFETIME"] = settings["ABSOLUTE_SESSION_LIFETIME"] + timedelta(hours=1)
        cls.validate(settings)
        return settings

    @classmethod
    def load_mail(cls) -> dict[str, Any]:
        """The alert e-mail settings: SMTP server, sender, the link's base, the escalation interval."""
        security = env_str("SMTP_SECURITY", cls.SMTP_SECURITY).strip().lower()
        if security not in ("none", "starttls", "tls"):
            raise ImproperlyConfigured(f"SMTP_SECURITY must be none, starttls or tls, got {security!r}")
        host = env_str("SMTP_HOST", cls.SMTP_HOST).strip()
        port = env_int("SMTP_PORT", cls.SMTP_PORT, minimum=1)
        sender = env_str("MAIL_FROM", cls.MAIL_FROM).strip()
        base_url = env_str("BASE_URL", cls.BASE_URL).strip().rstrip("/")
        if port > 65535:
            raise ImproperlyConfigured(f"SMTP_PORT must be at most 65535, got {port}")
        if host and "@" not in sender:
            raise ImproperlyConfigured("MAIL_FROM must be an e-mail address when SMTP_HOST is set")
        if not base_url.startswith(("http://", "https://")):
            raise ImproperlyConfigured(f"BASE_URL must start with http:// or https://, got {base_url!r}")
        return {
            "SMTP_HOST": host,
            "SMTP_PORT": port,
            "SMTP_SECURITY": security,
            "SMTP_USERNAME": env_str("SMTP_USERNAME", cls.SMTP_USERNAME).strip(),
            "SMTP_PASSWORD": env_secret("SMTP_PASSWORD") or cls.SMTP_PASSWORD,
            "SMTP_TIMEOUT_SECONDS": env_int("SMTP_TIMEOUT_SECONDS", cls.SMTP_TIMEOUT_SECONDS, minimum=1),
            "MAIL_FROM": sender,
            "BASE_URL": base_url,
            "ALERT_ESCALATION_MINUTES": env_int("ALERT_ESCALATION_MINUTES", cls.ALERT_ESCALATION_MINUTES, minimum=1),
        }

    @classmethod
    def validate(cls, settings: dict[str, Any]) -> None:
        if not settings["SECRET_KEY"]:
            raise ImproperlyConfigured("SECRET_KEY is not set")
        if not settings["SQLALCHEMY_DATABASE_URI"]:
            raise ImproperlyConfigured("DATABASE_URL is not set")


class DevelopmentConfig(Config):
    """`make run`: SQLite in the instance folder, a fixed development key, nothing to configure."""

    ENV_NAME = "development"
    SECRET_KEY = "development-only-key-not-for-patient-data"  # noqa: S105 - never used by ProductionConfig
    SQLALCHEMY_DATABASE_URI = sqlite_url("tracker.sqlite")


class TestConfig(Config):
    """The test suite: cheap password hashing, strict templates, a throwaway database."""

    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-only-key"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = sqlite_url("test.sqlite")
    # Argon2id at its smallest valid cost: tests check behaviour, not hash strength.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8
    ARGON2_PARALLELISM = 1
    WTF_CSRF_ENABLED = False  # one dedicated test client turns it back on
    REPORT_WORKERS = 0  # render in the test process; tests/test_reports_pool.py goes through the pool
    JOBS_RUN_INLINE = True
    JOB_QUEUE_URL = "memory://"  # a queued task runs at once, inside the request that queues it
    PROCESS_LOCK = False

    @classmethod
    def load(cls) -> dict[str, Any]:
        settings = super().load()
        settings["SQLALCHEMY_DATABASE_URI"] = (
            os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or cls.SQLALCHEMY_DATABASE_URI
        )
        return settings


class ProductionConfig(Config):
    """Behind TLS: secure cookies; secrets and the database come only from the environment."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-session"

    @classmethod
    def validate(cls, settings: dict[str, Any]) -> None:
        if not env_secret("SECRET_KEY"):
            raise ImproperlyConfigured("ProductionConfig needs SECRET_KEY (or SECRET_KEY_FILE) in the environment")
        if not os.environ.get("DATABASE_URL"):
            raise ImproperlyConfigured("ProductionConfig needs DATABASE_URL in the environment")
        if len(settings["SECRET_KEY"]) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long")
        if not os.environ.get("BASE_URL", "").strip().startswith(("https://", "http://")):
            raise ImproperlyConfigured(
                "ProductionConfig needs BASE_URL, where users reach the app (e.g. "
                "https://tracker.clinic.example): set-password links are built on it"
            )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def _looks_deployed() -> list[str]:
    """Signs that this start is a deployment rather than a checkout on a developer's machine."""
    signs = []
    if "gunicorn" in os.environ.get("SERVER_SOFTWARE", ""):
        signs.append("served by gunicorn")
    for name in ("DATABASE_URL", "SECRET_KEY", "SECRET_KEY_FILE", "JOB_QUEUE_URL"):
        if os.environ.get(name):
            signs.append(f"{name} is set")
    return signs


def config_from_env() -> type[Config]:
    """The config class named by ``TRACKER_ENV``. Unset, it means development only on a bare checkout: a start that
    looks like a deployment (gunicorn, or a database or key in the environment) must say which it is, so a server
    never falls back to development settings (a known key, no secure cookies) because one variable was forgotten.
    """
    name = os.environ.get("TRACKER_ENV")
    if name is None:
        signs = _looks_deployed()
        if signs:
            raise ImproperlyConfigured(
                f"TRACKER_ENV is not set, but this looks like a deployment ({', '.join(signs)}): set "
                "TRACKER_ENV=production, or TRACKER_ENV=development for a local run"
            )
        name = "development"
    try:
        return CONFIGS[name]
    except KeyError:
        raise ImproperlyConfigured(f"TRACKER_ENV must be one of {sorted(CONFIGS)}, got {name!r}") from None

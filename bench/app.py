"""The app as the benchmark runs it: production-like request handling on a bench database of its own."""

from __future__ import annotations

from flask import Flask

from config import Config
from tracker import create_app


class BenchConfig(Config):
    """Like the test settings where measuring needs it (no CSRF tokens to scrape, no login throttle, cheap
    password hashing so the few logins do not dominate), otherwise the shared defaults."""

    ENV_NAME = "bench"
    SECRET_KEY = "bench-only-key"  # noqa: S105 - synthetic data on a local file only
    SQLALCHEMY_DATABASE_URI = "sqlite://"  # placeholder: ``bench_app`` always names the bench database
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8
    ARGON2_PARALLELISM = 1
    WTF_CSRF_ENABLED = False


def bench_app(database_url: str) -> Flask:
    return create_app(BenchConfig, SQLALCHEMY_DATABASE_URI=database_url)

"""Configuration is read strictly; production refuses to start without its secrets."""

from __future__ import annotations

import pytest

from config import ImproperlyConfigured, ProductionConfig, config_from_env, env_bool, env_int


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://x@localhost/db")
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        ProductionConfig.load()


def test_production_refuses_to_start_without_database_url(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        ProductionConfig.load()


def test_production_starts_with_both(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://x@localhost/db")
    monkeypatch.setenv("BASE_URL", "https://tracker.clinic.example/")
    settings = ProductionConfig.load()
    assert settings["SESSION_COOKIE_SECURE"] is True and settings["SESSION_COOKIE_NAME"] == "__Host-session"
    assert settings["BASE_URL"] == "https://tracker.clinic.example"


def test_production_refuses_to_start_without_the_base_url_of_its_links(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://x@localhost/db")
    monkeypatch.delenv("BASE_URL", raising=False)
    with pytest.raises(ImproperlyConfigured, match="BASE_URL"):
        ProductionConfig.load()


def test_a_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s" * 40 + "\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://x@localhost/db")
    monkeypatch.setenv("BASE_URL", "https://tracker.clinic.example")
    assert ProductionConfig.load()["SECRET_KEY"] == "s" * 40


def test_junk_values_are_refused(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG must be a boolean"):
        env_bool("FLAG", False)
    monkeypatch.setenv("IDLE", "ten")
    with pytest.raises(ImproperlyConfigured, match="IDLE must be an integer"):
        env_int("IDLE", 15)
    monkeypatch.setenv("TRACKER_ENV", "staging")
    with pytest.raises(ImproperlyConfigured, match="TRACKER_ENV must be one of"):
        config_from_env()


def test_the_idle_timeout_is_configurable(monkeypatch):
    from config import DevelopmentConfig

    monkeypatch.setenv("IDLE_TIMEOUT_MINUTES", "5")
    assert DevelopmentConfig.load()["IDLE_TIMEOUT"].total_seconds() == 300


def test_the_measure_windows_are_read_strictly(monkeypatch):
    from config import DevelopmentConfig

    monkeypatch.setenv("MEASURE_FOLLOW_UP_DAYS", "30, 90,180")
    monkeypatch.setenv("MEASURE_AFTER_DOSING_WINDOW_DAYS", "7")
    monkeypatch.setenv("CRISIS_LINE", "  Crisis line 0800 000 000 ")
    settings = DevelopmentConfig.load()
    assert settings["MEASURE_FOLLOW_UP_DAYS"] == (30, 90, 180)
    assert settings["MEASURE_AFTER_DOSING_WINDOW_DAYS"] == 7
    assert settings["CRISIS_LINE"] == "Crisis line 0800 000 000"
    monkeypatch.setenv("MEASURE_FOLLOW_UP_DAYS", "90,soon")
    with pytest.raises(ImproperlyConfigured, match="MEASURE_FOLLOW_UP_DAYS must be whole numbers"):
        DevelopmentConfig.load()
    monkeypatch.setenv("MEASURE_FOLLOW_UP_DAYS", "")
    assert DevelopmentConfig.load()["MEASURE_FOLLOW_UP_DAYS"] == ()
    monkeypatch.setenv("MEASURE_AFTER_DOSING_WINDOW_DAYS", "0")
    with pytest.raises(ImproperlyConfigured, match="MEASURE_AFTER_DOSING_WINDOW_DAYS must be at least 1"):
        DevelopmentConfig.load()


def test_the_questionnaire_link_lifetime_is_a_setting_of_at_least_an_hour(monkeypatch):
    from config import TestConfig

    assert TestConfig.load()["QUESTIONNAIRE_LINK_HOURS"] == 72
    monkeypatch.setenv("QUESTIONNAIRE_LINK_HOURS", "24")
    assert TestConfig.load()["QUESTIONNAIRE_LINK_HOURS"] == 24
    monkeypatch.setenv("QUESTIONNAIRE_LINK_HOURS", "0")
    with pytest.raises(ImproperlyConfigured, match="QUESTIONNAIRE_LINK_HOURS"):
        TestConfig.load()


def test_the_alert_mail_settings_are_read_strictly(monkeypatch, tmp_path):
    from config import DevelopmentConfig

    defaults = DevelopmentConfig.load()
    assert (defaults["SMTP_HOST"], defaults["ALERT_ESCALATION_MINUTES"], defaults["SMTP_SECURITY"]) == (
        "",
        120,
        "starttls",
    )
    password = tmp_path / "smtp"
    password.write_text("relay-secret\n")
    for name, value in (
        ("SMTP_HOST", " mail.clinic.example "),
        ("SMTP_PORT", "465"),
        ("SMTP_SECURITY", "TLS"),
        ("SMTP_USERNAME", "tracker"),
        ("SMTP_PASSWORD_FILE", str(password)),
        ("MAIL_FROM", "care-tracker@clinic.example"),
        ("BASE_URL", "https://tracker.clinic.example"),
        ("ALERT_ESCALATION_MINUTES", "45"),
    ):
        monkeypatch.setenv(name, value)
    settings = DevelopmentConfig.load()
    assert (
        settings["SMTP_HOST"],
        settings["SMTP_PORT"],
        settings["SMTP_SECURITY"],
        settings["SMTP_PASSWORD"],
        settings["ALERT_ESCALATION_MINUTES"],
    ) == ("mail.clinic.example", 465, "tls", "relay-secret", 45)
    for name, value, words in (
        ("SMTP_SECURITY", "ssl3", "SMTP_SECURITY must be none, starttls or tls"),
        ("SMTP_PORT", "70000", "SMTP_PORT must be at most 65535"),
        ("MAIL_FROM", "tracker", "MAIL_FROM must be an e-mail address"),
        ("BASE_URL", "tracker.clinic.example", "BASE_URL must start with http"),
        ("ALERT_ESCALATION_MINUTES", "0", "ALERT_ESCALATION_MINUTES must be at least 1"),
    ):
        with monkeypatch.context() as changed:
            changed.setenv(name, value)
            with pytest.raises(ImproperlyConfigured, match=words):
                DevelopmentConfig.load()


def test_production_with_e_mail_needs_the_address_staff_use(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://x@localhost/db")
    monkeypatch.setenv("SMTP_HOST", "mail.clinic.example")
    monkeypatch.setenv("MAIL_FROM", "care-tracker@clinic.example")
    monkeypatch.delenv("BASE_URL", raising=False)
    with pytest.raises(ImproperlyConfigured, match="BASE_URL"):
        ProductionConfig.load()
    monkeypatch.setenv("BASE_URL", "https://tracker.clinic.example")
    assert ProductionConfig.load()["BASE_URL"] == "https://tracker.clinic.example"


def test_the_fhir_id_key_is_read_from_the_environment_or_a_file(monkeypatch, tmp_path):
    from config import DevelopmentConfig

    monkeypatch.delenv("FHIR_ID_KEY", raising=False)
    monkeypatch.delenv("FHIR_ID_KEY_FILE", raising=False)
    assert DevelopmentConfig.load()["FHIR_ID_KEY"] is None  # derived from SECRET_KEY (tracker/fhir/resources.py)
    monkeypatch.setenv("FHIR_ID_KEY", "a key of this installation")
    assert DevelopmentConfig.load()["FHIR_ID_KEY"] == "a key of this installation"
    secret = tmp_path / "fhir-id-key"
    secret.write_text("a key from a file\n")
    monkeypatch.setenv("FHIR_ID_KEY_FILE", str(secret))
    assert DevelopmentConfig.load()["FHIR_ID_KEY"] == "a key from a file"

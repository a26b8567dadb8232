"""Signing in and out: generic errors, deactivation, CSRF-protected logout, server-side session ends, idle
timeout, throttling, password policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import PASSWORD, audit_actions, csrf_token, login
from tracker import passwords
from tracker.extensions import db
from tracker.models import LoginSession
from tracker.models.base import utcnow


def _login(client, username, password=PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def test_it_signs_in_with_the_right_password(client, people):
    response = _login(client, people.lead.username.upper())  # names are case-insensitive
    assert response.status_code == 302
    assert client.get("/patients/").status_code == 200
    assert "auth.login" in audit_actions()


def test_it_says_the_same_thing_for_a_wrong_password_and_an_unknown_account(client, people):
    wrong = _login(client, people.lead.username, "not the password at all")
    unknown = _login(client, "nobody-by-this-name", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "Invalid username or password." in wrong.text
    assert wrong.text.replace(people.lead.username, "X") == unknown.text.replace("nobody-by-this-name", "X")
    assert audit_actions()[-2:] == ["auth.login_failed", "auth.login_failed"]


def test_a_deactivated_account_cannot_sign_in(client, people):
    people.lead.active = False
    db.session.commit()
    response = _login(client, people.lead.username)
    assert response.status_code == 401
    assert "Invalid username or password." in response.text


def test_it_only_follows_local_next_urls(client, people):
    ok = client.post("/login", data={"username": people.lead.username, "password": PASSWORD, "next": "/patients/"})
    assert ok.location == "/patients/"
    client.post("/logout")
    for evil in ["//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)"]:
        response = client.post("/login", data={"username": people.lead.username, "password": PASSWORD, "next": evil})
        assert response.location == "/", evil
        client.post("/logout")


def test_logout_is_a_post(client, people):
    login(client, people.lead)
    assert client.get("/logout").status_code == 405
    assert client.get("/patients/").status_code == 200


def test_logout_needs_a_csrf_token(csrf_app, people):
    client = csrf_app.test_client()
    page = client.get("/login")
    client.post(
        "/login", data={"username": people.lead.username, "password": PASSWORD, "csrf_token": csrf_token(page.text)}
    )
    assert client.post("/logout").status_code == 400  # no token: refused, still signed in
    assert client.get("/patients/").status_code == 200
    token = csrf_token(client.get("/patients/").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/patients/").status_code == 302


def test_a_cookie_copied_before_logout_opens_nothing_afterwards(app, client, people):
    client.post("/login", data={"username": people.lead.username, "password": PASSWORD})
    stolen = client.get_cookie("session").value
    client.post("/logout")
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get(f"/patients/{people.patient.id}")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert "Zzpatient" not in response.text


def test_the_session_ends_after_the_idle_timeout_and_the_login_page_says_why(app, client, people):
    login(client, people.lead)
    idle = app.config["IDLE_TIMEOUT"]
    with time_machine.travel(utcnow() + idle - timedelta(seconds=5), tick=False):
        assert client.get("/patients/").status_code == 200  # activity resets the clock
    with time_machine.travel(utcnow() + 2 * idle + timedelta(seconds=1), tick=False):
        response = client.get("/patients/")
        assert response.status_code == 302
        assert "ended=idle" in response.location
        page = client.get(response.location)
        assert "signed out after 15 minutes without activity" in page.text
    assert client.get("/patients/").status_code == 302  # ended on the server, not just in the browser
    row = db.session.scalar(select(LoginSession).order_by(LoginSession.id.desc()))
    assert row.end_reason == "idle"


def test_the_idle_clock_is_written_at_most_once_a_minute(client, people):
    from tests.conftest import count_queries
    from tracker.auth.sessions import TOUCH_EVERY

    login(client, people.lead)

    def last_seen():
        return db.session.scalar(select(LoginSession.last_seen_at).execution_options(populate_existing=True))

    start, first = utcnow(), last_seen()
    with time_machine.travel(start + TOUCH_EVERY - timedelta(seconds=5), tick=False), count_queries() as statements:
        assert client.get("/patients/").status_code == 200
    assert last_seen() == first  # a click within the minute: no write for the idle clock
    assert not [s for s in statements if "login_session" in s and s.lstrip().upper().startswith("UPDATE")]
    with time_machine.travel(start + TOUCH_EVERY + timedelta(seconds=5), tick=False):
        assert client.get("/patients/").status_code == 200
    assert last_seen() > first


def test_the_session_has_an_absolute_lifetime(app, client, people):
    login(client, people.lead)
    start = utcnow()
    step = app.config["IDLE_TIMEOUT"] - timedelta(minutes=1)
    moment = start
    while moment - start < app.config["ABSOLUTE_SESSION_LIFETIME"]:
        moment += step
        with time_machine.travel(moment, tick=False):
            response = client.get("/patients/")
    assert response.status_code == 302 and "ended=expired" in response.location


def test_deactivation_ends_open_sessions(client, people):
    login(client, people.lead)
    admin = people.admin
    admin_client = client.application.test_client()
    login(admin_client, admin)
    admin_client.post(f"/admin/users/{people.lead.id}/active", data={"active": "0"})
    response = client.get("/patients/")
    assert response.status_code == 302


def test_failed_logins_are_throttled_per_account(app, client, people):
    for _ in range(5):
        assert _login(client, people.lead.username, "wrong password 123").status_code == 401
    throttled = _login(client, people.lead.username, PASSWORD)  # even the right password waits
    assert throttled.status_code == 429
    assert "Too many failed sign-in attempts" in throttled.text
    # another account from the same address is not locked out by it
    assert _login(client, people.co_therapist.username).status_code == 302


def test_failed_logins_from_one_address_never_stop_another_accounts_correct_login(client, people):
    """A clinic signs in from behind one NAT address: a colleague's (or an attacker's) failures there must not lock
    everyone out. The address is flagged for the administrator instead."""
    for attempt in range(25):
        assert _login(client, f"someone{attempt}", "wrong password 123").status_code == 401
    for _ in range(4):  # and the same account's own few failures do not either
        assert _login(client, people.co_therapist.username, "wrong password 123").status_code == 401
    assert _login(client, people.lead.username).status_code == 302
    client.post("/logout")
    assert _login(client, people.co_therapist.username).status_code == 302
    assert audit_actions().count("auth.address_flagged") == 1


def test_a_throttled_attempt_is_audited_and_the_password_is_not_checked(client, people, monkeypatch):
    for _ in range(5):
        _login(client, people.lead.username, "wrong password 123")
    checked = []
    monkeypatch.setattr(passwords, "verify_password", lambda *args: checked.append(args) or True)
    assert _login(client, people.lead.username).status_code == 429
    assert checked == []
    assert "auth.login_throttled" in audit_actions()


def test_the_window_starts_again_after_it_has_passed(app, client, people):
    for _ in range(5):
        _login(client, people.lead.username, "wrong password 123")
    assert _login(client, people.lead.username).status_code == 429
    with time_machine.travel(utcnow() + app.config["LOGIN_FAILURE_WINDOW"] + timedelta(seconds=1)):
        assert _login(client, people.lead.username).status_code == 302


def test_successful_logins_do_not_count_towards_the_throttle(client, people):
    for _ in range(7):
        assert _login(client, people.lead.username).status_code == 302
        client.post("/logout")


@pytest.mark.parametrize("length,ok", [(11, False), (12, True), (64, True), (128, True), (129, False)])
def test_password_length_policy(app, length, ok):
    password = "x" * length
    if ok:
        assert passwords.verify_password(passwords.hash_password(password), password)
    else:
        with pytest.raises(passwords.PasswordPolicyError):
            passwords.hash_password(password)


def test_passwords_are_hashed_with_argon2id(people):
    assert people.lead.password_hash.startswith("$argon2id$")


def test_an_overlong_password_is_refused_before_hashing(app, monkeypatch):
    called = []
    monkeypatch.setattr(passwords.PasswordHasher, "verify", lambda *a: called.append(a))
    assert passwords.verify_password("$argon2id$whatever", "x" * 129) is False
    assert called == []


def test_the_login_form_reports_missing_fields(client):
    response = client.post("/login", data={})
    assert response.status_code == 400
    assert "Enter your username." in response.text and 'aria-invalid="true"' in response.text


def test_a_new_session_id_is_issued_at_login(client, people):
    client.get("/login")
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
    _login(client, people.lead.username)
    with client.session_transaction() as after:
        assert "planted" not in after


def _login_from(client, username, address, password=PASSWORD):
    return client.post(
        "/login", data={"username": username, "password": password}, environ_overrides={"REMOTE_ADDR": address}
    )


def test_a_guesser_elsewhere_does_not_lock_the_account_out_of_the_clinic(app, client, people):
    """Failures lock the account at the guesser's address; from the clinic's address it still signs in, until the
    far higher limit for every address together."""
    for _ in range(app.config["LOGIN_FAILURES_PER_ACCOUNT_ADDRESS"]):
        assert _login_from(client, people.lead.username, "203.0.113.9", "wrong password 123").status_code == 401
    assert _login_from(client, people.lead.username, "203.0.113.9").status_code == 429
    clinic = app.test_client()
    assert _login_from(clinic, people.lead.username, "198.51.100.20").status_code == 302


def test_failures_from_many_addresses_lock_the_account_everywhere_until_an_admin_unlocks_it(app, client, people):
    app.config["LOGIN_FAILURES_PER_ACCOUNT"] = 8
    try:
        for n in range(8):
            _login_from(client, people.lead.username, f"203.0.113.{n}", "wrong password 123")
        assert _login_from(client, people.lead.username, "198.51.100.20").status_code == 429
        admin = app.test_client()
        login(admin, people.admin)
        assert "Sign-in is locked" in admin.get(f"/admin/users/{people.lead.id}").text
        assert admin.post(f"/admin/users/{people.lead.id}/unlock").status_code == 303
        assert "user.unlock" in audit_actions()
        assert _login_from(client, people.lead.username, "198.51.100.20").status_code == 302
    finally:
        app.config["LOGIN_FAILURES_PER_ACCOUNT"] = 50


def test_another_clinics_admin_cannot_unlock_an_account(app, client, people):
    people.outsider.is_therapist = people.outsider.is_supervisor = False
    people.outsider.is_admin = True
    db.session.commit()
    login(client, people.outsider)
    assert client.post(f"/admin/users/{people.lead.id}/unlock").status_code == 404
    assert "user.unlock" not in audit_actions()


def test_a_completed_set_password_link_lifts_the_lock(app, client, people):
    from tracker.auth import credentials

    for _ in range(app.config["LOGIN_FAILURES_PER_ACCOUNT_ADDRESS"]):
        _login(client, people.lead.username, "wrong password 123")
    assert _login(client, people.lead.username).status_code == 429
    token = credentials.issue_link(people.admin, people.lead, utcnow())
    db.session.commit()
    new = "tangerine orbit velvet canyon"
    assert client.post(f"/set-password/{token}", data={"new_password": new, "confirm": new}).status_code == 303
    assert _login(client, people.lead.username, new).status_code == 302


def test_failures_at_many_names_from_one_address_never_stop_a_colleagues_correct_sign_in(app, client, people):
    """A clinic signs in from behind one NAT address: a guessing run there, however long, is flagged, and every
    colleague's correct password still signs them in (each guessed name waits on its own)."""
    app.config["LOGIN_FAILURES_FLAG_ADDRESS"] = 10
    try:
        for n in range(210):  # beyond any cap an address once had (200)
            assert _login(client, f"guess{n % 12}", "wrong password 123").status_code in (401, 429)
        assert audit_actions().count("auth.address_flagged") == 1
        assert _login(client, people.lead.username).status_code == 302
    finally:
        app.config["LOGIN_FAILURES_FLAG_ADDRESS"] = 20


def test_throttle_keys_are_stored_hashed_and_expired_ones_are_purged(app, client, people):
    from tracker.housekeeping import tidy_security
    from tracker.models import LoginThrottle

    _login(client, people.lead.username, "wrong password 123")
    keys = db.session.scalars(select(LoginThrottle.key)).all()
    assert keys and not any(people.lead.username in k or "127.0.0.1" in k for k in keys)
    assert all(len(part) == 64 for k in keys for part in k.split("/"))
    with time_machine.travel(utcnow() + app.config["LOGIN_FAILURE_WINDOW"] + timedelta(minutes=1), tick=False):
        tidy_security()
    db.session.expire_all()
    assert db.session.scalars(select(LoginThrottle.key)).all() == []

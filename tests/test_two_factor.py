"""Two-factor sign-in: TOTP codes usable once (a replayed code is refused, even from another browser), single-use
recovery codes stored hashed, wrong codes throttled and audited, a clinic setting that makes every clinical account
enrol at sign-in, enrolment by a QR code drawn on the server, and the demo's accounts signing in without it."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import time_machine
from sqlalchemy import func, select

from tests.clinic_data import settings_form
from tests.conftest import PASSWORD, login
from tracker.auth import twofactor
from tracker.extensions import db
from tracker.models import AuditEvent, LoginSession, RecoveryCode, User
from tracker.models.base import utcnow


def _enrol(user: User) -> tuple[str, list[str]]:
    """Turn two-factor sign-in on for ``user`` directly (the pages have tests of their own)."""
    secret = twofactor.enrolment_secret(user)
    past = utcnow() - timedelta(seconds=120)  # enrolled with an earlier code, so the current one is still unused
    codes = twofactor.confirm_enrolment(user, pyotp.TOTP(secret).at(past), past)
    db.session.commit()
    return secret, codes


def _password(client, user):
    return client.post("/login", data={"username": user.username, "password": PASSWORD})


def _sessions(user: User) -> int:
    return db.session.scalar(select(func.count(LoginSession.id)).where(LoginSession.user_id == user.id))


def test_a_code_signs_in_once_and_its_replay_is_refused(app, people):
    secret, _ = _enrol(people.lead)
    first = app.test_client()
    assert _password(first, people.lead).location.endswith("/login/two-factor")
    assert first.get("/patients/").status_code == 302  # nothing opens before the code
    code = pyotp.TOTP(secret).now()
    assert first.post("/login/two-factor", data={"code": code}).status_code == 302
    assert first.get("/patients/").status_code == 200
    attacker = app.test_client()  # saw the password and the code
    _password(attacker, people.lead)
    replay = attacker.post("/login/two-factor", data={"code": code})
    assert replay.status_code == 422 and "a code works once" in replay.text
    assert attacker.get("/patients/").status_code == 302
    assert _sessions(people.lead) == 1
    refused = db.session.scalar(select(AuditEvent).where(AuditEvent.action == twofactor.FAILED))
    assert refused.actor_id == people.lead.id and refused.data["reason"] == "a code already used"


def test_an_older_code_is_refused_after_a_newer_one(app, people):
    secret, _ = _enrol(people.lead)
    totp = pyotp.TOTP(secret)
    now = utcnow()
    browser = app.test_client()
    _password(browser, people.lead)
    assert browser.post("/login/two-factor", data={"code": totp.at(now)}).status_code == 302
    other = app.test_client()
    _password(other, people.lead)
    assert other.post("/login/two-factor", data={"code": totp.at(now - timedelta(seconds=30))}).status_code == 422


def test_a_recovery_code_works_once_and_is_stored_hashed(app, people):
    _, codes = _enrol(people.lead)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == people.lead.id)).all()
    assert len(stored) == 10 and not set(codes) & set(stored) and all(len(h) == 64 for h in stored)
    browser = app.test_client()
    _password(browser, people.lead)
    assert browser.post("/login/two-factor", data={"code": codes[0].upper()}).status_code == 302
    again = app.test_client()
    _password(again, people.lead)
    assert again.post("/login/two-factor", data={"code": codes[0]}).status_code == 422
    assert again.post("/login/two-factor", data={"code": codes[1]}).status_code == 302


def test_wrong_codes_are_throttled_per_account_and_audited(app, people):
    secret, _ = _enrol(people.lead)
    browser = app.test_client()
    _password(browser, people.lead)
    for _ in range(5):
        assert browser.post("/login/two-factor", data={"code": "000000"}).status_code == 422
    right = browser.post("/login/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 422 and "Too many wrong codes" in right.text
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == twofactor.FAILED)) == 5
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "auth.mfa_throttled")) == 1


def test_the_sign_in_steps_expire(app, people):
    secret, _ = _enrol(people.lead)
    browser = app.test_client()
    _password(browser, people.lead)
    later = utcnow() + timedelta(minutes=app.config["SIGN_IN_STEP_MINUTES"], seconds=5)
    with time_machine.travel(later, tick=False):
        response = browser.post("/login/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and response.location.endswith("/login")
    assert _sessions(people.lead) == 0


def test_a_clinic_requiring_it_makes_every_account_enrol_at_sign_in_admins_included(app, client, people):
    login(client, people.admin)
    page = client.get("/admin/clinic")
    assert "without two-factor sign-in yet" in page.text
    assert client.post("/admin/clinic", data=settings_form(people.clinic, require_two_factor="y")).status_code == 303
    browser = app.test_client()
    assert _password(browser, people.lead).location.endswith("/login/enrol")
    enrol = browser.get("/login/enrol")
    assert enrol.status_code == 200 and "<svg" in enrol.text and "http" not in enrol.text.split("<svg", 1)[1][:2000]
    secret = re.search(r'id="enrol-secret">([A-Z2-7]+)<', enrol.text).group(1)
    assert browser.get("/patients/").status_code == 302
    wrong = browser.post("/login/enrol", data={"code": "123456"})
    assert wrong.status_code == 422
    shown = browser.post("/login/enrol", data={"code": pyotp.TOTP(secret).now()})
    assert shown.status_code == 200 and len(re.findall(r"<li>[a-z2-9]{4}-", shown.text)) == 10
    assert browser.get("/login/continue").status_code == 302
    assert browser.get("/patients/").status_code == 200
    db.session.expire_all()
    assert db.session.get(User, people.lead.id).has_two_factor
    admin_only = app.test_client()  # admins too: an admin decides who may open patients
    assert _password(admin_only, people.admin).location.endswith("/login/enrol")
    assert admin_only.get("/admin/users").status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "clinic.settings"))
    assert event.actor_id == people.admin.id


def test_a_user_turns_it_on_under_account_and_can_turn_it_off(client, people):
    login(client, people.lead)
    page = client.get("/account/two-factor")
    secret = re.search(r'id="enrol-secret">([A-Z2-7]+)<', page.text).group(1)
    assert "<svg" in page.text
    refused = client.post(
        "/account/two-factor", data={"password": "wrong password here", "code": pyotp.TOTP(secret).now()}
    )
    assert refused.status_code == 422
    done = client.post("/account/two-factor", data={"password": PASSWORD, "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and "Your recovery codes" in done.text
    codes = re.findall(r"<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</li>", done.text)
    off = client.post("/account/two-factor/off", data={"password": PASSWORD, "code": codes[0]})
    assert off.status_code == 303
    db.session.expire_all()
    assert not db.session.get(User, people.lead.id).has_two_factor


def test_an_admin_resets_a_lost_second_factor_but_not_their_own(client, people):
    _enrol(people.lead)
    _enrol(people.admin)
    login(client, people.admin)
    assert client.post(f"/admin/users/{people.lead.id}/two-factor/reset").status_code == 303
    db.session.expire_all()
    assert not db.session.get(User, people.lead.id).has_two_factor
    client.post(f"/admin/users/{people.admin.id}/two-factor/reset")
    db.session.expire_all()
    assert db.session.get(User, people.admin.id).has_two_factor
    assert client.post(f"/admin/users/{people.outsider.id}/two-factor/reset").status_code == 404


def test_a_password_reset_link_does_not_skip_the_second_factor(app, client, people):
    _enrol(people.lead)
    login(client, people.admin)
    page = client.post(f"/admin/users/{people.lead.id}/password", data={"how": "link"})
    token = re.search(r"/set-password/([A-Za-z0-9_\-]+)", page.text).group(1)
    browser = app.test_client()
    new = "lighthouse orchard kettle"
    assert browser.post(f"/set-password/{token}", data={"new_password": new, "confirm": new}).status_code == 303
    signed = browser.post("/login", data={"username": people.lead.username, "password": new})
    assert signed.location.endswith("/login/two-factor") and browser.get("/patients/").status_code == 302


def test_the_demo_accounts_sign_in_with_the_password_alone(app, protocols):
    from tracker.demo import DEMO_PASSWORD, seed_demo

    seed_demo(protocols, patients_per_clinic=1)
    db.session.commit()
    browser = app.test_client()
    response = browser.post("/login", data={"username": "therapist", "password": DEMO_PASSWORD})
    assert response.status_code == 302 and response.location == "/"


def _shown_secret(page) -> str:
    return re.search(r'id="enrol-secret">([A-Z2-7]+)<', page.text).group(1)


def test_every_enrolment_page_draws_a_new_secret_and_an_older_one_stops_working(client, people):
    """A secret shown earlier (a stale tab, a shared screen) is never the one enrolled later."""
    login(client, people.lead)
    first = _shown_secret(client.get("/account/two-factor"))
    second = _shown_secret(client.get("/account/two-factor"))
    assert first != second
    stale = client.post("/account/two-factor", data={"password": PASSWORD, "code": pyotp.TOTP(first).now()})
    assert stale.status_code == 422 and _shown_secret(stale) == second  # a refused post keeps the page's secret
    done = client.post("/account/two-factor", data={"password": PASSWORD, "code": pyotp.TOTP(second).now()})
    assert done.status_code == 200
    db.session.expire_all()
    assert db.session.get(User, people.lead.id).totp_secret == second


def test_a_password_set_or_reset_drops_a_pending_enrolment_secret(app, client, people):
    from tracker.auth import credentials

    login(client, people.lead)
    client.get("/account/two-factor")
    db.session.expire_all()
    assert db.session.get(User, people.lead.id).totp_secret is not None
    token = credentials.issue_link(people.admin, db.session.get(User, people.lead.id), utcnow())
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(User, people.lead.id).totp_secret is None
    login(client, people.lead)
    client.get("/account/two-factor")
    new = "tangerine orbit velvet canyon"
    assert (
        app.test_client().post(f"/set-password/{token}", data={"new_password": new, "confirm": new}).status_code == 303
    )
    db.session.expire_all()
    assert db.session.get(User, people.lead.id).totp_secret is None


def _half_signed_in(app, user):
    """A browser that gave the password and a code, and now must choose a new password; and a copy of its cookie."""
    secret, _ = _enrol(user)
    user.must_change_password = True
    db.session.commit()
    browser = app.test_client()
    _password(browser, user)
    assert browser.post("/login/two-factor", data={"code": pyotp.TOTP(secret).now()}).location.endswith(
        "/login/new-password"
    )
    return browser, browser.get_cookie("session").value


def _replay(app, cookie):
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief, thief.get("/login/continue")


def test_a_copy_of_a_half_done_sign_in_opens_nothing_once_it_was_finished(app, people):
    browser, copied = _half_signed_in(app, people.lead)
    new = "tangerine orbit velvet canyon"
    assert browser.post("/login/new-password", data={"new_password": new, "confirm": new}).status_code == 302
    assert browser.get("/patients/").status_code == 200
    thief, response = _replay(app, copied)
    assert response.location.endswith("/login")
    assert thief.get("/patients/").status_code == 302
    assert _sessions(people.lead) == 1


def test_a_half_done_sign_in_is_void_after_a_password_change(app, people):
    from tracker.auth import credentials

    _, copied = _half_signed_in(app, people.lead)
    with time_machine.travel(utcnow() + timedelta(seconds=2), tick=False):
        credentials.set_at_sign_in(
            people.lead, "tangerine orbit velvet canyon", "tangerine orbit velvet canyon", utcnow()
        )
        db.session.commit()
    thief, response = _replay(app, copied)
    assert response.location.endswith("/login") and thief.get("/patients/").status_code == 302
    assert _sessions(people.lead) == 0


def test_a_half_done_sign_in_is_void_after_deactivation_even_once_reactivated(app, people):
    from tracker.admin.services import set_active

    _, copied = _half_signed_in(app, people.lead)
    set_active(people.admin, people.lead, False)
    set_active(people.admin, people.lead, True)
    db.session.commit()
    thief, response = _replay(app, copied)
    assert response.location.endswith("/login") and thief.get("/patients/").status_code == 302
    assert _sessions(people.lead) == 0

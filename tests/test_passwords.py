"""Passwords: change one's own (current one asked, other sessions end), an admin's one-time expiring link or forced
change at next sign-in, the command line, and the refusal of leaked and guessable passwords at every door."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import PASSWORD, login
from tracker import passwords
from tracker.extensions import db
from tracker.models import AuditEvent, LoginSession, PasswordReset, User
from tracker.models.base import utcnow

NEW = "lighthouse orchard kettle"


def _fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get_one(User, user.id)


@pytest.mark.parametrize(
    "password",
    [
        "Password1234567",
        "123456789012",
        "aaaaaaaaaaaaaa",
        "1qaz2wsx3edc",
        "iloveyou12345!",
        "  password123456  ",
    ],
)
def test_leaked_and_guessable_passwords_are_refused(app, password):
    with app.app_context(), pytest.raises(passwords.PasswordPolicyError):
        passwords.check_new_password(password)


def test_a_password_built_on_ones_own_name_or_the_clinic_is_refused(app):
    with app.app_context():
        with pytest.raises(passwords.PasswordPolicyError, match="name"):
            passwords.check_new_password("HarbourClinic2026!", ["ana", "Ana Smith", "Harbour Clinic"])
        with pytest.raises(passwords.PasswordPolicyError):
            passwords.check_new_password("anasmith-password", ["anasmith", "Ana Smith"])
        passwords.check_new_password(NEW, ["anasmith", "Ana Smith", "Harbour Clinic"])
        passwords.check_new_password("demo-password-2026", ["therapist", "Theo Therapist", "Harbour Clinic"])


def test_every_door_refuses_a_leaked_password(client, people):
    login(client, people.lead)
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "Password1234567", "confirm": "Password1234567"},
    )
    assert response.status_code == 422 and "common one" in response.text


def test_changing_ones_password_needs_the_current_one_and_ends_other_sessions(app, client, people):
    other = app.test_client()
    login(other, people.lead)
    token = login(client, people.lead)
    wrong = client.post(
        "/account/password", data={"current_password": "not it at all", "new_password": NEW, "confirm": NEW}
    )
    assert wrong.status_code == 422 and "That is not your password" in wrong.text
    done = client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW, "confirm": NEW})
    assert done.status_code == 303
    assert passwords.verify_password(_fresh(people.lead).password_hash, NEW)
    assert client.get("/account").status_code == 200  # this session goes on
    assert other.get("/patients/").status_code == 302  # the other one ended
    open_sessions = db.session.scalar(
        select(func.count(LoginSession.id)).where(
            LoginSession.user_id == people.lead.id, LoginSession.ended_at.is_(None)
        )
    )
    assert open_sessions == 1 and token
    actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.actor_id == people.lead.id))]
    assert "auth.reauth_failed" in actions and "auth.password_changed" in actions


def _issue_link(client, people, user) -> str:
    login(client, people.admin)
    page = client.post(f"/admin/users/{user.id}/password", data={"how": "link"})
    assert page.status_code == 200
    return re.search(r"/set-password/([A-Za-z0-9_\-]+)", page.text).group(1)


def test_an_admins_link_sets_a_password_once(app, client, people):
    victim = app.test_client()
    login(victim, people.lead)
    token = _issue_link(client, people, people.lead)
    assert victim.get("/patients/").status_code == 302  # issuing the link signed them out
    stored = db.session.scalar(select(PasswordReset))
    assert stored.token_hash != token and token not in repr(db.session.execute(select(AuditEvent.data)).all())
    anonymous = app.test_client()
    assert anonymous.get(f"/set-password/{token}").status_code == 200
    done = anonymous.post(f"/set-password/{token}", data={"new_password": NEW, "confirm": NEW})
    assert done.status_code == 303
    assert passwords.verify_password(_fresh(people.lead).password_hash, NEW)
    again = anonymous.post(f"/set-password/{token}", data={"new_password": NEW + " x", "confirm": NEW + " x"})
    assert again.status_code == 404  # used up
    assert anonymous.post("/login", data={"username": people.lead.username, "password": NEW}).status_code == 302


def test_a_link_expires_and_a_newer_link_replaces_it(app, client, people):
    first = _issue_link(client, people, people.lead)
    second = _issue_link(client, people, people.lead)
    anonymous = app.test_client()
    assert anonymous.get(f"/set-password/{first}").status_code == 404
    assert anonymous.get(f"/set-password/{second}").status_code == 200
    later = utcnow() + timedelta(hours=app.config["PASSWORD_RESET_HOURS"], minutes=1)
    with time_machine.travel(later, tick=False):
        assert anonymous.get(f"/set-password/{second}").status_code == 404
        assert anonymous.post(f"/set-password/{second}", data={"new_password": NEW, "confirm": NEW}).status_code == 404
    assert anonymous.get("/set-password/made-up-token").status_code == 404


def test_a_forced_change_is_asked_at_the_next_sign_in_before_anything_else(app, client, people):
    login(client, people.admin)
    assert client.post(f"/admin/users/{people.lead.id}/password", data={"how": "next_sign_in"}).status_code == 303
    browser = app.test_client()
    signed = browser.post("/login", data={"username": people.lead.username, "password": PASSWORD})
    assert signed.status_code == 302 and signed.location.endswith("/login/new-password")
    assert browser.get("/patients/").status_code == 302  # no session yet
    done = browser.post("/login/new-password", data={"new_password": NEW, "confirm": NEW})
    assert done.status_code == 302 and browser.get("/patients/").status_code == 200
    assert not _fresh(people.lead).must_change_password


def test_an_admin_cannot_reset_their_own_or_another_clinics_accounts(client, people):
    login(client, people.admin)
    own = client.post(f"/admin/users/{people.admin.id}/password", data={"how": "link"}, follow_redirects=True)
    assert "Change your own password under Account" in own.text
    assert client.post(f"/admin/users/{people.outsider.id}/password", data={"how": "link"}).status_code == 404
    assert db.session.scalar(select(func.count(PasswordReset.id))) == 0
    login(client, people.lead)
    assert client.post(f"/admin/users/{people.co_therapist.id}/password", data={"how": "link"}).status_code == 403


def test_the_command_line_prints_a_link_or_forces_a_change(app, people):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "reset-password", people.lead.username.upper()])
    assert result.exit_code == 0, result.output
    token = re.search(r"/set-password/(\S+)", result.output).group(1)
    assert app.test_client().get(f"/set-password/{token}").status_code == 200
    forced = runner.invoke(args=["users", "reset-password", people.co_therapist.username, "--next-sign-in"])
    assert forced.exit_code == 0 and _fresh(people.co_therapist).must_change_password
    assert runner.invoke(args=["users", "reset-password", "nobody"]).exit_code != 0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.password_link"))
    assert event.actor_id is None and event.target_id == str(people.lead.id)


def test_opening_a_link_signs_nobody_out_until_the_password_is_set(app, client, people):
    token = _issue_link(client, people, people.lead)
    login(client, people.co_therapist)  # someone else signed in in this browser
    assert client.get("/set-password/made-up-token").status_code == 404
    assert client.get(f"/set-password/{token}").status_code == 200
    assert client.get("/patients/").status_code == 200  # a GET changes nothing
    assert client.post(f"/set-password/{token}", data={"new_password": NEW, "confirm": NEW}).status_code == 303
    assert client.get("/patients/").status_code == 302  # signed out after setting the password


@pytest.mark.parametrize("weak", ["qwertyuiopasdf", "abcdefgh12345678", "zxcvbnmasdfghjkl"])
def test_a_password_that_is_quick_to_guess_is_refused_beside_the_field(client, people, weak):
    """Not on any leaked list, long enough, yet a keyboard walk or a sequence: zxcvbn scores it below 3."""
    with pytest.raises(passwords.PasswordPolicyError, match="too easy to guess"):
        passwords.check_new_password(weak, ["user1", "Lena Lead"])
    login(client, people.lead)
    response = client.post(
        "/account/password", data={"current_password": PASSWORD, "new_password": weak, "confirm": weak}
    )
    assert response.status_code == 422 and "too easy to guess" in response.text
    assert 'id="new_password-error"' in response.text


def test_a_valid_link_works_whatever_others_at_the_same_address_tried(app, client, people):
    """A clinic behind one NAT address: someone's (or an attacker's) made-up links never block a colleague's real
    one; only links that do not work are counted against the address."""
    token = _issue_link(client, people, people.lead)
    anonymous = app.test_client()
    for n in range(app.config["LINK_REFUSALS_PER_ADDRESS"]):
        assert anonymous.get(f"/set-password/made-up-{n}").status_code == 404
    assert anonymous.get("/set-password/made-up-again").status_code == 429
    assert anonymous.get(f"/set-password/{token}").status_code == 200
    assert anonymous.post(f"/set-password/{token}", data={"new_password": NEW, "confirm": NEW}).status_code == 303


def test_deactivating_an_account_cancels_its_open_links(app, client, people):
    token = _issue_link(client, people, people.lead)
    client.post(f"/admin/users/{people.lead.id}/active", data={"active": "0"})
    client.post(f"/admin/users/{people.lead.id}/active", data={"active": "1"})
    assert app.test_client().get(f"/set-password/{token}").status_code == 404

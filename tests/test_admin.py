"""Account administration through the admin pages and the command line."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, audit_actions, login
from tracker.admin.services import AccountError
from tracker.auth import credentials
from tracker.extensions import db
from tracker.factories import make_user
from tracker.models import AuditEvent, Clinic, Role, User


def _new(people, **overrides):
    data = {
        "username": "new.therapist",
        "full_name": "New Therapist",
        "is_therapist": "y",
        "supervisor_id": str(people.supervisor.id),
    }
    data.update(overrides)
    return data


def test_an_admin_adds_an_account_and_gets_only_a_set_password_link(app, client, people):
    """The admin never types a password for the new account (they could otherwise sign in as the clinician they
    just made): the account has none until its owner sets one through the one-time link shown here."""
    login(client, people.admin)
    assert 'name="password"' not in client.get("/admin/users/new").text
    response = client.post("/admin/users/new", data={**_new(people), "password": "a long enough secret"})
    assert response.status_code == 200
    link = re.search(r'id="password-link">([^<]+)<', response.text).group(1)
    assert link.startswith(app.config["BASE_URL"] + "/set-password/")
    user = db.session.scalar(select(User).where(User.username == "new.therapist"))
    assert user.is_therapist and user.supervisor_id == people.supervisor.id and user.clinic_id == people.clinic.id
    assert not user.password_hash.startswith("$argon2id$")
    browser = app.test_client()
    for guess in ("a long enough secret", "", user.password_hash):
        assert browser.post("/login", data={"username": "new.therapist", "password": guess}).status_code in (400, 401)
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "user.create", AuditEvent.target_id == str(user.id))
    )
    assert event.actor_id == people.admin.id
    assert "a long enough secret" not in str(event.data) and "argon2" not in str(event.data)
    assert "user.password_link" in audit_actions()
    path = link.removeprefix(app.config["BASE_URL"])
    new = "tangerine orbit velvet canyon"
    assert browser.post(path, data={"new_password": new, "confirm": new}).status_code == 303
    assert browser.post("/login", data={"username": "new.therapist", "password": new}).status_code == 302


def test_the_link_is_built_on_the_configured_base_url_never_the_host_header(app):
    with app.test_request_context("/admin/users/1/password", base_url="http://evil.example"):
        assert credentials.link_url("t0ken") == "http://127.0.0.1:5000/set-password/t0ken"


@pytest.mark.parametrize(
    "roles",
    [
        {"is_admin": "y", "is_supervisor": "y"},
        {"is_admin": "y", "is_therapist": "y", "supervisor_id": "SUP"},
    ],
)
def test_an_account_is_admin_or_clinical_never_both_at_the_form(client, people, roles):
    login(client, people.admin)
    data = {**_new(people, is_therapist=""), **roles}
    data = {k: str(people.supervisor.id) if v == "SUP" else v for k, v in data.items()}
    response = client.post("/admin/users/new", data=data)
    assert response.status_code == 422 and "either an admin or clinical" in response.text
    assert db.session.scalar(select(User).where(User.username == "new.therapist")) is None
    edit = {
        "full_name": people.supervisor.full_name,
        **{k: v for k, v in data.items() if k.startswith("is_")},
        "supervisor_id": data.get("supervisor_id", "0"),
    }
    response = client.post(f"/admin/users/{people.other_supervisor.id}", data=edit)
    assert response.status_code == 422 and "either an admin or clinical" in response.text
    db.session.expire_all()
    assert not db.session.get(User, people.other_supervisor.id).is_admin


def test_an_account_is_admin_or_clinical_never_both_in_the_service_and_the_cli(app, people):
    with pytest.raises(AccountError, match="either an admin or clinical"):
        make_user(people.clinic, Role.ADMIN, Role.SUPERVISOR)
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "mixed",
            "--name",
            "Mixed Person",
            "--clinic",
            people.clinic.name,
            "--role",
            "admin",
            "--role",
            "supervisor",
        ]
    )
    assert result.exit_code != 0 and "either an admin or clinical" in result.output
    assert db.session.scalar(select(User).where(User.username == "mixed")) is None


def test_account_rules_are_shown_next_to_the_fields(client, people):
    login(client, people.admin)
    cases = {
        "username": ({"username": people.lead.username.upper()}, "This username is taken."),
        "supervisor_id": ({"supervisor_id": "0"}, "Every therapist needs a supervisor."),
        "is_therapist": ({"is_therapist": ""}, "Give the account at least one role."),
    }
    for field, (overrides, message) in cases.items():
        response = client.post("/admin/users/new", data=_new(people, **overrides))
        assert response.status_code == 422, field
        assert message in response.text, field
        assert f'id="{field}-error"' in response.text, field


def test_an_admin_changes_roles_and_it_is_audited(client, people):
    login(client, people.admin)
    response = client.post(
        f"/admin/users/{people.lead.id}",
        data={
            "full_name": people.lead.full_name,
            "is_therapist": "y",
            "is_supervisor": "y",
            "supervisor_id": str(people.supervisor.id),
        },
    )
    assert response.status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.update"))
    assert event.data["changes"]["roles"] == [["therapist"], ["supervisor", "therapist"]]


def test_an_admin_cannot_remove_their_own_admin_role_or_deactivate_themselves(client, people):
    login(client, people.admin)
    response = client.post(
        f"/admin/users/{people.admin.id}",
        data={"full_name": "Ada", "is_therapist": "y", "supervisor_id": str(people.supervisor.id)},
    )
    assert response.status_code == 422 and "cannot change your own roles" in response.text
    response = client.post(f"/admin/users/{people.admin.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "cannot deactivate your own account" in response.text


def test_deactivated_accounts_cannot_sign_in_and_can_be_reactivated(client, people):
    login(client, people.admin)
    client.post(f"/admin/users/{people.lead.id}/active", data={"active": "0"})
    db.session.expire_all()
    assert db.session.get(User, people.lead.id).active is False
    fresh = client.application.test_client()
    assert fresh.post("/login", data={"username": people.lead.username, "password": PASSWORD}).status_code == 401
    client.post(f"/admin/users/{people.lead.id}/active", data={"active": "1"})
    assert fresh.post("/login", data={"username": people.lead.username, "password": PASSWORD}).status_code == 302


def test_admins_see_no_clinical_content(client, people):
    login(client, people.admin)
    assert client.get("/").location == "/admin/users"
    nav = client.get("/admin/users").text
    assert 'href="/patients/"' not in nav
    assert client.get(f"/patients/{people.patient.id}").status_code == 403


def test_the_navigation_shows_only_what_the_role_can_open(client, people):
    login(client, people.lead)
    nav = client.get("/patients/").text
    assert 'href="/patients/"' in nav and 'href="/audit/"' not in nav and 'href="/admin/users"' not in nav
    login(client, people.supervisor)
    nav = client.get("/patients/").text
    assert 'href="/audit/"' in nav and 'href="/admin/users"' not in nav


def test_the_cli_creates_an_account_with_a_set_password_link(app):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "firstadmin",
            "--name",
            "First Admin",
            "--clinic",
            "Link Clinic",
            "--role",
            "admin",
            "--time-zone",
            "America/Denver",
        ]
    )
    assert result.exit_code == 0, result.output
    assert f"{app.config['BASE_URL']}/set-password/" in result.output
    user = db.session.scalar(select(User).where(User.username == "firstadmin"))
    assert not user.password_hash.startswith("$argon2id$")


def test_the_cli_creates_the_first_admin(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "firstadmin",
            "--name",
            "First Admin",
            "--clinic",
            "New Clinic",
            "--role",
            "admin",
            "--time-zone",
            "America/Denver",
            "--password",
            "a long enough secret",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created firstadmin (admin) in New Clinic." in result.output
    user = db.session.scalar(select(User).where(User.username == "firstadmin"))
    assert user.is_admin and not user.is_clinician
    assert db.session.get(Clinic, user.clinic_id).time_zone == "America/Denver"


@pytest.mark.parametrize(
    "zone_args, message",
    [
        ([], "give its --time-zone"),
        (["--time-zone", "Mars/Olympus_Mons"], "is not a time zone name"),
    ],
)
def test_the_cli_asks_a_new_clinic_for_a_real_time_zone(app, zone_args, message):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "firstadmin",
            "--name",
            "First Admin",
            "--clinic",
            "Zoneless Clinic",
            "--role",
            "admin",
            "--password",
            "a long enough secret",
            *zone_args,
        ]
    )
    assert result.exit_code != 0 and message in result.output
    assert db.session.scalar(select(Clinic).where(Clinic.name == "Zoneless Clinic")) is None


def test_the_cli_refuses_a_short_password(app):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "shorty",
            "--name",
            "S",
            "--clinic",
            "New Clinic",
            "--role",
            "admin",
            "--password",
            "short",
            "--time-zone",
            "Europe/London",
        ]
    )
    assert result.exit_code != 0 and "Use at least 12 characters." in result.output


def test_an_admin_flags_a_therapist_as_needing_co_signature(client, people):
    login(client, people.admin)
    assert 'name="needs_cosign"' in client.get(f"/admin/users/{people.lead.id}").text
    response = client.post(
        f"/admin/users/{people.lead.id}",
        data={
            "full_name": people.lead.full_name,
            "is_therapist": "y",
            "supervisor_id": str(people.supervisor.id),
            "needs_cosign": "y",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, people.lead.id).needs_cosign
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.update"))
    assert event.data["changes"]["needs_cosign"] == [False, True]
    assert "co-signs notes" in client.get("/admin/users").text


def test_co_signature_needs_a_supervisor(client, people):
    login(client, people.admin)
    response = client.post(
        "/admin/users/new", data=_new(people, is_therapist="", is_supervisor="y", supervisor_id="0", needs_cosign="y")
    )
    assert response.status_code == 422
    assert 'id="supervisor_id-error"' in response.text and "Co-signature needs a supervisor" in response.text


@pytest.mark.parametrize("extra", [{"is_supervisor": "y"}, {"is_therapist": "y", "supervisor_id": "SUP"}])
def test_an_admin_cannot_give_themselves_a_clinical_role(client, people, extra):
    """Separation of duties: an admin giving itself the supervisor role would open full records, unseen."""
    login(client, people.admin)
    data = {
        "full_name": people.admin.full_name,
        "is_admin": "y",
        "supervisor_id": "0",
        **{k: str(people.supervisor.id) if v == "SUP" else v for k, v in extra.items()},
    }
    response = client.post(f"/admin/users/{people.admin.id}", data=data)
    assert response.status_code == 422 and "cannot change your own roles" in response.text
    db.session.expire_all()
    assert db.session.get(User, people.admin.id).roles == {Role.ADMIN}
    renamed = client.post(
        f"/admin/users/{people.admin.id}", data={"full_name": "Ada Renamed", "is_admin": "y", "supervisor_id": "0"}
    )
    assert renamed.status_code == 302  # everything else of their own account they may still change


def test_role_grants_are_audited_and_shown_to_the_clinics_other_admins(client, people):
    second = make_user(people.clinic, Role.ADMIN, full_name="Bea Second")
    db.session.commit()
    login(client, people.admin)
    client.post(
        f"/admin/users/{people.co_therapist.id}",
        data={
            "full_name": people.co_therapist.full_name,
            "is_therapist": "y",
            "is_supervisor": "y",
            "supervisor_id": str(people.supervisor.id),
        },
    )
    event = db.session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "user.roles_change", AuditEvent.target_id == str(people.co_therapist.id))
        .order_by(AuditEvent.id.desc())
    )
    assert event.actor_id == people.admin.id and event.data["granted"] == ["supervisor"]
    login(client, second)
    page = client.get("/admin/users").text
    assert "Role changes, last 30 days" in page
    assert f"<strong>{people.co_therapist.username}</strong>:" in page and "given supervisor" in page
    assert "by Ada Admin" in page
    login(client, people.outsider)  # another clinic's admin sees nothing of it
    people.outsider.is_admin = True
    db.session.commit()
    assert f"<strong>{people.co_therapist.username}</strong>" not in client.get("/admin/users").text


def test_an_admin_sets_the_e_mail_address_alerts_go_to(client, people):
    login(client, people.admin)
    data = {"full_name": people.lead.full_name, "is_therapist": "y", "supervisor_id": str(people.supervisor.id)}
    refused = client.post(f"/admin/users/{people.lead.id}", data={**data, "email": "lena at clinic"})
    assert refused.status_code == 422 and 'id="email-error"' in refused.text
    assert "Enter an e-mail address, e.g. name@clinic.example." in refused.text
    response = client.post(f"/admin/users/{people.lead.id}", data={**data, "email": " Lena.Lead@Clinic.example "})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, people.lead.id).email == "lena.lead@clinic.example"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.update"))
    assert event.data["changes"]["email"] == [None, "lena.lead@clinic.example"]
    cleared = client.post(f"/admin/users/{people.lead.id}", data={**data, "email": ""})
    assert cleared.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, people.lead.id).email is None

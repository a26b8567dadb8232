"""The audit trail: written for every read and write of patient data, filterable, scoped, append-only."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import login
from tracker import audit
from tracker.extensions import db
from tracker.models import AuditEvent


def test_diff_lists_only_changed_fields():
    before = {"a": 1, "b": date(2020, 1, 1), "c": "x"}
    after = {"a": 1, "b": date(2021, 1, 1), "c": "y"}
    assert audit.diff(before, after) == {"b": ["2020-01-01", "2021-01-01"], "c": ["x", "y"]}


def test_the_supervisor_sees_their_supervisees_patients_events(client, people):
    login(client, people.lead)
    client.get(f"/patients/{people.patient.id}")
    login(client, people.supervisor)
    page = client.get("/audit/")
    assert page.status_code == 200 and "CANARY-1" in page.text and "patient.view" in page.text
    login(client, people.other_supervisor)
    assert "CANARY-1" not in client.get("/audit/").text


def test_the_page_count_matches_the_events_shown(client, people, protocols):
    """The count is a query of its own (by patient, for speed: ``make bench``); it counts what the pages list,
    and leaves out clinic-wide events and another clinic's patients."""
    from tracker.auditlog.trail import visible_count as _visible_count
    from tracker.auditlog.trail import visible_events
    from tracker.factories import make_patient

    elsewhere = make_patient(people.outsider, protocols=protocols, record_number="ELSEWHERE-1")
    audit.record(people.outsider, "patient.view", "Viewed patient ELSEWHERE-1", patient=elsewhere)
    audit.record(people.supervisor, "user.update", "Clinic-wide event")
    audit.record(people.lead, "patient.view", "Viewed patient CANARY-1", patient=people.patient)
    db.session.commit()
    for user in (people.supervisor, people.admin, people.other_supervisor):
        shown = db.session.scalars(visible_events(user)).all()
        assert _visible_count(user, []) == len(shown)
        viewed = [AuditEvent.action == "patient.view"]
        assert _visible_count(user, viewed) == len(db.session.scalars(visible_events(user).where(*viewed)).all())
    assert all(e.patient_id == people.patient.id for e in db.session.scalars(visible_events(people.supervisor)))


def test_a_long_trail_is_counted_only_up_to_the_limit_and_the_page_says_more(client, people, monkeypatch):
    """A whole clinic's trail is not counted row by row for a caption (0.6 s at 3.8 million rows): past
    ``COUNT_LIMIT`` the page says "more than", its pages reach that many, and the filters reach the older rows."""
    from tracker.auditlog import trail, views

    monkeypatch.setattr(views, "COUNT_LIMIT", 3)
    for number in range(5):
        audit.record(people.lead, "patient.view", f"Viewed patient CANARY-1 ({number})", patient=people.patient)
    db.session.commit()
    assert trail.visible_count(people.admin, [], 3) == 4  # one past the limit, not all of them
    assert trail.visible_count(people.admin, []) > 4
    login(client, people.admin)
    page = client.get("/audit/")
    assert page.status_code == 200
    assert "More than 3 events, newest first" in page.text
    narrowed = client.get(f"/audit/?user={people.supervisor.id}")
    assert "More than" not in narrowed.text


def test_the_admin_sees_the_clinics_events_and_filters_them(client, people):
    login(client, people.lead)
    client.get(f"/patients/{people.patient.id}")
    login(client, people.admin)
    page = client.get(f"/audit/?user={people.lead.id}")
    assert page.status_code == 200 and "patient.view" in page.text
    assert "Lena Lead" in page.text
    by_patient = client.get("/audit/?patient=CANARY-1").text
    assert "patient.create" in by_patient
    nothing = client.get("/audit/?patient=NOPE").text
    assert "No events match" in nothing
    future = client.get("/audit/?start=2999-01-01").text
    assert "No events match" in future


@pytest.mark.parametrize(
    "query,message",
    [
        ("start=yesterday", "Not a valid date value."),
        ("start=2026-02-01&end=2026-01-01", "The end date is before the start date."),
        ("page=0", "Use a page number from 1 to 1,000,000."),
        ("page=100000000000000000000", "Use a page number from 1 to 1,000,000."),
        ("user=abc", "Invalid Choice"),
        ("user=%D9%A1", "Invalid Choice"),  # an Arabic-Indic 1 was read as user 1
        ("user=%2B1", "Invalid Choice"),
        ("user=" + "9" * 400, "Invalid Choice"),
    ],
)
def test_bad_filters_are_refused_with_a_message(client, people, query, message):
    login(client, people.admin)
    response = client.get(f"/audit/?{query}")
    assert response.status_code == 400
    assert message in response.text
    assert "No events match these filters." in response.text  # not the whole trail, which would read as filtered


def test_viewing_the_audit_trail_is_itself_audited(client, people):
    login(client, people.admin)
    client.get("/audit/")
    assert db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc())).action == "audit.view"


def test_the_database_refuses_to_change_audit_rows(people):
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(text("UPDATE audit_event SET summary = 'edited'"))
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(text("DELETE FROM audit_event"))


def test_the_audit_page_paginates(client, people):
    for number in range(60):
        audit.record(people.admin, "test.event", f"event {number}")
    db.session.commit()
    login(client, people.admin)
    first = client.get("/audit/").text
    assert "event 59" in first and "event 0<" not in first
    assert 'aria-label="Pages"' in first


def test_an_admin_sees_who_touched_a_patient_but_not_the_clinical_detail(client, people):
    login(client, people.lead)
    client.post(f"/patients/{people.patient.id}/phase", data={"target": "on_hold", "reason": "Zzreason of hold"})
    login(client, people.admin)
    page = client.get("/audit/?patient=CANARY-1").text
    assert "patient.phase_change" in page and "CANARY-1" in page
    assert "Zzreason" not in page and "Canary" not in page and "1980-05-17" not in page
    login(client, people.supervisor)
    page = client.get("/audit/?patient=CANARY-1").text
    assert "Preparation -&gt; On hold" in page


def test_an_admin_and_supervisor_reads_clinical_detail_only_of_patients_they_may_open(client, people):
    """The issue's finding: an account holding admin and supervisor read, on /audit/, the clinical detail of
    patients it got 404 for. It still sees who did what to whom (admin), but the detail only of its own care."""
    people.other_supervisor.is_admin = True
    db.session.commit()
    login(client, people.lead)
    client.post(f"/patients/{people.patient.id}/phase", data={"target": "on_hold", "reason": "Zzreason of hold"})
    login(client, people.other_supervisor)
    assert client.get(f"/patients/{people.patient.id}").status_code == 404
    page = client.get("/audit/?patient=CANARY-1").text
    assert "patient.phase_change" in page and "CANARY-1" in page
    assert "Zzreason" not in page and "Preparation -&gt; On hold" not in page and "Canary" not in page
    assert "Clinical detail shown only to those who may open this patient" in page
    people.other_supervisor.is_admin, people.supervisor.is_admin = False, True  # the patient's own supervisor
    db.session.commit()
    login(client, people.supervisor)
    assert "Preparation -&gt; On hold" in client.get("/audit/?patient=CANARY-1").text


def test_a_failed_sign_in_with_an_unknown_name_keeps_nothing_typed_and_only_the_operator_sees_it(app, client, people):
    """Such a failure belongs to no clinic: shown to every clinic's admin, it would tell one clinic when and from
    where another clinic's staff mistyped their names. The server's operator reads them on the command line."""
    typed = "Zz-my-secret-password-typed-as-a-name"
    client.post("/login", data={"username": typed, "password": "whatever"})
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login_failed"))
    assert row.clinic_id is None and row.actor_id is None and row.data is None
    stored = db.session.execute(text("SELECT * FROM audit_event")).all()
    assert typed.casefold() not in repr(stored).casefold()
    for someone in (people.admin, people.supervisor):
        login(client, someone)
        page = client.get("/audit/").text
        assert "account name nobody has" not in page and "127.0.0.1" not in page and typed not in page
    people.outsider.is_admin = True
    db.session.commit()
    login(client, people.outsider)
    assert "account name nobody has" not in client.get("/audit/").text
    result = app.test_cli_runner().invoke(args=["audit", "unknown-names"])
    assert result.exit_code == 0 and "last 7 days: 1" in result.output and "from 127.0.0.1" in result.output
    assert typed not in result.output


def test_a_failed_sign_in_to_a_real_account_is_on_its_clinics_trail(client, people):
    client.post("/login", data={"username": people.lead.username.upper(), "password": "wrong password here"})
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login_failed"))
    assert row.actor_id == people.lead.id and row.clinic_id == people.clinic.id
    login(client, people.admin)
    assert f"Failed sign-in as {people.lead.username}" in client.get("/audit/").text


def _csv(response):
    import csv
    import io

    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_export_follows_the_filters_and_is_itself_audited(client, people):
    login(client, people.lead)
    client.post(f"/patients/{people.patient.id}/phase", data={"target": "on_hold", "reason": "Zzreason of hold"})
    login(client, people.supervisor)
    response = client.get("/audit/export.csv?patient=CANARY-1")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _csv(response)
    assert rows and {r["patient_record_number"] for r in rows} == {"CANARY-1"}
    changed = next(r for r in rows if r["action"] == "patient.phase_change")
    assert "Preparation" in changed["summary"] and changed["row_hash"] and changed["chain_position"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.export"))
    assert event.actor_id == people.supervisor.id and event.data == {
        "filters": {"patient": "CANARY-1"},
        "rows": len(rows),
    }


def test_the_csv_export_hides_clinical_detail_and_other_clinics(client, people):
    people.other_supervisor.is_admin = True
    db.session.commit()
    login(client, people.lead)
    client.post(f"/patients/{people.patient.id}/phase", data={"target": "on_hold", "reason": "Zzreason of hold"})
    login(client, people.other_supervisor)
    rows = _csv(client.get("/audit/export.csv"))
    changed = next(r for r in rows if r["action"] == "patient.phase_change")
    assert changed["patient_record_number"] == "CANARY-1" and changed["summary"].startswith("[clinical detail")
    assert "Zzreason" not in repr(rows) and "Preparation" not in repr(rows)
    people.outsider.is_admin = True
    db.session.commit()
    login(client, people.outsider)
    assert "CANARY-1" not in client.get("/audit/export.csv").get_data(as_text=True)
    login(client, people.lead)
    assert client.get("/audit/export.csv").status_code == 403


def test_the_csv_export_defuses_spreadsheet_formulas_and_refuses_bad_filters(client, people):
    audit.record(people.admin, "test.event", '=HYPERLINK("http://evil.example")')
    db.session.commit()
    login(client, people.admin)
    rows = _csv(client.get("/audit/export.csv"))
    assert any(r["summary"].startswith("'=HYPERLINK") for r in rows)
    assert client.get("/audit/export.csv?end=9999-12-31&start=0001-01-01").status_code == 200
    assert client.get("/audit/export.csv?start=2026-02-30").status_code == 400

"""The single-patient PDF reports: what each holds, the signed-only rule and the DRAFT watermark, the header and
footer on every page, access, audit, bad input and constant SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import audit_actions, count_queries, login
from tests.reports_data import CRISIS, course, extra_sessions, pages, text, write_plan
from tracker.extensions import db
from tracker.factories import clear_for_dosing, complete_dosing, walk_to
from tracker.models import AuditEvent, Clinic, Phase, SessionKind, TherapySession

CANARY = "Zzpatient"
HEADER = ("Canary Zzpatient", "Record CANARY-1", "Confidential — contains health information", "Generated")


def dosing_session(people, protocols, sign: bool = True) -> TherapySession:
    clear_for_dosing(people.patient, people.lead, protocols)
    walk_to(people.patient, Phase.DOSING, people.lead, protocols)
    session = complete_dosing(people.patient, people.lead, protocols, sign=sign)
    db.session.commit()
    return session


def assert_every_page_has_the_header(pdf: bytes, clinic: str) -> list[str]:
    texts = [" ".join(page.split()) for page in pages(pdf)]
    for number, page in enumerate(texts, start=1):
        for part in (*HEADER, clinic, f"Page {number} of {len(texts)}"):
            assert part in page, (number, part)
    return texts


def get_pdf(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.text[:500]
    assert response.mimetype == "application/pdf"
    return response.data


# What each report holds -----------------------------------------------------------------------------------------


def test_the_integration_plan_holds_the_plan_sessions_contacts_and_crisis_line(client, people):
    write_plan(people.patient, people.lead)
    db.session.commit()
    login(client, people.lead)
    pdf = get_pdf(client, f"/patients/{people.patient.id}/reports/plan.pdf")
    texts = assert_every_page_has_the_header(pdf, people.clinic.name)
    assert len(texts) <= 2
    body = " ".join(texts)
    for part in (
        "Your integration plan",
        "Insights and themes",
        "Feeling safe in my body.",
        "Warning signs and crisis plan",
        "If you are in crisis",
        CRISIS,
        "Your next sessions",
        "Your support contact",
        "Lena Lead",
    ):
        assert part in body, part


def test_a_plan_that_is_not_written_is_a_409_with_a_message(client, people):
    login(client, people.lead)
    response = client.get(f"/patients/{people.patient.id}/reports/plan.pdf")
    assert response.status_code == 409
    assert "No integration plan has been written" in response.text


def test_the_summary_holds_identity_timeline_screening_sessions_trends_alerts_and_plan(client, people, protocols):
    session = dosing_session(people, protocols)
    write_plan(people.patient, people.lead)
    db.session.commit()
    login(client, people.supervisor)
    pdf = get_pdf(client, f"/patients/{people.patient.id}/reports/summary.pdf")
    texts = assert_every_page_has_the_header(pdf, people.clinic.name)
    body = " ".join(texts)
    for part in (
        "Patient summary",
        "1980-05-17",
        "MDMA",
        "Phase timeline",
        "Preparation → Dosing",
        "Screening",
        "eligible",
        "Medication review",
        "Sessions",
        "Dosing 1 of 3",
        "120 mg",
        "4 readings",
        "signed",
        "Outcome measures",
        "PCL-5",
        "Open safety alerts",
        "None open",
        "Current integration plan",
        "Feeling safe in my body.",
    ):
        assert part in body, part
    assert str(session.id)  # the session exists; its record has its own report


def test_a_signed_note_record_holds_dose_lot_vitals_discharge_and_signature(client, people, protocols):
    session = dosing_session(people, protocols)
    login(client, people.co_therapist)
    pdf = get_pdf(client, f"/patients/{people.patient.id}/sessions/{session.id}/record.pdf")
    body = " ".join(assert_every_page_has_the_header(pdf, people.clinic.name))
    for part in (
        "Dosing 1 of 3",
        "Administration",
        "120 mg",
        "Lot number",
        "Vital signs",
        "Blood pressure",
        "Adverse events",
        "Discharge",
        "Signed by Lena Lead",
        "SHA-256",
    ):
        assert part in body, part
    assert "DRAFT" not in body


# Signed only, or a draft -----------------------------------------------------------------------------------------


def test_an_unsigned_note_is_refused_as_a_record_unless_a_draft_is_asked_for(client, people, protocols):
    session = dosing_session(people, protocols, sign=False)
    login(client, people.lead)
    url = f"/patients/{people.patient.id}/sessions/{session.id}/record.pdf"
    refused = client.get(url)
    assert refused.status_code == 409
    assert "not signed" in refused.text
    pdf = get_pdf(client, url + "?draft=1")
    texts = pages(pdf)
    for page in texts:
        assert "DRAFT" in page
    assert "DRAFT — not signed" in texts[0]
    assert "Not signed." in "\n".join(texts)


def test_the_summary_leaves_out_unsigned_notes_unless_a_draft_is_asked_for(client, people, protocols):
    dosing_session(people, protocols, sign=False)
    login(client, people.lead)
    signed_only = text(get_pdf(client, f"/patients/{people.patient.id}/reports/summary.pdf"))
    assert "not signed (left out)" in signed_only
    assert "120 mg" not in signed_only
    assert "DRAFT" not in signed_only
    draft = get_pdf(client, f"/patients/{people.patient.id}/reports/summary.pdf?draft=1")
    assert "120 mg" in text(draft)
    assert all("DRAFT" in page for page in pages(draft))


def test_private_process_notes_never_print(client, people, protocols):
    session = dosing_session(people, protocols)
    login(client, people.lead)
    client.post(f"/patients/{people.patient.id}/sessions/{session.id}/private-notes")
    from tracker.models import ProcessNote

    note = db.session.scalar(select(ProcessNote).where(ProcessNote.session_id == session.id))
    note.body = "PRIVATE-PROCESS-SECRET"
    db.session.commit()
    for url in (
        f"/patients/{people.patient.id}/sessions/{session.id}/record.pdf?draft=1",
        f"/patients/{people.patient.id}/reports/summary.pdf?draft=1",
    ):
        assert "PRIVATE-PROCESS-SECRET" not in text(get_pdf(client, url))


def test_typed_text_is_printed_as_text(client, people):
    write_plan(people.patient, people.lead, **{"Insights and themes": "<b>bold</b> & <i>plain</i>"})
    db.session.commit()
    login(client, people.lead)
    assert "<b>bold</b> & <i>plain</i>" in text(get_pdf(client, f"/patients/{people.patient.id}/reports/plan.pdf"))


# Access and audit ------------------------------------------------------------------------------------------------

EXPECTED = {
    "lead": 200,
    "co_therapist": 200,
    "supervisor": 200,
    "other_therapist": 404,
    "other_supervisor": 404,
    "admin": 403,
    "outsider": 404,
}


@pytest.fixture
def report_urls(people, protocols) -> list[str]:
    session = dosing_session(people, protocols)
    write_plan(people.patient, people.lead)
    db.session.commit()
    base = f"/patients/{people.patient.id}"
    return [f"{base}/reports/plan.pdf", f"{base}/reports/summary.pdf", f"{base}/sessions/{session.id}/record.pdf"]


@pytest.mark.parametrize("persona", list(EXPECTED))
def test_only_the_care_team_and_supervisor_get_a_report(client, people, report_urls, persona):
    login(client, getattr(people, persona))
    for url in report_urls:
        response = client.get(url)
        assert response.status_code == EXPECTED[persona], url
        if EXPECTED[persona] != 200:
            assert CANARY.encode() not in response.data
            assert not response.data.startswith(b"%PDF")


def test_each_export_is_audited_with_the_report_and_patient(client, people, report_urls):
    login(client, people.supervisor)
    before = len(audit_actions())
    for url in report_urls:
        client.get(url)
    client.get(report_urls[1] + "?draft=1")
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(4)).all()[::-1]
    assert len(audit_actions()) == before + 4
    assert [r.action for r in rows] == ["report.exported"] * 4
    assert [r.data["report"] for r in rows] == ["plan", "summary", "record", "summary"]
    assert [r.data["draft"] for r in rows] == [False, False, False, True]
    assert {r.patient_id for r in rows} == {people.patient.id}
    assert {r.actor_id for r in rows} == {people.supervisor.id}


def test_a_refused_export_is_audited_as_a_refusal(client, people, report_urls):
    login(client, people.other_therapist)
    client.get(report_urls[0])
    assert audit_actions()[-1] == "patient.access_denied"


# Bad input -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["?draft=2", "?draft=yes", "?draft=-1"])
def test_a_bad_draft_flag_is_a_400_with_a_message(client, people, report_urls, query):
    login(client, people.lead)
    response = client.get(report_urls[1] + query)
    assert response.status_code == 400
    assert "draft must be 0 or 1" in response.text


def test_an_unknown_session_or_report_is_a_404(client, people, report_urls):
    login(client, people.lead)
    assert client.get(f"/patients/{people.patient.id}/sessions/999999/record.pdf").status_code == 404
    assert client.get(f"/patients/{people.patient.id}/reports/everything.pdf").status_code == 404


# Constant SQL ----------------------------------------------------------------------------------------------------


def test_the_summary_runs_the_same_queries_for_a_short_and_a_long_course(client, people, protocols):
    login(client, people.lead)
    course(people.patient, people.lead, protocols, dosings=1, measures=1)
    write_plan(people.patient, people.lead)
    db.session.commit()
    url = f"/patients/{people.patient.id}/reports/summary.pdf"
    with count_queries() as short:
        get_pdf(client, url)
    extra_sessions(people.patient, people.lead, 6)
    course_more = db.session.get(type(people.patient), people.patient.id)
    from tracker.factories import record_measure

    for _ in range(5):
        record_measure(course_more, people.lead, "pcl5")
    db.session.commit()
    with count_queries() as long:
        get_pdf(client, url)
    assert len(long) == len(short)


def test_the_clinic_name_is_printed(client, people):
    write_plan(people.patient, people.lead)
    clinic = db.session.get(Clinic, people.clinic.id)
    clinic.phone = "020 7946 0000"
    db.session.commit()
    login(client, people.lead)
    body = text(get_pdf(client, f"/patients/{people.patient.id}/reports/plan.pdf"))
    assert "020 7946 0000" in body


def test_the_print_buttons_are_on_the_patient_plan_and_session_pages(client, people, report_urls, protocols):
    login(client, people.lead)
    pid = people.patient.id
    assert f'href="/patients/{pid}/reports/summary.pdf"' in client.get(f"/patients/{pid}").text
    assert f'href="/patients/{pid}/reports/plan.pdf"' in client.get(f"/patients/{pid}/plan").text
    session_id = report_urls[2].split("/")[4]
    page = client.get(f"/patients/{pid}/sessions/{session_id}").text
    assert f'href="/patients/{pid}/sessions/{session_id}/record.pdf"' in page
    assert 'href="/reports/batch"' in page
    assert db.session.scalar(select(TherapySession.kind).where(TherapySession.id == int(session_id))) is (
        SessionKind.DOSING
    )


def test_every_reports_route_is_covered_by_these_access_tests(app):
    """A new report route fails here until it is added to the access tests (here and tests/test_reports_batch.py)."""
    covered = {
        "reports.plan_pdf",
        "reports.summary_pdf",
        "reports.record_pdf",
        "reports.batch",
        "reports.start_job",
        "reports.job_status",
        "reports.job_pdf",
    }
    assert {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("reports.")} == covered

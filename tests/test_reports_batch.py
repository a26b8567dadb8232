"""Batch printing: one PDF with each patient's report in the stated order; a patient outside the user's care
refuses the whole batch, saying how many; the background job with its progress; access, audit and bad input."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import audit_actions, login
from tests.reports_data import pages, write_plan
from tracker.extensions import db
from tracker.factories import make_patient
from tracker.models import AuditEvent, SessionKind, TherapySession
from tracker.models.base import utcnow

CANARY = "Zzpatient"


@pytest.fixture
def caseload(people, protocols) -> list:
    """The canary patient and three more of the lead's patients, each with a plan; returned in print order."""
    others = [
        make_patient(people.lead, people.co_therapist, protocols=protocols, given_name=given, family_name=family)
        for given, family in (("Yan", "Young"), ("Ann", "Adams"), ("Max", "Moore"))
    ]
    for patient in [people.patient, *others]:
        write_plan(patient, people.lead)
    db.session.commit()
    return sorted([people.patient, *others], key=lambda p: (p.family_name, p.given_name, p.record_number))


def ticked(ids, kind: str = "plan", **extra) -> dict:
    return {"kind": kind, "selection": "ticked", "patient_ids": [str(i) for i in ids], "draft": "0", **extra}


def names_per_page(pdf: bytes, patients) -> list[str]:
    found = []
    for page in pages(pdf):
        flat = " ".join(page.split())
        found.append(next(p.family_name for p in patients if f"{p.full_name} · Record {p.record_number}" in flat))
    return found


def test_ticked_patients_print_in_order_each_with_its_own_page_numbers(client, people, caseload):
    login(client, people.lead)
    shuffled = [caseload[2].id, caseload[0].id, caseload[3].id, caseload[1].id]
    response = client.post("/reports/batch", data=ticked(shuffled))
    assert response.status_code == 200, response.text[:300]
    assert response.mimetype == "application/pdf"
    texts = pages(response.data)
    assert names_per_page(response.data, caseload) == [p.family_name for p in caseload]
    assert all("Page 1 of 1" in " ".join(t.split()) for t in texts)
    assert all("Your integration plan" in t for t in texts)


def test_a_batch_of_one_patient_without_a_plan_prints_the_page_that_says_so_at_both_doors(client, people, protocols):
    """A batch that came down to one such patient raised the single plan's NothingToPrint: a 500."""
    fresh = make_patient(people.lead, people.co_therapist, protocols=protocols, family_name="Planless")
    db.session.commit()
    login(client, people.lead)
    response = client.post("/reports/batch", data=ticked([fresh.id]))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "No integration plan has been written yet" in " ".join(pages(response.data))
    started = client.post("/reports/batch/jobs", data=ticked([fresh.id]))
    assert started.status_code == 202
    assert wait_ready(client, started.get_json()["status_url"])["ready"] is True
    alone = client.get(f"/patients/{fresh.id}/reports/plan.pdf")  # the patient's own plan PDF still says why not
    assert alone.status_code == 409 and "No integration plan has been written for this patient yet." in alone.text


def test_summaries_can_be_batched(client, people, caseload):
    login(client, people.supervisor)
    response = client.post("/reports/batch", data=ticked([p.id for p in caseload[:2]], kind="summary"))
    assert response.status_code == 200
    assert "Patient summary" in " ".join(pages(response.data))


def test_a_batch_file_is_named_in_words_and_on_the_clinics_clock(client, people, caseload):
    people.clinic.time_zone = "Australia/Sydney"
    db.session.commit()
    with time_machine.travel(datetime(2026, 12, 3, 14, 7, tzinfo=UTC), tick=False):
        login(client, people.lead)
        response = client.post("/reports/batch", data=ticked([p.id for p in caseload[:2]], kind="summary"))
    assert response.status_code == 200
    assert 'filename="summaries-20261204-0107.pdf"' in response.headers["Content-Disposition"]  # AEDT, UTC+11


def test_each_patient_of_a_batch_is_audited_with_the_batch(client, people, caseload):
    login(client, people.lead)
    client.post("/reports/batch", data=ticked([p.id for p in caseload]))
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "report.exported")).all()
    assert sorted(r.patient_id for r in rows) == sorted(p.id for p in caseload)
    assert len({r.data["batch"] for r in rows}) == 1
    assert {r.data["report"] for r in rows} == {"plan"}


@pytest.mark.parametrize("persona", ["other_therapist", "other_supervisor", "outsider"])
def test_a_patient_outside_the_users_care_refuses_the_whole_batch(client, people, caseload, protocols, persona):
    user = getattr(people, persona)
    login(client, user)
    own = [make_patient(user, protocols=protocols, family_name="Ownpatient")] if user.is_therapist else []
    for patient in own:
        write_plan(patient, user)
    db.session.commit()
    response = client.post("/reports/batch", data=ticked([p.id for p in own] + [people.patient.id]))
    assert response.status_code == 404
    assert "1 of the selected patients is not in your care, so nothing was printed" in response.text
    assert CANARY not in response.text
    assert not response.data.startswith(b"%PDF")
    assert audit_actions()[-1] == "report.batch_refused"
    assert "report.exported" not in audit_actions()


def test_a_forged_id_counts_as_refused(client, people, caseload):
    login(client, people.lead)
    response = client.post("/reports/batch", data=ticked([caseload[0].id, 987654, 987655]))
    assert response.status_code == 404
    assert "2 of the selected patients are not in your care" in response.text


def test_patients_seen_today(client, people, caseload):
    seen = caseload[1:3]
    for patient in seen:
        db.session.add(
            TherapySession(
                patient_id=patient.id,
                kind=SessionKind.PREPARATION,
                held_at=utcnow() - timedelta(seconds=5),
                duration_minutes=60,
                logged_by_id=people.lead.id,
            )
        )
    db.session.commit()
    login(client, people.co_therapist)
    response = client.post(
        "/reports/batch", data={"kind": "plan", "selection": "seen", "draft": "0", "day": utcnow().date().isoformat()}
    )
    assert response.status_code == 200
    assert names_per_page(response.data, caseload) == [p.family_name for p in seen]


def test_a_therapists_caseload_in_a_phase(client, people, caseload):
    login(client, people.supervisor)
    data = {
        "kind": "plan",
        "selection": "caseload",
        "therapist_id": str(people.lead.id),
        "phase": "preparation",
        "draft": "0",
    }
    response = client.post("/reports/batch", data=data)
    assert response.status_code == 200
    assert names_per_page(response.data, caseload) == [p.family_name for p in caseload]
    login(client, people.other_supervisor)  # the lead is not their supervisee: nothing, and no count, of theirs
    refused = client.post("/reports/batch", data=data)
    assert refused.status_code == 422
    message = refused.text.split('id="batch-message">')[1].split("<")[0]
    assert message == "No patient matches this selection, so there is nothing to print."
    assert CANARY not in refused.text


def test_a_colleagues_caseload_gives_only_the_patients_shared_with_the_user(client, people, caseload, protocols):
    """The co-therapist shares the lead's four patients; a fifth patient of the lead is not theirs: it is left out,
    not counted in a refusal (which would tell them the size of the lead's caseload)."""
    make_patient(people.lead, protocols=protocols, given_name="Una", family_name="Unshared")
    db.session.commit()
    login(client, people.co_therapist)
    data = {
        "kind": "plan",
        "selection": "caseload",
        "therapist_id": str(people.lead.id),
        "phase": "preparation",
        "draft": "0",
    }
    response = client.post("/reports/batch", data=data)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert names_per_page(response.data, caseload) == [p.family_name for p in caseload]
    assert "report.batch_refused" not in audit_actions()


def test_an_empty_selection_says_so(client, people):
    login(client, people.lead)
    response = client.post(
        "/reports/batch", data={"kind": "plan", "selection": "seen", "draft": "0", "day": "2001-01-01"}
    )
    assert response.status_code == 422
    assert "No patient matches this selection" in response.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "everything", "selection": "seen", "day": "2026-01-01"}, "Not a valid choice"),
        ({"kind": "plan", "selection": "seen", "day": "2026-13-45"}, "Not a valid date value"),
        ({"kind": "plan", "selection": "seen", "day": ""}, "Give the day"),
        ({"kind": "plan", "selection": "caseload", "phase": "preparation"}, "Choose the therapist"),
        ({"kind": "plan", "selection": "caseload", "therapist_id": "x"}, "could not coerce"),
        ({"kind": "plan", "selection": "caseload", "therapist_id": "1", "phase": "asleep"}, "Not a valid choice"),
        ({"kind": "plan", "selection": "ticked"}, "Tick at least one patient"),
        ({"kind": "plan", "selection": "ticked", "patient_ids": "abc"}, "could not be coerced"),
        # A 400-digit id reached SQL (a 500); another script's digit was read as patient 1.
        ({"kind": "plan", "selection": "ticked", "patient_ids": "9" * 400}, "could not be coerced"),
        ({"kind": "plan", "selection": "ticked", "patient_ids": "\u0661"}, "could not be coerced"),
        ({"kind": "plan", "selection": "everyone"}, "Not a valid choice"),
    ],
)
def test_bad_input_is_a_422_with_the_message_by_the_field(client, people, data, message):
    login(client, people.lead)
    response = client.post("/reports/batch", data={"draft": "0", **data})
    assert response.status_code == 422
    assert message in response.text


BATCH_PAGE = {
    "lead": 200,
    "co_therapist": 200,
    "supervisor": 200,
    "other_therapist": 200,
    "other_supervisor": 200,
    "admin": 403,
    "outsider": 200,
}


@pytest.mark.parametrize("persona", list(BATCH_PAGE))
def test_the_batch_page_lists_only_the_users_patients(client, people, persona):
    login(client, getattr(people, persona))
    response = client.get("/reports/batch")
    assert response.status_code == BATCH_PAGE[persona]
    assert (CANARY in response.text) is (persona in ("lead", "co_therapist", "supervisor"))


def test_the_tick_list_says_when_it_is_cut_short(client, people, caseload, monkeypatch):
    from tracker.reports import views

    login(client, people.lead)
    assert 'id="tick-limit"' not in client.get("/reports/batch").text
    monkeypatch.setattr(views, "PICKABLE", 2)
    page = client.get("/reports/batch").text
    assert 'id="tick-limit"' in page and "Only the first 2 by name are listed here" in page


EXPORT = {
    "lead": 200,
    "co_therapist": 200,
    "supervisor": 200,
    "other_therapist": 404,
    "other_supervisor": 404,
    "admin": 403,
    "outsider": 404,
}


@pytest.mark.parametrize("persona", list(EXPORT))
def test_a_batch_with_the_canary_patient(client, people, caseload, persona):
    login(client, getattr(people, persona))
    response = client.post("/reports/batch", data=ticked([people.patient.id]))
    assert response.status_code == EXPORT[persona]
    if EXPORT[persona] != 200:
        assert CANARY.encode() not in response.data


# The background job ----------------------------------------------------------------------------------------------


def wait_ready(client, status_url: str) -> dict:
    for _ in range(200):
        state = client.get(status_url).get_json()
        if state["ready"] or state["error"]:
            return state
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_a_job_reports_progress_then_gives_the_pdf_once_to_its_owner_only(client, app, people, caseload):
    login(client, people.lead)
    started = client.post("/reports/batch/jobs", data=ticked([p.id for p in caseload]))
    assert started.status_code == 202
    job = started.get_json()
    assert job["total"] == 4
    other = app.test_client()
    login(other, people.co_therapist)
    assert other.get(job["status_url"]).status_code == 404
    state = wait_ready(client, job["status_url"])
    assert state == {"done": 4, "total": 4, "ready": True, "error": None}
    assert other.get(job["download_url"]).status_code == 404
    download = client.get(job["download_url"])
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert names_per_page(download.data, caseload) == [p.family_name for p in caseload]
    assert client.get(job["download_url"]).status_code == 404


def test_a_refused_job_says_how_many_as_json(client, people, caseload):
    login(client, people.other_therapist)
    response = client.post("/reports/batch/jobs", data=ticked([people.patient.id]))
    assert response.status_code == 404
    assert "1 of the selected patients is not in your care" in response.get_json()["error"]
    bad = client.post("/reports/batch/jobs", data={"kind": "plan", "selection": "ticked", "draft": "0"})
    assert bad.status_code == 422
    assert "Tick at least one patient" in bad.get_json()["error"]


@pytest.mark.parametrize("url", ["/reports/batch/jobs/nope", "/reports/batch/jobs/nope/pdf"])
def test_an_unknown_job_is_a_404(client, people, url):
    login(client, people.lead)
    assert client.get(url).status_code == 404


def test_admins_get_403_on_jobs(client, people):
    login(client, people.admin)
    assert client.post("/reports/batch/jobs", data=ticked([1])).status_code == 403
    assert client.get("/reports/batch/jobs/nope").status_code == 403


def test_a_patient_opened_under_emergency_access_is_flagged_in_the_batch_audit(client, people, caseload):
    from tests.conftest import PASSWORD

    login(client, people.other_therapist)
    granted = client.post(
        "/emergency-access",
        data={"record_number": "CANARY-1", "password": PASSWORD, "reason": "Crisis call while the care team is away"},
    )
    assert granted.status_code == 302
    response = client.post("/reports/batch", data=ticked([people.patient.id]))
    assert response.status_code == 200
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "report.exported"))
    assert row.patient_id == people.patient.id
    assert row.data["emergency_access"] is True


def test_a_batch_bigger_than_the_synchronous_limit_goes_to_the_worker(client, app, people, caseload, monkeypatch):
    monkeypatch.setitem(app.config, "SYNC_BATCH_MAX", 3)
    login(client, people.lead)
    response = client.post("/reports/batch", data=ticked([p.id for p in caseload]))
    assert response.status_code == 202 and response.mimetype == "text/html"
    assert "4 reports are being prepared in the background" in response.text
    download = re.search(r'href="(/reports/batch/jobs/[^"]+/pdf)"', response.text).group(1)
    pdf = client.get(download)  # the suite's queue ran the job at once
    assert pdf.status_code == 200 and names_per_page(pdf.data, caseload) == [p.family_name for p in caseload]
    small = client.post("/reports/batch", data=ticked([p.id for p in caseload[:3]]))
    assert small.status_code == 200 and small.mimetype == "application/pdf"


def test_a_batch_whose_render_fails_leaves_no_audit_row_saying_it_was_printed(
    client, app, people, caseload, monkeypatch
):
    from tracker.reports import renderer

    def broken(*args, **kwargs):
        raise RuntimeError("the renderer died")

    monkeypatch.setattr(renderer, "render_each", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    login(client, people.lead)
    before = db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.patient_id.is_not(None)))
    response = client.post("/reports/batch", data=ticked([p.id for p in caseload]))
    assert response.status_code == 500
    after = db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.patient_id.is_not(None)))
    assert after == before

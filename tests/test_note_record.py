"""The dosing note's record is written once (tracker/notes/record.py): the session page and the printed record
show the same rows, and a field added to the table reaches both without touching a template."""

from __future__ import annotations

import html

from tests.conftest import login
from tests.reports_data import pages
from tests.test_reports import dosing_session, get_pdf
from tracker.extensions import db
from tracker.models import SessionNote
from tracker.notes import record
from tracker.notes.fields import Line as Field


def _note(session_id: int) -> SessionNote:
    from sqlalchemy import select

    found = db.session.scalar(select(SessionNote).where(SessionNote.session_id == session_id))
    assert found is not None
    return found


def test_the_page_and_the_pdf_print_every_row_of_the_record(client, people, protocols):
    session = dosing_session(people, protocols)
    note = _note(session.id)
    rows = record.rows(record.ADMINISTRATION + record.DISCHARGE, note, people.clinic.zone)
    assert [r.label for r in rows][:2] == ["Substance", "Dose"] and "Route" in [r.label for r in rows]
    login(client, people.lead)
    page = html.unescape(client.get(f"/patients/{people.patient.id}/sessions/{session.id}").text)
    pdf = " ".join(
        " ".join(p.split())
        for p in pages(get_pdf(client, f"/patients/{people.patient.id}/sessions/{session.id}/record.pdf"))
    )
    for row in rows:
        assert f">{row.label}</dt>" in page and f">{row.value}</dd>" in page, row
        assert row.label in pdf and row.value in pdf, row


def test_a_field_added_to_the_table_reaches_the_page_and_the_pdf(monkeypatch, client, people, protocols):
    session = dosing_session(people, protocols)
    added = Field("Observed by", lambda note, tz: "the session monitor")
    monkeypatch.setattr(record, "ADMINISTRATION", (*record.ADMINISTRATION, added))
    login(client, people.lead)
    page = client.get(f"/patients/{people.patient.id}/sessions/{session.id}").text
    pdf = " ".join(pages(get_pdf(client, f"/patients/{people.patient.id}/sessions/{session.id}/record.pdf")))
    assert ">Observed by</dt>" in page and "the session monitor" in page
    assert "Observed by" in pdf and "the session monitor" in " ".join(pdf.split())

"""The dosing note's table (tracker/notes/fields.py) drives every door a dosing field passes: the form asks for each
field it lists, saving copies them, the audit diff holds typed values but only the names of free text, the signed
content holds every column, and the record prints each field's line."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import login
from tests.session_data import dosing_note, held_session, in_dosing, session_url
from tracker.extensions import db
from tracker.models import AuditEvent, SessionKind, SessionNote
from tracker.notes import fields, record
from tracker.notes.fields import DOSING, DOSING_FIELDS, Section
from tracker.notes.forms import DosingNoteForm


def test_the_form_asks_for_every_field_the_table_gives_an_input():
    declared = {name for name in dir(DosingNoteForm) if name in {f.name for f in DOSING}}
    assert declared == {f.name for f in DOSING if f.input is not None} == set(DOSING_FIELDS)
    assert "dose_total_mg" not in DOSING_FIELDS  # computed when saving, never typed


def test_the_record_prints_the_table_lines_in_order():
    lines = [f.line for f in DOSING if f.line is not None]
    assert (*record.ADMINISTRATION, *record.DISCHARGE) == tuple(lines)
    assert [line.label for line in record.DISCHARGE] == [
        f.line.label for f in DOSING if f.section is Section.DISCHARGE and f.line is not None
    ]


def test_every_column_of_the_table_is_signed(people, protocols):
    from tracker.factories import complete_dosing

    in_dosing(people.patient, people.lead, protocols)
    session = complete_dosing(people.patient, people.lead, protocols, sign=False)
    note = db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id))
    assert note is not None
    content = fields.note_content(note, session)
    assert set(content["dosing"]) == {f.name for f in DOSING}


def test_saving_copies_the_fields_and_the_audit_keeps_free_text_out(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = held_session(people.patient, people.lead, protocols, SessionKind.DOSING)
    login(client, people.lead)
    posted = dosing_note()
    response = client.post(session_url(people.patient, session, "/note"), data=posted)
    assert response.status_code == 302
    note = db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id))
    assert note is not None and note.lot_number == "LOT-A1" and note.escort_name == "Sam (partner), driving"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "note.create")).all()[-1]
    assert {name for name in DOSING_FIELDS if posted.get(name)} <= set(event.data["fields"])
    assert "lot_number" in event.data["changes"]  # a typed value
    assert not {f.name for f in DOSING if f.text} & set(event.data["changes"])  # free text: its name only
    assert "Sam (partner)" not in str(event.data)

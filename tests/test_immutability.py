"""Records that cannot be rewritten, whatever the SQL: every immutable table refuses SQLite's INSERT OR REPLACE (which
deletes the old row without firing DELETE triggers) and PostgreSQL's TRUNCATE (which fires no row triggers), with
and without CASCADE. The issue's sweep changed a signed note, an audit row, a measure result and a plan version with
one REPLACE, and emptied the trail and every signed note with one TRUNCATE ... CASCADE.

The rows come from the demo clinics, which hold every kind of record; a table without an immutable row to try fails
the test rather than passing it unseen.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import joinedload, selectinload

from tracker.extensions import db
from tracker.models import Patient, SessionNote
from tracker.models.base import utcnow

SIGNED_NOTE = "SELECT id FROM session_note WHERE signed_at IS NOT NULL"
SIGNED_SESSION = "SELECT session_id FROM session_note WHERE signed_at IS NOT NULL"

#: table -> (a WHERE clause picking one of its immutable rows, a column to change in the replacement).
IMMUTABLE: dict[str, tuple[str, str]] = {
    "audit_event": ("1 = 1", "summary"),
    "session_note": ("signed_at IS NOT NULL", "body"),
    "therapy_session": (f"id IN ({SIGNED_SESSION})", "location"),
    "vital_reading": (f"note_id IN ({SIGNED_NOTE})", "heart_rate"),
    "adverse_event": (f"note_id IN ({SIGNED_NOTE})", "description"),
    "session_therapist": (f"session_id IN ({SIGNED_SESSION})", "user_id"),
    "note_addendum": ("1 = 1", "body"),
    "cosign_decision": ("1 = 1", "comment"),
    "measure_result": ("1 = 1", "total"),
    "safety_alert": ("1 = 1", "action_taken"),
    "integration_plan_version": ("1 = 1", "sections"),
    "integration_plan_handout": ("1 = 1", "given_on"),
    "emergency_access": ("1 = 1", "reason"),
}

#: Tables whose rows become immutable when their note is signed: a draft's rows may still be replaced.
WHILE_DRAFT: dict[str, str] = {
    "session_note": "signed_at IS NULL",
    "vital_reading": "note_id IN (SELECT id FROM session_note WHERE signed_at IS NULL)",
}


@pytest.fixture
def demo(protocols: dict[str, Any], people: Any) -> None:
    """The demo clinics (every kind of record), plus the few kinds the demo does not make."""
    from tracker.demo import seed_demo
    from tracker.emergency.services import grant
    from tracker.notes.addenda import add_addendum

    seed_demo(protocols, patients_per_clinic=6)
    grant(
        people.other_therapist, "CANARY-1", "Crisis call from the patient while the team is away", PASSWORD, utcnow(), 4
    )
    note_id = db.session.scalar(text(SIGNED_NOTE + " ORDER BY id LIMIT 1"))
    note = db.session.scalar(
        select(SessionNote)
        .where(SessionNote.id == note_id)
        .options(joinedload(SessionNote.session), joinedload(SessionNote.signed_by), selectinload(SessionNote.addenda))
    )
    patient = db.session.get(Patient, note.session.patient_id)
    add_addendum(
        note.signed_by, patient, note, "Correction", "The lot number was LOT-02.", "demo-password-2026", utcnow()
    )
    _signed_note_with_an_adverse_event(people, protocols)
    db.session.commit()


def _signed_note_with_an_adverse_event(people: Any, protocols: dict[str, Any]) -> None:
    from tests.session_data import in_dosing
    from tracker.factories import complete_dosing
    from tracker.models.note import CosignOutcome, Outcome, Severity
    from tracker.notes import cosign, saving, signing
    from tracker.sessions import queries

    people.lead.needs_cosign = True  # and a co-signature decision on it
    in_dosing(people.patient, people.lead, protocols)
    session = complete_dosing(people.patient, people.lead, protocols, sign=False)
    note = queries.load_note(db.session, session)
    now = utcnow()
    saving.add_adverse_event(
        people.lead,
        people.patient,
        session,
        note,
        saving.AdverseEventInput(
            description="Nausea",
            onset_at=now,
            severity=Severity.MILD,
            serious=False,
            action_taken="Water",
            outcome=Outcome.RECOVERED,
        ),
        now,
    )
    note = queries.load_note(db.session, queries.load_session_or_404(db.session, people.patient, session.id))
    signing.sign_note(people.lead, people.patient, session, note, protocols["mdma-ptsd"], PASSWORD, None, True, now)
    cosign.decide_cosign(
        people.supervisor, people.patient, note, people.lead, CosignOutcome.COSIGNED, None, None, now, password=PASSWORD
    )


PASSWORD = "correct horse battery"


def _one(table: str, where: str) -> dict[str, Any]:
    row = db.session.execute(text(f"SELECT * FROM {table} WHERE {where} LIMIT 1")).mappings().first()  # noqa: S608
    assert row is not None, f"no immutable row of {table} to try"
    return dict(row)


def _replace(table: str, row: dict[str, Any], column: str) -> None:
    """INSERT OR REPLACE the row with one column changed (or, for a link table, the same row again)."""
    values = dict(row)
    if column in values and table != "session_therapist":
        original = values[column]
        values[column] = original + 1 if isinstance(original, int | float) else "REPLACED"
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    db.session.execute(text(f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})"), values)  # noqa: S608


def _rewrite(table: str, row: dict[str, Any], column: str) -> None:
    """The one statement each database has that slips past row triggers: REPLACE on SQLite, TRUNCATE on
    PostgreSQL."""
    if db.engine.dialect.name == "sqlite":
        _replace(table, row, column)
    else:
        db.session.execute(text(f"TRUNCATE {table} CASCADE"))


@pytest.mark.parametrize("table", sorted(IMMUTABLE))
def test_no_statement_rewrites_an_immutable_row(demo, table):
    where, column = IMMUTABLE[table]
    row = _one(table, where)
    count = db.session.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
    with pytest.raises(DBAPIError, match=r"cannot be replaced|cannot be truncated"), db.session.begin_nested():
        _rewrite(table, row, column)
    assert db.session.scalar(text(f"SELECT count(*) FROM {table}")) == count  # noqa: S608
    if db.engine.dialect.name == "sqlite":
        still = db.session.execute(
            text(f"SELECT count(*) FROM {table} WHERE {' AND '.join(f'{k} IS :{k}' for k in row)}"),  # noqa: S608
            row,
        ).scalar_one()
        assert still == 1  # the very row, unchanged


@pytest.mark.parametrize("table", sorted(WHILE_DRAFT))
def test_a_draft_may_still_be_replaced(demo, table):
    row = _one(table, WHILE_DRAFT[table])
    column = "body" if table == "session_note" else "heart_rate"
    with db.session.begin_nested():
        if db.engine.dialect.name == "sqlite":
            _replace(table, row, column)
        else:
            db.session.execute(text(f"UPDATE {table} SET {column} = {column} WHERE id = :id"), row)  # noqa: S608


@pytest.mark.parametrize("table", ["patient", "user_account", "clinic"])
def test_no_cascade_from_a_parent_empties_the_records(demo, table):
    statement = f"TRUNCATE {table} CASCADE" if db.engine.dialect.name == "postgresql" else f"DELETE FROM {table}"  # noqa: S608
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(text(statement))
    assert db.session.scalar(text("SELECT count(*) FROM session_note WHERE signed_at IS NOT NULL"))
    assert db.session.scalar(text("SELECT count(*) FROM audit_event"))


@pytest.mark.parametrize("statement", ["UPDATE emergency_access SET reason = 'edited'", "DELETE FROM emergency_access"])
def test_emergency_access_grants_are_append_only(demo, statement):
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement))

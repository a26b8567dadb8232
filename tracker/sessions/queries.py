"""What the session pages show, loaded in a constant number of queries whatever the number of sessions, readings,
events or addenda. Reads only; changes go through the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask import abort
from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload, with_expression

from tracker.database import AnySession
from tracker.models import (
    AdverseEvent,
    AdverseEventCorrection,
    CosignDecision,
    CosignOutcome,
    NoteAddendum,
    Patient,
    SessionKind,
    SessionNote,
    TherapySession,
    User,
    VitalReading,
)
from tracker.permissions import patient_scope
from tracker.protocols import Protocol
from tracker.sessions.plan import Progress, Tally, progress

RECENT_SESSIONS = 8
FLAGGED_READINGS = 20
#: Unsigned notes older than this are listed for their author.


def _when(entity: Any = TherapySession) -> ColumnElement[datetime]:
    return func.coalesce(entity.held_at, entity.scheduled_at)


def ordinal_expression() -> Any:
    """The session's 1-based position among the patient's sessions of the same kind and cycle, by time then id: a
    correlated subquery, so it works for one row or a page of rows."""
    other = aliased(TherapySession)
    same_cycle = or_(other.cycle == TherapySession.cycle, and_(other.cycle.is_(None), TherapySession.cycle.is_(None)))
    earlier = or_(_when(other) < _when(), and_(_when(other) == _when(), other.id <= TherapySession.id))
    return (
        select(func.count(other.id))
        .where(other.patient_id == TherapySession.patient_id, other.kind == TherapySession.kind, same_cycle, earlier)
        .correlate(TherapySession)
        .scalar_subquery()
    )


@cache
def with_ordinal() -> Any:
    """The loader option filling ``TherapySession.ordinal``: built once (options are immutable), since building it
    clones the whole subquery (about 5 ms of a session page at every view, cProfile)."""
    return with_expression(TherapySession.ordinal, ordinal_expression())


@cache
def _session_page_options() -> tuple[Any, ...]:
    return with_ordinal(), selectinload(TherapySession.present), joinedload(TherapySession.logged_by)


@cache
def _note_page_options() -> tuple[Any, ...]:
    return (
        joinedload(SessionNote.author),
        joinedload(SessionNote.updated_by),
        joinedload(SessionNote.signed_by),
        selectinload(SessionNote.vitals),
        # The corrections in the events' own statement: no statement more for a note with events.
        selectinload(SessionNote.adverse_events)
        .joinedload(AdverseEvent.corrections)
        .joinedload(AdverseEventCorrection.signed_by),
        selectinload(SessionNote.addenda).joinedload(NoteAddendum.signed_by),
        selectinload(SessionNote.cosign_decisions).joinedload(CosignDecision.supervisor),
    )


def load_session_or_404(db: AnySession, patient: Patient, session_id: int) -> TherapySession:
    """One session of ``patient`` with its place in the plan, the therapists present and who logged it.

    :raise 404: no such session for this patient.
    """
    row = db.scalar(
        select(TherapySession)
        .where(TherapySession.id == session_id, TherapySession.patient_id == patient.id)
        .options(*_session_page_options())
    )
    if row is None:
        abort(404)
    return row


def load_note(db: AnySession, therapy_session: TherapySession) -> SessionNote | None:
    """The session's note with everything its page shows: readings, events (with their signed corrections),
    addenda and co-sign decisions (the loader options built once, like ``with_ordinal``)."""
    return db.scalar(
        select(SessionNote).where(SessionNote.session_id == therapy_session.id).options(*_note_page_options())
    )


def follow_ups(db: AnySession, therapy_session: TherapySession) -> list[TherapySession]:
    """The follow-up contacts of the dosing session's cycle."""
    return list(
        db.scalars(
            select(TherapySession)
            .where(
                TherapySession.patient_id == therapy_session.patient_id,
                TherapySession.kind == SessionKind.FOLLOW_UP,
                TherapySession.cycle == therapy_session.cycle,
            )
            .order_by(_when(), TherapySession.id)
        )
    )


def note_states(db: AnySession, session_ids: list[int]) -> dict[int, datetime | None]:
    """Session id -> when its note was signed (None: a draft); sessions without a note are left out."""
    if not session_ids:
        return {}
    rows = db.execute(
        select(SessionNote.session_id, SessionNote.signed_at).where(SessionNote.session_id.in_(session_ids))
    )
    return {session_id: signed_at for session_id, signed_at in rows}


def sessions_query(patient: Patient) -> Select[TherapySession]:
    """The patient's sessions, newest first, with their place in the plan (for ``db.paginate``)."""
    return (
        select(TherapySession)
        .where(TherapySession.patient_id == patient.id)
        .options(with_ordinal(), joinedload(TherapySession.logged_by))
        .order_by(_when().desc(), TherapySession.id.desc())
    )


@dataclass(frozen=True)
class FlaggedReading:
    reading: VitalReading
    session: TherapySession


@dataclass(frozen=True)
class PatientSessions:
    """The sessions part of the patient page."""

    progress: Progress | None
    recent: list[TherapySession]
    notes: dict[int, datetime | None]
    total: int
    next_scheduled: TherapySession | None
    flagged: list[FlaggedReading]
    preparation_held: int


def tallies(db: AnySession, patient: Patient) -> list[Tally]:
    rows = db.execute(
        select(
            TherapySession.kind,
            TherapySession.cycle,
            func.count(TherapySession.id),
            func.count(TherapySession.held_at),
            func.count(SessionNote.signed_at),
        )
        .outerjoin(SessionNote, SessionNote.session_id == TherapySession.id)
        .where(TherapySession.patient_id == patient.id)
        .group_by(TherapySession.kind, TherapySession.cycle)
    )
    return [Tally(kind, cycle, total, held, signed) for kind, cycle, total, held, signed in rows]


def patient_sessions(
    db: AnySession, patient: Patient, protocol: Protocol | None, cycle: int, now: datetime
) -> PatientSessions:
    """Planned against done, the latest sessions, the next scheduled one and out-of-range vital signs: five
    queries whatever the patient's history."""
    counts = tallies(db, patient)
    recent = list(db.scalars(sessions_query(patient).limit(RECENT_SESSIONS)))
    next_scheduled = db.scalar(
        select(TherapySession)
        .where(
            TherapySession.patient_id == patient.id,
            TherapySession.held_at.is_(None),
            TherapySession.scheduled_at >= now - timedelta(hours=12),
        )
        .options(with_ordinal())
        .order_by(TherapySession.scheduled_at, TherapySession.id)
        .limit(1)
    )
    flagged_rows = db.execute(
        select(VitalReading, TherapySession)
        .join(SessionNote, SessionNote.id == VitalReading.note_id)
        .join(TherapySession, TherapySession.id == SessionNote.session_id)
        .where(TherapySession.patient_id == patient.id, VitalReading.flags.is_not(None))
        .options(with_ordinal())
        .order_by(VitalReading.taken_at.desc(), VitalReading.id.desc())
        .limit(FLAGGED_READINGS)
    )
    flagged = [FlaggedReading(reading, therapy_session) for reading, therapy_session in flagged_rows]
    return PatientSessions(
        progress=(
            progress(protocol.sessions, counts, patient.phase, cycle, patient.held_from_phase) if protocol else None
        ),
        recent=recent,
        notes=note_states(db, [s.id for s in recent]),
        total=sum(t.total for t in counts),
        next_scheduled=next_scheduled,
        flagged=flagged,
        preparation_held=sum(t.held for t in counts if t.kind is SessionKind.PREPARATION),
    )


# Co-signature: the same rule as ``notes.cosign.cosign_state``, in SQL. --------------------------------------------


def _addendum_after(decision: Any) -> Any:
    # Correlated to the note two levels up, not only to the enclosing decision: without ``correlate_except``
    # SQLAlchemy adds ``session_note`` to this subquery's FROM, and any addendum of any note would count.
    return (
        exists()
        .where(NoteAddendum.note_id == SessionNote.id, NoteAddendum.signed_at > decision.decided_at)
        .correlate_except(NoteAddendum)
    )


def cosign_pending() -> ColumnElement[bool]:
    """Signed, needing a co-signature, and no decision stands (none yet, or an addendum came after each)."""
    decision = aliased(CosignDecision)
    standing = exists().where(decision.note_id == SessionNote.id, ~_addendum_after(decision))
    return and_(SessionNote.signed_at.is_not(None), SessionNote.cosign_required.is_(True), ~standing)


def cosign_returned() -> ColumnElement[bool]:
    """The latest decision returned the note and no addendum has answered it yet."""
    decision, later = aliased(CosignDecision), aliased(CosignDecision)
    # Tied to the decision's note, not to ``SessionNote``: this EXISTS sits inside the next one, and SQLAlchemy
    # correlates a subquery with its immediately enclosing SELECT only, so ``SessionNote`` here would be a table of
    # its own (every note of the clinic: any later decision anywhere would hide the return).
    newer = exists().where(
        later.note_id == decision.note_id,
        or_(
            later.decided_at > decision.decided_at,
            and_(later.decided_at == decision.decided_at, later.id > decision.id),
        ),
    )
    return exists().where(
        decision.note_id == SessionNote.id,
        decision.decision == CosignOutcome.RETURNED,
        ~newer,
        ~_addendum_after(decision),
    )


def _note_list(condition: ColumnElement[bool], actor: User) -> Select[SessionNote]:
    return (
        select(SessionNote)
        .join(TherapySession, TherapySession.id == SessionNote.session_id)
        .join(Patient, Patient.id == TherapySession.patient_id)
        .where(condition, patient_scope(actor))
        .options(
            selectinload(SessionNote.session).options(with_ordinal(), joinedload(TherapySession.patient)),
            joinedload(SessionNote.signed_by),
        )
    )


def cosign_queue(actor: User) -> Select[SessionNote]:
    """Notes signed by ``actor``'s supervisees that wait for ``actor``'s co-signature, oldest first."""
    signer = aliased(User)
    return (
        _note_list(cosign_pending(), actor)
        .join(signer, signer.id == SessionNote.signed_by_id)
        .where(signer.supervisor_id == actor.id)
        .order_by(SessionNote.signed_at, SessionNote.id)
    )


MY_LISTS = ("overdue", "returned", "waiting")


def my_notes(actor: User, which: str, now: datetime, overdue_after: timedelta) -> Select[TherapySession, SessionNote]:
    """``actor``'s own notes needing attention: ``overdue`` (sessions held over ``overdue_after`` ago — the
    dashboard's window, the clinic's ``attention_note_unsigned_hours``, so both lists agree — whose note they
    started, or logged without starting one, and nobody has signed), ``returned`` by their supervisor, or
    ``waiting`` for co-signature. Rows are (session, note or None)."""
    base = (
        select(TherapySession, SessionNote)
        .outerjoin(SessionNote, SessionNote.session_id == TherapySession.id)
        .join(Patient, Patient.id == TherapySession.patient_id)
        .where(patient_scope(actor))
        .options(with_ordinal(), joinedload(TherapySession.patient))
    )
    if which == "overdue":
        mine = or_(
            SessionNote.author_id == actor.id, and_(SessionNote.id.is_(None), TherapySession.logged_by_id == actor.id)
        )
        return base.where(TherapySession.held_at < now - overdue_after, SessionNote.signed_at.is_(None), mine).order_by(
            TherapySession.held_at, TherapySession.id
        )
    condition = cosign_returned() if which == "returned" else cosign_pending()
    return base.where(SessionNote.signed_by_id == actor.id, condition).order_by(SessionNote.signed_at, SessionNote.id)


def count(db: AnySession, query: Select[Any, Any] | Select[Any]) -> int:
    return db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0

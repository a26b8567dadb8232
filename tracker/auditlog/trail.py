"""Which audit rows a user may read, and which of them with their clinical detail: the one rule behind the audit
page and its CSV export.

- An admin reads the clinic's whole trail. Failed sign-ins with an account name nobody has belong to no clinic
  (nothing says which clinic a guesser aimed at), so no clinic's admin sees them: they would show one clinic when and
  from where another clinic's staff mistype their names. The server's operator reads them with ``flask audit
  unknown-names``. What was typed is not kept: a password typed into the name box would otherwise sit in the trail.
- A supervisor reads the rows about the patients they may open.
- Anyone reads the clinical detail of a row (its summary and changes) only when they may open its patient
  (``tracker.permissions.patient_scope``): an account holding admin and supervisor sees who opened any patient of
  the clinic, but what was done only for patients in its care.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select

from tracker.clinics import clinic_of
from tracker.clinictime import start_of_day
from tracker.extensions import db
from tracker.models import AuditEvent, Patient, User
from tracker.permissions import patient_scope

#: A failed sign-in with a name no account has: recorded with no clinic, no actor and nothing typed.
UNKNOWN_NAME_FAILURE = "auth.login_failed"


def visible_events(user: User) -> Select[AuditEvent]:
    """Admins see their clinic's whole trail; a supervisor sees the events about patients they may see."""
    if user.is_admin:
        return select(AuditEvent).where(AuditEvent.clinic_id == user.clinic_id)
    return select(AuditEvent).where(
        AuditEvent.clinic_id == user.clinic_id,
        AuditEvent.patient_id.in_(select(Patient.id).where(patient_scope(user))),
    )


#: The audit page counts at most this many rows: an exact count of a large clinic's whole trail walks all of it
#: (0.6 s at 3.8 million rows, ``make bench`` at 50,000 patients) for a number in a caption. Past it the page says
#: "more than", and the filters (dates, person, patient) reach older rows.
COUNT_LIMIT = 10_000


def visible_count(user: User, conditions: list[ColumnElement[bool]], limit: int | None = None) -> int:
    """How many events ``visible_events`` holds under ``conditions``, counted the way the database counts fast, and
    at most ``limit`` + 1 of them when a limit is given (so "more than ``limit``" can be said without counting all).

    For a supervisor the clinic condition is left out: ``patient_scope`` only holds patients of their own clinic,
    so the rows are the same, but beside it SQLite counted by walking the clinic's whole trail through the clinic
    index (86 ms at 400,000 rows in ``make bench``) instead of these patients' rows (4 ms). The page itself keeps the
    clinic condition, whose index hands over the newest rows first without sorting.
    """
    if user.is_admin:
        scope = AuditEvent.clinic_id == user.clinic_id
    else:
        scope = AuditEvent.patient_id.in_(select(Patient.id).where(patient_scope(user)))
    if limit is None:
        return db.session.scalar(select(func.count(AuditEvent.id)).where(scope, *conditions)) or 0
    first = select(AuditEvent.id).where(scope, *conditions).limit(limit + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(first)) or 0


def filter_conditions(
    user: User, actor_id: int | None, record_number: str | None, start: date | None, end: date | None
) -> list[ColumnElement[bool]]:
    """The audit filters as SQL: who acted, about which patient (by record number in the user's clinic), from and
    to which day (both whole days of the clinic's calendar; a day too far off for the calendar sets no bound)."""
    conditions: list[ColumnElement[bool]] = []
    if actor_id:
        conditions.append(AuditEvent.actor_id == actor_id)
    if record_number:
        conditions.append(
            AuditEvent.patient_id.in_(
                select(Patient.id).where(Patient.clinic_id == user.clinic_id, Patient.record_number == record_number)
            )
        )
    tz = clinic_of(db.session, user.clinic_id).zone
    if start and (since := _start_of(start, tz)) is not None:
        conditions.append(AuditEvent.created_at >= since)
    if end and end < date.max and (until := _start_of(end + timedelta(days=1), tz)) is not None:
        conditions.append(AuditEvent.created_at < until)  # to the end of that day
    return conditions


def _start_of(day: date, tz: ZoneInfo) -> datetime | None:
    """The first moment of ``day`` at the clinic, or None at the ends of the calendar (year 1, year 9999)."""
    try:
        return start_of_day(day, tz)
    except OverflowError:
        return None


def openable_patients(user: User, events: Iterable[AuditEvent]) -> set[int]:
    """The patients of ``events`` whose clinical detail ``user`` may read: those they may open (one query)."""
    ids = {event.patient_id for event in events if event.patient_id is not None}
    if not ids or not user.is_clinician:
        return set()
    return set(db.session.scalars(select(Patient.id).where(Patient.id.in_(ids), patient_scope(user))))


def shows_detail(event: AuditEvent, openable: set[int]) -> bool:
    """Whether the row's summary and changes may be shown: rows about no patient, or about one the user may open."""
    return event.patient_id is None or event.patient_id in openable


def unknown_name_failures(since: datetime, limit: int) -> tuple[int, list[AuditEvent]]:
    """Failed sign-ins with a name no account has since ``since``: how many, and the newest ``limit`` (when and from
    which address; nothing of what was typed is stored). Read through the clinic index (clinic NULL)."""
    where = (AuditEvent.clinic_id.is_(None), AuditEvent.action == UNKNOWN_NAME_FAILURE, AuditEvent.created_at >= since)
    total = db.session.scalar(select(func.count(AuditEvent.id)).where(*where)) or 0
    latest = db.session.scalars(
        select(AuditEvent).where(*where).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit)
    ).all()
    return total, list(latest)

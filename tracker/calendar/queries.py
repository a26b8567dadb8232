"""The sessions a calendar shows: one statement per page whatever the clinic's size (the patients' names joined in),
bounded by the period and by ``LIMIT`` rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from tracker.clinictime import start_of_day
from tracker.database import AnySession
from tracker.models import Patient, SessionKind, TherapySession

#: The most sessions one page lists (a month of a large clinic): the page says when it stopped there.
LIMIT = 1000


@dataclass(frozen=True)
class CalendarSession:
    session_id: int
    patient_id: int
    given_name: str
    family_name: str
    kind: SessionKind
    cycle: int | None
    start: datetime
    minutes: int | None
    held: bool

    @property
    def patient_name(self) -> str:
        return f"{self.family_name}, {self.given_name}"

    @property
    def initials(self) -> str:
        """What the iCal feed names the patient by: the initials, nothing else."""
        return f"{self.given_name[:1]}{self.family_name[:1]}".upper()

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes or 60)


def sessions_between(
    db: AnySession, ids: Select[Any], first: date, last: date, tz: tzinfo, limit: int = LIMIT
) -> list[CalendarSession]:
    """Sessions of the patients ``ids`` held, or scheduled and not yet held, from ``first`` to ``last`` (inclusive,
    days on the clinic's calendar ``tz``), in time order."""
    start, end = start_of_day(first, tz), start_of_day(last + timedelta(days=1), tz)
    when = func.coalesce(TherapySession.held_at, TherapySession.scheduled_at)
    rows = db.execute(
        select(
            TherapySession.id,
            TherapySession.patient_id,
            TherapySession.kind,
            TherapySession.cycle,
            TherapySession.held_at,
            TherapySession.scheduled_at,
            TherapySession.duration_minutes,
            TherapySession.scheduled_minutes,
            Patient.given_name,
            Patient.family_name,
        )
        .join(Patient, Patient.id == TherapySession.patient_id)
        .where(
            TherapySession.patient_id.in_(ids),
            or_(
                and_(TherapySession.held_at >= start, TherapySession.held_at < end),
                and_(
                    TherapySession.held_at.is_(None),
                    TherapySession.scheduled_at >= start,
                    TherapySession.scheduled_at < end,
                ),
            ),
        )
        .order_by(when, TherapySession.id)
        .limit(limit)
    )
    return [
        CalendarSession(
            row.id,
            row.patient_id,
            row.given_name,
            row.family_name,
            SessionKind(row.kind),
            row.cycle,
            _aware(row.held_at or row.scheduled_at),
            row.duration_minutes if row.held_at else row.scheduled_minutes,
            row.held_at is not None,
        )
        for row in rows
    ]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value

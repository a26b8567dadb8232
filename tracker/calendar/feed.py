"""The per-user iCal feed: a secret link, revocable, to a calendar file of the sessions of the user's own patients.

The link holds 32 random bytes (``secrets.token_urlsafe``), shown to the user when made and stored only as its
SHA-256 (``User.calendar_token_sha256``): a copy of the database opens no feed; making a new link ends the old one,
and revoking ends it without a new one. A calendar application fetches the link without signing in, so the file
carries the least that still makes a calendar: each session's time, the patient's initials and the kind of session
(no name, record number, note, place, dose or diagnosis). Every fetch is audited in the link owner's name.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select

from tracker.calendar.queries import CalendarSession
from tracker.database import AnySession
from tracker.models import User

#: How far the feed reaches: sessions of the last four weeks and the next three months.
PAST = timedelta(days=28)
AHEAD = timedelta(days=92)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(user: User) -> str:
    """A new secret link token for ``user`` (the old link stops working); the caller commits and shows it once."""
    token = secrets.token_urlsafe(32)
    user.calendar_token_sha256 = hash_token(token)
    return token


def revoke(user: User) -> None:
    user.calendar_token_sha256 = None


def owner(db: AnySession, token: str) -> User | None:
    """The active account whose link holds ``token``, or None (unknown, revoked, or a deactivated account)."""
    if not token or len(token) > 100:
        return None
    user = db.scalar(select(User).where(User.calendar_token_sha256 == hash_token(token)))
    return user if user is not None and user.active else None


def window(now: datetime) -> tuple[date, date]:
    """The first and last UTC day the feed covers (the query widens it by a day on either side of any zone)."""
    return (now - PAST).date(), (now + AHEAD).date()


def summary(row: CalendarSession) -> str:
    """The event's title: initials and kind only ("SR · Dosing 2")."""
    kind = row.kind.label + (f" {row.cycle}" if row.cycle and row.kind.value != "preparation" else "")
    return f"{row.initials} · {kind}"


def ics(rows: Sequence[CalendarSession], clinic_name: str, now: datetime) -> bytes:
    """The calendar file (RFC 5545) of ``rows``: times in UTC, which every calendar shows on its own clock."""
    cal = Calendar()
    cal.add("prodid", "-//Care Tracker//calendar feed//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Sessions · {clinic_name}")
    for row in rows:
        event = Event()
        event.add("uid", f"session-{row.session_id}@care-tracker")
        event.add("dtstamp", now)
        event.add("dtstart", row.start)
        event.add("dtend", row.end)
        event.add("summary", summary(row))
        event.add("status", "CONFIRMED")
        cal.add_component(event)
    return bytes(cal.to_ical())

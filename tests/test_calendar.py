"""The calendar: week and month views on the clinic's clock, who sees which patients' sessions, bad input beside
the field, a constant number of statements per page, the audit; and the per-user iCal feed: a secret link that
can be revoked, initials and kind only."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import audit_actions, count_queries, login
from tracker.calendar.periods import period_of
from tracker.clinictime import start_of_day
from tracker.extensions import db
from tracker.models import AuditEvent, Patient, SessionKind, TherapySession, User
from tracker.models.base import utcnow

DAY = date(2026, 12, 9)  # a Wednesday


def _session(
    patient: Patient, actor: User, when: datetime, *, held: bool = True, kind: SessionKind = SessionKind.PREPARATION
) -> TherapySession:
    row = TherapySession(
        patient_id=patient.id,
        kind=kind,
        logged_by_id=actor.id,
        held_at=when if held else None,
        duration_minutes=60 if held else None,
        scheduled_at=None if held else when,
        scheduled_minutes=None if held else 50,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _cells(page: str) -> list[str]:
    return re.findall(r'<div class="small mb-1 calendar-session" data-session="(\d+)">(.*?)</div>', page, re.S)


# The periods ----------------------------------------------------------------------------------------------------


def test_a_week_runs_monday_to_sunday_and_pages_by_seven_days():
    week = period_of("week", DAY)
    assert (week.first, week.last) == (date(2026, 12, 7), date(2026, 12, 13))
    assert week.previous == date(2026, 11, 30) and week.next == date(2026, 12, 14)
    assert len(week.weeks) == 1 and len(week.weeks[0]) == 7


def test_a_month_shows_whole_weeks_and_pages_by_month():
    month = period_of("month", DAY)
    assert month.first == date(2026, 11, 30) and month.last == date(2027, 1, 3)
    assert all(len(row) == 7 for row in month.weeks) and len(month.weeks) == 5
    assert month.previous == date(2026, 11, 1) and month.next == date(2027, 1, 1)
    assert month.in_period(date(2026, 12, 31)) and not month.in_period(date(2027, 1, 1))
    assert period_of("month", date(2027, 1, 31)).previous == date(2026, 12, 1)


# The page -------------------------------------------------------------------------------------------------------


@pytest.fixture
def sydney(people):
    """The clinic on Sydney's clock (UTC+11 in December), with one held and one scheduled session that week."""
    people.clinic.time_zone = "Australia/Sydney"
    db.session.flush()
    zone = people.clinic.zone
    held = _session(people.patient, people.lead, start_of_day(DAY, zone) + timedelta(hours=9, minutes=30))
    later = _session(
        people.patient, people.lead, start_of_day(DAY + timedelta(days=1), zone) + timedelta(hours=14), held=False
    )
    db.session.commit()
    return held, later


@pytest.mark.parametrize(
    ("persona", "status", "listed"),
    [
        ("lead", 200, True),
        ("co_therapist", 200, True),
        ("supervisor", 200, True),
        ("other_therapist", 200, False),
        ("other_supervisor", 200, False),
        ("outsider", 200, False),
        ("admin", 403, False),
    ],
)
def test_who_sees_which_sessions(client, people, sydney, persona, status, listed):
    login(client, getattr(people, persona))
    response = client.get(f"/calendar?on={DAY.isoformat()}")
    assert response.status_code == status
    assert ("Zzpatient, Canary" in response.text) is listed
    assert bool(_cells(response.text)) is listed


def test_anonymous_users_are_sent_to_sign_in(client):
    response = client.get("/calendar")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_times_are_on_the_clinics_clock_in_the_right_days_cell(client, people, sydney):
    held, later = sydney
    login(client, people.lead)
    page = client.get(f"/calendar?on={DAY.isoformat()}").text
    cells = dict(_cells(page))
    assert "09:30" in cells[str(held.id)] and "held" in cells[str(held.id)]
    assert "14:00" in cells[str(later.id)] and "scheduled" in cells[str(later.id)]
    assert "Preparation" in cells[str(later.id)]
    wednesday = page.split("09 Dec</div>", 1)[1].split("</td>", 1)[0]
    assert f'data-session="{held.id}"' in wednesday  # 22:30 UTC on the 8th is the 9th in Sydney
    assert held.held_at is not None and held.held_at.astimezone(UTC).day == 8


def test_the_month_view_and_its_period_links(client, people, sydney):
    login(client, people.lead)
    page = client.get(f"/calendar?view=month&on={DAY.isoformat()}").text
    assert "December 2026" in page and len(_cells(page)) == 2
    assert 'href="/calendar?on=2026-11-01&amp;view=month"' in page
    assert 'href="/calendar?on=2027-01-01&amp;view=month"' in page
    assert _cells(client.get("/calendar?view=month&on=2027-01-15").text) == []


def test_a_supervisor_chooses_one_therapists_patients(client, people, sydney):
    login(client, people.supervisor)
    mine = client.get(f"/calendar?on={DAY.isoformat()}&therapist={people.lead.id}")
    assert mine.status_code == 200 and len(_cells(mine.text)) == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("view=year", "Choose week or month."),
        ("on=2026-13-40", "Enter a date as YYYY-MM-DD."),
        ("on=1850-01-01", "Choose a day between 2000 and 2100."),
        ("therapist=999999", "Choose one of the listed therapists."),
    ],
)
def test_bad_input_is_refused_beside_the_field(client, people, query, message):
    login(client, people.supervisor)
    response = client.get(f"/calendar?{query}")
    assert response.status_code == 400 and message in response.text


def test_each_view_is_audited_with_the_patients_shown(client, people, sydney):
    login(client, people.lead)
    client.get(f"/calendar?on={DAY.isoformat()}")
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert event.action == "calendar.view" and event.data["patient_ids"] == [people.patient.id]


def test_a_page_runs_the_same_statements_whatever_the_number_of_sessions(client, people, sydney):
    login(client, people.lead)
    url = f"/calendar?view=month&on={DAY.isoformat()}"
    client.get(url)
    with count_queries() as few:
        client.get(url)
    zone = people.clinic.zone
    for n in range(40):
        _session(people.patient, people.lead, start_of_day(DAY - timedelta(days=n % 20), zone) + timedelta(hours=10))
    db.session.commit()
    with count_queries() as many:
        page = client.get(url).text
    assert len(_cells(page)) > 20
    assert len(many) == len(few)


# The feed -------------------------------------------------------------------------------------------------------


def _make_link(client) -> str:
    page = client.post("/account/calendar", data={"action": "make"}).text
    match = re.search(r'<code class="text-break" id="feed-url">http://[^/]+(/calendar/feed/[^<]+\.ics)</code>', page)
    assert match, page
    return match.group(1)


def test_the_feed_holds_initials_and_kind_and_nothing_else(client, people, sydney):
    held, _ = sydney
    held.held_at = utcnow() - timedelta(days=1)
    db.session.commit()
    login(client, people.lead)
    url = _make_link(client)
    assert audit_actions()[-1] == "calendar.link_issue"
    client.post("/logout")
    anonymous = client.application.test_client()
    response = anonymous.get(url)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.data.decode()
    assert "BEGIN:VCALENDAR" in body and "SUMMARY:CZ · Preparation" in body
    assert f"UID:session-{held.id}@care-tracker" in body
    for secret in ("Zzpatient", "Canary", "CANARY-1", "room", "dose"):
        assert secret not in body
    assert audit_actions()[-1] == "calendar.feed"
    assert "no-store" in response.headers["Cache-Control"]


def test_a_new_link_ends_the_old_and_a_revoked_link_opens_nothing(client, people):
    login(client, people.lead)
    first = _make_link(client)
    second = _make_link(client)
    anonymous = client.application.test_client()
    assert anonymous.get(first).status_code == 404
    assert anonymous.get(second).status_code == 200
    assert client.post("/account/calendar", data={"action": "revoke"}).status_code == 302
    assert anonymous.get(second).status_code == 404
    assert "No link" in client.get("/account/calendar").text
    assert audit_actions()[-1] != "calendar.feed"


@pytest.mark.parametrize("token", ["x", "nonsense-token-0123456789", "a" * 300])
def test_an_unknown_link_is_404(client, token):
    assert client.get(f"/calendar/feed/{token}.ics").status_code == 404


def test_a_deactivated_accounts_link_opens_nothing(client, people):
    login(client, people.lead)
    url = _make_link(client)
    people.lead.active = False
    db.session.commit()
    assert client.application.test_client().get(url).status_code == 404


@pytest.mark.parametrize(("persona", "status"), [("lead", 200), ("supervisor", 200), ("admin", 403)])
def test_who_may_make_a_link(client, people, persona, status):
    login(client, getattr(people, persona))
    assert client.get("/account/calendar").status_code == status
    assert client.post("/account/calendar", data={"action": "make"}).status_code == status


def test_an_unknown_action_is_400(client, people):
    login(client, people.lead)
    assert client.post("/account/calendar", data={"action": "explode"}).status_code == 400

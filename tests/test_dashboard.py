"""The supervisor dashboard, the therapist's day and the clinic overview: who sees whose patients, filters, sort,
pagination, tab counts, refused filters, the audit row, and a constant number of SQL statements per page at two
clinic sizes."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import delete, func, select

from tests.conftest import audit_actions, count_queries, login
from tracker.extensions import db
from tracker.factories import log_sessions, make_patient, make_user, record_measure, sample_answers
from tracker.models import AuditEvent, ClinicOverview, Role, SessionKind, TherapySession
from tracker.models.base import utcnow


def unsigned_session(patient, actor, days_ago: int = 2) -> None:
    """A session held ``days_ago`` days ago with no note: an "unsigned note" item."""
    log_sessions(patient, actor, SessionKind.PREPARATION, 1, days_ago=days_ago)


def listed(html: str) -> list[str]:
    """The patient names in the queue, in order."""
    table = html.split('id="attention-queue"', 1)
    if len(table) < 2:
        return []
    return re.findall(r'<a href="/patients/\d+">([^<]+)</a>', table[1].split("</table>", 1)[0])


@pytest.fixture
def clinic(people, protocols):
    """Two supervisees of ``supervisor`` (lead, co_therapist) and one of ``other_supervisor`` (other_therapist),
    each with a patient who has an unsigned note; the canary has one too."""
    mine = make_patient(people.co_therapist, protocols=protocols, family_name="Cobalt")
    theirs = make_patient(people.other_therapist, protocols=protocols, family_name="Otherly")
    for patient, actor in (
        (people.patient, people.lead),
        (mine, people.co_therapist),
        (theirs, people.other_therapist),
    ):
        unsigned_session(patient, actor)
    db.session.commit()
    return {"mine": mine, "theirs": theirs}


def test_a_supervisor_sees_only_the_patients_of_their_supervisees(client, people, clinic):
    login(client, people.supervisor)
    response = client.get("/dashboard")
    assert response.status_code == 200
    names = listed(response.text)
    assert any("Zzpatient" in n for n in names) and any("Cobalt" in n for n in names)
    assert not any("Otherly" in n for n in names)
    login(client, people.other_supervisor)
    names = listed(client.get("/dashboard").text)
    assert any("Otherly" in n for n in names) and not any("Zzpatient" in n or "Cobalt" in n for n in names)


def test_the_therapists_day_lists_only_their_own_patients(client, people, clinic):
    login(client, people.co_therapist)  # on the canary's care team, and lead of Cobalt
    names = listed(client.get("/today").text)
    assert sorted(n.split(",")[0] for n in names) == ["Cobalt", "Zzpatient"]
    login(client, people.other_therapist)
    names = listed(client.get("/today").text)
    assert [n.split(",")[0] for n in names] == ["Otherly"]


@pytest.mark.parametrize(
    ("persona", "page", "status"),
    [
        ("admin", "/dashboard", 403),
        ("admin", "/today", 403),
        ("admin", "/overview", 403),
        ("lead", "/dashboard", 403),
        ("lead", "/overview", 403),
        ("supervisor", "/today", 403),
    ],
)
def test_wrong_roles_get_403(client, people, persona, page, status):
    login(client, getattr(people, persona))
    assert client.get(page).status_code == status


@pytest.mark.parametrize("page", ["/dashboard", "/today", "/overview"])
def test_anonymous_users_are_sent_to_login(client, page):
    response = client.get(page)
    assert response.status_code == 302 and response.location.startswith("/login")


def test_a_supervisor_who_also_treats_gets_both(client, people, protocols):
    both = make_user(people.clinic, Role.THERAPIST, Role.SUPERVISOR, supervisor=people.other_supervisor)
    patient = make_patient(both, protocols=protocols, family_name="Bothways")
    unsigned_session(patient, both)
    db.session.commit()
    login(client, both)
    assert any("Bothways" in n for n in listed(client.get("/dashboard").text))
    assert any("Bothways" in n for n in listed(client.get("/today").text))


def test_home_sends_supervisors_to_the_dashboard_and_therapists_to_their_day(client, people):
    login(client, people.supervisor)
    assert client.get("/").location == "/dashboard"
    login(client, people.lead)
    assert client.get("/").location == "/today"


# Filters, sort, pagination, counts ------------------------------------------------------------------------------


def test_filtering_to_one_therapist(client, people, clinic):
    login(client, people.supervisor)
    names = listed(client.get(f"/dashboard?therapist={people.co_therapist.id}").text)
    assert sorted(n.split(",")[0] for n in names) == ["Cobalt", "Zzpatient"]  # co-therapist of the canary
    names = listed(client.get(f"/dashboard?therapist={people.lead.id}").text)
    assert [n.split(",")[0] for n in names] == ["Zzpatient"]


def test_filtering_by_phase_protocol_and_kind(client, people, protocols, clinic):
    psilocybin = make_patient(people.lead, protocols=protocols, protocol_code="psilocybin-mdd", family_name="Psilo")
    unsigned_session(psilocybin, people.lead)
    record_measure(people.patient, people.lead, "phq9", answers=sample_answers("phq9", flagged=True))
    db.session.commit()
    login(client, people.supervisor)
    names = listed(client.get("/dashboard?protocol=psilocybin-mdd").text)
    assert [n.split(",")[0] for n in names] == ["Psilo"]
    assert listed(client.get("/dashboard?phase=dosing").text) == []
    assert len(listed(client.get("/dashboard?phase=preparation").text)) == 4
    page = client.get("/dashboard?kind=safety_alert").text
    assert [n.split(",")[0] for n in listed(page)] == ["Zzpatient"]
    assert 'data-kind="unsigned_note"' not in page


def test_tabs_show_counts_of_every_kind_under_the_other_filters(client, people, clinic):
    record_measure(people.patient, people.lead, "phq9", answers=sample_answers("phq9", flagged=True))
    db.session.commit()
    login(client, people.supervisor)
    page = client.get("/dashboard?kind=safety_alert").text
    tabs = page.split('aria-label="Kinds of item"', 1)[1].split("</nav>", 1)[0]
    assert re.search(r"All <span[^>]*>3</span>", tabs)
    assert re.search(r"Safety alerts\s*<span[^>]*>1</span>", tabs)
    assert re.search(r"Unsigned notes\s*<span[^>]*>2</span>", tabs)  # not the other supervisor's patient's


def test_the_most_urgent_item_comes_first_then_the_oldest(client, people, clinic):
    record_measure(clinic["mine"], people.co_therapist, "phq9", answers=sample_answers("phq9", flagged=True))
    unsigned_session(people.patient, people.lead, days_ago=9)
    db.session.commit()
    login(client, people.supervisor)
    page = client.get("/dashboard").text
    kinds = re.findall(r'data-kind="([a-z_]+)"', page)
    assert kinds[0] == "safety_alert" and set(kinds[1:]) == {"unsigned_note"}
    assert listed(page)[1].startswith("Zzpatient")  # nine days old before two days old
    newest = client.get("/dashboard?sort=newest").text
    assert re.findall(r'data-kind="([a-z_]+)"', newest)[0] == "safety_alert"  # raised just now
    by_name = [n.split(",")[0] for n in listed(client.get("/dashboard?sort=patient").text)]
    assert by_name == sorted(by_name)


def test_pages_of_the_queue(app, client, people, protocols):
    app.config["DASHBOARD_ITEMS_PER_PAGE"] = 2
    try:
        for number in range(5):
            unsigned_session(people.patient, people.lead, days_ago=2 + number)
        db.session.commit()
        login(client, people.supervisor)
        first, third = client.get("/dashboard").text, client.get("/dashboard?page=3").text
        assert len(listed(first)) == 2 and len(listed(third)) == 1
        assert "page 1 of 3" in first and "page 3 of 3" in third
        assert "page 3 of 3" in client.get("/dashboard?page=99").text  # past the end: the last page
    finally:
        app.config["DASHBOARD_ITEMS_PER_PAGE"] = 25


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("therapist=999999", "therapist", "Choose one of the therapists you supervise."),
        ("therapist=abc", "therapist", "Choose one of the therapists you supervise."),
        ("phase=asleep", "phase", "Choose a phase."),
        ("protocol=lsd", "protocol", "Choose one of the protocols."),
        ("kind=gossip", "kind", "Choose one of the listed kinds."),
        ("sort=random", "sort", "Choose one of the orders."),
        ("page=0", "page", "Use a page number from 1 to 1,000,000."),
        ("page=x", "page", "Enter a whole number"),
        ("page=%2B1", "page", "Enter a whole number"),
        ("page=%EF%BC%92", "page", "Enter a whole number"),
    ],
)
def test_bad_filters_are_refused_next_to_the_filter(client, people, query, field, message):
    login(client, people.supervisor)
    response = client.get(f"/dashboard?{query}")
    assert response.status_code == 400
    assert f'id="{field}-error">{message}' in response.text


def test_another_supervisors_therapist_is_not_a_filter_choice(client, people):
    login(client, people.supervisor)
    assert client.get(f"/dashboard?therapist={people.other_therapist.id}").status_code == 400


def test_bad_arguments_on_the_therapists_day(client, people):
    login(client, people.lead)
    response = client.get("/today?kind=gossip&page=-1")
    assert response.status_code == 400
    assert 'id="kind-error">Choose one of the listed kinds.' in response.text


# Audit -----------------------------------------------------------------------------------------------------------


def test_each_view_is_audited_with_the_patients_shown(client, people, clinic):
    login(client, people.supervisor)
    client.get("/dashboard")
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.action == "dashboard.view"
    assert event.data["patient_ids"] == sorted([people.patient.id, clinic["mine"].id])
    login(client, people.lead)
    client.get("/today")
    login(client, people.supervisor)
    client.get("/overview")
    assert {"dashboard.view", "dashboard.today", "dashboard.overview"} <= set(audit_actions())


# The therapist's day -------------------------------------------------------------------------------------------


def test_the_day_lists_this_weeks_sessions(client, people):
    now = utcnow()
    db.session.add(
        TherapySession(
            patient_id=people.patient.id,
            kind=SessionKind.PREPARATION,
            scheduled_at=now,
            scheduled_minutes=60,
            logged_by_id=people.lead.id,
        )
    )
    db.session.add(
        TherapySession(
            patient_id=people.patient.id,
            kind=SessionKind.PREPARATION,
            scheduled_at=now + timedelta(days=8),
            scheduled_minutes=60,
            logged_by_id=people.lead.id,
        )
    )
    db.session.commit()
    login(client, people.lead)
    page = client.get("/today").text
    week = page.split('id="week-sessions"', 1)[1].split("</table>", 1)[0]
    assert week.count("Zzpatient") == 1 and "Today" in week


# The clinic overview ---------------------------------------------------------------------------------------------


def test_the_overview_counts_without_naming_anyone(client, people, protocols, clinic):
    dosed_at = utcnow() - timedelta(days=5)
    db.session.add(
        TherapySession(
            patient_id=people.patient.id,
            kind=SessionKind.DOSING,
            cycle=1,
            held_at=dosed_at,
            duration_minutes=480,
            logged_by_id=people.lead.id,
        )
    )
    for level in (0.8, 0.2):  # the baseline before the dosing session, the latest after it
        record_measure(
            people.patient, people.lead, "pcl5", level=level, on=utcnow().date() - timedelta(days=int(level * 10))
        )
    db.session.commit()
    login(client, people.supervisor)
    response = client.get("/overview")
    assert response.status_code == 200
    for name in ("Zzpatient", "Cobalt", "Otherly", "CANARY-1"):
        assert name not in response.text
    phases = response.text.split('id="phase-protocol"', 1)[1].split("</table>", 1)[0]
    assert re.search(r"MDMA[^<]*</th>\s*<td[^>]*>3</td>", phases)  # the clinic's three, all in preparation
    outcomes = response.text.split('id="outcomes"', 1)[1].split("</table>", 1)[0]
    assert "PCL-5" in outcomes and "1 (100%)" in outcomes  # a clinically meaningful improvement
    assert "no rule in the sources" in outcomes  # PCL-5's sources give no response or remission rule
    chart = response.text.split('id="chart-outcomes-title"', 1)[1].split("</svg>", 1)[0]
    assert "MDMA (PCL-5): meaningful improvement" in chart and "mdma-ptsd" not in chart  # named, not coded
    assert "<svg" in response.text and "<script" not in response.text.split("<main", 1)[1].split("</main>")[0]


# Constant SQL statements -----------------------------------------------------------------------------------------


def _grow(people, protocols, size: int) -> None:
    """``size`` more patients for each therapist, each with an unsigned note, an alert and a past session."""
    for therapist in (people.lead, people.co_therapist, people.other_therapist):
        for _ in range(size):
            patient = make_patient(therapist, protocols=protocols)
            unsigned_session(patient, therapist)
            record_measure(patient, therapist, "phq9", answers=sample_answers("phq9", flagged=True))
    db.session.commit()


PAGES = ["/dashboard", "/dashboard?therapist={co}&kind=unsigned_note&sort=oldest&page=1", "/today", "/overview"]


@pytest.mark.parametrize("page", PAGES)
def test_a_constant_number_of_statements_whatever_the_clinic_size(client, people, protocols, page):
    url = page.format(co=people.co_therapist.id)
    user = people.lead if url.startswith("/today") else people.supervisor
    counts, kept = [], []
    for size in (1, 6):
        _grow(people, protocols, size)
        db.session.execute(delete(ClinicOverview))  # the overview counts again
        login(client, user)
        with count_queries() as statements:
            assert client.get(url).status_code == 200
        counts.append(len(statements))
        with count_queries() as statements:
            assert client.get(url).status_code == 200
        kept.append(len(statements))
    assert counts[0] == counts[1], counts
    assert kept[0] == kept[1], kept
    # +2: the audit chain head (locked, moved on); +1: the write step after the reads; the overview counting
    # again: +3 for keeping its figures (a write step of its own).
    assert counts[0] <= (18 if url == "/overview" else 15)
    if url == "/overview":
        assert kept[0] <= counts[0] - 6  # its four counting statements and the keeping are skipped


def test_the_overview_keeps_its_figures_for_the_stated_time(app, client, people, protocols):
    login(client, people.supervisor)
    first = client.get("/overview")
    assert "counted again at most every 5 minutes" in first.text
    computed = db.session.scalar(select(ClinicOverview.computed_at))
    make_patient(people.lead, protocols=protocols)  # a fourth patient of the clinic, in preparation
    db.session.commit()

    def preparing(page) -> int:  # MDMA patients in preparation, as the page counts them
        table = page.text.split('id="phase-protocol"', 1)[1]
        return int(re.search(r"MDMA[^<]*</th>\s*<td[^>]*>(\d+)</td>", table).group(1))

    with time_machine.travel(computed + timedelta(minutes=4, seconds=50), tick=False):
        kept = client.get("/overview")
    assert preparing(kept) == preparing(first)  # still the kept figures
    assert computed.strftime("%H:%M") in kept.text  # and the page says when they were counted
    with time_machine.travel(computed + timedelta(minutes=5, seconds=1), tick=False):
        fresh = client.get("/overview")
    assert preparing(fresh) == preparing(first) + 1
    assert db.session.scalar(select(func.count()).select_from(ClinicOverview)) == 1  # one row per clinic, replaced
    assert db.session.scalar(select(ClinicOverview.computed_at)) > computed


def test_the_kept_figures_are_each_clinics_own_and_hold_only_counts(client, people, clinic):
    login(client, people.supervisor)
    client.get("/overview")
    row = db.session.scalar(select(ClinicOverview))
    assert row.clinic_id == people.supervisor.clinic_id
    assert set(row.figures) == {"format", "phases", "weeks", "events", "outcomes"}
    for name in ("Zzpatient", "Cobalt", "Otherly", "CANARY", "Canary"):
        assert name not in json.dumps(row.figures)
    login(client, people.outsider)  # a supervisor of another clinic: its own figures, counted for it
    elsewhere = client.get("/overview")
    assert "No patients yet." in elsewhere.text
    assert db.session.scalar(select(func.count()).select_from(ClinicOverview)) == 2


def test_kept_figures_of_another_shape_are_counted_again(client, people):
    login(client, people.supervisor)
    client.get("/overview")
    row = db.session.scalar(select(ClinicOverview))
    row.figures = {"format": 0}
    db.session.commit()
    assert client.get("/overview").status_code == 200
    assert db.session.scalar(select(ClinicOverview.figures).execution_options(populate_existing=True))["format"] == 1


def test_with_no_keeping_the_overview_counts_on_every_view(app, client, people):
    app.config["OVERVIEW_MAX_AGE_MINUTES"] = 0
    login(client, people.supervisor)
    client.get("/overview")
    first = db.session.scalar(select(ClinicOverview.computed_at))
    with time_machine.travel(first + timedelta(seconds=1), tick=False):
        page = client.get("/overview")
    assert "counted again" not in page.text
    assert db.session.scalar(select(ClinicOverview.computed_at).execution_options(populate_existing=True)) > first


def test_the_day_leaves_out_what_only_a_supervisor_acts_on(client, people, protocols):
    from tracker.factories import answer_screening
    from tracker.protocols import ItemKind

    item = next(i.id for i in protocols["mdma-ptsd"].screening if i.kind is ItemKind.REVIEW)
    answer_screening(people.patient, people.lead, protocols["mdma-ptsd"], yes=(item,))
    db.session.commit()
    login(client, people.supervisor)
    assert 'data-kind="screening_review"' in client.get("/dashboard").text
    login(client, people.lead)
    day = client.get("/today")
    assert 'data-kind="screening_review"' not in day.text and "Screening reviews" not in day.text
    assert client.get("/today?kind=screening_review").status_code == 400


def test_a_kept_statement_runs_with_each_views_own_moment(client, people):
    """The queue's statement is built once per shape and kept (``queries._statement``); a later view runs it with
    its own moment, so an item due meanwhile appears, and another user's view gets their own scope."""
    from tracker.dashboard import queries

    queries._kept.clear()
    unsigned_session(people.patient, people.lead, days_ago=0)  # held just now: due in 24 hours
    db.session.commit()
    login(client, people.supervisor)
    assert not any("Zzpatient" in n for n in listed(client.get("/dashboard").text))
    assert len(queries._kept) == 1
    with time_machine.travel(utcnow() + timedelta(hours=25), tick=False):
        login(client, people.supervisor)
        assert any("Zzpatient" in n for n in listed(client.get("/dashboard").text))
    assert len(queries._kept) == 1  # the same statement, run at the later moment
    login(client, people.other_supervisor)  # not this patient's supervisor: a scope of their own
    with time_machine.travel(utcnow() + timedelta(hours=25), tick=False):
        login(client, people.other_supervisor)
        assert not any("Zzpatient" in n for n in listed(client.get("/dashboard").text))
    assert len(queries._kept) == 2

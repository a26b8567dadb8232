"""The page plumbing (tracker/pages.py): opening a patient, paging a list, the protocol, the field errors, filters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import Flask, g
from flask_login import login_user
from sqlalchemy import func, select
from werkzeug.exceptions import BadRequest, NotFound

from tracker import audit
from tracker.extensions import db
from tracker.models import AuditEvent, EmergencyAccess, Patient, User
from tracker.models.base import utcnow
from tracker.pages import (
    PageArgs,
    load_patient,
    number,
    paginate,
    paginate_list,
    protocol_of,
    read_args,
    show_error,
)
from tracker.validators import MAX_PAGE, FieldError


@contextmanager
def signed_in(app: Flask, user: User, query: str = "") -> Iterator[None]:
    with app.test_request_context(f"/?{query}"):
        login_user(user)
        yield


def _refusals(patient_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "patient.access_denied", AuditEvent.target_id == str(patient_id))
        )
        or 0
    )


# load_patient ------------------------------------------------------------------------------------------------------


def test_the_care_team_opens_the_patient_with_team_and_alerts_loaded(app, people):
    with signed_in(app, people.lead):
        patient = load_patient(people.patient.id)
        assert patient.id == people.patient.id
        assert "care_team" not in db.inspect(patient).unloaded and "open_alerts" not in db.inspect(patient).unloaded
        assert not audit.under_emergency_access(patient.id)


def test_the_phase_history_is_loaded_only_when_asked(app, people):
    with signed_in(app, people.supervisor):  # a supervisor of the care team
        db.session.expunge_all()
        assert "transitions" in db.inspect(load_patient(people.patient.id)).unloaded
        db.session.expunge_all()
        assert "transitions" not in db.inspect(load_patient(people.patient.id, phase_history=True)).unloaded


@pytest.mark.parametrize("who", ["other_therapist", "other_supervisor", "outsider", "admin"])
def test_an_outsider_gets_404_and_the_refusal_is_audited(app, people, who):
    before = _refusals(people.patient.id)
    with signed_in(app, getattr(people, who)), pytest.raises(NotFound):
        load_patient(people.patient.id)
    assert _refusals(people.patient.id) == before + 1


def test_an_unknown_patient_is_the_same_404_as_one_outside_the_caseload(app, people):
    missing = (db.session.scalar(select(func.max(Patient.id))) or 0) + 1000
    with signed_in(app, people.lead), pytest.raises(NotFound):
        load_patient(missing)
    assert _refusals(missing) == 1


def test_emergency_access_opens_the_patient_and_flags_the_request(app, people):
    db.session.add(
        EmergencyAccess(
            user_id=people.other_therapist.id,
            patient_id=people.patient.id,
            reason="Crisis call while the care team is away",
            granted_at=utcnow(),
            expires_at=utcnow() + timedelta(hours=4),
        )
    )
    db.session.commit()
    with signed_in(app, people.other_therapist):
        patient = load_patient(people.patient.id)
        assert patient.id == people.patient.id
        assert audit.under_emergency_access(patient.id)
        assert people.patient.id in g.emergency_patient_ids
    assert _refusals(people.patient.id) == 0


def test_an_expired_grant_opens_nothing(app, people):
    db.session.add(
        EmergencyAccess(
            user_id=people.other_therapist.id,
            patient_id=people.patient.id,
            reason="Crisis call while the care team is away",
            granted_at=utcnow() - timedelta(hours=5),
            expires_at=utcnow() - timedelta(hours=1),
        )
    )
    db.session.commit()
    with signed_in(app, people.other_therapist), pytest.raises(NotFound):
        load_patient(people.patient.id)


# protocol_of -------------------------------------------------------------------------------------------------------


def test_protocol_of_is_the_patients_installed_protocol(app, people, protocols):
    with signed_in(app, people.lead):
        assert protocol_of(people.patient) is protocols[people.patient.protocol_code]
        unknown = Patient(protocol_code="not-installed")
        assert protocol_of(unknown) is None


# Lists in pages ----------------------------------------------------------------------------------------------------


def _users_query(people):
    return select(User).where(User.clinic_id == people.clinic.id).order_by(User.id)


def test_paginate_reads_the_page_from_the_query_string(app, people):
    with signed_in(app, people.lead, "page=2"):
        page = paginate(_users_query(people), per_page=2)
        assert (page.page, page.per_page, page.total, len(page.items)) == (2, 2, 6, 2)


def test_a_page_past_the_end_is_empty_not_an_error(app, people):
    with signed_in(app, people.lead, "page=99"):
        page = paginate(_users_query(people), per_page=2)
        assert page.items == [] and page.total == 6 and page.pages == 3


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", str(MAX_PAGE + 1), "9" * 400])
def test_a_bad_page_number_is_400(app, people, raw):
    with signed_in(app, people.lead, f"page={raw}"):
        with pytest.raises(BadRequest):
            paginate(_users_query(people), per_page=2)
        with pytest.raises(BadRequest):
            paginate_list(list(range(10)), per_page=2)
        with pytest.raises(BadRequest) as refused:
            read_args(PageArgs, "list")
        assert "The list cannot be shown with these settings (page:" in str(refused.value.description)


def test_read_args_passes_a_good_page_on(app, people):
    with signed_in(app, people.lead, "page=3"):
        args = read_args(PageArgs, "list")
        page = paginate_list(list(range(10)), per_page=4, page=args.page.data)
        assert (page.page, page.items, page.pages, page.has_next) == (3, [8, 9], 3, False)


def test_a_given_page_below_one_is_the_first(app, people):
    with signed_in(app, people.lead):
        assert paginate_list(list(range(5)), per_page=2, page=0).items == [0, 1]
        assert paginate_list(list(range(5)), per_page=2).page == 1


# Field errors and filters ------------------------------------------------------------------------------------------


class _Form(PageArgs):
    pass


def test_show_error_puts_the_message_beside_the_field(app, people):
    with signed_in(app, people.lead, "page=1"):
        form = _Form(formdata=None)
        show_error(form, FieldError("page", "Not that page."))
        assert form.page.errors == ["Not that page."]
        show_error(form, FieldError("nonsense", "Beside the default."), form.page)
        assert form.page.errors == ["Not that page.", "Beside the default."]
        with pytest.raises(AttributeError):
            show_error(form, FieldError("nonsense", "Nowhere to go."))


def test_number_prints_amounts_as_typed(app):
    assert [number(v) for v in (120, 12.5, 0.25, 100.0, None)] == ["120", "12.5", "0.25", "100", "—"]
    assert app.jinja_env.from_string("{{ 7.50 | number }} mg").render() == "7.5 mg"

"""Builders of clinics, staff and patients, shared by ``flask seed-demo``, the tests and the benchmark.

They call the same services as the pages, so demo and test data obey the same rules (and leave audit rows).
"""

from __future__ import annotations

import itertools
from datetime import date

from tracker.admin.services import AccountDetails, create_user
from tracker.extensions import db
from tracker.models import Clinic, Indication, Patient, Role, User
from tracker.patients.services import CareTeam, PatientDetails, create_patient
from tracker.protocols import Protocol

_counter = itertools.count(1)

#: Protocol code and indication pairs that match (a patient needs both to be enrolled).
PROTOCOL_INDICATIONS = {
    "mdma-ptsd": Indication.PTSD,
    "psilocybin-mdd": Indication.MAJOR_DEPRESSION,
    "ketamine-iv-trd": Indication.TREATMENT_RESISTANT_DEPRESSION,
    "esketamine-rems-trd": Indication.TREATMENT_RESISTANT_DEPRESSION,
}


def make_clinic(name: str | None = None) -> Clinic:
    clinic = Clinic(name=name or f"Clinic {next(_counter)}")
    db.session.add(clinic)
    db.session.flush()
    return clinic


def make_user(
    clinic: Clinic,
    *roles: Role,
    username: str | None = None,
    full_name: str | None = None,
    supervisor: User | None = None,
    password: str = "correct horse battery",  # noqa: S107 - test and demo data only
    actor: User | None = None,
) -> User:
    """A staff account. A therapist without a supervisor gets one made for them."""
    roles = roles or (Role.THERAPIST,)
    if Role.THERAPIST in roles and supervisor is None:
        supervisor = make_user(clinic, Role.SUPERVISOR, password=password)
    number = next(_counter)
    details = AccountDetails(
        full_name=full_name or f"Staff {number}",
        roles=frozenset(roles),
        supervisor_id=supervisor.id if supervisor else None,
    )
    return create_user(actor, clinic.id, username or f"user{number}", password, details)


def make_patient(
    lead: User,
    *co_therapists: User,
    protocols: dict[str, Protocol],
    protocol_code: str = "mdma-ptsd",
    given_name: str = "Alex",
    family_name: str | None = None,
    record_number: str | None = None,
    date_of_birth: date = date(1980, 5, 17),
    actor: User | None = None,
) -> Patient:
    """A patient in preparation with ``lead`` as lead therapist, enrolled by ``actor`` (default: the lead)."""
    number = next(_counter)
    details = PatientDetails(
        given_name=given_name,
        family_name=family_name or f"Patient{number}",
        date_of_birth=date_of_birth,
        record_number=record_number or f"MRN-{number:05d}",
        indication=PROTOCOL_INDICATIONS[protocol_code],
        protocol_code=protocol_code,
    )
    team = CareTeam(lead.id, tuple(u.id for u in co_therapists))
    return create_patient(actor or lead, details, team, protocols)

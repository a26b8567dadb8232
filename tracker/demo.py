"""The demo clinic loaded by ``flask seed-demo`` (and ``make run``): two clinics, every role, patients in every
phase. Idempotent: it does nothing if the demo clinics exist already."""

from __future__ import annotations

from faker import Faker
from sqlalchemy import select

from tracker.extensions import db
from tracker.factories import (
    PROTOCOL_INDICATIONS,
    answer_screening,
    clear_for_dosing,
    complete_dosing,
    make_clinic,
    make_patient,
    make_user,
    walk_to,
    write_preparation_notes,
)
from tracker.models import Clinic, Phase, Role, User
from tracker.protocols import Protocol

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - printed by `make run`; demo data only

#: (username, full name, roles, supervisor username) for each clinic; the second clinic gets a "b-" prefix. The
#: therapist is in training: their signed notes wait for the supervisor's co-signature (``NEEDS_COSIGN``).
DEMO_STAFF = [
    ("supervisor", "Dr. Maya Okafor", (Role.SUPERVISOR,), None),
    ("therapist", "Sam Rivera", (Role.THERAPIST,), "supervisor"),
    ("cotherapist", "Jordan Lee", (Role.THERAPIST,), "supervisor"),
    ("lead", "Dr. Priya Nair", (Role.THERAPIST, Role.SUPERVISOR), "supervisor"),
    ("admin", "Chris Admin", (Role.ADMIN,), None),
]

#: The path each demo patient has travelled, from preparation.
DEMO_PATHS: list[list[Phase]] = [
    [],
    [Phase.DOSING],
    [Phase.DOSING, Phase.INTEGRATION],
    [Phase.DOSING, Phase.INTEGRATION, Phase.DOSING],
    [Phase.ON_HOLD],
    [Phase.DOSING, Phase.INTEGRATION, Phase.COMPLETED],
    [Phase.DISCONTINUED],
]

NEEDS_COSIGN = frozenset({"therapist"})

CLINICS = [("Harbour Psychedelic Therapy Clinic", ""), ("Northside Integration Centre", "b-")]


def seed_demo(protocols: dict[str, Protocol], patients_per_clinic: int = 14) -> bool:
    """Load the demo clinics; returns False (and adds nothing) when they are already there."""
    if db.session.scalar(select(Clinic.id).where(Clinic.name == CLINICS[0][0])) is not None:
        return False
    fake = Faker("en_US")
    Faker.seed(2026)
    for clinic_name, prefix in CLINICS:
        clinic = make_clinic(clinic_name)
        staff: dict[str, User] = {}
        for username, full_name, roles, supervisor in DEMO_STAFF:
            staff[username] = make_user(
                clinic,
                *roles,
                username=prefix + username,
                full_name=full_name,
                password=DEMO_PASSWORD,
                supervisor=staff.get(supervisor) if supervisor else None,
                needs_cosign=username in NEEDS_COSIGN,
            )
        therapists = [staff["therapist"], staff["lead"]]
        codes = list(PROTOCOL_INDICATIONS)
        for index in range(patients_per_clinic):
            lead = therapists[index % 2]
            code = codes[index % len(codes)]
            patient = make_patient(
                lead,
                staff["cotherapist"],
                protocols=protocols,
                protocol_code=code,
                given_name=fake.first_name(),
                family_name=fake.last_name(),
                record_number=f"{prefix.upper() or 'H-'}{1000 + index}",
                date_of_birth=fake.date_of_birth(minimum_age=21, maximum_age=75),
            )
            path = DEMO_PATHS[index % len(DEMO_PATHS)]
            if Phase.DOSING in path:
                clear_for_dosing(patient, lead, protocols)
                # Preparation notes signed, except the newest of the patient now in dosing: it shows among the
                # therapist's unsigned notes older than 24 hours.
                write_preparation_notes(patient, lead, protocols, password=DEMO_PASSWORD,
                                        leave_last=path == [Phase.DOSING])
            elif index % len(DEMO_PATHS) == 0 and index // len(DEMO_PATHS) == 0:
                # One patient in preparation whose screening flagged an item for the supervisor's review.
                flagged = next(i.id for i in protocols[code].screening if i.kind.value == "review")
                answer_screening(patient, lead, protocols[code], yes=(flagged,))
            for target in path:
                reason = "Demo: travel abroad for two months" if target is Phase.ON_HOLD else None
                if target is Phase.DISCONTINUED:
                    reason = "Demo: patient chose to stop treatment"
                walk_to(patient, target, lead, protocols, reason, password=DEMO_PASSWORD)
            if path == [Phase.DOSING]:
                # In dosing now: today's session is under way, its note a draft with one reading out of range.
                complete_dosing(patient, lead, protocols, password=DEMO_PASSWORD, sign=False, out_of_range=True)
            db.session.flush()
    return True

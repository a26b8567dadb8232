"""A large synthetic clinic for the benchmark, seeded fast.

The shapes come from the app itself: the clinic is made by ``tracker.factories.make_clinic``, every protocol's
session plan, screening items, measures and plan sections are read from the loaded protocol templates, measure
results are answers from ``factories.sample_answers`` scored by ``tracker.instruments.score``, note texts and plan
texts are the demo's, and each signed note carries the SHA-256 of ``tracker.notes.fields.note_content`` (so
``flask notes verify`` passes on a bench database). The volume is then written with SQLAlchemy Core
``insert()`` executemany in large chunks, inside one transaction: ORM objects and per-row services would take
hours at this size.

One password hash is computed once and shared by every account. Randomness comes from ``random.Random(2026)``,
so two seeds of the same size and day are the same clinic. Dates are relative to the day of seeding (sessions
today, unsigned notes older than a day, recent open alerts), so the cached file is keyed by that day as well as by
``SEED_FORMAT`` and the migration head.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from alembic.script import ScriptDirectory
from faker import Faker
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    Table,
    bindparam,
    insert,
    select,
    tuple_,
    update,
)

from bench.app import bench_app
from tracker import ROOT
from tracker.auditchain import GENESIS, chain_rows
from tracker.demo import DEMO_PLAN
from tracker.extensions import db
from tracker.factories import PROTOCOL_INDICATIONS, make_clinic, sample_answers, usual_dose
from tracker.instruments import get_instrument, score
from tracker.models import (
    AdverseEvent,
    AuditChainHead,
    AuditEvent,
    CareTeamMember,
    CosignDecision,
    IntegrationPlanVersion,
    MeasureResult,
    Patient,
    PhaseTransition,
    PlanHandout,
    SafetyAlert,
    ScreeningAnswer,
    ScreeningChecklist,
    SessionKind,
    SessionNote,
    TherapySession,
    User,
    VitalReading,
    session_therapist,
)
from tracker.models.base import utcnow
from tracker.notes.fields import CONTENT_VERSION, note_content, sha256
from tracker.outcomes.services import MODES
from tracker.passwords import hash_password
from tracker.protocols import ItemKind, Protocol

#: Bump when the generated data changes shape, so cached bench databases are rebuilt.
SEED_FORMAT = 4
PASSWORD = "bench-password-2026"  # noqa: S105 - synthetic bench accounts only
DATA_DIR = Path(__file__).resolve().parent / ".data"
CHUNK = 5000
#: Patients built in memory before their rows are written (a 50,000-patient clinic is some 8 million rows).
PATIENTS_PER_WRITE = 2500

#: Phase mix of the caseload (a clinic a year or so into running: most patients through or in treatment).
PHASE_WEIGHTS = {
    "preparation": 0.20,
    "dosing": 0.08,
    "integration": 0.22,
    "completed": 0.30,
    "on_hold": 0.05,
    "discontinued": 0.15,
}
PROTOCOL_WEIGHTS = {"mdma-ptsd": 0.45, "psilocybin-mdd": 0.25, "ketamine-iv-trd": 0.18, "esketamine-rems-trd": 0.12}
#: Besides the protocol's timepoints, clinics re-administer the protocol's measures between sessions; every
#: this many days makes about 40 results per patient, the issue's 200,000 at 5,000 patients.
MONITORING_DAYS = 4
#: Share of PHQ-9 and C-SSRS results with an urgent flag (item 9 above 0, a plan): about 20,000 alerts at 5,000.
FLAGGED_SHARE = 0.19

PREPARATION_FIELDS = {
    "topics": "What to expect on the dosing day; the room, music and eyeshades; the support plan.",
    "intention": "To face the memories I avoid, without being swept away by them.",
    "consent": "Treatment consent reviewed; recording of sessions agreed; supportive touch: hand only.",
    "questions": "Can I stop the session? (Yes, and the therapists stay with you.)",
}
INTEGRATION_FIELDS = {
    "themes": "Grief for the years lost to avoidance; a felt sense of safety with the partner.",
    "practices": "Daily walk at dawn; ten minutes of breath-counting before sleep.",
    "plan_updates": "Reconnect with a friend from before the accident; journal after nightmares.",
    "risk_notes": "Asked about thoughts of self-harm: none since the session.",
    "risk_check": "no_concern",
}
DOSING_BODY = (
    "Calm onset; the patient used the eyeshades and music for most of the session. Processing of the index trauma "
    "in the second hour; stable and oriented at discharge."
)


@dataclass(frozen=True)
class ClinicSize:
    patients: int
    therapists: int
    supervisors: int

    @classmethod
    def of(cls, patients: int) -> ClinicSize:
        """50 therapists and 10 supervisors at 5,000 patients, scaled proportionally (at least 2 and 1)."""
        therapists = max(2, round(patients / 100))
        return cls(patients, therapists, max(1, round(therapists / 5)))


def migration_head() -> str:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return "-".join(sorted(ScriptDirectory.from_config(config).get_heads()))


def database_path(patients: int, today: date, data_dir: Path = DATA_DIR) -> Path:
    return data_dir / f"clinic-{patients}-f{SEED_FORMAT}-{migration_head()}-{today:%Y%m%d}.sqlite"


def ensure_database(patients: int, data_dir: Path = DATA_DIR) -> tuple[Path, float | None, dict[str, int]]:
    """The bench database of ``patients`` patients: the cached file, or a new one. Returns its path, the seconds
    seeding took (None when cached) and the row counts."""
    path = database_path(patients, utcnow().date(), data_dir)
    if path.exists():
        return path, None, {}
    data_dir.mkdir(parents=True, exist_ok=True)
    for old in data_dir.glob(f"clinic-{patients}-*.sqlite*"):
        old.unlink()
    building = path.with_name(path.name + ".building")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    app = bench_app(f"sqlite:///{building}")
    with app.app_context():
        upgrade()
        counts = seed_clinic(app, patients)
        db.session.remove()
        db.engine.dispose()  # the last connection to close checkpoints the WAL into the file
    os.replace(building, path)
    for suffix in ("-wal", "-shm"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    return path, time.perf_counter() - started, counts


#: The accounts the harness signs in as: the first supervisor, and the first therapist of their group.
ACCOUNTS = {"supervisor": "bench-supervisor-1", "therapist": "bench-therapist-1", "admin": "bench-admin"}


#: SQLite's page cache while seeding, in KiB (3 GiB: the 50,000-patient clinic's file is about that size).
SEED_CACHE_KIB = 3 * 1024 * 1024


def seed_clinic(app: Flask, patients: int, seed: int = 2026) -> dict[str, int]:
    """Seed one clinic of ``patients`` patients into the app's (migrated, empty) database; returns row counts."""
    protocols: dict[str, Protocol] = app.extensions["protocols"]
    clinic = make_clinic(f"Bench clinic ({patients:,} patients)")
    db.session.commit()
    seeder = _Seeder(clinic.id, ClinicSize.of(patients), protocols, random.Random(seed), utcnow())
    seeder.staff(hash_password(PASSWORD))
    with db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            # The whole clinic is one transaction: with SQLite's default 2 MB page cache its dirty pages spill into
            # the WAL and are read back from it for every insert (the 50,000-patient seed read a terabyte through
            # read() in 45 minutes, a third of a core, unfinished). A cache the size of the clinic keeps them here.
            connection.exec_driver_sql(f"PRAGMA cache_size = -{SEED_CACHE_KIB}")
        stage = _audit_stage()
        stage.create(connection)
        for start in range(0, patients, PATIENTS_PER_WRITE):
            for number in range(start, min(start + PATIENTS_PER_WRITE, patients)):
                seeder.patient(number)
            seeder.write(connection, stage)
        seeder.write_audit(connection, stage)
        stage.drop(connection)
    return dict(seeder.counts)


def _whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


@dataclass
class _Course:
    """One patient's timeline, in days from enrolment, built before any row is written."""

    patient_id: int
    lead: int
    co: int | None
    supervisor: int
    protocol: Protocol
    enrolled: datetime
    sessions: list[int] = field(default_factory=list)


class _Seeder:
    """Builds every row in memory (explicit ids, so rows can point at each other before insertion), then writes
    them table by table in dependency order."""

    def __init__(
        self, clinic_id: int, size: ClinicSize, protocols: dict[str, Protocol], rng: random.Random, now: datetime
    ) -> None:
        self.clinic_id, self.size, self.protocols, self.rng = clinic_id, size, protocols, rng
        self.now = _whole_seconds(now)
        self.fake = Faker("en_US")
        self.fake.seed_instance(2026)
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.patient_rows: dict[int, dict[str, Any]] = {}
        self.counts: Counter[str] = Counter()
        self.ids: dict[str, Iterator[int]] = {}
        self.groups: list[tuple[int, list[int]]] = []  # (supervisor id, therapist ids)
        self.cosigners: set[int] = set()
        self.results = _ResultBank()
        #: Dosing notes are inserted unsigned, then signed once their vital signs and adverse events are in
        #: (the database refuses rows added to a signed note).
        self.dosing_signatures: list[dict[str, Any]] = []

    # Rows and ids ---------------------------------------------------------------------------------------------

    def next_id(self, table: str) -> int:
        return next(self.ids.setdefault(table, itertools.count(1)))

    def add(self, table: str, **values: Any) -> dict[str, Any]:
        self.rows.setdefault(table, []).append(values)
        return values

    def audit(
        self,
        when: datetime,
        actor: int,
        action: str,
        summary: str,
        patient: int | None = None,
        target: tuple[str, int] | None = None,
    ) -> None:
        self.add(
            "audit_event",
            created_at=when,
            clinic_id=self.clinic_id,
            actor_id=actor,
            action=action,
            summary=summary,
            patient_id=patient,
            target_type=target[0] if target else None,
            target_id=str(target[1]) if target else None,
            data=None,
            ip="127.0.0.1",
        )

    # Staff --------------------------------------------------------------------------------------------------

    def staff(self, password_hash: str) -> None:
        def user(username: str, name: str, **flags: Any) -> int:
            user_id = self.next_id("user_account")
            self.add(
                "user_account",
                id=user_id,
                clinic_id=self.clinic_id,
                username=username,
                full_name=name,
                password_hash=password_hash,
                is_therapist=flags.get("therapist", False),
                is_supervisor=flags.get("supervisor", False),
                is_admin=flags.get("admin", False),
                supervisor_id=flags.get("supervisor_id"),
                needs_cosign=flags.get("cosign", False),
                active=True,
                created_at=self.now - timedelta(days=400),
            )
            return user_id

        user("bench-admin", "Bench Admin", admin=True)
        supervisors = [
            user(f"bench-supervisor-{n}", f"Dr. {self.fake.name()}", supervisor=True)
            for n in range(1, self.size.supervisors + 1)
        ]
        members: dict[int, list[int]] = {s: [] for s in supervisors}
        for n in range(1, self.size.therapists + 1):
            supervisor = supervisors[(n - 1) * len(supervisors) // self.size.therapists]
            cosign = n % 10 == 0  # one in ten is in training: their notes wait for co-signature
            therapist = user(
                f"bench-therapist-{n}", self.fake.name(), therapist=True, supervisor_id=supervisor, cosign=cosign
            )
            members[supervisor].append(therapist)
            if cosign:
                self.cosigners.add(therapist)
        self.groups = [(s, t) for s, t in members.items() if t]

    # Patients -----------------------------------------------------------------------------------------------

    def patient(self, number: int) -> None:
        rng = self.rng
        supervisor, therapists = self.groups[number % len(self.groups)]
        lead = therapists[(number // len(self.groups)) % len(therapists)]
        others = [t for t in therapists if t != lead]
        co = rng.choice(others) if others and rng.random() < 0.7 else None
        code = rng.choices(list(PROTOCOL_WEIGHTS), weights=list(PROTOCOL_WEIGHTS.values()))[0]
        protocol = self.protocols[code]
        phase = rng.choices(list(PHASE_WEIGHTS), weights=list(PHASE_WEIGHTS.values()))[0]
        plan = _plan_days(protocol)
        stop = self._stop(phase, protocol)
        span = _span(plan, stop)
        # Finished courses ended up to most of a year ago; active ones had a session in the last week.
        finished = phase in ("completed", "discontinued")
        end_ago = rng.randint(10, max(11, 330 - span)) if finished else rng.randint(1, 6)
        enrolled = _whole_seconds(self.now - timedelta(days=span + end_ago, hours=rng.randint(0, 8)))
        patient_id = self.next_id("patient")
        course = _Course(patient_id, lead, co, supervisor, protocol, enrolled)
        held_from = None
        if phase == "on_hold":
            held_from = "integration" if stop.get("dosed", 0) else "preparation"
        self.patient_rows[patient_id] = self.add(
            "patient",
            id=patient_id,
            clinic_id=self.clinic_id,
            record_number=f"B-{number + 1:06d}",
            record_number_folded=f"b-{number + 1:06d}",
            given_name=self.fake.first_name(),
            family_name=self.fake.last_name(),
            date_of_birth=date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 50)),
            phone=None,
            email=None,
            support_contact_name=self.fake.name(),
            support_contact_relationship="Partner",
            support_contact_phone="555-0100",
            indication=PROTOCOL_INDICATIONS[code],
            protocol_code=code,
            phase=phase,
            held_from_phase=held_from,
            phase_changed_at=enrolled,
            created_at=enrolled,
            version_id=1,
        )
        self.add("care_team_member", patient_id=patient_id, user_id=lead, role="lead")
        if co is not None:
            self.add("care_team_member", patient_id=patient_id, user_id=co, role="co_therapist")
        self.audit(enrolled, lead, "patient.create", f"Enrolled patient B-{number + 1:06d}", patient_id)
        self._course(course, plan, stop, phase)
        for _ in range(rng.randint(1, 4)):
            seen = self.now - timedelta(days=rng.uniform(0, span + end_ago))
            self.audit(_whole_seconds(seen), lead, "patient.view", f"Viewed patient B-{number + 1:06d}", patient_id)

    def _stop(self, phase: str, protocol: Protocol) -> dict[str, int]:
        """How far along its plan the patient got: preparation sessions held, dosing sessions held, integration
        sessions held in the last cycle."""
        rng, plan = self.rng, protocol.sessions
        full = {"prep": plan.preparation, "dosed": plan.dosing, "integ": plan.integration_per_dosing}
        if phase == "preparation":
            return {"prep": rng.randint(0, plan.preparation), "dosed": 0, "integ": 0}
        if phase == "dosing":
            return {
                **full,
                "dosed": rng.randint(0, plan.dosing - 1),
                "integ": plan.integration_per_dosing,
                "upcoming_dosing": 1,
            }
        if phase == "integration":
            return {**full, "dosed": rng.randint(1, plan.dosing), "integ": rng.randint(0, plan.integration_per_dosing)}
        if phase == "completed":
            return full
        if phase == "on_hold":
            return {**full, "dosed": rng.randint(0, 1), "integ": rng.randint(0, plan.integration_per_dosing)}
        dosed = rng.randint(0, plan.dosing)
        return {**full, "prep": plan.preparation, "dosed": dosed, "integ": plan.integration_per_dosing if dosed else 0}

    def _course(self, course: _Course, plan: _PlanDays, stop: dict[str, int], phase: str) -> None:
        at = course.enrolled
        self.add(
            "phase_transition",
            patient_id=course.patient_id,
            from_phase=None,
            to_phase="preparation",
            actor_id=course.lead,
            reason=None,
            created_at=at,
        )
        self._screening(course, stop, phase)
        last_day = 0
        for index in range(stop["prep"]):
            last_day = plan.preparation[index]
            self._session(course, "preparation", None, plan.preparation[index])
        previous = "preparation"
        for cycle in range(1, stop["dosed"] + 1):
            day = plan.dosing[cycle - 1]
            if previous != "dosing":
                self._transition(course, previous, "dosing", day)
            self._session(course, "dosing", cycle, day)
            self._session(course, "follow_up", cycle, day + 1, minutes=15, location="Phone")
            self._measures(course, day + 6, "after_each_dosing")
            integrations = plan.integration if cycle < stop["dosed"] else plan.integration[: stop["integ"]]
            if plan.integration or cycle == stop["dosed"]:
                self._transition(course, "dosing", "integration", day + 1)
                previous = "integration"
            else:
                previous = "dosing"
            for offset in integrations:
                self._session(course, "integration", cycle, day + offset)
            last_day = day + (integrations[-1] if integrations else 1)
            if cycle == 1:
                self._plan(course, day + 3, given=False)
        if stop.get("upcoming_dosing"):
            cycle = stop["dosed"] + 1
            if previous != "dosing":
                self._transition(course, previous, "dosing", last_day + 1)
            self._scheduled(course, "dosing", cycle)
        elif phase in ("preparation", "integration"):
            kind = "preparation" if phase == "preparation" else "integration"
            self._scheduled(course, kind, None if kind == "preparation" else stop["dosed"])
        self._monitoring(course, last_day)
        if phase == "completed":
            self._measures(course, last_day, "end_of_treatment")
            self._transition(course, previous, "completed", last_day + 1)
            for after in (30, 90):  # follow-up contacts after the end of treatment
                if course.enrolled + timedelta(days=last_day + after + 1) < self.now:
                    self._session(course, "follow_up", stop["dosed"], last_day + after, minutes=20, location="Phone")
            self._plan(course, last_day, given=True)
        elif phase in ("on_hold", "discontinued"):
            self._transition(
                course,
                previous,
                phase,
                last_day + 1,
                reason="Travel abroad for two months" if phase == "on_hold" else "Chose to stop",
            )
        if stop["prep"] == 0 and phase == "preparation":
            return
        self._measures(course, max(plan.preparation[-1] - 2, 0), "baseline", level=0.6)

    def _transition(self, course: _Course, source: str, target: str, day: int, reason: str | None = None) -> None:
        when = course.enrolled + timedelta(days=day, hours=1)
        self.add(
            "phase_transition",
            patient_id=course.patient_id,
            from_phase=source,
            to_phase=target,
            actor_id=course.lead,
            reason=reason,
            created_at=when,
        )
        self._patient_row(course)["phase_changed_at"] = when
        self.audit(when, course.lead, "patient.phase_change", f"Moved from {source} to {target}", course.patient_id)

    def _patient_row(self, course: _Course) -> dict[str, Any]:
        return self.patient_rows[course.patient_id]

    # Screening ----------------------------------------------------------------------------------------------

    def _screening(self, course: _Course, stop: dict[str, int], phase: str) -> None:
        rng, protocol = self.rng, course.protocol
        checklist_id = self.next_id("screening_checklist")
        created = course.enrolled + timedelta(minutes=5)
        signed = stop["dosed"] > 0 or stop.get("upcoming_dosing", 0) > 0 or phase == "completed"
        signed_at = course.enrolled + timedelta(days=max(1, stop["prep"] * 7)) if signed else None
        self.add(
            "screening_checklist",
            id=checklist_id,
            patient_id=course.patient_id,
            protocol_code=protocol.code,
            created_at=created,
            created_by_id=course.lead,
            signed_off_at=signed_at,
            signed_off_by_id=course.lead if signed else None,
        )
        if phase == "preparation" and rng.random() < 0.1:
            return  # not started yet
        flagged = None
        reviews = [i.id for i in protocol.screening if i.kind is ItemKind.REVIEW]
        if phase == "preparation" and reviews and rng.random() < 0.15:
            flagged = rng.choice(reviews)  # waits in the supervisor's review queue
        answered = created + timedelta(days=1)
        for item in protocol.screening:
            if item.kind is ItemKind.REQUIREMENT:
                answer, value = "recorded", (item.acceptable[0] if item.acceptable else "recorded")
                done_on: date | None = answered.date()
            else:
                answer, value, done_on = ("yes" if item.id == flagged else "no"), None, None
            self.add(
                "screening_answer",
                checklist_id=checklist_id,
                item_id=item.id,
                answer=answer,
                value=value,
                done_on=done_on,
                note=None,
                answered_by_id=course.lead,
                answered_at=answered,
            )
        self.audit(answered, course.lead, "screening.answer", "Answered the screening checklist", course.patient_id)
        if signed_at is not None:
            self.audit(signed_at, course.lead, "screening.sign_off", "Signed off the screening", course.patient_id)

    # Sessions and notes -------------------------------------------------------------------------------------

    def _session(
        self,
        course: _Course,
        kind: str,
        cycle: int | None,
        day: int,
        minutes: int | None = None,
        location: str = "Therapy room 2",
    ) -> None:
        rng, protocol = self.rng, course.protocol
        observation = protocol.minimum_observation_minutes or 240
        minutes = minutes or (observation + 90 if kind == "dosing" else 60)
        held = course.enrolled + timedelta(days=day, hours=rng.randint(1, 7))
        if held > self.now - timedelta(hours=2):
            held = self.now - timedelta(hours=2, days=rng.randint(0, 2))
        session_id = self.next_id("therapy_session")
        present = [course.lead] + ([course.co] if kind == "dosing" and course.co else [])
        session = self.add(
            "therapy_session",
            id=session_id,
            patient_id=course.patient_id,
            kind=kind,
            cycle=cycle,
            held_at=held,
            duration_minutes=minutes,
            scheduled_at=held,
            scheduled_minutes=minutes,
            location="Session room 1" if kind == "dosing" else location,
            logged_by_id=course.lead,
            created_at=held - timedelta(days=7),
        )
        for user_id in present:
            self.add("session_therapist", session_id=session_id, user_id=user_id)
        self.audit(
            held + timedelta(minutes=minutes),
            course.lead,
            "session.log",
            f"Logged a {kind} session",
            course.patient_id,
            ("therapy_session", session_id),
        )
        recent = held > self.now - timedelta(days=30)
        signed = not (recent and rng.random() < 0.12)  # some notes are still drafts, most over a day old
        self._note(course, session, present, signed)

    def _scheduled(self, course: _Course, kind: str, cycle: int | None) -> None:
        """The next session, within a fortnight; about one in ten is today, for the therapist's day."""
        rng = self.rng
        today = self.now.replace(hour=8, minute=0, second=0)
        days = 0 if rng.random() < 0.1 else rng.randint(1, 14)
        when = today + timedelta(days=days, hours=rng.randint(0, 8))
        session_id = self.next_id("therapy_session")
        minutes = 480 if kind == "dosing" else 60
        self.add(
            "therapy_session",
            id=session_id,
            patient_id=course.patient_id,
            kind=kind,
            cycle=cycle,
            held_at=None,
            duration_minutes=None,
            scheduled_at=when,
            scheduled_minutes=minutes,
            location="Therapy room 2",
            logged_by_id=course.lead,
            created_at=when - timedelta(days=14),
        )
        self.add("session_therapist", session_id=session_id, user_id=course.lead)
        self.audit(
            when - timedelta(days=14),
            course.lead,
            "session.schedule",
            f"Scheduled a {kind} session",
            course.patient_id,
            ("therapy_session", session_id),
        )

    def _note(self, course: _Course, session: dict[str, Any], present: list[int], signed: bool) -> None:
        rng = self.rng
        note_id = self.next_id("session_note")
        kind = SessionKind(session["kind"])
        held: datetime = session["held_at"]
        written = held + timedelta(minutes=session["duration_minutes"] + 30)
        note = self.add(
            "session_note",
            id=note_id,
            session_id=session["id"],
            author_id=course.lead,
            created_at=written,
            updated_at=written,
            updated_by_id=course.lead,
            version_id=1,
            body="",
            fields={},
            substance=None,
            dose_amount=None,
            dose_unit=None,
            weight_kg=None,
            dose_total_mg=None,
            route=None,
            lot_number=None,
            dose_given_at=None,
            supplemental_mg=None,
            supplemental_given_at=None,
            distress_baseline=None,
            distress_at_discharge=None,
            escort_name=None,
            discharged_at=None,
            pre_dose_decision=None,
            signed_at=None,
            signed_by_id=None,
            content_sha256=None,
            cosign_required=False,
            content_version=CONTENT_VERSION,
        )
        vitals: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        if kind is SessionKind.PREPARATION:
            note["fields"], note["body"] = dict(PREPARATION_FIELDS), "Preparation session."
        elif kind is SessionKind.FOLLOW_UP:
            note["body"] = "Phone check-in: slept well, no distressing after-effects; reminded of the clinic's number."
        elif kind is SessionKind.INTEGRATION:
            note["fields"] = dict(INTEGRATION_FIELDS)
            note["body"] = f"Integration session after dosing {session['cycle']}."
        else:
            vitals, events = self._dosing(course, note, session)
        self.audit(written, course.lead, "note.create", "Started a note", course.patient_id, ("session_note", note_id))
        if not signed:
            return
        signed_at = written + timedelta(hours=rng.randint(1, 20))
        view = SimpleNamespace(
            **note, vitals=[SimpleNamespace(**v) for v in vitals], adverse_events=[SimpleNamespace(**e) for e in events]
        )
        session_view = SimpleNamespace(**{**session, "kind": kind}, present=[SimpleNamespace(id=i) for i in present])
        signature = {
            "signed_at": signed_at,
            "signed_by_id": course.lead,
            "content_sha256": sha256(note_content(view, session_view)),  # type: ignore[arg-type]
            "cosign_required": course.lead in self.cosigners,
        }
        if kind is SessionKind.DOSING:
            self.dosing_signatures.append({"note_id": note_id, **signature})
        else:
            note.update(signature)
        self.audit(
            signed_at,
            course.lead,
            "note.sign",
            f"Signed the note of a {kind.value} session",
            course.patient_id,
            ("session_note", note_id),
        )
        if signature["cosign_required"] and signed_at < self.now - timedelta(days=7):
            decided = signed_at + timedelta(days=2)
            self.add(
                "cosign_decision",
                note_id=note_id,
                supervisor_id=course.supervisor,
                decision="cosigned",
                comment=None,
                content_sha256=sha256([signature["content_sha256"]]),
                decided_at=decided,
            )
            self.audit(
                decided,
                course.supervisor,
                "note.cosign",
                "Co-signed a note",
                course.patient_id,
                ("session_note", note_id),
            )

    def _dosing(
        self, course: _Course, note: dict[str, Any], session: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The administration, three (sometimes four, one out of range) readings and, now and then, an adverse
        event: what ``factories.complete_dosing`` records, with the dose of the protocol."""
        rng, protocol = self.rng, course.protocol
        observation = protocol.minimum_observation_minutes or 240
        amount, unit, route = usual_dose(protocol, session["cycle"])
        weight = float(rng.randint(55, 95))
        given = session["held_at"] + timedelta(minutes=15)
        note.update(
            body=DOSING_BODY,
            substance=protocol.substance,
            dose_amount=amount,
            dose_unit=unit,
            weight_kg=weight,
            dose_total_mg=unit.total_mg(amount, weight),
            route=route,
            lot_number=f"LOT-{session['cycle']:02d}-2026",
            dose_given_at=given,
            distress_baseline=4,
            distress_at_discharge=2,
            escort_name="Partner (drives home)",
            discharged_at=given + timedelta(minutes=observation + 30),
            pre_dose_decision=None,
        )
        readings: list[tuple[int, int, int, float, int, dict[str, str] | None]] = [
            (122, 78, 72, 36.7, 98, None),
            (134, 84, 88, 37.0, 97, None),
            (124, 80, 74, 36.8, 98, None),
        ]
        if rng.random() < 0.1:
            readings.insert(
                2,
                (
                    171,
                    104,
                    112,
                    37.4,
                    96,
                    {
                        "heart_rate": "Heart rate 112 bpm is above the protocol's limit of 110 bpm",
                        "systolic": "Systolic 171 mmHg is above the protocol's limit of 160 mmHg",
                    },
                ),
            )
        vitals = []
        for index, (systolic, diastolic, pulse, temperature, spo2, flags) in enumerate(readings):
            taken = given + timedelta(minutes=index * (observation + 10) // (len(readings) - 1))
            vitals.append(
                self.add(
                    "vital_reading",
                    id=self.next_id("vital_reading"),
                    note_id=note["id"],
                    taken_at=taken,
                    systolic=systolic,
                    diastolic=diastolic,
                    heart_rate=pulse,
                    temperature=temperature,
                    spo2=spo2,
                    flags=flags,
                    recorded_by_id=course.lead,
                    created_at=taken,
                )
            )
        events = []
        if rng.random() < 0.06:
            serious = rng.random() < 0.1
            events.append(
                self.add(
                    "adverse_event",
                    id=self.next_id("adverse_event"),
                    note_id=note["id"],
                    description="Transient hypertension with headache" if serious else "Nausea in the first hour",
                    onset_at=given + timedelta(minutes=70),
                    severity="severe" if serious else "mild",
                    serious=serious,
                    action_taken="Observed; vital signs every 15 minutes",
                    outcome="recovered",
                    rescue_medication=None,
                    rescue_dose=None,
                    rescue_given_at=None,
                    recorded_by_id=course.lead,
                    created_at=given + timedelta(minutes=80),
                )
            )
        return vitals, events

    # Measures, alerts, plans --------------------------------------------------------------------------------

    def _measures(self, course: _Course, day: int, timepoint: str, level: float | None = None) -> None:
        for measure in course.protocol.measures:
            if timepoint in measure.timepoints:
                self._result(course, measure.instrument, day, level)

    def _monitoring(self, course: _Course, last_day: int) -> None:
        end = min(last_day + 60, (self.now - course.enrolled).days)
        for day in range(3, end, MONITORING_DAYS):
            for measure in course.protocol.measures:
                self._result(course, measure.instrument, day)

    def _result(self, course: _Course, code: str, day: int, level: float | None = None) -> None:
        rng = self.rng
        on = course.enrolled + timedelta(days=day, hours=2)
        if on > self.now:
            return
        flagged = code in ("phq9", "cssrs") and rng.random() < FLAGGED_SHARE
        values, urgent = self.results.get(
            code, level if level is not None else rng.choice((0.2, 0.35, 0.5, 0.65)), flagged
        )
        result_id = self.next_id("measure_result")
        self.add(
            "measure_result",
            id=result_id,
            patient_id=course.patient_id,
            administered_on=on.date(),
            entered_by_id=course.lead,
            entered_at=on,
            supersedes_id=None,
            correction_reason=None,
            **values,
        )
        self.audit(
            on,
            course.lead,
            "measure.record",
            f"Recorded a {code} result",
            course.patient_id,
            ("measure_result", result_id),
        )
        if not urgent:
            return
        alert_id = self.next_id("safety_alert")
        still_open = on > self.now - timedelta(days=10) and rng.random() < 0.5
        acknowledged = None if still_open else on + timedelta(hours=rng.randint(1, 30))
        if acknowledged is not None and acknowledged > self.now:
            acknowledged = self.now - timedelta(minutes=5)
        urgent_flags = [f for f in values["flags"] if f["urgent"]]
        self.add(
            "safety_alert",
            id=alert_id,
            patient_id=course.patient_id,
            source="measure",
            high_risk=any(f["high_risk"] for f in urgent_flags),
            result_id=result_id,
            session_id=None,
            source_row_id=None,
            summary=" ".join(f["message"] for f in urgent_flags),
            raised_at=on,
            acknowledged_at=acknowledged,
            acknowledged_by_id=course.lead if acknowledged else None,
            actions=["patient_contacted", "safety_plan_reviewed"] if acknowledged else None,
            action_taken="Called the patient the same day; safety plan reviewed." if acknowledged else None,
        )
        self.audit(on, course.lead, "alert.raise", "Safety alert raised", course.patient_id, ("safety_alert", alert_id))
        if acknowledged:
            self.audit(
                acknowledged,
                course.lead,
                "alert.acknowledge",
                "Acknowledged a safety alert",
                course.patient_id,
                ("safety_alert", alert_id),
            )

    def _plan(self, course: _Course, day: int, given: bool) -> None:
        created = min(course.enrolled + timedelta(days=day, hours=5), self.now - timedelta(hours=1))
        sections = [{"title": t, "text": DEMO_PLAN.get(t, "")} for t in course.protocol.integration_plan_sections]
        number = 2 if given else 1
        version_id = self.next_id("integration_plan_version")
        self.add(
            "integration_plan_version",
            id=version_id,
            patient_id=course.patient_id,
            number=number,
            protocol_code=course.protocol.code,
            sections=sections,
            crisis_line="988 (call or text, 24 hours)",
            created_at=created,
            created_by_id=course.lead,
        )
        self.audit(
            created,
            course.lead,
            "plan.save",
            f"Saved version {number} of the integration plan",
            course.patient_id,
            ("integration_plan_version", version_id),
        )
        if given:
            self.add(
                "integration_plan_handout",
                version_id=version_id,
                given_on=created.date(),
                recorded_at=created,
                recorded_by_id=course.lead,
            )
            self.audit(created, course.lead, "plan.given", "Gave the integration plan", course.patient_id)

    # Writing ------------------------------------------------------------------------------------------------

    def write(self, connection: Connection, stage: Table) -> None:
        """Write the rows built so far and forget them; audit rows go to ``stage``, to be chained in time order
        once every patient is written (``write_audit``)."""
        tables = cast(
            "list[Table]",
            [
                User.__table__,
                Patient.__table__,
                CareTeamMember.__table__,
                PhaseTransition.__table__,
                ScreeningChecklist.__table__,
                ScreeningAnswer.__table__,
                TherapySession.__table__,
                session_therapist,
                SessionNote.__table__,
                VitalReading.__table__,
                AdverseEvent.__table__,
                CosignDecision.__table__,
                MeasureResult.__table__,
                SafetyAlert.__table__,
                IntegrationPlanVersion.__table__,
                PlanHandout.__table__,
                stage,
            ],
        )
        for table in tables:
            name = AuditEvent.__tablename__ if table is stage else table.name
            rows = self.rows.pop(name, [])
            self.counts[name] += len(rows)
            for start in range(0, len(rows), CHUNK):
                connection.execute(insert(table), rows[start : start + CHUNK])
        columns = ("signed_at", "signed_by_id", "content_sha256", "cosign_required")
        sign = (
            update(SessionNote)
            .where(SessionNote.id == bindparam("b_note_id"))
            .values({name: bindparam(f"b_{name}") for name in columns})
        )
        for start in range(0, len(self.dosing_signatures), CHUNK):
            connection.execute(
                sign, [{f"b_{k}": v for k, v in row.items()} for row in self.dosing_signatures[start : start + CHUNK]]
            )
        self.counts["session_note (dosing, signed after their readings)"] += len(self.dosing_signatures)
        self.dosing_signatures = []
        self.patient_rows = {}
        self.rows = {}

    def write_audit(self, connection: Connection, stage: Table) -> None:
        """Chain the staged audit rows in time order (the chain ``flask audit verify`` walks), ``CHUNK`` at a
        time, and write them and the chain's head."""
        last_seq, last_hash = 0, GENESIS
        after: tuple[datetime, int] | None = None
        while True:
            query = select(stage).order_by(stage.c.created_at, stage.c.seq).limit(CHUNK)
            if after is not None:  # a row-value comparison: one seek in the index per chunk, not a scan
                query = query.where(tuple_(stage.c.created_at, stage.c.seq) > tuple_(*after))
            rows = [dict(row) for row in connection.execute(query).mappings()]
            if not rows:
                break
            after = (rows[-1]["created_at"], rows[-1]["seq"])
            for row in rows:
                del row["seq"]
            last_seq, last_hash = chain_rows(rows, self.clinic_id, last_seq, last_hash)
            connection.execute(insert(AuditEvent.__table__), rows)  # type: ignore[arg-type]
        connection.execute(
            insert(AuditChainHead.__table__),  # type: ignore[arg-type]
            [{"chain": self.clinic_id, "last_seq": last_seq, "last_hash": last_hash}],
        )


def _audit_stage() -> Table:
    """A temporary table for audit rows before they are chained: the audit trail's columns without its chain
    (and without foreign keys, which a temporary table cannot have into the main schema on SQLite)."""
    chained = {"id", "chain", "chain_seq", "prev_hash", "row_hash"}
    columns = [Column(c.name, c.type) for c in AuditEvent.__table__.columns if c.name not in chained]
    return Table(
        "bench_audit_stage",
        MetaData(),
        Column("seq", Integer, primary_key=True),
        *columns,
        Index("ix_bench_audit_stage_order", "created_at", "seq"),
        prefixes=["TEMPORARY"],
    )


@dataclass(frozen=True)
class _PlanDays:
    """The days after enrolment of each session in the protocol's plan."""

    preparation: list[int]
    dosing: list[int]
    integration: list[int]  # after each dosing session


def _plan_days(protocol: Protocol) -> _PlanDays:
    plan = protocol.sessions
    preparation = [7 * (n + 1) for n in range(plan.preparation)]
    spacing = plan.dosing_spacing_days or (28 if plan.integration_per_dosing else 4)
    first = preparation[-1] + 7 if preparation else 7
    dosing = [first + spacing * n for n in range(plan.dosing)]
    integration = [2 + 7 * n for n in range(plan.integration_per_dosing)]
    return _PlanDays(preparation, dosing, integration)


def _span(plan: _PlanDays, stop: dict[str, int]) -> int:
    """Days from enrolment to the patient's last session."""
    if stop["dosed"]:
        last = plan.dosing[stop["dosed"] - 1]
        integ = plan.integration[: stop["integ"]] if stop["dosed"] else []
        return last + (integ[-1] if integ else 1)
    return plan.preparation[stop["prep"] - 1] if stop["prep"] else 1


class _ResultBank:
    """Scored answers, computed once per instrument, severity and flag, then shared by every result like them."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, float, bool], tuple[dict[str, Any], bool]] = {}

    def get(self, code: str, level: float, flagged: bool) -> tuple[dict[str, Any], bool]:
        """The result's columns, and whether it raises an alert (its flags say whether that alert is high risk)."""
        key = (code, level, flagged)
        if key not in self.cache:
            instrument = get_instrument(code)
            result = score(code, sample_answers(code, level, flagged))
            values = {
                "instrument": code,
                "mode": MODES[instrument.administration][0].value,
                "answers": list(result.answers),
                "total": result.total,
                "band": result.band,
                "band_index": result.band_index,
                "subscales": [
                    {
                        "code": s.code,
                        "name": s.name,
                        "score": s.score,
                        "endorsed": s.endorsed,
                        "required": s.required,
                        "met": s.met,
                    }
                    for s in result.subscales
                ],
                "flags": [
                    {
                        "code": f.code,
                        "message": f.message,
                        "urgent": f.urgent,
                        "source": f.source,
                        "high_risk": f.high_risk,
                    }
                    for f in result.flags
                ],
                "provisional_diagnosis": result.provisional_diagnosis,
                "cut_point": result.cut_point,
            }
            self.cache[key] = (values, result.urgent)
        return self.cache[key]


def summary(counts: dict[str, int]) -> str:
    shown = Counter({k: v for k, v in counts.items() if not k.startswith("session_note (")})
    return ", ".join(f"{table} {count:,}" for table, count in shown.most_common())

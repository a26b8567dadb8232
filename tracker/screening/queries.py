"""What the screening pages show, loaded in a constant number of queries: one patient's screening state, and the
supervisor's queue of review items waiting for a decision.

Reads only: the pages audit what they show, and changes go through ``tracker.screening.services``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tracker import eligibility
from tracker.clinics import clinic_of
from tracker.database import AnySession
from tracker.models import (
    AnswerValue,
    CareTeamMember,
    Medication,
    Patient,
    Phase,
    ScreeningAnswer,
    ScreeningChecklist,
    ScreeningReview,
    User,
)
from tracker.permissions import patient_scope
from tracker.protocols import InteractionRule, ItemKind, Protocol, ScreeningItem
from tracker.screening.services import (
    assess,
    current_checklist,
    latest_answers,
    latest_reviews,
    may_review,
    medication_facts,
    medications_of,
    record_of,
)

#: The groups of the checklist page, in the order a screening is usually worked through.
KIND_HEADINGS = {
    ItemKind.EXCLUSION: "Absolute exclusions",
    ItemKind.REVIEW: "Items needing a supervisor's review",
    ItemKind.REQUIREMENT: "Requirements",
}


@dataclass(frozen=True)
class ScreeningState:
    """A patient's screening as the pages show it: the checklist, its history, medications and the verdict."""

    protocol: Protocol
    checklist: ScreeningChecklist | None
    medications: list[Medication]
    assessment: eligibility.Eligibility
    #: Item id -> the current medications that raise it through an interaction rule.
    raised: dict[str, list[Medication]] = field(default_factory=dict)
    answers: dict[str, ScreeningAnswer] = field(default_factory=dict)
    reviews: dict[str, ScreeningReview] = field(default_factory=dict)
    #: Item id -> every answer given, newest first.
    history: dict[str, list[ScreeningAnswer]] = field(default_factory=dict)
    #: Item id -> every review decision, newest first.
    decisions: dict[str, list[ScreeningReview]] = field(default_factory=dict)
    #: The facts of the patient's record items may depend on.
    record: dict[str, bool] = field(default_factory=dict)

    @property
    def signed_off(self) -> bool:
        return self.checklist is not None and self.checklist.signed_off_at is not None

    @property
    def groups(self) -> list[tuple[str, list[ScreeningItem]]]:
        return [
            (heading, [item for item in self.protocol.screening if item.kind is kind])
            for kind, heading in KIND_HEADINGS.items()
            if any(item.kind is kind for item in self.protocol.screening)
        ]

    @property
    def excluded(self) -> list[ScreeningItem]:
        """Absolute exclusions that hold: the patient cannot continue under this protocol."""
        ids = {r.item_id for r in self.assessment.reasons if r.status is eligibility.Status.INELIGIBLE}
        return [item for item in self.protocol.screening if item.id in ids and item.kind is ItemKind.EXCLUSION]

    @property
    def revisable_after_sign_off(self) -> frozenset[str]:
        """Requirements a pre-dosing check asks to be recorded again before each dosing session."""
        return frozenset(check.requirement for check in self.protocol.pre_dosing)

    def applies(self, item: ScreeningItem) -> bool:
        """Whether the item applies to this patient (a pregnancy test only when a pregnancy is possible)."""
        return eligibility.applies(item, self.record)

    def may_answer(self, item: ScreeningItem) -> bool:
        """Before sign-off, every item; after it, the tests recorded again before each dosing session, and the
        exclusion and review items (a new finding, or a reasoned correction a supervisor reviews)."""
        if self.checklist is None:
            return False
        return not self.signed_off or item.id in self.revisable_after_sign_off or item.kind is not ItemKind.REQUIREMENT


def build_state(
    protocol: Protocol,
    checklist: ScreeningChecklist | None,
    medications: Sequence[Medication],
    today: date,
    record: dict[str, bool] | None = None,
    tz: tzinfo = UTC,
) -> ScreeningState:
    """The state from rows already loaded (no queries); ``record``: the facts of the patient's record the items
    may depend on (``screening.services.record_of``); ``today`` and ``tz``: the clinic's date and time zone."""
    record = eligibility.record_for(record or {}, checklist.record_at_sign_off if checklist else None)
    by_id = {m.id: m for m in medications}
    raised_ids = eligibility.raised_by_medications(protocol, medication_facts(medications, today))
    history: dict[str, list[ScreeningAnswer]] = {}
    decisions: dict[str, list[ScreeningReview]] = {}
    if checklist is not None:
        for answer in reversed(checklist.answers):
            history.setdefault(answer.item_id, []).append(answer)
        for review in reversed(checklist.reviews):
            decisions.setdefault(review.item_id, []).append(review)
    return ScreeningState(
        protocol=protocol,
        checklist=checklist,
        medications=list(medications),
        assessment=assess(checklist, protocol, medications, today, record, tz),
        record=record,
        raised={item_id: [by_id[i] for i in ids] for item_id, ids in raised_ids.items()},
        answers=latest_answers(checklist, tz) if checklist else {},
        reviews=latest_reviews(checklist) if checklist else {},
        history=history,
        decisions=decisions,
    )


def screening_state(db: AnySession, patient: Patient, protocol: Protocol, today: date) -> ScreeningState:
    """The patient's current screening, in four queries whatever the length of its history (``today``: the
    clinic's date)."""
    checklist = current_checklist(db, patient)
    medications = medications_of(db, [patient.id])[patient.id]
    tz = clinic_of(db, patient.clinic_id).zone
    return build_state(protocol, checklist, medications, today, record_of(patient), tz)


def interactions_of(
    protocol: Protocol, medications: Sequence[Medication], today: date
) -> dict[int, list[tuple[InteractionRule, ScreeningItem]]]:
    """Medication id -> the protocol's interaction rules it matches (current medications only), each paired with
    the screening item it raises: ``[(rule, item), ...]``."""
    result: dict[int, list[tuple[InteractionRule, ScreeningItem]]] = {}
    for fact in medication_facts(medications, today):
        if fact.current:
            result[fact.id] = [
                (rule, protocol.item(rule.raises)) for rule in protocol.interactions if eligibility.matches(rule, fact)
            ]
    return result


@dataclass(frozen=True)
class PendingReview:
    """One flagged review item waiting for a supervisor's decision."""

    patient: Patient
    item: ScreeningItem
    #: Since when the decision has been waiting: the newest of the "yes" answer and the raising medications,
    #: because a decision holds only for what it was made about.
    since: datetime
    answer: ScreeningAnswer | None
    medications: list[Medication]


#: Final phases: a patient there will never be dosed again, so a waiting review is moot.
FINAL_PHASES = (Phase.COMPLETED, Phase.DISCONTINUED)


def _reviewable_patients(db: AnySession, actor: User) -> list[Patient]:
    supervised_on_team = (
        select(CareTeamMember.patient_id)
        .join(User, User.id == CareTeamMember.user_id)
        .where(User.supervisor_id == actor.id)
    )
    rows = db.scalars(
        select(Patient)
        .where(patient_scope(actor), Patient.id.in_(supervised_on_team), Patient.phase.not_in(FINAL_PHASES))
        .options(selectinload(Patient.care_team).joinedload(CareTeamMember.user))
    )
    return [patient for patient in rows if may_review(actor, patient.care_team)]


def _current_checklists(db: AnySession, patient_ids: Sequence[int]) -> dict[int, ScreeningChecklist]:
    """Each patient's newest checklist for their current protocol (as ``current_checklist``), in three queries."""
    newest = (
        select(func.max(ScreeningChecklist.id))
        .join(Patient, Patient.id == ScreeningChecklist.patient_id)
        .where(
            ScreeningChecklist.patient_id.in_(patient_ids),
            ScreeningChecklist.protocol_code == Patient.protocol_code,
        )
        .group_by(ScreeningChecklist.patient_id)
    )
    rows = db.scalars(
        select(ScreeningChecklist)
        .where(ScreeningChecklist.id.in_(newest))
        .options(
            selectinload(ScreeningChecklist.answers).joinedload(ScreeningAnswer.answered_by),
            selectinload(ScreeningChecklist.reviews),
        )
    )
    return {checklist.patient_id: checklist for checklist in rows}


def pending_reviews(db: AnySession, actor: User, protocols: dict[str, Protocol], today: date) -> list[PendingReview]:
    """Every review item waiting for a decision ``actor`` may make (``may_review``), oldest first.

    A constant number of queries whatever the caseload: the patients with their care teams, their checklists
    with answers and reviews, and their medications.
    """
    patients = _reviewable_patients(db, actor)
    tz = clinic_of(db, actor.clinic_id).zone
    ids = [p.id for p in patients]
    checklists = _current_checklists(db, ids) if ids else {}
    medications = medications_of(db, ids) if ids else {}
    waiting: list[PendingReview] = []
    for patient in patients:
        protocol = protocols.get(patient.protocol_code)
        checklist = checklists.get(patient.id)
        if protocol is None or checklist is None:
            continue
        state = build_state(protocol, checklist, medications[patient.id], today, record_of(patient), tz)
        for item_id in state.assessment.pending_reviews:
            answer = state.answers.get(item_id)
            flagged_by = answer if answer is not None and answer.answer is AnswerValue.YES else None
            raising = state.raised.get(item_id, [])
            times = [m.created_at for m in raising] + ([flagged_by.answered_at] if flagged_by else [])
            if not times and answer is not None:  # a correction to "no" with nothing behind it: waiting since then
                times = [answer.answered_at]
            since = max(times) if times else checklist.created_at
            waiting.append(PendingReview(patient, protocol.item(item_id), since, flagged_by, raising))
    return sorted(waiting, key=lambda row: (row.since, row.patient.id, row.item.id))

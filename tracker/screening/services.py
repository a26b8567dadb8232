"""Screening operations: checklists, answers, sign-off, supervisors' reviews and medications.

Each takes the acting user, writes the audit row and leaves the commit to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from tracker import audit, eligibility
from tracker.database import AnySession
from tracker.extensions import db
from tracker.models import (
    AnswerValue,
    CareTeamMember,
    Medication,
    Patient,
    ReviewDecision,
    ScreeningAnswer,
    ScreeningChecklist,
    ScreeningReview,
    User,
)
from tracker.models.base import utcnow
from tracker.protocols import ItemKind, Protocol, ScreeningItem


class ScreeningError(ValueError):
    """A screening change refused for a reason shown next to ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def start_checklist(session: AnySession, patient: Patient, actor: User) -> ScreeningChecklist:
    """A new, empty checklist for the patient's protocol (at enrolment, or after a change of protocol)."""
    checklist = ScreeningChecklist(patient=patient, protocol_code=patient.protocol_code, created_by_id=actor.id)
    session.add(checklist)
    return checklist


def current_checklist(session: AnySession, patient: Patient) -> ScreeningChecklist | None:
    """The newest checklist for the patient's current protocol, with its answers and reviews."""
    checklist: ScreeningChecklist | None = session.scalar(
        select(ScreeningChecklist)
        .where(ScreeningChecklist.patient_id == patient.id, ScreeningChecklist.protocol_code == patient.protocol_code)
        .order_by(ScreeningChecklist.id.desc())
        .limit(1)
        .options(
            selectinload(ScreeningChecklist.answers).joinedload(ScreeningAnswer.answered_by),
            selectinload(ScreeningChecklist.reviews).joinedload(ScreeningReview.reviewer),
            joinedload(ScreeningChecklist.signed_off_by),
        )
    )
    return checklist


def medications_of(session: AnySession, patient_ids: Sequence[int]) -> dict[int, list[Medication]]:
    rows = session.scalars(select(Medication).where(Medication.patient_id.in_(patient_ids)).order_by(Medication.id))
    result: dict[int, list[Medication]] = {pid: [] for pid in patient_ids}
    for medication in rows:
        result[medication.patient_id].append(medication)
    return result


def latest_answers(checklist: ScreeningChecklist) -> dict[str, ScreeningAnswer]:
    latest: dict[str, ScreeningAnswer] = {}
    for answer in checklist.answers:  # ordered by id: later rows replace earlier ones
        latest[answer.item_id] = answer
    return latest


def latest_reviews(checklist: ScreeningChecklist) -> dict[str, ScreeningReview]:
    latest: dict[str, ScreeningReview] = {}
    for review in checklist.reviews:
        latest[review.item_id] = review
    return latest


def medication_facts(medications: Sequence[Medication], today: date) -> list[eligibility.MedicationFact]:
    return [
        eligibility.MedicationFact(m.id, m.name, m.drug_class, m.is_current(today), m.taper_end_on) for m in medications
    ]


def assess(
    checklist: ScreeningChecklist | None, protocol: Protocol, medications: Sequence[Medication], today: date
) -> eligibility.Eligibility:
    """Eligibility from the stored checklist, reviews and medications."""
    if checklist is None:
        return eligibility.Eligibility(
            eligibility.Status.INCOMPLETE,
            (eligibility.Reason("", eligibility.Status.INCOMPLETE, "No screening checklist has been started."),),
        )
    answers = {
        item_id: eligibility.Answer(a.id, a.answer.value, a.value, a.done_on)
        for item_id, a in latest_answers(checklist).items()
    }
    reviews = {
        item_id: eligibility.Review(r.decision.value, r.rationale, r.basis)
        for item_id, r in latest_reviews(checklist).items()
    }
    return eligibility.evaluate(
        protocol, answers, medication_facts(medications, today), reviews, signed_off=checklist.signed_off_at is not None
    )


ALLOWED_ANSWERS = {
    ItemKind.EXCLUSION: {AnswerValue.YES, AnswerValue.NO},
    ItemKind.REVIEW: {AnswerValue.YES, AnswerValue.NO},
    ItemKind.REQUIREMENT: {AnswerValue.RECORDED, AnswerValue.NOT_APPLICABLE},
}


@dataclass(frozen=True)
class AnswerInput:
    answer: AnswerValue
    value: str | None = None
    done_on: date | None = None
    note: str | None = None


def _check_answer(item: ScreeningItem, given: AnswerInput, today: date) -> None:
    if given.answer not in ALLOWED_ANSWERS[item.kind]:
        options = " or ".join(a.label.lower() for a in sorted(ALLOWED_ANSWERS[item.kind]))
        raise ScreeningError("answer", f"Answer {options}.")
    if given.answer is AnswerValue.NOT_APPLICABLE and not item.allow_not_applicable:
        raise ScreeningError("answer", "This requirement applies to every patient.")
    if given.answer is AnswerValue.RECORDED:
        if not given.value:
            raise ScreeningError("value", "Record the value or result.")
        if item.choices and given.value not in item.choices:
            raise ScreeningError("value", f"Choose one of: {', '.join(item.choices)}.")
        if given.done_on is None:
            raise ScreeningError("done_on", "Enter the date it was done.")
        if given.done_on > today:
            raise ScreeningError("done_on", "The date cannot be in the future.")


def answer_item(
    actor: User, checklist: ScreeningChecklist, protocol: Protocol, item_id: str, given: AnswerInput, today: date
) -> ScreeningAnswer:
    """Record or revise the answer to one item; the earlier answer stays in the history.

    Sign-off locks the answers, except the requirements a pre-dosing check asks to be recorded again before each
    dosing session (a pregnancy test dated within 7 days): the dosing gate tells the clinician to record those here.

    :raise ScreeningError: the checklist is signed off, the item is unknown, or the answer does not fit the item.
    """
    item = next((i for i in protocol.screening if i.id == item_id), None)
    renewed_before_dosing = any(check.requirement == item_id for check in protocol.pre_dosing)
    if checklist.signed_off_at is not None and not renewed_before_dosing:
        raise ScreeningError("answer", "The checklist has been signed off; answers can no longer be changed.")
    if item is None:
        raise ScreeningError("answer", "This item is not part of the patient's protocol.")
    _check_answer(item, given, today)
    previous = latest_answers(checklist).get(item_id)
    row = ScreeningAnswer(
        checklist=checklist,
        item_id=item_id,
        answer=given.answer,
        value=given.value if given.answer is AnswerValue.RECORDED else None,
        done_on=given.done_on if given.answer is AnswerValue.RECORDED else None,
        note=given.note,
        answered_by_id=actor.id,
        answered_at=utcnow(),
    )
    db.session.add(row)
    before = {"answer": previous.answer, "value": previous.value, "done_on": previous.done_on} if previous else {}
    after = {"answer": row.answer, "value": row.value, "done_on": row.done_on}
    audit.record(
        actor,
        "screening.answer",
        f"Screening item {item_id}: {row.answer.label}",
        patient=checklist.patient,
        target_type="screening_checklist",
        target_id=checklist.id,
        data={"item": item_id, "changes": audit.diff(before, after)},
    )
    return row


def sign_off(actor: User, checklist: ScreeningChecklist, protocol: Protocol) -> None:
    """Lock the answers. Every item must be answered first.

    :raise ScreeningError: already signed off, or items left unanswered.
    """
    if checklist.signed_off_at is not None:
        raise ScreeningError("confirm", "The checklist is already signed off.")
    answered = latest_answers(checklist)
    missing = [item.text for item in protocol.screening if item.id not in answered]
    if missing:
        raise ScreeningError("confirm", f"Answer every item first ({len(missing)} left).")
    checklist.signed_off_at = utcnow()
    checklist.signed_off_by_id = actor.id
    audit.record(
        actor,
        "screening.sign_off",
        "Signed off the screening checklist",
        patient=checklist.patient,
        target_type="screening_checklist",
        target_id=checklist.id,
    )


def may_review(actor: User, care_team: Sequence[CareTeamMember]) -> bool:
    """A review is a supervisor's decision: the actor must supervise a therapist on the patient's care team."""
    return actor.is_supervisor and any(member.user.supervisor_id == actor.id for member in care_team)


def review_item(
    actor: User,
    checklist: ScreeningChecklist,
    assessment: eligibility.Eligibility,
    item_id: str,
    decision: ReviewDecision,
    rationale: str,
) -> ScreeningReview:
    """Clear or decline a flagged review item, in writing.

    :raise ScreeningError: the item is not waiting for review (never flagged, an absolute exclusion, or decided).
    """
    basis = assessment.pending_reviews.get(item_id)
    if basis is None:
        raise ScreeningError("decision", "This item is not waiting for a review.")
    if not rationale.strip():
        raise ScreeningError("rationale", "Write the rationale for the decision.")
    review = ScreeningReview(
        checklist=checklist,
        item_id=item_id,
        decision=decision,
        rationale=rationale.strip(),
        basis=basis,
        reviewer_id=actor.id,
        decided_at=utcnow(),
    )
    db.session.add(review)
    audit.record(
        actor,
        f"screening.review_{decision.value}",
        f"Screening item {item_id} {decision.value}",
        patient=checklist.patient,
        target_type="screening_checklist",
        target_id=checklist.id,
        data={"item": item_id, "decision": decision.value, "basis": basis},
    )
    return review


MEDICATION_FIELDS = ["name", "drug_class", "dose", "started_on", "stopped_on", "taper_plan", "taper_end_on"]


@dataclass(frozen=True)
class MedicationInput:
    name: str
    drug_class: str
    dose: str | None = None
    started_on: date | None = None
    stopped_on: date | None = None
    taper_plan: str | None = None
    taper_end_on: date | None = None


def _check_medication(given: MedicationInput) -> None:
    if given.started_on and given.stopped_on and given.stopped_on < given.started_on:
        raise ScreeningError("stopped_on", "The stop date is before the start date.")
    if given.taper_end_on and given.started_on and given.taper_end_on < given.started_on:
        raise ScreeningError("taper_end_on", "The taper cannot end before the medication was started.")


def add_medication(actor: User, patient: Patient, given: MedicationInput) -> Medication:
    _check_medication(given)
    medication = Medication(patient_id=patient.id, **vars(given))
    db.session.add(medication)
    db.session.flush()
    audit.record(
        actor,
        "medication.create",
        f"Added medication {given.name}",
        patient=patient,
        target_type="medication",
        target_id=medication.id,
        data={"changes": audit.diff({}, vars(given))},
    )
    return medication


def update_medication(actor: User, patient: Patient, medication: Medication, given: MedicationInput) -> None:
    _check_medication(given)
    before = {name: getattr(medication, name) for name in MEDICATION_FIELDS}
    for name, value in vars(given).items():
        setattr(medication, name, value)
    changes = audit.diff(before, vars(given))
    if changes:
        audit.record(
            actor,
            "medication.update",
            f"Changed medication {given.name}",
            patient=patient,
            target_type="medication",
            target_id=medication.id,
            data={"changes": changes},
        )

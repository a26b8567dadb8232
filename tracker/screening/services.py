"""Screening operations: checklists, answers, sign-off, supervisors' reviews and medications.

Each takes the acting user, writes the audit row and leaves the commit to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from tracker import audit, clinictime, eligibility, medicines
from tracker.clinics import clinic_of
from tracker.clinictime import day_of
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
    SessionKind,
    TherapySession,
    User,
)
from tracker.models.base import utcnow
from tracker.protocols import ItemKind, Protocol, ScreeningItem, loaded_protocols
from tracker.validators import EARLIEST_DATE, FieldError


class ScreeningError(FieldError):
    """A screening change refused for a reason shown next to ``field``."""


def start_checklist(
    db: AnySession, patient: Patient, actor: User, protocols: dict[str, Protocol] | None = None
) -> ScreeningChecklist:
    """A new checklist for the patient's protocol (at enrolment, or after a change of protocol).

    An exclusion or review item answered "yes" on any earlier checklist of the patient (under this protocol or
    another one asking the same item), and never lifted by a reviewed correction, is carried over as "yes":
    switching protocol never yields a fresh checklist that forgets it (lifting it needs a written reason and a
    supervisor's review, like any other correction).
    """
    checklist = ScreeningChecklist(
        patient=patient, protocol_code=patient.protocol_code, created_by_id=actor.id, answers=[], reviews=[]
    )
    db.add(checklist)
    protocol = (protocols or {}).get(patient.protocol_code)
    if protocol is None or patient.id is None:
        return checklist
    now = utcnow()
    tz = clinic_of(db, patient.clinic_id).zone
    for item_id, (since, source) in standing_yes(db, patient, protocol, protocols or {}, tz).items():
        under = "this protocol" if source.code == protocol.code else source.name
        checklist.answers.append(
            ScreeningAnswer(
                item_id=item_id,
                answer=AnswerValue.YES,
                answered_by_id=actor.id,
                answered_at=now,
                note=f"Carried over from the screening started on {since.isoformat()} under {under}: an answer of yes "
                "stays on the record.",
            )
        )
    return checklist


def standing_yes(
    db: AnySession, patient: Patient, protocol: Protocol, protocols: dict[str, Protocol], tz: tzinfo
) -> dict[str, tuple[date, Protocol]]:
    """Exclusion and review items of ``protocol`` answered "yes" on the patient's earlier checklists (of any
    protocol asking an item of the same id) and not lifted by a correction a supervisor cleared: item id -> the
    day that checklist was started (on the clinic's calendar, ``tz``) and its protocol."""
    earlier = list(
        db.scalars(
            select(ScreeningChecklist)
            .where(ScreeningChecklist.patient_id == patient.id)
            .order_by(ScreeningChecklist.id)
            .options(selectinload(ScreeningChecklist.answers), selectinload(ScreeningChecklist.reviews))
        )
    )
    asked = {item.id for item in protocol.screening if item.kind is not ItemKind.REQUIREMENT}
    standing: dict[str, tuple[date, Protocol]] = {}
    for checklist in earlier:
        source = protocols.get(checklist.protocol_code, protocol if checklist.protocol_code == protocol.code else None)
        if source is None:
            continue
        answers = eligibility.answers_as_of(source, recorded(checklist), checklist.signed_off_at, tz=tz)
        cleared = {r.basis for r in checklist.reviews if r.decision is ReviewDecision.CLEARED}
        for item in source.screening:
            answer = answers.get(item.id)
            if item.id not in asked or item.kind is ItemKind.REQUIREMENT or answer is None:
                continue
            if answer.value == "yes" or (answer.lifts and eligibility.lifting(answer) not in cleared):
                standing.setdefault(item.id, (day_of(checklist.created_at, tz), source))
            else:
                standing.pop(item.id, None)
    return standing


def recorded(checklist: ScreeningChecklist) -> list[eligibility.Recorded]:
    """The checklist's answers as the eligibility rules read them (``answers`` must be loaded)."""
    return [
        eligibility.Recorded(a.id, a.item_id, a.answer.value, a.value, a.done_on, a.answered_at)
        for a in checklist.answers
    ]


def current_checklist(db: AnySession, patient: Patient) -> ScreeningChecklist | None:
    """The newest checklist for the patient's current protocol, with its answers and reviews."""
    checklist: ScreeningChecklist | None = db.scalar(
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


def medications_of(db: AnySession, patient_ids: Sequence[int]) -> dict[int, list[Medication]]:
    rows = db.scalars(select(Medication).where(Medication.patient_id.in_(patient_ids)).order_by(Medication.id))
    result: dict[int, list[Medication]] = {pid: [] for pid in patient_ids}
    for medication in rows:
        result[medication.patient_id].append(medication)
    return result


def latest_answers(checklist: ScreeningChecklist, tz: tzinfo = UTC) -> dict[str, ScreeningAnswer]:
    """The answer standing for each item, in the eligibility rules' order (``eligibility.standing_order``, by the
    days of the clinic's calendar ``tz``)."""
    rows = list(checklist.answers)  # by id, then those not yet flushed (no id yet), in the order added
    history = [replace(entry, id=n) for n, entry in enumerate(recorded(checklist))]
    latest: dict[str, ScreeningAnswer] = {}
    protocol = loaded_protocols().get(checklist.protocol_code)
    acceptable = {item.id: item.acceptable for item in protocol.screening} if protocol else None
    for answer in sorted(history, key=lambda a: eligibility.standing_order(a, tz, acceptable)):
        latest[answer.item_id] = rows[answer.id]
    return latest


def latest_reviews(checklist: ScreeningChecklist) -> dict[str, ScreeningReview]:
    latest: dict[str, ScreeningReview] = {}
    for review in checklist.reviews:
        latest[review.item_id] = review
    return latest


def zone_of(checklist: ScreeningChecklist) -> ZoneInfo:
    """The time zone of the checklist's patient's clinic (``checklist.patient`` loaded, as every caller has it)."""
    return clinic_of(db.session, checklist.patient.clinic_id).zone


def medication_facts(medications: Sequence[Medication], today: date) -> list[eligibility.MedicationFact]:
    return [
        eligibility.MedicationFact(m.id, m.name, m.drug_class, m.is_current(today), m.taper_end_on, m.stopped_on)
        for m in medications
    ]


def record_of(patient: Patient) -> dict[str, bool]:
    """The facts of the patient's record screening items may depend on (``ScreeningItem.applies_if``)."""
    return {"pregnancy_possible": patient.pregnancy_possible}


def assess(
    checklist: ScreeningChecklist | None,
    protocol: Protocol,
    medications: Sequence[Medication],
    today: date,
    record: dict[str, bool] | None = None,
    tz: tzinfo = UTC,
) -> eligibility.Eligibility:
    """Eligibility from the stored checklist, reviews and medications, as it stands now (``today`` and ``tz``: the
    clinic's date and time zone)."""
    if checklist is None:
        return eligibility.Eligibility(
            eligibility.Status.INCOMPLETE,
            (eligibility.Reason("", eligibility.Status.INCOMPLETE, "No screening checklist has been started."),),
        )
    answers = eligibility.answers_as_of(protocol, recorded(checklist), checklist.signed_off_at, tz=tz)
    reviews = {
        item_id: eligibility.Review(r.decision.value, r.rationale, r.basis)
        for item_id, r in latest_reviews(checklist).items()
    }
    return eligibility.evaluate(
        protocol,
        answers,
        medication_facts(medications, today),
        reviews,
        signed_off=checklist.signed_off_at is not None,
        record=record,
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


#: The shortest written reason accepted for an answer that lifts an earlier one.
REASON_MIN_LENGTH = 10


def _check_answer(item: ScreeningItem, given: AnswerInput, today: date) -> None:
    if given.answer not in ALLOWED_ANSWERS[item.kind]:
        options = " or ".join(a.label.lower() for a in sorted(ALLOWED_ANSWERS[item.kind]))
        raise ScreeningError("answer", f"Answer {options}.")
    if given.answer is AnswerValue.NOT_APPLICABLE and item.applies_if is not None:
        raise ScreeningError(
            "answer",
            "Whether this applies follows the patient's record (sex at birth, whether they can become pregnant), "
            "not an answer: record the result, or correct the patient's record.",
        )
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
    actor: User,
    checklist: ScreeningChecklist,
    protocol: Protocol,
    item_id: str,
    given: AnswerInput,
    today: date,
    now: datetime | None = None,
) -> ScreeningAnswer:
    """Record or revise the answer to one item; the earlier answer stays in the history.

    Sign-off locks the answers, except the requirements a pre-dosing check asks to be recorded again before each
    dosing session (a pregnancy test dated within 7 days): the dosing gate tells the clinician to record those here.
    An answer that lifts an earlier one (a "yes" now "no"; "not applicable" after sign-off) needs a written reason
    in ``given.note``, and counts only once a supervisor has reviewed it (``tracker.eligibility``).

    :raise ScreeningError: the checklist is signed off, the item is unknown, the answer does not fit the item, or a
        lifting answer comes without a reason.
    """
    item = next((i for i in protocol.screening if i.id == item_id), None)
    if item is None:
        raise ScreeningError("answer", "This item is not part of the patient's protocol.")
    if checklist.signed_off_at is not None and not _open_after_sign_off(item, protocol, checklist, given):
        raise ScreeningError(
            "answer",
            "The checklist has been signed off; this answer can no longer be changed. A new finding (a yes) can "
            "still be recorded, and a yes corrected with a written reason for a supervisor's review.",
        )
    _check_answer(item, given, today)
    previous = latest_answers(checklist, zone_of(checklist)).get(item_id)
    if _lifts(item, checklist, given) and len((given.note or "").strip()) < REASON_MIN_LENGTH:
        raise ScreeningError(
            "note",
            "Write why (at least 10 characters): this answer lifts an earlier one, so a supervisor reviews it "
            "before it counts.",
        )
    row = ScreeningAnswer(
        checklist=checklist,
        item_id=item_id,
        answer=given.answer,
        value=given.value if given.answer is AnswerValue.RECORDED else None,
        done_on=given.done_on if given.answer is AnswerValue.RECORDED else None,
        note=given.note,
        answered_by_id=actor.id,
        answered_at=now or utcnow(),
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


def answer_items(
    actor: User,
    checklist: ScreeningChecklist,
    protocol: Protocol,
    given: dict[str, AnswerInput],
    today: date,
) -> dict[str, ScreeningError]:
    """Record several answers at once (the checklist-wide form), each through ``answer_item`` so that every rule of
    one answer holds for each; returns the refusals by item id. The caller commits only when there is none (all
    answers are then saved together) and otherwise rolls back, so a refused answer saves none of the others."""
    refused: dict[str, ScreeningError] = {}
    now = utcnow()
    for item_id, answer in given.items():
        try:
            answer_item(actor, checklist, protocol, item_id, answer, today, now)
        except ScreeningError as error:
            refused[item_id] = error
    return refused


def _open_after_sign_off(
    item: ScreeningItem, protocol: Protocol, checklist: ScreeningChecklist, given: AnswerInput
) -> bool:
    """What may still be answered once the checklist is signed off: the requirements a pre-dosing check asks to be
    recorded again before each dosing session (a pregnancy test dated within 7 days); a new "yes" to an exclusion
    or review item (something learnt since must never be kept out of the record); and a correction of a "yes",
    which counts only after a supervisor's review."""
    if item.kind is ItemKind.REQUIREMENT:
        return any(check.requirement == item.id for check in protocol.pre_dosing)
    return given.answer is AnswerValue.YES or _lifts(item, checklist, given)


def _lifts(item: ScreeningItem, checklist: ScreeningChecklist, given: AnswerInput) -> bool:
    """Whether ``given`` would lift what an earlier answer held (``eligibility.answers_as_of``'s rule)."""
    if item.kind is ItemKind.REQUIREMENT:
        return given.answer is AnswerValue.NOT_APPLICABLE and checklist.signed_off_at is not None
    return given.answer is AnswerValue.NO and any(
        a.item_id == item.id and a.answer is AnswerValue.YES for a in checklist.answers
    )


def sign_off(actor: User, checklist: ScreeningChecklist, protocol: Protocol, now: datetime | None = None) -> None:
    """Lock the answers. Every item that applies to the patient must be answered first.

    :raise ScreeningError: already signed off, or items left unanswered.
    """
    if checklist.signed_off_at is not None:
        raise ScreeningError("confirm", "The checklist is already signed off.")
    answered = latest_answers(checklist, zone_of(checklist))
    record = record_of(checklist.patient)
    missing = [
        item.text for item in protocol.screening if item.id not in answered and eligibility.applies(item, record)
    ]
    if missing:
        raise ScreeningError("confirm", f"Answer every item first ({len(missing)} left).")
    checklist.signed_off_at = now or utcnow()
    checklist.signed_off_by_id = actor.id
    checklist.record_at_sign_off = record
    audit.record(
        actor,
        "screening.sign_off",
        "Signed off the screening checklist",
        patient=checklist.patient,
        target_type="screening_checklist",
        target_id=checklist.id,
    )


def _corrected_answer(checklist: ScreeningChecklist, basis: str) -> ScreeningAnswer | None:
    """The answer a correction review is about (basis ``correction:<answer id>``), if it is one."""
    if not basis.startswith("correction:"):
        return None
    answer_id = basis.removeprefix("correction:")
    return next((a for a in checklist.answers if str(a.id) == answer_id), None)


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
    corrected = _corrected_answer(checklist, basis)
    if corrected is not None and corrected.answered_by_id == actor.id:
        raise ScreeningError(
            "decision",
            "You gave this correction, so another supervisor reviews it (a correction is never cleared by its author).",
        )
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


def resolve_class(given: MedicationInput) -> MedicationInput:
    """The medication with its class settled: a drug the vocabulary knows takes its class from the name, and a
    chosen class cannot contradict it; any other drug needs a chosen class.

    :raise ScreeningError: on ``drug_class``.
    """
    named = medicines.identify_all(given.name)
    if len(named) > 1:
        drugs = " and ".join(drug.name for drug in named)
        raise ScreeningError("name", f"This names {drugs}: record each medication on its own line.")
    known = named[0] if named else None
    if known is None:
        if not given.drug_class:
            raise ScreeningError(
                "drug_class", f"“{given.name}” is not in the tracker's medication list: choose its drug class."
            )
        if given.drug_class not in medicines.DRUG_CLASSES:
            raise ScreeningError("drug_class", "Choose a drug class from the list.")
        return given
    if given.drug_class and given.drug_class != known.drug_class:
        raise ScreeningError(
            "drug_class",
            f"{known.name.capitalize()} is classed as {medicines.DRUG_CLASSES[known.drug_class]} (WHO ATC "
            f"{known.atc}): choose that class, or leave the class to be identified from the name.",
        )
    return replace(given, drug_class=known.drug_class)


#: No medication date is earlier than this (a typing guard: "0001-01-01" would end every washout).


def _check_medication(given: MedicationInput, today: date) -> None:
    for name in ("started_on", "stopped_on", "taper_end_on"):
        value = getattr(given, name)
        if value is not None and value < EARLIEST_DATE:
            raise ScreeningError(name, f"This date is before {EARLIEST_DATE.year}: check the year.")
    if given.started_on and given.started_on > today:
        raise ScreeningError("started_on", "The start date cannot be in the future.")
    if given.stopped_on and given.stopped_on > today:
        raise ScreeningError(
            "stopped_on", "Record the stop once it has happened; a planned end goes in the taper's end date."
        )
    if given.started_on and given.stopped_on and given.stopped_on < given.started_on:
        raise ScreeningError("stopped_on", "The stop date is before the start date.")
    if given.taper_end_on and given.started_on and given.taper_end_on < given.started_on:
        raise ScreeningError("taper_end_on", "The taper cannot end before the medication was started.")


def _today(today: date | None, patient: Patient) -> date:
    return today or clinictime.today(clinic_of(db.session, patient.clinic_id).zone)


def add_medication(actor: User, patient: Patient, given: MedicationInput, today: date | None = None) -> Medication:
    """:raise ScreeningError: implausible dates, or a drug class missing or contradicting the name."""
    day = _today(today, patient)
    given = resolve_class(given)
    _check_medication(given, day)
    medication = Medication(patient_id=patient.id, **vars(given))
    if medication.is_current(day):
        medication.last_current_on = day
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


def _refuse_a_later_start(patient: Patient, medication: Medication, given: MedicationInput) -> None:
    """A start moved later must not take the medication out of the day of a dosing session already held (the gate
    reads a medication from its start): a dose dated in those days would pass an interaction the record showed. An
    unknown start reads as "all along", so giving one is moving it later too; a later start that no held dosing
    session falls before is a correction like any other."""
    old, new = medication.started_on, given.started_on
    if new is None or (old is not None and new <= old):
        return
    zone = clinic_of(db.session, patient.clinic_id).zone
    held = db.session.scalars(
        select(TherapySession.held_at).where(
            TherapySession.patient_id == patient.id,
            TherapySession.kind == SessionKind.DOSING,
            TherapySession.held_at.is_not(None),
        )
    )
    uncovered = sorted(
        d for d in (day_of(at, zone) for at in held if at is not None) if (old is None or d >= old) and d < new
    )
    if uncovered:
        shown = f"from {old.isoformat()}" if old is not None else "with no start date (taken all along)"
        raise ScreeningError(
            "started_on",
            f"The record showed {medication.name} {shown}, and a start on {new.isoformat()} would take it out of "
            f"the checks of the dosing session of {uncovered[-1].isoformat()}. If the start was entered by "
            "mistake, record its stop date and add it again with the right one; an earlier start can be entered.",
        )


def update_medication(
    actor: User, patient: Patient, medication: Medication, given: MedicationInput, today: date | None = None
) -> None:
    """Change a medication. What the record already showed cannot be undone by an edit: a stop date cannot be
    earlier than the last day the record showed the medication as still taken (a back-dated stop would shorten a
    washout), and a change of name or class cannot drop a drug class the medication had (an MAOI renamed away);
    such a correction is recorded as this medication stopped and a new one added. Nor can its start move later.

    :raise ScreeningError: as for ``add_medication``, or an edit that would undo what the record showed.
    """
    day = _today(today, patient)
    given = resolve_class(given)
    _check_medication(given, day)
    known_current = medication.last_current_on
    if given.stopped_on is not None and known_current is not None and given.stopped_on < known_current:
        raise ScreeningError(
            "stopped_on",
            f"The record showed {medication.name} as still taken on {known_current.isoformat()}, so it cannot have "
            f"stopped before that: enter {known_current.isoformat()} or later.",
        )
    _refuse_a_later_start(patient, medication, given)
    had = medicines.classes_of(medication.name, medication.drug_class) - {"other"}
    dropped = had - medicines.classes_of(given.name, given.drug_class)
    if dropped:
        labels = ", ".join(medicines.DRUG_CLASSES.get(c, c).split(" (")[0] for c in sorted(dropped))
        raise ScreeningError(
            "name",
            f"This change would take away what {medication.name} is ({labels}). If it was entered by mistake, "
            "record its stop date and add the right medication as a new one.",
        )
    before = {name: getattr(medication, name) for name in MEDICATION_FIELDS}
    for name, value in vars(given).items():
        setattr(medication, name, value)
    if medication.is_current(day):
        medication.last_current_on = day
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

"""Eligibility: a pure function of the screening checklist, the medications and the supervisors' reviews.

No database, no Flask: the screening service gathers the facts, this module decides, and the patient page, the
review queue and the dosing gate all show the same answer.

- An absolute exclusion answered "yes" (or raised by a medication) makes the patient ``ineligible``; it cannot
  be overridden. The options are to discontinue, or to change protocol with a new screening.
- A review item answered "yes" (or raised by a medication) needs a supervisor's written decision: ``needs
  review`` until cleared; a declined review makes the patient ``ineligible``.
- A requirement must be recorded; a recorded value outside the protocol's acceptable values (a positive
  pregnancy test) makes the patient ``ineligible`` until a new value is recorded. A requirement that applies only
  when a fact of the patient's record holds (a pregnancy test when a pregnancy is possible) is skipped when it does
  not, and may never be answered "not applicable" when it does: the record decides, not the answer.
- An answer that lifts what an earlier one held (an absolute exclusion once answered "yes" now answered "no", or a
  requirement marked "not applicable" after sign-off) counts only once a supervisor has reviewed it in writing.
- Unanswered items, or a checklist not yet signed off, leave the screening ``incomplete``.

``answers_as_of`` picks the answer standing at a given moment from the full history, so the dosing gate can ask
whether the screening held *at the time of a session*, not only now.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from tracker.medicines import classes_of, names_match
from tracker.protocols import InteractionRule, ItemKind, Protocol, ScreeningItem


class Status(enum.StrEnum):
    INCOMPLETE = "incomplete"
    NEEDS_REVIEW = "needs review"
    INELIGIBLE = "ineligible"
    ELIGIBLE = "eligible"


@dataclass(frozen=True)
class Answer:
    id: int
    value: str  # "yes", "no", "recorded", "not_applicable"
    recorded: str | None = None
    done_on: date | None = None
    #: The answer lifts what an earlier one held: it counts only once a supervisor has reviewed it.
    lifts: bool = False


@dataclass(frozen=True)
class Recorded:
    """One stored answer, as the history keeps it."""

    id: int
    item_id: str
    value: str
    recorded: str | None
    done_on: date | None
    answered_at: datetime


@dataclass(frozen=True)
class MedicationFact:
    id: int
    name: str
    drug_class: str
    current: bool
    taper_end_on: date | None = None
    #: The last day taken (None while current).
    stopped_on: date | None = None


@dataclass(frozen=True)
class Review:
    decision: str  # "cleared" or "declined"
    rationale: str
    basis: str


@dataclass(frozen=True)
class Reason:
    item_id: str
    status: Status
    text: str


@dataclass(frozen=True)
class Eligibility:
    status: Status
    reasons: tuple[Reason, ...] = ()
    #: Review items that are flagged and still wait for a supervisor, with the basis a decision must cite.
    pending_reviews: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_eligible(self) -> bool:
        return self.status is Status.ELIGIBLE


def matches(rule: InteractionRule, medication: MedicationFact) -> bool:
    """Whether ``medication`` falls under ``rule``: by its class (the one chosen, plus the one its name identifies in
    the medication vocabulary) or by one of the rule's drug names."""
    if classes_of(medication.name, medication.drug_class) & set(rule.drug_classes):
        return True
    return names_match(rule.drug_names, medication.name)


def _stands_at(answer: Recorded, item: ScreeningItem, at: datetime | None, day: date | None) -> bool:
    """Whether ``answer`` was on record at ``at``: a recorded requirement counts from the day it was done (it may
    have been typed in later), anything else from when it was given."""
    if at is None or day is None:
        return True
    if item.kind is ItemKind.REQUIREMENT and answer.value == "recorded":
        return answer.done_on is not None and answer.done_on <= day
    return answer.answered_at <= at


def standing_order(
    answer: Recorded, tz: tzinfo = UTC, acceptable: Mapping[str, Sequence[str]] | None = None
) -> tuple[date, int, int]:
    """The order in which answers replace each other: a recorded result by the day it was *done* (a result typed
    in later but dated earlier never hides a newer one: a negative test back-dated behind a positive one does not
    lift it), any other answer by the day it was given; the later entry on the same day, except that a result
    outside the item's ``acceptable`` values stands over an acceptable one of the same day (a negative test entered
    after a positive one of the same day does not lift it: a new test on a later day does)."""
    if answer.value == "recorded" and answer.done_on is not None:
        allowed = (acceptable or {}).get(answer.item_id) or ()
        outside = 1 if allowed and answer.recorded not in allowed else 0
        return answer.done_on, outside, answer.id
    return answer.answered_at.astimezone(tz).date(), 0, answer.id


def answers_as_of(
    protocol: Protocol,
    history: Sequence[Recorded],
    signed_off_at: datetime | None,
    at: datetime | None = None,
    day: date | None = None,
    tz: tzinfo = UTC,
) -> dict[str, Answer]:
    """The answer standing for each item at ``at`` (None: now), with ``lifts`` set where it needs a review.

    ``history`` is every answer of the checklist; ``day`` is ``at``'s date in the clinic's time zone ``tz``.
    """
    items = {item.id: item for item in protocol.screening}
    standing: dict[str, Answer] = {}
    earlier_yes: set[str] = set()
    acceptable = {item.id: item.acceptable for item in protocol.screening}
    for answer in sorted(history, key=lambda a: standing_order(a, tz, acceptable)):
        item = items.get(answer.item_id)
        if item is None or not _stands_at(answer, item, at, day):
            continue
        lifts = (item.kind is not ItemKind.REQUIREMENT and answer.value == "no" and item.id in earlier_yes) or (
            item.kind is ItemKind.REQUIREMENT
            and answer.value == "not_applicable"
            and signed_off_at is not None
            and answer.answered_at > signed_off_at
        )
        if answer.value == "yes":
            earlier_yes.add(item.id)
        standing[item.id] = Answer(answer.id, answer.value, answer.recorded, answer.done_on, lifts)
    return standing


def lifting(answer: Answer | None) -> str | None:
    """The review basis of an answer that lifts an earlier one; None for any other answer."""
    return f"correction:{answer.id}" if answer is not None and answer.lifts else None


def raised_by_medications(protocol: Protocol, medications: Sequence[MedicationFact]) -> dict[str, list[int]]:
    """Screening items raised by current medications: item id -> ids of the medications that raise it."""
    raised: dict[str, list[int]] = {}
    for rule in protocol.interactions:
        for medication in medications:
            if medication.current and matches(rule, medication):
                ids = raised.setdefault(rule.raises, [])
                if medication.id not in ids:
                    ids.append(medication.id)
    return raised


def basis(answer: Answer | None, medication_ids: Sequence[int]) -> str:
    """What a supervisor's decision on an item is about; a decision holds only while this stays the same."""
    parts = []
    if answer is not None and answer.value == "yes":
        parts.append(f"answer:{answer.id}")
    if medication_ids:
        parts.append("medication:" + ",".join(str(i) for i in sorted(medication_ids)))
    return ";".join(parts)


APPLICABILITY_TEXT = {
    "pregnancy_possible": "the patient's record says a pregnancy is possible",
}


def record_for(now: Mapping[str, bool], at_sign_off: Mapping[str, bool] | None) -> dict[str, bool]:
    """The record facts screening is judged by: a fact that held at sign-off keeps holding (a pregnancy test that
    applied then still applies, even if the record was changed since); a fact that holds now applies too. Changing
    the record can add a test, never remove one that a signed-off screening required: that needs a new screening."""
    merged = dict(now)
    for name, held in (at_sign_off or {}).items():
        merged[name] = bool(merged.get(name, True)) or bool(held)
    return merged


def applies(item: ScreeningItem, record: Mapping[str, bool]) -> bool:
    """Whether ``item`` applies to a patient whose record holds the facts ``record`` (unknown facts apply)."""
    return item.applies_if is None or record.get(item.applies_if, True)


def _reviewed(
    item: ScreeningItem, answer: Answer, reviews: Mapping[str, Review], pending_text: str, declined_text: str
) -> tuple[Reason | None, str | None]:
    """The reason an answer that lifts an earlier one holds the patient back until a supervisor reviews it."""
    basis = lifting(answer)
    assert basis is not None
    review = reviews.get(item.id)
    if review is not None and review.basis == basis:
        if review.decision == "cleared":
            return None, None
        return Reason(item.id, Status.INELIGIBLE, f"{declined_text} “{review.rationale}”"), None
    return Reason(item.id, Status.NEEDS_REVIEW, pending_text), basis


def _requirement(
    item: ScreeningItem, answer: Answer | None, reviews: Mapping[str, Review], record: Mapping[str, bool]
) -> tuple[Reason | None, str | None]:
    if not applies(item, record):
        return None, None
    if answer is None or answer.value not in ("recorded", "not_applicable"):
        return Reason(item.id, Status.INCOMPLETE, f"Not recorded yet: {item.text}."), None
    if answer.value == "not_applicable":
        if item.applies_if is not None:
            why = APPLICABILITY_TEXT[item.applies_if]
            return Reason(item.id, Status.INCOMPLETE, f"Must be recorded ({why}): {item.text}."), None
        if not item.allow_not_applicable:
            text = f"Must be recorded (cannot be marked not applicable): {item.text}."
            return Reason(item.id, Status.INCOMPLETE, text), None
        if answer.lifts:
            return _reviewed(
                item,
                answer,
                reviews,
                f"Needs a supervisor's review: marked not applicable after the sign-off: {item.text}.",
                f"Declined by the supervisor: {item.text} must be recorded.",
            )
        return None, None
    if item.acceptable and (answer.recorded or "") not in item.acceptable:
        return Reason(item.id, Status.INELIGIBLE, f"{item.text}: recorded as {answer.recorded!r}."), None
    return None, None


def _flagged(
    item: ScreeningItem, answer: Answer | None, medication_ids: Sequence[int], reviews: Mapping[str, Review]
) -> tuple[Reason | None, str | None]:
    """The reason an exclusion or review item holds the patient back, and the basis of a pending review."""
    if answer is None and not medication_ids:
        return Reason(item.id, Status.INCOMPLETE, f"Not answered yet: {item.text}."), None
    if answer is not None and answer.lifts and not medication_ids:
        return _reviewed(
            item,
            answer,
            reviews,
            f"Needs a supervisor's review: “{item.text}” was answered yes before, and is now answered no.",
            f"Declined by the supervisor: the answer yes stands: {item.text}.",
        )
    if (answer is None or answer.value != "yes") and not medication_ids:
        return None, None
    why = " (raised by a current medication)" if medication_ids and not (answer and answer.value == "yes") else ""
    if item.kind is ItemKind.EXCLUSION:
        text = (
            f"Absolute exclusion: {item.text}{why}. This cannot be overridden: discontinue, or change protocol "
            "with a new screening."
        )
        return Reason(item.id, Status.INELIGIBLE, text), None
    current = basis(answer, medication_ids)
    review = reviews.get(item.id)
    if review is not None and review.basis == current:
        if review.decision == "cleared":
            if answer is None:  # a decision on what a medication raised does not answer the question itself
                return Reason(item.id, Status.INCOMPLETE, f"Not answered yet: {item.text}."), None
            return None, None
        return Reason(
            item.id, Status.INELIGIBLE, f"Declined by the supervisor: {item.text}. “{review.rationale}”"
        ), None
    return Reason(item.id, Status.NEEDS_REVIEW, f"Needs a supervisor's review: {item.text}{why}."), current


def evaluate(
    protocol: Protocol,
    answers: Mapping[str, Answer],
    medications: Sequence[MedicationFact] = (),
    reviews: Mapping[str, Review] | None = None,
    signed_off: bool = False,
    record: Mapping[str, bool] | None = None,
) -> Eligibility:
    """The eligibility of a patient for ``protocol``, with every reason that holds them back. ``record`` holds the
    facts of the patient's record items may depend on (``ScreeningItem.applies_if``); a missing fact applies."""
    raised = raised_by_medications(protocol, medications)
    reasons: list[Reason] = []
    pending: dict[str, str] = {}
    for item in protocol.screening:
        answer = answers.get(item.id)
        if item.kind is ItemKind.REQUIREMENT:
            reason, pending_basis = _requirement(item, answer, reviews or {}, record or {})
        else:
            reason, pending_basis = _flagged(item, answer, raised.get(item.id, []), reviews or {})
        if pending_basis:
            pending[item.id] = pending_basis
        if reason is not None:
            reasons.append(reason)
    if not signed_off:
        reasons.append(Reason("", Status.INCOMPLETE, "The screening checklist has not been signed off."))
    return Eligibility(_overall(reasons), tuple(reasons), pending)


def _overall(reasons: Sequence[Reason]) -> Status:
    statuses = {reason.status for reason in reasons}
    for status in (Status.INELIGIBLE, Status.INCOMPLETE, Status.NEEDS_REVIEW):
        if status in statuses:
            return status
    return Status.ELIGIBLE

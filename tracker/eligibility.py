"""Eligibility: a pure function of the screening checklist, the medications and the supervisors' reviews.

No database, no Flask: the screening service gathers the facts, this module decides, and the patient page, the
review queue and the dosing gate all show the same answer.

- An absolute exclusion answered "yes" (or raised by a medication) makes the patient ``ineligible``; it cannot
  be overridden. The options are to discontinue, or to change protocol with a new screening.
- A review item answered "yes" (or raised by a medication) needs a supervisor's written decision: ``needs
  review`` until cleared; a declined review makes the patient ``ineligible``.
- A requirement must be recorded; a recorded value outside the protocol's acceptable values (a positive
  pregnancy test) makes the patient ``ineligible`` until a new value is recorded.
- Unanswered items, or a checklist not yet signed off, leave the screening ``incomplete``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

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


@dataclass(frozen=True)
class MedicationFact:
    id: int
    name: str
    drug_class: str
    current: bool
    taper_end_on: date | None = None


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
    name = medication.name.casefold()
    return medication.drug_class in rule.drug_classes or any(drug in name for drug in rule.drug_names)


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


def _requirement(item: ScreeningItem, answer: Answer | None) -> Reason | None:
    if answer is None or answer.value not in ("recorded", "not_applicable"):
        return Reason(item.id, Status.INCOMPLETE, f"Not recorded yet: {item.text}.")
    if answer.value == "not_applicable":
        if item.allow_not_applicable:
            return None
        return Reason(item.id, Status.INCOMPLETE, f"Must be recorded (cannot be marked not applicable): {item.text}.")
    if item.acceptable and (answer.recorded or "") not in item.acceptable:
        return Reason(item.id, Status.INELIGIBLE, f"{item.text}: recorded as {answer.recorded!r}.")
    return None


def _flagged(
    item: ScreeningItem, answer: Answer | None, medication_ids: Sequence[int], reviews: Mapping[str, Review]
) -> tuple[Reason | None, str | None]:
    """The reason an exclusion or review item holds the patient back, and the basis of a pending review."""
    if answer is None and not medication_ids:
        return Reason(item.id, Status.INCOMPLETE, f"Not answered yet: {item.text}."), None
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
) -> Eligibility:
    """The eligibility of a patient for ``protocol``, with every reason that holds them back."""
    raised = raised_by_medications(protocol, medications)
    reasons: list[Reason] = []
    pending: dict[str, str] = {}
    for item in protocol.screening:
        answer = answers.get(item.id)
        if item.kind is ItemKind.REQUIREMENT:
            reason = _requirement(item, answer)
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

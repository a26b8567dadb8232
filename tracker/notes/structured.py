"""The structured fields a note gained after the first notes were signed (``fields.STRUCTURED``): the therapeutic
modality of a preparation or integration session, the check-in on the integration plan's practices, and the dosing
session's set-and-setting checklist. Each is checked here against what it draws from (the clinic's list, the current
plan, the protocol) and kept on the note as written, so later edits of those sources change no note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tracker import modalities
from tracker.database import AnySession
from tracker.models import Clinic, IntegrationPlanVersion, Patient, SessionKind, SessionNote
from tracker.notes.fields import LATER_FIELDS
from tracker.plans.practices import PracticeError, check_in
from tracker.plans.services import current_version
from tracker.protocols import Protocol


class StructuredError(ValueError):
    """A structured field refused, with the form field to show it next to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _modality(db: AnySession, patient: Patient, given: Any, saved: Any) -> str | None:
    clinic = db.get(Clinic, patient.clinic_id)
    assert clinic is not None
    try:
        return modalities.check_choice(given if isinstance(given, str) else None, clinic, saved)
    except modalities.ModalityError as error:
        raise StructuredError("modality", str(error)) from None


def _check_in(plan: IntegrationPlanVersion | None, given: Any) -> dict[str, Any] | None:
    """``given``: ``{"plan_version": "3", "answers": [...]}`` from the form, or None (nothing to check in on)."""
    if not isinstance(given, Mapping):
        return None
    practices = plan.practice_items if plan is not None else []
    answers = list(given.get("answers") or [])
    if not practices:
        if any(answers):
            raise StructuredError(
                "practice_checkin", "The integration plan has no practices any more: reload the page."
            )
        return None
    if str(given.get("plan_version") or "") != str(plan.number if plan else ""):
        raise StructuredError(
            "practice_checkin",
            "The integration plan changed since the page was opened: check in on its practices again.",
        )
    try:
        items = check_in(practices, answers)
    except PracticeError as error:
        raise StructuredError("practice_checkin", str(error)) from None
    return {"plan_version": plan.number if plan else None, "items": items}


def _set_and_setting(protocol: Protocol | None, given: Any) -> list[dict[str, Any]] | None:
    """``given``: the ids of the items confirmed (from the form), or None (not asked)."""
    if given is None or protocol is None or not protocol.set_and_setting:
        return None
    confirmed = {str(value) for value in given}
    unknown = confirmed - {item.id for item in protocol.set_and_setting}
    if unknown:
        raise StructuredError("set_and_setting", "Confirm items of the protocol's checklist only.")
    return [{"id": item.id, "text": item.text, "confirmed": item.id in confirmed} for item in protocol.set_and_setting]


def later_values(
    db: AnySession,
    patient: Patient,
    kind: SessionKind,
    note: SessionNote | None,
    given: Mapping[str, Any],
    protocol: Protocol | None,
) -> dict[str, Any]:
    """The later fields of a note of ``kind`` as they will be saved (None where not filled in).

    :raise StructuredError: a modality outside the clinic's list, a check-in against a plan that changed since the
        form was opened, or an unknown checklist item.
    """
    saved = note.fields if note is not None else {}
    values: dict[str, Any] = {}
    for name in LATER_FIELDS[kind]:
        if name == "modality":
            values[name] = _modality(db, patient, given.get(name), saved.get(name))
        elif name == "practice_checkin":
            values[name] = _check_in(current_version(db, patient.id), given.get(name))
        elif name == "set_and_setting":
            values[name] = _set_and_setting(protocol, given.get(name))
    return values


def unanswered_practices(db: AnySession, patient: Patient, note: SessionNote) -> list[str]:
    """The practices of the current plan an integration note has not checked in on (before signing)."""
    plan = current_version(db, patient.id)
    practices = [p["practice"] for p in plan.practice_items] if plan is not None else []
    checked = note.fields.get("practice_checkin") or {}
    answered = {i["practice"] for i in checked.get("items", []) if i.get("adherence")}
    return [name for name in practices if name not in answered]


def confirmed(items: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """The ids of the checklist items a note confirmed."""
    return [item["id"] for item in items or [] if item.get("confirmed")]

"""What the session views share: the acting user, the patient loader, and the session page with every form on it.

The session page is rendered by its GET view and again by each POST view whose form failed, with that form (its
errors and the user's typing) in place of the blank one, so nothing typed is lost on a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from tracker import clinictime, discharge
from tracker.auth.forms import EmptyForm
from tracker.clinics import current_zone
from tracker.extensions import db
from tracker.modalities import clinic_modalities
from tracker.models import Clinic, FormDraft, Patient, SessionKind, SessionNote, TherapySession, User
from tracker.models.base import utcnow
from tracker.notes import drafts, private
from tracker.notes.cosign import CosignState, cosign_state, review_hash
from tracker.notes.fields import BODY_LABEL, RISK_CHECK, TEXT_FIELDS
from tracker.notes.forms import (
    NOTE_FORMS,
    AddendumForm,
    AdverseEventForm,
    CosignForm,
    NoteForm,
    SignForm,
    VitalsForm,
)
from tracker.notes.saving import saved_values
from tracker.notes.signing import blockers, content_hash, follow_up_ok
from tracker.notes.structured import confirmed
from tracker.pages import load_patient, protocol_of
from tracker.permissions import actor
from tracker.plans.services import current_version
from tracker.protocols import Protocol
from tracker.sessions import queries
from tracker.sessions.plan import session_label


def label_of(visit: TherapySession, protocol: Protocol | None) -> str:
    return session_label(visit.kind, visit.cycle, visit.ordinal, protocol.sessions if protocol else None)


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def note_form_data(note: SessionNote | None, kind: SessionKind, protocol: Protocol | None) -> dict[str, Any]:
    """The form's initial values: the saved note, or an empty one with the protocol's substance."""
    if note is None:
        dosing = kind is SessionKind.DOSING and protocol is not None
        return {"substance": protocol.substance} if dosing and protocol else {}
    data = saved_values(note, kind)
    # Later structured fields, as the form holds them: the ids confirmed, the answers of the check-in.
    data["set_and_setting"] = confirmed(data.get("set_and_setting"))
    checkin = data.pop("practice_checkin", None) or {}
    data["checkin_plan_version"] = str(checkin.get("plan_version") or "")
    data["practice_checkin"] = [item.get("adherence") or "" for item in checkin.get("items", [])]
    for name in ("dose_unit", "route"):
        if data.get(name) is not None:
            data[name] = data[name].value
    for name in ("dose_amount", "weight_kg", "supplemental_mg"):
        value = data.get(name)
        if isinstance(value, float) and value.is_integer():
            data[name] = int(value)  # "120", not "120.0"
    data["version_id"] = str(note.version_id)
    return data


def draft_keys(visit: TherapySession) -> dict[str, str]:
    return {form: f"{form}-{visit.id}" for form in ("note", "addendum", "ae")}


def _fresh_draft(draft: FormDraft | None, note: SessionNote | None, user: User) -> FormDraft | None:
    """A draft older than the user's own last save of the note is what they already saved."""
    if draft is None or note is None or note.updated_by_id != user.id:
        return draft
    return draft if draft.saved_at > note.updated_at else None


@dataclass
class Forms:
    """Forms submitted with errors, to show in place of the blank ones."""

    note: NoteForm | None = None
    vitals: VitalsForm | None = None
    adverse_event: AdverseEventForm | None = None
    sign: SignForm | None = None
    addendum: AddendumForm | None = None
    cosign: CosignForm | None = None
    #: Saved values of a note someone else saved first (the 409 conflict view).
    conflict: dict[str, Any] | None = None
    notices: list[str] = field(default_factory=list)


def render_session(
    patient: Patient, visit: TherapySession, forms: Forms | None = None, status: int = 200
) -> ResponseReturnValue:
    """The session page: its facts, the note (as a form while a draft, as the record once signed), vital signs,
    adverse events, discharge, signature, addenda and co-signature."""
    forms = forms or Forms()
    user, protocol = actor(), protocol_of(patient)
    note = queries.load_note(db.session, visit)
    signed = note is not None and note.is_signed
    keys = draft_keys(visit)
    kept = drafts.load(user, patient, keys.values())
    restored: list[str] = []

    def from_draft(name: str, form_class: Any, **defaults: Any) -> Any:
        draft = kept.get(keys[name])
        if name == "note":
            draft = _fresh_draft(draft, note, user)
        if draft is None:
            return form_class(formdata=None, **defaults)
        restored.append(name)
        return form_class(formdata=drafts.restored(user, patient, draft))

    note_form = forms.note
    if note_form is None and not signed:
        note_form = from_draft("note", NOTE_FORMS[visit.kind], data=note_form_data(note, visit.kind, protocol))
    checkin_practices = _prepare_structured(note_form, patient, visit, protocol) if note_form is not None else []
    follow = queries.follow_ups(db.session, visit) if visit.kind is SessionKind.DOSING else []
    follows_ok = follow_up_ok(visit, follow)
    cosign = cosign_state(note) if note is not None else CosignState.NOT_REQUIRED
    is_cosigner = bool(note is not None and note.signed_by is not None and note.signed_by.supervisor_id == user.id)
    context: dict[str, Any] = {
        "patient": patient,
        "session": visit,
        "protocol": protocol,
        "label": label_of(visit, protocol),
        "note": note,
        "signed": signed,
        "text_fields": TEXT_FIELDS[visit.kind],
        "checkin_practices": checkin_practices,
        "risk_labels": RISK_CHECK,
        "note_form": note_form,
        "vitals_form": forms.vitals or VitalsForm(formdata=None, taken_at=minute(utcnow())),
        "ae_form": forms.adverse_event or from_draft("ae", AdverseEventForm),
        "sign_form": forms.sign
        or SignForm(formdata=None, content_hash=content_hash(note, visit) if note and not signed else ""),
        "addendum_form": forms.addendum or (from_draft("addendum", AddendumForm) if signed else None),
        "cosign_form": forms.cosign
        or CosignForm(formdata=None, content_hash=review_hash(note) if note is not None and signed else ""),
        "conflict": forms.conflict,
        "notices": forms.notices,
        "restored": restored,
        "draft_keys": keys,
        "blockers": blockers(patient, note, visit, protocol, follows_ok, utcnow())
        if note is not None and not signed
        else [],
        "criteria": (
            discharge.criteria(note, note.vitals, protocol, current_zone())
            if note is not None and visit.kind is SessionKind.DOSING
            else []
        ),
        "follow_ups": follow,
        "follow_up_ok": follows_ok,
        "cosign": cosign,
        "is_cosigner": is_cosigner,
        "process_note_id": private.own_note_id(user, visit),
        "remove_form": EmptyForm(formdata=None),
        "now": utcnow(),
        "body_label": BODY_LABEL[visit.kind],
        # The next day at the same time on the clinic's clock, as the session form's scheduled start takes it.
        "follow_up_at": (clinictime.local(visit.held_at, current_zone()) + timedelta(days=1)).strftime(
            clinictime.INPUT_FORMAT
        )
        if visit.held_at
        else "",
    }
    return render_template("sessions/detail.html", **context), status


def _prepare_structured(
    form: NoteForm, patient: Patient, visit: TherapySession, protocol: Protocol | None
) -> list[dict[str, str]]:
    """Fill the note form's choices from their sources (the clinic's modalities, the protocol's set-and-setting
    checklist) and give its check-in one answer per practice of the current plan; returns those practices. A
    check-in saved against an older plan is asked again, from blank."""
    clinic = db.session.get(Clinic, patient.clinic_id)
    assert clinic is not None
    if "modality" in form:
        form.offer_modalities(clinic_modalities(clinic))
    if "set_and_setting" in form and protocol is not None:
        form.set_and_setting.choices = [(item.id, item.text) for item in protocol.set_and_setting]
    if "practice_checkin" not in form:
        return []
    plan = current_version(db.session, patient.id)
    practices = plan.practice_items if plan is not None else []
    number = str(plan.number) if plan is not None else ""
    if form.checkin_plan_version.data != number:
        form.checkin_plan_version.data = number
        for entry in form.practice_checkin.entries:
            entry.data = ""
    while len(form.practice_checkin.entries) > len(practices):
        form.practice_checkin.pop_entry()
    form.ask_about(plan.number if plan else None, practices)
    return practices


#: The session page's forms whose typing is kept after a refused CSRF token.
_KEPT_FORMS = {"note": None, "addendum": AddendumForm, "adverse_event": AdverseEventForm}


def rerender_with_typing(form_name: str) -> drafts.Rerender:
    """For ``drafts.keeps_draft``: the session page with the posted typing in the form ``form_name`` (``note``,
    ``addendum`` or ``adverse_event``), a notice, and 400; the caller rolls back whatever it queued."""

    def rerender(view_args: dict[str, Any], typing: MultiDict[str, str]) -> ResponseReturnValue:
        patient = load_patient(view_args["patient_id"])
        visit = queries.load_session_or_404(db.session, patient, view_args["session_id"])
        form_class = _KEPT_FORMS[form_name] or NOTE_FORMS[visit.kind]
        kept = Forms(notices=[drafts.EXPIRED_NOTICE])
        setattr(kept, form_name, form_class(formdata=typing))
        return render_session(patient, visit, kept, 400)

    return rerender

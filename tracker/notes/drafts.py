"""No lost work: what a user types into a note is kept on the server as a draft until the form is saved.

Three paths lead back to the text, since a form can expire (Flask-WTF's CSRF token, WTF_CSRF_TIME_LIMIT:
https://flask-wtf.readthedocs.io/en/stable/config/) and so can the login (automatic logoff, HIPAA 45 CFR
164.312(a)(2)(iii); a warning before it "helps to avoid loss of work", OWASP Session Management Cheat Sheet,
https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html):

- *Autosave*: ``static/js/drafts.js`` posts a form's fields to ``sessions.save_draft`` a moment after typing
  stops; reopening the page restores the draft, with a notice and a button to discard it. Autosaving is typing,
  so it keeps the login session alive while the clinician writes.
- *An expired form*: when a form posted by a signed-in user fails the CSRF check (a token from before a new
  sign-in, say), ``rescue`` shows the form's page again with what was posted in the form, to check and save again.
  Nothing is written: a post without a valid token may be forged, so it changes nothing in the database, not even
  a draft (the page's own audited opening already recorded the read).
- *An ended session*: a post after the idle timeout goes to the sign-in page, and from there back to the form's
  page (``return_to``), where the autosaved draft is restored.

Drafts hold the user's own unsaved text, never passwords or CSRF tokens. Starting, restoring and discarding a
draft are audited; overwriting one's own draft while typing is not (it would add a row per pause in typing), and
the save into the record is audited with its fields, as always.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from flask import current_app, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import delete, func, select
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from tracker import audit
from tracker.database import CommitRefused, refusing_commits
from tracker.extensions import db
from tracker.models import FormDraft, Patient, User

F = TypeVar("F", bound=Callable[..., Any])

KEY = re.compile(r"[a-z]+-[0-9]{1,12}")  # matched whole (fullmatch: "$" would let a trailing newline through)
#: The forms kept as drafts: the first part of a key -> the page showing the form and the view argument the
#: key's number fills (None: the number is the patient's id). A key of another form is refused.
FORMS: dict[str, tuple[str, str | None]] = {
    "note": ("sessions.detail", "session_id"),
    "addendum": ("sessions.detail", "session_id"),
    "ae": ("sessions.detail", "session_id"),
    "cosign": ("sessions.detail", "session_id"),
    "private": ("sessions.private_note", "note_id"),
    "plan": ("plans.edit", None),
    "alert": ("outcomes.alert", "alert_id"),
    "screening": ("screening.checklist", None),
    "phase": ("patients.detail", None),
    "patient": ("patients.edit", None),
    "medication": ("screening.medications", None),
    "resultfix": ("outcomes.correct", "result_id"),
    "labfix": ("labs.correct", "lab_id"),
}
#: Never kept in a draft.
SECRET_FIELDS = frozenset({"csrf_token", "password"})
MAX_FIELDS = 60
#: Values per draft in all (a field sent many times counts each time) and the longest field name kept.
MAX_VALUES = 200
MAX_NAME_LENGTH = 100
#: Every name and value counts: a draft of long names and empty values is as large as one of long values.
MAX_CHARACTERS = 200_000
#: Drafts one user keeps at once (a draft lives until its form is saved or discarded): enough for every form of a
#: busy caseload, and a bound on what one account can make the server keep.
MAX_DRAFTS_PER_USER = 200


class DraftError(ValueError):
    """A draft that cannot be kept (bad key, too large)."""


#: Shows the form's page again with the posted typing in the form: called with the view's arguments and the typing.
Rerender = Callable[[dict[str, Any], MultiDict[str, str]], ResponseReturnValue]


@dataclass(frozen=True)
class DraftSpec:
    #: Format string over the view's arguments, e.g. ``"note-{session_id}"``.
    key: str
    #: The endpoint of the page showing the form (it takes the same view arguments).
    page: str
    #: Renders that page with the typing after a refused CSRF token, writing nothing.
    rerender: Rerender | None = None


def keeps_draft(key: str, page: str, rerender: Rerender | None = None) -> Callable[[F], F]:
    """Mark a POST view whose typing is kept when it fails for an expired form or session. Put it below
    ``@require_role`` (whose wrapper copies the mark)."""

    def decorate(view: F) -> F:
        view._draft = DraftSpec(key, page, rerender)  # type: ignore[attr-defined]
        return view

    return decorate


def spec_of(endpoint: str | None) -> DraftSpec | None:
    view = current_app.view_functions.get(endpoint or "")
    return getattr(view, "_draft", None)


def return_to() -> str | None:
    """For a POST to a form kept as a draft: the page to come back to after signing in again."""
    spec = spec_of(request.endpoint)
    if spec is None or request.method != "POST" or not request.view_args:
        return None
    return url_for(spec.page, **request.view_args)


def clean(form: MultiDict[str, str]) -> dict[str, list[str]]:
    """The posted fields worth keeping: no secrets, within size limits.

    :raise DraftError: too many fields or too much text.
    """
    data = {name: form.getlist(name) for name in form if name not in SECRET_FIELDS}
    values = sum(len(found) for found in data.values())
    size = sum(len(name) + sum(len(v) for v in found) for name, found in data.items())
    longest = max((len(name) for name in data), default=0)
    if len(data) > MAX_FIELDS or values > MAX_VALUES or size > MAX_CHARACTERS or longest > MAX_NAME_LENGTH:
        raise DraftError("This draft is too large to keep.")
    return data


def known(key: str) -> bool:
    """``key`` names one of the forms kept as drafts (``FORMS``) and one record."""
    return bool(KEY.fullmatch(key)) and key.split("-")[0] in FORMS


def page_of(key: str, patient_id: int) -> str:
    """The page showing the form ``key`` (a known key)."""
    form_name, number = key.split("-")
    endpoint, argument = FORMS[form_name]
    arguments: dict[str, Any] = {"patient_id": patient_id}
    if argument is not None:
        arguments[argument] = int(number)
    return url_for(endpoint, **arguments)


def save(actor: User, patient: Patient, key: str, data: dict[str, list[str]], now: datetime) -> FormDraft:
    """Keep ``data`` as ``actor``'s draft of the form ``key`` for ``patient``, replacing an older one.

    :raise DraftError: a malformed key, or one of a form not kept as a draft.
    """
    if not known(key):
        raise DraftError("Unknown form.")
    draft = db.session.scalar(select(FormDraft).where(FormDraft.user_id == actor.id, FormDraft.key == key))
    if draft is None:
        kept = db.session.scalar(select(func.count()).where(FormDraft.user_id == actor.id)) or 0
        if kept >= MAX_DRAFTS_PER_USER:
            raise DraftError("You have too many unsaved drafts: save or discard some before typing in another form.")
        draft = FormDraft(user_id=actor.id, patient_id=patient.id, key=key, data=data, saved_at=now)
        db.session.add(draft)
        db.session.flush()
        audit.record(
            actor,
            "draft.save",
            "Kept unsaved typing as a draft",
            patient=patient,
            target_type="form_draft",
            target_id=key,
        )
    else:
        draft.patient_id, draft.data, draft.saved_at = patient.id, data, now
    return draft


def load(actor: User, patient: Patient, keys: Iterable[str]) -> dict[str, FormDraft]:
    """``actor``'s drafts of the forms ``keys`` for ``patient``, by key (one query)."""
    rows = db.session.scalars(
        select(FormDraft).where(
            FormDraft.user_id == actor.id, FormDraft.patient_id == patient.id, FormDraft.key.in_(list(keys))
        )
    )
    return {row.key: row for row in rows}


def restored(actor: User, patient: Patient, draft: FormDraft) -> MultiDict[str, str]:
    """The draft as form data, auditing that it was shown again."""
    audit.record(
        actor,
        "draft.restore",
        "Restored a draft of unsaved typing",
        patient=patient,
        target_type="form_draft",
        target_id=draft.key,
    )
    return MultiDict([(name, value) for name, values in draft.data.items() for value in values])


def kept(actor: User, patient: Patient, key: str) -> MultiDict[str, str] | None:
    """``actor``'s draft of the one form ``key`` for ``patient`` as form data (its restoring audited), or None."""
    draft = load(actor, patient, [key]).get(key)
    return restored(actor, patient, draft) if draft is not None else None


def discard(actor: User, patient: Patient, key: str, *, on_request: bool = False) -> bool:
    """Drop ``actor``'s draft of ``key`` (after the form was saved, or ``on_request``, which is audited); returns
    whether there was one."""
    result = db.session.execute(delete(FormDraft).where(FormDraft.user_id == actor.id, FormDraft.key == key))
    gone = bool(getattr(result, "rowcount", 0))
    if gone and on_request:
        audit.record(
            actor,
            "draft.discard",
            "Discarded a draft of unsaved typing",
            patient=patient,
            target_type="form_draft",
            target_id=key,
        )
    return gone


def rescue() -> ResponseReturnValue | None:
    """On a CSRF failure: the form's page again, for a signed-in user who may see the patient, with what they
    posted in the form (never secrets) and a notice, answered 400. None when the request is not such a form (the
    usual error page then). Whatever rendering the page queued (audit rows of drafts shown) is rolled back: a post
    without a valid token writes nothing."""
    from tracker.permissions import can_view_patient

    spec = spec_of(request.endpoint)
    if spec is None or spec.rerender is None or request.method != "POST" or not request.view_args:
        return None
    if not current_user.is_authenticated:
        return None
    actor: User = current_user._get_current_object()
    patient_id = request.view_args.get("patient_id")
    if not isinstance(patient_id, int) or not can_view_patient(actor, patient_id):
        return None
    try:
        typing = MultiDict([(name, value) for name, values in clean(request.form).items() for value in values])
    except DraftError:
        return None
    try:
        with refusing_commits(db.session):
            return spec.rerender(dict(request.view_args), typing)
    except (HTTPException, CommitRefused):  # e.g. a note of someone else: the usual error page, nothing written
        return None
    finally:
        db.session.rollback()


#: Shown above a form that came back after a refused CSRF token.
EXPIRED_NOTICE = "The form had expired, so nothing was saved; what you typed is shown below. Check it and save again."

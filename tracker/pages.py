"""What every page does the same way, in one place, so a feature's views hold only what is theirs.

Named after what a clinician opens: a page. The clinical rules stay in plain modules the pages call; this module
only opens, pages through and shows:

- ``load_patient``: the patient a page is about, if the signed-in user may see them. The access check, emergency
  access and the audit row of a refusal are ``tracker.permissions.get_patient_for_user_or_404``'s; this adds what
  every patient page shows (care team, open safety alerts for the banner, on request the phase history).
- ``PageArgs``, ``read_args``, ``paginate``, ``paginate_list``: long lists in pages, a bad page number a 400.
- ``protocol_of``: the protocol template a patient is treated under (None when it is not installed); defined
  with the protocols, where services and the command line find it too.
- ``local_today``: today's date on the signed-in user's clinic's clock (kept with the clock, in
  ``tracker.clinics``, and given here so a page needs one import).
- ``FieldError`` and ``show_error``: a service's refusal shown next to the form field it is about.
- The Jinja filter ``number``; the clock's filters ``local``, ``local_day`` and ``local_range`` live with the
  clock in ``tracker.clinics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from flask import Flask, abort, request
from flask_sqlalchemy.pagination import Pagination
from flask_wtf import FlaskForm
from sqlalchemy import Select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.interfaces import LoaderOption
from wtforms import Field

from tracker.clinics import local_today
from tracker.extensions import db
from tracker.models import CareTeamMember, Patient, PhaseTransition
from tracker.models.alert import with_open_alerts
from tracker.permissions import actor, get_patient_for_user_or_404
from tracker.protocols import protocol_of
from tracker.validators import FieldError, page_field, requested_page

__all__ = [
    "FieldError",
    "ListPagination",
    "PageArgs",
    "init_app",
    "load_patient",
    "local_today",
    "number",
    "paginate",
    "paginate_list",
    "protocol_of",
    "read_args",
    "show_error",
]

# Patients. -------------------------------------------------------------------------------------------------------


def load_patient(patient_id: int, *options: LoaderOption, phase_history: bool = False) -> Patient:
    """The patient with their care team and open safety alerts (the banner every patient page shows), if the
    signed-in user may see them. Seen under an emergency grant, the request is marked so its audit rows are
    flagged and the page shows the banner.

    ``phase_history`` also loads the phase moves with who made them (the patient page shows them; the measures
    need the day of completion). ``options``: further loader options of the page.

    :raise 404: unknown patient, or outside the user's scope (the refusal audited and committed by the loader).
    """
    return get_patient_for_user_or_404(actor(), patient_id, *_patient_options(phase_history), *options)


@cache
def _patient_options(phase_history: bool) -> tuple[LoaderOption, ...]:
    """Built once (loader options are immutable): building their paths on every view cost each page time for
    nothing."""
    history = (selectinload(Patient.transitions).joinedload(PhaseTransition.actor),) if phase_history else ()
    return (selectinload(Patient.care_team).joinedload(CareTeamMember.user), *history, with_open_alerts())


# Lists in pages. -------------------------------------------------------------------------------------------------


class PageArgs(FlaskForm):
    """The query string of a paged list (no CSRF on a GET); a list with more arguments adds its fields."""

    class Meta:
        csrf = False

    page = page_field()


A = TypeVar("A", bound=FlaskForm)


def read_args(form_class: type[A], what: str) -> A:
    """The query string read through ``form_class``.

    :raise 400: a value the form refuses (a page number out of range, an unknown sort), each named.
    """
    args: A = form_class(formdata=request.args)
    if not args.validate():
        bad = ", ".join(f"{name}: {'; '.join(errors)}" for name, errors in args.errors.items())
        abort(400, description=f"The {what} cannot be shown with these settings ({bad}).")
    return args


def paginate(query: Select[Any], per_page: int, page: int | None = None, **options: Any) -> Pagination:
    """One page of ``query``: ``page`` as a query-string form validated it, or else ``?page=`` (400 when it is
    not a whole number in range). A page past the end is empty rather than an error (a row removed since the
    link was made). ``options``: further arguments of ``db.paginate`` (``count=False``)."""
    number = requested_page(request.args.get("page")) if page is None else max(page, 1)
    return db.paginate(query, page=number, per_page=per_page, error_out=False, **options)


class ListPagination(Pagination):
    """Pages over a list already in memory (a queue computed in Python after a constant number of queries), with
    the same interface as ``db.paginate`` for the pagination macro."""

    def _query_items(self) -> list[Any]:
        items: list[Any] = self._query_args["items"]
        start = (self.page - 1) * self.per_page
        return items[start : start + self.per_page]

    def _query_count(self) -> int:
        return len(self._query_args["items"])


def paginate_list(items: Sequence[Any], per_page: int, page: int | None = None) -> Pagination:
    """One page of ``items``, read as ``paginate`` reads its page number."""
    number = requested_page(request.args.get("page")) if page is None else max(page, 1)
    return ListPagination(page=number, per_page=per_page, error_out=False, items=list(items))


# Forms. ----------------------------------------------------------------------------------------------------------


def show_error(form: FlaskForm, error: FieldError, default: Field | None = None) -> None:
    """Put a service's refusal next to the field it names (``default`` when the form has no such field)."""
    field: Field | None = getattr(form, error.field, default)
    if field is None:
        raise AttributeError(f"{type(form).__name__} has no field {error.field!r} for: {error}")
    field.errors = [*field.errors, str(error)]


# Templates. ------------------------------------------------------------------------------------------------------


def number(value: float | int | None) -> str:
    """``{{ value | number }}``: a measured or dosed amount as typed, without trailing zeros ("12.5", "120");
    a dash when there is none."""
    return "—" if value is None else f"{float(value):g}"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["number"] = number

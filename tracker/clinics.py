"""A clinic's settings and its clock, as the rest of the app reads them.

- ``new_clinic`` creates a clinic with the deployment's configured windows and crisis line as its defaults
  (config.py ``MEASURE_*``, ``ATTENTION_*``, ``CRISIS_LINE``); ``update_settings`` changes them, checked and audited.
- ``current_clinic`` / ``current_zone`` / ``local_today``: the signed-in user's clinic (loaded with the user, so
  no page spends a statement on it) and its clock. Every patient a user may open is in their clinic.
- ``clinic_of``: the clinic of a patient, for services and background work (no statement when the clinic is
  already in the session, as it is in every request).
- The Jinja filters ``local`` and ``local_day`` print a stored UTC moment on the clinic's clock. Templates rendered
  outside a request (PDF reports) pass ``clinic_zone`` in their context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_app_context, has_request_context
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context
from sqlalchemy import inspect, select

from tracker import audit, clinictime
from tracker.database import AnySession
from tracker.extensions import db
from tracker.models import Clinic, User
from tracker.validators import FieldError

#: Clinic column -> the configuration key that gives a new clinic its value.
CONFIGURED_DEFAULTS = {
    "measure_baseline_max_age_days": "MEASURE_BASELINE_MAX_AGE_DAYS",
    "measure_after_dosing_window_days": "MEASURE_AFTER_DOSING_WINDOW_DAYS",
    "measure_end_after_last_dosing_days": "MEASURE_END_OF_TREATMENT_AFTER_LAST_DOSING_DAYS",
    "measure_end_window_days": "MEASURE_END_OF_TREATMENT_WINDOW_DAYS",
    "measure_follow_up_window_days": "MEASURE_FOLLOW_UP_WINDOW_DAYS",
    "attention_note_unsigned_hours": "ATTENTION_NOTE_UNSIGNED_HOURS",
    "attention_serious_ae_days": "ATTENTION_SERIOUS_AE_DAYS",
    "attention_no_session_days": "ATTENTION_NO_SESSION_DAYS",
    "attention_emergency_review_hours": "ATTENTION_EMERGENCY_REVIEW_HOURS",
}

#: The smallest value of each window (config.py reads the environment with the same minimums).
MINIMUMS = {
    "measure_baseline_max_age_days": 0,
    "measure_after_dosing_window_days": 1,
    "measure_end_after_last_dosing_days": 0,
    "measure_end_window_days": 0,
    "measure_follow_up_window_days": 0,
    "attention_note_unsigned_hours": 1,
    "attention_serious_ae_days": 1,
    "attention_no_session_days": 1,
    "attention_emergency_review_hours": 1,
}
#: The largest: past these a window is a typing mistake (ten years of days, a year of hours).
MAXIMUM_DAYS = 3660
MAXIMUM_HOURS = 8784
FOLLOW_UPS_MAX = 10


class SettingsError(FieldError):
    """A setting refused, with the field to show the message next to."""


@dataclass(frozen=True)
class ClinicSettings:
    """Everything an admin sets on the clinic settings page, under the names of ``Clinic``'s columns."""

    name: str
    time_zone: str
    phone: str | None
    address: str | None
    crisis_line: str | None
    measure_baseline_max_age_days: int
    measure_after_dosing_window_days: int
    measure_end_after_last_dosing_days: int
    measure_end_window_days: int
    measure_follow_up_days: str
    measure_follow_up_window_days: int
    attention_note_unsigned_hours: int
    attention_serious_ae_days: int
    attention_no_session_days: int
    attention_emergency_review_hours: int

    @classmethod
    def of(cls, clinic: Clinic) -> ClinicSettings:
        return cls(**{f.name: getattr(clinic, f.name) for f in fields(cls)})


SETTINGS_FIELDS = tuple(f.name for f in fields(ClinicSettings))


def configured_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """A new clinic's windows and crisis line, from the deployment's configuration."""
    values: dict[str, Any] = {column: int(config[key]) for column, key in CONFIGURED_DEFAULTS.items() if key in config}
    if "MEASURE_FOLLOW_UP_DAYS" in config:
        values["measure_follow_up_days"] = follow_up_text(config["MEASURE_FOLLOW_UP_DAYS"])
    if config.get("CRISIS_LINE"):
        values["crisis_line"] = str(config["CRISIS_LINE"])
    return values


def new_clinic(name: str, time_zone: str = clinictime.DEFAULT_ZONE, **values: Any) -> Clinic:
    """Add a clinic with the configured defaults (``values`` overrides them); the caller commits.

    :raise SettingsError: ``time_zone`` is not an IANA zone name.
    """
    if not clinictime.is_zone_name(time_zone):
        raise SettingsError("time_zone", f"{time_zone!r} is not a time zone name such as Europe/London.")
    defaults = configured_defaults(current_app.config) if has_app_context() else {}
    clinic = Clinic(name=name, time_zone=time_zone, **{**defaults, **values})
    db.session.add(clinic)
    db.session.flush()
    return clinic


def follow_up_text(days: Any) -> str:
    return ",".join(str(int(d)) for d in days)


def parse_follow_ups(text: str) -> str:
    """Follow-up days as typed ("90, 180") in the stored form ("90,180"), ascending.

    :raise SettingsError: not whole numbers from 1, or too many.
    """
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not all(p.isascii() and p.isdigit() and len(p) <= 5 for p in parts):  # "²" and "٣٠" are digits to Python
        raise SettingsError("measure_follow_up_days", "Enter whole numbers of days separated by commas, e.g. 90, 180.")
    days = sorted({int(p) for p in parts})
    if any(not 1 <= d <= MAXIMUM_DAYS for d in days):
        raise SettingsError("measure_follow_up_days", f"Use days from 1 to {MAXIMUM_DAYS}.")
    if len(days) > FOLLOW_UPS_MAX:
        raise SettingsError("measure_follow_up_days", f"Enter at most {FOLLOW_UPS_MAX} follow-ups.")
    return follow_up_text(days)


def _check(given: ClinicSettings) -> ClinicSettings:
    if not given.name.strip():
        raise SettingsError("name", "Enter the clinic's name.")
    for column, limit in (("name", 120), ("phone", 40), ("address", 255), ("crisis_line", 200)):
        if len(getattr(given, column) or "") > limit:
            raise SettingsError(column, f"Use at most {limit} characters.")
    if not clinictime.is_zone_name(given.time_zone):
        raise SettingsError("time_zone", "Choose a time zone from the list.")
    for column, minimum in MINIMUMS.items():
        value = getattr(given, column)
        top = MAXIMUM_HOURS if column.endswith("_hours") else MAXIMUM_DAYS
        if not minimum <= value <= top:
            raise SettingsError(column, f"Enter a whole number from {minimum} to {top}.")
    follow_ups = parse_follow_ups(given.measure_follow_up_days)
    return ClinicSettings(**{**{f: getattr(given, f) for f in SETTINGS_FIELDS}, "measure_follow_up_days": follow_ups})


def update_settings(actor: User, clinic: Clinic, given: ClinicSettings) -> dict[str, list[Any]]:
    """Apply ``given`` to ``actor``'s own clinic and audit the changes (one row, field by field); returns them.

    :raise PermissionError: ``actor`` is not an admin of ``clinic``.
    :raise SettingsError: a value out of range, an unknown time zone, an empty name.
    """
    if not actor.is_admin or actor.clinic_id != clinic.id:
        raise PermissionError("only an admin of the clinic changes its settings")
    checked = _check(given)
    if checked.name != clinic.name and db.session.scalar(select(Clinic.id).where(Clinic.name == checked.name)):
        raise SettingsError("name", "Another clinic already has this name.")
    before = ClinicSettings.of(clinic)
    changes = audit.diff(
        {f: getattr(before, f) for f in SETTINGS_FIELDS}, {f: getattr(checked, f) for f in SETTINGS_FIELDS}
    )
    if not changes:
        return {}
    for name in changes:
        setattr(clinic, name, getattr(checked, name))
    audit.record(
        actor,
        "clinic.settings",
        f"Changed the clinic's {', '.join(sorted(changes)).replace('_', ' ')}"[:255],
        target_type="clinic",
        target_id=clinic.id,
        data={"changes": changes},
        clinic_id=clinic.id,
    )
    return changes


# The clinic of the request, and of a patient. -------------------------------------------------------------------


def clinic_of(db: AnySession, clinic_id: int) -> Clinic:
    """The clinic with ``clinic_id``: taken from the session's identity map when loaded (every request loads the
    signed-in user's clinic with the user), else one statement."""
    return db.get_one(Clinic, clinic_id)


def current_clinic() -> Clinic | None:
    """The signed-in user's clinic; None without a request or a signed-in user."""
    if not has_request_context() or not current_user.is_authenticated:
        return None
    found: Clinic | None = g.get("tracker_clinic")
    if found is None:
        user: User = current_user._get_current_object()
        found = user.clinic if "clinic" not in inspect(user).unloaded else clinic_of(db.session, user.clinic_id)
        g.tracker_clinic = found
    return found


def current_zone() -> ZoneInfo:
    """The signed-in user's clinic's time zone.

    :raise RuntimeError: no signed-in user (a page without one shows no clinic times).
    """
    found: ZoneInfo | None = g.get("tracker_zone") if has_request_context() else None
    if found is None:
        clinic = current_clinic()
        if clinic is None:
            raise RuntimeError("no signed-in user, so no clinic time zone: pass clinic_zone to the template")
        found = g.tracker_zone = clinic.zone  # kept for the request: a rollback later would expire the clinic
    return found


def local_today() -> date:
    """Today's date at the signed-in user's clinic."""
    return clinictime.today(current_zone())


# Templates. -----------------------------------------------------------------------------------------------------


def template_zone(context: Context) -> ZoneInfo:
    """The zone a template prints in: ``clinic_zone`` where the caller gave one (a PDF), else the signed-in user's."""
    given = context.get("clinic_zone")
    return given if isinstance(given, ZoneInfo) else current_zone()


@pass_context
def local_filter(
    context: Context, moment: datetime | None, fmt: str = clinictime.SHOWN_FORMAT, zone: bool = True
) -> str:
    """``{{ moment | local }}``: "2026-03-08 09:00 MDT" on the clinic's clock; ``local("%H:%M")``; ``zone=False``
    leaves out the abbreviation (a table whose heading names the zone)."""
    return clinictime.shown(moment, template_zone(context), fmt, zone)


@pass_context
def local_day_filter(context: Context, moment: datetime | None) -> date | None:
    """``{{ moment | local_day }}``: the clinic's date of a moment (for "today" and calendars)."""
    return None if moment is None else clinictime.day_of(moment, template_zone(context))


@pass_context
def local_range_filter(context: Context, start: datetime | None, end: datetime | None) -> str:
    """``{{ start | local_range(end) }}``: ``tracker.clinictime.shown_range`` on the clinic's clock."""
    return clinictime.shown_range(start, end, template_zone(context))


def init_app(app: Flask) -> None:
    app.jinja_env.filters["local"] = local_filter
    app.jinja_env.filters["local_day"] = local_day_filter
    app.jinja_env.filters["local_range"] = local_range_filter

    @app.context_processor
    def inject_clinic_zone() -> dict[str, Any]:
        return {"clinic_zone": current_zone()} if current_clinic() is not None else {}

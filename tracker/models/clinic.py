"""A clinic (site). Every user and patient belongs to exactly one; nothing is shared between clinics.

A clinic's settings are its own: its time zone (every time is typed, shown and compared on its clock), what its
patients are given to call (phone, address, crisis line), and the windows of its measure schedule and its
attention queue. New clinics take the windows from the configuration (config.py ``MEASURE_*`` and
``ATTENTION_*``, ``tracker.clinics.new_clinic``); an admin changes them on the clinic settings page, through
``tracker.clinics.update_settings``, which checks every value (the table has no CHECK constraints for them: adding
one to a table others refer to means rebuilding it on SQLite).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Boolean, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from tracker.clinictime import DEFAULT_ZONE, zone
from tracker.models.base import Base, UTCDateTime, utcnow


def _days(default: int) -> Mapped[int]:
    return mapped_column(Integer, default=default, server_default=str(default))


class Clinic(Base):
    __tablename__ = "clinic"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(255))
    #: Who a patient calls in a crisis out of hours (printed on the integration plan and the questionnaire pages).
    crisis_line: Mapped[str | None] = mapped_column(String(200))
    #: IANA time zone name ("America/Denver"): times are stored in UTC and typed, shown and compared in this zone.
    time_zone: Mapped[str] = mapped_column(String(64), default=DEFAULT_ZONE, server_default=DEFAULT_ZONE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Every therapist and supervisor signs in with a second factor (TOTP); those without one enrol at sign-in.
    require_two_factor: Mapped[bool] = mapped_column(Boolean, server_default=false())
    #: The therapeutic modalities its notes may name (``tracker.modalities``); NULL: the shipped defaults.
    modalities: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))

    # The measure schedule's windows, in days (``tracker.schedule.Settings``; config.py says why each is a setting).
    measure_baseline_max_age_days: Mapped[int] = _days(30)
    measure_after_dosing_window_days: Mapped[int] = _days(14)
    measure_end_after_last_dosing_days: Mapped[int] = _days(28)
    measure_end_window_days: Mapped[int] = _days(14)
    #: Follow-ups, in days after the end of treatment, comma-separated ("90,180"; empty for none).
    measure_follow_up_days: Mapped[str] = mapped_column(String(80), default="90,180", server_default="90,180")
    measure_follow_up_window_days: Mapped[int] = _days(14)

    # The attention queue's thresholds (``tracker.attention.Policy``): clinic policy, not clinical facts.
    attention_note_unsigned_hours: Mapped[int] = _days(24)
    attention_serious_ae_days: Mapped[int] = _days(30)
    attention_no_session_days: Mapped[int] = _days(30)
    attention_emergency_review_hours: Mapped[int] = _days(24)

    @property
    def zone(self) -> ZoneInfo:
        """The clinic's time zone (UTC if the stored name is unknown to this machine's time zone database)."""
        try:
            return zone(self.time_zone)
        except ValueError:
            return zone(DEFAULT_ZONE)

    @property
    def follow_up_days(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.measure_follow_up_days.split(",") if part.strip())

    def __repr__(self) -> str:
        return f"<Clinic {self.id} {self.name!r}>"

"""The clinic settings form as a browser posts it, from a clinic's current settings."""

from __future__ import annotations

from typing import Any

from tracker.clinics import SETTINGS_FIELDS
from tracker.models import Clinic


def settings_form(clinic: Clinic, **changes: Any) -> dict[str, str]:
    """Every field of ``/admin/clinic`` holding ``clinic``'s values (two-factor as it is), with ``changes``."""
    data = {name: "" if getattr(clinic, name) is None else str(getattr(clinic, name)) for name in SETTINGS_FIELDS}
    if clinic.require_two_factor:
        data["require_two_factor"] = "y"
    data.update({name: str(value) for name, value in changes.items()})
    return data

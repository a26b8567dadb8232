"""What the screening pages (the checklist and the medication review) both open: the patient's screening state."""

from __future__ import annotations

from flask import abort

from tracker.extensions import db
from tracker.models import Patient
from tracker.pages import local_today, protocol_of
from tracker.screening.queries import ScreeningState, screening_state


def load_state(patient: Patient) -> ScreeningState:
    """:raise 404: the patient's protocol is not installed, so there is nothing to screen against."""
    protocol = protocol_of(patient)
    if protocol is None:
        abort(404, description=f"The protocol {patient.protocol_code!r} is not installed, so no screening is shown.")
    return screening_state(db.session, patient, protocol, local_today())

"""The patient page: the patient, the phase move form and, beside it, what the workflow's guards ask for (the
screening verdict, the sessions, the measures due, the laboratory results). Apart from the views so that another
feature's page can answer with it (a refused "session held" form shows the patient page with its errors) without
importing the patients' views."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from wtforms import SelectChoice

from tracker.extensions import db
from tracker.labs import markers
from tracker.labs.queries import latest_per_marker, requirements
from tracker.models import Patient, Phase
from tracker.models.base import utcnow
from tracker.outcomes.queries import measures_state
from tracker.pages import local_today, protocol_of
from tracker.patients.forms import PhaseForm
from tracker.screening.queries import screening_state
from tracker.sessions.forms import SessionForm
from tracker.sessions.queries import patient_sessions
from tracker.sessions.services import current_cycle
from tracker.workflow import allowed_targets


def phase_key(patient_id: int) -> str:
    """The draft of the phase form's reason (``tracker.notes.drafts``)."""
    return f"phase-{patient_id}"


def render_detail(
    patient: Patient,
    phase_form: PhaseForm,
    status: int = 200,
    session_form: SessionForm | None = None,
    *,
    restored: bool = False,
    notice: str | None = None,
) -> ResponseReturnValue:
    """The patient page. The move form offers every other phase, so a refused move is explained, not hidden;
    it starts on the first move the rules allow. The screening verdict, the sessions (planned against done, what
    is next, out-of-range vital signs) and the measures due are shown beside it, since they are what the
    workflow's guards ask for."""
    allowed = sorted(allowed_targets(patient), key=list(Phase).index)
    phase_form.target.choices = [SelectChoice(p.value, p.label) for p in Phase if p is not patient.phase]
    if phase_form.target.data is None and allowed:
        phase_form.target.data = allowed[0].value
    phase_form.target.description = (
        "Allowed next: " + ", ".join(p.label.lower() for p in allowed) + "." if allowed else ""
    )
    protocol = protocol_of(patient)
    today = local_today()
    screening = screening_state(db.session, patient, protocol, today) if protocol else None
    sessions = patient_sessions(db.session, patient, protocol, current_cycle(db.session, patient), utcnow())
    measures = measures_state(db.session, patient, protocol, today, with_trends=False)
    labs = latest_per_marker(db.session, patient.id)
    return (
        render_template(
            "patients/detail.html",
            labs=labs,
            lab_requirements=requirements(protocol, labs, today),
            lab_markers=markers(),
            patient=patient,
            protocol=protocol,
            phase_form=phase_form,
            allowed=allowed,
            screening=screening,
            sessions=sessions,
            session_form=session_form or SessionForm(formdata=None),
            measures=measures,
            phase_restored=restored,
            phase_notice=notice,
            phase_key=phase_key(patient.id),
        ),
        status,
    )

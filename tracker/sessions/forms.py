"""Session forms: the quick "log a session that took place" form of the patient page, and the full form to
schedule or record a session. Times are typed on the clinic's clock (``LocalDateTimeField``) and held in UTC."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from tracker.models import SessionKind
from tracker.models.base import utcnow
from tracker.sessions.services import MAX_DURATION_MINUTES, SessionInput
from tracker.validators import LocalDateTimeField, WholeNumberField, empty_to_none, no_control_characters, whole_number

DURATION_MESSAGE = f"Enter a duration between 1 and {MAX_DURATION_MINUTES} minutes."
KIND_CHOICES = [SelectChoice(k.value, k.label) for k in SessionKind]
IN_THE_FUTURE = "A session that took place cannot be in the future."


def _minutes(label: str, required: bool = False) -> WholeNumberField:
    first = InputRequired(message="Enter the duration in minutes.") if required else Optional()
    return WholeNumberField(
        label,
        validators=[first, NumberRange(1, MAX_DURATION_MINUTES, message=DURATION_MESSAGE)],
        render_kw={"min": 1, "max": MAX_DURATION_MINUTES},
    )


class SessionForm(FlaskForm):
    """Log a session that took place (the patient page's quick form)."""

    kind = SelectField(
        "Kind",
        choices=KIND_CHOICES,
        default=SessionKind.PREPARATION.value,
        validators=[InputRequired(message="Choose the kind of session.")],
    )
    held_at = LocalDateTimeField(
        "Held at", validators=[InputRequired(message="Enter the date and time the session started.")]
    )
    duration_minutes = _minutes("Duration (minutes)", required=True)

    def validate_held_at(self, field: LocalDateTimeField) -> None:
        if field.data is not None and field.data > utcnow():
            raise ValidationError(IN_THE_FUTURE)

    def to_input(self) -> SessionInput:
        return SessionInput(SessionKind(self.kind.data), self.held_at.data, self.duration_minutes.data)


class SessionDetailsForm(FlaskForm):
    """Schedule a session, record one that took place, or both; the kind is chosen only when it is created."""

    kind = SelectField("Kind", choices=KIND_CHOICES, validators=[InputRequired(message="Choose the kind of session.")])
    cycle = WholeNumberField(
        "Dosing cycle",
        validators=[Optional(), NumberRange(1, 99, message="Enter a cycle number from 1.")],
        description="The dosing session this belongs to: 2 for dosing 2 and the sessions after it. Leave it empty "
        "for preparation, or to use the current cycle.",
        render_kw={"min": 1},
    )
    scheduled_at = LocalDateTimeField("Scheduled start", validators=[Optional()])
    scheduled_minutes = _minutes("Planned length (minutes)")
    held_at = LocalDateTimeField(
        "Actual start", validators=[Optional()], description="Leave empty while the session is only scheduled."
    )
    duration_minutes = _minutes("Actual length (minutes)")
    location = StringField(
        "Location",
        validators=[Optional(), Length(max=120, message="Use at most 120 characters."), no_control_characters],
        filters=[empty_to_none],
        description="Room, or phone / video for a remote contact.",
    )
    present_ids = SelectMultipleField(
        "Therapists present",
        coerce=whole_number,
        validators=[Optional()],
        description="Hold Ctrl (Cmd on a Mac) to choose several.",
    )

    def validate_held_at(self, field: LocalDateTimeField) -> None:
        if field.data is not None and field.data > utcnow():
            raise ValidationError(IN_THE_FUTURE)

    def to_input(self, kind: SessionKind | None = None) -> SessionInput:
        return SessionInput(
            kind=kind or SessionKind(self.kind.data),
            held_at=self.held_at.data,
            duration_minutes=self.duration_minutes.data,
            scheduled_at=self.scheduled_at.data,
            scheduled_minutes=self.scheduled_minutes.data,
            cycle=self.cycle.data,
            location=self.location.data,
            present_ids=tuple(self.present_ids.data or ()),
        )

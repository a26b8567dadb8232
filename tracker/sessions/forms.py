from __future__ import annotations

from datetime import UTC

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, SelectChoice, SelectField
from wtforms.validators import InputRequired, NumberRange, ValidationError

from tracker.models import SessionKind
from tracker.models.base import utcnow
from tracker.sessions.services import MAX_DURATION_MINUTES, SessionInput

DURATION_MESSAGE = f"Enter a duration between 1 and {MAX_DURATION_MINUTES} minutes."


class SessionForm(FlaskForm):
    """Log a session that took place. Times are UTC, as everywhere else in the tracker."""

    kind = SelectField(
        "Kind",
        choices=[SelectChoice(k.value, k.label) for k in SessionKind],
        default=SessionKind.PREPARATION.value,
        validators=[InputRequired(message="Choose the kind of session.")],
    )
    held_at = DateTimeLocalField(
        "Held at (UTC)",
        format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(message="Enter the date and time the session started.")],
    )
    duration_minutes = IntegerField(
        "Duration (minutes)",
        validators=[
            InputRequired(message="Enter the duration in minutes."),
            NumberRange(1, MAX_DURATION_MINUTES, message=DURATION_MESSAGE),
        ],
        render_kw={"min": 1, "max": MAX_DURATION_MINUTES},
    )

    def validate_held_at(self, field: DateTimeLocalField) -> None:
        if field.data is not None and field.data.replace(tzinfo=UTC) > utcnow():
            raise ValidationError("A session that took place cannot be in the future.")

    def to_input(self) -> SessionInput:
        held_at = self.held_at.data.replace(tzinfo=UTC)
        return SessionInput(SessionKind(self.kind.data), held_at, self.duration_minutes.data)

"""The calendar's query string, validated like any form: a bad view, day or therapist is refused with a message next
to it (400), never a 500 or a silently ignored filter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField
from wtforms.validators import Optional, ValidationError

from tracker.calendar.periods import VIEWS

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


class CalendarArgs(FlaskForm):
    class Meta:
        csrf = False

    view = SelectField(
        "View",
        choices=[SelectChoice("week", "Week"), SelectChoice("month", "Month")],
        validators=[Optional()],
        default="week",
        invalid_choice_message="Choose week or month.",
    )
    on = DateField("Showing the day", validators=[Optional()], description="Any day of the week or month to show.")
    therapist = SelectField(
        "Therapist", validators=[Optional()], default="", invalid_choice_message="Choose one of the listed therapists."
    )

    def set_therapists(self, therapists: Sequence[tuple[int, str]]) -> None:
        self.therapist.choices = [SelectChoice("", "All"), *(SelectChoice(str(i), n) for i, n in therapists)]

    def validate_on(self, field: DateField) -> None:
        if field.raw_data and field.raw_data[0] and field.data is None:
            raise ValidationError("Enter a date as YYYY-MM-DD.")
        if field.data is not None and not EARLIEST <= field.data <= LATEST:
            raise ValidationError("Choose a day between 2000 and 2100.")

    @property
    def chosen_view(self) -> str:
        return self.view.data if self.view.data in VIEWS else "week"

    @property
    def therapist_id(self) -> int | None:
        return int(self.therapist.data) if self.therapist.data else None

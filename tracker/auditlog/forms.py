from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from tracker.validators import LongSelect, no_control_characters, page_field, strip, whole_number


class AuditFilterForm(FlaskForm):
    """Filters read from the query string (a GET form: no CSRF, nothing changes)."""

    class Meta:
        csrf = False

    #: Every person of the clinic.
    user = SelectField("User", coerce=whole_number, validators=[Optional()], widget=LongSelect())
    patient = StringField(
        "Patient record number", validators=[Optional(), Length(max=40), no_control_characters], filters=[strip]
    )
    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])
    page = page_field()

    def validate_end(self, field: DateField) -> None:
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end date is before the start date.")

"""The laboratory result form: one choice of marker and unit ("Fasting plasma glucose, mmol/L"), the value, the day
the sample was taken, and the laboratory's reference range when its report gives one."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from tracker.labs import describe_range, markers
from tracker.labs.services import LABORATORY_MAX_LENGTH, REASON_MAX_LENGTH, LabInput
from tracker.validators import EARLIEST_DATE as EARLIEST
from tracker.validators import DateRange, DecimalNumberField, empty_to_none, no_control_characters, strip

SEPARATOR = "|"


def marker_choices() -> list[SelectChoice]:
    """Every marker in every unit it is reported in, grouped by category, with the default range in the label."""
    choices = [SelectChoice("", "Choose…")]
    for marker in markers().values():
        for unit in marker.units:
            shown = describe_range(unit.low, unit.high, unit.unit)
            choices.append(
                SelectChoice(
                    f"{marker.code}{SEPARATOR}{unit.unit}",
                    f"{marker.name} ({unit.unit}; default range: {shown})",
                    optgroup=marker.category,
                )
            )
    return choices


def _number(label: str, description: str = "", required: bool = False) -> DecimalNumberField:
    first = InputRequired(message="Enter the value as the report gives it.") if required else Optional()
    return DecimalNumberField(
        label, places=None, validators=[first], description=description, render_kw={"inputmode": "decimal"}
    )


class LabForm(FlaskForm):
    marker_unit = SelectField(
        "Marker and unit",
        choices=marker_choices(),
        validators=[InputRequired(message="Choose the marker.")],
        description="The unit the laboratory reported the result in.",
    )
    value = _number("Value", required=True)
    collected_on = DateField(
        "Sample collected on",
        validators=[
            InputRequired(message="Enter the day the sample was taken."),
            DateRange(EARLIEST, "The date cannot be in the future (or before 1900)."),
        ],
        description="The dosing gate counts a result from this day.",
    )
    reference_low = _number(
        "Reference range: low",
        "From the laboratory's report. Leave both empty to use the default range shown beside the marker.",
    )
    reference_high = _number("Reference range: high")
    laboratory = StringField(
        "Laboratory",
        validators=[
            Optional(),
            Length(max=LABORATORY_MAX_LENGTH, message=f"Use at most {LABORATORY_MAX_LENGTH} characters."),
            no_control_characters,
        ],
        filters=[empty_to_none],
    )

    def to_input(self) -> LabInput:
        code, _, unit = (self.marker_unit.data or "").partition(SEPARATOR)

        def number(field: DecimalNumberField) -> float | None:
            return float(field.data) if field.data is not None else None

        value = number(self.value)
        assert value is not None  # InputRequired
        return LabInput(
            marker=code,
            value=value,
            unit=unit,
            collected_on=self.collected_on.data,
            reference_low=number(self.reference_low),
            reference_high=number(self.reference_high),
            laboratory=self.laboratory.data,
        )


class LabCorrectionForm(LabForm):
    reason = TextAreaField(
        "Why it is being corrected",
        validators=[
            DataRequired(message="Say why the result is being corrected."),
            Length(max=REASON_MAX_LENGTH, message=f"Use at most {REASON_MAX_LENGTH} characters."),
            no_control_characters,
        ],
        filters=[strip],
        description="Kept with both results, e.g. “value copied from the wrong line of the report”.",
        render_kw={"rows": 2},
    )

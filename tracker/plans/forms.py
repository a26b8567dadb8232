"""Forms of the integration plan pages. The plan form has one text field per section of the patient's protocol
(built like the measure form, from data), plus the crisis line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from tracker.plans.practices import FREQUENCIES, MAX_PRACTICE_LENGTH, MAX_PRACTICES
from tracker.plans.sections import prompt
from tracker.plans.services import CRISIS_LINE_MAX_LENGTH, SECTION_MAX_LENGTH
from tracker.validators import EARLIEST_DATE as EARLIEST
from tracker.validators import DateRange, no_control_characters, strip


class PlanForm(FlaskForm):
    crisis_line = StringField(
        "Crisis line",
        validators=[
            DataRequired(message="Give the crisis line the patient can call; it is printed with the plan."),
            Length(max=CRISIS_LINE_MAX_LENGTH, message=f"Use at most {CRISIS_LINE_MAX_LENGTH} characters."),
            no_control_characters,
        ],
        filters=[strip],
        description="The local crisis line (and the clinic's number), printed with every version of the plan.",
    )
    #: The number of the version the form was opened on (0: no plan yet).
    based_on = HiddenField()

    titles: Sequence[str]

    def section_fields(self) -> list[Any]:
        return [self[f"section_{number}"] for number in range(1, len(self.titles) + 1)]

    def texts(self) -> dict[str, str]:
        return {title: field.data or "" for title, field in zip(self.titles, self.section_fields(), strict=True)}

    def based_on_number(self) -> int:
        """:raise ValueError: a tampered hidden field (the view answers 400)."""
        return int(self.based_on.data or "0")

    def practice_fields(self) -> list[tuple[Any, Any]]:
        """(practice, frequency) field pairs, one per row of the practices table."""
        return [(self[f"practice_{n}"], self[f"frequency_{n}"]) for n in range(1, self.rows + 1)]

    def practice_rows(self) -> list[tuple[str | None, str | None]]:
        return [(practice.data, frequency.data or None) for practice, frequency in self.practice_fields()]

    rows: int


def practice_row_count(formdata: Mapping[str, Any], saved: int) -> int:
    """How many practice rows the form has: the rows posted (at most ``MAX_PRACTICES``), or on a new form the
    saved practices and three empty rows."""
    posted = [key for key in formdata if key.startswith("practice_") and key[len("practice_") :].isdigit()]
    if posted:
        return min(max(int(key[len("practice_") :]) for key in posted), MAX_PRACTICES)
    return min(saved + 3, MAX_PRACTICES)


def plan_form(titles: Sequence[str], rows: int = 3, **kwargs: Any) -> PlanForm:
    """The form for these section titles, each with its prompt (``tracker.plans.sections``), and ``rows`` rows of
    practices (practice, frequency)."""
    fields: dict[str, Any] = {
        f"section_{number}": TextAreaField(
            title,
            validators=[
                Optional(),
                Length(max=SECTION_MAX_LENGTH, message=f"Use at most {SECTION_MAX_LENGTH} characters."),
                no_control_characters,
            ],
            filters=[strip],
            description=prompt(title),
            render_kw={"rows": 4},
        )
        for number, title in enumerate(titles, start=1)
    }
    for number in range(1, rows + 1):
        fields[f"practice_{number}"] = StringField(
            f"Practice {number}",
            validators=[
                Optional(),
                Length(max=MAX_PRACTICE_LENGTH, message=f"Use at most {MAX_PRACTICE_LENGTH} characters."),
                no_control_characters,
            ],
            filters=[strip],
            render_kw={"list": "practice-suggestions"},
        )
        fields[f"frequency_{number}"] = SelectField(
            f"How often (practice {number})",
            choices=[SelectChoice("", "Choose…")] + [SelectChoice(k, v) for k, v in FREQUENCIES.items()],
            validators=[Optional()],
        )
    form: PlanForm = type("IntegrationPlanForm", (PlanForm,), fields)(**kwargs)
    form.titles = list(titles)
    form.rows = rows
    return form


class GivenForm(FlaskForm):
    given_on = DateField(
        "Given to the patient on",
        validators=[
            InputRequired(message="Enter the date the patient was given this version."),
            DateRange(EARLIEST, "The date cannot be in the future (or before 1900)."),
        ],
    )

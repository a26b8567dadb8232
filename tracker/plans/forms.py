"""Forms of the integration plan pages. The plan form has one text field per section of the patient's protocol
(built like the measure form, from data), plus the crisis line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from tracker.outcomes.services import EARLIEST
from tracker.plans.sections import prompt
from tracker.plans.services import CRISIS_LINE_MAX_LENGTH, SECTION_MAX_LENGTH
from tracker.validators import DateRange, no_control_characters, page_field, strip


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


def plan_form(titles: Sequence[str], **kwargs: Any) -> PlanForm:
    """The form for these section titles, each with its prompt (``tracker.plans.sections``)."""
    fields = {
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
    form: PlanForm = type("IntegrationPlanForm", (PlanForm,), fields)(**kwargs)
    form.titles = list(titles)
    return form


class GivenForm(FlaskForm):
    given_on = DateField(
        "Given to the patient on",
        validators=[
            InputRequired(message="Enter the date the patient was given this version."),
            DateRange(EARLIEST, "The date cannot be in the future (or before 1900)."),
        ],
    )


class PageArgs(FlaskForm):
    class Meta:
        csrf = False

    page = page_field()

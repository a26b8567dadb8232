"""Forms of the screening pages. Several item forms share the checklist page, so each is built with the item's id
as its prefix: field ids, error ids and labels stay unique on the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    Form,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, StopValidation

from tracker.medicines import DRUG_CLASSES
from tracker.models import AnswerValue, ReviewDecision, ScreeningAnswer
from tracker.protocols import ItemKind, ScreeningItem
from tracker.screening.services import AnswerInput, MedicationInput
from tracker.validators import EARLIEST_DATE as EARLIEST
from tracker.validators import DateRange, empty_to_none, no_control_characters, strip

CHOOSE = SelectChoice("", "Choose…")


def drug_class_label(code: str) -> str:
    return DRUG_CLASSES.get(code, code.replace("_", " ").capitalize())


def _note(description: str = "") -> TextAreaField:
    return TextAreaField(
        "Note",
        validators=[Optional(), Length(max=2000, message="Use at most 2000 characters."), no_control_characters],
        filters=[empty_to_none],
        description=description,
        render_kw={"rows": 2},
    )


class RequiredIfRecorded:
    """Required when the requirement is being recorded; otherwise the field may stay empty (SecureDrop's
    ``RequiredIf``). An empty field's own parse error ("Not a valid date value.") gives way to ``message``."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: Form, field: Field) -> None:
        raw = field.raw_data[0] if field.raw_data else ""
        if str(raw).strip():
            return
        field.errors[:] = []
        if form["answer"].data == AnswerValue.RECORDED.value:
            raise StopValidation(self.message)
        raise StopValidation()


class AnswerForm(FlaskForm):
    """What every item's form has: the answer (radio buttons, one click each) and a note."""

    answer: Any
    note: Any
    #: The answer as the screening service takes it: each kind of item's form defines it.
    to_input: Callable[[], AnswerInput]

    def is_blank(self) -> bool:
        """Nothing chosen or written: on the checklist-wide form, the item is left as it is."""
        return not any(
            str(value).strip() for field in self if field.type != "CSRFTokenField" for value in field.raw_data or []
        )

    def same_as(self, current: ScreeningAnswer | None) -> bool:
        """The form repeats the standing answer with no new note: saving it again would add nothing."""
        if current is None or self.note.data:
            return False
        given = self.to_input()
        return (given.answer, given.value, given.done_on) == (current.answer, current.value, current.done_on)

    def show(self, current: ScreeningAnswer | None) -> None:
        """Fill the form with the standing answer (the note stays empty: it is the note of a new answer)."""
        if current is not None:
            self.answer.data = current.answer.value


class YesNoForm(AnswerForm):
    """An absolute exclusion or an item needing review: does it apply to the patient?"""

    answer = RadioField(
        "Answer",
        choices=[SelectChoice("yes", "Yes"), SelectChoice("no", "No")],
        validators=[InputRequired(message="Choose yes or no.")],
    )
    note = _note("Changing a yes to no needs the reason here; a supervisor then reviews it before it counts.")

    def to_input(self) -> AnswerInput:
        return AnswerInput(AnswerValue(self.answer.data), note=self.note.data)


class RequirementForm(AnswerForm):
    """A requirement: recorded with its value and date, or marked not applicable where the item allows it."""

    answer = RadioField("Status", validators=[InputRequired(message="Choose recorded or not applicable.")])
    value = StringField(
        "Value or result",
        validators=[
            RequiredIfRecorded("Record the value or result."),
            Length(max=200, message="Use at most 200 characters."),
            no_control_characters,
        ],
        filters=[strip],
    )
    done_on = DateField(
        "Date done",
        validators=[
            RequiredIfRecorded("Enter the date it was done."),
            DateRange(EARLIEST, "The date cannot be in the future (or before 1900)."),
        ],
    )
    note = _note("Marking it not applicable after the sign-off needs the reason here, and a supervisor's review.")

    def to_input(self) -> AnswerInput:
        answer = AnswerValue(self.answer.data)
        recorded = answer is AnswerValue.RECORDED
        return AnswerInput(
            answer,
            value=(self.value.data or None) if recorded else None,
            done_on=self.done_on.data if recorded else None,
            note=self.note.data,
        )

    def show(self, current: ScreeningAnswer | None) -> None:
        super().show(current)
        if current is not None and current.answer is AnswerValue.RECORDED:
            self.value.data, self.done_on.data = current.value, current.done_on


class ChoiceRequirementForm(RequirementForm):
    """A requirement whose value comes from a fixed list (a test result: negative or positive)."""

    value = SelectField("Value or result", validators=[RequiredIfRecorded("Choose the value or result.")])


def answer_form(item: ScreeningItem, **kwargs: Any) -> AnswerForm:
    """The form answering ``item``, prefixed with its id, with the answers the item allows."""
    prefix = item.id
    if item.kind is not ItemKind.REQUIREMENT:
        return YesNoForm(prefix=prefix, **kwargs)
    form: RequirementForm = (ChoiceRequirementForm if item.choices else RequirementForm)(prefix=prefix, **kwargs)
    statuses = [SelectChoice(AnswerValue.RECORDED.value, "Recorded")]
    if item.allow_not_applicable:
        statuses.append(SelectChoice(AnswerValue.NOT_APPLICABLE.value, "Not applicable"))
    form.answer.choices = statuses
    if isinstance(form, ChoiceRequirementForm):
        form.value.choices = [CHOOSE] + [SelectChoice(c, c.capitalize()) for c in item.choices]
    return form


class ChecklistForm(FlaskForm):
    """The checklist-wide form: only its CSRF token; each item's fields are read by the item's own form, built
    without a token of its own (``answer_form(item, meta={"csrf": False})``)."""


class SignOffForm(FlaskForm):
    confirm = BooleanField(
        "I have checked every answer with the patient's records; lock the checklist.",
        validators=[DataRequired(message="Tick the box to confirm the sign-off.")],
        description="After sign-off the answers can no longer be revised (tests repeated before each dosing "
        "session can still be recorded).",
    )


class ReviewForm(FlaskForm):
    """A supervisor's written decision on a flagged review item (prefix: ``<item id>-review``)."""

    decision = SelectField(
        "Decision",
        choices=[
            CHOOSE,
            SelectChoice(ReviewDecision.CLEARED.value, "Clear: the patient may proceed"),
            SelectChoice(ReviewDecision.DECLINED.value, "Decline: the patient is not eligible"),
        ],
        validators=[InputRequired(message="Choose clear or decline.")],
    )
    rationale = TextAreaField(
        "Rationale",
        validators=[
            DataRequired(message="Write the rationale for the decision."),
            Length(max=4000, message="Use at most 4000 characters."),
            no_control_characters,
        ],
        filters=[strip],
        description="Kept with the decision and shown on the checklist.",
        render_kw={"rows": 3},
    )


def review_form(item: ScreeningItem, **kwargs: Any) -> ReviewForm:
    return ReviewForm(prefix=f"{item.id}-review", **kwargs)


def _optional_text(label: str, max_length: int, **kwargs: Any) -> StringField:
    return StringField(
        label,
        validators=[
            Optional(),
            Length(max=max_length, message=f"Use at most {max_length} characters."),
            no_control_characters,
        ],
        filters=[empty_to_none],
        **kwargs,
    )


class MedicationForm(FlaskForm):
    name = StringField(
        "Medication",
        validators=[
            DataRequired(message="Enter the medication's name."),
            Length(max=120, message="Use at most 120 characters."),
            no_control_characters,
        ],
        filters=[strip],
        description="Generic or brand name, e.g. sertraline.",
    )
    drug_class = SelectField(
        "Drug class",
        choices=[SelectChoice("", "Identify from the name")]
        + [SelectChoice(code, drug_class_label(code)) for code in DRUG_CLASSES],
        validators=[Optional()],
        description="The protocol's interaction rules match on the class. A drug the tracker knows by name "
        "(WHO ATC classification) gets its class from the name; choose one for any other.",
    )
    dose = _optional_text("Dose", 80, description="e.g. 50 mg once daily.")
    started_on = DateField(
        "Started", validators=[Optional(), DateRange(EARLIEST, "Enter a start date between 1900 and today.")]
    )
    stopped_on = DateField(
        "Stopped (last day taken)",
        validators=[Optional()],
        description="Leave empty while the patient still takes it; a planned last day may be in the future.",
    )
    taper_plan = TextAreaField(
        "Taper plan",
        validators=[Optional(), Length(max=2000, message="Use at most 2000 characters."), no_control_characters],
        filters=[empty_to_none],
        render_kw={"rows": 2},
    )
    taper_end_on = DateField("Taper ends", validators=[Optional()])
    version_id = HiddenField()

    def to_input(self) -> MedicationInput:
        return MedicationInput(
            name=self.name.data or "",
            drug_class=self.drug_class.data or "",
            dose=self.dose.data,
            started_on=self.started_on.data,
            stopped_on=self.stopped_on.data,
            taper_plan=self.taper_plan.data,
            taper_end_on=self.taper_end_on.data,
        )

"""Forms of the measure pages. The recording form is generated from the instrument's definition: one group of radio
buttons per item, with the item's own response options, so adding an instrument file adds its form.

The answer fields do not judge the answers themselves: whatever was sent goes to ``tracker.instruments.score``,
whose refusal (``ScoringError``, naming the item) is shown next to that item. One rule, one message.
"""

from __future__ import annotations

import re
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectChoice, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from tracker.alerts.acknowledge import ACTION_MAX_LENGTH, ACTIONS, words_problem
from tracker.instruments import Instrument, Item
from tracker.models import AdministrationMode
from tracker.outcomes.services import MODES, REASON_MAX_LENGTH, ResultInput
from tracker.validators import EARLIEST_DATE as EARLIEST
from tracker.validators import DateRange, no_control_characters, strip

CHOOSE = SelectChoice("", "Choose…")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,9}")


def _numeric(value: Any) -> Any:
    """A radio value as ``score()`` expects it: a whole number, None when empty, else the text as sent (refused by
    ``score`` with the item named). Only ASCII digits count: ``int()`` would also take "٣" or "1_0"."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text) if _WHOLE_NUMBER.fullmatch(text) else text


def _coded(value: Any) -> Any:
    return None if value is None or value == "" else str(value)


class AnswerField(RadioField):
    """One item's answer. Choices come from the item's scale; an item that skip logic may leave out also offers
    "Not asked", which is the empty answer (None)."""

    def __init__(self, item: Item, **kwargs: Any) -> None:
        choices = [SelectChoice(str(o.value), o.label) for o in item.scale.options]
        if item.ask_if is not None:
            choices.insert(0, SelectChoice("", "Not asked"))
        super().__init__(
            f"{item.number}. {item.text}",
            choices=choices,
            coerce=_numeric if item.scale.numeric else _coded,
            validate_choice=False,
            **kwargs,
        )
        self.item = item


class MeasureForm(FlaskForm):
    administered_on = DateField(
        "Date answered",
        validators=[
            InputRequired(message="Enter the date the patient answered (or was rated)."),
            DateRange(EARLIEST, "The date cannot be in the future (or before 1900)."),
        ],
        description="The day of the administration, also when entering it later from paper.",
    )
    mode = SelectField("How it was given", validators=[InputRequired(message="Choose how it was given.")])

    instrument: Instrument

    def answer_fields(self) -> list[AnswerField]:
        return [self[f"item_{item.number}"] for item in self.instrument.items]

    def answers(self) -> list[Any]:
        return [field.data for field in self.answer_fields()]

    def to_input(self) -> ResultInput:
        return ResultInput(
            self.instrument.code, self.answers(), self.administered_on.data, AdministrationMode(self.mode.data)
        )


class CorrectionForm(MeasureForm):
    reason = TextAreaField(
        "Why it is being corrected",
        validators=[
            DataRequired(message="Say why the result is being corrected."),
            Length(max=REASON_MAX_LENGTH, message=f"Use at most {REASON_MAX_LENGTH} characters."),
            no_control_characters,
        ],
        filters=[strip],
        description="Kept with both results, e.g. “item 4 copied wrongly from the paper form”.",
        render_kw={"rows": 2},
    )


def measure_form(instrument: Instrument, correction: bool = False, **kwargs: Any) -> MeasureForm:
    """The recording (or correction) form of ``instrument``: its items in order, then the modes it allows."""
    base = CorrectionForm if correction else MeasureForm
    fields = {f"item_{item.number}": AnswerField(item) for item in instrument.items}
    form_class = type(f"{instrument.code.capitalize()}Form", (base,), fields)
    form: MeasureForm = form_class(**kwargs)
    form.instrument = instrument
    allowed = MODES[instrument.administration]
    form.mode.choices = [CHOOSE] + [SelectChoice(m.value, m.label) for m in allowed]
    if form.mode.data in (None, ""):
        form.mode.data = allowed[0].value
    return form


def field_for_item(form: MeasureForm, item: int | None) -> Any:
    """The field a scoring error belongs to: the item's, or the first item's when no single item is at fault."""
    fields = form.answer_fields()
    if item is not None and 1 <= item <= len(fields):
        return fields[item - 1]
    return fields[0]


def _describes_an_action(_form: FlaskForm, field: TextAreaField) -> None:
    problem = words_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


class AcknowledgeForm(FlaskForm):
    actions = SelectMultipleField(
        "Actions taken",
        choices=[SelectChoice(code, label) for code, label in ACTIONS.items()],
        validators=[DataRequired(message="Choose at least one action taken.")],
        validate_choice=True,
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )
    action_taken = TextAreaField(
        "What was done, in your words",
        validators=[
            DataRequired(message="Describe the action taken; an alert cannot be dismissed without one."),
            Length(max=ACTION_MAX_LENGTH, message=f"Use at most {ACTION_MAX_LENGTH} characters."),
            no_control_characters,
            _describes_an_action,
        ],
        filters=[strip],
        description="Who did what, and when: e.g. “Called the patient the same day; safety plan reviewed; no "
        "current intent; appointment brought forward.”",
        render_kw={"rows": 4},
    )

"""Forms: the clinician's choice of measures to send, and the patient's questionnaire (built from the instrument
files, one group of radio buttons per item, as the recording form is; the answers are judged by ``score`` alone)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from tracker.instruments import Instrument
from tracker.outcomes.forms import AnswerField


class SendForm(FlaskForm):
    instruments = SelectMultipleField(
        "Measures to send",
        validate_choice=True,
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )


class PatientForm(FlaskForm):
    """The questionnaire as the patient fills it in; ``instruments`` in the link's order."""

    instruments: list[Instrument]

    def fields_of(self, instrument: Instrument) -> list[AnswerField]:
        return [self[field_name(instrument, item.number)] for item in instrument.items]

    def answers(self) -> dict[str, list[Any]]:
        return {i.code: [field.data for field in self.fields_of(i)] for i in self.instruments}


def field_name(instrument: Instrument, number: int) -> str:
    return f"{instrument.code}-{number}"


def patient_form(instruments: list[Instrument], **kwargs: Any) -> PatientForm:
    fields = {
        field_name(instrument, item.number): AnswerField(item)
        for instrument in instruments
        for item in instrument.items
    }
    form_class = type("QuestionnaireForm", (PatientForm,), fields)
    form: PatientForm = form_class(**kwargs)
    form.instruments = instruments
    return form

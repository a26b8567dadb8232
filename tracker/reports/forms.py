"""The options of a report: the draft flag on a single report, and the batch page's selection."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectChoice, SelectField, SelectMultipleField
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from tracker.models import Phase
from tracker.reports.content import ReportKind
from tracker.validators import WholeNumberField, whole_number


class ReportArgs(FlaskForm):
    """``?draft=1`` prints unsigned content under a DRAFT watermark; anything but 0 or 1 is refused."""

    class Meta:
        csrf = False

    draft = WholeNumberField(validators=[Optional()], default=0)

    def wants_draft(self) -> bool:
        """:raise ValueError: ``draft`` is not 0 or 1 (the message is for the user)."""
        if self.draft.data not in (None, 0, 1):
            raise ValueError("draft must be 0 or 1.")
        return bool(self.draft.data == 1)


class TickBoxes(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: object) -> None:
        """Any whole number may be ticked: an id outside the user's care is refused by the export, saying how many,
        rather than dropped here as "not a valid choice"."""


SELECTIONS = [
    SelectChoice("seen", "Patients seen on a day"),
    SelectChoice("caseload", "A therapist's caseload in one phase"),
    SelectChoice("ticked", "The patients I tick below"),
]


class BatchForm(FlaskForm):
    kind = RadioField(
        "Report",
        choices=[
            SelectChoice(ReportKind.PLAN.value, "Integration plans (for patients)"),
            SelectChoice(ReportKind.SUMMARY.value, "Patient summaries (for clinicians)"),
        ],
        default=ReportKind.PLAN.value,
        validators=[InputRequired(message="Choose a report.")],
    )
    selection = RadioField(
        "Patients", choices=SELECTIONS, default="seen", validators=[InputRequired(message="Choose which patients.")]
    )
    day = DateField("Day the sessions were held", validators=[Optional()])
    therapist_id = SelectField("Therapist", coerce=whole_number, validators=[Optional()])
    phase = SelectField(
        "Phase",
        choices=[SelectChoice(p.value, p.label) for p in Phase],
        default=Phase.INTEGRATION.value,
        validators=[Optional()],
    )
    patient_ids = TickBoxes("Patients", coerce=whole_number, validators=[Optional()])
    draft = RadioField(
        "Unsigned content",
        choices=[SelectChoice("0", "Leave it out"), SelectChoice("1", "Print it, marked DRAFT on every page")],
        default="0",
    )

    def validate(self, extra_validators: object = None) -> bool:
        """The fields the chosen selection needs, each with its own message."""
        ok: bool = super().validate(extra_validators)
        if self.selection.data == "seen" and self.day.data is None and not self.day.errors:
            self.day.errors = [*self.day.errors, "Give the day, as YYYY-MM-DD."]
            ok = False
        if self.selection.data == "caseload" and not self.therapist_id.data:
            self.therapist_id.errors = [*self.therapist_id.errors, "Choose the therapist."]
            ok = False
        if self.selection.data == "ticked" and not self.patient_ids.data:
            self.patient_ids.errors = [*self.patient_ids.errors, "Tick at least one patient."]
            ok = False
        return ok

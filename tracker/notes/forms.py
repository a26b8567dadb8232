"""Note forms: one per session kind (the structured fields of ``tracker.notes.fields``), vital signs, adverse
events, signing, addenda, co-signature, and private process notes. Each field is checked alone here; rules across
fields live in the services, which name the field to show their message next to."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    Field,
    FieldList,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional, StopValidation

from tracker import vitals
from tracker.models import CosignOutcome, DoseUnit, Outcome, SessionKind, Severity
from tracker.notes.fields import BODY_LABEL, DOSING, RISK_CHECK, TEXT_FIELDS, TextField
from tracker.notes.saving import AdverseEventInput, NoteInput
from tracker.notes.widgets import TEXT_LIMIT, area_field, choices_of, time_field
from tracker.plans.practices import ADHERENCE, MAX_PRACTICES
from tracker.validators import DecimalNumberField, WholeNumberField, empty_to_none, no_control_characters, strip

BODY_LIMIT = 50_000
#: Upper bounds that catch a slipped decimal point, not clinical maxima.
MAX_DOSE = {DoseUnit.MG: 2000, DoseUnit.MG_PER_KG: 20, DoseUnit.MG_PER_70KG: 2000}


class NoteForm(FlaskForm):
    """The parts every note form shares: free text and the version the form was opened at."""

    kind: SessionKind
    body = area_field("Further notes", BODY_LIMIT)
    version_id = HiddenField()

    def text_fields(self) -> tuple[TextField, ...]:
        return TEXT_FIELDS[self.kind]

    def to_input(self) -> NoteInput:
        fields: dict[str, str | None] = {f.name: getattr(self, f.name).data or None for f in self.text_fields()}
        return NoteInput(fields=fields, body=self.body.data or "")

    def seen_version(self) -> int | None:
        try:
            return int(self.version_id.data) if self.version_id.data else None
        except ValueError:
            return -1


def _modality() -> SelectField:
    """The session's therapeutic modality: choices are the clinic's list (set when the page is built), checked
    against it by the service (``tracker.modalities.check_choice``)."""
    return SelectField(
        "Therapeutic modality",
        choices=[SelectChoice("", "Not recorded")],
        validate_choice=False,
        validators=[Optional()],
        description="The approach the session followed, from the clinic's list.",
    )


class _ModalityExtras(NoteForm):
    modality = _modality()

    def to_input(self) -> NoteInput:
        given = super().to_input()
        given.fields["modality"] = self.modality.data or None
        return given

    def offer_modalities(self, names: list[str]) -> None:
        """The clinic's modalities, and the note's own should the list no longer hold it."""
        offered = list(names)
        if self.modality.data and self.modality.data not in offered:
            offered.append(self.modality.data)
        self.modality.choices = [SelectChoice("", "Not recorded")] + [SelectChoice(n, n) for n in offered]


def _text_form(
    name: str, kind: SessionKind, extra: dict[str, Any] | None = None, base: type[NoteForm] = NoteForm
) -> type[NoteForm]:
    attributes: dict[str, Any] = {f.name: area_field(f.label, description=f.help) for f in TEXT_FIELDS[kind]}
    attributes["kind"] = kind
    attributes["body"] = area_field(BODY_LABEL[kind], BODY_LIMIT)
    attributes.update(extra or {})
    return type(name, (base,), attributes)


PreparationNoteForm = _text_form("PreparationNoteForm", SessionKind.PREPARATION, base=_ModalityExtras)
FollowUpNoteForm = _text_form("FollowUpNoteForm", SessionKind.FOLLOW_UP)


class _IntegrationExtras(_ModalityExtras):
    risk_check = SelectField(
        "Risk check",
        choices=[SelectChoice("", "Not recorded yet")] + [SelectChoice(k, v) for k, v in RISK_CHECK.items()],
        validators=[Optional()],
        description="Required before signing.",
    )
    #: One answer per practice of the integration plan, in the plan's order (entries added when the page is built).
    practice_checkin = FieldList(
        SelectField(
            choices=[SelectChoice("", "Not answered yet")] + [SelectChoice(k, v) for k, v in ADHERENCE.items()],
            validate_choice=False,
            validators=[Optional()],
        ),
        label="Check-in on the plan's practices",
        min_entries=0,
        max_entries=MAX_PRACTICES,
    )
    #: The plan version the check-in was answered against: a newer plan asks for the check-in again.
    checkin_plan_version = HiddenField()

    def to_input(self) -> NoteInput:
        given = super().to_input()
        given.fields["risk_check"] = self.risk_check.data or None
        answers = [entry.data or None for entry in self.practice_checkin.entries]
        if answers or self.checkin_plan_version.data:
            given.fields["practice_checkin"] = {"plan_version": self.checkin_plan_version.data, "answers": answers}
        return given

    def ask_about(self, plan_number: int | None, practices: list[dict[str, str]]) -> None:
        """One answer per practice of the current plan (the note's saved answers where it has them)."""
        if not self.checkin_plan_version.data:
            self.checkin_plan_version.data = str(plan_number) if plan_number else ""
        while len(self.practice_checkin.entries) < len(practices):
            self.practice_checkin.append_entry()


IntegrationNoteForm = type(
    "IntegrationNoteForm",
    (_IntegrationExtras,),
    {
        **{f.name: area_field(f.label, description=f.help) for f in TEXT_FIELDS[SessionKind.INTEGRATION]},
        "kind": SessionKind.INTEGRATION,
        "body": area_field(BODY_LABEL[SessionKind.INTEGRATION], BODY_LIMIT),
    },
)


class _DosingExtras(NoteForm):
    """The dosing note's form: its inputs come from the dosing note's table (``tracker.notes.fields.DOSING``), the
    set-and-setting checklist and the narrative are added here."""

    kind = SessionKind.DOSING

    def validate_dose_amount(self, field: DecimalNumberField) -> None:
        units = {member.value: member for member in DoseUnit}
        unit = units.get(self.dose_unit.data or "")  # the unit field is checked after this one
        if field.data is not None and unit is not None and field.data > MAX_DOSE[unit]:
            raise StopValidation(f"Enter at most {MAX_DOSE[unit]} {unit.label}; check the unit.")

    def to_input(self) -> NoteInput:
        given = NoteInput(body=self.body.data or "")
        given.dosing = {f.name: f.input.read(getattr(self, f.name).data) for f in DOSING if f.input is not None}
        given.fields["set_and_setting"] = list(self.set_and_setting.data or [])
        return given


DosingNoteForm = type(
    "DosingNoteForm",
    (_DosingExtras,),
    {
        **{f.name: f.input.field(f.label, f.help) for f in DOSING if f.input is not None},
        "set_and_setting": SelectMultipleField(
            "Set and setting confirmed",
            choices=[],
            validate_choice=False,
            validators=[Optional()],
            description="Each item of the protocol's checklist confirmed for this session (recorded, not a condition "
            "of the dose).",
        ),
        "body": area_field(BODY_LABEL[SessionKind.DOSING], BODY_LIMIT),
    },
)


NOTE_FORMS: dict[SessionKind, type[NoteForm]] = {
    SessionKind.PREPARATION: PreparationNoteForm,
    SessionKind.DOSING: DosingNoteForm,
    SessionKind.INTEGRATION: IntegrationNoteForm,
    SessionKind.FOLLOW_UP: FollowUpNoteForm,
}


def _sign_value(label: str, unit: str, decimal: bool = False) -> Field:
    if decimal:
        return DecimalNumberField(
            f"{label} ({unit})", places=None, validators=[Optional()], render_kw={"inputmode": "decimal"}
        )
    return WholeNumberField(f"{label} ({unit})", validators=[Optional()], render_kw={"inputmode": "numeric"})


class VitalsForm(FlaskForm):
    """One set of readings. Impossible values are refused next to their field (``tracker.vitals.validate``)."""

    taken_at = time_field("Taken at", required=True)
    systolic = _sign_value("Systolic BP", "mmHg")
    diastolic = _sign_value("Diastolic BP", "mmHg")
    heart_rate = _sign_value("Heart rate", "bpm")
    temperature = _sign_value("Temperature", "°C", decimal=True)
    spo2 = _sign_value("SpO2", "%")

    def reading(self) -> vitals.Reading:
        temperature = self.temperature.data
        return vitals.Reading(
            systolic=self.systolic.data,
            diastolic=self.diastolic.data,
            heart_rate=self.heart_rate.data,
            temperature=float(temperature) if temperature is not None else None,
            spo2=self.spo2.data,
        )

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if not valid:
            return False
        for name, message in vitals.validate(self.reading()).items():
            getattr(self, name).errors.append(message)
        return not self.errors

    def taken(self) -> Any:
        return self.taken_at.data


class AdverseEventForm(FlaskForm):
    description = TextAreaField(
        "What happened",
        validators=[DataRequired(message="Describe the event."), Length(max=2000), no_control_characters],
        filters=[strip],
        render_kw={"rows": 2},
    )
    onset_at = time_field("Onset", required=True)
    severity = SelectField(
        "Severity", choices=choices_of(Severity, "Choose…"), validators=[InputRequired(message="Choose the severity.")]
    )
    serious = SelectField(
        "Serious",
        choices=[
            SelectChoice("", "Choose…"),
            SelectChoice("no", "No"),
            SelectChoice("yes", "Yes: death, life-threatening, hospitalisation or disability"),
        ],
        validators=[InputRequired(message="Say whether the event is serious.")],
    )
    action_taken = TextAreaField(
        "Action taken",
        validators=[DataRequired(message="Say what was done, or “none”."), Length(max=2000), no_control_characters],
        filters=[strip],
        render_kw={"rows": 2},
    )
    outcome = SelectField(
        "Outcome", choices=choices_of(Outcome, "Choose…"), validators=[InputRequired(message="Choose the outcome.")]
    )
    rescue_medication = StringField(
        "Rescue medication",
        validators=[Optional(), Length(max=120), no_control_characters],
        filters=[empty_to_none],
        description="Leave empty if none was given.",
    )
    rescue_dose = StringField(
        "Rescue dose", validators=[Optional(), Length(max=60), no_control_characters], filters=[empty_to_none]
    )
    rescue_given_at = time_field("Rescue medication given at")

    def to_input(self) -> AdverseEventInput:
        onset = self.onset_at.data
        assert onset is not None, "validated: the onset is required"
        return AdverseEventInput(
            description=self.description.data or "",
            onset_at=onset,
            severity=Severity(self.severity.data),
            serious=self.serious.data == "yes",
            action_taken=self.action_taken.data or "",
            outcome=Outcome(self.outcome.data),
            rescue_medication=self.rescue_medication.data,
            rescue_dose=self.rescue_dose.data,
            rescue_given_at=self.rescue_given_at.data,
        )


def _password(what: str = "sign") -> PasswordField:
    return PasswordField(
        "Your password",
        validators=[DataRequired(message=f"Enter your password to {what}.")],
        description="Signing asks for your password again, as a signature on paper would need your hand.",
        render_kw={"autocomplete": "current-password"},
    )


class SignForm(FlaskForm):
    password = _password()
    #: The hash of the content the page showed: a note changed since is not signed unseen.
    content_hash = HiddenField()


class AddendumForm(FlaskForm):
    reason = StringField(
        "Reason",
        validators=[DataRequired(message="Say why the addendum is needed."), Length(max=200), no_control_characters],
        filters=[strip],
        description="E.g. “correction: dose time”, “late entry”, “answer to the supervisor's comment”.",
    )
    body = TextAreaField(
        "Addendum",
        validators=[DataRequired(message="Write the addendum."), Length(max=TEXT_LIMIT), no_control_characters],
        filters=[strip],
        render_kw={"rows": 4},
    )
    password = _password()


class CosignForm(FlaskForm):
    decision = SelectField(
        "Decision",
        choices=[
            SelectChoice(CosignOutcome.COSIGNED.value, "Co-sign the note"),
            SelectChoice(CosignOutcome.RETURNED.value, "Return it to the author with a comment"),
        ],
        validators=[InputRequired(message="Choose a decision.")],
    )
    comment = TextAreaField(
        "Comment",
        validators=[Optional(), Length(max=TEXT_LIMIT), no_control_characters],
        filters=[strip],
        description="Required when returning the note.",
        render_kw={"rows": 3},
    )
    password = _password("co-sign or return the note")
    content_hash = HiddenField()


class ProcessNoteForm(FlaskForm):
    body = area_field(
        "Private process note",
        BODY_LIMIT,
        "Only you can read this note. It is not part of the patient's record and is never signed.",
    )
    version_id = HiddenField()

    def seen_version(self) -> int:
        try:
            return int(self.version_id.data or -1)
        except ValueError:
            return -1


class SeriousnessCorrectionForm(FlaskForm):
    """A signed correction of an adverse event's seriousness (``tracker.notes.addenda``)."""

    serious = SelectField(
        "The event is",
        choices=[SelectChoice("", "Choose…"), SelectChoice("no", "Not serious"), SelectChoice("yes", "Serious")],
        validators=[
            InputRequired(message="Say whether the event is serious."),
            AnyOf(["yes", "no"], message="Say whether the event is serious."),
        ],
        description="Serious: death, a threat to life, hospitalisation, lasting disability, or an important medical "
        "event (ICH E2A, Clinical Safety Data Management, 1994).",
    )
    reason = StringField(
        "Reason",
        validators=[
            DataRequired(message="Say why the seriousness is corrected."),
            Length(max=200),
            no_control_characters,
        ],
        filters=[strip],
        description="E.g. “marked serious by mistake: no hospitalisation, recovered on site”.",
    )
    password = _password("sign the correction")

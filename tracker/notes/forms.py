"""Note forms: one per session kind (the structured fields of ``tracker.notes.fields``), vital signs, adverse
events, signing, addenda, co-signature, and private process notes. Each field is checked alone here; rules across
fields live in the services, which name the field to show their message next to."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    Field,
    FieldList,
    Form,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, StopValidation

from tracker import vitals
from tracker.models import CosignOutcome, DoseUnit, Outcome, Route, SessionKind, Severity
from tracker.notes.fields import BODY_LABEL, DOSING_FIELDS, RISK_CHECK, TEXT_FIELDS, TextField
from tracker.notes.saving import AdverseEventInput, NoteInput
from tracker.plans.practices import ADHERENCE, MAX_PRACTICES
from tracker.validators import LocalDateTimeField, empty_to_none, enum_member, no_control_characters, strip

TEXT_LIMIT = 20_000
BODY_LIMIT = 50_000
#: Upper bounds that catch a slipped decimal point, not clinical maxima.
MAX_DOSE = {DoseUnit.MG: 2000, DoseUnit.MG_PER_KG: 20, DoseUnit.MG_PER_70KG: 2000}


def finite(form: Form, field: Field) -> None:
    """Refuse NaN and infinity, which Python's number parsers accept ("nan", "sNaN", "inf", "1e999")."""
    value = field.data
    if value is None:
        return
    ok = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
    if not ok:
        raise StopValidation("Enter a number.")


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _area(label: str, limit: int = TEXT_LIMIT, description: str = "") -> TextAreaField:
    return TextAreaField(
        label,
        validators=[Optional(), Length(max=limit, message=f"Use at most {limit} characters."), no_control_characters],
        filters=[strip],
        description=description,
        render_kw={"rows": 4},
    )


def _time(label: str, required: bool = False, description: str = "") -> LocalDateTimeField:
    """A moment typed on the clinic's clock (the label names the zone)."""
    first = InputRequired(message="Enter the date and time.") if required else Optional()
    return LocalDateTimeField(label, validators=[first], description=description)


def _amount(label: str, high: float, description: str = "") -> DecimalField:
    return DecimalField(
        label,
        places=None,  # shown as entered: rounding for display would change the dose on the next save
        validators=[Optional(), finite, NumberRange(min=0.001, max=high, message=f"Enter a number above 0 and at most "
                                                                                f"{high:g}.")],
        description=description,
        render_kw={"inputmode": "decimal"},
    )


def _choices(members: Any, blank: str = "—") -> list[SelectChoice]:
    return [SelectChoice("", blank)] + [SelectChoice(m.value, m.label) for m in members]


class NoteForm(FlaskForm):
    """The parts every note form shares: free text and the version the form was opened at."""

    kind: SessionKind
    body = _area("Further notes", BODY_LIMIT)
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
        "Therapeutic modality", choices=[SelectChoice("", "Not recorded")], validate_choice=False,
        validators=[Optional()], description="The approach the session followed, from the clinic's list.",
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
    attributes: dict[str, Any] = {f.name: _area(f.label, description=f.help) for f in TEXT_FIELDS[kind]}
    attributes["kind"] = kind
    attributes["body"] = _area(BODY_LABEL[kind], BODY_LIMIT)
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
        SelectField(choices=[SelectChoice("", "Not answered yet")] + [SelectChoice(k, v) for k, v in ADHERENCE.items()],
                    validate_choice=False, validators=[Optional()]),
        label="Check-in on the plan's practices", min_entries=0, max_entries=MAX_PRACTICES,
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
        **{f.name: _area(f.label, description=f.help) for f in TEXT_FIELDS[SessionKind.INTEGRATION]},
        "kind": SessionKind.INTEGRATION,
        "body": _area(BODY_LABEL[SessionKind.INTEGRATION], BODY_LIMIT),
    },
)


class DosingNoteForm(NoteForm):
    """The administration, the supplemental dose and discharge (what each field records, and its source, is in
    ``tracker.models.note.SessionNote``)."""

    kind = SessionKind.DOSING
    substance = StringField(
        "Substance", validators=[Optional(), Length(max=80), no_control_characters], filters=[empty_to_none]
    )
    dose_amount = _amount("Dose", 2000, "In the unit chosen below.")
    dose_unit = SelectField("Unit", choices=_choices(DoseUnit), validators=[Optional()])
    weight_kg = _amount("Weight today (kg)", 350, "Measured on the day; needed for mg/kg and mg/70 kg dosing.")
    route = SelectField("Route", choices=_choices(Route), validators=[Optional()])
    lot_number = StringField(
        "Lot number",
        validators=[
            Optional(),
            Length(max=60, message="Use at most 60 characters."),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9 ./\-]*$", message="Use letters, digits, spaces, dots, slashes or dashes."),
        ],
        filters=[empty_to_none],
    )
    dose_given_at = _time("Time given")
    supplemental_mg = _amount("Supplemental dose (mg)", 2000, "Leave empty if none was given.")
    supplemental_given_at = _time("Supplemental dose given at")
    distress_baseline = IntegerField(
        "Distress at baseline (SUDS 0-10)",
        validators=[Optional(), NumberRange(0, 10, message="Enter a number from 0 to 10.")],
        render_kw={"min": 0, "max": 10},
    )
    distress_at_discharge = IntegerField(
        "Distress at discharge (SUDS 0-10)",
        validators=[Optional(), NumberRange(0, 10, message="Enter a number from 0 to 10.")],
        render_kw={"min": 0, "max": 10},
    )
    escort_name = StringField(
        "Escort or driver",
        validators=[Optional(), Length(max=120, message="Use at most 120 characters."), no_control_characters],
        filters=[empty_to_none],
        description="Who takes the patient home.",
    )
    discharged_at = _time("Discharged at")
    set_and_setting = SelectMultipleField(
        "Set and setting confirmed", choices=[], validate_choice=False, validators=[Optional()],
        description="Each item of the protocol's checklist confirmed for this session (recorded, not a condition "
                    "of the dose).",
    )
    pre_dose_decision = _area(
        "Decision to dose despite the blood pressure", 4000,
        "Where the protocol asks for it: why the dose was given although the blood pressure before it was above "
        "the protocol's threshold.",
    )
    body = _area(BODY_LABEL[SessionKind.DOSING], BODY_LIMIT)

    def validate_dose_amount(self, field: DecimalField) -> None:
        units = {member.value: member for member in DoseUnit}
        unit = units.get(self.dose_unit.data or "")  # the unit field is checked after this one
        if field.data is not None and unit is not None and field.data > MAX_DOSE[unit]:
            raise StopValidation(f"Enter at most {MAX_DOSE[unit]} {unit.label}; check the unit.")

    def to_input(self) -> NoteInput:
        given = NoteInput(body=self.body.data or "")
        values: dict[str, Any] = {name: getattr(self, name).data for name in DOSING_FIELDS}
        for name in ("dose_amount", "weight_kg", "supplemental_mg"):
            values[name] = _float(values[name])
        values["dose_unit"] = enum_member(DoseUnit, values["dose_unit"])
        values["route"] = enum_member(Route, values["route"])
        values["pre_dose_decision"] = values["pre_dose_decision"] or None
        given.dosing = values
        given.fields["set_and_setting"] = list(self.set_and_setting.data or [])
        return given


NOTE_FORMS: dict[SessionKind, type[NoteForm]] = {
    SessionKind.PREPARATION: PreparationNoteForm,
    SessionKind.DOSING: DosingNoteForm,
    SessionKind.INTEGRATION: IntegrationNoteForm,
    SessionKind.FOLLOW_UP: FollowUpNoteForm,
}


def _sign_value(label: str, unit: str, decimal: bool = False) -> Field:
    if decimal:
        return DecimalField(f"{label} ({unit})", places=None, validators=[Optional(), finite],
                            render_kw={"inputmode": "decimal"})
    return IntegerField(f"{label} ({unit})", validators=[Optional()], render_kw={"inputmode": "numeric"})


class VitalsForm(FlaskForm):
    """One set of readings. Impossible values are refused next to their field (``tracker.vitals.validate``)."""

    taken_at = _time("Taken at", required=True)
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
    onset_at = _time("Onset", required=True)
    severity = SelectField("Severity", choices=_choices(Severity, "Choose…"),
                           validators=[InputRequired(message="Choose the severity.")])
    serious = SelectField(
        "Serious",
        choices=[SelectChoice("", "Choose…"), SelectChoice("no", "No"),
                 SelectChoice("yes", "Yes: death, life-threatening, hospitalisation or disability")],
        validators=[InputRequired(message="Say whether the event is serious.")],
    )
    action_taken = TextAreaField(
        "Action taken",
        validators=[DataRequired(message="Say what was done, or “none”."), Length(max=2000), no_control_characters],
        filters=[strip],
        render_kw={"rows": 2},
    )
    outcome = SelectField("Outcome", choices=_choices(Outcome, "Choose…"),
                          validators=[InputRequired(message="Choose the outcome.")])
    rescue_medication = StringField(
        "Rescue medication", validators=[Optional(), Length(max=120), no_control_characters], filters=[empty_to_none],
        description="Leave empty if none was given.",
    )
    rescue_dose = StringField(
        "Rescue dose", validators=[Optional(), Length(max=60), no_control_characters], filters=[empty_to_none]
    )
    rescue_given_at = _time("Rescue medication given at")

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
        choices=[SelectChoice(CosignOutcome.COSIGNED.value, "Co-sign the note"),
                 SelectChoice(CosignOutcome.RETURNED.value, "Return it to the author with a comment")],
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
    body = _area("Private process note", BODY_LIMIT,
                 "Only you can read this note. It is not part of the patient's record and is never signed.")
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
        validators=[InputRequired(message="Say whether the event is serious."),
                    AnyOf(["yes", "no"], message="Say whether the event is serious.")],
        description="Serious: death, a threat to life, hospitalisation, lasting disability, or an important medical "
        "event (ICH E2A, Clinical Safety Data Management, 1994).",
    )
    reason = StringField(
        "Reason",
        validators=[DataRequired(message="Say why the seriousness is corrected."), Length(max=200),
                    no_control_characters],
        filters=[strip],
        description="E.g. “marked serious by mistake: no hospitalisation, recovered on site”.",
    )
    password = _password("sign the correction")

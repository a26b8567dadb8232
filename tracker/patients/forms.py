from __future__ import annotations

import enum
from datetime import date

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, Regexp

from tracker.models import Indication, Phase, SexAtBirth
from tracker.pages import PageArgs
from tracker.validators import DateRange, empty_to_none, no_control_characters, strip, whole_number

PHONE = Regexp(r"^\+?[0-9 ()\-.]{6,40}$", message="Use digits, spaces, brackets, dashes, and an optional leading +.")


def _text(label: str, max_length: int, required: bool = False, **kwargs: object) -> StringField:
    validators = [DataRequired(message=f"Enter the {label.lower()}.")] if required else [Optional()]
    validators += [Length(max=max_length, message=f"Use at most {max_length} characters."), no_control_characters]
    return StringField(label, validators=validators, filters=[strip] if required else [empty_to_none], **kwargs)


def _choice_value(value: object) -> str:
    """A select's value from what the record holds: None as "", an enum by its value, a yes/no by its word."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


class PatientForm(FlaskForm):
    given_name = _text("Given name", 80, required=True)
    family_name = _text("Family name", 80, required=True)
    date_of_birth = DateField(
        "Date of birth",
        validators=[
            InputRequired(message="Enter the date of birth."),
            DateRange(date(1900, 1, 1), "Enter a date of birth between 1900 and today."),
        ],
    )
    record_number = StringField(
        "Record number",
        validators=[
            DataRequired(message="Enter the clinic's record number."),
            Length(max=40, message="Use at most 40 characters."),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9\-/.]*$", message="Use letters, digits, dashes, dots or slashes."),
        ],
        filters=[strip],
        description="Unique within this clinic.",
    )
    phone = _text("Phone", 40)
    email = StringField(
        "Email",
        validators=[Optional(), Length(max=254), Email(message="Enter a valid email address."), no_control_characters],
        filters=[empty_to_none],
    )
    support_contact_name = _text("Support contact", 120, description="Reachable in an emergency; escorts home.")
    support_contact_relationship = _text("Relationship", 60)
    support_contact_phone = _text("Support contact phone", 40)
    sex_at_birth = SelectField(
        "Sex at birth",
        choices=[SelectChoice("", "Not recorded")] + [SelectChoice(s.value, s.label) for s in SexAtBirth],
        coerce=_choice_value,
        validators=[Optional()],
    )
    can_become_pregnant = SelectField(
        "Can become pregnant",
        choices=[
            SelectChoice("", "Not recorded (pregnancy tests then apply)"),
            SelectChoice("yes", "Yes"),
            SelectChoice("no", "No"),
        ],
        coerce=_choice_value,
        validators=[Optional()],
        description="Decides whether a protocol's pregnancy tests apply; a change is kept in the audit trail.",
    )
    indication = SelectField(
        "Indication",
        choices=[SelectChoice(i.value, i.label) for i in Indication],
        validators=[InputRequired(message="Choose the indication.")],
    )
    protocol_code = SelectField("Protocol", validators=[InputRequired(message="Choose a protocol.")])
    lead_therapist_id = SelectField("Lead therapist", coerce=whole_number, validators=[InputRequired()])
    co_therapist_ids = SelectMultipleField(
        "Co-therapists",
        coerce=whole_number,
        validators=[Optional()],
        description="Hold Ctrl (Cmd on a Mac) to choose several. MDMA and psilocybin protocols need one.",
    )
    research_consent = BooleanField(
        "Agrees to research use",
        description="The patient agreed that their outcome measures, without name, record number or dates, may be "
        "used for research. Only patients who agreed are in the research export; a change is kept in the audit "
        "trail.",
    )
    version_id = HiddenField()
    #: Shown only when a patient of the same name and date of birth is already enrolled.
    enrol_anyway = BooleanField("This is a different person: enrol anyway")

    def validate_phone(self, field: StringField) -> None:
        if field.data:
            PHONE(self, field)

    def validate_support_contact_phone(self, field: StringField) -> None:
        if field.data:
            PHONE(self, field)


class PhaseForm(FlaskForm):
    target = SelectField(
        "Move to",
        choices=[SelectChoice(p.value, p.label) for p in Phase],
        validators=[InputRequired(message="Choose a phase.")],
    )
    reason = TextAreaField(
        "Reason",
        validators=[Optional(), Length(max=2000, message="Use at most 2000 characters."), no_control_characters],
        filters=[empty_to_none],
        description="Required when putting a patient on hold or discontinuing.",
    )


class SearchForm(FlaskForm):
    q = StringField(
        "Search by name or record number",
        validators=[Optional(), Length(max=80, message="Use at most 80 characters."), no_control_characters],
        filters=[strip],
    )


class ListArgs(PageArgs):
    """Query-string arguments of the patient list, validated like any form (no CSRF on a GET)."""

    sort = SelectField(choices=["name", "record", "dob", "phase", "changed"], validators=[Optional()], default="name")
    order = SelectField(choices=["asc", "desc"], validators=[Optional()], default="asc")

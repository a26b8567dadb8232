from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, Regexp

from tracker.clinics import MAXIMUM_DAYS, MAXIMUM_HOURS, MINIMUMS, ClinicSettings
from tracker.clinictime import zone_names
from tracker.validators import WholeNumberField, empty_to_none, no_control_characters, strip, whole_number


class AccountForm(FlaskForm):
    full_name = StringField(
        "Full name",
        validators=[DataRequired(message="Enter the person's name."), Length(max=120), no_control_characters],
        filters=[strip],
    )
    email = StringField(
        "E-mail address",
        validators=[
            Optional(),
            Length(max=254),
            Email(message="Enter an e-mail address, e.g. name@clinic.example."),
            no_control_characters,
        ],
        filters=[strip],
        description="Urgent safety alerts are sent here (the message holds no patient information). Leave empty to "
        "tell this person in the app only.",
    )
    is_therapist = BooleanField("Therapist", description="Logs sessions for patients on their care teams.")
    is_supervisor = BooleanField("Supervisor", description="Sees the caseloads of the therapists they supervise.")
    is_admin = BooleanField(
        "Admin",
        description="Manages accounts and the clinic's settings; sees no clinical content. An admin account "
        "holds no clinical role: a person who is both has two accounts.",
    )
    supervisor_id = SelectField("Supervisor", coerce=whole_number, description="Required for therapists.")
    needs_cosign = BooleanField(
        "Needs co-signature",
        description="Their signed notes go to their supervisor's co-sign queue (trainees, supervised licences).",
    )


class NewAccountForm(AccountForm):
    username = StringField(
        "Username",
        validators=[
            DataRequired(message="Choose a username."),
            Length(min=3, max=80, message="Use 3 to 80 characters."),
            Regexp(r"^[A-Za-z0-9._\-]+$", message="Use letters, digits, dots, dashes or underscores."),
        ],
        filters=[strip],
    )


def _text(label: str, limit: int, description: str = "", required: bool = False) -> StringField:
    first = DataRequired(message=f"Enter the {label.lower()}.") if required else Optional()
    return StringField(
        label,
        validators=[first, Length(max=limit, message=f"Use at most {limit} characters."), no_control_characters],
        filters=[strip] if required else [empty_to_none],
        description=description,
    )


def _window(label: str, column: str, description: str) -> WholeNumberField:
    low = MINIMUMS[column]
    high = MAXIMUM_HOURS if column.endswith("_hours") else MAXIMUM_DAYS
    return WholeNumberField(
        label,
        validators=[
            InputRequired(message="Enter a whole number."),
            NumberRange(low, high, message=f"Enter a whole number from {low} to {high}."),
        ],
        description=description,
        render_kw={"min": low, "max": high, "inputmode": "numeric"},
    )


class ClinicSettingsForm(FlaskForm):
    """The clinic settings page: who the clinic is, its clock, its windows, and its sign-in policy."""

    name = _text("Clinic name", 120, required=True)
    address = TextAreaField(
        "Address",
        validators=[Optional(), Length(max=255, message="Use at most 255 characters."), no_control_characters],
        filters=[empty_to_none],
        render_kw={"rows": 2},
        description="Printed on the integration plan and the summary.",
    )
    phone = _text("Phone", 40, "The number patients call in office hours; printed on the plan and the summary.")
    crisis_line = _text(
        "Crisis line",
        200,
        "Who a patient calls in a crisis, at any hour (e.g. a national crisis line): printed on every integration "
        "plan and shown on a questionnaire that raises a safety flag.",
    )
    time_zone = SelectField(
        "Time zone",
        choices=[SelectChoice(name, name.replace("_", " ")) for name in zone_names()],
        validators=[InputRequired(message="Choose the clinic's time zone.")],
        description='Every time is typed, shown, printed and compared on this clock (stored in UTC): "today", '
        "the measures' windows, the calendar of the week.",
    )
    measure_baseline_max_age_days = _window(
        "Baseline measures count if at most this many days old",
        "measure_baseline_max_age_days",
        "Before the first dosing session.",
    )
    measure_after_dosing_window_days = _window(
        "Measures after a dosing session are due for (days)",
        "measure_after_dosing_window_days",
        "From the day after the session; the window closes early on the day of the next dosing session.",
    )
    measure_end_after_last_dosing_days = _window(
        "Treatment is expected to end this many days after the last dosing session",
        "measure_end_after_last_dosing_days",
        "Until the patient is moved to completed.",
    )
    measure_end_window_days = _window(
        "End-of-treatment measures count this many days either side", "measure_end_window_days", ""
    )
    measure_follow_up_days = StringField(
        "Follow-ups (days after the end of treatment)",
        validators=[Optional(), Length(max=80, message="Use at most 80 characters.")],
        description="Whole numbers separated by commas, e.g. 90, 180; empty for no follow-up.",
    )
    measure_follow_up_window_days = _window(
        "Follow-up measures count this many days either side", "measure_follow_up_window_days", ""
    )
    attention_note_unsigned_hours = _window(
        "A note still unsigned this many hours after its session is listed",
        "attention_note_unsigned_hours",
        "On the supervisor's dashboard, the therapist's day and My notes.",
    )
    attention_serious_ae_days = _window(
        "Serious adverse events are listed for this many days after onset", "attention_serious_ae_days", ""
    )
    attention_no_session_days = _window(
        "A patient in treatment with no session for this many days is listed", "attention_no_session_days", ""
    )
    attention_emergency_review_hours = _window(
        "Emergency access still unreviewed this many hours later is listed", "attention_emergency_review_hours", ""
    )
    require_two_factor = BooleanField(
        "Require two-factor sign-in for every account, admins included",
        description="Those without it set it up at their next sign-in (an authenticator app on their phone).",
    )

    def settings(self) -> ClinicSettings:
        return ClinicSettings(
            name=self.name.data or "",
            time_zone=self.time_zone.data or "",
            phone=self.phone.data,
            address=self.address.data,
            crisis_line=self.crisis_line.data,
            measure_baseline_max_age_days=self.measure_baseline_max_age_days.data or 0,
            measure_after_dosing_window_days=self.measure_after_dosing_window_days.data or 0,
            measure_end_after_last_dosing_days=self.measure_end_after_last_dosing_days.data or 0,
            measure_end_window_days=self.measure_end_window_days.data or 0,
            measure_follow_up_days=self.measure_follow_up_days.data or "",
            measure_follow_up_window_days=self.measure_follow_up_window_days.data or 0,
            attention_note_unsigned_hours=self.attention_note_unsigned_hours.data or 0,
            attention_serious_ae_days=self.attention_serious_ae_days.data or 0,
            attention_no_session_days=self.attention_no_session_days.data or 0,
            attention_emergency_review_hours=self.attention_emergency_review_hours.data or 0,
        )


class ModalitiesForm(FlaskForm):
    names = TextAreaField(
        "Therapeutic modalities, one per line",
        validators=[DataRequired(message="Give at least one modality."), no_control_characters],
        description="Offered on preparation and integration notes. A note keeps the name it was given, so renaming or "
        "removing a modality here changes no note.",
        render_kw={"rows": 12},
    )

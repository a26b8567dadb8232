from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from tracker.validators import no_control_characters, strip


class AccountForm(FlaskForm):
    full_name = StringField(
        "Full name",
        validators=[DataRequired(message="Enter the person's name."), Length(max=120), no_control_characters],
        filters=[strip],
    )
    is_therapist = BooleanField("Therapist", description="Logs sessions for patients on their care teams.")
    is_supervisor = BooleanField("Supervisor", description="Sees the caseloads of the therapists they supervise.")
    is_admin = BooleanField("Admin", description="Manages accounts; sees no clinical content without another role.")
    supervisor_id = SelectField("Supervisor", coerce=int, description="Required for therapists.")
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
    password = PasswordField(
        "Initial password",
        validators=[DataRequired(message="Set an initial password.")],
        description="At least 12 characters. Tell the person in person, not by email.",
        render_kw={"autocomplete": "new-password"},
    )


class ClinicSettingsForm(FlaskForm):
    require_two_factor = BooleanField(
        "Require two-factor sign-in for every therapist and supervisor",
        description="Those without it set it up at their next sign-in (an authenticator app on their phone). "
        "Admin-only accounts may turn it on themselves under Account.",
    )


class ModalitiesForm(FlaskForm):
    names = TextAreaField(
        "Therapeutic modalities, one per line",
        validators=[DataRequired(message="Give at least one modality."), no_control_characters],
        description="Offered on preparation and integration notes. A note keeps the name it was given, so renaming or "
                    "removing a modality here changes no note.",
        render_kw={"rows": 12},
    )

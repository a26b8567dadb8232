from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from tracker.validators import no_control_characters, strip


class EmergencyAccessForm(FlaskForm):
    record_number = StringField(
        "Patient record number",
        validators=[DataRequired(message="Enter the patient's record number."), Length(max=40), no_control_characters],
        filters=[strip],
    )
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired(message="Describe the emergency."), Length(max=2000), no_control_characters],
        description="What is happening and why you need this record now. Your supervisor and the clinic's "
        "administrators can read it.",
    )
    password = PasswordField(
        "Your password",
        validators=[DataRequired(message="Enter your password to confirm it is you.")],
        render_kw={"autocomplete": "current-password"},
    )


class ReviewForm(FlaskForm):
    justified = RadioField(
        "Was this emergency access justified?",
        choices=[SelectChoice("yes", "Justified"), SelectChoice("no", "Not justified")],
        validators=[InputRequired(message="Choose justified or not justified.")],
    )
    comment = TextAreaField(
        "Your reasons",
        validators=[DataRequired(message="Write your reasons."), Length(max=4000), no_control_characters],
        description="What the audit trail shows was done under it, and what you found out. Kept for good: a review "
        "cannot be changed.",
    )

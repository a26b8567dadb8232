from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(message="Enter your username."), Length(max=80)],
        render_kw={"autocomplete": "username", "autocapitalize": "none"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(message="Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class EmptyForm(FlaskForm):
    """For POST-only buttons (logout): carries the CSRF token and nothing else."""


class CodeForm(FlaskForm):
    """A code from the authenticator app, or a recovery code."""

    code = StringField(
        "Code",
        validators=[DataRequired(message="Enter the code."), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autocapitalize": "none"},
        description="The 6-digit code your authenticator app shows now, or one of your recovery codes.",
    )


class EnrolForm(FlaskForm):
    code = StringField(
        "Code from the app",
        validators=[DataRequired(message="Enter the 6-digit code the app shows."), Length(max=12)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class NewPasswordForm(FlaskForm):
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(message="Choose a new password.")],
        render_kw={"autocomplete": "new-password"},
        description="At least 12 characters; a few unrelated words work well. Common and leaked passwords, and "
        "ones that follow an easy pattern (keyboard rows, sequences, dates), are refused.",
    )
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired(message="Type the new password again.")],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired(message="Enter your current password.")],
        render_kw={"autocomplete": "current-password"},
    )


class PasswordCheckForm(FlaskForm):
    """Re-entering one's password before changing two-factor settings (ASVS 7.5.1)."""

    password = PasswordField(
        "Your password",
        validators=[DataRequired(message="Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )


class ConfirmEnrolmentForm(PasswordCheckForm, EnrolForm):
    pass


class DisableTwoFactorForm(PasswordCheckForm, CodeForm):
    pass

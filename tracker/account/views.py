from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from tracker.account import bp
from tracker.auth import credentials, reauth, signin, twofactor
from tracker.auth.forms import ChangePasswordForm, ConfirmEnrolmentForm, DisableTwoFactorForm
from tracker.extensions import db
from tracker.models import RecoveryCode
from tracker.models.base import utcnow
from tracker.pages import show_error
from tracker.permissions import actor, any_signed_in_user


@bp.route("/account")
@any_signed_in_user
def overview() -> ResponseReturnValue:
    user = actor()
    codes_left = db.session.scalar(
        select(func.count(RecoveryCode.id)).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return render_template(
        "account/overview.html",
        user=user,
        codes_left=codes_left,
        required=twofactor.required_for(user, signin.clinic_requires_two_factor(user)),
    )


@bp.route("/account/password", methods=["GET", "POST"])
@any_signed_in_user
def password() -> ResponseReturnValue:
    """Change one's own password: the current one is asked (throttled, audited); other sessions end."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            credentials.change_own(
                actor(),
                form.current_password.data or "",
                form.new_password.data or "",
                form.confirm.data or "",
                current_user.get_id(),
                utcnow(),
            )
        except credentials.CredentialError as error:
            db.session.commit()  # the audit row of a wrong current password, if that was it
            show_error(form, error)
        else:
            db.session.commit()
            flash("Password changed. You were signed out everywhere else.", "success")
            return redirect(url_for("account.overview")), 303
    return render_template(
        "auth/new_password.html",
        form=form,
        title="Change your password",
        intro="Your other sessions (other browsers and devices) end when you change it.",
    ), 422 if form.errors else 200


@bp.route("/account/two-factor", methods=["GET", "POST"])
@any_signed_in_user
def two_factor() -> ResponseReturnValue:
    """Turn on two-factor sign-in (password and a code from the new secret), then see the recovery codes once."""
    user = actor()
    if user.has_two_factor:
        return redirect(url_for("account.overview"))
    secret = twofactor.pending_secret(user)
    if request.method == "GET" or secret is None:
        secret = twofactor.enrolment_secret(user)  # a new one for every page shown
    form = ConfirmEnrolmentForm()
    if form.validate_on_submit():
        try:
            reauth.confirm_password(user, form.password.data or "", "turn on two-factor sign-in")
            codes = twofactor.confirm_enrolment(user, form.code.data or "", utcnow())
        except reauth.ReauthFailed as failed:
            db.session.commit()
            form.password.errors.append(str(failed))
        except twofactor.CodeRefused as refused:
            db.session.commit()
            form.code.errors.append(str(refused))
        else:
            db.session.commit()
            return render_template("auth/recovery_codes.html", codes=codes, next_url=url_for("account.overview"))
    uri = twofactor.provisioning_uri(user, secret)
    return render_template(
        "auth/enrol.html",
        form=form,
        qr=twofactor.qr_svg(uri),
        secret=secret,
        action=url_for("account.two_factor"),
        required=False,
    ), 422 if form.errors else 200


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@any_signed_in_user
def recovery_codes() -> ResponseReturnValue:
    """Ten new recovery codes (the old ones stop working), after the password and a current code."""
    return _with_password_and_code("make new recovery codes", _new_codes)


@bp.route("/account/two-factor/off", methods=["POST"])
@any_signed_in_user
def turn_off() -> ResponseReturnValue:
    """Turn two-factor sign-in off, unless the clinic requires it of this account."""
    user = actor()
    if twofactor.required_for(user, signin.clinic_requires_two_factor(user)):
        flash("Your clinic requires two-factor sign-in for your account.", "danger")
        return redirect(url_for("account.overview")), 303
    return _with_password_and_code("turn off two-factor sign-in", _off)


def _new_codes() -> ResponseReturnValue:
    codes = twofactor.new_recovery_codes(actor(), utcnow())
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes, next_url=url_for("account.overview"))


def _off() -> ResponseReturnValue:
    twofactor.remove(actor(), actor(), utcnow())
    db.session.commit()
    flash("Two-factor sign-in is off.", "success")
    return redirect(url_for("account.overview")), 303


def _with_password_and_code(purpose: str, then: Callable[[], ResponseReturnValue]) -> ResponseReturnValue:
    user = actor()
    form = DisableTwoFactorForm()
    if not user.has_two_factor:
        return redirect(url_for("account.overview")), 303
    if form.validate_on_submit():
        try:
            reauth.confirm_password(user, form.password.data or "", purpose)
            twofactor.check_code(user, form.code.data or "", utcnow())
        except (reauth.ReauthFailed, twofactor.CodeRefused) as refused:
            db.session.commit()
            flash(str(refused), "danger")
        else:
            return then()
    else:
        flash("Enter your password and a code from your app.", "danger")
    return redirect(url_for("account.overview")), 303

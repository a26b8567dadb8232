from __future__ import annotations

from collections.abc import Callable

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user

from tracker.auth import bp, credentials, signin, throttle, twofactor
from tracker.auth.forms import CodeForm, EmptyForm, EnrolForm, LoginForm, NewPasswordForm
from tracker.auth.services import LOGIN_FAILED, Throttled, check_credentials, is_safe_next, sign_out
from tracker.database import writing
from tracker.extensions import db
from tracker.models import SessionEnd
from tracker.models.base import utcnow
from tracker.pages import show_error
from tracker.permissions import any_signed_in_user, public

SESSION_END_MESSAGES = {
    SessionEnd.IDLE.value: "You were signed out after {minutes} minutes without activity. Sign in again to go on.",
    SessionEnd.EXPIRED.value: "Your session reached its maximum length. Sign in again to go on.",
    SessionEnd.DEACTIVATED.value: "Your account has been deactivated.",
    SessionEnd.LOGOUT.value: "You have signed out.",
    SessionEnd.PASSWORD_CHANGED.value: "Your password was changed or reset. Sign in with the new one.",
}


THROTTLED = (
    "Too many failed sign-in attempts. Wait {minutes} minutes before trying again, or ask your clinic's "
    "administrator for help."
)


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    ended = request.args.get("ended")
    notice = None
    if ended in SESSION_END_MESSAGES:
        minutes = int(current_app.config["IDLE_TIMEOUT"].total_seconds() // 60)
        notice = SESSION_END_MESSAGES[ended].format(minutes=minutes)
    if form.validate_on_submit():
        try:
            user = check_credentials(form.username.data or "", form.password.data or "", request.remote_addr)
        except Throttled:
            minutes = int(current_app.config["LOGIN_FAILURE_WINDOW"].total_seconds() // 60)
            message = THROTTLED.format(minutes=minutes)
            return render_template("auth/login.html", form=LoginForm(), notice=None, rate_limited=message), 429
        if user is not None:
            target = form.next.data if is_safe_next(form.next.data) else url_for("main.home")
            return signin.proceed(user, signin.begin(user, target))
        db.session.commit()  # keep the failed-login audit row
        form.password.errors.append(LOGIN_FAILED)
        return render_template("auth/login.html", form=form, notice=notice, rate_limited=None), 401
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form, notice=notice, rate_limited=None), status


@bp.route("/logout", methods=["POST"])
@any_signed_in_user
def logout() -> ResponseReturnValue:
    form = EmptyForm()
    if not form.validate_on_submit():
        return redirect(url_for("main.home"))
    sign_out(current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    response = redirect(url_for("auth.login", ended=SessionEnd.LOGOUT.value))
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


def _restart() -> ResponseReturnValue:
    flash("Sign in again: the sign-in took too long or was not started.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/login/two-factor", methods=["GET", "POST"])
@public
def two_factor() -> ResponseReturnValue:
    """Step two of a sign-in: a code from the app, or a recovery code. Wrong codes are throttled per account."""
    pending = signin.current(utcnow())
    if pending is None or signin.next_step(*pending) != "auth.two_factor":
        return _restart()
    user, state = pending
    form = CodeForm()
    if form.validate_on_submit():
        try:
            state["second"] = twofactor.check_code(user, form.code.data or "", utcnow())
        except twofactor.CodeRefused as refused:
            db.session.commit()  # the audit row of the refusal
            form.code.errors.append(str(refused))
        else:
            if state["second"] == "recovery":
                flash(
                    "You used a recovery code; it will not work again. Make new ones under Account if few are left.",
                    "warning",
                )
            return signin.proceed(user, state)
    return render_template("auth/two_factor.html", form=form), 422 if form.errors else 200


@bp.route("/login/enrol", methods=["GET", "POST"])
@public
def enrol() -> ResponseReturnValue:
    """Two-factor enrolment required by the clinic, as part of signing in: scan, then confirm with a code."""
    pending = signin.current(utcnow())
    if pending is None or signin.next_step(*pending) != "auth.enrol":
        return _restart()
    user, state = pending
    secret = twofactor.pending_secret(user)
    if request.method == "GET" or secret is None:
        secret = twofactor.enrolment_secret(user)  # a new one for every page shown
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = twofactor.confirm_enrolment(user, form.code.data or "", utcnow())
        except twofactor.CodeRefused as refused:
            db.session.commit()
            form.code.errors.append(str(refused))
        else:
            state["second"] = "totp"
            signin.record_step(state)
            db.session.commit()
            return render_template("auth/recovery_codes.html", codes=codes, next_url=url_for("auth.continue_sign_in"))
    uri = twofactor.provisioning_uri(user, secret)
    return render_template(
        "auth/enrol.html",
        form=form,
        qr=twofactor.qr_svg(uri),
        secret=secret,
        action=url_for("auth.enrol"),
        required=True,
    ), 422 if form.errors else 200


@bp.route("/login/continue")
@public
def continue_sign_in() -> ResponseReturnValue:
    """After the recovery codes were shown: the remaining steps, or the finished sign-in."""
    pending = signin.current(utcnow())
    if pending is None or pending[1].get("second") is None:
        return _restart()
    return signin.proceed(*pending)


@bp.route("/login/new-password", methods=["GET", "POST"])
@public
def new_password() -> ResponseReturnValue:
    """An admin asked this account for a new password: it is set here, before the sign-in ends."""
    pending = signin.current(utcnow())
    if pending is None or signin.next_step(*pending) != "auth.new_password":
        return _restart()
    user, state = pending
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            credentials.set_at_sign_in(user, form.new_password.data or "", form.confirm.data or "", utcnow())
        except credentials.CredentialError as error:
            show_error(form, error)
        else:
            return signin.proceed(user, state)
    return render_template(
        "auth/new_password.html",
        form=form,
        title="Choose a new password",
        intro="Your clinic's administrator asked you to choose a new password before going on.",
    ), 422 if form.errors else 200


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@public
def set_password(token: str) -> ResponseReturnValue:
    """A one-time link from an admin: set a new password, then sign in (with the second factor, if any).

    :raise 404: unknown, used, replaced or expired link (one answer for all).
    """
    now, config = utcnow(), current_app.config
    window, allowed = config["LOGIN_FAILURE_WINDOW"], config["LINK_REFUSALS_PER_ADDRESS"]
    # The link is looked up first: a valid one always works, whatever others at the same address (a clinic's NAT)
    # tried; only links that do not work are counted against the address, and past the limit refused unseen.
    link = credentials.link_for(token, now)
    if link is None:
        if throttle.refused_address(db.session, "set-password", request.remote_addr, now, window, allowed):
            abort(
                429,
                description="Too many links that do not work were tried from here. Wait a quarter of an "
                "hour, or ask your clinic's administrator for a new link.",
            )
        with writing(db.session):
            throttle.charge_address(db.session, "set-password", request.remote_addr, now, window)
            db.session.commit()
        abort(
            404,
            description="This link is not valid: it was used, replaced by a newer one, or expired. Ask "
            "your clinic's administrator for a new one.",
        )
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            credentials.set_with_link(token, form.new_password.data or "", form.confirm.data or "", now)
        except credentials.CredentialError as error:
            if error.field == "token":
                abort(404, description=str(error))
            show_error(form, error)
        else:
            logout_current()  # whoever was signed in here: the link was for its own account
            db.session.commit()
            flash("Your new password is set. Sign in with it.", "success")
            return redirect(url_for("auth.login")), 303
    return render_template(
        "auth/new_password.html",
        form=form,
        title="Set your password",
        intro="Choose the password you will sign in with. This link works once.",
    ), 422 if form.errors else 200


def logout_current() -> None:
    """Whoever is signed in (or half signed in) in this browser is signed out: a set-password link is for its own
    account, and the next step is signing in with the new password. Only after a valid post (never on a GET)."""
    if current_user.is_authenticated:
        sign_out(current_user._get_current_object())
        db.session.commit()
        logout_user()
    session.clear()


def login_redirect(return_to: Callable[[], str | None] = lambda: None) -> ResponseReturnValue:
    """Where anonymous requests go: the login page, saying why a session ended if it just did. ``return_to``
    names the page to come back to when the request cannot simply be repeated (a form posted after the session
    ended: the app passes the drafts' ``return_to``, as the draft was autosaved)."""
    args: dict[str, str] = {}
    ended = g.get("session_ended")
    if ended is not None:
        args["ended"] = ended.value
    if request.method == "GET" and is_safe_next(request.full_path.rstrip("?")):
        args["next"] = request.full_path.rstrip("?")
    else:
        page = return_to()
        if page is not None:
            args["next"] = page
    flash_message = None if ended else "Sign in to see this page."
    if flash_message:
        flash(flash_message, "info")
    return redirect(url_for("auth.login", **args))  # type: ignore[arg-type]

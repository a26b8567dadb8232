from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from tracker.auth import bp
from tracker.auth.forms import EmptyForm, LoginForm
from tracker.auth.services import LOGIN_FAILED, Throttled, authenticate, is_safe_next, sign_out
from tracker.extensions import db
from tracker.models import SessionEnd
from tracker.permissions import any_signed_in_user, public

SESSION_END_MESSAGES = {
    SessionEnd.IDLE.value: "You were signed out after {minutes} minutes without activity. Sign in again to go on.",
    SessionEnd.EXPIRED.value: "Your session reached its maximum length. Sign in again to go on.",
    SessionEnd.DEACTIVATED.value: "Your account has been deactivated.",
    SessionEnd.LOGOUT.value: "You have signed out.",
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
            user = authenticate(form.username.data or "", form.password.data or "", request.remote_addr)
        except Throttled:
            minutes = int(current_app.config["LOGIN_FAILURE_WINDOW"].total_seconds() // 60)
            message = THROTTLED.format(minutes=minutes)
            return render_template("auth/login.html", form=LoginForm(), notice=None, rate_limited=message), 429
        if user is not None:
            session.clear()  # nothing from before sign-in survives it (ASVS 7.2.4)
            login_user(user)
            db.session.commit()
            target = form.next.data if is_safe_next(form.next.data) else url_for("main.home")
            return redirect(target)
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


def login_redirect() -> ResponseReturnValue:
    """Where anonymous requests go: the login page, saying why a session ended if it just did."""
    args: dict[str, str] = {}
    ended = g.get("session_ended")
    if ended is not None:
        args["ended"] = ended.value
    if request.method == "GET" and is_safe_next(request.full_path.rstrip("?")):
        args["next"] = request.full_path.rstrip("?")
    else:
        from tracker.sessions.drafts import return_to

        page = return_to()  # a note posted after the session ended: back to it (its draft was autosaved)
        if page is not None:
            args["next"] = page
    flash_message = None if ended else "Sign in to see this page."
    if flash_message:
        flash(flash_message, "info")
    return redirect(url_for("auth.login", **args))  # type: ignore[arg-type]

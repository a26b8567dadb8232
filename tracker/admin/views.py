from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from wtforms import Field, SelectChoice

from tracker import audit
from tracker.admin import bp
from tracker.admin.forms import AccountForm, ClinicSettingsForm, NewAccountForm
from tracker.admin.services import (
    AccountDetails,
    AccountError,
    create_user,
    is_locked,
    recent_role_changes,
    set_active,
    unlock,
    update_user,
)
from tracker.auth import credentials, sessions, twofactor
from tracker.auth.forms import EmptyForm
from tracker.clinics import SettingsError, update_settings
from tracker.extensions import db
from tracker.labs import markers
from tracker.models import Clinic, Role, SessionEnd, User
from tracker.models.base import utcnow
from tracker.pages import paginate, show_error
from tracker.permissions import actor, clinic_users, require_role
from tracker.protocols import ItemKind, loaded_protocols


def _supervisor_choices(form: AccountForm) -> None:
    supervisors = db.session.scalars(
        select(User)
        .where(clinic_users(actor()), User.is_supervisor.is_(True), User.active.is_(True))
        .order_by(User.full_name)
    )
    form.supervisor_id.choices = [SelectChoice(0, "— none —")] + [SelectChoice(u.id, u.full_name) for u in supervisors]


def _details(form: AccountForm) -> AccountDetails:
    roles = {
        role
        for role, flag in (
            (Role.THERAPIST, form.is_therapist),
            (Role.SUPERVISOR, form.is_supervisor),
            (Role.ADMIN, form.is_admin),
        )
        if flag.data
    }
    return AccountDetails(
        form.full_name.data or "",
        frozenset(roles),
        form.supervisor_id.data or None,
        bool(form.needs_cosign.data),
        form.email.data or None,
    )


def _user_or_404(user_id: int) -> User:
    user: User | None = db.session.scalar(select(User).where(User.id == user_id, clinic_users(actor())))
    if user is None:
        abort(404)
    return user


def _field_for(form: AccountForm, name: str) -> Field:
    """The form field an error belongs to; role errors show under the Therapist box."""
    field: Field = getattr(form, name, None) or form.is_therapist
    return field


#: The accounts page lists the role changes of this many last days (at most this many of them).
ROLE_CHANGES_SHOWN_FOR = timedelta(days=30)
ROLE_CHANGES_LISTED = 20


@bp.route("/users")
@require_role(Role.ADMIN)
def users() -> ResponseReturnValue:
    page = paginate(
        select(User)
        .where(clinic_users(actor()))
        .options(joinedload(User.supervisor))
        .order_by(User.active.desc(), User.full_name),
        per_page=50,
    )
    changes = recent_role_changes(actor().clinic_id, utcnow() - ROLE_CHANGES_SHOWN_FOR, ROLE_CHANGES_LISTED)
    return render_template(
        "admin/users.html",
        page=page,
        toggle_form=EmptyForm(),
        role_changes=changes,
        role_change_days=ROLE_CHANGES_SHOWN_FOR.days,
    )


@bp.route("/users/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def new_user() -> ResponseReturnValue:
    form = NewAccountForm()
    _supervisor_choices(form)
    if form.validate_on_submit():
        try:
            user = create_user(actor(), actor().clinic_id, form.username.data or "", None, _details(form))
            token = credentials.issue_link(actor(), user, utcnow())
        except AccountError as error:
            db.session.rollback()
            _field_for(form, error.field).errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Account {user.username} created. Give its owner this link to set their password.", "success")
            return _show_link(user, token)
    return render_template("admin/user_form.html", form=form, user=None), 422 if form.errors else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def edit_user(user_id: int) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    form = AccountForm(obj=user)
    _supervisor_choices(form)
    if request.method == "GET":
        form.supervisor_id.data = user.supervisor_id or 0
    if form.validate_on_submit():
        try:
            changes = update_user(actor(), user, _details(form))
        except AccountError as error:
            db.session.rollback()
            _field_for(form, error.field).errors.append(str(error))
        else:
            db.session.commit()
            flash("Account updated." if changes else "Nothing had changed.", "success")
            return redirect(url_for("admin.users"))
    return render_template(
        "admin/user_form.html", form=form, user=user, action_form=EmptyForm(), locked=is_locked(user, utcnow())
    ), (422 if form.errors else 200)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@require_role(Role.ADMIN)
def reset_password(user_id: int) -> ResponseReturnValue:
    """A set-password link (shown once, on this page, never in a cookie or the audit trail), or a new password
    asked at the next sign-in. Not for one's own account.

    :raise 404: an account of another clinic.
    """
    user = _user_or_404(user_id)
    how = request.form.get("how")
    if not EmptyForm().validate_on_submit() or how not in ("link", "next_sign_in"):
        abort(400)
    try:
        if how == "link":
            token = credentials.issue_link(actor(), user, utcnow())
        else:
            credentials.force_change(actor(), user, utcnow())
    except credentials.CredentialError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return redirect(url_for("admin.edit_user", user_id=user.id)), 303
    db.session.commit()
    if how == "next_sign_in":
        flash(f"{user.full_name} will choose a new password at their next sign-in; they were signed out.", "success")
        return redirect(url_for("admin.edit_user", user_id=user.id)), 303
    return _show_link(user, token)


def _show_link(user: User, token: str) -> ResponseReturnValue:
    """The set-password link, shown once (never in a cookie or the audit trail)."""
    return render_template(
        "admin/password_link.html",
        user=user,
        link=credentials.link_url(token),
        hours=current_app.config["PASSWORD_RESET_HOURS"],
    )


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@require_role(Role.ADMIN)
def unlock_user(user_id: int) -> ResponseReturnValue:
    """Lift the account's sign-in locks (a guesser's failures, from any address); audited.

    :raise 404: an account of another clinic.
    """
    user = _user_or_404(user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    lifted = unlock(actor(), user)
    db.session.commit()
    flash(
        f"Sign-in of {user.full_name} unlocked." if lifted else f"{user.full_name}'s sign-in was not locked.", "success"
    )
    return redirect(url_for("admin.edit_user", user_id=user.id)), 303


@bp.route("/users/<int:user_id>/two-factor/reset", methods=["POST"])
@require_role(Role.ADMIN)
def reset_two_factor(user_id: int) -> ResponseReturnValue:
    """Remove a user's second factor (a lost phone); they enrol again at next sign-in if the clinic requires it.
    Not for one's own account (an admin turns their own off under Account, with a code).

    :raise 404: an account of another clinic.
    """
    user = _user_or_404(user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if user.id == actor().id:
        flash("Manage your own two-factor sign-in under Account.", "danger")
        return redirect(url_for("admin.edit_user", user_id=user.id)), 303
    twofactor.remove(user, actor(), utcnow())
    sessions.end_all_for(db.session, user, SessionEnd.PASSWORD_CHANGED, utcnow())
    db.session.commit()
    flash(f"Two-factor sign-in of {user.full_name} removed; they were signed out.", "success")
    return redirect(url_for("admin.edit_user", user_id=user.id)), 303


@bp.route("/clinic", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def clinic_settings() -> ResponseReturnValue:
    """The admin's own clinic: name, address, phone, crisis line, time zone, the windows of the measure schedule
    and the attention queue, and the sign-in policy. Every change is audited, field by field."""
    clinic = db.session.get_one(Clinic, actor().clinic_id)
    form = ClinicSettingsForm(obj=clinic)
    if clinic.time_zone not in {c.value for c in form.time_zone.choices or []}:  # an old alias set elsewhere
        form.time_zone.choices = [SelectChoice(clinic.time_zone, clinic.time_zone), *(form.time_zone.choices or [])]
    if form.validate_on_submit():
        try:
            changes = update_settings(actor(), clinic, form.settings())
        except SettingsError as error:
            show_error(form, error)
        else:
            wanted = bool(form.require_two_factor.data)
            if wanted != clinic.require_two_factor:
                clinic.require_two_factor = wanted
                changes["require_two_factor"] = [not wanted, wanted]
                audit.record(
                    actor(),
                    "clinic.settings",
                    f"Two-factor sign-in {'required' if wanted else 'optional'} for every account",
                    data={"changes": {"require_two_factor": [not wanted, wanted]}},
                )
            db.session.commit()
            flash("Settings saved." if changes else "Nothing had changed.", "success")
            return redirect(url_for("admin.clinic_settings")), 303
    missing = db.session.scalar(
        select(func.count(User.id)).where(
            clinic_users(actor()),
            User.active.is_(True),
            User.totp_enabled_at.is_(None),
        )
    )
    return render_template("admin/clinic.html", form=form, clinic=clinic, missing=missing, now=utcnow()), (
        422 if form.errors else 200
    )


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@require_role(Role.ADMIN)
def toggle_active(user_id: int) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    activate = request.form.get("active") == "1"
    try:
        set_active(actor(), user, activate)
    except AccountError as error:
        flash(str(error), "danger")
        return redirect(url_for("admin.users")), 303
    db.session.commit()
    flash(f"{user.full_name} {'reactivated' if activate else 'deactivated'}.", "success")
    return redirect(url_for("admin.users")), 303


#: Screening item kinds in the order the protocol page shows them, with their headings.
ITEM_GROUPS = (
    (ItemKind.EXCLUSION, "Absolute exclusions", "“Yes” makes the patient ineligible; no one can override it."),
    (ItemKind.REVIEW, "Items for a supervisor's review", "“Yes” needs a supervisor's written decision."),
    (ItemKind.REQUIREMENT, "Requirements", "Must be recorded, with the value and the date."),
)


@bp.route("/protocols")
@require_role(Role.ADMIN)
def protocols() -> ResponseReturnValue:
    """The protocol templates loaded at start-up. No patient data, so nothing to audit."""
    catalogue = sorted(loaded_protocols().values(), key=lambda p: p.name.casefold())
    return render_template(
        "admin/protocols.html", protocols=catalogue, protocol_dir=current_app.config["EXTRA_PROTOCOL_DIR"]
    )


@bp.route("/protocols/<code>")
@require_role(Role.ADMIN)
def protocol(code: str) -> ResponseReturnValue:
    """One protocol template in full.

    :raise 404: no protocol with this code was loaded.
    """
    found = loaded_protocols().get(code)
    if found is None:
        abort(404)
    groups = [(kind, title, hint, [i for i in found.screening if i.kind is kind]) for kind, title, hint in ITEM_GROUPS]
    return render_template(
        "admin/protocol.html",
        protocol=found,
        groups=groups,
        protocol_dir=current_app.config["EXTRA_PROTOCOL_DIR"],
        lab_markers=markers(),
    )

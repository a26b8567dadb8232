"""The home page: each role lands on what it can use: supervisors on their dashboard, therapists on their day,
admins on the staff accounts."""

from flask import Blueprint, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from tracker.models import Role
from tracker.permissions import any_signed_in_user

bp = Blueprint("main", __name__)


@bp.route("/")
@any_signed_in_user
def home() -> ResponseReturnValue:
    if current_user.has_role(Role.SUPERVISOR):
        return redirect(url_for("dashboard.dashboard"))
    if current_user.has_role(Role.THERAPIST):
        return redirect(url_for("dashboard.today"))
    return redirect(url_for("admin.users"))

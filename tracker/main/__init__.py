"""The home page: each role lands on what it can use."""

from flask import Blueprint, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from tracker.permissions import any_signed_in_user

bp = Blueprint("main", __name__)


@bp.route("/")
@any_signed_in_user
def home() -> ResponseReturnValue:
    if current_user.is_clinician:
        return redirect(url_for("patients.index"))
    return redirect(url_for("admin.users"))

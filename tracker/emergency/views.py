from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from tracker.emergency import bp
from tracker.emergency.forms import EmergencyAccessForm
from tracker.emergency.services import EmergencyAccessError, grant
from tracker.extensions import db
from tracker.models import User
from tracker.models.base import utcnow
from tracker.permissions import CLINICAL_ROLES, require_role


@bp.route("/emergency-access", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
def request_access() -> ResponseReturnValue:
    actor: User = current_user._get_current_object()
    form = EmergencyAccessForm()
    if form.validate_on_submit():
        hours = int(current_app.config["EMERGENCY_ACCESS_HOURS"])
        try:
            access = grant(
                actor, form.record_number.data or "", form.reason.data or "", form.password.data or "", utcnow(), hours
            )
        except EmergencyAccessError as error:
            db.session.commit()  # nothing but the audit row of a wrong password can be pending
            getattr(form, error.field).errors.append(str(error))
        else:
            db.session.commit()
            flash(
                f"Emergency access granted until {access.expires_at:%H:%M} UTC. Everything you do with this record "
                "is flagged in the audit trail.",
                "warning",
            )
            return redirect(url_for("patients.detail", patient_id=access.patient_id))
    return render_template("emergency/request.html", form=form), 422 if form.errors else 200

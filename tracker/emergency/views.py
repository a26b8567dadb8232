from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import Select

from tracker import audit, clinictime
from tracker.clinics import current_zone
from tracker.emergency import bp
from tracker.emergency import reviews as emergency_reviews
from tracker.emergency.forms import EmergencyAccessForm, ReviewForm
from tracker.emergency.services import EmergencyAccessError, grant
from tracker.extensions import db
from tracker.models import Role, User
from tracker.models.base import utcnow
from tracker.pages import paginate, show_error
from tracker.permissions import CLINICAL_ROLES, actor, require_role


@bp.route("/emergency-access", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
def request_access() -> ResponseReturnValue:
    actor: User = current_user._get_current_object()
    form = EmergencyAccessForm()
    if request.method == "GET":  # the link of a safety alert escalated to a supervisor names the record
        form.record_number.data = request.args.get("record_number", "")[:40].strip()
    if form.validate_on_submit():
        hours = int(current_app.config["EMERGENCY_ACCESS_HOURS"])
        try:
            access = grant(
                actor, form.record_number.data or "", form.reason.data or "", form.password.data or "", utcnow(), hours
            )
        except EmergencyAccessError as error:
            db.session.commit()  # nothing but the audit row of a wrong password can be pending
            show_error(form, error)
        else:
            db.session.commit()
            flash(
                f"Emergency access granted until {clinictime.shown(access.expires_at, current_zone(), '%H:%M')}. "
                "Everything you do with this record "
                "is flagged in the audit trail.",
                "warning",
            )
            return redirect(url_for("patients.detail", patient_id=access.patient_id))
    return render_template("emergency/request.html", form=form), 422 if form.errors else 200


REVIEWED_SHOWN = 25


@bp.route("/emergency-access/reviews")
@require_role(Role.SUPERVISOR)
def reviews() -> ResponseReturnValue:
    """The clinic's emergency access grants waiting for review (oldest first, a page at a time), and the latest
    reviewed. Shows who, which patient (record number), when and why: no clinical content."""
    waiting: Select[Any] = emergency_reviews.waiting(actor())  # type: ignore[assignment]
    page = paginate(waiting, 25)
    done = db.session.execute(emergency_reviews.reviewed(actor()).limit(REVIEWED_SHOWN)).all()
    grants = [row for row in page.items]
    counts = emergency_reviews.actions_under(grants + [access for access, _ in done])
    audit.record(
        actor(),
        "emergency.review_queue",
        f"Listed {len(grants)} emergency access grants to review",
        data={"patient_ids": sorted({g.patient_id for g in grants} | {a.patient_id for a, _ in done})},
    )
    db.session.commit()
    return render_template("emergency/reviews.html", page=page, done=done, counts=counts)


@bp.route("/emergency-access/reviews/<int:access_id>", methods=["GET", "POST"])
@require_role(Role.SUPERVISOR)
def review(access_id: int) -> ResponseReturnValue:
    """Judge one grant, in writing; a review is final.

    :raise 404: a grant of another clinic, or none.
    """
    found = emergency_reviews.grant_for_review(actor(), access_id)
    if found is None:
        abort(404)
    access, done = found
    form = ReviewForm()
    if done is None and form.validate_on_submit():
        try:
            emergency_reviews.review(actor(), access, form.justified.data == "yes", form.comment.data or "", utcnow())
        except emergency_reviews.ReviewError as error:
            db.session.rollback()
            show_error(form, error)
        else:
            db.session.commit()
            flash("Review recorded.", "success")
            return redirect(url_for("emergency.reviews")), 303
    counts = emergency_reviews.actions_under([access])
    audit.record(
        actor(),
        "emergency.review_view",
        f"Opened emergency access #{access.id} for review",
        target_type="emergency_access",
        target_id=access.id,
        data={"patient_id": access.patient_id},
    )
    db.session.commit()
    own = access.user_id == actor().id
    return render_template(
        "emergency/review.html", access=access, done=done, form=form, own=own, actions=counts.get(access.id, 0)
    ), 422 if form.errors else 200

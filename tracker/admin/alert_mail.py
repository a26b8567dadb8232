"""The admin's page of alert e-mail: whether e-mail is set up, every message not delivered (failed, waiting to be
tried again, nobody further up to escalate to), the latest ones sent, and sending one again. It names the alert by
number and the recipient, never the patient: an admin sees no clinical content."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import joinedload

from tracker import audit
from tracker.admin import bp
from tracker.alerts import mail, notices
from tracker.auth.forms import EmptyForm
from tracker.extensions import db
from tracker.models import AlertNotice, NoticeStatus, Patient, Role, SafetyAlert
from tracker.models.base import utcnow
from tracker.pages import paginate
from tracker.permissions import actor, require_role
from tracker.queue import enqueue

RECENTLY_SENT = 20


def _of_clinic(query: Select[Any]) -> Select[Any]:
    return (
        query.join(SafetyAlert, SafetyAlert.id == AlertNotice.alert_id)
        .join(Patient, Patient.id == SafetyAlert.patient_id)
        .where(Patient.clinic_id == actor().clinic_id)
    )


def _not_delivered() -> Select[Any]:
    """Failed, or waiting to be tried again after a failure: newest first."""
    problem = or_(
        AlertNotice.status == NoticeStatus.FAILED,
        and_(AlertNotice.status == NoticeStatus.QUEUED, AlertNotice.last_error.is_not(None)),
    )
    return (
        _of_clinic(select(AlertNotice))
        .where(problem)
        .options(joinedload(AlertNotice.user))
        .order_by(AlertNotice.created_at.desc(), AlertNotice.id.desc())
    )


@bp.route("/alert-mail")
@require_role(Role.ADMIN)
def alert_mail() -> ResponseReturnValue:
    page = paginate(_not_delivered(), current_app.config["ALERT_NOTICES_PER_PAGE"])
    sent = db.session.scalars(
        _of_clinic(select(AlertNotice))
        .where(AlertNotice.status == NoticeStatus.SENT)
        .options(joinedload(AlertNotice.user))
        .order_by(AlertNotice.sent_at.desc())
        .limit(RECENTLY_SENT)
    ).all()
    settings = mail.SmtpSettings.from_config(current_app.config)
    return render_template(
        "admin/alert_mail.html",
        page=page,
        sent=sent,
        settings=settings,
        form=EmptyForm(),
        escalation=current_app.config["ALERT_ESCALATION_MINUTES"],
        max_attempts=notices.MAX_ATTEMPTS,
    )


@bp.route("/alert-mail/<int:notice_id>/retry", methods=["POST"])
@require_role(Role.ADMIN)
def retry_alert_mail(notice_id: int) -> ResponseReturnValue:
    """Send a failed message again (after adding the missing address, say), as a new series of attempts.

    :raise 404: no such message of this clinic, or one with nobody to send it to.
    """
    if not EmptyForm().validate_on_submit():
        abort(400)
    found = db.session.scalar(
        _of_clinic(select(AlertNotice)).where(AlertNotice.id == notice_id, AlertNotice.user_id.is_not(None))
    )
    if found is None:
        abort(404)
    if found.status is not NoticeStatus.FAILED:
        flash("Only a failed message can be sent again; this one is not failed.", "warning")
        return redirect(url_for("admin.alert_mail")), 303
    db.session.execute(
        update(AlertNotice)
        .where(AlertNotice.id == notice_id)
        .values(status=NoticeStatus.QUEUED, attempts=0, due_at=utcnow())
    )
    audit.record(
        actor(),
        "alert_mail.retry",
        f"Queued alert e-mail #{notice_id} again",
        target_type="alert_notice",
        target_id=notice_id,
        data={"alert": found.alert_id, "user": found.user_id},
    )
    db.session.commit()
    try:
        enqueue(notices.deliver_alert, found.alert_id)
    except Exception:
        current_app.logger.exception("alert e-mail %s could not be queued; the housekeeping will send it", notice_id)
    flash("Queued to be sent again.", "success")
    return redirect(url_for("admin.alert_mail")), 303

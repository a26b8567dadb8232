from __future__ import annotations

from datetime import UTC, datetime, time

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import joinedload
from wtforms import SelectChoice

from tracker import audit
from tracker.auditlog import bp
from tracker.auditlog.forms import AuditFilterForm
from tracker.extensions import db
from tracker.models import AuditEvent, Patient, Role, User
from tracker.permissions import actor, clinic_users, patient_scope, require_role


def visible_events(user: User) -> Select[AuditEvent]:
    """Admins see their clinic's whole trail; a supervisor sees the events about patients they may see."""
    query = select(AuditEvent).where(AuditEvent.clinic_id == user.clinic_id)
    if not user.is_admin:
        query = query.where(AuditEvent.patient_id.in_(select(Patient.id).where(patient_scope(user))))
    return query


def _visible_count(user: User, conditions: list[ColumnElement[bool]]) -> int:
    """How many events ``visible_events`` holds under ``conditions``, counted the way the database counts fast.

    For a supervisor the clinic condition is left out: ``patient_scope`` only holds patients of their own clinic,
    so the rows are the same, but beside it SQLite counted by walking the clinic's whole trail through the clinic
    index (86 ms at 400,000 rows in ``make bench``) instead of these patients' rows (4 ms). The page itself keeps the
    clinic condition, whose index hands over the newest rows first without sorting.
    """
    if user.is_admin:
        scope = AuditEvent.clinic_id == user.clinic_id
    else:
        scope = AuditEvent.patient_id.in_(select(Patient.id).where(patient_scope(user)))
    return db.session.scalar(select(func.count(AuditEvent.id)).where(scope, *conditions)) or 0


@bp.route("/")
@require_role(Role.SUPERVISOR, Role.ADMIN)
def index() -> ResponseReturnValue:
    form = AuditFilterForm(formdata=request.args)
    users = db.session.scalars(select(User).where(clinic_users(actor())).order_by(User.full_name)).all()
    form.user.choices = [SelectChoice(0, "Anyone")] + [SelectChoice(u.id, u.full_name) for u in users]
    conditions: list[ColumnElement[bool]] = []
    valid = form.validate()
    if valid:
        if form.user.data:
            conditions.append(AuditEvent.actor_id == form.user.data)
        if form.patient.data:
            conditions.append(
                AuditEvent.patient_id.in_(
                    select(Patient.id).where(
                        Patient.clinic_id == actor().clinic_id, Patient.record_number == form.patient.data
                    )
                )
            )
        if form.start.data:
            conditions.append(AuditEvent.created_at >= datetime.combine(form.start.data, time.min, UTC))
        if form.end.data:  # to the end of that day (the day after 9999-12-31 does not exist)
            conditions.append(AuditEvent.created_at <= datetime.combine(form.end.data, time.max, UTC))
    query = visible_events(actor()).where(*conditions).options(
        joinedload(AuditEvent.actor), joinedload(AuditEvent.patient)
    )
    page = db.paginate(
        query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()),
        page=(form.page.data or 1) if valid else 1,
        per_page=current_app.config["AUDIT_EVENTS_PER_PAGE"],
        error_out=False,
        count=False,
    )
    page.total = _visible_count(actor(), conditions)
    audit.record(actor(), "audit.view", "Viewed the audit trail", data={"filters": request.args.to_dict()})
    db.session.commit()
    return render_template("auditlog/index.html", form=form, page=page), 200 if valid else 400

from __future__ import annotations

from datetime import timedelta

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import SelectChoice

from tracker import audit
from tracker.auditlog import bp
from tracker.auditlog.forms import AuditFilterForm
from tracker.auditlog.trail import (
    filter_conditions,
    openable_patients,
    shows_detail,
    unknown_name_failures,
    visible_count,
    visible_events,
)
from tracker.extensions import db
from tracker.models import AuditEvent, Role, User
from tracker.models.base import utcnow
from tracker.permissions import actor, clinic_users, require_role

#: Admins see the failed sign-ins with unknown names of this many last days, the newest few of them listed.
UNKNOWN_NAMES_SHOWN_FOR = timedelta(days=7)
UNKNOWN_NAMES_LISTED = 10


@bp.route("/")
@require_role(Role.SUPERVISOR, Role.ADMIN)
def index() -> ResponseReturnValue:
    form = AuditFilterForm(formdata=request.args)
    users = db.session.scalars(select(User).where(clinic_users(actor())).order_by(User.full_name)).all()
    form.user.choices = [SelectChoice(0, "Anyone")] + [SelectChoice(u.id, u.full_name) for u in users]
    valid = form.validate()
    conditions = (
        filter_conditions(actor(), form.user.data, form.patient.data, form.start.data, form.end.data) if valid else []
    )
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
    page.total = visible_count(actor(), conditions)
    openable = openable_patients(actor(), page.items)
    unknown = (
        unknown_name_failures(utcnow() - UNKNOWN_NAMES_SHOWN_FOR, UNKNOWN_NAMES_LISTED) if actor().is_admin else None
    )
    audit.record(actor(), "audit.view", "Viewed the audit trail", data={"filters": request.args.to_dict()})
    db.session.commit()
    return render_template(
        "auditlog/index.html", form=form, page=page, openable=openable, shows_detail=shows_detail,
        unknown=unknown, unknown_days=UNKNOWN_NAMES_SHOWN_FOR.days,
    ), 200 if valid else 400

from __future__ import annotations

from flask import Response, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import ColumnElement, false, select
from sqlalchemy.orm import joinedload
from wtforms import SelectChoice

from tracker import audit
from tracker.auditlog import bp
from tracker.auditlog import export as audit_export
from tracker.auditlog.forms import AuditFilterForm
from tracker.auditlog.trail import (
    COUNT_LIMIT,
    filter_conditions,
    openable_patients,
    shows_detail,
    visible_count,
    visible_events,
)
from tracker.extensions import db
from tracker.models import AuditEvent, Role, User
from tracker.models.base import utcnow
from tracker.pages import paginate
from tracker.permissions import actor, clinic_users, require_role


def person_choices() -> list[SelectChoice]:
    """The filter's people: everyone of the clinic by name, read as two columns (a clinic of 600 staff loaded as
    whole accounts cost the page more than its events did)."""
    people = db.session.execute(select(User.id, User.full_name).where(clinic_users(actor())).order_by(User.full_name))
    return [SelectChoice(0, "Anyone")] + [SelectChoice(user_id, name) for user_id, name in people]


@bp.route("/")
@require_role(Role.SUPERVISOR, Role.ADMIN)
def index() -> ResponseReturnValue:
    form = AuditFilterForm(formdata=request.args)
    form.user.choices = person_choices()
    valid = form.validate()
    conditions: list[ColumnElement[bool]] = [false()]  # refused filters show no events, not the whole trail
    if valid:
        conditions = filter_conditions(actor(), form.user.data, form.patient.data, form.start.data, form.end.data)
    query = (
        visible_events(actor()).where(*conditions).options(joinedload(AuditEvent.actor), joinedload(AuditEvent.patient))
    )
    page = paginate(
        query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()),
        current_app.config["AUDIT_EVENTS_PER_PAGE"],
        (form.page.data or 1) if valid else 1,
        count=False,
    )
    counted = visible_count(actor(), conditions, COUNT_LIMIT)
    page.total = min(counted, COUNT_LIMIT)  # the pages run to the limit; the filters reach older rows
    openable = openable_patients(actor(), page.items)
    audit.record(actor(), "audit.view", "Viewed the audit trail", data={"filters": request.args.to_dict()})
    db.session.commit()
    return render_template(
        "auditlog/index.html",
        form=form,
        page=page,
        openable=openable,
        shows_detail=shows_detail,
        more=counted > COUNT_LIMIT,
        export_args={k: v for k, v in request.args.to_dict().items() if k in ("user", "patient", "start", "end")},
    ), 200 if valid else 400


@bp.route("/export.csv")
@require_role(Role.SUPERVISOR, Role.ADMIN)
def export() -> ResponseReturnValue:
    """The trail under the page's filters as CSV, oldest first, with each row's chain position and hash; the export
    is audited (who, which filters, how many rows).

    :raise 400: bad filters, or more rows than one export holds (narrow the dates).
    """
    form = AuditFilterForm(formdata=request.args)
    form.user.choices = person_choices()
    if not form.validate():
        abort(
            400,
            description="The export cannot be made with these filters: "
            + "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()),
        )
    conditions = filter_conditions(actor(), form.user.data, form.patient.data, form.start.data, form.end.data)
    events = audit_export.rows_for(actor(), conditions)
    if len(events) > audit_export.MAX_ROWS:
        abort(400, description=f"More than {audit_export.MAX_ROWS:,} events match: narrow the dates.")
    body = audit_export.to_csv(events, audit_export.openable(actor()))
    filters = {k: v for k, v in request.args.to_dict().items() if k in ("user", "patient", "start", "end")}
    audit.record(
        actor(),
        "audit.export",
        f"Exported {len(events)} audit events as CSV",
        data={"filters": filters, "rows": len(events)},
    )
    db.session.commit()
    name = f"audit-{utcnow():%Y%m%d-%H%M%S}.csv"
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})

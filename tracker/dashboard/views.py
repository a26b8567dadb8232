"""Views of the dashboard pages: validate the query string, ask ``queries``/``overview`` for the page, audit what
was shown, render. Bad filters answer 400 with the message next to the filter."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tracker import audit, clinictime
from tracker.attention import RULES, THERAPIST_RULES, Kind
from tracker.charts import Bar, bar_svg
from tracker.clinics import clinic_of
from tracker.dashboard import bp
from tracker.dashboard import overview as clinic
from tracker.dashboard.forms import DashboardArgs, DayArgs
from tracker.dashboard.queries import (
    Filters,
    Item,
    QueuePage,
    attention_page,
    caseloads,
    make_scope,
    patient_ids,
    scope_key,
    supervised_therapists,
    week_sessions,
)
from tracker.extensions import db
from tracker.models import Phase, Role
from tracker.models.base import utcnow
from tracker.permissions import actor, require_role
from tracker.protocols import loaded_protocols


@bp.context_processor
def _rules() -> dict[str, Any]:
    return {"rules": RULES}


def item_url(item: Item) -> str:
    """Where to act on an item: the alert, the session (note, co-signature, follow-up link), the screening
    checklist, the measures page, the sessions list, or the patient page."""
    patient_id, target = item.patient_id, item.target_id
    if item.kind is Kind.SAFETY_ALERT:
        return url_for("outcomes.alert", patient_id=patient_id, alert_id=target)
    if item.kind in (
        Kind.SERIOUS_ADVERSE_EVENT,
        Kind.FOLLOW_UP_CONTACT,
        Kind.COSIGNATURE,
        Kind.RETURNED_NOTE,
        Kind.UNSIGNED_NOTE,
    ):
        return url_for("sessions.detail", patient_id=patient_id, session_id=target)
    if item.kind is Kind.SCREENING_REVIEW:
        return url_for("screening.checklist", patient_id=patient_id)
    if item.kind is Kind.EMERGENCY_REVIEW:
        return url_for("emergency.review", access_id=target)
    if item.kind is Kind.INTEGRATION_SESSION:
        return url_for("sessions.index", patient_id=patient_id)
    if item.kind is Kind.MEASURE_OVERDUE:
        return url_for("outcomes.overview", patient_id=patient_id)
    return url_for("patients.detail", patient_id=patient_id)


def _audit_queue(action: str, summary: str, shown: QueuePage, data: dict[str, Any]) -> None:
    """One audit row per page view, naming the patients whose names the page showed."""
    audit.record(
        actor(),
        action,
        summary,
        data={"patient_ids": sorted({item.patient_id for item in shown.items}), **data},
    )


@bp.route("/dashboard")
@require_role(Role.SUPERVISOR)
def dashboard() -> ResponseReturnValue:
    """The supervisor's dashboard: patients per therapist by phase, and the queue of what needs attention in the
    caseloads of the therapists they supervise (and their own), most urgent first."""
    user = actor()
    therapists = supervised_therapists(db.session, user)
    args = DashboardArgs(formdata=request.args)
    args.set_choices(therapists, loaded_protocols())
    if not args.validate():
        return render_template(
            "dashboard/dashboard.html",
            args=args,
            queue=None,
            caseloads=[],
            Phase=Phase,
            item_url=item_url,
            query_args={},
        ), 400
    filters = args.filters()
    ids = patient_ids(user, filters)
    scope = make_scope(
        ids, utcnow(), clinic_of(db.session, user.clinic_id), loaded_protocols(), key=scope_key(user, filters)
    )
    shown = attention_page(
        db.session, scope, filters, args.page.data or 1, current_app.config["DASHBOARD_ITEMS_PER_PAGE"]
    )
    loads = caseloads(db.session, therapists, patient_ids(user, Filters(filters.therapist_id, None, filters.protocol)))
    _audit_queue(
        "dashboard.view", f"Viewed the dashboard: {len(shown.items)} items", shown, {"filters": _filter_args(args)}
    )
    db.session.commit()
    return render_template(
        "dashboard/dashboard.html",
        args=args,
        queue=shown,
        caseloads=loads,
        Phase=Phase,
        item_url=item_url,
        query_args=_filter_args(args),
    )


def _filter_args(args: DashboardArgs) -> dict[str, str]:
    """The filters in force, to carry into the tab, sort and page links."""
    values = {
        "therapist": args.therapist.data,
        "phase": args.phase.data,
        "protocol": args.protocol.data,
        "sort": args.sort.data if args.sort.data != "urgency" else "",
    }
    return {key: value for key, value in values.items() if value}


@bp.route("/today")
@require_role(Role.THERAPIST)
def today() -> ResponseReturnValue:
    """The therapist's day: this week's sessions of their own patients, and the dashboard's queue for their own
    patients (their unsigned notes, alerts and overdue items), without what only a supervisor acts on."""
    user = actor()
    args = DayArgs(formdata=request.args)
    home = clinic_of(db.session, user.clinic_id)
    now = utcnow()
    today = clinictime.today(home.zone, now)
    if not args.validate():
        return render_template(
            "dashboard/today.html",
            args=args,
            queue=None,
            sessions=[],
            item_url=item_url,
            today=today,
            rules=THERAPIST_RULES,
        ), 400
    filters = Filters(kind=args.chosen_kind)
    scope = make_scope(
        patient_ids(user, filters, own_only=True),
        now,
        home,
        loaded_protocols(),
        author_id=user.id,
        key=scope_key(user, filters, own_only=True),
    )
    shown = attention_page(
        db.session, scope, filters, args.page.data or 1, current_app.config["DASHBOARD_ITEMS_PER_PAGE"], THERAPIST_RULES
    )
    sessions = week_sessions(db.session, user, today, home.zone)
    audit.record(
        user,
        "dashboard.today",
        f"Viewed their day: {len(shown.items)} items, {len(sessions)} sessions",
        data={"patient_ids": sorted({i.patient_id for i in shown.items} | {s.patient_id for s in sessions})},
    )
    db.session.commit()
    return render_template(
        "dashboard/today.html",
        args=args,
        queue=shown,
        sessions=sessions,
        item_url=item_url,
        today=today,
        rules=THERAPIST_RULES,
    )


@bp.route("/overview")
@require_role(Role.SUPERVISOR)
def overview() -> ResponseReturnValue:
    """The clinic at a glance, for supervisors: counts and rates only, no patient named."""
    user = actor()
    protocols = loaded_protocols()
    max_age = timedelta(minutes=current_app.config["OVERVIEW_MAX_AGE_MINUTES"])
    figures = clinic.figures(db.session, clinic_of(db.session, user.clinic_id), protocols, utcnow(), max_age)
    phases, weeks, events, outcomes = figures.phases, figures.weeks, figures.events, figures.outcomes
    audit.record(user, "dashboard.overview", "Viewed the clinic overview (counts only)")
    db.session.commit()
    codes = sorted({code for code, _ in phases}, key=lambda c: protocols[c].name if c in protocols else c)
    charts = {
        "phases": bar_svg(
            "chart-phases",
            "Patients by phase",
            "Number of patients in each phase, all protocols together.",
            [
                Bar(p.label, n, str(n))
                for p in Phase
                for n in [sum(v for (_, phase), v in phases.items() if phase is p)]
            ],
        ),
        "weeks": bar_svg(
            "chart-weeks",
            "Sessions held per week",
            f"Sessions held in each of the last {clinic.WEEKS} weeks.",
            [Bar(f"Week of {monday.isoformat()}", n, str(n)) for monday, n in weeks],
        ),
        "events": bar_svg(
            "chart-events",
            "Adverse events by severity",
            "Adverse events recorded, by severity.",
            [Bar(e.severity.label, e.total, f"{e.total} ({e.serious} serious)") for e in events],
        ),
    }
    return render_template(
        "dashboard/overview.html",
        phases=phases,
        codes=codes,
        protocols=protocols,
        Phase=Phase,
        weeks=weeks,
        events=events,
        outcomes=outcomes,
        charts=charts,
        outcome_chart=_outcome_chart(outcomes),
        computed_at=figures.computed_at,
        max_age=max_age,
    )


def _outcome_chart(outcomes: list[clinic.OutcomeSummary]) -> Any:
    bars = []
    for summary in outcomes:
        for name, count in (
            ("response", summary.response),
            ("remission", summary.remission),
            ("meaningful improvement", summary.improved),
        ):
            share = summary.share(count)
            if share is not None:
                # Named as clinicians say it, e.g. "MDMA (PCL-5): meaningful improvement".
                label = f"{summary.protocol.substance} ({summary.instrument.short_name}): {name}"
                bars.append(Bar(label, share * 100, f"{share:.0%} of {summary.patients}"))
    if not bars:
        return None
    return bar_svg(
        "chart-outcomes",
        "Outcome change by protocol",
        "Share of patients with a response, remission or clinically meaningful improvement from "
        "baseline on each measure of their protocol, where the instrument's sources define one.",
        bars,
        maximum=100,
        width=640,
        label_width=300,
    )

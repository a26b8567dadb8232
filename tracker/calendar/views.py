"""The calendar page and the feed: validate, ask ``queries`` for the period's sessions in one statement, audit who
saw which patients, render.

Who sees what: a therapist the sessions of the patients whose care team they are on; a supervisor those of the
patients they may see (their own care teams and their supervisees'), all of them or one therapist's; an admin
nothing. Emergency access grants are left out, as on the dashboard.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tracker import audit, clinictime
from tracker.auth.forms import EmptyForm
from tracker.calendar import bp, feed
from tracker.calendar.forms import CalendarArgs
from tracker.calendar.periods import period_of
from tracker.calendar.queries import sessions_between
from tracker.clinics import clinic_of
from tracker.dashboard.queries import Filters, patient_ids, supervised_therapists
from tracker.extensions import db
from tracker.models import User
from tracker.models.base import utcnow
from tracker.permissions import CLINICAL_ROLES, actor, public, require_role


def _therapists(user: User) -> list[tuple[int, str]]:
    return supervised_therapists(db.session, user) if user.is_supervisor else []


@bp.route("/calendar")
@require_role(*CLINICAL_ROLES)
def calendar() -> ResponseReturnValue:
    """A week (default) or month of sessions, held and scheduled, on the clinic's clock; ``on`` picks the period,
    ``therapist`` (supervisors) one therapist's patients."""
    user = actor()
    home = clinic_of(db.session, user.clinic_id)
    today = clinictime.today(home.zone, utcnow())
    args = CalendarArgs(formdata=request.args)
    args.set_therapists(_therapists(user))
    if not args.validate():
        return render_template("calendar/calendar.html", args=args, period=None, days={}, today=today), 400
    period = period_of(args.chosen_view, args.on.data or today)
    ids = (
        patient_ids(user, Filters(therapist_id=args.therapist_id))
        if user.is_supervisor
        else patient_ids(user, Filters(), own_only=True)
    )
    rows = sessions_between(db.session, ids, period.first, period.last, home.zone)
    days: dict[object, list[object]] = {}
    for row in rows:
        days.setdefault(clinictime.day_of(row.start, home.zone), []).append(row)
    audit.record(
        user,
        "calendar.view",
        f"Viewed the calendar: {period.title}, {len(rows)} sessions",
        data={
            "patient_ids": sorted({r.patient_id for r in rows}),
            "view": period.view,
            "first": period.first.isoformat(),
            "therapist": args.therapist_id,
        },
    )
    db.session.commit()
    links = {key: value for key, value in {"view": period.view, "therapist": args.therapist.data}.items() if value}
    return render_template(
        "calendar/calendar.html",
        args=args,
        period=period,
        days=days,
        today=today,
        links=links,
        truncated=len(rows) >= 1000,
    )


@bp.route("/account/calendar", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
def feed_link() -> ResponseReturnValue:
    """The user's own feed link: GET says whether one exists; POST ``make`` issues a new one (shown once, the old
    one ends), ``revoke`` ends it."""
    user = actor()
    form = EmptyForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400, description="The form expired: open the page again.")
        action = request.form.get("action")
        if action == "make":
            token = feed.issue(user)
            audit.record(user, "calendar.link_issue", "Made a new calendar feed link (any earlier one ended)")
            db.session.commit()
            url = url_for("calendar.feed_ics", token=token, _external=True)
            return render_template("calendar/feed_link.html", form=EmptyForm(formdata=None), has_link=True, url=url)
        if action == "revoke":
            feed.revoke(user)
            audit.record(user, "calendar.link_revoke", "Revoked the calendar feed link")
            db.session.commit()
            flash("Calendar feed link revoked: calendars using it get nothing more.", "success")
            return redirect(url_for("calendar.feed_link"))
        abort(400, description="Choose to make or to revoke the link.")
    return render_template(
        "calendar/feed_link.html",
        form=EmptyForm(formdata=None),
        has_link=user.calendar_token_sha256 is not None,
        url=None,
    )


@bp.route("/calendar/feed/<token>.ics")
@public
def feed_ics(token: str) -> ResponseReturnValue:
    """The owner's calendar file: the sessions of their own patients, initials and kind only. The token is the key
    (a calendar application cannot sign in); an unknown or revoked one answers 404 with nothing."""
    user = feed.owner(db.session, token)
    if user is None or not (user.is_therapist or user.is_supervisor):
        abort(404)
    home = clinic_of(db.session, user.clinic_id)
    now = utcnow()
    first, last = feed.window(now)
    ids = patient_ids(user, Filters(), own_only=True)
    rows = sessions_between(db.session, ids, first - timedelta(days=1), last + timedelta(days=1), home.zone)
    audit.record(
        user,
        "calendar.feed",
        f"Calendar feed fetched: {len(rows)} sessions",
        data={"patient_ids": sorted({r.patient_id for r in rows})},
    )
    db.session.commit()
    response = Response(feed.ics(rows, home.name, now), mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = 'inline; filename="sessions.ics"'
    return response

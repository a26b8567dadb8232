"""Telling people about an alert by e-mail, at once and again up the supervision chain while it stays open.

Raising an alert adds one ``AlertNotice`` per person told at once (the care team and their supervisors,
``tracker.alerts.recipients``) in the alert's own transaction; once that transaction commits, the alert's id goes
to the job queue (``tracker.queue``) and the worker sends the messages. The request that raised the alert never
waits for the mail server and never fails because of it: a queue that cannot be reached is logged, and the
housekeeping (every minute in the worker) sends whatever is due.

A failed attempt is tried again after 1, 5, 15 and 30 minutes; after ``MAX_ATTEMPTS`` it is failed for good.
Everything not sent (failed, no address, e-mail not set up, nobody further up to escalate to) shows on the admin's
page (``/admin/alert-mail``). An alert still open ``ALERT_ESCALATION_MINUTES`` after it was raised (default 120,
a clinic setting) is escalated to the next supervisor up, and again after each further interval while someone is
left above.

The message says only that an urgent alert needs the reader, with a link that asks for a sign-in: no name, no
record number, nothing of the patient's health.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, SessionTransaction

from tracker import audit
from tracker.alerts import mail, recipients
from tracker.database import AnySession, plain
from tracker.extensions import db
from tracker.models import AlertNotice, NoticeStatus, Patient, SafetyAlert, User
from tracker.models.base import utcnow
from tracker.queue import background_task, enqueue, every_minute

log = logging.getLogger(__name__)

SUBJECT = "Care Tracker: an urgent alert needs you"
#: Waits before the second, third... attempt; the attempt after the last wait is the last one.
RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=30))
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
#: A notice claimed for sending this long ago, by a worker that then died, is queued again.
STUCK_AFTER = timedelta(minutes=5)
_TO_SEND = "tracker_alerts_to_send"


def escalation_interval() -> timedelta:
    return timedelta(minutes=int(current_app.config["ALERT_ESCALATION_MINUTES"]))


def queue_at_once(db: AnySession, alert: SafetyAlert, patient: Patient) -> None:
    """Level-0 notices for a new alert (care team and their supervisors), sent once the transaction commits."""
    now = utcnow()
    for user_id in sorted(recipients.chain_of(db, patient).levels()[0]):
        db.add(
            AlertNotice(
                alert_id=alert.id,
                user_id=user_id,
                level=0,
                status=NoticeStatus.QUEUED,
                attempts=0,
                created_at=now,
                due_at=now,
            )
        )
    target = plain(db)
    target.info.setdefault(_TO_SEND, []).append(alert.id)


@event.listens_for(Session, "after_commit")
def _send_after_commit(db: Session) -> None:
    """Queue the new alerts' e-mail. Never raises: the commit has happened, and the page must not fail now."""
    for alert_id in db.info.pop(_TO_SEND, []):
        try:
            enqueue(deliver_alert, alert_id)
        except Exception:
            log.exception("safety alert %s: its e-mail could not be queued; the housekeeping will send it", alert_id)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(db: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:
        db.info.pop(_TO_SEND, None)


# Delivery --------------------------------------------------------------------------------------------------------


def body(alert_id: int, level: int) -> str:
    """The whole message: no health information, only the link (which asks for a sign-in)."""
    link = f"{current_app.config['BASE_URL'].rstrip('/')}/alerts/{alert_id}"
    lines = ["An urgent safety alert in Care Tracker needs you.", "", f"Open it (you will be asked to sign in): {link}"]
    if level:
        hours = int(current_app.config["ALERT_ESCALATION_MINUTES"]) * level / 60
        lines += [
            "",
            f"It has been open for {hours:g} hours without being acknowledged, so it now comes to you as "
            "the next supervisor up.",
        ]
    lines += ["", "This message holds no patient information. Do not reply to it."]
    return "\n".join(lines) + "\n"


@background_task
def deliver_alert(alert_id: int) -> None:
    """Send the alert's notices that are due (queued by the request that raised it)."""
    deliver_due(utcnow(), alert_id)


def deliver_due(now: datetime, alert_id: int | None = None) -> int:
    """Send every queued notice that is due (of one alert, or all); returns how many were sent."""
    query = select(AlertNotice.id).where(AlertNotice.status == NoticeStatus.QUEUED, AlertNotice.due_at <= now)
    if alert_id is not None:
        query = query.where(AlertNotice.alert_id == alert_id)
    due = list(db.session.scalars(query.order_by(AlertNotice.id)))
    db.session.commit()
    return sum(_deliver(notice_id) for notice_id in due)


def _finish(notice_id: int, **values: Any) -> None:
    db.session.execute(update(AlertNotice).where(AlertNotice.id == notice_id).values(**values))
    db.session.commit()


def _deliver(notice_id: int) -> bool:
    """Claim one queued notice (so two workers never send it twice), send it, record the outcome. Commits."""
    now = utcnow()
    claimed = db.session.execute(
        update(AlertNotice)
        .where(AlertNotice.id == notice_id, AlertNotice.status == NoticeStatus.QUEUED)
        .values(status=NoticeStatus.SENDING, due_at=now, attempts=AlertNotice.attempts + 1)
    )
    db.session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    notice, closed_at, email, active = db.session.execute(
        select(AlertNotice, SafetyAlert.acknowledged_at, User.email, User.active)
        .join(SafetyAlert, SafetyAlert.id == AlertNotice.alert_id)
        .outerjoin(User, User.id == AlertNotice.user_id)
        .where(AlertNotice.id == notice_id)
    ).one()
    settings = mail.SmtpSettings.from_config(current_app.config)
    refused = (
        (NoticeStatus.FAILED, "Nobody to send it to.")
        if notice.user_id is None
        else (NoticeStatus.FAILED, "No e-mail address on the account: add one under Accounts.")
        if not email
        else (NoticeStatus.FAILED, "E-mail is not set up (SMTP_HOST is empty).")
        if not settings.configured
        else None
    )
    if closed_at is not None or active is False:
        why = "the alert was acknowledged first" if closed_at is not None else "the account is deactivated"
        refused = (NoticeStatus.CANCELLED, f"Not sent: {why}.")
    if refused is not None or email is None:
        status, why = refused or (NoticeStatus.FAILED, "No e-mail address on the account.")
        _finish(notice_id, status=status, address=email, last_error=why)
        return False
    try:
        mail.send(settings, mail.message(settings, email, SUBJECT, body(notice.alert_id, notice.level)))
    except mail.MailError as error:
        attempts = notice.attempts
        again = attempts < MAX_ATTEMPTS
        log.warning(
            "safety alert %s: e-mail to user %s failed (attempt %s): %s",
            notice.alert_id,
            notice.user_id,
            attempts,
            error,
        )
        _finish(
            notice_id,
            status=NoticeStatus.QUEUED if again else NoticeStatus.FAILED,
            address=email,
            last_error=str(error)[:300],
            due_at=now + RETRY_AFTER[attempts - 1] if again else now,
        )
        return False
    _finish(notice_id, status=NoticeStatus.SENT, sent_at=utcnow(), address=email, last_error=None)
    return True


# Escalation and housekeeping -------------------------------------------------------------------------------------


def escalate(now: datetime) -> int:
    """Escalate every open alert whose next escalation is due; returns how many were escalated. Commits."""
    interval = escalation_interval()
    candidates = (
        db.session.execute(
            select(SafetyAlert.id)
            .where(SafetyAlert.acknowledged_at.is_(None), SafetyAlert.raised_at <= now - interval)
            .order_by(SafetyAlert.id)
        )
        .scalars()
        .all()
    )
    db.session.commit()
    return sum(_escalate_one(alert_id, now, interval) for alert_id in candidates)


def _escalate_one(alert_id: int, now: datetime, interval: timedelta) -> bool:
    """One alert's next escalation, if due: the next supervisors up are told, or, with nobody left above, a failed
    notice without a recipient records it for the admin (once). The alert row is locked (PostgreSQL), so two
    workers never escalate it twice."""
    alert = db.session.scalar(select(SafetyAlert).where(SafetyAlert.id == alert_id).with_for_update())
    if alert is None or not alert.is_open:
        db.session.commit()
        return False
    level, dead_ends = db.session.execute(
        select(
            func.coalesce(func.max(AlertNotice.level), 0),
            func.count(AlertNotice.id).filter(AlertNotice.user_id.is_(None)),
        ).where(AlertNotice.alert_id == alert_id)
    ).one()
    step = level + 1
    if dead_ends or alert.raised_at + interval * step > now:
        db.session.commit()
        return False
    patient = db.session.get(Patient, alert.patient_id)
    assert patient is not None
    levels = recipients.chain_of(db.session, patient).levels()
    told = set(db.session.scalars(select(AlertNotice.user_id).where(AlertNotice.alert_id == alert_id)))
    users = sorted(levels[step] - told) if step < len(levels) else []
    for user_id in users:
        db.session.add(
            AlertNotice(
                alert_id=alert_id,
                user_id=user_id,
                level=step,
                status=NoticeStatus.QUEUED,
                attempts=0,
                created_at=now,
                due_at=now,
            )
        )
    if not users:
        hours = interval.total_seconds() * step / 3600
        db.session.add(
            AlertNotice(
                alert_id=alert_id,
                user_id=None,
                level=step,
                status=NoticeStatus.FAILED,
                attempts=0,
                created_at=now,
                due_at=now,
                last_error=f"Open {hours:g} hours: nobody further up the supervision chain to escalate to.",
            )
        )
    audit.record(
        None,
        "alert.escalate",
        f"Safety alert still open after {interval * step}: escalated to the next supervisor up"
        if users
        else f"Safety alert still open after {interval * step}: nobody further up to escalate to",
        patient=patient,
        target_type="safety_alert",
        target_id=alert_id,
        data={"level": step, "users": users},
    )
    db.session.commit()
    return bool(users)


@every_minute
def alert_mail_housekeeping() -> None:
    """Queue again what a dead worker left half-sent, escalate what is due, send what is due."""
    now = utcnow()
    db.session.execute(
        update(AlertNotice)
        .where(AlertNotice.status == NoticeStatus.SENDING, AlertNotice.due_at <= now - STUCK_AFTER)
        .values(status=NoticeStatus.QUEUED, due_at=now)
    )
    db.session.commit()
    escalate(now)
    deliver_due(now)

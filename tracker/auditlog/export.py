"""The audit trail as CSV for an auditor: the audit page's filters and visibility (``tracker.auditlog.trail``),
each row with its place in its clinic's hash chain and its hash, so an export can be checked against
``flask audit verify``. The export is itself audited. (The FHIR AuditEvent shape waits for the FHIR work.)

Cells a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return first) get a leading
apostrophe (OWASP, "CSV Injection").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import joinedload

from tracker.auditlog.trail import visible_events
from tracker.extensions import db
from tracker.models import AuditEvent, Patient, User
from tracker.permissions import patient_scope

#: An export larger than this is refused with a request to narrow the filters (it is built in memory).
MAX_ROWS = 50_000
HIDDEN = "[clinical detail: only for those who may open this patient]"
COLUMNS = (
    "when_utc",
    "actor_username",
    "actor_name",
    "action",
    "patient_record_number",
    "target_type",
    "target_id",
    "summary",
    "changes",
    "emergency_access",
    "ip",
    "chain",
    "chain_position",
    "row_hash",
)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def rows_for(user: User, conditions: list[ColumnElement[bool]]) -> list[AuditEvent]:
    """The events ``user`` may read under ``conditions``, oldest first, at most ``MAX_ROWS`` + 1."""
    query = (
        visible_events(user)
        .where(*conditions)
        .options(joinedload(AuditEvent.actor), joinedload(AuditEvent.patient))
        .order_by(AuditEvent.created_at, AuditEvent.id)
        .limit(MAX_ROWS + 1)
    )
    return list(db.session.scalars(query))


def openable(user: User) -> set[int]:
    if not user.is_clinician:
        return set()
    return set(db.session.scalars(select(Patient.id).where(patient_scope(user))))


def to_csv(events: Iterable[AuditEvent], may_open: set[int]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for event in events:
        detail = event.patient_id is None or event.patient_id in may_open
        data = event.data or {}
        writer.writerow(
            [
                _cell(value)
                for value in (
                    event.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    event.actor.username if event.actor else "",
                    event.actor.full_name if event.actor else "",
                    event.action,
                    event.patient.record_number if event.patient else "",
                    event.target_type,
                    event.target_id,
                    event.summary if detail else HIDDEN,
                    (json.dumps(data.get("changes"), ensure_ascii=False) if data.get("changes") else "")
                    if detail
                    else HIDDEN,
                    "yes" if data.get("emergency_access") or event.action == "emergency.grant" else "",
                    event.ip,
                    event.chain,
                    event.chain_seq,
                    event.row_hash,
                )
            ]
        )
    return out.getvalue()

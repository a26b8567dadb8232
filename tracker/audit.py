"""The one writer of the audit trail.

Every read and write of patient data, and every security event, goes through ``record``. A change and its audit
row share one transaction, so they commit or roll back together; a request that only reads writes its audit rows
when it commits, in a short write transaction of their own, before the page is sent (tracker/database.py).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

from flask import g, has_request_context, request

from tracker.database import add_on_commit
from tracker.extensions import db
from tracker.models import AuditEvent, Patient, User
from tracker.models.base import utcnow


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Field-level changes as ``{field: [old, new]}``, leaving out fields that did not change."""
    return {
        field: [_jsonable(before.get(field)), _jsonable(after.get(field))]
        for field in after
        if before.get(field) != after.get(field)
    }


def mark_emergency_access(patient_id: int) -> None:
    """This request reaches ``patient_id`` under an emergency grant: flag every audit row about that patient."""
    if has_request_context():
        g.emergency_patient_ids = {*g.get("emergency_patient_ids", set()), patient_id}


def under_emergency_access(patient_id: int | None) -> bool:
    return has_request_context() and patient_id is not None and patient_id in g.get("emergency_patient_ids", set())


def client_address() -> str | None:
    return request.remote_addr if has_request_context() else None


def record(
    actor: User | None,
    action: str,
    summary: str,
    *,
    patient: Patient | None = None,
    target_type: str | None = None,
    target_id: object | None = None,
    data: Mapping[str, Any] | None = None,
    clinic_id: int | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Add an audit row for ``action`` to the current transaction (the caller commits).

    ``data`` must never hold passwords, tokens or note text; for updates pass ``{"changes": diff(...)}``. The row
    is chained (``tracker.auditchain``) when the session flushes it. ``ip`` is for work done away from the request
    it was asked in (a background job): the address of that request; by default, the current request's.
    """
    if clinic_id is None:
        clinic_id = patient.clinic_id if patient is not None else (actor.clinic_id if actor else None)
    if patient is not None and under_emergency_access(patient.id):
        data = {**(data or {}), "emergency_access": True}
    event = AuditEvent(
        created_at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        action=action,
        summary=summary[:255],
        patient_id=patient.id if patient is not None else None,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        data={key: _jsonable(value) for key, value in data.items()} if data else None,
        clinic_id=clinic_id,
        ip=ip if ip is not None else client_address(),
    )
    add_on_commit(db.session, event)  # in a read request, written by the commit's short write transaction
    return event

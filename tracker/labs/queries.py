"""Reading a patient's laboratory results: the newest current result of each marker (the patient page, the summary)
and every result in pages (the results page), each in one query whatever the length of the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import aliased, joinedload

from tracker.database import AnySession
from tracker.labs import markers
from tracker.models import LabResult
from tracker.protocols import Protocol


def current() -> ColumnElement[bool]:
    """SQL condition: the result has not been superseded by a correction."""
    newer = aliased(LabResult)
    return ~select(newer.id).where(newer.supersedes_id == LabResult.id).exists()


def latest_per_marker(db: AnySession, patient_id: int) -> list[LabResult]:
    """The newest current result of each marker (by collection date), in the order of the markers file: one query,
    at most one row per marker."""
    ranked = (
        select(
            LabResult.id,
            func.row_number()
            .over(partition_by=LabResult.marker, order_by=(LabResult.collected_on.desc(), LabResult.id.desc()))
            .label("rank"),
        )
        .where(LabResult.patient_id == patient_id, current())
        .subquery()
    )
    rows = db.scalars(select(LabResult).join(ranked, ranked.c.id == LabResult.id).where(ranked.c.rank == 1)).all()
    order = {code: index for index, code in enumerate(markers())}
    return sorted(rows, key=lambda r: order.get(r.marker, len(order)))


def history(patient_id: int) -> Select[LabResult]:
    """Every result of the patient, corrections included, newest sample first (for a page of results)."""
    return (
        select(LabResult)
        .where(LabResult.patient_id == patient_id)
        .options(joinedload(LabResult.entered_by))
        .order_by(LabResult.collected_on.desc(), LabResult.id.desc())
    )


@dataclass(frozen=True)
class Requirement:
    """A protocol's required result and whether the newest one on record satisfies it today."""

    marker: str
    name: str
    within_days: int | None
    source: str
    latest: LabResult | None
    met: bool


def requirements(protocol: Protocol | None, latest: list[LabResult], today: date) -> list[Requirement]:
    """The protocol's required results against the newest of each marker (the page's view; the dosing gate judges
    at the session's own date)."""
    if protocol is None:
        return []
    by_marker = {row.marker: row for row in latest}
    found = []
    for required in protocol.required_labs:
        row = by_marker.get(required.marker)
        fresh = row is not None and (
            required.within_days is None or row.collected_on >= today - timedelta(days=required.within_days)
        )
        found.append(
            Requirement(
                required.marker, markers()[required.marker].name, required.within_days, required.source, row, fresh
            )
        )
    return found

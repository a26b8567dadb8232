"""Who hears of an alert, and who may close a high-risk one: the care team, the supervision chain above it.

At once (level 0): the patient's care team and their supervisors. While the alert stays open, each escalation
(level 1, 2...) goes to the next supervisor up: the supervisors of the previous level's supervisors, skipping a
deactivated account to the one above it, and never anyone told already. A high-risk alert is closed only by a
supervisor in that chain above the care team.

``levels`` is a pure function of the supervision links; ``chain_of`` loads them for one patient in two queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select

from tracker.database import AnySession
from tracker.models import CareTeamMember, Patient, User

#: Guards against a supervision loop (A supervises B supervises A) when walking past deactivated accounts.
MAX_HOPS = 50


@dataclass(frozen=True)
class Staff:
    """What the chain needs of one account."""

    id: int
    supervisor_id: int | None
    active: bool
    is_supervisor: bool


def _up(ids: Iterable[int], staff: Mapping[int, Staff]) -> set[int]:
    """The active supervisors of ``ids`` (past a deactivated supervisor, the one above them)."""
    found = set()
    for user_id in ids:
        member = staff.get(user_id)
        boss = member.supervisor_id if member else None
        hops = 0
        while boss is not None and boss in staff and not staff[boss].active and hops < MAX_HOPS:
            boss, hops = staff[boss].supervisor_id, hops + 1
        if boss is not None and boss in staff and staff[boss].active:
            found.add(boss)
    return found


def levels(team: Iterable[int], staff: Mapping[int, Staff]) -> list[frozenset[int]]:
    """Who is told at each level: level 0 the active care team and their supervisors; level n the next
    supervisors up from level n-1's supervisors, minus anyone told before. Ends when nobody new is found."""
    members = {user_id for user_id in team if user_id in staff}
    first = _up(members, staff)
    result = [frozenset({m for m in members if staff[m].active} | first)]
    told, frontier = set(result[0]) | members, first
    while frontier:
        above = _up(frontier, staff) - told
        if not above:
            break
        result.append(frozenset(above))
        told |= above
        frontier = above
    return result


def closers(team: Iterable[int], staff: Mapping[int, Staff]) -> frozenset[int]:
    """The supervisors who may close a high-risk alert: every active supervisor in the chain above the care team
    (a care-team member who supervises another member counts; one who only treats does not)."""
    members = set(team)
    chain: set[int] = set()
    frontier = _up(members, staff)
    while frontier - chain:
        chain |= frontier
        frontier = _up(frontier, staff)
    return frozenset(user_id for user_id in chain if staff[user_id].is_supervisor)


@dataclass(frozen=True)
class Chain:
    """The supervision chain of one patient's care team."""

    team: frozenset[int]
    staff: Mapping[int, Staff]

    def levels(self) -> list[frozenset[int]]:
        return levels(self.team, self.staff)

    def closers(self) -> frozenset[int]:
        return closers(self.team, self.staff)


def chain_of(db: AnySession, patient: Patient) -> Chain:
    """The care team and the clinic's supervision links (two queries, whatever the clinic's size in accounts: a
    clinic's staff list is tens of rows)."""
    team = frozenset(db.scalars(select(CareTeamMember.user_id).where(CareTeamMember.patient_id == patient.id)))
    rows = db.execute(
        select(User.id, User.supervisor_id, User.active, User.is_supervisor).where(User.clinic_id == patient.clinic_id)
    )
    return Chain(team, {row.id: Staff(row.id, row.supervisor_id, row.active, row.is_supervisor) for row in rows})


def names(db: AnySession, user_ids: Iterable[int]) -> list[str]:
    """Full names, sorted (for "closed by a supervisor: ..." messages)."""
    ids = list(user_ids)
    if not ids:
        return []
    return sorted(db.scalars(select(User.full_name).where(User.id.in_(ids))))

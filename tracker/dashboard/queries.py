"""What the supervisor dashboard and the therapist's day show, as aggregate queries over indexed columns.

A page is a fixed handful of statements whatever the clinic's size: the tab counts (one grouped COUNT over the
union of the rules in ``tracker.attention``), one page of the queue with the names of just those patients (one
join), patients per therapist by phase (one GROUP BY), and the week's sessions. No object graphs are built (the
issue's reference: a caseload page by lazy loading runs 1,011 statements, with one aggregate query 1).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import CompoundSelect, Select, and_, func, literal, null, or_, select, true, union_all

from tracker.attention import BY_KIND, RULES, Kind, Policy, Rule, Scope, queue
from tracker.clinictime import start_of_day, week_start
from tracker.database import AnySession
from tracker.models import CareTeamMember, Clinic, Patient, Phase, SessionKind, TherapySession, User
from tracker.permissions import care_scope

#: Queue orders offered on the dashboard: most urgent first (the default), oldest or newest first, by patient.
SORTS = {
    "urgency": "Most urgent first",
    "oldest": "Oldest first",
    "newest": "Newest first",
    "patient": "Patient name",
}


@dataclass(frozen=True)
class Filters:
    therapist_id: int | None = None
    phase: Phase | None = None
    protocol: str | None = None
    kind: Kind | None = None
    sort: str = "urgency"


def patient_ids(user: User, filters: Filters, *, own_only: bool = False) -> Select[Any]:
    """The ids of the patients a page looks at: ``user``'s care scope (own care teams and supervisees'; only their
    own with ``own_only``), narrowed by the therapist, phase and protocol filters. Emergency grants are left out:
    a break-glass patient is not the user's to follow up."""
    query = select(Patient.id).where(care_scope(user))
    therapist = user.id if own_only else filters.therapist_id
    if therapist is not None:
        query = query.where(
            Patient.id.in_(select(CareTeamMember.patient_id).where(CareTeamMember.user_id == therapist))
        )
    if filters.phase is not None:
        query = query.where(Patient.phase == filters.phase)
    if filters.protocol is not None:
        query = query.where(Patient.protocol_code == filters.protocol)
    return query


def supervised_therapists(db: AnySession, user: User) -> list[tuple[int, str]]:
    """The therapists whose patients a supervisor follows: their supervisees, and themselves if they treat."""
    rows = db.execute(
        select(User.id, User.full_name)
        .where(
            User.clinic_id == user.clinic_id,
            or_(User.supervisor_id == user.id, and_(User.id == user.id, User.is_therapist.is_(True))),
        )
        .order_by(User.full_name, User.id)
    )
    return [(row.id, row.full_name) for row in rows]


@dataclass(frozen=True)
class Item:
    """One row of the queue, with what the page needs to show and link it."""

    rule: Rule
    patient_id: int
    patient_name: str
    record_number: str
    phase: Phase
    since: datetime
    due: datetime | None
    target_id: int | None
    number: int | None
    #: A short text of the item's own (a returned note's comment).
    detail: str | None = None

    @property
    def kind(self) -> Kind:
        return self.rule.kind

    @property
    def since_label(self) -> str:
        """What the date beside the item is: the rule's, but "enrolled" for a patient who never had a session
        (``number`` counts the sessions held), so the queue never prints a last session that did not happen."""
        if self.kind is Kind.NO_RECENT_SESSION and not self.number:
            return "enrolled"
        return self.rule.since_label


@dataclass(frozen=True)
class QueuePage:
    items: list[Item]
    counts: dict[Kind, int]
    page: int
    per_page: int
    #: Items matching every filter including the kind: what the pages are counted from.
    total: int

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def all_kinds(self) -> int:
        return sum(self.counts.values())


def _order(item: Any, sort: str) -> list[Any]:
    if sort == "oldest":
        return [item.c.since, item.c.rank, item.c.patient_id, item.c.target_id]
    if sort == "newest":
        return [item.c.since.desc(), item.c.rank, item.c.patient_id, item.c.target_id]
    if sort == "patient":
        return [Patient.family_name, Patient.given_name, Patient.id, item.c.rank, item.c.since]
    return [item.c.rank, item.c.since, item.c.patient_id, item.c.target_id]


def attention_page(
    db: AnySession,
    scope: Scope,
    filters: Filters,
    page: int,
    per_page: int,
    rules: Sequence[Rule] = RULES,
) -> QueuePage:
    """Tab counts and one page of the queue (of ``rules``), in one statement: the union of the rules is a CTE
    (evaluated once), grouped for the counts and joined to the patients for the page's rows only. The statement is
    kept (``_statement``) and run with this view's moment."""
    found: dict[Kind, int] = {}
    rows = []
    for row in db.execute(_statement(scope, filters, page, per_page, rules), scope.moments):
        if row.row_type == "count":
            found[Kind(row.kind)] = row.total
        else:
            rows.append(row)
    total = found.get(filters.kind, 0) if filters.kind is not None else sum(found.values())
    last = max((total + per_page - 1) // per_page, 1)
    if page > last:  # past the end (items were dealt with meanwhile): show the last page instead
        return attention_page(db, scope, filters, last, per_page, rules)
    rows.sort(key=lambda row: row.total)  # ``total`` holds the position for item rows
    items_shown = [_item(row, scope) for row in rows]
    return QueuePage(items_shown, {rule.kind: found.get(rule.kind, 0) for rule in rules}, page, per_page, total)


#: Statements of the queue's pages kept per process, the least recently used dropped beyond this many. Building the
#: union of the rules as SQLAlchemy expressions cost a dashboard view more than running it did (about 20 ms of
#: Python at 5,000 patients, README "Benchmark"), so a page's statement is built once for its shape (the user's
#: scope and filters, the sort, the page, the clinic's calendar and the protocols) and run again with each view's
#: moment (``Scope.moments``, named bind parameters).
KEPT_STATEMENTS = 128
_kept: OrderedDict[Hashable, tuple[object, CompoundSelect[Any]]] = OrderedDict()
_kept_lock = threading.Lock()


def _statement(scope: Scope, filters: Filters, page: int, per_page: int, rules: Sequence[Rule]) -> CompoundSelect[Any]:
    """The page's statement: kept for its shape when the scope has a key, else built for this view alone."""
    if scope.key is None:
        return _build(scope, filters, page, per_page, rules)
    policy = scope.policy
    # The protocols by identity (frozen, loaded at start-up; the entry holds them, so no identity is reused while
    # it is kept), the calendar's zone and window (in the SQL's text), everything else the statement depends on.
    key = (
        scope.key,
        scope.author_id,
        policy.zone_name,
        policy.after_dosing_window_days,
        tuple((code, id(protocol)) for code, protocol in policy.protocols.items()),
        tuple(rule.kind for rule in rules),
        filters.kind,
        filters.sort,
        page,
        per_page,
    )
    with _kept_lock:
        kept = _kept.get(key)
        if kept is not None:
            _kept.move_to_end(key)
            return kept[1]
    built = _build(scope, filters, page, per_page, rules)
    with _kept_lock:
        _kept[key] = (policy.protocols, built)
        while len(_kept) > KEPT_STATEMENTS:
            _kept.popitem(last=False)
    return built


def _build(scope: Scope, filters: Filters, page: int, per_page: int, rules: Sequence[Rule]) -> CompoundSelect[Any]:
    items = queue(scope, [rule.kind for rule in rules]).cte("item")
    counts = select(
        literal("count").label("row_type"),
        items.c.kind,
        func.count().label("total"),
        *(null().label(name) for name in _ITEM_COLUMNS),
    ).group_by(items.c.kind)
    ordered = (
        select(
            items.c.kind,
            func.row_number().over(order_by=_order(items, filters.sort)).label("position"),
            items.c.patient_id,
            items.c.since,
            items.c.target_id,
            items.c.number,
            items.c.detail,
            Patient.given_name,
            Patient.family_name,
            Patient.record_number,
            Patient.phase,
            Patient.protocol_code,
        )
        .join(Patient, Patient.id == items.c.patient_id)
        .where(items.c.kind == filters.kind.value if filters.kind else true())
        .order_by(*_order(items, filters.sort))
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
        .subquery("page_item")
    )
    rows_of_page = select(
        literal("item").label("row_type"),
        ordered.c.kind,
        ordered.c.position,
        *(ordered.c[name] for name in _ITEM_COLUMNS),
    )
    return union_all(counts, rows_of_page)


#: The columns of an item row after ``row_type``, ``kind`` and the position.
_ITEM_COLUMNS = (
    "patient_id",
    "since",
    "target_id",
    "number",
    "detail",
    "given_name",
    "family_name",
    "record_number",
    "phase",
    "protocol_code",
)


def _item(row: Any, scope: Scope) -> Item:
    rule = BY_KIND[Kind(row.kind)]
    since = _aware(row.since)
    after = rule.due_after(scope.policy, row.protocol_code)
    return Item(
        rule=rule,
        patient_id=row.patient_id,
        patient_name=f"{row.family_name}, {row.given_name}",
        record_number=row.record_number,
        phase=Phase(row.phase),
        since=since,
        due=since + after if after is not None else None,
        target_id=row.target_id,
        number=row.number,
        detail=row.detail,
    )


def _aware(value: datetime | str) -> datetime:
    """A union column loses the column type, so SQLite hands back text: read it as the UTC time it is."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class TherapistCaseload:
    therapist_id: int
    name: str
    by_phase: dict[Phase, int]

    @property
    def total(self) -> int:
        return sum(self.by_phase.values())


def caseloads(db: AnySession, therapists: Sequence[tuple[int, str]], ids: Select[Any]) -> list[TherapistCaseload]:
    """Patients per therapist (any role on the care team) by phase, for ``therapists``: one GROUP BY."""
    if not therapists:
        return []
    counts: dict[int, dict[Phase, int]] = {therapist_id: {} for therapist_id, _ in therapists}
    rows = db.execute(
        select(CareTeamMember.user_id, Patient.phase, func.count())
        .join(Patient, Patient.id == CareTeamMember.patient_id)
        .where(CareTeamMember.user_id.in_(list(counts)), Patient.id.in_(ids))
        .group_by(CareTeamMember.user_id, Patient.phase)
    )
    for user_id, phase, total in rows:
        counts[user_id][Phase(phase)] = total
    return [TherapistCaseload(therapist_id, name, counts[therapist_id]) for therapist_id, name in therapists]


@dataclass(frozen=True)
class DaySession:
    session_id: int
    patient_id: int
    patient_name: str
    kind: SessionKind
    cycle: int | None
    when: datetime
    held: bool


def week_sessions(db: AnySession, user: User, today: date, tz: tzinfo, limit: int = 200) -> list[DaySession]:
    """The sessions of ``user``'s own patients this week (Monday to Sunday on the clinic's calendar, ``tz``; a week
    with a daylight-saving change is an hour shorter or longer), held or scheduled, in time order: one statement
    with the patients' names."""
    monday = week_start(today)
    start, end = start_of_day(monday, tz), start_of_day(monday + timedelta(days=7), tz)
    when = func.coalesce(TherapySession.held_at, TherapySession.scheduled_at)
    own = select(CareTeamMember.patient_id).where(CareTeamMember.user_id == user.id)
    rows = db.execute(
        select(
            TherapySession.id,
            TherapySession.patient_id,
            TherapySession.kind,
            TherapySession.cycle,
            TherapySession.held_at,
            TherapySession.scheduled_at,
            Patient.given_name,
            Patient.family_name,
        )
        .join(Patient, Patient.id == TherapySession.patient_id)
        .where(
            TherapySession.patient_id.in_(own),
            Patient.clinic_id == user.clinic_id,
            or_(
                and_(TherapySession.held_at >= start, TherapySession.held_at < end),
                and_(
                    TherapySession.held_at.is_(None),
                    TherapySession.scheduled_at >= start,
                    TherapySession.scheduled_at < end,
                ),
            ),
        )
        .order_by(when, TherapySession.id)
        .limit(limit)
    )
    return [
        DaySession(
            row.id,
            row.patient_id,
            f"{row.family_name}, {row.given_name}",
            SessionKind(row.kind),
            row.cycle,
            row.held_at or row.scheduled_at,
            row.held_at is not None,
        )
        for row in rows
    ]


def make_scope(
    ids: Select[Any],
    now: datetime,
    clinic: Clinic,
    protocols: Mapping[str, Any],
    author_id: int | None = None,
    key: Hashable | None = None,
) -> Scope:
    """The rules' scope: ``ids`` as a CTE, so the statement works out whose patients they are once, not once per
    rule; the windows and the calendar are ``clinic``'s; ``author_id``: a therapist's own day (their returned
    notes only); ``key``: what ``ids`` depends on (``scope_key``), so the page's statement can be kept."""
    patients = ids.cte("scope_patient")
    return Scope(select(patients.c.id), now, Policy.of_clinic(clinic, protocols), author_id, key)


def scope_key(user: User, filters: Filters, *, own_only: bool = False) -> Hashable:
    """Everything ``patient_ids(user, filters, own_only=own_only)`` depends on (its statement's text and values)."""
    return (
        user.id,
        user.clinic_id,
        user.is_clinician,
        user.is_supervisor,
        own_only,
        filters.therapist_id,
        filters.phase,
        filters.protocol,
    )

"""What needs a clinician's attention: one small rule per kind of item, shared by the supervisor dashboard and the
therapist's day.

Each rule is a SQLAlchemy Core ``select`` over indexed columns returning the same columns (``kind``, ``rank``,
``patient_id``, ``since``, ``target_id``, ``number``), restricted to a set of patient ids the caller chooses (the
user's scope with the page's filters applied). The queue is the ``UNION ALL`` of the rules, ordered by urgency then
age, so a clinic's new rule is one more function in ``RULES`` and nothing else changes. No ORM objects are built:
a page of 25 rows out of a caseload of hundreds costs a handful of statements (rows, not ORM objects to
hydrate; the issue's reference figures).

Where each window comes from:

- protocol data: the next-day follow-up contact (``tracker.notes.signing.FOLLOW_UP_WINDOW``, the same window
  signing a dosing note checks), the integration session after a dosing session (the protocol's
  ``sessions.integration_within_days``), the measures due after each dosing session (the protocol's ``measures``
  with ``MEASURE_AFTER_DOSING_WINDOW_DAYS``, as ``tracker.schedule`` reads them);
- clinic policy (each clinic's settings; config.py ``ATTENTION_*`` gives a new clinic its values): notes unsigned
  after 24 hours, serious adverse events of the last 30 days, patients in an active phase with no session for 30
  days, emergency access unreviewed after 24 hours.

Days (the measures' windows, "today") are the clinic's calendar days, in its time zone (``tracker.sqldates``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Date,
    Integer,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import QueryableAttribute, aliased

from tracker.adverse_events import SERIOUS
from tracker.clinictime import DEFAULT_ZONE, day_of, start_of_day, zone
from tracker.models import (
    ACTIVE_PHASES,
    AdverseEvent,
    AnswerValue,
    Clinic,
    CosignDecision,
    CosignOutcome,
    EmergencyAccess,
    EmergencyReview,
    MeasureResult,
    Patient,
    Phase,
    SafetyAlert,
    ScreeningAnswer,
    ScreeningChecklist,
    ScreeningReview,
    SessionKind,
    SessionNote,
    TherapySession,
)
from tracker.notes.signing import FOLLOW_UP_WINDOW
from tracker.protocols import ItemKind, Protocol
from tracker.sessions.queries import cosign_pending, cosign_returned
from tracker.sqldates import day_of as sql_day_of
from tracker.sqldates import days_after


class Kind(enum.StrEnum):
    """The kinds of item, in the order of urgency (``RULES`` gives each its rank)."""

    SAFETY_ALERT = "safety_alert"
    SERIOUS_ADVERSE_EVENT = "serious_adverse_event"
    FOLLOW_UP_CONTACT = "follow_up_contact"
    SCREENING_REVIEW = "screening_review"
    EMERGENCY_REVIEW = "emergency_review"
    COSIGNATURE = "cosignature"
    RETURNED_NOTE = "returned_note"
    UNSIGNED_NOTE = "unsigned_note"
    INTEGRATION_SESSION = "integration_session"
    MEASURE_OVERDUE = "measure_overdue"
    NO_RECENT_SESSION = "no_recent_session"


#: Most urgent first: the order of ``Kind``.
RANKS: dict[Kind, int] = {kind: rank for rank, kind in enumerate(Kind, start=1)}


@dataclass(frozen=True)
class Policy:
    """Everything the rules need besides the database: the protocols and the clinic's windows and time zone."""

    protocols: Mapping[str, Protocol]
    #: A held session's note unsigned this long after the session (the clinic's ``attention_note_unsigned_hours``).
    note_unsigned_after: timedelta = timedelta(hours=24)
    #: Serious adverse events this recent are listed (``attention_serious_ae_days``).
    serious_event_within: timedelta = timedelta(days=30)
    #: An active patient with no session held this long is listed (``attention_no_session_days``).
    no_session_after: timedelta = timedelta(days=30)
    #: "After each dosing" measures are due from the next day for this many days (``tracker.schedule``).
    after_dosing_window_days: int = 14
    #: An emergency access grant still unreviewed this long after it was made is listed
    #: (``attention_emergency_review_hours``).
    emergency_review_after: timedelta = timedelta(hours=24)
    #: The clinic's IANA time zone: whose calendar days the measures' windows count.
    zone_name: str = DEFAULT_ZONE

    @classmethod
    def of_clinic(cls, clinic: Clinic, protocols: Mapping[str, Protocol]) -> Policy:
        """The policy of ``clinic`` (a ``tracker.models.Clinic``)."""
        return cls(
            protocols=protocols,
            note_unsigned_after=timedelta(hours=clinic.attention_note_unsigned_hours),
            serious_event_within=timedelta(days=clinic.attention_serious_ae_days),
            no_session_after=timedelta(days=clinic.attention_no_session_days),
            after_dosing_window_days=clinic.measure_after_dosing_window_days,
            emergency_review_after=timedelta(hours=clinic.attention_emergency_review_hours),
            zone_name=clinic.zone.key,
        )

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.zone_name)

    def integration_window(self, protocol_code: str) -> timedelta | None:
        protocol = self.protocols.get(protocol_code)
        if protocol is None or not protocol.sessions.integration_per_dosing:
            return None
        days = protocol.sessions.integration_within_days
        return None if days is None else timedelta(days=days)

    def measures_after_dosing(self) -> dict[str, list[str]]:
        """Instrument -> the protocols that want it after each dosing session."""
        wanted: dict[str, list[str]] = {}
        for protocol in self.protocols.values():
            for measure in protocol.measures:
                if "after_each_dosing" in measure.timepoints:
                    wanted.setdefault(measure.instrument, []).append(protocol.code)
        return wanted


@dataclass(frozen=True)
class Scope:
    """The patients a page looks at (a subquery of patient ids) and the moment it is computed for."""

    patient_ids: Select[Any]
    now: datetime
    policy: Policy
    #: The therapist whose own day it is: notes returned to them only (None: every returned note in the scope).
    author_id: int | None = None
    #: What ``patient_ids`` depends on (the user and the page's filters), when the caller knows it: a page's
    #: statement is then built once for that key and run again with the new moment (``tracker.dashboard.queries``).
    key: Hashable | None = None

    @property
    def today(self) -> date:
        """The clinic's date at ``now``."""
        return day_of(self.now, self.policy.zone)

    @cached_property
    def moments(self) -> dict[str, Any]:
        """The rules' values that change with ``now`` (and the clinic's windows), by bind parameter name: a
        statement built for one moment runs for another with these (``session.execute(statement, moments)``)."""
        policy, now = self.policy, self.now
        values: dict[str, Any] = {
            "serious_event_since": now - policy.serious_event_within,
            "follow_up_held_before": now - FOLLOW_UP_WINDOW,
            "emergency_granted_before": now - policy.emergency_review_after,
            "note_held_before": now - policy.note_unsigned_after,
            "measure_held_before": start_of_day(self.today - timedelta(days=1), policy.zone),
            "measure_today": self.today,
            "no_session_since": now - policy.no_session_after,
        }
        for code in policy.protocols:
            window = policy.integration_window(code)
            if window is not None:
                values[_integration_moment(code)] = now - window
        return values


def _integration_moment(code: str) -> str:
    """The bind parameter name of a protocol's integration deadline (a name of letters, digits and _)."""
    return "integration_held_before_" + "".join(c if c.isalnum() else "_" for c in code)


def _moment(scope: Scope, name: str, compared_to: Any) -> BindParameter[Any]:
    """``scope.moments[name]`` as a named bind parameter of the type of the column it is compared to."""
    return bindparam(name, scope.moments[name], type_=compared_to.type)


#: A column or an ORM attribute.
Expression = ColumnElement[Any] | QueryableAttribute[Any]


def _row(
    kind: Kind,
    patient_id: Expression,
    since: Expression,
    target_id: Expression | None = None,
    number: Expression | None = None,
    detail: Expression | None = None,
) -> list[ColumnElement[Any]]:
    """The uniform columns of every rule; ``detail`` is a short text the queue prints (a returned note's
    comment)."""
    return [
        literal(kind.value, String(40)).label("kind"),
        literal(RANKS[kind], Integer).label("rank"),
        patient_id.label("patient_id"),
        since.label("since"),
        (target_id if target_id is not None else cast(null(), Integer)).label("target_id"),
        (number if number is not None else cast(null(), Integer)).label("number"),
        (detail if detail is not None else cast(null(), Text)).label("detail"),
    ]


# The rules. ----------------------------------------------------------------------------------------------------


def safety_alerts(scope: Scope) -> Select[Any]:
    """Safety alerts nobody has acknowledged yet (partial index ``ix_safety_alert_open``)."""
    return select(*_row(Kind.SAFETY_ALERT, SafetyAlert.patient_id, SafetyAlert.raised_at, SafetyAlert.id)).where(
        SafetyAlert.acknowledged_at.is_(None), SafetyAlert.patient_id.in_(scope.patient_ids)
    )


def serious_adverse_events(scope: Scope) -> Select[Any]:
    """Serious adverse events whose onset was within the clinic's window (30 days by default)."""
    return (
        select(
            *_row(
                Kind.SERIOUS_ADVERSE_EVENT,
                TherapySession.patient_id,
                AdverseEvent.onset_at,
                TherapySession.id,
                TherapySession.cycle,
            )
        )
        .join(SessionNote, SessionNote.id == AdverseEvent.note_id)
        .join(TherapySession, TherapySession.id == SessionNote.session_id)
        .where(
            SERIOUS.is_(True),  # as it stands after any signed correction
            AdverseEvent.onset_at >= _moment(scope, "serious_event_since", AdverseEvent.onset_at),
            TherapySession.patient_id.in_(scope.patient_ids),
        )
    )


def _held_dosing() -> Any:
    return aliased(TherapySession, name="dosing")


def follow_up_contacts(scope: Scope) -> Select[Any]:
    """Dosing sessions of active patients whose next-day follow-up contact was not held within the window signing
    checks (``FOLLOW_UP_WINDOW`` after the session's start); listed once the window has passed, until a contact of
    that cycle is held (late or not)."""
    dosing = _held_dosing()
    contact = aliased(TherapySession, name="contact")
    made = exists().where(
        contact.patient_id == dosing.patient_id,
        contact.kind == SessionKind.FOLLOW_UP,
        contact.cycle == dosing.cycle,
        contact.held_at.is_not(None),
    )
    return (
        select(*_row(Kind.FOLLOW_UP_CONTACT, dosing.patient_id, dosing.held_at, dosing.id, dosing.cycle))
        .join(Patient, Patient.id == dosing.patient_id)  # one seek per session, not a list of the clinic's patients
        .where(
            dosing.kind == SessionKind.DOSING,
            dosing.held_at < _moment(scope, "follow_up_held_before", dosing.held_at),
            dosing.patient_id.in_(scope.patient_ids),
            Patient.phase.in_([p.value for p in ACTIVE_PHASES]),
            ~made,
        )
    )


def screening_reviews(scope: Scope) -> Select[Any]:
    """Review items answered "yes" on the patient's current checklist with no supervisor's decision on that
    answer, for patients who may still be dosed (as the screening review queue; items raised only by a
    medication are left to that queue, which needs the medication rules in Python)."""
    review_items = [
        and_(ScreeningChecklist.protocol_code == code, ScreeningAnswer.item_id.in_(ids))
        for code, protocol in scope.policy.protocols.items()
        if (ids := [item.id for item in protocol.screening if item.kind is ItemKind.REVIEW])
    ]
    newer_answer = aliased(ScreeningAnswer)
    newer_checklist = aliased(ScreeningChecklist)
    decided = exists().where(
        ScreeningReview.checklist_id == ScreeningChecklist.id,
        ScreeningReview.item_id == ScreeningAnswer.item_id,
        ScreeningReview.basis.startswith(literal("answer:") + cast(ScreeningAnswer.id, String)),
    )
    return (
        select(
            *_row(
                Kind.SCREENING_REVIEW, ScreeningChecklist.patient_id, ScreeningAnswer.answered_at, ScreeningChecklist.id
            )
        )
        .join(ScreeningChecklist, ScreeningChecklist.id == ScreeningAnswer.checklist_id)
        .join(Patient, Patient.id == ScreeningChecklist.patient_id)
        .where(
            ScreeningChecklist.patient_id.in_(scope.patient_ids),
            ScreeningChecklist.protocol_code == Patient.protocol_code,
            Patient.phase.not_in([Phase.COMPLETED.value, Phase.DISCONTINUED.value]),
            ScreeningAnswer.answer == AnswerValue.YES,
            or_(*review_items) if review_items else false(),
            ~exists().where(
                newer_answer.checklist_id == ScreeningAnswer.checklist_id,
                newer_answer.item_id == ScreeningAnswer.item_id,
                newer_answer.id > ScreeningAnswer.id,
            ),
            ~exists().where(
                newer_checklist.patient_id == ScreeningChecklist.patient_id,
                newer_checklist.protocol_code == ScreeningChecklist.protocol_code,
                newer_checklist.id > ScreeningChecklist.id,
            ),
            ~decided,
        )
    )


def emergency_reviews(scope: Scope) -> Select[Any]:
    """Emergency access grants to patients in the scope with no supervisor's review a day after they were made
    (``tracker.emergency.reviews``); ``target_id`` is the grant."""
    reviewed = exists().where(EmergencyReview.access_id == EmergencyAccess.id)
    return select(
        *_row(Kind.EMERGENCY_REVIEW, EmergencyAccess.patient_id, EmergencyAccess.granted_at, EmergencyAccess.id)
    ).where(
        EmergencyAccess.patient_id.in_(scope.patient_ids),
        EmergencyAccess.granted_at < _moment(scope, "emergency_granted_before", EmergencyAccess.granted_at),
        ~reviewed,
    )


def cosignatures(scope: Scope) -> Select[Any]:
    """Signed notes waiting for a supervisor's co-signature (the co-sign queue's rule)."""
    return (
        select(
            *_row(
                Kind.COSIGNATURE,
                TherapySession.patient_id,
                SessionNote.signed_at,
                TherapySession.id,
                TherapySession.cycle,
            )
        )
        .join(TherapySession, TherapySession.id == SessionNote.session_id)
        .where(cosign_pending(), TherapySession.patient_id.in_(scope.patient_ids))
    )


def returned_notes(scope: Scope) -> Select[Any]:
    """Signed notes whose supervisor returned them with a comment that no addendum has answered yet (the
    "returned" list of ``/notes/mine``): ``since`` is the return, ``detail`` the supervisor's comment. On a
    therapist's own day, only the notes they signed."""
    latest = aliased(CosignDecision, name="returned_decision")
    later = aliased(CosignDecision, name="later_decision")
    newer = exists().where(
        later.note_id == latest.note_id,
        or_(later.decided_at > latest.decided_at, and_(later.decided_at == latest.decided_at, later.id > latest.id)),
    )
    query = (
        select(
            *_row(
                Kind.RETURNED_NOTE,
                TherapySession.patient_id,
                latest.decided_at,
                TherapySession.id,
                TherapySession.cycle,
                latest.comment,
            )
        )
        .join(SessionNote, SessionNote.id == latest.note_id)
        .join(TherapySession, TherapySession.id == SessionNote.session_id)
        .where(
            latest.decision == CosignOutcome.RETURNED,
            ~newer,
            cosign_returned(),
            TherapySession.patient_id.in_(scope.patient_ids),
        )
    )
    if scope.author_id is not None:
        query = query.where(SessionNote.signed_by_id == scope.author_id)
    return query


def unsigned_notes(scope: Scope) -> Select[Any]:
    """Held sessions whose note is still unsigned (a draft, or not started) after the clinic's window."""
    return (
        select(
            *_row(
                Kind.UNSIGNED_NOTE,
                TherapySession.patient_id,
                TherapySession.held_at,
                TherapySession.id,
                TherapySession.cycle,
            )
        )
        .outerjoin(SessionNote, SessionNote.session_id == TherapySession.id)
        .where(
            TherapySession.held_at < _moment(scope, "note_held_before", TherapySession.held_at),
            SessionNote.signed_at.is_(None),
            TherapySession.patient_id.in_(scope.patient_ids),
        )
    )


def integration_sessions(scope: Scope) -> Select[Any]:
    """Dosing sessions of active patients with no integration session of their cycle held once the protocol's
    ``integration_within_days`` have passed; listed until one is held (late or not). Protocols without
    integration sessions, or without that window, have no such rule."""
    windows = {code: w for code in scope.policy.protocols if (w := scope.policy.integration_window(code))}
    dosing = _held_dosing()
    later = aliased(TherapySession, name="integration")
    held = exists().where(
        later.patient_id == dosing.patient_id,
        later.kind == SessionKind.INTEGRATION,
        later.cycle == dosing.cycle,
        later.held_at.is_not(None),
    )
    late = [
        and_(Patient.protocol_code == code, dosing.held_at < _moment(scope, _integration_moment(code), dosing.held_at))
        for code in windows
    ]
    return (
        select(*_row(Kind.INTEGRATION_SESSION, dosing.patient_id, dosing.held_at, dosing.id, dosing.cycle))
        .join(Patient, Patient.id == dosing.patient_id)
        .where(
            dosing.kind == SessionKind.DOSING,
            dosing.held_at.is_not(None),
            dosing.patient_id.in_(scope.patient_ids),
            Patient.phase.in_([p.value for p in ACTIVE_PHASES]),
            or_(*late) if late else false(),
            ~held,
        )
    )


def measures_overdue(scope: Scope) -> Select[Any]:
    """Dosing sessions of active patients after which a measure the protocol wants after each dosing session has
    no result in its window, once the window has closed. The window is ``tracker.schedule``'s: from the day after
    the session for ``MEASURE_AFTER_DOSING_WINDOW_DAYS``, closing early on the day of the next dosing session
    (both ends included). One row per dosing session."""
    days, zone_name = scope.policy.after_dosing_window_days, scope.policy.zone_name
    dosing = _held_dosing()
    following = aliased(TherapySession, name="next_dosing")
    next_day = sql_day_of(following.held_at, zone_name)
    full = days_after(dosing.held_at, days, zone_name)
    # CASE rather than LEAST/min(), which SQLite and PostgreSQL spell differently; no next session: the full window.
    closes = case((next_day < full, next_day), else_=full)
    missing = [
        and_(
            Patient.protocol_code.in_(codes),
            ~exists().where(
                MeasureResult.patient_id == dosing.patient_id,
                MeasureResult.instrument == instrument,
                MeasureResult.administered_on >= days_after(dosing.held_at, 1, zone_name),
                MeasureResult.administered_on <= closes,
            ),
        )
        for instrument, codes in sorted(scope.policy.measures_after_dosing().items())
    ]
    return (
        select(*_row(Kind.MEASURE_OVERDUE, dosing.patient_id, dosing.held_at, dosing.id, dosing.cycle))
        .join(Patient, Patient.id == dosing.patient_id)
        # The next dosing session, if held: one lookup in the unique (patient, cycle) index of dosing sessions.
        .outerjoin(
            following,
            and_(
                following.patient_id == dosing.patient_id,
                following.kind == SessionKind.DOSING,
                following.cycle == dosing.cycle + 1,
                following.held_at.is_not(None),
            ),
        )
        .where(
            dosing.kind == SessionKind.DOSING,
            # The window opens the day after the session, so it cannot have closed before yesterday.
            dosing.held_at < _moment(scope, "measure_held_before", dosing.held_at),
            dosing.patient_id.in_(scope.patient_ids),
            Patient.phase.in_([p.value for p in ACTIVE_PHASES]),
            closes < bindparam("measure_today", scope.moments["measure_today"], type_=Date()),
            or_(*missing) if missing else false(),
        )
    )


def no_recent_sessions(scope: Scope) -> Select[Any]:
    """Patients in an active phase, enrolled before the window, with no session held within it (30 days by
    default); ``since`` is their last session held, or their enrolment if they never had one, and ``number`` the
    sessions they have had (0: ``since`` is the enrolment, never a session)."""
    cutoff = _moment(scope, "no_session_since", Patient.created_at)
    held = select(TherapySession.held_at).where(
        TherapySession.patient_id == Patient.id, TherapySession.held_at.is_not(None)
    )
    last_held = held.with_only_columns(func.max(TherapySession.held_at)).correlate(Patient).scalar_subquery()
    count = held.with_only_columns(func.count()).correlate(Patient).scalar_subquery()
    return select(
        *_row(Kind.NO_RECENT_SESSION, Patient.id, func.coalesce(last_held, Patient.created_at), number=count)
    ).where(
        Patient.id.in_(scope.patient_ids),
        Patient.phase.in_([p.value for p in ACTIVE_PHASES]),
        Patient.created_at < cutoff,
        ~exists().where(TherapySession.patient_id == Patient.id, TherapySession.held_at >= cutoff),
    )


@dataclass(frozen=True)
class Rule:
    kind: Kind
    #: What the queue calls it, and the tab's name.
    label: str
    query: Callable[[Scope], Select[Any]]
    #: What ``since`` means for this kind (shown beside the date).
    since_label: str
    #: How long after ``since`` it was due, for a protocol code; None when it is due at ``since``.
    due_after: Callable[[Policy, str], timedelta | None] = field(default=lambda policy, code: None)
    #: Acted on by a supervisor only (a review decision, a co-signature): not on the therapist's day.
    supervisors_only: bool = False


RULES: tuple[Rule, ...] = (
    Rule(Kind.SAFETY_ALERT, "Safety alerts", safety_alerts, "raised"),
    Rule(Kind.SERIOUS_ADVERSE_EVENT, "Serious adverse events", serious_adverse_events, "onset"),
    Rule(
        Kind.FOLLOW_UP_CONTACT,
        "Follow-up contacts not made",
        follow_up_contacts,
        "dosing held",
        lambda policy, code: FOLLOW_UP_WINDOW,
    ),
    Rule(Kind.SCREENING_REVIEW, "Screening reviews", screening_reviews, "answered", supervisors_only=True),
    Rule(
        Kind.EMERGENCY_REVIEW,
        "Emergency access to review",
        emergency_reviews,
        "granted",
        lambda policy, code: policy.emergency_review_after,
        supervisors_only=True,
    ),
    Rule(Kind.COSIGNATURE, "Co-signatures", cosignatures, "signed", supervisors_only=True),
    Rule(Kind.RETURNED_NOTE, "Returned notes", returned_notes, "returned"),
    Rule(
        Kind.UNSIGNED_NOTE,
        "Unsigned notes",
        unsigned_notes,
        "session held",
        lambda policy, code: policy.note_unsigned_after,
    ),
    Rule(
        Kind.INTEGRATION_SESSION,
        "Integration sessions not held",
        integration_sessions,
        "dosing held",
        lambda policy, code: policy.integration_window(code),
    ),
    Rule(
        Kind.MEASURE_OVERDUE,
        "Measures overdue",
        measures_overdue,
        "dosing held",
        lambda policy, code: timedelta(days=policy.after_dosing_window_days + 1),
    ),
    Rule(
        Kind.NO_RECENT_SESSION,
        "No recent session",
        no_recent_sessions,
        "last session",
        lambda policy, code: policy.no_session_after,
    ),
)

BY_KIND: dict[Kind, Rule] = {rule.kind: rule for rule in RULES}
#: The rules of the therapist's day: everything a therapist acts on themselves.
THERAPIST_RULES: tuple[Rule, ...] = tuple(rule for rule in RULES if not rule.supervisors_only)


def queue(scope: Scope, kinds: Sequence[Kind] | None = None) -> CompoundSelect[Any]:
    """The union of the rules (all of them, or ``kinds``) over ``scope``: one row per item."""
    chosen = [rule for rule in RULES if kinds is None or rule.kind in kinds]
    return union_all(*(rule.query(scope) for rule in chosen))

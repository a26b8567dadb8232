"""Questionnaire links: send, withdraw, find by token, and submit once.

The token is 32 random bytes (``secrets.token_urlsafe``), shown once to the clinician and stored only as its
SHA-256: a copy of the database opens no questionnaire. A link expires ``QUESTIONNAIRE_LINK_HOURS`` after it was
sent (a clinic setting, 72 by default), can be withdrawn, and is used once: ``submit`` marks it used with an UPDATE
that only matches a link still open, in the same transaction as the results, so a replayed or concurrent
submission changes nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from tracker import audit
from tracker.extensions import db
from tracker.instruments import (
    Administration,
    Flag,
    Instrument,
    ScoringError,
    Wording,
    get_instrument,
    instruments,
    score,
)
from tracker.instruments.definition import FlagRule
from tracker.models import MeasureResult, Patient, QuestionnaireLink, User
from tracker.outcomes.services import record_patient_reported
from tracker.validators import FieldError

#: How many instruments one link may carry.
MAX_INSTRUMENTS = 6
#: Token length in bytes (URL-safe base64 makes 43 characters of it).
TOKEN_BYTES = 32


class LinkError(FieldError):
    """A link refused for a reason shown next to ``field``."""


class LinkClosed(Exception):
    """The link is unknown, used, withdrawn or expired; ``reason`` says which (for the audit trail and the page),
    and ``link`` is the link when the token matched one."""

    def __init__(self, reason: str, link: QuestionnaireLink | None = None) -> None:
        super().__init__(reason)
        self.reason, self.link = reason, link


def sendable() -> list[Instrument]:
    """The instruments a patient may fill in alone: self-report questionnaires whose published wording the file
    holds (a clinician rates the MADRS; the C-SSRS screener is asked by a clinician or trained staff; the QIDS-SR16
    file holds item labels only, which a patient cannot answer from)."""
    return [
        i
        for i in instruments().values()
        if i.administration is Administration.SELF_REPORT and i.wording is Wording.VERBATIM
    ]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def send_link(
    actor: User, patient: Patient, codes: Sequence[str], now: datetime, hours: int
) -> tuple[QuestionnaireLink, str]:
    """A new link for ``codes`` (in that order), and its token (returned once, never stored).

    :raise LinkError: no instrument, too many, an unknown one, or one the patient cannot fill in alone.
    """
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        raise LinkError("instruments", "Choose at least one measure to send.")
    if len(wanted) > MAX_INSTRUMENTS:
        raise LinkError("instruments", f"Send at most {MAX_INSTRUMENTS} measures in one link.")
    allowed = {i.code for i in sendable()}
    refused = [code for code in wanted if code not in allowed]
    if refused:
        raise LinkError(
            "instruments", "Only self-report questionnaires with their published wording can be sent to the patient."
        )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = QuestionnaireLink(
        patient_id=patient.id,
        instruments=wanted,
        token_hash=hash_token(token),
        created_by_id=actor.id,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    db.session.add(link)
    db.session.flush()
    audit.record(
        actor,
        "questionnaire.send",
        f"Sent {', '.join(get_instrument(c).short_name for c in wanted)} to the patient",
        patient=patient,
        target_type="questionnaire_link",
        target_id=link.id,
        data={"instruments": wanted, "expires_at": link.expires_at},
    )
    return link, token


def withdraw(actor: User, patient: Patient, link: QuestionnaireLink, now: datetime) -> None:
    """Close an open link so it can no longer be used. :raise LinkError: it was used or closed already."""
    changed = db.session.execute(
        update(QuestionnaireLink)
        .where(
            QuestionnaireLink.id == link.id,
            QuestionnaireLink.used_at.is_(None),
            QuestionnaireLink.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now, withdrawn_by_id=actor.id)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkError("link", "This link was used or withdrawn already.")
    audit.record(
        actor,
        "questionnaire.withdraw",
        "Withdrew a questionnaire link",
        patient=patient,
        target_type="questionnaire_link",
        target_id=link.id,
    )


def find_open(token: str, now: datetime) -> QuestionnaireLink:
    """The open link of ``token``, with its patient loaded.

    :raise LinkClosed: unknown (or malformed) token, used, withdrawn or expired.
    """
    if not token or len(token) > 100:
        raise LinkClosed("unknown")
    link = db.session.scalar(select(QuestionnaireLink).where(QuestionnaireLink.token_hash == hash_token(token)))
    if link is None:
        raise LinkClosed("unknown")
    if link.used_at is not None:
        raise LinkClosed("used", link)
    if link.withdrawn_at is not None:
        raise LinkClosed("withdrawn", link)
    if link.expires_at <= now:
        raise LinkClosed("expired", link)
    return link


@dataclass(frozen=True)
class Submitted:
    results: list[MeasureResult]

    @property
    def urgent(self) -> bool:
        return any(r.urgent_flags for r in self.results)


class AnswersRefused(Exception):
    """Some answers cannot be scored: ``problems`` maps (instrument code, item number or 0) to a message."""

    def __init__(self, problems: dict[tuple[str, int], str]) -> None:
        super().__init__("answers refused")
        self.problems = problems


def submit(link: QuestionnaireLink, answers: Mapping[str, list[Any]], today: date, now: datetime) -> Submitted:
    """Record each instrument's answers as a result filled in by the patient, and close the link.

    Every instrument is scored before anything is written, so refused answers leave the link open and nothing
    saved; the caller commits.

    :raise AnswersRefused: answers that ``tracker.instruments.score`` refuses, each with its item.
    :raise LinkClosed: the link was used, withdrawn or expired meanwhile (by a concurrent submission).
    """
    from tracker.instruments import item_problems, score

    problems: dict[tuple[str, int], str] = {}
    for code in link.instruments:
        given = answers.get(code, [])
        try:
            score(code, given)
        except ScoringError as error:
            found = item_problems(get_instrument(code), given) or {error.item or 0: str(error)}
            problems.update({(code, item): message for item, message in found.items()})
    if problems:
        raise AnswersRefused(problems)
    closed = db.session.execute(
        update(QuestionnaireLink)
        .where(
            QuestionnaireLink.id == link.id,
            QuestionnaireLink.used_at.is_(None),
            QuestionnaireLink.withdrawn_at.is_(None),
            QuestionnaireLink.expires_at > now,
        )
        .values(used_at=now, result_ids=[])
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkClosed("used", link)
    patient = db.session.get(Patient, link.patient_id)
    sender = db.session.get(User, link.created_by_id)
    assert patient is not None and sender is not None
    results = [
        record_patient_reported(sender, patient, code, list(answers[code]), today, link.id) for code in link.instruments
    ]
    db.session.execute(
        update(QuestionnaireLink)
        .where(QuestionnaireLink.id == link.id)
        .values(result_ids=[r.id for r in results])
        .execution_options(synchronize_session=False)
    )
    audit.record(
        None,
        "questionnaire.submit",
        "The patient submitted a questionnaire link",
        patient=patient,
        target_type="questionnaire_link",
        target_id=link.id,
        data={"results": [r.id for r in results]},
    )
    return Submitted(results)


def urgent_flags(codes: Sequence[str], answers: Mapping[str, Sequence[object]]) -> list[Flag]:
    """The urgent flags ``answers`` raise: by ``score`` when an instrument's answers are complete, otherwise by each
    urgent rule on one item (PHQ-9 item 9 above 0) over the answers given. For answers that will not be stored (a
    link closed meanwhile), so that an urgent one still reaches the care team, as high risk as its flags say."""
    found: dict[tuple[str, str], Flag] = {}
    for code in codes:
        instrument = get_instrument(code)
        given = list(answers.get(code, []))
        try:
            flags = [flag for flag in score(code, given).flags if flag.urgent]
        except ScoringError:
            flags = [
                Flag(rule.code, rule.message, rule.urgent, rule.source, rule.high_risk)
                for rule in instrument.flags
                if _item_rule_raised(instrument, rule, given)
            ]
        found.update(((code, flag.code), flag) for flag in flags)
    return list(found.values())


def _item_rule_raised(instrument: Instrument, rule: FlagRule, given: Sequence[object]) -> bool:
    """An urgent rule on one item, raised by that item's answer alone (an answer of the item's scale)."""
    if not (rule.urgent and rule.item is not None and rule.at_least is not None) or rule.item > len(given):
        return False
    value = given[rule.item - 1]
    if not isinstance(value, int) or isinstance(value, bool) or value not in instrument.item(rule.item).scale.values:
        return False
    return value >= rule.at_least and (rule.at_most is None or value <= rule.at_most)


def links_of(patient_id: int, limit: int = 50) -> list[QuestionnaireLink]:
    """The patient's newest links (one query)."""
    return list(
        db.session.scalars(
            select(QuestionnaireLink)
            .where(QuestionnaireLink.patient_id == patient_id)
            .options(joinedload(QuestionnaireLink.created_by))
            .order_by(QuestionnaireLink.created_at.desc(), QuestionnaireLink.id.desc())
            .limit(limit)
        )
    )

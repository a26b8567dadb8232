"""Helpers for the report tests: a patient's course built with the factories, and a PDF's text page by page."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from typing import Any

from pypdf import PdfReader

from tracker.extensions import db
from tracker.factories import clear_for_dosing, complete_integration, log_sessions, record_measure, walk_to
from tracker.models import Patient, Phase, SessionKind, User
from tracker.models.base import utcnow
from tracker.plans.services import save_version

CRISIS = "Crisis line 0800 111 222"


def pages(pdf: bytes) -> list[str]:
    """The text of each page."""
    assert pdf.startswith(b"%PDF")
    return [page.extract_text() for page in PdfReader(BytesIO(pdf)).pages]


def text(pdf: bytes) -> str:
    """Every page's text, with runs of whitespace made one space (table cells wrap lines)."""
    return " ".join(" ".join(pages(pdf)).split())


def write_plan(patient: Patient, actor: User, **sections: str) -> None:
    texts = sections or {
        "Insights and themes": "Feeling safe in my body.",
        "Warning signs and crisis plan": "Not sleeping for two nights: call Ana, then the clinic.",
    }
    save_version(actor, patient, texts, CRISIS, 0)
    db.session.flush()


def course(patient: Patient, actor: User, protocols: dict[str, Any], dosings: int = 1, measures: int = 0) -> None:
    """A course of ``dosings`` dosing cycles with their signed notes, follow-ups and integration sessions, and
    ``measures`` extra PHQ-9 results, the patient ending in integration."""
    clear_for_dosing(patient, actor, protocols)
    for cycle in range(dosings):
        if cycle:
            complete_integration(patient, actor, protocols)
        walk_to(patient, Phase.DOSING, actor, protocols)
        walk_to(patient, Phase.INTEGRATION, actor, protocols)
    for number in range(measures):
        record_measure(patient, actor, "phq9", on=utcnow().date() - timedelta(days=number), level=0.2)
    db.session.flush()


def extra_sessions(patient: Patient, actor: User, count: int) -> None:
    log_sessions(patient, actor, SessionKind.PREPARATION, count, days_ago=40)
    db.session.flush()

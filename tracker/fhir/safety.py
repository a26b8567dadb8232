"""Safety alerts as FHIR R4B Flags: what a receiving system shows as a warning on the patient.

A Flag is a "prospective warning of potential issues when providing care to the patient" (HL7 FHIR R4B, Flag,
https://hl7.org/fhir/R4B/flag.html). An open alert is an active Flag in the "safety" category of flag-category
(https://terminology.hl7.org/CodeSystem-flag-category.html); an acknowledged one is inactive, its period ending when
it was acknowledged, with who did so and the action taken. The Flag points at what raised the alert where the export
holds it: the measure's score Observation through the core extension flag-detail
(https://hl7.org/fhir/R4B/extension-flag-detail.html), the dosing or integration session as its encounter. Every
alert carries its summary, written when it was raised, so one whose source is not exported (a draft note's reading,
an urgent answer on a closed questionnaire link) still says what it is about.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracker.fhir.codes import LOCAL
from tracker.models import SafetyAlert

if TYPE_CHECKING:
    from tracker.fhir.resources import RecordResources

JSON = dict[str, Any]

FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"


def alert_text(alert: SafetyAlert) -> str:
    """What the alert is about, in the words the app shows."""
    risk = " (high risk: holds the next dose)" if alert.high_risk else ""
    return f"Safety alert, {alert.source.label.lower()}{risk}: {alert.summary}"


def alert_flag(resources: RecordResources, alert: SafetyAlert) -> JSON:
    from tracker.fhir.resources import _concept, instant

    period: JSON = {"start": instant(alert.raised_at)}
    flag: JSON = {
        "resourceType": "Flag",
        "id": resources.id("alert", alert.id),
        "status": "active" if alert.is_open else "inactive",
        "category": [_concept(FLAG_CATEGORY, "safety", "Safety")],
        "code": {
            "coding": [{"system": f"{LOCAL}:alert-source", "code": alert.source.value, "display": alert.source.label}],
            "text": alert_text(alert),
        },
        "subject": resources.subject(),
        "period": period,
    }
    extensions: list[JSON] = []
    if alert.result_id is not None:
        observation = resources.id("score", resources.record.result_roots.get(alert.result_id, alert.result_id))
        extensions.append({"url": FLAG_DETAIL, "valueReference": resources.ref("Observation", observation)})
    if alert.session_id is not None and any(s.id == alert.session_id for s in resources.record.sessions):
        flag["encounter"] = resources.ref("Encounter", resources.id("session", alert.session_id))
    if alert.acknowledged_at is not None:
        period["end"] = instant(alert.acknowledged_at)
        by = resources.staff.get(alert.acknowledged_by_id) if alert.acknowledged_by_id is not None else None
        extensions.append(
            {
                "url": f"{LOCAL}:fhir:alert-acknowledgement",
                "valueString": f"Acknowledged by {by.full_name if by else 'staff'}: {alert.action_taken}",
            }
        )
    if extensions:
        flag["extension"] = extensions
    return flag

"""What the screening never forgets: an absolute exclusion stays on the record across a change of protocol; an answer
that lifts an earlier one needs a written reason and a supervisor's review; a requirement marked not applicable
after sign-off likewise; a protocol changes only in preparation or on hold; a known drug keeps its class."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from tests.conftest import login
from tests.test_patients import _form
from tracker.extensions import db
from tracker.factories import clear_for_dosing, walk_to
from tracker.models import AnswerValue, Medication, Phase, ReviewDecision, ScreeningChecklist
from tracker.models.base import utcnow
from tracker.protocols import ItemKind, PreDosingCheck, ScreeningItem
from tracker.screening.queries import screening_state
from tracker.screening.services import (
    AnswerInput,
    MedicationInput,
    ScreeningError,
    add_medication,
    answer_item,
    current_checklist,
    review_item,
    sign_off,
)

TODAY = utcnow().date


def _state(people, protocol):
    return screening_state(db.session, people.patient, protocol, TODAY())


def _answer(people, protocol, item_id, value, note=None):
    checklist = current_checklist(db.session, people.patient)
    return answer_item(people.lead, checklist, protocol, item_id, AnswerInput(value, note=note), TODAY())


# --- Lifting an earlier answer ---------------------------------------------------------------------------------------


def test_an_exclusion_answered_yes_then_no_needs_a_reason_and_a_supervisors_review(people, protocols):
    mdma = protocols["mdma-ptsd"]
    _answer(people, mdma, "ventricular-arrhythmia", AnswerValue.YES)
    with pytest.raises(ScreeningError, match="Write why"):
        _answer(people, mdma, "ventricular-arrhythmia", AnswerValue.NO)
    _answer(people, mdma, "ventricular-arrhythmia", AnswerValue.NO, "Typed against the wrong patient; ECG normal.")
    state = _state(people, mdma)
    assert "ventricular-arrhythmia" in state.assessment.pending_reviews
    reason = next(r for r in state.assessment.reasons if r.item_id == "ventricular-arrhythmia")
    assert reason.text.startswith("Needs a supervisor's review:") and "was answered yes before" in reason.text
    review_item(
        people.supervisor,
        state.checklist,
        state.assessment,
        "ventricular-arrhythmia",
        ReviewDecision.DECLINED,
        "The cardiology letter confirms it.",
    )
    declined = next(r for r in _state(people, mdma).assessment.reasons if r.item_id == "ventricular-arrhythmia")
    assert declined.text.startswith("Declined by the supervisor: the answer yes stands")


def test_a_cleared_correction_lifts_the_exclusion(people, protocols):
    mdma = protocols["mdma-ptsd"]
    _answer(people, mdma, "ventricular-arrhythmia", AnswerValue.YES)
    _answer(people, mdma, "ventricular-arrhythmia", AnswerValue.NO, "Typed against the wrong patient; ECG normal.")
    state = _state(people, mdma)
    review_item(
        people.supervisor,
        state.checklist,
        state.assessment,
        "ventricular-arrhythmia",
        ReviewDecision.CLEARED,
        "Checked the records: no arrhythmia.",
    )
    assert not any(r.item_id == "ventricular-arrhythmia" for r in _state(people, mdma).assessment.reasons)


def test_a_review_item_answered_yes_then_no_waits_for_the_supervisor_too(people, protocols):
    mdma = protocols["mdma-ptsd"]
    _answer(people, mdma, "substance-use-disorder", AnswerValue.YES)
    _answer(people, mdma, "substance-use-disorder", AnswerValue.NO, "Misread: the patient meant a relative.")
    assert "substance-use-disorder" in _state(people, mdma).assessment.pending_reviews


def test_the_checklist_page_asks_for_the_reason_beside_the_note(client, people):
    login(client, people.lead)
    url = f"/patients/{people.patient.id}/screening/items/ventricular-arrhythmia"
    assert client.post(url, data={"ventricular-arrhythmia-answer": "yes"}).status_code == 302
    refused = client.post(url, data={"ventricular-arrhythmia-answer": "no"})
    assert refused.status_code == 422 and 'id="ventricular-arrhythmia-note-error"' in refused.text
    assert "Write why (at least 10 characters)" in refused.text


def test_not_applicable_after_sign_off_needs_a_reason_and_a_review(people, protocols):
    """No shipped protocol lets a pre-dosing requirement be marked not applicable; a clinic's own file may."""
    mdma = protocols["mdma-ptsd"]
    fasting = ScreeningItem("fasting", ItemKind.REQUIREMENT, "Fasting confirmed", "Clinic", allow_not_applicable=True)
    check = PreDosingCheck("fasting-before", "Fasting confirmed", "fasting", "Clinic", within_days=1)
    custom = replace(mdma, screening=(*mdma.screening, fasting), pre_dosing=(*mdma.pre_dosing, check))
    clear_for_dosing(people.patient, people.lead, {**protocols, "mdma-ptsd": custom})
    checklist = current_checklist(db.session, people.patient)
    with pytest.raises(ScreeningError, match="Write why"):
        answer_item(people.lead, checklist, custom, "fasting", AnswerInput(AnswerValue.NOT_APPLICABLE), TODAY())
    answer_item(
        people.lead,
        checklist,
        custom,
        "fasting",
        AnswerInput(AnswerValue.NOT_APPLICABLE, note="Afternoon session, no fasting asked"),
        TODAY(),
    )
    state = _state(people, custom)
    assert "fasting" in state.assessment.pending_reviews
    review_item(
        people.supervisor,
        state.checklist,
        state.assessment,
        "fasting",
        ReviewDecision.CLEARED,
        "Agreed for this session.",
    )
    assert _state(people, custom).assessment.is_eligible


# --- Changing protocol ------------------------------------------------------------------------------------------------


def _edit(client, people, protocol_code, indication):
    patient = people.patient
    db.session.refresh(patient, ["version_id"])
    return client.post(
        f"/patients/{patient.id}/edit",
        data=_form(
            people,
            given_name="Canary",
            family_name="Zzpatient",
            record_number="CANARY-1",
            protocol_code=protocol_code,
            indication=indication,
            version_id=str(patient.version_id),
        ),
    )


def test_a_protocol_changes_only_in_preparation_or_on_hold(client, people, protocols):
    login(client, people.lead)
    walk_to(people.patient, Phase.ON_HOLD, people.lead, protocols, "Depression now in the foreground")
    db.session.commit()
    assert _edit(client, people, "psilocybin-mdd", "major_depression").status_code == 302
    db.session.expire_all()
    assert people.patient.protocol_code == "psilocybin-mdd"
    assert people.patient.held_from_phase is Phase.PREPARATION  # it resumes with the new protocol's screening


def test_a_protocol_never_changes_once_dosing_has_begun(client, people, protocols):
    clear_for_dosing(people.patient, people.lead, protocols)
    walk_to(people.patient, Phase.DOSING, people.lead, protocols)
    db.session.commit()
    login(client, people.lead)
    refused = _edit(client, people, "psilocybin-mdd", "major_depression")
    assert refused.status_code == 422 and 'id="protocol_code-error"' in refused.text
    assert "Dosing has begun under this protocol" in refused.text
    walk_to(people.patient, Phase.ON_HOLD, people.lead, protocols, "Travelling")
    db.session.commit()
    assert _edit(client, people, "psilocybin-mdd", "major_depression").status_code == 422  # on hold too
    db.session.expire_all()
    assert people.patient.protocol_code == "mdma-ptsd"


def test_an_exclusion_stays_on_the_record_when_the_protocol_changes_away_and_back(client, people, protocols):
    mdma = protocols["mdma-ptsd"]
    _answer(people, mdma, "ventricular-arrhythmia", AnswerValue.YES, "History of VT, ablated in 2019.")
    db.session.commit()
    login(client, people.lead)
    assert _edit(client, people, "psilocybin-mdd", "major_depression").status_code == 302
    assert _edit(client, people, "mdma-ptsd", "ptsd").status_code == 302
    db.session.expire_all()
    checklists = db.session.scalars(
        select(ScreeningChecklist)
        .where(ScreeningChecklist.patient_id == people.patient.id)
        .order_by(ScreeningChecklist.id)
    ).all()
    assert [c.protocol_code for c in checklists] == ["mdma-ptsd", "psilocybin-mdd", "mdma-ptsd"]
    state = _state(people, mdma)
    assert state.checklist.id == checklists[-1].id
    carried = state.answers["ventricular-arrhythmia"]
    assert carried.answer is AnswerValue.YES and "Carried over from the screening started on" in carried.note
    assert any(item.id == "ventricular-arrhythmia" for item in state.excluded)
    # Lifting it on the new checklist is a correction like any other: a reason, then a supervisor's review.
    with pytest.raises(ScreeningError, match="Write why"):
        _answer(people, mdma, "ventricular-arrhythmia", AnswerValue.NO)


def test_answers_the_earlier_checklist_cleared_are_not_carried_over(client, people, protocols):
    mdma = protocols["mdma-ptsd"]
    _answer(people, mdma, "ventricular-arrhythmia", AnswerValue.YES)
    _answer(people, mdma, "ventricular-arrhythmia", AnswerValue.NO, "Typed against the wrong patient; ECG normal.")
    state = _state(people, mdma)
    review_item(
        people.supervisor,
        state.checklist,
        state.assessment,
        "ventricular-arrhythmia",
        ReviewDecision.CLEARED,
        "Checked the records: no arrhythmia.",
    )
    db.session.commit()
    login(client, people.lead)
    _edit(client, people, "psilocybin-mdd", "major_depression")
    _edit(client, people, "mdma-ptsd", "ptsd")
    assert "ventricular-arrhythmia" not in _state(people, mdma).answers


# --- Medications by name ---------------------------------------------------------------------------------------------


def test_a_known_drug_takes_its_class_from_the_name(people):
    nardil = add_medication(people.lead, people.patient, MedicationInput("Nardil 15 mg", ""))
    assert nardil.drug_class == "maoi"


@pytest.mark.parametrize(
    "name,chosen,words",
    [
        ("Phenelzine", "other", "Phenelzine is classed as MAOI (monoamine oxidase inhibitor) (WHO ATC N06AF03)"),
        ("Zoloft", "other_psychiatric", "Sertraline is classed as SSRI"),
        ("Herbal tea blend", "", "is not in the tracker's medication list: choose its drug class"),
    ],
)
def test_a_chosen_class_cannot_contradict_the_name(people, name, chosen, words):
    with pytest.raises(ScreeningError, match=words.replace("(", r"\(").replace(")", r"\)")) as refusal:
        add_medication(people.lead, people.patient, MedicationInput(name, chosen))
    assert refusal.value.field == "drug_class"
    assert db.session.scalar(select(Medication)) is None


def test_the_medication_form_explains_a_refused_class(client, people):
    login(client, people.lead)
    response = client.post(
        f"/patients/{people.patient.id}/medications",
        data={
            "name": "Parnate",
            "drug_class": "other",
            "dose": "",
            "started_on": "",
            "stopped_on": "",
            "taper_plan": "",
            "taper_end_on": "",
        },
    )
    assert response.status_code == 422 and 'id="drug_class-error"' in response.text
    assert "Tranylcypromine is classed as MAOI" in response.text


def test_sign_off_skips_a_test_the_record_rules_out(people, protocols):
    mdma = protocols["mdma-ptsd"]
    people.patient.can_become_pregnant = False
    checklist = current_checklist(db.session, people.patient)
    for item in mdma.screening:
        if item.id == "pregnancy-test":
            continue
        value = (
            AnswerInput(AnswerValue.RECORDED, item.acceptable[0] if item.acceptable else "done", TODAY())
            if item.kind is ItemKind.REQUIREMENT
            else AnswerInput(AnswerValue.NO)
        )
        answer_item(people.lead, checklist, mdma, item.id, value, TODAY())
    sign_off(people.lead, checklist, mdma)
    assert checklist.signed_off_at is not None

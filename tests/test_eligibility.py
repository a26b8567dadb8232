"""Eligibility as a pure function: every outcome and every reason, then properties over random checklists.

No database and no Flask: small protocols are built from the schema's dataclasses, or the shipped ones loaded.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.eligibility import (
    Answer,
    Eligibility,
    MedicationFact,
    Review,
    Status,
    basis,
    evaluate,
    raised_by_medications,
)
from tracker.medicines import DRUG_CLASSES
from tracker.models import Indication
from tracker.protocols import InteractionRule, ItemKind, Protocol, ScreeningItem, SessionPlan, load_protocols

PSYCHOSIS = ScreeningItem("psychosis", ItemKind.EXCLUSION, "Personal history of psychosis", "Source A")
LITHIUM = ScreeningItem("lithium", ItemKind.EXCLUSION, "Takes lithium", "Source B")
SUD = ScreeningItem("sud", ItemKind.REVIEW, "Substance use disorder", "Source C")
TAPER = ScreeningItem("ssri-taper", ItemKind.REVIEW, "Takes an SSRI that must be tapered", "Source D")
CONSENT = ScreeningItem(
    "consent",
    ItemKind.REQUIREMENT,
    "Informed consent signed",
    "Clinic",
    acceptable=("signed",),
    choices=("signed", "declined"),
)
PREGNANCY = ScreeningItem(
    "pregnancy-test",
    ItemKind.REQUIREMENT,
    "Pregnancy test",
    "Source E",
    acceptable=("negative",),
    choices=("negative", "positive"),
    allow_not_applicable=True,
)
VITALS = ScreeningItem("baseline-vitals", ItemKind.REQUIREMENT, "Baseline vitals recorded", "Source F")

PROTOCOL = Protocol(
    code="test",
    name="Test protocol",
    substance="Testamine",
    indications=(Indication.PTSD,),
    co_therapy_required=False,
    sources=("Source A",),
    sessions=SessionPlan(preparation=1, dosing=1, integration_per_dosing=1),
    screening=(PSYCHOSIS, LITHIUM, SUD, TAPER, CONSENT, PREGNANCY, VITALS),
    interactions=(
        InteractionRule("lithium", ("lithium",), ("lithium",), "lithium", "Hard stop", "Source B"),
        InteractionRule(
            "ssri", ("ssri", "snri"), (), "ssri-taper", "Taper first", "Source D", taper_before_dosing=True
        ),
    ),
)

TODAY = date(2025, 3, 1)
SHIPPED = load_protocols()


def clean(protocol: Protocol = PROTOCOL) -> dict[str, Answer]:
    """Every item answered so that it passes: "no" to exclusions and reviews, an acceptable value recorded."""
    answers = {}
    for number, item in enumerate(protocol.screening, start=1):
        if item.kind is ItemKind.REQUIREMENT:
            value = item.acceptable[0] if item.acceptable else "done"
            answers[item.id] = Answer(number, "recorded", value, TODAY)
        else:
            answers[item.id] = Answer(number, "no")
    return answers


def check(
    answers: dict[str, Answer] | None = None,
    medications: tuple[MedicationFact, ...] = (),
    reviews: dict[str, Review] | None = None,
    signed_off: bool = True,
    protocol: Protocol = PROTOCOL,
) -> Eligibility:
    return evaluate(protocol, clean(protocol) if answers is None else answers, medications, reviews, signed_off)


def only_reason(result: Eligibility) -> tuple[str, Status, str]:
    assert len(result.reasons) == 1, result.reasons
    reason = result.reasons[0]
    return reason.item_id, reason.status, reason.text


def sertraline(medication_id: int = 5, current: bool = True) -> MedicationFact:
    return MedicationFact(medication_id, "Sertraline", "ssri", current)


# Outcomes -------------------------------------------------------------------------------------------------------


def test_a_clean_signed_off_checklist_is_eligible():
    result = check()
    assert result.status is Status.ELIGIBLE and result.is_eligible
    assert result.reasons == () and dict(result.pending_reviews) == {}


def test_a_checklist_not_signed_off_is_incomplete_for_that_reason_alone():
    result = check(signed_off=False)
    assert only_reason(result) == ("", Status.INCOMPLETE, "The screening checklist has not been signed off.")
    assert not result.is_eligible


@pytest.mark.parametrize("item", PROTOCOL.screening, ids=lambda item: item.id)
def test_an_unanswered_item_leaves_screening_incomplete(item):
    answers = clean()
    del answers[item.id]
    item_id, status, text = only_reason(check(answers))
    assert (item_id, status) == (item.id, Status.INCOMPLETE)
    assert text == f"{'Not recorded yet' if item.kind is ItemKind.REQUIREMENT else 'Not answered yet'}: {item.text}."


def test_a_requirement_answered_without_recording_it_is_not_recorded():
    answers = clean() | {"baseline-vitals": Answer(40, "no")}
    assert only_reason(check(answers)) == (
        "baseline-vitals",
        Status.INCOMPLETE,
        "Not recorded yet: Baseline vitals recorded.",
    )


def test_a_requirement_without_acceptable_values_takes_any_recorded_value():
    answers = clean() | {"baseline-vitals": Answer(40, "recorded", "118/76, 64 bpm", TODAY)}
    assert check(answers).is_eligible


def test_a_positive_pregnancy_test_makes_the_patient_ineligible():
    answers = clean() | {"pregnancy-test": Answer(40, "recorded", "positive", TODAY)}
    result = check(answers)
    assert result.status is Status.INELIGIBLE
    assert only_reason(result) == ("pregnancy-test", Status.INELIGIBLE, "Pregnancy test: recorded as 'positive'.")


def test_a_declined_consent_makes_the_patient_ineligible_until_a_new_value_is_recorded():
    declined = clean() | {"consent": Answer(40, "recorded", "declined", TODAY)}
    assert check(declined).status is Status.INELIGIBLE
    assert check(declined | {"consent": Answer(41, "recorded", "signed", TODAY)}).is_eligible


def test_not_applicable_passes_where_the_protocol_allows_it():
    answers = clean() | {"pregnancy-test": Answer(40, "not_applicable")}
    assert check(answers).is_eligible


def test_not_applicable_is_refused_where_the_requirement_applies_to_everyone():
    answers = clean() | {"consent": Answer(40, "not_applicable")}
    assert only_reason(check(answers)) == (
        "consent",
        Status.INCOMPLETE,
        "Must be recorded (cannot be marked not applicable): Informed consent signed.",
    )


def test_an_absolute_exclusion_answered_yes_is_ineligible_and_cannot_be_overridden():
    answers = clean() | {"psychosis": Answer(40, "yes")}
    result = check(answers)
    item_id, status, text = only_reason(result)
    assert (item_id, status) == ("psychosis", Status.INELIGIBLE)
    assert text.startswith("Absolute exclusion: Personal history of psychosis.")
    assert "cannot be overridden" in text and "change protocol" in text
    assert dict(result.pending_reviews) == {}  # nothing for a supervisor to decide
    cleared = {"psychosis": Review("cleared", "Long ago", "answer:40")}
    assert check(answers, reviews=cleared).status is Status.INELIGIBLE


def test_psilocybin_with_lithium_is_an_absolute_exclusion_raised_by_the_medication():
    psilocybin = SHIPPED["psilocybin-mdd"]
    lithium = MedicationFact(7, "Lithium carbonate", "lithium", current=True)
    result = check(medications=(lithium,), protocol=psilocybin)
    item_id, status, text = only_reason(result)
    assert (item_id, status) == ("lithium", Status.INELIGIBLE)
    assert "Absolute exclusion: Takes lithium (raised by a current medication)" in text
    assert raised_by_medications(psilocybin, [lithium]) == {"lithium": [7]}


def test_a_medication_matches_by_name_whatever_class_and_case_it_was_filed_under():
    psilocybin = SHIPPED["psilocybin-mdd"]
    for medication in (
        MedicationFact(1, "LITHIUM carbonate 300 mg", "mood_stabiliser", True),
        MedicationFact(2, "Tramadol", "opioid", True),
    ):
        result = check(medications=(medication,), protocol=psilocybin)
        assert result.status is Status.INELIGIBLE, medication


def test_a_review_item_answered_yes_needs_review_with_the_basis_a_decision_must_cite():
    answers = clean() | {"sud": Answer(40, "yes")}
    result = check(answers)
    assert result.status is Status.NEEDS_REVIEW
    assert only_reason(result) == ("sud", Status.NEEDS_REVIEW, "Needs a supervisor's review: Substance use disorder.")
    assert dict(result.pending_reviews) == {"sud": "answer:40"}


def test_a_cleared_review_with_a_matching_basis_makes_the_patient_eligible():
    answers = clean() | {"sud": Answer(40, "yes")}
    result = check(answers, reviews={"sud": Review("cleared", "In remission for two years", "answer:40")})
    assert result.is_eligible and dict(result.pending_reviews) == {}


def test_a_review_no_longer_holds_once_the_answer_is_revised():
    reviews = {"sud": Review("cleared", "In remission for two years", "answer:40")}
    revised = clean() | {"sud": Answer(41, "yes")}  # a newer answer: the decision was about the old one
    result = check(revised, reviews=reviews)
    assert result.status is Status.NEEDS_REVIEW and dict(result.pending_reviews) == {"sud": "answer:41"}


def test_a_review_raised_by_a_medication_holds_only_for_that_set_of_medications():
    reviews = {"ssri-taper": Review("cleared", "Taper planned over four weeks", "medication:5")}
    result = check(medications=(sertraline(5),))
    assert result.status is Status.NEEDS_REVIEW
    assert only_reason(result)[2] == (
        "Needs a supervisor's review: Takes an SSRI that must be tapered (raised by a current medication)."
    )
    assert dict(result.pending_reviews) == {"ssri-taper": "medication:5"}
    assert check(medications=(sertraline(5),), reviews=reviews).is_eligible
    # Another matching medication, or a different one, is a new question for the supervisor.
    changes = [((sertraline(5), sertraline(6)), "medication:5,6"), ((sertraline(8),), "medication:8")]
    for medications, expected in changes:
        stale = check(medications=medications, reviews=reviews)
        assert stale.status is Status.NEEDS_REVIEW
        assert dict(stale.pending_reviews) == {"ssri-taper": expected}


def test_a_review_answered_yes_and_raised_by_a_medication_cites_both():
    answers = clean() | {"ssri-taper": Answer(40, "yes")}
    result = check(answers, medications=(sertraline(9), sertraline(3)))
    assert dict(result.pending_reviews) == {"ssri-taper": "answer:40;medication:3,9"}
    assert "raised by a current medication" not in result.reasons[0].text  # the clinician answered it


def test_a_declined_review_makes_the_patient_ineligible_with_the_supervisors_words():
    answers = clean() | {"sud": Answer(40, "yes")}
    result = check(answers, reviews={"sud": Review("declined", "Active use; refer first", "answer:40")})
    item_id, status, text = only_reason(result)
    assert (item_id, status) == ("sud", Status.INELIGIBLE)
    assert text == "Declined by the supervisor: Substance use disorder. “Active use; refer first”"
    assert dict(result.pending_reviews) == {}


def test_a_declined_review_is_asked_again_when_its_basis_changes():
    reviews = {"sud": Review("declined", "Active use", "answer:40")}
    result = check(clean() | {"sud": Answer(41, "yes")}, reviews=reviews)
    assert result.status is Status.NEEDS_REVIEW and dict(result.pending_reviews) == {"sud": "answer:41"}


def test_a_review_answered_no_after_a_decision_needs_nothing():
    reviews = {"sud": Review("declined", "Active use", "answer:40")}
    assert check(clean() | {"sud": Answer(41, "no")}, reviews=reviews).is_eligible


def test_stopped_medications_raise_nothing():
    psilocybin = SHIPPED["psilocybin-mdd"]
    stopped = (
        MedicationFact(1, "Lithium", "lithium", current=False),
        MedicationFact(2, "Tramadol", "opioid", current=False),
        MedicationFact(3, "Phenelzine", "maoi", current=False),
        MedicationFact(4, "Sertraline", "ssri", current=False, taper_end_on=TODAY),
    )
    assert raised_by_medications(psilocybin, stopped) == {}
    assert check(medications=stopped, protocol=psilocybin).is_eligible
    assert check(medications=(sertraline(current=False),)).is_eligible


def test_medications_no_rule_names_raise_nothing():
    assert check(medications=(MedicationFact(1, "Ibuprofen", "other", True),)).is_eligible


def test_a_cleared_review_does_not_stand_in_for_an_unanswered_item():
    """A medication can raise an item before anyone answered it; clearing it must not skip the question."""
    answers = clean()
    del answers["ssri-taper"]
    reviews = {"ssri-taper": Review("cleared", "Taper planned", "medication:5")}
    result = check(answers, medications=(sertraline(5),), reviews=reviews)
    assert only_reason(result) == (
        "ssri-taper",
        Status.INCOMPLETE,
        "Not answered yet: Takes an SSRI that must be tapered.",
    )


def test_every_reason_is_listed_and_the_worst_decides_the_status():
    answers = clean() | {"psychosis": Answer(40, "yes"), "sud": Answer(41, "yes")}
    del answers["baseline-vitals"]
    result = check(answers, signed_off=False)
    assert [(r.item_id, r.status) for r in result.reasons] == [
        ("psychosis", Status.INELIGIBLE),
        ("sud", Status.NEEDS_REVIEW),
        ("baseline-vitals", Status.INCOMPLETE),
        ("", Status.INCOMPLETE),
    ]
    assert result.status is Status.INELIGIBLE
    without_exclusion = answers | {"psychosis": Answer(42, "no")}
    assert check(without_exclusion, signed_off=False).status is Status.INCOMPLETE
    assert check(clean() | {"sud": Answer(41, "yes")}).status is Status.NEEDS_REVIEW


def test_the_basis_names_only_what_was_flagged():
    assert basis(None, []) == ""
    assert basis(Answer(3, "no"), []) == ""
    assert basis(Answer(3, "yes"), []) == "answer:3"
    assert basis(None, [9, 2]) == "medication:2,9"
    assert basis(Answer(3, "yes"), [2]) == "answer:3;medication:2"


@pytest.mark.parametrize("code", sorted(SHIPPED))
def test_each_shipped_protocol_passes_a_clean_checklist(code):
    assert check(protocol=SHIPPED[code]).is_eligible


# Properties over random checklists ------------------------------------------------------------------------------

VALUES = {
    ItemKind.EXCLUSION: ("yes", "no"),
    ItemKind.REVIEW: ("yes", "no"),
    ItemKind.REQUIREMENT: ("recorded", "not_applicable"),
}
SEVERITY = [Status.INELIGIBLE, Status.INCOMPLETE, Status.NEEDS_REVIEW]
NAMES = [
    "Lithium",
    "lithium carbonate",
    "Tramadol",
    "Sertraline",
    "Phenelzine",
    "Venlafaxine",
    "Ibuprofen",
    "Lorazepam",
]


@st.composite
def checklists(draw: st.DrawFn) -> tuple[Protocol, dict[str, Answer], list[MedicationFact], dict[str, Review], bool]:
    protocol = draw(st.sampled_from(sorted(SHIPPED.values(), key=lambda p: p.code)))
    ids = iter(range(1, 10_000))
    answers: dict[str, Answer] = {}
    for item in protocol.screening:
        # Mostly the answer that passes, so that whole checklists often pass and the eligible case is explored.
        passing = "recorded" if item.kind is ItemKind.REQUIREMENT else "no"
        value = draw(st.sampled_from([passing] * 20 + [None, *VALUES[item.kind]]))
        if value is not None:
            recorded = None
            if value == "recorded":
                recorded = draw(st.sampled_from([*item.acceptable] * 10 + [*item.choices, "anything", ""]))
            answers[item.id] = Answer(next(ids), value, recorded, TODAY if value == "recorded" else None)
    # Classes the protocol's rules name are drawn more often, so medications often raise items.
    classes = [drug_class for rule in protocol.interactions for drug_class in rule.drug_classes] * 2 + [*DRUG_CLASSES]
    medications = [
        MedicationFact(next(ids), name, drug_class, current)
        for name, drug_class, current in draw(
            st.lists(
                st.tuples(st.sampled_from(NAMES) | st.text(max_size=12), st.sampled_from(classes), st.booleans()),
                max_size=3,
            )
        )
    ]
    raised = raised_by_medications(protocol, medications)
    reviews: dict[str, Review] = {}
    # Items a medication raised are drawn more often, so reviews of unanswered but raised items come up.
    candidates = [protocol.item(item_id) for item_id in sorted(raised)] * 3 + list(protocol.screening)
    for item in draw(st.lists(st.sampled_from(candidates), max_size=4)):
        actual = basis(answers.get(item.id), raised.get(item.id, []))
        reviews[item.id] = Review(
            draw(st.sampled_from(["cleared", "declined"])),
            "Rationale",
            draw(st.sampled_from([actual] * 3 + ["answer:99999", "medication:99999", ""])),
        )
    return protocol, answers, medications, reviews, draw(st.booleans())


@given(checklists(), st.data())
def test_an_absolute_exclusion_answered_yes_is_always_ineligible(checklist, data):
    protocol, answers, medications, reviews, signed_off = checklist
    exclusions = [item for item in protocol.screening if item.kind is ItemKind.EXCLUSION]
    excluded = data.draw(st.sampled_from(exclusions))
    answers = answers | {excluded.id: Answer(100_000, "yes")}
    reviews = reviews | {excluded.id: Review("cleared", "Override attempt", "answer:100000")}
    result = evaluate(protocol, answers, medications, reviews, signed_off)
    assert result.status is Status.INELIGIBLE
    assert any(r.item_id == excluded.id and r.status is Status.INELIGIBLE for r in result.reasons)


@given(checklists())
def test_eligible_exactly_when_there_is_no_reason(checklist):
    protocol, answers, medications, reviews, signed_off = checklist
    result = evaluate(protocol, answers, medications, reviews, signed_off)
    assert result.is_eligible is (result.reasons == ())
    if result.reasons:
        worst = min((r.status for r in result.reasons), key=SEVERITY.index)
        assert result.status is worst
    if result.is_eligible:  # nothing unanswered, and signed off
        assert signed_off and {item.id for item in protocol.screening} <= set(answers)


@given(checklists(), st.data())
def test_an_unanswered_item_always_holds_the_patient_back(checklist, data):
    """Whatever a medication raised and a supervisor decided, the item still has to be answered."""
    protocol, answers, medications, reviews, _ = checklist
    raised = sorted(raised_by_medications(protocol, medications))
    item_id = data.draw(st.sampled_from(raised * 3 + [item.id for item in protocol.screening]))
    answers = {key: answer for key, answer in answers.items() if key != item_id}
    result = evaluate(protocol, answers, medications, reviews, signed_off=True)
    assert not result.is_eligible
    assert any(reason.item_id == item_id for reason in result.reasons)


@given(checklists())
def test_pending_reviews_only_name_flagged_review_items(checklist):
    protocol, answers, medications, reviews, signed_off = checklist
    result = evaluate(protocol, answers, medications, reviews, signed_off)
    kinds = {item.id: item.kind for item in protocol.screening}
    assert all(kinds[item_id] is ItemKind.REVIEW for item_id in result.pending_reviews)
    needing_review = {r.item_id for r in result.reasons if r.status is Status.NEEDS_REVIEW}
    assert set(result.pending_reviews) == needing_review


@given(checklists())
def test_a_medication_that_raises_an_exclusion_is_always_ineligible(checklist):
    protocol, answers, medications, reviews, signed_off = checklist
    raised = raised_by_medications(protocol, medications)
    result = evaluate(protocol, answers, medications, reviews, signed_off)
    if any(protocol.item(item_id).kind is ItemKind.EXCLUSION for item_id in raised):
        assert result.status is Status.INELIGIBLE


@given(checklists())
def test_clearing_what_is_pending_leaves_no_review_reason(checklist):
    """The decision the review page writes (with the pending basis) is the decision evaluate accepts."""
    protocol, answers, medications, reviews, signed_off = checklist
    first = evaluate(protocol, answers, medications, reviews, signed_off)
    cleared = reviews | {item_id: Review("cleared", "OK", b) for item_id, b in first.pending_reviews.items()}
    second = evaluate(protocol, answers, medications, cleared, signed_off)
    assert not any(r.status is Status.NEEDS_REVIEW for r in second.reasons)
    assert dict(second.pending_reviews) == {}

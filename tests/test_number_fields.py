"""The number fields every form uses read only what a person sees: the digits 0-9, a minus sign and (for amounts)
one decimal point. Python's parsers, which WTForms calls, read more ("1_000", "+5", "1e3", "NaN", digits of other
scripts), so a dose typed one way could be stored as another."""

from __future__ import annotations

from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from wtforms import Form
from wtforms.validators import NumberRange, Optional

from tracker.validators import DecimalNumberField, WholeNumberField, requested_page, whole_number


class Numbers(Form):
    whole = WholeNumberField()
    amount = DecimalNumberField(places=None)


def read(**typed: str) -> Numbers:
    form = Numbers(MultiDict(typed))
    form.validate()
    return form


@pytest.mark.parametrize(("typed", "value"), [("0", 0), ("120", 120), ("-3", -3), (" 42 ", 42), ("007", 7)])
def test_a_whole_number_in_ascii_digits_is_read(typed: str, value: int) -> None:
    form = read(whole=typed)
    assert form.whole.data == value and not form.whole.errors


@pytest.mark.parametrize(
    "typed", ["1_000", "+5", "1e3", "12.5", "\uff11\uff12\uff10", "\u0661\u0662", "\u00b2", "nan", "12 mg", "1,000"]
)
def test_anything_else_is_refused_as_a_whole_number(typed: str) -> None:
    form = read(whole=typed)
    assert form.whole.data is None
    assert form.whole.errors == ["Enter a whole number (digits 0-9)."]


@pytest.mark.parametrize(
    ("typed", "value"), [("120", "120"), ("1.5", "1.5"), (".5", "0.5"), ("12.", "12"), ("-0.25", "-0.25")]
)
def test_an_amount_in_ascii_digits_is_read_as_typed(typed: str, value: str) -> None:
    form = read(amount=typed)
    assert form.amount.data == Decimal(value) and not form.amount.errors


@pytest.mark.parametrize(
    "typed",
    [
        "1_000",
        "+5",
        "1e2",
        "1E-3",
        "NaN",
        "sNaN",
        "inf",
        "Infinity",
        "\uff11\uff12\uff10",
        "\u0661.\u0665",
        "1.2.3",
        ".",
    ],
)
def test_anything_else_is_refused_as_an_amount(typed: str) -> None:
    form = read(amount=typed)
    assert form.amount.data is None
    assert form.amount.errors == ["Enter a number (digits 0-9, with a point for decimals)."]


def test_an_empty_field_is_left_to_the_fields_own_validators() -> None:
    form = read(whole="", amount="  ")
    assert form.whole.data is None and form.amount.data is None


@pytest.mark.parametrize("typed", ["1\n", "+1", "\uff12", "0", "1000001", "1 "])
def test_a_page_number_read_by_hand_is_refused_unless_plain_digits_in_range(typed: str) -> None:
    with pytest.raises(HTTPException) as refused:
        requested_page(typed)
    assert refused.value.code == 400


def test_a_page_number_read_by_hand() -> None:
    assert requested_page(None) == 1 and requested_page("") == 1 and requested_page("42") == 42


@pytest.mark.parametrize("typed", ["9" * 13, "9" * 400, "1" + "0" * 12])
def test_a_whole_number_past_twelve_digits_is_refused(typed: str) -> None:
    form = read(whole=typed)
    assert form.whole.data is None and form.whole.errors == ["Enter the number with fewer digits."]


@pytest.mark.parametrize("typed", ["9" * 13, "9" * 400 + ".5", "0." + "0" * 40 + "1"])
def test_an_amount_past_twelve_digits_or_thirty_characters_is_refused(typed: str) -> None:
    form = read(amount=typed)
    assert form.amount.data is None and form.amount.errors == ["Enter the number with fewer digits."]


def test_ids_in_selects_and_tick_boxes_are_read_as_whole_numbers() -> None:
    assert whole_number("42") == 42 and whole_number(7) == 7 and whole_number(" 3 ") == 3
    for typed in ["\u0661", "+1", "1_0", "9" * 400, "", "1.0"]:
        with pytest.raises(ValueError, match="Enter a whole number"):
            whole_number(typed)


class Ranged(Form):
    score = WholeNumberField(validators=[Optional(), NumberRange(0, 10, message="Enter a number from 0 to 10.")])
    dose = DecimalNumberField(places=None, validators=[Optional(), NumberRange(0, 10, message="At most 10.")])


def test_a_number_that_cannot_be_read_has_one_message_not_the_range_too() -> None:
    form = Ranged(MultiDict({"score": "9" * 400, "dose": "+5"}))
    assert not form.validate()
    assert form.score.errors == ["Enter the number with fewer digits."]
    assert form.dose.errors == ["Enter a number (digits 0-9, with a point for decimals)."]
    form = Ranged(MultiDict({"score": "11", "dose": "5"}))
    assert not form.validate() and form.score.errors == ["Enter a number from 0 to 10."] and not form.dose.errors

"""The inputs of the note forms: each builds a WTForms field from a label and a help text and says how its data
becomes the value saved, so a note kind's field table (``tracker.notes.fields``) can name the input of each field.
Each input checks its field alone; rules across fields live in the services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.fields.core import UnboundField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from tracker.validators import (
    DecimalNumberField,
    LocalDateTimeField,
    WholeNumberField,
    empty_to_none,
    enum_member,
    no_control_characters,
    strip,
)

TEXT_LIMIT = 20_000


def as_float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def area_field(label: str, limit: int = TEXT_LIMIT, description: str = "") -> TextAreaField:
    return TextAreaField(
        label,
        validators=[Optional(), Length(max=limit, message=f"Use at most {limit} characters."), no_control_characters],
        filters=[strip],
        description=description,
        render_kw={"rows": 4},
    )


def time_field(label: str, required: bool = False, description: str = "") -> LocalDateTimeField:
    """A moment typed on the clinic's clock (the label names the zone)."""
    first = InputRequired(message="Enter the date and time.") if required else Optional()
    return LocalDateTimeField(label, validators=[first], description=description)


def amount_field(label: str, high: float, description: str = "") -> DecimalNumberField:
    return DecimalNumberField(
        label,
        places=None,  # shown as entered: rounding for display would change the dose on the next save
        validators=[
            Optional(),
            NumberRange(min=0.001, max=high, message=f"Enter a number above 0 and at most {high:g}."),
        ],
        description=description,
        render_kw={"inputmode": "decimal"},
    )


def choices_of(members: Any, blank: str = "—") -> list[SelectChoice]:
    return [SelectChoice("", blank)] + [SelectChoice(m.value, m.label) for m in members]


def _same(data: Any) -> Any:
    return data


@dataclass(frozen=True)
class Input:
    """A field's input on the form: ``field(label, help)`` builds it; ``read`` turns its data into the value saved."""

    field: Callable[[str, str], UnboundField[Any]]
    read: Callable[[Any], Any] = _same


def amount(high: float) -> Input:
    """A positive number up to ``high`` (a bound that catches a slipped decimal point, not a clinical maximum)."""
    return Input(lambda label, help: amount_field(label, high, help), as_float)


def moment() -> Input:
    return Input(lambda label, help: time_field(label, description=help))


def choice(members: type[Any]) -> Input:
    """One member of the enum ``members`` (by value), or none."""
    return Input(
        lambda label, help: SelectField(label, choices=choices_of(members), validators=[Optional()], description=help),
        lambda data: enum_member(members, data),
    )


def line(limit: int, message: str | None = None, pattern: tuple[str, str] | None = None) -> Input:
    """One line of text of at most ``limit`` characters; with ``pattern`` (a regular expression and its message)
    only text that matches it, else no control characters."""

    def build(label: str, help: str) -> StringField:
        checks: list[Any] = [Optional(), Length(max=limit, message=message)]
        checks += [Regexp(pattern[0], message=pattern[1])] if pattern else [no_control_characters]
        return StringField(label, validators=checks, filters=[empty_to_none], description=help)

    return Input(build)


def score(low: int, high: int) -> Input:
    """A whole number on a scale from ``low`` to ``high``."""
    return Input(
        lambda label, help: WholeNumberField(
            label,
            validators=[Optional(), NumberRange(low, high, message=f"Enter a number from {low} to {high}.")],
            render_kw={"min": low, "max": high},
            description=help,
        )
    )


def text(limit: int = TEXT_LIMIT) -> Input:
    """Free text of several lines; empty is none."""
    return Input(lambda label, help: area_field(label, limit, help), lambda data: data or None)

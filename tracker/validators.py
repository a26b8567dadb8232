"""Validators and fields shared by every form."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import abort
from markupsafe import Markup, escape
from wtforms import DateTimeLocalField, DecimalField, Field, Form, IntegerField
from wtforms.fields.choices import Choice
from wtforms.validators import Optional, StopValidation, ValidationError
from wtforms.widgets import Select

from tracker import clinictime

#: The earliest date any form takes: a typing guard (a year typed as 0026), not a clinical rule.
EARLIEST_DATE = date(1900, 1, 1)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FieldError(ValueError):
    """A value refused by a service for a reason the form shows next to ``field`` (the name of a form field, or
    a name the page maps to one); ``tracker.pages.show_error`` puts it there."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def no_control_characters(form: Form, field: Field) -> None:
    """Reject NUL and other control characters (PostgreSQL refuses NUL; none belongs in clinical text)."""
    if isinstance(field.data, str) and _CONTROL.search(field.data):
        raise ValidationError("Remove the invisible control characters from this field.")


def strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def empty_to_none(value: Any) -> Any:
    value = strip(value)
    return value or None


class DateRange:
    """A date between ``earliest`` and today (inclusive)."""

    def __init__(self, earliest: date, message: str) -> None:
        self.earliest = earliest
        self.message = message

    def __call__(self, form: Form, field: Field) -> None:
        if field.data is not None and not (self.earliest <= field.data <= _clinic_today()):
            raise ValidationError(self.message)


def _clinic_today() -> date:
    from tracker.clinics import local_today

    return local_today()


def _clinic_zone() -> ZoneInfo:
    from tracker.clinics import current_zone

    return current_zone()


class LocalDateTimeField(DateTimeLocalField):
    """A date and time typed and shown on the clinic's clock, held as an aware UTC ``datetime``: the one field every
    form uses for a moment. The label names the zone. A time the clocks skip (the hour lost when summer time starts)
    is refused next to the field; the hour repeated when they go back is read as its first occurrence
    (``tracker.clinictime.from_local``). The zone is the signed-in user's clinic's (``tracker.clinics``)."""

    def __init__(self, label: str | None = None, validators: Sequence[Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("format", clinictime.INPUT_FORMAT)
        super().__init__(label, validators, **kwargs)
        self.zone = _clinic_zone()
        self.label.text = f"{self.label.text} ({self.zone.key})"

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        return clinictime.input_value(self.data, self.zone)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        text = " ".join(str(v) for v in valuelist)
        self.data = None
        stored = self.object_data
        if (
            isinstance(stored, datetime)
            and stored.tzinfo is not None
            and text == clinictime.input_value(stored, self.zone)
        ):
            self.data = stored  # unchanged: keep the stored moment (its seconds, and its side of a repeated hour)
            return
        try:
            typed = datetime.strptime(text, clinictime.INPUT_FORMAT)  # the clinic's clock: made UTC below
        except ValueError:
            raise ValueError("Not a valid datetime value.") from None
        try:
            self.data = clinictime.from_local(typed, self.zone)
        except clinictime.NonexistentTime:
            raise
        except (OverflowError, ValueError):
            raise ValueError("Enter a real date and time.") from None


#: A typed number: ASCII digits, an optional minus sign and (for amounts) one decimal point. Python's ``int`` and
#: ``Decimal``, which WTForms' number fields call, also read "1_000", "+5", "1e3", "NaN" and digits of other scripts
#: (full-width or Arabic-Indic digits), so a dose could be stored as something other than what the screen showed
#: as typed; those are refused beside the field instead.
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_DECIMAL_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _typed(valuelist: Sequence[Any]) -> str:
    return str(valuelist[0]).strip() if valuelist and valuelist[0] is not None else ""


#: The most digits a typed number may have before its decimal point: far past any dose, reading, window or id,
#: and short of what breaks a float conversion (a 400-digit whole number overflowed in WTForms' ``NumberRange``
#: and in the vital signs' messages: a 500).
MAX_DIGITS = 12
#: The longest typed number, decimals included.
MAX_NUMBER_LENGTH = 30
WHOLE_NUMBER_MESSAGE = "Enter a whole number (digits 0-9)."
TOO_LONG_MESSAGE = "Enter the number with fewer digits."


def _too_long(text: str) -> bool:
    return len(text) > MAX_NUMBER_LENGTH or len(text.lstrip("-").split(".")[0]) > MAX_DIGITS


def whole_number(value: object) -> int:
    """``int`` for what a person typed, read as ``WholeNumberField`` reads it (a select's or tick box's ``coerce``).

    :raise ValueError: anything but a whole number in the digits 0-9 of at most ``MAX_DIGITS`` digits.
    """
    text = str(value).strip()
    if not _WHOLE_NUMBER.fullmatch(text) or _too_long(text):
        raise ValueError(WHOLE_NUMBER_MESSAGE)
    return int(text)


class _TypedNumber(Field):
    """What both number fields do before WTForms parses: refuse anything but ``pattern`` (beside the field, with
    ``unread_message``) or a number of more than ``MAX_DIGITS`` digits, and give such a value its one message
    (the field's range check would add a second)."""

    data: Any
    pattern: re.Pattern[str]
    unread_message: str
    too_long_message = TOO_LONG_MESSAGE

    def process_formdata(self, valuelist: Sequence[Any]) -> None:
        text = _typed(valuelist)
        if text and not self.pattern.fullmatch(text):
            self.data = None
            raise ValueError(self.unread_message)
        if _too_long(text):
            self.data = None
            raise ValueError(self.too_long_message)
        super().process_formdata(valuelist)

    def pre_validate(self, form: Form) -> None:
        if self.process_errors and _typed(self.raw_data or []):  # empty: Optional or InputRequired has its say
            raise StopValidation()


class WholeNumberField(_TypedNumber, IntegerField):
    """``IntegerField`` that reads only the digits 0-9 (see ``_WHOLE_NUMBER``), at most ``MAX_DIGITS`` of them."""

    data: int | None
    pattern = _WHOLE_NUMBER
    unread_message = WHOLE_NUMBER_MESSAGE


class DecimalNumberField(_TypedNumber, DecimalField):
    """``DecimalField`` that reads only the digits 0-9 and one decimal point (see ``_WHOLE_NUMBER``); NaN and
    infinity are not numbers a person types, so they never reach the field's range checks."""

    data: Decimal | None
    pattern = _DECIMAL_NUMBER
    unread_message = "Enter a number (digits 0-9, with a point for decimals)."


#: The last page a list opens: far past any clinic's list (a million pages), and small enough that the row offset
#: fits the 64-bit integers SQLite and PostgreSQL take (``?page=10**20`` once answered 500).
MAX_PAGE = 1_000_000
_DIGITS = re.compile(r"[0-9]{1,7}")  # matched whole (fullmatch: "$" would let a trailing newline through)
PAGE_MESSAGE = f"Use a page number from 1 to {MAX_PAGE:,}."


def _page_in_range(form: Form, field: Field) -> None:
    """WTForms' ``NumberRange`` asks ``math.isnan`` first, which overflows (a 500) on a 400-digit integer."""
    if field.data is not None and not 1 <= field.data <= MAX_PAGE:
        raise ValidationError(PAGE_MESSAGE)


class _PageNumberField(WholeNumberField):
    too_long_message = PAGE_MESSAGE


def page_field() -> WholeNumberField:
    """The ``page`` argument of a list's query-string form."""
    return _PageNumberField("Page", validators=[Optional(), _page_in_range], default=1)


def requested_page(raw: str | None) -> int:
    """The page number from a query string read by hand (1 when absent).

    :raise 400: not a whole number from 1 to ``MAX_PAGE``.
    """
    if raw is None or raw == "":
        return 1
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE:
        abort(400, description=PAGE_MESSAGE)
    return int(raw)


_E = TypeVar("_E", bound=enum.Enum)


def enum_member(kind: type[_E], value: object) -> _E | None:
    """The member a select's value names; None for an empty, blank or unknown one (a blank value passes
    ``Optional`` without the field's choices being checked, so it must not reach ``kind(value)``)."""
    text = str(value or "").strip()
    return next((member for member in kind if member.value == text), None)


class LongSelect(Select):
    """WTForms' ``Select`` for a list of hundreds of options (a large clinic's staff): each plain option is written
    directly instead of through ``html_params``, which took about 17 microseconds an option here (10 ms for the
    audit trail's 600-person filter on every view). The HTML is the same; an option with attributes of its own
    goes the usual way."""

    @classmethod
    def render_option(cls, choice: Choice, **kwargs: Any) -> Markup:
        if kwargs or choice.render_kw or isinstance(choice.value, bool):
            option: Markup = super().render_option(choice, **kwargs)
            return option
        selected = "selected " if choice.selected else ""  # html_params' order: attributes sorted by name
        label = escape(choice.label or choice.value)
        return Markup(f'<option {selected}value="{escape(choice.value)}">{label}</option>')  # noqa: S704 - escaped

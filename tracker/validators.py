"""Validators shared by every form."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from wtforms import Field, Form
from wtforms.validators import ValidationError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
        if field.data is not None and not (self.earliest <= field.data <= date.today()):
            raise ValidationError(self.message)

"""Declarative base, constraint naming convention and the column types every model shares."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Enum, MetaData, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so migrations can drop and alter them on every database (indico's convention).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: How far behind the wall clock ``utcnow`` runs: zero, except while ``tracker.demo`` lays out a clinic's demo data
#: (``clock_behind``), so that its "now" falls in the clinic's office hours.
_BEHIND: ContextVar[timedelta] = ContextVar("clock_behind", default=timedelta(0))


def utcnow() -> datetime:
    return datetime.now(UTC) - _BEHIND.get()


@contextmanager
def clock_behind(offset: timedelta) -> Iterator[None]:
    """Demo data only: run ``utcnow`` ``offset`` behind the wall clock (never ahead: nothing is dated later than
    the real now) for the block."""
    token = _BEHIND.set(max(offset, timedelta(0)))
    try:
        yield
    finally:
        _BEHIND.reset(token)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    SQLite has no time zones and hands back naive datetimes; this type stores UTC and always returns an aware
    value, so comparisons never mix naive and aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_type(enum_class: type[enum.Enum], name: str) -> Enum:
    """A portable enum column: VARCHAR holding the member values, guarded by a named CHECK constraint."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(str(m.value)) for m in enum_class),
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def column_values(obj: Any, fields: list[str]) -> dict[str, Any]:
    """The current values of ``fields`` on ``obj``, for field-level audit diffs."""
    return {field: getattr(obj, field) for field in fields}

"""Calendar arithmetic in SQL that reads the same on SQLite and PostgreSQL.

SQLAlchemy has no portable "the day of this timestamp plus N days": SQLite spells it ``date(x, '+N days')`` and
PostgreSQL ``CAST(x AT TIME ZONE 'UTC' AS DATE) + N``. The rules of the dashboard compare a measure's day with the
day of a dosing session, and the clinic overview counts sessions per day, so the two spellings live here, once.
Timestamps are stored in UTC (``tracker.models.base.UTCDateTime``), so the day is the UTC day on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


class days_after(FunctionElement[Any]):
    """``days_after(timestamp, n)``: the UTC day of ``timestamp`` plus ``n`` whole days (``n`` a Python int)."""

    type = Date()
    inherit_cache = True
    name = "days_after"

    def __init__(self, moment: ColumnElement[Any] | QueryableAttribute[Any], days: int) -> None:
        # A literal column, not an attribute: it is then part of the statement's cache key.
        super().__init__(moment, literal_column(str(int(days))))


def day_of(moment: ColumnElement[Any] | QueryableAttribute[Any]) -> days_after:
    """The UTC day of ``moment``."""
    return days_after(moment, 0)


@compiles(days_after, "sqlite")
def _sqlite(element: days_after, compiler: SQLCompiler, **kw: Any) -> str:
    moment, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"date({moment}, '{int(days):+d} days')"


@compiles(days_after, "postgresql")
def _postgresql(element: days_after, compiler: SQLCompiler, **kw: Any) -> str:
    moment, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(CAST(({moment}) AT TIME ZONE 'UTC' AS DATE) + {int(days):d})"

"""Calendar arithmetic in SQL that reads the same on SQLite and PostgreSQL: the clinic's day of a stored moment.

Timestamps are stored in UTC (``tracker.models.base.UTCDateTime``); a clinic's day is the day on its own clock
(``tracker.clinictime``). The rules of the dashboard compare a measure's day with the day of a dosing session, and
the clinic overview counts sessions per day, so "the day of this timestamp in this zone, plus N days" is spelled
here, once:

- PostgreSQL: ``CAST(x AT TIME ZONE 'America/Denver' AS DATE) + N`` (its own copy of the IANA database);
- SQLite, which knows no zones: ``tracker_local_date(x, 'America/Denver', N)``, a Python function registered on
  every connection (``register_functions``, called by ``tracker.database.configure_engine``) that uses
  ``zoneinfo``; for UTC its own ``date(x, '+N days')``.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Date, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from tracker.clinictime import DEFAULT_ZONE, zone

#: The SQLite function's name.
LOCAL_DATE = "tracker_local_date"
#: The characters of IANA zone names ("America/Port-au-Prince", "Etc/GMT+7"): nothing that could end a SQL string.
_ZONE_NAME = re.compile(r"^[A-Za-z0-9/_+\-]+$")


class days_after(FunctionElement[Any]):
    """``days_after(timestamp, n, zone)``: the day of ``timestamp`` on the clock of ``zone`` (an IANA name; UTC by
    default) plus ``n`` whole days (``n`` a Python int)."""

    type = Date()
    inherit_cache = True
    name = "days_after"

    def __init__(
        self, moment: ColumnElement[Any] | QueryableAttribute[Any], days: int, zone_name: str = DEFAULT_ZONE
    ) -> None:
        zone(zone_name)  # refuses anything but a zone name before it reaches SQL
        if not _ZONE_NAME.match(zone_name):
            raise ValueError(f"unexpected characters in the zone name {zone_name!r}")
        # Literal columns, not bound values: both are part of the statement's cache key (the SQL differs by zone).
        super().__init__(moment, literal_column(str(int(days))), literal_column(f"'{zone_name}'"))


def day_of(moment: ColumnElement[Any] | QueryableAttribute[Any], zone_name: str = DEFAULT_ZONE) -> days_after:
    """The day of ``moment`` on the clock of ``zone_name``."""
    return days_after(moment, 0, zone_name)


def _parts(element: days_after, compiler: SQLCompiler, **kw: Any) -> tuple[str, int, str, str]:
    moment_clause, days_clause, zone_clause = element.clauses
    zone_sql = str(zone_clause)
    return compiler.process(moment_clause, **kw), int(str(days_clause)), zone_sql, zone_sql.strip("'")


@compiles(days_after, "sqlite")
def _sqlite(element: days_after, compiler: SQLCompiler, **kw: Any) -> str:
    moment, days, zone_sql, zone_name = _parts(element, compiler, **kw)
    if zone_name == DEFAULT_ZONE:
        return f"date({moment}, '{days:+d} days')"
    return f"{LOCAL_DATE}({moment}, {zone_sql}, {days:d})"


@compiles(days_after, "postgresql")
def _postgresql(element: days_after, compiler: SQLCompiler, **kw: Any) -> str:
    moment, days, zone_sql, _zone_name = _parts(element, compiler, **kw)
    return f"(CAST(({moment}) AT TIME ZONE {zone_sql} AS DATE) + {days:d})"


def _local_date(stored: str | None, zone_name: str, days: int) -> str | None:
    """SQLite's ``tracker_local_date``: a stored UTC timestamp ("2026-03-08 16:00:00.000000") -> the zone's day
    plus ``days``, as SQLite's ``date()`` writes it ("2026-03-08")."""
    if stored is None:
        return None
    moment = datetime.fromisoformat(str(stored))
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return (moment.astimezone(zone(zone_name)).date() + timedelta(days=int(days))).isoformat()


def register_functions(connection: sqlite3.Connection) -> None:
    connection.create_function(LOCAL_DATE, 3, _local_date, deterministic=True)

"""The clinic's own time: every moment is stored in UTC and typed, shown, printed and compared in the clinic's IANA
time zone. Pure functions of a zone and a moment (no Flask, no database), so each rule is tested alone.

Local times typed in a form go through ``from_local``, which refuses a time the clocks skip when they go forward
(``NonexistentTime``: 02:30 on the night summer time starts in Denver never happens) and, for the hour that
repeats when they go back, takes the first of the two readings (``fold=0``: daylight time), the one a clinician
typing during that hour most likely means; the page then prints the zone's abbreviation next to the time (MDT, not
MST), so the choice is visible. Python's ``zoneinfo`` reads the IANA database from the system, or from the pinned
``tzdata`` package where the system has none (PEP 615).
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

#: The zone of a clinic nobody has set one for: what the tracker used for every clinic before zones existed.
DEFAULT_ZONE = "UTC"
#: What a ``datetime-local`` input sends and shows (HTML's "valid normalized local date and time string", to the
#: minute).
INPUT_FORMAT = "%Y-%m-%dT%H:%M"
#: How the pages show a moment.
SHOWN_FORMAT = "%Y-%m-%d %H:%M"
EN_DASH = " \u2013 "

#: Prefixes of names that are in the database only as old aliases or for compatibility ("US/Mountain",
#: "Etc/GMT+7", whose sign is the reverse of what one reads); left out of the choices offered, still accepted.
_LEGACY_PREFIXES = ("Etc/", "SystemV/", "US/", "posix/", "right/", "Canada/", "Mexico/", "Brazil/", "Chile/")


class NonexistentTime(ValueError):
    """A local time the clocks skip (the gap when daylight saving time starts)."""

    def __init__(self, local: datetime, tz: tzinfo) -> None:
        self.local = local
        first = last = local
        while not _exists(first - timedelta(minutes=1), tz):
            first -= timedelta(minutes=1)
        while not _exists(last, tz):
            last += timedelta(minutes=1)
        super().__init__(
            f"{local:%Y-%m-%d %H:%M} does not exist in {getattr(tz, 'key', tz)}: that night the clocks went "
            f"forward from {first:%H:%M} to {last:%H:%M}. Enter a time before {first:%H:%M} or from {last:%H:%M}."
        )


def _exists(naive: datetime, tz: tzinfo) -> bool:
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


@functools.lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The zone named ``name`` (an IANA name such as "America/Denver").

    :raise ValueError: no such zone.
    """
    if not is_zone_name(name):
        raise ValueError(f"{name!r} is not an IANA time zone name")
    return ZoneInfo(name)


def is_zone_name(name: object) -> bool:
    """Whether ``name`` names a zone of the IANA database (a path-like or empty string never does)."""
    if not isinstance(name, str) or not name or name != name.strip() or ".." in name or name.startswith("/"):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


@functools.lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """The zones a clinic chooses from: every canonical IANA name ("Region/City"), and UTC, sorted."""
    names = {n for n in available_timezones() if "/" in n and not n.startswith(_LEGACY_PREFIXES)}
    return tuple(sorted(names | {DEFAULT_ZONE}))


def local(moment: datetime, tz: tzinfo) -> datetime:
    """``moment`` (aware) on the clinic's clock."""
    return _aware(moment).astimezone(tz)


def day_of(moment: datetime, tz: tzinfo) -> date:
    """The calendar day ``moment`` falls on in the clinic."""
    return local(moment, tz).date()


def today(tz: tzinfo, now: datetime | None = None) -> date:
    """The clinic's date now (or at ``now``)."""
    return day_of(now or datetime.now(UTC), tz)


def from_local(value: datetime, tz: tzinfo) -> datetime:
    """The UTC moment of a local date and time typed at the clinic (naive ``value``).

    The repeated hour when the clocks go back is read as its first occurrence (``fold=0``).

    :raise NonexistentTime: the clocks skip ``value`` (the hour lost when daylight saving time starts).
    """
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    naive = value.replace(fold=0)
    if not _exists(naive, tz):
        raise NonexistentTime(naive, tz)
    return naive.replace(tzinfo=tz).astimezone(UTC)


def is_ambiguous(value: datetime, tz: tzinfo) -> bool:
    """Whether the naive local ``value`` happens twice (the hour repeated when the clocks go back)."""
    first, second = value.replace(tzinfo=tz, fold=0), value.replace(tzinfo=tz, fold=1)
    return first.utcoffset() != second.utcoffset() and from_local_or_none(value, tz) is not None


def from_local_or_none(value: datetime, tz: tzinfo) -> datetime | None:
    try:
        return from_local(value, tz)
    except NonexistentTime:
        return None


def start_of_day(day: date, tz: tzinfo) -> datetime:
    """The first moment of ``day`` at the clinic, in UTC. Where the clocks skip midnight itself (a few zones start
    daylight saving time at 00:00), the day starts at the first time that exists."""
    naive = datetime.combine(day, time(0))
    for minutes in range(0, 24 * 60, 15):
        found = from_local_or_none(naive + timedelta(minutes=minutes), tz)
        if found is not None:
            return found
    raise ValueError(f"{day} has no time in {tz}")  # pragma: no cover - no zone skips a whole day's first 24 hours


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """``day`` at the clinic as UTC moments ``[start, end)``: 23, 24 or 25 hours long."""
    return start_of_day(day, tz), start_of_day(day + timedelta(days=1), tz)


def week_start(day: date) -> date:
    """The Monday of ``day``'s week (ISO 8601 weeks, as the calendars show)."""
    return day - timedelta(days=day.weekday())


def shown(moment: datetime | None, tz: tzinfo, fmt: str = SHOWN_FORMAT, with_zone: bool = True) -> str:
    """``moment`` as the pages print it on the clinic's clock, with the zone's abbreviation ("MST", "AEDT") unless
    ``with_zone`` is False; a dash for None."""
    if moment is None:
        return "—"
    at = local(moment, tz)
    text = at.strftime(fmt)
    return f"{text} {abbreviation(at)}" if with_zone else text


def shown_range(start: datetime | None, end: datetime | None, tz: tzinfo) -> str:
    """From ``start`` to ``end`` on the clinic's clock: "2026-03-08 09:00 - 10:30 MST" (an en dash); the end's date
    when it falls on another day, and both abbreviations when they differ (across a daylight-saving change)."""
    if start is None or end is None:
        return shown(start, tz)
    first, last = local(start, tz), local(end, tz)
    end_format = "%H:%M" if first.date() == last.date() else SHOWN_FORMAT
    if abbreviation(first) != abbreviation(last):
        return f"{shown(start, tz)}{EN_DASH}{shown(end, tz, end_format)}"
    return f"{first.strftime(SHOWN_FORMAT)}{EN_DASH}{last.strftime(end_format)} {abbreviation(last)}"


def abbreviation(moment: datetime) -> str:
    """The abbreviation of the offset in force at an aware ``moment`` ("MDT"); the offset itself where the
    database has no letters for it ("-03")."""
    return moment.tzname() or moment.strftime("%z")


def input_value(moment: datetime | None, tz: tzinfo) -> str:
    """``moment`` as a ``datetime-local`` input shows it (the clinic's clock), empty for None."""
    return "" if moment is None else local(moment, tz).strftime(INPUT_FORMAT)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC values from raw SQL; every stored moment is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

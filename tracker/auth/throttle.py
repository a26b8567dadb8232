"""Failed sign-in counters kept in the database, so every worker process and every host counts the same failures.

An attempt is charged to its account name *before* the password is checked, in one atomic statement (an upsert
that returns the new count), so thirty simultaneous guesses at one account, spread over any number of workers,
get no more than the limit checked between them; a correct password then gives its charge back. The window is
fixed from the first failure (OWASP Authentication Cheat Sheet, "Login Throttling"; ASVS 5.0 6.3.1).

Addresses are counted too, but never refused: a clinic signs in from behind one NAT address, so failures from an
address must not lock out its colleagues. An address that passes its threshold is flagged (a warning in the log
and an audit row), for the administrator or a proxy-level ban to act on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, literal, update
from sqlalchemy.dialects import postgresql, sqlite

from tracker.database import AnySession
from tracker.models import LoginThrottle
from tracker.models.base import UTCDateTime


def account_key(name: str) -> str:
    return "account:" + name[:150]


def address_key(address: str) -> str:
    return "address:" + address[:150]


def charge(session: AnySession, key: str, now: datetime, window: timedelta) -> int:
    """Count one failure (or attempt) against ``key`` and return the count in the current window."""
    at = literal(now, UTCDateTime())
    expired = LoginThrottle.window_started_at <= literal(now - window, UTCDateTime())
    insert = sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert
    statement = (
        insert(LoginThrottle)
        .values(key=key, window_started_at=now, failures=1)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.key],
            set_={
                "failures": case((expired, 1), else_=LoginThrottle.failures + 1),
                "window_started_at": case((expired, at), else_=LoginThrottle.window_started_at),
            },
        )
        .returning(LoginThrottle.failures)
    )
    count: int = session.execute(statement).scalar_one()
    return count


def refund(session: AnySession, key: str) -> None:
    """Give back an attempt charged before the password turned out correct: successful sign-ins do not count."""
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.failures > 0)
        .values(failures=LoginThrottle.failures - 1)
    )


def count(session: AnySession, key: str, now: datetime, window: timedelta) -> int:
    """The failures counted against ``key`` in the current window, without charging one."""
    row = session.get(LoginThrottle, key, populate_existing=True)
    if row is None or row.window_started_at <= now - window:
        return 0
    return row.failures


def refused_address(session: AnySession, kind: str, address: str | None, now: datetime, window: timedelta,
                    allowed: int) -> bool:
    """Whether ``address`` has used up its ``allowed`` refusals of ``kind`` (wrong links, unknown tokens) within
    the window. Used where a guess costs nothing to try but is worthless to a colleague: a clinic behind one NAT
    address never makes ten wrong links in a quarter of an hour."""
    return address is not None and count(session, f"{kind}:{address[:120]}", now, window) >= allowed


def charge_address(session: AnySession, kind: str, address: str | None, now: datetime, window: timedelta) -> int:
    """Count one request (or refusal) of ``kind`` against ``address``; 0 when the address is unknown."""
    return 0 if address is None else charge(session, f"{kind}:{address[:120]}", now, window)

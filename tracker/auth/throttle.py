"""Failed sign-in counters kept in the database, so every worker process and every host counts the same failures.

An attempt is charged to its account name *before* the password is checked, in one atomic statement (an upsert
that returns the new count), so thirty simultaneous guesses at one account, spread over any number of workers,
get no more than the limit checked between them; a correct password then gives its charge back. The window is
fixed from the first failure (OWASP Authentication Cheat Sheet, "Login Throttling"; ASVS 5.0 6.3.1).

A guesser must not be able to lock anyone out from anywhere, so an account is locked per address first: after
``LOGIN_FAILURES_PER_ACCOUNT_ADDRESS`` failures from one address, that account waits there, and only after the
much higher ``LOGIN_FAILURES_PER_ACCOUNT`` from everywhere together does it wait everywhere. An admin can lift both
(audited), and a completed set-password link lifts them too. Addresses are counted, but a clinic signs in from
behind one NAT address, so failures at other accounts never stop a colleague's correct sign-in, however many: an
address that passes ``LOGIN_FAILURES_FLAG_ADDRESS`` is flagged (a warning in the log and an audit row), never
locked; the rate of attempts from one address is the front proxy's to cap (nginx ``limit_req``).

Keys are stored as an HMAC-SHA256 under the app's secret key: the table never holds an account name someone typed
(perhaps a password typed in the wrong box) or a client's address, and expired rows are deleted by the worker
(``purge_expired``, tracker/housekeeping.py).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, literal, update
from sqlalchemy.dialects import postgresql, sqlite

from tracker.database import AnySession
from tracker.models import LoginThrottle
from tracker.models.base import UTCDateTime


def hashed(key: str, secret: str | None = None) -> str:
    """What is stored for ``key``: its HMAC-SHA256 under ``secret`` (default: the app's secret key)."""
    secret = secret if secret is not None else str(current_app.config["SECRET_KEY"])
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def account_key(name: str) -> str:
    return "account:" + name[:150]


def address_key(address: str) -> str:
    return "address:" + address[:150]


def pair_key(name: str, address: str | None) -> str:
    """One account from one address. Stored as the account's hash, a slash and the address's hash, so an unlock
    finds every address of an account without the table holding either in clear."""
    return f"{account_key(name)}/{address_key(address or '')}"


def _stored(key: str) -> str:
    if "/" in key:
        account, address = key.split("/", 1)
        return f"{hashed(account)}/{hashed(address)}"
    return hashed(key)


def charge(db: AnySession, key: str, now: datetime, window: timedelta) -> int:
    """Count one failure (or attempt) against ``key`` and return the count in the current window."""
    key = _stored(key)
    at = literal(now, UTCDateTime())
    expired = LoginThrottle.window_started_at <= literal(now - window, UTCDateTime())
    insert = sqlite.insert if db.get_bind().dialect.name == "sqlite" else postgresql.insert
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
    count: int = db.execute(statement).scalar_one()
    return count


def refund(db: AnySession, key: str) -> None:
    """Give back an attempt charged before the password turned out correct: successful sign-ins do not count."""
    db.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == _stored(key), LoginThrottle.failures > 0)
        .values(failures=LoginThrottle.failures - 1)
    )


def count(db: AnySession, key: str, now: datetime, window: timedelta) -> int:
    """The failures counted against ``key`` in the current window, without charging one."""
    row = db.get(LoginThrottle, _stored(key), populate_existing=True)
    if row is None or row.window_started_at <= now - window:
        return 0
    return row.failures


def refused_address(
    db: AnySession, kind: str, address: str | None, now: datetime, window: timedelta, allowed: int
) -> bool:
    """Whether ``address`` has used up its ``allowed`` refusals of ``kind`` (wrong links, unknown tokens) within
    the window. Used where a guess costs nothing to try but is worthless to a colleague: a clinic behind one NAT
    address never makes ten wrong links in a quarter of an hour."""
    return address is not None and count(db, f"{kind}:{address[:120]}", now, window) >= allowed


def charge_address(db: AnySession, kind: str, address: str | None, now: datetime, window: timedelta) -> int:
    """Count one request (or refusal) of ``kind`` against ``address``; 0 when the address is unknown."""
    return 0 if address is None else charge(db, f"{kind}:{address[:120]}", now, window)


def clear_account(db: AnySession, name: str) -> int:
    """Lift every lock of the account ``name``: its own counter and those of each address. Returns the rows
    deleted."""
    account = hashed(account_key(name))
    result = db.execute(
        delete(LoginThrottle).where((LoginThrottle.key == account) | LoginThrottle.key.startswith(account + "/"))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def purge_expired(db: AnySession, now: datetime, window: timedelta) -> int:
    """Delete the counters whose window ended (``window``: the longest any key uses); returns how many."""
    result = db.execute(delete(LoginThrottle).where(LoginThrottle.window_started_at <= now - window))
    return int(getattr(result, "rowcount", 0) or 0)

"""Account operations, shared by the admin pages and ``flask users``. Each audits; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from tracker import audit, passwords
from tracker.auth import sessions, signin, throttle
from tracker.auth.services import normalise_username
from tracker.extensions import db
from tracker.models import AuditEvent, Clinic, PasswordReset, Role, SessionEnd, User
from tracker.models.base import utcnow
from tracker.validators import FieldError


class AccountError(FieldError):
    """An account change refused for a reason shown next to ``field``."""


@dataclass(frozen=True)
class AccountDetails:
    full_name: str
    roles: frozenset[Role]
    supervisor_id: int | None = None
    #: Their signed notes wait for their supervisor's co-signature.
    needs_cosign: bool = False
    #: Where urgent safety alerts are e-mailed (None: in the app only).
    email: str | None = None


#: The message when a form, the command line or a caller asks for an admin that is also clinical.
ADMIN_OR_CLINICAL = (
    "An account is either an admin or clinical (therapist, supervisor), never both: an admin could otherwise give "
    "themselves access to patients. Make a second account for the other role."
)


def _check(clinic_id: int, details: AccountDetails, user_id: int | None = None) -> None:
    if not details.roles:
        raise AccountError("roles", "Give the account at least one role.")
    if Role.ADMIN in details.roles and details.roles & {Role.THERAPIST, Role.SUPERVISOR}:
        raise AccountError("roles", ADMIN_OR_CLINICAL)
    if details.supervisor_id is not None:
        if details.supervisor_id == user_id:
            raise AccountError("supervisor_id", "A therapist cannot supervise themselves.")
        supervisor = db.session.get(User, details.supervisor_id)
        if supervisor is None or supervisor.clinic_id != clinic_id or not supervisor.is_supervisor:
            raise AccountError("supervisor_id", "Choose a supervisor of this clinic.")
    if Role.THERAPIST in details.roles and details.supervisor_id is None:
        raise AccountError("supervisor_id", "Every therapist needs a supervisor.")
    if details.needs_cosign and details.supervisor_id is None:
        raise AccountError("supervisor_id", "Co-signature needs a supervisor to co-sign.")


def _apply(user: User, details: AccountDetails) -> None:
    user.full_name = details.full_name
    user.is_therapist = Role.THERAPIST in details.roles
    user.is_supervisor = Role.SUPERVISOR in details.roles
    user.is_admin = Role.ADMIN in details.roles
    user.supervisor_id = details.supervisor_id
    user.needs_cosign = details.needs_cosign
    user.email = details.email.strip().lower() if details.email and details.email.strip() else None


def _snapshot(user: User) -> dict[str, object]:
    return {
        "full_name": user.full_name,
        "roles": sorted(r.value for r in user.roles),
        "supervisor_id": user.supervisor_id,
        "needs_cosign": user.needs_cosign,
        "email": user.email,
        "active": user.active,
    }


#: Audit action of every role given or taken away, which the clinic's admins see on the accounts page.
ROLES_CHANGED = "user.roles_change"


def _record_role_change(actor: User | None, user: User, before: frozenset[Role]) -> None:
    """A separate audit row for each change of roles (a grant of access), listed for every admin of the clinic."""
    after = frozenset(user.roles)
    if after == before:
        return
    granted, removed = sorted(r.value for r in after - before), sorted(r.value for r in before - after)
    parts = [f"gave {', '.join(granted)}"] if granted else []
    parts += [f"took away {', '.join(removed)}"] if removed else []
    audit.record(
        actor,
        ROLES_CHANGED,
        f"Roles of {user.username}: {'; '.join(parts)}",
        target_type="user",
        target_id=user.id,
        data={"account": user.username, "granted": granted, "removed": removed},
        clinic_id=user.clinic_id,
    )


def recent_role_changes(clinic_id: int, since: datetime, limit: int) -> list[AuditEvent]:
    """The clinic's role grants and removals since ``since``, newest first (the accounts page shows them to every
    admin, so no admin's grant goes unseen by the others)."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.clinic_id == clinic_id, AuditEvent.action == ROLES_CHANGED, AuditEvent.created_at >= since
            )
            .options(joinedload(AuditEvent.actor))
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )


#: The stored hash of an account whose owner has not set a password yet: no password verifies against it.
NO_PASSWORD_YET = "!unset"  # noqa: S105 - a marker, not a password


def create_user(
    actor: User | None, clinic_id: int, username: str, password: str | None, details: AccountDetails
) -> User:
    """Add a staff account. ``actor`` is None when created from the command line (or the demo and tests).

    ``password`` None (the admin pages, always): the account has no password until its owner sets one with a
    set-password link (``credentials.issue_link``), so an admin never knows a password they could sign in with.
    Only the server's operator (the command line) and the demo and test data give one here.

    :raise AccountError: name taken, no role, admin and clinical roles together, therapist without supervisor.
    :raise AccountError: also for a password refused by ``passwords.check_new_password``.
    """
    name = normalise_username(username)
    if db.session.scalar(select(User.id).where(User.username == name)) is not None:
        raise AccountError("username", "This username is taken.")
    _check(clinic_id, details)
    clinic_name = db.session.scalar(select(Clinic.name).where(Clinic.id == clinic_id)) or ""
    password_hash = NO_PASSWORD_YET
    if password is not None:
        try:
            passwords.check_new_password(password, [name, details.full_name, clinic_name])
            password_hash = passwords.hash_password(password)
        except passwords.PasswordPolicyError as error:
            raise AccountError("password", str(error)) from None
    user = User(clinic_id=clinic_id, username=name, password_hash=password_hash, active=True)
    _apply(user, details)
    db.session.add(user)
    db.session.flush()
    audit.record(
        actor,
        "user.create",
        f"Created account {name}",
        target_type="user",
        target_id=user.id,
        data={"changes": audit.diff({}, _snapshot(user))},
        clinic_id=clinic_id,
    )
    _record_role_change(actor, user, frozenset())
    return user


def update_user(actor: User, user: User, details: AccountDetails) -> dict[str, list[object]]:
    """Change name, roles and supervisor; returns the audited changes.

    :raise AccountError: as for ``create_user``, or an admin changing their own roles (separation of duties: an
        admin cannot make themselves a clinician and open patients, nor drop a role unseen).
    """
    if user.id == actor.id and details.roles != frozenset(user.roles):
        raise AccountError("roles", "You cannot change your own roles: another admin of the clinic must do it.")
    _check(user.clinic_id, details, user.id)
    before = _snapshot(user)
    roles_before = frozenset(user.roles)
    _apply(user, details)
    changes = audit.diff(before, _snapshot(user))
    if changes:
        audit.record(
            actor,
            "user.update",
            f"Changed account {user.username}",
            target_type="user",
            target_id=user.id,
            data={"changes": changes},
        )
    _record_role_change(actor, user, roles_before)
    return changes


def set_active(actor: User, user: User, active: bool) -> None:
    """Deactivate (ending every open session at once) or reactivate an account.

    :raise AccountError: an admin deactivating themselves.
    """
    if user.id == actor.id and not active:
        raise AccountError("active", "You cannot deactivate your own account.")
    if user.active == active:
        return
    user.active = active
    if not active:
        now = utcnow()
        sessions.end_all_for(db.session, user, SessionEnd.DEACTIVATED, now)
        signin.cancel_for(user)
        # Open set-password links are cancelled: reactivating the account must not bring an old link back to life.
        db.session.execute(
            update(PasswordReset)
            .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
    audit.record(
        actor,
        "user.activate" if active else "user.deactivate",
        f"{'Reactivated' if active else 'Deactivated'} account {user.username}",
        target_type="user",
        target_id=user.id,
        data={"changes": {"active": [not active, active]}},
    )


def unlock(actor: User, user: User) -> bool:
    """Lift the sign-in locks of ``user``'s account (from every address), as its owner asks after a guesser locked
    it; audited. Returns whether there was anything to lift."""
    lifted = throttle.clear_account(db.session, user.username) > 0
    audit.record(
        actor,
        "user.unlock",
        f"Lifted the sign-in lock of {user.username}",
        target_type="user",
        target_id=user.id,
        data={"was_locked": lifted},
        clinic_id=user.clinic_id,
    )
    return lifted


def is_locked(user: User, now: datetime) -> bool:
    """Whether ``user``'s account waits everywhere after too many failures (a lock at one address is not shown)."""
    from flask import current_app

    config = current_app.config
    failures = throttle.count(db.session, throttle.account_key(user.username), now, config["LOGIN_FAILURE_WINDOW"])
    return failures >= int(config["LOGIN_FAILURES_PER_ACCOUNT"])

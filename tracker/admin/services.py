"""Account operations, shared by the admin pages and ``flask users``. Each audits; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from tracker import audit, passwords
from tracker.auth import sessions
from tracker.auth.services import normalise_username
from tracker.extensions import db
from tracker.models import Role, SessionEnd, User
from tracker.models.base import utcnow


class AccountError(ValueError):
    """An account change refused for a reason shown next to ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AccountDetails:
    full_name: str
    roles: frozenset[Role]
    supervisor_id: int | None = None
    #: Their signed notes wait for their supervisor's co-signature.
    needs_cosign: bool = False


def _check(clinic_id: int, details: AccountDetails, user_id: int | None = None) -> None:
    if not details.roles:
        raise AccountError("roles", "Give the account at least one role.")
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


def _snapshot(user: User) -> dict[str, object]:
    return {
        "full_name": user.full_name,
        "roles": sorted(r.value for r in user.roles),
        "supervisor_id": user.supervisor_id,
        "needs_cosign": user.needs_cosign,
        "active": user.active,
    }


def create_user(actor: User | None, clinic_id: int, username: str, password: str, details: AccountDetails) -> User:
    """Add a staff account. ``actor`` is None when created from the command line.

    :raise AccountError: name taken, no role, therapist without supervisor.
    :raise passwords.PasswordPolicyError: password too short or too long.
    """
    name = normalise_username(username)
    if db.session.scalar(select(User.id).where(User.username == name)) is not None:
        raise AccountError("username", "This username is taken.")
    _check(clinic_id, details)
    try:
        password_hash = passwords.hash_password(password)
    except passwords.PasswordPolicyError as error:
        raise AccountError("password", str(error)) from None
    user = User(clinic_id=clinic_id, username=name, password_hash=password_hash, active=True)
    _apply(user, details)
    db.session.add(user)
    db.session.flush()
    audit.record(
        actor, "user.create", f"Created account {name}", target_type="user", target_id=user.id,
        data={"changes": audit.diff({}, _snapshot(user))}, clinic_id=clinic_id,
    )
    return user


def update_user(actor: User, user: User, details: AccountDetails) -> dict[str, list[object]]:
    """Change name, roles and supervisor; returns the audited changes.

    :raise AccountError: as for ``create_user``, or an admin removing their own admin role.
    """
    if user.id == actor.id and Role.ADMIN not in details.roles:
        raise AccountError("roles", "You cannot remove your own admin role.")
    _check(user.clinic_id, details, user.id)
    before = _snapshot(user)
    _apply(user, details)
    changes = audit.diff(before, _snapshot(user))
    if changes:
        audit.record(
            actor, "user.update", f"Changed account {user.username}", target_type="user", target_id=user.id,
            data={"changes": changes},
        )
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
        sessions.end_all_for(db.session, user, SessionEnd.DEACTIVATED, utcnow())
    audit.record(
        actor, "user.activate" if active else "user.deactivate",
        f"{'Reactivated' if active else 'Deactivated'} account {user.username}",
        target_type="user", target_id=user.id, data={"changes": {"active": [not active, active]}},
    )

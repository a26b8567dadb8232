"""Setting passwords, at every door: a user changing their own, an admin's set-password link or forced change at
next sign-in, and the command line (ASVS 5.0 V6.2.2, V6.4.3, V6.4.6; V7.4.3).

- Every new password passes ``passwords.check_new_password`` (length, leaked lists, context words).
- Changing one's own password needs the current one (re-entry, throttled and audited) and ends every other login
  session of the account; a link or a forced change ends all of them.
- An admin never sets or learns a password: they issue a one-time link that expires after
  ``PASSWORD_RESET_HOURS`` (only its SHA-256 is stored; a newer link cancels older ones), or flag the account so
  its next sign-in sets a new password first. A reset never skips two-factor sign-in: the link sets the password
  and nothing more; signing in still asks for the second factor.
- Nothing here stores or audits a password or a link's token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from tracker import audit, passwords
from tracker.auth import reauth, sessions, signin, throttle, twofactor
from tracker.extensions import db
from tracker.models import Clinic, LoginSession, PasswordReset, SessionEnd, User
from tracker.validators import FieldError


class CredentialError(FieldError):
    """A refusal shown next to ``field``."""


def context_of(user: User) -> list[str]:
    """What a password must not be built on: the username, the person's name and the clinic's name."""
    clinic_name = db.session.scalar(select(Clinic.name).where(Clinic.id == user.clinic_id)) or ""
    return [user.username, user.full_name, clinic_name]


def _set(user: User, new_password: str, confirm: str, now: datetime) -> None:
    if new_password != confirm:
        raise CredentialError("confirm", "The two new passwords differ.")
    try:
        passwords.check_new_password(new_password, context_of(user))
    except passwords.PasswordPolicyError as error:
        raise CredentialError("new_password", str(error)) from None
    if passwords.verify_password(user.password_hash, new_password):
        raise CredentialError("new_password", "Choose a password different from the one you have.")
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = now
    user.must_change_password = False
    twofactor.drop_pending(user)


def change_own(
    user: User, current: str, new_password: str, confirm: str, keep_token: str | None, now: datetime
) -> None:
    """``user`` changes their own password; every other login session of theirs ends (``keep_token``: the one
    they are using).

    :raise CredentialError: wrong current password (throttled, audited: commit that row), or a refused new one.
    """
    try:
        reauth.confirm_password(user, current, "change their password")
    except reauth.ReauthFailed as failed:
        raise CredentialError("current_password", str(failed)) from None
    _set(user, new_password, confirm, now)
    keep = sessions.digest(keep_token) if keep_token else None
    db.session.execute(
        update(LoginSession)
        .where(
            LoginSession.user_id == user.id, LoginSession.ended_at.is_(None), LoginSession.token_hash != (keep or "")
        )
        .values(ended_at=now, end_reason=SessionEnd.PASSWORD_CHANGED.value)
    )
    audit.record(user, "auth.password_changed", f"{user.username} changed their password; other sessions ended")


def set_at_sign_in(user: User, new_password: str, confirm: str, now: datetime) -> None:
    """The forced change at sign-in (the password was just checked by the sign-in itself).

    :raise CredentialError: a refused new password.
    """
    _set(user, new_password, confirm, now)
    sessions.end_all_for(db.session, user, SessionEnd.PASSWORD_CHANGED, now)
    audit.record(user, "auth.password_changed", f"{user.username} set a new password at sign-in, as asked")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(actor: User | None, user: User, now: datetime) -> str:
    """A one-time set-password link token for ``user`` (cancelling older ones, ending their sessions); the caller
    shows it once. ``actor`` None: the command line.

    :raise CredentialError: an admin resetting their own password (they change it themselves), or a deactivated
        account.
    """
    _check_target(actor, user)
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    hours = int(current_app.config["PASSWORD_RESET_HOURS"])
    db.session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=_digest(token),
            created_by_id=actor.id if actor else None,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    sessions.end_all_for(db.session, user, SessionEnd.PASSWORD_CHANGED, now)
    twofactor.drop_pending(user)
    signin.cancel_for(user)
    audit.record(
        actor,
        "user.password_link",
        f"Issued a set-password link for {user.username}, valid {hours} h",
        target_type="user",
        target_id=user.id,
        clinic_id=user.clinic_id,
    )
    return token


def link_url(token: str) -> str:
    """The full set-password link, on the configured ``BASE_URL`` (never the request's Host header, which the
    client chooses: a forged Host would put an attacker's site in the link an admin hands over)."""
    return f"{current_app.config['BASE_URL'].rstrip('/')}/set-password/{token}"


def force_change(actor: User | None, user: User, now: datetime) -> None:
    """``user`` must set a new password at their next sign-in; their sessions end now.

    :raise CredentialError: as for ``issue_link``.
    """
    _check_target(actor, user)
    user.must_change_password = True
    sessions.end_all_for(db.session, user, SessionEnd.PASSWORD_CHANGED, now)
    twofactor.drop_pending(user)
    signin.cancel_for(user)
    audit.record(
        actor,
        "user.password_forced",
        f"{user.username} must set a new password at next sign-in",
        target_type="user",
        target_id=user.id,
        clinic_id=user.clinic_id,
    )


def _check_target(actor: User | None, user: User) -> None:
    if actor is not None and actor.id == user.id:
        raise CredentialError("how", "Change your own password under Account instead.")
    if not user.active:
        raise CredentialError("how", "This account is deactivated: reactivate it first.")


def link_for(token: str, now: datetime) -> PasswordReset | None:
    """The unused, unexpired link behind ``token``, for an active account; None otherwise (one answer for unknown,
    used and expired links)."""
    found: PasswordReset | None = db.session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == _digest(token))
    )
    if found is None or found.used_at is not None or found.expires_at <= now:
        return None
    user = db.session.get(User, found.user_id)
    return found if user is not None and user.active else None


def set_with_link(token: str, new_password: str, confirm: str, now: datetime) -> User:
    """Set the password of the link's account and use the link up (a race between two uses lets one through).

    :raise CredentialError: the link is not valid (field ``token``), or a refused new password.
    """
    link = link_for(token, now)
    if link is None:
        raise CredentialError("token", "This link is not valid: it was used, replaced by a newer one, or expired.")
    user = db.session.get(User, link.user_id)
    assert user is not None
    _set(user, new_password, confirm, now)
    used = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == link.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(used, "rowcount", 0) != 1:
        raise CredentialError("token", "This link is not valid: it was used, replaced by a newer one, or expired.")
    sessions.end_all_for(db.session, user, SessionEnd.PASSWORD_CHANGED, now)
    throttle.clear_account(db.session, user.username)  # whoever had locked the account out, its owner is back in
    audit.record(user, "auth.password_set_by_link", f"{user.username} set a new password with a link")
    return user

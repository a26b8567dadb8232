"""Two-factor sign-in: time-based one-time passwords (TOTP, RFC 6238, with pyotp) and single-use recovery codes.

- A code is accepted once: the time step of the last accepted code is kept on the account, and only a later step
  is accepted, by a conditional UPDATE that two concurrent requests cannot both win (ASVS 5.0 V6.5.1; OpenEMR and
  SecureDrop keep the last token the same way). One step either side of now is accepted for clock drift (RFC 6238
  section 6).
- Recovery codes: ten, 80 random bits each, shown once; only their SHA-256 is stored; each works once.
- Enrolment shows the secret as a QR code drawn here as inline SVG (segno): no image service sees the secret.
- Wrong codes are audited and throttled per account like password re-entry (``tracker.auth.reauth``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import pyotp
import segno
from flask import current_app
from markupsafe import Markup
from sqlalchemy import delete, or_, update

from tracker import audit
from tracker.auth.reauth import recent_failures, throttled_message
from tracker.database import writing
from tracker.extensions import db
from tracker.models import RecoveryCode, User

ISSUER = "Care Tracker"
FAILED = "auth.mfa_failed"
RECOVERY_CODES = 10
#: Base32 without look-alikes; 16 characters = 80 bits.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_CODE_LENGTH = 16


class CodeRefused(ValueError):
    """A wrong, reused or throttled code; the message is for the code field."""


def new_secret() -> str:
    return pyotp.random_base32(32)


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> Markup:
    """The enrolment QR code as inline SVG, drawn on the server (nothing leaves it)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff", title="QR code for your app")
    return Markup(svg)  # noqa: S704 - segno's own SVG of a URI we built, no user markup


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _claim_step(user: User, step: int) -> bool:
    """Record ``step`` as the last used, only if it is later than the last one (atomic: the replay loses)."""
    result = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) == 1:
        user.totp_last_step = step
        return True
    return False


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").casefold().encode()).hexdigest()


def _use_recovery_code(user: User, code: str, now: datetime) -> bool:
    result = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _recovery_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def _throttle(user: User, now: datetime) -> None:
    minutes = int(current_app.config["REAUTH_WINDOW_MINUTES"])
    if recent_failures(user, FAILED, now, timedelta(minutes=minutes)) >= int(current_app.config["REAUTH_MAX_FAILURES"]):
        audit.record(user, "auth.mfa_throttled", "Two-factor code refused after repeated failures")
        raise CodeRefused(throttled_message(minutes).replace("passwords", "codes"))


def check_code(user: User, code: str, now: datetime, *, secret: str | None = None, recovery: bool = True) -> str:
    """Accept ``code`` for ``user``: a TOTP code of a step later than the last one used, or (``recovery``) an unused
    recovery code. ``secret``: the one being enrolled, instead of the account's. Returns "totp" or "recovery".

    :raise CodeRefused: throttled, wrong, or already used (each audited; the caller commits that row).
    """
    _throttle(user, now)
    typed = "".join(code.split())
    secret = secret or user.totp_secret
    if secret and typed.isdigit() and len(typed) == 6:
        step = _matching_step(secret, typed, now)
        if step is not None and _claim_step(user, step):
            return "totp"
        reason = "a code already used" if step is not None else "a wrong code"
    elif recovery and len(typed.replace("-", "")) == _CODE_LENGTH and _use_recovery_code(user, typed, now):
        return "recovery"
    else:
        reason = "a wrong code"
    audit.record(user, FAILED, f"Two-factor sign-in refused: {reason}", data={"reason": reason})
    raise CodeRefused("That code is not valid (a code works once). Enter the newest code from your app.")


def new_recovery_codes(user: User, now: datetime) -> list[str]:
    """Replace ``user``'s recovery codes with ten new ones; returns them, to show once."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
        code = "-".join(raw[i : i + 4] for i in range(0, _CODE_LENGTH, 4))
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(code), created_at=now))
        codes.append(code)
    return codes


def enrolment_secret(user: User) -> str:
    """A new secret to enrol, replacing any pending one (each enrolment page shown draws its own, so a secret
    shown earlier, perhaps on a shared screen or in a stale tab, stops working). Kept on the account (never in the
    cookie), not in use until confirmed; written in a short transaction of its own (the page is a GET). Only for an
    account without two-factor sign-in."""
    if user.has_two_factor:
        raise ValueError("two-factor sign-in is already on")
    with writing(db.session):
        db.session.refresh(user, ["totp_secret", "totp_enabled_at"])
        if user.has_two_factor:
            db.session.rollback()
            raise ValueError("two-factor sign-in is already on")
        user.totp_secret = new_secret()
        db.session.commit()
    assert user.totp_secret is not None
    return user.totp_secret


def pending_secret(user: User) -> str | None:
    """The secret being enrolled, as the last enrolment page showed it; None if none is pending."""
    return None if user.has_two_factor else user.totp_secret


def drop_pending(user: User) -> None:
    """Forget a secret being enrolled but not confirmed (a password set or reset: whoever saw it before must not
    finish the enrolment with it)."""
    if not user.has_two_factor:
        user.totp_secret = None


def confirm_enrolment(user: User, code: str, now: datetime) -> list[str]:
    """Turn two-factor sign-in on once ``code`` from the pending enrolment secret is right; returns the recovery
    codes.

    :raise CodeRefused: no pending secret, or a wrong code (audited).
    """
    secret = pending_secret(user)
    if secret is None:
        raise CodeRefused("Scan the code on this page again: reload it for a new one.")
    check_code(user, code, now, secret=secret, recovery=False)
    user.totp_enabled_at = now
    codes = new_recovery_codes(user, now)
    audit.record(user, "auth.mfa_enabled", f"{user.username} turned on two-factor sign-in")
    return codes


def remove(user: User, actor: User | None, now: datetime) -> None:
    """Turn two-factor sign-in off for ``user`` (by themselves, an admin, or the command line when ``actor`` is
    None), dropping the secret and every recovery code."""
    user.totp_secret = user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    by = "themselves" if actor is not None and actor.id == user.id else (actor.username if actor else "command line")
    audit.record(
        actor,
        "auth.mfa_removed",
        f"Two-factor sign-in of {user.username} removed by {by}",
        target_type="user",
        target_id=user.id,
        clinic_id=user.clinic_id,
    )


def required_for(user: User, clinic_requires: bool) -> bool:
    """Whether ``user`` must sign in with a second factor: their clinic asks it of every account, admins included
    (an admin manages who may see patients, so a stolen admin password is as dangerous as a clinician's)."""
    return clinic_requires

"""Password hashing with Argon2id (argon2-cffi) and the length policy (ASVS 6.2.1, 6.2.9; OWASP storage CS).

Length is the only rule: at least ``PASSWORD_MIN_LENGTH`` characters, at most ``PASSWORD_MAX_LENGTH``, checked
before hashing so an oversized password costs nothing.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app


class PasswordPolicyError(ValueError):
    pass


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def check_policy(password: str) -> None:
    """Raise ``PasswordPolicyError`` with a message for the form if ``password`` is too short or too long."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    maximum = current_app.config["PASSWORD_MAX_LENGTH"]
    if len(password) < minimum:
        raise PasswordPolicyError(f"Use at least {minimum} characters.")
    if len(password) > maximum:
        raise PasswordPolicyError(f"Use at most {maximum} characters.")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches. For an unknown account pass ``None``: a dummy hash is still verified so
    the response takes as long as for a real account and does not reveal which names exist."""
    if len(password) > current_app.config["PASSWORD_MAX_LENGTH"]:
        return False
    hasher = _hasher()
    target = stored_hash or _dummy_hash(hasher)
    try:
        return hasher.verify(target, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)


_DUMMY: dict[tuple[int, int, int], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _DUMMY:
        _DUMMY[key] = hasher.hash("not-a-real-password-for-timing-only")
    return _DUMMY[key]

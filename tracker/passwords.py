"""Password hashing with Argon2id (argon2-cffi) and the policy for new passwords (ASVS 5.0 V6.2; OWASP storage CS).

Length: at least ``PASSWORD_MIN_LENGTH`` characters, at most ``PASSWORD_MAX_LENGTH``, checked before hashing so an
oversized password costs nothing. No composition rules (ASVS V6.2.5).

A new password (``check_new_password``, every door that sets one: the admin's new account, the user's own change,
a set-password link, a forced change, the command line) is also refused when it is one of the passwords leaked
most often, or is built on one ("Password1234567"), on a repeated character, or on the person's own name, username
or the clinic's name (ASVS V6.2.4, V6.2.11, V6.2.12). The leaked list is the 30,000 most common passwords of the
Xato corpus of 10 million passwords from breaches, as the maintained ``zxcvbn`` package ships it (Wheeler, 2016,
"zxcvbn: Low-Budget Password Strength Estimation", USENIX Security, https://www.usenix.org/conference/
usenixsecurity16/technical-sessions/presentation/wheeler), read offline, once per process. Last, it must score at
least ``PASSWORD_MIN_STRENGTH`` (3 of 4, "safely unguessable: moderate protection from offline slow-hash scenario",
the same paper) on zxcvbn's own estimate, with the person's names and the clinic's as known words, so keyboard walks,
sequences, dates and l33t spellings of words are refused too ("qwertyuiopasdf", "abcdefgh12345678").
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterable

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


#: Characters a common password is padded with ("password1234567!").
_PADDING = string.digits + string.punctuation + string.whitespace
#: Words shorter than this are not held against a password (too many passphrases contain "ana" or "lee").
_CONTEXT_WORD_MIN = 4


@functools.cache
def leaked_passwords() -> frozenset[str]:
    """The 30,000 most common leaked passwords, case-folded (zxcvbn's Xato list; about 50 ms, once)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.casefold() for word in FREQUENCY_LISTS["passwords"])


def _context_words(context: Iterable[str]) -> list[str]:
    words = set()
    for text in context:
        for word in re.split(r"[^\w]+", text.casefold()):
            if len(word) >= _CONTEXT_WORD_MIN:
                words.add(word)
    return sorted(words, key=len, reverse=True)


def check_new_password(password: str, context: Iterable[str] = ()) -> None:
    """Raise ``PasswordPolicyError`` unless ``password`` may be set as someone's new password. ``context``: the
    person's username and name, and the clinic's name, whose words a password must not be built on.

    :raise PasswordPolicyError: too short or too long; a leaked password; a leaked password padded with digits or
        symbols; fewer than five different characters; mostly the context's words.
    """
    check_policy(password)
    folded = password.casefold()
    core = folded.strip(_PADDING)
    leaked = leaked_passwords()
    if folded in leaked or folded.replace(" ", "") in leaked:
        raise PasswordPolicyError("This password is in lists of passwords leaked from other sites. Choose another.")
    if core in leaked or len(set(core)) < 5:
        raise PasswordPolicyError(
            "This password is a common one with numbers or symbols around it, or repeats a few characters. "
            "A few unrelated words make a strong password."
        )
    rest = folded
    for word in _context_words(context):
        rest = rest.replace(word, "")
    if len(re.sub(r"[\W\d_]", "", rest)) < 6 or rest.strip(_PADDING) in leaked:
        raise PasswordPolicyError("This password is built on your name, username or the clinic's name. Choose another.")
    check_strength(password, context)


#: zxcvbn refuses longer input; the first 72 characters of a longer password are scored (more only adds strength).
_ZXCVBN_MAX = 72


def check_strength(password: str, context: Iterable[str] = ()) -> None:
    """:raise PasswordPolicyError: zxcvbn scores ``password`` below ``PASSWORD_MIN_STRENGTH`` (0-4)."""
    from zxcvbn import zxcvbn

    needed = int(current_app.config["PASSWORD_MIN_STRENGTH"])
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[word for text in context for word in text.split()])
    if int(result["score"]) < needed:
        hint = result["feedback"].get("warning") or "It follows a pattern that is quick to guess."
        raise PasswordPolicyError(
            f"This password is too easy to guess (strength {result['score']} of 4, {needed} needed). {hint} "
            "Add another word or two; unrelated, uncommon words are best."
        )


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

"""Whether a clinician's words say something: the test behind every free-text record that stands for a decision
(an alert's acknowledgement, the decision to dose above the blood-pressure threshold).

A record that closes a safety alert or lets a dose through must be readable by the next clinician as what was done
and why, so "." or "ok ok ok ok ok" is not one: it needs a few characters and a few *different* words of two letters
or more. Plain Python, used by the services and the dosing gate alike.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]{2,}")


def distinct_words(text: str | None) -> int:
    """How many different words (two letters or more, case aside) ``text`` holds."""
    return len({word.casefold() for word in _WORD.findall(text or "")})


def says_something(text: str | None, min_length: int, min_words: int) -> bool:
    """At least ``min_length`` characters, once trimmed, and ``min_words`` different words."""
    trimmed = (text or "").strip()
    return len(trimmed) >= min_length and distinct_words(trimmed) >= min_words

"""Therapeutic modalities of preparation and integration sessions: a clinic-editable list, starting from the defaults
in ``modalities.toml`` (each with its source), and the rule for the modality a note may name.

A clinic that never edited its list uses the defaults (``Clinic.modalities`` is NULL); an edited list is the
clinic's own. A note keeps the modality's name as written, so a later edit of the list changes no note; a draft may
keep a modality the list no longer offers, but a new choice must come from the list.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tracker.models import Clinic

DEFAULTS_FILE = Path(__file__).resolve().parent / "modalities.toml"
#: Limits of a clinic's list, so a form cannot store an unbounded one.
MAX_MODALITIES = 40
MAX_NAME_LENGTH = 80


@dataclass(frozen=True)
class DefaultModality:
    name: str
    source: str


@functools.cache
def defaults() -> tuple[DefaultModality, ...]:
    data = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    return tuple(DefaultModality(m["name"], m["source"]) for m in data["modalities"])


def clinic_modalities(clinic: Clinic) -> list[str]:
    """The clinic's list: its own once edited, else the defaults."""
    if clinic.modalities is None:
        return [m.name for m in defaults()]
    return list(clinic.modalities)


class ModalityError(ValueError):
    """A list or a choice refused, with the reason."""


def parse_list(text: str) -> list[str]:
    """One modality per line, blank lines ignored, each at most ``MAX_NAME_LENGTH`` characters, no repeats.

    :raise ModalityError: naming the line at fault.
    """
    names: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        name = " ".join(line.split())
        if not name:
            continue
        if len(name) > MAX_NAME_LENGTH:
            raise ModalityError(f"Line {number} is longer than {MAX_NAME_LENGTH} characters.")
        if name.casefold() in (n.casefold() for n in names):
            raise ModalityError(f"Line {number} repeats {name!r}.")
        names.append(name)
    if not names:
        raise ModalityError("Give at least one modality.")
    if len(names) > MAX_MODALITIES:
        raise ModalityError(f"Give at most {MAX_MODALITIES} modalities.")
    return names


def check_choice(value: str | None, clinic: Clinic, saved: str | None) -> str | None:
    """The modality a note may keep: one of the clinic's list, or the one the note already holds (a list edited
    since). None: not recorded.

    :raise ModalityError: a value neither in the list nor already on the note.
    """
    if not value:
        return None
    if value in clinic_modalities(clinic) or value == saved:
        return value
    raise ModalityError("Choose a modality from the clinic's list.")

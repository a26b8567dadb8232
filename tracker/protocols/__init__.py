"""Protocol templates: one TOML file per protocol, loaded and validated once at start-up.

A clinic adds a protocol by dropping a file into the directory named by ``PROTOCOL_DIR``; no code changes. A
malformed file stops start-up with a message naming the file and the field. Every clinical value in a file cites
its source; values the sources leave uncertain are marked as clinic settings, with a note, and can be edited.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

from flask import current_app

from tracker.models import Indication, Patient
from tracker.protocols.schema import (
    InteractionRule,
    ItemKind,
    MeasureDue,
    PreDosingCheck,
    Protocol,
    ProtocolError,
    RequiredLab,
    ScreeningItem,
    SessionPlan,
    SetAndSettingItem,
    VitalLimit,
    parse_protocol,
)

PACKAGE_DIR = Path(__file__).resolve().parent


def loaded_protocols() -> dict[str, Protocol]:
    """The app's protocols by code, as loaded and validated at start-up (``create_app``)."""
    catalogue: dict[str, Protocol] = current_app.extensions["protocols"]
    return catalogue


def protocol_of(patient: Patient) -> Protocol | None:
    """The protocol template ``patient`` is treated under; None when it is not installed on this server."""
    return loaded_protocols().get(patient.protocol_code)


__all__ = [
    "InteractionRule",
    "ItemKind",
    "MeasureDue",
    "PreDosingCheck",
    "Protocol",
    "ProtocolError",
    "RequiredLab",
    "ScreeningItem",
    "SessionPlan",
    "SetAndSettingItem",
    "VitalLimit",
    "accepted_indications",
    "load_protocol_file",
    "load_protocols",
    "loaded_protocols",
    "protocol_of",
]


def accepted_indications(protocols: Iterable[Protocol]) -> list[Indication]:
    """The indications at least one of ``protocols`` accepts, in the order ``Indication`` lists them: what a patient
    can be enrolled for."""
    accepted = {indication for protocol in protocols for indication in protocol.indications}
    return [indication for indication in Indication if indication in accepted]


def load_protocol_file(path: Path) -> Protocol:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"{path.name}: not valid TOML ({exc})") from None
    return parse_protocol(data, path)


def load_protocols(extra_dirs: Iterable[str | Path] = ()) -> dict[str, Protocol]:
    """All protocols shipped with the package plus those in ``extra_dirs``, by code."""
    catalogue: dict[str, Protocol] = {}
    for directory in (PACKAGE_DIR, *map(Path, extra_dirs)):
        for path in sorted(directory.glob("*.toml")):
            protocol = load_protocol_file(path)
            if protocol.code in catalogue:
                raise ProtocolError(f"{path.name}: field 'code': {protocol.code!r} is already defined")
            catalogue[protocol.code] = protocol
    return catalogue

"""Protocol templates: one TOML file per protocol, loaded and validated once at start-up.

A clinic adds a protocol by dropping a file into the directory named by ``PROTOCOL_DIR``; no code changes. A
malformed file stops start-up with a message naming the file and the field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.models import Indication

PACKAGE_DIR = Path(__file__).resolve().parent


class ProtocolError(ValueError):
    """A protocol file that cannot be used, with the file and field named."""


@dataclass(frozen=True)
class Protocol:
    code: str
    name: str
    substance: str
    indications: tuple[Indication, ...]
    #: Planned dosing sessions; the workflow allows integration -> dosing while some remain.
    dosing_sessions: int
    #: Dosing needs a second therapist on the care team.
    co_therapy_required: bool
    sources: tuple[str, ...]
    dosing_sessions_note: str | None = None
    path: str = ""


def _field(data: dict[str, Any], name: str, kind: type, path: Path, required: bool = True) -> Any:
    if name not in data:
        if required:
            raise ProtocolError(f"{path.name}: missing field '{name}'")
        return None
    value = data[name]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise ProtocolError(f"{path.name}: field '{name}' must be {kind.__name__}, got {type(value).__name__}")
    return value


def parse_protocol(path: Path) -> Protocol:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"{path.name}: not valid TOML ({exc})") from None
    indications = _field(data, "indications", list, path)
    try:
        parsed_indications = tuple(Indication(value) for value in indications)
    except ValueError as exc:
        raise ProtocolError(f"{path.name}: field 'indications': {exc}") from None
    dosing_sessions = _field(data, "dosing_sessions", int, path)
    if dosing_sessions < 1:
        raise ProtocolError(f"{path.name}: field 'dosing_sessions' must be at least 1")
    sources = _field(data, "sources", list, path)
    if not sources:
        raise ProtocolError(f"{path.name}: field 'sources' must cite at least one source")
    return Protocol(
        code=_field(data, "code", str, path),
        name=_field(data, "name", str, path),
        substance=_field(data, "substance", str, path),
        indications=parsed_indications,
        dosing_sessions=dosing_sessions,
        co_therapy_required=_field(data, "co_therapy_required", bool, path),
        sources=tuple(str(s) for s in sources),
        dosing_sessions_note=_field(data, "dosing_sessions_note", str, path, required=False),
        path=str(path),
    )


def load_protocols(extra_dirs: Iterable[str | Path] = ()) -> dict[str, Protocol]:
    """All protocols shipped with the package plus those in ``extra_dirs``, by code."""
    catalogue: dict[str, Protocol] = {}
    for directory in (PACKAGE_DIR, *map(Path, extra_dirs)):
        for path in sorted(directory.glob("*.toml")):
            protocol = parse_protocol(path)
            if protocol.code in catalogue:
                raise ProtocolError(f"{path.name}: field 'code': {protocol.code!r} is already defined")
            catalogue[protocol.code] = protocol
    return catalogue

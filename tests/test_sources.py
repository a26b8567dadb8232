"""Every citation points at something a reader can find: a published source (author, year, title, DOI or URL) or a
file in this repository, never a working document kept beside it. Clinical values name their primary source in the
data file or docstring that holds them; the team's notes they were first gathered in are not shipped, so a
reference to one, or to the numbered list inside one ("[53]"), would send a reader nowhere.

No database: the checks read the files git tracks.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Folders that are never part of the repository even when no git is at hand to say so.
UNTRACKED = {
    ".git",
    ".venv",
    "instance",
    "node_modules",
    "__pycache__",
    ".data",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
}

#: The names are split so that this file does not match itself.
OUTSIDE_DOCUMENTS = re.compile(
    r"\b(?:DOMAIN|RELIABILITY|STYLE|PERFORMANCE)\.md\b"  # the team's reference notes
    r"|(?:\.\.|/work)/shared\b"  # where they are kept
    r"|\bseed articles?\b",  # the articles the product was specified from
    re.IGNORECASE,
)
#: A citation by number into some list that is not in the file: an evidence tag or a bracketed number followed by a
#: bracketed number (the numbers of that list).
NUMBERED_CITATION = re.compile(r"\[[VSU]\]\s*\[\d+\]|(?<![\w\])])\[\d+\]\s*\[\d+\]")
#: In a data file's texts and comments, any "[53]" is such a number (arrays of item numbers are values, not text).
NUMBER_IN_TEXT = re.compile(r"\[\d+\]")


def tracked_files() -> list[Path]:
    """The files git tracks (a checkout without git: every file outside the folders git would not hold)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return [p for p in ROOT.rglob("*") if p.is_file() and not UNTRACKED & set(p.relative_to(ROOT).parts)]
    return [ROOT / name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def text_of(path: Path) -> str | None:
    """The file as text, or None for a binary file."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def strings_in(value: Any) -> Iterator[str]:
    """Every string anywhere in a parsed TOML document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def test_the_files_are_found():
    names = {path.relative_to(ROOT).as_posix() for path in tracked_files()}
    assert {"README.md", "config.py", "tracker/instruments/definitions/phq9.toml"} <= names


def test_no_file_cites_a_document_outside_the_repository():
    found = []
    for path in tracked_files():
        text = text_of(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE_DOCUMENTS.search(line) or NUMBERED_CITATION.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "cite the primary source instead:\n" + "\n".join(found)


def test_no_data_file_cites_a_source_by_number():
    found = []
    for path in tracked_files():
        if path.suffix != ".toml" or path.name == "pyproject.toml":
            continue
        text = path.read_text(encoding="utf-8")
        comments = [line.split("#", 1)[1] for line in text.splitlines() if line.lstrip().startswith("#")]
        for piece in [*strings_in(tomllib.loads(text)), *comments]:
            if NUMBER_IN_TEXT.search(piece):
                found.append(f"{path.relative_to(ROOT)}: {piece[:100]}")
    assert not found, "name the source (author and year, listed in full in `sources`):\n" + "\n".join(found)


def test_the_checks_catch_what_they_are_for():
    bad = [
        "see " + "DOMAIN" + ".md section 4a",
        "../" + "shared/notes",
        "Kroenke cut-points [S] " + "[85]",
        "cut-point 31-33 [V] " + "[90]" + "[91]",
        "as the seed " + "article describes",
    ]
    good = ["Kroenke 2001 [S]", "answers[0][1]", "items = [5]", "NCPTSD scoring [V]", "the seeded patients"]
    assert all(OUTSIDE_DOCUMENTS.search(text) or NUMBERED_CITATION.search(text) for text in bad)
    assert not any(OUTSIDE_DOCUMENTS.search(text) or NUMBERED_CITATION.search(text) for text in good)

"""What a clinician reads names its sources (author, year, title), never a file of the code or a team document.

Three scans: the templates (pages and PDFs), every text value of the data files (protocols, instruments, markers,
modalities, codes: their texts are printed as they are), the string literals of the code that are not docstrings
(flash messages, form labels and descriptions, error texts), and the pages of the seeded demo as two users see them.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select

from tests.conftest import login
from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.models import User

ROOT = Path(__file__).resolve().parent.parent

#: A team document, a code file, or a path into the code.
CODE_REFERENCE = re.compile(
    r"\b(DOMAIN|RELIABILITY|STYLE|PERFORMANCE|README)\.md\b|\bPERFORMANCE notes\b|\.toml\b|\btracker/|\b\w+\.py\b"
)

#: Literals that name a data file so the code can load it (never shown to a user).
LOADER_LITERALS = re.compile(r"[\w*]+\.toml|: no instrument definitions \(\*\.toml\)")


def _references(text: str) -> list[str]:
    return [match.group(0) for match in CODE_REFERENCE.finditer(text)]


def test_no_template_names_a_file_of_the_code() -> None:
    found = {
        str(path.relative_to(ROOT)): refs
        for path in sorted((ROOT / "templates").rglob("*"))
        if path.is_file() and (refs := _references(path.read_text()))
    }
    assert found == {}


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def test_no_data_file_text_names_a_file_of_the_code() -> None:
    found = [
        (where, text)
        for path in sorted((ROOT / "tracker").rglob("*.toml"))
        for where, text in _strings(tomllib.loads(path.read_text()), str(path.relative_to(ROOT)))
        if _references(text)
    ]
    assert found == []


def _docstrings(tree: ast.AST) -> set[int]:
    kinds = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, kinds)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def test_no_message_or_form_text_in_the_code_names_a_file_of_the_code() -> None:
    found = []
    for path in sorted((ROOT / "tracker").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and _references(node.value)
                and not LOADER_LITERALS.fullmatch(node.value)
            ):
                found.append((str(path.relative_to(ROOT)), node.lineno, node.value))
    assert found == []


def _crawl(client: Any, limit: int) -> dict[str, str]:
    """Every page reachable from the start page by links (HTML only; at most ``limit``), as the signed-in user."""
    seen: dict[str, str] = {}
    waiting = ["/"]
    while waiting and len(seen) < limit:
        url = waiting.pop(0)
        if url in seen:
            continue
        response = client.get(url, follow_redirects=True)
        seen[url] = response.text if "text/html" in response.content_type else ""
        response.close()
        for href in re.findall(r'<a [^>]*href="([^"#]+)', seen[url]):
            target = urljoin(url, href.replace("&amp;", "&"))
            parts = urlsplit(target)
            if parts.netloc or "logout" in target or re.search(r"page=([3-9]|\d\d)", target):
                continue
            if target not in seen and target not in waiting:
                waiting.append(target)
    return seen


@pytest.mark.parametrize("username", ["lead", "admin"])
def test_no_page_of_the_demo_names_a_file_of_the_code(client, protocols, username):
    seed_demo(protocols, patients_per_clinic=4)
    db.session.commit()
    login(client, db.session.scalar(select(User).where(User.username == username)))
    pages = _crawl(client, limit=150)
    assert len(pages) > (100 if username == "lead" else 10)
    found = {url: refs for url, page in pages.items() if (refs := _references(page))}
    assert found == {}

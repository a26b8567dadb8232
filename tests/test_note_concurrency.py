"""Several clients saving one draft note at once, through the real server (threads on 127.0.0.1, CSRF on): every
save either lands on the version its client read or is refused with 409; none is lost, none fails with a 5xx
(SQLAlchemy's version counter,
https://docs.sqlalchemy.org/en/20/orm/versioning.html). Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import create_engine, text

from tests.browser.server import NOTES_FAMILY_NAME, NOTES_GIVEN_NAME, PASSWORD, THERAPIST
from tests.databases import fresh_database
from tests.live import serve

CLIENTS = 6
SAVES = 8


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 302 is an answer to record, not a page to fetch


class Client:
    """One browser: its own cookies, CSRF token and login session."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as answer:
            return answer.code, answer.read().decode()

    def login(self) -> None:
        _, page = self.request("/login")
        status, _ = self.request(
            "/login", {"username": THERAPIST, "password": PASSWORD, "next": "", "csrf_token": token(page)}
        )
        assert status == 302


def token(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


@dataclass
class Outcome:
    saved: list[tuple[int, str]] = field(default_factory=list)  # (version read, text saved)
    refused: int = 0
    other: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with fresh_database() as url, serve(url, tmp_path_factory.mktemp("live") / "server.log") as base:
        yield url, base


def test_concurrent_saves_of_one_draft_lose_nothing_and_never_fail(server):
    url, base = server
    first = Client(base)
    first.login()
    _, listing = first.request("/patients/")
    patient = re.search(rf'href="/patients/(\d+)">{NOTES_FAMILY_NAME}, {NOTES_GIVEN_NAME}', listing).group(1)
    _, page = first.request(f"/patients/{patient}")
    session_path = re.search(rf'href="(/patients/{patient}/sessions/\d+)">Preparation 1', page).group(1)

    clients = [Client(base) for _ in range(CLIENTS)]
    for client in clients:
        client.login()
    outcome, lock, start = Outcome(), threading.Lock(), threading.Barrier(CLIENTS)

    def work(number: int, client: Client) -> None:
        start.wait()
        for save in range(SAVES):
            _, form = client.request(session_path)
            seen = int(re.search(r'id="version_id" name="version_id" type="hidden" value="(\d+)"', form).group(1))
            typed = f"client {number} save {save}"
            status, _ = client.request(
                session_path + "/note",
                {
                    "csrf_token": token(form),
                    "version_id": str(seen),
                    "topics": typed,
                    "intention": "",
                    "consent": "",
                    "questions": "",
                    "body": "",
                },
            )
            with lock:
                if status == 302:
                    outcome.saved.append((seen, typed))
                elif status == 409:
                    outcome.refused += 1
                else:
                    outcome.other.append(status)

    threads = [threading.Thread(target=work, args=(n, c)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert outcome.other == [], f"unexpected answers: {outcome.other}"
    assert outcome.refused, "no two clients ever raced for the same version: the test proved nothing"
    assert len(outcome.saved) + outcome.refused == CLIENTS * SAVES
    assert outcome.saved, "no save succeeded"
    seen_versions = [seen for seen, _ in outcome.saved]
    # No lost update: each version was the base of at most one successful save.
    assert len(set(seen_versions)) == len(seen_versions), sorted(seen_versions)
    engine = create_engine(url)
    with engine.connect() as connection:
        version, fields = connection.execute(
            text("SELECT version_id, fields FROM session_note WHERE session_id = :session"),
            {"session": int(session_path.rsplit("/", 1)[1])},
        ).one()
        updates = connection.execute(text("SELECT count(*) FROM audit_event WHERE action = 'note.update'")).scalar()
    engine.dispose()
    assert version == 1 + len(outcome.saved) and updates == len(outcome.saved)
    last = max(outcome.saved)[1]  # the save based on the highest version is the one in the database
    stored = fields if isinstance(fields, dict) else __import__("json").loads(fields)
    assert stored["topics"] == last

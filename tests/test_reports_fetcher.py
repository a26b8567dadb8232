"""The PDF renderer fetches nothing but its bundled stylesheet (WeasyPrint docs, Security:
https://doc.courtbouillon.org/weasyprint/stable/first_steps.html#security).

A loopback HTTP listener records every request. Hostile markup (an ``<img>`` and a stylesheet ``@import`` pointing
at it, an attachment link to ``file:///etc/passwd``) goes through the real renderer twice: typed into a note, where
autoescaping makes it text, and straight into ``render_pdf`` as raw HTML, which is the proof that the fetcher itself
refuses: no request reaches the listener and the PDF embeds no file.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tests.conftest import login
from tests.reports_data import text, write_plan
from tracker.extensions import db
from tracker.factories import clear_for_dosing, complete_dosing, walk_to
from tracker.models import Phase, SessionNote
from tracker.reports.fetcher import PRINT_CSS, AssetOnlyFetcher, RefusedURL
from tracker.reports.renderer import render_pdf


class Listener(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        Listener.hits.append(self.path)
        body = b"body{}" if self.path.endswith(".css") else b"GIF89a"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    Listener.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], Listener.hits
    finally:
        server.shutdown()
        server.server_close()


def hostile(port: int) -> str:
    return (
        f'<img src="http://127.0.0.1:{port}/x">'
        f"<style>@import url(http://127.0.0.1:{port}/y.css);</style>"
        f'<link rel="stylesheet" href="http://127.0.0.1:{port}/z.css">'
        '<a rel="attachment" href="file:///etc/passwd">passwd</a>'
        '<link rel="attachment" href="file:///etc/hostname">'
        f'<img src="file:///etc/hostname"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
    )


def assert_nothing_fetched(pdf: bytes, hits: list[str]) -> None:
    assert pdf.startswith(b"%PDF")
    assert hits == []
    assert PdfReader(BytesIO(pdf)).attachments == {}
    assert b"/EmbeddedFile" not in pdf


def test_the_listener_works(listener):
    """The control: WeasyPrint's own fetcher does call the listener (so a silent listener means something)."""
    from weasyprint import HTML

    port, hits = listener
    HTML(string=f'<img src="http://127.0.0.1:{port}/x">').write_pdf()
    assert hits == ["/x"]


def test_raw_hostile_html_fetches_nothing_and_embeds_nothing(listener):
    port, hits = listener
    assert_nothing_fetched(render_pdf(f"<html><body>{hostile(port)}<p>text</p></body></html>"), hits)


def test_hostile_text_in_a_plan_prints_as_text_and_fetches_nothing(client, people, listener):
    port, hits = listener
    write_plan(people.patient, people.lead, **{"Insights and themes": hostile(port)})
    db.session.commit()
    login(client, people.lead)
    response = client.get(f"/patients/{people.patient.id}/reports/plan.pdf")
    assert response.status_code == 200
    assert_nothing_fetched(response.data, hits)
    assert "file:///etc/passwd" in "".join(text(response.data).split())


def test_hostile_text_in_a_note_prints_as_text_and_fetches_nothing(client, people, protocols, listener):
    port, hits = listener
    clear_for_dosing(people.patient, people.lead, protocols)
    walk_to(people.patient, Phase.DOSING, people.lead, protocols)
    session = complete_dosing(people.patient, people.lead, protocols, sign=False)
    note = db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id))
    note.body = hostile(port)
    db.session.commit()
    login(client, people.lead)
    response = client.get(f"/patients/{people.patient.id}/sessions/{session.id}/record.pdf?draft=1")
    assert response.status_code == 200
    assert_nothing_fetched(response.data, hits)
    assert f"http://127.0.0.1:{port}/x" in "".join(text(response.data).split())


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/x",
        "https://example.org/a.css",
        "file:///etc/passwd",
        "data:text/css,body{}",
        "app://reports/../../config.py",
        "app://reports/other.css",
        "ftp://127.0.0.1/x",
    ],
)
def test_the_fetcher_refuses_everything_but_the_bundled_assets(url):
    with pytest.raises(RefusedURL):
        AssetOnlyFetcher().fetch(url)


def test_the_fetcher_serves_the_print_stylesheet():
    response = AssetOnlyFetcher().fetch(PRINT_CSS)
    assert b"@page" in response.read()
    assert response.content_type == "text/css"

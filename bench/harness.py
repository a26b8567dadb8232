"""Timings of the app's pages against a bench database, through the app's own request handling (Flask's test
client: routing, login-session loading, views, templates, audit rows and commits; no network).

For each case: one warm-up request, then ``repeats`` timed requests (``time.perf_counter``), the SQL statements
of each request (a ``before_cursor_execute`` listener on the engine), and the peak Python memory of one more
request under ``tracemalloc`` (measured apart, because tracing slows the timed requests down several times).
Every response must be 200: a benchmark that times error pages is worthless. The baseline is the cheapest page
that still goes through sign-in and the server-side session: the emergency-access form (no patient data, no
query of its own), so each figure is also given as a ratio to it, which is what carries over between machines.

The cases are one table, ``CASES``; a case whose route this build does not have (the dashboard and the PDF
reports are built elsewhere) is reported as not available and skipped.
"""

from __future__ import annotations

import gc
import math
import os
import shutil
import statistics
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from werkzeug.exceptions import MethodNotAllowed, NotFound

from bench.app import bench_app
from bench.seed import ACCOUNTS, PASSWORD
from tracker.extensions import db
from tracker.models import CareRole, CareTeamMember, IntegrationPlanVersion, MeasureResult, TherapySession, User

#: The p95 every page should stay under on this machine with the 5,000-patient clinic (the issue's target).
TARGET_MS = 100.0


@dataclass(frozen=True)
class Case:
    """One page to time. ``path`` may name ``{patient}`` (a patient of the therapist with a long history) and
    ``{therapist}`` (that therapist's user id). ``search``: a search typed first (POST /patients/search), so
    the list is timed with it in force."""

    name: str
    persona: str  # "supervisor", "therapist" or "admin" (``bench.seed.ACCOUNTS``)
    path: str
    repeats: int = 30
    search: str | None = None
    target_ms: float = TARGET_MS


BASELINE = Case("baseline (minimal signed-in page)", "therapist", "/emergency-access")

#: Adjust paths here when a route lands under another name.
CASES: tuple[Case, ...] = (
    BASELINE,
    Case("supervisor dashboard", "supervisor", "/dashboard"),
    Case("dashboard: one therapist + kind", "supervisor", "/dashboard?therapist={therapist}&kind=unsigned_note"),
    Case("therapist's day", "therapist", "/today"),
    Case("supervisor overview", "supervisor", "/overview"),
    Case("patient list", "supervisor", "/patients/"),
    Case("patient list search", "supervisor", "/patients/", search="son"),
    Case("patient page", "supervisor", "/patients/{patient}"),
    Case("audit page", "supervisor", "/audit/"),
    Case("audit page (admin: the whole clinic)", "admin", "/audit/"),
    Case("alert queue", "supervisor", "/alerts"),
    # A PDF cannot meet a page's 100 ms: WeasyPrint alone takes ~300 ms to lay out a summary (measured here,
    # WeasyPrint 70: render() of a 3-page summary).
    # The PDF issue's own targets apply to these two (one plan under 300 ms, one summary under 600 ms).
    Case("summary PDF", "supervisor", "/patients/{patient}/reports/summary.pdf", repeats=9, target_ms=600.0),
    Case("integration plan PDF", "supervisor", "/patients/{patient}/reports/plan.pdf", repeats=9, target_ms=300.0),
)


class BenchError(Exception):
    """A case could not be measured (a response other than 200, a failed sign-in)."""


@dataclass
class Measured:
    case: Case
    patients: int
    timings_ms: list[float]
    queries: int
    query_counts: set[int]
    peak_mb: float

    @property
    def p50(self) -> float:
        return statistics.median(self.timings_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.timings_ms)
        return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def available(app: Flask, path: str) -> bool:
    """Whether this build has a GET route for ``path``."""
    adapter = app.url_map.bind("localhost")
    try:
        adapter.match(path.split("?", 1)[0], method="GET")
    except (NotFound, MethodNotAllowed):
        return False
    return True


def sign_in(app: Flask, username: str) -> FlaskClient:
    """A client signed in through the real login form."""
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    if response.status_code != 302:
        raise BenchError(f"signing in as {username} answered {response.status_code}")
    return client


@dataclass(frozen=True)
class Subjects:
    therapist_id: int
    patient_id: int


def pick_subjects(app: Flask) -> Subjects:
    """The bench therapist, and the patient they lead with the longest history (most sessions, then results),
    preferring one with an integration plan so the plan PDF has something to print."""
    with app.app_context():
        therapist_id = db.session.scalar(select(User.id).where(User.username == ACCOUNTS["therapist"]))
        if therapist_id is None:
            raise BenchError("the bench therapist is missing: reseed (delete bench/.data)")
        sessions = (
            select(func.count())
            .where(TherapySession.patient_id == CareTeamMember.patient_id)
            .correlate(CareTeamMember)
            .scalar_subquery()
        )
        results = (
            select(func.count())
            .where(MeasureResult.patient_id == CareTeamMember.patient_id)
            .correlate(CareTeamMember)
            .scalar_subquery()
        )
        has_plan = (
            select(func.count())
            .where(IntegrationPlanVersion.patient_id == CareTeamMember.patient_id)
            .correlate(CareTeamMember)
            .scalar_subquery()
        )
        patient_id = db.session.scalar(
            select(CareTeamMember.patient_id)
            .where(CareTeamMember.user_id == therapist_id, CareTeamMember.role == CareRole.LEAD)
            .order_by((has_plan > 0).desc(), sessions.desc(), results.desc(), CareTeamMember.patient_id)
            .limit(1)
        )
        db.session.remove()
    if patient_id is None:
        raise BenchError("the bench therapist leads no patient")
    return Subjects(therapist_id, patient_id)


class StatementCounter:
    """Counts the SQL statements the engine sends (SQLAlchemy's before_cursor_execute event:
    https://docs.sqlalchemy.org/en/20/core/events.html#sqlalchemy.events.ConnectionEvents.before_cursor_execute)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_args: Any) -> None:
        self.count += 1


def measure(app: Flask, client: FlaskClient, case: Case, url: str, patients: int, repeats: int) -> Measured:
    counter = StatementCounter()
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        if case.search is not None:
            answer = client.post("/patients/search", data={"q": case.search})
            if answer.status_code != 303:
                raise BenchError(f"{case.name}: the search answered {answer.status_code}")
        _get(client, url, case)  # warm-up: templates compiled, caches filled
        timings, counts = [], []
        for _ in range(repeats):
            counter.count = 0
            started = time.perf_counter()
            _get(client, url, case)
            timings.append((time.perf_counter() - started) * 1000)
            counts.append(counter.count)
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    tracemalloc.start()
    try:
        _get(client, url, case)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return Measured(case, patients, timings, max(counts), set(counts), peak / 2**20)


def _get(client: FlaskClient, url: str, case: Case) -> None:
    response = client.get(url)
    response.close()
    if response.status_code != 200:
        raise BenchError(f"{case.name}: GET {url} answered {response.status_code}, not 200 (adjust CASES?)")


@dataclass
class SizeRun:
    patients: int
    measured: list[Measured]
    skipped: list[tuple[Case, str]]


def working_copy(database: Path) -> Path:
    """The run writes (audit rows, login sessions): it works on a copy, so the cached seed stays as seeded and
    runs stay comparable."""
    copy = database.with_name(f"run-{database.name}")
    for suffix in ("-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(database, copy)
    # Written back to disk before the timings start: the 50,000-patient copy is 3 GB of dirty pages, and their
    # write-back during the first cases slowed them by half (therapist's day p50 30 ms against 24 ms after it).
    os.sync()
    return copy


def run_size(
    database: Path, patients: int, cases: tuple[Case, ...] = CASES, repeats: int | None = None, report: Any = print
) -> SizeRun:
    """Time every available case against the bench database of ``patients`` patients."""
    copy = working_copy(database)
    app = bench_app(f"sqlite:///{copy}")
    try:
        subjects = pick_subjects(app)
        clients = {persona: sign_in(app, username) for persona, username in ACCOUNTS.items()}
        gc.freeze()  # as each gunicorn worker does once the app is loaded (gunicorn.conf.py)
        run = SizeRun(patients, [], [])
        for case in cases:
            url = case.path.format(patient=subjects.patient_id, therapist=subjects.therapist_id)
            if not available(app, url):
                run.skipped.append((case, "not available on this build"))
                report(f"  {case.name}: not available on this build ({case.path.split('?')[0]})")
                continue
            try:
                measured = measure(app, clients[case.persona], case, url, patients, repeats or case.repeats)
            except BenchError as error:
                run.skipped.append((case, f"FAILED: {error}"))
                report(f"  {case.name}: FAILED: {error}")
                continue
            run.measured.append(measured)
            report(f"  {case.name}: p50 {measured.p50:.1f} ms, p95 {measured.p95:.1f} ms, {measured.queries} SQL")
        return run
    finally:
        gc.unfreeze()
        with app.app_context():
            db.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)


def rows(run: SizeRun) -> Iterator[dict[str, Any]]:
    """The JSON lines of one size: one object per measured case."""
    baseline = next((m for m in run.measured if m.case == BASELINE), None)
    for measured in run.measured:
        yield {
            "case": measured.case.name,
            "patients": run.patients,
            "p50_ms": round(measured.p50, 2),
            "p95_ms": round(measured.p95, 2),
            "queries": measured.queries,
            "peak_mb": round(measured.peak_mb, 2),
            "ratio_to_baseline": round(measured.p50 / baseline.p50, 1) if baseline else None,
            "target_ms": measured.case.target_ms,
        }

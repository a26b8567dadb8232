"""PDF report timings (``make bench``): one integration plan, one patient summary, a batch of 50 plans, beside a
minimal one-paragraph WeasyPrint document rendered in the same workers.

Builds its own throwaway SQLite database (migrated, seeded with the factories: a patient with a full course of
3 dosing sessions, 12 other sessions and 20 measure results, signed notes and a plan), builds each report's HTML
through the same code as the web pages, and renders it in the app's worker pool. Times are wall-clock from
handing the HTML to the pool to getting the PDF back (median and 95th percentile of warm runs); peak memory is the
worker process's peak RSS (``ru_maxrss``).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

RUNS = 9
BATCH = 50
WORKERS = 2
#: The PDF issue's targets, on the median of renders (p50): a plan within 100 ms, a summary within 300 ms, a
#: batch of 50 plans within 5 s.
TARGETS_MS = {
    "pdf render: minimal document": None,
    "pdf render: integration plan": 100,
    "pdf render: patient summary": 300,
    f"pdf render: batch of {BATCH} plans": 5000,
}
#: What ``ratio_to_baseline`` divides by in these rows (the page rows divide by a minimal signed-in page).
BASELINE = "pdf render: minimal document"


def _seed(app: Any) -> tuple[list[str], str, str]:
    """Return (50 plan documents, one plan, one summary), HTML strings built by the report code."""
    from sqlalchemy import func, select

    from tracker.extensions import db
    from tracker.factories import (
        clear_for_dosing,
        complete_integration,
        log_sessions,
        make_clinic,
        make_patient,
        make_user,
        record_measure,
        walk_course,
    )
    from tracker.models import MeasureResult, Patient, Phase, Role, SessionKind, TherapySession
    from tracker.models.base import utcnow
    from tracker.plans.services import save_version
    from tracker.reports.content import Stamp, patient_loader_options, plan_documents, summary_document

    protocols = app.extensions["protocols"]
    clinic = make_clinic("Bench Clinic")
    lead = make_user(clinic, Role.THERAPIST, full_name="Dr. Bench Lead")
    co = make_user(clinic, Role.THERAPIST, full_name="Dr. Bench Co")
    texts = {
        "Insights and themes": "Feeling safe in my body for the first time in years. " * 3,
        "Intentions and goals": "Walk every morning.\nCall my sister every Sunday.\nWrite three lines before bed.",
        "Practices (sleep, movement, nature, breathwork, contemplative practice, nutrition)": "Lights out by 11. " * 4,
        "Support people": "My sister Ana, and Tom from the running club.",
        "Warning signs and crisis plan": "Not sleeping for two nights, pulling away: call Ana, then the clinic.",
    }
    patients = []
    for number in range(BATCH):
        patient = make_patient(lead, co, protocols=protocols, family_name=f"Bench{number:02d}")
        save_version(lead, patient, texts, "Crisis line 0800 111 222", 0)
        patients.append(patient)
    full = patients[0]
    start = utcnow() - timedelta(days=100)  # three dosing sessions a month apart, the last 40 days ago
    clear_for_dosing(full, lead, protocols, at=start - timedelta(days=3))  # 3 preparation sessions
    steps = []
    for cycle in range(3):
        dosed = start + timedelta(days=30 * cycle)
        steps += [(Phase.DOSING, dosed, None), (Phase.INTEGRATION, dosed + timedelta(days=1), None)]
    walk_course(full, lead, protocols, steps)  # signed dosing notes, their follow-up contacts, integration
    complete_integration(full, lead, protocols)
    db.session.flush()
    others = (
        db.session.scalar(
            select(func.count(TherapySession.id)).where(
                TherapySession.patient_id == full.id, TherapySession.kind != SessionKind.DOSING
            )
        )
        or 0
    )
    if others < 12:
        log_sessions(full, lead, SessionKind.PREPARATION, 12 - others, days_ago=120)
    have = db.session.scalar(select(func.count(MeasureResult.id)).where(MeasureResult.patient_id == full.id)) or 0
    for number in range(max(0, 20 - have)):
        record_measure(full, lead, "pcl5" if number % 2 else "phq9", on=utcnow().date() - timedelta(days=number))
    db.session.commit()
    stamp = Stamp(by=lead, at=datetime.now(UTC))
    loaded = list(
        db.session.scalars(
            select(Patient)
            .where(Patient.id.in_([p.id for p in patients]))
            .options(*patient_loader_options())
            .order_by(Patient.family_name)
        )
    )
    plans = plan_documents(db.session, loaded, stamp)
    summary = summary_document(db.session, loaded[0], stamp)
    return plans, plans[0], summary


def _timed(pool: Any, html: str) -> tuple[float, int]:
    from tracker.reports.renderer import _render_measured

    begun = time.perf_counter()
    _, rss_kb = pool.submit(_render_measured, html).result()
    return (time.perf_counter() - begun) * 1000, rss_kb


def _row(case: str, times: list[float], peak_kb: int, baseline: float | None, patients: int = 1) -> dict[str, Any]:
    """One JSON line; rendering runs no SQL (the workers never see the database), hence ``queries`` 0."""
    p50 = statistics.median(times)
    p95 = sorted(times)[max(0, round(0.95 * len(times)) - 1)]
    return {
        "case": case,
        "patients": patients,
        "queries": 0,
        "baseline": BASELINE,
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "peak_mb": round(peak_kb / 1024, 1),
        "ratio_to_baseline": round(p50 / baseline, 1) if baseline else 1.0,
        "target_ms": TARGETS_MS[case],
        "target_on": "p50_ms",
    }


def report_rows() -> list[dict[str, Any]]:
    from flask_migrate import upgrade

    from config import TestConfig
    from tracker import create_app
    from tracker.extensions import db
    from tracker.reports import renderer

    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.sqlite'}"
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, REPORT_WORKERS=WORKERS)
        with app.app_context():
            upgrade()
            plans, plan, summary = _seed(app)
            db.session.remove()
            db.engine.dispose()
    pool = renderer.pool(WORKERS)
    rows = []
    peak = 0
    baseline = None
    for case, html in (
        (BASELINE, "<p>One paragraph of text.</p>"),
        ("pdf render: integration plan", plan),
        ("pdf render: patient summary", summary),
    ):
        _timed(pool, html)  # warm this document's path
        runs = [_timed(pool, html) for _ in range(RUNS)]
        times = [t for t, _ in runs]
        peak = max(peak, *(kb for _, kb in runs))
        rows.append(_row(case, times, max(kb for _, kb in runs), baseline))
        if baseline is None:
            baseline = statistics.median(times)
    batch_times = []
    for _ in range(3):
        begun = time.perf_counter()
        renderer.merge(list(renderer.render_each(plans, WORKERS)))
        batch_times.append((time.perf_counter() - begun) * 1000)
    batch_peak = max(pool.submit(renderer._render_measured, "<p>x</p>").result()[1] for _ in range(WORKERS * 2))
    rows.append(_row(f"pdf render: batch of {BATCH} plans", batch_times, batch_peak, baseline, patients=BATCH))
    renderer.shutdown()
    return rows


if __name__ == "__main__":
    os.environ.setdefault("TRACKER_ENV", "test")
    table = report_rows()
    print(f"{'case':32} {'p50 ms':>9} {'p95 ms':>9} {'peak MB':>8} {'x min':>6} {'target':>7}")
    for r in table:
        print(
            f"{r['case']:32} {r['p50_ms']:>9} {r['p95_ms']:>9} {r['peak_mb']:>8} {r['ratio_to_baseline']:>6} "
            f"{r['target_ms'] or '':>7}"
        )

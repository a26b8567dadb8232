"""`make bench` cannot rot: a tiny clinic is seeded and timed end to end through ``python -m bench``.

The benchmark is SQLite-only by design (it measures the embedded default deployment), so these tests use their
own temporary SQLite files whatever ``TEST_DATABASE_URL`` says; they run, and pass, on the PostgreSQL CI leg too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import closing_notes, table
from bench.harness import BASELINE, CASES
from bench.seed import ClinicSize

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"case", "patients", "p50_ms", "p95_ms", "queries", "peak_mb", "ratio_to_baseline", "target_ms"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    directory = tmp_path_factory.mktemp("bench")
    output = directory / "results.jsonl"
    data = directory / "data"
    done = _run("-m", "bench", "--sizes", "20,40", "--repeats", "2", "--data-dir", str(data), "--output", str(output))
    return done, output, data


def test_it_writes_one_json_line_per_case_and_size(bench_run):
    done, output, _ = bench_run
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert rows and all(row.keys() >= KEYS for row in rows)
    measured = {(row["case"], row["patients"]) for row in rows}
    for case in (
        "baseline (minimal signed-in page)",
        "patient list",
        "patient list search",
        "patient page",
        "audit page",
    ):
        assert {(case, 20), (case, 40)} <= measured
    for row in rows:
        assert row["p50_ms"] > 0 and row["p95_ms"] >= row["p50_ms"]
        # Pages run SQL; PDF rendering in the worker processes runs none, by design.
        assert row["queries"] > 0 if not row["case"].startswith("pdf render") else row["queries"] == 0
    renders = {row["case"] for row in rows if row["case"].startswith("pdf render")}
    assert {"pdf render: integration plan", "pdf render: patient summary", "pdf render: batch of 50 plans"} <= renders
    assert next(r for r in rows if r["case"] == BASELINE.name)["ratio_to_baseline"] == 1.0


def test_it_prints_the_table_and_says_which_cases_this_build_lacks(bench_run):
    done, _, _ = bench_run
    assert "p50 ms" in done.stdout and "patient page" in done.stdout
    assert "seeded in" in done.stdout
    missing = [case for case in CASES if case.path.startswith(("/dashboard", "/today", "/overview"))]
    for case in missing:
        assert f"{case.name}: not available on this build" in done.stdout or f"{case.name}: p50" in done.stdout


def test_a_second_run_reuses_the_seeded_clinic(bench_run, tmp_path):
    _, _, data = bench_run
    done = _run(
        "-m",
        "bench",
        "--sizes",
        "20",
        "--repeats",
        "1",
        "--data-dir",
        str(data),
        "--output",
        str(tmp_path / "again.jsonl"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reusing" in done.stdout and "seeded in" not in done.stdout


def test_signed_notes_in_the_bench_clinic_pass_verification(bench_run):
    _, _, data = bench_run
    database = next(p for p in data.glob("clinic-20-*.sqlite") if not p.name.startswith("run-"))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "TRACKER_ENV": "development"}
    env.pop("TEST_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "tracker", "notes", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 mismatch(es)" in done.stdout
    assert "Checked 0 " not in done.stdout
    chain = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "tracker", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert chain.returncode == 0 and " 0 problem(s)" in chain.stdout, chain.stdout + chain.stderr


def test_the_clinic_scales_staff_with_patients():
    assert ClinicSize.of(5000) == ClinicSize(5000, 50, 10)
    assert ClinicSize.of(500) == ClinicSize(500, 5, 1)
    assert ClinicSize.of(20) == ClinicSize(20, 2, 1)


def test_the_closing_note_flags_growing_sql_and_missed_targets():
    def row(case, patients, p50, p95, queries):
        return {
            "case": case,
            "patients": patients,
            "p50_ms": p50,
            "p95_ms": p95,
            "queries": queries,
            "peak_mb": 1.0,
            "ratio_to_baseline": 1.0,
            "target_ms": 100.0,
        }

    results = [
        row("supervisor dashboard", 500, 10, 12, 5),
        row("supervisor dashboard", 5000, 30, 140, 5),
        row("patient list", 500, 10, 12, 9),
        row("patient list", 5000, 11, 13, 10),
    ]
    notes = "\n".join(closing_notes(results))
    assert "patient list: 9 at 500, 10 at 5,000 -> GROWS WITH THE CLINIC" in notes
    assert "supervisor dashboard: 5 at 500, 5 at 5,000 -> constant" in notes
    assert "p50 x3.00 (ABOVE the logarithmic bound x1.37)" in notes
    assert "Target missed: supervisor dashboard at 5,000 patients, p95 140 ms is 40 ms over 100 ms" in notes
    assert "MISSED by 40 ms" in table(results)


SEED_IN_PARTS = """
import json, sys
from flask_migrate import upgrade
from sqlalchemy import select
from bench import seed
from bench.app import bench_app
from tracker.auditchain import verify
from tracker.extensions import db
from tracker.models import AuditEvent

seed.PATIENTS_PER_WRITE = int(sys.argv[2])
app = bench_app("sqlite:///" + sys.argv[1])
with app.app_context():
    upgrade()
    counts = seed.seed_clinic(app, 30)
    problems = [str(p) for report in verify(db.session) for p in report.problems]
    trail = [[str(t), a, p] for t, a, p in db.session.execute(
        select(AuditEvent.created_at, AuditEvent.action, AuditEvent.patient_id).order_by(AuditEvent.chain_seq))]
print(json.dumps({"counts": counts, "problems": problems, "trail": trail}))
"""


def test_a_clinic_written_in_several_parts_is_the_same_clinic_with_one_unbroken_audit_chain(tmp_path):
    """The seeder writes a large clinic a few thousand patients at a time (a 50,000-patient clinic does not fit
    in memory at once) and chains the audit rows in time order at the end: the result is the same rows."""

    def seeded(name: str, per_write: int) -> dict[str, object]:
        done = _run("-c", SEED_IN_PARTS, str(tmp_path / name), str(per_write))
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.splitlines()[-1])

    whole, parts = seeded("whole.sqlite", 1000), seeded("parts.sqlite", 7)
    assert whole["problems"] == parts["problems"] == []
    assert parts["counts"] == whole["counts"] and whole["counts"]["audit_event"] == len(whole["trail"])
    # The same events in the same order (the times differ by the seconds between the two runs: dates are relative
    # to the moment of seeding).
    assert [row[1:] for row in parts["trail"]] == [row[1:] for row in whole["trail"]]
    assert [row[0] for row in parts["trail"]] == sorted(row[0] for row in parts["trail"])  # in time order


def test_the_closing_notes_hold_caseload_pages_at_fifty_thousand_to_their_five_thousand_figure():
    def row(case, patients, p95):
        return {
            "case": case,
            "patients": patients,
            "p50_ms": p95 / 2,
            "p95_ms": p95,
            "queries": 8,
            "peak_mb": 1.0,
            "ratio_to_baseline": 1.0,
            "target_ms": 100.0,
        }

    results = [
        row("supervisor dashboard", 5000, 40),
        row("supervisor dashboard", 50000, 58),
        row("therapist's day", 5000, 30),
        row("therapist's day", 50000, 50),
        row("audit page (admin: the whole clinic)", 5000, 30),
        row("audit page (admin: the whole clinic)", 50000, 300),
    ]
    notes = "\n".join(closing_notes(results))
    assert "supervisor dashboard: p95 58.0 ms, x1.45 its 5,000-patient 40.0 ms (at most x1.5) -> met" in notes
    assert "therapist's day: p95 50.0 ms, x1.67 its 5,000-patient 30.0 ms (at most x1.5) -> NOT MET" in notes
    assert "Caseload page at 50,000 patients, audit page (admin" not in notes  # the whole clinic: not a caseload

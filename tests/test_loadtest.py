"""`make loadtest`'s own parts, without the load: the forms the simulated clinicians post back, the figures and the
verdicts computed from the samples, the processor accounting, and the bench clinic prepared for a run on the
suite's database (SQLite, or PostgreSQL with its id sequences moved past the seeded rows). The load itself is not
run here: it takes minutes, and timed figures are never asserted in tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.forms import Forms
from bench.loadtest import MINIMAL, machine_busy, percentile, read_samples, stats, tree_cpu, verdicts
from tests.databases import fresh_database

ROOT = Path(__file__).resolve().parent.parent

PAGE = """
<form action="/login" method="post"><input name="csrf_token" type="hidden" value="tok"><input name="username">
  <button type="submit">Sign in</button></form>
<form method="post">
  <input name="csrf_token" type="hidden" value="tok2">
  <input type="radio" name="q1" value="0"><input type="radio" name="q1" value="1">
  <input type="radio" name="q2" value="0"><input type="radio" name="q2" value="3" checked>
  <input type="checkbox" name="tick" value="y"><input type="checkbox" name="ticked" value="y" checked>
  <select name="phase"><option value="a">A</option><option value="b" selected>B</option></select>
  <textarea name="body">
Kept text &amp; more</textarea>
  <input type="submit" name="go" value="Save">
</form>"""


def test_forms_come_back_as_a_browser_submits_them():
    forms = Forms(PAGE, "/patients/1/measures/phq9/new")
    assert forms.find("/login") == {"csrf_token": "tok", "username": ""}
    measure = forms.find("/measures/phq9/new")  # no action: it posts to the page itself
    assert measure == {
        "csrf_token": "tok2",
        "q1": "0",
        "q2": "3",
        "ticked": "y",
        "phase": "b",
        "body": "Kept text & more",
    }


def _rows():
    samples = [("day page", ms, True) for ms in range(10, 110)] + [(MINIMAL, 5.0, True)] * 100
    samples += [("sign a note (POST)", 300.0, False)]
    from bench.loadtest import Sample

    return stats([Sample(n, float(ms), ok) for n, ms, ok in samples], 10.0, "sqlite", 5000, 25)


def test_percentiles_are_nearest_rank_and_every_page_gets_its_row():
    assert percentile([float(v) for v in range(1, 101)], 0.95) == 95.0
    assert percentile([7.0], 0.99) == 7.0
    rows = {row["page"]: row for row in _rows()}
    day = rows["day page"]
    assert (day["requests"], day["p50_ms"], day["p95_ms"], day["p99_ms"]) == (100, 59.0, 104.0, 108.0)
    assert day["req_per_s"] == 10.0 and day["ratio_p95_to_minimal"] == 20.8
    assert rows["all requests"]["requests"] == 201 and rows["all requests"]["errors"] == 1


def test_the_verdicts_say_met_or_not_for_each_target():
    rows = _rows()
    single = [dict(row, users=1) for row in rows]
    judged = dict((text, met) for met, text in verdicts(rows + single))
    assert judged["sqlite, 25 user(s): 1 errors in 201 requests: sign a note (POST) (1)"] is False
    assert judged["sqlite, 25 users: day page p95 104 ms (at most 500 ms)"] is True
    assert judged["sqlite, one at a time: day page p95 104 ms = 20.8x the minimal page (at most 10x)"] is False
    assert not any("sign in" in text for text in judged)


def test_samples_of_the_ramp_up_are_left_out(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text(
        "".join(
            json.dumps({"name": "day page", "ms": 10, "ok": True, "t": t}) + "\n" for t in (100.0, 104.0, 106.0, 110.0)
        )
    )
    kept, span = read_samples(path, 105.0)
    assert len(kept) == 2 and span == 4.0


def test_processor_time_is_counted_for_a_process_and_its_children():
    child = subprocess.Popen([sys.executable, "-c", "sum(range(3_000_000)); import time; time.sleep(2)"])
    try:
        import time

        time.sleep(1)
        assert tree_cpu(os.getpid()) > 0
        assert tree_cpu(os.getpid()) >= tree_cpu(child.pid) > 0
    finally:
        child.kill()
        child.wait()
    busy, total = machine_busy()
    assert 0 < busy <= total


PREPARE = """
import json, sys
from bench import loadplan, loadtest, postgres
from bench.app import bench_app
from tracker.extensions import db
from tracker.factories import make_user
from tracker.models import Clinic, Role

database, data_dir, url = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    with loadtest.prepared(database, 20, __import__("pathlib").Path(data_dir), url) as run_url:
        plan = loadplan.build(bench_app(run_url))
        app = bench_app(run_url)
        with app.app_context():  # the app's own inserts after the seeded ids (PostgreSQL: sequences moved on)
            make_user(db.session.get(Clinic, 1), Role.THERAPIST, full_name="New Colleague")
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
finally:
    if database == "postgresql":
        parsed = postgres.parse(url)
        postgres.drop(parsed, postgres.seed_name(parsed, 20))
print(json.dumps(plan))
"""


def test_the_bench_clinic_is_prepared_for_a_run_on_the_suites_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    with fresh_database() as url:
        database = "sqlite" if url.startswith("sqlite") else "postgresql"
        done = subprocess.run(
            [sys.executable, "-c", PREPARE, database, str(tmp_path), url],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    plan = json.loads(done.stdout.splitlines()[-1])
    assert plan["password"] and plan["therapists"] and plan["supervisors"]
    for therapist in plan["therapists"]:
        assert therapist["patients"] and set(therapist["plans"]) <= set(therapist["patients"])
        assert all(m["instrument"] for m in therapist["measures"])
    assert any(t["notes"] for t in plan["therapists"])
    batch = plan["batch"]
    assert batch is None or 0 < batch["patients"] <= 50


def test_errors_outside_the_timed_requests_are_still_counted(tmp_path):
    """A failed warm-up request or one in the ramp-up is left out of the figures, never out of the error count."""
    from bench.loadtest import left_out_errors

    path = tmp_path / "samples.jsonl"
    records = [
        ("clinic overview (warm-up)", False, 503, 200.0),
        ("day page", False, 500, 100.0),
        ("day page", True, 200, 101.0),
        ("day page", False, 503, 110.0),
    ]
    path.write_text(
        "".join(
            json.dumps({"name": n, "ms": 10, "ok": ok, "status": status, "t": t}) + "\n" for n, ok, status, t in records
        )
    )
    unseen = left_out_errors(path, 105.0)
    assert [(r["name"], r["status"]) for r in unseen] == [("clinic overview (warm-up)", 503), ("day page", 500)]
    rows = _rows()
    rows[-1].update(errors_left_out=2, errors_left_out_pages=["clinic overview (warm-up) (503)", "day page (500)"])
    judged = dict((text, met) for met, text in verdicts(rows))
    assert (
        judged[
            "sqlite, 25 user(s): 3 errors in 203 requests: sign a note (POST) (1), outside the timed "
            "requests: clinic overview (warm-up) (503), outside the timed requests: day page (500)"
        ]
        is False
    )

"""``flask reports render`` writes the same report to a file, audited as the user named, within their scope."""

from __future__ import annotations

from tests.conftest import audit_actions
from tests.reports_data import pages, write_plan
from tracker.extensions import db


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["reports", "render", *args])


def test_it_writes_the_plan_as_the_user_and_audits_it(app, people, tmp_path):
    write_plan(people.patient, people.lead)
    db.session.commit()
    out = tmp_path / "plan.pdf"
    result = run(app, "plan", "--patient", "CANARY-1", "--as", people.lead.username, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Your integration plan" in pages(out.read_bytes())[0]
    assert audit_actions()[-1] == "report.exported"


def test_it_refuses_a_patient_outside_the_users_care(app, people, tmp_path):
    out = tmp_path / "x.pdf"
    result = run(app, "summary", "--patient", "CANARY-1", "--as", people.other_therapist.username, "-o", str(out))
    assert result.exit_code != 0
    assert "may not see" in result.output or "No patient" in result.output
    assert not out.exists()
    assert audit_actions()[-1] == "patient.access_denied"


def test_it_explains_bad_arguments(app, people, tmp_path):
    out = str(tmp_path / "x.pdf")
    assert (
        "needs --session" in run(app, "record", "--patient", "CANARY-1", "--as", people.lead.username, "-o", out).output
    )
    assert (
        "No active clinician"
        in run(app, "plan", "--patient", "CANARY-1", "--as", people.admin.username, "-o", out).output
    )
    assert "not signed" not in run(app, "plan", "--patient", "NOPE", "--as", people.lead.username, "-o", out).output
    assert (
        "Invalid value" in run(app, "poster", "--patient", "CANARY-1", "--as", people.lead.username, "-o", out).output
    )

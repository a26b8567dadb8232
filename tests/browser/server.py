"""The app as the browser test sees it: run in its own process, on its own database, on 127.0.0.1.

``python -m tests.browser.server`` migrates the empty database named by ``BROWSER_TEST_DATABASE_URL``, seeds a
small clinic, prints the port it listens on (one line on stdout), and serves until it is killed. Running in a
separate process keeps it clear of the main suite's per-test session swapping on the shared ``db`` object.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import make_server

from config import TestConfig
from tracker import create_app
from tracker.extensions import db
from tracker.factories import (
    backdate_enrolment,
    clear_for_dosing,
    complete_dosing,
    make_clinic,
    make_patient,
    make_user,
    record_baseline_measures,
    record_measure,
    walk_to,
)
from tracker.models import Outcome, Phase, QuestionnaireLink, Role, SessionKind, Severity
from tracker.models.base import utcnow
from tracker.notes.saving import AdverseEventInput, NoteInput, add_adverse_event, save_note
from tracker.notes.signing import sign_note
from tracker.plans.services import save_version
from tracker.questionnaires.services import hash_token
from tracker.sessions.queries import load_note
from tracker.sessions.services import SessionInput, record_session

PASSWORD = "correct horse battery"
THERAPIST = "browser.therapist"
THERAPIST_NAME = "Tess Therapist"
CO_THERAPIST_NAME = "Cole Cotherapist"
SUPERVISOR = "browser.sup"
SUPERVISOR_NAME = "Sara Supervisor"
# The screening walkthrough's patient: in preparation, on a protocol with one preparation session and no co-therapy.
GATE_PROTOCOL = "ketamine-iv-trd"
GATE_GIVEN_NAME = "Kim"
GATE_FAMILY_NAME = "Gatekeeper"
# The safety alert walkthrough's patient: gets a PHQ-9 with item 9 above 0 in test_safety_alert.
ALERT_GIVEN_NAME = "Alma"
ALERT_FAMILY_NAME = "Alertson"
# The dosing walkthrough's patient: cleared and in dosing on the ketamine protocol (vital limits 180/100 mmHg,
# 60 minutes' observation, no co-therapy); the browser test records the dosing session itself.
DOSING_PROTOCOL = "ketamine-iv-trd"
DOSING_GIVEN_NAME = "Dana"
DOSING_FAMILY_NAME = "Dosewell"
# The refused-dose walkthrough's patient: ketamine, in dosing; the browser test records the session, is refused a
# dose outside the protocol, then an MAOI stopped three days ago closes the gate for that session.
REFUSED_GIVEN_NAME = "Rhea"
REFUSED_FAMILY_NAME = "Gatewood"
# The concurrency test's patient: a held preparation session whose draft note several clients save at once.
NOTES_GIVEN_NAME = "Nora"
NOTES_FAMILY_NAME = "Notewright"
# The reports walkthrough's patient: an integration plan written, printed in a batch by test_reports.
PLAN_GIVEN_NAME = "Pia"
PLAN_FAMILY_NAME = "Printwell"
# The questionnaire walkthrough's patient: the therapist sends a PHQ-9 to her device; a link of hers sent four days
# ago has expired (its token is known here so the test can open it).
QUESTIONNAIRE_GIVEN_NAME = "Quinn"
QUESTIONNAIRE_FAMILY_NAME = "Phoneworth"
EXPIRED_TOKEN = "expired-browser-token-0123456789abcdefghijklmnop"
# The dashboard walkthrough's patient: the co-therapist's, with a session held three days ago and no note yet.
DASHBOARD_GIVEN_NAME = "Dora"
DASHBOARD_FAMILY_NAME = "Dashwood"
# A second clinic, east of UTC, for the clinic clock walkthrough: its therapist logs a session on Sydney's clock and
# its admin changes the clinic's settings.
SYDNEY_CLINIC = "Browser Harbour Clinic"
SYDNEY_ZONE = "Australia/Sydney"
SYDNEY_THERAPIST = "browser.harbour"
SYDNEY_THERAPIST_NAME = "Hana Harbour"
# The correction, confirmation, co-signature and calendar pages: a clinic of their own (``_seed_corrections``).
CORRECTIONS_CLINIC = "Correction Test Clinic"
CORRECTIONS_SUPERVISOR = "browser.corr.sup"
CORRECTIONS_THERAPIST = "browser.corr.therapist"
CORRECTIONS_THERAPIST_NAME = "Theo Trainee"
SYDNEY_ADMIN = "browser.harbour.admin"
SYDNEY_ADMIN_NAME = "Abe Admin"
SYDNEY_GIVEN_NAME = "Sid"
SYDNEY_FAMILY_NAME = "Quayside"
# The refused-forms walkthrough's patient: in dosing on ketamine, with today's dosing session held and its note a
# draft, so the page has the vital-sign and signature forms test_errors_in_view has refused.
ERRORS_GIVEN_NAME = "Esme"
ERRORS_FAMILY_NAME = "Errington"
# The keyboard walkthrough's patient: in preparation on the MDMA protocol, its screening checklist not yet answered.
KEYS_GIVEN_NAME = "Kit"
KEYS_FAMILY_NAME = "Keyes"
# The lost-typing walkthrough's patient (test_lost_typing, on a server whose sessions end after a short idle time):
# an open PHQ-9 alert to acknowledge and an integration plan to write.
TYPING_GIVEN_NAME = "Tia"
TYPING_FAMILY_NAME = "Typewell"
#: The idle timeout of the lost-typing server, in seconds (``BROWSER_IDLE_TIMEOUT_SECONDS``).
SHORT_IDLE_SECONDS = 30


def seed(app: Flask) -> None:
    protocols = app.extensions["protocols"]
    clinic = make_clinic("Browser Test Clinic")
    supervisor = make_user(clinic, Role.SUPERVISOR, username=SUPERVISOR, full_name=SUPERVISOR_NAME, password=PASSWORD)
    therapist = make_user(
        clinic,
        Role.THERAPIST,
        username=THERAPIST,
        full_name=THERAPIST_NAME,
        supervisor=supervisor,
        password=PASSWORD,
    )
    co = make_user(clinic, Role.THERAPIST, username="browser.co", full_name=CO_THERAPIST_NAME, supervisor=supervisor)
    # One patient already on the caseload, so the list page shows its table rather than the empty state.
    make_patient(therapist, co, protocols=protocols, given_name="Existing", family_name="Caseload")
    # Screened, reviewed and moved to dosing by test_screening_gate; nothing else touches this patient. Its baseline
    # PHQ-9 is recorded here: that walkthrough is about screening (test_safety_alert records a PHQ-9 by hand).
    gated = make_patient(
        therapist,
        protocols=protocols,
        protocol_code=GATE_PROTOCOL,
        given_name=GATE_GIVEN_NAME,
        family_name=GATE_FAMILY_NAME,
        record_number="BRW-GATE-1",
    )
    backdate_enrolment(gated, utcnow() - timedelta(days=20))  # its preparation session is logged a day back
    record_baseline_measures(gated, therapist, protocols[GATE_PROTOCOL])
    make_patient(
        therapist,
        protocols=protocols,
        protocol_code=GATE_PROTOCOL,
        given_name=ALERT_GIVEN_NAME,
        family_name=ALERT_FAMILY_NAME,
        record_number="BRW-ALERT-1",
    )
    dosing = make_patient(
        therapist,
        protocols=protocols,
        protocol_code=DOSING_PROTOCOL,
        given_name=DOSING_GIVEN_NAME,
        family_name=DOSING_FAMILY_NAME,
        record_number="BRW-DOSE-1",
    )
    clear_for_dosing(dosing, therapist, protocols)
    walk_to(dosing, Phase.DOSING, therapist, protocols, password=PASSWORD)
    refused = make_patient(
        therapist,
        protocols=protocols,
        protocol_code=DOSING_PROTOCOL,
        given_name=REFUSED_GIVEN_NAME,
        family_name=REFUSED_FAMILY_NAME,
        record_number="BRW-GATE-2",
    )
    clear_for_dosing(refused, therapist, protocols)
    walk_to(refused, Phase.DOSING, therapist, protocols, password=PASSWORD)
    notes = make_patient(
        therapist,
        co,
        protocols=protocols,
        given_name=NOTES_GIVEN_NAME,
        family_name=NOTES_FAMILY_NAME,
        record_number="BRW-NOTE-1",
    )
    now = utcnow()
    backdate_enrolment(notes, now - timedelta(days=20))
    held = record_session(
        therapist,
        notes,
        SessionInput(SessionKind.PREPARATION, now - timedelta(hours=2), 60),
        protocols["mdma-ptsd"],
        now,
    )
    save_note(therapist, notes, held, None, NoteInput(fields={"topics": "Draft"}), None, now)
    printed = make_patient(
        therapist,
        protocols=protocols,
        given_name=PLAN_GIVEN_NAME,
        family_name=PLAN_FAMILY_NAME,
        record_number="BRW-PLAN-1",
    )
    save_version(therapist, printed, {"Insights and themes": "Feeling safe in my body."}, "Crisis line 0800 1", 0)
    dashboard = make_patient(
        co,
        protocols=protocols,
        given_name=DASHBOARD_GIVEN_NAME,
        family_name=DASHBOARD_FAMILY_NAME,
        record_number="BRW-DASH-1",
    )
    backdate_enrolment(dashboard, now - timedelta(days=20))
    record_session(
        co, dashboard, SessionInput(SessionKind.PREPARATION, now - timedelta(days=3), 60), protocols["mdma-ptsd"], now
    )
    phone = make_patient(
        therapist,
        protocols=protocols,
        given_name=QUESTIONNAIRE_GIVEN_NAME,
        family_name=QUESTIONNAIRE_FAMILY_NAME,
        record_number="BRW-PHONE-1",
    )
    db.session.add(
        QuestionnaireLink(
            patient_id=phone.id,
            instruments=["phq9"],
            token_hash=hash_token(EXPIRED_TOKEN),
            created_by_id=therapist.id,
            created_at=now - timedelta(days=4),
            expires_at=now - timedelta(days=1),
        )
    )
    harbour = make_clinic(SYDNEY_CLINIC, SYDNEY_ZONE)
    harbour_supervisor = make_user(harbour, Role.SUPERVISOR, password=PASSWORD)
    harbour_therapist = make_user(
        harbour,
        Role.THERAPIST,
        username=SYDNEY_THERAPIST,
        full_name=SYDNEY_THERAPIST_NAME,
        supervisor=harbour_supervisor,
        password=PASSWORD,
    )
    make_user(harbour, Role.ADMIN, username=SYDNEY_ADMIN, full_name=SYDNEY_ADMIN_NAME, password=PASSWORD)
    quayside = make_patient(
        harbour_therapist,
        protocols=protocols,
        given_name=SYDNEY_GIVEN_NAME,
        family_name=SYDNEY_FAMILY_NAME,
        record_number="BRW-SYD-1",
    )
    backdate_enrolment(quayside, now - timedelta(days=20))
    refused_forms = make_patient(
        therapist,
        protocols=protocols,
        protocol_code=DOSING_PROTOCOL,
        given_name=ERRORS_GIVEN_NAME,
        family_name=ERRORS_FAMILY_NAME,
        record_number="BRW-ERR-1",
    )
    clear_for_dosing(refused_forms, therapist, protocols)
    walk_to(refused_forms, Phase.DOSING, therapist, protocols, password=PASSWORD)
    dosing_day = record_session(
        therapist,
        refused_forms,
        SessionInput(
            SessionKind.DOSING,
            now - timedelta(hours=1),
            120,
            present_ids=(therapist.id,),
        ),
        protocols[DOSING_PROTOCOL],
        now,
    )
    save_note(
        therapist,
        refused_forms,
        dosing_day,
        None,
        NoteInput(body="Calm start; music on."),
        None,
        now,
        protocols[DOSING_PROTOCOL],
    )
    make_patient(
        therapist,
        protocols=protocols,
        given_name=KEYS_GIVEN_NAME,
        family_name=KEYS_FAMILY_NAME,
        record_number="BRW-KEYS-1",
    )
    typing = make_patient(
        therapist,
        protocols=protocols,
        given_name=TYPING_GIVEN_NAME,
        family_name=TYPING_FAMILY_NAME,
        record_number="BRW-TYPE-1",
    )
    record_measure(typing, therapist, "phq9", [1, 1, 1, 1, 0, 1, 0, 0, 1])  # item 9 above 0: an alert
    _seed_corrections(protocols)
    db.session.commit()


def _seed_corrections(protocols: dict[str, Any]) -> None:
    """A clinic of its own (nobody else's pages change): a trainee's signed dosing note holding a serious adverse
    event (its high-risk alert open, the note waiting for co-signature) and another patient's dosing note still a
    draft, for the correction, confirmation, co-signature and calendar pages (test_corrections_pages)."""
    clinic = make_clinic(CORRECTIONS_CLINIC)
    supervisor = make_user(
        clinic, Role.SUPERVISOR, username=CORRECTIONS_SUPERVISOR, full_name="Cora Supervisor", password=PASSWORD
    )
    therapist = make_user(
        clinic,
        Role.THERAPIST,
        username=CORRECTIONS_THERAPIST,
        full_name=CORRECTIONS_THERAPIST_NAME,
        supervisor=supervisor,
        password=PASSWORD,
    )
    signed = make_patient(
        therapist,
        protocols=protocols,
        protocol_code=DOSING_PROTOCOL,
        given_name="Sera",
        family_name="Seriousness",
        record_number="BRW-SAE-1",
    )
    clear_for_dosing(signed, therapist, protocols)
    walk_to(signed, Phase.DOSING, therapist, protocols, password=PASSWORD)
    therapist.needs_cosign = True
    session = complete_dosing(signed, therapist, protocols, password=PASSWORD, sign=False)
    now = utcnow()
    note = load_note(db.session, session)
    add_adverse_event(
        therapist,
        signed,
        session,
        note,
        AdverseEventInput(
            description="Vomiting; thought serious at first",
            onset_at=now - timedelta(hours=3),
            severity=Severity.MODERATE,
            serious=True,
            action_taken="Antiemetic given",
            outcome=Outcome.RECOVERED,
        ),
        now,
    )
    note = load_note(db.session, session)
    sign_note(therapist, signed, session, note, protocols[DOSING_PROTOCOL], PASSWORD, None, True, now)
    draft = make_patient(
        therapist,
        protocols=protocols,
        protocol_code=DOSING_PROTOCOL,
        given_name="Dora",
        family_name="Draftwell",
        record_number="BRW-SAE-2",
    )
    clear_for_dosing(draft, therapist, protocols)
    walk_to(draft, Phase.DOSING, therapist, protocols, password=PASSWORD)
    complete_dosing(draft, therapist, protocols, password=PASSWORD, sign=False)


def main() -> None:
    idle = os.environ.get("BROWSER_IDLE_TIMEOUT_SECONDS")
    settings = {"IDLE_TIMEOUT": timedelta(seconds=int(idle))} if idle else {}
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=os.environ["BROWSER_TEST_DATABASE_URL"],
        WTF_CSRF_ENABLED=True,
        **settings,
    )
    with app.app_context():
        upgrade()
        seed(app)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"  # the links the pages hand out
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""The simulated clinicians of ``make loadtest`` (Locust, run headless by ``bench/loadtest.py``).

Therapists open their day, their patients, record a measure, save and sign a note and print an integration
plan; supervisors open the dashboard, the clinic overview and their supervisees' patients, and the first of them
prints one batch of integration plans during the run (started, polled every second, downloaded). Everyone also
opens the minimal signed-in page (the emergency-access form), so the baseline is measured under the same load.
``Sequential`` is the single-request level: one user, one request at a time, each page in turn.

Each user signs in through the login form with a CSRF token, as a browser does, and sends every form's CSRF token.
The session cookie is kept by hand: the app marks it Secure (production settings), and here plain HTTP on
loopback stands in for the TLS proxy, so an ordinary cookie jar would never send it back.

Every request is written to ``LOAD_SAMPLES`` (one JSON object a line: name, milliseconds, ok, status) and the
driver computes the percentiles from those, exactly. ``LOAD_PLAN`` names the plan (``bench/loadplan.py``).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import urllib.parse
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task
from locust.exception import StopUser

from bench.forms import Forms

PLAN: dict[str, Any] = json.loads(Path(os.environ["LOAD_PLAN"]).read_text()) if os.environ.get("LOAD_PLAN") else {}
#: Think time between a user's actions (seconds): a busy clinic, each clinician clicking every second or two.
THINK = between(0.5, 2.5)
#: Rounds of every page the sequential user makes (after one warm-up round).
ROUNDS = int(os.environ.get("LOAD_ROUNDS", "30"))
#: Warm-up rounds first, left out: each gunicorn worker compiles its templates and fills its caches on first use,
#: and any of them may answer a request.
WARM_UP_ROUNDS = int(os.environ.get("LOAD_WARM_UP_ROUNDS", "8"))
BATCH_AFTER_SECONDS = 5.0
BATCH_POLL_SECONDS = 0.5
BATCH_LIMIT_SECONDS = 120.0

MINIMAL = "minimal signed-in page"

_samples = open(os.environ["LOAD_SAMPLES"], "a") if os.environ.get("LOAD_SAMPLES") else None  # noqa: SIM115
_accounts: dict[str, itertools.count[int]] = {"therapists": itertools.count(), "supervisors": itertools.count()}
_batch_taken = False


@events.request.add_listener
def _record(
    request_type: str, name: str, response_time: float, response: Any = None, exception: Any = None, **_kwargs: Any
) -> None:
    if _samples is not None:
        status = getattr(response, "status_code", 0) or 0
        _samples.write(
            json.dumps(
                {
                    "name": name,
                    "ms": round(response_time, 2),
                    "ok": exception is None,
                    "status": status,
                    "method": request_type,
                    "t": round(time.time(), 3),
                }
            )
            + "\n"
        )


@events.quitting.add_listener
def _close(**_kwargs: Any) -> None:
    if _samples is not None:
        _samples.flush()


class Clinician(FastHttpUser):
    """A signed-in clinician; subclasses say which accounts and what they do."""

    abstract = True
    wait_time = THINK
    pool = "therapists"

    def on_start(self) -> None:
        accounts = PLAN[self.pool]
        if not accounts:
            raise StopUser()
        self.account: dict[str, Any] = accounts[next(_accounts[self.pool]) % len(accounts)]
        self.sign_in(self.account["username"])

    def sign_in(self, username: str) -> None:
        """Sign in through the form, as a new browser (the cookie starts empty)."""
        self.cookie = ""
        html = self.page("/login", "sign in: form")
        token = Forms(html, "/login").find("/login").get("csrf_token", "") if html else ""
        answer = self.post(
            "/login",
            "sign in",
            {"username": username, "password": PLAN["password"], "csrf_token": token, "next": ""},
            expect=(302,),
        )
        if answer.status_code != 302:
            raise StopUser()

    def page(self, path: str, name: str) -> str:
        """GET a page that must answer 200: its text ("" when it did not)."""
        with self.client.request(
            "GET", path, name=name, headers={"Cookie": self.cookie}, allow_redirects=False, catch_response=True
        ) as answer:
            self.cookie = _cookie(answer, self.cookie)
            if answer.status_code != 200:
                answer.failure(f"GET {name} answered {answer.status_code}")
                return ""
            return answer.text or ""

    def post(self, path: str, name: str, fields: dict[str, str], expect: tuple[int, ...] = (302, 303)) -> Any:
        """POST a form; a status outside ``expect`` is an error."""
        with self.client.request(
            "POST",
            path,
            name=name,
            data=_form(fields),
            allow_redirects=False,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie},
            catch_response=True,
        ) as answer:
            self.cookie = _cookie(answer, self.cookie)
            if answer.status_code not in expect:
                answer.failure(f"POST {name} answered {answer.status_code}")
            return answer

    def minimal(self) -> None:
        self.page("/emergency-access", MINIMAL)

    def patient(self) -> None:
        self.page(f"/patients/{random.choice(self.account['patients'])}", "patient page")


class Therapist(Clinician):
    weight = 4

    @task(5)
    def day(self) -> None:
        self.page("/today", "day page")

    @task(5)
    def patient_page(self) -> None:
        self.patient()

    @task(2)
    def minimal_page(self) -> None:
        self.minimal()

    @task(1)
    def record_measure(self) -> None:
        if not self.account["measures"]:
            return
        chosen = random.choice(self.account["measures"])
        path = f"/patients/{chosen['patient']}/measures/{chosen['instrument']}/new"
        html = self.page(path, "measure form")
        if html:
            self.post(path, "record a measure (POST)", Forms(html, path).find(path))

    @task(1)
    def write_and_sign_note(self) -> None:
        if not self.account["notes"]:
            return
        note = self.account["notes"].pop()
        path = f"/patients/{note['patient']}/sessions/{note['session']}"
        html = self.page(path, "session page")
        if not html:
            return
        fields = Forms(html).find(f"{path}/note")
        fields["body"] = (fields.get("body") or "") + " Reviewed with the patient; no new concerns."
        self.post(f"{path}/note", "save a note (POST)", fields)
        html = self.page(path, "session page")
        if html:
            sign = Forms(html).find(f"{path}/sign")
            sign["password"] = PLAN["password"]
            self.post(f"{path}/sign", "sign a note (POST)", sign)

    @task(1)
    def print_plan(self) -> None:
        if self.account["plans"]:
            self.page(f"/patients/{random.choice(self.account['plans'])}/reports/plan.pdf", "integration plan PDF")


class Supervisor(Clinician):
    weight = 1
    pool = "supervisors"

    def on_start(self) -> None:
        super().on_start()
        self.batch_at = time.monotonic() + BATCH_AFTER_SECONDS

    @task(4)
    def dashboard(self) -> None:
        self.batch_when_due()
        self.page("/dashboard", "dashboard")

    @task(1)
    def overview(self) -> None:
        self.batch_when_due()
        self.page("/overview", "clinic overview")

    @task(3)
    def patient_page(self) -> None:
        self.batch_when_due()
        self.patient()

    @task(2)
    def minimal_page(self) -> None:
        self.batch_when_due()
        self.minimal()

    def batch_when_due(self) -> None:
        """The run's one batch, printed by the first supervisor to act after ``BATCH_AFTER_SECONDS``."""
        global _batch_taken
        batch = PLAN.get("batch")
        if _batch_taken or batch is None or time.monotonic() < self.batch_at:
            return
        _batch_taken = True
        own = self.cookie
        if batch["username"] != self.account["username"]:
            self.sign_in(batch["username"])
        try:
            self.print_batch(batch)
        finally:
            self.cookie = own

    def print_batch(self, batch: dict[str, Any]) -> None:
        """Start the batch, poll its progress, download it; its start-to-ready time is a sample of its own."""
        html = self.page("/reports/batch", "batch page")
        token = Forms(html, "/reports/batch").find("/reports/batch").get("csrf_token", "") if html else ""
        started = time.perf_counter()
        answer = self.post(
            "/reports/batch/jobs",
            "batch: start (POST)",
            {
                "csrf_token": token,
                "kind": "plan",
                "selection": "caseload",
                "therapist_id": str(batch["therapist_id"]),
                "phase": batch["phase"],
                "draft": "0",
            },
            expect=(202,),
        )
        name = f"batch of {batch['patients']} plans: start to ready"
        failure: Exception | None = RuntimeError("the batch did not start")
        if answer.status_code == 202:
            links = json.loads(answer.text)
            failure = RuntimeError(f"the batch was not ready within {BATCH_LIMIT_SECONDS:.0f} s")
            while time.perf_counter() - started < BATCH_LIMIT_SECONDS:
                time.sleep(BATCH_POLL_SECONDS)
                state = json.loads(self.page(links["status_url"], "batch: progress (JSON)") or "{}")
                if state.get("error"):
                    failure = RuntimeError(str(state["error"]))
                    break
                if state.get("ready"):
                    failure = None
                    break
        ready_ms = (time.perf_counter() - started) * 1000
        events.request.fire(  # type: ignore[no-untyped-call, unused-ignore]  # untyped in locust 2.47; not installed by make install
            request_type="BATCH",
            name=name,
            response_time=ready_ms,
            response_length=0,
            response=None,
            exception=failure,
            context={},
        )
        if failure is None:
            self.page(links["download_url"], "batch: download")


#: The pages the single-request level times, in turn: (persona, name, path template).
SEQUENCE = (
    ("therapist", MINIMAL, "/emergency-access"),
    ("therapist", "day page", "/today"),
    ("therapist", "patient page", "/patients/{patient}"),
    ("therapist", "measure form", "/patients/{patient}/measures/{instrument}/new"),
    ("therapist", "session page", "/patients/{note_patient}/sessions/{note_session}"),
    ("supervisor", "dashboard", "/dashboard"),
    ("supervisor", "clinic overview", "/overview"),
    ("therapist", "integration plan PDF", "/patients/{plan}/reports/plan.pdf"),
    ("therapist", "patient summary PDF", "/patients/{plan}/reports/summary.pdf"),
)


class Sequential(Clinician):
    """One request at a time: a therapist's and a supervisor's pages in turn, ``ROUNDS`` times after
    ``WARM_UP_ROUNDS`` (named ``... (warm-up)``, left out of the figures), then the run ends."""

    wait_time = between(0, 0)

    def on_start(self) -> None:
        therapist = next((t for t in PLAN["therapists"] if t["notes"] and t["plans"] and t["measures"]), None)
        if therapist is None or not PLAN["supervisors"]:
            raise StopUser()
        self.account = therapist
        self.cookies = {}
        supervisor = PLAN["supervisors"][0]["username"]
        for persona, username in (("therapist", therapist["username"]), ("supervisor", supervisor)):
            self.sign_in(username)
            self.cookies[persona] = self.cookie
        measure, note = therapist["measures"][0], therapist["notes"][-1]
        self.values = {
            "patient": measure["patient"],
            "instrument": measure["instrument"],
            "note_patient": note["patient"],
            "note_session": note["session"],
            "plan": therapist["plans"][0],
        }
        self.round = 0

    @task
    def each_page(self) -> None:
        for persona, name, path in SEQUENCE:
            label = name if self.round >= WARM_UP_ROUNDS else f"{name} (warm-up)"
            self.cookie = self.cookies[persona]
            self.page(path.format(**self.values), label)
            self.cookies[persona] = self.cookie
        self.round += 1
        if self.round >= WARM_UP_ROUNDS + ROUNDS:
            if self.environment.runner is not None:
                self.environment.runner.quit()
            raise StopUser()


def _form(fields: dict[str, str]) -> str:
    return urllib.parse.urlencode(fields)


def _cookie(answer: Any, current: str) -> str:
    """The session cookie the answer set (``name=value``), else the current one."""
    raw = answer.headers.get("Set-Cookie") or answer.headers.get("set-cookie")
    return raw.split(";", 1)[0] if raw else current

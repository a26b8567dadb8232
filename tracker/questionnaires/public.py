"""The one page open without signing in: a questionnaire link, on the patient's own device.

It shows the clinic's name and the questionnaire, nothing else of the record (not even the patient's name: a link
may be forwarded or seen over a shoulder). Every opening, submission and refusal is audited. Requests are limited
per client address, and refused tokens (unknown, used, withdrawn, expired) more tightly, so tokens cannot be
guessed at speed; a token is 256 random bits in any case.
"""

from __future__ import annotations

from flask import abort, current_app, render_template, request
from flask.typing import ResponseReturnValue

from tracker import audit, clinictime
from tracker.auth import throttle
from tracker.database import writing
from tracker.extensions import csrf, db
from tracker.instruments import Instrument, get_instrument
from tracker.models import Clinic, Patient, QuestionnaireLink
from tracker.models.base import utcnow
from tracker.permissions import public
from tracker.questionnaires import bp
from tracker.questionnaires.forms import PatientForm, field_name, patient_form
from tracker.questionnaires.services import AnswersRefused, LinkClosed, find_open, submit

#: What the patient reads for each refusal, and its status.
REFUSALS = {
    "unknown": (404, "This link does not open a questionnaire. Check that it was copied whole, or ask the clinic "
                     "for a new one."),
    "used": (410, "This questionnaire has already been filled in with this link, so it cannot be opened again. "
                  "Thank you."),
    "withdrawn": (410, "The clinic has withdrawn this link. Ask the clinic for a new one if you still need it."),
    "expired": (410, "This link has expired. Ask the clinic for a new one."),
}


TOO_MANY = ("Too many requests came from this connection. Wait a few minutes and open the link again; if you "
            "need help now, call the clinic.")


def _limit_address() -> None:
    """Count this request against the client address, refusing it (429) past either limit: requests of any kind,
    and refused links (so tokens cannot be guessed at speed). Counted in the database, for every worker."""
    config, now, address = current_app.config, utcnow(), request.remote_addr
    with writing(db.session):  # a short write of its own, in a GET too
        requests = throttle.charge_address(db.session, "questionnaire", address, now,
                                           config["QUESTIONNAIRE_REQUEST_WINDOW"])
        refused = throttle.refused_address(db.session, "questionnaire-refused", address, now,
                                           config["QUESTIONNAIRE_REFUSAL_WINDOW"],
                                           config["QUESTIONNAIRE_REFUSALS_PER_ADDRESS"])
        db.session.commit()
    if refused or requests > config["QUESTIONNAIRE_REQUESTS_PER_ADDRESS"]:
        abort(429, description=TOO_MANY)


def crisis_line(clinic: Clinic) -> str | None:
    """Who to call now: the clinic's crisis line (its settings), else the clinic's phone; None when neither is set
    (the page then names the local emergency number alone)."""
    return clinic.crisis_line or (f"{clinic.name}, {clinic.phone}" if clinic.phone else None)


def _urgent_options(instrument: Instrument) -> dict[int, set[int | str]]:
    """Item number -> the answers that raise an urgent flag by themselves (PHQ-9 item 9 above 0), so the page can
    show the crisis line as soon as one is chosen."""
    found: dict[int, set[int | str]] = {}
    for rule in instrument.flags:
        if rule.urgent and rule.item is not None and rule.at_least is not None:
            item = instrument.item(rule.item)
            found[rule.item] = {v for v in item.scale.values if isinstance(v, int) and v >= rule.at_least}
    return found


def _refusal(closed: LinkClosed) -> ResponseReturnValue:
    patient = db.session.get(Patient, closed.link.patient_id) if closed.link is not None else None
    audit.record(None, "questionnaire.refused", f"A questionnaire link was refused ({closed.reason})",
                 patient=patient, target_type="questionnaire_link",
                 target_id=closed.link.id if closed.link is not None else None, data={"reason": closed.reason})
    db.session.commit()
    with writing(db.session):
        throttle.charge_address(db.session, "questionnaire-refused", request.remote_addr, utcnow(),
                                current_app.config["QUESTIONNAIRE_REFUSAL_WINDOW"])
        db.session.commit()
    status, message = REFUSALS[closed.reason]
    return render_template("questionnaires/refused.html", message=message, clinic=None), status


def _render(link: QuestionnaireLink, clinic: Clinic, form: PatientForm, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "questionnaires/fill.html", form=form, clinic=clinic, field_name=field_name,
        urgent={i.code: _urgent_options(i) for i in form.instruments}, crisis=crisis_line(clinic),
    ), status


@bp.route("/q/<token>", methods=["GET", "POST"])
@csrf.exempt
@public
def fill(token: str) -> ResponseReturnValue:
    """The questionnaire of an open link (GET), and its one submission (POST).

    No CSRF token and no cookie: the link's token is the secret (a page that could forge the POST would need the
    token, and with it could post directly), and a patient whose phone refuses cookies can still send.

    :raise 404: unknown token; 410: used, withdrawn or expired (each audited, each with a page saying so).
    """
    _limit_address()
    now = utcnow()
    try:
        link = find_open(token, now)
    except LinkClosed as closed:
        return _refusal(closed)
    patient = db.session.get(Patient, link.patient_id)
    assert patient is not None
    clinic = db.session.get(Clinic, patient.clinic_id)
    assert clinic is not None
    form = patient_form([get_instrument(code) for code in link.instruments], meta={"csrf": False})
    if not form.is_submitted():
        audit.record(None, "questionnaire.open", "The patient opened a questionnaire link", patient=patient,
                     target_type="questionnaire_link", target_id=link.id)
        db.session.commit()
        return _render(link, clinic, form)
    form.validate()  # no field validators: the answers are judged by ``score``, below
    try:
        submitted = submit(link, form.answers(), clinictime.today(clinic.zone, now), now)  # the clinic's date
    except AnswersRefused as refused:
        db.session.rollback()
        for (code, number), message in refused.problems.items():
            instrument = get_instrument(code)
            field = form[field_name(instrument, number if 1 <= number <= len(instrument.items) else 1)]
            field.errors = [*field.errors, _plain(message)]
        return _render(link, clinic, form, 422)
    except LinkClosed as closed:
        db.session.rollback()
        return _refusal(closed)
    db.session.commit()
    return render_template("questionnaires/done.html", clinic=clinic, urgent=submitted.urgent,
                           crisis=crisis_line(clinic))


def _plain(message: str) -> str:
    """A scoring message in the patient's words: they only ever leave a question unanswered."""
    if "missing" in message or "must be answered" in message or "is required" in message:
        return "Please choose an answer."
    return "Please choose one of the answers shown."

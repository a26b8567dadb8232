"""The one page open without signing in: a questionnaire link, on the patient's own device.

It shows the clinic's name and the questionnaire, nothing else of the record (not even the patient's name: a link
may be forwarded or seen over a shoulder). Every opening, submission, rejected submission and refusal is audited.
It sets no cookie: the link's token is the only key it needs.

Limits. The token is looked up first, so a valid link is never refused for what other people did: a clinic's
Wi-Fi or a mobile carrier puts many patients behind one address, and a guesser among them must not lock the others
out, nor make a patient lose the answers they send. Requests to one link (open or closed) are counted per link
(``QUESTIONNAIRE_REQUESTS_PER_LINK``), which only its holders use up. Tokens that open nothing (guesses, or a link
copied wrongly) are counted per address: past ``QUESTIONNAIRE_REFUSALS_PER_ADDRESS`` in the window, that address
gets 429 for every further unknown token, and is flagged once in the audit trail for a proxy-level ban. What keeps
guessing hopeless is the token itself: 256 random bits, so a guess succeeds with probability 2^-256 however many are
tried. Every refusal page, 429 included, shows where to call for help now.

An urgent answer posted on a link that closed while it was being filled in (expired, withdrawn, or used in another
window) stores no result, but raises a safety alert naming the link (``alerts.raising.for_closed_link``, e-mailed
like every alert), and the page tells the patient so, with the crisis line.
"""

from __future__ import annotations

import logging

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue

from tracker import audit, clinictime
from tracker.alerts import raising
from tracker.auth import throttle
from tracker.database import writing
from tracker.extensions import csrf, db
from tracker.instruments import Instrument, get_instrument
from tracker.models import Clinic, Patient, QuestionnaireLink
from tracker.models.base import utcnow
from tracker.permissions import public
from tracker.questionnaires import bp
from tracker.questionnaires.forms import PatientForm, field_name, patient_form
from tracker.questionnaires.services import AnswersRefused, LinkClosed, find_open, submit, urgent_flags

log = logging.getLogger(__name__)

#: What the patient reads for each refusal, and its status.
REFUSALS = {
    "unknown": (
        404,
        "This link does not open a questionnaire. Check that it was copied whole, or ask the clinic for a new one.",
    ),
    "used": (
        410,
        "This questionnaire has already been filled in with this link, so it cannot be opened again. Thank you.",
    ),
    "withdrawn": (410, "The clinic has withdrawn this link. Ask the clinic for a new one if you still need it."),
    "expired": (410, "This link has expired. Ask the clinic for a new one."),
}

TOO_MANY = (
    "Too many requests came for this link, or too many links that open nothing came from this connection. "
    "Wait a few minutes and try again."
)
DUPLICATED = (
    "The answers could not be read: a question was answered twice in one form. Nothing was saved; "
    "reload the page and answer each question once."
)


def crisis_line(clinic: Clinic | None) -> str | None:
    """Who to call now: the clinic's crisis line (its settings), else the clinic's phone; None when the clinic is
    unknown (a token that opens nothing) or has neither (the page then names the local emergency number alone)."""
    if clinic is None:
        return None
    return clinic.crisis_line or (f"{clinic.name}, {clinic.phone}" if clinic.phone else None)


def _clinic_of(link: QuestionnaireLink | None) -> tuple[Patient | None, Clinic | None]:
    patient = db.session.get(Patient, link.patient_id) if link is not None else None
    return patient, db.session.get(Clinic, patient.clinic_id) if patient is not None else None


def _charge(key: str) -> int:
    """Count one request against ``key`` in the window (a short write of its own, in a GET too)."""
    with writing(db.session):
        count = throttle.charge(db.session, key, utcnow(), current_app.config["QUESTIONNAIRE_REQUEST_WINDOW"])
        db.session.commit()
    return count


def _too_many(clinic: Clinic | None) -> ResponseReturnValue:
    return render_template(
        "questionnaires/refused.html",
        message=TOO_MANY,
        clinic=None,
        crisis=crisis_line(clinic),
        title="Please wait",
        urgent=False,
    ), 429


def _link_over_limit(link: QuestionnaireLink) -> bool:
    return _charge(f"questionnaire-link:{link.id}") > int(current_app.config["QUESTIONNAIRE_REQUESTS_PER_LINK"])


def _unknown_token() -> ResponseReturnValue:
    """A token that opens nothing: audited, counted against the address, 429 past its limit (flagged once)."""
    config, address = current_app.config, request.remote_addr
    audit.record(
        None,
        "questionnaire.refused",
        "A questionnaire link was refused (unknown)",
        target_type="questionnaire_link",
        data={"reason": "unknown"},
    )
    db.session.commit()
    with writing(db.session):
        count = throttle.charge_address(
            db.session, "questionnaire-refused", address, utcnow(), config["QUESTIONNAIRE_REFUSAL_WINDOW"]
        )
        if count == config["QUESTIONNAIRE_REFUSALS_PER_ADDRESS"] + 1:
            log.warning("questionnaire links: %s tried %s unknown tokens", address, count)
            audit.record(
                None,
                "questionnaire.address_flagged",
                f"{count} questionnaire links that open nothing from one address",
                data={"refused": count},
            )
        db.session.commit()
    if count > config["QUESTIONNAIRE_REFUSALS_PER_ADDRESS"]:
        return _too_many(None)
    status, message = REFUSALS["unknown"]
    return render_template(
        "questionnaires/refused.html",
        message=message,
        clinic=None,
        crisis=crisis_line(None),
        title="Link not available",
        urgent=False,
    ), status


def _refusal(closed: LinkClosed, answers: dict[str, list[object]] | None = None) -> ResponseReturnValue:
    """The page for a link that is unknown, used, withdrawn or expired. Answers posted on a closed link that hold
    an urgent answer raise a safety alert for its patient (nothing else of them is kept)."""
    link = closed.link
    if link is None:
        return _unknown_token()
    patient, clinic = _clinic_of(link)
    assert patient is not None
    audit.record(
        None,
        "questionnaire.refused",
        f"A questionnaire link was refused ({closed.reason})",
        patient=patient,
        target_type="questionnaire_link",
        target_id=link.id,
        data={"reason": closed.reason},
    )
    flags = urgent_flags(link.instruments, answers) if answers is not None else []
    if flags:
        raising.for_closed_link(patient, link, closed.reason, flags, utcnow())
    db.session.commit()
    if _link_over_limit(link):
        return _too_many(clinic)
    status, message = REFUSALS[closed.reason]
    return render_template(
        "questionnaires/refused.html",
        message=message,
        clinic=clinic if flags else None,
        crisis=crisis_line(clinic),
        urgent=bool(flags),
        title="Link not available",
    ), status


def _urgent_options(instrument: Instrument) -> dict[int, set[int | str]]:
    """Item number -> the answers that raise an urgent flag by themselves (PHQ-9 item 9 above 0), so the page can
    show the crisis line as soon as one is chosen."""
    found: dict[int, set[int | str]] = {}
    for rule in instrument.flags:
        if rule.urgent and rule.item is not None and rule.at_least is not None:
            item = instrument.item(rule.item)
            found[rule.item] = {v for v in item.scale.values if isinstance(v, int) and v >= rule.at_least}
    return found


def _render(link: QuestionnaireLink, clinic: Clinic, form: PatientForm, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "questionnaires/fill.html",
        form=form,
        clinic=clinic,
        field_name=field_name,
        urgent={i.code: _urgent_options(i) for i in form.instruments},
        crisis=crisis_line(clinic),
    ), status


def _posted_answers(codes: list[str]) -> dict[str, list[object]]:
    """The answers of a post, as the form reads them (for a link that turned out closed)."""
    form = patient_form([get_instrument(code) for code in codes], meta={"csrf": False})
    return form.answers()


@bp.route("/q/<token>", methods=["GET", "POST"])
@csrf.exempt
@public
def fill(token: str) -> ResponseReturnValue:
    """The questionnaire of an open link (GET), and its one submission (POST).

    No CSRF token and no cookie: the link's token is the secret (a page that could forge the POST would need the
    token, and with it could post directly), and a patient whose phone refuses cookies can still send.

    :raise 404: unknown token; 410: used, withdrawn or expired (each audited, each with a page saying so, and the
        crisis line); 422: answers missing, out of range or given twice; 429: past a limit (module docstring).
    """
    now = utcnow()
    try:
        link = find_open(token, now)
    except LinkClosed as closed:
        posted = request.method == "POST" and closed.link is not None
        return _refusal(closed, _posted_answers(closed.link.instruments) if posted and closed.link else None)
    patient, clinic = _clinic_of(link)
    assert patient is not None and clinic is not None
    if _link_over_limit(link):
        return _too_many(clinic)
    form = patient_form([get_instrument(code) for code in link.instruments], meta={"csrf": False})
    if not form.is_submitted():
        audit.record(
            None,
            "questionnaire.open",
            "The patient opened a questionnaire link",
            patient=patient,
            target_type="questionnaire_link",
            target_id=link.id,
        )
        db.session.commit()
        return _render(link, clinic, form)
    if any(len(request.form.getlist(name)) > 1 for name in request.form):
        return _rejected(link, patient, clinic, form, {"duplicated": True}, DUPLICATED)
    form.validate()  # no field validators: the answers are judged by ``score``, below
    try:
        submitted = submit(link, form.answers(), clinictime.today(clinic.zone, now), now)  # the clinic's date
    except AnswersRefused as refused:
        db.session.rollback()
        for (code, number), message in refused.problems.items():
            instrument = get_instrument(code)
            field = form[field_name(instrument, number if 1 <= number <= len(instrument.items) else 1)]
            field.errors = [*field.errors, _plain(message)]
        return _rejected(link, patient, clinic, form, {"problems": len(refused.problems)})
    except LinkClosed as closed:
        db.session.rollback()
        return _refusal(closed, form.answers())
    db.session.commit()
    return render_template(
        "questionnaires/done.html", clinic=clinic, urgent=submitted.urgent, crisis=crisis_line(clinic)
    )


def _rejected(
    link: QuestionnaireLink,
    patient: Patient,
    clinic: Clinic,
    form: PatientForm,
    data: dict[str, object],
    message: str | None = None,
) -> ResponseReturnValue:
    """A submission refused with 422 (nothing saved, the link still open), audited without the answers."""
    audit.record(
        None,
        "questionnaire.rejected",
        "A questionnaire submission was refused (answers to correct)",
        patient=patient,
        target_type="questionnaire_link",
        target_id=link.id,
        data=data,
    )
    db.session.commit()
    if message is not None:
        form.form_errors.append(message)
    return _render(link, clinic, form, 422)


def _plain(message: str) -> str:
    """A scoring message in the patient's words: they only ever leave a question unanswered."""
    if "missing" in message or "must be answered" in message or "is required" in message:
        return "Please choose an answer."
    return "Please choose one of the answers shown."

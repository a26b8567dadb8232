"""FHIR Questionnaires generated from the instrument definition files, and the codings of their answers.

Each instrument file (``tracker/instruments/definitions``) becomes a Questionnaire: its items in order, each a
choice among the item's own options, with skip logic as ``enableWhen``; LOINC-coded (panel, items, answers) where
``codes.toml`` holds a checked code, local codes otherwise. Item texts are the file's: verbatim where the instrument
is free to reproduce, otherwise the file's paraphrases or labels, and the Questionnaire's description says which.
"""

from __future__ import annotations

from typing import Any

from tracker.fhir.codes import LOCAL, codes
from tracker.instruments import Instrument, Item, Wording

JSON = dict[str, Any]

#: What the Questionnaire says of its items' wording (for its reader, not the instrument file's notes to developers).
WORDING = {
    Wording.VERBATIM: "Items in the instrument's published wording.",
    Wording.PARAPHRASED: "Items as short paraphrases, not the published wording; administer the published form.",
    Wording.LABELS: "Items as short symptom labels, not the published wording; administer the published form.",
}


def questionnaire_url(code: str) -> str:
    """The canonical URL the Questionnaire of instrument ``code`` is known by (and its responses point at)."""
    return f"{LOCAL}:questionnaire:{code}"


def link_id(item: Item) -> str:
    return str(item.number)


def answer_coding(instrument: Instrument, item: Item, value: int | str) -> JSON:
    """The coding of one answer: LOINC's answer code where the item's options map one to one onto a checked LOINC
    answer list, otherwise the option's value in a local system of the instrument's scale."""
    option = next(o for o in item.scale.options if o.value == value)
    loinc = codes().instrument(instrument.code).answers
    if loinc is not None and len(loinc) == len(item.scale.options):
        position = item.scale.values.index(value)
        return {"system": codes().loinc, "code": loinc[position], "display": option.label}
    return {
        "system": f"{LOCAL}:instrument:{instrument.code}:{item.scale.name}",
        "code": str(value),
        "display": option.label,
    }


def _item(instrument: Instrument, item: Item) -> JSON:
    entry: JSON = {
        "linkId": link_id(item),
        "prefix": f"{item.number}.",
        "text": item.text,
        "type": "choice",
        "required": item.ask_if is None,
        "answerOption": [{"valueCoding": answer_coding(instrument, item, o.value)} for o in item.scale.options],
    }
    loinc_items = codes().instrument(instrument.code).items
    if loinc_items is not None:
        entry["code"] = [{"system": codes().loinc, "code": loinc_items[item.number - 1]}]
    if item.ask_if is not None:
        condition = instrument.item(item.ask_if.item)
        entry["enableWhen"] = [
            {
                "question": link_id(condition),
                "operator": "=",
                "answerCoding": answer_coding(instrument, condition, item.ask_if.equals),
            }
        ]
    return entry


def questionnaire(instrument: Instrument) -> JSON:
    """The Questionnaire of ``instrument`` as FHIR JSON (validated by the caller)."""
    panel = codes().instrument(instrument.code).panel
    coding = (
        [{"system": codes().loinc, "code": panel.code, "display": panel.display}]
        if panel
        else [{"system": f"{LOCAL}:instrument", "code": instrument.code, "display": instrument.name}]
    )
    description = (
        f"{instrument.name}, {instrument.administration.value.replace('_', ' ')}; recall period: "
        f"{instrument.recall_period}. {WORDING[instrument.wording]}"
    )
    items = [_item(instrument, item) for item in instrument.items]
    if instrument.stem:
        items.insert(0, {"linkId": "stem", "text": instrument.stem, "type": "display"})
    return {
        "resourceType": "Questionnaire",
        "url": questionnaire_url(instrument.code),
        "name": "".join(part.capitalize() for part in instrument.code.split("_")),
        "title": instrument.name,
        "status": "active",
        "subjectType": ["Patient"],
        "code": coding,
        "description": description,
        "copyright": instrument.licence,
        "item": items,
    }

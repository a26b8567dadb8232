"""The export's variables, described as a REDCap data dictionary (the 18 columns of REDCap's data dictionary CSV).

REDCap variable names are lower case letters, digits and underscores, starting with a letter; each instrument is a
form, and its rows in the export are repeating instances (``redcap_repeat_instrument``, ``redcap_repeat_instance``),
so the files import into a REDCap project built from this dictionary. Choices are written "code, label | ...".
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.instruments import Instrument, Item
from tracker.models import AdministrationMode, Indication, Phase
from tracker.research.anonymity import ENDED, IN_TREATMENT

HEADER = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
]

PARTICIPANTS = "participants"


def _row(
    name: str,
    form: str,
    kind: str,
    label: str,
    choices: str = "",
    note: str = "",
    validation: str = "",
    low: str = "",
    high: str = "",
    branching: str = "",
) -> list[str]:
    return [name, form, "", kind, label, choices, note, validation, low, high, "", branching, "", "", "", "", "", ""]


def _choices(pairs: list[tuple[str, str]]) -> str:
    return " | ".join(f"{code}, {label}" for code, label in pairs)


def variable(instrument: Instrument, suffix: str) -> str:
    return f"{instrument.code}_{suffix}".lower()


def item_variable(instrument: Instrument, item: Item) -> str:
    return variable(instrument, str(item.number))


def participant_rows(protocols: list[str], k: int) -> Iterator[list[str]]:
    withheld = (
        f"Empty where withheld: every combination of protocol, indication, phase and dosing sessions in the "
        f"file is shared by at least {k} participants (see README.txt)."
    )
    yield _row(
        "study_id",
        PARTICIPANTS,
        "text",
        "Study ID",
        note="Random per export: the same patient has the same study ID in every file of one export only "
        "(two exports can still be matched by their content).",
    )
    yield _row(
        "protocol",
        PARTICIPANTS,
        "dropdown",
        "Protocol",
        _choices([(p.replace("-", "_"), p) for p in protocols]),
        note=withheld,
    )
    yield _row(
        "indication",
        PARTICIPANTS,
        "dropdown",
        "Indication",
        _choices([(i.value, i.label) for i in Indication]),
        note=withheld,
    )
    yield _row(
        "phase",
        PARTICIPANTS,
        "dropdown",
        "Phase at the time of the export",
        _choices(
            [(p.value, p.label) for p in Phase]
            + [
                (IN_TREATMENT, "In treatment (preparation, dosing, integration or on hold)"),
                (ENDED, "Ended (completed or discontinued)"),
            ]
        ),
        note=withheld,
    )
    yield _row(
        "dosing_sessions",
        PARTICIPANTS,
        "text",
        "Dosing sessions so far",
        note="A whole number, or a band (0, 1 to 2, 3 or more) where the export had to coarsen it. " + withheld,
    )


def instrument_rows(instrument: Instrument) -> Iterator[list[str]]:
    form = instrument.code
    yield _row(
        variable(instrument, "day"),
        form,
        "text",
        "Day answered",
        note="Days from the patient's first dosing session (0: that day; negative: before it); empty when "
        "the patient has not been dosed yet.",
        validation="integer",
    )
    yield _row(
        variable(instrument, "mode"),
        form,
        "dropdown",
        "How it was given",
        _choices([(m.value, m.label) for m in AdministrationMode]),
    )
    for item in instrument.items:
        branching = ""
        if item.ask_if is not None:
            condition = instrument.item(item.ask_if.item)
            branching = f"[{item_variable(instrument, condition)}] = '{item.ask_if.equals}'"
        yield _row(
            item_variable(instrument, item),
            form,
            "radio",
            f"{item.number}. {item.text}",
            _choices([(str(o.value), o.label) for o in item.scale.options]),
            branching=branching,
        )
    if instrument.total_range is not None:
        low, high = instrument.total_range
        yield _row(
            variable(instrument, "total"),
            form,
            "text",
            f"{instrument.short_name} total",
            validation="integer",
            low=str(low),
            high=str(high),
            note=f"Scored by the app ({instrument.rule}).",
        )
    yield _row(
        variable(instrument, "band"),
        form,
        "text",
        "Severity band (or risk level)",
        note=", ".join(b.label for b in instrument.bands),
    )
    for subscale in instrument.subscales:
        yield _row(variable(instrument, f"s_{subscale.code}"), form, "text", subscale.name, validation="integer")
    if instrument.diagnosis is not None:
        yield _row(variable(instrument, "provisional_dx"), form, "yesno", instrument.diagnosis.label)
    yield _row(variable(instrument, "urgent"), form, "yesno", "Raised a safety alert (an urgent flag)")
    yield _row(variable(instrument, "corrected"), form, "yesno", "Replaces an earlier result that was corrected")


def columns(instrument: Instrument) -> list[str]:
    """The header of the instrument's data file, in the dictionary's order."""
    return ["study_id", "redcap_repeat_instrument", "redcap_repeat_instance"] + [
        row[0] for row in instrument_rows(instrument)
    ]

"""The medication vocabulary: which drug class a medication belongs to, from its generic or brand name.

The protocols' interaction rules match medications by class (an MAOI, an SSRI...). A class chosen on a form can be
wrong or vague ("other" for phenelzine); the vocabulary (``vocabulary.toml``, built from the WHO ATC classification,
sources in the file) knows the class of common psychiatric and interacting drugs, so a known drug always brings
its class to the rules. Plain Python: no Flask, no database.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

VOCABULARY = Path(__file__).resolve().parent / "vocabulary.toml"

#: The drug classes interaction rules may name, and the forms offer, with readable labels.
DRUG_CLASSES: dict[str, str] = {
    "ssri": "SSRI (selective serotonin reuptake inhibitor)",
    "snri": "SNRI (serotonin-noradrenaline reuptake inhibitor)",
    "maoi": "MAOI (monoamine oxidase inhibitor)",
    "tricyclic": "Tricyclic antidepressant",
    "other_antidepressant": "Other antidepressant (e.g. bupropion, mirtazapine, trazodone)",
    "lithium": "Lithium",
    "antipsychotic": "Antipsychotic",
    "mood_stabiliser": "Mood stabiliser (other than lithium)",
    "benzodiazepine": "Benzodiazepine",
    "sedative_hypnotic": "Sedative or hypnotic (non-benzodiazepine)",
    "psychostimulant": "Psychostimulant",
    "opioid": "Opioid",
    "other_psychiatric": "Other psychiatric medication",
    "other": "Other",
}


@dataclass(frozen=True)
class KnownDrug:
    """A substance of the vocabulary: its generic name, ATC code and class."""

    name: str
    atc: str
    drug_class: str

    @property
    def label(self) -> str:
        return f"{self.name} ({DRUG_CLASSES[self.drug_class].split(' (')[0]}, WHO ATC {self.atc})"


class VocabularyError(ValueError):
    """The vocabulary file is malformed (a packaging mistake, so start-up stops)."""


def _words(text: str) -> str:
    """Lower case, letters apart from digits ("Nardil15mg" reads "nardil 15 mg"), every other character a space,
    padded: whole-word matching."""
    return " " + " ".join(re.findall(r"[a-z]+|[0-9]+", text.casefold())) + " "


@cache
def _index() -> tuple[tuple[str, KnownDrug], ...]:
    """(normalised name, drug) for every generic and brand name, longest first (so "desvenlafaxine" wins over
    "venlafaxine", and "methylene blue" over shorter names)."""
    data = tomllib.loads(VOCABULARY.read_text(encoding="utf-8"))
    entries: list[tuple[str, KnownDrug]] = []
    for row in data.get("drug", []):
        drug = KnownDrug(row["name"], row["atc"], row["class"])
        if drug.drug_class not in DRUG_CLASSES:
            raise VocabularyError(f"{VOCABULARY.name}: {drug.name}: unknown class {drug.drug_class!r}")
        for name in (drug.name, *row.get("brands", ())):
            entries.append((_words(name), drug))
    return tuple(sorted(entries, key=lambda entry: -len(entry[0])))


def identify_all(name: str) -> list[KnownDrug]:
    """Every known drug named in ``name`` (generic or brand names, anywhere in the text as whole words), once each,
    in the order the text names them: "Zoloft + Nardil" is sertraline and phenelzine."""
    text = _words(name)
    found: dict[str, tuple[int, KnownDrug]] = {}
    taken: list[tuple[int, int]] = []
    for key, drug in _index():  # longest names first, so "desvenlafaxine" is not also read as "venlafaxine"
        start = text.find(key)
        while start != -1:
            span = (start + 1, start + len(key) - 1)  # the words, without the padding spaces they share
            if not any(a < span[1] and span[0] < b for a, b in taken):
                taken.append(span)
                found.setdefault(drug.name, (start, drug))
            start = text.find(key, start + 1)
    return [drug for _, drug in sorted(found.values(), key=lambda entry: entry[0])]


def identify(name: str) -> KnownDrug | None:
    """The known drug named in ``name`` when it names exactly one; None when it names none or several."""
    drugs = identify_all(name)
    return drugs[0] if len(drugs) == 1 else None


def classes_of(name: str, chosen_class: str) -> frozenset[str]:
    """Every class a medication counts as for interaction rules: the class chosen on the form, plus the known class
    of every drug its name identifies (a chosen class never downgrades a known drug; a combination counts as all
    its drugs)."""
    return frozenset({chosen_class} | {drug.drug_class for drug in identify_all(name)})


def names_match(rule_names: tuple[str, ...], name: str) -> bool:
    """Whether any of an interaction rule's drug names appears in ``name`` as whole words."""
    text = _words(name)
    return any(_words(rule_name) in text for rule_name in rule_names)

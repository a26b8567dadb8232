"""Small-cell protection of the research export: k-anonymity over the participants' quasi-identifiers.

A quasi-identifier is a value that, with the others, can single out a patient to someone who knows something about
them: the protocol, the indication, the phase and the number of dosing sessions. In a clinic's export each
combination of them is often one patient's alone, and that patient is then recognisable in the file (and in every
later export). The export is made k-anonymous: every combination of quasi-identifiers it shows is shared by at
least k participants (Sweeney L. k-anonymity: a model for protecting privacy. Int J Uncertain Fuzziness Knowl-Based
Syst 2002;10(5):557-570. doi:10.1142/S0218488502001648). k is the clinic setting ``RESEARCH_MIN_CELL_SIZE``, 5 by
default. El Emam K, Dankar FK. Protecting privacy using k-anonymity. J Am Med Inform Assoc 2008;15(5):627-637.
doi:10.1197/jamia.M2716 measure the re-identification risk k-anonymity leaves in health data: when the attacker knows
the patient is in the file (a "prosecutor", as anyone who knows the clinic's patients is), the chance of picking out
their record is at most 1/k; that is the risk this setting chooses (1 in 5 by default).

How: each quasi-identifier has a short ladder of generalisations (``LADDERS``: the exact value, a coarser one,
withheld). Every combination of rungs is tried (global recoding, the same rung for everyone); at each, the
participants whose combination is still shared by fewer than k others of the export lose all four values
(suppression). The combination kept loses the least information: the sum over participants and quasi-identifiers
of the rung's height (a suppressed participant loses every value), ties going to the lower rungs. If the suppressed
participants are themselves fewer than k, they would form a small cell of their own, so they are left out of the
export altogether (``withheld``).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: A participant's quasi-identifiers, in the order of ``NAMES``: protocol, indication, phase, dosing sessions.
QuasiIdentifiers = tuple[str, str, str, int]

NAMES = ("protocol", "indication", "phase", "dosing_sessions")

#: What a withheld value is written as (an empty cell: REDCap reads it as missing).
WITHHELD = ""

IN_TREATMENT = "in_treatment"
ENDED = "ended"
_ENDED_PHASES = frozenset({"completed", "discontinued"})


def phase_group(phase: str) -> str:
    """Preparation, dosing, integration and on hold are all "in treatment"; completed and discontinued "ended"."""
    return ENDED if phase in _ENDED_PHASES else IN_TREATMENT


def dosing_band(count: int) -> str:
    return "0" if count == 0 else "1 to 2" if count <= 2 else "3 or more"


Rung = Callable[[object], str]

#: Each quasi-identifier's generalisations, from the exact value to withheld.
LADDERS: tuple[tuple[Rung, ...], ...] = (
    (str, lambda _: WITHHELD),
    (str, lambda _: WITHHELD),
    (str, lambda value: phase_group(str(value)), lambda _: WITHHELD),
    (str, lambda value: dosing_band(int(str(value))), lambda _: WITHHELD),
)


@dataclass(frozen=True)
class Protected:
    """The values to write per participant (``NAMES`` order), the participants left out, and the rungs chosen."""

    values: dict[int, tuple[str, ...]]
    withheld: frozenset[int]
    rungs: tuple[int, ...]
    suppressed: int

    @property
    def generalised(self) -> tuple[str, ...]:
        """The quasi-identifiers coarsened or withheld for everyone, by name."""
        return tuple(name for name, rung in zip(NAMES, self.rungs, strict=True) if rung > 0)


def _loss(rungs: tuple[int, ...], sizes: Counter[tuple[str, ...]], k: int) -> tuple[float, int, int]:
    """Information lost at ``rungs``: each kept participant's share of each ladder climbed, plus every value of a
    suppressed one (the precision metric); then how many are suppressed, then the rungs' sum (the tie-breakers)."""
    kept_cost = sum(rung / (len(ladder) - 1) for rung, ladder in zip(rungs, LADDERS, strict=True))
    suppressed = sum(size for size in sizes.values() if size < k)
    kept = sum(sizes.values()) - suppressed
    return kept * kept_cost + suppressed * len(LADDERS), suppressed, sum(rungs)


def protect(participants: Mapping[int, QuasiIdentifiers], k: int) -> Protected:
    """The participants' quasi-identifiers made k-anonymous (see the module docstring). Pure; deterministic.

    :raise ValueError: ``k`` below 1.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    ids = sorted(participants)
    best: tuple[tuple[float, int, int], tuple[int, ...], dict[int, tuple[str, ...]]] | None = None
    for rungs in itertools.product(*(range(len(ladder)) for ladder in LADDERS)):
        coded = {
            pid: tuple(
                ladder[rung](value) for ladder, rung, value in zip(LADDERS, rungs, participants[pid], strict=True)
            )
            for pid in ids
        }
        loss = _loss(rungs, Counter(coded.values()), k)
        if best is None or loss < best[0]:
            best = (loss, rungs, coded)
    assert best is not None
    _, rungs, coded = best
    sizes = Counter(coded.values())
    suppressed = {pid for pid in ids if sizes[coded[pid]] < k}
    values = {pid: (WITHHELD,) * len(LADDERS) if pid in suppressed else coded[pid] for pid in ids}
    withheld = frozenset(suppressed) if len(suppressed) < k else frozenset()
    for pid in withheld:
        del values[pid]
    return Protected(values, withheld, rungs, len(suppressed))


def smallest_cell(values: Mapping[int, tuple[str, ...]]) -> int:
    """The size of the smallest group of participants sharing one combination of values (0 for none)."""
    sizes = Counter(values.values())
    return min(sizes.values(), default=0)

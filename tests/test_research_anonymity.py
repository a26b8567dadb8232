"""Small-cell protection of the research export (pure): every combination of quasi-identifiers shown is shared by at
least k participants, nothing is coarsened or withheld that need not be, and the choice is deterministic."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.research.anonymity import WITHHELD, dosing_band, phase_group, protect, smallest_cell

PHASES = ["preparation", "dosing", "integration", "on_hold", "completed", "discontinued"]
participant = st.tuples(
    st.sampled_from(["mdma_ptsd", "psilocybin_mdd", "ketamine_iv_trd"]),
    st.sampled_from(["ptsd", "mdd", "trd"]),
    st.sampled_from(PHASES),
    st.integers(0, 8),
)


def test_a_file_already_k_anonymous_is_left_as_it_is():
    rows = {n: ("mdma_ptsd", "ptsd", "dosing", 1) for n in range(5)}
    protected = protect(rows, 5)
    assert protected.values == {n: ("mdma_ptsd", "ptsd", "dosing", "1") for n in range(5)}
    assert protected.generalised == () and protected.withheld == frozenset() and protected.suppressed == 0


def test_unique_protocol_and_phase_per_patient_is_coarsened_until_cells_hold_k():
    """The demo's shape: each patient alone on their protocol and phase."""
    rows = {
        n: (protocol, indication, phase, dosings)
        for n, (protocol, indication, phase, dosings) in enumerate(
            [
                ("mdma_ptsd", "ptsd", "preparation", 0),
                ("mdma_ptsd", "ptsd", "dosing", 1),
                ("mdma_ptsd", "ptsd", "integration", 2),
                ("mdma_ptsd", "ptsd", "completed", 3),
                ("psilocybin_mdd", "mdd", "preparation", 0),
                ("psilocybin_mdd", "mdd", "dosing", 1),
                ("psilocybin_mdd", "mdd", "integration", 1),
                ("psilocybin_mdd", "mdd", "discontinued", 1),
                ("ketamine_iv_trd", "trd", "dosing", 2),
                ("ketamine_iv_trd", "trd", "on_hold", 2),
            ]
        )
    }
    protected = protect(rows, 3)
    assert smallest_cell(protected.values) >= 3
    assert protected.generalised  # something had to give
    assert len(protected.values) + len(protected.withheld) == len(rows)


def test_fewer_participants_than_k_are_all_withheld():
    protected = protect({1: ("mdma_ptsd", "ptsd", "dosing", 1), 2: ("mdma_ptsd", "ptsd", "dosing", 1)}, 5)
    assert protected.values == {} and protected.withheld == {1, 2}


def test_a_small_suppressed_group_is_withheld_and_a_large_one_kept_blank():
    alike = {n: ("mdma_ptsd", "ptsd", "dosing", 1) for n in range(6)}
    protected = protect({**alike, 100: ("ketamine_iv_trd", "trd", "completed", 7)}, 3)
    assert protected.withheld == {100} and set(protected.values) == set(alike)
    assert protected.generalised == ()


def test_the_ladders():
    assert [phase_group(p) for p in PHASES] == ["in_treatment"] * 4 + ["ended"] * 2
    assert [dosing_band(n) for n in (0, 1, 2, 3, 9)] == ["0", "1 to 2", "1 to 2", "3 or more", "3 or more"]
    with pytest.raises(ValueError):
        protect({}, 0)


@given(st.dictionaries(st.integers(1, 10_000), participant, max_size=40), st.integers(2, 6))
def test_every_combination_shown_is_shared_by_at_least_k(rows, k):
    protected = protect(rows, k)
    assert set(protected.values) | protected.withheld == set(rows)
    assert not set(protected.values) & protected.withheld
    sizes = Counter(protected.values.values())
    assert all(size >= k for size in sizes.values()), sizes
    blank = (WITHHELD,) * 4
    assert protected.suppressed <= sizes.get(blank, 0) + len(protected.withheld)  # blank also by generalising all
    if len(rows) >= k:
        assert len(protected.withheld) < k  # a group of k or more is kept, blank
    assert protect(rows, k) == protected  # deterministic

"""Whether an adverse event is serious: the one rule every reader uses.

The seriousness that stands is the newest signed correction's, else the one recorded with the event
(``AdverseEvent.serious_now``: a column loaded with the row, and usable in queries). The session page and the
record and summary PDFs (through ``serious_now``), the dashboard's queue and the clinic overview's counts (``SERIOUS``),
the FHIR export and the safety alert page (``is_serious``) read it here, never ``AdverseEvent.serious``, which keeps
what the signed note said. Corrections are signed by ``tracker.notes.addenda``.

Serious in the regulatory sense: death, a threat to life, hospitalisation, lasting disability or incapacity, a
congenital anomaly, or an important medical event (ICH E2A, Clinical Safety Data Management: Definitions and
Standards for Expedited Reporting, 1994).
"""

from __future__ import annotations

from tracker.models import AdverseEvent

#: The standing seriousness in a query (a correlated subquery on ``adverse_event``).
SERIOUS = AdverseEvent.serious_now


def is_serious(event: AdverseEvent) -> bool:
    """The seriousness that stands for ``event``: its newest correction's, else the recorded one."""
    return bool(event.serious_now)


def label(serious: bool) -> str:
    return "serious" if serious else "not serious"

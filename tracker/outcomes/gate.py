"""The baseline part of the dosing gate: a guard on preparation -> dosing (registered with the workflow when this
module is imported, like ``tracker.screening.gate``).

The protocol's measures due at baseline must each have a current result dated on or before the day of the move,
and recent enough (``MEASURE_BASELINE_MAX_AGE_DAYS``, a clinic setting), or the move is refused naming each one.
Later dosing cycles do not ask again: the baseline is what came before the first dosing session.
"""

from __future__ import annotations

# Imported first so the screening gate registers its guards before this one: a refused move lists the screening's
# reasons, then the missing baselines, whichever package is imported first.
import tracker.screening.gate  # noqa: F401  isort: skip
from tracker.models import Phase
from tracker.models.base import utcnow
from tracker.outcomes.queries import current_results, results_of, schedule_settings
from tracker.schedule import Dated, baseline_problems
from tracker.workflow import GuardContext, guard


@guard(Phase.PREPARATION, Phase.DOSING)
def baseline_measures_recorded(ctx: GuardContext) -> list[str]:
    if ctx.protocol is None:
        return []  # the screening gate already refuses: the protocol is not known
    current = current_results(results_of(ctx.session, ctx.patient.id))
    dated = [Dated(r.id, r.instrument, r.administered_on) for r in current]
    return baseline_problems(ctx.protocol.measures, dated, (ctx.now or utcnow()).date(), schedule_settings())

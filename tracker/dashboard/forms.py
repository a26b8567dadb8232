"""The dashboard's filters, validated like any form: an unknown therapist, phase, protocol, kind or sort is
refused with a message next to that filter (400), never a 500 or a silently ignored filter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from wtforms import SelectChoice, SelectField
from wtforms.validators import Optional

from tracker.attention import RULES, THERAPIST_RULES, Kind, Rule
from tracker.dashboard.queries import SORTS, Filters
from tracker.models import Phase
from tracker.pages import PageArgs
from tracker.protocols import Protocol

ALL = SelectChoice("", "All")


class DayArgs(PageArgs):
    """The query string of ``/today``: a kind among the therapist's rules, and the page."""

    rules: tuple[Rule, ...] = THERAPIST_RULES

    kind = SelectField(
        "Kind of item", validators=[Optional()], default="", invalid_choice_message="Choose one of the listed kinds."
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [ALL, *(SelectChoice(rule.kind.value, rule.label) for rule in self.rules)]

    @property
    def chosen_kind(self) -> Kind | None:
        return Kind(self.kind.data) if self.kind.data else None


class DashboardArgs(DayArgs):
    """The query string of ``/dashboard``. Choices are set per request: the therapists are the supervisor's."""

    rules = RULES

    therapist = SelectField(
        "Therapist",
        validators=[Optional()],
        default="",
        invalid_choice_message="Choose one of the therapists you supervise.",
    )
    phase = SelectField("Phase", validators=[Optional()], default="", invalid_choice_message="Choose a phase.")
    protocol = SelectField(
        "Protocol", validators=[Optional()], default="", invalid_choice_message="Choose one of the protocols."
    )
    sort = SelectField(
        "Sort", validators=[Optional()], default="urgency", invalid_choice_message="Choose one of the orders."
    )

    def set_choices(self, therapists: Sequence[tuple[int, str]], protocols: Mapping[str, Protocol]) -> None:
        self.therapist.choices = [ALL, *(SelectChoice(str(i), name) for i, name in therapists)]
        self.phase.choices = [ALL, *(SelectChoice(p.value, p.label) for p in Phase)]
        self.protocol.choices = [
            ALL,
            *(SelectChoice(p.code, p.name) for p in sorted(protocols.values(), key=lambda p: p.name)),
        ]
        self.sort.choices = [SelectChoice(key, label) for key, label in SORTS.items()]

    def filters(self) -> Filters:
        return Filters(
            therapist_id=int(self.therapist.data) if self.therapist.data else None,
            phase=Phase(self.phase.data) if self.phase.data else None,
            protocol=self.protocol.data or None,
            kind=self.chosen_kind,
            sort=self.sort.data or "urgency",
        )

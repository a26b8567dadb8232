"""Per instrument: the chart of a patient's results over time and the change from baseline, stated as the sources
define it (``tracker.instruments.change``: PCL-5 reliable and clinically meaningful change; MADRS, PHQ-9 and
QIDS-SR16 response and remission; an instrument whose sources give no rule gets the difference only, and says so).

Baseline is the newest result on or before the first dosing day (the schedule's baseline, ``tracker.schedule``); the
change is read from it to the newest result after that day. No database access: the rows come in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

from tracker.charts import Band, Chart, Point, trend_svg
from tracker.instruments import ChangeResult, Instrument, change, get_instrument, instruments
from tracker.models import MeasureResult


@dataclass(frozen=True)
class Trend:
    instrument: Instrument
    #: Current results, oldest first.
    results: list[MeasureResult]
    chart: Markup | None
    baseline: MeasureResult | None
    latest: MeasureResult | None
    #: Sentences for the page (and the chart's description), plain words with the rule and its source.
    change: list[str]


def point_text(result: MeasureResult) -> str:
    return f"{result.total}, {result.band}" if result.total is not None else result.band


def _chart(instrument: Instrument, results: Sequence[MeasureResult], dosing: Sequence[date], summary: str) -> Markup:
    name = instrument.short_name
    if instrument.total_range is None:  # C-SSRS: the risk level is what changes over time
        bands = [Band(i, i, band.label) for i, band in enumerate(instrument.bands)]
        points = [Point(r.administered_on, r.band_index, point_text(r)) for r in results]
        low, high, ticks, label = -0.5, len(bands) - 0.5, [], "Risk level"
    else:
        low, high = instrument.total_range
        bands = [
            Band(b.min if b.min is not None else low, b.max if b.max is not None else high, b.label)
            for b in instrument.bands
        ]
        points = [Point(r.administered_on, r.total or 0, point_text(r)) for r in results]
        ticks = sorted({(b.low, str(int(b.low))) for b in bands} | {(high, str(high))})
        label = f"{name} total"
    first, last = results[0], results[-1]
    described = (
        f"{len(results)} {name} result{'s' if len(results) != 1 else ''} from {first.administered_on.isoformat()} "
        f"to {last.administered_on.isoformat()}: {point_text(first)} first, {point_text(last)} latest. "
    )
    if dosing:
        described += "Dosing sessions on " + ", ".join(d.isoformat() for d in dosing) + ". "
    return trend_svg(
        Chart(
            id=f"trend-{instrument.code}",
            title=f"{name} over time",
            description=described + summary,
            points=points,
            bands=bands,
            y_min=low,
            y_max=high,
            ticks=ticks,
            dosing=dosing,
            y_label=label,
        )
    )


def _yes(value: bool | None) -> str:
    return "yes" if value else "no"


def change_sentences(instrument: Instrument, baseline: MeasureResult, latest: MeasureResult) -> list[str]:
    """The change from ``baseline`` to ``latest`` in words, with each rule the sources give for the instrument.

    :raise ScoringError: the instrument has no total (the caller only asks for those that have one).
    """
    assert baseline.total is not None and latest.total is not None
    read: ChangeResult = change(instrument.code, baseline.total, latest.total)
    name, difference = instrument.short_name, read.difference
    moved = (
        "no change"
        if difference == 0
        else f"{abs(difference)} point{'s' if abs(difference) != 1 else ''} "
        + ("lower" if difference < 0 else "higher")
    )
    sentences = [
        f"{name} {baseline.total} at baseline ({baseline.administered_on.isoformat()}), {latest.total} on "
        f"{latest.administered_on.isoformat()}: {moved}."
    ]
    rules = instrument.change_rules
    if rules is None:
        sentences.append(
            f"The sources give no response, remission or meaningful-change rule for {name}, so only the difference "
            "is stated."
        )
        return sentences
    if read.reliable is not None:
        sentences.append(
            f"Reliable change (at least {rules.reliable_change} points either way): {_yes(read.reliable)}."
        )
    if read.clinically_meaningful is not None:
        direction = "" if not read.clinically_meaningful else (" (better)" if difference < 0 else " (worse)")
        sentences.append(
            f"Clinically meaningful change (at least {rules.clinically_meaningful_change} points): "
            f"{_yes(read.clinically_meaningful)}{direction}."
        )
    if rules.response_percent_drop is not None:
        if read.response is None:
            sentences.append("Response: not defined for a baseline of 0.")
        else:
            sentences.append(
                f"Response (a drop of at least {rules.response_percent_drop}% from baseline): {_yes(read.response)}."
            )
    if read.remission is not None:
        needs = f"a drop of at least {rules.response_percent_drop}% and " if rules.remission_requires_response else ""
        sentences.append(f"Remission ({needs}{rules.remission_at_or_below} or below): {_yes(read.remission)}.")
    sentences.append(f"Source: {rules.source}.")
    return sentences


def _trend(instrument: Instrument, results: list[MeasureResult], dosing: Sequence[date]) -> Trend:
    if not results:
        return Trend(instrument, [], None, None, None, [])
    first_dosing = dosing[0] if dosing else None
    before = [r for r in results if first_dosing is not None and r.administered_on <= first_dosing]
    after = [r for r in results if first_dosing is not None and r.administered_on > first_dosing]
    baseline, latest = (before[-1] if before else None), (after[-1] if after else None)
    diagnosis = instrument.diagnosis
    if instrument.total_range is None:
        sentences = [f"{instrument.short_name} has no total; the chart shows the risk level at each administration."]
    elif diagnosis is not None and diagnosis.percent_of_maximum is not None:
        # A measure of the session itself (MEQ-30), read by its classification, not as a change from baseline.
        newest = results[-1]
        sentences = [
            f"{instrument.short_name} of {newest.administered_on.isoformat()}: {newest.total} of "
            f"{instrument.total_range[1]}; {diagnosis.label}: {'met' if newest.provisional_diagnosis else 'not met'} "
            f"({diagnosis.percent_of_maximum}% of the maximum on every factor; {diagnosis.source})."
        ]
    elif first_dosing is None:
        sentences = ["The change from baseline is stated once there is a result after the first dosing session."]
    elif baseline is None:
        sentences = [f"No {instrument.short_name} result before the first dosing session, so no baseline to compare."]
    elif latest is None:
        sentences = [f"No {instrument.short_name} result since the first dosing session yet."]
    else:
        sentences = change_sentences(instrument, baseline, latest)
    return Trend(
        instrument, results, _chart(instrument, results, dosing, " ".join(sentences)), baseline, latest, sentences
    )


def trends(planned: Sequence[str], current: Sequence[MeasureResult], dosing: Sequence[date]) -> list[Trend]:
    """One trend per instrument the protocol plans (even without results yet), then any other instrument with
    results, in the catalogue's order."""
    codes = list(dict.fromkeys(planned))
    codes += [code for code in instruments() if code not in codes and any(r.instrument == code for r in current)]
    found = []
    for code in codes:
        results = sorted((r for r in current if r.instrument == code), key=lambda r: (r.administered_on, r.id))
        found.append(_trend(get_instrument(code), results, dosing))
    return found

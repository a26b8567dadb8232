"""The hand-written SVG trend chart: it parses, has one point per result and one marker per dosing session,
fetches nothing, carries no inline style (CSP), escapes every text, and speaks to screen readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tracker.charts import Band, Bar, Chart, Point, bar_svg, trend_svg

SVG = "{http://www.w3.org/2000/svg}"
PHQ9_BANDS = [
    Band(0, 4, "minimal"),
    Band(5, 9, "mild"),
    Band(10, 14, "moderate"),
    Band(15, 19, "moderately severe"),
    Band(20, 27, "severe"),
]
START = date(2026, 1, 5)


def chart(totals=(), dosing=(), **overrides) -> Chart:
    """A PHQ-9 chart of ``totals`` two weeks apart (or of the ``points`` given)."""
    values = {
        "id": "phq9",
        "title": "PHQ-9 over time",
        "description": "Totals fell from 18 to 7.",
        "points": [Point(START + timedelta(days=14 * i), v, f"{v}") for i, v in enumerate(totals)],
        "bands": PHQ9_BANDS,
        "y_min": 0,
        "y_max": 27,
        "ticks": [(0, "0"), (5, "5"), (10, "10"), (15, "15"), (20, "20"), (27, "27")],
        "dosing": list(dosing),
    }
    values.update(overrides)
    return Chart(**values)


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own output, and that it parses is the test


def by_class(root: ET.Element, tag: str, css: str) -> list[ET.Element]:
    return [e for e in root.iter(SVG + tag) if css in (e.get("class") or "").split()]


def test_it_parses_with_one_point_per_result_and_one_marker_per_dosing_session():
    dosing = [START + timedelta(days=20), START + timedelta(days=48)]
    root = parse(trend_svg(chart([18, 15, 12, 9, 7], dosing)))
    assert root.tag == SVG + "svg"
    assert len(by_class(root, "circle", "point")) == 5
    markers = by_class(root, "g", "dosing")
    assert len(markers) == 2
    assert [m.find(SVG + "title").text for m in markers] == [
        "Dosing session 1: 2026-01-25",
        "Dosing session 2: 2026-02-22",
    ]
    assert [m.find(SVG + "text").text for m in markers] == ["D1", "D2"]
    line = by_class(root, "polyline", "line")
    assert len(line) == 1 and len(line[0].get("points").split()) == 5
    assert len(by_class(root, "rect", "band")) == 5


def test_points_are_placed_by_date_and_value():
    root = parse(trend_svg(chart([20, 5, 10])))
    circles = by_class(root, "circle", "point")
    xs = [float(c.get("cx")) for c in circles]
    ys = [float(c.get("cy")) for c in circles]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert ys[0] < ys[2] < ys[1]  # higher totals are drawn higher up (smaller y)
    assert [c.find(SVG + "title").text for c in circles] == ["2026-01-05: 20", "2026-01-19: 5", "2026-02-02: 10"]


def test_it_has_a_title_and_description_for_screen_readers():
    root = parse(trend_svg(chart([10])))
    assert root.get("role") == "img"
    title, desc = root.find(SVG + "title"), root.find(SVG + "desc")
    assert title.text == "PHQ-9 over time" and desc.text == "Totals fell from 18 to 7."
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def test_it_references_nothing_outside_itself_and_has_no_inline_style():
    markup = str(trend_svg(chart([18, 7], [START + timedelta(days=3)])))
    root = parse(markup)
    for element in root.iter():
        assert element.tag.split("}")[1] not in {"image", "use", "script", "foreignObject", "style", "a"}
        for name, value in element.attrib.items():
            assert "href" not in name and name != "style", (element.tag, name)
            assert "http" not in value and "url(" not in value, (element.tag, name, value)
    # The namespace declaration is the only URL in the markup, and it is a name, not a fetch.
    assert markup.count("http") == 1 and 'xmlns="http://www.w3.org/2000/svg"' in markup


def test_every_text_is_escaped():
    hostile = '<script>alert("x")</script> & </svg>'
    points = [Point(START, 3, hostile)]
    markup = trend_svg(
        chart(
            title=hostile,
            description=hostile,
            points=points,
            bands=[Band(0, 27, hostile)],
            y_label=hostile,
            ticks=[(0, hostile)],
            id='"><x',
        )
    )
    root = parse(markup)  # still well-formed
    assert "<script" not in markup and root.find(SVG + "script") is None
    assert root.find(SVG + "title").text == hostile
    assert all(not e.tag.endswith("x") for e in root.iter())


def test_an_empty_or_single_point_chart_still_draws():
    for totals in ([], [12]):
        root = parse(trend_svg(chart(totals)))
        assert len(by_class(root, "circle", "point")) == len(totals)
        assert by_class(root, "polyline", "line") == []


def test_a_risk_level_chart_without_totals():
    """C-SSRS has no total: the chart plots the risk level, one band per level."""
    levels = ["no risk", "low risk", "moderate risk", "high risk"]
    root = parse(
        trend_svg(
            chart(
                [0, 2, 1],
                bands=[Band(i, i, label) for i, label in enumerate(levels)],
                y_min=-0.5,
                y_max=3.5,
                ticks=[],
                y_label="Risk level",
            )
        )
    )
    labels = [" ".join(t.itertext()) for t in root.iter(SVG + "text")]
    assert all(level in labels for level in levels)


def test_long_band_labels_wrap_beside_the_plot():
    root = parse(
        trend_svg(
            chart(
                [40],
                bands=[Band(0, 32, "below provisional cut-point"), Band(33, 80, "at or above provisional cut-point")],
                y_max=80,
            )
        )
    )
    label = next(t for t in root.iter(SVG + "text") if "at or above" in " ".join(t.itertext()))
    assert [span.text for span in label.iter(SVG + "tspan")] == ["at or above provisional", "cut-point"]
    assert float(label.get("x")) > max(float(c.get("cx")) for c in by_class(root, "circle", "point"))


@given(
    values=st.lists(st.integers(0, 27), max_size=30),
    gaps=st.lists(st.integers(0, 400), max_size=30),
    dosing=st.lists(st.integers(-50, 500), max_size=10),
)
def test_any_data_gives_a_well_formed_chart_inside_its_box(values, gaps, dosing):
    days = [START + timedelta(days=sum(gaps[: i + 1])) for i in range(min(len(values), len(gaps)))]
    points = [Point(on, v, str(v)) for on, v in zip(days, values, strict=False)]
    root = parse(trend_svg(chart(points=points, dosing=[START + timedelta(days=d) for d in dosing])))
    circles = by_class(root, "circle", "point")
    assert len(circles) == len(points)
    assert len(by_class(root, "g", "dosing")) == len(dosing)
    for circle in circles:
        assert 0 <= float(circle.get("cx")) <= 720 and 0 <= float(circle.get("cy")) <= 260


# Bar charts (the clinic overview) --------------------------------------------------------------------------------


def test_bar_charts_scale_bars_label_them_and_escape_every_text():
    hostile = '<script>alert("x")</script> & </svg>'
    markup = bar_svg(
        '"><x',
        hostile,
        hostile,
        [Bar(hostile, 50, hostile), Bar("Full", 100, "100%")],
        maximum=100,
        width=500,
        label_width=200,
    )
    root = parse(markup)
    assert "<script" not in markup and root.get("role") == "img"
    assert root.find(SVG + "title").text == hostile
    widths = [float(rect.get("width")) for rect in root.iter(SVG + "rect")]
    assert widths == [90, 180]  # 500 - 200 labels - 120 values = 180 for 100%
    assert all(not e.tag.endswith("x") for e in root.iter())
    for element in root.iter():
        assert "style" not in element.attrib and not any("href" in name for name in element.attrib)


def test_a_bar_chart_of_zeros_draws_empty_bars():
    root = parse(bar_svg("zeros", "None yet", "Nothing recorded.", [Bar("Mild", 0, "0")]))
    assert [rect.get("width") for rect in root.iter(SVG + "rect")] == ["0"]

"""``LongSelect`` writes the same HTML as WTForms' ``Select``, only faster (the audit trail's filter lists every
person of the clinic)."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectChoice, SelectField

from tracker.validators import LongSelect

CHOICES = [
    SelectChoice(0, "Anyone"),
    SelectChoice(7, 'Dr. <O\'Brien> & "Partners"'),
    SelectChoice(8, ""),
    SelectChoice(9, "Away", render_kw={"disabled": True}),
    *[SelectChoice(n, f"Person {n}") for n in range(10, 40)],
]


class Usual(Form):
    user = SelectField("User", coerce=int)


class Long(Form):
    user = SelectField("User", coerce=int, widget=LongSelect())


def rendered(form_class: type[Form], chosen: str) -> str:
    form = form_class(MultiDict({"user": chosen}))
    form.user.choices = CHOICES
    form.validate()
    return str(form.user(class_="form-select", **{"aria-invalid": False}))


def test_the_long_select_writes_what_wtforms_select_writes() -> None:
    for chosen in ("7", "9", "0", "12"):
        assert rendered(Long, chosen) == rendered(Usual, chosen)


def test_labels_and_values_are_escaped() -> None:
    html = rendered(Long, "7")
    assert "<O'Brien>" not in html and "&lt;O&#39;Brien&gt; &amp; &#34;Partners&#34;" in html
    assert '<option selected value="7">' in html

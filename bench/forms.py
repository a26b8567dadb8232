"""The forms of an HTML page, read as a browser would submit them: what the load benchmark's simulated clinicians
(``bench/locustfile.py``) post back, CSRF token included."""

from __future__ import annotations

import urllib.parse
from html.parser import HTMLParser


class Forms(HTMLParser):
    """The forms of a page: each form's action and its fields' current values (a radio group or select that has
    nothing chosen gets its first option, so a measure form comes back answered with the first option)."""

    def __init__(self, html: str, path: str = "") -> None:
        super().__init__(convert_charrefs=True)
        self.path = path  # where a form without an action posts
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._radios: dict[str, str] = {}
        self._checked: set[str] = set()
        self._select: str | None = None
        self._select_value: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), []))
            self._radios, self._checked = {}, set()
        elif not self.forms:
            return
        fields = self.forms[-1][1]
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind == "radio":
                if "checked" in a:
                    self._checked.add(name)
                    fields[:] = [(n, v) for n, v in fields if n != name]
                    fields.append((name, a.get("value", "")))
                elif name not in self._radios and name not in self._checked:
                    self._radios[name] = a.get("value", "")
                    fields.append((name, a.get("value", "")))
            elif kind == "checkbox":
                if "checked" in a:
                    fields.append((name, a.get("value", "y")))
            elif kind not in ("submit", "button", "file"):
                fields.append((name, a.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []
        elif tag == "select" and name:
            self._select, self._select_value = name, None
        elif tag == "option" and self._select is not None and (self._select_value is None or "selected" in a):
            self._select_value = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea is not None and self.forms:
            self.forms[-1][1].append((self._textarea, "".join(self._text).lstrip("\n")))
            self._textarea = None
        elif tag == "select" and self._select is not None and self.forms:
            self.forms[-1][1].append((self._select, self._select_value or ""))
            self._select = None

    def find(self, action_ending: str) -> dict[str, str]:
        for action, fields in self.forms:
            if (urllib.parse.urlsplit(action).path or self.path).endswith(action_ending):
                return dict(fields)
        raise LookupError(f"no form posting to ...{action_ending}")

"""URL converters: ids in URLs are bounded to what the database's integer columns hold.

Werkzeug's ``int`` converter takes any number of digits; an id past the column's range made SQLite raise
OverflowError and PostgreSQL "integer out of range", a 500 instead of the 404 of any unknown id.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

#: The largest value of a 32-bit signed INTEGER column (PostgreSQL's ``integer``, what every id here is).
MAX_ID = 2**31 - 1


class DatabaseId(IntegerConverter):
    """``int`` in URLs, at most ``MAX_ID`` unless the rule says otherwise: a larger number does not match (404)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = DatabaseId

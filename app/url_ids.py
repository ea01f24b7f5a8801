"""URL segments that name a database row: ``<int:...>`` matches 0 to 2**31 - 1 only.

Werkzeug's own ``int`` matches any number of digits, and a number beyond the id column's range then
reached the database (PostgreSQL: "integer out of range"; SQLite past 2**63: "Python int too large to
convert to SQLite INTEGER") and came back as a 500. No row has such an id, so such a URL is simply not
found: a 404 like any other unknown id."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

LARGEST_ID = 2**31 - 1  # the models' ids are INTEGER, which PostgreSQL stores in 32 bits


class RowId(IntegerConverter):
    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 (werkzeug's parameter name)
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(map, *args, **kwargs)


def bound_row_ids(app) -> None:
    """Make ``<int:...>`` a ``RowId`` in every route added after this call."""
    app.url_map.converters["int"] = RowId

"""New rows a command writes at its very end, in Core: work items, notifications and jobs.

Every command adds some of these. Through the ORM each costs a unit-of-work flush (several times the cost
of its INSERT, measured with ``bench/profile_commands.py``), and in an optimistic command it would take
the database's write lock early. Queued instead (``CommandContext.add_later`` / ``insert_later``), they
are inserted after the command's own writes, rows of one table in one ``executemany``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.orm.attributes import set_committed_value


@dataclass(frozen=True)
class IdOf:
    """A column value known only once ``row`` (an object queued before) has been inserted: its id."""

    row: Any


@dataclass
class LateRow:
    table: Table
    values: dict[str, Any]
    obj: Any = None  # a new ORM object, not in the session, that gets the new row's id


_INSERTS: dict[tuple[str, bool], Any] = {}  # one statement per table, built once


def _insert(table: Table, returning: bool) -> Any:
    key = (table.name, returning)
    if key not in _INSERTS:
        _INSERTS[key] = insert(table).returning(table.c.id) if returning else insert(table)
    return _INSERTS[key]


def insert_rows(connection: Connection, rows: list[LateRow]) -> None:
    """Insert the rows in their order; rows with an object one by one (RETURNING its id), the others of
    one table together."""
    batch: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        values = {k: v.row.id if isinstance(v, IdOf) else v for k, v in row.values.items()}
        if row.obj is not None:
            new_id = connection.execute(_insert(row.table, True), values).scalar_one()
            set_committed_value(row.obj, "id", new_id)
            continue
        batch.append(values)
        following = rows[index + 1] if index + 1 < len(rows) else None
        if following is None or following.table is not row.table or following.obj is not None:
            connection.execute(_insert(row.table, False), batch)
            batch = []

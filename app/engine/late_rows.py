"""The rows every command writes, written at its very end in Core rather than by the ORM's unit of work.

- New rows (work items, notifications, jobs): queued with ``CommandContext.add_later`` / ``insert_later``
  and inserted after the command's own writes, rows of one table in one ``executemany``.
- Changed rows of the consignment, its work items and its jobs (``write_changes``): the columns the
  command changed on the loaded objects, one UPDATE per table and set of columns (``executemany``), with
  the same revision check the ORM makes for work items (``WHERE state = <the state read>``); the objects
  are then clean, so the ORM's flush has nothing left to do for them.

Through the ORM each of these costs a unit-of-work flush, several times the cost of the statement itself
(measured with ``bench/profile_commands.py``); in an optimistic command a new row would also take the
database's write lock early.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import NO_VALUE, set_committed_value
from sqlalchemy.orm.exc import StaleDataError


@dataclass(frozen=True)
class IdOf:
    """A column value known only once ``row`` (an object queued before) has been inserted: its id."""

    row: Any


@dataclass
class LateRow:
    table: Table
    values: dict[str, Any]
    obj: Any = None  # a new ORM object, not in the session, that gets the new row's id


def column_values(obj: Any) -> dict[str, Any]:
    """The columns set on a new ORM object, as an INSERT's values."""
    state = inspect(obj)
    columns = state.mapper.columns
    return {key: value for key, value in state.dict.items() if key in columns}


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


_UPDATES: dict[tuple, Any] = {}  # one statement per (table, columns, version column), built once


def _update(table: Table, columns: tuple[str, ...], version: str | None) -> Any:
    key = (table.name, columns, version)
    if key not in _UPDATES:
        statement = update(table).where(table.c.id == bindparam("_id"))
        if version is not None:
            statement = statement.where(table.c[version] == bindparam("_version"))
        _UPDATES[key] = statement.values({name: bindparam(name) for name in columns})
    return _UPDATES[key]


def write_changes(session: Session, connection: Connection, classes: tuple[type, ...]) -> None:
    """Write the changed columns of every changed object of ``classes`` in the session in Core, and mark
    them written; objects of one table with the same changed columns in one ``executemany``. Like the
    ORM's flush, only values that differ from the ones loaded are written (an attribute set to the value
    it had, or never loaded, is left to the ORM, which then finds nothing to write either). A
    version-checked row (the mapper's ``version_id_col``) that changed under the command raises
    ``StaleDataError``, exactly as the ORM's flush would."""
    batches: dict[tuple, list[tuple[Any, dict[str, Any], dict[str, Any]]]] = {}
    for obj in [o for o in session.dirty if isinstance(o, classes)]:
        state = inspect(obj)
        mapper = state.mapper
        before = state.committed_state  # the value each changed attribute had when loaded
        changed = {
            key: state.dict[key]
            for key in before
            if key in mapper.columns and before[key] is not NO_VALUE and before[key] != state.dict[key]
        }
        if not changed or obj.id is None:
            continue
        version_column = mapper.version_id_col
        version = version_column.key if version_column is not None else None
        params = {**changed, "_id": obj.id}
        if version is not None:
            read = before.get(version, state.dict.get(version, NO_VALUE))
            if read is NO_VALUE:
                continue  # the state read is not known here: the ORM's flush checks it
            params["_version"] = read
        key = (mapper.local_table, tuple(sorted(changed)), version)
        batches.setdefault(key, []).append((obj, changed, params))
    counted = connection.dialect.supports_sane_multi_rowcount
    for (table, names, version), rows in batches.items():
        statement = _update(table, names, version)
        if counted or len(rows) == 1:
            result = connection.execute(statement, [params for _, _, params in rows])
            matched = result.rowcount
        else:
            matched = sum(connection.execute(statement, params).rowcount for _, _, params in rows)
        if matched != len(rows):
            raise StaleDataError(f"{table.name}: {len(rows) - matched} row(s) changed under the command")
        for obj, changed, _ in rows:
            for key, value in changed.items():
                set_committed_value(obj, key, value)

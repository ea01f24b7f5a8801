"""Database engine and session factory: SQLite (WAL) by default, PostgreSQL with the same code."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

# ``write_transaction`` execution option: True takes SQLite's write lock when the transaction begins;
# LOCK_AT_FIRST_WRITE reads first and takes it only right before the first INSERT/UPDATE/DELETE.
LOCK_AT_FIRST_WRITE = "at_first_write"
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def compact_json(value: object) -> str:
    """JSON columns as stored: no spaces after separators, non-ASCII text (Vietnamese) as UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine tuned for the portal's transaction pattern on either backend."""
    kwargs.setdefault("json_serializer", compact_json)
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        # Let SQLAlchemy's "begin" event decide how a transaction starts (deferred or immediate).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        mode = conn.get_execution_options().get("write_transaction")
        if mode == LOCK_AT_FIRST_WRITE:
            # Read from a snapshot without the write lock; _on_statement takes it at the first write.
            conn.info["write_lock_pending"] = True
            conn.exec_driver_sql("BEGIN")
        elif mode:
            # Take the write lock up front so two writers never deadlock on lock upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def _on_statement(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if conn.info.get("write_lock_pending") and statement.lstrip()[:7].upper().startswith(WRITES):
            # The first write of a lock-late transaction: leave the read snapshot and queue for the
            # write lock. What was read before is checked by the writes themselves (revision columns).
            conn.info["write_lock_pending"] = False
            cursor.execute("COMMIT")
            cursor.execute("BEGIN IMMEDIATE")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn):  # noqa: ANN001
        conn.info.pop("write_lock_pending", None)


def is_sqlite(engine: Engine) -> bool:
    """Tell whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


class Database:
    """Hold the engine plus the session factories: for commands (writes) and for queries.

    ``write_session`` holds the write lock for the whole transaction (on SQLite, from BEGIN IMMEDIATE);
    ``late_lock_session`` reads without it and takes it at the first write, for commands whose reads are
    re-checked when they write (the process instance's revision). On PostgreSQL both are the same.
    """

    def __init__(self, url: str, **engine_kwargs: object) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.write_engine = self.engine.execution_options(write_transaction=True)
        self.write_session = sessionmaker(self.write_engine, expire_on_commit=False)
        self.late_lock_session = sessionmaker(
            self.engine.execution_options(write_transaction=LOCK_AT_FIRST_WRITE), expire_on_commit=False
        )
        self.read_session = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        """Open a read session (queries only)."""
        return self.read_session()

    def dispose(self) -> None:
        self.engine.dispose()

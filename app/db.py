"""Database engine and session factory: SQLite (WAL) by default, PostgreSQL with the same code."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

# ``write_transaction`` execution option: True takes the write lock when the transaction begins;
# LOCK_AT_FIRST_WRITE reads first and takes it only right before the first INSERT/UPDATE/DELETE.
# On SQLite the write lock is the database's own (BEGIN IMMEDIATE); on PostgreSQL it is the portal's
# advisory lock below, held to the end of the transaction, so commands' writes take turns there exactly as
# they do on SQLite while their reads and CPU work overlap.
LOCK_AT_FIRST_WRITE = "at_first_write"
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
LOCK_WAIT_MS = 30_000
POSTGRES_WRITE_LOCK = 0x434C5752  # "CLWR"
_TAKE_POSTGRES_WRITE_LOCK = f"SELECT pg_advisory_xact_lock({POSTGRES_WRITE_LOCK})"


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
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": LOCK_WAIT_MS / 1000}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql"):
        # Waiting for a lock gives up after 30 s, as SQLite's busy timeout does, instead of forever.
        kwargs.setdefault("connect_args", {"options": f"-c lock_timeout={LOCK_WAIT_MS}"})
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)
    if engine.dialect.name == "postgresql":
        _configure_postgresql(engine)
    return engine


def _configure_postgresql(engine: Engine) -> None:
    """Commands' writes take turns on PostgreSQL as on SQLite (see ``LOCK_AT_FIRST_WRITE``).

    Why one lock and not only the revision columns: the audit trail is one hash chain, so every command
    queues at its end anyway; a pessimistic command (stalled-consignment scan, deploy, PKI) decides from
    reads that no revision column guards, and must see what the command before it wrote; and one lock
    taken before any row lock leaves no order in which two commands could deadlock."""

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        mode = conn.get_execution_options().get("write_transaction")
        if mode == LOCK_AT_FIRST_WRITE:
            conn.info["write_lock_pending"] = True
        elif mode:
            conn.info["write_lock_pending"] = False
            conn.exec_driver_sql(_TAKE_POSTGRES_WRITE_LOCK)

    @event.listens_for(engine, "before_cursor_execute")
    def _on_statement(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if conn.info.get("write_lock_pending") and _takes_row_locks(statement):
            conn.info["write_lock_pending"] = False
            cursor.execute(_TAKE_POSTGRES_WRITE_LOCK)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn):  # noqa: ANN001
        conn.info.pop("write_lock_pending", None)


def _takes_row_locks(statement: str) -> bool:
    """A write, or a read that locks rows (``FOR UPDATE``): the write lock must come before either."""
    return statement.lstrip()[:7].upper().startswith(WRITES) or " FOR UPDATE" in statement


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
        if conn.info.get("write_lock_pending") and _takes_row_locks(statement):
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

    ``write_session`` holds the write lock for the whole transaction (on SQLite from BEGIN IMMEDIATE, on
    PostgreSQL the portal's advisory lock); ``late_lock_session`` reads without it and takes it at the
    first write, for commands whose reads are re-checked when they write (the process instance's
    revision).
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

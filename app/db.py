"""Database engine and session factory: SQLite (WAL) by default, PostgreSQL with the same code."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

# ``write_transaction`` execution option: True takes the write lock when the transaction begins;
# LOCK_AT_FIRST_WRITE reads first and takes it only right before the first INSERT/UPDATE/DELETE.
# On SQLite the write lock is the database's own (BEGIN IMMEDIATE). On PostgreSQL, True takes the portal's
# advisory lock below, held to the end of the transaction; LOCK_AT_FIRST_WRITE takes nothing (row locks
# and revision checks guard those writes, see ``_configure_postgresql``).
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
    """Pessimistic commands take turns on PostgreSQL as on SQLite; optimistic ones do not wait for them.

    A session opened with ``write_transaction=True`` takes the portal's advisory lock when it begins, before
    any read: a pessimistic command (stalled-consignment scan, deploy, claiming jobs, PKI) decides from
    reads that no revision column guards, so it must see what the one before it wrote. An optimistic
    command (``LOCK_AT_FIRST_WRITE``) never takes it: its decisions rest on rows its revision-checked writes
    and row locks guard, and a lost race runs it again pessimistically. Serializing their writes too, as
    SQLite must, cost 18 % of PostgreSQL's throughput in bench/throughput.py. No deadlock through the lock:
    a holder took it before any row lock, and a session that holds row locks without it never waits for it.
    """

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        if conn.get_execution_options().get("write_transaction") is True:
            conn.exec_driver_sql(_TAKE_POSTGRES_WRITE_LOCK)


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

    ``write_session`` holds the write lock for the whole transaction (on SQLite from BEGIN IMMEDIATE, on
    PostgreSQL the portal's advisory lock); ``late_lock_session`` is for commands whose reads are
    re-checked when they write (the process instance's revision): it reads without the lock and, on
    SQLite, takes it at the first write; on PostgreSQL its row locks are enough.
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

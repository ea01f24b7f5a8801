"""Database engine and session factory: SQLite (WAL) by default, PostgreSQL with the same code."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine tuned for the portal's transaction pattern on either backend."""
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
        # Commands write: take the write lock up front so two writers never deadlock on lock upgrade.
        if conn.get_execution_options().get("write_transaction"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def is_sqlite(engine: Engine) -> bool:
    """Tell whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


class Database:
    """Hold the engine plus two session factories: one for commands (writes), one for queries."""

    def __init__(self, url: str, **engine_kwargs: object) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.write_engine = self.engine.execution_options(write_transaction=True)
        self.write_session = sessionmaker(self.write_engine, expire_on_commit=False)
        self.read_session = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        """Open a read session (queries only)."""
        return self.read_session()

    def dispose(self) -> None:
        self.engine.dispose()

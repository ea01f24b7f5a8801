"""Shared fixtures: a fresh real database per test (SQLite and PostgreSQL), the injected clock, the
portal services, real simulator processes, a real HTTP server for the portal, and the worker.

PostgreSQL is reached on 127.0.0.1:5432 (trust auth). When it is missing the PostgreSQL variants are
skipped — except under CI=true, where a missing PostgreSQL is a failure."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from app import create_app
from app.engine.clock import FixedClock
from app.services import build_portal
from app.settings import PROJECT_ROOT, Settings
from app.stack import PORT_TOKEN, free_port
from app.tasks import build_registry
from app.worker import Worker

PG_ADMIN_URL = os.environ.get("PORTAL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MONDAY_MORNING = datetime.fromisoformat("2026-12-07T08:00:00+07:00")
_counter = itertools.count()


def _pg_available() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _pg_admin(sql: str) -> None:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(sql))
    engine.dispose()


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory):
    """The session's demo PKI folder (root and issuing CAs, seals); child processes find it through
    PORTAL_PKI_DIR. Templates issue the demo users' signing certificates from it (PIN 123456)."""
    folder = tmp_path_factory.mktemp("pki")
    previous = os.environ.get("PORTAL_PKI_DIR")
    os.environ["PORTAL_PKI_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("PORTAL_PKI_DIR", None)
    else:
        os.environ["PORTAL_PKI_DIR"] = previous


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory, pki_dir):
    """Initialized template databases (schema, seed, deployed bundle, demo PKI), built once per session."""
    from app.cli import initialize

    templates: dict[str, str] = {}
    folder = tmp_path_factory.mktemp("templates")
    sqlite_path = folder / "template.db"
    initialize(Settings(database_url=f"sqlite:///{sqlite_path}", pki_dir=pki_dir), demo=True)
    templates["sqlite"] = str(sqlite_path)
    if _pg_available():
        name = f"portal_tmpl_{os.getpid()}"
        _pg_admin(f"DROP DATABASE IF EXISTS {name}")
        _pg_admin(f"CREATE DATABASE {name}")
        initialize(Settings(database_url=_pg_url(name), pki_dir=pki_dir), demo=True)
        templates["postgresql"] = name
    yield templates
    if "postgresql" in templates:
        _pg_admin(f"DROP DATABASE IF EXISTS {templates['postgresql']} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, database_templates, tmp_path):
    """A fresh, initialized database of each kind for one test."""
    if request.param == "sqlite":
        target = tmp_path / "portal.db"
        with sqlite3.connect(database_templates["sqlite"]) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        yield f"sqlite:///{target}"
        return
    if "postgresql" not in database_templates:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (required when CI=true)")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"portal_t_{os.getpid()}_{next(_counter)}"
    _pg_admin(f"CREATE DATABASE {name} TEMPLATE {database_templates['postgresql']}")
    yield _pg_url(name)
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_url(database_templates, tmp_path):
    target = tmp_path / "portal.db"
    with sqlite3.connect(database_templates["sqlite"]) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return f"sqlite:///{target}"


@pytest.fixture
def clock():
    return FixedClock(MONDAY_MORNING)


# -- simulators and a live portal ----------------------------------------------------------------------
class Simulators:
    """The three simulators as real processes, pointed at the test session's portal port."""

    def __init__(self, portal_url: str) -> None:
        self.portal_url = portal_url
        self.urls: dict[str, str] = {}
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, kind: str, port: int = 0) -> str:
        args = [sys.executable, "-m", "app.simulators", kind, "--port", str(port)]
        if kind == "port":
            args += ["--delay", "0.05", "--portal-url", self.portal_url]
        env = dict(os.environ, SIMULATOR_PORTAL_TOKEN=PORT_TOKEN)
        proc = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline().strip()
        assert line.startswith("LISTENING "), f"{kind} simulator did not start: {line!r}"
        self.procs[kind] = proc
        self.urls[kind] = line.split(" ", 1)[1]
        return self.urls[kind]

    def stop(self, kind: str) -> None:
        proc = self.procs.pop(kind)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)

    def restart(self, kind: str) -> None:
        port = int(self.urls[kind].rsplit(":", 1)[1])
        if kind in self.procs:
            self.stop(kind)
        self.start(kind, port)

    def connector_settings(self) -> dict[str, object]:
        return {
            "PORT_URL": self.urls["port"],
            "CUSTOMS_URL": self.urls["customs"],
            "PAYMENT_URL": self.urls["payment"],
            "CONNECTOR_TIMEOUT": 2.0,
        }


@pytest.fixture(scope="session")
def live_port():
    return free_port()


@pytest.fixture(scope="session")
def simulators(live_port):
    sims = Simulators(f"http://127.0.0.1:{live_port}")
    for kind in ("customs", "payment", "port"):
        sims.start(kind)
    yield sims
    for kind in list(sims.procs):
        sims.stop(kind)


@pytest.fixture
def portal(database_url, clock, simulators, pki_dir):
    settings = Settings(
        database_url=database_url,
        pki_dir=pki_dir,
        job_backoff_seconds=60.0,
        job_max_attempts=3,
        **{
            k: v
            for k, v in (
                ("port_url", simulators.urls["port"]),
                ("customs_url", simulators.urls["customs"]),
                ("payment_url", simulators.urls["payment"]),
            )
        },
    )
    services = build_portal(settings, clock=clock)
    yield services
    services.close()


@pytest.fixture
def live_portal(portal, live_port):
    """The portal's Flask app behind a real HTTP server on the session's portal port."""
    app = create_app(portal=portal)
    server = make_server("127.0.0.1", live_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{live_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def worker(portal, simulators):
    runner = Worker(portal, build_registry(simulators.connector_settings()), name="test-worker")
    yield runner
    runner._pool.shutdown(wait=True)


@pytest.fixture
def fresh_copy(tmp_path):
    """Copy a file into the test's folder (for tamper tests on a database copy)."""

    def copy(path: Path) -> Path:
        target = tmp_path / Path(path).name
        shutil.copy(path, target)
        return target

    return copy

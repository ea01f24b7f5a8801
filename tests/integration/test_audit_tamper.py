"""Tampering with the audit trail is always found: in a copy of a real database whose trail holds signed
decisions, flip any single byte of any audit row, delete any row, or swap two rows — ``portal audit
verify`` reports a broken link and exits 1 (property-based over random rows, columns and bytes)."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.cli import main
from app.engine.clock import FixedClock
from app.services import build_portal
from app.settings import Settings
from app.tasks import build_registry
from app.worker import Worker
from tests.conftest import MONDAY_MORNING
from tests.procedure import (
    PASS,
    PAYMENT,
    SAMPLING,
    completes,
    consignment,
    trader_countersigns,
    trader_registers,
    worker_settles,
)

COLUMNS = (
    "id",
    "at",
    "actor",
    "organization",
    "action",
    "consignment_id",
    "task_id",
    "data_hash",
    "prev_hash",
    "hash",
    "chain_version",
    "signature",
    "signed_payload",
    "certificate_id",
)


@pytest.fixture
def signed_trail(sqlite_url, simulators, pki_dir) -> Path:
    """A SQLite database where air cargo C10 went all the way to clearance: signed sampling record and
    result, sealed clearance, and every other event of the procedure."""
    portal = build_portal(
        Settings(
            database_url=sqlite_url,
            pki_dir=pki_dir,
            customs_url=simulators.urls["customs"],
            payment_url=simulators.urls["payment"],
            port_url=simulators.urls["port"],
        ),
        clock=FixedClock(MONDAY_MORNING),
    )
    worker = Worker(portal, build_registry(simulators.connector_settings()), name="tamper-test")
    try:
        number = trader_registers(portal, "C10")
        worker_settles(worker, portal, number)
        officer = f"officer.{consignment(portal, number).lead_agency.lower()}"
        completes(portal, officer, number, "record_sampling", SAMPLING)
        trader_countersigns(portal, number)
        completes(portal, officer, number, "publish_result", PASS)
        worker_settles(worker, portal, number)
        completes(portal, "trader.t10", number, "pay_fees", PAYMENT)
        assert worker_settles(worker, portal, number).status == "cleared"
    finally:
        worker._pool.shutdown(wait=True)
        portal.close()
    path = Path(sqlite_url.split("///", 1)[1])
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def verify(path: Path, pki_dir: Path) -> tuple[int, str]:
    env = {"PORTAL_DATABASE_URL": f"sqlite:///{path}", "PORTAL_PKI_DIR": str(pki_dir)}
    result = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def flip_byte(conn: sqlite3.Connection, row_id: int, column: str, position: int, mask: int) -> None:
    kind, value = conn.execute(
        f"SELECT typeof({column}), {column} FROM audit_events WHERE id = ?",  # noqa: S608 - our column names
        (row_id,),
    ).fetchone()
    if kind == "integer":
        raw = bytearray(value.to_bytes(8, "big", signed=True))
        raw[position % 8] ^= mask
        conn.execute(
            f"UPDATE audit_events SET {column} = ? WHERE id = ?",  # noqa: S608
            (int.from_bytes(raw, "big", signed=True), row_id),
        )
        return
    raw = bytearray(value.encode("utf-8") if kind == "text" else value)
    raw[position % len(raw)] ^= mask
    cast = "CAST(? AS TEXT)" if kind == "text" else "?"
    conn.execute(f"UPDATE audit_events SET {column} = {cast} WHERE id = ?", (bytes(raw), row_id))  # noqa: S608


def test_the_untouched_trail_verifies_with_its_signatures(signed_trail, pki_dir):
    code, output = verify(signed_trail, pki_dir)
    assert code == 0, output
    assert "4 signed, every signature verified" in output


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_flipped_byte_deleted_row_or_swapped_rows_is_reported(signed_trail, pki_dir, data):
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.db"
        shutil.copy(signed_trail, copy)
        with sqlite3.connect(copy) as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM audit_events ORDER BY id")]
            kind = data.draw(st.sampled_from(["flip", "delete", "swap"]), label="tampering")
            row_id = data.draw(st.sampled_from(ids), label="row")
            if kind == "flip":
                present = [
                    c
                    for c in COLUMNS
                    if conn.execute(
                        f"SELECT {c} IS NOT NULL FROM audit_events WHERE id = ?",  # noqa: S608
                        (row_id,),
                    ).fetchone()[0]
                ]
                column = data.draw(st.sampled_from(present), label="column")
                position = data.draw(st.integers(0, 10_000), label="byte")
                mask = data.draw(st.integers(1, 255), label="xor")
                try:
                    flip_byte(conn, row_id, column, position, mask)
                except sqlite3.IntegrityError:
                    assume(False)  # the database itself refuses it (an id or hash that already exists)
            elif kind == "delete":
                conn.execute("DELETE FROM audit_events WHERE id = ?", (row_id,))
            else:
                other = data.draw(st.sampled_from([i for i in ids if i != row_id]), label="other row")
                conn.execute("UPDATE audit_events SET id = -1 WHERE id = ?", (row_id,))
                conn.execute("UPDATE audit_events SET id = ? WHERE id = ?", (row_id, other))
                conn.execute("UPDATE audit_events SET id = ? WHERE id = -1", (other,))

        code, output = verify(copy, pki_dir)

    assert code == 1, output
    assert "broken at" in output, output


def test_a_time_that_reads_the_same_but_is_stored_differently_is_reported(signed_trail, pki_dir):
    """SQLite keeps times as text, and its parser reads ``…00.000+00`` (a flipped byte in the microseconds)
    as the same moment as ``…00.000000``: the stored text itself must be the one canonical form."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.db"
        shutil.copy(signed_trail, copy)
        with sqlite3.connect(copy) as conn:
            row_id, at = conn.execute(
                "SELECT id, at FROM audit_events WHERE at LIKE '%.000000' ORDER BY id LIMIT 1"
            ).fetchone()
            conn.execute("UPDATE audit_events SET at = ? WHERE id = ?", (at[:-3] + "+00", row_id))
        code, output = verify(copy, pki_dir)
    assert code == 1, output
    assert "broken at" in output, output

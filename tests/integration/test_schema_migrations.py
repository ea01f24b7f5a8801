"""The schema migrations, on SQLite and PostgreSQL: they build the schema the models describe, and the
compact audit storage (0010) converts an existing trail both ways without breaking a seal or a signature."""

from __future__ import annotations

import zlib

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from app.cli import main
from app.migrate import downgrade, upgrade
from app.models import AuditEvent
from app.models.base import Base
from tests.procedure import beef_cleared


def schema_differences(database_url: str) -> list:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()


def stored_audit(database_url: str) -> list[tuple]:
    """What the database itself holds in the audit columns 0010 changes, row by row."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in conn.execute(
                    text("SELECT data_hash, prev_hash, hash, signed_payload FROM audit_events ORDER BY id")
                )
            ]
    finally:
        engine.dispose()


def audit_verify(portal) -> tuple[int, str]:
    env = {
        "PORTAL_DATABASE_URL": portal.settings.database_url,
        "PORTAL_PKI_DIR": str(portal.settings.pki_dir),
    }
    result = CliRunner().invoke(main, ["audit", "verify"], env=env)
    return result.exit_code, result.output


def test_the_migrations_build_the_schema_the_models_describe(database_url):
    assert schema_differences(database_url) == []


def test_a_trail_written_before_compact_storage_still_verifies_after_the_upgrade(portal, live_portal, worker):
    beef_cleared(portal, worker)
    url = portal.settings.database_url
    with portal.db.session() as session:
        payloads = [e.signed_payload for e in session.query(AuditEvent).order_by(AuditEvent.id)]
        hashes = [e.hash for e in session.query(AuditEvent).order_by(AuditEvent.id)]
    signed = [p for p in payloads if p is not None]
    assert len(signed) == 4 and all(p.startswith(b"{") for p in signed)
    portal.close()

    # As 0010 found it: hashes as hex text, payloads as plain JSON; the code still reads that layout.
    downgrade(url, "0009")
    rows = stored_audit(url)
    assert [r[2] for r in rows] == hashes
    assert [r[3] for r in rows] == payloads
    code, output = audit_verify(portal)
    assert code == 0, output

    upgrade(url)
    rows = stored_audit(url)
    assert [bytes(r[2]) for r in rows] == [bytes.fromhex(h) for h in hashes]
    assert all(len(r[0]) == len(r[1]) == len(r[2]) == 32 for r in rows)
    stored = [r[3] for r in rows if r[3] is not None]
    assert [zlib.decompress(s) for s in stored] == signed
    assert sum(map(len, stored)) < 0.8 * sum(map(len, signed))
    code, output = audit_verify(portal)
    assert code == 0, output
    assert "4 signed, every signature verified" in output
    assert schema_differences(url) == []

"""The PKI and audit commands answer bad input with one line and exit code 1 — never a traceback:
a missing user, a short PIN, a missing or foreign CRL file, a wrong PKI passphrase, a missing PKI folder,
an unknown declaration, an uninitialized database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from app.cli import main
from app.settings import PROJECT_ROOT


@pytest.fixture
def cli(sqlite_url, pki_dir):
    def invoke(*args: str, **env: str):
        result = CliRunner().invoke(
            main, list(args), env={"PORTAL_DATABASE_URL": sqlite_url, "PORTAL_PKI_DIR": str(pki_dir), **env}
        )
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        return result

    return invoke


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("pki", "issue", "nobody", "--pin", "123456"), {}, "no user 'nobody'"),
        (("pki", "issue", "officer.raho6", "--pin", "12"), {}, "PIN must have 6 to 64 characters"),
        (("pki", "issue", "officer.raho6", "--csr", "/no/such.csr"), {}, "cannot read /no/such.csr"),
        (
            ("pki", "issue", "officer.raho6", "--pin", "123456"),
            {"PORTAL_PKI_PASSPHRASE": "wrong"},
            "passphrase",
        ),
        (
            ("pki", "issue", "officer.raho6", "--pin", "123456"),
            {"PORTAL_PKI_DIR": "/no/pki"},
            "portal pki init",
        ),
        (("pki", "crl", "load", "/no/such/crl.pem"), {}, "cannot read /no/such/crl.pem"),
        (("pki", "crl", "load", str(PROJECT_ROOT / "README.md")), {}, "is not a CRL"),
        (("pki", "register", "officer.raho6", "/no/cert.pem"), {}, "cannot read /no/cert.pem"),
        (("pki", "register", "officer.raho6", str(PROJECT_ROOT / "README.md")), {}, "not a PEM certificate"),
        (("pki", "revoke", "nobody"), {}, "has no current signing certificate"),
        (("audit", "export", "999999999999", "--out", "/tmp/x"), {}, "no consignment"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code_1(cli, args, env, message):
    result = cli(*args, **env)
    assert result.exit_code == 1, result.output
    assert message in result.output, result.output


def test_a_foreign_crl_is_refused(cli, tmp_path):
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    from app.signing.keys import new_signing_key

    key = new_signing_key()
    now = datetime.now(UTC)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone else's CA")]))
        .last_update(now)
        .next_update(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "foreign.crl"
    path.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    result = cli("pki", "crl", "load", str(path))
    assert result.exit_code == 1 and "no trusted CA" in result.output, result.output


def test_issue_revoke_and_load_the_crl_from_the_command_line(cli, tmp_path):
    issued = cli("pki", "issue", "officer.raho6", "--pin", "246810", "--out", str(tmp_path / "cert.pem"))
    assert issued.exit_code == 0 and "issued" in issued.output, issued.output
    assert (tmp_path / "cert.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    revoked = cli("pki", "revoke", "officer.raho6")
    assert revoked.exit_code == 0 and "revoked serial" in revoked.output, revoked.output
    crl_file = revoked.output.split("CRL written to ")[1].split(" and loaded")[0]
    loaded = cli("pki", "crl", "load", crl_file)
    assert loaded.exit_code == 0 and "revoked certificates" in loaded.output, loaded.output
    serial = int(revoked.output.split("revoked serial ")[1].split(";")[0], 16)
    crl = x509.load_pem_x509_crl(Path(crl_file).read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    assert cli("audit", "verify").exit_code == 0


def test_an_uninitialized_database_is_a_clear_message(tmp_path, pki_dir):
    env = {"PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "PORTAL_PKI_DIR": str(pki_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=PROJECT_ROOT,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "error:" in done.stderr, done.stderr


def test_the_pki_administrators_actions_are_on_the_sealed_audit_trail(database_url, pki_dir, tmp_path):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID
    from sqlalchemy import create_engine, select

    from app.models import AuditEvent
    from app.signing.keys import new_signing_key
    from tests.external_ca import ExternalCa

    ca = ExternalCa(tmp_path / "ca")
    env = {"PORTAL_DATABASE_URL": database_url, "PORTAL_PKI_DIR": str(pki_dir), **ca.trust_env(pki_dir)}

    def portal(*args: str):
        result = CliRunner().invoke(main, list(args), env=env)
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output
        return result.output

    csr = tmp_path / "manager.csr"
    csr.write_bytes(
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "manager.raho6")]))
        .sign(new_signing_key(), hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    engine = create_engine(database_url)
    with engine.connect() as conn:
        first_new = conn.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0

    portal("pki", "issue", "officer.raho6", "--pin", "246810")
    portal("pki", "issue", "manager.raho6", "--csr", str(csr))
    portal("pki", "register", "officer.nafiqad", str(ca.issue("officer.nafiqad", "Phạm Văn Dũng").path))
    crl_file = portal("pki", "revoke", "officer.raho6").split("CRL written to ")[1].split(" and loaded")[0]
    portal("pki", "crl", "load", crl_file)
    verified = portal("audit", "verify")

    with engine.connect() as conn:
        events = conn.execute(
            select(AuditEvent.action, AuditEvent.actor, AuditEvent.consignment_id)
            .where(AuditEvent.id > first_new)
            .order_by(AuditEvent.id)
        ).all()
    engine.dispose()
    assert [tuple(e) for e in events] == [
        ("certificate_issued", "cli", None),
        ("certificate_issued", "cli", None),
        ("certificate_registered", "cli", None),
        ("certificate_revoked", "cli", None),
        ("crl_loaded", "cli", None),
    ]
    assert "audit trail intact" in verified and "every signature verified" in verified, verified

"""The evidence bundle of a cleared consignment verifies offline with the documented recipes — OpenSSL on
the command line, and the Python snippet of docs/evidence-verification.md that uses only ``cryptography``
— and the result notice PDF validates as signed by the agency with pyHanko."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from app.cli import main
from app.settings import PROJECT_ROOT
from tests.procedure import (
    beef_cleared,
)

DOC = PROJECT_ROOT / "docs" / "evidence-verification.md"


def documented_python_recipe() -> str:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- verify-bundle:start -->\s*```python\n(.*?)```\s*<!-- verify-bundle:end -->", text, re.S
    )
    assert block, "the Python recipe is missing from docs/evidence-verification.md"
    return block.group(1)


@pytest.fixture
def cleared_beef_bundle(portal, live_portal, worker, tmp_path) -> Path:
    number = beef_cleared(portal, worker)
    out = tmp_path / f"evidence-{number}"
    env = {
        "PORTAL_DATABASE_URL": portal.settings.database_url,
        "PORTAL_PKI_DIR": str(portal.settings.pki_dir),
    }
    result = CliRunner().invoke(main, ["audit", "export", number, "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    return out


def run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def verify_with_openssl(bundle: Path, tmp_path: Path) -> list[str]:
    """Check every signed decision of the bundle with the OpenSSL recipe of docs/evidence-verification.md:
    the certificate's path and revocation at the signing time, its key usage, the signature over the exact
    payload and the payload's SHA-256. Return the signed steps in order."""
    evidence = json.loads((bundle / "evidence.json").read_text(encoding="utf-8"))
    signed = [e for e in evidence["events"] if "signed" in e]
    for event in signed:
        s = event["signed"]
        at = int(datetime.strptime(s["signed_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
        cert, chain = bundle / s["certificate"], bundle / s["chain"]
        output = run(
            "openssl", "verify", "-CAfile", str(bundle / "trust-anchors.pem"), "-untrusted", str(chain),
            "-crl_check", "-CRLfile", str(bundle / "crls.pem"), "-attime", str(at), str(cert),
        )  # fmt: skip
        assert output.strip().endswith(": OK"), output
        assert "Digital Signature, Non Repudiation" in run(
            "openssl", "x509", "-in", str(cert), "-noout", "-ext", "keyUsage"
        )
        public_key = tmp_path / "signer.pub"
        public_key.write_text(run("openssl", "x509", "-in", str(cert), "-pubkey", "-noout"))
        payload = bundle / s["payload"]
        signature = str(bundle / s["signature"])
        verified = run(
            "openssl", "dgst", "-sha256", "-verify", str(public_key), "-signature", signature, str(payload)
        )
        assert "Verified OK" in verified
        assert run("openssl", "dgst", "-sha256", "-r", str(payload)).split()[0] == event["data_hash"]
    return [json.loads((bundle / e["signed"]["payload"]).read_bytes())["task"]["step"] for e in signed]


def run_python_recipe(bundle: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """The documented ``cryptography``-only script, run in an isolated interpreter on ``bundle``."""
    recipe = tmp_path / "verify_bundle.py"
    recipe.write_text(documented_python_recipe())
    assert "import app" not in recipe.read_text() and "from app" not in recipe.read_text()
    return subprocess.run(
        [sys.executable, "-I", str(recipe), str(bundle)], capture_output=True, text=True, cwd=tmp_path
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_the_bundle_verifies_with_the_openssl_recipe(cleared_beef_bundle, tmp_path):
    assert verify_with_openssl(cleared_beef_bundle, tmp_path) == [
        "record_sampling",
        "countersign_sampling",
        "publish_result",
        "clear_goods",
    ]


def test_the_trader_s_countersignature_names_the_agency_s_sampling_record(cleared_beef_bundle):
    evidence = json.loads((cleared_beef_bundle / "evidence.json").read_text(encoding="utf-8"))
    agency, trader = [e for e in evidence["events"] if "signed" in e][:2]
    countersigned = json.loads((cleared_beef_bundle / trader["signed"]["payload"]).read_bytes())
    assert countersigned["signer"] == {"user": "trader.t01", "organization": "T01"}
    assert countersigned["data"]["sampling_record_sha256"] == agency["data_hash"]


def test_the_bundle_verifies_with_the_documented_python_recipe(cleared_beef_bundle, tmp_path):
    done = run_python_recipe(cleared_beef_bundle, tmp_path)

    assert done.returncode == 0, done.stderr
    assert "4 signatures verified" in done.stdout

    # the recipe notices a changed decision
    payload = next((cleared_beef_bundle / "signatures").glob("*.json"))
    payload.write_bytes(payload.read_bytes().replace(b'"sample_count":3', b'"sample_count":4'))
    assert run_python_recipe(cleared_beef_bundle, tmp_path).returncode != 0


def test_the_result_notice_pdf_is_signed_by_the_agency(cleared_beef_bundle, pki_dir):
    root = load_cert_from_pemder(str(cleared_beef_bundle / "trust-anchors.pem"))
    with open(cleared_beef_bundle / "result-notice.pdf", "rb") as handle:
        reader = PdfFileReader(handle)
        [signature] = reader.embedded_signatures
        status = validate_pdf_signature(signature, ValidationContext(trust_roots=[root]))
    assert status.bottom_line, status.pretty_print_details()
    assert status.intact and status.valid and status.trusted
    assert "RAHO6" in status.signing_cert.subject.human_friendly

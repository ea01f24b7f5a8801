"""The evidence bundle of one consignment, for a third party to verify offline
(``docs/evidence-verification.md``).

    evidence.json               the consignment, its audit events (every sealed field), attachments' hashes
    signatures/event-<id>.json  the exact signed bytes of each signed decision
    signatures/event-<id>.sig   the detached signature (DER for ECDSA), and .sig.b64 as stored
    certificates/<sha256>.pem   each signer's certificate; <sha256>-chain.pem its issuing CA(s)
    trust-anchors.pem           the root certificate(s) the portal trusts
    crls/<n>.pem, crls.pem      the CRLs the portal had loaded for those issuers (one file each, and all)
    result-notice.pdf           the inspection result notice sealed by the agency (PAdES), once published

``evidence_zip`` packs the same bundle into one ZIP (folder ``evidence-<declaration>/``) for the download
button on the consignment page.
"""

from __future__ import annotations

import base64
import io
import json
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.errors import NotFound
from app.models import Attachment, AuditEvent, Consignment, SigningCertificate
from app.settings import Settings

from .notice import published_result, result_notice_pdf
from .trust import current_crl, load_trust
from .verify import build_path


def export_evidence(session: Session, settings: Settings, declaration_no: str, out_dir: Path) -> list[str]:
    """Write the bundle for ``declaration_no`` into ``out_dir``; return the names written.

    :raises NotFound: no such consignment.
    """
    consignment = session.scalar(select(Consignment).where(Consignment.declaration_no == declaration_no))
    if consignment is None:
        raise NotFound(f"no consignment with declaration number {declaration_no}", field="declaration_no")
    out_dir = Path(out_dir)
    (out_dir / "signatures").mkdir(parents=True, exist_ok=True)
    (out_dir / "certificates").mkdir(exist_ok=True)
    (out_dir / "crls").mkdir(exist_ok=True)
    trust = load_trust(settings)
    certificates: dict[int, SigningCertificate] = {}
    events: list[dict[str, Any]] = []
    issuers: dict[bytes, x509.Name] = {}
    for event in session.scalars(
        select(AuditEvent).where(AuditEvent.consignment_id == consignment.id).order_by(AuditEvent.id)
    ):
        entry = _event_json(event)
        if event.signed_payload is not None and event.certificate_id is not None:
            cert_row = certificates.get(event.certificate_id) or session.get(
                SigningCertificate, event.certificate_id
            )
            certificates[cert_row.id] = cert_row
            stem = f"signatures/event-{event.id}"
            (out_dir / f"{stem}.json").write_bytes(event.signed_payload)
            (out_dir / f"{stem}.sig").write_bytes(base64.b64decode(event.signature or ""))
            (out_dir / f"{stem}.sig.b64").write_text(event.signature or "")
            entry["signed"] = {
                "payload": f"{stem}.json",
                "signature": f"{stem}.sig",
                "certificate": f"certificates/{cert_row.fingerprint}.pem",
                "chain": f"certificates/{cert_row.fingerprint}-chain.pem",
                "certificate_sha256": cert_row.fingerprint,
                "signed_at": json.loads(event.signed_payload)["signed_at"],
                "algorithm": _algorithm(cert_row.der),
            }
        events.append(entry)
    for row in certificates.values():
        cert = x509.load_der_x509_certificate(row.der)
        (out_dir / f"certificates/{row.fingerprint}.pem").write_bytes(cert.public_bytes(Encoding.PEM))
        path = build_path(cert, [], trust)
        chain = b"".join(c.public_bytes(Encoding.PEM) for c in path[1:] if not trust.is_anchor(c))
        (out_dir / f"certificates/{row.fingerprint}-chain.pem").write_bytes(chain)
        for signer_or_ca in path[:-1]:
            issuers[signer_or_ca.issuer.public_bytes()] = signer_or_ca.issuer
    (out_dir / "trust-anchors.pem").write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in trust.anchors))
    crl_files, all_crls = [], []
    for number, name in enumerate(issuers.values(), start=1):
        crl = current_crl(session, name)
        if crl is not None:
            pem = crl.public_bytes(Encoding.PEM)
            (out_dir / f"crls/{number}.pem").write_bytes(pem)
            crl_files.append({"issuer": name.rfc4514_string(), "file": f"crls/{number}.pem"})
            all_crls.append(pem)
    (out_dir / "crls.pem").write_bytes(b"".join(all_crls))
    attachments = [
        {"filename": a.filename, "sha256": a.sha256, "size": a.size, "step": a.step_id, "by": a.uploaded_by}
        for a in session.scalars(
            select(Attachment).where(Attachment.consignment_id == consignment.id).order_by(Attachment.id)
        )
    ]
    written = ["evidence.json", "signatures/", "certificates/", "trust-anchors.pem", "crls/", "crls.pem"]
    notice = None
    if published_result(session, consignment) is not None:
        (out_dir / "result-notice.pdf").write_bytes(result_notice_pdf(session, settings, consignment))
        notice = "result-notice.pdf"
        written.append(notice)
    bundle = {
        "format": "catlai-evidence/1",
        "exported_at": datetime.now(UTC).isoformat(),
        "consignment": {
            "declaration_no": consignment.declaration_no,
            "declaration_type": consignment.declaration_type,
            "customs_branch": consignment.customs_branch,
            "goods": consignment.goods,
            "hs_codes": consignment.hs_codes,
            "containers": consignment.containers,
            "lead_agency": consignment.lead_agency,
            "status": consignment.status,
            "registered_at": consignment.registered_at.isoformat(),
        },
        "events": events,
        "attachments": attachments,
        "crls": crl_files,
        "result_notice": notice,
        "how_to_verify": "docs/evidence-verification.md of the portal's repository",
    }
    (out_dir / "evidence.json").write_text(json.dumps(bundle, ensure_ascii=False, indent=1), encoding="utf-8")
    return written


def evidence_zip(session: Session, settings: Settings, declaration_no: str) -> bytes:
    """The bundle of ``export_evidence`` as a ZIP archive, every file under ``evidence-<declaration>/``.

    :raises NotFound: no such consignment.
    """
    folder = f"evidence-{declaration_no}"
    with tempfile.TemporaryDirectory(prefix="portal-evidence-") as tmp:
        root = Path(tmp) / folder
        export_evidence(session, settings, declaration_no, root)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                archive.write(path, path.relative_to(tmp).as_posix())
    return out.getvalue()


def _event_json(event: AuditEvent) -> dict[str, Any]:
    """Every field the event's seal covers, as the seal hashes it (``at`` in UTC ISO 8601)."""
    return {
        "id": event.id,
        "chain_version": event.chain_version,
        "at": event.at.astimezone(UTC).isoformat(),
        "actor": event.actor,
        "organization": event.organization,
        "action": event.action,
        "consignment_id": event.consignment_id,
        "task_id": event.task_id,
        "data_hash": event.data_hash,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "signature": event.signature,
    }


def _algorithm(der: bytes) -> str:
    name = type(x509.load_der_x509_certificate(der).public_key()).__name__
    if "EllipticCurve" in name:
        return "ECDSA with SHA-256 (DER signature)"
    if "RSA" in name:
        return "RSA PKCS#1 v1.5 with SHA-256"
    return "Ed25519"

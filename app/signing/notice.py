"""The inspection result notice as a PDF signed with the lead agency's seal (PAdES B-B, pyHanko).

The notice's content comes from the signed ``publish_result`` decision in the audit trail, so the PDF says
exactly what the officer signed. The text uses the PDF standard Helvetica font, which has no Vietnamese
diacritics: names are written without them (the signed decision in the evidence bundle keeps the original)."""

from __future__ import annotations

import io
import json
import unicodedata

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.errors import NotFound
from app.models import AuditEvent, Consignment, Organization
from app.settings import Settings

from . import pki

RESULT_STEP = "publish_result"


def published_result(session: Session, consignment: Consignment) -> tuple[AuditEvent, dict] | None:
    """The newest signed ``publish_result`` decision of the consignment and its payload."""
    for event in session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.consignment_id == consignment.id,
            AuditEvent.action == "task_completed",
            AuditEvent.signed_payload.is_not(None),
        )
        .order_by(AuditEvent.id.desc())
    ):
        body = json.loads(event.signed_payload)
        if body.get("task", {}).get("step") == RESULT_STEP:
            return event, body
    return None


def result_notice_pdf(session: Session, settings: Settings, consignment: Consignment) -> bytes:
    """Return the signed result notice of ``consignment``.

    :raises NotFound: no inspection result has been published yet.
    """
    found = published_result(session, consignment)
    if found is None:
        raise NotFound("no inspection result has been published for this consignment", field="declaration_no")
    event, body = found
    agency_code = body["signer"]["organization"] or consignment.lead_agency or ""
    agency = session.scalar(select(Organization).where(Organization.code == agency_code))
    data = body.get("data", {})
    lines = [
        ("title", "INSPECTION RESULT NOTICE"),
        ("title", "Thong bao ket qua kiem tra chuyen nganh"),
        ("", ""),
        ("", f"Inspection agency: {agency.name if agency else agency_code} ({agency_code})"),
        ("", f"Customs declaration: {consignment.declaration_no} ({consignment.declaration_type})"),
        ("", f"Customs branch: {consignment.customs_branch}"),
        ("", f"Goods: {consignment.goods}"),
        ("", f"HS codes: {', '.join(consignment.hs_codes)}"),
        ("", f"Containers: {', '.join(consignment.containers) or consignment.awb or '-'}"),
        ("", ""),
        ("title", f"Result: {str(data.get('result', '')).upper()}"),
        ("", f"Certificate / notice no.: {data.get('certificate_no', '')}"),
        ("", f"Conclusion: {data.get('conclusion', '')}"),
        ("", f"Issued at: {data.get('issued_at', '')}"),
        ("", ""),
        ("", f"Decision signed by {body['signer']['user']} at {body['signed_at']} (audit event {event.id})."),
        ("", f"SHA-256 of the signed decision: {event.data_hash}"),
        ("", "This notice is sealed with the agency's certificate (PAdES)."),
    ]
    unsigned = _simple_pdf(lines)
    return _seal(settings, agency_code, unsigned, f"Inspection result {consignment.declaration_no}")


def _seal(settings: Settings, organization: str, pdf: bytes, reason: str) -> bytes:
    folder = pki.folder(settings)
    pki.seal_key(settings, organization)  # a clear error when the seal or passphrase is missing
    signer = signers.SimpleSigner.load(
        key_file=str(folder.org_file(organization, "seal.key.pem")),
        cert_file=str(folder.org_file(organization, "seal.pem")),
        ca_chain_files=(str(folder.org_file(organization, "ca.pem")), str(folder.root_cert)),
        key_passphrase=settings.pki_passphrase.encode("utf-8"),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = PdfSignatureMetadata(
        field_name="AgencySeal",
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location="Cat Lai, Ho Chi Minh City",
    )
    out = io.BytesIO()
    signers.sign_pdf(writer, meta, signer=signer, output=out)
    return out.getvalue()


def _ascii(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if not unicodedata.combining(c)).encode("ascii", "replace").decode()


def _escape(text: str) -> str:
    return _ascii(text).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _simple_pdf(lines: list[tuple[str, str]]) -> bytes:
    """A one-page A4 PDF with the given lines (``title`` lines in bold)."""
    ops = ["BT", "50 790 Td"]
    for style, text in lines:
        ops.append(f"/{'F2' if style == 'title' else 'F1'} {13 if style == 'title' else 10} Tf")
        ops.append(f"({_escape(text)[:110]}) Tj")
        ops.append("0 -18 Td")
    ops.append("ET")
    content = "\n".join(ops).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()

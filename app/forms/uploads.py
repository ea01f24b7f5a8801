"""Attachments uploaded with a task form: size and type limits, content sniffing, SHA-256.

The declared content type is never trusted: the first bytes decide (JPEG, PNG, PDF), and the form's
``x-attachments.accept`` list says which of those a step takes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from werkzeug.utils import secure_filename

from app.engine.errors import ValidationFailed

SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
}


@dataclass(frozen=True)
class Upload:
    """One checked file, ready to be stored by the command that completes the step."""

    filename: str
    content_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def sniff(content: bytes) -> str | None:
    for kind, magics in SIGNATURES.items():
        if any(content.startswith(m) for m in magics):
            return kind
    return None


def attachment_rules(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The form's attachment rules (``x-attachments``), or None when the step takes no files."""
    rules = schema.get("x-attachments")
    return rules if isinstance(rules, dict) else None


def _megabytes(size: int) -> str:
    """A size limit in MB as people write it: 10, 0.5."""
    return f"{size / 1048576:.2f}".rstrip("0").rstrip(".")


def check_uploads(
    schema: dict[str, Any], files: list[tuple[str, bytes]], *, max_bytes: int, max_files: int
) -> list[Upload]:
    """Check ``(filename, content)`` pairs against the form's rules; raise one error per bad file.

    :raises ValidationFailed: with field ``attachments`` and the file's name in the reason.
    """
    files = [(name, content) for name, content in files if name or content]
    rules = attachment_rules(schema)
    if rules is None:
        if files:
            raise ValidationFailed([{"field": "attachments", "reason": "this step takes no attachments"}])
        return []
    accept = set(rules.get("accept") or SIGNATURES)
    limit = min(int(rules.get("max_files", max_files)), max_files)
    errors: list[dict[str, str]] = []
    if len(files) > limit:
        errors.append(
            {
                "field": "attachments",
                "reason": f"at most {limit} files",
                "code": "too_many_files",
                "limit": limit,
            }
        )
    if rules.get("required") and not files:
        errors.append({"field": "attachments", "reason": "is required", "code": "required"})
    uploads: list[Upload] = []
    for raw_name, content in files:
        name = secure_filename(raw_name or "")[:200] or "file"
        kind = sniff(content)
        if not content:
            errors.append(
                {"field": "attachments", "reason": f"{name} is empty", "code": "file_empty", "name": name}
            )
        elif len(content) > max_bytes:
            megabytes = _megabytes(max_bytes)
            errors.append(
                {
                    "field": "attachments",
                    "reason": f"{name} is larger than {megabytes} MB",
                    "code": "file_too_large",
                    "name": name,
                    "limit": megabytes,
                }
            )
        elif kind is None or kind not in accept:
            allowed = ", ".join(sorted(accept))
            errors.append(
                {
                    "field": "attachments",
                    "reason": f"{name} is not an accepted file type ({allowed})",
                    "code": "file_type",
                    "name": name,
                    "limit": allowed,
                }
            )
        else:
            uploads.append(Upload(name, kind, content))
    if errors:
        raise ValidationFailed(errors)
    return uploads

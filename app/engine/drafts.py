"""The studio's working copy as a bundle: build it from a deployed version, validate it (the same checks
as ``portal model validate``), and render a form definition for the preview."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

from app.models import ModelVersion
from app.models.studio import ModelDraft

from .bundle import Bundle, BundleInvalid, Problem, compile_bundle
from .commands.messages import KNOWN_MESSAGES

MAX_FILE_CHARS = 2 * 1024 * 1024


def file_revision(text: str | None) -> str:
    """The revision of one file of the working copy: a hash of its text ("new" for a file not there yet).
    An editor sends back the one it read, and its save is refused only when that file changed since."""
    if text is None:
        return "new"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bundle_of(draft: ModelDraft) -> Bundle:
    return Bundle({name: text.encode("utf-8") for name, text in draft.files.items()})


def files_of(version: ModelVersion) -> dict[str, str]:
    files = dict(version.files)
    for key, schema in (version.forms or {}).items():
        files.setdefault(f"forms/{key}.json", json.dumps(schema, ensure_ascii=False, indent=2) + "\n")
    return files


def problems_of(bundle: Bundle, known_topics=None, known_messages=KNOWN_MESSAGES) -> list[Problem]:
    """Everything wrong with the bundle (empty when it can be deployed), each with the line of its
    element when the check itself did not say."""
    try:
        compile_bundle(bundle, known_topics=known_topics, known_messages=known_messages)
    except BundleInvalid as exc:
        return [_located(bundle, p) for p in exc.problems]
    return []


def _located(bundle: Bundle, problem: Problem) -> Problem:
    if problem.line is not None or not problem.element_id or problem.file not in bundle.files:
        return problem
    text = bundle.files[problem.file].decode("utf-8", errors="replace")
    at = text.find(f'id="{problem.element_id}"')
    if at < 0:
        return problem
    return replace(problem, line=text.count("\n", 0, at) + 1)


def form_schema(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Parse a form definition for the preview; return (schema, error)."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return None, "a form is a JSON object with a 'properties' object"
    return schema, None

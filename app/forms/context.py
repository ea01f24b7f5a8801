"""Facts a form shows read-only above its fields: ``"x-context"`` lists outputs of business rule tasks
(``{"decision": "compute_fees", "output": "fee_vnd", "title": ..., "x-vi-title": ..., "format": "money"}``),
read from the consignment's timeline and formatted for the reader's locale by Babel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import format_currency, format_decimal

# The portal's amounts are in Vietnamese dong; Vietnamese readers see the local symbol ("400.000 ₫"),
# others the ISO code, which needs no knowledge of the symbol ("VND 400,000").
CURRENCY = "VND"
CURRENCY_LOCALE = "vi"
ISO_CODE_PATTERN = "¤¤\u00a0#,##0"
FORMATS = ("money", "number", "text")


@dataclass(frozen=True)
class ContextEntry:
    """One ``x-context`` item of a form."""

    decision: str
    output: str
    spec: dict[str, Any]

    @property
    def format(self) -> str:
        return str(self.spec.get("format") or "text")


def context_entries(schema: dict[str, Any]) -> list[ContextEntry]:
    """The form's ``x-context`` items that name a decision and an output, in order."""
    items = schema.get("x-context")
    return [
        ContextEntry(str(item["decision"]), str(item["output"]), item)
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and item.get("decision") and item.get("output")
    ]


def context_rows(
    schema: dict[str, Any], outputs: dict[str, dict[str, Any]], locale: str
) -> list[tuple[str, str]]:
    """``(label, shown value)`` per ``x-context`` item; ``outputs`` is ``{decision: {output: value}}``
    (``queries.decision_outputs``); a value not decided yet is shown as a dash."""
    rows = []
    for entry in context_entries(schema):
        key = "x-vi-title" if locale == "vi" and entry.spec.get("x-vi-title") else "title"
        label = str(entry.spec.get(key) or entry.output)
        value = outputs.get(entry.decision, {}).get(entry.output)
        rows.append((label, _shown(value, entry.format, locale)))
    return rows


def _shown(value: Any, kind: str, locale: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if kind == "money":
        pattern = None if locale == CURRENCY_LOCALE else ISO_CODE_PATTERN
        return format_currency(value, CURRENCY, format=pattern)
    return format_decimal(value) if kind == "number" else str(value)

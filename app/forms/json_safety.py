"""Find values that valid JSON can carry but the portal cannot store or hash: lone UTF-16 surrogates in
text and integers beyond the interoperable range of RFC 8785 (±2**53 - 1)."""

from __future__ import annotations

from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1


def unsafe_values(value: Any, path: str = "") -> list[dict[str, str]]:
    """Return ``{"field", "reason"}`` for each unstorable value inside ``value`` (paths like ``a[0].b``)."""
    problems: list[dict[str, str]] = []
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(
                {"field": path or "body", "reason": "contains an invalid character (lone surrogate)"}
            )
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            problems.append(
                {"field": path or "body", "reason": f"number too large (at most {MAX_SAFE_INTEGER})"}
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            problems.extend(unsafe_values(key_text, path or "body") if key_text != key else [])
            problems.extend(unsafe_values(item, f"{path}.{key_text}" if path else key_text))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems.extend(unsafe_values(item, f"{path}[{i}]"))
    return problems

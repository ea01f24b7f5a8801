"""Turn a form definition (JSON Schema from ``bpmn/forms/``) into fields the Jinja macros in
``macros.html`` render, and turn a submitted HTML form back into typed data for validation.

Labels and help come from ``title``/``description`` (English) or ``x-vi-title``/``x-vi-description``
(Vietnamese); ``x-ui.order`` and ``x-ui.widgets`` choose order and widgets; ``x-options-from`` and
``x-default-from`` read process variables (e.g. the consignment's containers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class Option:
    value: str
    label: str


@dataclass
class FieldView:
    """Everything the macro needs to render one field."""

    name: str
    label: str
    help: str
    widget: str  # text | textarea | number | datetime | checkbox | radio | select | checkboxes
    required: bool
    value: Any = None
    options: list[Option] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _text(spec: dict[str, Any], key: str, locale: str) -> str:
    if locale == "vi" and spec.get(f"x-vi-{key}"):
        return str(spec[f"x-vi-{key}"])
    return str(spec.get(key, ""))


def form_title(schema: dict[str, Any], locale: str) -> tuple[str, str]:
    return _text(schema, "title", locale), _text(schema, "description", locale)


def _widget(name: str, spec: dict[str, Any], widgets: dict[str, str]) -> str:
    chosen = widgets.get(name)
    kind = spec.get("type")
    if kind == "array":
        return "checkboxes"
    if chosen in ("radio", "select") or (spec.get("enum") is not None and chosen is None):
        return chosen or "select"
    if chosen == "checkbox" or kind == "boolean":
        return "checkbox"
    if chosen == "datetime" or spec.get("format") == "date-time":
        return "datetime"
    if kind in ("integer", "number"):
        return "number"
    if chosen == "textarea":
        return "textarea"
    return "text"


def _options(spec: dict[str, Any], locale: str, variables: dict[str, Any]) -> list[Option]:
    if spec.get("type") == "array":
        source = spec.get("x-options-from")
        values = variables.get(source, []) if source else (spec.get("items", {}).get("enum") or [])
        return [Option(str(v), str(v)) for v in values]
    values = spec.get("enum") or []
    titles = (
        spec.get("x-vi-enum-titles" if locale == "vi" else "x-enum-titles") or spec.get("x-enum-titles") or []
    )
    return [Option(_encode(v), str(titles[i]) if i < len(titles) else str(v)) for i, v in enumerate(values)]


def _encode(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _display(value: Any, widget: str) -> Any:
    """A stored value as the widget shows it."""
    if widget == "datetime" and isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if moment.tzinfo is None:  # typed into the form: already local time
            moment = moment.replace(tzinfo=LOCAL_TZ)
        return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")
    if widget in ("radio", "select"):
        return _encode(value)
    return value


def field_views(
    schema: dict[str, Any],
    locale: str,
    *,
    values: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> list[FieldView]:
    """The fields of ``schema`` in display order, filled with ``values`` (or defaults) and ``errors``."""
    properties: dict[str, Any] = schema.get("properties", {})
    ui = schema.get("x-ui") or {}
    order = [n for n in ui.get("order", []) if n in properties] + [
        n for n in properties if n not in ui.get("order", [])
    ]
    required = set(schema.get("required", []))
    variables = variables or {}
    views = []
    for name in order:
        spec = properties[name]
        widget = _widget(name, spec, ui.get("widgets", {}))
        if values is not None and name in values:
            value = values[name]
        elif spec.get("x-default-from"):
            value = variables.get(spec["x-default-from"])
        else:
            value = spec.get("default")
        attrs = {
            key: spec[src]
            for key, src in (
                ("min", "minimum"),
                ("max", "maximum"),
                ("minlength", "minLength"),
                ("maxlength", "maxLength"),
            )
            if src in spec
        }
        if spec.get("readOnly"):  # filled in by the portal (e.g. the reference of a record to countersign)
            attrs["readonly"] = True
        views.append(
            FieldView(
                name=name,
                label=_text(spec, "title", locale) or name,
                help=_text(spec, "description", locale),
                widget=widget,
                required=name in required and widget != "checkbox",
                value=_display(value, widget),
                options=_options(spec, locale, variables),
                attrs=attrs,
                error=(errors or {}).get(name),
            )
        )
    return views


def parse_submission(
    schema: dict[str, Any], form
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, str]]]:
    """Read an HTML form (a werkzeug MultiDict) into typed data.

    Returns ``(data, typed_back, errors)``: the data to validate, what to show again in the form, and the
    errors of values that could not even be converted (a word in a number field)."""
    properties: dict[str, Any] = schema.get("properties", {})
    widgets = (schema.get("x-ui") or {}).get("widgets", {})
    data: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for name, spec in properties.items():
        widget = _widget(name, spec, widgets)
        kind = spec.get("type")
        if widget == "checkboxes":
            chosen = [v for v in form.getlist(name) if v]
            data[name] = shown[name] = chosen
            continue
        if widget == "checkbox" and kind == "boolean":
            data[name] = shown[name] = form.get(name) in ("on", "true", "1")
            continue
        raw = (form.get(name) or "").strip()
        shown[name] = raw
        if raw == "":
            continue
        if kind == "boolean":
            if raw not in ("true", "false"):
                errors.append(
                    {"field": name, "reason": "must be true or false", "code": "type", "limit": "boolean"}
                )
                continue
            data[name] = raw == "true"
        elif kind == "integer":
            try:
                data[name] = int(raw)
            except ValueError:
                errors.append({"field": name, "reason": "must be a whole number", "code": "not_a_number"})
        elif kind == "number":
            try:
                data[name] = float(raw)
            except ValueError:
                errors.append(
                    {"field": name, "reason": "must be a number", "code": "type", "limit": "number"}
                )
        elif widget == "datetime":
            try:
                moment = datetime.fromisoformat(raw)
            except ValueError:
                errors.append({"field": name, "reason": "must be a date and time", "code": "not_a_time"})
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=LOCAL_TZ)
            data[name] = moment.isoformat()
        else:
            data[name] = raw
    return data, shown, errors

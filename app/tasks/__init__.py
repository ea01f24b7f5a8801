"""Service-task connectors, one module per outside system, registered by BPMN topic.

- `base`: the `Connector` protocol, `ConnectorError` (transient, retried) and `BusinessError` (a BPMN error)
- `port`: ``port.move_containers``
- `customs`: ``customs.lookup_declaration``, ``customs.clear``
- `payment`: ``payment.capture``
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from app.tasks.base import BusinessError, Connector, ConnectorError, HttpConnector
from app.tasks.customs import ClearGoods, LookupDeclaration
from app.tasks.payment import CaptureFee
from app.tasks.port import MoveContainers

__all__ = ["KNOWN_TOPICS", "BusinessError", "Connector", "ConnectorError", "build_registry"]

DEFAULT_TIMEOUT = 5.0

# topic -> (connector class, setting holding the outside system's base URL)
_CONNECTORS: dict[str, tuple[type[HttpConnector], str]] = {
    MoveContainers.topic: (MoveContainers, "PORT_URL"),
    LookupDeclaration.topic: (LookupDeclaration, "CUSTOMS_URL"),
    ClearGoods.topic: (ClearGoods, "CUSTOMS_URL"),
    CaptureFee.topic: (CaptureFee, "PAYMENT_URL"),
}

KNOWN_TOPICS: frozenset[str] = frozenset(_CONNECTORS)


def build_registry(settings: Mapping[str, object]) -> dict[str, Connector]:
    """Build one connector per topic, each with its own session.

    Reads ``PORT_URL``, ``CUSTOMS_URL``, ``PAYMENT_URL`` and ``CONNECTOR_TIMEOUT`` (seconds, default 5.0).

    :raises ValueError: when a URL is missing or not http(s), or the timeout is not a positive number.
    """
    timeout = _timeout(settings.get("CONNECTOR_TIMEOUT", DEFAULT_TIMEOUT))
    return {topic: cls(_base_url(settings, key), timeout) for topic, (cls, key) in _CONNECTORS.items()}


def _base_url(settings: Mapping[str, object], key: str) -> str:
    value = settings.get(key)
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"setting {key} must be an http(s) base URL")
    return str(value)


def _timeout(value: object) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("setting CONNECTOR_TIMEOUT must be a number of seconds")
    try:
        seconds = float(value)
    except ValueError as exc:
        raise ValueError("setting CONNECTOR_TIMEOUT must be a number of seconds") from exc
    if not seconds > 0:
        raise ValueError("setting CONNECTOR_TIMEOUT must be positive")
    return seconds

"""The connector contract: the `Connector` protocol, its two error kinds, the shared JSON-over-HTTP call."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests

log = logging.getLogger(__name__)

# 4xx answers that are not the outside system's business "no": wrong URL or method, credentials refused,
# "try again later". They go the ConnectorError way (retries, then an incident an operator sees) so that a
# misconfiguration never turns into a BPMN error the model might catch as a business outcome.
_NOT_A_BUSINESS_ANSWER = frozenset({401, 403, 404, 405, 407, 408, 425, 429})


class ConnectorError(Exception):
    """A transient failure (network error, timeout, 5xx, unreadable answer): the worker retries the job."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BusinessError(Exception):
    """The outside system said no (a 4xx with an error code): not retried; the model catches a BPMN error."""

    def __init__(self, code: str, message: str = "", *, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status


class Connector(Protocol):
    """What the worker calls for a service-task job of one topic."""

    topic: str

    def call(self, inputs: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Do the outside call and return the task's result data.

        :raises ConnectorError: on a transient failure.
        :raises BusinessError: when the outside system refuses the request.
        """
        ...


class HttpConnector:
    """Base for connectors that POST JSON to one outside system; owns its own `requests.Session`."""

    topic: str = ""

    def __init__(self, base_url: str, timeout: float, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session if session is not None else environment_once(requests.Session(), base_url)

    def post(self, path: str, payload: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """POST `payload` to `path` under the base URL; see `post_json`."""
        return post_json(self.session, f"{self.base_url}{path}", payload, idempotency_key, self.timeout)

    def close(self) -> None:
        """Release the pooled connections."""
        self.session.close()


def environment_once(session: requests.Session, base_url: str) -> requests.Session:
    """Read what the environment says about ``base_url`` (``HTTP(S)_PROXY`` / ``NO_PROXY``,
    ``REQUESTS_CA_BUNDLE``, ``~/.netrc``) once, into the session, instead of on every call.

    With ``trust_env`` on, requests looks all of it up again for each request: about 0.5 ms of the
    worker's CPU per connector call here (1.7 against 1.2 ms per call). The variables are read when the
    worker starts, which is when a deployment sets them."""
    settings = session.merge_environment_settings(base_url, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    session.cert = settings["cert"]
    netrc = requests.utils.get_netrc_auth(base_url)
    if netrc:
        session.auth = netrc
    session.trust_env = False
    return session


def post_json(
    session: requests.Session,
    url: str,
    payload: dict[str, Any],
    idempotency_key: str,
    timeout: float,
) -> dict[str, Any]:
    """Send `payload` as JSON with an ``Idempotency-Key`` header and return the JSON object answered.

    Only the URL (without credentials or query), the status, the key and the duration are logged.

    :raises ConnectorError: network error, timeout, 5xx, redirect, an answer that is not a JSON object, or
        a 4xx that is about the call rather than the business (401, 403, 404, 405, 407, 408, 425, 429).
    :raises BusinessError: any other 4xx answer carrying ``{"error": code, "message": ...}``.
    """
    where = redact_url(url)
    started = time.monotonic()
    try:
        response = session.post(
            url,
            json=payload,
            headers={"Idempotency-Key": idempotency_key},
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout as exc:
        log.debug("POST %s timed out after %.1f s (key %s)", where, timeout, idempotency_key)
        raise ConnectorError(f"no answer from {where} within {timeout:g} s") from exc
    except requests.RequestException as exc:
        log.debug("POST %s failed: %s (key %s)", where, type(exc).__name__, idempotency_key)
        raise ConnectorError(f"cannot reach {where} ({type(exc).__name__})") from exc

    status = response.status_code
    log.debug(
        "POST %s -> %s in %.0f ms (key %s)",
        where,
        status,
        (time.monotonic() - started) * 1000,
        idempotency_key,
    )
    body = _json_object(response)
    if 200 <= status < 300:
        if body is None:
            raise ConnectorError(f"{where} answered {status} without a JSON object", status=status)
        return body
    code = body.get("error") if body is not None else None
    if 400 <= status < 500 and status not in _NOT_A_BUSINESS_ANSWER and isinstance(code, str) and code:
        message = body.get("message") if body is not None else None
        raise BusinessError(code, message if isinstance(message, str) else "", status=status)
    detail = f" ({code})" if isinstance(code, str) and code else ""
    raise ConnectorError(f"{where} answered {status}{detail}", status=status)


def require_fields(topic: str, values: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """Pick `names` from a job's inputs; a missing one is a model bug, not something a retry fixes.

    :raises ValueError: naming the topic and the missing inputs.
    """
    missing = [name for name in names if values.get(name) in (None, "")]
    if missing:
        raise ValueError(f"{topic}: missing input(s) {', '.join(missing)}")
    return {name: values[name] for name in names}


def expect_fields(where: str, answer: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """Pick `names` from an outside system's answer.

    :raises ConnectorError: when the answer lacks one (the remote broke its contract; an operator looks).
    """
    missing = [name for name in names if name not in answer]
    if missing:
        raise ConnectorError(f"{where}: answer lacks {', '.join(missing)}")
    return {name: answer[name] for name in names}


def redact_url(url: str) -> str:
    """Return `url` without user info, query or fragment, fit for logs and error messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None

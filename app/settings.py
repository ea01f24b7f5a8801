"""Portal settings: one typed object read from environment variables (``PORTAL_*``) with safe defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from datetime import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'instance' / 'portal.db'}"


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one portal deployment."""

    database_url: str = field(default_factory=_default_database_url)
    secret_key: str = ""  # empty: a random key per process (set PORTAL_SECRET_KEY for web sessions)
    bundle_dir: Path = PROJECT_ROOT / "bpmn"
    seed_dir: Path = PROJECT_ROOT / "config"
    # The sample consignments the studio's trial run uses (the domain reference); when the file is
    # missing the trial falls back to config/demo_consignments.json and says so.
    sample_consignments: Path = PROJECT_ROOT.parent / "shared" / "domain" / "consignments.json"
    # "system" follows the real clock; "simulated" reads a clock stored in the database that tests,
    # the demo and the simulator move forward instead of sleeping.
    clock: str = "system"
    simulated_clock_start: str = "2026-12-07T08:00:00+07:00"
    office_start: time = time(7, 30)
    office_end: time = time(17, 0)
    timezone: str = "Asia/Ho_Chi_Minh"
    stalled_after_working_hours: float = 16.0
    port_url: str = "http://127.0.0.1:5101"
    customs_url: str = "http://127.0.0.1:5102"
    payment_url: str = "http://127.0.0.1:5103"
    connector_timeout: float = 5.0
    job_max_attempts: int = 5
    job_backoff_seconds: float = 1.0
    job_lock_seconds: float = 60.0
    worker_poll_seconds: float = 0.2
    max_request_bytes: int = 2 * 1024 * 1024  # API bodies
    max_upload_bytes: int = 10 * 1024 * 1024  # one attachment on a task form
    max_uploads_per_form: int = 10
    # Web sessions: set PORTAL_SECURE_COOKIES=true behind HTTPS.
    secure_cookies: bool = False
    # Where Flask-Limiter counts sign-in attempts; memory:// counts per process (redis://host:6379 to share).
    ratelimit_storage: str = "memory://"
    login_rate_limit: str = "10 per minute"
    # SMTP for notification e-mails; an empty host keeps e-mails in the outbox (shown on the admin page).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_sender: str = "cong-thong-tin@catlai.example"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    # Signatures (app/signing). The demo PKI lives in pki_dir; its CA and seal keys are encrypted with
    # pki_passphrase, which also peppers the users' PIN-wrapped keys: set PORTAL_PKI_PASSPHRASE in
    # production. Production trusts real CAs: point pki_trust_anchors (root certificates) and
    # pki_intermediates (issuing CAs) at PEM files; empty means the demo PKI's own files.
    pki_dir: Path = PROJECT_ROOT / "instance" / "pki"
    pki_passphrase: str = "catlai-demo-pki"  # noqa: S105 - demo default, documented
    pki_trust_anchors: str = ""
    pki_intermediates: str = ""
    pki_require_crl: bool = False  # refuse certificates whose issuer has no loaded CRL
    pki_system_organization: str = "PORTAL"  # whose seal signs system decisions (clearance)
    signing_window_seconds: float = 600.0  # how far a client's signed_at may be from the portal clock
    # A developer's measurement (app/cpu_probe.py): when set, each process records the CPU time of its
    # commands and requests and writes them into this folder when it exits. bench/throughput.py sets it.
    cpu_probe_dir: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``PORTAL_<NAME>`` variables, then apply explicit overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"PORTAL_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _coerce(f.name, raw, getattr(cls(), f.name))
        return replace(cls(**values), **overrides)  # type: ignore[arg-type]

    def connector_settings(self) -> dict[str, object]:
        """Return the mapping the connector registry reads."""
        return {
            "PORT_URL": self.port_url,
            "CUSTOMS_URL": self.customs_url,
            "PAYMENT_URL": self.payment_url,
            "CONNECTOR_TIMEOUT": self.connector_timeout,
        }


def _coerce(name: str, raw: str, default: object) -> object:
    if isinstance(default, bool):
        return raw.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, Path):
        return Path(raw)
    if isinstance(default, time):
        return time.fromisoformat(raw)
    return raw

"""The ``portal`` command line: set up the database, deploy and validate models, run the web server,
the worker or the whole stack, drive the demo, move the simulated clock, verify the audit trail.

Every error ends in a one-line message and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import click

from app.settings import PROJECT_ROOT, Settings


class PortalGroup(click.Group):
    """Turn expected failures into a clear message and exit code 1."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import OperationalError, ProgrammingError

        from app.engine.bundle import BundleInvalid
        from app.engine.errors import PortalError

        try:
            return super().invoke(ctx)
        except BundleInvalid as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            ctx.exit(1)
        except PortalError as exc:
            click.echo(f"error: {exc.message}" + (f" (field: {exc.field})" if exc.field else ""), err=True)
            ctx.exit(1)
        except (OperationalError, ProgrammingError) as exc:
            click.echo(f"error: database unavailable or not initialized: {exc.orig}", err=True)
            ctx.exit(1)


@click.group(cls=PortalGroup)
def main() -> None:
    """Cat Lai specialized inspection portal."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _portal():
    from app.services import build_portal

    return build_portal(Settings.from_env())


@main.command("init-db")
@click.option("--demo/--no-demo", default=True, help="Load the demo organizations and users from config/.")
def init_db(demo: bool) -> None:
    """Create or upgrade the schema, load the seed data and deploy bpmn/ if it changed."""
    settings = Settings.from_env()
    initialize(settings, demo)
    click.echo(f"database ready: {_safe_url(settings.database_url)}")


def initialize(settings: Settings, demo: bool = True) -> None:
    from app.engine.bundle import load_bundle
    from app.engine.clock import SimulatedClock
    from app.engine.commands import DeployBundle
    from app.engine.executor import Actor
    from app.migrate import upgrade
    from app.seed import load_seed
    from app.services import build_portal
    from app.tasks import KNOWN_TOPICS

    upgrade(settings.database_url)
    portal = build_portal(settings)
    try:
        if demo:
            from app.signing.pki import init_pki, issue_demo_certificates

            with portal.db.write_session.begin() as session:
                load_seed(session, settings.seed_dir / "seed.json")
            with portal.db.write_session.begin() as session:
                init_pki(session, settings)  # demo CAs and seals; signing users get PIN 123456
                issue_demo_certificates(session, settings)
        if isinstance(portal.clock, SimulatedClock):
            portal.clock.initialize()
        portal.execute(
            DeployBundle(
                load_bundle(settings.bundle_dir),
                note="deployed by init-db",
                known_topics=KNOWN_TOPICS,
                only_if_changed=True,
            ),
            Actor("init-db", None, "admin"),
        )
    finally:
        portal.close()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# -- models ---------------------------------------------------------------------------------------
@main.group()
def model() -> None:
    """Validate, deploy and list process model versions."""


@model.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print problems as JSON.")
def model_validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check bundles or files; exit 1 when any problem is found."""
    from app.engine.bundle import BundleInvalid, Problem, compile_bundle, load_bundle
    from app.engine.commands.messages import KNOWN_MESSAGES
    from app.tasks import KNOWN_TOPICS

    problems: list[Problem] = []
    for path in paths:
        if not path.exists():
            problems.append(Problem(str(path), "no such file or folder", 1))
            continue
        try:
            compile_bundle(load_bundle(path), known_topics=KNOWN_TOPICS, known_messages=KNOWN_MESSAGES)
        except BundleInvalid as exc:
            problems.extend(exc.problems)
        except Exception as exc:  # the validator must never crash on odd input
            problems.append(Problem(str(path), f"cannot be read as a model: {type(exc).__name__}: {exc}", 1))
    if as_json:
        click.echo(json.dumps({"valid": not problems, "problems": [p.as_dict() for p in problems]}, indent=1))
    else:
        for problem in problems:
            click.echo(str(problem))
        if not problems:
            click.echo("valid")
    sys.exit(1 if problems else 0)


@model.command("deploy")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--note", default="", help="What changed, for the version list.")
def model_deploy(path: Path, note: str) -> None:
    """Deploy a bundle as a new immutable version."""
    from app.engine.bundle import load_bundle
    from app.engine.commands import DeployBundle
    from app.engine.executor import Actor
    from app.tasks import KNOWN_TOPICS

    portal = _portal()
    version = portal.execute(
        DeployBundle(load_bundle(path), note=note, known_topics=KNOWN_TOPICS), Actor("cli", None, "analyst")
    )
    click.echo(f"deployed version {version.version} ({version.checksum[:12]})")


@model.command("versions")
def model_versions() -> None:
    """List deployed versions."""
    from sqlalchemy import select

    from app.models import ModelVersion

    with _portal().db.session() as session:
        for v in session.scalars(select(ModelVersion).order_by(ModelVersion.version)):
            click.echo(f"{v.version:>4}  {v.deployed_at:%Y-%m-%d %H:%M}  {v.deployed_by:<12} {v.note}")


@model.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def model_diff(old: str, new: str, as_json: bool) -> None:
    """Compare two versions (numbers) or bundle folders: elements, forms and decision rules."""
    from app.engine.versions_diff import diff_snapshots, render_text

    portal = []  # built only when a version number is given
    snapshots = [_model_snapshot(arg, name, portal) for arg, name in ((old, "OLD"), (new, "NEW"))]
    difference = diff_snapshots(*snapshots)
    if as_json:
        click.echo(json.dumps(difference.as_dict(), indent=1, ensure_ascii=False, default=str))
    else:
        click.echo(render_text(difference))


def _model_snapshot(arg: str, name: str, portal: list):
    """A deployed version (a number) or a bundle folder or file (a path), ready to compare."""
    from app.engine.bundle import load_bundle
    from app.engine.commands.migration import model_version
    from app.engine.versions_diff import snapshot_of_bundle, snapshot_of_version

    if arg.isdigit():
        if not portal:
            portal.append(_portal())
        with portal[0].db.session() as session:
            version = model_version(session, int(arg))
            return snapshot_of_version(
                f"version {version.version}", version.spec_json, version.forms, version.files
            )
    path = Path(arg)
    if not path.exists():
        raise click.BadParameter(f"{arg!r} is neither a version number nor a bundle folder", param_hint=name)
    return snapshot_of_bundle(f"bundle {arg}", load_bundle(path))


@model.command("migrate")
@click.option("--from", "from_version", type=int, required=True, help="Version the consignments run on.")
@click.option("--to", "to_version", type=int, required=True, help="Version to move them to.")
@click.option("--dry-run", is_flag=True, help="Only list which consignments can move and why not.")
@click.option(
    "--consignment",
    "consignments",
    multiple=True,
    metavar="DECLARATION_NO",
    help="Move only these consignments (declaration number or id; repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def model_migrate(
    from_version: int, to_version: int, dry_run: bool, consignments: tuple[str, ...], as_json: bool
) -> None:
    """Move running consignments to another version; print movable, not movable (why) and moved."""
    from app.engine.executor import Actor
    from app.engine.migration_runs import run_migration

    report = run_migration(
        _portal(), from_version, to_version, consignments, Actor("cli", None, "analyst"), dry_run
    )
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=1, ensure_ascii=False))
    else:
        click.echo(_migration_summary(report))
    incomplete = report.failed or report.preview.unknown or (consignments and report.preview.not_movable)
    sys.exit(1 if incomplete else 0)


def _migration_summary(report) -> str:
    preview = report.preview
    title = f"Migration from version {preview.from_version} to version {preview.to_version}"
    lines = [f"{title}{' (dry run)' if report.dry_run else ''}: {len(preview.verdicts)} running consignments"]
    lines.append(f"  movable: {len(preview.movable)}")
    notes: dict[str, int] = {}
    for verdict in preview.movable:
        for note in verdict.notes:
            key = note.split("; this wait")[0]  # waits keep their own due times: count them together
            notes[key] = notes.get(key, 0) + 1
    lines += [f"    {note}  ({count})" for note, count in notes.items()]
    lines.append(f"  not movable: {len(preview.not_movable)}")
    for verdict in preview.not_movable:
        lines.append(f"    {verdict.declaration_no}  at {verdict.current_step or '?'}")
        lines += [f"      {reason}" for reason in verdict.reasons]
    for wanted in preview.unknown:
        lines.append(f"  not found on version {preview.from_version} or not running: {wanted}")
    if report.dry_run:
        lines.append("  dry run: nothing moved")
    else:
        lines.append(f"  moved: {len(report.moved)} in {report.seconds:.1f} s")
        lines.append(f"  failed: {len(report.failed)}")
        lines += [f"    {number}: {why}" for number, why in report.failed.items()]
    return "\n".join(lines)


# -- processes ------------------------------------------------------------------------------------
@main.command()
def worker() -> None:
    """Run the worker until SIGTERM/SIGINT: jobs, timers, stalled consignments."""
    from app.tasks import build_registry
    from app.worker import Worker

    logging.getLogger("app").setLevel(logging.INFO)
    portal = _portal()
    portal.warm_up()
    runner = Worker(portal, build_registry(portal.settings.connector_settings()))
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    runner.start()
    ready = os.environ.get("PORTAL_WORKER_READY_FILE")
    if ready:  # tell whoever started this process (app.stack.Stack) that jobs and timers now run
        Path(ready).write_text(str(os.getpid()), encoding="utf-8")
    while not stopping:
        time.sleep(0.2)
    runner.stop()


@main.command()
@click.option("--web-port", default=5000, show_default=True)
@click.option(
    "--clock",
    type=click.Choice(["system", "simulated"]),
    default=None,
    help="Default: PORTAL_CLOCK or system.",
)
@click.option(
    "--demo-data/--no-demo-data",
    default=True,
    show_default=True,
    help="On a database without consignments, register the ten demo consignments and play each up to "
    "a different step (app/demo_stages.py), so every role finds work.",
)
def run(web_port: int, clock: str | None, demo_data: bool) -> None:
    """Initialize the database and start web, worker and simulators; Ctrl-C stops everything."""
    import requests

    from app.demo_stages import DemoError, stage_demo_consignments
    from app.stack import Stack

    settings = Settings.from_env()
    initialize(settings, demo=True)
    stack = Stack(
        settings.database_url,
        clock=clock or settings.clock,
        web_port=web_port,
        port_delay=2.0,
        log_dir=PROJECT_ROOT / "instance" / "logs",
        secret_key=settings.secret_key or _instance_secret(),
    )
    stack.start()
    seed = json.loads((settings.seed_dir / "seed.json").read_text(encoding="utf-8"))
    click.echo(
        f"\nPortal      {stack.urls['web']}/login   (API: {stack.urls['web']}/api/v1, "
        f"OpenAPI: {stack.urls['web']}/api/v1/openapi.json)"
    )
    for kind in ("port", "customs", "payment"):
        click.echo(f"{kind.capitalize():<11} {stack.urls[kind]}  (simulator)")
    click.echo(f"Logs        {PROJECT_ROOT / 'instance' / 'logs'}")
    click.echo(f"\nDemo users (password '{seed['demo_password']}', API token 'demo-<username>'):")
    for user in seed["users"]:
        if user["organization"] in ("02CI", "SNP", "RAHO6", "NAFIQAD", "PPSD2", "T01", "PORTAL"):
            click.echo(f"  {user['username']:<18} {user['role']:<16} {user['organization']}")
    click.echo("  ... and one per role for every agency, branch and trader (config/seed.json)")
    click.echo("Signed steps: demo officers, branch heads and traders sign with the PIN 123456.\n")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:  # from here on, Ctrl-C (also while the demo data is staged) stops every process
        if demo_data:
            click.echo("Staging the demo consignments (config/demo_consignments.json) ...")
            try:
                click.echo(stage_demo_consignments(stack.urls["web"], seed).render() + "\n")
            except (DemoError, requests.RequestException) as exc:  # the portal itself keeps running
                click.echo(f"Demo consignments not staged: {exc}\n", err=True)
        click.echo("Ctrl-C to stop.")
        while not stopping:
            for name, proc in stack.processes.items():
                if proc.poll() is not None:
                    click.echo(f"{name} exited ({proc.returncode}); stopping", err=True)
                    stopping.append(1)
                    break
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping...")
        stack.stop()


def _instance_secret() -> str:
    """The key that signs web sessions, kept in instance/ so sign-ins survive a restart."""
    path = PROJECT_ROOT / "instance" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


@main.command()
@click.option("--consignments", "count", default=10, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--url",
    default=None,
    help="Drive a running portal (needs PORTAL_CLOCK=simulated) instead of "
    "starting a fresh one on a temporary database.",
)
@click.option(
    "--seed",
    "random_seed",
    default=2016,
    show_default=True,
    help="Seed for generated consignments and for how long each party takes.",
)
@click.option(
    "--pace",
    type=click.Choice(["realistic", "instant"]),
    default="realistic",
    show_default=True,
    help="realistic: each party takes drawn working hours to act (some late, raising SLA escalations); "
    "instant: every party acts at once.",
)
def demo(count: int, url: str | None, random_seed: int, pace: str) -> None:
    """Drive COUNT consignments through the whole procedure over the HTTP API and summarize."""
    import requests

    from app.demo import DemoError, run_demo

    try:
        summary = run_demo(count, url=url, random_seed=random_seed, pace=pace)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    except requests.ConnectionError:
        raise click.ClickException(f"cannot reach the portal at {url}") from None
    click.echo(summary.render())
    sys.exit(0 if summary.unfinished == 0 else 1)


@main.group()
def clock() -> None:
    """Show or move the simulated clock."""


@clock.command("show")
def clock_show() -> None:
    click.echo(_portal().clock.now().isoformat())


@clock.command("advance")
@click.argument("hours", type=click.FloatRange(0, 24 * 366))
def clock_advance(hours: float) -> None:
    from app.engine.clock import SimulatedClock

    portal = _portal()
    if not isinstance(portal.clock, SimulatedClock):
        raise click.ClickException("the clock can only be moved when PORTAL_CLOCK=simulated")
    click.echo(portal.clock.advance(timedelta(hours=hours)).isoformat())


@main.group()
def audit() -> None:
    """Check the audit trail and export evidence."""


@audit.command("verify")
@click.option("--no-signatures", is_flag=True, help="Check only the hash chain, not the signatures.")
def audit_verify(no_signatures: bool) -> None:
    """Re-check the whole hash chain and every stored signature; print the first broken link, exit 1."""
    from app.engine.audit import verify_chain
    from app.signing.service import StoredSignatureCheck

    portal = _portal()
    started = time.monotonic()
    with portal.db.session() as session:
        check = None if no_signatures else StoredSignatureCheck(session, portal.settings)
        report = verify_chain(session, check)
    if report.broken is not None:
        click.echo(report.broken.describe(), err=True)
        sys.exit(1)
    click.echo(
        f"audit trail intact: {report.events} events, {report.signed} signed"
        + (" (signatures not checked)" if no_signatures else ", every signature verified")
        + f", {time.monotonic() - started:.1f} s"
    )


@audit.command("export")
@click.argument("declaration_no")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def audit_export(declaration_no: str, out_dir: Path) -> None:
    """Write the evidence bundle of one consignment (events, signatures, certificates, signed notice)."""
    from app.signing.export import export_evidence

    portal = _portal()
    with portal.db.session() as session:
        written = export_evidence(session, portal.settings, declaration_no, out_dir)
    click.echo(f"evidence for {declaration_no} in {out_dir}: {', '.join(written)}")


# -- PKI ------------------------------------------------------------------------------------------------
def _pki_admin():
    from app.engine.executor import Actor

    return Actor("cli", None, "admin")


@main.group()
def pki() -> None:
    """Certificates for signatures: the demo CAs, users' signing certificates, revocation lists."""


@pki.command("init")
def pki_init() -> None:
    """Create the demo root CA, one issuing CA and seal per organization (keys encrypted at rest)."""
    from app.signing.pki import init_pki

    portal = _portal()
    with portal.db.write_session.begin() as session:
        report = init_pki(session, portal.settings)
    click.echo(
        f"PKI in {portal.settings.pki_dir}: root CA {'created' if report.created_root else 'kept'}, "
        f"{len(report.created_cas)} issuing CAs and {len(report.created_seals)} seals created"
    )


@pki.command("issue")
@click.argument("username")
@click.option("--pin", default=None, help="The user's signing PIN (asked for when omitted).")
@click.option("--csr", "csr_file", default=None, help="Certify the key of this PEM CSR (the user keeps it).")
@click.option("--days", default=730, show_default=True, type=click.IntRange(1, 3650))
@click.option("--out", "out_file", default=None, type=click.Path(dir_okay=False, path_type=Path))
def pki_issue(username: str, pin: str | None, csr_file: str | None, days: int, out_file: Path | None) -> None:
    """Issue a signing certificate to USERNAME (remote signing with a PIN, or from a CSR)."""
    from app.engine.commands.pki import IssueCertificate
    from app.signing.pki import check_pin

    csr = None
    if csr_file is not None:
        csr = _read_input(csr_file, field="csr")
    elif pin is None:
        pin = click.prompt("Signing PIN", hide_input=True, confirmation_prompt=True)
    if csr is None:
        check_pin(pin)
    portal = _portal()
    issued = portal.execute(IssueCertificate(username, pin=pin, csr_pem=csr, days=days), _pki_admin())
    if out_file is not None:
        out_file.write_text(_pem(issued.der))
    click.echo(f"issued {issued.subject} serial {issued.serial}, valid until {issued.not_after:%Y-%m-%d}")


@pki.command("register")
@click.argument("username")
@click.argument("cert_file")
def pki_register(username: str, cert_file: str) -> None:
    """Register a certificate a trusted CA issued to USERNAME (PEM, optionally with its issuing CAs)."""
    from app.engine.commands.pki import RegisterCertificate

    pem = _read_input(cert_file, field="cert_file")
    registered = _portal().execute(RegisterCertificate(username, pem), _pki_admin())
    click.echo(f"registered {registered.subject} for {username}")


def _read_input(path: str, *, field: str) -> bytes:
    """The bytes of a file a PKI command was given, or a one-line error naming the field."""
    from app.signing.errors import PkiError

    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise PkiError(f"cannot read {path}: {exc.strerror or exc}", field=field) from None


@pki.command("revoke")
@click.argument("username")
def pki_revoke(username: str) -> None:
    """Revoke USERNAME's current signing certificate (demo CAs) and load the new CRL."""
    from app.engine.commands.pki import RevokeCertificate

    revoked, path = _portal().execute(RevokeCertificate(username), _pki_admin())
    click.echo(f"revoked serial {revoked.serial}; CRL written to {path} and loaded")


@pki.group("crl")
def pki_crl() -> None:
    """Certificate revocation lists."""


@pki_crl.command("load")
@click.argument("crl_file")
def pki_crl_load(crl_file: str) -> None:
    """Check CRL_FILE (PEM or DER) against its CA and use it for every revocation check from now on."""
    from app.engine.commands.pki import LoadCrl

    data = _read_input(crl_file, field="file")
    loaded = _portal().execute(LoadCrl(data, crl_file), _pki_admin())
    click.echo(f"loaded CRL of {loaded.issuer}: {loaded.revoked} revoked certificates")
    if loaded.expired:
        click.echo(
            f"warning: this CRL expired on {loaded.next_update:%Y-%m-%d %H:%M} UTC (its nextUpdate); "
            "load a current one",
            err=True,
        )


def _pem(der: bytes) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode("ascii")


@main.group()
def reports() -> None:
    """The manager dashboard's running totals."""


@reports.command("rebuild")
def reports_rebuild() -> None:
    """Recompute the dashboard's running totals from the projections."""
    from app.engine.commands.reporting import RebuildStatistics

    counted = _portal().execute(RebuildStatistics())
    click.echo(
        f"counted {counted['timeline']} step durations, {counted['work_items']} tasks with a deadline, "
        f"{counted['cleared']} cleared consignments"
    )


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli")
def token_create(username: str, name: str) -> None:
    """Issue a new API token for USERNAME (shown once; only its hash is stored)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from app.models import ApiToken, User
    from app.security.credentials import hash_token, new_api_token

    portal = _portal()
    with portal.db.write_session.begin() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        value = new_api_token()
        session.add(
            ApiToken(user_id=user.id, token_hash=hash_token(value), name=name, created_at=datetime.now(UTC))
        )
    click.echo(value)


if __name__ == "__main__":
    main()

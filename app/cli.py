"""The ``portal`` command line: set up the database, deploy and validate models, run the web server,
the worker or the whole stack, drive the demo, move the simulated clock, verify the audit trail.

Every error ends in a one-line message and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import logging
import os
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
        from sqlalchemy.exc import OperationalError

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
        except OperationalError as exc:
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
            with portal.db.write_session.begin() as session:
                load_seed(session, settings.seed_dir / "seed.json")
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
    from app.tasks import KNOWN_TOPICS

    problems: list[Problem] = []
    for path in paths:
        if not path.exists():
            problems.append(Problem(str(path), "no such file or folder"))
            continue
        try:
            compile_bundle(load_bundle(path), known_topics=KNOWN_TOPICS)
        except BundleInvalid as exc:
            problems.extend(exc.problems)
        except Exception as exc:  # the validator must never crash on odd input
            problems.append(Problem(str(path), f"cannot be read as a model: {type(exc).__name__}: {exc}"))
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
def run(web_port: int, clock: str | None) -> None:
    """Initialize the database and start web, worker and simulators; Ctrl-C stops everything."""
    from app.stack import Stack

    settings = Settings.from_env()
    initialize(settings, demo=True)
    stack = Stack(
        settings.database_url,
        clock=clock or settings.clock,
        web_port=web_port,
        port_delay=2.0,
        log_dir=PROJECT_ROOT / "instance" / "logs",
    )
    stack.start()
    seed = json.loads((settings.seed_dir / "seed.json").read_text(encoding="utf-8"))
    click.echo(
        f"\nPortal      {stack.urls['web']}   (API: {stack.urls['web']}/api/v1, "
        f"OpenAPI: {stack.urls['web']}/api/v1/openapi.json)"
    )
    for kind in ("port", "customs", "payment"):
        click.echo(f"{kind.capitalize():<11} {stack.urls[kind]}  (simulator)")
    click.echo(f"Logs        {PROJECT_ROOT / 'instance' / 'logs'}")
    click.echo(f"\nDemo users (password '{seed['demo_password']}', API token 'demo-<username>'):")
    for user in seed["users"]:
        if user["organization"] in ("02CI", "SNP", "RAHO6", "NAFIQAD", "PPSD2", "T01", "PORTAL"):
            click.echo(f"  {user['username']:<18} {user['role']:<16} {user['organization']}")
    click.echo("  ... and one per role for every agency, branch and trader (config/seed.json)\n")
    click.echo("Ctrl-C to stop.")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
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


@main.command()
@click.option("--consignments", "count", default=10, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--url",
    default=None,
    help="Drive a running portal (needs PORTAL_CLOCK=simulated) instead of "
    "starting a fresh one on a temporary database.",
)
@click.option(
    "--seed", "random_seed", default=2016, show_default=True, help="Seed for generated consignments."
)
def demo(count: int, url: str | None, random_seed: int) -> None:
    """Drive COUNT consignments through the whole procedure over the HTTP API and summarize."""
    from app.demo import run_demo

    summary = run_demo(count, url=url, random_seed=random_seed)
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
    """Check the audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Re-check the whole hash chain; print the first broken link and exit 1 if any."""
    from app.engine.audit import verify_chain

    with _portal().db.session() as session:
        broken = verify_chain(session)
    if broken is not None:
        click.echo(
            f"broken at audit event {broken.id} ({broken.action} at {broken.at.isoformat()})", err=True
        )
        sys.exit(1)
    click.echo("audit trail intact")


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

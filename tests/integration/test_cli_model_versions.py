"""``portal model diff`` and ``portal model migrate`` on a real SQLite database: the readable diff of
two versions or bundle folders, a dry run that lists who can move and why not, moving chosen
consignments, and a clear one-line error with exit code 1 (bad values) or 2 (bad usage), never a
traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from app.cli import main
from app.consignments.registration import parse_registration
from app.engine.commands import ClaimDueJobs, CompleteJob, RegisterConsignment
from app.engine.executor import Actor
from app.services import build_portal
from app.settings import PROJECT_ROOT, Settings
from tests.model_versions import version_2, write_bundle
from tests.procedure import registration

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def version_2_folder(tmp_path):
    return write_bundle(version_2(), tmp_path / "bundle-v2")


@pytest.fixture
def database(sqlite_url, monkeypatch):
    monkeypatch.setenv("PORTAL_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("PORTAL_CLOCK", raising=False)
    return sqlite_url


def portal_cli(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.fixture
def deployed(database, version_2_folder):
    result = portal_cli("model", "deploy", str(version_2_folder), "--note", "version 2")
    assert result.exit_code == 0, result.output
    return database


@pytest.fixture
def running(database, version_2_folder):
    """Three consignments on version 1: one at nomination (removed in version 2), two that can move;
    then version 2 is deployed."""
    portal = build_portal(Settings(database_url=database))
    numbers = {}
    try:
        for demo in ("C03", "C01", "C10"):
            payload = dict(registration(demo), trader=f"T{demo[1:]}")
            numbers[demo] = payload["declaration_no"]
            portal.execute(RegisterConsignment(parse_registration(payload)), Actor("admin", None, "admin"))
        for ticket in portal.execute(ClaimDueJobs("cli-test", limit=100)):
            portal.execute(CompleteJob(ticket.id, "cli-test", {"status": "accepted"}))
    finally:
        portal.close()
    assert portal_cli("model", "deploy", str(version_2_folder), "--note", "version 2").exit_code == 0
    return numbers


# -- diff ---------------------------------------------------------------------------------------------------
def test_diff_of_two_bundle_folders_needs_no_database(version_2_folder):
    result = portal_cli("model", "diff", str(PROJECT_ROOT / "bpmn"), str(version_2_folder))
    assert result.exit_code == 0, result.output
    assert '  - user task nominate_containers "Nominate containers for inspection"' in result.output
    assert "      + field seal_photo_ref (string, optional)" in result.output


def test_diff_of_two_deployed_versions(deployed):
    result = portal_cli("model", "diff", "1", "2")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("version 1 -> version 2\nElements: 2 added, 1 removed, 4 changed\n")
    data = json.loads(portal_cli("model", "diff", "1", "2", "--json").output)
    assert {e["element_id"] for e in data["elements"]} >= {"nominate_containers", "payment_sla"}
    assert data["decisions"][0]["rules"][0]["rule_id"] == "Rule_fee_03"


def test_diff_of_a_version_with_a_bundle_folder(deployed, version_2_folder):
    assert "no differences" in portal_cli("model", "diff", "2", str(version_2_folder)).output


def test_diff_with_an_unknown_version(deployed):
    result = portal_cli("model", "diff", "1", "7")
    assert result.exit_code == 1
    assert result.output.strip() == "error: no model version 7 (deployed: 1, 2) (field: version)"


def test_diff_with_something_that_is_neither_a_version_nor_a_folder(deployed):
    result = portal_cli("model", "diff", "first", "2")
    assert result.exit_code == 2
    assert "'first' is neither a version number nor a bundle folder" in result.output


def test_diff_with_an_invalid_bundle_lists_its_problems(tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(PROJECT_ROOT / "bpmn", folder)
    bpmn = folder / "specialized_inspection.bpmn"
    port_timer = "hours_after(registered_at, 12)</bpmn:timeDate>"
    bpmn.write_text(bpmn.read_text().replace(port_timer, "PT12H</bpmn:timeDate>"), encoding="utf-8")
    result = portal_cli("model", "diff", str(PROJECT_ROOT / "bpmn"), str(folder))
    assert result.exit_code == 1
    assert "port_move_sla: timer 'PT12H' is read as Python" in result.output


# -- migrate ------------------------------------------------------------------------------------------------
def test_dry_run_lists_who_can_move_and_why_not(running):
    result = portal_cli("model", "migrate", "--from", "1", "--to", "2", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Migration from version 1 to version 2 (dry run): 3 running consignments"
    assert "  movable: 2" in lines and "  not movable: 1" in lines
    assert f"    {running['C03']}  at Nominate containers for inspection" in lines
    assert (
        "      'Nominate containers for inspection' (nominate_containers): the consignment is at this step "
        "(ready); it was removed in version 2" in lines
    )
    assert lines[-1] == "  dry run: nothing moved"
    again = json.loads(
        portal_cli("model", "migrate", "--from", "1", "--to", "2", "--dry-run", "--json").output
    )
    assert len(again["movable"]) == 2 and again["moved"] == []


def test_moving_chosen_consignments(running):
    result = portal_cli("model", "migrate", "--from", "1", "--to", "2", "--consignment", running["C01"])
    assert result.exit_code == 0, result.output
    assert "  moved: 1 in " in result.output and "  failed: 0" in result.output
    rest = json.loads(portal_cli("model", "migrate", "--from", "1", "--to", "2", "--json").output)
    assert rest["moved"] == [running["C10"]]
    assert [v["declaration_no"] for v in rest["not_movable"]] == [running["C03"]]
    assert portal_cli("audit", "verify").exit_code == 0


def test_a_named_consignment_that_cannot_move_exits_1(running):
    result = portal_cli("model", "migrate", "--from", "1", "--to", "2", "--consignment", running["C03"])
    assert result.exit_code == 1
    assert "  moved: 0 in " in result.output


def test_a_consignment_not_on_the_source_version_exits_1(running):
    result = portal_cli("model", "migrate", "--from", "1", "--to", "2", "--consignment", "109999999999")
    assert result.exit_code == 1
    assert "  not found on version 1 or not running: 109999999999" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--from", "1", "--to", "9"], 1, "error: no model version 9 (deployed: 1, 2) (field: version)"),
        (["--from", "2", "--to", "2"], 1, "error: to_version: is the same version as from_version"),
        (["--from", "one", "--to", "2"], 2, "Invalid value for '--from': 'one' is not a valid integer"),
        (["--to", "2"], 2, "Missing option '--from'"),
    ],
    ids=["unknown version", "same version", "not a number", "missing option"],
)
def test_bad_migrate_input(deployed, args, code, message):
    result = portal_cli("model", "migrate", *args)
    assert result.exit_code == code
    assert message in result.output


def test_no_traceback_from_the_real_command(deployed):
    run = subprocess.run(
        [sys.executable, "-m", "app.cli", "model", "migrate", "--from", "3", "--to", "1", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PORTAL_DATABASE_URL": deployed},
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr + run.stdout
    assert run.stderr.strip() == "error: no model version 3 (deployed: 1, 2) (field: version)"

"""The CPU probe (app/cpu_probe.py) that bench/throughput.py reads: with PORTAL_CPU_PROBE_DIR set, a
portal process records each request and each outermost command with its CPU time; without it, nothing
is wrapped."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from app import create_app
from app.cpu_probe import probe_for, read_events
from app.engine.runtime import WorkflowCache
from app.services import build_portal
from tests.procedure import registration, trader_username


def events_by_kind(directory) -> dict[str, list[tuple[str, float]]]:
    (events,) = read_events(directory).values()  # this process only
    found: dict[str, list[tuple[str, float]]] = {}
    for _started, kind, name, cpu in events:
        found.setdefault(kind, []).append((name, cpu))
    return found


def test_trader_registers_with_the_probe_on_and_the_request_and_its_command_are_recorded(portal, tmp_path):
    directory = tmp_path / "cpu"
    probed = build_portal(replace(portal.settings, cpu_probe_dir=str(directory)), clock=portal.clock)
    try:
        client = create_app(portal=probed).test_client()
        token = {"Authorization": f"Bearer demo-{trader_username('C01')}"}
        created = client.post("/api/v1/consignments", json=registration("C01"), headers=token)
        assert created.status_code == 201, created.get_data(as_text=True)
        missing = client.get("/api/v1/work-items/987654", headers=token)
        assert missing.status_code == 404

        assert probe_for(str(directory)).write() == directory / f"cpu-{os.getpid()}.json"
        found = events_by_kind(directory)
        assert [name for name, _ in found["request"]] == [
            "POST /api/v1/consignments",
            "GET /api/v1/work-items/<id>",
        ]
        assert [name for name, _ in found["command"]] == ["RegisterConsignment"]
        registration_cpu, command_cpu = found["request"][0][1], found["command"][0][1]
        assert registration_cpu >= command_cpu > 0  # the command ran inside the request
    finally:
        probed.close()


def test_a_command_inside_a_command_is_counted_once_under_the_outer_name(tmp_path):
    probe = probe_for(str(tmp_path / "nested"))
    with probe.measure("command", "Outer"), probe.measure("command", "Inner"):
        sum(range(10_000))
    with probe.measure("command", "After"):
        pass
    assert [(kind, name) for _, kind, name, _ in probe.events] == [("command", "Outer"), ("command", "After")]


def test_without_the_setting_nothing_is_wrapped(portal):
    assert portal.settings.cpu_probe_dir == ""
    assert "execute" not in vars(portal.executor)  # the class's own method, no probe around it
    app = create_app(portal=portal)
    assert app.wsgi_app.__func__ is type(app).wsgi_app


def test_a_command_is_named_by_whether_it_found_its_workflow_warm_or_restored_it(tmp_path):
    """The benchmark times the two cases apart: a restore is what a command pays when the consignment's
    previous command ran in another process."""
    cache, workflow = WorkflowCache(), object()

    @dataclass
    class CompleteStep:  # loads the consignment's workflow at this revision, as a command does
        revision: int

    class ClaimJobs:  # loads no workflow
        pass

    def execute(command):
        return cache.take(7, command.revision) if isinstance(command, CompleteStep) else None

    probe = probe_for(str(tmp_path / "cache"))
    timed = probe.timed_commands(execute, cache.last_outcome)
    cache.put(7, 3, workflow)
    assert timed(CompleteStep(3)) is workflow
    assert timed(CompleteStep(3)) is None  # taken out by the first: this one restores it
    timed(ClaimJobs())
    cache.put(7, 4, workflow)
    assert timed(CompleteStep(5)) is None  # a newer revision than the one kept warm

    assert [name for _, _, name, _ in probe.events] == [
        "CompleteStep (warm)",
        "CompleteStep (restored)",
        "ClaimJobs",
        "CompleteStep (restored)",
    ]

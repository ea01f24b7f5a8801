"""``portal run`` on a fresh database stages the ten demo consignments over the HTTP API, each up to a
different step, against the real processes (gunicorn web + worker + simulators) on the system clock and the
embedded SQLite database, as ``make run`` starts them: whoever signs in first finds work waiting. A
second run leaves them alone."""

from __future__ import annotations

import json

import pytest
import requests

from app.demo_stages import CLEARED, STAGES, stage_demo_consignments
from app.settings import PROJECT_ROOT
from app.stack import Stack

DEMO = json.loads((PROJECT_ROOT / "config" / "demo_consignments.json").read_text(encoding="utf-8"))
SEED = json.loads((PROJECT_ROOT / "config" / "seed.json").read_text(encoding="utf-8"))
# `make run` stages them on its embedded SQLite database; PostgreSQL runs the same. (One full-suite run of
# session 8 saw C01 miss "cleared" on PostgreSQL. Session 9 found two faults that together leave a
# consignment waiting for its containers: concurrent commands on PostgreSQL failing with 409 on the audit
# chain, and the port simulator dropping a callback answered 409. Both are fixed.)
pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


def test_make_run_stages_the_demo_consignments_so_each_party_finds_its_step_waiting(database_url, tmp_path):
    with Stack(database_url, clock="system", port_delay=0.05, log_dir=tmp_path / "logs") as stack:
        api = stack.urls["web"] + "/api/v1"

        def get(path: str, user: str) -> dict:
            token = next(u["api_token"] for u in SEED["users"] if u["username"] == user)
            response = requests.get(api + path, timeout=10, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
            return response.json()

        staged = stage_demo_consignments(stack.urls["web"], SEED)
        again = stage_demo_consignments(stack.urls["web"], SEED)
        bodies = {c["id"]: get(f"/consignments/{c['declaration_no']}", "admin") for c in DEMO}
        registered = get("/consignments?limit=200", "admin")["items"]
        parties = {(u["organization"], u["role"]): u["username"] for u in reversed(SEED["users"])}
        inboxes = {}
        for cid, stage in zip(bodies, STAGES, strict=True):
            for task in bodies[cid]["open_tasks"]:
                if task["step_id"] == stage:
                    user = parties[(task["organization"], task["role"])]
                    inboxes[cid] = (user, get("/work-items?limit=200", user)["items"])

    assert not staged.skipped and staged.missed == {}, staged.render()
    assert again.skipped  # the database has consignments now: a second `portal run` adds none
    assert sorted(c["declaration_no"] for c in registered) == sorted(c["declaration_no"] for c in DEMO)
    for cid, stage in zip(bodies, STAGES, strict=True):
        body = bodies[cid]
        if stage == CLEARED:
            assert body["status"] == "cleared", cid
            assert body["open_tasks"] == [], cid
            continue
        assert body["status"] == "in_progress", cid
        assert stage in [t["step_id"] for t in body["open_tasks"]], cid
        user, inbox = inboxes[cid]  # the party of the step has it in its own inbox
        assert any(i["declaration_no"] == body["declaration_no"] and i["step_id"] == stage for i in inbox), (
            cid,
            user,
        )
    assert staged.reached == {c["declaration_no"]: stage for c, stage in zip(DEMO, STAGES, strict=True)}
    assert "move_containers" not in [t["step_id"] for t in bodies["C10"]["timeline"]]  # air cargo
    assert [t["step_id"] for t in bodies["C09"]["timeline"] if t["kind"] == "task"][-1] == "publish_result"

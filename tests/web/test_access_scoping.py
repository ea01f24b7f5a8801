"""Who sees what: every role, against every page and API route that shows a consignment, a task, an
attachment or a figure. Scoping lives in the queries, so another organization's data answers 404 (or 403
for pages a role never opens), never a partial page."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from app.engine.commands import CompleteWorkItem
from app.forms.uploads import Upload
from app.models import Attachment
from app.signing.pki import DEMO_PIN
from app.signing.service import PinSigning
from tests.procedure import (
    SAMPLING,
    actor,
    consignment,
    trader_countersigns,
    trader_registers,
    work_item,
    worker_settles,
)
from tests.web.client import Person

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32

# C01: trader T01, lead agency RAHO6, branch 02CI. C05: trader T05, lead agency MOIT-FS, branch 02CI.
SEES = {
    "trader.t01": {"C01"},
    "trader.t05": {"C05"},
    "trader.t02": set(),
    "officer.raho6": {"C01"},
    "manager.raho6": {"C01"},
    "officer.moit-fs": {"C05"},
    "officer.ppsd2": set(),
    "officer.02ci": {"C01", "C05"},
    "head.02ci": {"C01", "C05"},
    "manager.02ci": {"C01", "C05"},
    "officer.02ab": set(),
    "manager.02ab": set(),
    "operator.snp": {"C01", "C05"},  # the port moves their containers
    "admin": {"C01", "C05"},
    "analyst": {"C01", "C05"},
}
# They see consignments without being a party to their decisions: no evidence bundle or result notice.
SEES_NO_EVIDENCE = {"operator.snp", "analyst"}
# Who may open the agency's open "publish_result" task of C01 (its organization: officers work it, the
# agency's manager supervises it).
OPENS_RESULT_TASK = {"officer.raho6", "manager.raho6"}
DASHBOARD = {"manager.raho6", "manager.02ci", "head.02ci", "manager.02ab", "admin"}
INCIDENTS = {"manager.raho6", "manager.02ci", "manager.02ab", "operator.snp", "admin"}


SEAL_PHOTO = Upload("seal.png", "image/png", PNG)


@pytest.fixture
def two_consignments(portal, worker):
    numbers = {}
    for cid in ("C01", "C05"):
        numbers[cid] = trader_registers(portal, cid)
        worker_settles(worker, portal, numbers[cid])
    item = work_item(portal, numbers["C01"], "record_sampling")
    portal.execute(
        CompleteWorkItem(item.id, SAMPLING, attachments=(SEAL_PHOTO,), signing=PinSigning(DEMO_PIN)),
        actor(portal, "officer.raho6"),
    )
    trader_countersigns(portal, numbers["C01"])
    with portal.db.session() as db:
        attachment_id = db.scalar(select(Attachment.id))
    return numbers, work_item(portal, numbers["C01"], "publish_result").id, attachment_id


def test_every_role_sees_exactly_its_own_consignments_on_every_page_and_route(
    portal, live_portal, two_consignments
):
    numbers, result_task, attachment_id = two_consignments
    c01 = consignment(portal, numbers["C01"])
    for username, visible in SEES.items():
        person = Person(live_portal, username)
        assert person.signs_in().status_code == 302, username
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer demo-{username}"
        for cid, number in numbers.items():
            expected = 200 if cid in visible else 404
            where = f"{username} / {cid}"
            assert person.get(f"/consignments/{number}").status_code == expected, where
            assert person.get(f"/consignments/{number}/diagram.bpmn").status_code == expected, where
            evidence = expected if expected == 404 or username not in SEES_NO_EVIDENCE else 403
            assert person.get(f"/consignments/{number}/evidence.zip").status_code == evidence, where
            assert (
                api.get(f"{live_portal}/api/v1/consignments/{number}", timeout=10).status_code == expected
            ), where
            assert (number in person.get("/consignments").text) == (cid in visible), where
            listed = api.get(f"{live_portal}/api/v1/consignments", timeout=10).json()["items"]
            assert (number in {c["declaration_no"] for c in listed}) == (cid in visible), where
        container = c01.containers[0]
        found = person.get(f"/search?q={container}")
        assert (numbers["C01"] in found.url or numbers["C01"] in found.text) == ("C01" in visible), username
        assert person.get(f"/attachments/{attachment_id}").status_code == (
            200 if "C01" in visible else 404
        ), username

        task_page = person.get(f"/work-items/{result_task}")
        assert task_page.status_code == (200 if username in OPENS_RESULT_TASK else 404), username
        in_inbox = str(numbers["C01"]) in person.get("/inbox").text
        assert in_inbox == (username == "officer.raho6"), username
        api_items = api.get(f"{live_portal}/api/v1/work-items", timeout=10).json()["items"]
        assert (result_task in {w["id"] for w in api_items}) == (username == "officer.raho6"), username
        stolen = api.post(
            f"{live_portal}/api/v1/work-items/{result_task}/complete",
            json={"data": {"result": "pass"}},
            timeout=10,
        )
        assert stolen.status_code in ((404, 403) if username != "officer.raho6" else (422,)), username

        assert person.get("/dashboard").status_code == (200 if username in DASHBOARD else 403), username
        assert person.get("/incidents").status_code == (200 if username in INCIDENTS else 403), username
        if username in DASHBOARD:
            board = person.get("/dashboard").text
            assert (numbers["C05"] in person.get("/dashboard/stalled.csv").text) is False
            assert "data-figure" in board

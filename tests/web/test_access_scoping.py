"""Who sees what: every kind of demo user against every page and API route of the portal.

The route list is read from the application itself, so a new route fails this test until it is classified
below. Two traders' consignments take part, routed to two agencies and two customs branches, one with an
incident, each with an escalation and both stalled, so no check passes on an empty page. Each user must
see exactly its own organization's items, another organization's items are absent (404, or 403 for a
page its role never opens), and every action on another organization's work is refused and changes
nothing."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import lxml.html
import pytest
import requests
from sqlalchemy import func, select

from app import create_app
from app.engine.commands import CompleteWorkItem, DetectStalledConsignments
from app.engine.commands.studio import STUDIO_ROLES
from app.forms.uploads import Upload
from app.models import (
    Attachment,
    AuditEvent,
    Consignment,
    Escalation,
    Job,
    MessageInbox,
    Notification,
    ProcessInstance,
    TimelineEvent,
    User,
    WorkItem,
)
from app.settings import PROJECT_ROOT
from app.signing.pki import DEMO_PIN
from app.signing.service import PinSigning
from tests.procedure import (
    SAMPLING,
    actor,
    consignment,
    jobs,
    registration,
    trader_countersigns,
    trader_registers,
    work_item,
    worker_settles,
)
from tests.web.client import Person

both_databases = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32
SEAL_PHOTO = Upload("seal.png", "image/png", PNG)
# A: demo C01 — trader T01, lead agency RAHO6, Cát Lái (02CI); sampled with a seal photo, result to publish,
#    its 10-working-day deadline passed and escalated to 02CI's managers.
# B: demo C05 registered at Tân Cảng (02CX) — trader T05, lead agency MOIT-FS; the port's system failed
#    (an incident) and the 12-hour port SLA escalated to 02CX's managers. Both are stalled: nothing
#    happened for 16 working hours after their escalations.
ORGS = {"A": {"T01", "RAHO6", "02CI"}, "B": {"T05", "MOIT-FS", "02CX"}}
# Work items open at the end: "r" A's result to publish (RAHO6's officers), "x" A's overdue-result
# escalation (02CI's managers), "e" B's port-move escalation (02CX's managers).
ITEM_ORG = {"r": "RAHO6", "x": "02CI", "e": "02CX"}


@dataclass(frozen=True)
class Sees:
    """What one user must see; everything else must be absent."""

    consignments: str = ""  # "A", "B", "AB"
    inbox: str = ""  # work items in its own inbox (its organization and role)
    team: str = ""  # work items of its team's inbox (supervisors, ?team=1)
    opens: str = ""  # work items whose task page opens
    dashboard: str | None = None  # None: the dashboard is refused (403); else the consignments on it
    incidents: str | None = None  # None: the incidents page is refused (403); else whose incidents it lists
    port: bool = False  # the port's fallback page


USERS = {
    "trader.t01": Sees("A"),
    "trader.t05": Sees("B"),
    "trader.t02": Sees(),
    "officer.raho6": Sees("A", inbox="r", opens="r"),
    "manager.raho6": Sees("A", team="r", opens="r", dashboard="A", incidents=""),
    "officer.moit-fs": Sees("B"),
    "manager.moit-fs": Sees("B", dashboard="B", incidents="B"),
    "officer.ppsd2": Sees(),
    "manager.ppsd2": Sees(dashboard="", incidents=""),
    "officer.02ci": Sees("A"),
    "head.02ci": Sees("A", team="x", opens="x", dashboard="A"),
    "manager.02ci": Sees("A", inbox="x", team="x", opens="x", dashboard="A", incidents=""),
    "officer.02cx": Sees("B"),
    "head.02cx": Sees("B", team="e", opens="e", dashboard="B"),
    "manager.02cx": Sees("B", inbox="e", team="e", opens="e", dashboard="B", incidents="B"),
    "officer.02ab": Sees(),
    "head.02ab": Sees(dashboard=""),
    "manager.02ab": Sees(dashboard="", incidents=""),
    "operator.snp": Sees("A", incidents="", port=True),  # Cát Lái's terminal: A, not Tân Cảng's B
    "admin": Sees("AB", dashboard="AB", incidents="B"),
    "analyst": Sees("AB"),
}


def test_every_kind_of_demo_user_is_checked():
    seed = json.loads((PROJECT_ROOT / "config" / "seed.json").read_text(encoding="utf-8"))
    kinds = {o["code"]: o["kind"] for o in seed["organizations"]}
    users = {u["username"]: (kinds[u["organization"]], u["role"]) for u in seed["users"]}
    assert set(USERS) <= set(users)
    assert {users[name] for name in USERS} == set(users.values())  # every (organization kind, role)


# -- the situation ------------------------------------------------------------------------------------


@dataclass
class World:
    url: str
    numbers: dict[str, str]
    containers: dict[str, str]
    bills: dict[str, str]
    items: dict[str, int]
    incident: int
    attachment: int
    notification: int  # one of officer.raho6's notifications

    def key_of(self, ids) -> str:
        by_id = {v: k for k, v in self.items.items()}
        return "".join(sorted(by_id[int(i)] for i in ids if int(i) in by_id))

    def numbers_in(self, text: str) -> str:
        return "".join(cid for cid, number in sorted(self.numbers.items()) if number in text)


@pytest.fixture
def world(portal, live_portal, worker, simulators, clock) -> World:
    numbers = {"A": trader_registers(portal, "C01")}
    worker_settles(worker, portal, numbers["A"])
    sampling = work_item(portal, numbers["A"], "record_sampling")
    portal.execute(
        CompleteWorkItem(sampling.id, SAMPLING, attachments=(SEAL_PHOTO,), signing=PinSigning(DEMO_PIN)),
        actor(portal, "officer.raho6"),
    )
    trader_countersigns(portal, numbers["A"])
    # B: the port's system refuses the move until its last attempt: an incident.
    requests.post(simulators.urls["port"] + "/_sim/fail", json={"mode": "error"}, timeout=5)
    try:
        numbers["B"] = trader_registers(portal, "C05", customs_branch="02CX")
        worker.run_due_jobs()
        worker.run_due_jobs()
        for attempt in range(1, portal.settings.job_max_attempts + 1):
            clock.advance(timedelta(seconds=portal.settings.job_backoff_seconds * 2**attempt))
            worker.run_due_jobs()
    finally:
        requests.post(simulators.urls["port"] + "/_sim/fail", json={"mode": "ok"}, timeout=5)
    incident = next(j for j in jobs(portal, numbers["B"]) if j.topic == "port.move_containers")
    assert incident.state == "incident"
    # Wednesday: the 12-hour port SLA has passed for B. Neither is stalled: B's managers were just told,
    # and RAHO6 is within its 10 working days for A's result.
    clock.set(datetime.fromisoformat("2026-12-09T10:00:00+07:00"))
    worker.fire_due_timers()
    assert portal.execute(DetectStalledConsignments()) == 0
    # Monday 21 December, 17:00: A's result is late. Wednesday 23rd, 14:00: 16 working hours later.
    clock.set(datetime.fromisoformat("2026-12-21T17:01:00+07:00"))
    worker.fire_due_timers()
    clock.set(datetime.fromisoformat("2026-12-23T14:02:00+07:00"))
    assert portal.execute(DetectStalledConsignments()) == 2
    with portal.db.session() as db:
        attachment = db.scalar(select(Attachment.id))
        notification = db.scalar(
            select(Notification.id)
            .join(User, User.id == Notification.user_id)
            .where(User.username == "officer.raho6")
        )
        escalations = db.scalars(select(Escalation.kind).where(Escalation.resolved_at.is_(None))).all()
    assert sorted(escalations) == ["port_move_overdue", "result_overdue", "stalled", "stalled"]
    both = {cid: consignment(portal, n) for cid, n in numbers.items()}
    assert {cid: (c.customs_branch, c.lead_agency) for cid, c in both.items()} == {
        "A": ("02CI", "RAHO6"),
        "B": ("02CX", "MOIT-FS"),
    }
    return World(
        url=live_portal,
        numbers=numbers,
        containers={cid: c.containers[0] for cid, c in both.items()},
        bills={cid: c.bill_of_lading for cid, c in both.items()},
        items={
            "r": work_item(portal, numbers["A"], "publish_result").id,
            "x": work_item(portal, numbers["A"], "escalate_result_overdue").id,
            "e": work_item(portal, numbers["B"], "escalate_port_move").id,
        },
        incident=incident.id,
        attachment=attachment,
        notification=notification,
    )


def _snapshot(portal) -> dict:
    """Everything a refused action must leave as it was."""
    with portal.db.session() as db:

        def rows(*columns):
            return sorted(tuple(r) for r in db.execute(select(*columns)))

        def count(model):
            return db.scalar(select(func.count()).select_from(model))

        return {
            "work_items": rows(WorkItem.id, WorkItem.state, WorkItem.assignee_id),
            "jobs": rows(Job.id, Job.state, Job.attempts),
            "instances": rows(ProcessInstance.id, ProcessInstance.revision),
            "consignments": rows(Consignment.id, Consignment.status, Consignment.current_step),
            "escalations": rows(Escalation.id, Escalation.resolved_at),
            "notifications": rows(Notification.id, Notification.read_at),
            "timeline": count(TimelineEvent),
            "audit": count(AuditEvent),
            "inbox": count(MessageInbox),
            "attachments": count(Attachment),
        }


# -- one user ---------------------------------------------------------------------------------------


@dataclass
class Someone:
    username: str
    sees: Sees
    role: str
    organization: str
    web: Person
    api: requests.Session
    url: str
    token: str = field(default="")

    def get(self, path: str) -> requests.Response:
        return self.web.get(path, allow_redirects=False)

    def post(self, path: str, data: list | dict | None = None) -> requests.Response:
        fields = list(data.items()) if isinstance(data, dict) else list(data or [])
        return self.web.http.post(
            self.url + path, data=[*fields, ("csrf_token", self.token)], allow_redirects=False, timeout=20
        )

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.api.request(method, f"{self.url}/api/v1{path}", timeout=20, **kwargs)

    def outside(self, item: str) -> bool:
        """Not of the organization that works ``item``."""
        return self.organization != ITEM_ORG[item]


REFUSED = (403, 404)


def _expect(condition: bool, ok: int = 200, refused: int = 404) -> int:
    return ok if condition else refused


def _page_numbers(w: World, response: requests.Response, xpath: str = "//a/@href") -> str:
    links = " ".join(str(h) for h in lxml.html.fromstring(response.text).xpath(xpath))
    return w.numbers_in(links)


# Each check asserts, for one user, what one route shows or refuses.


def check_consignment_pages(w: World, u: Someone, endpoint: str) -> None:
    suffix = "/diagram.bpmn" if endpoint == "consignments.diagram" else ""
    for cid, number in w.numbers.items():
        response = u.get(f"/consignments/{number}{suffix}")
        assert response.status_code == _expect(cid in u.sees.consignments), (u.username, endpoint, cid)
        if response.status_code == 200 and not suffix:
            other = w.numbers["B" if cid == "A" else "A"]
            assert other not in response.text


# They see consignments without being a party to their decisions: no evidence bundle or result notice.
NOT_PARTY = {"operator.snp", "analyst"}


def check_evidence(w: World, u: Someone, endpoint: str) -> None:
    for cid, number in w.numbers.items():
        response = u.get(f"/consignments/{number}/evidence.zip")
        seen = cid in u.sees.consignments
        expected = 404 if not seen else 403 if u.username in NOT_PARTY else 200
        assert response.status_code == expected, (u.username, cid)
        if expected == 200:
            assert response.headers["Content-Type"] == "application/zip"


def check_result_notice(w: World, u: Someone, endpoint: str) -> None:
    """No result is published in this world: nobody gets a notice, and nobody learns more than that."""
    for number in w.numbers.values():
        if endpoint.startswith("api."):
            response = u.call("GET", f"/consignments/{number}/result-notice.pdf")
        else:
            response = u.get(f"/consignments/{number}/result-notice.pdf")
        assert response.status_code in REFUSED, (u.username, endpoint, number)


def check_api_consignment(w: World, u: Someone, endpoint: str) -> None:
    for cid, number in w.numbers.items():
        response = u.call("GET", f"/consignments/{number}")
        assert response.status_code == _expect(cid in u.sees.consignments), (u.username, cid)


def check_consignment_list(w: World, u: Someone, endpoint: str) -> None:
    assert _page_numbers(w, u.get("/consignments")) == u.sees.consignments, u.username


def check_api_consignment_list(w: World, u: Someone, endpoint: str) -> None:
    listed = u.call("GET", "/consignments").json()["items"]
    assert w.numbers_in(" ".join(c["declaration_no"] for c in listed)) == u.sees.consignments, u.username
    for cid in w.numbers:
        for q in (w.numbers[cid], w.containers[cid], w.bills[cid]):
            found = u.call("GET", "/consignments", params={"q": q}).json()["items"]
            assert bool(found) == (cid in u.sees.consignments), (u.username, q)


def check_search(w: World, u: Someone, endpoint: str) -> None:
    for cid, number in w.numbers.items():
        for q in (number, w.containers[cid], w.bills[cid]):  # declaration, container, bill of lading
            response = u.web.get(f"/search?q={q}")
            found = response.url.endswith(f"/consignments/{number}") or number in _page_numbers(w, response)
            assert found == (cid in u.sees.consignments), (u.username, q)


def check_attachment(w: World, u: Someone, endpoint: str) -> None:
    response = u.get(f"/attachments/{w.attachment}")
    assert response.status_code == _expect("A" in u.sees.consignments), u.username
    if response.status_code == 200:
        assert response.content == PNG


def check_register_page(w: World, u: Someone, endpoint: str) -> None:
    may = u.role in ("trader", "admin")
    assert u.get("/consignments/new").status_code == _expect(may, refused=403), u.username
    if not may:
        payload = registration("C02", declaration_no="106865790002")
        assert u.post("/consignments/new", {**payload, "hs_codes": payload["hs_codes"][0]}).status_code == 403


def check_api_register(w: World, u: Someone, endpoint: str) -> None:
    if u.role not in ("trader", "admin"):
        response = u.call("POST", "/consignments", json=registration("C02", declaration_no="106865790003"))
        assert response.status_code == 403, u.username


def check_inbox(w: World, u: Someone, endpoint: str) -> None:
    def rows(path: str) -> str:
        page = lxml.html.fromstring(u.web.get(path).text)
        return w.key_of(page.xpath("//tr[@data-work-item]/@data-work-item"))

    assert rows("/inbox") == u.sees.inbox, u.username
    assert rows("/inbox?team=1") == (u.sees.team if u.role in ("manager", "branch_head") else u.sees.inbox)


def check_api_inbox(w: World, u: Someone, endpoint: str) -> None:
    items = u.call("GET", "/work-items").json()["items"]
    assert w.key_of([i["id"] for i in items]) == u.sees.inbox, u.username


def check_task_page(w: World, u: Someone, endpoint: str) -> None:
    for key, item_id in w.items.items():
        assert u.get(f"/work-items/{item_id}").status_code == _expect(key in u.sees.opens), (u.username, key)


def check_api_work_item(w: World, u: Someone, endpoint: str) -> None:
    for key, item_id in w.items.items():
        response = u.call("GET", f"/work-items/{item_id}")
        assert response.status_code == _expect(key in u.sees.inbox), (u.username, key)


def check_signing_payload(w: World, u: Someone, endpoint: str) -> None:
    for key, item_id in w.items.items():
        for method in ("GET", "POST"):
            response = u.call(method, f"/work-items/{item_id}/signing-payload", json={"data": {}})
            if key not in u.sees.inbox:
                assert response.status_code == 404, (u.username, key, method)
            elif key == "r":  # the result is a signed step
                assert response.status_code in (200, 422), (u.username, key, response.text)


def check_work_item_actions(w: World, u: Someone, endpoint: str) -> None:
    """Submit, take, release and hand over another organization's work: refused."""
    action = endpoint.split(".")[1]
    for key, item_id in w.items.items():
        if not u.outside(key) or (u.role == "admin" and action in ("release", "reassign")):
            continue  # its own organization's work, or the administrator's supervision of every team
        path = f"/work-items/{item_id}" if action == "submit" else f"/work-items/{item_id}/{action}"
        data = {"assignee": "officer.raho6" if key == "r" else "manager.02cx", "result": "pass"}
        assert u.post(path, data).status_code in REFUSED, (u.username, endpoint, key)


def check_api_work_item_actions(w: World, u: Someone, endpoint: str) -> None:
    action = endpoint.split(".")[1].removesuffix("_work_item")
    for key, item_id in w.items.items():
        if not u.outside(key) or (u.role == "admin" and action == "release"):
            continue
        response = u.call("POST", f"/work-items/{item_id}/{action}", json={"data": {"result": "pass"}})
        assert response.status_code in REFUSED, (u.username, action, key)
        assert response.json()["field"] in ("work_item_id", "role"), response.text
    if u.username == "officer.raho6":  # its own task, with bad data: a 422 naming the field, nothing done
        response = u.call("POST", f"/work-items/{w.items['r']}/complete", json={"data": {"result": "pass"}})
        assert response.status_code == 422 and response.json()["field"], response.text


def check_dashboard(w: World, u: Someone, endpoint: str) -> None:
    response = u.get("/dashboard")
    if u.sees.dashboard is None:
        assert response.status_code == 403, u.username
        return
    assert response.status_code == 200, u.username
    assert w.numbers_in(response.text) == u.sees.dashboard, u.username
    assert "data-figure" in response.text


def check_dashboard_csv(w: World, u: Someone, endpoint: str) -> None:
    related = set().union(*(ORGS[cid] for cid in u.sees.dashboard or ""))
    for figure in ("stalled", "step-times", "agency-breaches", "branch-breaches", "clearance-trend"):
        response = u.get(f"/dashboard/{figure}.csv")
        if u.sees.dashboard is None:
            assert response.status_code == 403, (u.username, figure)
            continue
        assert response.status_code == 200, (u.username, figure)
        rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
        if figure == "stalled":
            assert w.numbers_in(" ".join(r["declaration_no"] for r in rows)) == u.sees.dashboard, u.username
        if figure.endswith("breaches"):
            assert {r["organization"] for r in rows} <= related, (u.username, figure, rows)
    if u.username == "admin":  # the breaches are not empty: A's result has a deadline
        rows = list(
            csv.DictReader(io.StringIO(u.get("/dashboard/agency-breaches.csv").text.lstrip("\ufeff")))
        )
        assert {r["organization"] for r in rows} == {"RAHO6"}


def check_incidents_page(w: World, u: Someone, endpoint: str) -> None:
    response = u.get("/incidents")
    if u.sees.incidents is None:
        assert response.status_code == 403, u.username
        return
    assert response.status_code == 200, u.username
    listed = lxml.html.fromstring(response.text).xpath("//tr[@data-job]/@data-job")
    assert ("B" if str(w.incident) in listed else "") == u.sees.incidents, u.username


def check_incident_retry(w: World, u: Someone, endpoint: str) -> None:
    if u.sees.incidents != "B":
        response = u.post("/incidents/retry", [("job_id", str(w.incident))])
        assert response.status_code == (403 if u.sees.incidents is None else 404), u.username


def check_api_incidents(w: World, u: Someone, endpoint: str) -> None:
    response = u.call("GET", "/incidents")
    if u.sees.incidents is None:
        assert response.status_code == 403, u.username
        return
    listed = {i["id"] for i in response.json()["items"]}
    assert ("B" if w.incident in listed else "") == u.sees.incidents, u.username


def check_api_incident_retry(w: World, u: Someone, endpoint: str) -> None:
    if u.sees.incidents != "B":
        response = u.call("POST", f"/incidents/{w.incident}/retry")
        assert response.status_code == (403 if u.sees.incidents is None else 404), u.username


def check_api_escalations(w: World, u: Someone, endpoint: str) -> None:
    response = u.call("GET", "/escalations")
    if u.sees.dashboard is None:
        assert response.status_code == 403, u.username
        return
    numbers = " ".join(e["declaration_no"] for e in response.json()["items"])
    assert w.numbers_in(numbers) == u.sees.dashboard, u.username


def check_port_page(w: World, u: Someone, endpoint: str) -> None:
    response = u.get("/port/positions")
    assert response.status_code == _expect(u.sees.port, refused=403), u.username
    if response.status_code == 200:  # A is past the port; B is at another terminal
        assert w.numbers_in(response.text) == ""


def check_port_report(w: World, u: Someone, endpoint: str) -> None:
    rows = [("container_no", w.containers["B"]), ("position", "SA-B-001")]
    response = u.post(f"/port/positions/{w.numbers['B']}", rows)
    assert response.status_code == (404 if u.sees.port else 403), u.username


def check_port_callback(w: World, u: Someone, endpoint: str) -> None:
    body = {
        "declaration_no": w.numbers["B"],
        "positions": [{"container_no": w.containers["B"], "position": "X"}],
    }
    response = u.call("POST", "/port/container-positioned", json=body)
    assert response.status_code == (404 if u.sees.port else 403), u.username


def check_notifications(w: World, u: Someone, endpoint: str) -> None:
    told = _page_numbers(w, u.get("/notifications"), "//ul[@class='notifications']//a/@href")
    assert set(told) <= set(u.sees.consignments), u.username
    if u.username in ("manager.02ci", "manager.raho6"):  # A stalled: its branch's and lead agency's managers
        assert told == "A"
    if u.username in ("manager.02cx", "manager.moit-fs"):
        assert told == "B"


def check_mark_read(w: World, u: Someone, endpoint: str) -> None:
    if u.username != "officer.raho6":  # someone else's notification: left unread
        assert u.post("/notifications/read", [("id", str(w.notification))]).status_code == 302


def check_clock(w: World, u: Someone, endpoint: str) -> None:
    assert u.call("GET", "/clock").status_code == 200


def check_clock_advance(w: World, u: Someone, endpoint: str) -> None:
    if u.role != "admin":
        assert u.call("POST", "/clock/advance", json={"hours": 1}).status_code == 403, u.username


def check_public(w: World, u: Someone, endpoint: str) -> None:
    path = {
        "pages.health": "/healthz",
        "api.health": "/api/v1/health",
        "api.openapi_document": "/api/v1/openapi.json",
        "static": "/static/css/portal.css",
        "auth.login": "/login",
    }[endpoint]
    response = u.web.get(path)
    assert response.status_code == 200 and w.numbers_in(response.text) == "", (u.username, endpoint)


def check_home(w: World, u: Someone, endpoint: str) -> None:
    assert u.get("/").status_code == 302


def own_session(w: World, u: Someone, endpoint: str) -> None:
    """Signing out and the language switch act on the caller's own session only (tests/web/test_sign_in)."""


SAMPLE_PATH_VALUES = {
    "name": "specialized_inspection.bpmn",
    "key": "sampling_record",
    "number": "1",
    "declaration_no": "106865793030",
}


def check_studio(w: World, u: Someone, endpoint: str, rule) -> None:
    """The studio is the analysts' workspace, gated as a whole (its own tests cover what it shows)."""
    path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: SAMPLE_PATH_VALUES[m.group(1)], rule.rule)
    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
        if u.role in STUDIO_ROLES:
            if method == "GET" and path in ("/studio/", "/studio/versions"):
                assert u.get(path).status_code == 200, (u.username, path)
            continue
        response = u.get(path) if method == "GET" else u.post(path, {})
        assert response.status_code == 403, (u.username, method, path)


CHECKS: dict[str, Callable[[World, Someone, str], None]] = {
    "pages.home": check_home,
    "pages.health": check_public,
    "static": check_public,
    "auth.login": check_public,
    "auth.logout": own_session,
    "auth.language": own_session,
    "api.health": check_public,
    "api.openapi_document": check_public,
    "consignments.show": check_consignment_pages,
    "consignments.diagram": check_consignment_pages,
    "consignments.attachment": check_attachment,
    "consignments.evidence": check_evidence,
    "consignments.result_notice": check_result_notice,
    "api.get_result_notice": check_result_notice,
    "consignments.mine": check_consignment_list,
    "consignments.search": check_search,
    "trader.register": check_register_page,
    "inbox.index": check_inbox,
    "tasks.show": check_task_page,
    "tasks.submit": check_work_item_actions,
    "inbox.claim": check_work_item_actions,
    "inbox.release": check_work_item_actions,
    "inbox.reassign": check_work_item_actions,
    "dashboard.index": check_dashboard,
    "dashboard.export": check_dashboard_csv,
    "incidents.index": check_incidents_page,
    "incidents.retry": check_incident_retry,
    "notifications.index": check_notifications,
    "notifications.mark_read": check_mark_read,
    "port.positions": check_port_page,
    "port.report": check_port_report,
    "api.register_consignment": check_api_register,
    "api.get_consignment": check_api_consignment,
    "api.list_consignments": check_api_consignment_list,
    "api.list_work_items": check_api_inbox,
    "api.get_work_item": check_api_work_item,
    "api.claim_work_item": check_api_work_item_actions,
    "api.release_work_item": check_api_work_item_actions,
    "api.complete_work_item": check_api_work_item_actions,
    "api.work_item_signing_payload": check_signing_payload,
    "api.list_incidents": check_api_incidents,
    "api.retry_incident": check_api_incident_retry,
    "api.list_escalations": check_api_escalations,
    "api.container_positioned": check_port_callback,
    "api.get_clock": check_clock,
    "api.advance_clock": check_clock_advance,
}


@both_databases
def test_every_route_is_checked_for_every_user(portal, world, live_portal):
    rules = list(create_app(portal=portal).url_map.iter_rules())
    unclassified = sorted(
        r.rule for r in rules if r.endpoint not in CHECKS and not r.endpoint.startswith("studio.")
    )
    assert unclassified == [], "classify these routes in tests/web/test_access_scoping.py"

    before = _snapshot(portal)
    for username, sees in USERS.items():
        web = Person(live_portal, username)
        assert web.signs_in().status_code == 302, username
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer demo-{username}"
        who = actor(portal, username)
        u = Someone(username, sees, who.role, who.organization, web, api, live_portal, web.csrf("/inbox"))
        for rule in rules:
            if rule.endpoint.startswith("studio."):
                check_studio(world, u, rule.endpoint, rule)
            else:
                CHECKS[rule.endpoint](world, u, rule.endpoint)
    assert _snapshot(portal) == before  # every refused action changed nothing


@both_databases
def test_each_manager_reads_only_its_own_scope_on_the_dashboard(portal, world, person):
    """reports.scope_of: an agency's managers see the consignments it leads, a branch's its branch."""
    for username, expected in (("manager.raho6", "A"), ("manager.moit-fs", "B"), ("manager.02ci", "A")):
        manager = person(username)
        stalled = manager.get("/dashboard/stalled.csv").text
        assert world.numbers_in(stalled) == expected, username
        board = manager.get("/dashboard").text
        assert world.numbers_in(board) == expected, username

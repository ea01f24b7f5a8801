"""Page benchmark: server time of the inbox, consignment, search and dashboard pages with a large data set
(default 100,000 consignments and 1,000,000 work-item rows, plus a timeline row per work item) on the
embedded SQLite database — or PostgreSQL with ``--database-url``.

It builds the data set once (bulk inserts straight into the projections; reuse it with ``--keep``), signs
in as the people who read those pages, and requests each page ``--requests`` times through the Flask app
in-process (no network), printing p50 / p95 per page in milliseconds. It asserts nothing.

    .venv/bin/python bench/pages.py                       # 100k consignments, 1M work items
    .venv/bin/python bench/pages.py --consignments 10000  # a quicker look
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.cli import initialize  # noqa: E402
from app.consignments.identifiers import container_number_problem  # noqa: E402
from app.engine.clock import FixedClock  # noqa: E402
from app.engine.commands.reporting import RebuildStatistics  # noqa: E402
from app.models import (  # noqa: E402
    Consignment,
    Escalation,
    ModelVersion,
    Organization,
    ProcessInstance,
    TimelineEvent,
    WorkItem,
)
from app.services import build_portal  # noqa: E402
from app.settings import Settings  # noqa: E402

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # 10:00 in Ho Chi Minh City
STEPS = [
    ("record_sampling", "Record the sampling", "agency", "agency_officer", "sampling_record"),
    ("publish_result", "Publish the inspection result", "agency", "agency_officer", "inspection_result"),
    (
        "nominate_containers",
        "Nominate containers for inspection",
        "customs",
        "customs_officer",
        "nominate_containers",
    ),
    ("request_preservation", "Request release for preservation", "trader", "trader", "preservation_request"),
    (
        "decide_preservation",
        "Decide on release for preservation",
        "customs",
        "branch_head",
        "preservation_decision",
    ),
    ("pay_fees", "Pay the inspection fees", "trader", "trader", "fee_payment"),
    (
        "escalate_result_overdue",
        "Review overdue inspection result",
        "customs",
        "manager",
        "escalation_review",
    ),
    ("handle_non_compliance", "Handle non-compliant goods", "customs", "customs_officer", "non_compliance"),
    ("record_sampling", "Record the sampling", "agency", "agency_officer", "sampling_record"),
    ("publish_result", "Publish the inspection result", "agency", "agency_officer", "inspection_result"),
]


def container_number(n: int) -> str:
    prefix = f"BNCU{n % 1_000_000:06d}"
    for digit in "0123456789":
        if container_number_problem(prefix + digit) is None:
            return prefix + digit
    raise AssertionError(prefix)


def build(database_url: str, consignments: int, items_per: int, seed: int) -> None:
    initialize(Settings(database_url=database_url), demo=True)
    rng = random.Random(seed)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        orgs = {
            code: (oid, kind)
            for oid, code, kind in conn.execute(select(Organization.id, Organization.code, Organization.kind))
        }
        version_id = conn.scalar(select(func.max(ModelVersion.id)))
    agencies = [c for c, (_, k) in orgs.items() if k == "agency"]
    branches = [c for c, (_, k) in orgs.items() if k == "customs"]
    traders = [c for c, (_, k) in orgs.items() if k == "trader"]
    state = b"x" * 200
    chunk = 5_000
    started = time.perf_counter()
    for start in range(0, consignments, chunk):
        instances, rows, items, events, escalations = [], [], [], [], []
        for i in range(start, min(start + chunk, consignments)):
            cid = i + 1_000_000
            registered = NOW - timedelta(hours=rng.uniform(0, 24 * 180))
            status = rng.choices(["cleared", "in_progress", "non_compliant"], [80, 15, 5])[0]
            finished = registered + timedelta(hours=rng.uniform(20, 120)) if status != "in_progress" else None
            agency, branch, trader = rng.choice(agencies), rng.choice(branches), rng.choice(traders)
            instances.append(
                {
                    "id": cid,
                    "model_version_id": version_id,
                    "revision": 10,
                    "state": state,
                    "serializer_version": "1",
                    "completed": finished is not None,
                    "next_timer_at": None,
                    "created_at": registered,
                    "updated_at": registered,
                }
            )
            escalated = status == "in_progress" and rng.random() < 0.03
            rows.append(
                {
                    "id": cid,
                    "declaration_no": f"{100000000000 + i * 7:012d}",
                    "declaration_type": "A11",
                    "customs_branch": branch,
                    "trader_org_id": orgs[trader][0],
                    "goods": f"Goods lot {i}",
                    "hs_codes": ["02023000"],
                    "containers": [container_number(i)],
                    "awb": None,
                    "bill_of_lading": f"HCM{i:08d}",
                    "sampling_place": None,
                    "lead_agency": agency,
                    "status": status,
                    "current_step": None if finished else "Record the sampling",
                    "escalated": escalated,
                    "instance_id": cid,
                    "registered_at": registered,
                    "finished_at": finished,
                    "clearance_hours": round(rng.uniform(10, 45), 2) if status == "cleared" else None,
                    "last_activity_at": finished or registered,
                }
            )
            if escalated:
                escalations.append(
                    {
                        "consignment_id": cid,
                        "kind": "stalled",
                        "organization": branch,
                        "raised_at": registered + timedelta(hours=30),
                        "work_item_id": None,
                        "resolved_at": None,
                    }
                )
            for k in range(items_per):
                step_id, step_name, party, role, form = STEPS[k % len(STEPS)]
                org = agency if party == "agency" else branch if party == "customs" else trader
                created = registered + timedelta(hours=k * 2)
                is_open = finished is None and k == items_per - 1
                due = (
                    created + timedelta(hours=rng.uniform(-48, 72))
                    if step_id in ("publish_result", "decide_preservation") or is_open
                    else None
                )
                hours = round(rng.uniform(0.2, 16), 2)
                items.append(
                    {
                        "instance_id": cid,
                        "consignment_id": cid,
                        "task_id": f"{cid:x}-{k}",
                        "step_id": step_id,
                        "step_name": step_name,
                        "form_key": form,
                        "organization": org,
                        "role": role,
                        "state": "open" if is_open else "completed",
                        "assignee_id": None,
                        "escalation": None,
                        "signature_required": False,
                        "customs_branch": branch,
                        "lead_agency": agency,
                        "created_at": created,
                        "due_at": due,
                        "completed_at": None if is_open else created + timedelta(hours=hours),
                        "completed_by_id": None,
                    }
                )
                if not is_open:
                    events.append(
                        {
                            "consignment_id": cid,
                            "at": created + timedelta(hours=hours),
                            "kind": "task",
                            "step_id": step_id,
                            "step_name": step_name,
                            "actor": "bench",
                            "organization": org,
                            "working_hours": hours,
                            "detail": {},
                        }
                    )
        with engine.begin() as conn:
            conn.execute(insert(ProcessInstance), instances)
            conn.execute(insert(Consignment), rows)
            conn.execute(insert(WorkItem), items)
            conn.execute(insert(TimelineEvent), events)
            if escalations:
                conn.execute(insert(Escalation), escalations)
        done = min(start + chunk, consignments)
        print(
            f"\r  built {done:,}/{consignments:,} consignments ({time.perf_counter() - started:.0f} s)",
            end="",
            flush=True,
        )
    print()
    engine.dispose()
    started = time.perf_counter()
    portal = build_portal(Settings(database_url=database_url), clock=FixedClock(NOW))
    counted = portal.execute(RebuildStatistics())
    portal.close()
    took = time.perf_counter() - started
    print(f"  dashboard totals rebuilt from {counted['timeline']:,} durations in {took:.0f} s")
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


class Reader:
    """A signed-in person of the benchmark, on the Flask test client (server time only)."""

    def __init__(self, app, username: str) -> None:
        self.client = app.test_client()
        token = re.search(r'name="csrf-token" content="([^"]+)"', self.client.get("/login").text).group(1)
        response = self.client.post(
            "/login", data={"username": username, "password": "catlai-demo", "csrf_token": token}
        )
        assert response.status_code == 302, f"{username} could not sign in"

    def time(self, path: str, requests: int) -> list[float]:
        self.client.get(path)  # warm
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            response = self.client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code in (200, 302), (path, response.status_code)  # one hit: redirect
        return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(share * (len(ordered) - 1))), len(ordered) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consignments", type=int, default=100_000)
    parser.add_argument("--work-items-per-consignment", type=int, default=10)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (default 30)")
    parser.add_argument("--database-url", help="default: a new SQLite file in a temporary folder")
    parser.add_argument("--keep", help="SQLite file to build once and reuse on later runs")
    parser.add_argument("--seed", type=int, default=2016)
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="pages-bench-"))
    if args.database_url:
        url = args.database_url
        build(url, args.consignments, args.work_items_per_consignment, args.seed)
    else:
        path = Path(args.keep) if args.keep else folder / "pages.db"
        url = f"sqlite:///{path}"
        if not path.exists():
            per = args.work_items_per_consignment
            print(f"Building {args.consignments:,} consignments x {per} work items in {path} ...")
            build(url, args.consignments, args.work_items_per_consignment, args.seed)
    portal = build_portal(Settings(database_url=url), clock=FixedClock(NOW))
    app = create_app(portal=portal)
    with portal.db.session() as db:
        counts = {
            "consignments": db.scalar(select(func.count()).select_from(Consignment)),
            "work_items": db.scalar(select(func.count()).select_from(WorkItem)),
            "timeline_events": db.scalar(select(func.count()).select_from(TimelineEvent)),
        }
        sample = db.scalar(
            select(Consignment)
            .where(Consignment.customs_branch == "02CI", Consignment.status == "in_progress")
            .limit(1)
        )
        open_items = db.scalar(
            select(func.count())
            .select_from(WorkItem)
            .where(WorkItem.organization == "RAHO6", WorkItem.state == "open")
        )
    print(
        f"Data set: {counts['consignments']:,} consignments, {counts['work_items']:,} work items, "
        f"{counts['timeline_events']:,} timeline events ({portal.db.engine.dialect.name}); "
        f"RAHO6 has {open_items:,} open items"
    )
    pages = [
        ("inbox (agency officer)", "officer.raho6", "/inbox"),
        ("inbox, overdue filter, page 3", "officer.raho6", "/inbox?sla=overdue&page=3"),
        ("consignment page", "officer.02ci", f"/consignments/{sample.declaration_no}"),
        ("search by container", "officer.02ci", f"/search?q={sample.containers[0]}"),
        ("trader's consignments", "trader.t01", "/consignments"),
        ("dashboard (branch manager)", "manager.02ci", "/dashboard"),
        ("dashboard (agency manager)", "manager.raho6", "/dashboard"),
        ("dashboard (admin, everything)", "admin", "/dashboard"),
    ]
    readers: dict[str, Reader] = {}
    print(f"\n{'page':34} {'p50 ms':>8} {'p95 ms':>8}   (server time, {args.requests} requests each)")
    for label, username, path in pages:
        reader = readers.setdefault(username, Reader(app, username))
        timings = reader.time(path, args.requests)
        p50, p95 = statistics.median(timings), percentile(timings, 0.95)
        verdict = "ok" if p95 < 100 else "OVER 100 ms"
        print(f"{label:34} {p50:8.1f} {p95:8.1f}   {verdict}")
    portal.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

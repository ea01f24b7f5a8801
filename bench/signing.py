"""Benchmark: what signatures cost.

(a) Signed against unsigned task completions, side by side in one run. Two portals on two SQLite files
    run the same air-cargo consignments through the same commands the API runs (registration, the jobs'
    results, the officers' completions): one with the model as shipped (sampling record, result and
    clearance signed), one with the ``signature=required`` properties removed. Consignments alternate
    between the two, so both see the same machine load. Only the completions of the steps that differ
    are timed: the sampling record and the result (remote signing: PIN → key, sign, verify the signature
    and the certificate path, validity and revocation) and the clearance job (the portal's seal).
(b) ``portal audit verify`` over 1,000,000 events generated straight into a SQLite file (25 events per
    consignment, three of them signed like a real consignment's), run as the real command.

    .venv/bin/python bench/signing.py [--consignments 40] [--events 1000000] [--profile PREFIX]

``--events 0`` skips (b). ``--profile PREFIX`` also runs cProfile over the timed completions of each
portal, writes ``PREFIX-signed.prof`` and ``PREFIX-unsigned.prof`` and prints where the signed ones spend
the time the unsigned ones do not (per completion; the profiler inflates every figure).

Prints the figures; targets (issue 4): signing + verification under 20 % of a completion; verify of
1,000,000 events under 60 s. Figures are never asserted in tests.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import pstats
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from app.cli import initialize  # noqa: E402
from app.consignments.registration import parse_registration  # noqa: E402
from app.engine.audit import seal_hash  # noqa: E402
from app.engine.clock import FixedClock  # noqa: E402
from app.engine.commands import ClaimDueJobs, CompleteJob, CompleteWorkItem, RegisterConsignment  # noqa: E402
from app.engine.executor import Actor  # noqa: E402
from app.models import Consignment, SigningCertificate, User, WorkItem  # noqa: E402
from app.services import build_portal  # noqa: E402
from app.settings import PROJECT_ROOT, Settings  # noqa: E402
from app.signing import keys, pki  # noqa: E402
from app.signing.payload import decision_payload, signing_time  # noqa: E402
from app.signing.service import PinSigning  # noqa: E402

START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
SAMPLING = {
    "sampled_at": "2026-12-07T09:00:00+07:00",
    "sample_count": 3,
    "seal_numbers": "SL-001, SL-002",
    "trader_representative": "Nguyễn Văn An",
    "sampling_place": "Tan Son Nhat cargo terminal",
    "customs_supervised": True,
}
PASS = {
    "result": "pass",
    "certificate_no": "KQ-000123",
    "conclusion": "Conforms.",
    "issued_at": "2026-12-07T10:00:00+07:00",
}
COUNTERSIGN = {"record_confirmed": True}  # the portal fills in the sampling record's SHA-256
PAYMENT = {"payment_method": "bank_transfer", "payer_account": "0071000123456"}
RESULTS = {
    "customs.lookup_declaration": lambda t: {
        "declaration_no": t.inputs["declaration_no"],
        "status": "accepted",
    },
    "payment.capture": lambda t: {"payment_ref": f"PAY-{t.id}", "status": "captured"},
    "customs.clear": lambda t: {"clearance_no": f"CL-{t.id}"},
}
# The trader's countersignature (countersign_sampling) is signed too but not timed, so the figures stay
# comparable with earlier runs; it costs what record_sampling costs.
TIMED_STEPS = ("record_sampling", "publish_result", "clear_goods")


# -- (a) signed vs unsigned completions -------------------------------------------------------------------
class Variant:
    """One portal (its own SQLite file) and the times of its completions."""

    def __init__(self, workdir: Path, name: str, signed: bool, pki_dir: Path) -> None:
        bundle = PROJECT_ROOT / "bpmn"
        if not signed:
            bundle = workdir / "bundle-unsigned"
            shutil.copytree(PROJECT_ROOT / "bpmn", bundle)
            model = bundle / "specialized_inspection.bpmn"
            model.write_text(
                model.read_text(encoding="utf-8").replace(
                    '<camunda:property name="signature" value="required" />', ""
                ),
                encoding="utf-8",
            )
        self.settings = Settings(
            database_url=f"sqlite:///{workdir / name}.db", pki_dir=pki_dir, bundle_dir=bundle
        )
        initialize(self.settings, demo=True)
        self.portal = build_portal(self.settings, clock=FixedClock(START))
        self.name, self.signed = name, signed
        self.times: dict[str, list[float]] = {step: [] for step in TIMED_STEPS}
        self.profile: cProfile.Profile | None = None

    def timed(self, step: str, command, actor: Actor | None = None):
        """Run ``command``, timing it (and profiling it, when asked) if ``step`` is one of the timed."""
        if step not in self.times:
            return self.portal.execute(command, actor)
        if self.profile is not None:
            self.profile.enable()
        started = time.perf_counter()
        result = self.portal.execute(command, actor)
        self.times[step].append(time.perf_counter() - started)
        if self.profile is not None:
            self.profile.disable()
        return result

    def actor(self, username: str) -> Actor:
        with self.portal.db.session() as session:
            user = session.scalar(select(User).where(User.username == username))
            return Actor(user.username, user.organization.code, user.role, user.id)

    def run_jobs(self) -> None:
        while tickets := self.portal.execute(ClaimDueJobs("bench", 20)):
            for ticket in tickets:
                step = "clear_goods" if ticket.topic == "customs.clear" else ticket.topic
                self.timed(step, CompleteJob(ticket.id, "bench", RESULTS[ticket.topic](ticket)))

    def complete(self, number: str, step: str, username: str, data: dict) -> None:
        with self.portal.db.session() as session:
            item = session.scalar(
                select(WorkItem)
                .join(Consignment, Consignment.id == WorkItem.consignment_id)
                .where(
                    Consignment.declaration_no == number, WorkItem.step_id == step, WorkItem.state == "open"
                )
            )
        signing = PinSigning(pki.DEMO_PIN) if item.signature_required else None
        self.timed(step, CompleteWorkItem(item.id, data, signing=signing), self.actor(username))

    def consignment(self, number: str) -> None:
        registration = parse_registration(
            {
                "declaration_no": number,
                "declaration_type": "A11",
                "customs_branch": "02AB",
                "goods": "Fresh cherries (air cargo)",
                "hs_codes": ["08092900"],
                "containers": [],
                "awb": "618-44172030",
                "bill_of_lading": f"HAWB{number[-8:]}",
                "sampling_place": "Tan Son Nhat cargo terminal",
            }
        )
        self.portal.execute(RegisterConsignment(registration), self.actor("trader.t10"))
        self.run_jobs()
        with self.portal.db.session() as session:
            lead = session.scalar(select(Consignment.lead_agency).where(Consignment.declaration_no == number))
        officer = f"officer.{lead.lower()}"
        self.complete(number, "record_sampling", officer, SAMPLING)
        self.complete(number, "countersign_sampling", "trader.t10", COUNTERSIGN)  # not timed: see TIMED_STEPS
        self.complete(number, "publish_result", officer, PASS)
        self.run_jobs()
        self.complete(number, "pay_fees", "trader.t10", PAYMENT)
        self.run_jobs()


def completions(count: int, workdir: Path, pki_dir: Path, profile: bool = False) -> dict[str, Variant]:
    variants = {
        "unsigned": Variant(workdir, "unsigned", False, pki_dir),
        "signed": Variant(workdir, "signed", True, pki_dir),
    }
    rng = random.Random(4)
    for _ in range(2):  # warm-up: caches, first key loads
        number = f"10{rng.randrange(10**9, 10**10)}"
        for variant in variants.values():
            variant.consignment(number)
    for variant in variants.values():
        variant.times = {step: [] for step in TIMED_STEPS}
        variant.profile = cProfile.Profile() if profile else None
    for _ in range(count):
        number = f"10{rng.randrange(10**9, 10**10)}"
        for variant in variants.values():  # side by side: the same consignment on both, one after the other
            variant.consignment(number)
    return variants


def report_completions(variants: dict[str, Variant]) -> list[str]:
    unsigned, signed = variants["unsigned"].times, variants["signed"].times
    lines = [
        f"{'step (median)':18}{'unsigned ms':>13}{'signed ms':>12}{'unsigned /s':>13}"
        f"{'signed /s':>11}{'cost':>9}",
    ]
    total_u = total_s = 0.0
    for step in TIMED_STEPS:
        # medians: the machine is shared, and a mean follows whoever else runs a burst
        u, s = statistics.median(unsigned[step]) * 1000, statistics.median(signed[step]) * 1000
        total_u, total_s = total_u + u, total_s + s
        lines.append(f"{step:18}{u:13.2f}{s:12.2f}{1000 / u:13.1f}{1000 / s:11.1f}{(s - u) / u:9.1%}")
    lines.append(
        f"{'all three':18}{total_u:13.2f}{total_s:12.2f}{3000 / total_u:13.1f}{3000 / total_s:11.1f}"
        f"{(total_s - total_u) / total_u:9.1%}"
    )
    lines.append(f"signed/unsigned completions per second: {total_u / total_s:.3f}")
    return lines


def signing_costs(variant: Variant) -> list[str]:
    """What one remote signature and one client-signature check cost on their own."""
    from app.signing.service import sign_remotely, verify_client_signature

    portal, settings = variant.portal, variant.settings
    actor = variant.actor("officer.raho6")
    payload = b'{"bench":true}' * 20
    runs = 200
    with portal.db.session() as session:
        started = time.perf_counter()
        for _ in range(runs):
            signature, row = sign_remotely(session, settings, actor, pki.DEMO_PIN, payload, START)
        remote = (time.perf_counter() - started) / runs
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        from app.signing.service import ClientSigning

        pem = x509.load_der_x509_certificate(row.der).public_bytes(Encoding.PEM).decode()
        signing = ClientSigning(base64.b64encode(signature).decode(), pem, signing_time(START))
        started = time.perf_counter()
        for _ in range(runs):
            verify_client_signature(session, settings, actor, signing, lambda _at: payload, START)
        client = (time.perf_counter() - started) / runs
    return [
        f"remote signing (key row + PIN guard, PIN → key, certificate check, sign): {remote * 1000:.2f} ms",
        f"client signature check (certificate path, CRL, registration, signature): {client * 1000:.2f} ms",
    ]


def report_profile(variants: dict[str, Variant], prefix: str) -> list[str]:
    """Write both profiles; list the functions whose cumulative time per completion grew most."""
    stats = {}
    for name, variant in variants.items():
        variant.profile.dump_stats(f"{prefix}-{name}.prof")
        stats[name] = pstats.Stats(variant.profile).stats
    completed = sum(len(t) for t in variants["signed"].times.values())
    grew = []
    for key, signed in stats["signed"].items():
        if not key[0].startswith(str(PROJECT_ROOT / "app")) and "cryptography" not in key[0]:
            continue  # the portal's own functions and the cryptography calls; the rest is inside them
        unsigned = stats["unsigned"].get(key, (0, 0, 0, 0, {}))
        grew.append(((signed[3] - unsigned[3]) / completed * 1000, signed[1] - unsigned[1], key))
    grew.sort(reverse=True)
    lines = [
        f"profile in {prefix}-signed.prof and {prefix}-unsigned.prof (the times above include the profiler)",
        "cumulative ms per timed completion, signed minus unsigned (the portal's functions, cryptography):",
    ]
    for ms, calls, (path, line, function) in grew[:30]:
        lines.append(f"  {ms:7.3f} {calls:+6d}  {Path(path).name}:{line}({function})")
    return lines


# -- (b) audit verify over many events -----------------------------------------------------------------------
EVENTS_PER_CONSIGNMENT = 25
SIGNED_AT = {10: "record_sampling", 15: "publish_result", 22: "clear_goods"}


def audit_database(path: Path, pki_dir: Path, events: int) -> None:
    settings = Settings(database_url=f"sqlite:///{path}", pki_dir=pki_dir)
    initialize(settings, demo=True)
    portal = build_portal(settings, clock=FixedClock(START))
    with portal.db.session() as session:
        officer = session.scalar(
            select(SigningCertificate)
            .join(User, User.id == SigningCertificate.user_id)
            .where(User.username == "officer.raho6", SigningCertificate.retired_at.is_(None))
        )
        officer_key = keys.unwrap_with_pin(
            officer.encrypted_key, pki.DEMO_PIN, keys.pepper(settings.pki_passphrase), b"officer.raho6"
        )
        seal_cert, seal_key = pki.seal_key(settings, "PORTAL")
        seal = session.scalar(
            select(SigningCertificate).where(SigningCertificate.fingerprint == pki.fingerprint(seal_cert))
        )
        signers = {
            "record_sampling": ("officer.raho6", "RAHO6", officer, officer_key),
            "publish_result": ("officer.raho6", "RAHO6", officer, officer_key),
            "clear_goods": ("system", None, seal, seal_key),
        }
    portal.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    trader = conn.execute("SELECT id FROM organizations WHERE code = 'T01'").fetchone()[0]
    version = conn.execute("SELECT id FROM model_versions ORDER BY id LIMIT 1").fetchone()[0]
    consignments = (events + EVENTS_PER_CONSIGNMENT - 1) // EVENTS_PER_CONSIGNMENT
    stamp = START.strftime("%Y-%m-%d %H:%M:%S.%f")
    conn.executemany(
        "INSERT INTO process_instances (id, model_version_id, revision, state, serializer_version, "
        "completed, created_at, updated_at) VALUES (?, ?, 1, x'', '1', 1, ?, ?)",
        ((i, version, stamp, stamp) for i in range(1, consignments + 1)),
    )
    conn.executemany(
        "INSERT INTO consignments (id, declaration_no, declaration_type, customs_branch, trader_org_id, "
        "goods, hs_codes, containers, status, escalated, instance_id, registered_at, last_activity_at) "
        "VALUES (?, ?, 'A11', '02CI', ?, 'Frozen beef', '[\"02023000\"]', '[]', 'cleared', 0, ?, ?, ?)",
        ((i, f"{10**11 + i}", trader, i, stamp, stamp) for i in range(1, consignments + 1)),
    )
    first, prev = conn.execute("SELECT last_id, hash FROM audit_head WHERE id = 1").fetchone()
    rows = []
    insert = (
        "INSERT INTO audit_events (id, at, actor, organization, action, consignment_id, task_id, data_hash, "
        "prev_hash, hash, chain_version, signature, signed_payload, certificate_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 2, ?, ?, ?)"
    )
    for number in range(1, events + 1):
        event_id = first + number
        consignment = (number - 1) // EVENTS_PER_CONSIGNMENT + 1
        position = (number - 1) % EVENTS_PER_CONSIGNMENT
        at = START + timedelta(seconds=event_id)
        task_id = f"00000000-0000-4000-8000-{event_id:012d}"
        signature = payload = certificate = fingerprint = None
        if position in SIGNED_AT:
            step = SIGNED_AT[position]
            actor, organization, cert_row, key = signers[step]
            payload = decision_payload(
                declaration_no=f"{10**11 + consignment}",
                task_id=task_id,
                step_id=step,
                step_name=step,
                data=SAMPLING if step == "record_sampling" else PASS,
                attachments=[],
                signer=actor,
                organization=organization or "PORTAL",
                signed_at=signing_time(at),
            )
            signature = base64.b64encode(keys.sign(key, payload)).decode()
            certificate, fingerprint = cert_row.id, cert_row.fingerprint
            action, data_hash = "task_completed", hashlib.sha256(payload).hexdigest()
        else:
            actor, organization, action = (
                "system",
                None,
                "job_completed" if position % 2 else "work_item_claimed",
            )
            data_hash = hashlib.sha256(event_id.to_bytes(8, "big")).hexdigest()
        sealed = seal_hash(
            id=event_id,
            prev=prev,
            at=at,
            actor=actor,
            organization=organization,
            action=action,
            consignment_id=consignment,
            task_id=task_id,
            data_hash=data_hash,
            signature=signature,
            certificate=fingerprint,
        )
        rows.append(
            (event_id, at.strftime("%Y-%m-%d %H:%M:%S.%f"), actor, organization, action, consignment, task_id,
             data_hash, prev, sealed, signature, payload, certificate)
        )  # fmt: skip
        prev = sealed
        if len(rows) == 20_000:
            conn.executemany(insert, rows)
            rows.clear()
    conn.executemany(insert, rows)
    conn.execute("UPDATE audit_head SET last_id = ?, hash = ? WHERE id = 1", (first + events, prev))
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def audit_verify_time(path: Path, pki_dir: Path) -> tuple[float, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PORTAL_DATABASE_URL": f"sqlite:///{path}",
        "PORTAL_PKI_DIR": str(pki_dir),
    }
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "portal"), "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return elapsed, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--consignments", type=int, default=40)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--profile", metavar="PREFIX", help="also profile the timed completions (cProfile)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-signing-") as tmp:
        workdir = Path(tmp)
        pki_dir = workdir / "pki"
        print(
            f"(a) {args.consignments} consignments on each portal, alternating (SQLite, in-process commands)"
        )
        variants = completions(args.consignments, workdir, pki_dir, profile=bool(args.profile))
        for line in report_completions(variants):
            print("    " + line)
        if args.profile:
            for line in report_profile(variants, args.profile):
                print("    " + line)
        for line in signing_costs(variants["signed"]):
            print("    " + line)
        for variant in variants.values():
            variant.portal.close()
        if args.events <= 0:
            return
        print(f"(b) portal audit verify over {args.events:,} events (generated into SQLite)")
        started = time.perf_counter()
        audit_database(workdir / "audit.db", pki_dir, args.events)
        size = (workdir / "audit.db").stat().st_size / 1e6
        print(f"    generated in {time.perf_counter() - started:.1f} s ({size:.0f} MB)")
        elapsed, output = audit_verify_time(workdir / "audit.db", pki_dir)
        print(f"    {output}")
        print(f"    wall time of the command: {elapsed:.1f} s (target < 60 s)")


if __name__ == "__main__":
    main()

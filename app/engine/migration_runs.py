"""Preview and run a migration of many running consignments from one model version to another.

``preview_migration`` reads (no transaction held) which running consignments of the source version can
move and why the others cannot. ``run_migration`` previews, then moves each chosen movable consignment
with its own ``MigrateConsignment`` command (one transaction each), so one failure never undoes the
others. The CLI and the studio's migration screen both call these two functions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.models import Consignment, ProcessInstance

from .commands.migration import MigrateConsignment, build_plan, model_version
from .errors import PortalError, ValidationFailed
from .executor import SYSTEM, Actor
from .migration import MigrationPlan

log = logging.getLogger(__name__)


@dataclass
class ConsignmentVerdict:
    """One running consignment as the preview sees it."""

    consignment_id: int
    declaration_no: str
    current_step: str | None
    revision: int
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def movable(self) -> bool:
        return not self.reasons


@dataclass
class MigrationPreview:
    from_version: int
    to_version: int
    verdicts: list[ConsignmentVerdict] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # asked for, but not running on the source version
    plan: MigrationPlan | None = field(default=None, repr=False)

    @property
    def movable(self) -> list[ConsignmentVerdict]:
        return [v for v in self.verdicts if v.movable]

    @property
    def not_movable(self) -> list[ConsignmentVerdict]:
        return [v for v in self.verdicts if not v.movable]


@dataclass
class MigrationReport:
    preview: MigrationPreview
    dry_run: bool
    moved: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # declaration number -> why the move failed
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        p = self.preview
        return {
            "from_version": p.from_version,
            "to_version": p.to_version,
            "dry_run": self.dry_run,
            "running": len(p.verdicts),
            "movable": [_verdict_dict(v) for v in p.movable],
            "not_movable": [_verdict_dict(v) for v in p.not_movable],
            "unknown": p.unknown,
            "moved": self.moved,
            "failed": self.failed,
            "seconds": round(self.seconds, 2),
        }


def _verdict_dict(verdict: ConsignmentVerdict) -> dict[str, Any]:
    return {
        "declaration_no": verdict.declaration_no,
        "current_step": verdict.current_step,
        "reasons": verdict.reasons,
        "notes": verdict.notes,
    }


def preview_migration(
    portal, from_version: int, to_version: int, consignments: Iterable[str] | None = None
) -> MigrationPreview:
    """List the running consignments of ``from_version`` (or the chosen ones, by declaration number or
    id) with whether each can move to ``to_version`` and why not.

    :raises NotFound: for an unknown version; :raises ValidationFailed: when both versions are the same.
    """
    if from_version == to_version:
        raise ValidationFailed([{"field": "to_version", "reason": "is the same version as from_version"}])
    runtime, codec = portal.runtime, portal.runtime.codec
    with portal.db.session() as session:
        source, target = model_version(session, from_version), model_version(session, to_version)
        plan = build_plan(runtime, session, source, target)
        query = (
            select(Consignment, ProcessInstance)
            .join(ProcessInstance, Consignment.instance_id == ProcessInstance.id)
            .where(ProcessInstance.model_version_id == source.id, Consignment.finished_at.is_(None))
            .order_by(Consignment.id)
        )
        wanted = list(dict.fromkeys(consignments or []))
        if wanted:
            ids = [int(w) for w in wanted if w.isdigit() and len(w) < 12]
            query = query.where(Consignment.declaration_no.in_(wanted) | Consignment.id.in_(ids))
        preview = MigrationPreview(from_version, to_version, plan=plan)
        specs = runtime.specs(session, source.id)
        for consignment, instance in session.execute(query):
            verdict = ConsignmentVerdict(
                consignment.id, consignment.declaration_no, consignment.current_step, instance.revision
            )
            try:
                workflow = codec.load_state(instance.state, instance.serializer_version, specs)
                check = plan.check(workflow)
            except Exception as exc:  # a state that does not load is reported, not fatal to the run
                verdict.reasons.append(f"its saved state cannot be read: {type(exc).__name__}: {exc}")
            else:
                verdict.reasons = [str(b) for b in check.blockers]
                verdict.notes = check.notes
            preview.verdicts.append(verdict)
        seen = {v.declaration_no for v in preview.verdicts} | {
            str(v.consignment_id) for v in preview.verdicts
        }
        preview.unknown = [w for w in wanted if w not in seen]
    return preview


def run_migration(
    portal,
    from_version: int,
    to_version: int,
    consignments: Iterable[str] | None = None,
    actor: Actor = SYSTEM,
    dry_run: bool = False,
) -> MigrationReport:
    """Preview, then (unless ``dry_run``) move every movable consignment, one command each."""
    started = time.perf_counter()
    preview = preview_migration(portal, from_version, to_version, consignments)
    report = MigrationReport(preview, dry_run)
    if not dry_run:
        for verdict in preview.movable:
            # No expected revision: a consignment that moved on since the preview is simply checked again.
            command = MigrateConsignment(verdict.consignment_id, from_version, to_version, plan=preview.plan)
            try:
                portal.execute(command, actor)
            except PortalError as exc:
                report.failed[verdict.declaration_no] = exc.message
            except Exception as exc:  # one consignment's failure must not stop the others
                log.exception("moving consignment %s failed", verdict.declaration_no)
                report.failed[verdict.declaration_no] = f"{type(exc).__name__}: {exc}"
            else:
                report.moved.append(verdict.declaration_no)
    report.seconds = time.perf_counter() - started
    return report

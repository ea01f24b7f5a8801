"""The port operator reports on the portal that a consignment's containers are in the sampling area: the
fallback for when the port's own system cannot (its move request keeps failing, or its position callback
never comes), so the procedure goes on.

The report is the same ``ContainerPositioned`` message the port's callback sends, correlated the same way
(``commands.messages.correlate``). When the port's move job has not succeeded yet, the report also finishes
it: the containers are in place, so the portal stops asking the port's system to move them. The timeline
and the audit trail name the operator who reported. A late callback from the port's system afterwards is
a repeat and is ignored (``messages.already_received``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from app.access import PORT_ROLES, PORT_TOPIC_PREFIX
from app.consignments.identifiers import container_number_problem, normalize_container_number
from app.models import Job

from ..errors import Conflict, Forbidden, ValidationFailed
from ..executor import CommandContext
from ..runtime import find_task
from .jobs import finish_service_task
from .messages import DELIVERED, already_received, correlate, sender_consignment

MESSAGE = "ContainerPositioned"
POSITION = re.compile(r"[A-Z0-9][A-Z0-9./-]{0,19}")


@dataclass
class ReportContainersPositioned:
    declaration_no: str
    positions: list[dict[str, Any]]  # [{"container_no": ..., "position": ...}] as the operator typed them

    def execute(self, ctx: CommandContext) -> bool:
        if ctx.actor.role not in PORT_ROLES:
            raise Forbidden("only the port operator reports container positions", field="role")
        consignment = sender_consignment(ctx, self.declaration_no)
        job = ctx.session.scalar(
            select(Job)
            .where(
                Job.consignment_id == consignment.id,
                Job.topic.startswith(PORT_TOPIC_PREFIX),
                Job.state != "cancelled",
            )
            .order_by(Job.id.desc())
            .limit(1)
        )
        if job is None:
            raise Conflict(
                "the port has not been asked to move the containers of this consignment yet",
                field="declaration_no",
            )
        loaded = ctx.load(consignment)
        if already_received(ctx, loaded, MESSAGE):
            raise Conflict(
                "the containers of this consignment were already reported in place", field="declaration_no"
            )
        expected = [str(c) for c in (job.inputs or {}).get("containers") or consignment.containers]
        positions = checked_positions(self.positions, expected)
        move_ref = (job.result or {}).get("move_ref")
        if job.state in ("pending", "locked", "incident"):
            task = find_task(loaded.workflow, job.task_id)
            if task is None or task.state != TaskState.STARTED:
                raise Conflict("this step is no longer open", field="declaration_no")
            move_ref = f"PORTAL-{consignment.declaration_no}"
            job.state, job.finished_at = "done", ctx.now
            job.result = {"move_ref": move_ref, "reported_on_portal": True}
            job.lock_owner, job.lock_expires_at = None, None
            finish_service_task(
                ctx,
                loaded,
                job,
                task,
                job.result,
                actor=ctx.actor.username,
                organization=ctx.actor.organization,
                action="port_move_reported",
            )
        payload = {"move_ref": move_ref, "positions": positions, "reported_by": ctx.actor.username}
        return correlate(ctx, loaded, MESSAGE, payload, by_actor=True) == DELIVERED


def checked_positions(rows: list[dict[str, Any]], expected: list[str]) -> list[dict[str, str]]:
    """Every container the port was asked to move, each once, with a yard position; else ValidationFailed
    naming each bad field (``positions[i].container_no`` / ``positions[i].position``)."""
    errors: list[dict[str, Any]] = []

    def problem(field: str, template: str, **params: Any) -> None:
        errors.append(
            {
                "field": field,
                "reason": template % params if params else template,
                "template": template,
                "params": params,
            }
        )

    seen: set[str] = set()
    out = []
    for i, row in enumerate(rows):
        raw_no = str(row.get("container_no") or "").strip()
        raw_position = str(row.get("position") or "").strip().upper()
        if not raw_no and not raw_position:
            continue  # an empty row of the form
        number = normalize_container_number(raw_no)
        field = f"positions[{i}]"
        if not number:
            problem(f"{field}.container_no", "is required")
        elif container_number_problem(number):
            problem(f"{field}.container_no", "%(number)s is not a valid container number", number=raw_no)
        elif number not in expected:
            problem(
                f"{field}.container_no",
                "%(number)s is not one of the containers the port was asked to move (%(expected)s)",
                number=number,
                expected=", ".join(expected),
            )
        elif number in seen:
            problem(f"{field}.container_no", "%(number)s is listed twice", number=number)
        if not raw_position:
            problem(f"{field}.position", "is required")
        elif not POSITION.fullmatch(raw_position):
            problem(
                f"{field}.position",
                "must be a yard position such as SA-B-014 (letters, digits, '-', '/' or '.', at most 20)",
            )
        seen.add(number)
        out.append({"container_no": number, "position": raw_position})
    missing = [c for c in expected if c not in seen]
    if not errors and missing:
        problem("positions", "give the position of %(missing)s", missing=", ".join(missing))
    if errors:
        raise ValidationFailed(errors)
    return out
